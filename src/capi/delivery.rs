//! Exports: delivery modes, wakers, queue limits and running queued messages (the header's
//! "Delivery modes").

use crate::abi::{pm_dispatch_mode, pm_wake_fn, pm_window};
use crate::dispatch;
use crate::error::Error;
use crate::ffi::{answer, ffi_fn, handle_arg};
use crate::queue::{Limits, Waker};
use crate::result::pm_result;
use crate::window;
use std::ffi::c_void;

/// A `pm_dispatch_mode` as C passes it: taken as an integer so an out-of-range value is an
/// error, not undefined behaviour.
pub type RawDispatchMode = u32;

ffi_fn! {
    /// Sets how the window receives messages: `PM_DISPATCH_SYNC` (the default: listeners run inside
    /// the post, on the posting thread) or `PM_DISPATCH_QUEUED` (posts queue; the embedder calls
    /// `pm_window_run_pending`, typically after its waker fired). The mode belongs to the handle and
    /// survives navigation; switching back to SYNC leaves already-queued messages queued.
    ///
    /// Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT`, `PM_ERR_INVALID_HANDLE`, or
    /// `PM_ERR_INVALID_ARGUMENT` for an unknown mode value.
    fn pm_window_set_dispatch_mode(
        window: *mut pm_window,
        mode: RawDispatchMode,
    ) -> pm_result {
        let window = handle_arg(window, "window")?;
        let mode = pm_dispatch_mode::from_raw(mode)
            .ok_or_else(|| Error::invalid_argument(format!("{mode} is not a pm_dispatch_mode")))?;
        window::set_mode(window, mode)?;
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}

ffi_fn! {
    /// Sets (or with `wake` NULL removes) the window's waker: called with the window and
    /// `user_data` each time its queue goes from empty to non-empty, on the posting thread, with no
    /// library lock held. It should only signal the embedder's event loop (which then calls
    /// `pm_window_run_pending`), though it may call the library. Survives navigation.
    ///
    /// Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT` (window) or `PM_ERR_INVALID_HANDLE`.
    fn pm_window_set_waker(
        window: *mut pm_window,
        wake: pm_wake_fn,
        user_data: *mut c_void,
    ) -> pm_result {
        window::set_waker(handle_arg(window, "window")?, Waker::new(wake, user_data))?;
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}

ffi_fn! {
    /// Takes up to `max` messages off the window's queue, in FIFO order, and delivers each on the
    /// calling thread (or drops it: a window message whose targetOrigin does not match the current
    /// origin, or one for a port or channel closed meanwhile). Messages queued while this runs are
    /// taken too, up to `max`. Returns how many were taken; 0 for a bad handle, or when this would
    /// exceed `PM_MAX_DISPATCH_DEPTH` (then `pm_last_error()` says so). On success
    /// `pm_last_error_code()` is `PM_OK`, so 0 with `PM_OK` means the queue was empty.
    fn pm_window_run_pending(window: *mut pm_window, max: usize) -> usize {
        answer(dispatch::run_pending(handle_arg(window, "window")?, max))
    } ?= 0
}

ffi_fn! {
    /// Number of messages waiting in the window's queue; 0 for a bad handle. On success
    /// `pm_last_error_code()` is `PM_OK`, so 0 with `PM_OK` means an empty queue.
    fn pm_window_pending(window: *const pm_window) -> usize {
        answer(window::pending(handle_arg(window, "window")?))
    } ?= 0
}

ffi_fn! {
    /// Limits the window's queue: a post (window, port or broadcast message) that would take it past
    /// `max_messages` messages or `max_bytes` bytes of data is refused with `PM_ERR_QUEUE_FULL`;
    /// 0 means no limit. Defaults: 10,000 messages and 64 MiB. Survives navigation; messages already
    /// queued stay.
    ///
    /// Returns `PM_OK`, `PM_ERR_NULL_ARGUMENT` or `PM_ERR_INVALID_HANDLE`.
    fn pm_window_set_queue_limit(
        window: *mut pm_window,
        max_messages: usize,
        max_bytes: usize,
    ) -> pm_result {
        let limits = Limits {
            max_messages,
            max_bytes,
        };
        window::set_limits(handle_arg(window, "window")?, limits)?;
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}
