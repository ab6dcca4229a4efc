//! The runtime side of the FFI: cdata objects and what Lua code can do with them.
//!
//! The C type system (declarations, layouts, type names) is moonjet-ffi's; this module
//! gives it values. A cdata object is a GC object holding a C type ID and the C value
//! inline (see `GcCdata`): a number, a pointer, a whole struct or array. Two kinds of
//! cdata hold something else in their payload:
//! - a *ctype* (`ffi.typeof("int")`, printed `ctype<int>`) has type `CTypeID` and holds
//!   the ID of the type it stands for;
//! - a *reference* (type `T &`, what indexing a struct or array member of aggregate
//!   type gives) holds the address of the `T` it refers to.
//!
//! - [`conv`]: conversions between Lua values and C values, and between C types, with
//!   luajit's rules and messages; initializers of `ffi.new`.
//! - [`ops`]: what the interpreter does with cdata operands: indexing, arithmetic,
//!   comparisons, `#`, `..`, calls, `tostring`, `tonumber`.
//! - `libs::ffi` is the `ffi` library itself.
//!
//! cdata reach this module only from the interpreter's slow paths (where other
//! non-number operands go), so the number fast paths are untouched.

pub mod call;
pub mod callback;
pub mod clib;
pub mod conv;
pub mod ops;

use crate::vm::{LuaResult, State};
use moonjet_ffi::{CType, CTypeId, CTypeTable, Flags, Kind};
use moonjet_gc::object::GcCdata;
use moonjet_gc::value::itype;
use moonjet_gc::{table, GcTab, RootId, TValue};
use std::ptr::null_mut;

/// The FFI's part of a Lua state.
pub struct FfiState {
    /// Every C type this state knows (`ffi.cdef` adds to it).
    pub ctypes: CTypeTable,
    /// C type ID -> metatable given by `ffi.metatype` (a rooted table; null until the
    /// library is opened).
    metatypes: *mut GcTab,
    /// Whether any type has a metatype yet (lookups are skipped until then).
    pub(crate) has_metatypes: bool,
    /// The library's own native functions (nil until the library is opened).
    natives: Natives,
    roots: Vec<RootId>,
    /// `ffi.errno`: the C `errno` saved after the last C call (kept per state).
    pub errno: i32,
    /// The call stubs made so far.
    pub stubs: call::CallStubs,
    pub callbacks: callback::Callbacks,
    /// The metatable of C library namespaces (`ffi.C`, `ffi.load`'s results).
    pub(crate) clib_metatable: *mut GcTab,
}

/// Native functions the FFI hands out for cdata.
#[derive(Clone, Copy)]
pub struct Natives {
    /// What a call of a ctype object runs (the constructor).
    pub constructor: TValue,
    /// What a call of a C function or function pointer runs.
    pub call_c: TValue,
    /// `cb:free` and `cb:set` of callbacks.
    pub callback_free: TValue,
    pub callback_set: TValue,
}

impl Default for Natives {
    fn default() -> Natives {
        Natives {
            constructor: TValue::NIL,
            call_c: TValue::NIL,
            callback_free: TValue::NIL,
            callback_set: TValue::NIL,
        }
    }
}

impl Default for FfiState {
    fn default() -> FfiState {
        FfiState {
            ctypes: CTypeTable::new(),
            metatypes: null_mut(),
            has_metatypes: false,
            natives: Natives::default(),
            roots: Vec::new(),
            errno: 0,
            stubs: call::CallStubs::default(),
            callbacks: callback::Callbacks::default(),
            clib_metatable: null_mut(),
        }
    }
}

impl FfiState {
    /// Installs the objects the library makes when it is opened; they live as long as
    /// the state.
    pub(crate) fn install(
        &mut self,
        heap: &mut moonjet_gc::Heap,
        metatypes: *mut GcTab,
        natives: Natives,
    ) {
        self.roots.push(heap.add_root(TValue::from_tab(metatypes)));
        for f in [
            natives.constructor,
            natives.call_c,
            natives.callback_free,
            natives.callback_set,
        ] {
            self.roots.push(heap.add_root(f));
        }
        self.metatypes = metatypes;
        self.natives = natives;
    }

    /// Sets (and keeps alive) the metatable of C library namespaces.
    pub(crate) fn set_clib_metatable(&mut self, heap: &mut moonjet_gc::Heap, mt: *mut GcTab) {
        self.roots.push(heap.add_root(TValue::from_tab(mt)));
        self.clib_metatable = mt;
    }

