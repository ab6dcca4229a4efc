//! The collector's rules: reachability, incremental steps, barriers, upvalues, threads,
//! weak tables, finalizers, traces and zombies, accounting and the memory limit.

use moonjet_gc::object::{mark, GcFunc, GcTrace, GcUdata, GcUpval};
use moonjet_gc::value::itype;
use moonjet_gc::{table, GcState, GcTab, Heap, MemoryError, ProtoSpec, TValue, TraceCode};
use std::cell::Cell;
use std::rc::Rc;

fn is_black(o: *mut moonjet_gc::GcHeader) -> bool {
    unsafe { (*o).marked & mark::BLACK != 0 }
}

fn heap() -> Box<Heap> {
    Heap::with_stress(false)
}

fn tab(h: &mut Heap) -> *mut GcTab {
    h.new_table(0, 0).unwrap()
}

fn tv(t: *mut GcTab) -> TValue {
    TValue::from_tab(t)
}

fn s(h: &mut Heap, text: &str) -> TValue {
    h.new_string(text.as_bytes()).unwrap()
}

fn num(n: f64) -> TValue {
    TValue::from_f64(n)
}

/// Run two full cycles: anything unreachable is gone afterwards.
fn collect(h: &mut Heap) {
    h.full_gc();
    h.full_gc();
}

/// A udata value.
fn ud(u: *mut GcUdata) -> TValue {
    TValue::from_gc(u.cast(), itype::UDATA)
}

fn func_value(f: *mut GcFunc) -> TValue {
    TValue::from_gc(f.cast(), itype::FUNC)
}

/// Objects alive in a fresh heap (metamethod names, finalizer table).
fn baseline() -> u64 {
    heap().live_objects()
}

#[test]
fn unreachable_objects_are_freed_and_reachable_ones_kept() {
    let mut h = heap();
    let base = h.live_objects();
    let keep = tab(&mut h);
    let r = h.add_root(tv(keep));
    for i in 0..100 {
        let child = tab(&mut h);
        unsafe { table::set_int(&mut h, keep, i + 1, tv(child)) }.unwrap();
        let _garbage = tab(&mut h);
    }
    collect(&mut h);
    assert_eq!(h.live_objects(), base + 101);
    unsafe {
        assert_eq!(table::len(keep), 100);
        assert!(table::get_int(keep, 50).is_tab());
    }
    h.remove_root(r);
    collect(&mut h);
    assert_eq!(h.live_objects(), base);
}

#[test]
fn accounting_returns_to_baseline_after_collection() {
    let mut h = heap();
    h.stop();
    let before = h.total_bytes();
    for i in 0..1000 {
        let t = h.new_table(8, 3).unwrap();
        unsafe { table::set_int(&mut h, t, 1, num(i as f64)) }.unwrap();
        s(&mut h, &format!("garbage string {i}"));
    }
    assert!(h.total_bytes() > before + 1000 * 64);
    collect(&mut h);
    assert_eq!(h.total_bytes(), before);
    assert!(h.high_water() > before + 1000 * 64);
}

#[test]
fn incremental_steps_finish_cycles_and_free_garbage() {
    let mut h = heap();
    let base = h.live_objects();
    let keep = tab(&mut h);
    h.add_root(tv(keep));
    for i in 0..2000 {
        let t = tab(&mut h);
        if i % 2 == 0 {
            unsafe { table::set_int(&mut h, keep, i / 2 + 1, tv(t)) }.unwrap();
        }
    }
    let cycles = h.cycles();
    let mut steps = 0;
    while !h.step() {
        steps += 1;
        assert!(steps < 100_000, "a cycle must finish");
    }
    assert!(
        steps > 1,
        "a cycle over 2000 objects takes more than one step"
    );
    assert_eq!(h.cycles(), cycles + 1);
    assert_eq!(h.state(), GcState::Pause);
    // One cycle started from pause frees everything unreachable at its atomic phase.
    assert_eq!(h.live_objects(), base + 1001);
}

#[test]
fn gc_check_runs_the_collector_as_allocation_proceeds() {
    let mut h = heap();
    let base = h.live_objects();
    let before = h.cycles();
    for _ in 0..200_000 {
        tab(&mut h);
    }
    assert!(h.cycles() > before, "allocation debt must drive cycles");
    // Garbage never accumulates without bound: well under what was allocated.
    assert!(h.live_objects() - base < 100_000, "{}", h.live_objects());
}

#[test]
fn strings_live_while_referenced_as_keys_or_values() {
    let mut h = heap();
    let t = tab(&mut h);
    h.add_root(tv(t));
    let k = s(&mut h, "a key string");
    let v = s(&mut h, "a value string");
    unsafe { table::set(&mut h, t, k, v) }.unwrap();
    s(&mut h, "unreferenced");
    let (count_before, ..) = h.string_table_stats();
    collect(&mut h);
    let (count_after, ..) = h.string_table_stats();
    assert_eq!(count_after, count_before - 1);
    let k2 = s(&mut h, "a key string");
    assert_eq!(k2, k, "the live key is still the interned string");
    let v = unsafe { table::get(t, k2) };
    assert_eq!(
        unsafe { moonjet_gc::GcStr::bytes(v.as_str().unwrap()) },
        b"a value string"
    );
}

