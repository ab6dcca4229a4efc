//! `moonjet -b ...`: save or list bytecode, with the options of luajit's `-b` (its
//! `jit.bcsave`). moonjet writes raw bytecode (luajit's format, loadable by both); the C,
//! header and object-file outputs are refused with a clear message.

use crate::{io_error_text, progname};
use moonjet_runtime::vm::State;
use std::io::{Read, Write};
use std::process::ExitCode;

fn usage() -> ExitCode {
    let _ = std::io::stdout().flush();
    eprint!(
        "Save LuaJIT bytecode: {} -b[options] input output\n  \
         -l        Only list bytecode.\n  \
         -s        Strip debug info (default).\n  \
         -g        Keep debug info.\n  \
         -n name   Set module name (default: auto-detect from input name).\n  \
         -t type   Set output file type (default: auto-detect from output name).\n  \
         -a arch   Override architecture for object files (default: native).\n  \
         -o os     Override OS for object files (default: native).\n  \
         -e chunk  Use chunk string as input.\n  \
         --        Stop handling options.\n  \
         -         Use stdin as input and/or stdout as output.\n\n\
         File types: c h obj o raw (default)\n",
        progname()
    );
    ExitCode::from(1)
}

fn fail(msg: &str) -> ExitCode {
    let _ = std::io::stdout().flush();
    eprintln!("{}: {msg}", progname());
    ExitCode::from(1)
}

#[derive(Default)]
struct Options {
    list: bool,
    strip: bool,
    chunk: Option<String>,
    file_type: Option<String>,
    files: Vec<String>,
}

/// Parse bcsave's arguments (single-letter flags may be combined: `-ls`). `None` on bad
/// usage.
fn parse(args: &[String]) -> Option<Options> {
    let mut o = Options {
        strip: true,
        ..Options::default()
    };
    let mut i = 0;
    let mut options_done = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if options_done || !a.starts_with('-') || a == "-" {
            o.files.push(a.clone());
            continue;
        }
        if a == "--" {
            options_done = true;
            continue;
        }
        for c in a[1..].chars() {
            match c {
                'l' => o.list = true,
                's' => o.strip = true,
                'g' => o.strip = false,
                'n' | 't' | 'a' | 'o' | 'e' => {
                    let v = args.get(i)?.clone();
                    i += 1;
                    match c {
                        't' => o.file_type = Some(v),
                        'e' => o.chunk = Some(v),
                        // Module name, architecture and OS only matter for C and object
                        // files, which moonjet does not write.
                        _ => {}
                    }
                }
                _ => return None,
            }
        }
    }
    Some(o)
}

/// The input's text and chunk name (luajit names a `-e` chunk by its text).
fn read_input(o: &Options) -> Result<(Vec<u8>, Vec<u8>), String> {
    if let Some(c) = &o.chunk {
        return Ok((c.as_bytes().to_vec(), c.as_bytes().to_vec()));
    }
    let input = o.files.first().map(String::as_str).unwrap_or("-");
    if input == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read stdin: {}", io_error_text(&e)))?;
        return Ok((buf, b"=stdin".to_vec()));
    }
    std::fs::read(input)
        .map(|b| (b, format!("@{input}").into_bytes()))
        .map_err(|e| format!("cannot open {input}: {}", io_error_text(&e)))
}

fn write_output(path: Option<&str>, bytes: &[u8]) -> Result<(), String> {
    match path {
        None | Some("-") => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes).and_then(|()| out.flush())
        }
        Some(p) => std::fs::write(p, bytes),
    }
    .map_err(|e| {
        format!(
            "cannot write {}: {}",
            path.unwrap_or("-"),
            io_error_text(&e)
        )
    })
}

/// The output type: given with `-t`, else from the output name's extension.
fn output_type(o: &Options, output: &str) -> Result<String, String> {
    let t = match &o.file_type {
        Some(t) => t.clone(),
        None => match output.rsplit_once('.') {
            Some((_, ext)) if ["c", "h", "obj", "o"].contains(&ext) => ext.to_string(),
            _ => "raw".to_string(),
        },
    };
    match t.as_str() {
        "raw" => Ok(t),
        "c" | "h" | "obj" | "o" => Err(format!(
            "cannot write '{t}' files: moonjet saves raw bytecode only (use -t raw)"
        )),
        _ => Err("unknown file type".to_string()),
    }
}

pub fn run(_st: &mut State, args: &[String]) -> ExitCode {
    let Some(o) = parse(args) else {
        return usage();
    };
    let inputs = if o.chunk.is_some() { 0 } else { 1 };
    // Listing needs an input (output optional); saving needs an input and an output.
    let wanted = if o.list {
        inputs..=inputs + 1
    } else {
        inputs + 1..=inputs + 1
    };
    if !wanted.contains(&o.files.len()) {
        return usage();
    }
    let output = o.files.get(inputs).map(String::as_str);
    if !o.list {
        if let Err(m) = output_type(&o, output.unwrap_or("-")) {
            return fail(&m);
        }
    }
    let (src, chunkname) = match read_input(&o) {
        Ok(x) => x,
        Err(m) => return fail(&m),
    };
    let pt = if moonjet_runtime::chunk::is_binary(&src) {
        moonjet_runtime::chunk::load(&src, &chunkname).map_err(|e| e.message(&chunkname))
    } else {
        moonjet_runtime::parse::parse(&src, &chunkname).map_err(|e| e.msg)
    };
    let pt = match pt {
        Ok(pt) => pt,
        Err(m) => return fail(&m),
    };
    let bytes = if o.list {
        moonjet_runtime::bclist::list(&pt)
    } else {
        moonjet_runtime::chunk::dump(&pt, o.strip)
    };
    match write_output(output, &bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(m) => fail(&m),
    }
}
