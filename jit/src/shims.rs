//! Functions compiled traces call for work too big to inline: table barriers, `#t`,
//! growing a table, new tables, `pow`. They never run the collector (a trace keeps values in
//! registers the collector cannot see), so nothing they do can free an object the trace
//! still uses. The exception is [`call_native`], a call of a native function, which may
//! run anything: the trace writes its frame to the stack first, and reads memory afresh
//! after it.

use moonjet_gc::object::{GcHeader, GcStr, GcTab, GcUpval};
use moonjet_gc::{table, Heap, TValue};
use std::cell::Cell;

/// What compiled code gets besides the frame base (`#[repr(C)]`: the code reads its
/// fields at fixed offsets).
#[repr(C)]
pub struct TraceCtx {
    /// Non-zero: leave at the next loop header (Ctrl-C, the embedder's interrupt).
    pub interrupt: *const u8,
    /// The state's heap, for barriers and table growth (null in tests without one;
    /// traces that need it are only run with one).
    pub heap: *mut Heap,
    /// The heap's allocation total and GC threshold: a trace that allocates leaves at its
    /// loop header once a GC step is due, so the interpreter runs it.
    pub gc_total: *const usize,
    pub gc_threshold: *const usize,
    /// Written by the exit a trace (or a trace it linked to) leaves through: the address
    /// of that trace's `ExitLinks`, so the caller knows whose exit it was.
    pub exited: Cell<usize>,
    /// Written with `exited`: the base of the frame that exit left in (deeper than the
    /// entry frame when it left inside a recursive call, `Ins::CallSelf`).
    pub exit_base: Cell<usize>,
    /// Recursive calls under way in native code (`Ins::CallSelf`), bounded by
    /// [`MAX_NATIVE_DEPTH`] to keep the native stack small.
    pub depth: Cell<u32>,
    /// The thread's `maxstack`: a recursive call needs its frame below it, as the
    /// interpreter's calls do (null: no room, every such call is left to the interpreter).
    pub stack_limit: *const TValue,
    /// For C calls ([`crate::ir::Ins::CCall`]), what the interpreter's C calls use
    /// (null where no trace makes one).
    pub ffi: FfiCallCtx,
}

/// What a trace's C call touches besides its arguments (`#[repr(C)]`, read at fixed
/// offsets): see `moonjet_runtime::ffi::callback::TraceCallHooks`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FfiCallCtx {
    /// The state, put in the callback hub's `active` cell during the call so that its
    /// callbacks run on it.
    pub state: *mut u8,
    pub active: *mut *mut u8,
    /// Callback entries so far: a change over the call means a callback ran.
    pub runs: *const u32,
    /// The state's `ffi.errno` and the thread's C `errno`.
    pub saved_errno: *mut i32,
    pub errno: *mut i32,
    /// The running thread's `stack` field: a callback may move the stack, and the trace
    /// then leaves into the frame's new place.
    pub thread_stack: *const *mut TValue,
}

impl FfiCallCtx {
    pub const NONE: FfiCallCtx = FfiCallCtx {
        state: std::ptr::null_mut(),
        active: std::ptr::null_mut(),
        runs: std::ptr::null(),
        saved_errno: std::ptr::null_mut(),
        errno: std::ptr::null_mut(),
        thread_stack: std::ptr::null(),
    };
}

/// Recursive calls a trace makes natively before it leaves the next one to the
/// interpreter (which enters the trace afresh, with an empty native stack).
pub const MAX_NATIVE_DEPTH: u32 = 200;

/// What a trace called by `Ins::CallSelf` returns when it returned (exits return their
/// snapshot number).
pub const RETURNED: u32 = u32::MAX;

