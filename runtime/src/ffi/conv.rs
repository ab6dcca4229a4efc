//! Conversions with luajit's FFI rules: C values to Lua values (reads), Lua values to C
//! values (writes, arguments, initializers), and C values to other C types (including
//! explicit casts).
//!
//! - Numbers are converted as luajit's x86-64 build converts them: doubles to integers
//!   truncate (through 32 bits for types up to 32 bits, where out-of-range values give
//!   `INT32_MIN`; through 64 bits otherwise), narrower integers wrap, `bool` is `x != 0`.
//! - Pointers convert implicitly only between compatible targets (see
//!   [`compatible_targets`]); `ffi.cast` converts between any pointers and integers.
//! - Aggregates are copied only from the identical struct or a same-size compatible
//!   array; tables and argument lists initialize them field by field.
//!
//! Writes never allocate, so they take the type table alone; reads may box values in new
//! cdata and take the state.
//!
//! All functions taking raw pointers require (SAFETY) that the pointer addresses a C
//! object of the given type: a cdata payload or memory a cdata pointer leads to. Like
//! luajit, the FFI trusts pointers that Lua code made.

use super::{cdata_loc, cdata_type, is_int64, new_cdata, new_int64, new_pointer, raw_type};
use crate::num::{trunc_i32, trunc_i64, trunc_u64};
use crate::vm::{LuaResult, State};
use moonjet_ffi::{CType, CTypeId, CTypeTable, Flags, Kind};
use moonjet_gc::{table, GcStr, GcTab, TValue};

/// A C number after loading: integers widened (signed or unsigned), floats as doubles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Int(i64),
    UInt(u64),
    Float(f64),
}

impl Scalar {
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Int(i) => i as f64,
            Scalar::UInt(u) => u as f64,
            Scalar::Float(x) => x,
        }
    }

    /// The value as an `int64_t` (as C converts; doubles truncate as x86 does).
    pub fn to_i64(self) -> i64 {
        match self {
            Scalar::Int(i) => i,
            Scalar::UInt(u) => u as i64,
            Scalar::Float(x) => trunc_i64(x),
        }
    }

    /// The value as a `uint64_t` (doubles as luajit converts them, see
    /// [`trunc_u64`]).
    pub fn to_u64(self) -> u64 {
        match self {
            Scalar::Int(i) => i as u64,
            Scalar::UInt(u) => u,
            Scalar::Float(x) => trunc_u64(x),
        }
    }
}

/// A conversion error: luajit's message, without position.
pub type ConvResult = Result<(), String>;

/// "cannot convert 'from' to 'to'".
pub fn cannot_convert(cts: &CTypeTable, from: &str, to: CTypeId) -> String {
    format!("cannot convert '{from}' to '{}'", cts.type_name(to))
}

fn too_many_initializers(cts: &CTypeTable, ty: CTypeId) -> String {
    format!("too many initializers for '{}'", cts.type_name(ty))
}

// ---- raw memory ---------------------------------------------------------------------

/// The low `n` bytes of `bits` (the targets are little-endian).
///
/// # Safety
/// `p` must be valid for `n <= 8` bytes of writes.
unsafe fn write_bits(p: *mut u8, n: usize, bits: u64) {
    // SAFETY: caller promise; unaligned is fine for a byte copy.
    unsafe { std::ptr::copy_nonoverlapping(bits.to_le_bytes().as_ptr(), p, n.min(8)) }
}

/// `n <= 8` bytes at `p`, zero-extended.
///
/// # Safety
/// `p` must be valid for `n` bytes of reads.
unsafe fn read_bits(p: *const u8, n: usize) -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: caller promise.
    unsafe { std::ptr::copy_nonoverlapping(p, b.as_mut_ptr(), n.min(8)) };
    u64::from_le_bytes(b)
}

/// The address a pointer of `size` bytes (8, or 4 for `__ptr32`) holds.
///
/// # Safety
/// `p` must be valid for `size` bytes of reads.
pub unsafe fn read_pointer(p: *const u8, size: u32) -> usize {
    // SAFETY: caller promise.
    unsafe { read_bits(p, size as usize) as usize }
}

/// # Safety
/// `p` must be valid for `size` bytes of writes.
unsafe fn write_pointer(p: *mut u8, size: u32, addr: usize) {
    // SAFETY: caller promise.
    unsafe { write_bits(p, size as usize, addr as u64) }
}

// ---- numbers ------------------------------------------------------------------------

