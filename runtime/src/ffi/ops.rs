//! What the interpreter does with cdata operands, with luajit's semantics and messages:
//! indexing (pointers and arrays by number, structs and unions by member name, through
//! pointers and references), stores, arithmetic on 64-bit integers and pointers,
//! comparisons, `#`, `..`, calls, `tostring` and `tonumber`.
//!
//! Where the C semantics have no answer, the metatable `ffi.metatype` gave the type is
//! asked (`__index`, `__add`, ...); without one the operation fails with luajit's
//! message. Results that need a Lua call come back as [`Got::Meta`]/[`Cmp::Meta`] for
//! the interpreter to run as a metamethod frame.

use super::conv::{
    c_to_lua, compatible_targets, load_bitfield, load_scalar, lua_to_c, read_pointer,
    store_bitfield, Quals, Scalar,
};
use super::{
    cdata_loc, cdata_metamethod, cdata_payload, cdata_type, ctype_of_ctype_obj, is_const, is_int64,
    metatype, new_int64, new_pointer, raw_type, value_type_name,
};
use crate::vm::interp::{ArithOp, Cmp, Got};
use crate::vm::{LuaResult, State, Throw};
use moonjet_ffi::{CTypeId, CTypeTable, Flags, Kind};
use moonjet_gc::{GcStr, MetaMethod, TValue};

// ---- indexing -----------------------------------------------------------------------

/// What an index of a cdata leads to.
pub enum Elem {
    /// A C object (with the qualifiers collected on the way: a member of a const struct
    /// is const).
    Obj {
        ty: CTypeId,
        ptr: *mut u8,
        quals: Flags,
    },
    /// A bitfield in the storage unit at `ptr`.
    Bits {
        ty: CTypeId,
        ptr: *mut u8,
        pos: u8,
        width: u8,
        quals: Flags,
    },
    /// A constant: an enum constant or `static const` member (read-only).
    Const(TValue),
}

/// What a [`Route`] ends at: [`Elem`] without the address.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    Obj {
        ty: CTypeId,
        quals: Flags,
    },
    Bits {
        ty: CTypeId,
        pos: u8,
        width: u8,
        quals: Flags,
    },
    Const(TValue),
}

/// An integer key's step: the element it picks.
#[derive(Clone, Copy, Debug)]
pub struct IndexStep {
    /// The element size in bytes.
    pub size: u32,
    /// The key as an integer (truncated as `integer_key` does).
    pub key: i64,
    /// The object is a complex number: only the key's lowest bit picks a part.
    pub complex_part: bool,
}

/// How `o[key]` gets from the cdata's payload to the C object it names: steps decided
/// by the cdata's type and the kind of key alone. The interpreter follows them on
/// addresses ([`element`]); the JIT records them as loads and address arithmetic.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// The cdata is a reference: its payload holds the address of the object.
    pub through_ref: bool,
    /// Then the object is a pointer (of this many bytes: 8, or 4 for `__ptr32`) whose
    /// target is indexed or whose struct's member is named: the address it holds.
    pub through_ptr: Option<u32>,
    /// Then an integer key picks an element.
    pub index: Option<IndexStep>,
    /// Then this many bytes further (a member's offset).
    pub offset: u32,
    pub target: Target,
}

impl Route {
    /// Whether following the route reads memory at its end (so a NULL address there is
    /// an error): everything but a constant.
    pub fn needs_address(&self) -> bool {
        !matches!(self.target, Target::Const(_))
    }
}

/// An index key as an integer: numbers truncate, integer cdata give their value.
fn integer_key(cts: &CTypeTable, key: TValue) -> Option<i64> {
    if key.is_number() {
        return Some(crate::num::trunc_i64(key.num()));
    }
    if key.is_cdata() {
        let loc = cdata_loc(cts, key);
        let ct = cts.get(cts.raw(loc.ty));
        if matches!(ct.kind, Kind::Num | Kind::Enum) {
            // SAFETY: the location of a live cdata.
            return unsafe { load_scalar(cts, loc.ty, loc.ptr) }.map(Scalar::to_i64);
        }
    }
    None
}

