//! `cargo fuzz run load`: the binary-chunk loader on arbitrary bytes must load (and then
//! the result verifies and round-trips) or return an error: never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moonjet_runtime::chunk;

fuzz_target!(|data: &[u8]| {
    if let Ok(pt) = chunk::load(data, b"=fuzz") {
        assert!(chunk::verify(&pt).is_ok());
        let again = chunk::load(&chunk::dump(&pt, false), b"=fuzz").expect("a loaded chunk dumps and reloads");
        assert_eq!(again, pt);
    }
});
