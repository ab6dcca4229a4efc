//! The JIT must never change a result: generated loop programs over numbers, tables
//! (array and hash parts), globals, upvalues, math and bit builtins, new tables, calls of Lua functions and
//! branches (with tables changing type or gaining metatables mid-loop) run interpreted
//! and with every loop compiled as early as possible (hotloop=1), also with a side trace
//! from every exit taken (hotexit=1), and print the same. Array loops over ranges past
//! the array's ends check the bounds-check elimination.
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
    run_in(code, opts, false, None)
}

/// As `run_with`, with the collector's stress mode (a full collection at every
/// allocation check, as `MOONJET_GC_STRESS=1` gives) and a memory limit in bytes.
fn run_in(code: &str, opts: Option<&str>, stress: bool, limit: Option<usize>) -> (String, usize) {
    let jit = opts.is_some();
    let mut st = State::with_stress(stress);
    let out = Captured::default();
    st.out = Box::new(out.clone());
    if let Some(opts) = opts {
        st.set_jit(Box::new(moonjet_jit::engine::Engine::new()));
        let setup = format!("jit.opt.start('hotloop=1'{opts})");
        st.exec(setup.as_bytes(), b"=setup").unwrap();
    }
    if let Some(limit) = limit {
        st.heap.set_limit(st.heap.total_bytes() + limit);
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
        "math.min(a, b, c)",
        "math.max(s, b, i, 3)",
        // Integer keys outside the array part (the hash part, or nothing).
        "(t[i * 5 + 20] or 2)",
        "(t[-i] or 1)",
        // Calls of Lua functions (inlined): a branch in the callee, a store in it, more
        // results than taken, nested calls, missing arguments.
        "h(a, b)",
        "k(s)",
        "m(c)",
        "h(m(i), 3)",
        "(n(a) or 0)",
        "bit.band(a, 255)",
        "bit.bxor(s, i, 0x7fffffff)",
        "bit.bor(bit.lshift(i, b), c)",
        "bit.arshift(a, c)",
        "bit.rshift(s, i)",
        "bit.rol(b, i + 30)",
        "bit.ror(bit.bnot(c), a)",
        "bit.bswap(bit.tobit(s))",
        "bit.tobit(a * 2^31)",
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

/// A new table each iteration (`TNEW`, `TDUP`), written and read back, or kept.
fn fresh_table() -> BoxedStrategy<String> {
    let make = prop::sample::select(vec![
        "local n = {} n[1] = a n.x = b s = s + n[1] + n.x",
        "local n = { a, i, 3 } n[2] = n[2] + b s = s + n[1] * n[2] + #n",
        "local n = { x = 1, y = a } n.x = n.x + i s = s + n.x - n.y",
        "local n = { x = b, [1] = c } n[2] = i s = s + n[1] + n[2] + n.x",
        "t = { i, a }",
        "o = { x = a, y = s }",
        "t[(i % 7) + 1] = #{ 1, 2, i }",
    ]);
    make.prop_map(String::from).boxed()
}

fn stmt() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => assign(),
        2 => table_write(),
        1 => fresh_table(),
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
        ", '-abc'",
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

/// Inputs for the bit tests: negative, at and past 2^31 and 2^32, non-integral (ties
/// round to even as the 2^52+2^51 trick does), large, and not finite.
const BIT_INPUTS: &str = "local vals = { 0, 1, -1, 5, -5, 255, 2^31 - 1, 2^31, 2^31 + 7, 2^32, \
     2^32 + 3, -2^31, -2^31 - 1, -2^32 - 9, 0.5, 1.5, 2.5, -0.5, -1.5, 3.7, -3.7, \
     123456.49, 2^40 + 0.5, 2^52 + 3, 2^53, -2^60, 1/0, -1/0, 0/0, 31, 32, 33, 64, -1 }\n";

#[test]
fn bit_operations_in_compiled_loops_match_the_interpreter() {
    let body = "local out = {}\n\
        for i = 1, #vals do\n\
          local x, y = vals[i], vals[#vals + 1 - i]\n\
          local n = vals[(i * 7) % #vals + 1]\n\
          out[#out + 1] = bit.tobit(x) + bit.bnot(x) + bit.bswap(y)\n\
          out[#out + 1] = bit.band(x, y) + bit.bor(x, y) + bit.bxor(x, y) + bit.band(x)\n\
          out[#out + 1] = bit.band(x, y, 0xff0f) + bit.bor(x, y, 1, 2^31) + bit.bxor(x, y, n, -1)\n\
          out[#out + 1] = bit.lshift(x, n) + bit.rshift(x, n) + bit.arshift(x, n)\n\
          out[#out + 1] = bit.rol(x, n) + bit.ror(x, n) + bit.rol(y, 37) + bit.ror(y, -3)\n\
          out[#out + 1] = bit.bxor(bit.band(x, 0xf0f0f0f0), bit.lshift(bit.bnot(y), 4))\n\
          out[#out + 1] = bit.band(0xf0f0, 0x0ff0) + bit.tobit(2^32 + 5.5) + bit.bswap(0x12345678)\n\
          out[#out + 1] = bit.lshift(1, i) + bit.rshift(-1, i) + bit.arshift(-2^31, i)\n\
        end\n\
        for i = 1, #out do io.write(bit.tohex(out[i] % 2^32), ' ', out[i], '\\n') end\n";
    let code = format!("{BIT_INPUTS}{body}");
    let (plain, _) = run_with(&code, None);
    assert!(!plain.contains("ERROR"), "{plain}");
    for opts in ["", ", '-fold'", ", '-narrow'", ", '-loop'", ", '0'"] {
        let (jitted, traces) = run_with(&code, Some(opts));
        assert_eq!(plain, jitted, "flags {opts:?}");
        assert!(traces >= 1, "the loop was not compiled (flags {opts:?})");
    }
}

#[test]
fn bit_results_feed_integer_keys_comparisons_and_later_iterations() {
    // Bit results as array indices, in comparisons, as loop-carried values (an integer
    // phi) and as arguments of other bit calls and math builtins.
    let code = "local t = {} for i = 1, 16 do t[i] = i * 3 end\n\
        local h, c, m = 0x1234567, 0, 0\n\
        for i = 1, 300 do\n\
          h = bit.bxor(bit.rol(h, 5), i * 2654435761)\n\
          local k = bit.band(h, 15) + 1\n\
          t[k] = t[k] + 1\n\
          if bit.band(h, 3) == 0 then c = c + 1 end\n\
          if bit.arshift(h, 28) < 0 then m = math.max(m, bit.rshift(h, 1)) end\n\
        end\n\
        local s = 0 for i = 1, 16 do s = s + t[i] end\n\
        print(h, c, m, s)\n\
        local w, n = 0, 0\n\
        while n < 100 do n = n + 1 w = bit.bor(bit.lshift(w, 1), bit.band(n, 1)) end\n\
        print(w, n)";
    let (plain, _) = run_with(code, None);
    let (jitted, traces) = run_with(code, Some(""));
    assert_eq!(plain, jitted);
    assert!(traces >= 3, "only {traces} traces");
}

#[test]
fn nested_builtin_calls_are_compiled_and_leave_where_the_interpreter_can_resume() {
    // `f(x, g(y))` is a CALLM taking g's result as MULTRES. When its guards fail (f is
    // another function on later iterations) the trace leaves before g's call, as the
    // interpreter cannot resume at the CALLM itself; a call with two results run
    // interpreted in between changes MULTRES.
    let code = "local fs = { bit.bxor, bit.bor, bit.band }\n\
        local s = 0\n\
        for i = 1, 100 do\n\
          local f = fs[i % 3 + 1]\n\
          if i % 10 == 0 then local p, q = math.modf(i + 0.5) s = s + p + q end\n\
          s = s + f(i * 3, bit.band(i, 7)) + f(i, 100, bit.bor(i, bit.lshift(1, i % 5)))\n\
          s = s + math.max(bit.tobit(i * 1.5), math.floor(i / 3))\n\
        end\n\
        print(s)";
    let (plain, _) = run_with(code, None);
    for opts in ["", ", '-loop'"] {
        let (jitted, traces) = run_with(code, Some(opts));
        assert_eq!(plain, jitted, "flags {opts:?}");
        assert!(traces >= 1, "flags {opts:?}");
    }
}

#[test]
fn unsupported_bit_calls_abort_and_still_run_interpreted() {
    // Strings (the library converts them), a wrong argument count, results used as
    // several values, an error from a non-number: each loop stays interpreted.
    let code = "local s = 0 for i = 1, 20 do s = s + bit.band(tostring(i), '7') end print(s)\n\
        local u = 0 for i = 1, 20 do u = u + bit.lshift(i, 1, 'extra') end print(u)\n\
        local v = 0 for i = 1, 20 do local a, b = bit.bnot(i) v = v + a + (b or 0) end print(v)\n\
        local w = 0 for i = 1, 20 do w = w + select('#', bit.tobit(i)) end print(w)\n\
        print(pcall(function() local z = 0 for i = 1, 20 do z = bit.bor(z, i < 15 and i or {}) end end))";
    let (plain, _) = run_with(code, None);
    let (jitted, _) = run_with(code, Some(""));
    assert_eq!(plain, jitted);
}

/// Loops that make a new table each iteration, by constructor kind, storing into it and
/// reading it back, keeping some of them and dropping the rest.
const NEW_TABLES: &str = "local keep = {}\n\
    local sum = 0\n\
    for i = 1, 400 do\n\
      local e = {}\n\
      e[1] = i e[2] = i * 2 e.name = 'n' e.v = i + 0.5\n\
      local a = { 1, 2, 3 }\n\
      a[2] = a[2] + i a[4] = i\n\
      local r = { x = 1, y = 2 }\n\
      r.x = r.x + i r.z = r.y * i\n\
      local m = { x = i, 'first', y = 2 }\n\
      sum = sum + e[1] + e[2] + e.v + a[2] + #a + a[4] + r.x + r.z + m.x + m.y + #m[1]\n\
      if i % 50 == 0 then keep[#keep + 1] = { e, a, r, m } end\n\
    end\n\
    local check = 0\n\
    for j = 1, #keep do local k = keep[j] check = check + k[1][2] + k[2][4] + k[3].z + k[4].x end\n\
    print(sum, #keep, check)\n\
    local chain = nil\n\
    local n = 0\n\
    while n < 300 do n = n + 1 chain = { next = chain, v = n } end\n\
    local c = 0 while chain do c = c + chain.v chain = chain.next end\n\
    print(n, c)\n";

#[test]
fn table_constructors_in_compiled_loops_match_the_interpreter() {
    for stress in [false, true] {
        let (plain, _) = run_in(NEW_TABLES, None, stress, None);
        assert!(!plain.contains("ERROR"), "{plain}");
        for opts in ["", ", '-cse'", ", '-fwd'", ", '-loop'", ", '0'"] {
            let (jitted, traces) = run_in(NEW_TABLES, Some(opts), stress, None);
            assert_eq!(plain, jitted, "stress {stress}, flags {opts:?}");
            // Every loop: the constructors' one, the check's and both `while` loops.
            assert!(
                traces >= 4,
                "only {traces} traces (stress {stress}, flags {opts:?})"
            );
        }
    }
}

#[test]
fn new_tables_are_never_shared_between_constructors_or_iterations() {
    // Two `{}` in one iteration, and the same `{}` in consecutive iterations, are
    // distinct tables: identity comparisons and stores through one never show in another.
    let code = "local prev, same, diff = nil, 0, 0\n\
        for i = 1, 100 do\n\
          local p, q = {}, {}\n\
          local r, s = { 1 }, { 1 }\n\
          p[1] = i q[1] = -i r[1] = i s.k = 1\n\
          if p == q or r == s or p == prev then same = same + 1 else diff = diff + p[1] - q[1] + r[1] + s[1] end\n\
          prev = p\n\
        end\n\
        print(same, diff)";
    let (plain, _) = run_with(code, None);
    for opts in ["", ", '-cse'", ", '-loop'"] {
        let (jitted, traces) = run_with(code, Some(opts));
        assert_eq!(plain, jitted, "flags {opts:?}");
        assert_eq!(traces, 1, "flags {opts:?}");
    }
    assert_eq!(plain, "0\t15250\n");
}

#[test]
fn running_out_of_memory_in_a_compiled_loop_raises_the_interpreters_error() {
    // Kept tables: the heap's limit is reached inside the trace (a new table or a
    // table's growth fails), which leaves for the interpreter to raise the error.
    let keep = "local keep = {}\n\
        print(pcall(function() for i = 1, 1e7 do keep[i] = { i, i + 1, x = i } end end))\n\
        keep = nil collectgarbage()\n\
        local t = 0 for i = 1, 1000 do local n = { i } t = t + n[1] end print(t)";
    // Garbage tables only: under the limit, collections (run by the interpreter when the
    // trace leaves at its loop header) keep the loop going to the end.
    let garbage =
        "local t = 0 for i = 1, 200000 do local n = { i, x = i } t = t + n[1] + n.x end print(t)";
    for stress in [false, true] {
        for code in [keep, garbage] {
            let limit = Some(if stress { 300_000 } else { 2_000_000 });
            let (plain, _) = run_in(code, None, stress, limit);
            let (jitted, traces) = run_in(code, Some(""), stress, limit);
            assert_eq!(plain, jitted, "stress {stress}, program:\n{code}");
            assert!(traces >= 1);
        }
    }
    let (plain, _) = run_in(keep, None, false, Some(2_000_000));
    assert!(plain.starts_with("false\tnot enough memory\n"), "{plain}");
}

/// Statements of an array loop's body over index `i` and table `t` (`u` another table):
/// reads and rewrites of `t[i]`, `t[i + 1]`, `t[i - 1]` that may fall outside the array
/// part, and (in a branch) the table replaced or grown, or a store that may grow it.
fn array_stmt() -> impl Strategy<Value = String> {
    let plain = prop::sample::select(vec![
        "s = s + (t[i] or 0)",
        "s = s + (t[i + 1] or 1)",
        "s = s + (t[i - 1] or 2)",
        "s = s + (t[i + 2] or 3) * (t[i - 2] or 4)",
        "if t[i] then t[i] = t[i] * 2 + (t[i + 1] or 0) end",
        "if t[i - 1] then t[i - 1] = (t[i - 1] + i) % 1000 end",
        "local j = i + 1 s = s + (t[j] or 5)",
        "s = s + (u[i] or 6)",
        "s = s + #t",
    ])
    .prop_map(String::from);
    let rare = prop::sample::select(vec![
        "t = u",
        "t = { 1, 2, 3 }",
        "t[#t + 1] = i",
        "t[i + 3] = i",
        "u = t",
        "t = {}",
    ]);
    prop_oneof![
        6 => plain,
        1 => ((-3i32..20), rare).prop_map(|(k, r)| format!("if i == {k} then {r} end")),
    ]
}

/// A function with an array loop `for i = a, b, c`, called with a table the range stays
/// inside, then with tables of several sizes and ranges that run past the array's end or
/// below 1 (the trace compiled on the first call is entered again with other bounds and
/// tables).
fn array_program() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(array_stmt(), 1..4),
        prop::collection::vec(((0i32..14), (-2i32..4), (-3i32..16)), 1..6),
        prop::sample::select(vec![1, 1, 2, -1, -1, -2, 3]),
        any::<bool>(),
    )
        .prop_map(|(body, calls, step, fixed)| {
            let body = body.join("\n    ");
            // The first call stays inside the array, so its trace hoists the checks
            // (later ones go past the ends).
            let (a0, b0) = if step > 0 { (2, 10) } else { (10, 2) };
            let mut calls_text =
                format!("print(pcall(run, mk(14), mk(5), {a0}, {b0}, {step}))\n");
            for (size, from, to) in calls {
                // A negative step runs from the top down.
                let (a, b) = if step > 0 { (from, to) } else { (to, from) };
                calls_text.push_str(&format!(
                    "print(pcall(run, mk({size}), mk(5), {a}, {b}, {step}))\n"
                ));
            }
            let stop = if fixed { "10" } else { "b" };
            format!(
                "local function mk(n) local t = {{}} for i = 1, n do t[i] = i * 3 end return t end\n\
                 local function run(t, u, a, b, c)\n\
                   local s = 0\n\
                   for i = a, {stop}, c do\n    {body}\n  end\n\
                   return s, #t, t[1], t[2], t[5], t[9], u[2]\n\
                 end\n\
                 {calls_text}"
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn array_loops_print_what_the_interpreter_prints(code in array_program()) {
        let (plain, _) = run(&code, false);
        for opts in ["", ", '-abc'", ", 'hotexit=1'"] {
            let (jitted, _) = run_with(&code, Some(opts));
            prop_assert_eq!(&plain, &jitted, "flags {:?}, program:\n{}", opts, code);
        }
    }
}

#[test]
fn array_loops_with_hoisted_bounds_checks_leave_where_an_access_would_fail() {
    // Each loop is compiled on its first call, with its bounds checks hoisted out of the
    // loop (the recorded run stays inside the array), and entered again with ranges past
    // either end, a table replaced or grown in the middle, and a stop near 2^31.
    let code = "local function mk(n) local t = {} for i = 1, n do t[i] = i end return t end\n\
        local function up(t, n) local s = 0 for i = 1, n do s = s + (t[i] or 0.5) end return s end\n\
        local function rw(t, n) for i = 1, n do t[i] = t[i] * 2 + (t[i + 1] or 0) end return t[1], t[n], #t end\n\
        local function down(t, a) local s = 0 for i = a, 1, -1 do s = s + (t[i] or 0.25) + (t[i - 1] or 0.125) end return s end\n\
        local function back(t, a, b) local s = 0 for i = a, b, -2 do s = s * 2 + (t[i + 1] or 7) end return s end\n\
        local function swap(t, u, n) local s = 0 for i = 1, n do if i == 6 then t = u end s = s + (t[i] or 3) end return s end\n\
        local function grow(t, n) local s = 0 for i = 1, n do s = s + (t[i] or 9) if i == 4 then t[#t + 1] = 1 end end return s end\n\
        local function far(t, a, b) local c = 0 for i = a, b do c = c + (t[i + 1] or 1) if c > 30 then return c end end return c end\n\
        for _, n in ipairs({ 20, 20, 25, 0, 1, 21, 19, 3 }) do\n\
          print(n, up(mk(20), n), pcall(rw, mk(20), n), down(mk(20), n), back(mk(20), n, -3))\n\
          print(swap(mk(20), mk(4), n), grow(mk(10), n))\n\
        end\n\
        print(far(mk(20), 1, 10), far(mk(20), 1, 2147483647), far(mk(20), -5, 2147483646))";
    let (plain, _) = run_with(code, None);
    assert!(!plain.contains("ERROR"), "{plain}");
    for opts in ["", ", '-abc'", ", 'hotexit=1'", ", '-loop'"] {
        let (jitted, traces) = run_with(code, Some(opts));
        assert_eq!(plain, jitted, "flags {opts:?}");
        assert!(traces >= 6, "only {traces} traces (flags {opts:?})");
    }
}

/// Recursive functions whose bodies are generated statements, called from a loop with
/// varying depths: function traces, recursive calls made natively (one result, two
/// calls in an expression, a call for its effect, more arguments than parameters) and
/// tail recursion, all leaving for the interpreter at any depth.
fn recursive_program() -> impl Strategy<Value = String> {
    (
        constant(),
        constant(),
        constant(),
        prop::collection::vec(stmt(), 0..4),
        0..5usize,
        0i32..3,
        any::<bool>(),
    )
        .prop_map(|(ka, kb, kc, body, form, base, early)| {
            let body = body.join("\n    ");
            let recurse = [
                "local x = r(d - 1, i + 1) return x + 1",
                "return r(d - 1, i) + r(d - 2, i + 1)",
                "return r(d - 1, i + a % 3)",
                "r(d - 1, i) return s",
                "return r(d - 1, i, a, b)",
            ][form];
            // The base case before or after the generated statements.
            let (before, after) = if early {
                (format!("if d <= {base} then return a end"), String::new())
            } else {
                (String::new(), format!("if d <= {base} then return a end"))
            };
            format!(
                "local a, b, c = {ka}, {kb}, {kc}\nlocal s = 0\n\
                 local t, o = {{ 1, 2, 3 }}, {{ x = 1, y = 2 }}\ng = 0\n\
                 local function h(x, y) if x < y then return x end return y end\n\
                 local function k(v) o.y = o.y + 1 return v end\n\
                 local function m(x) return x * 2, x end\n\
                 local function n(x, y) return y end\n\
                 local function r(d, i)\n    {before}\n    {body}\n    {after}\n    {recurse}\n  end\n\
                 for j = 1, 40 do s = s + r(j % 7, j) end\n\
                 print(a, b, c, s, g, #t, t[1], t[2], t[8], o.x, o.y)\n"
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn recursive_functions_print_what_the_interpreter_prints(code in recursive_program()) {
        let (plain, _) = run(&code, false);
        for opts in ["", ", 'hotexit=1'"] {
            let (jitted, _) = run_with(&code, Some(opts));
            prop_assert_eq!(&plain, &jitted, "flags {:?}, program:\n{}", opts, code);
        }
    }
}

#[test]
fn recursive_functions_are_compiled_and_match_the_interpreter_under_gc_stress() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut compiled = 0;
    let total = 40;
    for n in 0..total {
        let code = recursive_program().new_tree(&mut runner).unwrap().current();
        let (plain, _) = run(&code, false);
        let (jitted, traces) = run_in(&code, Some(""), n % 4 == 0, None);
        assert_eq!(plain, jitted, "program:\n{code}");
        compiled += usize::from(traces > 0);
    }
    assert!(
        compiled * 2 > total,
        "only {compiled} of {total} programs compiled"
    );
}

// ---- FFI: cdata accesses in compiled loops ------------------------------------------

/// Runs `code` interpreted, and compiled at hotloop=1 under several settings (side traces
/// from every exit, no loop optimisation, no optimisation at all, no CSE and forwarding,
/// the collector's stress mode): every run prints the same. Returns what they print and
/// the fewest traces a compiled run made.
fn same_with_and_without_jit(code: &str) -> (String, usize) {
    let (plain, _) = run(code, false);
    assert!(!plain.contains("ERROR"), "{plain}");
    let mut fewest = usize::MAX;
    for opts in [
        "",
        ", 'hotexit=1'",
        ", '-loop'",
        ", '0'",
        ", '-cse', '-fwd'",
    ] {
        let (jitted, traces) = run_with(code, Some(opts));
        assert_eq!(plain, jitted, "with {opts:?}:\n{code}");
        fewest = fewest.min(traces);
    }
    let (stressed, _) = run_in(code, Some(", 'hotexit=1'"), true, None);
    assert_eq!(plain, stressed, "under GC stress:\n{code}");
    (plain, fewest)
}

/// A loop storing `vals` (doubles from a table, as Lua numbers) to an array of each C
/// number type, then reading them back.
const FFI_STORES: &str = "local ffi = require('ffi')\n\
    local vals = { 0, 1, -1, 127, 128, 255, 256, 300, -129, 32767, 32768, 65535, 65536, \
      -32769, 2^31 - 1, 2^31, 2^32, 2^32 + 5, -2^31, -2^31 - 1, -2^31 - 0.5, 2^53, 2^63, \
      -2^63, 2^64, 1e300, -1e300, 1/0, -1/0, 0/0, 0.5, -0.5, 1.5, 2.7, -2.7, 1e-310, \
      3.14159265358979, 16777217, 0.1, -0.0 }\n\
    for _, ty in ipairs({ 'int8_t', 'uint8_t', 'int16_t', 'uint16_t', 'int32_t', \
      'uint32_t', 'float', 'double', 'bool', 'char', 'unsigned char' }) do\n\
      local a = ffi.new(ty .. '[?]', #vals)\n\
      for i = 1, #vals do a[i - 1] = vals[i] end\n\
      local out = {}\n\
      for i = 0, #vals - 1 do out[#out + 1] = tostring(a[i]) end\n\
      print(ty, table.concat(out, ' '))\n\
      local b = ffi.new(ty .. '[?]', 300)\n\
      for i = 0, 299 do b[i] = i * 7 - 1000 end\n\
      local s = 0\n\
      for i = 0, 299 do local v = b[i] if v == true then v = 1 elseif v == false then v = 0 end s = s + v end\n\
      local c = ffi.new(ty .. '[?]', 60)\n\
      for i = 0, 59 do c[i] = (i % 3 == 0) end\n\
      local t = 0\n\
      for i = 0, 59 do if c[i] == true or c[i] == 1 then t = t + 1 end end\n\
      print(ty, s, t)\n\
    end\n";

#[test]
fn ffi_stores_convert_numbers_as_the_interpreter_does() {
    let (out, traces) = same_with_and_without_jit(FFI_STORES);
    assert!(traces >= 10, "only {traces} traces");
    let row = |ty: &str| -> Vec<String> {
        // The first line of the type's two.
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{ty}\t")))
            .unwrap();
        line.split('\t')
            .nth(1)
            .unwrap()
            .split(' ')
            .map(String::from)
            .collect()
    };
    // Narrow types wrap; out-of-range doubles and NaN go through INT32_MIN (0 in the
    // low bits) for types up to 32 bits, uint32_t through 64 bits.
    let u8s = row("uint8_t");
    assert_eq!(
        &u8s[..9],
        ["0", "1", "255", "127", "128", "255", "0", "44", "127"]
    );
    assert_eq!(&row("int8_t")[4..8], ["-128", "-1", "0", "44"]);
    let i32s = row("int32_t");
    assert_eq!(&i32s[15..17], ["-2147483648", "-2147483648"]); // 2^31, 2^32
    assert_eq!(i32s[29], "-2147483648"); // NaN
    let u32s = row("uint32_t");
    assert_eq!(&u32s[..3], ["0", "1", "4294967295"]);
    assert_eq!(&u32s[15..18], ["2147483648", "0", "5"]); // 2^31, 2^32, 2^32 + 5
    assert_eq!(u32s[29], "0"); // NaN
                               // Floats round to nearest.
    let floats = row("float");
    assert_eq!(floats[37], "16777216");
    assert_eq!(floats[38], "0.10000000149012");
    assert_eq!(row("bool")[..3], ["false", "true", "true"]);
    assert_eq!(row("bool")[29], "true"); // NaN is not 0
}

#[test]
fn ffi_nan_payloads_copied_between_arrays_become_the_canonical_nan() {
    // A NaN read from C memory is the interpreter's one NaN as soon as it is a Lua
    // number: copied to a double or float, its bits are that NaN's.
    let code = "local ffi = require('ffi')\n\
        local bits = ffi.new('uint64_t[4]', { 0x7ff0000000000001ULL, 0x7ff8000000000abcULL, \
          0xfff0000000000007ULL, 0x3ff0000000000000ULL })\n\
        local src = ffi.cast('double *', bits)\n\
        local d, f = ffi.new('double[64]'), ffi.new('float[64]')\n\
        for i = 0, 63 do d[i] = src[i % 4] f[i] = src[i % 4] * 2 end\n\
        local db, fb = ffi.cast('uint64_t *', d), ffi.cast('uint32_t *', f)\n\
        for i = 0, 7 do print(tostring(db[i]), fb[i]) end\n";
    let (out, traces) = same_with_and_without_jit(code);
    assert!(traces >= 1);
    let first: Vec<&str> = out.lines().take(4).collect();
    assert_eq!(
        first,
        [
            "18444492273895866368ULL\t4290772992",
            "18444492273895866368ULL\t4290772992",
            "18444492273895866368ULL\t4290772992",
            "4607182418800017408ULL\t1073741824"
        ]
    );
}

#[test]
fn ffi_pointers_index_both_ways_and_null_is_the_interpreters_error() {
    let code = "local ffi = require('ffi')\n\
        local buf = ffi.new('int32_t[100]')\n\
        local p = buf + 50\n\
        for i = -50, 49 do p[i] = i * 3 end\n\
        local s = 0\n\
        for i = -50, 49 do s = s + p[i] end\n\
        print(s, buf[0], buf[99], p[-50])\n\
        local q = ffi.cast('uint16_t *', buf) + 60\n\
        local t = 0\n\
        for i = 1, 40 do q[-i] = i * 1000 t = t + q[-i] + q[i] end\n\
        print(t)\n\
        local np = ffi.cast('int *', 0)\n\
        print(pcall(function() local s = 0 for i = 1, 100 do local r = i > 60 and np or buf s = s + r[i % 10] end return s end))\n\
        print(pcall(function() for i = 1, 100 do local r = i > 60 and np or buf r[i % 10] = i end end))\n";
    let (out, traces) = same_with_and_without_jit(code);
    assert!(traces >= 3, "only {traces} traces");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "-150\t-150\t147\t-150");
    assert!(
        lines[2].ends_with("attempt to index a NULL pointer"),
        "{out}"
    );
    assert!(
        lines[3].ends_with("attempt to index a NULL pointer"),
        "{out}"
    );
}

#[test]
fn ffi_struct_members_through_values_pointers_references_and_arrays() {
    let code = "local ffi = require('ffi')\n\
        ffi.cdef[[\n\
          typedef struct { double x, y; } pt;\n\
          typedef struct { int32_t n; uint8_t b; int16_t h; float f; bool ok; double arr[4]; \
            pt at; const int k; } rec;\n\
          typedef union { uint32_t u; uint8_t bytes[4]; float f; } pun;\n\
        ]]\n\
        local N = 40\n\
        local pts = ffi.new('pt[?]', N)\n\
        for i = 0, N - 1 do pts[i].x = i pts[i].y = -i end\n\
        local sx, sy = 0, 0\n\
        for i = 0, N - 1 do sx = sx + pts[i].x sy = sy + pts[i].y end\n\
        print('pts', sx, sy)\n\
        local pp = ffi.cast('pt *', pts)\n\
        for i = 0, N - 1 do pp[i].y = pp[i].y * 2 + pp[i].x end\n\
        local q = pp + 3\n\
        local acc = 0\n\
        for i = 1, N do q.x = q.x + i acc = acc + q.x + q.y end\n\
        print('through a pointer', acc, pts[3].x, pts[N - 1].y)\n\
        local r = ffi.new('rec')\n\
        local rp = ffi.cast('rec *', r)\n\
        for i = 1, 100 do\n\
          r.n = r.n + i r.b = r.b + i r.h = r.h - i * 300 r.f = r.f + 0.1 r.ok = (i % 2 == 0)\n\
          r.arr[i % 4] = r.arr[(i + 1) % 4] + i\n\
          r.at.x = r.at.x + rp.arr[i % 4] rp.at.y = i\n\
          rp.n = rp.n + 1\n\
        end\n\
        print('rec', r.n, r.b, r.h, r.f, r.ok, r.arr[0], r.arr[1], r.arr[2], r.arr[3], r.at.x, r.at.y)\n\
        local arr, at = r.arr, r.at\n\
        local t = 0\n\
        for i = 0, 99 do arr[i % 4] = arr[i % 4] + 1 at.y = at.y + arr[(i + 2) % 4] t = t + at.y end\n\
        print('references', t, r.arr[1], r.at.y)\n\
        local u = ffi.new('pun')\n\
        local w = 0\n\
        for i = 1, 64 do u.bytes[i % 4] = i * 5 w = w + u.u % 1000 + u.bytes[(i + 1) % 4] end\n\
        print('union', w, u.u)\n\
        local m = ffi.new('double[4][5]')\n\
        for i = 0, 19 do m[i % 4][i % 5] = i end\n\
        local ms = 0\n\
        for i = 0, 19 do ms = ms + m[i % 4][(i + 1) % 5] * i end\n\
        print('2d', ms)\n\
        print(pcall(function() for i = 1, 100 do if i > 60 then r.k = i end r.n = i end end))\n\
        local nps = ffi.cast('pt *', 0)\n\
        print(pcall(function() local s = 0 for i = 1, 100 do local p = i > 60 and nps or pp s = s + p.x end return s end))\n";
    let (out, traces) = same_with_and_without_jit(code);
    assert!(traces >= 8, "only {traces} traces");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "pts\t780\t-780");
    assert!(
        lines[6].ends_with("attempt to write to constant location"),
        "{out}"
    );
    assert!(
        lines[7].ends_with("attempt to index a NULL pointer"),
        "{out}"
    );
}

#[test]
fn ffi_vla_fill_and_sum_loops_compile() {
    let code = "local ffi = require('ffi')\n\
        local n = 1000\n\
        local a = ffi.new('double[?]', n)\n\
        for i = 0, n - 1 do a[i] = i * 0.5 end\n\
        local s = 0\n\
        for i = 0, n - 1 do s = s + a[i] end\n\
        print(s)\n";
    let (out, traces) = same_with_and_without_jit(code);
    assert_eq!(out, "249750\n");
    assert_eq!(traces, 2, "the fill and the sum");
}

#[test]
fn ffi_loops_the_recorder_refuses_still_give_the_interpreters_answers() {
    // Pointers read from C memory, bitfields, enums, complex numbers, arithmetic and
    // comparisons on cdata other than 64-bit integers, ctype objects (and 64-bit integers
    // in C memory, which compile now).
    let code = "local ffi = require('ffi')\n\
        ffi.cdef[[ typedef struct { unsigned a : 3, b : 5; } bits; \
          typedef enum { RED, GREEN = 5 } colour; ]]\n\
        local i64 = ffi.new('int64_t[10]')\n\
        for i = 0, 99 do i64[i % 10] = i64[i % 10] + i end\n\
        print(tostring(i64[0]), tostring(i64[9]))\n\
        local u64 = ffi.new('uint64_t[4]')\n\
        for i = 0, 99 do u64[i % 4] = i end\n\
        print(tostring(u64[3]))\n\
        local ps = ffi.new('int *[4]')\n\
        local target = ffi.new('int[1]', 7)\n\
        local n = 0\n\
        for i = 0, 99 do ps[i % 4] = target n = n + ps[i % 4][0] end\n\
        print(n)\n\
        local bf = ffi.new('bits')\n\
        for i = 1, 100 do bf.a = i bf.b = bf.b + bf.a end\n\
        print(bf.a, bf.b)\n\
        local cs = ffi.new('colour[3]')\n\
        for i = 1, 100 do cs[i % 3] = i % 2 == 0 and 'GREEN' or 'RED' end\n\
        print(tonumber(cs[0]), tonumber(cs[1]))\n\
        local z = ffi.new('complex double[2]', { {1, 2}, {3, 4} })\n\
        local re = 0\n\
        for i = 1, 100 do re = re + z[i % 2].re + z[i % 2].im + z[0][1] end\n\
        print(re)\n\
        local x = ffi.new('int32_t', 5)\n\
        local y = 0\n\
        for i = 1, 100 do y = y + tonumber(x + i) end\n\
        print(y)\n\
        local d = ffi.new('double[2]')\n\
        local eq = 0\n\
        for i = 1, 100 do if d == d then eq = eq + 1 end end\n\
        print(eq)\n\
        local T = ffi.typeof('double[3]')\n\
        local k = 0\n\
        for i = 1, 100 do local o = T() o[i % 3] = i k = k + o[i % 3] end\n\
        print(k)\n";
    let (out, _) = same_with_and_without_jit(code);
    assert_eq!(
        out,
        "450LL\t540LL\n99ULL\n700\n4\t26\n0\t5\n700\n5550\n100\n5050\n"
    );
}

/// 64-bit integer cdata of both signednesses against numbers of every kind (fractions,
/// out of range, NaN) and each other: arithmetic (division and modulo by zero and by -1,
/// negative powers), comparisons both ways round, values carried round the loop and a
/// type change from `int64_t` to `uint64_t` in it; then `int64_t`/`uint64_t` arrays
/// converted to and from numbers and other C types.
const INT64_LOOPS: &str = "local ffi = require('ffi')\n\
    local vals = { 0, 1, -1, 7, -7, 3.7, -3.7, 2^31, -2^31 - 1, 2^53, 2^63, -2^63, 2^64, \
      1e300, -1e300, 0/0, 5, -2 }\n\
    local ks = { 0LL, 1LL, -1LL, 3LL, -3LL, 5LL, 0x7fffffffffffffffLL, -0x7fffffffffffffffLL - 1, \
      0ULL, 1ULL, 3ULL, 5ULL, 0xffffffffffffffffULL, 0x8000000000000000ULL }\n\
    for j = 1, #ks do\n\
      local k = ks[j]\n\
      local acc, lt, le, eq, ne = k, 0, 0, 0, 0\n\
      local parts = {}\n\
      for i = 1, #vals do\n\
        local v = vals[i]\n\
        local x = k + v\n\
        local y = v - k\n\
        local z = k * v\n\
        local q = k / v\n\
        local m = k % v\n\
        local n = -x\n\
        local p = x ^ 3 + k ^ -1 + (k - 2) ^ i\n\
        acc = acc * 31 + x - y + z + q + m + n + p + i\n\
        if x < v then lt = lt + 1 end\n\
        if v <= k then le = le + 1 end\n\
        if x == v then eq = eq + 1 end\n\
        if z ~= k then ne = ne + 1 end\n\
        if q == 3 then eq = eq + 10 end\n\
        if m == 5LL then eq = eq + 100 end\n\
        if k > 2LL then lt = lt + 10 end\n\
      end\n\
      print(j, tostring(acc), lt, le, eq, ne)\n\
    end\n\
    local a = 0LL\n\
    for i = 1, 100 do a = a + (i == 50 and 1ULL or 1) * i end\n\
    print(tostring(a))\n\
    local i64, u64 = ffi.new('int64_t[8]'), ffi.new('uint64_t[8]')\n\
    local d, i32, u8 = ffi.new('double[8]'), ffi.new('int32_t[8]'), ffi.new('uint8_t[8]')\n\
    for i = 0, 99 do\n\
      local s = i % 8\n\
      i64[s] = i64[s] * -3 + i - 1e10\n\
      u64[s] = u64[s] + i64[s] + vals[i % #vals + 1]\n\
      d[s] = u64[s]\n\
      i32[s] = i64[s]\n\
      u8[s] = u64[s] + d[s]\n\
    end\n\
    for s = 0, 7 do print(tostring(i64[s]), tostring(u64[s]), d[s], i32[s], u8[s]) end\n";

#[test]
fn int64_cdata_arithmetic_and_comparisons_match_the_interpreter() {
    let (out, traces) = same_with_and_without_jit(INT64_LOOPS);
    assert!(traces >= 3, "only {traces} traces");
    assert_eq!(out.lines().count(), 14 + 1 + 8, "{out}");
}

#[test]
fn boxes_made_where_traces_leave_are_collected() {
    // Every other iteration leaves the loop's trace for a side trace, boxing the int64
    // accumulator as it leaves: a million boxes, which the collector must get to run
    // on (exits that box count as allocating), so the heap stays small.
    let code = "local acc, hi = 0LL, 0\n\
        for i = 1, 1000000 do\n\
          acc = acc + i\n\
          if i % 2 == 0 then hi = hi + 1 end\n\
        end\n\
        print(tostring(acc), hi, collectgarbage('count') < 8192)\n";
    let (out, traces) = run_with(code, Some(""));
    assert_eq!(out, "500000500000LL\t500000\ttrue\n");
    assert!(traces >= 2, "{traces}");
}

#[test]
fn c_calls_with_64_bit_integers_compile() {
    let code = "local ffi = require('ffi')\n\
        ffi.cdef[[ long long llabs(long long); size_t strlen(const char *); ]]\n\
        local C = ffi.C\n\
        local words = { 'a', 'bb', 'ccc', '', 'dddd' }\n\
        local n, m = 0, 0LL\n\
        for i = 1, 200 do\n\
          n = n + C.strlen(words[i % 5 + 1])\n\
          m = m + C.llabs(5000000000LL - i * 1e8)\n\
        end\n\
        print(tostring(n), tostring(m))\n";
    let (out, traces) = same_with_and_without_jit(code);
    assert_eq!(out, "400ULL\t1255000000000LL\n");
    assert!(traces >= 1, "no trace");
}

#[test]
fn pointer_arithmetic_and_comparisons_match_the_interpreter() {
    // Pointers walked through arrays by `p + 1`, `1 + p`, `p - n` and int64 steps,
    // compared with `<`, `<=`, `==`, `~=` and `== nil`, read and written through; loops
    // that leave in the middle (the pointer is made where they leave), pointers of two
    // types meeting one loop, and a pointer stored to a table (not compiled).
    let code = "local ffi = require('ffi')\n\
        ffi.cdef[[ typedef struct { int32_t a; double b; } pr; ]]\n\
        local buf = ffi.new('int32_t[64]')\n\
        for i = 0, 63 do buf[i] = i * i - 100 end\n\
        local p, e = ffi.cast('int32_t *', buf), ffi.cast('int32_t *', buf) + 64\n\
        local s, n = 0, 0\n\
        while p < e do s = s + p[0] p = 1 + p n = n + 1 end\n\
        print(s, n, p == e, p - e)\n\
        local q = e - 1\n\
        local t = 0\n\
        while q >= buf + 0 do t = t + q[0] * 2 q[0] = q[0] + 1 q = q - 1 end\n\
        print(t, buf[0], buf[63])\n\
        local r = ffi.cast('int32_t *', buf)\n\
        for i = 1, 40 do r = r + 1LL if r[0] > 300 then break end end\n\
        print(r[0], r - ffi.cast('int32_t *', buf))\n\
        local prs = ffi.new('pr[10]')\n\
        local pp = ffi.cast('pr *', prs)\n\
        for i = 1, 10 do pp.a = i pp.b = i / 4 pp = pp + 1 end\n\
        local sum = 0\n\
        pp = pp - 10\n\
        for i = 1, 10 do sum = sum + pp[0].a * pp.b if pp ~= prs + 9 then pp = pp + 1 end end\n\
        print(sum)\n\
        local nn = 0\n\
        local chain = { ffi.cast('int32_t *', buf), ffi.cast('int32_t *', nil) }\n\
        for i = 1, 60 do if chain[i % 2 + 1] == nil then nn = nn + 1 end end\n\
        print(nn)\n\
        local bytes = ffi.cast('uint8_t *', buf)\n\
        local w = ffi.cast('int32_t *', buf)\n\
        local acc = 0\n\
        for i = 1, 80 do\n\
          local c = (i > 40) and bytes or w\n\
          acc = acc + (c + i % 7)[0]\n\
        end\n\
        print(acc)\n\
        local keep = {}\n\
        local k = ffi.cast('int32_t *', buf)\n\
        for i = 1, 30 do k = k + 1 keep[i] = k end\n\
        print(keep[30][0], keep[1] == keep[1] + 0)\n";
    let (out, traces) = same_with_and_without_jit(code);
    assert!(traces >= 5, "only {traces} traces");
    assert_eq!(out.lines().count(), 7, "{out}");
}

#[test]
fn ffi_loops_meeting_another_cdata_type_leave_through_the_type_guard() {
    let code = "local ffi = require('ffi')\n\
        ffi.cdef[[ typedef struct { int32_t x; double y; } A; typedef struct { double y; int32_t x; } B; ]]\n\
        local ia, da = ffi.new('int32_t[10]'), ffi.new('double[10]')\n\
        local z = 0\n\
        for i = 1, 100 do local arr = i < 50 and ia or da arr[i % 10] = i / 4 z = z + arr[i % 10] end\n\
        print(z)\n\
        local a, b = ffi.new('A[4]'), ffi.new('B[4]')\n\
        local w = 0\n\
        for i = 1, 100 do local s = (i % 7 < 3) and a or b s[i % 4].x = i s[i % 4].y = i / 2 w = w + s[(i + 1) % 4].x + s[i % 4].y end\n\
        print(w)\n\
        local t = { ia, da, ffi.new('uint8_t[10]'), ffi.cast('float *', ffi.new('float[10]')) }\n\
        local v = 0\n\
        for i = 1, 200 do local arr = t[i % 4 + 1] arr[i % 10] = i v = v + arr[(i * 3) % 10] end\n\
        print(v)\n";
    let (out, traces) = same_with_and_without_jit(code);
    assert!(traces >= 3, "only {traces} traces");
    assert_eq!(out.lines().count(), 3);
}

/// Places in C memory a generated FFI loop reads and writes: arrays of several element
/// types, members of an array of structs (directly, through a pointer into it, through
/// an array member), a struct's members, and an array that is a double or a float one
/// depending on the iteration.
fn c_place() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "A[i % 16]",
        "A[(i + 5) % 16]",
        "B[(i * 3) % 16]",
        "C[(i + 1) % 16]",
        "P[i % 16].x",
        "P[(i + 1) % 16].n",
        "P[i % 16].f[i % 3]",
        "Q[-1].x",
        "Q[(i % 5) - 2].n",
        "Q.f[2]",
        "S.n",
        "S.arr[(i + 2) % 4]",
        "R[(i + 7) % 16]",
    ])
}

