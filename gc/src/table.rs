//! Tables: an array part for integer keys `0..asize` and a hash part of chained nodes.
//!
//! Hash part: `hmask + 1` nodes; a key lives in its main position or in a free node
//! chained from it (a colliding key not in its own main position is moved out, so every
//! chain starts at its main position). Removing a key keeps its node with a nil value
//! (a dead key): slots stay put under assignment, which keeps `next` stable and lets the
//! JIT cache node addresses. Dead keys are compared by their bits only, never followed;
//! the collector turns a dead collectable key into a tombstone ([`TValue::dead_key`]) so
//! an object later allocated at the same address cannot match it, and `next` still
//! accepts the removed key (by its payload) in the middle of a traversal.
//!
//! Keys: nil and NaN cannot be keys; a number with an integer value is the same key as
//! that integer (so `-0` is `0`), and lands in the array part when in range.
//!
//! When a new key finds no free node, the table is resized: integer keys are counted in
//! bins `[0,2], (2,4], (4,8], ...` and the array part becomes the largest `2^(b+1) + 1`
//! slots whose keys fill more than half of it (the sizing luajit uses, which decides what
//! `#t` returns for tables with holes); the hash part gets room for every other key.

use crate::heap::{GcResult, Heap, MemoryError};
use crate::object::{gct, mark, GcStr, GcTab, Node};
use crate::strtab::fold_mul;
use crate::value::TValue;
use std::ptr::null_mut;

/// Largest array part (slots, index 0 included).
pub const MAX_ASIZE: u32 = (1 << 28) + 1;
/// Largest hash part (log2 of nodes).
pub const MAX_HBITS: u32 = 26;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TabError {
    /// "table index is nil"
    NilKey,
    /// "table index is NaN"
    NanKey,
    /// "invalid key to 'next'"
    InvalidNextKey,
    /// "not enough memory"
    Memory,
}

impl From<MemoryError> for TabError {
    fn from(_: MemoryError) -> Self {
        TabError::Memory
    }
}

impl std::fmt::Display for TabError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TabError::NilKey => "table index is nil",
            TabError::NanKey => "table index is NaN",
            TabError::InvalidNextKey => "invalid key to 'next'",
            TabError::Memory => "not enough memory",
        })
    }
}

struct SharedNode(Node);
// SAFETY: the empty node is never written (every write path first finds a real node).
unsafe impl Sync for SharedNode {}
static EMPTY_NODE: SharedNode = SharedNode(Node {
    val: TValue::NIL,
    key: TValue::NIL,
    next: null_mut(),
});

/// The node every table without a hash part points at.
#[inline(always)]
pub fn empty_node() -> *mut Node {
    &EMPTY_NODE.0 as *const Node as *mut Node
}

/// Hash of a non-string key's bits.
#[inline(always)]
pub fn hash_bits(bits: u64) -> u32 {
    let h = fold_mul(bits, 0x9E37_79B9_7F4A_7C15);
    (h ^ (h >> 32)) as u32
}

/// Normalise a number key: integer values in `i32` range become that integer's double
/// (which turns `-0` into `0`). Returns the key and, if integral, the integer.
#[inline(always)]
fn norm_num(d: f64) -> (TValue, Option<i64>) {
    let i = d as i64;
    if i as f64 == d {
        (TValue::from_f64(i as f64), Some(i))
    } else {
        (TValue::from_f64(d), None)
    }
}

/// Main position of a (normalised, non-nil) key.
///
/// # Safety
/// `t` must be live; a string key must be a live string.
#[inline(always)]
unsafe fn main_position(t: *mut GcTab, key: TValue) -> *mut Node {
    // SAFETY: caller promise; strings carry their hash at a fixed offset.
    unsafe {
        let h = if key.is_str() {
            (*key.gc_ptr().cast::<GcStr>()).hash
        } else {
            hash_bits(key.bits())
        };
        (*t).node.add((h & (*t).hmask) as usize)
    }
}

