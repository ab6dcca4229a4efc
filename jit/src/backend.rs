//! The native-code backend: translates a [`Trace`] to Cranelift IR, compiles it and puts
//! the machine code in executable memory of our own.
//!
//! The compiled trace is an `extern "C" fn(base: *mut u64, interrupt: *const u8) -> u32`
//! in the host's default C calling convention. It reads stack slots from `base`, keeps
//! every value in registers, and on leaving through snapshot `k` writes the snapshot's
//! slots back (as numbers) and returns `k`.
//!
//! Layout of the function: the entry block runs `ins[..loop_start]` and jumps to the loop
//! header with the phis' `init` values as block arguments; the header checks the
//! interrupt byte and falls into the body, which ends with a jump back to the header
//! carrying the `next` values. Each guard gets its own cold exit block at the end.

use std::cell::RefCell;
use std::fmt;
use std::time::{Duration, Instant};

use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::entity::packed_option::ReservedValue;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::Ieee64;
use cranelift_codegen::ir::types::{F64, I32, I64};
use cranelift_codegen::ir::{
    AbiParam, Block, BlockArg, ExternalName, Function, InstBuilder, LibCall, MemFlagsData,
    Signature, Type, UserFuncName, Value,
};
use cranelift_codegen::isa::{OwnedTargetIsa, TargetFrontendConfig, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{Context, FinalizedRelocTarget};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use target_lexicon::Triple;

use crate::code::ExecMemory;
use crate::ir::{Cmp, Ins, Ref, SnapId, Trace, Ty};

/// Why a trace could not be compiled. The IR checks run before any Cranelift IR is
/// built, so a malformed trace is an error here, never a panic inside Cranelift.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompileError {
    /// The trace has no `Loop` (or more than one).
    NoLoop,
    /// Instruction `at` is malformed: a bad operand, type or placement.
    BadIns { at: Ref, why: &'static str },
    /// A snapshot id out of range, or a snapshot naming a value that is not available
    /// where it is used.
    BadSnap { snap: SnapId, why: &'static str },
    /// The ISA could not be set up (unsupported target, bad flag).
    Isa(String),
    /// Cranelift failed to compile the function.
    Codegen(String),
    /// Executable memory could not be mapped, or a relocation could not be applied.
    Memory(String),
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::NoLoop => write!(f, "trace has no single LOOP"),
            CompileError::BadIns { at, why } => write!(f, "IR {at:04}: {why}"),
            CompileError::BadSnap { snap, why } => write!(f, "snapshot #{snap}: {why}"),
            CompileError::Isa(e) => write!(f, "target ISA: {e}"),
            CompileError::Codegen(e) => write!(f, "code generation: {e}"),
            CompileError::Memory(e) => write!(f, "executable memory: {e}"),
        }
    }
}

impl std::error::Error for CompileError {}

impl From<std::io::Error> for CompileError {
    fn from(e: std::io::Error) -> Self {
        CompileError::Memory(e.to_string())
    }
}

/// The signature of a compiled trace.
pub type TraceFn = unsafe extern "C" fn(base: *mut u64, interrupt: *const u8) -> u32;

/// A trace compiled to native code for the host. The code lives as long as this value.
pub struct CompiledTrace {
    entry: TraceFn,
    compile_time: Duration,
    // Declared last so the mapping outlives everything that points into it.
    mem: ExecMemory,
}

impl CompiledTrace {
    /// Runs the trace and returns the id of the snapshot it left through, after writing
    /// that snapshot's slots to `base`.
    ///
    /// # Safety
    /// `base` must be 8-byte aligned and valid for reads and writes of every slot the
    /// trace loads or any of its snapshots stores; `interrupt` must be valid for reads
    /// of one byte for as long as the trace runs (another thread may set it).
    pub unsafe fn run(&self, base: *mut u64, interrupt: *const u8) -> u32 {
        // SAFETY: `entry` points into `self.mem`, which is executable and alive; the
        // caller guarantees the pointers the code dereferences.
        unsafe { (self.entry)(base, interrupt) }
    }

    /// The entry point, for callers that link traces together; valid while `self` lives.
    pub fn entry(&self) -> TraceFn {
        self.entry
    }

