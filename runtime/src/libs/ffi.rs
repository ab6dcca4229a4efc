//! The `ffi` library (`require "ffi"`): C declarations, C types and cdata objects, C
//! calls and callbacks, and C libraries (`ffi.C`, `ffi.load`), as luajit's FFI has them.
//!
//! The semantics live in `crate::ffi`; this module checks arguments and phrases errors
//! as luajit's library functions do.

use crate::ffi::conv::{self, cannot_convert, lua_to_c};
use crate::ffi::{
    cdata_loc, cdata_obj, cdata_payload, cdata_size, cdata_type, ctype_of_ctype_obj, new_cdata,
    new_ctype_obj, raw_type,
};
use crate::vm::state::{ff, type_name};
use crate::vm::{LuaResult, State, MULTRET};
use moonjet_ffi::{CTypeId, DeclParam, Flags, Kind};
use moonjet_gc::value::itype;
use moonjet_gc::{table, GcStr, MetaMethod, TValue};

pub fn open(st: &mut State) -> LuaResult<()> {
    let t = st.new_table(0, 24)?;
    st.push(TValue::from_tab(t))?;
    super::register(
        st,
        t,
        "ffi",
        &[
            ("cdef", cdef),
            ("new", new),
            ("cast", cast),
            ("typeof", typeof_),
            ("istype", istype),
            ("sizeof", sizeof),
            ("alignof", alignof),
            ("offsetof", offsetof),
            ("string", string),
            ("copy", copy),
            ("fill", fill),
            ("metatype", metatype),
            ("gc", gc),
            ("errno", errno),
            ("abi", abi),
            ("load", load),
        ],
    )?;
    let arch = st.ffi.ctypes.target().arch_name();
    let arch = st.new_str(arch.as_bytes())?;
    st.raw_set_str(t, b"arch", arch)?;
    let os = st.new_str(b"Linux")?;
    st.raw_set_str(t, b"os", os)?;

    // ffi.C: a C library namespace for the symbols of the process.
    let clib_mt = st.new_table(0, 2)?;
    st.push(TValue::from_tab(clib_mt))?;
    super::register(
        st,
        clib_mt,
        "ffi.C",
        &[("__index", clib_index), ("__newindex", clib_newindex)],
    )?;
    st.ffi.set_clib_metatable(&mut st.heap, clib_mt);
    let clib = new_clib(st, std::ptr::null_mut())?;
    st.raw_set_str(t, b"C", clib)?;
    st.pop(1);

    let metatypes = st.new_table(0, 0)?;
    st.push(TValue::from_tab(metatypes))?;
    let native = |st: &mut State, f: crate::vm::state::NativeFn, id: u8| -> LuaResult<TValue> {
        let f = st.push_native_ff(f, id, 0)?;
        Ok(TValue::from_gc(f.cast(), itype::FUNC))
    };
    let plain = moonjet_gc::object::ffid::NATIVE;
    let natives = crate::ffi::Natives {
        constructor: native(st, construct_from_ctype, plain)?,
        call_c: native(st, crate::ffi::call::call_c, ff::FFI_CALL)?,
        callback_free: native(st, crate::ffi::callback::free, ff::CALLBACK_FREE)?,
        callback_set: native(st, crate::ffi::callback::set, ff::CALLBACK_SET)?,
    };
    st.ffi.install(&mut st.heap, metatypes, natives);
    st.pop(5);

    super::package::set_loaded(st, b"ffi", TValue::from_tab(t))?;
    st.pop(1);
    Ok(())
}

// ---- argument helpers -----------------------------------------------------------------

