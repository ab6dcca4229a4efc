//! `cargo bench -p moonjet-gc`: the collector's own costs.
//!
//! - ns per small table allocated and collected (the GC share of Lua's `x = {}` loop),
//! - ns per short string interned and collected,
//! - MB/s of marking a large live graph (a full collection over it).
//!
//! Each figure is the best of several runs (the machine is noisy). Pass `--quick` for a
//! short smoke run.

use moonjet_gc::{table, Heap, TValue};
use std::hint::black_box;
use std::time::Instant;

fn best_of<F: FnMut() -> f64>(runs: usize, mut f: F) -> f64 {
    (0..runs).map(|_| f()).fold(f64::INFINITY, f64::min)
}

/// ns per `{}`: allocate small tables in a loop with the collector running as it would,
/// beside a live heap of about `live_kb` kilobytes (a program's own data and libraries).
fn small_tables(n: usize, live_kb: usize) -> f64 {
    let mut h = Heap::with_stress(false);
    let live = h.new_table(0, 0).unwrap();
    h.add_root(TValue::from_tab(live));
    for i in 0..live_kb * 1024 / 100 {
        let t = h.new_table(2, 0).unwrap();
        // SAFETY: both tables are live (rooted through `live`).
        unsafe { table::set_int(&mut h, live, i as i64 + 1, TValue::from_tab(t)) }.unwrap();
    }
    h.full_gc();
    let t0 = Instant::now();
    for _ in 0..n {
        black_box(h.new_table(0, 0).unwrap());
    }
    h.full_gc();
    t0.elapsed().as_nanos() as f64 / n as f64
}

/// ns per new short string (all distinct), interned then collected.
fn short_strings(n: usize) -> f64 {
    let mut h = Heap::with_stress(false);
    let mut buf = *b"key-0000000000";
    let t0 = Instant::now();
    for i in 0..n {
        let mut x = i;
        for b in buf[4..].iter_mut().rev() {
            *b = b'0' + (x % 10) as u8;
            x /= 10;
        }
        black_box(h.intern(&buf).unwrap());
    }
    h.full_gc();
    t0.elapsed().as_nanos() as f64 / n as f64
}

/// MB/s of a full collection over a live graph of `n` tables, each with a 4-slot array
/// part and a string key, linked as a tree.
fn marking(n: usize) -> (f64, f64) {
    let mut h = Heap::with_stress(false);
    h.stop();
    let root = h.new_table(n as u32 + 1, 0).unwrap();
    h.add_root(TValue::from_tab(root));
    let key = h.new_string(b"payload").unwrap();
    h.add_root(key);
    for i in 1..=n {
        let t = h.new_table(5, 1).unwrap();
        unsafe { table::set_int(&mut h, root, i as i64, TValue::from_tab(t)) }.unwrap();
        for j in 1..=4 {
            unsafe { table::set_int(&mut h, t, j, TValue::from_f64(j as f64)) }.unwrap();
        }
        unsafe { table::set(&mut h, t, key, TValue::TRUE) }.unwrap();
    }
    let live = h.total_bytes() as f64;
    let secs = best_of(3, || {
        let t0 = Instant::now();
        h.full_gc();
        t0.elapsed().as_secs_f64()
    });
    (live / 1e6 / secs, live / 1e6)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick" || a == "--test");
    let (n, runs, graph) = if quick {
        (200_000, 1, 20_000)
    } else {
        (20_000_000, 5, 1_000_000)
    };
    let table_ns = best_of(runs, || small_tables(n, 0));
    println!("alloc+collect small table: {table_ns:.1} ns");
    let table_live_ns = best_of(runs, || small_tables(n, 1024));
    println!("alloc+collect small table beside a 1 MB live heap: {table_live_ns:.1} ns");
    let string_ns = best_of(runs, || short_strings(n / 4));
    println!("intern+collect short string: {string_ns:.1} ns");
    let (mbps, live_mb) = marking(graph);
    println!("full collection of a {live_mb:.0} MB live graph: {mbps:.0} MB/s");
}
