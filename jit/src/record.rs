//! The trace recorder: follows the interpreter through one iteration of a hot loop (a
//! numeric `for`, closed by `FORL`, or a `while`/`repeat` loop, marked by `LOOP`) and
//! turns the bytecode it executes into trace IR, specialised to the types it sees.
//!
//! Every guard's snapshot is "the state before the guarded instruction": the slots the
//! trace changed so far, and that instruction's position. Leaving through it makes the
//! interpreter run the instruction itself, which then takes the path the trace did not
//! record.
//!
//! The recorded iteration becomes the trace's pre-roll; [`Recorder::finish`] copies it
//! once more after `LOOP` as the loop body (luajit's loop optimisation): values the
//! iteration does not change are the pre-roll's (so invariant loads and guards are not
//! repeated), slots it changes become phis, and the body never writes slots: its
//! snapshots name every changed slot instead.
//!
//! Calls of Lua functions are recorded in line: the callee's frame exists only in the
//! trace, and its guards leave through the snapshot before the outermost call (the
//! interpreter makes the call again), so a guard after a store in a call is refused.
//!
//! A side trace ([`Recorder::new_side`]) is recorded from a hot exit of another trace,
//! from the state that exit restores, until it reaches the entry of a trace in service,
//! which it links to, or a return, where it leaves to the interpreter (or, called
//! natively, returns to its caller: [`crate::ir::Trace::ret`]). It has no loop.
//!
//! A function trace ([`Recorder::new_func`]) is recorded the same way from the first
//! instruction of a hot function; loops in it abort. In its tree, a call of that function
//! from the trace's own frame is a native call of the function trace
//! ([`Ins::CallSelf`]): the callee runs (interpreted) while the recording skips its
//! instructions ([`Recorder::skips`]) and goes on after the call, reading the result from
//! the stack. A tail call of the function itself ends the trace with the function's entry
//! state, linked to the function trace.
//!
//! FFI accesses (`a[i]`, `s.x`, through pointers and references) are specialised to the
//! cdata's C type, guarded on its `ctypeid`, and become direct loads and stores of C
//! memory. A member or element of aggregate type (`pts[i]` in `pts[i].x`) would be a new
//! reference cdata; the recording keeps it pending instead ([`Recorder::pending`]) and
//! follows it to the access that uses it, as long as nothing else needs the object.
//!
//! Optimisations at emission (`fold`): constant folding, integer/double conversion
//! folding, CSE of pure instructions and of loads with no store in between,
//! store-to-load forwarding, and dropping guards already checked. Laying out the loop
//! forwards stores across the back edge too (a load the iteration later stores to reads
//! the previous iteration's value). After that, array bounds checks on the `for` index in
//! the body are replaced by checks of the index's range before `LOOP` (`abc`,
//! [`Recorder::eliminate_bounds_checks`]).

use crate::ir::{
    CArg, CNum, Cmp, Field, Ins, Op64, Ref, SnapId, Snapshot, Trace, Ty, MAX_C_ARGS,
    MAX_NATIVE_ARGS,
};
use moonjet_ffi::{CType, CTypeId, CTypeTable, Flags, Kind};
use moonjet_gc::object::{offsets, GcFunc, GcProto, GcStr, GcTab, GcUdata};
use moonjet_gc::TValue;
use moonjet_runtime::bc::{self, Mode, Op};
use moonjet_runtime::ffi::ops::{self as cdata_ops, Route, Target};
use moonjet_runtime::ffi::{cdata_type, conv, is_const, raw_type, FfiState};
use moonjet_runtime::libs::{bit, builtin_id};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Longest loop body recorded (in bytecode instructions executed).
const MAX_RECORD: usize = 1000;
/// Most IR instructions in a pre-roll.
const MAX_IR: usize = 4000;
/// Most instructions the slot liveness scan ([`Recorder::dead_after`]) looks at.
const MAX_LIVENESS_SCAN: usize = 500;
/// Deepest nesting of inlined calls.
const MAX_INLINE_DEPTH: usize = 8;
/// Instructions a recursive call the trace makes natively may run (interpreted, while
/// recording) before the recording gives up.
const MAX_SKIPPED: usize = 1_000_000;

/// Why a recording stopped without a trace ("NYI: ..." as luajit words it).
pub type Abort = String;

/// luajit's abort for a builtin call it does not compile in this form.
const FASTFUNC: &str = "NYI: unsupported variant of FastFunc";
/// Closures made of one prototype from which calls of it are specialised to the
/// prototype rather than to one closure.
const POLYMORPHIC_CLOSURES: u32 = 3;
/// Lookups through `__index` tables one instruction may make (a class hierarchy's depth).
const MAX_INHERITED: u32 = 4;

pub enum Step {
    Continue,
    /// The loop closed: the finished trace.
    Done(Trace),
}

/// Which optimisations run (`-O` flags): see [`crate::engine`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opts {
    /// Constant folding and algebraic simplification.
    pub fold: bool,
    /// Common-subexpression elimination (and dropping repeated guards).
    pub cse: bool,
    /// Store-to-load forwarding.
    pub fwd: bool,
    /// Narrowing of the `for` index to an integer.
    pub narrow: bool,
    /// Loop peeling with invariant hoisting (off: the iteration is the whole loop, and it
    /// stores changed slots at its end).
    pub loop_opt: bool,
    /// Array bounds-check elimination for loop-carried indices (needs `loop_opt` and
    /// `narrow`; see [`Recorder::eliminate_bounds_checks`]).
    pub abc: bool,
}

impl Opts {
    /// The optimisations `jit.opt.start`'s flags turn on (bit i: flag i of
    /// `moonjet_runtime::libs::jit::FLAGS`). `dce` is Cranelift's; `dse`, `sink` and
    /// `fuse` are accepted and have no pass of their own yet.
    pub fn from_flags(flags: u16) -> Opts {
        use moonjet_runtime::libs::jit::FLAGS;
        let on = |name: &str| {
            FLAGS
                .iter()
                .position(|f| *f == name)
                .is_some_and(|b| flags & (1 << b) != 0)
        };
        Opts {
            fold: on("fold"),
            cse: on("cse"),
            fwd: on("fwd"),
            narrow: on("narrow"),
            loop_opt: on("loop"),
            abc: on("abc"),
        }
    }
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            fold: true,
            cse: true,
            fwd: true,
            narrow: true,
            loop_opt: true,
            abc: true,
        }
    }
}

/// An emitted instruction's key for CSE: its text with the snapshot erased (instructions
/// that differ only in where they leave compute the same thing).
fn cse_key(ins: &Ins) -> String {
    let mut c = *ins;
    if let Some(s) = c.snap_mut() {
        *s = 0;
    }
    format!("{c:?}")
}

/// Whether the instruction is pure: same operands, same result, no effect.
fn pure(ins: &Ins) -> bool {
    !ins.writes_memory()
        && !ins.reads_memory()
        && !ins.allocates()
        && !matches!(ins, Ins::SLoad { .. } | Ins::Loop | Ins::Phi { .. })
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
    /// A side trace: recorded from a hot exit of another trace (`start`) until it reaches
    /// the entry of a trace to link to, or a return, where it leaves to the interpreter.
    /// It has no loop of its own; loops it passes through uncompiled are unrolled once.
    side: bool,
    /// Loop instructions a side trace passed (a second pass would unroll a loop).
    passed_loops: Vec<*const u32>,
    /// A function trace: recorded from the first instruction of a hot function until
    /// it returns (or reaches a trace to link to), with no loop of its own.
    func_root: bool,
    /// The tree this trace belongs to is rooted by a function trace of `pt`: a call of
    /// `pt` from the trace's own frame becomes a native call of that trace
    /// ([`Ins::CallSelf`]) rather than being inlined.
    recursive: bool,
    /// While such a call runs (interpreted, as it is recorded): where the recording
    /// goes on, the instruction after the call in the trace's frame.
    awaiting: Option<*const u32>,
    /// Instructions the recursive calls ran meanwhile.
    skipped: usize,
    /// Lua functions called from the recorded frame, inlined: the innermost last.
    frames: Vec<Frame>,
    /// Inside an inlined call: the snapshot before the outermost call, which every guard
    /// in it leaves through (the interpreter makes the call again). Valid only while no
    /// store has happened in the call (`stored_in_call`).
    call_snap: Option<SnapId>,
    stored_in_call: bool,
    /// A reason to abort found where an error cannot be returned (checked after each
    /// instruction).
    failed: Option<Abort>,
    opts: Opts,
    /// The pre-roll.
    ins: Vec<Ins>,
    snaps: Vec<Snapshot>,
    /// Current value of every slot read or written this iteration.
    slots: BTreeMap<u16, Ref>,
    /// Slots written this iteration, with their current value.
    written: BTreeMap<u16, Ref>,
    /// CSE table: key of an emitted instruction -> its ref.
    cse: HashMap<String, Ref>,
    /// Keys in `cse` of memory reads, with what they read (forgotten at stores that may
    /// write it).
    cse_loads: Vec<(String, Mem)>,
    gc_consts: Vec<TValue>,
    /// The `for` loop's index is narrowed to an integer.
    narrow_for: bool,
    /// The narrowed `for` loop's step and test as recorded at its `FORL` (for `abc`).
    forl: Option<ForLoop>,
    /// The runtime size of the array part each `TabAsize` load read when it was
    /// recorded (for `abc`, which hoists only checks that hold for the recorded run).
    asize_seen: HashMap<Ref, u32>,
    /// Set by a builtin call recorded with all its results kept (`CALL` with b = 0, the
    /// last argument of another call): the slot just past its one result, where the
    /// `CALLM` right after it takes its MULTRES arguments from, and the snapshot before
    /// that call.
    multres: Option<(u32, SnapId)>,
    /// While a `CALLM` is recorded: the snapshot all its guards leave through. The
    /// interpreter cannot resume at a `CALLM` (it would not know MULTRES), so they leave
    /// before the builtin call that made its last argument, which runs again (a builtin
    /// has no effect to repeat).
    pinned_snap: Option<SnapId>,
    /// Slots (of the trace's frame numbering) holding a reference cdata the trace has
    /// not made: the member or element of aggregate type an FFI index gave, which only
    /// indexing it again may use. While one is pending, guards leave through
    /// `pending_pin`, the state before the first of them was made (the interpreter
    /// makes the references again), and no store may come before such a guard.
    pending: BTreeMap<u16, PendingRef>,
    pending_pin: Option<Pin>,
    stored_since_pin: bool,
    steps: usize,
    /// The snapshots C calls leave through after a callback ([`Ins::CCall`]): never
    /// shared with a guard's, as exits through them are never linked to side traces.
    call_exits: Vec<SnapId>,
    /// A C call just recorded returns a `bool` into this slot (of the current frame):
    /// which boolean it is becomes known (and guarded) at the next instruction.
    bool_result: Option<(u32, Ref)>,
    /// A native function call just recorded ([`Ins::NativeCall`]) left this many results
    /// from this slot on (of the trace's frame), read at the next instruction, when they
    /// are there to see; guards on them leave through the snapshot after the call.
    native_results: Option<(u32, u32)>,
    /// Slots of the trace's frame a native call may have changed (its results, and
    /// variables closures may capture): read from the stack, not assumed to hold what
    /// they held on entry.
    stale: BTreeSet<u16>,
    /// Lookups through `__index` tables the instruction being recorded made so far.
    inherited: u32,
    /// Slots whose value is the one a native call left on the stack, until the trace
    /// writes them: leaving must not write them (in the loop body, not even the value
    /// the iteration started with). Per snapshot in `snap_mem_owned`.
    mem_owned: BTreeSet<u16>,
    snap_mem_owned: Vec<Vec<u16>>,
}

/// The state guards leave through while references are pending: a snapshot, or what it
/// will hold (bytecode index, slots) if a guard needs it.
enum Pin {
    Taken(SnapId),
    Lazy(u32, Vec<(u16, Ref)>),
}

/// A reference cdata a trace has not made: where it refers (`ptr + off`) and the type of
/// what it refers to.
#[derive(Clone, Copy, Debug)]
struct PendingRef {
    ptr: Ref,
    off: i32,
    ty: CTypeId,
}

fn kn(pt: *mut GcProto, i: u32) -> f64 {
    // SAFETY: a number-constant index from the prototype's own bytecode.
    unsafe { *(*pt).kn.add(i as usize) }
}

fn kgc(pt: *mut GcProto, i: u32) -> TValue {
    // SAFETY: a GC-constant index from the prototype's own bytecode.
    unsafe { *(*pt).kgc.add(i as usize) }
}

fn pri_ty(d: u32) -> Ty {
    match d {
        0 => Ty::Nil,
        1 => Ty::False,
        _ => Ty::True,
    }
}

/// `d` as an i32 if it is one exactly (not -0).
fn exact_i32(d: f64) -> Option<i32> {
    let i = d as i32;
    (i as f64 == d && (i != 0 || d.to_bits() == 0)).then_some(i)
}

/// Slot values as a snapshot lists them.
fn slot_list(slots: &BTreeMap<u16, Ref>) -> Vec<(u16, Ref)> {
    slots.iter().map(|(&s, &r)| (s, r)).collect()
}

/// Whether `op` starts, closes or iterates a loop (in any of its JIT forms).
fn is_loop_op(op: Op) -> bool {
    use Op::*;
    matches!(
        op,
        LOOP | JLOOP
            | ILOOP
            | FORI
            | JFORI
            | FORL
            | JFORL
            | IFORL
            | ITERL
            | JITERL
            | IITERL
            | ITERC
            | ITERN
    )
}

/// Function value `fv` (live) if it is a Lua function: its closure, prototype, number of
/// parameters, and whether it takes varargs.
fn lua_function(fv: TValue) -> Option<(*mut GcFunc, *mut GcProto, u32, bool)> {
    if !fv.is_func() {
        return None;
    }
    let closure = fv.gc_ptr().cast::<GcFunc>();
    // SAFETY: a live function; a Lua one has a live prototype.
    unsafe {
        if !(*closure).is_lua() {
            return None;
        }
        let pt = (*closure).proto;
        let vararg = (*pt).flags & u32::from(moonjet_runtime::proto::flags::VARARG) != 0;
        Some((closure, pt, u32::from((*pt).numparams), vararg))
    }
}

/// The math and bit builtins a trace turns into IR, by luajit's builtin number.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Builtin {
    Floor,
    Ceil,
    Sqrt,
    Abs,
    Min,
    Max,
    ToBit,
    BNot,
    BSwap,
    BAnd,
    BOr,
    BXor,
    LShift,
    RShift,
    ARShift,
    Rol,
    Ror,
}

impl Builtin {
    /// Whether the recorder handles a call with `n` arguments (the interpreter's
    /// functions ignore extra ones; recording them is not worth it).
    fn takes(self, n: u32) -> bool {
        use Builtin::*;
        match self {
            // Folded left to right, as the library does; bit.band(x) is bit.tobit(x).
            Min | Max | BAnd | BOr | BXor => n >= 1,
            LShift | RShift | ARShift | Rol | Ror => n == 2,
            Floor | Ceil | Sqrt | Abs | ToBit | BNot | BSwap => n == 1,
        }
    }
}

fn builtin_of(ffid: u8) -> Option<Builtin> {
    const TABLE: [(&str, &str, Builtin); 17] = [
        ("math", "floor", Builtin::Floor),
        ("math", "ceil", Builtin::Ceil),
        ("math", "sqrt", Builtin::Sqrt),
        ("math", "abs", Builtin::Abs),
        ("math", "min", Builtin::Min),
        ("math", "max", Builtin::Max),
        ("bit", "tobit", Builtin::ToBit),
        ("bit", "bnot", Builtin::BNot),
        ("bit", "bswap", Builtin::BSwap),
        ("bit", "band", Builtin::BAnd),
        ("bit", "bor", Builtin::BOr),
        ("bit", "bxor", Builtin::BXor),
        ("bit", "lshift", Builtin::LShift),
        ("bit", "rshift", Builtin::RShift),
        ("bit", "arshift", Builtin::ARShift),
        ("bit", "rol", Builtin::Rol),
        ("bit", "ror", Builtin::Ror),
    ];
    TABLE
        .iter()
        .find(|(lib, name, _)| builtin_id(lib, name) == Some(ffid))
        .map(|&(_, _, b)| b)
}

/// The bit library's operation `op` (a unary or binary bit instruction) on constants, as
/// `moonjet_runtime::libs::bit` computes it; `None` for other instructions.
fn fold_bits(op: &Ins, x: i32, y: i32) -> Option<i32> {
    // Shift counts keep their low 5 bits, as the library's do.
    let n = (y & 31) as u32;
    Some(match op {
        Ins::BNot(_) => !x,
        Ins::BSwap(_) => x.swap_bytes(),
        Ins::BAnd(..) => x & y,
        Ins::BOr(..) => x | y,
        Ins::BXor(..) => x ^ y,
        Ins::BShl(..) => x << n,
        Ins::BShr(..) => ((x as u32) >> n) as i32,
        Ins::BSar(..) => x >> n,
        Ins::BRol(..) => x.rotate_left(n),
        Ins::BRor(..) => x.rotate_right(n),
        _ => return None,
    })
}

impl Recorder {
    /// Start recording the loop whose `FORL` or `LOOP` instruction is at `start`, in the
    /// frame at `base`.
    ///
    /// # Safety
    /// `start` points at a `FORL`/`JFORL`/`LOOP`/`JLOOP` of `pt`'s bytecode, whose frame
    /// is at `base`.
    pub unsafe fn new(
        pt: *mut GcProto,
        base: *mut TValue,
        start: *const u32,
        opts: Opts,
    ) -> Recorder {
        // SAFETY: caller promise; jump targets stay inside the bytecode.
        let (body, exit, is_loop) = unsafe {
            let ins = *start;
            let target = bc::jump_target(start.add(1), ins);
            let is_loop = matches!(Op::from_u8(bc::op(ins)), Some(Op::LOOP | Op::JLOOP));
            if is_loop {
                // LOOP's jump is to the first instruction after the loop.
                (start.add(1), target, true)
            } else {
                // FORL jumps back to the body; the loop ends right after the FORL.
                (target, start.add(1), false)
            }
        };
        let mut rec = Recorder::blank(pt, base, start, opts);
        (rec.body, rec.exit, rec.is_loop) = (body, exit, is_loop);
        if !is_loop && opts.narrow {
            // SAFETY: `start` is the FORL (caller promise).
            let a = bc::a(unsafe { *start });
            let v = |i: u32| rec.value(a + i);
            let ints = (0..3).all(|i| v(i).is_number() && exact_i32(v(i).num()).is_some());
            rec.narrow_for = ints && v(2).num() != 0.0;
        }
        rec
    }

    /// Start recording a side trace at `start`, where an exit of another trace resumes
    /// in the frame at `base` (running `pt`). `recursive`: the tree is rooted by a
    /// function trace of `pt`.
    pub fn new_side(
        pt: *mut GcProto,
        base: *mut TValue,
        start: *const u32,
        opts: Opts,
        recursive: bool,
    ) -> Recorder {
        let mut rec = Recorder::blank(pt, base, start, opts);
        rec.side = true;
        rec.recursive = recursive;
        rec
    }

    /// Start recording a function trace of `pt`, just called (its frame at `base`), from
    /// its first instruction after the header.
    ///
    /// # Safety
    /// `pt` is live and has a frame at `base` about to run its first instruction.
    pub unsafe fn new_func(pt: *mut GcProto, base: *mut TValue, opts: Opts) -> Recorder {
        // SAFETY: caller promise; instruction 0 is the header, and a body follows it.
        let first = unsafe { (*pt).bc.add(1) };
        let mut rec = Recorder::blank(pt, base, first, opts);
        rec.side = true;
        rec.func_root = true;
        rec.recursive = true;
        rec
    }

    /// The thread's stack moved by `delta` slots (it grew): the frames being recorded
    /// are where they were relative to it.
    pub fn rebase(&mut self, delta: isize) {
        self.base = self.base.wrapping_offset(delta);
        for f in &mut self.frames {
            f.base = f.base.wrapping_offset(delta);
        }
    }

    /// While a recursive call the trace made (`Ins::CallSelf`) runs: whether the
    /// instruction at `pc`, in the frame at `base` running `pt`, is the callee's, which
    /// the recording skips. Back in the trace's frame after the call, recording goes on.
    pub fn skips(&mut self, pt: *mut GcProto, base: *mut TValue, pc: *const u32) -> bool {
        let Some(back) = self.awaiting else {
            return false;
        };
        if base > self.base {
            self.skipped += 1;
            return self.skipped < MAX_SKIPPED;
        }
        if pt == self.pt && base == self.base && pc == back {
            self.awaiting = None;
        }
        false
    }

