//! The trace IR: one straight-line recording of a hot loop in SSA form. Every value has
//! a type the recording specialised it to (a number, a 32-bit integer, a table, a
//! string, a function, nil or a boolean, or a raw pointer into an object); every
//! assumption the recording made is a guard that leaves the trace through a snapshot
//! when it does not hold.
//!
//! FFI accesses read and write C memory directly ([`Ins::XLoad`], [`Ins::XStore`]) at
//! addresses the trace computes from cdata objects, specialised to their C types.
//!
//! A trace reads the interpreter's stack slots (relative to the base of the frame it was
//! recorded in), keeps values in registers while it runs, and writes slots back only when
//! it leaves: a snapshot lists the slots to write and the bytecode position the
//! interpreter resumes at. Table and upvalue stores go to memory at once, as the
//! interpreter's would.
//!
//! Shape: the instructions before [`Ins::Loop`] run once (the first iteration, "pre-roll"),
//! then the ones after it repeat until a guard fails. Loop-carried values are
//! [`Ins::Phi`]s placed right after [`Ins::Loop`].

/// An instruction's index in [`Trace::ins`]; its result is the value it defines.
pub type Ref = u32;
/// A snapshot's index in [`Trace::snaps`].
pub type SnapId = u32;

/// The type of an IR value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    /// A Lua number (IEEE double).
    Num,
    /// A 32-bit signed integer (a number narrowed because it is known integral).
    Int,
    Nil,
    False,
    True,
    /// GC objects, held as their address.
    Str,
    Tab,
    Func,
    /// A cdata object (`moonjet_gc::object::GcCdata`).
    Cdata,
    /// A userdata object (a C library namespace, as the recorder uses them).
    Udata,
    /// A raw address or bit pattern (an array part, a node, an upvalue's slot); never a
    /// Lua value, so never stored to a slot.
    Ptr,
    /// The value of an `int64_t` / `uint64_t` cdata, unboxed: a 64-bit integer a trace
    /// keeps in a register. Written to a slot (as a trace leaves), it becomes a new
    /// cdata of its type, as the interpreter's arithmetic would have made.
    I64,
    U64,
}

impl Ty {
    /// The internal type tag (`moonjet_gc::value::itype`) of a Lua value of this type.
    pub fn itype(self) -> Option<u32> {
        use moonjet_gc::value::itype;
        Some(match self {
            Ty::Nil => itype::NIL,
            Ty::False => itype::FALSE,
            Ty::True => itype::TRUE,
            Ty::Str => itype::STR,
            Ty::Tab => itype::TAB,
            Ty::Func => itype::FUNC,
            Ty::Cdata => itype::CDATA,
            Ty::Udata => itype::UDATA,
            Ty::Num | Ty::Int | Ty::Ptr | Ty::I64 | Ty::U64 => return None,
        })
    }

    /// The type a trace specialises a runtime value to (`None`: not supported).
    pub fn of(v: moonjet_gc::TValue) -> Option<Ty> {
        Some(if v.is_number() {
            Ty::Num
        } else if v.is_nil() {
            Ty::Nil
        } else if v.is_false() {
            Ty::False
        } else if v.is_bool() {
            Ty::True
        } else if v.is_str() {
            Ty::Str
        } else if v.is_tab() {
            Ty::Tab
        } else if v.is_func() {
            Ty::Func
        } else if v.is_cdata() {
            Ty::Cdata
        } else if v.is_udata() {
            Ty::Udata
        } else {
            return None;
        })
    }

    /// A type whose only value is a constant (nil, false, true).
    pub fn is_pri(self) -> bool {
        self.pri_value().is_some()
    }

    /// That constant, for nil, false and true.
    pub fn pri_value(self) -> Option<moonjet_gc::TValue> {
        use moonjet_gc::TValue;
        match self {
            Ty::Nil => Some(TValue::NIL),
            Ty::False => Some(TValue::FALSE),
            Ty::True => Some(TValue::TRUE),
            _ => None,
        }
    }

    /// A GC object held as its address.
    pub fn is_gc(self) -> bool {
        matches!(self, Ty::Str | Ty::Tab | Ty::Func | Ty::Cdata | Ty::Udata)
    }

    /// An unboxed 64-bit integer cdata value.
    pub fn is_int64(self) -> bool {
        matches!(self, Ty::I64 | Ty::U64)
    }

    /// Whether a value of this type can be written to a Lua slot.
    pub fn is_lua(self) -> bool {
        self != Ty::Ptr
    }

    /// The name `-jdump` gives the type.
    pub fn name(self) -> &'static str {
        match self {
            Ty::Num => "num",
            Ty::Int => "int",
            Ty::Nil => "nil",
            Ty::False => "fal",
            Ty::True => "tru",
            Ty::Str => "str",
            Ty::Tab => "tab",
            Ty::Func => "fun",
            Ty::Cdata => "cdt",
            Ty::Udata => "udt",
            Ty::Ptr => "p64",
            Ty::I64 => "i64",
            Ty::U64 => "u64",
        }
    }
}

/// Comparisons, for guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    /// Unsigned less-than (integers and pointers): array bounds.
    ULt,
}

