//! The debug library: for now `debug.traceback` (the rest comes with the remaining
//! libraries).

use super::new_lib;
use crate::vm::state::State;
use crate::vm::{debug, LuaResult};
use moonjet_gc::{GcStr, GcThread};

pub fn open(st: &mut State) -> LuaResult<()> {
    new_lib(st, "debug", &[("traceback", traceback)])?;
    Ok(())
}

/// `debug.traceback([thread,] [message [, level]])`.
fn traceback(st: &mut State) -> LuaResult<u32> {
    let (th, first): (*mut GcThread, usize) = if st.arg(1).is_thread() {
        (st.arg(1).gc_ptr().cast(), 2)
    } else {
        (st.l, 1)
    };
    let msg = st.arg(first);
    if !(msg.is_nil() || msg.is_str() || msg.is_number()) || (msg.is_nil() && st.nargs() >= first) {
        st.push(msg)?;
        return Ok(1);
    }
    let default_level = if th == st.l { 1 } else { 0 };
    let level = st.opt_int(first + 1, default_level)?.max(0) as usize;
    let mut out = Vec::new();
    if !msg.is_nil() {
        let s = st.check_str(first)?;
        // SAFETY: live string argument.
        out.extend_from_slice(unsafe { GcStr::bytes(s) });
        out.push(b'\n');
    }
    let saved = st.l;
    st.l = th;
    let tb = debug::traceback(st, level);
    st.l = saved;
    out.extend_from_slice(&tb);
    st.push_bytes(&out)?;
    Ok(1)
}
