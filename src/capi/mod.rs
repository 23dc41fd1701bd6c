//! The exported C functions: argument checking, handle conversion, error recording and the panic
//! boundary, and nothing else. The logic they call lives in safe modules. Every export is written
//! with `ffi_fn!` (src/ffi.rs; tests/layers.rs checks), one file per C object.
//!
//! Conventions for every function: strings are NUL-terminated UTF-8; any function may be called
//! from any thread at any time, including from inside a listener (no library lock is held while
//! a callback runs); a freed, closed or never-issued handle is `PM_ERR_INVALID_HANDLE`; NULL where
//! a handle or string is required is `PM_ERR_NULL_ARGUMENT` (NULL / 0 from constructors); on every
//! failure `pm_last_error()` describes it on the calling thread.

// The exports' docs are C docs (they go into the header): pointer rules are stated in a
// "Pointers:" paragraph instead of a Rust "# Safety" heading.
#![allow(clippy::missing_safety_doc)]

// One file per C object, declared in the header's (and API.md's) order: cbindgen writes the
// functions in source order. (Each declaration is its own group so rustfmt keeps the order.)
pub mod error;
// Windows.
pub mod window;
// Listeners and posting.
pub mod post;
// Delivery modes.
pub mod delivery;
// Channel messaging: MessageChannel and its ports.
pub mod port;
// Channel messaging: BroadcastChannel.
pub mod broadcast;
// Embedder extensions: allow-list listeners.
pub mod allow_list;
// Embedder extensions: the drop handler.
pub mod diagnostics;
// Embedder extensions: custom standard schemes.
pub mod scheme;
// Remote windows: proxies, records, the broadcast forwarder.
pub mod remote;

use crate::abi::pm_port;
use crate::error::Error;
use crate::ffi::{array_arg, handle_arg};
use crate::handles::Handle;

/// `data` as a slice (for the post fast paths of windows and ports); length 0 (NULL allowed) is the empty slice.
///
/// # Safety
/// `data` is NULL with `len` 0, or points to `len` readable bytes; `len <= isize::MAX`.
#[inline(always)]
unsafe fn plain_slice<'a>(data: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        &[]
    } else {
        // SAFETY: caller contract.
        unsafe { std::slice::from_raw_parts(data, len) }
    }
}

/// A transfer list: NULL is allowed with length 0; a NULL entry is `PM_ERR_NULL_ARGUMENT`.
/// Whether each entry is a live port is decided when the ports are detached.
///
/// Pointers: `transfer` is NULL or points to `len` readable pointers.
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
