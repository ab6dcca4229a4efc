//! Call plans on both targets: argument block layout, C's vararg promotions, and the
//! register and stack places of each argument and result. The expected places are
//! worked out by hand from the x86-64 System V psABI (eightbyte classes) and AAPCS64
//! (stages B and C of parameter passing).

use moonjet_ffi::call::{
    plan_call, ArgPassing, CallError, CallPlan, Loc, Piece, PieceType, RetPassing,
};
use moonjet_ffi::{CTypeId, CTypeTable, Target};

const DECLS: &str = r#"
typedef struct { float a, b, c; } F3;
typedef struct { double d; int i; } DI;
typedef struct { char c[20]; } C20;
typedef struct __attribute__((packed)) { char c; int i; } P5;
typedef union { float f; int i; } UFI;
typedef union { float f; float g[2]; } UFF;
typedef struct { int64_t x, y; } L2;
typedef struct __attribute__((aligned(16))) { int64_t x, y; } A16;
typedef struct { unsigned a:3; unsigned b:5; float f; } BF;
typedef struct { complex float z; float w; } CF3;
typedef struct { double d[4]; } D4;
typedef struct { double d[5]; } D5;
typedef struct __attribute__((aligned(16))) { float f; } PadF;
typedef struct { long double x; } LD;
typedef struct { long double a, b; } LD2;
typedef float v4sf __attribute__((vector_size(16)));
struct incomplete;
typedef struct { int n; int a[?]; } VLS;

void f3(F3 s);
F3 rf3(void);
void di(DI s);
DI rdi(void);
void c20(int a, C20 s, int b);
C20 rc20(int a);
C20 rc20_many(int a1, int a2, int a3, int a4, int a5, int a6);
void p5(P5 s, int x);
P5 rp5(void);
void unions(UFI a, UFF b);
void cplx(complex double a, complex float b);
complex float rcf(void);
complex double rcd(void);
void cf3(CF3 s);
void exhaust_x64(int a, int b, int c, int d, int e, L2 s, int g);
void exhaust_a64(int a1, int a2, int a3, int a4, int a5, int a6, int a7, L2 s, int h);
void even(int a, A16 s, int b);
void hfa_spill(double a1, double a2, double a3, double a4, double a5, double a6, F3 s,
               double b, float c);
void bits(BF s);
void d4(D4 s);
D4 rd4(void);
void d5(D5 s);
D5 rd5(void);
void padf(PadF s);
void scalars(char a, unsigned short b, bool c, float d, double e, void *p, int64_t q);
void many(int a1, int a2, int a3, int a4, int a5, int a6, int a7, int a8,
          double d1, double d2, double d3, double d4, double d5, double d6, double d7,
          double d8, double d9);
int varfn(const char *fmt, ...);
void layout(char a, A16 s, double d, C20 c);
int8_t r8(void);
void ld(long double x);
long double rld(void);
void vec(v4sf v);
void inc(struct incomplete s);
void vls(VLS s);
void ldstruct(LD s);
void ld2(LD2 s);
LD2 rld2(void);
int __stdcall stdcall_fn(int a);
typedef int (*callback_ptr)(int a, double b);
"#;

fn table(target: Target) -> CTypeTable {
    let mut cts = CTypeTable::with_target(target);
    cts.cdef(DECLS, &[]).unwrap();
    cts
}

fn try_plan(target: Target, name: &str, varargs: &[CTypeId]) -> Result<CallPlan, CallError> {
    let cts = table(target);
    let func = cts
        .lookup(name)
        .unwrap_or_else(|| panic!("{name} is declared"));
    plan_call(&cts, func, varargs)
}

