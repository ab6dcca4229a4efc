//! The string table: every string is interned once, in power-of-two hash chains linked
//! through the strings' `nextgc` (strings are not on the main object list).
//!
//! The hash is keyed with a per-heap random seed and reads every byte, so an attacker
//! who does not know the seed cannot build colliding keys (a shared prefix, or equal
//! sampled words, do not collide as they do under a sparse hash). The table doubles when
//! it holds more strings than chains and halves at the end of a sweep when under a
//! quarter full.

use crate::heap::{GcResult, Heap, MemoryError};
use crate::object::{gct, mark, GcHeader, GcStr};
use std::ptr::null_mut;

pub const MIN_CHAINS: usize = 256;

pub struct StrTab {
    pub(crate) chains: *mut *mut GcHeader,
    /// Number of chains minus one.
    pub(crate) mask: usize,
    pub(crate) count: usize,
    seed: [u64; 2],
}

/// Two random words from the OS (through std's randomly keyed hasher).
fn random_seed() -> [u64; 2] {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut a = state.build_hasher();
    a.write_u64(0x6d6f_6f6e);
    let mut b = state.build_hasher();
    b.write_u64(0x006a_6574);
    [a.finish() | 1, b.finish()]
}

#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = (a as u128).wrapping_mul(b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

impl StrTab {
    pub(crate) fn new() -> StrTab {
        StrTab {
            chains: null_mut(),
            mask: 0,
            count: 0,
            seed: random_seed(),
        }
    }

    /// Keyed hash of all of `b`.
    #[inline]
    pub fn hash(&self, b: &[u8]) -> u32 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let [s0, s1] = self.seed;
        let mut h = s0 ^ (b.len() as u64).wrapping_mul(K);
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap());
            h = fold_mul(h ^ w, s1 ^ K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut tail = [0u8; 8];
            tail[..rest.len()].copy_from_slice(rest);
            h = fold_mul(h ^ u64::from_le_bytes(tail), s1 ^ K);
        }
        let h = fold_mul(h, s0 ^ K);
        (h ^ (h >> 32)) as u32
    }

    pub fn chains(&self) -> usize {
        self.mask + 1
    }
}

pub(crate) fn init(h: &mut Heap) -> GcResult<()> {
    let bytes = MIN_CHAINS * size_of::<*mut GcHeader>();
    let p = h.alloc_part(bytes)?.cast::<*mut GcHeader>();
    // SAFETY: fresh block of MIN_CHAINS pointers.
    unsafe { std::ptr::write_bytes(p, 0, MIN_CHAINS) };
    h.strings.chains = p;
    h.strings.mask = MIN_CHAINS - 1;
    Ok(())
}

/// Find or create the string with these bytes.
pub(crate) fn intern(h: &mut Heap, bytes: &[u8]) -> GcResult<*mut GcStr> {
    let hash = h.strings.hash(bytes);
    // SAFETY: chains hold live strings (dead ones are only unlinked by the sweep, which
    // also frees them); each is read only through its header and its own bytes.
    unsafe {
        let mut o = *h.strings.chains.add(hash as usize & h.strings.mask);
        while !o.is_null() {
            let s = o.cast::<GcStr>();
            if (*s).hash == hash && GcStr::bytes(s) == bytes {
                // Found a string the current sweep would free: it is live again.
                if (*o).marked & h.otherwhite() != 0 {
                    (*o).marked ^= mark::WHITES;
                }
                return Ok(s);
            }
            o = (*o).nextgc;
        }
    }
    let size = GcStr::alloc_size(bytes.len());
    if size > (isize::MAX as usize) / 2 {
        return Err(MemoryError);
    }
    let o = h.alloc_object(size, gct::STR)?;
    let s = o.cast::<GcStr>();
    // SAFETY: fresh block of `size` bytes: header, then len bytes and the NUL.
    unsafe {
        (*s).reserved = 0;
        (*s)._pad = 0;
        (*s).hash = hash;
        (*s).len = bytes.len();
        let data = s.add(1).cast::<u8>();
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len());
        *data.add(bytes.len()) = 0;
        // The GC check in alloc_object may have resized the table: index it now.
        let slot = h.strings.chains.add(hash as usize & h.strings.mask);
        (*o).nextgc = *slot;
        *slot = o;
    }
    h.strings.count += 1;
    if h.strings.count > h.strings.mask + 1 {
        // Growing is an optimisation: a failure just leaves longer chains.
        let _ = resize(h, (h.strings.mask + 1) * 2);
    }
    Ok(s)
}

/// Rehash into `nchains` chains (a power of two).
pub(crate) fn resize(h: &mut Heap, nchains: usize) -> GcResult<()> {
    let bytes = nchains * size_of::<*mut GcHeader>();
    let newc = h.alloc_part(bytes)?.cast::<*mut GcHeader>();
    // SAFETY: `newc` is a fresh array of `nchains` pointers; every string on the old
    // chains is moved exactly once, then the old array is freed.
    unsafe {
        std::ptr::write_bytes(newc, 0, nchains);
        let old = h.strings.chains;
        let oldn = h.strings.mask + 1;
        for i in 0..oldn {
            let mut o = *old.add(i);
            while !o.is_null() {
                let next = (*o).nextgc;
                let j = (*o.cast::<GcStr>()).hash as usize & (nchains - 1);
                (*o).nextgc = *newc.add(j);
                *newc.add(j) = o;
                o = next;
            }
        }
        h.free_part(old.cast(), oldn * size_of::<*mut GcHeader>());
    }
    h.strings.chains = newc;
    h.strings.mask = nchains - 1;
    Ok(())
}

/// Halve the table while it is under a quarter full (called after a sweep).
pub(crate) fn maybe_shrink(h: &mut Heap) {
    let n = h.strings.mask + 1;
    if n > MIN_CHAINS && h.strings.count < n / 4 {
        let _ = resize(h, n / 2);
    }
}
