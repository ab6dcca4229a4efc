//! The embedding API (issue 12): each feature, with the state checked usable after
//! every failure. Run also with `MOONJET_GC_STRESS=1`.

use moonjet::{
    AnyUserData, Error, Function, Lua, LuaOptions, MetaMethod, MultiValue, RegistryKey, StdLib,
    Table, UserData, UserDataFields, UserDataMethods, Value, Variadic,
};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::{Duration, Instant};

fn runtime_message(e: Error) -> String {
    match e {
        Error::Runtime(m) => m,
        other => panic!("expected a runtime error, got {other:?}"),
    }
}

/// The message of a runtime error raised as a string, checked to have a traceback
/// after it.
fn message_before_traceback(e: Error) -> String {
    let m = runtime_message(e);
    match m.split_once("\nstack traceback:\n\t") {
        Some((message, _)) => message.to_string(),
        None => panic!("no traceback after the message: {m:?}"),
    }
}

/// The error a Rust callback returned, from the `CallbackError` that brought it back.
fn callback_cause(e: Error) -> Error {
    match e {
        Error::CallbackError { cause, traceback } => {
            assert!(traceback.starts_with("stack traceback:\n"), "{traceback:?}");
            (*cause).clone()
        }
        other => panic!("expected a callback error, got {other:?}"),
    }
}

// ---- core -------------------------------------------------------------------------------

#[test]
fn exec_eval_and_globals() {
    let lua = Lua::new();
    lua.load("x = 1 + 2").exec().unwrap();
    assert_eq!(lua.globals().get::<i32>("x").unwrap(), 3);
    assert_eq!(lua.load("x * 2").eval::<i64>().unwrap(), 6);
    let (a, b): (String, bool) = lua.load("return 'a', true").eval().unwrap();
    assert_eq!((a.as_str(), b), ("a", true));
    lua.globals().set("y", "hi").unwrap();
    assert_eq!(lua.load("return y .. '!'").eval::<String>().unwrap(), "hi!");
}

#[test]
fn syntax_and_runtime_errors() {
    let lua = Lua::new();
    match lua.load("x = = 1").set_name("bad.lua").exec() {
        Err(Error::Syntax {
            message,
            incomplete_input,
        }) => {
            assert!(message.starts_with("bad.lua:1:"), "{message}");
            assert!(!incomplete_input);
        }
        other => panic!("{other:?}"),
    }
    match lua.load("for i = 1, 2 do").exec() {
        Err(Error::Syntax {
            incomplete_input, ..
        }) => assert!(incomplete_input),
        other => panic!("{other:?}"),
    }
    let msg = message_before_traceback(lua.load("error('boom')").set_name("s").exec().unwrap_err());
    assert_eq!(msg, "s:1: boom");
    let msg = message_before_traceback(lua.load("local t = nil; return t.x").exec().unwrap_err());
    assert!(msg.contains("attempt to index"), "{msg}");
    // Still usable.
    assert_eq!(lua.load("1").eval::<i32>().unwrap(), 1);
    // Display and std::error::Error.
    let e: Box<dyn std::error::Error> = Box::new(lua.load("error('x', 0)").exec().unwrap_err());
    assert!(
        e.to_string()
            .starts_with("runtime error: x\nstack traceback:\n"),
        "{e}"
    );
}

#[test]
fn chunk_call_into_function_and_binary() {
    let lua = Lua::new();
    let n: i32 = lua
        .load("local a, b = ... return a * b")
        .call((6, 7))
        .unwrap();
    assert_eq!(n, 42);
    let f = lua.load("return 5").into_function().unwrap();
    assert_eq!(f.call::<i32>(()).unwrap(), 5);
    // A binary chunk made by string.dump runs; mode restrictions hold.
    let bytes: moonjet::String = lua
        .load("return string.dump(function(a) return a + 1 end)")
        .eval()
        .unwrap();
    let bin = bytes.as_bytes().to_vec();
    let g = lua.load(bin.clone()).into_function().unwrap();
    assert_eq!(g.call::<i32>(41).unwrap(), 42);
    assert!(lua
        .load(bin)
        .set_mode(moonjet::ChunkMode::Text)
        .into_function()
        .is_err());
    assert!(lua
        .load("return 1")
        .set_mode(moonjet::ChunkMode::Binary)
        .into_function()
        .is_err());
    // A garbage binary chunk is an error, not a crash.
    assert!(lua.load(&b"\x1bLJ\x02garbage"[..]).exec().is_err());
}

#[test]
fn chunk_environment() {
    let lua = Lua::new();
    let env = lua.create_table().unwrap();
    env.set("x", 10).unwrap();
    lua.load("y = x + 1")
        .set_environment(env.clone())
        .exec()
        .unwrap();
    assert_eq!(env.get::<i32>("y").unwrap(), 11);
    assert!(lua.globals().get::<Option<i32>>("y").unwrap().is_none());
}

#[test]
fn create_function_and_call_both_ways() {
    let lua = Lua::new();
    let add = lua
        .create_function(|_, (a, b): (f64, f64)| Ok(a + b))
        .unwrap();
    lua.globals().set("add", add.clone()).unwrap();
    assert_eq!(lua.load("add(1, 2)").eval::<f64>().unwrap(), 3.0);
    assert_eq!(add.call::<f64>((2, 3)).unwrap(), 5.0);
    // Multiple results and no results.
    let two = lua.create_function(|_, ()| Ok((1, "two"))).unwrap();
    let (a, b): (i32, String) = two.call(()).unwrap();
    assert_eq!((a, b.as_str()), (1, "two"));
    let none = lua.create_function(|_, ()| Ok(())).unwrap();
    let v: MultiValue = none.call(()).unwrap();
    assert!(v.is_empty());
    // Variadic arguments after fixed ones.
    let join = lua
        .create_function(|_, (sep, parts): (String, Variadic<String>)| Ok(parts.join(&sep)))
        .unwrap();
    lua.globals().set("join", join).unwrap();
    assert_eq!(
        lua.load("join('-', 'a', 'b', 'c')")
            .eval::<String>()
            .unwrap(),
        "a-b-c"
    );
    // Variadic results.
    let many = lua
        .create_function(|_, n: usize| Ok(Variadic::from((1..=n).collect::<Vec<_>>())))
        .unwrap();
    lua.globals().set("many", many).unwrap();
    assert_eq!(lua.load("select('#', many(5))").eval::<i32>().unwrap(), 5);
    // The callback gets the Lua handle and can call back into Lua.
    let twice = lua
        .create_function(|lua, f: Function| {
            let x: i32 = f.call(1)?;
            let g: i32 = lua.globals().get("g")?;
            Ok(f.call::<i32>(x)? + g)
        })
        .unwrap();
    lua.globals().set("twice", twice).unwrap();
    lua.globals().set("g", 100).unwrap();
    assert_eq!(
        lua.load("twice(function(x) return x * 10 end)")
            .eval::<i32>()
            .unwrap(),
        200
    );
}

