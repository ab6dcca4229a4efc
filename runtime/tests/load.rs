//! Compiled prototypes become heap prototypes intact, survive collections while rooted,
//! and are freed completely once unrooted, also when the collector runs at every
//! allocation of the conversion.

use moonjet_gc::object::GcProto;
use moonjet_gc::value::itype;
use moonjet_gc::{table, GcStr, Heap, TValue};
use moonjet_runtime::load::{materialize, MaterializeError};
use moonjet_runtime::parse::parse;
use moonjet_runtime::proto::{KGc, Proto, TabConst};

mod common;
use common::corpus_files;

fn has_cdata(pt: &Proto) -> bool {
    pt.kgc.iter().any(|k| match k {
        KGc::Cdata(_) => true,
        KGc::Proto(c) => has_cdata(c),
        _ => false,
    })
}

fn bytes(s: *mut GcStr) -> Vec<u8> {
    unsafe { GcStr::bytes(s).to_vec() }
}

fn tab_const_matches(v: TValue, k: &TabConst) -> bool {
    match k {
        TabConst::Nil => v.is_nil(),
        TabConst::False => v == TValue::FALSE,
        TabConst::True => v == TValue::TRUE,
        TabConst::Num(n) => v.as_number() == Some(*n),
        TabConst::Str(s) => v.as_str().is_some_and(|p| bytes(p) == **s),
    }
}

/// The heap prototype says exactly what the compiled one says.
fn check_same(p: *mut GcProto, pt: &Proto) {
    unsafe {
        assert_eq!((*p).numparams, pt.numparams);
        assert_eq!((*p).framesize, pt.framesize);
        assert_eq!((*p).firstline, pt.firstline);
        assert_eq!((*p).numline, pt.numline);
        assert_eq!(
            std::slice::from_raw_parts((*p).bc, (*p).sizebc as usize),
            &pt.bc[..]
        );
        assert_eq!(
            std::slice::from_raw_parts((*p).kn, (*p).sizekn as usize),
            &pt.kn[..]
        );
        assert_eq!(
            std::slice::from_raw_parts((*p).uv, (*p).sizeuv as usize),
            &pt.uv[..]
        );
        if pt.lineinfo.is_empty() {
            assert!((*p).lineinfo.is_null());
        } else {
            assert_eq!(
                std::slice::from_raw_parts((*p).lineinfo, pt.bc.len()),
                &pt.lineinfo[..]
            );
        }
        assert_eq!(bytes((*p).chunkname), *pt.chunkname);
        for (i, n) in pt.uvnames.iter().enumerate() {
            assert_eq!(bytes(*(*p).uvnames.add(i)), **n);
        }
        assert_eq!((*p).sizevarinfo as usize, pt.varinfo.len());
        for (i, v) in pt.varinfo.iter().enumerate() {
            let gv = *(*p).varinfo.add(i);
            assert_eq!(
                (bytes(gv.name), gv.startpc, gv.endpc),
                (v.name.to_vec(), v.startpc, v.endpc)
            );
        }
        assert_eq!((*p).sizekgc as usize, pt.kgc.len());
        for (i, k) in pt.kgc.iter().enumerate() {
            let v = *(*p).kgc.add(i);
            match k {
                KGc::Str(s) => assert_eq!(bytes(v.as_str().unwrap()), **s),
                KGc::Proto(child) => {
                    assert!(v.has_itype(itype::PROTO));
                    check_same(v.gc_ptr().cast(), child);
                }
                KGc::Table(t) => {
                    let tab = v.as_tab().unwrap();
                    assert!((*tab).asize as usize >= t.array.len());
                    for (i, c) in t.array.iter().enumerate() {
                        assert!(tab_const_matches(table::get_int(tab, i as i64), c));
                    }
                    for (key, val) in &t.hash {
                        // Find the entry by content (string keys are interned anew).
                        let mut found = None;
                        let mut k = TValue::NIL;
                        while let Ok(Some((nk, nv))) = table::next(tab, k) {
                            if tab_const_matches(nk, key) {
                                found = Some(nv);
                            }
                            k = nk;
                        }
                        // A key whose value is set at run time has a nil template value.
                        match found {
                            Some(v) => assert!(tab_const_matches(v, val), "template entry {key:?}"),
                            None => assert_eq!(*val, TabConst::Nil, "template key {key:?} missing"),
                        }
                    }
                }
                KGc::Cdata(_) => unreachable!(),
            }
        }
    }
}

