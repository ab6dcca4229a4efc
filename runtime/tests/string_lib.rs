//! The string library against luajit 2.1: a program of edge cases with the output
//! luajit printed for it (tests/strlib/cases.*), run normally and with the collector in
//! stress mode; random programs compared with a live luajit (ignored unless asked
//! for); and `string.dump`'s heap-to-`Proto` conversion over the whole corpus.

use moonjet_runtime::proto::{KGc, Proto, TabConst};
use moonjet_runtime::vm::State;
use moonjet_runtime::{chunk, load, parse};
use std::path::PathBuf;

mod common;
use common::Captured;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/strlib")
}

/// Run `prelude` then the program `name` from tests/strlib in a fresh state; what it
/// printed, plus the error if one escaped.
fn run(name: &str, prelude: &str, stress: bool) -> Vec<u8> {
    let src = std::fs::read(dir().join(name)).unwrap();
    let name = name.to_string();
    let prelude = prelude.to_string();
    // Deep Rust recursion (metamethods called from natives) wants a big stack.
    std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(move || {
            let mut st = State::with_stress(stress);
            let out = Captured::default();
            st.out = Box::new(out.clone());
            let mut r = st.exec(prelude.as_bytes(), b"=prelude");
            if r.is_ok() {
                r = st.exec(&src, format!("@{name}").as_bytes());
            }
            st.flush();
            let mut text = out.0.borrow().clone();
            if let Err(e) = r {
                let msg = st.display_value(e);
                text.extend_from_slice(b"UNCAUGHT: ");
                text.extend_from_slice(&msg);
                text.push(b'\n');
            }
            text
        })
        .unwrap()
        .join()
        .unwrap()
}

fn first_difference(got: &[u8], want: &[u8]) -> String {
    let got = String::from_utf8_lossy(got);
    let want = String::from_utf8_lossy(want);
    let line = got
        .lines()
        .zip(want.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(got.lines().count().min(want.lines().count()));
    format!(
        "first difference at output line {}:\n  got:      {:?}\n  expected: {:?}",
        line + 1,
        got.lines().nth(line).unwrap_or("<end>"),
        want.lines().nth(line).unwrap_or("<end>")
    )
}

#[test]
fn edge_cases_match_luajit() {
    let want = std::fs::read(dir().join("cases.expected")).unwrap();
    for stress in [false, true] {
        let got = run("cases.lua", "", stress);
        assert!(
            got == want,
            "stress={stress}: {}",
            first_difference(&got, &want)
        );
    }
}

/// What luajit prints for `prelude` followed by the program; None without luajit.
fn luajit(name: &str, prelude: &str) -> Option<Vec<u8>> {
    let out = std::process::Command::new("luajit")
        .current_dir(dir())
        .args(["-e", prelude, name])
        .output()
        .ok()?;
    Some(out.stdout)
}

#[test]
#[ignore = "needs luajit installed; run with --ignored"]
fn random_programs_match_luajit() {
    for name in ["random_patterns.lua", "random_format.lua"] {
        for seed in 1..=4 {
            let prelude = format!("SEED = {seed}");
            let Some(want) = luajit(name, &prelude) else {
                eprintln!("luajit not found: skipped");
                return;
            };
            let got = run(name, &prelude, false);
            assert!(
                got == want,
                "{name} seed {seed}: {}",
                first_difference(&got, &want)
            );
        }
    }
}

/// `pt` with the hash parts of its template tables in a canonical order (a heap
/// template keeps them in node order, not constructor order).
fn canonical(pt: &Proto) -> Proto {
    let mut p = pt.clone();
    for k in &mut p.kgc {
        match k {
            KGc::Proto(c) => **c = canonical(c),
            KGc::Table(t) => {
                // Nil values are not kept in heap tables.
                t.hash.retain(|(_, v)| *v != TabConst::Nil);
                t.hash.sort_by_key(|(k, _)| format!("{k:?}"));
            }
            _ => {}
        }
    }
    p
}

#[test]
fn dump_reads_back_every_heap_prototype() {
    let mut files = common::corpus_files();
    files.sort();
    let mut heap = moonjet_gc::Heap::new();
    let mut n = 0;
    for f in files {
        let src = std::fs::read(&f).unwrap();
        let name = format!("@{}", f.file_name().unwrap().to_string_lossy());
        let Ok(pt) = parse::parse(&src, name.as_bytes()) else {
            continue;
        };
        let Ok(gp) = load::materialize(&mut heap, &pt) else {
            continue;
        };
        // SAFETY: the prototype was just made and nothing collects until the next
        // materialize.
        let back = unsafe { chunk::proto_from_heap(gp) }.expect("convertible prototype");
        assert_eq!(canonical(&back), canonical(&pt), "{}", f.display());
        // And the chunk written from it loads back to the same thing.
        for strip in [false, true] {
            let bytes = chunk::dump(&back, strip);
            let again = chunk::load(&bytes, name.as_bytes()).expect("dumped chunk loads");
            assert_eq!(chunk::dump(&again, strip), bytes, "{}", f.display());
        }
        n += 1;
    }
    assert!(n >= 150, "only {n} corpus files");
}