/// Find the node holding `key` (normalised), or null.
///
/// # Safety
/// `t` must be live.
#[inline(always)]
unsafe fn find_node(t: *mut GcTab, key: TValue) -> *mut Node {
    // SAFETY: chains only link nodes of this table's node array.
    unsafe {
        let mut n = main_position(t, key);
        loop {
            if (*n).key == key {
                return n;
            }
            n = (*n).next;
            if n.is_null() {
                return null_mut();
            }
        }
    }
}

/// Find the node holding `key` or, for a collectable key, its tombstone (which sits in
/// the chain of the key's own main position).
///
/// # Safety
/// `t` must be live; a string key must be a live string.
unsafe fn find_node_or_tombstone(t: *mut GcTab, key: TValue) -> *mut Node {
    let dead = if key.is_gc() { key.dead_key() } else { key };
    // SAFETY: chains only link nodes of this table's node array.
    unsafe {
        let mut n = main_position(t, key);
        loop {
            if (*n).key == key || (*n).key == dead {
                return n;
            }
            n = (*n).next;
            if n.is_null() {
                return null_mut();
            }
        }
    }
}

pub(crate) fn new_table(h: &mut Heap, asize: u32, hbits: u32) -> GcResult<*mut GcTab> {
    new_table_in(h, asize, hbits, true)
}

/// `new_table` without any collection (see `Heap::new_table_no_gc`).
pub(crate) fn new_table_no_gc(h: &mut Heap, asize: u32, hbits: u32) -> GcResult<*mut GcTab> {
    new_table_in(h, asize, hbits, false)
}

fn new_table_in(h: &mut Heap, asize: u32, hbits: u32, collect: bool) -> GcResult<*mut GcTab> {
    if asize > MAX_ASIZE || hbits > MAX_HBITS {
        return Err(MemoryError);
    }
    let parts = asize as usize * 8
        + if hbits > 0 {
            (1usize << hbits) * size_of::<Node>()
        } else {
            0
        };
    let o = if collect {
        h.alloc_object_with_parts(size_of::<GcTab>(), parts, gct::TAB)?
    } else {
        h.alloc_object_no_gc(size_of::<GcTab>(), gct::TAB)?
    };
    let t = o.cast::<GcTab>();
    // SAFETY: fresh block of table size with the header written.
    unsafe {
        (*t).nomm = 0;
        (*t)._colo = 0;
        (*t)._pad = 0;
        (*t).array = null_mut();
        (*t).gclist = null_mut();
        (*t).metatable = null_mut();
        (*t).node = empty_node();
        (*t).asize = 0;
        (*t).hmask = 0;
        (*t).freetop = empty_node();
        // Link first: if a part allocation fails the table is still a valid object.
        h.link_root(o);
        if asize > 0 {
            alloc_array(h, t, asize)?;
        }
        if hbits > 0 {
            alloc_hash(h, t, hbits)?;
        }
    }
    Ok(t)
}

/// # Safety
/// `t` must be live with no array part.
unsafe fn alloc_array(h: &mut Heap, t: *mut GcTab, asize: u32) -> GcResult<()> {
    let p = h.alloc_part(asize as usize * 8)?.cast::<TValue>();
    // SAFETY: fresh array of `asize` values; all set to nil (all-ones bytes).
    unsafe {
        std::ptr::write_bytes(p, 0xff, asize as usize);
        (*t).array = p;
        (*t).asize = asize;
    }
    Ok(())
}

/// # Safety
/// `t` must be live with the empty hash part.
unsafe fn alloc_hash(h: &mut Heap, t: *mut GcTab, hbits: u32) -> GcResult<()> {
    let n = 1usize << hbits;
    let p = h.alloc_part(n * size_of::<Node>())?.cast::<Node>();
    // SAFETY: fresh array of `n` nodes, each initialised.
    unsafe {
        for i in 0..n {
            p.add(i).write(Node {
                val: TValue::NIL,
                key: TValue::NIL,
                next: null_mut(),
            });
        }
        (*t).node = p;
        (*t).hmask = (n - 1) as u32;
        (*t).freetop = p.add(n);
    }
    Ok(())
}

/// Bytes a table owns besides its header.
///
/// # Safety
/// `t` must be live.
pub(crate) unsafe fn parts_size(t: *mut GcTab) -> usize {
    // SAFETY: caller promise.
    unsafe {
        let mut s = (*t).asize as usize * 8;
        if (*t).node != empty_node() {
            s += ((*t).hmask as usize + 1) * size_of::<Node>();
        }
        s
    }
}

