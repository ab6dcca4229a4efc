//! [`Scope`]: Lua functions and userdata that live only for a block of Rust code, so
//! functions may borrow local variables.

use crate::error::Result;
use crate::lua::Lua;
use crate::raw::{self, CallbackFn, ScopedCallbackFn, UDTYPE_RUST_CALLBACK, UDTYPE_RUST_USERDATA};
use crate::value::{Function, ValueRef};
use crate::{AnyUserData, FromLuaMulti, IntoLuaMulti, UserData};
use std::cell::RefCell;
use std::marker::PhantomData;

/// What [`Lua::scope`] hands its closure: it makes functions and userdata that are
/// destroyed when the scope ends. Lua code that kept them gets an error on use
/// afterwards ([`Error::CallbackDestructed`](crate::Error::CallbackDestructed),
/// [`Error::UserDataDestructed`](crate::Error::UserDataDestructed)).
pub struct Scope<'scope, 'env: 'scope> {
    lua: &'env Lua,
    owned: &'scope Destroyer<'env>,
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl Lua {
    /// Run `f` with a [`Scope`] whose functions may borrow from the caller's stack.
    ///
    /// ```
    /// # let lua = moonjet::Lua::new();
    /// let mut seen = Vec::new();
    /// lua.scope(|scope| {
    ///     let record = scope.create_function_mut(|_, x: i32| {
    ///         seen.push(x);
    ///         Ok(())
    ///     })?;
    ///     lua.globals().set("record", record)?;
    ///     lua.load("record(1) record(2)").exec()
    /// })
    /// .unwrap();
    /// assert_eq!(seen, [1, 2]);
    /// // The function is gone with the scope.
    /// assert!(lua.load("record(3)").exec().is_err());
    /// ```
    pub fn scope<'env, R>(
        &'env self,
        f: impl for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> Result<R>,
    ) -> Result<R> {
        // Declared first, so dropped last: it outlives every borrow of the scope, and
        // runs on unwinding too.
        let destroyer = Destroyer {
            lua: self,
            owned: RefCell::new(Vec::new()),
        };
        let scope = Scope {
            lua: self,
            owned: &destroyer,
            _scope: PhantomData,
            _env: PhantomData,
        };
        f(&scope)
    }
}

impl<'scope, 'env: 'scope> Scope<'scope, 'env> {
    /// As [`Lua::create_function`], for a closure that may borrow from `'scope`.
    pub fn create_function<F, A, R>(&'scope self, func: F) -> Result<Function>
    where
        A: FromLuaMulti,
        R: IntoLuaMulti,
        F: Fn(&Lua, A) -> Result<R> + 'scope,
    {
        let cb: ScopedCallbackFn<'scope> = Box::new(move |lua, args| {
            // SAFETY: the arguments of the running callback.
            let a = unsafe { A::from_stack_multi(args, lua)? };
            func(lua, a)?.push_into_stack_multi(lua)
        });
        // SAFETY: only the lifetime is erased. The callback is destroyed when the scope
        // ends (`Drop`), before anything it borrows can go; a call after that finds no
        // callback (`raw`'s invariants), and one cannot be running then (a scope ends
        // only after its closure returned).
        let cb: CallbackFn =
            unsafe { std::mem::transmute::<ScopedCallbackFn<'scope>, CallbackFn>(cb) };
        let (f, owner) = raw::create_callback_with_owner(self.lua, cb)?;
        self.owned
            .owned
            .borrow_mut()
            .push((owner, UDTYPE_RUST_CALLBACK));
        Ok(f)
    }

    /// As [`Lua::create_function_mut`], for a closure that may borrow from `'scope`.
    pub fn create_function_mut<F, A, R>(&'scope self, func: F) -> Result<Function>
    where
        A: FromLuaMulti,
        R: IntoLuaMulti,
        F: FnMut(&Lua, A) -> Result<R> + 'scope,
    {
        let func = raw::MutCallback::new(func);
        self.create_function(move |lua, a: A| func.call(lua, a))
    }

    /// A userdata whose value is dropped when the scope ends.
    pub fn create_userdata<T: UserData + 'static>(&'scope self, data: T) -> Result<AnyUserData> {
        let ud = self.lua.create_userdata(data)?;
        self.owned
            .owned
            .borrow_mut()
            .push((ud.0.clone(), UDTYPE_RUST_USERDATA));
        Ok(ud)
    }
}

/// Destroys what a scope made when the scope ends.
struct Destroyer<'env> {
    lua: &'env Lua,
    /// The userdata owning what the scope made, with their kind.
    owned: RefCell<Vec<(ValueRef, u8)>>,
}

impl Drop for Destroyer<'_> {
    fn drop(&mut self) {
        for (owner, kind) in self.owned.get_mut().drain(..) {
            // A userdata borrowed from Rust past the scope keeps its ('static) value.
            if let Ok(value) = raw::take_owned(self.lua, owner.tv(), kind) {
                drop(value);
            }
        }
    }
}