#[test]
fn dead_keys_do_not_keep_objects_alive() {
    let mut h = heap();
    let base = h.live_objects();
    let t = tab(&mut h);
    h.add_root(tv(t));
    let key = tab(&mut h);
    unsafe { table::set(&mut h, t, tv(key), num(1.0)) }.unwrap();
    unsafe { table::set(&mut h, t, tv(key), TValue::NIL) }.unwrap();
    collect(&mut h);
    assert_eq!(
        h.live_objects(),
        base + 1,
        "the removed key's table is freed"
    );
    // The dead node is reusable by a new key.
    let key2 = tab(&mut h);
    unsafe { table::set(&mut h, t, tv(key2), num(2.0)) }.unwrap();
    assert_eq!(unsafe { table::get(t, tv(key2)) }, num(2.0));
}

fn proto(h: &mut Heap, kgc: &[TValue], nup: usize) -> *mut moonjet_gc::GcProto {
    let name = h.intern(b"@test.lua").unwrap();
    let uv = vec![0u16; nup];
    h.new_proto(&ProtoSpec {
        numparams: 0,
        framesize: 4,
        flags: 0,
        firstline: 1,
        numline: 3,
        chunkname: name,
        bc: &[1, 2, 3],
        kgc,
        kn: &[1.5, 2.5],
        uv: &uv,
        lineinfo: &[1, 2, 3],
        uvnames: &[],
        varinfo: &[],
    })
    .unwrap()
}

#[test]
fn closures_keep_their_proto_constants_and_upvalues() {
    let mut h = heap();
    let base = h.live_objects();
    let holder = tab(&mut h);
    let r = h.add_root(tv(holder));
    let kstr = s(&mut h, "constant");
    unsafe { table::set_int(&mut h, holder, 1, kstr) }.unwrap();
    let p = proto(&mut h, &[kstr], 2);
    unsafe { table::set_int(&mut h, holder, 2, TValue::from_gc(p.cast(), itype::PROTO)) }.unwrap();
    let f = unsafe { h.new_lua_closure(p, holder) }.unwrap();
    unsafe { table::set_int(&mut h, holder, 3, func_value(f)) }.unwrap();
    unsafe { table::set_int(&mut h, holder, 1, TValue::NIL) }.unwrap();
    unsafe { table::set_int(&mut h, holder, 2, TValue::NIL) }.unwrap();
    let captured = tab(&mut h);
    unsafe { table::set_int(&mut h, holder, 4, tv(captured)) }.unwrap();
    let uv = h.new_closed_upvalue(tv(captured)).unwrap();
    unsafe { h.set_closure_upvalue(f, 0, uv) };
    unsafe { table::set_int(&mut h, holder, 4, TValue::NIL) }.unwrap();
    collect(&mut h);
    // holder, name, constant, proto, closure, upvalue, captured table
    assert_eq!(h.live_objects(), base + 7);
    unsafe {
        assert_eq!(*(*p).kgc, kstr);
        assert_eq!(*(*p).kn.add(1), 2.5);
        assert_eq!(std::slice::from_raw_parts((*p).bc, 3), &[1, 2, 3]);
        let uvs = GcFunc::lua_upvals(f);
        assert_eq!(*uvs, uv);
        assert!(
            (*uvs.add(1)).is_null(),
            "unset upvalue slots stay null and are skipped"
        );
        assert_eq!(*(*uv).v, tv(captured));
    }
    h.remove_root(r);
    collect(&mut h);
    assert_eq!(h.live_objects(), base);
}

#[test]
fn native_closure_upvalues_are_roots_of_their_values() {
    let mut h = heap();
    let base = h.live_objects();
    let f = h
        .new_native_closure(std::ptr::null(), 1, 2, std::ptr::null_mut())
        .unwrap();
    let r = h.add_root(func_value(f));
    let t = tab(&mut h);
    unsafe { h.set_native_upvalue(f, 1, tv(t)) };
    collect(&mut h);
    assert_eq!(h.live_objects(), base + 2);
    unsafe { assert_eq!(*GcFunc::native_upvals(f).add(1), tv(t)) };
    h.remove_root(r);
    collect(&mut h);
    assert_eq!(h.live_objects(), base);
}

#[test]
fn thread_stack_below_top_is_a_root_and_above_top_is_cleared() {
    let mut h = heap();
    let base = h.live_objects();
    let th = h.new_thread(16, std::ptr::null_mut()).unwrap();
    h.add_root(TValue::from_gc(th.cast(), itype::THREAD));
    unsafe {
        let stack = (*th).stack;
        let a = tab(&mut h);
        *stack = tv(a);
        (*th).top = stack.add(1);
        let b = tab(&mut h);
        *stack.add(5) = tv(b); // above top: not a root
        collect(&mut h);
        assert_eq!(h.live_objects(), base + 2, "thread and the table below top");
        assert_eq!(*stack, tv(a));
        assert!(
            (*stack.add(5)).is_nil(),
            "slots above top are cleared atomically"
        );
    }
}

#[test]
fn open_upvalues_alias_stack_slots_and_close_with_their_value() {
    let mut h = heap();
    let th = h.new_thread(16, std::ptr::null_mut()).unwrap();
    h.add_root(TValue::from_gc(th.cast(), itype::THREAD));
    unsafe {
        let stack = (*th).stack;
        (*th).top = stack.add(8);
        let uv3 = h.find_upvalue(th, stack.add(3)).unwrap();
        let uv1 = h.find_upvalue(th, stack.add(1)).unwrap();
        let uv5 = h.find_upvalue(th, stack.add(5)).unwrap();
        assert_eq!(
            h.find_upvalue(th, stack.add(3)).unwrap(),
            uv3,
            "one upvalue per slot"
        );
        // Sorted highest slot first.
        assert_eq!((*th).openupval, uv5);
        h.set_upvalue(uv3, num(33.0));
        assert_eq!(
            *stack.add(3),
            num(33.0),
            "an open upvalue writes the stack slot"
        );
        *stack.add(1) = num(11.0);
        assert_eq!(*(*uv1).v, num(11.0));
        h.close_upvalues(th, stack.add(2));
        assert_eq!((*uv3).closed, 1);
        assert_eq!((*uv5).closed, 1);
        assert_eq!((*uv1).closed, 0);
        assert_eq!(*(*uv3).v, num(33.0));
        *stack.add(3) = num(0.0);
        assert_eq!(
            *(*uv3).v,
            num(33.0),
            "a closed upvalue no longer aliases the slot"
        );
        assert_eq!((*th).openupval, uv1);
    }
}

