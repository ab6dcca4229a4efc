//! The lexer: Lua 5.1 tokens plus LuaJIT's extensions.
//!
//! The parser drives it one token at a time (`next`), with one token of lookahead
//! (`lookahead`). Errors are [`SyntaxError`]s already formatted the way luajit prints
//! them: `chunkname:line: message near 'token'`.
//!
//! Everything here was checked against the luajit 2.1 binary (2022 build):
//!
//! - Source may start with a UTF-8 byte order mark (skipped), then a `#` line (skipped;
//!   its newline still counts). `\n`, `\r`, `\r\n` and `\n\r` each end one line.
//! - Names are `[A-Za-z_][A-Za-z0-9_]*` where every byte >= 0x80 also counts as a letter.
//! - A number is scanned greedily (name bytes, `.`, and a sign right after `e`/`E`, or
//!   after `p`/`P` in a `0x` number) and then must be, as a whole, a decimal, `0x` hex
//!   (fraction and `p` exponent allowed) or `0b` binary integer, optionally followed by
//!   `LL`/`ULL`/`LLU` (integers only, any case) or `i`/`I` (imaginary); anything else
//!   is `malformed number near '<all the scanned text>'`. Exponents above 1048575 are
//!   malformed; binary literals of more than 64 significant bits are malformed; `LL`
//!   literals must fit in 64 bits (and wrap to `i64`).
//! - Short strings: `\a \b \f \n \r \t \v \\ \" \' \<newline>`, `\ddd` (<= 255), `\xXX`,
//!   `\z`, `\u{X...}` (<= 0x10FFFF, no surrogates). A raw newline ends the string with
//!   `unfinished string near '<quote and text so far>'`.
//! - Long brackets of any level; the first newline is dropped and every newline becomes
//!   `\n`.

use std::borrow::Cow;

/// Token kinds. Literal payloads live in the lexer (`sval`, `nval`, `cval`) while the
/// token is current.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    // Reserved words.
    And,
    Break,
    Do,
    Else,
    Elseif,
    End,
    False,
    For,
    Function,
    Goto,
    If,
    In,
    Local,
    Nil,
    Not,
    Or,
    Repeat,
    Return,
    Then,
    True,
    Until,
    While,
    // Multi-character operators.
    /// `..`
    Concat,
    /// `...`
    Dots,
    /// `==`
    Eq,
    /// `>=`
    Ge,
    /// `<=`
    Le,
    /// `~=`
    Ne,
    /// `::`
    Label,
    // Literals.
    /// A name; its bytes are in `sval`.
    Name,
    /// A string literal; its (unescaped) bytes are in `sval`.
    String,
    /// A number literal; its value is in `nval`.
    Number,
    /// An FFI literal (`12LL`, `0xffULL`, `2i`); its value is in `cval`.
    Cdata,
    Eof,
    /// Any other single character: `+ - * / % ^ # = < > ( ) { } [ ] ; : , .`
    Char(u8),
}

/// The value of an FFI number literal.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum CdataLit {
    /// `LL`: int64_t (values that overflow wrap, as in luajit).
    I64(i64),
    /// `ULL` / `LLU`: uint64_t.
    U64(u64),
    /// `i`: complex with this imaginary part (real part 0).
    Imag(f64),
}

/// A syntax (or lexical) error, formatted as luajit prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// The whole message, e.g. `t.lua:3: unexpected symbol near '='`.
    pub msg: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for SyntaxError {}

/// `LUA_IDSIZE`: chunk ids are at most this long including C's terminating NUL.
const IDSIZE: usize = 60;

/// The printable chunk name luajit uses in messages (`LUA_IDSIZE` 60): `@name` gives
/// `name` (or `...` and its last 56 bytes when 60 or longer); `=name` gives `name` cut to
/// 59 bytes; anything else gives `[string "first line"]`, at most 48 bytes of the text in
/// full, else its first 45 followed by `...` (a text cut at a newline also gets `...`).
///
/// The name is treated as a C string: it ends at its first NUL byte. "Line" here means
/// up to the first control byte (below 0x20; DEL and bytes >= 0x80 do not count). Bytes
/// that are not UTF-8 are replaced by U+FFFD.
pub fn chunk_id(chunkname: &[u8]) -> String {
    let name = match chunkname.iter().position(|&b| b == 0) {
        Some(n) => &chunkname[..n],
        None => chunkname,
    };
    match name.first() {
        Some(b'=') => {
            let s = &name[1..];
            lossy(&s[..s.len().min(IDSIZE - 1)]).into_owned()
        }
        Some(b'@') => {
            let s = &name[1..];
            if s.len() < IDSIZE {
                lossy(s).into_owned()
            } else {
                // "..." plus the tail, 59 bytes in all.
                let tail = &s[s.len() - (IDSIZE - 4)..];
                format!("...{}", lossy(tail))
            }
        }
        _ => {
            // [string "..."] takes 15 bytes of the 59 (with the "..." 45 of text remain).
            let line_end = name.iter().position(|&b| b < 0x20).unwrap_or(name.len());
            if line_end == name.len() && name.len() <= IDSIZE - 12 {
                format!("[string \"{}\"]", lossy(name))
            } else {
                let cut = line_end.min(IDSIZE - 15);
                format!("[string \"{}...\"]", lossy(&name[..cut]))
            }
        }
    }
}

fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

// Byte classes.
const C_IDENT: u8 = 1; // [A-Za-z0-9_] and >= 0x80
const C_DIGIT: u8 = 2; // [0-9]
const C_XDIGIT: u8 = 4; // [0-9A-Fa-f]
const C_SPACE: u8 = 8; // space \t \n \v \f \r
const C_STREND: u8 = 16; // bytes that stop a run of plain string bytes: \ \n \r ' "
const C_LONGEND: u8 = 32; // bytes that stop a run of long string bytes: ] \n \r

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut k = 0;
        if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            k |= C_IDENT;
        }
        if c.is_ascii_digit() {
            k |= C_DIGIT;
        }
        if c.is_ascii_hexdigit() {
            k |= C_XDIGIT;
        }
        if matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            k |= C_SPACE;
        }
        if matches!(c, b'\\' | b'\n' | b'\r' | b'\'' | b'"') {
            k |= C_STREND;
        }
        if matches!(c, b']' | b'\n' | b'\r') {
            k |= C_LONGEND;
        }
        t[i] = k;
        i += 1;
    }
    t
};

#[inline(always)]
fn class(c: u8, k: u8) -> bool {
    CLASS[c as usize] & k != 0
}

/// What the error text of the current token is built from.
#[derive(Copy, Clone, Debug)]
enum Text {
    /// Derived from the token kind alone.
    Kind,
    /// The source bytes `start..end` (numbers).
    Span(usize, usize),
    /// A quoted string: the quote, then `sval`, then the quote.
    Short(u8),
    /// A long string of this level: `[==[`, `sval`, `]==]`.
    Long(usize),
}

/// The literal payload of a token (swapped between the current and the lookahead token).
struct Payload {
    sval: Vec<u8>,
    nval: f64,
    cval: CdataLit,
    text: Text,
}

pub struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    /// Name used in messages (already passed through `chunk_id`).
    chunk: String,
    /// The current token.
    pub tok: Tok,
    /// The lookahead token, if `lookahead` was called; its payload is in `ahead_payload`.
    ahead: Option<Tok>,
    /// luajit's `linenumber`: the line the lexer has reached, i.e. the line where the
    /// current token ends (a multi-line long string ends on its last line). Exactly as in
    /// luajit, a pending lookahead token has already advanced it to the lookahead's line.
    /// Lexical and `error_near` messages use it.
    pub line: u32,
    /// luajit's `lastline`: the value `line` had when `next` was last called, i.e. the line
    /// of the previous token (the parser uses it for line info and messages).
    pub lastline: u32,
    /// Bytes of the current Name or String token (for reserved words: the word itself,
    /// which lets the parser use `goto` as a name).
    pub sval: Vec<u8>,
    /// Value of the current Number token.
    pub nval: f64,
    /// Value of the current Cdata token.
    pub cval: CdataLit,
    /// How to print the current token in messages.
    text: Text,
    /// Payload of the lookahead token while it is pending.
    ahead_payload: Payload,
    /// Scratch buffer for unusual number literals.
    numbuf: Vec<u8>,
}

/// Result of converting a number literal.
enum NumLit {
    Num(f64),
    Cdata(CdataLit),
}

