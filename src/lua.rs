//! [`Lua`]: the handle of one Lua state, and what it owns beside the state (Rust values
//! held by Lua objects, metatables of userdata types, the interrupt ticker).

use crate::error::{Error, Result, MEMORY_MESSAGE};
use crate::raw::{self, StackArgs};
use crate::value::{Function, LuaString, Table, Value, ValueRef};
use crate::{FromLua, FromLuaMulti, IntoLua, IntoLuaMulti};
use moonjet_gc::{GcStr, RootId, TValue};
use moonjet_runtime::vm::hook::mask::INTERRUPT;
use moonjet_runtime::vm::{Config, State};
use std::any::TypeId;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Which standard libraries a [`Lua`] opens (bit flags, combined with `|`).
///
/// ```
/// use moonjet::{Lua, LuaOptions, StdLib};
/// let lua = Lua::new_with(StdLib::BASE | StdLib::STRING, LuaOptions::default()).unwrap();
/// let has_io: bool = lua.load("return io ~= nil").eval().unwrap();
/// assert!(!has_io);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StdLib(u32);

impl StdLib {
    /// The base library (`print`, `pairs`, `pcall`, `setmetatable`, ...).
    pub const BASE: StdLib = StdLib(1);
    /// `coroutine`.
    pub const COROUTINE: StdLib = StdLib(1 << 1);
    /// `table`.
    pub const TABLE: StdLib = StdLib(1 << 2);
    /// `io` (files and processes: not for untrusted code).
    pub const IO: StdLib = StdLib(1 << 3);
    /// `os` (`os.execute`, `os.remove`, `os.exit`: not for untrusted code).
    pub const OS: StdLib = StdLib(1 << 4);
    /// `string`.
    pub const STRING: StdLib = StdLib(1 << 5);
    /// `math`.
    pub const MATH: StdLib = StdLib(1 << 6);
    /// `package` and `require` (Lua modules from `package.path`).
    pub const PACKAGE: StdLib = StdLib(1 << 7);
    /// LuaJIT's `bit`.
    pub const BIT: StdLib = StdLib(1 << 8);
    /// LuaJIT's `jit` (`jit.on`, `jit.off`, `jit.status`, ...).
    pub const JIT: StdLib = StdLib(1 << 9);
    /// LuaJIT's `ffi` (raw memory and C calls: not for untrusted code).
    pub const FFI: StdLib = StdLib(1 << 10);
    /// `debug` (breaks every sandbox: not for untrusted code).
    pub const DEBUG: StdLib = StdLib(1 << 11);
    /// `package`'s loading of C code (`package.loadlib` and the C searchers); only
    /// meaningful with [`StdLib::PACKAGE`].
    pub const PACKAGE_C: StdLib = StdLib(1 << 12);
    /// No library at all.
    pub const NONE: StdLib = StdLib(0);
    /// Every library.
    pub const ALL: StdLib = StdLib((1 << 13) - 1);
    /// Everything except `io`, `os`, `package`'s C loading, `debug` and `ffi`: what a
    /// sandbox for untrusted scripts gets. (Without `io`, the base library's `dofile`
    /// and `loadfile` are left out too; `require` still finds Lua modules on
    /// `package.path`, which the host may change.)
    pub const SAFE: StdLib = StdLib(
        Self::ALL.0 & !(Self::IO.0 | Self::OS.0 | Self::PACKAGE_C.0 | Self::DEBUG.0 | Self::FFI.0),
    );
    /// mlua's name for [`StdLib::SAFE`].
    pub const ALL_SAFE: StdLib = Self::SAFE;

