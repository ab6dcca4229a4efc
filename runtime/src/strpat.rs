//! Lua 5.1 patterns (manual §5.4.1) as `string.find`, `match`, `gmatch` and `gsub` use
//! them, matching luajit 2.1 exactly, including when and which errors are raised.
//!
//! The engine is a backtracking matcher over byte slices. Two luajit traits shape it:
//!
//! * The pattern behaves as if NUL-terminated: a `\0` byte inside the pattern ends it,
//!   and reading past the end yields `\0`. [`Matcher::pb`] models that, so embedded NULs
//!   behave as in luajit (e.g. `"a\0z."` is just `"a"`, `"[\0]"` lacks its `]`).
//! * Malformed pieces are only diagnosed when the matcher reaches them (e.g.
//!   `string.find("", "x[")` is `nil`, not an error), so errors are raised during matching.
//!
//! Recursion only happens for captures, quantifiers and `?` (one level per pattern item,
//! never per subject byte); like luajit, more than [`MAX_DEPTH`] nested levels raise
//! "pattern too complex", which bounds the Rust stack use.

/// Most captures a pattern may open ("too many captures" beyond that).
pub const MAX_CAPTURES: usize = 32;

/// Nesting limit of the recursive matcher; luajit reports "pattern too complex" past it.
const MAX_DEPTH: usize = 200;

/// An error message exactly as luajit words it (without position prefix).
#[derive(Debug, Clone, PartialEq)]
pub struct PatError(pub &'static str);

const ERR_ENDS_PCT: PatError = PatError("malformed pattern (ends with '%')");
const ERR_MISSING_BRACKET: PatError = PatError("malformed pattern (missing ']')");
const ERR_FRONTIER: PatError = PatError("missing '[' after '%f' in pattern");
const ERR_BALANCE: PatError = PatError("unbalanced pattern");
const ERR_CAP_INDEX: PatError = PatError("invalid capture index");
const ERR_PAT_CAPTURE: PatError = PatError("invalid pattern capture");
const ERR_UNFINISHED: PatError = PatError("unfinished capture");
const ERR_COMPLEX: PatError = PatError("pattern too complex");
const ERR_TOO_MANY: PatError = PatError("too many captures");

/// One capture's value: a substring, or a 1-based position for `()`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CapValue<'s> {
    Str(&'s [u8]),
    /// 1-based position, as Lua returns for `()`.
    Pos(usize),
}

/// What a capture slot currently holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum CapLen {
    /// Opened with `(` but its `)` has not been reached yet.
    Unfinished,
    /// A position capture `()`.
    Position,
    /// A closed capture of this many bytes.
    Len(usize),
}

#[derive(Debug, Clone, Copy)]
struct Cap {
    init: usize,
    len: CapLen,
}

/// Matching state for one subject and one pattern; reusable across positions.
pub struct Matcher<'s, 'p> {
    src: &'s [u8],
    pat: &'p [u8],
    /// Captures opened so far (finished or not).
    level: usize,
    /// Current nesting of `do_match` calls.
    depth: usize,
    caps: [Cap; MAX_CAPTURES],
}

impl<'s, 'p> Matcher<'s, 'p> {
    pub fn new(src: &'s [u8], pat: &'p [u8]) -> Self {
        Matcher {
            src,
            pat,
            level: 0,
            depth: 0,
            caps: [Cap {
                init: 0,
                len: CapLen::Unfinished,
            }; MAX_CAPTURES],
        }
    }

