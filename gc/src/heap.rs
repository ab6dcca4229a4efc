//! The heap: every collectable object of one Lua state, its accounting, and the roots
//! the runtime hands it.
//!
//! Object creation functions run the GC check first (so a new object is never at risk
//! in the step its own allocation triggers; everything else the caller holds must be
//! reachable from a root or a thread stack), then allocate. The exceptions are
//! prototypes and traces, built from lists of references the caller may hold only in
//! Rust: they allocate without collecting. Growth of an existing object
//! (array parts, hash parts, stacks) never runs the collector. Every allocation is
//! accounted in `total`; one that would pass `limit` first forces a full collection (for
//! new objects) and then fails with [`MemoryError`]: the caller raises "not enough memory".
//!
//! Raw pointers to objects stay valid while the object is reachable: from a root slot
//! (`add_root`), a thread's stack below `top`, or another reachable object.

use crate::alloc::Pool;
use crate::collector::GcState;
use crate::object::*;
use crate::strtab::StrTab;
use crate::value::{itype, TValue};
use std::ptr::null_mut;

/// An allocation would pass the memory limit, or the system is out of memory.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MemoryError;

impl std::fmt::Display for MemoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not enough memory")
    }
}

impl std::error::Error for MemoryError {}

pub type GcResult<T> = Result<T, MemoryError>;

/// Metamethods the heap knows by name. The first eight are cached in a table's `nomm`
/// byte (bit set: known absent).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MetaMethod {
    Index,
    NewIndex,
    Gc,
    Mode,
    Eq,
    Len,
    Lt,
    Le,
    Concat,
    Call,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Unm,
    Metatable,
    ToString,
    New,
}

impl MetaMethod {
    pub const ALL: [MetaMethod; 20] = [
        MetaMethod::Index,
        MetaMethod::NewIndex,
        MetaMethod::Gc,
        MetaMethod::Mode,
        MetaMethod::Eq,
        MetaMethod::Len,
        MetaMethod::Lt,
        MetaMethod::Le,
        MetaMethod::Concat,
        MetaMethod::Call,
        MetaMethod::Add,
        MetaMethod::Sub,
        MetaMethod::Mul,
        MetaMethod::Div,
        MetaMethod::Mod,
        MetaMethod::Pow,
        MetaMethod::Unm,
        MetaMethod::Metatable,
        MetaMethod::ToString,
        MetaMethod::New,
    ];

    pub fn name(self) -> &'static str {
        [
            "__index",
            "__newindex",
            "__gc",
            "__mode",
            "__eq",
            "__len",
            "__lt",
            "__le",
            "__concat",
            "__call",
            "__add",
            "__sub",
            "__mul",
            "__div",
            "__mod",
            "__pow",
            "__unm",
            "__metatable",
            "__tostring",
            "__new",
        ][self as usize]
    }
}

/// Handle of a root slot (see [`Heap::add_root`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RootId(pub(crate) usize);

/// An object whose finalizer is due: call `finalizer(object)` (skip if nil).
#[derive(Copy, Clone, Debug)]
pub struct Finalizable {
    pub object: TValue,
    pub finalizer: TValue,
}

/// Initial `pause`/`stepmul` as LuaJIT's.
pub const DEFAULT_PAUSE: u32 = 200;
pub const DEFAULT_STEPMUL: u32 = 200;

pub struct Heap {
    pub(crate) pool: Pool,
    // Accounting.
    pub(crate) total: usize,
    pub(crate) threshold: usize,
    pub(crate) debt: usize,
    pub(crate) estimate: usize,
    pub(crate) limit: usize,
    pub(crate) high: usize,
    pub(crate) pause: u32,
    pub(crate) stepmul: u32,
    pub(crate) stress: bool,
    /// Objects freed so far (for tests and statistics).
    pub(crate) freed_objects: u64,
    pub(crate) live_objects: u64,
    pub(crate) cycles: u64,

    // Collector state.
    pub(crate) state: GcState,
    pub(crate) currentwhite: u8,
    /// Every object but strings (in the string table) and userdata.
    pub(crate) root: *mut GcHeader,
    /// Userdata, so the atomic phase scans only them for finalizers.
    pub(crate) udata: *mut GcHeader,
    /// The last object the sweep kept (null: at the head of the list being swept).
    pub(crate) sweep: *mut GcHeader,
    pub(crate) sweeping_udata: bool,
    pub(crate) sweepstr: usize,
    pub(crate) gray: *mut GcHeader,
    pub(crate) grayagain: *mut GcHeader,
    pub(crate) weak: *mut GcHeader,
    /// Userdata and cdata awaiting their finalizer, in finalization order (via `nextgc`).
    pub(crate) mmudata_head: *mut GcHeader,
    pub(crate) mmudata_tail: *mut GcHeader,
    pub(crate) mmudata_len: usize,
    /// How many of the queued finalizers the collector has released to the runtime.
    pub(crate) finalize_granted: usize,
    /// cdata -> finalizer (`ffi.gc`). Keys are weak, values strong; entries are removed
    /// only explicitly, when the finalizer is taken or replaced.
    pub(crate) cdata_fin: *mut GcTab,
    /// All open upvalues of all threads (doubly linked through `prev`/`next`).
    pub(crate) uvhead: *mut GcUpval,