#[test]
fn callback_errors_become_lua_errors() {
    let lua = Lua::new();
    let fail = lua
        .create_function(|_, ()| -> moonjet::Result<()> { Err(Error::runtime("no way")) })
        .unwrap();
    lua.globals().set("fail", fail.clone()).unwrap();
    let (ok, msg): (bool, String) = lua.load("return pcall(fail)").eval().unwrap();
    assert!(!ok);
    assert_eq!(msg, "no way");
    let cause = callback_cause(fail.call::<()>(()).unwrap_err());
    assert_eq!(runtime_message(cause), "no way");
    // Argument conversion errors name the argument.
    let f = lua
        .create_function(|_, (_a, _b): (i32, i32)| Ok(()))
        .unwrap();
    lua.globals().set("f", f).unwrap();
    let (ok, msg): (bool, String) = lua.load("return pcall(f, 1, 'x')").eval().unwrap();
    assert!(!ok);
    assert!(msg.starts_with("bad argument #2"), "{msg}");
    let (ok, msg): (bool, String) = lua.load("return pcall(f, 1.5, 2)").eval().unwrap();
    assert!(!ok);
    assert!(
        msg.contains("bad argument #1") && msg.contains("not an integer"),
        "{msg}"
    );
}

#[test]
fn runtime_errors_carry_a_traceback_of_where_they_were_raised() {
    let lua = Lua::new();
    let src = "local function inner_fn() error('deep') end\n\
               function outer_fn() inner_fn() end\n\
               outer_fn()";
    let msg = runtime_message(lua.load(src).set_name("tb.lua").exec().unwrap_err());
    let (message, traceback) = msg.split_once("\nstack traceback:\n").unwrap();
    assert_eq!(message, "tb.lua:1: deep");
    assert!(
        traceback.contains("tb.lua:1: in function 'inner_fn'"),
        "{msg}"
    );
    assert!(
        traceback.contains("tb.lua:2: in function 'outer_fn'"),
        "{msg}"
    );
    // Function::call: the function the error came from is the first Lua frame.
    let f: Function = lua
        .load("local function indexes(x) return x.y end return indexes")
        .set_name("f.lua")
        .eval()
        .unwrap();
    let msg = runtime_message(f.call::<()>(()).unwrap_err());
    assert!(msg.starts_with("f.lua:1: attempt to index"), "{msg}");
    assert!(
        msg.contains("\nstack traceback:\n\tf.lua:1: in function <f.lua:1>"),
        "{msg}"
    );
    // Non-string error values come back as they are, without a traceback.
    let msg = runtime_message(lua.load("error({})").exec().unwrap_err());
    assert_eq!(msg, "(error object is a table value)");
    let msg = runtime_message(
        lua.load("error(setmetatable({}, { __tostring = function() return 'obj' end }))")
            .exec()
            .unwrap_err(),
    );
    assert_eq!(msg, "obj");
    // Lua's pcall still sees the bare message.
    let (ok, msg): (bool, String) = lua.load("return pcall(error, 'plain', 0)").eval().unwrap();
    assert!(!ok);
    assert_eq!(msg, "plain");
}

#[derive(Debug)]
struct DiskFull(u32);

impl std::fmt::Display for DiskFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "disk {} is full", self.0)
    }
}

impl std::error::Error for DiskFull {}

