//! How the interpreter reaches the JIT: a trait object the state owns (dependency
//! inversion: moonjet-jit depends on this crate, not the other way round), hot counters,
//! the loop instructions that enter traces, and the bytecode patches the JIT leaves.
//!
//! Flow: a `FORL` that loops (or a `LOOP`, the top of a `while`/`repeat` loop) counts
//! down a hot counter; when it runs out the engine may start recording, which sets
//! [`mask::RECORD`] so the instrumented dispatch loop hands it each instruction before it
//! runs. When the recorder comes back to that instruction it compiles the trace and turns
//! it into `JFORL`/`JLOOP` (same operands); those enter the trace (`JFORL` after its loop
//! step), which returns the bytecode position to go on at. A loop that keeps failing to
//! record is blacklisted: `IFORL`/`ILOOP` never count again.
//!
//! Hot counting is luajit's: counters start at `2*hotloop - 1`, a loop's back-edge
//! subtracts [`HOTCOUNT_LOOP`], and the borrow (the 56th back-edge with the default
//! `hotloop`) makes the loop hot. The JIT's penalties for aborted recordings are counter
//! values in the same units.

use super::hook::mask;
use super::state::{LuaResult, State};
use crate::bc::{self, Op};
use crate::proto::flags;
use moonjet_gc::object::GcProto;
use moonjet_gc::value::itype;
use moonjet_gc::TValue;
use std::sync::atomic::Ordering;

/// Loop iterations before a loop is recorded (luajit's `hotloop`).
pub const HOTLOOP: u16 = 56;
/// What a loop back-edge takes off its hot counter (luajit's `HOTCOUNT_LOOP`).
pub const HOTCOUNT_LOOP: u16 = 2;
/// What a call of a Lua function takes off the counter of its header
/// (luajit's `HOTCOUNT_CALL`): functions get hot after twice as many calls.
pub const HOTCOUNT_CALL: u16 = 1;
/// Hot counters: a small table indexed by the loop instruction's address, as luajit's.
pub const HOTCOUNT_SIZE: usize = 64;
/// Traces alive at once before the cache is flushed (luajit's `maxtrace`).
pub const MAXTRACE: u32 = 1000;
/// Times a trace exit is taken before a side trace is recorded from it (`hotexit`).
pub const HOTEXIT: u16 = 10;
/// Side traces tried from one exit before it is given up (`tryside`).
pub const TRYSIDE: u8 = 4;
/// Side traces in one root trace's tree (`maxside`): past it, hot exits stay exits.
pub const MAXSIDE: u32 = 100;

/// What the recorder says after seeing an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recording {
    /// Go on: execute the instruction and show the next one.
    Continue,
    /// Recording ended (a trace was made or the recording was aborted).
    Stop,
}

/// What `-jdump` shows, by luajit's `jit.dump` option letters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DumpFlags {
    /// `t`: a line where each trace starts and where it stops or aborts.
    pub trace: bool,
    /// `b`: the bytecode recorded.
    pub bytecode: bool,
    /// `i`: the IR.
    pub ir: bool,
    /// `s`: the snapshots (within the IR with `i`, else as a list of their own).
    pub snapshots: bool,
    /// `m`: the machine code.
    pub mcode: bool,
    /// `x`: each exit a trace leaves to the interpreter by.
    pub exits: bool,
}

impl DumpFlags {
    /// luajit's reading of a `jit.dump` option string: without one (`None` or empty),
    /// `tbim`; a leading `+` adds letters to that and a leading `-` takes them away,
    /// else the letters replace it. Letters for what moonjet has no counterpart of
    /// (register allocation, aborted traces' IR, colours) are ignored, and so are
    /// unknown ones, as luajit does.
    pub fn parse(opt: Option<&[u8]>) -> DumpFlags {
        let default = DumpFlags {
            trace: true,
            bytecode: true,
            ir: true,
            mcode: true,
            ..DumpFlags::default()
        };
        let Some(opt) = opt.filter(|o| !o.is_empty()) else {
            return default;
        };
        let (mut flags, on) = match opt[0] {
            b'+' => (default, true),
            b'-' => (default, false),
            _ => (DumpFlags::default(), true),
        };
        for &c in opt {
            match c {
                b't' => flags.trace = on,
                b'b' => flags.bytecode = on,
                b'i' => flags.ir = on,
                b's' => flags.snapshots = on,
                b'm' => flags.mcode = on,
                b'x' | b'X' => flags.exits = on,
                _ => {}
            }
        }
        flags
    }

