//! C libraries: finding and loading shared libraries for `ffi.load`, and resolving
//! symbols for `ffi.C` (the process) and loaded libraries.
//!
//! Names follow luajit's rules: a name with a `/` is a path used as given; otherwise a
//! name without a `.` gets `.so` appended and one not starting with `lib` gets it
//! prefixed (`"m"` is `libm.so`). Unversioned `.so` links exist only where development
//! packages are installed, so when `libm.so` cannot be loaded the library directories
//! are searched for a versioned file (`libm.so.6`), as the dynamic linker's cache
//! would find it.

use std::ffi::{c_void, CString};

/// Loads library `name`; `global` makes its symbols visible to `ffi.C`. The library is
/// never unloaded. The error is the dynamic loader's message.
pub fn open(name: &str, global: bool) -> Result<*mut c_void, String> {
    let file = file_name(name);
    let first_error = match open_file(&file, global) {
        Ok(h) => return Ok(h),
        Err(e) => e,
    };
    if !file.contains('/') {
        if let Some(path) = versioned(&file) {
            if let Ok(h) = open_file(&path, global) {
                return Ok(h);
            }
        }
    }
    Err(first_error)
}

/// The file name luajit tries for `name`.
fn file_name(name: &str) -> String {
    if name.contains('/') {
        return name.to_string();
    }
    let mut file = name.to_string();
    if !file.contains('.') {
        file.push_str(".so");
    }
    if !file.starts_with("lib") {
        file.insert_str(0, "lib");
    }
    file
}

fn open_file(file: &str, global: bool) -> Result<*mut c_void, String> {
    use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_LAZY, RTLD_LOCAL};
    let flags = RTLD_LAZY | if global { RTLD_GLOBAL } else { RTLD_LOCAL };
    // SAFETY: loading a library runs its initialisers; that is what `ffi.load` asks for.
    match unsafe { Library::open(Some(file), flags) } {
        Ok(lib) => Ok(lib.into_raw()),
        // libloading's text for this error is the loader's own.
        Err(e) => Err(e.to_string()),
    }
}

/// The path of the versioned library `<file>.N...` with the shortest name in the usual
/// library directories (`libm.so` -> `/lib/x86_64-linux-gnu/libm.so.6`).
fn versioned(file: &str) -> Option<String> {
    let triple = if cfg!(target_arch = "aarch64") {
        "aarch64-linux-gnu"
    } else {
        "x86_64-linux-gnu"
    };
    let mut dirs: Vec<String> = std::env::var("LD_LIBRARY_PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect();
    for d in [
        format!("/lib/{triple}"),
        format!("/usr/lib/{triple}"),
        "/lib64".into(),
        "/usr/lib64".into(),
        "/lib".into(),
        "/usr/lib".into(),
        "/usr/local/lib".into(),
    ] {
        dirs.push(d);
    }
    let prefix = format!("{file}.");
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let best = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| {
                n.strip_prefix(&prefix).is_some_and(|v| {
                    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                })
            })
            .min_by_key(|n| (n.len(), n.clone()));
        if let Some(n) = best {
            return Some(format!("{dir}/{n}"));
        }
    }
    None
}

/// The address of `symbol` in library `handle` (null: the whole process, as `ffi.C`
/// sees it).
pub fn resolve(handle: *mut c_void, symbol: &str) -> Result<usize, String> {
    let undefined = || format!("undefined symbol: {symbol}");
    let c = CString::new(symbol).map_err(|_| undefined())?;
    let handle = if handle.is_null() {
        libc::RTLD_DEFAULT
    } else {
        handle
    };
    // SAFETY: dlsym with a handle from dlopen (or the default one) and a NUL-terminated
    // name only reads.
    let p = unsafe { libc::dlsym(handle, c.as_ptr()) };
    if p.is_null() {
        return Err(undefined());
    }
    Ok(p as usize)
}