    /// Bytes of machine code (including Cranelift's constant pool).
    pub fn code_size(&self) -> usize {
        self.mem.len()
    }

    /// Wall time from IR to executable code (translation, Cranelift, mapping).
    pub fn compile_time(&self) -> Duration {
        self.compile_time
    }
}

impl fmt::Debug for CompiledTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledTrace")
            .field("code", &self.mem.as_ptr())
            .field("code_size", &self.mem.len())
            .field("compile_time", &self.compile_time)
            .finish()
    }
}

/// A Cranelift ISA with reusable compilation contexts: building the ISA and allocating
/// the contexts costs more than compiling a small trace, so callers compiling many traces
/// keep one of these (the free function [`compile`] keeps one per thread).
pub struct Compiler {
    isa: OwnedTargetIsa,
    ctx: Context,
    fctx: FunctionBuilderContext,
}

impl Compiler {
    /// A compiler for the host, with the CPU features it detects.
    pub fn host() -> Result<Self, CompileError> {
        Self::host_with_flags(&[])
    }

    /// A host compiler with extra Cranelift settings (`("regalloc_algorithm",
    /// "single_pass")`, ...) applied over ours, for experiments and benchmarks.
    pub fn host_with_flags(extra: &[(&str, &str)]) -> Result<Self, CompileError> {
        let builder = cranelift_native::builder().map_err(|e| CompileError::Isa(e.into()))?;
        Self::with_isa_builder(builder, extra)
    }

    /// A compiler for another target, for machine code bytes only.
    pub fn for_triple(triple: Triple) -> Result<Self, CompileError> {
        let builder =
            cranelift_codegen::isa::lookup(triple).map_err(|e| CompileError::Isa(e.to_string()))?;
        Self::with_isa_builder(builder, &[])
    }

