//! moonjet-runtime: the front end (lexer, parser, bytecode compiler), the interpreter
//! and the standard libraries. Depends on moonjet-gc and moonjet-ffi (the C type system
//! behind the `ffi` library).

pub mod bc;
pub mod bclist;
pub mod chunk;
mod fast_hash;
pub mod ffi;
pub mod lex;
pub mod libs;
pub mod load;
pub mod num;
pub mod parse;
pub mod prng;
pub mod proto;
pub mod strfmt;
pub mod strpat;
pub mod vm;
