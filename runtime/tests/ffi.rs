//! The FFI where moonjet goes beyond what luajit checks (luajit's own behaviour is
//! compared in tests/lua/ffi_*.lua): bad input is a Lua error, never a crash; finalizers
//! run under the collector's stress mode; 64-bit integer edge cases hold on every host.

use moonjet_runtime::vm::State;

/// Runs `code` (a chunk that returns one value) and gives that value as text, or
/// "ERROR: msg".
fn eval_in(st: &mut State, code: &str) -> String {
    assert!(
        st.load(code.as_bytes(), b"=ffi", b"t").unwrap(),
        "syntax error in test"
    );
    if let Err(e) = st.pcall(0, 1) {
        return format!("ERROR: {}", String::from_utf8_lossy(&st.display_value(e)));
    }
    // SAFETY: the call left its one result on top.
    let v = unsafe { *st.top().sub(1) };
    st.pop(1);
    let s = moonjet_runtime::vm::tostring(st, v).unwrap();
    String::from_utf8_lossy(&st.display_value(s)).into_owned()
}

fn eval(code: &str) -> String {
    let mut st = State::with_stress(false);
    eval_in(&mut st, &format!("local ffi = require 'ffi' {code}"))
}

#[test]
fn null_pointers_are_errors_not_crashes() {
    for (code, msg) in [
        (
            "local x = ffi.string(nil) return x",
            "ffi:1: bad argument #1 to 'string' (NULL pointer)",
        ),
        (
            "local x = ffi.string(ffi.new('char *')) return x",
            "ffi:1: bad argument #1 to 'string' (NULL pointer)",
        ),
        (
            "local x = ffi.new('int *')[0] return x",
            "ffi:1: attempt to index a NULL pointer",
        ),
        (
            "local p = ffi.new('struct { int x; } *') local x = p.x return x",
            "ffi:1: attempt to index a NULL pointer",
        ),
        (
            "ffi.copy(ffi.new('char *'), 'abc') return 1",
            "ffi:1: bad argument #1 to 'copy' (NULL pointer)",
        ),
        (
            "ffi.fill(ffi.new('char *'), 3) return 1",
            "ffi:1: bad argument #1 to 'fill' (NULL pointer)",
        ),
    ] {
        assert_eq!(eval(code), format!("ERROR: {msg}"), "{code}");
    }
    // A NULL pointer with a length of zero is an empty string, as in luajit.
    assert_eq!(
        eval("return ffi.string(ffi.new('char *'), 0) == ''"),
        "true"
    );
}

#[test]
fn sizes_out_of_range_are_errors() {
    for (code, msg) in [
        (
            "local x = ffi.new('int[?]', 2^31) return x",
            "bad argument #1 to 'new' (size of C type is unknown or too large)",
        ),
        (
            "local x = ffi.new('int[?]', -1) return x",
            "bad argument #1 to 'new' (size of C type is unknown or too large)",
        ),
        (
            "local x = ffi.new('struct { int n; double d[?]; }', 2^30) return x",
            "bad argument #1 to 'new' (size of C type is unknown or too large)",
        ),
        (
            "local x = ffi.new('int[?]') return x",
            "bad argument #2 to 'new' (value expected)",
        ),
        (
            "local x = ffi.copy(ffi.new('char[1]'), 'a', -1) return x",
            "bad argument #3 to 'copy' (size out of range)",
        ),
    ] {
        let got = eval(code);
        assert!(
            got.starts_with("ERROR: ") && got.ends_with(msg),
            "{code}: {got}"
        );
    }
}

/// A `$` count out of `int32_t` range is INT32_MIN, as luajit converts it: an error,
/// never a count silently truncated to its low 32 bits (`2^32 + 4` was `int [4]`).
#[test]
fn type_parameter_counts_out_of_range_are_errors() {
    for code in [
        "local ok, e = pcall(ffi.typeof, 'int[$]', 2^40) return e",
        "local ok, e = pcall(ffi.typeof, 'int[$]', 2^32 + 4) return e",
        "local ok, e = pcall(ffi.typeof, 'int[$]', 0/0) return e",
    ] {
        assert_eq!(
            eval(code),
            "size of C type is unknown or too large",
            "{code}"
        );
    }
    assert_eq!(eval("return ffi.sizeof(ffi.typeof('int[$]', 7))"), "28");
}

#[test]
fn malformed_declarations_are_errors() {
    for (code, msg) in [
        ("ffi.cdef('int x') return 1", "';' expected near '<eof>'"),
        ("ffi.cdef('struct { int x; ') return 1", "expected"),
        (
            "ffi.cdef('typedef foo bar;') return 1",
            "declaration specifier expected near 'foo'",
        ),
        (
            "local t = ffi.typeof('int[$]', 1, 2) return t",
            "wrong number of type parameters",
        ),
        ("local t = ffi.typeof(string.rep('(', 100000)) return t", ""),
        (
            "local t = ffi.typeof(string.rep('int ', 100000)) return t",
            "",
        ),
    ] {
        let got = eval(code);
        assert!(
            got.starts_with("ERROR: ") && got.contains(msg),
            "{code}: {got}"
        );
    }
}

