//! The io library, as luajit 2.1 (non-5.2 mode) on POSIX has it.
//!
//! luajit is a thin layer over C stdio, and much of its observable behaviour is
//! stdio's: which `fopen` modes are accepted, what `*n` reads (`fscanf("%lf")`), what
//! `ferror`/`errno` report. So files here are C `FILE*` streams too, driven the same
//! way. Two departures: writes to standard output go to [`State::out`] (the writer
//! `print` uses, so the two interleave and embedders can capture both), and reads by
//! count grow their buffer as data arrives instead of allocating the count up front.
//!
//! Open streams live in a slab owned by the state ([`IoState`]); a file userdata holds
//! only its slot number and the slot's generation, so no pointer lives in GC memory
//! and dropping the state closes whatever the collector never finalized.

use super::cstd::{c_i64, c_string, check_cstr, errno, file_error, file_result, strerror};
use super::{new_lib, register};
use crate::vm::state::LUA_MINSTACK;
use crate::vm::{LuaResult, State};
use moonjet_gc::value::itype;
use moonjet_gc::{GcStr, GcTab, GcUdata, RootId, TValue};
use std::ffi::CString;
use std::io::Write;
use std::ptr::null_mut;

/// `GcUdata::udtype` of file handles (luajit's UDTYPE_IO_FILE).
const UDTYPE_IO_FILE: u8 = 1;
/// Payload of a file userdata: slot index and generation, two u32.
const PAYLOAD: usize = 8;
/// luajit's LUAL_BUFFERSIZE (glibc's BUFSIZ): first size of the line buffer.
const LINE_BUF: usize = 8192;
/// Stdio buffer given to files this library opens: fewer system calls than the
/// default (the block size), same behaviour.
const FILE_BUF: usize = 64 * 1024;
/// Upvalue limit of a `lines` iterator (LJ_MAX_UPVAL).
const MAX_LINES_ARGS: usize = 60;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    File,
    Pipe,
    Stdin,
    Stdout,
    Stderr,
}

impl Kind {
    fn is_std(self) -> bool {
        matches!(self, Kind::Stdin | Kind::Stdout | Kind::Stderr)
    }
}

/// How standard output is buffered, as `setvbuf` last set it (applied to [`State::out`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Vbuf {
    #[default]
    Full,
    Line,
    No,
}

struct LuaFile {
    /// The C stream. For standard output it is C's `stdout`, used only for `seek`,
    /// `setvbuf` and reads (which fail there as in C); writes go to `State::out`.
    fp: *mut libc::FILE,
    kind: Kind,
    /// Opened by `io.lines(name)`: closed when its iterator reaches the end.
    close_at_eof: bool,
    /// The stdio buffer of files opened here (must outlive the stream).
    _buf: Option<Box<[u8]>>,
}

#[derive(Default)]
struct Slot {
    gen: u32,
    file: Option<LuaFile>,
}

/// The open files of a state and the io library's roots.
#[derive(Default)]
pub struct IoState {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Default input and output files (GC roots, like luajit's).
    input: Option<RootId>,
    output: Option<RootId>,
    /// The file metatable.
    mt: *mut GcTab,
    stdout_vbuf: Vbuf,
    /// `getline`'s buffer (malloc'ed by the C library) and its size.
    line: *mut libc::c_char,
    line_cap: usize,
}

impl IoState {
    fn add(&mut self, f: LuaFile) -> (u32, u32) {
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        };
        let s = &mut self.slots[i as usize];
        s.file = Some(f);
        (i, s.gen)
    }

    /// Forget slot `i` (its stream already closed): its userdata now reads as closed.
    fn release(&mut self, i: usize) {
        let s = &mut self.slots[i];
        s.file = None;
        s.gen = s.gen.wrapping_add(1);
        self.free.push(i as u32);
    }

    fn file(&self, i: usize) -> &LuaFile {
        self.slots[i].file.as_ref().expect("open slot")
    }
}

