//! Lua values held from Rust: [`Value`] and the handles of Lua objects.

use crate::error::{Error, Result};
use crate::lua::Lua;
use crate::raw::{self, StackArgs};
use crate::{FromLua, FromLuaMulti, IntoLua, IntoLuaMulti};
use moonjet_gc::{table, GcStr, GcTab, RootId, TValue};
use std::marker::PhantomData;

pub use crate::userdata::AnyUserData;

/// A reference to a Lua object from Rust: a root slot of the state's heap, so the
/// object survives collections while the reference lives. Holds the state alive.
pub(crate) struct ValueRef {
    pub(crate) lua: Lua,
    pub(crate) root: RootId,
}

impl ValueRef {
    pub(crate) fn new(lua: &Lua, v: TValue) -> ValueRef {
        let root = lua.st().heap.add_root(v);
        ValueRef {
            lua: lua.clone(),
            root,
        }
    }

    #[inline]
    pub(crate) fn tv(&self) -> TValue {
        self.lua.st().heap.root(self.root)
    }
}

impl Clone for ValueRef {
    fn clone(&self) -> Self {
        ValueRef::new(&self.lua, self.tv())
    }
}

impl Drop for ValueRef {
    fn drop(&mut self) {
        self.lua.st().heap.remove_root(self.root);
    }
}

impl PartialEq for ValueRef {
    fn eq(&self, other: &Self) -> bool {
        self.lua.same_state(&other.lua) && self.tv().raw_equal(other.tv())
    }
}

impl std::fmt::Debug for ValueRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.tv();
        write!(f, "{}: {:#x}", v.lua_type().name(), v.payload())
    }
}

/// A light userdata: a raw pointer as a Lua value (never dereferenced by Lua).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LightUserData(pub *mut std::ffi::c_void);

/// Any Lua value.
///
/// Lua 5.1 numbers are doubles, so values read from Lua are [`Value::Number`];
/// [`Value::Integer`] exists for values made in Rust (it becomes a number, which must
/// represent it exactly).
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// `nil`.
    #[default]
    Nil,
    /// `true` or `false`.
    Boolean(bool),
    /// A light userdata.
    LightUserData(LightUserData),
    /// An integer made in Rust (see above).
    Integer(i64),
    /// A number.
    Number(f64),
    /// A string.
    String(LuaString),
    /// A table.
    Table(Table),
    /// A function (Lua or native).
    Function(Function),
    /// A coroutine.
    Thread(Thread),
    /// A full userdata.
    UserData(AnyUserData),
    /// An FFI cdata object.
    CData(CData),
}

/// mlua's name for `Value::Nil`.
pub const NIL: Value = Value::Nil;

impl Value {
    /// Lua's name for the value's type (`"nil"`, `"number"`, `"table"`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Boolean(_) => "boolean",
            Value::LightUserData(_) => "userdata",
            Value::Integer(_) | Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Table(_) => "table",
            Value::Function(_) => "function",
            Value::Thread(_) => "thread",
            Value::UserData(_) => "userdata",
            Value::CData(_) => "cdata",
        }
    }

    /// Whether the value is nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The boolean, if it is one.
    pub fn as_boolean(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if it is one.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The number as an integer, if it is one with an integral value in `i64`'s range.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            Value::Number(n) => crate::conv::f64_to_int::<i64>(*n).ok(),
            _ => None,
        }
    }

    /// The string, if it is one and is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => s.to_str().ok(),
            _ => None,
        }
    }

    /// The table, if it is one.
    pub fn as_table(&self) -> Option<&Table> {
        match self {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The function, if it is one.
    pub fn as_function(&self) -> Option<&Function> {
        match self {
            Value::Function(f) => Some(f),
            _ => None,
        }
    }

    /// The userdata, if it is one.
    pub fn as_userdata(&self) -> Option<&AnyUserData> {
        match self {
            Value::UserData(u) => Some(u),
            _ => None,
        }
    }
}

impl PartialEq for Value {
    /// Raw equality (no `__eq`), numbers compared by value.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Boolean(a), Value::Boolean(b)) => a == b,
            (Value::LightUserData(a), Value::LightUserData(b)) => a == b,
            (Value::Integer(_) | Value::Number(_), Value::Integer(_) | Value::Number(_)) => {
                match (self, other) {
                    (Value::Integer(a), Value::Integer(b)) => a == b,
                    _ => self.as_number() == other.as_number(),
                }
            }
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Table(a), Value::Table(b)) => a == b,
            (Value::Function(a), Value::Function(b)) => a == b,
            (Value::Thread(a), Value::Thread(b)) => a == b,
            (Value::UserData(a), Value::UserData(b)) => a == b,
            (Value::CData(a), Value::CData(b)) => a == b,
            _ => false,
        }
    }
}

