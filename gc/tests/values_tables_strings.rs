//! Values, strings and tables of moonjet-gc, seen through the public API only.
//!
//! Every object a test keeps using across an allocation is held by a root slot (or by a
//! rooted table): the heap may collect at every allocation.

use moonjet_gc::object::{self, ffid, offsets, GcHeader, GcStr, GcTab};
use moonjet_gc::table::{self, TabError};
use moonjet_gc::value::{LuaType, CANONICAL_NAN};
use moonjet_gc::{Heap, MemoryError, MetaMethod, TValue};
use std::collections::HashSet;
use std::ptr::null_mut;

// ---- helpers ------------------------------------------------------------------------------

fn heap() -> Box<Heap> {
    Heap::with_stress(false)
}

fn num(d: f64) -> TValue {
    TValue::from_f64(d)
}

/// A new table held by a root slot for the rest of the heap's life.
fn rooted_table(h: &mut Heap, asize: u32, hbits: u32) -> *mut GcTab {
    let t = h.new_table(asize, hbits).expect("new_table");
    h.add_root(TValue::from_tab(t));
    t
}

/// An interned string held by a root slot for the rest of the heap's life.
fn rooted_str(h: &mut Heap, bytes: &[u8]) -> TValue {
    let v = h.new_string(bytes).expect("intern");
    h.add_root(v);
    v
}

/// `(key, value)` pairs in `next` order. `t` must be a live table.
fn entries(t: *mut GcTab) -> Vec<(TValue, TValue)> {
    let mut out = Vec::new();
    let mut k = TValue::NIL;
    // SAFETY: the caller passes a live table; keys come from the table itself.
    while let Some((nk, v)) = unsafe { table::next(t, k) }.expect("next during traversal") {
        out.push((nk, v));
        assert!(out.len() <= 10_000_000, "next does not terminate");
        k = nk;
    }
    out
}

/// `rawset` on a table the test keeps alive (rooted), with live keys and values.
fn tset(h: &mut Heap, t: *mut GcTab, k: TValue, v: TValue) -> Result<(), TabError> {
    // SAFETY: tests only pass rooted tables and live keys/values.
    unsafe { table::set(h, t, k, v) }
}

fn tset_int(h: &mut Heap, t: *mut GcTab, i: i64, v: TValue) -> Result<(), TabError> {
    // SAFETY: tests only pass rooted tables and live values.
    unsafe { table::set_int(h, t, i, v) }
}

fn tset_str(h: &mut Heap, t: *mut GcTab, s: *mut GcStr, v: TValue) -> Result<(), TabError> {
    // SAFETY: tests only pass rooted tables, live strings and live values.
    unsafe { table::set_str(h, t, s, v) }
}

fn count(t: *mut GcTab) -> usize {
    // SAFETY: tests only pass live tables.
    unsafe { table::count(t) }
}

fn get(t: *mut GcTab, k: TValue) -> TValue {
    // SAFETY: tests only pass live tables and live keys.
    unsafe { table::get(t, k) }
}

fn get_int(t: *mut GcTab, i: i64) -> TValue {
    // SAFETY: tests only pass live tables.
    unsafe { table::get_int(t, i) }
}

fn len(t: *mut GcTab) -> u64 {
    // SAFETY: tests only pass live tables.
    unsafe { table::len(t) }
}

fn str_ptr(v: TValue) -> *mut GcStr {
    v.as_str().expect("a string value")
}

fn str_hash(v: TValue) -> u32 {
    // SAFETY: tests only pass live strings.
    unsafe { (*str_ptr(v)).hash }
}

// ---- 1. TValue encoding ----------------------------------------------------------------------

#[test]
fn tvalue_constant_bit_patterns() {
    assert_eq!(TValue::NIL.bits(), 0xFFFF_FFFF_FFFF_FFFF);
    assert_eq!(TValue::FALSE.bits(), 0xFFFF_7FFF_FFFF_FFFF);
    assert_eq!(TValue::TRUE.bits(), 0xFFFE_FFFF_FFFF_FFFF);
    assert_eq!(TValue::default(), TValue::NIL);
    assert_eq!(TValue::from(true), TValue::TRUE);
    assert_eq!(TValue::from(false), TValue::FALSE);
    assert_eq!(TValue::from_bool(true).bits(), 0xFFFE_FFFF_FFFF_FFFF);

    assert!(TValue::NIL.is_nil() && !TValue::NIL.is_bool() && !TValue::NIL.is_number());
    assert!(TValue::FALSE.is_false() && TValue::FALSE.is_bool() && !TValue::FALSE.is_nil());
    assert!(TValue::TRUE.is_bool() && !TValue::TRUE.is_false());
    for v in [TValue::NIL, TValue::FALSE, TValue::TRUE] {
        assert!(!v.is_number(), "{v:?}");
        assert!(!v.is_gc(), "{v:?}");
        assert_eq!(v.as_number(), None);
    }
    // A light userdata keeps only 47 payload bits, under tag FFFE0000_00000000.
    let lud = TValue::from_lightud_payload(0x7BCD_1234_5678);
    assert_eq!(lud.bits(), 0xFFFE_0000_0000_0000 | 0x7BCD_1234_5678);
    assert_eq!(lud.payload(), 0x7BCD_1234_5678);
    assert!(lud.is_lightud() && !lud.is_gc() && !lud.is_number());
    assert_eq!(
        TValue::from_lightud_payload(u64::MAX).bits(),
        0xFFFE_7FFF_FFFF_FFFF,
        "payload must be masked to 47 bits"
    );
}

#[test]
fn tvalue_gc_pointer_tags() {
    let mut h = heap();
    let t = rooted_table(&mut h, 0, 0);
    let s = rooted_str(&mut h, b"tagged");
    let sp = str_ptr(s);

    let tv = TValue::from_tab(t);
    assert_eq!(tv.bits(), 0xFFFA_0000_0000_0000 | t as u64);
    assert_eq!(tv.bits() >> 47, 0x1FFF4);
    assert!(tv.is_tab() && tv.is_gc() && !tv.is_str() && !tv.is_number());
    assert_eq!(tv.as_tab(), Some(t));
    assert_eq!(tv.as_str(), None);
    assert_eq!(tv.gc_ptr(), t.cast::<GcHeader>());

    assert_eq!(s.bits(), 0xFFFD_8000_0000_0000 | sp as u64);
    assert_eq!(s.bits() >> 47, 0x1FFFB);
    assert!(s.is_str() && s.is_gc() && !s.is_tab() && !s.is_number());
    assert_eq!(s.as_tab(), None);
    assert_eq!(s.payload(), sp as u64);

    // The object's own type byte gives the same value back.
    // SAFETY: both objects are rooted and live.
    unsafe {
        assert_eq!(object::value_of(t.cast()), tv);
        assert_eq!(object::value_of(sp.cast()), s);
        assert_eq!((*t).gct as u32, tv.itype());
        assert_eq!((*sp).gct as u32, s.itype());
    }
    // Objects live below 2^47, or their tag would be destroyed.
    assert_eq!((t as u64) >> 47, 0);
    assert_eq!((sp as u64) >> 47, 0);
}

#[test]
fn tvalue_numbers_stored_verbatim() {
    let cases: [(f64, u64); 9] = [
        (1.5, 0x3FF8_0000_0000_0000),
        (f64::NEG_INFINITY, 0xFFF0_0000_0000_0000),
        (f64::INFINITY, 0x7FF0_0000_0000_0000),
        (0.0, 0),
        (-0.0, 0x8000_0000_0000_0000),
        (-1.0, 0xBFF0_0000_0000_0000),
        (f64::MAX, 0x7FEF_FFFF_FFFF_FFFF),
        (f64::MIN, 0xFFEF_FFFF_FFFF_FFFF),
        (f64::from_bits(1), 1), // smallest subnormal
    ];
    for (d, bits) in cases {
        let v = TValue::from_f64(d);
        assert_eq!(v.bits(), bits, "{d}");
        assert_eq!(TValue::from(d).bits(), bits, "{d}");
        assert!(v.is_number(), "{d}");
        assert!(!v.is_gc() && !v.is_nil() && !v.is_bool(), "{d}");
        assert_eq!(v.as_number().map(f64::to_bits), Some(bits), "{d}");
        assert_eq!(v.num().to_bits(), bits);
        assert_eq!(v.lua_type(), LuaType::Number);
    }
    // The number range is top 17 bits below TOP_NUMBER_LIMIT (0x1FFF2): 0x1FFF1, a NaN
    // pattern the canonicalisation never produces, still reads as a number.
    assert!(TValue(0x1FFF1 << 47).is_number());
    assert!(!TValue(0x1FFF2 << 47).is_number());
}

