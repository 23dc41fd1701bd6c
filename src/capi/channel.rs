//! Exports: MessageChannel ports and BroadcastChannels.

use super::{port_ptr, transfer_arg};
use crate::abi::{pm_broadcast, pm_destroy_fn, pm_listener_fn, pm_port, pm_window};
use crate::broadcast;
use crate::error::Error;
use crate::event::Delivery;
use crate::ffi::{boundary, c_str, data_arg, handle_arg};
use crate::listener::Listener;
use crate::port;
use crate::result::{delivery_code, pm_result};
use std::ffi::{c_char, c_void};

/// Creates a MessageChannel: two entangled ports owned by `owner`'s current document, written
/// to `*port1` and `*port2`. The ports are closed when the window is freed or navigates, or with
/// `pm_port_close`; a port transferred in a message belongs to the receiving window.
///
/// Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT` (any argument NULL) or `PM_ERR_INVALID_HANDLE`; on
/// error `*port1` and `*port2` are left untouched.
///
/// Pointers: `port1` and `port2` are NULL or point to writable `pm_port *` slots.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pm_channel_new(
    owner: *mut pm_window,
    port1: *mut *mut pm_port,
    port2: *mut *mut pm_port,
) -> pm_result {
    boundary(|| {
        let owner = handle_arg(owner, "owner")?;
        if port1.is_null() || port2.is_null() {
            return Err(Error::null("port1 and port2"));
        }
        let (a, b) = port::channel_new(owner)?;
        // SAFETY: both are non-NULL writable slots by the caller's contract.
        unsafe {
            *port1 = port_ptr(a);
            *port2 = port_ptr(b);
        }
        Ok(pm_result::PM_OK)
    })
}

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
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pm_port_post_message(
    port: *mut pm_port,
    data: *const u8,
    data_len: usize,
    transfer: *const *mut pm_port,
    transfer_len: usize,
) -> pm_result {
    boundary(|| {
        let port = handle_arg(port, "port")?;
        // SAFETY: caller contract.
        let data = unsafe { data_arg(data, data_len, "data") }?;
        // SAFETY: caller contract.
        let transfer = unsafe { transfer_arg(transfer, transfer_len) }?;
        let delivery = port::post(port, data, &transfer)?;
        if delivery == Delivery::Dropped {
            crate::result::set_last_status(
                pm_result::PM_DROPPED,
                c"message dropped: the port's partner is closed",
            );
        }
        Ok(delivery_code(delivery))
    })
}

/// Adds a listener to a port; same as `pm_port_add_listener_full(port, callback, user_data, NULL)`.
#[unsafe(no_mangle)]
pub extern "C" fn pm_port_add_listener(
    port: *mut pm_port,
    callback: pm_listener_fn,
    user_data: *mut c_void,
) -> u64 {
    pm_port_add_listener_full(port, callback, user_data, None)
}

/// Adds a listener to a port. The first listener starts the port: messages that waited are
/// delivered in order (in SYNC mode inside this call). Port events have `origin` "", and
/// `source` and `target` NULL. Listener rules, and when `destroy` (may be NULL) runs, are as for
/// `pm_add_listener_full`; a port's listeners are also removed when it is closed, transferred,
/// or its window is freed or navigates.
///
/// Returns the listener id (> 0), or 0 on error (`PM_ERR_NULL_ARGUMENT`,
/// `PM_ERR_INVALID_HANDLE`); then `destroy` is not called.
#[unsafe(no_mangle)]
pub extern "C" fn pm_port_add_listener_full(
    port: *mut pm_port,
    callback: pm_listener_fn,
    user_data: *mut c_void,
    destroy: pm_destroy_fn,
) -> u64 {
    boundary(|| {
        let port = handle_arg(port, "port")?;
        let callback = callback.ok_or_else(|| Error::null("callback"))?;
        port::add_listener(port, Listener::shared(callback, user_data, destroy))
    })
}

/// Removes a port listener. Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT` or `PM_ERR_INVALID_HANDLE`
/// (bad port, or an id that is not one of its listeners).
#[unsafe(no_mangle)]
pub extern "C" fn pm_port_remove_listener(port: *mut pm_port, listener_id: u64) -> pm_result {
    boundary(|| {
        port::remove_listener(handle_arg(port, "port")?, listener_id)?;
        Ok(pm_result::PM_OK)
    })
}

