//! The life of a trace: traces are GC objects that die with their function, `jit.flush`
//! retires them (and the loops run interpreted, then compile again), a full trace cache
//! starts over, loops whose recordings keep aborting are blacklisted as luajit does them,
//! and `jit.on/off/flush(func)` act on one function. The programs' output never changes.
//! Command-level checks compare `-jv` with what luajit 2.1 printed for the same script.
#![cfg(feature = "jit")]

mod common;

use common::Captured;
use moonjet_runtime::vm::jit_iface::JitStats;
use moonjet_runtime::vm::State;
use std::path::PathBuf;
use std::process::Command;

/// A state with the JIT (or without), printing into a buffer.
struct Run {
    st: Box<State>,
    out: Captured,
}

impl Run {
    fn new(jit: bool, stress: bool) -> Run {
        let mut st = State::with_stress(stress);
        let out = Captured::default();
        st.out = Box::new(out.clone());
        if jit {
            st.set_jit(Box::new(moonjet_jit::engine::Engine::new()));
        }
        Run { st, out }
    }

    /// Run a chunk; its printed output (or the error, as "ERROR: ...").
    fn exec(&mut self, code: &str) -> String {
        self.out.0.borrow_mut().clear();
        if let Err(e) = self.st.exec(code.as_bytes(), b"=prog") {
            let m = self.st.display_value(e);
            self.out.0.borrow_mut().extend_from_slice(b"ERROR: ");
            self.out.0.borrow_mut().extend_from_slice(&m);
        }
        self.st.flush();
        String::from_utf8_lossy(&self.out.0.borrow()).into_owned()
    }

    fn stats(&self) -> JitStats {
        self.st.jit_stats()
    }

    /// (traces in service, traces out of service whose code is not released yet)
    fn traces(&self) -> (usize, usize) {
        self.st.jit_trace_counts()
    }
}

/// What the interpreter alone prints for `chunks` run one after the other.
fn interpreted(chunks: &[&str]) -> Vec<String> {
    let mut r = Run::new(false, false);
    chunks.iter().map(|c| r.exec(c)).collect()
}

#[test]
fn traces_of_functions_that_become_garbage_are_collected() {
    for stress in [false, true] {
        let mut r = Run::new(true, stress);
        let setup = "F = load('local s = 0 for i = 1, 100 do s = s + i end return s')\n\
                     G = function() local s = 0 for i = 1, 100 do s = s + 2 end return s end\n\
                     print(F(), G())";
        assert_eq!(r.exec(setup), "5050\t200\n");
        assert_eq!(r.traces(), (2, 0), "stress {stress}");
        assert_eq!(r.exec("F = nil collectgarbage()"), "");
        assert_eq!(
            r.traces(),
            (1, 0),
            "F's trace went with F, and its code was released (stress {stress})"
        );
        assert_eq!(r.exec("print(G())"), "200\n", "G's trace still runs");
        // Many short-lived functions: their traces never pile up.
        let churn = "local t = 0\n\
                     for k = 1, 30 do\n\
                       local f = load('local s = 0 for i = 1, 100 do s = s + i end return s')\n\
                       t = t + f()\n\
                       if k % 10 == 0 then collectgarbage() end\n\
                     end\n\
                     print(t)";
        assert_eq!(r.exec(churn), "151500\n");
        assert!(r.stats().traces >= 32, "{:?}", r.stats());
        r.exec("collectgarbage()");
        assert_eq!(r.traces(), (1, 0), "stress {stress}");
    }
}

#[test]
fn flush_retires_every_trace_and_loops_compile_again() {
    let chunks = [
        "function F() local s = 0 for i = 1, 200 do s = s + i end return s end\n\
         function W() local s = 0 while s < 1000 do s = s + 3 end return s end\n\
         print(F(), W())",
        "jit.flush() print(F(), W())",
        "jit.flush() jit.flush() print(F())",
    ];
    let plain = interpreted(&chunks);
    for stress in [false, true] {
        let mut r = Run::new(true, stress);
        assert_eq!(r.exec(chunks[0]), plain[0]);
        assert_eq!(r.traces(), (2, 0));
        assert_eq!(r.stats().traces, 2);
        assert_eq!(r.exec(chunks[1]), plain[1]);
        assert_eq!(
            r.stats().traces,
            4,
            "both loops ran interpreted after the flush, then were compiled again"
        );
        assert_eq!(r.traces(), (2, 0), "flushed code is released at once");
        assert_eq!(r.exec(chunks[2]), plain[2]);
        assert_eq!(r.traces(), (1, 0));
        assert_eq!(r.stats().flushes, 3);
        // The bytecode the traces patched was restored: a dump loads and runs.
        assert_eq!(
            r.exec("jit.flush() print(loadstring(string.dump(F))())"),
            "20100\n"
        );
    }
}

/// `s` summed by five loops in a row: five traces, one per line 2-6.
fn five_sum_loops() -> String {
    format!(
        "local s = 0\n{}",
        "for i = 1, 100 do s = s + i end\n".repeat(5)
    )
}

#[test]
fn a_full_trace_cache_is_flushed() {
    let code = &format!("{}print(s)", five_sum_loops());
    let plain = interpreted(&[code]);
    // luajit: maxtrace=2 makes traces 1 and 2, flushes at the third loop (which then
    // runs interpreted), and makes traces 1 and 2 again for the last two.
    for (maxtrace, traces, flushes) in [(2, 4, 1), (1, 3, 2), (0, 3, 2), (1000, 5, 0)] {
        let mut r = Run::new(true, false);
        r.exec(&format!("jit.opt.start('maxtrace={maxtrace}')"));
        assert_eq!(r.exec(code), plain[0]);
        let s = r.stats();
        assert_eq!(
            (s.traces, s.flushes),
            (traces, flushes),
            "maxtrace={maxtrace}"
        );
    }
}

#[test]
fn a_loop_that_always_aborts_is_blacklisted_after_eleven_tries() {
    // Closure creation is not compiled (luajit: "NYI: bytecode 51").
    let code = "local n = 0\n\
                for j = 1, 100000 do local f = function() end n = n + 1 end\n\
                print(n)";
    let plain = interpreted(&[code]);
    let mut r = Run::new(true, false);
    assert_eq!(r.exec(code), plain[0]);
    let s = r.stats();
    assert_eq!((s.aborts, s.blacklisted, s.traces), (11, 1, 0), "{s:?}");
    // Running it again costs nothing: the loop is blacklisted in the bytecode (a new
    // chunk is a new prototype, so use a function kept across runs).
    let f = "function B() local n = 0 for j = 1, 10000 do local f = function() end n = n + 1 end return n end";
    r.exec(f);
    assert_eq!(r.exec("for k = 1, 4 do B() end print(B())"), "10000\n");
    assert_eq!(r.stats().blacklisted, 2);
    let before = r.stats().aborts;
    assert_eq!(before, 22);
    assert_eq!(r.exec("print(B(), B())"), "10000\t10000\n");
    assert_eq!(
        r.stats().aborts,
        before,
        "a blacklisted loop is not recorded"
    );
    // jit.on(func) lifts the blacklisting; jit.flush() forgets the penalties.
    assert_eq!(r.exec("jit.on(B) print(B())"), "10000\n");
    assert!(r.stats().aborts > before, "recorded again after jit.on(B)");
    // A dump of a function with a blacklisted loop loads and runs.
    assert_eq!(r.exec("print(loadstring(string.dump(B))())"), "10000\n");
}