#[test]
fn tvalue_every_nan_canonicalises() {
    let payload_nans: [u64; 10] = [
        0xFFFF_FFFF_FFFF_0001, // would read as a tagged value (top bits all set)
        0x7FF8_0000_0000_0001,
        0x7FF8_0000_0000_0000,
        0x7FF0_0000_0000_0001, // signalling
        0xFFF0_0000_0000_0001,
        0xFFF8_0000_0000_0001,
        0xFFFA_0000_0000_1234, // would look like a table pointer
        0xFFFD_8000_0000_4321, // would look like a string pointer
        0xFFFF_7FFF_FFFF_FFFF, // the bits of `false`
        0xFFFF_FFFF_FFFF_FFFF, // the bits of `nil`
    ];
    let zero = std::hint::black_box(0.0f64);
    let computed = [
        f64::NAN,
        -f64::NAN,
        zero / zero,
        f64::INFINITY - f64::INFINITY,
    ];
    let all = payload_nans
        .iter()
        .map(|&b| f64::from_bits(b))
        .chain(computed);
    for d in all {
        assert!(d.is_nan());
        for v in [TValue::from_f64(d), TValue::from(d)] {
            assert_eq!(v.bits(), CANONICAL_NAN, "{:#x}", d.to_bits());
            assert_eq!(v.bits(), 0xFFF8_0000_0000_0000);
            assert!(v.is_number(), "{:#x}", d.to_bits());
            assert!(!v.is_nil() && !v.is_gc() && !v.is_str() && !v.is_tab() && !v.is_bool());
            assert!(v.is_truthy(), "NaN is truthy");
            assert_eq!(v.lua_type(), LuaType::Number);
            assert!(v.as_number().expect("a number").is_nan());
        }
    }
}

#[test]
fn tvalue_truthiness() {
    let mut h = heap();
    let t = rooted_table(&mut h, 0, 0);
    let empty = rooted_str(&mut h, b"");
    let falsy = [TValue::NIL, TValue::FALSE];
    for v in falsy {
        assert!(!v.is_truthy(), "{v:?}");
    }
    let truthy = [
        TValue::TRUE,
        num(0.0),
        num(-0.0),
        num(f64::NAN),
        num(f64::NEG_INFINITY),
        num(-1.0),
        empty,
        TValue::from_tab(t),
        TValue::from_lightud_payload(0),
    ];
    for v in truthy {
        assert!(v.is_truthy(), "{v:?}");
    }
}

#[test]
fn tvalue_raw_equal() {
    let mut h = heap();
    let a = rooted_str(&mut h, b"same");
    let a2 = h.new_string(b"same").unwrap();
    let b = rooted_str(&mut h, b"other");
    let t1 = rooted_table(&mut h, 0, 0);
    let t2 = rooted_table(&mut h, 0, 0);

    // 0 and -0: different words, equal numbers.
    assert_ne!(num(0.0).bits(), num(-0.0).bits());
    assert!(num(0.0).raw_equal(num(-0.0)));
    assert!(num(-0.0).raw_equal(num(0.0)));
    // NaN: same word, never equal.
    let nan = num(f64::NAN);
    assert_eq!(nan, num(f64::from_bits(0x7FF8_0000_0000_0001)));
    assert!(!nan.raw_equal(nan));
    assert!(num(1.0).raw_equal(num(1.0)));
    assert!(!num(1.0).raw_equal(num(1.0 + f64::EPSILON)));

    // Strings: interning makes equal bytes the same pointer.
    assert_eq!(a.bits(), a2.bits());
    assert!(a.raw_equal(a2));
    assert!(!a.raw_equal(b));
    // Tables: identity.
    assert!(TValue::from_tab(t1).raw_equal(TValue::from_tab(t1)));
    assert!(!TValue::from_tab(t1).raw_equal(TValue::from_tab(t2)));
    // Across types: never equal.
    assert!(!num(1.0).raw_equal(TValue::TRUE));
    assert!(!num(0.0).raw_equal(TValue::FALSE));
    assert!(!TValue::NIL.raw_equal(TValue::FALSE));
    assert!(TValue::NIL.raw_equal(TValue::NIL));
    assert!(!a.raw_equal(TValue::from_tab(t1)));
    let empty = h.new_string(b"").unwrap();
    assert!(!empty.raw_equal(TValue::NIL));
}

#[test]
fn tvalue_lua_type_names() {
    let mut h = heap();
    let t = rooted_table(&mut h, 0, 0);
    let s = rooted_str(&mut h, b"x");
    let u = h.new_udata(8, null_mut()).unwrap();
    // SAFETY: `u` was just created.
    let uv = unsafe { object::value_of(u.cast()) };
    h.add_root(uv);
    let c = h.new_cdata(1, 8).unwrap();
    // SAFETY: `c` was just created.
    let cv = unsafe { object::value_of(c.cast()) };
    h.add_root(cv);
    let f = h
        .new_native_closure(std::ptr::null(), ffid::NATIVE, 0, null_mut())
        .unwrap();
    // SAFETY: `f` was just created.
    let fv = unsafe { object::value_of(f.cast()) };
    h.add_root(fv);
    let th = h.new_thread(8, null_mut()).unwrap();
    // SAFETY: `th` was just created.
    let thv = unsafe { object::value_of(th.cast()) };
    h.add_root(thv);
    let up = h.new_closed_upvalue(num(1.0)).unwrap();
    // SAFETY: `up` was just created.
    let upv = unsafe { object::value_of(up.cast()) };

    let cases = [
        (TValue::NIL, LuaType::Nil, "nil"),
        (TValue::FALSE, LuaType::Boolean, "boolean"),
        (TValue::TRUE, LuaType::Boolean, "boolean"),
        (num(42.0), LuaType::Number, "number"),
        (num(f64::NAN), LuaType::Number, "number"),
        (s, LuaType::String, "string"),
        (TValue::from_tab(t), LuaType::Table, "table"),
        (
            TValue::from_lightud_payload(7),
            LuaType::LightUserdata,
            "userdata",
        ),
        (uv, LuaType::Userdata, "userdata"),
        (cv, LuaType::Cdata, "cdata"),
        (fv, LuaType::Function, "function"),
        (thv, LuaType::Thread, "thread"),
    ];
    for (v, ty, name) in cases {
        assert_eq!(v.lua_type(), ty, "{v:?}");
        assert_eq!(v.lua_type().name(), name, "{v:?}");
    }
    assert!(uv.is_udata() && cv.is_cdata() && fv.is_func() && thv.is_thread());
    for v in [uv, cv, fv, thv, upv] {
        assert!(v.is_gc(), "{v:?}");
    }
    // Upvalues are internal objects, never a Lua type.
    assert_eq!(upv.lua_type(), LuaType::Internal);
}

// ---- 2. Strings -------------------------------------------------------------------------------

