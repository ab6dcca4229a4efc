//! The incremental tri-colour collector with two whites.
//!
//! States: `Pause` (mark the roots) -> `Propagate` (traverse one gray object per unit
//! of work) -> `Atomic` (finish marking in one go: open upvalues, weak tables again,
//! `grayagain`, live traces, userdata finalizer separation; clear weak tables; flip the
//! current white) -> `SweepString` (one string chain per unit) -> `Sweep` (up to 40
//! objects per unit) -> `Finalize` (release queued finalizers to the runtime) -> `Pause`.
//!
//! Colour invariant (while marking): a black object never points at a white one. Table
//! stores keep it with the backward barrier (the black table turns gray and is queued on
//! `grayagain`); other stores with the forward barrier (the white value is marked, or
//! outside the mark phase the black holder is made white again). Threads are never black:
//! their stacks are re-scanned in the atomic phase, so stack stores need no barrier.
//!
//! Dead means "carries the other white" (the colour of the cycle before the flip). New
//! objects get the current white, so nothing allocated during a sweep is freed by it.

use crate::heap::{Heap, MetaMethod};
use crate::object::*;
use crate::table;
use crate::value::TValue;
use std::ptr::null_mut;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum GcState {
    Pause,
    Propagate,
    Atomic,
    SweepString,
    Sweep,
    Finalize,
}

impl GcState {
    #[inline]
    pub fn is_marking(self) -> bool {
        matches!(self, GcState::Propagate | GcState::Atomic)
    }
}

/// Work units (bytes of traversal) a step is worth per 100 of `stepmul`.
pub const GCSTEPSIZE: usize = 1024;
pub const GCSWEEPMAX: usize = 40;
pub const GCSWEEPCOST: usize = 10;
pub const GCFINALIZECOST: usize = 100;
/// String chains swept per unit of work (each costs `GCSWEEPCOST`).
const STRING_CHAINS_PER_UNIT: usize = 16;
/// `collectgarbage("stop")` parks the threshold here.
pub const THRESHOLD_STOPPED: usize = usize::MAX;

impl Heap {
    #[inline(always)]
    pub(crate) fn otherwhite(&self) -> u8 {
        self.currentwhite ^ mark::WHITES
    }

    pub fn state(&self) -> GcState {
        self.state
    }

    // ---- marking ------------------------------------------------------------------------

    /// Mark the object a value points at, if it is white.
    #[inline]
    pub fn mark_value(&mut self, v: TValue) {
        if v.is_gc() {
            let o = v.gc_ptr();
            // SAFETY: a GC value reachable by the caller points at a live object.
            if unsafe { (*o).marked } & mark::WHITES != 0 {
                // SAFETY: as above.
                unsafe { self.mark_object(o) }
            }
        }
    }

    #[inline]
    fn mark_ptr(&mut self, o: *mut GcHeader) {
        // SAFETY: non-null object pointers held by live objects point at live objects.
        if !o.is_null() && unsafe { (*o).marked } & mark::WHITES != 0 {
            // SAFETY: as above.
            unsafe { self.mark_object(o) }
        }
    }

    /// Turn a white object gray (queued) or black (leaf objects).
    ///
    /// # Safety
    /// `o` must be a live white object.
    pub(crate) unsafe fn mark_object(&mut self, o: *mut GcHeader) {
        // SAFETY: caller promise; type-specific fields are read per `gct`.
        unsafe {
            (*o).marked &= !mark::WHITES;
            match (*o).gct {
                gct::STR | gct::CDATA => (*o).marked |= mark::BLACK,
                gct::UDATA => {
                    (*o).marked |= mark::BLACK;
                    let u = o.cast::<GcUdata>();
                    self.mark_ptr((*u).metatable.cast());
                    self.mark_ptr((*u).env.cast());
                }
                gct::UPVAL => {
                    let uv = o.cast::<GcUpval>();
                    if (*uv).closed != 0 {
                        (*o).marked |= mark::BLACK;
                        self.mark_value((*uv).tv);
                    }
                    // Open upvalues stay gray: their value is on a stack, re-marked atomically.
                }
                gct::TRACE
                    if (*o).marked & mark::TRACE_ZOMBIE != 0
                        || (*o.cast::<GcTrace>()).code.is_none() =>
                {
                    // Out of service: it keeps nothing alive, and a zombie's gclist links
                    // the zombie list, so it must never be queued.
                    (*o).marked |= mark::BLACK;
                }
                _ => {
                    *gclist_of(o) = self.gray;
                    self.gray = o;
                }
            }
        }
    }