    /// Whether anything about traces is shown: luajit prints the start and stop lines
    /// with any of `t`, `b`, `i`, `s`, `m` (`x` alone shows exits only).
    pub fn shows_traces(&self) -> bool {
        self.trace || self.bytecode || self.ir || self.snapshots || self.mcode
    }
}

/// Where `-jdump` writes.
pub enum DumpOut {
    /// The state's standard output (`st.out`), in order with what the program prints.
    Stdout,
    Stderr,
    File(std::fs::File),
}

/// Counters an engine reports (for tests, `-jv`-like tools and benchmarks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitStats {
    /// Traces made (installed) so far.
    pub traces: usize,
    /// Recordings aborted so far.
    pub aborts: usize,
    /// Loops blacklisted after repeated aborts.
    pub blacklisted: usize,
    /// Flushes of the whole trace cache (`jit.flush()`, a full cache).
    pub flushes: usize,
}

/// The JIT as the interpreter sees it.
///
/// # Safety (of the methods taking pointers)
/// `pt` is the live prototype running in the live frame at `base` of the running thread,
/// and `pc` points at an instruction of `pt`'s bytecode.
pub trait JitEngine {
    /// The loop of the `FORL` or `LOOP` at `pc` (in `pt`, frame at `base`) is hot and
    /// about to run its body again: start recording it? (false: not now, or not
    /// supported). A recording the engine still holds is stale (the interpreter stopped
    /// it) and is dropped.
    ///
    /// # Safety
    /// As for the trait.
    unsafe fn start_loop(
        &mut self,
        st: &mut State,
        pt: *mut GcProto,
        base: *mut TValue,
        pc: *const u32,
    ) -> bool;
    /// The Lua function `pt`, just called (its frame at `base`, about to run its first
    /// instruction after the header), is hot: start recording a function trace?
    ///
    /// # Safety
    /// As for the trait.
    unsafe fn start_func(&mut self, st: &mut State, pt: *mut GcProto, base: *mut TValue) -> bool;
    /// While recording: the instruction at `pc` is about to run in the frame at `base`.
    ///
    /// # Safety
    /// As for the trait.
    unsafe fn record(
        &mut self,
        st: &mut State,
        pt: *mut GcProto,
        base: *mut TValue,
        pc: *const u32,
    ) -> Recording;
    /// Run the trace entered at the `JFORL` or `JLOOP` at `pc` (about to run the loop
    /// body; a `for` loop's control slots are updated), or at the `JFUNCF` header at `pc`
    /// (its function just called). Returns where the interpreter goes on: the frame (a
    /// deeper one if the trace left inside calls it made, whose frames it wrote) and the
    /// instruction; `None` if there is no trace there any more (then the code runs
    /// interpreted).
    /// Callers go through [`enter_loop`], which marks trace code as running. The engine
    /// may go on from trace to linked trace before it returns, and may start recording
    /// a side trace at the exit it returns ([`State::begin_recording`]).
    ///
    /// # Safety
    /// As for the trait; the loop's control slots are up to date.
    unsafe fn enter(
        &mut self,
        st: &mut State,
        pt: *mut GcProto,
        base: *mut TValue,
        pc: *const u32,
    ) -> Option<(*mut TValue, *const u32)>;
    /// Drop a recording in progress, silently (the JIT was switched or flushed).
    fn abandon_recording(&mut self, st: &mut State);
    /// `jit.flush()` and a full trace cache: take every trace out of service, restore the
    /// loop instructions they patched, forget all penalties.
    fn flush_all(&mut self, st: &mut State);
    /// Take the traces started in `pt` out of service (`jit.flush(func)`,
    /// `jit.off(func)`), restoring its loop instructions.
    ///
    /// # Safety
    /// `pt` is a live prototype.
    unsafe fn flush_proto(&mut self, st: &mut State, pt: *mut GcProto);
    /// `jit.flush(n)`: take root trace number `n` out of service, if there is one.
    fn flush_trace(&mut self, st: &mut State, no: u32);
    /// `-jv`: report traces and aborts on stderr.
    fn set_verbose(&mut self, on: bool);
    /// `-jdump`: show each trace's bytecode, IR and machine code as it is made (`None`:
    /// stop).
    fn set_dump(&mut self, dump: Option<(DumpFlags, DumpOut)>);
    fn stats(&self) -> JitStats;
}

