//! Property tests: random mutations of an object graph (table stores, closures with open
//! and closed upvalues, stack stores, upvalue closes, new objects) interleaved with
//! incremental GC steps, checked against a model. After every operation each reachable
//! object must still hold exactly its modelled contents; after two full cycles the heap
//! must hold exactly the reachable objects (nothing unreachable survives, nothing
//! reachable is lost).

use moonjet_gc::object::{GcFunc, GcUpval};
use moonjet_gc::value::itype;
use moonjet_gc::{table, GcProto, GcTab, GcThread, Heap, ProtoSpec, TValue};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const STACK: usize = 8;
const ROOTS: usize = 3;
const NUPS: usize = 2;

#[derive(Clone, Debug, PartialEq)]
enum Val {
    Nil,
    Num(f64),
    Str(String),
    Obj(usize),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Int(i64),
    Str(String),
    Obj(usize),
}

#[derive(Clone, Debug)]
enum Kind {
    Table(BTreeMap<Key, Val>),
    Closure([Option<usize>; NUPS]),
    /// An upvalue: open on a stack slot, or closed with its own value.
    Upval {
        open: Option<usize>,
        value: Val,
    },
}

#[derive(Clone, Debug)]
enum Op {
    NewTable {
        into_root: usize,
    },
    Store {
        obj: usize,
        key: u8,
        val: u8,
    },
    StoreObjKey {
        obj: usize,
        key_obj: usize,
        val: u8,
    },
    Delete {
        obj: usize,
        key: u8,
    },
    StackStore {
        slot: usize,
        val: u8,
    },
    SetRoot {
        root: usize,
        val: u8,
    },
    NewClosure {
        slot: usize,
        up: usize,
        into_root: usize,
    },
    SetUpval {
        obj: usize,
        up: usize,
        val: u8,
    },
    Close {
        level: usize,
    },
    Garbage {
        n: u8,
    },
    Step {
        n: u8,
    },
    Full,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..ROOTS).prop_map(|into_root| Op::NewTable { into_root }),
        6 => (any::<usize>(), any::<u8>(), any::<u8>()).prop_map(|(obj, key, val)| Op::Store { obj, key, val }),
        2 => (any::<usize>(), any::<usize>(), any::<u8>()).prop_map(|(obj, key_obj, val)| Op::StoreObjKey { obj, key_obj, val }),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(obj, key)| Op::Delete { obj, key }),
        2 => (0..STACK, any::<u8>()).prop_map(|(slot, val)| Op::StackStore { slot, val }),
        2 => (0..ROOTS, any::<u8>()).prop_map(|(root, val)| Op::SetRoot { root, val }),
        2 => (0..STACK, 0..NUPS, 0..ROOTS).prop_map(|(slot, up, into_root)| Op::NewClosure { slot, up, into_root }),
        2 => (any::<usize>(), 0..NUPS, any::<u8>()).prop_map(|(obj, up, val)| Op::SetUpval { obj, up, val }),
        1 => (0..STACK).prop_map(|level| Op::Close { level }),
        2 => any::<u8>().prop_map(|n| Op::Garbage { n }),
        4 => any::<u8>().prop_map(|n| Op::Step { n }),
        1 => Just(Op::Full),
    ]
}

struct World {
    h: Box<Heap>,
    th: *mut GcThread,
    proto: *mut GcProto,
    /// Model objects by id, with their heap address.
    objs: Vec<(Kind, TValue)>,
    roots: [Val; ROOTS],
    root_ids: Vec<moonjet_gc::RootId>,
    stack: [Val; STACK],
    /// Objects alive in the heap before the test (fixed names, thread, proto, ...).
    baseline: u64,
}