    /// The subject being matched.
    pub fn src(&self) -> &'s [u8] {
        self.src
    }

    /// The pattern being matched.
    pub fn pat(&self) -> &'p [u8] {
        self.pat
    }

    /// Try to match the pattern starting at `pat_start` (index into pat, so callers can
    /// skip a leading '^') anchored at src index `pos`. Returns the end index (exclusive)
    /// of the match. Resets captures first.
    pub fn match_at(&mut self, pos: usize, pat_start: usize) -> Result<Option<usize>, PatError> {
        self.level = 0;
        self.depth = 0;
        if pos > self.src.len() {
            return Ok(None);
        }
        self.do_match(pos, pat_start)
    }

    /// Number of captures of the last successful match (0 if the pattern had none).
    pub fn capture_count(&self) -> usize {
        self.level
    }

    /// Capture `i` (0-based) of the last match; when the pattern has no captures and
    /// `i == 0`, the whole match `src[start..end]`.
    pub fn capture(&self, i: usize, start: usize, end: usize) -> Result<CapValue<'s>, PatError> {
        if i >= self.level {
            return if i == 0 {
                Ok(CapValue::Str(&self.src[start..end]))
            } else {
                Err(ERR_CAP_INDEX)
            };
        }
        let cap = self.caps[i];
        match cap.len {
            CapLen::Unfinished => Err(ERR_UNFINISHED),
            CapLen::Position => Ok(CapValue::Pos(cap.init + 1)),
            CapLen::Len(n) => Ok(CapValue::Str(&self.src[cap.init..cap.init + n])),
        }
    }

    /// Pattern byte at `i`, or `\0` past the end (luajit's patterns are NUL-terminated).
    #[inline]
    fn pb(&self, i: usize) -> u8 {
        self.pat.get(i).copied().unwrap_or(0)
    }

    /// Subject byte at `i`, or `\0` at the end (what `%f` and `%b` see there).
    #[inline]
    fn sb(&self, i: usize) -> u8 {
        self.src.get(i).copied().unwrap_or(0)
    }

    /// One nesting level of matching: depth accounting around [`Self::match_body`].
    fn do_match(&mut self, s: usize, p: usize) -> Result<Option<usize>, PatError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ERR_COMPLEX);
        }
        let r = self.match_body(s, p)?;
        self.depth -= 1;
        Ok(r)
    }

    /// Match pattern from `p` against subject from `s`; returns the match end.
    /// Single items advance in a loop; only branching constructs recurse.
    fn match_body(&mut self, mut s: usize, mut p: usize) -> Result<Option<usize>, PatError> {
        loop {
            match self.pb(p) {
                0 => return Ok(Some(s)),
                b'(' => {
                    return if self.pb(p + 1) == b')' {
                        self.start_capture(s, p + 2, CapLen::Position)
                    } else {
                        self.start_capture(s, p + 1, CapLen::Unfinished)
                    };
                }
                b')' => return self.end_capture(s, p + 1),
                // `$` anchors only as the last pattern byte; elsewhere it is a literal.
                b'$' if self.pb(p + 1) == 0 => {
                    return Ok(if s == self.src.len() { Some(s) } else { None });
                }
                b'%' => match self.pb(p + 1) {
                    b'b' => match self.match_balance(s, p + 2)? {
                        Some(e) => {
                            s = e;
                            p += 4;
                            continue;
                        }
                        None => return Ok(None),
                    },
                    b'f' => {
                        p += 2;
                        if self.pb(p) != b'[' {
                            return Err(ERR_FRONTIER);
                        }
                        let ep = self.class_end(p)?;
                        // Before the subject start and at its end the frontier sees '\0'.
                        let prev = if s == 0 { 0 } else { self.src[s - 1] };
                        let cur = self.sb(s);
                        if self.match_bracket(prev, p, ep - 1)
                            || !self.match_bracket(cur, p, ep - 1)
                        {
                            return Ok(None);
                        }
                        p = ep;
                        continue;
                    }
                    d if d.is_ascii_digit() => match self.match_backref(s, d)? {
                        Some(e) => {
                            s = e;
                            p += 2;
                            continue;
                        }
                        None => return Ok(None),
                    },
                    _ => {}
                },
                _ => {}
            }
            // A single-character item, possibly followed by a quantifier.
            let ep = self.class_end(p)?;
            let m = s < self.src.len() && self.single_match(self.src[s], p, ep);
            match self.pb(ep) {
                b'?' => {
                    if m {
                        if let Some(e) = self.do_match(s + 1, ep + 1)? {
                            return Ok(Some(e));
                        }
                    }
                    p = ep + 1;
                }
                b'*' => return self.max_expand(s, p, ep),
                b'+' => {
                    return if m {
                        self.max_expand(s + 1, p, ep)
                    } else {
                        Ok(None)
                    }
                }
                b'-' => return self.min_expand(s, p, ep),
                _ => {
                    if !m {
                        return Ok(None);
                    }
                    s += 1;
                    p = ep;
                }
            }
        }
    }

    /// Index just past the single-character class starting at `p` (`x`, `%x`, `[set]`).
    fn class_end(&self, mut p: usize) -> Result<usize, PatError> {
        let c = self.pb(p);
        p += 1;
        match c {
            b'%' => {
                if self.pb(p) == 0 {
                    return Err(ERR_ENDS_PCT);
                }
                Ok(p + 1)
            }
            b'[' => {
                if self.pb(p) == b'^' {
                    p += 1;
                }
                // The first set byte is taken as is, so `[]]` and `[^]]` contain ']'.
                loop {
                    let c = self.pb(p);
                    if c == 0 {
                        return Err(ERR_MISSING_BRACKET);
                    }
                    p += 1;
                    if c == b'%' && self.pb(p) != 0 {
                        p += 1; // an escaped byte, e.g. `%]`
                    }
                    if self.pb(p) == b']' {
                        return Ok(p + 1);
                    }
                }
            }
            _ => Ok(p),
        }
    }

    /// Does byte `c` match the class spanning `p..ep` (as found by `class_end`)?
    #[inline]
    fn single_match(&self, c: u8, p: usize, ep: usize) -> bool {
        match self.pat[p] {
            b'.' => true,
            b'%' => match_class(c, self.pb(p + 1)),
            b'[' => self.match_bracket(c, p, ep - 1),
            lit => lit == c,
        }
    }

    /// Does `c` belong to the set whose '[' is at `p` and closing ']' at `ec`?
    fn match_bracket(&self, c: u8, mut p: usize, ec: usize) -> bool {
        let mut found = true;
        if self.pb(p + 1) == b'^' {
            found = false;
            p += 1;
        }
        p += 1;
        while p < ec {
            let b = self.pat[p];
            if b == b'%' {
                p += 1;
                if match_class(c, self.pb(p)) {
                    return found;
                }
            } else if self.pb(p + 1) == b'-' && p + 2 < ec {
                // A range; a '-' right before ']' is a literal instead.
                if b <= c && c <= self.pat[p + 2] {
                    return found;
                }
                p += 2;
            } else if b == c {
                return found;
            }
            p += 1;
        }
        !found
    }

    /// Greedy `x*`: take as many as possible, then back off one at a time.
    fn max_expand(&mut self, s: usize, p: usize, ep: usize) -> Result<Option<usize>, PatError> {
        let mut i = 0;
        while s + i < self.src.len() && self.single_match(self.src[s + i], p, ep) {
            i += 1;
        }
        let next = self.quick_reject(ep + 1);
        loop {
            let t = s + i;
            if next.is_none_or(|c| self.sb(t) == c) {
                if let Some(e) = self.do_match(t, ep + 1)? {
                    return Ok(Some(e));
                }
            }
            if i == 0 {
                return Ok(None);
            }
            i -= 1;
        }
    }

    /// Lazy `x-`: try the rest first, consuming one more `x` after each failure.
    fn min_expand(&mut self, mut s: usize, p: usize, ep: usize) -> Result<Option<usize>, PatError> {
        let next = self.quick_reject(ep + 1);
        loop {
            if next.is_none_or(|c| self.sb(s) == c) {
                if let Some(e) = self.do_match(s, ep + 1)? {
                    return Ok(Some(e));
                }
            }
            if s < self.src.len() && self.single_match(self.src[s], p, ep) {
                s += 1;
            } else {
                return Ok(None);
            }
        }
    }

    /// If the pattern at `q` is a plain literal byte that must match exactly once (or
    /// with `+`), return it: a nested match there fails at once, with no error and no
    /// side effect, wherever the subject byte differs, so callers may skip the call.
    /// Not when the nested call would itself exceed the depth limit, which luajit
    /// reports even for such hopeless positions.
    fn quick_reject(&self, q: usize) -> Option<u8> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        literal_item(self.pat, q)
    }

    /// If the pattern at `ps` starts with a single-byte item (`x`, `.`, `%a`, `[set]`)
    /// that must match once (no `*`, `?`, `-`), return its end: a match attempt fails at
    /// once, without effect, where the subject byte is not in it, and at the subject's
    /// end. Raises the item's malformed-pattern error, which luajit raises on the very
    /// first attempt anyway.
    fn first_class(&self, ps: usize) -> Result<Option<usize>, PatError> {
        let next = self.pb(ps + 1);
        match self.pb(ps) {
            0 | b'(' | b')' => return Ok(None),
            b'$' if next == 0 => return Ok(None),
            b'%' if matches!(next, b'b' | b'f') || next.is_ascii_digit() => return Ok(None),
            _ => {}
        }
        let ep = self.class_end(ps)?;
        Ok(if matches!(self.pb(ep), b'*' | b'?' | b'-') {
            None
        } else {
            Some(ep)
        })
    }

    /// `%bxy` with the two delimiters at `p`, `p + 1`.
    fn match_balance(&self, s: usize, p: usize) -> Result<Option<usize>, PatError> {
        let open = self.pb(p);
        let close = self.pb(p + 1);
        if open == 0 || close == 0 {
            return Err(ERR_BALANCE);
        }
        if s >= self.src.len() || self.src[s] != open {
            return Ok(None);
        }
        let mut depth = 1usize;
        for (i, &b) in self.src[s + 1..].iter().enumerate() {
            // The closer is tested first, so `%baa` pairs successive 'a's.
            if b == close {
                depth -= 1;
                if depth == 0 {
                    return Ok(Some(s + 1 + i + 1));
                }
            } else if b == open {
                depth += 1;
            }
        }
        Ok(None)
    }

    /// Back-reference `%d` (d is an ASCII digit) to an earlier, closed capture.
    fn match_backref(&self, s: usize, d: u8) -> Result<Option<usize>, PatError> {
        let cap = match (d as usize).checked_sub(b'1' as usize) {
            Some(l) if l < self.level => self.caps[l],
            _ => return Err(ERR_CAP_INDEX),
        };
        match cap.len {
            CapLen::Unfinished => Err(ERR_CAP_INDEX),
            // luajit compares a position capture as an impossible length: never matches.
            CapLen::Position => Ok(None),
            CapLen::Len(n) => {
                let want = &self.src[cap.init..cap.init + n];
                Ok(if self.src[s..].starts_with(want) {
                    Some(s + n)
                } else {
                    None
                })
            }
        }
    }

    fn start_capture(
        &mut self,
        s: usize,
        p: usize,
        len: CapLen,
    ) -> Result<Option<usize>, PatError> {
        if self.level >= MAX_CAPTURES {
            return Err(ERR_TOO_MANY);
        }
        self.caps[self.level] = Cap { init: s, len };
        self.level += 1;
        let r = self.do_match(s, p)?;
        if r.is_none() {
            self.level -= 1; // undo the capture on backtracking
        }
        Ok(r)
    }

    fn end_capture(&mut self, s: usize, p: usize) -> Result<Option<usize>, PatError> {
        // Close the innermost still-open capture.
        let l = (0..self.level)
            .rev()
            .find(|&l| self.caps[l].len == CapLen::Unfinished)
            .ok_or(ERR_PAT_CAPTURE)?;
        self.caps[l].len = CapLen::Len(s - self.caps[l].init);
        let r = self.do_match(s, p)?;
        if r.is_none() {
            self.caps[l].len = CapLen::Unfinished;
        }
        Ok(r)
    }
}