    /// Why the recording ends when the interpreter runs code outside the recorded frames
    /// (other than a recursive call's, which [`Recorder::skips`]).
    pub fn left_frame(&self) -> &'static str {
        match self.awaiting {
            Some(_) if self.skipped >= MAX_SKIPPED => "recursive call too long to record",
            Some(_) => "NYI: leaving the frame in a recursive call",
            // A hook, an error handler, an error unwinding the loop's frame.
            None => "NYI: leaving the loop's frame",
        }
    }

    fn blank(pt: *mut GcProto, base: *mut TValue, start: *const u32, opts: Opts) -> Recorder {
        Recorder {
            pt,
            base,
            start,
            body: start,
            exit: start,
            is_loop: false,
            side: false,
            passed_loops: Vec::new(),
            func_root: false,
            recursive: false,
            awaiting: None,
            skipped: 0,
            frames: Vec::new(),
            call_snap: None,
            stored_in_call: false,
            failed: None,
            multres: None,
            pinned_snap: None,
            pending: BTreeMap::new(),
            pending_pin: None,
            stored_since_pin: false,
            opts,
            ins: Vec::new(),
            snaps: Vec::new(),
            slots: BTreeMap::new(),
            written: BTreeMap::new(),
            cse: HashMap::new(),
            cse_loads: Vec::new(),
            gc_consts: Vec::new(),
            narrow_for: false,
            forl: None,
            asize_seen: HashMap::new(),
            steps: 0,
            call_exits: Vec::new(),
            bool_result: None,
            native_results: None,
            stale: BTreeSet::new(),
            inherited: 0,
            mem_owned: BTreeSet::new(),
            snap_mem_owned: Vec::new(),
        }
    }

    /// Where a root trace is entered: its loop body.
    pub fn entry_pc(&self) -> *const u32 {
        self.body
    }

    /// Is the frame at `base` running `pt` the one being recorded (the loop's, or the
    /// innermost inlined call's)?
    pub fn in_frame(&self, pt: *mut GcProto, base: *mut TValue) -> bool {
        match self.frames.last() {
            Some(f) => pt == f.pt && base == f.base,
            None => pt == self.pt && base == self.base,
        }
    }

    /// How many inlined calls deep the recording is.
    pub fn depth(&self) -> usize {
        self.frames.len()
    }

    /// The prototype running in the current frame.
    fn cur_pt(&self) -> *mut GcProto {
        self.frames.last().map_or(self.pt, |f| f.pt)
    }

    /// The current frame's first slot, relative to the trace's.
    fn frame_off(&self) -> u32 {
        self.frames.last().map_or(0, |f| f.off)
    }

    /// The current frame's function: its IR value and the closure.
    fn cur_func(&mut self) -> (Ref, *mut GcFunc) {
        match self.frames.last() {
            Some(f) => (f.func, f.closure),
            None => {
                let f = self.emit(Ins::CurFunc);
                // SAFETY: slot -2 of a Lua frame holds its function.
                (f, unsafe { (*self.base.sub(2)).gc_ptr().cast::<GcFunc>() })
            }
        }
    }

    fn pc_index(&self, pc: *const u32) -> u32 {
        // SAFETY: `pc` points into the prototype's bytecode.
        unsafe { pc.offset_from((*self.pt).bc) as u32 }
    }

    /// The runtime value in `slot` of the current frame (what the interpreter is about
    /// to use).
    fn value(&self, slot: u32) -> TValue {
        let base = self.frames.last().map_or(self.base, |f| f.base);
        // SAFETY: `slot` is an operand of the instruction about to run in this frame.
        unsafe { *base.add(slot as usize) }
    }

    fn ty(&self, r: Ref) -> Ty {
        self.ins[r as usize].ty().unwrap_or(Ty::Ptr)
    }

    // ---- emission -------------------------------------------------------------------

    fn push(&mut self, i: Ins) -> Ref {
        if self.stored_in_call && i.snap().is_some() && i.snap() == self.call_snap {
            // Leaving would make the call again, repeating the store.
            self.failed = Some("NYI: guard after a store in an inlined call".into());
        }
        let pin = match self.pending_pin {
            Some(Pin::Taken(s)) => Some(s),
            _ => None,
        };
        if self.stored_since_pin && i.snap().is_some() && i.snap() == pin {
            // Leaving would make the references again, and repeat the store.
            self.failed =
                Some("NYI: guard after a store while a cdata reference is pending".into());
        }
        self.ins.push(i);
        (self.ins.len() - 1) as Ref
    }

    /// Emit `i` after folding and CSE.
    fn emit(&mut self, i: Ins) -> Ref {
        if self.opts.fold || self.reads_unboxed(&i) {
            if let Some(r) = self.fold(&i) {
                return r;
            }
        }
        let cse_ok = self.opts.cse || matches!(i, Ins::KNum(_) | Ins::KInt(_) | Ins::KPri(_));
        if cse_ok && (pure(&i) || i.reads_memory()) {
            let key = cse_key(&i);
            if let Some(&r) = self.cse.get(&key) {
                return r;
            }
            let r = self.push(i);
            if let Some(m) = self.mem_read(&i) {
                self.cse_loads.push((key.clone(), m));
            }
            self.cse.insert(key, r);
            return r;
        }
        self.invalidate(&i);
        let r = self.push(i);
        if i.writes_memory() && !self.frames.is_empty() {
            self.stored_in_call = true;
        }
        if i.writes_memory() && self.pending_pin.is_some() {
            self.stored_since_pin = true;
        }
        if let (Ins::Store { ptr, idx, off, val }, true) = (i, self.opts.fwd) {
            // A load of what was just stored is the stored value.
            let ty = self.ty(val);
            if ty != Ty::Int {
                let load = Ins::Load {
                    ptr,
                    idx,
                    off,
                    ty,
                    snap: 0,
                };
                let key = cse_key(&load);
                let m = self.mem_at(ptr, idx, off);
                self.cse_loads.push((key.clone(), m));
                self.cse.insert(key, val);
            }
        }
        if let (Ins::XStore { ptr, off, ct, val }, true) = (i, self.opts.fwd) {
            if ct.loads_back(self.ty(val)) {
                let load = Ins::XLoad { ptr, off, ct };
                let key = cse_key(&load);
                if let Some(m) = self.mem_read(&load) {
                    self.cse_loads.push((key.clone(), m));
                }
                self.cse.insert(key, val);
            }
        }
        r
    }

    /// The memory at `ptr + 8*idx + off`, by what `ptr` is.
    fn mem_at(&self, ptr: Ref, idx: Option<Ref>, off: i32) -> Mem {
        match self.ins[ptr as usize] {
            Ins::FLoad {
                field: Field::TabArray,
                ..
            } => Mem::Array,
            Ins::FLoad {
                field: Field::TabNode,
                ..
            } if idx.is_none() => Mem::Hash(off),
            // One closure's upvalues are distinct variables: one index of the frame's
            // function never aliases another. An inlined callee's (a constant closure)
            // are known objects; they may be the frame function's too.
            Ins::FLoad {
                field: Field::UpvalV,
                obj,
            } => match self.ins[obj as usize] {
                Ins::UvRef { func, idx } => match self.ins[func as usize] {
                    Ins::CurFunc => Mem::Upval(idx),
                    Ins::KGc { addr, ty: Ty::Func } => {
                        // SAFETY: a constant closure the trace keeps alive (gc_consts),
                        // a Lua one (it was called inline), whose upvalue `idx` exists
                        // (the callee's own bytecode named it).
                        let uv = unsafe {
                            *GcFunc::lua_upvals(addr as usize as *mut GcFunc).add(usize::from(idx))
                        };
                        Mem::UpvalObj(uv as usize)
                    }
                    _ => Mem::Any,
                },
                _ => Mem::Any,
            },
            _ => Mem::Any,
        }
    }

    /// What a memory-reading instruction reads.
    fn mem_read(&self, i: &Ins) -> Option<Mem> {
        match *i {
            Ins::Load { ptr, idx, off, .. } => Some(self.mem_at(ptr, idx, off)),
            // Node keys change only when a key is inserted (a table store call).
            Ins::LoadBits { .. } => Some(Mem::Key),
            Ins::TabLen { .. } | Ins::TabGetInt { .. } | Ins::TabGetStr { .. } => Some(Mem::Any),
            Ins::XLoad { ptr, off, ct } => Some(Mem::C {
                ptr,
                off,
                size: ct.size(),
            }),
            Ins::FLoad { field, .. } if field.resizable() => Some(Mem::Layout),
            Ins::FLoad {
                field: Field::TabMeta | Field::UdataMeta | Field::FuncEnv | Field::UpvalV,
                ..
            }
            | Ins::TabWrite { .. } => Some(Mem::Meta),
            _ => None,
        }
    }

    /// Forget the loads (and, after a table store call, the table layout fields) that
    /// instruction `i` may change.
    fn invalidate(&mut self, i: &Ins) {
        let Some(written) = self.written_by(i) else {
            return;
        };
        let cse = &mut self.cse;
        self.cse_loads.retain(|(k, read)| {
            let keep = !read.may_alias(written);
            if !keep {
                cse.remove(k);
            }
            keep
        });
    }

    /// The memory instruction `i` may change the values of, if any: a store's place, or
    /// anything for a table-store call (it may insert keys and resize the table).
    fn written_by(&self, i: &Ins) -> Option<Mem> {
        match *i {
            Ins::Store { ptr, idx, off, .. } => Some(self.mem_at(ptr, idx, off)),
            Ins::XStore { ptr, off, ct, .. } => Some(Mem::C {
                ptr,
                off,
                size: ct.size(),
            }),
            // A call's callee (trace code) may store to tables and upvalues and grow
            // tables.
            // So may a C function (through pointers it got), and a callback it calls.
            Ins::TabSetInt { .. }
            | Ins::TabSetStr { .. }
            | Ins::CallSelf { .. }
            | Ins::CCall { .. } => Some(Mem::Any),
            // A native function may run any Lua code, and the collector.
            Ins::NativeCall { .. } => Some(Mem::All),
            _ => None,
        }
    }

    /// Constant folding and simplification: the ref `i` folds to, if any.
    fn fold(&mut self, i: &Ins) -> Option<Ref> {
        let knum = |s: &Self, r: Ref| match s.ins[r as usize] {
            Ins::KNum(x) => Some(x),
            _ => None,
        };
        let kint = |s: &Self, r: Ref| match s.ins[r as usize] {
            Ins::KInt(x) => Some(x),
            _ => None,
        };
        match *i {
            Ins::AddN(a, b)
            | Ins::SubN(a, b)
            | Ins::MulN(a, b)
            | Ins::DivN(a, b)
            | Ins::MinN(a, b)
            | Ins::MaxN(a, b) => {
                let (x, y) = (knum(self, a)?, knum(self, b)?);
                let v = match i {
                    Ins::AddN(..) => x + y,
                    Ins::SubN(..) => x - y,
                    Ins::MulN(..) => x * y,
                    Ins::DivN(..) => x / y,
                    Ins::MinN(..) => {
                        if x < y {
                            x
                        } else {
                            y
                        }
                    }
                    _ => {
                        if x > y {
                            x
                        } else {
                            y
                        }
                    }
                };
                Some(self.emit(Ins::KNum(v)))
            }
            Ins::NegN(a) => {
                let x = knum(self, a)?;
                Some(self.emit(Ins::KNum(-x)))
            }
            Ins::IntToNum(a) => match self.ins[a as usize] {
                Ins::KInt(k) => Some(self.emit(Ins::KNum(f64::from(k)))),
                _ => None,
            },
            // A cdata the loop keeps unboxed (its slot's value from the previous
            // iteration): its type and value are known.
            Ins::FLoad {
                obj,
                field: Field::CdataCtype,
            } if self.ty(obj).is_int64() => {
                let id = if self.ty(obj) == Ty::U64 {
                    CTypeId::UINT64
                } else {
                    CTypeId::INT64
                };
                Some(self.emit(Ins::KInt(i32::from(id.0))))
            }
            Ins::FLoad {
                obj,
                field: field @ (Field::CdataI64 | Field::CdataU64),
            } if self.ty(obj) == field.ty() => Some(obj),
            Ins::FLoad { obj, field } => match (self.ins[obj as usize], field) {
                (Ins::PtrCdata { ctype, .. }, Field::CdataCtype) => {
                    Some(self.emit(Ins::KInt(i32::from(ctype))))
                }
                (Ins::PtrCdata { addr, .. }, Field::CdataPtr) => Some(addr),
                _ => None,
            },
            Ins::Arith64 { op, a, b, ty } => {
                let k64 = |s: &Self, r: Ref| match s.ins[r as usize] {
                    Ins::K64 { bits, .. } => Some(bits),
                    _ => None,
                };
                let (x, y) = (k64(self, a)?, k64(self, b)?);
                let bits = match op {
                    Op64::Add => x.wrapping_add(y),
                    Op64::Sub => x.wrapping_sub(y),
                    Op64::Mul => x.wrapping_mul(y),
                    Op64::Neg => x.wrapping_neg(),
                    // (Folded by the interpreter's rules only where they are this simple.)
                    Op64::Div | Op64::Mod | Op64::Pow => return None,
                };
                Some(self.emit(Ins::K64 { bits, ty }))
            }
            Ins::To64 { a, ty } => {
                let bits = match self.ins[a as usize] {
                    _ if self.ty(a) == ty => return Some(a),
                    // An integer's double converts back to the integer.
                    Ins::IntToNum(x) => return Some(self.emit(Ins::To64 { a: x, ty })),
                    Ins::K64 { bits, .. } => bits,
                    Ins::KInt(k) => i64::from(k) as u64,
                    Ins::KNum(x) => int64_bits(TValue::from_f64(x), ty)?,
                    _ => return None,
                };
                Some(self.emit(Ins::K64 { bits, ty }))
            }
            Ins::ToBit(a) => match self.ins[a as usize] {
                // An i32 is its own value modulo 2^32.
                Ins::IntToNum(x) => Some(x),
                Ins::KNum(x) => Some(self.emit(Ins::KInt(bit::num2bit(x)))),
                _ => None,
            },
            Ins::BNot(a) | Ins::BSwap(a) => {
                let v = fold_bits(i, kint(self, a)?, 0)?;
                Some(self.emit(Ins::KInt(v)))
            }
            Ins::BAnd(a, b)
            | Ins::BOr(a, b)
            | Ins::BXor(a, b)
            | Ins::BShl(a, b)
            | Ins::BShr(a, b)
            | Ins::BSar(a, b)
            | Ins::BRol(a, b)
            | Ins::BRor(a, b) => {
                let v = fold_bits(i, kint(self, a)?, kint(self, b)?)?;
                Some(self.emit(Ins::KInt(v)))
            }
            Ins::NumToInt { a, snap } => match self.ins[a as usize] {
                Ins::IntToNum(x) => Some(x),
                Ins::KNum(x) => exact_i32(x).map(|k| self.emit(Ins::KInt(k))),
                // (int)(x + k) for an integer x and a small integral k: an overflow-checked
                // integer add gives the same result or leaves where the conversion would.
                Ins::AddN(p, q) | Ins::SubN(p, q) => {
                    let (Ins::IntToNum(x), Ins::KNum(k)) =
                        (self.ins[p as usize], self.ins[q as usize])
                    else {
                        return None;
                    };
                    let k = exact_i32(k).filter(|k| k.unsigned_abs() < 1 << 30)?;
                    let kr = self.emit(Ins::KInt(k));
                    Some(if matches!(self.ins[a as usize], Ins::AddN(..)) {
                        self.emit(Ins::AddI { a: x, b: kr, snap })
                    } else {
                        self.emit(Ins::SubI { a: x, b: kr, snap })
                    })
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// A 64-bit integer or a pointer cdata the trace keeps unboxed is boxed only where the
    /// trace leaves; a store of `val` to a table or upvalue would box it in the loop (an
    /// allocation, and a barrier), which is not recorded yet.
    fn boxed_only_at_exits(&self, val: Ref) -> Result<(), Abort> {
        if self.ty(val).is_int64() || matches!(self.ins[val as usize], Ins::PtrCdata { .. }) {
            return Err("NYI: store of an unboxed cdata".into());
        }
        Ok(())
    }

    /// Whether `i` reads the type or value of a cdata the trace keeps unboxed (a 64-bit
    /// integer, or a sunk pointer cdata): such a load always folds (it is no object).
    fn reads_unboxed(&self, i: &Ins) -> bool {
        matches!(*i, Ins::FLoad { obj, .. }
            if self.ty(obj).is_int64() || matches!(self.ins[obj as usize], Ins::PtrCdata { .. }))
    }

    /// Whether guard `g` on two integer constants holds (`None`: not such a guard).
    fn constant_guard(&self, g: &Ins) -> Option<bool> {
        let Ins::Guard {
            cmp,
            ty: Ty::Int,
            a,
            b,
            ..
        } = *g
        else {
            return None;
        };
        let (Ins::KInt(x), Ins::KInt(y)) = (self.ins[a as usize], self.ins[b as usize]) else {
            return None;
        };
        Some(match cmp {
            Cmp::Lt => x < y,
            Cmp::Le => x <= y,
            Cmp::Gt => x > y,
            Cmp::Ge => x >= y,
            Cmp::Eq => x == y,
            Cmp::Ne => x != y,
            Cmp::ULt => (x as u32) < (y as u32),
        })
    }

    fn knum(&mut self, x: f64) -> Ref {
        self.emit(Ins::KNum(x))
    }

    fn kgc(&mut self, v: TValue, ty: Ty) -> Ref {
        let addr = v.payload();
        let r = self.emit(Ins::KGc { addr, ty });
        self.keep_alive(v);
        r
    }

    /// The trace's code embeds GC value `v` (an address or a key's bits): the trace
    /// object keeps it alive.
    fn keep_alive(&mut self, v: TValue) {
        if !self.gc_consts.contains(&v) {
            self.gc_consts.push(v);
        }
    }

    /// A snapshot of the state before the instruction at `pc` (the last one again if
    /// nothing changed since).
    fn snap(&mut self, pc: *const u32) -> SnapId {
        if let Some(s) = self.call_snap {
            // (`push` refuses a guard through it after a store.)
            return s;
        }
        match self.pending_pin.take() {
            // (`push` refuses a guard through it after a store.)
            Some(Pin::Taken(s)) => {
                self.pending_pin = Some(Pin::Taken(s));
                return s;
            }
            Some(Pin::Lazy(pc, slots)) => {
                let s = self.push_snap(pc, slots);
                self.pending_pin = Some(Pin::Taken(s));
                return s;
            }
            None => {}
        }
        if let Some(s) = self.pinned_snap {
            return s;
        }
        let slots: Vec<(u16, Ref)> = slot_list(&self.written);
        let pc = self.pc_index(pc);
        self.push_snap(pc, slots)
    }

    /// A snapshot of `slots` resuming at bytecode index `pc` (the last one again if it is
    /// the same).
    fn push_snap(&mut self, pc: u32, slots: Vec<(u16, Ref)>) -> SnapId {
        let last_id = self.snaps.len().wrapping_sub(1) as SnapId;
        let mem_owned: Vec<u16> = self.mem_owned.iter().copied().collect();
        if let (Some(last), false) = (self.snaps.last(), self.call_exits.contains(&last_id)) {
            if last.pc == pc
                && last.slots == slots
                && self.snap_mem_owned.last() == Some(&mem_owned)
            {
                return (self.snaps.len() - 1) as SnapId;
            }
        }
        self.snaps.push(Snapshot { slots, pc });
        self.snap_mem_owned.resize(self.snaps.len() - 1, Vec::new());
        self.snap_mem_owned.push(mem_owned);
        (self.snaps.len() - 1) as SnapId
    }

    /// The IR value of `slot` (loaded, with a type guard, on first use).
    fn read(&mut self, slot: u32, pc: *const u32) -> Result<Ref, Abort> {
        let s = u16::try_from(self.frame_off() + slot).map_err(|_| "slot out of range")?;
        self.not_pending(s)?;
        if let Some(&r) = self.slots.get(&s) {
            return Ok(r);
        }
        if !self.frames.is_empty() {
            // An inlined call's slots exist only in the trace: every one it reads was
            // written (its parameters by the caller).
            return Err("NYI: read of an unset slot in an inlined call".into());
        }
        self.frame_slot(s, pc)
    }

    /// The IR value of slot `s` of the trace's own frame (loaded, with a type guard, on
    /// first use).
    fn frame_slot(&mut self, s: u16, pc: *const u32) -> Result<Ref, Abort> {
        self.not_pending(s)?;
        if let Some(&r) = self.slots.get(&s) {
            return Ok(r);
        }
        // SAFETY: a slot of the recorded frame (an operand, or where an open upvalue of
        // it points).
        let v = unsafe { *self.base.add(usize::from(s)) };
        let ty = Ty::of(v).ok_or("NYI: value type")?;
        let snap = self.snap(pc);
        let r = if self.stale.contains(&s) {
            // Not the value the trace was entered with: what a native call left there.
            let at = self.emit(Ins::SlotAddr { slot: s });
            self.emit(Ins::Load {
                ptr: at,
                idx: None,
                off: 0,
                ty,
                snap,
            })
        } else {
            self.push(Ins::SLoad { slot: s, ty, snap })
        };
        self.slots.insert(s, r);
        Ok(r)
    }

    /// The value of `slot` as a double (an integer is converted).
    fn read_num(&mut self, slot: u32, pc: *const u32) -> Result<Ref, Abort> {
        let r = self.read(slot, pc)?;
        self.as_num(r)
    }

    fn as_num(&mut self, r: Ref) -> Result<Ref, Abort> {
        match self.ty(r) {
            Ty::Num => Ok(r),
            Ty::Int => Ok(self.emit(Ins::IntToNum(r))),
            _ => Err("NYI: arithmetic on a non-number".into()),
        }
    }

    /// The value of `slot` (a number) as the bit library's 32-bit operand: an integer is
    /// one already, a double is converted modulo 2^32.
    fn read_bit(&mut self, slot: u32, pc: *const u32) -> Result<Ref, Abort> {
        let r = self.read(slot, pc)?;
        match self.ty(r) {
            Ty::Int => Ok(r),
            Ty::Num => Ok(self.emit(Ins::ToBit(r))),
            _ => Err(FASTFUNC.into()),
        }
    }

    /// Number `r` (whose runtime value is `v`) as an integer, guarded to be one.
    fn as_int(&mut self, r: Ref, pc: *const u32) -> Result<Ref, Abort> {
        match self.ty(r) {
            Ty::Int => Ok(r),
            Ty::Num => {
                let snap = self.snap(pc);
                Ok(self.emit(Ins::NumToInt { a: r, snap }))
            }
            _ => Err("NYI: non-number index".into()),
        }
    }

    fn write(&mut self, slot: u32, r: Ref) {
        self.write_frame_slot((self.frame_off() + slot) as u16, r);
    }

    /// Set slot `s` of the trace's own frame.
    fn write_frame_slot(&mut self, s: u16, r: Ref) {
        self.drop_pending(s);
        self.mem_owned.remove(&s);
        self.slots.insert(s, r);
        self.written.insert(s, r);
    }

    /// The frames' slots from `first` on are gone (a call returned, or its frame was
    /// taken over): forget what the recording knew of them.
    fn forget_slots_from(&mut self, first: u32) {
        self.slots.retain(|&s, _| u32::from(s) < first);
        self.written.retain(|&s, _| u32::from(s) < first);
        let gone: Vec<u16> = self
            .pending
            .range(u16::try_from(first).unwrap_or(u16::MAX)..)
            .map(|(&s, _)| s)
            .collect();
        for s in gone {
            self.drop_pending(s);
        }
    }

    fn guard(&mut self, cmp: Cmp, ty: Ty, a: Ref, b: Ref, pc: *const u32) {
        let g = Ins::Guard {
            cmp,
            ty,
            a,
            b,
            snap: 0,
        };
        if self.constant_guard(&g) == Some(true) {
            return;
        }
        let snap = self.snap(pc);
        self.emit(Ins::Guard {
            cmp,
            ty,
            a,
            b,
            snap,
        });
    }

    // ---- tables ---------------------------------------------------------------------

    /// Guards that table `t` (runtime `tv`) has no metatable.
    fn guard_no_meta(&mut self, t: Ref, tv: *mut GcTab, pc: *const u32) -> Result<(), Abort> {
        // SAFETY: `tv` is the live table the instruction is about to index.
        if unsafe { !(*tv).metatable.is_null() } {
            return Err("NYI: table with a metatable".into());
        }
        let meta = self.emit(Ins::FLoad {
            obj: t,
            field: Field::TabMeta,
        });
        let null = self.emit(Ins::KPtr(0));
        self.guard(Cmp::Eq, Ty::Ptr, meta, null, pc);
        Ok(())
    }

    /// Where `t[key]` lives for an integer key in the array part: (array, index), with
    /// the bounds guard. `None` if the runtime key is outside the array part.
    fn array_slot(
        &mut self,
        t: Ref,
        tv: *mut GcTab,
        key: Ref,
        k: i64,
        pc: *const u32,
    ) -> Option<(Ref, Ref)> {
        // SAFETY: live table (see guard_no_meta).
        let asize = unsafe { (*tv).asize } as i64;
        if k < 0 || k >= asize {
            return None;
        }
        let arr = self.emit(Ins::FLoad {
            obj: t,
            field: Field::TabArray,
        });
        let asz = self.emit(Ins::FLoad {
            obj: t,
            field: Field::TabAsize,
        });
        self.asize_seen.entry(asz).or_insert(asize as u32);
        self.guard(Cmp::ULt, Ty::Int, key, asz, pc);
        Some((arr, key))
    }

    /// Where constant string key `key` lives in the hash part of `t`: (node array, byte
    /// offset of the node), with guards that it is still there. `None` if absent.
    fn hash_slot(
        &mut self,
        t: Ref,
        tv: *mut GcTab,
        key: *mut GcStr,
        pc: *const u32,
    ) -> Option<(Ref, i32)> {
        let kv = TValue::from_gcstr(key);
        // SAFETY: a live table and an interned string; chains stay in the node array.
        let (index, hmask) = unsafe {
            let node = (*tv).node;
            let mut n = node.add(((*key).hash & (*tv).hmask) as usize);
            loop {
                if (*n).key == kv {
                    break (n.offset_from(node), (*tv).hmask);
                }
                n = (*n).next;
                if n.is_null() {
                    return None;
                }
            }
        };
        let off = i32::try_from(index as usize * offsets::NODE_SIZE).ok()?;
        let hm = self.emit(Ins::FLoad {
            obj: t,
            field: Field::TabHmask,
        });
        let khm = self.emit(Ins::KInt(hmask as i32));
        self.guard(Cmp::Eq, Ty::Int, hm, khm, pc);
        let node = self.emit(Ins::FLoad {
            obj: t,
            field: Field::TabNode,
        });
        let kb = self.emit(Ins::LoadBits {
            ptr: node,
            off: off + offsets::NODE_KEY as i32,
        });
        self.keep_alive(kv);
        let kk = self.emit(Ins::KPtr(kv.bits()));
        self.guard(Cmp::Eq, Ty::Ptr, kb, kk, pc);
        Some((node, off + offsets::NODE_VAL as i32))
    }

    /// The key of a table access: an integer (ref, runtime value) or a constant string.
    fn key_of(&mut self, op: Op, c: u32, pc: *const u32) -> Result<Key, Abort> {
        match op {
            Op::TGETS | Op::TSETS => Ok(Key::Str(kgc(self.cur_pt(), c).gc_ptr().cast())),
            Op::TGETB | Op::TSETB => Ok(Key::Int(self.emit(Ins::KInt(c as i32)), i64::from(c))),
            _ => {
                let kv = self.value(c);
                let r = self.read(c, pc)?;
                if let Some(d) = kv.as_number() {
                    let k = exact_i32(d).ok_or("NYI: non-integer number key")?;
                    let ki = self.as_int(r, pc)?;
                    Ok(Key::Int(ki, i64::from(k)))
                } else if let Some(s) = kv.as_str() {
                    // A string from a slot: guard it is this one, then as a constant.
                    let ks = self.kgc(kv, Ty::Str);
                    self.guard(Cmp::Eq, Ty::Ptr, r, ks, pc);
                    Ok(Key::Str(s))
                } else {
                    Err("NYI: key type".into())
                }
            }
        }
    }

    /// `dst = t[key]` for table `t` (ref, runtime table).
    fn table_get(
        &mut self,
        t: Ref,
        tv: *mut GcTab,
        key: Key,
        dst: u32,
        pc: *const u32,
    ) -> Result<(), Abort> {
        let (ptr, idx, off, v) = match key {
            Key::Int(kr, k) => {
                let Some((arr, i)) = self.array_slot(t, tv, kr, k, pc) else {
                    // Outside the array part: the general lookup.
                    // SAFETY: a live table.
                    let v = unsafe { moonjet_gc::table::get_int(tv, k) };
                    let ty = Ty::of(v).ok_or("NYI: value type")?;
                    if ty == Ty::Nil {
                        self.guard_no_meta(t, tv, pc)?;
                    }
                    let snap = self.snap(pc);
                    let r = self.emit(Ins::TabGetInt {
                        tab: t,
                        key: kr,
                        ty,
                        snap,
                    });
                    self.write(dst, r);
                    return Ok(());
                };
                // SAFETY: the index is inside the live table's array part.
                let v = unsafe { *(*tv).array.add(k as usize) };
                (arr, Some(i), 0, v)
            }
            Key::Str(s) => {
                let Some((node, off)) = self.hash_slot(t, tv, s, pc) else {
                    return self.inherited_get(t, tv, s, dst, pc);
                };
                // SAFETY: hash_slot found the key at this node.
                let v = unsafe { *(*tv).node.cast::<u8>().add(off as usize).cast::<TValue>() };
                (node, None, off, v)
            }
        };
        let ty = Ty::of(v).ok_or("NYI: value type")?;
        if ty == Ty::Nil {
            // A nil would consult __index.
            self.guard_no_meta(t, tv, pc)?;
        }
        let snap = self.snap(pc);
        let r = self.emit(Ins::Load {
            ptr,
            idx,
            off,
            ty,
            snap,
        });
        self.write(dst, r);
        Ok(())
    }

    /// `dst = u.name` (`TGETS`, constant key `c`) for the userdata in slot `b` whose
    /// metatable's `__index` is a table, as for methods: the metatable is guarded, and the
    /// key is looked up in that table. (`__index` functions stay interpreted.)
    fn udata_get(&mut self, dst: u32, b: u32, c: u32, pc: *const u32) -> Result<(), Abort> {
        let uv = self.value(b);
        // SAFETY: a live userdata in the frame.
        let mt = unsafe { (*uv.gc_ptr().cast::<GcUdata>()).metatable };
        if mt.is_null() {
            return Err("NYI: userdata without a metatable".into());
        }
        let u = self.read(b, pc)?;
        let (index, methods) = self
            .index_table((u, Field::UdataMeta), mt, pc)
            .ok_or("NYI: userdata index without an __index table")?;
        let key = self.key_of(Op::TGETS, c, pc)?;
        self.table_get(index, methods, key, dst, pc)
    }

    /// `dst = t[key]` for a constant string key table `t` (ref, runtime table) lacks:
    /// the key's absence guarded, then nil, or the lookup goes on in the table its
    /// metatable's `__index` holds (a class's methods; its own class's, and so on, up to
    /// a few levels), the metatable and `__index` guarded. (`__index` functions stay
    /// interpreted.)
    fn inherited_get(
        &mut self,
        t: Ref,
        tv: *mut GcTab,
        key: *mut GcStr,
        dst: u32,
        pc: *const u32,
    ) -> Result<(), Abort> {
        self.inherited += 1;
        if self.inherited > MAX_INHERITED {
            return Err("NYI: missing key".into());
        }
        let kk = self.kgc(TValue::from_gcstr(key), Ty::Str);
        let snap = self.snap(pc);
        let absent = self.emit(Ins::TabGetStr {
            tab: t,
            key: kk,
            ty: Ty::Nil,
            snap,
        });
        // SAFETY: a live table; its metatable, if any, is a live table.
        let mt = unsafe { (*tv).metatable };
        if mt.is_null() {
            self.guard_no_meta(t, tv, pc)?;
            self.write(dst, absent);
            return Ok(());
        }
        let (index, methods) = self
            .index_table((t, Field::TabMeta), mt, pc)
            .ok_or("NYI: missing key")?;
        self.table_get(index, methods, Key::Str(key), dst, pc)
    }

    /// For object `obj` whose metatable (its field `meta`) is the table `mt` now: that
    /// guarded, the table `mt.__index` holds, loaded and guarded to be a table, as (IR
    /// value, runtime table). `None` (nothing emitted) when `__index` holds no table.
    fn index_table(
        &mut self,
        (obj, meta): (Ref, Field),
        mt: *mut GcTab,
        pc: *const u32,
    ) -> Option<(Ref, *mut GcTab)> {
        // SAFETY: the live metatable of a live object.
        let (index_key, index) = unsafe { index_entry(mt) }?;
        let m = self.emit(Ins::FLoad { obj, field: meta });
        let km = self.kgc(TValue::from_tab(mt), Ty::Tab);
        self.guard(Cmp::Eq, Ty::Ptr, m, km, pc);
        let (node, off) = self.hash_slot(km, mt, index_key, pc)?;
        let snap = self.snap(pc);
        let i = self.emit(Ins::Load {
            ptr: node,
            idx: None,
            off,
            ty: Ty::Tab,
            snap,
        });
        Some((i, index))
    }

    /// `t[key] = val` for table `t` (ref, runtime table).
    fn table_set(
        &mut self,
        t: Ref,
        tv: *mut GcTab,
        key: Key,
        val: Ref,
        pc: *const u32,
    ) -> Result<(), Abort> {
        self.boxed_only_at_exits(val)?;
        let (ptr, idx, off, old) = match key {
            Key::Int(kr, k) => match self.array_slot(t, tv, kr, k, pc) {
                Some((arr, i)) => {
                    // SAFETY: inside the live table's array part.
                    let old = unsafe { *(*tv).array.add(k as usize) };
                    (arr, Some(i), 0, old)
                }
                None => {
                    // Outside the array part: the general store (growing the table).
                    self.guard_no_meta(t, tv, pc)?;
                    let snap = self.snap(pc);
                    self.emit(Ins::TabSetInt {
                        tab: t,
                        key: kr,
                        val,
                        snap,
                    });
                    return Ok(());
                }
            },
            Key::Str(s) => {
                let Some((node, off)) = self.hash_slot(t, tv, s, pc) else {
                    // A key the table lacks (a field of a new table, say): the general
                    // store, inserting it. With a metatable, __newindex would decide.
                    // SAFETY: live table.
                    if unsafe { !(*tv).metatable.is_null() } {
                        return Err("NYI: store to a new key".into());
                    }
                    self.guard_no_meta(t, tv, pc)?;
                    let key = self.kgc(TValue::from_gcstr(s), Ty::Str);
                    let snap = self.snap(pc);
                    self.emit(Ins::TabSetStr {
                        tab: t,
                        key,
                        val,
                        snap,
                    });
                    return Ok(());
                };
                // SAFETY: hash_slot found the key at this node.
                let old = unsafe { *(*tv).node.cast::<u8>().add(off as usize).cast::<TValue>() };
                (node, None, off, old)
            }
        };
        // SAFETY: live table.
        let has_meta = unsafe { !(*tv).metatable.is_null() };
        if !has_meta {
            self.guard_no_meta(t, tv, pc)?;
        } else if old.is_nil() {
            return Err("NYI: store to a nil slot of a table with a metatable".into());
        } else {
            // A metatable's __newindex matters only for nil slots: guard it stays non-nil.
            let bits = match idx {
                Some(_) => None,
                None => Some(self.emit(Ins::LoadBits { ptr, off })),
            }
            .ok_or("NYI: array store to a table with a metatable")?;
            let nil = self.emit(Ins::KPtr(TValue::NIL.bits()));
            self.guard(Cmp::Ne, Ty::Ptr, bits, nil, pc);
        }
        self.emit(Ins::TabWrite { tab: t });
        self.emit(Ins::Store { ptr, idx, off, val });
        Ok(())
    }

    /// The table in `slot`, as (ref, runtime table).
    fn table_in(&mut self, slot: u32, pc: *const u32) -> Result<(Ref, *mut GcTab), Abort> {
        let tv = self
            .value(slot)
            .as_tab()
            .ok_or("NYI: indexing a non-table")?;
        let t = self.read(slot, pc)?;
        Ok((t, tv))
    }

    /// The frame's globals table, as (ref, runtime table).
    fn env(&mut self) -> (Ref, *mut GcTab) {
        let (f, closure) = self.cur_func();
        // SAFETY: the running closure is live.
        let env = unsafe { (*closure).env };
        let e = self.emit(Ins::FLoad {
            obj: f,
            field: Field::FuncEnv,
        });
        (e, env)
    }

    /// Where upvalue `idx` of the running function is.
    fn upvalue(&mut self, idx: u32, pc: *const u32) -> Result<UpvalAt, Abort> {
        let (f, closure) = self.cur_func();
        // SAFETY: the running closure's upvalue `idx` (the bytecode's own operand); an
        // open upvalue at or above the frame's base points into the thread's stack.
        let (value, on_frame) = unsafe {
            let uv = *GcFunc::lua_upvals(closure).add(idx as usize);
            let on_frame = (*uv).closed == 0 && (*uv).v >= self.base;
            (*(*uv).v, on_frame.then(|| (*uv).v.offset_from(self.base)))
        };
        let uv = self.emit(Ins::UvRef {
            func: f,
            idx: idx as u16,
        });
        let v = self.emit(Ins::FLoad {
            obj: uv,
            field: Field::UpvalV,
        });
        let Some(off) = on_frame else {
            return Ok(UpvalAt::Mem { ptr: v, uv, value });
        };
        // An inlined callee's upvalue open on a slot of the trace's frame (a local the
        // loop's function shares with it): the trace holds that slot's value itself, as
        // long as the upvalue still points there.
        // SAFETY: the recorded prototype is live.
        let framesize = unsafe { (*self.pt).framesize };
        let slot = u16::try_from(off)
            .ok()
            .filter(|&s| u32::from(s) < u32::from(framesize))
            .ok_or("NYI: upvalue of a slot the trace holds")?;
        let at = self.emit(Ins::SlotAddr { slot });
        self.guard(Cmp::Eq, Ty::Ptr, v, at, pc);
        Ok(UpvalAt::Slot(slot))
    }

    /// Constant operand `d` of a USET*/ISEQ* form: its IR value and the value itself.
    fn const_operand(&mut self, op: Op, d: u32) -> (Ref, TValue) {
        match op {
            Op::USETS | Op::ISEQS | Op::ISNES => {
                let v = kgc(self.cur_pt(), d);
                (self.kgc(v, Ty::Str), v)
            }
            Op::USETN | Op::ISEQN | Op::ISNEN => {
                let x = kn(self.cur_pt(), d);
                (self.knum(x), TValue::from_f64(x))
            }
            _ => {
                let ty = pri_ty(d);
                (
                    self.emit(Ins::KPri(ty)),
                    ty.pri_value().unwrap_or(TValue::NIL),
                )
            }
        }
    }

    // ---- cdata ----------------------------------------------------------------------

    /// Refuses a use of slot `s` while it holds a pending reference (only indexing it
    /// may use it).
    fn not_pending(&self, s: u16) -> Result<(), Abort> {
        if self.pending.contains_key(&s) {
            return Err("NYI: cdata reference used other than indexed".into());
        }
        Ok(())
    }

    /// Refuses to end the trace while a reference is pending (an exit would need it).
    fn none_pending(&self) -> Result<(), Abort> {
        if self.pending.is_empty() {
            Ok(())
        } else {
            Err("NYI: cdata reference live at the end of the trace".into())
        }
    }

    /// Slot `s` holds no pending reference any more; with none left, guards leave
    /// through snapshots of their own again.
    fn drop_pending(&mut self, s: u16) {
        if self.pending.remove(&s).is_some() && self.pending.is_empty() {
            self.pending_pin = None;
            self.stored_since_pin = false;
        }
    }

    /// Slot `dst` gets reference `r`, which the instruction at `pc` makes (a member or
    /// element of aggregate type), kept pending.
    fn pend(&mut self, dst: u32, r: PendingRef, pc: *const u32) -> Result<(), Abort> {
        let s = u16::try_from(self.frame_off() + dst).map_err(|_| "slot out of range")?;
        if self.pending_pin.is_none() {
            // The state before the instruction: leaving there, the interpreter makes the
            // reference itself (or before an inlined call or a builtin call, if guards
            // leave there already).
            self.pending_pin = Some(match self.call_snap.or(self.pinned_snap) {
                Some(s) => Pin::Taken(s),
                None => Pin::Lazy(self.pc_index(pc), slot_list(&self.written)),
            });
            self.stored_since_pin = false;
        }
        self.pending.insert(s, r);
        if self.dead_after(pc, dst) {
            self.drop_pending(s);
        }
        Ok(())
    }

    /// `obj[key]` into a slot, or a slot's value stored to `obj[key]` (`access`), for
    /// the cdata in slot `obj` of instruction `op` at `pc`, whose key operand is `key`.
    /// Specialised to the cdata's C type; anything but numbers (and booleans) in C memory
    /// and references to aggregates aborts.
    fn cdata_access(
        &mut self,
        op: Op,
        (obj, key): (u32, u32),
        access: CAccess,
        pc: *const u32,
        cts: &CTypeTable,
    ) -> Result<(), Abort> {
        let ov = self.value(obj);
        let id = cdata_type(ov);
        if id == CTypeId::CTYPEID {
            return Err("NYI: indexing a ctype".into());
        }
        let obj_slot = u16::try_from(self.frame_off() + obj).map_err(|_| "slot out of range")?;
        let pending = self.pending.get(&obj_slot).copied();
        let k = self.key_of(op, key, pc)?;
        let kv = match k {
            Key::Int(_, i) => TValue::from_f64(i as f64),
            Key::Str(name) => TValue::from_gcstr(name),
        };
        let route = cdata_ops::route(cts, id, kv)
            .map_err(|_| "NYI: cdata access the interpreter reports as an error")?;
        let (ptr, off) = self.cdata_place(obj, (id, pending), &route, k, pc, cts)?;
        match (access, route.target) {
            (CAccess::Get { dst }, Target::Const(v)) => {
                let x = v.as_number().ok_or("NYI: constant member")?;
                let k = self.knum(x);
                self.write(dst, k);
            }
            (CAccess::Get { dst }, Target::Obj { ty, .. }) => {
                let (_, ct) = raw_type(cts, ty);
                if let Some(cn) = c_num(ct) {
                    let x = self.emit(Ins::XLoad { ptr, off, ct: cn });
                    let v = if cn == CNum::Bool {
                        // A boolean: guard which one it is.
                        let truth = match cdata_ops::element(cts, ov, kv) {
                            // SAFETY: the byte the instruction about to run reads.
                            Ok(cdata_ops::Elem::Obj { ptr, .. }) => unsafe { *ptr != 0 },
                            _ => return Err("NYI: cdata element".into()),
                        };
                        let zero = self.emit(Ins::KInt(0));
                        let cmp = if truth { Cmp::Ne } else { Cmp::Eq };
                        self.guard(cmp, Ty::Int, x, zero, pc);
                        self.emit(Ins::KPri(if truth { Ty::True } else { Ty::False }))
                    } else {
                        x
                    };
                    self.write(dst, v);
                } else if ct.is_struct() || ct.is_array() {
                    // The interpreter makes a reference to it.
                    self.pend(dst, PendingRef { ptr, off, ty }, pc)?;
                } else {
                    return Err(unsupported_c_type(ct).into());
                }
            }
            (CAccess::Set { val }, Target::Obj { ty, quals }) => {
                let (_, ct) = raw_type(cts, ty);
                if is_const(cts, ty, quals) {
                    // The interpreter raises the error.
                    return Err("NYI: store to a constant location".into());
                }
                let cn = c_num(ct).ok_or_else(|| unsupported_c_type(ct))?;
                let v = self.c_number_operand(val, pc, "NYI: store of a non-number to cdata")?;
                self.emit(Ins::XStore {
                    ptr,
                    off,
                    ct: cn,
                    val: v,
                });
            }
            (_, Target::Bits { .. }) => return Err("NYI: bitfield".into()),
            (CAccess::Set { .. }, Target::Const(_)) => {
                return Err("NYI: store to a constant location".into());
            }
        }
        if pending.is_some() && self.pending.contains_key(&obj_slot) && self.dead_after(pc, obj) {
            self.drop_pending(obj_slot);
        }
        Ok(())
    }

    /// Where `route` leads from the cdata in slot `obj` (of type `id`), or from the
    /// reference pending there: (address, byte offset), with the guards that it leads
    /// there: the cdata's type, an integer key, and non-NULL pointers followed.
    fn cdata_place(
        &mut self,
        obj: u32,
        (id, pending): (CTypeId, Option<PendingRef>),
        route: &Route,
        key: Key,
        pc: *const u32,
        cts: &CTypeTable,
    ) -> Result<(Ref, i32), Abort> {
        let (mut ptr, mut off) = match pending {
            Some(r) => {
                // The reference the interpreter made leads where the pending one does.
                if !route.through_ref || raw_type(cts, id).1.child != r.ty {
                    return Err("NYI: cdata reference of another type".into());
                }
                (r.ptr, r.off)
            }
            None => {
                let o = self.read(obj, pc)?;
                if self.ty(o) != Ty::Cdata {
                    return Err("NYI: indexing an unboxed 64-bit integer".into());
                }
                self.guard_ctype(o, id, pc);
                if route.through_ref {
                    (self.cdata_ptr(o, pc), 0)
                } else {
                    (o, offsets::CDATA_PAYLOAD as i32)
                }
            }
        };
        if let Some(size) = route.through_ptr {
            if size != 8 {
                return Err("NYI: 32-bit pointer".into());
            }
            if route.through_ref || pending.is_some() {
                return Err("NYI: pointer behind a reference".into());
            }
            ptr = self.cdata_ptr(ptr, pc);
            off = 0;
        }
        if let Some(step) = route.index {
            if step.complex_part {
                return Err(unsupported_c_type(raw_type(cts, id).1).into());
            }
            let Key::Int(idx, _) = key else {
                return Err("NYI: key type".into());
            };
            ptr = self.emit(Ins::ElemAddr {
                base: ptr,
                idx,
                size: step.size,
            });
        }
        let off = i32::try_from(route.offset)
            .ok()
            .and_then(|o| off.checked_add(o))
            .ok_or("NYI: member offset out of range")?;
        Ok((ptr, off))
    }

    /// The address pointer or reference cdata `o` holds, guarded not to be NULL (the
    /// interpreter reports an access through NULL).
    fn cdata_ptr(&mut self, o: Ref, pc: *const u32) -> Ref {
        let p = self.emit(Ins::FLoad {
            obj: o,
            field: Field::CdataPtr,
        });
        let null = self.emit(Ins::KPtr(0));
        self.guard(Cmp::Ne, Ty::Ptr, p, null, pc);
        p
    }

    /// Guards that cdata `o` is of C type `id`.
    fn guard_ctype(&mut self, o: Ref, id: CTypeId, pc: *const u32) {
        let have = self.emit(Ins::FLoad {
            obj: o,
            field: Field::CdataCtype,
        });
        let want = self.emit(Ins::KInt(i32::from(id.0)));
        self.guard(Cmp::Eq, Ty::Int, have, want, pc);
    }

    // ---- 64-bit integer cdata ---------------------------------------------------------

    /// The operands of arithmetic instruction `op` (operands `b`, `c`), left and right.
    fn arith_sources(&self, op: Op, b: u32, c: u32) -> (Src, Src) {
        use Op::*;
        match op {
            ADDVN | SUBVN | MULVN | DIVVN | MODVN => (Src::Slot(b), Src::Num(kn(self.cur_pt(), c))),
            ADDNV | SUBNV | MULNV | DIVNV | MODNV => (Src::Num(kn(self.cur_pt(), c)), Src::Slot(b)),
            _ => (Src::Slot(b), Src::Slot(c)),
        }
    }

    fn src_value(&self, s: Src) -> TValue {
        match s {
            Src::Slot(slot) => self.value(slot),
            Src::Num(x) => TValue::from_f64(x),
        }
    }

    /// The type of a 64-bit integer operation on `x` and `y`, as the interpreter's FFI
    /// arithmetic decides it (`uint64_t` if either operand is one): `None` unless one is
    /// an `int64_t`/`uint64_t` cdata and the other one too or a number. (Other cdata
    /// arithmetic is not recorded.)
    fn int64_pair(&self, x: Src, y: Src) -> Option<Ty> {
        let (xv, yv) = (self.src_value(x), self.src_value(y));
        let (tx, ty) = (int64_ty(xv), int64_ty(yv));
        if (tx.is_none() && !xv.is_number()) || (ty.is_none() && !yv.is_number()) {
            return None;
        }
        match (tx, ty) {
            (None, None) => None,
            (Some(Ty::U64), _) | (_, Some(Ty::U64)) => Some(Ty::U64),
            _ => Some(Ty::I64),
        }
    }

    /// Operand `s` as a 64-bit integer of type `ty` (I64 or U64): an `int64_t` /
    /// `uint64_t` cdata unboxed (its type guarded) or kept unboxed already, a number
    /// converted as the interpreter converts it.
    fn int64_operand(&mut self, s: Src, ty: Ty, pc: *const u32) -> Result<Ref, Abort> {
        let r = match s {
            Src::Num(x) => self.knum(x),
            Src::Slot(slot) => self.read(slot, pc)?,
        };
        let r = match self.ty(r) {
            Ty::Cdata => {
                let Src::Slot(slot) = s else {
                    return Err("NYI: cdata operand".into());
                };
                let have = int64_ty(self.value(slot)).ok_or("NYI: arithmetic on cdata")?;
                let (id, field) = if have == Ty::U64 {
                    (CTypeId::UINT64, Field::CdataU64)
                } else {
                    (CTypeId::INT64, Field::CdataI64)
                };
                self.guard_ctype(r, id, pc);
                self.emit(Ins::FLoad { obj: r, field })
            }
            Ty::Num | Ty::Int | Ty::I64 | Ty::U64 => r,
            _ => return Err("NYI: arithmetic on cdata".into()),
        };
        Ok(if self.ty(r) == ty {
            r
        } else {
            self.emit(Ins::To64 { a: r, ty })
        })
    }

    /// 64-bit integer cdata arithmetic `x op y` (`y` ignored for `Neg`), unboxed.
    fn arith64(&mut self, op: Op64, x: Src, y: Src, pc: *const u32) -> Result<Ref, Abort> {
        let ty = self.int64_pair(x, y).ok_or("NYI: arithmetic on cdata")?;
        let a = self.int64_operand(x, ty, pc)?;
        let b = if op == Op64::Neg {
            a
        } else {
            self.int64_operand(y, ty, pc)?
        };
        Ok(self.emit(Ins::Arith64 { op, a, b, ty }))
    }

    /// A comparison of `x` and `y`, one a cdata: 64-bit integers (and numbers) by value,
    /// pointers by address (an equality test of any two, an ordering of two to
    /// compatible types, as the interpreter allows); anything else aborts.
    fn compare_cdata(
        &mut self,
        x: Src,
        y: Src,
        pc: *const u32,
        cts: &CTypeTable,
        decide: impl Fn(i128, i128) -> (bool, Cmp, Cmp),
    ) -> Result<(), Abort> {
        if self.int64_pair(x, y).is_some() {
            return self.compare64(x, y, pc, decide);
        }
        let (Src::Slot(xs), Src::Slot(ys)) = (x, y) else {
            return Err("NYI: comparison of cdata".into());
        };
        let (xa, xt, xbits) = self.pointer_operand(xs, pc, cts)?;
        let (ya, yt, ybits) = self.pointer_operand(ys, pc, cts)?;
        let (holds, if_true, if_false) = decide(i128::from(xbits), i128::from(ybits));
        let ordered = !matches!(if_true, Cmp::Eq | Cmp::Ne);
        if ordered && !conv::compatible_targets(cts, xt, yt, conv::Quals::Ignore, true) {
            return Err("NYI: comparison of cdata".into());
        }
        let cmp = if holds { if_true } else { if_false };
        self.guard(cmp, Ty::Ptr, xa, ya, pc);
        Ok(())
    }

    /// The pointer cdata in `slot` (a C pointer of 8 bytes, not a reference): the
    /// address it holds (its type guarded), the type it points to, and its runtime
    /// address.
    fn pointer_operand(
        &mut self,
        slot: u32,
        pc: *const u32,
        cts: &CTypeTable,
    ) -> Result<(Ref, CTypeId, u64), Abort> {
        let v = self.value(slot);
        let ct = match v.is_cdata() {
            true => raw_type(cts, cdata_type(v)).1,
            false => return Err("NYI: arithmetic on cdata".into()),
        };
        if ct.kind != Kind::Ptr || ct.is_ref() || ct.size != 8 {
            return Err("NYI: arithmetic on cdata".into());
        }
        let r = self.read(slot, pc)?;
        if self.ty(r) != Ty::Cdata {
            return Err("NYI: arithmetic on cdata".into());
        }
        self.guard_ctype(r, cdata_type(v), pc);
        let addr = self.emit(Ins::FLoad {
            obj: r,
            field: Field::CdataPtr,
        });
        // SAFETY: a live pointer cdata's 8-byte payload holds its address.
        let bits = unsafe { moonjet_runtime::ffi::cdata_payload(v).cast::<u64>().read() };
        Ok((addr, ct.child, bits))
    }

    /// Pointer arithmetic `p + n`, `n + p` or `p - n` (`n` a number or 64-bit integer):
    /// a pointer of `p`'s type moved by `n` elements, wrapping, kept sunk (made only
    /// where the trace leaves).
    fn pointer_arith(
        &mut self,
        op: Op64,
        l: Src,
        r: Src,
        pc: *const u32,
        cts: &CTypeTable,
    ) -> Result<Ref, Abort> {
        let (p, n) = match (op, l, r) {
            (Op64::Add | Op64::Sub, Src::Slot(p), n) if self.value(p).is_cdata() => (p, n),
            (Op64::Add, n, Src::Slot(p)) if self.value(p).is_cdata() => (p, n),
            _ => return Err("NYI: arithmetic on cdata".into()),
        };
        let nv = self.src_value(n);
        if !nv.is_number() && int64_ty(nv).is_none() {
            return Err("NYI: pointer difference".into());
        }
        let (addr, _, _) = self.pointer_operand(p, pc, cts)?;
        let ptr_ty = cdata_type(self.value(p));
        let (raw, ct) = raw_type(cts, ptr_ty);
        let size = cts
            .sizeof(ct.child)
            .filter(|&s| s > 0)
            .ok_or("NYI: arithmetic on a pointer to an incomplete type")?;
        let count = self.int64_operand(n, Ty::I64, pc)?;
        let size = self.emit(Ins::K64 {
            bits: u64::from(size),
            ty: Ty::I64,
        });
        let mut delta = self.emit(Ins::Arith64 {
            op: Op64::Mul,
            a: count,
            b: size,
            ty: Ty::I64,
        });
        if op == Op64::Sub {
            delta = self.emit(Ins::Arith64 {
                op: Op64::Neg,
                a: delta,
                b: delta,
                ty: Ty::I64,
            });
        }
        let moved = self.emit(Ins::PtrAdd { ptr: addr, delta });
        Ok(self.emit(Ins::PtrCdata {
            ctype: raw.0,
            addr: moved,
        }))
    }

    /// A comparison of `x` and `y` with a 64-bit integer cdata: `decide` gives, for the
    /// runtime operands' values (as i128, exact for both signednesses), whether the
    /// comparison holds and the guard for each outcome.
    fn compare64(
        &mut self,
        x: Src,
        y: Src,
        pc: *const u32,
        decide: impl Fn(i128, i128) -> (bool, Cmp, Cmp),
    ) -> Result<(), Abort> {
        let ty = self.int64_pair(x, y).ok_or("NYI: comparison of cdata")?;
        let wide = |v: TValue| -> Option<i128> {
            let bits = int64_bits(v, ty)?;
            Some(if ty == Ty::U64 {
                i128::from(bits)
            } else {
                i128::from(bits as i64)
            })
        };
        let (xv, yv) = (self.src_value(x), self.src_value(y));
        let (Some(xw), Some(yw)) = (wide(xv), wide(yv)) else {
            return Err("NYI: comparison of cdata".into());
        };
        let (holds, if_true, if_false) = decide(xw, yw);
        let a = self.int64_operand(x, ty, pc)?;
        let b = self.int64_operand(y, ty, pc)?;
        let cmp = if holds { if_true } else { if_false };
        self.guard(cmp, ty, a, b, pc);
        Ok(())
    }

    /// Whether slot `slot` of the current frame is dead after the instruction at `pc`:
    /// on every path from the next instruction it is written before it is read (or the
    /// frame is left). Anything the scan does not follow counts as a read.
    fn dead_after(&self, pc: *const u32, slot: u32) -> bool {
        let pt = self.cur_pt();
        // SAFETY: the running prototype is live; `pc` points into its bytecode.
        let (code, len, at) = unsafe {
            let code = (*pt).bc as *const u32;
            (code, (*pt).sizebc as usize, pc.offset_from(code) as usize)
        };
        if may_be_captured(pt, at, slot) {
            return false;
        }
        let from = at + 1;
        // The loop being recorded (its loop instruction may be patched already).
        let own_loop = (pt == self.pt && self.frames.is_empty()).then(|| {
            // SAFETY: the loop's body and exit are instructions of the prototype.
            unsafe {
                (
                    self.body.offset_from(code) as usize,
                    self.start.offset_from(code),
                )
            }
        });
        let mut todo = vec![from];
        let mut seen = HashSet::new();
        while let Some(i) = todo.pop() {
            if i >= len || seen.len() >= MAX_LIVENESS_SCAN {
                return false;
            }
            if !seen.insert(i) {
                continue;
            }
            // SAFETY: `i` is inside the bytecode.
            let ins = unsafe { *code.add(i) };
            let Some(op) = Op::from_u8(bc::op(ins)) else {
                return false;
            };
            if op == Op::FNEW && closure_captures(pt, ins, slot) {
                return false;
            }
            match slot_use(op, ins, slot) {
                SlotUse::Read => return false,
                SlotUse::Written | SlotUse::FrameLeft => continue,
                SlotUse::Untouched => {}
            }
            let next = i + 1;
            let target = || (next as isize + bc::d(ins) as isize - bc::JUMP_BIAS as isize) as usize;
            // A `for` loop's visible index is written on the way into the body.
            let for_index = slot == bc::a(ins) + 3;
            use Op::*;
            match op {
                JMP | UCLO | ISNEXT => todo.push(target()),
                FORI | JFORI if for_index => todo.push(target()),
                FORL | IFORL if for_index => todo.push(next),
                FORI | JFORI | FORL | IFORL | ITERL | IITERL => todo.extend([next, target()]),
                // A compiled loop's operand is its trace: only the recorded loop's body
                // is known.
                JFORL | JITERL => match own_loop {
                    Some((_, start)) if start == i as isize && op == JFORL && for_index => {
                        todo.push(next)
                    }
                    Some((body, start)) if start == i as isize => todo.extend([next, body]),
                    _ => return false,
                },
                // A test and the jump after it.
                ISLT | ISGE | ISLE | ISGT | ISEQV | ISNEV | ISEQS | ISNES | ISEQN | ISNEN
                | ISEQP | ISNEP | IST | ISF | ISTC | ISFC => todo.extend([next, next + 1]),
                _ => todo.push(next),
            }
        }
        true
    }

    // ---- recording ------------------------------------------------------------------

    /// Record the instruction at `pc`, about to run.
    ///
    /// # Safety
    /// `pc` points at an instruction of the recorded prototype, about to run in the
    /// recorded frame.
    ///
    /// `link` is the entry of the trace in service that the instruction enters, if it is
    /// the loop instruction of one (`JFORL`/`JLOOP`), or the `FORI` of one: where a side
    /// trace links to it.
    ///
    /// `ffi` is the state's FFI part (C types, library namespaces).
    pub unsafe fn step(
        &mut self,
        pc: *const u32,
        link: Option<*const u32>,
        ffi: &FfiState,
    ) -> Result<Step, Abort> {
        // SAFETY: forwarded caller promise.
        let step = unsafe { self.record_ins(pc, link, ffi) }?;
        match self.failed.take() {
            Some(why) => Err(why),
            None => Ok(step),
        }
    }

    /// # Safety
    /// As for [`Recorder::step`].
    unsafe fn record_ins(
        &mut self,
        pc: *const u32,
        link: Option<*const u32>,
        ffi: &FfiState,
    ) -> Result<Step, Abort> {
        let cts = &ffi.ctypes;
        self.steps += 1;
        self.inherited = 0;
        if self.steps > MAX_RECORD || self.ins.len() > MAX_IR {
            return Err("trace too long".into());
        }
        if self.awaiting.is_some() {
            // Back in the frame, but not after the call.
            return Err(self.left_frame().into());
        }
        if let Some((slot, call)) = self.bool_result.take() {
            self.c_bool_result(slot, call, pc);
        }
        if let Some((slot, n)) = self.native_results.take() {
            self.native_call_results(slot, n, pc)?;
        }
        if !self.frames.is_empty() {
            // SAFETY: forwarded caller promise.
            if unsafe { self.call_step(pc)? } {
                return Ok(Step::Continue);
            }
        } else if self.side {
            // SAFETY: forwarded caller promise.
            if let Some(step) = unsafe { self.side_step(pc, link)? } {
                return Ok(step);
            }
        } else if pc >= self.exit || (!self.is_loop && pc < self.body) {
            // A `break` (or `goto`) out of the loop on the recorded iteration. (A `while`
            // loop's condition sits before its `LOOP`, so only the exit bounds it.)
            return Err("leaving loop in root trace".into());
        }
        if self.is_loop && pc == self.start && self.frames.is_empty() {
            // Back at the top: one whole iteration recorded.
            return self.finish().map(Step::Done);
        }
        // SAFETY: `pc` is the interpreter's current instruction in this prototype.
        let ins = unsafe { *pc };
        let op = Op::from_u8(bc::op(ins)).ok_or("bad opcode")?;
        let (a, d) = (bc::a(ins), bc::d(ins));
        let (b, c) = (bc::b(ins), bc::c(ins));
        // Good for the next instruction only.
        let multres = self.multres.take();
        use Op::*;
        match op {
            MOV => {
                let v = self.read(d, pc)?;
                self.write(a, v);
            }
            KSHORT => {
                let k = self.knum(d as u16 as i16 as f64);
                self.write(a, k);
            }
            KNUM => {
                let k = self.knum(kn(self.cur_pt(), d));
                self.write(a, k);
            }
            KSTR => {
                let k = self.kgc(kgc(self.cur_pt(), d), Ty::Str);
                self.write(a, k);
            }
            KPRI => {
                let k = self.emit(Ins::KPri(pri_ty(d)));
                self.write(a, k);
            }
            KNIL => {
                let k = self.emit(Ins::KPri(Ty::Nil));
                for s in a..=d {
                    self.write(s, k);
                }
            }
            ADDVV | SUBVV | MULVV | DIVVV | MODVV | ADDVN | SUBVN | MULVN | DIVVN | MODVN
            | ADDNV | SUBNV | MULNV | DIVNV | MODNV | POW
                if self.value(b).is_cdata()
                    || (op.modes().2 == Mode::Var && self.value(c).is_cdata()) =>
            {
                let (l, r) = self.arith_sources(op, b, c);
                let op64 = match op {
                    ADDVV | ADDVN | ADDNV => Op64::Add,
                    SUBVV | SUBVN | SUBNV => Op64::Sub,
                    MULVV | MULVN | MULNV => Op64::Mul,
                    DIVVV | DIVVN | DIVNV => Op64::Div,
                    MODVV | MODVN | MODNV => Op64::Mod,
                    _ => Op64::Pow,
                };
                let v = if self.int64_pair(l, r).is_some() {
                    self.arith64(op64, l, r, pc)?
                } else {
                    self.pointer_arith(op64, l, r, pc, cts)?
                };
                self.write(a, v);
            }
            UNM if self.value(d).is_cdata() => {
                let v = self.arith64(Op64::Neg, Src::Slot(d), Src::Slot(d), pc)?;
                self.write(a, v);
            }
            KCDATA => {
                let v = kgc(self.cur_pt(), d);
                let ty = int64_ty(v).ok_or("NYI: cdata constant")?;
                let bits = int64_bits(v, ty).ok_or("NYI: cdata constant")?;
                let k = self.emit(Ins::K64 { bits, ty });
                self.write(a, k);
            }
            ISLT | ISGE | ISLE | ISGT if self.value(a).is_cdata() || self.value(d).is_cdata() => {
                let holds =
                    self.compare_cdata(Src::Slot(a), Src::Slot(d), pc, cts, |x, y| match op {
                        ISLT | ISGE => (x < y, Cmp::Lt, Cmp::Ge),
                        _ => (x <= y, Cmp::Le, Cmp::Gt),
                    });
                holds?;
            }
            ISEQV | ISNEV | ISEQN | ISNEN
                if self.value(a).is_cdata()
                    && (op == ISEQN
                        || op == ISNEN
                        || self.value(d).is_number()
                        || self.value(d).is_cdata()) =>
            {
                let y = match op {
                    ISEQV | ISNEV => Src::Slot(d),
                    _ => Src::Num(kn(self.cur_pt(), d)),
                };
                let eq = |x, y| (x == y, Cmp::Eq, Cmp::Ne);
                self.compare_cdata(Src::Slot(a), y, pc, cts, eq)?;
            }
            ISEQP | ISNEP if self.value(a).is_cdata() && pri_ty(d) == Ty::Nil => {
                // `p == nil`: whether a pointer is NULL.
                let (addr, _, bits) = self.pointer_operand(a, pc, cts)?;
                let null = self.emit(Ins::KPtr(0));
                let cmp = if bits == 0 { Cmp::Eq } else { Cmp::Ne };
                self.guard(cmp, Ty::Ptr, addr, null, pc);
            }
            ISEQV | ISNEV if self.value(d).is_cdata() && self.value(a).is_number() => {
                self.compare64(Src::Slot(a), Src::Slot(d), pc, |x, y| {
                    (x == y, Cmp::Eq, Cmp::Ne)
                })?;
            }
            ADDVV | SUBVV | MULVV | DIVVV | MODVV | ADDVN | SUBVN | MULVN | DIVVN | MODVN
            | ADDNV | SUBNV | MULNV | DIVNV | MODNV | POW => {
                let x = self.read_num(b, pc)?;
                let (l, r) = match op {
                    ADDVN | SUBVN | MULVN | DIVVN | MODVN => (x, self.knum(kn(self.cur_pt(), c))),
                    ADDNV | SUBNV | MULNV | DIVNV | MODNV => (self.knum(kn(self.cur_pt(), c)), x),
                    _ => (x, self.read_num(c, pc)?),
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
                let x = self.read_num(d, pc)?;
                let v = self.emit(Ins::NegN(x));
                self.write(a, v);
            }
            LEN => {
                let v = self.value(d);
                let x = self.read(d, pc)?;
                let n = if v.is_tab() {
                    self.emit(Ins::TabLen { tab: x })
                } else if v.is_str() {
                    self.emit(Ins::FLoad {
                        obj: x,
                        field: Field::StrLen,
                    })
                } else {
                    return Err("NYI: length of a non-table".into());
                };
                self.write(a, n);
            }
            ISLT | ISGE | ISLE | ISGT => {
                let (xv, yv) = (self.value(a), self.value(d));
                if !xv.is_number() || !yv.is_number() {
                    return Err("NYI: comparison of non-numbers".into());
                }
                let x = self.read_num(a, pc)?;
                let y = self.read_num(d, pc)?;
                let (xv, yv) = (xv.num(), yv.num());
                // The guard that holds exactly when the interpreter goes the way it is
                // about to go (NaN fails it, and the interpreter decides afresh).
                let cmp = match op {
                    ISLT | ISGE if xv < yv => Cmp::Lt,
                    ISLT | ISGE if xv >= yv => Cmp::Ge,
                    ISLE | ISGT if xv <= yv => Cmp::Le,
                    ISLE | ISGT if xv > yv => Cmp::Gt,
                    _ => return Err("NYI: NaN in comparison".into()),
                };
                self.guard(cmp, Ty::Num, x, y, pc);
            }
            ISEQV | ISNEV | ISEQS | ISNES | ISEQN | ISNEN | ISEQP | ISNEP => {
                let xv = self.value(a);
                let x = self.read(a, pc)?;
                let (y, yv) = match op {
                    ISEQV | ISNEV => (self.read(d, pc)?, self.value(d)),
                    _ => self.const_operand(op, d),
                };
                self.record_equality(x, xv, y, yv, pc)?;
            }
            IST | ISF | ISTC | ISFC => {
                // The operand's type is guarded, so its truth is known.
                let v = self.read(d, pc)?;
                if matches!(op, ISTC | ISFC) && (self.value(d).is_truthy() == (op == ISTC)) {
                    self.write(a, v);
                }
            }
            ISTYPE | ISNUM => {
                // A type check the recorded types already decide.
                self.read(a, pc)?;
            }
            NOT => {
                let truthy = self.value(d).is_truthy();
                self.read(d, pc)?;
                let k = self.emit(Ins::KPri(if truthy { Ty::False } else { Ty::True }));
                self.write(a, k);
            }
            JMP => {
                // Forward jumps inside the body need nothing: the trace follows the path
                // taken. A backward one is an inner loop, unless it closes this `while` or
                // `repeat` loop (it leads back to the `LOOP`, through the condition).
                if d < bc::JUMP_BIAS && !self.is_loop {
                    return Err("inner loop in root trace".into());
                }
            }
            UGET => {
                let (ptr, v) = match self.upvalue(d, pc)? {
                    UpvalAt::Mem { ptr, value, .. } => (ptr, value),
                    UpvalAt::Slot(s) => {
                        let r = self.frame_slot(s, pc)?;
                        self.write(a, r);
                        return Ok(Step::Continue);
                    }
                };
                let ty = Ty::of(v).ok_or("NYI: upvalue type")?;
                let snap = self.snap(pc);
                let r = self.emit(Ins::Load {
                    ptr,
                    idx: None,
                    off: 0,
                    ty,
                    snap,
                });
                self.write(a, r);
            }
            USETV | USETS | USETN | USETP => {
                let val = if op == USETV {
                    self.read(d, pc)?
                } else {
                    self.const_operand(op, d).0
                };
                let (ptr, uv) = match self.upvalue(a, pc)? {
                    UpvalAt::Mem { ptr, uv, .. } => (ptr, uv),
                    UpvalAt::Slot(s) => {
                        self.write_frame_slot(s, val);
                        return Ok(Step::Continue);
                    }
                };
                self.boxed_only_at_exits(val)?;
                self.emit(Ins::Store {
                    ptr,
                    idx: None,
                    off: 0,
                    val,
                });
                if self.ty(val).is_gc() {
                    self.emit(Ins::UvBarrier { uv, val });
                }
            }
            GGET | GSET => {
                let (e, env) = self.env();
                let key = Key::Str(kgc(self.cur_pt(), d).gc_ptr().cast());
                if op == GGET {
                    self.table_get(e, env, key, a, pc)?;
                } else {
                    let v = self.read(a, pc)?;
                    self.table_set(e, env, key, v, pc)?;
                }
            }
            TGETV | TGETS | TGETB if self.value(b).is_cdata() => {
                self.cdata_access(op, (b, c), CAccess::Get { dst: a }, pc, cts)?;
            }
            TSETV | TSETS | TSETB if self.value(b).is_cdata() => {
                self.cdata_access(op, (b, c), CAccess::Set { val: a }, pc, cts)?;
            }
            TGETS if self.value(b).is_udata() && ffi.clib_cache(self.value(b)).is_none() => {
                self.udata_get(a, b, c, pc)?;
            }
            TGETV | TGETS if ffi.clib_cache(self.value(b)).is_some() => {
                let cache = ffi.clib_cache(self.value(b)).ok_or("NYI: namespace")?;
                self.clib_get(op, (a, b, c), cache, pc, cts)?;
            }
            TGETV | TGETS | TGETB | TGETR => {
                let (t, tv) = self.table_in(b, pc)?;
                let key = self.key_of(op, c, pc)?;
                self.table_get(t, tv, key, a, pc)?;
            }
            TSETV | TSETS | TSETB | TSETR => {
                let (t, tv) = self.table_in(b, pc)?;
                let key = self.key_of(op, c, pc)?;
                let v = self.read(a, pc)?;
                self.table_set(t, tv, key, v, pc)?;
            }
            CALL if self.value(a).is_cdata() => {
                let nargs = c.checked_sub(1).ok_or("bad CALL")?;
                self.record_c_call(a, b, nargs, pc, cts)?;
            }
            CALL => {
                let nargs = c.checked_sub(1).ok_or("bad CALL")?;
                self.record_call(a, b, nargs, pc)?;
            }
            CALLT if self.frames.len() == 1 && self.value(a).is_cdata() => {
                let nargs = d.checked_sub(1).ok_or("bad CALLT")?;
                self.record_c_tail_call(a, nargs, pc, cts)?;
            }
            CALLT if self.frames.len() == 1 && is_native_other_than_builtins(self.value(a)) => {
                let nargs = d.checked_sub(1).ok_or("bad CALLT")?;
                self.record_native_tail_call(a, nargs, pc)?;
            }
            CALLT if !self.frames.is_empty() => {
                let nargs = d.checked_sub(1).ok_or("bad CALLT")?;
                self.inline_tail_call(a, nargs, pc)?;
            }
            CALLM => {
                // `f(x, g(y))`: the varargs are exactly the one result of the builtin call
                // recorded just before, if it left it right after the fixed arguments.
                let Some((_, before)) = multres.filter(|&(top, _)| top == a + 2 + c + 1) else {
                    return Err("NYI: call with varargs".into());
                };
                self.pinned_snap = Some(before);
                let recorded = self.record_call(a, b, c + 1, pc);
                self.pinned_snap = None;
                recorded?;
            }
            TNEW | TDUP => {
                // A new table each time (never shared by CSE); accesses to it later in
                // the iteration guard its layout as for any table, read from the table
                // the interpreter made. If it cannot be allocated, the trace leaves before
                // the instruction and the interpreter runs it (collecting first, and
                // raising "not enough memory" if that does not help).
                let snap = self.snap(pc);
                let t = if op == TNEW {
                    self.emit(Ins::TNew {
                        asize: d & 0x7ff,
                        hbits: d >> 11,
                        snap,
                    })
                } else {
                    let tpl = self.kgc(kgc(self.cur_pt(), d), Ty::Tab);
                    self.emit(Ins::TDup { tpl, snap })
                };
                self.write(a, t);
            }
            FORL | JFORL if pc == self.start => return self.close(pc, a),
            _ if is_loop_op(op) && !self.side => {
                return Err("inner loop in root trace".into());
            }
            _ => return Err(format!("NYI: bytecode {}", op as u8)),
        }
        Ok(Step::Continue)
    }

    /// An equality test between `x` and `y` (runtime values `xv`, `yv`): a guard that
    /// the interpreter's outcome holds, or nothing when the types decide it.
    fn record_equality(
        &mut self,
        x: Ref,
        xv: TValue,
        y: Ref,
        yv: TValue,
        pc: *const u32,
    ) -> Result<(), Abort> {
        let (tx, ty) = (self.ty(x), self.ty(y));
        if tx == Ty::Udata || ty == Ty::Udata {
            // Userdata may have `__eq`.
            return Err("NYI: comparison of userdata".into());
        }
        if tx == Ty::Cdata || ty == Ty::Cdata || tx.is_int64() || ty.is_int64() {
            // Equal by value (numbers, pointers), or by `__eq`.
            return Err("NYI: comparison of cdata".into());
        }
        let numeric = |t: Ty| matches!(t, Ty::Num | Ty::Int);
        if numeric(tx) && numeric(ty) {
            let (xn, yn) = (self.as_num(x)?, self.as_num(y)?);
            let (a, b) = (xv.num(), yv.num());
            if a.is_nan() || b.is_nan() {
                return Err("NYI: NaN in comparison".into());
            }
            let cmp = if a == b { Cmp::Eq } else { Cmp::Ne };
            self.guard(cmp, Ty::Num, xn, yn, pc);
            return Ok(());
        }
        if tx != ty || tx.is_pri() {
            // Different types are never equal; nil/false/true equal their own type.
            return Ok(());
        }
        if tx == Ty::Tab && xv != yv {
            // Two different tables are unequal unless they have __eq: guard that neither
            // has a metatable (a new table, say), else leave it to the interpreter.
            let (Some(xt), Some(yt)) = (xv.as_tab(), yv.as_tab()) else {
                return Err("NYI: comparison of tables".into());
            };
            // SAFETY: live tables in the frame's slots.
            if unsafe { !(*xt).metatable.is_null() || !(*yt).metatable.is_null() } {
                return Err("NYI: comparison of tables".into());
            }
            self.guard_no_meta(x, xt, pc)?;
            self.guard_no_meta(y, yt, pc)?;
        }
        // Strings are interned, functions and tables compare by identity.
        let cmp = if xv == yv { Cmp::Eq } else { Cmp::Ne };
        self.guard(cmp, Ty::Ptr, x, y, pc);
        Ok(())
    }

    /// `C.name` (`TGETS`/`TGETV` in slot `a` from namespace slot `b`, key operand `c`)
    /// on the C library namespace whose symbol cache is `cache`: the namespace is guarded
    /// by identity and the symbol its cache holds (a function cdata or a constant) becomes
    /// a constant. A symbol not resolved yet (or a variable, read anew each time) aborts;
    /// the interpreter resolves and caches it.
    fn clib_get(
        &mut self,
        op: Op,
        (a, b, c): (u32, u32, u32),
        cache: *mut GcTab,
        pc: *const u32,
        cts: &CTypeTable,
    ) -> Result<(), Abort> {
        let nv = self.value(b);
        let ns = self.read(b, pc)?;
        let kns = self.kgc(nv, Ty::Udata);
        self.guard(Cmp::Eq, Ty::Ptr, ns, kns, pc);
        let Key::Str(name) = self.key_of(op, c, pc)? else {
            return Err("NYI: key type".into());
        };
        // SAFETY: the namespace's live cache table; a live string key.
        let sym = unsafe { moonjet_gc::table::get(cache, TValue::from_gcstr(name)) };
        let k = if let Some(x) = sym.as_number() {
            self.knum(x)
        } else if sym.is_cdata() && cts.get(cts.raw(cdata_type(sym))).is_func() {
            // The cache keeps the function cdata, and the trace holds it too.
            self.kgc(sym, Ty::Cdata)
        } else {
            return Err("NYI: C library symbol not resolved yet".into());
        };
        self.write(a, k);
        Ok(())
    }

    /// A call of the C function in slot `a` with `nargs` arguments, keeping `b - 1`
    /// results (0 or 1), from the trace's own frame: a direct machine call
    /// ([`Ins::CCall`]) for signatures of scalars: integers, enums, `bool`, floats,
    /// doubles, and pointers as arguments.
    fn record_c_call(
        &mut self,
        a: u32,
        b: u32,
        nargs: u32,
        pc: *const u32,
        cts: &CTypeTable,
    ) -> Result<(), Abort> {
        if !self.frames.is_empty() {
            // Leaving after the call would resume inside a frame only the trace has.
            return Err("NYI: C call in an inlined call".into());
        }
        if !matches!(b, 1 | 2) {
            return Err("NYI: C call in this form".into());
        }
        let (call, ret) = self.c_call(a, nargs, pc, cts)?;
        if b == 2 {
            self.c_result(a, call, ret);
        }
        // SAFETY: the instruction after the CALL, in the same bytecode.
        self.c_call_done(call, unsafe { pc.add(1) });
        Ok(())
    }

    /// `return C.f(...)` (`CALLT` of a C function) in a Lua function inlined into the
    /// trace's own frame: the call, then the inlined function's return with its result,
    /// so that the state after the call (where a callback makes the trace leave) is one
    /// of the trace's own frame, the caller's, with the result in place.
    fn record_c_tail_call(
        &mut self,
        a: u32,
        nargs: u32,
        pc: *const u32,
        cts: &CTypeTable,
    ) -> Result<(), Abort> {
        let (results, ret_pc) = match self.frames.last() {
            Some(f) if f.results <= 1 => (f.results, f.ret_pc),
            _ => return Err("NYI: C call in an inlined call".into()),
        };
        // (Guards before the call leave before the inlined call: the interpreter makes it
        // again, nothing having happened yet.)
        let (call, ret) = self.c_call(a, nargs, pc, cts)?;
        let Some(frame) = self.frames.pop() else {
            return Err("NYI: C call in an inlined call".into());
        };
        self.call_snap = None;
        self.forget_slots_from(self.frame_off() + frame.call_a);
        if results == 1 {
            self.c_result(frame.call_a, call, ret);
        }
        self.c_call_done(call, ret_pc);
        Ok(())
    }

    /// The checks and the [`Ins::CCall`] of the C function in slot `a` (arguments from
    /// `a + 2`), guards leaving through the state before `pc`: the call and its result
    /// type. Its exit after a callback is set by [`Self::c_call_done`].
    fn c_call(
        &mut self,
        a: u32,
        nargs: u32,
        pc: *const u32,
        cts: &CTypeTable,
    ) -> Result<(Ref, Option<CNum>), Abort> {
        if self.recursive {
            // Its trace may run inside native recursive calls (`Ins::CallSelf`), whose
            // callers would not see the stack move if a callback moved it.
            return Err("NYI: C call in a recursive function's trace".into());
        }
        if self.pinned_snap.is_some() || self.pending_pin.is_some() {
            return Err("NYI: C call in this form".into());
        }
        let fv = self.value(a);
        let (raw, ct) = raw_type(cts, cdata_type(fv));
        if !ct.is_func() {
            return Err("NYI: call of a cdata other than a C function".into());
        }
        let Some((_, addr)) = moonjet_runtime::ffi::call::callee(cts, fv) else {
            return Err("NYI: call of a cdata other than a C function".into());
        };
        if addr == 0 || ct.flags.contains(Flags::VARARG) {
            return Err("NYI: vararg C function".into());
        }
        let Some((_, ret_ty, params)) = cts.func_info(raw) else {
            return Err("NYI: C function type".into());
        };
        if params.len() != nargs as usize {
            // The interpreter raises the error.
            return Err("NYI: wrong number of C arguments".into());
        }
        if params.len() > MAX_C_ARGS {
            return Err("NYI: too many C arguments".into());
        }
        let ret = match raw_type(cts, ret_ty).1 {
            r if r.kind == Kind::Void => None,
            r => Some(c_scalar(cts, r).ok_or_else(|| c_call_nyi("result", r))?),
        };
        let f = self.read(a, pc)?;
        let kf = self.kgc(fv, Ty::Cdata);
        if f != kf {
            self.guard(Cmp::Eq, Ty::Ptr, f, kf, pc);
        }
        let mut args = [0; MAX_C_ARGS];
        let mut kinds = [CArg::Ptr; MAX_C_ARGS];
        for (i, &param) in params.iter().enumerate() {
            let pty = cts.get(param).child;
            let slot = a + 2 + i as u32;
            let (arg, kind) = self.c_argument(pty, slot, pc, cts)?;
            args[i] = arg;
            kinds[i] = kind;
        }
        let func = self.emit(Ins::KPtr(addr as u64));
        let call = self.emit(Ins::CCall {
            func,
            args,
            kinds,
            nargs: nargs as u8,
            ret,
            captured: 0,
            after: 0,
        });
        Ok((call, ret))
    }

    /// C call `call` (returning `ret`) gives its result to `slot`.
    fn c_result(&mut self, slot: u32, call: Ref, ret: Option<CNum>) {
        let v = match ret {
            Some(_) => call,
            None => self.emit(Ins::KPri(Ty::Nil)),
        };
        self.write(slot, v);
        if ret == Some(CNum::Bool) {
            // The slot holds the byte until the next instruction shows which boolean it
            // is (the exit after a callback boxes the byte itself).
            self.bool_result = Some((slot, call));
        }
    }

    /// C call `call` is recorded, and the trace's own frame goes on at `next`: its
    /// state there (with the call's result) is where the trace leaves if a callback ran,
    /// and the recording goes on there (callbacks run interpreted meanwhile).
    fn c_call_done(&mut self, call: Ref, next: *const u32) {
        // The frame's variables a callback may reach, through upvalues (all of them: in
        // the loop body, the snapshot after the call names every slot the iteration
        // changes, also those changed later in it).
        let (pt, at) = (self.cur_pt(), self.pc_index(next) as usize);
        // SAFETY: the running prototype is live.
        let framesize = u32::from(unsafe { (*pt).framesize }).min(64);
        let captured = (0..framesize)
            .filter(|&s| may_be_captured(pt, at, s))
            .fold(0u64, |m, s| m | 1 << s);
        let after = self.snap(next);
        self.call_exits.push(after);
        if let Some(Ins::CCall {
            after: s,
            captured: c,
            ..
        }) = self.ins.get_mut(call as usize)
        {
            (*s, *c) = (after, captured);
        }
        self.awaiting = Some(next);
    }

    /// The `bool` a C call (`call`, its byte) returned to `slot`, now that the
    /// instruction at `pc`, right after the call, shows which boolean it is: guarded, and
    /// that boolean from here on. The guard leaves with the other one in the slot.
    fn c_bool_result(&mut self, slot: u32, call: Ref, pc: *const u32) {
        let truth = self.value(slot).is_truthy();
        let (this, other) = if truth {
            (Ty::True, Ty::False)
        } else {
            (Ty::False, Ty::True)
        };
        let other = self.emit(Ins::KPri(other));
        let s = (self.frame_off() + slot) as u16;
        let mut slots = self.written.clone();
        slots.insert(s, other);
        let snap = self.push_snap(self.pc_index(pc), slot_list(&slots));
        let zero = self.emit(Ins::KInt(0));
        let cmp = if truth { Cmp::Ne } else { Cmp::Eq };
        self.emit(Ins::Guard {
            cmp,
            ty: Ty::Int,
            a: call,
            b: zero,
            snap,
        });
        let k = self.emit(Ins::KPri(this));
        self.write(slot, k);
    }

    /// Slot `slot` as the value of a C number (a store or a C argument): a number or a
    /// 64-bit integer cdata's value as it is, a boolean as 1 or 0 (as the interpreter
    /// converts them); else abort with `nyi`.
    fn c_number_operand(&mut self, slot: u32, pc: *const u32, nyi: &str) -> Result<Ref, Abort> {
        let r = self.read(slot, pc)?;
        Ok(match self.ty(r) {
            Ty::Num | Ty::Int | Ty::I64 | Ty::U64 => r,
            Ty::Cdata => match int64_ty(self.value(slot)) {
                Some(ty) => self.int64_operand(Src::Slot(slot), ty, pc)?,
                None => return Err(nyi.into()),
            },
            Ty::True => self.emit(Ins::KInt(1)),
            Ty::False => self.emit(Ins::KInt(0)),
            _ => return Err(nyi.into()),
        })
    }

    /// The value in `slot` as a C argument of type `pty`, with how it is passed; any
    /// conversion the recorded value does not make as the interpreter would aborts.
    fn c_argument(
        &mut self,
        pty: CTypeId,
        slot: u32,
        pc: *const u32,
        cts: &CTypeTable,
    ) -> Result<(Ref, CArg), Abort> {
        let v = self.value(slot);
        let (_, p) = raw_type(cts, pty);
        if let Some(cn) = c_scalar(cts, p) {
            let x = self.c_number_operand(slot, pc, "NYI: C argument conversion")?;
            return Ok((x, CArg::Num(cn)));
        }
        if p.kind != Kind::Ptr || p.is_ref() {
            return Err(c_call_nyi("argument", p));
        }
        // Whether the interpreter converts this value (its type decides, which the trace
        // guards): try it on scratch memory.
        let mut scratch = [0u64; 2];
        // SAFETY: a pointer type is at most 8 bytes; `v` is a live value of the frame.
        let ok = unsafe {
            moonjet_runtime::ffi::conv::lua_to_c(cts, pty, scratch.as_mut_ptr().cast(), v, false)
        };
        if ok.is_err() {
            return Err("NYI: C argument conversion".into());
        }
        let r = self.read(slot, pc)?;
        let addr = match self.ty(r) {
            Ty::Nil => self.emit(Ins::KPtr(0)),
            Ty::Str => {
                let off = self.emit(Ins::KInt(offsets::STR_DATA as i32));
                self.emit(Ins::ElemAddr {
                    base: r,
                    idx: off,
                    size: 1,
                })
            }
            Ty::Cdata => {
                let id = cdata_type(v);
                let (_, ct) = raw_type(cts, id);
                self.guard_ctype(r, id, pc);
                if ct.kind == Kind::Ptr && !ct.is_ref() && ct.size == 8 {
                    self.emit(Ins::FLoad {
                        obj: r,
                        field: Field::CdataPtr,
                    })
                } else if ct.is_array() && !ct.is_complex() && !ct.is_vector() {
                    // The elements are the cdata's payload.
                    let off = self.emit(Ins::KInt(offsets::CDATA_PAYLOAD as i32));
                    self.emit(Ins::ElemAddr {
                        base: r,
                        idx: off,
                        size: 1,
                    })
                } else {
                    return Err("NYI: C argument conversion".into());
                }
            }
            _ => return Err("NYI: C argument conversion".into()),
        };
        Ok((addr, CArg::Ptr))
    }

    /// A call of the function in slot `a` with `nargs` arguments, keeping `b - 1` results
    /// (b = 0: all): a math or bit builtin becomes IR operations; anything else aborts.
    fn record_call(&mut self, a: u32, b: u32, nargs: u32, pc: *const u32) -> Result<(), Abort> {
        let fv = self.value(a);
        if !fv.is_func() {
            return Err("NYI: call of a non-function".into());
        }
        let func = fv.gc_ptr().cast::<GcFunc>();
        // SAFETY: a live function value in the frame.
        if unsafe { (*func).is_lua() } {
            // SAFETY: as above.
            return unsafe { self.inline_call(a, b, nargs, pc, fv) };
        }
        // SAFETY: as above.
        let ffid = unsafe { (*func).ffid };
        let Some(which) = builtin_of(ffid) else {
            return self.record_native_call(a, b, nargs, pc);
        };
        // One result (or all, which is the one), and an argument count the recording
        // handles.
        if !which.takes(nargs) || !matches!(b, 0 | 2) {
            return Err(FASTFUNC.into());
        }
        let before = self.snap(pc);
        // FR2: the arguments follow the function and the frame link. (The library
        // functions also take numeric strings; those calls stay interpreted.)
        let args: Vec<TValue> = (0..nargs).map(|i| self.value(a + 2 + i)).collect();
        if !args.iter().all(|v| v.is_number()) {
            return Err(FASTFUNC.into());
        }
        let f = self.read(a, pc)?;
        let kf = self.kgc(fv, Ty::Func);
        self.guard(Cmp::Eq, Ty::Ptr, f, kf, pc);
        let arg = a + 2;
        use Builtin::*;
        let r = match which {
            Floor | Ceil | Sqrt | Abs => {
                let x = self.read_num(arg, pc)?;
                self.emit(match which {
                    Floor => Ins::FloorN(x),
                    Ceil => Ins::CeilN(x),
                    Sqrt => Ins::SqrtN(x),
                    _ => Ins::AbsN(x),
                })
            }
            Min | Max => {
                let mut acc = self.read_num(arg, pc)?;
                for i in 1..nargs {
                    let y = self.read_num(arg + i, pc)?;
                    acc = self.emit(if which == Min {
                        Ins::MinN(acc, y)
                    } else {
                        Ins::MaxN(acc, y)
                    });
                }
                acc
            }
            ToBit => self.read_bit(arg, pc)?,
            BNot | BSwap => {
                let x = self.read_bit(arg, pc)?;
                self.emit(if which == BNot {
                    Ins::BNot(x)
                } else {
                    Ins::BSwap(x)
                })
            }
            BAnd | BOr | BXor => {
                // Left to right, as the library folds its arguments.
                let mut acc = self.read_bit(arg, pc)?;
                for i in 1..nargs {
                    let y = self.read_bit(arg + i, pc)?;
                    acc = self.emit(match which {
                        BAnd => Ins::BAnd(acc, y),
                        BOr => Ins::BOr(acc, y),
                        _ => Ins::BXor(acc, y),
                    });
                }
                acc
            }
            LShift | RShift | ARShift | Rol | Ror => {
                let x = self.read_bit(arg, pc)?;
                let n = self.read_bit(arg + 1, pc)?;
                self.emit(match which {
                    LShift => Ins::BShl(x, n),
                    RShift => Ins::BShr(x, n),
                    ARShift => Ins::BSar(x, n),
                    Rol => Ins::BRol(x, n),
                    _ => Ins::BRor(x, n),
                })
            }
        };
        self.write(a, r);
        if b == 0 {
            self.multres = Some((a + 1, before));
        }
        Ok(())
    }

    /// `CALL a b c` (`nargs` = c - 1, `b - 1` results) of the native function in slot
    /// `a`, one the recorder has no IR of its own for: a call of it from the trace
    /// ([`Ins::NativeCall`]), made as the interpreter makes it. Only from the trace's own
    /// frame (the callee, error messages and tracebacks see the frames as they are), and
    /// not of the functions that must run in the interpreter: `pcall` and `xpcall` (their
    /// function runs in an interpreter frame), `coroutine.yield`, `debug.setlocal` (it
    /// changes slots the trace holds) and `jit.flush`.
    fn record_native_call(
        &mut self,
        a: u32,
        b: u32,
        nargs: u32,
        pc: *const u32,
    ) -> Result<(), Abort> {
        if !self.frames.is_empty() {
            return Err("NYI: native call in an inlined call".into());
        }
        let (kf, args) = self.native_callee(a, nargs, pc)?;
        self.native_call(kf, (&args[..nargs as usize], a, b), pc)
    }

    /// The native function in slot `a` of the current frame, guarded (a constant), and
    /// its `nargs` arguments from `a + 2`, for a call of it from the trace.
    fn native_callee(
        &mut self,
        a: u32,
        nargs: u32,
        pc: *const u32,
    ) -> Result<(Ref, [Ref; MAX_NATIVE_ARGS]), Abort> {
        let fv = self.value(a);
        native_callable(fv)?;
        if nargs as usize > MAX_NATIVE_ARGS {
            return Err("NYI: too many arguments".into());
        }
        let f = self.read(a, pc)?;
        let kf = self.kgc(fv, Ty::Func);
        self.guard(Cmp::Eq, Ty::Ptr, f, kf, pc);
        let mut args = [0; MAX_NATIVE_ARGS];
        for (i, arg) in args.iter_mut().enumerate().take(nargs as usize) {
            *arg = self.read(a + 2 + i as u32, pc)?;
        }
        Ok((kf, args))
    }

    /// `return f(...)` (`CALLT a d`, `nargs` = d - 1) of a native function in a Lua
    /// function inlined into the trace's own frame: as the interpreter's tail call
    /// replaces the inlined function's frame, the native is called from the trace's own
    /// frame, in the slot of the call that made the inlined one, for the results that
    /// call wanted (error messages name it as that call does, as luajit's do).
    fn record_native_tail_call(&mut self, a: u32, nargs: u32, pc: *const u32) -> Result<(), Abort> {
        let (results, ret_pc) = match self.frames.last() {
            Some(f) => (f.results, f.ret_pc),
            None => return Err("NYI: native call in this form".into()),
        };
        // (Guards before the call leave before the inlined call: the interpreter makes it
        // again, nothing having happened yet.)
        let (kf, args) = self.native_callee(a, nargs, pc)?;
        let Some(frame) = self.frames.pop() else {
            return Err("NYI: native call in this form".into());
        };
        self.call_snap = None;
        self.forget_slots_from(self.frame_off() + frame.call_a);
        // SAFETY: the instruction before the return address is the CALL that made the
        // inlined call, in the trace's own prototype.
        let call_pc = unsafe { ret_pc.sub(1) };
        let args = &args[..nargs as usize];
        self.native_call(kf, (args, frame.call_a, results + 1), call_pc)
    }

    /// The [`Ins::NativeCall`] of the native function `kf` (a guarded constant) with
    /// `args`, in slot `a` of the trace's own frame, keeping `b - 1` results, made as the
    /// `CALL` at `pc` makes it (see [`Self::record_native_call`]).
    fn native_call(
        &mut self,
        kf: Ref,
        (args, a, b): (&[Ref], u32, u32),
        pc: *const u32,
    ) -> Result<(), Abort> {
        let nargs = args.len() as u32;
        if self.recursive {
            // A function trace's tree may run inside native recursive calls
            // (`Ins::CallSelf`), whose callers would not see the stack move if the callee
            // moved it.
            return Err("NYI: native call in a function trace".into());
        }
        if self.pinned_snap.is_some() || self.pending_pin.is_some() || b == 0 {
            return Err("NYI: native call in this form".into());
        }
        let mut arg_refs = [0; MAX_NATIVE_ARGS];
        for (i, &arg) in args.iter().enumerate() {
            self.boxed_only_at_exits(arg)?;
            arg_refs[i] = arg;
        }
        // SAFETY: a CALL is never the last instruction of a prototype.
        let next = unsafe { pc.add(1) };
        // The state after the call, as the trace holds it: what the call writes to the
        // stack first, and where it leaves on an error (but the slots the callee owns).
        let after = self.snap(next);
        self.call_exits.push(after);
        // What the callee may change of the frame: the call's slots (its results), and
        // the variables closures of this function may have captured (slots from 64 on
        // count as captured).
        let at = self.pc_index(next) as usize;
        // SAFETY: the running prototype is live.
        let framesize = u32::from(unsafe { (*self.pt).framesize });
        let captured: Vec<u16> = (0..a)
            .filter(|&s| s >= 64 || may_be_captured(self.pt, at, s))
            .map(|s| s as u16)
            .collect();
        self.forget_slots_from(a);
        for &s in &captured {
            self.slots.remove(&s);
            self.written.remove(&s);
        }
        let owned = captured
            .iter()
            .copied()
            .chain(a as u16..framesize.max(a) as u16);
        for s in owned {
            self.stale.insert(s);
            self.mem_owned.insert(s);
        }
        self.emit(Ins::NativeCall {
            func: kf,
            args: arg_refs,
            nargs: nargs as u8,
            slot: a as u16,
            pc: pc as u64,
            captured: captured
                .iter()
                .fold(0u64, |m, &s| if s < 64 { m | 1 << s } else { m }),
            after,
        });
        self.native_results = Some((a, b - 1));
        // The callee runs in the interpreter meanwhile (Lua code it calls is not
        // recorded).
        self.awaiting = Some(next);
        Ok(())
    }

    /// The `n` results a native call left from `slot` on, loaded from their slots now
    /// that their types show, at `pc`, the instruction after the call.
    fn native_call_results(&mut self, slot: u32, n: u32, pc: *const u32) -> Result<(), Abort> {
        for s in slot..slot + n {
            let ty = Ty::of(self.value(s)).ok_or("NYI: value type")?;
            let snap = self.snap(pc);
            let at = self.emit(Ins::SlotAddr { slot: s as u16 });
            let r = self.emit(Ins::Load {
                ptr: at,
                idx: None,
                off: 0,
                ty,
                snap,
            });
            self.write(s, r);
        }
        Ok(())
    }

    /// `CALL a b c` (`nargs` = c - 1) of the Lua function `fv`: its body is recorded in line, in a frame
    /// of its own whose slots exist only in the trace. Guards inside it leave through
    /// the snapshot before the outermost call, so the interpreter makes the call itself.
    ///
    /// # Safety
    /// `fv` is the live Lua function in slot `a` of the current frame.
    unsafe fn inline_call(
        &mut self,
        a: u32,
        b: u32,
        nargs: u32,
        pc: *const u32,
        fv: TValue,
    ) -> Result<(), Abort> {
        let (closure, pt, numparams, vararg) =
            lua_function(fv).ok_or("NYI: call of a non-function")?;
        if b == 0 || self.pinned_snap.is_some() {
            return Err("NYI: call with a variable number of arguments or results".into());
        }
        if vararg {
            return Err("NYI: vararg function".into());
        }
        if pt == self.pt && self.recursive && self.frames.is_empty() {
            // SAFETY: a live prototype.
            let framesize = unsafe { (*pt).framesize };
            return self.call_self(a, b, (nargs, numparams), framesize, pc, fv);
        }
        if pt == self.pt || self.frames.iter().any(|f| f.pt == pt) {
            return Err("NYI: recursive call".into());
        }
        if self.frames.len() >= MAX_INLINE_DEPTH {
            return Err("NYI: calls nested too deep".into());
        }
        // The arguments are in the trace before the call's snapshot is taken.
        let f = self.read(a, pc)?;
        for i in 0..nargs.min(numparams) {
            self.read(a + 2 + i, pc)?;
        }
        let callee = self.guard_callee(f, fv, pt, pc);
        if self.frames.is_empty() {
            self.call_snap = Some(self.snap(pc));
            self.stored_in_call = false;
        }
        // FR2: the callee's frame starts after the function and the frame link.
        let caller_base = self.frames.last().map_or(self.base, |f| f.base);
        let caller_off = self.frame_off();
        let nil = self.emit(Ins::KPri(Ty::Nil));
        self.frames.push(Frame {
            pt,
            // SAFETY: the interpreter's callee frame is there (caller promise).
            base: unsafe { caller_base.add(a as usize + 2) },
            off: caller_off + a + 2,
            func: callee,
            closure,
            call_a: a,
            results: b - 1,
            // SAFETY: the instruction after the CALL, in the caller's bytecode.
            ret_pc: unsafe { pc.add(1) },
        });
        // Missing parameters are nil; extra arguments are not the callee's business.
        for i in nargs..numparams {
            self.write(i, nil);
        }
        Ok(())
    }

    /// The guard that the Lua function `f` (runtime value `fv`, prototype `pt`) is the
    /// one inlined, and the IR value its frame uses for it. A closure is specialised to
    /// itself, a constant; but a prototype closures keep being made of (as for a
    /// function literal passed to a higher-order function) is guarded instead, and the
    /// frame uses the runtime closure, so that each new closure takes the same trace
    /// rather than failing its guard (luajit does the same).
    fn guard_callee(&mut self, f: Ref, fv: TValue, pt: *mut GcProto, pc: *const u32) -> Ref {
        // SAFETY: a live prototype.
        if unsafe { (*pt).closures } < POLYMORPHIC_CLOSURES {
            let kf = self.kgc(fv, Ty::Func);
            self.guard(Cmp::Eq, Ty::Ptr, f, kf, pc);
            return kf;
        }
        let p = self.emit(Ins::FLoad {
            obj: f,
            field: Field::FuncProto,
        });
        // The trace keeps the prototype alive: its address is never another's.
        self.keep_alive(TValue::from_gc(pt.cast(), moonjet_gc::value::itype::PROTO));
        let kp = self.emit(Ins::KPtr(pt as u64));
        self.guard(Cmp::Eq, Ty::Ptr, p, kp, pc);
        f
    }

    /// `CALLT a d` (`nargs` = d - 1) in an inlined call: the callee takes over the
    /// caller's frame (the interpreter's too: same base), and its results go where the
    /// caller's would have gone.
    fn inline_tail_call(&mut self, a: u32, nargs: u32, pc: *const u32) -> Result<(), Abort> {
        let fv = self.value(a);
        let (closure, pt, numparams, vararg) =
            lua_function(fv).ok_or("NYI: tail call of a non-Lua function")?;
        if vararg {
            return Err("NYI: vararg function".into());
        }
        if pt == self.pt || self.frames.iter().any(|f| f.pt == pt) {
            return Err("NYI: recursive call".into());
        }
        let f = self.read(a, pc)?;
        let callee = self.guard_callee(f, fv, pt, pc);
        let args = self.call_params(a, nargs, numparams, pc)?;
        self.forget_slots_from(self.frame_off());
        if let Some(frame) = self.frames.last_mut() {
            (frame.pt, frame.func, frame.closure) = (pt, callee, closure);
        }
        for (i, v) in args.into_iter().enumerate() {
            self.write(i as u32, v);
        }
        Ok(())
    }

    /// The callee's parameters for a call of the function in slot `a` with `nargs`
    /// arguments: the arguments, nil for missing ones (extra ones are not its business).
    fn call_params(
        &mut self,
        a: u32,
        nargs: u32,
        numparams: u32,
        pc: *const u32,
    ) -> Result<Vec<Ref>, Abort> {
        let nil = self.emit(Ins::KPri(Ty::Nil));
        (0..numparams)
            .map(|i| {
                if i < nargs {
                    self.read(a + 2 + i, pc)
                } else {
                    Ok(nil)
                }
            })
            .collect()
    }

    /// `CALL a b c` of the trace's own function from the trace's frame (its tree is
    /// rooted by that function's trace): the callee runs natively in a frame of its own
    /// ([`Ins::CallSelf`]); the interpreter runs it now while the recording waits for
    /// the return. Its result (one at most) is read from the stack afterwards.
    fn call_self(
        &mut self,
        a: u32,
        b: u32,
        (nargs, numparams): (u32, u32),
        framesize: u8,
        pc: *const u32,
        fv: TValue,
    ) -> Result<(), Abort> {
        if !matches!(b, 1 | 2) {
            return Err("NYI: recursive call keeping more than one result".into());
        }
        let func = u16::try_from(a).map_err(|_| "slot out of range")?;
        let f = self.read(a, pc)?;
        let kf = self.kgc(fv, Ty::Func);
        self.guard(Cmp::Eq, Ty::Ptr, f, kf, pc);
        // Missing parameters are nil in the callee's frame.
        let nil = self.emit(Ins::KPri(Ty::Nil));
        for i in nargs..numparams {
            self.write(a + 2 + i, nil);
        }
        let snap = self.snap(pc);
        // What stays in this frame while the callee runs, for the interpreter to go on
        // with after the call returns.
        let after = self.snaps.len() as SnapId;
        self.snaps.push(Snapshot {
            slots: slot_list(&self.written)
                .into_iter()
                .filter(|&(s, _)| s < func)
                .collect(),
            pc: self.pc_index(pc) + 1,
        });
        self.emit(Ins::CallSelf {
            func,
            framesize: u16::from(framesize),
            // SAFETY: a CALL is never the last instruction of a prototype.
            link: unsafe { pc.add(1) } as u64,
            snap,
            after,
        });
        // The slots from the call's on are the callee's now; its result is read from
        // the stack when used.
        self.forget_slots_from(u32::from(func));
        // SAFETY: as above.
        self.awaiting = Some(unsafe { pc.add(1) });
        Ok(())
    }

    /// An instruction of an inlined call that ends it (a return) or that it cannot
    /// contain (a loop). Returns whether it was handled.
    ///
    /// # Safety
    /// As for [`Recorder::step`].
    unsafe fn call_step(&mut self, pc: *const u32) -> Result<bool, Abort> {
        // SAFETY: caller promise.
        let ins = unsafe { *pc };
        let op = Op::from_u8(bc::op(ins)).ok_or("bad opcode")?;
        let (a, d) = (bc::a(ins), bc::d(ins));
        use Op::*;
        let returned = match op {
            RET0 => 0,
            RET1 => 1,
            RET => d.saturating_sub(1),
            _ if is_loop_op(op) => return Err("NYI: loop in an inlined call".into()),
            _ => return Ok(false),
        };
        let values = (0..returned)
            .map(|i| self.read(a + i, pc))
            .collect::<Result<Vec<Ref>, Abort>>()?;
        let Some(frame) = self.frames.pop() else {
            return Ok(false);
        };
        // The caller's slots from the call's on are the results; the rest of the
        // callee's are gone.
        self.forget_slots_from(self.frame_off() + frame.call_a);
        let nil = self.emit(Ins::KPri(Ty::Nil));
        for i in 0..frame.results {
            let v = values.get(i as usize).copied().unwrap_or(nil);
            self.write(frame.call_a + i, v);
        }
        if self.frames.is_empty() {
            self.call_snap = None;
        }
        Ok(true)
    }

    /// The loop's `FORL` at `pc`: the step and the exit test, then the trace.
    fn close(&mut self, pc: *const u32, a: u32) -> Result<Step, Abort> {
        self.for_step(pc, a, self.narrow_for, Some(true))?;
        self.finish().map(Step::Done)
    }

    /// The `for` loop's control values at `a`: (index, stop, step) as numbers.
    fn for_values(&self, a: u32) -> Result<(f64, f64, f64), Abort> {
        let v = |i: u32| self.value(a + i).as_number();
        match (v(0), v(1), v(2)) {
            (Some(i), Some(stop), Some(step)) => Ok((i, stop, step)),
            _ => Err("NYI: for loop over non-numbers".into()),
        }
    }

    /// The `for` loop's zero of type `ty`, and the comparisons that hold when it goes
    /// on (`go_on`) or leaves: the step's sign (which fixes the direction), then the end.
    fn for_tests(&mut self, ty: Ty, step_v: f64, go_on: bool) -> (Ref, Cmp, Cmp) {
        let zero = if ty == Ty::Int {
            self.emit(Ins::KInt(0))
        } else {
            self.knum(0.0)
        };
        let (sign, end) = match (step_v >= 0.0, go_on) {
            (true, true) => (Cmp::Ge, Cmp::Le),
            (true, false) => (Cmp::Ge, Cmp::Gt),
            (false, true) => (Cmp::Lt, Cmp::Ge),
            (false, false) => (Cmp::Lt, Cmp::Lt),
        };
        (zero, sign, end)
    }

    /// `FORL a` at `pc`: the loop's step and its test, going on (`go_on`, or as the
    /// runtime values say when `None`). Returns whether it goes on. `narrow`: the control
    /// values as integers.
    fn for_step(
        &mut self,
        pc: *const u32,
        a: u32,
        narrow: bool,
        go_on: Option<bool>,
    ) -> Result<bool, Abort> {
        let (i_v, stop_v, step_v) = self.for_values(a)?;
        let go_on = go_on.unwrap_or({
            let next = i_v + step_v;
            if step_v >= 0.0 {
                next <= stop_v
            } else {
                stop_v <= next
            }
        });
        let (mut i, mut stop, mut step) = (
            self.read_num(a, pc)?,
            self.read_num(a + 1, pc)?,
            self.read_num(a + 2, pc)?,
        );
        let ty = if narrow { Ty::Int } else { Ty::Num };
        let next = if narrow {
            (i, stop, step) = (
                self.as_int(i, pc)?,
                self.as_int(stop, pc)?,
                self.as_int(step, pc)?,
            );
            let snap = self.snap(pc);
            let farthest = stop_v + step_v;
            if (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&farthest) {
                // The index never passes stop, so no step goes beyond stop + step: one
                // check of that (invariant, so made once before the loop) replaces a
                // check per iteration.
                self.emit(Ins::AddI {
                    a: stop,
                    b: step,
                    snap,
                });
                self.emit(Ins::StepI(i, step))
            } else {
                self.emit(Ins::AddI {
                    a: i,
                    b: step,
                    snap,
                })
            }
        } else {
            self.emit(Ins::AddN(i, step))
        };
        let (zero, sign, end) = self.for_tests(ty, step_v, go_on);
        self.guard(sign, ty, step, zero, pc);
        if narrow && go_on && self.frames.is_empty() {
            self.forl = Some(ForLoop {
                slot: a as u16,
                stop,
                step,
                zero,
                next,
                sign,
                end,
                stop_v,
                next_v: i_v + step_v,
            });
        }
        if go_on {
            // Leaving instead is what the interpreter's FORL does: the index stepped,
            // on after the loop. The exit resumes there (as luajit's loop exits do), so a
            // side trace from it starts after the loop.
            self.write(a, next);
            // The visible index is the interpreter's old one on the way out, but when the
            // code after the loop does not read it (the usual case) the exit may as well
            // hold the new one: then only one value of the index is live at the exit,
            // and the loop need not keep the old one beside it.
            let visible_dead_after_loop = self.dead_after(pc, a + 3);
            if visible_dead_after_loop {
                self.write(a + 3, next);
            }
            // SAFETY: a FORL is never the last instruction of a prototype.
            self.guard(end, ty, next, stop, unsafe { pc.add(1) });
            if !visible_dead_after_loop {
                self.write(a + 3, next);
            }
        } else {
            self.guard(end, ty, next, stop, pc);
            self.write(a, next);
        }
        Ok(go_on)
    }

    /// `FORI a` at `pc` (in a side trace): whether the loop is entered, guarded; entering,
    /// the visible index is set.
    fn for_init(&mut self, pc: *const u32, a: u32) -> Result<bool, Abort> {
        let (i_v, stop_v, step_v) = self.for_values(a)?;
        let entered = if step_v >= 0.0 {
            i_v <= stop_v
        } else {
            i_v >= stop_v
        };
        let (i, stop, step) = (
            self.read_num(a, pc)?,
            self.read_num(a + 1, pc)?,
            self.read_num(a + 2, pc)?,
        );
        let (zero, sign, end) = self.for_tests(Ty::Num, step_v, entered);
        self.guard(sign, Ty::Num, step, zero, pc);
        self.guard(end, Ty::Num, i, stop, pc);
        if entered {
            self.write(a + 3, i);
        }
        Ok(entered)
    }

    /// A side trace at `pc`: the instructions that end it or that it treats differently
    /// from a root trace (loops, returns). `None`: record `pc` as usual.
    ///
    /// # Safety
    /// As for [`Recorder::step`].
    unsafe fn side_step(
        &mut self,
        pc: *const u32,
        link: Option<*const u32>,
    ) -> Result<Option<Step>, Abort> {
        // SAFETY: caller promise.
        let ins = unsafe { *pc };
        let op = Op::from_u8(bc::op(ins)).ok_or("bad opcode")?;
        let a = bc::a(ins);
        use Op::*;
        if self.func_root && is_loop_op(op) {
            // As luajit: the loop gets a trace of its own, which a side trace of this one
            // can link to.
            return Err("inner loop in root trace".into());
        }
        let done = match (op, link) {
            // Leaving the frame: the interpreter makes the return (or, called natively,
            // the trace returns to its caller).
            (RET0 | RET1 | RET, _) => {
                let results = match op {
                    RET0 => 0,
                    RET1 => 1,
                    _ => bc::d(ins).saturating_sub(1),
                };
                let first = u16::try_from(a).map_err(|_| "slot out of range")?;
                let mut t = self.link_trace(pc);
                t.ret = Some((results > 0).then_some(first));
                t
            }
            (RETM, _) => self.link_trace(pc),
            (CALLT, _) if self.recursive => match self.tail_call_self(pc, a, bc::d(ins))? {
                Some(t) => t,
                None => return Ok(None),
            },
            (JLOOP, Some(entry)) => self.link_trace(entry),
            (LOOP | ILOOP | JLOOP, _) => {
                self.pass_loop(pc)?;
                return Ok(Some(Step::Continue));
            }
            (FORL | IFORL | JFORL, _) => {
                if !self.for_step(pc, a, false, None)? {
                    return Ok(Some(Step::Continue));
                }
                match (op, link) {
                    (JFORL, Some(entry)) => self.link_trace(entry),
                    _ => {
                        self.pass_loop(pc)?;
                        return Ok(Some(Step::Continue));
                    }
                }
            }
            (FORI | JFORI, _) => match (self.for_init(pc, a)?, link) {
                (true, Some(entry)) => self.link_trace(entry),
                _ => return Ok(Some(Step::Continue)),
            },
            // Jumps anywhere in the frame: the trace follows the path taken.
            (JMP, _) => return Ok(Some(Step::Continue)),
            _ => return Ok(None),
        };
        self.none_pending()?;
        Ok(Some(Step::Done(done)))
    }

    /// `CALLT a d` at `pc` of the trace's own closure (`d - 1` arguments), in a tree
    /// rooted by its function trace: the call reuses the frame, so the trace ends with the
    /// arguments as the parameters and links to that function trace, which goes on
    /// exactly where the interpreter's call would (`None`: another callee).
    fn tail_call_self(&mut self, pc: *const u32, a: u32, d: u32) -> Result<Option<Trace>, Abort> {
        // (Not a vararg function: those have no function traces, so no such trees.)
        let own = lua_function(self.value(a)).filter(|&(_, pt, _, _)| pt == self.pt);
        let Some((_, _, numparams, _)) = own else {
            return Ok(None);
        };
        let nargs = d.checked_sub(1).ok_or("bad CALLT")?;
        // The same closure: the frame's function slot stays as it is.
        let f = self.read(a, pc)?;
        let (cur, _) = self.cur_func();
        self.guard(Cmp::Eq, Ty::Ptr, f, cur, pc);
        let params = self.call_params(a, nargs, numparams, pc)?;
        // (Slots below 256: operands of the bytecode.)
        self.written = params
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as u16, v))
            .collect();
        // SAFETY: instruction 1 follows the header.
        let first = unsafe { (*self.pt).bc.add(1) };
        let mut t = self.link_trace(first);
        t.tail_call = true;
        Ok(Some(t))
    }

    /// A side trace passes the uncompiled loop instruction at `pc`: once is unrolling one
    /// iteration, twice would be recording a loop.
    fn pass_loop(&mut self, pc: *const u32) -> Result<(), Abort> {
        if self.passed_loops.contains(&pc) {
            return Err("loop unroll limit reached".into());
        }
        self.passed_loops.push(pc);
        Ok(())
    }

    /// The side trace ends: it leaves with the state the interpreter has at `to` (the
    /// entry of the trace it links to, or where the interpreter goes on).
    fn link_trace(&mut self, to: *const u32) -> Trace {
        let link = self.snaps.len() as SnapId;
        self.snaps.push(Snapshot {
            slots: slot_list(&self.written),
            pc: self.pc_index(to),
        });
        Trace {
            ins: std::mem::take(&mut self.ins),
            snaps: std::mem::take(&mut self.snaps),
            loop_snap: link,
            link_snap: Some(link),
            gc_consts: std::mem::take(&mut self.gc_consts),
            ret: None,
            tail_call: false,
        }
    }

    /// Loads of the iteration `pre` whose place the iteration stores to afterwards, the
    /// only write in it that may reach that place: (the load, the value stored), where
    /// the stored value has the load's type.
    fn carried_loads(&self, pre: &[Ins]) -> Vec<(usize, Ref)> {
        if !self.opts.fwd {
            return Vec::new();
        }
        let mut found = Vec::new();
        for (l, ins) in pre.iter().enumerate() {
            let read = match *ins {
                Ins::Load {
                    ptr,
                    idx: None,
                    off,
                    ..
                } => self.mem_at(ptr, None, off),
                Ins::XLoad { .. } => match self.mem_read(ins) {
                    Some(m) => m,
                    None => continue,
                },
                _ => continue,
            };
            let mut writers = pre
                .iter()
                .enumerate()
                .filter(|(_, w)| self.written_by(w).is_some_and(|m| read.may_alias(m)));
            let (Some((w, store)), None) = (writers.next(), writers.next()) else {
                continue;
            };
            if w < l {
                continue;
            }
            match (*ins, *store) {
                (
                    Ins::Load { ptr, off, ty, .. },
                    Ins::Store {
                        ptr: sp,
                        idx: None,
                        off: so,
                        val,
                    },
                ) if sp == ptr && so == off && self.ty(val) == ty => found.push((l, val)),
                (
                    Ins::XLoad { ptr, off, ct },
                    Ins::XStore {
                        ptr: sp,
                        off: so,
                        ct: sc,
                        val,
                    },
                ) if sp == ptr && so == off && sc == ct && ct.loads_back(self.ty(val)) => {
                    found.push((l, val))
                }
                _ => {}
            }
        }
        found
    }

    /// Lay the recorded iteration out as a loop.
    fn finish(&mut self) -> Result<Trace, Abort> {
        self.none_pending()?;
        let body_pc = self.pc_index(self.body);
        if !self.opts.loop_opt {
            return Ok(self.finish_unpeeled(body_pc));
        }
        // The pre-roll stays at the start of `ins`; these copies are what the body is
        // built from.
        let pre = self.ins.clone();
        let pre_snaps = self.snaps.clone();
        let written = std::mem::take(&mut self.written);
        self.ins.push(Ins::Loop);
        // A phi for every slot the iteration changes: its value at the top of each
        // iteration after the first. Slots the iteration leaves holding the same value
        // (a `for` loop's hidden index and its visible copy) hold the same value at the
        // top of every iteration too, so they share one phi: one register carries it.
        let mut phis: BTreeMap<u16, Ref> = BTreeMap::new();
        let mut phi_of_value: HashMap<Ref, Ref> = HashMap::new();
        // A pointer cdata made by arithmetic stays sunk round the loop: a phi carries its
        // address, and the slot's value is a sunk cdata of it (made after all phis).
        let mut sunk: Vec<(u16, u16, Ref)> = Vec::new();
        for (&slot, &r) in &written {
            if let Ins::PtrCdata { ctype, addr } = self.ins[r as usize] {
                let p = self.push(Ins::Phi {
                    ty: Ty::Ptr,
                    init: addr,
                    next: 0,
                });
                sunk.push((slot, ctype, p));
                continue;
            }
            let ty = self.ty(r);
            let p = *phi_of_value.entry(r).or_insert_with(|| {
                self.push(Ins::Phi {
                    ty,
                    init: r,
                    next: 0,
                })
            });
            phis.insert(slot, p);
        }
        // Loop-carried forwarding: a load the iteration later stores to reads, from the
        // second iteration on, what the previous one stored. A phi for each.
        let mut mem_phis: HashMap<usize, (Ref, Ref)> = HashMap::new();
        for (load, store_val) in self.carried_loads(&pre) {
            let ty = self.ty(store_val);
            let p = self.push(Ins::Phi {
                ty,
                init: store_val,
                next: store_val,
            });
            mem_phis.insert(load, (p, store_val));
        }
        for &(slot, ctype, addr) in &sunk {
            let c = self.push(Ins::PtrCdata { ctype, addr });
            phis.insert(slot, c);
        }
        let loop_snap = self.snaps.len() as SnapId;
        self.snaps.push(Snapshot {
            slots: slot_list(&phis),
            pc: body_pc,
        });
        // Copy the iteration. `map` takes pre-roll refs to body refs; CSE may map a body
        // instruction to its pre-roll twin (an invariant) or drop a repeated guard.
        let mut map: Vec<Ref> = (0..pre.len() as Ref).collect();
        let mut body_snaps: HashMap<SnapId, SnapId> = HashMap::new();
        // The body's copy of pre-roll snapshot `s`: the slots the iteration changed
        // hold their phis until the copy writes them, but those a native call left on
        // the stack by then hold that.
        let body_snap = |me: &mut Self,
                         body_snaps: &mut HashMap<SnapId, SnapId>,
                         map: &[Ref],
                         s: SnapId|
         -> SnapId {
            if let Some(&b) = body_snaps.get(&s) {
                return b;
            }
            let mut slots: BTreeMap<u16, Ref> = phis.clone();
            for owned in me.snap_mem_owned.get(s as usize).into_iter().flatten() {
                slots.remove(owned);
            }
            for &(slot, r) in &pre_snaps[s as usize].slots {
                slots.insert(slot, map[r as usize]);
            }
            let b = me.snaps.len() as SnapId;
            me.snaps.push(Snapshot {
                slots: slots.into_iter().collect(),
                pc: pre_snaps[s as usize].pc,
            });
            body_snaps.insert(s, b);
            b
        };
        // A load may be shared with the pre-roll only if nothing in the loop may write
        // what it reads.
        for ins in &pre {
            self.invalidate(ins);
        }
        for (i, ins) in pre.iter().enumerate() {
            let mut new = *ins;
            if let Ins::SLoad { slot, ty, snap } = *ins {
                if self.stale.contains(&slot) && !phis.contains_key(&slot) {
                    // A variable a native call may change: from the second iteration on,
                    // what the stack holds now.
                    let at = self.emit(Ins::SlotAddr { slot });
                    let snap = body_snap(self, &mut body_snaps, &map, snap);
                    map[i] = self.emit(Ins::Load {
                        ptr: at,
                        idx: None,
                        off: 0,
                        ty,
                        snap,
                    });
                    continue;
                }
                map[i] = match phis.get(&slot) {
                    None => i as Ref, // unchanged by the loop: the pre-roll's value
                    Some(&p) => {
                        let pty = self.ty(p);
                        if pty == ty || (ty == Ty::Cdata && pty.is_int64()) {
                            // (An int64 cdata the loop keeps unboxed: the loads of its
                            // type and value fold to what the phi carries.)
                            p
                        } else if ty == Ty::Num && pty == Ty::Int {
                            self.emit(Ins::IntToNum(p))
                        } else {
                            return Err("NYI: type instability".into());
                        }
                    }
                };
                continue;
            }
            for o in new.operands_mut() {
                *o = map[*o as usize];
            }
            if let (Some(&(p, _)), Ins::Load { ptr, .. } | Ins::XLoad { ptr, .. }) =
                (mem_phis.get(&i), *ins)
            {
                if map[ptr as usize] == ptr {
                    // The same object every iteration: what the last one stored.
                    map[i] = p;
                    continue;
                }
            }
            if let Ins::CCall { .. } = new {
                // Its snapshot names its own result: the body's call, about to be pushed
                // (not folded: a call is never pure).
                map[i] = self.ins.len() as Ref;
            }
            if let Some(s) = new.snap_mut() {
                *s = body_snap(self, &mut body_snaps, &map, *s);
            }
            if let Ins::Guard { .. } = new {
                match self.constant_guard(&new) {
                    Some(true) => continue,
                    Some(false) => return Err("NYI: type instability".into()),
                    None => {}
                }
                if self.opts.cse && self.cse.contains_key(&cse_key(&new)) {
                    continue; // checked already: same operands, same outcome
                }
                let key = cse_key(&new);
                let r = self.push(new);
                self.cse.insert(key, r);
                continue;
            }
            // Snapshots taken before the numbering here still name pre-roll values for
            // these, which is right: `map` is only ever applied to operands.
            map[i] = self.emit(new);
        }
        for (&slot, &p) in &phis {
            let next = map[written[&slot] as usize];
            if let Ins::PtrCdata { ctype, addr: phi } = self.ins[p as usize] {
                let Ins::PtrCdata {
                    ctype: next_ctype,
                    addr: next_addr,
                } = self.ins[next as usize]
                else {
                    return Err("NYI: type instability".into());
                };
                if next_ctype != ctype {
                    return Err("NYI: type instability".into());
                }
                if let Ins::Phi { next: n, .. } = &mut self.ins[phi as usize] {
                    *n = next_addr;
                }
                continue;
            }
            if self.ty(next) != self.ty(p) {
                return Err("NYI: type instability".into());
            }
            if let Ins::Phi { next: n, .. } = &mut self.ins[p as usize] {
                *n = next;
            }
        }
        for &(p, store_val) in mem_phis.values() {
            let next = map[store_val as usize];
            if self.ty(next) != self.ty(p) {
                return Err("NYI: type instability".into());
            }
            if let Ins::Phi { next: n, .. } = &mut self.ins[p as usize] {
                *n = next;
            }
        }
        if self.opts.abc {
            let loop_pos = pre.len();
            self.eliminate_bounds_checks(loop_pos, &phis, &written, body_pc);
        }
        Ok(Trace {
            ins: std::mem::take(&mut self.ins),
            snaps: std::mem::take(&mut self.snaps),
            loop_snap,
            link_snap: None,
            gc_consts: std::mem::take(&mut self.gc_consts),
            ret: None,
            tail_call: false,
        })
    }

    /// Array bounds-check elimination for loop-carried indices (`abc`), on the laid-out
    /// loop (pre-roll, `LOOP` at `loop_pos`, body).
    ///
    /// In the body of a narrowed `for` loop the index is a phi `p` that starts at the
    /// pre-roll's stepped index `next` and moves by the invariant `step`, whose sign the
    /// pre-roll guards, each iteration going on only if the body's `next' <= stop` (or
    /// `>=` for a negative step) holds, for an invariant `stop`. So in every iteration
    /// of the body `p` lies between `next` and `stop` (both included), and `p + k` (a
    /// constant `k`, computed without overflow) between `next + k` and `stop + k`.
    ///
    /// A body bounds guard `p + k <u asize` whose `asize` is the pre-roll's load (the
    /// body shares it only when nothing in the loop may resize the table, and the
    /// table's ref is invariant) then always holds if `next + k <u asize` and
    /// `stop + k <u asize` do, as the array part's size is below 2^31: those two guards
    /// go at the end of the pre-roll and the body's is dropped. They leave through a
    /// snapshot of the state there: the top of the second iteration, which the
    /// interpreter then runs (a failing check leaves before any access it covers). The
    /// additions leave there too when they overflow.
    ///
    /// Only checks that hold for the recorded run are hoisted (as luajit does), so a
    /// loop that would leave some other way before reaching the end of its range does
    /// not leave at the top instead every time.
    fn eliminate_bounds_checks(
        &mut self,
        loop_pos: usize,
        phis: &BTreeMap<u16, Ref>,
        written: &BTreeMap<u16, Ref>,
        body_pc: u32,
    ) {
        let Some(f) = self.forl else { return };
        if self.is_loop || self.side || !self.narrow_for {
            return;
        }
        let lp = loop_pos as Ref;
        // The loop's control slots: the hidden index and the visible copy carry the same
        // value (both written last by the FORL), stop and step are not written.
        let (Some(&pa), Some(&pv)) = (phis.get(&f.slot), phis.get(&(f.slot + 3))) else {
            return;
        };
        if written.get(&f.slot) != Some(&f.next)
            || written.get(&(f.slot + 3)) != Some(&f.next)
            || written.contains_key(&(f.slot + 1))
            || written.contains_key(&(f.slot + 2))
            || f.stop >= lp
            || f.step >= lp
        {
            return;
        }
        let (
            Ins::Phi {
                ty: Ty::Int,
                init: ia,
                next: na,
            },
            Ins::Phi {
                ty: Ty::Int,
                init: iv,
                next: nv,
            },
        ) = (self.ins[pa as usize], self.ins[pv as usize])
        else {
            return;
        };
        if ia != f.next || iv != f.next || na != nv {
            return;
        }
        let index = |r: Ref| r == pa || r == pv;
        // The body steps the index by the invariant step...
        match self.ins[na as usize] {
            Ins::AddI { a, b, .. } | Ins::StepI(a, b) if index(a) && b == f.step => {}
            _ => return,
        }
        // ...whose sign the pre-roll guards, and goes on only while it has not passed stop.
        let has_guard = |ins: &[Ins], cmp: Cmp, x: Ref, y: Ref| {
            ins.iter().any(|i| {
                matches!(*i, Ins::Guard { cmp: c, ty: Ty::Int, a, b, .. }
                    if c == cmp && a == x && b == y)
            })
        };
        if !matches!(self.ins[f.zero as usize], Ins::KInt(0))
            || !has_guard(&self.ins[..loop_pos], f.sign, f.step, f.zero)
            || !has_guard(&self.ins[loop_pos..], f.end, na, f.stop)
        {
            return;
        }
        let kint = |s: &Self, r: Ref| match s.ins[r as usize] {
            Ins::KInt(k) => Some(k),
            _ => None,
        };
        // The index plus a constant: `p`, `p + k`, `k + p`, `p - k`.
        let offset = |s: &Self, r: Ref| -> Option<i32> {
            if index(r) {
                return Some(0);
            }
            let k = match s.ins[r as usize] {
                Ins::AddI { a, b, .. } if index(a) => kint(s, b)?,
                Ins::AddI { a, b, .. } if index(b) => kint(s, a)?,
                Ins::SubI { a, b, .. } if index(a) => kint(s, b)?.checked_neg()?,
                _ => return None,
            };
            (k.unsigned_abs() <= 1 << 20).then_some(k)
        };
        // Does the loop go on at the FORL being recorded? (If not, `next` is past stop.)
        let goes_on = if f.sign == Cmp::Ge {
            f.next_v <= f.stop_v
        } else {
            f.next_v >= f.stop_v
        };
        // The body's guards to drop.
        let mut dropped: Vec<usize> = Vec::new();
        // (asize, k) of the hoisted checks, in order.
        let mut hoisted: Vec<(Ref, i32)> = Vec::new();
        for i in loop_pos + 1..self.ins.len() {
            let Ins::Guard {
                cmp: Cmp::ULt,
                ty: Ty::Int,
                a: key,
                b: asz,
                ..
            } = self.ins[i]
            else {
                continue;
            };
            if asz >= lp
                || !matches!(
                    self.ins[asz as usize],
                    Ins::FLoad {
                        field: Field::TabAsize,
                        ..
                    }
                )
            {
                continue;
            }
            let Some(k) = offset(self, key) else { continue };
            let Some(&size) = self.asize_seen.get(&asz) else {
                continue;
            };
            let inside = |v: f64| (0.0..f64::from(size)).contains(&(v + f64::from(k)));
            if !goes_on || !inside(f.stop_v) || !inside(f.next_v) {
                continue;
            }
            dropped.push(i);
            if !hoisted.contains(&(asz, k)) {
                hoisted.push((asz, k));
            }
        }
        if hoisted.is_empty() {
            return;
        }
        let mut removed = vec![false; self.ins.len()];
        for i in dropped {
            removed[i] = true;
        }
        // The checks, after the pre-roll's last instruction.
        let snap = self.snaps.len() as SnapId;
        self.snaps.push(Snapshot {
            slots: slot_list(written),
            pc: body_pc,
        });
        let mut extra: Vec<Ins> = Vec::new();
        let add = |extra: &mut Vec<Ins>, i: Ins| {
            extra.push(i);
            lp + extra.len() as Ref - 1
        };
        let mut guards: Vec<(Ref, Ref)> = Vec::new();
        for &(asz, k) in &hoisted {
            let ends = if k == 0 {
                [f.next, f.stop]
            } else {
                let existing = self.ins[..loop_pos]
                    .iter()
                    .chain(&extra)
                    .position(|i| *i == Ins::KInt(k));
                let kr = match existing {
                    Some(p) if p < loop_pos => p as Ref,
                    Some(p) => lp + (p - loop_pos) as Ref,
                    None => add(&mut extra, Ins::KInt(k)),
                };
                [f.next, f.stop].map(|x| add(&mut extra, Ins::AddI { a: x, b: kr, snap }))
            };
            for e in ends {
                if !guards.contains(&(e, asz)) {
                    guards.push((e, asz));
                    add(
                        &mut extra,
                        Ins::Guard {
                            cmp: Cmp::ULt,
                            ty: Ty::Int,
                            a: e,
                            b: asz,
                            snap,
                        },
                    );
                }
            }
        }
        self.relayout(loop_pos, extra, &removed);
    }

    /// Put `extra` (whose operands are pre-roll refs or earlier `extra` ones, as numbered
    /// from `loop_pos` on) before the `LOOP` at `loop_pos`, and drop the body's guards
    /// marked in `removed`, renumbering the body's refs.
    fn relayout(&mut self, loop_pos: usize, extra: Vec<Ins>, removed: &[bool]) {
        let old = std::mem::take(&mut self.ins);
        let mut remap: Vec<Ref> = Vec::with_capacity(old.len());
        let mut next = (loop_pos + extra.len()) as Ref;
        for (i, ins) in old.iter().enumerate() {
            if i < loop_pos {
                remap.push(i as Ref);
            } else if removed[i] {
                debug_assert!(matches!(ins, Ins::Guard { .. }));
                remap.push(Ref::MAX); // a guard: no value, never an operand
            } else {
                remap.push(next);
                next += 1;
            }
        }
        let mut ins = Vec::with_capacity(next as usize);
        ins.extend_from_slice(&old[..loop_pos]);
        ins.extend(extra);
        for (i, old_ins) in old.iter().enumerate().skip(loop_pos) {
            if removed[i] {
                continue;
            }
            let mut new = *old_ins;
            for o in new.operands_mut() {
                *o = remap[*o as usize];
            }
            ins.push(new);
        }
        for s in &mut self.snaps {
            for (_, r) in &mut s.slots {
                *r = remap[*r as usize];
            }
        }
        self.ins = ins;
    }

    /// Without the loop optimisation: the iteration is the loop body itself, reading its
    /// slots at the top of each iteration and storing what it changed at the end.
    fn finish_unpeeled(&mut self, body_pc: u32) -> Trace {
        let mut ins = vec![Ins::Loop];
        let mut map: Vec<Ref> = Vec::with_capacity(self.ins.len());
        for i in &self.ins {
            let mut new = *i;
            for o in new.operands_mut() {
                *o = map[*o as usize];
            }
            if let Some(s) = new.snap_mut() {
                *s += 1; // the loop snapshot comes first
            }
            map.push(ins.len() as Ref);
            ins.push(new);
        }
        for (&slot, &r) in &self.written {
            ins.push(Ins::SStore {
                slot,
                val: map[r as usize],
            });
        }
        let mut snaps = vec![Snapshot {
            slots: Vec::new(),
            pc: body_pc,
        }];
        for s in &self.snaps {
            snaps.push(Snapshot {
                slots: s
                    .slots
                    .iter()
                    .map(|&(slot, r)| (slot, map[r as usize]))
                    .collect(),
                pc: s.pc,
            });
        }
        Trace {
            ins,
            snaps,
            loop_snap: 0,
            link_snap: None,
            gc_consts: std::mem::take(&mut self.gc_consts),
            ret: None,
            tail_call: false,
        }
    }
}

/// Memory a trace reads or writes, for alias analysis: an array part, one node slot of
/// a hash part (by byte offset: the same offset in two node arrays may be one table
/// seen twice), node keys and table layout (both changed only by inserting calls), an
/// upvalue (of the frame's function by index, of an inlined callee by its object), or
/// anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mem {
    Array,
    Hash(i32),
    Key,
    /// A table's parts and their sizes (array, asize, node, hmask).
    Layout,
    Upval(u16),
    UpvalObj(usize),
    /// What only Lua code run by a native function changes (`setmetatable`, `setfenv`,
    /// an upvalue closed as a coroutine ends), and how long a table's write barrier
    /// holds (until the collector may run again): read by metatable, environment and
    /// upvalue-place loads and by barriers, written only by [`Mem::All`].
    Meta,
    /// Everything, [`Mem::Meta`] too: what a native function call may change.
    All,
    /// `size` bytes of C memory at `ptr + off` (wherever cdata lead): any C address may
    /// alias another, but not a disjoint range from the same address value. Lua objects'
    /// memory is never C memory.
    C {
        ptr: Ref,
        off: i32,
        size: u32,
    },
    Any,
}

impl Mem {
    /// Whether a store to `written` may change what a load from `self` reads.
    fn may_alias(self, written: Mem) -> bool {
        match (self, written) {
            (_, Mem::All) => true,
            (Mem::Meta, _) | (_, Mem::Meta) => false,
            (Mem::Any, _) | (_, Mem::Any) => true,
            // Only a table store call (Any) inserts keys or resizes a table.
            (Mem::Key | Mem::Layout, _) | (_, Mem::Key | Mem::Layout) => false,
            (Mem::Upval(_), Mem::UpvalObj(_)) | (Mem::UpvalObj(_), Mem::Upval(_)) => true,
            (
                Mem::C {
                    ptr: p,
                    off: a,
                    size: m,
                },
                Mem::C {
                    ptr: q,
                    off: b,
                    size: n,
                },
            ) => {
                let (a, b) = (i64::from(a), i64::from(b));
                p != q || (a < b + i64::from(n) && b < a + i64::from(m))
            }
            (a, b) => a == b,
        }
    }
}

/// A narrowed `for` loop's control as its `FORL` was recorded (going on): slot `slot` is
/// the hidden index, `slot + 3` the visible one; `next = index + step` (Int refs), the
/// guards `step sign zero` and `next end stop`; the runtime stop and next index.
#[derive(Clone, Copy)]
struct ForLoop {
    slot: u16,
    stop: Ref,
    step: Ref,
    zero: Ref,
    next: Ref,
    sign: Cmp,
    end: Cmp,
    stop_v: f64,
    next_v: f64,
}

/// A table key as recorded.
#[derive(Clone, Copy)]
enum Key {
    /// An integer key: its IR value (Int) and runtime value.
    Int(Ref, i64),
    /// A constant string key.
    Str(*mut GcStr),
}

/// An inlined call's frame.
struct Frame {
    pt: *mut GcProto,
    /// Where the interpreter has the frame (checked as the recording goes on).
    base: *mut TValue,
    /// Its first slot, relative to the trace's.
    off: u32,
    /// The function (a constant: the call guards it).
    func: Ref,
    closure: *mut GcFunc,
    /// The call's slot in the caller's frame, and the results it takes.
    call_a: u32,
    results: u32,
    /// Where the caller goes on when the call returns.
    ret_pc: *const u32,
}

/// Where an upvalue's value is, as recorded.
enum UpvalAt {
    /// In memory: the address of the value (`uv.v`), the upvalue, and the value now.
    Mem { ptr: Ref, uv: Ref, value: TValue },
    /// In a slot of the trace's own frame, which the trace holds.
    Slot(u16),
}

/// What an FFI index does: read into slot `dst`, or store the value in slot `val`.
#[derive(Clone, Copy)]
enum CAccess {
    Get { dst: u32 },
    Set { val: u32 },
}

/// The C number types a trace reads and writes directly; `None` for the rest (64-bit
/// integers box their values, `long double` has none).
fn c_num(ct: &CType) -> Option<CNum> {
    if ct.kind != Kind::Num {
        return None;
    }
    let unsigned = ct.flags.contains(Flags::UNSIGNED);
    Some(if ct.flags.contains(Flags::FP) {
        match ct.size {
            4 => CNum::F32,
            8 => CNum::F64,
            _ => return None,
        }
    } else if ct.flags.contains(Flags::BOOL) {
        match ct.size {
            1 => CNum::Bool,
            _ => return None,
        }
    } else {
        match (ct.size, unsigned) {
            (1, false) => CNum::I8,
            (1, true) => CNum::U8,
            (2, false) => CNum::I16,
            (2, true) => CNum::U16,
            (4, false) => CNum::I32,
            (4, true) => CNum::U32,
            (8, false) => CNum::I64,
            (8, true) => CNum::U64,
            _ => return None,
        }
    })
}

/// The C number a scalar argument or result of type `ct` (raw) travels as: an integer
/// up to 32 bits, `bool`, `float`, `double`, or an enum (as its integer type).
fn c_scalar(cts: &CTypeTable, ct: &CType) -> Option<CNum> {
    if ct.kind == Kind::Enum {
        return c_num(cts.get(cts.raw(ct.child)));
    }
    c_num(ct)
}

/// Where an operand of a 64-bit integer operation comes from: a slot, or a number
/// constant of the instruction.
#[derive(Clone, Copy)]
enum Src {
    Slot(u32),
    Num(f64),
}

/// The unboxed type of an `int64_t` (I64) or `uint64_t` (U64) cdata value.
fn int64_ty(v: TValue) -> Option<Ty> {
    if !v.is_cdata() {
        return None;
    }
    match cdata_type(v) {
        CTypeId::INT64 => Some(Ty::I64),
        CTypeId::UINT64 => Some(Ty::U64),
        _ => None,
    }
}

/// Runtime value `v` (a number, or an `int64_t`/`uint64_t` cdata) as the 64 bits an
/// operation of type `ty` sees, as the interpreter converts it.
fn int64_bits(v: TValue, ty: Ty) -> Option<u64> {
    if v.is_number() {
        return Some(if ty == Ty::U64 {
            moonjet_runtime::num::trunc_u64(v.num())
        } else {
            moonjet_runtime::num::trunc_i64(v.num()) as u64
        });
    }
    int64_ty(v)?;
    // SAFETY: a live int64_t/uint64_t cdata has an 8-byte payload.
    Some(unsafe { moonjet_runtime::ffi::cdata_payload(v).cast::<u64>().read() })
}

/// Why a C call with an argument or result (`what`) of type `ct` is not recorded.
fn c_call_nyi(what: &str, ct: &CType) -> String {
    let kind = match ct.kind {
        Kind::Ptr if ct.is_ref() => "reference",
        Kind::Ptr => "pointer",
        Kind::Array if ct.is_complex() => "complex",
        Kind::Struct | Kind::Array => "aggregate",
        _ => "unsupported",
    };
    format!("NYI: {kind} {what} in a C call")
}

/// Why an FFI access to a C object of type `ct` is not recorded.
fn unsupported_c_type(ct: &CType) -> &'static str {
    match ct.kind {
        Kind::Ptr => "NYI: pointer in C memory",
        Kind::Enum => "NYI: enum in C memory",
        Kind::Array if ct.is_complex() => "NYI: complex number",
        Kind::Array if ct.is_vector() => "NYI: vector",
        // (Reading one gives a reference, which is recorded.)
        Kind::Array | Kind::Struct => "NYI: store of an aggregate",
        _ => "NYI: C type",
    }
}

