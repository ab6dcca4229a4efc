//! Helpers shared by the command's integration tests.

#![allow(dead_code)] // each test binary uses its own subset

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

/// An output sink for `State::out` whose bytes the test can read afterwards.
#[derive(Clone, Default)]
pub struct Captured(pub Rc<RefCell<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `s` with every `0x...` address written as `0xADDR` (addresses vary between runs).
pub fn without_addresses(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let n = rest[i + 2..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len() - i - 2);
        out.push_str("0xADDR");
        rest = &rest[i + 2 + n..];
    }
    out + rest
}
