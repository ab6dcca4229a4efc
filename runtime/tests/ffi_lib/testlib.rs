//! Builds testlib.c (beside this file) with the system C compiler, once per test
//! binary. Included with `#[path]` by the runtime's FFI tests and the JIT's.

use std::path::PathBuf;

/// The path of the built library.
pub fn test_library() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            let src = dir.join("moonjet_ffi_testlib.c");
            std::fs::write(&src, include_str!("testlib.c")).expect("writing testlib.c");
            let out = dir.join("libmoonjet_ffi_test.so");
            let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
            let status = std::process::Command::new(&cc)
                .args(["-shared", "-fPIC", "-O1", "-pthread", "-o"])
                .arg(&out)
                .arg(&src)
                .status()
                .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
            assert!(status.success(), "building testlib.c failed");
            out
        })
        .clone()
}