impl<'a> Lexer<'a> {
    /// A lexer over `src` for a chunk called `chunkname` (as given to `load`: `@file`,
    /// `=name` or the source text itself). Skips a UTF-8 byte order mark and then a
    /// first line starting with `#` (its newline still counts as a line).
    /// The first token is not read yet: call `next` once before using `tok`.
    ///
    /// (A source starting with ESC is precompiled bytecode in luajit; the loader must
    /// check for that before lexing.)
    pub fn new(src: &'a [u8], chunkname: &[u8]) -> Lexer<'a> {
        let mut pos = 0;
        if src.starts_with(b"\xEF\xBB\xBF") {
            pos = 3;
        }
        if src.get(pos) == Some(&b'#') {
            while pos < src.len() && src[pos] != b'\n' && src[pos] != b'\r' {
                pos += 1;
            }
        }
        Lexer {
            src,
            pos,
            chunk: chunk_id(chunkname),
            tok: Tok::Eof,
            ahead: None,
            line: 1,
            lastline: 1,
            sval: Vec::new(),
            nval: 0.0,
            cval: CdataLit::I64(0),
            text: Text::Kind,
            ahead_payload: Payload {
                sval: Vec::new(),
                nval: 0.0,
                cval: CdataLit::I64(0),
                text: Text::Kind,
            },
            numbuf: Vec::new(),
        }
    }

    /// Advance to the next token (the lookahead one if there is one).
    // The parser's interface: not an iterator (it can fail and never ends by itself).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<(), SyntaxError> {
        self.lastline = self.line;
        if let Some(t) = self.ahead.take() {
            self.swap_payload();
            self.tok = t;
        } else {
            self.tok = self.scan()?;
        }
        Ok(())
    }

    /// Peek at the token after the current one. Only its kind is available; its payload
    /// becomes visible when `next` makes it current.
    pub fn lookahead(&mut self) -> Result<Tok, SyntaxError> {
        if let Some(t) = self.ahead {
            return Ok(t);
        }
        self.swap_payload();
        let r = self.scan();
        self.swap_payload();
        let t = r?;
        self.ahead = Some(t);
        Ok(t)
    }

