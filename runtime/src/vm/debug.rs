//! Debug information read off the stack and the bytecode: frame levels, current lines,
//! the names of variables and functions (for error messages and tracebacks), and
//! luajit's wording of runtime errors.

use super::frame::{self, FRAME_CONT, FRAME_VARG};
use super::interp::proto_of;
use super::state::{type_name, State, Throw};
use crate::bc::{self, Op};
use crate::lex::chunk_id;
use moonjet_gc::object::{GcProto, VarInfo};
use moonjet_gc::{GcFunc, GcStr, GcThread, TValue};

/// A frame on the running thread's stack.
#[derive(Clone, Copy)]
pub struct FrameRef {
    pub base: *mut TValue,
    /// The PC after the instruction being executed (Lua frames only).
    pub pc: *const u32,
}

impl FrameRef {
    pub fn func(&self) -> *mut GcFunc {
        // SAFETY: every frame's function sits at base[-2].
        unsafe { (*self.base.sub(2)).gc_ptr().cast() }
    }

    pub fn is_lua(&self) -> bool {
        // SAFETY: as above.
        unsafe { (*self.func()).is_lua() }
    }

    pub fn proto(&self) -> Option<*mut GcProto> {
        if self.is_lua() {
            // SAFETY: a Lua frame's function.
            Some(unsafe { proto_of(self.base) })
        } else {
            None
        }
    }

    /// Index of the current instruction in the prototype's bytecode.
    pub fn pc_index(&self) -> Option<usize> {
        let pt = self.proto()?;
        if self.pc.is_null() {
            return None;
        }
        // SAFETY: pc points into pt's bytecode.
        let i = unsafe { self.pc.offset_from((*pt).bc) };
        if i <= 0 {
            return Some(0);
        }
        Some(i as usize - 1)
    }

    pub fn current_line(&self) -> Option<u32> {
        let pt = self.proto()?;
        let i = self.pc_index()?;
        // SAFETY: lineinfo has sizebc entries when present.
        unsafe {
            if (*pt).lineinfo.is_null() || i >= (*pt).sizebc as usize {
                return None;
            }
            Some(*(*pt).lineinfo.add(i))
        }
    }
}

/// The frames of the running thread, innermost first. Vararg frames are folded into
/// the function's real frame.
pub fn frames(st: &State) -> Vec<FrameRef> {
    let mut out = Vec::new();
    // SAFETY: frames from the thread's base down are well-formed.
    unsafe {
        let l = st.l;
        let bottom = (*l).stack.add(frame::STACK_BOTTOM);
        let mut base = (*l).base;
        let mut pc = st.savedpc;
        // `savedpc` belongs to the innermost frame only if that frame is Lua.
        while base > bottom {
            out.push(FrameRef { base, pc });
            let mut b = base;
            let mut link = (*b.sub(1)).0;
            if !frame::is_lua(link) && frame::ftype(link) == FRAME_VARG {
                // The function's real frame, below its varargs.
                b = frame::delta_prev(b, link);
                link = (*b.sub(1)).0;
            }
            pc = if frame::is_lua(link) {
                link as *const u32
            } else if frame::ftype(link) == FRAME_CONT {
                (*b.sub(3)).0 as *const u32
            } else if frame::ftype(link) == frame::FRAME_C {
                let off = b.offset_from((*l).stack);
                st.cframe_pcs
                    .iter()
                    .rev()
                    .find(|&&(th, o, _)| th == l && o == off)
                    .map_or(std::ptr::null(), |&(_, _, pc)| pc)
            } else {
                std::ptr::null()
            };
            base = frame::prev_frame(b);
        }
    }
    out
}

/// The frame at `level` (0: the running function).
pub fn frame_at(st: &State, level: usize) -> Option<FrameRef> {
    frames(st).get(level).copied()
}

/// "chunk:line: " for the function at `level`, or nothing for natives.
pub fn where_(st: &State, level: usize) -> Vec<u8> {
    match frames(st).get(level) {
        Some(f) => position(f),
        None => Vec::new(),
    }
}

