//! `TValue`: one 64-bit word, NaN-boxed as in LuaJIT's GC64 mode.
//!
//! Encoding (the JIT imports these constants; it must not re-derive them):
//!
//! * A number is an IEEE-754 double stored as is. Every double whose top 17 bits
//!   (`bits >> ITYPE_SHIFT`) are below [`TOP_NUMBER_LIMIT`] is a number. NaNs are
//!   canonicalised to [`CANONICAL_NAN`] on the way in, so no double ever reaches the
//!   tagged range.
//! * Every other value has all of bits 51..63 set and an internal type `itype` (a small
//!   negative number `~n`) in bits 47..50; together the top 17 bits read `0x1FFFF - n`.
//!   The low 47 bits are the payload: a GC object address (objects live below 2^47), the
//!   payload of a light userdata, or all ones for nil/false/true.
//!
//! | value         | itype | top 17 bits | pattern                         |
//! |---------------|-------|-------------|---------------------------------|
//! | nil           | ~0    | 0x1FFFF     | `FFFFFFFF_FFFFFFFF`             |
//! | false         | ~1    | 0x1FFFE     | `FFFF7FFF_FFFFFFFF`             |
//! | true          | ~2    | 0x1FFFD     | `FFFEFFFF_FFFFFFFF`             |
//! | lightuserdata | ~3    | 0x1FFFC     | `FFFE0000_00000000 \| payload`  |
//! | string        | ~4    | 0x1FFFB     | `FFFD8000_00000000 \| ptr`      |
//! | upvalue       | ~5    | 0x1FFFA     | (never in a Lua-visible slot)   |
//! | thread        | ~6    | 0x1FFF9     |                                 |
//! | proto         | ~7    | 0x1FFF8     | (internal)                      |
//! | function      | ~8    | 0x1FFF7     |                                 |
//! | trace         | ~9    | 0x1FFF6     | (internal)                      |
//! | cdata         | ~10   | 0x1FFF5     |                                 |
//! | table         | ~11   | 0x1FFF4     |                                 |
//! | userdata      | ~12   | 0x1FFF3     |                                 |
//! | number        | <~12  | < 0x1FFF2   | any double                      |

use crate::object::{GcHeader, GcStr, GcTab};

/// Bit position of the internal type field.
pub const ITYPE_SHIFT: u32 = 47;
/// Mask of the 47-bit payload (GC pointer or light userdata payload).
pub const PAYLOAD_MASK: u64 = (1 << ITYPE_SHIFT) - 1;
/// `bits >> ITYPE_SHIFT` below this is a number (LuaJIT's `LJ_TISNUM` as a top-17 value).
pub const TOP_NUMBER_LIMIT: u64 = 0x1FFF2;
/// The one NaN every NaN is folded to when stored.
pub const CANONICAL_NAN: u64 = 0xFFF8_0000_0000_0000;

/// Internal type numbers `n` (the itype is `!n`, the GC object type byte `gct` is `n`).
pub mod itype {
    pub const NIL: u32 = 0;
    pub const FALSE: u32 = 1;
    pub const TRUE: u32 = 2;
    pub const LIGHTUD: u32 = 3;
    pub const STR: u32 = 4;
    pub const UPVAL: u32 = 5;
    pub const THREAD: u32 = 6;
    pub const PROTO: u32 = 7;
    pub const FUNC: u32 = 8;
    pub const TRACE: u32 = 9;
    pub const CDATA: u32 = 10;
    pub const TAB: u32 = 11;
    pub const UDATA: u32 = 12;
    /// Not a tag: the first `n` that is a number.
    pub const NUMX: u32 = 13;
}

/// The top 17 bits a value of internal type `n` carries.
#[inline(always)]
pub const fn top_of(n: u32) -> u64 {
    0x1FFFF - n as u64
}

/// The full tag word (top 17 bits in place, payload zero) of internal type `n`.
#[inline(always)]
pub const fn tag_of(n: u32) -> u64 {
    top_of(n) << ITYPE_SHIFT
}

/// Lua-visible basic types, ordered as `lua_type` reports them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LuaType {
    Nil,
    Boolean,
    LightUserdata,
    Number,
    String,
    Table,
    Function,
    Userdata,
    Thread,
    /// FFI cdata: `type()` says "cdata".
    Cdata,
    /// Internal types never visible to Lua code (upvalue, proto, trace).
    Internal,
}