/// Loads a C number (`Num` entry).
///
/// # Safety
/// `p` must address a value of type `ct`.
unsafe fn load_num(ct: &CType, p: *const u8) -> Option<Scalar> {
    let n = ct.size as usize;
    // SAFETY: caller promise; reads are within `ct.size` bytes.
    unsafe {
        if ct.flags.contains(Flags::FP) {
            return match n {
                4 => Some(Scalar::Float(f64::from(f32::from_bits(
                    read_bits(p, 4) as u32
                )))),
                8 => Some(Scalar::Float(f64::from_bits(read_bits(p, 8)))),
                _ => None,
            };
        }
        if !(1..=8).contains(&n) || !n.is_power_of_two() {
            return None;
        }
        let bits = read_bits(p, n);
        if ct.flags.contains(Flags::BOOL) {
            return Some(Scalar::UInt(u64::from(bits != 0)));
        }
        Some(if ct.flags.contains(Flags::UNSIGNED) {
            Scalar::UInt(bits)
        } else {
            let shift = 64 - 8 * n as u32;
            Scalar::Int(((bits << shift) as i64) >> shift)
        })
    }
}

/// Stores a number into a C number (`Num` entry); false if the type holds none (`long
/// double`).
///
/// # Safety
/// `p` must address a value of type `ct`.
unsafe fn store_num(ct: &CType, p: *mut u8, s: Scalar) -> bool {
    let n = ct.size as usize;
    // SAFETY: caller promise; writes are within `ct.size` bytes.
    unsafe {
        if ct.flags.contains(Flags::BOOL) {
            let b = match s {
                Scalar::Int(i) => i != 0,
                Scalar::UInt(u) => u != 0,
                Scalar::Float(x) => x != 0.0,
            };
            write_bits(p, n, u64::from(b));
            return true;
        }
        if ct.flags.contains(Flags::FP) {
            match n {
                4 => write_bits(p, 4, u64::from((s.to_f64() as f32).to_bits())),
                8 => write_bits(p, 8, s.to_f64().to_bits()),
                _ => return false,
            }
            return true;
        }
        if !(1..=8).contains(&n) {
            return false;
        }
        let unsigned = ct.flags.contains(Flags::UNSIGNED);
        let bits = match s {
            Scalar::Int(i) => i as u64,
            Scalar::UInt(u) => u,
            // Up to 32 bits through a 32-bit truncation, except `uint32_t`, which (like
            // the 64-bit types) goes through 64 bits.
            Scalar::Float(x) if n < 4 || n == 4 && !unsigned => trunc_i32(x) as i64 as u64,
            Scalar::Float(x) if n == 8 && unsigned => trunc_u64(x),
            Scalar::Float(x) => trunc_i64(x) as u64,
        };
        write_bits(p, n, bits);
        true
    }
}

/// Loads a C value that converts to a number: integers, `bool`, floats, enums; a
/// complex number gives its real part.
///
/// # Safety
/// `p` must address a value of type `id`.
pub unsafe fn load_scalar(cts: &CTypeTable, id: CTypeId, p: *const u8) -> Option<Scalar> {
    let (_, ct) = raw_type(cts, id);
    // SAFETY: caller promise.
    unsafe {
        match ct.kind {
            Kind::Num => load_num(ct, p),
            Kind::Enum => load_scalar(cts, ct.child, p),
            Kind::Array if ct.is_complex() => load_scalar(cts, ct.child, p),
            _ => None,
        }
    }
}

/// Stores a number into a C value of a number-like type (a complex number gets it as
/// its real part, a vector in every element); false for other types.
///
/// # Safety
/// `p` must address a value of type `id`.
pub unsafe fn store_scalar(cts: &CTypeTable, id: CTypeId, p: *mut u8, s: Scalar) -> bool {
    let (_, ct) = raw_type(cts, id);
    // SAFETY: caller promise; element offsets stay within the type's size.
    unsafe {
        match ct.kind {
            Kind::Num => store_num(ct, p, s),
            Kind::Enum => store_scalar(cts, ct.child, p, s),
            Kind::Array if ct.is_complex() => {
                let elem = cts.get(cts.raw(ct.child));
                let half = elem.size as usize;
                std::ptr::write_bytes(p.add(half), 0, half);
                store_num(elem, p, s)
            }
            Kind::Array if ct.is_vector() => {
                let elem = cts.get(cts.raw(ct.child));
                let esize = elem.size as usize;
                for i in 0..(ct.size as usize).checked_div(esize).unwrap_or(0) {
                    if !store_num(elem, p.add(i * esize), s) {
                        return false;
                    }
                }
                true
            }
            _ => false,
        }
    }
}

