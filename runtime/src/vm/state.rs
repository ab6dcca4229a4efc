//! The Lua state: the heap, the running thread, globals and registry, and the API
//! native functions use (arguments, results, errors, calls back into Lua).
//!
//! Native functions follow the Lua C API's convention: the arguments are the slots
//! `base..top` of the running thread; a function pushes its results and returns how many
//! it pushed (the last `n` slots below `top`). Errors are `Err(Throw::Error)` with the
//! error value kept in a root slot; `Throw::Yield` leaves a coroutine.

use super::frame::{self, STACK_BOTTOM};
use crate::num;
use moonjet_gc::object::{ffid, GcFuncNative};
use moonjet_gc::value::itype;
use moonjet_gc::{table, GcFunc, GcStr, GcTab, GcThread, Heap, MetaMethod, RootId, TValue};
use std::io::Write;
use std::ptr::null_mut;

pub type NativeFn = fn(&mut State) -> LuaResult<u32>;

/// Why Lua code stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throw {
    /// An error; the value is [`State::error_value`].
    Error,
    /// A coroutine yields; the values are the top `yield_count` slots.
    Yield,
}

pub type LuaResult<T> = Result<T, Throw>;

/// Slots a native function may push without asking (LUA_MINSTACK).
pub const LUA_MINSTACK: usize = 20;
/// Largest Lua stack, in slots (LUAI_MAXSTACK).
pub const MAX_STACK: usize = 65500;
/// Slots kept free above every frame for metamethod calls (LJ_STACK_EXTRA).
pub const STACK_EXTRA: usize = 8;
/// Slots granted past [`MAX_STACK`] so the error handler of a stack overflow can run.
pub const STACK_EMERGENCY: usize = 1 + 2 * LUA_MINSTACK;
/// Nesting of Rust-level calls into Lua (metamethods called by natives, sort
/// comparators, gsub callbacks, resume) before "C stack overflow".
pub const MAX_C_DEPTH: u32 = 200;
/// `nresults` for "all results".
pub const MULTRET: i32 = -1;
const START_STACK: usize = 48;

/// Fast-function ids the interpreter treats specially.
pub mod ff {
    // luajit's builtin numbers (see libs::builtin_id).
    pub const PCALL: u8 = 20;
    pub const XPCALL: u8 = 21;
    /// `next`: `ITERN` iterates tables inline when the generator is this function.
    pub const NEXT: u8 = 4;
    /// The C call of a cdata function (luajit's cdata `__call`).
    pub const FFI_CALL: u8 = 171;
    /// `cb:free` and `cb:set` of callbacks.
    pub const CALLBACK_FREE: u8 = 185;
    pub const CALLBACK_SET: u8 = 186;
}

/// The state of one Lua universe.
pub struct State {
    pub heap: Box<Heap>,
    /// The running thread.
    pub l: *mut GcThread,
    pub main: *mut GcThread,
    pub globals: *mut GcTab,
    pub registry: *mut GcTab,
    /// Metatables of non-table types, by type index ([`type_index`]).
    pub typemt: [*mut GcTab; 16],
    typemt_roots: [RootId; 16],
    /// `type`'s answers by type index, interned on first use and fixed (never
    /// collected), so that `type(v)` makes no string.
    type_names: [*mut GcStr; 16],
    /// Root slots of the objects above (permanent for the state's life).
    _roots: [RootId; 4],
    nomem: TValue,
    err_root: RootId,
    /// PC of the innermost Lua frame, saved by the interpreter before anything that may
    /// raise an error or look at the stack.
    pub savedpc: *const u32,
    /// Rust-level calls into Lua in progress.
    pub c_depth: u32,
    /// Rust-level calls since the running coroutine was resumed (yield needs 0).
    pub nny: u32,
    /// Values a yield hands over (top slots of the yielding thread).
    pub yield_count: u32,
    /// Set while an xpcall handler runs: the thread and stack offset below which xpcall
    /// frames are being handled already.
    pub(crate) handler_floor: Option<(*mut GcThread, usize)>,
    /// For each frame entered from Rust (a C link): its thread, its base as a stack
    /// offset, and the PC the Lua frame below it was at.
    pub(crate) cframe_pcs: Vec<(*mut GcThread, isize, *const u32)>,
    /// Frames called by [`State::pcall`] (thread, base as a stack offset, and whether
    /// the caller wants a traceback of the errors caught there, [`State::pcall_traced`]):
    /// errors in them are caught there, so xpcall handlers further down do not run for them.
    pub(crate) rust_pcall_bases: Vec<(*mut GcThread, isize, bool)>,
    /// The last string error a [`State::pcall_traced`] caught, with the traceback of
    /// where it was raised (see [`State::take_caught_traceback`]).
    pub(crate) caught_traceback: Option<(TValue, Vec<u8>)>,
    /// Resumption point of a `CAT` whose `__concat` returned (see frame::cont::CAT).
    pub(crate) cat_top: Option<u32>,
    /// An error a native function raised while compiled trace code called it
    /// (`interp::call_native_for_trace`): the trace left, and the interpreter raises it
    /// where the call was (the error handler has run already).
    pub trace_throw: Option<Throw>,
    /// Where `print` and `io.write` go.
    pub out: Box<dyn Write>,
    /// Scratch buffer for string building.
    pub buf: Vec<u8>,
    pub prng: crate::prng::Prng,
    /// Open files and the io library's defaults.
    pub io: crate::libs::io::IoState,
    pub(crate) running_finalizers: bool,
    /// Debug hook settings (`debug.sethook`); the function is in `hook_root`.
    pub hook: super::hook::HookState,
    pub(crate) hook_root: RootId,
    /// How the state was set up.
    pub config: Config,
    /// The JIT engine, if one is installed, and its hot counters.
    pub jit: super::jit_iface::JitState,
    /// The FFI's C types and metatypes.
    pub ffi: crate::ffi::FfiState,
    /// What an interrupt request does (see [`State::set_interrupt_handler`]).
    pub(crate) interrupt_handler: InterruptHandler,
}

