//! The native-code backend: translates a [`Trace`] to Cranelift IR, compiles it and puts
//! the machine code in executable memory of our own.
//!
//! The compiled trace is a function `(base: *mut u64, ctx: *const TraceCtx) -> u32` in
//! Cranelift's `tail` calling convention, entered from Rust through one small function in
//! the C convention ([`EnterFn`]). It reads stack slots from `base`, keeps their values
//! in registers, and on leaving through snapshot `k` writes the snapshot's slots back
//! (each boxed by its IR type). Then, if the engine linked exit `k` to another trace
//! ([`ExitLinks`]) and no interrupt or GC step is waiting, it jumps there with a tail
//! call (same frame, same context: the state the slots hold is that trace's entry
//! state); else it names its trace in `ctx.exited` and returns `k`.
//!
//! Layout of the function: the entry block runs `ins[..loop_start]` and jumps to the loop
//! header with the phis' `init` values as block arguments; the header checks the
//! interrupt byte and falls into the body, which ends with a jump back to the header
//! carrying the `next` values. Each guard gets its own cold exit block at the end. A
//! trace without a loop (a side trace) ends by leaving through its link snapshot.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::time::{Duration, Instant};

use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::entity::packed_option::ReservedValue;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::Ieee64;
use cranelift_codegen::ir::types::{F32, F64, I16, I32, I64, I8};
use cranelift_codegen::ir::{
    AbiParam, Block, BlockArg, ExternalName, Function, Inst, InstBuilder, LibCall, MemFlagsData,
    Signature, Type, UserFuncName, Value,
};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa, TargetFrontendConfig, TargetIsa};
use cranelift_codegen::{Context, FinalizedRelocTarget};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use target_lexicon::Triple;

use crate::ir::{
    CArg, CNum, Cmp, Field, Ins, Op64, Ref, SnapId, Trace, Ty, MAX_C_ARGS, MAX_NATIVE_ARGS,
};
use crate::shims::{self, TraceCtx};
use moonjet_ffi::code::{cranelift_flags, ExecMemory};
use moonjet_gc::object::offsets;
use moonjet_gc::value::{
    tag_of, top_of, CANONICAL_NAN as CANON_NAN, ITYPE_SHIFT, TOP_NUMBER_LIMIT,
};
use moonjet_runtime::vm::state::STACK_EXTRA;

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

/// How Rust enters trace code: a small function in the host's C convention that calls
/// the trace (in Cranelift's `tail` convention, so that traces can jump to each other
/// with tail calls) and returns the exit it left through.
pub type EnterFn =
    unsafe extern "C" fn(trace: *const u8, base: *mut u64, ctx: *const TraceCtx) -> u32;

/// Where each exit of a trace goes on: the code of the trace linked to it, which the
/// exit jumps to (a tail call), or 0 to return to the caller. Compiled code reads the
/// cells at its exits; the engine sets them.
pub struct ExitLinks {
    /// The engine's handle on the trace (its trace data), found from an exit through
    /// `TraceCtx::exited`.
    owner: Cell<usize>,
    cells: Box<[AtomicUsize]>,
}

impl ExitLinks {
    fn new(exits: usize) -> Box<ExitLinks> {
        Box::new(ExitLinks {
            owner: Cell::new(0),
            cells: (0..exits + 1).map(|_| AtomicUsize::new(0)).collect(),
        })
    }

    pub fn owner(&self) -> usize {
        self.owner.get()
    }

    pub fn set_owner(&self, owner: usize) {
        self.owner.set(owner);
    }

    /// Make exit `exit` jump to `to` (or return, for `None`).
    ///
    /// # Safety
    /// `to` was compiled for the same frame layout as the exit's state, and its code
    /// stays alive until it is unlinked again (`unlink`).
    pub unsafe fn link(&self, exit: SnapId, to: Option<&CompiledTrace>) {
        // The last cell is the callee's, not an exit's.
        if (exit as usize) + 1 < self.cells.len() {
            self.cells[exit as usize].store(to.map_or(0, |t| t.code_addr()), Ordering::Relaxed);
        }
    }

    /// Make the trace's recursive calls (`Ins::CallSelf`) enter `to`, the function trace
    /// that roots its tree (`None`: leave them to the interpreter).
    ///
    /// # Safety
    /// `to` is a function trace of the prototype the calls call, and its code stays alive
    /// until it is unlinked again (`unlink`).
    pub unsafe fn set_callee(&self, to: Option<&CompiledTrace>) {
        self.callee_cell()
            .store(to.map_or(0, |t| t.code_addr()), Ordering::Relaxed);
    }

    fn callee_cell(&self) -> &AtomicUsize {
        // `new` makes one cell more than there are exits.
        &self.cells[self.cells.len() - 1]
    }

    /// Unlink every exit that jumps to `to`.
    pub fn unlink(&self, to: &CompiledTrace) {
        let addr = to.code_addr();
        for cell in self.cells.iter() {
            let _ = cell.compare_exchange(addr, 0, Ordering::Relaxed, Ordering::Relaxed);
        }
    }
}

/// The addresses compiled exits read: the link cells, the table itself, and the cell
/// recursive calls read.
#[derive(Clone, Copy)]
struct LinkAddrs {
    cells: u64,
    table: u64,
    callee: u64,
}

impl LinkAddrs {
    fn of(links: &ExitLinks) -> LinkAddrs {
        LinkAddrs {
            cells: links.cells.as_ptr() as u64,
            table: links as *const ExitLinks as u64,
            callee: links.callee_cell() as *const AtomicUsize as u64,
        }
    }
}

/// A trace compiled to native code for the host. The code lives as long as this value.
pub struct CompiledTrace {
    enter: EnterFn,
    links: Box<ExitLinks>,
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
        let ctx = TraceCtx::without_heap(interrupt);
        // SAFETY: forwarded caller promise; a trace needing the heap is run with one.
        unsafe { self.run_with(base, &ctx) }
    }

    /// As [`run`](Self::run), with a full context (the heap, for traces that write
    /// tables or upvalues).
    ///
    /// # Safety
    /// As for `run`; every object the trace reaches from `base` is live in `ctx.heap`.
    ///
    /// The trace may go on in traces its exits are linked to; `ctx.exited` tells whose
    /// exit it left through in the end (the `ExitLinks` address).
    pub unsafe fn run_with(&self, base: *mut u64, ctx: &TraceCtx) -> u32 {
        ctx.exited.set(LinkAddrs::of(&self.links).table as usize);
        // SAFETY: `enter` is the entry function and the code starts `self.mem`, which is
        // executable and alive; the caller guarantees the pointers the code dereferences.
        unsafe { (self.enter)(self.mem.as_ptr(), base, ctx) }
    }

    /// Where the code starts (what linked exits jump to); valid while `self` lives.
    pub fn code_addr(&self) -> usize {
        self.mem.as_ptr() as usize
    }

    /// The trace's exit links.
    pub fn links(&self) -> &ExitLinks {
        &self.links
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
        let flags = cranelift_flags(extra).map_err(CompileError::Isa)?;
        let isa = builder
            .finish(flags)
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
        let links = ExitLinks::new(trace.snaps.len());
        self.codegen(trace, false, LinkAddrs::of(&links))?;
        self.place(start, links)
    }

    /// As [`compile`](Self::compile), with the machine instructions as text (Cranelift's
    /// VCode after register allocation; the code bytes in hex if it gives none), for
    /// `-jdump`.
    pub fn compile_listed(
        &mut self,
        trace: &Trace,
    ) -> Result<(CompiledTrace, String), CompileError> {
        let start = Instant::now();
        let links = ExitLinks::new(trace.snaps.len());
        self.codegen(trace, true, LinkAddrs::of(&links))?;
        let code = self
            .ctx
            .compiled_code()
            .ok_or_else(|| CompileError::Codegen("no code".into()))?;
        let listing = match &code.vcode {
            Some(text) => text.clone(),
            None => hex_lines(code.code_buffer()),
        };
        Ok((self.place(start, links)?, listing))
    }

    /// Puts the code just generated in executable memory, relocated.
    fn place(
        &mut self,
        start: Instant,
        links: Box<ExitLinks>,
    ) -> Result<CompiledTrace, CompileError> {
        let mem = self.place_code()?;
        Ok(CompiledTrace {
            enter: self.enter_fn()?,
            links,
            compile_time: start.elapsed(),
            mem,
        })
    }

    /// The function Rust enters traces through, compiled on first use (the same for every
    /// trace; its code is never released).
    fn enter_fn(&mut self) -> Result<EnterFn, CompileError> {
        static ENTER: OnceLock<usize> = OnceLock::new();
        if let Some(&f) = ENTER.get() {
            // SAFETY: set below to the start of a leaked executable mapping holding
            // an `EnterFn`.
            return Ok(unsafe { std::mem::transmute::<usize, EnterFn>(f) });
        }
        self.ctx.clear();
        let ptr = self.isa.pointer_type();
        let mut sig = Signature::new(self.isa.default_call_conv());
        for _ in 0..3 {
            sig.params.push(AbiParam::new(ptr));
        }
        sig.returns.push(AbiParam::new(I32));
        self.ctx.func = Function::with_name_signature(UserFuncName::default(), sig);
        let config = self.isa.frontend_config();
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            let block = b.create_block();
            b.append_block_params_for_function_params(block);
            b.switch_to_block(block);
            let p = b.block_params(block).to_vec();
            let sig = b.import_signature(trace_signature(ptr));
            let call = b.ins().call_indirect(sig, p[0], &[p[1], p[2]]);
            let exit = b.inst_results(call)[0];
            b.ins().return_(&[exit]);
            b.seal_all_blocks();
            b.finalize(config);
        }
        self.ctx
            .compile(&*self.isa, &mut ControlPlane::default())
            .map_err(|e| CompileError::Codegen(format!("{:?}", e.inner)))?;
        let mem = self.place_code()?;
        let addr = mem.as_ptr() as usize;
        // Kept for the life of the process: every compiled trace is entered through it.
        std::mem::forget(mem);
        let f = *ENTER.get_or_init(|| addr);
        // SAFETY: `f` starts an executable mapping holding a function with the host's C
        // calling convention and the signature `EnterFn` (this one's, or another
        // thread's identical one).
        Ok(unsafe { std::mem::transmute::<usize, EnterFn>(f) })
    }

    /// The code just generated, relocated, in executable memory of its own.
    fn place_code(&mut self) -> Result<ExecMemory, CompileError> {
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
        Ok(mem)
    }

    /// Compiles `trace` and returns the machine code bytes, unrelocated (calls to `pow`
    /// hold the host's address of the shim).
    pub fn compile_bytes(&mut self, trace: &Trace) -> Result<Vec<u8>, CompileError> {
        let links = ExitLinks::new(trace.snaps.len());
        self.codegen(trace, false, LinkAddrs::of(&links))?;
        let code = self
            .ctx
            .compiled_code()
            .ok_or_else(|| CompileError::Codegen("no code".into()))?;
        Ok(code.code_buffer().to_vec())
    }

    /// The Cranelift IR and the lowered machine instructions (after register
    /// allocation) of `trace`, for debugging.
    pub fn dump(&mut self, trace: &Trace) -> Result<String, CompileError> {
        let links = ExitLinks::new(trace.snaps.len());
        self.codegen(trace, true, LinkAddrs::of(&links))?;
        let vcode = self
            .ctx
            .compiled_code()
            .and_then(|c| c.vcode.clone())
            .unwrap_or_default();
        Ok(format!("{}\n{vcode}", self.ctx.func.display()))
    }

    /// Checks the trace, translates it into `self.ctx.func` and runs Cranelift, which
    /// keeps the machine instructions as text if `disasm`.
    fn codegen(
        &mut self,
        trace: &Trace,
        disasm: bool,
        links: LinkAddrs,
    ) -> Result<(), CompileError> {
        let shape = check(trace)?;
        // Clearing the context also turns its text listing off.
        self.ctx.clear();
        self.ctx.set_disasm(disasm);
        let ptr = self.isa.pointer_type();
        self.ctx.func =
            Function::with_name_signature(UserFuncName::default(), trace_signature(ptr));
        let config = self.isa.frontend_config();
        let builder = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
        Translator::new(builder, trace, &shape, ptr, config, links).run();
        self.ctx
            .compile(&*self.isa, &mut ControlPlane::default())
            .map_err(|e| CompileError::Codegen(format!("{:?}", e.inner)))?;
        Ok(())
    }
}

