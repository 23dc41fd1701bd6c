//! Exports: window lifetime, navigation and origin (the header's "Windows").

use crate::abi::pm_window;
use crate::ffi::{answer, c_str, ffi_fn, handle_arg};
use crate::handles::Handle;
use crate::result::pm_result;
use crate::window;
use std::ffi::c_char;
use std::ptr;

ffi_fn! {
    /// Creates a top-level window whose document is at `url` (an absolute URL); its origin is that
    /// URL's origin, computed once.
    ///
    /// Returns a new handle, owned by the caller and released with `pm_window_free`, or NULL on
    /// error: `url` NULL (`PM_ERR_NULL_ARGUMENT`), not UTF-8 (`PM_ERR_UTF8`), or not an absolute URL
    /// (`PM_ERR_INVALID_URL`).
    ///
    /// Pointers: `url` is NULL or a NUL-terminated string.
    unsafe fn pm_window_new(url: *const c_char) -> *mut pm_window {
        // SAFETY: caller contract.
        let url = unsafe { c_str(url, "url") }?;
        window::create(url).map(Handle::to_ptr)
    } ?= ptr::null_mut()
}

ffi_fn! {
    /// Creates an iframe window inside `parent`'s current document. A child created at
    /// `about:blank` inherits the parent's origin. The child is freed with its parent (recursively)
    /// and when the parent navigates; it may also be freed on its own with `pm_window_free`.
    ///
    /// Returns the child's handle or NULL on error: a NULL argument (`PM_ERR_NULL_ARGUMENT`), a bad
    /// parent (`PM_ERR_INVALID_HANDLE`), `url` not UTF-8 (`PM_ERR_UTF8`) or not absolute
    /// (`PM_ERR_INVALID_URL`).
    ///
    /// Pointers: `url` is NULL or a NUL-terminated string.
    unsafe fn pm_window_new_child(
        parent: *mut pm_window,
        url: *const c_char,
    ) -> *mut pm_window {
        let parent = handle_arg(parent, "parent")?;
        // SAFETY: caller contract.
        let url = unsafe { c_str(url, "url") }?;
        window::create_child(parent, url).map(Handle::to_ptr)
    } ?= ptr::null_mut()
}

ffi_fn! {
    /// Frees a window, its child frames (recursively), and their listeners: each listener added
    /// with a destroy function has it called once — before this returns, or, for a listener whose
    /// call is running on some thread, when that call returns. After this returns the handle (and its
    /// children's) is rejected with `PM_ERR_INVALID_HANDLE`, and no listener of these windows starts
    /// a new call.
    ///
    /// NULL is a no-op (`PM_OK`). A freed or unknown handle is `PM_ERR_INVALID_HANDLE`. May be called
    /// from a listener, including one of the window being freed.
    fn pm_window_free(window: *mut pm_window) -> pm_result {
        if window.is_null() {
            return Ok(pm_result::PM_OK);
        }
        window::free(handle_arg(window, "window")?)?;
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}

ffi_fn! {
    /// Gives the window a new document at `url`: a new origin (`about:blank` gets a new opaque
    /// origin). The old document's listeners (destroy called as for `pm_window_free`) and child
    /// frames (freed) are gone. The handle stays valid.
    ///
    /// Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT`, `PM_ERR_INVALID_HANDLE`, `PM_ERR_UTF8` or
    /// `PM_ERR_INVALID_URL` (then nothing changed).
    ///
    /// Pointers: `url` is NULL or a NUL-terminated string.
    unsafe fn pm_window_navigate(
        window: *mut pm_window,
        url: *const c_char,
    ) -> pm_result {
        let window = handle_arg(window, "window")?;
        // SAFETY: caller contract.
        let url = unsafe { c_str(url, "url") }?;
        window::navigate(window, url)?;
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}

ffi_fn! {
    /// Writes the ASCII serialization of the window's current origin ("http://127.0.0.1", or "null"
    /// when opaque) into `buf`, like `snprintf`: at most `cap - 1` bytes plus a NUL (nothing when
    /// `cap` is 0 or `buf` is NULL).
    ///
    /// Returns the serialization's full length (so a return value >= `cap` means it was truncated),
    /// or 0 for a NULL or bad handle (with `pm_last_error()` set).
    ///
    /// Pointers: `buf` is NULL or points to `cap` writable bytes.
    unsafe fn pm_window_origin(
        window: *const pm_window,
        buf: *mut c_char,
        cap: usize,
    ) -> usize {
        let origin = window::origin(handle_arg(window, "window")?)?;
        let text = origin.serialization().as_bytes();
        if !buf.is_null() && cap > 0 {
            let n = text.len().min(cap - 1);
            // SAFETY: `buf` has `cap` writable bytes by contract and n + 1 <= cap; the source is a
            // distinct Rust allocation.
            unsafe {
                ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
                *buf.add(n) = 0;
            }
        }
        Ok(text.len())
    } ?= 0
}

ffi_fn! {
    /// The window's parent, or NULL for a top-level window. NULL with `PM_ERR_INVALID_HANDLE` (or
    /// `PM_ERR_NULL_ARGUMENT`) in `pm_last_error_code()` for a bad handle; on success
    /// `pm_last_error_code()` is `PM_OK`, so NULL with `PM_OK` means top-level.
    fn pm_window_parent(window: *const pm_window) -> *mut pm_window {
        let parent = window::parent(handle_arg(window, "window")?)?;
        answer(Ok(Handle::ptr_or_null(parent)))
    } ?= ptr::null_mut()
}
