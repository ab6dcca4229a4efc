//! The `bit` library, as luajit 2.1 (with its FFI build) has it.
//!
//! Number operands go through `lj_num2bit`: add 2^52+2^51 and keep the low 32 bits of
//! the double (round to nearest, ties to even, modulo 2^32; inf and NaN give 0).
//! Numeric strings are accepted; anything else is "number expected". Results are
//! signed 32-bit integers. Shift counts are converted the same way, then masked to 5 bits.
//!
//! With a cdata number among the operands (the first one for shifts and rotations) the
//! operation works in 64 bits and returns an `int64_t` cdata, or a `uint64_t` one if an
//! operand is a `uint64_t`; numbers are then truncated to 64-bit integers and shift
//! counts masked to 6 bits. `tobit` always returns a number.

use crate::ffi::conv::cannot_convert;
use crate::vm::{LuaResult, State};
use moonjet_ffi::CTypeId;

pub fn open(st: &mut State) -> LuaResult<()> {
    super::new_lib(
        st,
        "bit",
        &[
            ("tobit", tobit),
            ("bnot", bnot),
            ("bswap", bswap),
            ("band", band),
            ("bor", bor),
            ("bxor", bxor),
            ("lshift", lshift),
            ("rshift", rshift),
            ("arshift", arshift),
            ("rol", rol),
            ("ror", ror),
            ("tohex", tohex),
        ],
    )?;
    Ok(())
}

/// 2^52 + 2^51: added to a double, it leaves the integer nearest to it (modulo 2^32) in
/// the low 32 bits (compiled traces do the same).
pub const NUM2BIT_BIAS: f64 = 6755399441055744.0;

/// luajit's `lj_num2bit`.
#[inline(always)]
pub fn num2bit(x: f64) -> i32 {
    (x + NUM2BIT_BIAS).to_bits() as u32 as i32
}

/// Argument `n` converted to a 32-bit integer (luajit's `lj_carith_check64` on a number).
#[inline]
fn check_bit(st: &mut State, n: usize) -> LuaResult<i32> {
    Ok(num2bit(st.check_num(n)?))
}

fn ret(st: &mut State, x: i32) -> LuaResult<u32> {
    st.push_num(f64::from(x))?;
    Ok(1)
}

/// How an operation works: on 32-bit numbers, or in 64 bits on cdata.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Width {
    Bits32,
    Bits64 { unsigned: bool },
}

/// The width of an operation on arguments `args` (any cdata among them makes it 64-bit).
fn width(st: &State, args: std::ops::RangeInclusive<usize>) -> Width {
    let mut w = Width::Bits32;
    for n in args {
        let v = st.arg(n);
        if v.is_cdata() {
            let unsigned = super::ffi::cdata_int64(st, v).is_some_and(|(_, u)| u);
            w = match w {
                Width::Bits64 { unsigned: true } => w,
                _ => Width::Bits64 { unsigned },
            };
        }
    }
    w
}

/// Argument `n` as 64 bits: a cdata number's value, a number truncated.
fn check_bit64(st: &mut State, n: usize) -> LuaResult<u64> {
    let v = st.arg(n);
    if v.is_cdata() {
        return match super::ffi::cdata_int64(st, v) {
            Some((bits, _)) => Ok(bits),
            None => {
                let cts = &st.ffi.ctypes;
                let msg = cannot_convert(cts, &crate::ffi::value_type_name(cts, v), CTypeId::INT64);
                Err(st.arg_error(n, &msg))
            }
        };
    }
    // Numbers convert through int64_t in signed and unsigned operations alike, as in
    // current luajit 2.1 (`band(1ULL, -1)` is 1ULL; the 2022 build converted -1 to
    // uint64_t as 2^63 and gave 0ULL).
    let x = st.check_num(n)?;
    Ok(crate::num::trunc_i64(x) as u64)
}

fn ret64(st: &mut State, bits: u64, unsigned: bool) -> LuaResult<u32> {
    let v = crate::ffi::new_int64(st, bits, unsigned)?;
    st.push(v)?;
    Ok(1)
}

fn tobit(st: &mut State) -> LuaResult<u32> {
    let x = match width(st, 1..=1) {
        Width::Bits32 => check_bit(st, 1)?,
        Width::Bits64 { .. } => check_bit64(st, 1)? as u32 as i32,
    };
    ret(st, x)
}

macro_rules! unary {
    ($($name:ident => $f:expr, $f64:expr;)*) => {$(
        fn $name(st: &mut State) -> LuaResult<u32> {
            if let Width::Bits64 { unsigned } = width(st, 1..=1) {
                let x = check_bit64(st, 1)?;
                let f: fn(u64) -> u64 = $f64;
                return ret64(st, f(x), unsigned);
            }
            let x = check_bit(st, 1)?;
            let f: fn(i32) -> i32 = $f;
            ret(st, f(x))
        }
    )*};
}

