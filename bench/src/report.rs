//! The result set: its JSON shape, the terminal table, and `compare` of two runs.

use crate::stats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EngineInfo {
    pub name: String,
    pub command: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Machine {
    pub os: String,
    pub arch: String,
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub kernel: Option<String>,
    pub hostname: Option<String>,
    pub timestamp_unix: u64,
}

impl Machine {
    pub fn detect() -> Machine {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string())
        };
        let cpu_model = read("/proc/cpuinfo").and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        });
        Machine {
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            cpu_model,
            kernel: read("/proc/sys/kernel/osrelease"),
            hostname: read("/proc/sys/kernel/hostname"),
            timestamp_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }
}

/// One benchmark on one engine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BenchResult {
    pub benchmark: String,
    pub engine: String,
    pub args: Vec<String>,
    /// Wall-clock seconds of each timed run (the warm-up is not included).
    pub times_s: Vec<f64>,
    pub median_s: Option<f64>,
    pub min_s: Option<f64>,
    pub max_s: Option<f64>,
    /// (max - min) / median.
    pub spread: Option<f64>,
    /// median / the baseline's median, when both are ok.
    pub ratio: Option<f64>,
    pub ok: bool,
    pub error: Option<String>,
    /// MOONJET_JIT_STATS counters of the last run, as the runtime wrote them.
    pub jit_stats: Option<serde_json::Value>,
}

impl BenchResult {
    pub fn new(
        benchmark: &str,
        engine: &str,
        args: &[String],
        times: Vec<f64>,
        error: Option<String>,
    ) -> Self {
        BenchResult {
            benchmark: benchmark.into(),
            engine: engine.into(),
            args: args.to_vec(),
            median_s: stats::median(&times),
            min_s: stats::min(&times),
            max_s: stats::max(&times),
            spread: stats::spread(&times),
            times_s: times,
            ratio: None,
            ok: error.is_none(),
            error,
            jit_stats: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub engines: Vec<EngineInfo>,
    pub machine: Machine,
    pub suite: String,
    pub runs: usize,
    pub baseline: String,
    pub results: Vec<BenchResult>,
    pub geomean_ratio: BTreeMap<String, f64>,
}

impl Report {
    /// Fills in each result's ratio to the baseline and the per-engine geometric means,
    /// taken over the benchmarks where both the engine and the baseline are ok.
    pub fn compute_ratios(&mut self) {
        let base: BTreeMap<String, f64> = self
            .results
            .iter()
            .filter(|r| r.ok && r.engine == self.baseline)
            .filter_map(|r| Some((r.benchmark.clone(), r.median_s?)))
            .collect();
        let mut per_engine: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in &mut self.results {
            r.ratio = if r.ok {
                stats::ratio(r.median_s, base.get(&r.benchmark).copied())
            } else {
                None
            };
            if let Some(x) = r.ratio {
                per_engine.entry(r.engine.clone()).or_default().push(x);
            }
        }
        self.geomean_ratio = per_engine
            .into_iter()
            .filter_map(|(e, xs)| Some((e, stats::geomean(&xs)?)))
            .collect();
    }

    pub fn benchmarks(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for r in &self.results {
            if !seen.contains(&r.benchmark) {
                seen.push(r.benchmark.clone());
            }
        }
        seen
    }

    pub fn get(&self, bench: &str, engine: &str) -> Option<&BenchResult> {
        self.results
            .iter()
            .find(|r| r.benchmark == bench && r.engine == engine)
    }
}

/// Where two outputs first differ, as a message; None when they are the same.
pub fn first_difference(expected: &[u8], got: &[u8]) -> Option<String> {
    if expected == got {
        return None;
    }
    let e = String::from_utf8_lossy(expected);
    let g = String::from_utf8_lossy(got);
    let (el, gl): (Vec<&str>, Vec<&str>) = (e.lines().collect(), g.lines().collect());
    let clip = |s: &str| -> String {
        let c: String = s.chars().take(60).collect();
        if c.len() < s.len() {
            format!("{c}...")
        } else {
            c
        }
    };
    for i in 0..el.len().max(gl.len()) {
        match (el.get(i), gl.get(i)) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(a), Some(b)) => {
                return Some(format!(
                    "line {}: expected `{}`, got `{}`",
                    i + 1,
                    clip(a),
                    clip(b)
                ))
            }
            (Some(a), None) => {
                return Some(format!(
                    "line {}: expected `{}`, got end of output",
                    i + 1,
                    clip(a)
                ))
            }
            (None, Some(b)) => {
                return Some(format!(
                    "line {}: unexpected extra line `{}`",
                    i + 1,
                    clip(b)
                ))
            }
            (None, None) => break,
        }
    }
    // Same lines, different bytes: line endings or a missing final newline.
    Some("outputs differ in line endings or the final newline".into())
}

