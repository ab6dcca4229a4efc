//! Debug hooks (`debug.sethook`): call, return, line and count events.
//!
//! As in luajit, there is one hook for the whole state (setting it for a coroutine sets it
//! for all). The dispatch loop has a second instantiation that runs the line and count
//! checks before every instruction and the return hook at returns; the plain loop
//! switches to it at the next call, return or loop back-edge after a hook is set
//! (see `interp::execute_with`). Call hooks fire from `precall`, shared by both.

use super::state::{InterruptFn, InterruptHandler, LuaResult, State};
use moonjet_gc::object::GcProto;
use moonjet_gc::TValue;
use std::sync::atomic::{AtomicU8, Ordering};

pub mod mask {
    pub const CALL: u8 = 1;
    pub const RET: u8 = 2;
    pub const LINE: u8 = 4;
    pub const COUNT: u8 = 8;
    /// Not a hook event: an interrupt was requested (Ctrl-C); the next instruction of
    /// Lua code raises "interrupted!". Riding on the hook mask makes the request cost
    /// nothing until it is made, like luajit's signal handler setting a hook.
    pub const INTERRUPT: u8 = 0x80;
    /// Not a hook event: the trace recorder sees each instruction (see `jit_iface`).
    pub const RECORD: u8 = 0x40;
    /// Not a hook event: the JIT is off (no engine, or `jit.off`). Inverted ("off", not
    /// "on") so that the interpreter-only state is one value of the byte: the plain
    /// loop's back-edges test "JIT on, hook, interrupt or recording" with one compare
    /// against `JIT_OFF`, and compiled traces (which only run with the bit clear) still
    /// leave at any nonzero byte.
    pub const JIT_OFF: u8 = 0x20;
    /// Not a hook event: a compiled C call left because a callback ran, and that
    /// callback's error is to be raised before the next instruction.
    pub const CALLBACK_ERROR: u8 = 0x10;
}

/// The state's hook settings. The hook function itself lives in a heap root slot
/// (`State::hook_root`) so the collector sees it.
pub struct HookState {
    /// Events that call the hook, plus [`mask::INTERRUPT`], [`mask::RECORD`] and
    /// [`mask::JIT_OFF`]. Atomic because a signal handler may set the interrupt bit.
    mask: AtomicU8,
    /// Instructions between count events (0: no count events).
    pub count: u32,
    /// Instructions left until the next count event.
    pub(crate) left: u32,
    /// Set while the hook runs: hooks do not fire inside hooks.
    pub(crate) active: bool,
    /// The instruction the last line check saw (any prototype's; compared by address as
    /// luajit does, so a return or a resume re-reports the line it lands on).
    pub(crate) oldpc: *const u32,
}

impl HookState {
    pub fn new() -> HookState {
        HookState {
            mask: AtomicU8::new(mask::JIT_OFF),
            count: 0,
            left: 0,
            active: false,
            oldpc: std::ptr::null(),
        }
    }
}

impl HookState {
    /// The current mask (hook events and the interrupt, recording and JIT-off bits).
    #[inline(always)]
    pub fn mask(&self) -> u8 {
        self.mask.load(Ordering::Relaxed)
    }

    /// Whether the hooked dispatch loop must run: a hook is set, or an interrupt or a
    /// recording is under way.
    #[inline(always)]
    pub fn hooked(&self) -> bool {
        self.mask() & !mask::JIT_OFF != 0
    }

    /// Set or clear [`mask::JIT_OFF`].
    pub(crate) fn set_jit_off(&self, off: bool) {
        if off {
            self.mask.fetch_or(mask::JIT_OFF, Ordering::Relaxed);
        } else {
            self.mask.fetch_and(!mask::JIT_OFF, Ordering::Relaxed);
        }
    }

    /// The word a signal handler sets [`mask::INTERRUPT`] in (with `fetch_or`, which is
    /// async-signal-safe). It lives as long as the State (which is boxed, so it does not
    /// move).
    pub fn interrupt_word(&self) -> &AtomicU8 {
        &self.mask
    }
}

impl Default for HookState {
    fn default() -> Self {
        HookState::new()
    }
}

impl State {
    /// Install `f` for the events in `mask` (and every `count` instructions if
    /// `count > 0`); a nil `f` or an empty mask removes the hook.
    pub fn set_hook(&mut self, f: TValue, mut mask: u8, count: u32) {
        if count > 0 {
            mask |= mask::COUNT;
        }
        if f.is_nil() || mask == 0 {
            mask = 0;
        }
        let keep = self.hook.mask() & (mask::INTERRUPT | mask::RECORD | mask::JIT_OFF);
        self.hook.mask.store(mask | keep, Ordering::Relaxed);
        self.hook.count = if mask & mask::COUNT != 0 { count } else { 0 };
        self.hook.left = self.hook.count;
        self.hook.oldpc = std::ptr::null();
        let v = if mask == 0 { TValue::NIL } else { f };
        self.heap.set_root(self.hook_root, v);
    }

    /// Raise the error a callback left before the next instruction (after a compiled C
    /// call that ran it).
    pub(crate) fn raise_callback_error(&self) {
        self.hook
            .mask
            .fetch_or(mask::CALLBACK_ERROR, Ordering::Relaxed);
    }