impl Drop for IoState {
    fn drop(&mut self) {
        // SAFETY: null or the buffer getline allocated with malloc.
        unsafe { libc::free(self.line.cast()) };
        for s in &mut self.slots {
            if let Some(f) = s.file.take() {
                // SAFETY: open streams of this state; standard ones are only flushed.
                unsafe {
                    match f.kind {
                        Kind::File => {
                            libc::fclose(f.fp);
                        }
                        Kind::Pipe => {
                            libc::pclose(f.fp);
                        }
                        _ => {
                            libc::fflush(f.fp);
                        }
                    }
                }
            }
        }
    }
}

/// What a value is as a file handle.
enum Lookup {
    NotFile,
    Closed,
    Open(usize),
}

fn lookup(st: &State, v: TValue) -> Lookup {
    if !v.is_udata() {
        return Lookup::NotFile;
    }
    let u = v.gc_ptr().cast::<GcUdata>();
    // SAFETY: a live userdata; file handles carry PAYLOAD bytes.
    let (slot, gen) = unsafe {
        if (*u).udtype != UDTYPE_IO_FILE || (*u).len != PAYLOAD {
            return Lookup::NotFile;
        }
        let p = GcUdata::payload(u).cast::<u32>();
        (p.read_unaligned(), p.add(1).read_unaligned())
    };
    match st.io.slots.get(slot as usize) {
        Some(s) if s.gen == gen && s.file.is_some() => Lookup::Open(slot as usize),
        _ => Lookup::Closed,
    }
}

/// Argument `n` as an open file (luajit's io_tofile).
fn check_file(st: &mut State, n: usize) -> LuaResult<usize> {
    match lookup(st, st.arg(n)) {
        Lookup::Open(i) => Ok(i),
        Lookup::Closed => Err(st.rt_error("attempt to use a closed file")),
        Lookup::NotFile => Err(st.type_error(n, "FILE*")),
    }
}

fn default_file(st: &State, output: bool) -> TValue {
    let id = if output { st.io.output } else { st.io.input };
    id.map_or(TValue::NIL, |id| st.heap.root(id))
}

/// The default input or output, which must be open (luajit's io_stdfile).
fn std_file(st: &mut State, output: bool) -> LuaResult<usize> {
    match lookup(st, default_file(st, output)) {
        Lookup::Open(i) => Ok(i),
        _ => Err(st.rt_error("standard file is closed")),
    }
}

fn opt_str_arg(st: &mut State, n: usize, def: &str) -> LuaResult<CString> {
    match st.opt_str(n)? {
        // SAFETY: a live string argument.
        Some(s) => Ok(c_string(unsafe { GcStr::bytes(s) })),
        None => Ok(c_string(def.as_bytes())),
    }
}

/// Wrap an open stream in a new file userdata and push it. On failure the stream is
/// closed.
fn push_file(st: &mut State, fp: *mut libc::FILE, kind: Kind) -> LuaResult<usize> {
    let mut buf = None;
    if kind == Kind::File {
        let mut b = vec![0u8; FILE_BUF].into_boxed_slice();
        // SAFETY: a fresh stream with no I/O done yet; the buffer is kept with the
        // stream in its slot and freed only after the stream is closed.
        unsafe { libc::setvbuf(fp, b.as_mut_ptr().cast(), libc::_IOFBF, FILE_BUF) };
        buf = Some(b);
    }
    let (slot, gen) = st.io.add(LuaFile {
        fp,
        kind,
        close_at_eof: false,
        _buf: buf,
    });
    let u = match st.heap.new_udata(PAYLOAD, st.globals) {
        Ok(u) => u,
        Err(_) => {
            let _ = close_slot(st, slot as usize);
            return Err(st.memory_error());
        }
    };
    let mt = st.io.mt;
    // SAFETY: a fresh userdata with PAYLOAD bytes; the metatable is rooted.
    unsafe {
        (*u).udtype = UDTYPE_IO_FILE;
        let p = GcUdata::payload(u).cast::<u32>();
        p.write_unaligned(slot);
        p.add(1).write_unaligned(gen);
        st.heap.set_udata_metatable(u, mt);
    }
    st.push(TValue::from_gc(u.cast(), itype::UDATA))?;
    Ok(slot as usize)
}