#[test]
fn callback_errors_keep_their_kind_through_lua() {
    use moonjet::ExternalError;
    let lua = Lua::new();
    let save = lua
        .create_function(|_, disk: u32| -> moonjet::Result<()> {
            Err(DiskFull(disk).into_lua_err())
        })
        .unwrap();
    lua.globals().set("save", save.clone()).unwrap();
    // Not caught by Lua: back in Rust as a CallbackError whose cause is the error.
    let e = lua.load("save(3)").set_name("main.lua").exec().unwrap_err();
    assert_eq!(e.downcast_ref::<DiskFull>().map(|d| d.0), Some(3));
    match &e {
        Error::CallbackError { traceback, cause } => {
            assert!(matches!(**cause, Error::External(_)), "{cause:?}");
            assert!(traceback.contains("in function 'save'"), "{traceback}");
            assert!(
                traceback.contains("main.lua:1: in main chunk"),
                "{traceback}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string()
            .starts_with("disk 3 is full\nstack traceback:"),
        "{e}"
    );
    // Called from Rust directly.
    let e = save.call::<()>(4).unwrap_err();
    assert_eq!(e.downcast_ref::<DiskFull>().map(|d| d.0), Some(4));
    // Caught by Lua: pcall gives the message, a string.
    let (ok, msg, kind): (bool, String, String) = lua
        .load("local ok, e = pcall(save, 5) return ok, tostring(e), type(e)")
        .eval()
        .unwrap();
    assert!(!ok);
    assert_eq!((msg.as_str(), kind.as_str()), ("disk 5 is full", "string"));
    // Caught, then raised again as it was: the Rust caller gets the error back.
    let e = lua
        .load("local ok, e = pcall(save, 6) error(e, 0)")
        .exec()
        .unwrap_err();
    assert_eq!(e.downcast_ref::<DiskFull>().map(|d| d.0), Some(6));
    // A Lua error made from the message is a Lua error.
    let e = lua
        .load("local ok, e = pcall(save, 7) error('while saving: ' .. e, 0)")
        .exec()
        .unwrap_err();
    assert!(message_before_traceback(e).starts_with("while saving: disk 7 is full"));
    // Inside a coroutine resumed from Rust.
    let body: Function = lua.load("return function() save(8) end").eval().unwrap();
    let co = lua.create_thread(body).unwrap();
    let e = co.resume::<()>(()).unwrap_err();
    assert_eq!(e.downcast_ref::<DiskFull>().map(|d| d.0), Some(8));
    // Memory errors of callbacks stay memory errors.
    let oom = lua
        .create_function(|_, ()| -> moonjet::Result<()> { Err(Error::Memory) })
        .unwrap();
    assert!(matches!(oom.call::<()>(()), Err(Error::Memory)));
    assert_eq!(lua.load("return 1 + 1").eval::<i32>().unwrap(), 2);
}

#[test]
fn nested_callback_errors_wrap_each_trip_through_rust() {
    use moonjet::ExternalError;
    let lua = Lua::new();
    let fail = lua
        .create_function(|_, ()| -> moonjet::Result<()> { Err(DiskFull(9).into_lua_err()) })
        .unwrap();
    let outer = lua
        .create_function(|lua, ()| {
            let mid: Function = lua.globals().get("mid")?;
            mid.call::<()>(())
        })
        .unwrap();
    lua.globals().set("fail", fail).unwrap();
    lua.globals().set("outer", outer).unwrap();
    lua.load("function mid() fail() end")
        .set_name("mid.lua")
        .exec()
        .unwrap();
    // Lua -> outer (Rust) -> mid (Lua) -> fail (Rust), which fails.
    let e = lua.load("outer()").set_name("main.lua").exec().unwrap_err();
    let Error::CallbackError { cause, traceback } = &e else {
        panic!("{e:?}")
    };
    assert!(traceback.contains("in function 'outer'"), "{traceback}");
    let Error::CallbackError {
        cause: root,
        traceback: inner,
    } = cause.as_ref()
    else {
        panic!("{cause:?}")
    };
    assert!(matches!(**root, Error::External(_)), "{root:?}");
    assert!(inner.contains("in function 'fail'"), "{inner}");
    assert!(inner.contains("mid.lua:1:"), "{inner}");
    assert_eq!(e.downcast_ref::<DiskFull>().map(|d| d.0), Some(9));
    // Display: the innermost error and the deepest traceback.
    let text = e.to_string();
    assert!(
        text.starts_with("disk 9 is full\nstack traceback:"),
        "{text}"
    );
    assert!(text.contains("in function 'fail'"), "{text}");
    // Lua code between the two sees the message.
    lua.load("function mid() local ok, e = pcall(fail) error('mid saw: ' .. e, 0) end")
        .exec()
        .unwrap();
    let e = lua.load("outer()").exec().unwrap_err();
    let cause = callback_cause(e);
    assert_eq!(message_before_traceback(cause), "mid saw: disk 9 is full");
}

#[test]
fn panics_in_callbacks_are_caught() {
    let lua = Lua::new();
    let boom = lua
        .create_function(|_, ()| -> moonjet::Result<()> { panic!("kaboom") })
        .unwrap();
    lua.globals().set("boom", boom.clone()).unwrap();
    let (ok, msg): (bool, String) = lua.load("return pcall(boom)").eval().unwrap();
    assert!(!ok);
    assert!(msg.contains("kaboom"), "{msg}");
    let e = boom.call::<()>(()).unwrap_err();
    assert!(e.to_string().contains("kaboom"));
    // A panic deep inside nested Lua/Rust calls.
    let nested = lua
        .create_function(|lua, ()| lua.load("boom()").exec())
        .unwrap();
    lua.globals().set("nested", nested).unwrap();
    assert!(lua.load("nested()").exec().is_err());
    // The state is fine afterwards.
    assert_eq!(lua.load("return 1 + 1").eval::<i32>().unwrap(), 2);
    lua.gc_collect().unwrap();
    assert_eq!(lua.load("return #'abc'").eval::<i32>().unwrap(), 3);
}

#[test]
fn function_mut_refuses_reentry() {
    let lua = Lua::new();
    let mut count = 0;
    let counter = lua
        .create_function_mut(move |_, ()| {
            count += 1;
            Ok(count)
        })
        .unwrap();
    assert_eq!(counter.call::<i32>(()).unwrap(), 1);
    assert_eq!(counter.call::<i32>(()).unwrap(), 2);
    let reenter = lua
        .create_function_mut(|lua, ()| lua.load("reenter()").exec())
        .unwrap();
    lua.globals().set("reenter", reenter.clone()).unwrap();
    let e = reenter.call::<()>(()).unwrap_err();
    assert!(e.to_string().contains("recursively"), "{e}");
    // The same in a scope.
    let mut calls = 0;
    let e = lua
        .scope(|scope| {
            let f = scope.create_function_mut(|lua, ()| {
                calls += 1;
                lua.load("scoped_reenter()").exec()
            })?;
            lua.globals().set("scoped_reenter", f.clone())?;
            f.call::<()>(())
        })
        .unwrap_err();
    assert!(e.to_string().contains("recursively"), "{e}");
    assert_eq!(calls, 1);
}

// ---- conversions --------------------------------------------------------------------------

#[test]
fn integer_conversions_are_exact() {
    let lua = Lua::new();
    assert_eq!(lua.load("42").eval::<u8>().unwrap(), 42);
    assert_eq!(lua.load("-5").eval::<i64>().unwrap(), -5);
    assert!(lua.load("1.5").eval::<i32>().is_err());
    assert!(lua.load("256").eval::<u8>().is_err());
    assert!(lua.load("-1").eval::<u32>().is_err());
    assert!(lua.load("0/0").eval::<i64>().is_err());
    assert!(lua.load("1/0").eval::<i64>().is_err());
    assert!(lua.load("2^63").eval::<i64>().is_err());
    assert_eq!(lua.load("2^53").eval::<i64>().unwrap(), 1 << 53);
    assert_eq!(lua.load("'17'").eval::<i32>().unwrap(), 17);
    assert!(lua.load("'x'").eval::<i32>().is_err());
    assert!(lua.load("nil").eval::<i32>().is_err());
    // Rust to Lua: exact or an error.
    let t = lua.create_table().unwrap();
    t.set("a", 1u64 << 53).unwrap();
    assert!(t.set("b", (1u64 << 53) + 1).is_err());
    assert!(t.set("c", i64::MAX).is_err());
    assert!(lua.pack(Value::Integer(i64::MIN)).is_ok());
    assert_eq!(lua.load("2.5").eval::<f64>().unwrap(), 2.5);
    assert_eq!(lua.load("2.5").eval::<f32>().unwrap(), 2.5);
}

#[test]
fn value_conversions() {
    let lua = Lua::new();
    assert!(lua.load("nil").eval::<Value>().unwrap().is_nil());
    assert!(!lua.load("nil").eval::<bool>().unwrap());
    assert!(lua.load("0").eval::<bool>().unwrap());
    assert_eq!(lua.load("nil").eval::<Option<i32>>().unwrap(), None);
    assert_eq!(lua.load("3").eval::<Option<i32>>().unwrap(), Some(3));
    assert_eq!(lua.load("12").eval::<String>().unwrap(), "12");
    assert_eq!(lua.load("0.5").eval::<String>().unwrap(), "0.5");
    assert!(lua.load("{}").eval::<String>().is_err());
    // Bytes that are not UTF-8.
    let s: moonjet::String = lua.load("'\\255\\0x'").eval().unwrap();
    assert_eq!(s.as_bytes(), b"\xff\0x");
    assert!(s.to_str().is_err());
    assert!(lua.load("'\\255'").eval::<String>().is_err());
    let b = lua.create_string(&b"\x00\x01"[..]).unwrap();
    lua.globals().set("b", b).unwrap();
    assert_eq!(lua.load("#b").eval::<i32>().unwrap(), 2);
    lua.globals().set("bytes", &b"ab\0"[..]).unwrap();
    assert_eq!(lua.load("#bytes").eval::<i32>().unwrap(), 3);
    // Vec, HashMap, BTreeMap.
    let v: Vec<i32> = lua.load("{1, 2, 3}").eval().unwrap();
    assert_eq!(v, [1, 2, 3]);
    lua.globals().set("v", vec!["a", "b"]).unwrap();
    assert_eq!(
        lua.load("v[1] .. v[2] .. #v").eval::<String>().unwrap(),
        "ab2"
    );
    let m: HashMap<String, i32> = lua.load("{a = 1, b = 2}").eval().unwrap();
    assert_eq!(m["a"] + m["b"], 3);
    let bm: BTreeMap<i32, String> = lua.load("{'x', 'y'}").eval().unwrap();
    assert_eq!(
        bm.into_iter().collect::<Vec<_>>(),
        [(1, "x".into()), (2, "y".into())]
    );
    let mut hm = HashMap::new();
    hm.insert("k", 5);
    lua.globals().set("hm", hm).unwrap();
    assert_eq!(lua.load("hm.k").eval::<i32>().unwrap(), 5);
    assert!(lua.load("{1, 'x'}").eval::<Vec<i32>>().is_err());
    // Values keep their identity.
    let t1: Table = lua.load("return _G").eval().unwrap();
    assert_eq!(t1, lua.globals());
    let v: Value = lua.load("return print").eval().unwrap();
    assert_eq!(v.type_name(), "function");
    let v: Value = lua.load("return coroutine.create(print)").eval().unwrap();
    assert_eq!(v.type_name(), "thread");
    let v: Value = lua
        .load("return require('ffi').new('int', 1)")
        .eval()
        .unwrap();
    assert_eq!(v.type_name(), "cdata");
    assert!(lua.load("return 1").eval::<Table>().is_err());
    // Handles of another state are refused, not misused.
    let other = Lua::new();
    let foreign = other.create_table().unwrap();
    assert!(lua.globals().set("foreign", &foreign).is_err());
    assert!(lua.globals().set_metatable(Some(foreign.clone())).is_err());
    let f = lua.load("return 1").into_function().unwrap();
    assert!(f.set_environment(foreign.clone()).is_err());
    assert!(lua.create_registry_value(&foreign).is_err());
    assert!(lua
        .create_thread(other.load("return 1").into_function().unwrap())
        .is_err());
}

// ---- tables -------------------------------------------------------------------------------

#[test]
fn table_api() {
    let lua = Lua::new();
    let t = lua.create_table().unwrap();
    t.set("a", 1).unwrap();
    t.set(1, "one").unwrap();
    t.set(2, "two").unwrap();
    assert_eq!(t.get::<i32>("a").unwrap(), 1);
    assert_eq!(t.len().unwrap(), 2);
    assert!(t.contains_key("a").unwrap());
    assert!(!t.contains_key("zz").unwrap());
    assert!(t.set(Value::Nil, 1).is_err());
    assert!(t.set(f64::NAN, 1).is_err());
    t.push("three").unwrap();
    let seq: Vec<String> = t.sequence_values::<String>().map(|v| v.unwrap()).collect();
    assert_eq!(seq, ["one", "two", "three"]);
    let mut n = 0;
    for kv in t.pairs::<Value, Value>() {
        kv.unwrap();
        n += 1;
    }
    assert_eq!(n, 4);
    // Metatables: get/set honour __index/__newindex; raw_* do not.
    let mt: Table = lua
        .load("return { __index = function(t, k) return k .. '!' end, __newindex = function(t, k, v) rawset(t, k, v * 2) end }")
        .eval()
        .unwrap();
    t.set_metatable(Some(mt.clone())).unwrap();
    assert_eq!(t.metatable().unwrap(), mt);
    assert_eq!(t.get::<String>("zz").unwrap(), "zz!");
    assert!(t.raw_get::<Value>("zz").unwrap().is_nil());
    t.set("d", 4).unwrap();
    assert_eq!(t.raw_get::<i32>("d").unwrap(), 8);
    t.raw_set("e", 4).unwrap();
    assert_eq!(t.raw_get::<i32>("e").unwrap(), 4);
    // An error in a metamethod is an Err, and the state goes on.
    let bad: Table = lua
        .load("return setmetatable({}, { __index = function() error('nope', 0) end })")
        .eval()
        .unwrap();
    assert_eq!(
        message_before_traceback(bad.get::<Value>("x").unwrap_err()),
        "nope"
    );
    t.set_metatable(None).unwrap();
    assert!(t.metatable().is_none());
    assert_eq!(lua.load("1").eval::<i32>().unwrap(), 1);
    // Iteration survives collections in between.
    let big = lua.create_table().unwrap();
    for i in 0..200 {
        big.set(format!("k{i}"), i).unwrap();
    }
    let mut sum = 0;
    for kv in big.pairs::<String, i64>() {
        let (_, v) = kv.unwrap();
        sum += v;
        lua.gc_collect().unwrap();
    }
    assert_eq!(sum, (0..200).sum::<i64>());
}

// ---- registry and the collector -------------------------------------------------------------

#[test]
fn registry_values_survive_collections() {
    let lua = Lua::new();
    let t = lua.create_table().unwrap();
    t.set("v", 99).unwrap();
    let key: RegistryKey = lua.create_registry_value(t).unwrap();
    let fkey = lua
        .create_registry_value(
            lua.load("local up = {n = 5} return function() return up.n end")
                .eval::<Function>()
                .unwrap(),
        )
        .unwrap();
    let skey = lua.create_registry_value("a string made in Rust").unwrap();
    lua.load(
        "local junk = {} for i = 1, 1e4 do junk[i] = {i} end collectgarbage() collectgarbage()",
    )
    .exec()
    .unwrap();
    lua.gc_collect().unwrap();
    let t: Table = lua.registry_value(&key).unwrap();
    assert_eq!(t.get::<i32>("v").unwrap(), 99);
    let f: Function = lua.registry_value(&fkey).unwrap();
    assert_eq!(f.call::<i32>(()).unwrap(), 5);
    assert_eq!(
        lua.registry_value::<String>(&skey).unwrap(),
        "a string made in Rust"
    );
    lua.replace_registry_value(&skey, 3).unwrap();
    assert_eq!(lua.registry_value::<i32>(&skey).unwrap(), 3);
    let other = Lua::new();
    assert!(matches!(
        other.registry_value::<Value>(&key),
        Err(Error::MismatchedRegistryKey)
    ));
    lua.remove_registry_value(key).unwrap();
    lua.set_named_registry_value("mine", 12).unwrap();
    assert_eq!(lua.named_registry_value::<i32>("mine").unwrap(), 12);
}

#[test]
fn handles_survive_collections() {
    let lua = Lua::new();
    let t: Table = lua.load("return {x = {y = 'deep'}}").eval().unwrap();
    let s = lua.create_string("kept").unwrap();
    let f: Function = lua
        .load("return function(a) return a .. '!' end")
        .eval()
        .unwrap();
    for _ in 0..3 {
        lua.load("local t = {} for i = 1, 1e4 do t[i] = tostring(i) end collectgarbage()")
            .exec()
            .unwrap();
        lua.gc_collect().unwrap();
    }
    let x: Table = t.get("x").unwrap();
    assert_eq!(x.get::<String>("y").unwrap(), "deep");
    assert_eq!(s.to_str().unwrap(), "kept");
    assert_eq!(f.call::<String>("a").unwrap(), "a!");
}

#[test]
fn gc_functions_and_used_memory() {
    let lua = Lua::new();
    let before = lua.used_memory();
    lua.load("big = {} for i = 1, 1e5 do big[i] = i end")
        .exec()
        .unwrap();
    assert!(lua.used_memory() > before);
    lua.load("big = nil").exec().unwrap();
    let high = lua.used_memory();
    lua.gc_collect().unwrap();
    assert!(lua.used_memory() < high);
    let mut finished = false;
    for _ in 0..10_000 {
        if lua.gc_step().unwrap() {
            finished = true;
            break;
        }
    }
    assert!(finished);
}

#[test]
fn memory_limit_then_reuse() {
    let lua = Lua::new();
    assert_eq!(
        lua.set_memory_limit(lua.used_memory() + 256 * 1024)
            .unwrap(),
        0
    );
    let e = lua
        .load("local t = {} for i = 1, 1e8 do t[i] = {i} end")
        .exec()
        .unwrap_err();
    assert!(matches!(e, Error::Memory), "{e:?}");
    // Catchable in Lua.
    let (ok, msg): (bool, String) = lua
        .load("return pcall(function() local s = {} for i = 1, 1e8 do s[i] = 'x' .. i end end)")
        .eval()
        .unwrap();
    assert!(!ok);
    assert_eq!(msg, "not enough memory");
    // From Rust.
    let r = (|| -> moonjet::Result<()> {
        let t = lua.create_table()?;
        for i in 0..10_000_000 {
            t.set(i, "some text")?;
        }
        Ok(())
    })();
    assert!(matches!(r, Err(Error::Memory)));
    // The state is usable within the limit, and fully once it is lifted.
    assert_eq!(lua.load("return 40 + 2").eval::<i32>().unwrap(), 42);
    let old = lua.set_memory_limit(0).unwrap();
    assert!(old > 0);
    lua.load("local t = {} for i = 1, 1e6 do t[i] = i end")
        .exec()
        .unwrap();
}

// ---- userdata -----------------------------------------------------------------------------

struct Account {
    balance: i64,
    log: Vec<String>,
}

impl UserData for Account {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("balance", |_, this| Ok(this.balance));
        fields.add_field_method_set("balance", |_, this, v: i64| {
            this.balance = v;
            Ok(())
        });
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("get", |_, this, ()| Ok(this.balance));
        methods.add_method_mut("deposit", |_, this, n: i64| {
            this.balance += n;
            this.log.push(format!("+{n}"));
            Ok(this.balance)
        });
        // Calls back into Lua while `this` is borrowed mutably.
        methods.add_method_mut("with_callback", |_, this, f: Function| {
            this.balance += 1;
            f.call::<()>(())
        });
        // Calls back into Lua while `this` is borrowed shared.
        methods.add_method("peek_with", |_, _this, f: Function| f.call::<()>(()));
        methods.add_function("new", |_, n: i64| {
            Ok(Account {
                balance: n,
                log: vec![],
            })
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!("Account({})", this.balance))
        });
        methods.add_meta_method(MetaMethod::Eq, |_, this, other: AnyUserData| {
            Ok(this.balance == other.borrow::<Account>()?.balance)
        });
        methods.add_meta_function(MetaMethod::Add, |_, (a, b): (AnyUserData, AnyUserData)| {
            let sum = a.borrow::<Account>()?.balance + b.borrow::<Account>()?.balance;
            Ok(Account {
                balance: sum,
                log: vec![],
            })
        });
        methods.add_meta_method(MetaMethod::Index, |_, _, key: String| {
            Ok(format!("no field {key}"))
        });
    }
}

