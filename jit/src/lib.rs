//! The tracing JIT: a trace IR in SSA form with guards and snapshots ([`ir`]), and the
//! backend that compiles a trace to native code with Cranelift ([`backend`]).

pub mod ir;
