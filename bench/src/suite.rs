//! Benchmark suites: a directory of `.lua` programs with an optional parameter file in
//! LuaJIT's PARAM_*.txt format (`name argument [input-file]` per line), or one script.

use std::fs;
use std::path::{Path, PathBuf};

/// One line of a parameter file.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamEntry {
    pub name: String,
    pub arg: Option<String>,
    pub input: Option<String>,
}

/// Parses a parameter file: blank lines and `#` comments are skipped; each other line
/// is a benchmark name, then an optional argument, then an optional input file fed on
/// stdin (LuaJIT's `life` line has no argument at all).
pub fn parse_params(text: &str) -> Result<Vec<ParamEntry>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() > 3 {
            return Err(format!(
                "line {}: expected `name [argument [input-file]]`, got {} fields",
                i + 1,
                fields.len()
            ));
        }
        out.push(ParamEntry {
            name: fields[0].to_string(),
            arg: fields.get(1).map(|s| s.to_string()),
            input: fields.get(2).map(|s| s.to_string()),
        });
    }
    Ok(out)
}

/// Scales a size argument by `factor`. Only arguments of 1000 or more are scaled:
/// small ones are depths and exponents (binary-trees 16, fannkuch 11) where a
/// multiplier makes no sense. A scaled value is rounded to an integer, at least 1.
pub fn scale_arg(arg: &str, factor: f64) -> String {
    match arg.parse::<f64>() {
        Ok(v) if v >= 1000.0 && factor != 1.0 => {
            format!("{}", (v * factor).round().max(1.0) as u64)
        }
        _ => arg.to_string(),
    }
}

/// Where a benchmark's stdin comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum InputSpec {
    /// A file that exists in the suite.
    File(PathBuf),
    /// `NAME_N` made by running the suite's `name.lua N` and saving its stdout
    /// (LuaJIT's FASTA_5000000 is fasta.lua's output).
    Generate {
        file: String,
        script: PathBuf,
        arg: String,
    },
    /// `NAME_N` made by repeating the suite's `NAME_1.txt` N times (SUMCOL_5000).
    Repeat {
        file: String,
        unit: PathBuf,
        times: u64,
    },
}

/// Works out how to obtain an input named in a parameter file.
pub fn resolve_input(dir: &Path, name: &str, factor: f64) -> Result<InputSpec, String> {
    let direct = dir.join(name);
    if direct.is_file() {
        return Ok(InputSpec::File(direct));
    }
    let (prefix, count) = name
        .rsplit_once('_')
        .filter(|(p, n)| !p.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("input file {name} not found in {}", dir.display()))?;
    let n = scale_arg(count, factor);
    let file = format!("{prefix}_{n}");
    let script = dir.join(format!("{}.lua", prefix.to_ascii_lowercase()));
    if script.is_file() {
        return Ok(InputSpec::Generate {
            file,
            script,
            arg: n,
        });
    }
    let unit = dir.join(format!("{prefix}_1.txt"));
    if unit.is_file() {
        let times = n.parse().unwrap_or(1);
        return Ok(InputSpec::Repeat { file, unit, times });
    }
    Err(format!(
        "input file {name} not found in {} (and no {}.lua or {prefix}_1.txt to make it from)",
        dir.display(),
        prefix.to_ascii_lowercase()
    ))
}

#[derive(Debug, Clone)]
pub struct Benchmark {
    pub name: String,
    pub script: PathBuf,
    pub args: Vec<String>,
    pub input: Option<InputSpec>,
}

/// The parameter file of a suite directory: PARAM.txt, else PARAM_<arch>.txt for this
/// machine, else PARAM_x86.txt.
pub fn find_param_file(dir: &Path) -> Option<PathBuf> {
    let arch = match std::env::consts::ARCH {
        "x86_64" | "x86" => "x86",
        "aarch64" | "arm" => "arm",
        "powerpc" | "powerpc64" => "ppc",
        "mips" | "mips64" => "mips",
        other => other,
    };
    [
        "PARAM.txt".to_string(),
        format!("PARAM_{arch}.txt"),
        "PARAM_x86.txt".to_string(),
    ]
    .iter()
    .map(|f| dir.join(f))
    .find(|p| p.is_file())
}

pub struct SuiteOptions<'a> {
    pub params: Option<&'a Path>,
    pub scale: f64,
    pub arg: Option<&'a str>,
    pub filters: &'a [String],
}

