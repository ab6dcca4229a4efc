//! Installed traces are GC objects (`GcTrace`): the heap's trace registry gives each its
//! number (the one `-jv` prints), keeps it alive while its start prototype lives, and
//! takes it out of service when that prototype dies. The trace object owns a
//! [`TraceData`] (its `TraceCode`): the machine code and what the engine needs to run it.
//!
//! The engine finds a loop's trace through [`TraceIndex`]: loop instruction address ->
//! trace number, checked against the registry on every use, because a trace may have been
//! taken out of service behind the engine's back (the collector does so when the
//! prototype dies), and a dead prototype's memory, its trace number and even its trace
//! object's memory may all be reused by new ones.
//!
//! Retiring a trace: restore the instruction it patched (`JFORL` -> `FORL`,
//! `JLOOP` -> `LOOP`, `JFUNCF` -> `FUNCF`) and flush it to the heap's zombie list. Its code is released later,
//! at a safe point (see `Heap::reap_zombies_if_safe`), so no reference to a
//! [`TraceData`] may be held across anything that can run the collector; [`TraceIndex`]
//! hands them out borrowed from the heap, which makes the compiler check that.

use crate::backend::CompiledTrace;
use crate::ir::{Ins, SnapId, Trace};
use moonjet_gc::object::GcProto;
use moonjet_gc::{GcTrace, Heap, TValue, TraceCode};
use moonjet_runtime::bc::{self, Op};
use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A reference to a trace that stays valid when the trace is retired: trace numbers are
/// reused, so the trace's serial (unique for the engine's life) is checked too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRef {
    pub no: u32,
    pub serial: u64,
}

/// What happens at one of a trace's exits (one per snapshot).
#[derive(Default)]
pub struct Exit {
    /// The trace to go on in when leaving here (a side trace, or for a side trace's link
    /// exit the trace it links to).
    pub link: Cell<Option<TraceRef>>,
    /// Times the exit was taken unlinked since the last side-trace attempt.
    pub hits: Cell<u16>,
    /// Side traces tried from here that aborted.
    pub tries: Cell<u8>,
    /// Whether taking it counts towards a side trace: not for a loop's interrupt exit,
    /// nor for a side trace's link exit.
    pub countable: bool,
}

/// Whether a trace is a root trace (entered from its loop instruction) or a side trace
/// (entered from an exit of another trace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Root {
        /// The opcode of the instruction that enters it before the trace patched it:
        /// `FORL` or `LOOP` for a loop, `FUNCF` (the header) for a function trace.
        start_op: Op,
    },
    Side {
        /// The root trace of the tree this side trace grows from.
        root: u32,
    },
}

/// What the engine keeps for one trace. Owned by the trace object, dropped when the
/// collector releases its code.
pub struct TraceData {
    pub code: CompiledTrace,
    pub serial: u64,
    /// Its trace number, once registered.
    pub number: Cell<u32>,
    pub kind: Kind,
    /// Where the trace starts: its loop instruction (which enters it), or for a side
    /// trace the instruction its parent's exit resumes at.
    pub start: *const u32,
    /// Where the state a trace is entered with resumes in the interpreter: a root trace's
    /// loop body (entry is "about to run the body"); a side trace's start.
    pub entry: *const u32,
    /// Where each snapshot resumes, as addresses in the prototype's bytecode.
    pub resume: Vec<*const u32>,
    /// One per snapshot.
    pub exits: Vec<Exit>,
    /// A root trace: side traces installed in its tree (bounded by `maxside`).
    pub sides: Cell<u32>,
}

