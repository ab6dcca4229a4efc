//! The backend against hand-built traces: each test runs the native code on a slot array
//! and checks what the trace wrote back and which snapshot it left through.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use moonjet_jit::ir::{CNum, Cmp, Ins, Ref, SnapId, Snapshot, Trace, Ty};
use moonjet_jit::{compile, compile_for, CompileError, Compiler};

const CANON_NAN: u64 = 0xFFF8_0000_0000_0000;

/// A trace under construction: `push` returns the new instruction's ref.
#[derive(Default)]
struct B {
    t: Trace,
}

impl B {
    fn push(&mut self, i: Ins) -> Ref {
        self.t.ins.push(i);
        (self.t.ins.len() - 1) as Ref
    }
    fn snap(&mut self, slots: &[(u16, Ref)]) -> SnapId {
        self.t.snaps.push(Snapshot {
            slots: slots.to_vec(),
            pc: self.t.snaps.len() as u32,
        });
        (self.t.snaps.len() - 1) as SnapId
    }
    /// Ends the trace with a loop that leaves at once (`k != k` is false for a number
    /// `k`) through a snapshot of `slots`, which it returns: the results of the
    /// instructions before it, written back for the test to read.
    fn leave_after_loop(&mut self, k: Ref, slots: &[(u16, Ref)]) -> SnapId {
        self.push(Ins::Loop);
        self.t.loop_snap = self.snap(&[]);
        let out = self.snap(slots);
        self.push(Ins::Guard {
            cmp: Cmp::Ne,
            ty: Ty::Num,
            a: k,
            b: k,
            snap: out,
        });
        out
    }
    /// Patches a phi's `next` once the body defining it has been built.
    fn set_next(&mut self, phi: Ref, to: Ref) {
        if let Ins::Phi { next, .. } = &mut self.t.ins[phi as usize] {
            *next = to;
        }
    }
}

fn num(x: f64) -> u64 {
    x.to_bits()
}

fn run(t: &Trace, slots: &mut [u64]) -> u32 {
    let c = compile(t).expect("compiles");
    let flag = AtomicU8::new(0);
    // SAFETY: the slot array covers every slot the test traces touch.
    unsafe { c.run(slots.as_mut_ptr(), flag.as_ptr()) }
}

/// Snapshot ids of [`sum_loop`].
const TYPE_EXIT: u32 = 0;
const DONE_FIRST: u32 = 1;
const DONE: u32 = 2;
const LOOP_SNAP: u32 = 3;

/// `local s = 0 for i = 1, n do s = s + i end` over doubles: slot 0 = s, 1 = i, 2 = n.
fn sum_loop() -> Trace {
    let mut b = B::default();
    let type_exit = b.snap(&[]);
    let s = b.push(Ins::SLoad {
        slot: 0,
        ty: Ty::Num,
        snap: type_exit,
    });
    let i = b.push(Ins::SLoad {
        slot: 1,
        ty: Ty::Num,
        snap: type_exit,
    });
    let n = b.push(Ins::SLoad {
        slot: 2,
        ty: Ty::Num,
        snap: type_exit,
    });
    let done_first = b.snap(&[(0, s), (1, i)]);
    b.push(Ins::Guard {
        cmp: Cmp::Le,
        ty: Ty::Num,
        a: i,
        b: n,
        snap: done_first,
    });
    let s1 = b.push(Ins::AddN(s, i));
    let one = b.push(Ins::KNum(1.0));
    let i1 = b.push(Ins::AddN(i, one));
    b.push(Ins::Loop);
    let ps = b.push(Ins::Phi {
        ty: Ty::Num,
        init: s1,
        next: 0,
    });
    let pi = b.push(Ins::Phi {
        ty: Ty::Num,
        init: i1,
        next: 0,
    });
    let done = b.snap(&[(0, ps), (1, pi)]);
    let loop_snap = b.snap(&[(0, ps), (1, pi)]);
    b.t.loop_snap = loop_snap;
    b.push(Ins::Guard {
        cmp: Cmp::Le,
        ty: Ty::Num,
        a: pi,
        b: n,
        snap: done,
    });
    let s2 = b.push(Ins::AddN(ps, pi));
    let i2 = b.push(Ins::AddN(pi, one));
    b.set_next(ps, s2);
    b.set_next(pi, i2);
    assert_eq!(
        (type_exit, done_first, done, loop_snap),
        (TYPE_EXIT, DONE_FIRST, DONE, LOOP_SNAP)
    );
    b.t
}

#[test]
fn sum_loop_over_doubles() {
    let t = sum_loop();
    let c = compile(&t).unwrap();
    assert!(c.code_size() > 0);
    let flag = AtomicU8::new(0);
    for n in [0u64, 1, 2, 3, 10, 1000, 100_000] {
        let mut slots = [num(0.0), num(1.0), num(n as f64), 0xDEAD];
        // SAFETY: four valid slots; the trace touches 0..=2.
        let k = unsafe { c.run(slots.as_mut_ptr(), flag.as_ptr()) };
        assert_eq!(k, if n == 0 { DONE_FIRST } else { DONE }, "n = {n}");
        assert_eq!(
            f64::from_bits(slots[0]),
            (n * (n + 1) / 2) as f64,
            "s for n = {n}"
        );
        assert_eq!(f64::from_bits(slots[1]), (n + 1) as f64, "i for n = {n}");
        assert_eq!(slots[2], num(n as f64), "n is read, never written");
        assert_eq!(slots[3], 0xDEAD);
    }
    // Fractional bounds and a non-integral start.
    let mut slots = [num(0.5), num(0.5), num(3.2)];
    assert_eq!(run(&t, &mut slots), DONE);
    assert_eq!(f64::from_bits(slots[0]), 0.5 + 0.5 + 1.5 + 2.5);
    assert_eq!(f64::from_bits(slots[1]), 3.5);
}

#[test]
fn type_guard_exit_writes_nothing() {
    let t = sum_loop();
    for bad in [
        0xFFFF_FFFF_FFFF_FFFFu64,
        0x1FFF2 << 47,
        0xFFFA_0000_0000_1234,
    ] {
        let mut slots = [num(7.0), num(1.0), bad];
        assert_eq!(run(&t, &mut slots), TYPE_EXIT);
        assert_eq!(slots, [num(7.0), num(1.0), bad]);
    }
    // The largest tag-free pattern is a number (a NaN), so the load passes; the guard
    // `i <= NaN` then fails at once.
    let mut slots = [num(7.0), num(1.0), (0x1FFF2 << 47) - 1];
    assert_eq!(run(&t, &mut slots), DONE_FIRST);
    assert_eq!(slots[..2], [num(7.0), num(1.0)]);
}

