//! Helpers shared by the runtime's integration tests.

#![allow(dead_code)] // each test binary uses its own subset

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// An output sink for `State::out` whose bytes the test can read afterwards.
#[derive(Clone, Default)]
pub struct Captured(pub Rc<RefCell<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The project's shared folder (LuaJIT's test suite and benchmarks live there).
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// Every `.lua` file of the conformance suite and the benchmarks.
pub fn corpus_files() -> Vec<PathBuf> {
    let mut files = vec![];
    lua_files(&shared().join("conformance/luajit-tests"), &mut files);
    lua_files(&shared().join("bench/luajit"), &mut files);
    files
}

fn lua_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = entry.unwrap().path();
        if p.is_dir() {
            lua_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "lua") {
            out.push(p);
        }
    }
}

/// Runs a program in-process as the command does (through xpcall with a traceback
/// handler), with the collector in stress mode if asked: its printed output, plus
/// "UNCAUGHT: msg" if an error escaped.
pub fn run_program(src: &[u8], chunkname: &str, stress: bool) -> String {
    let mut st = moonjet_runtime::vm::State::with_stress(stress);
    let out = Captured::default();
    st.out = Box::new(out.clone());
    let r = match st.load(src, chunkname.as_bytes(), b"t") {
        Ok(true) => st.pcall_traceback(0).map(|n| st.pop(n)),
        _ => panic!("{chunkname} does not load"),
    };
    let mut text = String::from_utf8_lossy(&out.0.borrow()).into_owned();
    if let Err(e) = r {
        let msg = st.display_value(e);
        text.push_str(&format!("UNCAUGHT: {}\n", String::from_utf8_lossy(&msg)));
    }
    text
}
