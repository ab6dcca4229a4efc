//! moonjet-bench: times Lua engines on a suite of benchmark programs, checks that they
//! print the same output, and reports a table, JSON and an SVG chart. See README.md.

mod chart;
mod engines;
mod measure;
mod report;
mod runner;
mod stats;
mod suite;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: moonjet-bench [options] [benchmark...]
       moonjet-bench compare A.json B.json
       moonjet-bench chart RESULT.json OUT.svg

Runs every benchmark of a suite on each engine (a warm-up, then --runs timed runs,
interleaved across engines), checks the outputs agree, and prints a table.

options:
  --engines LIST      comma-separated engines: moonjet (-jon), moonjet-joff, luajit,
                      luajit-joff, lua5.1, lua5.4, or name=command with args
                      (default: every builtin that is available)
  --baseline NAME     engine the ratios are taken against (default: the first)
  --suite PATH        directory of .lua programs, or one .lua script
                      (default: the project's bench/suite)
  --params FILE       parameter file to use instead of the suite's PARAM*.txt
  --param-scale F     multiply size arguments >= 1000 (and input sizes) by F
  --arg VALUE         pass VALUE as the argument of every benchmark
  --runs N            timed runs per engine and benchmark (default 5)
  --timeout SECS      per-run time limit; the run is killed (default 60)
  --moonjet PATH      the moonjet binary (default: the workspace's target/release)
  --json FILE         write the results as JSON
  --svg FILE          write a chart of the ratios as SVG
  --no-check LIST      benchmarks whose output is not compared (e.g. series, which
                      prints its own timing)
  --list              list the engines and benchmarks, run nothing
  -h, --help          this text
";

#[derive(Debug, Default, PartialEq)]
struct Options {
    engines: Option<String>,
    baseline: Option<String>,
    suite: Option<PathBuf>,
    params: Option<PathBuf>,
    scale: f64,
    arg: Option<String>,
    runs: usize,
    timeout: f64,
    moonjet: Option<PathBuf>,
    json: Option<PathBuf>,
    svg: Option<PathBuf>,
    list: bool,
    no_check: Vec<String>,
    filters: Vec<String>,
}

#[derive(Debug, PartialEq)]
enum Cmd {
    Help,
    Run(Box<Options>),
    Compare(PathBuf, PathBuf),
    Chart(PathBuf, PathBuf),
}

fn parse_args(args: &[String]) -> Result<Cmd, String> {
    if args.first().map(String::as_str) == Some("compare") {
        return match &args[1..] {
            [a, b] => Ok(Cmd::Compare(a.into(), b.into())),
            _ => Err("compare takes two JSON files".into()),
        };
    }
    if args.first().map(String::as_str) == Some("chart") {
        return match &args[1..] {
            [a, b] => Ok(Cmd::Chart(a.into(), b.into())),
            _ => Err("chart takes a result JSON file and the SVG file to write".into()),
        };
    }
    let mut o = Options {
        scale: 1.0,
        runs: 5,
        timeout: 60.0,
        ..Default::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        // Both `--flag value` and `--flag=value`.
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value")),
            }
        };
        match flag {
            "-h" | "--help" => return Ok(Cmd::Help),
            "--engines" => o.engines = Some(value()?),
            "--baseline" => o.baseline = Some(value()?),
            "--suite" => o.suite = Some(value()?.into()),
            "--params" => o.params = Some(value()?.into()),
            "--arg" => o.arg = Some(value()?),
            "--moonjet" => o.moonjet = Some(value()?.into()),
            "--json" => o.json = Some(value()?.into()),
            "--svg" => o.svg = Some(value()?.into()),
            "--list" => o.list = true,
            "--no-check" => o
                .no_check
                .extend(value()?.split(',').map(|s| s.trim().to_string())),
            "--param-scale" => {
                let v = value()?;
                o.scale = v
                    .parse()
                    .ok()
                    .filter(|x: &f64| x.is_finite() && *x > 0.0)
                    .ok_or_else(|| format!("--param-scale wants a positive number, not {v}"))?;
            }
            "--runs" => {
                let v = value()?;
                o.runs = v
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| format!("--runs wants a count >= 1, not {v}"))?;
            }
            "--timeout" => {
                let v = value()?;
                o.timeout = v
                    .parse()
                    .ok()
                    .filter(|x: &f64| x.is_finite() && *x > 0.0 && *x < 1e7)
                    .ok_or_else(|| format!("--timeout wants seconds > 0, not {v}"))?;
            }
            f if f.starts_with('-') => return Err(format!("unknown option {f}")),
            name => o.filters.push(name.to_string()),
        }
    }
    Ok(Cmd::Run(Box::new(o)))
}

fn load_report(p: &Path) -> Result<report::Report, String> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a moonjet-bench result file: {e}", p.display()))
}