/// A trace's signature: `(base, ctx) -> exit`, in the `tail` convention, so that an
/// exit can jump to the trace linked to it without growing the stack.
fn trace_signature(ptr: Type) -> Signature {
    let mut sig = Signature::new(CallConv::Tail);
    sig.params.push(AbiParam::new(ptr));
    sig.params.push(AbiParam::new(ptr));
    sig.returns.push(AbiParam::new(I32));
    sig
}

thread_local! {
    static HOST: RefCell<Option<Compiler>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's host compiler, made on first use.
fn with_host<R>(
    f: impl FnOnce(&mut Compiler) -> Result<R, CompileError>,
) -> Result<R, CompileError> {
    HOST.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Compiler::host()?);
        }
        match slot.as_mut() {
            Some(c) => f(c),
            None => Err(CompileError::Isa("no host compiler".into())),
        }
    })
}

/// Compiles `trace` for the host (one [`Compiler`] is kept per thread).
pub fn compile(trace: &Trace) -> Result<CompiledTrace, CompileError> {
    with_host(|c| c.compile(trace))
}

/// As [`compile`], with the machine code as text ([`Compiler::compile_listed`]).
pub fn compile_listed(trace: &Trace) -> Result<(CompiledTrace, String), CompileError> {
    with_host(|c| c.compile_listed(trace))
}

/// Code bytes as hex, 16 to a line, each line led by its offset.
fn hex_lines(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&format!("{:08x}  {}\n", i * 16, hex.join(" ")));
    }
    out
}

/// Compiles `trace` for `triple` and returns the machine code bytes only.
pub fn compile_for(trace: &Trace, triple: Triple) -> Result<Vec<u8>, CompileError> {
    Compiler::for_triple(triple)?.compile_bytes(trace)
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
    /// The trace allocates (new tables, table growth): check at the loop header whether a
    /// GC step is due and leave for the interpreter to run it.
    allocates: bool,
}