/// The sum loop narrowed to integers: snapshot 0 is the type/narrowing exit, 1 and 3
/// loop termination, 4 the loop snapshot, 2 and 5 integer overflow (before the add).
fn int_sum_loop() -> Trace {
    let mut b = B::default();
    let type_exit = b.snap(&[]);
    let s = b.push(Ins::SLoad {
        slot: 0,
        ty: Ty::Num,
        snap: type_exit,
    });
    let i = b.push(Ins::SLoad {
        slot: 1,
        ty: Ty::Num,
        snap: type_exit,
    });
    let n = b.push(Ins::SLoad {
        slot: 2,
        ty: Ty::Num,
        snap: type_exit,
    });
    let si = b.push(Ins::NumToInt {
        a: s,
        snap: type_exit,
    });
    let ii = b.push(Ins::NumToInt {
        a: i,
        snap: type_exit,
    });
    let ni = b.push(Ins::NumToInt {
        a: n,
        snap: type_exit,
    });
    let done_first = b.snap(&[(0, si), (1, ii)]);
    b.push(Ins::Guard {
        cmp: Cmp::Le,
        ty: Ty::Int,
        a: ii,
        b: ni,
        snap: done_first,
    });
    let ovf_first = b.snap(&[(0, si), (1, ii)]);
    let s1 = b.push(Ins::AddI {
        a: si,
        b: ii,
        snap: ovf_first,
    });
    let one = b.push(Ins::KInt(1));
    let i1 = b.push(Ins::AddI {
        a: ii,
        b: one,
        snap: ovf_first,
    });
    b.push(Ins::Loop);
    let ps = b.push(Ins::Phi {
        ty: Ty::Int,
        init: s1,
        next: 0,
    });
    let pi = b.push(Ins::Phi {
        ty: Ty::Int,
        init: i1,
        next: 0,
    });
    let done = b.snap(&[(0, ps), (1, pi)]);
    b.t.loop_snap = b.snap(&[(0, ps), (1, pi)]);
    b.push(Ins::Guard {
        cmp: Cmp::Le,
        ty: Ty::Int,
        a: pi,
        b: ni,
        snap: done,
    });
    let ovf = b.snap(&[(0, ps), (1, pi)]);
    let s2 = b.push(Ins::AddI {
        a: ps,
        b: pi,
        snap: ovf,
    });
    let i2 = b.push(Ins::AddI {
        a: pi,
        b: one,
        snap: ovf,
    });
    b.set_next(ps, s2);
    b.set_next(pi, i2);
    assert_eq!((done_first, ovf_first, done, ovf), (1, 2, 3, 5));
    b.t
}

#[test]
fn sum_loop_over_ints_with_overflow_exit() {
    let t = int_sum_loop();
    let c = compile(&t).unwrap();
    let flag = AtomicU8::new(0);
    let go = |s: f64, i: f64, n: f64| {
        let mut slots = [num(s), num(i), num(n)];
        // SAFETY: three valid slots.
        let k = unsafe { c.run(slots.as_mut_ptr(), flag.as_ptr()) };
        (k, f64::from_bits(slots[0]), f64::from_bits(slots[1]))
    };
    for n in [0i64, 1, 5, 1000, 60_000] {
        let (k, s, i) = go(0.0, 1.0, n as f64);
        assert_eq!(k, if n == 0 { 1 } else { 3 });
        assert_eq!((s, i), ((n * (n + 1) / 2) as f64, (n + 1) as f64));
    }
    // The sum passes i32::MAX near i = 65536: the overflow exit keeps the values from
    // before the failed add.
    let (k, s, i) = go(0.0, 1.0, 1e6);
    assert_eq!(k, 5);
    let (s, i) = (s as i64, i as i64);
    assert_eq!(s, (i - 1) * i / 2);
    assert!(
        s <= i32::MAX as i64 && s + i > i32::MAX as i64,
        "s = {s}, i = {i}"
    );
    // Overflow in the first (pre-loop) add.
    assert_eq!(go(i32::MAX as f64, 1.0, 5.0), (2, i32::MAX as f64, 1.0));
    // Negative integers are fine; fractions, -0, NaN and out-of-range leave via NumToInt.
    assert_eq!(go(-10.0, -3.0, -1.0), (3, -16.0, 0.0));
    for bad in [1.5, -0.0, f64::NAN, 2147483648.0, -2147483649.0, 1e300] {
        let mut slots = [num(0.0), num(1.0), num(bad)];
        // SAFETY: three valid slots.
        let k = unsafe { c.run(slots.as_mut_ptr(), flag.as_ptr()) };
        assert_eq!(k, 0, "n = {bad}");
        assert_eq!(slots[..2], [num(0.0), num(1.0)]);
    }
    assert_eq!(go(i32::MIN as f64, 0.0, 0.0), (3, i32::MIN as f64, 1.0));
}

/// Guard `a cmp b` before the loop (exit 1), then a body that leaves at once (exit 2).
fn compare_trace(cmp: Cmp) -> Trace {
    let mut b = B::default();
    let type_exit = b.snap(&[]);
    let x = b.push(Ins::SLoad {
        slot: 0,
        ty: Ty::Num,
        snap: type_exit,
    });
    let y = b.push(Ins::SLoad {
        slot: 1,
        ty: Ty::Num,
        snap: type_exit,
    });
    let failed = b.snap(&[]);
    b.push(Ins::Guard {
        cmp,
        ty: Ty::Num,
        a: x,
        b: y,
        snap: failed,
    });
    let k0 = b.push(Ins::KNum(0.0));
    b.push(Ins::Loop);
    let held = b.snap(&[]);
    b.t.loop_snap = held;
    b.push(Ins::Guard {
        cmp: Cmp::Ne,
        ty: Ty::Num,
        a: k0,
        b: k0,
        snap: held,
    });
    b.t
}

