//! The JIT engine the interpreter calls (moonjet-runtime's `JitEngine`): starts the
//! recorder on hot loops and hot functions, compiles finished recordings into trace
//! objects the collector manages ([`crate::traces`]), patches the loop's `FORL`/`LOOP`
//! into `JFORL`/`JLOOP` (a function's `FUNCF` header into `JFUNCF`), runs traces,
//! penalises and finally blacklists code whose recordings keep aborting
//! ([`crate::penalty`]), and retires traces (`jit.flush`, a full trace cache).
//!
//! Recursive calls in a function trace's tree call its code natively on frames the
//! traces write to the Lua stack ([`crate::ir::Ins::CallSelf`]); when one leaves for the
//! interpreter, every frame up to it is complete, so the interpreter goes on in the
//! deepest ([`JitEngine::enter`] returns that frame).
//!
//! Exits are counted; a hot one (`hotexit`) starts a side-trace recording, tried up to
//! `tryside` times. An installed side trace is linked to its parent's exit, and its own
//! last exit to the trace it ends at: compiled exits then jump straight on
//! ([`crate::backend::ExitLinks`]); [`JitEngine::enter`] follows a link itself when an
//! exit came back to serve an interrupt or a GC step.

use crate::backend::{self, ExitLinks};
use crate::dump::{Dump, End, RecordedIns, Report};
use crate::ir::{SnapId, Trace};
use crate::penalty::{Penalties, Penalty};
use crate::record::{Opts, Recorder, Step};
use crate::shims::{FfiCallCtx, TraceCtx};
use crate::traces::{InstallError, Kind, TraceData, TraceIndex, TraceRef};
use moonjet_gc::object::{GcProto, GcThread};
use moonjet_gc::value::itype;
use moonjet_gc::{RootId, TValue};
use moonjet_runtime::bc::{self, Op};
use moonjet_runtime::vm::jit_iface::{self, DumpFlags, DumpOut, JitEngine, JitStats, Recording};
use moonjet_runtime::vm::State;

/// Most traces in service at once, whatever `maxtrace` says (luajit's cap).
const MAXTRACE_CAP: u32 = 65534;

/// Where the instruction at `pc` is, as `-jv` shows it (luajit's `lj_debug_pushloc`):
/// `file:line` for a file (`@path`, directories dropped), `name:line` for `=name`, the
/// prototype's address for other chunk names longer than 40 bytes, else `"source":line`.
pub(crate) fn location(pt: *mut GcProto, pc: *const u32) -> String {
    // SAFETY: `pc` points into the live prototype's bytecode; lineinfo has an entry per
    // instruction when present.
    let (name, line) = unsafe {
        let name = moonjet_gc::GcStr::bytes((*pt).chunkname);
        let i = pc.offset_from((*pt).bc) as usize;
        let line = if (*pt).lineinfo.is_null() {
            0
        } else {
            *(*pt).lineinfo.add(i)
        };
        (name, line)
    };
    match name.first() {
        Some(b'@') => {
            // As luajit, a separator in the first byte does not count.
            let path = &name[1..];
            let sep = path.iter().skip(1).rposition(|&c| c == b'/' || c == b'\\');
            let file = match sep {
                Some(i) => &path[i + 2..],
                None => path,
            };
            format!("{}:{line}", String::from_utf8_lossy(file))
        }
        _ if name.len() > 40 => format!("{pt:p}:{line}"),
        Some(b'=') => format!("{}:{line}", String::from_utf8_lossy(&name[1..])),
        _ => format!("\"{}\":{line}", String::from_utf8_lossy(name)),
    }
}

/// The number the next trace gets: the lowest one free.
fn free_trace_no(st: &State) -> u32 {
    (1..).find(|&no| st.heap.trace(no).is_null()).unwrap_or(0)
}

