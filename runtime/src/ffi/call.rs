//! Calling C: a call of a cdata function (`ffi.C.abs(-3)`) or function pointer converts
//! the Lua arguments to the C parameter types, runs the call stub of the signature
//! (moonjet-ffi generates one per signature, cached here) and converts the result back.
//!
//! luajit's rules: too few arguments, or too many for a function without `...`, is
//! "wrong number of arguments for function call"; `...` arguments take their C type from
//! the Lua value (numbers are `double`, strings `const char *`, `float` cdata promote to
//! `double`, arrays and structs pass a pointer to themselves). `ffi.errno` is set before
//! the call and saved right after it.

use std::rc::Rc;

use moonjet_ffi::call::{plan_call, CallPlan, CallStub, StubCompiler};
use moonjet_ffi::{CTypeId, CTypeTable, Flags, Kind};
use moonjet_gc::TValue;

use super::conv::{box_copy, c_to_lua, lua_to_c, read_pointer, source_type};
use super::{callback, cdata_payload, cdata_type, pointer_type, raw_type};
use crate::fast_hash::FastMap;
use crate::vm::{LuaResult, State};

/// A call stub with the plan it follows.
pub struct Stub {
    pub plan: CallPlan,
    code: CallStub,
}

/// The call stubs made so far, by signature.
#[derive(Default)]
pub struct CallStubs {
    compiler: Option<StubCompiler>,
    fixed: FastMap<CTypeId, Rc<Stub>>,
    vararg: FastMap<(CTypeId, Vec<CTypeId>), Rc<Stub>>,
}

impl CallStubs {
    /// The stub for calling function type `func` (raw) with `varargs` for its `...`.
    fn get(
        &mut self,
        cts: &CTypeTable,
        func: CTypeId,
        varargs: &[CTypeId],
    ) -> Result<Rc<Stub>, String> {
        let cached = if varargs.is_empty() {
            self.fixed.get(&func)
        } else {
            self.vararg.get(&(func, varargs.to_vec()))
        };
        if let Some(stub) = cached {
            return Ok(stub.clone());
        }
        let plan = plan_call(cts, func, varargs).map_err(|e| e.to_string())?;
        let code = self
            .compiler()?
            .compile_call(&plan)
            .map_err(|e| e.to_string())?;
        let stub = Rc::new(Stub { plan, code });
        if varargs.is_empty() {
            self.fixed.insert(func, stub.clone());
        } else {
            self.vararg.insert((func, varargs.to_vec()), stub.clone());
        }
        Ok(stub)
    }

    /// The compiler of call stubs and callback entries (made on first use).
    pub(crate) fn compiler(&mut self) -> Result<&mut StubCompiler, String> {
        if self.compiler.is_none() {
            self.compiler = Some(StubCompiler::host().map_err(|e| e.to_string())?);
        }
        Ok(self.compiler.as_mut().expect("made above"))
    }
}

/// The function type (raw) and address a callable cdata stands for: a function
/// (`ffi.C.abs`, holding its address) or a pointer to a function.
pub fn callee(cts: &CTypeTable, f: TValue) -> Option<(CTypeId, usize)> {
    let (raw, ct) = raw_type(cts, cdata_type(f));
    let func = match ct.kind {
        Kind::Func(_) => raw,
        Kind::Ptr if ct.is_ptr() && cts.get(cts.raw(ct.child)).is_func() => cts.raw(ct.child),
        _ => return None,
    };
    // SAFETY: both kinds hold an address in the first 8 bytes of their payload (other
    // cdata may have smaller payloads, so they are not read).
    let addr = unsafe { read_pointer(cdata_payload(f), 8) };
    Some((func, addr))
}

