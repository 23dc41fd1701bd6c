//! MessageChannel ports (HTML "channel messaging").
//!
//! A port's state lives in an `Arc<Port>` that outlives its handles: transferring a port retires
//! its handle at post time and gives the receiver a new one at delivery, while the entangled
//! partner keeps pointing at the same `Port`. Messages to a port wait in its own queue until a
//! first listener starts it; then they follow the owning window's mode (dispatched at once, or
//! queued as window tasks). A transfer takes the port's messages out of its owner window's queue
//! back into its own, in order (the port's message queue moves with it; see [`detach`]).
//! Transfers and closes are serialized by one lock (`TRANSFER`), so a port is never transferred
//! and closed at the same time; posts do not take it.
//!
//! A post to a started port runs from a per-thread cache of what it needs (the partner's
//! listener snapshot, or its QUEUED owner window), validated by each port's version and the
//! owner window's slot version: a SYNC post takes no lock, reference count or allocation, a
//! QUEUED one only the owner window's lock (see [`post_fast`]).

use crate::abi::{pm_dispatch_mode, pm_drop_reason};
use crate::cache::{DirectMapped, PerThread};
use crate::diagnostics::{self};
use crate::error::{Error, ErrorKind};
use crate::event::{self, Delivery, PortHandles};
use crate::handles::{Handle, HandleTable};
use crate::listener::{ListenerList, ListenerRef};
use crate::origin::Origin;
use crate::queue::{BoxedTask, Bytes, Doc, Memo, Out, Receiver, Task};
use crate::thread;
use crate::window::WINDOWS;
use crate::window::{self, Refusal, Resource, Retiring};
use parking_lot::{Mutex, MutexGuard};
use std::any::Any;
use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// All live port handles.
pub static PORTS: HandleTable<Arc<Port>> = HandleTable::new(2);

/// Serializes transfers and closes (never held while calling out).
static TRANSFER: Mutex<()> = Mutex::new(());

/// A MessagePort.
pub struct Port {
    inner: Mutex<PortInner>,
    /// Bumped (under the lock, Release) by every change of what a cached post reads: partner,
    /// remote link, owner, listeners, started/draining, closed. See [`Port::change`].
    version: AtomicU64,
}

impl Port {
    fn new(owner: Option<Handle>, remote: Option<Arc<dyn RemotePartner>>) -> Arc<Port> {
        Arc::new(Port {
            inner: Mutex::new(PortInner {
                handle: None,
                owner,
                partner: Weak::new(),
                listeners: ListenerList::default(),
                started: false,
                draining: false,
                drainer: 0,
                pending: VecDeque::new(),
                pending_bytes: 0,
                accepted: 0,
                cut: 0,
                closed: false,
                remote,
            }),
            version: AtomicU64::new(0),
        })
    }

    /// Locks the port to change its state: the version is bumped before the lock is released,
    /// so every thread's cached view of it (taken under the lock) is stale from then on.
    /// (Queuing into `pending` uses the plain lock: no cached view reads it.)
    fn change(&self) -> Changing<'_> {
        Changing {
            guard: self.inner.lock(),
            version: &self.version,
        }
    }

    /// Whether nothing changed since the port's version was read as `version` (a transfer,
    /// close, start or listener change bumps it).
    #[inline(always)]
    fn unchanged_since(&self, version: u64) -> bool {
        self.version.load(Ordering::Acquire) == version
    }
}

/// The port's lock taken by [`Port::change`].
struct Changing<'a> {
    // Dropped after `drop` below has bumped the version.
    guard: MutexGuard<'a, PortInner>,
    version: &'a AtomicU64,
}

impl Deref for Changing<'_> {
    type Target = PortInner;
    fn deref(&self) -> &PortInner {
        &self.guard
    }
}

impl DerefMut for Changing<'_> {
    fn deref_mut(&mut self) -> &mut PortInner {
        &mut self.guard
    }
}

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.version.fetch_add(1, Ordering::Release);
    }
}

struct PortInner {
    /// The current handle; None while in flight (being transferred) or once closed.
    handle: Option<Handle>,
    /// The window whose document owns the port; None while in flight or once closed.
    owner: Option<Handle>,
    partner: Weak<Port>,
    listeners: ListenerList,
    /// Set by the first listener; messages wait in `pending` until then.
    started: bool,
    /// A thread is delivering `pending` after start; new messages queue behind it.
    draining: bool,
    /// The thread running that delivery ([`this_thread`]).
    drainer: usize,
    pending: VecDeque<PortMessage>,
    /// Bytes of data in `pending`.
    pending_bytes: usize,
    /// How many messages at the head of `pending` were accepted once already (taken out of the
    /// old owner window's queue when the port moved, or on their way out of the port then):
    /// the new window's queue limits do not refuse them.
    accepted: usize,
    /// Where in `pending` a message that was on its way out of the port when it moved goes:
    /// behind the messages taken out of the old window's queue, ahead of those posted since.
    cut: usize,
    closed: bool,
    /// Set while the partner lives in another process (the layer above links it).
    remote: Option<Arc<dyn RemotePartner>>,
}

/// A message on its way to a port.
pub struct PortMessage {
    pub data: Box<[u8]>,
    pub ports: Vec<Arc<Port>>,
}

/// Where a message joins a port's `pending` queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// A new message: at the back.
    Back,
    /// Taken off the old owner window's queue (its task already running there) before the
    /// port moved: older than anything waiting, so first.
    First,
    /// On its way out of the port (into its owner window) when the port moved: at `cut`.
    Moved,
}

