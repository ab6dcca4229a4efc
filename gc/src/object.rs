//! Layouts of the collectable objects (the GC object union).
//!
//! Every object starts with the same header: `nextgc` (link in its GC list), `marked`
//! (colour and flag bits) and `gct` (the type byte, equal to the internal type number
//! of `TValue`s that point at it). Bytes 10..16 belong to the type. Layouts are
//! `#[repr(C)]` and their field offsets are exported in [`offsets`], because generated
//! code reads them directly; `gclist` sits at 24 and `metatable` at 32 wherever present.
//!
//! The structs are plain data: all the rules that keep them consistent (allocation,
//! barriers, traversal) live in the heap and collector modules.

use crate::value::{itype, TValue};
use std::ffi::c_void;
use std::mem::offset_of;

/// Object type bytes (`gct`): equal to the internal type number of the `TValue` tag.
pub mod gct {
    use crate::value::itype;
    pub const STR: u8 = itype::STR as u8;
    pub const UPVAL: u8 = itype::UPVAL as u8;
    pub const THREAD: u8 = itype::THREAD as u8;
    pub const PROTO: u8 = itype::PROTO as u8;
    pub const FUNC: u8 = itype::FUNC as u8;
    pub const TRACE: u8 = itype::TRACE as u8;
    pub const CDATA: u8 = itype::CDATA as u8;
    pub const TAB: u8 = itype::TAB as u8;
    pub const UDATA: u8 = itype::UDATA as u8;
}

/// Bits of `marked`.
pub mod mark {
    pub const WHITE0: u8 = 0x01;
    pub const WHITE1: u8 = 0x02;
    pub const WHITES: u8 = WHITE0 | WHITE1;
    pub const BLACK: u8 = 0x04;
    /// userdata: already queued for (or run through) its `__gc` finalizer.
    pub const FINALIZED: u8 = 0x08;
    /// table: has weak keys (set while it is traversed).
    pub const WEAKKEY: u8 = 0x08;
    /// table: has weak values.
    pub const WEAKVAL: u8 = 0x10;
    pub const WEAK: u8 = WEAKKEY | WEAKVAL;
    /// cdata: has an `ffi.gc` finalizer registered.
    pub const CDATA_FIN: u8 = 0x10;
    /// trace: taken out of service, waiting on the zombie list for its code release.
    pub const TRACE_ZOMBIE: u8 = 0x08;
    /// Never collected (still traversed): reserved words, metamethod names.
    pub const FIXED: u8 = 0x20;
    /// Never collected nor traversed by the sweep of a heap being torn down.
    pub const SFIXED: u8 = 0x40;
    /// Colour bits: what a sweep resets.
    pub const COLORS: u8 = WHITES | BLACK;
}

/// The common header. Each object struct repeats these three fields at the same offsets.
#[repr(C)]
pub struct GcHeader {
    pub nextgc: *mut GcHeader,
    pub marked: u8,
    pub gct: u8,
}

/// An interned string: `len` bytes inline after the header, then a NUL for C.
#[repr(C)]
pub struct GcStr {
    pub nextgc: *mut GcHeader,
    pub marked: u8,
    pub gct: u8,
    /// Reserved-word index for the lexer (0: not a reserved word).
    pub reserved: u8,
    pub _pad: u8,
    /// Keyed hash of the bytes; also the hash used for table keys.
    pub hash: u32,
    pub len: usize,
    // chars follow at offset 24
}

impl GcStr {
    /// Size of an allocation holding `len` bytes (plus the NUL).
    #[inline(always)]
    pub const fn alloc_size(len: usize) -> usize {
        std::mem::size_of::<GcStr>() + len + 1
    }

    /// The bytes of string `s`.
    ///
    /// # Safety
    /// `s` must point at a live string.
    #[inline(always)]
    pub unsafe fn bytes<'a>(s: *const GcStr) -> &'a [u8] {
        // SAFETY: a live string has `len` initialised bytes right after its header.
        unsafe { std::slice::from_raw_parts(s.add(1).cast::<u8>(), (*s).len) }
    }
}

