//! The math library, as luajit 2.1 on x86-64 has it.
//!
//! Results follow luajit's machine code rather than C's `<math.h>` where the two differ:
//! `min`/`max` fold with `minsd`/`maxsd` (a NaN or a tie yields the later operand),
//! `ldexp` is the x87 `fscale` (the exponent truncated toward zero, one rounding),
//! `log(x, b)` is `log2(x) * (1 / log2(b))`, and `deg`/`rad` are luajit's Lua functions
//! `x * k` (with string coercion, `__mul`, and their own error text).

use crate::vm::interp::{self, ArithOp, Got};
use crate::vm::{LuaResult, State};
use moonjet_gc::TValue;

pub fn open(st: &mut State) -> LuaResult<()> {
    let t = super::new_lib(
        st,
        "math",
        &[
            ("abs", abs),
            ("floor", floor),
            ("ceil", ceil),
            ("sqrt", sqrt),
            ("log10", log10),
            ("exp", exp),
            ("sin", sin),
            ("cos", cos),
            ("tan", tan),
            ("asin", asin),
            ("acos", acos),
            ("atan", atan),
            ("sinh", sinh),
            ("cosh", cosh),
            ("tanh", tanh),
            ("frexp", frexp),
            ("modf", modf),
            ("log", log),
            ("deg", deg),
            ("rad", rad),
            ("atan2", atan2),
            ("pow", pow),
            ("fmod", fmod),
            ("ldexp", ldexp),
            ("min", min),
            ("max", max),
            ("random", random),
            ("randomseed", randomseed),
        ],
    )?;
    st.push(TValue::from_tab(t))?;
    st.raw_set_str(t, b"pi", TValue::from_f64(std::f64::consts::PI))?;
    st.raw_set_str(t, b"huge", TValue::from_f64(f64::INFINITY))?;
    st.pop(1);
    Ok(())
}

const TWO52: f64 = 4503599627370496.0;

/// luajit's `lj_vm_floor` (the interpreter's SSE2 rounding): round `|x|` to an integer
/// by adding and subtracting 2^52, put the sign of `x` back, then step down by one if
/// that overshot. No libm call; `floor(-0.0)` is -0.
#[inline(always)]
pub fn lj_floor(x: f64) -> f64 {
    let ax = x.abs();
    if ax < TWO52 {
        let r = ((ax + TWO52) - TWO52).copysign(x);
        if x < r {
            r - 1.0
        } else {
            r
        }
    } else {
        x // Integral already, or inf/NaN.
    }
}

/// luajit's `lj_vm_ceil`, the same rounding stepped up by subtracting -1. Its zero
/// signs are luajit's: `ceil(-0.5)` is -0 but `ceil(-0.9)` is +0 (-1 - -1).
#[inline(always)]
pub fn lj_ceil(x: f64) -> f64 {
    let ax = x.abs();
    if ax < TWO52 {
        let r = ((ax + TWO52) - TWO52).copysign(x);
        if x > r {
            r - (-1.0)
        } else {
            r
        }
    } else {
        x
    }
}

macro_rules! unary {
    ($($name:ident => $f:expr;)*) => {$(
        fn $name(st: &mut State) -> LuaResult<u32> {
            let x = st.check_num(1)?;
            let f: fn(f64) -> f64 = $f;
            st.push_num(f(x))?;
            Ok(1)
        }
    )*};
}

unary! {
    abs => f64::abs;
    floor => lj_floor;
    ceil => lj_ceil;
    sqrt => f64::sqrt;
    log10 => f64::log10;
    exp => f64::exp;
    sin => f64::sin;
    cos => f64::cos;
    tan => f64::tan;
    asin => f64::asin;
    acos => f64::acos;
    atan => f64::atan;
    sinh => f64::sinh;
    cosh => f64::cosh;
    tanh => f64::tanh;
}

fn log(st: &mut State) -> LuaResult<u32> {
    let x = st.check_num(1)?;
    let r = if st.nargs() >= 2 {
        let b = st.check_num(2)?;
        // Not x / y: luajit multiplies by the reciprocal.
        x.log2() * (1.0 / b.log2())
    } else {
        x.ln()
    };
    st.push_num(r)?;
    Ok(1)
}

fn atan2(st: &mut State) -> LuaResult<u32> {
    let y = st.check_num(1)?;
    let x = st.check_num(2)?;
    st.push_num(y.atan2(x))?;
    Ok(1)
}

