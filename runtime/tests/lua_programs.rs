//! Lua programs with the output luajit printed for them (tests/lua/*.lua and
//! *.expected), run in-process, normally and with the collector in stress mode.

mod common;
use std::path::PathBuf;

fn programs() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lua");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "lua"))
        .collect();
    v.sort();
    v
}

/// Run one program; its printed output, plus the error if one escaped.
fn run(path: &PathBuf, stress: bool) -> String {
    let src = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    common::run_program(&src, &format!("@{name}"), stress)
}

fn check_all(stress: bool) {
    // Deep Rust recursion (metamethods from natives, resume) needs room: run on a
    // thread with a main-thread-sized stack.
    let handle = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(move || {
            let mut failures = Vec::new();
            for p in programs() {
                let expected = std::fs::read_to_string(p.with_extension("expected")).unwrap();
                let got = run(&p, stress);
                if got != expected {
                    let first = got
                        .lines()
                        .zip(expected.lines())
                        .position(|(a, b)| a != b)
                        .unwrap_or(got.lines().count().min(expected.lines().count()));
                    failures.push(format!(
                        "{}: first difference at output line {}:\n  got:      {:?}\n  expected: {:?}",
                        p.display(),
                        first + 1,
                        got.lines().nth(first).unwrap_or("<end>"),
                        expected.lines().nth(first).unwrap_or("<end>")
                    ));
                }
            }
            failures
        })
        .unwrap();
    let failures = handle.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} programs differ from luajit:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn programs_match_luajit() {
    check_all(false);
}

#[test]
fn programs_match_luajit_under_gc_stress() {
    check_all(true);
}
