//! The io library: for now only `io.write` to standard output (the full library, with
//! files, comes with the remaining libraries).

use super::new_lib;
use crate::vm::{LuaResult, State};
use moonjet_gc::GcStr;
use std::io::Write;

pub fn open(st: &mut State) -> LuaResult<()> {
    new_lib(st, "io", &[("write", write)])?;
    Ok(())
}

fn write(st: &mut State) -> LuaResult<u32> {
    let n = st.nargs();
    let mut buf = std::mem::take(&mut st.buf);
    buf.clear();
    for i in 1..=n {
        let v = st.arg(i);
        if let Some(s) = v.as_str() {
            // SAFETY: live string argument.
            buf.extend_from_slice(unsafe { GcStr::bytes(s) });
        } else if v.is_number() {
            crate::num::push_num(&mut buf, v.num());
        } else {
            st.buf = buf;
            return Err(st.type_error(i, "string"));
        }
    }
    let _ = st.out.write_all(&buf);
    st.buf = buf;
    st.push_bool(true)?;
    Ok(1)
}