#[test]
fn an_aborted_loop_waits_before_it_is_tried_again() {
    // 2000 iterations: luajit tries at back-edges 56, +37, +73.., so 6 times in all.
    let code = "local n = 0 for j = 1, 2000 do local f = function() end n = n + 1 end print(n)";
    let mut r = Run::new(true, false);
    assert_eq!(r.exec(code), "2000\n");
    assert_eq!(r.stats().aborts, 6);
}

#[test]
fn jit_off_func_keeps_only_that_function_interpreted() {
    let chunks = [
        "function F() local s = 0 for i = 1, 200 do s = s + i end return s end\n\
         function G() local s = 0 for i = 1, 200 do s = s + 2 end return s end\n\
         jit.off(F) print(F(), G())",
        "print(F(), G())",
        "jit.on(F) print(F(), G())",
        "jit.off(F) print(F())",
        "jit.flush(G) print(G())",
    ];
    let plain = interpreted(&chunks);
    for stress in [false, true] {
        let mut r = Run::new(true, stress);
        assert_eq!(r.exec(chunks[0]), plain[0]);
        assert_eq!(r.stats().traces, 1, "only G's loop is compiled");
        assert_eq!(r.exec(chunks[1]), plain[1]);
        assert_eq!(r.stats().traces, 1);
        assert_eq!(r.exec(chunks[2]), plain[2]);
        assert_eq!(r.stats().traces, 2, "F compiles after jit.on(F)");
        assert_eq!(r.exec(chunks[3]), plain[3]);
        assert_eq!(r.traces(), (1, 0), "jit.off(F) flushed F's trace");
        assert_eq!(r.stats().traces, 2, "and F stays interpreted");
        assert_eq!(r.exec(chunks[4]), plain[4]);
        assert_eq!(r.stats().traces, 3, "G compiled again after jit.flush(G)");
        assert_eq!(r.traces(), (1, 0));
        assert_eq!(r.stats().aborts, 0);
    }
}

#[test]
fn jit_switches_reach_nested_functions_when_asked() {
    let setup = "function OUTER()\n\
                   local function inner() local s = 0 for i = 1, 100 do s = s + i end return s end\n\
                   local t = 0\n\
                   for i = 1, 100 do t = t + 2 end\n\
                   return t + inner()\n\
                 end";
    let mut r = Run::new(true, false);
    r.exec(setup);
    assert_eq!(r.exec("jit.off(OUTER, true) print(OUTER())"), "5250\n");
    assert_eq!(r.stats().traces, 0, "off for OUTER and inner");
    assert_eq!(r.exec("jit.on(OUTER, false) print(OUTER())"), "5250\n");
    assert_eq!(r.stats().traces, 1, "on for inner only");
    assert_eq!(r.exec("jit.on(OUTER) print(OUTER())"), "5250\n");
    assert_eq!(r.stats().traces, 2, "and now OUTER too");
    assert_eq!(r.exec("jit.flush(OUTER, true)"), "");
    assert_eq!(r.traces(), (0, 0));
    // `true`: the calling function.
    let me =
        "function SELF() jit.off(true) local s = 0 for i = 1, 100 do s = s + i end return s end\n\
              print(SELF())";
    assert_eq!(r.exec(me), "5050\n");
    assert_eq!(r.stats().traces, 2);
    // jit.flush(n) retires trace n.
    assert_eq!(
        r.exec("print(OUTER()) jit.flush(1) jit.flush(1.5) jit.flush(0)"),
        "5250\n"
    );
    assert_eq!(r.traces().0, 1);
}

#[test]
fn jit_switches_reject_what_luajit_rejects() {
    let mut r = Run::new(true, false);
    let cases = [
        (
            "jit.flush(false)",
            "ERROR: prog:1: bad argument #1 to 'flush' (function expected, got boolean)",
        ),
        (
            "jit.on(print)",
            "ERROR: prog:1: bad argument #1 to 'on' (function expected, got function)",
        ),
        (
            "jit.off(1)",
            "ERROR: prog:1: bad argument #1 to 'off' (function expected, got number)",
        ),
        (
            "jit.flush('1')",
            "ERROR: prog:1: bad argument #1 to 'flush' (function expected, got string)",
        ),
        (
            "print(pcall(jit.off, true))",
            "false\tbad argument #1 to '?' (function expected, got boolean)\n",
        ),
        (
            "jit.off(nil, 1) jit.on() print(pcall(jit.on, function() end, 'x'))",
            "true\n",
        ),
        (
            "local u = newproxy(true)\n\
             getmetatable(u).__gc = function()\n\
               print(pcall(jit.flush)) print(pcall(jit.off)) print(pcall(jit.on, print))\n\
               print(pcall(jit.on, function() end)) print(pcall(jit.flush, 1))\n\
             end\n\
             u = nil collectgarbage()",
            "false\tbad action while in __gc metamethod\n\
             false\tbad action while in __gc metamethod\n\
             false\tbad action while in __gc metamethod\n\
             false\tbad action while in __gc metamethod\n\
             false\tbad action while in __gc metamethod\n",
        ),
    ];
    for (code, want) in cases {
        assert_eq!(r.exec(code), want, "{code}");
    }
    assert!(r.st.jit_enabled());
}

// ---- the command: `-jv` as luajit prints it ------------------------------------------

