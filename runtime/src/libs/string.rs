//! The string library, as luajit 2.1 has it: `byte char dump find format gmatch gsub
//! len lower match rep reverse sub upper`, and the string metatable (`__index =
//! string`) that makes `("x"):rep(3)` work.
//!
//! Integer arguments are converted the way luajit's `lj_lib_checkint` does it: the
//! double truncated to 32 bits as x86's `cvttsd2si` does, so NaN and anything out of
//! range become -2^31 (`("abc"):sub(2^32)` is "abc"). `gsub`'s count goes through the
//! Lua 5.1 C API instead (a 64-bit truncation cut to 32 bits).
//!
//! Results are built in the state's scratch buffer, which is taken out of the state
//! while in use so that Lua code called back (`gsub` replacement functions,
//! `__tostring` in `format`) can use it too; steady state there is no allocation
//! besides the result string.

use super::new_lib;
use crate::strfmt::{self, Spec};
use crate::strpat::{self, CapValue, Matcher, PatError};
use crate::vm::state::{type_index, type_name};
use crate::vm::{interp, LuaResult, State};
use moonjet_gc::object::ffid;
use moonjet_gc::value::itype;
use moonjet_gc::{GcFunc, GcStr, GcUdata, MetaMethod, TValue};

/// luajit's longest string (`LJ_MAX_STR`): longer results are "not enough memory".
const MAX_STR: u64 = 0x7fff_ff00;
/// Most values `string.byte` returns at once (`LUAI_MAXCSTACK`).
const MAX_BYTE_RESULTS: i64 = 8000;
/// Scratch buffers larger than this are freed after use instead of kept.
const KEEP_BUF: usize = 1 << 20;

pub fn open(st: &mut State) -> LuaResult<()> {
    let t = new_lib(
        st,
        "string",
        &[
            ("byte", byte),
            ("char", char),
            ("dump", dump),
            ("find", find),
            ("format", format),
            ("gmatch", gmatch),
            ("gsub", gsub),
            ("len", len),
            ("lower", lower),
            ("match", match_),
            ("rep", rep),
            ("reverse", reverse),
            ("sub", sub),
            ("upper", upper),
        ],
    )?;
    // The metatable of all strings: { __index = string }.
    let mt = st.new_table(0, 1)?;
    st.push(TValue::from_tab(mt))?;
    st.raw_set_str(mt, b"__index", TValue::from_tab(t))?;
    let any = st.new_str(b"")?;
    st.set_type_metatable(type_index(any), mt);
    st.pop(1);
    Ok(())
}

// ---- helpers ------------------------------------------------------------------------------

/// The bytes of a string that stays reachable (an argument slot or an upvalue) for as
/// long as the slice is used. Strings never move, so the slice survives allocations
/// and calls back into Lua.
#[inline(always)]
fn bytes<'a>(s: *mut GcStr) -> &'a [u8] {
    // SAFETY: callers only pass strings held in argument slots or upvalues of the
    // running native, which keep them alive until it returns.
    unsafe { GcStr::bytes(s) }
}

/// The scratch buffer, taken out of the state (empty).
#[inline(always)]
fn take_buf(st: &mut State) -> Vec<u8> {
    let mut b = std::mem::take(&mut st.buf);
    b.clear();
    b
}

/// Give a scratch buffer back to the state (a nested user may have left a better one).
#[inline(always)]
fn restore_buf(st: &mut State, mut b: Vec<u8>) {
    if b.capacity() > KEEP_BUF {
        return;
    }
    if b.capacity() >= st.buf.capacity() {
        b.clear();
        st.buf = b;
    }
}

/// Push `b` as a string and give the buffer back.
#[inline(always)]
fn push_and_restore(st: &mut State, b: Vec<u8>) -> LuaResult<()> {
    let r = st.push_bytes(&b);
    restore_buf(st, b);
    r
}

fn pat_error(st: &mut State, e: PatError) -> crate::vm::Throw {
    st.rt_error(e.0)
}

// ---- len, sub, byte, char, rep, reverse, lower, upper ---------------------------------------

