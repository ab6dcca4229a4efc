//! Conversions between Rust and Lua values: [`IntoLua`], [`FromLua`] and their
//! multi-value forms [`IntoLuaMulti`], [`FromLuaMulti`].
//!
//! Each trait has a hidden fast path that works on the stack directly (no handle is
//! made for a number or a string); the default fast paths go through [`Value`].

use crate::error::{Error, Result};
use crate::lua::Lua;
use crate::raw::{self, StackArgs};
use crate::value::{
    AnyUserData, CData, Function, LightUserData, LuaString, MultiValue, Table, Thread, Value,
    Variadic,
};
use moonjet_gc::{GcStr, TValue};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

/// A Rust value that can become one Lua value.
pub trait IntoLua: Sized {
    /// The Lua value.
    fn into_lua(self, lua: &Lua) -> Result<Value>;

    /// Push the value on the running thread's stack.
    #[doc(hidden)]
    #[inline]
    fn push_into_stack(self, lua: &Lua) -> Result<()> {
        let v = self.into_lua(lua)?;
        lua.push_value(&v)
    }
}

/// A Rust value that can be made from one Lua value.
pub trait FromLua: Sized {
    /// Convert `value`.
    fn from_lua(value: Value, lua: &Lua) -> Result<Self>;

    /// Convert a raw value.
    ///
    /// # Safety
    /// `v` must be a value of `lua`'s state that stays alive (rooted) while this runs.
    #[doc(hidden)]
    #[inline]
    unsafe fn from_tvalue(v: TValue, lua: &Lua) -> Result<Self> {
        Self::from_lua(lua.value_from_tv(v), lua)
    }
}

/// A Rust value that can become any number of Lua values (a call's arguments or a
/// callback's results): a single value, a tuple, [`Variadic`], [`MultiValue`], `()`.
pub trait IntoLuaMulti: Sized {
    /// The Lua values.
    fn into_lua_multi(self, lua: &Lua) -> Result<MultiValue>;

    /// Push the values on the running thread's stack and return how many.
    #[doc(hidden)]
    #[inline]
    fn push_into_stack_multi(self, lua: &Lua) -> Result<usize> {
        let vs = self.into_lua_multi(lua)?;
        for v in vs.iter() {
            lua.push_value(v)?;
        }
        Ok(vs.len())
    }
}

/// A Rust value that can be made from any number of Lua values (a callback's arguments
/// or a call's results). Missing values are nil; extra ones are ignored unless the last
/// element is a [`Variadic`] or [`MultiValue`].
pub trait FromLuaMulti: Sized {
    /// Convert `values`.
    fn from_lua_multi(values: MultiValue, lua: &Lua) -> Result<Self>;

    /// Convert values on the stack.
    ///
    /// # Safety
    /// `args` must describe live slots of `lua`'s running thread, which stay in place
    /// (below its top) while this runs.
    #[doc(hidden)]
    #[inline]
    unsafe fn from_stack_multi(args: StackArgs, lua: &Lua) -> Result<Self> {
        let vs: MultiValue = (0..args.len())
            .map(|i| lua.value_from_tv(args.get(i)))
            .collect();
        Self::from_lua_multi(vs, lua)
    }
}

// ---- one value as many --------------------------------------------------------------------

impl<T: IntoLua> IntoLuaMulti for T {
    fn into_lua_multi(self, lua: &Lua) -> Result<MultiValue> {
        Ok(MultiValue::from(vec![self.into_lua(lua)?]))
    }

    #[inline]
    fn push_into_stack_multi(self, lua: &Lua) -> Result<usize> {
        self.push_into_stack(lua)?;
        Ok(1)
    }
}

impl<T: FromLua> FromLuaMulti for T {
    fn from_lua_multi(values: MultiValue, lua: &Lua) -> Result<Self> {
        let v = values.into_vec().into_iter().next().unwrap_or(Value::Nil);
        T::from_lua(v, lua)
    }

    #[inline]
    unsafe fn from_stack_multi(args: StackArgs, lua: &Lua) -> Result<Self> {
        T::from_tvalue(args.get(0), lua).map_err(|e| args.arg_error(0, e))
    }
}

impl IntoLuaMulti for MultiValue {
    fn into_lua_multi(self, _: &Lua) -> Result<MultiValue> {
        Ok(self)
    }
}

impl FromLuaMulti for MultiValue {
    fn from_lua_multi(values: MultiValue, _: &Lua) -> Result<Self> {
        Ok(values)
    }
}