    /// Mark everything the runtime and the heap itself hold directly.
    fn mark_roots(&mut self) {
        for i in 0..self.roots.len() {
            let v = self.roots[i];
            self.mark_value(v);
        }
        self.mark_finalizer_queue();
        // The finalizer table: values strong, keys weak, the table itself never traversed.
        let ft = self.cdata_fin;
        // SAFETY: the finalizer table lives as long as the heap.
        unsafe { (*ft).marked = ((*ft).marked & !mark::WHITES) | mark::BLACK };
        self.mark_table_values(ft);
    }

    /// Mark the objects waiting for their finalizer and what they reference. They are on
    /// no swept list, so they may still be black from an earlier cycle: re-mark anyway.
    fn mark_finalizer_queue(&mut self) {
        let mut o = self.mmudata_head;
        while !o.is_null() {
            // SAFETY: mmudata links live userdata/cdata.
            unsafe {
                if (*o).marked & mark::BLACK != 0 {
                    (*o).marked = ((*o).marked & !mark::COLORS) | self.currentwhite;
                }
                if (*o).marked & mark::WHITES != 0 {
                    self.mark_object(o);
                }
                o = (*o).nextgc;
            }
        }
    }

    fn mark_table_values(&mut self, t: *mut GcTab) {
        // SAFETY: `t` is live; nodes are read within hmask.
        unsafe {
            if (*t).node == table::empty_node() {
                return;
            }
            for i in 0..=(*t).hmask as usize {
                let n = (*t).node.add(i);
                let v = (*n).val;
                if v.is_nil() {
                    if (*n).key.is_gc() {
                        (*n).key = (*n).key.dead_key();
                    }
                } else {
                    self.mark_value(v);
                }
            }
        }
    }

    /// Traverse one gray object; returns the work done (bytes).
    fn propagate_one(&mut self) -> usize {
        let o = self.gray;
        // SAFETY: the gray list links live gray objects through `gclist`.
        unsafe {
            self.gray = *gclist_of(o);
            (*o).marked |= mark::BLACK;
            match (*o).gct {
                gct::TAB => self.traverse_table(o.cast()),
                gct::FUNC => self.traverse_func(o.cast()),
                gct::PROTO => self.traverse_proto(o.cast()),
                gct::THREAD => {
                    // Threads stay gray: re-scanned in the atomic phase.
                    (*o).marked &= !mark::BLACK;
                    if self.state != GcState::Atomic {
                        *gclist_of(o) = self.grayagain;
                        self.grayagain = o;
                    }
                    self.traverse_thread(o.cast())
                }
                gct::TRACE => self.traverse_trace(o.cast()),
                _ => unreachable!("only tables, functions, protos, threads and traces are gray"),
            }
        }
    }

    fn propagate_all(&mut self) {
        while !self.gray.is_null() {
            self.propagate_one();
        }
    }

    /// # Safety
    /// `t` must be live.
    unsafe fn traverse_table(&mut self, t: *mut GcTab) -> usize {
        // SAFETY: caller promise; reads within the table's parts.
        unsafe {
            let size = size_of::<GcTab>() + table::parts_size(t);
            if t == self.cdata_fin {
                self.mark_table_values(t);
                return size;
            }
            let mt = (*t).metatable;
            let mut weak = 0u8;
            if !mt.is_null() {
                self.mark_ptr(mt.cast());
                let mode = self.metamethod(mt, MetaMethod::Mode);
                if let Some(s) = mode.as_str() {
                    for &c in GcStr::bytes(s) {
                        match c {
                            b'k' => weak |= mark::WEAKKEY,
                            b'v' => weak |= mark::WEAKVAL,
                            _ => {}
                        }
                    }
                }
            }
            (*t).marked = ((*t).marked & !mark::WEAK) | weak;
            if weak != 0 {
                // Stays gray, on the weak list: re-traversed and cleared atomically.
                (*t).marked &= !mark::BLACK;
                (*t).gclist = self.weak;
                self.weak = t.cast();
            }
            let weakkey = weak & mark::WEAKKEY != 0;
            let weakval = weak & mark::WEAKVAL != 0;
            for i in 0..(*t).asize as usize {
                let v = *(*t).array.add(i);
                if !weakval || v.is_str() {
                    self.mark_value(v);
                }
            }
            if (*t).node != table::empty_node() {
                for i in 0..=(*t).hmask as usize {
                    let n = (*t).node.add(i);
                    let v = (*n).val;
                    if v.is_nil() {
                        // A removed key is never followed; its object may die, so it
                        // becomes a tombstone no new object can match.
                        if (*n).key.is_gc() {
                            (*n).key = (*n).key.dead_key();
                        }
                        continue;
                    }
                    let k = (*n).key;
                    if !weakkey || k.is_str() {
                        self.mark_value(k);
                    }
                    if !weakval || v.is_str() {
                        self.mark_value(v);
                    }
                }
            }
            size
        }
    }