pub const CTX_INTERRUPT: i32 = std::mem::offset_of!(TraceCtx, interrupt) as i32;
pub const CTX_HEAP: i32 = std::mem::offset_of!(TraceCtx, heap) as i32;
pub const CTX_GC_TOTAL: i32 = std::mem::offset_of!(TraceCtx, gc_total) as i32;
pub const CTX_GC_THRESHOLD: i32 = std::mem::offset_of!(TraceCtx, gc_threshold) as i32;
pub const CTX_EXITED: i32 = std::mem::offset_of!(TraceCtx, exited) as i32;
pub const CTX_EXIT_BASE: i32 = std::mem::offset_of!(TraceCtx, exit_base) as i32;
pub const CTX_DEPTH: i32 = std::mem::offset_of!(TraceCtx, depth) as i32;
pub const CTX_STACK_LIMIT: i32 = std::mem::offset_of!(TraceCtx, stack_limit) as i32;
pub const CTX_FFI_STATE: i32 =
    (std::mem::offset_of!(TraceCtx, ffi) + std::mem::offset_of!(FfiCallCtx, state)) as i32;
pub const CTX_FFI_ACTIVE: i32 =
    (std::mem::offset_of!(TraceCtx, ffi) + std::mem::offset_of!(FfiCallCtx, active)) as i32;
pub const CTX_FFI_RUNS: i32 =
    (std::mem::offset_of!(TraceCtx, ffi) + std::mem::offset_of!(FfiCallCtx, runs)) as i32;
pub const CTX_FFI_SAVED_ERRNO: i32 =
    (std::mem::offset_of!(TraceCtx, ffi) + std::mem::offset_of!(FfiCallCtx, saved_errno)) as i32;
pub const CTX_FFI_ERRNO: i32 =
    (std::mem::offset_of!(TraceCtx, ffi) + std::mem::offset_of!(FfiCallCtx, errno)) as i32;
pub const CTX_FFI_THREAD_STACK: i32 =
    (std::mem::offset_of!(TraceCtx, ffi) + std::mem::offset_of!(FfiCallCtx, thread_stack)) as i32;

impl TraceCtx {
    /// Whether the heap wants a GC step (a trace leaves for the interpreter to run it).
    pub fn gc_due(&self) -> bool {
        // SAFETY: both point into the heap, which outlives the context.
        unsafe { *self.gc_total >= *self.gc_threshold }
    }

    /// A context for running a trace in the state owning `heap`, on a thread whose
    /// `maxstack` is `stack_limit`.
    pub fn new(interrupt: *const u8, heap: &mut Heap, stack_limit: *const TValue) -> TraceCtx {
        let (gc_total, gc_threshold) = heap.debt_words();
        TraceCtx {
            interrupt,
            heap,
            gc_total,
            gc_threshold,
            exited: Cell::new(0),
            exit_base: Cell::new(0),
            depth: Cell::new(0),
            stack_limit,
            ffi: FfiCallCtx::NONE,
        }
    }

    /// A context without a heap (GC never due), for traces that never touch it.
    pub fn without_heap(interrupt: *const u8) -> TraceCtx {
        static ZERO: usize = 0;
        static MAX: usize = usize::MAX;
        TraceCtx {
            interrupt,
            heap: std::ptr::null_mut(),
            gc_total: &ZERO,
            gc_threshold: &MAX,
            exited: Cell::new(0),
            exit_base: Cell::new(0),
            depth: Cell::new(0),
            stack_limit: std::ptr::null(),
            ffi: FfiCallCtx::NONE,
        }
    }
}

pub extern "C" fn pow(a: f64, b: f64) -> f64 {
    a.powf(b)
}

/// The backward barrier for a black table about to be written.
///
/// # Safety
/// `heap` is the live heap owning the live table `t`.
pub unsafe extern "C" fn tab_barrier(heap: *mut Heap, t: *mut GcTab) {
    // SAFETY: caller promise.
    unsafe { (*heap).barrier_back(t) }
}

