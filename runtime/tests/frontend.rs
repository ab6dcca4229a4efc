//! The front end against luajit 2.1: listings byte for byte (golden files produced by
//! `luajit -bl`), every file of the conformance suite and the benchmarks compiling, and
//! syntax errors word for word (the table below was produced by running luajit).

use moonjet_runtime::{bclist, parse};
use std::path::Path;

mod common;
use common::{corpus_files, shared};

fn compile(path: &Path) -> Result<Vec<u8>, String> {
    let src = std::fs::read(path).expect("read source");
    let name = format!("@{}", path.file_name().unwrap().to_string_lossy());
    parse::parse(&src, name.as_bytes())
        .map(|pt| bclist::list(&pt))
        .map_err(|e| e.msg)
}

#[test]
fn listings_match_luajit_golden_files() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut checked = 0;
    for entry in std::fs::read_dir(&golden).unwrap() {
        let g = entry.unwrap().path();
        let stem = g.file_stem().unwrap().to_string_lossy().into_owned();
        let (group, rel) = stem.split_once("__").unwrap();
        let src = match group {
            "bench" => shared().join("bench/luajit").join(format!("{rel}.lua")),
            "conf" => shared()
                .join("conformance/luajit-tests")
                .join(format!("{}.lua", rel.replace("__", "/"))),
            _ => panic!("unknown golden group {group}"),
        };
        let want = std::fs::read(&g).unwrap();
        let got = compile(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        if got != want {
            let (got, want) = (
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
            );
            let first = got.lines().zip(want.lines()).position(|(a, b)| a != b);
            panic!(
                "{}: listing differs at line {first:?}\n--- moonjet\n{}\n--- luajit\n{}",
                src.display(),
                got.lines().nth(first.unwrap_or(0)).unwrap_or(""),
                want.lines().nth(first.unwrap_or(0)).unwrap_or("")
            );
        }
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} golden files");
}

#[test]
fn every_conformance_and_benchmark_file_compiles() {
    let files = corpus_files();
    assert!(files.len() > 150, "found only {} files", files.len());
    for f in &files {
        let r = compile(f);
        if f.ends_with("lang/goto.lua") {
            // luajit rejects this file as a whole too (its test runner compiles it piecewise).
            assert_eq!(
                r.unwrap_err(),
                "goto.lua:57: <goto a> jumps into the scope of local 'y'"
            );
        } else if let Err(e) = r {
            panic!("{}: {e}", f.display());
        }
    }
}

