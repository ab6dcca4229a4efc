//! The bytecode: LuaJIT 2.1's instruction set and encoding.
//!
//! An instruction is 32 bits: opcode in bits 0..8, `A` in 8..16, then either `C` (16..24)
//! and `B` (24..32), or one 16-bit `D` (16..32). Jump targets are `D` biased by
//! [`JUMP_BIAS`]: target = index of the next instruction + D - 0x8000.

/// Bias of jump offsets in `D`.
pub const JUMP_BIAS: u32 = 0x8000;
/// Largest register number.
pub const MAX_SLOTS: u32 = 250;

pub type Ins = u32;

#[inline(always)]
pub const fn op(i: Ins) -> u8 {
    i as u8
}
#[inline(always)]
pub const fn a(i: Ins) -> u32 {
    (i >> 8) & 0xff
}
#[inline(always)]
pub const fn b(i: Ins) -> u32 {
    i >> 24
}
#[inline(always)]
pub const fn c(i: Ins) -> u32 {
    (i >> 16) & 0xff
}
#[inline(always)]
pub const fn d(i: Ins) -> u32 {
    i >> 16
}
#[inline(always)]
pub const fn abc(o: Op, a: u32, b: u32, c: u32) -> Ins {
    o as u32 | (a << 8) | (b << 24) | (c << 16)
}
#[inline(always)]
pub const fn ad(o: Op, a: u32, d: u32) -> Ins {
    o as u32 | (a << 8) | (d << 16)
}
#[inline(always)]
pub const fn set_a(i: Ins, a: u32) -> Ins {
    (i & !0xff00) | (a << 8)
}
#[inline(always)]
pub const fn set_b(i: Ins, b: u32) -> Ins {
    (i & 0x00ff_ffff) | (b << 24)
}

/// Where jump instruction `ins` leads, from `next`, the instruction after it.
#[inline(always)]
pub fn jump_target(next: *const u32, ins: Ins) -> *const u32 {
    next.wrapping_offset(d(ins) as isize - JUMP_BIAS as isize)
}

/// `i` with the JIT's patches undone: `JFORL`/`JLOOP`/`JFUNCF` (a compiled loop or
/// function, which keep the operands) and `IFORL`/`ILOOP`/`IFUNCF` (a blacklisted one)
/// read as `FORL`/`LOOP`/`FUNCF` again, for dumping and verifying.
pub const fn unpatched(i: Ins) -> Ins {
    let o = op(i);
    if o == Op::JFORL as u8 || o == Op::IFORL as u8 {
        (i & !0xff) | Op::FORL as u32
    } else if o == Op::JLOOP as u8 || o == Op::ILOOP as u8 {
        (i & !0xff) | Op::LOOP as u32
    } else if o == Op::JFUNCF as u8 || o == Op::IFUNCF as u8 {
        (i & !0xff) | Op::FUNCF as u32
    } else {
        i
    }
}
#[inline(always)]
pub const fn set_c(i: Ins, c: u32) -> Ins {
    (i & !0x00ff_0000) | (c << 16)
}
#[inline(always)]
pub const fn set_d(i: Ins, d: u32) -> Ins {
    (i & 0xffff) | (d << 16)
}
#[inline(always)]
pub const fn set_op(i: Ins, o: Op) -> Ins {
    (i & !0xff) | o as u32
}

/// Operand modes (what an operand means; drives listing and verification).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    None,
    /// Written slot.
    Dst,
    /// First of several slots.
    Base,
    /// Read slot.
    Var,
    /// Base, read only.
    RBase,
    Uv,
    Lit,
    /// Signed 16-bit literal.
    Lits,
    /// Primitive: 0 nil, 1 false, 2 true.
    Pri,
    Num,
    Str,
    Tab,
    Func,
    Cdata,
    Jump,
}

macro_rules! opcodes {
    ($($name:ident $a:ident $b:ident $cd:ident),* $(,)?) => {
        /// Opcodes, numbered as in luajit 2.1 (2022).
        #[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        #[allow(clippy::upper_case_acronyms)]
        pub enum Op { $($name),* }

        /// Name, and modes of A, B and C/D, per opcode.
        pub const OP_INFO: &[(&str, Mode, Mode, Mode)] = &[
            $((stringify!($name), Mode::$a, Mode::$b, Mode::$cd)),*
        ];

        const ALL_OPS: &[Op] = &[$(Op::$name),*];
    };
}

