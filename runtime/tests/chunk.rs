//! Binary chunks: round trips of the whole corpus, the verifier against everything the
//! parser produces, every truncation and single-byte mutation of a few chunks, crafted
//! malformed chunks with their reasons, luajit's messages (checked against luajit 2.1),
//! and random input.

use moonjet_runtime::bc::{self, Op};
use moonjet_runtime::chunk::{self, LoadError};
use moonjet_runtime::proto::{flags, uvflag, KGc, Proto};
use moonjet_runtime::{bclist, parse};
use proptest::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

mod common;
use common::corpus_files;

/// Every corpus file the parser accepts, compiled with its `@name`.
fn corpus() -> Vec<(PathBuf, Proto)> {
    let mut files = corpus_files();
    files.sort();
    let mut out = vec![];
    for f in files {
        let src = std::fs::read(&f).unwrap();
        let name = format!("@{}", f.file_name().unwrap().to_string_lossy());
        match parse::parse(&src, name.as_bytes()) {
            Ok(pt) => out.push((f, pt)),
            // luajit rejects this file as a whole too.
            Err(_) if f.ends_with("lang/goto.lua") => {}
            Err(e) => panic!("{}: {}", f.display(), e.msg),
        }
    }
    assert!(out.len() >= 190, "only {} corpus files", out.len());
    out
}

fn compile(src: &str) -> Proto {
    parse::parse(src.as_bytes(), b"=t").unwrap_or_else(|e| panic!("{src}: {}", e.msg))
}

/// `pt` and all its descendants.
fn all_protos(pt: &Proto) -> Vec<&Proto> {
    let mut out = vec![];
    let mut stack = vec![pt];
    while let Some(p) = stack.pop() {
        out.push(p);
        for k in &p.kgc {
            if let KGc::Proto(c) = k {
                stack.push(c);
            }
        }
    }
    out
}

/// `pt` without debug info (what a stripped chunk keeps).
fn stripped(pt: &Proto) -> Proto {
    let mut p = pt.clone();
    p.lineinfo.clear();
    p.uvnames.clear();
    p.varinfo.clear();
    for k in &mut p.kgc {
        if let KGc::Proto(c) = k {
            **c = stripped(c);
        }
    }
    p
}

// ---- round trips and the verifier on the corpus -----------------------------------------------

#[test]
fn every_corpus_file_round_trips() {
    let mut bytes = 0;
    for (f, pt) in corpus() {
        let what = f.display();
        let full = chunk::dump(&pt, false);
        assert!(chunk::is_binary(&full));
        // The chunk keeps its own name: the name given to load does not matter.
        let back = chunk::load(&full, b"=other").unwrap_or_else(|e| panic!("{what}: {e:?}"));
        assert!(back == pt, "{what}: loaded prototype differs");
        assert_eq!(bclist::list(&back), bclist::list(&pt), "{what}");
        assert_eq!(chunk::dump(&back, false), full, "{what}: dump not stable");

        let small = chunk::dump(&pt, true);
        assert!(small.len() < full.len(), "{what}: stripping saved nothing");
        let back = chunk::load(&small, &pt.chunkname).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        let want = stripped(&pt);
        assert!(back == want, "{what}: stripped prototype differs");
        assert!(all_protos(&back)
            .iter()
            .all(|p| p.lineinfo.is_empty() && p.uvnames.is_empty() && p.varinfo.is_empty()));
        assert_eq!(bclist::list(&back), bclist::list(&want), "{what}");
        // A stripped chunk takes the name load is given.
        let renamed = chunk::load(&small, b"=given").unwrap();
        assert!(all_protos(&renamed)
            .iter()
            .all(|p| *p.chunkname == *b"=given"));
        bytes += full.len();
    }
    assert!(bytes > 100_000, "corpus dumps only {bytes} bytes");
}

#[test]
fn verifier_accepts_every_parsed_prototype() {
    let mut n = 0;
    for (f, pt) in corpus() {
        for p in all_protos(&pt) {
            if let Err(e) = chunk::verify(p) {
                panic!("{}: {e}", f.display());
            }
            n += 1;
        }
    }
    assert!(n > 900, "only {n} prototypes");
}

