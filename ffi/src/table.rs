//! The per-Lua-state table of C types: entries by ID, interning of unnamed types, the
//! name tables, and the queries the `ffi` library needs (size, alignment, members).

use std::collections::HashMap;
use std::sync::Arc;

use crate::ctype::{
    AttribKind, CType, CTypeId, CallConv, Flags, Keyword, Kind, SIZE_INVALID, SIZE_MAX,
};
use crate::error::{msg, CError};
use crate::target::Target;

/// The most entries a table holds (IDs are 16-bit).
const MAX_TYPES: usize = 1 << 16;

/// Identity of an interned entry: everything but its links and name.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct InternKey {
    kind: Kind,
    flags: Flags,
    child: CTypeId,
    size: u32,
    align_log2: u8,
}

impl InternKey {
    fn of(ct: &CType) -> InternKey {
        InternKey {
            kind: ct.kind,
            flags: ct.flags,
            child: ct.child,
            size: ct.size,
            align_log2: ct.align_log2,
        }
    }
}

/// Which name table a name lives in: C keeps struct/union/enum tags apart from
/// ordinary identifiers (`typedef struct foo foo;`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Namespace {
    /// Typedefs, keywords, enum constants, functions and extern variables.
    Ordinary,
    /// Struct, union and enum tags.
    Tag,
}

/// A struct or union member found by name: [`CTypeTable::member`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Member {
    /// The member's own entry (a Field, Bitfield or ConstVal).
    pub entry: CTypeId,
    /// The member's type.
    pub ty: CTypeId,
    /// Byte offset from the start of the outermost aggregate (for a bitfield, of its
    /// storage unit). Zero for constants.
    pub offset: u32,
    /// Qualifiers collected from the path (a member of a const anonymous member is const).
    pub qualifiers: Flags,
}

/// Where a failed declaration rolls the table back to.
struct Checkpoint {
    len: usize,
    /// Entries below `len` that were modified since (completed structs and enums), with
    /// their old contents.
    undo: Vec<(CTypeId, CType)>,
}

/// The C type table of one Lua state. See the crate notes for an overview.
pub struct CTypeTable {
    types: Vec<CType>,
    interned: HashMap<InternKey, CTypeId>,
    ordinary: HashMap<Arc<str>, CTypeId>,
    tags: HashMap<Arc<str>, CTypeId>,
    target: Target,
    checkpoint: Option<Checkpoint>,
}

impl Default for CTypeTable {
    fn default() -> CTypeTable {
        CTypeTable::new()
    }
}

impl CTypeTable {
    /// A table for the host target.
    pub fn new() -> CTypeTable {
        CTypeTable::with_target(Target::host())
    }

    /// A table with the fixed types, the built-in typedefs and the keywords.
    pub fn with_target(target: Target) -> CTypeTable {
        let mut table = CTypeTable {
            types: Vec::with_capacity(256),
            interned: HashMap::new(),
            ordinary: HashMap::new(),
            tags: HashMap::new(),
            target,
            checkpoint: None,
        };
        table.add_fixed_types();
        table.add_builtin_names();
        debug_assert_eq!(table.types.len(), CTypeId::FIRST_USER.index());
        table
    }