/// A C type argument: a type string (with `$` parameters from argument `params_from` on,
/// if given), a ctype, or a cdata (its type).
fn ctype_arg(st: &mut State, n: usize, params_from: Option<usize>) -> LuaResult<CTypeId> {
    let v = st.arg(n);
    if let Some(s) = v.as_str() {
        // SAFETY: a live string argument.
        let src = String::from_utf8_lossy(unsafe { GcStr::bytes(s) }).into_owned();
        let mut params = Vec::new();
        if let Some(first) = params_from {
            for i in first..=st.nargs() {
                params.push(decl_param(st, i)?);
            }
        }
        return match st.ffi.ctypes.parse_type(&src, &params) {
            Ok(id) => Ok(st.ffi.ctypes.resolve_typedef(id)),
            Err(e) => Err(st.rt_error(&e.message)),
        };
    }
    if v.is_cdata() {
        return Ok(ctype_of_ctype_obj(v).unwrap_or_else(|| cdata_type(v)));
    }
    let got = if n > st.nargs() {
        "no value"
    } else {
        type_name(v)
    };
    Err(st.arg_error(n, &format!("C type expected, got {got}")))
}

/// A value for a `$` in a declaration.
fn decl_param(st: &mut State, n: usize) -> LuaResult<DeclParam> {
    let v = st.arg(n);
    if v.is_number() {
        return Ok(DeclParam::Int(crate::num::trunc_i64(v.num())));
    }
    if let Some(s) = v.as_str() {
        // SAFETY: a live string argument.
        let name = String::from_utf8_lossy(unsafe { GcStr::bytes(s) }).into_owned();
        return Ok(DeclParam::Name(name));
    }
    if v.is_cdata() {
        return Ok(DeclParam::Type(
            ctype_of_ctype_obj(v).unwrap_or_else(|| cdata_type(v)),
        ));
    }
    Err(st.arg_error(n, &format!("C type expected, got {}", type_name(v))))
}

/// An `int` argument, converted as the FFI converts (numbers, booleans, cdata numbers).
fn int_arg(st: &mut State, n: usize) -> LuaResult<i32> {
    let v = st.check_any(n)?;
    let mut out = 0i32;
    let cts = &st.ffi.ctypes;
    // SAFETY: `out` is an int; `v` is a live argument.
    match unsafe { lua_to_c(cts, CTypeId::INT32, (&mut out as *mut i32).cast(), v, false) } {
        Ok(()) => Ok(out),
        Err(msg) => Err(st.arg_error(n, &msg)),
    }
}

/// A byte count argument (never negative).
fn size_arg(st: &mut State, n: usize) -> LuaResult<usize> {
    let k = int_arg(st, n)?;
    usize::try_from(k).map_err(|_| st.arg_error(n, "size out of range"))
}

/// A pointer argument converted to `target` (`void *`, `const void *`): its address.
/// `name` is the type the message names.
fn pointer_arg(st: &mut State, n: usize, target: CTypeId, name: CTypeId) -> LuaResult<usize> {
    let v = st.arg(n);
    let mut addr = 0usize;
    let cts = &st.ffi.ctypes;
    // SAFETY: `addr` holds a pointer; `v` is a live argument.
    match unsafe { lua_to_c(cts, target, (&mut addr as *mut usize).cast(), v, false) } {
        Ok(()) => Ok(addr),
        Err(_) => {
            let msg = cannot_convert(cts, &crate::ffi::value_type_name(cts, v), name);
            Err(st.arg_error(n, &msg))
        }
    }
}

fn null_error(st: &mut State, n: usize) -> crate::vm::Throw {
    st.arg_error(n, "NULL pointer")
}

// ---- declarations and types -----------------------------------------------------------

fn cdef(st: &mut State) -> LuaResult<u32> {
    let s = st.check_str(1)?;
    // SAFETY: a live string argument.
    let src = String::from_utf8_lossy(unsafe { GcStr::bytes(s) }).into_owned();
    let mut params = Vec::new();
    for i in 2..=st.nargs() {
        params.push(decl_param(st, i)?);
    }
    match st.ffi.ctypes.cdef(&src, &params) {
        Ok(()) => Ok(0),
        Err(e) => Err(st.rt_error(&e.message)),
    }
}

fn typeof_(st: &mut State) -> LuaResult<u32> {
    let id = ctype_arg(st, 1, Some(2))?;
    let v = new_ctype_obj(st, id)?;
    st.push(v)?;
    Ok(1)
}

