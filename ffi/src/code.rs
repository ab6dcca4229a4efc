//! Machine code generated at run time (JIT traces, C call stubs, callback entries):
//! executable memory, and the Cranelift settings every such piece of code is compiled
//! with.
//!
//! Each piece of code gets its own anonymous mapping, written while it is read+write,
//! then switched to read+exec before anything can call into it (W^X: never writable and
//! executable at once). Dropping it unmaps it.

use std::io;

use cranelift_codegen::settings::{self, Configurable};
use memmap2::{Mmap, MmapMut};

/// The Cranelift settings for moonjet's generated code, with `extra` settings applied
/// over them. The error names the setting that was refused.
pub fn cranelift_flags(extra: &[(&str, &str)]) -> Result<settings::Flags, String> {
    let mut flags = settings::builder();
    let set = |flags: &mut settings::Builder, k: &str, v: &str| {
        flags.set(k, v).map_err(|e| format!("{k}={v}: {e}"))
    };
    set(&mut flags, "opt_level", "speed")?;
    // The verifier roughly doubles compile time; the JIT's own IR checks run always.
    // MOONJET_JIT_VERIFY=1 turns it on in release builds (the tests do).
    let verify = if cfg!(debug_assertions)
        || std::env::var_os("MOONJET_JIT_VERIFY").is_some_and(|v| v == "1")
    {
        "true"
    } else {
        "false"
    };
    set(&mut flags, "enable_verifier", verify)?;
    // Absolute addresses (libcalls) are patched in when the code is placed.
    set(&mut flags, "is_pic", "false")?;
    // Cranelift's tail calls (linked exits) need frame pointers; profilers and debuggers
    // walk C calls through stubs with them too.
    set(&mut flags, "preserve_frame_pointers", "true")?;
    for (k, v) in extra {
        set(&mut flags, k, v)?;
    }
    Ok(settings::Flags::new(flags))
}

/// Machine code in a read+exec mapping of our own.
pub struct ExecMemory {
    map: Mmap,
    len: usize,
}

impl ExecMemory {
    /// Copies `code` into a fresh mapping, lets `patch` fix it up (relocations) while it
    /// is still writable, then makes it executable. `patch` gets the code's final address.
    pub fn new<E: From<io::Error>>(
        code: &[u8],
        patch: impl FnOnce(&mut [u8], usize) -> Result<(), E>,
    ) -> Result<Self, E> {
        // An empty mapping is an error for mmap; code is never empty anyway.
        let mut map = MmapMut::map_anon(code.len().max(1))?;
        map[..code.len()].copy_from_slice(code);
        let addr = map.as_ptr() as usize;
        patch(&mut map[..code.len()], addr)?;
        let map = map.make_exec()?;
        flush_icache(map.as_ptr(), code.len());
        Ok(ExecMemory {
            map,
            len: code.len(),
        })
    }

    /// The start of the code (mappings are page-aligned, so any function alignment the
    /// ISA asks for holds).
    pub fn as_ptr(&self) -> *const u8 {
        self.map.as_ptr()
    }

    /// Bytes of machine code (the mapping itself is rounded up to whole pages).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// x86 keeps instruction and data caches coherent, so there is nothing to do.
#[cfg(not(target_arch = "aarch64"))]
fn flush_icache(_start: *const u8, _len: usize) {}

/// On aarch64 freshly written code must be cleaned from the data cache and invalidated
/// in the instruction cache before it runs (the usual `__clear_cache` sequence).
#[cfg(target_arch = "aarch64")]
fn flush_icache(start: *const u8, len: usize) {
    use std::arch::asm;
    let ctr: u64;
    // SAFETY: reading CTR_EL0 is allowed at EL0 on Linux and has no side effects.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr) };
    let dline = 4usize << ((ctr >> 16) & 0xF);
    let iline = 4usize << (ctr & 0xF);
    let (begin, end) = (start as usize, start as usize + len);
    // SAFETY: cache maintenance by virtual address on memory we own and have mapped;
    // these instructions change no architectural state besides the caches.
    unsafe {
        let mut a = begin & !(dline - 1);
        while a < end {
            asm!("dc cvau, {}", in(reg) a);
            a += dline;
        }
        asm!("dsb ish");
        let mut a = begin & !(iline - 1);
        while a < end {
            asm!("ic ivau, {}", in(reg) a);
            a += iline;
        }
        asm!("dsb ish", "isb");
    }
}