impl TraceData {
    /// # Safety
    /// `start` and `entry` are instructions of the live prototype `pt` (for a root trace,
    /// `start` is its `FORL`/`LOOP` or `JFORL`/`JLOOP`), and the trace's snapshot
    /// positions are indices into `pt`'s bytecode.
    pub unsafe fn new(
        code: CompiledTrace,
        serial: u64,
        pt: *mut GcProto,
        (start, entry): (*const u32, *const u32),
        side: Option<Kind>,
        trace: &Trace,
    ) -> TraceData {
        // SAFETY: caller promise.
        let (kind, resume) = unsafe {
            let kind = side.unwrap_or_else(|| {
                let op = bc::op(bc::unpatched(*start));
                Kind::Root {
                    start_op: if op == Op::LOOP as u8 {
                        Op::LOOP
                    } else if op == Op::FUNCF as u8 {
                        Op::FUNCF
                    } else {
                        Op::FORL
                    },
                }
            });
            let resume = trace
                .snaps
                .iter()
                .map(|s| (*pt).bc.add(s.pc as usize) as *const u32)
                .collect();
            (kind, resume)
        };
        let not_counted = trace.link_snap.unwrap_or(trace.loop_snap);
        // An exit after a C call that ran a callback must reach the interpreter (which
        // raises the callback's error, if any): never linked to a side trace. So must
        // one after a native call that raised an error or moved the stack.
        let after_calls: Vec<SnapId> = trace
            .ins
            .iter()
            .filter_map(|i| match *i {
                Ins::CCall { after, .. } | Ins::NativeCall { after, .. } => Some(after),
                _ => None,
            })
            .collect();
        let exits = (0..trace.snaps.len() as SnapId)
            .map(|k| Exit {
                countable: k != not_counted && !after_calls.contains(&k),
                ..Exit::default()
            })
            .collect();
        TraceData {
            code,
            serial,
            number: Cell::new(0),
            kind,
            start,
            entry,
            resume,
            exits,
            sides: Cell::new(0),
        }
    }

    /// The reference to this trace (registered).
    pub fn me(&self) -> TraceRef {
        TraceRef {
            no: self.number.get(),
            serial: self.serial,
        }
    }

    /// The root trace of this trace's tree (its own number for a root trace).
    pub fn root(&self) -> u32 {
        match self.kind {
            Kind::Root { .. } => self.number.get(),
            Kind::Side { root } => root,
        }
    }

    /// Whether this is a function trace (entered when its function is called).
    pub fn is_function(&self) -> bool {
        self.kind
            == Kind::Root {
                start_op: Op::FUNCF,
            }
    }

    /// The opcode that enters a root trace.
    fn entry_op(&self) -> Option<(Op, Op)> {
        match self.kind {
            Kind::Root { start_op: Op::LOOP } => Some((Op::LOOP, Op::JLOOP)),
            Kind::Root {
                start_op: Op::FUNCF,
            } => Some((Op::FUNCF, Op::JFUNCF)),
            Kind::Root { start_op } => Some((start_op, Op::JFORL)),
            Kind::Side { .. } => None,
        }
    }

    /// Make a root trace's loop instruction enter it.
    ///
    /// # Safety
    /// The prototype holding `start` is alive.
    unsafe fn patch_start(&self) {
        let Some((_, jop)) = self.entry_op() else {
            return;
        };
        let p = self.start as *mut u32;
        // SAFETY: caller promise; JFORL/JLOOP keep the operands, so only the opcode
        // byte changes.
        unsafe { *p = (*p & !0xff) | jop as u32 };
    }

    /// Give a root trace's loop instruction back its own opcode, unless something else
    /// (blacklisting) rewrote it since.
    ///
    /// # Safety
    /// The prototype holding `start` is alive.
    unsafe fn restore_start(&self) {
        let Some((op, jop)) = self.entry_op() else {
            return;
        };
        let p = self.start as *mut u32;
        // SAFETY: caller promise; only the opcode byte changes.
        unsafe {
            if bc::op(*p) == jop as u8 {
                *p = (*p & !0xff) | op as u32;
            }
        }
    }
}

impl TraceCode for TraceData {
    fn release(self: Box<Self>) {
        // Unmaps the machine code and frees the resume table.
        drop(self);
    }
}

/// Why a trace could not be put into service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstallError {
    /// The trace object could not be allocated (memory limit).
    NoMemory,
    /// Every trace number is taken.
    RegistryFull,
}