/// An embedder's interrupt callback: `Err` stops the running code with that error.
pub type InterruptFn = Box<dyn FnMut(&mut State) -> LuaResult<()>>;

/// What an interrupt request does.
pub(crate) enum InterruptHandler {
    /// Raise "interrupted!" (Ctrl-C in the command).
    None,
    /// Call the embedder's callback.
    Set(InterruptFn),
    /// The callback is running (taken out while it runs): requests made meanwhile,
    /// including those seen by Lua code it calls, are dropped.
    Running,
}

/// Settings fixed when a state is made.
#[derive(Clone, Copy, Debug, Default)]
pub struct Config {
    /// Run a full collection at every allocation check (finds missing roots/barriers).
    pub gc_stress: bool,
    /// Ignore `LUA_PATH` and `LUA_CPATH` (the command's `-E`).
    pub ignore_env: bool,
}

impl Config {
    /// The defaults, with `MOONJET_GC_STRESS=1` turning on stress mode.
    pub fn from_env() -> Config {
        let gc_stress = std::env::var_os("MOONJET_GC_STRESS").is_some_and(|v| v == "1");
        Config {
            gc_stress,
            ..Config::default()
        }
    }
}

/// Index into [`State::typemt`] for a value's type.
#[inline]
pub fn type_index(v: TValue) -> usize {
    if v.is_number() {
        itype::NUMX as usize
    } else {
        v.itype() as usize & 15
    }
}

// The native-function API passes object pointers taken from values of this state's
// stack; they are live by construction (the embedding API of the root package is the
// safe layer over this).
#[allow(clippy::not_unsafe_ptr_arg_deref)]
impl State {
    /// A state with all the core libraries open. `MOONJET_GC_STRESS=1` turns on the
    /// collector's stress mode.
    pub fn new() -> Box<State> {
        State::with_config(Config::from_env())
    }

    /// A state whose collector runs a full cycle at every allocation check if `stress`.
    pub fn with_stress(stress: bool) -> Box<State> {
        State::with_config(Config {
            gc_stress: stress,
            ..Config::default()
        })
    }

    /// A state with all the core libraries open, set up as `config` says.
    pub fn with_config(config: Config) -> Box<State> {
        let mut st = State::without_libs(config);
        crate::libs::open_all(&mut st).expect("opening the standard libraries");
        st
    }

    /// A state with no library open (not even the base library), for an embedder that
    /// opens a selection of them (each `libs::*::open`; `package` after the others,
    /// since it lists the ones already open in `package.loaded`).
    pub fn without_libs(config: Config) -> Box<State> {
        let stress = config.gc_stress;
        let mut heap = Heap::with_stress(stress);
        let globals = heap.new_table(0, 6).expect("initial heap");
        let g_root = heap.add_root(TValue::from_tab(globals));
        let registry = heap.new_table(0, 2).expect("initial heap");
        let r_root = heap.add_root(TValue::from_tab(registry));
        let main = heap.new_thread(START_STACK, globals).expect("initial heap");
        let m_root = heap.add_root(TValue::from_gc(main.cast(), itype::THREAD));
        let err_root = heap.add_root(TValue::NIL);
        let nomem = heap.new_string(b"not enough memory").expect("initial heap");
        let n_root = heap.add_root(nomem);
        let typemt_roots = std::array::from_fn(|_| heap.add_root(TValue::NIL));
        let hook_root = heap.add_root(TValue::NIL);
        // SAFETY: fresh thread with START_STACK slots.
        unsafe { init_stack(main) };
        Box::new(State {
            heap,
            l: main,
            main,
            globals,
            registry,
            typemt: [null_mut(); 16],
            type_names: [null_mut(); 16],
            typemt_roots,
            _roots: [g_root, r_root, m_root, n_root],
            nomem,
            err_root,
            savedpc: std::ptr::null(),
            c_depth: 0,
            nny: 1,
            yield_count: 0,
            handler_floor: None,
            cat_top: None,
            trace_throw: None,
            cframe_pcs: Vec::new(),
            rust_pcall_bases: Vec::new(),
            caught_traceback: None,
            out: Box::new(std::io::BufWriter::new(std::io::stdout())),
            buf: Vec::new(),
            prng: crate::prng::Prng::new(),
            io: Default::default(),
            running_finalizers: false,
            hook: super::hook::HookState::new(),
            hook_root,
            config,
            jit: Default::default(),
            ffi: Default::default(),
            interrupt_handler: InterruptHandler::None,
        })
    }