/// Whether a value of type `have` is of type `want` for `ffi.istype`: qualifiers do not
/// matter, nor do typedefs, references, the spelling `long`, or the signedness of what
/// pointers point to; a pointer to a struct counts as the struct.
fn same_type(cts: &moonjet_ffi::CTypeTable, want: CTypeId, have: CTypeId) -> bool {
    let (wr, w) = raw_type(cts, want);
    let (mut hr, mut h) = raw_type(cts, have);
    if h.is_ref() {
        (hr, h) = raw_type(cts, h.child);
    }
    if w.is_struct() && h.kind == Kind::Ptr {
        (hr, h) = raw_type(cts, h.child);
    }
    if wr == hr {
        return true;
    }
    if w.kind != h.kind || w.size != h.size {
        return false;
    }
    match w.kind {
        Kind::Num | Kind::Void => {
            let ignore = Flags(Flags::QUALIFIERS.0 | Flags::LONG.0);
            w.flags.without(ignore) == h.flags.without(ignore)
        }
        Kind::Ptr => conv::compatible_targets(cts, w.child, h.child, conv::Quals::Ignore, false),
        Kind::Array => {
            w.flags.without(Flags::QUALIFIERS) == h.flags.without(Flags::QUALIFIERS)
                && w.has_size()
                && same_type(cts, w.child, h.child)
        }
        _ => false,
    }
}

fn istype(st: &mut State) -> LuaResult<u32> {
    let want = ctype_arg(st, 1, None)?;
    let v = st.arg(2);
    let r = if v.is_cdata() {
        let have = ctype_of_ctype_obj(v).unwrap_or_else(|| cdata_type(v));
        same_type(&st.ffi.ctypes, want, have)
    } else {
        false
    };
    st.push_bool(r)?;
    Ok(1)
}

fn sizeof(st: &mut State) -> LuaResult<u32> {
    let v = st.arg(1);
    let id = ctype_arg(st, 1, None)?;
    let cts = &st.ffi.ctypes;
    let raw = cts.get(cts.raw(id));
    let size = if raw.is_vla() || raw.is_vls() {
        if v.is_cdata() && ctype_of_ctype_obj(v).is_none() {
            Some(cdata_size(v) as u32)
        } else {
            let count = count_arg(st, 2)?;
            st.ffi.ctypes.sizeof_with_count(id, count)
        }
    } else {
        cts.sizeof(id)
    };
    match size {
        Some(n) => st.push_num(f64::from(n))?,
        None => st.push_nil()?,
    }
    Ok(1)
}

/// The element count of a VLA or VLS.
fn count_arg(st: &mut State, n: usize) -> LuaResult<i64> {
    Ok(i64::from(int_arg(st, n)?))
}

fn alignof(st: &mut State) -> LuaResult<u32> {
    let id = ctype_arg(st, 1, None)?;
    let a = st.ffi.ctypes.alignof(id);
    st.push_num(f64::from(a))?;
    Ok(1)
}

fn offsetof(st: &mut State) -> LuaResult<u32> {
    let id = ctype_arg(st, 1, None)?;
    let name = st.check_str(2)?;
    // SAFETY: a live string argument.
    let name = String::from_utf8_lossy(unsafe { GcStr::bytes(name) }).into_owned();
    let cts = &st.ffi.ctypes;
    let Some(m) = cts.member(id, &name) else {
        return Ok(0);
    };
    match cts.get(m.entry).kind {
        Kind::Field => {
            st.push_num(f64::from(m.offset))?;
            Ok(1)
        }
        Kind::Bitfield { bit_pos, bit_width } => {
            st.push_num(f64::from(m.offset))?;
            st.push_num(f64::from(bit_pos))?;
            st.push_num(f64::from(bit_width))?;
            Ok(3)
        }
        _ => Ok(0),
    }
}

// ---- cdata --------------------------------------------------------------------------