/// A recording under way.
struct ActiveRecording {
    rec: Recorder,
    /// The prototype and instruction it started at (a root trace's loop instruction, a
    /// side trace's first). The prototype is kept alive by the engine's GC root while the
    /// recording lasts: the frame may be unwound (an error) before the recorder notices.
    pt: *mut GcProto,
    start: *const u32,
    /// A side trace's parent and the exit it starts at.
    parent: Option<(TraceRef, SnapId)>,
    /// The thread recorded and its stack as it was at the last instruction: a stack that
    /// grew (moved) since moves the recorded frames with it.
    thread: *mut GcThread,
    stack: *mut TValue,
    /// The instructions recorded, kept only for `-jdump`.
    bytecode: Vec<RecordedIns>,
}

/// The trace entered by the instruction at `pc`, if it is a loop instruction of a
/// trace in service (`JFORL`, `JLOOP`) or the `FORI` of such a `JFORL`: its reference
/// and where it is entered (its loop body).
///
/// # Safety
/// `pc` points at an instruction of the live prototype `pt`.
unsafe fn entered_trace(
    traces: &mut TraceIndex,
    st: &State,
    pt: *mut GcProto,
    pc: *const u32,
) -> Option<(TraceRef, *const u32)> {
    // SAFETY: caller promise; a FORI's jump leads just past its FORL, in the bytecode.
    let at = unsafe {
        let ins = *pc;
        match Op::from_u8(bc::op(ins))? {
            Op::JFORL | Op::JLOOP => pc,
            Op::FORI | Op::JFORI => {
                let forl = bc::jump_target(pc.add(1), ins).sub(1);
                if bc::op(*forl) != Op::JFORL as u8 {
                    return None;
                }
                forl
            }
            _ => return None,
        }
    };
    let (r, data) = traces.lookup(&st.heap, pt, at)?;
    Some((r, data.entry))
}

#[derive(Default)]
pub struct Engine {
    traces: TraceIndex,
    penalties: Penalties,
    recording: Option<ActiveRecording>,
    /// A GC root slot holding the prototype being recorded (nil when none), made on first
    /// use.
    recording_root: Option<RootId>,
    stats: JitStats,
    /// `-jv` or `MOONJET_JIT_VERBOSE=1`: one line per trace, abort and flush on stderr.
    verbose: bool,
    /// `-jdump` (or `MOONJET_JIT_DUMP=1`): each trace's bytecode, IR and machine code.
    dump: Option<Dump>,
    /// The last trace serial given out (see [`TraceRef`]).
    serial: u64,
    /// The context traces run with, made once for the state (by its address) and kept:
    /// what it holds lives as long as the state; only the running thread's stack fields
    /// are set at each entry. Entering a trace is frequent (a function trace is entered
    /// on every call of its function from the interpreter), so it must be cheap.
    ctx: Option<(usize, Box<TraceCtx>)>,
}

impl Engine {
    pub fn new() -> Engine {
        Engine {
            verbose: std::env::var_os("MOONJET_JIT_VERBOSE").is_some_and(|v| v == "1"),
            dump: Dump::from_env(),
            ..Engine::default()
        }
    }

    /// Keep `pt` (or nothing, for null) alive as the prototype being recorded.
    fn root_recorded_proto(&mut self, st: &mut State, pt: *mut GcProto) {
        let v = if pt.is_null() {
            TValue::NIL
        } else {
            TValue::from_gc(pt.cast(), itype::PROTO)
        };
        match self.recording_root {
            Some(id) => st.heap.set_root(id, v),
            None if !pt.is_null() => self.recording_root = Some(st.heap.add_root(v)),
            None => {}
        }
    }

    /// End the recording under way (if any) and let its prototype go.
    fn end_recording(&mut self, st: &mut State) -> Option<ActiveRecording> {
        let r = self.recording.take();
        if r.is_some() {
            self.root_recorded_proto(st, std::ptr::null_mut());
        }
        r
    }

    /// `(parent/exit) ` before a side trace's location in `-jv` lines.
    fn side_label(parent: Option<(TraceRef, SnapId)>) -> String {
        parent.map_or(String::new(), |(p, exit)| format!("({}/{exit}) ", p.no))
    }

