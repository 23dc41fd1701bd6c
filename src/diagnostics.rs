//! Drop diagnostics: a process-wide handler told about every message the library decided not to
//! deliver, and why. Every peer drops silently; this lets an embedder print a console warning
//! like a browser does for a mismatched targetOrigin.
//!
//! With no handler set the cost is one relaxed atomic load per drop and nothing on the delivery
//! path. The handler runs on the deciding thread with no library lock held; a drop caused inside
//! the handler is not reported again (no recursion).

use crate::handles::Handle;
use crate::origin::Origin;
use crate::types::pm_window;
use parking_lot::RwLock;
use std::cell::Cell;
use std::ffi::{CString, c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

/// Why a message was not delivered.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum pm_drop_reason {
    /// targetOrigin did not match the target's origin.
    PM_DROP_ORIGIN_MISMATCH = 1,
    /// Queued for a document the window has navigated away from.
    PM_DROP_NAVIGATED = 2,
    /// Target window freed, or port partner (or receiving channel) closed, before delivery.
    PM_DROP_TARGET_GONE = 3,
    /// Refused with `PM_ERR_QUEUE_FULL`.
    PM_DROP_QUEUE_FULL = 4,
    /// Refused with `PM_ERR_DEPTH`.
    PM_DROP_DEPTH = 5,
    /// Skipped by one allow-list listener (reported once per such listener).
    PM_DROP_FILTERED = 6,
}

/// A dropped message, as the drop handler receives it. Everything is borrowed for the call
/// only. New fields are only ever appended.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct pm_drop_event {
    /// Why it was dropped.
    pub reason: pm_drop_reason,
    /// The source's serialized origin; "" for port messages.
    pub source_origin: *const c_char,
    /// The origin of the document the message was meant for (for `PM_DROP_NAVIGATED`, the old
    /// one); "" if unknown.
    pub target_origin: *const c_char,
    /// The targetOrigin argument as the poster gave it; "" for ports and broadcasts.
    pub requested_origin: *const c_char,
    /// The posting window; NULL when unknown or gone, and for port and broadcast messages.
    pub source: *mut pm_window,
    /// The target window; NULL when gone.
    pub target: *mut pm_window,
    /// Length of the message data in bytes.
    pub data_len: usize,
}

/// The drop handler. `event` is borrowed for the call only. It may call the library.
#[allow(non_camel_case_types)]
pub type pm_drop_fn =
    Option<unsafe extern "C" fn(event: *const pm_drop_event, user_data: *mut c_void)>;

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

fn window_ptr(handle: Option<Handle>) -> *mut pm_window {
    handle.map_or(ptr::null_mut(), |h| h.to_raw() as *mut pm_window)
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
        source: window_ptr(drop.source),
        target: window_ptr(drop.target),
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