fn len(st: &mut State) -> LuaResult<u32> {
    let s = st.check_str(1)?;
    // SAFETY: live string argument.
    let n = unsafe { (*s).len };
    st.push_num(n as f64)?;
    Ok(1)
}

fn sub(st: &mut State) -> LuaResult<u32> {
    let s = st.check_str(1)?;
    let start = st.check_int(2)? as i64;
    let end = st.opt_int(3, -1)? as i64;
    let b = bytes(s);
    let len = b.len() as i64;
    let end = if end < 0 {
        end + len + 1
    } else if end > len {
        len
    } else {
        end
    };
    let start = if start < 0 { start + len + 1 } else { start }.max(1);
    if start > end {
        st.push_bytes(b"")?;
    } else if start == 1 && end == len {
        st.push(TValue::from_gcstr(s))?;
    } else {
        st.push_bytes(&b[start as usize - 1..end as usize])?;
    }
    Ok(1)
}

fn byte(st: &mut State) -> LuaResult<u32> {
    let s = st.check_str(1)?;
    let start = st.opt_int(2, 1)?;
    let stop = st.opt_int(3, start)? as i64;
    let start = start as i64;
    let b = bytes(s);
    let len = b.len() as i64;
    let stop = if stop < 0 { stop + len + 1 } else { stop }.min(len);
    let start = if start < 0 { start + len + 1 } else { start }.max(1);
    if start > stop {
        return Ok(0);
    }
    let n = stop - start + 1;
    if n > MAX_BYTE_RESULTS {
        return Err(st.rt_error("string slice too long"));
    }
    st.check_stack(n as usize)?;
    for &c in &b[start as usize - 1..stop as usize] {
        st.push_num(c as f64)?;
    }
    Ok(n as u32)
}

fn char(st: &mut State) -> LuaResult<u32> {
    let n = st.nargs();
    st.buf.clear();
    for i in 1..=n {
        let k = st.check_int(i)?;
        if !(0..=255).contains(&k) {
            return Err(st.arg_error(i, "invalid value"));
        }
        st.buf.push(k as u8);
    }
    st.push_buf()?;
    Ok(1)
}

fn rep(st: &mut State) -> LuaResult<u32> {
    let s = st.check_str(1)?;
    let n = st.check_int(2)?;
    let sep = st.opt_str(3)?;
    let sb = bytes(s);
    let sepb: &[u8] = match sep {
        Some(p) if n > 1 => bytes(p),
        _ => b"",
    };
    if n <= 0 || (sb.is_empty() && sepb.is_empty()) {
        st.push_bytes(b"")?;
        return Ok(1);
    }
    if n == 1 {
        st.push(TValue::from_gcstr(s))?;
        return Ok(1);
    }
    let n = n as u64;
    let unit = (sepb.len() + sb.len()) as u64;
    let total = sb.len() as u64 + (n - 1) * unit;
    if (n - 1) * unit > MAX_STR || total > MAX_STR {
        return Err(st.memory_error());
    }
    let total = total as usize;
    let mut b = take_buf(st);
    if b.try_reserve_exact(total).is_err() {
        return Err(st.memory_error());
    }
    b.extend_from_slice(sb);
    if total <= 64 || unit as usize > total / 4 {
        for _ in 1..n {
            b.extend_from_slice(sepb);
            b.extend_from_slice(sb);
        }
    } else {
        // Build one "sep..s" unit, then double what is there.
        b.extend_from_slice(sepb);
        b.extend_from_slice(sb);
        let first = sb.len();
        while b.len() < total {
            let have = b.len() - first;
            let want = (total - b.len()).min(have);
            b.extend_from_within(first..first + want);
        }
    }
    debug_assert_eq!(b.len(), total);
    push_and_restore(st, b)?;
    Ok(1)
}

fn reverse(st: &mut State) -> LuaResult<u32> {
    let s = st.check_str(1)?;
    let sb = bytes(s);
    let mut b = take_buf(st);
    b.extend(sb.iter().rev());
    push_and_restore(st, b)?;
    Ok(1)
}