    /// The recording that started at `start` (in `pt`; a side trace of `parent`) aborted
    /// at `at` (in `at_pt`): report it and penalise the loop, blacklisting it after too
    /// many tries, or count the side trace's try at its exit. `shown` is what `-jdump`
    /// shows of it: the instructions recorded and the IR, if there is one.
    ///
    /// # Safety
    /// `pt` and `at_pt` are live and hold `start` and `at`; so do the prototypes of the
    /// recorded instructions.
    unsafe fn abort(
        &mut self,
        st: &mut State,
        (pt, start, parent): (*mut GcProto, *const u32, Option<(TraceRef, SnapId)>),
        (at_pt, at): (*mut GcProto, *const u32),
        why: &str,
        shown: (&[RecordedIns], Option<&Trace>),
    ) {
        self.stats.aborts += 1;
        if let Some(dump) = self.dump.as_mut() {
            let report = Report {
                // The number the trace would have had (luajit's, given at the start and
                // handed out again after the abort).
                no: free_trace_no(st),
                parent: parent.map(|(p, exit)| (p.no, exit)),
                start: &location(pt, start),
                bytecode: shown.0,
                trace: shown.1,
                mcode: None,
                end: End::Abort {
                    at: &location(at_pt, at),
                    why,
                },
            };
            // SAFETY: caller promise.
            unsafe { dump.report(st, &report) };
        }
        if self.verbose {
            let from = format!("{}{}", Self::side_label(parent), location(pt, start));
            let here = location(at_pt, at);
            if here == location(pt, start) {
                eprintln!("[TRACE --- {from} -- {why}]");
            } else {
                eprintln!("[TRACE --- {from} -- {why} at {here}]");
            }
        }
        if let Some((p, exit)) = parent {
            // The exit counts again from zero; after `tryside` tries it is given up.
            if let Some(x) = TraceIndex::get(&st.heap, p).and_then(|d| d.exits.get(exit as usize)) {
                x.hits.set(0);
                x.tries.set(x.tries.get().saturating_add(1));
            }
            return;
        }
        match self.penalties.penalise(start) {
            Penalty::Wait(units) => st.jit.set_hotcount(start, units),
            Penalty::Blacklist => {
                // SAFETY: caller promise.
                unsafe { jit_iface::blacklist_loop(pt, start) };
                self.stats.blacklisted += 1;
            }
        }
    }