// ---- strings ------------------------------------------------------------------------------

/// A Lua string (immutable bytes, not necessarily UTF-8). mlua calls it `String`; this
/// crate exports it under both names.
///
/// ```
/// # let lua = moonjet::Lua::new();
/// let s = lua.create_string("héllo").unwrap();
/// assert_eq!(s.to_str().unwrap(), "héllo");
/// assert_eq!(s.as_bytes().len(), 6);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LuaString(pub(crate) ValueRef);

impl LuaString {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        let s = self.0.tv().gc_ptr().cast::<GcStr>();
        // SAFETY: the string is rooted by this handle (and strings never move or change),
        // so its bytes live as long as `self`.
        unsafe { GcStr::bytes(s) }
    }

    /// The text, or an error if it is not UTF-8.
    pub fn to_str(&self) -> Result<&str> {
        std::str::from_utf8(self.as_bytes())
            .map_err(|e| Error::from_conversion("string", "&str", Some(e.to_string())))
    }

    /// The text, with invalid UTF-8 replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> std::string::String {
        std::string::String::from_utf8_lossy(self.as_bytes()).into_owned()
    }
}

impl PartialEq<str> for LuaString {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for LuaString {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

// ---- tables -------------------------------------------------------------------------------

/// A Lua table.
///
/// ```
/// # let lua = moonjet::Lua::new();
/// let t = lua.create_table().unwrap();
/// t.set("name", "moonjet").unwrap();
/// t.set(1, 10).unwrap();
/// t.set(2, 20).unwrap();
/// assert_eq!(t.get::<String>("name").unwrap(), "moonjet");
/// assert_eq!(t.len().unwrap(), 2);
/// let sum: i64 = t.sequence_values::<i64>().map(|v| v.unwrap()).sum();
/// assert_eq!(sum, 30);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Table(pub(crate) ValueRef);

impl Table {
    fn tab(&self) -> *mut GcTab {
        self.0.tv().gc_ptr().cast()
    }

    fn lua(&self) -> &Lua {
        &self.0.lua
    }

    fn has_metatable(&self) -> bool {
        // SAFETY: rooted by this handle.
        unsafe { !(*self.tab()).metatable.is_null() }
    }

    /// `self[key]`, with `__index` as Lua's indexing does it.
    pub fn get<V: FromLua>(&self, key: impl IntoLua) -> Result<V> {
        if !self.has_metatable() {
            return self.raw_get(key);
        }
        let lua = self.lua();
        let start = raw::stack_offset(lua.st());
        let r = (|| {
            let f = lua.st().heap.root(lua.0.helpers.index);
            raw::push(lua.st(), f)?;
            raw::push(lua.st(), self.0.tv())?;
            key.push_into_stack(lua)?;
            lua.pcall_top(2)?;
            let st = lua.st();
            // SAFETY: the result is on the stack until it is reset below.
            unsafe { V::from_tvalue(StackArgs::new(st.l, start, 1, None).get(0), lua) }
        })();
        raw::set_stack_offset(lua.st(), start);
        r
    }

    /// `self[key] = value`, with `__newindex` as Lua's assignment does it.
    pub fn set(&self, key: impl IntoLua, value: impl IntoLua) -> Result<()> {
        if !self.has_metatable() {
            return self.raw_set(key, value);
        }
        let lua = self.lua();
        let start = raw::stack_offset(lua.st());
        let r = (|| {
            let f = lua.st().heap.root(lua.0.helpers.newindex);
            raw::push(lua.st(), f)?;
            raw::push(lua.st(), self.0.tv())?;
            key.push_into_stack(lua)?;
            value.push_into_stack(lua)?;
            lua.pcall_top(3).map(|_| ())
        })();
        raw::set_stack_offset(lua.st(), start);
        r
    }

