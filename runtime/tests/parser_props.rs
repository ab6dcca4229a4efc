//! The parser never panics, overflows or hangs, whatever it is given: random bytes, and
//! random sequences of real Lua tokens (which get much deeper into the grammar).

use moonjet_runtime::parse::parse;
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
    "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while", "+", "-",
    "*", "/", "%", "^", "#", "==", "~=", "<=", ">=", "<", ">", "=", "(", ")", "{", "}", "[", "]",
    ";", ":", ",", ".", "..", "...", "::", "x", "y", "t", "f", "self", "1", "0", "2.5", "0x10",
    "1e300", "1LL", "2i", "'s'", "[[long]]", "\n", "-- c\n",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(0..TOKENS.len(), 0..120)
        .prop_map(|ix| ix.iter().map(|&i| TOKENS[i]).collect::<Vec<_>>().join(" "))
}

/// Statement-shaped fragments, so that long runs of valid code are common.
fn statements() -> impl Strategy<Value = String> {
    let stmt = prop_oneof![
        Just("local a, b = 1, ...".to_string()),
        Just("x = x + 1".to_string()),
        Just("t[#t + 1] = f(x, y)".to_string()),
        Just("if x then y = 1 elseif y then x = 2 else return end".to_string()),
        Just("for i = 1, 10 do t[i] = i end".to_string()),
        Just("for k, v in pairs(t) do x = k .. v end".to_string()),
        Just("while x < 10 do x = x * 2 if x then break end end".to_string()),
        Just("repeat local z = x until z".to_string()),
        Just("local function g(a, ...) return g(a), ... end".to_string()),
        Just("t.a.b:c(1, 'two', {3, x = 4, [5] = 6, f()})".to_string()),
        Just("do goto skip; local q = 1; ::skip:: end".to_string()),
        Just("x = not x and (y or -x) == #t".to_string()),
        Just("x = function(...) local u = x return function() return u end end".to_string()),
    ];
    prop::collection::vec(stmt, 0..40).prop_map(|v| v.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(src in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse(&src, b"=fuzz");
    }

    #[test]
    fn token_soup_never_panics(src in token_soup()) {
        let _ = parse(src.as_bytes(), b"=fuzz");
    }

    #[test]
    fn statement_sequences_compile(src in statements()) {
        let r = parse(src.as_bytes(), b"=fuzz");
        prop_assert!(r.is_ok(), "{:?}", r.err());
    }

    #[test]
    fn damaged_programs_never_panic(src in statements(), cut in any::<usize>(), junk in 0..TOKENS.len()) {
        // Cut a valid program somewhere and splice a token in: mostly errors, never panics.
        let at = if src.is_empty() { 0 } else { cut % src.len() };
        let at = (0..=at).rev().find(|&i| src.is_char_boundary(i)).unwrap_or(0);
        let damaged = format!("{} {} {}", &src[..at], TOKENS[junk], &src[at..]);
        let _ = parse(damaged.as_bytes(), b"=fuzz");
    }
}