    /// A recording closed: compile it, make it a trace object, and let its loop enter it
    /// (a root trace) or link its parent's exit to it (a side trace, which links to
    /// `link`, the trace it ends by entering, if any).
    ///
    /// # Safety
    /// `r` is the closed recording, whose prototype is live.
    unsafe fn install(
        &mut self,
        st: &mut State,
        r: &ActiveRecording,
        trace: crate::ir::Trace,
        link: Option<TraceRef>,
    ) {
        let (pt, start, parent) = (r.pt, r.start, r.parent);
        let shown = (&r.bytecode[..], Some(&trace));
        let compiled = if self.dump.as_ref().is_some_and(Dump::wants_mcode) {
            backend::compile_listed(&trace).map(|(code, listing)| (code, Some(listing)))
        } else {
            backend::compile(&trace).map(|code| (code, None))
        };
        let (code, mcode_listing) = match compiled {
            Ok(c) => c,
            // SAFETY: caller promise.
            Err(e) => {
                return unsafe {
                    self.abort(
                        st,
                        (pt, start, parent),
                        (pt, start),
                        &format!("compile error: {e}"),
                        shown,
                    )
                }
            }
        };
        let code_size = code.code_size();
        let side = match parent {
            None => None,
            Some((p, _)) => match TraceIndex::get(&st.heap, p) {
                Some(d) => Some(Kind::Side { root: d.root() }),
                // The parent was retired while this was recorded: nothing would enter it.
                None => return,
            },
        };
        let entry = if side.is_some() {
            start
        } else {
            r.rec.entry_pc()
        };
        self.serial += 1;
        // SAFETY: caller promise; snapshot positions index this prototype's bytecode.
        let data = unsafe { TraceData::new(code, self.serial, pt, (start, entry), side, &trace) };
        let serial = data.serial;
        // SAFETY: as above.
        match unsafe {
            self.traces
                .install(&mut st.heap, pt, data, &trace.gc_consts)
        } {
            Ok(no) => {
                self.stats.traces += 1;
                let me = TraceRef { no, serial };
                if let (Some(_), Some(root)) = (side, TraceIndex::root_of(&st.heap, me)) {
                    root.sides.set(root.sides.get() + 1);
                }
                if let (Some(d), Some(root)) = (
                    TraceIndex::get(&st.heap, me),
                    TraceIndex::function_root(&st.heap, me),
                ) {
                    // SAFETY: the root is the function trace of this prototype, the one
                    // every recursive call in its tree calls; it goes out of service
                    // with its side traces, and retiring it unlinks this cell.
                    unsafe { d.code.links().set_callee(Some(&root.code)) };
                }
                // A tail call of the function itself links to the tree's function trace
                // (a root function trace to itself).
                let link = if trace.tail_call {
                    TraceIndex::function_root(&st.heap, me).map(TraceData::me)
                } else {
                    link
                };
                if let (None, Some(link_snap), Some(d), Some(to)) =
                    (parent, trace.link_snap, TraceIndex::get(&st.heap, me), link)
                {
                    // SAFETY: a root trace linking to itself: its own code.
                    unsafe { d.code.links().link(link_snap, Some(&d.code)) };
                    d.exits[link_snap as usize].link.set(Some(to));
                }
                if let (Some((p, exit)), Some(link_snap), Some(d)) =
                    (parent, trace.link_snap, TraceIndex::get(&st.heap, me))
                {
                    let heap = &st.heap;
                    let target = link.and_then(|to| TraceIndex::get(heap, to));
                    d.exits[link_snap as usize].link.set(link);
                    // SAFETY: both traces are in service and were recorded in the same
                    // frame; retiring one unlinks the exits that jump to it
                    // (`TraceIndex::retire_one`), and flushing all retires all at once.
                    unsafe { d.code.links().link(link_snap, target.map(|t| &t.code)) };
                    if let Some(pd) = TraceIndex::get(heap, p) {
                        if let Some(x) = pd.exits.get(exit as usize) {
                            x.link.set(Some(me));
                            // SAFETY: as above.
                            unsafe { pd.code.links().link(exit, Some(&d.code)) };
                        }
                    }
                }
                // A link to another trace shows as an arrow; the others by kind.
                let link_to = link.filter(|&to| to != me).map(|to| to.no.to_string());
                let how = match &link_to {
                    Some(to) => to,
                    None if trace.tail_call => "tail-recursion",
                    None if trace.ret.is_some() => "return",
                    None if trace.link_snap.is_some() => "interpreter",
                    None => "loop",
                };
                if self.verbose {
                    let arrow = if link_to.is_some() { "-> " } else { "" };
                    eprintln!(
                        "[TRACE {no:3} {}{} {arrow}{how}]",
                        Self::side_label(parent),
                        location(pt, start)
                    );
                }
                if let Some(dump) = self.dump.as_mut() {
                    let report = Report {
                        no,
                        parent: parent.map(|(p, exit)| (p.no, exit)),
                        start: &location(pt, start),
                        bytecode: shown.0,
                        trace: shown.1,
                        mcode: mcode_listing.as_deref().map(|l| (code_size, l)),
                        end: End::Stop { link: how },
                    };
                    // SAFETY: caller promise (the recording's prototype is live).
                    unsafe { dump.report(st, &report) };
                }
            }
            Err(InstallError::NoMemory) => {
                // SAFETY: caller promise.
                unsafe {
                    self.abort(
                        st,
                        (pt, start, parent),
                        (pt, start),
                        "not enough memory",
                        shown,
                    )
                }
            }
            Err(InstallError::RegistryFull) => self.flush_all(st),
        }
    }

    /// Exit `exit` of trace `parent` got hot: record a side trace from where it resumes,
    /// `resume`, in the frame at `base` running `pt`.
    fn start_side(
        &mut self,
        st: &mut State,
        (pt, base, resume): (*mut GcProto, *mut TValue, *const u32),
        parent: TraceRef,
        exit: SnapId,
    ) {
        let recursive = TraceIndex::function_root(&st.heap, parent).is_some();
        let started = self.begin(st, (pt, resume, Some((parent, exit))), |opts| {
            Recorder::new_side(pt, base, resume, opts, recursive)
        });
        if started {
            st.begin_recording();
        }
    }