#[test]
fn intern_identity_and_distinctness() {
    let mut h = heap();
    let big = vec![b'm'; 1 << 20];
    let mut big2 = big.clone();
    *big2.last_mut().unwrap() = b'n';
    let inputs: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\0".to_vec(),
        b"\0\0".to_vec(),
        b"a".to_vec(),
        b"a\0".to_vec(),
        b"a\0b".to_vec(),
        b"a\0c".to_vec(),
        b"ab".to_vec(),
        b"abcdefgh".to_vec(),   // exactly one 8-byte word
        b"abcdefgh\0".to_vec(), // same word plus a NUL tail
        b"abcdefghi".to_vec(),
        vec![0xFF; 17],
        big.clone(),
        big2.clone(),
    ];
    let keep = rooted_table(&mut h, 0, 0);
    let mut ptrs = Vec::new();
    for (i, b) in inputs.iter().enumerate() {
        let s = h.intern(b).unwrap();
        tset_int(&mut h, keep, i as i64 + 1, TValue::from_gcstr(s)).unwrap();
        ptrs.push(s);
    }
    let distinct: HashSet<usize> = ptrs.iter().map(|&p| p as usize).collect();
    assert_eq!(
        distinct.len(),
        inputs.len(),
        "different bytes gave the same string"
    );
    // Interning again, in another order, gives the same pointers.
    for (i, b) in inputs.iter().enumerate().rev() {
        assert_eq!(h.intern(b).unwrap(), ptrs[i], "input {i}");
        // SAFETY: every string is held by `keep`.
        unsafe {
            assert_eq!(GcStr::bytes(ptrs[i]), &b[..], "input {i}");
            assert_eq!((*ptrs[i]).len, b.len());
        }
    }
    // A fresh copy of the 1 MB bytes also finds the existing string.
    let copy = vec![b'm'; 1 << 20];
    assert_eq!(h.intern(&copy).unwrap(), ptrs[12]);
    assert_eq!(h.new_string(&copy).unwrap(), TValue::from_gcstr(ptrs[12]));
}

#[test]
fn string_layout_nul_terminated_after_data() {
    assert_eq!(offsets::STR_DATA, 24);
    let mut h = heap();
    let keep = rooted_table(&mut h, 0, 0);
    let inputs: [&[u8]; 6] = [
        b"",
        b"x",
        b"hello",
        b"with\0nul\0inside",
        &[7u8; 8],
        &[0xAB; 1000],
    ];
    for (i, b) in inputs.iter().enumerate() {
        let s = h.intern(b).unwrap();
        tset_int(&mut h, keep, i as i64 + 1, TValue::from_gcstr(s)).unwrap();
        let base = s.cast::<u8>();
        // SAFETY: `s` is live; a string is header + len bytes + NUL.
        unsafe {
            assert_eq!(*base.add(offsets::GCT), (*s).gct);
            assert_eq!((*s).gct as u32, moonjet_gc::value::itype::STR);
            let len_field = base.add(offsets::STR_LEN).cast::<usize>().read();
            assert_eq!(len_field, b.len());
            let hash_field = base.add(offsets::STR_HASH).cast::<u32>().read();
            assert_eq!(hash_field, (*s).hash);
            let data = std::slice::from_raw_parts(base.add(offsets::STR_DATA), b.len());
            assert_eq!(data, *b);
            assert_eq!(
                *base.add(offsets::STR_DATA + b.len()),
                0,
                "missing NUL after {i}"
            );
            // C code reading up to the first NUL sees the string when it has none inside.
            if !b.contains(&0) {
                let c = std::ffi::CStr::from_ptr(base.add(offsets::STR_DATA).cast());
                assert_eq!(c.to_bytes(), *b);
            }
        }
    }
}

#[test]
fn string_hash_cached_and_stable_across_recreation() {
    // The collection below shrinks the string table and the re-interning moves some of
    // its chains: this heap is also dropped in the middle of a string-table resize.
    let mut h = heap();
    let (c0, _, _) = h.string_table_stats();
    let words: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("word-{i}").into_bytes())
        .collect();
    // Record hashes, then let the strings die.
    let mut first = Vec::new();
    for w in &words {
        let s = h.new_string(w).unwrap();
        first.push(str_hash(s));
    }
    h.full_gc();
    let (after, _, _) = h.string_table_stats();
    assert_eq!(after, c0, "the dead strings were not all freed");
    // Re-created strings carry the same cached hash (a function of the bytes).
    for (w, &hash) in words.iter().zip(&first) {
        let s = h.new_string(w).unwrap();
        assert_eq!(str_hash(s), hash, "{}", String::from_utf8_lossy(w));
    }
    // Equal strings from a second intern agree; different strings almost never collide.
    let distinct: HashSet<u32> = first.iter().copied().collect();
    assert!(
        distinct.len() >= 995,
        "{} distinct hashes of 1000",
        distinct.len()
    );
}

#[test]
fn string_hash_is_seeded_per_heap() {
    let mut h1 = heap();
    let mut h2 = heap();
    let words: [&[u8]; 8] = [
        b"",
        b"a",
        b"index",
        b"__index",
        b"0123456789abcdef",
        b"the quick brown fox",
        b"\0\0\0\0",
        b"moonjet",
    ];
    let mut differ = 0;
    for w in words {
        let a = h1.new_string(w).unwrap();
        let b = h2.new_string(w).unwrap();
        if str_hash(a) != str_hash(b) {
            differ += 1;
        }
    }
    // With independent random seeds two 32-bit hashes agree with probability 2^-32.
    assert!(differ >= 1, "both heaps hash identically: no per-heap seed");
    assert!(
        differ >= 7,
        "only {differ} of 8 hashes differ between heaps"
    );
}

/// Intern `make(i)` for `i < n` (all distinct), keep them in a rooted table, check that
/// interning again finds every one, that the full hashes hardly collide and that the
/// string table's longest chain stays short.
fn intern_many_and_check_chains(make: impl Fn(usize) -> Vec<u8>, n: usize) {
    let mut h = heap();
    let (c0, _, _) = h.string_table_stats();
    let keep = rooted_table(&mut h, 0, 0);
    let mut hashes = HashSet::new();
    for i in 0..n {
        let s = h.intern(&make(i)).unwrap();
        tset_int(&mut h, keep, i as i64 + 1, TValue::from_gcstr(s)).unwrap();
        // SAFETY: `s` was just interned and is now held by `keep`.
        hashes.insert(unsafe { (*s).hash });
    }
    for i in 0..n {
        let s = h.intern(&make(i)).unwrap();
        assert_eq!(
            TValue::from_gcstr(s),
            get_int(keep, i as i64 + 1),
            "string {i}"
        );
    }
    let (cnt, chains, longest) = h.string_table_stats();
    assert_eq!(cnt, c0 + n, "string count");
    assert!(
        cnt <= chains,
        "load factor above 1: {cnt} strings in {chains} chains"
    );
    // Random hashing of ~100k strings into >= 128k chains: the longest chain is ~8;
    // a structural weakness (shared prefix, sampled words) gives thousands.
    assert!(
        longest <= 12,
        "longest chain {longest} ({cnt} strings, {chains} chains)"
    );
    // Among 100k random 32-bit hashes about one pair collides.
    assert!(
        hashes.len() + 20 >= n,
        "{} distinct hashes for {n} strings",
        hashes.len()
    );
}

#[test]
fn string_table_shared_prefix_100k() {
    intern_many_and_check_chains(
        |i| {
            let mut b = vec![b'a'; 64];
            b.extend_from_slice(i.to_string().as_bytes());
            b
        },
        100_000,
    );
}

#[test]
fn string_table_sampled_word_pattern_100k() {
    // Same length, same first/last/middle/quarter words (what a sparse hash samples),
    // differing only in bytes 100..106.
    intern_many_and_check_chains(
        |i| {
            let mut b = vec![b'x'; 256];
            b[100..106].copy_from_slice(format!("{i:06}").as_bytes());
            b
        },
        100_000,
    );
}