    /// The name `type(v)` gives, as a string of this state.
    pub fn type_name_str(&mut self, v: TValue) -> LuaResult<*mut GcStr> {
        let i = type_index(v);
        if !self.type_names[i].is_null() {
            return Ok(self.type_names[i]);
        }
        let Ok(s) = self.heap.intern(type_name(v).as_bytes()) else {
            return Err(self.memory_error());
        };
        // SAFETY: a live string; fixed, it stays so while the cache holds it.
        unsafe { (*s).marked |= moonjet_gc::object::mark::FIXED };
        self.type_names[i] = s;
        Ok(s)
    }

    pub fn set_type_metatable(&mut self, ti: usize, mt: *mut GcTab) {
        self.typemt[ti] = mt;
        let v = if mt.is_null() {
            TValue::NIL
        } else {
            TValue::from_tab(mt)
        };
        self.heap.set_root(self.typemt_roots[ti], v);
    }

    /// The metatable of any value (null: none).
    #[inline]
    pub fn metatable_of(&self, v: TValue) -> *mut GcTab {
        // SAFETY: a value's object is live while the value is reachable.
        unsafe {
            if v.is_tab() {
                (*v.gc_ptr().cast::<GcTab>()).metatable
            } else if v.is_udata() {
                (*v.gc_ptr().cast::<moonjet_gc::GcUdata>()).metatable
            } else if v.is_cdata() {
                crate::ffi::cdata_metatable(self, v)
            } else {
                self.typemt[type_index(v)]
            }
        }
    }

    /// Metamethod `mm` of value `v` (nil: none).
    #[inline]
    pub fn metamethod(&self, v: TValue, mm: MetaMethod) -> TValue {
        let mt = self.metatable_of(v);
        // SAFETY: `mt` is null or a live table.
        unsafe { self.heap.metamethod(mt, mm) }
    }

    // ---- stack -------------------------------------------------------------------------

    #[inline(always)]
    pub fn base(&self) -> *mut TValue {
        // SAFETY: `l` is the live running thread.
        unsafe { (*self.l).base }
    }

    #[inline(always)]
    pub fn top(&self) -> *mut TValue {
        // SAFETY: as above.
        unsafe { (*self.l).top }
    }

    #[inline(always)]
    pub fn set_top(&mut self, top: *mut TValue) {
        // SAFETY: as above.
        unsafe { (*self.l).top = top }
    }

    /// Make room for `n` more slots above `top` (the stack may move).
    #[inline]
    pub fn check_stack(&mut self, n: usize) -> LuaResult<()> {
        // SAFETY: `l` is live; maxstack bounds the stack.
        unsafe {
            if (*self.l).top.add(n + STACK_EXTRA) <= (*self.l).maxstack {
                return Ok(());
            }
        }
        self.grow_stack(n)
    }

    /// After an error handler ran: give back the slots past the stack limit it may have
    /// been granted (what it pushed is gone), so that the next overflow's handler has
    /// them again.
    pub(crate) fn release_emergency_stack(&mut self) {
        let limit = MAX_STACK + STACK_EXTRA;
        // SAFETY: `l` is live; its slots in use (below `top`) fit the smaller stack.
        unsafe {
            let l = self.l;
            let used = (*l).top.offset_from((*l).stack) as usize;
            if (*l).stacksize > limit && used + STACK_EXTRA <= limit {
                // Shrinking cannot fail for want of memory in a way that matters: the
                // larger stack stays if it does.
                let _ = self.heap.resize_stack(l, limit);
            }
        }
    }

    #[cold]
    pub(crate) fn grow_stack(&mut self, n: usize) -> LuaResult<()> {
        // SAFETY: `l` is live.
        unsafe {
            let l = self.l;
            let used = (*l).top.offset_from((*l).stack) as usize;
            let need = used + n + STACK_EXTRA;
            let size = (*l).stacksize;
            if need <= size {
                return Ok(());
            }
            let limit = MAX_STACK + STACK_EXTRA;
            let emergency = limit + STACK_EMERGENCY;
            // Only the handler of an error (the overflow's, say) may go past the limit,
            // into the slots kept for it (given back when it is done).
            let cap = if self.handler_floor.is_some() {
                emergency
            } else {
                limit
            };
            if need > cap {
                return Err(self.rt_error("stack overflow"));
            }
            let new = (size * 2).max(need).min(cap);
            if self.heap.resize_stack(l, new).is_err() {
                return Err(self.memory_error());
            }
            Ok(())
        }
    }

