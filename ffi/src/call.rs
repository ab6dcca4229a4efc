//! C calls and callbacks: how a C function's arguments and result travel on the
//! platform ABI (x86-64 System V, AArch64 AAPCS64), and the machine code that moves
//! them, generated with Cranelift once per C signature.
//!
//! The runtime and this module meet at two memory blocks:
//! - the *argument block*: argument `i` is stored in C layout (its type's size and
//!   representation; a struct's bytes) at `plan.arg_offsets[i]`; the block is 16-byte
//!   aligned and `plan.args_size` bytes long;
//! - the *result block*: the result in C layout at offset 0, `plan.ret_size` bytes,
//!   16-byte aligned.
//!
//! A [`CallStub`] loads the argument block into registers and stack slots as the ABI
//! says, calls the target, and stores the result into the result block. A
//! [`CallbackCode`] is the reverse: a native function of the C signature that stores
//! its incoming arguments into an argument block, calls a dispatch function of the
//! runtime, and returns what the dispatcher left in the result block.
//!
//! # The ABIs
//!
//! x86-64 System V: integers, pointers and bool take the next of rdi, rsi, rdx, rcx,
//! r8, r9; float and double the next of xmm0..xmm7; then 8-byte stack slots in argument
//! order. A struct, union or complex of at most 16 bytes is split into eightbytes, each
//! INTEGER if any integer (or bitfield) overlaps it, else SSE (a padding-only eightbyte
//! takes no register); it travels in registers only if all its eightbytes fit in the
//! registers left, else wholly on the stack (later scalars may still take registers).
//! Larger aggregates, and ones with a misaligned member (packed), are MEMORY: copied to
//! the stack (16-byte slots for 16-byte aligned types). Results: INTEGER eightbytes in
//! rax then rdx, SSE ones in xmm0 then xmm1; a MEMORY result is written where a hidden
//! first argument (rdi) points. A vararg callee reads an upper bound of the vector
//! registers used in %al. Narrow integers are widened to 32 bits by their signedness.
//!
//! AArch64 AAPCS64 (Linux): integers and pointers take x0..x7, float and double v0..v7,
//! then 8-byte stack slots. A homogeneous floating-point aggregate (1 to 4 members, all
//! float or all double, complex numbers included) takes one v register per member if
//! enough are left, else it goes wholly to the stack and no later argument takes a v
//! register. Other composites over 16 bytes are passed by reference to a copy (the
//! argument block's, which the callee may change); smaller
//! ones take 1 or 2 x registers (from an even one if 16-byte aligned), or, when they do
//! not fit, go to the stack and no later argument takes an x register. Results travel
//! where a first argument would (x0/x1, v0..v3); larger ones are written where x8
//! points. Varargs travel like other arguments.
//!
//! Not passed: `long double`, vectors, incomplete and variable-length types by value;
//! callbacks take no varargs and no aggregates by value (as in LuaJIT).

mod abi;
mod stub;

use std::ffi::c_void;
use std::fmt;

use cranelift_codegen::isa::{self, OwnedTargetIsa};
use cranelift_codegen::Context;
use cranelift_frontend::FunctionBuilderContext;
use target_lexicon::{Architecture, CallingConvention, Triple};

pub use abi::{ArgPassing, Loc, Passing, Piece, PieceType, RetPassing};

use crate::code::{cranelift_flags, ExecMemory};
use crate::{CTypeId, CTypeTable, Flags, Kind, Target};

/// LuaJIT's message for a callback signature it cannot make.
const BAD_CALLBACK: &str = "bad callback";