#[test]
fn string_table_heap_drop_during_incremental_resize() {
    let mut h = heap();
    h.stop();
    let (c0, chains0, _) = h.string_table_stats();
    // Intern until the table starts to grow, then a few more so that some old chains
    // have been moved and some have not.
    let mut strs = Vec::new();
    while h.string_table_stats().1 == chains0 {
        let s = h.intern(format!("grow-{}", strs.len()).as_bytes()).unwrap();
        strs.push(s);
        assert!(strs.len() <= 4 * chains0, "the string table never grew");
    }
    for _ in 0..3 {
        let s = h.intern(format!("grow-{}", strs.len()).as_bytes()).unwrap();
        strs.push(s);
    }
    let (cnt, chains, longest) = h.string_table_stats();
    assert_eq!(cnt, c0 + strs.len());
    assert_eq!(chains, 2 * chains0);
    assert!(longest <= 12, "longest chain {longest}");
    // Mid-resize, every string is found in whichever array holds it: no duplicates.
    for (i, &s) in strs.iter().enumerate() {
        assert_eq!(h.intern(format!("grow-{i}").as_bytes()).unwrap(), s);
    }
    assert_eq!(h.string_table_stats().0, cnt);
    // Regression (found at 613b0ec, fixed in d6fd819): `free_all` finishes the move with
    // `strtab::migrate(h, usize::MAX)`, whose `migrated + n` overflowed (a panic in debug
    // builds; in release nothing was moved and the old chains leaked).
    drop(h);
}

// ---- 3. Tables ----------------------------------------------------------------------------------

#[test]
fn table_key_types_roundtrip() {
    let mut h = heap();
    let t = rooted_table(&mut h, 0, 0);
    let k_tab = rooted_table(&mut h, 0, 0);
    let k_tab2 = rooted_table(&mut h, 0, 0);
    let k_str = rooted_str(&mut h, b"key");
    let k_str2 = rooted_str(&mut h, b"key2");
    let k_empty = rooted_str(&mut h, b"");
    let keys: Vec<TValue> = vec![
        num(1.0),
        num(2.0),
        num(0.0),
        num(-1.0),
        num(1000.0),
        num(1e15),
        num(0.5),
        num(-2.75),
        num(1e300),
        num(f64::INFINITY),
        num(f64::NEG_INFINITY),
        num(f64::MIN_POSITIVE),
        TValue::TRUE,
        TValue::FALSE,
        k_str,
        k_str2,
        k_empty,
        TValue::from_tab(k_tab),
        TValue::from_tab(k_tab2),
        TValue::from_lightud_payload(0x1234),
    ];
    for (i, &k) in keys.iter().enumerate() {
        tset(&mut h, t, k, num(i as f64 * 10.0)).unwrap();
        // Everything stored so far still reads back after each insertion (rehashes).
        for (j, &k2) in keys[..=i].iter().enumerate() {
            assert_eq!(get(t, k2), num(j as f64 * 10.0), "key {k2:?} after {i}");
        }
    }
    assert_eq!(count(t), keys.len());
    // The specialised readers agree with `get`.
    // SAFETY: `t` and the string keys are rooted.
    unsafe {
        assert_eq!(table::get_str(t, str_ptr(k_str)), num(140.0));
        assert_eq!(table::get_str(t, str_ptr(k_empty)), num(160.0));
        assert_eq!(table::get_int(t, -1), num(30.0));
        assert_eq!(table::get_int(t, 1_000_000_000_000_000), num(50.0));
        assert_eq!(table::get_num(t, 0.5), num(60.0));
        assert_eq!(table::get_num(t, f64::INFINITY), num(90.0));
    }
    // Absent keys of each kind read nil.
    let absent_s = rooted_str(&mut h, b"absent");
    let absent_t = rooted_table(&mut h, 0, 0);
    for k in [
        num(3.0),
        num(0.25),
        num(-0.5),
        absent_s,
        TValue::from_tab(absent_t),
        TValue::from_lightud_payload(0x1235),
    ] {
        assert!(get(t, k).is_nil(), "{k:?}");
    }
    // Overwriting keeps one entry per key.
    tset(&mut h, t, TValue::TRUE, num(-1.0)).unwrap();
    tset(&mut h, t, k_str, num(-2.0)).unwrap();
    assert_eq!(get(t, TValue::TRUE), num(-1.0));
    assert_eq!(get(t, k_str), num(-2.0));
    assert_eq!(count(t), keys.len());
}

#[test]
fn table_float_keys_with_integer_values_are_integer_keys() {
    let mut h = heap();
    // Once with everything in the hash part, once with an array part covering 0..8.
    for asize in [0u32, 9] {
        let t = rooted_table(&mut h, asize, 0);
        tset(&mut h, t, num(3.0), num(33.0)).unwrap();
        assert_eq!(get_int(t, 3), num(33.0), "asize {asize}");
        tset_int(&mut h, t, 5, num(55.0)).unwrap();
        // SAFETY: `t` is rooted.
        unsafe {
            assert_eq!(table::get_num(t, 5.0), num(55.0));
            assert_eq!(table::get_num(t, 3.0), num(33.0));
        }
        assert_eq!(get(t, num(5.0)), num(55.0));
        // Overwrite through the other spelling: still one entry.
        tset_int(&mut h, t, 3, num(34.0)).unwrap();
        tset(&mut h, t, num(5.0), num(56.0)).unwrap();
        assert_eq!(get(t, num(3.0)), num(34.0));
        assert_eq!(get_int(t, 5), num(56.0));
        // Integer keys far outside any array part, and negative ones.
        let big = (1i64 << 40) + 7;
        tset(&mut h, t, num(big as f64), num(1.0)).unwrap();
        assert_eq!(get_int(t, big), num(1.0));
        tset_int(&mut h, t, -12, num(2.0)).unwrap();
        assert_eq!(get(t, num(-12.0)), num(2.0));
        // Non-integral neighbours are different keys.
        assert!(get(t, num(3.5)).is_nil());
        assert!(get(t, num(2.999_999_999)).is_nil());
        assert_eq!(count(t), 4, "asize {asize}");
        // `next` reports integer-valued keys as plain numbers.
        let mut ks: Vec<f64> = entries(t).iter().map(|(k, _)| k.num()).collect();
        ks.sort_by(f64::total_cmp);
        assert_eq!(ks, vec![-12.0, 3.0, 5.0, big as f64]);
    }
}

#[test]
fn table_negative_zero_is_zero() {
    let mut h = heap();
    // In the hash part (no array part at all)...
    let t = rooted_table(&mut h, 0, 2);
    tset(&mut h, t, num(-0.0), num(1.0)).unwrap();
    assert_eq!(get(t, num(0.0)), num(1.0));
    assert_eq!(get(t, num(-0.0)), num(1.0));
    assert_eq!(get_int(t, 0), num(1.0));
    tset(&mut h, t, num(0.0), num(2.0)).unwrap();
    assert_eq!(get(t, num(-0.0)), num(2.0));
    assert_eq!(count(t), 1);
    let e = entries(t);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0.bits(), 0, "the stored key is +0, not -0");
    // `next` accepts either zero as the previous key.
    // SAFETY: `t` is rooted.
    unsafe {
        assert_eq!(table::next(t, num(-0.0)), Ok(None));
        assert_eq!(table::next(t, num(0.0)), Ok(None));
    }
    // ...and in the array part.
    let a = rooted_table(&mut h, 4, 0);
    tset(&mut h, a, num(-0.0), num(3.0)).unwrap();
    assert_eq!(get_int(a, 0), num(3.0));
    assert_eq!(get(a, num(0.0)), num(3.0));
    tset(&mut h, a, num(0.0), TValue::NIL).unwrap();
    assert!(get(a, num(-0.0)).is_nil());
    assert_eq!(count(a), 0);
}

