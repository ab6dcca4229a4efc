//! Compiled functions as the front end produces them: plain Rust data (no GC objects),
//! so parsing never interacts with the collector. The loader turns a `Proto` into a
//! `GcProto` in the heap; the listing and the binary-chunk writer read it directly.

use crate::bc::Ins;
use crate::lex::CdataLit;
use std::sync::Arc;

/// Bytes shared between prototypes (a string constant or a name is stored once per
/// parse, however many functions use it).
pub type Bytes = Arc<[u8]>;

/// Prototype flags (as luajit's).
pub mod flags {
    /// Has child prototypes (so returns may need to close upvalues).
    pub const CHILD: u8 = 0x01;
    pub const VARARG: u8 = 0x02;
    /// Uses FFI constants (cdata literals).
    pub const FFI: u8 = 0x04;
    /// Never compile (set by the JIT).
    pub const NOJIT: u8 = 0x08;
    /// Has a loop that may be compiled.
    pub const ILOOP: u8 = 0x10;
}

/// An upvalue descriptor: where the closure takes the upvalue from.
pub mod uvflag {
    /// The upvalue is a local slot of the enclosing function (else an upvalue of it).
    pub const LOCAL: u16 = 0x8000;
    /// The variable is never assigned after its initialisation.
    pub const IMMUTABLE: u16 = 0x4000;
}

/// A constant in a template table (`TDUP`).
#[derive(Clone, Debug, PartialEq)]
pub enum TabConst {
    Nil,
    False,
    True,
    Num(f64),
    Str(Bytes),
}

/// A template table: constant keys and values of a table constructor.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TemplateTable {
    /// Values for keys `0..array.len()` (slot 0 is always nil in constructors).
    pub array: Vec<TabConst>,
    /// Other constant keys, in insertion order.
    pub hash: Vec<(TabConst, TabConst)>,
}

/// A collectable constant.
#[derive(Clone, Debug, PartialEq)]
pub enum KGc {
    Str(Bytes),
    Proto(Box<Proto>),
    Table(TemplateTable),
    Cdata(CdataLit),
}

/// A local variable's name and live range (bytecode positions), for debug info.
#[derive(Clone, Debug, PartialEq)]
pub struct VarInfo {
    pub name: Bytes,
    pub startpc: u32,
    pub endpc: u32,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Proto {
    pub chunkname: Bytes,
    pub firstline: u32,
    pub numline: u32,
    pub numparams: u8,
    pub framesize: u8,
    pub flags: u8,
    /// Bytecode; instruction 0 is the function header (`FUNCF`/`FUNCV`).
    pub bc: Vec<Ins>,
    /// Source line of each instruction.
    pub lineinfo: Vec<u32>,
    pub kgc: Vec<KGc>,
    pub kn: Vec<f64>,
    pub uv: Vec<u16>,
    pub uvnames: Vec<Bytes>,
    pub varinfo: Vec<VarInfo>,
}
