//! One C type: its kind, qualifier and property flags, size, alignment and links.
//!
//! The model follows LuaJIT's, because type IDs and type names are visible to Lua code
//! (`tonumber(ffi.typeof(...))`, `ctype<struct 99>`): every type, struct member,
//! function parameter, enum constant and extern declaration is one entry with a 16-bit
//! ID, so anonymous aggregates get the IDs LuaJIT gives them. How each kind uses the
//! shared fields is documented on [`Kind`].

use std::fmt;
use std::sync::Arc;

/// A C type's index in its [`crate::CTypeTable`]. IDs below [`CTypeId::FIRST_USER`] are
/// fixed; the first 23 are the ones LuaJIT hard-codes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CTypeId(pub u16);

impl CTypeId {
    /// No type: ends `sib` chains, or stands for "absent".
    pub const NONE: CTypeId = CTypeId(0);
    pub const VOID: CTypeId = CTypeId(1);
    pub const CONST_VOID: CTypeId = CTypeId(2);
    pub const BOOL: CTypeId = CTypeId(3);
    pub const CONST_CHAR: CTypeId = CTypeId(4);
    pub const INT8: CTypeId = CTypeId(5);
    pub const UINT8: CTypeId = CTypeId(6);
    pub const INT16: CTypeId = CTypeId(7);
    pub const UINT16: CTypeId = CTypeId(8);
    pub const INT32: CTypeId = CTypeId(9);
    pub const UINT32: CTypeId = CTypeId(10);
    pub const INT64: CTypeId = CTypeId(11);
    pub const UINT64: CTypeId = CTypeId(12);
    pub const FLOAT: CTypeId = CTypeId(13);
    pub const DOUBLE: CTypeId = CTypeId(14);
    pub const COMPLEX_FLOAT: CTypeId = CTypeId(15);
    pub const COMPLEX_DOUBLE: CTypeId = CTypeId(16);
    pub const P_VOID: CTypeId = CTypeId(17);
    pub const P_CONST_VOID: CTypeId = CTypeId(18);
    pub const P_CONST_CHAR: CTypeId = CTypeId(19);
    pub const P_UINT8: CTypeId = CTypeId(20);
    /// `const char []`, the type of string literals.
    pub const A_CONST_CHAR: CTypeId = CTypeId(21);
    /// The type of ctype objects themselves (a cdata holding a type ID).
    pub const CTYPEID: CTypeId = CTypeId(22);
    /// The first ID a declaration can get in a fresh table (LuaJIT's `struct {}` is 97).
    pub const FIRST_USER: CTypeId = CTypeId(97);

    pub fn index(self) -> usize {
        self.0 as usize
    }

    pub fn is_none(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for CTypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The size of an incomplete type (`void`, `struct foo;`, `int []`, `int [?]`, functions).
pub const SIZE_INVALID: u32 = u32::MAX;
/// The largest size a C type may have; bigger sizes are "size of C type is unknown or
/// too large".
pub const SIZE_MAX: u32 = 0x7fff_ffff;

/// Calling conventions of function types. Only x86 (32-bit) distinguishes them; they are
/// kept so that declarations round-trip and a future x86 target can use them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum CallConv {
    #[default]
    Cdecl,
    Thiscall,
    Fastcall,
    Stdcall,
}

/// What an [`Kind::Attrib`] entry adds to its child type.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AttribKind {
    /// `const`/`volatile` on a type that cannot carry them in its own flags (structs,
    /// unions, enums, functions): the qualifiers are in the entry's flags.
    Qual,
    /// An explicit alignment (`__attribute__((aligned(n)))`) on such a type: the entry's
    /// `align_log2`.
    Align,
    /// A symbol name redirection (`asm("name")`) of a function or extern: the entry's
    /// name. It sits at the end of the declaration's `sib` chain.
    Redirect,
}