/// Shapes the corpus may not cover: returns moved behind UCLO (with MULTRES), loops with
/// closures and gotos, big table constructors ending in a call, nested constructors.
const SHAPES: &[&str] = &[
    "local function f(...) if a then return ... end local x; g = function() return x end return 1 end",
    "local function f(a, ...) if a then return h(a, ...) end local x; g = function() return x end end",
    "local function f(...) while a do if b then return f(...) end local y; g = function() return y end end end",
    "for i = 1, 2 do for j = 1, 2 do if j == 1 then goto continue end print(i) ::continue:: end end",
    "for k, v in pairs(t) do local w = v; f(function() return k, w end) if w then break end end",
    "for _, v in ipairs(t) do for i = 1, v do g = function() return i end end end",
    "repeat local x = 1; g = function() return x end until x",
    "while true do local x = f(); if x then g = function() return x end goto out end end ::out::",
    "local t = { {f()}, {g(...)}, h(...) }",
    "local t = {n = select('#', ...), ...}",
    "return {1, 2, [3] = 3, x = f(), f()}, ...",
    "local a, b, c = ...; local d = ... return a, b, c, d, ...",
    "local x = 1; local function f() x = 2 end; local function g() return x end",
    "local s = 0; for i = 10, 1, -1 do s = s .. i end; return s",
    "do local a; f = function() return a end end local t = {f()}",
    "local t = {} for i = 1, 10 do t[#t + 1] = function() return i end end return t",
    "local function f(n) if n == 0 then return 1 end return n * f(n - 1) end return f(5)",
    "x = 1LL + 2ULL * 3i; local function f() return 4LL end",
];

#[test]
fn verifier_accepts_awkward_parser_output() {
    let mut big = String::from("local t = {");
    for i in 1..300 {
        big += &format!("{i},");
    }
    big += "x, f()}";
    for src in SHAPES.iter().copied().chain([big.as_str()]) {
        let pt = compile(src);
        for p in all_protos(&pt) {
            if let Err(e) = chunk::verify(p) {
                panic!(
                    "{src}: {e}\n{}",
                    String::from_utf8_lossy(&bclist::list(&pt))
                );
            }
        }
        let back = chunk::load(&chunk::dump(&pt, false), b"=t").unwrap();
        assert!(back == pt, "{src}");
    }
}

// ---- truncations and single-byte mutations ----------------------------------------------------

/// Chunks of different shapes: closures and upvalues in a numeric loop; varargs, MULTRES
/// and a generic loop over `pairs`; constants, templates and while/repeat/goto; FFI
/// constants in nested functions (stripped).
const MUTATED: &[(&str, bool)] = &[
    (
        "local function counter(n)
           local c = 0
           return function(k) c = c + (k or 1) if c > n then return nil end return c end
         end
         for i = 1, 3 do local f = counter(i) print(f(), f(2)) end",
        false,
    ),
    (
        "local function pack(...) return {n = select('#', ...), ...} end
         local t = pack(1, 2, 'x')
         for k, v in pairs(t) do print(k, v) end
         for i, v in ipairs({f(), g(...)}) do t[i] = v .. '!' end
         return unpack(t)",
        false,
    ),
    (
        "local t = {1, 2.5, 'three', x = true, [10] = false, y = {z = 1e300}}
         local s = 0
         while s < 100.25 do s = s * 1.5 + 1 if s == 7 then break end end
         repeat s = s - 3 until s <= -0.5 or t.x ~= nil
         ::top:: if s ~= s then goto top end
         return s, t[10], #t",
        false,
    ),
    (
        "local a, b = 1LL, 2ULL
         local function f(x) local function g(y) return x * y + 3i end return g end
         local function h(t, ...)
           local s = 0x7fffffffffffffffLL
           for i = 1, select('#', ...) do s = s - t[i] * 12ULL end
           return s, -2.5i, ...
         end
         return f(a)(b), -0x10LL, h({1LL, 2LL}, 3, 4)",
        true,
    ),
];

/// Load `bytes`; a prototype that loads must verify, list, and round-trip.
fn load_checked(bytes: &[u8]) -> Result<Proto, LoadError> {
    let r = chunk::load(bytes, b"=m");
    if let Ok(p) = &r {
        chunk::verify(p).expect("load returned a prototype verify rejects");
        bclist::list(p);
        // Compared as bytes: a mutated number may be a NaN, which is never == itself.
        let again = chunk::load(&chunk::dump(p, false), b"=m").expect("reload");
        assert_eq!(chunk::dump(&again, false), chunk::dump(p, false));
    }
    r
}