impl World {
    fn new(stepmul: u32, stress: bool) -> World {
        let mut h = Heap::with_stress(stress);
        h.set_stepmul(stepmul);
        let th = h.new_thread(STACK + 4, std::ptr::null_mut()).unwrap();
        h.add_root(TValue::from_gc(th.cast(), itype::THREAD));
        // SAFETY: fresh thread with a stack of STACK+4 slots.
        unsafe { (*th).top = (*th).stack.add(STACK) };
        let name = h.intern(b"=model").unwrap();
        let proto = h
            .new_proto(&ProtoSpec {
                numparams: 0,
                framesize: 2,
                flags: 0,
                firstline: 0,
                numline: 0,
                chunkname: name,
                bc: &[0],
                kgc: &[],
                kn: &[],
                uv: &[0; NUPS],
                lineinfo: &[],
                uvnames: &[],
                varinfo: &[],
            })
            .unwrap();
        h.add_root(TValue::from_gc(proto.cast(), itype::PROTO));
        let root_ids = (0..ROOTS).map(|_| h.add_root(TValue::NIL)).collect();
        let baseline = h.live_objects();
        World {
            h,
            th,
            proto,
            objs: vec![],
            roots: [Val::Nil, Val::Nil, Val::Nil],
            root_ids,
            stack: std::array::from_fn(|_| Val::Nil),
            baseline,
        }
    }

    fn slot(&self, i: usize) -> *mut TValue {
        // SAFETY: i < STACK < stacksize.
        unsafe { (*self.th).stack.add(i) }
    }