    /// # Safety
    /// `f` must be live.
    unsafe fn traverse_func(&mut self, f: *mut GcFunc) -> usize {
        // SAFETY: caller promise; upvalue arrays have `nupvalues` entries.
        unsafe {
            self.mark_ptr((*f).env.cast());
            let n = (*f).nupvalues as usize;
            if (*f).is_lua() {
                self.mark_ptr((*f).proto.cast());
                let uvs = GcFunc::lua_upvals(f);
                for i in 0..n {
                    self.mark_ptr((*uvs.add(i)).cast());
                }
                GcFunc::lua_size(n)
            } else {
                let uvs = GcFunc::native_upvals(f);
                for i in 0..n {
                    self.mark_value(*uvs.add(i));
                }
                GcFunc::native_size(n)
            }
        }
    }

    /// # Safety
    /// `p` must be live.
    unsafe fn traverse_proto(&mut self, p: *mut GcProto) -> usize {
        // SAFETY: caller promise; every array has the length its size field gives.
        unsafe {
            self.mark_ptr((*p).chunkname.cast());
            for i in 0..(*p).sizekgc as usize {
                self.mark_value(*(*p).kgc.add(i));
            }
            for i in 0..(*p).sizeuv as usize {
                self.mark_ptr((*(*p).uvnames.add(i)).cast());
            }
            for i in 0..(*p).sizevarinfo as usize {
                self.mark_ptr((*(*p).varinfo.add(i)).name.cast());
            }
            (*p).alloc_size
        }
    }

    /// # Safety
    /// `th` must be live.
    unsafe fn traverse_thread(&mut self, th: *mut GcThread) -> usize {
        // SAFETY: caller promise; stack slots below `top` are values (or number-like
        // words), slots up to `stacksize` are owned by the thread.
        unsafe {
            self.mark_ptr((*th).env.cast());
            let stack = (*th).stack;
            if stack.is_null() {
                return size_of::<GcThread>();
            }
            let used = (*th).top.offset_from(stack).max(0) as usize;
            for i in 0..used.min((*th).stacksize) {
                self.mark_value(*stack.add(i));
            }
            if self.state == GcState::Atomic {
                // Nothing above top may keep a stale reference into the next cycle.
                for i in used..(*th).stacksize {
                    *stack.add(i) = TValue::NIL;
                }
            }
            size_of::<GcThread>() + (*th).stacksize * 8
        }
    }

    /// # Safety
    /// `tr` must be live.
    unsafe fn traverse_trace(&mut self, tr: *mut GcTrace) -> usize {
        // SAFETY: caller promise; `kgc` has `sizekgc` entries.
        unsafe {
            for i in 0..(*tr).sizekgc as usize {
                self.mark_value(*(*tr).kgc.add(i));
            }
            self.mark_ptr((*tr).startpt.cast());
            self.mark_ptr((*tr).link.cast());
            self.mark_ptr((*tr).nextroot.cast());
            self.mark_ptr((*tr).nextside.cast());
            size_of::<GcTrace>() + (*tr).sizekgc as usize * 8
        }
    }

    /// Mark the values of open upvalues that were reached.
    fn remark_upvalues(&mut self) {
        let mut uv = self.uvhead;
        while !uv.is_null() {
            // SAFETY: the open upvalue list links live open upvalues whose `v` points
            // into a live stack.
            unsafe {
                if (*uv).marked & mark::WHITES == 0 {
                    self.mark_value(*(*uv).v);
                }
                uv = (*uv).next;
            }
        }
    }