/// The arithmetic of 64-bit integer cdata (`Ins::Arith64`), wrapping as in C. Division
/// and modulo follow the interpreter (`moonjet_runtime::ffi::ops::arith_i64`): by zero,
/// and the overflowing `INT64_MIN / -1`, they give `0x8000000000000000`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op64 {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Neg,
}

/// Fields of objects a trace reads directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// `tab.array` (Ptr).
    TabArray,
    /// `tab.asize` (Int, unsigned).
    TabAsize,
    /// `tab.metatable` (Ptr, 0 for none).
    TabMeta,
    /// `tab.node` (Ptr).
    TabNode,
    /// `tab.hmask` (Int).
    TabHmask,
    /// `func.env` (Tab).
    FuncEnv,
    /// `udata.metatable` (Ptr, 0 for none).
    UdataMeta,
    /// A Lua function's prototype (Ptr; never changes).
    FuncProto,
    /// `upval.v`: where the upvalue's value lives (Ptr).
    UpvalV,
    /// `str.len` (Num: a length needs not fit an i32).
    StrLen,
    /// `cdata.ctypeid`: the C type of a cdata object (Int, from its u16).
    CdataCtype,
    /// The address a pointer or reference cdata holds in its payload (Ptr). A cdata's
    /// payload is never written after it is made, so the load is pure.
    CdataPtr,
    /// The value an `int64_t` / `uint64_t` cdata holds (I64 / U64; pure, as above).
    CdataI64,
    CdataU64,
}

impl Field {
    pub fn ty(self) -> Ty {
        match self {
            Field::TabArray | Field::TabMeta | Field::TabNode | Field::UpvalV => Ty::Ptr,
            Field::UdataMeta | Field::FuncProto => Ty::Ptr,
            Field::TabAsize | Field::TabHmask | Field::CdataCtype => Ty::Int,
            Field::StrLen => Ty::Num,
            Field::FuncEnv => Ty::Tab,
            Field::CdataPtr => Ty::Ptr,
            Field::CdataI64 => Ty::I64,
            Field::CdataU64 => Ty::U64,
        }
    }

    /// The type of the object the field belongs to.
    pub fn object(self) -> Ty {
        match self {
            Field::TabArray
            | Field::TabAsize
            | Field::TabMeta
            | Field::TabNode
            | Field::TabHmask => Ty::Tab,
            Field::FuncEnv | Field::FuncProto => Ty::Func,
            Field::UdataMeta => Ty::Udata,
            Field::UpvalV => Ty::Ptr,
            Field::StrLen => Ty::Str,
            Field::CdataCtype | Field::CdataPtr | Field::CdataI64 | Field::CdataU64 => Ty::Cdata,
        }
    }

    /// Whether a table resize (growth through [`Ins::TabSetInt`] or [`Ins::TabSetStr`])
    /// may change it.
    pub fn resizable(self) -> bool {
        matches!(
            self,
            Field::TabArray | Field::TabAsize | Field::TabNode | Field::TabHmask
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Field::TabArray => "tab.array",
            Field::TabAsize => "tab.asize",
            Field::TabMeta => "tab.meta",
            Field::TabNode => "tab.node",
            Field::TabHmask => "tab.hmask",
            Field::FuncEnv => "func.env",
            Field::UdataMeta => "udata.meta",
            Field::FuncProto => "func.proto",
            Field::UpvalV => "uv.v",
            Field::StrLen => "str.len",
            Field::CdataCtype => "cdata.ctypeid",
            Field::CdataPtr => "cdata.ptr",
            Field::CdataI64 | Field::CdataU64 => "cdata.int64",
        }
    }
}

/// A C number type a trace reads or writes directly in C memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CNum {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
    /// A one-byte `bool`.
    Bool,
    I64,
    U64,
}

impl CNum {
    /// Bytes in memory.
    pub fn size(self) -> u32 {
        match self {
            CNum::I8 | CNum::U8 | CNum::Bool => 1,
            CNum::I16 | CNum::U16 => 2,
            CNum::I32 | CNum::U32 | CNum::F32 => 4,
            CNum::F64 | CNum::I64 | CNum::U64 => 8,
        }
    }

    /// The IR type a load gives: Int for the integers an i32 holds (and a `bool`'s byte,
    /// which the recorder compares with 0), Num for `uint32_t` and the floats, the
    /// unboxed 64-bit integer types for `int64_t` and `uint64_t`.
    pub fn load_ty(self) -> Ty {
        match self {
            CNum::I8 | CNum::U8 | CNum::I16 | CNum::U16 | CNum::I32 | CNum::Bool => Ty::Int,
            CNum::U32 | CNum::F32 | CNum::F64 => Ty::Num,
            CNum::I64 => Ty::I64,
            CNum::U64 => Ty::U64,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, CNum::F32 | CNum::F64)
    }

    /// Whether a value of IR type `ty` stored as this type loads back as itself (no
    /// conversion changes it; a NaN's bits do not matter until it is boxed or stored,
    /// which canonicalise it).
    pub fn loads_back(self, ty: Ty) -> bool {
        matches!(
            (self, ty),
            (CNum::F64, Ty::Num)
                | (CNum::I32, Ty::Int)
                | (CNum::I64, Ty::I64)
                | (CNum::U64, Ty::U64)
        )
    }

