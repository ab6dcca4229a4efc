//! Closures and prototypes.

use crate::heap::{GcResult, Heap, MemoryError};
use crate::object::*;
use crate::value::TValue;
use std::ptr::null_mut;

/// Everything a prototype is made of; [`Heap::new_proto`] copies it into one block.
pub struct ProtoSpec<'a> {
    pub numparams: u8,
    pub framesize: u8,
    pub flags: u32,
    pub firstline: u32,
    pub numline: u32,
    pub chunkname: *mut GcStr,
    pub bc: &'a [u32],
    pub kgc: &'a [TValue],
    pub kn: &'a [f64],
    pub uv: &'a [u16],
    /// One line per instruction, or empty (stripped).
    pub lineinfo: &'a [u32],
    /// One name per upvalue, or empty (stripped).
    pub uvnames: &'a [*mut GcStr],
    pub varinfo: &'a [VarInfo],
}

/// Round up to 8 bytes.
const fn align8(n: usize) -> usize {
    (n + 7) & !7
}

impl Heap {
    /// A Lua closure of `proto` with `nupvalues` null upvalue slots for the caller to
    /// fill (the collector skips null ones).
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    pub unsafe fn new_lua_closure(
        &mut self,
        proto: *mut GcProto,
        env: *mut GcTab,
    ) -> GcResult<*mut GcFunc> {
        // SAFETY: caller passes a live prototype.
        let nup = unsafe { (*proto).sizeuv } as usize;
        if nup > 255 {
            return Err(MemoryError);
        }
        let o = self.alloc_object(GcFunc::lua_size(nup), gct::FUNC)?;
        let f = o.cast::<GcFunc>();
        // SAFETY: fresh block for a header plus `nup` upvalue pointers.
        unsafe {
            (*f).ffid = ffid::LUA;
            (*f).nupvalues = nup as u8;
            (*f)._pad = 0;
            (*f).env = env;
            (*f).gclist = null_mut();
            (*f).proto = proto;
            let uvs = GcFunc::lua_upvals(f);
            for i in 0..nup {
                *uvs.add(i) = null_mut();
            }
            self.link_root(o);
        }
        Ok(f)
    }

    /// A native closure calling `fptr`, with `nupvalues` nil upvalues. `id` is
    /// [`ffid::NATIVE`] or a fast-function id (> 1) the runtime assigns.
    pub fn new_native_closure(
        &mut self,
        fptr: NativeFn,
        id: u8,
        nupvalues: u8,
        env: *mut GcTab,
    ) -> GcResult<*mut GcFunc> {
        let nup = nupvalues as usize;
        let o = self.alloc_object(GcFunc::native_size(nup), gct::FUNC)?;
        let f = o.cast::<GcFunc>();
        // SAFETY: fresh block for a native header plus `nup` values.
        unsafe {
            (*f).ffid = id.max(ffid::NATIVE);
            (*f).nupvalues = nupvalues;
            (*f)._pad = 0;
            (*f).env = env;
            (*f).gclist = null_mut();
            (*f).proto = null_mut();
            (*f.cast::<GcFuncNative>()).f = fptr;
            let uvs = GcFunc::native_upvals(f);
            for i in 0..nup {
                *uvs.add(i) = TValue::NIL;
            }
            self.link_root(o);
        }
        Ok(f)
    }

    /// Set a Lua closure's upvalue `i` (with its barrier).
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    pub unsafe fn set_closure_upvalue(&mut self, f: *mut GcFunc, i: usize, uv: *mut GcUpval) {
        // SAFETY: caller passes a live Lua closure and an index below nupvalues.
        unsafe {
            assert!(i < (*f).nupvalues as usize && (*f).is_lua());
            *GcFunc::lua_upvals(f).add(i) = uv;
        }
        self.barrier_forward(
            f.cast(),
            TValue::from_gc(uv.cast(), crate::value::itype::UPVAL),
        );
    }

    /// Set a native closure's upvalue value `i` (with its barrier).
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    pub unsafe fn set_native_upvalue(&mut self, f: *mut GcFunc, i: usize, v: TValue) {
        // SAFETY: caller passes a live native closure and an index below nupvalues.
        unsafe {
            assert!(i < (*f).nupvalues as usize && !(*f).is_lua());
            *GcFunc::native_upvals(f).add(i) = v;
        }
        self.barrier_forward(f.cast(), v);
    }