    /// Mark registered traces whose start prototype is alive (or who have none).
    /// Returns whether anything was marked.
    fn mark_live_traces(&mut self) -> bool {
        let mut any = false;
        for i in 1..self.traces.len() {
            let tr = self.traces[i];
            if tr.is_null() {
                continue;
            }
            // SAFETY: registered traces are live objects.
            unsafe {
                let pt = (*tr).startpt;
                let pt_alive = pt.is_null() || (*pt).marked & mark::WHITES == 0;
                if pt_alive && (*tr).marked & mark::WHITES != 0 {
                    self.mark_object(tr.cast());
                    any = true;
                }
            }
        }
        any
    }

    /// Propagate until nothing new is reached through stacks, upvalues or traces.
    fn mark_to_fixpoint(&mut self) {
        loop {
            self.propagate_all();
            self.remark_upvalues();
            let traced = self.mark_live_traces();
            if self.gray.is_null() && !traced {
                break;
            }
        }
    }

    /// Move dead userdata with a `__gc` metamethod to the finalizer queue. Returns the
    /// bytes they hold.
    fn separate_udata(&mut self) -> usize {
        let mut bytes = 0;
        let mut prev: *mut GcHeader = null_mut();
        let mut o = self.udata;
        while !o.is_null() {
            // SAFETY: the udata list links live userdata.
            unsafe {
                let next = (*o).nextgc;
                let m = (*o).marked;
                if m & mark::WHITES == 0 || m & mark::FINALIZED != 0 {
                    prev = o;
                    o = next;
                    continue;
                }
                (*o).marked |= mark::FINALIZED;
                let u = o.cast::<GcUdata>();
                if self.metamethod((*u).metatable, MetaMethod::Gc).is_nil() {
                    prev = o;
                    o = next;
                    continue;
                }
                // Unlink and append to the finalizer queue (keeps newest-first order).
                if prev.is_null() {
                    self.udata = next;
                } else {
                    (*prev).nextgc = next;
                }
                bytes += GcUdata::alloc_size((*u).len);
                self.mmudata_push(o);
                o = next;
            }
        }
        bytes
    }

    /// # Safety
    /// `o` must be a live userdata/cdata not on any list.
    pub(crate) unsafe fn mmudata_push(&mut self, o: *mut GcHeader) {
        // SAFETY: caller promise.
        unsafe {
            (*o).nextgc = null_mut();
            if self.mmudata_tail.is_null() {
                self.mmudata_head = o;
            } else {
                (*self.mmudata_tail).nextgc = o;
            }
        }
        self.mmudata_tail = o;
        self.mmudata_len += 1;
    }

    /// Is this (collectable) value about to be collected, as seen by weak tables?
    #[inline]
    fn is_cleared(v: TValue, is_key: bool) -> bool {
        if !v.is_gc() || v.is_str() {
            return false;
        }
        // SAFETY: values in a table being cleared point at objects not yet swept.
        let m = unsafe { (*v.gc_ptr()).marked };
        m & mark::WHITES != 0 || (!is_key && v.is_udata() && m & mark::FINALIZED != 0)
    }

    /// Remove entries of weak tables whose key or value is about to be collected.
    fn clear_weak(&mut self) {
        let mut o = self.weak;
        while !o.is_null() {
            // SAFETY: the weak list links live tables.
            unsafe {
                let t = o.cast::<GcTab>();
                let weakkey = (*t).marked & mark::WEAKKEY != 0;
                let weakval = (*t).marked & mark::WEAKVAL != 0;
                if weakval {
                    for i in 0..(*t).asize as usize {
                        let slot = (*t).array.add(i);
                        if Self::is_cleared(*slot, false) {
                            *slot = TValue::NIL;
                        }
                    }
                }
                if (*t).node != table::empty_node() {
                    for i in 0..=(*t).hmask as usize {
                        let n = (*t).node.add(i);
                        if (*n).val.is_nil() {
                            continue;
                        }
                        if (weakkey && Self::is_cleared((*n).key, true))
                            || (weakval && Self::is_cleared((*n).val, false))
                        {
                            // The node stays, its key a tombstone (see traverse_table).
                            (*n).val = TValue::NIL;
                            if (*n).key.is_gc() {
                                (*n).key = (*n).key.dead_key();
                            }
                        }
                    }
                }
                o = (*t).gclist;
            }
        }
        self.weak = null_mut();
    }