    /// The name `-jdump` gives it (luajit's IR type names).
    pub fn name(self) -> &'static str {
        match self {
            CNum::I8 => "i8",
            CNum::U8 => "u8",
            CNum::I16 => "i16",
            CNum::U16 => "u16",
            CNum::I32 => "int",
            CNum::U32 => "u32",
            CNum::F32 => "flt",
            CNum::F64 => "num",
            CNum::Bool => "bool",
            CNum::I64 => "i64",
            CNum::U64 => "u64",
        }
    }
}

/// How a compiled C call passes one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CArg {
    /// A C number, from a Num, Int or 64-bit integer value converted as [`Ins::XStore`]
    /// converts it.
    Num(CNum),
    /// An address (a Ptr value).
    Ptr,
}

/// Most arguments a compiled C call takes (all of them in registers on x86-64 and
/// AArch64, whatever their kinds).
pub const MAX_C_ARGS: usize = 6;

/// Most arguments a compiled call of a native function takes.
pub const MAX_NATIVE_ARGS: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ins {
    /// Read stack slot `slot` as a value of type `ty`, leaving through `snap` if it holds
    /// another type.
    SLoad {
        slot: u16,
        ty: Ty,
        snap: SnapId,
    },
    KNum(f64),
    KInt(i32),
    /// A GC object (`ty` Str/Tab/Func) by address; it is listed in `Trace::gc_consts`.
    KGc {
        addr: u64,
        ty: Ty,
    },
    /// nil, false or true (`ty`).
    KPri(Ty),
    /// A raw bit pattern (Ptr): a node key to compare with, or null.
    KPtr(u64),
    /// A 64-bit integer constant of type `ty` (I64 or U64): an `123LL` literal.
    K64 {
        bits: u64,
        ty: Ty,
    },
    /// The function of the trace's frame (slot -2 of the frame, always a function).
    CurFunc,
    /// The address of the trace's stack slot `slot` (Ptr): where an open upvalue on it
    /// points.
    SlotAddr {
        slot: u16,
    },
    /// Field `field` of object `obj`.
    FLoad {
        obj: Ref,
        field: Field,
    },
    /// Upvalue `idx` of Lua closure `func` (the GcUpval's address, Ptr).
    UvRef {
        func: Ref,
        idx: u16,
    },
    /// The Lua value at `ptr + 8*idx + off` (`idx` an Int, or none), as type `ty`,
    /// leaving through `snap` if it has another type.
    Load {
        ptr: Ref,
        idx: Option<Ref>,
        off: i32,
        ty: Ty,
        snap: SnapId,
    },
    /// The raw 64 bits at `ptr + off` (Ptr).
    LoadBits {
        ptr: Ref,
        off: i32,
    },
    /// Store Lua value `val` at `ptr + 8*idx + off`.
    Store {
        ptr: Ref,
        idx: Option<Ref>,
        off: i32,
        val: Ref,
    },
    /// The address of element `idx` (an Int, sign-extended) of `size` bytes from `base`
    /// (a Ptr, or a Cdata or Str object's address): `base + idx*size` (Ptr).
    ElemAddr {
        base: Ref,
        idx: Ref,
        size: u32,
    },
    /// The C number of type `ct` at `ptr + off` (`ptr` a Ptr, or a Cdata object's
    /// address), as a value of type `ct.load_ty()` (luajit's XLOAD).
    XLoad {
        ptr: Ref,
        off: i32,
        ct: CNum,
    },
    /// Store number `val` (a Num, an Int or a 64-bit integer) to the C number of type
    /// `ct` at `ptr + off`, converted as the FFI converts a Lua number (or an integer
    /// cdata) to that type (luajit's XSTORE).
    XStore {
        ptr: Ref,
        off: i32,
        ct: CNum,
        val: Ref,
    },
    /// Table `tab` is about to be written: clear its metamethod cache and run the write
    /// barrier if it is black.
    TabWrite {
        tab: Ref,
    },
    /// Upvalue `uv` (a GcUpval) was given GC value `val`: the forward barrier.
    UvBarrier {
        uv: Ref,
        val: Ref,
    },
    /// `#tab` (a Num).
    TabLen {
        tab: Ref,
    },
    /// `tab[key]` for an Int key outside the array part (looked up in the hash part),
    /// as type `ty`, leaving through `snap` if it has another type.
    TabGetInt {
        tab: Ref,
        key: Ref,
        ty: Ty,
        snap: SnapId,
    },
    /// `tab[key]` for a constant string key (a Str) through the general lookup, as type
    /// `ty`, leaving through `snap` if it has another type: how a trace checks a key is
    /// absent (nil) before looking further, through the metatable.
    TabGetStr {
        tab: Ref,
        key: Ref,
        ty: Ty,
        snap: SnapId,
    },
    /// `tab[key] = val` for an Int key outside the array part (may grow the table);
    /// leaves through `snap` (before the store) if memory runs out.
    TabSetInt {
        tab: Ref,
        key: Ref,
        val: Ref,
        snap: SnapId,
    },
    /// `tab[key] = val` for a constant string `key` (a `KGc`) the table may not hold yet
    /// (may insert it and grow the table); leaves through `snap` if memory runs out.
    TabSetStr {
        tab: Ref,
        key: Ref,
        val: Ref,
        snap: SnapId,
    },
    /// Double arithmetic (`Ty::Num`). `Mod` is Lua's floored modulo (`a - floor(a/b)*b`);
    /// `Pow` is C's `pow`.
    AddN(Ref, Ref),
    SubN(Ref, Ref),
    MulN(Ref, Ref),
    DivN(Ref, Ref),
    ModN(Ref, Ref),
    PowN(Ref, Ref),
    NegN(Ref),
    /// `math.floor` / `math.ceil` / `math.sqrt` / `math.abs` on a double.
    FloorN(Ref),
    CeilN(Ref),
    SqrtN(Ref),
    AbsN(Ref),
    /// `math.min` / `math.max` of two doubles (as the interpreter: the first operand
    /// only if strictly less / greater, so ties and NaNs give the second).
    MinN(Ref, Ref),
    MaxN(Ref, Ref),
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
    /// A narrowed `for` loop's index step `index + step`, which cannot overflow: the
    /// loop runs only while the index has not passed `stop`, and an `AddI` of `stop +
    /// step` before it checked that the farthest step fits. No check of its own.
    StepI(Ref, Ref),
    /// Double to integer, leaving through `snap` unless the double is exactly an i32
    /// (and not -0).
    NumToInt {
        a: Ref,
        snap: SnapId,
    },
    /// Integer to double.
    IntToNum(Ref),
    /// A value as a 64-bit integer of type `ty` (I64 or U64), as the FFI's arithmetic
    /// converts its operands: a Num truncated (`moonjet_runtime::num::trunc_i64` /
    /// `trunc_u64`), an Int sign-extended, a 64-bit integer's bits kept.
    To64 {
        a: Ref,
        ty: Ty,
    },
    /// Address `ptr` (a Ptr) moved by `delta` bytes (an I64), wrapping: pointer
    /// arithmetic.
    PtrAdd {
        ptr: Ref,
        delta: Ref,
    },
    /// A pointer cdata of C type `ctype` holding address `addr` (a Ptr), as pointer
    /// arithmetic makes one: never made in the trace ("sunk"), which uses the address;
    /// only where the trace leaves, a slot naming it gets a new cdata. Its only other
    /// uses are the loads of its type and address, which fold away.
    PtrCdata {
        ctype: u16,
        addr: Ref,
    },
    /// 64-bit integer arithmetic on two values of type `ty` (I64 or U64; `Neg` ignores
    /// `b`).
    Arith64 {
        op: Op64,
        a: Ref,
        b: Ref,
        ty: Ty,
    },
    /// `bit.tobit`: a double to the 32-bit integer the bit library makes of it (modulo
    /// 2^32, rounding to nearest as adding 2^52+2^51 does; never leaves).
    ToBit(Ref),
    /// The bit library's operations on 32-bit integers (`Ty::Int`). Shifts and rotations
    /// use the low 5 bits of their count `b`, as `bit.lshift` and the others do.
    BNot(Ref),
    BSwap(Ref),
    BAnd(Ref, Ref),
    BOr(Ref, Ref),
    BXor(Ref, Ref),
    BShl(Ref, Ref),
    BShr(Ref, Ref),
    BSar(Ref, Ref),
    BRol(Ref, Ref),
    BRor(Ref, Ref),
    /// A new empty table (`TNEW`) with room for `asize` array slots and `1 << hbits`
    /// nodes, leaving through `snap` (before the `TNEW`) if memory runs out.
    TNew {
        asize: u32,
        hbits: u32,
        snap: SnapId,
    },
    /// A copy of template table `tpl` (`TDUP`), leaving through `snap` if memory runs out.
    TDup {
        tpl: Ref,
        snap: SnapId,
    },
    /// Continue if `a cmp b` holds (both of type `ty`: Num, Int, Ptr, or I64 / U64
    /// compared signed / unsigned), else leave through `snap`. For doubles the
    /// comparison is IEEE (false when either is NaN, so `Ne` holds on NaN).
    Guard {
        cmp: Cmp,
        ty: Ty,
        a: Ref,
        b: Ref,
        snap: SnapId,
    },
    /// A call of the C function at address `func` (a Ptr) with `args[..nargs]`, passed
    /// as `kinds` says, giving a C number `ret` as a value of type `ret.load_ty()` (or
    /// nothing). `errno` is set from the state's `ffi.errno` before and saved after, as
    /// the interpreter's C calls do. If a callback ran during the call, the trace leaves
    /// right after it through `after` (the result in its slot): the callback ran Lua code
    /// that may have moved the stack or collected garbage, so the interpreter goes on.
    /// Before the call, `after`'s slots that a callback could see are written: GC values
    /// (but constants, which the trace keeps alive), for the collector, and the slots a
    /// closure may have captured (bit `s` of `captured` for slot `s`; slots from 64 on
    /// count as captured); leaving after a callback writes only the others, leaving
    /// what the callback stored.
    CCall {
        func: Ref,
        args: [Ref; MAX_C_ARGS],
        kinds: [CArg; MAX_C_ARGS],
        nargs: u8,
        ret: Option<CNum>,
        captured: u64,
        after: SnapId,
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
    /// Write `val` to stack slot `slot` (at the end of each iteration; only traces built
    /// without the loop optimisation use it).
    SStore {
        slot: u16,
        val: Ref,
    },
    /// A recursive call of the function whose function trace roots this trace's tree
    /// (`CALL` with the function in slot `func`, its arguments after it, one result or
    /// none): the callee's frame is written to the stack (`snap`'s slots from `func` up,
    /// the frame link `link`) and the root trace is called natively on it. If the stack
    /// or the native call depth has no room, or an interrupt is waiting, it leaves
    /// through `snap` (the interpreter makes the call). A callee that returns leaves its
    /// result in slot `func`; one that leaves for the interpreter has written its frame,
    /// so this trace writes `after`'s slots (those below `func`; the interpreter resumes
    /// there when the callee returns) and leaves the same way.
    CallSelf {
        func: u16,
        /// The callee's frame size, for the stack check.
        framesize: u16,
        /// The return address the callee's frame link holds (after the `CALL`).
        link: u64,
        snap: SnapId,
        after: SnapId,
    },
    /// A call of the native (Rust) function `func` (guarded constant) in slot `slot` of
    /// the trace's frame with `args[..nargs]`, made by the `CALL` at address `pc` exactly
    /// as the interpreter makes it (`moonjet_runtime::vm::interp::call_native_for_trace`).
    /// The frame is written first, `after`'s slots (all live ones below `slot`), the
    /// function and the arguments, so that the callee, the collector and the debug
    /// library see what the interpreter would show them. The callee may run Lua code, the
    /// collector and anything else: every load after it reads memory again, and its
    /// results are loaded from their slots. If it raised an error, or the stack moved,
    /// the trace leaves through `after` (the state after the call), writing neither the
    /// slots from `slot` on (the results) nor those closures may have captured (bit `s`
    /// of `captured` for slot `s`; slots from 64 on count as captured): those hold what
    /// the callee left.
    NativeCall {
        func: Ref,
        args: [Ref; MAX_NATIVE_ARGS],
        nargs: u8,
        slot: u16,
        pc: u64,
        captured: u64,
        after: SnapId,
    },
}

impl Ins {
    /// The type of the value the instruction defines (`None` for guards, stores and
    /// `Loop`).
    pub fn ty(&self) -> Option<Ty> {
        use Ins::*;
        match *self {
            SLoad { ty, .. }
            | Load { ty, .. }
            | TabGetInt { ty, .. }
            | TabGetStr { ty, .. }
            | KGc { ty, .. }
            | KPri(ty)
            | K64 { ty, .. }
            | To64 { ty, .. }
            | Arith64 { ty, .. }
            | Phi { ty, .. } => Some(ty),
            KNum(_)
            | AddN(..)
            | SubN(..)
            | MulN(..)
            | DivN(..)
            | ModN(..)
            | PowN(..)
            | NegN(_)
            | FloorN(_)
            | CeilN(_)
            | SqrtN(_)
            | AbsN(_)
            | MinN(..)
            | MaxN(..)
            | IntToNum(_)
            | TabLen { .. } => Some(Ty::Num),
            KInt(_)
            | AddI { .. }
            | StepI(..)
            | SubI { .. }
            | MulI { .. }
            | NumToInt { .. }
            | ToBit(_)
            | BNot(_)
            | BSwap(_)
            | BAnd(..)
            | BOr(..)
            | BXor(..)
            | BShl(..)
            | BShr(..)
            | BSar(..)
            | BRol(..)
            | BRor(..) => Some(Ty::Int),
            XLoad { ct, .. } => Some(ct.load_ty()),
            CCall { ret, .. } => ret.map(CNum::load_ty),
            TNew { .. } | TDup { .. } => Some(Ty::Tab),
            KPtr(_) | UvRef { .. } | LoadBits { .. } | SlotAddr { .. } | ElemAddr { .. } => {
                Some(Ty::Ptr)
            }
            CurFunc => Some(Ty::Func),
            PtrAdd { .. } => Some(Ty::Ptr),
            PtrCdata { .. } => Some(Ty::Cdata),
            FLoad { field, .. } => Some(field.ty()),
            Guard { .. }
            | Loop
            | SStore { .. }
            | Store { .. }
            | XStore { .. }
            | TabWrite { .. }
            | UvBarrier { .. }
            | TabSetInt { .. }
            | TabSetStr { .. }
            | CallSelf { .. }
            | NativeCall { .. } => None,
        }
    }

    /// The snapshot the instruction may leave through.
    pub fn snap(&self) -> Option<SnapId> {
        let mut c = *self;
        c.snap_mut().map(|s| *s)
    }

    pub fn snap_mut(&mut self) -> Option<&mut SnapId> {
        use Ins::*;
        match self {
            SLoad { snap, .. }
            | Load { snap, .. }
            | TabGetInt { snap, .. }
            | TabGetStr { snap, .. }
            | TabSetInt { snap, .. }
            | TabSetStr { snap, .. }
            | TNew { snap, .. }
            | TDup { snap, .. }
            | AddI { snap, .. }
            | SubI { snap, .. }
            | MulI { snap, .. }
            | NumToInt { snap, .. }
            | Guard { snap, .. }
            | CallSelf { snap, .. }
            | CCall { after: snap, .. }
            | NativeCall { after: snap, .. } => Some(snap),
            _ => None,
        }
    }

    /// The instruction's operands (values it uses), for renaming and checks.
    pub fn operands_mut(&mut self) -> Vec<&mut Ref> {
        use Ins::*;
        match self {
            SLoad { .. }
            | KNum(_)
            | KInt(_)
            | KGc { .. }
            | KPri(_)
            | KPtr(_)
            | K64 { .. }
            | CurFunc
            | SlotAddr { .. }
            | Loop
            | TNew { .. }
            | CallSelf { .. } => {
                vec![]
            }
            TDup { tpl, .. } => vec![tpl],
            FLoad { obj, .. } => vec![obj],
            UvRef { func, .. } => vec![func],
            Load { ptr, idx, .. } => {
                let mut v = vec![ptr];
                if let Some(i) = idx {
                    v.push(i);
                }
                v
            }
            LoadBits { ptr, .. } | XLoad { ptr, .. } => vec![ptr],
            ElemAddr { base, idx, .. } => vec![base, idx],
            XStore { ptr, val, .. } => vec![ptr, val],
            CCall {
                func, args, nargs, ..
            } => {
                let mut v = vec![func];
                v.extend(args.iter_mut().take(usize::from(*nargs)));
                v
            }
            NativeCall {
                func, args, nargs, ..
            } => {
                let mut v = vec![func];
                v.extend(args.iter_mut().take(usize::from(*nargs)));
                v
            }
            Store { ptr, idx, val, .. } => {
                let mut v = vec![ptr];
                if let Some(i) = idx {
                    v.push(i);
                }
                v.push(val);
                v
            }
            TabWrite { tab } | TabLen { tab } => vec![tab],
            TabGetInt { tab, key, .. } | TabGetStr { tab, key, .. } => vec![tab, key],
            UvBarrier { uv, val } => vec![uv, val],
            TabSetInt { tab, key, val, .. } | TabSetStr { tab, key, val, .. } => {
                vec![tab, key, val]
            }
            AddN(a, b)
            | SubN(a, b)
            | MulN(a, b)
            | DivN(a, b)
            | ModN(a, b)
            | PowN(a, b)
            | MinN(a, b)
            | MaxN(a, b) => vec![a, b],
            NegN(a) | FloorN(a) | CeilN(a) | SqrtN(a) | AbsN(a) | IntToNum(a) => vec![a],
            ToBit(a) | BNot(a) | BSwap(a) => vec![a],
            BAnd(a, b)
            | BOr(a, b)
            | BXor(a, b)
            | BShl(a, b)
            | BShr(a, b)
            | BSar(a, b)
            | BRol(a, b)
            | BRor(a, b) => vec![a, b],
            AddI { a, b, .. } | SubI { a, b, .. } | MulI { a, b, .. } | StepI(a, b) => {
                vec![a, b]
            }
            NumToInt { a, .. } | To64 { a, .. } => vec![a],
            PtrAdd { ptr, delta } => vec![ptr, delta],
            PtrCdata { addr, .. } => vec![addr],
            Arith64 { a, b, .. } => vec![a, b],
            Guard { a, b, .. } => vec![a, b],
            Phi { init, next, .. } => vec![init, next],
            SStore { val, .. } => vec![val],
        }
    }

    pub fn operands(&self) -> Vec<Ref> {
        let mut c = *self;
        c.operands_mut().into_iter().map(|r| *r).collect()
    }

    /// Whether the instruction writes memory loads may read (stores, growth, a call). A
    /// `TabWrite` does not: it only clears a cache and greys the table, which no trace
    /// load reads, and doing it once per table is enough (no GC step runs in a trace).
    pub fn writes_memory(&self) -> bool {
        matches!(
            self,
            Ins::Store { .. }
                | Ins::XStore { .. }
                | Ins::UvBarrier { .. }
                | Ins::TabSetInt { .. }
                | Ins::TabSetStr { .. }
                | Ins::SStore { .. }
                | Ins::CallSelf { .. }
                | Ins::CCall { .. }
                | Ins::NativeCall { .. }
        )
    }

    /// Whether the instruction allocates (a new table, or a table's growth, or a call
    /// whose callee may): the trace then checks at its loop header whether a GC step is
    /// due. An allocation is never shared with another (two `{}` are two tables), so it
    /// is not pure either.
    pub fn allocates(&self) -> bool {
        matches!(
            self,
            Ins::TNew { .. }
                | Ins::TDup { .. }
                | Ins::TabSetInt { .. }
                | Ins::TabSetStr { .. }
                | Ins::CallSelf { .. }
                | Ins::NativeCall { .. }
        )
    }

    /// Whether the instruction reads memory a store may change.
    pub fn reads_memory(&self) -> bool {
        matches!(
            self,
            Ins::Load { .. }
                | Ins::LoadBits { .. }
                | Ins::XLoad { .. }
                | Ins::TabLen { .. }
                | Ins::TabGetInt { .. }
                | Ins::TabGetStr { .. }
        )
    }
}

/// What the interpreter needs when the trace leaves through a guard: the slots to write
/// (each boxed by its IR type; `Ty::Int` values are converted to doubles, 64-bit
/// integers become new cdata) and where to resume.
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
    /// A trace without a loop (a side trace) ends by leaving through this snapshot: the
    /// state on entry to the trace it links to (or where the interpreter goes on).
    /// `None` for a trace with a loop.
    pub link_snap: Option<SnapId>,
    /// The GC objects the trace's code embeds (table keys, constant tables, functions it
    /// was specialised to): the trace object keeps them alive.
    pub gc_consts: Vec<moonjet_gc::TValue>,
    /// A trace that ends at a return from its own frame (`RET0`/`RET1`/`RET` with a fixed
    /// count): the slot of the first result, if there is one. Called natively by a
    /// [`Ins::CallSelf`], it returns to its caller with that result in the callee's
    /// function slot; entered from the interpreter, it leaves through its link snapshot
    /// and the interpreter makes the return.
    pub ret: Option<Option<u16>>,
    /// A trace that ends with a tail call of its own function (the state at its link
    /// snapshot is the function's entry, in the same frame): it links to the function
    /// trace rooting its tree.
    pub tail_call: bool,
}

