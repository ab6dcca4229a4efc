//! The unsafe layer under the API: Rust values owned by Lua objects, the trampoline that
//! runs Rust closures as native functions, raw stack access, and the natives the API
//! keeps for table access with metamethods.
//!
//! Invariants this module keeps:
//! - A Rust value owned by Lua lives in the `Slab` of its `LuaInner`; the userdata that
//!   owns it carries a [`RustPayload`] pointing at it, marked by a `udtype` only this
//!   module sets (so Lua code cannot forge one: `newproxy` and io files have others).
//! - The payload's pointer is cleared before the value is dropped, so a later access
//!   finds nothing instead of freed memory; a value that is borrowed is never dropped
//!   (an explicit `__gc` call on it fails), and a running callback holds an `Rc` of
//!   itself, so its closure outlives the call whatever Lua does meanwhile.

use crate::error::{Error, Result};
use crate::lua::{Lua, LuaInner};
use crate::value::{Function, ValueRef};
use moonjet_gc::value::itype;
use moonjet_gc::{GcThread, GcUdata, RootId, TValue};
use moonjet_runtime::vm::{LuaResult, State, Throw};
use std::any::{Any, TypeId};
use std::cell::{RefCell, RefMut};
use std::ptr::NonNull;
use std::rc::{Rc, Weak};

/// `GcUdata::udtype` of userdata made by [`Lua::create_userdata`](crate::Lua).
pub(crate) const UDTYPE_RUST_USERDATA: u8 = 0xE1;
/// `GcUdata::udtype` of the userdata holding a Rust callback.
pub(crate) const UDTYPE_RUST_CALLBACK: u8 = 0xE2;

/// A Rust value owned by a Lua object.
pub(crate) trait Owned: Any {
    /// Whether it is borrowed right now (then it must not be dropped).
    fn in_use(&self) -> bool;
    fn as_any(&self) -> &dyn Any;
}

/// What a Rust-owned userdata's payload holds.
#[repr(C)]
pub(crate) struct RustPayload {
    /// The value (in the slab); `None` once dropped.
    pub(crate) value: Option<NonNull<dyn Owned>>,
    /// Its slot in the slab.
    pub(crate) slot: usize,
    /// The value's concrete type, so that a type check is one compare (no virtual call).
    pub(crate) type_id: TypeId,
}

const PAYLOAD_LEN: usize = std::mem::size_of::<RustPayload>();

// The payload sits right behind the userdata header in a 16-aligned block (gc/alloc.rs):
// it is aligned for `RustPayload` (whose `TypeId` wants 16) if the header's size is.
const _: () = assert!(
    std::mem::align_of::<RustPayload>() <= 16
        && std::mem::size_of::<GcUdata>().is_multiple_of(std::mem::align_of::<RustPayload>())
);

/// The Rust values a state's objects own, by slot.
#[derive(Default)]
pub(crate) struct Slab {
    entries: Vec<Option<Box<dyn Owned>>>,
    free: Vec<usize>,
}

impl Slab {
    fn insert(&mut self, v: Box<dyn Owned>) -> (usize, NonNull<dyn Owned>) {
        let ptr = NonNull::from(v.as_ref());
        let slot = match self.free.pop() {
            Some(i) => {
                self.entries[i] = Some(v);
                i
            }
            None => {
                self.entries.push(Some(v));
                self.entries.len() - 1
            }
        };
        (slot, ptr)
    }

    fn remove(&mut self, slot: usize) -> Option<Box<dyn Owned>> {
        let v = self.entries.get_mut(slot)?.take();
        if v.is_some() {
            self.free.push(slot);
        }
        v
    }
}

// ---- callbacks --------------------------------------------------------------------------

/// A Rust closure behind a Lua function: reads its arguments from the stack, pushes its
/// results and returns their count.
pub(crate) type CallbackFn = Box<dyn Fn(&Lua, StackArgs) -> Result<usize>>;
/// A [`CallbackFn`] that may borrow for `'a` (a scope's).
pub(crate) type ScopedCallbackFn<'a> = Box<dyn Fn(&Lua, StackArgs) -> Result<usize> + 'a>;

