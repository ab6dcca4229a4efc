//! Lexer tests. Every expected token, value and message below was checked against the
//! luajit 2.1 binary (`loadstring(src, "=t")` and friends) while writing them; the tests
//! themselves do not run luajit.

use moonjet_runtime::lex::{chunk_id, CdataLit, Lexer, SyntaxError, Tok};
use proptest::prelude::*;

// ---- helpers ----

/// Every token of `src` up to and excluding Eof; panics on a lexical error.
fn toks(src: &[u8]) -> Vec<Tok> {
    let mut l = Lexer::new(src, b"=t");
    let mut v = Vec::new();
    loop {
        l.next()
            .unwrap_or_else(|e| panic!("{:?}: {}", String::from_utf8_lossy(src), e));
        if l.tok == Tok::Eof {
            return v;
        }
        v.push(l.tok);
    }
}

/// Tokens with their lines.
fn toks_lines(src: &[u8]) -> Vec<(Tok, u32)> {
    let mut l = Lexer::new(src, b"=t");
    let mut v = Vec::new();
    loop {
        l.next().unwrap();
        if l.tok == Tok::Eof {
            return v;
        }
        v.push((l.tok, l.line));
    }
}

/// The first lexical error in `src` (chunk `=t`); panics if there is none.
fn lex_err(src: &[u8]) -> String {
    let mut l = Lexer::new(src, b"=t");
    loop {
        match l.next() {
            Err(SyntaxError { msg }) => return msg,
            Ok(()) if l.tok == Tok::Eof => {
                panic!("no error in {:?}", String::from_utf8_lossy(src))
            }
            Ok(()) => {}
        }
    }
}

/// The lexer positioned on the `n`th token (1-based) of `src`.
fn at_token(src: &[u8], n: usize) -> Lexer<'_> {
    let mut l = Lexer::new(src, b"=t");
    for _ in 0..n {
        l.next().unwrap();
    }
    l
}

/// `src` must be exactly one Number token; its value.
fn num(src: &str) -> f64 {
    let mut l = Lexer::new(src.as_bytes(), b"=t");
    l.next().unwrap_or_else(|e| panic!("{src}: {e}"));
    assert_eq!(l.tok, Tok::Number, "{src}");
    let v = l.nval;
    l.next().unwrap();
    assert_eq!(l.tok, Tok::Eof, "{src}");
    v
}

/// `src` must be exactly one Cdata token; its value.
fn cdata(src: &str) -> CdataLit {
    let mut l = Lexer::new(src.as_bytes(), b"=t");
    l.next().unwrap_or_else(|e| panic!("{src}: {e}"));
    assert_eq!(l.tok, Tok::Cdata, "{src}");
    let v = l.cval;
    l.next().unwrap();
    assert_eq!(l.tok, Tok::Eof, "{src}");
    v
}

/// `src` must be exactly one String token; its bytes.
fn string(src: &[u8]) -> Vec<u8> {
    let mut l = Lexer::new(src, b"=t");
    l.next()
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(src)));
    assert_eq!(l.tok, Tok::String);
    let v = l.sval.clone();
    l.next().unwrap();
    assert_eq!(l.tok, Tok::Eof);
    v
}

fn malformed(src: &str) -> String {
    lex_err(src.as_bytes())
}

// ---- tokens ----

#[test]
fn reserved_words() {
    let src = b"and break do else elseif end false for function goto if in local nil not or \
                repeat return then true until while";
    use Tok::*;
    assert_eq!(
        toks(src),
        vec![
            And, Break, Do, Else, Elseif, End, False, For, Function, Goto, If, In, Local, Nil, Not,
            Or, Repeat, Return, Then, True, Until, While
        ]
    );
    // Reserved words carry their text in sval (the parser may use `goto` as a name).
    let l = at_token(b"goto", 1);
    assert_eq!(l.tok, Goto);
    assert_eq!(l.sval, b"goto");
    // Near-misses are names.
    for w in [
        "And",
        "ands",
        "gotoo",
        "whilE",
        "_end",
        "endx",
        "functions",
        "i",
        "o",
    ] {
        let l = at_token(w.as_bytes(), 1);
        assert_eq!(l.tok, Name, "{w}");
        assert_eq!(l.sval, w.as_bytes());
    }
}

#[test]
fn operators_and_chars() {
    use Tok::*;
    assert_eq!(
        toks(b".. ... == >= <= ~= :: + - * / % ^ # = < > ( ) { } [ ] ; : , . ~ ! \\ ` @ $ ?"),
        vec![
            Concat,
            Dots,
            Eq,
            Ge,
            Le,
            Ne,
            Label,
            Char(b'+'),
            Char(b'-'),
            Char(b'*'),
            Char(b'/'),
            Char(b'%'),
            Char(b'^'),
            Char(b'#'),
            Char(b'='),
            Char(b'<'),
            Char(b'>'),
            Char(b'('),
            Char(b')'),
            Char(b'{'),
            Char(b'}'),
            Char(b'['),
            Char(b']'),
            Char(b';'),
            Char(b':'),
            Char(b','),
            Char(b'.'),
            Char(b'~'),
            Char(b'!'),
            Char(b'\\'),
            Char(b'`'),
            Char(b'@'),
            Char(b'$'),
            Char(b'?'),
        ]
    );
    // Greedy scanning without spaces.
    assert_eq!(
        toks(b"a....b===c<==>=d~==::="),
        vec![
            Name,
            Dots,
            Char(b'.'),
            Name,
            Eq,
            Char(b'='),
            Name,
            Le,
            Char(b'='),
            Ge,
            Name,
            Ne,
            Char(b'='),
            Label,
            Char(b'=')
        ]
    );
    // `..` followed by a digit is concat, `.` followed by a digit is a number.
    assert_eq!(toks(b"1 ..7"), vec![Number, Concat, Number]);
    assert_eq!(toks(b"x .5"), vec![Name, Number]);
    assert_eq!(
        toks(b"a.b:c"),
        vec![Name, Char(b'.'), Name, Char(b':'), Name]
    );
    // Control bytes and NUL are single-character tokens.
    assert_eq!(
        toks(b"\x01\x1b\x7f\0"),
        vec![Char(1), Char(0x1b), Char(0x7f), Char(0)]
    );
    // Whitespace: space, \t, \v, \f.
    assert_eq!(toks(b" \t\x0b\x0cx\t"), vec![Name]);
}

