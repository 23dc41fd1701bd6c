//! Exports: windows in other processes (proxies, delivering records, the broadcast forwarder).
//! The format of the records is in `docs/remote-format.md`.

use super::window_ptr;
use crate::dispatch::Delivery;
use crate::error::{pm_result, set_last_status};
use crate::ffi::{boundary, c_str, data_arg};
use crate::handles::Handle;
use crate::remote::{self, pm_broadcast_forward_fn, pm_remote_send_fn};
use crate::types::{pm_destroy_fn, pm_window};
use std::ffi::{c_char, c_void};

/// Creates a proxy: a window handle for a document that lives in another process, at `url`
/// (origin computed as for `pm_window_new`). `parent` is NULL (top level), a local window or a
/// proxy; local windows may be children of a proxy (`pm_window_new_child`). The proxy is freed
/// with its parent or by `pm_window_free`; `pm_window_navigate` mirrors a navigation of the
/// remote document.
///
/// A post to the proxy (`pm_post_message`, `pm_post_message_transfer`) is encoded as a record
/// and passed to `send(proxy, record, record_len, user_data)` on the posting thread, with no
/// library lock held; the record is valid only during the call. The post returns what `send`
/// returns (`PM_OK`, `PM_DROPPED`, or an error code, which `pm_last_error` then describes); a
/// value that is not a `pm_result` is `PM_ERR_INVALID_ARGUMENT`. `send` may call the library,
/// including `pm_remote_deliver` for messages arriving while it waits. Records for ports
/// transferred through the proxy travel through the same `send`. Transferring to a proxy a port
/// whose partner is already in another process, or both ports of one channel, is
/// `PM_ERR_DATA_CLONE`; a message or transfer list larger than a record allows
/// (`PM_RECORD_MAX_DATA`, `PM_RECORD_MAX_PORTS`) is `PM_ERR_INVALID_ARGUMENT`.
///
/// A proxy runs no script here: adding a listener, posting from it, creating a channel or
/// broadcast channel on it and setting its dispatch mode, waker or queue limits are
/// `PM_ERR_INVALID_ARGUMENT`; `pm_window_pending` is 0 and `pm_window_run_pending` returns 0.
///
/// `destroy` (may be NULL) is called once with `user_data` after the proxy is freed and the last
/// `send` call on it has returned. Returns the handle, or NULL on error: `url` or `send` NULL
/// (`PM_ERR_NULL_ARGUMENT`), bad parent (`PM_ERR_INVALID_HANDLE`), `url` not UTF-8
/// (`PM_ERR_UTF8`) or not absolute (`PM_ERR_INVALID_URL`); then `destroy` is not called.
///
/// # Safety
/// `url` is NULL or a NUL-terminated string; `send` and `destroy` may be called from any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pm_remote_window_new(
    parent: *mut pm_window,
    url: *const c_char,
    send: pm_remote_send_fn,
    user_data: *mut c_void,
    destroy: pm_destroy_fn,
) -> *mut pm_window {
    boundary(|| {
        let parent = Handle::from_raw(parent as usize);
        // SAFETY: caller contract.
        let url = unsafe { c_str(url, "url") }?;
        remote::new_proxy(parent, url, send, user_data, destroy).map(window_ptr)
    })
}

/// Delivers a record that came from another process (hostile input). The record is checked
/// completely first: truncated, oversized, trailing bytes, unknown version or kind, a string
/// that is not UTF-8 or an origin that is not one, a duplicate port id: `PM_ERR_INVALID_ARGUMENT`
/// with nothing delivered, created or leaked. `record` NULL with `record_len` > 0 is
/// `PM_ERR_NULL_ARGUMENT`.
///
/// `source` is this process's proxy (or local window) for the sender, or NULL when there is
/// none. When given, the origin the record claims must be its current origin, else
/// `PM_ERR_SOURCE_ORIGIN` and nothing is delivered; with NULL the claim is trusted (only for
/// peers the embedder vouches for). A `source` that is not a live window is
/// `PM_ERR_INVALID_HANDLE`.
///
/// A window record is then handled as a local post to `target` (a live local window, else
/// `PM_ERR_INVALID_HANDLE`, or `PM_ERR_INVALID_ARGUMENT` for NULL or a proxy): targetOrigin
/// against its current origin (`PM_DROPPED` on a mismatch), its dispatch mode, queue and depth
/// limits, drop reports. The event's `origin` is the claimed one and `source` is `source`. A
/// record carrying ports needs `source` to be a proxy (their route), else
/// `PM_ERR_INVALID_ARGUMENT`.
///
/// Port records (messages and closes) find their port by id; `target` is ignored. One for a
/// port that is closed or unknown here, or (when `source` is given) that did not come through
/// `source`, is `PM_DROPPED`. Broadcast records reach every open channel of their name whose
/// window has the record's origin (`target` ignored; `source` is the origin lock as above).
///
/// # Safety
/// `record` is NULL or points to `record_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pm_remote_deliver(
    target: *mut pm_window,
    source: *mut pm_window,
    record: *const u8,
    record_len: usize,
) -> pm_result {
    boundary(|| {
        let target = Handle::from_raw(target as usize);
        let source = Handle::from_raw(source as usize);
        // SAFETY: caller contract.
        let record = unsafe { data_arg(record, record_len, "record") }?;
        let delivery = remote::deliver(target, source, record)?;
        if delivery == Delivery::Dropped {
            set_last_status(
                pm_result::PM_DROPPED,
                c"record dropped: targetOrigin does not match, or its port is closed or unknown here",
            );
        }
        Ok(delivery.code())
    })
}

/// Sets (or with `forward` NULL removes) the process-wide broadcast forwarder: every
/// `pm_broadcast_post_message` is then also encoded as a record and passed to
/// `forward(record, record_len, user_data)` on the posting thread with no library lock held
/// (valid only during the call). The embedder hands it to its other processes, which call
/// `pm_remote_deliver(NULL, source, record, len)`. An error code from `forward` is returned by
/// the broadcast post (the local channels still got the message). A channel with an opaque
/// origin forwards nothing (it could match no one elsewhere). Returns `PM_OK`.
#[unsafe(no_mangle)]
pub extern "C" fn pm_set_broadcast_forwarder(
    forward: pm_broadcast_forward_fn,
    user_data: *mut c_void,
) -> pm_result {
    boundary(|| {
        remote::set_forwarder(forward, user_data);
        Ok(pm_result::PM_OK)
    })
}