#[test]
fn int64_edge_cases() {
    for (code, want) in [
        (
            "return (-9223372036854775807LL - 1) / -1",
            "-9223372036854775808LL",
        ),
        ("return (-9223372036854775807LL - 1) % -1", "0LL"),
        ("return 5LL / 0", "-9223372036854775808LL"),
        ("return 5LL % 0", "-9223372036854775808LL"),
        ("return 5ULL / 0", "9223372036854775808ULL"),
        ("return 9223372036854775807LL + 1", "-9223372036854775808LL"),
        ("return 0ULL - 1", "18446744073709551615ULL"),
        ("return -7LL % 3", "-1LL"),
        ("return 2LL ^ 63", "-9223372036854775808LL"),
        ("return 0LL ^ -1", "9223372036854775807LL"),
        ("return 3LL ^ -1", "0LL"),
        // Doubles to uint64_t as luajit's x86-64 build converts them, on any host.
        ("return ffi.new('uint64_t', -1)", "9223372036854775808ULL"),
        (
            "return ffi.new('uint64_t', 2^63 + 2048)",
            "9223372036854777856ULL",
        ),
        ("return ffi.new('int64_t', 0/0)", "-9223372036854775808LL"),
        (
            "local a = ffi.new('int32_t[1]', 2^40) return a[0]",
            "-2147483648",
        ),
        (
            "local a = ffi.new('uint32_t[1]', -1) return a[0]",
            "4294967295",
        ),
        ("return -1LL < 1ULL", "false"),
        ("return 1LL == 1", "true"),
    ] {
        assert_eq!(eval(code), want, "{code}");
    }
}

/// Finalizers of `ffi.gc` and of `__gc` metatypes run once each, also when the
/// collector runs at every allocation; a removed finalizer never runs.
#[test]
fn finalizers_run_under_gc_stress() {
    let mut st = State::with_stress(true);
    let code = r#"
        local ffi = require 'ffi'
        local ran = {}
        local res = ffi.metatype('struct { int id; }', { __gc = function(r) ran[#ran + 1] = 'gc' .. r.id end })
        for i = 1, 20 do
            local x = ffi.gc(ffi.new('int[1]', i), function(c) ran[#ran + 1] = 'fin' .. c[0] end)
            if i % 4 == 0 then ffi.gc(x, nil) end
            local r = res(i)
        end
        collectgarbage()
        collectgarbage()
        table.sort(ran)
        return #ran .. ' ' .. table.concat(ran, ',', 1, 3)
    "#;
    assert_eq!(eval_in(&mut st, code), "35 fin1,fin10,fin11");
}

/// cdata constants and values survive collections at every allocation while they are
/// used (boxed results, references, pointer arithmetic, table keys).
#[test]
fn cdata_values_survive_gc_stress() {
    let mut st = State::with_stress(true);
    let code = r#"
        local ffi = require 'ffi'
        local s = ffi.new('struct { int64_t q; int a[4]; struct { double d; } inner; }')
        local t = {}
        local sum = 0LL
        for i = 1, 50 do
            s.q = s.q + i
            s.a[i % 4] = i
            s.inner.d = i / 2
            local p = s.a + (i % 4)
            t[p] = i
            sum = sum + s.q + p[0] + s.inner.d
        end
        return tostring(sum) .. ' ' .. tostring(s.q)
    "#;
    assert_eq!(eval_in(&mut st, code), "24000LL 1275LL");
}

#[test]
fn the_c_call_function_rejects_what_is_not_a_c_function() {
    // A callback can reach the function that makes C calls (debug.getinfo of the
    // frame below it) and call it with anything: errors, not crashes.
    let got = eval(
        "ffi.cdef'void qsort(void *, size_t, size_t, int (*)(const void *, const void *));'
         local caller
         local a = ffi.new('int[2]', 2, 1)
         ffi.C.qsort(a, 2, 4, function() caller = debug.getinfo(2, 'f').func return 0 end)
         local r = {}
         for _, v in ipairs({ 1, ffi.new('int8_t', 1), ffi.new('int[4]') }) do
           local ok, err = pcall(caller, v)
           r[#r + 1] = tostring(ok)
         end
         local ok, err = pcall(caller)
         return table.concat(r, ',') .. ' ' .. tostring(ok) .. ' ' .. err",
    );
    assert_eq!(
        got,
        "false,false,false false bad argument #1 to '?' (cdata expected, got no value)"
    );
}