/// The byte every match of the pattern from index `ps` must start with, when the
/// pattern begins with a plain literal item: a match attempt at a position holding
/// another byte fails at once, with no error and no side effect, so callers may skip
/// such positions (e.g. with [`memchr`]).
pub fn lead_literal(pat: &[u8], ps: usize) -> Option<u8> {
    literal_item(pat, skip_openings(pat, ps)?)
}

/// Index of the first item after the leading capture openings (`(` or `()`) of the
/// pattern from `ps`. Opening captures consumes nothing and cannot fail, so a match
/// attempt fails exactly when that item fails; `None` if there are more openings than
/// captures allowed (that attempt must raise "too many captures").
fn skip_openings(pat: &[u8], ps: usize) -> Option<usize> {
    let mut q = ps;
    let mut n = 0;
    while pat.get(q) == Some(&b'(') {
        q += if pat.get(q + 1) == Some(&b')') { 2 } else { 1 };
        n += 1;
    }
    (n <= MAX_CAPTURES).then_some(q)
}

/// If pattern item at `q` is a literal byte not followed by `*`, `?` or `-`, return it.
/// Such an item can never raise an error and matches only that byte.
fn literal_item(pat: &[u8], q: usize) -> Option<u8> {
    let c = *pat.get(q)?;
    if matches!(c, 0 | b'(' | b')' | b'%' | b'[' | b'.' | b'$') {
        return None;
    }
    match pat.get(q + 1) {
        Some(b'*' | b'?' | b'-') => None,
        _ => Some(c),
    }
}

/// `%x` class test in the C locale; letters that name no class match themselves.
#[inline]
fn match_class(c: u8, cl: u8) -> bool {
    let bit = CLASS_BIT[cl as usize];
    if bit == 0 {
        return cl == c;
    }
    let res = CLASSES[c as usize] & bit != 0;
    // An upper-case class letter is the complement.
    if cl.is_ascii_uppercase() {
        !res
    } else {
        res
    }
}

const C_ALPHA: u16 = 1;
const C_CNTRL: u16 = 2;
const C_DIGIT: u16 = 4;
const C_GRAPH: u16 = 8;
const C_LOWER: u16 = 16;
const C_PUNCT: u16 = 32;
const C_SPACE: u16 = 64;
const C_UPPER: u16 = 128;
const C_ALNUM: u16 = 256;
const C_XDIGIT: u16 = 512;
const C_ZERO: u16 = 1024;

/// The class bit a class letter (either case) names, 0 for other bytes.
static CLASS_BIT: [u16; 256] = {
    let mut t = [0u16; 256];
    let letters: [(u8, u16); 11] = [
        (b'a', C_ALPHA),
        (b'c', C_CNTRL),
        (b'd', C_DIGIT),
        (b'g', C_GRAPH),
        (b'l', C_LOWER),
        (b'p', C_PUNCT),
        (b's', C_SPACE),
        (b'u', C_UPPER),
        (b'w', C_ALNUM),
        (b'x', C_XDIGIT),
        (b'z', C_ZERO),
    ];
    let mut i = 0;
    while i < letters.len() {
        let (l, b) = letters[i];
        t[l as usize] = b;
        t[l.to_ascii_uppercase() as usize] = b;
        i += 1;
    }
    t
};

/// The classes each byte belongs to (C locale).
static CLASSES: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut b = 0;
        if c.is_ascii_alphabetic() {
            b |= C_ALPHA;
        }
        if c.is_ascii_control() {
            b |= C_CNTRL;
        }
        if c.is_ascii_digit() {
            b |= C_DIGIT;
        }
        if c.is_ascii_graphic() {
            b |= C_GRAPH;
        }
        if c.is_ascii_lowercase() {
            b |= C_LOWER;
        }
        if c.is_ascii_punctuation() {
            b |= C_PUNCT;
        }
        if matches!(c, b' ' | b'\t'..=b'\r') {
            b |= C_SPACE;
        }
        if c.is_ascii_uppercase() {
            b |= C_UPPER;
        }
        if c.is_ascii_alphanumeric() {
            b |= C_ALNUM;
        }
        if c.is_ascii_hexdigit() {
            b |= C_XDIGIT;
        }
        if c == 0 {
            b |= C_ZERO;
        }
        t[i] = b;
        i += 1;
    }
    t
};

/// `string.find` scan: from `init` (0-based, already clamped by caller) find the first
/// match, honouring a leading '^' anchor. Returns (start, end) and leaves captures in `m`.
pub fn find(m: &mut Matcher, init: usize) -> Result<Option<(usize, usize)>, PatError> {
    let s = init.min(m.src.len());
    let anchored = m.pat.first() == Some(&b'^');
    let ps = anchored as usize;
    if anchored {
        return Ok(m.match_at(s, ps)?.map(|e| (s, e)));
    }
    scan(m, s, ps)
}