#[test]
fn table_nan_and_nil_keys() {
    let mut h = heap();
    let t = rooted_table(&mut h, 4, 2);
    tset_int(&mut h, t, 1, num(1.0)).unwrap();
    let weird_nan = f64::from_bits(0xFFFF_FFFF_FFFF_0001);
    for d in [
        f64::NAN,
        -f64::NAN,
        weird_nan,
        f64::from_bits(0x7FF0_0000_0000_0001),
    ] {
        assert_eq!(
            tset(&mut h, t, num(d), num(2.0)),
            Err(TabError::NanKey),
            "{:#x}",
            d.to_bits()
        );
        assert_eq!(
            tset(&mut h, t, TValue(CANONICAL_NAN), TValue::NIL),
            Err(TabError::NanKey)
        );
        assert!(get(t, num(d)).is_nil());
        // SAFETY: `t` is rooted.
        unsafe {
            assert!(table::get_num(t, d).is_nil());
            assert_eq!(table::next(t, num(d)), Err(TabError::InvalidNextKey));
        }
    }
    assert_eq!(
        tset(&mut h, t, TValue::NIL, num(3.0)),
        Err(TabError::NilKey)
    );
    assert!(get(t, TValue::NIL).is_nil());
    // Failed stores left nothing behind.
    assert_eq!(count(t), 1);
    assert_eq!(get_int(t, 1), num(1.0));
    assert_eq!(TabError::NanKey.to_string(), "table index is NaN");
    assert_eq!(TabError::NilKey.to_string(), "table index is nil");
    // The same on a table without any parts (the error must come before any resize).
    let e = rooted_table(&mut h, 0, 0);
    assert_eq!(
        tset(&mut h, e, num(f64::NAN), num(1.0)),
        Err(TabError::NanKey)
    );
    assert_eq!(
        tset(&mut h, e, TValue::NIL, num(1.0)),
        Err(TabError::NilKey)
    );
    // SAFETY: `e` is rooted.
    unsafe {
        assert_eq!((*e).asize, 0);
        assert_eq!((*e).hmask, 0);
    }
    assert_eq!(count(e), 0);
}

/// A table with an array part, integer keys in the hash part, strings, booleans, floats
/// and a table key. Returns the table and its keys (all rooted through the table).
fn mixed_table(h: &mut Heap) -> (*mut GcTab, Vec<TValue>) {
    let t = rooted_table(h, 0, 0);
    let mut keys = Vec::new();
    for i in 1..=40 {
        keys.push(num(i as f64));
    }
    for i in (100..200).step_by(7) {
        keys.push(num(i as f64));
    }
    keys.push(num(0.0));
    keys.push(num(-5.0));
    keys.push(num(0.5));
    keys.push(num(1e100));
    keys.push(TValue::TRUE);
    keys.push(TValue::FALSE);
    for i in 0..30 {
        let s = h.new_string(format!("s{i}").as_bytes()).unwrap();
        // Stored right away: no allocation between interning and storing.
        tset(h, t, s, num(-1.0)).unwrap();
        keys.push(s);
    }
    let kt = h.new_table(0, 0).unwrap();
    tset(h, t, TValue::from_tab(kt), num(-1.0)).unwrap();
    keys.push(TValue::from_tab(kt));
    for (i, &k) in keys.iter().enumerate() {
        tset(h, t, k, num(i as f64)).unwrap();
    }
    (t, keys)
}

#[test]
fn table_next_visits_every_key_exactly_once() {
    let mut h = heap();
    let (t, keys) = mixed_table(&mut h);
    let e = entries(t);
    assert_eq!(e.len(), keys.len());
    let seen: Vec<u64> = e.iter().map(|(k, _)| k.bits()).collect();
    let unique: HashSet<u64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a key was visited twice");
    let expected: HashSet<u64> = keys.iter().map(|k| k.bits()).collect();
    assert_eq!(unique, expected);
    for (k, v) in &e {
        assert!(!v.is_nil(), "next returned a nil value for {k:?}");
        assert_eq!(get(t, *k), *v, "value of {k:?}");
    }
    assert_eq!(count(t), keys.len());
    // A second traversal gives the same order.
    assert_eq!(entries(t), e);
}

#[test]
fn table_next_after_nil_assignment_and_invalid_keys() {
    let mut h = heap();
    let (t, keys) = mixed_table(&mut h);
    let order: Vec<TValue> = entries(t).into_iter().map(|(k, _)| k).collect();

    // Remove every key while traversing: `next` must accept the key just removed.
    let mut k = TValue::NIL;
    let mut visited = Vec::new();
    loop {
        // SAFETY: `t` is rooted; removed keys stay as dead keys.
        let step = unsafe { table::next(t, k) };
        match step {
            Ok(Some((nk, _))) => {
                visited.push(nk);
                tset(&mut h, t, nk, TValue::NIL).unwrap();
                assert!(get(t, nk).is_nil());
                k = nk;
            }
            Ok(None) => break,
            Err(e) => panic!("next({k:?}) after removing it: {e:?}"),
        }
    }
    assert_eq!(visited, order);
    assert_eq!(count(t), 0);
    assert_eq!(entries(t), vec![]);
    // Removed keys (their nodes remain) are still valid `next` arguments.
    for &k in &keys {
        // SAFETY: `t` is rooted; `keys` hold no dead objects (nothing was allocated).
        let r = unsafe { table::next(t, k) };
        assert_eq!(r, Ok(None), "next({k:?}) on an emptied table");
    }

    // Keys that were never in the table are errors.
    let never = rooted_str(&mut h, b"never-a-key");
    let other_t = rooted_table(&mut h, 0, 0);
    let t2 = rooted_table(&mut h, 0, 0);
    for i in 1..=10 {
        tset_int(&mut h, t2, i, num(i as f64)).unwrap();
    }
    tset(&mut h, t2, TValue::TRUE, num(0.0)).unwrap();
    for bad in [
        never,
        num(1_000_000.0),
        num(0.5),
        num(-3.0),
        TValue::FALSE,
        TValue::from_tab(other_t),
    ] {
        // SAFETY: `t2` and the keys are rooted.
        let r = unsafe { table::next(t2, bad) };
        assert_eq!(r, Err(TabError::InvalidNextKey), "next({bad:?})");
    }
    assert_eq!(
        TabError::InvalidNextKey.to_string(),
        "invalid key to 'next'"
    );
}

#[test]
fn table_next_after_removal_and_collection() {
    // `for k in pairs(t) do t[k] = nil end` with collections in between: the loop keeps
    // the current key alive (here: root slots), the table no longer references it.
    let mut h = heap();
    let (t, keys) = mixed_table(&mut h);
    for &k in &keys {
        h.add_root(k);
    }
    let order: Vec<TValue> = entries(t).into_iter().map(|(k, _)| k).collect();
    let mut k = TValue::NIL;
    let mut visited = Vec::new();
    loop {
        // SAFETY: `t` and every key are rooted.
        match unsafe { table::next(t, k) } {
            Ok(Some((nk, _))) => {
                visited.push(nk);
                tset(&mut h, t, nk, TValue::NIL).unwrap();
                h.full_gc();
                k = nk;
            }
            Ok(None) => break,
            Err(e) => panic!("next({k:?}) after removing it and collecting: {e:?}"),
        }
    }
    assert_eq!(visited, order);
    assert_eq!(count(t), 0);
    // A removed (and collected-over) key can be stored again, and is there once.
    let s = *keys.iter().find(|k| k.is_str()).unwrap();
    tset(&mut h, t, s, num(7.0)).unwrap();
    assert_eq!(get(t, s), num(7.0));
    assert_eq!(entries(t), vec![(s, num(7.0))]);
    h.full_gc();
    assert_eq!(entries(t), vec![(s, num(7.0))]);
    // SAFETY: `t` and `s` are rooted.
    assert_eq!(unsafe { table::next(t, s) }, Ok(None));
}

