//! The trace IR: one straight-line recording of a hot loop in SSA form. Values are
//! numbers (f64) or 32-bit integers; every assumption the recording made is a guard that
//! leaves the trace through a snapshot when it does not hold.
//!
//! A trace reads the interpreter's stack slots (relative to the base of the frame it was
//! recorded in), keeps every value in registers while it runs, and writes values back
//! only when it leaves: a snapshot lists the slots to write and the bytecode position
//! the interpreter resumes at.
//!
//! Shape: the instructions before [`Ins::Loop`] run once (the loads that seed the loop),
//! then the ones after it repeat until a guard fails. Loop-carried values are
//! [`Ins::Phi`]s placed right after [`Ins::Loop`]; the body ends with an [`Ins::SStore`] for
//! each slot it changed.

/// An instruction's index in [`Trace::ins`]; its result is the value it defines.
pub type Ref = u32;
/// A snapshot's index in [`Trace::snaps`].
pub type SnapId = u32;

/// The type of an IR value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A Lua number (IEEE double).
    Num,
    /// A 32-bit signed integer (a number narrowed because it is known integral).
    Int,
}

/// Comparisons, for guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ins {
    /// Read stack slot `slot` as a number (`Ty::Num`), leaving through `snap` if it does
    /// not hold a number.
    SLoad {
        slot: u16,
        snap: SnapId,
    },
    KNum(f64),
    KInt(i32),
    /// Double arithmetic (`Ty::Num`). `Mod` is Lua's floored modulo (`a - floor(a/b)*b`);
    /// `Pow` is C's `pow`.
    AddN(Ref, Ref),
    SubN(Ref, Ref),
    MulN(Ref, Ref),
    DivN(Ref, Ref),
    ModN(Ref, Ref),
    PowN(Ref, Ref),
    NegN(Ref),
    /// `math.floor` / `math.sqrt` / `math.abs` on a double.
    FloorN(Ref),
    SqrtN(Ref),
    AbsN(Ref),
    /// Integer arithmetic (`Ty::Int`) leaving through `snap` on signed overflow.
    AddI {
        a: Ref,
        b: Ref,
        snap: SnapId,
    },
    SubI {
        a: Ref,
        b: Ref,
        snap: SnapId,
    },
    MulI {
        a: Ref,
        b: Ref,
        snap: SnapId,
    },
    /// Double to integer, leaving through `snap` unless the double is exactly an i32
    /// (and not -0).
    NumToInt {
        a: Ref,
        snap: SnapId,
    },
    /// Integer to double.
    IntToNum(Ref),
    /// Continue if `a cmp b` holds (both of type `ty`), else leave through `snap`. For
    /// doubles the comparison is IEEE (false when either is NaN, so `Ne` holds on NaN).
    Guard {
        cmp: Cmp,
        ty: Ty,
        a: Ref,
        b: Ref,
        snap: SnapId,
    },
    /// The start of the loop body; everything after it repeats.
    Loop,
    /// A loop-carried value: `init` (defined before `Loop`) on entry, `next` (defined in
    /// the body) on each further iteration. Phis come right after `Loop`, all together.
    Phi {
        ty: Ty,
        init: Ref,
        next: Ref,
    },
    /// Write `val` to stack slot `slot` as a Lua number. The body ends with one for every
    /// slot it changed, so at the top of each iteration the stack holds the interpreter's
    /// state and a snapshot lists only what the current iteration changed so far.
    SStore {
        slot: u16,
        val: Ref,
    },
}

impl Ins {
    /// The type of the value the instruction defines (`None` for guards and `Loop`).
    pub fn ty(&self) -> Option<Ty> {
        use Ins::*;
        match self {
            SLoad { .. }
            | KNum(_)
            | AddN(..)
            | SubN(..)
            | MulN(..)
            | DivN(..)
            | ModN(..)
            | PowN(..)
            | NegN(_)
            | FloorN(_)
            | SqrtN(_)
            | AbsN(_)
            | IntToNum(_) => Some(Ty::Num),
            KInt(_) | AddI { .. } | SubI { .. } | MulI { .. } | NumToInt { .. } => Some(Ty::Int),
            Phi { ty, .. } => Some(*ty),
            Guard { .. } | Loop | SStore { .. } => None,
        }
    }
}

/// What the interpreter needs when the trace leaves through a guard: the slots to write
/// (each as a number; `Ty::Int` values are converted to doubles) and where to resume.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Snapshot {
    /// (stack slot, value) pairs, slots relative to the trace's base.
    pub slots: Vec<(u16, Ref)>,
    /// Bytecode index (in the prototype the trace was recorded in) to resume at.
    pub pc: u32,
}

/// A recorded trace.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Trace {
    pub ins: Vec<Ins>,
    pub snaps: Vec<Snapshot>,
    /// The snapshot to leave through when an interrupt is requested (taken at the loop
    /// header: the state at the start of an iteration).
    pub loop_snap: SnapId,
    /// The GC objects the trace's code embeds (table keys, constant tables, functions it
    /// was specialised to): the trace object keeps them alive.
    pub gc_consts: Vec<moonjet_gc::TValue>,
}
