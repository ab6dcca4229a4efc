//! The `moonjet` command: a drop-in for the `luajit` command. The same options, processed
//! in the same order with the same messages and exit codes; an interactive mode with line
//! editing, history and completion on a terminal (src/repl.rs); `-b` saves and lists
//! bytecode (src/bcsave.rs); Ctrl-C interrupts running Lua code (src/sigint.rs).

mod bcsave;
mod repl;
mod sigint;

use moonjet_gc::TValue;
use moonjet_runtime::vm::{Config, State};
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

/// The program name for messages, as given (luajit prints `argv[0]` verbatim).
pub fn progname() -> String {
    std::env::args_os()
        .next()
        .map_or_else(|| "moonjet".into(), |a| a.to_string_lossy().into_owned())
}

fn usage() -> ExitCode {
    eprint!(
        "usage: {} [options]... [script [args]...].\n\
         Available options are:\n  \
         -e chunk  Execute string 'chunk'.\n  \
         -l name   Require library 'name'.\n  \
         -b ...    Save or list bytecode.\n  \
         -j cmd    Perform LuaJIT control command.\n  \
         -O[opt]   Control LuaJIT optimizations.\n  \
         -i        Enter interactive mode after executing 'script'.\n  \
         -v        Show version information.\n  \
         -E        Ignore environment variables.\n  \
         --        Stop handling options.\n  \
         -         Execute stdin and stop handling options.\n",
        progname()
    );
    ExitCode::from(1)
}

/// The version banner (`-v`, `-i`, and the interactive mode), through the state's output
/// so it stays in order with what Lua code printed.
fn print_version(st: &mut State) {
    let mut text = format!(
        "moonjet {} -- a Lua engine at LuaJIT {} language level (Lua 5.1 with LuaJIT's extensions)\n",
        env!("CARGO_PKG_VERSION"),
        moonjet_runtime::libs::jit::LUAJIT_LEVEL
    );
    let link = env!("CARGO_PKG_REPOSITORY");
    if !link.is_empty() {
        text.push_str(link);
        text.push('\n');
    }
    let _ = st.out.write_all(text.as_bytes());
}

/// What the options say, as luajit's first pass over them finds it.
#[derive(Default)]
struct Flags {
    interactive: bool,
    version: bool,
    /// `-e` or `-b` given: no stdin script and no interactive mode by default.
    exec: bool,
    /// An option other than `-O` came first (then `-b` is refused).
    option: bool,
    no_env: bool,
    /// Index of the script in the arguments; `args.len()` when there is none.
    script: usize,
}

/// luajit's `collectargs`: check the options and find the script. `None` on bad usage.
fn collect_args(args: &[String]) -> Option<Flags> {
    let mut f = Flags::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a.first() != Some(&b'-') {
            f.script = i;
            return Some(f);
        }
        let tail_empty = a.len() == 2;
        match a.get(1) {
            None => {
                // "-": stdin is the script.
                f.script = i;
                return Some(f);
            }
            Some(b'-') => {
                if !tail_empty {
                    return None;
                }
                f.script = i + 1;
                return Some(f);
            }
            Some(b'i') | Some(b'v') => {
                if !tail_empty {
                    return None;
                }
                if a[1] == b'i' {
                    f.interactive = true;
                }
                f.version = true;
                f.option = true;
            }
            Some(b'e') | Some(b'j') | Some(b'l') => {
                if a[1] == b'e' {
                    f.exec = true;
                }
                f.option = true;
                if tail_empty {
                    i += 1;
                    if i >= args.len() {
                        return None;
                    }
                }
            }
            Some(b'O') => {}
            Some(b'b') => {
                if f.option {
                    return None;
                }
                f.exec = true;
                // Everything after -b is bcsave's; no script.
                f.script = args.len();
                return Some(f);
            }
            Some(b'E') => {
                if !tail_empty {
                    return None;
                }
                f.no_env = true;
                f.option = true;
            }
            Some(_) => return None,
        }
        i += 1;
    }
    f.script = args.len();
    Some(f)
}

