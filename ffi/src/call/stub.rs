//! The Cranelift functions of call stubs and callback entries, built from a plan's
//! [`Passing`].
//!
//! Cranelift decides argument places itself: each parameter takes the next register of
//! its class while one is left, else the next 8-byte stack slot (both on x86-64 SysV and
//! on AArch64 for these types). The classification in `abi` has already decided every
//! place, so the native signature is arranged for Cranelift to arrive at the same ones:
//! the integer-register pieces in register order, the vector-register pieces in register
//! order, then the stack pieces in slot order, all typed `i64` (an integer class). A
//! register that nothing uses but that a later piece must skip (AArch64 even-register
//! rule, a composite that went to the stack) gets a filler parameter; when any piece
//! travels on the stack every integer register is taken first, by a piece or a filler,
//! so that no stack piece can land in a register. Gaps between stack pieces (16-byte
//! alignment) are filler slots too.

use std::ffi::c_void;
use std::sync::OnceLock;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::types::{F32, F64, I16, I32, I64, I8};
use cranelift_codegen::ir::{
    AbiParam, ArgumentPurpose, Function, InstBuilder, MemFlagsData, Signature, StackSlotData,
    StackSlotKind, UserFuncName, Value,
};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

use super::abi::{ArgPassing, Loc, Passing, Piece, PieceType, RetPassing};
use super::{CallError, CallPlan};
use crate::code::ExecMemory;
use crate::Target;

/// Both ABIs are what Cranelift calls System V (AAPCS64 on Linux included).
const CALL_CONV: CallConv = CallConv::SystemV;

/// What one parameter of the native signature carries.
#[derive(Clone, Copy, Debug)]
enum Feed {
    /// A piece of argument `arg`.
    Piece { arg: usize, piece: Piece },
    /// The address of argument `arg` in the argument block (passed by reference).
    ArgAddress { arg: usize },
    /// The address of the result block (indirect results).
    ResultAddress,
    /// A place nothing uses, taken so that later parameters land in theirs.
    Filler { vector: bool },
}

/// A plan's C signature as Cranelift sees it.
struct NativeSignature {
    sig: Signature,
    /// What each parameter of `sig` carries.
    feeds: Vec<Feed>,
    /// The piece each result of `sig` is.
    results: Vec<Piece>,
}

fn int_param(size: u8, signed: bool) -> AbiParam {
    let (ty, narrow) = match size {
        1 => (I8, true),
        2 => (I16, true),
        4 => (I32, false),
        _ => (I64, false),
    };
    match (narrow, signed) {
        // C compilers widen narrow integers to 32 bits in registers and rely on it.
        (true, true) => AbiParam::new(ty).sext(),
        (true, false) => AbiParam::new(ty).uext(),
        (false, _) => AbiParam::new(ty),
    }
}

/// The parameter or result that carries a piece in a register.
fn register_param(ty: PieceType) -> AbiParam {
    match ty {
        PieceType::Int { size, signed } => int_param(size, signed),
        PieceType::Float { size: 4 } => AbiParam::new(F32),
        PieceType::Float { .. } => AbiParam::new(F64),
    }
}

