//! Ctrl-C while Lua code runs: the first SIGINT asks the state to stop with the error
//! "interrupted!" and restores the default action, so a second Ctrl-C (for code that
//! never reaches a check, such as a long-running native) ends the process, as luajit's
//! does.

use moonjet_runtime::vm::hook::mask::INTERRUPT;
use moonjet_runtime::vm::State;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

/// The interrupt word of the state being run (null while no Lua code runs).
static TARGET: AtomicPtr<AtomicU8> = AtomicPtr::new(std::ptr::null_mut());

extern "C" fn on_sigint(_: libc::c_int) {
    // SAFETY: only async-signal-safe work: resetting the disposition and an atomic OR on
    // a word that outlives the registration (see `with_interrupts`).
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        let p = TARGET.load(Ordering::SeqCst);
        if !p.is_null() {
            (*p).fetch_or(INTERRUPT, Ordering::SeqCst);
        }
    }
}

/// Run `f` on `st` with Ctrl-C interrupting the Lua code it runs.
pub fn with_interrupts<R>(st: &mut State, f: impl FnOnce(&mut State) -> R) -> R {
    st.clear_interrupt();
    let word = st.hook.interrupt_word() as *const AtomicU8 as *mut AtomicU8;
    TARGET.store(word, Ordering::SeqCst);
    // SAFETY: installing a handler that only does async-signal-safe work.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
    let r = f(st);
    // SAFETY: restoring the default disposition; after this the handler cannot run, so
    // the state may go away.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
    TARGET.store(std::ptr::null_mut(), Ordering::SeqCst);
    st.clear_interrupt();
    r
}