// ---- pointer compatibility ----------------------------------------------------------

/// How the qualifiers of pointer targets are checked.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Quals {
    /// The target may gain qualifiers, not lose them (`int *` to `const int *`).
    Gain,
    /// Below the first level they must be equal (`int **` is not `const int **`).
    Equal,
    /// Not checked (`ffi.istype`).
    Ignore,
}

/// Whether a pointer to `src` converts implicitly to a pointer to `dst`: the same type,
/// or `void` on either side (at the first level), or numbers of the same size and kind
/// (signedness does not matter), enums of the same size, any two function types, or
/// pointers/arrays to compatible types.
pub fn compatible_targets(
    cts: &CTypeTable,
    dst: CTypeId,
    src: CTypeId,
    quals: Quals,
    first_level: bool,
) -> bool {
    let (dq, sq) = (cts.qualifiers(dst), cts.qualifiers(src));
    match quals {
        Quals::Gain if !dq.contains(sq) => return false,
        Quals::Equal if dq != sq => return false,
        _ => {}
    }
    let (dr, d) = raw_type(cts, dst);
    let (sr, s) = raw_type(cts, src);
    if first_level && (d.kind == Kind::Void || s.kind == Kind::Void) {
        return true;
    }
    if dr == sr {
        return true;
    }
    let inner = if quals == Quals::Ignore {
        Quals::Ignore
    } else {
        Quals::Equal
    };
    match (d.kind, s.kind) {
        (Kind::Num, Kind::Num) => {
            let kind = Flags(Flags::FP.0 | Flags::BOOL.0);
            d.size == s.size && d.flags.0 & kind.0 == s.flags.0 & kind.0
        }
        (Kind::Void, Kind::Void) => true,
        // luajit compares neither enums beyond their size nor function signatures.
        (Kind::Enum, Kind::Enum) => d.size == s.size,
        (Kind::Func(_), Kind::Func(_)) => true,
        (Kind::Ptr, Kind::Ptr) => {
            d.is_ref() == s.is_ref() && compatible_targets(cts, d.child, s.child, inner, false)
        }
        (Kind::Array, Kind::Array) => {
            d.is_array()
                && s.is_array()
                && d.size == s.size
                && d.has_size()
                && compatible_targets(cts, d.child, s.child, inner, false)
        }
        _ => false,
    }
}

// ---- C to C -------------------------------------------------------------------------

/// The address a pointer-like C value stands for: a pointer's value, an array's or
/// struct's own address, a function's address.
///
/// # Safety
/// `p` must address a value of type `ct`.
unsafe fn address_of(ct: &CType, p: *mut u8) -> Option<usize> {
    match ct.kind {
        // SAFETY: caller promise.
        Kind::Ptr if !ct.is_ref() => Some(unsafe { read_pointer(p, ct.size) }),
        Kind::Array if ct.is_array() => Some(p as usize),
        Kind::Struct => Some(p as usize),
        // A function's cdata holds its address.
        Kind::Func(_) => Some(unsafe { read_pointer(p, 8) }),
        _ => None,
    }
}