    /// The table caching the resolved symbols of C library namespace `v` (`ffi.C`, or
    /// what `ffi.load` gave), if `v` is one.
    pub fn clib_cache(&self, v: TValue) -> Option<*mut GcTab> {
        if !v.is_udata() || self.clib_metatable.is_null() {
            return None;
        }
        let u = v.gc_ptr().cast::<moonjet_gc::GcUdata>();
        // SAFETY: a live userdata value; namespaces keep their cache as environment.
        unsafe { ((*u).metatable == self.clib_metatable).then_some((*u).env) }
    }

    pub(crate) fn natives(&self) -> &Natives {
        &self.natives
    }

    pub(crate) fn metatypes(&self) -> *mut GcTab {
        self.metatypes
    }
}

// ---- cdata objects ------------------------------------------------------------------

/// The object of a cdata value.
#[inline]
pub fn cdata_obj(v: TValue) -> *mut GcCdata {
    debug_assert!(v.is_cdata());
    v.gc_ptr().cast()
}

/// The C type of a cdata value.
#[inline]
pub fn cdata_type(v: TValue) -> CTypeId {
    // SAFETY: a cdata value points at a live cdata object.
    CTypeId(unsafe { (*cdata_obj(v)).ctypeid })
}

/// The payload of a cdata value (16-byte aligned, `size` bytes).
#[inline]
pub fn cdata_payload(v: TValue) -> *mut u8 {
    // SAFETY: a cdata value points at a live cdata object.
    unsafe { GcCdata::payload(cdata_obj(v)) }
}

/// The payload size of a cdata value.
#[inline]
pub fn cdata_size(v: TValue) -> usize {
    // SAFETY: as above.
    unsafe { (*cdata_obj(v)).size as usize }
}

/// The type a ctype object stands for (None: `v` is not a ctype object).
pub fn ctype_of_ctype_obj(v: TValue) -> Option<CTypeId> {
    if !v.is_cdata() || cdata_type(v) != CTypeId::CTYPEID {
        return None;
    }
    // SAFETY: a ctype object's payload holds its type ID (4 bytes, aligned).
    Some(CTypeId(
        unsafe { cdata_payload(v).cast::<u32>().read() } as u16
    ))
}

/// The largest payload a cdata may have (luajit's limit on C type sizes).
pub const MAX_CDATA_SIZE: usize = moonjet_ffi::SIZE_MAX as usize;

/// A new zero-filled cdata of type `id` with `size` payload bytes. Store it in a stack
/// slot before the next allocation.
pub fn new_cdata(st: &mut State, id: CTypeId, size: usize) -> LuaResult<TValue> {
    if size > MAX_CDATA_SIZE {
        return Err(st.rt_error(moonjet_ffi::error::msg::SIZE));
    }
    match st.heap.new_cdata(id.0, size) {
        Ok(c) => Ok(TValue::from_gc(c.cast(), itype::CDATA)),
        Err(_) => Err(st.memory_error()),
    }
}

/// A new ctype object standing for `id`.
pub fn new_ctype_obj(st: &mut State, id: CTypeId) -> LuaResult<TValue> {
    let v = new_cdata(st, CTypeId::CTYPEID, 4)?;
    // SAFETY: fresh payload of 4 aligned bytes.
    unsafe { cdata_payload(v).cast::<u32>().write(u32::from(id.0)) };
    Ok(v)
}

/// A new cdata holding a 64-bit integer (`123LL`, `123ULL`).
pub fn new_int64(st: &mut State, bits: u64, unsigned: bool) -> LuaResult<TValue> {
    let id = if unsigned {
        CTypeId::UINT64
    } else {
        CTypeId::INT64
    };
    let v = new_cdata(st, id, 8)?;
    // SAFETY: fresh payload of 8 aligned bytes.
    unsafe { cdata_payload(v).cast::<u64>().write(bits) };
    Ok(v)
}

/// A new cdata of a pointer or reference type holding `addr`.
pub fn new_pointer(st: &mut State, id: CTypeId, addr: usize) -> LuaResult<TValue> {
    let v = new_cdata(st, id, 8)?;
    // SAFETY: fresh payload of 8 aligned bytes.
    unsafe { cdata_payload(v).cast::<usize>().write(addr) };
    Ok(v)
}

