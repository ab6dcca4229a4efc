//! The table library, as luajit 2.1 has it.
//!
//! luajit writes `remove`, `move`, `foreach`, `foreachi` and `getn` in Lua (with raw
//! table accesses whose number keys are truncated to 32-bit integers, as `TGETR`/`TSETR`
//! do); they are natives here with the same behaviour, including the "got nil" wording of
//! their argument errors (a Lua function's missing parameter is nil, not "no value").

use crate::vm::interp;
use crate::vm::state::num_to_int;
use crate::vm::state::type_name;
use crate::vm::{LuaResult, State, Throw};
use moonjet_gc::{table, GcStr, GcTab, MetaMethod, TValue};

pub fn open(st: &mut State) -> LuaResult<()> {
    super::new_lib(
        st,
        "table",
        &[
            ("foreachi", foreachi),
            ("foreach", foreach),
            ("getn", getn),
            ("maxn", maxn),
            ("insert", insert),
            ("remove", remove),
            ("move", move_),
            ("concat", concat),
            ("sort", sort),
        ],
    )?;
    Ok(())
}

/// "bad argument #n to 'f' (X expected, got T)" as a Lua-written library function
/// reports it: an absent argument is a nil parameter.
#[cold]
fn lua_arg_type_error(st: &mut State, n: usize, expected: &str) -> Throw {
    let got = type_name(st.arg(n));
    st.arg_error(n, &format!("{expected} expected, got {got}"))
}

/// `CHECK_tab(x)` of a Lua-written library function.
#[inline]
fn lua_check_tab(st: &mut State, n: usize) -> LuaResult<*mut GcTab> {
    match st.arg(n).as_tab() {
        Some(t) => Ok(t),
        None => Err(lua_arg_type_error(st, n, "table")),
    }
}

/// `CHECK_int(x)` of a Lua-written library function: a number, or a string converted to
/// one (not truncated: the code then works on the number as it is).
#[inline]
fn lua_check_num(st: &mut State, n: usize) -> LuaResult<f64> {
    let v = st.arg(n);
    if v.is_number() {
        return Ok(v.num());
    }
    match interp::to_number(v) {
        Some(x) => Ok(x),
        None => Err(lua_arg_type_error(st, n, "number")),
    }
}

/// `t[k]` as `TGETR` does it: raw, the key truncated to an integer.
#[inline(always)]
fn getr(t: *mut GcTab, k: f64) -> TValue {
    // SAFETY: callers pass a table argument (live: it is on the stack).
    unsafe { table::get_int(t, num_to_int(k) as i64) }
}

/// `t[k] = v` as `TSETR` does it.
#[inline(always)]
fn setr(st: &mut State, t: *mut GcTab, k: f64, v: TValue) -> LuaResult<()> {
    set_int(st, t, num_to_int(k) as i64, v)
}

/// Raw `t[i] = v` with the write barrier.
#[inline(always)]
fn set_int(st: &mut State, t: *mut GcTab, i: i64, v: TValue) -> LuaResult<()> {
    // SAFETY: `t` is a live table argument; `v` is reachable (stack or table).
    match unsafe { table::set_int(&mut st.heap, t, i, v) } {
        Ok(()) => Ok(()),
        Err(e) => Err(st.tab_error(e)),
    }
}

/// Raw length (`#t` of Lua 5.1, which ignores `__len` on tables).
#[inline(always)]
fn raw_len(t: *mut GcTab) -> i32 {
    // SAFETY: live table argument.
    unsafe { table::len(t) as u32 as i32 }
}

// ---- foreachi / foreach / getn / maxn ---------------------------------------------------

/// `function(t, f) for i=1,#t do local r = f(i, t[i]) if r ~= nil then return r end end end`
fn foreachi(st: &mut State) -> LuaResult<u32> {
    let t = lua_check_tab(st, 1)?;
    let f = st.arg(2);
    if !f.is_func() {
        return Err(lua_arg_type_error(st, 2, "function"));
    }
    let n = raw_len(t);
    let mut i = 1i64;
    while i <= n as i64 {
        // SAFETY: live table argument.
        let v = unsafe { table::get_int(t, i) };
        let r = st.call_value(f, &[TValue::from_f64(i as f64), v])?;
        if !r.is_nil() {
            st.push(r)?;
            return Ok(1);
        }
        i += 1;
    }
    Ok(0)
}