#[test]
fn nan_compare_semantics() {
    let nan = f64::NAN;
    let cases = [
        (nan, 1.0),
        (1.0, nan),
        (nan, nan),
        (1.0, 2.0),
        (2.0, 1.0),
        (1.0, 1.0),
    ];
    for cmp in [Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge, Cmp::Eq, Cmp::Ne] {
        let c = compile(&compare_trace(cmp)).unwrap();
        let flag = AtomicU8::new(0);
        for (x, y) in cases {
            let want = match cmp {
                Cmp::Lt => x < y,
                Cmp::Le => x <= y,
                Cmp::Gt => x > y,
                Cmp::Ge => x >= y,
                Cmp::Eq => x == y,
                Cmp::Ne => x != y,
                Cmp::ULt => unreachable!("not a double comparison"),
            };
            let mut slots = [num(x), num(y)];
            // SAFETY: two valid slots.
            let k = unsafe { c.run(slots.as_mut_ptr(), flag.as_ptr()) };
            assert_eq!(k, if want { 2 } else { 1 }, "{x} {cmp:?} {y}");
        }
    }
}

#[test]
fn nan_canonicalised_on_exit() {
    let mut b = B::default();
    let type_exit = b.snap(&[]);
    let x = b.push(Ins::SLoad {
        slot: 0,
        ty: Ty::Num,
        snap: type_exit,
    });
    let neg = b.push(Ins::NegN(x));
    let sum = b.push(Ins::AddN(x, x));
    let knan = b.push(Ins::KNum(f64::from_bits(0x7FF0_0000_0000_0001)));
    b.push(Ins::Loop);
    b.t.loop_snap = b.snap(&[]);
    let out = b.snap(&[(1, x), (2, neg), (3, sum), (4, knan)]);
    b.push(Ins::Guard {
        cmp: Cmp::Eq,
        ty: Ty::Num,
        a: x,
        b: x,
        snap: out,
    });
    // A NaN whose negation lands in the tag space: stored canonical, never as a tag.
    let odd_nan = 0x7FFF_0000_0000_0001u64;
    let mut slots = [odd_nan, 0, 0, 0, 0];
    assert_eq!(run(&b.t, &mut slots), out);
    assert_eq!(
        slots[1], odd_nan,
        "a loaded number is stored back unchanged"
    );
    assert_eq!(slots[2], CANON_NAN);
    assert_eq!(
        slots[3], odd_nan,
        "a sum passes a value's (quiet) NaN on, as the interpreter's does"
    );
    assert_eq!(slots[4], CANON_NAN);
    // Non-NaN results are stored as they are.
    let mut slots = [num(-2.5), 0, 0, 0, 0];
    b.t.ins[3] = Ins::KNum(-0.0);
    b.t.ins[5] = Ins::Guard {
        cmp: Cmp::Ne,
        ty: Ty::Num,
        a: x,
        b: x,
        snap: out,
    };
    assert_eq!(run(&b.t, &mut slots), out);
    assert_eq!(slots[1..], [num(-2.5), num(2.5), num(-5.0), num(-0.0)]);
}

#[test]
fn arithmetic_on_c_memory_nans_canonicalised() {
    // A signalling NaN in C memory, which arithmetic quietens into nil's bits.
    let signalling = 0xFFF7_FFFF_FFFF_FFFFu64;
    let mut cell = signalling;
    let mut stored = 0u64;
    let mut b = B::default();
    let at = b.push(Ins::KPtr(&mut cell as *mut u64 as u64));
    let to = b.push(Ins::KPtr(&mut stored as *mut u64 as u64));
    let x = b.push(Ins::XLoad {
        ptr: at,
        off: 0,
        ct: CNum::F64,
    });
    let one = b.push(Ins::KNum(1.0));
    let sum = b.push(Ins::AddN(x, one));
    let twice = b.push(Ins::MulN(sum, one));
    b.push(Ins::XStore {
        ptr: to,
        off: 0,
        ct: CNum::F64,
        val: twice,
    });
    let out = b.leave_after_loop(one, &[(0, sum), (1, twice)]);
    let mut slots = [0u64; 2];
    assert_eq!(run(&b.t, &mut slots), out);
    assert_eq!(slots, [CANON_NAN, CANON_NAN]);
    assert_eq!(stored, CANON_NAN);
}

/// ModN, PowN, FloorN, SqrtN, AbsN and DivN of slots 0 and 1, written to slots 2..8.
fn math_trace() -> (Trace, SnapId) {
    let mut b = B::default();
    let type_exit = b.snap(&[]);
    let x = b.push(Ins::SLoad {
        slot: 0,
        ty: Ty::Num,
        snap: type_exit,
    });
    let y = b.push(Ins::SLoad {
        slot: 1,
        ty: Ty::Num,
        snap: type_exit,
    });
    let m = b.push(Ins::ModN(x, y));
    let p = b.push(Ins::PowN(x, y));
    let f = b.push(Ins::FloorN(x));
    let s = b.push(Ins::SqrtN(x));
    let a = b.push(Ins::AbsN(x));
    let d = b.push(Ins::DivN(x, y));
    let k = b.push(Ins::KNum(0.0));
    let out = b.leave_after_loop(k, &[(2, m), (3, p), (4, f), (5, s), (6, a), (7, d)]);
    (b.t, out)
}

#[test]
fn math_ops_match_rust() {
    let (t, out) = math_trace();
    let c = compile(&t).unwrap();
    let flag = AtomicU8::new(0);
    let canon = |v: f64| if v.is_nan() { CANON_NAN } else { v.to_bits() };
    let cases = [
        (5.5, 2.0),
        (-5.5, 2.0),
        (5.5, -2.0),
        (-5.5, -2.0),
        (-7.0, 3.0),
        (7.0, -3.0),
        (2.0, 0.5),
        (-8.0, 1.0 / 3.0),
        (0.0, 0.0),
        (1.0, 0.0),
        (-0.0, 1.0),
        (1e308, 1e-308),
        (3.75, 10.0),
        (f64::INFINITY, 2.0),
    ];
    for (x, y) in cases {
        let mut slots = [num(x), num(y), 0, 0, 0, 0, 0, 0];
        // SAFETY: eight valid slots.
        assert_eq!(unsafe { c.run(slots.as_mut_ptr(), flag.as_ptr()) }, out);
        let want = [
            x - (x / y).floor() * y,
            x.powf(y),
            x.floor(),
            x.sqrt(),
            x.abs(),
            x / y,
        ];
        for (j, w) in want.into_iter().enumerate() {
            assert_eq!(slots[2 + j], canon(w), "op {j} on ({x}, {y})");
        }
    }
    // Lua's floored modulo takes the sign of the divisor.
    let mut slots = [num(-7.0), num(3.0), 0, 0, 0, 0, 0, 0];
    // SAFETY: eight valid slots.
    unsafe { c.run(slots.as_mut_ptr(), flag.as_ptr()) };
    assert_eq!(f64::from_bits(slots[2]), 2.0);
}