/// Report an error value that reached the top, as luajit's `report` does. The REPL
/// passes no program name.
pub fn report(st: &mut State, e: TValue, prog: Option<&str>) {
    st.flush();
    if e.is_nil() {
        return;
    }
    let msg = if e.is_str() || e.is_number() {
        st.display_value(e)
    } else {
        b"(error object is not a string)".to_vec()
    };
    let mut err = std::io::stderr().lock();
    if let Some(p) = prog {
        let _ = write!(err, "{p}: ");
    }
    let _ = err.write_all(&msg);
    let _ = err.write_all(b"\n");
    let _ = err.flush();
}

/// Run the function on top of the stack (below `args` pushed here) with the command's
/// traceback handler and Ctrl-C enabled; its results are left on the stack and counted.
/// `Err` carries the error value.
pub fn call_top(st: &mut State, args: &[&[u8]]) -> Result<usize, TValue> {
    for a in args {
        if st.push_bytes(a).is_err() {
            return Err(st.error_value());
        }
    }
    sigint::with_interrupts(st, |st| st.pcall_traceback(args.len()))
}

/// Load a chunk; on failure the error value (the syntax error message).
pub fn load(st: &mut State, src: &[u8], chunkname: &[u8]) -> Result<(), TValue> {
    match st.load(src, chunkname, b"bt") {
        Ok(true) => Ok(()),
        Ok(false) => {
            // SAFETY: a failed load leaves its message on top.
            let e = unsafe { *st.top().sub(1) };
            st.pop(1);
            Err(e)
        }
        Err(_) => Err(st.error_value()),
    }
}

/// `dostring`: run a chunk, reporting errors; false on error.
fn do_string(st: &mut State, src: &[u8], chunkname: &[u8]) -> bool {
    let r = load(st, src, chunkname).and_then(|()| call_top(st, &[]));
    match r {
        Ok(n) => {
            st.pop(n);
            true
        }
        Err(e) => {
            report(st, e, Some(&progname()));
            false
        }
    }
}

/// The text and chunk name of a script file, or of stdin for `None`; on failure luajit's
/// message ("cannot open x.lua: No such file or directory").
fn read_script(path: Option<&str>) -> Result<(Vec<u8>, Vec<u8>), String> {
    match path {
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| format!("cannot read stdin: {}", io_error_text(&e)))?;
            Ok((buf, b"=stdin".to_vec()))
        }
        Some(p) => match std::fs::read(p) {
            Ok(buf) => Ok((buf, format!("@{p}").into_bytes())),
            Err(e) => Err(format!("cannot open {p}: {}", io_error_text(&e))),
        },
    }
}

/// An I/O error as the C library words it (without Rust's "(os error N)").
pub fn io_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_string()
}

/// `dofile`: run a script file (or stdin), passing `args` as `...`; false on error.
fn do_file(st: &mut State, path: Option<&str>, args: &[&[u8]]) -> bool {
    let r = match read_script(path) {
        Ok((src, name)) => load(st, &src, &name).and_then(|()| call_top(st, args)),
        Err(msg) => {
            st.flush();
            eprintln!("{}: {msg}", progname());
            return false;
        }
    };
    match r {
        Ok(n) => {
            st.pop(n);
            true
        }
        Err(e) => {
            report(st, e, Some(&progname()));
            false
        }
    }
}

/// Build the global `arg` table: script at 0, everything before it at negative indices.
fn set_arg_table(st: &mut State, args: &[String], script: usize) -> Result<(), TValue> {
    let err = |st: &mut State| st.error_value();
    let t = st
        .new_table((args.len() - script.min(args.len())) as u32, 0)
        .map_err(|_| err(st))?;
    let tv = TValue::from_tab(t);
    st.push(tv).map_err(|_| err(st))?;
    let mut all = vec![progname()];
    all.extend(args.iter().cloned());
    for (i, a) in all.iter().enumerate() {
        let idx = i as f64 - 1.0 - script as f64;
        let v = st.new_str(a.as_bytes()).map_err(|_| err(st))?;
        st.push(v).map_err(|_| err(st))?;
        st.raw_set(t, TValue::from_f64(idx), v)
            .map_err(|_| err(st))?;
        st.pop(1);
    }
    st.set_global(b"arg", tv).map_err(|_| err(st))?;
    st.pop(1);
    Ok(())
}