/// The route of `o[key]` for a cdata `o` of type `id` (not a ctype object), or
/// luajit's message for why there is none.
pub fn route(cts: &CTypeTable, id: CTypeId, key: TValue) -> Result<Route, String> {
    let cannot_index = |ty: CTypeId| {
        format!(
            "'{}' cannot be indexed with '{}'",
            cts.type_name(ty),
            value_type_name(cts, key)
        )
    };
    let mut route = Route {
        through_ref: false,
        through_ptr: None,
        index: None,
        offset: 0,
        target: Target::Const(TValue::NIL),
    };
    let (mut ty, mut ct) = (id, raw_type(cts, id).1);
    if ct.is_ref() {
        route.through_ref = true;
        ty = ct.child;
        ct = raw_type(cts, ty).1;
    }
    if let Some(key) = integer_key(cts, key) {
        let (elem, quals) = match ct.kind {
            Kind::Ptr if !ct.is_ref() => {
                route.through_ptr = Some(ct.size);
                (ct.child, Flags::NONE)
            }
            // A complex number has two parts: the index only picks one.
            Kind::Array if ct.is_complex() => (ct.child, Flags::CONST),
            Kind::Array => (ct.child, ct.flags.qualifiers()),
            _ => return Err(cannot_index(ty)),
        };
        let size = cts.sizeof(elem).ok_or_else(|| cannot_index(ty))?;
        route.index = Some(IndexStep {
            size,
            key,
            complex_part: ct.is_complex(),
        });
        route.target = Target::Obj { ty: elem, quals };
        return Ok(route);
    }
    if let Some(s) = key.as_str() {
        // SAFETY: a live string.
        let name = String::from_utf8_lossy(unsafe { GcStr::bytes(s) });
        if ct.is_ptr() && raw_type(cts, ct.child).1.is_struct() {
            // `p.x` on a pointer to a struct is `p->x`.
            route.through_ptr = Some(ct.size);
            ty = ct.child;
            ct = raw_type(cts, ty).1;
        }
        if ct.is_struct() {
            if let Some(m) = cts.member(ty, &name) {
                route.offset = m.offset;
                route.target = match cts.get(m.entry).kind {
                    Kind::ConstVal => Target::Const(TValue::from_f64(
                        cts.const_value(m.entry).unwrap_or(0) as f64,
                    )),
                    Kind::Bitfield { bit_pos, bit_width } => Target::Bits {
                        ty: m.ty,
                        pos: bit_pos,
                        width: bit_width,
                        quals: m.qualifiers,
                    },
                    _ => Target::Obj {
                        ty: m.ty,
                        quals: m.qualifiers,
                    },
                };
                return Ok(route);
            }
        } else if ct.is_complex() && (name == "re" || name == "im") {
            let half = raw_type(cts, ct.child).1.size;
            route.offset = if name == "re" { 0 } else { half };
            route.target = Target::Obj {
                ty: ct.child,
                quals: Flags::CONST,
            };
            return Ok(route);
        }
        return Err(format!(
            "'{}' has no member named '{}'",
            cts.type_name(ty),
            name
        ));
    }
    Err(cannot_index(ty))
}