/// The `FnMut` closure of a callback made by a `create_function_mut` (or
/// `add_function_mut`, `add_method_mut`): Lua calls it through a shared reference, so a
/// call while it runs (from Lua code it called) is refused with an error instead of
/// taking a second `&mut` of the closure.
pub(crate) struct MutCallback<F>(RefCell<F>);

impl<F> MutCallback<F> {
    pub(crate) fn new(func: F) -> Self {
        MutCallback(RefCell::new(func))
    }

    /// The closure, unless it is running.
    pub(crate) fn get(&self) -> Result<RefMut<'_, F>> {
        self.0
            .try_borrow_mut()
            .map_err(|_| Error::runtime("mutable callback called recursively"))
    }

    /// Call the closure, unless it is running.
    pub(crate) fn call<A, R>(&self, lua: &Lua, args: A) -> Result<R>
    where
        F: FnMut(&Lua, A) -> Result<R>,
    {
        (self.get()?)(lua, args)
    }
}

pub(crate) struct Callback {
    func: CallbackFn,
    lua: Weak<LuaInner>,
}

impl Owned for Rc<Callback> {
    fn in_use(&self) -> bool {
        // A running call holds its own Rc: dropping this one is harmless.
        false
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A Lua function running `func`.
pub(crate) fn create_callback(lua: &Lua, func: CallbackFn) -> Result<Function> {
    create_callback_with_owner(lua, func).map(|(f, _)| f)
}

/// A Lua function running `func`, and the userdata owning `func` (for a scope to
/// destroy it).
pub(crate) fn create_callback_with_owner(
    lua: &Lua,
    func: CallbackFn,
) -> Result<(Function, ValueRef)> {
    let cb = Rc::new(Callback {
        func,
        lua: lua.0.weak.clone(),
    });
    let st = lua.st();
    let start = stack_offset(st);
    let r = (|| {
        let mt = st.heap.root(lua.0.helpers.owned_mt).as_tab();
        let ud = new_owned_udata(lua, st, UDTYPE_RUST_CALLBACK, Box::new(cb), mt)?;
        if st.push_native(call_callback, 1).is_err() {
            return Err(lua.take_error());
        }
        st.set_upvalue_of_top(0, ud);
        // SAFETY: the function was just pushed (above the userdata).
        let f = unsafe { *st.top().sub(1) };
        Ok((Function(ValueRef::new(lua, f)), ValueRef::new(lua, ud)))
    })();
    set_stack_offset(lua.st(), start);
    r
}

/// A new userdata of kind `udtype` owning `value`, with metatable `mt`, pushed on the
/// stack and returned.
pub(crate) fn new_owned_udata(
    lua: &Lua,
    st: &mut State,
    udtype: u8,
    value: Box<dyn Owned>,
    mt: Option<*mut moonjet_gc::GcTab>,
) -> Result<TValue> {
    let u = st
        .heap
        .new_udata(PAYLOAD_LEN, st.globals)
        .map_err(|_| Error::Memory)?;
    let v = TValue::from_gc(u.cast(), itype::UDATA);
    push(st, v)?;
    let type_id = value.as_any().type_id();
    let (slot, ptr) = lua.0.owned_values.borrow_mut().insert(value);
    // SAFETY: a fresh userdata with a payload of PAYLOAD_LEN zeroed bytes, aligned for
    // `RustPayload` (see the assertion above).
    unsafe {
        (*u).udtype = udtype;
        GcUdata::payload(u)
            .cast::<RustPayload>()
            .write(RustPayload {
                value: Some(ptr),
                slot,
                type_id,
            });
        if let Some(mt) = mt {
            st.heap.set_udata_metatable(u, mt);
        }
    }
    Ok(v)
}

/// The payload of `v` if it is a Rust-owned userdata of kind `udtype`.
pub(crate) fn rust_payload(v: TValue, udtype: u8) -> Option<*mut RustPayload> {
    if !v.is_udata() {
        return None;
    }
    let u = v.gc_ptr().cast::<GcUdata>();
    // SAFETY: a live userdata (the caller's value is rooted).
    unsafe {
        if (*u).udtype != udtype || (*u).len != PAYLOAD_LEN {
            return None;
        }
        Some(GcUdata::payload(u).cast::<RustPayload>())
    }
}

/// The Rust value a userdata of kind `udtype` owns, if it is a `T`.
///
/// # Safety
/// The reference must not outlive the userdata's value: use it only while `v` is rooted
/// and without letting Lua code run unless the value is borrowed (see the module
/// invariants).
pub(crate) unsafe fn owned_ref<'a, T: 'static>(v: TValue, udtype: u8) -> Result<&'a T> {
    let Some(p) = rust_payload(v, udtype) else {
        return Err(Error::UserDataTypeMismatch);
    };
    // SAFETY: the payload of a live Rust userdata; its pointer is live while set.
    unsafe {
        let Some(value) = (*p).value else {
            return Err(Error::UserDataDestructed);
        };
        if (*p).type_id != TypeId::of::<T>() {
            return Err(Error::UserDataTypeMismatch);
        }
        // The trait object was made from a `Box<T>`: its data pointer is the `T`.
        Ok(&*value.as_ptr().cast::<T>())
    }
}

/// Take the value out of a Rust userdata (it is destructed for Lua afterwards).
pub(crate) fn take_owned(lua: &Lua, v: TValue, udtype: u8) -> Result<Box<dyn Owned>> {
    let Some(p) = rust_payload(v, udtype) else {
        return Err(Error::UserDataTypeMismatch);
    };
    // SAFETY: as in `owned_ref`.
    unsafe {
        let Some(value) = (*p).value else {
            return Err(Error::UserDataDestructed);
        };
        if (*value.as_ptr()).in_use() {
            return Err(Error::UserDataBorrowMutError);
        }
        (*p).value = None;
        lua.0
            .owned_values
            .borrow_mut()
            .remove((*p).slot)
            .ok_or(Error::UserDataDestructed)
    }
}

/// The native behind every Rust callback: upvalue 1 holds the callback's userdata.
fn call_callback(st: &mut State) -> LuaResult<u32> {
    let ud = st.native_upvalue(0);
    // SAFETY: the reference is cloned into an Rc at once (see the module invariants).
    let cb = match unsafe { owned_ref::<Rc<Callback>>(ud, UDTYPE_RUST_CALLBACK) } {
        Ok(cb) => cb.clone(),
        Err(_) => return Err(st.throw_str(&Error::CallbackDestructed.to_string())),
    };
    let Some(lua) = Lua::borrowed_from_inner(&cb.lua) else {
        return Err(st.throw_str("the Lua state is being destroyed"));
    };
    // SAFETY: base..top are the arguments of the running native.
    let (l, start, nargs) = unsafe {
        let l = st.l;
        let base = (*l).base;
        // Read on its own: the caller has just stored `base` and `top`, and a single wide
        // load of both (which the compiler would make) waits for both stores to finish.
        let top = std::ptr::addr_of!((*l).top).read_volatile();
        (
            l,
            base.offset_from((*l).stack),
            top.offset_from(base) as usize,
        )
    };
    let sp: *mut State = st;
    let args = StackArgs::new(l, start, nargs, Some(0));
    let r = lua.with_callback_state(sp, || catch_panic(|| (cb.func)(&lua, args)));
    match r {
        Ok(n) => Ok(n as u32),
        // SAFETY: `sp` is this native's state; the callback's borrows of it have ended.
        Err(e) => Err(raise_callback_error(&lua, unsafe { &mut *sp }, e)),
    }
}

/// The `__gc` of Rust-owned userdata: drop the value (upvalue 1: the `LuaInner`).
fn finalize_owned(st: &mut State) -> LuaResult<u32> {
    let v = st.arg(1);
    let p = rust_payload(v, UDTYPE_RUST_USERDATA).or_else(|| rust_payload(v, UDTYPE_RUST_CALLBACK));
    let Some(p) = p else { return Ok(0) };
    let inner = st.native_upvalue(0);
    if !inner.is_lightud() {
        return Ok(0);
    }
    let inner = inner.payload() as *const LuaInner;
    // SAFETY: the LuaInner owns this state, so it is alive while the state runs; the
    // payload belongs to a live userdata (the argument).
    let (inner, value) = unsafe {
        let Some(value) = (*p).value else {
            return Ok(0);
        };
        if (*value.as_ptr()).in_use() {
            return Err(st.throw_str("cannot finalize a userdata that is borrowed"));
        }
        (*p).value = None;
        (
            &*inner,
            (*inner).owned_values.borrow_mut().remove((*p).slot),
        )
    };
    let Some(lua) = Lua::from_inner(&inner.weak) else {
        return Ok(0);
    };
    let sp: *mut State = st;
    let r = lua.with_callback_state(sp, || {
        catch_panic(|| {
            drop(value);
            Ok(())
        })
    });
    match r {
        Ok(()) => Ok(0),
        // SAFETY: as in `call_callback`.
        Err(e) => Err(raise_callback_error(&lua, unsafe { &mut *sp }, e)),
    }
}

/// Run `f`, turning a panic into an error (the state stays usable: every way out of
/// a callback goes through here).
pub(crate) fn catch_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<std::string::String>().cloned())
                .unwrap_or_else(|| "a non-string panic payload".into());
            Err(Error::Runtime(format!("panic in a Rust callback: {msg}")))
        }
    }
}

