//! Bad input ends in a Lua error, never a crash: deep recursion in Lua and through
//! Rust (callbacks, resume, metamethods called by natives), huge allocations and
//! pathological patterns. Each case runs `pcall` and checks the message.

use moonjet_runtime::vm::State;

/// Run `code` (which must `return` a string) on a thread with the command's 8 MiB stack.
fn eval(code: &'static str) -> String {
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let mut st = State::new();
            assert!(
                st.load(code.as_bytes(), b"=limits", b"t").unwrap(),
                "syntax error in test"
            );
            if let Err(e) = st.pcall(0, 1) {
                return format!("ERROR: {}", String::from_utf8_lossy(&st.display_value(e)));
            }
            let v = unsafe { *st.top().sub(1) };
            String::from_utf8_lossy(&st.display_value(v)).into_owned()
        })
        .unwrap()
        .join()
        .unwrap()
}

fn pcall_message(body: &'static str) -> String {
    let code: &'static str = Box::leak(
        format!(
            "local ok, e = pcall(function() {body} end) return tostring(ok) .. ' ' .. tostring(e)"
        )
        .into_boxed_str(),
    );
    eval(code)
}

#[test]
fn lua_recursion_ends_in_stack_overflow() {
    let m = pcall_message("local function f() return 1 + f() end return f()");
    assert!(
        m.starts_with("false ") && m.ends_with("stack overflow"),
        "{m}"
    );
}

#[test]
fn every_stack_overflow_leaves_room_for_its_error_handler() {
    // The handler runs where the error happened, on a full stack: each time (not only the
    // first) it gets the slots kept past the limit, and gives them back.
    let m = eval(
        "local function f() return 1 + f() end\n\
         local out = {}\n\
         for i = 1, 3 do\n\
           local ok, e = xpcall(f, function(m) return 'handled: ' .. m .. ' ' .. #debug.traceback() end)\n\
           out[i] = tostring(ok) .. ' ' .. e:gsub(' %d+$', '')\n\
         end\n\
         return table.concat(out, '|')",
    );
    let one = "false handled: limits:1: stack overflow";
    assert_eq!(m, format!("{one}|{one}|{one}"));
}

#[test]
fn deep_tail_recursion_runs_in_constant_stack() {
    let m = eval("local function f(n) if n == 0 then return 'done' end return f(n - 1) end return f(1000000)");
    assert_eq!(m, "done");
}

#[test]
fn nested_gsub_callbacks_end_in_c_stack_overflow() {
    let m = pcall_message(
        "local function f(s) return (string.gsub(s, '.', function(c) return f(c) end)) end return f('x')",
    );
    assert!(
        m.starts_with("false ") && m.ends_with("C stack overflow"),
        "{m}"
    );
}

#[test]
fn nested_resume_ends_in_c_stack_overflow() {
    let m = pcall_message(
        "local function r() return coroutine.wrap(function() return r() end)() end return r()",
    );
    assert!(
        m.starts_with("false ") && m.contains("C stack overflow"),
        "{m}"
    );
}

#[test]
fn recursive_tostring_metamethod_ends_in_c_stack_overflow() {
    let m = pcall_message(
        "local t = setmetatable({}, {__tostring = function(x) return tostring(x) end}) return tostring(t)",
    );
    assert!(
        m.starts_with("false ") && m.ends_with("C stack overflow"),
        "{m}"
    );
}

#[test]
fn sort_comparator_recursion_and_errors_are_lua_errors() {
    let m = pcall_message("table.sort({3, 2, 1}, function(a, b) error('cmp') end)");
    assert!(m.starts_with("false ") && m.ends_with("cmp"), "{m}");
    let m = pcall_message(
        "local function s() table.sort({2, 1}, function(a, b) s() return a < b end) end s()",
    );
    assert!(
        m.starts_with("false ") && m.ends_with("C stack overflow"),
        "{m}"
    );
}

#[test]
fn huge_string_rep_is_not_enough_memory() {
    // luajit caps strings just below 2 GiB and says so before allocating anything
    // (counts beyond 32 bits wrap as luajit's do, so 2^40 would mean 0).
    let m = pcall_message("return string.rep('x', 2^31 - 1)");
    assert_eq!(m, "false not enough memory");
    let m = pcall_message("return string.rep('abc', 2^30, ',')");
    assert_eq!(m, "false not enough memory");
}

