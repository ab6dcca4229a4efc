//! The JIT must never change a result: generated loop programs over numbers, tables,
//! globals, upvalues, math builtins and branches (with tables changing type or gaining
//! metatables mid-loop) run interpreted and with every loop compiled as early as
//! possible (hotloop=1), also with a side trace from every exit taken (hotexit=1), and
//! print the same.
#![cfg(feature = "jit")]

mod common;

use common::Captured;
use moonjet_runtime::vm::State;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

/// Run `code` with or without the JIT; its output, or the error.
fn run(code: &str, jit: bool) -> (String, usize) {
    run_with(code, jit.then_some(""))
}

/// Run `code` interpreted (`None`) or with the JIT at hotloop=1 and the optimisation
/// flags `opts` (as `jit.opt.start` takes them, e.g. `'-loop'`; empty: the defaults).
fn run_with(code: &str, opts: Option<&str>) -> (String, usize) {
    let jit = opts.is_some();
    let mut st = State::with_stress(false);
    let out = Captured::default();
    st.out = Box::new(out.clone());
    if let Some(opts) = opts {
        st.set_jit(Box::new(moonjet_jit::engine::Engine::new()));
        let setup = format!("jit.opt.start('hotloop=1'{opts})");
        st.exec(setup.as_bytes(), b"=setup").unwrap();
    }
    if let Err(e) = st.exec(code.as_bytes(), b"=prog") {
        let m = st.display_value(e);
        out.0.borrow_mut().extend_from_slice(b"ERROR: ");
        out.0.borrow_mut().extend_from_slice(&m);
    }
    st.flush();
    let traces = if jit { st.jit_stats().traces } else { 0 };
    let text = String::from_utf8_lossy(&out.0.borrow()).into_owned();
    (text, traces)
}

fn var() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["a", "b", "c", "s", "i"])
}

fn target() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["a", "b", "c", "s"])
}

fn constant() -> impl Strategy<Value = String> {
    prop_oneof![
        (-20i32..20).prop_map(|n| n.to_string()),
        prop::sample::select(vec!["0.5", "1.25", "-3.5", "1e3", "0", "2"]).prop_map(String::from),
    ]
}

/// Reads of tables, globals, lengths and math builtins.
fn table_read() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "(t[(i % 7) + 1] or 0)",
        "(t[1] or 1)",
        "o.x",
        "o.y",
        "g",
        "#t",
        "math.floor(s)",
        "math.abs(a)",
        "math.sqrt(math.abs(b))",
        "math.min(a, c)",
        "math.max(s, b)",
        // Calls of Lua functions (inlined): a branch in the callee, a store in it, more
        // results than taken, nested calls, missing arguments.
        "h(a, b)",
        "k(s)",
        "m(c)",
        "h(m(i), 3)",
        "(n(a) or 0)",
    ])
    .prop_map(String::from)
}

fn expr() -> BoxedStrategy<String> {
    let leaf = prop_oneof![3 => var().prop_map(String::from), 2 => constant(), 1 => table_read()];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/", "%"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("(-{a})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a} ^ ({b} % 3))")),
        ]
    })
    .boxed()
}

fn assign() -> BoxedStrategy<String> {
    (target(), expr())
        .prop_map(|(t, e)| format!("{t} = {e}"))
        .boxed()
}

fn cond() -> BoxedStrategy<String> {
    (
        expr(),
        prop::sample::select(vec!["<", "<=", ">", ">=", "==", "~="]),
        expr(),
    )
        .prop_map(|(x, op, y)| format!("{x} {op} {y}"))
        .boxed()
}

/// Stores into tables and globals, growth, and (rarely) a change of type or metatable
/// in the middle of the loop.
fn table_write() -> BoxedStrategy<String> {
    let at = prop::sample::select(vec![
        "t[(i % 7) + 1]",
        "t[#t + 1]",
        "t[1]",
        "o.x",
        "o.y",
        "g",
    ]);
    let hostile = prop::sample::select(vec![
        "t = setmetatable({}, { __index = function() return 1 end })",
        "t[1] = 'str'",
        "o.x = nil",
        "o = setmetatable({ x = 1 }, { __newindex = function() end })",
        "g = nil",
        "t = { 5, 6 }",
    ]);
    prop_oneof![
        6 => (at, expr()).prop_map(|(t, e)| format!("{t} = {e}")),
        1 => ((-3i32..30), hostile).prop_map(|(k, h)| format!("if i == {k} then {h} end")),
    ]
    .boxed()
}