impl<T: IntoLua> IntoLuaMulti for Variadic<T> {
    fn into_lua_multi(self, lua: &Lua) -> Result<MultiValue> {
        self.into_iter()
            .map(|v| v.into_lua(lua))
            .collect::<Result<Vec<_>>>()
            .map(MultiValue::from)
    }

    fn push_into_stack_multi(self, lua: &Lua) -> Result<usize> {
        let n = self.len();
        for v in self {
            v.push_into_stack(lua)?;
        }
        Ok(n)
    }
}

impl<T: FromLua> FromLuaMulti for Variadic<T> {
    fn from_lua_multi(values: MultiValue, lua: &Lua) -> Result<Self> {
        values.into_iter().map(|v| T::from_lua(v, lua)).collect()
    }

    unsafe fn from_stack_multi(args: StackArgs, lua: &Lua) -> Result<Self> {
        (0..args.len())
            .map(|i| T::from_tvalue(args.get(i), lua).map_err(|e| args.arg_error(i, e)))
            .collect()
    }
}

impl IntoLuaMulti for () {
    fn into_lua_multi(self, _: &Lua) -> Result<MultiValue> {
        Ok(MultiValue::new())
    }

    #[inline]
    fn push_into_stack_multi(self, _: &Lua) -> Result<usize> {
        Ok(0)
    }
}

impl FromLuaMulti for () {
    fn from_lua_multi(_: MultiValue, _: &Lua) -> Result<Self> {
        Ok(())
    }

    #[inline]
    unsafe fn from_stack_multi(_: StackArgs, _: &Lua) -> Result<Self> {
        Ok(())
    }
}

macro_rules! tuple_impls {
    ($($name:ident $idx:tt),* ; $last:ident $lidx:tt) => {
        impl<$($name: IntoLua,)* $last: IntoLuaMulti> IntoLuaMulti for ($($name,)* $last,) {
            fn into_lua_multi(self, lua: &Lua) -> Result<MultiValue> {
                #[allow(unused_mut)]
                let mut out: Vec<Value> = vec![$(self.$idx.into_lua(lua)?,)*];
                out.extend(self.$lidx.into_lua_multi(lua)?.into_vec());
                Ok(MultiValue::from(out))
            }

            #[inline]
            fn push_into_stack_multi(self, lua: &Lua) -> Result<usize> {
                $(self.$idx.push_into_stack(lua)?;)*
                Ok($lidx + self.$lidx.push_into_stack_multi(lua)?)
            }
        }

        #[allow(non_snake_case)]
        impl<$($name: FromLua,)* $last: FromLuaMulti> FromLuaMulti for ($($name,)* $last,) {
            fn from_lua_multi(values: MultiValue, lua: &Lua) -> Result<Self> {
                #[allow(unused_mut)]
                let mut it = values.into_vec().into_iter();
                $(let $name = $name::from_lua(it.next().unwrap_or(Value::Nil), lua)?;)*
                let rest: MultiValue = it.collect();
                Ok(($($name,)* $last::from_lua_multi(rest, lua)?,))
            }

            #[inline]
            unsafe fn from_stack_multi(args: StackArgs, lua: &Lua) -> Result<Self> {
                $(let $name = $name::from_tvalue(args.get($idx), lua)
                    .map_err(|e| args.arg_error($idx, e))?;)*
                Ok(($($name,)* $last::from_stack_multi(args.skip($lidx), lua)?,))
            }
        }
    };
}

tuple_impls!(; A 0);
tuple_impls!(A 0; B 1);
tuple_impls!(A 0, B 1; C 2);
tuple_impls!(A 0, B 1, C 2; D 3);
tuple_impls!(A 0, B 1, C 2, D 3; E 4);
tuple_impls!(A 0, B 1, C 2, D 3, E 4; F 5);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5; G 6);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5, G 6; H 7);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7; I 8);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8; J 9);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9; K 10);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10; L 11);

// ---- Value and handles ----------------------------------------------------------------------

impl IntoLua for Value {
    fn into_lua(self, _: &Lua) -> Result<Value> {
        Ok(self)
    }
}

impl FromLua for Value {
    fn from_lua(value: Value, _: &Lua) -> Result<Self> {
        Ok(value)
    }
}

impl IntoLua for &Value {
    fn into_lua(self, _: &Lua) -> Result<Value> {
        Ok(self.clone())
    }

    fn push_into_stack(self, lua: &Lua) -> Result<()> {
        lua.push_value(self)
    }
}