/// A keyword of the C declaration language; keywords are table entries (as in LuaJIT,
/// where they use up IDs 23..96 together with the built-in typedefs).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Keyword {
    Signed,
    Unsigned,
    Char,
    Short,
    Int,
    Long,
    Float,
    Double,
    Void,
    Bool,
    /// `_Bool` combines with other type keywords (`_Bool int` is an `int`).
    BoolModifier,
    Complex,
    Const,
    Volatile,
    Restrict,
    Inline,
    Typedef,
    Extern,
    Static,
    Auto,
    Register,
    Struct,
    Union,
    Enum,
    Sizeof,
    Alignof,
    Attribute,
    Declspec,
    Asm,
    Cdecl,
    Fastcall,
    Stdcall,
    Thiscall,
    Ptr32,
    Ptr64,
    Extension,
    Int8,
    Int16,
    Int32,
    Int64,
}

/// The kind of a table entry, with the data that only that kind has. The shared fields
/// of [`CType`] mean:
///
/// | kind | `child` | `size` | `sib` | `name` |
/// |---|---|---|---|---|
/// | `Num` | - | bytes | - | - |
/// | `Struct` | - | bytes or [`SIZE_INVALID`] (incomplete) | first member | tag |
/// | `Ptr` | target | bytes (8, or 4 for `__ptr32`) | - | - |
/// | `Array` | element | bytes or [`SIZE_INVALID`] (`[]`, `[?]`) | - | - |
/// | `Void` | - | [`SIZE_INVALID`] | - | - |
/// | `Enum` | underlying int type | 4 or [`SIZE_INVALID`] | first constant | tag |
/// | `Func` | return type | [`SIZE_INVALID`] | first parameter | name (cdef) |
/// | `Typedef` | aliased type | - | - | name |
/// | `Attrib` | qualified type | - | - | redirect target |
/// | `Field` | member type | byte offset | next member/parameter | member name |
/// | `Bitfield` | declared type | byte offset of its storage unit | next member | name |
/// | `ConstVal` | int type | the value's 32 bits | next enum constant | name |
/// | `Extern` | variable type | - | redirect attribute | name |
/// | `Keyword` | - | - | - | the keyword |
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    Num,
    Struct,
    Ptr,
    Array,
    Void,
    Enum,
    Func(CallConv),
    Typedef,
    Attrib(AttribKind),
    Field,
    /// `bit_pos` counts from the least significant bit of the storage unit, which starts
    /// at the entry's byte offset and is as wide as the declared type. In packed structs
    /// `bit_pos + bit_width` may exceed that width (the field straddles the unit), so
    /// accesses must load enough bytes to cover both.
    Bitfield {
        bit_pos: u8,
        bit_width: u8,
    },
    ConstVal,
    Extern,
    Keyword(Keyword),
}

/// Property and qualifier flags of an entry.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u32);

impl Flags {
    pub const NONE: Flags = Flags(0);
    /// `bool` (a Num of size 1 holding 0 or 1).
    pub const BOOL: Flags = Flags(1 << 0);
    /// Floating point Num; with COMPLEX on arrays: the complex element type.
    pub const FP: Flags = Flags(1 << 1);
    pub const CONST: Flags = Flags(1 << 2);
    pub const VOLATILE: Flags = Flags(1 << 3);
    pub const UNSIGNED: Flags = Flags(1 << 4);
    /// Spelled `long` (a Num): on 64-bit targets `long` is `int64_t`, `long long` is not
    /// the same table entry, although both print as `int64_t`.
    pub const LONG: Flags = Flags(1 << 5);
    /// Array with a size given at creation time (`int [?]`).
    pub const VLA: Flags = Flags(1 << 6);
    /// Struct whose last member is a VLA: variable-length struct.
    pub const VLS: Flags = Flags(1 << 7);
    /// Ptr that is a C++ reference (`int &`).
    pub const REF: Flags = Flags(1 << 8);
    /// Array that is a SIMD vector (`vector_size`, `mode(V4SF)`).
    pub const VECTOR: Flags = Flags(1 << 9);
    /// Array of two floats that is a complex number.
    pub const COMPLEX: Flags = Flags(1 << 10);
    /// Struct that is a union.
    pub const UNION: Flags = Flags(1 << 11);
    /// Func taking `...`.
    pub const VARARG: Flags = Flags(1 << 12);
    /// Struct laid out with `packed` (members unaligned).
    pub const PACKED: Flags = Flags(1 << 13);