/// Resolves `o[key]` for a cdata `o` to the C object it names, or luajit's message for
/// why it names none.
pub fn element(cts: &CTypeTable, o: TValue, key: TValue) -> Result<Elem, String> {
    if let Some(id) = ctype_of_ctype_obj(o) {
        // A ctype gives access to the constants declared in its struct.
        if let Some(name) = key.as_str() {
            // SAFETY: a live string.
            let name = String::from_utf8_lossy(unsafe { GcStr::bytes(name) });
            if let Some(m) = cts.member(id, &name) {
                if let Some(k) = cts.const_value(m.entry) {
                    return Ok(Elem::Const(TValue::from_f64(k as f64)));
                }
            }
            return Err(format!(
                "'{}' has no member named '{}'",
                cts.type_name(id),
                name
            ));
        }
        return Err(format!(
            "'{}' cannot be indexed with '{}'",
            cts.type_name(id),
            value_type_name(cts, key)
        ));
    }
    let route = route(cts, cdata_type(o), key)?;
    let mut ptr = cdata_payload(o);
    // SAFETY: a reference's payload holds its referent's address; a pointer's target is
    // trusted, as in luajit.
    unsafe {
        if route.through_ref {
            ptr = ptr.cast::<*mut u8>().read();
        }
        if let Some(size) = route.through_ptr {
            if ptr.is_null() {
                return Err(NULL_ACCESS.to_string());
            }
            ptr = read_pointer(ptr, size) as *mut u8;
        }
    }
    if route.needs_address() && ptr.is_null() {
        return Err(NULL_ACCESS.to_string());
    }
    if let Some(step) = route.index {
        let i = if step.complex_part {
            step.key & 1
        } else {
            step.key
        };
        ptr = ptr.wrapping_add((i as usize).wrapping_mul(step.size as usize));
    }
    let ptr = ptr.wrapping_add(route.offset as usize);
    Ok(match route.target {
        Target::Obj { ty, quals } => Elem::Obj { ty, ptr, quals },
        Target::Bits {
            ty,
            pos,
            width,
            quals,
        } => Elem::Bits {
            ty,
            ptr,
            pos,
            width,
            quals,
        },
        Target::Const(v) => Elem::Const(v),
    })
}

/// The metatype of what `o` names for index fallbacks (a ctype object: the type it
/// stands for).
fn index_metamethod(st: &State, o: TValue, mm: MetaMethod) -> TValue {
    let mt = match ctype_of_ctype_obj(o) {
        Some(id) => metatype(st, id),
        None => super::cdata_metatable(st, o),
    };
    // SAFETY: null or a live metatable.
    unsafe { st.heap.metamethod(mt, mm) }
}

/// `o[key]` for a cdata `o`.
pub(crate) fn index(st: &mut State, o: TValue, key: TValue) -> LuaResult<Got> {
    match element(&st.ffi.ctypes, o, key) {
        // SAFETY: the element lies in memory the cdata leads to (trusted, as in luajit).
        Ok(Elem::Obj { ty, ptr, .. }) => Ok(Got::Value(unsafe { c_to_lua(st, ty, ptr)? })),
        Ok(Elem::Bits {
            ty,
            ptr,
            pos,
            width,
            ..
        }) => Ok(Got::Value(unsafe {
            // SAFETY: as above.
            load_bitfield(&st.ffi.ctypes, ty, ptr, pos, width)
        })),
        Ok(Elem::Const(v)) => Ok(Got::Value(v)),
        Err(msg) => {
            // A function pointer has no members: `free` and `set` are looked up only
            // here, off the path of ordinary member reads.
            if let Some(method) = callback_method(st, o, key) {
                return Ok(Got::Value(method));
            }
            let mm = index_metamethod(st, o, MetaMethod::Index);
            if mm.is_nil() {
                return Err(st.rt_error(&msg));
            }
            if mm.is_func() {
                return Ok(Got::Meta(mm, o));
            }
            // An `__index` table that has no such key either: the C error stands.
            let v = crate::vm::index(st, mm, key)?;
            if v.is_nil() {
                return Err(st.rt_error(&msg));
            }
            Ok(Got::Value(v))
        }
    }
}

