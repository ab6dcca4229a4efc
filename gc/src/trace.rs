//! Traces as GC objects: the registry of live traces and the zombie list.
//!
//! A registered trace is live while its start prototype is (or always, if it has none):
//! the atomic phase marks it then, and it marks its embedded constants, its prototype and
//! the traces it links to. A registered trace nothing live can reach is taken out of
//! service by the collector itself. Taking a trace out of service (`flush_trace`) removes
//! it from the registry and puts it on the zombie list: from then on it keeps nothing
//! alive, but its code is released only by `reap_zombies`, at a safe point: no trace code
//! running on the Rust stack. The JIT brackets every run of trace code with
//! `trace_code_entered`/`trace_code_left`; the collector reaps at the end of each cycle
//! when no trace is running, and the JIT after its flushes (`reap_zombies_if_safe`). The
//! sweep never frees a trace whose code is still there, so code is released exactly
//! once, and only at reap.

use crate::heap::{GcResult, Heap, MemoryError};
use crate::object::*;
use crate::value::TValue;
use std::ptr::null_mut;

/// Most traces registered at once (trace numbers are 1..=MAX_TRACES).
pub const MAX_TRACES: usize = 65535;

impl Heap {
    /// A new, unregistered trace starting in `startpt`, embedding `kgc`, owning `code`.
    /// Never runs the collector, so `kgc` need not be anchored anywhere else.
    pub fn new_trace(
        &mut self,
        startpt: *mut GcProto,
        kgc: &[TValue],
        code: Box<dyn TraceCode>,
    ) -> GcResult<*mut GcTrace> {
        let n = u32::try_from(kgc.len()).map_err(|_| MemoryError)?;
        let size = size_of::<GcTrace>() + kgc.len() * 8;
        let o = match self.alloc_object_no_gc(size, gct::TRACE) {
            Ok(o) => o,
            Err(e) => {
                code.release();
                return Err(e);
            }
        };
        let tr = o.cast::<GcTrace>();
        // SAFETY: fresh block: the trace header, then `n` constants.
        unsafe {
            tr.write(GcTrace {
                nextgc: null_mut(),
                marked: self.currentwhite,
                gct: gct::TRACE,
                _pad: 0,
                traceno: 0,
                sizekgc: n,
                _pad2: 0,
                gclist: null_mut(),
                kgc: tr.add(1).cast(),
                code: Some(code),
                startpt,
                link: null_mut(),
                nextroot: null_mut(),
                nextside: null_mut(),
                ext: null_mut(),
            });
            std::ptr::copy_nonoverlapping(kgc.as_ptr(), (*tr).kgc, kgc.len());
            self.link_root(o);
        }
        Ok(tr)
    }

    /// Put a trace into service; returns its number. `None` when all numbers are taken
    /// (the JIT then flushes and starts over, as luajit does).
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    pub unsafe fn register_trace(&mut self, tr: *mut GcTrace) -> Option<u32> {
        // SAFETY: caller passes a live trace.
        unsafe {
            if (*tr).traceno != 0 || (*tr).marked & mark::TRACE_ZOMBIE != 0 || (*tr).code.is_none()
            {
                return None;
            }
            let no = match self.traces.iter().skip(1).position(|t| t.is_null()) {
                Some(i) => i + 1,
                None if self.traces.len() <= MAX_TRACES => {
                    self.traces.try_reserve(1).ok()?;
                    self.traces.push(null_mut());
                    self.traces.len() - 1
                }
                None => return None,
            };
            self.traces[no] = tr;
            (*tr).traceno = no as u32;
            // It may already be black from an earlier traversal: look at it again.
            self.barrier_trace(tr);
            Some(no as u32)
        }
    }

    /// The registered trace with this number (null if none).
    pub fn trace(&self, no: u32) -> *mut GcTrace {
        self.traces.get(no as usize).copied().unwrap_or(null_mut())
    }

    /// Every number a registered trace may have now (1 up to the highest ever given).
    pub fn trace_numbers(&self) -> std::ops::Range<u32> {
        1..self.traces.len() as u32
    }