impl PortInner {
    /// Puts a message into `pending` at `place`.
    fn stash(&mut self, message: PortMessage, place: Place) {
        self.pending_bytes += message.data.len();
        match place {
            Place::Back => self.pending.push_back(message),
            Place::First => {
                self.pending.push_front(message);
                self.accepted += 1;
                self.cut += 1;
            }
            Place::Moved => {
                let at = self.cut.min(self.pending.len());
                self.pending.insert(at, message);
                self.accepted = self.accepted.max(at) + 1;
                self.cut = at + 1;
            }
        }
    }

    /// Takes the oldest waiting message, and whether it was accepted once already.
    fn next(&mut self) -> Option<(PortMessage, bool)> {
        let message = self.pending.pop_front()?;
        self.pending_bytes -= message.data.len();
        let accepted = self.accepted > 0;
        self.accepted = self.accepted.saturating_sub(1);
        self.cut = self.cut.saturating_sub(1);
        Some((message, accepted))
    }

    /// Empties `pending`.
    fn take_pending(&mut self) -> VecDeque<PortMessage> {
        self.pending_bytes = 0;
        self.accepted = 0;
        self.cut = 0;
        std::mem::take(&mut self.pending)
    }

    /// Puts the messages taken out of the old owner window's queue (in order) in front of the
    /// waiting ones: they were queued before anything that waits here.
    fn take_moved(&mut self, moved: Vec<Option<PortMessage>>) {
        let mut count = 0;
        for message in moved.into_iter().rev().flatten() {
            self.pending_bytes += message.data.len();
            self.pending.push_front(message);
            count += 1;
        }
        self.accepted += count;
        self.cut = count;
    }
}

/// Whether a queued task is a message for `port` (one with ports).
fn is_for(task: &dyn Task, port: &Arc<Port>) -> bool {
    (task as &dyn Any)
        .downcast_ref::<PortTask>()
        .is_some_and(|task| Arc::ptr_eq(&task.port, port))
}

/// A message taken out of the old owner window's queue as the port's pending message (runs
/// under that window's lock: it moves and copies, and drops no port).
fn moved_message(out: Out<'_>) -> Option<PortMessage> {
    match out {
        Out::Data(data) => Some(PortMessage {
            data: data.into(),
            ports: Vec::new(),
        }),
        // `is_for` picked only this port's tasks.
        Out::Task(task) => (task as Box<dyn Any>)
            .downcast::<PortTask>()
            .ok()
            .map(|task| PortMessage {
                data: task.data.into_boxed(),
                ports: task.ports,
            }),
    }
}

fn invalid_port() -> Error {
    Error::invalid_handle("port")
}

fn data_clone(message: &'static str) -> Error {
    Error::new(ErrorKind::DataClone, message)
}

fn lookup(handle: Handle) -> Result<Arc<Port>, Error> {
    PORTS.with(handle, Arc::clone).ok_or_else(invalid_port)
}

/// Creates an entangled pair of ports owned by `owner`'s current document.
pub fn channel_new(owner: Handle) -> Result<(Handle, Handle), Error> {
    window::require_local(owner)?;
    let make = || Port::new(Some(owner), None);
    let (a, b) = (make(), make());
    a.change().partner = Arc::downgrade(&b);
    b.change().partner = Arc::downgrade(&a);
    let mut handles = [None, None];
    for (slot, port) in handles.iter_mut().zip([&a, &b]) {
        let handle = PORTS.insert_with(|_| port.clone());
        port.change().handle = Some(handle);
        *slot = Some(handle);
        if window::adopt(owner, port.clone()).is_err() {
            close_ports(vec![a.clone(), b.clone()], None, None);
            return Err(Error::invalid_handle("owner window"));
        }
    }
    Ok((handles[0].expect("set"), handles[1].expect("set")))
}

/// Takes the ports of a transfer list away from their owners: their handles become invalid and
/// their listeners are removed. Fails with `PM_ERR_DATA_CLONE` (transferring nothing) for the
/// sending port itself, its partner, a duplicate, or a closed or unknown port.
pub fn detach(transfer: &[Handle], sender: Option<&Arc<Port>>) -> Result<Vec<Arc<Port>>, Error> {
    if transfer.is_empty() {
        return Ok(Vec::new());
    }
    let partner = sender.and_then(|s| s.inner.lock().partner.upgrade());
    let mut removed: Vec<ListenerRef> = Vec::new();
    let mut ports = Vec::with_capacity(transfer.len());
    {
        let _transfer = TRANSFER.lock();
        for (i, &handle) in transfer.iter().enumerate() {
            if transfer[..i].contains(&handle) {
                return Err(data_clone("the transfer list names the same port twice"));
            }
            let port = PORTS.with(handle, Arc::clone).ok_or_else(|| {
                data_clone("the transfer list holds a closed, freed or unknown port")
            })?;
            if sender.is_some_and(|s| Arc::ptr_eq(s, &port)) {
                return Err(data_clone("a port cannot transfer itself"));
            }
            if partner.as_ref().is_some_and(|p| Arc::ptr_eq(p, &port)) {
                return Err(data_clone("a port cannot transfer its own partner"));
            }
            ports.push((handle, port));
        }
        for (handle, port) in &ports {
            PORTS.remove(*handle);
            let owner = {
                let mut inner = port.change();
                inner.handle = None;
                inner.started = false;
                removed.extend(inner.listeners.take_all());
                let owner = inner.owner.take();
                if let Some(owner) = owner {
                    // The port's message queue moves with it: what waits for it in the owner
                    // window's queue comes out, in order, ahead of what waits in the port.
                    // Posts racing this check the version under that window's lock
                    // (`window::enqueue_if`); bumped before the entries are taken, it makes
                    // each such post either be taken along or be refused and decided again.
                    port.version.fetch_add(1, Ordering::Release);
                    let moved =
                        window::take_queued(owner, port, |t| is_for(t, port), moved_message);
                    inner.take_moved(moved);
                }
                owner
            };
            if let Some(owner) = owner {
                window::disown(owner, port);
            }
        }
    }
    for listener in removed {
        listener.remove();
    }
    Ok(ports.into_iter().map(|(_, port)| port).collect())
}