/// Converts the C value at `sp` (type `src`, not a reference) to type `dst` at `dp`.
/// `cast`: `ffi.cast`'s rules (any pointer and integer conversions).
///
/// # Safety
/// `dp` and `sp` must address values of their types.
pub unsafe fn convert_c(
    cts: &CTypeTable,
    dst: CTypeId,
    dp: *mut u8,
    src: CTypeId,
    sp: *mut u8,
    cast: bool,
) -> ConvResult {
    let (dr, d) = raw_type(cts, dst);
    let (sr, s) = raw_type(cts, src);
    let fail = || Err(cannot_convert(cts, &cts.type_name(src), dst));
    // SAFETY: caller promise; copies stay within the destination type's size.
    unsafe {
        match d.kind {
            Kind::Num | Kind::Enum => {
                if let Some(v) = load_scalar(cts, src, sp) {
                    store_scalar(cts, dst, dp, v);
                    return Ok(());
                }
                if cast && (d.is_integer() || d.kind == Kind::Enum) {
                    if let Some(addr) = address_of(s, sp) {
                        store_scalar(cts, dst, dp, Scalar::UInt(addr as u64));
                        return Ok(());
                    }
                }
                fail()
            }
            Kind::Array if d.is_complex() => {
                if s.is_complex() {
                    let (delem, selem) = (cts.raw(d.child), cts.raw(s.child));
                    let (dh, sh) = (cts.get(delem).size as usize, cts.get(selem).size as usize);
                    let re = load_scalar(cts, selem, sp).unwrap_or(Scalar::Float(0.0));
                    let im = load_scalar(cts, selem, sp.add(sh)).unwrap_or(Scalar::Float(0.0));
                    store_scalar(cts, delem, dp, re);
                    store_scalar(cts, delem, dp.add(dh), im);
                    return Ok(());
                }
                match load_scalar(cts, src, sp) {
                    Some(v) if store_scalar(cts, dst, dp, v) => Ok(()),
                    _ => fail(),
                }
            }
            Kind::Array if d.is_vector() => {
                if s.is_vector() && s.size == d.size {
                    std::ptr::copy(sp, dp, d.size as usize);
                    return Ok(());
                }
                match load_scalar(cts, src, sp) {
                    Some(v) if store_scalar(cts, dst, dp, v) => Ok(()),
                    _ => fail(),
                }
            }
            Kind::Array => {
                if s.is_array()
                    && d.has_size()
                    && s.size == d.size
                    && compatible_targets(cts, d.child, s.child, Quals::Ignore, true)
                {
                    std::ptr::copy(sp, dp, d.size as usize);
                    return Ok(());
                }
                fail()
            }
            Kind::Struct => {
                if dr == sr && d.has_size() {
                    std::ptr::copy(sp, dp, d.size as usize);
                    return Ok(());
                }
                fail()
            }
            Kind::Ptr if !d.is_ref() => {
                let addr = match s.kind {
                    Kind::Num | Kind::Enum if cast => match load_scalar(cts, src, sp) {
                        Some(v) => v.to_i64() as usize,
                        None => return fail(),
                    },
                    _ => {
                        let Some(addr) = address_of(s, sp) else {
                            return fail();
                        };
                        // What the source points to: a pointer's target, an array's
                        // element, the struct or function itself.
                        let target = match s.kind {
                            Kind::Ptr | Kind::Array => s.child,
                            _ => src,
                        };
                        if !cast && !compatible_targets(cts, d.child, target, Quals::Gain, true) {
                            return fail();
                        }
                        addr
                    }
                };
                write_pointer(dp, d.size, addr);
                Ok(())
            }
            _ => fail(),
        }
    }
}

// ---- Lua to C -----------------------------------------------------------------------

/// The value of enum constant `name` of enum type `id`.
fn enum_constant(cts: &CTypeTable, id: CTypeId, name: &[u8]) -> Option<i64> {
    let mut c = cts.get(id).sib;
    while !c.is_none() {
        let ct = cts.get(c);
        if ct.name().map(str::as_bytes) == Some(name) {
            return cts.const_value(c);
        }
        c = ct.sib;
    }
    None
}

