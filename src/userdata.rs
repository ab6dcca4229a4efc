//! Rust values as Lua userdata: [`UserData`], its method and field registration
//! ([`UserDataMethods`], [`UserDataFields`]), [`MetaMethod`], and [`AnyUserData`].
//!
//! A userdata owns its value in a `RefCell`: methods borrow it (`&self` shared, `&mut
//! self` exclusive) for the length of the call, so a conflicting access, such as a `&mut`
//! method reached again through Lua code while one runs, is a Lua error, never two
//! aliasing references.

use crate::error::{Error, Result};
use crate::lua::Lua;
use crate::raw::{self, CallbackFn, Owned, StackArgs, UDTYPE_RUST_USERDATA};
use crate::value::{Table, ValueRef};
use crate::{FromLua, FromLuaMulti, IntoLua, IntoLuaMulti};
use moonjet_gc::{table, TValue};
use moonjet_runtime::vm::{LuaResult, State};
use std::any::{Any, TypeId};
use std::cell::{Ref, RefCell, RefMut};
use std::marker::PhantomData;

/// A Rust type that Lua code can hold and call methods on.
///
/// ```
/// use moonjet::{Lua, MetaMethod, UserData, UserDataFields, UserDataMethods};
///
/// struct Counter(i64);
///
/// impl UserData for Counter {
///     fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
///         fields.add_field_method_get("value", |_, this| Ok(this.0));
///     }
///     fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
///         methods.add_method_mut("add", |_, this, n: i64| {
///             this.0 += n;
///             Ok(this.0)
///         });
///         methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
///             Ok(format!("Counter({})", this.0))
///         });
///     }
/// }
///
/// let lua = Lua::new();
/// lua.globals().set("c", Counter(1)).unwrap();
/// lua.load("c:add(41)").exec().unwrap();
/// assert_eq!(lua.load("return c.value").eval::<i64>().unwrap(), 42);
/// assert_eq!(lua.load("return tostring(c)").eval::<String>().unwrap(), "Counter(42)");
/// ```
pub trait UserData: Sized {
    /// Register fields (`obj.name` reads and writes).
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        let _ = fields;
    }

    /// Register methods (`obj:name(...)`), functions and metamethods.
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        let _ = methods;
    }
}

/// Metamethods a userdata type can define (Lua 5.1 and LuaJIT's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetaMethod {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// unary `-`
    Unm,
    /// `..`
    Concat,
    /// `#`
    Len,
    /// `==`
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `obj[key]` for keys that are neither methods nor fields.
    Index,
    /// `obj[key] = value` for keys that are not fields.
    NewIndex,
    /// `obj(...)`
    Call,
    /// `tostring(obj)`
    ToString,
}

impl MetaMethod {
    /// The metatable key (`"__add"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            MetaMethod::Add => "__add",
            MetaMethod::Sub => "__sub",
            MetaMethod::Mul => "__mul",
            MetaMethod::Div => "__div",
            MetaMethod::Mod => "__mod",
            MetaMethod::Pow => "__pow",
            MetaMethod::Unm => "__unm",
            MetaMethod::Concat => "__concat",
            MetaMethod::Len => "__len",
            MetaMethod::Eq => "__eq",
            MetaMethod::Lt => "__lt",
            MetaMethod::Le => "__le",
            MetaMethod::Index => "__index",
            MetaMethod::NewIndex => "__newindex",
            MetaMethod::Call => "__call",
            MetaMethod::ToString => "__tostring",
        }
    }
}

impl std::fmt::Display for MetaMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Registration of a userdata type's methods (see [`UserData::add_methods`]).
///
/// Methods get the userdata as `this` (borrowed for the call) and the remaining
/// arguments as `A`; functions get all arguments as `A`.
pub trait UserDataMethods<T> {
    /// A method taking `&T`.
    fn add_method<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: Fn(&Lua, &T, A) -> Result<R> + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti;

    /// A method taking `&mut T`.
    fn add_method_mut<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: FnMut(&Lua, &mut T, A) -> Result<R> + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti;

    /// A function (called as `obj.name(...)` or `obj:name(...)`, which passes `obj`
    /// first).
    fn add_function<F, A, R>(&mut self, name: impl ToString, function: F)
    where
        F: Fn(&Lua, A) -> Result<R> + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti;

    /// A function that needs `&mut` access to what it captured.
    fn add_function_mut<F, A, R>(&mut self, name: impl ToString, function: F)
    where
        F: FnMut(&Lua, A) -> Result<R> + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti;