#[test]
fn closure_keeps_open_upvalue_value_alive_after_its_thread_dies() {
    let mut h = heap();
    let th = h.new_thread(8, std::ptr::null_mut()).unwrap();
    let rth = h.add_root(TValue::from_gc(th.cast(), itype::THREAD));
    let p = proto(&mut h, &[], 1);
    let rp = h.add_root(TValue::from_gc(p.cast(), itype::PROTO));
    let f = unsafe { h.new_lua_closure(p, std::ptr::null_mut()) }.unwrap();
    let rf = h.add_root(func_value(f));
    unsafe {
        let stack = (*th).stack;
        (*th).top = stack.add(2);
        let captured = tab(&mut h);
        *stack.add(1) = tv(captured);
        table::set_int(&mut h, captured, 1, num(42.0)).unwrap();
        let uv = h.find_upvalue(th, stack.add(1)).unwrap();
        h.set_closure_upvalue(f, 0, uv);
        // The thread becomes unreachable; the closure is the only way to the value.
        h.remove_root(rth);
        collect(&mut h);
        assert_eq!((*uv).closed, 1, "freeing the thread closed its upvalue");
        let v = *(*uv).v;
        assert_eq!(v, tv(captured));
        assert_eq!(table::get_int(captured, 1), num(42.0));
    }
    h.remove_root(rf);
    h.remove_root(rp);
}

#[test]
fn unreferenced_open_upvalues_of_a_live_thread_are_freed() {
    let mut h = heap();
    let th = h.new_thread(8, std::ptr::null_mut()).unwrap();
    h.add_root(TValue::from_gc(th.cast(), itype::THREAD));
    let before = h.live_objects();
    unsafe {
        let stack = (*th).stack;
        (*th).top = stack.add(4);
        h.find_upvalue(th, stack.add(2)).unwrap();
        h.find_upvalue(th, stack.add(1)).unwrap();
        assert_eq!(h.live_objects(), before + 2);
        collect(&mut h);
        assert_eq!(h.live_objects(), before);
        assert!((*th).openupval.is_null());
        // And the list is usable afterwards.
        let uv = h.find_upvalue(th, stack.add(2)).unwrap();
        assert_eq!((*th).openupval, uv);
    }
}

#[test]
fn resizing_a_stack_relocates_open_upvalues() {
    let mut h = heap();
    let th = h.new_thread(8, std::ptr::null_mut()).unwrap();
    h.add_root(TValue::from_gc(th.cast(), itype::THREAD));
    unsafe {
        let stack = (*th).stack;
        (*th).top = stack.add(4);
        *stack.add(3) = num(7.0);
        let uv = h.find_upvalue(th, stack.add(3)).unwrap();
        let delta = h.resize_stack(th, 100_000).unwrap();
        let nstack = (*th).stack;
        assert_eq!(nstack as isize - stack as isize, delta);
        assert_eq!((*uv).v, nstack.add(3));
        assert_eq!(*(*uv).v, num(7.0));
        assert_eq!((*th).top, nstack.add(4));
        assert!((*nstack.add(99_999)).is_nil());
        assert_eq!((*th).stacksize, 100_000);
        assert!(h.resize_stack(th, 2).is_err(), "cannot shrink below top");
    }
}

fn weak_table(h: &mut Heap, mode: &str) -> *mut GcTab {
    let t = tab(h);
    let mt = tab(h);
    let k = h.mm_name(moonjet_gc::MetaMethod::Mode);
    let m = s(h, mode);
    unsafe { table::set_str(h, mt, k, m) }.unwrap();
    unsafe { h.set_table_metatable(t, mt) };
    t
}

#[test]
fn weak_values_are_cleared_but_strings_and_live_values_stay() {
    let mut h = heap();
    let w = weak_table(&mut h, "v");
    h.add_root(tv(w));
    let live = tab(&mut h);
    h.add_root(tv(live));
    let dead = tab(&mut h);
    unsafe { table::set_int(&mut h, w, 1, tv(live)) }.unwrap();
    unsafe { table::set_int(&mut h, w, 2, tv(dead)) }.unwrap();
    let k = s(&mut h, "dead");
    unsafe { table::set(&mut h, w, k, tv(dead)) }.unwrap();
    let str_val = s(&mut h, "a string value");
    unsafe { table::set_int(&mut h, w, 3, str_val) }.unwrap();
    unsafe { table::set_int(&mut h, w, 4, num(4.0)) }.unwrap();
    collect(&mut h);
    unsafe {
        assert_eq!(table::get_int(w, 1), tv(live));
        assert!(table::get_int(w, 2).is_nil());
        assert!(table::get(w, s(&mut h, "dead")).is_nil());
        assert_eq!(table::get_int(w, 3), str_val, "strings are never cleared");
        assert_eq!(table::get_int(w, 4), num(4.0));
    }
}