/// Free a table and its parts.
///
/// # Safety
/// `t` must be a dead table no longer linked anywhere.
pub(crate) unsafe fn free_table(h: &mut Heap, t: *mut GcTab) {
    // SAFETY: caller promise; parts were allocated with these sizes.
    unsafe {
        if (*t).asize > 0 {
            h.free_part((*t).array.cast(), (*t).asize as usize * 8);
        }
        if (*t).node != empty_node() {
            h.free_part(
                (*t).node.cast(),
                ((*t).hmask as usize + 1) * size_of::<Node>(),
            );
        }
        h.free_part(t.cast(), size_of::<GcTab>());
    }
}

// ---- reads ----------------------------------------------------------------------------

/// `rawget(t, k)` for any key.
///
/// # Safety
/// `t` must be a live table; a GC key must be live.
#[inline]
pub unsafe fn get(t: *mut GcTab, key: TValue) -> TValue {
    // SAFETY: forwarded caller promise.
    unsafe {
        if key.is_str() {
            return get_str(t, key.gc_ptr().cast());
        }
        if let Some(d) = key.as_number() {
            return get_num(t, d);
        }
        if key.is_nil() {
            return TValue::NIL;
        }
        let n = find_node(t, key);
        if n.is_null() {
            TValue::NIL
        } else {
            (*n).val
        }
    }
}

/// `rawget(t, s)` for an interned string key.
///
/// # Safety
/// `t` and `s` must be live.
#[inline]
pub unsafe fn get_str(t: *mut GcTab, s: *mut GcStr) -> TValue {
    // SAFETY: caller promise; chains stay within the node array.
    unsafe {
        let key = TValue::from_gcstr(s);
        let mut n = (*t).node.add(((*s).hash & (*t).hmask) as usize);
        loop {
            if (*n).key == key {
                return (*n).val;
            }
            n = (*n).next;
            if n.is_null() {
                return TValue::NIL;
            }
        }
    }
}

/// `rawget(t, i)` for an integer key.
///
/// # Safety
/// `t` must be live.
#[inline]
pub unsafe fn get_int(t: *mut GcTab, i: i64) -> TValue {
    // SAFETY: the array index is bounds-checked against asize.
    unsafe {
        if (i as u64) < (*t).asize as u64 {
            return *(*t).array.add(i as usize);
        }
        let n = find_node(t, TValue::from_f64(i as f64));
        if n.is_null() {
            TValue::NIL
        } else {
            (*n).val
        }
    }
}

/// `rawget(t, d)` for a number key (NaN finds nothing).
///
/// # Safety
/// `t` must be live.
#[inline]
pub unsafe fn get_num(t: *mut GcTab, d: f64) -> TValue {
    let (key, int) = norm_num(d);
    // SAFETY: forwarded caller promise.
    unsafe {
        if let Some(i) = int {
            return get_int(t, i);
        }
        if d.is_nan() {
            return TValue::NIL;
        }
        let n = find_node(t, key);
        if n.is_null() {
            TValue::NIL
        } else {
            (*n).val
        }
    }
}

// ---- writes -----------------------------------------------------------------------------

/// `rawset(t, k, v)`, with the table's write barrier. May resize the table.
///
/// # Safety
/// Every object pointer passed must point at a live object of the named type.
pub unsafe fn set(h: &mut Heap, t: *mut GcTab, key: TValue, val: TValue) -> Result<(), TabError> {
    // SAFETY: the caller passes a live table; the slot is written before anything else
    // can move the table's parts.
    unsafe {
        let slot = slot_for_set(h, t, key)?;
        *slot = val;
    }
    Ok(())
}

/// `rawset(t, i, v)` for an integer key.
///
/// # Safety
/// Every object pointer passed must point at a live object of the named type.
pub unsafe fn set_int(h: &mut Heap, t: *mut GcTab, i: i64, val: TValue) -> Result<(), TabError> {
    // SAFETY: live table (caller); index bounds-checked against asize.
    unsafe {
        if (i as u64) < (*t).asize as u64 {
            (*t).nomm = 0;
            if (*t).marked & mark::BLACK != 0 {
                h.barrier_back(t);
            }
            *(*t).array.add(i as usize) = val;
            return Ok(());
        }
    }
    set(h, t, TValue::from_f64(i as f64), val)
}