    fn with_isa_builder(
        builder: cranelift_codegen::isa::Builder,
        extra: &[(&str, &str)],
    ) -> Result<Self, CompileError> {
        let mut flags = settings::builder();
        let set = |flags: &mut settings::Builder, k: &str, v: &str| {
            flags
                .set(k, v)
                .map_err(|e| CompileError::Isa(format!("{k}={v}: {e}")))
        };
        set(&mut flags, "opt_level", "speed")?;
        // The verifier roughly doubles compile time; our own IR checks run always.
        let verify = if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        };
        set(&mut flags, "enable_verifier", verify)?;
        // Absolute addresses (libcalls) are patched in when the code is placed.
        set(&mut flags, "is_pic", "false")?;
        for (k, v) in extra {
            set(&mut flags, k, v)?;
        }
        let isa = builder
            .finish(settings::Flags::new(flags))
            .map_err(|e| CompileError::Isa(e.to_string()))?;
        Ok(Compiler {
            isa,
            ctx: Context::new(),
            fctx: FunctionBuilderContext::new(),
        })
    }

    pub fn isa(&self) -> &dyn TargetIsa {
        &*self.isa
    }

    /// Compiles `trace` to machine code and places it in executable memory. Only for a
    /// compiler made by [`Compiler::host`].
    pub fn compile(&mut self, trace: &Trace) -> Result<CompiledTrace, CompileError> {
        let start = Instant::now();
        self.codegen(trace)?;
        let code = self
            .ctx
            .compiled_code()
            .ok_or_else(|| CompileError::Codegen("no code".into()))?;
        let bytes = code.code_buffer();
        let relocs = code.buffer.relocs();
        let mem = ExecMemory::new(bytes, |buf, _addr| {
            for r in relocs {
                let target = match &r.target {
                    FinalizedRelocTarget::ExternalName(ExternalName::LibCall(lc)) => {
                        libcall_address(*lc)
                    }
                    _ => None,
                };
                let (Some(target), Reloc::Abs8) = (target, r.kind) else {
                    return Err(CompileError::Memory(format!(
                        "unsupported relocation {:?} to {:?}",
                        r.kind, r.target
                    )));
                };
                let at = r.offset as usize;
                let value = (target as i64).wrapping_add(r.addend) as u64;
                buf.get_mut(at..at + 8)
                    .ok_or_else(|| CompileError::Memory("relocation out of range".into()))?
                    .copy_from_slice(&value.to_ne_bytes());
            }
            Ok(())
        })?;
        // SAFETY: the mapping holds a complete function compiled for the host with the
        // host's default C calling convention and the signature `TraceFn`; it starts at
        // offset 0 and is executable from here on.
        let entry = unsafe { std::mem::transmute::<*const u8, TraceFn>(mem.as_ptr()) };
        Ok(CompiledTrace {
            entry,
            compile_time: start.elapsed(),
            mem,
        })
    }

    /// Compiles `trace` and returns the machine code bytes, unrelocated (calls to `pow`
    /// hold the host's address of the shim).
    pub fn compile_bytes(&mut self, trace: &Trace) -> Result<Vec<u8>, CompileError> {
        self.codegen(trace)?;
        let code = self
            .ctx
            .compiled_code()
            .ok_or_else(|| CompileError::Codegen("no code".into()))?;
        Ok(code.code_buffer().to_vec())
    }

    /// The Cranelift IR and the lowered machine instructions (after register
    /// allocation) of `trace`, for debugging.
    pub fn dump(&mut self, trace: &Trace) -> Result<String, CompileError> {
        self.ctx.set_disasm(true);
        let result = self.codegen(trace);
        self.ctx.set_disasm(false);
        result?;
        let vcode = self
            .ctx
            .compiled_code()
            .and_then(|c| c.vcode.clone())
            .unwrap_or_default();
        Ok(format!("{}\n{vcode}", self.ctx.func.display()))
    }

    /// Checks the trace, translates it into `self.ctx.func` and runs Cranelift.
    fn codegen(&mut self, trace: &Trace) -> Result<(), CompileError> {
        let shape = check(trace)?;
        self.ctx.clear();
        let call_conv = self.isa.default_call_conv();
        let ptr = self.isa.pointer_type();
        let mut sig = Signature::new(call_conv);
        sig.params.push(AbiParam::new(ptr));
        sig.params.push(AbiParam::new(ptr));
        sig.returns.push(AbiParam::new(I32));
        self.ctx.func = Function::with_name_signature(UserFuncName::default(), sig);
        let config = self.isa.frontend_config();
        let builder = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
        Translator::new(builder, trace, &shape, ptr, config).run();
        self.ctx
            .compile(&*self.isa, &mut ControlPlane::default())
            .map_err(|e| CompileError::Codegen(format!("{:?}", e.inner)))?;
        Ok(())
    }
}

thread_local! {
    static HOST: RefCell<Option<Compiler>> = const { RefCell::new(None) };
}

/// Compiles `trace` for the host (one [`Compiler`] is kept per thread).
pub fn compile(trace: &Trace) -> Result<CompiledTrace, CompileError> {
    HOST.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Compiler::host()?);
        }
        match slot.as_mut() {
            Some(c) => c.compile(trace),
            None => Err(CompileError::Isa("no host compiler".into())),
        }
    })
}

/// Compiles `trace` for `triple` and returns the machine code bytes only.
pub fn compile_for(trace: &Trace, triple: Triple) -> Result<Vec<u8>, CompileError> {
    Compiler::for_triple(triple)?.compile_bytes(trace)
}

extern "C" fn pow_shim(a: f64, b: f64) -> f64 {
    a.powf(b)
}

extern "C" fn floor_shim(a: f64) -> f64 {
    a.floor()
}

extern "C" fn ceil_shim(a: f64) -> f64 {
    a.ceil()
}

extern "C" fn trunc_shim(a: f64) -> f64 {
    a.trunc()
}

extern "C" fn nearest_shim(a: f64) -> f64 {
    a.round_ties_even()
}

/// Cranelift calls these on x86 CPUs without SSE4.1 (no `roundsd`).
fn libcall_address(lc: LibCall) -> Option<usize> {
    let f: extern "C" fn(f64) -> f64 = match lc {
        LibCall::FloorF64 => floor_shim,
        LibCall::CeilF64 => ceil_shim,
        LibCall::TruncF64 => trunc_shim,
        LibCall::NearestF64 => nearest_shim,
        _ => return None,
    };
    Some(f as usize)
}

