//! The coroutine library. Each coroutine is a thread object with its own stack; resume
//! runs the dispatch loop on that stack, and yield leaves it with `Throw::Yield`.

use super::new_lib;
use crate::vm::frame::STACK_BOTTOM;
use crate::vm::state::{init_stack, State, MAX_C_DEPTH};
use crate::vm::{interp, LuaResult, Throw};
use moonjet_gc::object::thread_status;
use moonjet_gc::value::itype;
use moonjet_gc::{GcThread, TValue};

/// Status of a coroutine that is running or has resumed another one.
const ACTIVE: u8 = 3;

pub fn open(st: &mut State) -> LuaResult<()> {
    new_lib(
        st,
        "coroutine",
        &[
            ("create", create),
            ("resume", resume),
            ("yield", yield_),
            ("status", status),
            ("wrap", wrap),
            ("running", running),
            ("isyieldable", isyieldable),
        ],
    )?;
    Ok(())
}

fn thread_value(th: *mut GcThread) -> TValue {
    TValue::from_gc(th.cast(), itype::THREAD)
}

/// A new coroutine running the function in argument 1, pushed.
fn new_coroutine(st: &mut State) -> LuaResult<*mut GcThread> {
    let f = st.arg(1);
    if !f.is_func() {
        return Err(st.type_error(1, "function"));
    }
    let env = st.globals;
    let th = match st.heap.new_thread(48, env) {
        Ok(t) => t,
        Err(_) => return Err(st.memory_error()),
    };
    // SAFETY: a fresh thread with 48 slots.
    unsafe {
        init_stack(th);
        (*th).glref = st.main.cast();
        let s = (*th).stack.add(STACK_BOTTOM);
        *s = f;
        (*th).top = s.add(1);
    }
    st.push(thread_value(th))?;
    Ok(th)
}

/// `coroutine.create(f)` (public for the embedding API's `Lua::create_thread`).
pub fn create(st: &mut State) -> LuaResult<u32> {
    new_coroutine(st)?;
    Ok(1)
}

fn check_co(st: &mut State, n: usize) -> LuaResult<*mut GcThread> {
    let v = st.arg(n);
    if v.is_thread() {
        Ok(v.gc_ptr().cast())
    } else {
        Err(st.arg_error(n, "coroutine expected"))
    }
}

/// Outcome of running a coroutine: values moved onto the resumer's stack.
enum Resumed {
    /// Yielded or returned `n` values.
    Values(usize),
    /// Failed; the error value is on top of the resumer's stack.
    Error,
    /// Could not be resumed; the message is on top.
    Refused,
}

/// Resume `co` with the top `nargs` values of the running thread as arguments.
fn resume_co(st: &mut State, co: *mut GcThread, nargs: usize) -> LuaResult<Resumed> {
    // SAFETY: `co` is a live thread reachable from the resumer's stack; values are
    // moved between two distinct stacks with their capacity checked first.
    unsafe {
        let status = (*co).status;
        let fresh_or_yielded = status == thread_status::OK || status == thread_status::YIELD;
        if !fresh_or_yielded {
            let msg: &[u8] = if status == thread_status::DEAD {
                b"cannot resume dead coroutine"
            } else {
                b"cannot resume running coroutine"
            };
            st.pop(nargs);
            st.push_bytes(msg)?;
            return Ok(Resumed::Refused);
        }
        if st.c_depth >= MAX_C_DEPTH {
            return Err(st.rt_error("C stack overflow"));
        }
        let me = st.l;
        // Move the arguments over.
        st.l = co;
        let grown = st.check_stack(nargs + 1);
        st.l = me;
        grown?;
        let src = (*me).top.sub(nargs);
        std::ptr::copy_nonoverlapping(src, (*co).top, nargs);
        (*co).top = (*co).top.add(nargs);
        (*me).top = src;

        let saved = (st.nny, st.savedpc);
        st.l = co;
        st.nny = 0;
        st.c_depth += 1;
        (*me).status = ACTIVE;
        (*co).status = ACTIVE;
        let r = if status == thread_status::OK {
            let func = (*co).top.sub(nargs + 1);
            interp::call_from_rust(st, func, nargs)
        } else {
            // The yield native's frame returns the resume arguments.
            interp::finish_native(st, nargs)
        };
        st.c_depth -= 1;
        (st.nny, st.savedpc) = saved;
        st.l = me;
        (*me).status = thread_status::OK;
        match r {
            Ok(n) => {
                (*co).status = thread_status::DEAD;
                let from = (*co).top.sub(n);
                move_values(st, co, from, n)?;
                Ok(Resumed::Values(n))
            }
            Err(Throw::Yield) => {
                (*co).status = thread_status::YIELD;
                let n = st.yield_count as usize;
                let from = (*co).top.sub(n);
                move_values(st, co, from, n)?;
                Ok(Resumed::Values(n))
            }
            Err(Throw::Error) => {
                (*co).status = thread_status::DEAD;
                st.heap.close_upvalues(co, (*co).stack);
                let e = st.error_value();
                st.push(e)?;
                Ok(Resumed::Error)
            }
        }
    }
}

