//! BroadcastChannel: a message posted on a channel reaches every other open channel with the
//! same name whose window has the same origin, in creation order, never the sender.

use crate::abi::{pm_dispatch_mode, pm_drop_reason};
use crate::diagnostics::{self, DropReport};
use crate::error::Error;
use crate::event;
use crate::handles::{Handle, HandleTable};
use crate::listener::{ListenerList, ListenerRef};
use crate::origin::Origin;
use crate::queue::{Bytes, Entry, INLINE_BYTES};
use crate::thread;
use crate::window::{self, Refusal, Resource, Retiring};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

/// All live channel handles.
pub static CHANNELS: HandleTable<Arc<Channel>> = HandleTable::new(3);

/// Open channels by name, each list in creation order.
static REGISTRY: LazyLock<RwLock<Registry>> = LazyLock::new(Default::default);

type Registry = HashMap<Box<str>, Vec<Arc<Channel>>>;

/// A BroadcastChannel.
pub struct Channel {
    handle: Handle,
    name: Box<str>,
    window: Handle,
    /// The window's origin when the channel was made (channels close when it navigates).
    origin: Origin,
    closed: AtomicBool,
    listeners: Mutex<ListenerList>,
}

impl Channel {
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

fn invalid_channel() -> Error {
    Error::invalid_handle("broadcast channel")
}

fn lookup(handle: Handle) -> Result<Arc<Channel>, Error> {
    CHANNELS
        .with(handle, Arc::clone)
        .ok_or_else(invalid_channel)
}

/// Opens a channel named `name` in `window`'s current document.
pub fn open(window: Handle, name: &str) -> Result<Handle, Error> {
    window::require_local(window)?; // a proxy runs no script
    let origin = window::origin(window)?;
    let handle = CHANNELS.insert_with(|handle| {
        Arc::new(Channel {
            handle,
            name: name.into(),
            window,
            origin,
            closed: AtomicBool::new(false),
            listeners: Mutex::new(ListenerList::default()),
        })
    });
    let channel = lookup(handle)?;
    REGISTRY
        .write()
        .entry(name.into())
        .or_default()
        .push(channel.clone());
    // Registered first, adopted second: if the window goes away in between, closing finds it.
    if window::adopt(window, channel.clone()).is_err() {
        close_all(vec![channel]);
        return Err(Error::invalid_handle("window"));
    }
    Ok(handle)
}

/// Posts `data` to every other open same-name, same-origin channel. Receivers in SYNC windows
/// run now, on this thread; QUEUED windows get a task. If some receiver refused the message
/// (its queue full, or depth exceeded) the others still get it and that error is returned.
pub fn post(handle: Handle, data: &[u8]) -> Result<(), Error> {
    let sender = lookup(handle)?;
    // With a forwarder set, the post also goes to other processes.
    let forwarder = FORWARDER.read().clone();
    let forwarded = match forwarder {
        Some(forwarder) => forwarder.forward(&sender.name, &sender.origin, data),
        None => Ok(()),
    };
    post_to(&sender.name, &sender.origin, Some(&sender), data).and(forwarded)
}

/// Where broadcasts also go when the embedder forwards them to other processes. Implemented
/// above this layer (by `remote`), so channels do not name how records travel.
pub trait Forwarder: Send + Sync {
    /// Hands a post of channel `name` from a window of `origin` on. Called with no lock held.
    fn forward(&self, name: &str, origin: &Origin, data: &[u8]) -> Result<(), Error>;
}

/// The process-wide forwarder, if any.
static FORWARDER: RwLock<Option<Arc<dyn Forwarder>>> = RwLock::new(None);

/// Sets (or with None removes) the process-wide forwarder.
pub fn set_forwarder(forwarder: Option<Arc<dyn Forwarder>>) {
    *FORWARDER.write() = forwarder;
}

/// A broadcast from another process, to every open channel named `name` whose window has
/// `origin`.
pub fn deliver_remote(name: &str, origin: &Origin, data: &[u8]) -> Result<(), Error> {
    post_to(name, origin, None, data)
}

/// Delivers to every open channel named `name` with `origin`, except `sender`.
fn post_to(
    name: &str,
    origin: &Origin,
    sender: Option<&Arc<Channel>>,
    data: &[u8],
) -> Result<(), Error> {
    let receivers: Vec<Arc<Channel>> = REGISTRY
        .read()
        .get(name)
        .map(|all| {
            all.iter()
                .filter(|c| {
                    !sender.is_some_and(|s| Arc::ptr_eq(c, s))
                        && !c.is_closed()
                        && c.origin.same_origin(origin)
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if receivers.is_empty() {
        return Ok(());
    }
    // Queued receivers share one copy of large data (small data is kept inside each task).
    let mut shared: Option<Arc<[u8]>> = None;
    let mut result = Ok(());
    for receiver in receivers {
        match thread::mode(receiver.window) {
            Err(_) => {}
            Ok(pm_dispatch_mode::PM_DISPATCH_SYNC) => match thread::enter_depth() {
                Ok(_depth) => dispatch(&receiver, data, origin),
                Err(error) => {
                    report(pm_drop_reason::PM_DROP_DEPTH, &receiver, origin, data.len());
                    result = Err(error);
                }
            },
            Ok(pm_dispatch_mode::PM_DISPATCH_QUEUED) => {
                let window = receiver.window;
                let data = if data.len() <= INLINE_BYTES {
                    Bytes::copy(data)
                } else {
                    Bytes::Shared(shared.get_or_insert_with(|| data.into()).clone())
                };
                // The channel moves into the entry: a receiver's origin is the sender's (same
                // origin), so the entry needs no copy of it.
                let entry = Entry::Data(receiver, data);
                match window::try_enqueue(window, entry, false) {
                    Ok(()) => {}
                    Err((Refusal::Full(limits, count, bytes), entry)) => {
                        // The window's origin is the channel's (it closes on navigation).
                        let origin = diagnostics::enabled()
                            .then(|| window::origin(window).ok())
                            .flatten();
                        window::discard(
                            *entry,
                            pm_drop_reason::PM_DROP_QUEUE_FULL,
                            Some(window),
                            origin.as_ref(),
                        );
                        result = Err(limits.refusal(count, bytes));
                    }
                    Err((_, entry)) => {
                        window::discard(*entry, pm_drop_reason::PM_DROP_TARGET_GONE, None, None);
                    }
                }
            }
        }
    }
    result
}

fn report(reason: pm_drop_reason, receiver: &Channel, origin: &Origin, data_len: usize) {
    diagnostics::report(DropReport {
        reason,
        source_origin: origin.as_c_ptr(),
        target_origin: receiver.origin.as_c_ptr(),
        requested_origin: "",
        source: None,
        target: Some(receiver.window),
        data_len,
    });
}

/// Runs a channel's listeners for a broadcast (the caller holds a depth level). A channel closed
/// before this runs receives nothing.
fn dispatch(channel: &Channel, data: &[u8], origin: &Origin) {
    if channel.is_closed() {
        report(
            pm_drop_reason::PM_DROP_TARGET_GONE,
            channel,
            origin,
            data.len(),
        );
        return;
    }
    let listeners = channel.listeners.lock().snapshot();
    let event = event::channel_event(data, origin.as_c_ptr());
    event::deliver(listeners.as_slice(), &event, None, || {});
}

pub fn add_listener(handle: Handle, listener: ListenerRef) -> Result<u64, Error> {
    let channel = lookup(handle)?;
    let id = listener.id();
    let mut listeners = channel.listeners.lock();
    // close_all sets `closed` before taking the listeners under this lock, so a listener added
    // here is either taken by it or refused now (and then never destroyed: the add failed).
    if channel.is_closed() {
        return Err(invalid_channel());
    }
    listeners.push(listener);
    Ok(id)
}

pub fn remove_listener(handle: Handle, id: u64) -> Result<(), Error> {
    let channel = lookup(handle)?;
    let listener = channel
        .listeners
        .lock()
        .take(id)
        .ok_or_else(|| Error::invalid_handle("listener id"))?;
    listener.remove();
    Ok(())
}

/// Closes a channel and frees its handle; queued messages to it are not delivered.
pub fn close(handle: Handle) -> Result<(), Error> {
    let channel = lookup(handle)?;
    window::disown(channel.window, &channel);
    close_all(vec![channel]);
    Ok(())
}

/// Closes channels (those of a retired document, or one being closed).
pub fn close_all(channels: Vec<Arc<Channel>>) {
    let mut removed = Vec::new();
    for channel in channels {
        if channel.closed.swap(true, Ordering::AcqRel) {
            continue;
        }
        CHANNELS.remove(channel.handle);
        let mut registry = REGISTRY.write();
        if let Some(list) = registry.get_mut(&channel.name) {
            list.retain(|c| !Arc::ptr_eq(c, &channel));
            if list.is_empty() {
                registry.remove(&channel.name);
                if registry.is_empty() {
                    // Give the table back too: the registry then holds no memory at all.
                    registry.shrink_to_fit();
                }
            }
        }
        drop(registry);
        removed.extend(channel.listeners.lock().take_all());
    }
    for listener in removed {
        listener.remove();
    }
}

/// A broadcast queued in the receiving channel's window. The event's origin is the channel's
/// own: it is the sender's (only same-origin channels receive), so the serialization is the
/// same.
impl crate::queue::Receiver for Channel {
    fn receive(self: Arc<Self>, _: Handle, data: Bytes) {
        dispatch(&self, data.as_slice(), &self.origin);
    }

    fn refuse(
        &self,
        reason: pm_drop_reason,
        target: Option<Handle>,
        target_origin: Option<&Origin>,
        data_len: usize,
    ) {
        diagnostics::report(DropReport {
            reason,
            source_origin: self.origin.as_c_ptr(),
            target_origin: diagnostics::origin_ptr(target_origin),
            requested_origin: "",
            source: None,
            target,
            data_len,
        });
    }
}

/// A retired document closes its broadcast channels.
impl Resource for Channel {
    fn retire(self: Arc<Self>, _: Handle, _: &Retiring<'_>) {
        close_all(vec![self]);
    }
}
