//! `cargo fuzz run parse`: the front end on arbitrary bytes must return Ok or a syntax
//! error, never panic, hang or overflow the stack.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = moonjet_runtime::parse::parse(data, b"=fuzz");
});
