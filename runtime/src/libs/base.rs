//! The base library.

use super::register;
use crate::vm::debug;
use crate::vm::state::{ff, State};
use crate::vm::{interp, LuaResult};
use moonjet_gc::value::itype;
use moonjet_gc::{table, GcFunc, GcStr, GcTab, MetaMethod, TValue};
use std::io::Write;

pub fn open(st: &mut State) -> LuaResult<()> {
    let g = st.globals;
    register(
        st,
        g,
        "_G",
        &[
            ("assert", assert),
            ("collectgarbage", collectgarbage),
            ("dofile", dofile),
            ("error", error),
            ("getfenv", getfenv),
            ("setfenv", setfenv),
            ("getmetatable", getmetatable),
            ("setmetatable", setmetatable),
            ("load", load),
            // luajit's loadstring is load itself.
            ("loadstring", load),
            ("loadfile", loadfile),
            ("print", print),
            ("rawequal", rawequal),
            ("rawget", rawget),
            ("rawset", rawset),
            ("select", select),
            ("tonumber", tonumber),
            ("tostring", tostring),
            ("type", type_),
            ("unpack", unpack),
            ("newproxy", newproxy),
            ("gcinfo", gcinfo),
        ],
    )?;
    for (name, f, id) in [
        ("pcall", pcall as crate::vm::NativeFn, ff::PCALL),
        ("xpcall", pcall, ff::XPCALL),
        ("next", next, ff::NEXT),
    ] {
        let fc = st.push_native_ff(f, id, 0)?;
        let fv = TValue::from_gc(fc.cast(), itype::FUNC);
        st.raw_set_str(g, name.as_bytes(), fv)?;
        // The builtins themselves, for the command (xpcall).
        let reg = st.registry;
        st.raw_set_str(reg, name.as_bytes(), fv)?;
        st.pop(1);
    }
    // pairs and ipairs hand out their iterator, kept as their upvalue (no lookup per call).
    let next_fn = st.get_global(b"next")?;
    for (name, f, id, iter) in [
        ("pairs", pairs as crate::vm::NativeFn, 5, None),
        ("ipairs", ipairs, 7, Some(ipairs_aux as crate::vm::NativeFn)),
    ] {
        let it = match iter {
            Some(aux) => {
                let a = st.push_native_ff(aux, 6, 0)?;
                TValue::from_gc(a.cast(), itype::FUNC)
            }
            None => {
                st.push(next_fn)?;
                next_fn
            }
        };
        let fc = st.push_native_ff(f, id, 1)?;
        st.set_upvalue_of_top(0, it);
        st.raw_set_str(g, name.as_bytes(), TValue::from_gc(fc.cast(), itype::FUNC))?;
        st.pop(2);
    }
    st.set_global(b"_G", TValue::from_tab(g))?;
    let v = st.new_str(b"Lua 5.1")?;
    st.set_global(b"_VERSION", v)?;
    Ok(())
}

/// Never called: the interpreter runs pcall/xpcall as frames (see interp::precall).
fn pcall(st: &mut State) -> LuaResult<u32> {
    Err(st.throw_str("pcall called outside the interpreter"))
}

fn assert(st: &mut State) -> LuaResult<u32> {
    let n = st.nargs();
    let v = st.check_any(1)?;
    if v.is_truthy() {
        return Ok(n as u32);
    }
    if n < 2 {
        return Err(st.rt_error("assertion failed!"));
    }
    let msg = st.arg(2);
    Err(st.throw_at_level(msg, 1))
}

fn error(st: &mut State) -> LuaResult<u32> {
    let v = st.arg(1);
    let level = st.opt_int(2, 1)?.max(0) as usize;
    Err(st.throw_at_level(v, level))
}