/// A hasher for addresses: they are unique and spread already, so a multiply is enough
/// (the engine looks a loop up each time the loop is entered).
#[derive(Default)]
pub struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64 >> 2).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The engine's index of traces in service.
#[derive(Default)]
pub struct TraceIndex {
    /// Trace number by the address of the loop instruction that enters it. Entries whose
    /// trace went out of service are dropped when met, and all at once when they pile up.
    by_pc: HashMap<usize, u32, BuildHasherDefault<AddressHasher>>,
    /// The last entries looked up, by the loop instruction's address (a direct-mapped
    /// cache in front of `by_pc`: entering traces is frequent). Each hit is checked as
    /// `by_pc`'s entries are.
    recent: [(usize, u32); RECENT],
}

/// The registered trace `no` and its data, if there is one.
/// Entries of [`TraceIndex`]'s cache of recent lookups.
const RECENT: usize = 32;

/// Trace `no`, if it is in service and entered at `pc` of `pt`.
fn entered_at(
    heap: &Heap,
    no: u32,
    pt: *mut GcProto,
    pc: *const u32,
) -> Option<(TraceRef, &TraceData)> {
    match in_service(heap, no) {
        // SAFETY: a registered trace is live.
        Some((tr, data)) if data.start == pc && unsafe { (*tr).startpt } == pt => {
            Some((data.me(), data))
        }
        _ => None,
    }
}

fn in_service(heap: &Heap, no: u32) -> Option<(*mut GcTrace, &TraceData)> {
    let tr = heap.trace(no);
    if tr.is_null() {
        return None;
    }
    // SAFETY: registered traces are live and still have their code (the registry
    // accepts only traces with code, and code is released only from the zombie list,
    // whose traces are unregistered); `ext` points at that code's boxed TraceData (set
    // by `TraceIndex::install` before registering). It lives until the heap releases it,
    // which takes `&mut Heap`, so borrowing it from `heap` is sound.
    unsafe {
        if (*tr).code.is_none() || (*tr).ext.is_null() {
            return None;
        }
        Some((tr, &*((*tr).ext as *const TraceData)))
    }
}

impl TraceIndex {
    /// Make `data` a trace object started in `pt`, embedding `gc_consts`, register it,
    /// and (a root trace) patch its loop instruction to enter it. Returns its number.
    ///
    /// # Safety
    /// `pt` is live and `data` was made for it.
    pub unsafe fn install(
        &mut self,
        heap: &mut Heap,
        pt: *mut GcProto,
        data: TraceData,
        gc_consts: &[TValue],
    ) -> Result<u32, InstallError> {
        let data = Box::new(data);
        let data_ptr: *const TraceData = &*data;
        // Its exits name it by this (the box does not move).
        data.code.links().set_owner(data_ptr as usize);
        let (start, is_root) = (data.start, matches!(data.kind, Kind::Root { .. }));
        // new_trace never runs the collector: nothing here can be freed meanwhile.
        let tr = heap
            .new_trace(pt, gc_consts, data)
            .map_err(|_| InstallError::NoMemory)?;
        // SAFETY: `tr` is the live trace just made; the box behind `data_ptr` is owned by
        // it and does not move.
        unsafe {
            (*tr).ext = data_ptr as *mut std::ffi::c_void;
            let Some(no) = heap.register_trace(tr) else {
                // Out of service at once: its code goes at the next safe point.
                heap.flush_trace(tr);
                return Err(InstallError::RegistryFull);
            };
            (*data_ptr).number.set(no);
            if is_root {
                (*data_ptr).patch_start();
                self.by_pc.insert(start as usize, no);
                self.prune(heap);
            }
            Ok(no)
        }
    }

