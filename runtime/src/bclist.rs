//! Bytecode listings in the layout of `luajit -bl`: child functions first (in constant
//! order), each as a `-- BYTECODE -- chunk:first-last` header, one line per instruction
//! (`NNNN    OPNAME   A   B   C  ; comment`, `=>` marking jump targets), and a blank line.
//! [`heap_ins_line`] lists one instruction of a live prototype the same way, for
//! `-jdump`'s recorded bytecode.

use crate::bc::{self, Mode, Op, JUMP_BIAS};
use crate::num::fmt_num;
use crate::proto::{KGc, Proto};
use moonjet_gc::object::GcProto;
use moonjet_gc::GcStr;
use std::io::Write;

/// The listing of `pt` and all its children (bytes: string constants are shown raw).
pub fn list(pt: &Proto) -> Vec<u8> {
    let mut out = Vec::new();
    list_into(pt, &mut out);
    out
}

/// Where a function starts, as luajit's listings name it: `@file` as `file`, `=name` as
/// `name`, source text as `"text"`.
fn location(pt: &Proto) -> Vec<u8> {
    chunk_location(&pt.chunkname, pt.firstline)
}

fn chunk_location(name: &[u8], line: u32) -> Vec<u8> {
    let mut out = match name.first() {
        Some(b'@') | Some(b'=') => name[1..].to_vec(),
        _ => [b"\"", name, b"\""].concat(),
    };
    let _ = write!(out, ":{line}");
    out
}

/// The constants an instruction's operands name, wherever the prototype is kept.
trait Consts {
    fn str_const(&self, i: u32) -> Option<Vec<u8>>;
    fn num_const(&self, i: u32) -> Option<f64>;
    /// A child function's location.
    fn func_const(&self, i: u32) -> Option<Vec<u8>>;
    fn uv_name(&self, i: u32) -> Vec<u8>;
}

impl Consts for Proto {
    fn str_const(&self, i: u32) -> Option<Vec<u8>> {
        match self.kgc.get(i as usize) {
            Some(KGc::Str(s)) => Some(s.to_vec()),
            _ => None,
        }
    }
    fn num_const(&self, i: u32) -> Option<f64> {
        self.kn.get(i as usize).copied()
    }
    fn func_const(&self, i: u32) -> Option<Vec<u8>> {
        match self.kgc.get(i as usize) {
            Some(KGc::Proto(child)) => Some(location(child)),
            _ => None,
        }
    }
    fn uv_name(&self, i: u32) -> Vec<u8> {
        self.uvnames
            .get(i as usize)
            .map(|n| n.to_vec())
            .unwrap_or_default()
    }
}

/// A prototype on the heap, live while the listing is made.
struct HeapProto(*const GcProto);

impl HeapProto {
    fn kgc(&self, i: u32) -> Option<moonjet_gc::TValue> {
        // SAFETY: the prototype is live (`heap_ins_line`'s promise); the index is checked.
        unsafe { (i < (*self.0).sizekgc).then(|| *(*self.0).kgc.add(i as usize)) }
    }
}

impl Consts for HeapProto {
    fn str_const(&self, i: u32) -> Option<Vec<u8>> {
        let s = self.kgc(i)?.as_str()?;
        // SAFETY: a string constant of a live prototype.
        Some(unsafe { GcStr::bytes(s) }.to_vec())
    }
    fn num_const(&self, i: u32) -> Option<f64> {
        // SAFETY: as in `kgc`.
        unsafe { (i < (*self.0).sizekn).then(|| *(*self.0).kn.add(i as usize)) }
    }
    fn func_const(&self, i: u32) -> Option<Vec<u8>> {
        let k = self.kgc(i)?;
        if k.is_number() || k.itype() != moonjet_gc::value::itype::PROTO {
            return None;
        }
        let child: *const GcProto = k.gc_ptr().cast();
        // SAFETY: a child prototype of a live prototype is live.
        unsafe {
            Some(chunk_location(
                GcStr::bytes((*child).chunkname),
                (*child).firstline,
            ))
        }
    }
    fn uv_name(&self, i: u32) -> Vec<u8> {
        // SAFETY: as in `kgc`; upvalue names may be missing (stripped).
        unsafe {
            if i >= (*self.0).sizeuv || (*self.0).uvnames.is_null() {
                return Vec::new();
            }
            let name = *(*self.0).uvnames.add(i as usize);
            if name.is_null() {
                return Vec::new();
            }
            GcStr::bytes(name).to_vec()
        }
    }
}

