//! The interpreter: one dispatch loop over the bytecode, calls and returns as frames on
//! the thread's stack (never Rust recursion), metamethods as continuation frames, pcall
//! as a frame, and error unwinding to the nearest pcall frame.
//!
//! Invariants the whole module relies on (SAFETY):
//! - `base` is the base of a live Lua frame of the running thread `st.l`, and
//!   `base[-2]` holds its Lua function; the frame was checked on entry to have
//!   `framesize + STACK_EXTRA` slots below `maxstack`, so `base[0..framesize+8]` are
//!   valid slots. Bytecode operands index within `framesize` (the verifier and the
//!   parser guarantee it), constants within the prototype's arrays.
//! - Anything that may grow the stack (a call, a native, a metamethod) may move it:
//!   after such a step `base` is reloaded from `(*st.l).base` (all paths go through
//!   `Ret::Lua`/`Pre::Lua`, which return fresh pointers).
//! - Before any allocation `(*st.l).top` covers every live slot of the frame.

use super::debug;
use super::frame::{self, cont, FRAME_C, FRAME_CONT, FRAME_PCALL, FRAME_VARG, FRAME_XPCALL};
use super::hook;
use super::jit_iface;
use super::state::{ff, native_fn, LuaResult, State, Throw, LUA_MINSTACK, STACK_EXTRA};
use crate::bc::{self, jump_target, Op};
use crate::proto::flags;
use moonjet_gc::object::{mark, GcFunc, GcProto, GcUpval};
use moonjet_gc::value::itype;
use moonjet_gc::{table, GcStr, GcTab, MetaMethod, TValue};

/// Where execution goes after a frame returned.
pub(crate) enum Ret {
    /// Continue in a Lua frame at `pc`; `n` values were returned (for MULTRES).
    Lua(*mut TValue, *const u32, usize),
    /// The frame was entered from Rust: `n` results now sit at the old function slot.
    Exit(usize),
}

/// Result of setting up a call.
pub(crate) enum Pre {
    /// A Lua function is ready to run.
    Lua(*mut TValue, *const u32),
    /// A native function ran; the frame at `(*l).base` returned `n` values at `top - n`.
    Done(usize),
}

#[inline(always)]
unsafe fn func_of(base: *mut TValue) -> *mut GcFunc {
    // SAFETY: module invariant: base[-2] holds the frame's function.
    unsafe { (*base.sub(2)).gc_ptr().cast() }
}

#[inline(always)]
pub(crate) unsafe fn proto_of(base: *mut TValue) -> *mut GcProto {
    // SAFETY: as above, for a Lua frame.
    unsafe { (*func_of(base)).proto }
}

#[inline(always)]
fn tv_func(f: *mut GcFunc) -> TValue {
    TValue::from_gc(f.cast(), itype::FUNC)
}

// ---- calls --------------------------------------------------------------------------------

/// Set up a call of `func[0]` with the `nargs` arguments at `func[2..]`, writing `link`
/// to `func[1]`. Lua functions get a frame; natives run to completion here.
#[inline]
pub(crate) unsafe fn precall(
    st: &mut State,
    mut func: *mut TValue,
    mut nargs: usize,
    link: u64,
) -> LuaResult<Pre> {
    // SAFETY: module invariants; `func..func+2+nargs` are slots of the running thread.
    unsafe {
        let mut fv = *func;
        if !fv.is_func() {
            (func, nargs, fv) = call_metamethod(st, func, nargs)?;
        }
        *func.add(1) = TValue(link);
        let f: *mut GcFunc = fv.gc_ptr().cast();
        let l = st.l;
        let mut base = func.add(2);
        if (*f).is_lua() {
            let pt = (*f).proto;
            let fs = (*pt).framesize as usize;
            let vararg = (*pt).flags & flags::VARARG as u32 != 0;
            let need = if vararg { nargs + 2 + fs } else { fs };
            if base.add(need + STACK_EXTRA) > (*l).maxstack {
                let off = base.offset_from((*l).stack);
                (*l).top = base.add(nargs);
                st.grow_stack(need + STACK_EXTRA)?;
                base = (*l).stack.offset(off);
            }
            let np = (*pt).numparams as usize;
            if !vararg {
                for i in nargs..np {
                    *base.add(i) = TValue::NIL;
                }
            } else {
                let nb = base.add(nargs + 2);
                *nb.sub(2) = fv;
                *nb.sub(1) = frame::delta_link(nb, base, FRAME_VARG);
                for i in 0..np {
                    *nb.add(i) = if i < nargs {
                        let v = *base.add(i);
                        *base.add(i) = TValue::NIL;
                        v
                    } else {
                        TValue::NIL
                    };
                }
                base = nb;
            }
            (*l).base = base;
            (*l).top = base.add(fs);
            let pc = (*pt).bc.add(1);
            if st.hook.mask() & hook::mask::CALL != 0 {
                st.savedpc = pc;
                hook::call_hook(st, b"call", None)?;
                base = (*l).base;
            }
            Ok(Pre::Lua(base, pc))
        } else {
            (*l).base = base;
            (*l).top = base.add(nargs);
            if base.add(nargs + LUA_MINSTACK + STACK_EXTRA) > (*l).maxstack {
                st.grow_stack(LUA_MINSTACK)?;
                base = (*l).base;
            }
            if st.hook.mask() & hook::mask::CALL != 0 {
                hook::call_hook(st, b"call", None)?;
                base = (*l).base;
            }
            match (*f).ffid {
                ff::PCALL => return pcall_frame(st, base, nargs, false),
                ff::XPCALL => return pcall_frame(st, base, nargs, true),
                _ => {}
            }
            let n = native_fn(f)(st)?;
            Ok(Pre::Done(n as usize))
        }
    }
}

/// Compiled trace code makes the `CALL` at `pc` of a native function with `nargs`
/// arguments, in the Lua frame at `base`, exactly as the interpreter would (also when it
/// is a tail call a function inlined in the trace made, which replaced that function's
/// frame, the one this `CALL` made): the frame's slots are all written (the function at
/// `a`, its arguments from `a + 2`), so
/// the callee, the collector and the debug library see what they would see in the
/// interpreter, and error messages name the function as the call site shows it. The
/// results go to the call's slots, as many as the `CALL` wants. Returns the frame's base
/// afterwards: the callee may run Lua code that grows (moves) the stack.
///
/// The callee may not yield (a coroutine cannot yield across trace code): it runs as a
/// Rust-level call, which `coroutine.yield` refuses. `pcall` and `xpcall`, which run
/// their function in the interpreter's frames, are never called here.
///
/// # Safety
/// `pc` is a `CALL` of the live prototype running in the live frame at `base` of the
/// running thread, whose slot `a` holds a native function other than `pcall`/`xpcall`.
pub unsafe fn call_native_for_trace(
    st: &mut State,
    base: *mut TValue,
    pc: *const u32,
    nargs: usize,
) -> LuaResult<*mut TValue> {
    // SAFETY: caller promise; the frame has room for the call's slots (a Lua frame's
    // framesize covers them).
    unsafe {
        let l = st.l;
        let ins = *pc;
        let ret_pc = pc.add(1);
        st.savedpc = ret_pc;
        (*l).base = base;
        let func = base.add(bc::a(ins) as usize);
        st.nny += 1;
        let r = precall(st, func, nargs, ret_pc as u64);
        st.nny -= 1;
        let r = match r {
            Ok(Pre::Done(n)) => {
                // As the interpreter's CALL: finalizers first, then the results move.
                st.check_finalizers();
                let nb = (*l).base;
                if (*nb.sub(1)).0 == ret_pc as u64 {
                    Ok(results_to_lua(l, nb, (*l).top.sub(n), n, ins))
                } else {
                    Err(st.throw_str("internal error: a native function left its frame"))
                }
            }
            Ok(Pre::Lua(..)) => Err(st.throw_str("internal error: a native call ran Lua code")),
            Err(t) => Err(t),
        };
        // (Nested Lua code restores it as it returns; an error may leave another.)
        st.savedpc = ret_pc;
        r
    }
}

/// The plain loop set up a Lua call and found a hook set: run the call hook as `precall`
/// would have (`pc` is the callee's first instruction, its frame is `(*st.l).base`).
#[cold]
#[inline(never)]
fn hook_after_call(st: &mut State, pc: *const u32) -> LuaResult<()> {
    if st.hook.mask() & hook::mask::CALL != 0 {
        st.savedpc = pc;
        hook::call_hook(st, b"call", None)?;
    }
    Ok(())
}

/// `pcall(f, ...)`/`xpcall(f, h, ...)`: turn the native's own frame into a pcall frame
/// and call `f` above it.
#[cold]
unsafe fn pcall_frame(st: &mut State, base: *mut TValue, nargs: usize, x: bool) -> LuaResult<Pre> {
    // SAFETY: native frame at `base` with nargs args and LUA_MINSTACK spare slots.
    unsafe {
        if nargs > x as usize && (!x || (*base.add(1)).is_func()) {
            let f = *base;
            if f.is_cdata() {
                if let Err(msg) = crate::ffi::ops::call_target(st, f) {
                    return pcall_uncallable(st, base, msg, x);
                }
            } else if !f.is_func() && !st.metamethod(f, MetaMethod::Call).is_func() {
                let msg = format!("attempt to call a {} value", super::state::type_name(f));
                return pcall_uncallable(st, base, msg, x);
            }
        }
        if !x {
            if nargs == 0 {
                return Err(st.arg_error(1, "value expected"));
            }
            // f stays at base[0]; the arguments move up one slot for the link.
            std::ptr::copy(base.add(1), base.add(2), nargs - 1);
            (*st.l).top = base.add(nargs + 1);
            let link = frame::delta_link(base.add(2), base, FRAME_PCALL).0;
            precall(st, base, nargs - 1, link)
        } else {
            if nargs < 2 {
                return Err(st.type_error(2, "function"));
            }
            let (f, h) = (*base, *base.add(1));
            if !h.is_func() {
                return Err(st.type_error(2, "function"));
            }
            // handler at base[0], f at base[1], link at base[2], arguments from base[3].
            std::ptr::copy(base.add(2), base.add(3), nargs - 2);
            *base = h;
            *base.add(1) = f;
            (*st.l).top = base.add(nargs + 1);
            let link = frame::delta_link(base.add(3), base, FRAME_XPCALL).0;
            precall(st, base.add(1), nargs - 2, link)
        }
    }
}