/// Loads a suite. With a parameter file, its lines define the benchmarks (so helper
/// modules such as scimark_lib.lua are not run); without one, every `.lua` file is a
/// benchmark run without arguments. Returns the benchmarks and warnings to show.
pub fn load_suite(
    path: &Path,
    opts: &SuiteOptions,
) -> Result<(Vec<Benchmark>, Vec<String>), String> {
    let mut warnings = Vec::new();
    let mut benches = Vec::new();
    if path.is_file() {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let script = fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
        benches.push(Benchmark {
            name,
            script,
            args: Vec::new(),
            input: None,
        });
    } else if path.is_dir() {
        let dir = fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let param_file = match opts.params {
            Some(p) => Some(p.to_path_buf()),
            None => find_param_file(&dir),
        };
        if let Some(pf) = param_file {
            let text = fs::read_to_string(&pf).map_err(|e| format!("{}: {e}", pf.display()))?;
            let entries = parse_params(&text).map_err(|e| format!("{}: {e}", pf.display()))?;
            for e in entries {
                let script = dir.join(format!("{}.lua", e.name));
                if !script.is_file() {
                    warnings.push(format!(
                        "{}: no {} in the suite, skipped",
                        pf.display(),
                        script.display()
                    ));
                    continue;
                }
                let args = e.arg.iter().map(|a| scale_arg(a, opts.scale)).collect();
                let input = match &e.input {
                    Some(i) => Some(resolve_input(&dir, i, opts.scale)?),
                    None => None,
                };
                benches.push(Benchmark {
                    name: e.name,
                    script,
                    args,
                    input,
                });
            }
        } else {
            let mut files: Vec<PathBuf> = fs::read_dir(&dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "lua"))
                .collect();
            files.sort();
            for script in files {
                let name = script
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                benches.push(Benchmark {
                    name,
                    script,
                    args: Vec::new(),
                    input: None,
                });
            }
        }
    } else {
        return Err(format!(
            "suite {} is neither a directory nor a file",
            path.display()
        ));
    }
    if let Some(a) = opts.arg {
        for b in &mut benches {
            b.args = vec![a.to_string()];
        }
    }
    if !opts.filters.is_empty() {
        for f in opts.filters {
            if !benches.iter().any(|b| &b.name == f) {
                let names: Vec<&str> = benches.iter().map(|b| b.name.as_str()).collect();
                return Err(format!(
                    "no benchmark named {f} in the suite (have: {})",
                    names.join(", ")
                ));
            }
        }
        benches.retain(|b| opts.filters.contains(&b.name));
    }
    if benches.is_empty() {
        return Err(format!("suite {} has no benchmarks", path.display()));
    }
    Ok((benches, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_luajit_param_lines() {
        let text = "array3d 300\n\nlife\n# comment\nk-nucleotide 5e6 FASTA_5000000\n";
        let p = parse_params(text).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(
            p[0],
            ParamEntry {
                name: "array3d".into(),
                arg: Some("300".into()),
                input: None
            }
        );
        assert_eq!(
            p[1],
            ParamEntry {
                name: "life".into(),
                arg: None,
                input: None
            }
        );
        assert_eq!(p[2].arg.as_deref(), Some("5e6"));
        assert_eq!(p[2].input.as_deref(), Some("FASTA_5000000"));
    }

    #[test]
    fn rejects_lines_with_too_many_fields() {
        let err = parse_params("ok 1\nbad 1 2 3\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn parses_the_shipped_luajit_param_file() {
        let p =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/luajit/PARAM_x86.txt");
        let Ok(text) = fs::read_to_string(&p) else {
            return;
        };
        let entries = parse_params(&text).unwrap();
        assert!(entries
            .iter()
            .any(|e| e.name == "sum-file" && e.input.as_deref() == Some("SUMCOL_5000")));
        assert!(entries.iter().all(|e| !e.name.is_empty()));
    }

    #[test]
    fn scales_only_sizes() {
        assert_eq!(scale_arg("5e6", 0.01), "50000");
        assert_eq!(scale_arg("16", 0.01), "16");
        assert_eq!(scale_arg("5000", 0.0001), "1");
        assert_eq!(scale_arg("abc", 0.5), "abc");
        assert_eq!(scale_arg("5e6", 1.0), "5e6");
    }

    #[test]
    fn resolves_generated_and_repeated_inputs() {
        let dir = std::env::temp_dir().join(format!("mjb-suite-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("fasta.lua"), "").unwrap();
        fs::write(dir.join("SUMCOL_1.txt"), "1\n").unwrap();
        fs::write(dir.join("data.txt"), "x").unwrap();
        assert_eq!(
            resolve_input(&dir, "data.txt", 1.0).unwrap(),
            InputSpec::File(dir.join("data.txt"))
        );
        match resolve_input(&dir, "FASTA_5000000", 0.01).unwrap() {
            InputSpec::Generate { file, script, arg } => {
                assert_eq!(file, "FASTA_50000");
                assert_eq!(script, dir.join("fasta.lua"));
                assert_eq!(arg, "50000");
            }
            other => panic!("unexpected {other:?}"),
        }
        match resolve_input(&dir, "SUMCOL_5000", 1.0).unwrap() {
            InputSpec::Repeat { times, .. } => assert_eq!(times, 5000),
            other => panic!("unexpected {other:?}"),
        }
        assert!(resolve_input(&dir, "MISSING_10", 1.0).is_err());
        assert!(resolve_input(&dir, "nothing", 1.0).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
