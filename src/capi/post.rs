//! Exports: window listeners and posting to windows (the header's "Listeners and posting").

use super::{plain_slice, transfer_arg};
use crate::abi::{pm_destroy_fn, pm_listener_fn, pm_port, pm_window};
use crate::dispatch;
use crate::error::Error;
use crate::event::Delivery;
use crate::ffi::{boundary, c_bytes, data_arg, ffi_fn, handle_arg};
use crate::handles::Handle;
use crate::listener::Listener;
use crate::result::{delivery_code, pm_result};
use crate::window;
use std::ffi::{CStr, c_char, c_void};
use std::ptr;

ffi_fn! {
    /// Adds a `message` listener to the window's current document; same as
    /// `pm_add_listener_full(window, callback, user_data, NULL)`.
    fn pm_add_listener(
        window: *mut pm_window,
        callback: pm_listener_fn,
        user_data: *mut c_void,
    ) -> u64 {
        Ok(pm_add_listener_full(window, callback, user_data, None))
    } ?= 0
}

ffi_fn! {
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
    fn pm_add_listener_full(
        window: *mut pm_window,
        callback: pm_listener_fn,
        user_data: *mut c_void,
        destroy: pm_destroy_fn,
    ) -> u64 {
        let window = handle_arg(window, "window")?;
        let callback = callback.ok_or_else(|| Error::null("callback"))?;
        // A listener that was never added is dropped without calling destroy.
        window::add_listener(window, Listener::shared(callback, user_data, destroy))
    } ?= 0
}

ffi_fn! {
    /// Removes a listener from the window. It does not start another call; a call running on another
    /// thread finishes (its destroy runs when it returns). Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT`,
    /// or `PM_ERR_INVALID_HANDLE` for a bad window or an id that is not a listener of its current
    /// document.
    fn pm_remove_listener(window: *mut pm_window, listener_id: u64) -> pm_result {
        window::remove_listener(handle_arg(window, "window")?, listener_id)?;
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}

ffi_fn! {
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
    /// Pointers: `data` is NULL or points to `data_len` readable bytes; `target_origin` is NULL or a
    /// NUL-terminated string.
    no_boundary unsafe fn pm_post_message(
        source: *mut pm_window,
        target: *mut pm_window,
        data: *const u8,
        data_len: usize,
        target_origin: *const c_char,
    ) -> pm_result {
        // SAFETY: forwarded caller contract, with an empty transfer list.
        unsafe {
            post(
                source,
                target,
                data,
                data_len,
                target_origin,
                ptr::null(),
                0,
            )
        }
    }
}

ffi_fn! {
    /// `pm_post_message` with a transfer list of MessagePorts (`transfer` may be NULL when
    /// `transfer_len` is 0).
    ///
    /// The ports are taken from the sender at once (their handles become invalid) and the receiving
    /// listeners get new handles for them in `event->ports`, owned by the target window. A post that
    /// returns `PM_DROPPED` still consumes the transfer list: those ports are closed. A NULL entry is
    /// `PM_ERR_NULL_ARGUMENT`; a duplicate or a closed, freed or unknown port is
    /// `PM_ERR_DATA_CLONE`, and then nothing is transferred or posted.
    ///
    /// In QUEUED mode (see `pm_window_set_dispatch_mode`) the data is copied and queued, the
    /// targetOrigin syntax is checked now and its match at delivery, and `PM_ERR_QUEUE_FULL` means
    /// the queue limits refused it (nothing was queued or transferred).
    ///
    /// Pointers: As for `pm_post_message`; `transfer` is NULL or points to `transfer_len` readable pointers.
    no_boundary unsafe fn pm_post_message_transfer(
        source: *mut pm_window,
        target: *mut pm_window,
        data: *const u8,
        data_len: usize,
        target_origin: *const c_char,
        transfer: *const *mut pm_port,
        transfer_len: usize,
    ) -> pm_result {
        // SAFETY: forwarded caller contract.
        unsafe {
            post(
                source,
                target,
                data,
                data_len,
                target_origin,
                transfer,
                transfer_len,
            )
        }
    }
}

/// Both post exports: [`post_plain`] when it can, else [`post_checked`].
///
/// # Safety
/// As for `pm_post_message_transfer`.
#[inline(always)]
unsafe fn post(
    source: *mut pm_window,
    target: *mut pm_window,
    data: *const u8,
    data_len: usize,
    target_origin: *const c_char,
    transfer: *const *mut pm_port,
    transfer_len: usize,
) -> pm_result {
    // SAFETY: forwarded caller contract.
    if transfer_len == 0 && unsafe { post_plain(source, target, data, data_len, target_origin) } {
        return pm_result::PM_OK;
    }
    // SAFETY: forwarded caller contract.
    unsafe {
        post_checked(
            source,
            target,
            data,
            data_len,
            target_origin,
            transfer,
            transfer_len,
        )
    }
}

/// The common case, outside the panic boundary: plainly valid arguments and whatever
/// [`dispatch::post_fast`] accepts (which cannot panic). Returns true when it delivered the
/// message, false (having done nothing) when [`post_checked`] must decide.
///
/// # Safety
/// As for `pm_post_message`.
#[inline(always)]
unsafe fn post_plain(
    source: *mut pm_window,
    target: *mut pm_window,
    data: *const u8,
    data_len: usize,
    target_origin: *const c_char,
) -> bool {
    let (Some(src), Some(dst)) = (Handle::from_ptr(source), Handle::from_ptr(target)) else {
        return false;
    };
    if target_origin.is_null()
        || (data.is_null() && data_len != 0)
        || data_len > isize::MAX as usize
    {
        return false;
    }
    // SAFETY: caller contract; both pointers checked above (an empty slice from NULL is never
    // read).
    let (data, origin) = unsafe {
        (
            plain_slice(data, data_len),
            CStr::from_ptr(target_origin).to_bytes(),
        )
    };
    dispatch::post_fast(src, dst, data, origin)
}

/// A post with every argument checked and every outcome reported, inside the panic boundary.
///
/// # Safety
/// As for `pm_post_message_transfer`.
#[inline(never)]
unsafe fn post_checked(
    source: *mut pm_window,
    target: *mut pm_window,
    data: *const u8,
    data_len: usize,
    target_origin: *const c_char,
    transfer: *const *mut pm_port,
    transfer_len: usize,
) -> pm_result {
    boundary(pm_result::PM_ERR_PANIC, || {
        let source = handle_arg(source, "source")?;
        let target = handle_arg(target, "target")?;
        // SAFETY: caller contract.
        let data = unsafe { data_arg(data, data_len, "data") }?;
        // SAFETY: caller contract.
        let target_origin = unsafe { c_bytes(target_origin, "target_origin") }?;
        // SAFETY: caller contract.
        let transfer = unsafe { transfer_arg(transfer, transfer_len) }?;
        let delivery = dispatch::post(source, target, data, target_origin, &transfer)?;
        if delivery == Delivery::Dropped {
            let hint = std::str::from_utf8(target_origin)
                .ok()
                .and_then(crate::origin::opaque_host_port_hint);
            match hint {
                // "localhost:8080" is scheme "localhost:": say what was probably meant.
                Some(hint) => crate::result::set_last_status_text(
                    pm_result::PM_DROPPED,
                    &format!(
                        "message dropped: targetOrigin does not match the target window's origin: {hint}"
                    ),
                ),
                None => crate::result::set_last_status(
                    pm_result::PM_DROPPED,
                    c"message dropped: targetOrigin does not match the target window's origin",
                ),
            }
        }
        Ok(delivery_code(delivery))
    })
}