    fn add_fixed_types(&mut self) {
        let char_flags = if self.target.char_is_unsigned() {
            Flags::UNSIGNED
        } else {
            Flags::NONE
        };
        let num = |flags: Flags, size: u32| {
            let mut ct = CType::new(Kind::Num, flags, CTypeId::NONE, size);
            ct.align_log2 = size.trailing_zeros() as u8;
            ct
        };
        let ptr = |to: CTypeId| {
            let mut ct = CType::new(Kind::Ptr, Flags::NONE, to, 8);
            ct.align_log2 = 3;
            ct
        };
        let complex = |elem: CTypeId, size: u32| {
            let mut ct = CType::new(Kind::Array, Flags::COMPLEX, elem, size);
            ct.align_log2 = (size / 2).trailing_zeros() as u8;
            ct
        };
        let fixed = [
            // ID 0 is no type; it is never interned, so nothing resolves to it.
            CType::new(Kind::Void, Flags::NONE, CTypeId::NONE, SIZE_INVALID),
            CType::new(Kind::Void, Flags::NONE, CTypeId::NONE, SIZE_INVALID),
            CType::new(Kind::Void, Flags::CONST, CTypeId::NONE, SIZE_INVALID),
            num(Flags::BOOL | Flags::UNSIGNED, 1),
            num(Flags::CONST | char_flags, 1),
            num(Flags::NONE, 1),
            num(Flags::UNSIGNED, 1),
            num(Flags::NONE, 2),
            num(Flags::UNSIGNED, 2),
            num(Flags::NONE, 4),
            num(Flags::UNSIGNED, 4),
            num(Flags::LONG, 8),
            num(Flags::LONG | Flags::UNSIGNED, 8),
            num(Flags::FP, 4),
            num(Flags::FP, 8),
            complex(CTypeId::FLOAT, 8),
            complex(CTypeId::DOUBLE, 16),
            ptr(CTypeId::VOID),
            ptr(CTypeId::CONST_VOID),
            ptr(CTypeId::CONST_CHAR),
            ptr(CTypeId::UINT8),
            CType::new(Kind::Array, Flags::CONST, CTypeId::CONST_CHAR, SIZE_INVALID),
        ];
        for (index, ct) in fixed.into_iter().enumerate() {
            if index != 0 {
                self.interned
                    .insert(InternKey::of(&ct), CTypeId(index as u16));
            }
            self.types.push(ct);
        }
        let mut ctypeid = CType::new(Kind::Enum, Flags::NONE, CTypeId::INT32, 4);
        ctypeid.align_log2 = 2;
        self.types.push(ctypeid);
    }

    fn add_builtin_names(&mut self) {
        let wchar = if self.target.wchar_is_unsigned() {
            CTypeId::UINT32
        } else {
            CTypeId::INT32
        };
        let typedefs = [
            ("ptrdiff_t", CTypeId::INT64),
            ("size_t", CTypeId::UINT64),
            ("wchar_t", wchar),
            ("int8_t", CTypeId::INT8),
            ("int16_t", CTypeId::INT16),
            ("int32_t", CTypeId::INT32),
            ("int64_t", CTypeId::INT64),
            ("uint8_t", CTypeId::UINT8),
            ("uint16_t", CTypeId::UINT16),
            ("uint32_t", CTypeId::UINT32),
            ("uint64_t", CTypeId::UINT64),
            ("intptr_t", CTypeId::INT64),
            ("uintptr_t", CTypeId::UINT64),
            ("ssize_t", CTypeId::INT64),
            ("va_list", CTypeId::P_VOID),
            ("__builtin_va_list", CTypeId::P_VOID),
            ("__gnuc_va_list", CTypeId::P_VOID),
        ];
        for (name, child) in typedefs {
            let mut ct = CType::new(Kind::Typedef, Flags::NONE, child, 0);
            ct.name = Some(name.into());
            self.push_named(ct, Namespace::Ordinary)
                .expect("the built-in names fit a fresh table");
        }
        use Keyword::*;
        let keywords = [
            ("signed", Signed),
            ("__signed", Signed),
            ("__signed__", Signed),
            ("unsigned", Unsigned),
            ("char", Char),
            ("short", Short),
            ("int", Int),
            ("long", Long),
            ("float", Float),
            ("double", Double),
            ("void", Void),
            ("bool", Bool),
            ("_Bool", BoolModifier),
            ("complex", Complex),
            ("_Complex", Complex),
            ("__complex", Complex),
            ("__complex__", Complex),
            ("const", Const),
            ("__const", Const),
            ("__const__", Const),
            ("volatile", Volatile),
            ("__volatile", Volatile),
            ("__volatile__", Volatile),
            ("restrict", Restrict),
            ("__restrict", Restrict),
            ("__restrict__", Restrict),
            ("inline", Inline),
            ("__inline", Inline),
            ("__inline__", Inline),
            ("typedef", Typedef),
            ("extern", Extern),
            ("static", Static),
            ("auto", Auto),
            ("register", Register),
            ("struct", Struct),
            ("union", Union),
            ("enum", Enum),
            ("sizeof", Sizeof),
            ("__alignof", Alignof),
            ("__alignof__", Alignof),
            ("__attribute", Attribute),
            ("__attribute__", Attribute),
            ("__declspec", Declspec),
            ("asm", Asm),
            ("__asm", Asm),
            ("__asm__", Asm),
            ("__cdecl", Cdecl),
            ("__fastcall", Fastcall),
            ("__stdcall", Stdcall),
            ("__thiscall", Thiscall),
            ("__ptr32", Ptr32),
            ("__ptr64", Ptr64),
            ("__extension__", Extension),
            ("__int8", Int8),
            ("__int16", Int16),
            ("__int32", Int32),
            ("__int64", Int64),
        ];
        for (name, keyword) in keywords {
            let mut ct = CType::new(Kind::Keyword(keyword), Flags::NONE, CTypeId::NONE, 0);
            ct.name = Some(name.into());
            self.push_named(ct, Namespace::Ordinary)
                .expect("the built-in names fit a fresh table");
        }
    }