fn run(o: &Options) -> Result<bool, String> {
    let engines = engines::resolve(o.engines.as_deref(), o.moonjet.as_deref())?;
    let baseline = o
        .baseline
        .clone()
        .unwrap_or_else(|| engines[0].name.clone());
    if !engines.iter().any(|e| e.name == baseline) {
        return Err(format!("baseline {baseline} is not one of the engines run"));
    }
    let suite_path = o
        .suite
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("suite"));
    let opts = suite::SuiteOptions {
        params: o.params.as_deref(),
        scale: o.scale,
        arg: o.arg.as_deref(),
        filters: &o.filters,
    };
    let (benches, warnings) = suite::load_suite(&suite_path, &opts)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    if o.list {
        for e in &engines {
            println!("engine {}: {}", e.name, e.command_line());
        }
        for b in &benches {
            println!("benchmark {} {}", b.name, b.args.join(" "));
        }
        return Ok(true);
    }
    let timeout = Duration::from_secs_f64(o.timeout);
    // Inputs are made with a reference Lua (luajit is fastest), else the first engine.
    let generator = ["luajit", "lua5.1", "lua5.4"]
        .iter()
        .find_map(|p| engines::which(p))
        .unwrap_or_else(|| engines[0].program.clone());
    let inputs: Vec<Result<Option<PathBuf>, String>> = benches
        .iter()
        .map(|b| match &b.input {
            None => Ok(None),
            Some(spec) => measure::prepare_input(spec, &generator, timeout).map(Some),
        })
        .collect();
    for (b, i) in benches.iter().zip(&inputs) {
        if let Err(e) = i {
            eprintln!("warning: {}: {e}", b.name);
        }
    }
    let infos: Vec<report::EngineInfo> = engines
        .iter()
        .map(|e| report::EngineInfo {
            name: e.name.clone(),
            command: e.command_line(),
            version: engines::version(e),
        })
        .collect();
    let settings = measure::Settings {
        runs: o.runs,
        timeout,
        baseline: baseline.clone(),
        unchecked: o.no_check.clone(),
    };
    let results = measure::run_all(&benches, &inputs, &engines, &settings)?;
    let mut rep = report::Report {
        engines: infos,
        machine: report::Machine::detect(),
        suite: std::fs::canonicalize(&suite_path)
            .unwrap_or(suite_path)
            .display()
            .to_string(),
        runs: o.runs,
        baseline,
        results,
        geomean_ratio: Default::default(),
    };
    rep.compute_ratios();
    print!("{}", report::table(&rep));
    if let Some(p) = &o.json {
        let text = serde_json::to_string_pretty(&rep).map_err(|e| e.to_string())?;
        std::fs::write(p, text + "\n").map_err(|e| format!("{}: {e}", p.display()))?;
    }
    if let Some(p) = &o.svg {
        chart::render(&rep, p)?;
    }
    Ok(rep.results.iter().all(|r| r.ok))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("moonjet-bench: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let res = match cmd {
        Cmd::Help => {
            print!("{USAGE}");
            Ok(true)
        }
        Cmd::Compare(a, b) => load_report(&a).and_then(|ra| {
            let rb = load_report(&b)?;
            print!("{}", report::compare_text(&ra, &rb));
            Ok(true)
        }),
        Cmd::Chart(a, out) => load_report(&a).and_then(|r| chart::render(&r, &out).map(|_| true)),
        Cmd::Run(o) => run(&o),
    };
    match res {
        Ok(true) => ExitCode::SUCCESS,
        // Some benchmark failed on some engine: reported in the table, exit 1.
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("moonjet-bench: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_flags_and_filters() {
        let Cmd::Run(o) = parse_args(&args(
            "--engines a,b --runs=3 --timeout 2.5 nbody --json o.json fib",
        ))
        .unwrap() else {
            panic!("not a run")
        };
        assert_eq!(o.engines.as_deref(), Some("a,b"));
        assert_eq!(o.runs, 3);
        assert_eq!(o.timeout, 2.5);
        assert_eq!(o.json, Some(PathBuf::from("o.json")));
        assert_eq!(o.filters, vec!["nbody", "fib"]);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse_args(&args("--runs 0")).is_err());
        assert!(parse_args(&args("--runs x")).is_err());
        assert!(parse_args(&args("--timeout -1")).is_err());
        assert!(parse_args(&args("--bogus")).is_err());
        assert!(parse_args(&args("--json")).is_err());
        assert!(parse_args(&args("--param-scale 0")).is_err());
        assert!(parse_args(&args("compare one.json")).is_err());
        assert_eq!(
            parse_args(&args("compare a b")).unwrap(),
            Cmd::Compare("a".into(), "b".into())
        );
    }
}
