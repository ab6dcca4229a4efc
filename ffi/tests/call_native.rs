//! C calls and callbacks through generated code, run on the host. The callees are Rust
//! `extern "C"` functions over `#[repr(C)]` types, which follow the platform C ABI
//! exactly, so they see what a C caller would pass; libc's `snprintf` and `qsort`
//! check varargs and callbacks against real C code. Each callee records the arguments it
//! received, and the tests compare them with what was put in the argument block.

#![cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicUsize, Ordering};

use moonjet_ffi::call::{plan_call, CallError, CallPlan, StubCompiler};
use moonjet_ffi::{CTypeId, CTypeTable, Target};

/// The declarations of every callee below (shared with the aarch64 code tests).
pub const DECLS: &str = r#"
typedef struct { int32_t i; float f; double d; } IntFloatDouble;
typedef struct { float a, b, c; } Float3;
typedef struct { double d; int32_t i; } DoubleInt;
typedef struct { int64_t a, b, c; } Big;
typedef struct { int64_t x, y; } TwoLongs;
typedef struct { uint8_t c[3]; } Char3;
typedef union { float f; uint32_t u; } FloatOrBits;
typedef union { double d; int64_t i; uint8_t c[12]; } Mixed12;
typedef struct __attribute__((packed)) { uint8_t c; int32_t i; } Packed;
typedef struct { unsigned a:3; unsigned b:5; float f; } Bits;
typedef struct __attribute__((aligned(16))) { int64_t x, y; } Aligned16;

int64_t widen_i8(int8_t x);
uint64_t widen_u8(uint8_t x);
int64_t widen_i16(int16_t x);
uint64_t widen_u16(uint16_t x);
bool negate(bool b);
void ints(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e, uint32_t f, int64_t g,
          uint64_t h, bool i, int8_t j, uint16_t k);
double floats(float a, double b, int32_t c, float d, double e, double f, double g,
              double h, double i, double j, float k, double l);
const char *pointers(const char *s, int32_t *out, void *p);
void structs_in_registers(IntFloatDouble a, Float3 b, DoubleInt c, FloatOrBits d,
                          Mixed12 e, Bits f);
void structs_in_memory(Big a, int32_t x, Packed b, Char3 c);
void no_longer_fits(int32_t a, int32_t b, int32_t c, int32_t d, int32_t e, TwoLongs s,
                    int32_t g, double h);
void aligned_on_stack(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f,
                      int32_t x, Aligned16 s, int32_t y);
complex double complex_mul(complex double a, complex double b);
complex float complex_conj(complex float a);
int8_t ret_i8(void);
uint16_t ret_u16(void);
float ret_float(float x);
IntFloatDouble ret_int_float_double(int32_t i, float f, double d);
Float3 ret_float3(float a, float b, float c);
DoubleInt ret_double_int(double d, int32_t i);
Big ret_big(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f, int64_t g);
Packed ret_packed(uint8_t c, int32_t i);
FloatOrBits ret_float_or_bits(uint32_t u);
Char3 ret_char3(uint8_t a, uint8_t b, uint8_t c);

int snprintf(char *buf, size_t n, const char *fmt, ...);
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
typedef int (*compare_fn)(const void *, const void *);
typedef double (*mixed_fn)(double a, int8_t b, uint16_t c, float d, bool e, int64_t f);
typedef double (*many_fn)(int32_t a1, int32_t a2, int32_t a3, int32_t a4, int32_t a5,
                          int32_t a6, int32_t a7, int32_t a8, double d1, double d2,
                          double d3, double d4, double d5, double d6, double d7, double d8,
                          double d9, float d10, int8_t s);