/// `pcall` of a value that cannot be called: `false` and luajit's message (without a
/// position: no Lua code ran), passed through the handler for `xpcall`.
#[cold]
unsafe fn pcall_uncallable(
    st: &mut State,
    base: *mut TValue,
    msg: String,
    x: bool,
) -> LuaResult<Pre> {
    let mut e = st.new_str(msg.as_bytes())?;
    if x {
        // SAFETY: xpcall's handler is its second argument.
        let h = unsafe { *base.add(1) };
        st.push(e)?;
        e = match st.call_value(h, &[e]) {
            Ok(v) => v,
            Err(Throw::Error) => st.new_str(b"error in error handling")?,
            Err(t) => return Err(t),
        };
    }
    st.push(TValue::FALSE)?;
    st.push(e)?;
    Ok(Pre::Done(2))
}

/// A call of a non-function: its `__call` metamethod gets it as the first argument.
#[cold]
unsafe fn call_metamethod(
    st: &mut State,
    func: *mut TValue,
    nargs: usize,
) -> LuaResult<(*mut TValue, usize, TValue)> {
    // SAFETY: one spare slot above the arguments is guaranteed (STACK_EXTRA).
    unsafe {
        let obj = *func;
        let mm = if obj.is_cdata() {
            crate::ffi::ops::call_target(st, obj).map_err(|msg| st.rt_error(&msg))?
        } else {
            st.metamethod(obj, MetaMethod::Call)
        };
        if !mm.is_func() {
            return Err(debug::call_error(st, obj));
        }
        std::ptr::copy(func.add(2), func.add(3), nargs);
        *func.add(2) = obj;
        *func = mm;
        let top = func.add(3 + nargs);
        if top > (*st.l).top {
            (*st.l).top = top;
        }
        Ok((func, nargs + 1, mm))
    }
}

/// Return `nres` values at `src` from the frame at `base`, following frame links
/// until execution continues in a Lua frame or leaves to Rust.
#[inline]
pub(crate) unsafe fn do_return(
    st: &mut State,
    mut base: *mut TValue,
    mut src: *mut TValue,
    mut nres: usize,
) -> LuaResult<Ret> {
    // SAFETY: module invariants; result slots are above the destination slots.
    unsafe {
        let l = st.l;
        loop {
            let link = (*base.sub(1)).0;
            if frame::is_lua(link) {
                let pc = link as *const u32;
                let nb = results_to_lua(l, base, src, nres, *pc.sub(1));
                return Ok(Ret::Lua(nb, pc, nres));
            }
            match frame::ftype(link) {
                FRAME_CONT => {
                    let prev = frame::delta_prev(base, link);
                    let k = (*base.sub(4)).0;
                    let spc = (*base.sub(3)).0 as *const u32;
                    let r = if nres > 0 { *src } else { TValue::NIL };
                    let pc = match k & cont::MASK {
                        cont::RA => {
                            *prev.add(bc::a(*spc.sub(1)) as usize) = r;
                            spc
                        }
                        cont::COND_TRUE | cont::COND_FALSE => {
                            if r.is_truthy() == (k == cont::COND_TRUE) {
                                jump_target(spc.add(1), *spc)
                            } else {
                                spc.add(1)
                            }
                        }
                        cont::CAT => {
                            let slot = (k >> 8) as u32;
                            *prev.add(slot as usize) = r;
                            st.cat_top = Some(slot);
                            spc.sub(1)
                        }
                        _ => spc,
                    };
                    (*l).base = prev;
                    (*l).top = prev.add((*proto_of(prev)).framesize as usize);
                    return Ok(Ret::Lua(prev, pc, 0));
                }
                FRAME_PCALL | FRAME_XPCALL => {
                    src = src.sub(1);
                    *src = TValue::TRUE;
                    nres += 1;
                    base = frame::delta_prev(base, link);
                }
                FRAME_VARG => base = frame::delta_prev(base, link),
                _ => {
                    // FRAME_C: back to the Rust caller.
                    let dst = base.sub(2);
                    std::ptr::copy(src, dst, nres);
                    (*l).top = dst.add(nres);
                    (*l).base = frame::delta_prev(base, link);
                    return Ok(Ret::Exit(nres));
                }
            }
        }
    }
}

/// Values are moved down the stack (results towards their call slot): a plain loop,
/// since the counts are small and `memmove` costs a call.
#[inline(always)]
unsafe fn copy_values(src: *const TValue, dst: *mut TValue, n: usize) {
    // SAFETY: caller promise; dst <= src, so a forward copy is correct for overlap.
    unsafe {
        for i in 0..n {
            *dst.add(i) = *src.add(i);
        }
    }
}

/// Deliver the `nres` results at `src` of the frame at `base` (called by `call`, the
/// instruction before its return PC) to the caller's slots; return the caller's base.
#[inline(always)]
unsafe fn results_to_lua(
    l: *mut moonjet_gc::GcThread,
    base: *mut TValue,
    src: *const TValue,
    nres: usize,
    call: u32,
) -> *mut TValue {
    // SAFETY: module invariants; the caller's frame was checked for framesize slots.
    unsafe {
        let dst = base.sub(2);
        copy_values(src, dst, nres);
        let want = bc::b(call) as usize;
        let nb = dst.sub(bc::a(call) as usize);
        let fs = (*proto_of(nb)).framesize as usize;
        if want == 0 {
            let t = dst.add(nres);
            (*l).top = if t > nb.add(fs) { t } else { nb.add(fs) };
        } else {
            for i in nres..want - 1 {
                *dst.add(i) = TValue::NIL;
            }
            (*l).top = nb.add(fs);
        }
        (*l).base = nb;
        nb
    }
}

/// Outcome of unwinding after an error.
enum Unwound {
    Continue(Ret),
    Propagate,
}

/// Find the nearest pcall frame of this dispatch loop; deliver `false, err` to it.
unsafe fn unwind(st: &mut State) -> LuaResult<Unwound> {
    // SAFETY: frames from `(*l).base` down are well-formed (module invariants).
    unsafe {
        let l = st.l;
        let bottom = (*l).stack.add(frame::STACK_BOTTOM);
        let mut base = (*l).base;
        while base > bottom {
            let link = (*base.sub(1)).0;
            if frame::is_lua(link) {
                base = frame::lua_prev(base, link);
                continue;
            }
            match frame::ftype(link) {
                FRAME_C => {
                    (*l).base = frame::delta_prev(base, link);
                    (*l).top = base.sub(2);
                    return Ok(Unwound::Propagate);
                }
                FRAME_PCALL | FRAME_XPCALL => {
                    let pb = frame::delta_prev(base, link);
                    st.heap.close_upvalues(l, pb);
                    *pb = TValue::FALSE;
                    *pb.add(1) = st.error_value();
                    (*l).top = pb.add(2);
                    (*l).base = pb;
                    return do_return(st, pb, pb, 2).map(Unwound::Continue);
                }
                _ => base = frame::delta_prev(base, link),
            }
        }
        (*l).base = bottom;
        Ok(Unwound::Propagate)
    }
}

/// Run the handler of the nearest `xpcall` frame (if the nearest catcher is one) on the
/// error value, replacing it with the handler's result.
pub(crate) fn run_error_handler(st: &mut State) {
    // SAFETY: walks the running thread's frames (module invariants).
    unsafe {
        let l = st.l;
        let bottom = (*l).stack.add(frame::STACK_BOTTOM);
        let mut base = (*l).base;
        while base > bottom {
            let link = (*base.sub(1)).0;
            if frame::is_lua(link) {
                base = frame::lua_prev(base, link);
                continue;
            }
            match frame::ftype(link) {
                FRAME_PCALL => return,
                FRAME_XPCALL => {
                    let off = base.offset_from((*l).stack) as usize;
                    if let Some((th, floor)) = st.handler_floor {
                        if th == l && off <= floor {
                            // An error inside this very handler: Lua's ERRERR.
                            if let Ok(m) = st.new_str(b"error in error handling") {
                                st.set_error_value(m);
                            }
                            return;
                        }
                    }
                    let h = *base.sub(3);
                    let e = st.error_value();
                    let saved = st.handler_floor.replace((l, off));
                    let saved_pc = st.savedpc;
                    // The handler may grow (move) the stack: keep offsets.
                    let (top, lbase) = (
                        (*l).top.offset_from((*l).stack),
                        (*l).base.offset_from((*l).stack),
                    );
                    let r = st.call_value(h, &[e]);
                    st.handler_floor = saved;
                    st.savedpc = saved_pc;
                    (*l).top = (*l).stack.offset(top);
                    (*l).base = (*l).stack.offset(lbase);
                    if saved.is_none() {
                        st.release_emergency_stack();
                    }
                    let v = match r {
                        Ok(v) => v,
                        Err(_) => st.error_value(),
                    };
                    st.set_error_value(v);
                    return;
                }
                FRAME_C => {
                    let off = base.offset_from((*l).stack);
                    let caught_here = st
                        .rust_pcall_bases
                        .iter()
                        .rev()
                        .find(|&&(th, b, _)| th == l && b == off);
                    match caught_here {
                        Some(&(_, _, traced)) => {
                            if traced {
                                st.record_caught_traceback();
                            }
                            return;
                        }
                        None => base = frame::delta_prev(base, link),
                    }
                }
                _ => base = frame::delta_prev(base, link),
            }
        }
    }
}

/// Call the function at `func` (arguments directly above it, C-API style) from Rust.
/// Returns the number of results, which now start at `func`.
pub(crate) unsafe fn call_from_rust(
    st: &mut State,
    func: *mut TValue,
    nargs: usize,
) -> LuaResult<usize> {
    // SAFETY: the function and its arguments are the top slots of the running thread.
    unsafe {
        let l = st.l;
        let off = func.offset_from((*l).stack);
        st.check_stack(2)?;
        let func = (*l).stack.offset(off);
        // Make room for the frame link.
        std::ptr::copy(func.add(1), func.add(2), nargs);
        (*l).top = func.add(nargs + 2);
        let link = frame::delta_link(func.add(2), (*l).base, FRAME_C).0;
        let saved_pc = st.savedpc;
        // The Lua frame below keeps its PC here (a C link has no room for it).
        st.cframe_pcs.push((l, off + 2, saved_pc));
        let r = match precall(st, func, nargs, link) {
            Ok(Pre::Lua(base, pc)) => execute_with(st, base, pc, 0),
            Ok(Pre::Done(n)) => finish_native(st, n),
            Err(Throw::Error) => {
                // An error while setting up (stack overflow, bad __call): this frame
                // never ran; its caller continues unwinding from where it was.
                let func = (*l).stack.offset(off);
                if (*l).base >= func {
                    (*l).base = frame::delta_prev(func.add(2), link);
                }
                Err(Throw::Error)
            }
            Err(t) => Err(t),
        };
        st.savedpc = saved_pc;
        st.cframe_pcs.pop();
        r
    }
}