/// Raise `e`, returned by a Rust callback, as a Lua error: Lua code sees its message (a
/// string, as for any error), and if no Lua code catches it, the Rust caller gets it back
/// as [`Error::CallbackError`] with the traceback of where the callback was (as mlua).
pub(crate) fn raise_callback_error(lua: &Lua, st: &mut State, e: Error) -> Throw {
    if matches!(e, Error::Memory) {
        return st.memory_error();
    }
    // Made now, while the stack still shows the callback.
    let traceback = moonjet_runtime::vm::debug::traceback(st, 0);
    let e = Error::CallbackError {
        traceback: std::string::String::from_utf8_lossy(&traceback).into_owned(),
        cause: std::sync::Arc::new(e),
    };
    raise(lua, st, e)
}

/// Raise `e` as a Lua error whose value is its message, remembering `e` so that an API
/// call the error reaches returns `e` itself (see [`Lua::error_from_caught`]).
pub(crate) fn raise(lua: &Lua, st: &mut State, e: Error) -> Throw {
    if matches!(e, Error::Memory) {
        return st.memory_error();
    }
    let message = e.lua_message();
    lua.remember_raised_error(message.as_bytes(), e);
    st.throw_str(&message)
}

// ---- helpers kept by the state --------------------------------------------------------

/// Natives and tables made once per state, held in root slots.
pub(crate) struct Helpers {
    /// `function(t, k) return t[k] end`, with metamethods.
    pub(crate) index: RootId,
    /// `function(t, k, v) t[k] = v end`, with metamethods.
    pub(crate) newindex: RootId,
    /// `__gc` of Rust-owned userdata.
    pub(crate) finalizer: RootId,
    /// Metatable of callbacks' userdata: `__gc` only, protected.
    pub(crate) owned_mt: RootId,
    /// `coroutine.create`, `coroutine.resume` and `coroutine.status` (whether or not
    /// the library is open).
    pub(crate) co_create: RootId,
    pub(crate) co_resume: RootId,
    pub(crate) co_status: RootId,
}