fn script_dir(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("moonjet-jit-traces-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run `moonjet args... script` on `text` saved as `name`: (stdout, stderr).
fn moonjet(test: &str, args: &[&str], name: &str, text: &str, stress: bool) -> (String, String) {
    let dir = script_dir(test);
    std::fs::write(dir.join(name), text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_moonjet"));
    cmd.args(args).arg(name).current_dir(&dir);
    if stress {
        cmd.env("MOONJET_GC_STRESS", "1");
    } else {
        cmd.env_remove("MOONJET_GC_STRESS");
    }
    let out = cmd.output().expect("run moonjet");
    assert!(out.status.success(), "{out:?}");
    let text = |b: &[u8]| common::without_addresses(&String::from_utf8_lossy(b));
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn jv_reports_flushes_and_numbers_traces_from_the_registry() {
    let script = &format!(
        "{}print(s)\njit.flush()\nfor i = 1, 100 do s = s + i end\n",
        five_sum_loops()
    );
    for stress in [false, true] {
        let (out, err) = moonjet("mt", &["-jv", "-Omaxtrace=2"], "mt.lua", script, stress);
        assert_eq!(out, "25250\n");
        // As luajit 2.1 printed it.
        assert_eq!(
            err,
            "[TRACE   1 mt.lua:2 loop]\n[TRACE   2 mt.lua:3 loop]\n[TRACE flush]\n\
             [TRACE   1 mt.lua:5 loop]\n[TRACE   2 mt.lua:6 loop]\n[TRACE flush]\n\
             [TRACE   1 mt.lua:9 loop]\n"
        );
    }
}

#[test]
fn jv_reports_aborts_with_where_they_happened_until_the_loop_is_blacklisted() {
    let script = "local n = 0\n\
                  for j = 1, 100000 do\n\
                  \x20 local f = function() end\n\
                  \x20 n = n + 1\n\
                  end\n\
                  print(n)\n\
                  for i = 1, 1000 do local f = function() end end\n";
    let (out, err) = moonjet("bl", &["-jv"], "bl.lua", script, false);
    assert_eq!(out, "100000\n");
    // luajit: 11 times "[TRACE --- bl.lua:2 -- NYI: bytecode 51 at bl.lua:3]", then 5
    // times "[TRACE --- bl.lua:7 -- NYI: bytecode 51]" (no "at": same line). The reason
    // is the recorder's own wording.
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 16, "{err}");
    for l in &lines[..11] {
        assert!(l.starts_with("[TRACE --- bl.lua:2 -- NYI: "), "{l}");
        assert!(l.ends_with(" at bl.lua:3]"), "{l}");
    }
    for l in &lines[11..] {
        assert!(l.starts_with("[TRACE --- bl.lua:7 -- NYI: "), "{l}");
        assert!(!l.contains(" at "), "{l}");
    }
}

#[test]
fn jv_shows_locations_as_luajit_does() {
    let script = "load('for i = 1, 100 do end', '=named')()\n\
                  load('for i = 1, 100 do end', 'short')()\n\
                  load('for i = 1, 100 do end', '@dir/sub/file.lua')()\n\
                  load('for i = 1, 100 do end -- a chunk name longer than forty bytes')()\n";
    let (_, err) = moonjet("loc", &["-jv"], "loc.lua", script, false);
    assert_eq!(
        err,
        "[TRACE   1 named:1 loop]\n[TRACE   2 \"short\":1 loop]\n\
         [TRACE   3 file.lua:1 loop]\n[TRACE   4 0xADDR:1 loop]\n"
    );
}

#[test]
fn a_for_loop_counts_when_it_leaves_too() {
    // luajit counts every FORL: a 56-iteration loop gets hot as it leaves, and the
    // recording then aborts on the instruction after it ("leaving loop in root trace at
    // x56.lua:5"); the counts of a loop run again and again add up.
    let script = "local s = 0\nfor i = 1, 56 do\n  s = s + i\nend\nprint(s)\n";
    let (out, err) = moonjet("x56", &["-jv"], "x56.lua", script, false);
    assert_eq!(out, "1596\n");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("[TRACE --- x56.lua:2 -- "), "{err}");
    assert!(lines[0].ends_with(" at x56.lua:5]"), "{err}");
    // An inner loop of 7 iterations: its 56th FORL is the last of the 8th run, so the
    // recording leaves the loop at once (luajit: "[TRACE --- nested.lua:3 -- leaving
    // loop in root trace at nested.lua:2]").
    let nested = "local s = 0\nfor j = 1, 9 do\n  for i = 1, 7 do s = s + i end\nend\nprint(s)\n";
    let (out, err) = moonjet("nested", &["-jv"], "nested.lua", nested, false);
    assert_eq!(out, "252\n");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("[TRACE --- nested.lua:3 -- "), "{err}");
    assert!(lines[0].ends_with(" at nested.lua:2]"), "{err}");
}

// ---- side traces -------------------------------------------------------------------

/// A loop with a branch that flips every third iteration, and a nested loop.
const SIDE_SCRIPT: &str = "local s = 0\n\
                           for i = 1, 300 do\n\
                           \x20 if i % 3 == 0 then s = s + 1 else s = s + 2 end\n\
                           end\n\
                           local t = 0\n\
                           for i = 1, 100 do\n\
                           \x20 for j = 1, 100 do t = t + j end\n\
                           end\n\
                           print(s, t)\n";

#[test]
fn hot_exits_grow_side_traces_that_link_back_as_luajit_shows_them() {
    for stress in [false, true] {
        let (out, err) = moonjet("side", &["-jv"], "side.lua", SIDE_SCRIPT, stress);
        assert_eq!(out, "500\t505000\n");
        // luajit 2.1 printed the same traces, parents, locations and links; only the
        // exit numbers differ (they are snapshot numbers, and our snapshots are not
        // laid out as luajit's): (1/1), (1/5) and (4/3) there.
        assert_eq!(
            err,
            "[TRACE   1 side.lua:2 loop]\n[TRACE   2 (1/1) side.lua:3 -> 1]\n\
             [TRACE   3 (1/6) side.lua:3 -> 1]\n[TRACE   4 side.lua:7 loop]\n\
             [TRACE   5 (4/5) side.lua:6 -> 4]\n",
            "stress {stress}"
        );
    }
    // A side trace of a side trace; traces ending in a return leave for the interpreter
    // to make it (luajit calls that link "return").
    let script = "local function f(n)\n\
                  \x20 local x = 0\n\
                  \x20 for j = 1, n do x = x + j end\n\
                  \x20 return x\n\
                  end\n\
                  local s = 0\n\
                  for i = 1, 100 do s = s + f(100) end\n\
                  print(s)\n";
    let (out, err) = moonjet("ret", &["-jv"], "ret.lua", script, false);
    assert_eq!(out, "505000\n");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[0], "[TRACE   1 ret.lua:3 loop]", "{err}");
    assert!(
        lines.contains(&"[TRACE   2 (1/5) ret.lua:4 return]"),
        "{err}"
    );
}

#[test]
fn side_traces_keep_results_and_go_with_their_root() {
    let chunks = [
        "function F(n) local s, t = 0, 0\n\
           for i = 1, n do\n\
             if i % 2 == 0 then s = s + i elseif i % 3 == 0 then t = t + 1 else s = s - 1 end\n\
           end\n\
           return s, t end\n\
         print(F(1000))",
        "jit.flush(2) print(F(1000))",
        "jit.flush(1) print(F(10))",
        "print(F(1000))",
    ];
    let plain = interpreted(&chunks);
    for stress in [false, true] {
        let mut r = Run::new(true, stress);
        assert_eq!(r.exec(chunks[0]), plain[0]);
        let (live, _) = r.traces();
        // As luajit: the root trace, side traces for the other two branches from the
        // pre-roll, and one from the loop body.
        assert_eq!(live, 4);
        assert_eq!(r.exec(chunks[1]), plain[1]);
        assert_eq!(r.traces().0, live, "a side trace's number flushes nothing");
        assert_eq!(r.exec(chunks[2]), plain[2]);
        assert_eq!(
            r.traces(),
            (0, 0),
            "the root trace took its side traces along"
        );
        assert_eq!(r.exec(chunks[3]), plain[3]);
        // (Which iteration is recorded depends on the hot counters, so the side traces
        // may differ.)
        assert!(r.traces().0 >= 2, "compiled again, with side traces");
    }
}

#[test]
fn an_exit_whose_side_trace_keeps_aborting_is_given_up_after_tryside_tries() {
    // The other branch, taken from iteration 101 on, makes a closure, which the
    // recorder does not compile.
    let script = "local s = 0\n\
                  for i = 1, 3000 do\n\
                  \x20 if i <= 100 or i % 2 == 0 then s = s + 1 else\n\
                  \x20   local f = function(x) return #tostring(x) end s = s + f(i) end\n\
                  end\n\
                  print(s)\n";
    for (args, tries) in [(&["-jv"][..], 4), (&["-jv", "-Otryside=2"][..], 2)] {
        let (out, err) = moonjet("tryside", args, "tryside.lua", script, false);
        assert_eq!(out, "6900\n");
        let side_aborts = err
            .lines()
            .filter(|l| l.starts_with("[TRACE --- (1/"))
            .count();
        assert_eq!(side_aborts, tries, "{args:?}: {err}");
    }
}

