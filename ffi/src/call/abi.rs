//! Where each argument and the result of a C call travel: the classification of
//! x86-64 System V and AArch64 AAPCS64, for the rules summarised in [`crate::call`].
//! Pure computation on the type table; the code that moves the values is in `stub`.

use crate::call::CallError;
use crate::{CTypeId, CTypeTable, Flags, Kind, Target};

/// LuaJIT's message for a signature it cannot call.
pub(crate) const NYI_CALL: &str = "NYI: cannot call this C function (yet)";

fn nyi() -> CallError {
    CallError::Unsupported(NYI_CALL.into())
}

pub(crate) fn align_up(value: u32, align: u32) -> u32 {
    value.div_ceil(align) * align
}

/// A register or stack place that one piece of a value occupies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Loc {
    /// The n-th integer register of the sequence: for arguments x86-64's rdi, rsi, rdx,
    /// rcx, r8, r9 and AArch64's x0..x7; for results rax, rdx and x0, x1.
    Gpr(u8),
    /// The n-th vector register (xmmN, vN).
    Fpr(u8),
    /// The outgoing stack argument area, this many bytes above the stack pointer at the
    /// call. Every stack piece is one 8-byte slot.
    Stack(u32),
}

/// The machine type of a piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceType {
    /// An integer of 1, 2, 4 or 8 bytes; narrow ones are widened by their signedness.
    Int { size: u8, signed: bool },
    /// `float` (4 bytes) or `double` (8).
    Float { size: u8 },
}

impl PieceType {
    pub fn size(self) -> u32 {
        match self {
            PieceType::Int { size, .. } | PieceType::Float { size } => size.into(),
        }
    }

    /// An eightbyte of an aggregate in integer registers or on the stack.
    const WORD: PieceType = PieceType::Int {
        size: 8,
        signed: false,
    };
}

/// One register- or slot-sized part of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    /// Where its bytes start in the value's C representation.
    pub offset: u32,
    pub ty: PieceType,
    pub loc: Loc,
}

/// How one argument travels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgPassing {
    /// By value, in these pieces (none for an empty struct).
    Value(Vec<Piece>),
    /// By reference (AArch64 composites over 16 bytes): the address of a copy — the
    /// argument block's — travels in this place.
    Reference(Loc),
}

/// How the result travels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetPassing {
    Void,
    /// In these pieces of result registers.
    Value(Vec<Piece>),
    /// In memory the caller provides, whose address is a hidden argument: x86-64's first
    /// integer register (rdi, so the arguments start at rsi), AArch64's x8.
    Indirect,
}

/// The classification of one call signature on one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passing {
    pub target: Target,
    pub args: Vec<ArgPassing>,
    pub ret: RetPassing,
    /// Bytes of the outgoing stack argument area.
    pub stack_size: u32,
    /// How many vector registers carry arguments (x86-64 varargs tell the callee in %al).
    pub fprs_used: u8,
    /// Whether a struct, union or complex number travels by value, as an argument or
    /// the result (callbacks cannot take or return them).
    pub by_value_aggregates: bool,
}

/// What a value is, as far as passing it is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Integers, bool, enums, pointers, references; arrays and functions travel as
    /// pointers to them.
    Int {
        size: u8,
        signed: bool,
    },
    Float {
        size: u8,
    },
    /// Structs, unions and complex numbers.
    Aggregate {
        id: CTypeId,
        size: u32,
        align: u32,
    },
}

impl Shape {
    /// Bytes the value takes in an argument or result block.
    pub(crate) fn size(self) -> u32 {
        match self {
            Shape::Int { size, .. } | Shape::Float { size } => size.into(),
            Shape::Aggregate { size, .. } => size,
        }
    }

    /// Alignment of the value in memory.
    pub(crate) fn align(self) -> u32 {
        match self {
            Shape::Aggregate { align, .. } => align,
            other => other.size().max(1),
        }
    }