/// (chunk, luajit's message for `loadstring(chunk, "=t")`, or "nil" when it compiles).
const SYNTAX_ERRORS: &[(&str, &str)] = &[
    ("x = ", "t:1: unexpected symbol near '<eof>'"),
    ("x = = 1", "t:1: unexpected symbol near '='"),
    ("local = 1", "t:1: '<name>' expected near '='"),
    ("local 1 = 2", "t:1: '<name>' expected near '1'"),
    ("f(", "t:1: unexpected symbol near '<eof>'"),
    ("f(1,", "t:1: unexpected symbol near '<eof>'"),
    ("x = {1, 2", "t:1: '}' expected near '<eof>'"),
    ("x = {", "t:1: unexpected symbol near '<eof>'"),
    ("if x then", "t:1: 'end' expected near '<eof>'"),
    ("if x then else", "t:1: 'end' expected near '<eof>'"),
    ("while true do", "t:1: 'end' expected near '<eof>'"),
    ("for i = 1 do end", "t:1: ',' expected near 'do'"),
    ("for i do end", "t:1: '=' or 'in' expected near 'do'"),
    ("for 1 = 1, 2 do end", "t:1: '<name>' expected near '1'"),
    ("function f(", "t:1: <name> or '...' expected near '<eof>'"),
    (
        "function f(a,) end",
        "t:1: <name> or '...' expected near ')'",
    ),
    ("function (a) end", "t:1: '<name>' expected near '('"),
    ("return return", "t:1: unexpected symbol near 'return'"),
    ("break", "t:1: no loop to break"),
    ("x = 1 break", "t:1: no loop to break"),
    ("goto nowhere", "t:1: undefined label 'nowhere'"),
    ("do goto l end ::l:: ::l::", "t:1: duplicate label 'l'"),
    ("::a:: ::a::", "t:1: duplicate label 'a'"),
    ("local x <const> = 1", "t:1: unexpected symbol near '<'"),
    ("x = 3x", "t:1: malformed number near '3x'"),
    ("x = 0x", "t:1: malformed number near '0x'"),
    ("x = 1e", "t:1: malformed number near '1e'"),
    ("x = 1e+", "t:1: malformed number near '1e+'"),
    ("x = .", "t:1: unexpected symbol near '.'"),
    ("x = 'abc", "t:1: unfinished string near '<eof>'"),
    ("x = \"abc\ny\"", "t:1: unfinished string near '\"abc'"),
    ("x = [[abc", "t:1: unfinished long string near '<eof>'"),
    ("--[[ abc", "t:1: unfinished long comment near '<eof>'"),
    ("x = '\\q'", "t:1: invalid escape sequence near '''"),
    ("x = '\\300'", "t:1: invalid escape sequence near '''"),
    ("x = '\\xZZ'", "t:1: invalid escape sequence near '''"),
    ("x = [=[ ]]", "t:1: unfinished long string near '<eof>'"),
    ("x = [= ", "t:1: invalid long string delimiter near '[='"),
    ("x = 12U", "t:1: malformed number near '12U'"),
    ("x = 1.5LL", "t:1: malformed number near '1.5LL'"),
    ("x = ...", "nil"),
    (
        "function f() x = ... end",
        "t:1: cannot use '...' outside a vararg function near '...'",
    ),
    ("a.b:c = 1", "t:1: function arguments expected near '='"),
    ("f() = 1", "t:1: unexpected symbol near '='"),
    ("a, f() = 1, 2", "t:1: syntax error near '='"),
    ("(a) = 1", "t:1: syntax error near '='"),
    ("x = a..", "t:1: unexpected symbol near '<eof>'"),
    ("x = #", "t:1: unexpected symbol near '<eof>'"),
    ("x = not", "t:1: unexpected symbol near '<eof>'"),
    ("x = (1", "t:1: ')' expected near '<eof>'"),
    ("x = a[1", "t:1: ']' expected near '<eof>'"),
    ("x = a.1", "t:1: unexpected symbol near '.1'"),
    ("x = a:b", "t:1: function arguments expected near '<eof>'"),
    ("x = a:b.c()", "t:1: function arguments expected near '.'"),
    (
        "f\n(1)",
        "t:2: ambiguous syntax (function call x new statement) near '('",
    ),
    ("x = function end", "t:1: '(' expected near 'end'"),
    ("local function end", "t:1: '<name>' expected near 'end'"),
    ("local function f", "t:1: '(' expected near '<eof>'"),
    (
        "for k, v in pairs(t) do",
        "t:1: 'end' expected near '<eof>'",
    ),
    ("repeat x = 1", "t:1: 'until' expected near '<eof>'"),
    ("repeat until", "t:1: unexpected symbol near '<eof>'"),
    (
        "if x then elseif then end",
        "t:1: unexpected symbol near 'then'",
    ),
    ("x = {[1] 2}", "t:1: '=' expected near '2'"),
    ("x = {a = }", "t:1: unexpected symbol near '}'"),
    ("t = {...}", "nil"),
    ("return 1,", "t:1: unexpected symbol near '<eof>'"),
    ("return 1 2", "t:1: '<eof>' expected near '2'"),
    ("x = 1 + + 2", "t:1: unexpected symbol near '+'"),
    ("x = y z", "t:1: '=' expected near '<eof>'"),
    ("a.b = c d", "t:1: '=' expected near '<eof>'"),
    (";", "t:1: unexpected symbol near ';'"),
    ("x = 1;;", "t:1: unexpected symbol near ';'"),
    ("local a, = 1", "t:1: '<name>' expected near '='"),
    ("x = }", "t:1: unexpected symbol near '}'"),
    ("else", "t:1: '<eof>' expected near 'else'"),
    ("end", "t:1: '<eof>' expected near 'end'"),
    ("until x", "t:1: '<eof>' expected near 'until'"),
    (
        "x = \"\\u{110000}\"",
        "t:1: invalid escape sequence near '\"'",
    ),
    ("x = '\\u{zz}'", "t:1: invalid escape sequence near '''"),
    ("x = '\\u{'", "t:1: invalid escape sequence near '''"),
    ("goto = 1", "nil"),
    ("local goto = 1 return goto", "nil"),
    ("x = 0b101", "nil"),
];

