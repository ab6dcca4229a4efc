//! The lexer of C declarations: identifiers, integer and character constants, string
//! literals, punctuators, comments, line continuations and `#` lines.
//!
//! Numbers follow LuaJIT's C lexer, not ISO C: integers only (decimal, `0x` hex, `0b`
//! binary, leading-zero octal), at most 32 bits, optional `u`/`U` suffix and nothing
//! else (`10l`, `10ULL`, `1e3` are "malformed number"). A decimal constant above
//! `INT32_MAX` is unsigned.

use crate::error::CError;

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Eof,
    Ident(String),
    /// An integer or character constant: its 32 bits, and whether its type is unsigned.
    Int {
        value: u32,
        unsigned: bool,
    },
    /// A string literal's bytes (adjacent literals are separate tokens).
    Str(Vec<u8>),
    /// A punctuator (`...` is three `.` tokens, as LuaJIT shows them).
    Punct(&'static str),
    /// A byte that starts no token (`@`, a control character, a non-ASCII byte).
    Other(u8),
}

const PUNCTS: [&str; 35] = [
    "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "(", ")", "[", "]", "{", "}",
    ".", ",", ";", ":", "?", "*", "&", "+", "-", "~", "!", "/", "%", "<", ">", "^", "|", "#",
];
const PUNCT_EQ: &str = "=";
const PUNCT_DOLLAR: &str = "$";

pub struct Lexer<'s> {
    src: &'s [u8],
    pos: usize,
    /// The line of the current position (1-based).
    pub line: u32,
    /// The source text of the last token, for "near '...'" in error messages.
    pub text: String,
}

impl<'s> Lexer<'s> {
    pub fn new(src: &'s str) -> Lexer<'s> {
        Lexer {
            src: src.as_bytes(),
            pos: 0,
            line: 1,
            text: String::new(),
        }
    }

    /// The byte at `pos + ahead`, line continuations (`\` newline) skipped.
    fn peek_at(&self, ahead: usize) -> Option<u8> {
        let mut pos = self.pos;
        let mut left = ahead;
        loop {
            pos = self.skip_continuations(pos);
            let byte = *self.src.get(pos)?;
            if left == 0 {
                return Some(byte);
            }
            left -= 1;
            pos += 1;
        }
    }

    fn skip_continuations(&self, mut pos: usize) -> usize {
        while self.src.get(pos) == Some(&b'\\') {
            match self.src.get(pos + 1) {
                Some(b'\n') => pos += 2,
                Some(b'\r') if self.src.get(pos + 2) == Some(&b'\n') => pos += 3,
                _ => break,
            }
        }
        pos
    }

    fn peek(&self) -> Option<u8> {
        self.peek_at(0)
    }

    /// Consumes one byte (after any line continuations), counting lines.
    fn bump(&mut self) -> Option<u8> {
        let start = self.pos;
        self.pos = self.skip_continuations(self.pos);
        self.line += self.src[start..self.pos]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u32;
        let byte = *self.src.get(self.pos)?;
        self.pos += 1;
        if byte == b'\n' {
            self.line += 1;
        }
        Some(byte)
    }

    fn error(&self, message: &str) -> CError {
        CError::near(message, &self.text, self.line)
    }

    /// Skips whitespace and comments. A `/*` without its `*/` runs to the end.
    fn skip_space(&mut self) {
        loop {
            match self.peek() {
                Some(b) if b.is_ascii_whitespace() => {
                    self.bump();
                }
                Some(b'/') if self.peek_at(1) == Some(b'/') => {
                    while !matches!(self.peek(), None | Some(b'\n')) {
                        self.bump();
                    }
                }
                Some(b'/') if self.peek_at(1) == Some(b'*') => {
                    self.bump();
                    self.bump();
                    while let Some(b) = self.bump() {
                        if b == b'*' && self.peek() == Some(b'/') {
                            self.bump();
                            break;
                        }
                    }
                }
                _ => return,
            }
        }
    }

    /// The next token; `self.text` is set to its display text.
    pub fn next(&mut self) -> Result<Tok, CError> {
        self.skip_space();
        let Some(first) = self.peek() else {
            self.text = "<eof>".to_string();
            return Ok(Tok::Eof);
        };
        if first.is_ascii_alphabetic() || first == b'_' {
            let word = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_');
            self.text = word.clone();
            return Ok(Tok::Ident(word));
        }
        if first.is_ascii_digit() {
            let word = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_');
            self.text = word.clone();
            return parse_number(&word).ok_or_else(|| self.error("malformed number"));
        }
        match first {
            b'\'' | b'"' => self.quoted(first),
            _ => {
                let second = self.peek_at(1);
                let two = second.map(|s| [first, s]);
                if let Some(p) =
                    two.and_then(|two| PUNCTS[..10].iter().find(|p| p.as_bytes() == two))
                {
                    self.bump();
                    self.bump();
                    self.text = p.to_string();
                    return Ok(Tok::Punct(p));
                }
                self.bump();
                let punct = PUNCTS[10..]
                    .iter()
                    .copied()
                    .chain([PUNCT_EQ, PUNCT_DOLLAR])
                    .find(|p| p.as_bytes() == [first]);
                self.text = if first.is_ascii_control() {
                    format!("char({first})")
                } else {
                    String::from_utf8_lossy(&[first]).into_owned()
                };
                Ok(punct.map_or(Tok::Other(first), Tok::Punct))
            }
        }
    }

    /// Skips to the end of the current line (the rest of an unknown `#pragma`).
    pub fn skip_line(&mut self) {
        while !matches!(self.peek(), None | Some(b'\n')) {
            self.bump();
        }
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> String {
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            if !keep(b) {
                break;
            }
            out.push(b);
            self.bump();
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// A character constant (its value is the first byte, sign-extended as a `char`) or
    /// a string literal.
    fn quoted(&mut self, quote: u8) -> Result<Tok, CError> {
        self.bump();
        let mut bytes = Vec::new();
        loop {
            match self.bump() {
                None | Some(b'\n') => {
                    self.text = "<eof>".to_string();
                    return Err(self.error("unfinished string"));
                }
                Some(b) if b == quote => break,
                Some(b'\\') => {
                    let escaped = self.escape()?;
                    bytes.push(escaped);
                }
                Some(b) => bytes.push(b),
            }
        }
        if quote == b'\'' && bytes.len() != 1 {
            // Multi-character constants are an error; LuaJIT names the token before.
            return Err(self.error("''' expected"));
        }
        self.text = String::from_utf8_lossy(&bytes).into_owned();
        if quote == b'"' {
            return Ok(Tok::Str(bytes));
        }
        let first = bytes[0];
        Ok(Tok::Int {
            value: first as i8 as i32 as u32,
            unsigned: false,
        })
    }

    fn escape(&mut self) -> Result<u8, CError> {
        let Some(b) = self.bump() else {
            self.text = "<eof>".to_string();
            return Err(self.error("unfinished string"));
        };
        Ok(match b {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'v' => 11,
            b'e' => 27,
            b'x' => {
                let mut value: u32 = 0;
                while let Some(d) = self.peek().and_then(|d| (d as char).to_digit(16)) {
                    self.bump();
                    value = (value << 4 | d) & 0xff;
                }
                value as u8
            }
            b'0'..=b'7' => {
                let mut value = (b - b'0') as u32;
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            self.bump();
                            value = value * 8 + (d - b'0') as u32;
                        }
                        _ => break,
                    }
                }
                value as u8
            }
            other => other,
        })
    }
}