/// `rawset(t, s, v)` for a string key.
///
/// # Safety
/// Every object pointer passed must point at a live object of the named type.
pub unsafe fn set_str(
    h: &mut Heap,
    t: *mut GcTab,
    s: *mut GcStr,
    val: TValue,
) -> Result<(), TabError> {
    set(h, t, TValue::from_gcstr(s), val)
}

/// The slot to store `key`'s value into, creating the key if absent. Runs the table
/// barrier and clears the metamethod cache, as every store must.
///
/// # Safety
/// `t` must be live. The returned slot is valid until the table is next resized.
pub unsafe fn slot_for_set(
    h: &mut Heap,
    t: *mut GcTab,
    key: TValue,
) -> Result<*mut TValue, TabError> {
    // SAFETY: forwarded caller promise.
    unsafe {
        (*t).nomm = 0;
        if (*t).marked & mark::BLACK != 0 {
            h.barrier_back(t);
        }
        let key = if let Some(d) = key.as_number() {
            let (k, int) = norm_num(d);
            if let Some(i) = int {
                if (i as u64) < (*t).asize as u64 {
                    return Ok((*t).array.add(i as usize));
                }
            } else if d.is_nan() {
                return Err(TabError::NanKey);
            }
            k
        } else if key.is_nil() {
            return Err(TabError::NilKey);
        } else {
            key
        };
        let n = find_node(t, key);
        if !n.is_null() {
            return Ok(&mut (*n).val);
        }
        new_key(h, t, key)
    }
}

/// Take a free node, scanning down from `freetop`.
///
/// # Safety
/// `t` must be live.
unsafe fn free_node(t: *mut GcTab) -> *mut Node {
    // SAFETY: freetop stays within [node, node + hmask + 1].
    unsafe {
        while (*t).freetop > (*t).node {
            (*t).freetop = (*t).freetop.sub(1);
            if (*(*t).freetop).key.is_nil() {
                return (*t).freetop;
            }
        }
        null_mut()
    }
}

/// Insert a key known to be absent (normalised, not nil/NaN, not in the array range).
///
/// # Safety
/// `t` must be live.
unsafe fn new_key(h: &mut Heap, t: *mut GcTab, key: TValue) -> Result<*mut TValue, TabError> {
    // SAFETY: all node pointers come from this table's node array.
    unsafe {
        let mp = main_position(t, key);
        if !(*mp).val.is_nil() || mp == empty_node() {
            let f = free_node(t);
            if f.is_null() {
                rehash(h, t, key)?;
                return slot_for_set(h, t, key);
            }
            // The occupant of `mp` has a live value, so its key is live and hashable.
            let other = main_position(t, (*mp).key);
            if other != mp {
                // The occupant is out of its main position: move it to the free node.
                let mut prev = other;
                while (*prev).next != mp {
                    prev = (*prev).next;
                }
                (*prev).next = f;
                f.write(mp.read());
                (*mp).next = null_mut();
                (*mp).val = TValue::NIL;
            } else {
                // The occupant owns `mp`: the new key goes to the free node, chained in.
                (*f).next = (*mp).next;
                (*mp).next = f;
                (*f).key = key;
                return Ok(&mut (*f).val);
            }
        }
        (*mp).key = key;
        Ok(&mut (*mp).val)
    }
}

/// Bin of an integer key for array sizing: 0 for `0..=2`, `b` for `(2^b, 2^(b+1)]`.
#[inline]
fn key_bin(k: u32) -> usize {
    if k > 2 {
        (31 - (k - 1).leading_zeros()) as usize
    } else {
        0
    }
}

/// Count a key that could go into the array part.
#[inline]
fn count_int(key: TValue, bins: &mut [u32; 32]) -> u32 {
    if let Some(d) = key.as_number() {
        let k = d as u32;
        if k as f64 == d && k < MAX_ASIZE {
            bins[key_bin(k)] += 1;
            return 1;
        }
    }
    0
}