/// `while true do x = x + 1 end`: only an interrupt stops it.
fn endless_loop() -> Trace {
    let mut b = B::default();
    let type_exit = b.snap(&[]);
    let x = b.push(Ins::SLoad {
        slot: 0,
        ty: Ty::Num,
        snap: type_exit,
    });
    let one = b.push(Ins::KNum(1.0));
    b.push(Ins::Loop);
    let px = b.push(Ins::Phi {
        ty: Ty::Num,
        init: x,
        next: 0,
    });
    let x1 = b.push(Ins::AddN(px, one));
    b.set_next(px, x1);
    b.snap(&[]);
    b.t.loop_snap = b.snap(&[(0, px)]);
    b.t
}

#[test]
fn interrupt_stops_an_endless_loop() {
    let t = endless_loop();
    let c = compile(&t).unwrap();
    static FLAG: AtomicU8 = AtomicU8::new(0);
    let start = Instant::now();
    let worker = std::thread::spawn(move || {
        let mut slots = [num(0.0)];
        // SAFETY: one valid slot; FLAG is static, so it outlives the run.
        let k = unsafe { c.run(slots.as_mut_ptr(), FLAG.as_ptr()) };
        (k, f64::from_bits(slots[0]))
    });
    std::thread::sleep(Duration::from_millis(50));
    FLAG.store(1, Ordering::Relaxed);
    let (k, x) = worker.join().unwrap();
    assert_eq!(k, t.loop_snap);
    assert!(x > 0.0 && x.fract() == 0.0, "iterations counted: {x}");
    assert!(start.elapsed() >= Duration::from_millis(50));
    // Already set: the trace leaves at the first loop header, after the pre-loop part.
    let c = compile(&t).unwrap();
    let mut slots = [num(41.0)];
    // SAFETY: one valid slot and a live flag.
    assert_eq!(
        unsafe { c.run(slots.as_mut_ptr(), FLAG.as_ptr()) },
        t.loop_snap
    );
    assert_eq!(slots[0], num(41.0));
}

/// Every bit operation on slots 0 (x) and 1 (y), both converted by `ToBit` (y is also the
/// shift count), written to slots 2..15.
fn bit_trace() -> (Trace, SnapId) {
    let mut b = B::default();
    let type_exit = b.snap(&[]);
    let xn = b.push(Ins::SLoad {
        slot: 0,
        ty: Ty::Num,
        snap: type_exit,
    });
    let yn = b.push(Ins::SLoad {
        slot: 1,
        ty: Ty::Num,
        snap: type_exit,
    });
    let x = b.push(Ins::ToBit(xn));
    let y = b.push(Ins::ToBit(yn));
    let ops = [
        x,
        y,
        b.push(Ins::BNot(x)),
        b.push(Ins::BSwap(x)),
        b.push(Ins::BAnd(x, y)),
        b.push(Ins::BOr(x, y)),
        b.push(Ins::BXor(x, y)),
        b.push(Ins::BShl(x, y)),
        b.push(Ins::BShr(x, y)),
        b.push(Ins::BSar(x, y)),
        b.push(Ins::BRol(x, y)),
        b.push(Ins::BRor(x, y)),
    ];
    let k = b.push(Ins::KNum(0.0));
    let slots: Vec<(u16, Ref)> = (2..).zip(ops).collect();
    let out = b.leave_after_loop(k, &slots);
    (b.t, out)
}

#[test]
fn bit_ops_match_the_bit_library() {
    use moonjet_runtime::libs::bit::num2bit;
    let (t, out) = bit_trace();
    let c = compile(&t).unwrap();
    let flag = AtomicU8::new(0);
    let inputs = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        7.0,
        31.0,
        32.0,
        33.0,
        -33.0,
        0.5,
        1.5,
        2.5,
        -2.5,
        3.7,
        2147483647.0,
        2147483648.0,
        4294967295.0,
        4294967296.0 + 5.0,
        -2147483649.0,
        1e15 + 0.5,
        2f64.powi(52) + 3.0,
        -2f64.powi(63),
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    for x in inputs {
        for y in inputs {
            let mut slots = [0u64; 14];
            slots[0] = num(x);
            slots[1] = num(y);
            // SAFETY: fourteen valid slots.
            assert_eq!(unsafe { c.run(slots.as_mut_ptr(), flag.as_ptr()) }, out);
            // What the library computes (shift counts keep their low 5 bits).
            let (a, b) = (num2bit(x), num2bit(y));
            let n = (b & 31) as u32;
            let want = [
                a,
                b,
                !a,
                a.swap_bytes(),
                a & b,
                a | b,
                a ^ b,
                a << n,
                ((a as u32) >> n) as i32,
                a >> n,
                a.rotate_left(n),
                a.rotate_right(n),
            ];
            for (j, w) in want.into_iter().enumerate() {
                assert_eq!(
                    f64::from_bits(slots[2 + j]),
                    f64::from(w),
                    "op {j} on ({x}, {y})"
                );
            }
        }
    }
}

/// `slot 0 = {}` (room for 3 array slots) and `slot 1 = copy of template slot 0`, leaving
/// through the snapshot before each if memory runs out.
fn new_table_trace(template: u64) -> (Trace, [SnapId; 3]) {
    let mut b = B::default();
    let before_new = b.snap(&[]);
    let t = b.push(Ins::TNew {
        asize: 3,
        hbits: 0,
        snap: before_new,
    });
    let before_dup = b.snap(&[(0, t)]);
    let tpl = b.push(Ins::KGc {
        addr: template,
        ty: Ty::Tab,
    });
    let d = b.push(Ins::TDup {
        tpl,
        snap: before_dup,
    });
    let k = b.push(Ins::KNum(0.0));
    let out = b.leave_after_loop(k, &[(0, t), (1, d)]);
    (b.t, [before_new, before_dup, out])
}