fn collectgarbage(st: &mut State) -> LuaResult<u32> {
    let opt = match st.opt_str(1)? {
        // SAFETY: live string argument.
        Some(s) => unsafe { GcStr::bytes(s) }.to_vec(),
        None => b"collect".to_vec(),
    };
    let arg = st.opt_num(2, 0.0)?;
    let r = match &opt[..] {
        b"collect" => {
            st.heap.full_gc();
            st.run_finalizers();
            0.0
        }
        b"stop" => {
            st.heap.stop();
            0.0
        }
        b"restart" => {
            st.heap.restart();
            0.0
        }
        b"count" => st.heap.count_kb(),
        b"step" => {
            let done = st.heap.step_kb(arg);
            st.run_finalizers();
            return st.push_bool(done).map(|_| 1);
        }
        b"setpause" => st.heap.set_pause(arg as u32) as f64,
        b"setstepmul" => st.heap.set_stepmul(arg as u32) as f64,
        b"isrunning" => return st.push_bool(st.heap.is_running()).map(|_| 1),
        _ => {
            let msg = format!("invalid option '{}'", String::from_utf8_lossy(&opt));
            return Err(st.arg_error(1, &msg));
        }
    };
    st.push_num(r)?;
    Ok(1)
}

fn gcinfo(st: &mut State) -> LuaResult<u32> {
    let kb = st.heap.count_kb().floor();
    st.push_num(kb)?;
    Ok(1)
}

/// The function `getfenv`/`setfenv` mean by their first argument.
fn env_target(st: &mut State) -> LuaResult<Option<*mut GcFunc>> {
    let v = st.arg(1);
    if v.is_func() {
        return Ok(Some(v.gc_ptr().cast()));
    }
    let level = st.opt_int(1, 1)?;
    if level < 0 {
        return Err(st.arg_error(1, "level must be non-negative"));
    }
    if level == 0 {
        return Ok(None);
    }
    match debug::frame_at(st, level as usize) {
        Some(f) => Ok(Some(f.func())),
        None => Err(st.arg_error(1, "invalid level")),
    }
}

fn getfenv(st: &mut State) -> LuaResult<u32> {
    let env = match env_target(st)? {
        // SAFETY: live function.
        Some(f) => unsafe { (*f).env },
        // SAFETY: the running thread.
        None => unsafe { (*st.l).env },
    };
    st.push(TValue::from_tab(env))?;
    Ok(1)
}

fn setfenv(st: &mut State) -> LuaResult<u32> {
    let t = st.check_tab(2)?;
    let target = env_target(st)?;
    match target {
        None => {
            // SAFETY: the running thread; the barrier is not needed for threads (gray).
            unsafe { (*st.l).env = t };
            return Ok(0);
        }
        Some(f) => {
            // SAFETY: live function.
            if unsafe { !(*f).is_lua() } {
                return Err(st.rt_error("'setfenv' cannot change environment of given object"));
            }
            // SAFETY: live function and table.
            unsafe { st.heap.set_closure_env(f, t) };
            st.push(TValue::from_gc(f.cast(), itype::FUNC))?;
        }
    }
    Ok(1)
}

fn getmetatable(st: &mut State) -> LuaResult<u32> {
    let v = st.check_any(1)?;
    if v.is_cdata() {
        // cdata metatables are the FFI's own, protected as luajit's are.
        st.push_bytes(b"ffi")?;
        return Ok(1);
    }
    let mt = st.metatable_of(v);
    if mt.is_null() {
        st.push_nil()?;
        return Ok(1);
    }
    // SAFETY: live metatable.
    let protected = unsafe { st.heap.metamethod(mt, MetaMethod::Metatable) };
    if !protected.is_nil() {
        st.push(protected)?;
    } else {
        st.push(TValue::from_tab(mt))?;
    }
    Ok(1)
}

fn setmetatable(st: &mut State) -> LuaResult<u32> {
    let t = st.check_tab(1)?;
    let mtv = st.arg(2);
    if !(mtv.is_nil() || mtv.is_tab()) {
        return Err(st.arg_error(2, "nil or table expected"));
    }
    // SAFETY: live table.
    unsafe {
        let old = (*t).metatable;
        if !st.heap.metamethod(old, MetaMethod::Metatable).is_nil() {
            return Err(st.rt_error("cannot change a protected metatable"));
        }
        let mt = mtv.as_tab().unwrap_or(std::ptr::null_mut());
        st.heap.set_table_metatable(t, mt);
    }
    st.push(TValue::from_tab(t))?;
    Ok(1)
}

fn next(st: &mut State) -> LuaResult<u32> {
    let t = st.check_tab(1)?;
    let k = st.arg(2);
    // SAFETY: live table.
    match unsafe { table::next(t, k) } {
        Ok(Some((k, v))) => {
            st.push(k)?;
            st.push(v)?;
            Ok(2)
        }
        Ok(None) => st.push_nil().map(|_| 1),
        Err(e) => Err(st.tab_error(e)),
    }
}