    fn scalar(self) -> Option<PieceType> {
        match self {
            Shape::Int { size, signed } => Some(PieceType::Int { size, signed }),
            Shape::Float { size } => Some(PieceType::Float { size }),
            Shape::Aggregate { .. } => None,
        }
    }
}

const POINTER: Shape = Shape::Int {
    size: 8,
    signed: false,
};

/// The shape of a value of type `id` passed as an argument or returned.
pub(crate) fn shape_of(cts: &CTypeTable, id: CTypeId) -> Result<Shape, CallError> {
    let raw = cts.raw(id);
    let ct = cts.get(raw);
    match ct.kind {
        Kind::Num => num_shape(ct.flags, ct.size).ok_or_else(nyi),
        Kind::Enum => {
            if !ct.has_size() {
                return Err(nyi());
            }
            shape_of(cts, ct.child)
        }
        Kind::Ptr | Kind::Func(_) => Ok(POINTER),
        Kind::Array if ct.is_array() => Ok(POINTER),
        Kind::Array if ct.is_complex() => {
            let elem = cts.get(cts.raw(ct.child));
            match (elem.size, ct.has_size()) {
                (4 | 8, true) => Ok(Shape::Aggregate {
                    id: raw,
                    size: ct.size,
                    align: ct.align(),
                }),
                // complex long double
                _ => Err(nyi()),
            }
        }
        Kind::Struct if ct.has_size() && !ct.is_vls() => Ok(Shape::Aggregate {
            id: raw,
            size: ct.size,
            align: cts.alignof(id),
        }),
        // Vectors, incomplete and variable-length types, void.
        _ => Err(nyi()),
    }
}

fn num_shape(flags: Flags, size: u32) -> Option<Shape> {
    let size = u8::try_from(size).ok()?;
    if flags.contains(Flags::FP) {
        // long double (16 bytes) is not passed.
        return matches!(size, 4 | 8).then_some(Shape::Float { size });
    }
    matches!(size, 1 | 2 | 4 | 8).then_some(Shape::Int {
        size,
        signed: !flags.intersects(Flags::UNSIGNED | Flags::BOOL),
    })
}

/// A scalar inside an aggregate, at its byte offset from the aggregate's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaf {
    Int {
        offset: u32,
        size: u32,
    },
    Float {
        offset: u32,
        size: u32,
    },
    /// A bitfield's bytes, first and last.
    Bits {
        first: u32,
        last: u32,
    },
    /// long double or a vector: passed in ways this module does not do.
    Wide {
        offset: u32,
    },
}

/// Aggregates nest no deeper than this (the parser's own limit is lower).
const MAX_DEPTH: u32 = 400;

/// Collects the scalars of type `id` placed at `base`.
fn leaves(
    cts: &CTypeTable,
    id: CTypeId,
    base: u32,
    depth: u32,
    out: &mut Vec<Leaf>,
) -> Result<(), CallError> {
    if depth > MAX_DEPTH {
        return Err(nyi());
    }
    let raw = cts.raw(id);
    let ct = cts.get(raw);
    match ct.kind {
        Kind::Num => match num_shape(ct.flags, ct.size) {
            Some(Shape::Float { size }) => out.push(Leaf::Float {
                offset: base,
                size: size.into(),
            }),
            Some(Shape::Int { size, .. }) => out.push(Leaf::Int {
                offset: base,
                size: size.into(),
            }),
            _ => out.push(Leaf::Wide { offset: base }),
        },
        Kind::Enum | Kind::Ptr => out.push(Leaf::Int {
            offset: base,
            size: ct.size,
        }),
        Kind::Array if ct.is_vector() => out.push(Leaf::Wide { offset: base }),
        Kind::Array => {
            let elem_size = cts.get(cts.raw(ct.child)).size;
            if ct.has_size() && elem_size > 0 && elem_size != crate::SIZE_INVALID {
                for i in 0..ct.size / elem_size {
                    leaves(cts, ct.child, base + i * elem_size, depth + 1, out)?;
                }
            }
        }
        Kind::Struct => {
            for member in cts.members(raw) {
                let m = cts.get(member);
                match m.kind {
                    Kind::Field => leaves(cts, m.child, base + m.size, depth + 1, out)?,
                    Kind::Bitfield { bit_pos, bit_width } if bit_width > 0 => {
                        let start = base * 8 + m.size * 8 + u32::from(bit_pos);
                        out.push(Leaf::Bits {
                            first: start / 8,
                            last: (start + u32::from(bit_width) - 1) / 8,
                        });
                    }
                    _ => {}
                }
            }
        }
        _ => return Err(nyi()),
    }
    Ok(())
}