    fn atomic(&mut self) {
        self.propagate_all();
        // Weak tables are traversed again (their strong parts may have changed).
        self.gray = self.weak;
        self.weak = null_mut();
        self.mark_roots();
        let mut o = std::mem::replace(&mut self.grayagain, null_mut());
        while !o.is_null() {
            // SAFETY: grayagain links live gray objects through gclist.
            unsafe {
                let next = *gclist_of(o);
                *gclist_of(o) = self.gray;
                self.gray = o;
                o = next;
            }
        }
        self.mark_to_fixpoint();

        let udsize = self.separate_udata();
        self.mark_finalizer_queue();
        self.mark_to_fixpoint();

        // Registered traces nothing live can reach any more are taken out of service.
        for i in 1..self.traces.len() {
            let tr = self.traces[i];
            // SAFETY: registered traces are live.
            if !tr.is_null() && unsafe { (*tr).marked } & mark::WHITES != 0 {
                // SAFETY: as above.
                unsafe { self.flush_trace(tr) };
            }
        }
        self.clear_weak();

        self.currentwhite = self.otherwhite();
        self.sweepstr = 0;
        self.sweep = null_mut();
        self.sweeping_udata = false;
        self.estimate = self.total.saturating_sub(udsize);
    }

    // ---- sweeping ------------------------------------------------------------------------

    /// Sweep one string chain.
    fn sweep_string_chain(&mut self, i: usize) {
        let ow = self.otherwhite();
        let cw = self.currentwhite;
        // SAFETY: chain `i` exists (i <= mask) and links live or dead strings.
        unsafe {
            let mut link: *mut *mut GcHeader = self.strings.chains.add(i);
            while !(*link).is_null() {
                let o = *link;
                let m = (*o).marked;
                if m & ow != 0 && m & mark::FIXED == 0 {
                    *link = (*o).nextgc;
                    let s = o.cast::<GcStr>();
                    self.strings.count -= 1;
                    self.live_objects -= 1;
                    self.freed_objects += 1;
                    let size = GcStr::alloc_size((*s).len);
                    self.estimate = self.estimate.saturating_sub(size);
                    self.free_part(o.cast(), size);
                } else {
                    (*o).marked = (m & !mark::COLORS) | cw;
                    link = &mut (*o).nextgc;
                }
            }
        }
    }

    /// The link the sweep continues from.
    #[inline]
    fn sweep_link(&mut self) -> *mut *mut GcHeader {
        if !self.sweep.is_null() {
            // SAFETY: `sweep` is a live object already swept (kept alive).
            unsafe { &mut (*self.sweep).nextgc }
        } else if self.sweeping_udata {
            &mut self.udata
        } else {
            &mut self.root
        }
    }

    /// Sweep up to `GCSWEEPMAX` objects; returns true when both lists are done.
    fn sweep_some(&mut self) -> bool {
        let ow = self.otherwhite();
        let cw = self.currentwhite;
        for _ in 0..GCSWEEPMAX {
            let link = self.sweep_link();
            // SAFETY: `link` is a valid link of the list being swept; objects on the
            // lists are live or dead-but-not-freed.
            unsafe {
                let o = *link;
                if o.is_null() {
                    if self.sweeping_udata {
                        return true;
                    }
                    self.sweeping_udata = true;
                    self.sweep = null_mut();
                    continue;
                }
                let m = (*o).marked;
                let dead = m & ow != 0 && m & mark::FIXED == 0;
                if !dead {
                    (*o).marked = (m & !mark::COLORS) | cw;
                    if (*o).gct == gct::THREAD {
                        self.sweep_open_upvalues(o.cast());
                    }
                    self.sweep = o;
                    continue;
                }
                match (*o).gct {
                    gct::CDATA if m & mark::CDATA_FIN != 0 => {
                        // Resurrected until its ffi.gc finalizer has run.
                        *link = (*o).nextgc;
                        (*o).marked = (m & !(mark::COLORS | mark::CDATA_FIN)) | cw;
                        self.mmudata_push(o);
                    }
                    gct::TRACE
                        if (*o).marked & mark::TRACE_ZOMBIE != 0
                            || (*o.cast::<GcTrace>()).code.is_some() =>
                    {
                        // Code is only ever released by reap_zombies, at a safe point.
                        if (*o).marked & mark::TRACE_ZOMBIE == 0 {
                            self.flush_trace(o.cast());
                        }
                        (*o).marked = ((*o).marked & !mark::COLORS) | cw;
                        self.sweep = o;
                    }
                    _ => {
                        *link = (*o).nextgc;
                        self.free_object(o);
                    }
                }
            }
        }
        false
    }