    /// Ask the running Lua code to stop with the error "interrupted!" (at its next
    /// instruction; natives run to their end or their next call into Lua first).
    pub fn request_interrupt(&self) {
        self.hook.mask.fetch_or(mask::INTERRUPT, Ordering::Relaxed);
    }

    /// Withdraw an interrupt request that has not taken effect.
    pub fn clear_interrupt(&self) {
        self.hook
            .mask
            .fetch_and(!mask::INTERRUPT, Ordering::Relaxed);
    }

    /// Make interrupt requests call `f` (at the next instruction of Lua code, compiled
    /// traces leaving at their next loop header first) instead of raising "interrupted!";
    /// an `Err` from it is raised where the code stopped. `None` restores the default.
    pub fn set_interrupt_handler(&mut self, f: Option<InterruptFn>) {
        self.interrupt_handler = match f {
            Some(f) => InterruptHandler::Set(f),
            None => InterruptHandler::None,
        };
    }

    /// The hook function (nil when none is set).
    pub fn hook_fn(&self) -> TValue {
        self.heap.root(self.hook_root)
    }
}

/// Call the hook for `event` (with the line for line events). The frames the hook may
/// inspect must be set up and `st.savedpc` must be the PC of the innermost Lua frame.
/// Hooks are off while it runs; an error in it propagates from the hooked point.
pub(crate) fn call_hook(st: &mut State, event: &[u8], line: Option<u32>) -> LuaResult<()> {
    if st.hook.active {
        return Ok(());
    }
    let f = st.hook_fn();
    if f.is_nil() {
        return Ok(());
    }
    st.hook.active = true;
    let r = (|| {
        st.check_stack(3)?;
        st.push(f)?;
        let ev = st.new_str(event)?;
        st.push(ev)?;
        match line {
            Some(n) => st.push_num(n as f64)?,
            None => st.push_nil()?,
        }
        st.call(2, 0)
    })();
    st.hook.active = false;
    r
}

/// An interrupt request reached Lua code: the embedder's handler decides, else
/// "interrupted!".
#[cold]
fn interrupt(st: &mut State) -> LuaResult<()> {
    match std::mem::replace(&mut st.interrupt_handler, InterruptHandler::Running) {
        InterruptHandler::None => {
            st.interrupt_handler = InterruptHandler::None;
            Err(st.rt_error("interrupted!"))
        }
        InterruptHandler::Running => Ok(()),
        InterruptHandler::Set(mut f) => {
            let r = f(st);
            // The handler may have replaced itself (or been removed) while it ran.
            if matches!(st.interrupt_handler, InterruptHandler::Running) {
                st.interrupt_handler = InterruptHandler::Set(f);
            }
            r
        }
    }
}

/// Line of instruction `i` of `pt`, if it has line info.
fn line_at(pt: *mut GcProto, i: usize) -> Option<u32> {
    // SAFETY: `pt` is a live prototype; lineinfo has `sizebc` entries when present.
    unsafe {
        if (*pt).lineinfo.is_null() || i >= (*pt).sizebc as usize {
            return None;
        }
        Some(*(*pt).lineinfo.add(i))
    }
}

/// Before the instruction at `pc` of `pt` runs: count and line events. The caller has
/// saved `pc + 1` as `st.savedpc` and made `top` cover the frame.
pub(crate) fn instruction_hook(st: &mut State, pt: *mut GcProto, pc: *const u32) -> LuaResult<()> {
    let m = st.hook.mask();
    if m & mask::CALLBACK_ERROR != 0 {
        st.hook
            .mask
            .fetch_and(!mask::CALLBACK_ERROR, Ordering::Relaxed);
        if let Some(err) = crate::ffi::callback::take_error(st) {
            return Err(st.throw(err));
        }
    }
    if m & mask::INTERRUPT != 0 {
        st.clear_interrupt();
        return interrupt(st);
    }
    if st.hook.active {
        return Ok(());
    }
    if m & mask::COUNT != 0 && st.hook.count > 0 {
        st.hook.left = st.hook.left.saturating_sub(1);
        if st.hook.left == 0 {
            st.hook.left = st.hook.count;
            call_hook(st, b"count", None)?;
        }
    }
    if m & mask::LINE != 0 {
        // SAFETY: `pc` points into `pt`'s bytecode; `oldpc` is only compared as an
        // address and used as an index after a range check.
        let (npc, opc, size) = unsafe {
            let bc = (*pt).bc as usize;
            let npc = (pc as usize - bc) / 4;
            let opc = (st.hook.oldpc as usize).wrapping_sub(bc) / 4;
            (npc, opc, (*pt).sizebc as usize)
        };
        let old = st.hook.oldpc;
        st.hook.oldpc = pc;
        if let Some(line) = line_at(pt, npc) {
            let fresh =
                (pc as usize) <= (old as usize) || opc >= size || line_at(pt, opc) != Some(line);
            if fresh {
                call_hook(st, b"line", Some(line))?;
            }
        }
    }
    Ok(())
}
