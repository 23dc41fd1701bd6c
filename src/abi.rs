//! The C vocabulary: every `#[repr(C)]` type and C callback signature, and nothing else. It is
//! part of the edge, kept at the bottom because the core builds the events it hands to C
//! callbacks (listeners, the drop handler, wakers); no logic lives here.

use std::ffi::{c_char, c_void};

/// A browsing context (what a script reaches as a WindowProxy): an opaque handle.
///
/// The pointer value is a handle, never an address: a freed or forged value is rejected with
/// `PM_ERR_INVALID_HANDLE`. The same window always has the same handle value, so the `source`
/// of an event can be compared with the handles the embedder holds.
///
/// Functions: `pm_window_new`, `pm_window_new_child`, `pm_window_free`, `pm_window_navigate`,
/// `pm_window_origin`, `pm_window_parent`, `pm_add_listener`, `pm_add_listener_full`,
/// `pm_remove_listener`, `pm_post_message`, `pm_post_message_transfer`.
#[allow(non_camel_case_types)]
pub struct pm_window {
    _private: [u8; 0],
}

/// A MessagePort: an opaque handle.
#[allow(non_camel_case_types)]
pub struct pm_port {
    _private: [u8; 0],
}

/// A BroadcastChannel: an opaque handle.
#[allow(non_camel_case_types)]
pub struct pm_broadcast {
    _private: [u8; 0],
}

/// A `message` event, as a listener receives it.
///
/// The library owns the event and everything it points to; all of it is valid only during the
/// callback (copy what you keep). New fields are only ever appended.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct pm_message_event {
    /// The message bytes (binary-safe; never NULL, even when `data_len` is 0).
    pub data: *const u8,
    /// Length of `data` in bytes.
    pub data_len: usize,
    /// The source's ASCII-serialized origin ("null" when opaque); "" for MessagePort messages.
    pub origin: *const c_char,
    /// Always "" (the standard's `lastEventId`).
    pub last_event_id: *const c_char,
    /// The posting window, the same handle value the embedder holds (reply with
    /// `pm_post_message`); NULL for port messages or when the source is gone.
    pub source: *mut pm_window,
    /// The window whose listener this is; NULL for port and broadcast messages.
    pub target: *mut pm_window,
    /// Ports transferred with this message, as new handles the receiver now owns (it may keep
    /// them past the callback; they close with its window). NULL when `ports_len` is 0.
    pub ports: *const *mut pm_port,
    /// Number of entries in `ports`.
    pub ports_len: usize,
}

/// A message listener. `event` and all it points to are borrowed for the call only.
/// It may call any library function, including posting, adding or removing listeners and
/// freeing windows (its own included); no library lock is held while it runs.
#[allow(non_camel_case_types)]
pub type pm_listener_fn =
    Option<unsafe extern "C" fn(event: *const pm_message_event, user_data: *mut c_void)>;

/// Releases a listener's `user_data`; called exactly once (see `pm_add_listener_full`).
#[allow(non_camel_case_types)]
pub type pm_destroy_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// How a window receives messages.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum pm_dispatch_mode {
    /// Listeners run on the posting thread before the post returns (the default; the seed's
    /// behaviour).
    #[default]
    PM_DISPATCH_SYNC = 0,
    /// Posts queue a task; `pm_window_run_pending` runs it (the HTML standard's behaviour).
    PM_DISPATCH_QUEUED = 1,
}

impl pm_dispatch_mode {
    /// Converts a raw C value, rejecting values outside the enum.
    pub fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            0 => Some(pm_dispatch_mode::PM_DISPATCH_SYNC),
            1 => Some(pm_dispatch_mode::PM_DISPATCH_QUEUED),
            _ => None,
        }
    }
}

/// Called when a window's queue becomes non-empty.
#[allow(non_camel_case_types)]
pub type pm_wake_fn = Option<unsafe extern "C" fn(window: *mut pm_window, user_data: *mut c_void)>;

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

/// A `pm_result` as a C callback returns it: taken as an integer so that an out-of-range value
/// is an error, not undefined behaviour (the header names it `pm_result`).
pub type RawResult = u32;

/// Sends a record to the process holding the proxy's document. `record` is valid only during
/// the call (copy it). Returns what the post returns: `PM_OK` (delivered there, or sent without
/// waiting), `PM_DROPPED` (the other side dropped it) or an error code.
#[allow(non_camel_case_types)]
pub type pm_remote_send_fn = Option<
    unsafe extern "C" fn(
        proxy: *mut pm_window,
        record: *const u8,
        record_len: usize,
        user_data: *mut c_void,
    ) -> RawResult,
>;

/// Hands a broadcast record to the embedder's other processes. `record` is valid only during
/// the call.
#[allow(non_camel_case_types)]
pub type pm_broadcast_forward_fn = Option<
    unsafe extern "C" fn(record: *const u8, record_len: usize, user_data: *mut c_void) -> RawResult,
>;