typedef int8_t (*small_fn)(int8_t x, bool b);
"#;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct IntFloatDouble {
    i: i32,
    f: f32,
    d: f64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct Float3 {
    a: f32,
    b: f32,
    c: f32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct DoubleInt {
    d: f64,
    i: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct Big {
    a: i64,
    b: i64,
    c: i64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct TwoLongs {
    x: i64,
    y: i64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct Char3 {
    c: [u8; 3],
}

#[repr(C)]
#[derive(Clone, Copy)]
union FloatOrBits {
    f: f32,
    u: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
union Mixed12 {
    d: f64,
    i: i64,
    c: [u8; 12],
}

#[repr(C, packed)]
#[derive(Clone, Copy)]
struct Packed {
    c: u8,
    i: i32,
}

/// `struct { unsigned a:3; unsigned b:5; float f; }`: `a` and `b` share the low byte
/// of the first word (the same layout and classes as this Rust struct).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct Bits {
    ab: u32,
    f: f32,
}

#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, PartialEq)]
struct Aligned16 {
    x: i64,
    y: i64,
}

/// `complex double`: the same layout and passing as a struct of two doubles.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct ComplexDouble {
    re: f64,
    im: f64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct ComplexFloat {
    re: f32,
    im: f32,
}

thread_local! {
    static SEEN: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records what a callee received.
fn saw(text: String) {
    SEEN.with(|seen| *seen.borrow_mut() = text);
}

fn seen() -> String {
    SEEN.with(|seen| seen.borrow().clone())
}

extern "C" fn widen_i8(x: i8) -> i64 {
    x.into()
}
extern "C" fn widen_u8(x: u8) -> u64 {
    x.into()
}
extern "C" fn widen_i16(x: i16) -> i64 {
    x.into()
}
extern "C" fn widen_u16(x: u16) -> u64 {
    x.into()
}
extern "C" fn negate(b: bool) -> bool {
    !b
}
#[allow(clippy::too_many_arguments)]
extern "C" fn ints(
    a: i8,
    b: u8,
    c: i16,
    d: u16,
    e: i32,
    f: u32,
    g: i64,
    h: u64,
    i: bool,
    j: i8,
    k: u16,
) {
    saw(format!("{a} {b} {c} {d} {e} {f} {g} {h} {i} {j} {k}"));
}
#[allow(clippy::too_many_arguments)]
extern "C" fn floats(
    a: f32,
    b: f64,
    c: i32,
    d: f32,
    e: f64,
    f: f64,
    g: f64,
    h: f64,
    i: f64,
    j: f64,
    k: f32,
    l: f64,
) -> f64 {
    saw(format!("{a} {b} {c} {d} {e} {f} {g} {h} {i} {j} {k} {l}"));
    f64::from(a) + b + f64::from(c) + f64::from(d) + e + f + g + h + i + j + f64::from(k) + l
}
extern "C" fn pointers(s: *const c_char, out: *mut i32, p: *mut c_void) -> *const c_char {
    // SAFETY: the test passes a C string and a valid int pointer.
    unsafe {
        let text = CStr::from_ptr(s).to_str().unwrap();
        *out = text.len() as i32;
        saw(format!("{text} {p:?}"));
        s.add(1)
    }
}
extern "C" fn structs_in_registers(
    a: IntFloatDouble,
    b: Float3,
    c: DoubleInt,
    d: FloatOrBits,
    e: Mixed12,
    f: Bits,
) {
    // SAFETY: the test fills `d` through `u`, `e` through `c`.
    let (d, e) = unsafe { (d.u, e.c) };
    saw(format!("{a:?} {b:?} {c:?} {d:#x} {e:?} {f:?}"));
}
extern "C" fn structs_in_memory(a: Big, x: i32, b: Packed, c: Char3) {
    let (bc, bi) = (b.c, b.i);
    saw(format!("{a:?} {x} {bc} {bi} {c:?}"));
}
#[allow(clippy::too_many_arguments)]
extern "C" fn no_longer_fits(a: i32, b: i32, c: i32, d: i32, e: i32, s: TwoLongs, g: i32, h: f64) {
    saw(format!("{a} {b} {c} {d} {e} {s:?} {g} {h}"));
}
#[allow(clippy::too_many_arguments)]
extern "C" fn aligned_on_stack(
    a: i64,
    b: i64,
    c: i64,
    d: i64,
    e: i64,
    f: i64,
    x: i32,
    s: Aligned16,
    y: i32,
) {
    saw(format!("{a} {b} {c} {d} {e} {f} {x} {s:?} {y}"));
}
extern "C" fn complex_mul(a: ComplexDouble, b: ComplexDouble) -> ComplexDouble {
    ComplexDouble {
        re: a.re * b.re - a.im * b.im,
        im: a.re * b.im + a.im * b.re,
    }
}
extern "C" fn complex_conj(a: ComplexFloat) -> ComplexFloat {
    ComplexFloat {
        re: a.re,
        im: -a.im,
    }
}
extern "C" fn ret_i8() -> i8 {
    -1
}
extern "C" fn ret_u16() -> u16 {
    0xfedc
}
extern "C" fn ret_float(x: f32) -> f32 {
    x * 2.0
}
extern "C" fn ret_int_float_double(i: i32, f: f32, d: f64) -> IntFloatDouble {
    IntFloatDouble { i, f, d }
}
extern "C" fn ret_float3(a: f32, b: f32, c: f32) -> Float3 {
    Float3 { a, b, c }
}
extern "C" fn ret_double_int(d: f64, i: i32) -> DoubleInt {
    DoubleInt { d, i }
}
#[allow(clippy::too_many_arguments)]
extern "C" fn ret_big(a: i64, b: i64, c: i64, d: i64, e: i64, f: i64, g: i64) -> Big {
    Big {
        a: a + b,
        b: c + d,
        c: e + f * g,
    }
}
extern "C" fn ret_packed(c: u8, i: i32) -> Packed {
    Packed { c, i }
}
extern "C" fn ret_float_or_bits(u: u32) -> FloatOrBits {
    FloatOrBits { u }
}
extern "C" fn ret_char3(a: u8, b: u8, c: u8) -> Char3 {
    Char3 { c: [a, b, c] }
}

extern "C" {
    fn snprintf(buf: *mut c_char, n: usize, fmt: *const c_char, ...) -> c_int;
    fn qsort(
        base: *mut c_void,
        n: usize,
        size: usize,
        cmp: unsafe extern "C" fn(*const c_void, *const c_void) -> c_int,
    );
}

/// An argument or result block: 16-byte aligned, filled with a pattern so that a stub
/// that reads or writes the wrong width shows.
#[repr(C, align(16))]
struct Block([u8; 512]);

const PATTERN: u8 = 0xA5;

impl Block {
    fn new() -> Box<Block> {
        Box::new(Block([PATTERN; 512]))
    }

    fn put<T: Copy>(&mut self, offset: u32, value: T) {
        let end = offset as usize + size_of::<T>();
        assert!(end <= self.0.len());
        // SAFETY: in bounds (checked above); unaligned writes are allowed.
        unsafe { (self.0.as_mut_ptr().add(offset as usize) as *mut T).write_unaligned(value) }
    }

    fn get<T: Copy>(&self, offset: u32) -> T {
        assert!(offset as usize + size_of::<T>() <= self.0.len());
        // SAFETY: in bounds; callers read types whose every bit pattern is valid.
        unsafe { (self.0.as_ptr().add(offset as usize) as *const T).read_unaligned() }
    }
}

/// A value to put into an argument block.
trait Arg {
    fn put_into(&self, block: &mut Block, offset: u32);
}

impl<T: Copy> Arg for T {
    fn put_into(&self, block: &mut Block, offset: u32) {
        block.put(offset, *self);
    }
}

fn host_table() -> CTypeTable {
    let mut cts = CTypeTable::new();
    cts.cdef(DECLS, &[]).unwrap();
    cts
}

fn plan(cts: &CTypeTable, name: &str, varargs: &[CTypeId]) -> CallPlan {
    let func = cts
        .lookup(name)
        .unwrap_or_else(|| panic!("{name} is declared"));
    plan_call(cts, func, varargs).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Calls `target`, declared as `name`, with `args`; returns the plan and result block.
fn call(
    name: &str,
    varargs: &[CTypeId],
    target: *const c_void,
    args: &[&dyn Arg],
) -> (CallPlan, Box<Block>) {
    let cts = host_table();
    let plan = plan(&cts, name, varargs);
    assert_eq!(plan.arg_types.len(), args.len(), "{name}: argument count");
    let stub = StubCompiler::host()
        .unwrap()
        .compile_call(&plan)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut block = Block::new();
    for (&arg, &offset) in args.iter().zip(&plan.arg_offsets) {
        // `arg` is `&dyn Arg` (the blanket impl would also take the reference itself).
        let arg: &dyn Arg = arg;
        arg.put_into(&mut block, offset);
    }
    assert!(plan.args_size as usize <= block.0.len() && plan.ret_size as usize <= 512);
    let mut ret = Block::new();
    // SAFETY: `target` has the declared signature (the declarations above mirror the
    // Rust functions); the blocks are large enough, aligned and filled per the plan.
    unsafe { stub.call(target, block.0.as_ptr(), ret.0.as_mut_ptr()) };
    (plan, ret)
}

fn fn_addr(f: *const ()) -> *const c_void {
    f as *const c_void
}

#[test]
fn narrow_integers_are_widened_for_the_callee() {
    let (_, ret) = call("widen_i8", &[], fn_addr(widen_i8 as *const ()), &[&-1i8]);
    assert_eq!(ret.get::<i64>(0), -1);
    let (_, ret) = call("widen_u8", &[], fn_addr(widen_u8 as *const ()), &[&0xf0u8]);
    assert_eq!(ret.get::<u64>(0), 0xf0);
    let (_, ret) = call("widen_i16", &[], fn_addr(widen_i16 as *const ()), &[&-2i16]);
    assert_eq!(ret.get::<i64>(0), -2);
    let (_, ret) = call(
        "widen_u16",
        &[],
        fn_addr(widen_u16 as *const ()),
        &[&0xfffeu16],
    );
    assert_eq!(ret.get::<u64>(0), 0xfffe);
}

#[test]
fn bools_pass_and_return_one_byte() {
    for b in [false, true] {
        let (_, ret) = call("negate", &[], fn_addr(negate as *const ()), &[&b]);
        assert_eq!(ret.get::<u8>(0), u8::from(!b));
        assert_eq!(ret.get::<u8>(1), PATTERN, "only one byte is stored");
    }
}

#[test]
fn integer_arguments_of_every_size_some_on_the_stack() {
    call(
        "ints",
        &[],
        fn_addr(ints as *const ()),
        &[
            &-3i8,
            &250u8,
            &-30000i16,
            &60000u16,
            &-2_000_000_000i32,
            &4_000_000_000u32,
            &-9_000_000_000_000_000_000i64,
            &18_000_000_000_000_000_000u64,
            &true,
            &-128i8,
            &65535u16,
        ],
    );
    assert_eq!(
        seen(),
        "-3 250 -30000 60000 -2000000000 4000000000 -9000000000000000000 \
         18000000000000000000 true -128 65535"
    );
}

#[test]
fn float_arguments_beyond_the_vector_registers() {
    let (_, ret) = call(
        "floats",
        &[],
        fn_addr(floats as *const ()),
        &[
            &1.5f32, &2.25f64, &-3i32, &4.5f32, &5.0f64, &6.0f64, &7.0f64, &8.0f64, &9.0f64,
            &10.5f64, &-11.25f32, &12.0f64,
        ],
    );
    assert_eq!(seen(), "1.5 2.25 -3 4.5 5 6 7 8 9 10.5 -11.25 12");
    assert_eq!(ret.get::<f64>(0), 51.5);
}

#[test]
fn pointers_in_and_out() {
    let text = c"hello";
    let mut out = 0i32;
    let (_, ret) = call(
        "pointers",
        &[],
        fn_addr(pointers as *const ()),
        &[
            &text.as_ptr(),
            &(&mut out as *mut i32),
            &(0x1234usize as *const c_void),
        ],
    );
    assert_eq!(out, 5);
    assert_eq!(seen(), "hello 0x1234");
    assert_eq!(ret.get::<usize>(0), text.as_ptr() as usize + 1);
}

#[test]
fn small_structs_and_unions_travel_in_registers() {
    let ifd = IntFloatDouble {
        i: -7,
        f: 0.5,
        d: 1e100,
    };
    let f3 = Float3 {
        a: 1.0,
        b: -2.0,
        c: 3.5,
    };
    let di = DoubleInt { d: -0.25, i: 99 };
    let bits = FloatOrBits { u: 0xdead_beef };
    let mixed = Mixed12 {
        c: *b"abcdefghijkl",
    };
    let bf = Bits {
        // b = 22, a = 3
        ab: (22 << 3) | 3,
        f: 6.0,
    };
    call(
        "structs_in_registers",
        &[],
        fn_addr(structs_in_registers as *const ()),
        &[&ifd, &f3, &di, &bits, &mixed, &bf],
    );
    assert_eq!(
        seen(),
        format!(
            "{ifd:?} {f3:?} {di:?} 0xdeadbeef {:?} {bf:?}",
            b"abcdefghijkl"
        )
    );
}

#[test]
fn large_and_packed_structs_travel_in_memory() {
    let big = Big {
        a: 1,
        b: -2,
        c: 1 << 40,
    };
    let packed = Packed { c: 200, i: -123456 };
    let c3 = Char3 { c: [7, 8, 9] };
    call(
        "structs_in_memory",
        &[],
        fn_addr(structs_in_memory as *const ()),
        &[&big, &42i32, &packed, &c3],
    );
    assert_eq!(seen(), format!("{big:?} 42 200 -123456 {c3:?}"));
}

#[test]
fn a_struct_that_no_longer_fits_goes_to_the_stack_and_later_scalars_do_not() {
    let s = TwoLongs { x: 11, y: -22 };
    call(
        "no_longer_fits",
        &[],
        fn_addr(no_longer_fits as *const ()),
        &[&1i32, &2i32, &3i32, &4i32, &5i32, &s, &6i32, &7.5f64],
    );
    assert_eq!(seen(), format!("1 2 3 4 5 {s:?} 6 7.5"));
}

#[test]
fn a_16_byte_aligned_struct_takes_an_aligned_stack_slot() {
    let s = Aligned16 { x: -1, y: 1 << 50 };
    let (plan, _) = call(
        "aligned_on_stack",
        &[],
        fn_addr(aligned_on_stack as *const ()),
        &[&1i64, &2i64, &3i64, &4i64, &5i64, &6i64, &-7i32, &s, &8i32],
    );
    assert_eq!(plan.arg_offsets[6..], [48, 64, 80]);
    assert_eq!(seen(), format!("1 2 3 4 5 6 -7 {s:?} 8"));
}

#[test]
fn complex_numbers() {
    let a = ComplexDouble { re: 1.0, im: 2.0 };
    let b = ComplexDouble { re: 3.0, im: -1.0 };
    let (_, ret) = call(
        "complex_mul",
        &[],
        fn_addr(complex_mul as *const ()),
        &[&a, &b],
    );
    assert_eq!(
        ret.get::<ComplexDouble>(0),
        ComplexDouble { re: 5.0, im: 5.0 }
    );
    let z = ComplexFloat { re: 1.5, im: 2.5 };
    let (_, ret) = call(
        "complex_conj",
        &[],
        fn_addr(complex_conj as *const ()),
        &[&z],
    );
    assert_eq!(
        ret.get::<ComplexFloat>(0),
        ComplexFloat { re: 1.5, im: -2.5 }
    );
}

#[test]
fn scalar_results_store_their_own_size() {
    let (plan, ret) = call("ret_i8", &[], fn_addr(ret_i8 as *const ()), &[]);
    assert_eq!((plan.args_size, plan.ret_size), (0, 16));
    assert_eq!(ret.get::<i8>(0), -1);
    assert_eq!(ret.get::<u8>(1), PATTERN);
    let (_, ret) = call("ret_u16", &[], fn_addr(ret_u16 as *const ()), &[]);
    assert_eq!(ret.get::<u16>(0), 0xfedc);
    assert_eq!(ret.get::<u8>(2), PATTERN);
    let (_, ret) = call(
        "ret_float",
        &[],
        fn_addr(ret_float as *const ()),
        &[&1.25f32],
    );
    assert_eq!(ret.get::<f32>(0), 2.5);
    assert_eq!(ret.get::<u8>(4), PATTERN);
}

#[test]
fn struct_results_in_registers() {
    let (_, ret) = call(
        "ret_int_float_double",
        &[],
        fn_addr(ret_int_float_double as *const ()),
        &[&5i32, &0.75f32, &-8.5f64],
    );
    let expected = IntFloatDouble {
        i: 5,
        f: 0.75,
        d: -8.5,
    };
    assert_eq!(ret.get::<IntFloatDouble>(0), expected);
    let (_, ret) = call(
        "ret_float3",
        &[],
        fn_addr(ret_float3 as *const ()),
        &[&1.0f32, &2.0f32, &3.0f32],
    );
    let expected = Float3 {
        a: 1.0,
        b: 2.0,
        c: 3.0,
    };
    assert_eq!(ret.get::<Float3>(0), expected);
    let (_, ret) = call(
        "ret_double_int",
        &[],
        fn_addr(ret_double_int as *const ()),
        &[&0.125f64, &-77i32],
    );
    assert_eq!(ret.get::<f64>(0), 0.125);
    assert_eq!(ret.get::<i32>(8), -77);
    let (_, ret) = call(
        "ret_float_or_bits",
        &[],
        fn_addr(ret_float_or_bits as *const ()),
        &[&0x3f80_0000u32],
    );
    assert_eq!(ret.get::<f32>(0), 1.0);
    let (_, ret) = call(
        "ret_char3",
        &[],
        fn_addr(ret_char3 as *const ()),
        &[&1u8, &2u8, &3u8],
    );
    assert_eq!(ret.get::<[u8; 3]>(0), [1, 2, 3]);
}

#[test]
fn struct_results_in_memory_are_written_into_the_result_block() {
    let (plan, ret) = call(
        "ret_big",
        &[],
        fn_addr(ret_big as *const ()),
        &[&1i64, &2i64, &3i64, &4i64, &5i64, &6i64, &7i64],
    );
    assert_eq!(plan.ret_size, 32);
    assert_eq!(ret.get::<Big>(0), Big { a: 3, b: 7, c: 47 });
    let (_, ret) = call(
        "ret_packed",
        &[],
        fn_addr(ret_packed as *const ()),
        &[&9u8, &-5i32],
    );
    assert_eq!(ret.get::<u8>(0), 9);
    assert_eq!(ret.get::<i32>(1), -5);
}

fn c_text(buf: &[u8]) -> &str {
    CStr::from_bytes_until_nul(buf).unwrap().to_str().unwrap()
}

#[test]
fn snprintf_with_mixed_varargs() {
    let mut buf = [0u8; 128];
    let fmt = c"%d %.3f %s %lld %.2f";
    let word = c"word";
    let (plan, ret) = call(
        "snprintf",
        &[
            CTypeId::INT32,
            CTypeId::DOUBLE,
            CTypeId::P_CONST_CHAR,
            CTypeId::INT64,
            CTypeId::FLOAT,
        ],
        fn_addr(snprintf as *const ()),
        &[
            &buf.as_mut_ptr(),
            &buf.len(),
            &fmt.as_ptr(),
            &-42i32,
            &1.23456f64,
            &word.as_ptr(),
            &-1_234_567_890_123i64,
            // `float` was promoted to `double`.
            &2.5f64,
        ],
    );
    assert_eq!(plan.arg_types[7], CTypeId::DOUBLE);
    assert!(plan.vararg);
    assert_eq!(c_text(&buf), "-42 1.235 word -1234567890123 2.50");
    assert_eq!(ret.get::<i32>(0), 34);
}

#[test]
fn snprintf_with_more_doubles_than_vector_registers() {
    let mut buf = [0u8; 128];
    let fmt = c"%g %g %g %g %g %g %g %g %g %g %d";
    let doubles: Vec<f64> = (1..=10).map(|i| f64::from(i) + 0.5).collect();
    let (buf_ptr, fmt_ptr) = (buf.as_mut_ptr(), fmt.as_ptr());
    let mut args: Vec<&dyn Arg> = vec![&buf_ptr, &128usize, &fmt_ptr];
    for d in &doubles {
        args.push(d);
    }
    args.push(&77i32);
    let mut varargs = vec![CTypeId::DOUBLE; 10];
    varargs.push(CTypeId::INT8);
    let (plan, _) = call("snprintf", &varargs, fn_addr(snprintf as *const ()), &args);
    assert_eq!(
        plan.arg_types[13],
        CTypeId::INT32,
        "int8_t is promoted to int"
    );
    assert_eq!(c_text(&buf), "1.5 2.5 3.5 4.5 5.5 6.5 7.5 8.5 9.5 10.5 77");
}

static COMPARISONS: AtomicUsize = AtomicUsize::new(0);

/// The runtime's side of the comparator: `ctx` is its plan.
unsafe extern "C" fn compare_ints(ctx: *mut c_void, slot: u32, args: *const u8, ret: *mut u8) {
    assert_eq!(slot, 7);
    // SAFETY: the callback was compiled with its plan as `ctx`; `args` holds two
    // pointers to the ints being sorted, `ret` has room for an int.
    unsafe {
        let plan = &*(ctx as *const CallPlan);
        let a = *(args.add(plan.arg_offsets[0] as usize) as *const *const i32);
        let b = *(args.add(plan.arg_offsets[1] as usize) as *const *const i32);
        (ret as *mut i32).write((*a).cmp(&*b) as i32);
    }
    COMPARISONS.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn qsort_calls_back_through_a_generated_comparator() {
    let cts = host_table();
    let compare_plan = plan(&cts, "compare_fn", &[]);
    assert_eq!(compare_plan.arg_types.len(), 2);
    let mut compiler = StubCompiler::host().unwrap();
    let callback = compiler
        .compile_callback(
            &compare_plan,
            compare_ints,
            &compare_plan as *const CallPlan as *mut c_void,
            7,
        )
        .unwrap();
    let mut values = [5i32, -3, 99, 0, 42, -100, 7, 7, 1];
    let before = COMPARISONS.load(Ordering::Relaxed);
    // qsort itself through a call stub, with the callback as its comparator.
    call(
        "qsort",
        &[],
        fn_addr(qsort as *const ()),
        &[
            &values.as_mut_ptr(),
            &values.len(),
            &size_of::<i32>(),
            &callback.address(),
        ],
    );
    assert_eq!(values, [-100, -3, 0, 1, 5, 7, 7, 42, 99]);
    assert!(COMPARISONS.load(Ordering::Relaxed) > before);
}

/// Formats the arguments of a callback from its argument block: `ctx` is the plan,
/// `types` says how to read each argument.
unsafe fn callback_args(ctx: *mut c_void, args: *const u8, types: &str) -> Vec<String> {
    // SAFETY: per the caller, `ctx` is the plan and `args` its argument block.
    unsafe {
        let plan = &*(ctx as *const CallPlan);
        types
            .split(' ')
            .zip(&plan.arg_offsets)
            .map(|(ty, &offset)| {
                let at = args.add(offset as usize);
                match ty {
                    "i8" => (*(at as *const i8)).to_string(),
                    "u16" => (*(at as *const u16)).to_string(),
                    "i32" => (*(at as *const i32)).to_string(),
                    "i64" => (*(at as *const i64)).to_string(),
                    "bool" => (*at != 0).to_string(),
                    "f32" => (*(at as *const f32)).to_string(),
                    "f64" => (*(at as *const f64)).to_string(),
                    _ => unreachable!("{ty}"),
                }
            })
            .collect()
    }
}

unsafe extern "C" fn mixed_dispatch(ctx: *mut c_void, slot: u32, args: *const u8, ret: *mut u8) {
    // SAFETY: compiled with the plan of `mixed_fn` as `ctx`; `ret` holds a double.
    unsafe {
        let seen = callback_args(ctx, args, "f64 i8 u16 f32 bool i64");
        let sum: f64 = seen
            .iter()
            .map(|s| match s.as_str() {
                "true" => 1.0,
                "false" => 0.0,
                n => n.parse::<f64>().unwrap(),
            })
            .sum();
        saw(format!("{slot}: {}", seen.join(" ")));
        (ret as *mut f64).write(sum);
    }
}

type MixedFn = extern "C" fn(f64, i8, u16, f32, bool, i64) -> f64;

#[test]
fn callback_with_doubles_and_small_integers() {
    let cts = host_table();
    let plan = plan(&cts, "mixed_fn", &[]);
    let mut compiler = StubCompiler::host().unwrap();
    let ctx = &plan as *const CallPlan as *mut c_void;
    let callback = compiler
        .compile_callback(&plan, mixed_dispatch, ctx, 3)
        .unwrap();
    // SAFETY: the callback has the C signature of `mixed_fn`, which `MixedFn` is, and
    // lives until the end of the test.
    let f = unsafe { std::mem::transmute::<usize, MixedFn>(callback.address()) };
    assert_eq!(
        f(0.5, -3, 65000, 0.25, true, 1 << 40),
        0.5 - 3.0 + 65000.0 + 0.25 + 1.0 + (1u64 << 40) as f64
    );
    assert_eq!(seen(), "3: 0.5 -3 65000 0.25 true 1099511627776");
}

unsafe extern "C" fn many_dispatch(ctx: *mut c_void, _slot: u32, args: *const u8, ret: *mut u8) {
    // SAFETY: compiled with the plan of `many_fn` as `ctx`; `ret` holds a double.
    unsafe {
        let seen = callback_args(
            ctx,
            args,
            "i32 i32 i32 i32 i32 i32 i32 i32 f64 f64 f64 f64 f64 f64 f64 f64 f64 f32 i8",
        );
        saw(seen.join(" "));
        (ret as *mut f64).write(-1.5);
    }
}

type ManyFn = extern "C" fn(
    i32,
    i32,
    i32,
    i32,
    i32,
    i32,
    i32,
    i32,
    f64,
    f64,
    f64,
    f64,
    f64,
    f64,
    f64,
    f64,
    f64,
    f32,
    i8,
) -> f64;

#[test]
fn callback_with_arguments_on_the_stack() {
    let cts = host_table();
    let plan = plan(&cts, "many_fn", &[]);
    let mut compiler = StubCompiler::host().unwrap();
    let ctx = &plan as *const CallPlan as *mut c_void;
    let callback = compiler
        .compile_callback(&plan, many_dispatch, ctx, 0)
        .unwrap();
    // SAFETY: the callback has the C signature of `many_fn`, which `ManyFn` is.
    let f = unsafe { std::mem::transmute::<usize, ManyFn>(callback.address()) };
    let r = f(
        1, -2, 3, -4, 5, -6, 7, -8, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.25, -100,
    );
    assert_eq!(r, -1.5);
    assert_eq!(
        seen(),
        "1 -2 3 -4 5 -6 7 -8 0.5 1.5 2.5 3.5 4.5 5.5 6.5 7.5 8.5 9.25 -100"
    );
}

unsafe extern "C" fn small_dispatch(ctx: *mut c_void, _slot: u32, args: *const u8, ret: *mut u8) {
    // SAFETY: compiled with the plan of `small_fn` as `ctx`; `ret` holds an int8_t.
    unsafe {
        let seen = callback_args(ctx, args, "i8 bool");
        let x: i8 = seen[0].parse().unwrap();
        let result = if seen[1] == "true" {
            x.wrapping_neg()
        } else {
            x
        };
        (ret as *mut i8).write(result);
    }
}

#[test]
fn callback_returning_a_narrow_integer() {
    let cts = host_table();
    let plan = plan(&cts, "small_fn", &[]);
    let mut compiler = StubCompiler::host().unwrap();
    let ctx = &plan as *const CallPlan as *mut c_void;
    let callback = compiler
        .compile_callback(&plan, small_dispatch, ctx, 0)
        .unwrap();
    // SAFETY: the callback has the C signature of `small_fn`.
    let f =
        unsafe { std::mem::transmute::<usize, extern "C" fn(i8, bool) -> i8>(callback.address()) };
    assert_eq!(f(5, true), -5);
    assert_eq!(f(-128, false), -128);
    // Through a call stub too: the callback's result comes back widened.
    let (_, ret) = call(
        "small_fn",
        &[],
        callback.address() as *const c_void,
        &[&1i8, &true],
    );
    assert_eq!(ret.get::<i8>(0), -1);
}

#[test]
fn callbacks_refuse_varargs_and_aggregates() {
    let mut cts = host_table();
    cts.cdef(
        "typedef int (*vararg_cb)(int, ...); typedef double (*struct_cb)(Float3); \
         typedef Float3 (*struct_ret_cb)(double);",
        &[],
    )
    .unwrap();
    let mut compiler = StubCompiler::host().unwrap();
    for name in ["vararg_cb", "struct_cb", "struct_ret_cb"] {
        let plan = plan(&cts, name, &[]);
        let err = compiler
            .compile_callback(&plan, small_dispatch, std::ptr::null_mut(), 0)
            .err();
        assert_eq!(
            err,
            Some(CallError::Unsupported("bad callback".into())),
            "{name}"
        );
    }
}

/// Every declared function's call stub, and its callback entry where callbacks are
/// possible, compiles for `target`.
fn compile_all(target: Target, compiler: &mut StubCompiler) -> usize {
    let mut cts = CTypeTable::with_target(target);
    cts.cdef(DECLS, &[]).unwrap();
    let mut compiled = 0;
    for line in DECLS.lines() {
        let Some(name) = declared_name(line) else {
            continue;
        };
        let varargs: &[CTypeId] = if name == "snprintf" {
            &[CTypeId::DOUBLE, CTypeId::INT32, CTypeId::FLOAT]
        } else {
            &[]
        };
        let plan = plan(&cts, name, varargs);
        let code = compiler
            .call_code(&plan)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!code.is_empty());
        compiled += 1;
        if !plan.vararg && !plan.passing.by_value_aggregates {
            let code = compiler
                .callback_code(&plan)
                .unwrap_or_else(|e| panic!("{name} callback: {e}"));
            assert!(!code.is_empty());
            compiled += 1;
        }
    }
    compiled
}

/// The name a declaration line of `DECLS` declares, for functions and function
/// pointer typedefs.
fn declared_name(line: &str) -> Option<&str> {
    if line.starts_with("typedef") {
        return line.split("(*").nth(1)?.split(')').next();
    }
    if line.starts_with(' ') || !line.contains('(') {
        return None;
    }
    line.split('(').next()?.rsplit([' ', '*']).next()
}

#[test]
fn every_signature_compiles_for_the_host() {
    let mut compiler = StubCompiler::host().unwrap();
    assert!(compile_all(Target::host(), &mut compiler) > 40);
}

#[test]
fn every_signature_compiles_for_aarch64() {
    let triple = "aarch64-unknown-linux-gnu".parse().unwrap();
    let mut compiler = StubCompiler::for_triple(triple).unwrap();
    assert_eq!(compiler.target(), Target::Aarch64);
    assert!(compile_all(Target::Aarch64, &mut compiler) > 40);
    // Code for another target is not placed to run.
    let mut cts = CTypeTable::with_target(Target::Aarch64);
    cts.cdef(DECLS, &[]).unwrap();
    let plan = plan(&cts, "ints", &[]);
    assert!(matches!(
        compiler.compile_call(&plan),
        Err(CallError::Codegen(_))
    ));
}

#[test]
fn every_signature_compiles_for_x86_64() {
    let triple = "x86_64-unknown-linux-gnu".parse().unwrap();
    let mut compiler = StubCompiler::for_triple(triple).unwrap();
    assert!(compile_all(Target::X86_64SysV, &mut compiler) > 40);
}

#[test]
fn plans_are_only_compiled_for_their_target() {
    let mut cts = CTypeTable::with_target(Target::Aarch64);
    cts.cdef(DECLS, &[]).unwrap();
    let plan = plan(&cts, "ints", &[]);
    let triple = "x86_64-unknown-linux-gnu".parse().unwrap();
    let mut compiler = StubCompiler::for_triple(triple).unwrap();
    assert!(matches!(
        compiler.call_code(&plan),
        Err(CallError::Codegen(_))
    ));
    let windows = "x86_64-pc-windows-msvc".parse().unwrap();
    assert!(StubCompiler::for_triple(windows).is_err());
}