    /// Free the open upvalues of a live thread that nothing references any more.
    fn sweep_open_upvalues(&mut self, th: *mut GcThread) {
        let ow = self.otherwhite();
        let cw = self.currentwhite;
        // SAFETY: the thread's openupval list links its live-or-dead open upvalues.
        unsafe {
            let mut link: *mut *mut GcUpval = &mut (*th).openupval;
            while !(*link).is_null() {
                let uv = *link;
                let m = (*uv).marked;
                if m & ow != 0 {
                    *link = (*uv).nextgc.cast();
                    self.unlink_open_upvalue(uv);
                    self.live_objects -= 1;
                    self.freed_objects += 1;
                    self.free_part(uv.cast(), size_of::<GcUpval>());
                } else {
                    (*uv).marked = (m & !mark::COLORS) | cw;
                    link = &mut (*uv).nextgc as *mut *mut GcHeader as *mut *mut GcUpval;
                }
            }
        }
    }

    /// Free one dead object (not a string) already unlinked from its list.
    ///
    /// # Safety
    /// `o` must be dead and unlinked.
    pub(crate) unsafe fn free_object(&mut self, o: *mut GcHeader) {
        self.live_objects -= 1;
        self.freed_objects += 1;
        let before = self.total;
        // SAFETY: caller promise; each type frees what it owns with the sizes it was
        // allocated with.
        unsafe {
            match (*o).gct {
                gct::TAB => table::free_table(self, o.cast()),
                gct::FUNC => {
                    let f = o.cast::<GcFunc>();
                    let n = (*f).nupvalues as usize;
                    let size = if (*f).is_lua() {
                        GcFunc::lua_size(n)
                    } else {
                        GcFunc::native_size(n)
                    };
                    self.free_part(o.cast(), size);
                }
                gct::UPVAL => self.free_part(o.cast(), size_of::<GcUpval>()),
                gct::PROTO => {
                    let size = (*o.cast::<GcProto>()).alloc_size;
                    self.free_part(o.cast(), size);
                }
                gct::THREAD => crate::thread::free_thread(self, o.cast()),
                gct::TRACE => crate::trace::free_trace(self, o.cast()),
                gct::CDATA => {
                    let size = GcCdata::alloc_size((*o.cast::<GcCdata>()).size as usize);
                    self.free_part(o.cast(), size);
                }
                gct::UDATA => {
                    let size = GcUdata::alloc_size((*o.cast::<GcUdata>()).len);
                    self.free_part(o.cast(), size);
                }
                t => unreachable!("object type {t} is not on the object lists"),
            }
        }
        self.estimate = self.estimate.saturating_sub(before - self.total);
    }

    // ---- the state machine ---------------------------------------------------------------

    /// One unit of work; returns its cost.
    fn single_step(&mut self) -> usize {
        match self.state {
            GcState::Pause => {
                self.gray = null_mut();
                self.grayagain = null_mut();
                self.weak = null_mut();
                self.mark_roots();
                self.state = GcState::Propagate;
                0
            }
            GcState::Propagate => {
                if !self.gray.is_null() {
                    self.propagate_one()
                } else {
                    self.state = GcState::Atomic;
                    0
                }
            }
            GcState::Atomic => {
                self.atomic();
                self.state = GcState::SweepString;
                0
            }
            GcState::SweepString => {
                // A resize under way is finished first, so the sweep walks one array.
                let moved = crate::strtab::migrate(self, crate::strtab::MIGRATE_PER_UNIT);
                if moved > 0 {
                    return moved * GCSWEEPCOST;
                }
                // Chains in batches: mostly short, so per-unit dispatch would dominate.
                let end = (self.sweepstr + STRING_CHAINS_PER_UNIT).min(self.strings.mask + 1);
                for i in self.sweepstr..end {
                    self.sweep_string_chain(i);
                }
                let cost = (end - self.sweepstr) * GCSWEEPCOST;
                self.sweepstr = end;
                if self.sweepstr > self.strings.mask {
                    self.state = GcState::Sweep;
                }
                cost
            }
            GcState::Sweep => {
                if self.sweep_some() {
                    crate::strtab::maybe_shrink(self);
                    self.sweep = null_mut();
                    self.sweeping_udata = false;
                    self.finalize_granted = 0;
                    if self.mmudata_head.is_null() {
                        self.end_cycle();
                    } else {
                        self.state = GcState::Finalize;
                    }
                }
                GCSWEEPMAX * GCSWEEPCOST
            }
            GcState::Finalize => {
                if self.finalize_granted < self.mmudata_len {
                    self.finalize_granted += 1;
                    GCFINALIZECOST
                } else {
                    self.end_cycle();
                    0
                }
            }
        }
    }