fn fmt_time(t: f64) -> String {
    if t < 0.1 {
        format!("{:.1}ms", t * 1e3)
    } else {
        format!("{t:.3}s")
    }
}

/// Lays out rows of cells as a left-aligned first column and right-aligned others.
fn layout(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let width: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c == 0 {
                line.push_str(&format!("{cell:<w$}", w = width[0]));
            } else {
                line.push_str(&format!("  {cell:>w$}", w = width[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(width.iter().sum::<usize>() + 2 * cols.saturating_sub(1)));
            out.push('\n');
        }
    }
    out
}

/// The terminal table: median time, spread and ratio per engine, then failures and the
/// geometric means.
pub fn table(rep: &Report) -> String {
    let engines: Vec<&str> = rep.engines.iter().map(|e| e.name.as_str()).collect();
    let mut rows = vec![std::iter::once("benchmark".to_string())
        .chain(engines.iter().map(|e| {
            if *e == rep.baseline {
                format!("{e} (base)")
            } else {
                e.to_string()
            }
        }))
        .collect::<Vec<_>>()];
    let mut failures = Vec::new();
    for b in rep.benchmarks() {
        let mut row = vec![b.clone()];
        for e in &engines {
            let cell = match rep.get(&b, e) {
                Some(r) if r.ok => {
                    let t = r.median_s.map(fmt_time).unwrap_or_default();
                    let s = r
                        .spread
                        .map(|s| format!(" ±{:.0}%", s * 50.0))
                        .unwrap_or_default();
                    let x = r.ratio.map(|x| format!(" {x:.2}x")).unwrap_or_default();
                    format!("{t}{s}{x}")
                }
                Some(r) => {
                    failures.push(format!(
                        "{b} on {e}: {}",
                        r.error.as_deref().unwrap_or("failed")
                    ));
                    "FAIL".into()
                }
                None => "-".into(),
            };
            row.push(cell);
        }
        rows.push(row);
    }
    let mut g = vec!["geomean ratio".to_string()];
    for e in &engines {
        g.push(
            rep.geomean_ratio
                .get(*e)
                .map(|x| format!("{x:.2}x"))
                .unwrap_or_else(|| "-".into()),
        );
    }
    rows.push(g);
    let mut out = layout(&rows);
    out.push_str(&format!(
        "times: median of {} runs after a warm-up, ±half the min-max range; ratios to {} (lower is faster)\n",
        rep.runs, rep.baseline
    ));
    let stats: Vec<String> = rep
        .results
        .iter()
        .filter_map(|r| {
            let s = r.jit_stats.as_ref()?;
            Some(format!("{} on {}: {}", r.benchmark, r.engine, s))
        })
        .collect();
    if !stats.is_empty() {
        out.push_str("JIT counters (MOONJET_JIT_STATS):\n");
        for s in stats {
            out.push_str(&format!("  {s}\n"));
        }
    }
    for f in failures {
        out.push_str(&format!("FAIL {f}\n"));
    }
    out
}

/// One row of `compare`.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub benchmark: String,
    pub engine: String,
    pub before: f64,
    pub after: f64,
    /// after / before - 1.
    pub change: f64,
    /// The noise threshold the change was judged against.
    pub noise: f64,
    pub significant: bool,
}

/// Smallest threshold used even when both runs had no spread (a single run each).
pub const MIN_NOISE: f64 = 0.01;