/// The native signature of a classified call, arranged as the module notes say.
fn native_signature(passing: &Passing) -> NativeSignature {
    let gpr_count = match passing.target {
        Target::X86_64SysV => 6,
        Target::Aarch64 => 8,
    };
    let mut gprs: Vec<Option<Feed>> = vec![None; gpr_count];
    let mut fprs: Vec<Option<Feed>> = vec![None; 8];
    let mut stack: Vec<(u32, Feed)> = Vec::new();
    let mut feeds = Vec::new();
    let mut place = |loc: Loc, feed: Feed| match loc {
        Loc::Gpr(n) => gprs[usize::from(n)] = Some(feed),
        Loc::Fpr(n) => fprs[usize::from(n)] = Some(feed),
        Loc::Stack(offset) => stack.push((offset, feed)),
    };
    if passing.ret == RetPassing::Indirect {
        match passing.target {
            Target::X86_64SysV => place(Loc::Gpr(0), Feed::ResultAddress),
            // x8 is no argument register: Cranelift puts a StructReturn parameter there.
            Target::Aarch64 => feeds.push(Feed::ResultAddress),
        }
    }
    for (arg, how) in passing.args.iter().enumerate() {
        match how {
            ArgPassing::Value(pieces) => {
                for &piece in pieces {
                    place(piece.loc, Feed::Piece { arg, piece });
                }
            }
            ArgPassing::Reference(loc) => place(*loc, Feed::ArgAddress { arg }),
        }
    }
    stack.sort_by_key(|&(offset, _)| offset);
    let used = |regs: &[Option<Feed>]| regs.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    let gprs_taken = if stack.is_empty() {
        used(&gprs)
    } else {
        gpr_count
    };
    let filler = |vector| move |feed: &Option<Feed>| feed.unwrap_or(Feed::Filler { vector });
    feeds.extend(gprs[..gprs_taken].iter().map(filler(false)));
    feeds.extend(fprs[..used(&fprs)].iter().map(filler(true)));
    let first_stack_feed = feeds.len();
    let mut next_slot = 0;
    for (offset, feed) in stack {
        while next_slot < offset {
            feeds.push(Feed::Filler { vector: false });
            next_slot += 8;
        }
        feeds.push(feed);
        next_slot = offset + 8;
    }

    let mut sig = Signature::new(CALL_CONV);
    for (i, feed) in feeds.iter().enumerate() {
        sig.params.push(match *feed {
            _ if i >= first_stack_feed => AbiParam::new(I64),
            Feed::Piece { piece, .. } => register_param(piece.ty),
            Feed::ArgAddress { .. } | Feed::Filler { vector: false } => AbiParam::new(I64),
            Feed::Filler { vector: true } => AbiParam::new(F64),
            Feed::ResultAddress => AbiParam::special(I64, ArgumentPurpose::StructReturn),
        });
    }
    let mut results = match &passing.ret {
        RetPassing::Value(pieces) => pieces.clone(),
        RetPassing::Void | RetPassing::Indirect => Vec::new(),
    };
    // Within each class, results take registers in order.
    results.sort_by_key(|piece| piece.loc);
    sig.returns = results.iter().map(|p| register_param(p.ty)).collect();
    NativeSignature {
        sig,
        feeds,
        results,
    }
}

/// The argument and result blocks are ours and valid; pieces may sit at any offset a
/// packed struct gives them, so no alignment is claimed.
fn block_access() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// A stack piece as an `i64`, widened from the argument block as the C type says (the
/// callee reads only the low bytes, but C compilers widen narrow integers).
fn load_stack_piece(b: &mut FunctionBuilder, ty: PieceType, addr: Value, offset: i32) -> Value {
    let f = block_access();
    let ins = b.ins();
    match ty {
        PieceType::Int { size: 1, signed } => {
            if signed {
                ins.sload8(I64, f, addr, offset)
            } else {
                ins.uload8(I64, f, addr, offset)
            }
        }
        PieceType::Int { size: 2, signed } => {
            if signed {
                ins.sload16(I64, f, addr, offset)
            } else {
                ins.uload16(I64, f, addr, offset)
            }
        }
        PieceType::Int {
            size: 4,
            signed: true,
        } => ins.sload32(f, addr, offset),
        PieceType::Int { size: 4, .. } | PieceType::Float { size: 4 } => {
            ins.uload32(f, addr, offset)
        }
        _ => ins.load(I64, f, addr, offset),
    }
}

/// Stores the low bytes of a stack piece received as an `i64`.
fn store_stack_piece(
    b: &mut FunctionBuilder,
    ty: PieceType,
    value: Value,
    addr: Value,
    offset: i32,
) {
    let f = block_access();
    let ins = b.ins();
    match ty.size() {
        1 => ins.istore8(f, value, addr, offset),
        2 => ins.istore16(f, value, addr, offset),
        4 => ins.istore32(f, value, addr, offset),
        _ => ins.store(f, value, addr, offset),
    };
}