/// A native frame at `(*l).base` finished with `n` results on top: return them, and run
/// Lua code if the return continues in a Lua frame.
pub(crate) unsafe fn finish_native(st: &mut State, n: usize) -> LuaResult<usize> {
    // SAFETY: the native's frame is the innermost one.
    unsafe {
        let l = st.l;
        let base = (*l).base;
        match do_return(st, base, (*l).top.sub(n), n) {
            Ok(Ret::Lua(b, pc, nres)) => execute_with(st, b, pc, nres),
            Ok(Ret::Exit(k)) => Ok(k),
            Err(t) => handle_error(st, t),
        }
    }
}

/// An error escaped a helper outside the dispatch loop's own calls: unwind, and go on
/// in the catching frame if there is one in this loop.
unsafe fn handle_error(st: &mut State, t: Throw) -> LuaResult<usize> {
    if t == Throw::Yield {
        return Err(t);
    }
    // SAFETY: forwarded.
    unsafe {
        match unwind(st)? {
            Unwound::Continue(Ret::Lua(b, pc, n)) => execute_with(st, b, pc, n),
            Unwound::Continue(Ret::Exit(n)) => Ok(n),
            Unwound::Propagate => Err(Throw::Error),
        }
    }
}

// ---- metamethod frames ------------------------------------------------------------------

/// Call metamethod `mm` with `args` in a continuation frame above the Lua frame at
/// `base` (resuming at `pc` with continuation `k`).
#[inline(never)]
unsafe fn meta_frame(
    st: &mut State,
    base: *mut TValue,
    pc: *const u32,
    k: u64,
    mm: TValue,
    args: &[TValue],
) -> LuaResult<Ret> {
    // SAFETY: a Lua frame has framesize + STACK_EXTRA (8) slots; 4 + 3 fit.
    unsafe {
        let l = st.l;
        let top = base.add((*proto_of(base)).framesize as usize);
        *top = TValue(k);
        *top.add(1) = TValue(pc as u64);
        let func = top.add(2);
        *func = mm;
        let nb = func.add(2);
        for (i, &a) in args.iter().enumerate() {
            *nb.add(i) = a;
        }
        (*l).top = nb.add(args.len());
        let link = frame::delta_link(nb, base, FRAME_CONT).0;
        match precall(st, func, args.len(), link)? {
            Pre::Lua(b, p) => Ok(Ret::Lua(b, p, 0)),
            Pre::Done(n) => {
                let b = (*l).base;
                do_return(st, b, (*l).top.sub(n), n)
            }
        }
    }
}

// ---- metamethod resolution (shared by the interpreter and the Rust-side API) -----------

pub(crate) enum Got {
    Value(TValue),
    /// Call `mm(obj, key)`.
    Meta(TValue, TValue),
}

pub(crate) enum IndexFail {
    /// This value cannot be indexed.
    Bad(TValue),
    Loop,
}

/// Follow `__index` from `obj` for `key`.
#[inline(never)]
pub(crate) unsafe fn index_chain(st: &State, obj: TValue, key: TValue) -> Result<Got, IndexFail> {
    let mut o = obj;
    // SAFETY: values reachable from live values are live.
    unsafe {
        for _ in 0..100 {
            let mm = if let Some(t) = o.as_tab() {
                let v = table::get(t, key);
                if !v.is_nil() {
                    return Ok(Got::Value(v));
                }
                let mm = st.heap.metamethod((*t).metatable, MetaMethod::Index);
                if mm.is_nil() {
                    return Ok(Got::Value(TValue::NIL));
                }
                mm
            } else {
                let mm = st.metamethod(o, MetaMethod::Index);
                if mm.is_nil() {
                    return Err(IndexFail::Bad(o));
                }
                mm
            };
            if mm.is_func() {
                return Ok(Got::Meta(mm, o));
            }
            o = mm;
        }
    }
    Err(IndexFail::Loop)
}

pub(crate) enum Put {
    /// Store raw into this table.
    Table(*mut GcTab),
    /// Call `mm(obj, key, value)`.
    Meta(TValue, TValue),
}

/// Follow `__newindex` from `obj` for `key`.
#[inline(never)]
pub(crate) unsafe fn newindex_chain(
    st: &State,
    obj: TValue,
    key: TValue,
) -> Result<Put, IndexFail> {
    let mut o = obj;
    // SAFETY: as index_chain.
    unsafe {
        for _ in 0..100 {
            let mm = if let Some(t) = o.as_tab() {
                let mt = (*t).metatable;
                if mt.is_null() || !table::get(t, key).is_nil() {
                    return Ok(Put::Table(t));
                }
                let mm = st.heap.metamethod(mt, MetaMethod::NewIndex);
                if mm.is_nil() {
                    return Ok(Put::Table(t));
                }
                mm
            } else {
                let mm = st.metamethod(o, MetaMethod::NewIndex);
                if mm.is_nil() {
                    return Err(IndexFail::Bad(o));
                }
                mm
            };
            if mm.is_func() {
                return Ok(Put::Meta(mm, o));
            }
            o = mm;
        }
    }
    Err(IndexFail::Loop)
}

/// A value as a number, with string coercion.
#[inline]
pub(crate) fn to_number(v: TValue) -> Option<f64> {
    if v.is_number() {
        return Some(v.num());
    }
    // SAFETY: a live string.
    v.as_str()
        .and_then(|s| crate::num::str_to_number(unsafe { GcStr::bytes(s) }))
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Unm,
}

impl ArithOp {
    pub(crate) fn mm(self) -> MetaMethod {
        match self {
            ArithOp::Add => MetaMethod::Add,
            ArithOp::Sub => MetaMethod::Sub,
            ArithOp::Mul => MetaMethod::Mul,
            ArithOp::Div => MetaMethod::Div,
            ArithOp::Mod => MetaMethod::Mod,
            ArithOp::Pow => MetaMethod::Pow,
            ArithOp::Unm => MetaMethod::Unm,
        }
    }
}

/// `floor` without a libm call (the baseline x86-64 target has no `roundsd`).
#[inline(always)]
pub fn fast_floor(x: f64) -> f64 {
    if x.abs() < 4503599627370496.0 {
        let t = x as i64 as f64;
        let r = if t > x { t - 1.0 } else { t };
        // Keep the sign of -0.0 and of negative fractions that floor to -0 (none do).
        if r == 0.0 && x.is_sign_negative() {
            -0.0
        } else {
            r
        }
    } else {
        x.floor()
    }
}

#[inline(always)]
pub(crate) fn lua_mod(a: f64, b: f64) -> f64 {
    a - fast_floor(a / b) * b
}

#[inline(always)]
pub(crate) fn arith_num(op: ArithOp, a: f64, b: f64) -> f64 {
    match op {
        ArithOp::Add => a + b,
        ArithOp::Sub => a - b,
        ArithOp::Mul => a * b,
        ArithOp::Div => a / b,
        ArithOp::Mod => lua_mod(a, b),
        ArithOp::Pow => a.powf(b),
        ArithOp::Unm => -a,
    }
}

pub(crate) enum ArithFail {
    /// Operand 0 (a) or 1 (b) is the culprit.
    Operand(usize),
}

/// Arithmetic on non-numbers: string coercion, else the metamethod of a or b.
#[inline(never)]
pub(crate) fn arith_resolve(
    st: &State,
    op: ArithOp,
    a: TValue,
    b: TValue,
) -> Result<Got, ArithFail> {
    if let (Some(x), Some(y)) = (to_number(a), to_number(b)) {
        return Ok(Got::Value(TValue::from_f64(arith_num(op, x, y))));
    }
    let mut mm = st.metamethod(a, op.mm());
    if mm.is_nil() {
        mm = st.metamethod(b, op.mm());
    }
    if mm.is_nil() {
        let culprit = if to_number(a).is_none() { 0 } else { 1 };
        return Err(ArithFail::Operand(culprit));
    }
    Ok(Got::Meta(mm, TValue::NIL))
}

/// Compare two strings bytewise (Lua 5.1 in the C locale).
#[inline]
pub(crate) unsafe fn str_less(a: *mut GcStr, b: *mut GcStr, or_equal: bool) -> bool {
    // SAFETY: live strings.
    let (x, y) = unsafe { (GcStr::bytes(a), GcStr::bytes(b)) };
    if or_equal {
        x <= y
    } else {
        x < y
    }
}

pub(crate) enum Cmp {
    Value(bool),
    /// Call `mm(a, b)`; `negate`: the result is `not` the metamethod's (the __le
    /// fallback to `not (b < a)`, where the operands are already swapped).
    Meta(TValue, TValue, TValue, bool),
}

/// `a < b` (or `a <= b`) for operands that are not both numbers.
#[inline(never)]
pub(crate) fn compare_resolve(st: &mut State, a: TValue, b: TValue, le: bool) -> LuaResult<Cmp> {
    if a.is_number() && b.is_number() {
        let (x, y) = (a.num(), b.num());
        return Ok(Cmp::Value(if le { x <= y } else { x < y }));
    }
    if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
        // SAFETY: live strings.
        return Ok(Cmp::Value(unsafe { str_less(x, y, le) }));
    }
    if a.is_cdata() || b.is_cdata() {
        return crate::ffi::ops::compare(st, a, b, le);
    }
    if a.itype() == b.itype() && !a.is_number() {
        let mmk = if le { MetaMethod::Le } else { MetaMethod::Lt };
        let m1 = st.metamethod(a, mmk);
        if !m1.is_nil() && m1.raw_equal(st.metamethod(b, mmk)) {
            return Ok(Cmp::Meta(m1, a, b, false));
        }
        if le {
            let m1 = st.metamethod(a, MetaMethod::Lt);
            if !m1.is_nil() && m1.raw_equal(st.metamethod(b, MetaMethod::Lt)) {
                return Ok(Cmp::Meta(m1, b, a, true));
            }
        }
    }
    Err(debug::compare_error(st, a, b))
}