macro_rules! handle_impls {
    ($ty:ident, $variant:ident, $lua_name:literal, $check:ident) => {
        impl IntoLua for $ty {
            fn into_lua(self, _: &Lua) -> Result<Value> {
                Ok(Value::$variant(self))
            }

            #[inline]
            fn push_into_stack(self, lua: &Lua) -> Result<()> {
                (&self).push_into_stack(lua)
            }
        }

        impl IntoLua for &$ty {
            fn into_lua(self, _: &Lua) -> Result<Value> {
                Ok(Value::$variant(self.clone()))
            }

            #[inline]
            fn push_into_stack(self, lua: &Lua) -> Result<()> {
                if !lua.same_state(&self.0.lua) {
                    return Err(Error::runtime("a value of another Lua state was passed"));
                }
                raw::push(lua.st(), self.0.tv())
            }
        }

        impl FromLua for $ty {
            fn from_lua(value: Value, _: &Lua) -> Result<Self> {
                match value {
                    Value::$variant(x) => Ok(x),
                    other => Err(Error::from_conversion(other.type_name(), $lua_name, None)),
                }
            }

            #[inline]
            unsafe fn from_tvalue(v: TValue, lua: &Lua) -> Result<Self> {
                if v.$check() {
                    Ok($ty(crate::value::ValueRef::new(lua, v)))
                } else {
                    Err(Error::from_conversion(v.lua_type().name(), $lua_name, None))
                }
            }
        }
    };
}

handle_impls!(Table, Table, "table", is_tab);
handle_impls!(Function, Function, "function", is_func);
handle_impls!(Thread, Thread, "thread", is_thread);
handle_impls!(AnyUserData, UserData, "userdata", is_udata);
handle_impls!(CData, CData, "cdata", is_cdata);

impl IntoLua for LuaString {
    fn into_lua(self, _: &Lua) -> Result<Value> {
        Ok(Value::String(self))
    }

    fn push_into_stack(self, lua: &Lua) -> Result<()> {
        (&self).push_into_stack(lua)
    }
}

impl IntoLua for &LuaString {
    fn into_lua(self, _: &Lua) -> Result<Value> {
        Ok(Value::String(self.clone()))
    }

    fn push_into_stack(self, lua: &Lua) -> Result<()> {
        if !lua.same_state(&self.0.lua) {
            return Err(Error::runtime("a value of another Lua state was passed"));
        }
        raw::push(lua.st(), self.0.tv())
    }
}

impl FromLua for LuaString {
    /// Strings, and numbers (converted to their text as Lua does).
    fn from_lua(value: Value, lua: &Lua) -> Result<Self> {
        match value {
            Value::String(s) => Ok(s),
            Value::Number(n) => lua.create_string(moonjet_runtime::num::fmt_num(n)),
            Value::Integer(i) => lua.create_string(i.to_string()),
            other => Err(Error::from_conversion(other.type_name(), "string", None)),
        }
    }

    unsafe fn from_tvalue(v: TValue, lua: &Lua) -> Result<Self> {
        if v.is_str() {
            return Ok(LuaString(crate::value::ValueRef::new(lua, v)));
        }
        Self::from_lua(lua.value_from_tv(v), lua)
    }
}

impl IntoLua for LightUserData {
    fn into_lua(self, _: &Lua) -> Result<Value> {
        Ok(Value::LightUserData(self))
    }
}

impl FromLua for LightUserData {
    fn from_lua(value: Value, _: &Lua) -> Result<Self> {
        match value {
            Value::LightUserData(p) => Ok(p),
            other => Err(Error::from_conversion(
                other.type_name(),
                "light userdata",
                None,
            )),
        }
    }
}

// ---- nil, booleans, numbers -----------------------------------------------------------------

impl IntoLua for bool {
    fn into_lua(self, _: &Lua) -> Result<Value> {
        Ok(Value::Boolean(self))
    }

    #[inline]
    fn push_into_stack(self, lua: &Lua) -> Result<()> {
        raw::push(lua.st(), TValue::from_bool(self))
    }
}

impl FromLua for bool {
    /// Lua's truth: everything but nil and false is true.
    fn from_lua(value: Value, _: &Lua) -> Result<Self> {
        Ok(!matches!(value, Value::Nil | Value::Boolean(false)))
    }

    #[inline]
    unsafe fn from_tvalue(v: TValue, _: &Lua) -> Result<Self> {
        Ok(v.is_truthy())
    }
}

/// `n` as an `f64` if that is exact, else a conversion error naming `from`.
pub(crate) fn exact_f64(n: i128, from: &str) -> Result<f64> {
    let f = n as f64;
    if f as i128 == n && f.abs() < 1.7e38 {
        Ok(f)
    } else {
        Err(Error::ToLuaConversionError {
            from: from.to_string(),
            to: "number",
            message: Some(format!("{n} has no exact double representation")),
        })
    }
}