/// Where the loop starts and which values the exits may name.
struct Shape {
    loop_start: usize,
    /// Index just past the last phi.
    phis_end: usize,
}

/// Checks everything the translation relies on, so that building Cranelift IR cannot
/// fail: operands defined before use and of the right type, one `Loop` with the phis
/// right after it, snapshots in range and naming only values available at their exits.
fn check(trace: &Trace) -> Result<Shape, CompileError> {
    let ins = &trace.ins;
    let mut loops = ins
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Ins::Loop));
    let loop_start = match (loops.next(), loops.next()) {
        (Some((i, _)), None) => i,
        _ => return Err(CompileError::NoLoop),
    };
    let phis_end = loop_start
        + 1
        + ins[loop_start + 1..]
            .iter()
            .take_while(|i| matches!(i, Ins::Phi { .. }))
            .count();
    if u32::try_from(ins.len()).is_err() {
        return Err(CompileError::BadIns {
            at: u32::MAX,
            why: "trace too long",
        });
    }
    let ty_of = |r: Ref| ins.get(r as usize).and_then(Ins::ty);
    // A snapshot used at `at` may name any value defined before `at`.
    let snap_ok = |snap: SnapId, at: usize| -> Result<(), CompileError> {
        let s = trace
            .snaps
            .get(snap as usize)
            .ok_or(CompileError::BadSnap {
                snap,
                why: "no such snapshot",
            })?;
        for &(_, r) in &s.slots {
            if (r as usize) >= at || ty_of(r).is_none() {
                return Err(CompileError::BadSnap {
                    snap,
                    why: "names a value not available at its exit",
                });
            }
        }
        Ok(())
    };
    // The interrupt exit is at the loop header, after the phis.
    snap_ok(trace.loop_snap, phis_end)?;
    for (i, op) in ins.iter().enumerate() {
        let at = i as Ref;
        let bad = |why| Err(CompileError::BadIns { at, why });
        let want = |r: Ref, ty: Ty| -> Result<(), CompileError> {
            if (r as usize) < i && ty_of(r) == Some(ty) {
                Ok(())
            } else {
                Err(CompileError::BadIns {
                    at,
                    why: "operand undefined, later or of the wrong type",
                })
            }
        };
        match *op {
            Ins::SLoad { snap, .. } => snap_ok(snap, i)?,
            Ins::KNum(_) | Ins::KInt(_) => {}
            Ins::AddN(a, b)
            | Ins::SubN(a, b)
            | Ins::MulN(a, b)
            | Ins::DivN(a, b)
            | Ins::ModN(a, b)
            | Ins::PowN(a, b) => {
                want(a, Ty::Num)?;
                want(b, Ty::Num)?;
            }
            Ins::NegN(a) | Ins::FloorN(a) | Ins::SqrtN(a) | Ins::AbsN(a) => want(a, Ty::Num)?,
            Ins::AddI { a, b, snap } | Ins::SubI { a, b, snap } | Ins::MulI { a, b, snap } => {
                want(a, Ty::Int)?;
                want(b, Ty::Int)?;
                snap_ok(snap, i)?;
            }
            Ins::NumToInt { a, snap } => {
                want(a, Ty::Num)?;
                snap_ok(snap, i)?;
            }
            Ins::IntToNum(a) => want(a, Ty::Int)?,
            Ins::Guard { ty, a, b, snap, .. } => {
                want(a, ty)?;
                want(b, ty)?;
                snap_ok(snap, i)?;
            }
            Ins::Loop => {}
            Ins::SStore { val, .. } => {
                if (val as usize) >= i || ty_of(val).is_none() {
                    return bad("SSTORE of a value undefined or defined later");
                }
            }
            Ins::Phi { ty, init, next } => {
                if i <= loop_start || i >= phis_end {
                    return bad("PHI not right after LOOP");
                }
                if (init as usize) >= loop_start || ty_of(init) != Some(ty) {
                    return bad("PHI init not defined before LOOP, or of the wrong type");
                }
                // `next` is used on the back edge, after the whole body.
                if ty_of(next) != Some(ty) {
                    return bad("PHI next undefined or of the wrong type");
                }
            }
        }
    }
    Ok(Shape {
        loop_start,
        phis_end,
    })
}