/// Instruction `ins`, at `pc` of the live prototype `pt`, as `-jdump` lists what was
/// recorded: `prefix` where `-bl` marks jump targets (luajit puts a dot per frame level
/// of an inlined call there), no newline.
///
/// # Safety
/// `pt` is a live prototype.
pub unsafe fn heap_ins_line(pt: *const GcProto, pc: usize, ins: bc::Ins, prefix: &str) -> Vec<u8> {
    list_ins(&HeapProto(pt), pc, ins, prefix)
}

/// A string constant as listings show it: control characters escaped, other bytes raw,
/// cut at 40 bytes of the escaped text when the string is longer than 40.
fn quote(s: &[u8]) -> Vec<u8> {
    let mut esc = Vec::new();
    for &c in s {
        match c {
            b'\n' => esc.extend_from_slice(b"\\n"),
            b'\r' => esc.extend_from_slice(b"\\r"),
            b'\t' => esc.extend_from_slice(b"\\t"),
            c if c < 32 || c == 127 => esc.extend_from_slice(format!("\\{c:03}").as_bytes()),
            c => esc.push(c),
        }
    }
    let mut out = vec![b'"'];
    if s.len() > 40 {
        out.extend_from_slice(&esc[..esc.len().min(40)]);
        out.extend_from_slice(b"\"~");
    } else {
        out.extend_from_slice(&esc);
        out.push(b'"');
    }
    out
}

fn list_into(pt: &Proto, out: &mut Vec<u8>) {
    for k in &pt.kgc {
        if let KGc::Proto(child) = k {
            list_into(child, out);
        }
    }
    out.extend_from_slice(b"-- BYTECODE -- ");
    out.extend_from_slice(&location(pt));
    let _ = writeln!(out, "-{}", pt.firstline + pt.numline);
    // Jump targets get a `=>` marker.
    let mut target = vec![false; pt.bc.len() + 1];
    for (pc, &ins) in pt.bc.iter().enumerate().skip(1) {
        if let Some(o) = Op::from_u8(bc::op(ins)) {
            if o.modes().2 == Mode::Jump {
                let t = pc as i64 + 1 + bc::d(ins) as i64 - JUMP_BIAS as i64;
                if (0..target.len() as i64).contains(&t) {
                    target[t as usize] = true;
                }
            }
        }
    }
    for (pc, &ins) in pt.bc.iter().enumerate().skip(1) {
        let marker = if target[pc] { "=>" } else { "  " };
        out.extend_from_slice(&list_ins(pt, pc, ins, marker));
        out.push(b'\n');
    }
    out.push(b'\n');
}

fn list_ins(pt: &impl Consts, pc: usize, ins: bc::Ins, marker: &str) -> Vec<u8> {
    let Some(o) = Op::from_u8(bc::op(ins)) else {
        return format!("{pc:04}    ??? {ins:08x}").into_bytes();
    };
    let (ma, mb, mcd) = o.modes();
    let a = if ma == Mode::None {
        String::new()
    } else {
        bc::a(ins).to_string()
    };
    let s = format!("{:04} {marker} {:<6} {:>3} ", pc, o.name(), a);
    if mcd == Mode::Jump {
        let t = pc as i64 + 1 + bc::d(ins) as i64 - JUMP_BIAS as i64;
        return format!("{s}=> {t:04}").into_bytes();
    }
    let mut d = bc::d(ins);
    if mb != Mode::None {
        d &= 0xff;
    } else if mcd == Mode::None {
        return s.into_bytes();
    }
    let mut comment = match mcd {
        Mode::Str => pt.str_const(d).map(|s| quote(&s)),
        Mode::Num => pt.num_const(d).map(|n| {
            if o == Op::TSETM {
                fmt_num(n - 4503599627370496.0).into_bytes()
            } else {
                fmt_num(n).into_bytes()
            }
        }),
        Mode::Func => pt.func_const(d),
        Mode::Uv => Some(pt.uv_name(d)),
        _ => None,
    };
    if ma == Mode::Uv {
        let mut ka = pt.uv_name(bc::a(ins));
        if let Some(kc) = comment {
            ka.extend_from_slice(b" ; ");
            ka.extend_from_slice(&kc);
        }
        comment = Some(ka);
    }
    let mut line = s.into_bytes();
    if mb != Mode::None {
        let _ = write!(line, "{:3} {d:3}", bc::b(ins));
        if let Some(kc) = comment {
            line.extend_from_slice(b"  ; ");
            line.extend_from_slice(&kc);
        }
        return line;
    }
    if let Some(kc) = comment {
        let _ = write!(line, "{d:3}      ; ");
        line.extend_from_slice(&kc);
        return line;
    }
    let d = if mcd == Mode::Lits && d > 32767 {
        d as i64 - 65536
    } else {
        d as i64
    };
    let _ = write!(line, "{d:3}");
    line
}
