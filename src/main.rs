//! The `moonjet` command. The interpreter does not exist yet: until it does, the command
//! says so instead of pretending to run scripts.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!("moonjet {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    eprintln!("moonjet: cannot run Lua code yet (the interpreter is not built); only the collector exists");
    ExitCode::from(1)
}