fn offset_in_block(plan: &CallPlan, arg: usize, piece: &Piece) -> i32 {
    (plan.arg_offsets[arg] + piece.offset) as i32
}

/// Addresses of the x86-64 thunks that set %al to 0..=8 and jump to r15.
///
/// A vararg callee on x86-64 SysV reads in %al an upper bound of the vector registers
/// that carry arguments. Cranelift can neither set %al before a call nor pass an
/// argument in it, so a vararg stub calls a thunk instead of the target: `mov eax, N;
/// jmp r15`. The target travels in r15, Cranelift's pinned register: vararg stubs are
/// compiled with `enable_pinned_reg`, which keeps r15 out of register allocation, so
/// `set_pinned_reg(target)` before the call is still there when the thunk runs (no
/// argument set-up between them can touch it). The thunk changes nothing but rax, which
/// is no argument register and is clobbered by the call anyway; the callee returns
/// straight to the stub. Because the pinned register is not callee-saved under that
/// setting, the stub saves the caller's r15 before and restores it after the call.
fn vararg_thunk(vector_regs: u8) -> Result<usize, CallError> {
    const THUNK_SIZE: usize = 8;
    static THUNKS: OnceLock<ExecMemory> = OnceLock::new();
    let mem = match THUNKS.get() {
        Some(mem) => mem,
        None => {
            let mut code = Vec::with_capacity(9 * THUNK_SIZE);
            for n in 0..=8u8 {
                // mov eax, imm32
                code.extend_from_slice(&[0xB8, n, 0, 0, 0]);
                // jmp r15
                code.extend_from_slice(&[0x41, 0xFF, 0xE7]);
            }
            let mem = ExecMemory::new(&code, |_, _| Ok::<(), std::io::Error>(()))
                .map_err(|e| CallError::Codegen(format!("code memory: {e}")))?;
            // Another thread may have won the race; its copy is as good.
            let _ = THUNKS.set(mem);
            THUNKS.get().expect("set just now")
        }
    };
    Ok(mem.as_ptr() as usize + usize::from(vector_regs.min(8)) * THUNK_SIZE)
}

/// Builds the call stub of `plan` into `func`:
/// `extern "C" fn(target: *const c_void, args: *const u8, ret: *mut u8)`.
pub(super) fn build_call_stub(
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    isa: &dyn TargetIsa,
    plan: &CallPlan,
) -> Result<(), CallError> {
    let native = native_signature(&plan.passing);
    // The %al thunk when a vararg callee needs it (see `vararg_thunk`).
    let thunk = match (plan.vararg, plan.passing.target) {
        (true, Target::X86_64SysV) => Some(vararg_thunk(plan.passing.fprs_used)?),
        _ => None,
    };
    let mut stub_sig = Signature::new(CALL_CONV);
    stub_sig.params = vec![AbiParam::new(I64); 3];
    *func = Function::with_name_signature(UserFuncName::default(), stub_sig);
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let [target, args, ret] = *b.block_params(entry) else {
        unreachable!("three parameters were declared")
    };
    let mut values = Vec::with_capacity(native.feeds.len());
    for (feed, param) in native.feeds.iter().zip(&native.sig.params) {
        values.push(match *feed {
            Feed::Piece { arg, piece } => {
                let offset = offset_in_block(plan, arg, &piece);
                if matches!(piece.loc, Loc::Stack(_)) {
                    load_stack_piece(&mut b, piece.ty, args, offset)
                } else {
                    b.ins().load(param.value_type, block_access(), args, offset)
                }
            }
            Feed::ArgAddress { arg } => b.ins().iadd_imm_u(args, i64::from(plan.arg_offsets[arg])),
            Feed::ResultAddress => ret,
            Feed::Filler { vector: false } => b.ins().iconst(I64, 0),
            Feed::Filler { vector: true } => b.ins().f64const(0.0),
        });
    }
    let sig_ref = b.import_signature(native.sig.clone());
    let call = match thunk {
        Some(thunk) => {
            let saved = b.ins().get_pinned_reg(I64);
            b.ins().set_pinned_reg(target);
            let thunk = b.ins().iconst(I64, thunk as i64);
            let call = b.ins().call_indirect(sig_ref, thunk, &values);
            b.ins().set_pinned_reg(saved);
            call
        }
        None => b.ins().call_indirect(sig_ref, target, &values),
    };
    let results = b.inst_results(call).to_vec();
    for (value, piece) in results.into_iter().zip(&native.results) {
        b.ins()
            .store(block_access(), value, ret, piece.offset as i32);
    }
    b.ins().return_(&[]);
    b.seal_all_blocks();
    b.finalize(isa.frontend_config());
    Ok(())
}

