//! The message event handed to listeners, and the steps every kind of message shares: building
//! the event, running a listener snapshot, reporting a dropped port message. Imports nothing
//! above listeners and drop reports, so windows, ports and channels can all use it.

use crate::abi::{pm_drop_reason, pm_message_event, pm_port};
use crate::diagnostics::{self, DropReport};
use crate::handles::Handle;
use crate::listener::{Called, ListenerRef};
use crate::origin::{Origin, OriginKey};
use std::ptr;

/// What a post did when it did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Dispatched (every listener registered at dispatch start and still registered ran), or
    /// queued for later delivery.
    Delivered,
    /// Not delivered and not an error (origin mismatch, or port partner closed).
    Dropped,
}

/// Runs each listener of a snapshot that is still registered, in order. `source_origin` is the
/// origin allow-lists check (window messages only); `on_filtered` runs once per listener an
/// allow-list skipped.
#[inline]
pub fn deliver(
    listeners: &[ListenerRef],
    event: &pm_message_event,
    source_origin: Option<OriginKey<'_>>,
    on_filtered: impl Fn(),
) {
    for listener in listeners.iter() {
        if listener.call(event, source_origin) == Called::Filtered {
            on_filtered();
        }
    }
}

/// Reports a dropped port message (which has no source origin or window).
pub fn report_port_drop(
    reason: pm_drop_reason,
    target: Option<Handle>,
    target_origin: Option<&Origin>,
    data_len: usize,
) {
    diagnostics::report(DropReport {
        reason,
        source_origin: c"".as_ptr(),
        target_origin: diagnostics::origin_ptr(target_origin),
        requested_origin: "",
        source: None,
        target,
        data_len,
    });
}

const EMPTY: &[u8; 1] = b"\0";

/// Builds the event for a window message; it borrows `data` and `origin`.
#[inline]
pub fn window_event(
    data: &[u8],
    origin: *const std::ffi::c_char,
    source: Option<Handle>,
    target: Option<Handle>,
) -> pm_message_event {
    pm_message_event {
        data: if data.is_empty() {
            EMPTY.as_ptr()
        } else {
            data.as_ptr()
        },
        data_len: data.len(),
        origin,
        last_event_id: c"".as_ptr(),
        source: Handle::ptr_or_null(source),
        target: Handle::ptr_or_null(target),
        ports: ptr::null(),
        ports_len: 0,
    }
}

/// Builds the event for a port or broadcast message (no source or target window).
pub fn channel_event(data: &[u8], origin: *const std::ffi::c_char) -> pm_message_event {
    window_event(data, origin, None, None)
}

/// Points the event's `ports` at transferred port handles (which must outlive the event).
pub fn set_ports(event: &mut pm_message_event, handles: &[*mut pm_port]) {
    if !handles.is_empty() {
        event.ports = handles.as_ptr();
        event.ports_len = handles.len();
    }
}

/// Ports given to a receiver, as C pointers.
pub type PortHandles = Vec<*mut pm_port>;
