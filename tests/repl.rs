//! The interactive mode driven through a pipe (as luajit's: prompts on stdout, plain
//! lines in, no escape codes), and Ctrl-C (SIGINT) stopping running Lua code.

mod common;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXE: &str = env!("CARGO_BIN_EXE_moonjet");

fn spawn(args: &[&str]) -> Child {
    Command::new(EXE)
        .args(args)
        .env_remove("LUA_INIT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run moonjet")
}

/// `moonjet -i` fed `input`: (stdout after the banner and JIT lines, stderr).
fn repl(input: &str) -> (String, String) {
    let mut child = spawn(&["-i"]);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = stdout.splitn(3, '\n');
    let banner = lines.next().unwrap();
    assert!(banner.starts_with("moonjet "), "{stdout}");
    let jit = lines.next().unwrap_or("");
    // luajit's line: the state, then the optimisation flags that are on.
    let mut words = jit.split(' ');
    assert_eq!(words.next(), Some("JIT:"), "{stdout}");
    assert!(matches!(words.next(), Some("ON" | "OFF")), "{stdout}");
    assert!(
        words.all(|w| [
            "fold", "cse", "dce", "fwd", "dse", "narrow", "loop", "abc", "sink", "fuse"
        ]
        .contains(&w)),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (lines.next().unwrap_or("").to_string(), stderr)
}

#[test]
fn pipe_session_prints_as_luajit_does() {
    // luajit -i prints exactly this (after its banner) for the same input.
    let (out, err) = repl("x=5\n=x*2\nfor i=1,2 do\nprint(i)\nend\n= 1, nil, \"s\"\nlocal y = \n");
    assert_eq!(out, "> > 10\n> >> >> 1\n2\n> 1\tnil\ts\n> >> \n");
    assert_eq!(err, "");
}

#[test]
fn errors_are_shown_without_leaving() {
    let (out, err) = repl("error('e')\nprint('still here')\nx = = 1\n");
    assert_eq!(out, "> > still here\n> > \n");
    assert_eq!(
        common::without_addresses(&err),
        "stdin:1: e\nstack traceback:\n\t[C]: in function 'error'\n\tstdin:1: in main chunk\n\
         \t[C]: at 0xADDR\nstdin:1: unexpected symbol near '='\n"
    );
}

#[test]
fn expressions_print_without_equals_and_keep_error_positions() {
    let (out, err) = repl("1 + 1\n'a', nil\nt = {n = 3}\nt.n\nstring.rep()\nprint('p')\n");
    assert_eq!(out, "> 2\n> a\tnil\n> > 3\n> > p\n> \n");
    // The call still runs as a call from line 1, so it is named and placed.
    assert!(
        err.starts_with("stdin:1: bad argument #1 to 'rep' (string expected, got no value)\n"),
        "{err}"
    );
}

#[test]
fn prompts_locals_and_end_of_input() {
    // _PROMPT/_PROMPT2 replace the prompts; locals live for one input only; input that
    // ends inside a statement leaves quietly.
    let (out, _) = repl("_PROMPT = 'lua> ' _PROMPT2 = '... '\nlocal a = 1\n=a\nif true then\n");
    assert_eq!(out, "> lua> lua> nil\nlua> ... \n");
}

/// Send SIGINT to `child` after `delay`, then wait at most `limit` for it to end.
fn interrupt(child: &mut Child, delay: Duration, limit: Duration) -> std::process::ExitStatus {
    std::thread::sleep(delay);
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("moonjet did not stop within {limit:?} of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigint_stops_an_endless_loop_with_interrupted() {
    let loops = [
        "local n = 0 while true do n = n + 1 end",
        // Each iteration leaves the root trace for a side trace that links back: the
        // interrupt is seen between traces too.
        "local n = 0 while true do if n % 2 == 0 then n = n + 1 else n = n + 3 end end",
    ];
    for code in loops {
        let mut child = spawn(&["-e", code]);
        let status = interrupt(
            &mut child,
            Duration::from_millis(300),
            Duration::from_secs(1),
        );
        assert_eq!(status.code(), Some(1), "{code}");
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).replace(EXE, "PROG");
        assert_eq!(
            common::without_addresses(&err),
            "PROG: (command line):1: interrupted!\nstack traceback:\n\t(command line):1: in main chunk\n\t[C]: at 0xADDR\n",
            "{code}"
        );
    }
}

#[test]
fn sigint_stops_a_recursion_running_in_traces() {
    // The recursive calls are made natively by the function's traces, which check for
    // an interrupt at each call and at each return.
    let code = "local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end print(fib(60))";
    let mut child = spawn(&["-e", code]);
    let status = interrupt(
        &mut child,
        Duration::from_millis(300),
        Duration::from_secs(1),
    );
    assert_eq!(status.code(), Some(1));
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).replace(EXE, "PROG");
    assert!(
        err.starts_with(
            "PROG: (command line):1: interrupted!\nstack traceback:\n\t(command line):1: in function 'fib'\n"
        ),
        "{err}"
    );
}

#[test]
fn sigint_in_the_repl_returns_to_the_prompt() {
    let mut child = spawn(&["-i"]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"while true do end\n").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    std::thread::sleep(Duration::from_millis(100));
    stdin.write_all(b"print('alive')\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("alive\n"));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("stdin:1: interrupted!\n"));
}