#[test]
fn new_tables_come_from_the_heap_or_leave_when_it_is_full() {
    use moonjet_gc::{table, Heap, TValue};
    use moonjet_jit::shims::TraceCtx;
    let mut heap = Heap::with_stress(false);
    let template = heap.new_table(2, 1).unwrap();
    // SAFETY: a live table with a two-slot array part.
    unsafe { table::set_int(&mut heap, template, 1, TValue::from_f64(42.0)).unwrap() };
    let (t, [before_new, before_dup, out]) = new_table_trace(template as u64);
    let c = compile(&t).unwrap();
    let flag = AtomicU8::new(0);
    let run = |heap: &mut Heap, slots: &mut [u64; 2]| {
        let ctx = TraceCtx::new(flag.as_ptr(), heap, std::ptr::null());
        // SAFETY: two valid slots; the template is live in `heap`.
        unsafe { c.run_with(slots.as_mut_ptr(), &ctx) }
    };
    let objects = heap.live_objects();
    let mut slots = [0u64; 2];
    assert_eq!(run(&mut heap, &mut slots), out);
    assert_eq!(heap.live_objects(), objects + 2);
    let (new, copy) = (TValue(slots[0]).as_tab(), TValue(slots[1]).as_tab());
    let (new, copy) = (new.expect("a table"), copy.expect("a table"));
    // SAFETY: both were just made in `heap`, and nothing has collected since.
    unsafe {
        assert_eq!((*new).asize, 3);
        assert_ne!(copy, template);
        assert_eq!(table::get_int(copy, 1), TValue::from_f64(42.0));
    }
    // Full: the first allocation fails, and nothing is written.
    heap.set_limit(heap.total_bytes());
    let mut slots = [7u64; 2];
    assert_eq!(run(&mut heap, &mut slots), before_new);
    assert_eq!(slots, [7, 7]);
    // Room for the empty table only: the copy fails, and the new table goes to its slot.
    heap.set_limit(heap.total_bytes() + 100);
    assert_eq!(run(&mut heap, &mut slots), before_dup);
    assert!(TValue(slots[0]).as_tab().is_some());
    assert_eq!(slots[1], 7);
}

/// A side-trace shape: no loop, `slot 0 = slot 0 <op> k`, leaving through its link
/// snapshot (id 1; 0 is the type exit).
fn straight_trace(mul: bool, k: f64) -> Trace {
    let mut b = B::default();
    let type_exit = b.snap(&[]);
    let x = b.push(Ins::SLoad {
        slot: 0,
        ty: Ty::Num,
        snap: type_exit,
    });
    let kk = b.push(Ins::KNum(k));
    let y = b.push(if mul {
        Ins::MulN(x, kk)
    } else {
        Ins::AddN(x, kk)
    });
    let link = b.snap(&[(0, y)]);
    b.t.link_snap = Some(link);
    b.t.loop_snap = link;
    b.t
}

#[test]
fn linked_exits_go_on_in_the_next_trace_unless_interrupted() {
    let (add, mul) = (straight_trace(false, 1.0), straight_trace(true, 10.0));
    let a = compile(&add).unwrap();
    let m = compile(&mul).unwrap();
    let flag = AtomicU8::new(0);
    let ctx = moonjet_jit::shims::TraceCtx::without_heap(flag.as_ptr());
    let run = |slots: &mut [u64; 1]| {
        // SAFETY: the traces touch slot 0 only.
        let exit = unsafe { a.run_with(slots.as_mut_ptr(), &ctx) };
        (exit, ctx.exited.get())
    };
    let own = |c: &moonjet_jit::CompiledTrace| c.links() as *const _ as usize;
    let mut slots = [num(1.0)];
    assert_eq!(
        run(&mut slots),
        (1, own(&a)),
        "unlinked: back to the caller"
    );
    assert_eq!(slots, [num(2.0)]);
    // SAFETY: `m` is compiled for the same slots and outlives the link.
    unsafe { a.links().link(1, Some(&m)) };
    let mut slots = [num(1.0)];
    assert_eq!(
        run(&mut slots),
        (1, own(&m)),
        "left through the linked trace's exit"
    );
    assert_eq!(slots, [num(20.0)]);
    flag.store(1, Ordering::Relaxed);
    let mut slots = [num(1.0)];
    assert_eq!(
        run(&mut slots),
        (1, own(&a)),
        "an interrupt stops at the link"
    );
    assert_eq!(slots, [num(2.0)]);
    flag.store(0, Ordering::Relaxed);
    a.links().unlink(&m);
    let mut slots = [num(1.0)];
    assert_eq!(run(&mut slots), (1, own(&a)), "unlinked again");
    // A type exit is linked like any other.
    // SAFETY: as above.
    unsafe { a.links().link(0, Some(&m)) };
    let mut slots = [num(5.0)];
    assert_eq!(run(&mut slots).1, own(&a), "a number passes the type guard");
    let mut slots = [u64::MAX];
    assert_eq!(
        run(&mut slots),
        (0, own(&m)),
        "the linked trace's own type exit"
    );
}

/// The C number types with their FFI type IDs.
const C_NUMS: [(CNum, moonjet_ffi::CTypeId); 9] = {
    use moonjet_ffi::CTypeId as Id;
    [
        (CNum::I8, Id::INT8),
        (CNum::U8, Id::UINT8),
        (CNum::I16, Id::INT16),
        (CNum::U16, Id::UINT16),
        (CNum::I32, Id::INT32),
        (CNum::U32, Id::UINT32),
        (CNum::F32, Id::FLOAT),
        (CNum::F64, Id::DOUBLE),
        (CNum::Bool, Id::BOOL),
    ]
};

/// Stores slot 0 (a double) to each C number type at `buf + 16*k`, and slot 1 narrowed
/// to an integer at `buf + 16*k + 8`; then loads each back into slots 2 + 2k and
/// 3 + 2k. Leaves through the returned snapshot (or the first, if slot 1 is no i32).
fn c_memory_trace(buf: u64) -> (Trace, SnapId) {
    let mut b = B::default();
    let type_exit = b.snap(&[]);
    let x = b.push(Ins::SLoad {
        slot: 0,
        ty: Ty::Num,
        snap: type_exit,
    });
    let yn = b.push(Ins::SLoad {
        slot: 1,
        ty: Ty::Num,
        snap: type_exit,
    });
    let y = b.push(Ins::NumToInt {
        a: yn,
        snap: type_exit,
    });
    let p = b.push(Ins::KPtr(buf));
    for (k, (ct, _)) in C_NUMS.into_iter().enumerate() {
        let off = 16 * k as i32;
        b.push(Ins::XStore {
            ptr: p,
            off,
            ct,
            val: x,
        });
        b.push(Ins::XStore {
            ptr: p,
            off: off + 8,
            ct,
            val: y,
        });
    }
    let mut loads = Vec::new();
    for (k, (ct, _)) in C_NUMS.into_iter().enumerate() {
        let off = 16 * k as i32;
        let slot = 2 + 2 * k as u16;
        loads.push((slot, b.push(Ins::XLoad { ptr: p, off, ct })));
        loads.push((
            slot + 1,
            b.push(Ins::XLoad {
                ptr: p,
                off: off + 8,
                ct,
            }),
        ));
    }
    let k = b.push(Ins::KNum(0.0));
    let out = b.leave_after_loop(k, &loads);
    (b.t, out)
}

