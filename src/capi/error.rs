//! Exports: this thread's last error and the library version (the header's "Results").

use crate::ffi::ffi_fn;
use crate::result::{last_error_code, last_error_ptr, pm_result};
use std::ffi::c_char;

ffi_fn! {
    /// This thread's last failure message, or "" if no call on this thread has failed.
    ///
    /// The string is owned by the library and stays valid until the next failing call on this thread.
    /// Never returns NULL. (A post that returns `PM_DROPPED` also records why.) Messages longer than
    /// 511 bytes are cut after a whole UTF-8 character and end in "...". It works on a thread that
    /// is exiting too (from TLS or pthread-key destructors).
    no_boundary fn pm_last_error() -> *const c_char {
        last_error_ptr()
    }
}

ffi_fn! {
    /// The result code of this thread's last failure (`PM_OK` if none): what a function that
    /// returns NULL or 0 on failure would have returned as a `pm_result`. Like `pm_last_error()`,
    /// only a failure (or a `PM_DROPPED` post) changes it, with one exception: the functions whose
    /// successful answer can be NULL or 0 (`pm_window_parent`, `pm_window_pending`,
    /// `pm_window_run_pending`) set it to `PM_OK` when they succeed, so NULL or 0 with `PM_OK` is an
    /// answer and with an error code a failure. (Other successful calls leave it unchanged: resetting
    /// it would cost every post.)
    no_boundary fn pm_last_error_code() -> pm_result {
        last_error_code()
    }
}

ffi_fn! {
    /// The library version, e.g. "0.1.0" (a static string; never NULL).
    no_boundary fn pm_version() -> *const c_char {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    }
}