/// Converts a Lua value to C type `dst` at `dp` (assignment, initializer, argument).
/// `cast`: `ffi.cast`'s rules.
///
/// # Safety
/// `dp` must address a value of type `dst` (of its full size); `v` must be live.
pub unsafe fn lua_to_c(
    cts: &CTypeTable,
    dst: CTypeId,
    dp: *mut u8,
    v: TValue,
    cast: bool,
) -> ConvResult {
    let (dr, d) = raw_type(cts, dst);
    let fail = |what: &str| Err(cannot_convert(cts, what, dst));
    let is_ptr = d.kind == Kind::Ptr && !d.is_ref();
    // SAFETY: caller promise; live values.
    unsafe {
        if v.is_number() {
            let x = v.num();
            if is_ptr {
                if !cast {
                    return fail("number");
                }
                write_pointer(dp, d.size, trunc_i64(x) as usize);
                return Ok(());
            }
            if store_scalar(cts, dst, dp, Scalar::Float(x)) {
                return Ok(());
            }
            return fail("number");
        }
        if v.is_bool() {
            if !is_ptr && store_scalar(cts, dst, dp, Scalar::UInt(u64::from(v.is_truthy()))) {
                return Ok(());
            }
            return fail("boolean");
        }
        if v.is_nil() {
            if is_ptr {
                write_pointer(dp, d.size, 0);
                return Ok(());
            }
            return fail("nil");
        }
        if let Some(s) = v.as_str() {
            let bytes = GcStr::bytes(s);
            return match d.kind {
                Kind::Enum => match enum_constant(cts, dr, bytes) {
                    Some(k) => {
                        store_scalar(cts, dst, dp, Scalar::Int(k));
                        Ok(())
                    }
                    None => fail("string"),
                },
                Kind::Array if d.is_array() && d.has_size() && is_byte(cts, d.child) => {
                    copy_string(dp, d.size as usize, bytes);
                    Ok(())
                }
                Kind::Ptr if is_ptr => {
                    if !cast
                        && !compatible_targets(cts, d.child, CTypeId::CONST_CHAR, Quals::Gain, true)
                    {
                        return fail("string");
                    }
                    write_pointer(dp, d.size, bytes.as_ptr() as usize);
                    Ok(())
                }
                Kind::Num if cast && d.is_integer() => {
                    store_scalar(cts, dst, dp, Scalar::UInt(bytes.as_ptr() as u64));
                    Ok(())
                }
                _ => fail("string"),
            };
        }
        if let Some(t) = v.as_tab() {
            return match d.kind {
                Kind::Array | Kind::Struct if d.has_size() => {
                    std::ptr::write_bytes(dp, 0, d.size as usize);
                    init_from_table(cts, dst, dp, d.size as usize, t)
                }
                _ => fail("table"),
            };
        }
        if v.is_cdata() {
            let src = cdata_loc(cts, v);
            return convert_c(cts, dst, dp, src.ty, src.ptr, cast);
        }
        if v.is_udata() && is_ptr {
            let u = v.gc_ptr().cast::<moonjet_gc::GcUdata>();
            write_pointer(dp, d.size, moonjet_gc::GcUdata::payload(u) as usize);
            return Ok(());
        }
        fail(crate::vm::state::type_name(v))
    }
}

/// Whether `id` is a one-byte integer type (what strings initialize).
fn is_byte(cts: &CTypeTable, id: CTypeId) -> bool {
    let ct = cts.get(cts.raw(id));
    ct.is_integer() && ct.size == 1
}

/// A string into a byte array of `size` bytes: its bytes and a NUL, cut to the array.
///
/// # Safety
/// `dp` must be valid for `size` bytes of writes.
unsafe fn copy_string(dp: *mut u8, size: usize, bytes: &[u8]) {
    let n = bytes.len().min(size);
    // SAFETY: caller promise; `n <= size`.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), dp, n);
        if n < size {
            *dp.add(n) = 0;
        }
    }
}

// ---- initializers -------------------------------------------------------------------

/// A struct member or function parameter in order: its type, byte offset (relative to
/// the aggregate) and, for bitfields, position and width.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub ty: CTypeId,
    pub offset: usize,
    pub bits: Option<(u8, u8)>,
    pub named: bool,
}

impl Field {
    /// The field of member entry `m` (a field or bitfield: its offset is in `size`).
    fn of_member(cts: &CTypeTable, m: CTypeId) -> Field {
        let ct = cts.get(m);
        Field {
            ty: ct.child,
            offset: ct.size as usize,
            bits: match ct.kind {
                Kind::Bitfield { bit_pos, bit_width } => Some((bit_pos, bit_width)),
                _ => None,
            },
            named: ct.name.is_some(),
        }
    }
}

/// The members of a struct (for a union, only the first: initializers fill that one).
pub fn init_fields(cts: &CTypeTable, aggregate: CTypeId) -> Vec<Field> {
    let raw = cts.raw(aggregate);
    let mut out: Vec<Field> = cts
        .members(raw)
        .into_iter()
        .map(|m| Field::of_member(cts, m))
        .collect();
    if cts.get(raw).is_union() {
        out.truncate(1);
    }
    out
}

/// Writes a Lua value into a struct member at `base + field.offset`. `avail`: bytes of
/// the object from the member on (a VLA member takes them all).
///
/// # Safety
/// `base` must address the struct, with `avail` bytes from the member on.
pub unsafe fn store_field(
    cts: &CTypeTable,
    field: &Field,
    base: *mut u8,
    avail: usize,
    v: TValue,
) -> ConvResult {
    // SAFETY: caller promise.
    unsafe {
        let p = base.add(field.offset);
        if let Some((pos, width)) = field.bits {
            return store_bitfield(cts, field.ty, p, pos, width, v);
        }
        let ct = cts.get(cts.raw(field.ty));
        if ct.is_vla() {
            return init_vla_member(cts, field.ty, p, avail, v);
        }
        lua_to_c(cts, field.ty, p, v, false)
    }
}