/// Unanchored scan: the first position from `init` (0-based, at most the subject
/// length) where the pattern from index `ps` matches, as `(start, end)`. A leading `^`
/// is not special here (`gmatch` treats it as a literal).
pub fn scan(m: &mut Matcher, init: usize, ps: usize) -> Result<Option<(usize, usize)>, PatError> {
    let len = m.src.len();
    let mut s = init;
    if s > len {
        return Ok(None);
    }
    // Positions where a leading single-byte item cannot match fail without effect:
    // skip them (a literal with memchr, a class byte by byte).
    let q = skip_openings(m.pat, ps);
    let lead = q.and_then(|q| literal_item(m.pat, q));
    let first = match q {
        Some(q) if lead.is_none() => m.first_class(q)?.map(|ep| (q, ep)),
        _ => None,
    };
    loop {
        if let Some(c) = lead {
            match memchr(c, &m.src[s..]) {
                Some(off) => s += off,
                None => return Ok(None),
            }
        } else if let Some((q, ep)) = first {
            match m.src[s..].iter().position(|&b| m.single_match(b, q, ep)) {
                Some(off) => s += off,
                None => return Ok(None),
            }
        }
        if let Some(e) = m.match_at(s, ps)? {
            return Ok(Some((s, e)));
        }
        if s >= len {
            return Ok(None);
        }
        s += 1;
    }
}

/// True if the pattern has no special characters, so `string.find` can do a plain
/// substring search (the set luajit checks; `]` and `)` alone are not special).
pub fn is_plain(pat: &[u8]) -> bool {
    !pat.iter().any(|c| b"^$*+?.([%-".contains(c))
}

/// Expand a gsub replacement string for one match into `out`: `%0`..`%9` captures
/// (`%0` = whole match; `%1` with no captures = whole match), `%%` -> `%`; `%` followed
/// by any other byte yields that byte, and a trailing `%` yields a NUL byte (luajit reads
/// the string's terminator).
pub fn expand_replacement(
    m: &Matcher,
    repl: &[u8],
    start: usize,
    end: usize,
    out: &mut Vec<u8>,
) -> Result<(), PatError> {
    let mut rest = repl;
    while let Some(i) = memchr(b'%', rest) {
        out.extend_from_slice(&rest[..i]);
        let c = rest.get(i + 1).copied().unwrap_or(0);
        if c == b'0' {
            out.extend_from_slice(&m.src[start..end]);
        } else if c.is_ascii_digit() {
            match m.capture((c - b'1') as usize, start, end)? {
                CapValue::Str(v) => out.extend_from_slice(v),
                CapValue::Pos(n) => out.extend_from_slice(n.to_string().as_bytes()),
            }
        } else {
            out.push(c);
        }
        rest = rest.get(i + 2..).unwrap_or(&[]);
    }
    out.extend_from_slice(rest);
    Ok(())
}

/// Plain substring search from byte `from`: index of the first occurrence of `needle`.
pub fn find_plain(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    let Some((&first, rest)) = needle.split_first() else {
        return Some(from);
    };
    // Last index where the needle still fits.
    let last = hay.len().checked_sub(needle.len())?;
    let mut pos = from;
    while pos <= last {
        let i = pos + memchr(first, &hay[pos..=last])?;
        if hay[i + 1..i + needle.len()] == *rest {
            return Some(i);
        }
        pos = i + 1;
    }
    None
}

