//! Exports: MessageChannel and its ports (the header's "Channel messaging").

use super::{plain_slice, transfer_arg};
use crate::abi::{pm_destroy_fn, pm_listener_fn, pm_port, pm_window};
use crate::error::Error;
use crate::event::Delivery;
use crate::ffi::{boundary, data_arg, ffi_fn, handle_arg};
use crate::handles::Handle;
use crate::listener::Listener;
use crate::port;
use crate::result::{delivery_code, pm_result};
use std::ffi::c_void;

ffi_fn! {
    /// Creates a MessageChannel: two entangled ports owned by `owner`'s current document, written
    /// to `*port1` and `*port2`. The ports are closed when the window is freed or navigates, or with
    /// `pm_port_close`; a port transferred in a message belongs to the receiving window.
    ///
    /// Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT` (any argument NULL) or `PM_ERR_INVALID_HANDLE`; on
    /// error `*port1` and `*port2` are left untouched.
    ///
    /// Pointers: `port1` and `port2` are NULL or point to writable `pm_port *` slots.
    unsafe fn pm_channel_new(
        owner: *mut pm_window,
        port1: *mut *mut pm_port,
        port2: *mut *mut pm_port,
    ) -> pm_result {
        let owner = handle_arg(owner, "owner")?;
        if port1.is_null() || port2.is_null() {
            return Err(Error::null("port1 and port2"));
        }
        let (a, b) = port::channel_new(owner)?;
        // SAFETY: both are non-NULL writable slots by the caller's contract.
        unsafe {
            *port1 = a.to_ptr();
            *port2 = b.to_ptr();
        }
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}

ffi_fn! {
    /// Posts `data` (copied; NULL allowed with length 0) through `port` to its entangled partner,
    /// transferring the ports in `transfer` (NULL allowed with length 0) as for
    /// `pm_post_message_transfer`. A port's messages wait until its first listener starts it, then
    /// follow its window's mode: dispatched inside this call (SYNC) or queued (QUEUED).
    ///
    /// Returns `PM_OK`, `PM_DROPPED` (the partner is closed, or the partner is itself in flight
    /// inside one of the transferred ports' queues, so that no window could ever receive either;
    /// transferred ports are closed),
    /// `PM_ERR_NULL_ARGUMENT`, `PM_ERR_INVALID_HANDLE` (bad port), `PM_ERR_DATA_CLONE` (the port
    /// itself, its partner, a duplicate, or a closed or unknown port in `transfer`; nothing is
    /// transferred), `PM_ERR_QUEUE_FULL` or `PM_ERR_DEPTH` (then the message is dropped).
    ///
    /// Pointers: `data` is NULL or points to `data_len` readable bytes; `transfer` is NULL or points to
    /// `transfer_len` readable pointers.
    no_boundary unsafe fn pm_port_post_message(
        port: *mut pm_port,
        data: *const u8,
        data_len: usize,
        transfer: *const *mut pm_port,
        transfer_len: usize,
    ) -> pm_result {
        // The common case first, outside the panic boundary (`port::post_fast` cannot panic):
        // plainly valid arguments, no transfer list, a cached port (SYNC or QUEUED owner).
        let mut tried = port::Fast::Slow;
        if transfer_len == 0
            && !(data.is_null() && data_len != 0)
            && data_len <= isize::MAX as usize
            && let Some(handle) = Handle::from_ptr(port)
        {
            // SAFETY: caller contract; NULL only with length 0, which is never read.
            let data = unsafe { plain_slice(data, data_len) };
            tried = port::post_fast(handle, data);
            if tried == port::Fast::Done {
                return pm_result::PM_OK;
            }
        }
        // SAFETY: forwarded caller contract.
        unsafe { post_checked(port, data, data_len, transfer, transfer_len, tried) }
    }
}

/// A port post with every argument checked and every outcome reported, inside the panic
/// boundary.
///
/// # Safety
/// As for `pm_port_post_message`.
#[inline(never)]
unsafe fn post_checked(
    port: *mut pm_port,
    data: *const u8,
    data_len: usize,
    transfer: *const *mut pm_port,
    transfer_len: usize,
    tried: port::Fast,
) -> pm_result {
    boundary(pm_result::PM_ERR_PANIC, || {
        let port = handle_arg(port, "port")?;
        // SAFETY: caller contract.
        let data = unsafe { data_arg(data, data_len, "data") }?;
        // SAFETY: caller contract.
        let transfer = unsafe { transfer_arg(transfer, transfer_len) }?;
        let delivery = port::post(port, data, &transfer, tried)?;
        if delivery == Delivery::Dropped {
            crate::result::set_last_status(
                pm_result::PM_DROPPED,
                c"message dropped: the port's partner is closed",
            );
        }
        Ok(delivery_code(delivery))
    })
}

ffi_fn! {
    /// Adds a listener to a port; same as `pm_port_add_listener_full(port, callback, user_data, NULL)`.
    fn pm_port_add_listener(
        port: *mut pm_port,
        callback: pm_listener_fn,
        user_data: *mut c_void,
    ) -> u64 {
        Ok(pm_port_add_listener_full(port, callback, user_data, None))
    } ?= 0
}

ffi_fn! {
    /// Adds a listener to a port. The first listener starts the port: messages that waited are
    /// delivered in order (in SYNC mode inside this call). Port events have `origin` "", and
    /// `source` and `target` NULL. Listener rules, and when `destroy` (may be NULL) runs, are as for
    /// `pm_add_listener_full`; a port's listeners are also removed when it is closed, transferred,
    /// or its window is freed or navigates.
    ///
    /// Returns the listener id (> 0), or 0 on error (`PM_ERR_NULL_ARGUMENT`,
    /// `PM_ERR_INVALID_HANDLE`); then `destroy` is not called.
    fn pm_port_add_listener_full(
        port: *mut pm_port,
        callback: pm_listener_fn,
        user_data: *mut c_void,
        destroy: pm_destroy_fn,
    ) -> u64 {
        let port = handle_arg(port, "port")?;
        let callback = callback.ok_or_else(|| Error::null("callback"))?;
        port::add_listener(port, Listener::shared(callback, user_data, destroy))
    } ?= 0
}

ffi_fn! {
    /// Removes a port listener. Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT` or `PM_ERR_INVALID_HANDLE`
    /// (bad port, or an id that is not one of its listeners).
    fn pm_port_remove_listener(port: *mut pm_port, listener_id: u64) -> pm_result {
        port::remove_listener(handle_arg(port, "port")?, listener_id)?;
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}

ffi_fn! {
    /// Closes a port: disentangles it (later messages from its partner are dropped) and frees the
    /// handle. Messages still waiting for it are dropped. Returns `PM_OK` or `PM_ERR_INVALID_HANDLE`
    /// (already closed, transferred or unknown). NULL is a no-op (`PM_OK`), as for every destructor
    /// (`free(NULL)`).
    fn pm_port_close(port: *mut pm_port) -> pm_result {
        if port.is_null() {
            return Ok(pm_result::PM_OK);
        }
        port::close(handle_arg(port, "port")?)?;
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}