#[test]
fn every_truncation_and_byte_mutation_fails_cleanly_or_verifies() {
    let (mut tried, mut loaded, mut truncations) = (0usize, 0usize, 0usize);
    let mut sizes = vec![];
    for &(src, strip) in MUTATED {
        let pt = compile(src);
        let bytes = chunk::dump(&pt, strip);
        assert!(
            (200..=2000).contains(&bytes.len()),
            "chunk of {} bytes: {src}",
            bytes.len()
        );
        assert!(load_checked(&bytes).is_ok());
        sizes.push(bytes.len());
        for len in 0..bytes.len() {
            let cut = &bytes[..len];
            let r = catch_unwind(|| chunk::load(cut, b"=m"))
                .unwrap_or_else(|_| panic!("panic on truncation to {len} bytes"));
            assert!(r.is_err(), "truncation to {len} bytes loaded");
            truncations += 1;
        }
        let mut m = bytes.clone();
        for i in 0..bytes.len() {
            let b = bytes[i];
            let mut values = vec![0x00, 0xff, b ^ 0x01, b ^ 0x80, b.wrapping_add(1)];
            values.sort_unstable();
            values.dedup();
            for v in values.into_iter().filter(|&v| v != b) {
                m[i] = v;
                let r = catch_unwind(AssertUnwindSafe(|| load_checked(&m)))
                    .unwrap_or_else(|_| panic!("panic with byte {i} set to {v:#04x}"));
                tried += 1;
                loaded += r.is_ok() as usize;
            }
            m[i] = b;
        }
    }
    eprintln!(
        "chunks of {sizes:?} bytes: {truncations} truncations, {tried} mutations, \
         {loaded} of them loaded and verified"
    );
    assert!(tried > 5000, "only {tried} mutations");
    // Mutations of names, line numbers and constants load; a verifier that refused
    // everything would be useless.
    assert!(loaded > 100, "only {loaded} mutants loaded");
}

// ---- crafted malformed chunks -------------------------------------------------------------

fn pc_of(p: &Proto, op: Op) -> usize {
    p.bc.iter()
        .position(|&i| bc::op(i) == op as u8)
        .unwrap_or_else(|| panic!("no {}", op.name()))
}

/// The first child prototype.
fn child(p: &mut Proto) -> &mut Proto {
    p.kgc
        .iter_mut()
        .find_map(|k| match k {
            KGc::Proto(c) => Some(&mut **c),
            _ => None,
        })
        .expect("a child")
}

/// `pt` (loadable before `edit`) is rejected, by `verify` and by `load`, with a reason
/// containing `why`.
fn rejects(src: &str, why: &str, edit: impl FnOnce(&mut Proto)) {
    let mut pt = compile(src);
    assert!(
        chunk::load(&chunk::dump(&pt, false), b"=t").is_ok(),
        "{src}"
    );
    edit(&mut pt);
    let e = chunk::verify(&pt).expect_err(why);
    assert!(e.contains(why), "{src}: want {why:?}, verify says {e:?}");
    match chunk::load(&chunk::dump(&pt, false), b"=t") {
        Err(LoadError::Malformed(m)) => assert!(m.contains(why), "want {why:?}, load says {m:?}"),
        r => panic!("{src}: want {why:?}, got {r:?}"),
    }
}

fn set(p: &mut Proto, pc: usize, ins: u32) {
    p.bc[pc] = ins;
}

#[test]
fn register_out_of_frame() {
    rejects("local a, b = 1, 2; a = b", "outside the frame", |p| {
        let pc = pc_of(p, Op::MOV);
        set(p, pc, bc::ad(Op::MOV, 0, p.framesize as u32));
    });
    rejects("f(1, 2)", "call slots", |p| {
        let pc = pc_of(p, Op::CALL);
        let i = p.bc[pc];
        set(p, pc, bc::set_c(i, p.framesize as u32));
    });
    rejects(
        "local a, b, c = 1, 2, 3 x = a .. b .. c",
        "operand slots",
        |p| {
            let pc = pc_of(p, Op::CAT);
            let i = p.bc[pc];
            set(p, pc, bc::set_c(i, 200));
        },
    );
    rejects("for k, v in f, t do end", "3 control slots", |p| {
        let pc = pc_of(p, Op::ITERC);
        for i in [pc, pc + 1] {
            p.bc[i] = bc::set_a(p.bc[i], 2);
        }
    });
    rejects("local a, b = 1, 2 return a, b", "return slots", |p| {
        let pc = pc_of(p, Op::RET);
        set(p, pc, bc::ad(Op::RET, 0, 40));
    });
}

