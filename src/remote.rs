//! Windows in other processes (site isolation): proxies, posting through the embedder's `send`,
//! delivering records from other processes, ports whose partner lives elsewhere (routes), and
//! the BroadcastChannel forwarder. What crosses is a [`record`](crate::record); the embedder's
//! own IPC carries it.
//!
//! A proxy is a window like any other in the frame tree (parent, children, origin, navigation),
//! with a [`Proxy`] attached (as its `window::RemoteDocument`). It runs no script here and has
//! no snapshot, so it never enters a thread's window cache: a post to one misses the fast path,
//! and dispatch's unsnapshotted path hands it to [`Proxy`]'s `post`.
//!
//! The lower layers reach this one only through traits they define: `window::RemoteDocument`
//! (proxies), `port::RemotePartner` (ports whose partner is remote, [`PortLink`]) and
//! `broadcast::Forwarder`. The embedder's callbacks reach it as [`Carrier`] and
//! [`BroadcastCarrier`], wrapped at the edge (`capi::remote`).
//!
//! Port ids. A port sent to a proxy stays here as its partner, linked to the route (the proxy)
//! under a fresh 64-bit id chosen by this process; the receiver creates the other end under the
//! same id. Records name the id and who chose it ([`IdOwner`]), so a peer's ids and ours never
//! collide; ids are random, so a peer cannot guess ports it was never given; and when the
//! embedder passes the `source` proxy, a port record is accepted only from the port's own route.

use crate::abi::{pm_dispatch_mode, pm_drop_reason};
use crate::broadcast::{self, Forwarder};
use crate::diagnostics::{self, DropReport};
use crate::dispatch::WindowMessage;
use crate::error::{Error, ErrorKind};
use crate::event::{self, Delivery};
use crate::handles::Handle;
use crate::origin::{Origin, TargetOrigin};
use crate::port::{self, Port, PortMessage, RemotePartner};
use crate::queue::Task;
use crate::record::{self, IdOwner, Outgoing, PortIds, Record};
use crate::thread;
use crate::window::{self, RemoteDocument, WINDOWS};
use parking_lot::Mutex;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Weak};

/// The embedder's way to the process that holds a proxy's document: its `send` callback,
/// wrapped at the edge (which owns the C types and the code mapping).
pub trait Carrier: Send + Sync {
    /// Sends `record` for the proxy `proxy`, on this thread with no library lock held; the
    /// outcome is the post's.
    fn send(&self, proxy: Handle, record: &[u8]) -> Result<Delivery, Error>;
}

/// The embedder's broadcast forwarder, wrapped at the edge.
pub trait BroadcastCarrier: Send + Sync {
    /// Hands a broadcast record to the other processes, with no library lock held.
    fn forward(&self, record: &[u8]) -> Result<Delivery, Error>;
}

/// What makes a window a proxy: the carrier of its records. The carrier (and with it the
/// embedder's user data) goes when the last reference does, i.e. after the window is freed and
/// the last `send` on it has returned (each send holds a reference).
pub struct Proxy {
    carrier: Arc<dyn Carrier>,
}

/// A post to a proxy window: the window post steps end here by encoding and sending a record.
impl RemoteDocument for Proxy {
    fn post(
        &self,
        proxy: Handle,
        source: Handle,
        data: &[u8],
        target_origin: &[u8],
        transfer: &[Handle],
    ) -> Result<Delivery, Error> {
        // Keep the proxy alive for the send even if the window is freed meanwhile.
        let Some(this) = proxy_of(proxy) else {
            return Err(Error::invalid_handle("target window"));
        };
        post_to_proxy(source, proxy, &this, data, target_origin, transfer)
    }
}

fn proxy_of(handle: Handle) -> Option<Arc<Proxy>> {
    let document: Arc<dyn Any + Send + Sync> = window::remote(handle)?;
    document.downcast::<Proxy>().ok()
}

/// Creates a proxy window (see `pm_remote_window_new`).
pub fn new_proxy(
    parent: Option<Handle>,
    url: &str,
    carrier: Arc<dyn Carrier>,
) -> Result<Handle, Error> {
    window::create_remote(parent, url, Arc::new(Proxy { carrier }))
}

/// Largest record buffer a thread keeps for the next record.
const KEPT_BUFFER: usize = 64 << 10;