/// Whether slot `slot` of `pt`'s frame may be an open upvalue at instruction `at`, which
/// code elsewhere could read: the local variable there is one a closure made in its
/// scope captures. (A temporary never is; without debug information, any slot a closure
/// of `pt` captures may be.)
fn may_be_captured(pt: *mut GcProto, at: usize, slot: u32) -> bool {
    // SAFETY: a live prototype.
    let (code, has_vars) = unsafe { ((*pt).bc as *const u32, (*pt).sizevarinfo > 0) };
    let mut scope = if has_vars {
        // SAFETY: as above.
        match unsafe { moonjet_runtime::vm::debug::active_local(pt, at, slot) } {
            Some(v) => v.startpc as usize..v.endpc as usize,
            None => return false,
        }
    } else {
        // SAFETY: as above.
        0..(unsafe { (*pt).sizebc }) as usize
    };
    scope.any(|i| {
        // SAFETY: variable scopes lie inside the bytecode.
        let ins = unsafe { *code.add(i) };
        bc::op(ins) == Op::FNEW as u8 && closure_captures(pt, ins, slot)
    })
}

/// Whether `fv` is a native function the recorder has no IR of its own for (a library
/// function other than the `math`/`bit` builtins, or a Rust callback).
fn is_native_other_than_builtins(fv: TValue) -> bool {
    if !fv.is_func() {
        return false;
    }
    let f = fv.gc_ptr().cast::<GcFunc>();
    // SAFETY: a live function.
    unsafe { !(*f).is_lua() && builtin_of((*f).ffid).is_none() }
}