/// The JIT part of a state.
pub struct JitState {
    /// On or off is [`mask::JIT_OFF`] in the hook mask, where the dispatch loop's
    /// back-edges see it with the hook bits (a state without an engine is always off).
    pub engine: Option<Box<dyn JitEngine>>,
    /// Hot counters for loops, counting down by [`HOTCOUNT_LOOP`] per back-edge.
    pub hotcount: [u16; HOTCOUNT_SIZE],
    /// `hotloop` as set by `jit.opt.start`.
    pub hotloop: u16,
    /// `maxtrace` as set by `jit.opt.start`: traces alive at once before a flush.
    pub maxtrace: u32,
    /// `hotexit` and `tryside` as set by `jit.opt.start`.
    pub hotexit: u16,
    pub tryside: u8,
    /// `maxside` as set by `jit.opt.start`.
    pub maxside: u32,
    /// Optimisation flags on (bit i: `libs::jit::FLAGS[i]`); all by default (-O3).
    pub opt_flags: u16,
}

impl Default for JitState {
    fn default() -> Self {
        JitState {
            engine: None,
            hotcount: [hotcount_start(HOTLOOP); HOTCOUNT_SIZE],
            hotloop: HOTLOOP,
            maxtrace: MAXTRACE,
            hotexit: HOTEXIT,
            tryside: TRYSIDE,
            maxside: MAXSIDE,
            opt_flags: u16::MAX,
        }
    }
}

/// A fresh counter: the borrow comes on the `hotloop`-th back-edge.
fn hotcount_start(hotloop: u16) -> u16 {
    hotloop.saturating_mul(HOTCOUNT_LOOP).saturating_sub(1)
}

#[inline(always)]
pub(crate) fn hot_slot(pc: *const u32) -> usize {
    (pc as usize >> 2) & (HOTCOUNT_SIZE - 1)
}

impl JitState {
    /// Set `hotloop` (at least 1, at most what a counter holds) and restart every counter.
    pub fn set_hotloop(&mut self, hotloop: u32) {
        self.hotloop = hotloop.clamp(1, (u16::MAX / HOTCOUNT_LOOP) as u32) as u16;
        self.hotcount = [hotcount_start(self.hotloop); HOTCOUNT_SIZE];
    }

    /// Let the loop at `pc` count `n` more units (back-edges take [`HOTCOUNT_LOOP`])
    /// before it is hot again: a penalty after an aborted recording.
    pub fn set_hotcount(&mut self, pc: *const u32, n: u16) {
        self.hotcount[hot_slot(pc)] = n;
    }
}

impl State {
    /// Install a JIT engine and turn it on.
    pub fn set_jit(&mut self, engine: Box<dyn JitEngine>) {
        self.jit.engine = Some(engine);
        self.hook.set_jit_off(false);
    }

    /// Whether compiled code runs (an engine is installed and `jit.on`).
    pub fn jit_enabled(&self) -> bool {
        self.hook.mask() & mask::JIT_OFF == 0 && self.jit.engine.is_some()
    }

    /// Turn the JIT on or off (no effect without an engine).
    pub fn set_jit_enabled(&mut self, on: bool) {
        let on = on && self.jit.engine.is_some();
        self.hook.set_jit_off(!on);
        self.abandon_recording();
    }

    /// Let the recorder see each instruction from the next one on (the engine started a
    /// recording while the interpreter does not expect it: at a hot trace exit). The
    /// dispatch loop switches to its instrumented form when it checks the mask, which it
    /// does right after a trace returns.
    pub fn begin_recording(&self) {
        self.hook
            .interrupt_word()
            .fetch_or(mask::RECORD, Ordering::Relaxed);
    }

    pub(crate) fn stop_recording(&self) {
        self.hook
            .interrupt_word()
            .fetch_and(!mask::RECORD, Ordering::Relaxed);
    }

