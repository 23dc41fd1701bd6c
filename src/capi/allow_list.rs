//! Exports: listeners restricted to an allow-list of source origins (first of the header's
//! "Embedder extensions").

use crate::abi::{pm_destroy_fn, pm_listener_fn, pm_window};
use crate::error::{Error, ErrorKind};
use crate::ffi::{array_arg, c_str, ffi_fn, handle_arg};
use crate::listener::Listener;
use crate::origin::{Origin, TargetOrigin};
use crate::window;
use std::ffi::{c_char, c_void};

/// Parses an allow-list entry exactly like a targetOrigin; only URLs with tuple origins qualify.
fn allow_list_entry(entry: &str) -> Result<TargetOrigin, Error> {
    match TargetOrigin::parse(entry) {
        Ok(TargetOrigin::Exact(Origin::Tuple(t))) => Ok(TargetOrigin::Exact(Origin::Tuple(t))),
        Ok(TargetOrigin::Exact(Origin::Opaque(_))) => Err(Error::invalid_argument(format!(
            "allow-list entry {entry:?} has an opaque origin, which no message could match"
        ))),
        Ok(_) => Err(Error::new(
            ErrorKind::Syntax,
            format!(
                "allow-list entry {entry:?} must be an absolute URL or origin, not \"*\" or \"/\""
            ),
        )),
        Err(e) => Err(e),
    }
}

ffi_fn! {
    /// Adds a listener that only ever sees window messages whose source origin is in `origins`; the
    /// library checks before the callback runs, with the same parsing and comparison as targetOrigin.
    /// Each entry is an absolute URL or serialized origin ("https://app.example"); "*", "/", "null"
    /// and unparsable entries are `PM_ERR_SYNTAX`; an entry with an opaque origin (e.g. "data:,x") is
    /// `PM_ERR_INVALID_ARGUMENT`; an empty list is `PM_ERR_INVALID_ARGUMENT`; a NULL entry is
    /// `PM_ERR_NULL_ARGUMENT`. Messages from other origins skip this listener (and are reported to
    /// the drop handler as `PM_DROP_FILTERED`). Otherwise as `pm_add_listener_full`; when adding
    /// fails, `destroy` is not called.
    ///
    /// Returns the listener id (> 0), or 0 on error.
    ///
    /// Pointers: `origins` is NULL or points to `origins_len` pointers, each NULL or a NUL-terminated string.
    unsafe fn pm_add_listener_for_origins(
        window: *mut pm_window,
        origins: *const *const c_char,
        origins_len: usize,
        callback: pm_listener_fn,
        user_data: *mut c_void,
        destroy: pm_destroy_fn,
    ) -> u64 {
        let window = handle_arg(window, "window")?;
        let callback = callback.ok_or_else(|| Error::null("callback"))?;
        // SAFETY: caller contract.
        let entries = unsafe { array_arg(origins, origins_len, "origins") }?;
        if entries.is_empty() {
            return Err(Error::invalid_argument("the origin allow-list is empty"));
        }
        let allowed = entries
            .iter()
            .map(|&entry| {
                // SAFETY: caller contract: each entry is NULL or NUL-terminated.
                allow_list_entry(unsafe { c_str(entry, "origins entry") }?)
            })
            .collect::<Result<Box<[_]>, Error>>()?;
        let listener = Listener::with_allow_list(callback, user_data, destroy, Some(allowed));
        window::add_listener(window, listener)
    } ?= 0
}