/// The forward barrier for closed upvalue `uv` given value `bits`.
///
/// # Safety
/// `heap` is the live heap owning the live upvalue `uv`; `bits` is a live GC value.
pub unsafe extern "C" fn uv_barrier(heap: *mut Heap, uv: *mut GcUpval, bits: u64) {
    // SAFETY: caller promise; barrier_forward checks the colours itself.
    unsafe {
        if (*uv).closed != 0 {
            (*heap).barrier_forward(uv.cast::<GcHeader>(), TValue(bits));
        }
    }
}

/// `#t` for a table (tables' `#` has no metamethod in Lua 5.1).
///
/// # Safety
/// `t` is a live table.
pub unsafe extern "C" fn tab_len(t: *mut GcTab) -> f64 {
    // SAFETY: caller promise.
    unsafe { table::len(t) as f64 }
}

/// `t[key]` through the general lookup (a key outside the array part), as its bits.
///
/// # Safety
/// `t` is a live table.
pub unsafe extern "C" fn tab_get_int(t: *mut GcTab, key: i32) -> u64 {
    // SAFETY: caller promise.
    unsafe { table::get_int(t, i64::from(key)).bits() }
}

/// `t[key]` for a string key through the general lookup, as its bits.
///
/// # Safety
/// `t` is a live table, `key` a live string.
pub unsafe extern "C" fn tab_get_str(t: *mut GcTab, key: *mut GcStr) -> u64 {
    // SAFETY: caller promise.
    unsafe { table::get_str(t, key).bits() }
}