/// `free` and `set` of a function pointer (luajit offers them on every function
/// pointer; they check that it is a callback).
fn callback_method(st: &State, o: TValue, key: TValue) -> Option<TValue> {
    let name = key.as_str()?;
    let cts = &st.ffi.ctypes;
    let (_, ct) = raw_type(cts, cdata_type(o));
    if !(ct.is_ptr() && cts.get(cts.raw(ct.child)).is_func()) {
        return None;
    }
    // SAFETY: a live string key.
    match unsafe { GcStr::bytes(name) } {
        b"free" => Some(st.ffi.natives().callback_free),
        b"set" => Some(st.ffi.natives().callback_set),
        _ => None,
    }
}

/// `o[key] = v` for a cdata `o`. Returns the `__newindex` function to call, if the
/// metatype handles the store.
pub fn newindex(st: &mut State, o: TValue, key: TValue, v: TValue) -> LuaResult<Option<TValue>> {
    let v = match element(&st.ffi.ctypes, o, key) {
        // The store keeps only the callback's address; its slot keeps the function.
        Ok(Elem::Obj { ty, .. }) if v.is_func() => super::callback::lua_function_to_c(st, ty, v)?,
        _ => v,
    };
    let cts = &st.ffi.ctypes;
    let r = match element(cts, o, key) {
        Ok(Elem::Obj { ty, ptr, quals }) => {
            if is_const(cts, ty, quals) {
                Err(CONST_WRITE.to_string())
            } else {
                // SAFETY: as in `index`.
                unsafe { lua_to_c(cts, ty, ptr, v, false) }
            }
        }
        Ok(Elem::Bits {
            ty,
            ptr,
            pos,
            width,
            quals,
        }) => {
            if is_const(cts, ty, quals) {
                Err(CONST_WRITE.to_string())
            } else {
                // SAFETY: as in `index`.
                unsafe { store_bitfield(cts, ty, ptr, pos, width, v) }
            }
        }
        Ok(Elem::Const(_)) => Err(CONST_WRITE.to_string()),
        Err(msg) => {
            let mm = index_metamethod(st, o, MetaMethod::NewIndex);
            if mm.is_nil() {
                return Err(st.rt_error(&msg));
            }
            if mm.is_func() {
                return Ok(Some(mm));
            }
            crate::vm::set_index(st, mm, key, v)?;
            return Ok(None);
        }
    };
    match r {
        Ok(()) => Ok(None),
        Err(msg) => Err(st.rt_error(&msg)),
    }
}

pub const CONST_WRITE: &str = "attempt to write to constant location";

/// Indexing a NULL pointer is an error rather than the crash it is in luajit.
const NULL_ACCESS: &str = "attempt to index a NULL pointer";

// ---- arithmetic and comparisons -----------------------------------------------------

/// An operand of C arithmetic.
#[derive(Clone, Copy, Debug)]
enum Operand {
    /// A Lua number.
    Num(f64),
    /// A cdata number (any integer, float, bool or enum), as 64 bits; `unsigned` for
    /// `uint64_t` (the type that makes the operation unsigned).
    Int {
        bits: u64,
        unsigned: bool,
    },
    /// A pointer, or an array as a pointer to its first element.
    Ptr {
        addr: usize,
        target: CTypeId,
        /// The pointer type (none for arrays: `T *` is made when needed).
        ty: Option<CTypeId>,
    },
    /// A struct (or a reference to one), by address: only equality looks at it.
    Struct {
        addr: usize,
    },
    Nil,
    Other,
}