/// Closes a port: disentangles it (later messages from its partner are dropped) and frees the
/// handle. Messages still waiting for it are dropped. Returns `PM_OK` or `PM_ERR_INVALID_HANDLE`
/// (already closed, transferred or unknown). NULL is a no-op (`PM_OK`), as for every destructor
/// (`free(NULL)`).
#[unsafe(no_mangle)]
pub extern "C" fn pm_port_close(port: *mut pm_port) -> pm_result {
    boundary(|| {
        if port.is_null() {
            return Ok(pm_result::PM_OK);
        }
        port::close(handle_arg(port, "port")?)?;
        Ok(pm_result::PM_OK)
    })
}

/// Opens a BroadcastChannel named `name` in `window`'s current document. Closed with
/// `pm_broadcast_close`, or when the window is freed or navigates.
///
/// Returns the handle, or NULL on error (`PM_ERR_NULL_ARGUMENT`, `PM_ERR_INVALID_HANDLE`,
/// `PM_ERR_UTF8`).
///
/// Pointers: `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pm_broadcast_new(
    window: *mut pm_window,
    name: *const c_char,
) -> *mut pm_broadcast {
    boundary(|| {
        let window = handle_arg(window, "window")?;
        // SAFETY: caller contract.
        let name = unsafe { c_str(name, "name") }?;
        broadcast::open(window, name).map(|h| h.to_raw() as *mut pm_broadcast)
    })
}

/// Posts `data` (copied; NULL allowed with length 0) to every other open channel with the same
/// name whose window has the same origin, in creation order, never to the sender. Receivers in
/// SYNC windows run inside this call; QUEUED windows get it queued. Events carry the sender's
/// origin, `source` and `target` NULL.
///
/// Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT`, `PM_ERR_INVALID_HANDLE`, or `PM_ERR_QUEUE_FULL` /
/// `PM_ERR_DEPTH` when some receiver refused it (the others still received it).
///
/// Pointers: `data` is NULL or points to `data_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pm_broadcast_post_message(
    channel: *mut pm_broadcast,
    data: *const u8,
    data_len: usize,
) -> pm_result {
    boundary(|| {
        let channel = handle_arg(channel, "channel")?;
        // SAFETY: caller contract.
        let data = unsafe { data_arg(data, data_len, "data") }?;
        broadcast::post(channel, data)?;
        Ok(pm_result::PM_OK)
    })
}

/// Adds a listener to a broadcast channel; same as
/// `pm_broadcast_add_listener_full(channel, callback, user_data, NULL)`.
#[unsafe(no_mangle)]
pub extern "C" fn pm_broadcast_add_listener(
    channel: *mut pm_broadcast,
    callback: pm_listener_fn,
    user_data: *mut c_void,
) -> u64 {
    pm_broadcast_add_listener_full(channel, callback, user_data, None)
}

/// Adds a listener to a broadcast channel. Listener rules, and when `destroy` (may be NULL)
/// runs, are as for `pm_add_listener_full`; a channel's listeners are also removed when it is
/// closed or its window is freed or navigates.
///
/// Returns the id (> 0), or 0 on error (`PM_ERR_NULL_ARGUMENT`, `PM_ERR_INVALID_HANDLE`); then
/// `destroy` is not called.
#[unsafe(no_mangle)]
pub extern "C" fn pm_broadcast_add_listener_full(
    channel: *mut pm_broadcast,
    callback: pm_listener_fn,
    user_data: *mut c_void,
    destroy: pm_destroy_fn,
) -> u64 {
    boundary(|| {
        let channel = handle_arg(channel, "channel")?;
        let callback = callback.ok_or_else(|| Error::null("callback"))?;
        broadcast::add_listener(channel, Listener::shared(callback, user_data, destroy))
    })
}

/// Removes a broadcast listener. Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT` or
/// `PM_ERR_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn pm_broadcast_remove_listener(
    channel: *mut pm_broadcast,
    listener_id: u64,
) -> pm_result {
    boundary(|| {
        broadcast::remove_listener(handle_arg(channel, "channel")?, listener_id)?;
        Ok(pm_result::PM_OK)
    })
}

/// Closes a broadcast channel and frees its handle; it receives nothing more, not even messages
/// already queued for it. Returns `PM_OK` or `PM_ERR_INVALID_HANDLE`. NULL is a no-op (`PM_OK`),
/// as for every destructor (`free(NULL)`).
#[unsafe(no_mangle)]
pub extern "C" fn pm_broadcast_close(channel: *mut pm_broadcast) -> pm_result {
    boundary(|| {
        if channel.is_null() {
            return Ok(pm_result::PM_OK);
        }
        broadcast::close(handle_arg(channel, "channel")?)?;
        Ok(pm_result::PM_OK)
    })
}