// ---- inlined calls -----------------------------------------------------------------

#[test]
fn calls_of_lua_functions_in_loops_are_compiled_in_line() {
    let chunks = [
        // Branches in the callee, nested calls, missing arguments, extra results.
        "local function sq(x) return x * x end\n\
         local function clamp(x, lo, hi) if x < lo then return lo elseif x > hi then return hi end return x end\n\
         local function two(a, b) return a + (b or 1), a end\n\
         local s, u, w = 0, 0, 0\n\
         for i = 1, 1000 do s = s + clamp(sq(i % 17) - 50, 0, 100) end\n\
         for i = 1, 200 do local x, y = two(i) u = u + x w = w + y end\n\
         print(s, u, w)",
        // A store in the callee (its last effect), and an upvalue of the callee.
        "local t, n = {}, 0\n\
         local function push(v) n = n + 1 t[n] = v end\n\
         for i = 1, 300 do push(i * 2) end\n\
         print(n, #t, t[300])",
        // Callees sharing an upvalue with the loop's function (other indexes, one
        // variable): loads of it are not reused across their stores.
        "local function mk()\n\
           local y, x = 0, 7\n\
           local function a() x = x + 1 return x end\n\
           local function b() y = y + x return y end\n\
           return function()\n\
             local s = 0\n\
             for i = 1, 100 do s = s + x + a() + b() + x end\n\
             return s, x, y\n\
           end\n\
         end\n\
         print(mk()())",
        // Callees changing locals of the loop's frame through open upvalues: the trace
        // holds those slots, guarded that the upvalues still point there.
        "local x, t, n = 7, {}, 0\n\
         local function a() x = x + 1 end\n\
         local function push(v) n = n + 1 t[n] = v end\n\
         for i = 1, 100 do a() x = x + 5 push(x) end\n\
         print(x, n, t[1], t[100])",
        // A table constructor in a callee: its template is the callee's constant (the
        // caller's constant of the same number is another table).
        "local other = { 100, 200, 300 }\n\
         local function mk(i) local t = { 1, 2, 3 } return t[1] + t[3] + i end\n\
         local s = 0\n\
         for i = 1, 200 do s = s + mk(i) end\n\
         print(s, other[1])",
    ];
    let plain = interpreted(&chunks);
    for stress in [false, true] {
        let mut r = Run::new(true, stress);
        assert_eq!(r.exec(chunks[0]), plain[0], "stress {stress}");
        assert_eq!(r.stats().aborts, 0, "nothing aborted (stress {stress})");
        assert!(r.stats().traces >= 2);
        assert_eq!(r.exec(chunks[1]), plain[1], "stress {stress}");
        assert_eq!(r.exec(chunks[2]), plain[2], "stress {stress}");
        let aborted = r.stats().aborts;
        assert_eq!(r.exec(chunks[3]), plain[3], "stress {stress}");
        assert_eq!(r.exec(chunks[4]), plain[4], "stress {stress}");
        assert_eq!(r.stats().aborts, aborted, "compiled without aborts");
    }
}

#[test]
fn calls_the_recorder_cannot_inline_abort_cleanly() {
    let chunks = [
        // Recursion, varargs and a loop in the callee.
        "local function f(n) if n < 2 then return n end return f(n - 1) + f(n - 2) end\n\
         local function v(...) return select('#', ...) end\n\
         local function l(n) local s = 0 for j = 1, n do s = s + j end return s end\n\
         local s = 0\n\
         for i = 1, 100 do s = s + f(5) + v(i, i) + l(3) end\n\
         print(s)",
    ];
    let plain = interpreted(&chunks);
    let mut r = Run::new(true, false);
    for (chunk, want) in chunks.iter().zip(&plain) {
        assert_eq!(&r.exec(chunk), want);
    }
    assert!(r.stats().aborts > 0);
}

// ---- `-jdump` -----------------------------------------------------------------------

/// A loop that compiles, then one that aborts (a closure made in it: `FNEW` is NYI).
const DUMP_SCRIPT: &str = "local s = 0\n\
                           for i = 1, 100 do s = s + i end\n\
                           print(s)\n\
                           local n = 0\n\
                           for i = 1, 100 do local f = function() end n = n + 1 end\n\
                           print(n)\n";

/// The lines of `text` from the one equal to `from` up to (not including) the next one
/// starting with `----` after it.
fn section<'a>(text: &'a str, from: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == from)
        .unwrap_or_else(|| panic!("no line {from:?} in:\n{text}"));
    lines[at + 1..]
        .iter()
        .take_while(|l| !l.starts_with("----"))
        .copied()
        .collect()
}

#[test]
fn jdump_shows_each_trace_as_luajit_does() {
    for stress in [false, true] {
        let (out, err) = moonjet("dump", &["-jdump"], "dump.lua", DUMP_SCRIPT, stress);
        assert_eq!(err, "");
        // The trace's lines come as it is made, before what the program prints next.
        let (trace1, rest) = out.split_once("5050\n").expect("the sum is printed");
        // As luajit 2.1 prints the start and the bytecode of this loop.
        assert!(
            trace1.starts_with(
                "---- TRACE 1 start dump.lua:2\n\
                 0006  ADDVV    0   0   4\n\
                 0007  FORL     1 => 0006\n\
                 ---- TRACE 1 IR\n"
            ),
            "{trace1}"
        );
        // The IR: the sum's ADD before the LOOP and again after it, carried by a PHI.
        let ir = section(trace1, "---- TRACE 1 IR");
        let loop_at = ir
            .iter()
            .position(|l| l.ends_with(" ------ LOOP ------------"))
            .unwrap_or_else(|| panic!("no LOOP line in {ir:#?}"));
        let adds = |lines: &[&str]| lines.iter().filter(|l| l.contains(" num ADDN ")).count();
        assert_eq!(adds(&ir[..loop_at]), 1, "{ir:#?}");
        assert_eq!(adds(&ir[loop_at..]), 1, "{ir:#?}");
        assert!(
            ir[loop_at..].iter().any(|l| l.contains(" num PHI ")),
            "{ir:#?}"
        );
        assert!(
            ir.iter().any(|l| l.starts_with("0000 >  num SLOAD  #0")),
            "{ir:#?}"
        );
        assert!(
            !ir.iter().any(|l| l.contains("SNAP")),
            "no snapshots without `s`"
        );
        // The machine code: its size and Cranelift's listing of it.
        let mcode = trace1
            .lines()
            .find(|l| l.starts_with("---- TRACE 1 mcode "))
            .expect("an mcode line");
        let size: usize = mcode["---- TRACE 1 mcode ".len()..].parse().unwrap();
        assert!(size > 16, "{mcode}");
        let asm = section(trace1, mcode);
        assert!(asm.iter().any(|l| l.contains("ret")), "{asm:#?}");
        assert!(
            trace1.ends_with("---- TRACE 1 stop -> loop\n\n"),
            "{trace1}"
        );
        // The aborting loop, tried twice, as luajit 2.1 prints it (its number given out
        // again each time).
        let abort = "---- TRACE 2 start dump.lua:5\n\
                     0016  FNEW     6   1      ; dump.lua:5\n\
                     ---- TRACE 2 abort dump.lua:5 -- NYI: bytecode 51\n\n";
        assert_eq!(rest, format!("{abort}{abort}100\n"), "stress {stress}");
    }
}