    /// Whether every library of `other` is in `self`.
    pub const fn contains(self, other: StdLib) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for StdLib {
    type Output = StdLib;
    fn bitor(self, rhs: StdLib) -> StdLib {
        StdLib(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for StdLib {
    fn bitor_assign(&mut self, rhs: StdLib) {
        self.0 |= rhs.0;
    }
}

impl std::ops::BitAnd for StdLib {
    type Output = StdLib;
    fn bitand(self, rhs: StdLib) -> StdLib {
        StdLib(self.0 & rhs.0)
    }
}

impl std::ops::Sub for StdLib {
    type Output = StdLib;
    /// The libraries of `self` without those of `rhs`.
    fn sub(self, rhs: StdLib) -> StdLib {
        StdLib(self.0 & !rhs.0)
    }
}

/// Settings of a new [`Lua`] beyond its libraries.
///
/// ```
/// use moonjet::{Lua, LuaOptions, StdLib};
/// let lua = Lua::new_with(StdLib::ALL, LuaOptions::default().jit(false)).unwrap();
/// let on: bool = lua.load("return (jit.status())").eval().unwrap();
/// assert!(!on);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LuaOptions {
    /// Compile hot loops with the tracing JIT (default: on, when the crate's `jit`
    /// feature is built in).
    pub jit: bool,
    /// Run a full collection at every allocation (finds missing GC roots; slow).
    /// Default: on when the environment has `MOONJET_GC_STRESS=1`.
    pub gc_stress: bool,
}

impl Default for LuaOptions {
    fn default() -> Self {
        LuaOptions {
            jit: true,
            gc_stress: Config::from_env().gc_stress,
        }
    }
}

impl LuaOptions {
    /// The defaults (same as [`Default::default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Turn the JIT on or off.
    pub fn jit(mut self, on: bool) -> Self {
        self.jit = on;
        self
    }

    /// Turn the collector's stress mode on or off.
    pub fn gc_stress(mut self, on: bool) -> Self {
        self.gc_stress = on;
        self
    }
}

/// A Lua state: globals, the collector's heap, the JIT, and the Rust values it holds.
///
/// `Lua` is a cheap handle (an `Rc`): cloning it gives another handle to the same state,
/// and every value handle ([`Table`], [`Function`], ...) keeps the state alive. It is
/// not `Send`: a state belongs to one thread.
///
/// ```
/// use moonjet::Lua;
/// let lua = Lua::new();
/// lua.globals().set("x", 20).unwrap();
/// let y: i64 = lua.load("return x * 2 + 2").eval().unwrap();
/// assert_eq!(y, 42);
/// ```
#[derive(Clone)]
pub struct Lua(pub(crate) Rc<LuaInner>);

pub(crate) struct LuaInner {
    /// The state API calls act on: `owned`, or while a Rust callback runs, the
    /// `&mut State` the interpreter handed that callback (saved and restored around it,
    /// so that each API call works through the innermost live borrow, never past it).
    state: Cell<*mut State>,
    /// The state itself (a leaked `Box`, freed by `Drop`).
    owned: *mut State,
    pub(crate) weak: Weak<LuaInner>,
    /// Rust values owned by Lua objects (callbacks, userdata): dropped by the objects'
    /// `__gc` or, for those still alive, when the state goes.
    pub(crate) owned_values: RefCell<raw::Slab>,
    /// Native helpers kept for the life of the state (see `raw`).
    pub(crate) helpers: raw::Helpers,
    /// Metatables of userdata types.
    pub(crate) userdata_metatables: RefCell<HashMap<TypeId, RootId>>,
    /// The embedder's interrupt callback.
    interrupt: RefCell<Option<InterruptCallback>>,
    ticker: RefCell<Option<Ticker>>,
    /// API calls into Lua in progress (the ticker runs only while one is).
    running: Cell<u32>,
    /// The embedder's values, by type ([`Lua::set_app_data`]).
    app_data: RefCell<HashMap<TypeId, Box<dyn std::any::Any>>>,
    /// Errors of Rust code raised in Lua as their message (a string, so that Lua code
    /// sees what it always did), by message: an API call the message reaches returns
    /// the error itself. The most recent few, since the outermost API call began.
    raised_errors: RefCell<Vec<(Box<[u8]>, Error)>>,
}

/// How many errors raised by Rust code `LuaInner::raised_errors` keeps (older ones,
/// caught by Lua code and never re-raised, reach Rust as their message only).
const MAX_RAISED_ERRORS: usize = 8;

type InterruptCallback = Rc<dyn Fn(&Lua) -> Result<()>>;

impl Drop for LuaInner {
    fn drop(&mut self) {
        // The ticker writes into the state: stop it first.
        if let Some(t) = self.ticker.get_mut().take() {
            t.stop();
        }
        // SAFETY: `owned` came from `Box::into_raw` and nothing refers to the state any
        // more (every handle holds an Rc of this value, which is being dropped).
        drop(unsafe { Box::from_raw(self.owned) });
        // Values still owned by Lua objects: their objects are gone with the heap.
        let values = std::mem::take(self.owned_values.get_mut());
        drop(values);
    }
}

/// A thread that sets the state's interrupt bit every millisecond while Lua code runs
/// from the API, so that an interrupt callback is reached from loops the interpreter
/// runs and from compiled traces (which test that byte at every loop header).
struct Ticker {
    stop: Arc<AtomicBool>,
    active: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// The interrupt byte's address, sendable to the ticker thread.
struct WordPtr(*const AtomicU8);
// SAFETY: the pointee is an atomic that outlives the thread (`Ticker::stop` joins the
// thread before the state is freed).
unsafe impl Send for WordPtr {}

impl Ticker {
    fn start(word: *const AtomicU8) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let active = Arc::new(AtomicBool::new(false));
        let (s, a, w) = (stop.clone(), active.clone(), WordPtr(word));
        let thread = std::thread::spawn(move || {
            let w = w;
            while !s.load(Ordering::Relaxed) {
                std::thread::park_timeout(Duration::from_millis(1));
                if a.load(Ordering::Relaxed) && !s.load(Ordering::Relaxed) {
                    // SAFETY: see `WordPtr`.
                    unsafe { (*w.0).fetch_or(INTERRUPT, Ordering::Relaxed) };
                }
            }
        });
        Ticker {
            stop,
            active,
            thread,
        }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.thread().unpark();
        let _ = self.thread.join();
    }
}

impl Default for Lua {
    fn default() -> Self {
        Lua::new()
    }
}

impl std::fmt::Debug for Lua {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lua({:p})", Rc::as_ptr(&self.0))
    }
}

impl Lua {
    /// A state with every standard library and the JIT on.
    pub fn new() -> Lua {
        Lua::new_with(StdLib::ALL, LuaOptions::default())
            .expect("a fresh state has room for its libraries")
    }

    /// mlua's name for [`Lua::new_with`] when `libs` includes libraries that break a
    /// sandbox (`debug`, `ffi`), for programs ported from mlua; here `new_with` opens
    /// those too, so this is the same call.
    ///
    /// # Safety
    /// Nothing beyond what the libraries chosen allow: with `ffi` or `debug`, Lua code
    /// can read and write any memory of the process, so only trusted code should run.
    ///
    /// ```
    /// use moonjet::{Lua, LuaOptions, StdLib};
    /// // SAFETY: the script is ours.
    /// let lua = unsafe { Lua::unsafe_new_with(StdLib::ALL, LuaOptions::default()) };
    /// assert!(lua.load("return ffi ~= nil or require('ffi') ~= nil").eval::<bool>().unwrap());
    /// ```
    pub unsafe fn unsafe_new_with(libs: StdLib, options: LuaOptions) -> Lua {
        Lua::new_with(libs, options).expect("a fresh state has room for its libraries")
    }

    /// A state with the libraries of `libs`, set up as `options` says.
    pub fn new_with(libs: StdLib, options: LuaOptions) -> Result<Lua> {
        let config = Config {
            gc_stress: options.gc_stress,
            ..Config::from_env()
        };
        let mut st = State::without_libs(config);
        if let Err(e) = open_libs(&mut st, libs) {
            let _ = e;
            let v = st.error_value();
            return Err(error_from_value(&mut st, v));
        }
        #[cfg(feature = "jit")]
        if options.jit {
            st.set_jit(Box::new(moonjet_jit::engine::Engine::new()));
        }
        #[cfg(not(feature = "jit"))]
        let _ = options.jit;
        let helpers = match raw::Helpers::new(&mut st) {
            Ok(h) => h,
            Err(_) => {
                let v = st.error_value();
                return Err(error_from_value(&mut st, v));
            }
        };
        let owned = Box::into_raw(st);
        let inner = Rc::new_cyclic(|weak| LuaInner {
            state: Cell::new(owned),
            owned,
            weak: weak.clone(),
            owned_values: RefCell::new(raw::Slab::default()),
            helpers,
            userdata_metatables: RefCell::new(HashMap::new()),
            interrupt: RefCell::new(None),
            ticker: RefCell::new(None),
            running: Cell::new(0),
            app_data: RefCell::new(HashMap::new()),
            raised_errors: RefCell::new(Vec::new()),
        });
        let lua = Lua(inner);
        lua.helpers_attach();
        Ok(lua)
    }

    /// The state the current API call works on (see `LuaInner::state`).
    ///
    /// Callers keep the borrow short: it must not be alive across a call into user code
    /// or into anything else that calls `st()` (each such call re-borrows from the same
    /// pointer).
    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    pub(crate) fn st(&self) -> &mut State {
        // SAFETY: the pointer is the owned state or the innermost live `&mut State` of
        // a running callback; `Lua` is not Send, and API calls use it one at a time.
        unsafe { &mut *self.0.state.get() }
    }

    /// Run `f` with `st` (the `&mut State` the interpreter gave a native function) as
    /// the state API calls work on, restoring the previous one afterwards.
    pub(crate) fn with_callback_state<R>(&self, st: *mut State, f: impl FnOnce() -> R) -> R {
        struct Restore<'a>(&'a Cell<*mut State>, *mut State);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.set(self.1);
            }
        }
        let prev = self.0.state.replace(st);
        let _restore = Restore(&self.0.state, prev);
        f()
    }

    /// The handle of the `Lua` owning `inner` (a strong count, taken from the weak
    /// self-reference: valid while the state runs, which needs the `Lua` alive).
    pub(crate) fn from_inner(inner: &Weak<LuaInner>) -> Option<Lua> {
        inner.upgrade().map(Lua)
    }

    /// As [`Lua::from_inner`] for a callback's run, without taking a count: Lua code
    /// runs only inside an API call, whose caller holds a handle (a `Lua`, or a value
    /// holding one) until the call returns, so the `Lua` outlives the callback. `None`
    /// while the `Lua` is being dropped (finalizers run then).
    pub(crate) fn borrowed_from_inner(inner: &Weak<LuaInner>) -> Option<ManuallyDrop<Lua>> {
        if inner.strong_count() == 0 {
            return None;
        }
        // SAFETY: a strong count exists, so the allocation is live; the handle is never
        // dropped, so it never gives back the count it did not take (its clones take
        // their own).
        Some(ManuallyDrop::new(Lua(unsafe {
            Rc::from_raw(inner.as_ptr())
        })))
    }

    pub(crate) fn same_state(&self, other: &Lua) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    fn helpers_attach(&self) {
        let ptr = Rc::as_ptr(&self.0);
        raw::attach_inner(self.st(), &self.0.helpers, ptr);
    }

    // ---- values and handles ------------------------------------------------------------

    /// The global environment table (`_G`).
    pub fn globals(&self) -> Table {
        let g = self.st().globals;
        Table(ValueRef::new(self, TValue::from_tab(g)))
    }

    /// A new empty table.
    pub fn create_table(&self) -> Result<Table> {
        self.create_table_with_capacity(0, 0)
    }

    /// A new empty table with room for `narr` array items and `nrec` other fields.
    pub fn create_table_with_capacity(&self, narr: usize, nrec: usize) -> Result<Table> {
        let st = self.st();
        let hbits = if nrec == 0 {
            0
        } else {
            (usize::BITS - (nrec - 1).leading_zeros()).min(26)
        };
        let t = st
            .heap
            .new_table(narr.min(1 << 26) as u32, hbits)
            .map_err(|_| Error::Memory)?;
        Ok(Table(ValueRef::new(self, TValue::from_tab(t))))
    }

    /// A new table with the given fields.
    ///
    /// ```
    /// # let lua = moonjet::Lua::new();
    /// let t = lua.create_table_from([("a", 1), ("b", 2)]).unwrap();
    /// assert_eq!(t.get::<i32>("b").unwrap(), 2);
    /// ```
    pub fn create_table_from<K: IntoLua, V: IntoLua>(
        &self,
        iter: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Table> {
        let t = self.create_table()?;
        for (k, v) in iter {
            t.raw_set(k, v)?;
        }
        Ok(t)
    }

    /// A new table with the values as its sequence `1..=n`.
    pub fn create_sequence_from<V: IntoLua>(
        &self,
        iter: impl IntoIterator<Item = V>,
    ) -> Result<Table> {
        let t = self.create_table()?;
        for (i, v) in iter.into_iter().enumerate() {
            t.raw_set(i as f64 + 1.0, v)?;
        }
        Ok(t)
    }

    /// A Lua string with these bytes (any bytes, not only UTF-8).
    pub fn create_string(&self, s: impl AsRef<[u8]>) -> Result<LuaString> {
        let v = self
            .st()
            .heap
            .new_string(s.as_ref())
            .map_err(|_| Error::Memory)?;
        Ok(LuaString(ValueRef::new(self, v)))
    }

    /// A Lua function that runs `func`. Its arguments are converted to `A` (a tuple,
    /// a single value, or [`Variadic`](crate::Variadic)); a failed conversion is a Lua
    /// error "bad argument #n: ...". An `Err` it returns is raised as a Lua error (the
    /// message of [`Error::Runtime`] as it is), and a panic in it is caught and raised
    /// as a Lua error; the state stays usable.
    ///
    /// ```
    /// # let lua = moonjet::Lua::new();
    /// let add = lua.create_function(|_, (a, b): (i64, i64)| Ok(a + b)).unwrap();
    /// lua.globals().set("add", add).unwrap();
    /// assert_eq!(lua.load("return add(2, 3)").eval::<i64>().unwrap(), 5);
    /// ```
    pub fn create_function<A, R, F>(&self, func: F) -> Result<Function>
    where
        A: FromLuaMulti,
        R: IntoLuaMulti,
        F: Fn(&Lua, A) -> Result<R> + 'static,
    {
        raw::create_callback(
            self,
            Box::new(move |lua, args| {
                // SAFETY: the arguments of the running callback.
                let a = unsafe { A::from_stack_multi(args, lua)? };
                func(lua, a)?.push_into_stack_multi(lua)
            }),
        )
    }

    /// As [`Lua::create_function`] for a closure that needs `&mut` access to what it
    /// captured. Calling it again while it runs (from Lua code it calls) is an error.
    pub fn create_function_mut<A, R, F>(&self, func: F) -> Result<Function>
    where
        A: FromLuaMulti,
        R: IntoLuaMulti,
        F: FnMut(&Lua, A) -> Result<R> + 'static,
    {
        let func = raw::MutCallback::new(func);
        self.create_function(move |lua, a: A| func.call(lua, a))
    }

    /// A coroutine running `func` (started by [`Thread::resume`](crate::Thread::resume)).
    pub fn create_thread(&self, func: Function) -> Result<crate::Thread> {
        let start = raw::stack_offset(self.st());
        let r = (|| {
            let create = self.st().heap.root(self.0.helpers.co_create);
            raw::push(self.st(), create)?;
            (&func).push_into_stack(self)?;
            self.pcall_top(1)?;
            let st = self.st();
            let th = StackArgs::new(st.l, start, 1, None).get(0);
            Ok(crate::Thread(ValueRef::new(self, th)))
        })();
        raw::set_stack_offset(self.st(), start);
        r
    }

    /// Load a chunk (Lua source or a binary chunk of `string.dump`/`-b`); run it or
    /// turn it into a function with the [`Chunk`](crate::Chunk)'s methods.
    pub fn load<'a>(&'a self, chunk: impl crate::chunk::AsChunk<'a>) -> crate::Chunk<'a> {
        crate::Chunk::new(self, chunk.source())
    }

    /// Convert a Rust value to a Lua value.
    pub fn pack(&self, v: impl IntoLua) -> Result<Value> {
        v.into_lua(self)
    }

    /// Convert a Lua value to a Rust value.
    pub fn unpack<T: FromLua>(&self, v: Value) -> Result<T> {
        T::from_lua(v, self)
    }

    // ---- registry ----------------------------------------------------------------------

    /// Keep `v` alive for Rust: it survives collections until the key is removed or
    /// dropped.
    ///
    /// ```
    /// # let lua = moonjet::Lua::new();
    /// let t = lua.create_table().unwrap();
    /// t.set("n", 7).unwrap();
    /// let key = lua.create_registry_value(t).unwrap();
    /// lua.load("collectgarbage()").exec().unwrap();
    /// let t: moonjet::Table = lua.registry_value(&key).unwrap();
    /// assert_eq!(t.get::<i32>("n").unwrap(), 7);
    /// lua.remove_registry_value(key).unwrap();
    /// ```
    pub fn create_registry_value(&self, v: impl IntoLua) -> Result<RegistryKey> {
        let v = v.into_lua(self)?;
        let tv = self.tv_from_value(&v)?;
        Ok(RegistryKey(ValueRef::new(self, tv)))
    }

    /// The value kept under `key`, converted to `T`.
    pub fn registry_value<T: FromLua>(&self, key: &RegistryKey) -> Result<T> {
        if !self.same_state(&key.0.lua) {
            return Err(Error::MismatchedRegistryKey);
        }
        // SAFETY: rooted by the key.
        unsafe { T::from_tvalue(key.0.tv(), self) }
    }

    /// Replace the value kept under `key`.
    pub fn replace_registry_value(&self, key: &RegistryKey, v: impl IntoLua) -> Result<()> {
        if !self.same_state(&key.0.lua) {
            return Err(Error::MismatchedRegistryKey);
        }
        let v = v.into_lua(self)?;
        let tv = self.tv_from_value(&v)?;
        self.st().heap.set_root(key.0.root, tv);
        Ok(())
    }

    /// Stop keeping the value of `key` alive (as dropping the key does).
    pub fn remove_registry_value(&self, key: RegistryKey) -> Result<()> {
        if !self.same_state(&key.0.lua) {
            return Err(Error::MismatchedRegistryKey);
        }
        drop(key);
        Ok(())
    }

    /// Whether `key` was made by this state.
    pub fn owns_registry_value(&self, key: &RegistryKey) -> bool {
        self.same_state(&key.0.lua)
    }

    /// Set `registry[name] = v` in the Lua registry (shared with Lua's `debug.getregistry`).
    pub fn set_named_registry_value(&self, name: &str, v: impl IntoLua) -> Result<()> {
        let reg = Table(ValueRef::new(self, TValue::from_tab(self.st().registry)));
        reg.raw_set(name, v)
    }

    /// `registry[name]`, converted to `T`.
    pub fn named_registry_value<T: FromLua>(&self, name: &str) -> Result<T> {
        let reg = Table(ValueRef::new(self, TValue::from_tab(self.st().registry)));
        reg.raw_get(name)
    }

    // ---- application data -------------------------------------------------------------

    /// Keep a value of the embedder's with the state, one per type (callbacks reach it
    /// through their `&Lua`); returns the previous value of that type.
    ///
    /// ```
    /// # let lua = moonjet::Lua::new();
    /// struct Hits(u32);
    /// lua.set_app_data(Hits(0));
    /// let hit = lua.create_function(|lua, ()| {
    ///     let mut h = lua.app_data_mut::<Hits>().unwrap();
    ///     h.0 += 1;
    ///     Ok(h.0)
    /// }).unwrap();
    /// hit.call::<u32>(()).unwrap();
    /// assert_eq!(hit.call::<u32>(()).unwrap(), 2);
    /// assert_eq!(lua.app_data_ref::<Hits>().unwrap().0, 2);
    /// ```
    ///
    /// # Panics
    /// If the value of that type is borrowed (as a `RefCell` would).
    pub fn set_app_data<T: 'static>(&self, data: T) -> Option<T> {
        let mut map = self.0.app_data.borrow_mut();
        if let Some(cell) = map
            .get(&TypeId::of::<T>())
            .and_then(|b| b.downcast_ref::<RefCell<T>>())
        {
            // Replacing a borrowed value would free what the borrow points at.
            let mut old = cell.borrow_mut();
            return Some(std::mem::replace(&mut *old, data));
        }
        map.insert(TypeId::of::<T>(), Box::new(RefCell::new(data)))
            .and_then(|old| old.downcast::<RefCell<T>>().ok())
            .map(|cell| cell.into_inner())
    }

    /// The embedder's value of type `T`, borrowed (`None` if there is none, or if it is
    /// borrowed mutably).
    pub fn app_data_ref<T: 'static>(&self) -> Option<std::cell::Ref<'_, T>> {
        let map = self.0.app_data.borrow();
        let cell = map.get(&TypeId::of::<T>())?.downcast_ref::<RefCell<T>>()?;
        // SAFETY: the cell is boxed, so it stays put while the map changes; only
        // `remove_app_data` takes a box out, and not while its value is borrowed
        // (`set_app_data` replaces the value inside the cell), so the cell outlives
        // the guard.
        let cell: &RefCell<T> = unsafe { &*(cell as *const RefCell<T>) };
        drop(map);
        cell.try_borrow().ok()
    }

    /// The embedder's value of type `T`, borrowed mutably (`None` if there is none, or if
    /// it is borrowed).
    pub fn app_data_mut<T: 'static>(&self) -> Option<std::cell::RefMut<'_, T>> {
        let map = self.0.app_data.borrow();
        let cell = map.get(&TypeId::of::<T>())?.downcast_ref::<RefCell<T>>()?;
        // SAFETY: as in `app_data_ref`.
        let cell: &RefCell<T> = unsafe { &*(cell as *const RefCell<T>) };
        drop(map);
        cell.try_borrow_mut().ok()
    }

    /// Take the embedder's value of type `T` out of the state (`None` if there is none
    /// or it is borrowed).
    pub fn remove_app_data<T: 'static>(&self) -> Option<T> {
        let mut map = self.0.app_data.borrow_mut();
        let id = TypeId::of::<T>();
        let cell = map.get(&id)?.downcast_ref::<RefCell<T>>()?;
        cell.try_borrow_mut().ok()?;
        map.remove(&id)
            .and_then(|old| old.downcast::<RefCell<T>>().ok())
            .map(|cell| cell.into_inner())
    }

    // ---- memory and collector ----------------------------------------------------------

    /// Bytes the state's heap uses.
    pub fn used_memory(&self) -> usize {
        self.st().heap.total_bytes()
    }

    /// Cap the heap at `limit` bytes (0: no limit) and return the previous cap (0 when
    /// there was none). An allocation past the cap first collects; if that does not
    /// make room, it raises a catchable "not enough memory" error (reaching Rust as
    /// [`Error::Memory`]), and the state stays usable.
    ///
    /// ```
    /// # let lua = moonjet::Lua::new();
    /// lua.set_memory_limit(lua.used_memory() + 100_000).unwrap();
    /// let r = lua.load("local t = {} for i = 1, 1e7 do t[i] = i end").exec();
    /// assert!(matches!(r, Err(moonjet::Error::Memory)));
    /// lua.set_memory_limit(0).unwrap();
    /// lua.load("local t = {} for i = 1, 1e5 do t[i] = i end").exec().unwrap();
    /// ```
    pub fn set_memory_limit(&self, limit: usize) -> Result<usize> {
        let heap = &mut self.st().heap;
        let old = heap.limit();
        heap.set_limit(if limit == 0 { usize::MAX } else { limit });
        Ok(if old == usize::MAX { 0 } else { old })
    }

    /// Run a full collection cycle (and the finalizers it makes due).
    pub fn gc_collect(&self) -> Result<()> {
        let st = self.st();
        st.heap.full_gc();
        st.run_finalizers();
        Ok(())
    }

    /// Run one incremental step of the collector; true if it finished a cycle.
    pub fn gc_step(&self) -> Result<bool> {
        self.gc_step_kbytes(0)
    }

    /// Run a step of the collector as `collectgarbage("step", kbytes)` does; true if it
    /// finished a cycle.
    pub fn gc_step_kbytes(&self, kbytes: u32) -> Result<bool> {
        let st = self.st();
        let done = st.heap.step_kb(kbytes as f64);
        st.run_finalizers();
        Ok(done)
    }

    /// Stop the collector (allocation goes on; the memory limit still holds).
    pub fn gc_stop(&self) {
        self.st().heap.stop();
    }

    /// Restart the collector after [`Lua::gc_stop`].
    pub fn gc_restart(&self) {
        self.st().heap.restart();
    }

    // ---- interrupts --------------------------------------------------------------------

    /// Have `callback` called periodically (about every millisecond) while Lua code runs
    /// from this API: at loop back-edges and calls of interpreted code, and at the loop
    /// headers of code the JIT compiled. `Ok(())` lets the code go on; an `Err` stops it
    /// with that error (raised in Lua, so `pcall` in the script can catch it).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// # let lua = moonjet::Lua::new();
    /// let deadline = Instant::now() + Duration::from_millis(50);
    /// lua.set_interrupt(move |_| {
    ///     if Instant::now() > deadline {
    ///         return Err(moonjet::Error::runtime("time is up"));
    ///     }
    ///     Ok(())
    /// });
    /// let r = lua.load("while true do end").exec();
    /// assert!(r.unwrap_err().to_string().contains("time is up"));
    /// ```
    pub fn set_interrupt<F>(&self, callback: F)
    where
        F: Fn(&Lua) -> Result<()> + 'static,
    {
        *self.0.interrupt.borrow_mut() = Some(Rc::new(callback));
        let weak = self.0.weak.clone();
        let handler: moonjet_runtime::vm::InterruptFn = Box::new(move |st: &mut State| {
            let Some(lua) = Lua::from_inner(&weak) else {
                return Ok(());
            };
            let Some(cb) = lua.0.interrupt.borrow().clone() else {
                return Ok(());
            };
            let sp: *mut State = st;
            let r = lua.with_callback_state(sp, || raw::catch_panic(|| cb(&lua)));
            match r {
                Ok(()) => Ok(()),
                // SAFETY: `sp` is `st`, whose borrows by the callback have ended.
                // Not wrapped as a callback's error: it stops the script, as mlua's does.
                Err(e) => Err(raw::raise(&lua, unsafe { &mut *sp }, e)),
            }
        });
        let st = self.st();
        st.set_interrupt_handler(Some(handler));
        let mut ticker = self.0.ticker.borrow_mut();
        if ticker.is_none() {
            let word = st.hook.interrupt_word() as *const AtomicU8;
            let t = Ticker::start(word);
            t.active.store(self.0.running.get() > 0, Ordering::Relaxed);
            *ticker = Some(t);
        }
    }

    /// Remove the interrupt callback.
    pub fn remove_interrupt(&self) {
        *self.0.interrupt.borrow_mut() = None;
        self.st().set_interrupt_handler(None);
        if let Some(t) = self.0.ticker.borrow_mut().take() {
            t.stop();
        }
        self.st().clear_interrupt();
    }

    // ---- calls (crate-internal) --------------------------------------------------------

    /// Bracket API calls into Lua: the ticker runs while the outermost one does.
    pub(crate) fn enter(&self) {
        let n = self.0.running.get();
        self.0.running.set(n + 1);
        if n == 0 {
            // Errors of an earlier call that Lua code caught are no longer wanted.
            let mut raised = self.0.raised_errors.borrow_mut();
            if !raised.is_empty() {
                raised.clear();
            }
            drop(raised);
            if let Some(t) = self.0.ticker.borrow().as_ref() {
                t.active.store(true, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn leave(&self) {
        let n = self.0.running.get() - 1;
        self.0.running.set(n);
        if n == 0 {
            if let Some(t) = self.0.ticker.borrow().as_ref() {
                t.active.store(false, Ordering::Relaxed);
                self.st().clear_interrupt();
            }
        }
    }

    /// Call the function below the top `nargs` slots in protected mode; on success the
    /// results replace it and the arguments, and their count is returned. A string error
    /// gets the traceback of where it was raised (recorded by the runtime only when an
    /// error happens).
    pub(crate) fn pcall_top(&self, nargs: usize) -> Result<usize> {
        let st = self.st();
        // SAFETY: the function and its arguments are the top slots.
        let func_off = unsafe { st.top().sub(nargs + 1).offset_from((*st.l).stack) };
        self.enter();
        let r = st.pcall_traced(nargs, moonjet_runtime::vm::MULTRET);
        self.leave();
        let st = self.st();
        match r {
            // SAFETY: the results sit from the function's slot to `top`.
            Ok(()) => Ok((unsafe { st.top().offset_from((*st.l).stack) } - func_off) as usize),
            Err(e) => {
                let traceback = st.take_caught_traceback(e);
                Err(self.error_from_caught(e, traceback))
            }
        }
    }

    /// The `Error` for error value `v` caught by an API call (with `traceback`, the
    /// stack where it was raised, if known): the error itself if Rust code raised it,
    /// else [`Error::Memory`] or [`Error::Runtime`].
    pub(crate) fn error_from_caught(&self, v: TValue, traceback: Option<Vec<u8>>) -> Error {
        let Some(s) = v.as_str() else {
            return error_from_value(self.st(), v);
        };
        // SAFETY: a live string (the error value is rooted by the state, or on its stack).
        let b = unsafe { GcStr::bytes(s) };
        if b == MEMORY_MESSAGE.as_bytes() {
            return Error::Memory;
        }
        if let Some(e) = self.take_raised_error(b) {
            return e;
        }
        let mut message = std::string::String::from_utf8_lossy(b).into_owned();
        if let Some(tb) = traceback {
            message.push('\n');
            message.push_str(&std::string::String::from_utf8_lossy(&tb));
        }
        Error::Runtime(message)
    }

    /// Keep `e`, raised in Lua as the string `message`, for the API call it may reach.
    pub(crate) fn remember_raised_error(&self, message: &[u8], e: Error) {
        let mut raised = self.0.raised_errors.borrow_mut();
        // The newest error with a given message is the one that message stands for.
        raised.retain(|(m, _)| **m != *message);
        if raised.len() >= MAX_RAISED_ERRORS {
            raised.remove(0);
        }
        raised.push((message.into(), e));
    }

    /// The error Rust code raised as the string `message`, if one was (and is kept).
    fn take_raised_error(&self, message: &[u8]) -> Option<Error> {
        let mut raised = self.0.raised_errors.borrow_mut();
        let i = raised.iter().rposition(|(m, _)| **m == *message)?;
        Some(raised.remove(i).1)
    }

    /// Call `f` with `args`, converting its results to `R` (the work of
    /// [`Function::call`]).
    pub(crate) fn call_value<R: FromLuaMulti>(
        &self,
        f: TValue,
        args: impl IntoLuaMulti,
    ) -> Result<R> {
        let st = self.st();
        let start = raw::stack_offset(st);
        st.check_stack(1).map_err(|_| self.take_error())?;
        raw::push(st, f)?;
        let n = match args.push_into_stack_multi(self) {
            Ok(n) => n,
            Err(e) => {
                raw::set_stack_offset(self.st(), start);
                return Err(e);
            }
        };
        let nres = self.pcall_top(n)?;
        let l = self.st().l;
        // SAFETY: the results sit on the stack until it is reset below.
        let r = unsafe { R::from_stack_multi(StackArgs::new(l, start, nres, None), self) };
        raw::set_stack_offset(self.st(), start);
        r
    }

    /// The error a failed runtime call left (its error value, converted).
    pub(crate) fn take_error(&self) -> Error {
        let st = self.st();
        let v = st.error_value();
        error_from_value(st, v)
    }

    // ---- conversions between `Value` and raw values -------------------------------------

    /// The `Value` of a raw value (handles get a root of their own).
    pub(crate) fn value_from_tv(&self, v: TValue) -> Value {
        use crate::value::{AnyUserData, CData, LightUserData, Thread};
        if v.is_number() {
            return Value::Number(v.num());
        }
        if v.is_nil() {
            return Value::Nil;
        }
        if v.is_bool() {
            return Value::Boolean(v.is_truthy());
        }
        if v.is_lightud() {
            return Value::LightUserData(LightUserData(v.payload() as *mut std::ffi::c_void));
        }
        let r = ValueRef::new(self, v);
        if v.is_str() {
            Value::String(LuaString(r))
        } else if v.is_tab() {
            Value::Table(Table(r))
        } else if v.is_func() {
            Value::Function(Function(r))
        } else if v.is_udata() {
            Value::UserData(AnyUserData(r))
        } else if v.is_thread() {
            Value::Thread(Thread(r))
        } else {
            Value::CData(CData(r))
        }
    }

    /// The raw value of a `Value` (alive while the `Value` is).
    pub(crate) fn tv_from_value(&self, v: &Value) -> Result<TValue> {
        Ok(match v {
            Value::Nil => TValue::NIL,
            Value::Boolean(b) => TValue::from_bool(*b),
            Value::LightUserData(p) => {
                let bits = p.0 as u64;
                if bits > moonjet_gc::value::PAYLOAD_MASK {
                    return Err(Error::ToLuaConversionError {
                        from: "LightUserData".into(),
                        to: "lightuserdata",
                        message: Some("pointer out of the 47-bit range".into()),
                    });
                }
                TValue::from_lightud_payload(bits)
            }
            Value::Integer(i) => TValue::from_f64(crate::conv::exact_f64(*i as i128, "i64")?),
            Value::Number(n) => TValue::from_f64(*n),
            Value::String(s) => self.checked_tv(&s.0)?,
            Value::Table(t) => self.checked_tv(&t.0)?,
            Value::Function(f) => self.checked_tv(&f.0)?,
            Value::Thread(t) => self.checked_tv(&t.0)?,
            Value::UserData(u) => self.checked_tv(&u.0)?,
            Value::CData(c) => self.checked_tv(&c.0)?,
        })
    }

    fn checked_tv(&self, r: &ValueRef) -> Result<TValue> {
        if !self.same_state(&r.lua) {
            return Err(Error::runtime("a value of another Lua state was passed"));
        }
        Ok(r.tv())
    }

    /// Push a `Value` on the running thread's stack.
    pub(crate) fn push_value(&self, v: &Value) -> Result<()> {
        let tv = self.tv_from_value(v)?;
        raw::push(self.st(), tv)
    }
}

/// A value kept alive for Rust by [`Lua::create_registry_value`]; dropping the key (or
/// [`Lua::remove_registry_value`]) lets it go.
pub struct RegistryKey(pub(crate) ValueRef);

impl std::fmt::Debug for RegistryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RegistryKey({:?})", self.0.root)
    }
}

/// Open the libraries of `libs` (`package` last, as it lists the others).
fn open_libs(st: &mut State, libs: StdLib) -> moonjet_runtime::vm::LuaResult<()> {
    use moonjet_runtime::libs;
    type Opener = fn(&mut State) -> moonjet_runtime::vm::LuaResult<()>;
    let openers: [(StdLib, Opener); 11] = [
        (StdLib::BASE, libs::base::open),
        (StdLib::COROUTINE, libs::coroutine::open),
        (StdLib::STRING, libs::string::open),
        (StdLib::TABLE, libs::table::open),
        (StdLib::MATH, libs::math::open),
        (StdLib::IO, libs::io::open),
        (StdLib::DEBUG, libs::debug::open),
        (StdLib::JIT, libs::jit::open),
        (StdLib::BIT, libs::bit::open),
        (StdLib::OS, libs::os::open),
        (StdLib::PACKAGE, libs::package::open),
    ];
    for (lib, open) in openers {
        if libs.contains(lib) {
            open(st)?;
        }
    }
    if libs.contains(StdLib::FFI) {
        libs::ffi::open(st)?;
    }
    if libs.contains(StdLib::PACKAGE) && !libs.contains(StdLib::PACKAGE_C) {
        remove_c_loading(st)?;
    }
    if libs.contains(StdLib::BASE) && !libs.contains(StdLib::IO) {
        // Without io there is no file access: the base library's goes too.
        st.set_global(b"dofile", TValue::NIL)?;
        st.set_global(b"loadfile", TValue::NIL)?;
    }
    Ok(())
}

/// Take `package.loadlib`, `package.cpath` and the C searchers out of `package`.
fn remove_c_loading(st: &mut State) -> moonjet_runtime::vm::LuaResult<()> {
    let pkg = st.get_global(b"package")?;
    let Some(pkg) = pkg.as_tab() else {
        return Ok(());
    };
    st.push(TValue::from_tab(pkg))?;
    st.raw_set_str(pkg, b"loadlib", TValue::NIL)?;
    st.raw_set_str(pkg, b"cpath", TValue::NIL)?;
    let k = st.new_str(b"loaders")?;
    // SAFETY: live table and key.
    let loaders = unsafe { moonjet_gc::table::get(pkg, k) };
    if let Some(l) = loaders.as_tab() {
        // The preload and Lua-file searchers stay; the C ones (3 and 4) go.
        st.raw_set(l, TValue::from_f64(4.0), TValue::NIL)?;
        st.raw_set(l, TValue::from_f64(3.0), TValue::NIL)?;
    }
    st.pop(1);
    Ok(())
}

/// The `Error` for an error value that reached the API.
pub(crate) fn error_from_value(st: &mut State, v: TValue) -> Error {
    if let Some(s) = v.as_str() {
        // SAFETY: a live string (the error value is rooted by the state).
        let b = unsafe { GcStr::bytes(s) };
        if b == MEMORY_MESSAGE.as_bytes() {
            return Error::Memory;
        }
        return Error::Runtime(std::string::String::from_utf8_lossy(b).into_owned());
    }
    let text = st.display_value(v);
    Error::Runtime(std::string::String::from_utf8_lossy(&text).into_owned())
}