    /// The qualifier flags.
    pub const QUALIFIERS: Flags = Flags(Self::CONST.0 | Self::VOLATILE.0);

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn intersects(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }

    pub fn without(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }

    pub fn qualifiers(self) -> Flags {
        Flags(self.0 & Self::QUALIFIERS.0)
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 14] = [
            "bool", "fp", "const", "volatile", "unsigned", "long", "vla", "vls", "ref", "vector",
            "complex", "union", "vararg", "packed",
        ];
        let names: Vec<&str> = NAMES
            .iter()
            .enumerate()
            .filter(|(bit, _)| self.0 & (1 << bit) != 0)
            .map(|(_, name)| *name)
            .collect();
        write!(f, "{{{}}}", names.join(" "))
    }
}

/// One entry of the type table; see [`Kind`] for what the fields mean per kind.
#[derive(Clone, Debug, PartialEq)]
pub struct CType {
    pub kind: Kind,
    pub flags: Flags,
    pub child: CTypeId,
    pub size: u32,
    /// log2 of the alignment in bytes.
    pub align_log2: u8,
    pub sib: CTypeId,
    pub name: Option<Arc<str>>,
}

impl CType {
    /// An entry with no links, no name and alignment 1.
    pub fn new(kind: Kind, flags: Flags, child: CTypeId, size: u32) -> CType {
        CType {
            kind,
            flags,
            child,
            size,
            align_log2: 0,
            sib: CTypeId::NONE,
            name: None,
        }
    }

    pub fn align(&self) -> u32 {
        1 << self.align_log2
    }

    pub fn is_num(&self) -> bool {
        self.kind == Kind::Num
    }

    pub fn is_integer(&self) -> bool {
        self.kind == Kind::Num && !self.flags.intersects(Flags::FP | Flags::BOOL)
    }

    pub fn is_struct(&self) -> bool {
        self.kind == Kind::Struct
    }

    pub fn is_union(&self) -> bool {
        self.kind == Kind::Struct && self.flags.contains(Flags::UNION)
    }

    /// A pointer, not a reference.
    pub fn is_ptr(&self) -> bool {
        self.kind == Kind::Ptr && !self.flags.contains(Flags::REF)
    }

    pub fn is_ref(&self) -> bool {
        self.kind == Kind::Ptr && self.flags.contains(Flags::REF)
    }

    /// A plain array (not a complex number or vector).
    pub fn is_array(&self) -> bool {
        self.kind == Kind::Array && !self.flags.intersects(Flags::COMPLEX | Flags::VECTOR)
    }

    pub fn is_complex(&self) -> bool {
        self.kind == Kind::Array && self.flags.contains(Flags::COMPLEX)
    }

    pub fn is_vector(&self) -> bool {
        self.kind == Kind::Array && self.flags.contains(Flags::VECTOR)
    }

    pub fn is_func(&self) -> bool {
        matches!(self.kind, Kind::Func(_))
    }

    pub fn is_vla(&self) -> bool {
        self.kind == Kind::Array && self.flags.contains(Flags::VLA)
    }

    pub fn is_vls(&self) -> bool {
        self.kind == Kind::Struct && self.flags.contains(Flags::VLS)
    }

    /// Whether the size is known (complete types).
    pub fn has_size(&self) -> bool {
        self.size != SIZE_INVALID
    }

    /// A member of a struct or a function parameter.
    pub fn is_member(&self) -> bool {
        matches!(self.kind, Kind::Field | Kind::Bitfield { .. })
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}