    /// Number of registered traces.
    pub fn live_traces(&self) -> usize {
        self.traces.iter().filter(|t| !t.is_null()).count()
    }

    /// Take a trace out of service: unregistered, number 0, on the zombie list. The
    /// caller (the JIT) restores the bytecode it patched and re-points every jump into
    /// it before the next reap.
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    pub unsafe fn flush_trace(&mut self, tr: *mut GcTrace) {
        // SAFETY: caller passes a live trace.
        unsafe {
            if (*tr).marked & mark::TRACE_ZOMBIE != 0 {
                return;
            }
            let no = (*tr).traceno as usize;
            if no != 0 && self.traces.get(no) == Some(&tr) {
                self.traces[no] = null_mut();
            }
            (*tr).traceno = 0;
            (*tr).link = null_mut();
            (*tr).nextroot = null_mut();
            (*tr).nextside = null_mut();
            (*tr).marked |= mark::TRACE_ZOMBIE;
            (*tr).gclist = self.zombies;
            self.zombies = tr.cast();
        }
    }

    /// Take every registered trace out of service (`jit.flush()`).
    pub fn flush_all_traces(&mut self) {
        for i in 1..self.traces.len() {
            let tr = self.traces[i];
            if !tr.is_null() {
                // SAFETY: registered traces are live.
                unsafe { self.flush_trace(tr) };
            }
        }
    }

    /// Number of traces waiting on the zombie list.
    pub fn zombie_count(&self) -> usize {
        let mut n = 0;
        let mut o = self.zombies;
        while !o.is_null() {
            n += 1;
            // SAFETY: the zombie list links live traces through gclist.
            o = unsafe { *gclist_of(o) };
        }
        n
    }

    /// Trace code is about to run on this stack: until the matching `trace_code_left`,
    /// zombie code is not released (the running trace may be one).
    pub fn trace_code_entered(&mut self) {
        self.running_traces += 1;
    }

    /// The trace code entered last has returned.
    pub fn trace_code_left(&mut self) {
        debug_assert!(self.running_traces > 0, "trace_code_left without entry");
        self.running_traces = self.running_traces.saturating_sub(1);
    }

    /// Activations of trace code on the stack.
    pub fn running_traces(&self) -> u32 {
        self.running_traces
    }

    /// Release zombie code if no trace code is running (a safe point); returns how many
    /// traces' code was released.
    pub fn reap_zombies_if_safe(&mut self) -> usize {
        if self.running_traces == 0 && !self.zombies.is_null() {
            self.reap_zombies()
        } else {
            0
        }
    }

    /// Release the code of every zombie. Call only at a safe point: no native frame may
    /// be executing, or about to exit from, any zombie's code. The trace objects
    /// themselves are freed by a later sweep once nothing references them.
    pub fn reap_zombies(&mut self) -> usize {
        let mut n = 0;
        let mut o = std::mem::replace(&mut self.zombies, null_mut());
        while !o.is_null() {
            // SAFETY: the zombie list links live traces; each is taken off exactly once.
            unsafe {
                let tr = o.cast::<GcTrace>();
                o = (*tr).gclist;
                (*tr).gclist = null_mut();
                (*tr).marked &= !mark::TRACE_ZOMBIE;
                if let Some(code) = (*tr).code.take() {
                    code.release();
                    n += 1;
                }
            }
        }
        n
    }
}

/// Free a dead trace whose code is already released.
///
/// # Safety
/// `tr` must be dead, unlinked, unregistered and not a zombie.
pub(crate) unsafe fn free_trace(h: &mut Heap, tr: *mut GcTrace) {
    // SAFETY: caller promise; the size matches the allocation in new_trace.
    unsafe {
        let size = size_of::<GcTrace>() + (*tr).sizekgc as usize * 8;
        std::ptr::drop_in_place(&mut (*tr).code);
        h.free_part(tr.cast(), size);
    }
}