impl Helpers {
    pub(crate) fn new(st: &mut State) -> LuaResult<Helpers> {
        let root_native = |st: &mut State, f: moonjet_runtime::vm::NativeFn, nup: u8| {
            st.push_native(f, nup)?;
            // SAFETY: just pushed.
            let v = unsafe { *st.top().sub(1) };
            let id = st.heap.add_root(v);
            st.pop(1);
            Ok::<_, moonjet_runtime::vm::Throw>((id, v))
        };
        let (index, _) = root_native(st, op_index, 0)?;
        let (newindex, _) = root_native(st, op_newindex, 0)?;
        let (finalizer, fin) = root_native(st, finalize_owned, 1)?;
        use moonjet_runtime::libs::coroutine;
        let (co_create, _) = root_native(st, coroutine::create, 0)?;
        let (co_resume, _) = root_native(st, coroutine::resume, 0)?;
        let (co_status, _) = root_native(st, coroutine::status, 0)?;
        let mt = st.new_table(0, 2)?;
        let owned_mt = st.heap.add_root(TValue::from_tab(mt));
        st.raw_set_str(mt, b"__gc", fin)?;
        st.raw_set_str(mt, b"__metatable", TValue::FALSE)?;
        Ok(Helpers {
            index,
            newindex,
            finalizer,
            owned_mt,
            co_create,
            co_resume,
            co_status,
        })
    }
}