    /// A metamethod taking `&T` (name: a [`MetaMethod`] or its `"__name"`).
    fn add_meta_method<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: Fn(&Lua, &T, A) -> Result<R> + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti;

    /// A metamethod taking `&mut T`.
    fn add_meta_method_mut<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: FnMut(&Lua, &mut T, A) -> Result<R> + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti;

    /// A metamethod as a plain function (for binary operators whose userdata may be
    /// either operand).
    fn add_meta_function<F, A, R>(&mut self, name: impl ToString, function: F)
    where
        F: Fn(&Lua, A) -> Result<R> + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti;
}

/// Registration of a userdata type's fields (see [`UserData::add_fields`]).
pub trait UserDataFields<T> {
    /// A field read as `obj.name`.
    fn add_field_method_get<M, R>(&mut self, name: impl ToString, method: M)
    where
        M: Fn(&Lua, &T) -> Result<R> + 'static,
        R: IntoLua;

    /// A field written as `obj.name = value`.
    fn add_field_method_set<M, A>(&mut self, name: impl ToString, method: M)
    where
        M: FnMut(&Lua, &mut T, A) -> Result<()> + 'static,
        A: FromLua;

    /// A constant field: `obj.name` is `value` for every userdata of the type.
    fn add_field<V>(&mut self, name: impl ToString, value: V)
    where
        V: IntoLua + Clone + 'static;

    /// A field read as `obj.name` through a function of the userdata (as an
    /// [`AnyUserData`]), for fields that need more than `&T`.
    fn add_field_function_get<F, R>(&mut self, name: impl ToString, function: F)
    where
        F: Fn(&Lua, AnyUserData) -> Result<R> + 'static,
        R: IntoLua;
}

/// A userdata's value: borrow-checked at run time.
type Cell<T> = RefCell<T>;

impl<T: 'static> Owned for RefCell<T> {
    fn in_use(&self) -> bool {
        self.try_borrow_mut().is_err()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The value cell of userdata argument `i`.
///
/// # Safety
/// Use the reference only to take a borrow at once (see `raw`'s invariants).
unsafe fn arg_cell<'a, T: 'static>(args: &StackArgs, i: usize) -> Result<&'a Cell<T>> {
    // SAFETY: forwarded.
    unsafe { raw::owned_ref::<Cell<T>>(args.get(i), UDTYPE_RUST_USERDATA) }
        .map_err(|e| args.arg_error(i, e))
}

/// What a type registers, before it becomes a metatable.
struct Registry<T> {
    methods: Vec<(String, CallbackFn)>,
    meta: Vec<(String, CallbackFn)>,
    getters: Vec<(String, CallbackFn)>,
    setters: Vec<(String, CallbackFn)>,
    _marker: PhantomData<fn(T)>,
}

fn method_callback<T: 'static, M, A, R>(method: M) -> CallbackFn
where
    M: Fn(&Lua, &T, A) -> Result<R> + 'static,
    A: FromLuaMulti,
    R: IntoLuaMulti,
{
    Box::new(move |lua, args| {
        // SAFETY: the arguments of the running callback.
        let a = unsafe { A::from_stack_multi(args.skip(1), lua)? };
        // SAFETY: borrowed at once; the userdata is an argument, so it is rooted.
        let cell = unsafe { arg_cell::<T>(&args, 0)? };
        let this = cell.try_borrow().map_err(|_| Error::UserDataBorrowError)?;
        let r = method(lua, &this, a)?;
        drop(this);
        r.push_into_stack_multi(lua)
    })
}

fn method_mut_callback<T: 'static, M, A, R>(method: M) -> CallbackFn
where
    M: FnMut(&Lua, &mut T, A) -> Result<R> + 'static,
    A: FromLuaMulti,
    R: IntoLuaMulti,
{
    let method = raw::MutCallback::new(method);
    Box::new(move |lua, args| {
        // SAFETY: the arguments of the running callback.
        let a = unsafe { A::from_stack_multi(args.skip(1), lua)? };
        // SAFETY: as in `method_callback`.
        let cell = unsafe { arg_cell::<T>(&args, 0)? };
        let mut this = cell
            .try_borrow_mut()
            .map_err(|_| Error::UserDataBorrowMutError)?;
        let r = (method.get()?)(lua, &mut this, a)?;
        drop(this);
        r.push_into_stack_multi(lua)
    })
}

