//! The conformance gate: LuaJIT's test suite (../shared/conformance/luajit-tests), run
//! with its own runner by the `moonjet` command, FFI tests included: JIT off, JIT on (which
//! adds the suite's trace/ and opt/ tests), and JIT on compiling every loop at once
//! (`hotloop=1`). Any failure not listed in conformance/known-failures.txt fails the
//! build, and so does a listed test that passes (the list only shrinks). The lang/ and
//! lib/ parts run again with the collector in stress mode. The README's status line must
//! state the JIT-off count (tools/conformance-status.lua rewrites it).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn suite_dir() -> PathBuf {
    let dir = PathBuf::from(ROOT).join("../shared/conformance/luajit-tests");
    assert!(
        dir.join("test.lua").is_file(),
        "the conformance suite is missing: expected {} (the project's shared/ folder beside the checkout)",
        dir.display()
    );
    dir
}

/// Known failures: "file --- name" of each listed test.
fn known_failures() -> BTreeSet<String> {
    let text = std::fs::read_to_string(PathBuf::from(ROOT).join("conformance/known-failures.txt"))
        .expect("conformance/known-failures.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            assert_eq!(
                fields.len(),
                3,
                "known-failures line needs number, name, reason: {l}"
            );
            fields[1].to_string()
        })
        .collect()
}

struct SuiteRun {
    passed: usize,
    /// "file --- name" of each failed test.
    failed: BTreeSet<String>,
    output: String,
}

/// Run the suite's runner on `part` (a directory of it, or all) with moonjet options
/// `jit` (`-joff`, `-Ohotloop=1`, ...); a run that takes longer than `limit` is killed.
fn run_suite(jit: &[&str], part: Option<&str>, stress: bool, limit: Duration) -> SuiteRun {
    let args: Vec<&str> = part.into_iter().collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_moonjet"));
    cmd.args(jit)
        .arg("test.lua")
        .arg("--quiet")
        .args(&args)
        .current_dir(suite_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if jit.contains(&"-Ohotloop=1") {
        // Compiling every loop: let Cranelift's verifier check each function too.
        cmd.env("MOONJET_JIT_VERIFY", "1");
    }
    if stress {
        cmd.env("MOONJET_GC_STRESS", "1");
    } else {
        cmd.env_remove("MOONJET_GC_STRESS");
    }
    let mut child = cmd.spawn().expect("run moonjet");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the conformance run {args:?} took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = reader.join().unwrap();
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    let summary = output
        .lines()
        .rev()
        .find_map(|l| {
            let (n, rest) = l.split_once(" passed")?;
            let n: usize = n.parse().ok()?;
            let m = rest
                .strip_prefix(", ")
                .and_then(|r| r.strip_suffix(" failed"))
                .map_or(Some(0), |m| m.parse().ok())?;
            Some((n, m))
        })
        .unwrap_or_else(|| {
            panic!(
                "no summary line (status {status}); the run ended with:\n{}\n{stderr}",
                tail(&output)
            )
        });
    // Failed tests are announced as "[i/n] file --- name" (quiet mode prints nothing else
    // for passing ones).
    let failed: BTreeSet<String> = output
        .lines()
        .filter_map(|l| {
            l.strip_prefix('[')
                .and_then(|r| r.split_once("] "))
                .map(|(_, n)| n.to_string())
        })
        .filter(|n| n.contains(" --- "))
        // Names are relative to the part that ran.
        .map(|n| part.map_or(n.clone(), |p| format!("{p}/{n}")))
        .collect();
    assert_eq!(
        failed.len(),
        summary.1,
        "failure headers vs summary:\n{}",
        tail(&output)
    );
    SuiteRun {
        passed: summary.0,
        failed,
        output,
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// Fail on a failure not in the list; in a full run, also on a listed test that passed.
fn check(run: &SuiteRun, full: bool) {
    check_ran(run, full, |_| true)
}

/// The suite's trace/ and opt/ tests run only with the JIT on.
fn runs_without_jit(test: &str) -> bool {
    !(test.starts_with("trace/") || test.starts_with("opt/"))
}

/// As [`check`], for a run that ran only the tests `ran` accepts.
fn check_ran(run: &SuiteRun, full: bool, ran: impl Fn(&str) -> bool) {
    let known = known_failures();
    let unexpected: Vec<&String> = run.failed.difference(&known).collect();
    assert!(
        unexpected.is_empty(),
        "conformance tests failed that are not known failures: {unexpected:?}\n{}",
        tail(&run.output)
    );
    if full {
        let fixed: Vec<&String> = known.difference(&run.failed).filter(|t| ran(t)).collect();
        assert!(
            fixed.is_empty(),
            "known failures that now pass (remove them from conformance/known-failures.txt): {fixed:?}"
        );
    }
}

/// The README's status line: "... `N passed` ...".
fn readme_count() -> Option<usize> {
    let readme = std::fs::read_to_string(PathBuf::from(ROOT).join("README.md")).ok()?;
    let line = readme
        .lines()
        .find(|l| l.contains("<!-- conformance-status -->"))?;
    let end = line.find(" passed`")?;
    let start = line[..end].rfind('`')? + 1;
    line[start..end].parse().ok()
}

#[test]
fn luajit_suite_passes_but_known_failures() {
    let run = run_suite(&["-joff"], None, false, Duration::from_secs(600));
    check_ran(&run, true, runs_without_jit);
    assert!(run.passed >= 300, "only {} tests passed", run.passed);
    assert_eq!(
        readme_count(),
        Some(run.passed),
        "README.md's conformance status is stale: run `target/release/moonjet tools/conformance-status.lua`"
    );
}

#[test]
fn lang_tests_pass_with_gc_stress() {
    let run = run_suite(&["-joff"], Some("lang"), true, Duration::from_secs(1200));
    check(&run, false);
    assert!(run.passed > 100, "only {} lang tests passed", run.passed);
}

#[test]
fn lib_tests_pass_with_gc_stress() {
    let run = run_suite(&["-joff"], Some("lib"), true, Duration::from_secs(1200));
    check(&run, false);
    assert!(run.passed > 100, "only {} lib tests passed", run.passed);
}

#[test]
fn luajit_suite_passes_with_the_jit() {
    let run = run_suite(&[], None, false, Duration::from_secs(600));
    check(&run, true);
    assert!(run.passed >= 330, "only {} tests passed", run.passed);
}

#[test]
fn luajit_suite_passes_compiling_every_loop() {
    let run = run_suite(&["-Ohotloop=1"], None, false, Duration::from_secs(600));
    check(&run, true);
    assert!(run.passed >= 330, "only {} tests passed", run.passed);
}

#[test]
fn lang_tests_pass_with_the_jit_and_gc_stress() {
    let run = run_suite(
        &["-Ohotloop=1"],
        Some("lang"),
        true,
        Duration::from_secs(1200),
    );
    check(&run, false);
    assert!(run.passed > 100, "only {} lang tests passed", run.passed);
}