/// Checks everything the translation relies on, so that building Cranelift IR cannot
/// fail: operands defined before use and of the right type, one `Loop` with the phis
/// right after it, snapshots in range and naming only Lua values available at their
/// exits.
fn check(trace: &Trace) -> Result<Shape, CompileError> {
    let ins = &trace.ins;
    let mut loops = ins
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Ins::Loop));
    let loop_start = match (loops.next(), loops.next(), trace.link_snap) {
        (Some((i, _)), None, None) => i,
        // A side trace: straight-line code that leaves through its link snapshot.
        (None, None, Some(_)) => ins.len(),
        _ => return Err(CompileError::NoLoop),
    };
    let phis_end = match ins.get(loop_start + 1..) {
        Some(after) => {
            loop_start
                + 1
                + after
                    .iter()
                    .take_while(|i| matches!(i, Ins::Phi { .. }))
                    .count()
        }
        None => loop_start,
    };
    if u32::try_from(ins.len()).is_err() {
        return Err(CompileError::BadIns {
            at: u32::MAX,
            why: "trace too long",
        });
    }
    let ty_of = |r: Ref| ins.get(r as usize).and_then(Ins::ty);
    // A sunk pointer cdata stands for its address, available where that is.
    let defined_before = |r: Ref, at: usize| match ins.get(r as usize) {
        Some(Ins::PtrCdata { addr, .. }) => (*addr as usize) < at && (r as usize) < ins.len(),
        _ => (r as usize) < at,
    };
    let sunk = |r: Ref| matches!(ins.get(r as usize), Some(Ins::PtrCdata { .. }));
    // A snapshot used at `at` may name any Lua value defined before `at`.
    let snap_ok = |snap: SnapId, at: usize| -> Result<(), CompileError> {
        let s = trace
            .snaps
            .get(snap as usize)
            .ok_or(CompileError::BadSnap {
                snap,
                why: "no such snapshot",
            })?;
        for &(_, r) in &s.slots {
            if !defined_before(r, at) || !ty_of(r).is_some_and(Ty::is_lua) {
                return Err(CompileError::BadSnap {
                    snap,
                    why: "names a value not available at its exit",
                });
            }
        }
        Ok(())
    };
    if trace.ret.is_some() && trace.link_snap.is_none() {
        return Err(CompileError::NoLoop);
    }
    match trace.link_snap {
        // The link exit comes after everything.
        Some(link) => snap_ok(link, ins.len())?,
        // The interrupt exit is at the loop header, after the phis.
        None => snap_ok(trace.loop_snap, phis_end)?,
    }
    for (i, op) in ins.iter().enumerate() {
        let at = i as Ref;
        let bad = |why| Err(CompileError::BadIns { at, why });
        if let Ins::Phi { ty, init, next } = *op {
            if i <= loop_start || i >= phis_end {
                return bad("PHI not right after LOOP");
            }
            if (init as usize) >= loop_start || ty_of(init) != Some(ty) || sunk(init) || sunk(next)
            {
                return bad("PHI init not defined before LOOP, or of the wrong type");
            }
            // `next` is used on the back edge, after the whole body.
            if ty_of(next) != Some(ty) {
                return bad("PHI next undefined or of the wrong type");
            }
            continue;
        }
        for r in op.operands() {
            if (r as usize) >= i || ty_of(r).is_none() {
                return bad("operand undefined or defined later");
            }
            // Only snapshots (and slot stores) may name a sunk cdata: it is no object.
            if sunk(r) && !matches!(op, Ins::SStore { .. }) {
                return bad("use of a sunk pointer cdata");
            }
        }
        if let Some(snap) = op.snap() {
            // A C call leaves after it, with its result.
            let at = if matches!(op, Ins::CCall { .. }) {
                i + 1
            } else {
                i
            };
            snap_ok(snap, at)?;
        }
        let want = |r: Ref, ok: fn(Ty) -> bool| -> Result<(), CompileError> {
            if ty_of(r).is_some_and(ok) {
                Ok(())
            } else {
                Err(CompileError::BadIns {
                    at,
                    why: "operand of the wrong type",
                })
            }
        };
        let num = |t: Ty| t == Ty::Num;
        let int = |t: Ty| t == Ty::Int;
        let ptr = |t: Ty| t == Ty::Ptr;
        let tab = |t: Ty| t == Ty::Tab;
        // C memory is addressed from a raw pointer or from a cdata object's address.
        let c_base = |t: Ty| t == Ty::Ptr || t == Ty::Cdata;
        // What C number conversions take: a Lua number or a 64-bit integer.
        let c_source = |t: Ty| matches!(t, Ty::Num | Ty::Int | Ty::I64 | Ty::U64);
        // Loaded values are Lua values other than narrowed integers.
        let loadable = |t: Ty| t.is_lua() && t != Ty::Int;
        match *op {
            Ins::SLoad { ty, .. } | Ins::Load { ty, .. } if !loadable(ty) => {
                return bad("load of a type slots cannot hold")
            }
            Ins::KGc { ty, .. } if !ty.is_gc() => return bad("KGC of a non-GC type"),
            Ins::KPri(ty) if !ty.is_pri() => return bad("KPRI of a non-primitive type"),
            Ins::K64 { ty, .. } if !ty.is_int64() => return bad("KINT64 of another type"),
            Ins::To64 { a, ty } => {
                if !ty.is_int64() {
                    return bad("conversion to a type other than a 64-bit integer");
                }
                want(a, c_source)?;
            }
            Ins::PtrAdd { ptr: p, delta } => {
                want(p, ptr)?;
                want(delta, |t| t == Ty::I64)?;
            }
            Ins::PtrCdata { addr, .. } => want(addr, ptr)?,
            Ins::Arith64 { a, b, ty, .. } => {
                if !ty.is_int64() {
                    return bad("64-bit arithmetic of another type");
                }
                if ty_of(a) != Some(ty) || ty_of(b) != Some(ty) {
                    return bad("operand of the wrong type");
                }
            }
            Ins::AddN(a, b)
            | Ins::SubN(a, b)
            | Ins::MulN(a, b)
            | Ins::DivN(a, b)
            | Ins::ModN(a, b)
            | Ins::PowN(a, b)
            | Ins::MinN(a, b)
            | Ins::MaxN(a, b) => {
                want(a, num)?;
                want(b, num)?;
            }
            Ins::NegN(a)
            | Ins::FloorN(a)
            | Ins::CeilN(a)
            | Ins::SqrtN(a)
            | Ins::AbsN(a)
            | Ins::NumToInt { a, .. }
            | Ins::ToBit(a) => want(a, num)?,
            Ins::AddI { a, b, .. }
            | Ins::SubI { a, b, .. }
            | Ins::MulI { a, b, .. }
            | Ins::StepI(a, b)
            | Ins::BAnd(a, b)
            | Ins::BOr(a, b)
            | Ins::BXor(a, b)
            | Ins::BShl(a, b)
            | Ins::BShr(a, b)
            | Ins::BSar(a, b)
            | Ins::BRol(a, b)
            | Ins::BRor(a, b) => {
                want(a, int)?;
                want(b, int)?;
            }
            Ins::BNot(a) | Ins::BSwap(a) => want(a, int)?,
            Ins::TDup { tpl, .. } => want(tpl, tab)?,
            Ins::IntToNum(a) => want(a, int)?,
            Ins::Guard { cmp, ty, a, b, .. } => {
                // Ptr guards compare addresses: of raw pointers or GC objects.
                let fits = |r: Ref| match ty_of(r) {
                    Some(t) if ty == Ty::Ptr => t == Ty::Ptr || t.is_gc(),
                    t => t == Some(ty),
                };
                if !matches!(ty, Ty::Num | Ty::Int | Ty::Ptr | Ty::I64 | Ty::U64)
                    || !fits(a)
                    || !fits(b)
                    || (cmp == Cmp::ULt && ty == Ty::Num)
                {
                    return bad("guard operands of the wrong type");
                }
            }
            Ins::FLoad { obj, field } if ty_of(obj) != Some(field.object()) => {
                return bad("field of an object of the wrong type");
            }
            Ins::UvRef { func, .. } => want(func, |t| t == Ty::Func)?,
            Ins::Load { ptr: p, idx, .. } | Ins::Store { ptr: p, idx, .. } => {
                want(p, ptr)?;
                if let Some(x) = idx {
                    want(x, int)?;
                }
                if let Ins::Store { val, .. } = *op {
                    want(val, Ty::is_lua)?;
                }
            }
            Ins::LoadBits { ptr: p, .. } => want(p, ptr)?,
            Ins::ElemAddr { base, idx, .. } => {
                // (A string's bytes, as a C call's `const char *`.)
                want(base, |t| matches!(t, Ty::Ptr | Ty::Cdata | Ty::Str))?;
                want(idx, int)?;
            }
            Ins::XLoad { ptr: p, .. } => want(p, c_base)?,
            Ins::XStore { ptr: p, val, .. } => {
                want(p, c_base)?;
                want(val, c_source)?;
            }
            Ins::TabWrite { tab: t } | Ins::TabLen { tab: t } => want(t, tab)?,
            Ins::TabGetInt {
                tab: t, key, ty, ..
            } => {
                want(t, tab)?;
                want(key, int)?;
                if !loadable(ty) {
                    return bad("load of a type slots cannot hold");
                }
            }
            Ins::TabGetStr {
                tab: t, key, ty, ..
            } => {
                want(t, tab)?;
                want(key, |t| t == Ty::Str)?;
                if !loadable(ty) {
                    return bad("load of a type slots cannot hold");
                }
            }
            Ins::UvBarrier { uv, val } => {
                want(uv, ptr)?;
                want(val, Ty::is_gc)?;
            }
            Ins::TabSetInt {
                tab: t, key, val, ..
            } => {
                want(t, tab)?;
                want(key, int)?;
                want(val, Ty::is_lua)?;
            }
            Ins::TabSetStr {
                tab: t, key, val, ..
            } => {
                want(t, tab)?;
                want(key, |t| t == Ty::Str)?;
                want(val, Ty::is_lua)?;
            }
            Ins::SStore { val, .. } => want(val, Ty::is_lua)?,
            Ins::CCall {
                func,
                args,
                kinds,
                nargs,
                ..
            } => {
                want(func, ptr)?;
                if usize::from(nargs) > MAX_C_ARGS {
                    return bad("too many C arguments");
                }
                for (&a, &k) in args.iter().zip(&kinds).take(usize::from(nargs)) {
                    match k {
                        CArg::Num(_) => want(a, c_source)?,
                        CArg::Ptr => want(a, ptr)?,
                    }
                }
            }
            Ins::NativeCall {
                func, args, nargs, ..
            } => {
                want(func, |t| t == Ty::Func)?;
                if usize::from(nargs) > MAX_NATIVE_ARGS {
                    return bad("too many native arguments");
                }
                for &a in args.iter().take(usize::from(nargs)) {
                    want(a, Ty::is_lua)?;
                }
            }
            Ins::CallSelf { func, after, .. } => {
                snap_ok(after, i)?;
                // The callee's frame starts above `func`: what stays in this frame is
                // below it.
                if trace.snaps[after as usize]
                    .slots
                    .iter()
                    .any(|&(s, _)| s >= func)
                {
                    return Err(CompileError::BadSnap {
                        snap: after,
                        why: "writes the callee's frame",
                    });
                }
                if trace.link_snap.is_none() {
                    return bad("recursive call in a trace with a loop");
                }
            }
            _ => {}
        }
    }
    Ok(Shape {
        loop_start,
        phis_end,
        // (An unboxed 64-bit integer written to a slot each iteration is boxed there.)
        allocates: ins.iter().any(|i| {
            i.allocates()
                || matches!(*i, Ins::SStore { val, .. }
                    if ty_of(val).is_some_and(Ty::is_int64) || sunk(val))
        }),
    })
}

fn cranelift_ty(ty: Ty) -> Type {
    match ty {
        Ty::Num => F64,
        Ty::Int => I32,
        _ => I64,
    }
}

/// The boxed bits of nil, false or true (`check` lets only those reach here).
fn pri_bits(ty: Ty) -> u64 {
    ty.pri_value().map_or(0, |v| v.bits())
}

/// A slot holds a number iff its top 17 bits are below `TOP_NUMBER_LIMIT`, i.e. the
/// whole word is below this.
const NUMBER_LIMIT: u64 = TOP_NUMBER_LIMIT << ITYPE_SHIFT;

struct Translator<'a, 't> {
    b: FunctionBuilder<'a>,
    trace: &'t Trace,
    shape: &'t Shape,
    ptr: Type,
    config: TargetFrontendConfig,
    base: Value,
    /// The `TraceCtx` pointer and the heap pointer loaded from it.
    ctx: Value,
    heap: Value,
    /// The Cranelift value of each instruction (reserved for guards and `Loop`).
    vals: Vec<Value>,
    /// Whether a Num value may be a NaN no Lua value holds (from C memory or a C
    /// function, or from arithmetic that may make one); loaded numbers, constants,
    /// converted integers and `+ - * /` of those are stored back as they are.
    needs_canon: Vec<bool>,
    /// Exit blocks to fill once the body is done: (block, snapshot, position of the exit).
    exits: Vec<(Block, SnapId)>,
    /// The interrupt byte's address (loaded from the context at entry).
    interrupt: Value,
    links: LinkAddrs,
}

impl<'a, 't> Translator<'a, 't> {
    fn new(
        b: FunctionBuilder<'a>,
        trace: &'t Trace,
        shape: &'t Shape,
        ptr: Type,
        config: TargetFrontendConfig,
        links: LinkAddrs,
    ) -> Self {
        let n = trace.ins.len();
        Translator {
            b,
            trace,
            shape,
            ptr,
            config,
            base: Value::reserved_value(),
            ctx: Value::reserved_value(),
            heap: Value::reserved_value(),
            vals: vec![Value::reserved_value(); n],
            needs_canon: vec![false; n],
            exits: Vec::new(),
            interrupt: Value::reserved_value(),
            links,
        }
    }

