//! Drop diagnostics: a process-wide handler told about every message the library decided not to
//! deliver, and why. Every peer drops silently; this lets an embedder print a console warning
//! like a browser does for a mismatched targetOrigin.
//!
//! With no handler set the cost is one relaxed atomic load per drop and nothing on the delivery
//! path. The handler runs on the deciding thread with no library lock held; a drop caused inside
//! the handler is not reported again (no recursion).

use crate::abi::{pm_drop_event, pm_drop_fn, pm_drop_reason};
use crate::handles::Handle;
use crate::origin::Origin;
use parking_lot::RwLock;
use std::cell::Cell;
use std::ffi::{CString, c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

/// A drop, described in Rust terms; turned into a `pm_drop_event` only if a handler is set.
pub struct DropReport<'a> {
    pub reason: pm_drop_reason,
    /// NUL-terminated serializations ("" when unknown), e.g. from `Origin::as_c_ptr`.
    pub source_origin: *const c_char,
    pub target_origin: *const c_char,
    pub requested_origin: &'a str,
    pub source: Option<Handle>,
    pub target: Option<Handle>,
    pub data_len: usize,
}

#[derive(Clone, Copy)]
struct Handler {
    callback: unsafe extern "C" fn(*const pm_drop_event, *mut c_void),
    user_data: *mut c_void,
}

// SAFETY: the embedder gives us the handler and its user data to be called from any thread.
unsafe impl Send for Handler {}
// SAFETY: as above; we never dereference user_data.
unsafe impl Sync for Handler {}

static HANDLER_SET: AtomicBool = AtomicBool::new(false);
static HANDLER: RwLock<Option<Handler>> = RwLock::new(None);

thread_local! {
    static IN_HANDLER: Cell<bool> = const { Cell::new(false) };
}

/// Sets (or with `None` removes) the process-wide drop handler.
pub fn set_handler(handler: pm_drop_fn, user_data: *mut c_void) {
    let handler = handler.map(|callback| Handler {
        callback,
        user_data,
    });
    let mut slot = HANDLER.write();
    *slot = handler;
    HANDLER_SET.store(slot.is_some(), Ordering::Release);
}

/// Whether a drop handler is set (cheap; for skipping work that only feeds reports).
#[inline]
pub fn enabled() -> bool {
    HANDLER_SET.load(Ordering::Relaxed)
}

/// An origin's serialization for a report, "" when unknown.
pub fn origin_ptr(origin: Option<&Origin>) -> *const c_char {
    origin.map_or(c"".as_ptr(), Origin::as_c_ptr)
}

/// Reports a drop to the handler, if one is set and we are not already inside it.
/// Must be called with no library lock held.
pub fn report(drop: DropReport<'_>) {
    if !enabled() || IN_HANDLER.with(|f| f.get()) {
        return;
    }
    let Some(handler) = *HANDLER.read() else {
        return;
    };
    let requested = CString::new(drop.requested_origin.replace('\0', "")).unwrap_or_default();
    let event = pm_drop_event {
        reason: drop.reason,
        source_origin: drop.source_origin,
        target_origin: drop.target_origin,
        requested_origin: requested.as_ptr(),
        source: Handle::ptr_or_null(drop.source),
        target: Handle::ptr_or_null(drop.target),
        data_len: drop.data_len,
    };
    IN_HANDLER.with(|f| f.set(true));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            IN_HANDLER.with(|f| f.set(false));
        }
    }
    let _reset = Reset;
    // SAFETY: the embedder's handler, called with an event valid for the call.
    unsafe { (handler.callback)(&event, handler.user_data) };
}