    /// `chunk:line: msg near 'current token'` (luajit's token text: the literal source
    /// text for names and numbers, the quoted unescaped text for strings, `<eof>` at the
    /// end). As in luajit, the text is cut at a NUL byte, and a NUL character token gives
    /// no `near` part at all.
    pub fn error_near(&self, msg: &str) -> SyntaxError {
        let text: Option<Cow<'_, [u8]>> = match self.tok {
            Tok::Name => Some(Cow::Borrowed(&self.sval)),
            Tok::Number | Tok::Cdata => match self.text {
                Text::Span(s, e) => Some(Cow::Borrowed(&self.src[s..e])),
                _ => Some(Cow::Borrowed(b"<number>")),
            },
            Tok::String => Some(Cow::Owned(string_text(self.text, &self.sval))),
            Tok::Char(0) => None,
            t => Some(Cow::Owned(Self::token_name(t).into_bytes())),
        };
        match text {
            Some(t) => self.err_text(msg, &t),
            None => self.error_at(msg, self.line),
        }
    }

    /// `chunk:line: msg` without a token (e.g. `undefined label 'x'`), at `line`.
    pub fn error_at(&self, msg: &str, line: u32) -> SyntaxError {
        SyntaxError {
            msg: format!("{}:{}: {}", self.chunk, line, msg),
        }
    }

    /// The text of a token kind as luajit names it in messages (`'end'`, `'<eof>'`,
    /// `'<name>'`, `'=='`, `'='`): for `'end' expected` and similar.
    /// Control characters are named `char(N)` as in luajit.
    pub fn token_name(tok: Tok) -> String {
        let s = match tok {
            Tok::And => "and",
            Tok::Break => "break",
            Tok::Do => "do",
            Tok::Else => "else",
            Tok::Elseif => "elseif",
            Tok::End => "end",
            Tok::False => "false",
            Tok::For => "for",
            Tok::Function => "function",
            Tok::Goto => "goto",
            Tok::If => "if",
            Tok::In => "in",
            Tok::Local => "local",
            Tok::Nil => "nil",
            Tok::Not => "not",
            Tok::Or => "or",
            Tok::Repeat => "repeat",
            Tok::Return => "return",
            Tok::Then => "then",
            Tok::True => "true",
            Tok::Until => "until",
            Tok::While => "while",
            Tok::Concat => "..",
            Tok::Dots => "...",
            Tok::Eq => "==",
            Tok::Ge => ">=",
            Tok::Le => "<=",
            Tok::Ne => "~=",
            Tok::Label => "::",
            Tok::Name => "<name>",
            Tok::String => "<string>",
            Tok::Number | Tok::Cdata => "<number>",
            Tok::Eof => "<eof>",
            Tok::Char(c) => {
                return if c < 0x20 || c == 0x7f {
                    format!("char({c})")
                } else {
                    (c as char).to_string()
                };
            }
        };
        s.to_string()
    }

    /// The chunk name used in messages.
    pub fn chunk(&self) -> &str {
        &self.chunk
    }

    // ---- internals ----

    fn swap_payload(&mut self) {
        let p = &mut self.ahead_payload;
        std::mem::swap(&mut self.sval, &mut p.sval);
        std::mem::swap(&mut self.nval, &mut p.nval);
        std::mem::swap(&mut self.cval, &mut p.cval);
        std::mem::swap(&mut self.text, &mut p.text);
    }

    /// `chunk:line: msg near 'text'` at the lexer's line.
    fn err_text(&self, msg: &str, text: &[u8]) -> SyntaxError {
        // luajit formats the token text as a C string.
        let text = match text.iter().position(|&b| b == 0) {
            Some(n) => &text[..n],
            None => text,
        };
        SyntaxError {
            msg: format!(
                "{}:{}: {} near '{}'",
                self.chunk,
                self.line,
                msg,
                lossy(text)
            ),
        }
    }

    fn err_eof(&self, msg: &str) -> SyntaxError {
        self.err_text(msg, b"<eof>")
    }

    /// Error inside a short string: near the quote and the text so far.
    fn err_string(&self, msg: &str, quote: u8) -> SyntaxError {
        let mut t = Vec::with_capacity(self.sval.len() + 1);
        t.push(quote);
        t.extend_from_slice(&self.sval);
        self.err_text(msg, &t)
    }

    #[inline(always)]
    fn peek(&self, off: usize) -> u8 {
        // 0 past the end: callers never treat 0 as part of a multi-byte token.
        match self.src.get(self.pos + off) {
            Some(&c) => c,
            None => 0,
        }
    }

    /// Consume a newline sequence (`\n`, `\r`, `\n\r` or `\r\n`) at `pos`.
    #[inline]
    fn newline(&mut self) {
        let c = self.src[self.pos];
        self.pos += 1;
        if let Some(&d) = self.src.get(self.pos) {
            if (d == b'\n' || d == b'\r') && d != c {
                self.pos += 1;
            }
        }
        self.line = self.line.saturating_add(1);
    }

    /// Scan one token, filling the current payload.
    fn scan(&mut self) -> Result<Tok, SyntaxError> {
        self.text = Text::Kind;
        let src = self.src;
        loop {
            let Some(&c) = src.get(self.pos) else {
                return Ok(Tok::Eof);
            };
            match c {
                b'\n' | b'\r' => self.newline(),
                b' ' | b'\t' | 0x0b | 0x0c => self.pos += 1,
                b'a'..=b'z' | b'A'..=b'Z' | b'_' | 0x80..=0xff => return Ok(self.name()),
                b'0'..=b'9' => return self.number(),
                b'-' => {
                    if self.peek(1) != b'-' {
                        self.pos += 1;
                        return Ok(Tok::Char(b'-'));
                    }
                    self.pos += 2;
                    if self.peek(0) == b'[' {
                        if let Some(level) = self.long_open() {
                            self.long_body(level, false)?;
                            continue;
                        }
                    }
                    // Line comment (also a `--[` not followed by a long bracket).
                    let rest = &src[self.pos..];
                    self.pos += rest
                        .iter()
                        .position(|&b| b == b'\n' || b == b'\r')
                        .unwrap_or(rest.len());
                }
                b'[' => {
                    let start = self.pos;
                    if let Some(level) = self.long_open() {
                        self.long_body(level, true)?;
                        self.text = Text::Long(level);
                        return Ok(Tok::String);
                    }
                    let level = self.pos - start - 1;
                    if level == 0 {
                        return Ok(Tok::Char(b'['));
                    }
                    return Err(
                        self.err_text("invalid long string delimiter", &src[start..self.pos])
                    );
                }
                b'=' => return Ok(self.op2(b'=', Tok::Eq, b'=')),
                b'<' => return Ok(self.op2(b'=', Tok::Le, b'<')),
                b'>' => return Ok(self.op2(b'=', Tok::Ge, b'>')),
                b'~' => return Ok(self.op2(b'=', Tok::Ne, b'~')),
                b':' => return Ok(self.op2(b':', Tok::Label, b':')),
                b'"' | b'\'' => return self.string(c),
                b'.' => {
                    let d = self.peek(1);
                    if d == b'.' {
                        if self.peek(2) == b'.' {
                            self.pos += 3;
                            return Ok(Tok::Dots);
                        }
                        self.pos += 2;
                        return Ok(Tok::Concat);
                    }
                    if d.is_ascii_digit() {
                        return self.number();
                    }
                    self.pos += 1;
                    return Ok(Tok::Char(b'.'));
                }
                _ => {
                    self.pos += 1;
                    return Ok(Tok::Char(c));
                }
            }
        }
    }

    /// A one- or two-character operator: `c` alone, or `c` followed by `second`.
    #[inline(always)]
    fn op2(&mut self, second: u8, two: Tok, c: u8) -> Tok {
        if self.peek(1) == second {
            self.pos += 2;
            two
        } else {
            self.pos += 1;
            Tok::Char(c)
        }
    }

    fn name(&mut self) -> Tok {
        let src = self.src;
        let start = self.pos;
        let mut p = start + 1;
        while p < src.len() && class(src[p], C_IDENT) {
            p += 1;
        }
        self.pos = p;
        let word = &src[start..p];
        self.sval.clear();
        self.sval.extend_from_slice(word);
        reserved(word)
    }

    /// At `[`: if a long bracket `[=*[` opens here, consume it and return its level.
    /// Otherwise consume `[` and the `=`s and return None (the caller decides).
    fn long_open(&mut self) -> Option<usize> {
        let src = self.src;
        let mut p = self.pos + 1;
        while p < src.len() && src[p] == b'=' {
            p += 1;
        }
        let level = p - self.pos - 1;
        if p < src.len() && src[p] == b'[' {
            self.pos = p + 1;
            Some(level)
        } else {
            self.pos = p;
            None
        }
    }

    /// The body of a long string or comment after its opening bracket, up to and
    /// including the closing bracket. Stores the text in `sval` if `keep`.
    fn long_body(&mut self, level: usize, keep: bool) -> Result<(), SyntaxError> {
        let src = self.src;
        if keep {
            self.sval.clear();
        }
        // A newline right after the opening bracket is dropped.
        if let Some(&(b'\n' | b'\r')) = src.get(self.pos) {
            self.newline();
        }
        loop {
            // A run of plain bytes.
            let start = self.pos;
            let mut p = start;
            while p < src.len() && !class(src[p], C_LONGEND) {
                p += 1;
            }
            if keep {
                self.sval.extend_from_slice(&src[start..p]);
            }
            self.pos = p;
            let Some(&c) = src.get(p) else {
                return Err(self.err_eof(if keep {
                    "unfinished long string"
                } else {
                    "unfinished long comment"
                }));
            };
            if c == b']' {
                let mut q = p + 1;
                while q < src.len() && src[q] == b'=' {
                    q += 1;
                }
                if q - p - 1 == level && q < src.len() && src[q] == b']' {
                    self.pos = q + 1;
                    return Ok(());
                }
                // Not the closing bracket: `]` and the `=`s are text; the byte after
                // them may start the real closing bracket.
                if keep {
                    self.sval.extend_from_slice(&src[p..q]);
                }
                self.pos = q;
            } else {
                self.newline();
                if keep {
                    self.sval.push(b'\n');
                }
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<Tok, SyntaxError> {
        let src = self.src;
        self.sval.clear();
        self.pos += 1;
        loop {
            let start = self.pos;
            let mut p = start;
            while p < src.len() && !class(src[p], C_STREND) {
                p += 1;
            }
            self.sval.extend_from_slice(&src[start..p]);
            self.pos = p;
            let Some(&c) = src.get(p) else {
                return Err(self.err_eof("unfinished string"));
            };
            match c {
                b'\n' | b'\r' => return Err(self.err_string("unfinished string", quote)),
                b'\\' => self.escape(quote)?,
                _ => {
                    self.pos += 1;
                    if c == quote {
                        self.text = Text::Short(quote);
                        return Ok(Tok::String);
                    }
                    self.sval.push(c);
                }
            }
        }
    }

    /// An escape sequence at `pos` (the backslash).
    fn escape(&mut self, quote: u8) -> Result<(), SyntaxError> {
        let src = self.src;
        let Some(&c) = src.get(self.pos + 1) else {
            // The string is unfinished; the caller reports it at the end of input.
            self.pos += 1;
            return Ok(());
        };
        self.pos += 2;
        let v = match c {
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 11,
            b'\\' | b'"' | b'\'' => c,
            b'\n' | b'\r' => {
                self.pos -= 1;
                self.newline();
                b'\n'
            }
            b'x' => {
                let (h, l) = (self.peek(0), self.peek(1));
                match (hexval(h), hexval(l)) {
                    (Some(h), Some(l)) => {
                        self.pos += 2;
                        (h << 4) | l
                    }
                    _ => return Err(self.err_string("invalid escape sequence", quote)),
                }
            }
            b'z' => {
                while let Some(&d) = src.get(self.pos) {
                    if d == b'\n' || d == b'\r' {
                        self.newline();
                    } else if class(d, C_SPACE) {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                return Ok(());
            }
            b'u' => {
                if self.peek(0) != b'{' {
                    return Err(self.err_string("invalid escape sequence", quote));
                }
                self.pos += 1;
                let mut cp: u32 = 0;
                let mut ndig = 0;
                while let Some(d) = src.get(self.pos).and_then(|&d| hexval(d)) {
                    cp = (cp << 4) | d as u32;
                    if cp > 0x10ffff {
                        return Err(self.err_string("invalid escape sequence", quote));
                    }
                    ndig += 1;
                    self.pos += 1;
                }
                if ndig == 0 || self.peek(0) != b'}' || (0xd800..0xe000).contains(&cp) {
                    return Err(self.err_string("invalid escape sequence", quote));
                }
                self.pos += 1;
                push_utf8(&mut self.sval, cp);
                return Ok(());
            }
            b'0'..=b'9' => {
                let mut v = (c - b'0') as u32;
                for _ in 0..2 {
                    let d = self.peek(0);
                    if !d.is_ascii_digit() {
                        break;
                    }
                    v = v * 10 + (d - b'0') as u32;
                    self.pos += 1;
                }
                if v > 255 {
                    return Err(self.err_string("invalid escape sequence", quote));
                }
                v as u8
            }
            _ => return Err(self.err_string("invalid escape sequence", quote)),
        };
        self.sval.push(v);
        Ok(())
    }

    /// A number literal starting at `pos` (a digit, or `.` and a digit).
    fn number(&mut self) -> Result<Tok, SyntaxError> {
        let src = self.src;
        let start = self.pos;
        // Exponent letter after which a sign belongs to the number.
        let xp = if src[start] == b'0' && (self.peek(1) | 0x20) == b'x' {
            b'p'
        } else {
            b'e'
        };
        let mut p = start;
        let mut prev = 0u8;
        while p < src.len() {
            let c = src[p];
            if class(c, C_IDENT) || c == b'.' || ((c == b'+' || c == b'-') && (prev | 0x20) == xp) {
                prev = c;
                p += 1;
            } else {
                break;
            }
        }
        self.pos = p;
        self.text = Text::Span(start, p);
        let text = &src[start..p];
        match self.convert_number(text) {
            Some(NumLit::Num(v)) => {
                self.nval = v;
                Ok(Tok::Number)
            }
            Some(NumLit::Cdata(c)) => {
                self.cval = c;
                Ok(Tok::Cdata)
            }
            None => Err(self.err_text("malformed number", text)),
        }
    }

    /// Convert the scanned text of a number literal; None if it is malformed.
    fn convert_number(&mut self, s: &[u8]) -> Option<NumLit> {
        // Fast path: a short plain decimal integer.
        if s.len() <= 15 && s.iter().all(|c| c.is_ascii_digit()) {
            let v = s.iter().fold(0u64, |v, &c| v * 10 + (c - b'0') as u64);
            return Some(NumLit::Num(v as f64));
        }
        let (radix, body) = match s {
            [b'0', b'x' | b'X', rest @ ..] => (16, rest),
            [b'0', b'b' | b'B', rest @ ..] => (2, rest),
            _ => (10, s),
        };
        // Mantissa: digits with at most one '.'.
        let isdig = |c: u8| match radix {
            16 => class(c, C_XDIGIT),
            10 => c.is_ascii_digit(),
            _ => c == b'0' || c == b'1',
        };
        let mut i = 0;
        while i < body.len() && isdig(body[i]) {
            i += 1;
        }
        let int_end = i;
        let mut frac = None;
        if radix != 2 && i < body.len() && body[i] == b'.' {
            i += 1;
            let fs = i;
            while i < body.len() && isdig(body[i]) {
                i += 1;
            }
            frac = Some((fs, i));
        }
        let ndig = int_end + frac.map_or(0, |(a, b)| b - a);
        if ndig == 0 {
            return None;
        }
        // luajit rejects more than 0xfffff fraction digits up to the last nonzero one.
        if let Some((a, b)) = frac {
            if b - a > 0xfffff
                && body[a..b].iter().rposition(|&c| c != b'0').unwrap_or(0) >= 0xfffff
            {
                return None;
            }
        }
        let mant_end = i;
        // Exponent.
        let mut exp: i64 = 0;
        let mut has_exp = false;
        if radix != 2 && i < body.len() && (body[i] | 0x20) == if radix == 16 { b'p' } else { b'e' }
        {
            has_exp = true;
            i += 1;
            let neg = match body.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let es = i;
            while i < body.len() && body[i].is_ascii_digit() {
                if exp <= 0xfffff {
                    exp = exp * 10 + (body[i] - b'0') as i64;
                }
                i += 1;
            }
            if i == es || exp > 0xfffff {
                return None;
            }
            if neg {
                exp = -exp;
            }
        }
        let exp_end = i;
        // Suffix.
        #[derive(PartialEq)]
        enum Suffix {
            None,
            I64,
            U64,
            Imag,
        }
        let suffix = match &body[i..] {
            [] => Suffix::None,
            [b'i' | b'I'] => Suffix::Imag,
            [l1, l2] if (l1 | 0x20) == b'l' && (l2 | 0x20) == b'l' => Suffix::I64,
            [a, b, c]
                if ((a | 0x20) == b'u' && (b | 0x20) == b'l' && (c | 0x20) == b'l')
                    || ((a | 0x20) == b'l' && (b | 0x20) == b'l' && (c | 0x20) == b'u') =>
            {
                Suffix::U64
            }
            _ => return None,
        };
        let int_digits = &body[..int_end];
        if suffix == Suffix::I64 || suffix == Suffix::U64 {
            if frac.is_some() || has_exp {
                return None;
            }
            let v = int_value(int_digits, radix)?;
            return Some(NumLit::Cdata(if suffix == Suffix::I64 {
                CdataLit::I64(v as i64)
            } else {
                CdataLit::U64(v)
            }));
        }
        let v = match radix {
            2 => int_value(int_digits, 2)? as f64,
            16 => {
                let fd = frac.map_or(&[][..], |(a, b)| &body[a..b]);
                hex_to_f64(int_digits, fd, exp)
            }
            _ => self.dec_to_f64(&body[..mant_end], &body[..exp_end], int_end, frac, exp)?,
        };
        Some(match suffix {
            Suffix::Imag => NumLit::Cdata(CdataLit::Imag(v)),
            _ => NumLit::Num(v),
        })
    }

    /// Correctly rounded decimal conversion of the validated literal `m` (without
    /// suffix): `mant` is its mantissa (digits, optional fraction; `int_end` and `frac`
    /// index into it) and `exp` its exponent's value.
    fn dec_to_f64(
        &mut self,
        mant: &[u8],
        m: &[u8],
        int_end: usize,
        frac: Option<(usize, usize)>,
        exp: i64,
    ) -> Option<f64> {
        if exp.abs() < 0x10000 {
            // std's parser is exact as long as the exponent's value stays below 0x10000
            // (it stops accumulating exponent digits there).
            return std::str::from_utf8(m).ok()?.parse::<f64>().ok();
        }
        // Huge exponent: normalise to 0.DIGITS x 10^e10 ourselves.
        let int = &mant[..int_end];
        let fr = frac.map_or(&[][..], |(a, b)| &mant[a..b]);
        let int_nz = int.iter().position(|&c| c != b'0');
        let (digits_int, digits_frac, e10) = match int_nz {
            Some(k) => (&int[k..], fr, exp + (int.len() - k) as i64),
            None => match fr.iter().position(|&c| c != b'0') {
                Some(k) => (&[][..], &fr[k..], exp - k as i64),
                None => return Some(0.0),
            },
        };
        if e10 > 310 {
            return Some(f64::INFINITY);
        }
        if e10 < -330 {
            return Some(0.0);
        }
        self.numbuf.clear();
        self.numbuf.extend_from_slice(b"0.");
        self.numbuf.extend_from_slice(digits_int);
        self.numbuf.extend_from_slice(digits_frac);
        self.numbuf.push(b'e');
        self.numbuf.extend_from_slice(e10.to_string().as_bytes());
        std::str::from_utf8(&self.numbuf).ok()?.parse::<f64>().ok()
    }
}

/// The reserved word `w` spells, else `Tok::Name`.
#[inline]
fn reserved(w: &[u8]) -> Tok {
    if w.len() < 2 || w.len() > 8 || !w[0].is_ascii_lowercase() {
        return Tok::Name;
    }
    match w {
        b"and" => Tok::And,
        b"break" => Tok::Break,
        b"do" => Tok::Do,
        b"else" => Tok::Else,
        b"elseif" => Tok::Elseif,
        b"end" => Tok::End,
        b"false" => Tok::False,
        b"for" => Tok::For,
        b"function" => Tok::Function,
        b"goto" => Tok::Goto,
        b"if" => Tok::If,
        b"in" => Tok::In,
        b"local" => Tok::Local,
        b"nil" => Tok::Nil,
        b"not" => Tok::Not,
        b"or" => Tok::Or,
        b"repeat" => Tok::Repeat,
        b"return" => Tok::Return,
        b"then" => Tok::Then,
        b"true" => Tok::True,
        b"until" => Tok::Until,
        b"while" => Tok::While,
        _ => Tok::Name,
    }
}

/// The text luajit shows for a string token.
fn string_text(text: Text, sval: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(sval.len() + 8);
    match text {
        Text::Long(level) => {
            t.push(b'[');
            t.resize(t.len() + level, b'=');
            t.push(b'[');
            t.extend_from_slice(sval);
            t.push(b']');
            t.resize(t.len() + level, b'=');
            t.push(b']');
        }
        Text::Short(q) => {
            t.push(q);
            t.extend_from_slice(sval);
            t.push(q);
        }
        _ => t.extend_from_slice(sval),
    }
    t
}

#[inline]
fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn push_utf8(out: &mut Vec<u8>, cp: u32) {
    if cp < 0x80 {
        out.push(cp as u8);
    } else if cp < 0x800 {
        out.extend_from_slice(&[0xc0 | (cp >> 6) as u8, 0x80 | (cp & 0x3f) as u8]);
    } else if cp < 0x10000 {
        out.extend_from_slice(&[
            0xe0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]);
    } else {
        out.extend_from_slice(&[
            0xf0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3f) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]);
    }
}

/// The value of validated integer digits in base 2, 10 or 16; None if it needs more than
/// 64 bits.
fn int_value(digits: &[u8], radix: u64) -> Option<u64> {
    let mut v: u64 = 0;
    for &c in digits {
        let d = hexval(c).unwrap_or(0) as u64;
        v = v.checked_mul(radix)?.checked_add(d)?;
    }
    Some(v)
}

/// Correctly rounded value of hex digits `int`.`frac` times 2^exp.
fn hex_to_f64(int: &[u8], frac: &[u8], exp: i64) -> f64 {
    let mut m: u64 = 0;
    let mut e: i64 = exp;
    let mut sticky = false;
    for &c in int {
        let d = hexval(c).unwrap_or(0) as u64;
        if m >> 60 == 0 {
            m = (m << 4) | d;
        } else {
            e += 4;
            sticky |= d != 0;
        }
    }
    for &c in frac {
        let d = hexval(c).unwrap_or(0) as u64;
        if m >> 60 == 0 {
            m = (m << 4) | d;
            e -= 4;
        } else {
            sticky |= d != 0;
        }
    }
    make_f64(m, e, sticky)
}

/// Round `m * 2^e` (plus a nonzero amount below the last bit of `m` if `sticky`) to the
/// nearest double, ties to even.
fn make_f64(m: u64, e: i64, sticky: bool) -> f64 {
    if m == 0 {
        return 0.0;
    }
    let lz = m.leading_zeros();
    let m = m << lz;
    // Value is m * 2^(top - 63), m in [2^63, 2^64).
    let top = e - lz as i64 + 63;
    if top > 1023 {
        return f64::INFINITY;
    }
    let shift = if top >= -1022 { 11 } else { 11 + (-1022 - top) };
    if shift > 64 {
        return 0.0;
    }
    let (kept, half, rest) = if shift == 64 {
        (0, m >> 63, (m << 1) != 0 || sticky)
    } else {
        let s = shift as u32;
        (
            m >> s,
            (m >> (s - 1)) & 1,
            (m & ((1u64 << (s - 1)) - 1)) != 0 || sticky,
        )
    };
    let r = if half == 1 && (rest || kept & 1 == 1) {
        kept + 1
    } else {
        kept
    };
    let bits = if top >= -1022 {
        // r in [2^52, 2^53]: its top bit adds one to the exponent field.
        (((top + 1022) as u64) << 52) + r
    } else {
        r
    };
    f64::from_bits(bits.min(0x7ff0_0000_0000_0000))
}