/// A VLA member (the last of a VLS) from a table or a string.
///
/// # Safety
/// `p` must be valid for `avail` bytes.
unsafe fn init_vla_member(
    cts: &CTypeTable,
    ty: CTypeId,
    p: *mut u8,
    avail: usize,
    v: TValue,
) -> ConvResult {
    // SAFETY: caller promise.
    unsafe {
        if let Some(t) = v.as_tab() {
            return init_from_table(cts, ty, p, avail, t);
        }
        if let Some(s) = v.as_str() {
            if is_byte(cts, cts.get(cts.raw(ty)).child) {
                copy_string(p, avail, GcStr::bytes(s));
                return Ok(());
            }
        }
    }
    Err(cannot_convert(cts, &super::value_type_name(cts, v), ty))
}

/// The number of bytes a bitfield access touches.
fn bitfield_bytes(pos: u8, width: u8) -> usize {
    (usize::from(pos) + usize::from(width)).div_ceil(8)
}

/// Reads a bitfield: a number (a boolean for `bool` bitfields).
///
/// # Safety
/// `p` must address the bitfield's storage unit.
pub unsafe fn load_bitfield(
    cts: &CTypeTable,
    ty: CTypeId,
    p: *const u8,
    pos: u8,
    width: u8,
) -> TValue {
    let ct = cts.get(cts.raw(ty));
    // SAFETY: caller promise; the unit holds `pos + width` bits.
    let unit = unsafe { read_bits(p, bitfield_bytes(pos, width)) };
    let mask = if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    let bits = (unit >> pos) & mask;
    if ct.flags.contains(Flags::BOOL) {
        return TValue::from_bool(bits != 0);
    }
    if ct.flags.contains(Flags::UNSIGNED) || width >= 64 {
        TValue::from_f64(bits as f64)
    } else {
        let shift = 64 - u32::from(width);
        TValue::from_f64((((bits << shift) as i64) >> shift) as f64)
    }
}

/// Writes a Lua value into a bitfield (converted to the declared type, then cut to the
/// width).
///
/// # Safety
/// `p` must address the bitfield's storage unit.
pub unsafe fn store_bitfield(
    cts: &CTypeTable,
    ty: CTypeId,
    p: *mut u8,
    pos: u8,
    width: u8,
    v: TValue,
) -> ConvResult {
    let mut tmp = [0u8; 8];
    // SAFETY: `tmp` holds any number type up to 8 bytes; the unit holds `pos + width` bits.
    unsafe {
        let ct = cts.get(cts.raw(ty));
        if ct.size > 8 {
            return Err(cannot_convert(cts, &super::value_type_name(cts, v), ty));
        }
        lua_to_c(cts, ty, tmp.as_mut_ptr(), v, false)?;
        let value = u64::from_le_bytes(tmp);
        let n = bitfield_bytes(pos, width);
        let mask = if width >= 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        } << pos;
        let unit = read_bits(p, n);
        write_bits(p, n, (unit & !mask) | ((value << pos) & mask));
    }
    Ok(())
}

/// Initializes an array, complex number, vector or struct of `size` bytes (already
/// zero-filled) from a table, as luajit's table initializers do: arrays from `t[0]` on
/// if it is set, else from `t[1]`, stopping at the first nil, one element repeated over
/// the whole array; structs the same way by position, or by field names.
///
/// # Safety
/// `p` must be valid for `size` bytes; `t` must be live.
pub unsafe fn init_from_table(
    cts: &CTypeTable,
    ty: CTypeId,
    p: *mut u8,
    size: usize,
    t: *mut GcTab,
) -> ConvResult {
    let (_, ct) = raw_type(cts, ty);
    // SAFETY: caller promise; element offsets stay below `size`.
    unsafe {
        let first = if table::get_int(t, 0).is_nil() { 1 } else { 0 };
        if ct.kind == Kind::Array {
            let elem = ct.child;
            let esize = cts.get(cts.raw(elem)).size as usize;
            if esize == 0 || esize == moonjet_ffi::SIZE_INVALID as usize {
                return Err(cannot_convert(cts, "table", ty));
            }
            let n = size / esize;
            let mut done = 0;
            while done < n {
                let v = table::get_int(t, first + done as i64);
                if v.is_nil() {
                    break;
                }
                lua_to_c(cts, elem, p.add(done * esize), v, false)?;
                done += 1;
            }
            if done == n && !table::get_int(t, first + n as i64).is_nil() {
                return Err(too_many_initializers(cts, ty));
            }
            if done == 1 {
                repeat_first(p, esize, n);
            }
            return Ok(());
        }
        let fields = init_fields(cts, ty);
        if first == 0 || !table::get_int(t, 1).is_nil() {
            for (i, f) in fields.iter().enumerate() {
                let v = table::get_int(t, first + i as i64);
                if v.is_nil() {
                    break;
                }
                store_field(cts, f, p, size.saturating_sub(f.offset), v)?;
            }
            return Ok(());
        }
        init_struct_by_name(cts, ty, p, size, t)
    }
}