fn pow(st: &mut State) -> LuaResult<u32> {
    let x = st.check_num(1)?;
    let y = st.check_num(2)?;
    st.push_num(x.powf(y))?;
    Ok(1)
}

fn fmod(st: &mut State) -> LuaResult<u32> {
    let x = st.check_num(1)?;
    let y = st.check_num(2)?;
    st.push_num(x % y)?;
    Ok(1)
}

fn modf(st: &mut State) -> LuaResult<u32> {
    let x = st.check_num(1)?;
    let (i, f) = if x.is_infinite() {
        (x, 0.0f64.copysign(x))
    } else {
        let i = x.trunc();
        // C's modf: the fraction has the sign of x (modf(-5) is -5, -0).
        (i, (x - i).copysign(x))
    };
    st.push_num(i)?;
    st.push_num(f)?;
    Ok(2)
}

/// C's `frexp`: `x = m * 2^e` with `0.5 <= |m| < 1`; zero, inf and NaN give `(x, 0)`.
pub fn frexp_f64(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let (x, adj) = if x.abs() < f64::MIN_POSITIVE {
        (x * 18014398509481984.0, -54) // Subnormal: scale by 2^54 first.
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i32 - 1022;
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, e + adj)
}

fn frexp(st: &mut State) -> LuaResult<u32> {
    let x = st.check_num(1)?;
    let (m, e) = frexp_f64(x);
    st.push_num(m)?;
    st.push_num(e as f64)?;
    Ok(2)
}

/// `x * 2^n`, correctly rounded (musl's `scalbn`).
fn scalbn(mut x: f64, mut n: i32) -> f64 {
    let p1023 = f64::from_bits(0x7fe0_0000_0000_0000); // 2^1023
    let pm969 = f64::from_bits(0x0360_0000_0000_0000); // 2^-1022 * 2^53
    if n > 1023 {
        x *= p1023;
        n -= 1023;
        if n > 1023 {
            x *= p1023;
            n -= 1023;
            if n > 1023 {
                n = 1023;
            }
        }
    } else if n < -1022 {
        // Scale by 2^-1022 * 2^53 so the final multiply rounds once into the subnormals.
        x *= pm969;
        n += 1022 - 53;
        if n < -1022 {
            x *= pm969;
            n += 1022 - 53;
            if n < -1022 {
                n = -1022;
            }
        }
    }
    x * f64::from_bits(((0x3ff + n) as u64) << 52)
}

/// luajit's `ldexp` on x86-64, the x87 `fscale`: `x * 2^trunc(e)`, with fscale's
/// results for infinite and NaN exponents.
pub fn lj_ldexp(x: f64, e: f64) -> f64 {
    if x.is_nan() || e.is_nan() {
        return f64::NAN;
    }
    if e.is_infinite() {
        return if e > 0.0 {
            if x == 0.0 {
                f64::NAN
            } else {
                x * f64::INFINITY
            }
        } else if x.is_infinite() {
            f64::NAN
        } else {
            x * 0.0
        };
    }
    // Past +-2200 every finite x has overflowed or underflowed already.
    let n = e.trunc().clamp(-4000.0, 4000.0) as i32;
    scalbn(x, n)
}

fn ldexp(st: &mut State) -> LuaResult<u32> {
    let x = st.check_num(1)?;
    let e = st.check_num(2)?;
    st.push_num(lj_ldexp(x, e))?;
    Ok(1)
}

fn min(st: &mut State) -> LuaResult<u32> {
    let mut acc = st.check_num(1)?;
    let n = st.nargs();
    for i in 2..=n {
        let x = st.check_num(i)?;
        // minsd: the second operand unless the first is strictly less.
        acc = if acc < x { acc } else { x };
    }
    st.push_num(acc)?;
    Ok(1)
}

fn max(st: &mut State) -> LuaResult<u32> {
    let mut acc = st.check_num(1)?;
    let n = st.nargs();
    for i in 2..=n {
        let x = st.check_num(i)?;
        // maxsd: the second operand unless the first is strictly greater.
        acc = if acc > x { acc } else { x };
    }
    st.push_num(acc)?;
    Ok(1)
}

