//! The `bit` library, as luajit 2.1 (with its FFI build) has it, minus 64-bit cdata.
//!
//! Every operand goes through `lj_num2bit`: add 2^52+2^51 and keep the low 32 bits of
//! the double (round to nearest, ties to even, modulo 2^32; inf and NaN give 0).
//! Numeric strings are accepted; anything else is "number expected". Results are
//! signed 32-bit integers. Shift counts are converted the same way, then masked to 5 bits.

use crate::vm::{LuaResult, State};

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

macro_rules! unary {
    ($($name:ident => $f:expr;)*) => {$(
        fn $name(st: &mut State) -> LuaResult<u32> {
            let x = check_bit(st, 1)?;
            let f: fn(i32) -> i32 = $f;
            ret(st, f(x))
        }
    )*};
}

unary! {
    tobit => |x| x;
    bnot => |x| !x;
    bswap => i32::swap_bytes;
}

macro_rules! fold {
    ($($name:ident => $op:tt;)*) => {$(
        fn $name(st: &mut State) -> LuaResult<u32> {
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
    ($($name:ident => $f:expr;)*) => {$(
        fn $name(st: &mut State) -> LuaResult<u32> {
            let x = check_bit(st, 1)?;
            let n = (check_bit(st, 2)? & 31) as u32;
            let f: fn(i32, u32) -> i32 = $f;
            ret(st, f(x, n))
        }
    )*};
}

shift! {
    lshift => |x, n| x << n;
    rshift => |x, n| ((x as u32) >> n) as i32;
    arshift => |x, n| x >> n;
    rol => i32::rotate_left;
    ror => i32::rotate_right;
}

/// `tohex(x [,n])`, including luajit's quirks: `|n|` is taken modulo 2^32 and the
/// precision field keeps only `(|n|+1) & 255` (so `n = 255` means "as many digits as
/// needed", and `n = 256` means "none for zero"); the value is masked to `4*|n|` bits
/// only for `|n| < 16` (and to nothing for `n = -2^31`).
fn tohex(st: &mut State) -> LuaResult<u32> {
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