/// Close the stream of slot `i` (not a standard one); the errno if that failed.
fn close_slot(st: &mut State, i: usize) -> Result<(), i32> {
    let f = st.io.file(i);
    let (fp, kind) = (f.fp, f.kind);
    // SAFETY: an open stream of this state, closed exactly once (the slot goes next).
    let ok = unsafe {
        match kind {
            Kind::Pipe => libc::pclose(fp) != -1,
            _ => libc::fclose(fp) == 0,
        }
    };
    let en = errno();
    st.io.release(i);
    if ok {
        Ok(())
    } else {
        Err(en)
    }
}

/// Close a file as `file:close()` does and push its results.
fn close_file(st: &mut State, i: usize) -> LuaResult<u32> {
    if st.io.file(i).kind.is_std() {
        st.push_nil()?;
        st.push_bytes(b"cannot close standard file")?;
        return Ok(2);
    }
    match close_slot(st, i) {
        Ok(()) => file_result(st, true, None),
        Err(en) => file_error(st, en, None),
    }
}

// ---- reading ----------------------------------------------------------------------

#[cfg(target_env = "gnu")]
extern "C" {
    fn clearerr_unlocked(fp: *mut libc::FILE);
    fn ferror_unlocked(fp: *mut libc::FILE) -> libc::c_int;
}

/// `clearerr`; the unlocked variant for streams only this state uses.
#[inline]
unsafe fn clear_err(fp: *mut libc::FILE, shared: bool) {
    #[cfg(target_env = "gnu")]
    if !shared {
        // SAFETY: caller promise: `fp` is open.
        return unsafe { clearerr_unlocked(fp) };
    }
    let _ = shared;
    // SAFETY: as above.
    unsafe { libc::clearerr(fp) }
}

/// `ferror`, likewise.
#[inline]
unsafe fn has_error(fp: *mut libc::FILE, shared: bool) -> bool {
    #[cfg(target_env = "gnu")]
    if !shared {
        // SAFETY: caller promise: `fp` is open.
        return unsafe { ferror_unlocked(fp) } != 0;
    }
    let _ = shared;
    // SAFETY: as above.
    unsafe { libc::ferror(fp) != 0 }
}

/// One line, as luajit reads it, pushed; false if nothing was read.
///
/// luajit calls `fgets` into a buffer of 8 KiB (doubled as it fills) and keeps each
/// piece only up to its first NUL, so a NUL swallows the rest of its piece and the line
/// goes on into the next one. Here `getline` reads whole lines (no `strlen` per line);
/// a line with a NUL in it is cut into the pieces `fgets` would have returned.
fn read_line(st: &mut State, fp: *mut libc::FILE, chop: bool) -> LuaResult<bool> {
    let mut out = std::mem::take(&mut st.buf);
    out.clear();
    let mut m = LINE_BUF;
    loop {
        // SAFETY: getline (re)allocates the state's line buffer with malloc and reports
        // its size; the buffer is freed with the state.
        let len = unsafe { libc::getline(&mut st.io.line, &mut st.io.line_cap, fp) };
        if len <= 0 {
            break;
        }
        // SAFETY: getline wrote `len` bytes at `line`.
        let line = unsafe { std::slice::from_raw_parts(st.io.line.cast::<u8>(), len as usize) };
        if out.is_empty() && !line.contains(&0) {
            // The common case: the line as it is.
            let keep = if chop && line.last() == Some(&b'\n') {
                line.len() - 1
            } else {
                line.len()
            };
            st.buf = out;
            st.push_bytes(&line[..keep])?;
            return Ok(true);
        }
        let mut pos = 0;
        while pos < line.len() {
            // fgets(buf + n, m - n) reads at most m - n - 1 bytes.
            let end = line.len().min(pos + (m - out.len() - 1));
            let piece = &line[pos..end];
            pos = end;
            let text = piece
                .iter()
                .position(|&c| c == 0)
                .map_or(piece, |z| &piece[..z]);
            out.extend_from_slice(text);
            if out.last() == Some(&b'\n') {
                if chop {
                    out.pop();
                }
                let r = st.push_bytes(&out);
                st.buf = out;
                return r.map(|_| true);
            }
            if out.len() >= m - 64 {
                m += m;
            }
        }
    }
    let ok = !out.is_empty();
    let r = st.push_bytes(&out);
    st.buf = out;
    r.map(|_| ok)
}