    fn flags() -> MemFlagsData {
        // Slots, object fields and table parts are 8-byte aligned and valid (the
        // caller's contract of `run`, and the guards before each access).
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

    /// Calls the C function at `f` with `args` (its parameter types are theirs) and
    /// result type `ret`.
    fn call_inst(&mut self, f: *const (), args: &[Value], ret: Option<Type>) -> Inst {
        let mut sig = Signature::new(self.config.default_call_conv);
        for &a in args {
            sig.params
                .push(AbiParam::new(self.b.func.dfg.value_type(a)));
        }
        sig.returns.extend(ret.map(AbiParam::new));
        let sigref = self.b.import_signature(sig);
        let callee = self.b.ins().iconst(self.ptr, f as i64);
        self.b.ins().call_indirect(sigref, callee, args)
    }

    /// Calls `f` for its effect.
    fn call(&mut self, f: *const (), args: &[Value]) {
        self.call_inst(f, args, None);
    }

    /// Calls `f` for its result, of type `ret`.
    fn call_for(&mut self, f: *const (), args: &[Value], ret: Type) -> Value {
        let call = self.call_inst(f, args, Some(ret));
        // The signature has one result.
        self.b.inst_results(call)[0]
    }

    fn run(mut self) {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry);
        let (base, ctx) = (params[0], params[1]);
        self.base = base;
        self.ctx = ctx;
        let ptr = self.ptr;
        // Loaded once: the context does not change while the trace runs.
        let interrupt = self
            .b
            .ins()
            .load(ptr, Self::flags(), ctx, shims::CTX_INTERRUPT);
        self.interrupt = interrupt;
        self.heap = self.b.ins().load(ptr, Self::flags(), ctx, shims::CTX_HEAP);
        let gc_words = if self.shape.allocates {
            let total = self
                .b
                .ins()
                .load(ptr, Self::flags(), ctx, shims::CTX_GC_TOTAL);
            let threshold = self
                .b
                .ins()
                .load(ptr, Self::flags(), ctx, shims::CTX_GC_THRESHOLD);
            Some((total, threshold))
        } else {
            None
        };

        let Shape {
            loop_start,
            phis_end,
            ..
        } = *self.shape;
        let trace = self.trace;
        for (i, op) in trace.ins[..loop_start].iter().enumerate() {
            self.ins(i, op);
        }
        if let Some(link) = trace.link_snap {
            // No loop: leave through the link snapshot.
            self.leave(link);
            self.finish_exits();
            return;
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
        if let Some((total, threshold)) = gc_words {
            // Memory the loop allocated may make a GC step due: leave (all live values
            // go to stack slots) and let the interpreter run it.
            let t = self.b.ins().load(ptr, MemFlagsData::new(), total, 0);
            let th = self.b.ins().load(ptr, MemFlagsData::new(), threshold, 0);
            let due = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, t, th);
            self.guard_false(due, trace.loop_snap);
        }

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
        self.finish_exits();
    }

    /// Fill in the exit blocks and finish the function.
    fn finish_exits(mut self) {
        for (block, snap) in std::mem::take(&mut self.exits) {
            self.b.switch_to_block(block);
            self.leave(snap);
        }
        self.b.seal_all_blocks();
        self.b.finalize(self.config);
    }

    /// Leave through `snap`: write its slots, then jump to the trace linked to this exit
    /// if there is one and neither an interrupt nor a GC step is waiting (the caller
    /// serves those, from the state the slots hold), else return `snap`.
    fn leave(&mut self, snap: SnapId) {
        self.store_snapshot(snap);
        self.leave_stored(snap);
    }

    /// Leave through `snap`, whose slots are written already.
    fn leave_stored(&mut self, snap: SnapId) {
        let (ptr, fl) = (self.ptr, Self::flags());
        let boxes = self.boxes_on_leaving(snap);
        if let (Some(result), true) = (self.trace.ret, Some(snap) == self.trace.link_snap) {
            self.return_if_called(result, boxes);
        }
        let cell = self
            .b
            .ins()
            .iconst(ptr, (self.links.cells + 8 * u64::from(snap)) as i64);
        // Not trusted-readonly: the engine links exits while the code lives.
        let target = self.b.ins().load(ptr, MemFlagsData::new(), cell, 0);
        let linked = self.b.ins().icmp_imm_u(IntCC::NotEqual, target, 0);
        let undisturbed = self.undisturbed(boxes);
        let go = self.b.ins().band(linked, undisturbed);
        let jump = self.b.create_block();
        let back = self.b.create_block();
        // Exits are cold: kept out of the way of the trace's own code.
        self.b.set_cold_block(jump);
        self.b.set_cold_block(back);
        self.b.ins().brif(go, jump, &[], back, &[]);
        self.b.switch_to_block(jump);
        let sig = self.b.import_signature(trace_signature(ptr));
        self.b
            .ins()
            .return_call_indirect(sig, target, &[self.base, self.ctx]);
        self.b.switch_to_block(back);
        let table = self.b.ins().iconst(ptr, self.links.table as i64);
        self.b.ins().store(fl, table, self.ctx, shims::CTX_EXITED);
        self.b
            .ins()
            .store(fl, self.base, self.ctx, shims::CTX_EXIT_BASE);
        let k = self.b.ins().iconst(I32, i64::from(snap));
        self.b.ins().return_(&[k]);
    }

    fn store_snapshot(&mut self, snap: SnapId) {
        self.store_snapshot_from(snap, 0);
    }

    /// Writes the slots of `snap` from slot `first` up.
    fn store_snapshot_from(&mut self, snap: SnapId, first: u16) {
        let trace = self.trace;
        for &(slot, r) in &trace.snaps[snap as usize].slots {
            if slot < first {
                continue;
            }
            let bits = self.boxed(r);
            self.b
                .ins()
                .store(Self::flags(), bits, self.base, i32::from(slot) * 8);
        }
    }

    /// `Ins::CallSelf`: the callee's frame at slot `func` + 2 (its function and
    /// arguments are `snap`'s slots from `func` up, its link the return address `link`),
    /// then a native call of the root trace on it, if the stack and the native depth have
    /// room and no interrupt waits (else leave through `snap`: the interpreter calls).
    fn call_self(&mut self, (func, framesize, link): (u16, u16, u64), snap: SnapId, after: SnapId) {
        let (ptr, fl) = (self.ptr, Self::flags());
        // As the interpreter's call: the callee's frame and its spare slots fit below
        // `maxstack`.
        let need = (i64::from(func) + 2 + i64::from(framesize) + STACK_EXTRA as i64) * 8;
        let top = self.b.ins().iadd_imm_u(self.base, need);
        let limit = self.b.ins().load(ptr, fl, self.ctx, shims::CTX_STACK_LIMIT);
        let fits = self
            .b
            .ins()
            .icmp(IntCC::UnsignedLessThanOrEqual, top, limit);
        self.guard_true(fits, snap);
        let depth = self.b.ins().load(I32, fl, self.ctx, shims::CTX_DEPTH);
        let room = self.b.ins().icmp_imm_u(
            IntCC::UnsignedLessThan,
            depth,
            i64::from(shims::MAX_NATIVE_DEPTH),
        );
        self.guard_true(room, snap);
        let flag = self
            .b
            .ins()
            .uload8(I32, MemFlagsData::new(), self.interrupt, 0);
        let quiet = self.b.ins().icmp_imm_u(IntCC::Equal, flag, 0);
        self.guard_true(quiet, snap);
        let cell = self.b.ins().iconst(ptr, self.links.callee as i64);
        // Not trusted-readonly: the engine sets and clears it while the code lives.
        let callee = self.b.ins().load(ptr, MemFlagsData::new(), cell, 0);
        let known = self.b.ins().icmp_imm_u(IntCC::NotEqual, callee, 0);
        self.guard_true(known, snap);

        self.store_snapshot_from(snap, func);
        let link = self.b.ins().iconst(I64, link as i64);
        self.b
            .ins()
            .store(fl, link, self.base, (i32::from(func) + 1) * 8);
        let deeper = self.b.ins().iadd_imm_u(depth, 1);
        self.b.ins().store(fl, deeper, self.ctx, shims::CTX_DEPTH);
        let callee_base = self
            .b
            .ins()
            .iadd_imm_u(self.base, (i64::from(func) + 2) * 8);
        let sig = self.b.import_signature(trace_signature(ptr));
        let call = self
            .b
            .ins()
            .call_indirect(sig, callee, &[callee_base, self.ctx]);
        let status = self.b.inst_results(call)[0];
        self.b.ins().store(fl, depth, self.ctx, shims::CTX_DEPTH);
        let returned = self
            .b
            .ins()
            .icmp_imm_u(IntCC::Equal, status, i64::from(shims::RETURNED));
        let cont = self.b.create_block();
        let left = self.b.create_block();
        self.b.set_cold_block(left);
        self.b.ins().brif(returned, cont, &[], left, &[]);
        // The callee left for the interpreter, which will return into this frame: its
        // slots must be in place, and the exit stays the callee's.
        self.b.switch_to_block(left);
        self.store_snapshot(after);
        self.b.ins().return_(&[status]);
        self.b.switch_to_block(cont);
    }

    /// Non-zero when neither an interrupt nor a GC step is waiting: trace code may go on
    /// to more trace code instead of returning to the engine, which serves those.
    fn undisturbed(&mut self, boxed_here: bool) -> Value {
        let flag = self
            .b
            .ins()
            .uload8(I32, MemFlagsData::new(), self.interrupt, 0);
        let quiet = self.b.ins().icmp_imm_u(IntCC::Equal, flag, 0);
        match self.gc_calm(boxed_here) {
            Some(calm) => self.b.ins().band(quiet, calm),
            None => quiet,
        }
    }

    /// Whether leaving through `snap` makes new objects: the cdata of 64-bit integers
    /// and pointers the trace kept unboxed.
    fn boxes_on_leaving(&self, snap: SnapId) -> bool {
        self.trace.snaps[snap as usize].slots.iter().any(|&(_, r)| {
            let i = &self.trace.ins[r as usize];
            matches!(i, Ins::PtrCdata { .. }) || i.ty().is_some_and(Ty::is_int64)
        })
    }

    /// Non-zero when no GC step is due; `None` for a trace that allocates nothing (and
    /// calls nothing that may), unless `boxed_here` (the exit itself made objects): the
    /// debt cannot have grown since the trace before it checked, when it went on to
    /// this one.
    fn gc_calm(&mut self, boxed_here: bool) -> Option<Value> {
        if !self.shape.allocates && !boxed_here {
            return None;
        }
        let (ptr, fl) = (self.ptr, Self::flags());
        let total_at = self.b.ins().load(ptr, fl, self.ctx, shims::CTX_GC_TOTAL);
        let threshold_at = self
            .b
            .ins()
            .load(ptr, fl, self.ctx, shims::CTX_GC_THRESHOLD);
        let total = self.b.ins().load(ptr, MemFlagsData::new(), total_at, 0);
        let threshold = self.b.ins().load(ptr, MemFlagsData::new(), threshold_at, 0);
        Some(self.b.ins().icmp(IntCC::UnsignedLessThan, total, threshold))
    }