    /// `rawget(self, key)`.
    pub fn raw_get<V: FromLua>(&self, key: impl IntoLua) -> Result<V> {
        let lua = self.lua();
        let start = raw::stack_offset(lua.st());
        let r = (|| {
            key.push_into_stack(lua)?;
            let st = lua.st();
            let slot = StackArgs::new(st.l, start, 1, None);
            // SAFETY: the table is rooted by this handle; the key is on the stack.
            let v = unsafe { table::get(self.tab(), slot.get(0)) };
            // The value stays on the stack (in the key's slot) while it is converted.
            // SAFETY: the key's slot, just below top.
            unsafe { *st.top().sub(1) = v };
            // SAFETY: the value is on the stack until it is reset below.
            unsafe { V::from_tvalue(v, lua) }
        })();
        raw::set_stack_offset(lua.st(), start);
        r
    }

    /// `rawset(self, key, value)`.
    pub fn raw_set(&self, key: impl IntoLua, value: impl IntoLua) -> Result<()> {
        let lua = self.lua();
        let start = raw::stack_offset(lua.st());
        let r = (|| {
            key.push_into_stack(lua)?;
            value.push_into_stack(lua)?;
            let st = lua.st();
            let kv = StackArgs::new(st.l, start, 2, None);
            // SAFETY: the table is rooted by this handle; key and value are on the stack.
            match unsafe { table::set(&mut st.heap, self.tab(), kv.get(0), kv.get(1)) } {
                Ok(()) => Ok(()),
                Err(moonjet_gc::TabError::NilKey) => Err(Error::runtime("table index is nil")),
                Err(moonjet_gc::TabError::NanKey) => Err(Error::runtime("table index is NaN")),
                Err(moonjet_gc::TabError::Memory) => Err(Error::Memory),
                Err(moonjet_gc::TabError::InvalidNextKey) => {
                    Err(Error::runtime("invalid key to 'next'"))
                }
            }
        })();
        raw::set_stack_offset(lua.st(), start);
        r
    }

    /// Whether `self[key]` is not nil (with `__index`).
    pub fn contains_key(&self, key: impl IntoLua) -> Result<bool> {
        Ok(!self.get::<Value>(key)?.is_nil())
    }

    /// The length `#self` (the border of the sequence part; tables have no `__len` in
    /// Lua 5.1).
    pub fn len(&self) -> Result<i64> {
        Ok(self.raw_len() as i64)
    }

    /// The raw length.
    pub fn raw_len(&self) -> usize {
        // SAFETY: rooted by this handle.
        unsafe { table::len(self.tab()) as usize }
    }

    /// Whether the table has no fields at all.
    pub fn is_empty(&self) -> bool {
        // SAFETY: rooted by this handle.
        matches!(unsafe { table::next(self.tab(), TValue::NIL) }, Ok(None))
    }

    /// Append `value` at `#self + 1` (raw).
    pub fn push(&self, value: impl IntoLua) -> Result<()> {
        let n = self.raw_len();
        self.raw_set(n as f64 + 1.0, value)
    }

    /// Remove every field (raw), keeping the metatable.
    pub fn clear(&self) -> Result<()> {
        let keys: Vec<Value> = self
            .pairs::<Value, Value>()
            .map(|kv| kv.map(|(k, _)| k))
            .collect::<Result<_>>()?;
        for k in keys {
            self.raw_set(k, Value::Nil)?;
        }
        Ok(())
    }

    /// Insert `value` at position `idx` of the sequence, shifting the items after it up
    /// (raw; as `table.insert(t, idx, value)`).
    pub fn raw_insert(&self, idx: i64, value: impl IntoLua) -> Result<()> {
        let n = self.raw_len() as i64;
        if idx < 1 || idx > n + 1 {
            return Err(Error::runtime("index out of bounds"));
        }
        for i in (idx..=n).rev() {
            let v: Value = self.raw_get(i)?;
            self.raw_set(i + 1, v)?;
        }
        self.raw_set(idx, value)
    }

    /// Remove position `idx` of the sequence, shifting the items after it down (raw;
    /// as `table.remove(t, idx)`).
    pub fn raw_remove(&self, idx: i64) -> Result<()> {
        let n = self.raw_len() as i64;
        if idx < 1 || idx > n {
            return Err(Error::runtime("index out of bounds"));
        }
        for i in idx..n {
            let v: Value = self.raw_get(i + 1)?;
            self.raw_set(i, v)?;
        }
        self.raw_set(n, Value::Nil)
    }

