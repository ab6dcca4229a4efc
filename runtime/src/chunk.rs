//! Binary chunks: what `string.dump` writes and `load` reads, and the bytecode verifier
//! every loaded prototype must pass.
//!
//! The format is moonjet's own (never luajit's), versioned by [`VERSION`]:
//!
//! ```text
//! chunk  := ESC 'M' 'J' version:u8 flags:uleb [name:str unless stripped] proto* 0:uleb
//! proto  := len:uleb body          (len > 0 bytes, read as a unit; children come first)
//! body   := flags:u8 numparams:u8 framesize:u8
//!           nbc:uleb nuv:uleb nkgc:uleb nkn:uleb firstline:uleb numline:uleb
//!           [nline:uleb nuvname:uleb nvar:uleb unless stripped]
//!           bc:u32le*nbc uv:u16le*nuv kgc*nkgc kn:f64le*nkn
//!           [line:uleb*nline uvname:str*nuvname var*nvar unless stripped]
//! kgc    := 0 (child: the next of the prototypes read before this one)
//!         | 1 narray:uleb nhash:uleb tabk*narray (tabk tabk)*nhash
//!         | 2 i64le | 3 u64le | 4 f64le (imaginary part) | 5+len bytes (string)
//! tabk   := 0 nil | 1 false | 2 true | 3 f64le | 4+len bytes (string)
//! var    := name:str startpc:uleb endpc:uleb
//! str    := len:uleb bytes
//! ```
//!
//! Header flags: [`hflag`]. Prototypes are written children first (a post-order walk),
//! so a prototype's child constants refer to prototypes already read: the reader keeps a
//! stack of finished prototypes and a parent takes its children off its top, with no
//! recursion. Numbers are raw IEEE-754 bits; lengths and counts are ULEB128.
//!
//! Reading never trusts a count: every count is checked against the bytes left in the
//! enclosing unit before anything is allocated for it, nesting is capped at
//! [`MAX_DEPTH`], and any byte sequence either loads or gives a [`LoadError`]. A loaded
//! prototype tree is then checked by [`verify`].

use crate::bc::{self, Ins, Mode, Op, JUMP_BIAS, MAX_SLOTS};
use crate::lex::CdataLit;
use crate::proto::{flags, uvflag, KGc, Proto, TabConst, TemplateTable, VarInfo};
use std::collections::HashSet;

/// First bytes of every binary chunk.
pub const MAGIC: [u8; 3] = [0x1b, b'M', b'J'];
/// Format version; a chunk of another version is incompatible.
pub const VERSION: u8 = 1;
/// Deepest nesting of prototypes (the main function is level 1).
pub const MAX_DEPTH: usize = 200;
/// Most upvalues a function may have (the parser's limit).
pub const MAX_UPVALUES: usize = 60;
/// Most instructions in one prototype (luajit's `LJ_MAX_BCINS`).
pub const MAX_BC: usize = 1 << 26;

/// Header flags.
pub mod hflag {
    /// Written on a big-endian host.
    pub const BE: u64 = 0x01;
    /// Debug info (chunk name, line info, variable and upvalue names) left out.
    pub const STRIP: u64 = 0x02;
    /// The main function uses FFI constants.
    pub const FFI: u64 = 0x04;
    /// Written on a host with 64-bit pointers.
    pub const PTR64: u64 = 0x08;
    pub const KNOWN: u64 = BE | STRIP | FFI | PTR64;
}

const KGC_CHILD: u64 = 0;
const KGC_TAB: u64 = 1;
const KGC_I64: u64 = 2;
const KGC_U64: u64 = 3;
const KGC_COMPLEX: u64 = 4;
const KGC_STR: u64 = 5;

const KTAB_NIL: u64 = 0;
const KTAB_FALSE: u64 = 1;
const KTAB_TRUE: u64 = 2;
const KTAB_NUM: u64 = 3;
const KTAB_STR: u64 = 4;

/// The one NaN a number constant may be (any other NaN could alias a tagged value).
const CANONICAL_NAN: u64 = 0xFFF8_0000_0000_0000;

/// Why a binary chunk was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// Wrong magic, version, endianness, pointer size or unknown header flags, or a
    /// header cut short (all as luajit).
    Incompatible,
    /// Anything else; the text says what (for debugging, not part of the message).
    Malformed(String),
}

impl LoadError {
    /// luajit's message: `<name>: cannot load incompatible bytecode` or
    /// `<name>: cannot load malformed bytecode`.
    ///
    /// `<name>` is formed as luajit's bytecode reader does it (`bcread_error`), which is not
    /// `chunk_id`: the name as a C string, `(binary)` if it starts with ESC (the default
    /// name of `load(s)` is `s` itself), else without a leading `@` or `=`, never cut.
    pub fn message(&self, chunkname: &[u8]) -> String {
        let name = match chunkname.iter().position(|&b| b == 0) {
            Some(n) => &chunkname[..n],
            None => chunkname,
        };
        let shown = match name.first() {
            Some(0x1b) => "(binary)".into(),
            Some(b'@') | Some(b'=') => String::from_utf8_lossy(&name[1..]),
            _ => String::from_utf8_lossy(name),
        };
        let what = match self {
            LoadError::Incompatible => "incompatible",
            LoadError::Malformed(_) => "malformed",
        };
        format!("{shown}: cannot load {what} bytecode")
    }
}

/// Is this the start of a binary chunk (first byte ESC, 0x1b)?
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.first() == Some(&MAGIC[0])
}

// ---- writing ------------------------------------------------------------------------------

