//! The trace recorder: follows the interpreter through one iteration of a hot loop (a
//! numeric `for`, closed by `FORL`, or a `while`/`repeat` loop, marked by `LOOP`) and
//! turns the bytecode it executes into trace IR, specialised to the values it sees
//! (every operand must be a number; anything else aborts).
//!
//! Every guard's snapshot is "the state before the guarded instruction": the slots this
//! iteration changed so far, and that instruction's position. Leaving through it makes
//! the interpreter run the instruction itself, which then takes the path the trace did
//! not record. Since the body stores every slot it changed before looping, the stack
//! holds the interpreter's state at the top of each iteration.

use crate::ir::{Cmp, Ins, Ref, SnapId, Snapshot, Trace, Ty};
use moonjet_gc::object::GcProto;
use moonjet_gc::TValue;
use moonjet_runtime::bc::{self, Op};
use std::collections::BTreeMap;

/// Longest loop body recorded (in bytecode instructions executed).
const MAX_RECORD: usize = 1000;

/// Why a recording stopped without a trace ("NYI: ..." as luajit words it).
pub type Abort = String;

pub enum Step {
    Continue,
    /// The loop closed: the finished trace.
    Done(Trace),
}

pub struct Recorder {
    pt: *mut GcProto,
    base: *mut TValue,
    /// The loop instruction: the `FORL` that closes a `for` loop, or the `LOOP` at the
    /// top of a `while`/`repeat` loop. The trace is entered and closed there.
    start: *const u32,
    /// First instruction of the body (where the trace is entered).
    body: *const u32,
    /// First instruction after the loop: reaching it leaves the loop.
    exit: *const u32,
    /// A `LOOP` loop (else a `for` loop).
    is_loop: bool,
    /// The body's IR. Reads of slots not yet written this iteration are placeholder
    /// `SLoad`s (listed in `entry`), turned into loads before the loop or phis at the end.
    ins: Vec<Ins>,
    entry: BTreeMap<u16, Ref>,
    /// Current value of every slot read or written this iteration.
    slots: BTreeMap<u16, Ref>,
    /// Slots written this iteration, with their current value.
    written: BTreeMap<u16, Ref>,
    snaps: Vec<Snapshot>,
    steps: usize,
}

fn kn(pt: *mut GcProto, i: u32) -> f64 {
    // SAFETY: a number-constant index from the prototype's own bytecode.
    unsafe { *(*pt).kn.add(i as usize) }
}

impl Recorder {
    /// Start recording the loop whose `FORL` or `LOOP` instruction is at `start`, in the
    /// frame at `base`.
    ///
    /// # Safety
    /// `start` points at a `FORL`/`JFORL`/`LOOP`/`JLOOP` of `pt`'s bytecode.
    pub unsafe fn new(pt: *mut GcProto, base: *mut TValue, start: *const u32) -> Recorder {
        // SAFETY: caller promise; jump targets stay inside the bytecode.
        let (body, exit, is_loop) = unsafe {
            let ins = *start;
            let target = start
                .add(1)
                .offset(bc::d(ins) as isize - bc::JUMP_BIAS as isize);
            let is_loop = matches!(Op::from_u8(bc::op(ins)), Some(Op::LOOP | Op::JLOOP));
            if is_loop {
                // LOOP's jump is to the first instruction after the loop.
                (start.add(1), target, true)
            } else {
                // FORL jumps back to the body; the loop ends right after the FORL.
                (target, start.add(1), false)
            }
        };
        Recorder {
            pt,
            base,
            start,
            body,
            exit,
            is_loop,
            ins: Vec::new(),
            entry: BTreeMap::new(),
            slots: BTreeMap::new(),
            written: BTreeMap::new(),
            snaps: Vec::new(),
            steps: 0,
        }
    }

    pub fn start_pc(&self) -> *const u32 {
        self.start
    }

    /// Is the frame at `base` running `pt` the one being recorded?
    pub fn in_frame(&self, pt: *mut GcProto, base: *mut TValue) -> bool {
        pt == self.pt && base == self.base
    }

    fn emit(&mut self, i: Ins) -> Ref {
        self.ins.push(i);
        (self.ins.len() - 1) as Ref
    }

    fn pc_index(&self, pc: *const u32) -> u32 {
        // SAFETY: `pc` points into the prototype's bytecode.
        unsafe { pc.offset_from((*self.pt).bc) as u32 }
    }

    /// The runtime value in `slot` (what the interpreter is about to use).
    fn value(&self, slot: u32) -> TValue {
        // SAFETY: `slot` is an operand of the instruction about to run in this frame.
        unsafe { *self.base.add(slot as usize) }
    }

    /// The IR value of `slot`, which must hold a number.
    fn read(&mut self, slot: u32) -> Result<Ref, Abort> {
        let s = slot as u16;
        if let Some(&r) = self.slots.get(&s) {
            return Ok(r);
        }
        if !self.value(slot).is_number() {
            return Err("NYI: non-number operand".into());
        }
        let r = self.emit(Ins::SLoad { slot: s, snap: 0 });
        self.entry.insert(s, r);
        self.slots.insert(s, r);
        Ok(r)
    }