// ---- x86-64 System V ----

/// The class of an eightbyte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// Only padding: takes no register.
    Padding,
    Integer,
    Sse,
}

/// The classes of an aggregate's eightbytes, or `None` if it is passed in memory.
fn x64_eightbytes(
    cts: &CTypeTable,
    id: CTypeId,
    size: u32,
) -> Result<Option<Vec<Class>>, CallError> {
    if size > 16 {
        return Ok(None);
    }
    let mut found = Vec::new();
    leaves(cts, id, 0, 0, &mut found)?;
    let mut classes = vec![Class::Padding; size.div_ceil(8) as usize];
    let mut merge = |eightbyte: u32, class: Class| {
        let slot = &mut classes[eightbyte as usize];
        *slot = match (*slot, class) {
            (Class::Integer, _) | (_, Class::Integer) => Class::Integer,
            _ => class,
        };
    };
    for leaf in found {
        match leaf {
            Leaf::Int { offset, size } | Leaf::Float { offset, size }
                if !offset.is_multiple_of(size) =>
            {
                // An unaligned member (packed structs) sends the whole value to memory.
                return Ok(None);
            }
            Leaf::Int { offset, .. } => merge(offset / 8, Class::Integer),
            Leaf::Float { offset, .. } => merge(offset / 8, Class::Sse),
            Leaf::Bits { first, last } => {
                for eightbyte in first / 8..=last / 8 {
                    merge(eightbyte, Class::Integer);
                }
            }
            // X87 and SSEUP classes.
            Leaf::Wide { .. } => return Err(nyi()),
        }
    }
    Ok(Some(classes))
}

const X64_GPRS: u8 = 6;
const FPRS: u8 = 8;

/// The next free argument places.
#[derive(Default)]
struct Alloc {
    gpr: u8,
    fpr: u8,
    stack: u32,
}

impl Alloc {
    /// A stack slot of `size` bytes aligned to `align` (8 or 16).
    fn stack_slot(&mut self, size: u32, align: u32) -> u32 {
        self.stack = align_up(self.stack, align.clamp(8, 16));
        let offset = self.stack;
        self.stack += align_up(size, 8);
        offset
    }

    fn scalar(&mut self, ty: PieceType, gprs: u8) -> Loc {
        match ty {
            PieceType::Int { .. } if self.gpr < gprs => {
                self.gpr += 1;
                Loc::Gpr(self.gpr - 1)
            }
            PieceType::Float { .. } if self.fpr < FPRS => {
                self.fpr += 1;
                Loc::Fpr(self.fpr - 1)
            }
            _ => Loc::Stack(self.stack_slot(8, 8)),
        }
    }

    /// An aggregate copied whole to the stack, eightbyte by eightbyte.
    fn aggregate_on_stack(&mut self, size: u32, align: u32) -> Vec<Piece> {
        let base = self.stack_slot(size, align);
        (0..size.div_ceil(8))
            .map(|i| Piece {
                offset: i * 8,
                ty: PieceType::WORD,
                loc: Loc::Stack(base + i * 8),
            })
            .collect()
    }
}