/// Why a call or callback cannot be made.
#[derive(Clone, Debug, PartialEq)]
pub enum CallError {
    /// A signature this module cannot pass (long double, vectors, an aggregate by value
    /// in a callback); the message is the Lua error text.
    Unsupported(String),
    /// Cranelift or the code memory failed.
    Codegen(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Unsupported(m) | CallError::Codegen(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CallError {}

/// How one C signature (a function type plus the types of any vararg arguments) is
/// passed on the table's target.
#[derive(Clone, Debug)]
pub struct CallPlan {
    /// The C type of each argument: the declared parameters, then the varargs (promoted
    /// as C promotes them: `float` to `double`, integers narrower than `int` to `int`).
    /// An array or function type among them travels as a pointer to it: its slot in
    /// the argument block holds the address.
    pub arg_types: Vec<CTypeId>,
    /// Where each argument's value is in the argument block.
    pub arg_offsets: Vec<u32>,
    /// Size of the argument block (a multiple of 16).
    pub args_size: u32,
    /// The C return type (`CTypeId::VOID` when there is none).
    pub ret_type: CTypeId,
    /// Size of the result block (a multiple of 16, at least 16).
    pub ret_size: u32,
    /// Whether the function takes `...`.
    pub vararg: bool,
    /// Where each argument and the result travel on the target.
    pub passing: Passing,
}

/// Classifies a call of function type `func` (a function type, or a pointer to one)
/// with `varargs` passed for its `...` on `cts`'s target.
pub fn plan_call(
    cts: &CTypeTable,
    func: CTypeId,
    varargs: &[CTypeId],
) -> Result<CallPlan, CallError> {
    let mut func = cts.raw(func);
    if cts.get(func).is_ptr() {
        func = cts.raw(cts.get(func).child);
    }
    let Some((_, ret_type, params)) = cts.func_info(func) else {
        return Err(CallError::Unsupported(abi::NYI_CALL.into()));
    };
    // Calling conventions only matter on 32-bit x86.
    let vararg = cts.get(func).flags.contains(Flags::VARARG);
    if !vararg && !varargs.is_empty() {
        return Err(CallError::Unsupported(
            "wrong number of arguments for function call".into(),
        ));
    }
    let arg_types: Vec<CTypeId> = params
        .iter()
        .map(|&param| cts.get(param).child)
        .chain(varargs.iter().map(|&ty| promote_vararg(cts, ty)))
        .collect();
    let shapes = arg_types
        .iter()
        .map(|&ty| abi::shape_of(cts, ty))
        .collect::<Result<Vec<_>, _>>()?;
    let ret_raw = cts.get(cts.raw(ret_type));
    let (ret_type, ret_shape) = match ret_raw.kind {
        Kind::Void => (CTypeId::VOID, None),
        // Arrays and functions are no return types (and would not decay here).
        Kind::Array if !ret_raw.is_complex() => {
            return Err(CallError::Unsupported(abi::NYI_CALL.into()))
        }
        Kind::Func(_) => return Err(CallError::Unsupported(abi::NYI_CALL.into())),
        _ => (ret_type, Some(abi::shape_of(cts, ret_type)?)),
    };

    // Each argument at an 8- or 16-byte boundary, taking whole 8-byte words, so that
    // stubs may move any piece as a whole word.
    let mut arg_offsets = Vec::with_capacity(shapes.len());
    let mut end = 0u32;
    for shape in &shapes {
        let offset = abi::align_up(end, shape.align().clamp(8, 16));
        arg_offsets.push(offset);
        end = offset
            .checked_add(abi::align_up(shape.size(), 8))
            .ok_or_else(|| CallError::Unsupported(abi::NYI_CALL.into()))?;
    }
    let ret_size = ret_shape.map_or(0, |shape| shape.size());
    let passing = abi::classify(cts, &shapes, ret_shape)?;
    Ok(CallPlan {
        arg_types,
        arg_offsets,
        args_size: abi::align_up(end, 16),
        ret_type,
        ret_size: abi::align_up(ret_size, 16).max(16),
        vararg,
        passing,
    })
}

/// C's default argument promotions for a vararg: `float` to `double`, `bool` and
/// integers narrower than `int` to `int` (`unsigned int` if unsigned).
fn promote_vararg(cts: &CTypeTable, ty: CTypeId) -> CTypeId {
    let raw = cts.get(cts.raw(ty));
    if raw.kind != Kind::Num {
        return ty;
    }
    if raw.flags.contains(Flags::FP) {
        return if raw.size == 4 { CTypeId::DOUBLE } else { ty };
    }
    if raw.flags.contains(Flags::BOOL) {
        return CTypeId::INT32;
    }
    match (raw.size < 4, raw.flags.contains(Flags::UNSIGNED)) {
        (true, true) => CTypeId::UINT32,
        (true, false) => CTypeId::INT32,
        (false, _) => ty,
    }
}

/// The runtime's entry for callbacks: `ctx` and `slot` are what the callback was
/// compiled with; `args` is the argument block of the callback's plan, `ret` its result
/// block, which the dispatcher fills.
pub type CallbackDispatch =
    unsafe extern "C" fn(ctx: *mut c_void, slot: u32, args: *const u8, ret: *mut u8);

/// Generates call stubs and callback entries (host code, or bytes for another target).
pub struct StubCompiler {
    isa: OwnedTargetIsa,
    /// x86-64 vararg stubs keep the pinned register (r15) for the %al thunk.
    vararg_isa: Option<OwnedTargetIsa>,
    target: Target,
    /// Whether the code can run here.
    host: bool,
    ctx: Context,
    fctx: FunctionBuilderContext,
}

impl StubCompiler {
    /// A compiler for the machine we run on.
    pub fn host() -> Result<StubCompiler, CallError> {
        let builder = || cranelift_native::builder().map_err(|e| CallError::Codegen(e.into()));
        StubCompiler::with_isa_builder(builder, true)
    }

    /// A compiler for another target (its code can only be inspected, not run).
    pub fn for_triple(triple: Triple) -> Result<StubCompiler, CallError> {
        let builder = || isa::lookup(triple.clone()).map_err(|e| CallError::Codegen(e.to_string()));
        StubCompiler::with_isa_builder(builder, false)
    }

    /// `builder` makes the ISA builder (twice on x86-64: the builder cannot be cloned).
    fn with_isa_builder(
        builder: impl Fn() -> Result<isa::Builder, CallError>,
        host: bool,
    ) -> Result<StubCompiler, CallError> {
        let target = abi_target(builder()?.triple())?;
        let finish = |extra: &[(&str, &str)]| {
            let flags = cranelift_flags(extra).map_err(CallError::Codegen)?;
            builder()?
                .finish(flags)
                .map_err(|e| CallError::Codegen(e.to_string()))
        };
        let vararg_isa = match target {
            Target::X86_64SysV => Some(finish(&[("enable_pinned_reg", "true")])?),
            Target::Aarch64 => None,
        };
        Ok(StubCompiler {
            isa: finish(&[])?,
            vararg_isa,
            target,
            host,
            ctx: Context::new(),
            fctx: FunctionBuilderContext::new(),
        })
    }

    /// The target whose plans this compiler takes.
    pub fn target(&self) -> Target {
        self.target
    }

    fn check(&self, plan: &CallPlan, placing: bool) -> Result<(), CallError> {
        if plan.passing.target != self.target {
            return Err(CallError::Codegen(format!(
                "a plan for {} given to a compiler for {}",
                plan.passing.target.arch_name(),
                self.target.arch_name()
            )));
        }
        if placing && !self.host {
            return Err(CallError::Codegen(
                "code for another target cannot be placed to run".into(),
            ));
        }
        Ok(())
    }

    /// The call stub of `plan`, placed in executable memory (host compilers only).
    pub fn compile_call(&mut self, plan: &CallPlan) -> Result<CallStub, CallError> {
        self.check(plan, true)?;
        let code = self.call_code(plan)?;
        Ok(CallStub {
            code: stub::place(&code)?,
        })
    }

    /// The machine code of `plan`'s call stub, for any target.
    pub fn call_code(&mut self, plan: &CallPlan) -> Result<Vec<u8>, CallError> {
        self.check(plan, false)?;
        let isa = match (&self.vararg_isa, plan.vararg) {
            (Some(vararg_isa), true) => vararg_isa,
            _ => &self.isa,
        };
        self.ctx.clear();
        stub::build_call_stub(&mut self.ctx.func, &mut self.fctx, &**isa, plan)?;
        stub::compile(&mut self.ctx, &**isa)
    }

    /// A native function of `plan`'s signature that calls `dispatch(ctx, slot, ..)`,
    /// placed in executable memory (host compilers only).
    pub fn compile_callback(
        &mut self,
        plan: &CallPlan,
        dispatch: CallbackDispatch,
        ctx: *mut c_void,
        slot: u32,
    ) -> Result<CallbackCode, CallError> {
        self.check(plan, true)?;
        let code = self.callback_bytes(plan, dispatch as usize, ctx, slot)?;
        Ok(CallbackCode {
            code: stub::place(&code)?,
        })
    }

    /// The machine code of a callback entry for `plan`, for any target.
    pub fn callback_code(&mut self, plan: &CallPlan) -> Result<Vec<u8>, CallError> {
        // No dispatcher to name: the constants stay zero.
        self.callback_bytes(plan, 0, std::ptr::null_mut(), 0)
    }

    fn callback_bytes(
        &mut self,
        plan: &CallPlan,
        dispatch: usize,
        ctx: *mut c_void,
        slot: u32,
    ) -> Result<Vec<u8>, CallError> {
        self.check(plan, false)?;
        if plan.vararg || plan.passing.by_value_aggregates {
            return Err(CallError::Unsupported(BAD_CALLBACK.into()));
        }
        self.ctx.clear();
        let func = &mut self.ctx.func;
        stub::build_callback(func, &mut self.fctx, &*self.isa, plan, dispatch, ctx, slot)?;
        stub::compile(&mut self.ctx, &*self.isa)
    }
}

/// The ABI of a triple, if this module implements it (System V on x86-64 and AArch64).
fn abi_target(triple: &Triple) -> Result<Target, CallError> {
    let target = match triple.architecture {
        Architecture::X86_64 => Target::X86_64SysV,
        Architecture::Aarch64(_) => Target::Aarch64,
        _ => None.ok_or_else(|| CallError::Codegen(format!("no C calls on {triple}")))?,
    };
    match triple.default_calling_convention() {
        Ok(CallingConvention::SystemV) => Ok(target),
        _ => Err(CallError::Codegen(format!(
            "no C calls with the calling convention of {triple}"
        ))),
    }
}

/// The entry of a call stub (see [`StubCompiler::compile_call`]).
type StubEntry = unsafe extern "C" fn(target: *const c_void, args: *const u8, ret: *mut u8);

/// A compiled call stub.
pub struct CallStub {
    code: ExecMemory,
}

impl CallStub {
    /// Calls `target` with the arguments in `args` and stores its result in `ret`.
    ///
    /// # Safety
    /// `target` must be a function of the plan's C signature; `args` must hold
    /// `plan.args_size` bytes laid out as the plan says and `ret` have room for
    /// `plan.ret_size` bytes, both 16-byte aligned. The callee runs arbitrary C code.
    pub unsafe fn call(&self, target: *const c_void, args: *const u8, ret: *mut u8) {
        // SAFETY: `code` holds a function compiled by `compile_call` for the host with
        // the signature and C convention of `StubEntry`, and lives as long as `self`.
        let entry = unsafe { std::mem::transmute::<*const u8, StubEntry>(self.code.as_ptr()) };
        // SAFETY: the caller's contract above is the stub's.
        unsafe { entry(target, args, ret) }
    }

    /// The stub's address, `unsafe extern "C" fn(target, args, ret)` (for code that calls
    /// it directly; valid while `self` lives).
    pub fn address(&self) -> usize {
        self.code.as_ptr() as usize
    }
}

/// A compiled callback entry: a C function pointer for as long as it lives.
pub struct CallbackCode {
    code: ExecMemory,
}

impl CallbackCode {
    /// The address C code calls.
    pub fn address(&self) -> usize {
        self.code.as_ptr() as usize
    }
}
