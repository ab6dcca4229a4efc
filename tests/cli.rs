//! The `moonjet` command as a user meets it today: it reports its version, and says
//! plainly that it cannot run Lua yet instead of pretending to.

use std::process::Command;

fn moonjet(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_moonjet"))
        .args(args)
        .output()
        .expect("run moonjet")
}

#[test]
fn version_flag_prints_the_package_version() {
    let out = moonjet(&["-v"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("moonjet {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn running_a_script_fails_with_an_explanation_until_the_interpreter_exists() {
    let out = moonjet(&["script.lua"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot run Lua code yet"));
}
