//! The `moonjet` command: runs Lua scripts (`moonjet script.lua args`, `-e chunk`, `-`
//! for stdin), lists bytecode (`-bl`, as `luajit -bl`) and saves binary chunks (`-b`).
//! `-j` and `-O` options are accepted so benchmarks can name the mode; the JIT and the
//! rest of luajit's options come later.

use std::io::{Read, Write};
use std::process::ExitCode;

/// The program name for messages, as given (luajit prints `argv[0]` verbatim).
fn progname() -> String {
    std::env::args().next().unwrap_or_else(|| "moonjet".into())
}

/// The text of a script and its chunk name (`@path`, or `=stdin` for `-`); reports a
/// failure as luajit does (`moonjet: cannot open x.lua: No such file or directory`).
fn read_source(input: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    if input == "-" {
        let mut buf = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
            eprintln!("{}: cannot read stdin: {e}", progname());
            return None;
        }
        return Some((buf, b"=stdin".to_vec()));
    }
    match std::fs::read(input) {
        Ok(buf) => Some((buf, format!("@{input}").into_bytes())),
        Err(e) => {
            let why = e.to_string();
            let why = why.split(" (os error").next().unwrap_or(&why).to_string();
            eprintln!("{}: cannot open {input}: {why}", progname());
            None
        }
    }
}

/// `-bl [file|-]`: print the bytecode listing of a chunk.
fn list_bytecode(input: Option<&str>) -> ExitCode {
    let Some((src, chunkname)) = read_source(input.unwrap_or("-")) else {
        return ExitCode::from(1);
    };
    match moonjet_runtime::parse::parse(&src, &chunkname) {
        Ok(pt) => {
            let _ = std::io::stdout().write_all(&moonjet_runtime::bclist::list(&pt));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {}", progname(), e.msg);
            ExitCode::from(1)
        }
    }
}