    fn write(&mut self, slot: u32, r: Ref) {
        self.slots.insert(slot as u16, r);
        self.written.insert(slot as u16, r);
    }

    /// A snapshot of the state before the instruction at `pc`.
    fn snap(&mut self, pc: *const u32) -> SnapId {
        let slots = self.written.iter().map(|(&s, &r)| (s, r)).collect();
        let pc = self.pc_index(pc);
        self.snaps.push(Snapshot { slots, pc });
        (self.snaps.len() - 1) as SnapId
    }

    fn knum(&mut self, x: f64) -> Ref {
        self.emit(Ins::KNum(x))
    }

    /// Record the instruction at `pc`, about to run.
    ///
    /// # Safety
    /// `pc` points at an instruction of the recorded prototype, about to run in the
    /// recorded frame.
    pub unsafe fn step(&mut self, pc: *const u32) -> Result<Step, Abort> {
        self.steps += 1;
        if self.steps > MAX_RECORD {
            return Err("trace too long".into());
        }
        if pc >= self.exit || (!self.is_loop && pc < self.body) {
            // A `break` (or `goto`) out of the loop on the recorded iteration. (A `while`
            // loop's condition sits before its `LOOP`, so only the exit bounds it.)
            return Err("NYI: leaving the loop".into());
        }
        if self.is_loop && pc == self.start {
            // Back at the top: one whole iteration recorded.
            return Ok(Step::Done(self.finish()));
        }
        // SAFETY: `pc` is the interpreter's current instruction in this prototype.
        let ins = unsafe { *pc };
        let op = Op::from_u8(bc::op(ins)).ok_or("bad opcode")?;
        let (a, d) = (bc::a(ins), bc::d(ins));
        let (b, c) = (bc::b(ins), bc::c(ins));
        use Op::*;
        match op {
            MOV => {
                let v = self.read(d)?;
                self.write(a, v);
            }
            KSHORT => {
                let k = self.knum(d as u16 as i16 as f64);
                self.write(a, k);
            }
            KNUM => {
                let k = self.knum(kn(self.pt, d));
                self.write(a, k);
            }
            ADDVV | SUBVV | MULVV | DIVVV | MODVV | ADDVN | SUBVN | MULVN | DIVVN | MODVN
            | ADDNV | SUBNV | MULNV | DIVNV | MODNV | POW => {
                let x = self.read(b)?;
                let (l, r) = match op {
                    ADDVN | SUBVN | MULVN | DIVVN | MODVN => (x, self.knum(kn(self.pt, c))),
                    ADDNV | SUBNV | MULNV | DIVNV | MODNV => (self.knum(kn(self.pt, c)), x),
                    _ => (x, self.read(c)?),
                };
                let v = self.emit(match op {
                    ADDVV | ADDVN | ADDNV => Ins::AddN(l, r),
                    SUBVV | SUBVN | SUBNV => Ins::SubN(l, r),
                    MULVV | MULVN | MULNV => Ins::MulN(l, r),
                    DIVVV | DIVVN | DIVNV => Ins::DivN(l, r),
                    MODVV | MODVN | MODNV => Ins::ModN(l, r),
                    _ => Ins::PowN(l, r),
                });
                self.write(a, v);
            }
            UNM => {
                let x = self.read(d)?;
                let v = self.emit(Ins::NegN(x));
                self.write(a, v);
            }
            ISLT | ISGE | ISLE | ISGT | ISEQV | ISNEV | ISEQN | ISNEN => {
                let x = self.read(a)?;
                let xv = self.value(a).num();
                let (y, yv) = if matches!(op, ISEQN | ISNEN) {
                    let k = kn(self.pt, d);
                    (self.knum(k), k)
                } else {
                    if !self.value(d).is_number() {
                        return Err("NYI: comparison of non-numbers".into());
                    }
                    (self.read(d)?, self.value(d).num())
                };
                if xv.is_nan() || yv.is_nan() {
                    return Err("NYI: NaN in comparison".into());
                }
                // The guard that holds exactly when the interpreter goes the way it is
                // about to go (NaN fails it, and the interpreter decides afresh).
                let cmp = match op {
                    ISLT | ISGE => {
                        if xv < yv {
                            Cmp::Lt
                        } else {
                            Cmp::Ge
                        }
                    }
                    ISLE | ISGT => {
                        if xv <= yv {
                            Cmp::Le
                        } else {
                            Cmp::Gt
                        }
                    }
                    _ => {
                        if xv == yv {
                            Cmp::Eq
                        } else {
                            Cmp::Ne
                        }
                    }
                };
                let snap = self.snap(pc);
                self.emit(Ins::Guard {
                    cmp,
                    ty: Ty::Num,
                    a: x,
                    b: y,
                    snap,
                });
            }
            JMP => {
                // Forward jumps inside the body need nothing: the trace follows the path
                // taken. A backward one is an inner loop, unless it closes this `while` or
                // `repeat` loop (it leads back to the `LOOP`, through the condition).
                if d < bc::JUMP_BIAS && !self.is_loop {
                    return Err("NYI: inner loop".into());
                }
            }
            FORL | JFORL if pc == self.start => return self.close(pc, a),
            LOOP | FORI | FORL | JFORL | ITERL | ITERC | ITERN => {
                return Err("NYI: inner loop".into());
            }
            _ => return Err(format!("NYI: bytecode {op:?}")),
        }
        Ok(Step::Continue)
    }