/// Parses an integer constant as LuaJIT's C lexer does (see the module notes).
fn parse_number(word: &str) -> Option<Tok> {
    let (body, unsigned_suffix) = match word.strip_suffix(['u', 'U']) {
        Some(body) => (body, true),
        None => (word, false),
    };
    let lower = body.to_ascii_lowercase();
    let (digits, radix) = if let Some(hex) = lower.strip_prefix("0x") {
        (hex, 16)
    } else if let Some(bin) = lower.strip_prefix("0b") {
        (bin, 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (&lower[1..], 8)
    } else {
        (lower.as_str(), 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let value = u64::from_str_radix(digits, radix).ok()?;
    let value = u32::try_from(value).ok()?;
    Some(Tok::Int {
        value,
        unsigned: unsigned_suffix || value > i32::MAX as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Vec<Tok> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let tok = lexer.next().unwrap();
            if tok == Tok::Eof {
                return out;
            }
            out.push(tok);
        }
    }

    fn int(value: u32, unsigned: bool) -> Tok {
        Tok::Int { value, unsigned }
    }

    #[test]
    fn numbers_follow_luajit_rules() {
        assert_eq!(
            tokens("017 0X1f 0b101 10u"),
            vec![int(15, false), int(31, false), int(5, false), int(10, true)]
        );
        assert_eq!(
            tokens("2147483648 0xffffffff"),
            vec![int(0x8000_0000, true), int(u32::MAX, true)]
        );
        for bad in [
            "10l",
            "10ULL",
            "1e3",
            "08",
            "0x",
            "4294967296",
            "1_0",
            "10uu",
        ] {
            let err = Lexer::new(bad).next().unwrap_err();
            assert_eq!(err.message, format!("malformed number near '{bad}'"));
        }
    }

    #[test]
    fn chars_strings_comments_and_continuations() {
        assert_eq!(
            tokens(r"'\x41' '\101' '\'' '\n'"),
            vec![
                int(65, false),
                int(65, false),
                int(39, false),
                int(10, false)
            ]
        );
        assert_eq!(tokens("\"a\\tb\""), vec![Tok::Str(b"a\tb".to_vec())]);
        assert_eq!(
            tokens("ch\\\nar /* x */ // y\n"),
            vec![Tok::Ident("char".into())]
        );
        assert_eq!(
            tokens("a->b..."),
            vec![
                Tok::Ident("a".into()),
                Tok::Punct("->"),
                Tok::Ident("b".into()),
                Tok::Punct("."),
                Tok::Punct("."),
                Tok::Punct(".")
            ]
        );
    }

    #[test]
    fn lines_are_counted_through_comments() {
        let mut lexer = Lexer::new("/*\n\n*/ x");
        lexer.next().unwrap();
        assert_eq!(lexer.line, 3);
    }
}
