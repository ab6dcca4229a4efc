//! Raw memory for GC objects and their out-of-line parts.
//!
//! Every block is 16-byte aligned, and its size is passed back on free (objects know
//! their size from their own fields). Allocation failure is a value, never an abort.
//! Every object address must be below 2^47 so it fits a `TValue` payload; a block above
//! that is returned to the system and reported as a failure.

use std::alloc::{alloc, dealloc, realloc, Layout};

pub const ALIGN: usize = 16;

/// Allocate `size` bytes (`size > 0`). Null on failure.
#[inline]
pub fn raw_alloc(size: usize) -> *mut u8 {
    let Ok(layout) = Layout::from_size_align(size.max(1), ALIGN) else {
        return std::ptr::null_mut();
    };
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { alloc(layout) };
    if (p as u64) >> crate::value::ITYPE_SHIFT != 0 {
        // SAFETY: `p` came from `alloc` with this layout just above.
        unsafe { dealloc(p, layout) };
        return std::ptr::null_mut();
    }
    p
}

/// Free a block from [`raw_alloc`] or [`raw_realloc`].
///
/// # Safety
/// `p` must come from this module with exactly `size` bytes and not be freed yet.
#[inline]
pub unsafe fn raw_free(p: *mut u8, size: usize) {
    // SAFETY: the caller passes the size the block was allocated with, so the layout
    // matches the one used by `raw_alloc`.
    unsafe { dealloc(p, Layout::from_size_align_unchecked(size.max(1), ALIGN)) }
}

/// Resize a block; null on failure (the old block is then still valid). Only used for
/// out-of-line parts (array parts, stacks), which no `TValue` points at, so the 2^47
/// limit does not apply.
///
/// # Safety
/// `p` must come from this module with exactly `old` bytes and not be freed yet.
#[inline]
pub unsafe fn raw_realloc(p: *mut u8, old: usize, new: usize) -> *mut u8 {
    if new > isize::MAX as usize - ALIGN {
        return std::ptr::null_mut();
    }
    // SAFETY: `p` was allocated with this layout (caller's promise); `new` is non-zero
    // and within `isize::MAX` once rounded to the alignment.
    let q = unsafe {
        realloc(
            p,
            Layout::from_size_align_unchecked(old.max(1), ALIGN),
            new.max(1),
        )
    };
    q
}
