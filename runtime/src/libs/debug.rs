//! The debug library, as luajit 2.1 has it.

use super::new_lib;
use crate::lex::chunk_id;
use crate::vm::debug::{self, Local};
use crate::vm::hook::mask;
use crate::vm::state::{type_index, State};
use crate::vm::LuaResult;
use moonjet_gc::object::GcUpval;
use moonjet_gc::value::itype;
use moonjet_gc::{GcFunc, GcStr, GcThread, TValue};
use std::io::{BufRead, Write};

pub fn open(st: &mut State) -> LuaResult<()> {
    new_lib(
        st,
        "debug",
        &[
            ("getregistry", getregistry),
            ("getmetatable", getmetatable),
            ("setmetatable", setmetatable),
            ("getfenv", getfenv),
            ("setfenv", setfenv),
            ("getinfo", getinfo),
            ("getlocal", getlocal),
            ("setlocal", setlocal),
            ("getupvalue", getupvalue),
            ("setupvalue", setupvalue),
            ("upvalueid", upvalueid),
            ("upvaluejoin", upvaluejoin),
            ("sethook", sethook),
            ("gethook", gethook),
            ("debug", debug_repl),
            ("traceback", traceback),
        ],
    )?;
    Ok(())
}

/// An optional leading thread argument: the thread and the index of the next argument.
fn thread_arg(st: &State) -> (*mut GcThread, usize) {
    let v = st.arg(1);
    if v.is_thread() {
        (v.gc_ptr().cast(), 2)
    } else {
        (st.l, 1)
    }
}

fn push_table_or_nil(st: &mut State, t: *mut moonjet_gc::GcTab) -> LuaResult<u32> {
    if t.is_null() {
        st.push_nil()?;
    } else {
        st.push(TValue::from_tab(t))?;
    }
    Ok(1)
}

fn getregistry(st: &mut State) -> LuaResult<u32> {
    st.push(TValue::from_tab(st.registry))?;
    Ok(1)
}

fn getmetatable(st: &mut State) -> LuaResult<u32> {
    let v = st.check_any(1)?;
    let mt = st.metatable_of(v);
    push_table_or_nil(st, mt)
}

fn setmetatable(st: &mut State) -> LuaResult<u32> {
    let v = st.arg(1);
    let mtv = st.arg(2);
    if !(mtv.is_nil() || mtv.is_tab()) {
        return Err(st.arg_error(2, "nil or table expected"));
    }
    let mt = mtv.as_tab().unwrap_or(std::ptr::null_mut());
    // SAFETY: live argument objects.
    unsafe {
        if let Some(t) = v.as_tab() {
            st.heap.set_table_metatable(t, mt);
        } else if v.is_udata() {
            st.heap.set_udata_metatable(v.gc_ptr().cast(), mt);
        } else {
            st.set_type_metatable(type_index(v), mt);
        }
    }
    st.push_bool(true)?;
    Ok(1)
}

fn getfenv(st: &mut State) -> LuaResult<u32> {
    let v = st.check_any(1)?;
    // SAFETY: live argument objects.
    let env = unsafe {
        if v.is_func() {
            (*v.gc_ptr().cast::<GcFunc>()).env
        } else if v.is_thread() {
            (*v.gc_ptr().cast::<GcThread>()).env
        } else if v.is_udata() {
            (*v.gc_ptr().cast::<moonjet_gc::GcUdata>()).env
        } else {
            std::ptr::null_mut()
        }
    };
    push_table_or_nil(st, env)
}

fn setfenv(st: &mut State) -> LuaResult<u32> {
    let v = st.arg(1);
    let t = st.check_tab(2)?;
    // SAFETY: live argument objects; the environment fields are traversed by the
    // collector, so a black owner gets the barrier.
    unsafe {
        if v.is_func() {
            st.heap.set_closure_env(v.gc_ptr().cast(), t);
        } else if v.is_thread() || v.is_udata() {
            let o = v.gc_ptr();
            if v.is_thread() {
                (*o.cast::<GcThread>()).env = t;
            } else {
                (*o.cast::<moonjet_gc::GcUdata>()).env = t;
            }
            st.heap.barrier_forward(o, TValue::from_tab(t));
        } else {
            return Err(st.rt_error("'setfenv' cannot change environment of given object"));
        }
    }
    st.push(v)?;
    Ok(1)
}