fn x64_arg(cts: &CTypeTable, shape: Shape, alloc: &mut Alloc) -> Result<ArgPassing, CallError> {
    let Shape::Aggregate { id, size, align } = shape else {
        let ty = shape.scalar().expect("a scalar shape");
        let loc = alloc.scalar(ty, X64_GPRS);
        return Ok(ArgPassing::Value(vec![Piece { offset: 0, ty, loc }]));
    };
    if let Some(classes) = x64_eightbytes(cts, id, size)? {
        let needs = |class| classes.iter().filter(|&&c| c == class).count() as u8;
        let (ints, sses) = (needs(Class::Integer), needs(Class::Sse));
        if alloc.gpr + ints <= X64_GPRS && alloc.fpr + sses <= FPRS {
            let pieces = x64_register_pieces(&classes, &mut alloc.gpr, &mut alloc.fpr);
            return Ok(ArgPassing::Value(pieces));
        }
    }
    // MEMORY class, or not enough registers left for all of it.
    Ok(ArgPassing::Value(alloc.aggregate_on_stack(size, align)))
}

/// The pieces of a register-class aggregate, taking registers from `gpr`/`fpr` on.
fn x64_register_pieces(classes: &[Class], gpr: &mut u8, fpr: &mut u8) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for (i, class) in classes.iter().enumerate() {
        let (ty, loc) = match class {
            Class::Padding => continue,
            Class::Integer => {
                *gpr += 1;
                (PieceType::WORD, Loc::Gpr(*gpr - 1))
            }
            Class::Sse => {
                *fpr += 1;
                (PieceType::Float { size: 8 }, Loc::Fpr(*fpr - 1))
            }
        };
        pieces.push(Piece {
            offset: i as u32 * 8,
            ty,
            loc,
        });
    }
    pieces
}

fn x64_ret(cts: &CTypeTable, shape: Shape) -> Result<RetPassing, CallError> {
    let Shape::Aggregate { id, size, .. } = shape else {
        let ty = shape.scalar().expect("a scalar shape");
        let loc = match ty {
            PieceType::Int { .. } => Loc::Gpr(0),
            PieceType::Float { .. } => Loc::Fpr(0),
        };
        return Ok(RetPassing::Value(vec![Piece { offset: 0, ty, loc }]));
    };
    Ok(match x64_eightbytes(cts, id, size)? {
        Some(classes) => RetPassing::Value(x64_register_pieces(&classes, &mut 0, &mut 0)),
        None => RetPassing::Indirect,
    })
}

// ---- AArch64 AAPCS64 ----

const A64_GPRS: u8 = 8;

/// If the aggregate is a homogeneous floating-point aggregate (1 to 4 members, all
/// float or all double, no padding): its member size and count.
fn a64_hfa(cts: &CTypeTable, id: CTypeId, size: u32) -> Result<Option<(u8, u32)>, CallError> {
    // Four members of at most 16 bytes (HVA of vectors, long double).
    if size == 0 || size > 64 {
        return Ok(None);
    }
    let mut found = Vec::new();
    leaves(cts, id, 0, 0, &mut found)?;
    if found.iter().all(|leaf| matches!(leaf, Leaf::Wide { .. })) {
        // Homogeneous aggregates of long doubles or vectors travel in q registers.
        return Err(nyi());
    }
    let Some(Leaf::Float {
        size: member_size, ..
    }) = found.first().copied()
    else {
        return Ok(None);
    };
    let count = size / member_size;
    if !size.is_multiple_of(member_size) || count > 4 {
        return Ok(None);
    }
    // Union members overlap, so count distinct places: every member-sized place of
    // the aggregate must hold a member of the same type (no padding).
    let mut covered = [false; 4];
    for leaf in &found {
        match *leaf {
            Leaf::Float { offset, size } if size == member_size && offset.is_multiple_of(size) => {
                covered[(offset / size) as usize] = true;
            }
            _ => return Ok(None),
        }
    }
    if covered[..count as usize].iter().all(|&c| c) {
        Ok(Some((member_size as u8, count)))
    } else {
        Ok(None)
    }
}

fn hfa_pieces(member_size: u8, count: u32, first_fpr: u8) -> Vec<Piece> {
    (0..count)
        .map(|i| Piece {
            offset: i * u32::from(member_size),
            ty: PieceType::Float { size: member_size },
            loc: Loc::Fpr(first_fpr + i as u8),
        })
        .collect()
}

