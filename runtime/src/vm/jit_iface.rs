//! How the interpreter reaches the JIT: a trait object the state owns (dependency
//! inversion: moonjet-jit depends on this crate, not the other way round), hot counters,
//! and the loop instructions that enter traces.
//!
//! Flow: a `FORL` that loops (or a `LOOP`, the top of a `while`/`repeat` loop) counts
//! down a hot counter; at zero the engine may start recording, which sets
//! [`mask::RECORD`] so the instrumented dispatch loop hands it each instruction before it
//! runs. When the recorder comes back to that instruction it compiles the trace and turns
//! it into `JFORL`/`JLOOP` (same operands); those enter the trace (`JFORL` after its loop
//! step), which returns the bytecode position to go on at.

use super::hook::mask;
use super::state::State;
use moonjet_gc::object::GcProto;
use moonjet_gc::TValue;
use std::sync::atomic::Ordering;

/// Loop iterations before a loop is recorded (luajit's `hotloop`).
pub const HOTLOOP: u16 = 56;
/// Hot counters: a small table indexed by the loop instruction's address, as luajit's.
pub const HOTCOUNT_SIZE: usize = 64;

/// What the recorder says after seeing an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recording {
    /// Go on: execute the instruction and show the next one.
    Continue,
    /// Recording ended (a trace was made or the recording was aborted).
    Stop,
}

/// The JIT as the interpreter sees it.
///
/// # Safety (of the methods taking pointers)
/// `pt` is the live prototype running in the live frame at `base` of the running thread,
/// and `pc` points at an instruction of `pt`'s bytecode.
pub trait JitEngine {
    /// The loop of the `FORL` or `LOOP` at `pc` (in `pt`, frame at `base`) is hot and
    /// about to run its body again: start recording it? (false: blacklisted or not
    /// supported)
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
    /// body; a `for` loop's control slots are updated). Returns where the interpreter goes
    /// on, or `None` if there is no trace there any more (then the body runs interpreted).
    ///
    /// # Safety
    /// As for the trait; the loop's control slots are up to date.
    unsafe fn enter(
        &mut self,
        st: &mut State,
        base: *mut TValue,
        pc: *const u32,
    ) -> Option<*const u32>;
    /// `jit.flush()`: forget every trace.
    fn flush(&mut self);
    /// `-jv`: report traces and aborts on stderr.
    fn set_verbose(&mut self, on: bool);
    /// Counters for `jit.status`-style reports: (traces, aborts).
    fn stats(&self) -> (usize, usize);
}

/// The JIT part of a state.
pub struct JitState {
    /// On or off is [`mask::JIT_OFF`] in the hook mask, where the dispatch loop's
    /// back-edges see it with the hook bits (a state without an engine is always off).
    pub engine: Option<Box<dyn JitEngine>>,
    /// Hot counters for loops, counting down to zero.
    pub hotcount: [u16; HOTCOUNT_SIZE],
    /// `hotloop` as set by `jit.opt.start`.
    pub hotloop: u16,
}

impl Default for JitState {
    fn default() -> Self {
        JitState {
            engine: None,
            hotcount: [HOTLOOP; HOTCOUNT_SIZE],
            hotloop: HOTLOOP,
        }
    }
}

#[inline(always)]
pub(crate) fn hot_slot(pc: *const u32) -> usize {
    (pc as usize >> 2) & (HOTCOUNT_SIZE - 1)
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
        if !on {
            self.stop_recording();
        }
    }

    pub(crate) fn stop_recording(&self) {
        self.hook
            .interrupt_word()
            .fetch_and(!mask::RECORD, Ordering::Relaxed);
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

    /// (traces made, recordings aborted) so far.
    pub fn jit_stats(&self) -> (usize, usize) {
        self.jit.engine.as_ref().map_or((0, 0), |e| e.stats())
    }

    /// `jit.flush()`.
    pub fn jit_flush(&mut self) {
        self.stop_recording();
        self.with_engine(|e, _| e.flush());
    }
}

/// The `JFORL`/`JLOOP` at `pc` is about to run its loop body, with the JIT on: run its
/// trace (`Some`: where the interpreter goes on). A trace that was flushed counts the
/// loop again, as a `FORL`/`LOOP` would. Out of line: a trace entry is rare next to the
/// iterations the trace runs, and the dispatch loop's registers are for the interpreter.
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
) -> Option<*const u32> {
    st.savedpc = pc.wrapping_add(1);
    // SAFETY: forwarded caller promise.
    if let Some(Some(p)) = st.with_engine(|e, st| unsafe { e.enter(st, base, pc) }) {
        return Some(p);
    }
    let c = &mut st.jit.hotcount[hot_slot(pc)];
    *c = c.wrapping_sub(1);
    if *c == 0 {
        // SAFETY: forwarded caller promise.
        unsafe { loop_hot(st, pt, base, pc) };
    }
    None
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
    st.savedpc = pc.wrapping_add(1);
    let slot = hot_slot(pc);
    st.jit.hotcount[slot] = st.jit.hotloop;
    if st.hook.mask() & mask::RECORD != 0 {
        return false;
    }
    let start = st
        // SAFETY: forwarded caller promise.
        .with_engine(|e, st| unsafe { e.start_loop(st, pt, base, pc) })
        .unwrap_or(false);
    if start {
        st.hook
            .interrupt_word()
            .fetch_or(mask::RECORD, Ordering::Relaxed);
    }
    start
}