    /// Modelled ids reachable from roots and the stack.
    fn reachable(&self) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut work: Vec<usize> = vec![];
        let push_val = |v: &Val, work: &mut Vec<usize>| {
            if let Val::Obj(i) = v {
                work.push(*i);
            }
        };
        for v in self.roots.iter().chain(self.stack.iter()) {
            push_val(v, &mut work);
        }
        while let Some(i) = work.pop() {
            if !seen.insert(i) {
                continue;
            }
            match &self.objs[i].0 {
                Kind::Table(m) => {
                    for (k, v) in m {
                        if let Key::Obj(j) = k {
                            work.push(*j);
                        }
                        push_val(v, &mut work);
                    }
                }
                Kind::Closure(ups) => work.extend(ups.iter().flatten()),
                Kind::Upval { open: Some(s), .. } => push_val(&self.stack[*s], &mut work),
                Kind::Upval { open: None, value } => push_val(value, &mut work),
            }
        }
        seen
    }

    /// Strings reachable in the model.
    fn reachable_strings(&self, live: &BTreeSet<usize>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut add = |v: &Val| {
            if let Val::Str(s) = v {
                out.insert(s.clone());
            }
        };
        self.roots
            .iter()
            .chain(self.stack.iter())
            .for_each(&mut add);
        for &i in live {
            match &self.objs[i].0 {
                Kind::Table(m) => {
                    for (k, v) in m {
                        if let Key::Str(s) = k {
                            add(&Val::Str(s.clone()));
                        }
                        add(v);
                    }
                }
                Kind::Upval { open: None, value } => add(value),
                _ => {}
            }
        }
        out
    }

    fn pick(&self, live: &BTreeSet<usize>, n: usize, want_table: bool) -> Option<usize> {
        let c: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&i| matches!(self.objs[i].0, Kind::Table(_)) == want_table)
            .collect();
        if c.is_empty() {
            None
        } else {
            Some(c[n % c.len()])
        }
    }

    /// A value choice: nil, a number, a string, or a live object.
    fn val(&self, live: &BTreeSet<usize>, v: u8) -> Val {
        match v % 4 {
            0 => Val::Nil,
            1 => Val::Num(v as f64),
            2 => Val::Str(format!("s{}", v % 16)),
            _ => {
                let c: Vec<usize> = live.iter().copied().collect();
                if c.is_empty() {
                    Val::Num(0.5)
                } else {
                    Val::Obj(c[v as usize % c.len()])
                }
            }
        }
    }

    fn key(v: u8) -> Key {
        match v % 3 {
            0 => Key::Int((v % 12) as i64 + 1),
            1 => Key::Int((v as i64) * 7 - 300),
            _ => Key::Str(format!("k{}", v % 8)),
        }
    }

    fn value_tv(&mut self, v: &Val) -> TValue {
        match v {
            Val::Nil => TValue::NIL,
            Val::Num(n) => TValue::from_f64(*n),
            Val::Str(s) => self.h.new_string(s.as_bytes()).unwrap(),
            Val::Obj(i) => self.objs[*i].1,
        }
    }

    fn key_tv(&mut self, k: &Key) -> TValue {
        match k {
            Key::Int(i) => TValue::from_f64(*i as f64),
            Key::Str(s) => self.h.new_string(s.as_bytes()).unwrap(),
            Key::Obj(i) => self.objs[*i].1,
        }
    }

    /// Store into a table in heap and model. The key string is anchored in the table
    /// slot before the value string is made (either may trigger a collection).
    fn table_store(&mut self, t: usize, k: Key, v: Val) {
        let tp = self.objs[t].1.as_tab().unwrap();
        let ktv = self.key_tv(&k);
        if matches!(v, Val::Str(_)) {
            unsafe { table::set(&mut self.h, tp, ktv, TValue::TRUE) }.unwrap();
        }
        let vtv = self.value_tv(&v);
        unsafe { table::set(&mut self.h, tp, ktv, vtv) }.unwrap();
        let Kind::Table(m) = &mut self.objs[t].0 else {
            unreachable!()
        };
        if v == Val::Nil {
            m.remove(&k);
        } else {
            m.insert(k, v);
        }
    }

    fn apply(&mut self, op: &Op) {
        let live = self.reachable();
        match *op {
            Op::NewTable { into_root } => {
                let t = self.h.new_table(0, 0).unwrap();
                self.objs
                    .push((Kind::Table(BTreeMap::new()), TValue::from_tab(t)));
                self.roots[into_root] = Val::Obj(self.objs.len() - 1);
                self.h
                    .set_root(self.root_ids[into_root], TValue::from_tab(t));
            }
            Op::Store { obj, key, val } => {
                if let Some(t) = self.pick(&live, obj, true) {
                    let v = self.val(&live, val);
                    self.table_store(t, Self::key(key), v);
                }
            }
            Op::StoreObjKey { obj, key_obj, val } => {
                if let (Some(t), Some(k)) =
                    (self.pick(&live, obj, true), self.pick(&live, key_obj, true))
                {
                    let v = self.val(&live, val);
                    self.table_store(t, Key::Obj(k), v);
                }
            }
            Op::Delete { obj, key } => {
                if let Some(t) = self.pick(&live, obj, true) {
                    let keys: Vec<Key> = match &self.objs[t].0 {
                        Kind::Table(m) => m.keys().cloned().collect(),
                        _ => unreachable!(),
                    };
                    if !keys.is_empty() {
                        let k = keys[key as usize % keys.len()].clone();
                        self.table_store(t, k, Val::Nil);
                    }
                }
            }
            Op::StackStore { slot, val } => {
                let v = self.val(&live, val);
                let tv = self.value_tv(&v);
                // SAFETY: slot < STACK.
                unsafe { *self.slot(slot) = tv };
                self.stack[slot] = v;
            }
            Op::SetRoot { root, val } => {
                let v = self.val(&live, val);
                let tv = self.value_tv(&v);
                self.h.set_root(self.root_ids[root], tv);
                self.roots[root] = v;
            }
            Op::NewClosure {
                slot,
                up,
                into_root,
            } => {
                let f =
                    unsafe { self.h.new_lua_closure(self.proto, std::ptr::null_mut()) }.unwrap();
                let fv = TValue::from_gc(f.cast(), itype::FUNC);
                // Anchor the closure before the upvalue allocation can collect.
                self.h.set_root(self.root_ids[into_root], fv);
                self.objs.push((Kind::Closure([None; NUPS]), fv));
                let fid = self.objs.len() - 1;
                self.roots[into_root] = Val::Obj(fid);
                let uv = unsafe { self.h.find_upvalue(self.th, self.slot(slot)) }.unwrap();
                unsafe { self.h.set_closure_upvalue(f, up, uv) };
                let uid = self.upval_id(uv, slot);
                let Kind::Closure(ups) = &mut self.objs[fid].0 else {
                    unreachable!()
                };
                ups[up] = Some(uid);
            }
            Op::SetUpval { obj, up, val } => {
                if let Some(f) = self.pick(&live, obj, false) {
                    let Kind::Closure(ups) = self.objs[f].0.clone() else {
                        return;
                    };
                    let Some(u) = ups[up] else { return };
                    let v = self.val(&live, val);
                    let tv = self.value_tv(&v);
                    let uvp: *mut GcUpval = self.objs[u].1.gc_ptr().cast();
                    unsafe { self.h.set_upvalue(uvp, tv) };
                    match &mut self.objs[u].0 {
                        Kind::Upval { open: Some(s), .. } => self.stack[*s] = v,
                        Kind::Upval { open: None, value } => *value = v,
                        _ => unreachable!(),
                    }
                }
            }
            Op::Close { level } => {
                let lv = self.slot(level);
                unsafe { self.h.close_upvalues(self.th, lv) };
                for (kind, _) in self.objs.iter_mut() {
                    if let Kind::Upval {
                        open: Some(s),
                        value,
                    } = kind
                    {
                        if *s >= level {
                            *value = self.stack[*s].clone();
                            *kind = Kind::Upval {
                                open: None,
                                value: value.clone(),
                            };
                        }
                    }
                }
            }
            Op::Garbage { n } => {
                for i in 0..n as usize % 32 {
                    let t = self.h.new_table(0, 0).unwrap();
                    if i % 3 == 0 {
                        let k = self.h.new_string(format!("garbage{i}").as_bytes()).unwrap();
                        unsafe { table::set(&mut self.h, t, k, TValue::TRUE) }.unwrap();
                    }
                }
            }
            Op::Step { n } => {
                for _ in 0..(n % 8) + 1 {
                    self.h.step();
                }
            }
            Op::Full => self.h.full_gc(),
        }
    }

    /// The model id of a heap upvalue (the heap shares one upvalue per open slot).
    fn upval_id(&mut self, uv: *mut GcUpval, slot: usize) -> usize {
        let v = TValue::from_gc(uv.cast(), itype::UPVAL);
        let live = self.reachable();
        for &i in &live {
            if self.objs[i].1 == v {
                return i;
            }
        }
        // A fresh upvalue (or one the model had lost track of, which the heap freed).
        self.objs.push((
            Kind::Upval {
                open: Some(slot),
                value: Val::Nil,
            },
            v,
        ));
        self.objs.len() - 1
    }

    fn check_val(&self, got: TValue, want: &Val) {
        match want {
            Val::Nil => assert!(got.is_nil(), "want nil, got {got:?}"),
            Val::Num(n) => assert_eq!(got.as_number(), Some(*n)),
            // SAFETY: a reachable string is live.
            Val::Str(s) => assert_eq!(
                unsafe { moonjet_gc::GcStr::bytes(got.as_str().expect("a string")) },
                s.as_bytes()
            ),
            Val::Obj(i) => assert_eq!(got, self.objs[*i].1),
        }
    }

    /// Every reachable object holds exactly its modelled contents.
    fn check_contents(&mut self) {
        let live = self.reachable();
        for (i, v) in self.stack.iter().enumerate() {
            // SAFETY: i < STACK.
            self.check_val(unsafe { *self.slot(i) }, v);
        }
        for &i in &live {
            let (kind, tv) = self.objs[i].clone();
            match kind {
                Kind::Table(m) => {
                    let t: *mut GcTab = tv.as_tab().unwrap();
                    // SAFETY: reachable tables are live.
                    assert_eq!(unsafe { table::count(t) }, m.len());
                    for (k, v) in &m {
                        let kt = match k {
                            Key::Int(n) => TValue::from_f64(*n as f64),
                            Key::Str(s) => self.h.new_string(s.as_bytes()).unwrap(),
                            Key::Obj(j) => self.objs[*j].1,
                        };
                        // SAFETY: as above.
                        self.check_val(unsafe { table::get(t, kt) }, v);
                    }
                }
                Kind::Closure(ups) => {
                    let f: *mut GcFunc = tv.gc_ptr().cast();
                    for (n, u) in ups.iter().enumerate() {
                        // SAFETY: reachable closures are live with NUPS upvalue slots.
                        let got = unsafe { *GcFunc::lua_upvals(f).add(n) };
                        match u {
                            Some(u) => assert_eq!(got.cast(), self.objs[*u].1.gc_ptr()),
                            None => assert!(got.is_null()),
                        }
                    }
                }
                Kind::Upval { open, value } => {
                    let uv: *mut GcUpval = tv.gc_ptr().cast();
                    // SAFETY: reachable upvalues are live.
                    unsafe {
                        assert_eq!((*uv).closed != 0, open.is_none());
                        let want = match open {
                            Some(s) => self.stack[s].clone(),
                            None => value,
                        };
                        self.check_val(*(*uv).v, &want);
                    }
                }
            }
        }
    }

    /// After two full cycles the heap holds exactly what the model can reach.
    fn check_exact_population(&mut self) {
        self.h.full_gc();
        self.h.full_gc();
        let live = self.reachable();
        let strings = self.reachable_strings(&live);
        let expected = self.baseline + live.len() as u64 + strings.len() as u64;
        assert_eq!(
            self.h.live_objects(),
            expected,
            "live objects: {} reachable objects, {} strings",
            live.len(),
            strings.len()
        );
    }
}

