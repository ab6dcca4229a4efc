//! The `moonjet` command as a user meets it today: it runs scripts, `-e` chunks and
//! stdin, reports errors as luajit does, reports its version and lists bytecode like
//! `luajit -bl`.

use std::process::Command;

fn moonjet(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_moonjet"))
        .args(args)
        .output()
        .expect("run moonjet")
}

#[test]
fn version_flag_prints_the_package_version() {
    let out = moonjet(&["-v"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("");
    assert!(
        first.starts_with(&format!("moonjet {} -- ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(first.contains("LuaJIT 2.1"), "{text}");
}

fn run_stdin(args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_moonjet"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run moonjet");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn runs_a_script_with_arguments() {
    let dir = std::env::temp_dir().join(format!("moonjet-cli-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("args.lua"),
        "print(arg[0], ..., #arg, select('#', ...))\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_moonjet"))
        .args(["args.lua", "a", "b"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "args.lua\ta\t2\t2\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn runs_e_chunks_and_stdin() {
    let out = moonjet(&["-joff", "-e", "x = 6", "-e", "print(x * 7)"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n");
    let out = run_stdin(&["-"], "print(('ab'):rep(2))");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "abab\n");
}

#[test]
fn runtime_errors_print_luajits_message_and_traceback() {
    let out = moonjet(&["-e", "local t = nil\nprint(t.x)"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(": (command line):2: attempt to index local 't' (a nil value)\nstack traceback:\n\t(command line):2: in main chunk"),
        "{err}"
    );
    let out = moonjet(&["-e", "error({})"]);
    assert_eq!(out.status.code(), Some(1));
    // luajit's words for an error object without __tostring.
    assert!(String::from_utf8_lossy(&out.stderr).ends_with(": (error object is not a string)\n"));
}

#[test]
fn missing_script_is_reported() {
    let out = moonjet(&["no-such-script.lua"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("cannot open no-such-script.lua: No such file or directory"));
}

#[test]
fn bl_lists_bytecode_like_luajit() {
    let dir = std::env::temp_dir().join(format!("moonjet-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("t.lua");
    std::fs::write(&file, "local x = 1\nprint(x + 2)\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_moonjet"))
        .arg("-bl")
        .arg("t.lua")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    // Exactly what `luajit -bl t.lua` prints for this file.
    let want = "-- BYTECODE -- t.lua:0-3\n\
                0001    KSHORT   0   1\n\
                0002    GGET     1   0      ; \"print\"\n\
                0003    ADDVN    3   0   0  ; 2\n\
                0004    CALL     1   1   2\n\
                0005    RET0     0   1\n\n";
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    std::fs::write(&file, "x = = 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_moonjet"))
        .arg("-bl")
        .arg("t.lua")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).ends_with("t.lua:1: unexpected symbol near '='\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn b_saves_a_binary_chunk_that_loads_back() {
    let dir = std::env::temp_dir().join(format!("moonjet-cli-b-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("m.lua"),
        "local t = {} for i = 1, 3 do t[i] = i * 2 end return t\n",
    )
    .unwrap();
    for (flag, stripped) in [("-g", false), ("-s", true)] {
        let out = Command::new(env!("CARGO_BIN_EXE_moonjet"))
            .args(["-b", flag, "m.lua", "m.bc"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(dir.join("m.bc")).unwrap();
        assert!(moonjet_runtime::chunk::is_binary(&bytes));
        let loaded = moonjet_runtime::chunk::load(&bytes, b"=m").unwrap();
        let direct =
            moonjet_runtime::parse::parse(&std::fs::read(dir.join("m.lua")).unwrap(), b"@m.lua")
                .unwrap();
        assert_eq!(loaded.bc, direct.bc);
        assert_eq!(loaded.lineinfo.is_empty(), stripped);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lua_path_and_cpath_come_from_the_environment_with_double_semicolon_as_default() {
    let out = Command::new(env!("CARGO_BIN_EXE_moonjet"))
        .args(["-e", "print(package.path) print(package.cpath)"])
        .env("LUA_PATH", "first/?.lua;;last/?.lua")
        .env("LUA_CPATH", "mine/?.so")
        .output()
        .expect("run moonjet");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let path = lines.next().unwrap();
    assert!(path.starts_with("first/?.lua;./?.lua;"), "{path}");
    assert!(path.ends_with(";last/?.lua"), "{path}");
    assert_eq!(lines.next(), Some("mine/?.so"));

    let default = moonjet(&["-e", "print(package.path)"]);
    let default = String::from_utf8_lossy(&default.stdout);
    assert_eq!(path, format!("first/?.lua;{};last/?.lua", default.trim()));
}

#[test]
fn a_c_module_on_the_path_is_refused_with_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("moonjet-cmod-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cmod.so"), b"\x7fELF not really").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_moonjet"))
        .args(["-e", "print(pcall(require, 'cmod'))"])
        .env("LUA_CPATH", format!("{}/?.so", dir.display()))
        .output()
        .expect("run moonjet");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("false\t"), "{text}");
    assert!(text.contains("cmod.so"), "{text}");
    assert!(text.contains("no Lua C API"), "{text}");
}

#[test]
fn debug_debug_runs_commands_from_stdin_until_cont() {
    let out = run_stdin(
        &["-e", "debug.debug() print('done')"],
        "print('dbg', 1+1)\nerror('oops')\nx = (\ncont\nprint('not run')\n",
    );
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "dbg\t2\ndone\n");
    // Errors are shown as luajit shows them: the message only, even though the command
    // line's chunk runs under a traceback handler.
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "lua_debug> lua_debug> (debug command):1: oops\n\
         lua_debug> (debug command):2: unexpected symbol near '<eof>'\nlua_debug> "
    );
}