    /// A cycle is complete. Its end is a safe point for releasing the code of traces
    /// taken out of service, unless trace code is running on this stack (then a later
    /// cycle or an explicit reap does it).
    fn end_cycle(&mut self) {
        self.cycles += 1;
        self.state = GcState::Pause;
        self.reap_zombies_if_safe();
    }

    /// An incremental step sized by `stepmul` and the allocation debt. Returns true
    /// when a cycle finished.
    pub fn step(&mut self) -> bool {
        let mut lim = (GCSTEPSIZE / 100) as isize * self.stepmul as isize;
        if lim == 0 {
            lim = isize::MAX;
        }
        if self.total > self.threshold {
            self.debt += self.total - self.threshold;
        }
        loop {
            lim -= self.single_step() as isize;
            if self.state == GcState::Pause {
                self.threshold = self.pause_threshold();
                self.debt = 0;
                return true;
            }
            if lim <= 0 {
                break;
            }
        }
        if self.debt < GCSTEPSIZE {
            self.threshold = self.total + GCSTEPSIZE;
        } else {
            self.debt -= GCSTEPSIZE;
            self.threshold = self.total;
        }
        false
    }

    fn pause_threshold(&self) -> usize {
        if self.stress {
            return 0;
        }
        (self.estimate / 100).saturating_mul(self.pause as usize)
    }

    /// A full collection: finish or abandon the current cycle, then run one whole cycle.
    /// All queued finalizers are released to the runtime.
    pub fn full_gc(&mut self) {
        if matches!(
            self.state,
            GcState::Pause | GcState::Propagate | GcState::Atomic
        ) {
            // Abandon marking: a sweep without the flip frees nothing and whitens all.
            self.gray = null_mut();
            self.grayagain = null_mut();
            self.weak = null_mut();
            self.sweepstr = 0;
            self.sweep = null_mut();
            self.sweeping_udata = false;
            self.state = GcState::SweepString;
        }
        while matches!(
            self.state,
            GcState::SweepString | GcState::Sweep | GcState::Finalize
        ) {
            self.single_step();
        }
        loop {
            self.single_step();
            if self.state == GcState::Pause {
                break;
            }
        }
        self.threshold = self.pause_threshold();
        self.debt = 0;
    }

    // ---- collectgarbage -------------------------------------------------------------------

    /// `collectgarbage("step", kb)`: do work worth `kb` kilobytes of allocation (at least
    /// one step). Returns true if a cycle finished.
    pub fn step_kb(&mut self, kb: f64) -> bool {
        let bytes = if kb > 0.0 {
            (kb * 1024.0).min(usize::MAX as f64) as usize
        } else {
            0
        };
        self.threshold = self.total.saturating_sub(bytes);
        loop {
            if self.step() {
                return true;
            }
            if self.total < self.threshold {
                return false;
            }
        }
    }

    /// `collectgarbage("stop")`.
    pub fn stop(&mut self) {
        self.threshold = THRESHOLD_STOPPED;
    }

    /// `collectgarbage("restart")`.
    pub fn restart(&mut self) {
        self.threshold = if self.stress { 0 } else { self.total };
    }

    /// `collectgarbage("isrunning")`.
    pub fn is_running(&self) -> bool {
        self.threshold != THRESHOLD_STOPPED
    }