/// A new cdata of type `id` initialized from the arguments from `first` on (after the
/// element count for VLAs and VLSs). Pushes it.
fn construct(st: &mut State, id: CTypeId, first: usize) -> LuaResult<TValue> {
    let cts = &st.ffi.ctypes;
    let raw = cts.get(cts.raw(id));
    let (size, init_from) = if raw.is_vla() || raw.is_vls() {
        let count = if st.nargs() < first {
            return Err(st.arg_error(first, "value expected"));
        } else {
            count_arg(st, first)?
        };
        (st.ffi.ctypes.sizeof_with_count(id, count), first + 1)
    } else if raw.is_ref() {
        (Some(8), first)
    } else {
        (cts.sizeof(id), first)
    };
    let Some(size) = size else {
        return Err(st.arg_error(1, moonjet_ffi::error::msg::SIZE));
    };
    let args: Vec<TValue> = (init_from..=st.nargs()).map(|i| st.arg(i)).collect();
    let v = new_cdata(st, id, size as usize)?;
    st.push(v)?;
    if !raw_is_ref(st, id) {
        // SAFETY: the new payload has `size` bytes; the arguments are live.
        let r = unsafe {
            conv::init_from_args(&st.ffi.ctypes, id, cdata_payload(v), size as usize, &args)
        };
        if let Err(msg) = r {
            return Err(st.rt_error(&msg));
        }
    }
    let fin = crate::ffi::cdata_metamethod(st, v, MetaMethod::Gc);
    if !fin.is_nil() {
        // SAFETY: a live cdata (on the stack).
        if unsafe { st.heap.set_cdata_finalizer(cdata_obj(v), fin) }.is_err() {
            return Err(st.memory_error());
        }
    }
    Ok(v)
}

fn raw_is_ref(st: &State, id: CTypeId) -> bool {
    let cts = &st.ffi.ctypes;
    cts.get(cts.raw(id)).is_ref()
}

fn new(st: &mut State) -> LuaResult<u32> {
    let id = ctype_arg(st, 1, None)?;
    construct(st, id, 2)?;
    Ok(1)
}

/// A call of a ctype object: its metatype's `__new`, else `ffi.new`.
fn construct_from_ctype(st: &mut State) -> LuaResult<u32> {
    let ct = st.arg(1);
    let Some(id) = ctype_of_ctype_obj(ct) else {
        return Err(st.type_error(1, "cdata"));
    };
    let mt = crate::ffi::metatype(st, id);
    // SAFETY: null or a live metatable.
    let ctor = unsafe { st.heap.metamethod(mt, MetaMethod::New) };
    if !ctor.is_nil() {
        let nargs = st.nargs();
        st.check_stack(nargs + 1)?;
        let base = st.base();
        st.push(ctor)?;
        for i in 0..nargs {
            // SAFETY: the arguments are the slots base..base+nargs.
            let a = unsafe { *base.add(i) };
            st.push(a)?;
        }
        st.call(nargs, MULTRET)?;
        // SAFETY: the results sit above the arguments.
        let n = unsafe { st.top().offset_from(st.base().add(nargs)) } as u32;
        return Ok(n);
    }
    construct(st, id, 2)?;
    Ok(1)
}

fn cast(st: &mut State) -> LuaResult<u32> {
    let id = ctype_arg(st, 1, None)?;
    let cts = &st.ffi.ctypes;
    let raw = cts.get(cts.raw(id));
    let castable = matches!(raw.kind, Kind::Num | Kind::Enum) || raw.is_ptr();
    let to_function = raw.is_ptr() && cts.get(cts.raw(raw.child)).is_func();
    let size = match cts.sizeof(id) {
        Some(s) if castable => s as usize,
        _ => return Err(st.arg_error(1, "invalid C type")),
    };
    let init = st.check_any(2)?;
    if init.is_func() && to_function {
        let cb = crate::ffi::callback::create(st, id, init)?;
        st.push(cb)?;
        return Ok(1);
    }
    let v = new_cdata(st, id, size)?;
    st.push(v)?;
    // SAFETY: a fresh payload of the type's size; a live argument.
    let r = unsafe { lua_to_c(&st.ffi.ctypes, id, cdata_payload(v), init, true) };
    match r {
        Ok(()) => Ok(1),
        Err(msg) => Err(st.rt_error(&msg)),
    }
}