/// Resize for one more key.
///
/// # Safety
/// `t` must be live.
unsafe fn rehash(h: &mut Heap, t: *mut GcTab, extra: TValue) -> Result<(), TabError> {
    let mut bins = [0u32; 32];
    let mut total = 1u32; // the extra key
    let mut nint = count_int(extra, &mut bins);
    // SAFETY: reads within the table's parts.
    unsafe {
        for i in 0..(*t).asize {
            if !(*(*t).array.add(i as usize)).is_nil() {
                bins[key_bin(i)] += 1;
                nint += 1;
                total += 1;
            }
        }
        if (*t).node != empty_node() {
            for i in 0..=(*t).hmask as usize {
                let n = (*t).node.add(i);
                if !(*n).val.is_nil() {
                    nint += count_int((*n).key, &mut bins);
                    total += 1;
                }
            }
        }
    }
    let (asize, in_array) = best_array_size(&bins, nint);
    let rest = total - in_array;
    let hbits = if rest == 0 {
        0
    } else {
        32 - (rest.max(2) - 1).leading_zeros()
    };
    // SAFETY: forwarded caller promise.
    unsafe { resize(h, t, asize, hbits) }
}

/// The array size for keys counted in `bins` (`nint` of them) and how many it holds.
fn best_array_size(bins: &[u32; 32], nint: u32) -> (u32, u32) {
    let (mut size, mut held, mut sum) = (0u32, 0u32, 0u32);
    let mut b = 0;
    while b < 31 && 2 * nint as u64 > (1u64 << b) && sum != nint {
        if bins[b] > 0 {
            sum += bins[b];
            if 2 * sum as u64 > (1u64 << b) {
                size = (2u32 << b) + 1;
                held = sum;
            }
        }
        b += 1;
    }
    (size.min(MAX_ASIZE), held)
}

/// Give `t` an array part of `asize` slots and a hash part of `1 << hbits` nodes (none
/// for 0), moving every entry. On failure the table is unchanged.
///
/// # Safety
/// `t` must be live, and the new parts must hold every entry that does not fit the
/// array part (as `rehash` computes them): entries are re-inserted without checks.
pub(crate) unsafe fn resize(
    h: &mut Heap,
    t: *mut GcTab,
    asize: u32,
    hbits: u32,
) -> Result<(), TabError> {
    if asize > MAX_ASIZE || hbits > MAX_HBITS {
        return Err(TabError::Memory);
    }
    // SAFETY: the old parts are read before being freed; new parts are fully initialised
    // before entries are moved into them.
    unsafe {
        let old_asize = (*t).asize;
        let old_array = (*t).array;
        let old_node = (*t).node;
        let old_hmask = (*t).hmask;
        let old_has_hash = old_node != empty_node();

        // New hash part first, so a failure leaves everything as it was.
        let mut new_node = empty_node();
        if hbits > 0 {
            let n = 1usize << hbits;
            new_node = h.alloc_part(n * size_of::<Node>())?.cast::<Node>();
            for i in 0..n {
                new_node.add(i).write(Node {
                    val: TValue::NIL,
                    key: TValue::NIL,
                    next: null_mut(),
                });
            }
        }
        // A new array part: grown in place, or (when shrinking) a fresh smaller block so
        // that a failure can still leave the table untouched.
        let mut array = old_array;
        if asize != old_asize {
            let got = if old_asize == 0 {
                h.alloc_part(asize as usize * 8)
            } else if asize > old_asize {
                h.realloc_part(old_array.cast(), old_asize as usize * 8, asize as usize * 8)
            } else if asize > 0 {
                h.alloc_part(asize as usize * 8)
            } else {
                Ok(null_mut())
            };
            match got {
                Ok(p) => array = p.cast(),
                Err(e) => {
                    if hbits > 0 {
                        h.free_part(new_node.cast(), (1usize << hbits) * size_of::<Node>());
                    }
                    return Err(e.into());
                }
            }
            if asize > old_asize {
                for i in old_asize..asize {
                    *array.add(i as usize) = TValue::NIL;
                }
            } else if asize > 0 {
                std::ptr::copy_nonoverlapping(old_array, array, asize as usize);
            }
        }
        (*t).array = array;
        (*t).asize = asize;
        (*t).node = new_node;
        (*t).hmask = if hbits > 0 { (1u32 << hbits) - 1 } else { 0 };
        (*t).freetop = if hbits > 0 {
            new_node.add(1 << hbits)
        } else {
            new_node
        };

        // Array entries beyond a smaller size move to the hash part.
        if asize < old_asize {
            for i in asize..old_asize {
                let v = *old_array.add(i as usize);
                if !v.is_nil() {
                    *insert_sized(t, TValue::from_f64(i as f64)) = v;
                }
            }
            h.free_part(old_array.cast(), old_asize as usize * 8);
        }
        // Old hash entries with live values are re-inserted.
        if old_has_hash {
            for i in 0..=old_hmask as usize {
                let n = old_node.add(i);
                if !(*n).val.is_nil() {
                    let k = (*n).key;
                    let slot = match k.as_number() {
                        Some(d) if (d as u64 as f64 == d) && (d as u64) < (*t).asize as u64 => {
                            (*t).array.add(d as usize)
                        }
                        _ => insert_sized(t, k),
                    };
                    *slot = (*n).val;
                }
            }
            h.free_part(
                old_node.cast(),
                (old_hmask as usize + 1) * size_of::<Node>(),
            );
        }
    }
    Ok(())
}

