//! The tracing JIT: a trace IR in SSA form with guards and snapshots ([`ir`]), and the
//! backend that compiles a trace to native code with Cranelift ([`backend`]).

pub mod backend;
pub mod code;
pub mod engine;
pub mod ir;
pub mod record;
pub mod shims;

pub use backend::{compile, compile_for, CompileError, CompiledTrace, Compiler};