    pub fn target(&self) -> Target {
        self.target
    }

    /// The number of entries (the next new entry's ID).
    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// The entry with this ID. Panics on an ID the table never gave out.
    pub fn get(&self, id: CTypeId) -> &CType {
        &self.types[id.index()]
    }

    /// The entry with this ID, if there is one.
    pub fn try_get(&self, id: CTypeId) -> Option<&CType> {
        self.types.get(id.index())
    }

    /// Adds a new entry (never shared).
    pub fn push(&mut self, ct: CType) -> Result<CTypeId, CError> {
        if self.types.len() >= MAX_TYPES {
            return Err(CError::new(msg::TABLE_OVERFLOW));
        }
        let id = CTypeId(self.types.len() as u16);
        self.types.push(ct);
        Ok(id)
    }

    /// Adds a new entry and binds its name, unless the name is taken: then, as in
    /// LuaJIT, the earlier declaration stays and the entry is not added. Returns the ID
    /// the name is bound to.
    pub fn push_named(&mut self, ct: CType, namespace: Namespace) -> Result<CTypeId, CError> {
        let name = ct.name.clone().expect("push_named needs a named entry");
        if let Some(&existing) = self.names(namespace).get(&name) {
            return Ok(existing);
        }
        let id = self.push(ct)?;
        self.names_mut(namespace).insert(name, id);
        Ok(id)
    }

    /// The ID of an unnamed type with these properties, adding it if it is new (so the
    /// same type spelled twice is the same ID).
    pub fn intern(&mut self, ct: CType) -> Result<CTypeId, CError> {
        debug_assert!(ct.name.is_none() && ct.sib.is_none());
        let key = InternKey::of(&ct);
        if let Some(&id) = self.interned.get(&key) {
            return Ok(id);
        }
        let id = self.push(ct)?;
        self.interned.insert(key, id);
        Ok(id)
    }

    /// Replaces an entry (completing a struct or enum declared earlier). A failed
    /// declaration restores the old contents.
    pub fn replace(&mut self, id: CTypeId, ct: CType) {
        if let Some(checkpoint) = &mut self.checkpoint {
            if id.index() < checkpoint.len && !checkpoint.undo.iter().any(|(i, _)| *i == id) {
                checkpoint.undo.push((id, self.types[id.index()].clone()));
            }
        }
        self.types[id.index()] = ct;
    }

    /// Sets the `sib` link of an entry (chains are built as members are parsed).
    pub fn set_sib(&mut self, id: CTypeId, sib: CTypeId) {
        let mut ct = self.get(id).clone();
        ct.sib = sib;
        self.replace(id, ct);
    }

    fn names(&self, namespace: Namespace) -> &HashMap<Arc<str>, CTypeId> {
        match namespace {
            Namespace::Ordinary => &self.ordinary,
            Namespace::Tag => &self.tags,
        }
    }

    fn names_mut(&mut self, namespace: Namespace) -> &mut HashMap<Arc<str>, CTypeId> {
        match namespace {
            Namespace::Ordinary => &mut self.ordinary,
            Namespace::Tag => &mut self.tags,
        }
    }

    /// The entry an ordinary identifier names: a typedef, keyword, enum constant,
    /// function or extern variable.
    pub fn lookup(&self, name: &str) -> Option<CTypeId> {
        self.ordinary.get(name).copied()
    }

    /// The struct, union or enum with this tag.
    pub fn lookup_tag(&self, name: &str) -> Option<CTypeId> {
        self.tags.get(name).copied()
    }

    /// Binds an ordinary name to a declaration made in place (a function type).
    pub(crate) fn bind_name(&mut self, name: Arc<str>, id: CTypeId) {
        self.ordinary.insert(name, id);
    }