unary! {
    bnot => |x| !x, |x| !x;
    bswap => i32::swap_bytes, u64::swap_bytes;
}

macro_rules! fold {
    ($($name:ident => $op:tt;)*) => {$(
        fn $name(st: &mut State) -> LuaResult<u32> {
            if let Width::Bits64 { unsigned } = width(st, 1..=st.nargs().max(1)) {
                let mut y = check_bit64(st, 1)?;
                for i in 2..=st.nargs() {
                    y $op check_bit64(st, i)?;
                }
                return ret64(st, y, unsigned);
            }
            let mut y = check_bit(st, 1)?;
            for i in 2..=st.nargs() {
                y $op check_bit(st, i)?;
            }
            ret(st, y)
        }
    )*};
}

fold! {
    band => &=;
    bor => |=;
    bxor => ^=;
}

macro_rules! shift {
    ($($name:ident => $f:expr, $f64:expr;)*) => {$(
        fn $name(st: &mut State) -> LuaResult<u32> {
            if let Width::Bits64 { unsigned } = width(st, 1..=1) {
                let x = check_bit64(st, 1)?;
                let n = (check_bit64(st, 2)? & 63) as u32;
                let f: fn(u64, u32) -> u64 = $f64;
                return ret64(st, f(x, n), unsigned);
            }
            let x = check_bit(st, 1)?;
            let n = if st.arg(2).is_cdata() {
                check_bit64(st, 2)? as u32 & 31
            } else {
                (check_bit(st, 2)? & 31) as u32
            };
            let f: fn(i32, u32) -> i32 = $f;
            ret(st, f(x, n))
        }
    )*};
}

shift! {
    lshift => |x, n| x << n, |x, n| x << n;
    rshift => |x, n| ((x as u32) >> n) as i32, |x, n| x >> n;
    arshift => |x, n| x >> n, |x, n| ((x as i64) >> n) as u64;
    rol => i32::rotate_left, u64::rotate_left;
    ror => i32::rotate_right, u64::rotate_right;
}

/// `tohex(x [,n])`, including luajit's quirks: `|n|` is taken modulo 2^32 and the
/// precision field keeps only `(|n|+1) & 255` (so `n = 255` means "as many digits as
/// needed", and `n = 256` means "none for zero"); the value is masked to `4*|n|` bits
/// only for `|n| < 16` (and to nothing for `n = -2^31`).
fn tohex(st: &mut State) -> LuaResult<u32> {
    if let Width::Bits64 { .. } = width(st, 1..=1) {
        return tohex64(st);
    }
    let mut b = check_bit(st, 1)? as u32 as u64;
    let mut n = if st.nargs() >= 2 {
        check_bit(st, 2)?
    } else {
        8
    };
    let upper = n < 0;
    if upper {
        n = n.wrapping_neg();
    }
    let prec = ((n.wrapping_add(1)) & 255) - 1; // -1: the default precision.
    if n < 16 {
        let sh = (n.wrapping_mul(4) & 63) as u32;
        b &= (1u64 << sh) - 1;
    }
    let digits = if b == 0 {
        if prec != 0 {
            "0".to_string()
        } else {
            String::new()
        }
    } else if upper {
        format!("{b:X}")
    } else {
        format!("{b:x}")
    };
    let pad = (prec.max(0) as usize).saturating_sub(digits.len());
    let mut out = Vec::with_capacity(pad + digits.len());
    out.resize(pad, b'0');
    out.extend_from_slice(digits.as_bytes());
    st.push_bytes(&out)?;
    Ok(1)
}

/// `tohex` of a 64-bit cdata: 16 digits by default; `|n|` digits (masked below 16,
/// zero-padded above), upper case for negative `n`.
fn tohex64(st: &mut State) -> LuaResult<u32> {
    let mut b = check_bit64(st, 1)?;
    let n = if st.nargs() >= 2 {
        check_bit64(st, 2)? as i64
    } else {
        16
    };
    let upper = n < 0;
    let digits = n.unsigned_abs().min(255) as usize;
    if digits < 16 {
        b &= (1u64 << (4 * digits)) - 1;
    }
    let hex = if upper {
        format!("{b:0digits$X}")
    } else {
        format!("{b:0digits$x}")
    };
    let start = hex.len().saturating_sub(digits.max(1));
    let out = if digits == 0 { "" } else { &hex[start..] };
    st.push_bytes(out.as_bytes())?;
    Ok(1)
}
