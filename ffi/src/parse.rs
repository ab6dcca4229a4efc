//! The C declaration parser: `ffi.cdef` declarations and the type strings of
//! `ffi.typeof`, `ffi.new`, `ffi.cast` and friends.
//!
//! Types are built as they are parsed, so entries get IDs in the order LuaJIT gives
//! them. A failed `cdef` rolls the table back (see [`CTypeTable::cdef`]). Recursion is
//! bounded (nesting of declarators, expressions and aggregates), so hostile input ends in
//! "chunk has too many syntax levels", never in a stack overflow.

use std::sync::Arc;

use crate::ctype::{
    AttribKind, CType, CTypeId, CallConv, Flags, Keyword, Kind, SIZE_INVALID, SIZE_MAX,
};
use crate::error::{msg, CError};
use crate::layout::{layout_aggregate, PendingMember};
use crate::lex::{Lexer, Tok};
use crate::table::{CTypeTable, Namespace};

/// A value for a `$` in a declaration, as `ffi.typeof("int[$]", n)` and
/// `ffi.cdef("struct $ {...}", "name")` pass them.
#[derive(Clone, Debug, PartialEq)]
pub enum DeclParam {
    /// A ctype, for `$` where a type is expected.
    Type(CTypeId),
    /// A number, for `$` in a constant expression (truncated to 32 bits).
    Int(i64),
    /// A string, for `$` where a struct, union or enum tag or a declared name is expected.
    Name(String),
}

/// How much a declaration may nest. Declarators and expressions have LuaJIT's limits,
/// so that deeper input fails the same way; LuaJIT nests structs deeper than 64, but
/// each level costs several KB of stack in a debug build and real headers nest a few.
const MAX_DECLARATOR_OPS: usize = 99;
const MAX_DECLARATOR_DEPTH: u32 = 20;
const MAX_EXPR_DEPTH: u32 = 19;
const MAX_AGGREGATE_DEPTH: u32 = 64;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `ffi.cdef`: declarations with names and storage classes.
    Cdef,
    /// A type string: one abstract declarator.
    Type,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Storage {
    None,
    Typedef,
    Extern,
    Static,
}

/// Attributes collected over one declaration (LuaJIT applies them declaration-wide).
#[derive(Clone, Default, Debug)]
pub(crate) struct Attrs {
    pub(crate) align_log2: Option<u8>,
    pub(crate) packed: bool,
    /// `mode(...)`: byte size of a scalar, and the element count for vector modes.
    mode: Option<(u32, Option<u32>, bool)>,
    vector_size: Option<u32>,
    cconv: Option<CallConv>,
    redirect: Option<String>,
}

/// The declaration specifiers.
struct Spec {
    base: CTypeId,
    quals: Flags,
    storage: Storage,
    /// The specifiers named or defined a struct, union or enum.
    is_tag: bool,
    /// A struct/union specifier carried an `aligned` attribute (LuaJIT wraps the
    /// declared type in an alignment attribute then).
    aggregate_aligned: bool,
    /// Attributes among the specifiers; each declarator starts from these.
    attrs: Attrs,
}

#[derive(Clone, Copy, Debug)]
enum ArraySize {
    Fixed(u32),
    /// `[]`
    Unknown,
    /// `[?]`
    Vla,
}

#[derive(Clone, Debug)]
enum DeclOp {
    Ptr {
        quals: Flags,
        reference: bool,
        ptr32: bool,
    },
    Array {
        size: ArraySize,
    },
    Func {
        first_param: CTypeId,
        vararg: bool,
    },
}

#[derive(Default)]
struct Declarator {
    name: Option<String>,
    ops: Vec<DeclOp>,
}

/// The value of a constant expression: 32 bits and a C type (`int`, `unsigned int`, or
/// the type of a cast or of an object whose members are looked up).
#[derive(Clone, Copy, Debug)]
struct Value {
    bits: u32,
    ty: CTypeId,
}

impl Value {
    fn int(bits: u32, unsigned: bool) -> Value {
        Value {
            bits,
            ty: if unsigned {
                CTypeId::UINT32
            } else {
                CTypeId::INT32
            },
        }
    }
}

pub(crate) struct Parser<'t, 's, 'p> {
    table: &'t mut CTypeTable,
    lex: Lexer<'s>,
    tok: Tok,
    /// Display text and line of `tok`.
    text: String,
    line: u32,
    /// One token of lookahead, with its text and line.
    peeked: Option<(Tok, String, u32)>,
    params: &'p [DeclParam],
    next_param: usize,
    mode: Mode,
    /// `#pragma pack` state: the current maximum member alignment (0: none) and the
    /// pushed values.
    pack: u32,
    pack_stack: Vec<u32>,
    declarator_depth: u32,
    expr_depth: u32,
    aggregate_depth: u32,
}

