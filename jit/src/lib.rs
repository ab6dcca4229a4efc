//! The tracing JIT: a trace IR in SSA form with guards and snapshots ([`ir`]), the
//! backend that compiles a trace to native code with Cranelift ([`backend`]), and the
//! engine the interpreter drives ([`engine`]): its traces are GC objects ([`traces`]), and
//! loops that keep failing to record are penalised, then blacklisted ([`penalty`]);
//! `-jdump` shows what it does ([`dump`]).

pub mod backend;
pub mod dump;
pub mod engine;
pub mod ir;
pub mod penalty;
pub mod record;
pub mod shims;
pub mod traces;

pub use backend::{compile, compile_for, CompileError, CompiledTrace, Compiler};