impl Trace {
    /// The listing `-jdump` shows, with snapshots.
    pub fn dump(&self) -> String {
        self.listing(true)
    }

    /// The IR in the columns of luajit's `-jdump`: one line per instruction (`>` marks
    /// a guard, `+` a value a PHI carries round the loop), each snapshot (if `snapshots`)
    /// before the first instruction that leaves through it.
    pub fn listing(&self, snapshots: bool) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let snap_line = |out: &mut String, id: SnapId| {
            if let Some(s) = self.snaps.get(id as usize) {
                let _ = writeln!(out, "....        SNAP   #{id:<3} {}", Self::snap_slots(s));
            }
        };
        let mut carried = vec![false; self.ins.len()];
        for ins in &self.ins {
            if let Ins::Phi { init, next, .. } = *ins {
                for r in [init, next] {
                    if let Some(c) = carried.get_mut(r as usize) {
                        *c = true;
                    }
                }
            }
        }
        let mut shown = vec![!snapshots; self.snaps.len()];
        let mut show_snap = |out: &mut String, id: SnapId| {
            if let Some(seen) = shown.get_mut(id as usize) {
                if !*seen {
                    *seen = true;
                    snap_line(out, id);
                }
            }
        };
        for (i, ins) in self.ins.iter().enumerate() {
            if let Some(s) = ins.snap() {
                show_snap(&mut out, s);
            }
            if matches!(ins, Ins::Loop) {
                let _ = writeln!(out, "{i:04} ------ LOOP ------------");
                // Taken at the loop header (an interrupt leaves through it).
                show_snap(&mut out, self.loop_snap);
                continue;
            }
            let guard = if ins.snap().is_some() { '>' } else { ' ' };
            let mark = if carried[i] { '+' } else { ' ' };
            let ty = ins.ty().map_or("   ", Ty::name);
            let _ = writeln!(out, "{i:04} {guard}{mark} {ty} {}", describe(ins));
        }
        if let Some(s) = self.link_snap {
            show_snap(&mut out, s);
        }
        out
    }

    /// The snapshots alone (luajit's `-jdump=s` without `i`): each one's number, the
    /// instruction that first leaves through it (or the last), and its slots.
    pub fn snapshot_listing(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        for (id, s) in self.snaps.iter().enumerate() {
            let id = id as SnapId;
            let at = self
                .ins
                .iter()
                .position(|ins| {
                    ins.snap() == Some(id) || (matches!(ins, Ins::Loop) && id == self.loop_snap)
                })
                .unwrap_or(self.ins.len().saturating_sub(1));
            let _ = writeln!(out, "#{id:<3} {at:04} {}", Self::snap_slots(s));
        }
        out
    }

    /// A snapshot's slots as luajit lists them, from slot 0 up to the highest it
    /// writes (`----` for slots it leaves alone), then the bytecode position it resumes
    /// at.
    fn snap_slots(s: &Snapshot) -> String {
        use std::fmt::Write;
        let mut out = String::from("[ ");
        let top = s.slots.iter().map(|&(slot, _)| slot as usize + 1).max();
        let mut refs = vec![None; top.unwrap_or(0)];
        for &(slot, r) in &s.slots {
            refs[slot as usize] = Some(r);
        }
        for r in refs {
            match r {
                Some(r) => {
                    let _ = write!(out, "{r:04} ");
                }
                None => out.push_str("---- "),
            }
        }
        let _ = write!(out, "] pc {}", s.pc);
        out
    }
}

