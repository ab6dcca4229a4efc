//! Print a `luajit -bl`-style listing of a Lua file: `cargo run -p moonjet-runtime --example bclist -- file.lua`.
fn main() {
    let path = std::env::args().nth(1).expect("usage: bclist FILE");
    let src = std::fs::read(&path).expect("read");
    let name = format!("@{path}");
    match moonjet_runtime::parse::parse(&src, name.as_bytes()) {
        Ok(pt) => {
            use std::io::Write;
            let _ = std::io::stdout().write_all(&moonjet_runtime::bclist::list(&pt));
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