/// `t[key] = v` through the general path (may grow the table; never collects).
/// Returns 0, or 1 if memory ran out (the trace then leaves and the interpreter raises
/// the error).
///
/// # Safety
/// `heap` is the live heap owning the live table `t`; `bits` is a live value.
pub unsafe extern "C" fn tab_set_int(heap: *mut Heap, t: *mut GcTab, key: i32, bits: u64) -> u32 {
    // SAFETY: caller promise.
    match unsafe { table::set_int(&mut *heap, t, i64::from(key), TValue(bits)) } {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// `t[key] = v` for a string key through the general path (may insert the key and grow
/// the table; never collects). Returns 0, or 1 if memory ran out.
///
/// # Safety
/// `heap` is the live heap owning the live table `t` and string `key`; `bits` is a live
/// value.
pub unsafe extern "C" fn tab_set_str(
    heap: *mut Heap,
    t: *mut GcTab,
    key: *mut GcStr,
    bits: u64,
) -> u32 {
    // SAFETY: caller promise.
    match unsafe { table::set_str(&mut *heap, t, key, TValue(bits)) } {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// `{}` with room for `asize` array slots and `1 << hbits` nodes (`TNEW`'s operand), never
/// collecting. Null if memory ran out: the trace then leaves before the `TNEW` and the
/// interpreter runs it again, collecting first, and raises the error if it still fails.
///
/// # Safety
/// `heap` is the live heap of the state running the trace.
pub unsafe extern "C" fn tab_new(heap: *mut Heap, asize: u32, hbits: u32) -> *mut GcTab {
    // SAFETY: caller promise.
    unsafe { (*heap).new_table_no_gc(asize, hbits) }.unwrap_or(std::ptr::null_mut())
}

/// A copy of template table `tpl` (`TDUP`'s constant), never collecting; null if memory
/// ran out (as for [`tab_new`]).
///
/// # Safety
/// `heap` is the live heap owning the live table `tpl`.
pub unsafe extern "C" fn tab_dup(heap: *mut Heap, tpl: *mut GcTab) -> *mut GcTab {
    // SAFETY: caller promise; the trace keeps the template alive (a constant it embeds).
    unsafe { table::dup_no_gc(&mut *heap, tpl) }.unwrap_or(std::ptr::null_mut())
}

/// The Lua value of a new cdata of C type `ctype` whose 8-byte payload is `bits`: a
/// value the trace kept unboxed, written to a slot as it leaves. Never collects (see
/// `Heap::new_cdata_at_exit`).
///
/// # Safety
/// `heap` is the live heap of the state running the trace; `ctype` a type of 8 bytes.
unsafe fn box_at_exit(heap: *mut Heap, ctype: u16, bits: u64) -> u64 {
    // SAFETY: caller promise.
    let c = match unsafe { (*heap).new_cdata_at_exit(ctype, 8) } {
        Ok(c) => c,
        // The system allocator failed: as Rust does when an allocation fails.
        Err(_) => std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u64; 3]>()),
    };
    // SAFETY: a fresh cdata with an 8-byte, 8-aligned payload.
    unsafe {
        moonjet_gc::object::GcCdata::payload(c)
            .cast::<u64>()
            .write(bits)
    };
    TValue::from_gc(c.cast(), moonjet_gc::value::itype::CDATA).0
}

/// A new `int64_t` (or, if `unsigned`, `uint64_t`) cdata holding `bits`.
///
/// # Safety
/// As for [`box_at_exit`].
pub unsafe extern "C" fn box_int64(heap: *mut Heap, unsigned: u32, bits: u64) -> u64 {
    let id = if unsigned != 0 {
        moonjet_ffi::CTypeId::UINT64
    } else {
        moonjet_ffi::CTypeId::INT64
    };
    // SAFETY: caller promise.
    unsafe { box_at_exit(heap, id.0, bits) }
}

/// A new pointer cdata of C type `ctype` holding `addr` (made by pointer arithmetic).
///
/// # Safety
/// As for [`box_at_exit`]; `ctype` is a pointer type.
pub unsafe extern "C" fn box_pointer(heap: *mut Heap, ctype: u32, addr: u64) -> u64 {
    // SAFETY: caller promise.
    unsafe { box_at_exit(heap, ctype as u16, addr) }
}

/// `x ^ k` for 64-bit integer cdata, as the interpreter computes it.
pub extern "C" fn pow_i64(x: u64, k: u64) -> u64 {
    moonjet_runtime::ffi::ops::pow_i64(x as i64, k as i64) as u64
}

pub extern "C" fn pow_u64(x: u64, k: u64) -> u64 {
    moonjet_runtime::ffi::ops::pow_u64(x, k)
}

/// `Ins::NativeCall`: the `CALL` at `pc` of a native function with `nargs` arguments,
/// made by the trace running
/// in the frame at `base` (its slots written) as the interpreter makes it
/// (`moonjet_runtime::vm::interp::call_native_for_trace`). Returns the frame's base
/// afterwards (the callee may have moved the stack), with bit 0 set if the callee raised
/// an error: the state keeps it (`trace_throw`) for the interpreter to raise where the
/// call was, once the trace has left. A panic in the callee becomes such an error, as
/// unwinding through trace code is not possible.
///
/// # Safety
/// `ctx` is the context of a trace running on the state `ctx.ffi.state`, in the frame at
/// `base` of its running thread, whose slots are written; `pc` is a `CALL` of the frame's
/// prototype, whose function slot holds a native function the recorder accepted.
pub unsafe extern "C" fn call_native(
    ctx: *const TraceCtx,
    base: *mut TValue,
    pc: *const u32,
    nargs: u32,
) -> usize {
    use moonjet_runtime::vm::{interp, State};
    // SAFETY: caller promise: the state runs this trace, and nothing else uses it while
    // the callee runs (the engine that entered the trace waits for it).
    let st = unsafe { &mut *(*ctx).ffi.state.cast::<State>() };
    // SAFETY: the running thread is live; the frame is inside its stack.
    let off = unsafe { base.offset_from((*st.l).stack) };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: caller promise.
        unsafe { interp::call_native_for_trace(st, base, pc, nargs as usize) }
    }));
    let failed = match r {
        Ok(Ok(now)) => return now as usize,
        Ok(Err(t)) => t,
        Err(_) => st.throw_str("internal error: a native function panicked"),
    };
    st.trace_throw = Some(failed);
    // SAFETY: as above; the frame is where it was in the (possibly moved) stack.
    let now = unsafe { (*st.l).stack.offset(off) };
    now as usize | 1
}