    /// Stop a recording in progress, if any, without a word (luajit does so on any
    /// change of the JIT's mode).
    pub fn abandon_recording(&mut self) {
        self.stop_recording();
        self.with_engine(|e, st| e.abandon_recording(st));
    }

    /// Run `f` with the engine taken out of the state (it gets the state itself).
    pub(crate) fn with_engine<R>(
        &mut self,
        f: impl FnOnce(&mut dyn JitEngine, &mut State) -> R,
    ) -> Option<R> {
        let mut engine = self.jit.engine.take()?;
        let r = f(engine.as_mut(), self);
        self.jit.engine = Some(engine);
        Some(r)
    }

    /// Run `f` on the engine, if there is one.
    pub fn with_jit_engine(&mut self, f: impl FnOnce(&mut dyn JitEngine)) {
        if let Some(e) = self.jit.engine.as_mut() {
            f(e.as_mut());
        }
    }

    /// The engine's counters (all zero without an engine).
    pub fn jit_stats(&self) -> JitStats {
        self.jit
            .engine
            .as_ref()
            .map_or(JitStats::default(), |e| e.stats())
    }

    /// Traces in service (registered), and traces out of service whose code is not
    /// released yet.
    pub fn jit_trace_counts(&self) -> (usize, usize) {
        (self.heap.live_traces(), self.heap.zombie_count())
    }

    /// `jit.flush()`.
    pub fn jit_flush(&mut self) {
        self.abandon_recording();
        self.with_engine(|e, st| e.flush_all(st));
    }

    /// `jit.flush(n)`.
    pub fn jit_flush_trace(&mut self, no: u32) {
        self.abandon_recording();
        self.with_engine(|e, st| e.flush_trace(st, no));
    }

    /// `jit.on/off/flush(func [, recursive])` on the prototype `pt`: to it itself
    /// (`scope.this`) and/or to every prototype nested in it (`scope.nested`).
    ///
    /// # Safety
    /// `pt` is a live prototype.
    pub unsafe fn jit_set_proto_mode(&mut self, pt: *mut GcProto, mode: ProtoMode, scope: Scope) {
        self.abandon_recording();
        let mut todo: Vec<(*mut GcProto, bool)> = vec![(pt, scope.this)];
        while let Some((p, apply)) = todo.pop() {
            // SAFETY: `pt` is live (caller promise) and keeps its nested prototypes,
            // which are GC constants of their parents, alive.
            unsafe {
                if apply {
                    self.set_one_proto_mode(p, mode);
                }
                if scope.nested && (*p).flags & flags::CHILD as u32 != 0 {
                    for i in 0..(*p).sizekgc as usize {
                        let k = *(*p).kgc.add(i);
                        if k.has_itype(itype::PROTO) {
                            todo.push((k.gc_ptr().cast(), true));
                        }
                    }
                }
            }
        }
    }

    /// # Safety
    /// `pt` is a live prototype.
    unsafe fn set_one_proto_mode(&mut self, pt: *mut GcProto, mode: ProtoMode) {
        // SAFETY: caller promise.
        unsafe {
            match mode {
                ProtoMode::On => {
                    (*pt).flags &= !(flags::NOJIT as u32);
                    reenable_proto(pt);
                }
                ProtoMode::Off | ProtoMode::Flush => {
                    if mode == ProtoMode::Off {
                        (*pt).flags |= flags::NOJIT as u32;
                    }
                    self.with_engine(|e, st| e.flush_proto(st, pt));
                }
            }
        }
    }
}

/// What `jit.on/off/flush(func)` does to a prototype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoMode {
    /// Compile it again (undo `Off` and blacklisting).
    On,
    /// Flush its traces and never compile it.
    Off,
    /// Flush its traces.
    Flush,
}

/// Which prototypes `jit.on/off/flush(func, recursive)` affects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The function's own prototype.
    pub this: bool,
    /// Every prototype nested in it, at any depth.
    pub nested: bool,
}

