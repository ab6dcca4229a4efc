//! Threads: value stacks and the open upvalues that point into them.
//!
//! A thread's stack is one contiguous array of `stacksize` values. Every slot below
//! `top` is a GC root while the thread is reachable; slots from `top` up are cleared in
//! each atomic phase. Growing the stack moves it: open upvalues and the thread's own
//! `base`/`top`/`maxstack` are relocated here, and the runtime relocates whatever else
//! it keeps by the byte delta returned.

use crate::heap::{GcResult, Heap, MemoryError};
use crate::object::*;
use crate::value::TValue;
use std::ptr::null_mut;

/// Largest stack, in slots.
pub const MAX_STACK_SLOTS: usize = 1 << 24;

impl Heap {
    /// A new thread with a stack of `slots` nil values; `base = top = stack`.
    pub fn new_thread(&mut self, slots: usize, env: *mut GcTab) -> GcResult<*mut GcThread> {
        if slots == 0 || slots > MAX_STACK_SLOTS {
            return Err(MemoryError);
        }
        let o = self.alloc_object_with_parts(size_of::<GcThread>(), slots * 8, gct::THREAD)?;
        let th = o.cast::<GcThread>();
        // SAFETY: fresh block of thread size; linked before the stack allocation so a
        // failure there still leaves a valid (stackless) object for the sweep.
        unsafe {
            th.write(GcThread {
                nextgc: null_mut(),
                marked: self.currentwhite,
                gct: gct::THREAD,
                _dummy_ffid: 0,
                status: thread_status::OK,
                _pad: 0,
                glref: null_mut(),
                gclist: null_mut(),
                base: null_mut(),
                top: null_mut(),
                maxstack: null_mut(),
                stack: null_mut(),
                openupval: null_mut(),
                env,
                cframe: null_mut(),
                stacksize: 0,
                ext: null_mut(),
            });
            self.link_root(o);
            let stack = self.alloc_part(slots * 8)?.cast::<TValue>();
            std::ptr::write_bytes(stack, 0xff, slots);
            (*th).stack = stack;
            (*th).stacksize = slots;
            (*th).base = stack;
            (*th).top = stack;
            (*th).maxstack = stack.add(slots);
        }
        Ok(th)
    }

    /// Resize a thread's stack to `slots` (all slots below `top` must fit). Returns the
    /// byte distance the stack moved, for the runtime's own pointers into it.
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    pub unsafe fn resize_stack(&mut self, th: *mut GcThread, slots: usize) -> GcResult<isize> {
        // SAFETY: caller passes a live thread; pointers into the old stack are rebased
        // onto the new one before anything reads them.
        unsafe {
            let old = (*th).stack;
            let oldn = (*th).stacksize;
            let used = (*th).top.offset_from(old).max(0) as usize;
            if slots == 0 || slots > MAX_STACK_SLOTS || slots < used {
                return Err(MemoryError);
            }
            let new = self
                .realloc_part(old.cast(), oldn * 8, slots * 8)?
                .cast::<TValue>();
            for i in oldn..slots {
                *new.add(i) = TValue::NIL;
            }
            let delta = (new as isize) - (old as isize);
            let rebase = |p: *mut TValue| p.cast::<u8>().offset(delta).cast::<TValue>();
            (*th).stack = new;
            (*th).stacksize = slots;
            (*th).base = rebase((*th).base);
            (*th).top = rebase((*th).top);
            (*th).maxstack = new.add(slots);
            let mut uv = (*th).openupval;
            while !uv.is_null() {
                (*uv).v = rebase((*uv).v);
                uv = (*uv).nextgc.cast();
            }
            Ok(delta)
        }
    }

    /// The open upvalue for stack slot `slot` of `th`, created if needed.
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    pub unsafe fn find_upvalue(
        &mut self,
        th: *mut GcThread,
        slot: *mut TValue,
    ) -> GcResult<*mut GcUpval> {
        // SAFETY: caller passes a live thread and a slot of its stack; the open list is
        // kept sorted by slot, highest first.
        unsafe {
            let mut link: *mut *mut GcUpval = &mut (*th).openupval;
            while !(*link).is_null() && (**link).v >= slot {
                let uv = *link;
                if (*uv).v == slot {
                    if (*uv).marked & self.otherwhite() != 0 {
                        // Dead in this sweep but wanted again: make it live.
                        (*uv).marked ^= mark::WHITES;
                    }
                    return Ok(uv);
                }
                link = &mut (*uv).nextgc as *mut *mut GcHeader as *mut *mut GcUpval;
            }
            let o = self.alloc_object(size_of::<GcUpval>(), gct::UPVAL)?;
            // The GC check may have swept this thread's list: find the link again.
            let mut link: *mut *mut GcUpval = &mut (*th).openupval;
            while !(*link).is_null() && (**link).v > slot {
                link = &mut (**link).nextgc as *mut *mut GcHeader as *mut *mut GcUpval;
            }
            let uv = o.cast::<GcUpval>();
            uv.write(GcUpval {
                nextgc: (*link).cast(),
                marked: self.currentwhite,
                gct: gct::UPVAL,
                closed: 0,
                immutable: 0,
                _pad: 0,
                tv: TValue::NIL,
                prev: null_mut(),
                next: self.uvhead,
                v: slot,
            });
            *link = uv;
            if !self.uvhead.is_null() {
                (*self.uvhead).prev = uv;
            }
            self.uvhead = uv;
            Ok(uv)
        }
    }