    /// The metatable, if there is one.
    pub fn metatable(&self) -> Option<Table> {
        // SAFETY: rooted by this handle.
        let mt = unsafe { (*self.tab()).metatable };
        (!mt.is_null()).then(|| Table(ValueRef::new(self.lua(), TValue::from_tab(mt))))
    }

    /// mlua 0.9's name for [`Table::metatable`].
    pub fn get_metatable(&self) -> Option<Table> {
        self.metatable()
    }

    /// Set (or with `None` remove) the metatable. Unlike Lua's `setmetatable` this
    /// ignores `__metatable` protection, as mlua's does. A table of another state is
    /// an error.
    pub fn set_metatable(&self, metatable: Option<Table>) -> Result<()> {
        let lua = self.lua();
        let mt = match &metatable {
            Some(m) if !lua.same_state(m.lua()) => {
                return Err(Error::runtime("a value of another Lua state was passed"))
            }
            Some(m) => m.tab(),
            None => std::ptr::null_mut(),
        };
        // SAFETY: both tables are rooted by their handles, in the same heap.
        unsafe { lua.st().heap.set_table_metatable(self.tab(), mt) };
        Ok(())
    }

    /// An iterator over all `(key, value)` pairs (raw, in `next` order). Items that do
    /// not convert are `Err`.
    ///
    /// ```
    /// # let lua = moonjet::Lua::new();
    /// let t: moonjet::Table = lua.load("return {a = 1, b = 2}").eval().unwrap();
    /// let mut keys: Vec<String> = t.pairs::<String, i32>().map(|kv| kv.unwrap().0).collect();
    /// keys.sort();
    /// assert_eq!(keys, ["a", "b"]);
    /// ```
    pub fn pairs<K: FromLua, V: FromLua>(&self) -> TablePairs<K, V> {
        let lua = self.lua();
        TablePairs {
            table: self.clone(),
            key: Some(ValueRef::new(lua, TValue::NIL)),
            _marker: PhantomData,
        }
    }

    /// Call `f` with each `(key, value)` pair; stops at the first error.
    pub fn for_each<K: FromLua, V: FromLua>(
        &self,
        mut f: impl FnMut(K, V) -> Result<()>,
    ) -> Result<()> {
        for kv in self.pairs::<K, V>() {
            let (k, v) = kv?;
            f(k, v)?;
        }
        Ok(())
    }

    /// An iterator over `self[1]`, `self[2]`, ... up to the first nil (raw).
    pub fn sequence_values<V: FromLua>(&self) -> TableSequence<V> {
        TableSequence {
            table: self.clone(),
            index: 1,
            done: false,
            _marker: PhantomData,
        }
    }

    /// The address of the table (for identity and debugging only).
    pub fn to_pointer(&self) -> *const std::ffi::c_void {
        self.tab() as *const _
    }
}

/// Iterator of [`Table::pairs`].
pub struct TablePairs<K, V> {
    table: Table,
    /// The last key (rooted: `next` needs it alive); `None` when done.
    key: Option<ValueRef>,
    _marker: PhantomData<fn() -> (K, V)>,
}

impl<K: FromLua, V: FromLua> Iterator for TablePairs<K, V> {
    type Item = Result<(K, V)>;