/// `__eq` for two different values of the same type (tables or userdata).
#[inline(never)]
pub(crate) fn eq_metamethod(st: &State, a: TValue, b: TValue) -> Option<TValue> {
    if a.itype() != b.itype() || !(a.is_tab() || a.is_udata()) {
        return None;
    }
    let m1 = st.metamethod(a, MetaMethod::Eq);
    if m1.is_nil() {
        return None;
    }
    if m1.raw_equal(st.metamethod(b, MetaMethod::Eq)) {
        Some(m1)
    } else {
        None
    }
}

/// One step of concatenating slots `first..=top` (right to left, as Lua does): either the
/// whole run is done, or a `__concat` call is needed whose result goes to `top - 1`.
pub(crate) enum CatStep {
    Done,
    Meta(TValue, TValue, TValue, u32),
}

fn is_catable(v: TValue) -> bool {
    v.is_str() || v.is_number()
}

/// Concatenate slots `base[first..=top]` in place, leaving the result in `base[first]`.
pub(crate) unsafe fn cat_run(
    st: &mut State,
    base: *mut TValue,
    first: u32,
    mut top: u32,
) -> LuaResult<CatStep> {
    // SAFETY: the slots are within the frame.
    unsafe {
        while top > first {
            let y = *base.add(top as usize);
            let x = *base.add(top as usize - 1);
            if !(is_catable(x) && is_catable(y)) {
                let mut mm = st.metamethod(x, MetaMethod::Concat);
                if mm.is_nil() {
                    mm = st.metamethod(y, MetaMethod::Concat);
                }
                if mm.is_nil() {
                    if x.is_cdata() || y.is_cdata() {
                        return Err(crate::ffi::ops::concat_error(st, x, y));
                    }
                    let culprit = if is_catable(x) { top } else { top - 1 };
                    return Err(debug::concat_error(st, base, culprit));
                }
                return Ok(CatStep::Meta(mm, x, y, top - 1));
            }
            // The longest run of strings/numbers ending at `top`.
            let mut k = top - 1;
            while k > first && is_catable(*base.add(k as usize - 1)) {
                k -= 1;
            }
            let mut buf = std::mem::take(&mut st.buf);
            buf.clear();
            for i in k..=top {
                let v = *base.add(i as usize);
                if let Some(s) = v.as_str() {
                    buf.extend_from_slice(GcStr::bytes(s));
                } else {
                    crate::num::push_num(&mut buf, v.num());
                }
            }
            let r = st.new_str(&buf);
            st.buf = buf;
            *base.add(k as usize) = r?;
            top = k;
        }
        Ok(CatStep::Done)
    }
}

// ---- Rust-side operations with metamethods (not yieldable) -------------------------------

/// `obj[key]` with `__index`.
pub fn index(st: &mut State, obj: TValue, key: TValue) -> LuaResult<TValue> {
    if obj.is_cdata() {
        return match crate::ffi::ops::index(st, obj, key)? {
            Got::Value(v) => Ok(v),
            Got::Meta(mm, o) => st.call_value(mm, &[o, key]),
        };
    }
    // SAFETY: live values.
    match unsafe { index_chain(st, obj, key) } {
        Ok(Got::Value(v)) => Ok(v),
        Ok(Got::Meta(mm, o)) => st.call_value(mm, &[o, key]),
        Err(IndexFail::Bad(o)) => Err(debug::op_error(st, "index", o, None)),
        Err(IndexFail::Loop) => Err(st.rt_error("loop in gettable")),
    }
}

/// `obj[key] = val` with `__newindex`.
pub fn set_index(st: &mut State, obj: TValue, key: TValue, val: TValue) -> LuaResult<()> {
    if obj.is_cdata() {
        if let Some(mm) = crate::ffi::ops::newindex(st, obj, key, val)? {
            st.call_value(mm, &[obj, key, val])?;
        }
        return Ok(());
    }
    // SAFETY: live values.
    match unsafe { newindex_chain(st, obj, key) } {
        Ok(Put::Table(t)) => st.raw_set(t, key, val),
        Ok(Put::Meta(mm, o)) => {
            st.check_stack(4)?;
            st.push(mm)?;
            st.push(o)?;
            st.push(key)?;
            st.push(val)?;
            st.call(3, 0)
        }
        Err(IndexFail::Bad(o)) => Err(debug::op_error(st, "index", o, None)),
        Err(IndexFail::Loop) => Err(st.rt_error("loop in settable")),
    }
}

/// `a == b` with `__eq`.
pub fn equals(st: &mut State, a: TValue, b: TValue) -> LuaResult<bool> {
    if a.raw_equal(b) {
        return Ok(true);
    }
    if a.is_cdata() || b.is_cdata() {
        return match crate::ffi::ops::equal(st, a, b) {
            Cmp::Value(r) => Ok(r),
            Cmp::Meta(mm, x, y, _) => Ok(st.call_value(mm, &[x, y])?.is_truthy()),
        };
    }
    match eq_metamethod(st, a, b) {
        Some(mm) => Ok(st.call_value(mm, &[a, b])?.is_truthy()),
        None => Ok(false),
    }
}

/// `a < b` (or `a <= b`) with metamethods.
pub fn less(st: &mut State, a: TValue, b: TValue, le: bool) -> LuaResult<bool> {
    match compare_resolve(st, a, b, le)? {
        Cmp::Value(r) => Ok(r),
        Cmp::Meta(mm, x, y, neg) => Ok(st.call_value(mm, &[x, y])?.is_truthy() != neg),
    }
}

/// `tostring(v)`: `__tostring`, else the default text.
pub fn tostring(st: &mut State, v: TValue) -> LuaResult<TValue> {
    if v.is_str() {
        return Ok(v);
    }
    if v.is_number() {
        return st.number_to_str(v.num());
    }
    let mm = st.metamethod(v, MetaMethod::ToString);
    if !mm.is_nil() {
        return st.call_value(mm, &[v]);
    }
    if v.is_cdata() {
        let text = crate::ffi::ops::default_text(&st.ffi.ctypes, v);
        return st.new_str(&text);
    }
    let text = match v.itype() {
        itype::NIL => "nil".to_string(),
        itype::FALSE => "false".to_string(),
        itype::TRUE => "true".to_string(),
        _ => {
            // Library functions print luajit's builtin number, everything else its address.
            // SAFETY: a live function.
            let ffid = if v.is_func() {
                unsafe { (*v.gc_ptr().cast::<GcFunc>()).ffid }
            } else {
                0
            };
            if ffid > moonjet_gc::object::ffid::NATIVE {
                format!("function: builtin#{ffid}")
            } else {
                format!("{}: {:p}", super::state::type_name(v), v.gc_ptr())
            }
        }
    };
    st.new_str(text.as_bytes())
}

// ---- loading ----------------------------------------------------------------------------

/// Compile (or undump) a chunk and push a closure over it with the globals as its
/// environment. A syntax error pushes the message and returns Ok(false).
pub(crate) fn load(st: &mut State, src: &[u8], chunkname: &[u8], mode: &[u8]) -> LuaResult<bool> {
    let binary = crate::chunk::is_binary(src);
    let allowed = if binary { b'b' } else { b't' };
    if !mode.contains(&allowed) {
        st.push_bytes(b"attempt to load chunk with wrong mode")?;
        return Ok(false);
    }
    let proto = if binary {
        match crate::chunk::load(src, chunkname) {
            Ok(p) => p,
            Err(e) => {
                st.push_bytes(e.message(chunkname).as_bytes())?;
                return Ok(false);
            }
        }
    } else {
        match crate::parse::parse(src, chunkname) {
            Ok(p) => p,
            Err(e) => {
                st.push_bytes(e.msg.as_bytes())?;
                return Ok(false);
            }
        }
    };
    let pt = match crate::load::materialize(&mut st.heap, &proto) {
        Ok(p) => p,
        Err(crate::load::MaterializeError::Memory) => return Err(st.memory_error()),
    };
    // The prototype is anchored on the stack while the closure is made.
    st.push(TValue::from_gc(pt.cast(), itype::PROTO))?;
    let env = st.globals;
    // SAFETY: live prototype and table.
    let f = unsafe { st.heap.new_lua_closure(pt, env) };
    let top = st.top();
    // SAFETY: replace the anchor slot with the closure.
    unsafe {
        match f {
            Ok(f) => {
                *top.sub(1) = tv_func(f);
                // A main chunk has no upvalues except in odd binary chunks: give them
                // fresh closed upvalues.
                for i in 0..(*pt).sizeuv as usize {
                    match st.heap.new_closed_upvalue(TValue::NIL) {
                        Ok(uv) => st.heap.set_closure_upvalue(f, i, uv),
                        Err(_) => return Err(st.memory_error()),
                    }
                }
                Ok(true)
            }
            Err(_) => {
                st.set_top(top.sub(1));
                Err(st.memory_error())
            }
        }
    }
}

// ---- the dispatch loop ------------------------------------------------------------------

/// Run Lua code from the frame at `base` at `pc` until the frame entered from Rust
/// returns. `multres` is the MULTRES value when resuming after a call.
pub(crate) unsafe fn execute_with(
    st: &mut State,
    mut base: *mut TValue,
    mut pc: *const u32,
    mut multres: usize,
) -> LuaResult<usize> {
    loop {
        // SAFETY: forwarded (module invariants).
        let step = unsafe {
            if !st.hook.hooked() {
                run::<false>(st, base, pc, multres)?
            } else {
                run::<true>(st, base, pc, multres)?
            }
        };
        match step {
            Step::Exit(n) => return Ok(n),
            Step::Switch(b, p, m) => (base, pc, multres) = (b, p, m),
        }
    }
}

/// How a run of the dispatch loop ended.
enum Step {
    /// The frame entered from Rust returned `n` results.
    Exit(usize),
    /// Hooks were set or cleared: go on at this point in the other loop.
    Switch(*mut TValue, *const u32, usize),
}