fn ffi_expr() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        2 => var().prop_map(String::from),
        2 => constant(),
        1 => prop::sample::select(vec!["300", "-129", "1e10", "-0.5", "2^31", "65537.75"])
            .prop_map(String::from),
        4 => c_place().prop_map(String::from),
        1 => Just("(P[i % 16].ok and 1 or 0)".to_string()),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        (
            inner.clone(),
            prop::sample::select(vec!["+", "-", "*", "/"]),
            inner,
        )
            .prop_map(|(a, op, b)| format!("({a} {op} {b})"))
    })
    .boxed()
}

fn ffi_stmt() -> BoxedStrategy<String> {
    prop_oneof![
        4 => (c_place(), ffi_expr()).prop_map(|(p, e)| format!("{p} = {e}")),
        3 => (target(), ffi_expr()).prop_map(|(t, e)| format!("{t} = {e}")),
        1 => (ffi_expr(), ffi_expr())
            .prop_map(|(x, y)| format!("P[(i + 3) % 16].ok = {x} < {y}")),
        1 => ffi_expr().prop_map(|e| {
            format!("local e = P[(i + 2) % 16] e.x = e.x + {e} e.n = e.n - 1")
        }),
        1 => (c_place(), ffi_expr(), c_place())
            .prop_map(|(p, e, q)| format!("if {p} > 2 then {q} = {e} end")),
        1 => Just("R = (i % 5 < 2) and D or A".to_string()),
    ]
    .boxed()
}