/// Insert a key into a hash part sized to hold it (used while resizing).
///
/// # Safety
/// `t` must be live and have a free node for `key`.
unsafe fn insert_sized(t: *mut GcTab, key: TValue) -> *mut TValue {
    // SAFETY: the resize sized the hash part for every key it re-inserts.
    unsafe {
        let mp = main_position(t, key);
        if (*mp).key.is_nil() {
            (*mp).key = key;
            return &mut (*mp).val;
        }
        let f = free_node(t);
        debug_assert!(!f.is_null(), "resize sized the hash part too small");
        let other = main_position(t, (*mp).key);
        if other != mp {
            let mut prev = other;
            while (*prev).next != mp {
                prev = (*prev).next;
            }
            (*prev).next = f;
            f.write(mp.read());
            (*mp).next = null_mut();
            (*mp).val = TValue::NIL;
            (*mp).key = key;
            &mut (*mp).val
        } else {
            (*f).next = (*mp).next;
            (*mp).next = f;
            (*f).key = key;
            &mut (*f).val
        }
    }
}

// ---- length and traversal ------------------------------------------------------------

/// The `#` operator's border: some `n` with `t[n] ~= nil` and `t[n+1] == nil` (or 0).
///
/// # Safety
/// `t` must be live.
pub unsafe fn len(t: *mut GcTab) -> u64 {
    // SAFETY: reads within the array part; hash reads go through get_int.
    unsafe {
        let asize = (*t).asize as u64;
        let mut j = asize.saturating_sub(1);
        if j > 0 && (*(*t).array.add(j as usize)).is_nil() {
            // A border inside the array part: binary search with t[i] set (or i = 0).
            // Branch-free steps: which way each goes is data, and mispredicted branches
            // were most of the cost (`t[#t + 1] = v` loops).
            let mut i = 0u64;
            while j - i > 1 {
                let m = (i + j) / 2;
                let nil = (*(*t).array.add(m as usize)).is_nil();
                (i, j) = (
                    std::hint::select_unpredictable(nil, i, m),
                    std::hint::select_unpredictable(nil, m, j),
                );
            }
            return i;
        }
        if (*t).node == empty_node() {
            return j;
        }
        // Unbounded search into the hash part.
        let mut i = j;
        j += 1;
        while !get_int(t, j as i64).is_nil() {
            i = j;
            if j > (1u64 << 52) {
                // Pathological table: fall back to a linear scan.
                let mut k = 1u64;
                while !get_int(t, k as i64).is_nil() {
                    k += 1;
                }
                return k - 1;
            }
            j *= 2;
        }
        while j - i > 1 {
            let m = (i + j) / 2;
            if get_int(t, m as i64).is_nil() {
                j = m;
            } else {
                i = m;
            }
        }
        i
    }
}

