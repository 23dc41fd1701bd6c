//! The C-visible types: opaque handles, the message event and callback signatures.

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