#[test]
fn jdump_options_choose_what_is_shown_and_where() {
    // `is,file`: IR with snapshots, no bytecode, no machine code, into the file.
    let dir = script_dir("dumpfile");
    let (out, err) = moonjet(
        "dumpfile",
        &["-jdump=is,trace.txt"],
        "dump.lua",
        DUMP_SCRIPT,
        false,
    );
    assert_eq!((out.as_str(), err.as_str()), ("5050\n100\n", ""));
    let text = std::fs::read_to_string(dir.join("trace.txt")).unwrap();
    assert!(
        text.starts_with("---- TRACE 1 start dump.lua:2\n---- TRACE 1 IR\n"),
        "{text}"
    );
    let ir = section(&text, "---- TRACE 1 IR");
    assert!(ir.iter().any(|l| l.contains(" num ADDN ")), "{text}");
    // A snapshot before the first guard, in luajit's layout: slot 0 unchanged so far.
    assert!(
        ir[0].starts_with("....        SNAP   #0   [ ] pc 6"),
        "{text}"
    );
    assert!(
        ir.iter()
            .any(|l| l.starts_with("....        SNAP   #1   [ 0002 ]")),
        "{text}"
    );
    assert!(!text.contains("mcode") && !text.contains("FORL"), "{text}");
    assert!(text.contains("---- TRACE 1 stop -> loop\n"), "{text}");
    assert!(text.contains("---- TRACE 2 abort dump.lua:5 -- NYI: bytecode 51\n"));

    // `-m`: luajit's default less the machine code; `s` alone lists the snapshots.
    let (out, _) = moonjet("dumpless", &["-jdump=-m"], "dump.lua", DUMP_SCRIPT, false);
    assert!(
        out.contains("0007  FORL     1 => 0006\n---- TRACE 1 IR\n"),
        "{out}"
    );
    assert!(!out.contains("mcode"), "{out}");
    let (out, _) = moonjet("dumpsnaps", &["-jdump=s"], "dump.lua", DUMP_SCRIPT, false);
    let snaps = section(&out, "---- TRACE 1 snapshots");
    assert!(snaps[0].starts_with("#0   0000 [ ] pc 6"), "{out}");
    assert!(!out.contains("FORL") && !out.contains("ADDN"), "{out}");
    // Letters for nothing of ours are ignored; `x` alone shows only the exits.
    let (out, _) = moonjet("dumpx", &["-jdump=x"], "dump.lua", DUMP_SCRIPT, false);
    assert!(out.starts_with("---- TRACE 1 exit "), "{out}");
    assert!(!out.contains("start"), "{out}");
    let (out, _) = moonjet("dumpq", &["-jdump=qr"], "dump.lua", DUMP_SCRIPT, false);
    assert_eq!(out, "5050\n100\n");

    // The module: `on` with a file, `off` stops (later traces are not shown).
    let script = "local dump = require('jit.dump')\n\
                  dump.on('tb', 'mod.txt')\n\
                  for i = 1, 100 do end\n\
                  dump.off()\n\
                  for i = 1, 100 do end\n\
                  print(io.open('mod.txt'):read('*a'))\n";
    let (out, _) = moonjet("dumpmod", &[], "mod.lua", script, false);
    assert_eq!(
        out,
        "---- TRACE 1 start mod.lua:3\n\
         0012  FORL     1 => 0012\n\
         ---- TRACE 1 stop -> loop\n\n\n"
    );
    // A file that cannot be made is an error, as luajit's.
    let out = Command::new(env!("CARGO_BIN_EXE_moonjet"))
        .args(["-jdump=t,/nonexistent-dir/x.txt", "-e", "print(1)"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent-dir/x.txt: No such file or directory"),
        "{err}"
    );
}

#[test]
fn moonjet_jit_dump_shows_everything_with_snapshots_on_stderr() {
    let dir = script_dir("dumpenv");
    std::fs::write(dir.join("dump.lua"), DUMP_SCRIPT).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_moonjet"))
        .arg("dump.lua")
        .current_dir(&dir)
        .env("MOONJET_JIT_DUMP", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "5050\n100\n");
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "---- TRACE 1 start dump.lua:2\n0006  ADDVV",
        "\n....        SNAP   #0   [ ] pc 6\n",
        "\n---- TRACE 1 mcode ",
        "\n---- TRACE 1 stop -> loop\n",
        "\n---- TRACE 2 abort dump.lua:5 -- NYI: bytecode 51\n",
    ] {
        assert!(err.contains(want), "{want:?} in:\n{err}");
    }
}

#[test]
fn jdump_shows_side_traces_with_their_parent_and_the_trace_they_enter() {
    let (out, _) = moonjet("dumpside", &["-jdump=tb"], "side.lua", SIDE_SCRIPT, false);
    // luajit 2.1 shows the same but for the exit number (1/5) and the comparison's
    // JMP, which our interpreter takes with the comparison; a JFORL's operand is the
    // trace it enters.
    assert!(
        out.contains(
            "---- TRACE 3 start 1/6 side.lua:3\n\
             0007  ISNEN    5   1      ; 0\n\
             0011  ADDVN    0   0   3  ; 2\n\
             0012  JFORL    1   1\n\
             ---- TRACE 3 stop -> 1\n\n"
        ),
        "{out}"
    );
}

#[test]
fn array_bounds_checks_on_the_loop_index_leave_the_loop_body() {
    // `abc`: the body's bounds checks of t[i] and t[i + 1] become two checks each at the
    // end of the pre-roll (on the first body index and on the stop); with `-O-abc` they
    // stay in the body.
    let script = "local t = {}\n\
                  for i = 1, 200 do t[i] = i end\n\
                  local s = 0\n\
                  for r = 1, 3 do for i = 1, 150 do s = s + t[i] end end\n\
                  for i = 150, 2, -1 do s = s + t[i] * 2 + t[i + 1] end\n\
                  print(s)\n";
    let ult = |lines: &[&str]| lines.iter().filter(|l| l.contains(" ULT ")).count();
    for (flags, in_body) in [
        (&["-jdump=i"][..], false),
        (&["-O-abc", "-jdump=i"][..], true),
    ] {
        let (out, _) = moonjet("abc", flags, "abc.lua", script, false);
        assert!(out.ends_with("\n68096\n"), "{out}");
        for (trace, accesses) in [("2", 1), ("3", 2)] {
            let ir = section(&out, &format!("---- TRACE {trace} IR"));
            let loop_at = ir
                .iter()
                .position(|l| l.ends_with(" ------ LOOP ------------"))
                .unwrap_or_else(|| panic!("no LOOP line in {ir:#?}"));
            let (pre, body) = ir.split_at(loop_at);
            if in_body {
                assert_eq!(ult(body), accesses, "{flags:?}: {ir:#?}");
                assert_eq!(ult(pre), accesses, "{flags:?}: {ir:#?}");
            } else {
                assert_eq!(ult(body), 0, "{flags:?}: {ir:#?}");
                // The pre-roll's own checks, then the first index's and the stop's.
                assert_eq!(ult(pre), 3 * accesses, "{flags:?}: {ir:#?}");
            }
        }
    }
}