/// Up to `limit` bytes (all that is left for None), pushed; the buffer grows with the
/// data, so a huge count costs no more than what the file holds.
fn read_chars(st: &mut State, fp: *mut libc::FILE, limit: Option<usize>) -> LuaResult<bool> {
    let mut buf = std::mem::take(&mut st.buf);
    buf.clear();
    let limit = limit.unwrap_or(usize::MAX);
    while buf.len() < limit {
        let want = (limit - buf.len()).min(buf.len().max(LINE_BUF));
        buf.reserve(want);
        // SAFETY: room for `want` more bytes was reserved; fread reports how many it
        // wrote there.
        let got = unsafe {
            let got = libc::fread(buf.as_mut_ptr().add(buf.len()).cast(), 1, want, fp);
            buf.set_len(buf.len() + got);
            got
        };
        if got < want {
            break;
        }
    }
    let ok = !buf.is_empty();
    let r = st.push_bytes(&buf);
    st.buf = buf;
    r.map(|_| ok)
}

/// `*n`: C's `fscanf("%lf")`, which is what luajit's number reader is.
fn read_number(st: &mut State, fp: *mut libc::FILE) -> LuaResult<bool> {
    let mut d: f64 = 0.0;
    // SAFETY: an open stream, a literal format and a pointer to a double.
    let r = unsafe { libc::fscanf(fp, c"%lf".as_ptr(), &mut d as *mut f64) };
    if r == 1 {
        st.push_num(d)?;
        Ok(true)
    } else {
        st.push_nil()?;
        Ok(false)
    }
}

/// Read by the formats in arguments `first..` (one line if none); luajit's
/// io_file_read. Results are pushed above the arguments.
fn read_formats(st: &mut State, i: usize, first: usize) -> LuaResult<u32> {
    let f = st.io.file(i);
    let (fp, shared) = (f.fp, f.kind.is_std());
    // SAFETY: an open stream.
    unsafe { clear_err(fp, shared) };
    let nargs = st.nargs();
    let mut count = 0u32;
    let mut ok = true;
    if nargs < first {
        ok = read_line(st, fp, true)?;
        count = 1;
    } else {
        st.check_stack(nargs + 1 - first + LUA_MINSTACK)?;
        let mut n = first;
        while n <= nargs && ok {
            let v = st.arg(n);
            if let Some(s) = v.as_str() {
                // SAFETY: a live string argument.
                let b = unsafe { GcStr::bytes(s) };
                let b = b.strip_prefix(b"*").unwrap_or(b);
                ok = match b.first() {
                    Some(b'n') => read_number(st, fp)?,
                    Some(&c) if c & !0x20 == b'L' => read_line(st, fp, c == b'l')?,
                    Some(b'a') => {
                        read_chars(st, fp, None)?;
                        ok
                    }
                    _ => return Err(st.arg_error(n, "invalid format")),
                };
            } else if v.is_number() {
                // luajit takes the count as an unsigned 32-bit size.
                let len = st.check_int(n)? as u32 as usize;
                ok = if len == 0 {
                    // SAFETY: an open stream; peek one byte.
                    let c = unsafe {
                        let c = libc::fgetc(fp);
                        libc::ungetc(c, fp);
                        c
                    };
                    st.push_bytes(b"")?;
                    c != libc::EOF
                } else {
                    read_chars(st, fp, Some(len))?
                };
            } else {
                return Err(st.arg_error(n, "invalid option"));
            }
            n += 1;
            count += 1;
        }
    }
    // SAFETY: an open stream.
    if unsafe { has_error(fp, shared) } {
        return file_result(st, false, None);
    }
    if !ok {
        let top = st.top();
        // SAFETY: the last result was just pushed.
        unsafe { *top.sub(1) = TValue::NIL };
    }
    Ok(count)
}

// ---- writing ----------------------------------------------------------------------