#[test]
fn bad_frame_and_prototype_fields() {
    rejects("x = 1", "bad framesize", |p| p.framesize = 0);
    rejects("x = 1", "bad framesize", |p| {
        p.framesize = 251;
        p.bc[0] = bc::ad(Op::FUNCV, 251, 0);
    });
    rejects("local function f(a, b) end", "numparams", |p| {
        child(p).numparams = 9
    });
    rejects("x = 1", "bad prototype flags", |p| p.flags |= flags::NOJIT);
    rejects("x = 1", "line entries", |p| {
        p.lineinfo.pop();
    });
    rejects(
        "local x; f = function() return x end",
        "upvalue names",
        |p| {
            child(p).uvnames.push(b"y".as_slice().into());
        },
    );
    rejects("local x = 1", "variable range", |p| p.varinfo[0].endpc = 99);
    rejects("x = 1", "firstline + numline", |p| {
        p.firstline = u32::MAX;
        p.numline = 1;
    });
    rejects("x = 2^0.5", "non-canonical NaN", |p| {
        p.kn.push(f64::from_bits(0xFFFD_8000_1234_5678));
    });
    rejects("local t = {a = 1, b = 2}", "duplicate key", |p| {
        if let KGc::Table(t) = &mut p.kgc[0] {
            t.hash[1].0 = t.hash[0].0.clone();
        }
    });
    rejects("x = function() end", "CHILD flag", |p| {
        p.flags &= !flags::CHILD
    });
    rejects("x = 1LL", "FFI flag", |p| p.flags &= !flags::FFI);
}

#[test]
fn bad_header_instruction() {
    rejects("x = 1", "header", |p| p.bc[0] = bc::ad(Op::FUNCV, 9, 0));
    rejects("x = 1", "header", |p| p.bc[0] = bc::ad(Op::FUNCF, 2, 0));
    rejects("x = 1", "header", |p| p.bc[0] = bc::ad(Op::JFUNCV, 2, 0));
    rejects("local function f() end", "header", |p| {
        let c = child(p);
        c.bc[0] = bc::ad(Op::FUNCV, c.framesize as u32, 0);
    });
    rejects("x = 1", "header after pc 0", |p| {
        let fs = p.framesize as u32;
        p.bc.insert(1, bc::ad(Op::FUNCV, fs, 0));
        p.lineinfo.insert(1, 0);
    });
}

#[test]
fn constant_index_out_of_range_or_wrong_kind() {
    rejects("x = 's'", "constant index 2 out of range", |p| {
        let pc = pc_of(p, Op::KSTR);
        set(p, pc, bc::ad(Op::KSTR, 0, 2));
    });
    rejects("x = 0.5", "number constant index 1 out of range", |p| {
        let pc = pc_of(p, Op::KNUM);
        set(p, pc, bc::ad(Op::KNUM, 0, 1));
    });
    rejects("local t = {a = 1} x = 's'", "wrong constant kind", |p| {
        let k = p
            .kgc
            .iter()
            .position(|k| matches!(k, KGc::Table(_)))
            .unwrap();
        let pc = pc_of(p, Op::KSTR);
        set(p, pc, bc::ad(Op::KSTR, 1, k as u32));
    });
    rejects("f = function() end", "wrong constant kind", |p| {
        let pc = pc_of(p, Op::GSET);
        let i = p.bc[pc];
        set(p, pc, bc::set_d(i, 0));
    });
    rejects("x = 1LL y = 'a'", "wrong constant kind", |p| {
        let pc = pc_of(p, Op::KCDATA);
        set(p, pc, bc::ad(Op::KCDATA, 0, 2));
    });
    rejects("x = true", "primitive 3", |p| {
        let pc = pc_of(p, Op::KPRI);
        set(p, pc, bc::ad(Op::KPRI, 0, 3));
    });
    rejects(
        "local function f() return x end",
        "upvalue 0 out of range",
        |p| {
            let c = child(p);
            let pc = pc_of(c, Op::GGET);
            set(c, pc, bc::ad(Op::UGET, 0, 0));
        },
    );
    rejects("local t = {f()}", "2^52", |p| {
        let pc = pc_of(p, Op::TSETM);
        let k = bc::d(p.bc[pc]) as usize;
        p.kn[k] = 1.5;
    });
}

#[test]
fn jump_out_of_range() {
    let src = "local a, b = 1, 2 if a < b then x = 1 end";
    rejects(src, "jump out of range", |p| {
        let pc = pc_of(p, Op::JMP);
        let past_end = p.bc.len() - pc - 1;
        set(p, pc, bc::ad(Op::JMP, 2, 0x8000 + past_end as u32));
    });
    rejects(src, "jump out of range", |p| {
        let pc = pc_of(p, Op::JMP);
        // To pc 0, the header.
        set(p, pc, bc::ad(Op::JMP, 2, 0x8000 - pc as u32 - 1));
    });
}