/// The dispatch loop. `HOOKED` is the instantiation that runs debug hooks; each loop
/// hands over to the other at calls, returns and back-edges when the hook mask says so.
#[allow(clippy::neg_cmp_op_on_partial_ord)] // `not (a < b)` is how Lua's >= treats NaN
unsafe fn run<const HOOKED: bool>(
    st: &mut State,
    mut base: *mut TValue,
    mut pc: *const u32,
    multres: usize,
) -> LuaResult<Step> {
    // SAFETY: module invariants (see the top of this file).
    unsafe {
        let l = st.l;
        let mut pt = proto_of(base);
        let mut kgc = (*pt).kgc;
        let mut kn = (*pt).kn;
        // MULTRES (the count of the last multiple results, or of VARG's values) is read
        // by few instructions: it lives in this volatile stack slot rather than in a
        // register the allocator would shuffle at every dispatch. The pointer is to a
        // local of this call, valid until it returns.
        let mut multres_slot = multres;
        let mr: *mut usize = std::ptr::addr_of_mut!(multres_slot);
        macro_rules! multres {
            () => {
                mr.read_volatile()
            };
        }
        macro_rules! set_multres {
            ($n:expr) => {
                mr.write_volatile($n)
            };
        }

        macro_rules! reload {
            () => {{
                pt = proto_of(base);
                kgc = (*pt).kgc;
                kn = (*pt).kn;
            }};
        }
        macro_rules! r {
            ($i:expr) => {
                *base.add($i as usize)
            };
        }
        macro_rules! kstr {
            ($i:expr) => {
                (*kgc.add($i as usize)).gc_ptr().cast::<GcStr>()
            };
        }
        // A number constant as a value (constants are canonical: no NaN check).
        macro_rules! knumv {
            ($i:expr) => {
                TValue(*kn.cast::<u64>().add($i as usize))
            };
        }
        macro_rules! knum {
            ($i:expr) => {
                *kn.add($i as usize)
            };
        }
        // Go on in the frame a return or a metamethod call leads to.
        // Evaluate a fallible step; on error leave the dispatch loop to unwind.
        macro_rules! save {
            () => {
                st.savedpc = pc;
            };
        }
        // At control transfers: hand over to the other loop if hooks were set or cleared.
        macro_rules! check_hooks {
            () => {
                if st.hook.hooked() != HOOKED {
                    return Ok(Step::Switch(base, pc, multres!()));
                }
            };
        }
        // At loop back-edges (`pc` is where the loop goes on, `$here` the loop
        // instruction): with the JIT off and no hooks the mask is exactly `JIT_OFF`, so
        // the plain loop pays one compare for the JIT and the hooks together. With the
        // JIT on, `$jit` runs: it counts the loop or enters its trace.
        macro_rules! back_edge {
            ($jit:ident, $here:expr) => {{
                let m = st.hook.mask();
                if m != hook::mask::JIT_OFF {
                    if m & hook::mask::JIT_OFF == 0 {
                        $jit!($here);
                    }
                    check_hooks!();
                }
            }};
        }
        // A loop with the JIT on counts towards recording.
        macro_rules! hotcount {
            ($here:expr) => {{
                jit_iface::count_loop(st, pt, base, $here);
            }};
        }
        // A FORL leaving its loop counts too, as luajit's does (a recording started there
        // aborts: it leaves the loop).
        macro_rules! exit_count {
            ($here:expr) => {{
                back_edge!(hotcount, $here);
            }};
        }
        // After trace code ran: go on where it left, in the frame it left in (deeper than
        // the one it was entered in if it left inside recursive calls it made).
        macro_rules! resume_after_trace {
            ($at:expr) => {{
                let (b, p) = $at;
                if b != base {
                    base = b;
                    reload!();
                    (*l).base = base;
                    (*l).top = base.add((*pt).framesize as usize);
                }
                pc = p;
            }};
        }
        // A Lua function was just called (its frame is set up, `pc` at its first
        // instruction): with the JIT on and nothing else in the hook mask (no hook,
        // recording or interrupt), the call counts towards a function trace, or runs the
        // one there is.
        macro_rules! function_entry {
            () => {{
                if !HOOKED && st.hook.mask() == 0 {
                    if let Some(at) = tr!(jit_iface::function_entry(st, pt, base)) {
                        resume_after_trace!(at);
                    }
                }
            }};
        }
        // A compiled loop with the JIT on runs its trace.
        macro_rules! enter_trace {
            ($here:expr) => {{
                if let Some(at) = tr!(jit_iface::enter_loop(st, pt, base, $here)) {
                    resume_after_trace!(at);
                }
            }};
        }
        // After an allocation: pending finalizers run, above the frame's live slots. They
        // are Lua code, which may grow the stack and so move this frame.
        macro_rules! finalizers {
            () => {{
                if st.heap.pending_finalizers() != 0 {
                    let frame_top = base.add((*pt).framesize as usize);
                    if (*l).top < frame_top {
                        (*l).top = frame_top;
                    }
                    let off = base.offset_from((*l).stack);
                    st.check_finalizers();
                    base = (*l).stack.offset(off);
                }
            }};
        }
        // A blacklisted loop is not counted.
        macro_rules! no_jit {
            ($here:expr) => {{
                let _ = $here;
            }};
        }

        loop {
            let err: Throw = 'dispatch: loop {
                macro_rules! go {
                    ($ret:expr) => {{
                        match $ret {
                            Ret::Lua(b, p, n) => {
                                base = b;
                                pc = p;
                                set_multres!(n);
                                reload!();
                                check_hooks!();
                                continue;
                            }
                            Ret::Exit(n) => return Ok(Step::Exit(n)),
                        }
                    }};
                }
                macro_rules! tr {
                    ($e:expr) => {{
                        match $e {
                            Ok(v) => v,
                            Err(t) => break 'dispatch t,
                        }
                    }};
                }
                macro_rules! cond_jump {
                    ($cond:expr) => {{
                        if $cond {
                            pc = jump_target(pc.add(1), *pc);
                        } else {
                            pc = pc.add(1);
                        }
                    }};
                }
                // FORL and its JIT forms: step the loop; going on, `$jit` (see back_edge); leaving,
                // `$on_exit`.
                macro_rules! forl {
                    ($jit:ident, $on_exit:ident, $a:expr, $ins:expr) => {{
                        let ra = base.add($a as usize);
                        let step = (*ra.add(2)).num();
                        let i = (*ra).num() + step;
                        let stop = (*ra.add(1)).num();
                        *ra = TValue::from_arith(i);
                        // Two plain branches: the direction is almost always predicted.
                        let go_on = if step >= 0.0 { i <= stop } else { stop <= i };
                        if go_on {
                            *ra.add(3) = TValue::from_arith(i);
                            let here = pc.sub(1);
                            pc = jump_target(pc, $ins);
                            back_edge!($jit, here);
                        } else {
                            $on_exit!(pc.sub(1));
                        }
                    }};
                }
                macro_rules! arith {
                    ($op:expr, $a:expr, $b:expr, $dst:expr, $ins:expr) => {{
                        let (x, y) = ($a, $b);
                        if x.is_number() && y.is_number() {
                            let n = arith_num($op, x.num(), y.num());
                            // libm's pow may make NaNs of its own: canonicalise those.
                            r!($dst) = if matches!($op, ArithOp::Pow) {
                                TValue::from_f64(n)
                            } else {
                                TValue::from_arith(n)
                            };
                        } else if x.is_cdata() || y.is_cdata() {
                            save!();
                            match tr!(crate::ffi::ops::arith(st, $op, x, y)) {
                                Got::Value(v) => r!($dst) = v,
                                Got::Meta(mm, _) => {
                                    go!(tr!(meta_frame(st, base, pc, cont::RA, mm, &[x, y])))
                                }
                            }
                        } else {
                            save!();
                            match arith_resolve(st, $op, x, y) {
                                Ok(Got::Value(v)) => r!($dst) = v,
                                Ok(Got::Meta(mm, _)) => {
                                    go!(tr!(meta_frame(st, base, pc, cont::RA, mm, &[x, y])))
                                }
                                Err(ArithFail::Operand(which)) => {
                                    tr!(Err(debug::arith_error(st, base, $ins, which)))
                                }
                            }
                        }
                    }};
                }
                if HOOKED
                    && st.hook.mask()
                        & (hook::mask::LINE
                            | hook::mask::COUNT
                            | hook::mask::INTERRUPT
                            | hook::mask::CALLBACK_ERROR)
                        != 0
                {
                    st.savedpc = pc.add(1);
                    let frame_top = base.add((*pt).framesize as usize);
                    if (*l).top < frame_top {
                        (*l).top = frame_top;
                    }
                    let off = base.offset_from((*l).stack);
                    tr!(hook::instruction_hook(st, pt, pc));
                    base = (*l).stack.offset(off);
                }
                if HOOKED && st.hook.mask() & hook::mask::RECORD != 0 {
                    st.savedpc = pc.add(1);
                    let r = st.with_engine(|e, st| e.record(st, pt, base, pc));
                    if r != Some(jit_iface::Recording::Continue) {
                        st.stop_recording();
                    }
                }
                let ins = *pc;
                pc = pc.add(1);
                let a = bc::a(ins);
                match std::mem::transmute::<u8, Op>(bc::op(ins)) {
                    // ---- comparisons ----
                    Op::ISLT | Op::ISGE | Op::ISLE | Op::ISGT => {
                        let x = r!(a);
                        let y = r!(bc::d(ins));
                        let o = bc::op(ins);
                        let res = if x.is_number() && y.is_number() {
                            let (x, y) = (x.num(), y.num());
                            match o {
                                0 => x < y,
                                1 => !(x < y),
                                2 => x <= y,
                                _ => !(x <= y),
                            }
                        } else {
                            save!();
                            let le = o == Op::ISLE as u8 || o == Op::ISGT as u8;
                            let negate = o == Op::ISGE as u8 || o == Op::ISGT as u8;
                            match tr!(compare_resolve(st, x, y, le)) {
                                Cmp::Value(r) => r != negate,
                                Cmp::Meta(mm, p, q, neg) => {
                                    let k = if neg != negate {
                                        cont::COND_FALSE
                                    } else {
                                        cont::COND_TRUE
                                    };
                                    go!(tr!(meta_frame(st, base, pc, k, mm, &[p, q])))
                                }
                            }
                        };
                        cond_jump!(res);
                    }
                    Op::ISEQV | Op::ISNEV => {
                        let x = r!(a);
                        let y = r!(bc::d(ins));
                        let eq_op = bc::op(ins) == Op::ISEQV as u8;
                        let eq = if x.is_number() && y.is_number() {
                            x.num() == y.num()
                        } else if x.0 == y.0 {
                            true
                        } else if x.is_cdata() || y.is_cdata() {
                            save!();
                            match crate::ffi::ops::equal(st, x, y) {
                                Cmp::Value(r) => r,
                                Cmp::Meta(mm, p, q, _) => {
                                    let k = if eq_op {
                                        cont::COND_TRUE
                                    } else {
                                        cont::COND_FALSE
                                    };
                                    go!(tr!(meta_frame(st, base, pc, k, mm, &[p, q])))
                                }
                            }
                        } else if let Some(mm) = eq_metamethod(st, x, y) {
                            save!();
                            let k = if eq_op {
                                cont::COND_TRUE
                            } else {
                                cont::COND_FALSE
                            };
                            go!(tr!(meta_frame(st, base, pc, k, mm, &[x, y])))
                        } else {
                            false
                        };
                        cond_jump!(eq == eq_op);
                    }
                    Op::ISEQS | Op::ISNES => {
                        let x = r!(a);
                        let eq_op = bc::op(ins) == Op::ISEQS as u8;
                        let k = *kgc.add(bc::d(ins) as usize);
                        let eq = x.0 == k.0;
                        if !eq && x.is_cdata() {
                            save!();
                            go!(tr!(cdata_equal(st, base, pc, x, k, eq_op)))
                        }
                        cond_jump!(eq == eq_op);
                    }
                    Op::ISEQN | Op::ISNEN => {
                        let x = r!(a);
                        let eq_op = bc::op(ins) == Op::ISEQN as u8;
                        let eq = if x.is_number() {
                            x.num() == knum!(bc::d(ins))
                        } else if x.is_cdata() {
                            save!();
                            let k = knumv!(bc::d(ins));
                            go!(tr!(cdata_equal(st, base, pc, x, k, eq_op)))
                        } else {
                            false
                        };
                        cond_jump!(eq == eq_op);
                    }
                    Op::ISEQP | Op::ISNEP => {
                        let x = r!(a);
                        let eq_op = bc::op(ins) == Op::ISEQP as u8;
                        let eq = x.itype() == (!bc::d(ins)) & 0x1fff && !x.is_number()
                            || x.0 == pri(bc::d(ins)).0;
                        if !eq && x.is_cdata() {
                            save!();
                            let k = pri(bc::d(ins));
                            go!(tr!(cdata_equal(st, base, pc, x, k, eq_op)))
                        }
                        cond_jump!(eq == eq_op);
                    }
                    Op::ISTC | Op::ISFC => {
                        let v = r!(bc::d(ins));
                        if v.is_truthy() == (bc::op(ins) == Op::ISTC as u8) {
                            r!(a) = v;
                            pc = jump_target(pc.add(1), *pc);
                        } else {
                            pc = pc.add(1);
                        }
                    }
                    Op::IST | Op::ISF => {
                        let v = r!(bc::d(ins));
                        cond_jump!(v.is_truthy() == (bc::op(ins) == Op::IST as u8));
                    }
                    Op::ISTYPE | Op::ISNUM => {
                        save!();
                        tr!(Err(st.rt_error("unsupported instruction")));
                    }
                    // ---- unary ----
                    Op::MOV => r!(a) = r!(bc::d(ins)),
                    Op::NOT => r!(a) = TValue::from_bool(!r!(bc::d(ins)).is_truthy()),
                    Op::UNM => {
                        let v = r!(bc::d(ins));
                        if v.is_number() {
                            r!(a) = TValue::from_arith(-v.num());
                        } else {
                            arith!(ArithOp::Unm, v, v, a, ins)
                        }
                    }
                    Op::LEN => {
                        let v = r!(bc::d(ins));
                        if let Some(t) = v.as_tab() {
                            r!(a) = TValue::from_f64(table::len(t) as f64);
                        } else if let Some(s) = v.as_str() {
                            r!(a) = TValue::from_f64((*s).len as f64);
                        } else {
                            save!();
                            let mm = if v.is_cdata() {
                                match tr!(crate::ffi::ops::len(st, v)) {
                                    Got::Value(x) => {
                                        r!(a) = x;
                                        continue;
                                    }
                                    Got::Meta(mm, _) => mm,
                                }
                            } else {
                                let mm = st.metamethod(v, MetaMethod::Len);
                                if mm.is_nil() {
                                    tr!(Err(debug::slot_op_error(
                                        st,
                                        base,
                                        "get length of",
                                        bc::d(ins)
                                    )));
                                }
                                mm
                            };
                            go!(tr!(meta_frame(
                                st,
                                base,
                                pc,
                                cont::RA,
                                mm,
                                &[v, TValue::NIL]
                            )))
                        }
                    }
                    // ---- binary arithmetic ----
                    Op::ADDVN => arith!(ArithOp::Add, r!(bc::b(ins)), knumv!(bc::c(ins)), a, ins),
                    Op::SUBVN => arith!(ArithOp::Sub, r!(bc::b(ins)), knumv!(bc::c(ins)), a, ins),
                    Op::MULVN => arith!(ArithOp::Mul, r!(bc::b(ins)), knumv!(bc::c(ins)), a, ins),
                    Op::DIVVN => arith!(ArithOp::Div, r!(bc::b(ins)), knumv!(bc::c(ins)), a, ins),
                    Op::MODVN => arith!(ArithOp::Mod, r!(bc::b(ins)), knumv!(bc::c(ins)), a, ins),
                    Op::ADDNV => arith!(ArithOp::Add, knumv!(bc::c(ins)), r!(bc::b(ins)), a, ins),
                    Op::SUBNV => arith!(ArithOp::Sub, knumv!(bc::c(ins)), r!(bc::b(ins)), a, ins),
                    Op::MULNV => arith!(ArithOp::Mul, knumv!(bc::c(ins)), r!(bc::b(ins)), a, ins),
                    Op::DIVNV => arith!(ArithOp::Div, knumv!(bc::c(ins)), r!(bc::b(ins)), a, ins),
                    Op::MODNV => arith!(ArithOp::Mod, knumv!(bc::c(ins)), r!(bc::b(ins)), a, ins),
                    Op::ADDVV => arith!(ArithOp::Add, r!(bc::b(ins)), r!(bc::c(ins)), a, ins),
                    Op::SUBVV => arith!(ArithOp::Sub, r!(bc::b(ins)), r!(bc::c(ins)), a, ins),
                    Op::MULVV => arith!(ArithOp::Mul, r!(bc::b(ins)), r!(bc::c(ins)), a, ins),
                    Op::DIVVV => arith!(ArithOp::Div, r!(bc::b(ins)), r!(bc::c(ins)), a, ins),
                    Op::MODVV => arith!(ArithOp::Mod, r!(bc::b(ins)), r!(bc::c(ins)), a, ins),
                    Op::POW => arith!(ArithOp::Pow, r!(bc::b(ins)), r!(bc::c(ins)), a, ins),
                    Op::CAT => {
                        save!();
                        let first = bc::b(ins);
                        let top = st.cat_top.take().unwrap_or(bc::c(ins));
                        match tr!(cat_run(st, base, first, top)) {
                            CatStep::Done => {
                                r!(a) = r!(first);
                                finalizers!();
                            }
                            CatStep::Meta(mm, x, y, slot) => {
                                let k = cont::CAT | (slot as u64) << 8;
                                go!(tr!(meta_frame(st, base, pc, k, mm, &[x, y])))
                            }
                        }
                    }
                    // ---- constants ----
                    Op::KSTR => r!(a) = *kgc.add(bc::d(ins) as usize),
                    // cdata constants are immutable (64-bit integers, complex numbers): the
                    // register shares the prototype's object, as luajit's does.
                    Op::KCDATA => r!(a) = *kgc.add(bc::d(ins) as usize),
                    Op::KSHORT => r!(a) = TValue::from_f64(bc::d(ins) as i16 as f64),
                    Op::KNUM => r!(a) = knumv!(bc::d(ins)),
                    Op::KPRI => r!(a) = pri(bc::d(ins)),
                    Op::KNIL => {
                        for i in a..=bc::d(ins) {
                            r!(i) = TValue::NIL;
                        }
                    }
                    // ---- upvalues ----
                    Op::UGET => {
                        let uv = *GcFunc::lua_upvals(func_of(base)).add(bc::d(ins) as usize);
                        r!(a) = *(*uv).v;
                    }
                    Op::USETV | Op::USETS | Op::USETN | Op::USETP => {
                        let uv: *mut GcUpval = *GcFunc::lua_upvals(func_of(base)).add(a as usize);
                        let d = bc::d(ins);
                        let v = match bc::op(ins) {
                            o if o == Op::USETV as u8 => r!(d),
                            o if o == Op::USETS as u8 => *kgc.add(d as usize),
                            o if o == Op::USETN as u8 => TValue::from_f64(knum!(d)),
                            _ => pri(d),
                        };
                        *(*uv).v = v;
                        if (*uv).closed != 0 && (*uv).marked & mark::BLACK != 0 && v.is_gc() {
                            st.heap.barrier_forward(uv.cast(), v);
                        }
                    }
                    Op::UCLO => {
                        st.heap.close_upvalues(l, base.add(a as usize));
                        pc = jump_target(pc, ins);
                    }
                    Op::FNEW => {
                        save!();
                        let child = (*kgc.add(bc::d(ins) as usize)).gc_ptr().cast::<GcProto>();
                        tr!(new_closure(st, base, a, child));
                        finalizers!();
                    }
                    // ---- tables ----
                    Op::TNEW => {
                        save!();
                        let d = bc::d(ins);
                        let t = match st.heap.new_table(d & 0x7ff, d >> 11) {
                            Ok(t) => t,
                            Err(_) => tr!(Err(st.memory_error())),
                        };
                        r!(a) = TValue::from_tab(t);
                        finalizers!();
                    }
                    Op::TDUP => {
                        save!();
                        let tpl = (*kgc.add(bc::d(ins) as usize)).gc_ptr().cast::<GcTab>();
                        let t = match table::dup(&mut st.heap, tpl) {
                            Ok(t) => t,
                            Err(_) => tr!(Err(st.memory_error())),
                        };
                        r!(a) = TValue::from_tab(t);
                        finalizers!();
                    }
                    Op::GGET => {
                        let env = (*func_of(base)).env;
                        let key = kstr!(bc::d(ins));
                        let v = table::get_str(env, key);
                        if !v.is_nil() || (*env).metatable.is_null() {
                            r!(a) = v;
                        } else {
                            save!();
                            let kv = TValue::from_gcstr(key);
                            match tr!(get_slow(st, TValue::from_tab(env), kv, None)) {
                                Got::Value(v) => r!(a) = v,
                                Got::Meta(mm, o) => {
                                    go!(tr!(meta_frame(st, base, pc, cont::RA, mm, &[o, kv])))
                                }
                            }
                        }
                    }
                    Op::GSET => {
                        let env = (*func_of(base)).env;
                        let kv = TValue::from_gcstr(kstr!(bc::d(ins)));
                        let v = r!(a);
                        save!();
                        if let Some(ret) =
                            tr!(set_any(st, base, pc, TValue::from_tab(env), kv, v, None))
                        {
                            go!(ret)
                        }
                    }
                    Op::TGETV | Op::TGETS | Op::TGETB | Op::TGETR => {
                        let o = r!(bc::b(ins));
                        let c = bc::c(ins);
                        let op = bc::op(ins);
                        let key = if op == Op::TGETS as u8 {
                            TValue::from_gcstr(kstr!(c))
                        } else if op == Op::TGETB as u8 {
                            TValue::from_f64(c as f64)
                        } else {
                            r!(c)
                        };
                        if let Some(t) = o.as_tab() {
                            let v = if op == Op::TGETS as u8 {
                                table::get_str(t, key.gc_ptr().cast())
                            } else if op == Op::TGETB as u8 {
                                table::get_int(t, c as i64)
                            } else {
                                table::get(t, key)
                            };
                            if !v.is_nil() || (*t).metatable.is_null() || op == Op::TGETR as u8 {
                                r!(a) = v;
                                continue;
                            }
                        } else if op == Op::TGETS as u8 && o.is_str() {
                            // `s:method`: the string metatable's __index table, inline.
                            if let Some(t) = string_index_table(st) {
                                let v = table::get_str(t, key.gc_ptr().cast());
                                if !v.is_nil() || (*t).metatable.is_null() {
                                    r!(a) = v;
                                    continue;
                                }
                            }
                        }
                        save!();
                        match tr!(get_slow(st, o, key, Some(bc::b(ins)))) {
                            Got::Value(v) => r!(a) = v,
                            Got::Meta(mm, obj) => {
                                go!(tr!(meta_frame(st, base, pc, cont::RA, mm, &[obj, key])))
                            }
                        }
                    }
                    Op::TSETV | Op::TSETS | Op::TSETB | Op::TSETR => {
                        let o = r!(bc::b(ins));
                        let c = bc::c(ins);
                        let op = bc::op(ins);
                        let v = r!(a);
                        if let Some(t) = o.as_tab() {
                            if op == Op::TSETB as u8 && c < (*t).asize {
                                let slot = (*t).array.add(c as usize);
                                if !(*slot).is_nil() || (*t).metatable.is_null() {
                                    if (*t).marked & mark::BLACK != 0 {
                                        st.heap.barrier_back(t);
                                    }
                                    *slot = v;
                                    continue;
                                }
                            } else if op == Op::TSETV as u8 {
                                let k = r!(c);
                                if k.is_number() {
                                    let d = k.num();
                                    let i = d as i64;
                                    if i as f64 == d && (i as u64) < (*t).asize as u64 {
                                        let slot = (*t).array.add(i as usize);
                                        if !(*slot).is_nil() || (*t).metatable.is_null() {
                                            if (*t).marked & mark::BLACK != 0 {
                                                st.heap.barrier_back(t);
                                            }
                                            *slot = v;
                                            continue;
                                        }
                                    }
                                }
                            }
                        }
                        let key = if op == Op::TSETS as u8 {
                            TValue::from_gcstr(kstr!(c))
                        } else if op == Op::TSETB as u8 {
                            TValue::from_f64(c as f64)
                        } else {
                            r!(c)
                        };
                        save!();
                        if op == Op::TSETR as u8 {
                            if let Some(t) = o.as_tab() {
                                tr!(st.raw_set(t, key, v));
                                continue;
                            }
                        }
                        if let Some(ret) = tr!(set_any(st, base, pc, o, key, v, Some(bc::b(ins)))) {
                            go!(ret)
                        }
                    }
                    Op::TSETM => {
                        save!();
                        let t = r!(a - 1).gc_ptr().cast::<GcTab>();
                        let start = (knum!(bc::d(ins)).to_bits() & 0xffff_ffff) as i64;
                        for i in 0..multres!() {
                            let v = r!(a as usize + i);
                            tr!(st.raw_set(t, TValue::from_f64((start + i as i64) as f64), v));
                        }
                    }
                    // ---- calls and returns ----
                    Op::CALL | Op::CALLM => {
                        // CALL: C = args + 1; CALLM: C fixed args before the MULTRES ones.
                        let nargs = if bc::op(ins) == Op::CALLM as u8 {
                            bc::c(ins) as usize + multres!()
                        } else {
                            bc::c(ins) as usize - 1
                        };
                        save!();
                        let func = base.add(a as usize);
                        // The common call, a Lua function with fixed parameters whose frame
                        // fits the stack, is set up here; the rest goes through `precall`.
                        // The hooked loop always takes `precall` (it runs call hooks).
                        let fv = *func;
                        if !HOOKED && fv.is_func() {
                            let f = fv.gc_ptr().cast::<GcFunc>();
                            if (*f).is_lua() {
                                let npt = (*f).proto;
                                let fs = (*npt).framesize as usize;
                                let nb = func.add(2);
                                if (*npt).flags & flags::VARARG as u32 == 0
                                    && nb.add(fs + STACK_EXTRA) <= (*l).maxstack
                                {
                                    *func.add(1) = TValue(pc as u64);
                                    for i in nargs..(*npt).numparams as usize {
                                        *nb.add(i) = TValue::NIL;
                                    }
                                    (*l).base = nb;
                                    (*l).top = nb.add(fs);
                                    base = nb;
                                    pc = (*npt).bc.add(1);
                                    pt = npt;
                                    kgc = (*pt).kgc;
                                    kn = (*pt).kn;
                                    function_entry!();
                                    if st.hook.hooked() {
                                        // A hook was set (by an interrupt, say): run the
                                        // call hook `precall` would have run, then switch.
                                        tr!(hook_after_call(st, pc));
                                        base = (*l).base;
                                        return Ok(Step::Switch(base, pc, multres!()));
                                    }
                                    continue;
                                }
                            }
                        }
                        match tr!(precall(st, func, nargs, pc as u64)) {
                            Pre::Lua(b, p) => {
                                base = b;
                                pc = p;
                                reload!();
                                function_entry!();
                                check_hooks!();
                            }
                            Pre::Done(n) => {
                                // Finalizers run above the native's results, before they
                                // are moved: they may grow (and so move) the stack, which
                                // the positions below are taken from afterwards.
                                st.check_finalizers();
                                let nb = (*l).base;
                                if (*nb.sub(1)).0 == pc as u64 {
                                    // A native called right here returned: its results
                                    // go to the call slot (the stack may have moved).
                                    base = results_to_lua(l, nb, (*l).top.sub(n), n, ins);
                                    set_multres!(n);
                                    check_hooks!();
                                    continue;
                                }
                                let ret = tr!(do_return(st, nb, (*l).top.sub(n), n));
                                go!(ret)
                            }
                        }
                    }
                    Op::CALLT | Op::CALLMT => {
                        let nargs = if bc::op(ins) == Op::CALLMT as u8 {
                            bc::d(ins) as usize + multres!()
                        } else {
                            bc::d(ins) as usize - 1
                        };
                        save!();
                        // Pop a vararg frame first: the tail call replaces the real frame.
                        let mut fb = base;
                        let mut link = (*fb.sub(1)).0;
                        if !frame::is_lua(link) && frame::ftype(link) == FRAME_VARG {
                            fb = frame::delta_prev(fb, link);
                            link = (*fb.sub(1)).0;
                        }
                        let func = base.add(a as usize);
                        let mut nargs = nargs;
                        if !(*func).is_func() {
                            // Resolve __call (or fail) while this frame is still intact.
                            (_, nargs, _) = tr!(call_metamethod(st, func, nargs));
                        }
                        if !(*l).openupval.is_null() {
                            st.heap.close_upvalues(l, fb.sub(2));
                        }
                        copy_values(func, fb.sub(2), 1);
                        copy_values(func.add(2), fb, nargs);
                        (*l).top = fb.add(nargs);
                        match tr!(precall(st, fb.sub(2), nargs, link)) {
                            Pre::Lua(b, p) => {
                                base = b;
                                pc = p;
                                reload!();
                                function_entry!();
                                check_hooks!();
                            }
                            Pre::Done(n) => {
                                let b = (*l).base;
                                go!(tr!(do_return(st, b, (*l).top.sub(n), n)))
                            }
                        }
                    }
                    Op::ITERC | Op::ITERN => {
                        let ra = base.add(a as usize);
                        let f = *ra.sub(3);
                        if bc::op(ins) == Op::ITERN as u8
                            && f.is_func()
                            && (*f.gc_ptr().cast::<GcFunc>()).ffid == ff::NEXT
                        {
                            if let Some(t) = (*ra.sub(2)).as_tab() {
                                save!();
                                match table::next(t, *ra.sub(1)) {
                                    Ok(Some((k, v))) => {
                                        *ra = k;
                                        *ra.add(1) = v;
                                    }
                                    Ok(None) => *ra = TValue::NIL,
                                    Err(e) => tr!(Err(st.tab_error(e))),
                                }
                                continue;
                            }
                        }
                        *ra = f;
                        *ra.add(2) = *ra.sub(2);
                        *ra.add(3) = *ra.sub(1);
                        save!();
                        (*l).top = ra.add(4);
                        match tr!(precall(st, ra, 2, pc as u64)) {
                            Pre::Lua(b, p) => {
                                base = b;
                                pc = p;
                                reload!();
                                check_hooks!();
                            }
                            Pre::Done(n) => {
                                let b = (*l).base;
                                go!(tr!(do_return(st, b, (*l).top.sub(n), n)))
                            }
                        }
                    }
                    Op::ISNEXT => pc = jump_target(pc, ins),
                    Op::VARG => {
                        let want = bc::b(ins) as usize;
                        let link = (*base.sub(1)).0;
                        let np = (*pt).numparams as usize;
                        let (src, nvar) =
                            if !frame::is_lua(link) && frame::ftype(link) == FRAME_VARG {
                                let slots = ((link & !7) / 8) as usize;
                                let orig = frame::delta_prev(base, link);
                                (orig.add(np), slots.saturating_sub(2 + np))
                            } else {
                                (base, 0)
                            };
                        if want == 0 {
                            let dst = base.add(a as usize);
                            if dst.add(nvar + STACK_EXTRA) > (*l).maxstack {
                                save!();
                                let (bo, so) =
                                    (base.offset_from((*l).stack), src.offset_from((*l).stack));
                                (*l).top = base.add((*pt).framesize as usize);
                                tr!(st.grow_stack(a as usize + nvar));
                                base = (*l).stack.offset(bo);
                                let src = (*l).stack.offset(so);
                                std::ptr::copy(src, base.add(a as usize), nvar);
                            } else {
                                std::ptr::copy(src, dst, nvar);
                            }
                            set_multres!(nvar);
                            let t = base.add(a as usize + nvar);
                            if t > (*l).top {
                                (*l).top = t;
                            }
                        } else {
                            for i in 0..want - 1 {
                                r!(a as usize + i) =
                                    if i < nvar { *src.add(i) } else { TValue::NIL };
                            }
                        }
                    }
                    Op::RET0 | Op::RET1 | Op::RET | Op::RETM => {
                        // RETM's D counts fixed results; the others' D is results + 1.
                        let n = if bc::op(ins) == Op::RETM as u8 {
                            bc::d(ins) as usize + multres!()
                        } else {
                            bc::d(ins) as usize - 1
                        };
                        save!();
                        if HOOKED && st.hook.mask() & hook::mask::RET != 0 {
                            let off = base.offset_from((*l).stack);
                            tr!(hook::call_hook(st, b"return", None));
                            base = (*l).stack.offset(off);
                        }
                        let link = (*base.sub(1)).0;
                        if frame::is_lua(link) {
                            // The common return to a Lua caller, without the call.
                            let rpc = link as *const u32;
                            base = results_to_lua(l, base, base.add(a as usize), n, *rpc.sub(1));
                            pc = rpc;
                            set_multres!(n);
                            reload!();
                            check_hooks!();
                            continue;
                        }
                        go!(tr!(do_return(st, base, base.add(a as usize), n)))
                    }
                    // ---- loops ----
                    Op::FORI | Op::JFORI => {
                        let ra = base.add(a as usize);
                        if !((*ra).is_number()
                            && (*ra.add(1)).is_number()
                            && (*ra.add(2)).is_number())
                        {
                            save!();
                            tr!(for_coerce(st, ra));
                        }
                        let (i, stop, step) = ((*ra).num(), (*ra.add(1)).num(), (*ra.add(2)).num());
                        if if step >= 0.0 { i <= stop } else { i >= stop } {
                            *ra.add(3) = *ra;
                        } else {
                            pc = jump_target(pc, ins);
                        }
                    }
                    // FORL, IFORL and JFORL are separate arms so that none tests its opcode.
                    Op::FORL => forl!(hotcount, exit_count, a, ins),
                    Op::JFORL => forl!(enter_trace, no_jit, a, ins),
                    Op::IFORL => forl!(no_jit, no_jit, a, ins),
                    Op::ITERL | Op::IITERL | Op::JITERL => {
                        let v = r!(a);
                        if !v.is_nil() {
                            r!(a - 1) = v;
                            pc = jump_target(pc, ins);
                            check_hooks!();
                        }
                    }
                    Op::LOOP => back_edge!(hotcount, pc.sub(1)),
                    Op::JLOOP => back_edge!(enter_trace, pc.sub(1)),
                    Op::ILOOP => back_edge!(no_jit, pc.sub(1)),
                    Op::JMP => {
                        pc = jump_target(pc, ins);
                        check_hooks!();
                    }
                    Op::FUNCF
                    | Op::IFUNCF
                    | Op::JFUNCF
                    | Op::FUNCV
                    | Op::IFUNCV
                    | Op::JFUNCV
                    | Op::FUNCC
                    | Op::FUNCCW => {}
                }
            };
            // An error left the dispatch loop: find the pcall frame that catches it.
            if err == Throw::Yield {
                return Err(err);
            }
            match unwind(st)? {
                Unwound::Continue(Ret::Lua(b, p, n)) => {
                    base = b;
                    pc = p;
                    set_multres!(n);
                    reload!();
                    check_hooks!();
                }
                Unwound::Continue(Ret::Exit(n)) => return Ok(Step::Exit(n)),
                Unwound::Propagate => return Err(Throw::Error),
            }
        }
    }
}