fn operand(cts: &CTypeTable, v: TValue) -> Operand {
    if v.is_number() {
        return Operand::Num(v.num());
    }
    if v.is_nil() {
        return Operand::Nil;
    }
    if !v.is_cdata() {
        return Operand::Other;
    }
    let loc = cdata_loc(cts, v);
    let (raw, ct) = raw_type(cts, loc.ty);
    match ct.kind {
        Kind::Num | Kind::Enum => {
            // SAFETY: the location of a live cdata.
            match unsafe { load_scalar(cts, loc.ty, loc.ptr) } {
                Some(s) => {
                    let unsigned = is_int64(ct) && ct.flags.contains(Flags::UNSIGNED);
                    Operand::Int {
                        bits: if unsigned {
                            s.to_u64()
                        } else {
                            s.to_i64() as u64
                        },
                        unsigned,
                    }
                }
                None => Operand::Other,
            }
        }
        Kind::Ptr if !ct.is_ref() => Operand::Ptr {
            // SAFETY: a pointer's payload holds its address.
            addr: unsafe { read_pointer(loc.ptr, ct.size) },
            target: ct.child,
            ty: Some(raw),
        },
        Kind::Array if ct.is_array() => Operand::Ptr {
            addr: loc.ptr as usize,
            target: ct.child,
            ty: None,
        },
        Kind::Struct => Operand::Struct {
            addr: loc.ptr as usize,
        },
        _ => Operand::Other,
    }
}

/// A Lua number or cdata integer as 64 bits of the operation's signedness.
fn int_bits(o: Operand, unsigned: bool) -> Option<u64> {
    match o {
        Operand::Num(x) => Some(if unsigned {
            crate::num::trunc_u64(x)
        } else {
            crate::num::trunc_i64(x) as u64
        }),
        Operand::Int { bits, .. } => Some(bits),
        _ => None,
    }
}

/// Both operands as 64-bit integers (at least one a cdata), with the signedness of the
/// operation.
fn int_pair(a: Operand, b: Operand) -> Option<(u64, u64, bool)> {
    let any_int = matches!(a, Operand::Int { .. }) || matches!(b, Operand::Int { .. });
    if !any_int {
        return None;
    }
    let unsigned = matches!(a, Operand::Int { unsigned: true, .. })
        || matches!(b, Operand::Int { unsigned: true, .. });
    Some((int_bits(a, unsigned)?, int_bits(b, unsigned)?, unsigned))
}

/// Both operands as pointers: each one's address and target type.
fn ptr_pair(a: Operand, b: Operand) -> Option<((usize, CTypeId), (usize, CTypeId))> {
    match (a, b) {
        (
            Operand::Ptr {
                addr: p,
                target: t1,
                ..
            },
            Operand::Ptr {
                addr: q,
                target: t2,
                ..
            },
        ) => Some(((p, t1), (q, t2))),
        _ => None,
    }
}

/// `x ^ k` in 64-bit signed arithmetic (wrapping), with luajit's answers for negative
/// exponents.
pub fn pow_i64(x: i64, k: i64) -> i64 {
    if k < 0 {
        return match x {
            0 => i64::MAX,
            1 => 1,
            -1 => {
                if k & 1 == 1 {
                    -1
                } else {
                    1
                }
            }
            _ => 0,
        };
    }
    pow_u64(x as u64, k as u64) as i64
}

/// `x ^ k` in 64-bit unsigned arithmetic (wrapping).
pub fn pow_u64(mut x: u64, mut k: u64) -> u64 {
    let mut y: u64 = 1;
    while k != 0 {
        if k & 1 != 0 {
            y = y.wrapping_mul(x);
        }
        x = x.wrapping_mul(x);
        k >>= 1;
    }
    y
}