fn stmt() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => assign(),
        2 => table_write(),
        1 => (cond(), assign()).prop_map(|(c, s)| format!("if {c} then {s} end")),
        1 => (cond(), assign(), assign())
            .prop_map(|(c, s1, s2)| format!("if {c} then {s1} else {s2} end")),
    ]
}

fn program() -> impl Strategy<Value = String> {
    (
        constant(),
        constant(),
        constant(),
        (-3i32..3),
        (0i32..40),
        prop::sample::select(vec![1, 1, 1, 2, 3, -1]),
        prop::collection::vec(stmt(), 1..5),
        0..3usize,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(ka, kb, kc, start, len, step, body, kind, wrapped, nested)| {
            let stop = if step > 0 { start + len } else { start - len };
            let cmp = if step > 0 { "<=" } else { ">=" };
            let body = body.join("\n  ");
            // A numeric for, a while and a repeat loop over the same range.
            let lp = match kind {
                0 => format!("for i = {start}, {stop}, {step} do\n  {body}\nend"),
                1 => format!(
                    "local i = {start}\nwhile i {cmp} {stop} do\n  {body}\n  i = i + {step}\nend"
                ),
                _ => format!(
                    "local i = {start}\nrepeat\n  {body}\n  i = i + {step}\nuntil not (i {cmp} {stop})"
                ),
            };
            // In an outer loop: an inner trace, and side traces that go round the outer
            // loop back into it.
            let lp = if nested {
                format!("for k = 1, 4 do\n{lp}\nend")
            } else {
                lp
            };
            let setup = format!(
                "local a, b, c = {ka}, {kb}, {kc}\nlocal s = 0\n\
                 local t, o = {{ 1, 2, 3 }}, {{ x = 1, y = 2 }}\ng = 0\n\
                 local function h(x, y) if x < y then return x end return y end\n\
                 local function k(v) o.y = o.y + 1 return v end\n\
                 local function m(x) return x * 2, x end\n\
                 local function n(x, y) return y end\n"
            );
            let report = "print(a, b, c, s, g, #t, t[1], t[2], t[8], o.x, o.y)";
            if wrapped {
                // The loop in a function: a, b, c, s, t and o are upvalues.
                format!("{setup}local function run()\n{lp}\nend\nrun()\n{report}\n")
            } else {
                format!("{setup}{lp}\n{report}\n")
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn compiled_loops_print_what_the_interpreter_prints(code in program()) {
        let (plain, _) = run(&code, false);
        let (jitted, _) = run(&code, true);
        prop_assert_eq!(&plain, &jitted, "program:\n{}", code);
        // Every exit that is taken once grows a side trace.
        let (sided, _) = run_with(&code, Some(", 'hotexit=1'"));
        prop_assert_eq!(plain, sided, "hotexit=1, program:\n{}", code);
    }
}

#[test]
fn every_optimisation_setting_prints_what_the_interpreter_prints() {
    // Each optimisation switched off alone, and none at all (-O0), on generated loops.
    let settings = [
        ", '-fold'",
        ", '-cse'",
        ", '-fwd'",
        ", '-narrow'",
        ", '-loop'",
        ", '0'",
    ];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for n in 0..120 {
        let code = program().new_tree(&mut runner).unwrap().current();
        let setting = settings[n % settings.len()];
        let (plain, _) = run_with(&code, None);
        let (jitted, _) = run_with(&code, Some(setting));
        assert_eq!(plain, jitted, "setting {setting}, program:\n{code}");
    }
}

#[test]
fn most_generated_loops_are_compiled() {
    // Runs the property's generator on its own, counting compiled loops.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut compiled = 0;
    let total = 100;
    for _ in 0..total {
        let code = program().new_tree(&mut runner).unwrap().current();
        let (plain, _) = run(&code, false);
        let (jitted, traces) = run(&code, true);
        assert_eq!(plain, jitted, "program:\n{code}");
        compiled += usize::from(traces > 0);
    }
    assert!(
        compiled * 2 > total,
        "only {compiled} of {total} loops compiled"
    );
}

#[test]
fn numeric_loops_are_compiled_and_exit_correctly() {
    let code = "local s = 0 for i = 1, 1000 do s = s + i * 2 end print(s)\n\
                local w = 0 while w < 1000 do w = w + 3 end print(w)\n\
                local t = 0 for i = 10, 1, -1 do if i % 3 == 0 then t = t + i else t = t - 1 end end print(t)\n\
                local x = 1 for i = 1, 100 do x = x * 1.5 if x > 1e6 then x = x / 1e6 end end print(x)";
    let (plain, _) = run(code, false);
    let (jitted, traces) = run(code, true);
    assert_eq!(plain, jitted);
    assert_eq!(plain.lines().next(), Some("1001000"));
    assert!(traces >= 3, "only {traces} traces");
}

#[test]
fn loops_the_recorder_cannot_handle_still_run_interpreted() {
    let code = "local t = {} for i = 1, 100 do t[i] = tostring(i) end print(#t, t[100])\n\
                local s = '' for i = 1, 10 do s = s .. i end print(s)\n\
                for i = 1, 3 do for j = 1, 3 do end end print('nested ok')";
    let (plain, _) = run(code, false);
    let (jitted, _) = run(code, true);
    assert_eq!(plain, jitted);
}

#[test]
fn flushed_loops_are_compiled_again_and_off_means_off() {
    let code = "local function f() local s = 0 for i = 1, 200 do s = s + i end return s end\n\
                print(f()) jit.flush() print(f()) jit.off() print(f(), (jit.status())) jit.on() print(f(), (jit.status()))";
    let (plain, _) = run(code, false);
    let (jitted, traces) = run(code, true);
    assert_eq!(
        plain.lines().take(3).collect::<Vec<_>>(),
        ["20100", "20100", "20100\tfalse"]
    );
    assert_eq!(jitted, "20100\n20100\n20100\tfalse\n20100\ttrue\n");
    assert_eq!(
        traces, 2,
        "the loop is compiled once, and again after the flush"
    );
}

#[test]
fn compiled_loops_meet_other_types_safely() {
    // The loop is compiled for numbers, then entered with a string (coerced), a table
    // (an error with the interpreter's message) and a table with __add.
    let code = "local function f(x) local s = x for i = 1, 100 do s = s + i end return s end\n\
                print(f(1))\n\
                print(pcall(f, '5'))\n\
                print(pcall(f, {}))\n\
                print(f(setmetatable({}, { __add = function(a, b) return 1000 end })))\n\
                local function g(t) local n = 0 for i = 1, #t do n = n + t[i] end return n end\n\
                print(g({1, 2, 3}), pcall(g, {1, 'x'}))\n\
                local nan = 0/0 local c = 0 for i = 1, 50 do if nan < i then c = c + 1 end if i > 25 then nan = i end end print(c)";
    let (plain, _) = run(code, false);
    let (jitted, _) = run(code, true);
    assert_eq!(plain, jitted);
    assert!(
        plain.contains("attempt to perform arithmetic on local 's' (a table value)"),
        "{plain}"
    );
}

#[test]
fn a_break_on_the_recorded_iteration_aborts_cleanly() {
    // With hotloop=1 the first iteration is recorded; it breaks out of the loop.
    let code =
        "local s = 0 for i = 1, 10 do if i == 2 then break end s = s + i end s = s * 3 print(s)\n\
                local t = 0 for i = 1, 100 do if i > 60 then break end t = t + i end print(t)";
    let (plain, _) = run(code, false);
    let (jitted, _) = run(code, true);
    assert_eq!(plain, jitted);
    assert_eq!(plain, "3\n1830\n");
}