#[test]
fn comparison_not_followed_by_jmp() {
    rejects(
        "local a, b = 1, 2 if a < b then x = 1 end",
        "not followed by JMP",
        |p| {
            let pc = pc_of(p, Op::JMP);
            set(p, pc, bc::ad(Op::MOV, 0, 1));
        },
    );
    rejects("if x then y = 1 end", "not followed by JMP", |p| {
        let pc = pc_of(p, Op::JMP);
        set(p, pc, bc::ad(Op::KPRI, 0, 0));
    });
}

#[test]
fn falling_off_the_end() {
    rejects("x = 1", "falls off the end", |p| {
        p.bc.pop();
        p.lineinfo.pop();
    });
    // A test whose JMP is the last instruction: not taken, execution runs off.
    rejects("if x then end", "falls off the end", |p| {
        let n = p.bc.len();
        p.bc.truncate(n - 1);
        p.lineinfo.truncate(n - 1);
        let last = p.bc.len() - 1;
        p.bc[last] = bc::ad(Op::JMP, 1, 0x8000 - 2);
    });
}

#[test]
fn j_and_i_variants_and_reserved_opcodes() {
    let lp = "for i = 1, 2 do end";
    rejects(lp, "J- or I-variant", |p| {
        let pc = pc_of(p, Op::FORL);
        let i = p.bc[pc];
        set(p, pc, bc::set_op(i, Op::JFORL));
    });
    rejects(lp, "J- or I-variant", |p| {
        let pc = pc_of(p, Op::FORL);
        let i = p.bc[pc];
        set(p, pc, bc::set_op(i, Op::IFORL));
    });
    rejects(lp, "J- or I-variant", |p| {
        let pc = pc_of(p, Op::FORI);
        let i = p.bc[pc];
        set(p, pc, bc::set_op(i, Op::JFORI));
    });
    rejects("while x do end", "J- or I-variant", |p| {
        let pc = pc_of(p, Op::LOOP);
        let i = p.bc[pc];
        set(p, pc, bc::set_op(i, Op::JLOOP));
    });
    rejects("x = 1", "C function header", |p| {
        p.bc[1] = bc::ad(Op::FUNCC, 0, 0)
    });
    rejects("local a = x", "built-in", |p| {
        let pc = pc_of(p, Op::GGET);
        set(p, pc, bc::ad(Op::ISNUM, 0, 0));
    });
    rejects("local a = t[k]", "built-in", |p| {
        let pc = pc_of(p, Op::TGETV);
        let i = p.bc[pc];
        set(p, pc, bc::set_op(i, Op::TGETR));
    });
    rejects("x = 1", "unknown opcode 200", |p| p.bc[1] = 200);
}

#[test]
fn multres_consumer_without_producer() {
    rejects("f(g())", "MULTRES", |p| {
        let pc = pc_of(p, Op::CALL);
        let i = p.bc[pc];
        set(p, pc, bc::set_b(i, 2));
    });
    // The producer writes somewhere else than the consumer reads from.
    rejects("f(g())", "MULTRES", |p| {
        let pc = pc_of(p, Op::CALLM);
        let i = p.bc[pc];
        set(p, pc, bc::set_c(i, 1));
    });
    rejects("local function f(...) return ... end", "MULTRES", |p| {
        let c = child(p);
        let pc = pc_of(c, Op::VARG);
        set(c, pc, bc::abc(Op::VARG, 0, 2, 0));
    });
    // A jump into the consumer: MULTRES would be stale.
    rejects("local a = {...}", "MULTRES", |p| {
        let pc = pc_of(p, Op::VARG);
        let fs = p.framesize as u32;
        // TNEW; JMP => TSETM; VARG; TSETM
        p.bc.insert(pc, bc::ad(Op::JMP, fs, 0x8000 + 1));
        p.lineinfo.insert(pc, 0);
    });
}

#[test]
fn loops_and_iterators_must_pair_up() {
    rejects("for k, v in f, t do end", "not followed by ITERL", |p| {
        let pc = pc_of(p, Op::ITERL);
        let i = p.bc[pc];
        set(p, pc, bc::set_op(i, Op::JMP));
    });
    rejects("for i = 1, 2 do x = i end", "just after its FORL", |p| {
        let pc = pc_of(p, Op::FORI);
        let i = p.bc[pc];
        set(p, pc, bc::set_d(i, bc::d(i) - 1));
    });
    // A FORL without its FORI.
    rejects("for i = 1, 2 do x = i end", "just after its FORI", |p| {
        let pc = pc_of(p, Op::FORI);
        let i = p.bc[pc];
        set(p, pc, bc::set_op(i, Op::JMP));
    });
    rejects(
        "for k, v in pairs(t) do end",
        "does not jump to its ITERN",
        |p| {
            let pc = pc_of(p, Op::ITERN);
            let i = p.bc[pc];
            set(p, pc, bc::set_op(i, Op::ITERC));
        },
    );
    rejects("for k in pairs(t) do x = k end", "lands on ITERL", |p| {
        let g = pc_of(p, Op::GSET);
        let l = pc_of(p, Op::ITERL);
        let fs = p.framesize as u32;
        set(p, g, bc::ad(Op::JMP, fs, 0x8000 + (l - g - 1) as u32));
    });
}

