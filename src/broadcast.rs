//! BroadcastChannel: a message posted on a channel reaches every other open channel with the
//! same name whose window has the same origin, in creation order, never the sender.
//!
//! A post from a channel this thread posted from before runs from a per-thread view of its
//! receivers (their listener snapshots and windows' modes), validated by one process-wide
//! version and each receiver window's slot version: no lock, reference count or allocation
//! per post when every receiver is SYNC, one window lock per QUEUED receiver (see
//! [`post_cached`]).

use crate::abi::{pm_dispatch_mode, pm_drop_reason};
use crate::cache::{DirectMapped, PerThread};
use crate::diagnostics::{self, DropReport};
use crate::error::Error;
use crate::event;
use crate::handles::{Handle, HandleTable};
use crate::listener::{ListenerList, ListenerRef};
use crate::origin::Origin;
use crate::queue::{Bytes, Entry, INLINE_BYTES};
use crate::thread;
use crate::window::WINDOWS;
use crate::window::{self, Refusal, Resource, Retiring};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    changed();
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
    let mut cached = post_cached(handle, data);
    if let Cached::Miss = cached {
        remember(handle);
        cached = post_cached(handle, data);
    }
    if let Cached::Done(result) = cached {
        return result;
    }
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
    changed();
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
    let mut shared = None;
    let mut result = Ok(());
    for receiver in &receivers {
        if let Err(error) = deliver_to(receiver, data, &mut shared, origin) {
            result = Err(error);
        }
    }
    result
}

/// Delivers a broadcast to one receiver per its window's mode: now on this thread (SYNC), or
/// as a queue entry (QUEUED; small data inside the entry, larger data one copy per post, made in
/// `shared` by the first). The mode comes from the thread's window cache. Returns the receiver's refusal (depth, queue full), which has been reported.
fn deliver_to(
    receiver: &Arc<Channel>,
    data: &[u8],
    shared: &mut Option<Arc<[u8]>>,
    origin: &Origin,
) -> Result<(), Error> {
    match thread::mode(receiver.window) {
        Err(_) => Ok(()),
        Ok(pm_dispatch_mode::PM_DISPATCH_SYNC) => match thread::enter_depth() {
            Ok(_depth) => {
                dispatch(receiver, data, origin);
                Ok(())
            }
            Err(error) => {
                report(pm_drop_reason::PM_DROP_DEPTH, receiver, origin, data.len());
                Err(error)
            }
        },
        Ok(pm_dispatch_mode::PM_DISPATCH_QUEUED) => {
            let window = receiver.window;
            // Small data is kept inside each entry; large data is one copy shared by the
            // queued receivers of this post.
            let data = queued_bytes(data, shared);
            // A receiver's origin is the sender's (same origin): the entry needs no copy of it.
            let entry = Entry::Data(receiver.clone(), data);
            match window::try_enqueue(window, entry, false) {
                Ok(()) => Ok(()),
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
                    Err(limits.refusal(count, bytes))
                }
                Err((_, entry)) => {
                    window::discard(*entry, pm_drop_reason::PM_DROP_TARGET_GONE, None, None);
                    Ok(())
                }
            }
        }
    }
}

/// A queued receiver's copy of the data: small data inside its entry, larger data one copy
/// shared by the queued receivers of a post (made in `shared` by the first).
#[inline(always)]
fn queued_bytes(data: &[u8], shared: &mut Option<Arc<[u8]>>) -> Bytes {
    if data.len() <= INLINE_BYTES {
        Bytes::copy(data)
    } else {
        Bytes::Shared(shared.get_or_insert_with(|| data.into()).clone())
    }
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
    drop(listeners);
    changed();
    Ok(id)
}