    /// Set a closure's environment (with its barrier).
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    pub unsafe fn set_closure_env(&mut self, f: *mut GcFunc, env: *mut GcTab) {
        // SAFETY: caller passes a live closure.
        unsafe { (*f).env = env };
        if !env.is_null() {
            self.barrier_forward(f.cast(), TValue::from_tab(env));
        }
    }

    /// A prototype holding copies of everything in `spec`. Never runs the collector, so the
    /// references in `spec` need not be anchored anywhere else.
    pub fn new_proto(&mut self, spec: &ProtoSpec) -> GcResult<*mut GcProto> {
        let n = spec.bc.len();
        if (!spec.lineinfo.is_empty() && spec.lineinfo.len() != n)
            || (!spec.uvnames.is_empty() && spec.uvnames.len() != spec.uv.len())
            || n > u32::MAX as usize
            || spec.kgc.len() > u32::MAX as usize
            || spec.kn.len() > u32::MAX as usize
            || spec.uv.len() > 255
        {
            return Err(MemoryError);
        }
        // Section offsets inside one block, each 8-aligned.
        let mut size = size_of::<GcProto>();
        let mut section = |bytes: usize| {
            let at = size;
            size = align8(size + bytes);
            at
        };
        let o_bc = section(n * 4);
        let o_kgc = section(spec.kgc.len() * 8);
        let o_kn = section(spec.kn.len() * 8);
        let o_uv = section(spec.uv.len() * 2);
        let o_line = section(spec.lineinfo.len() * 4);
        let o_uvn = section(spec.uv.len() * 8);
        let o_var = section(std::mem::size_of_val(spec.varinfo));
        let o = self.alloc_object_no_gc(size, gct::PROTO)?;
        let p = o.cast::<GcProto>();
        // SAFETY: fresh block of `size` bytes; each section lies within it at an
        // 8-aligned offset and is filled from a slice of the declared length.
        unsafe {
            let base = o.cast::<u8>();
            let at = |off: usize| base.add(off);
            (*p).numparams = spec.numparams;
            (*p).framesize = spec.framesize;
            (*p).sizebc = n as u32;
            (*p).bc = at(o_bc).cast();
            (*p).gclist = null_mut();
            (*p).kgc = at(o_kgc).cast();
            (*p).kn = at(o_kn).cast();
            (*p).uv = at(o_uv).cast();
            (*p).lineinfo = if spec.lineinfo.is_empty() {
                null_mut()
            } else {
                at(o_line).cast()
            };
            (*p).uvnames = at(o_uvn).cast();
            (*p).varinfo = at(o_var).cast();
            (*p).chunkname = spec.chunkname;
            (*p).trace = null_mut();
            (*p).sizekgc = spec.kgc.len() as u32;
            (*p).sizekn = spec.kn.len() as u32;
            (*p).sizeuv = spec.uv.len() as u32;
            (*p).sizevarinfo = spec.varinfo.len() as u32;
            (*p).firstline = spec.firstline;
            (*p).numline = spec.numline;
            (*p).flags = spec.flags;
            (*p).closures = 0;
            (*p).alloc_size = size;
            std::ptr::copy_nonoverlapping(spec.bc.as_ptr(), (*p).bc, n);
            std::ptr::copy_nonoverlapping(spec.kgc.as_ptr(), (*p).kgc, spec.kgc.len());
            std::ptr::copy_nonoverlapping(spec.kn.as_ptr(), (*p).kn, spec.kn.len());
            std::ptr::copy_nonoverlapping(spec.uv.as_ptr(), (*p).uv, spec.uv.len());
            std::ptr::copy_nonoverlapping(
                spec.lineinfo.as_ptr(),
                at(o_line).cast(),
                spec.lineinfo.len(),
            );
            // Stripped prototypes keep a null name per upvalue so the count stays sizeuv.
            for i in 0..spec.uv.len() {
                *(*p).uvnames.add(i) = spec.uvnames.get(i).copied().unwrap_or(null_mut());
            }
            std::ptr::copy_nonoverlapping(spec.varinfo.as_ptr(), (*p).varinfo, spec.varinfo.len());
            self.link_root(o);
        }
        Ok(p)
    }
}
