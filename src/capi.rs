//! The exported C functions: argument checking, handle conversion, error recording and the panic
//! boundary, and nothing else. The logic they call lives in safe modules.
//!
//! Conventions for every function: strings are NUL-terminated UTF-8; any function may be called
//! from any thread at any time, including from inside a listener (no library lock is held while
//! a callback runs); a freed, closed or never-issued handle is `PM_ERR_INVALID_HANDLE`; NULL where
//! a handle or string is required is `PM_ERR_NULL_ARGUMENT` (NULL / 0 from constructors); on every
//! failure `pm_last_error()` describes it on the calling thread.

use crate::dispatch::{self, Delivery};
use crate::error::{Error, last_error_ptr, pm_result};
use crate::ffi::{array_arg, boundary, c_bytes, c_str, data_arg, handle_arg};
use crate::handles::Handle;
use crate::listener::Listener;
use crate::types::{pm_destroy_fn, pm_listener_fn, pm_port, pm_window};
use crate::window;
use std::ffi::{c_char, c_void};
use std::ptr;

fn window_ptr(handle: Handle) -> *mut pm_window {
    handle.to_raw() as *mut pm_window
}

/// This thread's last failure message, or "" if no call on this thread has failed.
///
/// The string is owned by the library and stays valid until the next failing call on this thread.
/// Never returns NULL. (A post that returns `PM_DROPPED` also records why.)
#[unsafe(no_mangle)]
pub extern "C" fn pm_last_error() -> *const c_char {
    last_error_ptr()
}

/// The library version, e.g. "0.1.0" (a static string; never NULL).
#[unsafe(no_mangle)]
pub extern "C" fn pm_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Creates a top-level window whose document is at `url` (an absolute URL); its origin is that
/// URL's origin, computed once.
///
/// Returns a new handle, owned by the caller and released with `pm_window_free`, or NULL on
/// error: `url` NULL (`PM_ERR_NULL_ARGUMENT`), not UTF-8 (`PM_ERR_UTF8`), or not an absolute URL
/// (`PM_ERR_INVALID_URL`).
///
/// # Safety
/// `url` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pm_window_new(url: *const c_char) -> *mut pm_window {
    boundary(|| {
        // SAFETY: caller contract.
        let url = unsafe { c_str(url, "url") }?;
        window::create(url).map(window_ptr)
    })
}

/// Creates an iframe window inside `parent`'s current document. A child created at
/// `about:blank` inherits the parent's origin. The child is freed with its parent (recursively)
/// and when the parent navigates; it may also be freed on its own with `pm_window_free`.
///
/// Returns the child's handle or NULL on error: a NULL argument (`PM_ERR_NULL_ARGUMENT`), a bad
/// parent (`PM_ERR_INVALID_HANDLE`), `url` not UTF-8 (`PM_ERR_UTF8`) or not absolute
/// (`PM_ERR_INVALID_URL`).
///
/// # Safety
/// `url` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pm_window_new_child(
    parent: *mut pm_window,
    url: *const c_char,
) -> *mut pm_window {
    boundary(|| {
        let parent = handle_arg(parent, "parent")?;
        // SAFETY: caller contract.
        let url = unsafe { c_str(url, "url") }?;
        window::create_child(parent, url).map(window_ptr)
    })
}

/// Frees a window, its child frames (recursively), and their listeners: each listener added
/// with a destroy function has it called once — before this returns, or, for a listener whose
/// call is running on some thread, when that call returns. After this returns the handle (and its
/// children's) is rejected with `PM_ERR_INVALID_HANDLE`, and no listener of these windows starts
/// a new call.
///
/// NULL is a no-op (`PM_OK`). A freed or unknown handle is `PM_ERR_INVALID_HANDLE`. May be called
/// from a listener, including one of the window being freed.
#[unsafe(no_mangle)]
pub extern "C" fn pm_window_free(window: *mut pm_window) -> pm_result {
    boundary(|| {
        if window.is_null() {
            return Ok(pm_result::PM_OK);
        }
        window::free(handle_arg(window, "window")?)?;
        Ok(pm_result::PM_OK)
    })
}

/// Gives the window a new document at `url`: a new origin (`about:blank` gets a new opaque
/// origin). The old document's listeners (destroy called as for `pm_window_free`) and child
/// frames (freed) are gone. The handle stays valid.
///
/// Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT`, `PM_ERR_INVALID_HANDLE`, `PM_ERR_UTF8` or
/// `PM_ERR_INVALID_URL` (then nothing changed).
///
/// # Safety
/// `url` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pm_window_navigate(window: *mut pm_window, url: *const c_char) -> pm_result {
    boundary(|| {
        let window = handle_arg(window, "window")?;
        // SAFETY: caller contract.
        let url = unsafe { c_str(url, "url") }?;
        window::navigate(window, url)?;
        Ok(pm_result::PM_OK)
    })
}

/// Writes the ASCII serialization of the window's current origin ("http://127.0.0.1", or "null"
/// when opaque) into `buf`, like `snprintf`: at most `cap - 1` bytes plus a NUL (nothing when
/// `cap` is 0 or `buf` is NULL).
///
/// Returns the serialization's full length (so a return value >= `cap` means it was truncated),
/// or 0 for a NULL or bad handle (with `pm_last_error()` set).
///
/// # Safety
/// `buf` is NULL or points to `cap` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pm_window_origin(
    window: *const pm_window,
    buf: *mut c_char,
    cap: usize,
) -> usize {
    boundary(|| {
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
    })
}