thread_local! {
    /// This thread's record buffer between posts (taken while in use, so a post from inside
    /// `send` gets a fresh one).
    static BUFFER: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` with this thread's reusable record buffer: a post to a proxy allocates nothing
/// for its record once the buffer has grown to the record's size.
fn with_buffer<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buffer = BUFFER.try_with(Cell::take).unwrap_or_default();
    let result = f(&mut buffer);
    if buffer.capacity() <= KEPT_BUFFER {
        let _ = BUFFER.try_with(|b| b.set(buffer));
    }
    result
}

/// Calls the proxy's carrier on this thread with no library lock held.
fn send(window: Handle, proxy: &Proxy, record: &[u8]) -> Result<Delivery, Error> {
    proxy.carrier.send(window, record)
}

// ---------------------------------------------------------------------------------------------
// Routes and port links

/// The way to a port's partner: the proxy whose `send` carries its records.
#[derive(Clone)]
pub struct Route {
    window: Handle,
    proxy: Weak<Proxy>,
}

impl Route {
    fn of(window: Handle, proxy: &Arc<Proxy>) -> Route {
        Route {
            window,
            proxy: Arc::downgrade(proxy),
        }
    }

    /// Sends a record along the route; a freed route is as if the partner had closed.
    fn send(&self, record: &Outgoing<'_>) -> Result<Delivery, Error> {
        let Some(proxy) = self.proxy.upgrade() else {
            return Ok(Delivery::Dropped);
        };
        // Only alive while the proxy window is: a freed proxy's route is gone.
        if !WINDOWS.contains(self.window) {
            return Ok(Delivery::Dropped);
        }
        with_buffer(|buffer| {
            record.encode_into(buffer)?;
            send(self.window, &proxy, buffer)
        })
    }
}

/// A port whose partner lives in another process: its route and id.
pub struct PortLink {
    route: Route,
    id: u64,
    /// The owner byte of records this port sends (who chose the id, seen from us as sender).
    sends_as: IdOwner,
}

/// A port whose partner is remote posts and closes through its route.
impl RemotePartner for PortLink {
    fn post(&self, port: &Arc<Port>, data: &[u8], transfer: &[Handle]) -> Result<Delivery, Error> {
        post_port(port, self, data, transfer)
    }

    fn closed(&self) {
        port_closed(self);
    }
}

/// The port's remote link, if its partner is in another process.
fn link_of(port: &Arc<Port>) -> Option<Arc<PortLink>> {
    let link: Arc<dyn Any + Send + Sync> = port::remote_link(port)?;
    link.downcast::<PortLink>().ok()
}

impl PortLink {
    /// The key of this port in our table: (id, chosen by us).
    fn key(&self) -> (u64, bool) {
        (self.id, self.sends_as == IdOwner::Sender)
    }
}

/// Ports with a remote partner, by (id, whether we chose the id).
type LinkTable = HashMap<(u64, bool), Weak<Port>>;
static LINKS: LazyLock<Mutex<LinkTable>> = LazyLock::new(Default::default);

/// A fresh id no port of ours uses: a keyed hash of a counter (random per process).
fn new_id() -> u64 {
    static KEY: LazyLock<RandomState> = LazyLock::new(RandomState::new);
    static NEXT: AtomicU64 = AtomicU64::new(0);
    loop {
        let mut h = KEY.build_hasher();
        h.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
        let id = h.finish();
        if !LINKS.lock().contains_key(&(id, true)) {
            return id;
        }
    }
}

/// What must follow a record that carried ports: the messages that waited in each port, and a
/// close for ports whose partner was already gone.
#[derive(Default)]
struct Followups(Vec<(u64, Vec<PortMessage>, bool)>);

/// Links detached ports to `route`: each one's partner stays here and reaches it under a new
/// id. Returns the ids for the record.
fn link_out(ports: Vec<Arc<Port>>, route: &Route, followups: &mut Followups) -> Vec<u64> {
    let mut ids = Vec::with_capacity(ports.len());
    for port in ports {
        let id = new_id();
        let (partner, pending) = port::split_for_remote(&port);
        let mut partner_gone = true;
        if let Some(partner) = partner {
            let link = Arc::new(PortLink {
                route: route.clone(),
                id,
                sends_as: IdOwner::Sender,
            });
            LINKS.lock().insert(link.key(), Arc::downgrade(&partner));
            partner_gone = !port::set_remote(&partner, Some(link));
            if partner_gone {
                LINKS.lock().remove(&(id, true));
            }
        }
        ids.push(id);
        followups.0.push((id, pending, partner_gone));
    }
    ids
}

/// Sends what followed ports to their new process (results are not the post's).
fn flush(route: &Route, followups: Followups) {
    for (id, pending, partner_gone) in followups.0 {
        for message in pending {
            let mut more = Followups::default();
            let carried = exportable(message.ports);
            let ports = link_out(carried, route, &mut more);
            let _ = route.send(&Outgoing::PortMessage {
                id,
                owner: IdOwner::Sender,
                ports: &ports,
                data: &message.data,
            });
            flush(route, more);
        }
        if partner_gone {
            let _ = route.send(&Outgoing::PortClose {
                id,
                owner: IdOwner::Sender,
            });
        }
    }
}

/// In-flight ports that may go to another process; those whose partner is already remote are
/// closed instead (a port cannot be relayed through a second process).
fn exportable(ports: Vec<Arc<Port>>) -> Vec<Arc<Port>> {
    let (remote, local): (Vec<_>, Vec<_>) = ports
        .into_iter()
        .partition(|p| port::remote_link(p).is_some());
    port::close_detached(remote);
    local
}

/// `PM_ERR_DATA_CLONE` if a port of the transfer list already has its partner in another
/// process (it may move to a local window, not to a proxy). Both ports of one channel in one transfer to a proxy are refused the same way: each would
/// have to be the other's route.
fn check_transfer_to_proxy(transfer: &[Handle]) -> Result<(), Error> {
    let ports: Vec<Arc<Port>> = transfer
        .iter()
        .filter_map(|&h| port::lookup_port(h).ok())
        .collect();
    for port in &ports {
        if port::remote_link(port).is_some() {
            return Err(Error::new(
                ErrorKind::DataClone,
                "a port whose partner is in another process cannot be transferred to a proxy",
            ));
        }
        if let Some(partner) = port::partner(port)
            && ports.iter().any(|p| Arc::ptr_eq(p, &partner))
        {
            return Err(Error::new(
                ErrorKind::DataClone,
                "both ports of one channel cannot be transferred to a proxy together",
            ));
        }
    }
    Ok(())
}

/// A message from a port whose partner lives in another process.
fn post_port(
    port: &Arc<Port>,
    link: &PortLink,
    data: &[u8],
    transfer: &[Handle],
) -> Result<Delivery, Error> {
    check_transfer_to_proxy(transfer)?;
    if data.len() > record::PM_RECORD_MAX_DATA {
        return Err(Error::invalid_argument(
            "the message is larger than a record can carry",
        ));
    }
    let ports = port::detach(transfer, Some(port))?;
    if link.route.proxy.strong_count() == 0 || !WINDOWS.contains(link.route.window) {
        port::close_detached(ports);
        return Ok(Delivery::Dropped);
    }
    let mut followups = Followups::default();
    let ids = link_out(ports, &link.route, &mut followups);
    let result = link.route.send(&Outgoing::PortMessage {
        id: link.id,
        owner: link.sends_as,
        ports: &ids,
        data,
    });
    finish(&link.route, &ids, followups, &result);
    result
}

/// After a record carrying `ids` was sent: their followups go out if it arrived; if `send`
/// failed, the other side never got the ports, so their partners here are unlinked (as if
/// closed).
fn finish(route: &Route, ids: &[u64], followups: Followups, result: &Result<Delivery, Error>) {
    if result.is_ok() {
        flush(route, followups);
        return;
    }
    for id in ids {
        let port = LINKS.lock().remove(&(*id, true)).and_then(|w| w.upgrade());
        if let Some(port) = port {
            port::set_remote(&port, None);
        }
    }
}

/// A port closed here: its partner in another process is told.
fn port_closed(link: &PortLink) {
    LINKS.lock().remove(&link.key());
    let _ = link.route.send(&Outgoing::PortClose {
        id: link.id,
        owner: link.sends_as,
    });
}

/// New ports for the ids a record carried, their partners reached through `route`.
fn link_in(ids: PortIds<'_>, route: &Route) -> Vec<Arc<Port>> {
    let mut links = LINKS.lock();
    ids.iter()
        .map(|id| {
            let link = Arc::new(PortLink {
                route: route.clone(),
                id,
                sends_as: IdOwner::Receiver,
            });
            let port = port::new_remote(link);
            links.insert((id, false), Arc::downgrade(&port));
            port
        })
        .collect()
}

/// `PM_ERR_INVALID_ARGUMENT` if a carried id names a port of this peer that exists already.
fn check_new_ids(ids: PortIds<'_>) -> Result<(), Error> {
    let links = LINKS.lock();
    if ids.iter().any(|id| links.contains_key(&(id, false))) {
        return Err(Error::invalid_argument(
            "malformed record: it carries a port id that is already in use",
        ));
    }
    Ok(())
}

/// Tells the sender that ports it sent were closed here without being delivered.
fn refuse_ports(ids: PortIds<'_>, route: &Route) {
    for id in ids.iter() {
        let _ = route.send(&Outgoing::PortClose {
            id,
            owner: IdOwner::Receiver,
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Posting to a proxy

fn post_to_proxy(
    source: Handle,
    target: Handle,
    proxy: &Arc<Proxy>,
    data: &[u8],
    target_origin: &[u8],
    transfer: &[Handle],
) -> Result<Delivery, Error> {
    let source_origin =
        window::origin(source).map_err(|_| Error::invalid_handle("source window"))?;
    // Parsed through this thread's targetOrigin cache when it has one (no URL parse for a
    // string seen recently). The match itself is decided there, against the document's
    // current origin.
    let parsed = thread::with_current(|state| match state {
        Some(state) => state.with_target_origin(target_origin, TargetOrigin::clone),
        None => TargetOrigin::parse_bytes(target_origin),
    })?;
    let resolved = match &parsed {
        TargetOrigin::Any => "*",
        TargetOrigin::SameAsSource => source_origin.serialization(),
        TargetOrigin::Exact(origin) => origin.serialization(),
    };
    post_resolved(target, proxy, data, &source_origin, resolved, transfer)
}

fn post_resolved(
    target: Handle,
    proxy: &Arc<Proxy>,
    data: &[u8],
    source_origin: &Origin,
    target_origin: &str,
    transfer: &[Handle],
) -> Result<Delivery, Error> {
    if data.len() > record::PM_RECORD_MAX_DATA || transfer.len() > record::PM_RECORD_MAX_PORTS {
        return Err(Error::invalid_argument(
            "the message is larger than a record can carry",
        ));
    }
    check_transfer_to_proxy(transfer)?;
    let ports = port::detach(transfer, None)?;
    let route = Route::of(target, proxy);
    let mut followups = Followups::default();
    let ids = link_out(ports, &route, &mut followups);
    let record = Outgoing::Window {
        origin: source_origin.serialization(),
        target_origin,
        ports: &ids,
        data,
    };
    let result = with_buffer(|buffer| {
        record.encode_into(buffer)?;
        send(target, proxy, buffer)
    });
    finish(&route, &ids, followups, &result);
    result
}

// ---------------------------------------------------------------------------------------------
// Receiving

/// An origin a record claims: "null" is a new opaque origin (equal to nothing here); anything
/// else must be an origin's exact serialization.
fn claimed_origin(text: &str) -> Result<Origin, Error> {
    if text == "null" {
        return Ok(Origin::new_opaque());
    }
    // A peer sends the same few origins over and over: skip the URL parse for those.
    let cached = RECENT_ORIGINS
        .try_with(|r| {
            r.borrow()
                .iter()
                .find(|(s, _)| &**s == text)
                .map(|(_, o)| o.clone())
        })
        .ok()
        .flatten();
    if let Some(origin) = cached {
        return Ok(origin);
    }
    match Origin::parse(text) {
        Ok(origin) if !origin.is_opaque() && origin.serialization() == text => {
            let _ = RECENT_ORIGINS.try_with(|r| {
                let mut r = r.borrow_mut();
                if r.len() == RECENT_ORIGINS_MAX {
                    r.remove(0);
                }
                r.push((text.into(), origin.clone()));
            });
            Ok(origin)
        }
        _ => Err(Error::invalid_argument(format!(
            "malformed record: {text:?} is not an origin's serialization"
        ))),
    }
}

/// How many origin strings each thread remembers as already checked.
const RECENT_ORIGINS_MAX: usize = 16;

thread_local! {
    /// Origin serializations from records that parsed to themselves, most recent last. Only
    /// valid ones are kept, so a hit needs no further check.
    static RECENT_ORIGINS: RefCell<Vec<(Box<str>, Origin)>> = const { RefCell::new(Vec::new()) };
}

/// A targetOrigin from a record: `"*"`, or an origin ("null" matches nothing).
fn record_target_origin(text: &str) -> Result<TargetOrigin, Error> {
    if text == "*" {
        Ok(TargetOrigin::Any)
    } else {
        claimed_origin(text).map(TargetOrigin::Exact)
    }
}

/// The origin lock: the claimed origin must be `source`'s current origin (opaque for "null").
fn check_origin_lock(source: Option<Handle>, claimed: &Origin) -> Result<(), Error> {
    let Some(source) = source else {
        return Ok(());
    };
    let current = window::origin(source).map_err(|_| Error::invalid_handle("source window"))?;
    let same = match (claimed, &current) {
        (Origin::Opaque(_), Origin::Opaque(_)) => true,
        _ => claimed.same_origin(&current),
    };
    if same {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::SourceOrigin,
            format!(
                "the record claims origin {:?} but the source window's origin is {:?}; nothing \
                 was delivered",
                claimed.serialization(),
                current.serialization()
            ),
        ))
    }
}

/// `pm_remote_deliver`: checks the record completely, then acts on it.
pub fn deliver(
    target: Option<Handle>,
    source: Option<Handle>,
    bytes: &[u8],
) -> Result<Delivery, Error> {
    let record = record::decode(bytes)?;
    if let Some(source) = source
        && !WINDOWS.contains(source)
    {
        return Err(Error::invalid_handle("source window"));
    }
    match record {
        Record::Window {
            origin,
            target_origin,
            ports,
            data,
        } => {
            let target = target
                .ok_or_else(|| Error::invalid_argument("a window record needs a target window"))?;
            let claimed = claimed_origin(origin)?;
            let wanted = record_target_origin(target_origin)?;
            if proxy_of(target).is_some() {
                return Err(Error::invalid_argument(
                    "the target of a delivered record must be a local window, not a proxy",
                ));
            }
            let route = match (ports.is_empty(), source) {
                (true, _) => None,
                (false, Some(source)) => Some(Route::of(
                    source,
                    &proxy_of(source).ok_or_else(|| {
                        Error::invalid_argument(
                            "a record carrying ports needs the source proxy as their route",
                        )
                    })?,
                )),
                (false, None) => {
                    return Err(Error::invalid_argument(
                        "a record carrying ports needs a source proxy (their route)",
                    ));
                }
            };
            check_new_ids(ports)?;
            check_origin_lock(source, &claimed)?;
            deliver_window(
                target,
                source,
                Incoming {
                    claimed,
                    wanted,
                    requested: target_origin,
                    ports,
                    route,
                    data,
                },
            )
        }
        Record::PortMessage {
            id,
            owner,
            ports,
            data,
        } => {
            check_new_ids(ports)?;
            let Some((port, link)) = find_port(id, owner, source) else {
                return Ok(Delivery::Dropped);
            };
            port::receive(&port, data.len(), || PortMessage {
                data: data.into(),
                ports: link_in(ports, &link.route),
            })
        }
        Record::PortClose { id, owner } => {
            let Some((port, _)) = find_port(id, owner, source) else {
                return Ok(Delivery::Dropped);
            };
            LINKS.lock().remove(&(id, owner == IdOwner::Receiver));
            port::set_remote(&port, None);
            Ok(Delivery::Delivered)
        }
        Record::Broadcast { origin, name, data } => {
            let claimed = claimed_origin(origin)?;
            check_origin_lock(source, &claimed)?;
            broadcast_deliver(name, &claimed, data)
        }
    }
}

fn broadcast_deliver(name: &str, origin: &Origin, data: &[u8]) -> Result<Delivery, Error> {
    broadcast::deliver_remote(name, origin, data)?;
    Ok(Delivery::Delivered)
}

/// The port a record addresses, if it is open here and (when `source` is given) was reached
/// through that route.
fn find_port(
    id: u64,
    owner: IdOwner,
    source: Option<Handle>,
) -> Option<(Arc<Port>, Arc<PortLink>)> {
    // A record whose sender chose the id addresses a port made by one of our delivers.
    let key = (id, owner == IdOwner::Receiver);
    let port = LINKS.lock().get(&key)?.upgrade()?;
    if port::is_closed(&port) {
        return None;
    }
    let link = link_of(&port)?;
    if source.is_some_and(|s| s != link.route.window) {
        return None;
    }
    Some((port, link))
}

/// A checked window record.
struct Incoming<'a> {
    claimed: Origin,
    wanted: TargetOrigin,
    requested: &'a str,
    ports: PortIds<'a>,
    route: Option<Route>,
    data: &'a [u8],
}

fn report(
    reason: pm_drop_reason,
    m: &Incoming<'_>,
    source: Option<Handle>,
    target: Handle,
    target_origin: &Origin,
) {
    if diagnostics::enabled() {
        diagnostics::report(DropReport {
            reason,
            source_origin: m.claimed.as_c_ptr(),
            target_origin: target_origin.as_c_ptr(),
            requested_origin: m.requested,
            source,
            target: Some(target),
            data_len: m.data.len(),
        });
    }
}

/// A window record, handled exactly as a local post to `target` from a window of the claimed
/// origin: the targetOrigin against the target's current origin, its dispatch mode, queue and
/// depth limits, drop reports.
fn deliver_window(
    target: Handle,
    source: Option<Handle>,
    m: Incoming<'_>,
) -> Result<Delivery, Error> {
    let refuse = |m: &Incoming<'_>| {
        if let Some(route) = &m.route {
            refuse_ports(m.ports, route);
        }
    };
    let Some(dst) = thread::Owned::load(target) else {
        refuse(&m);
        return Err(Error::invalid_handle("target window"));
    };
    let dst = dst.pinned();
    let target_origin = dst.origin();
    match dst.mode() {
        pm_dispatch_mode::PM_DISPATCH_SYNC => {
            if !m.wanted.matches(m.claimed.key(), dst.origin_key()) {
                report(
                    pm_drop_reason::PM_DROP_ORIGIN_MISMATCH,
                    &m,
                    source,
                    target,
                    &target_origin,
                );
                refuse(&m);
                return Ok(Delivery::Dropped);
            }
            let _depth = match thread::enter_depth() {
                Ok(guard) => guard,
                Err(e) => {
                    report(
                        pm_drop_reason::PM_DROP_DEPTH,
                        &m,
                        source,
                        target,
                        &target_origin,
                    );
                    refuse(&m);
                    return Err(e);
                }
            };
            let ports = match &m.route {
                Some(route) => link_in(m.ports, route),
                None => Vec::new(),
            };
            let handles = port::adopt(ports, target);
            let mut event = event::window_event(m.data, m.claimed.as_c_ptr(), source, Some(target));
            event::set_ports(&mut event, &handles);
            event::deliver(dst.listeners(), &event, Some(m.claimed.key()), || {
                report(
                    pm_drop_reason::PM_DROP_FILTERED,
                    &m,
                    source,
                    target,
                    &target_origin,
                )
            });
            Ok(Delivery::Delivered)
        }
        pm_dispatch_mode::PM_DISPATCH_QUEUED => {
            if !window::queue_fits(target, m.data.len())? {
                report(
                    pm_drop_reason::PM_DROP_QUEUE_FULL,
                    &m,
                    source,
                    target,
                    &target_origin,
                );
                refuse(&m);
                return Err(Error::new(
                    ErrorKind::QueueFull,
                    "the target window's queue is full; nothing was queued",
                ));
            }
            let ports = match &m.route {
                Some(route) => link_in(m.ports, route),
                None => Vec::new(),
            };
            let task: Box<dyn Task> = Box::new(WindowMessage::new(
                m.data,
                m.requested.as_bytes(),
                source,
                m.claimed.clone(),
                m.wanted.clone(),
                ports,
            ));
            match window::enqueue(target, task, true) {
                Ok(()) => Ok(Delivery::Delivered),
                Err((error, task)) => {
                    let reason = if error.kind == ErrorKind::QueueFull {
                        pm_drop_reason::PM_DROP_QUEUE_FULL
                    } else {
                        pm_drop_reason::PM_DROP_TARGET_GONE
                    };
                    task.discard(reason, Some(target), None);
                    Err(error)
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// BroadcastChannel forwarder

/// Broadcasts go to the embedder's forwarder as records.
struct RecordForwarder(Arc<dyn BroadcastCarrier>);

impl Forwarder for RecordForwarder {
    /// An opaque origin matches nothing elsewhere, so its posts are not sent.
    fn forward(&self, name: &str, origin: &Origin, data: &[u8]) -> Result<(), Error> {
        if origin.is_opaque() {
            return Ok(());
        }
        let record = Outgoing::Broadcast {
            origin: origin.serialization(),
            name,
            data,
        }
        .encode()?;
        self.0.forward(&record).map(|_| ())
    }
}

/// Sets (or with None removes) the process-wide broadcast forwarder.
pub fn set_forwarder(carrier: Option<Arc<dyn BroadcastCarrier>>) {
    broadcast::set_forwarder(carrier.map(|c| Arc::new(RecordForwarder(c)) as Arc<dyn Forwarder>));
}