#[test]
fn loop_bodies_keep_their_control_slots() {
    rejects(
        "for i = 1, 3 do local x = i end",
        "loop control slot",
        |p| {
            let pc = pc_of(p, Op::MOV);
            set(p, pc, bc::ad(Op::MOV, 1, 3));
        },
    );
    rejects(
        "for k, v in pairs(t) do local x = v end",
        "iterator control slot",
        |p| {
            let pc = pc_of(p, Op::MOV);
            set(p, pc, bc::ad(Op::KSHORT, 1, 7));
        },
    );
    rejects("for i = 1, 3 do f() end", "loop control slot", |p| {
        let pc = pc_of(p, Op::CALL);
        let i = p.bc[pc];
        set(p, pc, bc::set_a(i, 2));
        let g = pc_of(p, Op::GGET);
        p.bc[g] = bc::set_a(p.bc[g], 2);
    });
    rejects(
        "local t = {1, f()}",
        "slot 0 is not last written by a TNEW",
        |p| {
            let pc = pc_of(p, Op::GGET);
            set(p, pc, bc::ad(Op::GGET, 0, 1));
        },
    );
    // A closure over the table slot, made while the table is being filled.
    rejects(
        "local t = {function() end, f()}",
        "upvalue may be open on slot 0, a table slot of a TSETM",
        |p| {
            let c = child(p);
            c.uv.push(uvflag::LOCAL);
            c.uvnames.push(b"t".as_slice().into());
        },
    );
    // A closure that can write the loop index from inside the body.
    rejects(
        "for i = 1, 3 do g = function() return i end end",
        "upvalue may be open on slot 0",
        |p| {
            let c = child(p);
            c.uv[0] = uvflag::LOCAL;
        },
    );
}

#[test]
fn jumps_into_a_loop_body() {
    rejects(
        "local a if a then x = 1 end for i = 1, 3 do y = i end",
        "into the middle of region",
        |p| {
            let j = pc_of(p, Op::JMP);
            let body = pc_of(p, Op::FORI) + 1;
            let i = p.bc[j];
            set(p, j, bc::set_d(i, 0x8000 + (body - j - 1) as u32));
        },
    );
}

#[test]
fn upvalues_are_closed_before_returning() {
    let src = "local function f() local x; local g = function() return x end; return g end";
    rejects(src, "returns while an upvalue on slot 0 may be open", |p| {
        let c = child(p);
        let pc = pc_of(c, Op::UCLO);
        let i = c.bc[pc];
        set(c, pc, bc::set_op(i, Op::JMP));
    });
    rejects(src, "captures slot 9 outside the frame", |p| {
        let c = child(child(p));
        c.uv[0] = uvflag::LOCAL | 9;
    });
    rejects(src, "takes upvalue 3", |p| {
        let c = child(child(p));
        c.uv[0] = 3;
    });
    rejects(
        "local x = 1; local function g() return x end",
        "immutable",
        |p| {
            let c = child(p);
            let pc = pc_of(c, Op::UGET);
            set(c, pc, bc::ad(Op::USETP, 0, 0));
        },
    );
}

#[test]
fn varargs_only_in_vararg_functions() {
    rejects(
        "local function f(a, ...) return ... end",
        "not vararg",
        |p| {
            let c = child(p);
            c.flags &= !flags::VARARG;
            c.bc[0] = bc::ad(Op::FUNCF, c.framesize as u32, 0);
        },
    );
    rejects(
        "local function f(a, ...) local b = ... end",
        "numparams",
        |p| {
            let c = child(p);
            let pc = pc_of(c, Op::VARG);
            let i = c.bc[pc];
            set(c, pc, bc::set_c(i, 0));
        },
    );
}

