//! Exports: BroadcastChannel (the header's "broadcast").

use crate::abi::{pm_broadcast, pm_destroy_fn, pm_listener_fn, pm_window};
use crate::broadcast;
use crate::error::Error;
use crate::ffi::{c_str, data_arg, ffi_fn, handle_arg};
use crate::handles::Handle;
use crate::listener::Listener;
use crate::result::pm_result;
use std::ffi::{c_char, c_void};
use std::ptr;

ffi_fn! {
    /// Opens a BroadcastChannel named `name` in `window`'s current document. Closed with
    /// `pm_broadcast_close`, or when the window is freed or navigates.
    ///
    /// Returns the handle, or NULL on error (`PM_ERR_NULL_ARGUMENT`, `PM_ERR_INVALID_HANDLE`,
    /// `PM_ERR_UTF8`).
    ///
    /// Pointers: `name` is NULL or a NUL-terminated string.
    unsafe fn pm_broadcast_new(
        window: *mut pm_window,
        name: *const c_char,
    ) -> *mut pm_broadcast {
        let window = handle_arg(window, "window")?;
        // SAFETY: caller contract.
        let name = unsafe { c_str(name, "name") }?;
        broadcast::open(window, name).map(Handle::to_ptr)
    } ?= ptr::null_mut()
}

ffi_fn! {
    /// Posts `data` (copied; NULL allowed with length 0) to every other open channel with the same
    /// name whose window has the same origin, in creation order, never to the sender. Receivers in
    /// SYNC windows run inside this call; QUEUED windows get it queued. Events carry the sender's
    /// origin, `source` and `target` NULL.
    ///
    /// Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT`, `PM_ERR_INVALID_HANDLE`, or `PM_ERR_QUEUE_FULL` /
    /// `PM_ERR_DEPTH` when some receiver refused it (the others still received it).
    ///
    /// Pointers: `data` is NULL or points to `data_len` readable bytes.
    unsafe fn pm_broadcast_post_message(
        channel: *mut pm_broadcast,
        data: *const u8,
        data_len: usize,
    ) -> pm_result {
        let channel = handle_arg(channel, "channel")?;
        // SAFETY: caller contract.
        let data = unsafe { data_arg(data, data_len, "data") }?;
        broadcast::post(channel, data)?;
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}

ffi_fn! {
    /// Adds a listener to a broadcast channel; same as
    /// `pm_broadcast_add_listener_full(channel, callback, user_data, NULL)`.
    fn pm_broadcast_add_listener(
        channel: *mut pm_broadcast,
        callback: pm_listener_fn,
        user_data: *mut c_void,
    ) -> u64 {
        Ok(pm_broadcast_add_listener_full(channel, callback, user_data, None))
    } ?= 0
}

ffi_fn! {
    /// Adds a listener to a broadcast channel. Listener rules, and when `destroy` (may be NULL)
    /// runs, are as for `pm_add_listener_full`; a channel's listeners are also removed when it is
    /// closed or its window is freed or navigates.
    ///
    /// Returns the id (> 0), or 0 on error (`PM_ERR_NULL_ARGUMENT`, `PM_ERR_INVALID_HANDLE`); then
    /// `destroy` is not called.
    fn pm_broadcast_add_listener_full(
        channel: *mut pm_broadcast,
        callback: pm_listener_fn,
        user_data: *mut c_void,
        destroy: pm_destroy_fn,
    ) -> u64 {
        let channel = handle_arg(channel, "channel")?;
        let callback = callback.ok_or_else(|| Error::null("callback"))?;
        broadcast::add_listener(channel, Listener::shared(callback, user_data, destroy))
    } ?= 0
}

ffi_fn! {
    /// Removes a broadcast listener. Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT` or
    /// `PM_ERR_INVALID_HANDLE`.
    fn pm_broadcast_remove_listener(
        channel: *mut pm_broadcast,
        listener_id: u64,
    ) -> pm_result {
        broadcast::remove_listener(handle_arg(channel, "channel")?, listener_id)?;
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}

ffi_fn! {
    /// Closes a broadcast channel and frees its handle; it receives nothing more, not even messages
    /// already queued for it. Returns `PM_OK` or `PM_ERR_INVALID_HANDLE`. NULL is a no-op (`PM_OK`),
    /// as for every destructor (`free(NULL)`).
    fn pm_broadcast_close(channel: *mut pm_broadcast) -> pm_result {
        if channel.is_null() {
            return Ok(pm_result::PM_OK);
        }
        broadcast::close(handle_arg(channel, "channel")?)?;
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}