/// A hash node: value, key, chain link.
#[repr(C)]
pub struct Node {
    pub val: TValue,
    pub key: TValue,
    pub next: *mut Node,
}

/// A table: array part (indices `0..asize`) and a hash part of `hmask + 1` nodes.
#[repr(C)]
pub struct GcTab {
    pub nextgc: *mut GcHeader,
    pub marked: u8,
    pub gct: u8,
    /// Negative metamethod cache: bit `mm` set = metamethod `mm` known absent.
    pub nomm: u8,
    pub _colo: u8,
    pub _pad: u32,
    pub array: *mut TValue,
    pub gclist: *mut GcHeader,
    pub metatable: *mut GcTab,
    pub node: *mut Node,
    pub asize: u32,
    pub hmask: u32,
    /// Free-slot scan position: nodes at and above it were all used once.
    pub freetop: *mut Node,
}

/// An upvalue: open (points into a thread's stack) or closed (holds its value).
#[repr(C)]
pub struct GcUpval {
    pub nextgc: *mut GcHeader,
    pub marked: u8,
    pub gct: u8,
    pub closed: u8,
    pub immutable: u8,
    pub _pad: u32,
    /// The value once closed.
    pub tv: TValue,
    /// Links in the heap's list of all open upvalues (while open).
    pub prev: *mut GcUpval,
    pub next: *mut GcUpval,
    /// Where the value lives: a stack slot while open, `&tv` once closed.
    pub v: *mut TValue,
}

/// Function kinds kept in `ffid`.
pub mod ffid {
    pub const LUA: u8 = 0;
    pub const NATIVE: u8 = 1;
    // > 1: a fast function id the runtime assigns.
}

/// The part all closures share. A Lua closure is followed by `nupvalues` upvalue
/// pointers at [`offsets::FUNC_LUA_UPVALS`]; a native closure by `f` and `nupvalues`
/// upvalue `TValue`s at [`offsets::FUNC_NATIVE_UPVALS`].
#[repr(C)]
pub struct GcFunc {
    pub nextgc: *mut GcHeader,
    pub marked: u8,
    pub gct: u8,
    pub ffid: u8,
    pub nupvalues: u8,
    pub _pad: u32,
    pub env: *mut GcTab,
    pub gclist: *mut GcHeader,
    /// Lua closures: the prototype. Native closures: null.
    pub proto: *mut GcProto,
}

/// A native function pointer; its signature is the runtime's business.
pub type NativeFn = *const c_void;

#[repr(C)]
pub struct GcFuncLua {
    pub head: GcFunc,
    // upvals: [*mut GcUpval; nupvalues]
}

#[repr(C)]
pub struct GcFuncNative {
    pub head: GcFunc,
    pub f: NativeFn,
    // upvalues: [TValue; nupvalues]
}

impl GcFunc {
    #[inline(always)]
    pub fn is_lua(&self) -> bool {
        self.ffid == ffid::LUA
    }

    /// Upvalue pointers of a Lua closure.
    ///
    /// # Safety
    /// `f` must be a live Lua closure.
    #[inline(always)]
    pub unsafe fn lua_upvals(f: *mut GcFunc) -> *mut *mut GcUpval {
        // SAFETY: Lua closures are allocated with their upvalue array after the header.
        unsafe { f.cast::<u8>().add(offsets::FUNC_LUA_UPVALS).cast() }
    }

    /// Upvalue values of a native closure.
    ///
    /// # Safety
    /// `f` must be a live native (or fast) closure.
    #[inline(always)]
    pub unsafe fn native_upvals(f: *mut GcFunc) -> *mut TValue {
        // SAFETY: native closures are allocated with their upvalue array after `f`.
        unsafe { f.cast::<u8>().add(offsets::FUNC_NATIVE_UPVALS).cast() }
    }

    pub const fn lua_size(nup: usize) -> usize {
        offsets::FUNC_LUA_UPVALS + nup * 8
    }

    pub const fn native_size(nup: usize) -> usize {
        offsets::FUNC_NATIVE_UPVALS + nup * 8
    }
}

