//! Turning a compiled [`Proto`] into a [`GcProto`] in the heap: strings interned,
//! child prototypes and template tables created, everything else copied.
//!
//! Every allocation may run the collector, so each object made along the way is kept
//! in an anchor table (itself in a root slot) until the prototype that references it
//! exists; `new_proto` does not collect, so the finished prototype is safe to hand back.
//! The caller must anchor the returned prototype before its next allocation.

use crate::lex::CdataLit;
use crate::proto::{KGc, Proto, TabConst, TemplateTable};
use moonjet_ffi::CTypeId;
use moonjet_gc::object::GcCdata;
use moonjet_gc::object::VarInfo as GcVarInfo;
use moonjet_gc::value::itype;
use moonjet_gc::{table, GcProto, GcStr, GcTab, Heap, MemoryError, ProtoSpec, TValue};

#[derive(Debug, PartialEq, Eq)]
pub enum MaterializeError {
    /// "not enough memory"
    Memory,
}

impl From<MemoryError> for MaterializeError {
    fn from(_: MemoryError) -> Self {
        MaterializeError::Memory
    }
}

impl From<moonjet_gc::TabError> for MaterializeError {
    fn from(_: moonjet_gc::TabError) -> Self {
        MaterializeError::Memory
    }
}

/// Objects made so far, kept alive through a root slot.
struct Anchor {
    tab: *mut GcTab,
    root: moonjet_gc::RootId,
    n: i64,
}

impl Anchor {
    fn new(h: &mut Heap) -> Result<Anchor, MaterializeError> {
        let tab = h.new_table(0, 0)?;
        let root = h.add_root(TValue::from_tab(tab));
        Ok(Anchor { tab, root, n: 0 })
    }

    fn keep(&mut self, h: &mut Heap, v: TValue) -> Result<(), MaterializeError> {
        self.n += 1;
        // SAFETY: the anchor table is live (rooted) for the whole materialisation.
        unsafe { table::set_int(h, self.tab, self.n, v) }?;
        Ok(())
    }

    fn release(self, h: &mut Heap) {
        h.remove_root(self.root);
    }
}

/// Make `pt` (and its children) a heap prototype.
pub fn materialize(h: &mut Heap, pt: &Proto) -> Result<*mut GcProto, MaterializeError> {
    let mut anchor = Anchor::new(h)?;
    let r = proto(h, pt, &mut anchor, 0);
    anchor.release(h);
    r
}

fn string(h: &mut Heap, bytes: &[u8], anchor: &mut Anchor) -> Result<*mut GcStr, MaterializeError> {
    let s = h.intern(bytes)?;
    anchor.keep(h, TValue::from_gcstr(s))?;
    Ok(s)
}

fn tab_const(h: &mut Heap, k: &TabConst, anchor: &mut Anchor) -> Result<TValue, MaterializeError> {
    Ok(match k {
        TabConst::Nil => TValue::NIL,
        TabConst::False => TValue::FALSE,
        TabConst::True => TValue::TRUE,
        TabConst::Num(n) => TValue::from_f64(*n),
        TabConst::Str(s) => TValue::from_gcstr(string(h, s, anchor)?),
    })
}

/// A template table sized as luajit sizes it: the array part as given, a hash part for
/// the other keys.
fn template(
    h: &mut Heap,
    t: &TemplateTable,
    anchor: &mut Anchor,
) -> Result<TValue, MaterializeError> {
    let tab = h.new_table(
        t.array.len() as u32,
        crate::parse::hsize_bits(t.hash.len() as u32),
    )?;
    let tv = TValue::from_tab(tab);
    anchor.keep(h, tv)?;
    for (i, v) in t.array.iter().enumerate() {
        let v = tab_const(h, v, anchor)?;
        // SAFETY: `tab` is anchored; values are constants or anchored strings.
        unsafe { table::set_int(h, tab, i as i64, v) }?;
    }
    for (k, v) in &t.hash {
        let k = tab_const(h, k, anchor)?;
        let v = tab_const(h, v, anchor)?;
        // SAFETY: as above; template keys are never nil or NaN (the verifier and the
        // parser guarantee it), so the only failure is memory.
        unsafe { table::set(h, tab, k, v) }?;
    }
    Ok(tv)
}

/// A cdata constant: `12LL` (`int64_t`), `12ULL` (`uint64_t`), `12i` (`complex`).
fn cdata_const(h: &mut Heap, c: &CdataLit) -> Result<TValue, MaterializeError> {
    let (id, payload): (CTypeId, [u64; 2]) = match *c {
        CdataLit::I64(v) => (CTypeId::INT64, [v as u64, 0]),
        CdataLit::U64(v) => (CTypeId::UINT64, [v, 0]),
        CdataLit::Imag(v) => (CTypeId::COMPLEX_DOUBLE, [0f64.to_bits(), v.to_bits()]),
    };
    let size = if id == CTypeId::COMPLEX_DOUBLE { 16 } else { 8 };
    let obj = h.new_cdata(id.0, size)?;
    // SAFETY: a fresh cdata with `size` (8 or 16) aligned payload bytes.
    unsafe {
        let p = GcCdata::payload(obj).cast::<u64>();
        for (i, word) in payload.iter().take(size / 8).enumerate() {
            p.add(i).write(*word);
        }
    }
    Ok(TValue::from_gc(obj.cast(), itype::CDATA))
}

fn proto(
    h: &mut Heap,
    pt: &Proto,
    anchor: &mut Anchor,
    depth: u32,
) -> Result<*mut GcProto, MaterializeError> {
    // Nesting is bounded by the parser's syntax levels and the loader's cap (200).
    debug_assert!(depth <= 256);
    let mut kgc = Vec::with_capacity(pt.kgc.len());
    for k in &pt.kgc {
        let v = match k {
            KGc::Str(s) => TValue::from_gcstr(string(h, s, anchor)?),
            KGc::Proto(child) => {
                let c = proto(h, child, anchor, depth + 1)?;
                let v = TValue::from_gc(c.cast(), itype::PROTO);
                anchor.keep(h, v)?;
                v
            }
            KGc::Table(t) => template(h, t, anchor)?,
            KGc::Cdata(c) => {
                let v = cdata_const(h, c)?;
                anchor.keep(h, v)?;
                v
            }
        };
        kgc.push(v);
    }
    let chunkname = string(h, &pt.chunkname, anchor)?;
    let mut uvnames = Vec::with_capacity(pt.uvnames.len());
    for n in &pt.uvnames {
        uvnames.push(string(h, n, anchor)?);
    }
    let mut varinfo = Vec::with_capacity(pt.varinfo.len());
    for v in &pt.varinfo {
        varinfo.push(GcVarInfo {
            name: string(h, &v.name, anchor)?,
            startpc: v.startpc,
            endpc: v.endpc,
        });
    }
    let p = h.new_proto(&ProtoSpec {
        numparams: pt.numparams,
        framesize: pt.framesize,
        flags: pt.flags as u32,
        firstline: pt.firstline,
        numline: pt.numline,
        chunkname,
        bc: &pt.bc,
        kgc: &kgc,
        kn: &pt.kn,
        uv: &pt.uv,
        lineinfo: &pt.lineinfo,
        uvnames: &uvnames,
        varinfo: &varinfo,
    })?;
    Ok(p)
}
