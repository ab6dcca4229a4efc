//! Struct and union layout as GCC does it on x86-64 SysV and AArch64 (both follow the
//! generic GCC rules for these cases): member alignment, `packed`, `aligned`,
//! `#pragma pack`, bitfields, flexible and variable-length trailing arrays.
//!
//! Bitfields: a bitfield goes at the next free bit unless it would cross a boundary
//! of its declared type's alignment, in which case it starts at that boundary. In a
//! packed struct, and under `#pragma pack`, bitfields may cross boundaries. A named
//! bitfield raises the struct's alignment like a member of its type would; unnamed
//! ones (including `:0`) do not. `:0` moves the next member to its type's alignment.
//!
//! Where LuaJIT 2.1 differs from GCC (it lets unnamed bitfields and `:0` raise the
//! struct's alignment, and lets `aligned(n)` on a struct lower it), this follows GCC:
//! the layout must match the C code the FFI calls.

use crate::ctype::{CTypeId, Flags, Kind, SIZE_MAX};
use crate::error::{msg, CError};
use crate::table::CTypeTable;

/// A member as parsed, before its offset is known.
#[derive(Clone, Debug)]
pub(crate) struct PendingMember {
    /// The member's Field or Bitfield entry (an unnamed enum entry takes no space).
    pub entry: CTypeId,
    pub ty: CTypeId,
    /// `aligned(n)` on the member (log2): can raise its alignment, not lower it.
    pub align_attr: Option<u8>,
    /// `packed` on the member.
    pub packed: bool,
    pub bit_width: Option<u32>,
    /// A trailing `[]` or `[?]` array.
    pub flexible: bool,
}

impl PendingMember {
    pub(crate) fn new(entry: CTypeId, ty: CTypeId, attrs: &crate::parse::Attrs) -> PendingMember {
        PendingMember {
            entry,
            ty,
            align_attr: attrs.align_log2,
            packed: attrs.packed,
            bit_width: None,
            flexible: false,
        }
    }
}

fn align_up(value: u64, align: u64) -> u64 {
    value.div_ceil(align) * align
}

/// Lays out the members of struct or union `id` and completes its entry.
/// `packed`/`align_attr` are the aggregate's own attributes; `pack` is the
/// `#pragma pack` value in force (0: none).
pub(crate) fn layout_aggregate(
    table: &mut CTypeTable,
    id: CTypeId,
    members: &[PendingMember],
    packed: bool,
    align_attr: Option<u8>,
    pack: u32,
) -> Result<(), CError> {
    let union = table.get(id).is_union();
    // Position in bits; for a union, the largest member so far.
    let mut bitpos: u64 = 0;
    let mut max_align: u64 = 1;
    let mut vls = false;
    for member in members {
        let entry = table.get(member.entry).clone();
        let raw = table.get(table.raw(member.ty)).clone();
        if entry.kind == Kind::Field && entry.name.is_none() && raw.kind == Kind::Enum {
            // `enum { K = 1 };` inside a struct only declares constants.
            let mut placed = entry;
            placed.size = (bitpos / 8) as u32;
            table.replace(member.entry, placed);
            continue;
        }
        let type_align = table.alignof(member.ty) as u64;
        let type_size = raw.size as u64;
        let is_packed = packed || member.packed;
        let attr_align = member.align_attr.map(|log2| 1u64 << log2);
        let mut field_align = if is_packed {
            attr_align.unwrap_or(1)
        } else {
            type_align.max(attr_align.unwrap_or(1))
        };
        if pack > 0 {
            field_align = field_align.min(pack as u64);
        }
        let start = if union { 0 } else { bitpos };
        if let Some(width) = member.bit_width {
            let width = width as u64;
            let mut pos = start;
            if width == 0 {
                pos = align_up(
                    pos,
                    type_align.min(if pack > 0 { pack as u64 } else { u64::MAX }) * 8,
                );
            } else {
                if let Some(align) = attr_align {
                    pos = align_up(
                        pos,
                        align.min(if pack > 0 { pack as u64 } else { u64::MAX }) * 8,
                    );
                }
                if !is_packed && pack == 0 {
                    let unit = type_align * 8;
                    if pos % unit + width > type_size * 8 {
                        pos = align_up(pos, unit);
                    }
                }
                if entry.name.is_some() {
                    max_align = max_align.max(field_align);
                }
            }
            let mut placed = entry;
            let container = (pos / 8) / type_size * type_size;
            if width == type_size * 8 && pos % 8 == 0 {
                // A bitfield that fills a whole byte-aligned unit is a plain member.
                placed.kind = Kind::Field;
                placed.size = (pos / 8) as u32;
            } else {
                placed.kind = Kind::Bitfield {
                    bit_pos: (pos - container * 8) as u8,
                    bit_width: width as u8,
                };
                placed.size = container as u32;
            }
            table.replace(member.entry, placed);
            let end = pos + width;
            bitpos = if union { bitpos.max(end) } else { end };
        } else {
            let offset = align_up(start.div_ceil(8), field_align);
            let size = if member.flexible { 0 } else { type_size };
            vls |= member.flexible && raw.flags.contains(Flags::VLA);
            max_align = max_align.max(field_align);
            let mut placed = entry;
            placed.size = offset as u32;
            table.replace(member.entry, placed);
            let end = (offset + size) * 8;
            bitpos = if union { bitpos.max(end) } else { end };
        }
        if bitpos / 8 > SIZE_MAX as u64 {
            return Err(CError::new(msg::SIZE));
        }
    }
    if let Some(log2) = align_attr {
        max_align = max_align.max(1 << log2);
    }
    let size = align_up(bitpos.div_ceil(8), max_align);
    if size > SIZE_MAX as u64 {
        return Err(CError::new(msg::SIZE));
    }
    let mut ct = table.get(id).clone();
    ct.size = size as u32;
    ct.align_log2 = max_align.trailing_zeros() as u8;
    if vls {
        ct.flags |= Flags::VLS;
    }
    if packed {
        ct.flags |= Flags::PACKED;
    }
    table.replace(id, ct);
    Ok(())
}
