use moonjet_gc::{table, Heap, TValue};

#[test]
fn smoke_tables_strings_collect() {
    let mut h = Heap::with_stress(false);
    let t = h.new_table(0, 0).unwrap();
    let root = h.add_root(TValue::from_tab(t));
    for i in 0..1000 {
        let s = h.new_string(format!("k{i}").as_bytes()).unwrap();
        unsafe { table::set(&mut h, t, s, TValue::from_f64(i as f64)) }.unwrap();
        unsafe { table::set_int(&mut h, t, i + 1, s) }.unwrap();
    }
    for _ in 0..10000 {
        let _ = h.new_table(0, 0).unwrap();
    }
    h.full_gc();
    h.full_gc();
    for i in 0..1000 {
        let s = h.new_string(format!("k{i}").as_bytes()).unwrap();
        unsafe {
            assert_eq!(table::get(t, s).as_number(), Some(i as f64));
            assert_eq!(table::get_int(t, i + 1), s);
            assert_eq!(table::len(t), 1000);
        }
    }
    h.remove_root(root);
    h.full_gc();
    h.full_gc();
    // Only the fixed metamethod names and the finalizer table remain.
    assert!(h.live_objects() < 30, "{}", h.live_objects());
}