/// Give the finalizer its `LuaInner` (known once the `Rc` exists).
pub(crate) fn attach_inner(st: &mut State, helpers: &Helpers, inner: *const LuaInner) {
    let f = st
        .heap
        .root(helpers.finalizer)
        .gc_ptr()
        .cast::<moonjet_gc::GcFunc>();
    // SAFETY: a live native closure with one upvalue; the pointer fits a light
    // userdata (user-space addresses are below 2^47, as every GC pointer is).
    unsafe {
        st.heap
            .set_native_upvalue(f, 0, TValue::from_lightud_payload(inner as u64))
    };
}

fn op_index(st: &mut State) -> LuaResult<u32> {
    let v = moonjet_runtime::vm::index(st, st.arg(1), st.arg(2))?;
    st.push(v)?;
    Ok(1)
}

fn op_newindex(st: &mut State) -> LuaResult<u32> {
    moonjet_runtime::vm::set_index(st, st.arg(1), st.arg(2), st.arg(3))?;
    Ok(0)
}

// ---- the stack ----------------------------------------------------------------------------

/// Arguments (or results) on a thread's stack, read by offset (the stack may move while
/// they are converted). Hidden: it appears only in the conversion traits' fast paths.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct StackArgs {
    l: *mut GcThread,
    start: isize,
    len: usize,
    /// For a callback's arguments: the position of the first one minus 1 (errors name
    /// the argument); `None` for results.
    arg_pos: Option<usize>,
}

impl StackArgs {
    pub(crate) fn new(l: *mut GcThread, start: isize, len: usize, arg_pos: Option<usize>) -> Self {
        StackArgs {
            l,
            start,
            len,
            arg_pos,
        }
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Value `i` (0-based; nil past the end).
    #[inline]
    pub(crate) fn get(&self, i: usize) -> TValue {
        if i < self.len {
            // SAFETY: the slots start..start+len are below the thread's top while the
            // arguments are being converted.
            unsafe { *(*self.l).stack.offset(self.start + i as isize) }
        } else {
            TValue::NIL
        }
    }

    /// The values after the first `n`.
    pub(crate) fn skip(self, n: usize) -> StackArgs {
        let n = n.min(self.len);
        StackArgs {
            l: self.l,
            start: self.start + n as isize,
            len: self.len - n,
            arg_pos: self.arg_pos.map(|p| p + n),
        }
    }

    /// `e` for value `i`, naming the argument for a callback.
    pub(crate) fn arg_error(&self, i: usize, e: Error) -> Error {
        match self.arg_pos {
            Some(p) => Error::BadArgument {
                pos: p + i + 1,
                cause: Box::new(e),
            },
            None => e,
        }
    }
}

/// The running thread's top, as an offset from its stack.
#[inline]
pub(crate) fn stack_offset(st: &State) -> isize {
    // SAFETY: the running thread is live.
    unsafe { st.top().offset_from((*st.l).stack) }
}

/// Set the running thread's top back to an offset taken by `stack_offset`.
#[inline]
pub(crate) fn set_stack_offset(st: &mut State, off: isize) {
    // SAFETY: `off` was a top of this thread, at or below the current one.
    unsafe {
        let top = (*st.l).stack.offset(off);
        st.set_top(top);
    }
}

/// Push a value, as an API error on failure (stack overflow, memory).
#[inline]
pub(crate) fn push(st: &mut State, v: TValue) -> Result<()> {
    match st.push(v) {
        Ok(()) => Ok(()),
        Err(_) => {
            let e = st.error_value();
            Err(crate::lua::error_from_value(st, e))
        }
    }
}