/// Refuses the native functions a trace must not call, those that need the
/// interpreter: `pcall` and `xpcall` (their function runs in an interpreter frame),
/// `coroutine.yield`, `debug.setlocal` (it changes slots the trace holds) and
/// `jit.flush`.
fn native_callable(fv: TValue) -> Result<(), Abort> {
    use moonjet_runtime::vm::state::ff;
    // SAFETY: a live native function.
    let ffid = unsafe { (*fv.gc_ptr().cast::<GcFunc>()).ffid };
    let refused = [
        ("coroutine", "yield"),
        ("debug", "setlocal"),
        ("jit", "flush"),
    ];
    let refused = ffid == ff::PCALL
        || ffid == ff::XPCALL
        || (ffid != 0
            && refused
                .iter()
                .any(|(lib, name)| builtin_id(lib, name) == Some(ffid)));
    if refused {
        return Err("NYI: call of a function that needs the interpreter".into());
    }
    Ok(())
}

/// The `__index` entry of metatable `mt` when it holds a table: its (interned) key and
/// that table.
///
/// # Safety
/// `mt` is a live table.
unsafe fn index_entry(mt: *mut GcTab) -> Option<(*mut GcStr, *mut GcTab)> {
    // SAFETY: caller promise; the node array has `hmask + 1` nodes.
    unsafe {
        let node = (*mt).node;
        (0..=(*mt).hmask as usize)
            .map(|i| &*node.add(i))
            .find(|n| n.key.is_str() && GcStr::bytes(n.key.gc_ptr().cast()) == b"__index")
            .and_then(|n| Some((n.key.gc_ptr().cast::<GcStr>(), n.val.as_tab()?)))
    }
}