/// `function(t, f) for k, v in pairs(t) do local r = f(k, v) if r ~= nil then return r end end end`
///
/// luajit's loop is `ITERN`, which walks the table by slot position (array part, then
/// hash nodes); so does this one.
fn foreach(st: &mut State) -> LuaResult<u32> {
    let t = lua_check_tab(st, 1)?;
    let f = st.arg(2);
    if !f.is_func() {
        return Err(lua_arg_type_error(st, 2, "function"));
    }
    let mut pos: u64 = 0;
    loop {
        // SAFETY: live table; every index is checked against the current part sizes
        // (the callback may resize the table).
        let (k, v) = unsafe {
            let asize = (*t).asize as u64;
            let mut found = None;
            while pos < asize {
                let v = *(*t).array.add(pos as usize);
                pos += 1;
                if !v.is_nil() {
                    found = Some((TValue::from_f64((pos - 1) as f64), v));
                    break;
                }
            }
            if found.is_none() && (*t).node != table::empty_node() {
                loop {
                    let j = pos - asize;
                    if j > (*t).hmask as u64 {
                        break;
                    }
                    let n = (*t).node.add(j as usize);
                    pos += 1;
                    if !(*n).val.is_nil() {
                        found = Some(((*n).key, (*n).val));
                        break;
                    }
                }
            }
            match found {
                Some(kv) => kv,
                None => return Ok(0),
            }
        };
        let r = st.call_value(f, &[k, v])?;
        if !r.is_nil() {
            st.push(r)?;
            return Ok(1);
        }
    }
}

/// `function(t) return #t end`
fn getn(st: &mut State) -> LuaResult<u32> {
    let t = lua_check_tab(st, 1)?;
    st.push_num(raw_len(t) as u32 as f64)?;
    Ok(1)
}

fn maxn(st: &mut State) -> LuaResult<u32> {
    let t = st.check_tab(1)?;
    let mut m = 0.0f64;
    // SAFETY: live table; indices within its parts.
    unsafe {
        let mut i = (*t).asize as usize;
        while i > 0 {
            i -= 1;
            if !(*(*t).array.add(i)).is_nil() {
                m = i as i32 as f64;
                break;
            }
        }
        if (*t).node != table::empty_node() {
            for j in (0..=(*t).hmask as usize).rev() {
                let n = (*t).node.add(j);
                if !(*n).val.is_nil() && (*n).key.is_number() {
                    let k = (*n).key.num();
                    if k > m {
                        m = k;
                    }
                }
            }
        }
    }
    st.push_num(m)?;
    Ok(1)
}

// ---- insert / remove / move ------------------------------------------------------------

fn insert(st: &mut State) -> LuaResult<u32> {
    let t = st.check_tab(1)?;
    let mut i = raw_len(t).wrapping_add(1);
    let nargs = st.nargs();
    if nargs != 2 {
        if nargs != 3 {
            return Err(st.rt_error("wrong number of arguments to 'insert'"));
        }
        let n = st.check_int(2)?;
        // Shift t[n..len] up by one (raw moves of values the table already holds).
        while i > n {
            // SAFETY: live table argument.
            let v = unsafe { table::get_int(t, i as i64 - 1) };
            set_int(st, t, i as i64, v)?;
            i -= 1;
        }
        i = n;
    }
    let v = st.arg(nargs);
    set_int(st, t, i as i64, v)?;
    Ok(0)
}

/// ```lua
/// function(t, pos)
///   CHECK_tab(t)
///   local len = #t
///   if pos == nil then
///     if len ~= 0 then local old = t[len]; t[len] = nil; return old end
///   else
///     CHECK_int(pos)
///     if pos >= 1 and pos <= len then
///       local old = t[pos]
///       for i=pos+1,len do t[i-1] = t[i] end
///       t[len] = nil
///       return old
///     end
///   end
/// end
/// ```
fn remove(st: &mut State) -> LuaResult<u32> {
    let t = lua_check_tab(st, 1)?;
    let len = raw_len(t);
    if st.arg(2).is_nil() {
        if len == 0 {
            return Ok(0);
        }
        // SAFETY: live table argument.
        let old = unsafe { table::get_int(t, len as i64) };
        st.push(old)?;
        set_int(st, t, len as i64, TValue::NIL)?;
        return Ok(1);
    }
    let pos = lua_check_num(st, 2)?;
    let lenf = len as f64;
    if !(pos >= 1.0 && pos <= lenf) {
        return Ok(0);
    }
    let old = getr(t, pos);
    st.push(old)?;
    let mut i = pos + 1.0;
    while i <= lenf {
        let v = getr(t, i);
        setr(st, t, i - 1.0, v)?;
        i += 1.0;
    }
    set_int(st, t, len as i64, TValue::NIL)?;
    Ok(1)
}