// ---- C locations --------------------------------------------------------------------

/// A C object somewhere in memory: its type and address.
#[derive(Clone, Copy, Debug)]
pub struct Loc {
    pub ty: CTypeId,
    pub ptr: *mut u8,
}

/// The C object a cdata value stands for: its payload, or for a reference the object it
/// refers to.
pub fn cdata_loc(cts: &CTypeTable, v: TValue) -> Loc {
    let ty = cdata_type(v);
    let payload = cdata_payload(v);
    let raw = cts.get(cts.raw(ty));
    if raw.is_ref() {
        // SAFETY: a reference's payload holds the address it refers to.
        let ptr = unsafe { payload.cast::<*mut u8>().read() };
        Loc { ty: raw.child, ptr }
    } else {
        Loc { ty, ptr: payload }
    }
}

// ---- type helpers -------------------------------------------------------------------

/// The raw type (typedefs and qualifier/alignment attributes stripped) and its entry.
pub fn raw_type(cts: &CTypeTable, id: CTypeId) -> (CTypeId, &CType) {
    let raw = cts.raw(id);
    (raw, cts.get(raw))
}

/// Whether a raw type is one of luajit's 64-bit integers (`int64_t`, `uint64_t`): the
/// types whose values stay boxed cdata when read and print as `123LL`.
pub fn is_int64(ct: &CType) -> bool {
    ct.is_integer() && ct.size == 8
}

/// The ID of `T &` for `ty` (made on first use).
pub fn ref_type(st: &mut State, ty: CTypeId) -> LuaResult<CTypeId> {
    pointer_like(st, ty, Flags::REF)
}

/// The ID of `T *` for `ty` (made on first use).
pub fn pointer_type(st: &mut State, ty: CTypeId) -> LuaResult<CTypeId> {
    pointer_like(st, ty, Flags::NONE)
}

fn pointer_like(st: &mut State, ty: CTypeId, flags: Flags) -> LuaResult<CTypeId> {
    let mut ct = CType::new(Kind::Ptr, flags, ty, 8);
    ct.align_log2 = 3;
    match st.ffi.ctypes.intern(ct) {
        Ok(id) => Ok(id),
        Err(e) => Err(st.rt_error(&e.message)),
    }
}

/// Whether a location of type `id` (plus qualifiers collected on the way to it) is
/// read-only.
pub fn is_const(cts: &CTypeTable, id: CTypeId, quals: Flags) -> bool {
    (quals | cts.qualifiers(id)).contains(Flags::CONST)
}

/// The metatable `ffi.metatype` gave the type of values of type `id` (for pointers and
/// references: the type they point to), or null.
pub fn metatype(st: &State, id: CTypeId) -> *mut GcTab {
    if !st.ffi.has_metatypes {
        return null_mut();
    }
    let t = st.ffi.metatypes();
    let cts = &st.ffi.ctypes;
    let (mut raw, ct) = raw_type(cts, id);
    if ct.kind == Kind::Ptr {
        raw = cts.raw(ct.child);
    }
    // SAFETY: as above.
    unsafe { table::get_int(t, i64::from(raw.0)) }
        .as_tab()
        .unwrap_or(null_mut())
}

/// The metamethod `name` of a cdata value's metatype (nil: none). Ctype objects have
/// none: calling, indexing and printing them is the FFI's own business.
pub fn cdata_metamethod(st: &State, v: TValue, mm: moonjet_gc::MetaMethod) -> TValue {
    let mt = cdata_metatable(st, v);
    // SAFETY: null or a live metatable.
    unsafe { st.heap.metamethod(mt, mm) }
}

/// The metatable of a cdata value (see [`cdata_metamethod`]).
pub fn cdata_metatable(st: &State, v: TValue) -> *mut GcTab {
    let id = cdata_type(v);
    if id == CTypeId::CTYPEID {
        return null_mut();
    }
    metatype(st, id)
}

/// The name luajit's messages give a value: the C type name of a cdata (a reference
/// names the type it refers to), else the Lua type name.
pub fn value_type_name(cts: &CTypeTable, v: TValue) -> String {
    if v.is_cdata() {
        let id = cdata_type(v);
        let raw = cts.get(cts.raw(id));
        if raw.is_ref() {
            return cts.type_name(raw.child);
        }
        cts.type_name(id)
    } else {
        crate::vm::state::type_name(v).to_string()
    }
}