    /// Binds a tag to an aggregate (which must be the entry just pushed).
    pub(crate) fn bind_tag(&mut self, name: Arc<str>, id: CTypeId) {
        self.tags.insert(name, id);
    }

    /// Starts a declaration that must leave no trace if it fails.
    pub(crate) fn begin(&mut self) {
        self.checkpoint = Some(Checkpoint {
            len: self.types.len(),
            undo: Vec::new(),
        });
    }

    /// Ends a declaration: keeps what it added.
    pub(crate) fn commit(&mut self) {
        self.checkpoint = None;
    }

    /// Ends a failed declaration: removes what it added and restores what it modified,
    /// as LuaJIT does.
    pub(crate) fn rollback(&mut self) {
        let Some(checkpoint) = self.checkpoint.take() else {
            return;
        };
        let len = checkpoint.len;
        self.types.truncate(len);
        for (id, old) in checkpoint.undo {
            self.types[id.index()] = old;
        }
        let keep = |id: &mut CTypeId| id.index() < len;
        self.interned.retain(|_, id| keep(id));
        self.ordinary.retain(|_, id| keep(id));
        self.tags.retain(|_, id| keep(id));
    }

    /// Follows typedefs to the type they name.
    pub fn resolve_typedef(&self, mut id: CTypeId) -> CTypeId {
        while self.get(id).kind == Kind::Typedef {
            id = self.get(id).child;
        }
        id
    }

    /// Follows typedefs and qualifier/alignment attributes to the underlying type (what
    /// LuaJIT calls the raw type).
    pub fn raw(&self, mut id: CTypeId) -> CTypeId {
        loop {
            let ct = self.get(id);
            match ct.kind {
                Kind::Typedef | Kind::Attrib(AttribKind::Qual | AttribKind::Align) => id = ct.child,
                _ => return id,
            }
        }
    }

    /// The qualifiers of a type, including those of attribute wrappers around it.
    pub fn qualifiers(&self, mut id: CTypeId) -> Flags {
        let mut flags = Flags::NONE;
        loop {
            let ct = self.get(id);
            flags |= ct.flags.qualifiers();
            match ct.kind {
                Kind::Typedef | Kind::Attrib(AttribKind::Qual | AttribKind::Align) => id = ct.child,
                _ => return flags,
            }
        }
    }

    /// `ffi.sizeof(ct)`: the size in bytes, or `None` for incomplete types, functions,
    /// VLAs and VLSs (which need a count: [`CTypeTable::sizeof_with_count`]). A
    /// reference's size is its target's.
    pub fn sizeof(&self, id: CTypeId) -> Option<u32> {
        let raw = self.get(self.raw(id));
        if raw.is_ref() {
            return self.sizeof(raw.child);
        }
        if raw.is_func() || raw.is_vla() || raw.is_vls() || !raw.has_size() {
            return None;
        }
        Some(raw.size)
    }

    /// `ffi.sizeof(ct, n)`: the size of a VLA with `n` elements or a VLS whose last
    /// member has `n` elements; other types ignore `n`. `None` if the result is negative
    /// or larger than [`SIZE_MAX`].
    pub fn sizeof_with_count(&self, id: CTypeId, count: i64) -> Option<u32> {
        let raw_id = self.raw(id);
        let raw = self.get(raw_id);
        let (base, elem_array) = if raw.is_vla() {
            (0, raw_id)
        } else if raw.is_vls() {
            let last = self.last_member(raw_id)?;
            let member = self.get(last);
            (member.size as i64, self.raw(member.child))
        } else {
            return self.sizeof(id);
        };
        if count < 0 {
            return None;
        }
        let elem_size = self.get(self.get(elem_array).child).size as i64;
        let size = count.checked_mul(elem_size)?.checked_add(base)?;
        (0..=SIZE_MAX as i64).contains(&size).then_some(size as u32)
    }

    fn last_member(&self, aggregate: CTypeId) -> Option<CTypeId> {
        let mut last = None;
        let mut id = self.get(aggregate).sib;
        while !id.is_none() {
            if self.get(id).is_member() {
                last = Some(id);
            }
            id = self.get(id).sib;
        }
        last
    }