/// The window's parent, or NULL for a top-level window. NULL with `PM_ERR_INVALID_HANDLE` (or
/// `PM_ERR_NULL_ARGUMENT`) in `pm_last_error()` for a bad handle.
#[unsafe(no_mangle)]
pub extern "C" fn pm_window_parent(window: *const pm_window) -> *mut pm_window {
    boundary(|| {
        let parent = window::parent(handle_arg(window, "window")?)?;
        Ok(parent.map_or(ptr::null_mut(), window_ptr))
    })
}

/// Adds a `message` listener to the window's current document; same as
/// `pm_add_listener_full(window, callback, user_data, NULL)`.
#[unsafe(no_mangle)]
pub extern "C" fn pm_add_listener(
    window: *mut pm_window,
    callback: pm_listener_fn,
    user_data: *mut c_void,
) -> u64 {
    pm_add_listener_full(window, callback, user_data, None)
}

/// Adds a `message` listener to the window's current document.
///
/// Listeners run in registration order, synchronously inside the post that delivers to them, on
/// the posting thread, with no library lock held. A listener added during a dispatch runs from
/// the next message on; one removed during a dispatch does not run for the rest of it. `user_data`
/// is passed back untouched.
///
/// `destroy` (may be NULL) is called with `user_data` exactly once, after the listener is removed
/// (by `pm_remove_listener`, navigation or freeing the window) and its last running call has
/// returned: before the removing call returns when no call is running, else when the last running
/// call returns, on that call's thread.
///
/// Returns the listener id (> 0), or 0 on error: `window` or `callback` NULL
/// (`PM_ERR_NULL_ARGUMENT`), bad window (`PM_ERR_INVALID_HANDLE`). When adding fails, `destroy`
/// is not called: the caller still owns `user_data`.
#[unsafe(no_mangle)]
pub extern "C" fn pm_add_listener_full(
    window: *mut pm_window,
    callback: pm_listener_fn,
    user_data: *mut c_void,
    destroy: pm_destroy_fn,
) -> u64 {
    boundary(|| {
        let window = handle_arg(window, "window")?;
        let callback = callback.ok_or_else(|| Error::null("callback"))?;
        // A listener that was never added is dropped without calling destroy.
        window::add_listener(window, Listener::new(callback, user_data, destroy))
    })
}

/// Removes a listener from the window. It does not start another call; a call running on another
/// thread finishes (its destroy runs when it returns). Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT`,
/// or `PM_ERR_INVALID_HANDLE` for a bad window or an id that is not a listener of its current
/// document.
#[unsafe(no_mangle)]
pub extern "C" fn pm_remove_listener(window: *mut pm_window, listener_id: u64) -> pm_result {
    boundary(|| {
        window::remove_listener(handle_arg(window, "window")?, listener_id)?;
        Ok(pm_result::PM_OK)
    })
}

/// Posts `data` (binary-safe, `data_len` bytes; NULL allowed when `data_len` is 0) from `source`
/// to `target`, the HTML `target.postMessage(data, targetOrigin)`.
///
/// `target_origin`: `"*"` matches any origin (use it only for data anyone may see); `"/"` means
/// the source's origin; anything else must parse as an absolute URL, and only its origin counts
/// (path, query and fragment ignored). An opaque origin is matched only by `"*"`, or by `"/"` from
/// a window with that same opaque origin.
///
/// In the default synchronous mode the target's listeners run on this thread before this returns;
/// the data is not copied. Returns `PM_OK` (delivered), `PM_DROPPED` (origin did not match; no
/// listener ran), `PM_ERR_NULL_ARGUMENT`, `PM_ERR_INVALID_HANDLE` (bad source or target),
/// `PM_ERR_SYNTAX` (bad targetOrigin), `PM_ERR_UTF8` (targetOrigin not UTF-8) or `PM_ERR_DEPTH`
/// (nested dispatch on this thread would exceed `PM_MAX_DISPATCH_DEPTH`; nothing ran).
///
/// # Safety
/// `data` is NULL or points to `data_len` readable bytes; `target_origin` is NULL or a
/// NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pm_post_message(
    source: *mut pm_window,
    target: *mut pm_window,
    data: *const u8,
    data_len: usize,
    target_origin: *const c_char,
) -> pm_result {
    // SAFETY: forwarded caller contract, with an empty transfer list.
    unsafe { pm_post_message_transfer(source, target, data, data_len, target_origin, ptr::null(), 0) }
}

/// `pm_post_message` with a transfer list of MessagePorts (`transfer` may be NULL when
/// `transfer_len` is 0). Message ports are not available in this version: a non-empty transfer
/// list is `PM_ERR_DATA_CLONE` and nothing is posted.
///
/// # Safety
/// As for `pm_post_message`; `transfer` is NULL or points to `transfer_len` readable pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pm_post_message_transfer(
    source: *mut pm_window,
    target: *mut pm_window,
    data: *const u8,
    data_len: usize,
    target_origin: *const c_char,
    transfer: *const *mut pm_port,
    transfer_len: usize,
) -> pm_result {
    boundary(|| {
        let source = handle_arg(source, "source")?;
        let target = handle_arg(target, "target")?;
        // SAFETY: caller contract.
        let data = unsafe { data_arg(data, data_len, "data") }?;
        // SAFETY: caller contract.
        let target_origin = unsafe { c_bytes(target_origin, "target_origin") }?;
        // SAFETY: caller contract.
        let transfer = unsafe { array_arg(transfer, transfer_len, "transfer") }?;
        if !transfer.is_empty() {
            return Err(Error::new(
                pm_result::PM_ERR_DATA_CLONE,
                "message ports are not supported yet: the transfer list must be empty",
            ));
        }
        let delivery = dispatch::post(source, target, data, target_origin)?;
        if delivery == Delivery::Dropped {
            crate::error::set_last_error(
                "message dropped: targetOrigin does not match the target window's origin",
            );
        }
        Ok(delivery.code())
    })
}