fn describe(ins: &Ins) -> String {
    let r = |r: Ref| format!("{r:04}");
    match *ins {
        Ins::SLoad { slot, .. } => format!("SLOAD  #{slot}"),
        Ins::KNum(x) => format!("KNUM   {}", moonjet_runtime::num::fmt_num(x)),
        Ins::KInt(x) => format!("KINT   {x}"),
        Ins::KGc { addr, .. } => format!("KGC    {addr:#x}"),
        Ins::KPri(t) => format!("KPRI   {}", t.name()),
        Ins::KPtr(p) => format!("KPTR   {p:#x}"),
        Ins::K64 { bits, ty } => match ty {
            Ty::U64 => format!("KINT64 {bits}ULL"),
            _ => format!("KINT64 {}LL", bits as i64),
        },
        Ins::To64 { a, .. } => format!("CONV   {}", r(a)),
        Ins::PtrAdd { ptr, delta } => format!("ADD    {}  {}", r(ptr), r(delta)),
        Ins::PtrCdata { ctype, addr } => format!("CNEWI  +{ctype}  {}", r(addr)),
        Ins::Arith64 { op, a, b, .. } => match op {
            Op64::Neg => format!("NEG    {}", r(a)),
            _ => format!("{:<6} {}  {}", format!("{op:?}").to_uppercase(), r(a), r(b)),
        },
        Ins::CurFunc => "CURFN".into(),
        Ins::SlotAddr { slot } => format!("SADDR  #{slot}"),
        Ins::FLoad { obj, field } => format!("FLOAD  {}  {}", r(obj), field.name()),
        Ins::UvRef { func, idx } => format!("UREF   {}  #{idx}", r(func)),
        Ins::Load { ptr, idx, off, .. } => match idx {
            Some(i) => format!("LOAD   {}  [{}]{off:+}", r(ptr), r(i)),
            None => format!("LOAD   {}  {off:+}", r(ptr)),
        },
        Ins::LoadBits { ptr, off } => format!("BITS   {}  {off:+}", r(ptr)),
        Ins::Store { ptr, idx, off, val } => match idx {
            Some(i) => format!("STORE  {}  [{}]{off:+}  {}", r(ptr), r(i), r(val)),
            None => format!("STORE  {}  {off:+}  {}", r(ptr), r(val)),
        },
        Ins::ElemAddr { base, idx, size } => format!("EADDR  {}  {}  *{size}", r(base), r(idx)),
        Ins::XLoad { ptr, off, ct } => format!("XLOAD  {}  {off:+}  {}", r(ptr), ct.name()),
        Ins::XStore { ptr, off, ct, val } => {
            format!("XSTORE {}  {off:+}  {}  {}", r(ptr), r(val), ct.name())
        }
        Ins::TabWrite { tab } => format!("TBAR   {}", r(tab)),
        Ins::UvBarrier { uv, val } => format!("OBAR   {}  {}", r(uv), r(val)),
        Ins::TabLen { tab } => format!("ALEN   {}", r(tab)),
        Ins::TabGetInt { tab, key, .. } => format!("HGETI  {}  {}", r(tab), r(key)),
        Ins::TabGetStr { tab, key, .. } => format!("HGETS  {}  {}", r(tab), r(key)),
        Ins::TabSetInt { tab, key, val, .. } => {
            format!("TSETI  {}  {}  {}", r(tab), r(key), r(val))
        }
        Ins::TabSetStr { tab, key, val, .. } => {
            format!("TSETS  {}  {}  {}", r(tab), r(key), r(val))
        }
        Ins::TNew { asize, hbits, .. } => format!("TNEW   #{asize}  #{hbits}"),
        Ins::TDup { tpl, .. } => format!("TDUP   {}", r(tpl)),
        Ins::Guard { cmp, a, b, .. } => format!(
            "{:<6} {}  {}",
            format!("{cmp:?}").to_uppercase(),
            r(a),
            r(b)
        ),
        Ins::Phi { init, next, .. } => format!("PHI    {}  {}", r(init), r(next)),
        Ins::SStore { slot, val } => format!("SSTORE #{slot}  {}", r(val)),
        Ins::CallSelf { func, .. } => format!("CALLS  #{func}"),
        Ins::CCall {
            func, args, nargs, ..
        } => {
            let args: Vec<String> = args[..usize::from(nargs)].iter().map(|&a| r(a)).collect();
            format!("CALLXS {}  ({})", r(func), args.join(" "))
        }
        Ins::NativeCall {
            func, args, nargs, ..
        } => {
            let args: Vec<String> = args[..usize::from(nargs)].iter().map(|&a| r(a)).collect();
            format!("CALLS  {}  ({})", r(func), args.join(" "))
        }
        Ins::Loop => "LOOP".into(),
        other => {
            let name = format!("{other:?}");
            let name = name
                .split(['(', ' ', '{'])
                .next()
                .unwrap_or("")
                .to_uppercase();
            let ops: Vec<String> = other.operands().into_iter().map(r).collect();
            format!("{name:<6} {}", ops.join("  "))
        }
    }
}
