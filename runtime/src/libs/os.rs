//! The os library, as luajit 2.1 (non-5.2 mode) on POSIX has it: thin wrappers over
//! the C library (`clock`, `time`, `mktime`, `strftime`, `system`, `setlocale`, ...).

use super::cstd::{c_i64, c_string, check_cstr, file_result, opt_cstr};
use super::new_lib;
use crate::vm::interp;
use crate::vm::{LuaResult, State};
use moonjet_gc::{GcStr, GcTab, TValue};
use std::ffi::CStr;

pub fn open(st: &mut State) -> LuaResult<()> {
    new_lib(
        st,
        "os",
        &[
            ("execute", execute),
            ("remove", remove),
            ("rename", rename),
            ("tmpname", tmpname),
            ("getenv", getenv),
            ("exit", exit),
            ("clock", os_clock),
            ("date", date),
            ("time", time),
            ("difftime", difftime),
            ("setlocale", setlocale),
        ],
    )?;
    Ok(())
}

/// Push a C string, or nil for a null pointer (`lua_pushstring`).
fn push_cstr(st: &mut State, p: *const libc::c_char) -> LuaResult<()> {
    if p.is_null() {
        st.push_nil()
    } else {
        // SAFETY: a non-null pointer from the C library to a NUL-terminated string.
        let b = unsafe { CStr::from_ptr(p) }.to_bytes().to_vec();
        st.push_bytes(&b)
    }
}

fn execute(st: &mut State) -> LuaResult<u32> {
    let cmd = opt_cstr(st, 1)?;
    let p = cmd.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: `p` is null or a NUL-terminated string that outlives the call.
    let stat = unsafe { libc::system(p) };
    st.push_num(stat as f64)?;
    Ok(1)
}

fn remove(st: &mut State) -> LuaResult<u32> {
    let name = check_cstr(st, 1)?;
    // SAFETY: a NUL-terminated path.
    let ok = unsafe { libc::remove(name.as_ptr()) } == 0;
    file_result(st, ok, Some(name.as_bytes()))
}

fn rename(st: &mut State) -> LuaResult<u32> {
    let from = check_cstr(st, 1)?;
    let to = check_cstr(st, 2)?;
    // SAFETY: NUL-terminated paths.
    let ok = unsafe { libc::rename(from.as_ptr(), to.as_ptr()) } == 0;
    file_result(st, ok, Some(from.as_bytes()))
}

fn tmpname(st: &mut State) -> LuaResult<u32> {
    let mut buf = *b"/tmp/lua_XXXXXX\0";
    // SAFETY: a writable NUL-terminated template ending in six X's.
    let fd = unsafe { libc::mkstemp(buf.as_mut_ptr().cast()) };
    if fd == -1 {
        return Err(st.rt_error("unable to generate a unique filename"));
    }
    // SAFETY: a descriptor mkstemp just opened.
    unsafe { libc::close(fd) };
    st.push_bytes(&buf[..buf.len() - 1])?;
    Ok(1)
}

fn getenv(st: &mut State) -> LuaResult<u32> {
    let name = check_cstr(st, 1)?;
    // SAFETY: a NUL-terminated name; the result is copied before anything can change
    // the environment.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    push_cstr(st, p)?;
    Ok(1)
}

fn exit(st: &mut State) -> LuaResult<u32> {
    let a = st.arg(1);
    let code = if st.nargs() >= 1 && a.is_bool() {
        if a.is_truthy() {
            0
        } else {
            1
        }
    } else {
        st.opt_int(1, 0)?
    };
    st.flush();
    std::process::exit(code)
}

extern "C" {
    /// C's `clock()` (the libc crate does not bind it on every target).
    fn clock() -> libc::clock_t;
}

/// `CLOCKS_PER_SEC`: one million, as POSIX (XSI) requires.
const CLOCKS_PER_SEC: f64 = 1_000_000.0;

fn os_clock(st: &mut State) -> LuaResult<u32> {
    // SAFETY: clock() has no preconditions.
    let c = unsafe { clock() };
    st.push_num(c as f64 * (1.0 / CLOCKS_PER_SEC))?;
    Ok(1)
}

fn now() -> libc::time_t {
    // SAFETY: time(NULL) has no preconditions.
    unsafe { libc::time(std::ptr::null_mut()) }
}