/// Write arguments `first..` to file `i`; luajit's io_file_write (true on success).
fn write_args(st: &mut State, i: usize, first: usize) -> LuaResult<u32> {
    let f = st.io.file(i);
    let (fp, kind) = (f.fp, f.kind);
    let mut status = true;
    let mut err = 0;
    let mut num = Vec::new();
    for n in first..=st.nargs() {
        let v = st.arg(n);
        let bytes: &[u8] = if let Some(s) = v.as_str() {
            // SAFETY: a live string argument, not freed while this loop runs.
            unsafe { GcStr::bytes(s) }
        } else if v.is_number() {
            num.clear();
            crate::num::push_num(&mut num, v.num());
            &num
        } else {
            return Err(st.type_error(n, "string"));
        };
        if !status {
            continue;
        }
        if kind == Kind::Stdout {
            if let Err(e) = st.out.write_all(bytes) {
                status = false;
                err = e.raw_os_error().unwrap_or(libc::EIO);
            } else if st.io.stdout_vbuf == Vbuf::No
                || (st.io.stdout_vbuf == Vbuf::Line && bytes.contains(&b'\n'))
            {
                let _ = st.out.flush();
            }
        } else {
            // SAFETY: an open stream and a valid byte slice.
            let w = unsafe { libc::fwrite(bytes.as_ptr().cast(), 1, bytes.len(), fp) };
            if w != bytes.len() {
                status = false;
                err = errno();
            }
        }
    }
    if status {
        st.push_bool(true)?;
        Ok(1)
    } else {
        file_error(st, err, None)
    }
}

fn flush_file(st: &mut State, i: usize) -> LuaResult<u32> {
    let f = st.io.file(i);
    if f.kind == Kind::Stdout {
        return match st.out.flush() {
            Ok(()) => file_result(st, true, None),
            Err(e) => file_error(st, e.raw_os_error().unwrap_or(libc::EIO), None),
        };
    }
    // SAFETY: an open stream.
    let ok = unsafe { libc::fflush(f.fp) } == 0;
    file_result(st, ok, None)
}

// ---- lines ------------------------------------------------------------------------

/// Push the iterator over the file and formats in arguments 1.. (luajit's
/// io_file_lines).
fn push_lines(st: &mut State) -> LuaResult<u32> {
    let n = st.nargs();
    if n > MAX_LINES_ARGS {
        return Err(st.rt_error("too many results to unpack"));
    }
    let args: Vec<TValue> = (1..=n).map(|k| st.arg(k)).collect();
    st.push_native(lines_iter, n as u8)?;
    for (k, v) in args.into_iter().enumerate() {
        st.set_upvalue_of_top(k, v);
    }
    Ok(1)
}

fn lines_iter(st: &mut State) -> LuaResult<u32> {
    let file = st.native_upvalue(0);
    let i = match lookup(st, file) {
        Lookup::Open(i) => i,
        _ => return Err(st.rt_error("attempt to use a closed file")),
    };
    // SAFETY: the running native closure sits at base[-2].
    let nup = unsafe { (*(*st.base().sub(2)).gc_ptr().cast::<moonjet_gc::GcFunc>()).nupvalues };
    let base = st.base();
    st.set_top(base);
    st.check_stack(nup as usize)?;
    for k in 1..nup as usize {
        let v = st.native_upvalue(k);
        st.push(v)?;
    }
    let count = read_formats(st, i, 1)?;
    let f = st.io.file(i);
    let (fp, shared) = (f.fp, f.kind.is_std());
    // SAFETY: an open stream (reading never closes it).
    if unsafe { has_error(fp, shared) } {
        let top = st.top();
        // SAFETY: read_formats pushed nil, message, errno.
        let msg = unsafe { *top.sub(2) };
        let text = msg
            .as_str()
            // SAFETY: a live string.
            .map(|s| String::from_utf8_lossy(unsafe { GcStr::bytes(s) }).into_owned())
            .unwrap_or_default();
        return Err(st.rt_error(&text));
    }
    // luajit tests the first slot of the frame, which is the first result only when
    // there are no formats: with formats a file from io.lines is not closed at the end.
    // SAFETY: at least one value sits at base.
    if unsafe { (*st.base()).is_nil() } && st.io.file(i).close_at_eof {
        let _ = close_slot(st, i);
        return Ok(0);
    }
    Ok(count)
}