#[test]
fn weak_keys_are_cleared_and_strong_values_keep_their_key() {
    let mut h = heap();
    let w = weak_table(&mut h, "k");
    h.add_root(tv(w));
    let dead_key = tab(&mut h);
    let value = tab(&mut h);
    unsafe { table::set(&mut h, w, tv(dead_key), tv(value)) }.unwrap();
    // A key referenced from its own (strong) value survives: Lua 5.1 has no ephemerons.
    let self_key = tab(&mut h);
    let holder = tab(&mut h);
    unsafe { table::set_int(&mut h, holder, 1, tv(self_key)) }.unwrap();
    unsafe { table::set(&mut h, w, tv(self_key), tv(holder)) }.unwrap();
    let live_key = tab(&mut h);
    h.add_root(tv(live_key));
    unsafe { table::set(&mut h, w, tv(live_key), num(1.0)) }.unwrap();
    collect(&mut h);
    unsafe {
        assert_eq!(table::count(w), 2);
        assert_eq!(table::get(w, tv(live_key)), num(1.0));
        assert_eq!(table::get(w, tv(self_key)), tv(holder));
    }
}

#[test]
fn weak_kv_table_keeps_only_entries_with_both_sides_live() {
    let mut h = heap();
    let w = weak_table(&mut h, "kv");
    h.add_root(tv(w));
    let a = tab(&mut h);
    let b = tab(&mut h);
    h.add_root(tv(a));
    unsafe { table::set(&mut h, w, tv(a), tv(b)) }.unwrap(); // value dies
    let c = tab(&mut h);
    unsafe { table::set(&mut h, w, tv(c), tv(a)) }.unwrap(); // key dies
    unsafe { table::set(&mut h, w, tv(a), tv(a)) }.unwrap();
    collect(&mut h);
    unsafe {
        assert_eq!(table::count(w), 1);
        assert_eq!(table::get(w, tv(a)), tv(a));
    }
}

#[test]
fn weak_table_filled_during_incremental_marking_keeps_strong_parts() {
    // A weak-keys table stays gray; a value stored after its traversal must still be
    // marked (it is re-traversed in the atomic phase).
    let mut h = heap();
    h.set_stepmul(1);
    let w = weak_table(&mut h, "k");
    h.add_root(tv(w));
    let key = tab(&mut h);
    h.add_root(tv(key));
    for _ in 0..500 {
        tab(&mut h);
    }
    h.step(); // marks roots
    while h.state() == GcState::Propagate && unsafe { (*w).marked } & mark::WEAKKEY == 0 {
        h.step();
    }
    let value = tab(&mut h);
    unsafe { table::set_int(&mut h, value, 1, num(9.0)) }.unwrap();
    unsafe { table::set(&mut h, w, tv(key), tv(value)) }.unwrap();
    collect(&mut h);
    unsafe {
        assert_eq!(table::get(w, tv(key)), tv(value));
        assert_eq!(table::get_int(value, 1), num(9.0));
    }
}

fn gc_metatable(h: &mut Heap) -> *mut GcTab {
    let mt = tab(h);
    let gc = h.mm_name(moonjet_gc::MetaMethod::Gc);
    unsafe { table::set_str(h, mt, gc, TValue::TRUE) }.unwrap();
    mt
}

fn tag_of_udata(v: TValue) -> u8 {
    unsafe { *GcUdata::payload(v.gc_ptr().cast()) }
}

fn run_finalizers(h: &mut Heap) -> Vec<(TValue, TValue)> {
    let mut out = vec![];
    while let Some(f) = h.take_finalizable() {
        out.push((f.object, f.finalizer));
    }
    out
}

#[test]
fn finalizers_run_newest_first_udata_then_cdata() {
    let mut h = heap();
    let mt = gc_metatable(&mut h);
    h.add_root(tv(mt));
    let fin = s(&mut h, "cdata finalizer");
    h.add_root(fin);
    let anchor = tab(&mut h);
    let ra = h.add_root(tv(anchor));
    for i in 1..=3u8 {
        let u = h.new_udata(1, std::ptr::null_mut()).unwrap();
        unsafe { *GcUdata::payload(u) = i };
        unsafe { h.set_udata_metatable(u, mt) };
        unsafe { table::set_int(&mut h, anchor, i as i64, ud(u)) }.unwrap();
        let c = h.new_cdata(7, 1).unwrap();
        unsafe { *moonjet_gc::GcCdata::payload(c) = 10 + i };
        unsafe { h.set_cdata_finalizer(c, fin) }.unwrap();
        unsafe {
            table::set_int(
                &mut h,
                anchor,
                10 + i as i64,
                TValue::from_gc(c.cast(), itype::CDATA),
            )
        }
        .unwrap();
    }
    h.remove_root(ra);
    h.full_gc();
    let order: Vec<String> = run_finalizers(&mut h)
        .into_iter()
        .map(|(o, f)| {
            if o.is_udata() {
                assert_eq!(f, TValue::TRUE, "udata finalizer is the metatable's __gc");
                format!("ud{}", tag_of_udata(o))
            } else {
                assert_eq!(f, fin);
                format!(
                    "cd{}",
                    unsafe { *moonjet_gc::GcCdata::payload(o.gc_ptr().cast()) } - 10
                )
            }
        })
        .collect();
    assert_eq!(order, ["ud3", "ud2", "ud1", "cd3", "cd2", "cd1"]);
}