    /// At the end of a trace that returns from its frame, with the slots written: when
    /// the trace was called by a `CallSelf` (the native depth is not zero) and no GC step
    /// is due, put the first result (slot `result`, or nil) in the frame's
    /// function slot, where the caller's call expects it, and return [`shims::RETURNED`].
    /// Otherwise go on to leave: the interpreter makes the return.
    fn return_if_called(&mut self, result: Option<u16>, boxed_here: bool) {
        let fl = Self::flags();
        let depth = self.b.ins().load(I32, fl, self.ctx, shims::CTX_DEPTH);
        let nested = self.b.ins().icmp_imm_u(IntCC::NotEqual, depth, 0);
        // (An interrupt is seen by the caller: at its next call, exit or loop header.)
        let go = match self.gc_calm(boxed_here) {
            Some(calm) => self.b.ins().band(nested, calm),
            None => nested,
        };
        let ret = self.b.create_block();
        let stay = self.b.create_block();
        self.b.ins().brif(go, ret, &[], stay, &[]);
        self.b.switch_to_block(ret);
        let bits = match result {
            Some(slot) => self.b.ins().load(I64, fl, self.base, i32::from(slot) * 8),
            None => self.b.ins().iconst(I64, pri_bits(Ty::Nil) as i64),
        };
        self.b.ins().store(fl, bits, self.base, -16);
        let k = self.b.ins().iconst(I32, i64::from(shims::RETURNED));
        self.b.ins().return_(&[k]);
        self.b.switch_to_block(stay);
    }

    /// Value `r` as a Lua value's 64 bits, in an integer register (for calls).
    fn boxed_bits(&mut self, r: Ref) -> Value {
        let v = self.boxed(r);
        if self.b.func.dfg.value_type(v) == F64 {
            self.b.ins().bitcast(I64, MemFlagsData::new(), v)
        } else {
            v
        }
    }

    /// Value `r` as a Lua value's 64 bits (for a store: a double stays a double).
    fn boxed(&mut self, r: Ref) -> Value {
        if let Ins::PtrCdata { ctype, addr } = self.trace.ins[r as usize] {
            // Made now, from the address (which is available wherever the cdata is).
            let ctype = self.b.ins().iconst(I32, i64::from(ctype));
            let (heap, addr) = (self.heap, self.vals[addr as usize]);
            return self.call_for(shims::box_pointer as *const (), &[heap, ctype, addr], I64);
        }
        let v = self.vals[r as usize];
        match self.trace.ins[r as usize].ty() {
            Some(Ty::Int) => self.b.ins().fcvt_from_sint(F64, v),
            Some(Ty::Num) if self.needs_canon[r as usize] => self.canonical_bits(v),
            // Already a valid number: store the double itself (no move to an integer
            // register).
            Some(Ty::Num) => v,
            Some(ty) if ty.is_gc() => {
                let itype = ty.itype().unwrap_or_default();
                self.b.ins().bor_imm_u(v, tag_of(itype) as i64)
            }
            Some(ty @ (Ty::I64 | Ty::U64)) => {
                let unsigned = self.b.ins().iconst(I32, i64::from(ty == Ty::U64));
                let heap = self.heap;
                self.call_for(shims::box_int64 as *const (), &[heap, unsigned, v], I64)
            }
            // nil/false/true hold their boxed bits already.
            _ => v,
        }
    }

    /// The bits of double `v` with any NaN made the canonical one, as the interpreter
    /// keeps numbers.
    fn canonical_bits(&mut self, v: Value) -> Value {
        let bits = self.b.ins().bitcast(I64, MemFlagsData::new(), v);
        let nan = self.b.ins().fcmp(FloatCC::Unordered, v, v);
        let canon = self.b.ins().iconst(I64, CANON_NAN as i64);
        self.b.ins().select(nan, canon, bits)
    }

    /// Checks that `bits` (a loaded Lua value) has type `ty`, leaving through `snap`
    /// if not, and returns the value in its IR form.
    fn typed(&mut self, bits: Value, ty: Ty, snap: SnapId) -> Value {
        match ty {
            Ty::Num => {
                let ok =
                    self.b
                        .ins()
                        .icmp_imm_u(IntCC::UnsignedLessThan, bits, NUMBER_LIMIT as i64);
                self.guard_true(ok, snap);
                self.b.ins().bitcast(F64, MemFlagsData::new(), bits)
            }
            ty if ty.is_pri() => {
                let ok = self
                    .b
                    .ins()
                    .icmp_imm_u(IntCC::Equal, bits, pri_bits(ty) as i64);
                self.guard_true(ok, snap);
                bits
            }
            ty => {
                let itype = ty.itype().unwrap_or_default();
                let top = self.b.ins().ushr_imm_u(bits, i64::from(ITYPE_SHIFT));
                let ok = self
                    .b
                    .ins()
                    .icmp_imm_u(IntCC::Equal, top, top_of(itype) as i64);
                self.guard_true(ok, snap);
                self.payload(bits)
            }
        }
    }

    /// The payload (an object's address) of a boxed GC value's `bits`. Not an `and`
    /// with a constant: Cranelift computes those again in every block that uses them, so
    /// a loop would mask the address of an object it uses throughout (an array it
    /// indexes) on every iteration. Shifts it keeps, once, before the loop.
    fn payload(&mut self, bits: Value) -> Value {
        let tag_bits = 64 - i64::from(ITYPE_SHIFT);
        let tag_low = self.b.ins().rotl_imm_u(bits, tag_bits);
        self.b.ins().ushr_imm_u(tag_low, tag_bits)
    }

    /// The address `ptr + 8*idx + off`.
    fn address(&mut self, ptr: Ref, idx: Option<Ref>, off: i32) -> (Value, i32) {
        let p = self.vals[ptr as usize];
        match idx {
            None => (p, off),
            Some(i) => {
                let i = self.vals[i as usize];
                let i = self.b.ins().sextend(I64, i);
                let scaled = self.b.ins().ishl_imm_u(i, 3);
                (self.b.ins().iadd(p, scaled), off)
            }
        }
    }