fn string(st: &mut State) -> LuaResult<u32> {
    let addr = pointer_arg(st, 1, CTypeId::P_CONST_VOID, CTypeId::P_CONST_CHAR)?;
    let len = if st.nargs() >= 2 && !st.arg(2).is_nil() {
        Some(size_arg(st, 2)?)
    } else {
        None
    };
    if addr == 0 && len != Some(0) {
        return Err(null_error(st, 1));
    }
    let len = match len {
        Some(n) => n,
        // SAFETY: a non-NULL pointer to a C string, as the caller promises (the FFI
        // trusts pointers, as luajit does).
        None => unsafe { libc::strlen(addr as *const libc::c_char) },
    };
    let bytes = if len == 0 {
        &[][..]
    } else {
        // SAFETY: as above: `len` readable bytes at `addr`.
        unsafe { std::slice::from_raw_parts(addr as *const u8, len) }
    };
    let s = st.new_str(bytes)?;
    st.push(s)?;
    Ok(1)
}

fn copy(st: &mut State) -> LuaResult<u32> {
    let dst = pointer_arg(st, 1, CTypeId::P_VOID, CTypeId::P_VOID)?;
    let src_val = st.arg(2);
    let (src, len) = if let (Some(s), true) = (src_val.as_str(), st.nargs() < 3) {
        // A string without a length is copied with its terminating NUL.
        // SAFETY: a live string; its bytes are followed by a NUL.
        let b = unsafe { GcStr::bytes(s) };
        (b.as_ptr() as usize, b.len() + 1)
    } else {
        let src = pointer_arg(st, 2, CTypeId::P_CONST_VOID, CTypeId::P_CONST_VOID)?;
        if st.nargs() < 3 {
            return Err(st.arg_error(3, "value expected"));
        }
        let mut len = size_arg(st, 3)?;
        if let Some(s) = src_val.as_str() {
            // Never read past a Lua string (and its NUL).
            // SAFETY: a live string.
            len = len.min(unsafe { GcStr::bytes(s) }.len() + 1);
        }
        (src, len)
    };
    if len > 0 {
        if dst == 0 {
            return Err(null_error(st, 1));
        }
        if src == 0 {
            return Err(null_error(st, 2));
        }
        // SAFETY: the caller's pointers, trusted as luajit trusts them; memmove
        // semantics for overlapping ranges.
        unsafe { std::ptr::copy(src as *const u8, dst as *mut u8, len) };
    }
    Ok(0)
}

fn fill(st: &mut State) -> LuaResult<u32> {
    let dst = pointer_arg(st, 1, CTypeId::P_VOID, CTypeId::P_VOID)?;
    let len = size_arg(st, 2)?;
    let byte = if st.nargs() >= 3 && !st.arg(3).is_nil() {
        int_arg(st, 3)? as u8
    } else {
        0
    };
    if len > 0 {
        if dst == 0 {
            return Err(null_error(st, 1));
        }
        // SAFETY: the caller's pointer, trusted as luajit trusts it.
        unsafe { std::ptr::write_bytes(dst as *mut u8, byte, len) };
    }
    Ok(0)
}

fn metatype(st: &mut State) -> LuaResult<u32> {
    let id = ctype_arg(st, 1, None)?;
    let cts = &st.ffi.ctypes;
    let (raw, ct) = raw_type(cts, id);
    if !(ct.is_struct() || ct.is_complex() || ct.is_vector()) {
        return Err(st.arg_error(1, "invalid C type"));
    }
    let mt = st.check_tab(2)?;
    let types = st.ffi.metatypes();
    // SAFETY: the metatype table is live (rooted).
    if !unsafe { table::get_int(types, i64::from(raw.0)) }.is_nil() {
        return Err(st.rt_error("cannot change a protected metatable"));
    }
    // SAFETY: as above; `mt` is a live argument.
    if let Err(e) =
        unsafe { table::set_int(&mut st.heap, types, i64::from(raw.0), TValue::from_tab(mt)) }
    {
        return Err(st.tab_error(e));
    }
    st.ffi.has_metatypes = true;
    let v = new_ctype_obj(st, id)?;
    st.push(v)?;
    Ok(1)
}