    /// The root trace entered at `pc` of the running prototype `pt`, if one is in
    /// service.
    pub fn lookup<'h>(
        &mut self,
        heap: &'h Heap,
        pt: *mut GcProto,
        pc: *const u32,
    ) -> Option<(TraceRef, &'h TraceData)> {
        let at = pc as usize;
        let slot = (at >> 2) % RECENT;
        let (seen, no) = self.recent[slot];
        if seen == at {
            if let Some(hit) = entered_at(heap, no, pt, pc) {
                return Some(hit);
            }
        }
        let no = *self.by_pc.get(&at)?;
        match entered_at(heap, no, pt, pc) {
            Some(hit) => {
                self.recent[slot] = (at, no);
                Some(hit)
            }
            None => {
                self.by_pc.remove(&at);
                None
            }
        }
    }

    /// The trace `r` refers to, if it is still in service.
    pub fn get(heap: &Heap, r: TraceRef) -> Option<&TraceData> {
        in_service(heap, r.no)
            .map(|(_, d)| d)
            .filter(|d| d.serial == r.serial)
    }

    /// The root of `r`'s tree, if both are in service.
    pub fn root_of(heap: &Heap, r: TraceRef) -> Option<&TraceData> {
        let root = Self::get(heap, r)?.root();
        in_service(heap, root).map(|(_, d)| d)
    }

    /// The root of `r`'s tree, if `r` is in service and the root is a function trace.
    pub fn function_root(heap: &Heap, r: TraceRef) -> Option<&TraceData> {
        let root = Self::get(heap, r)?.root();
        in_service(heap, root)
            .map(|(_, d)| d)
            .filter(|d| d.is_function())
    }

    /// Drop the entries of traces no longer in service once they outnumber the live ones.
    fn prune(&mut self, heap: &Heap) {
        if self.by_pc.len() > 2 * heap.live_traces() + 16 {
            self.by_pc.retain(|&pc, &mut no| {
                in_service(heap, no).is_some_and(|(_, d)| d.start as usize == pc)
            });
        }
    }

    /// Take every trace out of service.
    pub fn flush_all(&mut self, heap: &mut Heap) {
        for no in heap.trace_numbers() {
            if let Some((_, data)) = in_service(heap, no) {
                // SAFETY: a registered trace's start prototype is not freed: the
                // collector takes a trace out of service before it frees its prototype.
                unsafe { data.restore_start() };
            }
        }
        heap.flush_all_traces();
        self.by_pc.clear();
    }

    /// Take the traces started in `pt` out of service.
    pub fn flush_proto(&mut self, heap: &mut Heap, pt: *mut GcProto) {
        for no in heap.trace_numbers() {
            let tr = heap.trace(no);
            // SAFETY: registered traces are live.
            if !tr.is_null() && unsafe { (*tr).startpt } == pt {
                self.retire_one(heap, no);
            }
        }
    }

    /// Take root trace `no` and its side traces out of service (nothing if `no` is not a
    /// root trace in service).
    pub fn retire_root(&mut self, heap: &mut Heap, no: u32) {
        if !in_service(heap, no).is_some_and(|(_, d)| matches!(d.kind, Kind::Root { .. })) {
            return;
        }
        for n in heap.trace_numbers() {
            if in_service(heap, n).is_some_and(|(_, d)| d.root() == no) {
                self.retire_one(heap, n);
            }
        }
    }

    /// Take trace `no` out of service, if it is in service. Traces linking to it stop
    /// following the link: their exits that jump to it are unlinked now, before its code
    /// can be released (links by reference are checked by serial).
    ///
    /// Only traces started in the same prototype link to each other (a trace links to
    /// loops of the frame it was recorded in), so when the collector retires the traces
    /// of a dead prototype, no live trace links to them.
    fn retire_one(&mut self, heap: &mut Heap, no: u32) {
        let Some((tr, data)) = in_service(heap, no) else {
            return;
        };
        for n in heap.trace_numbers() {
            if let Some((_, other)) = in_service(heap, n) {
                other.code.links().unlink(&data.code);
            }
        }
        let (start, is_root) = (data.start, matches!(data.kind, Kind::Root { .. }));
        // SAFETY: as in `flush_all`; `tr` is registered, hence live.
        unsafe {
            data.restore_start();
            heap.flush_trace(tr);
        }
        if is_root {
            self.by_pc.remove(&(start as usize));
        }
    }
}