/// Never count the loop at `pc` again: `FORL` (or a stale `JFORL`) becomes `IFORL`,
/// `LOOP`/`JLOOP` becomes `ILOOP`, a function header `FUNCF`/`JFUNCF` becomes `IFUNCF`
/// (luajit's blacklisting). The prototype is flagged so that `jit.on(func)` knows to
/// undo it.
///
/// # Safety
/// `pc` points at a loop instruction of the live prototype `pt`.
pub unsafe fn blacklist_loop(pt: *mut GcProto, pc: *const u32) {
    // SAFETY: caller promise; only the opcode byte changes, the operands stay.
    unsafe {
        let p = pc as *mut u32;
        let iop = match Op::from_u8(bc::op(*p)) {
            Some(Op::FORL | Op::JFORL) => Op::IFORL,
            Some(Op::LOOP | Op::JLOOP) => Op::ILOOP,
            Some(Op::FUNCF | Op::JFUNCF) => Op::IFUNCF,
            _ => return,
        };
        *p = (*p & !0xff) | iop as u32;
        (*pt).flags |= flags::ILOOP as u32;
    }
}

/// Undo blacklisting in `pt`: every `IFORL`/`ILOOP`/`IFUNCF` counts again.
///
/// # Safety
/// `pt` is a live prototype.
pub unsafe fn reenable_proto(pt: *mut GcProto) {
    // SAFETY: caller promise: `bc` holds `sizebc` instructions.
    unsafe {
        if (*pt).flags & flags::ILOOP as u32 == 0 {
            return;
        }
        (*pt).flags &= !(flags::ILOOP as u32);
        for i in 0..(*pt).sizebc as usize {
            let p = (*pt).bc.add(i);
            let op = match Op::from_u8(bc::op(*p)) {
                Some(Op::IFORL) => Op::FORL,
                Some(Op::ILOOP) => Op::LOOP,
                Some(Op::IFUNCF) => Op::FUNCF,
                _ => continue,
            };
            *p = (*p & !0xff) | op as u32;
        }
    }
}

/// The `JFORL`/`JLOOP` at `pc` is about to run its loop body, with the JIT on: run its
/// trace (`Some`: where the interpreter goes on). A loop whose trace is no longer in
/// service counts again, as a `FORL`/`LOOP` would.
///
/// # Safety
/// As for [`JitEngine`]: the interpreter's live prototype, frame and loop instruction,
/// whose control slots are up to date.
#[inline(never)]
pub(crate) unsafe fn enter_loop(
    st: &mut State,
    pt: *mut GcProto,
    base: *mut TValue,
    pc: *const u32,
) -> LuaResult<Option<(*mut TValue, *const u32)>> {
    if st.hook.mask() != 0 {
        // A recording (which must not see trace code run), a hook or an interrupt: the
        // interpreter runs the loop itself, uncounted.
        return Ok(None);
    }
    // SAFETY: forwarded caller promise.
    let next = unsafe { run_trace(st, pt, base, pc) }?;
    if next.is_none() {
        // SAFETY: forwarded caller promise.
        unsafe { count_loop(st, pt, base, pc) };
    }
    Ok(next)
}

/// Run the trace entered at `at` (a `JFORL`/`JLOOP`, or a `JFUNCF` header) through the
/// engine (the hook mask is clear). Trace code is marked as running meanwhile, so no zombie's code is released under it.
/// An error a native function the trace called raised comes back as `Err`, to be raised
/// where that call was (the trace left with the frame as the call found it).
/// Out of line: a trace entry is rare next to what the trace runs, and the dispatch
/// loop's registers are for the interpreter.
///
/// # Safety
/// As for [`JitEngine::enter`].
#[inline(never)]
unsafe fn run_trace(
    st: &mut State,
    pt: *mut GcProto,
    base: *mut TValue,
    at: *const u32,
) -> LuaResult<Option<(*mut TValue, *const u32)>> {
    st.savedpc = at.wrapping_add(1);
    st.heap.trace_code_entered();
    // SAFETY: forwarded caller promise.
    let next = st
        .with_engine(|e, st| unsafe { e.enter(st, pt, base, at) })
        .flatten();
    st.heap.trace_code_left();
    if let Some(t) = st.trace_throw.take() {
        return Err(t);
    }
    if crate::ffi::callback::error_pending(st) {
        // A C call of the trace ran a callback that failed: the trace left right after
        // the call, and the interpreter raises the error there.
        st.raise_callback_error();
    }
    Ok(next)
}