opcodes! {
    ISLT Var None Var, ISGE Var None Var, ISLE Var None Var, ISGT Var None Var,
    ISEQV Var None Var, ISNEV Var None Var, ISEQS Var None Str, ISNES Var None Str,
    ISEQN Var None Num, ISNEN Var None Num, ISEQP Var None Pri, ISNEP Var None Pri,
    ISTC Dst None Var, ISFC Dst None Var, IST None None Var, ISF None None Var,
    ISTYPE Var None Lit, ISNUM Var None Lit,
    MOV Dst None Var, NOT Dst None Var, UNM Dst None Var, LEN Dst None Var,
    ADDVN Dst Var Num, SUBVN Dst Var Num, MULVN Dst Var Num, DIVVN Dst Var Num, MODVN Dst Var Num,
    ADDNV Dst Var Num, SUBNV Dst Var Num, MULNV Dst Var Num, DIVNV Dst Var Num, MODNV Dst Var Num,
    ADDVV Dst Var Var, SUBVV Dst Var Var, MULVV Dst Var Var, DIVVV Dst Var Var, MODVV Dst Var Var,
    POW Dst Var Var, CAT Dst RBase RBase,
    KSTR Dst None Str, KCDATA Dst None Cdata, KSHORT Dst None Lits, KNUM Dst None Num,
    KPRI Dst None Pri, KNIL Base None Base,
    UGET Dst None Uv, USETV Uv None Var, USETS Uv None Str, USETN Uv None Num, USETP Uv None Pri,
    UCLO RBase None Jump, FNEW Dst None Func,
    TNEW Dst None Lit, TDUP Dst None Tab, GGET Dst None Str, GSET Var None Str,
    TGETV Dst Var Var, TGETS Dst Var Str, TGETB Dst Var Lit, TGETR Dst Var Var,
    TSETV Var Var Var, TSETS Var Var Str, TSETB Var Var Lit, TSETM Base None Num, TSETR Var Var Var,
    CALLM Base Lit Lit, CALL Base Lit Lit, CALLMT Base None Lit, CALLT Base None Lit,
    ITERC Base Lit Lit, ITERN Base Lit Lit, VARG Base Lit Lit, ISNEXT Base None Jump,
    RETM Base None Lit, RET RBase None Lit, RET0 RBase None Lit, RET1 RBase None Lit,
    FORI Base None Jump, JFORI Base None Jump, FORL Base None Jump, IFORL Base None Jump, JFORL Base None Lit,
    ITERL Base None Jump, IITERL Base None Jump, JITERL Base None Lit,
    LOOP RBase None Jump, ILOOP RBase None Jump, JLOOP RBase None Lit,
    JMP RBase None Jump,
    FUNCF RBase None None, IFUNCF RBase None None, JFUNCF RBase None Lit,
    FUNCV RBase None None, IFUNCV RBase None None, JFUNCV RBase None Lit,
    FUNCC RBase None None, FUNCCW RBase None None,
}

impl Op {
    pub fn name(self) -> &'static str {
        OP_INFO[self as usize].0
    }

    pub fn from_u8(n: u8) -> Option<Op> {
        ALL_OPS.get(n as usize).copied()
    }

    pub fn modes(self) -> (Mode, Mode, Mode) {
        let (_, a, b, cd) = OP_INFO[self as usize];
        (a, b, cd)
    }

    /// Has a `B` operand (so the high half is `B`/`C`, not `D`).
    pub fn has_b(self) -> bool {
        self.modes().1 != Mode::None
    }
}

/// Number of opcodes.
pub const NUM_OPS: usize = Op::FUNCCW as usize + 1;

// The numbering promise of the module docs.
const _: () = {
    assert!(Op::ISLT as u8 == 0 && Op::MOV as u8 == 18 && Op::ADDVN as u8 == 22);
    assert!(Op::KSTR as u8 == 39 && Op::TNEW as u8 == 52 && Op::CALLM as u8 == 65);
    assert!(Op::FORI as u8 == 77 && Op::LOOP as u8 == 85 && Op::JMP as u8 == 88);
    assert!(Op::FUNCF as u8 == 89 && Op::FUNCCW as u8 == 96);
};