    pub(crate) strings: StrTab,
    pub(crate) mmnames: [*mut GcStr; MetaMethod::ALL.len()],
    pub(crate) roots: Vec<TValue>,
    pub(crate) free_roots: Vec<usize>,

    /// Trace registry: index = trace number (slot 0 unused).
    pub(crate) traces: Vec<*mut GcTrace>,
    /// Traces taken out of service whose code is not released yet (via `gclist`).
    pub(crate) zombies: *mut GcHeader,
    /// Activations of trace code on the Rust stack (entered and not yet left): while
    /// nonzero, zombie code may still be executing and is not released.
    pub(crate) running_traces: u32,
}

impl Heap {
    /// A new heap. `MOONJET_GC_STRESS=1` in the environment turns on stress mode;
    /// `MOONJET_GC_SYSTEM_ALLOC=1` gives every block its own system allocation (for
    /// valgrind and sanitizers) instead of the small-block pool.
    pub fn new() -> Box<Heap> {
        let stress =
            std::env::var_os("MOONJET_GC_STRESS").is_some_and(|v| v != "0" && !v.is_empty());
        Heap::with_stress(stress)
    }

    pub fn with_stress(stress: bool) -> Box<Heap> {
        let system_alloc =
            std::env::var_os("MOONJET_GC_SYSTEM_ALLOC").is_some_and(|v| v != "0" && !v.is_empty());
        let mut h = Box::new(Heap {
            pool: Pool::new(!system_alloc),
            total: 0,
            threshold: usize::MAX,
            debt: 0,
            estimate: 0,
            limit: usize::MAX,
            high: 0,
            pause: DEFAULT_PAUSE,
            stepmul: DEFAULT_STEPMUL,
            stress,
            freed_objects: 0,
            live_objects: 0,
            cycles: 0,
            state: GcState::Pause,
            currentwhite: mark::WHITE0,
            root: null_mut(),
            udata: null_mut(),
            sweep: null_mut(),
            sweeping_udata: false,
            sweepstr: 0,
            gray: null_mut(),
            grayagain: null_mut(),
            weak: null_mut(),
            mmudata_head: null_mut(),
            mmudata_tail: null_mut(),
            mmudata_len: 0,
            finalize_granted: 0,
            cdata_fin: null_mut(),
            uvhead: null_mut(),
            strings: StrTab::new(),
            mmnames: [null_mut(); MetaMethod::ALL.len()],
            roots: Vec::new(),
            free_roots: Vec::new(),
            traces: vec![null_mut()],
            zombies: null_mut(),
            running_traces: 0,
        });
        // Creating these small fixed objects cannot pass an unlimited limit.
        crate::strtab::init(&mut h).expect("string table");
        for mm in MetaMethod::ALL {
            let s = h.intern(mm.name().as_bytes()).expect("metamethod name");
            // SAFETY: `s` was just created and is live.
            unsafe { (*s).marked |= mark::FIXED };
            h.mmnames[mm as usize] = s;
        }
        h.cdata_fin = h.new_table(0, 0).expect("finalizer table");
        // Like LuaJIT: the first cycle starts once the heap has grown to 4x its start.
        h.threshold = if stress { 0 } else { h.total * 4 };
        h
    }

    // ---- accounting -------------------------------------------------------------

    /// Bytes in use.
    pub fn total_bytes(&self) -> usize {
        self.total
    }

    /// Highest `total_bytes` seen.
    pub fn high_water(&self) -> usize {
        self.high
    }

    /// `collectgarbage("count")`: kilobytes in use, fractional.
    pub fn count_kb(&self) -> f64 {
        self.total as f64 / 1024.0
    }