/// Gives in-flight ports new handles owned by `owner`'s current document; returns the handles
/// for the event (ports that cannot be adopted are closed instead).
pub fn adopt(ports: Vec<Arc<Port>>, owner: Handle) -> PortHandles {
    if ports.is_empty() {
        return Vec::new();
    }
    let mut handles = Vec::with_capacity(ports.len());
    let mut orphans = Vec::new();
    for port in ports {
        let handle = PORTS.insert_with(|_| port.clone());
        {
            let mut inner = port.change();
            inner.handle = Some(handle);
            inner.owner = Some(owner);
        }
        if window::adopt(owner, port.clone()).is_ok() {
            handles.push(handle.to_ptr());
        } else {
            orphans.push(port);
        }
    }
    close_ports(orphans, None, None);
    handles
}

/// Posts a message through `handle` to its entangled partner. `tried` is what the caller's
/// [`post_fast`] attempt said (`Fast::Slow` if it made none): after a miss this thread's view
/// of the port is cached and the fast path tried again.
pub fn post(
    handle: Handle,
    data: &[u8],
    transfer: &[Handle],
    tried: Fast,
) -> Result<Delivery, Error> {
    if tried == Fast::Miss && transfer.is_empty() {
        remember(handle);
        if post_fast(handle, data) == Fast::Done {
            return Ok(Delivery::Delivered);
        }
    }
    let port = lookup(handle)?;
    if transfer.is_empty() && post_queued(&port, data) {
        return Ok(Delivery::Delivered);
    }
    // A partner in another process is reached through the port's link.
    if let Some(link) = remote_link(&port) {
        return link.post(&port, data, transfer);
    }
    let partner = port.inner.lock().partner.upgrade();
    if let Some(partner) = &partner {
        // Refuse before taking the transfer list, so a refused post transfers nothing.
        precheck(partner, data.len())?;
    }
    let ports = detach(transfer, Some(&port))?;
    let message = PortMessage {
        data: data.into(),
        ports,
    };
    match partner {
        Some(partner) => enqueue(&partner, message, true, Place::Back),
        None => {
            discard_port_message(message, pm_drop_reason::PM_DROP_TARGET_GONE, None, None);
            Ok(Delivery::Dropped)
        }
    }
}

/// The common QUEUED post, with one lock per port and one window lock: the partner is local,
/// open and started, and its owner window is QUEUED with room. Returns false, having done
/// nothing, in every other case (the checked steps then decide and report).
#[inline]
fn post_queued(port: &Arc<Port>, data: &[u8]) -> bool {
    let partner = {
        let inner = port.inner.lock();
        if inner.remote.is_some() {
            return false;
        }
        inner.partner.upgrade()
    };
    let Some(partner) = partner else {
        return false;
    };
    let (owner, version) = {
        let inner = partner.inner.lock();
        match inner.owner {
            Some(owner) if inner.started && !inner.draining && !inner.closed => {
                (owner, partner.version.load(Ordering::Relaxed))
            }
            _ => return false,
        }
    };
    // Queued inline (no allocation for small data), unless the partner moved meanwhile; a
    // refused entry carries no ports: it goes unreported, the checked path reports.
    window::enqueue_if(
        owner,
        data.len(),
        true,
        true,
        || partner.unchanged_since(version),
        |queue| queue.push_data_copy(&partner, data, || Bytes::copy(data)),
    )
    .is_ok()
}

/// Whether `port` would refuse a message of `data_len` bytes right now: its window's queue is
/// full (QUEUED, or the port's own queue before it starts, which the same limits bound), or a
/// synchronous delivery would exceed the depth limit. Reports the refusal.
fn precheck(port: &Arc<Port>, data_len: usize) -> Result<(), Error> {
    let (owner, started, waiting, waiting_bytes) = {
        let inner = port.inner.lock();
        if inner.closed {
            return Ok(());
        }
        let Some(owner) = inner.owner else {
            return Ok(());
        };
        (
            owner,
            inner.started && !inner.draining,
            inner.pending.len(),
            inner.pending_bytes,
        )
    };
    let Ok((mode, limits)) = window::delivery(owner) else {
        return Ok(());
    };
    let refusal = if !started {
        (!limits.allow(waiting, waiting_bytes, data_len)).then(|| {
            (
                pm_drop_reason::PM_DROP_QUEUE_FULL,
                limits.refusal(waiting, waiting_bytes),
            )
        })
    } else if mode == pm_dispatch_mode::PM_DISPATCH_SYNC {
        (thread::depth() >= thread::PM_MAX_DISPATCH_DEPTH)
            .then(|| (pm_drop_reason::PM_DROP_DEPTH, Error::depth()))
    } else {
        (!window::queue_fits(owner, data_len)?).then(|| {
            (
                pm_drop_reason::PM_DROP_QUEUE_FULL,
                Error::new(
                    ErrorKind::QueueFull,
                    "the receiving window's queue is full; nothing was queued",
                ),
            )
        })
    };
    match refusal {
        None => Ok(()),
        Some((reason, error)) => {
            event::report_port_drop(
                reason,
                Some(owner),
                reported_origin(owner).as_ref(),
                data_len,
            );
            Err(error)
        }
    }
}