fn function_callback<F, A, R>(function: F) -> CallbackFn
where
    F: Fn(&Lua, A) -> Result<R> + 'static,
    A: FromLuaMulti,
    R: IntoLuaMulti,
{
    Box::new(move |lua, args| {
        // SAFETY: the arguments of the running callback.
        let a = unsafe { A::from_stack_multi(args, lua)? };
        function(lua, a)?.push_into_stack_multi(lua)
    })
}

impl<T: 'static> UserDataMethods<T> for Registry<T> {
    fn add_method<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: Fn(&Lua, &T, A) -> Result<R> + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti,
    {
        self.methods
            .push((name.to_string(), method_callback(method)));
    }

    fn add_method_mut<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: FnMut(&Lua, &mut T, A) -> Result<R> + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti,
    {
        self.methods
            .push((name.to_string(), method_mut_callback(method)));
    }

    fn add_function<F, A, R>(&mut self, name: impl ToString, function: F)
    where
        F: Fn(&Lua, A) -> Result<R> + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti,
    {
        self.methods
            .push((name.to_string(), function_callback(function)));
    }

    fn add_function_mut<F, A, R>(&mut self, name: impl ToString, function: F)
    where
        F: FnMut(&Lua, A) -> Result<R> + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti,
    {
        let function = raw::MutCallback::new(function);
        self.add_function(name, move |lua, a: A| function.call(lua, a));
    }

    fn add_meta_method<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: Fn(&Lua, &T, A) -> Result<R> + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti,
    {
        self.meta.push((name.to_string(), method_callback(method)));
    }

    fn add_meta_method_mut<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: FnMut(&Lua, &mut T, A) -> Result<R> + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti,
    {
        self.meta
            .push((name.to_string(), method_mut_callback(method)));
    }

    fn add_meta_function<F, A, R>(&mut self, name: impl ToString, function: F)
    where
        F: Fn(&Lua, A) -> Result<R> + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti,
    {
        self.meta
            .push((name.to_string(), function_callback(function)));
    }
}

impl<T: 'static> UserDataFields<T> for Registry<T> {
    fn add_field_method_get<M, R>(&mut self, name: impl ToString, method: M)
    where
        M: Fn(&Lua, &T) -> Result<R> + 'static,
        R: IntoLua,
    {
        self.getters.push((
            name.to_string(),
            method_callback(move |lua, this: &T, ()| method(lua, this)),
        ));
    }

    fn add_field_method_set<M, A>(&mut self, name: impl ToString, method: M)
    where
        M: FnMut(&Lua, &mut T, A) -> Result<()> + 'static,
        A: FromLua,
    {
        self.setters
            .push((name.to_string(), method_mut_callback(method)));
    }

    fn add_field<V>(&mut self, name: impl ToString, value: V)
    where
        V: IntoLua + Clone + 'static,
    {
        self.getters.push((
            name.to_string(),
            function_callback(move |_, _: AnyUserData| Ok(value.clone())),
        ));
    }

    fn add_field_function_get<F, R>(&mut self, name: impl ToString, function: F)
    where
        F: Fn(&Lua, AnyUserData) -> Result<R> + 'static,
        R: IntoLua,
    {
        self.getters
            .push((name.to_string(), function_callback(function)));
    }
}

/// The metatable of userdata of type `T` (made on first use, then kept).
pub(crate) fn metatable_of<T: UserData + 'static>(lua: &Lua) -> Result<TValue> {
    let id = TypeId::of::<T>();
    if let Some(&root) = lua.0.userdata_metatables.borrow().get(&id) {
        return Ok(lua.st().heap.root(root));
    }
    let mut reg = Registry::<T> {
        methods: Vec::new(),
        meta: Vec::new(),
        getters: Vec::new(),
        setters: Vec::new(),
        _marker: PhantomData,
    };
    T::add_fields(&mut reg);
    T::add_methods(&mut reg);
    let mt = build_metatable(lua, reg)?;
    let tv = mt.0.tv();
    let root = lua.st().heap.add_root(tv);
    lua.0.userdata_metatables.borrow_mut().insert(id, root);
    Ok(tv)
}

fn table_of(lua: &Lua, entries: Vec<(String, CallbackFn)>) -> Result<Option<Table>> {
    if entries.is_empty() {
        return Ok(None);
    }
    let t = lua.create_table()?;
    for (name, cb) in entries {
        t.raw_set(name, raw::create_callback(lua, cb)?)?;
    }
    Ok(Some(t))
}