#[test]
fn c_stores_and_loads_convert_as_the_ffi_does() {
    use moonjet_gc::TValue;
    use moonjet_runtime::ffi::conv::{load_scalar, lua_to_c};
    let cts = moonjet_ffi::CTypeTable::new();
    let mut buf = vec![0u64; 2 * C_NUMS.len()];
    let (t, out) = c_memory_trace(buf.as_mut_ptr() as u64);
    let c = compile(&t).unwrap();
    let flag = AtomicU8::new(0);
    let doubles = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        -2.7,
        127.0,
        128.0,
        255.0,
        256.0,
        300.0,
        -129.0,
        32767.0,
        32768.0,
        65535.0,
        65536.0,
        -32769.0,
        2147483647.0,
        2147483648.0,
        2147483648.5,
        -2147483648.0,
        -2147483648.9,
        -2147483649.0,
        4294967295.0,
        4294967296.0,
        4294967301.0,
        16777217.0,
        0.1,
        1e-310,
        2f64.powi(53),
        2f64.powi(63),
        -2f64.powi(63),
        2f64.powi(64),
        1e300,
        -1e300,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_0000_0001),
    ];
    let ints = [
        0,
        1,
        -1,
        127,
        -128,
        255,
        300,
        -129,
        65535,
        -32769,
        16777217,
        i32::MAX,
        i32::MIN,
    ];
    for (n, x) in doubles.into_iter().enumerate() {
        let i = ints[n % ints.len()];
        let mut slots = [0u64; 2 + 2 * C_NUMS.len()];
        // A slot holds every NaN as the canonical one.
        slots[0] = TValue::from_f64(x).bits();
        slots[1] = num(f64::from(i));
        // SAFETY: enough slots; `buf` holds every place the trace writes.
        assert_eq!(unsafe { c.run(slots.as_mut_ptr(), flag.as_ptr()) }, out);
        for (k, (ct, id)) in C_NUMS.into_iter().enumerate() {
            for (half, v) in [(0, x), (1, f64::from(i))] {
                let mut want = 0u64;
                let place = (&mut want as *mut u64).cast::<u8>();
                // SAFETY: eight bytes hold any of these types; the type table is fresh.
                unsafe { lua_to_c(&cts, id, place, TValue::from_f64(v), false).unwrap() };
                let size = ct.size() as usize * 8;
                let mask = if size == 64 {
                    u64::MAX
                } else {
                    (1 << size) - 1
                };
                let got = buf[2 * k + half];
                assert_eq!(got & mask, want & mask, "{ct:?} stored from {v}");
                // What a read gives: a boolean's byte, or the number (NaN canonical).
                // SAFETY: as above.
                let read = unsafe { load_scalar(&cts, id, place) }.unwrap().to_f64();
                let want_slot = match ct {
                    CNum::Bool => f64::from((want & 0xff) as u8).to_bits(),
                    _ => TValue::from_f64(read).bits(),
                };
                assert_eq!(slots[2 + 2 * k + half], want_slot, "{ct:?} loaded from {v}");
            }
        }
    }
}

#[test]
fn cross_compiles_for_aarch64() {
    let traces = [
        sum_loop(),
        int_sum_loop(),
        compare_trace(Cmp::Ne),
        endless_loop(),
        math_trace().0,
        bit_trace().0,
        new_table_trace(0x1000).0,
        straight_trace(true, 2.0),
        calling_trace(),
        c_memory_trace(0x1000).0,
    ];
    for t in &traces {
        let code = compile_for(t, "aarch64-unknown-linux-gnu".parse().unwrap()).unwrap();
        assert!(!code.is_empty());
        // Fixed-width instructions.
        assert_eq!(code.len() % 4, 0);
        let host = compile_for(t, target_lexicon::Triple::host()).unwrap();
        assert!(!host.is_empty());
    }
}

#[test]
fn malformed_traces_are_errors() {
    let mut t = sum_loop();
    t.ins.retain(|i| !matches!(i, Ins::Loop));
    assert_eq!(compile(&t).unwrap_err(), CompileError::NoLoop);
    let mut t = sum_loop();
    t.ins[4] = Ins::AddN(4, 1); // uses itself
    assert!(matches!(
        compile(&t),
        Err(CompileError::BadIns { at: 4, .. })
    ));
    let mut t = sum_loop();
    t.ins[4] = Ins::AddI {
        a: 0,
        b: 1,
        snap: 0,
    }; // doubles as integers
    assert!(matches!(
        compile(&t),
        Err(CompileError::BadIns { at: 4, .. })
    ));
    let mut t = sum_loop();
    t.snaps[1].slots.push((5, 9)); // a body value in a pre-loop exit
    assert!(matches!(
        compile(&t),
        Err(CompileError::BadSnap { snap: 1, .. })
    ));
    let mut t = sum_loop();
    t.loop_snap = 99;
    assert!(matches!(
        compile(&t),
        Err(CompileError::BadSnap { snap: 99, .. })
    ));
    let mut t = sum_loop();
    t.ins.push(Ins::Phi {
        ty: Ty::Num,
        init: 0,
        next: 0,
    }); // not right after LOOP
    assert!(matches!(compile(&t), Err(CompileError::BadIns { .. })));
    assert!(compile_for(&sum_loop(), "riscv32-unknown-none-elf".parse().unwrap()).is_err());
}