#[test]
fn userdata_methods_fields_and_metamethods() {
    let lua = Lua::new();
    let acct = lua
        .create_userdata(Account {
            balance: 10,
            log: vec![],
        })
        .unwrap();
    lua.globals().set("acct", &acct).unwrap();
    assert_eq!(lua.load("acct:deposit(5)").eval::<i64>().unwrap(), 15);
    assert_eq!(lua.load("acct:get()").eval::<i64>().unwrap(), 15);
    assert_eq!(lua.load("acct.balance").eval::<i64>().unwrap(), 15);
    lua.load("acct.balance = 100").exec().unwrap();
    assert_eq!(acct.borrow::<Account>().unwrap().balance, 100);
    assert_eq!(
        lua.load("tostring(acct)").eval::<String>().unwrap(),
        "Account(100)"
    );
    assert_eq!(
        lua.load("acct.whatever").eval::<String>().unwrap(),
        "no field whatever"
    );
    let e = lua.load("acct.nosuch = 1").exec().unwrap_err();
    assert!(e.to_string().contains("nosuch"), "{e}");
    // Functions and operators making new userdata (IntoLua for UserData types).
    lua.globals().set("Account", acct.clone()).unwrap();
    assert_eq!(
        lua.load("local b = acct.new(1) return (acct + b).balance")
            .eval::<i64>()
            .unwrap(),
        101
    );
    assert!(lua.load("acct == acct.new(100)").eval::<bool>().unwrap());
    // Rust side.
    acct.borrow_mut::<Account>().unwrap().balance = 7;
    assert_eq!(lua.load("acct:get()").eval::<i64>().unwrap(), 7);
    assert!(acct.is::<Account>());
    assert!(!acct.is::<String>());
    assert!(matches!(
        acct.borrow::<String>(),
        Err(Error::UserDataTypeMismatch)
    ));
    assert_eq!(acct.borrow::<Account>().unwrap().log, ["+5"]);
    // Wrong self.
    let e = lua.load("acct.get({})").exec().unwrap_err();
    assert!(e.to_string().contains("bad argument #1"), "{e}");
    let e = lua.load("acct.get(io.stdout)").exec().unwrap_err();
    assert!(e.to_string().contains("bad argument #1"), "{e}");
    // take() leaves it destructed for Lua.
    let taken = acct.take::<Account>().unwrap();
    assert_eq!(taken.balance, 7);
    let e = lua.load("acct:get()").exec().unwrap_err();
    assert!(e.to_string().contains("destructed"), "{e}");
    assert!(matches!(
        acct.borrow::<Account>(),
        Err(Error::UserDataDestructed)
    ));
}

