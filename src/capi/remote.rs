//! Exports: windows in other processes (proxies, delivering records, the broadcast forwarder).
//! The format of the records is in `docs/remote-format.md`.

use crate::abi::{pm_broadcast_forward_fn, pm_destroy_fn, pm_remote_send_fn, pm_window};
use crate::error::Error;
use crate::event::Delivery;
use crate::ffi::{c_str, data_arg, ffi_fn};
use crate::handles::Handle;
use crate::remote::{self, BroadcastCarrier, Carrier};
use crate::result::{delivery_code, outcome_of_raw, pm_result, set_last_status};
use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A proxy's `send` with its user data. `destroy(user_data)` runs when the core drops the last
/// reference (after the window is freed and the last send returned), unless creating the window
/// failed (then the caller still owns `user_data`).
struct CSend {
    /// Never `None` (checked when the proxy is made).
    send: pm_remote_send_fn,
    user_data: *mut c_void,
    destroy: pm_destroy_fn,
    armed: AtomicBool,
}

// SAFETY: the embedder hands us `send`, `destroy` and `user_data` to be called from any thread;
// we never dereference `user_data`.
unsafe impl Send for CSend {}
// SAFETY: as above.
unsafe impl Sync for CSend {}

impl Carrier for CSend {
    fn send(&self, proxy: Handle, record: &[u8]) -> Result<Delivery, Error> {
        // SAFETY: the embedder's callback with its own user data; `record` is valid for the call.
        let Some(send) = self.send else {
            return Err(Error::null("send"));
        };
        // SAFETY: as above.
        let raw = unsafe {
            send(
                proxy.to_ptr(),
                record.as_ptr(),
                record.len(),
                self.user_data,
            )
        };
        outcome_of_raw(raw, "send")
    }
}

impl Drop for CSend {
    fn drop(&mut self) {
        if let Some(destroy) = self.destroy
            && self.armed.load(Ordering::Acquire)
        {
            // SAFETY: the embedder's destroy function, called once with its user data.
            unsafe { destroy(self.user_data) };
        }
    }
}

/// The broadcast forwarder with its user data.
struct CForward {
    /// Never `None` (a `None` forwarder removes it instead).
    forward: pm_broadcast_forward_fn,
    user_data: *mut c_void,
}

// SAFETY: the embedder hands us the forwarder to be called from any thread; we never
// dereference user_data.
unsafe impl Send for CForward {}
// SAFETY: as above.
unsafe impl Sync for CForward {}

impl BroadcastCarrier for CForward {
    fn forward(&self, record: &[u8]) -> Result<Delivery, Error> {
        // SAFETY: the embedder's callback with its own user data; the record is valid for the call.
        let Some(forward) = self.forward else {
            return Err(Error::null("forward"));
        };
        // SAFETY: as above.
        let raw = unsafe { forward(record.as_ptr(), record.len(), self.user_data) };
        outcome_of_raw(raw, "broadcast forwarder")
    }
}

ffi_fn! {
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
    /// Pointers: `url` is NULL or a NUL-terminated string; `send` and `destroy` may be called from
    /// any thread.
    unsafe fn pm_remote_window_new(
        parent: *mut pm_window,
        url: *const c_char,
        send: pm_remote_send_fn,
        user_data: *mut c_void,
        destroy: pm_destroy_fn,
    ) -> *mut pm_window {
        let parent = Handle::from_ptr(parent);
        // SAFETY: caller contract.
        let url = unsafe { c_str(url, "url") }?;
        if send.is_none() {
            return Err(Error::null("send"));
        }
        let carrier = Arc::new(CSend {
            send,
            user_data,
            destroy,
            armed: AtomicBool::new(true),
        });
        remote::new_proxy(parent, url, carrier.clone())
            .inspect_err(|_| carrier.armed.store(false, Ordering::Release))
            .map(Handle::to_ptr)
    } ?= std::ptr::null_mut()
}

ffi_fn! {
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
    /// Pointers: `record` is NULL or points to `record_len` readable bytes.
    unsafe fn pm_remote_deliver(
        target: *mut pm_window,
        source: *mut pm_window,
        record: *const u8,
        record_len: usize,
    ) -> pm_result {
        let target = Handle::from_ptr(target);
        let source = Handle::from_ptr(source);
        // SAFETY: caller contract.
        let record = unsafe { data_arg(record, record_len, "record") }?;
        let delivery = remote::deliver(target, source, record)?;
        if delivery == Delivery::Dropped {
            set_last_status(
                pm_result::PM_DROPPED,
                c"record dropped: targetOrigin does not match, or its port is closed or unknown here",
            );
        }
        Ok(delivery_code(delivery))
    } ?= pm_result::PM_ERR_PANIC
}

ffi_fn! {
    /// Sets (or with `forward` NULL removes) the process-wide broadcast forwarder: every
    /// `pm_broadcast_post_message` is then also encoded as a record and passed to
    /// `forward(record, record_len, user_data)` on the posting thread with no library lock held
    /// (valid only during the call). The embedder hands it to its other processes, which call
    /// `pm_remote_deliver(NULL, source, record, len)`. An error code from `forward` is returned by
    /// the broadcast post (the local channels still got the message). A channel with an opaque
    /// origin forwards nothing (it could match no one elsewhere). Returns `PM_OK`.
    fn pm_set_broadcast_forwarder(
        forward: pm_broadcast_forward_fn,
        user_data: *mut c_void,
    ) -> pm_result {
        remote::set_forwarder(
            forward.is_some().then(|| {
                Arc::new(CForward { forward, user_data }) as Arc<dyn BroadcastCarrier>
            }),
        );
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}
