//! C calls and callbacks against a C library of our own (tests/ffi_lib/testlib.c, built
//! here with the system C compiler): every argument and result class, structs and
//! unions by value both ways, varargs, callbacks (errors, rebinding, freeing, a call
//! from another thread). tests/ffi_lib/calls.lua asserts each result and prints "ok";
//! luajit prints "ok" for it too, except for the foreign-thread check, which crashes it.

mod common;
use std::path::PathBuf;

#[path = "ffi_lib/testlib.rs"]
mod ffi_testlib;
use ffi_testlib::test_library;

/// Runs `file` from tests/ffi_lib with the global LIBPATH set; its output, plus the
/// error if one escaped.
fn run(file: &str, stress: bool) -> String {
    // The library keeps a callback in a C global: programs must not run at once (one
    // would call the other's callback from its thread, which is refused).
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let lib = test_library();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ffi_lib")
        .join(file);
    let src = format!(
        "LIBPATH = {:?} {}",
        lib.to_str().unwrap(),
        std::fs::read_to_string(&path).unwrap()
    );
    common::run_program(src.as_bytes(), &format!("@{file}"), stress)
}

#[test]
fn calls_and_callbacks_of_every_class() {
    assert_eq!(run("calls.lua", false), "ok\n");
}

#[test]
fn calls_and_callbacks_under_gc_stress() {
    assert_eq!(run("calls.lua", true), "ok\n");
}