fn lower(st: &mut State) -> LuaResult<u32> {
    let s = st.check_str(1)?;
    let sb = bytes(s);
    let mut b = take_buf(st);
    b.extend(sb.iter().map(u8::to_ascii_lowercase));
    push_and_restore(st, b)?;
    Ok(1)
}

fn upper(st: &mut State) -> LuaResult<u32> {
    let s = st.check_str(1)?;
    let sb = bytes(s);
    let mut b = take_buf(st);
    b.extend(sb.iter().map(u8::to_ascii_uppercase));
    push_and_restore(st, b)?;
    Ok(1)
}

// ---- find, match, gmatch, gsub --------------------------------------------------------------

/// Push one capture value.
#[inline]
fn push_capture(st: &mut State, c: CapValue) -> LuaResult<()> {
    match c {
        CapValue::Str(b) => st.push_bytes(b),
        CapValue::Pos(p) => st.push_num(p as f64),
    }
}

/// Push the captures of the last match (the whole match `whole` when the pattern has
/// none and `whole` is given); returns how many.
fn push_captures(st: &mut State, m: &Matcher, whole: Option<(usize, usize)>) -> LuaResult<u32> {
    let level = m.capture_count();
    let (n, s, e) = match whole {
        Some((s, e)) => (level.max(1), s, e),
        None => (level, 0, 0),
    };
    st.check_stack(n)?;
    for i in 0..n {
        match m.capture(i, s, e) {
            Ok(c) => push_capture(st, c)?,
            Err(err) => return Err(pat_error(st, err)),
        }
    }
    Ok(n as u32)
}

/// `string.find` and `string.match` (luajit's `str_find_aux`).
fn find_aux(st: &mut State, find: bool) -> LuaResult<u32> {
    let s = st.check_str(1)?;
    let p = st.check_str(2)?;
    let init = st.opt_int(3, 1)? as i64;
    let sb = bytes(s);
    let pb = bytes(p);
    let len = sb.len() as i64;
    let start = if init < 0 { init + len } else { init - 1 }.clamp(0, len) as usize;
    if find && (st.arg(4).is_truthy() || strpat::is_plain(pb)) {
        return match strpat::find_plain(sb, pb, start) {
            Some(i) => {
                st.push_num((i + 1) as f64)?;
                st.push_num((i + pb.len()) as f64)?;
                Ok(2)
            }
            None => {
                st.push_nil()?;
                Ok(1)
            }
        };
    }
    let mut m = Matcher::new(sb, pb);
    match strpat::find(&mut m, start) {
        Err(e) => Err(pat_error(st, e)),
        Ok(None) => {
            st.push_nil()?;
            Ok(1)
        }
        Ok(Some((s0, e0))) => {
            if find {
                st.push_num((s0 + 1) as f64)?;
                st.push_num(e0 as f64)?;
                Ok(2 + push_captures(st, &m, None)?)
            } else {
                push_captures(st, &m, Some((s0, e0)))
            }
        }
    }
}

fn find(st: &mut State) -> LuaResult<u32> {
    find_aux(st, true)
}

fn match_(st: &mut State) -> LuaResult<u32> {
    find_aux(st, false)
}

fn gmatch(st: &mut State) -> LuaResult<u32> {
    st.check_str(1)?;
    st.check_str(2)?;
    let (s, p) = (st.arg(1), st.arg(2));
    st.push_native_ff(gmatch_aux, 86, 3)?;
    st.set_upvalue_of_top(0, s);
    st.set_upvalue_of_top(1, p);
    st.set_upvalue_of_top(2, TValue::from_f64(0.0));
    Ok(1)
}