// ---- the io functions ---------------------------------------------------------------

pub fn open(st: &mut State) -> LuaResult<()> {
    let mt = st.new_table(0, 12)?;
    st.push(TValue::from_tab(mt))?;
    register(
        st,
        mt,
        "file",
        &[
            ("close", f_close),
            ("read", f_read),
            ("write", f_write),
            ("flush", f_flush),
            ("seek", f_seek),
            ("setvbuf", f_setvbuf),
            ("lines", f_lines),
            ("__gc", f_gc),
            ("__tostring", f_tostring),
        ],
    )?;
    st.raw_set_str(mt, b"__index", TValue::from_tab(mt))?;
    let reg = st.registry;
    st.raw_set_str(reg, b"FILE*", TValue::from_tab(mt))?;
    st.io.mt = mt;
    st.heap.add_root(TValue::from_tab(mt));

    let io = new_lib(
        st,
        "io",
        &[
            ("open", io_open),
            ("popen", io_popen),
            ("tmpfile", io_tmpfile),
            ("close", f_close),
            ("read", io_read),
            ("write", io_write),
            ("flush", io_flush),
            ("input", io_input),
            ("output", io_output),
            ("lines", io_lines),
            ("type", io_type),
        ],
    )?;
    st.push(TValue::from_tab(io))?;
    let (cin, cout, cerr) = c_std_streams();
    for (name, fp, kind) in [
        (&b"stdin"[..], cin, Kind::Stdin),
        (b"stdout", cout, Kind::Stdout),
        (b"stderr", cerr, Kind::Stderr),
    ] {
        push_file(st, fp, kind)?;
        let top = st.top();
        // SAFETY: the file just pushed.
        let f = unsafe { *top.sub(1) };
        st.raw_set_str(io, name, f)?;
        match kind {
            Kind::Stdin => st.io.input = Some(st.heap.add_root(f)),
            Kind::Stdout => st.io.output = Some(st.heap.add_root(f)),
            _ => {}
        }
        st.pop(1);
    }
    st.pop(2);
    Ok(())
}

/// C's standard streams.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn c_std_streams() -> (*mut libc::FILE, *mut libc::FILE, *mut libc::FILE) {
    extern "C" {
        static stdin: *mut libc::FILE;
        static stdout: *mut libc::FILE;
        static stderr: *mut libc::FILE;
    }
    // SAFETY: the C library initialises these before main and never changes them.
    unsafe { (stdin, stdout, stderr) }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn c_std_streams() -> (*mut libc::FILE, *mut libc::FILE, *mut libc::FILE) {
    // SAFETY: literal modes; the streams stay open for the life of the process.
    unsafe {
        let e = libc::fdopen(2, c"w".as_ptr());
        if !e.is_null() {
            libc::setvbuf(e, null_mut(), libc::_IONBF, 0);
        }
        (
            libc::fdopen(0, c"r".as_ptr()),
            libc::fdopen(1, c"w".as_ptr()),
            e,
        )
    }
}

fn io_open(st: &mut State) -> LuaResult<u32> {
    let name = check_cstr(st, 1)?;
    let mode = opt_str_arg(st, 2, "r")?;
    // SAFETY: NUL-terminated name and mode.
    let fp = unsafe { libc::fopen(name.as_ptr(), mode.as_ptr()) };
    if fp.is_null() {
        return file_result(st, false, Some(name.as_bytes()));
    }
    push_file(st, fp, Kind::File)?;
    Ok(1)
}

fn io_popen(st: &mut State) -> LuaResult<u32> {
    let cmd = check_cstr(st, 1)?;
    let mode = opt_str_arg(st, 2, "r")?;
    // The child shares our stdout: what was written before must come out first.
    let _ = st.out.flush();
    // SAFETY: fflush(NULL) flushes every stream; the strings are NUL-terminated.
    let fp = unsafe {
        libc::fflush(null_mut());
        libc::popen(cmd.as_ptr(), mode.as_ptr())
    };
    if fp.is_null() {
        return file_result(st, false, Some(cmd.as_bytes()));
    }
    push_file(st, fp, Kind::Pipe)?;
    Ok(1)
}

