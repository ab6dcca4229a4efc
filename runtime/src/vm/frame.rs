//! Frame layout (LuaJIT's FR2 layout): a frame's function sits at `base[-2]`, its link
//! at `base[-1]`, its slots at `base[0..]`. The link's low bits give the frame type.
//!
//! | type | link | previous frame |
//! |---|---|---|
//! | Lua | return PC (4-aligned) | `base - 2 - A` of the `CALL` at PC-1 |
//! | C (entered from Rust) | delta bytes \| 1 | `base - delta` |
//! | continuation | delta \| 2; `base[-4]` = continuation, `base[-3]` = PC to resume | `base - delta` |
//! | vararg | delta \| 3 | `base - delta` (the function's real frame) |
//! | pcall | delta \| 6 | `base - delta` (the frame of `pcall` itself) |
//! | xpcall | delta \| 7 | `base - delta`; the handler sits at `base - 3` |
//!
//! Links are stored as raw words: PCs and small deltas both read as numbers, so the
//! collector passes over them.

use crate::bc;
use moonjet_gc::TValue;

pub const FRAME_LUA: u64 = 0;
pub const FRAME_C: u64 = 1;
pub const FRAME_CONT: u64 = 2;
pub const FRAME_VARG: u64 = 3;
pub const FRAME_PCALL: u64 = 6;
pub const FRAME_XPCALL: u64 = 7;

/// Slots reserved at the bottom of every stack: a dummy function and link.
pub const STACK_BOTTOM: usize = 2;

#[inline(always)]
pub fn is_lua(link: u64) -> bool {
    link & 3 == 0
}

#[inline(always)]
pub fn ftype(link: u64) -> u64 {
    link & 7
}

#[inline(always)]
pub fn delta_link(base: *mut TValue, prev: *mut TValue, ty: u64) -> TValue {
    let d = (base as usize - prev as usize) as u64;
    TValue(d | ty)
}

/// The previous frame's base for a non-Lua link.
///
/// # Safety
/// `link` must be a delta link of the frame at `base`.
#[inline(always)]
pub unsafe fn delta_prev(base: *mut TValue, link: u64) -> *mut TValue {
    // SAFETY: caller promise: the delta was made from two slots of this stack.
    unsafe { base.cast::<u8>().sub((link & !7) as usize).cast() }
}

/// The caller's base for a Lua link (return PC after a call instruction).
///
/// # Safety
/// `link` must be the Lua link of the frame at `base`.
#[inline(always)]
pub unsafe fn lua_prev(base: *mut TValue, link: u64) -> *mut TValue {
    // SAFETY: caller promise: PC-1 is the call that made this frame.
    unsafe {
        let call = *(link as *const u32).sub(1);
        base.sub(bc::a(call) as usize + 2)
    }
}

/// The previous frame's base, whatever the link type.
///
/// # Safety
/// `base` must be a frame base above the stack bottom.
#[inline]
pub unsafe fn prev_frame(base: *mut TValue) -> *mut TValue {
    // SAFETY: caller promise.
    unsafe {
        let link = (*base.sub(1)).0;
        if is_lua(link) {
            lua_prev(base, link)
        } else {
            delta_prev(base, link)
        }
    }
}

/// Continuations: what to do with a metamethod's result when its frame returns.
pub mod cont {
    /// Store the first result into `A` of the instruction before the saved PC.
    pub const RA: u64 = 1;
    /// Ignore the results (`__newindex`).
    pub const NOP: u64 = 2;
    /// A comparison: take the jump that follows if the result is true.
    pub const COND_TRUE: u64 = 3;
    /// A comparison: take the jump that follows if the result is false.
    pub const COND_FALSE: u64 = 4;
    /// A `__concat` step of `CAT`: the slot the result goes to is `word >> 8`.
    pub const CAT: u64 = 5;
    pub const MASK: u64 = 0xff;
}