/// Hands a message to `port`: waits in its queue until it is started (at `place`), else is
/// delivered per the owning window's mode. With `enforce_limits`, a new message (`Place::Back`)
/// waiting for an unstarted port is bounded by the owning window's queue limits too, and one
/// queued in a QUEUED window by that window's.
fn enqueue(
    port: &Arc<Port>,
    mut message: PortMessage,
    enforce_limits: bool,
    mut place: Place,
) -> Result<Delivery, Error> {
    loop {
        let (owner, version) = {
            let mut inner = port.inner.lock();
            if inner.closed {
                drop(inner);
                discard_port_message(message, pm_drop_reason::PM_DROP_TARGET_GONE, None, None);
                return Ok(Delivery::Dropped);
            }
            match inner.owner {
                Some(owner) if inner.started && !inner.draining => {
                    (owner, port.version.load(Ordering::Relaxed))
                }
                None if !message.ports.is_empty() => {
                    drop(inner);
                    return Ok(push_in_flight(port, message, place));
                }
                owner => {
                    let limits = match owner {
                        Some(owner) if enforce_limits && place == Place::Back && !inner.started => {
                            window::delivery(owner).ok().map(|d| d.1)
                        }
                        _ => None,
                    };
                    if let (Some(owner), Some(limits)) = (owner, limits)
                        && !limits.allow(
                            inner.pending.len(),
                            inner.pending_bytes,
                            message.data.len(),
                        )
                    {
                        let error = limits.refusal(inner.pending.len(), inner.pending_bytes);
                        drop(inner);
                        discard_port_message(
                            message,
                            pm_drop_reason::PM_DROP_QUEUE_FULL,
                            Some(owner),
                            reported_origin(owner).as_ref(),
                        );
                        return Err(error);
                    }
                    inner.stash(message, place);
                    return Ok(Delivery::Delivered);
                }
            }
        };
        match deliver_or_queue(port, owner, version, message, enforce_limits) {
            Ok(result) => return result,
            // The port moved (or changed) since its owner was read: decide again. The message
            // was on its way out of the port then, so it stays ahead of later ones.
            Err(back) => {
                message = back;
                if place == Place::Back {
                    place = Place::Moved;
                }
            }
        }
    }
}

/// Delivers a message to `port` in `owner` (SYNC: now; QUEUED: queued there), as `port` was at
/// `version` (read under its lock with `owner`). Gives the message back, having done nothing,
/// if the port moved or changed since (the caller decides again).
fn deliver_or_queue(
    port: &Arc<Port>,
    owner: Handle,
    version: u64,
    message: PortMessage,
    enforce_limits: bool,
) -> Result<Result<Delivery, Error>, PortMessage> {
    match window::mode(owner) {
        Err(_) => {
            discard_port_message(message, pm_drop_reason::PM_DROP_TARGET_GONE, None, None);
            Ok(Ok(Delivery::Dropped))
        }
        Ok(pm_dispatch_mode::PM_DISPATCH_SYNC) => {
            let _depth = match thread::enter_depth() {
                Ok(guard) => guard,
                Err(error) => {
                    discard_port_message(
                        message,
                        pm_drop_reason::PM_DROP_DEPTH,
                        Some(owner),
                        reported_origin(owner).as_ref(),
                    );
                    return Ok(Err(error));
                }
            };
            dispatch_now(port, owner, message)?;
            Ok(Ok(Delivery::Delivered))
        }
        Ok(pm_dispatch_mode::PM_DISPATCH_QUEUED) => {
            let task: BoxedTask = Box::new(PortTask {
                port: port.clone(),
                data: Bytes::Heap(message.data),
                ports: message.ports,
            });
            let pushed = window::enqueue_task_if(owner, task, enforce_limits, || {
                port.unchanged_since(version)
            });
            let Err((refusal, task)) = pushed else {
                return Ok(Ok(Delivery::Delivered));
            };
            match refusal {
                Refusal::Moved => match (task as Box<dyn Any>).downcast::<PortTask>() {
                    Ok(task) => Err(PortMessage {
                        data: task.data.into_boxed(),
                        ports: task.ports,
                    }),
                    // Never: the task made above is a PortTask.
                    Err(_) => Ok(Ok(Delivery::Dropped)),
                },
                Refusal::Full(limits, count, bytes) => {
                    let origin = reported_origin(owner);
                    task.discard(
                        pm_drop_reason::PM_DROP_QUEUE_FULL,
                        Some(owner),
                        origin.as_ref(),
                    );
                    Ok(Err(limits.refusal(count, bytes)))
                }
                Refusal::Gone | Refusal::NotQueued => {
                    task.discard(pm_drop_reason::PM_DROP_TARGET_GONE, None, None);
                    Ok(Ok(Delivery::Dropped))
                }
            }
        }
    }
}

/// The owning window's origin for a drop report (looked up only when a handler is set).
fn reported_origin(owner: Handle) -> Option<Origin> {
    if diagnostics::enabled() {
        window::origin(owner).ok()
    } else {
        None
    }
}

/// Queues a message that carries ports for a port that is itself in flight. Ports in flight are
/// reachable only through the message that carries them, so if `port` is (transitively) inside
/// one of the carried ports' queues, the two would only hold each other: no window could ever
/// receive them. Such a message is dropped and its ports closed at once rather than leaked.
/// Serialized with transfers and closes, so the check cannot race another such push.
fn push_in_flight(port: &Arc<Port>, message: PortMessage, place: Place) -> Delivery {
    {
        let _transfer = TRANSFER.lock();
        if !reaches(&message.ports, port) {
            let mut inner = port.inner.lock();
            if !inner.closed {
                inner.stash(message, place);
                return Delivery::Delivered;
            }
        }
    }
    discard_port_message(message, pm_drop_reason::PM_DROP_TARGET_GONE, None, None);
    Delivery::Dropped
}

