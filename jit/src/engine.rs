//! The JIT engine the interpreter calls (moonjet-runtime's `JitEngine`): starts the
//! recorder on hot loops, compiles finished recordings, patches the loop's `FORL` into
//! `JFORL`, and runs traces.

use crate::backend::{self, CompiledTrace};
use crate::record::{Opts, Recorder, Step};
use crate::shims::TraceCtx;
use moonjet_gc::object::GcProto;
use moonjet_gc::TValue;
use moonjet_runtime::bc::{self, Op};
use moonjet_runtime::vm::jit_iface::{JitEngine, Recording};
use moonjet_runtime::vm::State;
use std::collections::HashMap;

/// Recordings of one loop that may abort before it is left alone.
const MAX_ABORTS: u32 = 4;

struct TraceEntry {
    code: CompiledTrace,
    /// Where each snapshot resumes, as addresses in the prototype's bytecode.
    resume: Vec<*const u32>,
}

/// "chunk:line" of the instruction at `pc`, as `-jv` shows loops.
fn location(pt: *mut GcProto, pc: *const u32) -> String {
    // SAFETY: `pc` points into the live prototype's bytecode; lineinfo has an entry per
    // instruction when present.
    unsafe {
        let name = moonjet_gc::GcStr::bytes((*pt).chunkname);
        let i = pc.offset_from((*pt).bc) as usize;
        let line = if (*pt).lineinfo.is_null() {
            0
        } else {
            *(*pt).lineinfo.add(i)
        };
        format!("{}:{line}", moonjet_runtime::lex::chunk_id(name))
    }
}

#[derive(Default)]
pub struct Engine {
    /// Traces by the address of the `JFORL` that enters them.
    traces: HashMap<usize, TraceEntry>,
    aborts: HashMap<usize, u32>,
    recorder: Option<Recorder>,
    trace_count: usize,
    abort_count: usize,
    /// `MOONJET_JIT_VERBOSE=1`: one line per trace and abort on stderr.
    verbose: bool,
    /// Optimisations the recorder runs.
    opts: Opts,
}

impl Engine {
    pub fn new() -> Engine {
        Engine {
            verbose: std::env::var_os("MOONJET_JIT_VERBOSE").is_some_and(|v| v == "1"),
            ..Engine::default()
        }
    }

    fn abort(&mut self, pt: *mut GcProto, at: *const u32, why: &str) {
        self.abort_count += 1;
        *self.aborts.entry(at as usize).or_insert(0) += 1;
        if self.verbose {
            eprintln!("[TRACE --- {} -- {why}]", location(pt, at));
        }
    }

    /// A recording closed: compile it and let its `FORL` enter it.
    fn install(&mut self, pt: *mut GcProto, forl: *const u32, trace: crate::ir::Trace) {
        let code = match backend::compile(&trace) {
            Ok(c) => c,
            Err(e) => return self.abort(pt, forl, &format!("compile error: {e:?}")),
        };
        // SAFETY: snapshot positions are indices into this prototype's bytecode.
        let resume = trace
            .snaps
            .iter()
            .map(|s| unsafe { (*pt).bc.add(s.pc as usize) as *const u32 })
            .collect();
        self.trace_count += 1;
        if self.verbose {
            eprintln!("[TRACE {:3} {} loop]", self.trace_count, location(pt, forl));
        }
        self.traces
            .insert(forl as usize, TraceEntry { code, resume });
        // SAFETY: `forl` is the FORL or LOOP of the live prototype the loop runs in;
        // JFORL/JLOOP keep its operands, so only the opcode byte changes.
        unsafe {
            let p = forl as *mut u32;
            let op = bc::op(*p);
            let jop = if op == Op::LOOP as u8 || op == Op::JLOOP as u8 {
                Op::JLOOP
            } else {
                Op::JFORL
            };
            *p = (*p & !0xff) | jop as u32;
        }
    }
}

impl JitEngine for Engine {
    unsafe fn start_loop(
        &mut self,
        _st: &mut State,
        pt: *mut GcProto,
        base: *mut TValue,
        pc: *const u32,
    ) -> bool {
        if self.recorder.is_some()
            || self
                .aborts
                .get(&(pc as usize))
                .is_some_and(|&n| n >= MAX_ABORTS)
        {
            return false;
        }
        // SAFETY: `pc` is the loop's FORL or LOOP (trait contract).
        self.recorder = Some(unsafe { Recorder::new(pt, base, pc, self.opts) });
        true
    }

    unsafe fn record(
        &mut self,
        _st: &mut State,
        pt: *mut GcProto,
        base: *mut TValue,
        pc: *const u32,
    ) -> Recording {
        let Some(rec) = self.recorder.as_mut() else {
            return Recording::Stop;
        };
        let start = rec.start_pc();
        if !rec.in_frame(pt, base) {
            // Code of another function (a hook, say): not part of this loop.
            self.recorder = None;
            self.abort(pt, start, "NYI: leaving the loop's frame");
            return Recording::Stop;
        }
        // SAFETY: forwarded trait contract.
        match unsafe { rec.step(pc) } {
            Ok(Step::Continue) => Recording::Continue,
            Ok(Step::Done(trace)) => {
                if std::env::var_os("MOONJET_JIT_DUMP").is_some() {
                    eprintln!("---- TRACE IR\n{}", trace.dump());
                }
                self.recorder = None;
                self.install(pt, start, trace);
                Recording::Stop
            }
            Err(why) => {
                self.recorder = None;
                self.abort(pt, start, &why);
                Recording::Stop
            }
        }
    }

    unsafe fn enter(
        &mut self,
        st: &mut State,
        base: *mut TValue,
        pc: *const u32,
    ) -> Option<*const u32> {
        let t = self.traces.get(&(pc as usize))?;
        let interrupt = st.hook.interrupt_word().as_ptr() as *const u8;
        let ctx = TraceCtx::new(interrupt, &mut st.heap);
        // SAFETY: the trace was recorded for the frame layout of this prototype, whose
        // frame is at `base`; it touches only slots below the frame size and objects its
        // guards checked, all live in this state's heap.
        let exit = unsafe { t.code.run_with(base.cast(), &ctx) };
        t.resume.get(exit as usize).copied()
    }

    fn flush(&mut self) {
        // JFORLs stay; without a trace they run as FORL.
        self.traces.clear();
        self.aborts.clear();
        self.recorder = None;
    }

    fn set_verbose(&mut self, on: bool) {
        self.verbose = on;
    }

    fn stats(&self) -> (usize, usize) {
        (self.trace_count, self.abort_count)
    }
}
