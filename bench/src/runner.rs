//! Running one child process: timed from spawn to exit, stdout to a file (no pipe to
//! drain while timing), killed with its whole process group at the timeout.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Job<'a> {
    pub program: &'a Path,
    pub args: Vec<String>,
    pub cwd: Option<&'a Path>,
    pub stdin: Option<&'a Path>,
    pub env: Vec<(String, PathBuf)>,
    pub stdout: &'a Path,
    pub stderr: &'a Path,
    pub timeout: Duration,
}

pub struct Finished {
    pub elapsed: Duration,
    /// Ok on exit status 0, else why not.
    pub status: Result<(), String>,
}

/// Runs a job to completion or its timeout. Err only when it could not be started.
pub fn run(job: &Job) -> Result<Finished, String> {
    let open = |p: &Path| File::create(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut cmd = Command::new(job.program);
    cmd.args(&job.args)
        .stdout(open(job.stdout)?)
        .stderr(open(job.stderr)?);
    match job.stdin {
        Some(p) => cmd.stdin(File::open(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => cmd.stdin(Stdio::null()),
    };
    if let Some(d) = job.cwd {
        cmd.current_dir(d);
    }
    for (k, v) in &job.env {
        cmd.env(k, v);
    }
    // Own process group, so a wrapper script's children die with it on timeout.
    cmd.process_group(0);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", job.program.display()))?;
    let pid = child.id() as libc::pid_t;

    // Watchdog: kills the group unless told the child has exited. The child is not
    // reaped until the watchdog has been told, so its pid cannot be reused meanwhile.
    let (tx, rx) = mpsc::channel::<()>();
    let timeout = job.timeout;
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
            // SAFETY: kill has no memory-safety preconditions; the group is ours.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            true
        } else {
            false
        }
    });
    wait_exited(pid);
    let elapsed = start.elapsed();
    let _ = tx.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    let status = child.wait().map_err(|e| format!("wait failed: {e}"))?;
    let status = if timed_out {
        Err(format!("timed out after {}s", timeout.as_secs_f64()))
    } else if status.success() {
        Ok(())
    } else if let Some(code) = status.code() {
        Err(format!("exit status {code}{}", stderr_tail(job.stderr)))
    } else {
        use std::os::unix::process::ExitStatusExt;
        Err(format!(
            "killed by signal {}{}",
            status.signal().unwrap_or(0),
            stderr_tail(job.stderr)
        ))
    };
    Ok(Finished { elapsed, status })
}

/// Blocks until the child has exited, leaving it unreaped (WNOWAIT).
fn wait_exited(pid: libc::pid_t) {
    loop {
        // SAFETY: siginfo_t is plain data that waitid fills in.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

/// The last non-empty line of a stderr file, as `: line` for an error message.
fn stderr_tail(p: &Path) -> String {
    let text = std::fs::read(p).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    match text.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        Some(l) => {
            let l: String = l.chars().take(200).collect();
            format!(": {l}")
        }
        None => String::new(),
    }
}

/// Runs a short command and returns its stdout and stderr.
pub fn run_capture(
    program: &Path,
    args: &[String],
    timeout: Duration,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let dir = scratch_dir()?;
    let (out, err) = (dir.join("capture.out"), dir.join("capture.err"));
    let job = Job {
        program,
        args: args.to_vec(),
        cwd: None,
        stdin: None,
        env: vec![],
        stdout: &out,
        stderr: &err,
        timeout,
    };
    let f = run(&job);
    let res = (
        std::fs::read(&out).unwrap_or_default(),
        std::fs::read(&err).unwrap_or_default(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    f?.status.map(|_| res)
}

/// A fresh scratch directory for child output files; the caller removes it.
pub fn scratch_dir() -> Result<PathBuf, String> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("moonjet-bench-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> (Finished, String) {
        let dir = scratch_dir().unwrap();
        let tag = format!("{:?}", std::thread::current().id())
            .replace(|c: char| !c.is_alphanumeric(), "");
        let (out, err) = (
            dir.join(format!("t{tag}.out")),
            dir.join(format!("t{tag}.err")),
        );
        let job = Job {
            program: Path::new("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            cwd: None,
            stdin: None,
            env: vec![],
            stdout: &out,
            stderr: &err,
            timeout,
        };
        let f = run(&job).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        (f, text)
    }

    #[test]
    fn captures_output_and_status() {
        let (f, out) = sh("echo hi; echo oops >&2; exit 3", Duration::from_secs(10));
        assert_eq!(out, "hi\n");
        assert_eq!(f.status.unwrap_err(), "exit status 3: oops");
        let (f, _) = sh("true", Duration::from_secs(10));
        assert!(f.status.is_ok());
    }

    #[test]
    fn kills_at_timeout_including_grandchildren() {
        let t = Instant::now();
        let (f, _) = sh("sleep 30 & sleep 30; wait", Duration::from_millis(300));
        assert!(f.status.unwrap_err().contains("timed out"));
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn missing_program_is_an_error_not_a_panic() {
        let dir = scratch_dir().unwrap();
        let p = dir.join("x");
        let job = Job {
            program: Path::new("/no/such/program"),
            args: vec![],
            cwd: None,
            stdin: None,
            env: vec![],
            stdout: &p,
            stderr: &p,
            timeout: Duration::from_secs(1),
        };
        let err = run(&job).err().unwrap();
        assert!(err.starts_with("cannot start /no/such/program"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