#[test]
fn userdata_borrow_conflicts_are_errors() {
    let lua = Lua::new();
    let acct = lua
        .create_userdata(Account {
            balance: 0,
            log: vec![],
        })
        .unwrap();
    lua.globals().set("acct", &acct).unwrap();
    // &mut self method re-entered through Lua: the inner call must fail.
    let e = lua
        .load("acct:with_callback(function() acct:deposit(1) end)")
        .exec()
        .unwrap_err();
    assert!(e.to_string().contains("mutably borrowing"), "{e}");
    // Shared borrows may nest; a mutable one inside a shared one fails.
    lua.load("acct:peek_with(function() assert(acct:get() == 1) end)")
        .exec()
        .unwrap();
    let e = lua
        .load("acct:peek_with(function() acct:deposit(1) end)")
        .exec()
        .unwrap_err();
    assert!(e.to_string().contains("mutably borrowing"), "{e}");
    // A Rust borrow blocks Lua's mutable access, and calling __gc by hand cannot free
    // a borrowed value.
    {
        let guard = acct.borrow::<Account>().unwrap();
        assert!(lua.load("acct:deposit(1)").exec().is_err());
        assert!(lua.load("acct:get()").exec().is_ok());
        let r = lua
            .load("local mt = debug.getmetatable(acct) mt.__gc(acct)")
            .exec();
        assert!(r.is_err());
        assert_eq!(guard.balance, 1);
    }
    assert!(acct.borrow_mut::<Account>().is_ok());
    // An explicit __gc call on a free value destructs it; later uses are errors.
    lua.load("debug.getmetatable(acct).__gc(acct)")
        .exec()
        .unwrap();
    assert!(lua.load("acct:get()").exec().is_err());
    // Forged userdata (a proxy given our metatable) are refused, not read.
    let e = lua
        .load("local p = newproxy() debug.setmetatable(p, debug.getmetatable(acct)) return p:get()")
        .exec()
        .unwrap_err();
    assert!(e.to_string().contains("bad argument #1"), "{e}");
}

