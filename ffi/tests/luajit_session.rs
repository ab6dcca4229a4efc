//! Replays `luajit/session.txt` (declarations and type strings with LuaJIT's answers,
//! recorded by `luajit/record.lua` from the reference binary) in one table: type names,
//! IDs, sizes, alignments and error messages must all be LuaJIT's.

use moonjet_ffi::{CTypeTable, Target};

fn answer(table: &mut CTypeTable, cmd: &str, src: &str) -> String {
    if cmd == "c" {
        return match table.cdef(src, &[]) {
            Ok(()) => "OK".to_string(),
            Err(err) => format!("ERR {err}"),
        };
    }
    match table.parse_type(src, &[]) {
        Ok(id) => format!(
            "ctype<{}> #{} size {} align {}",
            table.type_name(id),
            id.0,
            table
                .sizeof(id)
                .map_or("nil".to_string(), |size| size.to_string()),
            table.alignof(id)
        ),
        Err(err) => format!("ERR {err}"),
    }
}

#[test]
fn session_matches_luajit() {
    // Recorded on x86-64 (char is signed there).
    let mut table = CTypeTable::with_target(Target::X86_64SysV);
    let mut mismatches = Vec::new();
    let session = include_str!("luajit/session.txt");
    for line in session.lines() {
        let (cmd, rest) = line.split_at(1);
        let (input, expected) = rest[1..].split_once(" => ").expect("recorded line");
        let src = input.replace("\\n", "\n");
        let got = answer(&mut table, cmd, &src).replace('\n', "\\n");
        if got != expected {
            mismatches.push(format!("{line}\n    moonjet: {got}"));
        }
    }
    assert!(session.lines().count() > 500);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
