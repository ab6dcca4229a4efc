//! Engines ("configs"): a command line that runs a Lua script, found on PATH or given
//! by the user as `name=command with args`.

use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Engine {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Set for moonjet engines: they get MOONJET_JIT_STATS and their counters are read.
    pub moonjet: bool,
}

impl Engine {
    pub fn command_line(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }
}

/// The engines the runner knows by name, in the default order.
pub const BUILTIN: &[&str] = &[
    "moonjet",
    "moonjet-joff",
    "luajit",
    "luajit-joff",
    "lua5.1",
    "lua5.4",
];

/// Looks a program up on PATH (or takes it as a path when it contains a slash).
pub fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The workspace's release binary: beside this executable (target/release), else
/// the target directory of the checkout this crate was built from.
pub fn default_moonjet() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("moonjet")));
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/moonjet");
    [beside, Some(workspace)]
        .into_iter()
        .flatten()
        .find(|p| is_executable(p))
}

/// Resolves a builtin engine name; Err says why it is unavailable.
fn builtin(name: &str, moonjet: Option<&Path>) -> Result<Engine, String> {
    let (prog, args, is_mj): (&str, &[&str], bool) = match name {
        "moonjet" => ("moonjet", &["-jon"], true),
        "moonjet-joff" => ("moonjet", &["-joff"], true),
        "luajit" => ("luajit", &[], false),
        "luajit-joff" => ("luajit", &["-joff"], false),
        "lua5.1" => ("lua5.1", &[], false),
        "lua5.4" => ("lua5.4", &[], false),
        _ => {
            return Err(format!(
                "unknown engine {name} (known: {}; or define one as name=command)",
                BUILTIN.join(", ")
            ))
        }
    };
    let program = if is_mj {
        match moonjet {
            Some(p) if is_executable(p) => p.to_path_buf(),
            Some(p) => return Err(format!("engine {name}: {} is not an executable file", p.display())),
            None => default_moonjet().ok_or_else(|| {
                format!("engine {name}: no moonjet binary found (run `cargo build --release` or pass --moonjet PATH)")
            })?,
        }
    } else {
        which(prog).ok_or_else(|| format!("engine {name}: {prog} not found on PATH"))?
    };
    Ok(Engine {
        name: name.to_string(),
        program,
        args: args.iter().map(|s| s.to_string()).collect(),
        moonjet: is_mj,
    })
}

/// Parses `name=command with args` into an engine.
pub fn user_engine(spec: &str) -> Result<Engine, String> {
    let (name, cmd) = spec
        .split_once('=')
        .ok_or_else(|| format!("bad engine definition {spec}"))?;
    let name = name.trim();
    let mut words = cmd.split_whitespace();
    let prog = words
        .next()
        .ok_or_else(|| format!("engine {name}: empty command"))?;
    if name.is_empty() {
        return Err(format!("engine definition {spec} has no name"));
    }
    let program = which(prog).ok_or_else(|| format!("engine {name}: {prog} not found"))?;
    let moonjet = program
        .file_name()
        .is_some_and(|f| f.to_string_lossy().contains("moonjet"));
    Ok(Engine {
        name: name.to_string(),
        program,
        args: words.map(String::from).collect(),
        moonjet,
    })
}

/// The engines to run: those named in `spec` (comma-separated names or definitions),
/// or every builtin that is available.
pub fn resolve(spec: Option<&str>, moonjet: Option<&Path>) -> Result<Vec<Engine>, String> {
    let mut out: Vec<Engine> = Vec::new();
    match spec {
        None => out.extend(BUILTIN.iter().filter_map(|n| builtin(n, moonjet).ok())),
        Some(spec) => {
            for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let e = if item.contains('=') {
                    user_engine(item)?
                } else {
                    builtin(item, moonjet)?
                };
                if out.iter().any(|o| o.name == e.name) {
                    return Err(format!("engine {} named twice", e.name));
                }
                out.push(e);
            }
        }
    }
    if out.is_empty() {
        return Err("no engines to run (none found, or --engines was empty)".into());
    }
    Ok(out)
}

/// First non-empty line of `<program> -v`, from stdout or stderr (lua5.1 uses stderr).
pub fn version(e: &Engine) -> String {
    let out = crate::runner::run_capture(&e.program, &["-v".to_string()], Duration::from_secs(5));
    match out {
        Ok((stdout, stderr)) => [stdout, stderr]
            .iter()
            .flat_map(|b| {
                String::from_utf8_lossy(b)
                    .lines()
                    .map(str::trim)
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .find(|l| !l.is_empty())
            .unwrap_or_else(|| "unknown".into()),
        Err(e) => format!("unknown ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_engine_splits_command() {
        let e = user_engine("sh-cat=sh -c true").unwrap();
        assert_eq!(e.name, "sh-cat");
        assert!(e.program.ends_with("sh"));
        assert_eq!(e.args, vec!["-c", "true"]);
        assert!(!e.moonjet);
        assert!(user_engine("x=").is_err());
        assert!(user_engine("=sh").is_err());
        assert!(user_engine("y=/no/such/program").is_err());
    }

    #[test]
    fn unknown_and_duplicate_engines_are_errors() {
        assert!(resolve(Some("no-such-engine"), None)
            .unwrap_err()
            .contains("unknown engine"));
        assert!(resolve(Some("a=sh,a=sh"), None)
            .unwrap_err()
            .contains("twice"));
        let missing = resolve(Some("moonjet"), Some(Path::new("/no/such/moonjet"))).unwrap_err();
        assert!(missing.contains("not an executable"), "{missing}");
    }
}