/// Call a `-j`/`-O` handler with string arguments. As in luajit, its errors are reported
/// without a traceback.
fn call_with_strings(st: &mut State, func: TValue, args: &[&str]) -> bool {
    let pushed = st.push(func).is_ok() && args.iter().all(|a| st.push_bytes(a.as_bytes()).is_ok());
    if !pushed {
        return false;
    }
    match sigint::with_interrupts(st, |st| st.pcall(args.len(), 0)) {
        Ok(()) => true,
        Err(e) => {
            report(st, e, Some(&progname()));
            false
        }
    }
}

/// A field of a global table (nil if either is missing).
pub fn global_field(st: &mut State, table: &[u8], field: &[u8]) -> TValue {
    let Ok(t) = st.get_global(table) else {
        return TValue::NIL;
    };
    if !t.is_tab() {
        return TValue::NIL;
    }
    match st.new_str(field) {
        Ok(k) => moonjet_runtime::vm::index(st, t, k).unwrap_or(TValue::NIL),
        Err(_) => TValue::NIL,
    }
}

/// `-j cmd[=arg,...]`: `jit.cmd(args)` if it exists, else `require("jit.cmd").start(args)`.
fn jit_command(st: &mut State, spec: &str) -> bool {
    let (cmd, rest) = spec.split_once('=').unwrap_or((spec, ""));
    let args: Vec<&str> = if rest.is_empty() {
        vec![]
    } else {
        rest.split(',').collect()
    };
    let f = global_field(st, b"jit", cmd.as_bytes());
    if f.is_func() {
        return call_with_strings(st, f, &args);
    }
    let module = format!("jit.{cmd}");
    let require = st.get_global(b"require").unwrap_or(TValue::NIL);
    let loaded = st.new_str(module.as_bytes()).ok().and_then(|name| {
        st.push(require).ok()?;
        st.push(name).ok()?;
        st.pcall(1, 1).ok()?;
        // SAFETY: pcall left one result.
        let m = unsafe { *st.top().sub(1) };
        st.pop(1);
        Some(m)
    });
    let start = match loaded {
        Some(m) if m.is_tab() => st
            .new_str(b"start")
            .ok()
            .and_then(|k| moonjet_runtime::vm::index(st, m, k).ok())
            .filter(|f| f.is_func()),
        _ => None,
    };
    match start {
        Some(f) => call_with_strings(st, f, &args),
        None => {
            st.flush();
            eprintln!(
                "{}: unknown luaJIT command or jit.* modules not installed",
                progname()
            );
            false
        }
    }
}

/// `-O[opts]`: `jit.opt.start` with the comma-separated options.
fn jit_opt(st: &mut State, spec: &str) -> bool {
    let opt = global_field(st, b"jit", b"opt");
    let start = if opt.is_tab() {
        st.new_str(b"start")
            .ok()
            .and_then(|k| moonjet_runtime::vm::index(st, opt, k).ok())
            .unwrap_or(TValue::NIL)
    } else {
        TValue::NIL
    };
    if !start.is_func() {
        return true;
    }
    let args: Vec<&str> = if spec.is_empty() {
        vec![]
    } else {
        spec.split(',').collect()
    };
    call_with_strings(st, start, &args)
}

/// `-l name`: `require(name)`, the result stored in the global `name`.
fn require_library(st: &mut State, name: &str) -> bool {
    let require = st.get_global(b"require").unwrap_or(TValue::NIL);
    if st.push(require).is_err() {
        return false;
    }
    match call_top(st, &[name.as_bytes()]) {
        Ok(n) => {
            // SAFETY: the call left `n` results on top.
            let v = if n > 0 {
                unsafe { *st.top().sub(n) }
            } else {
                TValue::NIL
            };
            let ok = st.set_global(name.as_bytes(), v).is_ok();
            st.pop(n);
            ok
        }
        Err(e) => {
            report(st, e, Some(&progname()));
            false
        }
    }
}