#[test]
fn fields_and_upvalues_a_loop_updates_stay_in_registers_between_iterations() {
    // `fwd` across the loop: the body reads what the previous iteration stored (a phi)
    // instead of loading it again; with `-O-fwd` it loads each time.
    let script = "local p = { x = 0, y = 0, vx = 1, vy = 2 }\n\
                  local steps = 0\n\
                  local function run(n)\n\
                  \x20 for i = 1, n do\n\
                  \x20   p.x = p.x + p.vx\n\
                  \x20   p.y = p.y + p.vy\n\
                  \x20   steps = steps + 1\n\
                  \x20 end\n\
                  end\n\
                  run(100)\n\
                  print(p.x, p.y, steps)\n";
    let loads = |lines: &[&str]| lines.iter().filter(|l| l.contains(" LOAD ")).count();
    for (flags, body_loads) in [(&["-jdump=i"][..], 0), (&["-O-fwd", "-jdump=i"][..], 3)] {
        let (out, _) = moonjet("fwd", flags, "fwd.lua", script, false);
        assert!(out.ends_with("\n100\t200\t100\n"), "{out}");
        let ir = section(&out, "---- TRACE 1 IR");
        let loop_at = ir
            .iter()
            .position(|l| l.ends_with(" ------ LOOP ------------"))
            .unwrap_or_else(|| panic!("no LOOP line in {ir:#?}"));
        assert_eq!(loads(&ir[loop_at..]), body_loads, "{flags:?}: {ir:#?}");
    }
}

#[test]
fn recursive_functions_get_function_traces_that_call_themselves() {
    // luajit 2.1 starts with the same function trace ("return") for the same line; its
    // later traces differ (it records up- and down-recursion where ours calls the trace
    // natively).
    let fib =
        "local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end\n\
               print(fib(24))\n";
    for stress in [false, true] {
        let (out, err) = moonjet("fib", &["-jv"], "fib.lua", fib, stress);
        assert_eq!(out, "46368\n");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines[0], "[TRACE   1 fib.lua:1 return]", "{err}");
        assert_eq!(lines.len(), 2, "one side trace for the other branch: {err}");
        assert!(lines[1].starts_with("[TRACE   2 (1/"), "{err}");
        assert!(lines[1].ends_with(" fib.lua:1 return]"), "{err}");
    }
    // The recursive calls are in the trace, compiled.
    let (dump, _) = moonjet("fib", &["-jdump=i"], "fib.lua", fib, false);
    assert_eq!(dump.matches("CALLS").count(), 2, "{dump}");
    // A tail call of the function itself links the trace to itself.
    let tail =
        "local function sum(n, acc) if n == 0 then return acc end return sum(n - 1, acc + n) end\n\
                print(sum(100000, 0))\n";
    let (out, err) = moonjet("tail", &["-jv"], "tail.lua", tail, false);
    assert_eq!(out, "5000050000\n");
    assert!(
        err.lines()
            .any(|l| l == "[TRACE   1 tail.lua:1 tail-recursion]"),
        "{err}"
    );
}

#[test]
fn recursion_in_traces_leaves_the_stack_as_the_interpreter_would() {
    // Deeper than the native calls a trace makes at once, deep enough to grow the stack,
    // errors at the bottom (with tracebacks through frames the traces made), a stack
    // overflow, a closure replaced while its trace runs, garbage made at every level, a
    // result of another type, and a callee with frames of its own.
    let chunks = [
        "function SUM(n) if n == 0 then return 0 end return n + SUM(n - 1) end\n\
         print(SUM(10), SUM(300), SUM(5000), SUM(15000))",
        "local function deep(n) if n == 0 then error('bottom ' .. n) end return deep(n - 1) + 1 end\n\
         for i = 1, 300 do local ok, e = pcall(deep, i % 60) if i % 75 == 0 then print(ok, e) end end",
        "local function tb(n) if n == 0 then return debug.traceback('here', 1) end local r = tb(n - 1) return r end\n\
         local last for i = 1, 300 do last = tb(i % 4) end print((last:gsub('0x%x+', 'ADDR')))",
        "local function inf(n) return 1 + inf(n + 1) end\n\
         for i = 1, 3 do print(pcall(inf, 1)) end",
        "local function f(n) if n < 1 then return 1 end return f(n - 1) * 2 end\n\
         local out = {}\n\
         for i = 1, 300 do out[#out + 1] = f(i % 10)\n\
           if i == 150 then local old = f f = function(n) return old(n) + 1 end end end\n\
         print(table.concat(out, ' ', 140, 160))",
        "local function make(n) local t = { n, tostring(n) } if n == 0 then return 0 end return make(n - 1) + #t[2] end\n\
         local s = 0 for i = 1, 400 do s = s + make(i % 30) end print(s, collectgarbage('count') < 1e5)",
        "local function mixed(n) if n <= 0 then if n == -1 then return 's' end return 0 end local r = mixed(n - 1) return r end\n\
         local acc = {} for i = 1, 400 do acc[#acc + 1] = tostring(mixed(i % 7 - 1)) end\n\
         print(table.concat(acc, ',', 1, 20))",
        "local function walk(t) if type(t) ~= 'table' then return t end return walk(t[1]) + walk(t[2]) end\n\
         local function tree(d) if d == 0 then return 1 end return { tree(d - 1), tree(d - 1) } end\n\
         local tr = tree(8) local s = 0 for i = 1, 50 do s = s + walk(tr) end print(s)",
    ];
    let plain = interpreted(&chunks);
    assert!(plain[3].contains("stack overflow"), "{}", plain[3]);
    for (hotloop, stress) in [(56, false), (1, false), (1, true)] {
        let mut r = Run::new(true, stress);
        r.exec(&format!("jit.opt.start('hotloop={hotloop}')"));
        for (chunk, want) in chunks.iter().zip(&plain) {
            assert_eq!(
                &r.exec(chunk),
                want,
                "hotloop {hotloop}, stress {stress}: {chunk}"
            );
        }
        assert!(r.stats().traces >= 8, "{:?}", r.stats());
    }
}

#[test]
fn jdump_lists_inlined_calls_as_luajit_does() {
    // What luajit 2.1 printed for the same script: the callee's header with its
    // location, and one " ." per level of inlining.
    let script = "local function sq(x) return x * x end\n\
                  local s = 0\n\
                  for i = 1, 100 do s = s + sq(i) end\n\
                  print(s)\n";
    let (out, _) = moonjet("inlined", &["-jdump=b"], "inl.lua", script, false);
    assert_eq!(
        out,
        "---- TRACE 1 start inl.lua:3\n\
         0007  MOV      6   0\n\
         0008  MOV      8   5\n\
         0009  CALL     6   2   2\n\
         0000  . FUNCF    2          ; inl.lua:1\n\
         0001  . MULVV    1   0   0\n\
         0002  . RET1     1   2\n\
         0010  ADDVV    1   1   6\n\
         0011  FORL     2 => 0007\n\
         ---- TRACE 1 stop -> loop\n\
         \n\
         338350\n"
    );
}

// ---- FFI accesses ----------------------------------------------------------------------