fn put_uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_uleb(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Serialise `pt` (and its children). `strip` drops debug info (line info, variable and
/// upvalue names).
pub fn dump(pt: &Proto, strip: bool) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    let mut fl = 0;
    if cfg!(target_endian = "big") {
        fl |= hflag::BE;
    }
    if strip {
        fl |= hflag::STRIP;
    }
    if pt.flags & flags::FFI != 0 {
        fl |= hflag::FFI;
    }
    if cfg!(target_pointer_width = "64") {
        fl |= hflag::PTR64;
    }
    put_uleb(&mut out, fl);
    if !strip {
        put_str(&mut out, &pt.chunkname);
    }
    // Post-order walk without recursion: (prototype, next constant to look at).
    let mut stack: Vec<(&Proto, usize)> = vec![(pt, 0)];
    let mut body = Vec::new();
    while let Some(top) = stack.last_mut() {
        let (p, from) = *top;
        let child = p.kgc[from..].iter().enumerate().find_map(|(i, k)| match k {
            KGc::Proto(c) => Some((from + i, &**c)),
            _ => None,
        });
        if let Some((i, c)) = child {
            top.1 = i + 1;
            stack.push((c, 0));
        } else {
            stack.pop();
            body.clear();
            write_proto(&mut body, p, strip);
            put_uleb(&mut out, body.len() as u64);
            out.extend_from_slice(&body);
        }
    }
    put_uleb(&mut out, 0);
    out
}

fn write_tabk(out: &mut Vec<u8>, k: &TabConst) {
    match k {
        TabConst::Nil => put_uleb(out, KTAB_NIL),
        TabConst::False => put_uleb(out, KTAB_FALSE),
        TabConst::True => put_uleb(out, KTAB_TRUE),
        TabConst::Num(n) => {
            put_uleb(out, KTAB_NUM);
            out.extend_from_slice(&n.to_bits().to_le_bytes());
        }
        TabConst::Str(s) => {
            put_uleb(out, KTAB_STR + s.len() as u64);
            out.extend_from_slice(s);
        }
    }
}

fn write_proto(out: &mut Vec<u8>, pt: &Proto, strip: bool) {
    out.extend_from_slice(&[pt.flags, pt.numparams, pt.framesize]);
    for n in [pt.bc.len(), pt.uv.len(), pt.kgc.len(), pt.kn.len()] {
        put_uleb(out, n as u64);
    }
    put_uleb(out, pt.firstline as u64);
    put_uleb(out, pt.numline as u64);
    if !strip {
        for n in [pt.lineinfo.len(), pt.uvnames.len(), pt.varinfo.len()] {
            put_uleb(out, n as u64);
        }
    }
    for &ins in &pt.bc {
        out.extend_from_slice(&ins.to_le_bytes());
    }
    for &uv in &pt.uv {
        out.extend_from_slice(&uv.to_le_bytes());
    }
    for k in &pt.kgc {
        match k {
            KGc::Proto(_) => put_uleb(out, KGC_CHILD),
            KGc::Table(t) => {
                put_uleb(out, KGC_TAB);
                put_uleb(out, t.array.len() as u64);
                put_uleb(out, t.hash.len() as u64);
                for v in &t.array {
                    write_tabk(out, v);
                }
                for (k, v) in &t.hash {
                    write_tabk(out, k);
                    write_tabk(out, v);
                }
            }
            KGc::Cdata(CdataLit::I64(v)) => {
                put_uleb(out, KGC_I64);
                out.extend_from_slice(&v.to_le_bytes());
            }
            KGc::Cdata(CdataLit::U64(v)) => {
                put_uleb(out, KGC_U64);
                out.extend_from_slice(&v.to_le_bytes());
            }
            KGc::Cdata(CdataLit::Imag(v)) => {
                put_uleb(out, KGC_COMPLEX);
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
            KGc::Str(s) => {
                put_uleb(out, KGC_STR + s.len() as u64);
                out.extend_from_slice(s);
            }
        }
    }
    for &n in &pt.kn {
        out.extend_from_slice(&n.to_bits().to_le_bytes());
    }
    if !strip {
        for &l in &pt.lineinfo {
            put_uleb(out, l as u64);
        }
        for n in &pt.uvnames {
            put_str(out, n);
        }
        for v in &pt.varinfo {
            put_str(out, &v.name);
            put_uleb(out, v.startpc as u64);
            put_uleb(out, v.endpc as u64);
        }
    }
}

// ---- from the heap ---------------------------------------------------------------------------

/// The literal a cdata constant of a prototype was made from (`12LL`, `12ULL`, `12i`).
fn cdata_literal(k: moonjet_gc::TValue) -> Option<CdataLit> {
    let c = k.gc_ptr().cast::<moonjet_gc::object::GcCdata>();
    // SAFETY: a live cdata constant: 8 payload bytes for the integers, 16 for complex.
    unsafe {
        let p = moonjet_gc::object::GcCdata::payload(c).cast::<u64>();
        match moonjet_ffi::CTypeId((*c).ctypeid) {
            moonjet_ffi::CTypeId::INT64 => Some(CdataLit::I64(p.read() as i64)),
            moonjet_ffi::CTypeId::UINT64 => Some(CdataLit::U64(p.read())),
            moonjet_ffi::CTypeId::COMPLEX_DOUBLE => {
                Some(CdataLit::Imag(f64::from_bits(p.add(1).read())))
            }
            _ => None,
        }
    }
}

/// The [`Proto`] a heap prototype was made from (the reverse of
/// [`crate::load::materialize`]), for `string.dump`. None for prototypes holding
/// constants a chunk cannot carry (cdata other than the literals' 64-bit integers and
/// complex numbers).
///
/// Template tables come back with their hash keys in node order rather than the
/// order of the constructor (luajit's writer does the same). The bytecode is taken
/// as it stands: once the runtime patches instructions in place (JIT loop and call
/// entries), they must be turned back into their plain forms here.
///
/// # Safety
/// `pt` must be a live prototype, and nothing may run the collector while this runs.
pub unsafe fn proto_from_heap(pt: *const moonjet_gc::GcProto) -> Option<Proto> {
    use moonjet_gc::value::itype;
    use moonjet_gc::{GcStr, TValue};
    use std::sync::Arc;

    unsafe fn slice<'a, T>(p: *const T, n: usize) -> &'a [T] {
        if n == 0 || p.is_null() {
            &[]
        } else {
            // SAFETY: caller promise: `n` initialised elements at `p`.
            unsafe { std::slice::from_raw_parts(p, n) }
        }
    }
    unsafe fn text(s: *const GcStr) -> crate::proto::Bytes {
        if s.is_null() {
            Arc::from(&[][..])
        } else {
            // SAFETY: a live string referenced by a live prototype.
            Arc::from(unsafe { GcStr::bytes(s) })
        }
    }
    unsafe fn tabk(v: TValue) -> Option<TabConst> {
        Some(if v.is_nil() {
            TabConst::Nil
        } else if v.is_false() {
            TabConst::False
        } else if v.is_bool() {
            TabConst::True
        } else if v.is_number() {
            TabConst::Num(v.num())
        } else if let Some(s) = v.as_str() {
            // SAFETY: live string.
            TabConst::Str(unsafe { text(s) })
        } else {
            return None;
        })
    }
    unsafe fn template(t: *mut moonjet_gc::GcTab) -> Option<TemplateTable> {
        // SAFETY: a live template table (never modified after loading).
        unsafe {
            let mut out = TemplateTable::default();
            for &v in slice((*t).array, (*t).asize as usize) {
                out.array.push(tabk(v)?);
            }
            if !(*t).node.is_null() {
                for nd in slice((*t).node, (*t).hmask as usize + 1) {
                    if nd.key.is_nil() || nd.val.is_nil() {
                        continue;
                    }
                    out.hash.push((tabk(nd.key)?, tabk(nd.val)?));
                }
            }
            Some(out)
        }
    }

    // SAFETY: caller promise; every pointer below belongs to the live prototype.
    unsafe {
        let p = &*pt;
        let n = p.sizebc as usize;
        let mut kgc = Vec::with_capacity(p.sizekgc as usize);
        for &k in slice(p.kgc, p.sizekgc as usize) {
            kgc.push(if let Some(s) = k.as_str() {
                KGc::Str(text(s))
            } else if let Some(t) = k.as_tab() {
                KGc::Table(template(t)?)
            } else if !k.is_number() && k.itype() == itype::PROTO {
                KGc::Proto(Box::new(proto_from_heap(k.gc_ptr().cast())?))
            } else if k.is_cdata() {
                KGc::Cdata(cdata_literal(k)?)
            } else {
                return None;
            });
        }
        let uvn = slice(p.uvnames, p.sizeuv as usize);
        let uvnames = if uvn.iter().any(|s| s.is_null()) {
            Vec::new()
        } else {
            uvn.iter().map(|&s| text(s)).collect()
        };
        Some(Proto {
            chunkname: text(p.chunkname),
            firstline: p.firstline,
            numline: p.numline,
            numparams: p.numparams,
            framesize: p.framesize,
            // Only the flags a chunk carries (as luajit's writer does): the runtime may
            // add its own.
            flags: p.flags as u8 & (flags::CHILD | flags::VARARG | flags::FFI),
            // Loops the JIT took over read as the plain instruction they were.
            bc: slice(p.bc, n)
                .iter()
                .map(|&i| crate::bc::unpatched(i))
                .collect(),
            lineinfo: slice(p.lineinfo, n).to_vec(),
            kgc,
            kn: slice(p.kn, p.sizekn as usize).to_vec(),
            uv: slice(p.uv, p.sizeuv as usize).to_vec(),
            uvnames,
            varinfo: slice(p.varinfo, p.sizevarinfo as usize)
                .iter()
                .map(|v| VarInfo {
                    name: text(v.name),
                    startpc: v.startpc,
                    endpc: v.endpc,
                })
                .collect(),
        })
    }
}

// ---- reading ------------------------------------------------------------------------------

fn bad<T>(msg: impl Into<String>) -> Result<T, LoadError> {
    Err(LoadError::Malformed(msg.into()))
}

/// A cursor over one unit of input (the chunk, or one prototype's body).
struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    fn new(b: &'a [u8]) -> Rd<'a> {
        Rd { b, pos: 0 }
    }

    fn left(&self) -> usize {
        self.b.len() - self.pos
    }

    fn byte(&mut self, what: &str) -> Result<u8, LoadError> {
        match self.b.get(self.pos) {
            Some(&c) => {
                self.pos += 1;
                Ok(c)
            }
            None => bad(format!("truncated: {what}")),
        }
    }

    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], LoadError> {
        if n > self.left() as u64 {
            return bad(format!("{what}: {n} bytes, only {} left", self.left()));
        }
        let s = &self.b[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], LoadError> {
        let s = self.take(N as u64, what)?;
        let mut a = [0; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn uleb(&mut self, what: &str) -> Result<u64, LoadError> {
        let mut v: u64 = 0;
        let mut shift = 0;
        loop {
            let c = self.byte(what)?;
            if shift == 63 && c > 1 {
                return bad(format!("{what}: ULEB128 overflows 64 bits"));
            }
            v |= ((c & 0x7f) as u64) << shift;
            if c & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    fn u32(&mut self, what: &str) -> Result<u32, LoadError> {
        let v = self.uleb(what)?;
        u32::try_from(v).or_else(|_| bad(format!("{what}: {v} does not fit 32 bits")))
    }

    /// A count of items of at least `min` bytes each, checked against the bytes left.
    fn count(&mut self, min: usize, what: &str) -> Result<usize, LoadError> {
        let n = self.uleb(what)?;
        if n > (self.left() / min) as u64 {
            return bad(format!(
                "{what}: count {n} larger than the {} bytes left allow",
                self.left()
            ));
        }
        Ok(n as usize)
    }

    fn str(&mut self, what: &str) -> Result<Vec<u8>, LoadError> {
        let n = self.count(1, what)?;
        Ok(self.take(n as u64, what)?.to_vec())
    }

    fn f64(&mut self, what: &str) -> Result<f64, LoadError> {
        Ok(f64::from_bits(u64::from_le_bytes(self.array(what)?)))
    }
}

/// Read and verify a binary chunk. `chunkname` is the name `load` was given (the chunk's
/// name when it is stripped; messages are made from it by [`LoadError::message`]).
pub fn load(bytes: &[u8], chunkname: &[u8]) -> Result<Proto, LoadError> {
    let mut r = Rd::new(bytes);
    // As in luajit, a header that is cut short is incompatible, not malformed.
    for m in MAGIC.iter().chain(&[VERSION]) {
        if r.byte("header") != Ok(*m) {
            return Err(LoadError::Incompatible);
        }
    }
    let fl = r
        .uleb("header flags")
        .map_err(|_| LoadError::Incompatible)?;
    let host_be = if cfg!(target_endian = "big") {
        hflag::BE
    } else {
        0
    };
    let host_p64 = if cfg!(target_pointer_width = "64") {
        hflag::PTR64
    } else {
        0
    };
    if fl & !hflag::KNOWN != 0 || fl & hflag::BE != host_be || fl & hflag::PTR64 != host_p64 {
        return Err(LoadError::Incompatible);
    }
    let strip = fl & hflag::STRIP != 0;
    let name = if strip {
        chunkname.to_vec()
    } else {
        r.str("chunk name")?
    };
    // Finished prototypes not yet claimed by a parent, with their nesting depth.
    let mut done: Vec<(Proto, usize)> = Vec::new();
    for n in 0usize.. {
        let len = r.count(1, "prototype length")?;
        if len == 0 {
            break;
        }
        let body = r.take(len as u64, "prototype")?;
        read_proto(body, &name, strip, &mut done)
            .map_err(|e| with_context(e, &format!("prototype {n}: ")))?;
    }
    if r.left() != 0 {
        return bad(format!("{} bytes after the last prototype", r.left()));
    }
    if done.len() != 1 {
        return bad(format!(
            "{} prototypes left without a parent (want 1)",
            done.len()
        ));
    }
    let (root, _) = done.pop().expect("one prototype");
    if (fl & hflag::FFI != 0) != (root.flags & flags::FFI != 0) {
        return bad("header FFI flag disagrees with the main function's");
    }
    verify(&root).map_err(LoadError::Malformed)?;
    Ok(root)
}

fn with_context(e: LoadError, ctx: &str) -> LoadError {
    match e {
        LoadError::Malformed(m) => LoadError::Malformed(format!("{ctx}{m}")),
        e => e,
    }
}

fn read_tabk(r: &mut Rd) -> Result<TabConst, LoadError> {
    Ok(match r.uleb("table constant")? {
        KTAB_NIL => TabConst::Nil,
        KTAB_FALSE => TabConst::False,
        KTAB_TRUE => TabConst::True,
        KTAB_NUM => TabConst::Num(r.f64("table number")?),
        t => TabConst::Str(r.take(t - KTAB_STR, "table string")?.into()),
    })
}

fn read_proto(
    body: &[u8],
    name: &[u8],
    strip: bool,
    done: &mut Vec<(Proto, usize)>,
) -> Result<(), LoadError> {
    let mut r = Rd::new(body);
    let pflags = r.byte("flags")?;
    let numparams = r.byte("numparams")?;
    let framesize = r.byte("framesize")?;
    let nbc = r.count(4, "instruction count")?;
    let nuv = r.count(2, "upvalue count")?;
    let nkgc = r.count(1, "GC constant count")?;
    let nkn = r.count(8, "number constant count")?;
    let firstline = r.u32("firstline")?;
    let numline = r.u32("numline")?;
    let (nline, nuvname, nvar) = if strip {
        (0, 0, 0)
    } else {
        (
            r.count(1, "line count")?,
            r.count(1, "upvalue name count")?,
            r.count(3, "variable count")?,
        )
    };
    let mut bcode = Vec::with_capacity(nbc);
    for _ in 0..nbc {
        bcode.push(u32::from_le_bytes(r.array("instruction")?));
    }
    let mut uv = Vec::with_capacity(nuv);
    for _ in 0..nuv {
        uv.push(u16::from_le_bytes(r.array("upvalue")?));
    }
    // Vectors of large items grow as items are read (each item takes at least one byte,
    // but a `KGc` is 50 times that): only 1:1-sized data is allocated up front.
    let mut kgc = Vec::new();
    let mut children = Vec::new();
    for i in 0..nkgc {
        let k = match r.uleb("GC constant")? {
            KGC_CHILD => {
                children.push(i);
                // A placeholder, replaced by the child below.
                KGc::Str(Vec::new().into())
            }
            KGC_TAB => {
                let narray = r.count(1, "template array size")?;
                let nhash = r.count(2, "template hash size")?;
                let mut t = TemplateTable::default();
                for _ in 0..narray {
                    t.array.push(read_tabk(&mut r)?);
                }
                for _ in 0..nhash {
                    let k = read_tabk(&mut r)?;
                    let v = read_tabk(&mut r)?;
                    t.hash.push((k, v));
                }
                KGc::Table(t)
            }
            KGC_I64 => KGc::Cdata(CdataLit::I64(i64::from_le_bytes(r.array("int64")?))),
            KGC_U64 => KGc::Cdata(CdataLit::U64(u64::from_le_bytes(r.array("uint64")?))),
            KGC_COMPLEX => KGc::Cdata(CdataLit::Imag(r.f64("complex")?)),
            t => KGc::Str(r.take(t - KGC_STR, "string constant")?.into()),
        };
        kgc.push(k);
    }
    let mut kn = Vec::with_capacity(nkn);
    for _ in 0..nkn {
        kn.push(r.f64("number constant")?);
    }
    let mut lineinfo = Vec::with_capacity(nline);
    for _ in 0..nline {
        lineinfo.push(r.u32("line")?);
    }
    let mut uvnames = Vec::new();
    for _ in 0..nuvname {
        uvnames.push(r.str("upvalue name")?.into());
    }
    let mut varinfo = Vec::new();
    for _ in 0..nvar {
        let name = r.str("variable name")?;
        let startpc = r.u32("variable startpc")?;
        let endpc = r.u32("variable endpc")?;
        varinfo.push(VarInfo {
            name: name.into(),
            startpc,
            endpc,
        });
    }
    if r.left() != 0 {
        return bad(format!("{} unread bytes at the end", r.left()));
    }
    if children.len() > done.len() {
        return bad(format!(
            "{} child prototypes wanted, {} available",
            children.len(),
            done.len()
        ));
    }
    let kids = done.split_off(done.len() - children.len());
    let mut depth = 1;
    for (i, (child, d)) in children.into_iter().zip(kids) {
        depth = depth.max(d + 1);
        kgc[i] = KGc::Proto(Box::new(child));
    }
    if depth > MAX_DEPTH {
        return bad(format!("prototypes nested deeper than {MAX_DEPTH} levels"));
    }
    done.push((
        Proto {
            chunkname: name.into(),
            firstline,
            numline,
            numparams,
            framesize,
            flags: pflags,
            bc: bcode,
            lineinfo,
            kgc,
            kn,
            uv,
            uvnames,
            varinfo,
        },
        depth,
    ));
    Ok(())
}

// ---- verifying ----------------------------------------------------------------------------

/// Check every invariant the interpreter and the JIT rely on, for `pt` and all its
/// children (iteratively; nesting deeper than [`MAX_DEPTH`] is refused).
///
/// The rules, per prototype:
/// * flags only CHILD, VARARG, FFI; 1 <= framesize <= 250; numparams <= framesize;
///   2 <= instructions <= 2^26; at most 60 upvalues; firstline + numline fits 32 bits;
///   line info empty or one per instruction; upvalue names empty or one per upvalue;
///   variable ranges within the code; children have the parent's chunk name; a child
///   constant implies CHILD, a cdata constant or an FFI child implies FFI.
/// * constants: numbers are not NaN unless the canonical one; template tables have no
///   nil or NaN keys, no duplicate keys, no hash key that belongs in the array part.
/// * pc 0 is exactly `FUNCF`/`FUNCV` (per VARARG) with A = framesize, D = 0; no other
///   instruction is a header, a J- or I-variant, `FUNCC(W)`, `ISTYPE`/`ISNUM`,
///   `TGETR`/`TSETR`, or an unknown opcode.
/// * operands: registers in the frame, including every slot range a multi-slot
///   instruction touches; constants in range and of the right kind; upvalues in range;
///   primitives <= 2; fixed operands as the parser emits them (`RET0` D=1, `RET1` D=2,
///   `ITERC` C=3, `VARG` C = numparams in a vararg function, `IST`/`ISF` A=0, ...);
///   `USETx` never stores to an upvalue marked immutable; `TSETM`'s constant has the
///   2^52+index form.
/// * control flow: jump targets in 1..len; no successor past the end (a comparison or
///   test is followed by a `JMP` and something after it); `ITERC`/`ITERN` is followed by
///   `ITERL` and paired with its opening `JMP`/`ISNEXT`; `FORI` and `FORL` pair up; no
///   jump lands on an `ITERL`.
/// * MULTRES: every way into `CALLM`, `CALLMT`, `RETM`, `TSETM` comes straight from a
///   producer (`CALL`/`CALLM` with B=0 or `VARG` with B=0), possibly through one `UCLO`,
///   and the producer's results start where the consumer expects them.
/// * guarded regions (a numeric `for` from `FORI` to `FORL`, a generic `for` from its
///   `JMP`/`ISNEXT` to `ITERL`, a table from its `TNEW`/`TDUP` to its `TSETM`) nest,
///   are entered only at their start, and their bodies neither write the slots the
///   closing instruction trusts (loop control slots, the table) nor keep an open upvalue
///   on them.
/// * upvalues: no return (`RET*`, `CALLT`, `CALLMT`) while an upvalue of this frame may
///   be open; each child's upvalue descriptors refer to a slot of this frame (LOCAL) or
///   an upvalue of this function.
pub fn verify(pt: &Proto) -> Result<(), String> {
    let mut stack: Vec<(&Proto, usize)> = vec![(pt, 1)];
    while let Some((p, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(format!("prototypes nested deeper than {MAX_DEPTH} levels"));
        }
        verify_one(p).map_err(|e| format!("function at line {}: {e}", p.firstline))?;
        for k in &p.kgc {
            if let KGc::Proto(c) = k {
                stack.push((c, depth + 1));
            }
        }
    }
    Ok(())
}

type Slots = [u64; 4];

fn slots_range(lo: u32, hi: u32) -> Slots {
    let mut s = [0; 4];
    for i in lo..=hi.min(255) {
        s[(i >> 6) as usize] |= 1 << (i & 63);
    }
    s
}

/// Slots `0..a`.
fn slots_below(a: u32) -> Slots {
    if a == 0 {
        [0; 4]
    } else {
        slots_range(0, a - 1)
    }
}

fn slots_and(a: &Slots, b: &Slots) -> Slots {
    [a[0] & b[0], a[1] & b[1], a[2] & b[2], a[3] & b[3]]
}

fn slots_first(s: &Slots) -> Option<u32> {
    (0..4)
        .find(|&i| s[i] != 0)
        .map(|i| i as u32 * 64 + s[i].trailing_zeros())
}

fn is_cond(o: Op) -> bool {
    (o as u8) <= Op::ISF as u8
}

fn is_return(o: Op) -> bool {
    matches!(
        o,
        Op::RETM | Op::RET | Op::RET0 | Op::RET1 | Op::CALLT | Op::CALLMT
    )
}

/// Does execution continue at pc+1 (for some outcome)?
fn falls_through(o: Op) -> bool {
    !is_return(o) && !matches!(o, Op::JMP | Op::UCLO | Op::ISNEXT)
}

/// Is the jump operand a real control-flow edge (`LOOP`'s is only the loop's exit, for the
/// JIT; the interpreter falls through)?
fn jumps(o: Op) -> bool {
    matches!(
        o,
        Op::JMP | Op::UCLO | Op::FORI | Op::FORL | Op::ITERL | Op::ISNEXT
    )
}

fn jump_target(pc: usize, ins: Ins) -> i64 {
    pc as i64 + 1 + bc::d(ins) as i64 - JUMP_BIAS as i64
}

/// Where a MULTRES producer's results start.
fn produces(o: Op, ins: Ins) -> Option<u32> {
    match o {
        Op::CALL | Op::CALLM | Op::VARG if bc::b(ins) == 0 => Some(bc::a(ins)),
        _ => None,
    }
}

/// Where a MULTRES consumer expects the variable part to start.
fn consumes(o: Op, ins: Ins) -> Option<u32> {
    let a = bc::a(ins);
    match o {
        Op::CALLM => Some(a + 2 + bc::c(ins)),
        Op::CALLMT => Some(a + 2 + bc::d(ins)),
        Op::RETM => Some(a + bc::d(ins)),
        Op::TSETM => Some(a),
        _ => None,
    }
}

/// Slots of its own frame an instruction may write (inclusive ranges). A call clobbers
/// everything from its base up (the callee's frame lies there).
fn writes(o: Op, ins: Ins, framesize: u32) -> [Option<(u32, u32)>; 2] {
    let (a, b, c, d) = (bc::a(ins), bc::b(ins), bc::c(ins), bc::d(ins));
    let top = framesize.saturating_sub(1).max(a);
    match o {
        Op::KNIL => [Some((a, d)), None],
        Op::CAT => [Some((a, a)), Some((b, c))],
        Op::CALL | Op::CALLM | Op::ITERC => [Some((a, top)), None],
        Op::ITERN => [Some((a.saturating_sub(1), a + 1)), None],
        Op::ITERL | Op::ISNEXT => [Some((a.saturating_sub(1), a.saturating_sub(1))), None],
        Op::FORI | Op::FORL => [Some((a, a + 3)), None],
        Op::VARG if b == 0 => [Some((a, top)), None],
        Op::VARG if b >= 2 => [Some((a, a + b - 2)), None],
        Op::VARG => [None, None],
        _ if o.modes().0 == Mode::Dst => [Some((a, a)), None],
        _ => [None, None],
    }
}

/// A stretch of code whose closing instruction trusts `slots` to be as its opening
/// instruction left them.
struct Region {
    /// Opening and closing pc (inclusive).
    open: usize,
    close: usize,
    /// Last pc of the body (the body is `open+1 ..= body_end`).
    body_end: usize,
    slots: Slots,
    what: &'static str,
}

fn check_template(t: &TemplateTable) -> Result<(), String> {
    let num_ok = |n: f64| !n.is_nan() || n.to_bits() == CANONICAL_NAN;
    for v in t.array.iter().chain(t.hash.iter().map(|(_, v)| v)) {
        if let TabConst::Num(n) = v {
            if !num_ok(*n) {
                return Err("template table value is a non-canonical NaN".into());
            }
        }
    }
    #[derive(Hash, PartialEq, Eq)]
    enum K<'a> {
        B(bool),
        N(u64),
        S(&'a [u8]),
    }
    let mut seen = HashSet::new();
    for (k, _) in &t.hash {
        let key = match k {
            TabConst::Nil => return Err("template table has a nil key".into()),
            TabConst::False => K::B(false),
            TabConst::True => K::B(true),
            TabConst::Num(n) => {
                if n.is_nan() {
                    return Err("template table has a NaN key".into());
                }
                if n.fract() == 0.0 && *n >= 0.0 && *n < t.array.len() as f64 {
                    return Err(format!(
                        "template table hash key {n} belongs in its array part"
                    ));
                }
                K::N(if *n == 0.0 { 0 } else { n.to_bits() })
            }
            TabConst::Str(s) => K::S(s),
        };
        if !seen.insert(key) {
            return Err("template table has a duplicate key".into());
        }
    }
    Ok(())
}

/// Checks of one prototype whose failure is reported with the pc and opcode.
struct InsErr(String);

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(InsErr(format!($($fmt)*)));
        }
    };
}

fn verify_one(pt: &Proto) -> Result<(), String> {
    let n = pt.bc.len();
    let fs = pt.framesize as u32;
    let known = flags::CHILD | flags::VARARG | flags::FFI;
    if pt.flags & !known != 0 {
        return Err(format!("bad prototype flags {:#04x}", pt.flags));
    }
    if fs == 0 || fs > MAX_SLOTS {
        return Err(format!("bad framesize {fs}"));
    }
    if pt.numparams as u32 > fs {
        return Err(format!(
            "numparams {} larger than framesize {fs}",
            pt.numparams
        ));
    }
    if !(2..=MAX_BC).contains(&n) {
        return Err(format!("bad instruction count {n}"));
    }
    if pt.uv.len() > MAX_UPVALUES {
        return Err(format!("{} upvalues (at most {MAX_UPVALUES})", pt.uv.len()));
    }
    if pt.firstline.checked_add(pt.numline).is_none() {
        return Err("firstline + numline overflows".into());
    }
    if !pt.lineinfo.is_empty() && pt.lineinfo.len() != n {
        return Err(format!(
            "{} line entries for {n} instructions",
            pt.lineinfo.len()
        ));
    }
    if !pt.uvnames.is_empty() && pt.uvnames.len() != pt.uv.len() {
        return Err(format!(
            "{} upvalue names for {} upvalues",
            pt.uvnames.len(),
            pt.uv.len()
        ));
    }
    for v in &pt.varinfo {
        if v.startpc > v.endpc || v.endpc as usize > n {
            return Err(format!(
                "variable range {}..{} outside the code",
                v.startpc, v.endpc
            ));
        }
    }
    for &k in &pt.kn {
        if k.is_nan() && k.to_bits() != CANONICAL_NAN {
            return Err(format!(
                "number constant {:#x} is a non-canonical NaN",
                k.to_bits()
            ));
        }
    }
    for k in &pt.kgc {
        match k {
            KGc::Proto(c) => {
                if pt.flags & flags::CHILD == 0 {
                    return Err("child prototype without the CHILD flag".into());
                }
                if c.flags & flags::FFI != 0 && pt.flags & flags::FFI == 0 {
                    return Err("child uses FFI but the parent has no FFI flag".into());
                }
                if c.chunkname != pt.chunkname {
                    return Err("child prototype with another chunk name".into());
                }
                for &d in &c.uv {
                    let v = (d & 0x3fff) as usize;
                    if d & uvflag::LOCAL != 0 {
                        if v >= fs as usize {
                            return Err(format!(
                                "child at line {} captures slot {v} outside the frame ({fs})",
                                c.firstline
                            ));
                        }
                    } else if v >= pt.uv.len() {
                        return Err(format!(
                            "child at line {} takes upvalue {v} of {}",
                            c.firstline,
                            pt.uv.len()
                        ));
                    }
                }
            }
            KGc::Table(t) => check_template(t)?,
            KGc::Cdata(_) => {
                if pt.flags & flags::FFI == 0 {
                    return Err("cdata constant without the FFI flag".into());
                }
            }
            KGc::Str(_) => {}
        }
    }
    let vararg = pt.flags & flags::VARARG != 0;
    let head = if vararg { Op::FUNCV } else { Op::FUNCF };
    if pt.bc[0] != bc::ad(head, fs, 0) {
        return Err(format!(
            "pc 0: header is {:08x}, want {} {fs}",
            pt.bc[0],
            head.name()
        ));
    }
    let mut ops = Vec::with_capacity(n);
    ops.push(head);
    for pc in 1..n {
        let ins = pt.bc[pc];
        let name = Op::from_u8(bc::op(ins)).map_or("???", |o| o.name());
        let o = check_ins(pt, pc, ins).map_err(|InsErr(e)| format!("pc {pc} {name}: {e}"))?;
        ops.push(o);
    }
    check_flow(pt, &ops).map_err(|InsErr(e)| e)
}

/// Operand checks of one instruction (everything that needs no other instruction).
fn check_ins(pt: &Proto, pc: usize, ins: Ins) -> Result<Op, InsErr> {
    let n = pt.bc.len();
    let fs = pt.framesize as u32;
    let Some(o) = Op::from_u8(bc::op(ins)) else {
        return Err(InsErr(format!("unknown opcode {}", bc::op(ins))));
    };
    let (a, b, c, d) = (bc::a(ins), bc::b(ins), bc::c(ins), bc::d(ins));
    let reg = |r: u32, what: &str| -> Result<(), InsErr> {
        ensure!(
            r < fs,
            "{what} register {r} outside the frame (framesize {fs})"
        );
        Ok(())
    };
    // Slots lo..=hi all in the frame.
    let range = |lo: u32, hi: u32, what: &str| -> Result<(), InsErr> {
        ensure!(
            hi < fs,
            "{what} slots {lo}..{hi} outside the frame (framesize {fs})"
        );
        Ok(())
    };
    let kgc = |k: u32, want: &str| -> Result<&KGc, InsErr> {
        let Some(x) = pt.kgc.get(k as usize) else {
            return Err(InsErr(format!(
                "constant index {k} out of range ({} GC constants)",
                pt.kgc.len()
            )));
        };
        let ok = matches!(
            (x, want),
            (KGc::Str(_), "string")
                | (KGc::Table(_), "table")
                | (KGc::Proto(_), "function")
                | (KGc::Cdata(_), "cdata")
        );
        ensure!(ok, "wrong constant kind: constant {k} is not a {want}");
        Ok(x)
    };
    let kstr = |k: u32| kgc(k, "string").map(|_| ());
    let knum = |k: u32| -> Result<f64, InsErr> {
        match pt.kn.get(k as usize) {
            Some(&x) => Ok(x),
            None => Err(InsErr(format!(
                "number constant index {k} out of range ({} numbers)",
                pt.kn.len()
            ))),
        }
    };
    let pri = |p: u32| -> Result<(), InsErr> {
        ensure!(p <= 2, "primitive {p} is not nil, false or true");
        Ok(())
    };
    let uv = |u: u32| -> Result<u16, InsErr> {
        match pt.uv.get(u as usize) {
            Some(&x) => Ok(x),
            None => Err(InsErr(format!(
                "upvalue {u} out of range ({} upvalues)",
                pt.uv.len()
            ))),
        }
    };
    let uvset = |u: u32| -> Result<(), InsErr> {
        ensure!(
            uv(u)? & uvflag::IMMUTABLE == 0,
            "stores to upvalue {u}, which is marked immutable"
        );
        Ok(())
    };
    if o.modes().2 == Mode::Jump {
        let t = jump_target(pc, ins);
        ensure!(
            t >= 1 && t < n as i64,
            "jump out of range: target {t} not in 1..{n}"
        );
    }
    match o {
        Op::ISLT | Op::ISGE | Op::ISLE | Op::ISGT | Op::ISEQV | Op::ISNEV => {
            reg(a, "A")?;
            reg(d, "D")?;
        }
        Op::ISEQS | Op::ISNES => {
            reg(a, "A")?;
            kstr(d)?;
        }
        Op::ISEQN | Op::ISNEN => {
            reg(a, "A")?;
            knum(d)?;
        }
        Op::ISEQP | Op::ISNEP => {
            reg(a, "A")?;
            pri(d)?;
        }
        Op::ISTC | Op::ISFC | Op::MOV | Op::NOT | Op::UNM | Op::LEN => {
            reg(a, "A")?;
            reg(d, "D")?;
        }
        Op::IST | Op::ISF => {
            ensure!(a == 0, "unused A is {a}, not 0");
            reg(d, "D")?;
        }
        Op::ADDVN
        | Op::SUBVN
        | Op::MULVN
        | Op::DIVVN
        | Op::MODVN
        | Op::ADDNV
        | Op::SUBNV
        | Op::MULNV
        | Op::DIVNV
        | Op::MODNV => {
            reg(a, "A")?;
            reg(b, "B")?;
            knum(c)?;
        }
        Op::ADDVV | Op::SUBVV | Op::MULVV | Op::DIVVV | Op::MODVV | Op::POW => {
            reg(a, "A")?;
            reg(b, "B")?;
            reg(c, "C")?;
        }
        Op::CAT => {
            reg(a, "A")?;
            ensure!(b < c, "operand range {b}..{c} is not B < C");
            range(b, c, "operand")?;
        }
        Op::KSTR => {
            reg(a, "A")?;
            kstr(d)?;
        }
        Op::KCDATA => {
            reg(a, "A")?;
            kgc(d, "cdata")?;
        }
        Op::KSHORT | Op::TNEW => reg(a, "A")?,
        Op::KNUM => {
            reg(a, "A")?;
            knum(d)?;
        }
        Op::KPRI => {
            reg(a, "A")?;
            pri(d)?;
        }
        Op::KNIL => {
            ensure!(a <= d, "nil range {a}..{d} is empty");
            range(a, d, "nil")?;
        }
        Op::UGET => {
            reg(a, "A")?;
            uv(d)?;
        }
        Op::USETV => {
            uvset(a)?;
            reg(d, "D")?;
        }
        Op::USETS => {
            uvset(a)?;
            kstr(d)?;
        }
        Op::USETN => {
            uvset(a)?;
            knum(d)?;
        }
        Op::USETP => {
            uvset(a)?;
            pri(d)?;
        }
        Op::UCLO | Op::LOOP | Op::JMP => {
            ensure!(a <= fs, "A {a} beyond the frame (framesize {fs})");
        }
        Op::FNEW => {
            reg(a, "A")?;
            kgc(d, "function")?;
        }
        Op::TDUP => {
            reg(a, "A")?;
            kgc(d, "table")?;
        }
        Op::GGET | Op::GSET => {
            reg(a, "A")?;
            kstr(d)?;
        }
        Op::TGETV | Op::TSETV => {
            reg(a, "A")?;
            reg(b, "B")?;
            reg(c, "C")?;
        }
        Op::TGETS | Op::TSETS => {
            reg(a, "A")?;
            reg(b, "B")?;
            kstr(c)?;
        }
        Op::TGETB | Op::TSETB => {
            reg(a, "A")?;
            reg(b, "B")?;
        }
        Op::TSETM => {
            ensure!(a >= 1, "A is 0: no table slot below it");
            reg(a, "A")?;
            let k = knum(d)?.to_bits();
            ensure!(
                k >> 32 == 0x4330_0000 && (k as u32) <= i32::MAX as u32,
                "start index constant {:#x} is not 2^52 + index",
                k
            );
        }
        Op::CALLM => {
            range(a, a + 1 + c, "call")?;
            if b >= 2 {
                range(a, a + b - 2, "result")?;
            }
        }
        Op::CALL => {
            ensure!(c >= 1, "C is 0 (C-1 arguments)");
            range(a, a + c.max(1), "call")?;
            if b >= 2 {
                range(a, a + b - 2, "result")?;
            }
        }
        Op::CALLMT => range(a, a + 1 + d, "call")?,
        Op::CALLT => {
            ensure!(d >= 1, "D is 0 (D-1 arguments)");
            range(a, a + d.max(1), "call")?;
        }
        Op::ITERC | Op::ITERN => {
            ensure!(
                a >= 3,
                "A {a} leaves no room for the 3 control slots below it"
            );
            range(a - 3, a + 3, "iterator")?;
            ensure!(b >= 2, "B {b}: no loop variable");
            range(a, a + b - 2, "result")?;
            ensure!(c == 3, "C is {c}, not 3");
        }
        Op::VARG => {
            ensure!(
                pt.flags & flags::VARARG != 0,
                "'...' in a function that is not vararg"
            );
            ensure!(
                c == pt.numparams as u32,
                "C {c} is not numparams {}",
                pt.numparams
            );
            reg(a, "A")?;
            if b >= 2 {
                range(a, a + b - 2, "result")?;
            }
        }
        Op::ISNEXT => {
            ensure!(
                a >= 3,
                "A {a} leaves no room for the 3 control slots below it"
            );
            range(a - 3, a + 3, "iterator")?;
        }
        Op::RETM => {
            // Fixed values A..A+D-1, the variable part from A+D.
            range(a, a + d, "return")?;
        }
        Op::RET => {
            ensure!(d >= 1, "D is 0 (D-1 values)");
            ensure!(
                a + d - 1 <= fs,
                "return slots {a}..{} outside the frame (framesize {fs})",
                a + d - 1
            );
        }
        Op::RET0 => {
            ensure!(d == 1, "D is {d}, not 1");
            ensure!(a <= fs, "A {a} beyond the frame (framesize {fs})");
        }
        Op::RET1 => {
            ensure!(d == 2, "D is {d}, not 2");
            reg(a, "A")?;
        }
        Op::FORI | Op::FORL => range(a, a + 3, "loop")?,
        Op::ITERL => {
            ensure!(
                a >= 3,
                "A {a} leaves no room for the control slots below it"
            );
            range(a - 3, a + 3, "iterator")?;
        }
        Op::FUNCF | Op::FUNCV => {
            return Err(InsErr("function header after pc 0".into()));
        }
        Op::JFORI
        | Op::JFORL
        | Op::JITERL
        | Op::JLOOP
        | Op::JFUNCF
        | Op::JFUNCV
        | Op::IFORL
        | Op::IITERL
        | Op::ILOOP
        | Op::IFUNCF
        | Op::IFUNCV => {
            return Err(InsErr(
                "J- or I-variant opcode (only the JIT makes these)".into(),
            ));
        }
        Op::FUNCC | Op::FUNCCW => {
            return Err(InsErr("C function header in Lua bytecode".into()));
        }
        Op::ISTYPE | Op::ISNUM | Op::TGETR | Op::TSETR => {
            return Err(InsErr("opcode reserved for built-in code".into()));
        }
    }
    Ok(o)
}

/// Checks that involve several instructions: pairing, successors, MULTRES, guarded
/// regions, open upvalues.
fn check_flow(pt: &Proto, ops: &[Op]) -> Result<(), InsErr> {
    let n = ops.len();
    let fs = pt.framesize as u32;
    let bcs = &pt.bc;
    let tgt = |pc: usize| jump_target(pc, bcs[pc]) as usize;
    let at = |pc: usize, e: String| InsErr(format!("pc {pc} {}: {e}", ops[pc].name()));
    // Jump edges (source, target), sorted by target.
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for pc in 1..n {
        let o = ops[pc];
        let ins = bcs[pc];
        let a = bc::a(ins);
        if jumps(o) {
            edges.push((tgt(pc), pc));
        }
        // Successors stay inside the code.
        if falls_through(o) && pc + 1 >= n {
            return Err(at(pc, "execution falls off the end".into()));
        }
        if is_cond(o) {
            if ops.get(pc + 1) != Some(&Op::JMP) {
                return Err(at(pc, "comparison or test not followed by JMP".into()));
            }
            if pc + 2 >= n {
                return Err(at(pc, "execution falls off the end".into()));
            }
        }
        match o {
            Op::ITERC | Op::ITERN => {
                let next = bcs[pc + 1];
                if ops[pc + 1] != Op::ITERL || bc::a(next) != a {
                    return Err(at(pc, "not followed by ITERL with the same A".into()));
                }
            }
            Op::ITERL => {
                let prev = ops[pc - 1];
                if !matches!(prev, Op::ITERC | Op::ITERN) || bc::a(bcs[pc - 1]) != a {
                    return Err(at(pc, "not preceded by ITERC/ITERN with the same A".into()));
                }
                let t = tgt(pc);
                let opener = if prev == Op::ITERN {
                    Op::ISNEXT
                } else {
                    Op::JMP
                };
                if !(t >= 2
                    && t < pc
                    && ops[t - 1] == opener
                    && bc::a(bcs[t - 1]) == a
                    && tgt(t - 1) == pc - 1)
                {
                    return Err(at(
                        pc,
                        format!(
                            "does not jump back to just after a {} (A {a}) that jumps to pc {}",
                            opener.name(),
                            pc - 1
                        ),
                    ));
                }
            }
            Op::ISNEXT => {
                let t = tgt(pc);
                if !(t > pc
                    && ops[t] == Op::ITERN
                    && bc::a(bcs[t]) == a
                    && ops.get(t + 1) == Some(&Op::ITERL)
                    && tgt(t + 1) == pc + 1)
                {
                    return Err(at(pc, "does not jump to its ITERN".into()));
                }
            }
            Op::FORI => {
                let t = tgt(pc);
                if !(t > pc + 1
                    && ops[t - 1] == Op::FORL
                    && bc::a(bcs[t - 1]) == a
                    && tgt(t - 1) == pc + 1)
                {
                    return Err(at(pc, "does not jump to just after its FORL".into()));
                }
            }
            Op::FORL => {
                let t = tgt(pc);
                if !(t >= 2
                    && t <= pc
                    && ops[t - 1] == Op::FORI
                    && bc::a(bcs[t - 1]) == a
                    && tgt(t - 1) == pc + 1)
                {
                    return Err(at(pc, "does not jump back to just after its FORI".into()));
                }
            }
            _ => {}
        }
    }
    edges.sort_unstable();
    let sources = |t: usize| {
        let lo = edges.partition_point(|e| e.0 < t);
        let hi = edges.partition_point(|e| e.0 <= t);
        edges[lo..hi].iter().map(|e| e.1)
    };
    for (pc, &o) in ops.iter().enumerate().skip(1) {
        if o == Op::ITERL {
            if let Some(s) = sources(pc).next() {
                return Err(at(pc, format!("jump from pc {s} lands on ITERL")));
            }
        }
    }

    // MULTRES: every way in comes from a producer, perhaps through one UCLO.
    #[derive(PartialEq)]
    enum Way {
        Fall,
        Jump,
        Skip,
    }
    let preds = |pc: usize| {
        let mut v: Vec<(usize, Way)> = sources(pc).map(|s| (s, Way::Jump)).collect();
        if pc >= 2 && falls_through(ops[pc - 1]) {
            v.push((pc - 1, Way::Fall));
        }
        if pc >= 3 && is_cond(ops[pc - 2]) {
            v.push((pc - 2, Way::Skip));
        }
        v
    };
    for pc in 1..n {
        let Some(need) = consumes(ops[pc], bcs[pc]) else {
            continue;
        };
        let fed = |p: usize, w: &Way| *w == Way::Fall && produces(ops[p], bcs[p]) == Some(need);
        let ps = preds(pc);
        let mut ok = !ps.is_empty();
        for (p, w) in &ps {
            if fed(*p, w) {
                continue;
            }
            if *w == Way::Jump && ops[*p] == Op::UCLO {
                let qs = preds(*p);
                if !qs.is_empty() && qs.iter().all(|(q, w)| fed(*q, w)) {
                    continue;
                }
            }
            ok = false;
        }
        if !ok {
            return Err(at(
                pc,
                format!("consumes MULTRES (from slot {need}) without a producer right before it"),
            ));
        }
    }

    // Guarded regions.
    let mut regions: Vec<Region> = Vec::new();
    let mut last_write = vec![usize::MAX; 256];
    for pc in 1..n {
        let ins = bcs[pc];
        let a = bc::a(ins);
        match ops[pc] {
            Op::FORI => {
                let close = tgt(pc) - 1;
                regions.push(Region {
                    open: pc,
                    close,
                    body_end: close - 1,
                    slots: slots_range(a, a + 2),
                    what: "loop control slot",
                });
            }
            Op::ITERC | Op::ITERN => {
                let open = tgt(pc + 1) - 1;
                regions.push(Region {
                    open,
                    close: pc + 1,
                    body_end: pc - 1,
                    slots: slots_range(a - 3, a - 1),
                    what: "iterator control slot",
                });
            }
            Op::TSETM => {
                let p = last_write[(a - 1) as usize];
                if p == usize::MAX
                    || !matches!(ops[p], Op::TNEW | Op::TDUP)
                    || bc::a(bcs[p]) != a - 1
                {
                    return Err(at(
                        pc,
                        format!("slot {} is not last written by a TNEW/TDUP", a - 1),
                    ));
                }
                regions.push(Region {
                    open: p,
                    close: pc,
                    body_end: pc - 1,
                    slots: slots_range(a - 1, a - 1),
                    what: "table slot of a TSETM",
                });
            }
            _ => {}
        }
        for (lo, hi) in writes(ops[pc], ins, fs).into_iter().flatten() {
            for s in lo..=hi.min(255) {
                last_write[s as usize] = pc;
            }
        }
    }
    // Regions nest (sorted by start, longest first, each inside the one below it).
    regions.sort_by_key(|r| (r.open, std::cmp::Reverse(r.close)));
    let mut open_stack: Vec<usize> = Vec::new();
    for (i, r) in regions.iter().enumerate() {
        while let Some(&j) = open_stack.last() {
            if regions[j].close < r.open {
                open_stack.pop();
            } else {
                break;
            }
        }
        if let Some(&j) = open_stack.last() {
            if regions[j].close < r.close {
                return Err(at(
                    r.open,
                    format!(
                        "region {}..{} overlaps region {}..{}",
                        r.open, r.close, regions[j].open, regions[j].close
                    ),
                ));
            }
        }
        open_stack.push(i);
    }
    // Innermost region each pc is inside of (as a jump target: open < pc <= close).
    let mut inner: Vec<Option<usize>> = vec![None; n];
    open_stack.clear();
    let mut next = 0;
    for (pc, slot) in inner.iter_mut().enumerate() {
        while open_stack.last().is_some_and(|&j| regions[j].close < pc) {
            open_stack.pop();
        }
        while next < regions.len() && regions[next].open < pc {
            if regions[next].close >= pc {
                open_stack.push(next);
            }
            next += 1;
        }
        *slot = open_stack.last().copied();
    }
    // Every control transfer that is not to pc+1: jumps, and a test skipping its JMP.
    let skips = (1..n).filter(|&pc| is_cond(ops[pc])).map(|pc| (pc + 2, pc));
    for (t, s) in edges.iter().copied().chain(skips) {
        if let Some(j) = inner[t] {
            let r = &regions[j];
            if s < r.open || s > r.close {
                return Err(at(
                    s,
                    format!(
                        "jumps to pc {t}, into the middle of region {}..{}",
                        r.open, r.close
                    ),
                ));
            }
        }
    }

    // Open upvalues: which slots of this frame a closure may still reference, per pc.
    let captures = |pc: usize| -> Slots {
        let mut s = [0; 4];
        if let Some(KGc::Proto(c)) = pt.kgc.get(bc::d(bcs[pc]) as usize) {
            for &d in &c.uv {
                if d & uvflag::LOCAL != 0 {
                    let i = (d & 0xff) as usize;
                    s[i >> 6] |= 1 << (i & 63);
                }
            }
        }
        s
    };
    let mut state: Vec<Option<Slots>> = vec![None; n];
    state[1] = Some([0; 4]);
    let mut work = vec![1usize];
    while let Some(pc) = work.pop() {
        let mut s = state[pc].expect("queued with a state");
        match ops[pc] {
            Op::FNEW => {
                let c = captures(pc);
                for i in 0..4 {
                    s[i] |= c[i];
                }
            }
            Op::UCLO => s = slots_and(&s, &slots_below(bc::a(bcs[pc]))),
            _ => {}
        }
        let o = ops[pc];
        let mut succ = [usize::MAX; 3];
        if falls_through(o) {
            succ[0] = pc + 1;
        }
        if jumps(o) {
            succ[1] = tgt(pc);
        }
        if is_cond(o) {
            succ[2] = pc + 2;
        }
        for t in succ.into_iter().filter(|&t| t != usize::MAX) {
            let merged = match state[t] {
                None => Some(s),
                Some(old) => {
                    let m = [old[0] | s[0], old[1] | s[1], old[2] | s[2], old[3] | s[3]];
                    (m != old).then_some(m)
                }
            };
            if let Some(m) = merged {
                state[t] = Some(m);
                work.push(t);
            }
        }
    }

    // Region bodies: no writes to the guarded slots, no open upvalue on them.
    let mut events: Vec<(usize, bool, usize)> = Vec::new();
    for (i, r) in regions.iter().enumerate() {
        if r.open < r.body_end {
            events.push((r.open + 1, true, i));
            events.push((r.body_end + 1, false, i));
        }
    }
    events.sort_unstable_by_key(|e| (e.0, e.1));
    let mut counts = [0u32; 256];
    let mut guarded: Slots = [0; 4];
    let mut what: [&str; 256] = [""; 256];
    let mut ev = 0;
    for pc in 1..n {
        while ev < events.len() && events[ev].0 == pc {
            let (_, opening, i) = events[ev];
            let r = &regions[i];
            for s in 0..256usize {
                if r.slots[s >> 6] & (1 << (s & 63)) != 0 {
                    if opening {
                        counts[s] += 1;
                        what[s] = r.what;
                    } else {
                        counts[s] -= 1;
                    }
                    if counts[s] > 0 {
                        guarded[s >> 6] |= 1 << (s & 63);
                    } else {
                        guarded[s >> 6] &= !(1 << (s & 63));
                    }
                }
            }
            ev += 1;
        }
        if guarded == [0; 4] {
            continue;
        }
        for (lo, hi) in writes(ops[pc], bcs[pc], fs).into_iter().flatten() {
            if let Some(s) = slots_first(&slots_and(&guarded, &slots_range(lo, hi))) {
                return Err(at(pc, format!("writes slot {s}, a {}", what[s as usize])));
            }
        }
        if let Some(st) = &state[pc] {
            if let Some(s) = slots_first(&slots_and(&guarded, st)) {
                return Err(at(
                    pc,
                    format!("an upvalue may be open on slot {s}, a {}", what[s as usize]),
                ));
            }
        }
    }
    for r in &regions {
        if let Some(st) = &state[r.close] {
            if let Some(s) = slots_first(&slots_and(&r.slots, st)) {
                return Err(at(
                    r.close,
                    format!("an upvalue may be open on slot {s}, a {}", r.what),
                ));
            }
        }
    }
    // Returns leave no open upvalue on this frame behind.
    for pc in 1..n {
        if let (true, Some(st)) = (is_return(ops[pc]), &state[pc]) {
            if let Some(slot) = slots_first(st) {
                return Err(at(
                    pc,
                    format!("returns while an upvalue on slot {slot} may be open"),
                ));
            }
        }
    }
    Ok(())
}