#[test]
fn syntax_errors_read_like_luajit() {
    let mut wrong = vec![];
    for (chunk, want) in SYNTAX_ERRORS {
        let got = match parse::parse(chunk.as_bytes(), b"=t") {
            Ok(_) => "nil".to_string(),
            Err(e) => e.msg,
        };
        if got != *want {
            wrong.push(format!("{chunk:?}: got {got:?}, luajit says {want:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        SYNTAX_ERRORS.len(),
        wrong.join("\n")
    );
}

#[test]
fn deep_nesting_ends_in_the_syntax_level_error_without_exhausting_the_stack() {
    // Runs on a test thread's default stack (2 MiB), in debug builds too.
    let n = 300;
    let cases = [
        format!("x = {}1{}", "(".repeat(n), ")".repeat(n)),
        format!("x = {}{}", "{".repeat(n), "}".repeat(n)),
        format!(
            "x = {}1 end",
            "function() return ".repeat(n / 2) + &" end".repeat(n / 2 - 1)
        ),
        format!("x = {}a", "a..".repeat(n)),
        format!("{}{}", "do ".repeat(n), " end".repeat(n)),
        format!("x = {}1", "not ".repeat(n)),
        format!("x = {}1", "- ".repeat(n)),
        format!("x = {}1", "a[".repeat(n) + &"]".repeat(n)),
        format!(
            "if x then {} end",
            "if x then ".repeat(n) + &"end ".repeat(n)
        ),
    ];
    for chunk in &cases {
        let err = parse::parse(chunk.as_bytes(), b"=deep").expect_err(&chunk[..40]);
        assert_eq!(
            err.msg,
            "deep:1: chunk has too many syntax levels",
            "{}",
            &chunk[..40]
        );
    }
    // Nested calls run out of registers first, as in luajit.
    let calls = format!("x = {}", "f(".repeat(n) + &")".repeat(n));
    let err = parse::parse(calls.as_bytes(), b"=deep").unwrap_err();
    assert_eq!(
        err.msg,
        "deep:1: function or expression too complex near '('"
    );
    // Long but flat programs are fine.
    let flat = format!("x = {}1", "1+".repeat(100_000));
    assert!(parse::parse(flat.as_bytes(), b"=flat").is_ok());
    let wide = format!("local t = {{{}}}", "1,".repeat(70_000));
    assert!(parse::parse(wide.as_bytes(), b"=wide").is_ok());
}

#[test]
fn upvalue_descriptors_match_luajit() {
    use moonjet_runtime::proto::{KGc, Proto};
    fn child(pt: &Proto, n: usize) -> &Proto {
        pt.kgc
            .iter()
            .filter_map(|k| {
                if let KGc::Proto(p) = k {
                    Some(&**p)
                } else {
                    None
                }
            })
            .nth(n)
            .unwrap()
    }
    // Descriptors as luajit's string.dump writes them: 0x8000 | slot for a local of the
    // parent, 0x4000 when that local is never assigned after its declaration (decided
    // when the parent is complete), the bare index for an upvalue of the parent.
    let pt = parse::parse(
        b"local x = 1 local f = function() return x end x = 2",
        b"=t",
    )
    .unwrap();
    assert_eq!(child(&pt, 0).uv, [0x8000]);
    let pt = parse::parse(b"local y = 1 local g = function() return y end", b"=t").unwrap();
    assert_eq!(child(&pt, 0).uv, [0xc000]);
    let pt = parse::parse(b"local z function h() z = 1 end", b"=t").unwrap();
    assert_eq!(child(&pt, 0).uv, [0x8000]);
    let pt = parse::parse(
        b"local a, b = 1, 2 local function f() return function() return b, a end end",
        b"=t",
    )
    .unwrap();
    let f = child(&pt, 0);
    assert_eq!(f.uv, [0xc001, 0xc000]);
    assert_eq!(child(f, 0).uv, [0, 1]);
}