/// A local variable's name and live bytecode range, for debug information.
#[derive(Copy, Clone, Debug)]
#[repr(C)]
pub struct VarInfo {
    pub name: *mut GcStr,
    pub startpc: u32,
    pub endpc: u32,
}

/// A function prototype. One allocation holds the header and, behind it, the bytecode,
/// GC constants, number constants, upvalue descriptors, line info, upvalue names and
/// local variable info; the pointers below point into that block.
#[repr(C)]
pub struct GcProto {
    pub nextgc: *mut GcHeader,
    pub marked: u8,
    pub gct: u8,
    pub numparams: u8,
    pub framesize: u8,
    pub sizebc: u32,
    /// Bytecode: `sizebc` 32-bit instructions.
    pub bc: *mut u32,
    pub gclist: *mut GcHeader,
    /// GC constants: strings, child prototypes, template tables, cdata.
    pub kgc: *mut TValue,
    /// Number constants.
    pub kn: *mut f64,
    /// Upvalue descriptors (the runtime's encoding: parent slot or upvalue index).
    pub uv: *mut u16,
    /// Line of each instruction.
    pub lineinfo: *mut u32,
    /// Name of each upvalue.
    pub uvnames: *mut *mut GcStr,
    pub varinfo: *mut VarInfo,
    pub chunkname: *mut GcStr,
    /// First root trace started in this prototype (traces chain on through `nextroot`).
    pub trace: *mut GcTrace,
    pub sizekgc: u32,
    pub sizekn: u32,
    pub sizeuv: u32,
    pub sizevarinfo: u32,
    pub firstline: u32,
    pub numline: u32,
    pub flags: u32,
    /// Closures made of it so far (saturating): the JIT specialises calls of a
    /// prototype with several to the prototype, not to one closure.
    pub closures: u32,
    /// Bytes of the whole block (for freeing and accounting).
    pub alloc_size: usize,
}

/// Thread status byte values.
pub mod thread_status {
    pub const OK: u8 = 0;
    pub const YIELD: u8 = 1;
    pub const ERRRUN: u8 = 2;
    pub const DEAD: u8 = 255;
}

/// A thread (coroutine) with its own value stack. Every slot below `top` is a root; the
/// runtime may keep frame links in stack slots only as words that read as numbers.
#[repr(C)]
pub struct GcThread {
    pub nextgc: *mut GcHeader,
    pub marked: u8,
    pub gct: u8,
    pub _dummy_ffid: u8,
    pub status: u8,
    pub _pad: u32,
    /// Owner pointer for the runtime (its global state); never traversed.
    pub glref: *mut c_void,
    pub gclist: *mut GcHeader,
    pub base: *mut TValue,
    pub top: *mut TValue,
    /// Last usable slot (stack + stacksize - extra slots the runtime reserves).
    pub maxstack: *mut TValue,
    pub stack: *mut TValue,
    /// Open upvalues of this thread, highest stack slot first, linked through `nextgc`.
    pub openupval: *mut GcUpval,
    pub env: *mut GcTab,
    /// The runtime's native-frame link; never traversed.
    pub cframe: *mut c_void,
    /// Number of slots in `stack`.
    pub stacksize: usize,
    /// Runtime per-thread data; never traversed.
    pub ext: *mut c_void,
}

/// A full userdata: `len` payload bytes inline at offset 48 (16-byte aligned).
#[repr(C)]
pub struct GcUdata {
    pub nextgc: *mut GcHeader,
    pub marked: u8,
    pub gct: u8,
    pub udtype: u8,
    pub _pad0: u8,
    pub _pad1: u32,
    pub env: *mut GcTab,
    pub len: usize,
    pub metatable: *mut GcTab,
    pub _pad2: u64,
    // payload at 48
}

impl GcUdata {
    pub const fn alloc_size(len: usize) -> usize {
        std::mem::size_of::<GcUdata>() + len
    }

    /// # Safety
    /// `u` must be a live userdata.
    #[inline(always)]
    pub unsafe fn payload(u: *mut GcUdata) -> *mut u8 {
        // SAFETY: the payload is allocated right behind the header.
        unsafe { u.add(1).cast() }
    }
}