#[test]
fn pathological_patterns_end() {
    // Deeply nested optional items: either a result or luajit's "pattern too complex".
    let m = pcall_message("return string.find(string.rep('a', 5000), string.rep('a?', 5000) .. string.rep('a', 5000))");
    assert!(m == "true 1" || m.ends_with("pattern too complex"), "{m}");
    let m =
        pcall_message("return string.match(string.rep('(', 40) .. 'x', string.rep('(%()', 40))");
    assert!(m.ends_with("too many captures"), "{m}");
    let m = pcall_message("return string.find('abc', '[a')");
    assert!(m.ends_with("malformed pattern (missing ']')"), "{m}");
}

#[test]
fn index_chains_that_loop_are_errors() {
    let m = pcall_message("local t = {} setmetatable(t, {__index = t}) return t.x");
    assert!(m.ends_with("loop in gettable"), "{m}");
    let m = pcall_message("local t = {} setmetatable(t, {__newindex = t}) t.x = 1");
    assert!(m.ends_with("loop in settable"), "{m}");
}

#[test]
fn errors_in_error_handlers_are_reported() {
    let m = eval("return select(2, xpcall(function() error('a') end, function(m) error('b') end))");
    assert_eq!(m, "error in error handling");
}

#[test]
fn memory_cap_is_a_lua_error_and_the_state_stays_usable() {
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            let mut st = State::new();
            let used = st.heap.total_bytes();
            st.heap.set_limit(used + (16 << 20));
            let code =
                b"local ok, e = pcall(function() local t = {} for i = 1, 1e8 do t[i] = {i} end end)
                         t_ok, t_err = ok, e";
            st.exec(code, b"=cap").unwrap();
            let ok = st.get_global(b"t_ok").unwrap();
            let err = st.get_global(b"t_err").unwrap();
            assert!(ok.is_false());
            assert_eq!(
                String::from_utf8_lossy(&st.display_value(err)),
                "not enough memory"
            );
            // The garbage is collectable and the state runs code again.
            st.exec(
                b"collectgarbage() local s = 0 for i = 1, 1000 do s = s + #tostring(i) end r = s",
                b"=after",
            )
            .unwrap();
            let r = st.get_global(b"r").unwrap();
            assert_eq!(r.num(), 2893.0);
            let s = st.exec(
                b"local parts = {} for i = 1, 1e8 do parts[i] = ('x'):rep(100) .. i end",
                b"=strings",
            );
            let e = s.expect_err("must run out of memory");
            assert_eq!(
                String::from_utf8_lossy(&st.display_value(e)),
                "not enough memory"
            );
        })
        .unwrap()
        .join()
        .unwrap();
}

/// A native that asks the running code to stop, as the command's Ctrl-C handler does.
fn request_interrupt(st: &mut State) -> moonjet_runtime::vm::LuaResult<u32> {
    st.request_interrupt();
    Ok(0)
}

#[test]
fn an_interrupt_stops_endless_loops_with_a_lua_error() {
    let mut st = State::new();
    st.push_native(request_interrupt, 0).unwrap();
    let f = unsafe { *st.top().sub(1) };
    st.pop(1);
    st.set_global(b"interrupt", f).unwrap();
    // Loops of every kind, and code called back from a native (sort's comparator).
    for code in [
        "interrupt() while true do end",
        "interrupt() repeat until false",
        "interrupt() for i = 1, math.huge do end",
        "interrupt() for k in function() return 1 end do end",
        "interrupt() ::top:: goto top",
        "interrupt() table.sort({3, 2, 1}, function(a, b) while true do end end)",
    ] {
        let r = st.exec(code.as_bytes(), b"=loop");
        let msg = String::from_utf8_lossy(&st.display_value(r.unwrap_err())).into_owned();
        assert_eq!(msg, "loop:1: interrupted!", "{code}");
        // The request is used up: the next chunk runs to its end.
        st.exec(
            b"local n = 0 for i = 1, 100 do n = n + i end assert(n == 5050)",
            b"=after",
        )
        .unwrap();
    }
    // A pending request is caught by pcall like any error, and hooks keep working.
    let r = st.exec(
        b"local ok, e = pcall(function() interrupt() while true do end end) \
          assert(not ok and e == 'loop:1: interrupted!', e) \
          local n = 0 debug.sethook(function() n = n + 1 end, '', 1) \
          for i = 1, 10 do end debug.sethook() assert(n > 10, n)",
        b"=loop",
    );
    assert!(r.is_ok());
}