fn build_metatable<T>(lua: &Lua, reg: Registry<T>) -> Result<Table> {
    let mt = lua.create_table()?;
    let mut user_index = crate::Value::Nil;
    let mut user_newindex = crate::Value::Nil;
    for (name, cb) in reg.meta {
        match name.as_str() {
            "__gc" | "__metatable" => {
                return Err(Error::runtime(format!(
                    "{name} cannot be set on a userdata type (Rust drops the value)"
                )))
            }
            _ => {}
        }
        let f = crate::Value::Function(raw::create_callback(lua, cb)?);
        match name.as_str() {
            "__index" => user_index = f,
            "__newindex" => user_newindex = f,
            _ => mt.raw_set(name, f)?,
        }
    }
    let methods = table_of(lua, reg.methods)?;
    let getters = table_of(lua, reg.getters)?;
    let setters = table_of(lua, reg.setters)?;
    let finalizer = lua.value_from_tv(lua.st().heap.root(lua.0.helpers.finalizer));
    mt.raw_set("__gc", finalizer)?;
    // `obj.key`: the methods table alone when that is all there is (the fast case);
    // else a native that looks in methods, then getters, then the user's `__index`.
    if getters.is_none() && user_index.is_nil() {
        if let Some(m) = &methods {
            mt.raw_set("__index", m)?;
        }
    } else {
        let f = native_with_upvalues(
            lua,
            userdata_index,
            &[
                methods.map_or(crate::Value::Nil, crate::Value::Table),
                getters.map_or(crate::Value::Nil, crate::Value::Table),
                user_index,
            ],
        )?;
        mt.raw_set("__index", f)?;
    }
    if setters.is_some() {
        let f = native_with_upvalues(
            lua,
            userdata_newindex,
            &[
                setters.map_or(crate::Value::Nil, crate::Value::Table),
                user_newindex,
            ],
        )?;
        mt.raw_set("__newindex", f)?;
    } else if !user_newindex.is_nil() {
        mt.raw_set("__newindex", user_newindex)?;
    }
    Ok(mt)
}

/// A native closure with the given upvalues.
fn native_with_upvalues(
    lua: &Lua,
    f: moonjet_runtime::vm::NativeFn,
    upvalues: &[crate::Value],
) -> Result<crate::Function> {
    let start = raw::stack_offset(lua.st());
    let r = (|| {
        let st = lua.st();
        if st.push_native(f, upvalues.len() as u8).is_err() {
            return Err(lua.take_error());
        }
        for (i, v) in upvalues.iter().enumerate() {
            let tv = lua.tv_from_value(v)?;
            lua.st().set_upvalue_of_top(i, tv);
        }
        // SAFETY: the function is on top.
        let fv = unsafe { *lua.st().top().sub(1) };
        Ok(crate::Function(ValueRef::new(lua, fv)))
    })();
    raw::set_stack_offset(lua.st(), start);
    r
}

/// `__index` of userdata with fields or a user `__index`: upvalues are the methods
/// table, the getters table and the user's `__index` (each may be nil).
fn userdata_index(st: &mut State) -> LuaResult<u32> {
    let (obj, key) = (st.arg(1), st.arg(2));
    if let Some(methods) = st.native_upvalue(0).as_tab() {
        // SAFETY: a live table (an upvalue) and key (an argument).
        let m = unsafe { table::get(methods, key) };
        if !m.is_nil() {
            st.push(m)?;
            return Ok(1);
        }
    }
    if let Some(getters) = st.native_upvalue(1).as_tab() {
        // SAFETY: as above.
        let g = unsafe { table::get(getters, key) };
        if !g.is_nil() {
            let v = st.call_value(g, &[obj])?;
            st.push(v)?;
            return Ok(1);
        }
    }
    let user = st.native_upvalue(2);
    let v = if user.is_func() {
        st.call_value(user, &[obj, key])?
    } else {
        TValue::NIL
    };
    st.push(v)?;
    Ok(1)
}

/// `__newindex` of userdata with setters: upvalues are the setters table and the
/// user's `__newindex` (may be nil).
fn userdata_newindex(st: &mut State) -> LuaResult<u32> {
    let (obj, key, val) = (st.arg(1), st.arg(2), st.arg(3));
    if let Some(setters) = st.native_upvalue(0).as_tab() {
        // SAFETY: a live table (an upvalue) and key (an argument).
        let s = unsafe { table::get(setters, key) };
        if !s.is_nil() {
            st.check_stack(4)?;
            st.push(s)?;
            st.push(obj)?;
            st.push(val)?;
            st.call(2, 0)?;
            return Ok(0);
        }
    }
    let user = st.native_upvalue(1);
    if user.is_func() {
        st.check_stack(5)?;
        st.push(user)?;
        st.push(obj)?;
        st.push(key)?;
        st.push(val)?;
        st.call(3, 0)?;
        return Ok(0);
    }
    let name = st.display_value(key);
    Err(st.rt_error(&format!(
        "cannot set field '{}' of a userdata",
        std::string::String::from_utf8_lossy(&name)
    )))
}