/// Take `units` off the hot counter of the code at `at`; true when it runs out (the
/// borrow), which makes the code hot.
#[inline(always)]
fn count_down(st: &mut State, at: *const u32, units: u16) -> bool {
    let c = &mut st.jit.hotcount[hot_slot(at)];
    let (left, borrow) = c.overflowing_sub(units);
    *c = left;
    borrow
}

/// Count one back-edge of the loop at `pc` (with the JIT on); the borrow of its hot
/// counter makes it hot.
///
/// # Safety
/// As for [`JitEngine`]: the interpreter's live prototype, frame and loop instruction.
#[inline(always)]
pub(crate) unsafe fn count_loop(
    st: &mut State,
    pt: *mut GcProto,
    base: *mut TValue,
    pc: *const u32,
) {
    if count_down(st, pc, HOTCOUNT_LOOP) {
        // SAFETY: forwarded caller promise.
        unsafe { loop_hot(st, pt, base, pc) };
    }
}

/// A `FORL`/`LOOP` loop is about to run its body again and got hot: start recording it.
/// Returns true if recording started.
///
/// # Safety
/// As for [`JitEngine`]: the interpreter's live prototype, frame and `FORL`.
#[cold]
pub(crate) unsafe fn loop_hot(
    st: &mut State,
    pt: *mut GcProto,
    base: *mut TValue,
    pc: *const u32,
) -> bool {
    // SAFETY: forwarded caller promise (for `got_hot` and `start_loop`).
    unsafe { got_hot(st, pt, pc, |e, st| e.start_loop(st, pt, base, pc)) }
}

/// The code at `at` of the running prototype `pt` (a loop instruction or the function
/// header) got hot: its counter starts over, and `start` asks the engine to record it,
/// unless a recording runs already or `jit.off(func)` said never (then the code is
/// blacklisted, lazily, as luajit does). Returns true if recording started.
///
/// # Safety
/// `at` is an instruction of the live prototype `pt`.
unsafe fn got_hot(
    st: &mut State,
    pt: *mut GcProto,
    at: *const u32,
    start: impl FnOnce(&mut dyn JitEngine, &mut State) -> bool,
) -> bool {
    st.savedpc = at.wrapping_add(1);
    st.jit
        .set_hotcount(at, st.jit.hotloop.saturating_mul(HOTCOUNT_LOOP));
    if st.hook.mask() & mask::RECORD != 0 {
        return false;
    }
    // SAFETY: caller promise.
    if unsafe { (*pt).flags } & flags::NOJIT as u32 != 0 {
        // SAFETY: caller promise.
        unsafe { blacklist_loop(pt, at) };
        return false;
    }
    let started = st.with_engine(start).unwrap_or(false);
    if started {
        st.begin_recording();
    }
    started
}

/// The Lua function `pt` was just called (frame at `base`, set up, about to run its first
/// instruction) with the JIT on and the hook mask clear: count the call towards a function trace, or run the
/// one its `JFUNCF` header enters. `Some`: where the interpreter goes on (as
/// [`JitEngine::enter`]).
///
/// # Safety
/// As for [`JitEngine`]: `pt`'s frame at `base` is the running one.
#[inline(always)]
pub(crate) unsafe fn function_entry(
    st: &mut State,
    pt: *mut GcProto,
    base: *mut TValue,
) -> LuaResult<Option<(*mut TValue, *const u32)>> {
    // SAFETY: caller promise; instruction 0 is the header.
    let header = unsafe { (*pt).bc };
    let op = bc::op(unsafe { *header });
    if op == Op::JFUNCF as u8 {
        // SAFETY: forwarded caller promise.
        let next = unsafe { run_trace(st, pt, base, header) }?;
        if next.is_some() {
            return Ok(next);
        }
        // No trace in service there any more: count as a `FUNCF` would.
    } else if op != Op::FUNCF as u8 {
        return Ok(None);
    }
    if count_down(st, header, HOTCOUNT_CALL) {
        // SAFETY: forwarded caller promise (for `got_hot` and `start_func`).
        unsafe { got_hot(st, pt, header, |e, st| e.start_func(st, pt, base)) };
    }
    Ok(None)
}
