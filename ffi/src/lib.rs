//! moonjet-ffi: the C type system, the C declaration parser and the C calling
//! conventions behind the `ffi` library.
//!
//! A [`CTypeTable`] (one per Lua state) holds every C type as an entry with a 16-bit
//! [`CTypeId`], modelled on LuaJIT's so that IDs and type names match what LuaJIT
//! shows: the fixed IDs 0..=22 (`void`, `int32_t`, `const char *`, ...), the built-in
//! typedefs and keywords up to 96, then declarations in order (the first anonymous
//! struct is `struct 97`). Unnamed types are interned: `int *` spelled twice is one ID.
//!
//! - [`CTypeTable::cdef`] parses `ffi.cdef` declarations, [`CTypeTable::parse_type`]
//!   type strings; both take `$` values ([`DeclParam`]) and roll the table back on
//!   error. Errors ([`CError`]) carry LuaJIT's messages.
//! - [`CTypeTable::sizeof`], [`CTypeTable::sizeof_with_count`],
//!   [`CTypeTable::alignof`], [`CTypeTable::member`] (offsetof and member access) and
//!   [`CTypeTable::type_name`] answer the library's questions.
//! - Layout follows GCC on x86-64 SysV and AArch64 ([`Target`]): see [`layout`].
//! - [`call`] classifies C calls on the target's ABI and generates call stubs and
//!   callback entries with Cranelift, placed in executable memory ([`code`], which the
//!   JIT's traces use too).
//!
//! The crate holds no GC objects: cdata objects and the Lua-facing library live in the
//! runtime and hold [`CTypeId`]s. Unsafe code is confined to [`code`] (cache
//! maintenance) and [`call`] (entering generated code).

pub mod call;
pub mod code;
pub mod ctype;
pub mod error;
pub mod layout;
mod lex;
mod parse;
mod repr;
pub mod table;
pub mod target;

pub use ctype::{
    AttribKind, CType, CTypeId, CallConv, Flags, Keyword, Kind, SIZE_INVALID, SIZE_MAX,
};
pub use error::CError;
pub use parse::DeclParam;
pub use table::{CTypeTable, Member, Namespace};
pub use target::Target;