    /// Start the recording `make` makes, started at `start` in `pt` (a side trace of
    /// `parent`'s exit): anything held is stale (the interpreter asks only when it is not
    /// recording). With no trace number left, everything is flushed instead, as luajit
    /// does, and the code waits. Returns whether it started.
    fn begin(
        &mut self,
        st: &mut State,
        (pt, start, parent): (*mut GcProto, *const u32, Option<(TraceRef, SnapId)>),
        make: impl FnOnce(Opts) -> Recorder,
    ) -> bool {
        self.end_recording(st);
        if st.heap.live_traces() >= Self::maxtrace(st) {
            self.flush_all(st);
            return false;
        }
        self.recording = Some(ActiveRecording {
            rec: make(Opts::from_flags(st.jit.opt_flags)),
            pt,
            start,
            parent,
            bytecode: Vec::new(),
            thread: st.l,
            // SAFETY: the running thread is live.
            stack: unsafe { (*st.l).stack },
        });
        self.root_recorded_proto(st, pt);
        true
    }

    /// The instructions the recording under way kept for `-jdump`.
    fn take_bytecode(&mut self) -> Vec<RecordedIns> {
        self.recording
            .as_mut()
            .map(|r| std::mem::take(&mut r.bytecode))
            .unwrap_or_default()
    }

    /// Traces allowed in service at once.
    fn maxtrace(st: &State) -> usize {
        st.jit.maxtrace.clamp(1, MAXTRACE_CAP) as usize
    }
}

impl Engine {
    /// [`JitEngine::enter`]'s work with the context `ctx` made: look the trace up and
    /// run it, and the traces its exits link to, until one leaves for the interpreter.
    ///
    /// # Safety
    /// As for [`JitEngine::enter`].
    unsafe fn run_traces(
        &mut self,
        st: &mut State,
        pt: *mut GcProto,
        base: *mut TValue,
        pc: *const u32,
        ctx: &TraceCtx,
        (hotexit, tryside, maxside): (u16, u8, u32),
    ) -> Option<(*mut TValue, *const u32)> {
        let (_, mut t) = self.traces.lookup(&st.heap, pt, pc)?;
        // The frame the last exit left in: recursive calls in traces push frames.
        let mut base = base;
        // Run traces, following links from exit to trace, until an exit leads back to
        // the interpreter. Every exit has written its snapshot's slots: between traces
        // all live values are in the frame, so an interrupt or a due GC step can be
        // served by the interpreter from there.
        let (cur, exit, resume, hot) = loop {
            // SAFETY: the trace was recorded for the frame layout of this prototype,
            // whose frame is at `base` (side traces too: they start in the frame their
            // parent leaves); it touches only slots below the frame size and objects its
            // guards checked, all live in this state's heap. The caller (`enter_loop`)
            // has marked trace code as running, so its code is not released while it
            // runs.
            let exit = unsafe { t.code.run_with(base.cast(), ctx) };
            let left_in = ctx.exit_base.get() as *mut TValue;
            if left_in != base {
                // Left inside recursive calls: their frames are on the stack, complete,
                // and the collector must see them.
                base = left_in;
                // SAFETY: the thread is live; its frames reach up to this one's top,
                // which is inside the stack (the call that made the frame checked).
                unsafe {
                    let top = base.add(usize::from((*pt).framesize));
                    (*st.l).base = base;
                    if (*st.l).top < top {
                        (*st.l).top = top;
                    }
                }
            }
            // The exit may be one of a trace the code went on in.
            // SAFETY: `exited` was set by the exit to its trace's `ExitLinks`, whose owner
            // is that trace's data (`TraceIndex::install`); the code just ran, so it was
            // not released, and nothing releases code before `enter_loop` returns.
            t = unsafe {
                &*((*(ctx.exited.get() as *const ExitLinks)).owner() as *const TraceData)
            };
            let cur = t.me();
            let x = t.exits.get(exit as usize)?;
            let resume = *t.resume.get(exit as usize)?;
            if let Some(to) = x.link.get() {
                // SAFETY: the interrupt byte lives as long as the state.
                if unsafe { *ctx.interrupt } != 0 {
                    break (cur, exit, resume, false);
                }
                if ctx.gc_due() {
                    // Every live value is in the frame now, as at an interpreter
                    // instruction: a safe point for the GC step the trace's allocations
                    // made due. (It cannot retire these traces: their prototype runs.)
                    st.heap.gc_check();
                }
                match TraceIndex::get(&st.heap, to) {
                    Some(next) => {
                        t = next;
                        continue;
                    }
                    None => break (cur, exit, resume, false),
                }
            }
            let mut hot = false;
            if x.countable && x.tries.get() < tryside {
                x.hits.set(x.hits.get().saturating_add(1));
                hot = x.hits.get() >= hotexit;
                if hot
                    && TraceIndex::root_of(&st.heap, cur).is_some_and(|r| r.sides.get() >= maxside)
                {
                    // The tree has all the side traces it may: this exit stays one (as
                    // luajit's `maxside`), instead of growing a chain of side traces
                    // without end where each is specialised to a value that changes.
                    x.tries.set(tryside);
                    hot = false;
                }
            }
            break (cur, exit, resume, hot);
        };
        if ctx.gc_due() {
            // A safe point, as above. The interpreter would run the step at its next
            // allocation, but code that allocates only in traces would meanwhile find
            // the step due at every exit and return (and leave recursive calls to the
            // interpreter) until then.
            st.heap.gc_check();
        }
        if let Some(dump) = self.dump.as_mut() {
            dump.exit(st, cur.no, exit);
        }
        if hot {
            self.start_side(st, (pt, base, resume), cur, exit);
        }
        Some((base, resume))
    }
}