/// The native function a call of a C function cdata runs, with the cdata as argument 1
/// and the C arguments after it.
pub fn call_c(st: &mut State) -> LuaResult<u32> {
    // Lua code can get hold of this function (`debug.getinfo` of its frame) and call it
    // with anything.
    let f = st.arg(1);
    if !f.is_cdata() {
        return Err(st.type_error(1, "cdata"));
    }
    let Some((func, addr)) = callee(&st.ffi.ctypes, f) else {
        return Err(st.rt_error("bad callback"));
    };
    if addr == 0 {
        // luajit jumps to address 0; we refuse.
        return Err(st.rt_error("attempt to call a NULL function pointer"));
    }
    let nargs = st.nargs() - 1;
    // A function without `...` has one stub; take its parameter count from the plan.
    let fixed = st.ffi.stubs.fixed.get(&func).cloned();
    let stub = match fixed {
        Some(stub) if nargs == stub.plan.arg_types.len() => stub,
        _ => {
            let cts = &st.ffi.ctypes;
            let nparams = cts.members(func).len();
            let vararg = cts.get(func).flags.contains(Flags::VARARG);
            if nargs < nparams || (nargs > nparams && !vararg) {
                return Err(st.rt_error("wrong number of arguments for function call"));
            }
            let mut varargs = Vec::new();
            for n in nparams..nargs {
                let v = st.arg(n + 2);
                let ty = vararg_type(st, v)?;
                varargs.push(ty);
            }
            match st.ffi.stubs.get(&st.ffi.ctypes, func, &varargs) {
                Ok(s) => s,
                Err(msg) => return Err(st.rt_error(&msg)),
            }
        }
    };
    let plan = &stub.plan;

    let (mut args_inline, mut args_heap) = ([0u128; BLOCK_INLINE], Vec::new());
    let args = block(&mut args_inline, &mut args_heap, plan.args_size);
    for (i, (&ty, &off)) in plan.arg_types.iter().zip(&plan.arg_offsets).enumerate() {
        let v = st.arg(i + 2);
        let v = callback::lua_function_to_c(st, ty, v)?;
        // SAFETY: the block has room for every argument at its offset; `v` is live (it
        // is an argument, or a callback the slot table keeps).
        let r = unsafe { lua_to_c(&st.ffi.ctypes, ty, args.add(off as usize), v, false) };
        if let Err(msg) = r {
            // luajit names the function only when it runs as a metamethod.
            let name = match crate::vm::debug::func_name(&crate::vm::debug::frames(st), 0) {
                Some(("metamethod", name)) => String::from_utf8_lossy(&name).into_owned(),
                _ => "?".to_string(),
            };
            let msg = format!("bad argument #{} to '{name}' ({msg})", i + 1);
            return Err(st.rt_error(&msg));
        }
    }
    let (mut ret_inline, mut ret_heap) = ([0u128; BLOCK_INLINE], Vec::new());
    let ret = block(&mut ret_inline, &mut ret_heap, plan.ret_size);
    let state: *mut State = st;
    let outer = st.ffi.callbacks.enter(state);
    // SAFETY: errno is thread-local; the stub follows `plan`, `addr` is a function of
    // the declared signature (as the cdef promised), and both blocks have the plan's
    // sizes. Strings passed as `const char *` are arguments, alive during the call.
    unsafe {
        *libc::__errno_location() = st.ffi.errno;
        stub.code.call(addr as *const _, args, ret);
        st.ffi.errno = *libc::__errno_location();
    }
    st.ffi.callbacks.leave(outer);
    if let Some(err) = callback::take_error(st) {
        return Err(st.throw(err));
    }
    let ty = plan.ret_type;
    // SAFETY: the stub stored a value of the return type in the result block.
    let v = unsafe { result_to_lua(st, ty, ret)? };
    match v {
        Some(v) => {
            st.push(v)?;
            Ok(1)
        }
        None => Ok(0),
    }
}

/// The C type a Lua value takes as a `...` argument.
fn vararg_type(st: &mut State, v: TValue) -> LuaResult<CTypeId> {
    if v.is_number() {
        return Ok(CTypeId::DOUBLE);
    }
    if v.is_bool() {
        return Ok(CTypeId::BOOL);
    }
    if v.is_str() {
        return Ok(CTypeId::P_CONST_CHAR);
    }
    if !v.is_cdata() {
        // nil and userdata pass as pointers; anything else fails its conversion to one.
        return Ok(CTypeId::P_VOID);
    }
    let cts = &st.ffi.ctypes;
    let ty = source_type(cts, v);
    let (raw, ct) = raw_type(cts, ty);
    match ct.kind {
        Kind::Array if ct.is_array() => {
            let elem = ct.child;
            pointer_type(st, elem)
        }
        Kind::Struct => pointer_type(st, raw),
        Kind::Num if ct.flags.contains(Flags::FP) && ct.size == 4 => Ok(CTypeId::DOUBLE),
        _ => Ok(ty),
    }
}

/// The Lua value of a C call's result at `p` (None for `void`): structs and complex
/// numbers become new cdata holding a copy, the rest converts as a read does.
///
/// # Safety
/// `p` must hold a value of type `ty`.
pub unsafe fn result_to_lua(st: &mut State, ty: CTypeId, p: *mut u8) -> LuaResult<Option<TValue>> {
    let (raw, ct) = raw_type(&st.ffi.ctypes, ty);
    // SAFETY: caller promise.
    unsafe {
        match ct.kind {
            Kind::Void => Ok(None),
            Kind::Struct => box_copy(st, raw, p).map(Some),
            _ => c_to_lua(st, ty, p).map(Some),
        }
    }
}

/// 16-byte words of an argument or result block kept on the Rust stack: most
/// signatures fit, so a call allocates nothing.
const BLOCK_INLINE: usize = 8;

/// A 16-byte aligned block of `size` bytes: `inline` when it fits, else `heap`.
fn block(inline: &mut [u128; BLOCK_INLINE], heap: &mut Vec<u128>, size: u32) -> *mut u8 {
    let words = (size as usize).div_ceil(16);
    if words <= BLOCK_INLINE {
        inline.as_mut_ptr().cast()
    } else {
        *heap = vec![0; words];
        heap.as_mut_ptr().cast()
    }
}