/// A struct from a table's named fields (anonymous members take names from the same
/// table).
///
/// # Safety
/// As [`init_from_table`].
unsafe fn init_struct_by_name(
    cts: &CTypeTable,
    ty: CTypeId,
    p: *mut u8,
    size: usize,
    t: *mut GcTab,
) -> ConvResult {
    let raw = cts.raw(ty);
    for m in cts.members(raw) {
        let ct = cts.get(m);
        let field = Field::of_member(cts, m);
        // SAFETY: caller promise; member offsets lie within the struct.
        unsafe {
            match ct.name() {
                Some(name) => {
                    let v = get_field(t, name);
                    if !v.is_nil() {
                        store_field(cts, &field, p, size.saturating_sub(field.offset), v)?;
                    }
                }
                None if cts.get(cts.raw(ct.child)).is_struct() => {
                    let inner = cts.get(cts.raw(ct.child)).size as usize;
                    init_struct_by_name(cts, ct.child, p.add(field.offset), inner, t)?;
                }
                None => {}
            }
        }
    }
    Ok(())
}

/// `t[name]` for a string key, without interning `name` (initializers never allocate).
fn get_field(t: *mut GcTab, name: &str) -> TValue {
    let mut key = TValue::NIL;
    // SAFETY: `t` is live; traversal only reads, with keys it handed out itself.
    while let Ok(Some((k, v))) = unsafe { table::next(t, key) } {
        if let Some(s) = k.as_str() {
            // SAFETY: a live string key.
            if unsafe { GcStr::bytes(s) } == name.as_bytes() {
                return v;
            }
        }
        key = k;
    }
    TValue::NIL
}

/// Copies element 0 over elements `1..n`.
///
/// # Safety
/// `p` must be valid for `n * esize` bytes.
unsafe fn repeat_first(p: *mut u8, esize: usize, n: usize) {
    for i in 1..n {
        // SAFETY: caller promise; the ranges do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(p, p.add(i * esize), esize) };
    }
}

/// Initializes a new cdata of type `ty` (payload `p` of `size` bytes, zero-filled) from
/// the arguments of `ffi.new(ct, ...)` or `ct(...)`.
///
/// # Safety
/// `p` must be valid for `size` bytes; the values must be live.
pub unsafe fn init_from_args(
    cts: &CTypeTable,
    ty: CTypeId,
    p: *mut u8,
    size: usize,
    args: &[TValue],
) -> ConvResult {
    let Some(&first) = args.first() else {
        return Ok(());
    };
    let (raw, ct) = raw_type(cts, ty);
    // SAFETY: caller promise; offsets stay within `size`.
    unsafe {
        match ct.kind {
            Kind::Array if ct.is_complex() && args.len() == 2 => {
                let elem = cts.raw(ct.child);
                let half = cts.get(elem).size as usize;
                lua_to_c(cts, elem, p, args[0], false)?;
                lua_to_c(cts, elem, p.add(half), args[1], false)
            }
            Kind::Array if ct.is_complex() => {
                if args.len() > 2 {
                    return Err(too_many_initializers(cts, ty));
                }
                lua_to_c(cts, ty, p, first, false)
            }
            Kind::Array => {
                let elem = ct.child;
                let esize = cts.get(cts.raw(elem)).size as usize;
                let n = size.checked_div(esize).unwrap_or(0);
                if args.len() == 1 {
                    if let Some(t) = first.as_tab() {
                        return init_from_table(cts, ty, p, size, t);
                    }
                    if let Some(s) = first.as_str() {
                        if is_byte(cts, elem) {
                            copy_string(p, size, GcStr::bytes(s));
                            return Ok(());
                        }
                        return Err(cannot_convert(cts, "string", ty));
                    }
                    if first.is_cdata() && cts.get(cts.raw(cdata_loc(cts, first).ty)).is_array() {
                        let src = cdata_loc(cts, first);
                        return convert_c(cts, ty, p, src.ty, src.ptr, false);
                    }
                    if n == 0 {
                        return Ok(());
                    }
                    lua_to_c(cts, elem, p, first, false)?;
                    repeat_first(p, esize, n);
                    return Ok(());
                }
                if args.len() > n {
                    return Err(too_many_initializers(cts, ty));
                }
                for (i, &v) in args.iter().enumerate() {
                    lua_to_c(cts, elem, p.add(i * esize), v, false)?;
                }
                Ok(())
            }
            Kind::Struct => {
                if args.len() == 1 {
                    if let Some(t) = first.as_tab() {
                        return init_from_table(cts, ty, p, size, t);
                    }
                    if first.is_cdata() && cts.raw(cdata_loc(cts, first).ty) == raw {
                        let src = cdata_loc(cts, first);
                        return convert_c(cts, ty, p, src.ty, src.ptr, false);
                    }
                }
                let fields = init_fields(cts, ty);
                if args.len() > fields.len() {
                    return Err(too_many_initializers(cts, ty));
                }
                for (f, &v) in fields.iter().zip(args) {
                    store_field(cts, f, p, size.saturating_sub(f.offset), v)?;
                }
                Ok(())
            }
            _ => {
                if args.len() > 1 {
                    return Err(too_many_initializers(cts, ty));
                }
                lua_to_c(cts, ty, p, first, false)
            }
        }
    }
}