/// ```lua
/// function(a1, f, e, t, a2)
///   CHECK_tab(a1) CHECK_int(f) CHECK_int(e) CHECK_int(t)
///   if a2 == nil then a2 = a1 end
///   CHECK_tab(a2)
///   if e >= f then
///     local d = t - f
///     if t > e or t <= f or a2 ~= a1 then
///       for i=f,e do a2[i+d] = a1[i] end
///     else
///       for i=e,f,-1 do a2[i+d] = a1[i] end
///     end
///   end
///   return a2
/// end
/// ```
fn move_(st: &mut State) -> LuaResult<u32> {
    let a1 = lua_check_tab(st, 1)?;
    let f = lua_check_num(st, 2)?;
    let e = lua_check_num(st, 3)?;
    let t = lua_check_num(st, 4)?;
    let a2 = if st.arg(5).is_nil() {
        a1
    } else {
        lua_check_tab(st, 5)?
    };
    let a2v = TValue::from_tab(a2);
    if e >= f {
        let d = t - f;
        let forward = t > e || t <= f || !interp::equals(st, a2v, TValue::from_tab(a1))?;
        if forward {
            let mut i = f;
            while i <= e {
                let v = getr(a1, i);
                setr(st, a2, i + d, v)?;
                i += 1.0;
            }
        } else {
            let mut i = e;
            while i >= f {
                let v = getr(a1, i);
                setr(st, a2, i + d, v)?;
                i -= 1.0;
            }
        }
    }
    st.push(a2v)?;
    Ok(1)
}

// ---- concat ----------------------------------------------------------------------------

fn concat(st: &mut State) -> LuaResult<u32> {
    let t = st.check_tab(1)?;
    let sep = st.opt_str(2)?;
    let i = if st.arg(3).is_nil() {
        1
    } else {
        st.check_int(3)?
    };
    let e = if st.arg(4).is_nil() {
        raw_len(t)
    } else {
        st.check_int(4)?
    };
    let mut buf = std::mem::take(&mut st.buf);
    buf.clear();
    let mut bad = None;
    if i <= e {
        // SAFETY: live separator string argument.
        let sep: &[u8] = match sep {
            Some(s) => unsafe { GcStr::bytes(s) },
            None => &[],
        };
        let mut k = i as i64;
        loop {
            // SAFETY: live table argument.
            let v = unsafe { table::get_int(t, k) };
            if let Some(s) = v.as_str() {
                // SAFETY: a live string held by the table.
                buf.extend_from_slice(unsafe { GcStr::bytes(s) });
            } else if v.is_number() {
                crate::num::push_num(&mut buf, v.num());
            } else {
                bad = Some((v, k));
                break;
            }
            if k == e as i64 {
                break;
            }
            k += 1;
            buf.extend_from_slice(sep);
        }
    }
    if let Some((v, k)) = bad {
        st.buf = buf;
        let msg = format!(
            "invalid value ({}) at index {} in table for 'concat'",
            type_name(v),
            k
        );
        return Err(st.rt_error(&msg));
    }
    let r = st.new_str(&buf);
    st.buf = buf;
    st.push(r?)?;
    Ok(1)
}

// ---- sort ------------------------------------------------------------------------------

/// Stack slots (above the two arguments) holding the values the sort keeps across
/// comparator calls, which may change the table and run the collector.
const PIVOT: usize = 2;
const XA: usize = 3;
const XB: usize = 4;

struct Sort {
    t: *mut GcTab,
    /// The order function, or nil for `<`.
    f: TValue,
}

#[inline(always)]
fn slot(st: &State, k: usize) -> TValue {
    // SAFETY: sort reserved slots base+2..base+5 (the stack may have moved, so base is
    // read afresh).
    unsafe { *st.base().add(k) }
}

#[inline(always)]
fn set_slot(st: &mut State, k: usize, v: TValue) {
    // SAFETY: as above.
    unsafe { *st.base().add(k) = v }
}

impl Sort {
    /// `slot[k] = t[i]`.
    #[inline(always)]
    fn get(&self, st: &mut State, k: usize, i: i32) {
        // SAFETY: the table is argument 1, live.
        let v = unsafe { table::get_int(self.t, i as i64) };
        set_slot(st, k, v);
    }

    /// `t[i] = slot[k]`.
    #[inline(always)]
    fn set(&self, st: &mut State, i: i32, k: usize) -> LuaResult<()> {
        let v = slot(st, k);
        set_int(st, self.t, i as i64, v)
    }