#[test]
fn jv_shows_ffi_array_loops_compiled_int64_ones_included() {
    let script = "local ffi = require('ffi')\n\
                  local a = ffi.new('double[?]', 1000)\n\
                  for i = 0, 999 do a[i] = i end\n\
                  local s = 0\n\
                  for i = 0, 999 do s = s + a[i] end\n\
                  print(s)\n\
                  local b = ffi.new('int64_t[4]')\n\
                  for i = 0, 199 do b[i % 4] = i end\n\
                  print(tostring(b[3]))\n";
    let (out, err) = moonjet("ffi", &["-jv"], "ffi.lua", script, false);
    assert_eq!(out, "499500\n199LL\n");
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [
            "[TRACE   1 ffi.lua:3 loop]",
            "[TRACE   2 ffi.lua:5 loop]",
            "[TRACE   3 ffi.lua:8 loop]"
        ]
    );
}

#[test]
fn int64_arithmetic_stays_unboxed_round_the_loop() {
    // acc and u are int64_t / uint64_t cdata: each iteration's arithmetic would box a
    // new cdata in the interpreter. The trace loads each box once, before the loop,
    // carries the integers round it in registers (64-bit phis) and boxes only where it
    // leaves.
    let script = "local acc, u = 0LL, 1ULL\n\
                  for i = 1, 1000 do\n\
                  \x20 acc = acc + i * 3 - 7LL\n\
                  \x20 u = u * 6364136223846793005ULL + acc\n\
                  end\n\
                  print(acc, u)\n";
    let (plain, _) = moonjet("int64plain", &["-joff"], "int64.lua", script, false);
    assert_eq!(plain.lines().count(), 1, "{plain}");
    let (out, err) = moonjet("int64", &["-jv"], "int64.lua", script, false);
    assert_eq!(out, plain);
    assert_eq!(err, "[TRACE   1 int64.lua:2 loop]\n");
    let (dump, _) = moonjet("int64dump", &["-jdump=i"], "int64.lua", script, false);
    assert!(dump.ends_with(&plain), "{dump}");
    let ir = section(&dump, "---- TRACE 1 IR");
    let loop_at = ir
        .iter()
        .position(|l| l.ends_with(" ------ LOOP ------------"))
        .unwrap_or_else(|| panic!("no LOOP line in {ir:#?}"));
    let (pre, body) = ir.split_at(loop_at);
    // Before the loop: each box's type guarded and its value loaded.
    assert_eq!(
        pre.iter().filter(|l| l.contains("cdata.int64")).count(),
        2,
        "{ir:#?}"
    );
    // In the loop: no cdata at all, the values carried as 64-bit integers.
    for l in body {
        assert!(
            !l.contains("cdt") && !l.contains("cdata."),
            "{l} in {ir:#?}"
        );
    }
    for want in [" i64 PHI ", " u64 PHI ", " i64 ADD ", " u64 MUL "] {
        assert!(body.iter().any(|l| l.contains(want)), "{want:?} in {ir:#?}");
    }
}

#[test]
fn pointer_walks_stay_unboxed_round_the_loop() {
    // `p = p + 1` would make a pointer cdata each iteration in the interpreter; the
    // trace carries the address in a register (a pointer phi) and makes the cdata only
    // where it leaves (CNEWI is never used but by snapshots).
    let script = "local ffi = require('ffi')\n\
                  local buf = ffi.new('int32_t[1000]')\n\
                  for i = 0, 999 do buf[i] = i end\n\
                  local p = ffi.cast('int32_t *', buf)\n\
                  local e = p + 1000\n\
                  local s = 0\n\
                  while p < e do s = s + p[0] p = p + 1 end\n\
                  print(s, p == e)\n";
    let (out, err) = moonjet("ptrwalk", &["-jv"], "ptr.lua", script, false);
    assert_eq!(out, "499500\ttrue\n");
    assert_eq!(
        err,
        "[TRACE   1 ptr.lua:3 loop]\n[TRACE   2 ptr.lua:7 loop]\n"
    );
    let (dump, _) = moonjet("ptrwalkdump", &["-jdump=i"], "ptr.lua", script, false);
    let ir = section(&dump, "---- TRACE 2 IR");
    let loop_at = ir
        .iter()
        .position(|l| l.ends_with(" ------ LOOP ------------"))
        .unwrap_or_else(|| panic!("no LOOP line in {ir:#?}"));
    let body = &ir[loop_at..];
    assert!(body.iter().any(|l| l.contains(" p64 PHI ")), "{ir:#?}");
    for l in body {
        assert!(
            !l.contains("SLOAD") && !l.contains("cdata."),
            "{l} in {ir:#?}"
        );
    }
    // The sunk cdata's ref is named by no instruction.
    let sunk: Vec<&str> = body
        .iter()
        .filter(|l| l.contains(" CNEWI "))
        .map(|l| &l[..4])
        .collect();
    assert!(!sunk.is_empty(), "{ir:#?}");
    for r in sunk {
        assert!(
            !body
                .iter()
                .any(|l| !l.starts_with(r) && l.contains(&format!(" {r}"))),
            "{r} used in {ir:#?}"
        );
    }
}

/// A `double[?]` filled, then summed, by two `for` loops (traces 1 and 2).
const DOUBLE_ARRAY_SCRIPT: &str = "local ffi = require('ffi')\n\
                                   local a = ffi.new('double[?]', 1000)\n\
                                   for i = 0, 999 do a[i] = i * 0.5 end\n\
                                   local s = 0\n\
                                   for i = 0, 999 do s = s + a[i] end\n\
                                   print(s)\n";

#[test]
fn a_for_loop_carries_its_index_in_one_phi() {
    // The hidden index and the visible loop variable hold the same value at the end of
    // each iteration: one phi carries both (as luajit's one register does).
    let (out, _) = moonjet("onephi", &["-jdump=i"], "a.lua", DOUBLE_ARRAY_SCRIPT, false);
    assert!(out.ends_with("\n249750\n"), "{out}");
    for trace in ["1", "2"] {
        let ir = section(&out, &format!("---- TRACE {trace} IR"));
        let index_phis = ir.iter().filter(|l| l.contains(" int PHI ")).count();
        assert_eq!(index_phis, 1, "{ir:#?}");
    }
}

#[test]
fn a_for_loop_leaves_with_its_stepped_index_only() {
    // The visible variable is dead after the loop, so the loop's exit writes the stepped
    // index to it too (the interpreter would leave the old one there): the old index is
    // not kept alive beside the new one for the exit.
    let (out, _) = moonjet(
        "oneidx",
        &["-jdump=is"],
        "a.lua",
        DOUBLE_ARRAY_SCRIPT,
        false,
    );
    assert!(out.ends_with("\n249750\n"), "{out}");
    for trace in ["1", "2"] {
        let ir = section(&out, &format!("---- TRACE {trace} IR"));
        let refs = |op: &str| -> Vec<&str> {
            ir.iter()
                .filter(|l| l.contains(op))
                .map(|l| &l[..4])
                .collect()
        };
        let (phi, stepped) = (refs(" int PHI "), refs(" int STEPI "));
        let exit = ir.iter().rev().find(|l| l.contains(" SNAP ")).unwrap();
        assert!(!exit.contains(phi[0]), "{ir:#?}");
        assert_eq!(exit.matches(stepped[1]).count(), 2, "{ir:#?}");
    }
}

