//! The JIT engine the interpreter calls (moonjet-runtime's `JitEngine`): starts the
//! recorder on hot loops, compiles finished recordings into trace objects the collector
//! manages ([`crate::traces`]), patches the loop's `FORL`/`LOOP` into `JFORL`/`JLOOP`, runs
//! traces, penalises and finally blacklists loops whose recordings keep aborting
//! ([`crate::penalty`]), and retires traces (`jit.flush`, a full trace cache).

use crate::backend;
use crate::penalty::{Penalties, Penalty};
use crate::record::{Opts, Recorder, Step};
use crate::shims::TraceCtx;
use crate::traces::{InstallError, TraceData, TraceIndex};
use moonjet_gc::object::GcProto;
use moonjet_gc::value::itype;
use moonjet_gc::{RootId, TValue};
use moonjet_runtime::vm::jit_iface::{self, JitEngine, JitStats, Recording};
use moonjet_runtime::vm::State;

/// Most traces in service at once, whatever `maxtrace` says (luajit's cap).
const MAXTRACE_CAP: u32 = 65534;

/// Where the instruction at `pc` is, as `-jv` shows it (luajit's `lj_debug_pushloc`):
/// `file:line` for a file (`@path`, directories dropped), `name:line` for `=name`, the
/// prototype's address for other chunk names longer than 40 bytes, else `"source":line`.
fn location(pt: *mut GcProto, pc: *const u32) -> String {
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

/// A recording under way.
struct ActiveRecording {
    rec: Recorder,
    /// The prototype and loop instruction it started at. The prototype is kept alive by
    /// the engine's GC root while the recording lasts: the frame may be unwound (an error)
    /// before the recorder notices.
    pt: *mut GcProto,
    start: *const u32,
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
    /// `MOONJET_JIT_DUMP=1`: each trace's IR and snapshots on stderr.
    dump: bool,
}

impl Engine {
    pub fn new() -> Engine {
        Engine {
            verbose: std::env::var_os("MOONJET_JIT_VERBOSE").is_some_and(|v| v == "1"),
            dump: std::env::var_os("MOONJET_JIT_DUMP").is_some_and(|v| v == "1"),
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

    /// The recording of the loop at `start` (in `pt`) aborted at `at` (in `at_pt`):
    /// report it and penalise the loop, blacklisting it after too many tries.
    ///
    /// # Safety
    /// `pt` and `at_pt` are live and hold `start` and `at`.
    unsafe fn abort(
        &mut self,
        st: &mut State,
        (pt, start): (*mut GcProto, *const u32),
        (at_pt, at): (*mut GcProto, *const u32),
        why: &str,
    ) {
        self.stats.aborts += 1;
        if self.verbose {
            let from = location(pt, start);
            let here = location(at_pt, at);
            if here == from {
                eprintln!("[TRACE --- {from} -- {why}]");
            } else {
                eprintln!("[TRACE --- {from} -- {why} at {here}]");
            }
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

    /// A recording closed: compile it, make it a trace object and let its loop enter it.
    ///
    /// # Safety
    /// `pt` is live and `start` is the loop instruction the trace was recorded from.
    unsafe fn install(
        &mut self,
        st: &mut State,
        pt: *mut GcProto,
        start: *const u32,
        trace: crate::ir::Trace,
    ) {
        let code = match backend::compile(&trace) {
            Ok(c) => c,
            // SAFETY: caller promise.
            Err(e) => {
                return unsafe {
                    self.abort(st, (pt, start), (pt, start), &format!("compile error: {e}"))
                }
            }
        };
        // SAFETY: caller promise; snapshot positions index this prototype's bytecode.
        let data = unsafe { TraceData::new(code, pt, start, &trace.snaps) };
        // SAFETY: as above.
        match unsafe {
            self.traces
                .install(&mut st.heap, pt, data, &trace.gc_consts)
        } {
            Ok(no) => {
                self.stats.traces += 1;
                if self.verbose {
                    eprintln!("[TRACE {no:3} {} loop]", location(pt, start));
                }
            }
            Err(InstallError::NoMemory) => {
                // SAFETY: caller promise.
                unsafe { self.abort(st, (pt, start), (pt, start), "not enough memory") }
            }
            Err(InstallError::RegistryFull) => self.flush_all(st),
        }
    }

    /// Traces allowed in service at once.
    fn maxtrace(st: &State) -> usize {
        st.jit.maxtrace.clamp(1, MAXTRACE_CAP) as usize
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
        // The interpreter only asks when it is not recording: anything held is stale.
        self.end_recording(st);
        if st.heap.live_traces() >= Self::maxtrace(st) {
            // No trace number left: start over, as luajit does (this loop waits).
            self.flush_all(st);
            return false;
        }
        // SAFETY: `pc` is the loop's FORL or LOOP (trait contract).
        let rec = unsafe { Recorder::new(pt, base, pc, Opts::from_flags(st.jit.opt_flags)) };
        self.recording = Some(ActiveRecording { rec, pt, start: pc });
        self.root_recorded_proto(st, pt);
        true
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
        let started = (r.pt, r.start);
        if !r.rec.in_frame(pt, base) {
            // Code of another function (a hook, an error handler): not part of this loop.
            // SAFETY: the recorded prototype is rooted until `end_recording`; `pt` runs.
            unsafe { self.abort(st, started, (pt, pc), "NYI: leaving the loop's frame") };
            self.end_recording(st);
            return Recording::Stop;
        }
        // SAFETY: forwarded trait contract.
        match unsafe { r.rec.step(pc) } {
            Ok(Step::Continue) => Recording::Continue,
            Ok(Step::Done(trace)) => {
                if self.dump {
                    eprintln!("---- TRACE IR\n{}", trace.dump());
                }
                // SAFETY: the recorded prototype runs (in_frame above).
                unsafe { self.install(st, started.0, started.1, trace) };
                self.end_recording(st);
                Recording::Stop
            }
            Err(why) => {
                // SAFETY: as above.
                unsafe { self.abort(st, started, (pt, pc), &why) };
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
    ) -> Option<*const u32> {
        let interrupt = st.hook.interrupt_word().as_ptr() as *const u8;
        let ctx = TraceCtx::new(interrupt, &mut st.heap);
        let t = self.traces.lookup(&st.heap, pt, pc)?;
        // SAFETY: the trace was recorded for the frame layout of this prototype, whose
        // frame is at `base`; it touches only slots below the frame size and objects its
        // guards checked, all live in this state's heap. The caller
        // (`jit_iface::enter_loop`) has marked trace code as running, so its code is not
        // released while it runs.
        let exit = unsafe { t.code.run_with(base.cast(), &ctx) };
        t.resume.get(exit as usize).copied()
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
        // Every trace is a root trace so far; side traces will have to be refused here.
        self.end_recording(st);
        self.traces.retire(&mut st.heap, no);
        st.heap.reap_zombies_if_safe();
    }

    fn set_verbose(&mut self, on: bool) {
        self.verbose = on;
    }

    fn stats(&self) -> JitStats {
        self.stats
    }
}
