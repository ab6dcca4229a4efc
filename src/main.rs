//! The `moonjet` command. The interpreter does not exist yet: the command can list a
//! chunk's bytecode (`-bl`, as `luajit -bl`) and save it as a binary chunk (`-b`), and
//! otherwise says plainly that it cannot run Lua code yet instead of pretending to.

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
        _ => {
            eprintln!("moonjet: cannot run Lua code yet (the interpreter is not built); `moonjet -bl file.lua` lists bytecode");
            ExitCode::from(1)
        }
    }
}