fn a64_arg(cts: &CTypeTable, shape: Shape, alloc: &mut Alloc) -> Result<ArgPassing, CallError> {
    let Shape::Aggregate { id, size, align } = shape else {
        let ty = shape.scalar().expect("a scalar shape");
        let loc = alloc.scalar(ty, A64_GPRS);
        return Ok(ArgPassing::Value(vec![Piece { offset: 0, ty, loc }]));
    };
    if let Some((member_size, count)) = a64_hfa(cts, id, size)? {
        if u32::from(alloc.fpr) + count <= u32::from(FPRS) {
            let pieces = hfa_pieces(member_size, count, alloc.fpr);
            alloc.fpr += count as u8;
            return Ok(ArgPassing::Value(pieces));
        }
        // No vector registers for later arguments either.
        alloc.fpr = FPRS;
        let align = if align >= 16 { 16 } else { 8 };
        return Ok(ArgPassing::Value(alloc.aggregate_on_stack(size, align)));
    }
    if size > 16 {
        let loc = alloc.scalar(PieceType::WORD, A64_GPRS);
        return Ok(ArgPassing::Reference(loc));
    }
    if align >= 16 {
        // 16-byte aligned composites start at an even register.
        alloc.gpr = align_up(alloc.gpr.into(), 2).min(A64_GPRS.into()) as u8;
    }
    let words = size.div_ceil(8) as u8;
    if alloc.gpr + words <= A64_GPRS {
        let pieces = (0..words)
            .map(|i| Piece {
                offset: u32::from(i) * 8,
                ty: PieceType::WORD,
                loc: Loc::Gpr(alloc.gpr + i),
            })
            .collect();
        alloc.gpr += words;
        return Ok(ArgPassing::Value(pieces));
    }
    // A composite never splits between registers and the stack, and no later
    // argument takes an integer register.
    alloc.gpr = A64_GPRS;
    Ok(ArgPassing::Value(alloc.aggregate_on_stack(size, align)))
}

fn a64_ret(cts: &CTypeTable, shape: Shape) -> Result<RetPassing, CallError> {
    // A result travels in the registers a first argument would take; what would go by
    // reference goes to memory the caller provides.
    match a64_arg(cts, shape, &mut Alloc::default())? {
        ArgPassing::Value(pieces) => Ok(RetPassing::Value(pieces)),
        ArgPassing::Reference(_) => Ok(RetPassing::Indirect),
    }
}

/// Classifies a call with arguments of types `args` and result `ret` (`None`: void).
pub(crate) fn classify(
    cts: &CTypeTable,
    args_shapes: &[Shape],
    ret_shape: Option<Shape>,
) -> Result<Passing, CallError> {
    let target = cts.target();
    let mut alloc = Alloc::default();
    let ret = match ret_shape {
        None => RetPassing::Void,
        Some(shape) => match target {
            Target::X86_64SysV => x64_ret(cts, shape)?,
            Target::Aarch64 => a64_ret(cts, shape)?,
        },
    };
    if ret == RetPassing::Indirect && target == Target::X86_64SysV {
        // The result's address takes rdi.
        alloc.gpr = 1;
    }
    let args = args_shapes
        .iter()
        .map(|&shape| match target {
            Target::X86_64SysV => x64_arg(cts, shape, &mut alloc),
            Target::Aarch64 => a64_arg(cts, shape, &mut alloc),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let fprs_used = args
        .iter()
        .flat_map(|arg| match arg {
            ArgPassing::Value(pieces) => pieces.as_slice(),
            ArgPassing::Reference(_) => &[],
        })
        .filter(|piece| matches!(piece.loc, Loc::Fpr(_)))
        .count() as u8;
    let by_value_aggregates = args_shapes
        .iter()
        .chain(&ret_shape)
        .any(|shape| matches!(shape, Shape::Aggregate { .. }));
    Ok(Passing {
        target,
        args,
        ret,
        stack_size: align_up(alloc.stack, 16),
        fprs_used,
        by_value_aggregates,
    })
}