    /// Push a value (growing the stack if needed).
    #[inline]
    pub fn push(&mut self, v: TValue) -> LuaResult<()> {
        // SAFETY: `l` is live; the check keeps `top` below maxstack.
        unsafe {
            if (*self.l).top.add(STACK_EXTRA) >= (*self.l).maxstack {
                self.grow_stack(1)?;
            }
            let top = (*self.l).top;
            *top = v;
            (*self.l).top = top.add(1);
        }
        Ok(())
    }

    /// Drop `n` values from the top.
    #[inline]
    pub fn pop(&mut self, n: usize) {
        // SAFETY: callers pop only what they pushed.
        unsafe { (*self.l).top = (*self.l).top.sub(n) }
    }

    pub fn push_num(&mut self, n: f64) -> LuaResult<()> {
        self.push(TValue::from_f64(n))
    }

    pub fn push_bool(&mut self, b: bool) -> LuaResult<()> {
        self.push(TValue::from_bool(b))
    }

    pub fn push_nil(&mut self) -> LuaResult<()> {
        self.push(TValue::NIL)
    }

    pub fn push_bytes(&mut self, b: &[u8]) -> LuaResult<()> {
        let s = self.new_str(b)?;
        self.push(s)
    }

    /// Push the scratch buffer as a string (and leave it empty).
    pub fn push_buf(&mut self) -> LuaResult<()> {
        let buf = std::mem::take(&mut self.buf);
        let r = self.push_bytes(&buf);
        self.buf = buf;
        self.buf.clear();
        r
    }

    /// An interned string. Store it on the stack before the next allocation.
    #[inline]
    pub fn new_str(&mut self, b: &[u8]) -> LuaResult<TValue> {
        match self.heap.new_string(b) {
            Ok(v) => Ok(v),
            Err(_) => Err(self.memory_error()),
        }
    }

    /// A new table; store it on the stack before the next allocation.
    pub fn new_table(&mut self, narr: u32, nhash: u32) -> LuaResult<*mut GcTab> {
        let hbits = if nhash == 0 {
            0
        } else {
            32 - (nhash - 1).leading_zeros()
        };
        match self.heap.new_table(narr, hbits.min(26)) {
            Ok(t) => Ok(t),
            Err(_) => Err(self.memory_error()),
        }
    }

    /// Push a new native closure.
    pub fn push_native(&mut self, f: NativeFn, nup: u8) -> LuaResult<*mut GcFunc> {
        self.push_native_ff(f, ffid::NATIVE, nup)
    }

    pub fn push_native_ff(&mut self, f: NativeFn, id: u8, nup: u8) -> LuaResult<*mut GcFunc> {
        let env = self.globals;
        match self
            .heap
            .new_native_closure(f as *const std::ffi::c_void, id, nup, env)
        {
            Ok(fc) => {
                self.push(TValue::from_gc(fc.cast(), itype::FUNC))?;
                Ok(fc)
            }
            Err(_) => Err(self.memory_error()),
        }
    }

    /// Upvalue `i` of the running native function.
    pub fn native_upvalue(&self, i: usize) -> TValue {
        // SAFETY: the running native's function sits at base[-2].
        unsafe {
            let f = (*self.base().sub(2)).gc_ptr().cast::<GcFunc>();
            *GcFunc::native_upvals(f).add(i)
        }
    }

    /// Set upvalue `i` of the native closure on top of the stack.
    pub fn set_upvalue_of_top(&mut self, i: usize, v: TValue) {
        // SAFETY: the top value is a native closure just pushed.
        unsafe {
            let f = (*self.top().sub(1)).gc_ptr().cast::<moonjet_gc::GcFunc>();
            self.heap.set_native_upvalue(f, i, v);
        }
    }

    pub fn set_native_upvalue(&mut self, i: usize, v: TValue) {
        // SAFETY: as above.
        unsafe {
            let f = (*self.base().sub(2)).gc_ptr().cast::<GcFunc>();
            self.heap.set_native_upvalue(f, i, v);
        }
    }

    // ---- tables --------------------------------------------------------------------------

    /// `rawset` with Lua's errors for nil/NaN keys.
    pub fn raw_set(&mut self, t: *mut GcTab, k: TValue, v: TValue) -> LuaResult<()> {
        // SAFETY: caller passes a live table.
        match unsafe { table::set(&mut self.heap, t, k, v) } {
            Ok(()) => Ok(()),
            Err(e) => Err(self.tab_error(e)),
        }
    }