/// Whether `target` is one of `ports` or waits, transitively, in one of their queues. Locks one
/// port at a time; the caller holds `TRANSFER`.
fn reaches(ports: &[Arc<Port>], target: &Arc<Port>) -> bool {
    let mut stack: Vec<Arc<Port>> = ports.to_vec();
    let mut seen: Vec<*const Port> = Vec::new();
    while let Some(port) = stack.pop() {
        if Arc::ptr_eq(&port, target) {
            return true;
        }
        if seen.contains(&Arc::as_ptr(&port)) {
            continue;
        }
        seen.push(Arc::as_ptr(&port));
        let inner = port.inner.lock();
        for message in &inner.pending {
            stack.extend(message.ports.iter().cloned());
        }
    }
    false
}

/// Dispatches a message to the port's listeners on this thread (the caller holds a depth level).
/// Gives it back if the port is no longer `owner`'s started port (transferred since: the
/// message travels with the port; the caller decides where).
fn dispatch_now(port: &Arc<Port>, owner: Handle, message: PortMessage) -> Result<(), PortMessage> {
    let listeners = {
        let inner = port.inner.lock();
        if inner.closed {
            None
        } else if inner.owner != Some(owner) || !inner.started {
            return Err(message);
        } else {
            Some(inner.listeners.snapshot())
        }
    };
    let Some(listeners) = listeners else {
        discard_port_message(
            message,
            pm_drop_reason::PM_DROP_TARGET_GONE,
            Some(owner),
            reported_origin(owner).as_ref(),
        );
        return Ok(());
    };
    let handles = adopt(message.ports, owner);
    let mut event = event::channel_event(&message.data, c"".as_ptr());
    event::set_ports(&mut event, &handles);
    event::deliver(listeners.as_slice(), &event, None, || {});
    Ok(())
}

/// Drops an undelivered port message: closes the ports it carried and reports it.
fn discard_port_message(
    message: PortMessage,
    reason: pm_drop_reason,
    target: Option<Handle>,
    target_origin: Option<&Origin>,
) {
    close_detached(message.ports);
    event::report_port_drop(reason, target, target_origin, message.data.len());
}

/// A port message with ports, queued as a task of the owning window (one without is queued as
/// data for the port: [`Queue::push_data`](crate::queue::Queue::push_data)).
struct PortTask {
    port: Arc<Port>,
    data: Bytes,
    ports: Vec<Arc<Port>>,
}

impl Task for PortTask {
    fn data_len(&self) -> usize {
        self.data.len()
    }

    fn run(self: Box<Self>, window: Handle, _: &Doc<'_>) {
        let port = self.port;
        receive_queued(
            &port,
            || Some(port.clone()),
            window,
            self.data.as_slice(),
            Some(self.ports),
            None,
        );
    }

    fn discard(
        self: Box<Self>,
        reason: pm_drop_reason,
        target: Option<Handle>,
        target_origin: Option<&Origin>,
    ) {
        close_detached(self.ports);
        event::report_port_drop(reason, target, target_origin, self.data.len());
    }
}

/// Data queued for a port in its owner window's queue.
impl Receiver for Port {
    fn receive(&self, this: &Arc<dyn Receiver>, window: Handle, data: &[u8], memo: &mut Memo) {
        // The version covers what delivery checks (closed, owner, started, listeners): while
        // it is the one read with the remembered snapshot, no lock is needed.
        if let Some(listeners) =
            memo.listeners(self, Some(window), self.version.load(Ordering::Acquire))
        {
            let event = event::channel_event(data, c"".as_ptr());
            event::deliver(listeners.as_slice(), &event, None, || {});
            return;
        }
        // The port's own `Arc` is needed only when it moved (rare): then one reference is taken.
        let owned = || {
            (this.clone() as Arc<dyn Any + Send + Sync>)
                .downcast::<Port>()
                .ok()
        };
        receive_queued(self, owned, window, data, None, Some((memo, this)));
    }

    fn refuse(
        &self,
        reason: pm_drop_reason,
        target: Option<Handle>,
        target_origin: Option<&Origin>,
        data_len: usize,
    ) {
        event::report_port_drop(reason, target, target_origin, data_len);
    }
}