fn position(f: &FrameRef) -> Vec<u8> {
    let (Some(pt), Some(line)) = (f.proto(), f.current_line()) else {
        return Vec::new();
    };
    // SAFETY: live prototype with a chunk name.
    let name = unsafe { GcStr::bytes((*pt).chunkname) };
    format!("{}:{}: ", chunk_id(name), line).into_bytes()
}

fn kstr(pt: *mut GcProto, i: u32) -> Vec<u8> {
    // SAFETY: a string constant index from the bytecode.
    unsafe { GcStr::bytes((*(*pt).kgc.add(i as usize)).gc_ptr().cast()).to_vec() }
}

/// The local variable in `slot` at instruction `pc` (luajit's varinfo order: the n-th
/// variable active there is in slot n); `None` for a temporary, or without debug
/// information.
///
/// # Safety
/// `pt` is a live prototype.
pub unsafe fn active_local(pt: *mut GcProto, pc: usize, slot: u32) -> Option<VarInfo> {
    let mut n = slot;
    // SAFETY: caller promise; varinfo has sizevarinfo entries.
    unsafe {
        for i in 0..(*pt).sizevarinfo as usize {
            let v = *(*pt).varinfo.add(i);
            if (v.startpc as usize) > pc {
                break;
            }
            if pc < v.endpc as usize {
                if n == 0 {
                    return Some(v);
                }
                n -= 1;
            }
        }
    }
    None
}

/// Name of local `slot` live at instruction `pc`.
fn local_name(pt: *mut GcProto, pc: usize, slot: u32) -> Option<Vec<u8>> {
    // SAFETY: a live prototype (the callers'), whose variable names are live strings.
    unsafe { active_local(pt, pc, slot).map(|v| GcStr::bytes(v.name).to_vec()) }
}

/// What the value in `slot` at instruction `pc` is called: ("local", "x"), ("global",
/// "x"), ("field", "x"), ("method", "x"), ("upvalue", "x").
pub(crate) fn slot_name(pt: *mut GcProto, pc: usize, slot: u32) -> Option<(&'static str, Vec<u8>)> {
    let mut slot = slot;
    let mut pc = pc;
    // SAFETY: indices come from the prototype's own bytecode.
    unsafe {
        loop {
            if let Some(n) = local_name(pt, pc, slot) {
                return Some(("local", n));
            }
            let bcs = (*pt).bc;
            let mut p = pc;
            let mut found = None;
            while p > 1 {
                p -= 1;
                let ins = *bcs.add(p);
                let op = Op::from_u8(bc::op(ins))?;
                let (ma, _, _) = op.modes();
                if ma == bc::Mode::Base {
                    if slot >= bc::a(ins) && (op != Op::KNIL || slot <= bc::d(ins)) {
                        return None;
                    }
                } else if ma == bc::Mode::Dst && bc::a(ins) == slot {
                    found = Some((p, ins, op));
                    break;
                }
            }
            let (p, ins, op) = found?;
            match op {
                Op::MOV => {
                    slot = bc::d(ins);
                    pc = p;
                }
                Op::GGET => return Some(("global", kstr(pt, bc::d(ins)))),
                Op::TGETS => {
                    let name = kstr(pt, bc::c(ins));
                    if p > 0 {
                        let prev = *bcs.add(p - 1);
                        if bc::op(prev) == Op::MOV as u8
                            && bc::a(prev) == bc::a(ins) + 2
                            && bc::d(prev) == bc::b(ins)
                        {
                            return Some(("method", name));
                        }
                    }
                    return Some(("field", name));
                }
                Op::UGET => {
                    let i = bc::d(ins) as usize;
                    if (*pt).uvnames.is_null() || i >= (*pt).sizeuv as usize {
                        return None;
                    }
                    return Some(("upvalue", GcStr::bytes(*(*pt).uvnames.add(i)).to_vec()));
                }
                _ => return None,
            }
        }
    }
}