/// The iterator `gmatch` returns; upvalues: subject, pattern, next position.
fn gmatch_aux(st: &mut State) -> LuaResult<u32> {
    let s = st.native_upvalue(0).gc_ptr().cast::<GcStr>();
    let p = st.native_upvalue(1).gc_ptr().cast::<GcStr>();
    let pos = st.native_upvalue(2).num() as usize;
    let sb = bytes(s);
    let pb = bytes(p);
    let mut m = Matcher::new(sb, pb);
    // A leading '^' is a literal here, as in luajit.
    match strpat::scan(&mut m, pos, 0) {
        Err(e) => Err(pat_error(st, e)),
        Ok(None) => Ok(0),
        Ok(Some((s0, e0))) => {
            // An empty match moves on by one so the loop ends.
            let next = if e0 == s0 { e0 + 1 } else { e0 };
            st.set_native_upvalue(2, TValue::from_f64(next as f64));
            push_captures(st, &m, Some((s0, e0)))
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Repl {
    Str,
    Func,
    Tab,
}

fn gsub(st: &mut State) -> LuaResult<u32> {
    let s = st.check_str(1)?;
    let p = st.check_str(2)?;
    let repl = st.arg(3);
    let sb = bytes(s);
    let max_n: i64 = if st.arg(4).is_nil() {
        sb.len() as i64 + 1
    } else {
        // luaL_optint: lua_tointeger (a 64-bit truncation) cut to an int.
        let x = st.check_num(4)?;
        let k = if (-9223372036854775808.0..9223372036854775808.0).contains(&x) {
            x as i64
        } else {
            i64::MIN
        };
        k as i32 as i64
    };
    let kind = if repl.is_str() || repl.is_number() {
        Repl::Str
    } else if repl.is_func() {
        Repl::Func
    } else if repl.is_tab() {
        Repl::Tab
    } else {
        return Err(st.arg_error(3, "string/function/table expected"));
    };
    let rb: &[u8] = if kind == Repl::Str {
        bytes(st.check_str(3)?)
    } else {
        b""
    };
    let repl = st.arg(3);
    let pb = bytes(p);
    let anchor = pb.first() == Some(&b'^');
    let ps = anchor as usize;
    // Without an anchor, positions not holding the pattern's leading literal (if it
    // has one) cannot match: they are copied over in one go.
    let lead = if anchor {
        None
    } else {
        strpat::lead_literal(pb, ps)
    };
    let mut m = Matcher::new(sb, pb);
    let mut b = take_buf(st);
    let len = sb.len();
    let mut src = 0usize;
    let mut n: i64 = 0;
    while n < max_n {
        let e = match m.match_at(src, ps) {
            Ok(e) => e,
            Err(err) => return Err(pat_error(st, err)),
        };
        if let Some(e) = e {
            n += 1;
            match kind {
                Repl::Str => {
                    if let Err(err) = strpat::expand_replacement(&m, rb, src, e, &mut b) {
                        return Err(pat_error(st, err));
                    }
                }
                _ => add_value(st, &m, &mut b, src, e, kind, repl)?,
            }
        }
        match e {
            Some(e) if e > src => src = e,
            _ if src < len => match lead {
                Some(c) if e.is_none() => match strpat::memchr(c, &sb[src + 1..]) {
                    Some(off) => {
                        b.extend_from_slice(&sb[src..src + 1 + off]);
                        src += 1 + off;
                    }
                    // No match is left (the end cannot match a literal either):
                    // the rest is copied below.
                    None => break,
                },
                _ => {
                    b.push(sb[src]);
                    src += 1;
                }
            },
            _ => break,
        }
        if anchor {
            break;
        }
    }
    b.extend_from_slice(&sb[src..]);
    push_and_restore(st, b)?;
    st.push_num(n as f64)?;
    Ok(2)
}

/// A function or table replacement for the match `src..e` (luajit's `add_value`).
fn add_value(
    st: &mut State,
    m: &Matcher,
    b: &mut Vec<u8>,
    s: usize,
    e: usize,
    kind: Repl,
    repl: TValue,
) -> LuaResult<()> {
    let v = if kind == Repl::Func {
        st.check_stack(strpat::MAX_CAPTURES + 2)?;
        st.push(repl)?;
        let n = push_captures(st, m, Some((s, e)))?;
        st.call(n as usize, 1)?;
        // SAFETY: the call left one result on top.
        let v = unsafe { *st.top().sub(1) };
        st.pop(1);
        v
    } else {
        let key = match m.capture(0, s, e) {
            Ok(c) => c,
            Err(err) => return Err(pat_error(st, err)),
        };
        push_capture(st, key)?;
        // SAFETY: just pushed.
        let k = unsafe { *st.top().sub(1) };
        let v = interp::index(st, repl, k)?;
        st.pop(1);
        v
    };
    // `v` is used before anything else is allocated.
    if !v.is_truthy() {
        b.extend_from_slice(&m.src()[s..e]);
    } else if let Some(vs) = v.as_str() {
        b.extend_from_slice(bytes(vs));
    } else if v.is_number() {
        crate::num::push_num(b, v.num());
    } else {
        let msg = format!("invalid replacement value (a {})", type_name(v));
        return Err(st.rt_error(&msg));
    }
    Ok(())
}

// ---- format ---------------------------------------------------------------------------------

fn format(st: &mut State) -> LuaResult<u32> {
    let f = st.check_str(1)?;
    let fb = bytes(f);
    let mut b = take_buf(st);
    let mut arg = 1usize;
    let mut i = 0usize;
    loop {
        let Some(k) = fb[i..].iter().position(|&c| c == b'%') else {
            b.extend_from_slice(&fb[i..]);
            break;
        };
        b.extend_from_slice(&fb[i..i + k]);
        i += k + 1;
        let c = fb.get(i).copied().unwrap_or(0);
        let spec = if matches!(
            c,
            b's' | b'd' | b'x' | b'g' | b'f' | b'c' | b'q' | b'i' | b'%'
        ) {
            // A bare conversion (the common case) needs no parsing.
            i += 1;
            Spec {
                conv: c,
                ..Spec::default()
            }
        } else {
            match strfmt::parse_spec(fb, i) {
                Ok((spec, next)) => {
                    i = next;
                    spec
                }
                Err(msg) => return Err(st.rt_error(&msg)),
            }
        };
        if spec.conv == b'%' {
            b.push(b'%');
            continue;
        }
        arg += 1;
        if arg > st.nargs() {
            return Err(st.arg_error(arg, "value expected"));
        }
        match spec.conv {
            b'd' | b'i' if int64_arg(st, arg).is_some() => {
                let k = int64_arg(st, arg).unwrap_or(0);
                strfmt::fmt_i64(&mut b, &spec, k as i64);
            }
            b'o' | b'u' | b'x' | b'X' if int64_arg(st, arg).is_some() => {
                let k = int64_arg(st, arg).unwrap_or(0);
                strfmt::fmt_u64(&mut b, &spec, k);
            }
            b'd' | b'i' => {
                let x = st.check_num(arg)?;
                if spec == PLAIN_D && x.fract() == 0.0 && x.abs() < 1e15 {
                    if x < 0.0 {
                        b.push(b'-');
                    }
                    crate::num::push_u64(&mut b, x.abs() as u64);
                } else {
                    strfmt::fmt_int(&mut b, &spec, x);
                }
            }
            b'o' | b'u' | b'x' | b'X' => {
                let x = st.check_num(arg)?;
                strfmt::fmt_uint(&mut b, &spec, x);
            }
            b'c' => {
                let x = st.check_int(arg)?;
                strfmt::fmt_char(&mut b, &spec, x as f64);
            }
            b's' | b'q' => {
                let v = st.arg(arg);
                if let Some(s) = v.as_str() {
                    if spec == PLAIN_S {
                        b.extend_from_slice(bytes(s));
                    } else if spec.conv == b'q' {
                        strfmt::fmt_quoted(&mut b, bytes(s));
                    } else {
                        strfmt::fmt_str(&mut b, &spec, bytes(s));
                    }
                } else {
                    let start = b.len();
                    obj_text(st, arg, &mut b)?;
                    if spec.conv == b'q' || spec.width != 0 || spec.precision.is_some() {
                        // Re-format the text just written under the spec.
                        let text = b.split_off(start);
                        if spec.conv == b'q' {
                            strfmt::fmt_quoted(&mut b, &text);
                        } else {
                            strfmt::fmt_str(&mut b, &spec, &text);
                        }
                    }
                }
            }
            b'p' => {
                let v = st.arg(arg);
                strfmt::fmt_ptr(&mut b, obj_ptr(v));
            }
            _ => {
                let x = st.check_num(arg)?;
                strfmt::fmt_float(&mut b, &spec, x);
            }
        }
    }
    push_and_restore(st, b)?;
    Ok(1)
}

/// `%s` with no flags, width or precision.
const PLAIN_S: Spec = Spec {
    flags: 0,
    width: 0,
    precision: None,
    conv: b's',
};

/// `%d` with no flags, width or precision.
const PLAIN_D: Spec = Spec {
    flags: 0,
    width: 0,
    precision: None,
    conv: b'd',
};

/// Append the `%s` text of argument `arg` (not a string): a number's `tostring` text,
/// else the result of its `__tostring` (called once; the result replaces the argument),
/// else luajit's default `type: 0x...` text.
fn obj_text(st: &mut State, arg: usize, b: &mut Vec<u8>) -> LuaResult<()> {
    let mut v = st.arg(arg);
    if !v.is_number() {
        let mm = st.metamethod(v, MetaMethod::ToString);
        if !mm.is_nil() {
            v = st.call_value(mm, &[v])?;
            st.set_arg(arg, v);
        }
    }
    if let Some(s) = v.as_str() {
        b.extend_from_slice(bytes(s));
    } else if v.is_number() {
        crate::num::push_num(b, v.num());
    } else {
        plain_text(v, b);
    }
    Ok(())
}

/// luajit's `lj_strfmt_obj` for values other than strings and numbers: no metamethod.
fn plain_text(v: TValue, b: &mut Vec<u8>) {
    use std::io::Write;
    match v.itype() {
        itype::NIL => b.extend_from_slice(b"nil"),
        itype::FALSE => b.extend_from_slice(b"false"),
        itype::TRUE => b.extend_from_slice(b"true"),
        _ => {
            if v.is_func() {
                // SAFETY: a live function.
                let id = unsafe { (*v.gc_ptr().cast::<GcFunc>()).ffid };
                if id != ffid::LUA && id != ffid::NATIVE {
                    let _ = write!(b, "function: builtin#{id}");
                    return;
                }
            }
            let _ = write!(b, "{}: {:p}", type_name(v), v.gc_ptr());
        }
    }
}

/// The address `%p` prints (luajit's `lj_obj_ptr`): 0 for values without one.
fn obj_ptr(v: TValue) -> usize {
    if v.is_udata() {
        // SAFETY: a live userdata.
        unsafe { GcUdata::payload(v.gc_ptr().cast()) as usize }
    } else if v.is_lightud() {
        v.payload() as usize
    } else if v.is_gc() {
        v.gc_ptr() as usize
    } else {
        0
    }
}

// ---- dump -----------------------------------------------------------------------------------

fn dump(st: &mut State) -> LuaResult<u32> {
    let f = st.check_func(1)?;
    let strip = st.arg(2).is_truthy();
    // SAFETY: a live function; a Lua closure's prototype is live with it.
    let proto = unsafe {
        if (*f).is_lua() {
            crate::chunk::proto_from_heap((*f).proto)
        } else {
            None
        }
    };
    let Some(proto) = proto else {
        return Err(st.rt_error("unable to dump given function"));
    };
    let out = crate::chunk::dump(&proto, strip);
    st.push_bytes(&out)?;
    Ok(1)
}

/// The bits of an `int64_t`/`uint64_t` cdata argument, which the integer formats take
/// as they are (luajit's `%d` of `-1LL` is -1, `%x` of it 16 f's).
fn int64_arg(st: &State, n: usize) -> Option<u64> {
    let v = st.arg(n);
    if !v.is_cdata() {
        return None;
    }
    let cts = &st.ffi.ctypes;
    let ct = cts.get(cts.raw(crate::ffi::cdata_type(v)));
    if !crate::ffi::is_int64(ct) {
        return None;
    }
    // SAFETY: a live 64-bit integer cdata holds 8 aligned payload bytes.
    Some(unsafe { crate::ffi::cdata_payload(v).cast::<u64>().read() })
}