fn plan(target: Target, name: &str) -> CallPlan {
    try_plan(target, name, &[]).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const X64: Target = Target::X86_64SysV;
const A64: Target = Target::Aarch64;

/// An eightbyte in integer registers or on the stack.
const W: PieceType = PieceType::Int {
    size: 8,
    signed: false,
};
const F32: PieceType = PieceType::Float { size: 4 };
const F64: PieceType = PieceType::Float { size: 8 };
const I32: PieceType = PieceType::Int {
    size: 4,
    signed: true,
};

fn g(n: u8) -> Loc {
    Loc::Gpr(n)
}
fn v(n: u8) -> Loc {
    Loc::Fpr(n)
}
fn s(offset: u32) -> Loc {
    Loc::Stack(offset)
}

/// An argument passed by value in these `(offset, type, place)` pieces.
fn value(pieces: &[(u32, PieceType, Loc)]) -> ArgPassing {
    ArgPassing::Value(pieces_of(pieces))
}

fn pieces_of(pieces: &[(u32, PieceType, Loc)]) -> Vec<Piece> {
    pieces
        .iter()
        .map(|&(offset, ty, loc)| Piece { offset, ty, loc })
        .collect()
}

fn ret(pieces: &[(u32, PieceType, Loc)]) -> RetPassing {
    RetPassing::Value(pieces_of(pieces))
}

/// A scalar `int` argument at `loc`.
fn int(loc: Loc) -> ArgPassing {
    value(&[(0, I32, loc)])
}

fn args(target: Target, name: &str) -> Vec<ArgPassing> {
    plan(target, name).passing.args
}

#[test]
fn three_floats_are_two_sse_eightbytes_on_x64_and_an_hfa_of_three_on_aarch64() {
    assert_eq!(args(X64, "f3"), [value(&[(0, F64, v(0)), (8, F64, v(1))])]);
    assert_eq!(
        args(A64, "f3"),
        [value(&[(0, F32, v(0)), (4, F32, v(1)), (8, F32, v(2))])]
    );
    assert_eq!(
        plan(X64, "rf3").passing.ret,
        ret(&[(0, F64, v(0)), (8, F64, v(1))])
    );
    assert_eq!(
        plan(A64, "rf3").passing.ret,
        ret(&[(0, F32, v(0)), (4, F32, v(1)), (8, F32, v(2))])
    );
}

#[test]
fn double_and_int_mix_classes_on_x64_and_take_two_x_registers_on_aarch64() {
    assert_eq!(args(X64, "di"), [value(&[(0, F64, v(0)), (8, W, g(0))])]);
    assert_eq!(args(A64, "di"), [value(&[(0, W, g(0)), (8, W, g(1))])]);
    assert_eq!(
        plan(X64, "rdi").passing.ret,
        ret(&[(0, F64, v(0)), (8, W, g(0))])
    );
    assert_eq!(
        plan(A64, "rdi").passing.ret,
        ret(&[(0, W, g(0)), (8, W, g(1))])
    );
}

#[test]
fn twenty_chars_go_to_memory_on_x64_and_by_reference_on_aarch64() {
    let p = plan(X64, "c20");
    assert_eq!(
        p.passing.args,
        [
            int(g(0)),
            value(&[(0, W, s(0)), (8, W, s(8)), (16, W, s(16))]),
            int(g(1)),
        ]
    );
    assert_eq!(p.passing.stack_size, 32);
    let p = plan(A64, "c20");
    assert_eq!(
        p.passing.args,
        [int(g(0)), ArgPassing::Reference(g(1)), int(g(2))]
    );
    assert_eq!(p.passing.stack_size, 0);
    // Results that large are written where a hidden pointer says: rdi on x64 (the
    // arguments move up by one register), x8 on aarch64 (they do not).
    let p = plan(X64, "rc20");
    assert_eq!(
        (p.passing.ret, p.passing.args),
        (RetPassing::Indirect, vec![int(g(1))])
    );
    assert_eq!(p.ret_size, 32);
    let p = plan(A64, "rc20");
    assert_eq!(
        (p.passing.ret, p.passing.args),
        (RetPassing::Indirect, vec![int(g(0))])
    );
    let p = plan(X64, "rc20_many");
    assert_eq!(p.passing.args[4], int(g(5)));
    assert_eq!(p.passing.args[5], int(s(0)));
}

#[test]
fn packed_structs_with_misaligned_members_go_to_memory_on_x64_only() {
    assert_eq!(args(X64, "p5"), [value(&[(0, W, s(0))]), int(g(0))]);
    assert_eq!(args(A64, "p5"), [value(&[(0, W, g(0))]), int(g(1))]);
    assert_eq!(plan(X64, "rp5").passing.ret, RetPassing::Indirect);
    assert_eq!(plan(A64, "rp5").passing.ret, ret(&[(0, W, g(0))]));
}

#[test]
fn unions_merge_their_members_classes() {
    // float|int is INTEGER; float|float[2] is SSE on x64 and an HFA of two on aarch64.
    assert_eq!(
        args(X64, "unions"),
        [value(&[(0, W, g(0))]), value(&[(0, F64, v(0))])]
    );
    assert_eq!(
        args(A64, "unions"),
        [
            value(&[(0, W, g(0))]),
            value(&[(0, F32, v(0)), (4, F32, v(1))])
        ]
    );
}

#[test]
fn complex_numbers_are_floating_point_pairs() {
    assert_eq!(
        args(X64, "cplx"),
        [
            value(&[(0, F64, v(0)), (8, F64, v(1))]),
            value(&[(0, F64, v(2))])
        ]
    );
    assert_eq!(
        args(A64, "cplx"),
        [
            value(&[(0, F64, v(0)), (8, F64, v(1))]),
            value(&[(0, F32, v(2)), (4, F32, v(3))])
        ]
    );
    assert_eq!(plan(X64, "rcf").passing.ret, ret(&[(0, F64, v(0))]));
    assert_eq!(
        plan(A64, "rcf").passing.ret,
        ret(&[(0, F32, v(0)), (4, F32, v(1))])
    );
    assert_eq!(
        plan(A64, "rcd").passing.ret,
        ret(&[(0, F64, v(0)), (8, F64, v(1))])
    );
    // A complex float and a float make an HFA of three.
    assert_eq!(
        args(A64, "cf3"),
        [value(&[(0, F32, v(0)), (4, F32, v(1)), (8, F32, v(2))])]
    );
    assert_eq!(args(X64, "cf3"), [value(&[(0, F64, v(0)), (8, F64, v(1))])]);
}

#[test]
fn an_aggregate_that_does_not_fit_the_registers_left_goes_wholly_to_the_stack() {
    // x64: five ints leave one register, the struct needs two: it goes to the stack
    // and the int after it still takes r9.
    assert_eq!(
        args(X64, "exhaust_x64"),
        [
            int(g(0)),
            int(g(1)),
            int(g(2)),
            int(g(3)),
            int(g(4)),
            value(&[(0, W, s(0)), (8, W, s(8))]),
            int(g(5)),
        ]
    );
    // aarch64: seven ints leave x7; the struct is not split between x7 and the stack,
    // and no later argument takes an x register.
    let a = args(A64, "exhaust_a64");
    assert_eq!(a[6], int(g(6)));
    assert_eq!(a[7], value(&[(0, W, s(0)), (8, W, s(8))]));
    assert_eq!(a[8], int(s(16)));
    let a = args(X64, "exhaust_a64");
    assert_eq!(a[6], int(s(0)));
    assert_eq!(a[7], value(&[(0, W, s(8)), (8, W, s(16))]));
    assert_eq!(a[8], int(s(24)));
}

#[test]
fn sixteen_byte_aligned_composites_start_at_an_even_register_on_aarch64() {
    assert_eq!(
        args(A64, "even"),
        [int(g(0)), value(&[(0, W, g(2)), (8, W, g(3))]), int(g(4))]
    );
    assert_eq!(
        args(X64, "even"),
        [int(g(0)), value(&[(0, W, g(1)), (8, W, g(2))]), int(g(3))]
    );
}

#[test]
fn an_hfa_that_does_not_fit_uses_up_the_vector_registers() {
    let d = |loc| value(&[(0, F64, loc)]);
    let a = args(A64, "hfa_spill");
    assert_eq!(
        a[..6],
        [d(v(0)), d(v(1)), d(v(2)), d(v(3)), d(v(4)), d(v(5))]
    );
    assert_eq!(a[6], value(&[(0, W, s(0)), (8, W, s(8))]));
    assert_eq!(a[7], d(s(16)));
    assert_eq!(a[8], value(&[(0, F32, s(24))]));
    // On x64 the struct's two SSE eightbytes still fit.
    let a = args(X64, "hfa_spill");
    assert_eq!(a[6], value(&[(0, F64, v(6)), (8, F64, v(7))]));
    assert_eq!(a[7], d(s(0)));
    assert_eq!(a[8], value(&[(0, F32, s(8))]));
}

#[test]
fn bitfields_are_integers() {
    assert_eq!(args(X64, "bits"), [value(&[(0, W, g(0))])]);
    assert_eq!(args(A64, "bits"), [value(&[(0, W, g(0))])]);
}

#[test]
fn four_doubles_are_an_hfa_five_are_not() {
    let hfa4 = [
        (0, F64, v(0)),
        (8, F64, v(1)),
        (16, F64, v(2)),
        (24, F64, v(3)),
    ];
    assert_eq!(args(A64, "d4"), [value(&hfa4)]);
    assert_eq!(plan(A64, "rd4").passing.ret, ret(&hfa4));
    assert_eq!(
        args(X64, "d4"),
        [value(&[
            (0, W, s(0)),
            (8, W, s(8)),
            (16, W, s(16)),
            (24, W, s(24))
        ])]
    );
    assert_eq!(plan(X64, "rd4").passing.ret, RetPassing::Indirect);
    assert_eq!(args(A64, "d5"), [ArgPassing::Reference(g(0))]);
    assert_eq!(plan(A64, "rd5").passing.ret, RetPassing::Indirect);
}

#[test]
fn padding_takes_no_register_on_x64_and_breaks_an_hfa() {
    assert_eq!(args(X64, "padf"), [value(&[(0, F64, v(0))])]);
    assert_eq!(args(A64, "padf"), [value(&[(0, W, g(0)), (8, W, g(1))])]);
}

#[test]
fn scalars_keep_their_size_and_signedness() {
    let int = |size, signed| PieceType::Int { size, signed };
    assert_eq!(
        args(X64, "scalars"),
        [
            value(&[(0, int(1, true), g(0))]),
            value(&[(0, int(2, false), g(1))]),
            value(&[(0, int(1, false), g(2))]),
            value(&[(0, F32, v(0))]),
            value(&[(0, F64, v(1))]),
            value(&[(0, W, g(3))]),
            value(&[(0, int(8, true), g(4))]),
        ]
    );
    // `char` is unsigned on aarch64.
    assert_eq!(args(A64, "scalars")[0], value(&[(0, int(1, false), g(0))]));
}

#[test]
fn scalars_beyond_the_registers_take_stack_slots() {
    let a = args(X64, "many");
    assert_eq!(
        (a[5].clone(), a[6].clone(), a[7].clone()),
        (int(g(5)), int(s(0)), int(s(8)))
    );
    assert_eq!(a[15], value(&[(0, F64, v(7))]));
    assert_eq!(a[16], value(&[(0, F64, s(16))]));
    let a = args(A64, "many");
    assert_eq!(a[7], int(g(7)));
    assert_eq!(a[16], value(&[(0, F64, s(0))]));
}

#[test]
fn varargs_are_promoted_and_count_their_vector_registers() {
    let varargs = [
        CTypeId::FLOAT,
        CTypeId::INT8,
        CTypeId::BOOL,
        CTypeId::UINT16,
        CTypeId::DOUBLE,
        CTypeId::P_VOID,
    ];
    let p = try_plan(X64, "varfn", &varargs).unwrap();
    assert!(p.vararg);
    assert_eq!(
        p.arg_types[1..],
        [
            CTypeId::DOUBLE,
            CTypeId::INT32,
            CTypeId::INT32,
            CTypeId::UINT32,
            CTypeId::DOUBLE,
            CTypeId::P_VOID
        ]
    );
    assert_eq!(p.passing.fprs_used, 2);
    assert_eq!(p.passing.args[1], value(&[(0, F64, v(0))]));
    assert_eq!(p.passing.args[2], int(g(1)));
    // Linux aarch64 passes varargs like other arguments.
    let p = try_plan(A64, "varfn", &varargs).unwrap();
    assert_eq!(p.passing.args[5], value(&[(0, F64, v(1))]));
    // A function without `...` takes no extra arguments.
    assert!(try_plan(X64, "f3", &[CTypeId::INT32]).is_err());
}

#[test]
fn argument_and_result_blocks() {
    let p = plan(X64, "layout");
    // char at 0, the aligned struct at 16, the double at 32, 20 chars from 40 (24).
    assert_eq!(p.arg_offsets, [0, 16, 32, 40]);
    assert_eq!(p.args_size, 64);
    assert_eq!((p.ret_type, p.ret_size), (CTypeId::VOID, 16));
    let p = plan(A64, "r8");
    assert_eq!(
        (p.ret_type, p.ret_size, p.args_size),
        (CTypeId::INT8, 16, 0)
    );
    assert_eq!(plan(X64, "rd5").ret_size, 48);
}

#[test]
fn long_double_vectors_and_incomplete_types_are_not_passed() {
    let nyi = Err(CallError::Unsupported(
        "NYI: cannot call this C function (yet)".into(),
    ));
    for target in [X64, A64] {
        for name in ["ld", "rld", "vec", "inc", "vls", "ldstruct", "ld2", "rld2"] {
            if target == X64 && (name == "ld2" || name == "rld2") {
                // Over 16 bytes: plain memory on x64.
                continue;
            }
            let got = try_plan(target, name, &[]).map(|p| p.passing);
            assert_eq!(got, nyi, "{name} on {target:?}");
        }
    }
    assert_eq!(
        args(X64, "ld2"),
        [value(&[
            (0, W, s(0)),
            (8, W, s(8)),
            (16, W, s(16)),
            (24, W, s(24))
        ])]
    );
    assert_eq!(plan(X64, "rld2").passing.ret, RetPassing::Indirect);
}

#[test]
fn calling_conventions_are_ignored_and_function_pointers_are_followed() {
    assert_eq!(args(X64, "stdcall_fn"), [int(g(0))]);
    let p = plan(A64, "callback_ptr");
    assert_eq!(p.passing.args, [int(g(0)), value(&[(0, F64, v(0))])]);
    assert_eq!(p.passing.ret, ret(&[(0, I32, g(0))]));
    assert!(!p.passing.by_value_aggregates);
    assert!(plan(A64, "f3").passing.by_value_aggregates);
}