/// Index of the first `needle` byte in `hay`, eight bytes at a time.
pub fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let rep = LO * needle as u64;
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let w = u64::from_le_bytes(chunk.try_into().unwrap()) ^ rep;
        // Classic zero-byte test: the lowest flagged byte is the first zero (borrows
        // only produce false flags above a real zero).
        let z = w.wrapping_sub(LO) & !w & HI;
        if z != 0 {
            return Some(base + (z.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|i| base + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    enum Op {
        Find,
        Match,
        Gmatch,
        Gsub,
    }
    use Op::*;

    /// Concatenate runs of (unit, count): compact spelling of long subjects/patterns.
    fn cat(runs: &[(&[u8], usize)]) -> Vec<u8> {
        runs.iter().flat_map(|&(u, n)| u.repeat(n)).collect()
    }

    fn render_caps(
        m: &Matcher,
        s: usize,
        e: usize,
        whole: bool,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), PatError> {
        let n = if whole && m.capture_count() == 0 {
            1
        } else {
            m.capture_count()
        };
        for i in 0..n {
            out.push(match m.capture(i, s, e)? {
                CapValue::Str(v) => v.to_vec(),
                CapValue::Pos(p) => p.to_string().into_bytes(),
            });
        }
        Ok(())
    }

    fn num(n: usize) -> Vec<u8> {
        n.to_string().into_bytes()
    }

    /// The library functions as luajit's string library drives the engine; results are
    /// rendered as `print` would show them (tab-separated; gmatch iterations joined by ';').
    fn lua(op: Op, s: &[u8], p: &[u8], init: usize, repl: &[u8]) -> Result<Vec<u8>, PatError> {
        let init = (init - 1).min(s.len());
        let mut vals: Vec<Vec<u8>> = Vec::new();
        match op {
            Find if is_plain(p) => match find_plain(s, p, init) {
                Some(i) => vals.extend([num(i + 1), num(i + p.len())]),
                None => vals.push(b"nil".to_vec()),
            },
            Find | Match => {
                let mut m = Matcher::new(s, p);
                match find(&mut m, init)? {
                    Some((a, b)) => {
                        if let Find = op {
                            vals.extend([num(a + 1), num(b)]);
                        }
                        render_caps(&m, a, b, matches!(op, Match), &mut vals)?;
                    }
                    None => vals.push(b"nil".to_vec()),
                }
            }
            Gmatch => {
                // No anchor: a leading '^' is an ordinary byte for gmatch.
                let mut m = Matcher::new(s, p);
                let mut iters = Vec::new();
                let mut src = 0;
                while src <= s.len() {
                    match m.match_at(src, 0)? {
                        Some(e) => {
                            let mut v = Vec::new();
                            render_caps(&m, src, e, true, &mut v)?;
                            iters.push(v.join(&b'\t'));
                            src = if e == src { e + 1 } else { e };
                        }
                        None => src += 1,
                    }
                }
                vals.push(iters.join(&b';'));
            }
            Gsub => {
                let anchored = p.first() == Some(&b'^');
                let mut m = Matcher::new(s, p);
                let (mut out, mut n, mut src) = (Vec::new(), 0, 0);
                loop {
                    let e = m.match_at(src, anchored as usize)?;
                    if let Some(e) = e {
                        n += 1;
                        expand_replacement(&m, repl, src, e, &mut out)?;
                    }
                    match e {
                        Some(e) if e > src => src = e,
                        _ if src < s.len() => {
                            out.push(s[src]);
                            src += 1;
                        }
                        _ => break,
                    }
                    if anchored {
                        break;
                    }
                }
                out.extend_from_slice(&s[src..]);
                vals.extend([out, num(n)]);
            }
        }
        Ok(vals.join(&b'\t'))
    }

    /// (op, subject, pattern, init (1-based), replacement, what luajit 2.1 printed).
    type Case<'a> = (Op, &'a [u8], &'a [u8], usize, &'a [u8], &'a [u8]);

    /// Expected values were produced by running each case through `luajit`.
    #[test]
    fn luajit_cases() {
        let cases: &[Case] = &[
            (Find, b"hello world", b"o w", 1, b"", b"5\t7"),
            (Find, b"hello world", b"l+", 1, b"", b"3\t4"),
            (Find, b"hello world", b"o", 6, b"", b"8\t8"),
            (Find, b"hello", b"", 1, b"", b"1\t0"),
            (Find, b"hello", b"", 6, b"", b"6\t5"),
            (Find, b"hello", b"xyz", 1, b"", b"nil"),
            (Find, b"a]b", b"]", 1, b"", b"2\t2"),
            (Find, b"a)b", b"a)", 1, b"", b"1\t2"),
            (Find, b"a.b", b".", 1, b"", b"1\t1"),
            (Find, b"a.b", b"%.", 1, b"", b"2\t2"),
            (Find, b"a%b", b"%%", 1, b"", b"2\t2"),
            (Find, b"a]b", b"%]", 1, b"", b"2\t2"),
            (Find, b"abc", b"a.c", 1, b"", b"1\t3"),
            (Find, b"ab\x00cd", b"b\x00c", 1, b"", b"2\t4"),
            (Find, b"ab\x00cd", b"%z", 1, b"", b"3\t3"),
            (Find, b"ab\x00cd", b"%Z+", 1, b"", b"1\t2"),
            (Find, b"  Hello42_x", b"%a+", 1, b"", b"3\t7"),
            (Find, b"Hello42", b"%d+", 1, b"", b"6\t7"),
            (Find, b"ab\x01\x1fc", b"%c+", 1, b"", b"3\t4"),
            (Find, b"a b\t\n\x0b\x0c\x0dc", b"%s+", 1, b"", b"2\t2"),
            (Find, b"hELLo", b"%l+", 1, b"", b"1\t1"),
            (Find, b"hELLo", b"%u+", 1, b"", b"2\t4"),
            (Find, b"a_b!?c", b"%p+", 1, b"", b"2\t2"),
            (Find, b"  ab12_", b"%w+", 1, b"", b"3\t6"),
            (Find, b"xyzBEEF12g", b"%x+", 1, b"", b"4\t9"),
            (Find, b" \tab!~", b"%g+", 1, b"", b"3\t6"),
            (Find, b"123abc", b"%D+", 1, b"", b"4\t6"),
            (Find, b"abc  def", b"%S+", 1, b"", b"1\t3"),
            (Find, b"ab12", b"%A", 1, b"", b"3\t3"),
            (Find, b"ab!12", b"%W", 1, b"", b"3\t3"),
            (Find, b"AB\xc8\xffc", b"%C+", 1, b"", b"1\t5"),
            (Find, b"a\xc8\xff", b"%G+", 1, b"", b"2\t3"),
            (Find, b"a\xc8b", b"%a%A%a", 1, b"", b"1\t3"),
            (Find, b"yes", b"%y", 1, b"", b"1\t1"),
            (Find, b"YES", b"%Y", 1, b"", b"1\t1"),
            (Find, b"a@b", b"%@", 1, b"", b"2\t2"),
            (Find, b"xxcabd", b"[abc]+", 1, b"", b"3\t5"),
            (Find, b"abcxyz", b"[^abc]+", 1, b"", b"4\t6"),
            (Find, b"zzbeefg", b"[a-f]+", 1, b"", b"3\t6"),
            (Find, b"a]b", b"[]]", 1, b"", b"2\t2"),
            (Find, b"]]ab", b"[^]]+", 1, b"", b"3\t4"),
            (Find, b"x-a-y", b"[a-]+", 1, b"", b"2\t4"),
            (Find, b"1_ab2", b"[%a_]+", 1, b"", b"2\t4"),
            (Find, b"a]b", b"[%]]", 1, b"", b"2\t2"),
            (Find, b"a-x", b"[%-x]+", 1, b"", b"2\t3"),
            (Find, b"b-z", b"[a%-z]+", 1, b"", b"2\t3"),
            (Find, b"^a^", b"[%^a]+", 1, b"", b"1\t3"),
            (Find, b"^a", b"[b^]", 1, b"", b"1\t1"),
            (Find, b"]-a", b"[]-a]+", 1, b"", b"1\t1"),
            (Find, b"a5Z", b"[%d%u]+", 1, b"", b"2\t3"),
            (Find, b"a.b", b"[.]", 1, b"", b"2\t2"),
            (Find, b"abc", b"[^%a]", 1, b"", b"nil"),
            (Find, b"\x00a", b"[%z]", 1, b"", b"1\t1"),
            (Find, b"a-c", b"[c-a]", 1, b"", b"nil"),
            (Find, b"baaac", b"a*", 1, b"", b"1\t0"),
            (Find, b"baaac", b"ba*", 1, b"", b"1\t4"),
            (Find, b"baaac", b"a+", 1, b"", b"2\t4"),
            (Find, b"bc", b"ba+", 1, b"", b"nil"),
            (Find, b"aaab", b"a-b", 1, b"", b"1\t4"),
            (Find, b"aaab", b"a-", 1, b"", b"1\t0"),
            (Find, b"ab", b"a?b", 1, b"", b"1\t2"),
            (Find, b"b", b"a?b", 1, b"", b"1\t1"),
            (Find, b"xaab", b"a?a?b", 1, b"", b"2\t4"),
            (Find, b"<a><b>", b"<.->", 1, b"", b"1\t3"),
            (Find, b"<a><b>", b"<.*>", 1, b"", b"1\t6"),
            (Find, b"*+?-", b"*+", 1, b"", b"1\t1"),
            (Find, b"a*b", b"a%*b", 1, b"", b"1\t3"),
            (Find, b"+x", b"+", 1, b"", b"1\t1"),
            (Find, b"-x", b"-", 1, b"", b"1\t1"),
            (Find, b"a", b"a**", 1, b"", b"nil"),
            (Find, b"a*", b"a**", 1, b"", b"1\t2"),
            (Find, b"aaa", b"a-$", 1, b"", b"1\t3"),
            (Find, b"hello", b"^hello", 1, b"", b"1\t5"),
            (Find, b"hello", b"^ello", 1, b"", b"nil"),
            (Find, b"hello", b"^ello", 2, b"", b"2\t5"),
            (Find, b"hello world", b"world$", 1, b"", b"7\t11"),
            (Find, b"hello world", b"hello$", 1, b"", b"nil"),
            (Find, b"a$b", b"a$b", 1, b"", b"1\t3"),
            (Find, b"a$b", b"$b", 1, b"", b"2\t3"),
            (Find, b"abc", b"^", 1, b"", b"1\t0"),
            (Find, b"abc", b"$", 1, b"", b"4\t3"),
            (Find, b"^^a", b"^^a", 1, b"", b"nil"),
            (Find, b"a^b", b"a^b", 1, b"", b"1\t3"),
            (Find, b"abc", b"^$", 1, b"", b"nil"),
            (Find, b"", b"^$", 1, b"", b"1\t0"),
            (Find, b"abc", b"c$", 3, b"", b"3\t3"),
            (Find, b"hello", b"(h)(e)(l)", 1, b"", b"1\t3\th\te\tl"),
            (Find, b"hello", b"(h(e)l)", 1, b"", b"1\t3\thel\te"),
            (Find, b"hello", b"()ll()", 1, b"", b"3\t4\t3\t5"),
            (Find, b"k=v, x=y", b"(%w+)=(%w+)", 1, b"", b"1\t3\tk\tv"),
            (Find, b"abc", b"()", 1, b"", b"1\t0\t1"),
            (Find, b"abc", b"(a*(.)%w(%s*))", 1, b"", b"1\t3\tabc\tb\t"),
            (Find, b"abc", b"(a)(z?)", 1, b"", b"1\t1\ta\t"),
            (Find, b"xyaab", b"(%a)%1", 1, b"", b"3\t4\ta"),
            (Find, b"say 'hi' now", b"([\x22'])(.-)%1", 1, b"", b"5\t8\t'\thi"),
            (Find, b"aa", b"()a%1", 1, b"", b"nil"),
            (Find, b"abab", b"(ab)%1", 1, b"", b"1\t4\tab"),
            (Find, b"abaB", b"(ab)%1", 1, b"", b"nil"),
            (Find, b"x", b"(x)%1", 1, b"", b"nil"),
            (Find, b"aaa", b"(a)(a)%2", 1, b"", b"1\t3\ta\ta"),
            (Find, b"f(a(b)c) d", b"%b()", 1, b"", b"2\t8"),
            (Find, b"[x[y]]", b"%b[]", 1, b"", b"1\t6"),
            (Find, b"xaaay", b"%baa", 1, b"", b"2\t3"),
            (Find, b"(()", b"%b()", 1, b"", b"2\t3"),
            (Find, b"f(a)", b"%b()*", 1, b"", b"nil"),
            (Find, b"f(a)*", b"%b()*", 1, b"", b"2\t5"),
            (Find, b"x", b"%b", 1, b"", b"ERR:unbalanced pattern"),
            (Find, b"x", b"%bx", 1, b"", b"ERR:unbalanced pattern"),
            (Find, b"", b"%b()", 1, b"", b"nil"),
            (Find, b"THE (quick) fox", b"%f[%a]%a+", 1, b"", b"1\t3"),
            (Find, b"THE (quick) fox", b"%f[%a]%a+", 4, b"", b"6\t10"),
            (Find, b"hello world", b"%f[%W]", 1, b"", b"6\t5"),
            (Find, b"abc", b"%f[%z]", 1, b"", b"4\t3"),
            (Find, b"abc", b"%f[^%z]", 1, b"", b"1\t0"),
            (Find, b"a\x00b", b"%f[%z]", 1, b"", b"2\t1"),
            (Find, b"aaBB", b"%f[%u]", 1, b"", b"3\t2"),
            (Find, b"x", b"%f", 1, b"", b"ERR:missing '[' after '%f' in pattern"),
            (Find, b"x", b"%fa", 1, b"", b"ERR:missing '[' after '%f' in pattern"),
            (Find, b"x", b"%f[a", 1, b"", b"ERR:malformed pattern (missing ']')"),
            (Find, b"a", b"%", 1, b"", b"ERR:malformed pattern (ends with '%')"),
            (Find, b"a", b"a%", 1, b"", b"ERR:malformed pattern (ends with '%')"),
            (Find, b"", b"x%", 1, b"", b"nil"),
            (Find, b"a", b"[a", 1, b"", b"ERR:malformed pattern (missing ']')"),
            (Find, b"a", b"[]", 1, b"", b"ERR:malformed pattern (missing ']')"),
            (Find, b"a", b"[^]", 1, b"", b"ERR:malformed pattern (missing ']')"),
            (Find, b"a", b"[%]", 1, b"", b"ERR:malformed pattern (missing ']')"),
            (Find, b"a", b"[a%", 1, b"", b"ERR:malformed pattern (missing ']')"),
            (Find, b"", b"x[a", 1, b"", b"nil"),
            (Find, b"x", b"x[a", 1, b"", b"ERR:malformed pattern (missing ']')"),
            (Find, b"a", b"a)", 1, b"", b"nil"),
            (Find, b"b", b"(a)b)", 1, b"", b"nil"),
            (Find, b"a", b"%0", 1, b"", b"ERR:invalid capture index"),
            (Find, b"a", b"%1", 1, b"", b"ERR:invalid capture index"),
            (Find, b"a", b"(a%1)", 1, b"", b"ERR:invalid capture index"),
            (Find, b"b", b"a%1", 1, b"", b"nil"),
            (Find, b"a", b"(a", 1, b"", b"ERR:unfinished capture"),
            (Find, b"a", b"(()", 1, b"", b"ERR:unfinished capture"),
            (Find, b"x", &cat(&[(&b"()"[..], 32)]), 1, b"", b"1\t0\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1"),
            (Find, b"x", &cat(&[(&b"()"[..], 33)]), 1, b"", b"ERR:too many captures"),
            (Find, b"x", &cat(&[(&b"a()"[..], 1), (&b"()"[..], 32)]), 1, b"", b"nil"),
            (Find, b"abc", b"a\x00z.", 1, b"", b"1\t1"),
            (Find, b"abc", b"%\x00", 1, b"", b"ERR:malformed pattern (ends with '%')"),
            (Find, b"a\x00c", b"[\x00]", 1, b"", b"ERR:malformed pattern (missing ']')"),
            (Find, b"a$", b"a$\x00b", 1, b"", b"nil"),
            (Find, &cat(&[(&b"a"[..], 300)]), &cat(&[(&b"a?"[..], 199)]), 1, b"", b"1\t199"),
            (Find, &cat(&[(&b"a"[..], 300)]), &cat(&[(&b"a?"[..], 200)]), 1, b"", b"ERR:pattern too complex"),
            (Find, &cat(&[(&b"a"[..], 300)]), &cat(&[(&b"a*"[..], 199)]), 1, b"", b"1\t300"),
            (Find, &cat(&[(&b"a"[..], 300)]), &cat(&[(&b"a*"[..], 200)]), 1, b"", b"ERR:pattern too complex"),
            (Find, &cat(&[(&b"a"[..], 300)]), &cat(&[(&b"a-"[..], 199)]), 1, b"", b"1\t0"),
            (Find, &cat(&[(&b"a"[..], 300)]), &cat(&[(&b"a-"[..], 200)]), 1, b"", b"ERR:pattern too complex"),
            (Find, &cat(&[(&b"b"[..], 300)]), &cat(&[(&b"a?"[..], 1000)]), 1, b"", b"1\t0"),
            (Find, &cat(&[(&b"a"[..], 99)]), &cat(&[(&b"(a)"[..], 33)]), 1, b"", b"ERR:too many captures"),
            (Find, &cat(&[(&b"a"[..], 199), (&b"c"[..], 1)]), &cat(&[(&b"a?"[..], 199), (&b"b*c"[..], 1)]), 1, b"", b"ERR:pattern too complex"),
            (Find, &cat(&[(&b"a"[..], 198), (&b"c"[..], 1)]), &cat(&[(&b"a?"[..], 198), (&b"b*c"[..], 1)]), 1, b"", b"1\t199"),
            (Find, &cat(&[(&b"a"[..], 199), (&b"c"[..], 1)]), &cat(&[(&b"a?"[..], 199), (&b"b-c"[..], 1)]), 1, b"", b"ERR:pattern too complex"),
            (Find, &cat(&[(&b"a"[..], 198), (&b"c"[..], 1)]), &cat(&[(&b"a?"[..], 198), (&b"b-c"[..], 1)]), 1, b"", b"1\t199"),
            (Find, &cat(&[(&b"a"[..], 99)]), &cat(&[(&b"("[..], 66)]), 1, b"", b"ERR:too many captures"),
            (Find, &cat(&[(&b"a"[..], 99)]), &cat(&[(&b"("[..], 99), (&b")"[..], 99)]), 1, b"", b"ERR:too many captures"),
            (Find, b"b", &cat(&[(&b"("[..], 32), (&b"[a"[..], 1)]), 1, b"", b"ERR:malformed pattern (missing ']')"),
            (Find, b"b", &cat(&[(&b"("[..], 33), (&b"[a"[..], 1)]), 1, b"", b"ERR:too many captures"),
            (Find, b"abc", &cat(&[(&b"("[..], 32), (&b"x"[..], 1)]), 1, b"", b"nil"),
            (Find, b"", b"[a", 1, b"", b"ERR:malformed pattern (missing ']')"),
            (Find, b"xxay", b"(()a)y", 1, b"", b"3\t4\ta\t3"),
            (Find, b"  b", b"[%a]", 1, b"", b"3\t3"),
            (Find, b"  b", b"(%a)%s*$", 1, b"", b"3\t3\tb"),
            (Gsub, b"xxayay", b"(a)y", 1, b"%1", b"xxaa\t2"),
            (Match, b"hello world", b"o w", 1, b"", b"o w"),
            (Match, b"key = value", b"(%w+)%s*=%s*(%w+)", 1, b"", b"key\tvalue"),
            (Match, b"hello", b"()ll()", 1, b"", b"3\t5"),
            (Match, b"hello", b"l+", 4, b"", b"l"),
            (Match, b"hello", b"^(h)", 1, b"", b"h"),
            (Match, b"hello", b"(b", 1, b"", b"nil"),
            (Match, b"abc", b"(a", 1, b"", b"ERR:unfinished capture"),
            (Match, b"abc", b"((a)", 1, b"", b"ERR:unfinished capture"),
            (Match, b"  trim  ", b"^%s*(.-)%s*$", 1, b"", b"trim"),
            (Match, b"2024-01-15", b"(%d+)-(%d+)-(%d+)", 1, b"", b"2024\t01\t15"),
            (Match, b"abc", b"", 1, b"", b""),
            (Gmatch, b"one two  three", b"%a+", 1, b"", b"one;two;three"),
            (Gmatch, b"abc", b"", 1, b"", b";;;"),
            (Gmatch, b"^a^a", b"^a", 1, b"", b"^a;^a"),
            (Gmatch, b"k=v, a=b", b"(%w+)=(%w+)", 1, b"", b"k\tv;a\tb"),
            (Gmatch, b"abc", b"()", 1, b"", b"1;2;3;4"),
            (Gmatch, b"aXbXc", b"[^X]*", 1, b"", b"a;;b;;c;"),
            (Gmatch, b"abc", b"a*", 1, b"", b"a;;;"),
            (Gmatch, b"a,b,,c", b"([^,]*)", 1, b"", b"a;;b;;;c;"),
            (Gsub, b"abc", b"b", 1, b"%x", b"axc\t1"),
            (Gsub, b"abc", b"b", 1, b"%", b"a\x00c\t1"),
            (Gsub, b"abc", b"b", 1, b"x%", b"ax\x00c\t1"),
            (Gsub, b"abc", b"b", 1, b"%2", b"ERR:invalid capture index"),
            (Gsub, b"abc", b"b", 1, b"%1", b"abc\t1"),
            (Gsub, b"abc", b"(b)", 1, b"%0%1", b"abbc\t1"),
            (Gsub, b"abc", b"()b", 1, b"%1", b"a2c\t1"),
            (Gsub, b"abc", b"(b", 1, b"x", b"axc\t1"),
            (Gsub, b"abc", b"(b", 1, b"%1", b"ERR:unfinished capture"),
            (Gsub, b"abc", b"b", 1, b"%%", b"a%c\t1"),
            (Gsub, b"abc", b"b", 1, b"%9", b"ERR:invalid capture index"),
            (Gsub, b"aaa", b"^a", 1, b"x", b"xaa\t1"),
            (Gsub, b"abc", b"", 1, b"-", b"-a-b-c-\t4"),
            (Gsub, b"hello world", b"(%w+)", 1, b"<%1>", b"<hello> <world>\t2"),
            (Gsub, b"hello world", b"%w+", 1, b"%0 %0", b"hello hello world world\t2"),
            (Gsub, b"abc", b"%w", 1, b"%1%1", b"aabbcc\t3"),
            (Gsub, b"a b c", b" ", 1, b"", b"abc\t2"),
            (Gsub, b"abc", b".-", 1, b".", b".a.b.c.\t4"),
            (Gsub, b"a.b.c", b"%.", 1, b"%%", b"a%b%c\t2"),
            (Gsub, b"x = 1", b"(%w+) = (%w+)", 1, b"%2 = %1", b"1 = x\t1"),
            (Gsub, b"abc", b"(a)(b)(c)", 1, b"%3%2%1%0", b"cbaabc\t1"),
            (Gsub, b"abc", b"b", 1, b"\x00%\x00", b"a\x00\x00c\t1"),
        ];
        let mut bad = Vec::new();
        for (i, &(op, s, p, init, repl, want)) in cases.iter().enumerate() {
            let got = match lua(op, s, p, init, repl) {
                Ok(v) => v,
                Err(e) => format!("ERR:{}", e.0).into_bytes(),
            };
            if got != want {
                bad.push(format!(
                    "case {i}: pattern {:?}: want {:?}, got {:?}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(want),
                    String::from_utf8_lossy(&got)
                ));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    /// Membership of every byte in each class, as luajit reports it for `%x`; the
    /// upper-case letter must give the complement. Hex digit k covers bytes 4k..4k+3.
    #[test]
    fn class_tables() {
        let tables = [
            (
                b'a',
                "0000000000000000efffff70efffff7000000000000000000000000000000000",
            ),
            (
                b'c',
                "ffffffff00000000000000000000000800000000000000000000000000000000",
            ),
            (
                b'd',
                "000000000000ff30000000000000000000000000000000000000000000000000",
            ),
            (
                b'g',
                "00000000effffffffffffffffffffff700000000000000000000000000000000",
            ),
            (
                b'l',
                "000000000000000000000000efffff7000000000000000000000000000000000",
            ),
            (
                b'p',
                "00000000efff00cf1000008f1000008700000000000000000000000000000000",
            ),
            (
                b's',
                "00e3000010000000000000000000000000000000000000000000000000000000",
            ),
            (
                b'u',
                "0000000000000000efffff700000000000000000000000000000000000000000",
            ),
            (
                b'w',
                "000000000000ff30efffff70efffff7000000000000000000000000000000000",
            ),
            (
                b'x',
                "000000000000ff30e7000000e700000000000000000000000000000000000000",
            ),
            (
                b'z',
                "1000000000000000000000000000000000000000000000000000000000000000",
            ),
        ];
        for (cl, hex) in tables {
            for c in 0..=255u8 {
                let nib = u8::from_str_radix(&hex[c as usize / 4..c as usize / 4 + 1], 16).unwrap();
                let want = nib >> (c % 4) & 1 == 1;
                assert_eq!(match_class(c, cl), want, "%{} on byte {c}", cl as char);
                assert_eq!(
                    match_class(c, cl.to_ascii_uppercase()),
                    !want,
                    "%{} on byte {c}",
                    cl.to_ascii_uppercase() as char
                );
            }
        }
        // Any other escaped byte matches itself only.
        for cl in (0..=255u8).filter(|c| !b"acdglpsuwxzACDGLPSUWXZ".contains(c)) {
            for c in 0..=255u8 {
                assert_eq!(match_class(c, cl), c == cl);
            }
        }
    }

    #[test]
    fn plain_detection() {
        for p in [&b"abc"[..], b"a]b", b"a)", b"", b"\0x", b"{}<>!@#&=~"] {
            assert!(is_plain(p), "{p:?}");
        }
        for c in b"^$*+?.([%-" {
            assert!(!is_plain(&[b'x', *c, b'y']));
        }
    }

    #[test]
    fn plain_search_agrees_with_naive() {
        let naive = |h: &[u8], n: &[u8], from: usize| -> Option<usize> {
            (from..=h.len()).find(|&i| h[i..].starts_with(n))
        };
        // A small LCG keeps the test deterministic without extra crates.
        let mut seed = 12345u64;
        let mut rnd = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for _ in 0..20000 {
            let hay: Vec<u8> = (0..rnd(40)).map(|_| b"ab\0\xff"[rnd(4) as usize]).collect();
            let needle: Vec<u8> = (0..rnd(4)).map(|_| b"ab\0\xff"[rnd(4) as usize]).collect();
            let from = rnd(hay.len() as u64 + 2) as usize;
            let want = if from > hay.len() {
                None
            } else {
                naive(&hay, &needle, from)
            };
            assert_eq!(
                find_plain(&hay, &needle, from),
                want,
                "{hay:?} {needle:?} {from}"
            );
            let b = b"ab\0\xff"[rnd(4) as usize];
            assert_eq!(memchr(b, &hay), hay.iter().position(|&x| x == b));
        }
        let big = [vec![b'a'; 100_000], b"needle".to_vec()].concat();
        assert_eq!(find_plain(&big, b"needle", 0), Some(100_000));
        assert_eq!(find_plain(&big, b"needles", 0), None);
    }

    #[test]
    fn matcher_api() {
        let mut m = Matcher::new(b"key=val", b"^(%w+)=()");
        assert_eq!(m.match_at(0, 1), Ok(Some(4)));
        assert_eq!(m.capture_count(), 2);
        assert_eq!(m.capture(0, 0, 4), Ok(CapValue::Str(b"key")));
        assert_eq!(m.capture(1, 0, 4), Ok(CapValue::Pos(5)));
        assert_eq!(m.capture(2, 0, 4), Err(PatError("invalid capture index")));
        // Without the skip, '^' is a literal byte.
        assert_eq!(m.match_at(0, 0), Ok(None));
        assert_eq!(m.capture_count(), 0);

        let mut m = Matcher::new(b"abc", b"b");
        assert_eq!(find(&mut m, 0), Ok(Some((1, 2))));
        assert_eq!(m.capture_count(), 0);
        assert_eq!(m.capture(0, 1, 2), Ok(CapValue::Str(b"b")));
        assert_eq!(m.capture(1, 1, 2), Err(PatError("invalid capture index")));
        assert_eq!(find(&mut m, 2), Ok(None));
        assert_eq!(find(&mut m, 99), Ok(None));

        let mut m = Matcher::new(b"abc", b"(b");
        assert_eq!(find(&mut m, 0), Ok(Some((1, 2))));
        assert_eq!(m.capture(0, 1, 2), Err(PatError("unfinished capture")));
        let mut out = Vec::new();
        assert_eq!(expand_replacement(&m, b"<%0>", 1, 2, &mut out), Ok(()));
        assert_eq!(out, b"<b>");
    }

    /// Pathological inputs must end with a result or "pattern too complex", never a
    /// stack overflow; run on a small stack to show the recursion stays bounded.
    #[test]
    fn stress_bounded() {
        let t = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let long_a = vec![b'a'; 100_000];
                type Found = Result<Option<(usize, usize)>, PatError>;
                let cases: Vec<(Vec<u8>, Found)> = vec![
                    (b"a?".repeat(1000), Err(PatError("pattern too complex"))),
                    (b"(a?)".repeat(1000), Err(PatError("too many captures"))),
                    (b"a*".repeat(1000), Err(PatError("pattern too complex"))),
                    (b"a-".repeat(1000), Err(PatError("pattern too complex"))),
                    (b"a?".repeat(199), Ok(Some((0, 199)))),
                    (b"(".repeat(1000), Err(PatError("too many captures"))),
                    (b".*".to_vec(), Ok(Some((0, 100_000)))),
                    (b".-$".to_vec(), Ok(Some((0, 100_000)))),
                    (b"a*$".to_vec(), Ok(Some((0, 100_000)))),
                    (b"(a*)%1$".to_vec(), Ok(Some((0, 100_000)))),
                    (b"%f[a]a+%f[%z]".to_vec(), Ok(Some((0, 100_000)))),
                ];
                for (p, want) in cases {
                    let mut m = Matcher::new(&long_a, &p);
                    assert_eq!(find(&mut m, 0), want, "{}", String::from_utf8_lossy(&p));
                }
                // Quadratic but finite: every start position scans to the end.
                let s = vec![b'a'; 3000];
                for p in [&b".-b"[..], b".*b", b"a*b", b"(a-)b", b"a+()b"] {
                    let mut m = Matcher::new(&s, p);
                    assert_eq!(find(&mut m, 0), Ok(None));
                }
                // Balanced match over a long nested subject is a flat scan.
                let nested = [b"(".repeat(50_000), b")".repeat(50_000)].concat();
                let mut m = Matcher::new(&nested, b"%b()");
                assert_eq!(find(&mut m, 0), Ok(Some((0, 100_000))));
            });
        t.unwrap().join().unwrap();
    }
}