#[test]
fn finalizer_runs_once_and_resurrection_is_safe() {
    let mut h = heap();
    let base = h.live_objects();
    let mt = gc_metatable(&mut h);
    let rmt = h.add_root(tv(mt));
    let u = h.new_udata(8, std::ptr::null_mut()).unwrap();
    unsafe { h.set_udata_metatable(u, mt) };
    let env = tab(&mut h);
    unsafe { table::set_int(&mut h, env, 1, num(5.0)) }.unwrap();
    unsafe { (*u).env = env };
    h.full_gc();
    let due = run_finalizers(&mut h);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].0, ud(u));
    // The finalizer stores its object somewhere reachable: it lives on, intact.
    let r = h.add_root(ud(u));
    collect(&mut h);
    assert!(
        run_finalizers(&mut h).is_empty(),
        "a finalizer never runs twice"
    );
    unsafe {
        assert_eq!((*u).metatable, mt);
        assert_eq!(table::get_int((*u).env, 1), num(5.0));
        assert!((*u).marked & mark::FINALIZED != 0);
    }
    h.remove_root(r);
    collect(&mut h);
    assert!(run_finalizers(&mut h).is_empty());
    h.remove_root(rmt);
    collect(&mut h);
    assert_eq!(h.live_objects(), base);
}

#[test]
fn finalizable_objects_stay_alive_until_taken() {
    let mut h = heap();
    let mt = gc_metatable(&mut h);
    h.add_root(tv(mt));
    let u = h.new_udata(4, std::ptr::null_mut()).unwrap();
    unsafe { h.set_udata_metatable(u, mt) };
    let payload_tab = tab(&mut h);
    unsafe { table::set_int(&mut h, payload_tab, 1, num(3.0)) }.unwrap();
    unsafe { h.set_udata_metatable(u, mt) };
    unsafe { (*u).env = payload_tab };
    h.full_gc();
    assert_eq!(h.pending_finalizers(), 1);
    // More cycles before the runtime gets round to it: the object must survive them.
    collect(&mut h);
    collect(&mut h);
    let due = run_finalizers(&mut h);
    assert_eq!(due.len(), 1);
    unsafe { assert_eq!(table::get_int((*u).env, 1), num(3.0)) };
    assert_eq!(h.pending_finalizers(), 0);
}

#[test]
fn finalized_udata_leave_weak_values_but_not_weak_keys() {
    let mut h = heap();
    let mt = gc_metatable(&mut h);
    h.add_root(tv(mt));
    let wv = weak_table(&mut h, "v");
    h.add_root(tv(wv));
    let wk = weak_table(&mut h, "k");
    h.add_root(tv(wk));
    let u = h.new_udata(1, std::ptr::null_mut()).unwrap();
    unsafe { h.set_udata_metatable(u, mt) };
    unsafe { table::set_int(&mut h, wv, 1, ud(u)) }.unwrap();
    unsafe { table::set(&mut h, wk, ud(u), num(1.0)) }.unwrap();
    h.full_gc();
    unsafe {
        assert!(
            table::get_int(wv, 1).is_nil(),
            "removed from weak values at separation"
        );
        assert_eq!(
            table::get(wk, ud(u)),
            num(1.0),
            "still a weak key until really dead"
        );
    }
    assert_eq!(run_finalizers(&mut h).len(), 1);
    collect(&mut h);
    unsafe { assert_eq!(table::count(wk), 0) };
}

#[test]
fn udata_without_gc_and_removed_cdata_finalizers_are_not_finalized() {
    let mut h = heap();
    let base = h.live_objects();
    h.new_udata(16, std::ptr::null_mut()).unwrap();
    let c = h.new_cdata(1, 8).unwrap();
    let r = h.add_root(TValue::from_gc(c.cast(), itype::CDATA));
    let f = s(&mut h, "fin");
    unsafe { h.set_cdata_finalizer(c, f) }.unwrap();
    unsafe { h.set_cdata_finalizer(c, TValue::NIL) }.unwrap();
    h.remove_root(r);
    collect(&mut h);
    assert!(run_finalizers(&mut h).is_empty());
    assert_eq!(h.live_objects(), base);
}

#[test]
fn cdata_finalizer_keeps_its_function_alive_but_not_its_cdata() {
    let mut h = heap();
    let c = h.new_cdata(1, 8).unwrap();
    let r = h.add_root(TValue::from_gc(c.cast(), itype::CDATA));
    let fin = tab(&mut h); // any value: the runtime calls it
    unsafe { table::set_int(&mut h, fin, 1, num(8.0)) }.unwrap();
    unsafe { h.set_cdata_finalizer(c, tv(fin)) }.unwrap();
    collect(&mut h);
    assert!(
        run_finalizers(&mut h).is_empty(),
        "a reachable cdata is not finalized"
    );
    unsafe { assert_eq!(table::get_int(fin, 1), num(8.0)) };
    h.remove_root(r);
    h.full_gc();
    let due = run_finalizers(&mut h);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].1, tv(fin));
    unsafe { assert_eq!(table::get_int(fin, 1), num(8.0)) };
}

/// Trace code that counts its releases.
struct CountedCode(Rc<Cell<u32>>);

impl TraceCode for CountedCode {
    fn release(self: Box<Self>) {
        self.0.set(self.0.get() + 1);
    }
}

fn trace(
    h: &mut Heap,
    pt: *mut moonjet_gc::GcProto,
    kgc: &[TValue],
) -> (*mut GcTrace, Rc<Cell<u32>>) {
    let released = Rc::new(Cell::new(0));
    let tr = h
        .new_trace(pt, kgc, Box::new(CountedCode(released.clone())))
        .unwrap();
    (tr, released)
}

