//! The exported C functions: argument checking, handle conversion, error recording and the panic
//! boundary, and nothing else. The logic they call lives in safe modules.
//!
//! Conventions for every function: strings are NUL-terminated UTF-8; any function may be called
//! from any thread at any time, including from inside a listener (no library lock is held while
//! a callback runs); a freed, closed or never-issued handle is `PM_ERR_INVALID_HANDLE`; NULL where
//! a handle or string is required is `PM_ERR_NULL_ARGUMENT` (NULL / 0 from constructors); on every
//! failure `pm_last_error()` describes it on the calling thread.

// In this order in the header: windows, posting, delivery modes, channels, extensions, remote.
pub mod channel;
pub mod delivery;
pub mod extensions;
pub mod post;
pub mod remote;
pub mod window;

use crate::error::Error;
use crate::ffi::{array_arg, handle_arg};
use crate::handles::Handle;
use crate::types::{pm_port, pm_window};

fn window_ptr(handle: Handle) -> *mut pm_window {
    handle.to_raw() as *mut pm_window
}

fn port_ptr(handle: Handle) -> *mut pm_port {
    handle.to_raw() as *mut pm_port
}

/// A transfer list: NULL is allowed with length 0; a NULL entry is `PM_ERR_NULL_ARGUMENT`.
/// Whether each entry is a live port is decided when the ports are detached.
///
/// # Safety
/// `transfer` is NULL or points to `len` readable pointers.
unsafe fn transfer_arg(transfer: *const *mut pm_port, len: usize) -> Result<Vec<Handle>, Error> {
    if len == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: forwarded caller contract.
    let entries = unsafe { array_arg(transfer, len, "transfer") }?;
    entries
        .iter()
        .map(|&p| handle_arg(p, "transfer list entry"))
        .collect()
}
