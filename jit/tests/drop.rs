//! Compiled traces free their executable memory when dropped. Alone in its own test
//! binary so no other test's allocations move the process's numbers.

use moonjet_jit::ir::{Ins, Snapshot, Trace, Ty};
use moonjet_jit::Compiler;

/// Virtual memory size of this process in KiB (every leaked mapping adds a page).
fn vm_size_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn thousands_of_traces_compiled_and_dropped() {
    // x = x + 1 forever, with an exit through the loop snapshot only.
    let t = Trace {
        ins: vec![
            Ins::SLoad {
                slot: 0,
                ty: Ty::Num,
                snap: 0,
            },
            Ins::KNum(1.0),
            Ins::Loop,
            Ins::Phi {
                ty: Ty::Num,
                init: 0,
                next: 4,
            },
            Ins::AddN(3, 1),
        ],
        snaps: vec![
            Snapshot::default(),
            Snapshot {
                slots: vec![(0, 3)],
                pc: 0,
            },
        ],
        loop_snap: 1,
        link_snap: None,
        gc_consts: Vec::new(),
        ..Trace::default()
    };
    let mut c = Compiler::host().unwrap();
    let flag = 1u8; // leave at once
    for _ in 0..100 {
        drop(c.compile(&t).unwrap());
    }
    let before = vm_size_kib();
    for i in 0..5000 {
        let code = c.compile(&t).unwrap();
        let mut slot = [(i as f64).to_bits()];
        // SAFETY: one valid slot and a live interrupt byte.
        assert_eq!(unsafe { code.run(slot.as_mut_ptr(), &flag) }, 1);
        assert_eq!(slot[0], (i as f64).to_bits());
    }
    let grown = vm_size_kib().saturating_sub(before);
    // Leaking would cost at least a page per trace: 20000 KiB.
    assert!(
        grown < 4096,
        "virtual memory grew by {grown} KiB over 5000 traces"
    );
}