#[test]
fn compile_time_benchmark() {
    let t = sum_loop();
    let mut compiler = Compiler::host().unwrap();
    for _ in 0..50 {
        compiler.compile(&t).unwrap();
    }
    let n = 1000;
    let start = Instant::now();
    let mut size = 0;
    for _ in 0..n {
        size = compiler.compile(&t).unwrap().code_size();
    }
    let per_trace = start.elapsed() / n;
    let per_ins = per_trace / t.ins.len() as u32;
    println!(
        "sum loop: {} IR instructions, {size} bytes of code, {per_trace:?} per trace, {per_ins:?} per IR instruction",
        t.ins.len()
    );
}

#[test]
fn calls_and_mixed_types_in_the_loop() {
    // acc = acc + (i ^ 2) % 7 for integer i up to n: a pow call with live values across
    // it, an integer phi converted to a double each iteration.
    let mut b = B::default();
    let type_exit = b.snap(&[]);
    let acc = b.push(Ins::SLoad {
        slot: 0,
        ty: Ty::Num,
        snap: type_exit,
    });
    let i = b.push(Ins::SLoad {
        slot: 1,
        ty: Ty::Num,
        snap: type_exit,
    });
    let n = b.push(Ins::SLoad {
        slot: 2,
        ty: Ty::Num,
        snap: type_exit,
    });
    let ii = b.push(Ins::NumToInt {
        a: i,
        snap: type_exit,
    });
    let ni = b.push(Ins::NumToInt {
        a: n,
        snap: type_exit,
    });
    let two = b.push(Ins::KNum(2.0));
    let seven = b.push(Ins::KNum(7.0));
    let one = b.push(Ins::KInt(1));
    b.push(Ins::Loop);
    let pacc = b.push(Ins::Phi {
        ty: Ty::Num,
        init: acc,
        next: 0,
    });
    let pi = b.push(Ins::Phi {
        ty: Ty::Int,
        init: ii,
        next: 0,
    });
    b.t.loop_snap = b.snap(&[(0, pacc), (1, pi)]);
    let done = b.snap(&[(0, pacc), (1, pi)]);
    b.push(Ins::Guard {
        cmp: Cmp::Le,
        ty: Ty::Int,
        a: pi,
        b: ni,
        snap: done,
    });
    let fi = b.push(Ins::IntToNum(pi));
    let p = b.push(Ins::PowN(fi, two));
    let m = b.push(Ins::ModN(p, seven));
    let acc2 = b.push(Ins::AddN(pacc, m));
    let ovf = b.snap(&[(0, acc2), (1, pi)]);
    let i2 = b.push(Ins::AddI {
        a: pi,
        b: one,
        snap: ovf,
    });
    b.set_next(pacc, acc2);
    b.set_next(pi, i2);
    for (i0, n) in [(1i64, 10i64), (-5, 5), (3, 2), (0, 1000)] {
        let mut slots = [num(0.5), num(i0 as f64), num(n as f64)];
        assert_eq!(run(&b.t, &mut slots), done);
        let want: f64 = 0.5 + (i0..=n).map(|i| ((i * i) % 7) as f64).sum::<f64>();
        assert_eq!(f64::from_bits(slots[0]), want, "i from {i0} to {n}");
        assert_eq!(f64::from_bits(slots[1]), (n.max(i0 - 1) + 1) as f64);
    }
}

#[test]
fn phis_swap_through_the_back_edge() {
    // a, b = b, a + b: `next` of one phi is another phi, so the back edge must copy
    // in parallel.
    let mut b = B::default();
    let type_exit = b.snap(&[]);
    let a = b.push(Ins::SLoad {
        slot: 0,
        ty: Ty::Num,
        snap: type_exit,
    });
    let bb = b.push(Ins::SLoad {
        slot: 1,
        ty: Ty::Num,
        snap: type_exit,
    });
    let limit = b.push(Ins::KNum(1000.0));
    b.push(Ins::Loop);
    let pa = b.push(Ins::Phi {
        ty: Ty::Num,
        init: a,
        next: 0,
    });
    let pb = b.push(Ins::Phi {
        ty: Ty::Num,
        init: bb,
        next: 0,
    });
    b.t.loop_snap = b.snap(&[(0, pa), (1, pb)]);
    let done = b.snap(&[(0, pa), (1, pb)]);
    b.push(Ins::Guard {
        cmp: Cmp::Lt,
        ty: Ty::Num,
        a: pb,
        b: limit,
        snap: done,
    });
    let sum = b.push(Ins::AddN(pa, pb));
    b.set_next(pa, pb);
    b.set_next(pb, sum);
    let mut slots = [num(0.0), num(1.0)];
    assert_eq!(run(&b.t, &mut slots), done);
    assert_eq!(
        [f64::from_bits(slots[0]), f64::from_bits(slots[1])],
        [987.0, 1597.0]
    );
}

/// `sum(n) = n + f(n - 1)` for n >= 1, as a function trace whose call is a `CallSelf`
/// (function in slot 1, argument in slot 3, result read back from slot 1), ending in a
/// return of slot 1. Exit 0: n < 1; exit 1: the call refused.
fn calling_trace() -> Trace {
    let mut b = B::default();
    let low = b.snap(&[]);
    let n = b.push(Ins::SLoad {
        slot: 0,
        ty: Ty::Num,
        snap: low,
    });
    let one = b.push(Ins::KNum(1.0));
    b.push(Ins::Guard {
        cmp: Cmp::Ge,
        ty: Ty::Num,
        a: n,
        b: one,
        snap: low,
    });
    let f = b.push(Ins::CurFunc);
    let arg = b.push(Ins::SubN(n, one));
    let call = b.snap(&[(1, f), (3, arg)]);
    let after = b.snap(&[]);
    b.push(Ins::CallSelf {
        func: 1,
        framesize: 4,
        link: 0x1230,
        snap: call,
        after,
    });
    let result = b.push(Ins::SLoad {
        slot: 1,
        ty: Ty::Num,
        snap: after,
    });
    let sum = b.push(Ins::AddN(n, result));
    let link = b.snap(&[(1, sum)]);
    b.t.link_snap = Some(link);
    b.t.loop_snap = link;
    b.t.ret = Some(Some(1));
    b.t
}

/// `leaf(n) = 2n`, ending in a return of slot 1.
fn leaf_trace() -> Trace {
    let mut t = straight_trace(true, 2.0);
    t.snaps[1].slots = vec![(1, 2)];
    t.ret = Some(Some(1));
    t
}

