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
    unsafe {
        realloc(
            p,
            Layout::from_size_align_unchecked(old.max(1), ALIGN),
            new.max(1),
        )
    }
}

/// Blocks up to this size come from the pool.
pub const POOL_MAX: usize = 256;
const POOL_CLASSES: usize = POOL_MAX / ALIGN;
const CHUNK_SIZE: usize = 256 * 1024;

/// A segregated free-list allocator for small blocks (objects and small parts): one
/// free list per 16-byte size class, refilled by carving 256 KiB chunks. Freed blocks
/// go back to their class's list; chunks are returned to the system when the pool is
/// dropped. With `enabled == false` every block goes to the system allocator, so tools
/// such as valgrind see each object's lifetime (`MOONJET_GC_SYSTEM_ALLOC=1`).
pub struct Pool {
    enabled: bool,
    free: [*mut u8; POOL_CLASSES],
    bump: *mut u8,
    bump_end: *mut u8,
    /// Chunks, linked through their first word.
    chunks: *mut u8,
}

#[inline(always)]
fn class_of(size: usize) -> usize {
    size.max(1).div_ceil(ALIGN) - 1
}

impl Pool {
    pub fn new(enabled: bool) -> Pool {
        Pool {
            enabled,
            free: [std::ptr::null_mut(); POOL_CLASSES],
            bump: std::ptr::null_mut(),
            bump_end: std::ptr::null_mut(),
            chunks: std::ptr::null_mut(),
        }
    }

    /// A block of `size` bytes, 16-aligned, below 2^47; null on failure.
    #[inline]
    pub fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.enabled || size > POOL_MAX {
            return raw_alloc(size);
        }
        let c = class_of(size);
        let p = self.free[c];
        if !p.is_null() {
            // SAFETY: free blocks hold the next free block's address in their first word.
            self.free[c] = unsafe { *(p as *mut *mut u8) };
            return p;
        }
        self.carve((c + 1) * ALIGN)
    }

    #[cold]
    fn carve(&mut self, block: usize) -> *mut u8 {
        if (self.bump_end as usize) - (self.bump as usize) < block {
            let chunk = raw_alloc(CHUNK_SIZE);
            if chunk.is_null() {
                return chunk;
            }
            // SAFETY: the chunk's first 16 bytes hold the chunk list link; blocks follow.
            unsafe {
                *(chunk as *mut *mut u8) = self.chunks;
                self.chunks = chunk;
                self.bump = chunk.add(ALIGN);
                self.bump_end = chunk.add(CHUNK_SIZE);
            }
        }
        let p = self.bump;
        // SAFETY: at least `block` bytes remain in the current chunk.
        self.bump = unsafe { p.add(block) };
        p
    }

    /// Return a block.
    ///
    /// # Safety
    /// `p` must come from this pool's `alloc` with the same `size`, not yet freed.
    #[inline]
    pub unsafe fn free(&mut self, p: *mut u8, size: usize) {
        if !self.enabled || size > POOL_MAX {
            // SAFETY: forwarded caller promise (large or system blocks).
            return unsafe { raw_free(p, size) };
        }
        let c = class_of(size);
        // SAFETY: the block is ours and at least 16 bytes: its first word links it.
        unsafe { *(p as *mut *mut u8) = self.free[c] };
        self.free[c] = p;
    }

    /// Resize a block; null on failure (the old block is then still valid).
    ///
    /// # Safety
    /// `p` must come from this pool with `old` bytes, not yet freed.
    pub unsafe fn realloc(&mut self, p: *mut u8, old: usize, new: usize) -> *mut u8 {
        let pooled = |n: usize| self.enabled && n <= POOL_MAX;
        if !pooled(old) && !pooled(new) {
            // SAFETY: forwarded caller promise.
            return unsafe { raw_realloc(p, old, new) };
        }
        if pooled(old) && pooled(new) && class_of(old) == class_of(new) {
            return p;
        }
        let q = self.alloc(new);
        if !q.is_null() {
            // SAFETY: both blocks are valid for the copied length; `p` is then freed once.
            unsafe {
                std::ptr::copy_nonoverlapping(p, q, old.min(new));
                self.free(p, old);
            }
        }
        q
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let mut c = self.chunks;
        while !c.is_null() {
            // SAFETY: each chunk was allocated by raw_alloc with CHUNK_SIZE and links the next.
            unsafe {
                let next = *(c as *mut *mut u8);
                raw_free(c, CHUNK_SIZE);
                c = next;
            }
        }
    }
}