/// Delivers a message taken off `window`'s queue to the port's listeners if the port is still
/// that window's and started (one lock); a port closed meanwhile drops it, one moved meanwhile
/// takes it along.
///
/// `ports` is None for data queued without ports (so nothing about a list is dropped then);
/// `owned` gives the port's `Arc` when it must follow a move.
#[inline(always)]
fn receive_queued(
    port: &Port,
    owned: impl FnOnce() -> Option<Arc<Port>>,
    window: Handle,
    data: &[u8],
    ports: Option<Vec<Arc<Port>>>,
    memo: Option<(&mut Memo, &Arc<dyn Receiver>)>,
) {
    let listeners = {
        let inner = port.inner.lock();
        if inner.closed {
            None
        } else if inner.owner == Some(window) && inner.started {
            // Changes bump the version under this lock: read here, it is the snapshot's.
            Some((
                inner.listeners.snapshot(),
                port.version.load(Ordering::Relaxed),
            ))
        } else {
            drop(inner);
            // The port moved to another window while this message was being taken off this
            // window's queue (the transfer took the rest along): it goes first, accepted.
            let message = PortMessage {
                data: data.into(),
                ports: ports.unwrap_or_default(),
            };
            // The transfer took the rest along: this one goes first, accepted.
            match owned() {
                Some(port) => {
                    let _ = enqueue(&port, message, false, Place::First);
                }
                None => {
                    discard_port_message(message, pm_drop_reason::PM_DROP_TARGET_GONE, None, None)
                }
            }
            return;
        }
    };
    let Some((listeners, version)) = listeners else {
        let origin = reported_origin(window);
        if let Some(ports) = ports {
            close_detached(ports);
        }
        event::report_port_drop(
            pm_drop_reason::PM_DROP_TARGET_GONE,
            Some(window),
            origin.as_ref(),
            data.len(),
        );
        return;
    };
    let mut event = event::channel_event(data, c"".as_ptr());
    let handles;
    if let Some(ports) = ports {
        handles = adopt(ports, window);
        event::set_ports(&mut event, &handles);
    }
    event::deliver(listeners.as_slice(), &event, None, || {});
    if let Some((memo, holder)) = memo {
        // Remembered for the next message to this port in this drain (the one it replaces is
        // dropped here, with no lock held).
        *memo = Memo::new(holder, Some(window), version, listeners);
    }
}

/// Adds a listener; the first one starts the port and delivers what waited, in order.
pub fn add_listener(handle: Handle, listener: ListenerRef) -> Result<u64, Error> {
    let port = lookup(handle)?;
    let id = listener.id();
    let start = {
        let mut inner = port.change();
        // Closed or transferred since the lookup: the handle is no longer this port's.
        if inner.closed || inner.handle != Some(handle) {
            return Err(invalid_port());
        }
        inner.listeners.push(listener);
        let start = !inner.started;
        // A drain still running on another thread from before a transfer goes on in the new
        // owner instead (two would interleave). One further up this thread's stack (a listener
        // moved the port here) is suspended: this one delivers now, as a start does.
        let me = this_thread();
        let run = start && (!inner.draining || (me != 0 && inner.drainer == me));
        if start {
            inner.started = true;
            inner.draining = true;
        }
        if run {
            inner.drainer = me;
        }
        run
    };
    if start {
        drain(&port);
    }
    Ok(id)
}

/// An identity of the calling thread while it lives (0 while it exits): the address of a
/// thread-local.
fn this_thread() -> usize {
    thread_local! {
        static ME: u8 = const { 0 };
    }
    ME.try_with(|me| std::ptr::from_ref(me) as usize)
        .unwrap_or(0)
}

/// Delivers the messages that waited for the port to start, then those that arrive meanwhile,
/// one at a time from the port's queue: if the port moves meanwhile (a listener may transfer
/// it), what has not been delivered moves with it, in order.
fn drain(port: &Arc<Port>) {
    loop {
        let next = {
            let mut inner = port.inner.lock();
            match inner.owner {
                Some(owner) if !inner.closed && inner.started => {
                    let version = port.version.load(Ordering::Relaxed);
                    inner
                        .next()
                        .map(|(message, accepted)| (message, accepted, owner, version))
                }
                _ => None,
            }
        };
        let Some((message, accepted, owner, version)) = next else {
            let mut inner = port.change();
            // A message may have arrived (or the port been started again elsewhere) since.
            if inner.owner.is_some() && !inner.closed && inner.started && !inner.pending.is_empty()
            {
                continue;
            }
            inner.draining = false;
            return;
        };
        // New messages that no longer fit in a QUEUED window's queue are refused (and reported);
        // the rest go on. Messages the port brought along were accepted once: never refused.
        if let Err(message) = deliver_or_queue(port, owner, version, message, !accepted) {
            // The port moved or changed since: the message goes back, ahead of later ones.
            let _ = enqueue(port, message, false, Place::Moved);
        }
    }
}

/// Removes a port listener.
pub fn remove_listener(handle: Handle, id: u64) -> Result<(), Error> {
    let port = lookup(handle)?;
    let listener = port
        .change()
        .listeners
        .take(id)
        .ok_or_else(|| Error::invalid_handle("listener id"))?;
    listener.remove();
    Ok(())
}

/// Closes a port: disentangles it and frees its handle.
pub fn close(handle: Handle) -> Result<(), Error> {
    let port = {
        let _transfer = TRANSFER.lock();
        PORTS.remove(handle).ok_or_else(invalid_port)?
    };
    close_ports(vec![port], None, None);
    Ok(())
}

/// Closes ports that are in flight (carried by a message that will not be delivered).
pub fn close_detached(ports: Vec<Arc<Port>>) {
    close_ports(ports, None, None);
}

/// A retired document closes the ports it owns, skipping any transferred away meanwhile.
impl Resource for Port {
    fn retire(self: Arc<Self>, owner: Handle, why: &Retiring<'_>) {
        close_ports(vec![self], Some(owner), Some(why));
    }
}