    /// `t[k] = v` for a string key. `t` and `v` are anchored on the stack before the key
    /// is made (making it may collect).
    pub fn raw_set_str(&mut self, t: *mut GcTab, k: &[u8], v: TValue) -> LuaResult<()> {
        self.check_stack(3)?;
        self.push(TValue::from_tab(t))?;
        self.push(v)?;
        let key = self.new_str(k)?;
        let r = self.raw_set(t, key, v);
        let top = self.top();
        // SAFETY: the two slots just pushed.
        self.set_top(unsafe { top.sub(2) });
        r
    }

    pub fn tab_error(&mut self, e: moonjet_gc::TabError) -> Throw {
        match e {
            moonjet_gc::TabError::NilKey => self.rt_error("table index is nil"),
            moonjet_gc::TabError::NanKey => self.rt_error("table index is NaN"),
            moonjet_gc::TabError::InvalidNextKey => {
                let v = self.new_str(b"invalid key to 'next'");
                match v {
                    Ok(v) => self.throw(v),
                    Err(t) => t,
                }
            }
            moonjet_gc::TabError::Memory => self.memory_error(),
        }
    }

    // ---- arguments -----------------------------------------------------------------------

    #[inline(always)]
    pub fn nargs(&self) -> usize {
        // SAFETY: base and top are slots of the running thread, top >= base in natives.
        unsafe { self.top().offset_from(self.base()) as usize }
    }

    /// Argument `n` (1-based); nil when absent.
    #[inline(always)]
    pub fn arg(&self, n: usize) -> TValue {
        if n <= self.nargs() {
            // SAFETY: within base..top.
            unsafe { *self.base().add(n - 1) }
        } else {
            TValue::NIL
        }
    }

    #[inline]
    pub fn set_arg(&mut self, n: usize, v: TValue) {
        debug_assert!(n >= 1 && n <= self.nargs());
        // SAFETY: within base..top.
        unsafe { *self.base().add(n - 1) = v }
    }

    pub fn check_any(&mut self, n: usize) -> LuaResult<TValue> {
        if n > self.nargs() {
            return Err(self.arg_error(n, "value expected"));
        }
        Ok(self.arg(n))
    }

    /// A number argument (strings that look like numbers are converted).
    #[inline]
    pub fn check_num(&mut self, n: usize) -> LuaResult<f64> {
        let v = self.arg(n);
        if v.is_number() {
            return Ok(v.num());
        }
        self.check_num_slow(n, v)
    }

    #[cold]
    fn check_num_slow(&mut self, n: usize, v: TValue) -> LuaResult<f64> {
        if let Some(s) = v.as_str() {
            // SAFETY: a live string argument.
            if let Some(x) = num::str_to_number(unsafe { GcStr::bytes(s) }) {
                return Ok(x);
            }
        }
        Err(self.type_error(n, "number"))
    }

    pub fn opt_num(&mut self, n: usize, def: f64) -> LuaResult<f64> {
        if self.arg(n).is_nil() {
            Ok(def)
        } else {
            self.check_num(n)
        }
    }

    /// An integer argument as luajit's `lj_lib_checkint` makes it: see [`num_to_int`].
    #[inline]
    pub fn check_int(&mut self, n: usize) -> LuaResult<i32> {
        let v = self.arg(n);
        if v.is_number() {
            return Ok(num_to_int(v.num()));
        }
        Ok(num_to_int(self.check_num(n)?))
    }

    /// `lj_lib_optint`: the default when the argument is absent or nil.
    #[inline]
    pub fn opt_int(&mut self, n: usize, def: i32) -> LuaResult<i32> {
        if self.arg(n).is_nil() {
            Ok(def)
        } else {
            self.check_int(n)
        }
    }

    /// A string argument (numbers are converted in place, as the C API does).
    #[inline]
    pub fn check_str(&mut self, n: usize) -> LuaResult<*mut GcStr> {
        let v = self.arg(n);
        if let Some(s) = v.as_str() {
            return Ok(s);
        }
        self.check_str_slow(n, v)
    }

    #[cold]
    fn check_str_slow(&mut self, n: usize, v: TValue) -> LuaResult<*mut GcStr> {
        if v.is_number() {
            let s = self.number_to_str(v.num())?;
            self.set_arg(n, s);
            return Ok(s.gc_ptr().cast());
        }
        Err(self.type_error(n, "string"))
    }

    pub fn opt_str(&mut self, n: usize) -> LuaResult<Option<*mut GcStr>> {
        if self.arg(n).is_nil() {
            Ok(None)
        } else {
            self.check_str(n).map(Some)
        }
    }

    pub fn check_tab(&mut self, n: usize) -> LuaResult<*mut GcTab> {
        match self.arg(n).as_tab() {
            Some(t) => Ok(t),
            None => Err(self.type_error(n, "table")),
        }
    }