    /// `collectgarbage("setpause", n)`: returns the previous value.
    pub fn set_pause(&mut self, pause: u32) -> u32 {
        std::mem::replace(&mut self.pause, pause)
    }

    /// `collectgarbage("setstepmul", n)`: returns the previous value.
    pub fn set_stepmul(&mut self, stepmul: u32) -> u32 {
        std::mem::replace(&mut self.stepmul, stepmul)
    }

    /// Strings interned, chains in the string table, and the longest chain.
    pub fn string_table_stats(&self) -> (usize, usize, usize) {
        let mut longest = 0;
        let st = &self.strings;
        let old_heads = (st.migrated..st.old_n).map(|i| unsafe { *st.old.add(i) });
        // SAFETY: indices are within the arrays; old chains below `migrated` are empty.
        let heads = (0..=st.mask)
            .map(|i| unsafe { *st.chains.add(i) })
            .chain(old_heads);
        for head in heads {
            let mut n = 0;
            let mut o = head;
            while !o.is_null() {
                n += 1;
                // SAFETY: as above.
                o = unsafe { (*o).nextgc };
            }
            longest = longest.max(n);
        }
        (self.strings.count, self.strings.mask + 1, longest)
    }

    // ---- barriers -------------------------------------------------------------------------

    /// Backward barrier: a black table that is stored into turns gray again.
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    #[inline]
    pub unsafe fn barrier_back(&mut self, t: *mut GcTab) {
        // SAFETY: caller passes a live table.
        unsafe {
            if (*t).marked & mark::BLACK != 0 {
                (*t).marked &= !mark::BLACK;
                (*t).gclist = self.grayagain;
                self.grayagain = t.cast();
            }
        }
    }

    /// Forward barrier: `o` (not a table) now references `v`.
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    #[inline]
    pub unsafe fn barrier_forward(&mut self, o: *mut GcHeader, v: TValue) {
        // SAFETY: caller passes a live object and a value held by it.
        unsafe {
            if (*o).marked & mark::BLACK == 0
                || !v.is_gc()
                || (*v.gc_ptr()).marked & mark::WHITES == 0
            {
                return;
            }
            if self.state.is_marking() {
                self.mark_object(v.gc_ptr());
            } else {
                (*o).marked = ((*o).marked & !mark::COLORS) | self.currentwhite;
            }
        }
    }

    /// A trace's references changed: traverse it again.
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    pub unsafe fn barrier_trace(&mut self, tr: *mut GcTrace) {
        // SAFETY: caller passes a live trace.
        unsafe {
            let out_of_service = (*tr).marked & mark::TRACE_ZOMBIE != 0 || (*tr).code.is_none();
            if (*tr).marked & mark::BLACK != 0 && !out_of_service {
                (*tr).marked &= !mark::BLACK;
                (*tr).gclist = self.grayagain;
                self.grayagain = tr.cast();
            }
        }
    }
}

/// Free every object of a heap being dropped.
///
/// # Safety
/// Nothing may use the heap's objects afterwards.
pub(crate) unsafe fn free_all(h: &mut Heap) {
    // SAFETY: every list is walked once and each object freed exactly once; open
    // upvalues are freed with their thread.
    unsafe {
        for list in [h.root, h.udata, h.mmudata_head] {
            let mut o = list;
            while !o.is_null() {
                let next = (*o).nextgc;
                if (*o).gct == gct::TRACE {
                    if let Some(code) = (*o.cast::<GcTrace>()).code.take() {
                        code.release();
                    }
                }
                if (*o).gct == gct::THREAD {
                    crate::thread::free_open_upvalues(h, o.cast());
                }
                h.free_object(o);
                o = next;
            }
        }
        h.root = null_mut();
        h.udata = null_mut();
        h.mmudata_head = null_mut();
        h.mmudata_tail = null_mut();
        crate::strtab::migrate(h, usize::MAX);
        for i in 0..=h.strings.mask {
            let mut o = *h.strings.chains.add(i);
            while !o.is_null() {
                let next = (*o).nextgc;
                let size = GcStr::alloc_size((*o.cast::<GcStr>()).len);
                h.free_part(o.cast(), size);
                o = next;
            }
        }
        let n = h.strings.mask + 1;
        h.free_part(h.strings.chains.cast(), n * size_of::<*mut GcHeader>());
        h.strings.chains = null_mut();
    }
}