/// `x` as an integer type if it is integral and in range, never truncated.
pub(crate) fn f64_to_int<T: TryFrom<i128>>(x: f64) -> Result<T> {
    let to = std::any::type_name::<T>();
    if x.fract() != 0.0 || !x.is_finite() || x.abs() >= 1.7e38 {
        return Err(Error::from_conversion(
            "number",
            to,
            Some(format!(
                "{} is not an integer",
                moonjet_runtime::num::fmt_num(x)
            )),
        ));
    }
    T::try_from(x as i128).map_err(|_| {
        Error::from_conversion(
            "number",
            to,
            Some(format!(
                "{} is out of range",
                moonjet_runtime::num::fmt_num(x)
            )),
        )
    })
}

/// A number from a number or a string that reads as one (Lua's coercion).
fn tvalue_number(v: TValue, to: &str) -> Result<f64> {
    if v.is_number() {
        return Ok(v.num());
    }
    if let Some(s) = v.as_str() {
        // SAFETY: a live string (the caller keeps the value alive).
        if let Some(x) = moonjet_runtime::num::str_to_number(unsafe { GcStr::bytes(s) }) {
            return Ok(x);
        }
    }
    Err(Error::from_conversion(v.lua_type().name(), to, None))
}

fn value_number(value: &Value, lua: &Lua, to: &str) -> Result<f64> {
    match value {
        Value::Number(n) => Ok(*n),
        Value::Integer(i) => exact_f64(*i as i128, "i64"),
        Value::String(s) => moonjet_runtime::num::str_to_number(s.as_bytes())
            .ok_or_else(|| Error::from_conversion("string", to, None)),
        other => {
            let _ = lua;
            Err(Error::from_conversion(other.type_name(), to, None))
        }
    }
}

macro_rules! int_impls {
    ($($t:ty),*) => {$(
        impl IntoLua for $t {
            fn into_lua(self, _: &Lua) -> Result<Value> {
                Ok(Value::Number(exact_f64(self as i128, stringify!($t))?))
            }

            #[inline]
            fn push_into_stack(self, lua: &Lua) -> Result<()> {
                let f = exact_f64(self as i128, stringify!($t))?;
                raw::push(lua.st(), TValue::from_f64(f))
            }
        }

        impl FromLua for $t {
            fn from_lua(value: Value, lua: &Lua) -> Result<Self> {
                if let Value::Integer(i) = value {
                    return <$t>::try_from(i).map_err(|_| Error::from_conversion(
                        "number", stringify!($t), Some(format!("{i} is out of range"))));
                }
                f64_to_int(value_number(&value, lua, stringify!($t))?)
            }

            #[inline]
            unsafe fn from_tvalue(v: TValue, _: &Lua) -> Result<Self> {
                f64_to_int(tvalue_number(v, stringify!($t))?)
            }
        }
    )*};
}

int_impls!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

macro_rules! float_impls {
    ($($t:ty),*) => {$(
        impl IntoLua for $t {
            fn into_lua(self, _: &Lua) -> Result<Value> {
                Ok(Value::Number(self as f64))
            }

            #[inline]
            fn push_into_stack(self, lua: &Lua) -> Result<()> {
                raw::push(lua.st(), TValue::from_f64(self as f64))
            }
        }

        impl FromLua for $t {
            fn from_lua(value: Value, lua: &Lua) -> Result<Self> {
                Ok(value_number(&value, lua, stringify!($t))? as $t)
            }

            #[inline]
            unsafe fn from_tvalue(v: TValue, _: &Lua) -> Result<Self> {
                Ok(tvalue_number(v, stringify!($t))? as $t)
            }
        }
    )*};
}

float_impls!(f32, f64);

// ---- strings --------------------------------------------------------------------------------

fn push_bytes(lua: &Lua, b: &[u8]) -> Result<()> {
    let st = lua.st();
    let v = st.heap.new_string(b).map_err(|_| Error::Memory)?;
    raw::push(st, v)
}

impl IntoLua for &str {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::String(lua.create_string(self)?))
    }

    #[inline]
    fn push_into_stack(self, lua: &Lua) -> Result<()> {
        push_bytes(lua, self.as_bytes())
    }
}

impl IntoLua for String {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::String(lua.create_string(&self)?))
    }

    #[inline]
    fn push_into_stack(self, lua: &Lua) -> Result<()> {
        push_bytes(lua, self.as_bytes())
    }
}

impl IntoLua for &String {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::String(lua.create_string(self)?))
    }

    #[inline]
    fn push_into_stack(self, lua: &Lua) -> Result<()> {
        push_bytes(lua, self.as_bytes())
    }
}