impl Lua {
    /// A new userdata holding `data`, with the methods and fields `T` registers.
    ///
    /// ```
    /// use moonjet::{Lua, UserData, UserDataMethods};
    /// struct Point { x: f64, y: f64 }
    /// impl UserData for Point {
    ///     fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
    ///         m.add_method("len", |_, p, ()| Ok((p.x * p.x + p.y * p.y).sqrt()));
    ///     }
    /// }
    /// let lua = Lua::new();
    /// let p = lua.create_userdata(Point { x: 3.0, y: 4.0 }).unwrap();
    /// lua.globals().set("p", &p).unwrap();
    /// assert_eq!(lua.load("return p:len()").eval::<f64>().unwrap(), 5.0);
    /// assert_eq!(p.borrow::<Point>().unwrap().x, 3.0);
    /// ```
    pub fn create_userdata<T: UserData + 'static>(&self, data: T) -> Result<AnyUserData> {
        let mt = metatable_of::<T>(self)?;
        let start = raw::stack_offset(self.st());
        let r = (|| {
            let cell: Box<dyn Owned> = Box::new(RefCell::new(data));
            let v = raw::new_owned_udata(self, self.st(), UDTYPE_RUST_USERDATA, cell, mt.as_tab())?;
            Ok(AnyUserData(ValueRef::new(self, v)))
        })();
        raw::set_stack_offset(self.st(), start);
        r
    }
}

/// A full userdata of any type (usually one made by [`Lua::create_userdata`]).
#[derive(Clone, Debug, PartialEq)]
pub struct AnyUserData(pub(crate) ValueRef);

impl AnyUserData {
    /// Whether it holds a `T`.
    pub fn is<T: 'static>(&self) -> bool {
        // SAFETY: the reference is not kept.
        unsafe { raw::owned_ref::<Cell<T>>(self.0.tv(), UDTYPE_RUST_USERDATA) }.is_ok()
    }

    fn cell<T: 'static>(&self) -> Result<&Cell<T>> {
        // SAFETY: the userdata is rooted by `self`; callers take a borrow at once, and
        // a borrowed value is never dropped (see `raw`), so the cell outlives the guard.
        unsafe { raw::owned_ref::<Cell<T>>(self.0.tv(), UDTYPE_RUST_USERDATA) }
    }

    /// Borrow the value as `&T` (an error if it is not a `T` or is mutably borrowed).
    pub fn borrow<T: 'static>(&self) -> Result<Ref<'_, T>> {
        self.cell::<T>()?
            .try_borrow()
            .map_err(|_| Error::UserDataBorrowError)
    }

    /// Borrow the value as `&mut T` (an error if it is not a `T` or is borrowed).
    pub fn borrow_mut<T: 'static>(&self) -> Result<RefMut<'_, T>> {
        self.cell::<T>()?
            .try_borrow_mut()
            .map_err(|_| Error::UserDataBorrowMutError)
    }

    /// Take the value out; the userdata is left destructed (using it from Lua is an
    /// error).
    pub fn take<T: 'static>(&self) -> Result<T> {
        self.cell::<T>()?;
        let owned = raw::take_owned(&self.0.lua, self.0.tv(), UDTYPE_RUST_USERDATA)?;
        match owned.as_any().downcast_ref::<Cell<T>>() {
            Some(_) => {
                // SAFETY: the box holds a `Cell<T>` (just checked); turning the trait
                // object box into its concrete box keeps the allocation and layout.
                let cell = unsafe { Box::from_raw(Box::into_raw(owned) as *mut Cell<T>) };
                Ok(cell.into_inner())
            }
            None => Err(Error::UserDataTypeMismatch),
        }
    }

    /// The metatable (shared by all userdata of its type).
    pub fn metatable(&self) -> Option<Table> {
        let u = self.0.tv().gc_ptr().cast::<moonjet_gc::GcUdata>();
        // SAFETY: rooted by this handle.
        let mt = unsafe { (*u).metatable };
        (!mt.is_null()).then(|| Table(ValueRef::new(&self.0.lua, TValue::from_tab(mt))))
    }

    /// The address of the userdata (for identity and debugging only).
    pub fn to_pointer(&self) -> *const std::ffi::c_void {
        self.0.tv().gc_ptr() as *const _
    }
}