/// A primitive constant (KPRI's D: 0 nil, 1 false, 2 true).
#[inline(always)]
fn pri(d: u32) -> TValue {
    match d {
        0 => TValue::NIL,
        1 => TValue::FALSE,
        _ => TValue::TRUE,
    }
}

/// The `__index` of the string metatable when it is a table (the string library).
#[inline(always)]
unsafe fn string_index_table(st: &State) -> Option<*mut GcTab> {
    let mt = st.typemt[itype::STR as usize];
    // SAFETY: a non-null type metatable is a live, rooted table.
    unsafe { st.heap.metamethod(mt, MetaMethod::Index) }.as_tab()
}

/// An equality test (`ISEQ*`/`ISNE*`) with a cdata operand: the FFI decides, or its
/// `__eq` metamethod runs in a continuation frame. Goes on after the test's jump.
#[inline(never)]
unsafe fn cdata_equal(
    st: &mut State,
    base: *mut TValue,
    pc: *const u32,
    x: TValue,
    y: TValue,
    eq_op: bool,
) -> LuaResult<Ret> {
    // SAFETY: module invariants: `pc` is the instruction after the test, the jump.
    unsafe {
        match crate::ffi::ops::equal(st, x, y) {
            Cmp::Value(r) => {
                let next = if r == eq_op {
                    jump_target(pc.add(1), *pc)
                } else {
                    pc.add(1)
                };
                Ok(Ret::Lua(base, next, 0))
            }
            Cmp::Meta(mm, p, q, _) => {
                let k = if eq_op {
                    cont::COND_TRUE
                } else {
                    cont::COND_FALSE
                };
                meta_frame(st, base, pc, k, mm, &[p, q])
            }
        }
    }
}