/// Whether the closure `FNEW` instruction `ins` of `pt` makes captures slot `slot`.
fn closure_captures(pt: *mut GcProto, ins: u32, slot: u32) -> bool {
    use moonjet_runtime::proto::uvflag;
    // SAFETY: FNEW's operand is a prototype constant of `pt`; the child lives with it.
    unsafe {
        let child = (*(*pt).kgc.add(bc::d(ins) as usize))
            .gc_ptr()
            .cast::<GcProto>();
        (0..(*child).sizeuv as usize).any(|u| {
            let desc = *(*child).uv.add(u);
            desc & uvflag::LOCAL != 0 && u32::from(desc & 0xff) == slot
        })
    }
}

/// What an instruction does with a slot, for [`Recorder::dead_after`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SlotUse {
    /// Reads it (or may: anything not understood).
    Read,
    /// Writes it without reading it first.
    Written,
    /// Leaves the frame without reading it.
    FrameLeft,
    Untouched,
}

/// What instruction `ins` (opcode `op`) does with slot `s` of its frame (FR2: a call's
/// arguments follow the function and the frame link).
fn slot_use(op: Op, ins: u32, s: u32) -> SlotUse {
    use Op::*;
    use SlotUse::*;
    let (a, b, c, d) = (bc::a(ins), bc::b(ins), bc::c(ins), bc::d(ins));
    let read_if = |cond: bool, otherwise: SlotUse| if cond { Read } else { otherwise };
    match op {
        // Function, arguments; the callee's frame and the results overwrite the rest.
        CALL if s >= a => read_if(s == a || (a + 2..=a + c).contains(&s), Written),
        CALLT => read_if(s == a || (a + 2..=a + d).contains(&s), FrameLeft),
        // Results from `a` on.
        RET0 => FrameLeft,
        RET1 => read_if(s == a, FrameLeft),
        RET => read_if((a..a + d.saturating_sub(1)).contains(&s), FrameLeft),
        // Variable numbers of values from `a` (or the iterator's slots below it) on.
        CALLMT | RETM => read_if(s >= a, FrameLeft),
        CALLM | VARG | UCLO => read_if(s >= a, Untouched),
        TSETM => read_if(s + 1 >= a, Untouched),
        ITERC | ITERN | ISNEXT => read_if(s + 3 >= a, Untouched),
        KNIL if (a..=d).contains(&s) => Written,
        FORI | JFORI | FORL | IFORL | JFORL => read_if((a..=a + 2).contains(&s), Untouched),
        ITERL | IITERL | JITERL => read_if(s == a, Untouched),
        CAT if (b..=c).contains(&s) => Read,
        CAT if s == a => Written,
        // The copy to `a` happens only on one path.
        ISTC | ISFC => read_if(s == d, Untouched),
        _ => {
            let (ma, mb, mcd) = op.modes();
            if [ma, mb, mcd]
                .iter()
                .any(|m| matches!(m, Mode::Base | Mode::RBase))
                && !matches!(op, CALL | KNIL | CAT | LOOP | ILOOP | JLOOP | JMP)
            {
                return Read;
            }
            let cd = if op.has_b() { c } else { d };
            if (ma == Mode::Var && a == s)
                || (mb == Mode::Var && b == s)
                || (mcd == Mode::Var && cd == s)
            {
                Read
            } else if ma == Mode::Dst && a == s {
                Written
            } else {
                Untouched
            }
        }
    }
}