impl LuaType {
    pub fn name(self) -> &'static str {
        match self {
            LuaType::Nil => "nil",
            LuaType::Boolean => "boolean",
            LuaType::LightUserdata | LuaType::Userdata => "userdata",
            LuaType::Number => "number",
            LuaType::String => "string",
            LuaType::Table => "table",
            LuaType::Function => "function",
            LuaType::Thread => "thread",
            LuaType::Cdata => "cdata",
            LuaType::Internal => "proto",
        }
    }
}

/// A Lua value in one 64-bit word. `Copy`; equality of the raw words is `rawequal` for
/// everything except numbers (where `0 == -0` and `nan ~= nan`), see [`TValue::raw_equal`].
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct TValue(pub u64);

impl TValue {
    pub const NIL: TValue = TValue(u64::MAX);
    pub const FALSE: TValue = TValue(tag_of(itype::FALSE) | PAYLOAD_MASK);
    pub const TRUE: TValue = TValue(tag_of(itype::TRUE) | PAYLOAD_MASK);

    #[inline(always)]
    pub fn from_f64(d: f64) -> TValue {
        // A NaN with a payload could land in the tagged range: fold every NaN to one.
        if d.is_nan() {
            TValue(CANONICAL_NAN)
        } else {
            TValue(d.to_bits())
        }
    }

    /// A number computed by `+ - * /` or negation from numbers that were values: the
    /// hardware only propagates their (canonical) NaNs or makes its default NaN, which
    /// both read as numbers, so no canonicalisation is needed.
    #[inline(always)]
    pub fn from_arith(d: f64) -> TValue {
        TValue(d.to_bits())
    }

    #[inline(always)]
    pub const fn from_bool(b: bool) -> TValue {
        if b {
            TValue::TRUE
        } else {
            TValue::FALSE
        }
    }

    /// A light userdata with a 47-bit payload (the runtime maps wider pointers to it).
    #[inline(always)]
    pub const fn from_lightud_payload(payload: u64) -> TValue {
        TValue(tag_of(itype::LIGHTUD) | (payload & PAYLOAD_MASK))
    }

    /// A value pointing at GC object `o` of internal type `n`. `o` must be below 2^47,
    /// which the allocator guarantees for every object it hands out.
    #[inline(always)]
    pub fn from_gc(o: *const GcHeader, n: u32) -> TValue {
        debug_assert!((o as u64) >> ITYPE_SHIFT == 0);
        TValue(tag_of(n) | o as u64)
    }

    #[inline(always)]
    pub fn from_gcstr(s: *const GcStr) -> TValue {
        TValue::from_gc(s.cast(), itype::STR)
    }

    #[inline(always)]
    pub fn from_tab(t: *const GcTab) -> TValue {
        TValue::from_gc(t.cast(), itype::TAB)
    }

    #[inline(always)]
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The top 17 bits: `< TOP_NUMBER_LIMIT` for numbers, `top_of(n)` otherwise.
    #[inline(always)]
    pub const fn top(self) -> u64 {
        self.0 >> ITYPE_SHIFT
    }

    /// The internal type number `n` of a non-number (meaningless for numbers).
    #[inline(always)]
    pub const fn itype(self) -> u32 {
        (0x1FFFF - self.top()) as u32
    }

    #[inline(always)]
    pub const fn is_nil(self) -> bool {
        self.0 == u64::MAX
    }

    #[inline(always)]
    pub const fn is_number(self) -> bool {
        self.top() < TOP_NUMBER_LIMIT
    }

    #[inline(always)]
    pub const fn is_false(self) -> bool {
        self.0 == TValue::FALSE.0
    }

    #[inline(always)]
    pub const fn is_bool(self) -> bool {
        self.0 == TValue::FALSE.0 || self.0 == TValue::TRUE.0
    }

    /// Lua truthiness: everything but nil and false (one unsigned compare).
    #[inline(always)]
    pub const fn is_truthy(self) -> bool {
        self.top() < top_of(itype::FALSE)
    }

    /// True for values that reference a collectable object.
    #[inline(always)]
    pub const fn is_gc(self) -> bool {
        let t = self.top();
        t <= top_of(itype::STR) && t >= top_of(itype::UDATA)
    }