/// The 64-bit integer operation: division and modulo by zero (and the overflowing
/// `INT64_MIN / -1`) give `0x8000000000000000`, as luajit's x86-64 build does; modulo
/// is C's remainder.
pub(crate) fn arith_i64(op: ArithOp, a: u64, b: u64, unsigned: bool) -> u64 {
    const MIN: u64 = 1 << 63;
    if unsigned {
        match op {
            ArithOp::Add => a.wrapping_add(b),
            ArithOp::Sub => a.wrapping_sub(b),
            ArithOp::Mul => a.wrapping_mul(b),
            ArithOp::Div => a.checked_div(b).unwrap_or(MIN),
            ArithOp::Mod => a.checked_rem(b).unwrap_or(MIN),
            ArithOp::Pow => pow_u64(a, b),
            ArithOp::Unm => a.wrapping_neg(),
        }
    } else {
        let (x, y) = (a as i64, b as i64);
        (match op {
            ArithOp::Add => x.wrapping_add(y),
            ArithOp::Sub => x.wrapping_sub(y),
            ArithOp::Mul => x.wrapping_mul(y),
            ArithOp::Div => x.checked_div(y).unwrap_or(i64::MIN),
            ArithOp::Mod if y == -1 => 0,
            ArithOp::Mod => x.checked_rem(y).unwrap_or(i64::MIN),
            ArithOp::Pow => pow_i64(x, y),
            ArithOp::Unm => x.wrapping_neg(),
        }) as u64
    }
}

/// The element size for pointer arithmetic (none for `void *` and incomplete types).
fn element_size(cts: &CTypeTable, target: CTypeId) -> Option<usize> {
    cts.sizeof(target).map(|s| s as usize).filter(|&s| s > 0)
}

/// Arithmetic with at least one cdata operand.
pub(crate) fn arith(st: &mut State, op: ArithOp, a: TValue, b: TValue) -> LuaResult<Got> {
    let cts = &st.ffi.ctypes;
    let (x, y) = (operand(cts, a), operand(cts, b));
    if op == ArithOp::Unm {
        if let Operand::Int { bits, unsigned } = x {
            let r = arith_i64(op, bits, 0, unsigned);
            return new_int64(st, r, unsigned).map(Got::Value);
        }
    } else {
        if let Some((p, q, unsigned)) = int_pair(x, y) {
            let r = arith_i64(op, p, q, unsigned);
            return new_int64(st, r, unsigned).map(Got::Value);
        }
        if let (Some(((p, t1), (q, t2))), ArithOp::Sub) = (ptr_pair(x, y), op) {
            if compatible_targets(cts, t1, t2, Quals::Ignore, false) {
                if let Some(esize) = element_size(cts, t1) {
                    let diff = (p as i64).wrapping_sub(q as i64) / esize as i64;
                    return Ok(Got::Value(TValue::from_f64(diff as f64)));
                }
            }
        }
        match (x, y, op) {
            (Operand::Ptr { addr, target, ty }, i, ArithOp::Add | ArithOp::Sub)
            | (i, Operand::Ptr { addr, target, ty }, ArithOp::Add)
                if matches!(i, Operand::Num(_) | Operand::Int { .. }) =>
            {
                if let Some(esize) = element_size(cts, target) {
                    let n = int_bits(i, false).unwrap_or(0) as usize;
                    let delta = n.wrapping_mul(esize);
                    let addr = if op == ArithOp::Sub {
                        addr.wrapping_sub(delta)
                    } else {
                        addr.wrapping_add(delta)
                    };
                    let ty = match ty {
                        Some(ty) => ty,
                        None => super::pointer_type(st, target)?,
                    };
                    return new_pointer(st, ty, addr).map(Got::Value);
                }
            }
            _ => {}
        }
    }
    let mm = meta_of_either(st, a, b, op.mm());
    if !mm.is_nil() {
        return Ok(Got::Meta(mm, TValue::NIL));
    }
    let cts = &st.ffi.ctypes;
    let msg = format!(
        "attempt to perform arithmetic on '{}' and '{}'",
        value_type_name(cts, a),
        value_type_name(cts, b)
    );
    Err(st.rt_error(&msg))
}

/// The metatype's metamethod of the first cdata operand that has one.
fn meta_of_either(st: &State, a: TValue, b: TValue, mm: MetaMethod) -> TValue {
    for v in [a, b] {
        if v.is_cdata() {
            let m = cdata_metamethod(st, v, mm);
            if !m.is_nil() {
                return m;
            }
        }
    }
    TValue::NIL
}