    pub fn check_func(&mut self, n: usize) -> LuaResult<*mut GcFunc> {
        let v = self.arg(n);
        if v.is_func() {
            Ok(v.gc_ptr().cast())
        } else {
            Err(self.type_error(n, "function"))
        }
    }

    pub fn number_to_str(&mut self, x: f64) -> LuaResult<TValue> {
        let mut b = std::mem::take(&mut self.buf);
        b.clear();
        num::push_num(&mut b, x);
        let r = self.new_str(&b);
        self.buf = b;
        r
    }

    // ---- errors --------------------------------------------------------------------------

    /// The value of the error being raised or just caught.
    pub fn error_value(&self) -> TValue {
        self.heap.root(self.err_root)
    }

    pub(crate) fn set_error_value(&mut self, v: TValue) {
        self.heap.set_root(self.err_root, v);
    }

    /// Raise `v` as an error. Runs the handler of the nearest enclosing `xpcall` now,
    /// while the stack still shows where the error happened.
    pub fn throw(&mut self, v: TValue) -> Throw {
        self.set_error_value(v);
        super::interp::run_error_handler(self);
        Throw::Error
    }

    /// Raise a string error without position.
    pub fn throw_str(&mut self, msg: &str) -> Throw {
        match self.new_str(msg.as_bytes()) {
            Ok(v) => self.throw(v),
            Err(t) => t,
        }
    }

    /// "not enough memory" (a string made at start-up: raising it allocates nothing).
    #[cold]
    pub fn memory_error(&mut self) -> Throw {
        let msg = self.nomem;
        self.throw(msg)
    }

    /// Raise `v` as `error(v, level)` does: strings and numbers get the position of the
    /// function at `level` prefixed; other values are raised as they are.
    pub fn throw_at_level(&mut self, v: TValue, level: usize) -> Throw {
        if !(v.is_str() || v.is_number()) || level == 0 {
            return self.throw(v);
        }
        let mut s = super::debug::where_(self, level);
        if let Some(x) = v.as_str() {
            // SAFETY: a live string value.
            s.extend_from_slice(unsafe { GcStr::bytes(x) });
        } else {
            num::push_num(&mut s, v.num());
        }
        match self.new_str(&s) {
            Ok(e) => self.throw(e),
            Err(t) => t,
        }
    }

    /// A runtime error with the position of the running Lua code: the innermost frame when
    /// the interpreter raises it, the native's caller (luaL_error's level 1) otherwise.
    pub fn rt_error(&mut self, msg: &str) -> Throw {
        let in_lua = super::debug::frame_at(self, 0).is_some_and(|f| f.is_lua());
        let mut s = super::debug::where_(self, if in_lua { 0 } else { 1 });
        s.extend_from_slice(msg.as_bytes());
        match self.new_str(&s) {
            Ok(v) => self.throw(v),
            Err(t) => t,
        }
    }

    /// "bad argument #n to 'name' (msg)".
    pub fn arg_error(&mut self, n: usize, msg: &str) -> Throw {
        let m = super::debug::arg_error_message(self, n, msg);
        self.rt_error(&m)
    }

    /// "bad argument #n to 'name' (X expected, got Y)".
    pub fn type_error(&mut self, n: usize, expected: &str) -> Throw {
        let got = if n > self.nargs() {
            "no value".to_string()
        } else {
            type_name(self.arg(n)).to_string()
        };
        self.arg_error(n, &format!("{expected} expected, got {got}"))
    }

    // ---- calls ---------------------------------------------------------------------------

    /// Call the function at `top - nargs - 1` with the `nargs` values above it; leave
    /// `nresults` results (all if [`MULTRET`]) where the function was. Not yieldable.
    pub fn call(&mut self, nargs: usize, nresults: i32) -> LuaResult<()> {
        if self.c_depth >= MAX_C_DEPTH {
            return Err(self.rt_error("C stack overflow"));
        }
        self.c_depth += 1;
        self.nny += 1;
        // SAFETY: the function and arguments are the top slots of the running thread.
        let r = unsafe {
            let func = self.top().sub(nargs + 1);
            let off = func.offset_from((*self.l).stack);
            super::interp::call_from_rust(self, func, nargs).map(|n| {
                let func = (*self.l).stack.offset(off);
                (func, n)
            })
        };
        self.c_depth -= 1;
        self.nny -= 1;
        let (func, n) = r?;
        if nresults >= 0 {
            let want = nresults as usize;
            // SAFETY: results sit at func..func+n; fill up to `want` (space was checked
            // by the call, which had at least as many slots).
            unsafe {
                for i in n..want {
                    *func.add(i) = TValue::NIL;
                }
                self.set_top(func.add(want));
            }
        }
        Ok(())
    }