#[test]
fn names() {
    let l = at_token(b"  _foo_Bar9 ", 1);
    assert_eq!((l.tok, l.sval.as_slice()), (Tok::Name, &b"_foo_Bar9"[..]));
    // Every byte >= 0x80 is a name byte (UTF-8 names, and also invalid UTF-8).
    let l = at_token("Ä_ö1".as_bytes(), 1);
    assert_eq!(l.sval, "Ä_ö1".as_bytes());
    let l = at_token(b"\xff\xfe+", 1);
    assert_eq!((l.tok, l.sval.as_slice()), (Tok::Name, &b"\xff\xfe"[..]));
    assert_eq!(toks(b"a1 b_2 _"), vec![Tok::Name, Tok::Name, Tok::Name]);
    // A digit followed by name bytes is one (malformed) number.
    assert_eq!(malformed("a1 2b"), "t:1: malformed number near '2b'");
}

// ---- strings ----

#[test]
fn simple_escapes() {
    assert_eq!(
        string(br#""\a\b\f\n\r\t\v\\\"\'""#),
        [7, 8, 12, 10, 13, 9, 11, b'\\', b'"', b'\'']
    );
    assert_eq!(string(br#"'a"b'"#), b"a\"b");
    assert_eq!(string(br#""a'b""#), b"a'b");
    assert_eq!(string(b"''"), b"");
    // Raw NULs and other bytes are kept as they are.
    assert_eq!(string(b"'a\0\x01\xff'"), b"a\0\x01\xff");
}

#[test]
fn decimal_escapes() {
    assert_eq!(
        string(br#""\0\00\000\65\0655\255\1234""#),
        b"\0\0\0AA5\xff{4"
    );
    assert_eq!(string(br#""\9x\09x""#), b"\x09x\x09x");
    assert_eq!(
        lex_err(br"x = 'a\256'"),
        "t:1: invalid escape sequence near ''a'"
    );
    assert_eq!(
        lex_err(br"x = 'a\255\999'"),
        "t:1: invalid escape sequence near ''a\u{fffd}'"
    );
    assert_eq!(
        lex_err(br"'a\9999'"),
        "t:1: invalid escape sequence near ''a'"
    );
}

#[test]
fn hex_escapes() {
    assert_eq!(string(br#""\x41\x7a\xFf\x00""#), b"Az\xff\0");
    for src in [
        &br"x = 'a\x'"[..],
        br"x = 'a\xg'",
        br"x = 'a\x1g'",
        br"x = 'a\x1",
        br"x = 'a\x",
        b"x = 'a\\x\n'",
    ] {
        assert_eq!(
            lex_err(src),
            "t:1: invalid escape sequence near ''a'",
            "{}",
            String::from_utf8_lossy(src)
        );
    }
    assert_eq!(
        lex_err(br"x = '\x4a\xA' +"),
        "t:1: invalid escape sequence near ''J'"
    );
}

#[test]
fn z_escape() {
    assert_eq!(string(b"'a\\z  \n\t b'"), b"ab");
    // \z skips \v \f \r \n \t and spaces (counting lines), but not other control bytes.
    let mut l = Lexer::new(b"'a\\z\x0b\x0c\r\n\tb' x", b"=t");
    l.next().unwrap();
    assert_eq!((l.sval.as_slice(), l.line), (&b"ab"[..], 2));
    assert_eq!(string(b"'a\\z\x01b'"), b"a\x01b");
    let mut l = Lexer::new(b"'a\\z\n\n\n\\z\n   '", b"=t");
    l.next().unwrap();
    assert_eq!((l.sval.as_slice(), l.line), (&b"a"[..], 5));
    assert_eq!(lex_err(b"x = 'a\\z"), "t:1: unfinished string near '<eof>'");
    assert_eq!(
        lex_err(b"x = 'a\\z   "),
        "t:1: unfinished string near '<eof>'"
    );
}

#[test]
fn unicode_escapes() {
    assert_eq!(
        string(br#""\u{41}\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}\u{0}\u{0000000041}\u{a}""#),
        "A\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}\0A\n".as_bytes()
    );
    assert_eq!(
        string(br#""\u{7f}\u{80}\u{D7FF}\u{E000}""#),
        "\u{7f}\u{80}\u{d7ff}\u{e000}".as_bytes()
    );
    // Leading zeros do not count against the limit.
    let mut long = b"'\\u{".to_vec();
    long.extend(std::iter::repeat_n(b'0', 70));
    long.extend_from_slice(b"41}'");
    assert_eq!(string(&long), b"A");
    // luajit 2.1 (2022) stops at U+10FFFF and rejects surrogates.
    for esc in [
        "\\u{110000}",
        "\\u{7FFFFFFF}",
        "\\u{80000000}",
        "\\u{FFFFFFFFFFFFFFFFFFFFF}",
        "\\u{D800}",
        "\\u{DFFF}",
        "\\u{}",
        "\\u41",
        "\\u{41",
        "\\u{4g}",
        "\\u{ 41}",
        "\\u",
        "\\u{",
        "\\u{4",
    ] {
        let src = format!("x = 'a{esc}'");
        assert_eq!(
            lex_err(src.as_bytes()),
            "t:1: invalid escape sequence near ''a'",
            "{esc}"
        );
    }
    assert_eq!(
        lex_err(br"x = 'a\u{10FFFF}\u{D800}' +"),
        "t:1: invalid escape sequence near ''a\u{10ffff}'"
    );
}

#[test]
fn escaped_newlines() {
    // Each newline style is one line and one "\n".
    let mut l = Lexer::new(b"'a\\\r\nb\\\n\rc\\\rd\\\ne' x", b"=t");
    l.next().unwrap();
    assert_eq!((l.sval.as_slice(), l.line), (&b"a\nb\nc\nd\ne"[..], 5));
    l.next().unwrap();
    assert_eq!((l.tok, l.line, l.lastline), (Tok::Name, 5, 5));
    // `\` + "\n\n" is one escaped newline, then a raw one.
    assert_eq!(
        lex_err(b"x = 'a\\\n\n' y"),
        "t:2: unfinished string near ''a\n'"
    );
    assert_eq!(
        lex_err(b"x = 'a\\\n"),
        "t:2: unfinished string near '<eof>'"
    );
    assert_eq!(
        lex_err(b"x = 'a\\\r"),
        "t:2: unfinished string near '<eof>'"
    );
}

#[test]
fn invalid_escapes() {
    assert_eq!(
        lex_err(br"x = 'a\tbc\65\q'"),
        "t:1: invalid escape sequence near ''a\tbcA'"
    );
    assert_eq!(
        lex_err(br#"x = "a\qb""#),
        "t:1: invalid escape sequence near '\"a'"
    );
    assert_eq!(
        lex_err(br#"x = "\300""#),
        "t:1: invalid escape sequence near '\"'"
    );
    assert_eq!(
        lex_err(b"x = 'a\\\0'"),
        "t:1: invalid escape sequence near ''a'"
    );
    // The text so far is a C string in luajit's message: cut at a NUL.
    assert_eq!(
        lex_err(br"x = 'a\0b\q'"),
        "t:1: invalid escape sequence near ''a'"
    );
    assert_eq!(
        lex_err(br"x = 'a\c'"),
        "t:1: invalid escape sequence near ''a'"
    );
}

#[test]
fn unfinished_strings() {
    assert_eq!(lex_err(b"x = \"abc"), "t:1: unfinished string near '<eof>'");
    assert_eq!(
        lex_err(b"x = 'abc\ny'"),
        "t:1: unfinished string near ''abc'"
    );
    assert_eq!(
        lex_err(b"x = 'abc\ry'"),
        "t:1: unfinished string near ''abc'"
    );
    assert_eq!(
        lex_err(b"\n\nx = 'abc\r\ny'"),
        "t:3: unfinished string near ''abc'"
    );
    assert_eq!(
        lex_err(b"x = 'abc\\"),
        "t:1: unfinished string near '<eof>'"
    );
    assert_eq!(
        lex_err(br"x = 'a\tbc\65\"),
        "t:1: unfinished string near '<eof>'"
    );
    assert_eq!(
        lex_err(br#"x = 'a\""#),
        "t:1: unfinished string near '<eof>'"
    );
    assert_eq!(lex_err(b"x = 'a\0b"), "t:1: unfinished string near '<eof>'");
    // A decimal escape cut by the end of input is fine; the string is not.
    assert_eq!(lex_err(br"x = 'a\1"), "t:1: unfinished string near '<eof>'");
    assert_eq!(
        lex_err(br"x = 'a\25"),
        "t:1: unfinished string near '<eof>'"
    );
    assert_eq!(
        lex_err(br"x = 'a\256"),
        "t:1: invalid escape sequence near ''a'"
    );
    // The chunk name comes from the source when loadstring gets no name.
    let src = b"x = \"abc\ny";
    let mut l = Lexer::new(src, src);
    l.next().unwrap();
    l.next().unwrap();
    assert_eq!(
        l.next().unwrap_err().msg,
        "[string \"x = \"abc...\"]:1: unfinished string near '\"abc'"
    );
}

// ---- long brackets ----

#[test]
fn long_strings_levels() {
    assert_eq!(string(b"[[abc]]"), b"abc");
    assert_eq!(string(b"[[]]"), b"");
    assert_eq!(string(b"[=[a]]b]=]"), b"a]]b");
    assert_eq!(string(b"[==[a]=]b]===]c]==]"), b"a]=]b]===]c");
    assert_eq!(string(b"[===[ [[ ]] [==[ ]==] ]===]"), b" [[ ]] [==[ ]==] ");
    assert_eq!(string(b"[==[]]]=]]==]"), b"]]]=]");
    assert_eq!(string(b"[[ [[ ]]"), b" [[ ");
    // No escapes in long strings.
    assert_eq!(string(b"[[a\\n\\]]"), b"a\\n\\");
    assert_eq!(toks(b"[==[]]]=]]==] [[x]]"), vec![Tok::String, Tok::String]);
}

#[test]
fn long_string_newlines() {
    // The first newline (any style) is skipped; others become "\n" and count once.
    assert_eq!(string(b"[[\nabc]]"), b"abc");
    assert_eq!(string(b"[[\r\nabc]]"), b"abc");
    assert_eq!(string(b"[[\n\rabc]]"), b"abc");
    assert_eq!(string(b"[[\rabc]]"), b"abc");
    assert_eq!(string(b"[[\r\rabc]]"), b"\nabc");
    assert_eq!(string(b"[[\n\nabc]]"), b"\nabc");
    let mut l = Lexer::new(b"[[a\r\nb\n\rc\rd\ne\n\n]] x", b"=t");
    l.next().unwrap();
    assert_eq!(l.sval, b"a\nb\nc\nd\ne\n\n");
    // luajit's line is where the token ends.
    assert_eq!(l.line, 7);
    l.next().unwrap();
    assert_eq!((l.tok, l.lastline, l.line), (Tok::Name, 7, 7));
}

#[test]
fn long_string_errors() {
    assert_eq!(
        lex_err(b"x = [[abc"),
        "t:1: unfinished long string near '<eof>'"
    );
    assert_eq!(
        lex_err(b"x = [==[abc]=]"),
        "t:1: unfinished long string near '<eof>'"
    );
    assert_eq!(
        lex_err(b"x = [==[ ]= ]=] ]===] ]]"),
        "t:1: unfinished long string near '<eof>'"
    );
    assert_eq!(
        lex_err(b"x = [[\n\n"),
        "t:3: unfinished long string near '<eof>'"
    );
    assert_eq!(
        lex_err(b"x = [[\r"),
        "t:2: unfinished long string near '<eof>'"
    );
    assert_eq!(
        lex_err(b"x = [==[ \n ]= ]=] \n]=="),
        "t:3: unfinished long string near '<eof>'"
    );
    assert_eq!(
        lex_err(b"x = [=["),
        "t:1: unfinished long string near '<eof>'"
    );
    assert_eq!(
        lex_err(b"x = [="),
        "t:1: invalid long string delimiter near '[='"
    );
    assert_eq!(
        lex_err(b"x = [=x"),
        "t:1: invalid long string delimiter near '[='"
    );
    assert_eq!(
        lex_err(b"x = [==x"),
        "t:1: invalid long string delimiter near '[=='"
    );
    assert_eq!(
        lex_err(b"\n[===  ["),
        "t:2: invalid long string delimiter near '[==='"
    );
    // A lone `[` is a character token.
    assert_eq!(
        toks(b"a[ b ]"),
        vec![Tok::Name, Tok::Char(b'['), Tok::Name, Tok::Char(b']')]
    );
}

#[test]
fn comments() {
    assert_eq!(
        toks_lines(b"-- comment\r\n\r\n+"),
        vec![(Tok::Char(b'+'), 3)]
    );
    assert_eq!(toks_lines(b"--x\r\r+"), vec![(Tok::Char(b'+'), 3)]);
    assert_eq!(toks_lines(b"--x\n\r+"), vec![(Tok::Char(b'+'), 2)]);
    assert_eq!(
        toks_lines(b"--[==[ a \n ]] ]=] ]==] +"),
        vec![(Tok::Char(b'+'), 2)]
    );
    assert_eq!(toks_lines(b"--[[x]]+"), vec![(Tok::Char(b'+'), 1)]);
    assert_eq!(toks_lines(b"--[[x\r]]+"), vec![(Tok::Char(b'+'), 2)]);
    assert_eq!(
        toks_lines(b"--[=[\n\r\n\r\n]=]  +"),
        vec![(Tok::Char(b'+'), 4)]
    );
    // Not a long bracket: a line comment.
    assert_eq!(toks_lines(b"--[ \n +"), vec![(Tok::Char(b'+'), 2)]);
    assert_eq!(toks_lines(b"--[==x\n y"), vec![(Tok::Name, 2)]);
    assert_eq!(toks_lines(b"---[[x\ny"), vec![(Tok::Name, 2)]);
    assert_eq!(
        toks_lines(b"--\n[[x]] +"),
        vec![(Tok::String, 2), (Tok::Char(b'+'), 2)]
    );
    assert_eq!(toks(b"a--"), vec![Tok::Name]);
    assert_eq!(
        toks(b"a - -b"),
        vec![Tok::Name, Tok::Char(b'-'), Tok::Char(b'-'), Tok::Name]
    );
    assert_eq!(
        lex_err(b"--[[abc"),
        "t:1: unfinished long comment near '<eof>'"
    );
    assert_eq!(
        lex_err(b"--[==[abc\n\n"),
        "t:3: unfinished long comment near '<eof>'"
    );
}

// ---- numbers ----

#[test]
fn decimal_numbers() {
    for (src, v) in [
        ("0", 0.0),
        ("3", 3.0),
        ("3.", 3.0),
        (".5", 0.5),
        ("3.25", 3.25),
        ("1e10", 1e10),
        ("1E-3", 1e-3),
        ("1e+5", 1e5),
        ("3.e2", 300.0),
        ("1.e+1", 10.0),
        ("0e0", 0.0),
        ("00012", 12.0),
        ("012", 12.0),
        ("08", 8.0),
        ("09.5", 9.5),
        ("1e0001", 10.0),
        ("1E+0", 1.0),
        ("9007199254740993", 9007199254740992.0),
        ("123456789012345678901234567890", 1.2345678901234568e29),
        ("18446744073709551616", 18446744073709551616.0),
    ] {
        assert_eq!(num(src).to_bits(), f64::to_bits(v), "{src}");
    }
}

#[test]
fn hex_numbers() {
    for (src, v) in [
        ("0x10", 16.0),
        ("0X1", 1.0),
        ("0XaBc", 2748.0),
        ("0x1p4", 16.0),
        ("0x1P-2", 0.25),
        ("0x.8", 0.5),
        ("0x.1", 0.0625),
        ("0xA.8p1", 21.0),
        ("0x1.8", 1.5),
        ("0x1.", 1.0),
        ("0x1.p1", 2.0),
        ("0X1P1", 2.0),
        ("0x1e", 30.0),
        ("0x0p0", 0.0),
        ("0xffffffffffffffff", 18446744073709551616.0),
        ("0x1fffffffffffff", 9007199254740991.0),
        ("0x3fffffffffffff", 18014398509481984.0),
    ] {
        assert_eq!(num(src).to_bits(), f64::to_bits(v), "{src}");
    }
    // In a hex number `e` is a digit, so a sign after it ends the number.
    let mut l = Lexer::new(b"0x1e+5 0x1E-5", b"=t");
    let mut got = vec![];
    loop {
        l.next().unwrap();
        match l.tok {
            Tok::Eof => break,
            Tok::Number => got.push(format!("{}", l.nval)),
            t => got.push(Lexer::token_name(t)),
        }
    }
    assert_eq!(got, ["30", "+", "5", "30", "-", "5"]);
}

#[test]
fn binary_numbers() {
    // luajit 2.1 (2022) accepts 0b literals in source.
    assert_eq!(num("0b101"), 5.0);
    assert_eq!(num("0B11"), 3.0);
    assert_eq!(
        num(&format!("0b{}", "1".repeat(64))),
        18446744073709551616.0
    );
    assert_eq!(num(&format!("0b{}1", "0".repeat(100))), 1.0);
    // Rounded like a u64 -> double conversion.
    assert_eq!(num(&format!("0b1{}1", "0".repeat(52))), 9007199254740992.0);
    assert_eq!(
        num(&format!("0b1{}11", "0".repeat(52))),
        18014398509481988.0
    );
    assert_eq!(cdata("0b101LL"), CdataLit::I64(5));
    assert_eq!(cdata("0b101ULL"), CdataLit::U64(5));
    assert_eq!(cdata("0b101i"), CdataLit::Imag(5.0));
    assert_eq!(
        cdata(&format!("0b{}ULL", "1".repeat(64))),
        CdataLit::U64(u64::MAX)
    );
    // More than 64 significant bits is malformed, with or without suffix.
    for src in [
        format!("0b1{}", "0".repeat(64)),
        format!("0b1{}ULL", "0".repeat(64)),
        format!("0b1{}i", "0".repeat(64)),
    ] {
        assert_eq!(
            malformed(&src),
            format!("t:1: malformed number near '{src}'")
        );
    }
    for src in [
        "0b", "0b2", "0b1.1", "0b1.", "0b.1", "0b1p1", "0b1e5", "0b1e+5", "0bi", "0bLL",
    ] {
        assert_eq!(
            malformed(src),
            format!("t:1: malformed number near '{src}'")
        );
    }
}

#[test]
fn huge_and_tiny_numbers() {
    assert_eq!(num("1e309"), f64::INFINITY);
    assert_eq!(num("0x1p1024"), f64::INFINITY);
    assert_eq!(num("1e-400").to_bits(), 0);
    assert_eq!(num("0x1p-1075").to_bits(), 0);
    assert_eq!(num("0x1p-1074").to_bits(), 1);
    assert_eq!(num("1e-320"), 1e-320);
    // The exponent's value may be at most 0xfffff (leading zeros are fine).
    assert_eq!(num("1e1048575"), f64::INFINITY);
    assert_eq!(num("1e-1048575"), 0.0);
    assert_eq!(num("0x1p1048575"), f64::INFINITY);
    assert_eq!(num("0.001e1048575"), f64::INFINITY);
    assert_eq!(num("1e00000000000000000000000001"), 10.0);
    for src in [
        "1e1048576",
        "1e-1048576",
        "0e99999999999",
        "1e99999999999999999999",
        "0x1p1048576",
        "0x0.0p99999999999",
    ] {
        assert_eq!(
            malformed(src),
            format!("t:1: malformed number near '{src}'")
        );
    }
    // Very long literals, with exponents that cancel the digits.
    let z = "0".repeat(100_000);
    assert_eq!(num(&format!("0.{z}1e100010")), 1e9);
    assert_eq!(num(&format!("1{z}e-100000")), 1.0);
    assert_eq!(num(&format!("0.{}1e400", "0".repeat(400))), 0.1);
    assert_eq!(num(&format!("0x1{z}p-400000")), 1.0);
    assert_eq!(num(&format!("0x.{z}1p400004")), 1.0);
    assert_eq!(
        num(&format!("111.{}", "1".repeat(3000))),
        111.11111111111111
    );
    // At most 0xfffff fraction digits up to the last nonzero one.
    assert_eq!(num(&format!("1.{}", "0".repeat(1_048_576))), 1.0);
    assert_eq!(num(&format!("0.{}1", "0".repeat(1_048_574))), 0.0);
    let src = format!("0.{}1", "0".repeat(1_048_575));
    assert!(malformed(&src).starts_with("t:1: malformed number near '0.000"));
}

#[test]
fn correctly_rounded_numbers() {
    // (literal, bits of luajit's value)
    let cases: &[(&str, u64)] = &[
        ("0.1", 4591870180066957722),
        ("0.2", 4596373779694328218),
        ("0.3", 4599075939470750515),
        ("1.7976931348623157e308", 9218868437227405311),
        ("1.7976931348623158e308", 9218868437227405311),
        ("1.7976931348623159e308", 9218868437227405312),
        ("2.2250738585072011e-308", 4503599627370495),
        ("2.2250738585072014e-308", 4503599627370496),
        ("4.9406564584124654e-324", 1),
        ("2.4703282292062327e-324", 0),
        ("2.4703282292062328e-324", 1),
        ("9007199254740993", 4845873199050653696),
        ("9007199254740995", 4845873199050653698),
        ("123456789012345678901234567890", 5042042089369253694),
        ("3.14159265358979323846264338327950288", 4614256656552045848),
        ("1e23", 4950912855330343670),
        ("8.98846567431158e307", 9214364837600034816),
        ("5e-324", 1),
        ("0.000001", 4517329193108106637),
        ("1.5e-10", 4459862875403570764),
        ("7.2057594037927933e16", 4859383997932765184),
        ("0x1.8p-1074", 2),
        ("0x1.0000001p-1075", 1),
        ("0x0.8p-1073", 1),
        ("0x0.Cp-1073", 2),
        ("0x1.fffffffffffff8p1023", 9218868437227405312),
        ("0x1.fffffffffffff7ffp1023", 9218868437227405311),
        ("0x1.00000000000008p0", 4607182418800017408),
        ("0x1.000000000000081p0", 4607182418800017409),
        ("0x1.00000000000018p0", 4607182418800017410),
        ("0x123456789abcdef0123", 4932062087919353055),
        (
            "0x.0000000000000000000000000000000000001p130",
            4526117625507348480,
        ),
        ("0x1.fffffffffffffp-1022", 9007199254740991),
        ("0x1.ffffffffffffe8p-1023", 4503599627370495),
        ("0x0.fffffffffffff8p-1022", 4503599627370496),
    ];
    for &(src, bits) in cases {
        assert_eq!(num(src).to_bits(), bits, "{src}");
    }
}

#[test]
fn ffi_integer_suffixes() {
    for (src, v) in [
        ("12LL", CdataLit::I64(12)),
        ("12ll", CdataLit::I64(12)),
        ("12lL", CdataLit::I64(12)),
        ("12ULL", CdataLit::U64(12)),
        ("12ull", CdataLit::U64(12)),
        ("12LLU", CdataLit::U64(12)),
        ("12llu", CdataLit::U64(12)),
        ("12uLL", CdataLit::U64(12)),
        ("0xfLL", CdataLit::I64(15)),
        ("0x1ULL", CdataLit::U64(1)),
        ("9223372036854775807LL", CdataLit::I64(i64::MAX)),
        ("9223372036854775808LL", CdataLit::I64(i64::MIN)),
        ("18446744073709551615LL", CdataLit::I64(-1)),
        ("18446744073709551615ULL", CdataLit::U64(u64::MAX)),
        ("0xffffffffffffffffULL", CdataLit::U64(u64::MAX)),
        ("0xffffffffffffffffLL", CdataLit::I64(-1)),
        ("0x8000000000000000LL", CdataLit::I64(i64::MIN)),
        ("0000000000000000000000000012LL", CdataLit::I64(12)),
        ("0x00000000000000000000000001ULL", CdataLit::U64(1)),
    ] {
        assert_eq!(cdata(src), v, "{src}");
    }
    let l = at_token(b"x = 12LL", 3);
    assert_eq!(
        l.error_near("unexpected symbol").msg,
        "t:1: unexpected symbol near '12LL'"
    );
}

#[test]
fn ffi_imaginary_suffix() {
    for (src, v) in [
        ("12i", 12.0),
        ("12I", 12.0),
        ("1.5i", 1.5),
        ("0x10i", 16.0),
        ("1e3i", 1000.0),
        ("1.5e+3i", 1500.0),
        ("0x1P+4i", 16.0),
        ("0xA.8p1i", 21.0),
        (".5i", 0.5),
        ("1.i", 1.0),
        ("0i", 0.0),
        ("1e400i", f64::INFINITY),
        ("18446744073709551616i", 18446744073709551616.0),
        ("0xffffffffffffffffi", 18446744073709551616.0),
    ] {
        assert_eq!(cdata(src), CdataLit::Imag(v), "{src}");
    }
}

#[test]
fn malformed_numbers() {
    for src in [
        "12U",
        "12L",
        "1.5LL",
        "1e3LL",
        "12e3LL",
        "12LUL",
        "12LLi",
        "12iLL",
        "1lli",
        "1ul",
        "5LLLL",
        "5ULLU",
        "1ULLL",
        ".5LL",
        "5.LL",
        "0x1p2LL",
        "0x1.8LL",
        "0x1pLL",
        "0xLL",
        "18446744073709551616LL",
        "18446744073709551616ULL",
        "0x10000000000000000ULL",
        "3..2",
        "1..2",
        "1...2",
        "0..2",
        "0x..2",
        "1.2.3",
        "0x1.2.3",
        "1_000",
        "0.1e1.5",
        "1ea",
        "1ee1",
        "3e",
        "1e",
        "1e+",
        "1.e",
        "3x",
        "0x",
        "0x.",
        "0x.p1",
        "0xp1",
        "0xi",
        "0x.i",
        "0x1p",
        "0x1P",
        "0x1.p",
        "0x1p+",
        "0x1g",
    ] {
        assert_eq!(
            malformed(src),
            format!("t:1: malformed number near '{src}'"),
            "{src}"
        );
    }
    // A sign is only part of a number right after the exponent letter.
    assert_eq!(malformed("1e+-1"), "t:1: malformed number near '1e+'");
    assert_eq!(malformed("1e-+1"), "t:1: malformed number near '1e-'");
    assert_eq!(malformed("1e--1"), "t:1: malformed number near '1e-'");
    assert_eq!(
        malformed("x = 1 +\n 2 + 0b3"),
        "t:2: malformed number near '0b3'"
    );
    // Bytes >= 0x80 are name bytes, so they belong to the number (shown lossily).
    assert_eq!(lex_err(b"1\x80"), "t:1: malformed number near '1\u{fffd}'");
}

// ---- lines, shebang, BOM ----

#[test]
fn line_counting() {
    let l = toks_lines(b"a\r\nb\n\rc\rd\ne\r\r f\n\n g\n\r\n\rh");
    let lines: Vec<u32> = l.iter().map(|&(_, n)| n).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 7, 9, 11]);
    // lastline is the line of the previous token.
    let mut lx = Lexer::new(b"a\n\nb c\nd", b"=t");
    let mut seen = vec![];
    loop {
        lx.next().unwrap();
        seen.push((lx.lastline, lx.line));
        if lx.tok == Tok::Eof {
            break;
        }
    }
    assert_eq!(seen, [(1, 1), (1, 3), (3, 3), (3, 4), (4, 4)]);
    let mut lx = Lexer::new(b"x = 1\n\r\n\r+", b"=t");
    for _ in 0..4 {
        lx.next().unwrap();
    }
    lx.next().unwrap();
    assert_eq!(
        lx.error_near("unexpected symbol").msg,
        "t:3: unexpected symbol near '<eof>'"
    );
}

#[test]
fn shebang_and_bom() {
    assert_eq!(toks_lines(b"#!/usr/bin/luajit\nx"), vec![(Tok::Name, 2)]);
    assert_eq!(toks_lines(b"#!shebang\r\nx"), vec![(Tok::Name, 2)]);
    assert_eq!(toks_lines(b"#\r\rx"), vec![(Tok::Name, 3)]);
    assert_eq!(toks_lines(b"#\n\rx"), vec![(Tok::Name, 2)]);
    assert_eq!(toks(b"#!shebang"), vec![]);
    assert_eq!(toks(b"#"), vec![]);
    // Only the very first line.
    assert_eq!(
        toks_lines(b"#!x\n\n#x"),
        vec![(Tok::Char(b'#'), 3), (Tok::Name, 3)]
    );
    assert_eq!(
        toks_lines(b"\n#x"),
        vec![(Tok::Char(b'#'), 2), (Tok::Name, 2)]
    );
    assert_eq!(
        toks(b" #!x"),
        vec![Tok::Char(b'#'), Tok::Char(b'!'), Tok::Name]
    );
    // A UTF-8 BOM is skipped, also before a shebang line.
    assert_eq!(toks_lines(b"\xef\xbb\xbfx"), vec![(Tok::Name, 1)]);
    assert_eq!(toks_lines(b"\xef\xbb\xbf#!x\ny"), vec![(Tok::Name, 2)]);
    assert_eq!(toks(b"\xef\xbb\xbf"), vec![]);
    // A partial BOM is just name bytes.
    let l = at_token(b"\xef\xbbx = 1", 1);
    assert_eq!((l.tok, l.sval.as_slice()), (Tok::Name, &b"\xef\xbbx"[..]));
}

// ---- chunk names ----

#[test]
fn chunk_ids() {
    assert_eq!(chunk_id(b"=t"), "t");
    assert_eq!(chunk_id(b"="), "");
    assert_eq!(chunk_id(b"@"), "");
    assert_eq!(chunk_id(b"@./sub/m.lua"), "./sub/m.lua");
    assert_eq!(chunk_id(b"=(command line)"), "(command line)");
    let a = |n: usize| "a".repeat(n);
    // `=`: cut to 59 bytes.
    assert_eq!(chunk_id(format!("={}", a(59)).as_bytes()), a(59));
    assert_eq!(chunk_id(format!("={}", a(70)).as_bytes()), a(59));
    // `@`: up to 59 bytes in full, else "..." and the last 56.
    assert_eq!(chunk_id(format!("@{}", a(59)).as_bytes()), a(59));
    assert_eq!(
        chunk_id(format!("@{}", a(60)).as_bytes()),
        format!("...{}", a(56))
    );
    assert_eq!(
        chunk_id(format!("@{}{}", "b".repeat(10), a(60)).as_bytes()),
        format!("...{}", a(56))
    );
    // Source text: up to 48 bytes in full, else 45 and "...".
    let x = |n: usize| "x".repeat(n);
    assert_eq!(
        chunk_id(x(48).as_bytes()),
        format!("[string \"{}\"]", x(48))
    );
    assert_eq!(
        chunk_id(x(49).as_bytes()),
        format!("[string \"{}...\"]", x(45))
    );
    assert_eq!(chunk_id(b""), "[string \"\"]");
    // A control byte ends the first line: the text before it, cut to 45, and "...".
    for n in [44, 45, 46, 47, 48] {
        let src = format!("{}\n", x(n));
        assert_eq!(
            chunk_id(src.as_bytes()),
            format!("[string \"{}...\"]", x(n.min(45))),
            "{n}"
        );
    }
    assert_eq!(chunk_id(b"x = 1\ny = 2"), "[string \"x = 1...\"]");
    assert_eq!(chunk_id(b"\nabc"), "[string \"...\"]");
    assert_eq!(chunk_id(b"\r"), "[string \"...\"]");
    assert_eq!(chunk_id(b"a\tb"), "[string \"a...\"]");
    assert_eq!(chunk_id(b"a\x1fb"), "[string \"a...\"]");
    // DEL and quotes are not special.
    assert_eq!(chunk_id(b"a\x7fb"), "[string \"a\x7fb\"]");
    assert_eq!(chunk_id(b"a\"b"), "[string \"a\"b\"]");
    // Names are C strings: a NUL ends them.
    assert_eq!(chunk_id(b"a\0b"), "[string \"a\"]");
    assert_eq!(chunk_id(b"=a\0b"), "a");
    assert_eq!(chunk_id(b"@a\0b"), "a");
    // Through the lexer.
    let src = b"x = \x01";
    let l = at_token(src, 0);
    assert_eq!(l.chunk(), "t");
    let mut l = Lexer::new(src, src);
    for _ in 0..3 {
        l.next().unwrap();
    }
    assert_eq!(
        l.error_near("unexpected symbol").msg,
        "[string \"x = ...\"]:1: unexpected symbol near 'char(1)'"
    );
}

// ---- messages near tokens ----

/// luajit's message for `msg` at the `n`th token of `src`.
fn near(src: &[u8], n: usize) -> String {
    at_token(src, n).error_near("unexpected symbol").msg
}

#[test]
fn error_near_token_text() {
    // Names and numbers: their source text.
    assert_eq!(near(b"x = 1 abc", 4), "t:1: unexpected symbol near 'abc'");
    assert_eq!(
        near(b"x = 1 0x1P+4i", 4),
        "t:1: unexpected symbol near '0x1P+4i'"
    );
    assert_eq!(near(b"x = .5 .6", 4), "t:1: unexpected symbol near '.6'");
    assert_eq!(
        near(b"x = 1 00012", 4),
        "t:1: unexpected symbol near '00012'"
    );
    // Strings: quote + unescaped text + quote.
    assert_eq!(
        near(br"x = 1 'a\tb\65'", 4),
        "t:1: unexpected symbol near ''a\tbA''"
    );
    assert_eq!(
        near(b"x = 1 'a\\z  \n b'", 4),
        "t:2: unexpected symbol near ''ab''"
    );
    assert_eq!(
        near(b"x = 1 'a\\\r\nb'", 4),
        "t:2: unexpected symbol near ''a\nb''"
    );
    assert_eq!(
        near(br#"x = 1 "\"""#, 4),
        "t:1: unexpected symbol near '\"\"\"'"
    );
    assert_eq!(
        near(br"x = 1 '\1'", 4),
        "t:1: unexpected symbol near ''\x01''"
    );
    assert_eq!(near(b"x = 'a' 'b'", 4), "t:1: unexpected symbol near ''b''");
    // The text is a C string: a NUL cuts it.
    assert_eq!(near(br"x = 1 '\0'", 4), "t:1: unexpected symbol near '''");
    // Long strings: brackets, normalized newlines, no first newline.
    assert_eq!(
        near(b"x = 1 [==[a\r\nb\n\rc\rd]==]", 4),
        "t:4: unexpected symbol near '[==[a\nb\nc\nd]==]'"
    );
    assert_eq!(
        near(b"x = 1 [==[\r\nb]==]", 4),
        "t:2: unexpected symbol near '[==[b]==]'"
    );
    assert_eq!(
        near(b"x = 1 [==[\r\rb]==]", 4),
        "t:3: unexpected symbol near '[==[\nb]==]'"
    );
    assert_eq!(near(b"x = 1 [[]]", 4), "t:1: unexpected symbol near '[[]]'");
    // Reserved words, operators, characters.
    assert_eq!(near(b"x = 1 end", 4), "t:1: unexpected symbol near 'end'");
    assert_eq!(near(b"x = 1 ...", 4), "t:1: unexpected symbol near '...'");
    assert_eq!(near(b"x = 1 <= >=", 5), "t:1: unexpected symbol near '>='");
    assert_eq!(near(b"x = 1 ~", 4), "t:1: unexpected symbol near '~'");
    assert_eq!(near(b"x = 1 \\", 4), "t:1: unexpected symbol near '\\'");
    assert_eq!(near(b"x = @", 3), "t:1: unexpected symbol near '@'");
    // Control characters as char(N); NUL gives no `near` at all.
    assert_eq!(
        near(b"x = 1 \x01", 4),
        "t:1: unexpected symbol near 'char(1)'"
    );
    assert_eq!(
        near(b"x = 1 \x1f", 4),
        "t:1: unexpected symbol near 'char(31)'"
    );
    assert_eq!(
        near(b"x = 1 \x1b", 4),
        "t:1: unexpected symbol near 'char(27)'"
    );
    assert_eq!(
        near(b"x = 1 \x7f", 4),
        "t:1: unexpected symbol near 'char(127)'"
    );
    assert_eq!(near(b"x = 1 \0", 4), "t:1: unexpected symbol");
    // End of input.
    assert_eq!(near(b"x = 1 +", 5), "t:1: unexpected symbol near '<eof>'");
    assert_eq!(
        near(b"x = 1\n\n\n", 4),
        "t:4: unexpected symbol near '<eof>'"
    );
    // A long token is shown in full.
    let src = format!("x = 1 '{}'", "a".repeat(600));
    assert_eq!(
        near(src.as_bytes(), 4),
        format!("t:1: unexpected symbol near ''{}''", "a".repeat(600))
    );
}

#[test]
fn error_at_and_token_names() {
    let l = at_token(b"a\nb\nc", 3);
    assert_eq!(
        l.error_at("undefined label 'x'", 2).msg,
        "t:2: undefined label 'x'"
    );
    let l = Lexer::new(b"", b"@dir/file.lua");
    assert_eq!(
        l.error_at("no loop to break", 7).to_string(),
        "dir/file.lua:7: no loop to break"
    );
    for (t, s) in [
        (Tok::End, "end"),
        (Tok::Elseif, "elseif"),
        (Tok::Function, "function"),
        (Tok::Goto, "goto"),
        (Tok::Name, "<name>"),
        (Tok::String, "<string>"),
        (Tok::Number, "<number>"),
        (Tok::Cdata, "<number>"),
        (Tok::Eof, "<eof>"),
        (Tok::Concat, ".."),
        (Tok::Dots, "..."),
        (Tok::Eq, "=="),
        (Tok::Ne, "~="),
        (Tok::Le, "<="),
        (Tok::Ge, ">="),
        (Tok::Label, "::"),
        (Tok::Char(b'='), "="),
        (Tok::Char(b')'), ")"),
        (Tok::Char(b'}'), "}"),
        (Tok::Char(3), "char(3)"),
    ] {
        assert_eq!(Lexer::token_name(t), s);
    }
}

// ---- lookahead ----

#[test]
fn lookahead_keeps_payload() {
    let mut l = Lexer::new(b"a 'b' 3 4LL c", b"=t");
    l.next().unwrap();
    assert_eq!(l.tok, Tok::Name);
    assert_eq!(l.lookahead().unwrap(), Tok::String);
    assert_eq!(l.lookahead().unwrap(), Tok::String); // no second scan
    assert_eq!((l.tok, l.sval.as_slice()), (Tok::Name, &b"a"[..]));
    assert_eq!(l.error_near("x").msg, "t:1: x near 'a'");
    l.next().unwrap();
    assert_eq!((l.tok, l.sval.as_slice()), (Tok::String, &b"b"[..]));
    assert_eq!(l.lookahead().unwrap(), Tok::Number);
    assert_eq!(l.sval, b"b");
    l.next().unwrap();
    assert_eq!((l.tok, l.nval), (Tok::Number, 3.0));
    assert_eq!(l.lookahead().unwrap(), Tok::Cdata);
    assert_eq!(l.nval, 3.0);
    assert_eq!(l.error_near("x").msg, "t:1: x near '3'");
    l.next().unwrap();
    assert_eq!((l.tok, l.cval), (Tok::Cdata, CdataLit::I64(4)));
    assert_eq!(l.lookahead().unwrap(), Tok::Name);
    assert_eq!(l.cval, CdataLit::I64(4));
    assert_eq!(l.error_near("x").msg, "t:1: x near '4LL'");
    l.next().unwrap();
    assert_eq!((l.tok, l.sval.as_slice()), (Tok::Name, &b"c"[..]));
    assert_eq!(l.lookahead().unwrap(), Tok::Eof);
    l.next().unwrap();
    assert_eq!(l.tok, Tok::Eof);
}

#[test]
fn lookahead_lines_and_errors() {
    // As in luajit, scanning the lookahead token advances `line`; the next `next`
    // then records that line as `lastline`.
    let mut l = Lexer::new(b"{x\n\n= 1}", b"=t");
    l.next().unwrap();
    l.next().unwrap();
    assert_eq!((l.tok, l.line), (Tok::Name, 1));
    assert_eq!(l.lookahead().unwrap(), Tok::Char(b'='));
    assert_eq!(l.line, 3);
    assert_eq!(l.sval, b"x");
    l.next().unwrap();
    assert_eq!((l.tok, l.lastline, l.line), (Tok::Char(b'='), 3, 3));
    // Lexical errors surface from `lookahead`.
    let mut l = Lexer::new(b"a 'b", b"=t");
    l.next().unwrap();
    assert_eq!(
        l.lookahead().unwrap_err().msg,
        "t:1: unfinished string near '<eof>'"
    );
    assert_eq!(l.sval, b"a");
}

// ---- robustness ----

#[test]
fn large_inputs_do_not_overflow() {
    let big = 1 << 20;
    let cases: Vec<Vec<u8>> = vec![
        vec![b'['; big],
        [b"[".as_slice(), &vec![b'='; big]].concat(),
        [b"[".as_slice(), &vec![b'='; big], b"[".as_slice()].concat(),
        [b"--[".as_slice(), &vec![b'='; big], b"[".as_slice()].concat(),
        [b"'".as_slice(), &b"\\z".repeat(big / 2)].concat(),
        [b"[[".as_slice(), &b"]=".repeat(big / 2)].concat(),
        b"]=]".repeat(big / 3),
        vec![b'1'; big],
        [b"0x".as_slice(), &vec![b'f'; big]].concat(),
        vec![b'.'; big],
        vec![b'-'; big],
        vec![b'\n'; big],
        vec![b'\r'; big],
        vec![0u8; big],
        vec![0xff; big],
        b"a.".repeat(big / 2),
        b"\"\\u{".repeat(big / 4),
    ];
    for src in &cases {
        let mut l = Lexer::new(src, b"=big");
        let mut n = 0usize;
        loop {
            match l.next() {
                Err(_) => break,
                Ok(()) if l.tok == Tok::Eof => break,
                Ok(()) => {
                    let _ = l.error_near("x");
                    n += 1;
                    assert!(n <= src.len() + 1);
                }
            }
        }
    }
    let newlines = vec![b'\n'; big];
    let mut l = Lexer::new(&newlines, b"=t");
    l.next().unwrap();
    assert_eq!(l.line as usize, big + 1);
}

/// Lex to the end or the first error, checking invariants; returns the token count.
fn lex_all(src: &[u8]) -> usize {
    let mut l = Lexer::new(src, src);
    let mut n = 0usize;
    let mut last_line = 1;
    loop {
        let r = if n % 3 == 1 {
            l.lookahead().map(|_| ()).and_then(|_| l.next())
        } else {
            l.next()
        };
        if let Err(e) = r {
            assert!(e.msg.contains(':'));
            return n;
        }
        assert!(l.line >= last_line && l.lastline <= l.line);
        last_line = l.line;
        let _ = l.error_near("unexpected symbol");
        let _ = Lexer::token_name(l.tok);
        if l.tok == Tok::Eof {
            return n;
        }
        n += 1;
        assert!(n <= src.len(), "more tokens than bytes");
    }
}

/// Pieces that exercise the lexer's multi-byte paths when glued together at random.
const FRAGMENTS: &[&[u8]] = &[
    b"[", b"]", b"=", b"[[", b"]]", b"[=[", b"]=]", b"--", b"'", b"\"", b"\\", b"\\z", b"\\u{",
    b"}", b"\\x", b"\n", b"\r", b" ", b"0x", b"1", b"e", b"p", b".", b"+", b"-", b"LL", b"U", b"i",
    b"a", b"end", b"#", b"\0", b"\xff", b"0b", b"9", b"f",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_terminate(src in proptest::collection::vec(any::<u8>(), 0..400)) {
        lex_all(&src);
        let _ = chunk_id(&src);
    }

    #[test]
    fn lua_like_fragments_terminate(idx in proptest::collection::vec(0..FRAGMENTS.len(), 0..60)) {
        let src: Vec<u8> = idx.iter().flat_map(|&i| FRAGMENTS[i].iter().copied()).collect();
        lex_all(&src);
    }
}