/// `a < b` (or `a <= b`) with at least one cdata operand: 64-bit integers and numbers,
/// pointers to compatible types by address, else the metatype's `__lt`/`__le`.
pub(crate) fn compare(st: &mut State, a: TValue, b: TValue, le: bool) -> LuaResult<Cmp> {
    let cts = &st.ffi.ctypes;
    let (x, y) = (operand(cts, a), operand(cts, b));
    if let Some((p, q, unsigned)) = int_pair(x, y) {
        let r = if unsigned {
            if le {
                p <= q
            } else {
                p < q
            }
        } else if le {
            (p as i64) <= (q as i64)
        } else {
            (p as i64) < (q as i64)
        };
        return Ok(Cmp::Value(r));
    }
    if let Some(((p, t1), (q, t2))) = ptr_pair(x, y) {
        if compatible_targets(cts, t1, t2, Quals::Ignore, true) {
            return Ok(Cmp::Value(if le { p <= q } else { p < q }));
        }
    }
    let mmk = if le { MetaMethod::Le } else { MetaMethod::Lt };
    let mm = meta_of_either(st, a, b, mmk);
    if !mm.is_nil() {
        return Ok(Cmp::Meta(mm, a, b, false));
    }
    let cts = &st.ffi.ctypes;
    let msg = format!(
        "attempt to compare '{}' with '{}'",
        value_type_name(cts, a),
        value_type_name(cts, b)
    );
    Err(st.rt_error(&msg))
}

/// `a == b` for two different values, at least one a cdata: 64-bit integers and numbers
/// by value, pointers by address (`p == nil` tests for NULL), else the metatype's
/// `__eq`; anything else is unequal (never an error).
pub(crate) fn equal(st: &State, a: TValue, b: TValue) -> Cmp {
    let cts = &st.ffi.ctypes;
    let (x, y) = (operand(cts, a), operand(cts, b));
    if let Some((p, q, _)) = int_pair(x, y) {
        return Cmp::Value(p == q);
    }
    match (x, y) {
        (Operand::Ptr { addr: p, .. }, Operand::Ptr { addr: q, .. }) => return Cmp::Value(p == q),
        (Operand::Ptr { addr, .. }, Operand::Nil) | (Operand::Nil, Operand::Ptr { addr, .. }) => {
            return Cmp::Value(addr == 0)
        }
        _ => {}
    }
    let mm = meta_of_either(st, a, b, MetaMethod::Eq);
    if !mm.is_nil() {
        return Cmp::Meta(mm, a, b, false);
    }
    // Without `__eq`, structs (and references to them) are the same if they are at the
    // same address.
    match (x, y) {
        (
            Operand::Ptr { addr: p, .. } | Operand::Struct { addr: p },
            Operand::Ptr { addr: q, .. } | Operand::Struct { addr: q },
        ) => Cmp::Value(p == q),
        _ => Cmp::Value(false),
    }
}

// ---- length, concatenation, calls ----------------------------------------------------

/// `#v` for a cdata: the metatype's `__len`, else an error.
pub(crate) fn len(st: &mut State, v: TValue) -> LuaResult<Got> {
    let mm = cdata_metamethod(st, v, MetaMethod::Len);
    if !mm.is_nil() {
        return Ok(Got::Meta(mm, v));
    }
    let msg = format!(
        "attempt to get length of '{}'",
        value_type_name(&st.ffi.ctypes, v)
    );
    Err(st.rt_error(&msg))
}

/// The error of `a .. b` where a cdata operand has no `__concat`.
pub fn concat_error(st: &mut State, a: TValue, b: TValue) -> Throw {
    let cts = &st.ffi.ctypes;
    let msg = format!(
        "attempt to concatenate '{}' and '{}'",
        value_type_name(cts, a),
        value_type_name(cts, b)
    );
    st.rt_error(&msg)
}