fn date(st: &mut State) -> LuaResult<u32> {
    let fmt = match st.opt_str(1)? {
        // SAFETY: a live string argument.
        Some(s) => c_string(unsafe { GcStr::bytes(s) }),
        None => c_string(b"%c"),
    };
    let t: libc::time_t = if st.arg(2).is_nil() {
        now()
    } else {
        c_i64(st.check_num(2)?)
    };
    let mut s = fmt.as_bytes();
    // SAFETY: an all-zero `struct tm` is valid (null tm_zone).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = if s.first() == Some(&b'!') {
        s = &s[1..];
        // SAFETY: valid pointers to a time_t and a struct tm.
        !unsafe { libc::gmtime_r(&t, &mut tm) }.is_null()
    } else {
        // SAFETY: valid pointers to a time_t and a struct tm.
        !unsafe { libc::localtime_r(&t, &mut tm) }.is_null()
    };
    if !ok {
        st.push_nil()?;
    } else if s == b"*t" {
        let tab = st.new_table(0, 9)?;
        st.push(TValue::from_tab(tab))?;
        let fields = [
            (&b"sec"[..], tm.tm_sec),
            (b"min", tm.tm_min),
            (b"hour", tm.tm_hour),
            (b"day", tm.tm_mday),
            (b"month", tm.tm_mon + 1),
            (b"year", tm.tm_year + 1900),
            (b"wday", tm.tm_wday + 1),
            (b"yday", tm.tm_yday + 1),
        ];
        for (k, v) in fields {
            st.raw_set_str(tab, k, TValue::from_f64(v as f64))?;
        }
        if tm.tm_isdst >= 0 {
            st.raw_set_str(tab, b"isdst", TValue::from_bool(tm.tm_isdst != 0))?;
        }
    } else if !s.is_empty() {
        let cfmt = c_string(s);
        let mut sz: usize = s.iter().map(|&c| if c == b'%' { 30 } else { 1 }).sum();
        let mut out = None;
        for _ in 0..4 {
            let mut buf = vec![0u8; sz.max(32)];
            // SAFETY: the buffer holds `buf.len()` bytes; format and tm are valid.
            let len =
                unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm) };
            if len != 0 {
                buf.truncate(len);
                out = Some(buf);
                break;
            }
            sz += sz | 1;
        }
        match out {
            Some(b) => st.push_bytes(&b)?,
            // luajit pushes nothing and returns its top slot: the last argument.
            None => {
                let v = st.arg(st.nargs());
                st.push(v)?;
            }
        }
    } else {
        st.push_bytes(b"")?;
    }
    Ok(1)
}

/// `getfield` of luajit's lib_os.c: `t[key]` (with `__index`) as a C int; missing or
/// not a number: `d`, or an error when `d` is negative.
fn get_field(st: &mut State, t: *mut GcTab, key: &str, d: i32) -> LuaResult<i32> {
    let k = st.new_str(key.as_bytes())?;
    st.push(k)?;
    let v = interp::index(st, TValue::from_tab(t), k)?;
    st.pop(1);
    match interp::to_number(v) {
        Some(x) => Ok(c_i64(x) as i32),
        None if d < 0 => Err(st.rt_error(&format!("field '{key}' missing in date table"))),
        None => Ok(d),
    }
}

/// `getboolfield`: -1 for nil, else the truth of `t[key]`.
fn get_bool_field(st: &mut State, t: *mut GcTab, key: &str) -> LuaResult<i32> {
    let k = st.new_str(key.as_bytes())?;
    st.push(k)?;
    let v = interp::index(st, TValue::from_tab(t), k)?;
    st.pop(1);
    Ok(if v.is_nil() { -1 } else { v.is_truthy() as i32 })
}

fn time(st: &mut State) -> LuaResult<u32> {
    let t = if st.arg(1).is_nil() {
        now()
    } else {
        let tab = st.check_tab(1)?;
        // SAFETY: an all-zero `struct tm` is valid (null tm_zone).
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        tm.tm_sec = get_field(st, tab, "sec", 0)?;
        tm.tm_min = get_field(st, tab, "min", 0)?;
        tm.tm_hour = get_field(st, tab, "hour", 12)?;
        tm.tm_mday = get_field(st, tab, "day", -1)?;
        tm.tm_mon = get_field(st, tab, "month", -1)?.wrapping_sub(1);
        tm.tm_year = get_field(st, tab, "year", -1)?.wrapping_sub(1900);
        tm.tm_isdst = get_bool_field(st, tab, "isdst")?;
        // SAFETY: a valid struct tm.
        unsafe { libc::mktime(&mut tm) }
    };
    if t == -1 {
        st.push_nil()?;
    } else {
        st.push_num(t as f64)?;
    }
    Ok(1)
}

fn difftime(st: &mut State) -> LuaResult<u32> {
    let a = c_i64(st.check_num(1)?);
    let b = c_i64(st.opt_num(2, 0.0)?);
    // SAFETY: difftime has no preconditions.
    let d = unsafe { libc::difftime(a, b) };
    st.push_num(d)?;
    Ok(1)
}

fn setlocale(st: &mut State) -> LuaResult<u32> {
    let locale = opt_cstr(st, 1)?;
    // lj_lib_checkopt's list "ctype numeric time collate monetary \xff all"; the
    // sixth entry (index 5) is passed through as category 5 (LC_MESSAGES on glibc).
    let cat = match st.opt_str(2)? {
        None => libc::LC_ALL,
        Some(s) => {
            // SAFETY: a live string argument.
            let b = unsafe { GcStr::bytes(s) };
            match b {
                b"ctype" => libc::LC_CTYPE,
                b"numeric" => libc::LC_NUMERIC,
                b"time" => libc::LC_TIME,
                b"collate" => libc::LC_COLLATE,
                b"monetary" => libc::LC_MONETARY,
                b"\xff" => 5,
                b"all" => libc::LC_ALL,
                _ => {
                    let name = c_string(b);
                    let msg = format!(
                        "invalid option '{}'",
                        String::from_utf8_lossy(name.as_bytes())
                    );
                    return Err(st.arg_error(2, &msg));
                }
            }
        }
    };
    let p = locale.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: `p` is null or a NUL-terminated string; the result is copied at once.
    let r = unsafe { libc::setlocale(cat, p) };
    push_cstr(st, r)?;
    Ok(1)
}
