//! Exports: embedder extensions beyond the standard (allow-list listeners, drop diagnostics,
//! custom standard schemes).

use crate::abi::{pm_destroy_fn, pm_drop_fn, pm_listener_fn, pm_window};
use crate::diagnostics::{self};
use crate::error::{Error, ErrorKind};
use crate::ffi::{array_arg, boundary, c_str, handle_arg};
use crate::listener::Listener;
use crate::origin::{Origin, TargetOrigin};
use crate::result::pm_result;
use crate::scheme;
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
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pm_add_listener_for_origins(
    window: *mut pm_window,
    origins: *const *const c_char,
    origins_len: usize,
    callback: pm_listener_fn,
    user_data: *mut c_void,
    destroy: pm_destroy_fn,
) -> u64 {
    boundary(|| {
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
    })
}

/// Sets the process-wide drop handler (NULL removes it; a call already running on another thread
/// may still finish). It is told about every message the library decides not to deliver, with the
/// reason, on the deciding thread, with no library lock held; it may call the library, and a
/// drop caused inside it is not reported again. With no handler set, drops cost nothing extra.
/// Always returns `PM_OK`.
#[unsafe(no_mangle)]
pub extern "C" fn pm_set_drop_handler(handler: pm_drop_fn, user_data: *mut c_void) -> pm_result {
    boundary(|| {
        diagnostics::set_handler(handler, user_data);
        Ok(pm_result::PM_OK)
    })
}

/// Registers `scheme` (case-insensitive, e.g. "app") as a standard scheme: from now on its URLs
/// get tuple origins parsed like http's (host lowercased and IDNA-mapped, port kept, no default
/// port: "app://UI:8080/x" has origin "app://ui:8080"). Windows created earlier keep their
/// origin; windows created or navigated, and targetOrigins and allow-lists parsed, afterwards use
/// it. Thread-safe.
///
/// Returns `PM_OK` (also for a scheme that already has tuple origins, e.g. "https"),
/// `PM_ERR_NULL_ARGUMENT`, `PM_ERR_UTF8`, or `PM_ERR_INVALID_ARGUMENT` for an invalid scheme
/// name or one of file, blob, data, about, javascript.
///
/// Pointers: `scheme` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pm_register_standard_scheme(scheme: *const c_char) -> pm_result {
    boundary(|| {
        // SAFETY: caller contract.
        scheme::register(unsafe { c_str(scheme, "scheme") }?)?;
        Ok(pm_result::PM_OK)
    })
}
