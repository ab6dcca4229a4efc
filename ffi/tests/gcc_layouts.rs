//! Struct layouts against GCC's: `gcc_layouts/cases.h` is declared with `cdef` and every
//! size, alignment and member position must be what GCC computed for the same file.
//! The table below is the output of `gcc_layouts/gen.c` (see its header for how to
//! regenerate it); this test does not need gcc.

use moonjet_ffi::{CTypeTable, Kind, Target};

/// (type, sizeof, alignof, [(member, position in bits, bitfield width or 0)]).
type Layout = (&'static str, u32, u32, &'static [(&'static str, u32, u32)]);

const EXPECTED: &[Layout] = &[
    (
        "struct t01",
        12,
        4,
        &[("a", 0, 0), ("b", 32, 0), ("c", 64, 0)],
    ),
    (
        "struct t02",
        24,
        8,
        &[("a", 0, 0), ("b", 64, 0), ("c", 128, 0)],
    ),
    (
        "struct t03",
        16,
        8,
        &[("a", 0, 0), ("b", 16, 0), ("c", 64, 0)],
    ),
    (
        "struct t04",
        8,
        2,
        &[("a", 0, 0), ("in", 16, 0), ("b", 48, 0)],
    ),
    (
        "struct t05",
        24,
        8,
        &[("a", 0, 0), ("u", 64, 0), ("e", 128, 0)],
    ),
    (
        "struct t06",
        12,
        4,
        &[("a", 0, 0), ("x", 32, 0), ("b", 64, 0)],
    ),
    ("union t07", 8, 4, &[("a", 0, 0), ("b", 0, 0), ("c", 0, 0)]),
    ("struct t08", 4, 4, &[("n", 0, 0), ("items", 32, 0)]),
    ("struct t09", 8, 8, &[("c", 0, 0), ("d", 64, 0)]),
    ("struct t10", 32, 16, &[("a", 0, 0), ("b", 128, 0)]),
    (
        "struct t11",
        12,
        4,
        &[("e", 0, 0), ("c", 32, 0), ("f", 64, 0)],
    ),
    (
        "struct t12",
        32,
        8,
        &[("cb", 0, 0), ("a", 64, 0), ("fp", 128, 0)],
    ),
    ("struct t13", 40, 4, &[("arr", 0, 0), ("tail", 288, 0)]),
    ("struct t14", 4, 4, &[("a", 0, 1), ("b", 1, 2), ("c", 3, 3)]),
    (
        "struct t15",
        12,
        4,
        &[("a", 0, 17), ("b", 32, 16), ("c", 64, 17)],
    ),
    (
        "struct t16",
        8,
        4,
        &[("a", 0, 7), ("b", 7, 7), ("c", 16, 7), ("d", 32, 10)],
    ),
    (
        "struct t17",
        4,
        4,
        &[("a", 0, 9), ("b", 9, 9), ("c", 24, 0)],
    ),
    (
        "struct t18",
        8,
        4,
        &[("a", 0, 0), ("b", 8, 7), ("c", 32, 30)],
    ),
    (
        "struct t19",
        4,
        4,
        &[("a", 0, 3), ("b", 3, 5), ("c", 8, 4), ("d", 16, 12)],
    ),
    (
        "struct t20",
        3,
        1,
        &[("a", 0, 1), ("b", 1, 1), ("c", 8, 0), ("d", 16, 1)],
    ),
    ("struct t21", 8, 4, &[("a", 0, 16), ("c", 32, 16)]),
    ("struct t22", 8, 4, &[("a", 0, 20), ("c", 32, 4)]),
    ("struct t23", 5, 1, &[("a", 0, 0), ("b", 32, 0)]),
    ("struct t24", 3, 1, &[("a", 0, 0), ("b", 16, 0)]),
    ("union t25", 4, 4, &[("a", 0, 3), ("b", 0, 9)]),
    (
        "struct t26",
        7,
        1,
        &[("a", 0, 0), ("b", 8, 0), ("c", 40, 0)],
    ),
    ("struct t27", 5, 1, &[("a", 0, 0), ("b", 8, 0)]),
    (
        "struct t28",
        8,
        2,
        &[("a", 0, 0), ("b", 8, 0), ("c", 48, 0)],
    ),
    (
        "struct t29",
        4,
        1,
        &[("a", 0, 7), ("b", 7, 7), ("c", 14, 7), ("d", 21, 10)],
    ),
    ("struct t30", 7, 1, &[("a", 0, 0), ("b", 24, 26)]),
    ("struct t31", 32, 16, &[("a", 0, 0), ("b", 128, 0)]),
    ("struct t32", 16, 16, &[("a", 0, 0), ("b", 32, 0)]),
    ("struct t33", 8, 8, &[("a", 0, 0), ("b", 32, 0)]),
    ("struct t34", 6, 2, &[("a", 0, 0), ("b", 8, 0)]),
    ("struct t35", 16, 8, &[("a", 0, 1), ("b", 64, 0)]),
    ("struct t36", 4, 2, &[("a", 0, 1), ("b", 16, 1)]),
    (
        "struct t37",
        7,
        1,
        &[("a", 0, 0), ("b", 8, 0), ("c", 40, 0)],
    ),
    (
        "struct t38",
        14,
        2,
        &[("a", 0, 0), ("b", 16, 0), ("c", 48, 0)],
    ),
    ("struct t39", 6, 2, &[("a", 0, 0), ("y", 16, 0)]),
    (
        "struct t40",
        6,
        2,
        &[("a", 0, 0), ("b", 8, 7), ("c", 15, 30)],
    ),
    (
        "struct t41",
        16,
        4,
        &[("a", 0, 0), ("b", 32, 0), ("c", 96, 0)],
    ),
    (
        "struct t42",
        32,
        8,
        &[("a", 0, 0), ("z", 64, 0), ("f", 192, 0)],
    ),
    ("struct t43", 32, 16, &[("a", 0, 0), ("v", 128, 0)]),
    (
        "struct t44",
        16,
        8,
        &[("a", 0, 0), ("b", 64, 0), ("c", 96, 0)],
    ),
    (
        "struct t45",
        48,
        16,
        &[("a", 0, 0), ("s", 128, 0), ("b", 256, 0)],
    ),
    (
        "struct t46",
        16,
        8,
        &[("a", 0, 4), ("b", 4, 10), ("c", 32, 20), ("d", 64, 0)],
    ),
];

fn check_layouts(target: Target) {
    let mut table = CTypeTable::with_target(target);
    table
        .cdef(include_str!("gcc_layouts/cases.h"), &[])
        .expect("cases.h parses");
    let mut mismatches = Vec::new();
    for &(name, size, align, members) in EXPECTED {
        let id = table.parse_type(name, &[]).expect(name);
        let got = (table.sizeof(id), table.alignof(id));
        if got != (Some(size), align) {
            mismatches.push(format!("{name}: size/align {got:?}, gcc {size}/{align}"));
        }
        for &(member_name, bitpos, width) in members {
            let member = table.member(id, member_name).expect(member_name);
            let (got_pos, got_width) = match table.get(member.entry).kind {
                Kind::Bitfield { bit_pos, bit_width } => {
                    (member.offset * 8 + bit_pos as u32, bit_width as u32)
                }
                _ => (member.offset * 8, 0),
            };
            if (got_pos, got_width) != (bitpos, width) {
                mismatches.push(format!(
                    "{name}.{member_name}: bit {got_pos} width {got_width}, gcc bit {bitpos} width {width}"
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn layouts_match_gcc_x86_64() {
    check_layouts(Target::X86_64SysV);
}

#[test]
fn layouts_match_gcc_aarch64() {
    check_layouts(Target::Aarch64);
}