/// Closes ports, and the ports inside messages still waiting in their queues. Listener destroys
/// and drop reports run after every lock is released.
fn close_ports(ports: Vec<Arc<Port>>, only_owned_by: Option<Handle>, why: Option<&Retiring<'_>>) {
    if ports.is_empty() {
        return;
    }
    let mut removed: Vec<ListenerRef> = Vec::new();
    let mut dropped: Vec<(usize, Option<Handle>)> = Vec::new();
    let mut disowned: Vec<(Handle, Arc<Port>)> = Vec::new();
    let mut links = Vec::new();
    {
        let _transfer = TRANSFER.lock();
        let mut work: Vec<(Arc<Port>, bool)> = ports.into_iter().map(|p| (p, true)).collect();
        while let Some((port, top)) = work.pop() {
            let (handle, owner, partner) = {
                let mut inner = port.change();
                if inner.closed || (top && only_owned_by.is_some() && inner.owner != only_owned_by)
                {
                    continue;
                }
                inner.closed = true;
                links.extend(inner.remote.take());
                removed.extend(inner.listeners.take_all());
                let owner = inner.owner;
                for message in inner.take_pending() {
                    dropped.push((message.data.len(), owner));
                    work.extend(message.ports.into_iter().map(|p| (p, false)));
                }
                (
                    inner.handle.take(),
                    inner.owner.take(),
                    std::mem::take(&mut inner.partner),
                )
            };
            if let Some(handle) = handle {
                PORTS.remove(handle);
            }
            if let Some(owner) = owner {
                disowned.push((owner, port));
            }
            if let Some(partner) = partner.upgrade() {
                partner.change().partner = Weak::new();
            }
        }
    }
    for (owner, port) in disowned {
        window::disown(owner, &port);
    }
    // A partner in another process learns of the close.
    for link in links {
        link.closed();
    }
    for listener in removed {
        listener.remove();
    }
    for (data_len, owner) in dropped {
        match why {
            Some(why) => {
                event::report_port_drop(why.reason, why.target, Some(why.origin), data_len)
            }
            None => {
                event::report_port_drop(pm_drop_reason::PM_DROP_TARGET_GONE, owner, None, data_len)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Ports whose partner lives in another process: what the layer above (`remote`) needs.

/// The link of a port whose partner lives in another process. Implemented above this layer
/// (by `remote`), so a port reaches its remote partner without naming who carries the message.
pub trait RemotePartner: Any + Send + Sync {
    /// Posts a message from `port` to the remote partner (the port's own post steps).
    fn post(&self, port: &Arc<Port>, data: &[u8], transfer: &[Handle]) -> Result<Delivery, Error>;
    /// `port` was closed here: the remote partner is told. Called with no lock held.
    fn closed(&self);
}

/// The port's remote link, if its partner is in another process.
pub fn remote_link(port: &Arc<Port>) -> Option<Arc<dyn RemotePartner>> {
    port.inner.lock().remote.clone()
}

/// The port's entangled partner in this process, if any.
pub fn partner(port: &Arc<Port>) -> Option<Arc<Port>> {
    port.inner.lock().partner.upgrade()
}

/// The live port behind a handle (for the remote transfer rules).
pub fn lookup_port(handle: Handle) -> Result<Arc<Port>, Error> {
    lookup(handle)
}

/// A detached port leaves for another process: it is closed here and disentangled; returns its
/// partner (which the caller links to the route) and the messages that waited in it (which
/// follow it there).
pub fn split_for_remote(port: &Arc<Port>) -> (Option<Arc<Port>>, Vec<PortMessage>) {
    let _transfer = TRANSFER.lock();
    let (partner, pending) = {
        let mut inner = port.change();
        inner.closed = true;
        (
            std::mem::take(&mut inner.partner).upgrade(),
            inner.take_pending().into(),
        )
    };
    if let Some(partner) = &partner {
        partner.change().partner = Weak::new();
    }
    (partner, pending)
}

/// Sets (or with None removes: the remote partner closed) the port's remote link. Returns
/// false if the port is closed.
pub fn set_remote(port: &Arc<Port>, link: Option<Arc<dyn RemotePartner>>) -> bool {
    let mut inner = port.change();
    if inner.closed {
        return false;
    }
    inner.partner = Weak::new();
    inner.remote = link;
    true
}

/// A new in-flight port whose partner is in another process (adopt it to give it a window).
pub fn new_remote(link: Arc<dyn RemotePartner>) -> Arc<Port> {
    Port::new(None, Some(link))
}

/// Whether the port is closed.
pub fn is_closed(port: &Arc<Port>) -> bool {
    port.inner.lock().closed
}

/// A message from the remote partner: refused (and reported) as a local post to this port
/// would be, else handed over like one. `make` builds the message only once it is accepted.
pub fn receive(
    port: &Arc<Port>,
    data_len: usize,
    make: impl FnOnce() -> PortMessage,
) -> Result<Delivery, Error> {
    precheck(port, data_len)?;
    enqueue(port, make(), true, Place::Back)
}

// ---------------------------------------------------------------------------------------------
// The SYNC post's per-thread cache.

/// Senders cached per thread; a port lives in entry `raw handle % CACHED_SENDERS`.
const CACHED_SENDERS: usize = 64;

/// What [`post_fast`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fast {
    /// Delivered to the partner's listeners (SYNC owner) or queued for it (QUEUED owner).
    Done,
    /// Nothing done: the cached view says the checked path must decide (unstarted partner, a
    /// remote or no partner, depth limit, a queue refusing, thread exiting).
    Slow,
    /// Nothing done: the port is not cached on this thread, or its view is stale.
    Miss,
}

/// A sending port as a post from this thread last saw it. Valid while the sender's version,
/// its partner's and the partner's owner window's slot version are unchanged: each was read
/// under the lock that guards what it covers, and every change bumps it before unlocking.
struct Sender {
    port: Arc<Port>,
    version: u64,
    partner: Option<(Arc<Port>, u64)>,
    owner: Option<(&'static crate::sync::AtomicU64, u64)>,
    /// What a post does, when the partner is open and started and its owner window local;
    /// None: the checked path decides.
    deliver: Option<Route>,
}

/// Where a cached post goes.
enum Route {
    /// The owner window is SYNC: the partner's listeners (and whether all are plain) run on the
    /// posting thread at once.
    Sync(ListenerList, bool),
    /// The owner window (this handle) is QUEUED: the data is queued there for the partner.
    Queued(Handle),
}

impl Sender {
    #[inline(always)]
    fn is_current(&self) -> bool {
        self.port.unchanged_since(self.version)
            && self
                .partner
                .as_ref()
                .is_none_or(|(p, v)| p.unchanged_since(*v))
            && self
                .owner
                .is_none_or(|(cell, v)| cell.load(Ordering::Acquire) == v)
    }

    /// The current view of the port behind `handle`; None if it is not a live port.
    fn load(handle: Handle) -> Option<Sender> {
        let port = lookup(handle).ok()?;
        let (version, partner, remote) = {
            let inner = port.inner.lock();
            (
                port.version.load(Ordering::Relaxed),
                inner.partner.upgrade(),
                inner.remote.is_some(),
            )
        };
        let mut sender = Sender {
            port,
            version,
            partner: None,
            owner: None,
            deliver: None,
        };
        let Some(partner) = partner.filter(|_| !remote) else {
            return Some(sender);
        };
        let (partner_version, owner, listeners) = {
            let inner = partner.inner.lock();
            let open = !inner.closed && inner.started && !inner.draining;
            (
                partner.version.load(Ordering::Relaxed),
                inner.owner.filter(|_| open),
                inner.listeners.snapshot(),
            )
        };
        sender.partner = Some((partner, partner_version));
        let Some(owner) = owner else {
            return Some(sender);
        };
        let Some((window_version, cell, mode)) =
            WINDOWS.with_versioned(owner, |w| w.remote().is_none().then(|| w.mode()))
        else {
            return Some(sender);
        };
        sender.owner = Some((cell, window_version));
        sender.deliver = match mode {
            Some(pm_dispatch_mode::PM_DISPATCH_SYNC) => {
                let plain = listeners.as_slice().iter().all(|l| l.is_plain());
                Some(Route::Sync(listeners, plain))
            }
            Some(pm_dispatch_mode::PM_DISPATCH_QUEUED) => Some(Route::Queued(owner)),
            None => None,
        };
        Some(sender)
    }
}

thread_local! {
    static SENDERS: DirectMapped<Sender, CACHED_SENDERS> = const { DirectMapped::new() };
}

/// The post through a cached port without a transfer list. SYNC owner: the partner's listeners
/// run on this thread with an event that borrows `data`, touching no lock, reference count or
/// allocation. QUEUED owner: see [`queue_cached`]. Cannot panic (so the export can call it outside its panic boundary): the
/// cache lookup cannot panic ([`PerThread::lookup`]), and the listeners are called with atomics and
/// C calls only. It holds a shared borrow of the cache while listeners run, so a listener's own
/// posts use the cache too, and a refresh during one simply does not happen (the checked path
/// serves that post).
#[inline]
pub fn post_fast(handle: Handle, data: &[u8]) -> Fast {
    SENDERS
        .lookup(handle.to_raw(), |sender| {
            let Some(sender) = sender.filter(|s| s.is_current()) else {
                return Fast::Miss;
            };
            let (listeners, plain) = match &sender.deliver {
                Some(Route::Sync(listeners, plain)) => (listeners, plain),
                Some(Route::Queued(owner)) => return queue_cached(sender, *owner, data),
                None => return Fast::Slow,
            };
            thread::with_current(|state| {
                let Some(_depth) = state.and_then(|s| s.try_enter_depth()) else {
                    return Fast::Slow;
                };
                let event = event::channel_event(data, c"".as_ptr());
                if *plain {
                    for listener in listeners.as_slice() {
                        listener.call_plain(&event);
                    }
                } else {
                    for listener in listeners.as_slice() {
                        listener.call_unfiltered(&event);
                    }
                }
                Fast::Done
            })
        })
        .unwrap_or(Fast::Slow)
}

/// The QUEUED post through a current cached view: the data is queued for the partner in its
/// owner window's queue with that window's lock only. The versions prove that, when they were
/// read, the sender still had this partner, and the partner was open, started, not draining
/// (so nothing waits in its `pending` that this post could overtake) and owned by that window,
/// as [`post_queued`] finds under the ports' locks; the window's lock checks the mode and the
/// limits and the partner's version again (a transfer bumps it, then takes the partner's
/// entries out of this queue: a push after that is refused, so none is left behind). A close or
/// navigation racing the post is ordered after it: the entry's run checks closed, owner and
/// started under the port's lock (`receive_queued`). Refused (queue full, window gone or no
/// longer QUEUED, partner moved): nothing is made, the checked path decides and reports. Cannot
/// panic (allocation failure aborts; the waker is a C call).
#[inline(always)]
fn queue_cached(sender: &Sender, owner: Handle, data: &[u8]) -> Fast {
    let Some((partner, version)) = &sender.partner else {
        return Fast::Slow;
    };
    // Checked again under the window's lock: a transfer of the partner since then takes its
    // queued messages along, and this one must not be left behind (see `detach`).
    match window::enqueue_if(
        owner,
        data.len(),
        true,
        true,
        || partner.unchanged_since(*version),
        |queue| queue.push_data_copy(partner, data, || Bytes::copy(data)),
    ) {
        Ok(()) => Fast::Done,
        Err(_) => Fast::Slow,
    }
}

/// Caches this thread's view of the port behind `handle` (after a [`Fast::Miss`]).
#[cold]
fn remember(handle: Handle) {
    let Some(sender) = Sender::load(handle) else {
        return;
    };
    SENDERS.remember(handle.to_raw(), sender);
}
