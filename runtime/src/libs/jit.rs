//! The `jit` module while moonjet has no JIT: version and platform facts, switches that
//! accept luajit's arguments (and reject what luajit rejects), `status()` false, and
//! `jit.opt.start` validating luajit's optimisation flags and parameters.

use super::new_lib;
use crate::vm::state::State;
use crate::vm::LuaResult;
use moonjet_gc::{GcFunc, GcStr, TValue};

/// luajit's optimisation flags (`-O+fold`, `jit.opt.start("-cse")`).
const FLAGS: &[&str] = &[
    "fold", "cse", "dce", "fwd", "dse", "narrow", "loop", "abc", "sink", "fuse",
];
/// luajit's optimisation parameters (`hotloop=56`).
const PARAMS: &[&str] = &[
    "maxtrace",
    "maxrecord",
    "maxirconst",
    "maxside",
    "maxsnap",
    "minstitch",
    "hotloop",
    "hotexit",
    "tryside",
    "instunroll",
    "loopunroll",
    "callunroll",
    "recunroll",
    "sizemcode",
    "maxmcode",
];

/// The LuaJIT language level moonjet implements (programs parse it out of `jit.version`).
pub const LUAJIT_LEVEL: &str = "2.1";

pub fn open(st: &mut State) -> LuaResult<()> {
    let t = new_lib(
        st,
        "jit",
        &[
            ("on", on),
            ("off", off),
            ("flush", flush),
            ("status", status),
            ("security", security),
        ],
    )?;
    st.push(TValue::from_tab(t))?;
    let version = format!(
        "LuaJIT {LUAJIT_LEVEL}.0 (moonjet {})",
        env!("CARGO_PKG_VERSION")
    );
    let v = st.new_str(version.as_bytes())?;
    st.raw_set_str(t, b"version", v)?;
    st.raw_set_str(t, b"version_num", TValue::from_f64(20100.0))?;
    let arch: &[u8] = match std::env::consts::ARCH {
        "x86_64" => b"x64",
        "aarch64" => b"arm64",
        "x86" => b"x86",
        "arm" => b"arm",
        _ => b"other",
    };
    let v = st.new_str(arch)?;
    st.raw_set_str(t, b"arch", v)?;
    let os: &[u8] = match std::env::consts::OS {
        "linux" => b"Linux",
        "macos" => b"OSX",
        "windows" => b"Windows",
        "freebsd" | "openbsd" | "netbsd" | "dragonfly" => b"BSD",
        _ => b"Other",
    };
    let v = st.new_str(os)?;
    st.raw_set_str(t, b"os", v)?;
    let opt = st.new_table(0, 1)?;
    st.push(TValue::from_tab(opt))?;
    super::register(st, opt, "jit.opt", &[("start", opt_start)])?;
    st.raw_set_str(t, b"opt", TValue::from_tab(opt))?;
    st.pop(2);
    Ok(())
}

/// The target of `jit.on/off/flush`: true for the whole engine, false for one function
/// (`func`, or `true` for the calling Lua function; per-function switches are accepted
/// and do not change anything yet).
fn switch_target(st: &mut State) -> LuaResult<bool> {
    let v = st.arg(1);
    let is_lua_fn = v.is_func() && {
        // SAFETY: a live function argument.
        unsafe { (*v.gc_ptr().cast::<GcFunc>()).is_lua() }
    };
    // `true`/`false` mean the calling function, which must be a Lua function.
    let caller_is_lua =
        v.is_bool() && crate::vm::debug::frame_at(st, 1).is_some_and(|f| f.is_lua());
    if !(v.is_nil() || caller_is_lua || is_lua_fn) {
        return Err(st.type_error(1, "function"));
    }
    Ok(v.is_nil())
}

fn on(st: &mut State) -> LuaResult<u32> {
    if switch_target(st)? {
        st.set_jit_enabled(true);
    }
    Ok(0)
}

fn off(st: &mut State) -> LuaResult<u32> {
    if switch_target(st)? {
        st.set_jit_enabled(false);
    }
    Ok(0)
}

/// `jit.flush([func|true|trace number])`.
fn flush(st: &mut State) -> LuaResult<u32> {
    if st.arg(1).is_number() || switch_target(st)? {
        st.jit_flush();
    }
    Ok(0)
}

/// `jit.status()`: whether compiled code runs.
fn status(st: &mut State) -> LuaResult<u32> {
    st.push_bool(st.jit_enabled())?;
    Ok(1)
}

fn security(st: &mut State) -> LuaResult<u32> {
    let s = st.check_str(1)?;
    // SAFETY: a live string argument.
    match unsafe { GcStr::bytes(s) } {
        b"prng" | b"strhash" | b"strid" | b"mcode" => {
            st.push_num(1.0)?;
            Ok(1)
        }
        other => {
            let msg = format!("invalid option '{}'", String::from_utf8_lossy(other));
            Err(st.arg_error(1, &msg))
        }
    }
}

/// Is `arg` one luajit's `jit.opt.start` accepts?
fn valid_opt(arg: &[u8]) -> bool {
    if arg.len() == 1 && arg[0].is_ascii_digit() {
        return true;
    }
    if let Some(eq) = arg.iter().position(|&c| c == b'=') {
        let (name, value) = (&arg[..eq], &arg[eq + 1..]);
        return PARAMS.iter().any(|p| p.as_bytes() == name) && value.iter().all(u8::is_ascii_digit);
    }
    let name = match arg.first() {
        Some(b'+') | Some(b'-') => &arg[1..],
        _ => arg.strip_prefix(b"no").unwrap_or(arg),
    };
    FLAGS.iter().any(|f| f.as_bytes() == name)
}

fn opt_start(st: &mut State) -> LuaResult<u32> {
    for i in 1..=st.nargs() {
        let s = st.check_str(i)?;
        // SAFETY: a live string argument.
        let arg = unsafe { GcStr::bytes(s) };
        if !valid_opt(arg) {
            let msg = format!(
                "unknown or malformed optimization flag '{}'",
                String::from_utf8_lossy(arg)
            );
            return Err(st.rt_error(&msg));
        }
        if let Some(v) = arg.strip_prefix(b"hotloop=") {
            let n: u32 = std::str::from_utf8(v)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            st.jit.hotloop = n.clamp(1, u16::MAX as u32) as u16;
            st.jit.hotcount = [st.jit.hotloop; crate::vm::jit_iface::HOTCOUNT_SIZE];
        }
    }
    Ok(0)
}

/// `require "jit.v"` (what `-jv` loads): `on`/`start` print a line per trace and abort
/// on stderr, as luajit's module does; `off` stops.
pub(crate) fn open_v(st: &mut State) -> LuaResult<u32> {
    let t = st.new_table(0, 3)?;
    st.push(TValue::from_tab(t))?;
    super::register(
        st,
        t,
        "jit.v",
        &[("on", v_on), ("start", v_on), ("off", v_off)],
    )?;
    Ok(1)
}

fn v_on(st: &mut State) -> LuaResult<u32> {
    st.with_jit_engine(|e| e.set_verbose(true));
    Ok(0)
}

fn v_off(st: &mut State) -> LuaResult<u32> {
    st.with_jit_engine(|e| e.set_verbose(false));
    Ok(0)
}
