//! `-jdump` (luajit's `jit.dump` module): for each trace, where it starts, the bytecode
//! recorded, its IR and snapshots, its machine code, and how it ends (the trace it links
//! to, or why it was aborted), in the layout of luajit's module; and, when asked, each
//! exit a trace leaves to the interpreter by.
//!
//! A trace's lines are written when it is made or aborted, all at once: its number is
//! only known then (the lowest free one, as luajit gives it at the start).

use crate::ir::{SnapId, Trace};
use moonjet_gc::object::GcProto;
use moonjet_runtime::bc::{self, Op};
use moonjet_runtime::bclist;
use moonjet_runtime::vm::jit_iface::{DumpFlags, DumpOut};
use moonjet_runtime::vm::State;
use std::fmt::Write as _;
use std::io::Write as _;

/// One instruction recorded, kept only while dumping.
#[derive(Clone, Copy, Debug)]
pub struct RecordedIns {
    pub pt: *mut GcProto,
    pub pc: u32,
    /// Frames of inlined calls the instruction runs in (0: the trace's own).
    pub depth: u8,
    /// The instruction as it ran (patched loops show as they were then).
    pub ins: u32,
}

impl RecordedIns {
    /// The instruction at `pc` (of `pt`, `depth` frames deep), about to be recorded;
    /// `entered` is the trace it enters, if any: a `JFORL`/`JLOOP` shows its number as
    /// its operand, as luajit's do.
    ///
    /// # Safety
    /// `pc` points into `pt`'s bytecode.
    pub unsafe fn new(pt: *mut GcProto, pc: *const u32, depth: u8, entered: Option<u32>) -> Self {
        // SAFETY: caller promise.
        let (index, mut ins) = unsafe { (pc.offset_from((*pt).bc) as u32, *pc) };
        let enters_by_operand = matches!(Op::from_u8(bc::op(ins)), Some(Op::JFORL | Op::JLOOP));
        if let (true, Some(no)) = (enters_by_operand, entered) {
            ins = (ins & 0xffff) | (no << 16);
        }
        RecordedIns {
            pt,
            pc: index,
            depth,
            ins,
        }
    }
}

/// How a recording ended.
pub enum End<'a> {
    /// Made into a trace that goes on to `link` (`loop`, a trace number, `interpreter`).
    Stop { link: &'a str },
    /// Aborted at `at` (a location) for `why`.
    Abort { at: &'a str, why: &'a str },
}

/// What is known of a trace when its lines are written.
pub struct Report<'a> {
    pub no: u32,
    /// A side trace's parent trace and exit.
    pub parent: Option<(u32, SnapId)>,
    /// Where the trace starts.
    pub start: &'a str,
    pub bytecode: &'a [RecordedIns],
    /// The IR, if the recording got that far.
    pub trace: Option<&'a Trace>,
    /// The machine code's size and listing, if it was compiled.
    pub mcode: Option<(usize, &'a str)>,
    pub end: End<'a>,
}

enum Sink {
    Stdout,
    Stderr,
    File(std::io::BufWriter<std::fs::File>),
}

pub struct Dump {
    flags: DumpFlags,
    sink: Sink,
}

impl Dump {
    pub fn new(flags: DumpFlags, out: DumpOut) -> Dump {
        let sink = match out {
            DumpOut::Stdout => Sink::Stdout,
            DumpOut::Stderr => Sink::Stderr,
            DumpOut::File(f) => Sink::File(std::io::BufWriter::new(f)),
        };
        Dump { flags, sink }
    }

    /// `MOONJET_JIT_DUMP=1`: everything (`-jdump=+s`) on stderr, out of the program's
    /// way.
    pub fn from_env() -> Option<Dump> {
        std::env::var_os("MOONJET_JIT_DUMP")
            .is_some_and(|v| v == "1")
            .then(|| Dump::new(DumpFlags::parse(Some(b"+s")), DumpOut::Stderr))
    }

    /// Whether recordings keep the instructions they record.
    pub fn wants_bytecode(&self) -> bool {
        self.flags.bytecode
    }

    /// Whether the machine code is listed (compiling then keeps the listing).
    pub fn wants_mcode(&self) -> bool {
        self.flags.mcode
    }

    fn write(&mut self, st: &mut State, text: &str) {
        let _ = match &mut self.sink {
            Sink::Stdout => st.out.write_all(text.as_bytes()),
            Sink::Stderr => {
                // What the program printed so far comes first.
                st.flush();
                std::io::stderr().write_all(text.as_bytes())
            }
            Sink::File(f) => f.write_all(text.as_bytes()).and_then(|_| f.flush()),
        };
    }

    /// Write a trace's lines, as far as the flags ask.
    ///
    /// # Safety
    /// The prototypes of `r.bytecode` are live.
    pub unsafe fn report(&mut self, st: &mut State, r: &Report) {
        if !self.flags.shows_traces() {
            return;
        }
        let no = r.no;
        let mut out = String::new();
        let parent = r
            .parent
            .map_or(String::new(), |(p, exit)| format!("{p}/{exit} "));
        let _ = writeln!(out, "---- TRACE {no} start {parent}{}", r.start);
        if self.flags.bytecode {
            for ins in r.bytecode {
                // One " ." per inlined call, as luajit marks the depth.
                let depth = " .".repeat(ins.depth as usize);
                // SAFETY: caller promise.
                let line =
                    unsafe { bclist::heap_ins_line(ins.pt, ins.pc as usize, ins.ins, &depth) };
                out.push_str(&String::from_utf8_lossy(&line));
                if ins.pc == 0 {
                    // A called function's header names the function.
                    // SAFETY: caller promise: the prototype is live.
                    let at = unsafe { crate::engine::location(ins.pt, (*ins.pt).bc) };
                    let _ = write!(out, "         ; {at}");
                }
                out.push('\n');
            }
        }
        if let Some(trace) = r.trace {
            if self.flags.ir {
                let _ = writeln!(out, "---- TRACE {no} IR");
                out.push_str(&trace.listing(self.flags.snapshots));
            } else if self.flags.snapshots {
                let _ = writeln!(out, "---- TRACE {no} snapshots");
                out.push_str(&trace.snapshot_listing());
            }
        }
        if let (true, Some((size, listing))) = (self.flags.mcode, r.mcode) {
            let _ = writeln!(out, "---- TRACE {no} mcode {size}");
            out.push_str(listing);
            if !listing.ends_with('\n') {
                out.push('\n');
            }
        }
        match r.end {
            End::Stop { link } => {
                let _ = writeln!(out, "---- TRACE {no} stop -> {link}\n");
            }
            End::Abort { at, why } => {
                let _ = writeln!(out, "---- TRACE {no} abort {at} -- {why}\n");
            }
        }
        self.write(st, &out);
    }

    /// Trace `no` left to the interpreter by `exit`.
    pub fn exit(&mut self, st: &mut State, no: u32, exit: SnapId) {
        if self.flags.exits {
            self.write(st, &format!("---- TRACE {no} exit {exit}\n"));
        }
    }
}