fn cranelift_ty(ty: Ty) -> Type {
    match ty {
        Ty::Num => F64,
        Ty::Int => I32,
    }
}

/// The canonical quiet NaN a trace stores for any NaN it computed: an arbitrary NaN's
/// payload could look like a NaN-boxed tag.
const CANON_NAN: u64 = 0xFFF8_0000_0000_0000;
/// A slot holds a number iff `(bits >> 47) < 0x1FFF2`, i.e. `bits < 0x1FFF2 << 47`.
const NUMBER_LIMIT: u64 = 0x1FFF2 << 47;

struct Translator<'a, 't> {
    b: FunctionBuilder<'a>,
    trace: &'t Trace,
    shape: &'t Shape,
    ptr: Type,
    config: TargetFrontendConfig,
    base: Value,
    /// The Cranelift value of each instruction (reserved for guards and `Loop`).
    vals: Vec<Value>,
    /// Whether a Num value may be a non-canonical NaN (arithmetic results); loaded
    /// numbers, constants and converted integers are stored back as they are.
    needs_canon: Vec<bool>,
    /// Exit blocks to fill once the body is done: (block, snapshot, position of the exit).
    exits: Vec<(Block, SnapId)>,
}

impl<'a, 't> Translator<'a, 't> {
    fn new(
        b: FunctionBuilder<'a>,
        trace: &'t Trace,
        shape: &'t Shape,
        ptr: Type,
        config: TargetFrontendConfig,
    ) -> Self {
        let n = trace.ins.len();
        Translator {
            b,
            trace,
            shape,
            ptr,
            config,
            base: Value::reserved_value(),
            vals: vec![Value::reserved_value(); n],
            needs_canon: vec![false; n],
            exits: Vec::new(),
        }
    }

    fn flags() -> MemFlagsData {
        // Slots are 8-byte aligned and valid (the caller's contract of `run`).
        MemFlagsData::trusted()
    }

    /// A new cold exit block through `snap`, filled in at the end.
    fn exit(&mut self, snap: SnapId) -> Block {
        let block = self.b.create_block();
        self.b.set_cold_block(block);
        self.exits.push((block, snap));
        block
    }

