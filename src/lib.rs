//! moonjet: a LuaJIT-2-style Lua engine in Rust, and its safe embedding API.
//!
//! The API has the shape and names of [mlua](https://docs.rs/mlua)'s, so a program
//! written against mlua ports by changing the crate name: a [`Lua`] state, handles of
//! Lua values ([`Table`], [`Function`], [`String`], [`AnyUserData`]), conversions
//! ([`IntoLua`], [`FromLua`] and their multi-value forms), Rust functions and
//! [`UserData`] types callable from Lua, and the limits an embedder of untrusted
//! scripts needs: library selection ([`StdLib::SAFE`]), a memory cap
//! ([`Lua::set_memory_limit`]) and an interrupt callback ([`Lua::set_interrupt`]) that
//! reaches loops compiled by the JIT too.
//!
//! ```
//! use moonjet::{Lua, Result};
//!
//! fn main() -> Result<()> {
//!     let lua = Lua::new();
//!     let greet = lua.create_function(|_, name: String| Ok(format!("hello, {name}")))?;
//!     lua.globals().set("greet", greet)?;
//!     let s: String = lua.load(r#"greet("world")"#).eval()?;
//!     assert_eq!(s, "hello, world");
//!     Ok(())
//! }
//! ```
//!
//! Everything here is safe to use: bad input and misuse end in an [`Error`], never
//! undefined behaviour. The layers beneath (`moonjet_gc`, `moonjet_runtime`, the JIT)
//! are separate crates; see DESIGN.md.

#![warn(missing_docs)]

mod chunk;
mod conv;
mod error;
mod lua;
mod raw;
mod scope;
#[cfg(feature = "serde")]
mod serde;
mod userdata;
mod value;

pub use chunk::{AsChunk, Chunk, ChunkMode};
pub use conv::{FromLua, FromLuaMulti, IntoLua, IntoLuaMulti};
pub use error::{Error, ExternalError, ExternalResult, Result};
pub use lua::{Lua, LuaOptions, RegistryKey, StdLib};
pub use scope::Scope;
pub use userdata::{AnyUserData, MetaMethod, UserData, UserDataFields, UserDataMethods};
/// mlua's name for [`LuaString`].
pub use value::LuaString as String;
pub use value::{
    CData, Function, LightUserData, LuaString, MultiValue, Table, TablePairs, TableSequence,
    Thread, ThreadStatus, Value, Variadic, NIL,
};

#[doc(hidden)]
pub use raw::StackArgs;

/// The collector's crate (values, objects, heap), for tools that need it.
pub use moonjet_gc as gc;

/// Everything a program usually imports, under mlua's prelude names.
pub mod prelude {
    pub use crate::{
        AnyUserData as LuaAnyUserData, Chunk as LuaChunk, Error as LuaError,
        ExternalError as LuaExternalError, ExternalResult as LuaExternalResult, FromLua,
        FromLuaMulti, Function as LuaFunction, IntoLua, IntoLuaMulti, Lua, LuaOptions,
        MetaMethod as LuaMetaMethod, MultiValue as LuaMultiValue, RegistryKey as LuaRegistryKey,
        Result as LuaResult, StdLib as LuaStdLib, String as LuaString, Table as LuaTable,
        UserData as LuaUserData, UserDataFields as LuaUserDataFields,
        UserDataMethods as LuaUserDataMethods, Value as LuaValue, Variadic as LuaVariadic,
    };
}