/// `LUA_INIT`: `@file` runs a file, anything else is a chunk named `=LUA_INIT`.
fn lua_init(st: &mut State) -> bool {
    let Some(init) = std::env::var_os("LUA_INIT") else {
        return true;
    };
    use std::os::unix::ffi::OsStrExt;
    let init = init.as_bytes();
    match init.strip_prefix(b"@") {
        Some(file) => do_file(st, Some(&String::from_utf8_lossy(file)), &[]),
        None => do_string(st, init, b"=LUA_INIT"),
    }
}

/// `-e`, `-l`, `-j`, `-O` and `-b` in the order given; false at the first failure. A
/// `-b` ends the run with its own exit code.
fn run_options(st: &mut State, args: &[String], upto: usize) -> Result<bool, ExitCode> {
    let mut i = 0;
    while i < upto {
        let a = args[i].as_str();
        let kind = a.as_bytes().get(1).copied();
        // The option's argument: attached ("-echunk") or the next one.
        let mut value = || -> String {
            if a.len() > 2 {
                a[2..].to_string()
            } else {
                i += 1;
                args[i].clone()
            }
        };
        let ok = match kind {
            Some(b'e') => {
                let chunk = value();
                do_string(st, chunk.as_bytes(), b"=(command line)")
            }
            Some(b'l') => {
                let name = value();
                require_library(st, &name)
            }
            Some(b'j') => {
                let cmd = value();
                jit_command(st, &cmd)
            }
            Some(b'O') => jit_opt(st, &a[2..]),
            Some(b'b') => {
                let mut rest = Vec::new();
                if a.len() > 2 {
                    rest.push(format!("-{}", &a[2..]));
                }
                rest.extend(args[i + 1..].iter().cloned());
                return Err(bcsave::run(st, &rest));
            }
            _ => true,
        };
        if !ok {
            return Ok(false);
        }
        i += 1;
    }
    Ok(true)
}

fn run(args: &[String]) -> ExitCode {
    let Some(flags) = collect_args(args) else {
        return usage();
    };
    let mut st = State::with_config(Config {
        ignore_env: flags.no_env,
        ..Config::from_env()
    });
    #[cfg(feature = "jit")]
    st.set_jit(Box::new(moonjet_jit::engine::Engine::new()));
    let ok = run_state(&mut st, args, &flags);
    st.flush();
    match ok {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(code) => code,
    }
}

fn run_state(st: &mut State, args: &[String], flags: &Flags) -> Result<bool, ExitCode> {
    if let Err(e) = set_arg_table(st, args, flags.script) {
        report(st, e, Some(&progname()));
        return Ok(false);
    }
    if !flags.no_env && !lua_init(st) {
        return Ok(false);
    }
    if flags.version {
        print_version(st);
    }
    if !run_options(st, args, flags.script.min(args.len()))? {
        return Ok(false);
    }
    if flags.script < args.len() {
        let name = args[flags.script].as_str();
        // "-" is stdin, unless it follows "--".
        let stdin = name == "-" && (flags.script == 0 || args[flags.script - 1] != "--");
        let script_args: Vec<&[u8]> = args[flags.script + 1..]
            .iter()
            .map(|s| s.as_bytes())
            .collect();
        if !do_file(st, (!stdin).then_some(name), &script_args) {
            return Ok(false);
        }
    }
    if flags.interactive {
        repl::print_jit_status(st);
        repl::run(st);
    } else if flags.script >= args.len() && !flags.exec && !flags.version {
        if std::io::stdin().is_terminal() {
            print_version(st);
            repl::print_jit_status(st);
            repl::run(st);
        } else if !do_file(st, None, &[]) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = run(&args);
    let _ = std::io::stdout().flush();
    code
}