fn pairs(st: &mut State) -> LuaResult<u32> {
    let t = st.check_tab(1)?;
    let next = st.native_upvalue(0);
    st.push(next)?;
    st.push(TValue::from_tab(t))?;
    st.push_nil()?;
    Ok(3)
}

fn ipairs_aux(st: &mut State) -> LuaResult<u32> {
    let t = st.check_tab(1)?;
    let i = st.check_num(2)? + 1.0;
    // SAFETY: live table.
    let v = unsafe { table::get_num(t, i) };
    if v.is_nil() {
        return Ok(0);
    }
    st.push_num(i)?;
    st.push(v)?;
    Ok(2)
}

fn ipairs(st: &mut State) -> LuaResult<u32> {
    st.check_any(1)?;
    let t = st.check_tab(1)?;
    let aux = st.native_upvalue(0);
    st.push(aux)?;
    st.push(TValue::from_tab(t))?;
    st.push_num(0.0)?;
    Ok(3)
}

/// Shared by load/loadstring/loadfile: push the function, or nil and the message.
fn finish_load(
    st: &mut State,
    src: &[u8],
    name: &[u8],
    mode: &[u8],
    env_arg: usize,
) -> LuaResult<u32> {
    if st.load(src, name, mode)? {
        let env = st.arg(env_arg);
        if env_arg > 0 && !env.is_nil() {
            let Some(t) = env.as_tab() else {
                return Err(st.type_error(env_arg, "table"));
            };
            // SAFETY: the closure was just pushed.
            unsafe {
                let f = (*st.top().sub(1)).gc_ptr().cast::<GcFunc>();
                st.heap.set_closure_env(f, t);
            }
        }
        Ok(1)
    } else {
        let msg = unsafe { *st.top().sub(1) };
        st.pop(1);
        st.push_nil()?;
        st.push(msg)?;
        Ok(2)
    }
}

fn str_arg_bytes(st: &mut State, n: usize) -> LuaResult<Option<Vec<u8>>> {
    // SAFETY: live string argument.
    Ok(st.opt_str(n)?.map(|s| unsafe { GcStr::bytes(s) }.to_vec()))
}

fn load(st: &mut State) -> LuaResult<u32> {
    let mode = str_arg_bytes(st, 3)?.unwrap_or_else(|| b"bt".to_vec());
    let v = st.arg(1);
    if v.is_str() || v.is_number() {
        let s = st.check_str(1)?;
        // SAFETY: live string.
        let src = unsafe { GcStr::bytes(s) }.to_vec();
        let name = str_arg_bytes(st, 2)?.unwrap_or_else(|| src.clone());
        return finish_load(st, &src, &name, &mode, 4);
    }
    let f = st.check_func(1)?;
    let name = str_arg_bytes(st, 2)?.unwrap_or_else(|| b"=(load)".to_vec());
    let mut src = Vec::new();
    let mut next_check = 4096;
    loop {
        let piece = st.call_value(TValue::from_gc(f.cast(), itype::FUNC), &[])?;
        if piece.is_nil() {
            break;
        }
        let Some(s) = piece.as_str() else {
            st.push_nil()?;
            st.push_bytes(b"reader function must return a string")?;
            return Ok(2);
        };
        // SAFETY: live string.
        let b = unsafe { GcStr::bytes(s) };
        if b.is_empty() {
            break;
        }
        src.extend_from_slice(b);
        // luajit parses while it reads and stops at the first syntax error, so a reader
        // that never ends still fails. Parse what we have whenever it doubled (linear
        // in total): an error before the end of the text is final.
        if src.len() >= next_check && !crate::chunk::is_binary(&src) {
            next_check = src.len() * 2;
            if let Err(e) = crate::parse::parse(&src, &name) {
                if !e.msg.ends_with("'<eof>'") {
                    st.push_nil()?;
                    st.push_bytes(e.msg.as_bytes())?;
                    return Ok(2);
                }
            }
        }
    }
    finish_load(st, &src, &name, &mode, 4)
}

