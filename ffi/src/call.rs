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

use std::ffi::c_void;
use std::fmt;

use crate::{CTypeId, CTypeTable};

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
}

/// Classifies a call of function type `func` (a function type, or a pointer to one)
/// with `varargs` passed for its `...` on `cts`'s target.
pub fn plan_call(
    _cts: &CTypeTable,
    _func: CTypeId,
    _varargs: &[CTypeId],
) -> Result<CallPlan, CallError> {
    todo!("call plans")
}

/// The runtime's entry for callbacks: `ctx` and `slot` are what the callback was
/// compiled with; `args` is the argument block of the callback's plan, `ret` its result
/// block, which the dispatcher fills.
pub type CallbackDispatch =
    unsafe extern "C" fn(ctx: *mut c_void, slot: u32, args: *const u8, ret: *mut u8);

/// Generates call stubs and callback entries (host code, or bytes for another target).
pub struct StubCompiler {}

impl StubCompiler {
    /// A compiler for the machine we run on.
    pub fn host() -> Result<StubCompiler, CallError> {
        todo!("stub compiler")
    }

    /// A compiler for another target (its code can only be inspected, not run).
    pub fn for_triple(_triple: target_lexicon::Triple) -> Result<StubCompiler, CallError> {
        todo!("stub compiler")
    }

    /// The call stub of `plan`, placed in executable memory (host compilers only).
    pub fn compile_call(&mut self, _plan: &CallPlan) -> Result<CallStub, CallError> {
        todo!("call stubs")
    }

    /// The machine code of `plan`'s call stub, for any target.
    pub fn call_code(&mut self, _plan: &CallPlan) -> Result<Vec<u8>, CallError> {
        todo!("call stubs")
    }

    /// A native function of `plan`'s signature that calls `dispatch(ctx, slot, ..)`,
    /// placed in executable memory (host compilers only).
    pub fn compile_callback(
        &mut self,
        _plan: &CallPlan,
        _dispatch: CallbackDispatch,
        _ctx: *mut c_void,
        _slot: u32,
    ) -> Result<CallbackCode, CallError> {
        todo!("callbacks")
    }

    /// The machine code of a callback entry for `plan`, for any target.
    pub fn callback_code(&mut self, _plan: &CallPlan) -> Result<Vec<u8>, CallError> {
        todo!("callbacks")
    }
}

/// A compiled call stub.
pub struct CallStub {}

impl CallStub {
    /// Calls `target` with the arguments in `args` and stores its result in `ret`.
    ///
    /// # Safety
    /// `target` must be a function of the plan's C signature; `args` must hold
    /// `plan.args_size` bytes laid out as the plan says and `ret` have room for
    /// `plan.ret_size` bytes, both 16-byte aligned. The callee runs arbitrary C code.
    pub unsafe fn call(&self, _target: *const c_void, _args: *const u8, _ret: *mut u8) {
        todo!("call stubs")
    }
}

/// A compiled callback entry: a C function pointer for as long as it lives.
pub struct CallbackCode {}

impl CallbackCode {
    /// The address C code calls.
    pub fn address(&self) -> usize {
        todo!("callbacks")
    }
}
