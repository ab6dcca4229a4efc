//! The measurement loop: inputs prepared once, then per benchmark a warm-up and N
//! timed runs of every engine, interleaved, outputs checked against a reference.

use crate::engines::Engine;
use crate::report::{first_difference, BenchResult};
use crate::runner::{self, Job};
use crate::suite::{Benchmark, InputSpec};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Settings {
    pub runs: usize,
    pub timeout: Duration,
    pub baseline: String,
    /// Benchmarks whose output is not compared (LuaJIT's `series` prints its own timing).
    pub unchecked: Vec<String>,
}

/// Makes a generated input file (see `InputSpec`), cached under the temp directory by
/// suite and file name so the next run does not regenerate it.
pub fn prepare_input(
    spec: &InputSpec,
    generator: &Path,
    timeout: Duration,
) -> Result<PathBuf, String> {
    let (file, script) = match spec {
        InputSpec::File(p) => return Ok(p.clone()),
        InputSpec::Generate { file, script, .. } => (file, script),
        InputSpec::Repeat { file, unit, .. } => (file, unit),
    };
    // Keyed by the suite directory, so suites with the same input names do not collide.
    let suite = script.parent().unwrap_or(script);
    let key: u64 = suite
        .to_string_lossy()
        .bytes()
        .fold(0xcbf29ce484222325, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
    let dir = std::env::temp_dir().join(format!("moonjet-bench-inputs-{key:016x}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let target = dir.join(file);
    if target.is_file() {
        return Ok(target);
    }
    let partial = dir.join(format!("{file}.partial-{}", std::process::id()));
    match spec {
        InputSpec::Generate { script, arg, .. } => {
            let err = dir.join(format!("{file}.err"));
            let job = Job {
                program: generator,
                args: vec![script.display().to_string(), arg.clone()],
                cwd: script.parent(),
                stdin: None,
                env: vec![],
                stdout: &partial,
                stderr: &err,
                timeout: timeout * 10,
            };
            let f = runner::run(&job)?;
            let _ = std::fs::remove_file(&err);
            f.status
                .map_err(|e| format!("making input {file} with {}: {e}", generator.display()))?;
        }
        InputSpec::Repeat { unit, times, .. } => {
            let data = std::fs::read(unit).map_err(|e| format!("{}: {e}", unit.display()))?;
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(&partial)
                    .map_err(|e| format!("{}: {e}", partial.display()))?,
            );
            for _ in 0..*times {
                f.write_all(&data)
                    .map_err(|e| format!("{}: {e}", partial.display()))?;
            }
            f.flush()
                .map_err(|e| format!("{}: {e}", partial.display()))?;
        }
        InputSpec::File(_) => unreachable!("handled above"),
    }
    // Renamed only when complete, so an interrupted run never leaves a truncated input.
    std::fs::rename(&partial, &target).map_err(|e| format!("{}: {e}", target.display()))?;
    Ok(target)
}

/// State of one engine on one benchmark while its runs go on.
struct Slot {
    times: Vec<f64>,
    first_output: Option<Vec<u8>>,
    error: Option<String>,
    jit_stats: Option<serde_json::Value>,
}

/// Reads the JIT counters file a moonjet run left, if any. Absence is normal (the
/// runtime does not write it yet); malformed content is reported once on stderr.
fn read_jit_stats(p: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(p).ok()?;
    let _ = std::fs::remove_file(p);
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) if v.is_object() => Some(v),
        _ => {
            eprintln!("warning: {} is not a JSON object, ignored", p.display());
            None
        }
    }
}

