//! Exports: custom standard schemes (an embedder extension).

use crate::ffi::{c_str, ffi_fn};
use crate::result::pm_result;
use crate::scheme;
use std::ffi::c_char;

ffi_fn! {
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
    unsafe fn pm_register_standard_scheme(scheme: *const c_char) -> pm_result {
        // SAFETY: caller contract.
        scheme::register(unsafe { c_str(scheme, "scheme") }?)?;
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}