    /// Close every open upvalue of `th` at or above `level`: each takes its value with
    /// it and becomes an ordinary object.
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    pub unsafe fn close_upvalues(&mut self, th: *mut GcThread, level: *mut TValue) {
        // SAFETY: caller passes a live thread; its open list links live upvalues whose
        // slots are still valid.
        unsafe {
            while !(*th).openupval.is_null() && (*(*th).openupval).v >= level {
                let uv = (*th).openupval;
                (*th).openupval = (*uv).nextgc.cast();
                self.close_one(uv);
            }
        }
    }

    /// # Safety
    /// `uv` must be a live open upvalue already unlinked from its thread's list.
    unsafe fn close_one(&mut self, uv: *mut GcUpval) {
        // SAFETY: caller promise.
        unsafe {
            self.unlink_open_upvalue(uv);
            (*uv).tv = *(*uv).v;
            (*uv).v = &mut (*uv).tv;
            (*uv).closed = 1;
            let m = (*uv).marked;
            if m & (mark::WHITES | mark::BLACK) == 0 {
                // Reached while open (gray): keep the invariant for its value now.
                if self.state.is_marking() {
                    (*uv).marked |= mark::BLACK;
                    self.mark_value((*uv).tv);
                } else {
                    (*uv).marked = (m & !mark::COLORS) | self.currentwhite;
                }
            }
            self.link_root(uv.cast());
        }
    }

    /// # Safety
    /// `uv` must be on the heap's open-upvalue list.
    pub(crate) unsafe fn unlink_open_upvalue(&mut self, uv: *mut GcUpval) {
        // SAFETY: caller promise; neighbours are live open upvalues.
        unsafe {
            if (*uv).prev.is_null() {
                self.uvhead = (*uv).next;
            } else {
                (*(*uv).prev).next = (*uv).next;
            }
            if !(*uv).next.is_null() {
                (*(*uv).next).prev = (*uv).prev;
            }
            (*uv).prev = null_mut();
            (*uv).next = null_mut();
        }
    }

    /// A closed upvalue holding `v` (for closures made outside any frame).
    pub fn new_closed_upvalue(&mut self, v: TValue) -> GcResult<*mut GcUpval> {
        let o = self.alloc_object(size_of::<GcUpval>(), gct::UPVAL)?;
        let uv = o.cast::<GcUpval>();
        // SAFETY: fresh block of upvalue size.
        unsafe {
            uv.write(GcUpval {
                nextgc: null_mut(),
                marked: self.currentwhite,
                gct: gct::UPVAL,
                closed: 1,
                immutable: 0,
                _pad: 0,
                tv: v,
                prev: null_mut(),
                next: null_mut(),
                v: null_mut(),
            });
            (*uv).v = &mut (*uv).tv;
            self.link_root(o);
        }
        Ok(uv)
    }

    /// Store into an upvalue (open or closed), with the barrier a closed one needs.
    ///
    /// # Safety
    /// Every object pointer passed must point at a live object of the named type.
    #[inline]
    pub unsafe fn set_upvalue(&mut self, uv: *mut GcUpval, v: TValue) {
        // SAFETY: caller passes a live upvalue; `v` points at its slot or its own tv.
        unsafe {
            *(*uv).v = v;
            if (*uv).closed != 0 {
                self.barrier_forward(uv.cast(), v);
            }
        }
    }
}

/// Free a dead thread: its open upvalues are closed first (closures may still use them).
///
/// # Safety
/// `th` must be dead and unlinked.
pub(crate) unsafe fn free_thread(h: &mut Heap, th: *mut GcThread) {
    // SAFETY: caller promise.
    unsafe {
        if !(*th).stack.is_null() {
            h.close_upvalues(th, (*th).stack);
            h.free_part((*th).stack.cast(), (*th).stacksize * 8);
        }
        h.free_part(th.cast(), size_of::<GcThread>());
    }
}

/// Free a thread's open upvalues outright (heap tear-down only).
///
/// # Safety
/// The heap is being dropped.
pub(crate) unsafe fn free_open_upvalues(h: &mut Heap, th: *mut GcThread) {
    // SAFETY: caller promise.
    unsafe {
        let mut uv = (*th).openupval;
        (*th).openupval = null_mut();
        while !uv.is_null() {
            let next = (*uv).nextgc.cast::<GcUpval>();
            h.unlink_open_upvalue(uv);
            h.live_objects -= 1;
            h.free_part(uv.cast(), size_of::<GcUpval>());
            uv = next;
        }
    }
}
