//! The virtual machine: state, frames, interpreter, debug information.

pub mod debug;
pub mod frame;
pub mod hook;
pub mod interp;
pub mod jit_iface;
pub mod state;

pub use interp::{equals, index, less, set_index, tostring};
pub use state::{Config, InterruptFn, LuaResult, NativeFn, State, Throw, MULTRET};
