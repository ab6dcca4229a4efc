#!/usr/bin/env python3
"""Interpreter speed: moonjet against lua5.1 and `luajit -joff` on the LuaJIT benchmarks
that need only the core libraries. Sizes are chosen so lua5.1 takes roughly 1-5 s.

Runs each benchmark's engines in one hyperfine invocation (warm-up, then N runs each),
checks that all engines print the same output, and writes a markdown table with the
median times, the ratios and their geometric means.

usage: bench/interp/compare.py [--runs N] [--out FILE] [names...]
"""
import argparse, json, math, os, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SUITE = os.path.join(os.path.dirname(ROOT), "shared", "bench", "luajit")

BENCHMARKS = [
    ("array3d", "200"), ("binary-trees", "14"), ("chameneos", "4e6"),
    ("coroutine-ring", "2e7"), ("fannkuch", "10"), ("fasta", "3e6"),
    ("mandelbrot", "1500"), ("nbody", "8e5"), ("nsieve", "10"),
    ("nsieve-bit-fp", "9"), ("partialsums", "1e7"), ("pidigits-nogmp", "2000"),
    ("ray", "4"), ("recursive-ack", "10"), ("recursive-fib", "37"),
    ("spectral-norm", "1000"),
]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "interp.md"))
    ap.add_argument("--moonjet", default=os.path.join(ROOT, "target", "release", "moonjet"))
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    engines = [("moonjet", [a.moonjet, "-joff"]), ("lua5.1", ["lua5.1"]), ("luajit -joff", ["luajit", "-joff"])]
    rows = []
    for name, arg in BENCHMARKS:
        if a.names and name not in a.names:
            continue
        script = os.path.join(SUITE, name + ".lua")
        outs = {}
        for label, cmd in engines:
            p = subprocess.run(cmd + [script, arg], capture_output=True, cwd=SUITE)
            outs[label] = (p.returncode, p.stdout)
        ok = all(o == outs["lua5.1"] for o in outs.values())
        with tempfile.NamedTemporaryFile(suffix=".json") as tf:
            cmds = [" ".join(cmd + [script, arg]) for _, cmd in engines]
            subprocess.run(["hyperfine", "-N", "-w", "1", "-r", str(a.runs), "--export-json", tf.name] + cmds,
                           check=True, capture_output=True, cwd=SUITE)
            res = json.load(open(tf.name))["results"]
        t = [r["median"] for r in res]
        rows.append((name, arg, t, ok))
        print(f"{name:16} {arg:6} moonjet {t[0]:7.3f}s  lua5.1 {t[1]:7.3f}s  luajit-joff {t[2]:7.3f}s  "
              f"vs5.1 {t[0]/t[1]:5.2f}  vsLJ {t[0]/t[2]:5.2f}  {'ok' if ok else 'OUTPUT DIFFERS'}", flush=True)
    g1 = math.exp(sum(math.log(r[2][0] / r[2][1]) for r in rows) / len(rows))
    g2 = math.exp(sum(math.log(r[2][0] / r[2][2]) for r in rows) / len(rows))
    with open(a.out, "w") as f:
        f.write("# Interpreter speed: moonjet vs lua5.1 vs luajit -joff\n\n")
        f.write("Produced by `bench/interp/compare.py` (hyperfine, median of "
                f"{a.runs} runs after a warm-up; all engines checked to print the same output).\n\n")
        f.write("| benchmark | arg | moonjet (s) | lua5.1 (s) | luajit -joff (s) | moonjet/lua5.1 | moonjet/luajit -joff | output |\n")
        f.write("|---|---|---|---|---|---|---|---|\n")
        for name, arg, t, ok in rows:
            f.write(f"| {name} | {arg} | {t[0]:.3f} | {t[1]:.3f} | {t[2]:.3f} | {t[0]/t[1]:.2f} | {t[0]/t[2]:.2f} | {'same' if ok else 'DIFFERS'} |\n")
        f.write(f"| **geometric mean** | | | | | **{g1:.2f}** | **{g2:.2f}** | |\n")
    print(f"geomean moonjet/lua5.1 {g1:.3f}  moonjet/luajit-joff {g2:.3f}")

if __name__ == "__main__":
    main()