/// Read a file (or stdin for None) as loadfile does; Err(message) if it cannot.
pub(crate) fn read_source(name: Option<&[u8]>) -> Result<(Vec<u8>, Vec<u8>), String> {
    use std::io::Read;
    match name {
        None => {
            let mut b = Vec::new();
            std::io::stdin()
                .read_to_end(&mut b)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            Ok((b, b"=stdin".to_vec()))
        }
        Some(n) => {
            let path = String::from_utf8_lossy(n).into_owned();
            match std::fs::read(&path) {
                Ok(b) => {
                    let mut chunk = b"@".to_vec();
                    chunk.extend_from_slice(n);
                    Ok((b, chunk))
                }
                Err(e) => Err(format!("cannot open {path}: {}", io_error_text(&e))),
            }
        }
    }
}

/// The C library's wording of an I/O error ("No such file or directory").
pub fn io_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn loadfile(st: &mut State) -> LuaResult<u32> {
    let name = str_arg_bytes(st, 1)?;
    let mode = str_arg_bytes(st, 2)?.unwrap_or_else(|| b"bt".to_vec());
    match read_source(name.as_deref()) {
        Ok((src, chunk)) => finish_load(st, &src, &chunk, &mode, 3),
        Err(msg) => {
            st.push_nil()?;
            st.push_bytes(msg.as_bytes())?;
            Ok(2)
        }
    }
}

fn dofile(st: &mut State) -> LuaResult<u32> {
    let name = str_arg_bytes(st, 1)?;
    let (src, chunk) = match read_source(name.as_deref()) {
        Ok(x) => x,
        Err(msg) => return Err(st.throw_str(&msg)),
    };
    let base_n = st.nargs();
    if !st.load(&src, &chunk, b"bt")? {
        let msg = unsafe { *st.top().sub(1) };
        return Err(st.throw(msg));
    }
    st.call(0, crate::vm::MULTRET)?;
    Ok((st.nargs() - base_n) as u32)
}

fn print(st: &mut State) -> LuaResult<u32> {
    let n = st.nargs();
    // luajit looks `tostring` up in the running thread's environment, metamethods and all.
    let key = st.new_str(b"tostring")?;
    // SAFETY: the running thread.
    let env = TValue::from_tab(unsafe { (*st.l).env });
    let tostr = interp::index(st, env, key)?;
    let builtin = is_builtin(tostr, tostring);
    let mut line = std::mem::take(&mut st.buf);
    line.clear();
    for i in 1..=n {
        if i > 1 {
            line.push(b'\t');
        }
        let v = st.arg(i);
        // A replaced global `tostring` sees every value, strings and numbers too.
        if builtin {
            if let Some(s) = v.as_str() {
                // SAFETY: live string.
                line.extend_from_slice(unsafe { GcStr::bytes(s) });
                continue;
            }
            if v.is_number() {
                crate::num::push_num(&mut line, v.num());
                continue;
            }
        }
        let r = if builtin {
            interp::tostring(st, v)
        } else {
            st.call_value(tostr, &[v])
        };
        let s = match r {
            Ok(s) => s,
            Err(e) => {
                st.buf = line;
                return Err(e);
            }
        };
        match s.as_str() {
            // SAFETY: live string.
            Some(s) => line.extend_from_slice(unsafe { GcStr::bytes(s) }),
            None => {
                st.buf = line;
                return Err(st.rt_error("'tostring' must return a string to 'print'"));
            }
        }
    }
    line.push(b'\n');
    let _ = st.out.write_all(&line);
    st.buf = line;
    Ok(0)
}

/// Is `v` the native function `f`?
pub(crate) fn is_builtin(v: TValue, f: crate::vm::NativeFn) -> bool {
    if !v.is_func() {
        return false;
    }
    let fc: *mut GcFunc = v.gc_ptr().cast();
    // SAFETY: live function.
    unsafe { !(*fc).is_lua() && crate::vm::state::native_fn(fc) as usize == f as usize }
}

fn rawequal(st: &mut State) -> LuaResult<u32> {
    let a = st.check_any(1)?;
    let b = st.check_any(2)?;
    st.push_bool(a.raw_equal(b))?;
    Ok(1)
}

fn rawget(st: &mut State) -> LuaResult<u32> {
    let t = st.check_tab(1)?;
    let k = st.check_any(2)?;
    // SAFETY: live table.
    let v = unsafe { table::get(t, k) };
    st.push(v)?;
    Ok(1)
}

fn rawset(st: &mut State) -> LuaResult<u32> {
    let t = st.check_tab(1)?;
    let k = st.check_any(2)?;
    let v = st.check_any(3)?;
    st.raw_set(t, k, v)?;
    st.push(TValue::from_tab(t))?;
    Ok(1)
}

