//! Compile-time benchmark: `cargo run --release -p moonjet-jit --example compile_bench`.
//! Times the `for i = 1, n do s = s + i end` trace under a few Cranelift settings,
//! codegen alone and with executable memory.

use std::time::Instant;

use moonjet_jit::ir::{Cmp, Ins, Snapshot, Trace, Ty};
use moonjet_jit::Compiler;

fn sum_loop() -> Trace {
    let snap = |slots: &[(u16, u32)]| Snapshot {
        slots: slots.to_vec(),
        pc: 0,
    };
    Trace {
        ins: vec![
            Ins::SLoad {
                slot: 0,
                ty: Ty::Num,
                snap: 0,
            },
            Ins::SLoad {
                slot: 1,
                ty: Ty::Num,
                snap: 0,
            },
            Ins::SLoad {
                slot: 2,
                ty: Ty::Num,
                snap: 0,
            },
            Ins::Guard {
                cmp: Cmp::Le,
                ty: Ty::Num,
                a: 1,
                b: 2,
                snap: 1,
            },
            Ins::AddN(0, 1),
            Ins::KNum(1.0),
            Ins::AddN(1, 5),
            Ins::Loop,
            Ins::Phi {
                ty: Ty::Num,
                init: 4,
                next: 11,
            },
            Ins::Phi {
                ty: Ty::Num,
                init: 6,
                next: 12,
            },
            Ins::Guard {
                cmp: Cmp::Le,
                ty: Ty::Num,
                a: 9,
                b: 2,
                snap: 2,
            },
            Ins::AddN(8, 9),
            Ins::AddN(9, 5),
        ],
        snaps: vec![
            snap(&[]),
            snap(&[(0, 0), (1, 1)]),
            snap(&[(0, 8), (1, 9)]),
            snap(&[(0, 8), (1, 9)]),
        ],
        loop_snap: 3,
        link_snap: None,
        gc_consts: Vec::new(),
        ..Trace::default()
    }
}

/// A long loop body: `rounds` x (add, multiply, guard) over four loop-carried values,
/// every guard with its own snapshot of all four.
fn long_trace(rounds: usize) -> Trace {
    let mut ins = vec![];
    let mut snaps = vec![Snapshot::default()];
    for slot in 0..4 {
        ins.push(Ins::SLoad {
            slot,
            ty: Ty::Num,
            snap: 0,
        });
    }
    ins.push(Ins::KNum(1.0001)); // 4
    ins.push(Ins::KNum(1e300)); // 5
    ins.push(Ins::Loop); // 6
    for v in 0..4 {
        ins.push(Ins::Phi {
            ty: Ty::Num,
            init: v,
            next: 0,
        }); // 7..=10
    }
    snaps.push(Snapshot {
        slots: (0..4).map(|s| (s, 7 + s as u32)).collect(),
        pc: 0,
    });
    let mut cur: Vec<u32> = (7..11).collect();
    for r in 0..rounds {
        let v = r % 4;
        let add = ins.len() as u32;
        ins.push(Ins::AddN(cur[v], cur[(v + 1) % 4]));
        ins.push(Ins::MulN(add, 4));
        cur[v] = add + 1;
        snaps.push(Snapshot {
            slots: (0..4).map(|s| (s as u16, cur[s])).collect(),
            pc: 0,
        });
        ins.push(Ins::Guard {
            cmp: Cmp::Lt,
            ty: Ty::Num,
            a: cur[v],
            b: 5,
            snap: snaps.len() as u32 - 1,
        });
    }
    for v in 0..4 {
        ins[7 + v] = Ins::Phi {
            ty: Ty::Num,
            init: v as u32,
            next: cur[v],
        };
    }
    Trace {
        ins,
        snaps,
        loop_snap: 1,
        link_snap: None,
        gc_consts: Vec::new(),
        ..Trace::default()
    }
}

fn main() {
    if std::env::args().any(|a| a == "--dump") {
        let mut c = Compiler::host().expect("host compiler");
        match c.dump(&sum_loop()) {
            Ok(text) => println!("{text}"),
            Err(e) => println!("{e}"),
        }
        return;
    }
    for rounds in [10, 100, 300] {
        let t = long_trace(rounds);
        let mut c = Compiler::host().expect("host compiler");
        let _ = c.compile(&t);
        let n = 50u32;
        let start = Instant::now();
        let mut size = 0;
        for _ in 0..n {
            size = c.compile(&t).map(|c| c.code_size()).unwrap_or(0);
        }
        let per = start.elapsed() / n;
        println!(
            "long trace, {} IR instructions, {} exits: {size} bytes, {per:?}/trace, {:?}/ins",
            t.ins.len(),
            t.snaps.len(),
            per / t.ins.len() as u32
        );
    }
    let t = sum_loop();
    let n = 2000u32;
    let variants: &[(&str, &[(&str, &str)])] = &[
        ("default (speed, backtracking)", &[]),
        (
            "single_pass regalloc",
            &[("regalloc_algorithm", "single_pass")],
        ),
        ("no alias analysis", &[("enable_alias_analysis", "false")]),
        ("opt_level none", &[("opt_level", "none")]),
        (
            "none + single_pass",
            &[("opt_level", "none"), ("regalloc_algorithm", "single_pass")],
        ),
    ];
    for (name, flags) in variants {
        let mut c = match Compiler::host_with_flags(flags) {
            Ok(c) => c,
            Err(e) => {
                println!("{name}: {e}");
                continue;
            }
        };
        for _ in 0..100 {
            let _ = c.compile(&t);
        }
        let start = Instant::now();
        let mut bytes = 0;
        for _ in 0..n {
            bytes = c.compile_bytes(&t).map(|b| b.len()).unwrap_or(0);
        }
        let codegen = start.elapsed() / n;
        let start = Instant::now();
        for _ in 0..n {
            let _ = c.compile(&t);
        }
        let full = start.elapsed() / n;
        println!(
            "{name}: {bytes} bytes; codegen {codegen:?}/trace ({:?}/ins); with exec memory {full:?}/trace ({:?}/ins)",
            codegen / t.ins.len() as u32,
            full / t.ins.len() as u32
        );
    }
}