/// A chain of `depth` prototypes, each creating the next.
fn nested(depth: usize) -> Proto {
    let mut p = Proto {
        chunkname: b"=deep".as_slice().into(),
        framesize: 1,
        bc: vec![bc::ad(Op::FUNCF, 1, 0), bc::ad(Op::RET0, 0, 1)],
        ..Proto::default()
    };
    for _ in 1..depth {
        p = Proto {
            chunkname: b"=deep".as_slice().into(),
            framesize: 1,
            flags: flags::CHILD,
            bc: vec![
                bc::ad(Op::FUNCF, 1, 0),
                bc::ad(Op::FNEW, 0, 0),
                bc::ad(Op::RET1, 0, 2),
            ],
            kgc: vec![KGc::Proto(Box::new(p))],
            ..Proto::default()
        };
    }
    p
}

#[test]
fn nesting_deeper_than_the_cap() {
    let ok = nested(chunk::MAX_DEPTH);
    assert_eq!(chunk::verify(&ok), Ok(()));
    assert!(chunk::load(&chunk::dump(&ok, false), b"=t").unwrap() == ok);
    let deep = nested(chunk::MAX_DEPTH + 1);
    assert!(chunk::verify(&deep).unwrap_err().contains("nested deeper"));
    match chunk::load(&chunk::dump(&deep, false), b"=t") {
        Err(LoadError::Malformed(m)) => assert!(m.contains("nested deeper"), "{m}"),
        r => panic!("{r:?}"),
    }
}

/// Header of a chunk for this host, unstripped, named `=t`.
fn header() -> Vec<u8> {
    let mut h = chunk::dump(&compile("x = 1"), false);
    h.truncate(4 + 1 + 1 + 2);
    assert_eq!(&h[6..], b"=t");
    h
}

