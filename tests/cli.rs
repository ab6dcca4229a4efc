//! The `moonjet` command as a user meets it today: it reports its version, lists
//! bytecode like `luajit -bl`, and says plainly that it cannot run Lua yet.

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

#[test]
fn bl_lists_bytecode_like_luajit() {
    let dir = std::env::temp_dir().join(format!("moonjet-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("t.lua");
    std::fs::write(&file, "local x = 1\nprint(x + 2)\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_moonjet"))
        .arg("-bl")
        .arg("t.lua")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    // Exactly what `luajit -bl t.lua` prints for this file.
    let want = "-- BYTECODE -- t.lua:0-3\n\
                0001    KSHORT   0   1\n\
                0002    GGET     1   0      ; \"print\"\n\
                0003    ADDVN    3   0   0  ; 2\n\
                0004    CALL     1   1   2\n\
                0005    RET0     0   1\n\n";
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    std::fs::write(&file, "x = = 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_moonjet"))
        .arg("-bl")
        .arg("t.lua")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).ends_with("t.lua:1: unexpected symbol near '='\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn b_saves_a_binary_chunk_that_loads_back() {
    let dir = std::env::temp_dir().join(format!("moonjet-cli-b-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("m.lua"),
        "local t = {} for i = 1, 3 do t[i] = i * 2 end return t\n",
    )
    .unwrap();
    for (flag, stripped) in [("-g", false), ("-s", true)] {
        let out = Command::new(env!("CARGO_BIN_EXE_moonjet"))
            .args(["-b", flag, "m.lua", "m.bc"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(dir.join("m.bc")).unwrap();
        assert!(moonjet_runtime::chunk::is_binary(&bytes));
        let loaded = moonjet_runtime::chunk::load(&bytes, b"=m").unwrap();
        let direct =
            moonjet_runtime::parse::parse(&std::fs::read(dir.join("m.lua")).unwrap(), b"@m.lua")
                .unwrap();
        assert_eq!(loaded.bc, direct.bc);
        assert_eq!(loaded.lineinfo.is_empty(), stripped);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
