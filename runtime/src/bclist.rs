//! Bytecode listings in the layout of `luajit -bl`: child functions first (in constant
//! order), each as a `-- BYTECODE -- chunk:first-last` header, one line per instruction
//! (`NNNN    OPNAME   A   B   C  ; comment`, `=>` marking jump targets), and a blank line.

use crate::bc::{self, Mode, Op, JUMP_BIAS};
use crate::num::fmt_num;
use crate::proto::{KGc, Proto};
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
    let name = &pt.chunkname;
    let mut out = match name.first() {
        Some(b'@') | Some(b'=') => name[1..].to_vec(),
        _ => [b"\"", &name[..], b"\""].concat(),
    };
    let _ = write!(out, ":{}", pt.firstline);
    out
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
        out.extend_from_slice(&list_ins(pt, pc, ins, target[pc]));
        out.push(b'\n');
    }
    out.push(b'\n');
}

fn uv_name(pt: &Proto, i: u32) -> Vec<u8> {
    pt.uvnames
        .get(i as usize)
        .map(|n| n.to_vec())
        .unwrap_or_default()
}

fn list_ins(pt: &Proto, pc: usize, ins: bc::Ins, is_target: bool) -> Vec<u8> {
    let Some(o) = Op::from_u8(bc::op(ins)) else {
        return format!("{pc:04}    ??? {ins:08x}").into_bytes();
    };
    let (ma, mb, mcd) = o.modes();
    let a = if ma == Mode::None {
        String::new()
    } else {
        bc::a(ins).to_string()
    };
    let s = format!(
        "{:04} {} {:<6} {:>3} ",
        pc,
        if is_target { "=>" } else { "  " },
        o.name(),
        a
    );
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
        Mode::Str => match pt.kgc.get(d as usize) {
            Some(KGc::Str(s)) => Some(quote(s)),
            _ => None,
        },
        Mode::Num => pt.kn.get(d as usize).map(|&n| {
            if o == Op::TSETM {
                fmt_num(n - 4503599627370496.0).into_bytes()
            } else {
                fmt_num(n).into_bytes()
            }
        }),
        Mode::Func => match pt.kgc.get(d as usize) {
            Some(KGc::Proto(child)) => Some(location(child)),
            _ => None,
        },
        Mode::Uv => Some(uv_name(pt, d)),
        _ => None,
    };
    if ma == Mode::Uv {
        let mut ka = uv_name(pt, bc::a(ins));
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