/// The slow path of an index read: metamethods and errors.
#[inline(never)]
unsafe fn get_slow(st: &mut State, o: TValue, key: TValue, slot: Option<u32>) -> LuaResult<Got> {
    if o.is_cdata() {
        return crate::ffi::ops::index(st, o, key);
    }
    // SAFETY: live values.
    match unsafe { index_chain(st, o, key) } {
        Ok(g) => Ok(g),
        Err(IndexFail::Bad(bad)) => {
            let name = if bad.0 == o.0 { slot } else { None };
            Err(debug::index_error(st, bad, name))
        }
        Err(IndexFail::Loop) => Err(st.rt_error("loop in gettable")),
    }
}

/// Any index store: fast table store, `__newindex` as a continuation frame, errors.
#[inline(never)]
unsafe fn set_any(
    st: &mut State,
    base: *mut TValue,
    pc: *const u32,
    o: TValue,
    key: TValue,
    v: TValue,
    slot: Option<u32>,
) -> LuaResult<Option<Ret>> {
    // SAFETY: live values; module invariants for the frame.
    unsafe {
        if let Some(t) = o.as_tab() {
            if (*t).metatable.is_null() {
                st.raw_set(t, key, v)?;
                return Ok(None);
            }
        }
        if o.is_cdata() {
            return match crate::ffi::ops::newindex(st, o, key, v)? {
                None => Ok(None),
                Some(mm) => meta_frame(st, base, pc, cont::NOP, mm, &[o, key, v]).map(Some),
            };
        }
        match newindex_chain(st, o, key) {
            Ok(Put::Table(t)) => {
                st.raw_set(t, key, v)?;
                Ok(None)
            }
            Ok(Put::Meta(mm, obj)) => {
                meta_frame(st, base, pc, cont::NOP, mm, &[obj, key, v]).map(Some)
            }
            Err(IndexFail::Bad(bad)) => {
                let name = if bad.0 == o.0 { slot } else { None };
                Err(debug::index_error(st, bad, name))
            }
            Err(IndexFail::Loop) => Err(st.rt_error("loop in settable")),
        }
    }
}