fn io_tmpfile(st: &mut State) -> LuaResult<u32> {
    // SAFETY: no preconditions.
    let fp = unsafe { libc::tmpfile() };
    if fp.is_null() {
        return file_result(st, false, None);
    }
    push_file(st, fp, Kind::File)?;
    Ok(1)
}

/// `io.close` and `file:close`: without arguments, the default output.
fn f_close(st: &mut State) -> LuaResult<u32> {
    if st.nargs() == 0 {
        let f = default_file(st, true);
        st.push(f)?;
    }
    let i = check_file(st, 1)?;
    close_file(st, i)
}

fn f_read(st: &mut State) -> LuaResult<u32> {
    let i = check_file(st, 1)?;
    read_formats(st, i, 2)
}

fn io_read(st: &mut State) -> LuaResult<u32> {
    let i = std_file(st, false)?;
    read_formats(st, i, 1)
}

fn f_write(st: &mut State) -> LuaResult<u32> {
    let i = check_file(st, 1)?;
    write_args(st, i, 2)
}

fn io_write(st: &mut State) -> LuaResult<u32> {
    let i = std_file(st, true)?;
    write_args(st, i, 1)
}

fn f_flush(st: &mut State) -> LuaResult<u32> {
    let i = check_file(st, 1)?;
    flush_file(st, i)
}

fn io_flush(st: &mut State) -> LuaResult<u32> {
    let i = std_file(st, true)?;
    flush_file(st, i)
}

/// luajit's lj_lib_checkopt: the index of argument `n` in `opts`; `def` when absent
/// (None: required).
fn check_opt(st: &mut State, n: usize, def: Option<usize>, opts: &[&str]) -> LuaResult<usize> {
    let s = match def {
        Some(d) => match st.opt_str(n)? {
            Some(s) => s,
            None => return Ok(d),
        },
        None => st.check_str(n)?,
    };
    // SAFETY: a live string argument.
    let b = unsafe { GcStr::bytes(s) };
    if let Some(k) = opts.iter().position(|o| o.as_bytes() == b) {
        return Ok(k);
    }
    let shown = String::from_utf8_lossy(c_string(b).as_bytes()).into_owned();
    Err(st.arg_error(n, &format!("invalid option '{shown}'")))
}

fn f_seek(st: &mut State) -> LuaResult<u32> {
    let i = check_file(st, 1)?;
    let whence = match check_opt(st, 2, Some(1), &["set", "cur", "end"])? {
        0 => libc::SEEK_SET,
        1 => libc::SEEK_CUR,
        _ => libc::SEEK_END,
    };
    let v = st.arg(3);
    let ofs = if v.is_number() {
        c_i64(v.num())
    } else if v.is_nil() {
        0
    } else {
        return Err(st.type_error(3, "number"));
    };
    let f = st.io.file(i);
    let fp = f.fp;
    if f.kind == Kind::Stdout {
        // Our writes bypass C's stdout: get them to the descriptor first.
        let _ = st.out.flush();
    }
    // SAFETY: an open stream.
    if unsafe { libc::fseeko(fp, ofs as libc::off_t, whence) } != 0 {
        return file_result(st, false, None);
    }
    // SAFETY: as above.
    let pos = unsafe { libc::ftello(fp) };
    st.push_num(pos as f64)?;
    Ok(1)
}

fn f_setvbuf(st: &mut State) -> LuaResult<u32> {
    let i = check_file(st, 1)?;
    let opt = check_opt(st, 2, None, &["full", "line", "no"])?;
    let size = st.opt_int(3, LINE_BUF as i32)? as isize as usize;
    let (mode, vb) = match opt {
        0 => (libc::_IOFBF, Vbuf::Full),
        1 => (libc::_IOLBF, Vbuf::Line),
        _ => (libc::_IONBF, Vbuf::No),
    };
    let f = st.io.file(i);
    let fp = f.fp;
    if f.kind == Kind::Stdout {
        st.io.stdout_vbuf = vb;
        if vb != Vbuf::Full {
            let _ = st.out.flush();
        }
    }
    // SAFETY: an open stream; a null buffer lets the C library allocate its own.
    let ok = unsafe { libc::setvbuf(fp, null_mut(), mode, size) } == 0;
    file_result(st, ok, None)
}

