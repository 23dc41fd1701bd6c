//! Dispatch: posting a message to a window and running its listeners.
//!
//! Synchronous delivery (the seed's behaviour, and the default): the targetOrigin is checked
//! against the target's *current* origin, the target's listener list is snapshotted, every lock is
//! released, and each listener still registered runs in order on the posting thread. A
//! per-thread depth counter stops runaway re-entrant posting.

use crate::error::{Error, pm_result};
use crate::handles::Handle;
use crate::listener::ListenerList;
use crate::origin::{Origin, TargetOrigin};
use crate::types::{pm_message_event, pm_window};
use crate::window::WINDOWS;
use std::cell::Cell;
use std::ptr;

/// Nested dispatches allowed on one thread (window, port and broadcast deliveries, and
/// `pm_window_run_pending`, all count).
pub const PM_MAX_DISPATCH_DEPTH: u32 = 32;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// One level of dispatch on this thread; dropping it leaves the level.
pub struct DepthGuard(());

impl DepthGuard {
    /// Enters a dispatch level, or fails with `PM_ERR_DEPTH` if that would exceed the limit.
    pub fn enter() -> Result<DepthGuard, Error> {
        DEPTH.with(|d| {
            let depth = d.get();
            if depth >= PM_MAX_DISPATCH_DEPTH {
                return Err(Error::depth());
            }
            d.set(depth + 1);
            Ok(DepthGuard(()))
        })
    }

    /// Current nesting depth on this thread.
    pub fn current() -> u32 {
        DEPTH.with(|d| d.get())
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// What a window post did when it did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Dispatched (every listener registered at dispatch start and still registered ran).
    Delivered,
    /// The targetOrigin did not match the target's origin; nothing ran.
    Dropped,
}

impl Delivery {
    pub fn code(self) -> pm_result {
        match self {
            Delivery::Delivered => pm_result::PM_OK,
            Delivery::Dropped => pm_result::PM_DROPPED,
        }
    }
}

/// Posts `data` from `source` to `target` (the HTML "window post message steps", synchronous).
pub fn post(
    source: Handle,
    target: Handle,
    data: &[u8],
    target_origin: &[u8],
) -> Result<Delivery, Error> {
    let source_origin = WINDOWS
        .with(source, |w| w.origin().clone())
        .ok_or_else(|| Error::invalid_handle("source window"))?;
    let target_origin = TargetOrigin::parse_cached(target_origin)?;
    let listeners = WINDOWS
        .with(target, |w| {
            target_origin
                .matches(&source_origin, w.origin())
                .then(|| w.listeners().snapshot())
        })
        .ok_or_else(|| Error::invalid_handle("target window"))?;
    let Some(listeners) = listeners else {
        return Ok(Delivery::Dropped);
    };
    let _depth = DepthGuard::enter()?;
    deliver(
        &listeners,
        &window_event(data, &source_origin, Some(source), Some(target)),
    );
    Ok(Delivery::Delivered)
}

/// Runs each listener of a snapshot that is still registered, in order.
pub fn deliver(listeners: &ListenerList, event: &pm_message_event) {
    for listener in listeners.iter() {
        listener.call(event);
    }
}

const EMPTY: &[u8; 1] = b"\0";

fn handle_ptr(handle: Option<Handle>) -> *mut pm_window {
    handle.map_or(ptr::null_mut(), |h| h.to_raw() as *mut pm_window)
}

/// Builds the event for a window message; it borrows `data` and `origin`.
pub fn window_event(
    data: &[u8],
    origin: &Origin,
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
        origin: origin.as_c_ptr(),
        last_event_id: c"".as_ptr(),
        source: handle_ptr(source),
        target: handle_ptr(target),
        ports: ptr::null(),
        ports_len: 0,
    }
}