#[test]
fn jdump_shows_c_loads_and_stores() {
    let script = "local ffi = require('ffi')\n\
                  ffi.cdef('typedef struct { double x; uint8_t n; } pt;')\n\
                  local pts = ffi.new('pt[?]', 100)\n\
                  for i = 0, 99 do pts[i].n = pts[i].n + pts[i].x end\n";
    let (out, _) = moonjet("ffidump", &["-jdump=i"], "ffidump.lua", script, false);
    for want in [
        " cdt SLOAD  #1\n",
        " int FLOAD  0002  cdata.ctypeid\n",
        " p64 EADDR  0002  0001  *16\n",
        " int XLOAD  0006  +24  u8\n",
        " num XLOAD  0006  +16  num\n",
        " XSTORE 0006  +24  ",
    ] {
        assert!(out.contains(want), "{want:?} in:\n{out}");
    }
}

#[test]
fn c_loads_are_forwarded_from_stores_and_hoisted_past_disjoint_ones() {
    // p.x and p.y are carried round the loop in registers (each iteration's store is the
    // next one's load); p.vx and p.vy, which no store in the loop overlaps, are loaded
    // once, before it.
    let script = "local ffi = require('ffi')\n\
                  ffi.cdef('typedef struct { double x, y, vx, vy; } particle;')\n\
                  local p = ffi.new('particle', 0, 0, 1.5, 2.5)\n\
                  for i = 1, 1000 do p.x = p.x + p.vx p.y = p.y + p.vy end\n\
                  print(p.x, p.y)\n";
    let (out, _) = moonjet("ffifwd", &["-jdump=i"], "ffifwd.lua", script, false);
    assert!(out.ends_with("1500\t2500\n"), "{out}");
    let body = out.split("------ LOOP ------------\n").nth(1).unwrap();
    let body = body.split("---- TRACE").next().unwrap();
    assert!(!body.contains("XLOAD"), "{body}");
    assert_eq!(body.matches("XSTORE").count(), 2, "{body}");
}

#[test]
fn c_call_loops_compile_to_direct_calls() {
    let script = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/ffi/c-call.lua"),
    )
    .unwrap();
    let (out, err) = moonjet("ccall", &["-jv"], "c-call.lua", &script, false);
    assert_eq!(out, "750000000\t3464102480.955270\n");
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        ["[TRACE   1 c-call.lua:7 loop]"]
    );
    let (out, _) = moonjet("ccalldump", &["-jdump=i"], "c-call.lua", &script, false);
    // C.abs and C.sqrt: the namespace guarded once, both functions constants, each a
    // CALLXS of its address in the loop body with the converted argument.
    for want in [
        " udt SLOAD  #1\n",
        " int CALLXS 0009  (0008)\n",
        " num CALLXS 0015  (0004)\n",
        "------ LOOP ------------\n",
    ] {
        assert!(out.contains(want), "{want:?} in:\n{out}");
    }
    assert_eq!(out.matches("CALLXS").count(), 4, "{out}");
}

#[test]
fn loops_calling_native_functions_and_userdata_methods_compile() {
    // A library function called from the loop, and a method of a userdata found through
    // its metatable's `__index` table (here a library function too): both loops compile,
    // the calls are made from the trace (`CALLS`), and the userdata's metatable is
    // guarded in the trace.
    let script = "local n = 0\n\
                  for i = 1, 300 do n = n + #tostring(i) end\n\
                  local p = newproxy(true)\n\
                  getmetatable(p).__index = { kind = type }\n\
                  local k = 0\n\
                  for i = 1, 300 do if p:kind() == 'userdata' then k = k + 1 end end\n\
                  print(n, k)\n";
    let (plain, _) = moonjet("nativeplain", &["-joff"], "native.lua", script, false);
    assert_eq!(plain, "792\t300\n");
    let (out, err) = moonjet("native", &["-jv"], "native.lua", script, false);
    assert_eq!(out, plain);
    assert_eq!(
        err,
        "[TRACE   1 native.lua:2 loop]\n[TRACE   2 native.lua:6 loop]\n"
    );
    let (dump, _) = moonjet("nativedump", &["-jdump=i"], "native.lua", script, false);
    assert!(dump.ends_with(&plain), "{dump}");
    let first = section(&dump, "---- TRACE 1 IR");
    assert!(first.iter().any(|l| l.contains("CALLS")), "{first:#?}");
    let second = section(&dump, "---- TRACE 2 IR");
    assert!(second.iter().any(|l| l.contains("CALLS")), "{second:#?}");
    assert!(
        second.iter().any(|l| l.contains("udata.meta")),
        "{second:#?}"
    );
}

#[test]
fn maxside_bounds_the_side_traces_of_a_root_as_luajit_does() {
    // Eight branches: every exit gets hot. With `maxside=2` the root gets two side traces
    // (luajit 2.1 prints the same first three lines, then stub traces we do not make);
    // past that, exits stay exits.
    let script = "local s = 0\n\
                  for i = 1, 20000 do\n\
                    local k = i % 8\n\
                    if k == 0 then s = s + 1 elseif k == 1 then s = s + 2 elseif k == 2 then s = s + 3\n\
                    elseif k == 3 then s = s + 4 elseif k == 4 then s = s + 5 elseif k == 5 then s = s + 6\n\
                    elseif k == 6 then s = s + 7 else s = s + 8 end\n\
                  end\n\
                  print(s)\n\
                  ";
    let (out, err) = moonjet(
        "maxside",
        &["-jv", "-Omaxside=2"],
        "side.lua",
        script,
        false,
    );
    assert_eq!(out, "90000\n");
    assert_eq!(
        err,
        "[TRACE   1 side.lua:2 loop]\n\
         [TRACE   2 (1/2) side.lua:4 -> 1]\n\
         [TRACE   3 (1/1) side.lua:4 -> 1]\n"
    );
    let (out, err) = moonjet("maxside", &["-jv"], "side.lua", script, false);
    assert_eq!(out, "90000\n");
    assert!(err.lines().count() > 3, "{err}");
}

#[test]
fn a_loop_calling_new_closures_compiles_once() {
    // Each call of `fold` gets a new closure: the loop in `fold` is specialised to the
    // closures' prototype, not to each closure (which would grow a side trace per
    // closure), so a few traces serve all 3000.
    let script = "local function fold(t, f, z) for i = 1, #t do z = f(z, t[i]) end return z end\n\
                  local data = {}\n\
                  for i = 1, 100 do data[i] = i end\n\
                  local sum = 0\n\
                  for r = 1, 3000 do sum = (sum + fold(data, function(a, b) return a + b + r end, 0)) % 1000007 end\n\
                  print(sum)\n";
    let (plain, _) = moonjet("closuresplain", &["-joff"], "closures.lua", script, false);
    let (out, err) = moonjet("closures", &["-jv"], "closures.lua", script, false);
    assert_eq!(out, plain);
    let traces = err.lines().filter(|l| !l.starts_with("[TRACE ---")).count();
    assert!(traces <= 6, "{err}");
}

#[test]
fn a_loop_calling_wrappers_of_native_functions_compiles() {
    let script = "local function str(x) return tostring(x) end\n\
                  local function two(s) return string.byte(s, 1, 2) end\n\
                  local n = 0\n\
                  for i = 1, 300 do\n\
                  \x20 local a, b = two('xy')\n\
                  \x20 n = n + a + b + #str(i) + #str(nil)\n\
                  end\n\
                  print(n)\n";
    let (out, err) = moonjet("wrappers", &["-jv"], "wrappers.lua", script, false);
    assert_eq!(out, "73992\n");
    assert!(err.contains("[TRACE   1 wrappers.lua:4 loop]"), "{err}");
}