    /// The loop's `FORL` at `pc`: the step and the exit test, then the trace.
    fn close(&mut self, pc: *const u32, a: u32) -> Result<Step, Abort> {
        let idx = self.read(a)?;
        let stop = self.read(a + 1)?;
        let step = self.read(a + 2)?;
        let step_v = self.value(a + 2).num();
        let snap = self.snap(pc);
        let zero = self.knum(0.0);
        // The direction is fixed for the loop: guard the step's sign, then the end.
        let (sign, end) = if step_v >= 0.0 {
            (Cmp::Ge, Cmp::Le)
        } else {
            (Cmp::Lt, Cmp::Ge)
        };
        self.emit(Ins::Guard {
            cmp: sign,
            ty: Ty::Num,
            a: step,
            b: zero,
            snap,
        });
        let next = self.emit(Ins::AddN(idx, step));
        self.emit(Ins::Guard {
            cmp: end,
            ty: Ty::Num,
            a: next,
            b: stop,
            snap,
        });
        self.write(a, next);
        self.write(a + 3, next);
        Ok(Step::Done(self.finish()))
    }

    /// Lay the recorded body out as a loop: entry loads, `Loop`, phis for the values
    /// carried from one iteration to the next, the body, and stores of what it changed.
    fn finish(&mut self) -> Trace {
        let mut out: Vec<Ins> = Vec::new();
        let body_pc = self.pc_index(self.body);
        let mut snaps = vec![Snapshot {
            slots: Vec::new(),
            pc: body_pc,
        }];
        let mut map: Vec<Ref> = vec![0; self.ins.len()];
        let mut loaded: BTreeMap<u16, Ref> = BTreeMap::new();
        for (&slot, &ph) in &self.entry {
            map[ph as usize] = out.len() as Ref;
            loaded.insert(slot, out.len() as Ref);
            out.push(Ins::SLoad { slot, snap: 0 });
        }
        out.push(Ins::Loop);
        // Carried: read before written in the body, and written.
        let mut phis: Vec<(u16, usize)> = Vec::new();
        for (&slot, &ld) in &loaded {
            if self.written.contains_key(&slot) {
                let at = out.len();
                map[self.entry[&slot] as usize] = at as Ref;
                out.push(Ins::Phi {
                    ty: Ty::Num,
                    init: ld,
                    next: 0,
                });
                phis.push((slot, at));
            }
        }
        let m = |map: &Vec<Ref>, r: Ref| map[r as usize];
        for (i, ins) in self.ins.iter().enumerate() {
            if let Ins::SLoad { slot, .. } = ins {
                if self.entry.get(slot) == Some(&(i as Ref)) {
                    continue; // a placeholder, mapped above
                }
            }
            let snap = |s: SnapId| s + 1; // body snapshots follow the entry one
            let new = match *ins {
                Ins::AddN(x, y) => Ins::AddN(m(&map, x), m(&map, y)),
                Ins::SubN(x, y) => Ins::SubN(m(&map, x), m(&map, y)),
                Ins::MulN(x, y) => Ins::MulN(m(&map, x), m(&map, y)),
                Ins::DivN(x, y) => Ins::DivN(m(&map, x), m(&map, y)),
                Ins::ModN(x, y) => Ins::ModN(m(&map, x), m(&map, y)),
                Ins::PowN(x, y) => Ins::PowN(m(&map, x), m(&map, y)),
                Ins::NegN(x) => Ins::NegN(m(&map, x)),
                Ins::Guard {
                    cmp,
                    ty,
                    a,
                    b,
                    snap: s,
                } => Ins::Guard {
                    cmp,
                    ty,
                    a: m(&map, a),
                    b: m(&map, b),
                    snap: snap(s),
                },
                other => other,
            };
            map[i] = out.len() as Ref;
            out.push(new);
        }
        for s in &self.snaps {
            let slots = s
                .slots
                .iter()
                .map(|&(slot, r)| (slot, m(&map, r)))
                .collect();
            snaps.push(Snapshot { slots, pc: s.pc });
        }
        for &(slot, at) in &phis {
            let next = m(&map, self.written[&slot]);
            if let Ins::Phi { next: n, .. } = &mut out[at] {
                *n = next;
            }
        }
        for (&slot, &r) in &self.written {
            let val = m(&map, r);
            out.push(Ins::SStore { slot, val });
        }
        Trace {
            ins: out,
            snaps,
            loop_snap: 0,
            gc_consts: Vec::new(),
        }
    }
}