/// FFI cdata: a C type id and `size` payload bytes inline at offset 16.
#[repr(C)]
pub struct GcCdata {
    pub nextgc: *mut GcHeader,
    pub marked: u8,
    pub gct: u8,
    pub ctypeid: u16,
    pub size: u32,
    // payload at 16
}

impl GcCdata {
    pub const fn alloc_size(size: usize) -> usize {
        std::mem::size_of::<GcCdata>() + size
    }

    /// # Safety
    /// `c` must be a live cdata object.
    #[inline(always)]
    pub unsafe fn payload(c: *mut GcCdata) -> *mut u8 {
        // SAFETY: the payload is allocated right behind the header.
        unsafe { c.add(1).cast() }
    }
}

/// Compiled code of a trace, owned by the JIT. The collector never runs it; it only
/// decides when it may be released, and then calls `release` exactly once.
pub trait TraceCode {
    /// Free the machine code (and whatever else the JIT keeps for the trace).
    fn release(self: Box<Self>);
}

/// A compiled trace. Live (registered) traces keep their start prototype, their
/// embedded GC constants and the traces they link to alive.
#[repr(C)]
pub struct GcTrace {
    pub nextgc: *mut GcHeader,
    pub marked: u8,
    pub gct: u8,
    pub _pad: u16,
    /// Registry number (0: not registered, i.e. unfinished or flushed).
    pub traceno: u32,
    pub sizekgc: u32,
    pub _pad2: u32,
    pub gclist: *mut GcHeader,
    /// GC constants the machine code embeds (`sizekgc` of them).
    pub kgc: *mut TValue,
    /// The JIT's handle; `None` once released.
    pub code: Option<Box<dyn TraceCode>>,
    pub startpt: *mut GcProto,
    /// The trace this one jumps to at its end (root link), if any.
    pub link: *mut GcTrace,
    /// Next root trace of the same prototype.
    pub nextroot: *mut GcTrace,
    /// Next side trace of the same root.
    pub nextside: *mut GcTrace,
    /// Free use by the JIT (e.g. its trace data); never traversed.
    pub ext: *mut c_void,
}

/// Field offsets generated code may rely on.
pub mod offsets {
    use super::*;
    pub const NEXTGC: usize = offset_of!(GcHeader, nextgc);
    pub const MARKED: usize = offset_of!(GcHeader, marked);
    pub const GCT: usize = offset_of!(GcHeader, gct);

    pub const STR_HASH: usize = offset_of!(GcStr, hash);
    pub const STR_LEN: usize = offset_of!(GcStr, len);
    pub const STR_DATA: usize = std::mem::size_of::<GcStr>();

    pub const TAB_NOMM: usize = offset_of!(GcTab, nomm);
    pub const TAB_ARRAY: usize = offset_of!(GcTab, array);
    pub const TAB_GCLIST: usize = offset_of!(GcTab, gclist);
    pub const TAB_METATABLE: usize = offset_of!(GcTab, metatable);
    pub const TAB_NODE: usize = offset_of!(GcTab, node);
    pub const TAB_ASIZE: usize = offset_of!(GcTab, asize);
    pub const TAB_HMASK: usize = offset_of!(GcTab, hmask);
    pub const TAB_FREETOP: usize = offset_of!(GcTab, freetop);

    pub const NODE_VAL: usize = offset_of!(Node, val);
    pub const NODE_KEY: usize = offset_of!(Node, key);
    pub const NODE_NEXT: usize = offset_of!(Node, next);
    pub const NODE_SIZE: usize = std::mem::size_of::<Node>();

    pub const UPVAL_CLOSED: usize = offset_of!(GcUpval, closed);
    pub const UPVAL_TV: usize = offset_of!(GcUpval, tv);
    pub const UPVAL_V: usize = offset_of!(GcUpval, v);

