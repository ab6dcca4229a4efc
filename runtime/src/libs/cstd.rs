//! Glue to the C library shared by the io and os libraries, which, like luajit's, are
//! thin layers over stdio and POSIX calls.

use crate::vm::{LuaResult, State};
use moonjet_gc::GcStr;
use std::ffi::{CStr, CString};

/// The bytes of a string as C sees them: up to the first NUL.
pub(crate) fn c_string(b: &[u8]) -> CString {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    CString::new(&b[..end]).unwrap_or_default()
}

/// A string argument as a C string.
pub(crate) fn check_cstr(st: &mut State, n: usize) -> LuaResult<CString> {
    let s = st.check_str(n)?;
    // SAFETY: a live string argument.
    Ok(c_string(unsafe { GcStr::bytes(s) }))
}

/// An optional string argument as a C string.
pub(crate) fn opt_cstr(st: &mut State, n: usize) -> LuaResult<Option<CString>> {
    // SAFETY: a live string argument.
    Ok(st.opt_str(n)?.map(|s| c_string(unsafe { GcStr::bytes(s) })))
}

/// C's `(time_t)x` / `(int64_t)x` on x86-64 (`cvttsd2si`): truncation, with NaN and
/// out-of-range values becoming `INT64_MIN`.
pub(crate) fn c_i64(x: f64) -> i64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if x.is_nan() || !(-TWO63..TWO63).contains(&x) {
        i64::MIN
    } else {
        x as i64
    }
}

pub(crate) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The C library's text for an errno value.
pub(crate) fn strerror(en: i32) -> Vec<u8> {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: the buffer and its length are valid; strerror_r (XSI) NUL-terminates.
    let r = unsafe { libc::strerror_r(en, buf.as_mut_ptr(), buf.len()) };
    if r != 0 {
        return format!("Unknown error {en}").into_bytes();
    }
    // SAFETY: NUL-terminated by strerror_r.
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_bytes().to_vec()
}

/// `luaL_fileresult`: true, or nil, "[name: ]strerror(errno)", errno.
pub(crate) fn file_result(st: &mut State, ok: bool, name: Option<&[u8]>) -> LuaResult<u32> {
    if ok {
        st.push_bool(true)?;
        return Ok(1);
    }
    file_error(st, errno(), name)
}

/// nil, "[name: ]strerror(en)", en.
pub(crate) fn file_error(st: &mut State, en: i32, name: Option<&[u8]>) -> LuaResult<u32> {
    let mut msg = Vec::new();
    if let Some(n) = name {
        msg.extend_from_slice(n);
        msg.extend_from_slice(b": ");
    }
    msg.extend_from_slice(&strerror(en));
    st.check_stack(3)?;
    st.push_nil()?;
    st.push_bytes(&msg)?;
    st.push_num(en as f64)?;
    Ok(3)
}
