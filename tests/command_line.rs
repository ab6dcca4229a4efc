//! The command line against luajit's: each case is an invocation with the stdout, stderr
//! and exit status `luajit` (2.1) gave for it, recorded by running luajit, with its
//! program name written as PROG and addresses as 0xADDR. Where moonjet deliberately
//! differs (the banner, `-l` storing its result in a global as newer luajit 2.1 does, the
//! JIT status without a JIT) the case says so.

mod common;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

/// Run moonjet in `dir` with `args`, `env` and `stdin`; outputs normalised.
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Run {
    let exe = env!("CARGO_BIN_EXE_moonjet");
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .current_dir(dir)
        .env_remove("LUA_INIT")
        .env_remove("LUA_PATH")
        .env_remove("LUA_CPATH")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run moonjet");
    // The child may exit without reading its input.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    let norm =
        |b: &[u8]| common::without_addresses(&String::from_utf8_lossy(b).replace(exe, "PROG"));
    Run {
        stdout: norm(&out.stdout),
        stderr: norm(&out.stderr),
        code: out.status.code(),
    }
}

/// A scratch directory (one per test, as tests run in parallel) with the scripts the
/// cases use.
fn scripts(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("moonjet-cmdline-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = [
        (
            "args.lua",
            "print('args', ...) print(arg[-3], arg[-2], arg[-1], arg[0], arg[1], #arg)\n",
        ),
        ("mymod.lua", "return { v = 42 }\n"),
        ("init.lua", "print('init file', ...)\n"),
        (
            "shebang.lua",
            "#!/usr/bin/env moonjet\nprint('shebang', ...)\n",
        ),
        (
            "fails.lua",
            "local t = nil\nlocal function f() return t.x end\nf()\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

const USAGE: &str = "usage: PROG [options]... [script [args]...].
Available options are:
  -e chunk  Execute string 'chunk'.
  -l name   Require library 'name'.
  -b ...    Save or list bytecode.
  -j cmd    Perform LuaJIT control command.
  -O[opt]   Control LuaJIT optimizations.
  -i        Enter interactive mode after executing 'script'.
  -v        Show version information.
  -E        Ignore environment variables.
  --        Stop handling options.
  -         Execute stdin and stop handling options.
";

/// (args, environment, stdin, stdout, stderr, exit status) as luajit gave them.
type Case = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
    &'static str,
    i32,
);

const CASES: &[Case] = &[
    // Options in order, the arg table and the script's `...`.
    (&["-e", "x=1", "args.lua", "a", "b"], &[], "", "args\ta\tb\nPROG\t-e\tx=1\targs.lua\ta\t2\n", "", 0),
    (&["--", "args.lua", "q"], &[], "", "args\tq\nnil\tPROG\t--\targs.lua\tq\t1\n", "", 0),
    (&["args.lua", "-x", "y"], &[], "", "args\t-x\ty\nnil\tnil\tPROG\targs.lua\t-x\t2\n", "", 0),
    (&["-eprint(9)"], &[], "", "9\n", "", 0),
    (&["-e", "x = 6", "-e", "print(x * 7)"], &[], "", "42\n", "", 0),
    (&["shebang.lua", "1", "2"], &[], "", "shebang\t1\t2\n", "", 0),
    // Stdin: "-" as the script, and stdin run when there is no script and it is no terminal.
    (&["-", "a"], &[], "print('from stdin', ...)\n", "from stdin\ta\n", "", 0),
    (&[], &[], "print('from stdin', ...)\n", "from stdin\n", "", 0),
    // After "--", "-" is a file name.
    (&["-e", "print(...)", "--", "-"], &[], "print('x')", "\n", "PROG: cannot open -: No such file or directory\n", 1),
    // Errors: message, traceback, non-string error objects, exit status 1.
    (&["-e", "error({})"], &[], "", "", "PROG: (error object is not a string)\n", 1),
    (&["-e", "error(true)"], &[], "", "", "PROG: (error object is not a string)\n", 1),
    (&["-e", "error(nil)"], &[], "", "", "", 1),
    (
        &["-e", "error(setmetatable({},{__tostring=function()return'TS'end}))"],
        &[], "", "",
        "PROG: TS\nstack traceback:\n\t[C]: in function 'error'\n\t(command line):1: in main chunk\n\t[C]: at 0xADDR\n",
        1,
    ),
    (
        &["-e", "error(12)"],
        &[], "", "",
        "PROG: (command line):1: 12\nstack traceback:\n\t[C]: in function 'error'\n\t(command line):1: in main chunk\n\t[C]: at 0xADDR\n",
        1,
    ),
    (
        &["fails.lua"],
        &[], "", "",
        "PROG: fails.lua:2: attempt to index upvalue 't' (a nil value)\nstack traceback:\n\tfails.lua:2: in function 'f'\n\tfails.lua:3: in main chunk\n\t[C]: at 0xADDR\n",
        1,
    ),
    (&["-e", "x = = 1"], &[], "", "", "PROG: (command line):1: unexpected symbol near '='\n", 1),
    // A stack overflow: its handler still has room for the traceback.
    (
        &["-e", "local function f() return 1 + f() end f()"],
        &[], "", "",
        concat!(
            "PROG: (command line):1: stack overflow\nstack traceback:\n",
            "\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n",
            "\t...\n",
            "\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n\t(command line):1: in function 'f'\n",
            "\t(command line):1: in main chunk\n\t[C]: at 0xADDR\n",
        ),
        1,
    ),
    (&["nofile.lua"], &[], "", "", "PROG: cannot open nofile.lua: No such file or directory\n", 1),
    (&["-e", "print(1)", "-e", "error('stop', 0)", "-e", "print(2)"], &[], "", "1\n", "PROG: stop\nstack traceback:\n\t[C]: in function 'error'\n\t(command line):1: in main chunk\n\t[C]: at 0xADDR\n", 1),
    // os.exit's status.
    (&["-e", "os.exit(2.9)"], &[], "", "", "", 2),
    (&["-e", "io.write('x') os.exit(false)"], &[], "", "x", "", 1),
    (&["-e", "os.exit(true)"], &[], "", "", "", 0),
    // Bad usage.
    (&["-e"], &[], "", "", USAGE, 1),
    (&["-x"], &[], "", "", USAGE, 1),
    (&["-i", "-x"], &[], "", "", USAGE, 1),
    (&["-ix"], &[], "", "", USAGE, 1),
    (&["-vx"], &[], "", "", USAGE, 1),
    (&["--x"], &[], "", "", USAGE, 1),
    (&["-j"], &[], "", "", USAGE, 1),
    (&["-l"], &[], "", "", USAGE, 1),
    (&["-e", "x=1", "-bl", "args.lua"], &[], "", "", USAGE, 1),
    // -j and -O.
    (&["-jfoo"], &[], "", "", "PROG: unknown luaJIT command or jit.* modules not installed\n", 1),
    (&["-jon", "-e", "print(1)"], &[], "", "1\n", "", 0),
    (&["-joff=1", "-e", "1"], &[], "", "", "PROG: bad argument #1 to '?' (function expected, got string)\n", 1),
    (&["-Ofoo", "-e", "1"], &[], "", "", "PROG: unknown or malformed optimization flag 'foo'\n", 1),
    (&["-O3", "-e", "print(1)"], &[], "", "1\n", "", 0),
    (&["-O", "-e", "print(2)"], &[], "", "2\n", "", 0),
    (&["-O+fold,-cse,hotloop=10", "-e", "print(3)"], &[], "", "3\n", "", 0),
    // -l: luajit 2.1 stores the module's result in the global of that name.
    (&["-l", "mymod", "-e", "print(mymod.v)"], &[], "", "42\n", "", 0),
    (&["-lmymod", "-e", "print(mymod.v)"], &[], "", "42\n", "", 0),
    // LUA_INIT and -E.
    (&["-e", "print(1)"], &[("LUA_INIT", "print('init chunk')")], "", "init chunk\n1\n", "", 0),
    (&["-e", "print(1)"], &[("LUA_INIT", "@init.lua")], "", "init file\n1\n", "", 0),
    (&["-E", "-e", "print(1)"], &[("LUA_INIT", "print('init chunk')")], "", "1\n", "", 0),
    (&["-e", "print(1)"], &[("LUA_INIT", "error('bad init')")], "", "", "PROG: LUA_INIT:1: bad init\nstack traceback:\n\t[C]: in function 'error'\n\tLUA_INIT:1: in main chunk\n\t[C]: at 0xADDR\n", 1),
    (&["-e", "print(1)"], &[("LUA_INIT", "@missing.lua")], "", "", "PROG: cannot open missing.lua: No such file or directory\n", 1),
    (&["-E", "-e", "print(package.path:match('^nope') == nil)"], &[("LUA_PATH", "nope/?.lua")], "", "true\n", "", 0),
    (&["-e", "print(package.path)"], &[("LUA_PATH", "nope/?.lua")], "", "nope/?.lua\n", "", 0),
    // -b: usage, unknown file type.
    (&["-b"], &[], "", "", "Save LuaJIT bytecode: PROG -b[options] input output
  -l        Only list bytecode.
  -s        Strip debug info (default).
  -g        Keep debug info.
  -n name   Set module name (default: auto-detect from input name).
  -t type   Set output file type (default: auto-detect from output name).
  -a arch   Override architecture for object files (default: native).
  -o os     Override OS for object files (default: native).
  -e chunk  Use chunk string as input.
  --        Stop handling options.
  -         Use stdin as input and/or stdout as output.

File types: c h obj o raw (default)
", 1),
    (&["-b", "-t", "zz", "args.lua", "x.out"], &[], "", "", "PROG: unknown file type\n", 1),
];

#[test]
fn options_behave_as_luajits() {
    let dir = scripts("options");
    let mut failures = Vec::new();
    for (args, env, stdin, out, err, code) in CASES {
        let r = run_in(&dir, args, env, stdin);
        if r.stdout != *out || r.stderr != *err || r.code != Some(*code) {
            failures.push(format!(
                "moonjet {args:?} (env {env:?}):\n  stdout {:?}\n  want   {out:?}\n  stderr {:?}\n  want   {err:?}\n  status {:?}, want {code}",
                r.stdout, r.stderr, r.code
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn version_banner_comes_before_the_options_run() {
    let dir = scripts("banner");
    let r = run_in(
        &dir,
        &["-v", "-e", "print('after')"],
        &[("LUA_INIT", "print('init')")],
        "",
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    assert_eq!(lines[0], "init");
    assert!(
        lines[1].starts_with("moonjet ") && lines[1].contains("LuaJIT 2.1"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "after");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn b_lists_saves_and_refuses_c_output() {
    let dir = scripts("bcsave");
    // -bl to a file, -b with -e, the saved chunk run as a script (recognised by its magic).
    let r = run_in(&dir, &["-bl", "args.lua", "listing.txt"], &[], "");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let listing = std::fs::read_to_string(dir.join("listing.txt")).unwrap();
    assert!(
        listing
            .starts_with("-- BYTECODE -- args.lua:0-2\n0001    GGET     0   0      ; \"print\"\n"),
        "{listing}"
    );
    let r = run_in(
        &dir,
        &["-b", "-g", "-e", "print('saved', ...)", "saved.bc"],
        &[],
        "",
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = run_in(&dir, &["saved.bc", "x"], &[], "");
    assert_eq!((r.stdout.as_str(), r.code), ("saved\tx\n", Some(0)));
    let r = run_in(&dir, &["-b", "args.lua", "out.c"], &[], "");
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("moonjet saves raw bytecode only"),
        "{}",
        r.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}