fn ffi_program() -> impl Strategy<Value = String> {
    (
        constant(),
        constant(),
        (-3i32..3),
        (0i32..40),
        prop::collection::vec(ffi_stmt(), 1..6),
        any::<bool>(),
    )
        .prop_map(|(ka, kb, start, len, body, wrapped)| {
            let body = body.join("\n  ");
            let lp = format!("for i = {start}, {}, 1 do\n  {body}\nend", start + len);
            let setup = format!(
                "local ffi = require('ffi')\n\
                 ffi.cdef[[ typedef struct {{ double x; int32_t n; uint8_t f[3]; bool ok; }} pt;\n\
                   typedef struct {{ int32_t n; double arr[4]; }} box; ]]\n\
                 local A, B, C, D = ffi.new('double[16]'), ffi.new('int16_t[?]', 16), \
                   ffi.new('uint8_t[16]'), ffi.new('float[16]')\n\
                 local P, S = ffi.new('pt[?]', 16), ffi.new('box')\n\
                 local Q, R = ffi.cast('pt *', P) + 8, A\n\
                 local a, b, c, s = {ka}, {kb}, 0, 0\n"
            );
            let report = "local out = { a, b, c, s, S.n }\n\
                 for j = 0, 15 do out[#out + 1] = A[j] + B[j] * 3 + C[j] * 5 + D[j] * 7 \
                   + P[j].x + P[j].n + P[j].f[0] + P[j].f[1] + P[j].f[2] \
                   + (P[j].ok and 1 or 0) end\n\
                 for j = 0, 3 do out[#out + 1] = S.arr[j] end\n\
                 for j = 1, #out do out[j] = tostring(out[j]) end\n\
                 print(table.concat(out, ' '))\n";
            if wrapped {
                // The loop in a function: the cdata are upvalues.
                format!("{setup}local function run()\n{lp}\nend\nrun()\n{report}")
            } else {
                format!("{setup}{lp}\n{report}")
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn compiled_ffi_loops_print_what_the_interpreter_prints(code in ffi_program()) {
        let (plain, _) = run(&code, false);
        prop_assert!(!plain.contains("ERROR"), "{}\n{}", plain, code);
        let (jitted, _) = run(&code, true);
        prop_assert_eq!(&plain, &jitted, "program:\n{}", code);
        let (sided, _) = run_with(&code, Some(", 'hotexit=1'"));
        prop_assert_eq!(plain, sided, "hotexit=1, program:\n{}", code);
    }
}

#[test]
fn most_generated_ffi_loops_are_compiled() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut compiled = 0;
    let total = 60;
    for _ in 0..total {
        let code = ffi_program().new_tree(&mut runner).unwrap().current();
        let (plain, _) = run(&code, false);
        let (jitted, traces) = run(&code, true);
        assert_eq!(plain, jitted, "program:\n{code}");
        compiled += usize::from(traces > 0);
    }
    assert!(
        compiled * 3 > total * 2,
        "only {compiled} of {total} loops compiled"
    );
}

#[test]
fn c_calls_in_loops_compile_and_give_the_interpreters_answers() {
    // int, double and float arguments and results, conversions of numbers to narrower C
    // integers, strings (constant and varying) and char arrays as `const char *`, nil
    // as NULL, errno kept as the interpreter keeps it (close(-1) sets EBADF; abs leaves
    // it alone).
    let code = "local ffi = require('ffi')\n\
        ffi.cdef[[ int abs(int); double sqrt(double); float fabsf(float); int toupper(int); \
          int atoi(const char *); int strcmp(const char *, const char *); int close(int); \
          double ldexp(double, int); ]]\n\
        local C = ffi.C\n\
        local isum, fsum = 0, 0\n\
        for i = 1, 300 do isum = isum + C.abs(500 - i % 1000) fsum = fsum + C.sqrt(i) end\n\
        print(isum, string.format('%.6f', fsum))\n\
        local f, u = 0, 0\n\
        for i = 1, 100 do f = f + C.fabsf(-i * 0.1) u = u + C.toupper(97 + i % 26) + C.abs(i + 0.75) end\n\
        print(string.format('%.4f', f), u)\n\
        local a = 0\n\
        local words = { '12', 'x', '-7', '300' }\n\
        local buf = ffi.new('char[8]', 'abd')\n\
        for i = 1, 100 do a = a + C.atoi(words[i % 4 + 1]) + C.atoi(tostring(i)) + C.strcmp(buf, 'abc') end\n\
        print(a)\n\
        local l = 0\n\
        for i = 1, 100 do l = l + C.ldexp(1.5, i % 10) end\n\
        print(l)\n\
        ffi.errno(0)\n\
        for i = 1, 100 do if i % 2 == 0 then C.close(-1) else C.abs(i) end end\n\
        print(ffi.errno())\n\
        ffi.errno(0)\n\
        for i = 1, 100 do C.abs(i) end\n\
        print(ffi.errno())\n";
    let (out, traces) = same_with_and_without_jit(code);
    assert_eq!(
        out,
        "104850\t3472.556389\n505.0000\t12778\n12775\n15345\n9\n0\n"
    );
    assert!(traces >= 6, "every loop compiles: {traces}");
}

#[test]
fn c_calls_the_recorder_refuses_and_changing_functions_still_give_the_interpreters_answers() {
    // 64-bit integer arguments and results (they box), pointer results, a function
    // value that changes between iterations (its identity guard leaves), C calls in
    // inlined Lua functions and in recursive ones.
    let code = "local ffi = require('ffi')\n\
        ffi.cdef[[ int abs(int); int toupper(int); long long llabs(long long); \
          size_t strlen(const char *); long strtol(const char *, char **, int); \
          char *strchr(const char *, int); ]]\n\
        local C = ffi.C\n\
        local h, n = 0, 0\n\
        local strs = { 'a', 'hello', '', 'moonjet!' }\n\
        for i = 1, 100 do h = h + tonumber(C.llabs(-i)) n = n + tonumber(C.strlen(strs[i % 4 + 1])) + tonumber(C.strlen('abc')) end\n\
        print(h, n)\n\
        local q = 0\n\
        for i = 1, 100 do if C.strchr('abc', 97 + i % 4) ~= nil then q = q + 1 end end\n\
        print(q)\n\
        ffi.errno(0)\n\
        for i = 1, 100 do C.strtol('99999999999999999999999', nil, 10) end\n\
        print(ffi.errno())\n\
        local fs = { C.abs, C.toupper }\n\
        local g = 0\n\
        for i = 1, 100 do local fn = fs[i % 2 + 1] g = g + fn(-i) end\n\
        local fn, g2 = C.abs, 0\n\
        for i = 1, 100 do if i == 60 then fn = C.toupper end g2 = g2 + fn(-i) end\n\
        print(g, g2)\n\
        local function w(x) return C.abs(x) + 1 end\n\
        local function r(k) if k == 0 then return 0 end return C.abs(-k) + r(k - 1) end\n\
        local ws, rs = 0, 0\n\
        for i = 1, 200 do ws = ws + w(-i) end\n\
        for i = 1, 100 do rs = rs + r(5) end\n\
        print(ws, rs)\n";
    let (out, _) = same_with_and_without_jit(code);
    assert_eq!(out, "5050\t650\n75\n34\n12594\t8986\n20300\t1500\n");
}

/// The C library of the runtime's FFI tests (runtime/tests/ffi_lib/testlib.c).
#[path = "../runtime/tests/ffi_lib/testlib.rs"]
mod ffi_testlib;

fn ffi_test_library() -> String {
    ffi_testlib::test_library().to_string_lossy().into_owned()
}

#[test]
fn c_calls_that_call_back_into_lua_leave_the_trace_and_raise_callback_errors() {
    // apply_n calls the callback n times; call_saved calls the one saved before. The
    // callbacks allocate (under GC stress, collections run inside the C call), and one
    // of them fails on a chosen iteration: the error reaches the pcall round the loop,
    // after exactly the iterations the interpreter makes. The last callback reads and
    // writes a local of the loop's frame (an open upvalue) that the loop changes too.
    let code = format!(
        "local ffi = require('ffi')\n\
        ffi.cdef[[ typedef int (*int_fn)(int); int apply_n(int_fn f, int n); \
          void save_fn(int_fn f); int call_saved(int x); int abs(int); ]]\n\
        local lib = ffi.load({lib:?})\n\
        local seen = {{}}\n\
        local fail_at = -1\n\
        local cb = ffi.cast('int_fn', function(x)\n\
          seen[#seen + 1] = {{ x }}\n\
          if x == fail_at then error('callback failed at ' .. x) end\n\
          return x * 2\n\
        end)\n\
        lib.save_fn(cb)\n\
        local s, kept = 0, {{}}\n\
        for i = 1, 100 do kept[i] = {{ i }} s = s + lib.apply_n(cb, 3) + lib.call_saved(i) + lib.abs(-i) end\n\
        print(s, #seen, kept[100][1])\n\
        fail_at = 70\n\
        local n = 0\n\
        local ok, err = pcall(function()\n\
          for i = 1, 100 do n = n + 1 s = s + lib.call_saved(i) end\n\
        end)\n\
        print(ok, err, n, s, #seen)\n\
        local m = 0\n\
        for i = 1, 100 do m = m + lib.abs(-i) end\n\
        print(m)\n\
        local count, log = 0, {{}}\n\
        local up = ffi.cast('int_fn', function(x) count = count + 10 log[#log + 1] = count return x end)\n\
        s = 0\n\
        for i = 1, 100 do\n\
          count = count + 1\n\
          if i % 7 == 0 then s = s + lib.apply_n(up, 2) else s = s + lib.abs(-i) end\n\
          count = count * 2 % 1000003\n\
        end\n\
        print(s, count, #log, log[5], log[#log])\n",
        lib = ffi_test_library()
    );
    let (out, traces) = same_with_and_without_jit(&code);
    assert_eq!(
        out,
        "15750\t400\t100\nfalse\tprog:8: callback failed at 70\t70\t20580\t470\n5050\n\
         4329\t963888\t28\t427395\t370486\n"
    );
    assert!(traces >= 2, "{traces}");
}

#[test]
fn c_calls_in_wrapper_functions_compile_and_leave_after_callbacks() {
    // `local function f(x) return C.f(x) end` called from a loop: the C call is a tail
    // call of an inlined function, recorded with the state after the call in the
    // loop's own frame. A callback during it (which fails once, inside pcall) makes the
    // trace leave there; wrappers keeping no result, bool results, a non-tail C call in
    // a wrapper (not compiled) and a wrapper called from a wrapper (neither).
    let code = format!(
        "local ffi = require('ffi')\n\
        ffi.cdef[[ typedef int (*int_fn)(int); int apply_n(int_fn f, int n); \
          void save_fn(int_fn f); int call_saved(int x); int abs(int); \
          bool is_even(int x); ]]\n\
        local lib = ffi.load({lib:?})\n\
        local function iabs(x) return lib.abs(x) end\n\
        local function saved(x) return lib.call_saved(x) end\n\
        local function even(x) return lib.is_even(x) end\n\
        local function save(f) return lib.save_fn(f) end\n\
        local function plus1(x) local y = lib.abs(x) return y + 1 end\n\
        local function outer(x) return iabs(x) + 1 end\n\
        local seen, fail_at = 0, -1\n\
        local cb = ffi.cast('int_fn', function(x)\n\
          seen = seen + 1\n\
          if x == fail_at then error('callback failed at ' .. x) end\n\
          return x * 3\n\
        end)\n\
        save(cb)\n\
        local s, e = 0, 0\n\
        for i = 1, 200 do\n\
          s = s + iabs(100 - i)\n\
          if even(i) then e = e + 1 end\n\
          if i % 50 == 0 then save(cb) end\n\
        end\n\
        print(s, e)\n\
        local t, n = 0, 0\n\
        for i = 1, 100 do t = t + saved(i) end\n\
        print(t, seen)\n\
        fail_at = 60\n\
        local ok, err = pcall(function() for i = 1, 100 do n = n + 1 t = t + saved(i) end end)\n\
        print(ok, err, n, t, seen)\n\
        local u = 0\n\
        for i = 1, 100 do u = u + plus1(-i) + outer(-i) end\n\
        print(u)\n",
        lib = ffi_test_library()
    );
    let (out, traces) = same_with_and_without_jit(&code);
    assert_eq!(
        out,
        "10000\t100\n15150\t100\nfalse\tprog:13: callback failed at 60\t60\t20460\t160\n10300\n"
    );
    assert!(traces >= 3, "{traces}");
}

#[test]
fn c_calls_with_bool_arguments_and_results() {
    // A bool result is guarded to be the boolean the recording saw; the other one leaves
    // (and grows a side trace). Arguments from booleans and numbers.
    let code = format!(
        "local ffi = require('ffi')\n\
        ffi.cdef[[ bool is_even(int x); bool both(bool a, bool b); ]]\n\
        local lib = ffi.load({lib:?})\n\
        local e, t, ks = 0, 0, {{}}\n\
        for i = 1, 100 do\n\
          local ev = lib.is_even(i)\n\
          if ev then e = e + 1 end\n\
          if lib.both(i % 3 == 0, ev) then t = t + 1 end\n\
          ks[#ks + 1] = lib.is_even(i * 2)\n\
        end\n\
        print(e, t, #ks, ks[1], ks[100])\n\
        local c = 0\n\
        for i = 1, 100 do if lib.is_even(i) and lib.both(i, 0.5) then c = c + 1 end end\n\
        print(c)\n",
        lib = ffi_test_library()
    );
    let (out, traces) = same_with_and_without_jit(&code);
    assert_eq!(out, "50\t16\t100\ttrue\ttrue\n50\n");
    assert!(traces >= 2, "{traces}");
}

#[test]
fn for_loops_near_the_integer_limits_step_without_overflow() {
    // A narrowed loop checks once that stop + step fits in an int and then steps
    // unchecked; loops whose last step would overflow keep a check per step. The same
    // trace is entered again with stops at the very limits, which the one check refuses.
    let code = "\
        local function up(from, to, step)\n\
          local s, n = 0, 0\n\
          for i = from, to, step do s = s + i % 7; n = n + 1 end\n\
          return s, n\n\
        end\n\
        local out = {}\n\
        for r = 1, 30 do\n\
          out[#out + 1] = table.concat({up(2147483000, 2147483646, 1)}, ',')\n\
          out[#out + 1] = table.concat({up(2147483600, 2147483647, 1)}, ',')\n\
          out[#out + 1] = table.concat({up(2147483600, 2147483647, 5)}, ',')\n\
          out[#out + 1] = table.concat({up(-2147483000, -2147483647, -1)}, ',')\n\
          out[#out + 1] = table.concat({up(-2147483600, -2147483648, -3)}, ',')\n\
          out[#out + 1] = table.concat({up(1, 500, r)}, ',')\n\
        end\n\
        print(#out, out[1], out[2], out[3], out[4], out[5], out[6], out[#out])\n";
    let (out, _) = same_with_and_without_jit(code);
    assert!(out.starts_with("180\t"), "{out}");
}

/// Loops calling native functions (library functions) from their traces: results of
/// every count and of changing types, variables of the loop's function changed by Lua
/// code the callee runs (read before and after the call), a callee that grows (moves)
/// the stack, errors raised in callees and caught outside the loop (with `xpcall`
/// handlers and tracebacks), metatables changed by callees, tables written while callees
/// allocate and collect, coroutines resumed by callees, and upvalues and globals changed
/// through them.
const NATIVE_CALL_LOOPS: &str = r#"-- Results of several types and counts.
local s, parts = 0, {}
for i = 1, 60 do
  local m, e = math.frexp(i * 1.5)
  local a, b, c = string.byte("xyz", 1, 3)
  local n = tonumber(i % 3 == 0 and "x" or tostring(i))
  s = s + m + e + a + b + c + (n or -1)
  parts[#parts + 1] = type(n)
end
print(s, table.concat(parts, ",", 1, 9))
-- Captured variables a callback changes, read before and after the call.
local count, seen = 0, 0
local function cmp(x, y) count = count + 1 return x < y end
for i = 1, 60 do
  local before = count
  local arr = { i % 5, 3, 1 }
  table.sort(arr, cmp)
  seen = seen + (count - before) + arr[1]
end
print(count, seen)
local total = 0
for i = 1, 60 do
  total = total * 2 % 1000
  string.gsub("ab", "%w", function() total = total + i end)
  total = total + 1
end
print(total)
-- The stack grows (moves) inside the callee.
local function deep(n) if n == 0 then return 0 end return 1 + deep(n - 1) end
local depth = 0
for i = 1, 60 do
  string.gsub("a", "a", function() depth = depth + deep(200 + i * 10) end)
  depth = depth + 1
end
print(depth)
-- Errors raised by the callee, caught outside the loop; tracebacks through xpcall.
for k = 1, 3 do
  local ok, err = pcall(function()
    for i = 1, 100 do
      local x = tostring(i)
      if i == 40 + k then x = string.rep(x, "no") end
    end
  end)
  print(ok, err)
end
print(xpcall(function()
  for i = 1, 100 do if i == 77 then error("boom " .. i) end end
end, function(m) return "handled: " .. m end))
local ok, tb = xpcall(function()
  for i = 1, 100 do local _ = tostring(i) if i == 90 then string.rep() end end
end, debug.traceback)
print(ok, (tb:gsub("\n.*", "")), select(2, tb:gsub("\n", "")) > 2)
-- Metatables and environments changed by callees.
local obj, hits = {}, 0
for i = 1, 60 do
  if i == 30 then setmetatable(obj, { __index = function() hits = hits + 1 return 1 end }) end
  local v = rawget(obj, "x")
  hits = hits + (v or 0)
end
print(hits)
local t = setmetatable({}, {})
local cnt = 0
for i = 1, 60 do
  local mt = getmetatable(t)
  if i == 20 then setmetatable(t, { __len = function() return 99 end }) end
  cnt = cnt + #t + (mt and 1 or 0)
end
print(cnt)
-- Tables written while callees allocate (the collector runs in the loop).
local big = {}
for i = 1, 3000 do
  big[i] = string.rep("x", i % 50) .. tostring(i)
  if i % 1000 == 0 then collectgarbage() end
end
local len = 0
for i = 1, #big do len = len + #big[i] end
print(#big, len)
-- Coroutines resumed by callees; yields refused inside traces are not attempted.
local gen = coroutine.wrap(function() for i = 1, 1000 do coroutine.yield(i) end end)
local gs = 0
for i = 1, 100 do gs = gs + gen() end
print(gs)
local co = coroutine.create(function()
  local acc = 0
  for i = 1, 100 do acc = acc + coroutine.yield(i) end
  return acc
end)
local res, v = 0, 0
for i = 1, 101 do local ok; ok, v = coroutine.resume(co, i) res = res + (v or 0) end
print(res, coroutine.status(co))
-- Upvalues and globals changed by callees.
G = 0
local up = 0
local function setg() G = G + 1 up = up + 2 end
local function f() for i = 1, 60 do pcall(setg) local _ = tostring(G + up) end end
f()
for i = 1, 60 do string.gsub("a", "a", setg) G = G + 1 end
print(G, up)
"#;

#[test]
fn native_calls_in_traces_match_the_interpreter() {
    let (out, traces) = same_with_and_without_jit(NATIVE_CALL_LOOPS);
    assert_eq!(out.lines().count(), 15, "{out}");
    assert!(traces >= 8, "only {traces} traces");
}

/// Calls of closures a loop keeps making of one prototype (function literals passed to a
/// higher-order function): once a prototype has several closures, calls of it are
/// specialised to the prototype, and each closure's own upvalues and environment are
/// read at run time.
const POLYMORPHIC_CLOSURES: &str = r#"local function fold(t, f, z) for i = 1, #t do z = f(z, t[i]) end return z end
local data = {}
for i = 1, 50 do data[i] = i end
local out = {}
for r = 1, 40 do
  local k = r % 3
  out[#out + 1] = fold(data, function(a, b) return a + b * k + r end, 0)
end
local fs = {}
for r = 1, 5 do
  local c = r
  fs[r] = function(a, b) c = c + 1 return a + b + c end
end
for rep = 1, 30 do
  for j = 1, 5 do out[#out + 1] = fold(data, fs[j], rep) end
end
local envs = {}
for e = 1, 4 do
  local f = loadstring("return function(a, b) return a + b + bonus end")()
  setfenv(f, { bonus = e * 100 })
  envs[e] = f
end
for rep = 1, 20 do
  for e = 1, 4 do out[#out + 1] = fold(data, envs[e], 0) end
end
print(#out, out[1], out[40], out[#out], table.concat(out, ",", 1, 12))
"#;

#[test]
fn calls_of_many_closures_of_one_prototype_match_the_interpreter() {
    let (out, _) = same_with_and_without_jit(POLYMORPHIC_CLOSURES);
    assert_eq!(
        out,
        "270\t1325\t3275\t21275\t1325,2650,150,1475,2800,300,1625,2950,450,1775,3100,600\n"
    );
}

/// Methods found through metatables' `__index` tables (a class, and a class inheriting
/// from another), while methods are replaced in the class, shadowed in an instance, the
/// metatable swapped for one with an `__index` function, and a missing key appears.
const INHERITED_LOOKUPS: &str = r#"local Base = {}
Base.__index = Base
function Base.new(x) return setmetatable({ x = x }, Base) end
function Base:get() return self.x end
function Base:kind() return "base" end
local Derived = setmetatable({}, { __index = Base })
Derived.__index = Derived
function Derived.new(x) return setmetatable({ x = x }, Derived) end
function Derived:kind() return "derived" end
local objs = {}
for i = 1, 40 do objs[i] = (i % 3 == 0) and Derived.new(i) or Base.new(i) end
local s, kinds = 0, {}
for r = 1, 20 do
  for i = 1, #objs do
    local o = objs[i]
    s = s + o:get()
    kinds[o:kind()] = (kinds[o:kind()] or 0) + 1
    if r == 10 and i == 20 then function Base:get() return self.x * 2 end end
    if r == 12 and i == 5 then objs[5].get = function() return 1000 end end
    if r == 14 and i == 7 then Derived.get = function(self) return -self.x end end
    if r == 16 and i == 9 then setmetatable(objs[9], { __index = function(t, k) return function() return 7 end end }) end
    if r == 18 and i == 11 then objs[11].missing = nil end
  end
end
print(s, kinds.base, kinds.derived)
local plain = { a = 1 }
local n = 0
for i = 1, 100 do
  if plain.b == nil then n = n + 1 end
  if i == 50 then plain.b = 2 end
end
print(n)
"#;

#[test]
fn methods_found_through_index_tables_match_the_interpreter() {
    let (out, traces) = same_with_and_without_jit(INHERITED_LOOKUPS);
    assert_eq!(out, "27488\t540\t256\n50\n");
    assert!(traces >= 2, "only {traces} traces");
}

/// Native functions tail-called by Lua functions inlined in the loop (`return
/// tostring(x)`): called from the loop's frame as the interpreter's tail call leaves it,
/// with one result or several, and errors named as luajit names them.
const NATIVE_TAIL_CALLS: &str = r#"local function str(x) return tostring(x) end
local function fmt(a, b) return string.format("%d-%d", a, b) end
local function two(s) return string.byte(s, 1, 2) end
local function rep(x) return string.rep(x) end
local t, n = {}, 0
for i = 1, 200 do
  t[#t + 1] = str(i) .. fmt(i, i * 2)
  local a, b = two("xy")
  n = n + a + b + #str(nil)
end
print(#t, t[200], n)
for k = 1, 3 do
  print(pcall(function() for i = 1, 100 do local s = str(i) if i == 50 + k then rep(nil) end end end))
end
local depth = 0
local function deep(m) if m == 0 then return 0 end return 1 + deep(m - 1) end
local function viagsub(i) return string.gsub("a", "a", function() depth = depth + deep(300 + i) end) end
for i = 1, 100 do viagsub(i) end
print(depth)
"#;

#[test]
fn native_tail_calls_from_inlined_functions_match_the_interpreter() {
    let (out, traces) = same_with_and_without_jit(NATIVE_TAIL_CALLS);
    assert_eq!(out.lines().count(), 5, "{out}");
    assert!(out.contains("bad argument #1 to 'rep'"), "{out}");
    assert!(traces >= 1, "no trace");
}