/// Builds a callback entry of `plan` into `func`: a function of the plan's C signature
/// that calls `dispatch(ctx, slot, args, ret)` with blocks on its own stack.
pub(super) fn build_callback(
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    isa: &dyn TargetIsa,
    plan: &CallPlan,
    dispatch: usize,
    ctx: *mut c_void,
    slot: u32,
) -> Result<(), CallError> {
    let native = native_signature(&plan.passing);
    *func = Function::with_name_signature(UserFuncName::default(), native.sig.clone());
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let block = |b: &mut FunctionBuilder, size: u32| {
        // 16-byte aligned, as the blocks' contract says.
        let data = StackSlotData::new(StackSlotKind::ExplicitSlot, size.max(16), 4);
        let slot = b.create_sized_stack_slot(data);
        b.ins().stack_addr(I64, slot, 0)
    };
    let args = block(&mut b, plan.args_size);
    let ret = block(&mut b, plan.ret_size);
    for (feed, value) in native.feeds.iter().zip(params) {
        match *feed {
            Feed::Piece { arg, piece } => {
                let offset = offset_in_block(plan, arg, &piece);
                if matches!(piece.loc, Loc::Stack(_)) {
                    store_stack_piece(&mut b, piece.ty, value, args, offset);
                } else {
                    b.ins().store(block_access(), value, args, offset);
                }
            }
            Feed::Filler { .. } => {}
            // By-value aggregates were refused before.
            Feed::ArgAddress { .. } | Feed::ResultAddress => {
                return Err(CallError::Unsupported(super::BAD_CALLBACK.into()))
            }
        }
    }
    let mut dispatch_sig = Signature::new(CALL_CONV);
    dispatch_sig.params = vec![
        AbiParam::new(I64),
        AbiParam::new(I32),
        AbiParam::new(I64),
        AbiParam::new(I64),
    ];
    let dispatch_ref = b.import_signature(dispatch_sig);
    let dispatch = b.ins().iconst(I64, dispatch as i64);
    let ctx = b.ins().iconst(I64, ctx as i64);
    let slot = b.ins().iconst(I32, i64::from(slot));
    b.ins()
        .call_indirect(dispatch_ref, dispatch, &[ctx, slot, args, ret]);
    let results: Vec<Value> = native
        .results
        .iter()
        .zip(&native.sig.returns)
        .map(|(piece, param)| {
            b.ins()
                .load(param.value_type, block_access(), ret, piece.offset as i32)
        })
        .collect();
    b.ins().return_(&results);
    b.seal_all_blocks();
    b.finalize(isa.frontend_config());
    Ok(())
}

/// Compiles the function in `ctx` and returns its machine code.
pub(super) fn compile(ctx: &mut Context, isa: &dyn TargetIsa) -> Result<Vec<u8>, CallError> {
    let code = ctx
        .compile(isa, &mut ControlPlane::default())
        .map_err(|e| CallError::Codegen(format!("{:?}", e.inner)))?;
    // Addresses are immediates, so the code needs no relocation.
    if !code.buffer.relocs().is_empty() {
        return Err(CallError::Codegen(
            "unexpected relocations in a call stub".into(),
        ));
    }
    Ok(code.code_buffer().to_vec())
}

/// Machine code placed in executable memory.
pub(super) fn place(code: &[u8]) -> Result<ExecMemory, CallError> {
    ExecMemory::new(code, |_, _| Ok::<(), std::io::Error>(()))
        .map_err(|e| CallError::Codegen(format!("code memory: {e}")))
}