    fn next(&mut self) -> Option<Self::Item> {
        let key = self.key.as_ref()?;
        let lua = self.table.lua().clone();
        let st = lua.st();
        // SAFETY: the table and the key are rooted.
        let step = unsafe { table::next(self.table.tab(), key.tv()) };
        match step {
            Ok(Some((k, v))) => {
                st.heap.set_root(key.root, k);
                let start = raw::stack_offset(st);
                // The value stays on the stack while it is converted.
                if let Err(e) = raw::push(st, v) {
                    return Some(Err(e));
                }
                // SAFETY: the key is rooted, the value is on the stack.
                let r = unsafe { K::from_tvalue(k, &lua) }
                    .and_then(|k| Ok((k, unsafe { V::from_tvalue(v, &lua)? })));
                raw::set_stack_offset(lua.st(), start);
                Some(r)
            }
            Ok(None) => {
                self.key = None;
                None
            }
            Err(_) => {
                self.key = None;
                Some(Err(Error::runtime("invalid key to 'next'")))
            }
        }
    }
}

/// Iterator of [`Table::sequence_values`].
pub struct TableSequence<V> {
    table: Table,
    index: i64,
    done: bool,
    _marker: PhantomData<fn() -> V>,
}

impl<V: FromLua> Iterator for TableSequence<V> {
    type Item = Result<V>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // SAFETY: rooted by the handle.
        let v = unsafe { table::get_int(self.table.tab(), self.index) };
        if v.is_nil() {
            self.done = true;
            return None;
        }
        self.index += 1;
        let lua = self.table.lua().clone();
        let start = raw::stack_offset(lua.st());
        if let Err(e) = raw::push(lua.st(), v) {
            return Some(Err(e));
        }
        // SAFETY: the value is on the stack until it is reset below.
        let r = unsafe { V::from_tvalue(v, &lua) };
        raw::set_stack_offset(lua.st(), start);
        Some(r)
    }
}

// ---- functions ----------------------------------------------------------------------------

/// A Lua function (a Lua closure or a native one, Rust callbacks included).
///
/// ```
/// # let lua = moonjet::Lua::new();
/// let f: moonjet::Function = lua.load("return function(a, b) return a + b, a * b end").eval().unwrap();
/// let (s, p): (i32, i32) = f.call((3, 4)).unwrap();
/// assert_eq!((s, p), (7, 12));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Function(pub(crate) ValueRef);

impl Function {
    /// Call the function with `args`, converting its results to `R`. An error in it is
    /// `Err` (the state stays usable).
    pub fn call<R: FromLuaMulti>(&self, args: impl IntoLuaMulti) -> Result<R> {
        let lua = &self.0.lua;
        lua.call_value(self.0.tv(), args)
    }

    /// The address of the function (for identity and debugging only).
    pub fn to_pointer(&self) -> *const std::ffi::c_void {
        self.0.tv().gc_ptr() as *const _
    }

    /// Set the function's environment (`setfenv`); only Lua functions have one.
    pub fn set_environment(&self, env: Table) -> Result<bool> {
        if !self.0.lua.same_state(env.lua()) {
            return Err(Error::runtime("a value of another Lua state was passed"));
        }
        let f = self.0.tv().gc_ptr().cast::<moonjet_gc::GcFunc>();
        // SAFETY: both objects are rooted by their handles.
        unsafe {
            if !(*f).is_lua() {
                return Ok(false);
            }
            self.0.lua.st().heap.set_closure_env(f, env.tab());
        }
        Ok(true)
    }
}

// ---- threads and cdata ----------------------------------------------------------------------

/// A coroutine.
///
/// ```
/// # let lua = moonjet::Lua::new();
/// let f: moonjet::Function = lua
///     .load("return function(a) local b = coroutine.yield(a + 1) return b * 2 end")
///     .eval()
///     .unwrap();
/// let co = lua.create_thread(f).unwrap();
/// assert_eq!(co.resume::<i32>(1).unwrap(), 2);
/// assert_eq!(co.status(), moonjet::ThreadStatus::Resumable);
/// assert_eq!(co.resume::<i32>(10).unwrap(), 20);
/// assert_eq!(co.status(), moonjet::ThreadStatus::Finished);
/// assert!(co.resume::<()>(()).is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Thread(pub(crate) ValueRef);

/// Where a [`Thread`] stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadStatus {
    /// Not started, or suspended in `coroutine.yield`: it can be resumed.
    Resumable,
    /// Running (or resuming another coroutine).
    Running,
    /// Returned or stopped by an error.
    Finished,
}