fn compile(path: &std::path::Path) -> Option<Proto> {
    let src = std::fs::read(path).unwrap();
    let name = format!("@{}", path.file_name().unwrap().to_string_lossy());
    parse(&src, name.as_bytes())
        .ok()
        .filter(|pt| !has_cdata(pt))
}

#[test]
fn corpus_prototypes_materialize_intact_and_die_when_unrooted() {
    let mut files = corpus_files();
    files.sort();
    let mut n = 0;
    for f in &files {
        let Some(pt) = compile(f) else { continue };
        let mut h = Heap::with_stress(false);
        let base = h.live_objects();
        let p = materialize(&mut h, &pt).unwrap();
        let root = h.add_root(TValue::from_gc(p.cast(), itype::PROTO));
        h.full_gc();
        h.full_gc();
        check_same(p, &pt);
        h.remove_root(root);
        h.full_gc();
        h.full_gc();
        assert_eq!(
            h.live_objects(),
            base,
            "{}: objects left after unrooting",
            f.display()
        );
        n += 1;
    }
    assert!(n > 150, "only {n} files");
}

#[test]
fn materializing_is_safe_when_the_collector_runs_at_every_allocation() {
    let mut files = corpus_files();
    files.sort();
    // The smallest files: stress mode makes each allocation a full collection.
    files.sort_by_key(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(u64::MAX));
    let mut n = 0;
    for f in files.iter().take(25) {
        let Some(pt) = compile(f) else { continue };
        let mut h = Heap::with_stress(true);
        // Garbage around, so collections have something to free.
        for _ in 0..50 {
            h.new_table(4, 2).unwrap();
        }
        let p = materialize(&mut h, &pt).unwrap();
        h.add_root(TValue::from_gc(p.cast(), itype::PROTO));
        h.full_gc();
        check_same(p, &pt);
        n += 1;
    }
    assert!(n >= 15, "only {n} files");
}

#[test]
fn cdata_constants_become_cdata_objects() {
    let pt = parse(b"return 1LL, 0xffffffffffffffffULL, 2.5i", b"=t").unwrap();
    let mut h = Heap::with_stress(true);
    let p = materialize(&mut h, &pt).unwrap();
    h.add_root(TValue::from_gc(p.cast(), itype::PROTO));
    h.full_gc();
    // SAFETY: the rooted prototype's GC constants sit below `k`, cdata payloads hold
    // the literal's value.
    unsafe {
        let kgc = (*p).kgc;
        let mut words = Vec::new();
        for i in 0..(*p).sizekgc as usize {
            let k = *kgc.add(i);
            assert!(k.is_cdata());
            let c = k.gc_ptr().cast::<moonjet_gc::GcCdata>();
            let payload = moonjet_gc::GcCdata::payload(c).cast::<u64>();
            words.push(((*c).ctypeid, payload.read(), (*c).size));
        }
        words.sort();
        assert_eq!(
            words,
            vec![(11, 1, 8), (12, u64::MAX, 8), (16, 0, 16)],
            "int64_t 1, uint64_t max, complex 0+2.5i"
        );
    }
}

#[test]
fn memory_limit_is_an_error_not_a_crash() {
    let src: String = (0..2000)
        .map(|i| format!("s{} = 'string constant number {i}'\n", i % 150))
        .collect();
    let pt = parse(src.as_bytes(), b"=t").unwrap();
    let mut h = Heap::with_stress(false);
    h.set_limit(h.total_bytes() + 8 * 1024);
    assert_eq!(
        materialize(&mut h, &pt).unwrap_err(),
        MaterializeError::Memory
    );
    h.set_limit(usize::MAX);
    let p = materialize(&mut h, &pt).unwrap();
    h.add_root(TValue::from_gc(p.cast(), itype::PROTO));
    check_same(p, &pt);
}
