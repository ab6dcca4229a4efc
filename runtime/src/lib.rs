//! moonjet-runtime: the front end (lexer, parser, bytecode compiler), the interpreter
//! and the standard libraries. Depends on moonjet-gc only.

pub mod bc;
pub mod bclist;
pub mod chunk;
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