/// FNEW: a closure of `child` over the frame at `base`, stored in `base[a]`.
#[inline(never)]
unsafe fn new_closure(
    st: &mut State,
    base: *mut TValue,
    a: u32,
    child: *mut GcProto,
) -> LuaResult<()> {
    // SAFETY: module invariants; the closure is stored in its slot (a root) before the
    // upvalue allocations that may collect.
    unsafe {
        let parent = func_of(base);
        (*child).closures = (*child).closures.saturating_add(1);
        let f = match st.heap.new_lua_closure(child, (*parent).env) {
            Ok(f) => f,
            Err(_) => return Err(st.memory_error()),
        };
        *base.add(a as usize) = tv_func(f);
        for i in 0..(*child).sizeuv as usize {
            let desc = *(*child).uv.add(i);
            let uv = if desc & crate::proto::uvflag::LOCAL != 0 {
                let slot = base.add((desc & 0xff) as usize);
                match st.heap.find_upvalue(st.l, slot) {
                    Ok(uv) => uv,
                    Err(_) => return Err(st.memory_error()),
                }
            } else {
                *GcFunc::lua_upvals(parent).add((desc & 0xff) as usize)
            };
            st.heap.set_closure_upvalue(f, i, uv);
        }
        Ok(())
    }
}

/// FORI with non-number operands: strings are converted, anything else is an error.
#[cold]
unsafe fn for_coerce(st: &mut State, ra: *mut TValue) -> LuaResult<()> {
    // SAFETY: the three control slots of the loop.
    unsafe {
        for (i, what) in ["initial value", "limit", "step"].iter().enumerate() {
            let v = *ra.add(i);
            match to_number(v) {
                Some(x) => *ra.add(i) = TValue::from_f64(x),
                None => return Err(st.rt_error(&format!("'for' {what} must be a number"))),
            }
        }
        Ok(())
    }
}