// ---- C to Lua -----------------------------------------------------------------------

/// The Lua value of the C object of type `ty` at `p`: a number or boolean for numbers up
/// to 32 bits and floats, a new boxed cdata for 64-bit integers, enums, pointers,
/// complex numbers and vectors, a reference cdata for structs and arrays.
///
/// # Safety
/// `p` must address a value of type `ty` that stays valid while it is read.
pub unsafe fn c_to_lua(st: &mut State, ty: CTypeId, p: *mut u8) -> LuaResult<TValue> {
    let cts = &st.ffi.ctypes;
    let (raw, ct) = raw_type(cts, ty);
    // SAFETY: caller promise.
    unsafe {
        match ct.kind {
            Kind::Num if is_int64(ct) => {
                let unsigned = ct.flags.contains(Flags::UNSIGNED);
                new_int64(st, read_bits(p, 8), unsigned)
            }
            Kind::Num => match load_num(ct, p) {
                Some(Scalar::UInt(b)) if ct.flags.contains(Flags::BOOL) => {
                    Ok(TValue::from_bool(b != 0))
                }
                Some(s) => Ok(TValue::from_f64(s.to_f64())),
                None => box_copy(st, raw, p),
            },
            Kind::Ptr if ct.is_ref() => {
                let target = read_pointer(p, ct.size) as *mut u8;
                c_to_lua(st, ct.child, target)
            }
            Kind::Ptr => {
                let addr = read_pointer(p, ct.size);
                new_pointer(st, raw, addr)
            }
            Kind::Enum => box_copy(st, raw, p),
            Kind::Array if ct.is_complex() || ct.is_vector() => box_copy(st, raw, p),
            Kind::Array | Kind::Struct => {
                let r = super::ref_type(st, ty)?;
                new_pointer(st, r, p as usize)
            }
            Kind::Func(_) => {
                let ptr = super::pointer_type(st, ty)?;
                new_pointer(st, ptr, p as usize)
            }
            _ => {
                let name = st.ffi.ctypes.type_name(ty);
                Err(st.rt_error(&format!("cannot convert '{name}' to a Lua value")))
            }
        }
    }
}

/// A new cdata of type `raw` holding a copy of the value at `p`.
///
/// # Safety
/// `p` must address a value of type `raw` with a known size.
pub(crate) unsafe fn box_copy(st: &mut State, raw: CTypeId, p: *const u8) -> LuaResult<TValue> {
    let size = st.ffi.ctypes.get(raw).size as usize;
    let v = new_cdata(st, raw, size)?;
    // SAFETY: caller promise; the new payload has `size` bytes.
    unsafe { std::ptr::copy_nonoverlapping(p, super::cdata_payload(v), size) };
    Ok(v)
}

/// The type a cdata value converts from as a source: its own type, or for a reference
/// the type it refers to.
pub fn source_type(cts: &CTypeTable, v: TValue) -> CTypeId {
    let id = cdata_type(v);
    let raw = cts.get(cts.raw(id));
    if raw.is_ref() {
        raw.child
    } else {
        id
    }
}