pub fn run_all(
    benches: &[Benchmark],
    inputs: &[Result<Option<PathBuf>, String>],
    engines: &[Engine],
    set: &Settings,
) -> Result<Vec<BenchResult>, String> {
    let scratch = runner::scratch_dir()?;
    let total = (benches.len() * engines.len() * (set.runs + 1)) as u64;
    // A bar only for a person watching; logs get one line per benchmark instead.
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(total);
        if let Ok(style) =
            ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed_precise} {msg}")
        {
            b.set_style(style);
        }
        Some(b)
    } else {
        None
    };
    let mut results = Vec::new();
    for (bi, b) in benches.iter().enumerate() {
        match &bar {
            Some(bar) => bar.set_message(b.name.clone()),
            None => eprintln!(
                "[{}/{}] {} {}",
                bi + 1,
                benches.len(),
                b.name,
                b.args.join(" ")
            ),
        }
        let mut slots: Vec<Slot> = engines
            .iter()
            .map(|_| Slot {
                times: vec![],
                first_output: None,
                error: None,
                jit_stats: None,
            })
            .collect();
        // An input that could not be made fails the benchmark on every engine.
        let check = !set.unchecked.contains(&b.name);
        let stdin = match inputs.get(bi) {
            Some(Ok(p)) => p.as_deref(),
            Some(Err(msg)) => {
                for s in &mut slots {
                    s.error = Some(msg.clone());
                }
                None
            }
            None => None,
        };
        for round in 0..=set.runs {
            for (ei, e) in engines.iter().enumerate() {
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
                let slot = &mut slots[ei];
                if slot.error.is_some() {
                    continue;
                }
                let out = scratch.join(format!("e{ei}.out"));
                let err = scratch.join(format!("e{ei}.err"));
                let stats = scratch.join(format!("e{ei}.jitstats.json"));
                let _ = std::fs::remove_file(&stats);
                let mut args = e.args.clone();
                args.push(b.script.display().to_string());
                args.extend(b.args.iter().cloned());
                let env = if e.moonjet {
                    vec![("MOONJET_JIT_STATS".to_string(), stats.clone())]
                } else {
                    vec![]
                };
                let job = Job {
                    program: &e.program,
                    args,
                    cwd: b.script.parent(),
                    stdin,
                    env,
                    stdout: &out,
                    stderr: &err,
                    timeout: set.timeout,
                };
                let finished = match runner::run(&job) {
                    Ok(f) => f,
                    Err(msg) => {
                        slot.error = Some(msg);
                        continue;
                    }
                };
                if let Err(msg) = finished.status {
                    slot.error = Some(msg);
                    continue;
                }
                let output = std::fs::read(&out).unwrap_or_default();
                match &slot.first_output {
                    None => slot.first_output = Some(output),
                    Some(first) if check => {
                        if let Some(d) = first_difference(first, &output) {
                            slot.error = Some(format!("output changed between runs: {d}"));
                            continue;
                        }
                    }
                    Some(_) => {}
                }
                if e.moonjet {
                    if let Some(s) = read_jit_stats(&stats) {
                        slot.jit_stats = Some(s);
                    }
                }
                if round > 0 {
                    slot.times.push(finished.elapsed.as_secs_f64());
                }
            }
        }
        // Reference output: the baseline's if it succeeded, else the first engine's that did.
        let reference = engines
            .iter()
            .position(|e| e.name == set.baseline)
            .filter(|&i| slots[i].error.is_none())
            .or_else(|| slots.iter().position(|s| s.error.is_none()))
            .filter(|_| check);
        if let Some(r) = reference {
            let ref_out = slots[r].first_output.clone().unwrap_or_default();
            for (i, s) in slots.iter_mut().enumerate() {
                if i == r || s.error.is_some() {
                    continue;
                }
                if let Some(d) =
                    first_difference(&ref_out, s.first_output.as_deref().unwrap_or_default())
                {
                    s.error = Some(format!("output differs from {}: {d}", engines[r].name));
                }
            }
        }
        for (e, s) in engines.iter().zip(slots) {
            let mut r = BenchResult::new(&b.name, &e.name, &b.args, s.times, s.error);
            r.jit_stats = s.jit_stats;
            results.push(r);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::{load_suite, SuiteOptions};

    fn engine(name: &str, program: &str, args: &[&str]) -> Engine {
        Engine {
            name: name.into(),
            program: PathBuf::from(program),
            args: args.iter().map(|s| s.to_string()).collect(),
            moonjet: false,
        }
    }

    #[test]
    fn checks_outputs_and_reports_failures_per_engine() {
        // The "Lua" programs are shell scripts, so sh runs them and cat prints them.
        let dir = std::env::temp_dir().join(format!("mjb-measure-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hello.lua"), "echo hello\n").unwrap();
        std::fs::write(dir.join("PARAM.txt"), "hello 3\n").unwrap();
        let (benches, _) = load_suite(
            &dir,
            &SuiteOptions {
                params: None,
                scale: 1.0,
                arg: None,
                filters: &[],
            },
        )
        .unwrap();
        assert_eq!(benches[0].args, vec!["3"]);
        let engines = vec![
            engine("cat", "/bin/cat", &[]),
            engine("sh", "/bin/sh", &[]),
            engine("sh-e", "/bin/sh", &["-e"]),
            engine("false", "/bin/false", &[]),
        ];
        let set = Settings {
            runs: 2,
            timeout: Duration::from_secs(20),
            baseline: "sh".into(),
            unchecked: vec![],
        };
        let res = run_all(&benches, &[Ok(None)], &engines, &set).unwrap();
        let get = |e: &str| res.iter().find(|r| r.engine == e).unwrap();
        // cat fails on the missing file "3" after printing the script.
        assert!(!get("cat").ok);
        assert!(get("sh").ok && get("sh").times_s.len() == 2);
        assert!(get("sh-e").ok && get("sh-e").times_s.len() == 2);
        assert!(get("false")
            .error
            .as_deref()
            .unwrap()
            .starts_with("exit status 1"));
        assert!(get("false").times_s.is_empty());

        // Without the argument cat succeeds but prints the script, not its output.
        let (benches, _) = load_suite(
            &dir,
            &SuiteOptions {
                params: None,
                scale: 1.0,
                arg: Some("x"),
                filters: &[],
            },
        )
        .unwrap();
        std::fs::write(dir.join("x"), "").unwrap();
        let res = run_all(&benches, &[Ok(None)], &engines[..3], &set).unwrap();
        let cat = res.iter().find(|r| r.engine == "cat").unwrap();
        assert_eq!(
            cat.error.as_deref(),
            Some("output differs from sh: line 1: expected `hello`, got `echo hello`")
        );
        assert_eq!(cat.times_s.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
