//! The string table: every string is interned once, in power-of-two hash chains linked
//! through the strings' `nextgc` (strings are not on the main object list).
//!
//! The hash is keyed with a per-heap random seed and reads every byte, so an attacker
//! who does not know the seed cannot build colliding keys (a shared prefix, or equal
//! sampled words, do not collide as they do under a sparse hash).
//!
//! Resizing is incremental: the table doubles when it holds more strings than chains
//! and halves at the end of a sweep when under a quarter full, but the strings move a
//! few chains at a time. While a resize is under way the old chain array stays beside
//! the new one; chains of the old array below `migrated` are empty, the rest are looked
//! up too. Each intern moves `MIGRATE_PER_INTERN` chains, and the string sweep finishes
//! the move (in batches) before it sweeps, so it only ever walks one array.

use crate::heap::{GcResult, Heap, MemoryError};
use crate::object::{gct, mark, GcHeader, GcStr};
use std::ptr::null_mut;

pub const MIN_CHAINS: usize = 256;
/// Old chains moved per intern while a resize is under way.
const MIGRATE_PER_INTERN: usize = 4;
/// Old chains moved per unit of sweep work.
pub(crate) const MIGRATE_PER_UNIT: usize = 64;

pub struct StrTab {
    pub(crate) chains: *mut *mut GcHeader,
    /// Number of chains minus one.
    pub(crate) mask: usize,
    pub(crate) count: usize,
    /// The chain array being moved out of (null: no resize under way).
    pub(crate) old: *mut *mut GcHeader,
    pub(crate) old_n: usize,
    /// Old chains already moved (all empty).
    pub(crate) migrated: usize,
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

/// The 128-bit product of `a` and `b`, folded to 64 bits (a fast, well-mixing step
/// shared by the string hash and table key hashing).
#[inline(always)]
pub(crate) fn fold_mul(a: u64, b: u64) -> u64 {
    let p = (a as u128).wrapping_mul(b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

impl StrTab {
    pub(crate) fn new() -> StrTab {
        StrTab {
            chains: null_mut(),
            mask: 0,
            count: 0,
            old: null_mut(),
            old_n: 0,
            migrated: 0,
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
    if let Some(s) = find(h, bytes, hash) {
        // Found a string the current sweep would free: it is live again.
        // SAFETY: `find` returns live (or dead, not yet swept) strings.
        unsafe {
            if (*s).marked & h.otherwhite() != 0 {
                (*s).marked ^= mark::WHITES;
            }
        }
        return Ok(s);
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
    if !h.strings.old.is_null() {
        migrate(h, MIGRATE_PER_INTERN);
    } else if h.strings.count > h.strings.mask + 1 {
        // Growing is an optimisation: a failure just leaves longer chains.
        let _ = start_resize(h, (h.strings.mask + 1) * 2);
    }
    Ok(s)
}

/// Search one chain for `bytes`.
///
/// # Safety
/// `head` must be a chain head of the string table.
unsafe fn find_in_chain(mut o: *mut GcHeader, bytes: &[u8], hash: u32) -> Option<*mut GcStr> {
    // SAFETY: chains hold live strings or dead ones not yet swept (never freed ones);
    // each is read only through its header and its own bytes.
    unsafe {
        while !o.is_null() {
            let s = o.cast::<GcStr>();
            if (*s).hash == hash && GcStr::bytes(s) == bytes {
                return Some(s);
            }
            o = (*o).nextgc;
        }
    }
    None
}

/// The interned string with these bytes, if any (in either array during a resize).
fn find(h: &Heap, bytes: &[u8], hash: u32) -> Option<*mut GcStr> {
    let st = &h.strings;
    // SAFETY: indices are masked to the arrays' sizes; old chains below `migrated` are
    // empty and not read.
    unsafe {
        if let Some(s) = find_in_chain(*st.chains.add(hash as usize & st.mask), bytes, hash) {
            return Some(s);
        }
        if !st.old.is_null() {
            let i = hash as usize & (st.old_n - 1);
            if i >= st.migrated {
                return find_in_chain(*st.old.add(i), bytes, hash);
            }
        }
    }
    None
}

/// Begin moving to `nchains` chains (a power of two); the strings move incrementally.
pub(crate) fn start_resize(h: &mut Heap, nchains: usize) -> GcResult<()> {
    debug_assert!(h.strings.old.is_null());
    let bytes = nchains * size_of::<*mut GcHeader>();
    let newc = h.alloc_part(bytes)?.cast::<*mut GcHeader>();
    // SAFETY: fresh array of `nchains` pointers.
    unsafe { std::ptr::write_bytes(newc, 0, nchains) };
    let st = &mut h.strings;
    st.old = st.chains;
    st.old_n = st.mask + 1;
    st.migrated = 0;
    st.chains = newc;
    st.mask = nchains - 1;
    Ok(())
}

/// Move up to `n` old chains into the current array; frees the old array when done.
/// Returns the number of chains moved.
pub(crate) fn migrate(h: &mut Heap, n: usize) -> usize {
    let st = &mut h.strings;
    if st.old.is_null() {
        return 0;
    }
    let end = st.migrated.saturating_add(n).min(st.old_n);
    // SAFETY: old chains in [migrated, end) exist; each string is relinked exactly once
    // into the chain its hash selects in the current array.
    unsafe {
        for i in st.migrated..end {
            let mut o = *st.old.add(i);
            *st.old.add(i) = null_mut();
            while !o.is_null() {
                let next = (*o).nextgc;
                let j = (*o.cast::<GcStr>()).hash as usize & st.mask;
                (*o).nextgc = *st.chains.add(j);
                *st.chains.add(j) = o;
                o = next;
            }
        }
    }
    let moved = end - st.migrated;
    st.migrated = end;
    if st.migrated == st.old_n {
        let (old, old_n) = (st.old, st.old_n);
        st.old = null_mut();
        st.old_n = 0;
        st.migrated = 0;
        // SAFETY: the old array came from alloc_part with old_n pointers, all moved out.
        unsafe { h.free_part(old.cast(), old_n * size_of::<*mut GcHeader>()) };
    }
    moved
}

/// Halve the table while it is under a quarter full (called after a sweep).
pub(crate) fn maybe_shrink(h: &mut Heap) {
    let n = h.strings.mask + 1;
    if h.strings.old.is_null() && n > MIN_CHAINS && h.strings.count < n / 4 {
        let _ = start_resize(h, n / 2);
    }
}
