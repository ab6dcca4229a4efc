//! moonjet-gc: values, GC object layouts, the heap and the incremental collector.
//!
//! This crate owns everything the collector must understand and nothing it need not:
//! the `TValue` encoding ([`value`]), the `#[repr(C)]` object layouts with their field
//! offsets ([`object`]), the string table, tables, closures, threads and traces as heap
//! objects, and the incremental tri-colour collector ([`collector`]).
//!
//! The runtime reaches it through [`Heap`]: object creation, root slots, write
//! barriers, `collectgarbage` operations, finalizer hand-off and the trace registry.
//! It never imports the runtime or the JIT: roots come in through root slots, finalizers
//! go out through [`Heap::take_finalizable`], and trace code is released through the
//! [`TraceCode`] trait the JIT implements.
//!
//! Unsafe code: objects are raw pointers whose validity is the collector's invariant
//! (an object is live while reachable from a root, a stack below `top`, or another live
//! object). Each unsafe block states what it relies on.

pub mod alloc;
pub mod collector;
pub mod func;
pub mod heap;
pub mod object;
pub mod strtab;
pub mod table;
pub mod thread;
pub mod trace;
pub mod value;

pub use collector::GcState;
pub use func::ProtoSpec;
pub use heap::{Finalizable, GcResult, Heap, MemoryError, MetaMethod, RootId};
pub use object::{
    GcCdata, GcFunc, GcHeader, GcProto, GcStr, GcTab, GcThread, GcTrace, GcUdata, GcUpval,
    TraceCode,
};
pub use table::TabError;
pub use value::{LuaType, TValue};