impl JitEngine for Engine {
    unsafe fn start_loop(
        &mut self,
        st: &mut State,
        pt: *mut GcProto,
        base: *mut TValue,
        pc: *const u32,
    ) -> bool {
        self.begin(st, (pt, pc, None), |opts| {
            // SAFETY: `pc` is the loop's FORL or LOOP (trait contract).
            unsafe { Recorder::new(pt, base, pc, opts) }
        })
    }

    unsafe fn start_func(&mut self, st: &mut State, pt: *mut GcProto, base: *mut TValue) -> bool {
        // SAFETY: a live prototype; instruction 0 is its header.
        let header = unsafe { (*pt).bc } as *const u32;
        self.begin(st, (pt, header, None), |opts| {
            // SAFETY: `pt` was just called in the frame at `base` (trait contract).
            unsafe { Recorder::new_func(pt, base, opts) }
        })
    }

    unsafe fn record(
        &mut self,
        st: &mut State,
        pt: *mut GcProto,
        base: *mut TValue,
        pc: *const u32,
    ) -> Recording {
        let Some(r) = self.recording.as_mut() else {
            return Recording::Stop;
        };
        // SAFETY: the running thread is live.
        let stack = unsafe { (*st.l).stack };
        if r.thread == st.l && r.stack != stack {
            // The distance between the old and the new allocation, as addresses (the
            // recorder's pointers move by it).
            let delta = (stack as isize).wrapping_sub(r.stack as isize) / 8;
            r.rec.rebase(delta);
            r.stack = stack;
        }
        if r.rec.skips(pt, base, pc) {
            // A recursive call the trace makes natively, run by the interpreter now.
            return Recording::Continue;
        }
        let started = (r.pt, r.start, r.parent);
        if !r.rec.in_frame(pt, base) {
            let why = r.rec.left_frame();
            let bytecode = self.take_bytecode();
            // SAFETY: the recorded prototype is rooted until `end_recording`; `pt` runs;
            // the recorded instructions are all of the recorded prototype.
            unsafe { self.abort(st, started, (pt, pc), why, (&bytecode, None)) };
            self.end_recording(st);
            return Recording::Stop;
        }
        // SAFETY: `pc` is an instruction of the running prototype `pt` (trait contract).
        let link = unsafe { entered_trace(&mut self.traces, st, pt, pc) };
        let keep_bytecode = self.dump.as_ref().is_some_and(Dump::wants_bytecode);
        let Some(r) = self.recording.as_mut() else {
            return Recording::Stop;
        };
        if keep_bytecode {
            let depth = r.rec.depth().min(usize::from(u8::MAX)) as u8;
            if r.bytecode.last().is_some_and(|last| last.depth < depth) {
                // Just called: the callee's header first, as luajit lists it.
                // SAFETY: `pt` is live; instruction 0 is its header.
                let header = unsafe { RecordedIns::new(pt, (*pt).bc, depth, None) };
                r.bytecode.push(header);
            }
            // SAFETY: as above.
            let ins = unsafe { RecordedIns::new(pt, pc, depth, link.map(|(to, _)| to.no)) };
            r.bytecode.push(ins);
        }
        // SAFETY: forwarded trait contract.
        match unsafe { r.rec.step(pc, link.map(|(_, entry)| entry), &st.ffi) } {
            Ok(Step::Continue) => Recording::Continue,
            Ok(Step::Done(trace)) => {
                if let Some(r) = self.end_recording(st) {
                    // SAFETY: the recorded prototype runs (in_frame above).
                    unsafe { self.install(st, &r, trace, link.map(|(to, _)| to)) };
                }
                Recording::Stop
            }
            Err(why) => {
                let bytecode = self.take_bytecode();
                // SAFETY: as above.
                unsafe { self.abort(st, started, (pt, pc), &why, (&bytecode, None)) };
                self.end_recording(st);
                Recording::Stop
            }
        }
    }