impl IntoLua for &[u8] {
    /// The bytes as a Lua string.
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::String(lua.create_string(self)?))
    }

    #[inline]
    fn push_into_stack(self, lua: &Lua) -> Result<()> {
        push_bytes(lua, self)
    }
}

impl IntoLua for char {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        let mut buf = [0; 4];
        self.encode_utf8(&mut buf).into_lua(lua)
    }
}

impl FromLua for String {
    /// Strings that are UTF-8, and numbers (their text as Lua writes it).
    fn from_lua(value: Value, lua: &Lua) -> Result<Self> {
        match value {
            Value::String(s) => Ok(s.to_str()?.to_owned()),
            Value::Number(n) => Ok(moonjet_runtime::num::fmt_num(n)),
            Value::Integer(i) => Ok(i.to_string()),
            other => {
                let _ = lua;
                Err(Error::from_conversion(other.type_name(), "String", None))
            }
        }
    }

    #[inline]
    unsafe fn from_tvalue(v: TValue, _: &Lua) -> Result<Self> {
        if let Some(s) = v.as_str() {
            // SAFETY: a live string (the caller keeps the value alive).
            let b = unsafe { GcStr::bytes(s) };
            return match std::str::from_utf8(b) {
                Ok(s) => Ok(s.to_owned()),
                Err(e) => Err(Error::from_conversion(
                    "string",
                    "String",
                    Some(e.to_string()),
                )),
            };
        }
        if v.is_number() {
            return Ok(moonjet_runtime::num::fmt_num(v.num()));
        }
        Err(Error::from_conversion(v.lua_type().name(), "String", None))
    }
}

// ---- containers -----------------------------------------------------------------------------

impl<T: IntoLua> IntoLua for Option<T> {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        match self {
            Some(v) => v.into_lua(lua),
            None => Ok(Value::Nil),
        }
    }

    #[inline]
    fn push_into_stack(self, lua: &Lua) -> Result<()> {
        match self {
            Some(v) => v.push_into_stack(lua),
            None => raw::push(lua.st(), TValue::NIL),
        }
    }
}

impl<T: FromLua> FromLua for Option<T> {
    fn from_lua(value: Value, lua: &Lua) -> Result<Self> {
        match value {
            Value::Nil => Ok(None),
            v => T::from_lua(v, lua).map(Some),
        }
    }

    #[inline]
    unsafe fn from_tvalue(v: TValue, lua: &Lua) -> Result<Self> {
        if v.is_nil() {
            Ok(None)
        } else {
            T::from_tvalue(v, lua).map(Some)
        }
    }
}

impl<T: IntoLua> IntoLua for Vec<T> {
    /// A table with the items as its sequence.
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::Table(lua.create_sequence_from(self)?))
    }
}

impl<T: FromLua> FromLua for Vec<T> {
    /// The sequence `t[1..=#t]` of a table.
    fn from_lua(value: Value, _: &Lua) -> Result<Self> {
        match value {
            Value::Table(t) => {
                let n = t.raw_len();
                let mut out = Vec::with_capacity(n.min(1 << 16));
                for i in 1..=n {
                    out.push(t.raw_get::<T>(i)?);
                }
                Ok(out)
            }
            other => Err(Error::from_conversion(
                other.type_name(),
                "Vec",
                Some("expected a table".into()),
            )),
        }
    }
}

impl<K: IntoLua, V: IntoLua, S> IntoLua for HashMap<K, V, S> {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::Table(lua.create_table_from(self)?))
    }
}

impl<K: FromLua + Eq + Hash, V: FromLua, S: BuildHasher + Default> FromLua for HashMap<K, V, S> {
    fn from_lua(value: Value, _: &Lua) -> Result<Self> {
        match value {
            Value::Table(t) => t.pairs::<K, V>().collect(),
            other => Err(Error::from_conversion(
                other.type_name(),
                "HashMap",
                Some("expected a table".into()),
            )),
        }
    }
}

impl<K: IntoLua, V: IntoLua> IntoLua for BTreeMap<K, V> {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::Table(lua.create_table_from(self)?))
    }
}

impl<K: FromLua + Ord, V: FromLua> FromLua for BTreeMap<K, V> {
    fn from_lua(value: Value, _: &Lua) -> Result<Self> {
        match value {
            Value::Table(t) => t.pairs::<K, V>().collect(),
            other => Err(Error::from_conversion(
                other.type_name(),
                "BTreeMap",
                Some("expected a table".into()),
            )),
        }
    }
}

impl<T: crate::UserData + 'static> IntoLua for T {
    /// A new userdata holding the value.
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::UserData(lua.create_userdata(self)?))
    }
}