// ---- getinfo --------------------------------------------------------------------------

fn set_field(st: &mut State, t: *mut moonjet_gc::GcTab, k: &str, v: TValue) -> LuaResult<()> {
    st.raw_set_str(t, k.as_bytes(), v)
}

fn set_str_field(st: &mut State, t: *mut moonjet_gc::GcTab, k: &str, s: &[u8]) -> LuaResult<()> {
    let v = st.new_str(s)?;
    // Anchor the string while the key is made.
    st.push(v)?;
    let r = set_field(st, t, k, v);
    st.pop(1);
    r
}

/// `debug.getinfo([thread,] f | level [, what])`.
fn getinfo(st: &mut State) -> LuaResult<u32> {
    let (th, a) = thread_arg(st);
    let what: Vec<u8> = match st.opt_str(a + 1)? {
        // SAFETY: live string argument.
        Some(s) => unsafe { GcStr::bytes(s).to_vec() },
        None => b"flnSu".to_vec(),
    };
    if what.iter().any(|c| !b"SlunfL".contains(c)) {
        return Err(st.arg_error(a + 1, "invalid option"));
    }
    let target = st.arg(a);
    let (func, frame) = if target.is_func() {
        (target.gc_ptr().cast::<GcFunc>(), None)
    } else if target.is_number() {
        let level = st.check_int(a)?;
        let fr = debug::frames_of(st, th);
        match usize::try_from(level)
            .ok()
            .and_then(|l| fr.get(l).map(|f| (l, *f)))
        {
            Some((l, f)) => (f.func(), Some((fr, l))),
            None => {
                st.push_nil()?;
                return Ok(1);
            }
        }
    } else {
        return Err(st.arg_error(a, "function or level expected"));
    };
    let t = st.new_table(0, 16)?;
    st.push(TValue::from_tab(t))?;
    // SAFETY: `func` is a live function (an argument or on a live frame); `t` is
    // anchored on the stack.
    unsafe {
        let pt = if (*func).is_lua() {
            Some((*func).proto)
        } else {
            None
        };
        for &c in &what {
            match c {
                b'S' => match pt {
                    Some(pt) => {
                        let src = GcStr::bytes((*pt).chunkname).to_vec();
                        set_str_field(st, t, "source", &src)?;
                        set_str_field(st, t, "short_src", chunk_id(&src).as_bytes())?;
                        let first = (*pt).firstline;
                        set_field(st, t, "linedefined", TValue::from_f64(first as f64))?;
                        let last = first + (*pt).numline;
                        set_field(st, t, "lastlinedefined", TValue::from_f64(last as f64))?;
                        let w: &[u8] = if first == 0 { b"main" } else { b"Lua" };
                        set_str_field(st, t, "what", w)?;
                    }
                    None => {
                        set_str_field(st, t, "source", b"=[C]")?;
                        set_str_field(st, t, "short_src", b"[C]")?;
                        set_field(st, t, "linedefined", TValue::from_f64(-1.0))?;
                        set_field(st, t, "lastlinedefined", TValue::from_f64(-1.0))?;
                        set_str_field(st, t, "what", b"C")?;
                    }
                },
                b'l' => {
                    let line = match &frame {
                        Some((fr, l)) => fr[*l].current_line().map_or(-1.0, |n| n as f64),
                        None => -1.0,
                    };
                    set_field(st, t, "currentline", TValue::from_f64(line))?;
                }
                b'u' => {
                    let nups = match pt {
                        Some(pt) => (*pt).sizeuv,
                        None => (*func).nupvalues as u32,
                    };
                    set_field(st, t, "nups", TValue::from_f64(nups as f64))?;
                    let (np, va) = match pt {
                        Some(pt) => (
                            (*pt).numparams as f64,
                            (*pt).flags & crate::proto::flags::VARARG as u32 != 0,
                        ),
                        None => (0.0, true),
                    };
                    set_field(st, t, "nparams", TValue::from_f64(np))?;
                    set_field(st, t, "isvararg", TValue::from_bool(va))?;
                }
                b'n' => {
                    let name = match &frame {
                        Some((fr, l)) => debug::func_name(fr, *l),
                        None => None,
                    };
                    match name {
                        Some((kind, name)) => {
                            set_str_field(st, t, "name", &name)?;
                            set_str_field(st, t, "namewhat", kind.as_bytes())?;
                        }
                        None => set_str_field(st, t, "namewhat", b"")?,
                    }
                }
                b'f' => set_field(st, t, "func", TValue::from_gc(func.cast(), itype::FUNC))?,
                b'L' => {
                    if let Some(pt) = pt {
                        let lines = st.new_table(0, 0)?;
                        set_field(st, t, "activelines", TValue::from_tab(lines))?;
                        // The header (instruction 0) has no line of its own.
                        for i in 1..(*pt).sizebc as usize {
                            if (*pt).lineinfo.is_null() {
                                break;
                            }
                            let line = *(*pt).lineinfo.add(i);
                            st.raw_set(lines, TValue::from_f64(line as f64), TValue::TRUE)?;
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(1)
}

// ---- locals and upvalues ----------------------------------------------------------------

/// The level argument at `a` of a thread-taking function, as a frame level.
fn level_arg(st: &mut State, a: usize) -> LuaResult<usize> {
    let level = st.check_int(a)?;
    usize::try_from(level).map_err(|_| st.arg_error(a, "level out of range"))
}

/// `debug.getlocal([thread,] level, n)` or `debug.getlocal(f, n)` (parameter names).
fn getlocal(st: &mut State) -> LuaResult<u32> {
    let (th, a) = thread_arg(st);
    let target = st.arg(a);
    if target.is_func() {
        let n = st.check_int(a + 1)?;
        let f: *mut GcFunc = target.gc_ptr().cast();
        // SAFETY: live function argument; parameters are the first locals at pc 0.
        let name = unsafe {
            if !(*f).is_lua() || n < 1 || n as u32 > (*(*f).proto).numparams as u32 {
                None
            } else {
                debug::param_name((*f).proto, n as u32 - 1)
            }
        };
        match name {
            Some(name) => st.push_bytes(&name)?,
            None => st.push_nil()?,
        }
        return Ok(1);
    }
    let Some((name, slot)) = local_arg(st, th, a)? else {
        st.push_nil()?;
        return Ok(1);
    };
    // SAFETY: a slot of a live frame.
    let v = unsafe { *slot };
    st.push_bytes(&name)?;
    st.push(v)?;
    Ok(2)
}

/// The local named by the (level, n) arguments at `a`: its name and slot, `None` if the
/// frame has no such local; luajit's error if there is no such level.
fn local_arg(
    st: &mut State,
    th: *mut GcThread,
    a: usize,
) -> LuaResult<Option<(Vec<u8>, *mut TValue)>> {
    let level = level_arg(st, a)?;
    let n = st.check_int(a + 1)?;
    match debug::local_slot(st, th, level, n) {
        Local::NoLevel => Err(st.arg_error(a, "level out of range")),
        Local::Missing => Ok(None),
        Local::Found(name, slot) => Ok(Some((name, slot))),
    }
}

/// `debug.setlocal([thread,] level, n, value)`.
fn setlocal(st: &mut State) -> LuaResult<u32> {
    let (th, a) = thread_arg(st);
    let found = local_arg(st, th, a)?;
    let v = st.check_any(a + 2)?;
    match found {
        None => st.push_nil()?,
        Some((name, slot)) => {
            // SAFETY: a slot of a live frame (stack slots need no barrier).
            unsafe { *slot = v };
            st.push_bytes(&name)?;
        }
    }
    Ok(1)
}

/// An upvalue of a function: its name, where its value lives, and for Lua closures the
/// upvalue object.
struct UpvalueRef {
    name: Vec<u8>,
    slot: *mut TValue,
    object: Option<*mut GcUpval>,
}

/// Upvalue `n` (1-based) of the function argument at `a`.
fn upvalue_ref(st: &mut State, a: usize, n: i32) -> LuaResult<Option<UpvalueRef>> {
    let f = st.check_func(a)?;
    // SAFETY: live function; indices are range-checked against its upvalue count.
    unsafe {
        if n < 1 || n as usize > (*f).nupvalues as usize {
            return Ok(None);
        }
        let i = n as usize - 1;
        if (*f).is_lua() {
            let pt = (*f).proto;
            let uv = *GcFunc::lua_upvals(f).add(i);
            let name = if (*pt).uvnames.is_null() || (*(*pt).uvnames.add(i)).is_null() {
                b"?".to_vec()
            } else {
                GcStr::bytes(*(*pt).uvnames.add(i)).to_vec()
            };
            Ok(Some(UpvalueRef {
                name,
                slot: (*uv).v,
                object: Some(uv),
            }))
        } else {
            Ok(Some(UpvalueRef {
                name: Vec::new(),
                slot: GcFunc::native_upvals(f).add(i),
                object: None,
            }))
        }
    }
}

fn getupvalue(st: &mut State) -> LuaResult<u32> {
    let n = st.check_int(2)?;
    match upvalue_ref(st, 1, n)? {
        Some(UpvalueRef { name, slot, .. }) => {
            // SAFETY: the upvalue's live value slot.
            let v = unsafe { *slot };
            st.push_bytes(&name)?;
            st.push(v)?;
            Ok(2)
        }
        None => Ok(0),
    }
}

fn setupvalue(st: &mut State) -> LuaResult<u32> {
    let n = st.check_int(2)?;
    let v = st.check_any(3)?;
    let f = st.arg(1).gc_ptr();
    match upvalue_ref(st, 1, n)? {
        Some(UpvalueRef {
            name,
            slot,
            object: uv,
        }) => {
            // SAFETY: the upvalue's live value slot; the owner (a closed upvalue or the
            // native closure) gets the forward barrier.
            unsafe {
                *slot = v;
                match uv {
                    Some(uv) if (*uv).closed != 0 => st.heap.barrier_forward(uv.cast(), v),
                    Some(_) => {}
                    None => st.heap.barrier_forward(f, v),
                }
            }
            st.push_bytes(&name)?;
            Ok(1)
        }
        None => Ok(0),
    }
}

/// The upvalue slot at arguments (a, a+1), raising luajit's errors.
fn upvalue_arg(st: &mut State, a: usize) -> LuaResult<(*mut TValue, Option<*mut GcUpval>)> {
    let n = st.check_int(a + 1)?;
    match upvalue_ref(st, a, n)? {
        Some(r) => Ok((r.slot, r.object)),
        None => Err(st.arg_error(a + 1, "index out of range")),
    }
}

fn upvalueid(st: &mut State) -> LuaResult<u32> {
    let (slot, uv) = upvalue_arg(st, 1)?;
    let p = uv.map_or(slot as u64, |u| u as u64);
    st.push(TValue::from_lightud_payload(p))?;
    Ok(1)
}

fn upvaluejoin(st: &mut State) -> LuaResult<u32> {
    let lua_fn = |st: &mut State, a: usize| -> LuaResult<*mut GcFunc> {
        let f = st.check_func(a)?;
        // SAFETY: live function.
        if unsafe { !(*f).is_lua() } {
            return Err(st.arg_error(a, "Lua function expected"));
        }
        Ok(f)
    };
    let f1 = lua_fn(st, 1)?;
    let (_, uv1) = upvalue_arg(st, 1)?;
    lua_fn(st, 3)?;
    let (_, uv2) = upvalue_arg(st, 3)?;
    let (Some(uv1), Some(uv2)) = (uv1, uv2) else {
        return Ok(0);
    };
    // SAFETY: f1 is a live Lua closure and uv1 one of its upvalues; the closure now
    // references uv2, so it gets the forward barrier.
    unsafe {
        let ups = GcFunc::lua_upvals(f1);
        for i in 0..(*f1).nupvalues as usize {
            if *ups.add(i) == uv1 {
                *ups.add(i) = uv2;
                break;
            }
        }
        st.heap
            .barrier_forward(f1.cast(), TValue::from_gc(uv2.cast(), itype::UPVAL));
    }
    Ok(0)
}

// ---- hooks ----------------------------------------------------------------------------

/// `debug.sethook([thread,] [f, mask [, count]])`. luajit has one hook for all
/// coroutines; the thread argument is accepted for compatibility.
fn sethook(st: &mut State) -> LuaResult<u32> {
    let (_, a) = thread_arg(st);
    let f = st.arg(a);
    if f.is_nil() || st.nargs() < a {
        st.set_hook(TValue::NIL, 0, 0);
        return Ok(0);
    }
    let m = st.check_str(a + 1)?;
    if !f.is_func() {
        return Err(st.type_error(a, "function"));
    }
    let count = st.opt_int(a + 2, 0)?.max(0) as u32;
    let mut bits = 0;
    // SAFETY: live string argument.
    for &c in unsafe { GcStr::bytes(m) } {
        bits |= match c {
            b'c' => mask::CALL,
            b'r' => mask::RET,
            b'l' => mask::LINE,
            _ => 0,
        };
    }
    st.set_hook(f, bits, count);
    Ok(0)
}

fn gethook(st: &mut State) -> LuaResult<u32> {
    let f = st.hook_fn();
    let m = st.hook.mask();
    st.push(f)?;
    let mut s = Vec::new();
    for (bit, c) in [(mask::CALL, b'c'), (mask::RET, b'r'), (mask::LINE, b'l')] {
        if m & bit != 0 {
            s.push(c);
        }
    }
    st.push_bytes(&s)?;
    st.push_num(st.hook.count as f64)?;
    Ok(3)
}

/// `debug.debug()`: run lines from standard input until "cont" or end of input.
fn debug_repl(st: &mut State) -> LuaResult<u32> {
    let stdin = std::io::stdin();
    let mut line = Vec::new();
    loop {
        st.flush();
        let mut err = std::io::stderr();
        let _ = err.write_all(b"lua_debug> ");
        let _ = err.flush();
        line.clear();
        match stdin.lock().read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return Ok(0),
            Ok(_) => {}
        }
        if line == b"cont\n" || line == b"cont" {
            return Ok(0);
        }
        let failed = match st.load(&line, b"=(debug command)", b"bt") {
            Ok(true) => st.pcall(0, 0).err(),
            Ok(false) => {
                let e = st.top();
                // SAFETY: a failed load leaves its message on top.
                let v = unsafe { *e.sub(1) };
                st.pop(1);
                Some(v)
            }
            Err(t) => return Err(t),
        };
        if let Some(e) = failed {
            let mut msg = st.display_value(e);
            msg.push(b'\n');
            let _ = err.write_all(&msg);
        }
    }
}

/// `debug.traceback([thread,] [message [, level]])`.
fn traceback(st: &mut State) -> LuaResult<u32> {
    let (th, first) = thread_arg(st);
    let msg = st.arg(first);
    if !(msg.is_nil() || msg.is_str() || msg.is_number()) || (msg.is_nil() && st.nargs() >= first) {
        st.push(msg)?;
        return Ok(1);
    }
    let default_level = if th == st.l { 1 } else { 0 };
    let level = st.opt_int(first + 1, default_level)?.max(0) as usize;
    let mut out = Vec::new();
    if !msg.is_nil() {
        let s = st.check_str(first)?;
        // SAFETY: live string argument.
        out.extend_from_slice(unsafe { GcStr::bytes(s) });
        out.push(b'\n');
    }
    let saved = st.l;
    st.l = th;
    let tb = debug::traceback(st, level);
    st.l = saved;
    out.extend_from_slice(&tb);
    st.push_bytes(&out)?;
    Ok(1)
}