    unsafe fn enter(
        &mut self,
        st: &mut State,
        pt: *mut GcProto,
        base: *mut TValue,
        pc: *const u32,
    ) -> Option<(*mut TValue, *const u32)> {
        let (hotexit, tryside, maxside) = (st.jit.hotexit, st.jit.tryside, st.jit.maxside);
        let key = std::ptr::addr_of!(*st) as usize;
        let mut ctx = match self.ctx.take() {
            Some((k, ctx)) if k == key => ctx,
            _ => {
                let interrupt = st.hook.interrupt_word().as_ptr() as *const u8;
                let mut ctx = Box::new(TraceCtx::new(interrupt, &mut st.heap, std::ptr::null()));
                let hooks = moonjet_runtime::ffi::callback::trace_call_hooks(st);
                ctx.ffi = FfiCallCtx {
                    state: hooks.state.cast(),
                    active: hooks.active.cast(),
                    runs: hooks.runs,
                    saved_errno: hooks.saved_errno,
                    errno: hooks.errno,
                    thread_stack: std::ptr::null(),
                };
                ctx
            }
        };
        // SAFETY: the state's running thread is live.
        unsafe {
            ctx.stack_limit = (*st.l).maxstack;
            ctx.ffi.thread_stack = std::ptr::addr_of!((*st.l).stack);
        }
        ctx.depth.set(0);
        // SAFETY: forwarded caller promise.
        let r = unsafe { self.run_traces(st, pt, base, pc, &ctx, (hotexit, tryside, maxside)) };
        self.ctx = Some((key, ctx));
        r
    }

    fn abandon_recording(&mut self, st: &mut State) {
        self.end_recording(st);
    }

    fn flush_all(&mut self, st: &mut State) {
        self.end_recording(st);
        self.traces.flush_all(&mut st.heap);
        self.penalties.clear();
        self.stats.flushes += 1;
        if self.verbose {
            eprintln!("[TRACE flush]");
        }
        st.heap.reap_zombies_if_safe();
    }

    unsafe fn flush_proto(&mut self, st: &mut State, pt: *mut GcProto) {
        self.end_recording(st);
        self.traces.flush_proto(&mut st.heap, pt);
        st.heap.reap_zombies_if_safe();
    }

    fn flush_trace(&mut self, st: &mut State, no: u32) {
        // As luajit: a root trace goes with its side traces; a side trace's number does
        // nothing.
        self.end_recording(st);
        self.traces.retire_root(&mut st.heap, no);
        st.heap.reap_zombies_if_safe();
    }

    fn set_verbose(&mut self, on: bool) {
        self.verbose = on;
    }

    fn set_dump(&mut self, dump: Option<(DumpFlags, DumpOut)>) {
        self.dump = dump.map(|(flags, out)| Dump::new(flags, out));
    }

    fn stats(&self) -> JitStats {
        self.stats
    }
}