    pub const FUNC_FFID: usize = offset_of!(GcFunc, ffid);
    pub const FUNC_NUPVALUES: usize = offset_of!(GcFunc, nupvalues);
    pub const FUNC_ENV: usize = offset_of!(GcFunc, env);
    pub const FUNC_GCLIST: usize = offset_of!(GcFunc, gclist);
    pub const FUNC_PROTO: usize = offset_of!(GcFunc, proto);
    pub const FUNC_LUA_UPVALS: usize = std::mem::size_of::<GcFunc>();
    pub const FUNC_NATIVE_F: usize = offset_of!(GcFuncNative, f);
    pub const FUNC_NATIVE_UPVALS: usize = std::mem::size_of::<GcFuncNative>();

    pub const PROTO_BC: usize = offset_of!(GcProto, bc);
    pub const PROTO_KGC: usize = offset_of!(GcProto, kgc);
    pub const PROTO_KN: usize = offset_of!(GcProto, kn);
    pub const PROTO_TRACE: usize = offset_of!(GcProto, trace);
    pub const PROTO_FRAMESIZE: usize = offset_of!(GcProto, framesize);

    pub const THREAD_STATUS: usize = offset_of!(GcThread, status);
    pub const THREAD_GCLIST: usize = offset_of!(GcThread, gclist);
    pub const THREAD_BASE: usize = offset_of!(GcThread, base);
    pub const THREAD_TOP: usize = offset_of!(GcThread, top);
    pub const THREAD_MAXSTACK: usize = offset_of!(GcThread, maxstack);
    pub const THREAD_STACK: usize = offset_of!(GcThread, stack);
    pub const THREAD_OPENUPVAL: usize = offset_of!(GcThread, openupval);
    pub const THREAD_ENV: usize = offset_of!(GcThread, env);

    pub const UDATA_ENV: usize = offset_of!(GcUdata, env);
    pub const UDATA_LEN: usize = offset_of!(GcUdata, len);
    pub const UDATA_METATABLE: usize = offset_of!(GcUdata, metatable);
    pub const UDATA_PAYLOAD: usize = std::mem::size_of::<GcUdata>();

    pub const CDATA_CTYPEID: usize = offset_of!(GcCdata, ctypeid);
    pub const CDATA_PAYLOAD: usize = std::mem::size_of::<GcCdata>();

    pub const TRACE_KGC: usize = offset_of!(GcTrace, kgc);
    pub const TRACE_GCLIST: usize = offset_of!(GcTrace, gclist);
}

// The layout promises of the module docs, checked at compile time.
const _: () = {
    use offsets::*;
    assert!(NEXTGC == 0 && MARKED == 8 && GCT == 9);
    assert!(STR_DATA == 24);
    assert!(std::mem::size_of::<GcTab>() == 64);
    assert!(TAB_GCLIST == 24 && TAB_METATABLE == 32);
    assert!(NODE_SIZE == 24 && NODE_VAL == 0 && NODE_KEY == 8 && NODE_NEXT == 16);
    assert!(FUNC_GCLIST == 24 && FUNC_LUA_UPVALS == 40 && FUNC_NATIVE_UPVALS == 48);
    assert!(offset_of!(GcProto, gclist) == 24);
    assert!(THREAD_GCLIST == 24);
    assert!(UDATA_METATABLE == 32 && UDATA_PAYLOAD == 48);
    assert!(CDATA_PAYLOAD == 16);
    assert!(TRACE_GCLIST == 24);
    assert!(std::mem::size_of::<GcUpval>() == 48);
    assert!(gct::TAB as u32 == itype::TAB && gct::STR as u32 == itype::STR);
};

/// The `gclist` link of an object that can be gray (table, function, proto, thread, trace).
///
/// # Safety
/// `o` must be a live object of one of those types (all keep `gclist` at offset 24).
#[inline(always)]
pub unsafe fn gclist_of(o: *mut GcHeader) -> *mut *mut GcHeader {
    // SAFETY: the layout assertions above pin `gclist` at 24 for every gray-able type.
    unsafe { o.cast::<u8>().add(24).cast() }
}

/// The `TValue` that points at `o`, using its type byte.
///
/// # Safety
/// `o` must be a live object.
#[inline(always)]
pub unsafe fn value_of(o: *mut GcHeader) -> TValue {
    // SAFETY: caller guarantees `o` is live, so its header is readable.
    TValue::from_gc(o, unsafe { (*o).gct } as u32)
}