impl<'t, 's, 'p> Parser<'t, 's, 'p> {
    fn new(
        table: &'t mut CTypeTable,
        src: &'s str,
        params: &'p [DeclParam],
        mode: Mode,
    ) -> Parser<'t, 's, 'p> {
        Parser {
            table,
            lex: Lexer::new(src),
            tok: Tok::Eof,
            text: String::new(),
            line: 1,
            peeked: None,
            params,
            next_param: 0,
            mode,
            pack: 0,
            pack_stack: Vec::new(),
            declarator_depth: 0,
            expr_depth: 0,
            aggregate_depth: 0,
        }
    }

    // ---- tokens ----

    fn advance(&mut self) -> Result<(), CError> {
        let (tok, text, line) = match self.peeked.take() {
            Some(next) => next,
            None => {
                let tok = self.lex.next()?;
                (tok, self.lex.text.clone(), self.lex.line)
            }
        };
        self.tok = tok;
        self.text = text;
        self.line = line;
        Ok(())
    }

    fn peek(&mut self) -> Result<&Tok, CError> {
        if self.peeked.is_none() {
            let tok = self.lex.next()?;
            self.peeked = Some((tok, self.lex.text.clone(), self.lex.line));
        }
        Ok(&self.peeked.as_ref().expect("just filled").0)
    }

    fn is(&self, punct: &str) -> bool {
        matches!(self.tok, Tok::Punct(p) if p == punct)
    }

    fn accept(&mut self, punct: &str) -> Result<bool, CError> {
        if self.is(punct) {
            self.advance()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn expect(&mut self, punct: &str) -> Result<(), CError> {
        if !self.accept(punct)? {
            return Err(self.err(&msg::expected(punct)));
        }
        Ok(())
    }

    fn err(&self, message: &str) -> CError {
        CError::near(message, &self.text, self.line)
    }

    /// The keyword or typedef an identifier token names.
    fn ident_entry(&self, tok: &Tok) -> Option<(CTypeId, Kind)> {
        let Tok::Ident(name) = tok else { return None };
        let id = self.table.lookup(name)?;
        Some((id, self.table.get(id).kind))
    }

    fn keyword(&self) -> Option<Keyword> {
        match self.ident_entry(&self.tok) {
            Some((_, Kind::Keyword(k))) => Some(k),
            _ => None,
        }
    }

    fn take_param(&mut self) -> Result<&'p DeclParam, CError> {
        let param = self
            .params
            .get(self.next_param)
            .ok_or_else(|| CError::new(msg::PARAM_COUNT))?;
        self.next_param += 1;
        Ok(param)
    }

    fn peek_param(&self) -> Option<&'p DeclParam> {
        self.params.get(self.next_param)
    }

    /// Whether the token after the current one starts a type name.
    fn next_starts_type(&mut self) -> Result<bool, CError> {
        let next = self.peek()?.clone();
        Ok(self.starts_type(&next))
    }

    /// Whether a token starts a type name (for casts, `sizeof` and parameter lists).
    fn starts_type(&self, tok: &Tok) -> bool {
        match tok {
            Tok::Punct("$") => matches!(self.peek_param(), Some(DeclParam::Type(_))),
            _ => match self.ident_entry(tok) {
                Some((_, Kind::Typedef)) => true,
                Some((_, Kind::Keyword(k))) => is_type_keyword(k),
                _ => false,
            },
        }
    }

    // ---- declarations ----

    /// `ffi.cdef`: declarations until the end of the input.
    fn declarations(&mut self) -> Result<(), CError> {
        self.advance()?;
        while self.tok != Tok::Eof {
            if self.accept(";")? {
                continue;
            }
            if self.is("#") {
                self.pragma()?;
                continue;
            }
            self.declaration()?;
        }
        Ok(())
    }

    fn declaration(&mut self) -> Result<(), CError> {
        let spec = self.specifiers(true)?;
        if self.is(";") && spec.is_tag {
            return self.advance();
        }
        loop {
            let mut attrs = spec.attrs.clone();
            let decl = self.declarator(&mut attrs, true)?;
            let Some(name) = decl.name.clone() else {
                return Err(self.err(&msg::expected("<identifier>")));
            };
            let ty = self.build(&spec, &decl, &attrs, false)?;
            let raw_kind = self.table.get(self.table.raw(ty)).kind;
            match spec.storage {
                Storage::Typedef => {
                    let mut ct = CType::new(Kind::Typedef, Flags::NONE, ty, 0);
                    ct.name = Some(name.into());
                    self.table.push_named(ct, Namespace::Ordinary)?;
                }
                Storage::Static if !matches!(raw_kind, Kind::Func(_)) => {
                    self.static_const(ty, &name)?;
                }
                _ if matches!(raw_kind, Kind::Func(_)) => {
                    self.function_decl(ty, name, &attrs)?;
                    if self.is("{") {
                        return self.skip_body();
                    }
                }
                _ => {
                    let mut ct = CType::new(Kind::Extern, Flags::NONE, ty, 0);
                    ct.name = Some(name.into());
                    if self.table.lookup(ct.name().unwrap_or_default()).is_none() {
                        let id = self.table.push_named(ct, Namespace::Ordinary)?;
                        self.add_redirect(id, &attrs)?;
                    }
                }
            }
            if !self.accept(",")? {
                break;
            }
        }
        self.expect(";")
    }

    /// Names a function type created for this declaration (a redeclaration keeps the
    /// first one, as LuaJIT does).
    fn function_decl(&mut self, func: CTypeId, name: String, attrs: &Attrs) -> Result<(), CError> {
        if self.table.lookup(&name).is_some() {
            return Ok(());
        }
        let func = self.table.raw(func);
        let mut ct = self.table.get(func).clone();
        if ct.name.is_some() {
            // A typedef'd function type is shared: the declaration gets its own entry.
            ct.name = None;
            let copy = self.table.push(ct.clone())?;
            return self.function_decl(copy, name, attrs);
        }
        let name: Arc<str> = name.into();
        ct.name = Some(name.clone());
        self.table.replace(func, ct);
        self.table.bind_name(name, func);
        self.add_redirect(func, attrs)
    }

    /// Appends an `asm("symbol")` redirection to the end of a declaration's chain.
    fn add_redirect(&mut self, decl: CTypeId, attrs: &Attrs) -> Result<(), CError> {
        let Some(symbol) = &attrs.redirect else {
            return Ok(());
        };
        let mut ct = CType::new(
            Kind::Attrib(AttribKind::Redirect),
            Flags::NONE,
            CTypeId::NONE,
            0,
        );
        ct.name = Some(symbol.as_str().into());
        let redirect = self.table.push(ct)?;
        let mut last = decl;
        while !self.table.get(last).sib.is_none() {
            last = self.table.get(last).sib;
        }
        self.table.set_sib(last, redirect);
        Ok(())
    }

    /// `static const int NAME = value;` (also inside structs, where `chain` collects it).
    fn static_const(&mut self, ty: CTypeId, name: &str) -> Result<CTypeId, CError> {
        if let Some(existing) = self.table.lookup(name) {
            // LuaJIT keeps the first declaration and does not expect an initializer.
            return Ok(existing);
        }
        let constant = self.const_entry(ty, name)?;
        self.table.push_named(constant, Namespace::Ordinary)
    }

    /// The entry of `static const <int type> name = value` (the `=` is next); only
    /// integer types of up to 32 bits can be constants.
    fn const_entry(&mut self, ty: CTypeId, name: &str) -> Result<CType, CError> {
        let raw = self.table.get(self.table.raw(ty));
        let quals = self.table.qualifiers(ty);
        if !raw.is_integer() || raw.size > 4 || !quals.contains(Flags::CONST) {
            return Err(CError::new(msg::INVALID_TYPE));
        }
        let (size, unsigned) = (raw.size, raw.flags.contains(Flags::UNSIGNED));
        self.expect("=")?;
        let value = self.expr()?;
        let bits = truncate(value.bits, size, unsigned);
        let mut constant = CType::new(Kind::ConstVal, Flags::NONE, ty, bits);
        constant.name = Some(name.into());
        Ok(constant)
    }

    /// Skips an inline function body (balanced braces).
    fn skip_body(&mut self) -> Result<(), CError> {
        self.skip_balanced("{", "}")
    }

    /// Skips from the `open` token here to its matching `close`.
    fn skip_balanced(&mut self, open: &str, close: &str) -> Result<(), CError> {
        let mut level = 0u32;
        loop {
            if self.tok == Tok::Eof {
                return Err(self.err(&msg::expected(close)));
            }
            if self.is(open) {
                level += 1;
            } else if self.is(close) {
                level -= 1;
                if level == 0 {
                    return self.advance();
                }
            }
            self.advance()?;
        }
    }

    /// `#pragma pack(...)`; other pragmas are skipped to the end of their line.
    fn pragma(&mut self) -> Result<(), CError> {
        self.advance()?;
        if !matches!(&self.tok, Tok::Ident(word) if word == "pragma") {
            return Err(self.err(msg::UNEXPECTED));
        }
        self.advance()?;
        if !matches!(&self.tok, Tok::Ident(word) if word == "pack") {
            if self.peeked.is_none() {
                self.lex.skip_line();
            }
            return self.advance();
        }
        self.advance()?;
        self.expect("(")?;
        if let Tok::Ident(word) = &self.tok {
            let word = word.clone();
            self.advance()?;
            match word.as_str() {
                "push" => self.pack_stack.push(self.pack),
                "pop" => self.pack = self.pack_stack.pop().unwrap_or(0),
                _ => return Err(self.err(msg::UNEXPECTED)),
            }
            if word == "push" && self.accept(",")? {
                self.pack = self.pack_value()?;
            }
        } else if let Tok::Int { .. } = self.tok {
            self.pack = self.pack_value()?;
        } else {
            self.pack = 0;
        }
        self.expect(")")
    }

    fn pack_value(&mut self) -> Result<u32, CError> {
        let Tok::Int { value, .. } = self.tok else {
            return Err(self.err(msg::UNEXPECTED));
        };
        self.advance()?;
        Ok(round_down_pow2(value))
    }

    // ---- specifiers ----

    /// The type a `$` stands for: declarations (members, constants, externs) stand for
    /// their type; IDs of no type are invalid.
    fn param_type(&self, id: CTypeId) -> Result<CTypeId, CError> {
        let ct = self
            .table
            .try_get(id)
            .ok_or_else(|| CError::new(msg::INVALID_TYPE))?;
        match ct.kind {
            Kind::Field | Kind::Bitfield { .. } | Kind::ConstVal | Kind::Extern => {
                self.param_type(ct.child)
            }
            Kind::Typedef => Ok(self.table.resolve_typedef(id)),
            Kind::Keyword(_) | Kind::Attrib(AttribKind::Redirect) => {
                Err(CError::new(msg::INVALID_TYPE))
            }
            _ if id.is_none() => Err(CError::new(msg::INVALID_TYPE)),
            _ => Ok(id),
        }
    }

    /// Declaration specifiers: storage class, qualifiers, attributes and the base type.
    fn specifiers(&mut self, allow_storage: bool) -> Result<Spec, CError> {
        let mut spec = Spec {
            base: CTypeId::NONE,
            quals: Flags::NONE,
            storage: Storage::None,
            is_tag: false,
            aggregate_aligned: false,
            attrs: Attrs::default(),
        };
        let attrs = &mut spec.attrs;
        let mut words = NumWords::default();
        loop {
            if self.is("$") {
                if spec.base != CTypeId::NONE || words.has_base() {
                    break;
                }
                match self.peek_param() {
                    Some(DeclParam::Type(id)) => {
                        let id = *id;
                        self.take_param()?;
                        spec.base = self.param_type(id)?;
                        self.advance()?;
                        continue;
                    }
                    None => return Err(CError::new(msg::PARAM_COUNT)),
                    Some(_) => return Err(self.err(msg::DECL_SPEC)),
                }
            }
            let Some((id, kind)) = self.ident_entry(&self.tok) else {
                break;
            };
            match kind {
                Kind::Typedef => {
                    if spec.base != CTypeId::NONE || words.has_base() || words.has_modifier() {
                        break;
                    }
                    spec.base = self.table.get(id).child;
                    self.advance()?;
                }
                Kind::Keyword(keyword) => {
                    use Keyword::*;
                    match keyword {
                        Typedef | Extern | Static | Auto | Register => {
                            if !allow_storage || matches!(keyword, Auto | Register) {
                                return Err(self.err(msg::BAD_STORAGE));
                            }
                            spec.storage = match keyword {
                                Typedef => Storage::Typedef,
                                Extern => Storage::Extern,
                                _ => Storage::Static,
                            };
                            self.advance()?;
                        }
                        Const => {
                            spec.quals |= Flags::CONST;
                            self.advance()?;
                        }
                        Volatile => {
                            spec.quals |= Flags::VOLATILE;
                            self.advance()?;
                        }
                        Restrict | Inline | Extension | Ptr32 | Ptr64 => self.advance()?,
                        Attribute | Declspec | Asm | Cdecl | Fastcall | Stdcall | Thiscall => {
                            self.attribute(attrs)?
                        }
                        Struct | Union | Enum => {
                            if spec.base != CTypeId::NONE || words.has_base() {
                                break;
                            }
                            let (base, aligned) = if keyword == Enum {
                                (self.enum_spec(attrs)?, false)
                            } else {
                                self.struct_spec(keyword == Union, attrs)?
                            };
                            spec.base = base;
                            spec.is_tag = true;
                            spec.aggregate_aligned = aligned;
                        }
                        Sizeof | Alignof => break,
                        _ => {
                            if !words.add(keyword) || spec.base != CTypeId::NONE {
                                break;
                            }
                            self.advance()?;
                        }
                    }
                }
                _ => break,
            }
        }
        if spec.base == CTypeId::NONE {
            if words.is_empty() {
                return Err(self.err(msg::DECL_SPEC));
            }
            spec.base = self.num_type(&words)?;
        }
        Ok(spec)
    }

    /// The type named by a combination of type keywords.
    fn num_type(&mut self, words: &NumWords) -> Result<CTypeId, CError> {
        let target = self.table.target();
        if words.base == Some(Keyword::Void) {
            return Ok(CTypeId::VOID);
        }
        let (flags, size) = match words.base {
            Some(Keyword::Bool) => (Flags::BOOL | Flags::UNSIGNED, 1),
            None if words.bool_modifier && words.short == 0 && words.long == 0 => {
                (Flags::BOOL | Flags::UNSIGNED, 1)
            }
            Some(Keyword::Float) => (Flags::FP, 4),
            Some(Keyword::Double) if words.long > 0 => {
                (Flags::FP | Flags::LONG, target.long_double_size())
            }
            Some(Keyword::Double) => (Flags::FP, 8),
            None if words.complex => (Flags::FP, 8),
            Some(Keyword::Char) => {
                let unsigned = match words.signed {
                    Some(signed) => !signed,
                    None => target.char_is_unsigned(),
                };
                (
                    if unsigned {
                        Flags::UNSIGNED
                    } else {
                        Flags::NONE
                    },
                    1,
                )
            }
            Some(Keyword::Int8) => (Flags::NONE, 1),
            Some(Keyword::Int16) => (Flags::NONE, 2),
            Some(Keyword::Int32) => (Flags::NONE, 4),
            Some(Keyword::Int64) => (Flags::NONE, 8),
            _ if words.short > 0 => (Flags::NONE, 2),
            _ if words.long == 1 => (Flags::LONG, 8),
            _ if words.long >= 2 => (Flags::NONE, 8),
            _ => (Flags::NONE, 4),
        };
        let mut flags = flags;
        if words.bool_modifier {
            // `_Bool int` is LuaJIT's 4-byte bool.
            flags |= Flags::BOOL | Flags::UNSIGNED;
        }
        if words.signed == Some(false) && !flags.intersects(Flags::FP | Flags::BOOL) {
            flags |= Flags::UNSIGNED;
        }
        let mut ct = CType::new(Kind::Num, flags, CTypeId::NONE, size);
        ct.align_log2 = size.trailing_zeros() as u8;
        let id = self.table.intern(ct)?;
        if words.complex {
            if !flags.contains(Flags::FP) || size > 8 {
                return Err(CError::new(msg::INVALID_TYPE));
            }
            let mut complex = CType::new(Kind::Array, Flags::COMPLEX, id, size * 2);
            complex.align_log2 = size.trailing_zeros() as u8;
            return self.table.intern(complex);
        }
        Ok(id)
    }

    /// `__attribute__((...))`, `__declspec(...)`, `asm("...")` or a calling convention.
    fn attribute(&mut self, attrs: &mut Attrs) -> Result<(), CError> {
        let keyword = self.keyword().expect("called on a keyword");
        self.advance()?;
        match keyword {
            Keyword::Cdecl => attrs.cconv = Some(CallConv::Cdecl),
            Keyword::Fastcall => attrs.cconv = Some(CallConv::Fastcall),
            Keyword::Stdcall => attrs.cconv = Some(CallConv::Stdcall),
            Keyword::Thiscall => attrs.cconv = Some(CallConv::Thiscall),
            Keyword::Asm => {
                self.expect("(")?;
                let mut symbol = Vec::new();
                while let Tok::Str(bytes) = &self.tok {
                    symbol.extend_from_slice(bytes);
                    self.advance()?;
                }
                attrs.redirect = Some(String::from_utf8_lossy(&symbol).into_owned());
                self.expect(")")?;
            }
            Keyword::Attribute => {
                self.expect("(")?;
                self.expect("(")?;
                while !self.is(")") {
                    self.gcc_attribute(attrs)?;
                    if !self.accept(",")? {
                        break;
                    }
                }
                self.expect(")")?;
                self.expect(")")?;
            }
            Keyword::Declspec => {
                self.expect("(")?;
                while !self.is(")") {
                    let name = self.attribute_name()?;
                    if name == "align" && self.is("(") {
                        self.advance()?;
                        let value = self.expr()?;
                        attrs.align_log2 = Some(align_log2(value.bits));
                        self.expect(")")?;
                    } else {
                        self.skip_parens()?;
                    }
                }
                self.expect(")")?;
            }
            _ => unreachable!("not an attribute keyword"),
        }
        Ok(())
    }

    /// An attribute's name, with `__x__` spelled as `x`.
    fn attribute_name(&mut self) -> Result<String, CError> {
        let name = match &self.tok {
            Tok::Ident(name) => name.clone(),
            _ => return Err(self.err(&msg::expected("<identifier>"))),
        };
        self.advance()?;
        Ok(name
            .strip_prefix("__")
            .and_then(|n| n.strip_suffix("__"))
            .unwrap_or(&name)
            .to_string())
    }

    fn gcc_attribute(&mut self, attrs: &mut Attrs) -> Result<(), CError> {
        let name = self.attribute_name()?;
        match name.as_str() {
            "aligned" => {
                if self.accept("(")? {
                    let value = self.expr()?;
                    attrs.align_log2 = Some(align_log2(value.bits));
                    self.expect(")")?;
                } else {
                    attrs.align_log2 = Some(self.table.target().max_align().trailing_zeros() as u8);
                }
            }
            "packed" => attrs.packed = true,
            "mode" => {
                self.expect("(")?;
                let mode = self.attribute_name()?;
                attrs.mode = parse_mode(&mode);
                self.expect(")")?;
            }
            "vector_size" => {
                self.expect("(")?;
                let value = self.expr()?;
                attrs.vector_size = Some(value.bits);
                self.expect(")")?;
            }
            "cdecl" => attrs.cconv = Some(CallConv::Cdecl),
            "fastcall" => attrs.cconv = Some(CallConv::Fastcall),
            "stdcall" => attrs.cconv = Some(CallConv::Stdcall),
            "thiscall" => attrs.cconv = Some(CallConv::Thiscall),
            _ => self.skip_parens()?,
        }
        Ok(())
    }

    /// Skips an optional balanced `( ... )` (arguments of an attribute we ignore).
    fn skip_parens(&mut self) -> Result<(), CError> {
        if !self.is("(") {
            return Ok(());
        }
        self.skip_balanced("(", ")")
    }

    fn attributes(&mut self, attrs: &mut Attrs) -> Result<(), CError> {
        while matches!(
            self.keyword(),
            Some(Keyword::Attribute | Keyword::Declspec | Keyword::Asm)
        ) {
            self.attribute(attrs)?;
        }
        Ok(())
    }

    /// A tag name (or `$` with a string), if one follows.
    fn tag_name(&mut self) -> Result<Option<String>, CError> {
        if self.is("$") {
            return match self.take_param()? {
                DeclParam::Name(name) => {
                    self.advance()?;
                    Ok(Some(name.clone()))
                }
                _ => Err(self.err(&msg::expected("<identifier>"))),
            };
        }
        match &self.tok {
            Tok::Ident(name)
                if !matches!(self.ident_entry(&self.tok), Some((_, Kind::Keyword(_)))) =>
            {
                let name = name.clone();
                self.advance()?;
                Ok(Some(name))
            }
            _ => Ok(None),
        }
    }

    /// Finds or creates the entry for `struct/union/enum name`; `defining` if a body
    /// follows.
    fn tag_entry(
        &mut self,
        name: &str,
        kind: Kind,
        flags: Flags,
        defining: bool,
    ) -> Result<CTypeId, CError> {
        if let Some(id) = self.table.lookup_tag(name) {
            let ct = self.table.get(id);
            let same_kind =
                ct.kind == kind && ct.flags.contains(Flags::UNION) == flags.contains(Flags::UNION);
            if !same_kind || (defining && ct.has_size()) {
                return Err(CError::new(msg::redefine(name)));
            }
            return Ok(id);
        }
        if self.mode == Mode::Type {
            return Err(CError::new(msg::implicit_tag(name)));
        }
        let mut ct = CType::new(kind, flags, CTypeId::NONE, SIZE_INVALID);
        if kind == Kind::Enum {
            ct.child = CTypeId::INT32;
            ct.align_log2 = 2;
        }
        let name: Arc<str> = name.into();
        ct.name = Some(name.clone());
        let id = self.table.push(ct)?;
        self.table.bind_tag(name, id);
        Ok(id)
    }

    /// `struct`/`union` specifier. Returns the type and whether it had `aligned`.
    fn struct_spec(&mut self, union: bool, outer: &mut Attrs) -> Result<(CTypeId, bool), CError> {
        self.advance()?;
        let mut attrs = Attrs::default();
        self.attributes(&mut attrs)?;
        let name = self.tag_name()?;
        self.attributes(&mut attrs)?;
        let flags = if union { Flags::UNION } else { Flags::NONE };
        let Some(name) = name else {
            if !self.is("{") {
                return Err(self.err(&msg::expected("<identifier>")));
            }
            let id =
                self.table
                    .push(CType::new(Kind::Struct, flags, CTypeId::NONE, SIZE_INVALID))?;
            return self.struct_body(id, attrs, outer);
        };
        let defining = self.is("{");
        let id = self.tag_entry(&name, Kind::Struct, flags, defining)?;
        if !defining {
            return Ok((id, attrs.align_log2.is_some()));
        }
        self.struct_body(id, attrs, outer)
    }

    fn struct_body(
        &mut self,
        id: CTypeId,
        mut attrs: Attrs,
        outer: &mut Attrs,
    ) -> Result<(CTypeId, bool), CError> {
        self.aggregate_depth += 1;
        if self.aggregate_depth > MAX_AGGREGATE_DEPTH {
            return Err(self.err(msg::NEST_TOO_DEEP));
        }
        let pack = self.pack;
        self.expect("{")?;
        let mut members = Vec::new();
        let mut last = id;
        while !self.accept("}")? {
            if self.is("#") {
                self.pragma()?;
                continue;
            }
            self.member_declaration(id, &mut members, &mut last)?;
        }
        self.attributes(&mut attrs)?;
        attrs.packed |= outer.packed;
        outer.packed |= attrs.packed;
        let aligned = attrs.align_log2.is_some();
        layout_aggregate(
            self.table,
            id,
            &members,
            attrs.packed,
            attrs.align_log2,
            pack,
        )?;
        self.aggregate_depth -= 1;
        Ok((id, aligned))
    }

    /// One member declaration inside a struct or union body.
    fn member_declaration(
        &mut self,
        aggregate: CTypeId,
        members: &mut Vec<PendingMember>,
        last: &mut CTypeId,
    ) -> Result<(), CError> {
        let spec = self.specifiers(true)?;
        let spec_attrs = spec.attrs.clone();
        if members.last().is_some_and(|m| m.flexible) {
            // Nothing may follow a flexible array member.
            return Err(self.err(&msg::expected("}")));
        }
        if spec.storage == Storage::Typedef || spec.storage == Storage::Extern {
            return Err(self.err(msg::BAD_STORAGE));
        }
        if self.is(";") {
            let raw = self.table.get(self.table.raw(spec.base));
            let anonymous = raw.is_struct() || raw.kind == Kind::Enum;
            if spec.is_tag && anonymous || self.table.get(self.table.raw(spec.base)).is_struct() {
                let ty = self.qualify(spec.base, spec.quals)?;
                let entry = self.push_member(last, CType::new(Kind::Field, Flags::NONE, ty, 0))?;
                members.push(PendingMember::new(entry, ty, &spec_attrs));
                return self.advance();
            }
            return Err(self.err(&msg::expected("<identifier>")));
        }
        loop {
            let mut attrs = spec_attrs.clone();
            let decl = self.declarator(&mut attrs, true)?;
            let mut bits = None;
            if self.is(":") {
                let (colon_text, colon_line) = (self.text.clone(), self.line);
                self.advance()?;
                let width = self.expr()?;
                bits = Some((width.bits, colon_text, colon_line));
                self.attributes(&mut attrs)?;
            }
            if spec.storage == Storage::Static {
                let ty = self.build(&spec, &decl, &attrs, false)?;
                let name = decl.name.clone().unwrap_or_default();
                // A constant declared in a struct is a member, not a global name.
                let entry = self.const_entry(ty, &name)?;
                let constant = self.table.push(entry)?;
                self.table.set_sib(*last, constant);
                *last = constant;
            } else {
                let ty = self.build(&spec, &decl, &attrs, true)?;
                if decl.name.is_none() && bits.is_none() {
                    return Err(self.err(&msg::expected("<identifier>")));
                }
                let raw_id = self.table.raw(ty);
                let raw = self.table.get(raw_id).clone();
                let mut pending;
                if let Some((width, colon_text, colon_line)) = bits {
                    if width > SIZE_MAX {
                        return Err(CError::new(msg::SIZE));
                    }
                    let max_bits = if raw.flags.contains(Flags::BOOL) {
                        1
                    } else {
                        32
                    };
                    let valid_type =
                        raw.kind == Kind::Num && !raw.flags.contains(Flags::FP) && raw.size <= 4;
                    let named = decl.name.is_some();
                    if !valid_type || width > max_bits.min(raw.size * 8) || (width == 0 && named) {
                        return Err(CError::near(msg::INVALID_VALUE, &colon_text, colon_line));
                    }
                    let mut ct = CType::new(
                        Kind::Bitfield {
                            bit_pos: 0,
                            bit_width: width as u8,
                        },
                        Flags::NONE,
                        ty,
                        0,
                    );
                    ct.name = decl.name.clone().map(Into::into);
                    let entry = self.push_member(last, ct)?;
                    pending = PendingMember::new(entry, ty, &attrs);
                    pending.bit_width = Some(width);
                } else {
                    let flexible = raw.kind == Kind::Array && !raw.has_size();
                    if flexible {
                        if raw.is_vla() && self.table.get(aggregate).is_union() {
                            return Err(CError::new(msg::SIZE));
                        }
                    } else if !raw.has_size() || raw.is_func() || raw.kind == Kind::Void {
                        return Err(CError::new(msg::SIZE));
                    }
                    let mut ct = CType::new(Kind::Field, Flags::NONE, ty, 0);
                    ct.name = decl.name.clone().map(Into::into);
                    let entry = self.push_member(last, ct)?;
                    pending = PendingMember::new(entry, ty, &attrs);
                    pending.flexible = flexible;
                }
                members.push(pending);
            }
            if !self.accept(",")? {
                break;
            }
            if members.last().is_some_and(|m| m.flexible) {
                return Err(self.err(&msg::expected(";")));
            }
        }
        self.expect(";")
    }

    /// Adds a member entry and links it after `last`.
    fn push_member(&mut self, last: &mut CTypeId, ct: CType) -> Result<CTypeId, CError> {
        let id = self.table.push(ct)?;
        self.table.set_sib(*last, id);
        *last = id;
        Ok(id)
    }

    /// `enum` specifier.
    fn enum_spec(&mut self, outer: &mut Attrs) -> Result<CTypeId, CError> {
        self.advance()?;
        self.attributes(outer)?;
        let name = self.tag_name()?;
        self.attributes(outer)?;
        let defining = self.is("{");
        let id = match &name {
            Some(name) => self.tag_entry(name, Kind::Enum, Flags::NONE, defining)?,
            None if defining => {
                let mut ct = CType::new(Kind::Enum, Flags::NONE, CTypeId::INT32, SIZE_INVALID);
                ct.align_log2 = 2;
                self.table.push(ct)?
            }
            None => return Err(self.err(&msg::expected("<identifier>"))),
        };
        if !defining {
            return Ok(id);
        }
        self.advance()?;
        let mut last = id;
        let mut next = Value::int(0, false);
        // As in luajit, an enum is unsigned unless one of its constants is negative.
        let mut any_negative = false;
        loop {
            let Tok::Ident(const_name) = &self.tok else {
                return Err(self.err(&msg::expected("<identifier>")));
            };
            let const_name = const_name.clone();
            self.advance()?;
            if self.accept("=")? {
                next = self.expr()?;
                next = Value::int(next.bits, self.is_unsigned(next));
            }
            if self.table.lookup(&const_name).is_some() {
                return Err(CError::new(msg::redefine(&const_name)));
            }
            any_negative |= !self.is_unsigned(next) && (next.bits as i32) < 0;
            let mut ct = CType::new(Kind::ConstVal, Flags::NONE, next.ty, next.bits);
            ct.name = Some(const_name.into());
            let constant = self.table.push_named(ct, Namespace::Ordinary)?;
            self.table.set_sib(last, constant);
            last = constant;
            next.bits = next.bits.wrapping_add(1);
            if !self.accept(",")? || self.is("}") {
                break;
            }
        }
        self.expect("}")?;
        self.attributes(outer)?;
        let mut ct = self.table.get(id).clone();
        ct.size = 4;
        ct.child = if any_negative {
            CTypeId::INT32
        } else {
            CTypeId::UINT32
        };
        self.table.replace(id, ct);
        Ok(id)
    }

    // ---- declarators ----

    /// A declarator; `named` allows (but does not require) an identifier.
    fn declarator(&mut self, attrs: &mut Attrs, named: bool) -> Result<Declarator, CError> {
        let mut decl = Declarator::default();
        self.declarator_level(&mut decl, attrs, named)?;
        self.attributes(attrs)?;
        Ok(decl)
    }

    fn declarator_level(
        &mut self,
        decl: &mut Declarator,
        attrs: &mut Attrs,
        named: bool,
    ) -> Result<(), CError> {
        self.declarator_depth += 1;
        if self.declarator_depth > MAX_DECLARATOR_DEPTH {
            return Err(self.err(msg::NEST_TOO_DEEP));
        }
        let mut pointers = Vec::new();
        loop {
            if self.is("*") || self.is("&") {
                let reference = self.is("&");
                self.advance()?;
                let mut quals = Flags::NONE;
                let mut ptr32 = false;
                loop {
                    match self.keyword() {
                        Some(Keyword::Const) => quals |= Flags::CONST,
                        Some(Keyword::Volatile) => quals |= Flags::VOLATILE,
                        Some(Keyword::Restrict | Keyword::Ptr64) => {}
                        Some(Keyword::Ptr32) => ptr32 = true,
                        Some(k) if is_declarator_attribute(k) => {
                            self.attribute(attrs)?;
                            continue;
                        }
                        _ => break,
                    }
                    self.advance()?;
                }
                pointers.push(DeclOp::Ptr {
                    quals,
                    reference,
                    ptr32,
                });
            } else if self.keyword().is_some_and(is_declarator_attribute) {
                self.attribute(attrs)?;
            } else {
                break;
            }
        }
        let mut inner = Declarator::default();
        if self.is("(") && self.paren_is_grouping()? {
            self.advance()?;
            self.declarator_level(&mut inner, attrs, named)?;
            self.expect(")")?;
        } else if named {
            if let Tok::Ident(name) = &self.tok {
                if !matches!(self.ident_entry(&self.tok), Some((_, Kind::Keyword(_)))) {
                    decl.name = Some(name.clone());
                    self.advance()?;
                }
            } else if self.is("$") {
                let DeclParam::Name(name) = self.take_param()? else {
                    return Err(self.err(&msg::expected("<identifier>")));
                };
                decl.name = Some(name.clone());
                self.advance()?;
            }
        }
        let mut suffixes = Vec::new();
        loop {
            self.attributes(attrs)?;
            if self.is("[") {
                suffixes.push(self.array_suffix()?);
            } else if self.is("(") {
                suffixes.push(self.params(attrs)?);
            } else {
                break;
            }
        }
        decl.ops.extend(pointers);
        decl.ops.extend(suffixes.into_iter().rev());
        decl.ops.extend(inner.ops);
        if inner.name.is_some() {
            decl.name = inner.name;
        }
        if decl.ops.len() > MAX_DECLARATOR_OPS {
            return Err(self.err(msg::NEST_TOO_DEEP));
        }
        self.declarator_depth -= 1;
        Ok(())
    }

    /// Whether a `(` opens a nested declarator rather than a parameter list.
    fn paren_is_grouping(&mut self) -> Result<bool, CError> {
        let next = self.peek()?.clone();
        if matches!(next, Tok::Punct(")" | ".")) {
            return Ok(false);
        }
        Ok(match self.ident_entry(&next) {
            Some((_, Kind::Keyword(k))) => is_declarator_attribute(k) || !is_type_keyword(k),
            _ => !self.starts_type(&next),
        })
    }

    fn array_suffix(&mut self) -> Result<DeclOp, CError> {
        self.advance()?;
        // Qualifiers of a parameter's array (`int a[const]`) are accepted and dropped, as
        // LuaJIT does.
        while matches!(
            self.keyword(),
            Some(Keyword::Const | Keyword::Volatile | Keyword::Restrict)
        ) {
            self.advance()?;
        }
        let size = if self.accept("]")? {
            return Ok(DeclOp::Array {
                size: ArraySize::Unknown,
            });
        } else if self.is("?") {
            self.advance()?;
            ArraySize::Vla
        } else {
            let value = self.expr()?;
            let count = self.to_count(value)?;
            ArraySize::Fixed(count)
        };
        self.expect("]")?;
        Ok(DeclOp::Array { size })
    }

    /// A non-negative count from a constant expression.
    fn to_count(&self, value: Value) -> Result<u32, CError> {
        let raw = self.table.get(self.table.raw(value.ty));
        if raw.kind != Kind::Num && raw.kind != Kind::Enum {
            return Err(CError::new(msg::INVALID_VALUE));
        }
        if !self.is_unsigned(value) && (value.bits as i32) < 0 || value.bits > SIZE_MAX {
            return Err(CError::new(msg::SIZE));
        }
        Ok(value.bits)
    }

    /// A parameter list; creates the parameter entries.
    fn params(&mut self, attrs: &mut Attrs) -> Result<DeclOp, CError> {
        self.advance()?;
        let mut first = CTypeId::NONE;
        let mut last = CTypeId::NONE;
        let mut vararg = false;
        if !self.is(")") {
            loop {
                if self.is(".") {
                    self.expect(".")?;
                    self.expect(".")?;
                    self.expect(".")?;
                    vararg = true;
                    break;
                }
                let spec = self.specifiers(false)?;
                let mut param_attrs = spec.attrs.clone();
                let decl = self.declarator(&mut param_attrs, true)?;
                let ty = self.build(&spec, &decl, &param_attrs, false)?;
                if ty == CTypeId::VOID {
                    // `(void)` has no parameters; LuaJIT drops `void` later in a list too.
                    if first.is_none() {
                        break;
                    }
                    if !self.accept(",")? {
                        break;
                    }
                    continue;
                }
                let ty = self.decay(ty)?;
                let mut ct = CType::new(Kind::Field, Flags::NONE, ty, 0);
                ct.name = decl.name.map(Into::into);
                let id = self.table.push(ct)?;
                if first.is_none() {
                    first = id;
                } else {
                    self.table.set_sib(last, id);
                }
                last = id;
                if !self.accept(",")? {
                    break;
                }
            }
        }
        self.expect(")")?;
        self.attributes(attrs)?;
        Ok(DeclOp::Func {
            first_param: first,
            vararg,
        })
    }

    /// Parameter types: arrays become pointers to their elements, functions pointers
    /// to functions.
    fn decay(&mut self, ty: CTypeId) -> Result<CTypeId, CError> {
        let raw = self.table.get(self.table.raw(ty)).clone();
        let target = if raw.is_array() {
            raw.child
        } else if raw.is_func() {
            ty
        } else {
            return Ok(ty);
        };
        let mut ptr = CType::new(
            Kind::Ptr,
            Flags::NONE,
            target,
            self.table.target().pointer_size(),
        );
        ptr.align_log2 = 3;
        self.table.intern(ptr)
    }

    // ---- building types ----

    /// The type of a declarator over its specifiers. `member`: the alignment attribute
    /// belongs to the struct member, not to its type (it is applied at layout).
    fn build(
        &mut self,
        spec: &Spec,
        decl: &Declarator,
        attrs: &Attrs,
        member: bool,
    ) -> Result<CTypeId, CError> {
        let mut ty = self.apply_base_attrs(spec.base, attrs)?;
        ty = self.qualify(ty, spec.quals)?;
        for op in &decl.ops {
            ty = match *op {
                DeclOp::Ptr {
                    quals,
                    reference,
                    ptr32,
                } => {
                    let target = self.table.get(self.table.raw(ty));
                    if target.is_ref() && reference {
                        return Err(CError::new(msg::INVALID_TYPE));
                    }
                    let size = if ptr32 {
                        4
                    } else {
                        self.table.target().pointer_size()
                    };
                    let flags = if reference { quals | Flags::REF } else { quals };
                    let mut ct = CType::new(Kind::Ptr, flags, ty, size);
                    ct.align_log2 = size.trailing_zeros() as u8;
                    self.table.intern(ct)?
                }
                DeclOp::Array { size } => self.array_of(ty, size)?,
                DeclOp::Func {
                    first_param,
                    vararg,
                } => {
                    let ret = self.table.get(self.table.raw(ty));
                    if ret.is_func()
                        || ret.kind == Kind::Array && !ret.is_complex() && !ret.is_vector()
                        || ret.is_ref() && self.table.get(self.table.raw(ret.child)).is_array()
                    {
                        return Err(CError::new(msg::INVALID_TYPE));
                    }
                    let cconv = attrs.cconv.unwrap_or_default();
                    let flags = if vararg { Flags::VARARG } else { Flags::NONE };
                    let mut ct = CType::new(Kind::Func(cconv), flags, ty, SIZE_INVALID);
                    ct.sib = first_param;
                    self.table.push(ct)?
                }
            };
        }
        if !member {
            if let Some(align) = attrs.align_log2 {
                ty = self.with_alignment(ty, align)?;
            } else if spec.aggregate_aligned && decl.ops.is_empty() {
                let align = self.table.get(self.table.raw(ty)).align_log2;
                ty = self.with_alignment(ty, align)?;
            }
        }
        Ok(ty)
    }

    /// `mode(...)` and `vector_size(n)` change the base type itself.
    fn apply_base_attrs(&mut self, base: CTypeId, attrs: &Attrs) -> Result<CTypeId, CError> {
        if attrs.mode.is_none() && attrs.vector_size.is_none() {
            return Ok(base);
        }
        let raw = self.table.get(self.table.raw(base)).clone();
        if raw.kind != Kind::Num {
            return Err(CError::new(msg::INVALID_TYPE));
        }
        let mut elem = base;
        let mut vector_bytes = attrs.vector_size;
        if let Some((size, count, float)) = attrs.mode {
            let mut flags = raw.flags.without(Flags::LONG | Flags::BOOL);
            if float {
                flags = Flags::FP;
            } else {
                flags = flags.without(Flags::FP);
            }
            let mut ct = CType::new(Kind::Num, flags, CTypeId::NONE, size);
            ct.align_log2 = size.min(16).trailing_zeros() as u8;
            elem = self.table.intern(ct)?;
            if let Some(count) = count {
                let bytes = size
                    .checked_mul(count)
                    .ok_or_else(|| CError::new(msg::INVALID_TYPE))?;
                vector_bytes = Some(bytes);
            }
        }
        let Some(bytes) = vector_bytes else {
            return Ok(elem);
        };
        let elem_size = self.table.get(self.table.raw(elem)).size;
        if bytes == 0 || bytes > 0x1_0000 || bytes % elem_size != 0 || !bytes.is_power_of_two() {
            return Err(CError::new(msg::INVALID_TYPE));
        }
        let mut ct = CType::new(Kind::Array, Flags::VECTOR, elem, bytes);
        ct.align_log2 = bytes.min(16).trailing_zeros() as u8;
        self.table.intern(ct)
    }

    /// Adds qualifiers: in the type's own flags where its kind has them, else through an
    /// attribute entry.
    fn qualify(&mut self, ty: CTypeId, quals: Flags) -> Result<CTypeId, CError> {
        if quals == Flags::NONE {
            return Ok(ty);
        }
        let ct = self.table.get(ty);
        match ct.kind {
            Kind::Num | Kind::Ptr | Kind::Void if ct.name.is_none() => {
                let mut ct = ct.clone();
                ct.flags |= quals;
                self.table.intern(ct)
            }
            Kind::Array if ct.name.is_none() => {
                let ct = ct.clone();
                if ct.is_complex() || ct.is_vector() {
                    let mut ct = ct;
                    ct.flags |= quals;
                    return self.table.intern(ct);
                }
                let elem = self.qualify(ct.child, quals)?;
                let mut array = ct;
                array.child = elem;
                array.flags |= quals;
                self.table.intern(array)
            }
            Kind::Attrib(AttribKind::Qual) => {
                let mut ct = ct.clone();
                ct.flags |= quals;
                self.table.intern(ct)
            }
            _ => {
                let ct = CType::new(Kind::Attrib(AttribKind::Qual), quals, ty, 0);
                self.table.intern(ct)
            }
        }
    }

    /// An explicit alignment: in the type's own entry where its kind has one, else
    /// through an attribute entry.
    fn with_alignment(&mut self, ty: CTypeId, align_log2: u8) -> Result<CTypeId, CError> {
        let ct = self.table.get(ty);
        match ct.kind {
            Kind::Num | Kind::Ptr | Kind::Void | Kind::Array if ct.name.is_none() => {
                let mut ct = ct.clone();
                ct.align_log2 = align_log2;
                self.table.intern(ct)
            }
            _ => {
                let mut ct = CType::new(Kind::Attrib(AttribKind::Align), Flags::NONE, ty, 0);
                ct.align_log2 = align_log2;
                self.table.intern(ct)
            }
        }
    }

    fn array_of(&mut self, elem: CTypeId, size: ArraySize) -> Result<CTypeId, CError> {
        let raw = self.table.get(self.table.raw(elem));
        if raw.is_ref() {
            return Err(CError::new(msg::INVALID_TYPE));
        }
        if raw.is_func() || raw.kind == Kind::Void || !raw.has_size() || raw.is_vls() {
            return Err(CError::new(msg::SIZE));
        }
        let elem_size = raw.size;
        let align_log2 = self.table.alignof(elem).trailing_zeros() as u8;
        let elem_quals = self.table.qualifiers(elem);
        let (total, flags) = match size {
            ArraySize::Fixed(count) => {
                let total = (count as u64) * (elem_size as u64);
                if total > SIZE_MAX as u64 {
                    return Err(CError::new(msg::SIZE));
                }
                (total as u32, Flags::NONE)
            }
            ArraySize::Unknown => (SIZE_INVALID, Flags::NONE),
            ArraySize::Vla => (SIZE_INVALID, Flags::VLA),
        };
        let mut ct = CType::new(Kind::Array, flags | elem_quals, elem, total);
        ct.align_log2 = align_log2;
        self.table.intern(ct)
    }

    // ---- constant expressions ----

    fn is_unsigned(&self, value: Value) -> bool {
        let raw = self.table.get(self.table.raw(value.ty));
        match raw.kind {
            Kind::Num => raw.size > 4 || raw.size == 4 && raw.flags.contains(Flags::UNSIGNED),
            Kind::Enum => raw.child == CTypeId::UINT32,
            _ => true,
        }
    }

    fn enter_expr(&mut self) -> Result<(), CError> {
        self.expr_depth += 1;
        if self.expr_depth > MAX_EXPR_DEPTH {
            return Err(self.err(msg::NEST_TOO_DEEP));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Value, CError> {
        self.conditional()
    }

    /// `c ? a : b`; each nested `?` counts as a level, like each unary operator and
    /// each parenthesis (through [`Parser::unary`]).
    fn conditional(&mut self) -> Result<Value, CError> {
        let cond = self.binary(0)?;
        if !self.accept("?")? {
            return Ok(cond);
        }
        self.enter_expr()?;
        let yes = self.expr()?;
        self.expect(":")?;
        let no = self.conditional()?;
        self.expr_depth -= 1;
        let unsigned = self.is_unsigned(yes) || self.is_unsigned(no);
        let chosen = if cond.bits != 0 { yes } else { no };
        Ok(Value::int(chosen.bits, unsigned))
    }

    /// Binary operators by precedence climbing; level 0 is `||`.
    fn binary(&mut self, level: usize) -> Result<Value, CError> {
        const LEVELS: [&[&str]; 10] = [
            &["||"],
            &["&&"],
            &["|"],
            &["^"],
            &["&"],
            &["==", "!="],
            &["<", ">", "<=", ">="],
            &["<<", ">>"],
            &["+", "-"],
            &["*", "/", "%"],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        while let Tok::Punct(op) = self.tok {
            if !LEVELS[level].contains(&op) {
                break;
            }
            self.advance()?;
            let right = self.binary(level + 1)?;
            left = self.apply_binary(op, left, right)?;
        }
        Ok(left)
    }

    fn apply_binary(&self, op: &str, left: Value, right: Value) -> Result<Value, CError> {
        let unsigned = self.is_unsigned(left) || self.is_unsigned(right);
        let (a, b) = (left.bits, right.bits);
        let truth = |t: bool| Ok(Value::int(t as u32, false));
        let bits = match op {
            "||" => return truth(a != 0 || b != 0),
            "&&" => return truth(a != 0 && b != 0),
            "==" => return truth(a == b),
            "!=" => return truth(a != b),
            "<" | ">" | "<=" | ">=" => {
                let ordering = if unsigned {
                    a.cmp(&b)
                } else {
                    (a as i32).cmp(&(b as i32))
                };
                return truth(match op {
                    "<" => ordering.is_lt(),
                    ">" => ordering.is_gt(),
                    "<=" => ordering.is_le(),
                    _ => ordering.is_ge(),
                });
            }
            "|" => a | b,
            "^" => a ^ b,
            "&" => a & b,
            "<<" => a.wrapping_shl(b),
            ">>" => {
                // The shift takes the left operand's type.
                if self.is_unsigned(left) {
                    a.wrapping_shr(b)
                } else {
                    (a as i32).wrapping_shr(b) as u32
                }
            }
            "+" => a.wrapping_add(b),
            "-" => a.wrapping_sub(b),
            "*" => a.wrapping_mul(b),
            "/" | "%" => {
                if b == 0 || !unsigned && a as i32 == i32::MIN && b as i32 == -1 {
                    return Err(CError::new(msg::INVALID_VALUE));
                }
                match (op, unsigned) {
                    ("/", true) => a / b,
                    ("/", false) => ((a as i32) / (b as i32)) as u32,
                    (_, true) => a % b,
                    (_, false) => ((a as i32) % (b as i32)) as u32,
                }
            }
            _ => unreachable!("operator table and match agree"),
        };
        let shift_unsigned = if op == "<<" || op == ">>" {
            self.is_unsigned(left)
        } else {
            unsigned
        };
        Ok(Value::int(bits, shift_unsigned))
    }

    fn unary(&mut self) -> Result<Value, CError> {
        self.enter_expr()?;
        let value = self.unary_inner()?;
        self.expr_depth -= 1;
        Ok(value)
    }

    fn unary_inner(&mut self) -> Result<Value, CError> {
        if let Tok::Punct(op @ ("-" | "+" | "~" | "!")) = self.tok {
            self.advance()?;
            let operand = self.unary()?;
            let unsigned = self.is_unsigned(operand);
            return Ok(match op {
                "-" => Value::int(operand.bits.wrapping_neg(), unsigned),
                "+" => Value::int(operand.bits, unsigned),
                "~" => Value::int(!operand.bits, unsigned),
                _ => Value::int((operand.bits == 0) as u32, false),
            });
        }
        if let Some(keyword @ (Keyword::Sizeof | Keyword::Alignof)) = self.keyword() {
            self.advance()?;
            let ty = if self.is("(") && self.next_starts_type()? {
                self.advance()?;
                let ty = self.type_name()?;
                self.expect(")")?;
                ty
            } else {
                self.unary()?.ty
            };
            let amount = if keyword == Keyword::Sizeof {
                self.table
                    .sizeof(ty)
                    .ok_or_else(|| CError::new(msg::SIZE))?
            } else {
                self.table.alignof(ty)
            };
            return Ok(Value::int(amount, true));
        }
        if self.is("(") && self.next_starts_type()? {
            self.advance()?;
            let ty = self.type_name()?;
            self.expect(")")?;
            let operand = self.unary()?;
            return Ok(Value {
                bits: operand.bits,
                ty,
            });
        }
        let mut value = self.primary()?;
        loop {
            let arrow = self.is("->");
            if !arrow && !self.is(".") {
                break;
            }
            self.advance()?;
            let Tok::Ident(name) = &self.tok else {
                return Err(self.err(&msg::expected("<identifier>")));
            };
            let name = name.clone();
            let mut aggregate = self.table.raw(value.ty);
            if arrow {
                let ptr = self.table.get(aggregate);
                if ptr.kind != Kind::Ptr {
                    return Err(CError::new(msg::INVALID_VALUE));
                }
                aggregate = ptr.child;
            }
            let member = self
                .table
                .member(aggregate, &name)
                .filter(|m| self.table.get(m.entry).kind == Kind::ConstVal)
                .ok_or_else(|| CError::new(msg::INVALID_VALUE))?;
            value = self.constant_value(member.entry);
            self.advance()?;
        }
        Ok(value)
    }

    fn constant_value(&self, constant: CTypeId) -> Value {
        let ct = self.table.get(constant);
        Value {
            bits: ct.size,
            ty: ct.child,
        }
    }

    fn primary(&mut self) -> Result<Value, CError> {
        match self.tok.clone() {
            Tok::Int { value, unsigned } => {
                self.advance()?;
                Ok(Value::int(value, unsigned))
            }
            Tok::Str(mut bytes) => {
                self.advance()?;
                while let Tok::Str(more) = &self.tok {
                    bytes.extend_from_slice(more);
                    self.advance()?;
                }
                // A string's value is its address: only its size is a constant.
                let array = self.array_of(
                    CTypeId::CONST_CHAR,
                    ArraySize::Fixed(bytes.len() as u32 + 1),
                )?;
                Ok(Value { bits: 0, ty: array })
            }
            Tok::Punct("(") => {
                self.advance()?;
                let mut value = self.expr()?;
                while self.accept(",")? {
                    value = self.expr()?;
                }
                self.expect(")")?;
                Ok(value)
            }
            Tok::Punct("$") => match self.take_param()? {
                DeclParam::Int(n) => {
                    self.advance()?;
                    // An `int32_t` as luajit converts it: out of range is INT32_MIN
                    // (never silently truncated to a small count).
                    let bits = i32::try_from(*n).unwrap_or(i32::MIN) as u32;
                    Ok(Value::int(bits, false))
                }
                _ => Err(self.err(msg::UNEXPECTED)),
            },
            Tok::Ident(name) => {
                let entry = self
                    .table
                    .lookup(&name)
                    .map(|id| (id, self.table.get(id).kind));
                match entry {
                    Some((id, Kind::ConstVal)) => {
                        self.advance()?;
                        Ok(self.constant_value(id))
                    }
                    Some((id, Kind::Extern)) => {
                        self.advance()?;
                        Ok(Value {
                            bits: 0,
                            ty: self.table.get(id).child,
                        })
                    }
                    _ => Err(self.err(msg::UNEXPECTED)),
                }
            }
            _ => Err(self.err(msg::UNEXPECTED)),
        }
    }

    /// A type name (specifiers and an abstract declarator), as in casts and `sizeof`.
    fn type_name(&mut self) -> Result<CTypeId, CError> {
        let spec = self.specifiers(false)?;
        let mut attrs = spec.attrs.clone();
        let decl = self.declarator(&mut attrs, false)?;
        self.build(&spec, &decl, &attrs, false)
    }

    /// A whole type string.
    fn whole_type(&mut self) -> Result<CTypeId, CError> {
        self.advance()?;
        let ty = self.type_name()?;
        if self.tok != Tok::Eof {
            return Err(self.err(&msg::expected("<eof>")));
        }
        Ok(ty)
    }
}

/// The type keywords seen in one set of specifiers.
#[derive(Default)]
struct NumWords {
    /// `char`, `int`, `float`, `double`, `void`, `bool` or `__intN`; a second one ends
    /// the specifiers.
    base: Option<Keyword>,
    signed: Option<bool>,
    short: u32,
    long: u32,
    bool_modifier: bool,
    complex: bool,
}

impl NumWords {
    /// Records a type keyword; false if it cannot combine with the ones before.
    fn add(&mut self, keyword: Keyword) -> bool {
        use Keyword::*;
        match keyword {
            Signed => self.signed = Some(true),
            Unsigned => self.signed = Some(false),
            Short => self.short += 1,
            Long => self.long += 1,
            BoolModifier => self.bool_modifier = true,
            Complex => self.complex = true,
            Char | Int | Float | Double | Void | Bool | Int8 | Int16 | Int32 | Int64 => {
                if self.base.is_some() {
                    return false;
                }
                self.base = Some(keyword);
            }
            _ => return false,
        }
        true
    }

    fn has_base(&self) -> bool {
        self.base.is_some()
    }

    fn has_modifier(&self) -> bool {
        self.signed.is_some() || self.short > 0 || self.long > 0 || self.complex
    }

    fn is_empty(&self) -> bool {
        !self.has_base() && !self.has_modifier() && !self.bool_modifier
    }
}

/// An attribute or calling convention that may stand among a declarator's pointers.
fn is_declarator_attribute(keyword: Keyword) -> bool {
    matches!(
        keyword,
        Keyword::Attribute
            | Keyword::Declspec
            | Keyword::Cdecl
            | Keyword::Fastcall
            | Keyword::Stdcall
            | Keyword::Thiscall
    )
}

fn is_type_keyword(keyword: Keyword) -> bool {
    use Keyword::*;
    matches!(
        keyword,
        Signed
            | Unsigned
            | Char
            | Short
            | Int
            | Long
            | Float
            | Double
            | Void
            | Bool
            | BoolModifier
            | Complex
            | Const
            | Volatile
            | Struct
            | Union
            | Enum
            | Int8
            | Int16
            | Int32
            | Int64
            | Attribute
            | Declspec
            | Extension
    )
}

/// An alignment attribute's value as log2, rounding down to a power of two as LuaJIT
/// does (`aligned(3)` is 2; 0 and values of 2^16 and more are 1).
fn align_log2(value: u32) -> u8 {
    if value == 0 || value >= 0x1_0000 {
        return 0;
    }
    (31 - value.leading_zeros()) as u8
}

fn round_down_pow2(value: u32) -> u32 {
    if value == 0 {
        0
    } else {
        1 << (31 - value.leading_zeros())
    }
}

/// A constant's 32 bits after conversion to a type of `size` bytes.
fn truncate(bits: u32, size: u32, unsigned: bool) -> u32 {
    match (size, unsigned) {
        (1, false) => bits as i8 as i32 as u32,
        (1, true) => bits as u8 as u32,
        (2, false) => bits as i16 as i32 as u32,
        (2, true) => bits as u16 as u32,
        _ => bits,
    }
}

/// `mode(...)` names: (byte size, vector element count, floating point).
fn parse_mode(mode: &str) -> Option<(u32, Option<u32>, bool)> {
    let scalar = |name: &str| -> Option<(u32, bool)> {
        Some(match name {
            "QI" => (1, false),
            "HI" => (2, false),
            "SI" => (4, false),
            "DI" => (8, false),
            "TI" => (16, false),
            "OI" => (32, false),
            "SF" => (4, true),
            "DF" => (8, true),
            _ => return None,
        })
    };
    if let Some(rest) = mode.strip_prefix('V') {
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let count: u32 = digits.parse().ok()?;
        let (size, float) = scalar(&rest[digits.len()..])?;
        return Some((size, Some(count), float));
    }
    let (size, float) = scalar(mode)?;
    Some((size, None, float))
}

impl CTypeTable {
    /// `ffi.cdef`: parses declarations into the table. On error the table is left as it
    /// was before the call (LuaJIT rolls back failed declarations too).
    pub fn cdef(&mut self, src: &str, params: &[DeclParam]) -> Result<(), CError> {
        self.parse_with(src, params, Mode::Cdef, |parser| parser.declarations())
    }

    /// Parses a type string (`ffi.typeof("int[?]")`, `ffi.new("struct foo *")`) and
    /// returns its ID. Named struct declarations are not allowed here; anonymous ones
    /// are added to the table. On error the table is left as it was.
    pub fn parse_type(&mut self, src: &str, params: &[DeclParam]) -> Result<CTypeId, CError> {
        self.parse_with(src, params, Mode::Type, |parser| parser.whole_type())
    }

    fn parse_with<T>(
        &mut self,
        src: &str,
        params: &[DeclParam],
        mode: Mode,
        parse: fn(&mut Parser<'_, '_, '_>) -> Result<T, CError>,
    ) -> Result<T, CError> {
        self.begin();
        let mut parser = Parser::new(self, src, params, mode);
        let mut result = parse(&mut parser).map_err(|err| err.at_line(parser.line));
        // Every `$` value must have been used, as in luajit.
        if result.is_ok() && parser.next_param < params.len() {
            result = Err(CError::new(msg::PARAM_COUNT));
        }
        match result {
            Ok(_) => self.commit(),
            Err(_) => self.rollback(),
        }
        result
    }
}