    /// `ffi.alignof(ct)`: the alignment in bytes (a reference aligns as a pointer).
    pub fn alignof(&self, mut id: CTypeId) -> u32 {
        loop {
            let ct = self.get(id);
            match ct.kind {
                Kind::Typedef | Kind::Attrib(AttribKind::Qual) => id = ct.child,
                _ => return ct.align(),
            }
        }
    }

    /// The members of a struct, union or function (parameters) in order: the entries of
    /// its `sib` chain that are fields (anonymous members included, constants and
    /// attributes skipped).
    pub fn members(&self, aggregate: CTypeId) -> Vec<CTypeId> {
        let mut out = Vec::new();
        let mut id = self.get(self.raw(aggregate)).sib;
        while !id.is_none() {
            if self.get(id).is_member() {
                out.push(id);
            }
            id = self.get(id).sib;
        }
        out
    }

    /// Finds a named member of a struct or union, looking into anonymous struct/union
    /// members; also finds constants declared inside it (`static const`, nested enums).
    /// `ffi.offsetof` is `member(..).offset` plus, for a bitfield, its position.
    pub fn member(&self, aggregate: CTypeId, name: &str) -> Option<Member> {
        let raw = self.raw(aggregate);
        if !self.get(raw).is_struct() {
            return None;
        }
        self.member_in(raw, name, 0, self.qualifiers(aggregate), 0)
    }

    fn member_in(
        &self,
        aggregate: CTypeId,
        name: &str,
        base: u32,
        qualifiers: Flags,
        depth: u32,
    ) -> Option<Member> {
        // Anonymous members nest no deeper than the parser allows aggregates to nest.
        if depth > 300 {
            return None;
        }
        let mut id = self.get(aggregate).sib;
        while !id.is_none() {
            let entry = self.get(id);
            if entry.name() == Some(name) {
                let member_quals = if entry.is_member() {
                    qualifiers | self.qualifiers(entry.child)
                } else {
                    Flags::NONE
                };
                let offset = if entry.kind == Kind::ConstVal {
                    0
                } else {
                    base + entry.size
                };
                return Some(Member {
                    entry: id,
                    ty: entry.child,
                    offset,
                    qualifiers: member_quals,
                });
            }
            if entry.is_member() && entry.name.is_none() {
                let inner = self.raw(entry.child);
                if self.get(inner).kind == Kind::Enum {
                    // `enum { K = 1 };` inside a struct: its constants are members too.
                    let mut constant = self.get(inner).sib;
                    while !constant.is_none() {
                        let ct = self.get(constant);
                        if ct.name() == Some(name) {
                            return Some(Member {
                                entry: constant,
                                ty: ct.child,
                                offset: 0,
                                qualifiers: Flags::NONE,
                            });
                        }
                        constant = ct.sib;
                    }
                } else if self.get(inner).is_struct() {
                    let quals = qualifiers | self.qualifiers(entry.child);
                    let found = self.member_in(inner, name, base + entry.size, quals, depth + 1);
                    if found.is_some() {
                        return found;
                    }
                }
            }
            id = entry.sib;
        }
        None
    }

    /// The calling convention, return type and parameters of a function type.
    pub fn func_info(&self, func: CTypeId) -> Option<(CallConv, CTypeId, Vec<CTypeId>)> {
        let raw = self.raw(func);
        let ct = self.get(raw);
        match ct.kind {
            Kind::Func(cc) => Some((cc, ct.child, self.members(raw))),
            _ => None,
        }
    }

    /// The symbol a function or extern declaration binds to: its `asm("...")` name if it
    /// has one, else its own name.
    pub fn symbol_name(&self, decl: CTypeId) -> Option<&str> {
        let ct = self.get(decl);
        let mut id = ct.sib;
        while !id.is_none() {
            let entry = self.get(id);
            if entry.kind == Kind::Attrib(AttribKind::Redirect) {
                return entry.name();
            }
            id = entry.sib;
        }
        ct.name()
    }

    /// The value of an enum or `static const` constant, sign- or zero-extended by its
    /// type.
    pub fn const_value(&self, constant: CTypeId) -> Option<i64> {
        let ct = self.get(constant);
        if ct.kind != Kind::ConstVal {
            return None;
        }
        Some(
            if self.get(self.raw(ct.child)).flags.contains(Flags::UNSIGNED) {
                ct.size as i64
            } else {
                ct.size as i32 as i64
            },
        )
    }
}