    /// Continues in a new block if `cond` is non-zero, else leaves through `snap`.
    fn guard_true(&mut self, cond: Value, snap: SnapId) {
        let exit = self.exit(snap);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, cont, &[], exit, &[]);
        self.b.switch_to_block(cont);
    }

    /// Continues if `cond` is zero, else leaves through `snap` (overflow flags).
    fn guard_false(&mut self, cond: Value, snap: SnapId) {
        let exit = self.exit(snap);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, exit, &[], cont, &[]);
        self.b.switch_to_block(cont);
    }

    fn run(mut self) {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry);
        let (base, interrupt) = (params[0], params[1]);
        self.base = base;

        let Shape {
            loop_start,
            phis_end,
        } = *self.shape;
        let trace = self.trace;
        for (i, op) in trace.ins[..loop_start].iter().enumerate() {
            self.ins(i, op);
        }

        // The loop header: one block parameter per phi.
        let header = self.b.create_block();
        let mut init = Vec::with_capacity(phis_end - loop_start - 1);
        for i in loop_start + 1..phis_end {
            if let Ins::Phi { ty, init: r, .. } = trace.ins[i] {
                self.vals[i] = self.b.append_block_param(header, cranelift_ty(ty));
                self.needs_canon[i] = ty == Ty::Num;
                init.push(BlockArg::Value(self.vals[r as usize]));
            }
        }
        self.b.ins().jump(header, &init);
        self.b.switch_to_block(header);
        let flag = self.b.ins().uload8(I32, MemFlagsData::new(), interrupt, 0);
        let interrupted = self.exit(trace.loop_snap);
        let body = self.b.create_block();
        self.b.ins().brif(flag, interrupted, &[], body, &[]);
        self.b.switch_to_block(body);

        for (i, op) in trace.ins.iter().enumerate().skip(phis_end) {
            self.ins(i, op);
        }
        let next: Vec<BlockArg> = trace.ins[loop_start + 1..phis_end]
            .iter()
            .filter_map(|op| match *op {
                Ins::Phi { next, .. } => Some(BlockArg::Value(self.vals[next as usize])),
                _ => None,
            })
            .collect();
        self.b.ins().jump(header, &next);

        for (block, snap) in std::mem::take(&mut self.exits) {
            self.b.switch_to_block(block);
            self.store_snapshot(snap);
            let k = self.b.ins().iconst(I32, i64::from(snap));
            self.b.ins().return_(&[k]);
        }
        self.b.seal_all_blocks();
        self.b.finalize(self.config);
    }

    fn store_snapshot(&mut self, snap: SnapId) {
        let trace = self.trace;
        for &(slot, r) in &trace.snaps[snap as usize].slots {
            self.store_slot(slot, r);
        }
    }

    /// Write value `r` to stack slot `slot` as a Lua number.
    fn store_slot(&mut self, slot: u16, r: Ref) {
        let trace = self.trace;
        {
            let v = self.vals[r as usize];
            let bits = match trace.ins[r as usize].ty() {
                Some(Ty::Int) => {
                    let f = self.b.ins().fcvt_from_sint(F64, v);
                    self.b.ins().bitcast(I64, MemFlagsData::new(), f)
                }
                _ if self.needs_canon[r as usize] => {
                    let bits = self.b.ins().bitcast(I64, MemFlagsData::new(), v);
                    let nan = self.b.ins().fcmp(FloatCC::Unordered, v, v);
                    let canon = self.b.ins().iconst(I64, CANON_NAN as i64);
                    self.b.ins().select(nan, canon, bits)
                }
                // Already a valid number: store the double itself (no move to an
                // integer register).
                _ => v,
            };
            let offset = i32::from(slot) * 8;
            self.b.ins().store(Self::flags(), bits, self.base, offset);
        }
    }

    fn ins(&mut self, i: usize, op: &Ins) {
        let val = match *op {
            Ins::SLoad { slot, snap } => {
                let offset = i32::from(slot) * 8;
                let bits = self.b.ins().load(I64, Self::flags(), self.base, offset);
                let is_num =
                    self.b
                        .ins()
                        .icmp_imm_u(IntCC::UnsignedLessThan, bits, NUMBER_LIMIT as i64);
                self.guard_true(is_num, snap);
                self.b.ins().bitcast(F64, MemFlagsData::new(), bits)
            }
            Ins::KNum(x) => {
                // A NaN constant is stored as it is, so make it the canonical one now.
                let x = if x.is_nan() {
                    f64::from_bits(CANON_NAN)
                } else {
                    x
                };
                self.b.ins().f64const(Ieee64::with_float(x))
            }
            Ins::KInt(x) => self.b.ins().iconst(I32, i64::from(x)),
            Ins::AddN(a, b) => self
                .b
                .ins()
                .fadd(self.vals[a as usize], self.vals[b as usize]),
            Ins::SubN(a, b) => self
                .b
                .ins()
                .fsub(self.vals[a as usize], self.vals[b as usize]),
            Ins::MulN(a, b) => self
                .b
                .ins()
                .fmul(self.vals[a as usize], self.vals[b as usize]),
            Ins::DivN(a, b) => self
                .b
                .ins()
                .fdiv(self.vals[a as usize], self.vals[b as usize]),
            Ins::ModN(a, b) => {
                let (a, b) = (self.vals[a as usize], self.vals[b as usize]);
                let q = self.b.ins().fdiv(a, b);
                let q = self.b.ins().floor(q);
                let m = self.b.ins().fmul(q, b);
                self.b.ins().fsub(a, m)
            }
            Ins::PowN(a, b) => {
                let mut sig = Signature::new(self.config.default_call_conv);
                sig.params.push(AbiParam::new(F64));
                sig.params.push(AbiParam::new(F64));
                sig.returns.push(AbiParam::new(F64));
                let sigref = self.b.import_signature(sig);
                let shim: extern "C" fn(f64, f64) -> f64 = pow_shim;
                let callee = self.b.ins().iconst(self.ptr, shim as usize as i64);
                let args = [self.vals[a as usize], self.vals[b as usize]];
                let call = self.b.ins().call_indirect(sigref, callee, &args);
                self.b.inst_results(call)[0]
            }
            Ins::NegN(a) => self.b.ins().fneg(self.vals[a as usize]),
            Ins::FloorN(a) => self.b.ins().floor(self.vals[a as usize]),
            Ins::SqrtN(a) => self.b.ins().sqrt(self.vals[a as usize]),
            Ins::AbsN(a) => self.b.ins().fabs(self.vals[a as usize]),
            Ins::AddI { a, b, snap } => {
                let (r, of) = self
                    .b
                    .ins()
                    .sadd_overflow(self.vals[a as usize], self.vals[b as usize]);
                self.guard_false(of, snap);
                r
            }
            Ins::SubI { a, b, snap } => {
                let (r, of) = self
                    .b
                    .ins()
                    .ssub_overflow(self.vals[a as usize], self.vals[b as usize]);
                self.guard_false(of, snap);
                r
            }
            Ins::MulI { a, b, snap } => {
                let (r, of) = self
                    .b
                    .ins()
                    .smul_overflow(self.vals[a as usize], self.vals[b as usize]);
                self.guard_false(of, snap);
                r
            }
            Ins::NumToInt { a, snap } => {
                // Exact iff converting back gives the same bits: this rejects fractions,
                // out-of-range values and NaN (saturated to something else) and -0 (+0).
                let x = self.vals[a as usize];
                let n = self.b.ins().fcvt_to_sint_sat(I32, x);
                let back = self.b.ins().fcvt_from_sint(F64, n);
                let xb = self.b.ins().bitcast(I64, MemFlagsData::new(), x);
                let bb = self.b.ins().bitcast(I64, MemFlagsData::new(), back);
                let same = self.b.ins().icmp(IntCC::Equal, xb, bb);
                self.guard_true(same, snap);
                n
            }
            Ins::IntToNum(a) => self.b.ins().fcvt_from_sint(F64, self.vals[a as usize]),
            Ins::Guard {
                cmp,
                ty,
                a,
                b,
                snap,
            } => {
                let (a, b) = (self.vals[a as usize], self.vals[b as usize]);
                let cond = match ty {
                    Ty::Num => {
                        let cc = match cmp {
                            Cmp::Lt => FloatCC::LessThan,
                            Cmp::Le => FloatCC::LessThanOrEqual,
                            Cmp::Gt => FloatCC::GreaterThan,
                            Cmp::Ge => FloatCC::GreaterThanOrEqual,
                            Cmp::Eq => FloatCC::Equal,
                            // Cranelift's `ne` is unordered-or-not-equal: true on NaN.
                            Cmp::Ne => FloatCC::NotEqual,
                        };
                        self.b.ins().fcmp(cc, a, b)
                    }
                    Ty::Int => {
                        let cc = match cmp {
                            Cmp::Lt => IntCC::SignedLessThan,
                            Cmp::Le => IntCC::SignedLessThanOrEqual,
                            Cmp::Gt => IntCC::SignedGreaterThan,
                            Cmp::Ge => IntCC::SignedGreaterThanOrEqual,
                            Cmp::Eq => IntCC::Equal,
                            Cmp::Ne => IntCC::NotEqual,
                        };
                        self.b.ins().icmp(cc, a, b)
                    }
                };
                self.guard_true(cond, snap);
                return;
            }
            Ins::SStore { slot, val } => {
                self.store_slot(slot, val);
                return;
            }
            // Handled by `run`.
            Ins::Loop | Ins::Phi { .. } => return,
        };
        self.vals[i] = val;
        self.needs_canon[i] = matches!(
            op,
            Ins::AddN(..)
                | Ins::SubN(..)
                | Ins::MulN(..)
                | Ins::DivN(..)
                | Ins::ModN(..)
                | Ins::PowN(..)
                | Ins::NegN(_)
                | Ins::FloorN(_)
                | Ins::SqrtN(_)
                | Ins::AbsN(_)
        );
    }
}