#[test]
fn flushed_trace_code_is_released_only_at_a_safe_point_and_once() {
    let mut h = heap();
    let (tr, released) = trace(&mut h, std::ptr::null_mut(), &[]);
    let no = unsafe { h.register_trace(tr) }.unwrap();
    assert_eq!(h.trace(no), tr);
    collect(&mut h);
    assert_eq!(released.get(), 0, "a registered trace is live");
    // Trace code is running: flushing it must not free the code under its feet.
    h.trace_code_entered();
    unsafe { h.flush_trace(tr) };
    assert!(h.trace(no).is_null());
    assert_eq!(h.zombie_count(), 1);
    collect(&mut h);
    collect(&mut h);
    assert_eq!(
        released.get(),
        0,
        "zombie code survives collections while trace code runs"
    );
    assert_eq!(h.reap_zombies_if_safe(), 0, "not a safe point");
    h.trace_code_left();
    assert_eq!(h.reap_zombies_if_safe(), 1);
    assert_eq!(released.get(), 1);
    assert_eq!(h.reap_zombies(), 0);
    collect(&mut h);
    assert_eq!(released.get(), 1, "never released twice");
    assert_eq!(h.live_objects(), baseline());
}

#[test]
fn the_end_of_a_cycle_releases_zombie_code_when_no_trace_runs() {
    let mut h = heap();
    let (tr, released) = trace(&mut h, std::ptr::null_mut(), &[]);
    unsafe { h.register_trace(tr) }.unwrap();
    unsafe { h.flush_trace(tr) };
    assert_eq!(released.get(), 0, "flushing alone releases nothing");
    collect(&mut h);
    assert_eq!(released.get(), 1);
    assert_eq!(h.zombie_count(), 0);
    collect(&mut h);
    assert_eq!(released.get(), 1, "never released twice");
    assert_eq!(h.live_objects(), baseline());
}

#[test]
fn live_trace_keeps_its_constants_and_proto_alive() {
    let mut h = heap();
    let base = h.live_objects();
    let pt = proto(&mut h, &[], 0);
    let rp = h.add_root(TValue::from_gc(pt.cast(), itype::PROTO));
    let k = s(&mut h, "embedded constant");
    let kt = tab(&mut h);
    let (tr, released) = trace(&mut h, pt, &[k, tv(kt)]);
    unsafe { h.register_trace(tr) }.unwrap();
    collect(&mut h);
    // proto, its chunk name, trace, string, table
    assert_eq!(h.live_objects(), base + 5);
    assert_eq!(h.live_traces(), 1);
    assert_eq!(released.get(), 0);
    // The prototype dies: its trace is taken out of service and keeps nothing alive.
    // (A running trace holds back the release of its code.)
    h.trace_code_entered();
    h.remove_root(rp);
    collect(&mut h);
    assert_eq!(h.live_traces(), 0);
    assert_eq!(h.zombie_count(), 1);
    assert_eq!(released.get(), 0);
    assert_eq!(h.live_objects(), base + 1, "only the zombie itself remains");
    h.trace_code_left();
    h.reap_zombies_if_safe();
    assert_eq!(released.get(), 1);
    collect(&mut h);
    assert_eq!(h.live_objects(), base);
}

#[test]
fn linked_traces_stay_alive_through_their_links() {
    let mut h = heap();
    let pa = proto(&mut h, &[], 0);
    h.add_root(TValue::from_gc(pa.cast(), itype::PROTO));
    let pb = proto(&mut h, &[], 0);
    let rb = h.add_root(TValue::from_gc(pb.cast(), itype::PROTO));
    let (a, rel_a) = trace(&mut h, pa, &[]);
    let (b, rel_b) = trace(&mut h, pb, &[]);
    unsafe { h.register_trace(a) }.unwrap();
    unsafe { h.register_trace(b) }.unwrap();
    unsafe { (*a).link = b };
    unsafe { h.barrier_trace(a) };
    h.remove_root(rb);
    collect(&mut h);
    assert_eq!(
        h.live_traces(),
        2,
        "b is reached through a's link, and so is its proto"
    );
    assert_eq!(rel_a.get() + rel_b.get(), 0);
    h.flush_all_traces();
    assert_eq!(h.reap_zombies(), 2);
    assert_eq!((rel_a.get(), rel_b.get()), (1, 1));
}

#[test]
fn dropping_the_heap_releases_remaining_trace_code() {
    let released;
    {
        let mut h = heap();
        let (tr, r) = trace(&mut h, std::ptr::null_mut(), &[]);
        unsafe { h.register_trace(tr) }.unwrap();
        let (_zombie, r2) = trace(&mut h, std::ptr::null_mut(), &[]);
        released = (r, r2);
    }
    assert_eq!((released.0.get(), released.1.get()), (1, 1));
}

#[test]
fn backward_barrier_keeps_values_stored_into_black_tables() {
    let mut h = heap();
    h.set_stepmul(1);
    let t = tab(&mut h);
    h.add_root(tv(t));
    for _ in 0..300 {
        let x = tab(&mut h);
        h.add_root(tv(x));
    }
    h.step();
    while !is_black(t.cast()) {
        assert_eq!(h.state(), GcState::Propagate);
        h.step();
    }
    assert!(h.state().is_marking());
    let fresh = tab(&mut h);
    unsafe { table::set_int(&mut h, fresh, 1, num(1.0)) }.unwrap();
    unsafe { table::set_int(&mut h, t, 1, tv(fresh)) }.unwrap();
    assert_eq!(
        unsafe { (*t).marked } & mark::BLACK,
        0,
        "the barrier turned the table gray"
    );
    while !h.step() {}
    collect(&mut h);
    unsafe { assert_eq!(table::get_int(fresh, 1), num(1.0)) };
}