    fn ins(&mut self, i: usize, op: &Ins) {
        let fl = Self::flags();
        let val = match *op {
            Ins::SLoad { slot, ty, snap } => {
                let bits = self.b.ins().load(I64, fl, self.base, i32::from(slot) * 8);
                self.typed(bits, ty, snap)
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
            Ins::KGc { addr, .. } | Ins::KPtr(addr) => self.b.ins().iconst(I64, addr as i64),
            Ins::KPri(ty) => self.b.ins().iconst(I64, pri_bits(ty) as i64),
            Ins::K64 { bits, .. } => self.b.ins().iconst(I64, bits as i64),
            Ins::To64 { a, ty } => self.int64_of(a, ty),
            Ins::PtrAdd { ptr, delta } => self
                .b
                .ins()
                .iadd(self.vals[ptr as usize], self.vals[delta as usize]),
            // Nothing to compute: exits box it from the address.
            Ins::PtrCdata { addr, .. } => self.vals[addr as usize],
            Ins::Arith64 { op, a, b, ty } => {
                let (x, y) = (self.vals[a as usize], self.vals[b as usize]);
                self.arith64(op, x, y, ty == Ty::U64)
            }
            Ins::CurFunc => {
                let bits = self.b.ins().load(I64, fl, self.base, -16);
                self.payload(bits)
            }
            Ins::SlotAddr { slot } => self.b.ins().iadd_imm_u(self.base, i64::from(slot) * 8),
            Ins::FLoad { obj, field } => {
                let o = self.vals[obj as usize];
                match field {
                    Field::TabArray => self.b.ins().load(I64, fl, o, offsets::TAB_ARRAY as i32),
                    Field::TabMeta => self.b.ins().load(I64, fl, o, offsets::TAB_METATABLE as i32),
                    Field::TabNode => self.b.ins().load(I64, fl, o, offsets::TAB_NODE as i32),
                    Field::TabAsize => self.b.ins().load(I32, fl, o, offsets::TAB_ASIZE as i32),
                    Field::TabHmask => self.b.ins().load(I32, fl, o, offsets::TAB_HMASK as i32),
                    Field::FuncEnv => self.b.ins().load(I64, fl, o, offsets::FUNC_ENV as i32),
                    Field::FuncProto => self.b.ins().load(I64, fl, o, offsets::FUNC_PROTO as i32),
                    Field::UdataMeta => {
                        self.b
                            .ins()
                            .load(I64, fl, o, offsets::UDATA_METATABLE as i32)
                    }
                    Field::UpvalV => self.b.ins().load(I64, fl, o, offsets::UPVAL_V as i32),
                    Field::StrLen => {
                        let len = self.b.ins().load(I64, fl, o, offsets::STR_LEN as i32);
                        self.b.ins().fcvt_from_uint(F64, len)
                    }
                    Field::CdataCtype => {
                        self.b
                            .ins()
                            .uload16(I32, fl, o, offsets::CDATA_CTYPEID as i32)
                    }
                    Field::CdataPtr | Field::CdataI64 | Field::CdataU64 => {
                        self.b.ins().load(I64, fl, o, offsets::CDATA_PAYLOAD as i32)
                    }
                }
            }
            Ins::UvRef { func, idx } => {
                let off = offsets::FUNC_LUA_UPVALS as i32 + i32::from(idx) * 8;
                let f = self.vals[func as usize];
                self.b.ins().load(I64, fl, f, off)
            }
            Ins::Load {
                ptr,
                idx,
                off,
                ty,
                snap,
            } => {
                let (p, off) = self.address(ptr, idx, off);
                let bits = self.b.ins().load(I64, fl, p, off);
                self.typed(bits, ty, snap)
            }
            Ins::LoadBits { ptr, off } => self.b.ins().load(I64, fl, self.vals[ptr as usize], off),
            Ins::ElemAddr { base, idx, size } => {
                let i = self.b.ins().sextend(I64, self.vals[idx as usize]);
                let scaled = if size.is_power_of_two() {
                    self.b.ins().ishl_imm_u(i, i64::from(size.trailing_zeros()))
                } else {
                    self.b.ins().imul_imm_u(i, i64::from(size))
                };
                self.b.ins().iadd(self.vals[base as usize], scaled)
            }
            Ins::XLoad { ptr, off, ct } => self.c_load(self.vals[ptr as usize], off, ct),
            Ins::XStore { ptr, off, ct, val } => {
                let p = self.vals[ptr as usize];
                self.c_store(p, off, ct, val);
                return;
            }
            Ins::Store { ptr, idx, off, val } => {
                let bits = self.boxed(val);
                let (p, off) = self.address(ptr, idx, off);
                self.b.ins().store(fl, bits, p, off);
                return;
            }
            Ins::TabWrite { tab } => {
                let t = self.vals[tab as usize];
                let zero = self.b.ins().iconst(I8, 0);
                self.b.ins().store(fl, zero, t, offsets::TAB_NOMM as i32);
                let marked = self.b.ins().uload8(I32, fl, t, offsets::MARKED as i32);
                let black = self
                    .b
                    .ins()
                    .band_imm_u(marked, i64::from(moonjet_gc::object::mark::BLACK));
                let slow = self.b.create_block();
                self.b.set_cold_block(slow);
                let cont = self.b.create_block();
                self.b.ins().brif(black, slow, &[], cont, &[]);
                self.b.switch_to_block(slow);
                let heap = self.heap;
                self.call(shims::tab_barrier as *const (), &[heap, t]);
                self.b.ins().jump(cont, &[]);
                self.b.switch_to_block(cont);
                return;
            }
            Ins::UvBarrier { uv, val } => {
                let u = self.vals[uv as usize];
                let bits = self.boxed_bits(val);
                let heap = self.heap;
                self.call(shims::uv_barrier as *const (), &[heap, u, bits]);
                return;
            }
            Ins::TabLen { tab } => {
                let t = self.vals[tab as usize];
                self.call_for(shims::tab_len as *const (), &[t], F64)
            }
            Ins::TabGetInt { tab, key, ty, snap } => {
                let (t, k) = (self.vals[tab as usize], self.vals[key as usize]);
                let bits = self.call_for(shims::tab_get_int as *const (), &[t, k], I64);
                self.typed(bits, ty, snap)
            }
            Ins::TabGetStr { tab, key, ty, snap } => {
                let (t, k) = (self.vals[tab as usize], self.vals[key as usize]);
                let bits = self.call_for(shims::tab_get_str as *const (), &[t, k], I64);
                self.typed(bits, ty, snap)
            }
            Ins::TabSetInt {
                tab,
                key,
                val,
                snap,
            }
            | Ins::TabSetStr {
                tab,
                key,
                val,
                snap,
            } => {
                let shim = match op {
                    Ins::TabSetInt { .. } => shims::tab_set_int as *const (),
                    _ => shims::tab_set_str as *const (),
                };
                let bits = self.boxed_bits(val);
                let args = [
                    self.heap,
                    self.vals[tab as usize],
                    self.vals[key as usize],
                    bits,
                ];
                let failed = self.call_for(shim, &args, I32);
                self.guard_false(failed, snap);
                return;
            }
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
                let args = [self.vals[a as usize], self.vals[b as usize]];
                self.call_for(shims::pow as *const (), &args, F64)
            }
            Ins::NegN(a) => self.b.ins().fneg(self.vals[a as usize]),
            Ins::FloorN(a) => self.b.ins().floor(self.vals[a as usize]),
            Ins::CeilN(a) => self.b.ins().ceil(self.vals[a as usize]),
            Ins::SqrtN(a) => self.b.ins().sqrt(self.vals[a as usize]),
            Ins::AbsN(a) => self.b.ins().fabs(self.vals[a as usize]),
            Ins::MinN(a, b) | Ins::MaxN(a, b) => {
                // The interpreter's rule (minsd/maxsd): `a` only if strictly less
                // (greater), so a NaN or a tie gives `b`.
                let (x, y) = (self.vals[a as usize], self.vals[b as usize]);
                let take_a = if matches!(op, Ins::MinN(..)) {
                    self.b.ins().fcmp(FloatCC::LessThan, x, y)
                } else {
                    self.b.ins().fcmp(FloatCC::GreaterThan, x, y)
                };
                self.b.ins().select(take_a, x, y)
            }
            Ins::AddI { a, b, snap } => {
                let (r, of) = self
                    .b
                    .ins()
                    .sadd_overflow(self.vals[a as usize], self.vals[b as usize]);
                self.guard_false(of, snap);
                r
            }
            Ins::StepI(a, b) => self
                .b
                .ins()
                .iadd(self.vals[a as usize], self.vals[b as usize]),
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
            Ins::ToBit(a) => {
                // The bit library's conversion: adding 2^52+2^51 puts the integer part,
                // rounded to nearest and modulo 2^32, in the low 32 bits of the double.
                let bias = self
                    .b
                    .ins()
                    .f64const(Ieee64::with_float(moonjet_runtime::libs::bit::NUM2BIT_BIAS));
                let sum = self.b.ins().fadd(self.vals[a as usize], bias);
                let bits = self.b.ins().bitcast(I64, MemFlagsData::new(), sum);
                self.b.ins().ireduce(I32, bits)
            }
            Ins::BNot(a) => self.b.ins().bnot(self.vals[a as usize]),
            Ins::BSwap(a) => self.b.ins().bswap(self.vals[a as usize]),
            Ins::BAnd(a, b)
            | Ins::BOr(a, b)
            | Ins::BXor(a, b)
            | Ins::BShl(a, b)
            | Ins::BShr(a, b)
            | Ins::BSar(a, b)
            | Ins::BRol(a, b)
            | Ins::BRor(a, b) => {
                let (x, y) = (self.vals[a as usize], self.vals[b as usize]);
                // Cranelift takes a shift or rotate count modulo the width (32): the
                // library's low 5 bits.
                match op {
                    Ins::BAnd(..) => self.b.ins().band(x, y),
                    Ins::BOr(..) => self.b.ins().bor(x, y),
                    Ins::BXor(..) => self.b.ins().bxor(x, y),
                    Ins::BShl(..) => self.b.ins().ishl(x, y),
                    Ins::BShr(..) => self.b.ins().ushr(x, y),
                    Ins::BSar(..) => self.b.ins().sshr(x, y),
                    Ins::BRol(..) => self.b.ins().rotl(x, y),
                    _ => self.b.ins().rotr(x, y),
                }
            }
            Ins::TNew { asize, hbits, snap } => {
                let heap = self.heap;
                let asize = self.b.ins().iconst(I32, i64::from(asize));
                let hbits = self.b.ins().iconst(I32, i64::from(hbits));
                let t = self.call_for(shims::tab_new as *const (), &[heap, asize, hbits], I64);
                // Null: out of memory.
                self.guard_true(t, snap);
                t
            }
            Ins::TDup { tpl, snap } => {
                let args = [self.heap, self.vals[tpl as usize]];
                let t = self.call_for(shims::tab_dup as *const (), &args, I64);
                self.guard_true(t, snap);
                t
            }
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
                            Cmp::Ne | Cmp::ULt => FloatCC::NotEqual,
                        };
                        self.b.ins().fcmp(cc, a, b)
                    }
                    // (Addresses compare unsigned, as C compares pointers.)
                    Ty::U64 | Ty::Ptr => {
                        let cc = match cmp {
                            Cmp::Lt | Cmp::ULt => IntCC::UnsignedLessThan,
                            Cmp::Le => IntCC::UnsignedLessThanOrEqual,
                            Cmp::Gt => IntCC::UnsignedGreaterThan,
                            Cmp::Ge => IntCC::UnsignedGreaterThanOrEqual,
                            Cmp::Eq => IntCC::Equal,
                            Cmp::Ne => IntCC::NotEqual,
                        };
                        self.b.ins().icmp(cc, a, b)
                    }
                    _ => {
                        let cc = match cmp {
                            Cmp::Lt => IntCC::SignedLessThan,
                            Cmp::Le => IntCC::SignedLessThanOrEqual,
                            Cmp::Gt => IntCC::SignedGreaterThan,
                            Cmp::Ge => IntCC::SignedGreaterThanOrEqual,
                            Cmp::Eq => IntCC::Equal,
                            Cmp::Ne => IntCC::NotEqual,
                            Cmp::ULt => IntCC::UnsignedLessThan,
                        };
                        self.b.ins().icmp(cc, a, b)
                    }
                };
                self.guard_true(cond, snap);
                return;
            }
            Ins::SStore { slot, val } => {
                let bits = self.boxed(val);
                self.b.ins().store(fl, bits, self.base, i32::from(slot) * 8);
                return;
            }
            Ins::CallSelf {
                func,
                framesize,
                link,
                snap,
                after,
            } => {
                self.call_self((func, framesize, link), snap, after);
                return;
            }
            Ins::CCall {
                func,
                args,
                kinds,
                nargs,
                ret,
                captured,
                after,
            } => {
                let n = usize::from(nargs);
                let args = (&args[..n], &kinds[..n]);
                match self.c_call(i, func, args, ret, (captured, after)) {
                    Some(v) => v,
                    None => return,
                }
            }
            Ins::NativeCall {
                func,
                args,
                nargs,
                slot,
                pc,
                captured,
                after,
            } => {
                let args = &args[..usize::from(nargs)];
                self.native_call(func, args, (slot, pc), (captured, after));
                return;
            }
            // Handled by `run`.
            Ins::Loop | Ins::Phi { .. } => return,
        };
        self.vals[i] = val;
        self.needs_canon[i] = match *op {
            // As the interpreter's `TValue::from_arith`: the hardware passes an operand's
            // NaN on (a Lua value's NaN is quiet: unchanged) or makes its default NaN,
            // which reads as a number. So no canonicalisation in a loop storing sums
            // to a `double[]`.
            Ins::AddN(a, b) | Ins::SubN(a, b) | Ins::MulN(a, b) | Ins::DivN(a, b) => {
                self.needs_canon[a as usize] || self.needs_canon[b as usize]
            }
            _ => matches!(
                op,
                Ins::ModN(..)
                | Ins::PowN(..)
                | Ins::NegN(_)
                | Ins::FloorN(_)
                | Ins::CeilN(_)
                | Ins::SqrtN(_)
                | Ins::AbsN(_)
                | Ins::MinN(..)
                | Ins::MaxN(..)
                // C memory may hold any NaN, and C functions return any.
                | Ins::XLoad {
                    ct: CNum::F32 | CNum::F64,
                    ..
                }
                | Ins::CCall {
                    ret: Some(CNum::F32 | CNum::F64),
                    ..
                }
            ),
        };
    }

    /// Flags for C memory: any alignment, and a bad pointer faults as in C.
    fn c_flags() -> MemFlagsData {
        MemFlagsData::new()
    }

    /// The C number of type `ct` at `p + off`, as its IR type (`CNum::load_ty`).
    fn c_load(&mut self, p: Value, off: i32, ct: CNum) -> Value {
        let fl = Self::c_flags();
        let ins = self.b.ins();
        match ct {
            CNum::I8 => ins.sload8(I32, fl, p, off),
            CNum::U8 | CNum::Bool => ins.uload8(I32, fl, p, off),
            CNum::I16 => ins.sload16(I32, fl, p, off),
            CNum::U16 => ins.uload16(I32, fl, p, off),
            CNum::I32 => ins.load(I32, fl, p, off),
            CNum::U32 => {
                let wide = ins.uload32(fl, p, off);
                self.b.ins().fcvt_from_uint(F64, wide)
            }
            CNum::F32 => {
                let x = ins.load(F32, fl, p, off);
                self.b.ins().fpromote(F64, x)
            }
            CNum::F64 => ins.load(F64, fl, p, off),
            CNum::I64 | CNum::U64 => ins.load(I64, fl, p, off),
        }
    }

    /// Stores number `val` to the C number of type `ct` at `p + off` ([`Self::c_number`]).
    fn c_store(&mut self, p: Value, off: i32, ct: CNum, val: Ref) {
        let fl = Self::c_flags();
        let stored = self.c_number(val, ct);
        let ins = self.b.ins();
        match ct {
            CNum::I8 | CNum::U8 => ins.istore8(fl, stored, p, off),
            CNum::I16 | CNum::U16 => ins.istore16(fl, stored, p, off),
            // The value has the type's width: a bool's i8 from the comparison, an i32, a
            // float or a double.
            _ => ins.store(fl, stored, p, off),
        };
    }

    /// Number `val` (a Num or an Int) converted to C number type `ct` as
    /// `moonjet_runtime::ffi::conv` stores a Lua number (`store_num`): `bool` is `x != 0`
    /// (true for NaN; an I8), floats round, integers up to 32 bits go through a 32-bit
    /// truncation and wrap (an I32 whose low bits are the value), `uint32_t` and the
    /// 64-bit types through a 64-bit one (`uint64_t`'s as `num::trunc_u64`). An Int
    /// value is a double that is an i32 exactly, so for the integer types its own low
    /// bits (sign-extended) are the result. A 64-bit integer value (I64 / U64) converts
    /// as C converts it: truncated to a narrower integer, rounded to a float.
    fn c_number(&mut self, val: Ref, ct: CNum) -> Value {
        let mut v = self.vals[val as usize];
        let src = self.trace.ins[val as usize].ty();
        if let Some(ty @ (Ty::I64 | Ty::U64)) = src {
            let ins = self.b.ins();
            let unsigned = ty == Ty::U64;
            return match ct {
                CNum::Bool => ins.icmp_imm_u(IntCC::NotEqual, v, 0),
                CNum::F32 | CNum::F64 => {
                    let fty = if ct == CNum::F32 { F32 } else { F64 };
                    if unsigned {
                        ins.fcvt_from_uint(fty, v)
                    } else {
                        ins.fcvt_from_sint(fty, v)
                    }
                }
                CNum::I64 | CNum::U64 => v,
                _ => ins.ireduce(I32, v),
            };
        }
        let is_int = src == Some(Ty::Int);
        if ct.is_float() && self.needs_canon[val as usize] {
            // The interpreter's number would be the canonical NaN: its bits go to memory
            // (narrowed, for a float).
            let bits = self.canonical_bits(v);
            v = self.b.ins().bitcast(F64, MemFlagsData::new(), bits);
        }
        match ct {
            CNum::Bool if is_int => self.b.ins().icmp_imm_u(IntCC::NotEqual, v, 0),
            CNum::Bool => {
                let zero = self.b.ins().f64const(Ieee64::with_float(0.0));
                self.b.ins().fcmp(FloatCC::NotEqual, v, zero)
            }
            CNum::F32 if is_int => self.b.ins().fcvt_from_sint(F32, v),
            CNum::F32 => self.b.ins().fdemote(F32, v),
            CNum::F64 if is_int => self.b.ins().fcvt_from_sint(F64, v),
            CNum::F64 => v,
            CNum::I64 | CNum::U64 if is_int => self.b.ins().sextend(I64, v),
            CNum::I64 => self.trunc_to_int(v, I64),
            CNum::U64 => {
                // `trunc_u64`: what does not fit an int64_t goes round through 2^64.
                let k = self.trunc_to_int(v, I64);
                let two64 = self
                    .b
                    .ins()
                    .f64const(Ieee64::with_float(18446744073709551616.0));
                let shifted = self.b.ins().fsub(v, two64);
                let wrapped = self.trunc_to_int(shifted, I64);
                let negative = self.b.ins().icmp_imm_u(IntCC::SignedLessThan, k, 0);
                self.b.ins().select(negative, wrapped, k)
            }
            _ if is_int => v,
            CNum::U32 => {
                let wide = self.trunc_to_int(v, I64);
                self.b.ins().ireduce(I32, wide)
            }
            _ => self.trunc_to_int(v, I32),
        }
    }

    /// `Ins::To64`: value `a` as a 64-bit integer of type `ty`.
    fn int64_of(&mut self, a: Ref, ty: Ty) -> Value {
        self.c_number(a, if ty == Ty::U64 { CNum::U64 } else { CNum::I64 })
    }

    /// `Ins::Arith64` on `x` and `y` (64-bit integers, unsigned or not) as the
    /// interpreter computes it (`moonjet_runtime::ffi::ops::arith_i64`). Cranelift's
    /// divisions trap on a zero divisor and on `INT64_MIN / -1`, so those divide by 1
    /// and the result is picked afterwards.
    fn arith64(&mut self, op: Op64, x: Value, y: Value, unsigned: bool) -> Value {
        const MIN: i64 = i64::MIN;
        match op {
            Op64::Add => self.b.ins().iadd(x, y),
            Op64::Sub => self.b.ins().isub(x, y),
            Op64::Mul => self.b.ins().imul(x, y),
            Op64::Neg => self.b.ins().ineg(x),
            Op64::Pow => {
                let shim = if unsigned {
                    shims::pow_u64 as *const ()
                } else {
                    shims::pow_i64 as *const ()
                };
                self.call_for(shim, &[x, y], I64)
            }
            Op64::Div | Op64::Mod => {
                let zero = self.b.ins().icmp_imm_u(IntCC::Equal, y, 0);
                let special = if unsigned {
                    zero
                } else {
                    let x_min = self.b.ins().icmp_imm_u(IntCC::Equal, x, MIN);
                    let y_m1 = self.b.ins().icmp_imm_u(IntCC::Equal, y, -1);
                    let overflow = self.b.ins().band(x_min, y_m1);
                    self.b.ins().bor(zero, overflow)
                };
                let one = self.b.ins().iconst(I64, 1);
                let safe_y = self.b.ins().select(special, one, y);
                let q = match (op, unsigned) {
                    (Op64::Div, true) => self.b.ins().udiv(x, safe_y),
                    (Op64::Div, false) => self.b.ins().sdiv(x, safe_y),
                    (_, true) => self.b.ins().urem(x, safe_y),
                    (_, false) => self.b.ins().srem(x, safe_y),
                };
                let min = self.b.ins().iconst(I64, MIN);
                // Modulo by -1 is 0 (and so is INT64_MIN % -1): only a zero divisor
                // gives INT64_MIN.
                let fallback = if op == Op64::Mod && !unsigned {
                    let zero_val = self.b.ins().iconst(I64, 0);
                    self.b.ins().select(zero, min, zero_val)
                } else {
                    min
                };
                self.b.ins().select(special, fallback, q)
            }
        }
    }

    /// `Ins::CCall` number `i`: the call, with `errno` and the callback hub set up as
    /// `moonjet_runtime::ffi::call::call_c` does, and the exit through `after` if a
    /// callback ran. The result, if any.
    fn c_call(
        &mut self,
        i: usize,
        func: Ref,
        (args, kinds): (&[Ref], &[CArg]),
        ret: Option<CNum>,
        (captured, after): (u64, SnapId),
    ) -> Option<Value> {
        let (ptr, fl) = (self.ptr, Self::flags());
        // The context's fields do not change while the trace runs.
        let ctx_fl = Self::flags().with_readonly().with_can_move();
        let trace = self.trace;
        let seen_by_callbacks = |slot: u16, r: Ref| {
            let gc = trace.ins[r as usize].ty().is_some_and(Ty::is_gc)
                && !matches!(trace.ins[r as usize], Ins::KGc { .. });
            r as usize != i && (slot >= 64 || captured & (1 << slot) != 0 || gc)
        };
        for &(slot, r) in &trace.snaps[after as usize].slots {
            if seen_by_callbacks(slot, r) {
                let bits = self.boxed(r);
                self.b.ins().store(fl, bits, self.base, i32::from(slot) * 8);
            }
        }
        let mut sig = Signature::new(self.config.default_call_conv);
        let mut vals = Vec::with_capacity(args.len());
        for (&a, &k) in args.iter().zip(kinds) {
            let (v, param) = match k {
                CArg::Ptr => (self.vals[a as usize], AbiParam::new(I64)),
                CArg::Num(ct) => {
                    let v = self.c_number(a, ct);
                    // Narrow integers travel extended by their signedness, as C
                    // promotes them.
                    match ct {
                        CNum::I8 => (self.b.ins().ireduce(I8, v), AbiParam::new(I8).sext()),
                        CNum::U8 => (self.b.ins().ireduce(I8, v), AbiParam::new(I8).uext()),
                        CNum::I16 => (self.b.ins().ireduce(I16, v), AbiParam::new(I16).sext()),
                        CNum::U16 => (self.b.ins().ireduce(I16, v), AbiParam::new(I16).uext()),
                        CNum::Bool => (v, AbiParam::new(I8).uext()),
                        CNum::I32 | CNum::U32 => (v, AbiParam::new(I32)),
                        CNum::F32 => (v, AbiParam::new(F32)),
                        CNum::F64 => (v, AbiParam::new(F64)),
                        CNum::I64 | CNum::U64 => (v, AbiParam::new(I64)),
                    }
                }
            };
            vals.push(v);
            sig.params.push(param);
        }
        if let Some(ct) = ret {
            let ty = match ct {
                CNum::I8 | CNum::U8 | CNum::Bool => I8,
                CNum::I16 | CNum::U16 => I16,
                CNum::I32 | CNum::U32 => I32,
                CNum::F32 => F32,
                CNum::F64 => F64,
                CNum::I64 | CNum::U64 => I64,
            };
            sig.returns.push(AbiParam::new(ty));
        }
        let field = |t: &mut Self, off: i32| t.b.ins().load(ptr, ctx_fl, t.ctx, off);
        let saved_errno_at = field(self, shims::CTX_FFI_SAVED_ERRNO);
        let errno_at = field(self, shims::CTX_FFI_ERRNO);
        let active_at = field(self, shims::CTX_FFI_ACTIVE);
        let state = field(self, shims::CTX_FFI_STATE);
        let runs_at = field(self, shims::CTX_FFI_RUNS);
        let stack_at = field(self, shims::CTX_FFI_THREAD_STACK);
        // Memory others write: plain loads and stores, in program order round the call.
        let mem = MemFlagsData::new();
        let errno = self.b.ins().load(I32, mem, saved_errno_at, 0);
        self.b.ins().store(mem, errno, errno_at, 0);
        let outer = self.b.ins().load(ptr, mem, active_at, 0);
        self.b.ins().store(mem, state, active_at, 0);
        let runs_before = self.b.ins().load(I32, mem, runs_at, 0);
        let stack_before = self.b.ins().load(ptr, mem, stack_at, 0);
        let sigref = self.b.import_signature(sig);
        let callee = self.vals[func as usize];
        let call = self.b.ins().call_indirect(sigref, callee, &vals);
        let raw = self.b.inst_results(call).first().copied();
        self.b.ins().store(mem, outer, active_at, 0);
        let errno = self.b.ins().load(I32, mem, errno_at, 0);
        self.b.ins().store(mem, errno, saved_errno_at, 0);
        let result = match (ret, raw) {
            (Some(ct), Some(x)) => Some(match ct {
                CNum::I8 | CNum::I16 => self.b.ins().sextend(I32, x),
                CNum::U8 | CNum::U16 | CNum::Bool => self.b.ins().uextend(I32, x),
                CNum::I32 | CNum::F64 | CNum::I64 | CNum::U64 => x,
                CNum::U32 => {
                    let wide = self.b.ins().uextend(I64, x);
                    self.b.ins().fcvt_from_uint(F64, wide)
                }
                CNum::F32 => self.b.ins().fpromote(F64, x),
            }),
            _ => None,
        };
        let runs_after = self.b.ins().load(I32, mem, runs_at, 0);
        let ran = self.b.ins().icmp(IntCC::NotEqual, runs_before, runs_after);
        let left = self.b.create_block();
        let cont = self.b.create_block();
        self.b.set_cold_block(left);
        self.b.ins().brif(ran, left, &[], cont, &[]);
        self.b.switch_to_block(left);
        if let Some(v) = result {
            self.vals[i] = v;
            self.needs_canon[i] = matches!(ret, Some(CNum::F32 | CNum::F64));
        }
        // The frame moved with the stack if a callback grew it.
        let stack_after = self.b.ins().load(ptr, mem, stack_at, 0);
        let moved = self.b.ins().isub(stack_after, stack_before);
        let entry_base = self.base;
        self.base = self.b.ins().iadd(entry_base, moved);
        // The others are in place (with what the callback stored to them).
        for &(slot, r) in &trace.snaps[after as usize].slots {
            if !seen_by_callbacks(slot, r) {
                let bits = match (r as usize == i, ret, result) {
                    // A `bool` is true or false, which the recorder guards only later.
                    (true, Some(CNum::Bool), Some(byte)) => {
                        let t = self.b.ins().iconst(I64, pri_bits(Ty::True) as i64);
                        let f = self.b.ins().iconst(I64, pri_bits(Ty::False) as i64);
                        self.b.ins().select(byte, t, f)
                    }
                    _ => self.boxed(r),
                };
                self.b.ins().store(fl, bits, self.base, i32::from(slot) * 8);
            }
        }
        self.leave_stored(after);
        self.base = entry_base;
        self.b.switch_to_block(cont);
        result
    }

    /// `Ins::NativeCall` of `func` in slot `slot` with `args`, made by the `CALL` at `pc`:
    /// the frame written (`after`'s slots below the call's, the function, the
    /// arguments), then the call through [`shims::call_native`]. An error, or a stack
    /// that moved, leaves through `after`, writing neither the callee's result slots nor
    /// the `captured` ones (see the instruction).
    fn native_call(
        &mut self,
        func: Ref,
        args: &[Ref],
        (slot, pc): (u16, u64),
        (captured, after): (u64, SnapId),
    ) {
        let fl = Self::flags();
        let trace = self.trace;
        let owned_by_callee = |s: u16| s >= slot || s >= 64 || captured & (1 << s) != 0;
        for &(s, r) in &trace.snaps[after as usize].slots {
            if s < slot {
                let bits = self.boxed(r);
                self.b.ins().store(fl, bits, self.base, i32::from(s) * 8);
            }
        }
        for (i, &r) in std::iter::once(&func).chain(args).enumerate() {
            // The function at `slot`, its arguments from `slot + 2` (past the frame link).
            let s = i32::from(slot) + if i == 0 { 0 } else { i as i32 + 1 };
            let bits = self.boxed(r);
            self.b.ins().store(fl, bits, self.base, s * 8);
        }
        let pc = self.b.ins().iconst(self.ptr, pc as i64);
        let nargs = self.b.ins().iconst(I32, args.len() as i64);
        let (ctx, base) = (self.ctx, self.base);
        let now = self.call_for(
            shims::call_native as *const (),
            &[ctx, base, pc, nargs],
            self.ptr,
        );
        let same = self.b.ins().icmp(IntCC::Equal, now, base);
        let left = self.b.create_block();
        let cont = self.b.create_block();
        self.b.set_cold_block(left);
        self.b.ins().brif(same, cont, &[], left, &[]);
        self.b.switch_to_block(left);
        // Bit 0 marks an error; the rest is the frame's base now.
        self.base = self.b.ins().band_imm_s(now, -2);
        for &(s, r) in &trace.snaps[after as usize].slots {
            if !owned_by_callee(s) {
                let bits = self.boxed(r);
                self.b.ins().store(fl, bits, self.base, i32::from(s) * 8);
            }
        }
        self.leave_stored(after);
        self.base = base;
        self.b.switch_to_block(cont);
    }

    /// Double `x` truncated to an integer of type `ty` (I32 or I64) as
    /// `moonjet_runtime::num::trunc_i32`/`trunc_i64` do (x86's `cvttsd2si`): values
    /// outside the range, and NaN, give the type's minimum.
    fn trunc_to_int(&mut self, x: Value, ty: Type) -> Value {
        // In range: above -2^31 - 1 and below 2^31; from -2^63 on and below 2^63.
        let (low_cc, low, high, min) = if ty == I32 {
            (
                FloatCC::GreaterThan,
                -2147483649.0,
                2147483648.0,
                i64::from(i32::MIN),
            )
        } else {
            let two63 = 9223372036854775808.0;
            (FloatCC::GreaterThanOrEqual, -two63, two63, i64::MIN)
        };
        let sat = self.b.ins().fcvt_to_sint_sat(ty, x);
        let lo = self.b.ins().f64const(Ieee64::with_float(low));
        let hi = self.b.ins().f64const(Ieee64::with_float(high));
        // Ordered comparisons: false for NaN.
        let above = self.b.ins().fcmp(low_cc, x, lo);
        let below = self.b.ins().fcmp(FloatCC::LessThan, x, hi);
        let inside = self.b.ins().band(above, below);
        let min = self.b.ins().iconst(ty, min);
        self.b.ins().select(inside, sat, min)
    }
}