fn gc(st: &mut State) -> LuaResult<u32> {
    let v = st.arg(1);
    if !v.is_cdata() {
        return Err(st.type_error(1, "cdata"));
    }
    let cts = &st.ffi.ctypes;
    let raw = cts.get(cts.raw(cdata_type(v)));
    if !matches!(raw.kind, Kind::Ptr | Kind::Struct | Kind::Array) {
        return Err(st.arg_error(1, "invalid C type"));
    }
    let fin = st.check_any(2)?;
    // SAFETY: a live cdata argument.
    if unsafe { st.heap.set_cdata_finalizer(cdata_obj(v), fin) }.is_err() {
        return Err(st.memory_error());
    }
    st.push(v)?;
    Ok(1)
}

fn errno(st: &mut State) -> LuaResult<u32> {
    let old = st.ffi.errno;
    if st.nargs() >= 1 {
        st.ffi.errno = int_arg(st, 1)?;
    }
    st.push_num(f64::from(old))?;
    Ok(1)
}

fn abi(st: &mut State) -> LuaResult<u32> {
    let s = st.check_str(1)?;
    // SAFETY: a live string argument.
    let r = matches!(
        unsafe { GcStr::bytes(s) },
        b"64bit" | b"le" | b"fpu" | b"hardfp" | b"gc64"
    );
    st.push_bool(r)?;
    Ok(1)
}

/// `ffi.load(name [, global])`: a namespace for the symbols of a shared library.
/// `global` also makes them visible through `ffi.C`. Libraries stay loaded for the life
/// of the process (C code may keep pointers into them).
fn load(st: &mut State) -> LuaResult<u32> {
    let name = st.check_str(1)?;
    // SAFETY: a live string argument.
    let name = String::from_utf8_lossy(unsafe { GcStr::bytes(name) }).into_owned();
    let global = st.arg(2).is_truthy();
    let handle = match crate::ffi::clib::open(&name, global) {
        Ok(h) => h,
        Err(msg) => return Err(st.rt_error(&msg)),
    };
    let clib = new_clib(st, handle)?;
    st.push(clib)?;
    Ok(1)
}

// ---- C library namespaces --------------------------------------------------------------

/// A C library namespace: a userdata holding the library's handle (null for the
/// process, `ffi.C`), whose environment table caches the functions and constants
/// resolved so far (so `C.f` is the same cdata every time).
fn new_clib(st: &mut State, handle: *mut std::ffi::c_void) -> LuaResult<TValue> {
    let cache = st.new_table(0, 0)?;
    st.push(TValue::from_tab(cache))?;
    let clib = match st.heap.new_udata(std::mem::size_of::<usize>(), cache) {
        Ok(u) => u,
        Err(_) => return Err(st.memory_error()),
    };
    // SAFETY: a fresh userdata with an 8-byte payload, and a live table.
    unsafe {
        moonjet_gc::GcUdata::payload(clib)
            .cast::<usize>()
            .write(handle as usize);
        st.heap.set_udata_metatable(clib, st.ffi.clib_metatable);
    }
    st.pop(1);
    Ok(TValue::from_gc(clib.cast(), itype::UDATA))
}

/// The handle and cache table of the namespace in argument 1.
fn clib_parts(st: &mut State) -> LuaResult<(*mut std::ffi::c_void, *mut moonjet_gc::GcTab)> {
    let v = st.arg(1);
    if !v.is_udata() {
        return Err(st.type_error(1, "userdata"));
    }
    let u = v.gc_ptr().cast::<moonjet_gc::GcUdata>();
    // SAFETY: namespaces are made by `new_clib` (their metatable's functions are reached
    // only through them or by a caller passing another userdata, which `env` rejects).
    unsafe {
        if (*u).metatable != st.ffi.clib_metatable {
            return Err(st.type_error(1, "C library namespace"));
        }
        let handle = moonjet_gc::GcUdata::payload(u).cast::<usize>().read();
        Ok((handle as *mut std::ffi::c_void, (*u).env))
    }
}

/// What a name in a C library namespace stands for.
enum Symbol {
    Constant(i64),
    /// An extern variable or a function at an address.
    Object {
        ty: CTypeId,
        addr: usize,
    },
}