/// Move `n` values from `co`'s stack (at `from`, the top slots) onto the running stack.
unsafe fn move_values(
    st: &mut State,
    co: *mut GcThread,
    from: *mut TValue,
    n: usize,
) -> LuaResult<()> {
    // SAFETY: caller promise; `from` is rebased if the stack we push onto is... distinct.
    unsafe {
        let off = from.offset_from((*co).stack);
        st.check_stack(n)?;
        let from = (*co).stack.offset(off);
        for i in 0..n {
            st.push(*from.add(i))?;
        }
        (*co).top = from;
    }
    Ok(())
}

/// `coroutine.resume(co, ...)` (public for the embedding API's `Thread::resume`).
pub fn resume(st: &mut State) -> LuaResult<u32> {
    let co = check_co(st, 1)?;
    let nargs = st.nargs() - 1;
    st.check_stack(1)?;
    // Leave room for the status boolean below the results: it goes in slot 1 (the
    // coroutine argument, which the thread value no longer needs to occupy once moved).
    match resume_co(st, co, nargs)? {
        Resumed::Values(n) => {
            // SAFETY: results are the top n slots; slot base[0] holds the coroutine.
            unsafe { *st.base() = TValue::TRUE };
            Ok(n as u32 + 1)
        }
        Resumed::Error | Resumed::Refused => {
            // SAFETY: the message is on top.
            unsafe {
                let e = *st.top().sub(1);
                *st.base() = TValue::FALSE;
                *st.base().add(1) = e;
                st.set_top(st.base().add(2));
            }
            Ok(2)
        }
    }
}

fn yield_(st: &mut State) -> LuaResult<u32> {
    if st.nny > 0 || st.l == st.main {
        return Err(st.rt_error("attempt to yield across C-call boundary"));
    }
    st.yield_count = st.nargs() as u32;
    Err(Throw::Yield)
}

/// `coroutine.status(co)` (public for the embedding API's `Thread::status`).
pub fn status(st: &mut State) -> LuaResult<u32> {
    let co = check_co(st, 1)?;
    // SAFETY: live thread.
    let s: &[u8] = match unsafe { (*co).status } {
        _ if co == st.l => b"running",
        thread_status::OK | thread_status::YIELD => b"suspended",
        thread_status::DEAD => b"dead",
        _ => b"normal",
    };
    st.push_bytes(s)?;
    Ok(1)
}

fn running(st: &mut State) -> LuaResult<u32> {
    if st.l == st.main {
        st.push_nil()?;
    } else {
        st.push(thread_value(st.l))?;
    }
    Ok(1)
}

fn isyieldable(st: &mut State) -> LuaResult<u32> {
    let y = st.nny == 0 && st.l != st.main;
    st.push_bool(y)?;
    Ok(1)
}

fn wrap(st: &mut State) -> LuaResult<u32> {
    let co = new_coroutine(st)?;
    st.push_native_ff(wrap_call, 36, 1)?;
    st.set_upvalue_of_top(0, thread_value(co));
    Ok(1)
}

fn wrap_call(st: &mut State) -> LuaResult<u32> {
    let co: *mut GcThread = st.native_upvalue(0).gc_ptr().cast();
    let nargs = st.nargs();
    match resume_co(st, co, nargs)? {
        Resumed::Values(n) => Ok(n as u32),
        Resumed::Error | Resumed::Refused => {
            // SAFETY: the error value is on top.
            let e = unsafe { *st.top().sub(1) };
            Err(st.throw_at_level(e, 1))
        }
    }
}