    /// Set the hard memory limit in bytes (`usize::MAX`: none).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn is_stress(&self) -> bool {
        self.stress
    }

    /// Objects currently allocated (strings included).
    pub fn live_objects(&self) -> u64 {
        self.live_objects
    }

    /// Objects freed since the heap was created.
    pub fn freed_objects(&self) -> u64 {
        self.freed_objects
    }

    /// Completed collection cycles.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// Account for `size` new bytes, failing past the limit.
    #[inline]
    pub(crate) fn charge(&mut self, size: usize) -> GcResult<()> {
        let new_total = self.total.checked_add(size).ok_or(MemoryError)?;
        if new_total > self.limit {
            return Err(MemoryError);
        }
        self.total = new_total;
        if new_total > self.high {
            self.high = new_total;
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn uncharge(&mut self, size: usize) {
        debug_assert!(self.total >= size);
        self.total -= size;
    }

    /// Memory for an out-of-line part (array part, node array, stack): accounted, never
    /// runs the collector.
    pub(crate) fn alloc_part(&mut self, size: usize) -> GcResult<*mut u8> {
        self.charge(size)?;
        let p = self.pool.alloc(size);
        if p.is_null() {
            self.uncharge(size);
            return Err(MemoryError);
        }
        Ok(p)
    }

    /// # Safety
    /// `p` must come from `alloc_part`/`realloc_part` with `size` bytes.
    pub(crate) unsafe fn free_part(&mut self, p: *mut u8, size: usize) {
        self.uncharge(size);
        // SAFETY: forwarded caller promise.
        unsafe { self.pool.free(p, size) }
    }

    /// # Safety
    /// `p` must come from `alloc_part`/`realloc_part` with `old` bytes.
    pub(crate) unsafe fn realloc_part(
        &mut self,
        p: *mut u8,
        old: usize,
        new: usize,
    ) -> GcResult<*mut u8> {
        if new > old {
            self.charge(new - old)?;
        }
        // SAFETY: forwarded caller promise.
        let q = unsafe { self.pool.realloc(p, old, new) };
        if q.is_null() {
            if new > old {
                self.uncharge(new - old);
            }
            return Err(MemoryError);
        }
        if new < old {
            self.uncharge(old - new);
        }
        Ok(q)
    }

    /// Memory for a new object of `size` bytes with its header filled in (current white,
    /// type `gct`), not linked into any list. Runs the GC check first.
    pub(crate) fn alloc_object(&mut self, size: usize, gct: u8) -> GcResult<*mut GcHeader> {
        self.alloc_object_with_parts(size, 0, gct)
    }

    /// As `alloc_object`, for an object whose creation goes on to allocate `parts` more
    /// bytes: the limit check (and the collection it may force) covers both.
    pub(crate) fn alloc_object_with_parts(
        &mut self,
        size: usize,
        parts: usize,
        gct: u8,
    ) -> GcResult<*mut GcHeader> {
        self.gc_check();
        if self.total.saturating_add(size).saturating_add(parts) > self.limit {
            // Last resort before failing: a full collection may make room.
            self.full_gc();
        }
        self.alloc_object_no_gc(size, gct)
    }

    /// As `alloc_object` but never collects: for objects built from a list of references
    /// (prototypes, traces) that the collector could not see until the object exists.
    pub(crate) fn alloc_object_no_gc(&mut self, size: usize, gct: u8) -> GcResult<*mut GcHeader> {
        let p = self.alloc_part(size)?.cast::<GcHeader>();
        // SAFETY: `p` is a fresh block of at least header size.
        unsafe {
            p.write(GcHeader {
                nextgc: null_mut(),
                marked: self.currentwhite,
                gct,
            });
        }
        self.live_objects += 1;
        Ok(p)
    }

    /// Link a new object into the main object list.
    ///
    /// # Safety
    /// `o` must be a new object not linked anywhere.
    #[inline]
    pub(crate) unsafe fn link_root(&mut self, o: *mut GcHeader) {
        // SAFETY: caller promise: `o` is valid and unlinked.
        unsafe { (*o).nextgc = self.root };
        self.root = o;
    }

    /// Addresses of the allocation total and the GC threshold, for compiled code that
    /// checks `total >= threshold` (a GC step is due) without calling in. Valid while the
    /// heap lives; the heap does not move (the state boxes it).
    pub fn debt_words(&self) -> (*const usize, *const usize) {
        (&self.total, &self.threshold)
    }

    /// Run a GC step if the debt threshold is reached (and a full cycle in stress mode).
    #[inline]
    pub fn gc_check(&mut self) {
        if self.total >= self.threshold {
            self.gc_check_slow();
        }
    }

    #[cold]
    fn gc_check_slow(&mut self) {
        if self.stress {
            self.full_gc();
            self.threshold = 0;
        } else {
            self.step();
        }
    }

    // ---- roots --------------------------------------------------------------------

    /// A new root slot holding `v`. Whatever a root slot holds stays alive.
    pub fn add_root(&mut self, v: TValue) -> RootId {
        if let Some(i) = self.free_roots.pop() {
            self.roots[i] = v;
            RootId(i)
        } else {
            self.roots.push(v);
            RootId(self.roots.len() - 1)
        }
    }

    /// Replace a root slot's value (no barrier needed: roots are re-marked atomically).
    #[inline]
    pub fn set_root(&mut self, id: RootId, v: TValue) {
        self.roots[id.0] = v;
    }

    #[inline]
    pub fn root(&self, id: RootId) -> TValue {
        self.roots[id.0]
    }

    /// Give a root slot back; its value is no longer kept alive by it.
    pub fn remove_root(&mut self, id: RootId) {
        self.roots[id.0] = TValue::NIL;
        self.free_roots.push(id.0);
    }

    // ---- metamethods ----------------------------------------------------------------

    /// The interned name of a metamethod.
    pub fn mm_name(&self, mm: MetaMethod) -> *mut GcStr {
        self.mmnames[mm as usize]
    }

    /// Look up metamethod `mm` in metatable `mt` (null: none). Absence of one of the first
    /// eight metamethods is cached in `mt.nomm` until `mt` is next stored into.
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    #[inline]
    pub unsafe fn metamethod(&self, mt: *mut GcTab, mm: MetaMethod) -> TValue {
        if mt.is_null() {
            return TValue::NIL;
        }
        let bit = mm as u32;
        // SAFETY: a non-null metatable is a live table (the caller got it from a live object).
        unsafe {
            if bit < 8 && (*mt).nomm & (1 << bit) != 0 {
                return TValue::NIL;
            }
            let v = crate::table::get_str(mt, self.mmnames[mm as usize]);
            if v.is_nil() && bit < 8 {
                (*mt).nomm |= 1 << bit;
            }
            v
        }
    }

    // ---- object creation ---------------------------------------------------------------

    /// Intern a string.
    pub fn intern(&mut self, bytes: &[u8]) -> GcResult<*mut GcStr> {
        crate::strtab::intern(self, bytes)
    }

    /// The hash an interned string with these bytes has (keyed by this heap's seed).
    pub fn string_hash(&self, bytes: &[u8]) -> u32 {
        self.strings.hash(bytes)
    }

    /// Intern a string and return it as a value.
    pub fn new_string(&mut self, bytes: &[u8]) -> GcResult<TValue> {
        Ok(TValue::from_gcstr(self.intern(bytes)?))
    }

    /// A new table with room for array indices `0..asize` and `1 << hbits` hash nodes
    /// (`hbits == 0` with `asize == 0` gives an empty hash part).
    pub fn new_table(&mut self, asize: u32, hbits: u32) -> GcResult<*mut GcTab> {
        crate::table::new_table(self, asize, hbits)
    }

    /// As `new_table` but never collects, not even a full collection at the memory limit
    /// (it fails there instead): for compiled traces, which hold references in machine
    /// registers the collector cannot see. They leave for the interpreter to run the step
    /// (or the collection, and raise the error) instead.
    pub fn new_table_no_gc(&mut self, asize: u32, hbits: u32) -> GcResult<*mut GcTab> {
        crate::table::new_table_no_gc(self, asize, hbits)
    }

    /// A new userdata with `len` zeroed payload bytes.
    pub fn new_udata(&mut self, len: usize, env: *mut GcTab) -> GcResult<*mut GcUdata> {
        let size = GcUdata::alloc_size(len);
        let o = self.alloc_object(size, gct::UDATA)?;
        let u = o.cast::<GcUdata>();
        // SAFETY: fresh block of `size` bytes; the header was written by alloc_object.
        unsafe {
            (*u).udtype = 0;
            (*u).env = env;
            (*u).len = len;
            (*u).metatable = null_mut();
            std::ptr::write_bytes(GcUdata::payload(u), 0, len);
            (*o).nextgc = self.udata;
        }
        self.udata = o;
        Ok(u)
    }

    /// A new cdata of C type `ctypeid` with `size` zeroed payload bytes.
    pub fn new_cdata(&mut self, ctypeid: u16, size: usize) -> GcResult<*mut GcCdata> {
        let size32 = u32::try_from(size).map_err(|_| MemoryError)?;
        let o = self.alloc_object(GcCdata::alloc_size(size), gct::CDATA)?;
        // SAFETY: a fresh cdata block of that size.
        unsafe { Ok(self.init_cdata(o, ctypeid, size32)) }
    }

    /// As `new_cdata` but never collects, and past the memory limit: for a compiled
    /// trace boxing a 64-bit integer as it leaves, which holds values in registers the
    /// collector cannot see and has no way left to fail. (The box is a few words; the
    /// interpreter's next allocation meets the limit.) Fails only if the system is out
    /// of memory.
    pub fn new_cdata_at_exit(&mut self, ctypeid: u16, size: usize) -> GcResult<*mut GcCdata> {
        let size32 = u32::try_from(size).map_err(|_| MemoryError)?;
        let limit = std::mem::replace(&mut self.limit, usize::MAX);
        let o = self.alloc_object_no_gc(GcCdata::alloc_size(size), gct::CDATA);
        self.limit = limit;
        // SAFETY: a fresh cdata block of that size.
        unsafe { Ok(self.init_cdata(o?, ctypeid, size32)) }
    }

    /// Fills in a fresh cdata object and links it.
    ///
    /// # Safety
    /// `o` is a fresh, unlinked block of `GcCdata::alloc_size(size)` bytes.
    unsafe fn init_cdata(&mut self, o: *mut GcHeader, ctypeid: u16, size: u32) -> *mut GcCdata {
        let c = o.cast::<GcCdata>();
        // SAFETY: caller promise: a fresh block of header + `size` bytes.
        unsafe {
            (*c).ctypeid = ctypeid;
            (*c).size = size;
            std::ptr::write_bytes(GcCdata::payload(c), 0, size as usize);
            self.link_root(o);
        }
        c
    }

    /// Set a userdata's metatable (with its write barrier).
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    pub unsafe fn set_udata_metatable(&mut self, u: *mut GcUdata, mt: *mut GcTab) {
        // SAFETY: caller passes live objects.
        unsafe { (*u).metatable = mt };
        if !mt.is_null() {
            self.barrier_forward(u.cast(), TValue::from_tab(mt));
        }
    }

    /// Set a table's metatable (with its write barrier).
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    pub unsafe fn set_table_metatable(&mut self, t: *mut GcTab, mt: *mut GcTab) {
        // SAFETY: caller passes live objects.
        unsafe {
            (*t).metatable = mt;
            (*t).nomm = 0;
        }
        if !mt.is_null() {
            self.barrier_back(t);
        }
    }

    /// Register (or with nil, remove) the `ffi.gc` finalizer of a cdata object.
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    pub unsafe fn set_cdata_finalizer(
        &mut self,
        c: *mut GcCdata,
        finalizer: TValue,
    ) -> GcResult<()> {
        let key = TValue::from_gc(c.cast(), itype::CDATA);
        let fin_tab = self.cdata_fin;
        crate::table::set(self, fin_tab, key, finalizer).map_err(|_| MemoryError)?;
        // SAFETY: caller passes a live cdata.
        unsafe {
            if finalizer.is_nil() {
                (*c).marked &= !mark::CDATA_FIN;
            } else {
                (*c).marked |= mark::CDATA_FIN;
                // The finalizer table is never traversed as a table: mark its new value.
                if self.state.is_marking() {
                    self.mark_value(finalizer);
                }
            }
        }
        Ok(())
    }

    /// Release the objects the collector has made due for finalization, in order.
    pub fn take_finalizable(&mut self) -> Option<Finalizable> {
        if self.finalize_granted == 0 || self.mmudata_head.is_null() {
            return None;
        }
        self.finalize_granted -= 1;
        let o = self.mmudata_head;
        // SAFETY: objects on the mmudata list are live userdata or cdata.
        unsafe {
            self.mmudata_head = (*o).nextgc;
            if self.mmudata_head.is_null() {
                self.mmudata_tail = null_mut();
            }
            self.mmudata_len -= 1;
            // Back into its list with the current white: it lives on as an ordinary object.
            (*o).marked = ((*o).marked & !mark::COLORS) | self.currentwhite;
            let object = value_of(o);
            let finalizer = if (*o).gct == gct::UDATA {
                (*o).nextgc = self.udata;
                self.udata = o;
                self.metamethod((*o.cast::<GcUdata>()).metatable, MetaMethod::Gc)
            } else {
                self.link_root(o);
                let fin_tab = self.cdata_fin;
                let f = crate::table::get(fin_tab, object);
                // Removing an existing key never allocates.
                let _ = crate::table::set(self, fin_tab, object, TValue::NIL);
                f
            };
            Some(Finalizable { object, finalizer })
        }
    }

    /// Objects waiting for their finalizer (released or not yet).
    pub fn pending_finalizers(&self) -> usize {
        self.mmudata_len
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        // Tear-down: every object goes, fixed ones included; trace code is released.
        // SAFETY: no one can use the heap's objects after the heap is dropped.
        unsafe { crate::collector::free_all(self) }
    }
}