fn run(ops: &[Op], stepmul: u32) {
    let mut w = World::new(stepmul, false);
    for op in ops {
        w.apply(op);
        w.check_contents();
    }
    w.check_exact_population();
    w.check_contents();
}

/// 512 cases unless PROPTEST_CASES says otherwise (CI uses fewer under valgrind).
fn config() -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 512;
    }
    c
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn graph_mutations_with_incremental_steps(ops in prop::collection::vec(op(), 1..300)) {
        run(&ops, 1);
    }

    #[test]
    fn graph_mutations_with_coarse_steps(ops in prop::collection::vec(op(), 1..300)) {
        run(&ops, 200);
    }
}

#[test]
fn graph_mutations_under_stress_mode() {
    // A fixed long sequence with a full cycle at every allocation.
    let mut ops = vec![];
    for i in 0..400usize {
        ops.push(match i % 9 {
            0 => Op::NewTable {
                into_root: i % ROOTS,
            },
            1 | 2 => Op::Store {
                obj: i,
                key: i as u8,
                val: (i * 7) as u8,
            },
            3 => Op::StoreObjKey {
                obj: i,
                key_obj: i / 2,
                val: (i * 3) as u8 | 3,
            },
            4 => Op::NewClosure {
                slot: i % STACK,
                up: i % NUPS,
                into_root: (i / 3) % ROOTS,
            },
            5 => Op::SetUpval {
                obj: i,
                up: i % NUPS,
                val: (i * 5) as u8,
            },
            6 => Op::StackStore {
                slot: i % STACK,
                val: (i * 11) as u8,
            },
            7 => Op::Close {
                level: (i / 7) % STACK,
            },
            _ => Op::Delete {
                obj: i,
                key: i as u8,
            },
        });
    }
    let mut w = World::new(200, true);
    for op in &ops {
        w.apply(op);
        w.check_contents();
    }
    w.check_exact_population();
}