    /// `slot[a] < slot[b]` by the order function or `<`.
    #[inline]
    fn less(&self, st: &mut State, a: usize, b: usize) -> LuaResult<bool> {
        let (x, y) = (slot(st, a), slot(st, b));
        if !self.f.is_nil() {
            return Ok(st.call_value(self.f, &[x, y])?.is_truthy());
        }
        if x.is_number() && y.is_number() {
            return Ok(x.num() < y.num());
        }
        if let (Some(p), Some(q)) = (x.as_str(), y.as_str()) {
            // SAFETY: live strings.
            return Ok(unsafe { interp::str_less(p, q, false) });
        }
        lt_meta(st, x, y)
    }

    fn auxsort(&self, st: &mut State, mut l: i32, mut u: i32) -> LuaResult<()> {
        while l < u {
            // Sort a[l], a[(l+u)/2] and a[u].
            self.get(st, XA, l);
            self.get(st, XB, u);
            if self.less(st, XB, XA)? {
                self.set(st, l, XB)?;
                self.set(st, u, XA)?;
            }
            if u - l == 1 {
                break;
            }
            let mut i = ((l as i64 + u as i64) / 2) as i32;
            self.get(st, XA, i);
            self.get(st, XB, l);
            if self.less(st, XA, XB)? {
                self.set(st, i, XB)?;
                self.set(st, l, XA)?;
            } else {
                self.get(st, XB, u);
                if self.less(st, XB, XA)? {
                    self.set(st, i, XB)?;
                    self.set(st, u, XA)?;
                }
            }
            if u - l == 2 {
                break;
            }
            // Pivot P = a[i], swapped with a[u-1].
            self.get(st, PIVOT, i);
            self.get(st, XA, u - 1);
            self.set(st, i, XA)?;
            self.set(st, u - 1, PIVOT)?;
            // a[l] <= P == a[u-1] <= a[u]: partition l+1..u-2.
            i = l;
            let mut j = u - 1;
            loop {
                // Repeat ++i until a[i] >= P.
                loop {
                    i += 1;
                    self.get(st, XA, i);
                    if !self.less(st, XA, PIVOT)? {
                        break;
                    }
                    if i >= u {
                        return Err(st.rt_error("invalid order function for sorting"));
                    }
                }
                // Repeat --j until a[j] <= P.
                loop {
                    j -= 1;
                    self.get(st, XB, j);
                    if !self.less(st, PIVOT, XB)? {
                        break;
                    }
                    if j <= l {
                        return Err(st.rt_error("invalid order function for sorting"));
                    }
                }
                if j < i {
                    break;
                }
                self.set(st, i, XB)?;
                self.set(st, j, XA)?;
            }
            // Swap the pivot (a[u-1]) with a[i].
            self.get(st, XA, u - 1);
            self.get(st, XB, i);
            self.set(st, u - 1, XB)?;
            self.set(st, i, XA)?;
            // Recurse into the smaller half, loop on the larger one.
            let (lo, hi);
            if i - l < u - i {
                lo = l;
                hi = i - 1;
                l = i + 1;
            } else {
                lo = i + 1;
                hi = u;
                u = i - 1;
            }
            self.auxsort(st, lo, hi)?;
        }
        Ok(())
    }
}

/// `a < b` for values that are not two numbers or two strings: `__lt` (the same
/// metamethod on both), else luajit's comparison error, which from inside `sort` carries
/// no position.
#[cold]
fn lt_meta(st: &mut State, a: TValue, b: TValue) -> LuaResult<bool> {
    let same = (a.is_bool() && b.is_bool())
        || (!a.is_number() && !b.is_number() && a.itype() == b.itype());
    if same {
        let m1 = st.metamethod(a, MetaMethod::Lt);
        if !m1.is_nil() && m1.raw_equal(st.metamethod(b, MetaMethod::Lt)) {
            return Ok(st.call_value(m1, &[a, b])?.is_truthy());
        }
    }
    let (ta, tb) = (type_name(a), type_name(b));
    let msg = if ta == tb {
        format!("attempt to compare two {ta} values")
    } else {
        format!("attempt to compare {ta} with {tb}")
    };
    Err(st.throw_str(&msg))
}

fn sort(st: &mut State) -> LuaResult<u32> {
    let t = st.check_tab(1)?;
    let n = raw_len(t);
    let f = st.arg(2);
    if !f.is_nil() {
        st.check_func(2)?;
    }
    // Two argument slots, then PIVOT, XA, XB.
    st.check_stack(5)?;
    // SAFETY: room was checked; the slots past the arguments are filled before use.
    unsafe {
        let base = st.base();
        for k in st.nargs()..PIVOT {
            *base.add(k) = TValue::NIL;
        }
        for k in PIVOT..=XB {
            *base.add(k) = TValue::NIL;
        }
        st.set_top(base.add(XB + 1));
    }
    let s = Sort { t, f };
    s.auxsort(st, 1, n)?;
    Ok(0)
}
