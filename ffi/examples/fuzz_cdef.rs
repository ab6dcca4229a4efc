//! A self-contained fuzzer for the C declaration parser, for machines without
//! cargo-fuzz (the libFuzzer target is `ffi/fuzz`). It feeds `cdef` and `parse_type`
//! with C-like token soup and with mutations of valid declarations, and reports panics,
//! broken invariants and slow inputs.
//!
//!     cargo run --release -p moonjet-ffi --example fuzz_cdef -- [seconds] [seed]
//!
//! The parser runs on a thread with a small stack, so unbounded recursion shows up as a
//! crash of the process (a stack overflow aborts; it cannot be caught).

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use moonjet_ffi::{CTypeId, CTypeTable, DeclParam};

/// Stack of the parsing thread: the parser's nesting limits keep it far below this.
const STACK_BYTES: usize = 1 << 20;
/// An input that takes longer than this is reported.
const SLOW: Duration = Duration::from_millis(200);

const SEEDS: &[&str] = &[
    include_str!("../tests/gcc_layouts/cases.h"),
    "typedef struct foo { int a; struct { char b:3, :0, c:5; }; union { double d; void *p; } u; } foo_t;",
    "enum e { A = 1, B = A << 3, C = sizeof(struct { int x[B]; }) }; static const int K = C + 1;",
    "int printf(const char *fmt, ...); int (*signal(int sig, void (*func)(int)))(int);",
    "struct v { int n; double a[?]; }; typedef int arr_t[10][20]; extern arr_t *g;",
    "#pragma pack(push, 2)\nstruct p { char a; int b __attribute__((aligned(8))); };\n#pragma pack(pop)",
    "typedef float __attribute__((vector_size(16))) v4sf; typedef int __attribute__((mode(DI))) di;",
    "struct __attribute__((packed)) q { char a:7; int b:7; char c:7; int d:10; } __attribute__((aligned(4)));",
    "int f(int a[static 3]) asm(\"g\"); __declspec(align(16)) struct r { long double x; complex float z; };",
    "static inline int twice(int n) { return n * 2; } int __stdcall (*fp)(int, ...);",
    "char [((struct { int a; enum { K = 9 }; } *)0)->K + '\\x41' + (unsigned char)-1 % 7]",
];

const TOKENS: &[&str] = &[
    "int",
    "char",
    "short",
    "long",
    "unsigned",
    "signed",
    "float",
    "double",
    "void",
    "bool",
    "_Bool",
    "complex",
    "const",
    "volatile",
    "restrict",
    "struct",
    "union",
    "enum",
    "typedef",
    "extern",
    "static",
    "inline",
    "sizeof",
    "__alignof__",
    "__attribute__",
    "__declspec",
    "asm",
    "__cdecl",
    "__stdcall",
    "__ptr32",
    "__extension__",
    "aligned",
    "packed",
    "mode",
    "vector_size",
    "DI",
    "V4SF",
    "int8_t",
    "size_t",
    "va_list",
    "foo",
    "bar",
    "x",
    "y",
    "K",
    "*",
    "&",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ";",
    ",",
    ":",
    "?",
    "=",
    "...",
    ".",
    "->",
    "+",
    "-",
    "~",
    "!",
    "<<",
    ">>",
    "/",
    "%",
    "<",
    ">=",
    "==",
    "&&",
    "||",
    "$",
    "#pragma pack(push, 1)\n",
    "#pragma pack(pop)\n",
    "0",
    "1",
    "7",
    "0x7fffffff",
    "0xffffffff",
    "4294967295u",
    "017",
    "'a'",
    "'\\0'",
    "\"str\"",
    "[?]",
    "[]",
    "[0]",
    ":0",
    ":33",
    "/* c */",
    "// c\n",
    "\\\n",
];

/// xorshift64*: deterministic for a seed, no crates needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn token_soup(rng: &mut Rng) -> String {
    let count = 1 + rng.below(60);
    let mut out = String::new();
    for _ in 0..count {
        out.push_str(rng.pick(TOKENS));
        out.push(' ');
    }
    out
}