/// What calling the cdata `obj` runs (with `obj` as its first argument): a ctype's
/// constructor, the metatype's `__call`, or the C call of a function or function
/// pointer. Err: luajit's message for a cdata that cannot be called.
pub fn call_target(st: &State, obj: TValue) -> Result<TValue, String> {
    if ctype_of_ctype_obj(obj).is_some() {
        return Ok(st.ffi.natives().constructor);
    }
    let mm = cdata_metamethod(st, obj, MetaMethod::Call);
    if !mm.is_nil() {
        return Ok(mm);
    }
    if super::call::callee(&st.ffi.ctypes, obj).is_some() {
        return Ok(st.ffi.natives().call_c);
    }
    Err(format!(
        "'{}' is not callable",
        value_type_name(&st.ffi.ctypes, obj)
    ))
}

// ---- tostring, tonumber ----------------------------------------------------------------

/// The default text of a cdata: `ctype<int>`, `123LL`, `123ULL`, `1+2i`, `cdata<int *>:
/// 0x...` (pointers, references and functions show the address they hold, `NULL` for
/// none; enums their value; everything else the address of its payload).
pub fn default_text(cts: &CTypeTable, v: TValue) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(id) = ctype_of_ctype_obj(v) {
        out.extend_from_slice(format!("ctype<{}>", cts.type_name(id)).as_bytes());
        return out;
    }
    let id = cdata_type(v);
    let p = cdata_payload(v);
    let ct = cts.get(cts.raw(id));
    // SAFETY: the payload of a live cdata holds a value of its type.
    unsafe {
        if is_int64(ct) {
            let bits = p.cast::<u64>().read();
            if ct.flags.contains(Flags::UNSIGNED) {
                crate::num::push_u64(&mut out, bits);
                out.extend_from_slice(b"ULL");
            } else {
                out.extend_from_slice((bits as i64).to_string().as_bytes());
                out.extend_from_slice(b"LL");
            }
            return out;
        }
        if ct.is_complex() {
            let half = cts.get(cts.raw(ct.child)).size as usize;
            let re = load_scalar(cts, ct.child, p).map_or(0.0, Scalar::to_f64);
            let im = load_scalar(cts, ct.child, p.add(half)).map_or(0.0, Scalar::to_f64);
            push_complex(&mut out, re, im);
            return out;
        }
        out.extend_from_slice(format!("cdata<{}>: ", cts.type_name(id)).as_bytes());
        match ct.kind {
            Kind::Enum => {
                // Printed as a signed int, whatever the enum's signedness (as luajit).
                let k = load_scalar(cts, id, p).map_or(0, Scalar::to_i64) as i32;
                out.extend_from_slice(k.to_string().as_bytes());
            }
            Kind::Ptr => crate::strfmt::fmt_ptr(&mut out, read_pointer(p, ct.size)),
            // A function's cdata holds its address.
            Kind::Func(_) => crate::strfmt::fmt_ptr(&mut out, read_pointer(p, 8)),
            _ => crate::strfmt::fmt_ptr(&mut out, p as usize),
        }
    }
    out
}

/// `re+imi` as luajit prints complex numbers (`1-2i`, `-0+0i`; a non-finite imaginary
/// part gets a capital `I`: `1+nanI`).
fn push_complex(out: &mut Vec<u8>, re: f64, im: f64) {
    crate::num::push_num(out, re);
    if im.is_nan() || !im.is_sign_negative() {
        out.push(b'+');
    }
    crate::num::push_num(out, im);
    out.push(if im.is_finite() { b'i' } else { b'I' });
}

/// `tonumber(cdata)`: the value of a number (a complex number's real part, a ctype's
/// ID); nil for pointers and aggregates.
pub fn tonumber(cts: &CTypeTable, v: TValue) -> Option<f64> {
    let loc = cdata_loc(cts, v);
    // SAFETY: the location of a live cdata.
    unsafe { load_scalar(cts, loc.ty, loc.ptr) }.map(Scalar::to_f64)
}