/// Changes of the median per benchmark and engine between two runs. A change counts
/// as significant when it exceeds the combined relative spread of both runs.
pub fn changes(a: &Report, b: &Report) -> Vec<Change> {
    let mut out = Vec::new();
    for rb in &b.results {
        let Some(ra) = a.get(&rb.benchmark, &rb.engine) else {
            continue;
        };
        let (true, true, Some(before), Some(after)) = (ra.ok, rb.ok, ra.median_s, rb.median_s)
        else {
            continue;
        };
        if before <= 0.0 {
            continue;
        }
        let change = after / before - 1.0;
        let noise = (ra.spread.unwrap_or(0.0) + rb.spread.unwrap_or(0.0)).max(MIN_NOISE);
        out.push(Change {
            benchmark: rb.benchmark.clone(),
            engine: rb.engine.clone(),
            before,
            after,
            change,
            noise,
            significant: change.abs() > noise,
        });
    }
    out
}

/// The `compare` report as text.
pub fn compare_text(a: &Report, b: &Report) -> String {
    let ch = changes(a, b);
    let mut rows = vec![vec![
        "benchmark".to_string(),
        "engine".into(),
        "before".into(),
        "after".into(),
        "change".into(),
        "noise".into(),
        "".into(),
    ]];
    for c in &ch {
        let flag = match (c.significant, c.change > 0.0) {
            (false, _) => "",
            (true, true) => "SLOWER",
            (true, false) => "faster",
        };
        rows.push(vec![
            c.benchmark.clone(),
            c.engine.clone(),
            fmt_time(c.before),
            fmt_time(c.after),
            format!("{:+.1}%", c.change * 100.0),
            format!("±{:.1}%", c.noise * 100.0),
            flag.into(),
        ]);
    }
    let mut out = layout(&rows);
    let mut engines: Vec<&str> = Vec::new();
    for c in &ch {
        if !engines.contains(&c.engine.as_str()) {
            engines.push(&c.engine);
        }
    }
    for e in engines {
        let xs: Vec<f64> = ch
            .iter()
            .filter(|c| c.engine == e)
            .map(|c| c.after / c.before)
            .collect();
        let n = ch.iter().filter(|c| c.engine == e && c.significant).count();
        if let Some(g) = stats::geomean(&xs) {
            out.push_str(&format!(
                "{e}: geomean change {:+.1}% over {} benchmarks, {n} beyond noise\n",
                (g - 1.0) * 100.0,
                xs.len()
            ));
        }
    }
    let missing: Vec<String> = a
        .results
        .iter()
        .filter(|r| b.get(&r.benchmark, &r.engine).is_none())
        .map(|r| format!("{}/{}", r.benchmark, r.engine))
        .collect();
    if !missing.is_empty() {
        out.push_str(&format!("only in the first run: {}\n", missing.join(", ")));
    }
    let failed: Vec<String> = a
        .results
        .iter()
        .chain(&b.results)
        .filter(|r| !r.ok)
        .map(|r| format!("{}/{}", r.benchmark, r.engine))
        .collect();
    if !failed.is_empty() {
        out.push_str(&format!(
            "not compared (failed in a run): {}\n",
            failed.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mk = |b: &str, e: &str, t: Vec<f64>, err: Option<&str>| {
            BenchResult::new(b, e, &["10".into()], t, err.map(String::from))
        };
        let mut r = Report {
            engines: vec![
                EngineInfo {
                    name: "base".into(),
                    command: "lua5.1".into(),
                    version: "Lua 5.1.5".into(),
                },
                EngineInfo {
                    name: "fast".into(),
                    command: "moonjet -joff".into(),
                    version: "moonjet 0.1.0".into(),
                },
            ],
            machine: Machine::detect(),
            suite: "suite".into(),
            runs: 3,
            baseline: "base".into(),
            results: vec![
                mk("a", "base", vec![2.0, 2.0, 2.0], None),
                mk("a", "fast", vec![1.0, 1.1, 0.9], None),
                mk("b", "base", vec![4.0, 4.0, 4.0], None),
                mk("b", "fast", vec![8.0, 8.0, 8.0], None),
                mk("c", "base", vec![1.0], None),
                mk("c", "fast", vec![], Some("exit status 1")),
            ],
            geomean_ratio: BTreeMap::new(),
        };
        r.compute_ratios();
        r
    }

    #[test]
    fn ratios_and_geomean_skip_failures() {
        let r = sample();
        assert_eq!(r.get("a", "fast").unwrap().ratio, Some(0.5));
        assert_eq!(r.get("b", "fast").unwrap().ratio, Some(2.0));
        assert_eq!(r.get("c", "fast").unwrap().ratio, None);
        // sqrt(0.5 * 2.0) = 1; benchmark c is left out because fast failed there.
        assert!((r.geomean_ratio["fast"] - 1.0).abs() < 1e-12);
        assert!((r.geomean_ratio["base"] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn json_schema_keys_and_types() {
        let r = sample();
        let v: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        let engines = v["engines"].as_array().unwrap();
        assert_eq!(engines.len(), 2);
        for e in engines {
            for k in ["name", "command", "version"] {
                assert!(e[k].is_string(), "engine.{k}");
            }
        }
        assert!(v["machine"].is_object());
        assert!(v["machine"]["cpus"].is_u64());
        let results = v["results"].as_array().unwrap();
        assert_eq!(results.len(), 6);
        for res in results {
            assert!(res["benchmark"].is_string());
            assert!(res["engine"].is_string());
            assert!(res["times_s"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t.is_f64()));
            assert!(res["ok"].is_boolean());
            assert!(res["error"].is_null() || res["error"].is_string());
            assert!(res["median_s"].is_null() || res["median_s"].is_f64());
        }
        let failed = results
            .iter()
            .find(|x| x["benchmark"] == "c" && x["engine"] == "fast")
            .unwrap();
        assert_eq!(failed["ok"], false);
        assert_eq!(failed["error"], "exit status 1");
        assert!(failed["median_s"].is_null());
        let ok = results
            .iter()
            .find(|x| x["benchmark"] == "a" && x["engine"] == "fast")
            .unwrap();
        assert_eq!(ok["median_s"].as_f64(), Some(1.0));
        assert!(ok["error"].is_null());
        assert!(v["geomean_ratio"]["fast"].is_f64());
        // And it reads back to the same report.
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn output_verification() {
        assert_eq!(first_difference(b"a\nb\n", b"a\nb\n"), None);
        assert_eq!(
            first_difference(b"a\nb\n", b"a\nc\n").unwrap(),
            "line 2: expected `b`, got `c`"
        );
        assert!(first_difference(b"a\nb\n", b"a\n")
            .unwrap()
            .contains("end of output"));
        assert!(first_difference(b"a\n", b"a\nz\n")
            .unwrap()
            .contains("extra line `z`"));
        assert!(first_difference(b"a\n", b"a")
            .unwrap()
            .contains("final newline"));
    }

    #[test]
    fn compare_flags_changes_beyond_noise() {
        let a = sample();
        let mut b = sample();
        // a/fast: 1.0 -> 1.05 is inside the combined spread (0.2 + 0.2/1.05); b/fast: 8 -> 4 is not.
        for r in &mut b.results {
            if r.engine == "fast" && r.benchmark == "a" {
                *r = BenchResult::new("a", "fast", &[], vec![1.05, 1.15, 0.95], None);
            }
            if r.engine == "fast" && r.benchmark == "b" {
                *r = BenchResult::new("b", "fast", &[], vec![4.0, 4.0, 4.0], None);
            }
        }
        let ch = changes(&a, &b);
        let fa = ch
            .iter()
            .find(|c| c.benchmark == "a" && c.engine == "fast")
            .unwrap();
        assert!(!fa.significant);
        assert!((fa.noise - (0.2 + 0.2 / 1.05)).abs() < 1e-9);
        let fb = ch
            .iter()
            .find(|c| c.benchmark == "b" && c.engine == "fast")
            .unwrap();
        assert!(fb.significant);
        assert!((fb.change + 0.5).abs() < 1e-12);
        // Unchanged, zero-spread results use the floor and are not flagged.
        let ba = ch
            .iter()
            .find(|c| c.benchmark == "a" && c.engine == "base")
            .unwrap();
        assert_eq!(ba.noise, MIN_NOISE);
        assert!(!ba.significant);
        assert!(!ch.iter().any(|c| c.benchmark == "c" && c.engine == "fast"));
        let text = compare_text(&a, &b);
        assert!(text.contains("faster"), "{text}");
        assert!(text.contains("c/fast"), "{text}");
    }

    #[test]
    fn table_marks_failures() {
        let t = table(&sample());
        assert!(t.contains("FAIL c on fast: exit status 1"), "{t}");
        assert!(t.contains("0.50x"), "{t}");
        assert!(t.contains("geomean ratio"), "{t}");
    }
}