/// Byte-level and token-level mutations of a valid declaration.
fn mutate(rng: &mut Rng, src: &str) -> String {
    let mut bytes = src.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = bytes.len().max(1);
        let at = rng.below(len).min(bytes.len());
        match rng.below(7) {
            0 => {
                let end = (at + rng.below(16)).min(bytes.len());
                bytes.drain(at..end);
            }
            1 => {
                let token = rng.pick(TOKENS).as_bytes().to_vec();
                bytes.splice(at..at, token.iter().copied().chain([b' ']));
            }
            2 => {
                // Repeat a span many times: deep nesting and long lists.
                let end = (at + 1 + rng.below(8)).min(bytes.len());
                let span = bytes[at..end].to_vec();
                let times = [2, 10, 100, 1000, 20_000][rng.below(5)];
                let repeated: Vec<u8> = span
                    .iter()
                    .copied()
                    .cycle()
                    .take(span.len() * times)
                    .collect();
                bytes.splice(at..at, repeated);
            }
            3 => {
                const BYTES: &[u8] = b"(){}[]*;,:?$#'\"\\0123456789xaz_ \n";
                if at < bytes.len() {
                    bytes[at] = BYTES[rng.below(BYTES.len())];
                }
            }
            4 => {
                let other = rng.pick(SEEDS).as_bytes();
                let from = rng.below(other.len());
                let end = (from + rng.below(64)).min(other.len());
                bytes.splice(at..at, other[from..end].iter().copied());
            }
            5 => {
                let number =
                    ["2147483647", "4294967295", "0x80000000", "-1", "65536", "0"][rng.below(6)];
                bytes.splice(at..at, number.bytes());
            }
            _ => bytes.truncate(at),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn params(rng: &mut Rng) -> Vec<DeclParam> {
    (0..rng.below(3))
        .map(|_| match rng.below(3) {
            0 => DeclParam::Type(CTypeId(rng.below(120) as u16)),
            1 => DeclParam::Int(rng.next() as i64 >> rng.below(64)),
            _ => DeclParam::Name("pname".to_string()),
        })
        .collect()
}

/// Parses one input and checks the table's invariants around it.
fn run_one(table: &mut CTypeTable, src: &str, params: &[DeclParam], as_type: bool) {
    let before = table.len();
    if as_type {
        match table.parse_type(src, params) {
            Ok(id) => {
                let _ = table.type_name(id);
                let _ = table.sizeof(id);
                let _ = table.alignof(id);
                let _ = table.sizeof_with_count(id, 3);
                let _ = table.member(id, "a");
            }
            Err(err) => {
                assert_eq!(table.len(), before, "failed parse_type left entries: {err}");
                assert!(!err.message.is_empty());
            }
        }
    } else if let Err(err) = table.cdef(src, params) {
        assert_eq!(table.len(), before, "failed cdef left entries: {err}");
    }
    // Every entry must still be printable and measurable.
    for index in before.min(table.len())..table.len() {
        let id = CTypeId(index as u16);
        let _ = table.type_name(id);
        let _ = table.sizeof(id);
        let _ = table.alignof(id);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    let worker = std::thread::Builder::new()
        .stack_size(STACK_BYTES)
        .spawn(move || fuzz(Duration::from_secs(seconds), seed))
        .expect("spawn the fuzzing thread");
    let crashes = worker
        .join()
        .expect("the fuzzing thread itself does not panic");
    std::process::exit(if crashes == 0 { 0 } else { 1 });
}

fn fuzz(duration: Duration, seed: u64) -> usize {
    let mut rng = Rng(seed | 1);
    let mut table = CTypeTable::new();
    let start = Instant::now();
    let (mut inputs, mut crashes, mut slow) = (0u64, 0usize, 0usize);
    let mut slowest = Duration::ZERO;
    while start.elapsed() < duration {
        let src = match rng.below(3) {
            0 => token_soup(&mut rng),
            _ => {
                let seed_src = rng.pick(SEEDS);
                mutate(&mut rng, seed_src)
            }
        };
        let params = params(&mut rng);
        let as_type = rng.below(2) == 0;
        let began = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            run_one(&mut table, &src, &params, as_type)
        }));
        let took = began.elapsed();
        slowest = slowest.max(took);
        inputs += 1;
        if took > SLOW {
            slow += 1;
            eprintln!(
                "slow input ({took:?}, {} bytes): {:?}",
                src.len(),
                truncate(&src)
            );
        }
        if let Err(payload) = result {
            crashes += 1;
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            eprintln!(
                "PANIC ({message}) on {} input: {:?}",
                if as_type { "type" } else { "cdef" },
                src
            );
            table = CTypeTable::new();
        }
        // Start over before the table fills up, so overflow does not hide everything else.
        if table.len() > 40_000 {
            table = CTypeTable::new();
        }
    }
    println!(
        "fuzz_cdef: {inputs} inputs in {:?}, {crashes} panics, {slow} slow (slowest {slowest:?}), seed {seed}",
        start.elapsed()
    );
    crashes
}

fn truncate(src: &str) -> String {
    src.chars().take(200).collect()
}