#[test]
fn forward_barrier_keeps_values_stored_into_black_upvalues() {
    let mut h = heap();
    h.set_stepmul(1);
    let uv = h.new_closed_upvalue(TValue::NIL).unwrap();
    h.add_root(TValue::from_gc(uv.cast(), itype::UPVAL));
    for _ in 0..300 {
        let x = tab(&mut h);
        h.add_root(tv(x));
    }
    h.step();
    assert!(
        unsafe { (*uv).marked } & mark::BLACK != 0,
        "closed upvalues are blackened at once"
    );
    let fresh = tab(&mut h);
    unsafe { table::set_int(&mut h, fresh, 1, num(2.0)) }.unwrap();
    unsafe { h.set_upvalue(uv, tv(fresh)) };
    assert_eq!(
        unsafe { (*fresh).marked } & mark::WHITES,
        0,
        "the barrier marked the value"
    );
    while !h.step() {}
    collect(&mut h);
    unsafe {
        assert_eq!(*(*uv).v, tv(fresh));
        assert_eq!(table::get_int(fresh, 1), num(2.0));
    }
}

#[test]
fn a_string_dead_in_this_cycle_can_be_interned_again_before_its_sweep() {
    let mut h = heap();
    // One unit of work per step: entering the string sweep sweeps only the first batch of
    // chains, so a string in the upper half of the table is still unswept then.
    h.set_stepmul(1);
    let keep = tab(&mut h);
    h.add_root(tv(keep));
    let (_, chains, _) = h.string_table_stats();
    let (bytes, first) = (0..)
        .map(|i| format!("resurrected string {i}"))
        .find_map(|b| {
            let v = h.new_string(b.as_bytes()).unwrap();
            let hash = unsafe { (*v.as_str().unwrap()).hash } as usize;
            (hash & (chains - 1) >= chains / 2).then_some((b, v))
        })
        .unwrap();
    while h.state() != GcState::Pause {
        h.step();
    }
    h.step();
    while h.state() != GcState::SweepString {
        h.step();
    }
    let again = h.new_string(bytes.as_bytes()).unwrap();
    assert_eq!(again, first, "the dead string is found and made live");
    unsafe { table::set_int(&mut h, keep, 1, again) }.unwrap();
    collect(&mut h);
    let v = unsafe { table::get_int(keep, 1) };
    assert_eq!(
        unsafe { moonjet_gc::GcStr::bytes(v.as_str().unwrap()) },
        bytes.as_bytes()
    );
}

#[test]
fn memory_limit_is_an_error_and_the_heap_stays_usable() {
    let mut h = heap();
    let t = tab(&mut h);
    h.add_root(tv(t));
    h.set_limit(h.total_bytes() + 256 * 1024);
    let mut n = 0i64;
    let err = loop {
        match h.new_table(16, 0) {
            Ok(x) => {
                n += 1;
                if let Err(e) = unsafe { table::set_int(&mut h, t, n, tv(x)) } {
                    break e == moonjet_gc::TabError::Memory;
                }
            }
            Err(MemoryError) => break true,
        }
    };
    assert!(err);
    assert!(h.total_bytes() <= h.limit());
    assert!(n > 100);
    unsafe { assert!(table::get_int(t, n - 1).is_tab()) };
    // Garbage makes room: a full collection runs before an allocation fails.
    for i in 1..=n {
        unsafe { table::set_int(&mut h, t, i, TValue::NIL) }.unwrap();
    }
    let again = h.new_table(16, 0);
    assert!(again.is_ok(), "freeing garbage at the limit makes room");
    h.set_limit(usize::MAX);
    for _ in 0..1000 {
        tab(&mut h);
    }
}

#[test]
fn huge_allocations_fail_cleanly() {
    let mut h = heap();
    assert!(h.new_udata(usize::MAX / 2, std::ptr::null_mut()).is_err());
    assert!(h.new_cdata(1, 1 << 40).is_err());
    assert!(h.new_table(u32::MAX, 0).is_err());
    assert!(h.new_thread(usize::MAX / 8, std::ptr::null_mut()).is_err());
    h.set_limit(h.total_bytes() + 1024);
    assert!(h.new_udata(1 << 20, std::ptr::null_mut()).is_err());
    h.set_limit(usize::MAX);
    assert!(h.new_udata(1 << 20, std::ptr::null_mut()).is_ok());
}

#[test]
fn collectgarbage_options_behave_like_luajit() {
    let mut h = heap();
    assert_eq!(h.set_pause(150), 200);
    assert_eq!(h.set_pause(200), 150);
    assert_eq!(h.set_stepmul(400), 200);
    assert_eq!(h.set_stepmul(200), 400);
    assert!(h.is_running());
    h.stop();
    assert!(!h.is_running());
    let cycles = h.cycles();
    for _ in 0..100_000 {
        tab(&mut h);
    }
    assert_eq!(h.cycles(), cycles, "a stopped collector does not run");
    let kb = h.count_kb();
    assert!(kb > 100_000.0 * 64.0 / 1024.0);
    assert_eq!(kb, h.total_bytes() as f64 / 1024.0);
    h.restart();
    assert!(h.is_running());
    let mut finished = false;
    for _ in 0..10_000 {
        if h.step_kb(0.0) {
            finished = true;
            break;
        }
    }
    assert!(finished, "step returns true when a cycle finishes");
    assert!(h.count_kb() < kb / 10.0);
    // A big step request finishes a cycle in one call.
    for _ in 0..10_000 {
        tab(&mut h);
    }
    assert!(h.step_kb(1e9));
}