fn uleb(v: u64) -> Vec<u8> {
    let mut out = vec![];
    let mut v = v;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn malformed(bytes: &[u8], why: &str) {
    match chunk::load(bytes, b"=t") {
        Err(LoadError::Malformed(m)) => assert!(m.contains(why), "want {why:?}, got {m:?}"),
        r => panic!("want {why:?}, got {r:?}"),
    }
}

#[test]
fn huge_counts_and_bad_structure() {
    // A prototype length beyond the input.
    malformed(&[header(), uleb(1 << 62)].concat(), "count");
    // A ULEB128 longer than 64 bits.
    malformed(&[header(), vec![0xff; 11]].concat(), "overflows 64 bits");
    // Counts inside a prototype body that the body cannot hold.
    let mut body = vec![0, 0, 1];
    body.extend(uleb(1 << 40));
    body.extend([0u8; 16]);
    malformed(
        &[header(), uleb(body.len() as u64), body, uleb(0)].concat(),
        "instruction count: count 1099511627776 larger",
    );
    let mut body = vec![0, 0, 1, 2, 0, 1];
    body.extend(uleb(u32::MAX as u64));
    malformed(
        &[header(), uleb(body.len() as u64), body, uleb(0)].concat(),
        "larger than",
    );
    // A string constant longer than what is left.
    let mut pt = compile("x = 'abc'");
    pt.kgc[0] = KGc::Str(vec![b'a'; 40].into());
    let mut bytes = chunk::dump(&pt, true);
    let at = bytes.windows(40).position(|w| w == [b'a'; 40]).unwrap();
    bytes[at - 1] = 0x7f; // string tag 5 + 0x7a bytes, in one ULEB byte
    malformed(&bytes, "only");

    let good = chunk::dump(&compile("x = function() end"), false);
    // Bytes after the end marker.
    malformed(
        &[good.clone(), vec![0]].concat(),
        "after the last prototype",
    );
    // The end marker missing.
    malformed(&good[..good.len() - 1], "truncated");
    // Two prototypes and no parent (the child alone before the end marker, twice).
    let n = good.len();
    let child_len = good[8] as usize;
    let child = good[8..9 + child_len].to_vec();
    malformed(
        &[good[..8].to_vec(), child.clone(), child, vec![0]].concat(),
        "left without a parent",
    );
    // The parent alone: its child constant has nothing to refer to.
    let parent = good[9 + child_len..n - 1].to_vec();
    malformed(
        &[good[..8].to_vec(), parent, vec![0]].concat(),
        "child prototypes wanted",
    );
    // The header says FFI, the main function does not.
    let mut ffi = good.clone();
    ffi[4] |= chunk::hflag::FFI as u8;
    malformed(&ffi, "FFI flag");
    // No prototype at all.
    malformed(&[header(), vec![0]].concat(), "0 prototypes");
}

#[test]
fn wrong_magic_version_endianness_or_pointer_size_is_incompatible() {
    let good = chunk::dump(&compile("return 1"), false);
    let incompatible = |b: &[u8]| {
        assert_eq!(
            chunk::load(b, b"=t").unwrap_err(),
            LoadError::Incompatible,
            "{b:?}"
        );
    };
    for i in 0..4 {
        let mut b = good.clone();
        b[i] ^= 0x20;
        incompatible(&b);
    }
    // luajit's own bytecode.
    incompatible(b"\x1bLJ\x02\x0a");
    for flag in [chunk::hflag::BE, chunk::hflag::PTR64, 0x10, 0x80] {
        let mut b = good.clone();
        b[4] ^= flag as u8;
        incompatible(&b);
    }
    // A header cut short is incompatible too (as in luajit); after it, malformed.
    for n in 0..5 {
        incompatible(&good[..n]);
    }
    assert!(matches!(
        chunk::load(&good[..6], b"=t"),
        Err(LoadError::Malformed(_))
    ));
    assert!(chunk::is_binary(&good) && chunk::is_binary(b"\x1b"));
    assert!(!chunk::is_binary(b"return 1") && !chunk::is_binary(b""));
}

#[test]
fn messages_read_like_luajit() {
    // luajit 2.1's `select(2, loadstring(bad, name))` for each name.
    let inc = LoadError::Incompatible;
    let bad = LoadError::Malformed("detail".into());
    assert_eq!(inc.message(b"=x"), "x: cannot load incompatible bytecode");
    assert_eq!(bad.message(b"=x"), "x: cannot load malformed bytecode");
    assert_eq!(
        bad.message(b"@foo.lua"),
        "foo.lua: cannot load malformed bytecode"
    );
    assert_eq!(bad.message(b"abc"), "abc: cannot load malformed bytecode");
    // The default name of `loadstring(s)` is `s`, which starts with ESC.
    assert_eq!(
        bad.message(b"\x1bLJ\x02\x0a"),
        "(binary): cannot load malformed bytecode"
    );
    // Names are neither cut nor quoted.
    let long = format!("={}", "n".repeat(100));
    assert_eq!(
        bad.message(long.as_bytes()),
        format!("{}: cannot load malformed bytecode", "n".repeat(100))
    );
    assert_eq!(
        bad.message(b"multi\nline"),
        "multi\nline: cannot load malformed bytecode"
    );
    assert_eq!(inc.message(b"=q"), "q: cannot load incompatible bytecode");
    // The detail stays out of the message.
    assert!(!bad.message(b"=x").contains("detail"));
}

// ---- random input -------------------------------------------------------------------------

/// 512 cases unless PROPTEST_CASES says otherwise.
fn config() -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 512;
    }
    c
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_after_a_valid_header_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let bytes = [header(), tail].concat();
        let _ = load_checked(&bytes);
    }

    #[test]
    fn random_prototype_bodies_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..300),
        small in prop::collection::vec(0u8..4, 0..300),
    ) {
        // Bodies of the declared length, with many small bytes so counts stay plausible.
        let body: Vec<u8> = body.iter().zip(small.iter().chain(std::iter::repeat(&0)))
            .map(|(&b, &s)| if b & 1 == 0 { s } else { b })
            .collect();
        let bytes = [header(), uleb(body.len() as u64), body, uleb(0)].concat();
        let _ = load_checked(&bytes);
    }

    #[test]
    fn random_instructions_in_a_valid_prototype_never_panic(
        which in 0..MUTATED.len(),
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), 0..bc::NUM_OPS as u32, 0u32..12, 0u32..12, 0u32..12, -12i32..12, any::<bool>()),
            1..6,
        ),
    ) {
        // Plausible instructions (existing opcodes, small operands, short jumps) where
        // the verifier's deeper rules decide, rather than its first range check.
        let (src, strip) = MUTATED[which];
        let mut pt = compile(src);
        if strip {
            pt = stripped(&pt);
        }
        for (i, o, a, b, c, j, jump) in edits {
            let pc = 1 + i.index(pt.bc.len() - 1);
            let op = Op::from_u8(o as u8).unwrap();
            pt.bc[pc] = if jump {
                bc::ad(op, a, (0x8000 + j) as u32)
            } else {
                bc::abc(op, a, b, c)
            };
        }
        let verdict = chunk::verify(&pt);
        let loaded = load_checked(&chunk::dump(&pt, strip));
        // load decides as verify does.
        prop_assert_eq!(verdict.is_ok(), loaded.is_ok());
    }

    #[test]
    fn random_mutations_of_a_valid_chunk_never_panic(
        which in 0..MUTATED.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let (src, strip) = MUTATED[which];
        let mut bytes = chunk::dump(&compile(src), strip);
        for (i, v) in edits {
            let i = i.index(bytes.len());
            bytes[i] = v;
        }
        let _ = load_checked(&bytes);
    }
}