/// The name of the function running in frame `idx` of `frames`, from its caller's view:
/// (kind, name), e.g. ("global", "f"), ("method", "m"), ("metamethod", "index").
pub(crate) fn func_name(frames: &[FrameRef], idx: usize) -> Option<(&'static str, Vec<u8>)> {
    let f = frames.get(idx)?;
    // SAFETY: the frame's link word (a vararg function's real frame is below its
    // varargs).
    let link = unsafe {
        let link = (*f.base.sub(1)).0;
        if !frame::is_lua(link) && frame::ftype(link) == FRAME_VARG {
            (*frame::delta_prev(f.base, link).sub(1)).0
        } else {
            link
        }
    };
    let caller = frames.get(idx + 1)?;
    if frame::is_lua(link) {
        let pt = caller.proto()?;
        let pci = caller.pc_index()?;
        // SAFETY: pc within the caller's bytecode.
        let ins = unsafe { *(*pt).bc.add(pci) };
        let op = Op::from_u8(bc::op(ins))?;
        match op {
            Op::CALL | Op::CALLM => slot_name(pt, pci, bc::a(ins)),
            Op::ITERC | Op::ITERN => Some(("for iterator", b"for iterator".to_vec())),
            _ => None,
        }
    } else if frame::ftype(link) == FRAME_CONT {
        let pt = caller.proto()?;
        let pci = caller.pc_index()?;
        // SAFETY: pc within the caller's bytecode.
        let ins = unsafe { *(*pt).bc.add(pci) };
        let mm = match Op::from_u8(bc::op(ins))? {
            Op::TGETV | Op::TGETS | Op::TGETB | Op::GGET => "index",
            Op::TSETV | Op::TSETS | Op::TSETB | Op::GSET => "newindex",
            Op::ADDVN | Op::ADDNV | Op::ADDVV => "add",
            Op::SUBVN | Op::SUBNV | Op::SUBVV => "sub",
            Op::MULVN | Op::MULNV | Op::MULVV => "mul",
            Op::DIVVN | Op::DIVNV | Op::DIVVV => "div",
            Op::MODVN | Op::MODNV | Op::MODVV => "mod",
            Op::POW => "pow",
            Op::UNM => "unm",
            Op::LEN => "len",
            Op::CAT => "concat",
            Op::ISEQV | Op::ISNEV => "eq",
            Op::ISLT | Op::ISGE => "lt",
            Op::ISLE | Op::ISGT => "le",
            _ => return None,
        };
        Some(("metamethod", format!("__{mm}").into_bytes()))
    } else {
        None
    }
}

/// "bad argument #n to 'f' (msg)" with luajit's naming of the running native.
pub fn arg_error_message(st: &State, n: usize, msg: &str) -> String {
    let fr = frames(st);
    let mut n = n as isize;
    let name = match func_name(&fr, 0) {
        Some((kind, name)) => {
            if kind == "method" {
                n -= 1;
                if n == 0 {
                    return format!(
                        "calling '{}' on bad self ({msg})",
                        String::from_utf8_lossy(&name)
                    );
                }
            }
            String::from_utf8_lossy(&name).into_owned()
        }
        None => "?".to_string(),
    };
    format!("bad argument #{n} to '{name}' ({msg})")
}