fn clib_symbol(st: &mut State, handle: *mut std::ffi::c_void) -> LuaResult<Symbol> {
    let name = st.check_str(2)?;
    // SAFETY: a live string argument.
    let name = String::from_utf8_lossy(unsafe { GcStr::bytes(name) }).into_owned();
    let cts = &st.ffi.ctypes;
    let missing = || format!("missing declaration for symbol '{name}'");
    let Some(decl) = cts.lookup(&name) else {
        return Err(st.rt_error(&missing()));
    };
    let ct = cts.get(decl);
    match ct.kind {
        Kind::ConstVal => Ok(Symbol::Constant(cts.const_value(decl).unwrap_or(0))),
        Kind::Extern | Kind::Func(_) => {
            let ty = if ct.kind == Kind::Extern {
                ct.child
            } else {
                decl
            };
            let symbol = cts.symbol_name(decl).unwrap_or(&name).to_string();
            let addr =
                crate::ffi::clib::resolve(handle, &symbol).map_err(|msg| st.rt_error(&msg))?;
            Ok(Symbol::Object { ty, addr })
        }
        _ => Err(st.rt_error(&missing())),
    }
}

fn clib_index(st: &mut State) -> LuaResult<u32> {
    let (handle, cache) = clib_parts(st)?;
    let key = st.arg(2);
    // SAFETY: the namespace's live cache table.
    let cached = unsafe { table::get(cache, key) };
    if !cached.is_nil() {
        st.push(cached)?;
        return Ok(1);
    }
    let v = match clib_symbol(st, handle)? {
        Symbol::Constant(k) => {
            let v = TValue::from_f64(k as f64);
            st.raw_set(cache, key, v)?;
            v
        }
        Symbol::Object { ty, addr } => {
            let cts = &st.ffi.ctypes;
            if cts.get(cts.raw(ty)).is_func() {
                let v = new_cdata(st, ty, 8)?;
                // SAFETY: a fresh payload of 8 bytes.
                unsafe { cdata_payload(v).cast::<usize>().write(addr) };
                st.push(v)?;
                st.raw_set(cache, key, v)?;
                st.pop(1);
                v
            } else {
                // A variable is read each time: its value may change.
                // SAFETY: the address of a declared extern variable of this type.
                unsafe { conv::c_to_lua(st, ty, addr as *mut u8)? }
            }
        }
    };
    st.push(v)?;
    Ok(1)
}

fn clib_newindex(st: &mut State) -> LuaResult<u32> {
    let (handle, _) = clib_parts(st)?;
    let v = st.arg(3);
    match clib_symbol(st, handle)? {
        Symbol::Object { ty, addr } if !st.ffi.ctypes.get(st.ffi.ctypes.raw(ty)).is_func() => {
            if crate::ffi::is_const(&st.ffi.ctypes, ty, Flags::NONE) {
                return Err(st.rt_error(crate::ffi::ops::CONST_WRITE));
            }
            // SAFETY: the address of a declared extern variable of this type.
            let r = unsafe { lua_to_c(&st.ffi.ctypes, ty, addr as *mut u8, v, false) };
            r.map_err(|msg| st.rt_error(&msg))?;
            Ok(0)
        }
        _ => Err(st.rt_error(crate::ffi::ops::CONST_WRITE)),
    }
}

/// The location a cdata value stands for, for other libraries (the `bit` library's
/// 64-bit operands).
pub fn cdata_int64(st: &State, v: TValue) -> Option<(u64, bool)> {
    let cts = &st.ffi.ctypes;
    let loc = cdata_loc(cts, v);
    let (_, ct) = raw_type(cts, loc.ty);
    if !matches!(ct.kind, Kind::Num | Kind::Enum) {
        return None;
    }
    let unsigned = crate::ffi::is_int64(ct) && ct.flags.contains(Flags::UNSIGNED);
    // SAFETY: the location of a live cdata.
    let s = unsafe { conv::load_scalar(cts, loc.ty, loc.ptr) }?;
    Some((
        if unsigned {
            s.to_u64()
        } else {
            s.to_i64() as u64
        },
        unsigned,
    ))
}
