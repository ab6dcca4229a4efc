//! The package library: `require`, `module` and the `package` table, as luajit 2.1.
//!
//! C modules are searched for (so `require`'s error text lists every place tried) but
//! never loaded: moonjet has no Lua C API, so a C module found on `package.cpath` is an
//! error naming that limit, and `package.loadlib` always fails.

use super::register;
use crate::vm::state::State;
use crate::vm::{LuaResult, NativeFn};
use moonjet_gc::value::itype;
use moonjet_gc::{table, GcStr, GcTab, TValue};

const DEFAULT_PATH: &str = "./?.lua;/usr/local/share/luajit-2.1.0-beta3/?.lua;\
/usr/local/share/lua/5.1/?.lua;/usr/local/share/lua/5.1/?/init.lua";
const DEFAULT_CPATH: &str = "./?.so;/usr/local/lib/lua/5.1/?.so;/usr/local/lib/lua/5.1/loadall.so";

/// Registry keys: the package table and the "being loaded" sentinel.
const REG_PACKAGE: &[u8] = b"moonjet.package";
const REG_SENTINEL: &[u8] = b"moonjet.require_sentinel";

pub fn open(st: &mut State) -> LuaResult<()> {
    let pkg = super::new_lib(
        st,
        "package",
        &[
            ("loadlib", loadlib),
            ("searchpath", searchpath_fn),
            ("seeall", seeall),
        ],
    )?;
    st.push(TValue::from_tab(pkg))?;
    let reg = st.registry;
    st.raw_set_str(reg, REG_PACKAGE, TValue::from_tab(pkg))?;
    let sentinel = st.new_table(0, 0)?;
    st.push(TValue::from_tab(sentinel))?;
    st.raw_set_str(reg, REG_SENTINEL, TValue::from_tab(sentinel))?;
    st.pop(1);

    // package.loaders
    let loaders = st.new_table(4, 0)?;
    st.push(TValue::from_tab(loaders))?;
    let fs: [NativeFn; 4] = [loader_preload, loader_lua, loader_c, loader_croot];
    for (i, f) in fs.into_iter().enumerate() {
        let fc = st.push_native(f, 0)?;
        let fv = TValue::from_gc(fc.cast(), itype::FUNC);
        st.raw_set(loaders, TValue::from_f64((i + 1) as f64), fv)?;
        st.pop(1);
    }
    st.raw_set_str(pkg, b"loaders", TValue::from_tab(loaders))?;
    st.pop(1);

    // package.path / cpath / config
    for (field, env, def) in [
        (&b"path"[..], "LUA_PATH", DEFAULT_PATH),
        (&b"cpath"[..], "LUA_CPATH", DEFAULT_CPATH),
    ] {
        let from_env = if st.config.ignore_env {
            None
        } else {
            std::env::var_os(env)
        };
        let v = match from_env {
            None => def.as_bytes().to_vec(),
            Some(p) => {
                use std::os::unix::ffi::OsStrExt;
                let p = p.as_bytes();
                let with_mark = replace(p, b";;", b";\x01;");
                replace(&with_mark, b"\x01", def.as_bytes())
            }
        };
        let s = st.new_str(&v)?;
        st.raw_set_str(pkg, field, s)?;
    }
    let cfg = st.new_str(b"/\n;\n?\n!\n-\n")?;
    st.raw_set_str(pkg, b"config", cfg)?;

    // package.loaded = registry._LOADED, with every library opened so far.
    let loaded = loaded_table(st)?;
    st.push(TValue::from_tab(loaded))?;
    for name in [
        "_G",
        "string",
        "table",
        "math",
        "coroutine",
        "io",
        "os",
        "debug",
        "bit",
        "jit",
        "package",
    ] {
        let v = st.get_global(name.as_bytes())?;
        if v.is_tab() {
            st.raw_set_str(loaded, name.as_bytes(), v)?;
        }
    }
    st.raw_set_str(pkg, b"loaded", TValue::from_tab(loaded))?;
    st.pop(1);

    // package.preload, with luajit's table.new and table.clear.
    let preload = st.new_table(0, 2)?;
    st.push(TValue::from_tab(preload))?;
    register(
        st,
        preload,
        "package.preload",
        &[
            ("table.new", open_table_new),
            ("table.clear", open_table_clear),
            ("jit.v", super::jit::open_v),
            ("jit.dump", super::jit::open_dump),
        ],
    )?;
    st.raw_set_str(pkg, b"preload", TValue::from_tab(preload))?;
    st.pop(1);

    let g = st.globals;
    register(st, g, "_G", &[("require", require), ("module", module)])?;
    st.pop(1);
    Ok(())
}

/// `src` with every `from` replaced by `to`.
fn replace(src: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len());
    let mut i = 0;
    while i < src.len() {
        if src[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(src[i]);
            i += 1;
        }
    }
    out
}