impl Thread {
    /// Resume the coroutine with `args` (its function's arguments the first time,
    /// `coroutine.yield`'s results later); what it yields or returns, converted to `R`.
    /// An error in it is `Err`, and the coroutine is dead afterwards.
    pub fn resume<R: FromLuaMulti>(&self, args: impl IntoLuaMulti) -> Result<R> {
        let lua = &self.0.lua;
        let start = raw::stack_offset(lua.st());
        let r = (|| {
            let f = lua.st().heap.root(lua.0.helpers.co_resume);
            raw::push(lua.st(), f)?;
            raw::push(lua.st(), self.0.tv())?;
            let n = args.push_into_stack_multi(lua)?;
            let nres = lua.pcall_top(n + 1)?;
            let st = lua.st();
            let results = StackArgs::new(st.l, start, nres, None);
            if !results.get(0).is_truthy() {
                let e = results.get(1);
                return Err(lua.error_from_caught(e, None));
            }
            // SAFETY: the results are on the stack until it is reset below.
            unsafe { R::from_stack_multi(results.skip(1), lua) }
        })();
        raw::set_stack_offset(lua.st(), start);
        r
    }

    /// Whether the coroutine can be resumed, is running, or is finished.
    pub fn status(&self) -> ThreadStatus {
        let lua = &self.0.lua;
        let start = raw::stack_offset(lua.st());
        let r = (|| {
            let f = lua.st().heap.root(lua.0.helpers.co_status);
            raw::push(lua.st(), f)?;
            raw::push(lua.st(), self.0.tv())?;
            lua.pcall_top(1)?;
            let st = lua.st();
            // SAFETY: the result is on the stack until it is reset below.
            unsafe { String::from_tvalue(StackArgs::new(st.l, start, 1, None).get(0), lua) }
        })();
        raw::set_stack_offset(lua.st(), start);
        match r.as_deref() {
            Ok("suspended") => ThreadStatus::Resumable,
            Ok("running") | Ok("normal") => ThreadStatus::Running,
            _ => ThreadStatus::Finished,
        }
    }

    /// The address of the thread (for identity and debugging only).
    pub fn to_pointer(&self) -> *const std::ffi::c_void {
        self.0.tv().gc_ptr() as *const _
    }
}

/// An FFI cdata object (held as a value; use it from Lua).
#[derive(Clone, Debug, PartialEq)]
pub struct CData(pub(crate) ValueRef);

impl CData {
    /// The address of the cdata object (for identity and debugging only).
    pub fn to_pointer(&self) -> *const std::ffi::c_void {
        self.0.tv().gc_ptr() as *const _
    }
}

// ---- multiple values ------------------------------------------------------------------------

/// Several values (a call's arguments or results).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MultiValue(Vec<Value>);

impl MultiValue {
    /// No values.
    pub fn new() -> Self {
        MultiValue(Vec::new())
    }

    /// The values as a `Vec`.
    pub fn into_vec(self) -> Vec<Value> {
        self.0
    }
}

impl From<Vec<Value>> for MultiValue {
    fn from(v: Vec<Value>) -> Self {
        MultiValue(v)
    }
}

impl FromIterator<Value> for MultiValue {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Self {
        MultiValue(iter.into_iter().collect())
    }
}

impl IntoIterator for MultiValue {
    type Item = Value;
    type IntoIter = std::vec::IntoIter<Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl std::ops::Deref for MultiValue {
    type Target = Vec<Value>;
    fn deref(&self) -> &Vec<Value> {
        &self.0
    }
}

impl std::ops::DerefMut for MultiValue {
    fn deref_mut(&mut self) -> &mut Vec<Value> {
        &mut self.0
    }
}

/// Any number of values of one type: as a callback's last argument it takes the rest
/// of the arguments; as a result it returns them all.
///
/// ```
/// use moonjet::Variadic;
/// # let lua = moonjet::Lua::new();
/// let sum = lua.create_function(|_, xs: Variadic<f64>| Ok(xs.iter().sum::<f64>())).unwrap();
/// assert_eq!(sum.call::<f64>((1, 2, 3)).unwrap(), 6.0);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Variadic<T>(Vec<T>);

impl<T> Variadic<T> {
    /// No values.
    pub fn new() -> Self {
        Variadic(Vec::new())
    }
}

impl<T> From<Vec<T>> for Variadic<T> {
    fn from(v: Vec<T>) -> Self {
        Variadic(v)
    }
}

impl<T> From<Variadic<T>> for Vec<T> {
    fn from(v: Variadic<T>) -> Self {
        v.0
    }
}

impl<T> FromIterator<T> for Variadic<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Variadic(iter.into_iter().collect())
    }
}

impl<T> IntoIterator for Variadic<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<T> std::ops::Deref for Variadic<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Variadic<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}