/// luajit's `deg`/`rad`: `function(x) return x * k end`, compiled without debug info.
fn mul_const(st: &mut State, k: f64, name: &str) -> LuaResult<u32> {
    let x = st.arg(1);
    if x.is_number() {
        st.push_num(x.num() * k)?;
        return Ok(1);
    }
    let kv = TValue::from_f64(k);
    match interp::arith_resolve(st, ArithOp::Mul, x, kv) {
        Ok(Got::Value(v)) => st.push(v)?,
        Ok(Got::Meta(mm, _)) => {
            let v = st.call_value(mm, &[x, kv])?;
            st.push(v)?;
        }
        Err(_) => {
            let msg = format!(
                "[builtin:{name}]:0: attempt to perform arithmetic on a {} value",
                crate::vm::state::type_name(x)
            );
            return Err(st.throw_str(&msg));
        }
    }
    Ok(1)
}

fn deg(st: &mut State) -> LuaResult<u32> {
    mul_const(st, 57.29577951308232, "deg")
}

fn rad(st: &mut State) -> LuaResult<u32> {
    mul_const(st, 0.017453292519943295, "rad")
}

fn random(st: &mut State) -> LuaResult<u32> {
    // The generator steps before the arguments are checked, as luajit's does.
    let d = st.prng.next_f64();
    let n = st.nargs();
    let r = if n == 0 {
        d
    } else {
        let r1 = st.check_num(1)?;
        if n == 1 {
            lj_floor(d * r1) + 1.0
        } else {
            let r2 = st.check_num(2)?;
            lj_floor(d * (r2 - r1 + 1.0)) + r1
        }
    };
    st.push_num(r)?;
    Ok(1)
}

fn randomseed(st: &mut State) -> LuaResult<u32> {
    let x = st.check_num(1)?;
    st.prng.seed(x);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(x: f64) -> u64 {
        x.to_bits()
    }

    #[test]
    fn floor_ceil_match_luajit_interpreter() {
        // (x, floor, ceil) as `luajit -joff` computes them, zero signs included.
        let cases = [
            (-0.0, -0.0, -0.0),
            (0.0, 0.0, 0.0),
            (-0.5, -1.0, -0.0),
            (-0.9, -1.0, 0.0), // lj_vm_ceil: -1 - -1 = +0
            (0.3, 0.0, 1.0),
            (0.7, 0.0, 1.0),
            (-3.5, -4.0, -3.0),
            (3.7, 3.0, 4.0),
            (4503599627370495.5, 4503599627370495.0, 4503599627370496.0),
            (
                -4503599627370495.5,
                -4503599627370496.0,
                -4503599627370495.0,
            ),
            (1e300, 1e300, 1e300),
            (f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY),
        ];
        for (x, f, c) in cases {
            assert_eq!(bits(lj_floor(x)), bits(f), "floor({x})");
            assert_eq!(bits(lj_ceil(x)), bits(c), "ceil({x})");
        }
        assert!(lj_floor(f64::NAN).is_nan() && lj_ceil(f64::NAN).is_nan());
    }

    #[test]
    fn ldexp_is_fscale() {
        assert_eq!(lj_ldexp(1.0, 2.9), 4.0);
        assert_eq!(lj_ldexp(1.0, -2.5), 0.25);
        // One rounding into the subnormals (ties to even).
        assert_eq!(lj_ldexp(3.0, -1075.0), 2.0 * 5e-324);
        assert_eq!(lj_ldexp(2.5, -1074.0), 2.0 * 5e-324);
        assert_eq!(lj_ldexp(5e-324, 2000.0), 2f64.powi(926));
        assert_eq!(lj_ldexp(1e308, -2100.0), 0.0);
        assert_eq!(lj_ldexp(1.0, 1e300), f64::INFINITY);
        assert!(lj_ldexp(0.0, f64::INFINITY).is_nan());
        assert!(lj_ldexp(f64::INFINITY, f64::NEG_INFINITY).is_nan());
        assert_eq!(
            lj_ldexp(-1.0, f64::NEG_INFINITY).to_bits(),
            (-0.0f64).to_bits()
        );
        assert!(lj_ldexp(1.0, f64::NAN).is_nan());
    }

    #[test]
    fn frexp_like_c() {
        assert_eq!(frexp_f64(8.0), (0.5, 4));
        assert_eq!(frexp_f64(-3.0), (-0.75, 2));
        assert_eq!(frexp_f64(5e-324), (0.5, -1073));
        assert_eq!(frexp_f64(f64::INFINITY), (f64::INFINITY, 0));
        assert_eq!(bits(frexp_f64(-0.0).0), bits(-0.0));
        let (m, e) = frexp_f64(0.1);
        assert_eq!((m, e), (0.8, -3));
    }
}