    /// Call `f` with `args` and return its first result (or nil).
    pub fn call_value(&mut self, f: TValue, args: &[TValue]) -> LuaResult<TValue> {
        self.check_stack(args.len() + 1)?;
        self.push(f)?;
        for &a in args {
            self.push(a)?;
        }
        self.call(args.len(), 1)?;
        let top = self.top();
        // SAFETY: the call left exactly one result.
        unsafe {
            let v = *top.sub(1);
            self.set_top(top.sub(1));
            Ok(v)
        }
    }

    /// Run a function in protected mode (for the embedder and the command): on error the
    /// stack is restored and the error value returned.
    pub fn pcall(&mut self, nargs: usize, nresults: i32) -> Result<(), TValue> {
        self.pcall_with(nargs, nresults, false)
    }

    /// As [`State::pcall`]; in addition, when a string error (other than the memory
    /// error) is caught here, the traceback of where it was raised is recorded, while
    /// the stack still shows it, for [`State::take_caught_traceback`]. Nothing more is
    /// done unless an error happens.
    pub fn pcall_traced(&mut self, nargs: usize, nresults: i32) -> Result<(), TValue> {
        self.pcall_with(nargs, nresults, true)
    }

    /// The traceback recorded for error value `e` by the [`State::pcall_traced`] that
    /// just caught it (`"stack traceback:\n\t..."`), if one was.
    pub fn take_caught_traceback(&mut self, e: TValue) -> Option<Vec<u8>> {
        match self.caught_traceback.take() {
            Some((v, tb)) if v == e => Some(tb),
            _ => None,
        }
    }

    /// A string error is about to be caught by a [`State::pcall_traced`]: record where
    /// it was raised.
    #[cold]
    pub(crate) fn record_caught_traceback(&mut self) {
        let e = self.error_value();
        if e.is_str() && e != self.nomem {
            let tb = super::debug::traceback(self, 0);
            self.caught_traceback = Some((e, tb));
        }
    }

    fn pcall_with(&mut self, nargs: usize, nresults: i32, traced: bool) -> Result<(), TValue> {
        let l = self.l;
        // SAFETY: the function and arguments are the top slots.
        let (func_off, base_off) = unsafe {
            (
                self.top().sub(nargs + 1).offset_from((*l).stack),
                (*l).base.offset_from((*l).stack),
            )
        };
        let depth = (self.c_depth, self.nny);
        let saved_pc = self.savedpc;
        self.rust_pcall_bases.push((l, func_off + 2, traced));
        let r = self.call(nargs, nresults);
        self.rust_pcall_bases.pop();
        match r {
            Ok(()) => Ok(()),
            Err(_) => {
                let e = self.error_value();
                self.l = l;
                (self.c_depth, self.nny) = depth;
                self.savedpc = saved_pc;
                // SAFETY: restoring the frame that was current before the call.
                unsafe {
                    let func = (*l).stack.offset(func_off);
                    self.heap.close_upvalues(l, func);
                    (*l).base = (*l).stack.offset(base_off);
                    (*l).top = func;
                }
                Err(e)
            }
        }
    }

    /// Call the function below the top `nargs` values as the command does: errors get
    /// luajit's "stack traceback:" appended at the point they were raised. On success the
    /// results replace the function and arguments; their count is returned.
    pub fn pcall_traceback(&mut self, nargs: usize) -> Result<usize, TValue> {
        let xp = match self.registry_value(b"xpcall") {
            Ok(v) => v,
            Err(_) => return Err(self.error_value()),
        };
        if self.check_stack(2).is_err() {
            return Err(self.error_value());
        }
        let handler = match self.push_native(traceback_handler, 0) {
            Ok(h) => TValue::from_gc(h.cast(), itype::FUNC),
            Err(_) => return Err(self.error_value()),
        };
        self.push(TValue::NIL).map_err(|_| self.error_value())?;
        // SAFETY: [f, args..., h, nil] -> [xpcall, f, h, args...].
        unsafe {
            let top = self.top();
            let func = top.sub(nargs + 3);
            std::ptr::copy(func, func.add(2), nargs + 1);
            *func.add(1) = *func.add(2);
            *func.add(2) = handler;
            *func = xp;
            let off = func.offset_from((*self.l).stack);
            self.pcall(nargs + 2, MULTRET)?;
            let func = (*self.l).stack.offset(off);
            let ok = (*func).is_truthy();
            if !ok {
                let e = *func.add(1);
                self.set_top(func);
                return Err(e);
            }
            // [true, results...] -> [results...]
            let n = self.top().offset_from(func) as usize - 1;
            std::ptr::copy(func.add(1), func, n);
            self.set_top(func.add(n));
            Ok(n)
        }
    }

    /// Run pending `__gc` finalizers.
    pub fn run_finalizers(&mut self) {
        if self.running_finalizers {
            return;
        }
        self.running_finalizers = true;
        while let Some(f) = self.heap.take_finalizable() {
            if f.finalizer.is_nil() {
                continue;
            }
            if self.check_stack(3).is_err() {
                break;
            }
            let _ = self.push(f.finalizer);
            let _ = self.push(f.object);
            // Errors in finalizers are reported on stderr and otherwise ignored, as luajit
            // does for errors in __gc.
            if let Err(e) = self.pcall(1, 0) {
                let msg = self.display_value(e);
                eprintln!("{}", String::from_utf8_lossy(&msg));
            }
        }
        self.running_finalizers = false;
    }

