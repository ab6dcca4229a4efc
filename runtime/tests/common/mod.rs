//! Helpers shared by the runtime's integration tests.

use std::path::{Path, PathBuf};

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