fn str_bytes(s: *mut GcStr) -> Vec<u8> {
    // SAFETY: a live string (an argument or a value just read from a table).
    unsafe { GcStr::bytes(s) }.to_vec()
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn reg_get(st: &mut State, key: &[u8]) -> LuaResult<TValue> {
    let k = st.new_str(key)?;
    // SAFETY: live registry and key.
    Ok(unsafe { table::get(st.registry, k) })
}

fn tab_get(st: &mut State, t: *mut GcTab, key: &[u8]) -> LuaResult<TValue> {
    let k = st.new_str(key)?;
    // SAFETY: live table and key.
    Ok(unsafe { table::get(t, k) })
}

/// Registers a module opened by the state as `package.loaded[name]` (so `require`
/// returns it) without making it a global.
pub(crate) fn set_loaded(st: &mut State, name: &[u8], module: TValue) -> LuaResult<()> {
    st.push(module)?;
    let loaded = loaded_table(st)?;
    let r = st.raw_set_str(loaded, name, module);
    st.pop(1);
    r
}

/// registry._LOADED, created if missing.
fn loaded_table(st: &mut State) -> LuaResult<*mut GcTab> {
    if let Some(t) = reg_get(st, b"_LOADED")?.as_tab() {
        return Ok(t);
    }
    let t = st.new_table(0, 16)?;
    let reg = st.registry;
    st.raw_set_str(reg, b"_LOADED", TValue::from_tab(t))?;
    Ok(t)
}

fn package_table(st: &mut State) -> LuaResult<*mut GcTab> {
    match reg_get(st, REG_PACKAGE)?.as_tab() {
        Some(t) => Ok(t),
        None => Err(st.rt_error("package library not open")),
    }
}

/// Whether `path` can be opened for reading.
fn readable(path: &[u8]) -> bool {
    std::fs::File::open(lossy(path)).is_ok_and(|f| f.metadata().is_ok_and(|m| !m.is_dir()))
}

/// luajit's `searchpath`: the first readable file, or the "\n\tno file '...'" list.
fn search(name: &[u8], path: &[u8], sep: &[u8], rep: &[u8]) -> Result<Vec<u8>, Vec<u8>> {
    let name = if sep.is_empty() {
        name.to_vec()
    } else {
        replace(name, sep, rep)
    };
    let mut msg = Vec::new();
    for templ in path.split(|&c| c == b';').filter(|t| !t.is_empty()) {
        let file = replace(templ, b"?", &name);
        if readable(&file) {
            return Ok(file);
        }
        msg.extend_from_slice(b"\n\tno file '");
        msg.extend_from_slice(&file);
        msg.push(b'\'');
    }
    Err(msg)
}

fn searchpath_fn(st: &mut State) -> LuaResult<u32> {
    let name = str_bytes(st.check_str(1)?);
    let path = str_bytes(st.check_str(2)?);
    let sep = match st.opt_str(3)? {
        Some(s) => str_bytes(s),
        None => b".".to_vec(),
    };
    let rep = match st.opt_str(4)? {
        Some(s) => str_bytes(s),
        None => b"/".to_vec(),
    };
    match search(&name, &path, &sep, &rep) {
        Ok(f) => {
            st.push_bytes(&f)?;
            Ok(1)
        }
        Err(msg) => {
            st.push_nil()?;
            st.push_bytes(&msg)?;
            Ok(2)
        }
    }
}

/// Search `package[pname]` for `name`.
fn findfile(st: &mut State, name: &[u8], pname: &str) -> LuaResult<Result<Vec<u8>, Vec<u8>>> {
    let pkg = package_table(st)?;
    let path = tab_get(st, pkg, pname.as_bytes())?;
    let Some(path) = path.as_str() else {
        return Err(st.rt_error(&format!("'package.{pname}' must be a string")));
    };
    Ok(search(name, &str_bytes(path), b".", b"/"))
}

fn loader_preload(st: &mut State) -> LuaResult<u32> {
    let name = str_bytes(st.check_str(1)?);
    let pkg = package_table(st)?;
    let Some(preload) = tab_get(st, pkg, b"preload")?.as_tab() else {
        return Err(st.rt_error("'package.preload' must be a table"));
    };
    let v = tab_get(st, preload, &name)?;
    if v.is_nil() {
        let msg = format!("\n\tno field package.preload['{}']", lossy(&name));
        st.push_bytes(msg.as_bytes())?;
    } else {
        st.push(v)?;
    }
    Ok(1)
}

fn loader_lua(st: &mut State) -> LuaResult<u32> {
    let name = str_bytes(st.check_str(1)?);
    let file = match findfile(st, &name, "path")? {
        Ok(f) => f,
        Err(msg) => {
            st.push_bytes(&msg)?;
            return Ok(1);
        }
    };
    let err = match super::base::read_source(Some(&file)) {
        Ok((src, chunk)) => {
            if st.load(&src, &chunk, b"bt")? {
                return Ok(1);
            }
            // SAFETY: load pushed the message.
            let m = unsafe { *st.top().sub(1) };
            st.display_value(m)
        }
        Err(m) => m.into_bytes(),
    };
    Err(st.rt_error(&format!(
        "error loading module '{}' from file '{}':\n\t{}",
        lossy(&name),
        lossy(&file),
        lossy(&err)
    )))
}

fn c_module_error(st: &mut State, name: &[u8], file: &[u8]) -> crate::vm::Throw {
    st.rt_error(&format!(
        "error loading module '{}' from file '{}':\n\tmodule '{}' is a C module, which moonjet \
         cannot load yet (no Lua C API)",
        lossy(name),
        lossy(file),
        lossy(name)
    ))
}

fn loader_c(st: &mut State) -> LuaResult<u32> {
    let name = str_bytes(st.check_str(1)?);
    match findfile(st, &name, "cpath")? {
        Ok(f) => Err(c_module_error(st, &name, &f)),
        Err(msg) => {
            st.push_bytes(&msg)?;
            Ok(1)
        }
    }
}

fn loader_croot(st: &mut State) -> LuaResult<u32> {
    let name = str_bytes(st.check_str(1)?);
    let Some(dot) = name.iter().position(|&c| c == b'.') else {
        return Ok(0);
    };
    match findfile(st, &name[..dot], "cpath")? {
        Ok(f) => Err(c_module_error(st, &name, &f)),
        Err(msg) => {
            st.push_bytes(&msg)?;
            Ok(1)
        }
    }
}

fn loadlib(st: &mut State) -> LuaResult<u32> {
    let path = str_bytes(st.check_str(1)?);
    st.check_str(2)?;
    st.push_nil()?;
    let msg = format!(
        "{}: moonjet cannot load C libraries yet (no Lua C API)",
        lossy(&path)
    );
    st.push_bytes(msg.as_bytes())?;
    st.push_bytes(b"open")?;
    Ok(3)
}

fn seeall(st: &mut State) -> LuaResult<u32> {
    let t = st.check_tab(1)?;
    // SAFETY: live table.
    let mut mt = unsafe { (*t).metatable };
    if mt.is_null() {
        mt = st.new_table(0, 1)?;
        st.push(TValue::from_tab(mt))?;
        // SAFETY: live tables.
        unsafe { st.heap.set_table_metatable(t, mt) };
        st.pop(1);
    }
    let g = st.globals;
    st.raw_set_str(mt, b"__index", TValue::from_tab(g))?;
    Ok(0)
}

fn require(st: &mut State) -> LuaResult<u32> {
    let name_s = st.check_str(1)?;
    let name = str_bytes(name_s);
    let loaded = loaded_table(st)?;
    st.push(TValue::from_tab(loaded))?;
    let sentinel = reg_get(st, REG_SENTINEL)?;
    let v = tab_get(st, loaded, &name)?;
    if v.is_truthy() {
        if v == sentinel {
            return Err(st.rt_error(&format!(
                "loop or previous error loading module '{}'",
                lossy(&name)
            )));
        }
        st.push(v)?;
        return Ok(1);
    }
    let pkg = package_table(st)?;
    let Some(loaders) = tab_get(st, pkg, b"loaders")?.as_tab() else {
        return Err(st.rt_error("'package.loaders' must be a table"));
    };
    st.push(TValue::from_tab(loaders))?;
    let mut msg = Vec::new();
    let mut i = 1;
    let loader = loop {
        // SAFETY: live table.
        let f = unsafe { table::get_int(loaders, i) };
        if f.is_nil() {
            return Err(st.rt_error(&format!(
                "module '{}' not found:{}",
                lossy(&name),
                lossy(&msg)
            )));
        }
        let r = st.call_value(f, &[TValue::from_gc(name_s.cast(), itype::STR)])?;
        if r.is_func() {
            break r;
        }
        if let Some(s) = r.as_str() {
            msg.extend_from_slice(&str_bytes(s));
        }
        i += 1;
    };
    st.push(loader)?;
    st.raw_set_str(loaded, &name, sentinel)?;
    let r = st.call_value(loader, &[TValue::from_gc(name_s.cast(), itype::STR)])?;
    if !r.is_nil() {
        st.raw_set_str(loaded, &name, r)?;
    }
    let mut v = tab_get(st, loaded, &name)?;
    if v == sentinel {
        v = TValue::from_bool(true);
        st.raw_set_str(loaded, &name, v)?;
    }
    st.push(v)?;
    Ok(1)
}

/// `luaL_findtable(globals, "a.b.c")`: walk (creating) the tables; Err(part) if a
/// non-table value is in the way.
fn find_table(st: &mut State, mut t: *mut GcTab, name: &[u8]) -> LuaResult<Result<*mut GcTab, ()>> {
    for part in name.split(|&c| c == b'.') {
        let v = tab_get(st, t, part)?;
        if v.is_nil() {
            let nt = st.new_table(0, 1)?;
            st.push(TValue::from_tab(nt))?;
            st.raw_set_str(t, part, TValue::from_tab(nt))?;
            st.pop(1);
            t = nt;
        } else if let Some(nt) = v.as_tab() {
            t = nt;
        } else {
            return Ok(Err(()));
        }
    }
    Ok(Ok(t))
}

fn module(st: &mut State) -> LuaResult<u32> {
    let name = str_bytes(st.check_str(1)?);
    let lastarg = st.nargs();
    let loaded = loaded_table(st)?;
    // The sentinel of a module being loaded is a table here, but not a module.
    let sentinel = reg_get(st, REG_SENTINEL)?;
    let cur = tab_get(st, loaded, &name)?;
    let m = match cur.as_tab().filter(|_| cur != sentinel) {
        Some(m) => m,
        None => {
            let g = st.globals;
            let Ok(m) = find_table(st, g, &name)? else {
                return Err(st.rt_error(&format!("name conflict for module '{}'", lossy(&name))));
            };
            st.push(TValue::from_tab(m))?;
            st.raw_set_str(loaded, &name, TValue::from_tab(m))?;
            st.pop(1);
            m
        }
    };
    let mv = TValue::from_tab(m);
    st.push(mv)?;
    if tab_get(st, m, b"_NAME")?.is_nil() {
        st.raw_set_str(m, b"_M", mv)?;
        let nv = st.new_str(&name)?;
        st.raw_set_str(m, b"_NAME", nv)?;
        let pk = match name.iter().rposition(|&c| c == b'.') {
            Some(i) => &name[..=i],
            None => &b""[..],
        };
        let pv = st.new_str(pk)?;
        st.raw_set_str(m, b"_PACKAGE", pv)?;
    }
    // The caller's environment: setfenv(2, m) seen from here (level 1 is `module`).
    let setfenv = st.get_global(b"setfenv")?;
    if setfenv.is_func() {
        st.call_value(setfenv, &[TValue::from_f64(2.0), mv])?;
    }
    for i in 2..=lastarg {
        let f = st.arg(i);
        st.check_stack(2)?;
        st.push(f)?;
        st.push(mv)?;
        st.call(1, 0)?;
    }
    Ok(0)
}

// ---- table.new / table.clear -------------------------------------------------------------

fn open_table_new(st: &mut State) -> LuaResult<u32> {
    post_register(st, "new", table_new)
}

fn open_table_clear(st: &mut State) -> LuaResult<u32> {
    post_register(st, "clear", table_clear)
}

/// `lj_lib_postreg`: install `f` as `table[name]` and return it.
fn post_register(st: &mut State, name: &str, f: NativeFn) -> LuaResult<u32> {
    let fc = st.push_native(f, 0)?;
    let fv = TValue::from_gc(fc.cast(), itype::FUNC);
    let loaded = loaded_table(st)?;
    let t = match tab_get(st, loaded, b"table")?.as_tab() {
        Some(t) => Some(t),
        None => st.get_global(b"table")?.as_tab(),
    };
    if let Some(t) = t {
        st.raw_set_str(t, name.as_bytes(), fv)?;
    }
    Ok(1)
}

fn table_new(st: &mut State) -> LuaResult<u32> {
    let a = st.check_int(1)?;
    let h = st.check_int(2)?;
    const MAX_ASIZE: i32 = (1 << 27) + 1;
    const MAX_HSIZE: i32 = 1 << 26;
    if a > MAX_ASIZE || h > MAX_HSIZE {
        return Err(st.rt_error("table overflow"));
    }
    let narr = if a > 0 { a as u32 + 1 } else { 0 };
    let t = st.new_table(narr, h.max(0) as u32)?;
    st.push(TValue::from_tab(t))?;
    Ok(1)
}

fn table_clear(st: &mut State) -> LuaResult<u32> {
    let t = st.check_tab(1)?;
    // SAFETY: a live table; storing nil into its slots needs no barrier and keeps both
    // parts (and their sizes) as they are.
    unsafe {
        for i in 0..(*t).asize as usize {
            *(*t).array.add(i) = TValue::NIL;
        }
        if (*t).node != table::empty_node() {
            for i in 0..=(*t).hmask as usize {
                (*(*t).node.add(i)).val = TValue::NIL;
            }
        }
    }
    Ok(0)
}
