//! The standard libraries: base, coroutine, string, table, math, io, os, debug, and
//! luajit's bit, jit and ffi.

pub mod base;
pub mod bit;
pub mod coroutine;
mod cstd;
pub mod debug;
pub mod ffi;
pub mod io;
pub mod jit;
pub mod math;
pub mod os;
pub mod package;
pub mod string;
pub mod table;

use crate::vm::{LuaResult, NativeFn, State};
use moonjet_gc::{GcTab, TValue};

/// luajit's numbers for its library functions ("function: builtin#29" is `print`): a
/// function registered under one of these names gets that number as its id.
const BUILTIN_IDS: &[(&str, u8)] = &[
    ("_G.assert", 2),
    ("_G.type", 3),
    ("_G.next", 4),
    ("_G.pairs", 5),
    ("_G.ipairs", 7),
    ("_G.getmetatable", 8),
    ("_G.setmetatable", 9),
    ("_G.getfenv", 10),
    ("_G.setfenv", 11),
    ("_G.rawget", 12),
    ("_G.rawset", 13),
    ("_G.rawequal", 14),
    ("_G.unpack", 15),
    ("_G.select", 16),
    ("_G.tonumber", 17),
    ("_G.tostring", 18),
    ("_G.error", 19),
    ("_G.pcall", 20),
    ("_G.xpcall", 21),
    ("_G.loadfile", 22),
    ("_G.load", 23),
    ("_G.loadstring", 24),
    ("_G.dofile", 25),
    ("_G.gcinfo", 26),
    ("_G.collectgarbage", 27),
    ("_G.newproxy", 28),
    ("_G.print", 29),
    ("coroutine.status", 30),
    ("coroutine.running", 31),
    ("coroutine.isyieldable", 32),
    ("coroutine.create", 33),
    ("coroutine.yield", 34),
    ("coroutine.resume", 35),
    ("coroutine.wrap", 37),
    ("math.abs", 38),
    ("math.floor", 39),
    ("math.ceil", 40),
    ("math.sqrt", 41),
    ("math.log10", 42),
    ("math.exp", 43),
    ("math.sin", 44),
    ("math.cos", 45),
    ("math.tan", 46),
    ("math.asin", 47),
    ("math.acos", 48),
    ("math.atan", 49),
    ("math.sinh", 50),
    ("math.cosh", 51),
    ("math.tanh", 52),
    ("math.frexp", 53),
    ("math.modf", 54),
    ("math.log", 55),
    ("math.atan2", 56),
    ("math.pow", 57),
    ("math.fmod", 58),
    ("math.ldexp", 59),
    ("math.min", 60),
    ("math.max", 61),
    ("math.random", 62),
    ("math.randomseed", 63),
    ("bit.tobit", 64),
    ("bit.bnot", 65),
    ("bit.bswap", 66),
    ("bit.lshift", 67),
    ("bit.rshift", 68),
    ("bit.arshift", 69),
    ("bit.rol", 70),
    ("bit.ror", 71),
    ("bit.band", 72),
    ("bit.bor", 73),
    ("bit.bxor", 74),
    ("bit.tohex", 75),
    ("string.byte", 76),
    ("string.char", 77),
    ("string.sub", 78),
    ("string.rep", 79),
    ("string.reverse", 80),
    ("string.lower", 81),
    ("string.upper", 82),
    ("string.dump", 83),
    ("string.find", 84),
    ("string.match", 85),
    ("string.gmatch", 87),
    ("string.gsub", 88),
    ("string.format", 89),
    ("table.maxn", 90),
    ("table.insert", 91),
    ("table.concat", 92),
    ("table.sort", 93),
    ("file.close", 96),
    ("file.read", 97),
    ("file.write", 98),
    ("file.flush", 99),
    ("file.seek", 100),
    ("file.setvbuf", 101),
    ("file.lines", 102),
    ("file.__gc", 103),
    ("file.__tostring", 104),
    ("io.open", 105),
    ("io.popen", 106),
    ("io.tmpfile", 107),
    ("io.close", 108),
    ("io.read", 109),
    ("io.write", 110),
    ("io.flush", 111),
    ("io.input", 112),
    ("io.output", 113),
    ("io.lines", 114),
    ("io.type", 115),
    ("os.execute", 116),
    ("os.remove", 117),
    ("os.rename", 118),
    ("os.tmpname", 119),
    ("os.getenv", 120),
    ("os.exit", 121),
    ("os.clock", 122),
    ("os.date", 123),
    ("os.time", 124),
    ("os.difftime", 125),
    ("os.setlocale", 126),
    ("debug.getregistry", 127),
    ("debug.getmetatable", 128),
    ("debug.setmetatable", 129),
    ("debug.getfenv", 130),
    ("debug.setfenv", 131),
    ("debug.getinfo", 132),
    ("debug.getlocal", 133),
    ("debug.setlocal", 134),
    ("debug.getupvalue", 135),
    ("debug.setupvalue", 136),
    ("debug.upvalueid", 137),
    ("debug.upvaluejoin", 138),
    ("debug.sethook", 139),
    ("debug.gethook", 140),
    ("debug.debug", 141),
    ("debug.traceback", 142),
    ("jit.on", 143),
    ("jit.off", 144),
    ("jit.flush", 145),
    ("jit.status", 146),
    ("jit.security", 147),
    ("jit.attach", 148),
];

/// The builtin number of `lib.name` (`_G.name` for base functions), if luajit has one.
pub fn builtin_id(lib: &str, name: &str) -> Option<u8> {
    BUILTIN_IDS
        .iter()
        .find(|(n, _)| n.split_once('.') == Some((lib, name)))
        .map(|&(_, id)| id)
}

/// Set `t[name] = native closure` for each entry of library `lib`.
pub fn register(
    st: &mut State,
    t: *mut GcTab,
    lib: &str,
    funcs: &[(&str, NativeFn)],
) -> LuaResult<()> {
    for &(name, f) in funcs {
        let id = builtin_id(lib, name).unwrap_or(moonjet_gc::object::ffid::NATIVE);
        let fc = st.push_native_ff(f, id, 0)?;
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
    register(st, t, name, funcs)?;
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
    jit::open(st)?;
    bit::open(st)?;
    os::open(st)?;
    package::open(st)?;
    ffi::open(st)?;
    Ok(())
}
