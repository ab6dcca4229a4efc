//! moonjet: a LuaJIT-2-style Lua engine. This crate is the embedding API; the layers
//! beneath it are separate crates (see DESIGN.md). Only the collector exists so far.

pub use moonjet_gc as gc;
