//! Helpers shared by the command's integration tests.

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