fn select(st: &mut State) -> LuaResult<u32> {
    let n = st.nargs() as i64;
    let a = st.arg(1);
    if let Some(s) = a.as_str() {
        // SAFETY: live string.
        if unsafe { GcStr::bytes(s) }.first() == Some(&b'#') {
            st.push_num((n - 1) as f64)?;
            return Ok(1);
        }
    }
    let mut i = i64::from(st.check_int(1)?);
    if i < 0 {
        i += n;
    } else if i > n {
        i = n;
    }
    if i < 1 {
        return Err(st.arg_error(1, "index out of range"));
    }
    Ok((n - i) as u32)
}

fn tonumber(st: &mut State) -> LuaResult<u32> {
    let base = st.opt_int(2, 10)?;
    let v = st.check_any(1)?;
    let r = if v.is_cdata() && base == 10 {
        crate::ffi::ops::tonumber(&st.ffi.ctypes, v)
    } else if base == 10 {
        interp::to_number(v)
    } else {
        if !(2..=36).contains(&base) {
            return Err(st.arg_error(2, "base out of range"));
        }
        let s = st.check_str(1)?;
        // SAFETY: live string.
        crate::num::str_to_number_base(unsafe { GcStr::bytes(s) }, base as u32)
    };
    match r {
        Some(x) => st.push_num(x)?,
        None => st.push_nil()?,
    }
    Ok(1)
}

fn tostring(st: &mut State) -> LuaResult<u32> {
    let v = st.check_any(1)?;
    let s = interp::tostring(st, v)?;
    st.push(s)?;
    Ok(1)
}

fn type_(st: &mut State) -> LuaResult<u32> {
    let v = st.check_any(1)?;
    let name = st.type_name_str(v)?;
    st.push(TValue::from_gcstr(name))?;
    Ok(1)
}

fn unpack(st: &mut State) -> LuaResult<u32> {
    let t = st.check_tab(1)?;
    let i = i64::from(st.opt_int(2, 1)?);
    let j = if st.arg(3).is_nil() {
        // SAFETY: live table.
        unsafe { table::len(t) as i64 }
    } else {
        i64::from(st.check_int(3)?)
    };
    if i > j {
        return Ok(0);
    }
    let n = (j as i128 - i as i128 + 1) as u128;
    if n >= 8000 || st.check_stack(n as usize).is_err() {
        return Err(st.throw_str("too many results to unpack"));
    }
    for k in i..=j {
        // SAFETY: live table.
        let v = unsafe { table::get_int(t, k) };
        st.push(v)?;
    }
    Ok(n as u32)
}

fn newproxy(st: &mut State) -> LuaResult<u32> {
    let v = st.arg(1);
    let u = match st.heap.new_udata(0, st.globals) {
        Ok(u) => u,
        Err(_) => return Err(st.memory_error()),
    };
    st.push(TValue::from_gc(u.cast(), itype::UDATA))?;
    if v.is_nil() || v.0 == TValue::FALSE.0 {
        return Ok(1);
    }
    let mt: *mut GcTab = if v.0 == TValue::TRUE.0 {
        let mt = st.new_table(0, 1)?;
        // Mark it as a proxy metatable by a registry entry keyed by the table.
        st.push(TValue::from_tab(mt))?;
        let reg = st.registry;
        st.raw_set(reg, TValue::from_tab(mt), TValue::TRUE)?;
        st.pop(1);
        mt
    } else if v.is_udata() {
        let mt = st.metatable_of(v);
        // SAFETY: live registry.
        if mt.is_null() || unsafe { table::get(st.registry, TValue::from_tab(mt)) }.is_nil() {
            return Err(st.arg_error(1, "boolean or proxy expected"));
        }
        mt
    } else {
        return Err(st.arg_error(1, "boolean or proxy expected"));
    };
    // SAFETY: the userdata is on the stack; mt is live.
    unsafe { st.heap.set_udata_metatable(u, mt) };
    Ok(1)
}

impl State {
    /// A registry value stored under a string key by a library.
    pub fn registry_value(&mut self, key: &[u8]) -> LuaResult<TValue> {
        let k = self.new_str(key)?;
        // SAFETY: live registry.
        Ok(unsafe { table::get(self.registry, k) })
    }
}