fn f_lines(st: &mut State) -> LuaResult<u32> {
    check_file(st, 1)?;
    push_lines(st)
}

fn io_lines(st: &mut State) -> LuaResult<u32> {
    if st.nargs() == 0 {
        st.push_nil()?;
    }
    if st.arg(1).is_nil() {
        let f = default_file(st, false);
        st.set_arg(1, f);
    } else {
        let i = open_arg(st, "r")?;
        if let Some(f) = st.io.slots[i].file.as_mut() {
            f.close_at_eof = true;
        }
        let top = st.top();
        // SAFETY: the file just pushed.
        let f = unsafe { *top.sub(1) };
        st.pop(1);
        st.set_arg(1, f);
    }
    push_lines(st)
}

/// Open the file named by argument 1 and push it; failing is an argument error
/// (luajit's io_file_open). Returns the slot.
fn open_arg(st: &mut State, mode: &str) -> LuaResult<usize> {
    let name = check_cstr(st, 1)?;
    let cmode = c_string(mode.as_bytes());
    // SAFETY: NUL-terminated name and mode.
    let fp = unsafe { libc::fopen(name.as_ptr(), cmode.as_ptr()) };
    if fp.is_null() {
        let msg = format!(
            "{}: {}",
            String::from_utf8_lossy(name.as_bytes()),
            String::from_utf8_lossy(&strerror(errno()))
        );
        return Err(st.arg_error(1, &msg));
    }
    push_file(st, fp, Kind::File)
}

/// `io.input` / `io.output`: set the default from a file or a name, return it.
fn std_getset(st: &mut State, output: bool, mode: &str) -> LuaResult<u32> {
    let v = st.arg(1);
    if !v.is_nil() {
        let f = if v.is_udata() {
            check_file(st, 1)?;
            v
        } else {
            open_arg(st, mode)?;
            let top = st.top();
            // SAFETY: the file just pushed.
            unsafe { *top.sub(1) }
        };
        let id = if output { st.io.output } else { st.io.input };
        if let Some(id) = id {
            st.heap.set_root(id, f);
        }
        st.push(f)?;
        return Ok(1);
    }
    let f = default_file(st, output);
    st.push(f)?;
    Ok(1)
}

fn io_input(st: &mut State) -> LuaResult<u32> {
    std_getset(st, false, "r")
}

fn io_output(st: &mut State) -> LuaResult<u32> {
    std_getset(st, true, "w")
}

fn io_type(st: &mut State) -> LuaResult<u32> {
    let v = st.check_any(1)?;
    match lookup(st, v) {
        Lookup::NotFile => st.push_nil()?,
        Lookup::Closed => st.push_bytes(b"closed file")?,
        Lookup::Open(_) => st.push_bytes(b"file")?,
    }
    Ok(1)
}

fn f_gc(st: &mut State) -> LuaResult<u32> {
    match lookup(st, st.arg(1)) {
        Lookup::NotFile => Err(st.type_error(1, "FILE*")),
        Lookup::Open(i) if !st.io.file(i).kind.is_std() => {
            let _ = close_slot(st, i);
            Ok(0)
        }
        _ => Ok(0),
    }
}

fn f_tostring(st: &mut State) -> LuaResult<u32> {
    match lookup(st, st.arg(1)) {
        Lookup::NotFile => Err(st.type_error(1, "FILE*")),
        Lookup::Closed => {
            st.push_bytes(b"file (closed)")?;
            Ok(1)
        }
        Lookup::Open(i) => {
            let s = format!("file ({:p})", st.io.file(i).fp);
            st.push_bytes(s.as_bytes())?;
            Ok(1)
        }
    }
}
