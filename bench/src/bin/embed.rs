//! The embedding API against mlua over LuaJIT: the same host code, written once and
//! compiled against each crate (the APIs share their names and shapes), timed on four
//! loops. Prints ns per operation and moonjet's time relative to mlua's.
//!
//! ```sh
//! cargo run --release -p moonjet-bench --features mlua --bin embed-bench
//! cargo run --release -p moonjet-bench --features embed --bin embed-bench -- userdata
//! ```
//! Arguments, if any, select the benchmarks whose names contain one of them.

use std::time::Instant;

const N: usize = 1_000_000;
const RUNS: usize = 7;

/// Best-of-`RUNS` nanoseconds per operation of `f`, which does `N` operations; NaN
/// (not run) when the command line names benchmarks and `name` contains none of them.
fn time(name: &str, mut f: impl FnMut()) -> f64 {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    if !wanted.is_empty() && !wanted.iter().any(|w| name.contains(w.as_str())) {
        return f64::NAN;
    }
    f(); // warm-up (and JIT compilation)
    (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64 / N as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// The four benchmarks against one crate's API (`$c`: `moonjet` or `mlua`).
macro_rules! suite {
    ($modname:ident, $c:ident) => {
        mod $modname {
            use super::{time, N};
            use $c::{Function, Lua, Table, UserData, UserDataMethods};

            struct Counter {
                n: f64,
            }

            impl UserData for Counter {
                fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
                    m.add_method_mut("inc", |_, this, by: f64| {
                        this.n += by;
                        Ok(this.n)
                    });
                }
            }

            pub fn run() -> Vec<(&'static str, f64)> {
                let mut out = Vec::new();
                // A fresh state for each benchmark, so none inherits another's heap.
                let lua = Lua::new();

                // Rust function called from Lua.
                let add = lua
                    .create_function(|_, (a, b): (f64, f64)| Ok(a + b))
                    .unwrap();
                lua.globals().set("add", add).unwrap();
                let lua_loop: Function = lua
                    .load("return function(n) local s, f = 0, add for i = 1, n do s = f(s, i) end return s end")
                    .eval()
                    .unwrap();
                out.push((
                    "Rust function called from Lua",
                    time("Rust function called from Lua", || {
                        let s: f64 = lua_loop.call(N).unwrap();
                        assert_eq!(s, (N * (N + 1) / 2) as f64);
                    }),
                ));

                // Lua function called from Rust.
                let lua = Lua::new();
                let f: Function = lua
                    .load("return function(a, b) return a + b end")
                    .eval()
                    .unwrap();
                out.push((
                    "Lua function called from Rust",
                    time("Lua function called from Rust", || {
                        let mut s = 0.0;
                        for i in 0..N {
                            s = f.call::<f64>((s, i as f64)).unwrap();
                        }
                        assert!(s > 0.0);
                    }),
                ));

                // Table set and get from Rust (integer keys, then string keys).
                let lua = Lua::new();
                let t: Table = lua.create_table().unwrap();
                out.push((
                    "table set+get from Rust (integer keys)",
                    time("table set+get from Rust (integer keys)", || {
                        for i in 1..=N {
                            t.set(i, i as f64).unwrap();
                        }
                        let mut s = 0.0;
                        for i in 1..=N {
                            s += t.get::<f64>(i).unwrap();
                        }
                        assert!(s > 0.0);
                    }) / 2.0,
                ));
                let keys: Vec<String> = (0..64).map(|i| format!("key{i}")).collect();
                let st: Table = lua.create_table().unwrap();
                out.push((
                    "table set+get from Rust (string keys)",
                    time("table set+get from Rust (string keys)", || {
                        for i in 0..N {
                            st.set(keys[i & 63].as_str(), i as f64).unwrap();
                        }
                        let mut s = 0.0;
                        for i in 0..N {
                            s += st.get::<f64>(keys[i & 63].as_str()).unwrap();
                        }
                        assert!(s > 0.0);
                    }) / 2.0,
                ));

                // Userdata method called from Lua.
                let lua = Lua::new();
                let c = lua.create_userdata(Counter { n: 0.0 }).unwrap();
                lua.globals().set("counter", c).unwrap();
                let ud_loop: Function = lua
                    .load("return function(n) local c = counter for i = 1, n do c:inc(1) end end")
                    .eval()
                    .unwrap();
                out.push((
                    "userdata method called from Lua",
                    time("userdata method called from Lua", || ud_loop.call::<()>(N).unwrap()),
                ));
                out
            }
        }
    };
}

suite!(moonjet_suite, moonjet);
#[cfg(feature = "mlua")]
suite!(mlua_suite, mlua);

fn main() {
    let ours = moonjet_suite::run();
    #[cfg(feature = "mlua")]
    let theirs = Some(mlua_suite::run());
    #[cfg(not(feature = "mlua"))]
    let theirs: Option<Vec<(&str, f64)>> = None;

    println!("| benchmark (1e6 operations, best of {RUNS}) | moonjet ns/op | mlua+LuaJIT ns/op | moonjet / mlua |");
    println!("| --- | ---: | ---: | ---: |");
    for (i, (name, ns)) in ours.iter().enumerate() {
        if ns.is_nan() {
            continue;
        }
        match &theirs {
            Some(t) => println!("| {name} | {ns:.1} | {:.1} | {:.2}x |", t[i].1, ns / t[i].1),
            None => println!("| {name} | {ns:.1} | - | - |"),
        }
    }
}