struct Dropper(Rc<Cell<u32>>);

impl UserData for Dropper {}

impl Drop for Dropper {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn userdata_and_callbacks_are_dropped() {
    let drops = Rc::new(Cell::new(0));
    let lua = Lua::new();
    {
        let ud = lua.create_userdata(Dropper(drops.clone())).unwrap();
        lua.globals().set("ud", ud).unwrap();
    }
    lua.load("ud = nil").exec().unwrap();
    lua.gc_collect().unwrap();
    lua.gc_collect().unwrap();
    assert_eq!(drops.get(), 1);
    // Captured values of a collected callback are dropped too.
    let captured = Dropper(drops.clone());
    let f = lua
        .create_function(move |_, ()| Ok(captured.0.get()))
        .unwrap();
    drop(f);
    lua.gc_collect().unwrap();
    lua.gc_collect().unwrap();
    assert_eq!(drops.get(), 2);
    // Values still alive when the state goes are dropped with it.
    let kept = lua.create_userdata(Dropper(drops.clone())).unwrap();
    lua.globals().set("kept", kept).unwrap();
    drop(lua);
    assert_eq!(drops.get(), 3);
}

// ---- sandbox --------------------------------------------------------------------------------

#[test]
fn sandbox_without_unsafe_libraries() {
    let lua = Lua::new_with(StdLib::SAFE, LuaOptions::default()).unwrap();
    for name in ["io", "os", "ffi", "debug", "dofile", "loadfile"] {
        let v: Value = lua.globals().get(name).unwrap();
        assert!(v.is_nil(), "{name} is visible in the sandbox");
    }
    let (ok, _): (bool, Value) = lua.load("return pcall(require, 'ffi')").eval().unwrap();
    assert!(!ok);
    let loadlib: Value = lua.load("return package.loadlib").eval().unwrap();
    assert!(loadlib.is_nil());
    for lib in [
        "string",
        "table",
        "math",
        "coroutine",
        "bit",
        "jit",
        "package",
    ] {
        let v: Value = lua.globals().get(lib).unwrap();
        assert!(matches!(v, Value::Table(_)), "{lib} missing");
    }
    assert_eq!(
        lua.load("string.rep('a', 3)").eval::<String>().unwrap(),
        "aaa"
    );
    // Only what was asked for.
    let lua = Lua::new_with(StdLib::BASE | StdLib::MATH, LuaOptions::default()).unwrap();
    assert!(lua.globals().get::<Value>("string").unwrap().is_nil());
    assert_eq!(lua.load("math.max(1, 2)").eval::<i32>().unwrap(), 2);
    let lua = Lua::new_with(StdLib::NONE, LuaOptions::default()).unwrap();
    assert!(lua.globals().get::<Value>("print").unwrap().is_nil());
    assert_eq!(lua.load("return 1 + 1").eval::<i32>().unwrap(), 2);
}

// ---- interrupts ---------------------------------------------------------------------------

fn deadline_interrupt(lua: &Lua, ms: u64) -> Rc<Cell<u32>> {
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let deadline = Instant::now() + Duration::from_millis(ms);
    lua.set_interrupt(move |_| {
        c.set(c.get() + 1);
        if Instant::now() > deadline {
            Err(Error::runtime("time limit"))
        } else {
            Ok(())
        }
    });
    calls
}

#[test]
fn interrupt_stops_interpreted_loop() {
    let lua = Lua::new_with(StdLib::ALL, LuaOptions::default().jit(false)).unwrap();
    let calls = deadline_interrupt(&lua, 50);
    let t = Instant::now();
    let e = lua.load("while true do end").exec().unwrap_err();
    assert!(e.to_string().contains("time limit"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(calls.get() > 1);
    lua.remove_interrupt();
    assert_eq!(lua.load("return 3").eval::<i32>().unwrap(), 3);
}

#[test]
fn interrupt_stops_jit_compiled_loops() {
    let lua = Lua::new();
    assert!(lua.load("return (jit.status())").eval::<bool>().unwrap());
    for src in [
        "while true do end",
        "local x = 0 for i = 1, 1e12 do x = x + i end",
        "local t = {0} repeat t[1] = t[1] + 1 until false",
    ] {
        let calls = deadline_interrupt(&lua, 50);
        let t = Instant::now();
        let e = lua.load(src).exec().unwrap_err();
        assert!(e.to_string().contains("time limit"), "{src}: {e}");
        assert!(t.elapsed() < Duration::from_secs(5), "{src}");
        assert!(calls.get() > 1);
    }
    // Lua can catch it, and the state goes on.
    let calls = deadline_interrupt(&lua, 30);
    let (ok, msg): (bool, String) = lua
        .load("return pcall(function() while true do end end)")
        .eval()
        .unwrap();
    assert!(!ok && msg == "time limit", "{msg}");
    assert!(calls.get() > 0);
    lua.remove_interrupt();
    assert_eq!(
        lua.load("local s = 0 for i = 1, 1000 do s = s + i end return s")
            .eval::<i64>()
            .unwrap(),
        500500
    );
}

#[test]
fn interrupt_ok_lets_code_finish() {
    let lua = Lua::new();
    let calls = Rc::new(Cell::new(0u32));
    let c = calls.clone();
    lua.set_interrupt(move |_| {
        c.set(c.get() + 1);
        Ok(())
    });
    let start = Instant::now();
    let elapsed = lua
        .create_function(move |_, ()| Ok(start.elapsed().as_secs_f64()))
        .unwrap();
    lua.globals().set("elapsed", elapsed).unwrap();
    let n: f64 = lua
        .load("local x = 0 while elapsed() < 0.05 do x = x + 1 end return x")
        .eval()
        .unwrap();
    assert!(n > 0.0);
    assert!(calls.get() > 1);
    // A compiled loop that is interrupted (and resumed) many times computes the same.
    let before = calls.get();
    let sum: f64 = lua
        .load("local x = 0 for i = 1, 3e7 do x = x + i % 7 end return x")
        .eval()
        .unwrap();
    let expect: u64 = (1..=30_000_000u64).map(|i| i % 7).sum();
    assert_eq!(sum, expect as f64);
    assert!(calls.get() >= before);
}

#[test]
fn jit_compiles_the_interrupted_loop() {
    let lua = Lua::new();
    let dump = jit_dump_of(&lua, "interrupt", "t", || {
        deadline_interrupt(&lua, 50);
        let e = lua
            .load("local x = 0 for i = 1, 1e12 do x = x + i end")
            .exec()
            .unwrap_err();
        assert!(e.to_string().contains("time limit"), "{e}");
        // The deadline has passed: without this, a slow run (GC stress) could be stopped
        // again.
        lua.remove_interrupt();
    });
    assert!(dump.contains("TRACE 1"), "no trace was compiled: {dump}");
}

/// What `jit.dump` (with `flags`) writes while `f` runs on `lua`.
fn jit_dump_of(lua: &Lua, name: &str, flags: &str, f: impl FnOnce()) -> String {
    let path =
        std::env::temp_dir().join(format!("moonjet-embed-{name}-{}.txt", std::process::id()));
    let path_str = path.to_str().unwrap().to_string();
    lua.load("require('jit.dump').on(...)")
        .call::<()>((flags, path_str))
        .unwrap();
    f();
    lua.load("require('jit.dump').off()").exec().unwrap();
    let dump = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    dump
}

// ---- scope ----------------------------------------------------------------------------------

#[test]
fn scope_functions_borrow_locals_and_die_with_the_scope() {
    let lua = Lua::new();
    let mut total = 0i64;
    let label = String::from("sum");
    let r: String = lua
        .scope(|scope| {
            let add = scope.create_function_mut(|_, n: i64| {
                total += n;
                Ok(())
            })?;
            let name = scope.create_function(|_, ()| Ok(label.clone()))?;
            lua.globals().set("add", add)?;
            lua.globals().set("name", name)?;
            lua.load("for i = 1, 10 do add(i) end return name()").eval()
        })
        .unwrap();
    assert_eq!(total, 55);
    assert_eq!(r, "sum");
    let e = lua.load("add(1)").exec().unwrap_err();
    assert!(e.to_string().contains("scope"), "{e}");
    lua.gc_collect().unwrap();
    assert_eq!(total, 55);
    // Scoped userdata are destroyed at the end too.
    let drops = Rc::new(Cell::new(0));
    lua.scope(|scope| {
        let ud = scope.create_userdata(Dropper(drops.clone()))?;
        lua.globals().set("scoped_ud", ud)
    })
    .unwrap();
    assert_eq!(drops.get(), 1);
    // An error inside the scope still destroys what it made.
    let r: moonjet::Result<()> = lua.scope(|scope| {
        let f = scope.create_function(|_, ()| Ok(total))?;
        lua.globals().set("leaked", f)?;
        Err(Error::runtime("early"))
    });
    assert!(r.is_err());
    assert!(lua.load("leaked()").exec().is_err());
}

// ---- serde ----------------------------------------------------------------------------------

#[cfg(feature = "serde")]
#[test]
fn serde_round_trip() {
    use serde::{Deserialize, Serialize};
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Mode {
        Fast,
        Limited(u32),
        Custom { level: u8 },
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Config {
        name: String,
        ports: Vec<u16>,
        ratio: f64,
        tags: BTreeMap<String, bool>,
        parent: Option<Box<Config>>,
        modes: Vec<Mode>,
    }
    let lua = Lua::new();
    let cfg = Config {
        name: "svc".into(),
        ports: vec![80, 443],
        ratio: 0.25,
        tags: [("a".to_string(), true)].into_iter().collect(),
        parent: Some(Box::new(Config {
            name: "root".into(),
            ports: vec![],
            ratio: 1.0,
            tags: BTreeMap::new(),
            parent: None,
            modes: vec![],
        })),
        modes: vec![Mode::Fast, Mode::Limited(3), Mode::Custom { level: 2 }],
    };
    let v = lua.to_value(&cfg).unwrap();
    lua.globals().set("cfg", v.clone()).unwrap();
    assert_eq!(
        lua.load(
            "cfg.name .. cfg.ports[2] .. cfg.parent.name .. cfg.modes[1] .. cfg.modes[2].Limited"
        )
        .eval::<String>()
        .unwrap(),
        "svc443rootFast3"
    );
    let back: Config = lua.from_value(v).unwrap();
    assert_eq!(back, cfg);
    // From a table written in Lua.
    let v: Value = lua
        .load("{ name = 'lua', ports = {1}, ratio = 2, tags = {}, modes = {'Fast', {Custom = {level = 9}}} }")
        .eval()
        .unwrap();
    let c: Config = lua.from_value(v).unwrap();
    assert_eq!(c.ratio, 2.0);
    assert_eq!(c.modes[1], Mode::Custom { level: 9 });
    // Bad input is an error.
    let v: Value = lua.load("{ name = 1 }").eval().unwrap();
    assert!(lua.from_value::<Config>(v).is_err());
    assert!(lua.to_value(&u64::MAX).is_err());
}

#[test]
fn callbacks_inside_coroutines() {
    let lua = Lua::new();
    let twice = lua
        .create_function(|_, f: Function| Ok(f.call::<i32>(())? * 2))
        .unwrap();
    lua.globals().set("twice", twice).unwrap();
    let r: Vec<i32> = lua
        .load(
            r#"
            local out = {}
            local co = coroutine.wrap(function()
                out[#out + 1] = twice(function() return 21 end)
                coroutine.yield()
                out[#out + 1] = twice(function() return 5 end)
            end)
            co() co()
            return out
        "#,
        )
        .eval()
        .unwrap();
    assert_eq!(r, [42, 10]);
    // Yielding through a Rust callback is refused with an error, not a crash.
    let (ok, msg): (bool, String) = lua
        .load("return coroutine.wrap(function() return pcall(twice, function() coroutine.yield() end) end)()")
        .eval()
        .unwrap();
    assert!(!ok);
    assert!(msg.contains("yield"), "{msg}");
}

#[test]
fn deep_recursion_through_callbacks_is_an_error() {
    let lua = Lua::new();
    let f = lua
        .create_function(|lua, n: u32| lua.load("return rec(...)").call::<u32>(n + 1))
        .unwrap();
    lua.globals().set("rec", f).unwrap();
    let e = lua.load("rec(0)").exec().unwrap_err();
    assert!(e.to_string().contains("overflow"), "{e}");
    assert_eq!(lua.load("return 7").eval::<i32>().unwrap(), 7);
}

struct Item(u32);

impl UserData for Item {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field("kind", "item");
        fields.add_field_function_get(
            "double",
            |_, ud: AnyUserData| Ok(ud.borrow::<Item>()?.0 * 2),
        );
    }
}

#[test]
fn constant_and_function_fields_app_data_and_table_helpers() {
    let lua = Lua::new();
    lua.globals().set("item", Item(21)).unwrap();
    assert_eq!(
        lua.load("item.kind .. item.double")
            .eval::<String>()
            .unwrap(),
        "item42"
    );
    // App data, reached from a callback.
    struct Config {
        scale: i64,
    }
    assert!(lua.set_app_data(Config { scale: 3 }).is_none());
    let scaled = lua
        .create_function(|lua, x: i64| Ok(x * lua.app_data_ref::<Config>().unwrap().scale))
        .unwrap();
    assert_eq!(scaled.call::<i64>(5).unwrap(), 15);
    {
        let guard = lua.app_data_ref::<Config>().unwrap();
        assert!(lua.app_data_mut::<Config>().is_none());
        assert!(lua.remove_app_data::<Config>().is_none());
        assert_eq!(guard.scale, 3);
    }
    assert_eq!(lua.set_app_data(Config { scale: 4 }).unwrap().scale, 3);
    lua.app_data_mut::<Config>().unwrap().scale = 5;
    assert_eq!(scaled.call::<i64>(5).unwrap(), 25);
    assert_eq!(lua.remove_app_data::<Config>().unwrap().scale, 5);
    assert!(lua.app_data_ref::<Config>().is_none());
    // Table helpers.
    let t: Table = lua.load("{1, 2, 3, x = 1}").eval().unwrap();
    t.raw_insert(2, 10).unwrap();
    t.raw_remove(1).unwrap();
    let v: Vec<i32> = t.sequence_values().collect::<moonjet::Result<_>>().unwrap();
    assert_eq!(v, [10, 2, 3]);
    assert!(t.raw_insert(9, 1).is_err());
    t.clear().unwrap();
    assert!(t.is_empty());
}

#[test]
fn threads_resume_from_rust() {
    // Threads work without the coroutine library too.
    let bare = Lua::new_with(StdLib::BASE, LuaOptions::default()).unwrap();
    assert!(bare.globals().get::<Value>("coroutine").unwrap().is_nil());
    let f: Function = bare
        .load("return function(a) return a * 3 end")
        .eval()
        .unwrap();
    assert_eq!(bare.create_thread(f).unwrap().resume::<i32>(5).unwrap(), 15);

    let lua = Lua::new();
    let gen: Function = lua
        .load("return function(n) for i = 1, n do coroutine.yield(i, i * i) end return 'done' end")
        .eval()
        .unwrap();
    let co = lua.create_thread(gen).unwrap();
    assert_eq!(co.status(), moonjet::ThreadStatus::Resumable);
    let mut got = vec![];
    for _ in 0..3 {
        let (i, sq): (i32, i32) = co.resume(3).unwrap();
        got.push((i, sq));
        lua.gc_collect().unwrap();
    }
    assert_eq!(got, [(1, 1), (2, 4), (3, 9)]);
    assert_eq!(co.resume::<String>(()).unwrap(), "done");
    assert_eq!(co.status(), moonjet::ThreadStatus::Finished);
    assert!(co.resume::<()>(()).is_err());
    // Errors inside end the coroutine.
    let bad: Function = lua
        .load("return function() error('inside', 0) end")
        .eval()
        .unwrap();
    let co = lua.create_thread(bad).unwrap();
    assert_eq!(runtime_message(co.resume::<()>(()).unwrap_err()), "inside");
    assert_eq!(co.status(), moonjet::ThreadStatus::Finished);
    // A thread made in Lua, resumed from Rust.
    let co: moonjet::Thread = lua
        .load("return coroutine.create(function(a) local b = coroutine.yield(a) return a + b end)")
        .eval()
        .unwrap();
    assert_eq!(co.resume::<i32>(4).unwrap(), 4);
    assert_eq!(co.resume::<i32>(5).unwrap(), 9);
}

// ---- callbacks called from compiled loops ----------------------------------------------------

#[test]
fn callbacks_called_from_compiled_loops_behave_as_interpreted() {
    // Loops calling Rust functions and userdata methods compile (the trace calls the
    // callback); errors, panics and interrupts in them act as they do interpreted.
    struct Counter(i64);
    impl UserData for Counter {
        fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
            m.add_method_mut("inc", |_, this, by: i64| {
                this.0 += by;
                Ok(this.0)
            });
        }
    }
    let lua = Lua::new();
    let add = lua
        .create_function(|_, (a, b): (f64, f64)| {
            if b == 777.0 {
                return Err(Error::runtime("no 777"));
            }
            if b == 888.0 {
                panic!("at 888");
            }
            Ok(a + b)
        })
        .unwrap();
    lua.globals().set("add", add).unwrap();
    lua.globals()
        .set("counter", lua.create_userdata(Counter(0)).unwrap())
        .unwrap();
    let dump = jit_dump_of(&lua, "calls", "ti", || loops_calling_rust(&lua));
    assert!(
        dump.matches("CALLS").count() >= 3,
        "calls not compiled: {dump}"
    );
}

/// The loops of `callbacks_called_from_compiled_loops_behave_as_interpreted`.
fn loops_calling_rust(lua: &Lua) {
    let sum: f64 = lua
        .load("local s = 0 for i = 1, 500 do s = add(s, i) end return s")
        .eval()
        .unwrap();
    assert_eq!(sum, 125250.0);
    let n: i64 = lua
        .load("local c = counter for i = 1, 500 do c:inc(2) end return c:inc(0)")
        .eval()
        .unwrap();
    assert_eq!(n, 1000);
    // An error returned by the callback, caught by Lua after the loop compiled.
    let caught: String = lua
        .load("local ok, e = pcall(function() local s = 0 for i = 1, 1000 do s = add(s, i) end end) return e")
        .eval()
        .unwrap();
    assert!(caught.contains("no 777"), "{caught}");
    // A panic, which comes back to Rust as an error; the state stays usable.
    let e = lua
        .load("local s = 0 for i = 1, 1000 do s = add(s, i + 800) end")
        .exec()
        .unwrap_err();
    assert!(e.to_string().contains("at 888"), "{e}");
    assert_eq!(lua.load("return add(1, 2)").eval::<f64>().unwrap(), 3.0);
    // An interrupt stops a compiled loop that only calls Rust.
    deadline_interrupt(lua, 50);
    let e = lua
        .load("local c = counter while true do c:inc(1) end")
        .exec()
        .unwrap_err();
    assert!(e.to_string().contains("time limit"), "{e}");
    lua.remove_interrupt();
}