    #[inline(always)]
    pub const fn has_itype(self, n: u32) -> bool {
        self.top() == top_of(n)
    }

    #[inline(always)]
    pub const fn is_str(self) -> bool {
        self.has_itype(itype::STR)
    }

    #[inline(always)]
    pub const fn is_tab(self) -> bool {
        self.has_itype(itype::TAB)
    }

    #[inline(always)]
    pub const fn is_func(self) -> bool {
        self.has_itype(itype::FUNC)
    }

    #[inline(always)]
    pub const fn is_udata(self) -> bool {
        self.has_itype(itype::UDATA)
    }

    #[inline(always)]
    pub const fn is_thread(self) -> bool {
        self.has_itype(itype::THREAD)
    }

    #[inline(always)]
    pub const fn is_cdata(self) -> bool {
        self.has_itype(itype::CDATA)
    }

    #[inline(always)]
    pub const fn is_lightud(self) -> bool {
        self.has_itype(itype::LIGHTUD)
    }

    /// The number, if this is one.
    #[inline(always)]
    pub fn as_number(self) -> Option<f64> {
        if self.is_number() {
            Some(f64::from_bits(self.0))
        } else {
            None
        }
    }

    /// The number without a check (any non-number gives a NaN, never UB).
    #[inline(always)]
    pub fn num(self) -> f64 {
        f64::from_bits(self.0)
    }

    /// The payload as a GC object address (only meaningful when `is_gc()`).
    #[inline(always)]
    pub const fn gc_ptr(self) -> *mut GcHeader {
        (self.0 & PAYLOAD_MASK) as *mut GcHeader
    }

    #[inline(always)]
    pub const fn payload(self) -> u64 {
        self.0 & PAYLOAD_MASK
    }

    #[inline(always)]
    pub fn as_str(self) -> Option<*mut GcStr> {
        if self.is_str() {
            Some(self.gc_ptr().cast())
        } else {
            None
        }
    }

    #[inline(always)]
    pub fn as_tab(self) -> Option<*mut GcTab> {
        if self.is_tab() {
            Some(self.gc_ptr().cast())
        } else {
            None
        }
    }

    pub fn lua_type(self) -> LuaType {
        if self.is_number() {
            return LuaType::Number;
        }
        match self.itype() {
            itype::NIL => LuaType::Nil,
            itype::FALSE | itype::TRUE => LuaType::Boolean,
            itype::LIGHTUD => LuaType::LightUserdata,
            itype::STR => LuaType::String,
            itype::THREAD => LuaType::Thread,
            itype::FUNC => LuaType::Function,
            itype::CDATA => LuaType::Cdata,
            itype::TAB => LuaType::Table,
            itype::UDATA => LuaType::Userdata,
            _ => LuaType::Internal,
        }
    }

    /// The tombstone a removed table key becomes once the collector has seen it with a
    /// nil value: the same payload under the upvalue tag, which no Lua value carries, so
    /// no later object allocated at the same address can match it as a key.
    #[inline(always)]
    pub const fn dead_key(self) -> TValue {
        TValue(tag_of(itype::UPVAL) | self.payload())
    }

    #[inline(always)]
    pub const fn is_dead_key(self) -> bool {
        self.has_itype(itype::UPVAL)
    }

    /// `rawequal`: identity for objects, IEEE equality for numbers.
    #[inline(always)]
    pub fn raw_equal(self, other: TValue) -> bool {
        if self.is_number() && other.is_number() {
            self.num() == other.num()
        } else {
            self.0 == other.0
        }
    }
}

impl Default for TValue {
    fn default() -> Self {
        TValue::NIL
    }
}

impl std::fmt::Debug for TValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(n) = self.as_number() {
            return write!(f, "{n}");
        }
        match self.lua_type() {
            LuaType::Nil => write!(f, "nil"),
            LuaType::Boolean => write!(f, "{}", *self == TValue::TRUE),
            t => write!(f, "{}: {:#x}", t.name(), self.payload()),
        }
    }
}

impl From<f64> for TValue {
    fn from(d: f64) -> Self {
        TValue::from_f64(d)
    }
}

impl From<bool> for TValue {
    fn from(b: bool) -> Self {
        TValue::from_bool(b)
    }
}