    #[inline]
    pub fn check_finalizers(&mut self) {
        if self.heap.pending_finalizers() != 0 && !self.running_finalizers {
            self.run_finalizers();
        }
    }

    /// Text for an error value that escaped to the top (the command's message).
    pub fn display_value(&mut self, v: TValue) -> Vec<u8> {
        if let Some(s) = v.as_str() {
            // SAFETY: live string.
            return unsafe { GcStr::bytes(s) }.to_vec();
        }
        if v.is_number() {
            return num::fmt_num(v.num()).into_bytes();
        }
        if !self.metamethod(v, MetaMethod::ToString).is_nil() {
            if let Ok(s) = super::interp::tostring(self, v) {
                if let Some(s) = s.as_str() {
                    // SAFETY: live string.
                    return unsafe { GcStr::bytes(s) }.to_vec();
                }
            }
        }
        if v.is_nil() {
            return b"nil".to_vec();
        }
        format!("(error object is a {} value)", type_name(v)).into_bytes()
    }

    /// Load a chunk (text or binary) and push the function. On a syntax error the message
    /// is pushed instead and `false` returned.
    pub fn load(&mut self, src: &[u8], chunkname: &[u8], mode: &[u8]) -> LuaResult<bool> {
        super::interp::load(self, src, chunkname, mode)
    }

    /// Load and run a chunk; returns the error value if it fails.
    pub fn exec(&mut self, src: &[u8], chunkname: &[u8]) -> Result<(), TValue> {
        match self.load(src, chunkname, b"bt") {
            Ok(true) => self.pcall(0, 0),
            Ok(false) => {
                let top = self.top();
                // SAFETY: the message was pushed.
                unsafe {
                    let e = *top.sub(1);
                    self.set_top(top.sub(1));
                    Err(e)
                }
            }
            Err(_) => Err(self.error_value()),
        }
    }

    /// Flush `print`'s output.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }

    /// The global table's value for `name` (raw).
    pub fn get_global(&mut self, name: &[u8]) -> LuaResult<TValue> {
        let k = self.new_str(name)?;
        // SAFETY: live globals table and key.
        Ok(unsafe { table::get(self.globals, k) })
    }

    pub fn set_global(&mut self, name: &[u8], v: TValue) -> LuaResult<()> {
        let g = self.globals;
        self.raw_set_str(g, name, v)
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

/// The command's error handler: the message with a traceback of where it was raised.
fn traceback_handler(st: &mut State) -> LuaResult<u32> {
    let v = st.arg(1);
    // Other error objects get a traceback only if `__tostring` makes a string of them;
    // the rest go back unchanged for the caller to describe.
    let has_text = v.is_str()
        || v.is_number()
        || (!v.is_nil()
            && !st.metamethod(v, MetaMethod::ToString).is_nil()
            && super::interp::tostring(st, v).is_ok_and(|s| s.is_str()));
    if !has_text {
        st.push(v)?;
        return Ok(1);
    }
    let mut msg = st.display_value(v);
    msg.push(b'\n');
    msg.extend_from_slice(&super::debug::traceback(st, 1));
    st.push_bytes(&msg)?;
    Ok(1)
}

/// Initialise a stack: the bottom dummy frame.
///
/// # Safety
/// `th` must be a live thread with at least [`STACK_BOTTOM`] slots.
pub(crate) unsafe fn init_stack(th: *mut GcThread) {
    // SAFETY: caller promise.
    unsafe {
        let s = (*th).stack;
        *s = TValue::NIL;
        *s.add(1) = TValue(frame::FRAME_C);
        (*th).base = s.add(STACK_BOTTOM);
        (*th).top = s.add(STACK_BOTTOM);
    }
}

/// Lua's name for a value's type.
pub fn type_name(v: TValue) -> &'static str {
    v.lua_type().name()
}

/// A number as luajit's argument checks make it an `int32_t` (x86-64 `cvttsd2si`):
/// truncated toward zero, with NaN and out-of-range values giving -2^31.
#[inline(always)]
pub fn num_to_int(x: f64) -> i32 {
    num::trunc_i32(x)
}

/// The native function pointer of a native closure.
///
/// # Safety
/// `f` must be a live native closure.
#[inline(always)]
pub unsafe fn native_fn(f: *mut GcFunc) -> NativeFn {
    // SAFETY: native closures are made only by push_native_ff from a NativeFn.
    unsafe {
        std::mem::transmute::<*const std::ffi::c_void, NativeFn>((*f.cast::<GcFuncNative>()).f)
    }
}
