//! The standard libraries: base, coroutine, string, table, math.

pub mod base;
pub mod bit;
pub mod coroutine;
pub mod debug;
pub mod io;
pub mod math;
pub mod string;
pub mod table;

use crate::vm::{LuaResult, NativeFn, State};
use moonjet_gc::{GcTab, TValue};

/// Set `t[name] = native closure` for each entry (the closure id is plain native).
pub fn register(st: &mut State, t: *mut GcTab, funcs: &[(&str, NativeFn)]) -> LuaResult<()> {
    for &(name, f) in funcs {
        let fc = st.push_native(f, 0)?;
        st.raw_set_str(
            t,
            name.as_bytes(),
            TValue::from_gc(fc.cast(), moonjet_gc::value::itype::FUNC),
        )?;
        st.pop(1);
    }
    Ok(())
}

/// A new library table registered as global `name`.
pub fn new_lib(st: &mut State, name: &str, funcs: &[(&str, NativeFn)]) -> LuaResult<*mut GcTab> {
    let t = st.new_table(0, funcs.len() as u32)?;
    st.push(TValue::from_tab(t))?;
    register(st, t, funcs)?;
    st.set_global(name.as_bytes(), TValue::from_tab(t))?;
    st.pop(1);
    Ok(t)
}

/// Open every library of this module.
pub fn open_all(st: &mut State) -> LuaResult<()> {
    base::open(st)?;
    coroutine::open(st)?;
    string::open(st)?;
    table::open(st)?;
    math::open(st)?;
    io::open(st)?;
    debug::open(st)?;
    bit::open(st)?;
    Ok(())
}