#[test]
fn table_next_order_stable_under_reassignment() {
    let mut h = heap();
    let (t, keys) = mixed_table(&mut h);
    let before: Vec<TValue> = entries(t).into_iter().map(|(k, _)| k).collect();
    assert_eq!(before.len(), keys.len());

    // Reassign every visited key during the traversal: odd positions get a new value,
    // even positions are removed.
    let mut k = TValue::NIL;
    let mut during = Vec::new();
    // SAFETY: `t` is rooted; only existing keys are assigned.
    while let Some((nk, _)) = unsafe { table::next(t, k) }.expect("next") {
        let pos = during.len();
        during.push(nk);
        let v = if pos % 2 == 0 {
            TValue::NIL
        } else {
            num(1000.0 + pos as f64)
        };
        tset(&mut h, t, nk, v).unwrap();
        // Also reassign a key further ahead to its current value (must not move it).
        if let Some(&ahead) = before.get(pos + 3) {
            let cur = get(t, ahead);
            tset(&mut h, t, ahead, cur).unwrap();
        }
        k = nk;
    }
    assert_eq!(during, before, "traversal order changed under reassignment");

    let after = entries(t);
    let survivors: Vec<TValue> = before.iter().copied().skip(1).step_by(2).collect();
    assert_eq!(after.iter().map(|(k, _)| *k).collect::<Vec<_>>(), survivors);
    for (i, (_, v)) in after.iter().enumerate() {
        assert_eq!(*v, num(1000.0 + (2 * i + 1) as f64));
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Set(i64),
    Nil(i64),
    /// Set `a..=b`.
    Range(i64, i64),
    /// Clear `a..=b`.
    NilRange(i64, i64),
}

fn apply(h: &mut Heap, t: *mut GcTab, ops: &[Op]) {
    for &op in ops {
        let (a, b, v) = match op {
            Op::Set(i) => (i, i, TValue::TRUE),
            Op::Nil(i) => (i, i, TValue::NIL),
            Op::Range(a, b) => (a, b, TValue::TRUE),
            Op::NilRange(a, b) => (a, b, TValue::NIL),
        };
        for i in a..=b {
            tset_int(h, t, i, v).unwrap();
        }
    }
}

/// `#t` is a border: `t[n] ~= nil` (or `n == 0`) and `t[n+1] == nil`.
fn assert_border(t: *mut GcTab, n: u64, what: &str) {
    if n > 0 {
        assert!(
            !get_int(t, n as i64).is_nil(),
            "{what}: t[#t] is nil (#t = {n})"
        );
    }
    assert!(
        get_int(t, n as i64 + 1).is_nil(),
        "{what}: t[#t+1] is set (#t = {n})"
    );
}

#[test]
fn table_len_matches_luajit_for_integer_assignment() {
    use Op::*;
    let r = |a, b| Range(a, b);
    // (operations on a fresh `{}`, luajit 2.1's `#t`)
    let cases: Vec<(Vec<Op>, u64)> = vec![
        (vec![Set(1), Set(4)], 4),
        (vec![Set(1), Set(2), Set(4)], 4),
        (vec![Set(1), Set(2), Set(3), Set(5)], 3),
        (vec![Set(1), Set(3)], 1),
        (vec![Set(2)], 2),
        (vec![r(1, 4), Set(6)], 6),
        (vec![r(1, 10), Nil(5)], 10),
        (vec![r(1, 10), Nil(10), Nil(9)], 8),
        (vec![Set(0), Set(1), Set(3)], 1),
        (vec![r(1, 8), Set(20)], 8),
        (vec![r(1, 8), Set(12)], 12),
        (vec![r(1, 17), NilRange(2, 16), Set(40)], 1),
        (vec![Set(1), Set(3), Set(4)], 4),
        (vec![Set(3), Set(2), Set(1)], 3),
        (vec![Set(4), Set(3), Set(2)], 4),
        (
            vec![Set(1), Set(2), Set(3), Set(5), Set(6), Set(7), Set(9)],
            3,
        ),
        // The rehash at t[8] sees {1, 8, 100, 200}: index 8 alone fills exactly half of
        // (4, 8], which is not enough for an array part of 9 slots.
        (vec![Set(1), Set(100), Set(200), Set(8)], 1),
    ];
    let mut failures = Vec::new();
    for (ops, want) in &cases {
        let mut h = heap();
        let t = rooted_table(&mut h, 0, 0);
        apply(&mut h, t, ops);
        let got = len(t);
        let what = format!("{ops:?}");
        assert_border(t, got, &what);
        if got != *want {
            // SAFETY: `t` is rooted.
            let (asize, hmask) = unsafe { ((*t).asize, (*t).hmask) };
            failures.push(format!(
                "{what}: #t = {got}, luajit {want} (asize {asize}, hmask {hmask})"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn table_len_matches_luajit_for_constructors() {
    // `{1, 2, nil, 4}` etc.: luajit sizes the array part to n+1 slots for n items.
    let cases: [(u32, &[Option<f64>], u64); 3] = [
        (5, &[Some(1.0), Some(2.0), None, Some(4.0)], 4),
        (5, &[Some(1.0), Some(2.0), Some(3.0), None], 3),
        (4, &[None, None, Some(3.0)], 3),
    ];
    for (asize, items, want) in cases {
        let mut h = heap();
        let t = rooted_table(&mut h, asize, 0);
        for (i, item) in items.iter().enumerate() {
            let v = item.map_or(TValue::NIL, num);
            tset_int(&mut h, t, i as i64 + 1, v).unwrap();
        }
        // SAFETY: `t` is rooted.
        unsafe {
            assert_eq!((*t).asize, asize, "storing in range must not resize");
        }
        let got = len(t);
        assert_border(t, got, &format!("{items:?}"));
        assert_eq!(got, want, "{items:?}");
    }
}

#[test]
fn table_len_matches_luajit_with_integer_keys_in_hash_part() {
    // `table.new(narr, nhash)` is `new_table(narr > 0 ? narr + 1 : 0, ceil(log2(nhash)))`;
    // integer keys then land in free hash nodes without any rehash. Results from luajit 2.1.
    use Op::*;
    let cases: Vec<(u32, u32, Vec<Op>, u64)> = vec![
        (0, 4, vec![Range(1, 10)], 10),
        (0, 4, vec![Range(1, 10), Nil(5)], 10),
        (0, 4, vec![Range(1, 3), Range(5, 9)], 3),
        (4, 4, vec![Range(1, 12)], 12),
        (0, 4, vec![Range(1, 16)], 16),
        (
            0,
            4,
            vec![
                Set(16),
                Set(15),
                Set(14),
                Set(13),
                Set(12),
                Set(11),
                Set(10),
                Set(9),
                Range(1, 8),
                Nil(16),
            ],
            15,
        ),
    ];
    for (asize, hbits, ops, want) in &cases {
        let mut h = heap();
        let t = rooted_table(&mut h, *asize, *hbits);
        apply(&mut h, t, ops);
        // SAFETY: `t` is rooted.
        unsafe {
            assert_eq!((*t).asize, *asize, "{ops:?}: no rehash expected");
            assert_eq!((*t).hmask, (1 << hbits) - 1, "{ops:?}: no rehash expected");
        }
        let got = len(t);
        assert_border(t, got, &format!("{ops:?}"));
        assert_eq!(got, *want, "{ops:?} in new_table({asize}, {hbits})");
    }
    // Non-integer keys sharing the hash part do not disturb the border search.
    let mut h = heap();
    let t = rooted_table(&mut h, 0, 2);
    let x = rooted_str(&mut h, b"x");
    let y = rooted_str(&mut h, b"y");
    tset(&mut h, t, x, num(1.0)).unwrap();
    tset(&mut h, t, y, num(2.0)).unwrap();
    apply(&mut h, t, &[Set(1), Set(2)]);
    // SAFETY: `t` is rooted.
    unsafe { assert_eq!(((*t).asize, (*t).hmask), (0, 3)) };
    assert_eq!(len(t), 2);
}

#[test]
fn table_len_append_loop() {
    let mut h = heap();
    let t = rooted_table(&mut h, 0, 0);
    assert_eq!(len(t), 0);
    for n in 1..=1000u64 {
        let next = len(t) + 1;
        tset_int(&mut h, t, next as i64, num(n as f64)).unwrap();
        assert_eq!(len(t), n, "after appending element {n}");
        assert_eq!(get_int(t, n as i64), num(n as f64));
    }
    assert_eq!(count(t), 1000);
    // All 1000 ended up in the array part (indices 0..asize).
    // SAFETY: `t` is rooted.
    unsafe { assert!((*t).asize > 1000, "asize {}", (*t).asize) };
}

#[test]
fn table_grows_through_rehashes_with_100k_mixed_keys() {
    let mut h = heap();
    let t = rooted_table(&mut h, 0, 0);
    let n = 100_000usize;
    let mut dense = 0i64;
    // (key, value) in insertion order; every key distinct.
    let mut kv: Vec<(TValue, TValue)> = Vec::with_capacity(n + 20);
    for i in 0..n {
        let k = match i % 6 {
            0 | 1 => {
                dense += 1;
                num(dense as f64) // dense integers 1..=D
            }
            2 => num(-(i as f64) - 1.0),            // negative integers
            3 => num(i as f64 + 0.25),              // non-integral floats
            4 => num(i as f64 * 1_000_003.0 + 1e9), // sparse large integers
            _ => h.new_string(format!("key:{i}").as_bytes()).unwrap(), // strings
        };
        // Stored right away: a new string is only reachable through the table.
        tset(&mut h, t, k, num(i as f64)).unwrap();
        kv.push((k, num(i as f64)));
        if i % 10_000 == 0 {
            let kt = h.new_table(0, 0).unwrap();
            tset(&mut h, t, TValue::from_tab(kt), num(-(i as f64))).unwrap();
            kv.push((TValue::from_tab(kt), num(-(i as f64))));
        }
        if i % 997 == 0 {
            h.step(); // interleave incremental collector work with the growth
        }
    }
    tset(&mut h, t, TValue::TRUE, num(0.5)).unwrap();
    kv.push((TValue::TRUE, num(0.5)));
    let distinct: HashSet<u64> = kv.iter().map(|(k, _)| k.bits()).collect();
    assert_eq!(distinct.len(), kv.len(), "test keys must be distinct");
    assert_eq!(count(t), kv.len());
    h.full_gc();
    for &(k, v) in &kv {
        assert_eq!(get(t, k), v, "key {k:?}");
    }
    for j in 1..=dense {
        assert!(!get_int(t, j).is_nil(), "t[{j}]");
    }
    assert_eq!(len(t), dense as u64);
    // Every entry comes out of `next` exactly once with its value.
    let e = entries(t);
    assert_eq!(e.len(), kv.len());
    let seen: HashSet<u64> = e.iter().map(|(k, _)| k.bits()).collect();
    assert_eq!(seen, distinct);

    // Remove everything: nothing is allocated meanwhile, so every key stays valid.
    for &(k, _) in &kv {
        tset(&mut h, t, k, TValue::NIL).unwrap();
    }
    assert_eq!(count(t), 0);
    assert_eq!(len(t), 0);
    // SAFETY: `t` is rooted.
    assert_eq!(unsafe { table::next(t, TValue::NIL) }, Ok(None));
    for &(k, _) in kv.iter().step_by(101) {
        assert!(get(t, k).is_nil(), "key {k:?} after removal");
    }
}

#[test]
fn metamethod_negative_cache() {
    let mut h = heap();
    let mt = rooted_table(&mut h, 0, 0);
    let t = rooted_table(&mut h, 0, 0);
    let bit = |mm: MetaMethod| 1u8 << (mm as u8);
    // SAFETY: `mt` and `t` are rooted throughout.
    unsafe {
        h.set_table_metatable(t, mt);
        assert_eq!((*mt).nomm, 0);
        assert!(h.metamethod(mt, MetaMethod::Index).is_nil());
        assert_eq!((*mt).nomm, bit(MetaMethod::Index));
        assert!(h.metamethod(mt, MetaMethod::Len).is_nil());
        assert_eq!((*mt).nomm, bit(MetaMethod::Index) | bit(MetaMethod::Len));
        // Only the first eight metamethods are cached.
        assert!(h.metamethod(mt, MetaMethod::Concat).is_nil());
        assert_eq!((*mt).nomm, bit(MetaMethod::Index) | bit(MetaMethod::Len));
        assert!(h.metamethod(null_mut(), MetaMethod::Index).is_nil());

        // The metamethod names are the interned strings.
        let name = h.intern(b"__index").unwrap();
        assert_eq!(name, h.mm_name(MetaMethod::Index));
        let idx = rooted_table(&mut h, 0, 0);
        tset_str(&mut h, mt, name, TValue::from_tab(idx)).unwrap();
        assert_eq!((*mt).nomm, 0, "a store must clear the negative cache");
        assert_eq!(h.metamethod(mt, MetaMethod::Index), TValue::from_tab(idx));
        assert_eq!(
            (*mt).nomm,
            0,
            "a found metamethod must not be cached as absent"
        );

        // Any store clears the cache, including one into the array part.
        assert!(h.metamethod(mt, MetaMethod::Eq).is_nil());
        assert_ne!((*mt).nomm, 0);
        let arr = rooted_table(&mut h, 4, 0);
        assert!(h.metamethod(arr, MetaMethod::Gc).is_nil());
        assert_eq!((*arr).nomm, bit(MetaMethod::Gc));
        tset_int(&mut h, arr, 1, TValue::TRUE).unwrap();
        assert_eq!((*arr).nomm, 0);
        let eq = h.intern(b"__eq").unwrap();
        tset(&mut h, mt, TValue::from_gcstr(eq), TValue::TRUE).unwrap();
        assert_eq!((*mt).nomm, 0);
        assert_eq!(h.metamethod(mt, MetaMethod::Eq), TValue::TRUE);

        // Setting a metatable resets the target table's cache too.
        (*t).nomm = 0xFF;
        h.set_table_metatable(t, mt);
        assert_eq!((*t).nomm, 0);
        assert_eq!((*t).metatable, mt);
    }
}

// ---- 4. Memory limit -------------------------------------------------------------------------

#[test]
fn memory_limit_huge_objects_fail_then_recover() {
    let mut h = heap();
    let t = rooted_table(&mut h, 0, 0);
    let small = rooted_str(&mut h, b"small");
    let limit = h.total_bytes() + 64 * 1024;
    h.set_limit(limit);
    assert_eq!(h.limit(), limit);

    let big: Vec<u8> = (0..1usize << 20).map(|i| (i % 251) as u8).collect();
    let (strings_before, _, _) = h.string_table_stats();
    assert_eq!(h.intern(&big), Err(MemoryError));
    assert_eq!(h.new_string(&big), Err(MemoryError));
    assert_eq!(MemoryError.to_string(), "not enough memory");
    assert!(h.total_bytes() <= limit);
    let (strings_after, _, _) = h.string_table_stats();
    assert_eq!(
        strings_after, strings_before,
        "a failed intern left a string behind"
    );
    // A table with a 1M-slot array part does not fit either.
    assert!(h.new_table(1 << 20, 0).is_err());
    assert!(h.total_bytes() <= limit);

    // Small allocations still work under the limit; rooted objects survived the
    // emergency collections.
    let s2 = h.new_string(b"still fine").unwrap();
    tset(&mut h, t, s2, TValue::TRUE).unwrap();
    assert_eq!(h.new_string(b"small").unwrap(), small);
    assert_eq!(get(t, s2), TValue::TRUE);

    h.set_limit(usize::MAX);
    let s = h.intern(&big).unwrap();
    tset_str(&mut h, t, s, num(1.0)).unwrap();
    // SAFETY: `s` is held by `t`.
    unsafe {
        assert_eq!(GcStr::bytes(s), &big[..]);
        assert_eq!(*s.cast::<u8>().add(offsets::STR_DATA + big.len()), 0);
    }
    assert_eq!(h.intern(&big).unwrap(), s);
    let bt = h.new_table(1 << 20, 0).unwrap();
    tset_int(&mut h, bt, 1 << 19, TValue::TRUE).unwrap();
    // SAFETY: `bt` was just created; nothing allocated since.
    unsafe { assert_eq!((*bt).asize, 1 << 20) };
}

/// Insert `key(i)` for i = 1, 2, ... until the memory limit stops the table from
/// growing; check the failure leaves the table as it was; lift the limit and go on.
fn table_growth_hits_limit(key: fn(i64) -> TValue, array_like: bool) {
    let mut h = heap();
    let t = rooted_table(&mut h, 0, 0);
    let limit = h.total_bytes() + 64 * 1024;
    h.set_limit(limit);
    let mut i = 1i64;
    let err = loop {
        match tset(&mut h, t, key(i), num(i as f64)) {
            Ok(()) => i += 1,
            Err(e) => break e,
        }
        assert!(i < 1_000_000, "64 KiB of headroom held {i} entries");
    };
    assert_eq!(err, TabError::Memory);
    assert_eq!(err.to_string(), "not enough memory");
    assert!(h.total_bytes() <= limit);
    let stored = i - 1;
    assert!(stored > 100, "only {stored} entries fit");

    // SAFETY: `t` is rooted.
    let parts = unsafe { ((*t).asize, (*t).hmask, (*t).array, (*t).node) };
    let total = h.total_bytes();
    // Failing again changes nothing either.
    assert_eq!(
        tset(&mut h, t, key(i), num(i as f64)),
        Err(TabError::Memory)
    );
    // SAFETY: `t` is rooted.
    let parts2 = unsafe { ((*t).asize, (*t).hmask, (*t).array, (*t).node) };
    assert_eq!(parts, parts2, "a failed resize changed the table's parts");
    assert_eq!(h.total_bytes(), total, "a failed resize leaked accounting");
    assert_eq!(count(t), stored as usize);
    for j in 1..=stored {
        assert_eq!(get(t, key(j)), num(j as f64), "entry {j} after the failure");
    }
    assert!(get(t, key(i)).is_nil());
    if array_like {
        assert_eq!(len(t), stored as u64);
    }
    // Existing keys can still be overwritten and removed without memory.
    tset(&mut h, t, key(1), num(-1.0)).unwrap();
    assert_eq!(get(t, key(1)), num(-1.0));
    tset(&mut h, t, key(1), num(1.0)).unwrap();

    h.set_limit(usize::MAX);
    for j in i..=(2 * stored + 10) {
        tset(&mut h, t, key(j), num(j as f64)).unwrap();
    }
    for j in 1..=(2 * stored + 10) {
        assert_eq!(
            get(t, key(j)),
            num(j as f64),
            "entry {j} after lifting the limit"
        );
    }
    assert_eq!(count(t), (2 * stored + 10) as usize);
}

#[test]
fn memory_limit_array_growth_fails_and_table_stays_intact() {
    table_growth_hits_limit(|i| num(i as f64), true);
}

#[test]
fn memory_limit_hash_growth_fails_and_table_stays_intact() {
    table_growth_hits_limit(|i| num(i as f64 + 0.5), false);
}

#[test]
fn memory_limit_mixed_growth_fails_and_table_stays_intact() {
    // Mostly integers (array part) with every 8th key a float (hash part): a resize
    // allocates a small new hash part, then fails to grow the array part, and must give
    // the new hash part back and leave both parts as they were.
    table_growth_hits_limit(
        |i| {
            if i % 8 == 0 {
                num(i as f64 + 0.5)
            } else {
                num(i as f64)
            }
        },
        false,
    );
}

// ---- dead keys and reused addresses ----------------------------------------------------------

/// A string key removed from a table leaves its node behind. Once the string is
/// collected, a new string can be allocated at the same address (the same `TValue` bits,
/// another hash) whose main-position chain passes through that node. Storing the new
/// string, then moving the chain's other key out of the new string's main position,
/// must leave the new string reachable (luajit rechains such keys in `lj_tab_newkey`;
/// moonjet turns removed collectable keys into tombstones no new object can match).
#[test]
fn table_string_key_at_reused_address_survives_chain_move() {
    let mut h = heap();
    h.stop();
    let t = rooted_table(&mut h, 0, 3); // 8 nodes
                                        // SAFETY: `t` is rooted.
    let hmask = unsafe { (*t).hmask };
    assert_eq!(hmask, 7);

    // Learn the main positions of same-length candidate strings, then free them.
    let cand = |i: usize| format!("cand-{i:011}").into_bytes();
    let mut by_mp: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 8];
    for i in 0..4000 {
        let b = cand(i);
        let s = h.new_string(&b).unwrap();
        by_mp[(str_hash(s) & hmask) as usize].push(b);
    }
    let p = (0..6).find(|&m| by_mp[m].len() >= 3).expect("candidates");
    assert!(by_mp[6].len() >= 10);
    h.full_gc();
    h.stop();

    // Node p holds k0; the chain p -> 6 (k1) -> 7 (dead) is built by the free-node scan.
    let k0 = rooted_str(&mut h, &by_mp[p][0]);
    let dead = h.new_string(&by_mp[p][1]).unwrap();
    let dead_root = h.add_root(dead);
    let k1 = rooted_str(&mut h, &by_mp[p][2]);
    let k2 = rooted_str(&mut h, &by_mp[6][0]);
    tset(&mut h, t, k0, num(1.0)).unwrap();
    tset(&mut h, t, dead, num(2.0)).unwrap();
    tset(&mut h, t, k1, num(3.0)).unwrap();
    // SAFETY: `t` is rooted; nodes are read within hmask.
    unsafe {
        let node = (*t).node;
        assert_eq!((*node.add(p)).key, k0, "setup: layout");
        assert_eq!((*node.add(6)).key, k1, "setup: layout");
        assert_eq!((*node.add(7)).key, dead, "setup: layout");
        assert_eq!((*node.add(p)).next, node.add(6), "setup: chain");
        assert_eq!((*node.add(6)).next, node.add(7), "setup: chain");
    }

    // Remove the key and let its string be collected.
    tset(&mut h, t, dead, TValue::NIL).unwrap();
    h.remove_root(dead_root);
    let freed = h.freed_objects();
    h.full_gc();
    h.stop();
    assert!(
        h.freed_objects() > freed,
        "setup: the removed key was not collected"
    );

    // Allocate strings whose main position is node 6 until one reuses the address.
    let mut reborn = TValue::NIL;
    for b in &by_mp[6][1..] {
        let s = rooted_str(&mut h, b);
        if s.bits() == dead.bits() {
            reborn = s;
            break;
        }
    }
    if reborn.is_nil() && std::env::var_os("MOONJET_GC_SYSTEM_ALLOC").is_some() {
        // The system allocator (e.g. under valgrind) need not hand the address out again;
        // the small-block pool always does (its free lists are LIFO).
        eprintln!("skipped: the system allocator did not reuse the freed string's address");
        return;
    }
    assert!(
        !reborn.is_nil(),
        "setup: the pool did not reuse the freed string's address"
    );
    assert_eq!(str_hash(reborn) & hmask, 6);
    // No string-table resize left under way (see string_table_heap_drop_during_...):
    // this heap must be droppable while the assertions below unwind.
    h.full_gc();
    h.stop();

    tset(&mut h, t, reborn, num(42.0)).unwrap();
    assert_eq!(get(t, reborn), num(42.0));
    // k2's main position is node 6, held by k1 (main position p): k1 moves out.
    tset(&mut h, t, k2, num(5.0)).unwrap();
    assert_eq!(get(t, k0), num(1.0));
    assert_eq!(get(t, k1), num(3.0));
    assert_eq!(get(t, k2), num(5.0));
    // Regression (found at 613b0ec, fixed in d6fd819 by tombstoning removed keys): the
    // new string used to be found at the dead key's node in k1's chain, and moving k1 out
    // of node 6 left that node unreachable from the string's own main position.
    assert_eq!(
        get(t, reborn),
        num(42.0),
        "string key lost after chain move"
    );
    let e = entries(t);
    assert_eq!(e.len(), 4);
    assert!(e.contains(&(reborn, num(42.0))));
}