/// `next(t, key)`: the entry after `key` (nil: the first), or `None` at the end.
///
/// # Safety
/// `t` must be live.
pub unsafe fn next(t: *mut GcTab, key: TValue) -> Result<Option<(TValue, TValue)>, TabError> {
    // SAFETY: indices are bounds-checked against asize and hmask.
    unsafe {
        let asize = (*t).asize as u64;
        // Position to continue from: array indices first, then nodes at asize + i.
        let mut pos: u64 = if key.is_nil() {
            0
        } else {
            let mut found = None;
            if let Some(d) = key.as_number() {
                let (k, int) = norm_num(d);
                match int {
                    Some(i) if (i as u64) < asize => found = Some(i as u64 + 1),
                    _ => {
                        let n = find_node(t, k);
                        if !n.is_null() {
                            found = Some(asize + n.offset_from((*t).node) as u64 + 1);
                        }
                    }
                }
            } else {
                let n = find_node_or_tombstone(t, key);
                if !n.is_null() {
                    found = Some(asize + n.offset_from((*t).node) as u64 + 1);
                }
            }
            found.ok_or(TabError::InvalidNextKey)?
        };
        while pos < asize {
            let v = *(*t).array.add(pos as usize);
            if !v.is_nil() {
                return Ok(Some((TValue::from_f64(pos as f64), v)));
            }
            pos += 1;
        }
        if (*t).node == empty_node() {
            return Ok(None);
        }
        let mut i = (pos - asize) as usize;
        while i <= (*t).hmask as usize {
            let n = (*t).node.add(i);
            if !(*n).val.is_nil() {
                return Ok(Some(((*n).key, (*n).val)));
            }
            i += 1;
        }
        Ok(None)
    }
}

/// Number of non-nil entries (for tests and `table.new`-style sizing).
///
/// # Safety
/// `t` must be live.
pub unsafe fn count(t: *mut GcTab) -> usize {
    let mut n = 0;
    let mut k = TValue::NIL;
    // SAFETY: forwarded caller promise; keys come from the table itself.
    while let Ok(Some((nk, _))) = unsafe { next(t, k) } {
        n += 1;
        k = nk;
    }
    n
}

/// A copy of `t` with the same part sizes, keys and values and no metatable: what
/// `TDUP` makes of a template table. The hash part is copied node for node, so chains
/// need no rehashing.
///
/// # Safety
/// `t` must be live; it is not anchored here, so the caller must keep it reachable
/// (a prototype constant is).
pub unsafe fn dup(h: &mut Heap, t: *mut GcTab) -> GcResult<*mut GcTab> {
    // SAFETY: forwarded caller promise.
    unsafe { dup_in(h, t, true) }
}

/// As `dup` but never collects (see `Heap::new_table_no_gc`).
///
/// # Safety
/// As for `dup`.
pub unsafe fn dup_no_gc(h: &mut Heap, t: *mut GcTab) -> GcResult<*mut GcTab> {
    // SAFETY: forwarded caller promise.
    unsafe { dup_in(h, t, false) }
}

unsafe fn dup_in(h: &mut Heap, t: *mut GcTab, collect: bool) -> GcResult<*mut GcTab> {
    // SAFETY: caller promise; the copy has the same part sizes, so node offsets map 1:1.
    unsafe {
        let hbits = if (*t).node == empty_node() {
            0
        } else {
            ((*t).hmask + 1).trailing_zeros()
        };
        let n = new_table_in(h, (*t).asize, hbits, collect)?;
        if (*t).asize > 0 {
            std::ptr::copy_nonoverlapping((*t).array, (*n).array, (*t).asize as usize);
        }
        if hbits > 0 {
            let count = (*t).hmask as usize + 1;
            let (src, dst) = ((*t).node, (*n).node);
            for i in 0..count {
                let s = &*src.add(i);
                let next = if s.next.is_null() {
                    null_mut()
                } else {
                    dst.offset(s.next.offset_from(src))
                };
                dst.add(i).write(Node {
                    val: s.val,
                    key: s.key,
                    next,
                });
            }
            (*n).freetop = dst.offset((*t).freetop.offset_from(src));
        }
        Ok(n)
    }
}