fn describe(name: Option<(&'static str, Vec<u8>)>, v: TValue) -> String {
    match name {
        Some((kind, n)) => format!(
            "{kind} '{}' (a {} value)",
            String::from_utf8_lossy(&n),
            type_name(v)
        ),
        None => format!("a {} value", type_name(v)),
    }
}

/// Name of `slot` in the innermost (Lua) frame at its saved pc.
fn innermost_slot_name(st: &State, slot: u32) -> Option<(&'static str, Vec<u8>)> {
    let f = frame_at(st, 0)?;
    let pt = f.proto()?;
    slot_name(pt, f.pc_index()?, slot)
}

/// "attempt to <what> <name> (a <type> value)".
pub fn op_error(st: &mut State, what: &str, v: TValue, slot: Option<u32>) -> Throw {
    let name = slot.and_then(|s| innermost_slot_name(st, s));
    let msg = format!("attempt to {what} {}", describe(name, v));
    st.rt_error(&msg)
}

pub fn index_error(st: &mut State, v: TValue, slot: Option<u32>) -> Throw {
    op_error(st, "index", v, slot)
}

pub fn call_error(st: &mut State, v: TValue) -> Throw {
    // Called from a Lua CALL: name the callee by its slot.
    let slot = frame_at(st, 0).and_then(|f| {
        let pt = f.proto()?;
        let pci = f.pc_index()?;
        // SAFETY: pc within bytecode.
        let ins = unsafe { *(*pt).bc.add(pci) };
        match Op::from_u8(bc::op(ins))? {
            Op::CALL | Op::CALLM | Op::CALLT | Op::CALLMT => Some(bc::a(ins)),
            _ => None,
        }
    });
    op_error(st, "call", v, slot)
}

/// An operation on the value in `slot` of the innermost frame.
pub(crate) fn slot_op_error(st: &mut State, base: *mut TValue, what: &str, slot: u32) -> Throw {
    // SAFETY: a slot of the current frame.
    let v = unsafe { *base.add(slot as usize) };
    op_error(st, what, v, Some(slot))
}

/// Arithmetic error for instruction `ins`; `which` is 0 for the left operand.
pub(crate) fn arith_error(st: &mut State, base: *mut TValue, ins: u32, which: usize) -> Throw {
    let op = Op::from_u8(bc::op(ins)).unwrap_or(Op::ADDVV);
    let (slot, is_const) = match op {
        Op::ADDVN | Op::SUBVN | Op::MULVN | Op::DIVVN | Op::MODVN => (bc::b(ins), which == 1),
        Op::ADDNV | Op::SUBNV | Op::MULNV | Op::DIVNV | Op::MODNV => (bc::b(ins), which == 0),
        Op::UNM => (bc::d(ins), false),
        _ => (if which == 0 { bc::b(ins) } else { bc::c(ins) }, false),
    };
    if is_const {
        return st.rt_error("attempt to perform arithmetic on a number value");
    }
    slot_op_error(st, base, "perform arithmetic on", slot)
}

pub(crate) fn concat_error(st: &mut State, base: *mut TValue, slot: u32) -> Throw {
    slot_op_error(st, base, "concatenate", slot)
}

pub fn compare_error(st: &mut State, a: TValue, b: TValue) -> Throw {
    let (ta, tb) = (type_name(a), type_name(b));
    let msg = if ta == tb {
        format!("attempt to compare two {ta} values")
    } else {
        format!("attempt to compare {ta} with {tb}")
    };
    st.rt_error(&msg)
}

/// luajit's `debug.traceback` text (without the message), starting at `level`.
pub fn traceback(st: &State, level: usize) -> Vec<u8> {
    let fr = frames(st);
    let mut out = b"stack traceback:".to_vec();
    let total = fr.len();
    let mut i = level;
    while i < total {
        if i - level == 11 && total - i > 11 {
            out.extend_from_slice(b"\n\t...");
            i = total - 10;
        }
        let f = &fr[i];
        if hidden_in_traceback(&fr, i) {
            i += 1;
            continue;
        }
        out.extend_from_slice(b"\n\t");
        if let Some(pt) = f.proto() {
            // SAFETY: live prototype.
            let src = chunk_id(unsafe { GcStr::bytes((*pt).chunkname) });
            match f.current_line() {
                Some(line) => out.extend_from_slice(format!("{src}:{line}:").as_bytes()),
                None => out.extend_from_slice(format!("{src}:").as_bytes()),
            }
            // SAFETY: live prototype.
            let firstline = unsafe { (*pt).firstline };
            match func_name(&fr, i) {
                Some((_, name)) => out.extend_from_slice(
                    format!(" in function '{}'", String::from_utf8_lossy(&name)).as_bytes(),
                ),
                None if firstline == 0 => out.extend_from_slice(b" in main chunk"),
                None => {
                    out.extend_from_slice(format!(" in function <{src}:{firstline}>").as_bytes())
                }
            }
        } else {
            match func_name(&fr, i) {
                Some((_, name)) => out.extend_from_slice(
                    format!("[C]: in function '{}'", String::from_utf8_lossy(&name)).as_bytes(),
                ),
                None => {
                    // SAFETY: a live function on the stack.
                    let ffid = unsafe { (*f.func()).ffid };
                    // An unnamed library function shows its builtin number, as luajit's
                    // fast functions do; pcall and xpcall stay "[C]" because the command
                    // runs every chunk through xpcall, where luajit has its C entry frame.
                    if ffid > moonjet_gc::object::ffid::NATIVE
                        && ffid != super::state::ff::PCALL
                        && ffid != super::state::ff::XPCALL
                    {
                        out.extend_from_slice(format!("[builtin#{ffid}]:").as_bytes());
                    } else {
                        out.extend_from_slice(b"[C]:");
                    }
                    out.extend_from_slice(format!(" at {:p}", f.func()).as_bytes());
                }
            }
        }
        i += 1;
    }
    out
}

/// A C call made as a metamethod (`__add = ffi.C.f`) has no frame of its own in
/// luajit's tracebacks: its errors show the Lua line that did the arithmetic first.
fn hidden_in_traceback(fr: &[FrameRef], i: usize) -> bool {
    let f = &fr[i];
    // SAFETY: a live function on the stack.
    f.proto().is_none()
        && unsafe { (*f.func()).ffid } == super::state::ff::FFI_CALL
        && func_name(fr, i).is_some_and(|(kind, _)| kind == "metamethod")
}

/// The frames of thread `th` (the running one or a suspended coroutine), innermost
/// first. A suspended coroutine's innermost frame is the native that yielded, so the
/// running thread's saved PC is never misattributed.
pub fn frames_of(st: &mut State, th: *mut GcThread) -> Vec<FrameRef> {
    if th == st.l {
        return frames(st);
    }
    let saved = st.l;
    st.l = th;
    let fr = frames(st);
    st.l = saved;
    fr
}

/// What `debug.getlocal` finds.
pub(crate) enum Local {
    /// There is no frame at that level.
    NoLevel,
    /// The frame has no such local.
    Missing,
    /// luajit's name for the slot, and the slot.
    Found(Vec<u8>, *mut TValue),
}

/// Local `n` of frame `level` of `th`, with luajit's name for it: a declared local live
/// at the frame's PC, "(*temporary)" for other slots in use, "(*vararg)" for the extra
/// arguments (negative `n`).
pub(crate) fn local_slot(st: &mut State, th: *mut GcThread, level: usize, n: i32) -> Local {
    let fr = frames_of(st, th);
    let Some(&f) = fr.get(level) else {
        return Local::NoLevel;
    };
    // SAFETY: frames of a live thread: every base has its link at base[-1].
    unsafe {
        let link = (*f.base.sub(1)).0;
        let varg = !frame::is_lua(link) && frame::ftype(link) == FRAME_VARG;
        if n < 0 {
            let Some(pt) = f.proto().filter(|_| varg) else {
                return Local::Missing;
            };
            let np = (*pt).numparams as usize;
            let nvar = (((link & !7) / 8) as usize).saturating_sub(2 + np);
            let k = (-n) as usize;
            if k > nvar {
                return Local::Missing;
            }
            let orig = frame::delta_prev(f.base, link);
            return Local::Found(b"(*vararg)".to_vec(), orig.add(np + k - 1));
        }
        if n == 0 {
            return Local::Missing;
        }
        let slot = n as usize - 1;
        if let (Some(pt), Some(pc)) = (f.proto(), f.pc_index()) {
            if let Some(name) = local_name(pt, pc, slot as u32) {
                return Local::Found(name, f.base.add(slot));
            }
        }
        // Slots in use end where the next inner frame's function sits (or at top).
        let limit = match level.checked_sub(1).and_then(|i| fr.get(i)) {
            Some(inner) => {
                let ilink = (*inner.base.sub(1)).0;
                let b = if !frame::is_lua(ilink) && frame::ftype(ilink) == FRAME_VARG {
                    frame::delta_prev(inner.base, ilink)
                } else {
                    inner.base
                };
                b.sub(2)
            }
            None => (*th).top,
        };
        if f.base.add(slot) < limit {
            return Local::Found(b"(*temporary)".to_vec(), f.base.add(slot));
        }
        Local::Missing
    }
}

/// Name of parameter `i` (0-based) of `pt`.
pub(crate) fn param_name(pt: *mut GcProto, i: u32) -> Option<Vec<u8>> {
    local_name(pt, 0, i)
}