#[test]
fn stress_mode_collects_at_every_allocation() {
    let mut h = Heap::with_stress(true);
    let base = h.live_objects();
    let t = tab(&mut h);
    h.add_root(tv(t));
    let c0 = h.cycles();
    for i in 1..=50 {
        let x = tab(&mut h);
        unsafe { table::set_int(&mut h, t, i, tv(x)) }.unwrap();
        tab(&mut h); // garbage
    }
    assert!(h.cycles() - c0 >= 100, "one full cycle per allocation");
    // At most the last garbage table is still around.
    assert!(h.live_objects() <= base + 52);
    unsafe { assert_eq!(table::len(t), 50) };
}

#[test]
fn string_table_grows_and_shrinks() {
    let mut h = heap();
    let (_, chains0, _) = h.string_table_stats();
    let t = tab(&mut h);
    let r = h.add_root(tv(t));
    for i in 0..10_000 {
        let v = s(&mut h, &format!("str{i}"));
        unsafe { table::set_int(&mut h, t, i + 1, v) }.unwrap();
    }
    let (count, chains, longest) = h.string_table_stats();
    assert!(count >= 10_000);
    assert!(chains >= count / 2 && chains > chains0);
    assert!(longest < 16, "longest chain {longest}");
    h.remove_root(r);
    collect(&mut h);
    collect(&mut h);
    let (count2, chains2, _) = h.string_table_stats();
    assert!(count2 < 100);
    assert!(chains2 < chains, "the table shrinks after a sweep");
}

#[test]
fn metamethod_names_are_fixed() {
    let mut h = heap();
    let gc = h.mm_name(moonjet_gc::MetaMethod::Gc);
    collect(&mut h);
    assert_eq!(h.intern(b"__gc").unwrap(), gc);
    assert!(unsafe { (*gc).marked } & mark::FIXED != 0);
    assert_eq!(unsafe { moonjet_gc::GcStr::bytes(gc) }, b"__gc");
}

#[test]
fn upvalue_pointer_is_stable_for_jit_reads() {
    let mut h = heap();
    let uv: *mut GcUpval = h.new_closed_upvalue(num(1.0)).unwrap();
    h.add_root(TValue::from_gc(uv.cast(), itype::UPVAL));
    collect(&mut h);
    unsafe {
        let tv_addr = (uv as *mut u8).add(moonjet_gc::object::offsets::UPVAL_TV) as *mut TValue;
        assert_eq!((*uv).v, tv_addr);
        assert_eq!(*tv_addr, num(1.0));
    }
}

#[test]
fn strings_stay_interned_once_during_incremental_resizes() {
    let mut h = heap();
    let t = tab(&mut h);
    h.add_root(tv(t));
    let mut ptrs = vec![];
    // Each growth moves only a few chains per intern: re-intern everything after every
    // insertion batch, so lookups happen while old and new arrays coexist.
    for i in 0..5000 {
        let v = s(&mut h, &format!("string {i}"));
        unsafe { table::set_int(&mut h, t, i + 1, v) }.unwrap();
        ptrs.push(v);
        if i % 97 == 0 {
            for (j, p) in ptrs.iter().enumerate() {
                assert_eq!(
                    s(&mut h, &format!("string {j}")),
                    *p,
                    "string {j} interned twice"
                );
            }
        }
    }
    let (count, chains, _) = h.string_table_stats();
    assert!(chains >= count / 2);
    for (j, p) in ptrs.iter().enumerate() {
        assert_eq!(unsafe { table::get_int(t, j as i64 + 1) }, *p);
    }
}

#[test]
fn removed_keys_become_tombstones_that_next_still_accepts() {
    let mut h = heap();
    let t = tab(&mut h);
    h.add_root(tv(t));
    let keys: Vec<TValue> = (0..8).map(|i| s(&mut h, &format!("key {i}"))).collect();
    let holder = tab(&mut h);
    h.add_root(tv(holder));
    for (i, k) in keys.iter().enumerate() {
        unsafe { table::set_int(&mut h, holder, i as i64 + 1, *k) }.unwrap();
        unsafe { table::set(&mut h, t, *k, num(i as f64)) }.unwrap();
    }
    // Remove every other key during a traversal, with collections in between: the
    // removed keys turn into tombstones, and `next` continues from each of them.
    let mut seen = 0;
    let mut k = TValue::NIL;
    while let Some((nk, _)) = unsafe { table::next(t, k) }.unwrap() {
        seen += 1;
        if seen % 2 == 0 {
            unsafe { table::set(&mut h, t, nk, TValue::NIL) }.unwrap();
            collect(&mut h);
        }
        k = nk;
    }
    assert_eq!(seen, 8);
    unsafe {
        assert_eq!(table::count(t), 4);
        let tombstones = (0..=(*t).hmask as usize)
            .filter(|&i| (*(*t).node.add(i)).key.is_dead_key())
            .count();
        assert_eq!(
            tombstones, 4,
            "each removed string key is a tombstone after a collection"
        );
        for k in &keys {
            assert!(
                !table::get(t, k.dead_key()).is_number(),
                "tombstones are never found as keys"
            );
        }
    }
}