/// `-b [-s|-g] input output`: save a chunk as a binary chunk (stripped with `-s`, the
/// default, as luajit; `-g` keeps debug info). `-` is stdin/stdout.
fn save_bytecode(args: &[String]) -> ExitCode {
    let mut strip = true;
    let mut files = vec![];
    for a in args {
        match a.as_str() {
            "-s" => strip = true,
            "-g" => strip = false,
            _ => files.push(a.as_str()),
        }
    }
    let [input, output] = files[..] else {
        eprintln!("usage: {} -b [-s|-g] input output", progname());
        return ExitCode::from(1);
    };
    let Some((src, chunkname)) = read_source(input) else {
        return ExitCode::from(1);
    };
    let pt = match moonjet_runtime::parse::parse(&src, &chunkname) {
        Ok(pt) => pt,
        Err(e) => {
            eprintln!("{}: {}", progname(), e.msg);
            return ExitCode::from(1);
        }
    };
    let bytes = moonjet_runtime::chunk::dump(&pt, strip);
    let written = if output == "-" {
        std::io::stdout().write_all(&bytes)
    } else {
        std::fs::write(output, &bytes)
    };
    if let Err(e) = written {
        eprintln!("{}: cannot write {output}: {e}", progname());
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

use moonjet_runtime::vm::State;

/// Report an error value that reached the top, as luajit does.
fn report(st: &mut State, e: moonjet_gc::TValue) {
    st.flush();
    if e.is_nil() {
        return;
    }
    let msg = st.display_value(e);
    eprintln!("{}: {}", progname(), String::from_utf8_lossy(&msg));
}

/// Run a loaded function (on top of the stack) with `args`, reporting errors with a
/// traceback. Returns false on error.
fn run_function(st: &mut State, args: &[Vec<u8>]) -> bool {
    for a in args {
        if st.push_bytes(a).is_err() {
            return false;
        }
    }
    match st.pcall_traceback(args.len()) {
        Ok(()) => true,
        Err(e) => {
            report(st, e);
            false
        }
    }
}

fn run_chunk(st: &mut State, src: &[u8], chunkname: &[u8], args: &[Vec<u8>]) -> bool {
    match st.load(src, chunkname, b"bt") {
        Ok(true) => run_function(st, args),
        Ok(false) => {
            let top = st.top();
            // SAFETY: load pushed the message.
            let e = unsafe { *top.sub(1) };
            st.pop(1);
            report(st, e);
            false
        }
        Err(_) => {
            let e = st.error_value();
            report(st, e);
            false
        }
    }
}

/// Build the global `arg` table: script at 0, options before it at negative indices.
fn set_arg_table(st: &mut State, all: &[String], script_index: Option<usize>) {
    let Ok(t) = st.new_table(all.len() as u32, 0) else {
        return;
    };
    let tv = moonjet_gc::TValue::from_tab(t);
    let _ = st.push(tv);
    let zero = script_index.unwrap_or(all.len()) as i64;
    let mut full = vec![progname()];
    full.extend(all.iter().cloned());
    for (i, a) in full.iter().enumerate() {
        let idx = i as i64 - 1 - zero;
        if let Ok(v) = st.new_str(a.as_bytes()) {
            let _ = st.push(v);
            let _ = st.raw_set(t, moonjet_gc::TValue::from_f64(idx as f64), v);
            st.pop(1);
        }
    }
    let _ = st.set_global(b"arg", tv);
    st.pop(1);
}

fn run(args: &[String]) -> ExitCode {
    let mut st = State::new();
    let mut i = 0;
    let mut ok = true;
    let mut script = None;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "--" => {
                i += 1;
                if i < args.len() {
                    script = Some(i);
                }
                break;
            }
            "-" => {
                script = Some(i);
                break;
            }
            "-e" => {
                let Some(chunk) = args.get(i + 1) else {
                    eprintln!("usage: {} [options]... [script [args]...]", progname());
                    return ExitCode::from(1);
                };
                i += 2;
                let _ = chunk;
            }
            _ if a.starts_with("-e") => i += 1,
            _ if a.starts_with("-j") || a.starts_with("-O") => i += 1,
            _ if a.starts_with('-') => {
                eprintln!("usage: {} [options]... [script [args]...]", progname());
                return ExitCode::from(1);
            }
            _ => {
                script = Some(i);
                break;
            }
        }
    }
    set_arg_table(&mut st, args, script);
    // Run -e chunks in order, then the script.
    let mut i = 0;
    while i < script.unwrap_or(args.len()) && ok {
        let a = args[i].as_str();
        if a == "-e" || (a.starts_with("-e") && a.len() > 2) {
            let (chunk, step) = if a == "-e" {
                (args[i + 1].clone(), 2)
            } else {
                (a[2..].to_string(), 1)
            };
            ok = run_chunk(&mut st, chunk.as_bytes(), b"=(command line)", &[]);
            i += step;
        } else {
            i += 1;
        }
    }
    if ok {
        if let Some(si) = script {
            match read_source(&args[si]) {
                Some((src, chunkname)) => {
                    let rest: Vec<Vec<u8>> = args[si + 1..]
                        .iter()
                        .map(|s| s.as_bytes().to_vec())
                        .collect();
                    ok = run_chunk(&mut st, &src, &chunkname, &rest);
                }
                None => ok = false,
            }
        } else if !args.iter().any(|a| a.starts_with("-e")) {
            // No script and no chunk: run stdin, as luajit does when it is not a terminal.
            if let Some((src, chunkname)) = read_source("-") {
                ok = run_chunk(&mut st, &src, &chunkname, &[]);
            }
        }
    }
    st.flush();
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("-v") | Some("--version") => {
            println!("moonjet {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("-bl") => list_bytecode(args.get(1).map(String::as_str)),
        Some("-b") if args.get(1).map(String::as_str) == Some("-l") => {
            list_bytecode(args.get(2).map(String::as_str))
        }
        Some("-b") => save_bytecode(&args[1..]),
        _ => run(&args),
    }
}