pub fn remove_listener(handle: Handle, id: u64) -> Result<(), Error> {
    let channel = lookup(handle)?;
    let listener = channel
        .listeners
        .lock()
        .take(id)
        .ok_or_else(|| Error::invalid_handle("listener id"))?;
    changed();
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
        changed();
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

// ---------------------------------------------------------------------------------------------
// The SYNC post's per-thread cache.

/// Bumped (Release) after every change a cached view reads: a channel opened or closed, a
/// listener added or removed, the forwarder set. Changes of a receiver window's mode are seen
/// through that window's slot version instead.
static VERSION: AtomicU64 = AtomicU64::new(0);

fn changed() {
    VERSION.fetch_add(1, Ordering::Release);
}

/// Senders cached per thread; a channel lives in entry `raw handle % CACHED_SENDERS`.
const CACHED_SENDERS: usize = 16;

/// A sending channel as a post from this thread last saw it, valid while [`VERSION`] is
/// unchanged (it was read before everything else).
struct Sender {
    version: u64,
    channel: Arc<Channel>,
    /// False when a forwarder is set: the checked path forwards, then delivers.
    local_only: bool,
    receivers: Box<[Receiver]>,
}

/// One receiver of a cached sender.
struct Receiver {
    channel: Arc<Channel>,
    /// The receiving window's slot version cell and version, if it was live.
    window: Option<(&'static crate::sync::AtomicU64, u64)>,
    /// The window was SYNC (and not a proxy) at that version.
    sync: bool,
    /// The window was QUEUED (and not a proxy) at that version.
    queued: bool,
    listeners: ListenerList,
    plain: bool,
}

impl Receiver {
    /// Whether its window is unchanged since the view was taken.
    #[inline(always)]
    fn is_current(&self) -> bool {
        self.window
            .is_some_and(|(cell, v)| cell.load(Ordering::Acquire) == v)
    }

    /// Queues `data` for this receiver in its QUEUED window (the view is current) with the
    /// window's lock only, as [`deliver_to`] would; the window's lock checks the mode and the
    /// limits again. False, having made nothing, when the window refuses it: [`deliver_to`]
    /// then decides and reports. Cannot panic (allocation failure aborts; the waker is a C
    /// call).
    #[inline(always)]
    fn queue(&self, data: &[u8], shared: &mut Option<Arc<[u8]>>) -> bool {
        window::enqueue_with(self.channel.window, data.len(), true, || {
            Entry::Data(self.channel.clone(), queued_bytes(data, shared))
        })
        .is_ok()
    }
}

impl Sender {
    /// The current view of the channel behind `handle`; None if it is not a live channel.
    fn load(handle: Handle) -> Option<Sender> {
        let version = VERSION.load(Ordering::Acquire);
        let channel = lookup(handle).ok()?;
        if channel.is_closed() {
            return None;
        }
        let local_only = FORWARDER.read().is_none();
        let receivers = REGISTRY
            .read()
            .get(&channel.name)
            .map(|all| {
                all.iter()
                    .filter(|c| {
                        !Arc::ptr_eq(c, &channel)
                            && !c.is_closed()
                            && c.origin.same_origin(&channel.origin)
                    })
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let receivers = receivers
            .into_iter()
            .map(|channel| {
                let found = WINDOWS
                    .with_versioned(channel.window, |w| w.remote().is_none().then(|| w.mode()));
                let listeners = channel.listeners.lock().snapshot();
                let plain = listeners.as_slice().iter().all(|l| l.is_plain());
                Receiver {
                    channel,
                    window: found.map(|(v, cell, _)| (cell, v)),
                    sync: found.is_some_and(|(_, _, mode)| {
                        mode == Some(pm_dispatch_mode::PM_DISPATCH_SYNC)
                    }),
                    queued: found.is_some_and(|(_, _, mode)| {
                        mode == Some(pm_dispatch_mode::PM_DISPATCH_QUEUED)
                    }),
                    listeners,
                    plain,
                }
            })
            .collect();
        Some(Sender {
            version,
            channel,
            local_only,
            receivers,
        })
    }
}

thread_local! {
    static SENDERS: DirectMapped<Sender, CACHED_SENDERS> = const { DirectMapped::new() };
}

/// What [`post_cached`] did.
enum Cached {
    /// Posted (the result of the whole post).
    Done(Result<(), Error>),
    /// Nothing done: the checked path decides (a forwarder is set, or the thread is exiting).
    Slow,
    /// Nothing done: the channel is not cached on this thread, or its view is stale.
    Miss,
}

/// A post through a cached sender: each receiver whose window is still SYNC runs its cached
/// listeners on this thread, with no lock, reference count or allocation; one whose window is
/// still QUEUED gets an entry in its queue under that window's lock. A receiver whose
/// window changed, or every receiver after a channel or listener changed meanwhile (a
/// listener may close the next receiver), is served by [`deliver_to`] as the checked path
/// would, so both deliver the same. A shared borrow of the cache is held while listeners run:
/// their own posts use the cache too, and a refresh during one does not happen.
fn post_cached(handle: Handle, data: &[u8]) -> Cached {
    SENDERS
        .lookup(handle.to_raw(), |sender| {
            let Some(sender) = sender.filter(|s| VERSION.load(Ordering::Acquire) == s.version)
            else {
                return Cached::Miss;
            };
            if !sender.local_only {
                return Cached::Slow;
            }
            let origin = &sender.channel.origin;
            let event = event::channel_event(data, origin.as_c_ptr());
            thread::with_current(|state| {
                let Some(state) = state else {
                    return Cached::Slow;
                };
                let mut shared = None;
                let mut result = Ok(());
                for receiver in &sender.receivers {
                    let current =
                        VERSION.load(Ordering::Acquire) == sender.version && receiver.is_current();
                    if current
                        && receiver.sync
                        && let Some(_depth) = state.try_enter_depth()
                    {
                        if receiver.plain {
                            for listener in receiver.listeners.as_slice() {
                                listener.call_plain(&event);
                            }
                        } else {
                            for listener in receiver.listeners.as_slice() {
                                listener.call_unfiltered(&event);
                            }
                        }
                    } else if current && receiver.queued && receiver.queue(data, &mut shared) {
                        // Queued.
                    } else if let Err(error) =
                        deliver_to(&receiver.channel, data, &mut shared, origin)
                    {
                        result = Err(error);
                    }
                }
                Cached::Done(result)
            })
        })
        .unwrap_or(Cached::Slow)
}

/// Caches this thread's view of the channel behind `handle` (after a [`Cached::Miss`]).
#[cold]
fn remember(handle: Handle) {
    let Some(sender) = Sender::load(handle) else {
        return;
    };
    SENDERS.remember(handle.to_raw(), sender);
}