#[test]
fn recursive_calls_write_frames_and_return_or_leave_through_them() {
    // A function value (never called: only its bits travel).
    let func_value = moonjet_gc::TValue::from_gc(
        0x1000 as *mut moonjet_gc::object::GcHeader,
        moonjet_gc::value::itype::FUNC,
    );
    let (func, nil) = (func_value.bits(), moonjet_gc::TValue::NIL.bits());
    let (calling, leaf) = (
        compile(&calling_trace()).unwrap(),
        compile(&leaf_trace()).unwrap(),
    );
    let flag = AtomicU8::new(0);
    let mut stack = [nil; 24];
    stack[0] = func;
    let limit = stack.as_ptr_range().end.cast::<moonjet_gc::TValue>();
    let ctx = moonjet_jit::shims::TraceCtx {
        stack_limit: limit,
        ..moonjet_jit::shims::TraceCtx::without_heap(flag.as_ptr())
    };
    // Frame at stack[2]: slot 0 is stack[2].
    let base = stack[2..].as_mut_ptr();
    let run = |c: &moonjet_jit::CompiledTrace, stack: &mut [u64; 24]| {
        // SAFETY: the traces touch slots -2..17 of the frame at stack[2] (limited by
        // `stack_limit`).
        unsafe { c.run_with(stack[2..].as_mut_ptr(), &ctx) }
    };
    // Entered from the interpreter (depth 0), a returning trace leaves through its link
    // snapshot; called (depth 1), it hands its result back in its function slot.
    stack[2] = num(5.0);
    assert_eq!(run(&leaf, &mut stack), 1);
    assert_eq!(stack[3], num(10.0));
    ctx.depth.set(1);
    assert_eq!(run(&leaf, &mut stack), moonjet_jit::shims::RETURNED);
    assert_eq!(stack[0], num(10.0));
    ctx.depth.set(0);
    stack[0] = func;
    // No callee yet: the call is left to the interpreter.
    assert_eq!(run(&calling, &mut stack), 1);
    assert_eq!((stack[3], stack[5]), (func, num(4.0)));
    // SAFETY: both stay alive while run.
    unsafe { calling.links().set_callee(Some(&leaf)) };
    assert_eq!(
        run(&calling, &mut stack),
        3,
        "returned through the link snapshot"
    );
    assert_eq!(stack[3], num(5.0 + 8.0));
    assert_eq!(stack[4], 0x1230, "the callee's frame link");
    assert_eq!(ctx.exit_base.get(), base as usize);
    assert_eq!(ctx.depth.get(), 0);
    // Recursion into itself: the innermost call leaves (n < 1) three frames up, each
    // written as the interpreter would have them.
    // SAFETY: as above.
    unsafe { calling.links().set_callee(Some(&calling)) };
    stack[2] = num(2.0);
    assert_eq!(run(&calling, &mut stack), 0);
    assert_eq!(ctx.exit_base.get(), base as usize + 6 * 8);
    assert_eq!(
        &stack[3..9],
        &[func, 0x1230, num(1.0), func, 0x1230, num(0.0)]
    );
    assert_eq!(ctx.depth.get(), 0);
    // An interrupt, or too little stack, leaves before the call.
    flag.store(1, Ordering::Relaxed);
    assert_eq!(run(&calling, &mut stack), 1);
    flag.store(0, Ordering::Relaxed);
    let short = moonjet_jit::shims::TraceCtx {
        // SAFETY: inside the array.
        stack_limit: unsafe { limit.sub(12) },
        ..moonjet_jit::shims::TraceCtx::without_heap(flag.as_ptr())
    };
    // SAFETY: as above.
    let exit = unsafe { calling.run_with(base, &short) };
    assert_eq!(exit, 1, "the callee's frame would not fit");
}

/// `local s = 0 for i = 0, 9 do s = s + a[i] end` over a `double[?]` cdata `a` in slot 0:
/// its elements are `buf[2..12]` (a cdata's payload starts 16 bytes in); s goes to slot 1.
fn cdata_sum_loop() -> (Trace, SnapId) {
    let mut b = B::default();
    let type_exit = b.snap(&[]);
    let a = b.push(Ins::SLoad {
        slot: 0,
        ty: Ty::Cdata,
        snap: type_exit,
    });
    let zero = b.push(Ins::KInt(0));
    let s0 = b.push(Ins::KNum(0.0));
    let one = b.push(Ins::KInt(1));
    let stop = b.push(Ins::KInt(9));
    b.push(Ins::Loop);
    let i = b.push(Ins::Phi {
        ty: Ty::Int,
        init: zero,
        next: 0,
    });
    let s = b.push(Ins::Phi {
        ty: Ty::Num,
        init: s0,
        next: 0,
    });
    b.t.loop_snap = b.snap(&[(1, s)]);
    let at = b.push(Ins::ElemAddr {
        base: a,
        idx: i,
        size: 8,
    });
    let x = b.push(Ins::XLoad {
        ptr: at,
        off: 16,
        ct: CNum::F64,
    });
    let s1 = b.push(Ins::AddN(s, x));
    let i1 = b.push(Ins::StepI(i, one));
    let done = b.snap(&[(1, s1)]);
    b.push(Ins::Guard {
        cmp: Cmp::Le,
        ty: Ty::Int,
        a: i1,
        b: stop,
        snap: done,
    });
    b.set_next(i, i1);
    b.set_next(s, s1);
    (b.t, done)
}

#[test]
fn a_loop_indexes_cdata_from_an_address_computed_before_it() {
    use moonjet_gc::value::{itype, tag_of};
    let (t, done) = cdata_sum_loop();
    let buf: Vec<f64> = (0..12).map(f64::from).collect();
    let mut slots = [tag_of(itype::CDATA) | buf.as_ptr() as u64, 0];
    assert_eq!(run(&t, &mut slots), done);
    assert_eq!(slots[1], num((2..12).map(f64::from).sum()));
    // The optimised Cranelift IR: the loop (from its header, the block taking the phis,
    // to the cold exit blocks) does not take the cdata's address out of its boxed value
    // again.
    let clif = Compiler::host().unwrap().dump(&t).unwrap();
    let clif = clif.split("\n}\n").next().unwrap();
    let body = clif
        .lines()
        .skip_while(|l| !(l.starts_with("block") && l.contains(": i32, ")))
        .take_while(|l| !l.ends_with(" cold:"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(body.contains("load.f64"), "no loop in:\n{clif}");
    for unboxing in ["band", "rotl", "ushr"] {
        assert!(!body.contains(unboxing), "{unboxing} in the loop:\n{clif}");
    }
}
