//! The `jit` module: version and platform facts; `on/off/flush` for the whole JIT, one
//! function (and its nested functions) or one trace, with luajit's arguments and errors;
//! `status()`; `jit.opt.start` validating luajit's optimisation flags and parameters and
//! applying those the engine uses (`hotloop`, `hotexit`, `tryside`, `maxtrace`). Also the
//! `jit.v` and `jit.dump` modules `-jv` and `-jdump` load.

use super::new_lib;
use crate::vm::jit_iface::{DumpFlags, DumpOut, ProtoMode, Scope};
use crate::vm::state::State;
use crate::vm::LuaResult;
use moonjet_gc::object::GcProto;
use moonjet_gc::{GcFunc, GcStr, TValue};

/// luajit's optimisation flags (`-O+fold`, `jit.opt.start("-cse")`), in the order of
/// their bits in `JitState::opt_flags` and of `jit.status()`.
pub const FLAGS: &[&str] = &[
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

/// What `jit.on/off/flush` act on.
enum Target {
    /// No argument (or nil): the whole JIT.
    Engine,
    /// A Lua function's prototype (`true`: the calling function's), and whether its own
    /// and/or its nested prototypes.
    Proto(*mut GcProto, Scope),
}

/// luajit's reading of `jit.on/off/flush([func|true [, recursive]])`: a second boolean
/// argument means "nested functions too" (`true`) or "only nested functions" (`false`).
/// Errors come in luajit's order: an argument that is no function at all, then a `__gc`
/// metamethod running, then a function that is not a Lua function.
fn switch_target(st: &mut State) -> LuaResult<Target> {
    let v = st.arg(1);
    if st.nargs() == 0 || v.is_nil() {
        return Ok(Target::Engine);
    }
    let func: Option<*mut GcFunc> = if v.is_func() {
        Some(v.gc_ptr().cast())
    } else if v.is_bool() && v.is_truthy() {
        // `true`: the calling function (a native caller, like pcall, is refused below).
        crate::vm::debug::frame_at(st, 1).map(|f| f.func())
    } else {
        None
    };
    let Some(func) = func else {
        return Err(st.type_error(1, "function"));
    };
    // luajit looks for a __gc metamethod running before it looks at the function.
    check_not_finalizing(st)?;
    // SAFETY: a live function argument, or the function of a live frame.
    let Some(pt) = (unsafe { (*func).is_lua().then(|| (*func).proto) }) else {
        return Err(st.type_error(1, "function"));
    };
    let recursive = st.arg(2);
    let scope = if st.nargs() >= 2 && recursive.is_bool() {
        Scope {
            this: recursive.is_truthy(),
            nested: true,
        }
    } else {
        Scope {
            this: true,
            nested: false,
        }
    };
    Ok(Target::Proto(pt, scope))
}

/// luajit refuses to change the JIT from inside a `__gc` metamethod.
fn check_not_finalizing(st: &mut State) -> LuaResult<()> {
    if st.running_finalizers {
        return Err(st.rt_error("bad action while in __gc metamethod"));
    }
    Ok(())
}

/// `jit.on/off/flush` after reading the arguments: the whole JIT (`engine`) or one
/// prototype (`proto`).
fn set_mode(st: &mut State, engine: impl FnOnce(&mut State), proto: ProtoMode) -> LuaResult<u32> {
    match switch_target(st)? {
        Target::Engine => {
            check_not_finalizing(st)?;
            engine(st)
        }
        // SAFETY: the prototype of a live function argument or frame.
        Target::Proto(pt, scope) => unsafe { st.jit_set_proto_mode(pt, proto, scope) },
    }
    Ok(0)
}

fn on(st: &mut State) -> LuaResult<u32> {
    set_mode(st, |st| st.set_jit_enabled(true), ProtoMode::On)
}

fn off(st: &mut State) -> LuaResult<u32> {
    set_mode(st, |st| st.set_jit_enabled(false), ProtoMode::Off)
}

/// `jit.flush([func|true [, recursive]])` or `jit.flush(trace number)`.
fn flush(st: &mut State) -> LuaResult<u32> {
    let v = st.arg(1);
    if st.nargs() >= 1 && v.is_number() {
        check_not_finalizing(st)?;
        // luajit truncates the number to an integer; numbers that name no trace do nothing.
        let no = v.num() as i32;
        if no > 0 {
            st.jit_flush_trace(no as u32);
        }
        return Ok(0);
    }
    set_mode(st, |st| st.jit_flush(), ProtoMode::Flush)
}

/// `jit.status()`: whether the JIT is on, then the optimisation flags that are.
fn status(st: &mut State) -> LuaResult<u32> {
    st.push_bool(st.jit_enabled())?;
    let mut n = 1;
    for (bit, name) in FLAGS.iter().enumerate() {
        if st.jit.opt_flags & (1 << bit) != 0 {
            st.push_bytes(name.as_bytes())?;
            n += 1;
        }
    }
    Ok(n)
}

/// The flags optimisation level `n` turns on (luajit's -O0..-O3).
fn level_flags(n: u8) -> u16 {
    let on = |names: &[&str]| {
        names.iter().fold(0u16, |m, name| {
            m | FLAGS.iter().position(|f| f == name).map_or(0, |b| 1 << b)
        })
    };
    match n {
        0 => 0,
        1 => on(&["fold", "cse", "dce"]),
        2 => on(&["fold", "cse", "dce", "narrow", "loop"]),
        _ => on(FLAGS),
    }
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

/// One argument of `jit.opt.start`, as luajit reads it.
enum OptArg<'a> {
    /// `"0"`..`"9"`: an optimisation level (3 and above mean 3).
    Level(u8),
    /// `name=digits`: a parameter (value saturating at `u32::MAX`).
    Param(&'a [u8], u32),
    /// `+name`, `-name`, `noname` or `name`: flag number `bit` off or on.
    Flag(usize, bool),
}

/// `arg` as a `jit.opt.start` argument, or `None` if luajit refuses it.
fn parse_opt(arg: &[u8]) -> Option<OptArg<'_>> {
    if let [d @ b'0'..=b'9'] = arg {
        return Some(OptArg::Level(d - b'0'));
    }
    if let Some(eq) = arg.iter().position(|&c| c == b'=') {
        let (name, digits) = (&arg[..eq], &arg[eq + 1..]);
        if !PARAMS.iter().any(|p| p.as_bytes() == name) || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = digits.iter().fold(0u32, |n, &d| {
            n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
        });
        return Some(OptArg::Param(name, value));
    }
    let flag = |name: &[u8]| FLAGS.iter().position(|f| f.as_bytes() == name);
    match arg {
        [b'+', name @ ..] => flag(name).map(|b| OptArg::Flag(b, true)),
        [b'-', name @ ..] => flag(name).map(|b| OptArg::Flag(b, false)),
        [b'n', b'o', name @ ..] if flag(name).is_some() => {
            flag(name).map(|b| OptArg::Flag(b, false))
        }
        name => flag(name).map(|b| OptArg::Flag(b, true)),
    }
}

fn opt_start(st: &mut State) -> LuaResult<u32> {
    if st.nargs() == 0 {
        st.jit.opt_flags = level_flags(3);
    }
    for i in 1..=st.nargs() {
        let s = st.check_str(i)?;
        // SAFETY: a live string argument.
        let arg = unsafe { GcStr::bytes(s) };
        match parse_opt(arg) {
            None => {
                let msg = format!(
                    "unknown or malformed optimization flag '{}'",
                    String::from_utf8_lossy(arg)
                );
                return Err(st.rt_error(&msg));
            }
            Some(OptArg::Level(n)) => st.jit.opt_flags = level_flags(n),
            Some(OptArg::Param(b"hotloop", v)) => st.jit.set_hotloop(v),
            Some(OptArg::Param(b"maxtrace", v)) => st.jit.maxtrace = v,
            Some(OptArg::Param(b"hotexit", v)) => {
                st.jit.hotexit = v.min(u32::from(u16::MAX)) as u16
            }
            Some(OptArg::Param(b"tryside", v)) => st.jit.tryside = v.min(u32::from(u8::MAX)) as u8,
            Some(OptArg::Param(b"maxside", v)) => st.jit.maxside = v,
            Some(OptArg::Param(..)) => {}
            Some(OptArg::Flag(bit, true)) => st.jit.opt_flags |= 1 << bit,
            Some(OptArg::Flag(bit, false)) => st.jit.opt_flags &= !(1 << bit),
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

/// `require "jit.dump"` (what `-jdump` loads): `on`/`start(options, file)` show each
/// trace's bytecode, IR and machine code as luajit's module does; `off` stops.
pub(crate) fn open_dump(st: &mut State) -> LuaResult<u32> {
    let t = st.new_table(0, 3)?;
    st.push(TValue::from_tab(t))?;
    super::register(
        st,
        t,
        "jit.dump",
        &[("on", dump_on), ("start", dump_on), ("off", dump_off)],
    )?;
    Ok(1)
}

/// `jit.dump.on([options [, file]])`: as luajit, the options default to
/// `LUAJIT_DUMPMODE` and the file to `LUAJIT_DUMPFILE`; no file or `-` is standard
/// output. A dump already on is switched off first (its file closed).
fn dump_on(st: &mut State) -> LuaResult<u32> {
    let arg_or_env = |st: &mut State, n: usize, var: &str| -> LuaResult<Option<Vec<u8>>> {
        Ok(match st.opt_str(n)? {
            // SAFETY: a live string argument.
            Some(s) => Some(unsafe { GcStr::bytes(s) }.to_vec()),
            None => std::env::var_os(var).map(|v| v.into_encoded_bytes()),
        })
    };
    let opt = arg_or_env(st, 1, "LUAJIT_DUMPMODE")?;
    let file = arg_or_env(st, 2, "LUAJIT_DUMPFILE")?;
    st.with_jit_engine(|e| e.set_dump(None));
    let flags = DumpFlags::parse(opt.as_deref());
    let out = match file.as_deref() {
        None | Some(b"-") => DumpOut::Stdout,
        Some(path) => {
            let path = String::from_utf8_lossy(path).into_owned();
            match std::fs::File::create(&path) {
                Ok(f) => DumpOut::File(f),
                Err(e) => {
                    let msg = format!("{path}: {}", super::base::io_error_text(&e));
                    return Err(st.rt_error(&msg));
                }
            }
        }
    };
    st.with_jit_engine(|e| e.set_dump(Some((flags, out))));
    Ok(0)
}

fn dump_off(st: &mut State) -> LuaResult<u32> {
    st.with_jit_engine(|e| e.set_dump(None));
    Ok(0)
}
