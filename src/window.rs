//! Windows (browsing contexts) and their documents.
//!
//! A window is a stable handle; its *document* (origin, listeners, child frames, queue, ports and
//! broadcast channels) is replaced on navigation. The delivery settings (mode, waker, queue
//! limits) belong to the handle and survive navigation. All windows live in one
//! [`HandleTable`], so the handle an embedder holds, an event's `source` and the lookup key are
//! the same value.

use crate::abi::{pm_dispatch_mode, pm_drop_reason};
use crate::diagnostics::{self, DropReport};
use crate::error::{Error, ErrorKind};
use crate::event::Delivery;
use crate::handles::{Handle, HandleTable, SlotRef};
use crate::listener::{ListenerList, ListenerRef};
use crate::origin::Origin;
use crate::queue::{BoxedTask, Drain, Item, Limits, Out, Queue, Task, Waker};
use std::any::Any;
use std::sync::Arc;
use url::Url;

/// All live windows.
pub static WINDOWS: HandleTable<Window> = HandleTable::new(1);

/// A window handle's state.
pub struct Window {
    parent: Option<Handle>,
    doc: Document,
    mode: pm_dispatch_mode,
    waker: Option<Waker>,
    limits: Limits,
    /// Set for a proxy: a window whose document lives in another process. It runs no script
    /// here and is never snapshotted for posts, so posts to it take the checked path.
    remote: Option<Arc<dyn RemoteDocument>>,
}

/// The document in another process that a proxy window stands for. Implemented above this
/// layer (by `remote`), so windows and dispatch reach it without naming how records travel.
pub trait RemoteDocument: Any + Send + Sync {
    /// The window post steps with the proxy `proxy` as target: `source` is a local window,
    /// `target_origin` the raw argument; the outcome is the post's.
    fn post(
        &self,
        proxy: Handle,
        source: Handle,
        data: &[u8],
        target_origin: &[u8],
        transfer: &[Handle],
    ) -> Result<Delivery, Error>;
}

/// What navigation replaces. Rarely used parts are boxed to keep windows small.
pub struct Document {
    origin: Origin,
    listeners: ListenerList,
    children: Vec<Handle>,
    extras: Option<Box<Extras>>,
}

/// A document's queue and the resources it owns (allocated on first use).
#[derive(Default)]
pub struct Extras {
    queue: Queue,
    resources: Vec<Arc<dyn Resource>>,
}

/// Why a document's resources are being closed, for the reports of messages still waiting in
/// them.
pub struct Retiring<'a> {
    pub reason: pm_drop_reason,
    /// The window, if it still exists (navigation); None when it was freed.
    pub target: Option<Handle>,
    pub origin: &'a Origin,
}

/// Something a document owns and closes when the document goes (navigation or free): message
/// ports and broadcast channels implement it, so the window names neither.
pub trait Resource: Send + Sync {
    /// Closes it because the document of `owner` is retired. Called with no lock held.
    fn retire(self: Arc<Self>, owner: Handle, why: &Retiring<'_>);
}

/// Whether `resource` is the object at `ptr`.
fn is(resource: &Arc<dyn Resource>, ptr: *const ()) -> bool {
    std::ptr::eq(Arc::as_ptr(resource) as *const (), ptr)
}

impl Document {
    fn new(origin: Origin) -> Document {
        Document {
            origin,
            listeners: ListenerList::default(),
            children: Vec::new(),
            extras: None,
        }
    }

    fn extras(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Default::default)
    }

    fn queue_len(&self) -> usize {
        self.extras.as_ref().map_or(0, |e| e.queue.len())
    }
}

impl Window {
    pub fn origin(&self) -> &Origin {
        &self.doc.origin
    }

    pub fn listeners(&self) -> &ListenerList {
        &self.doc.listeners
    }

    pub fn mode(&self) -> pm_dispatch_mode {
        self.mode
    }

    /// The remote document, when this window is a proxy.
    pub fn remote(&self) -> Option<&Arc<dyn RemoteDocument>> {
        self.remote.as_ref()
    }
}

/// True for URLs that "match about:blank": scheme about, path blank, no userinfo or host.
fn is_about_blank(url: &Url) -> bool {
    url.scheme() == "about"
        && url.path() == "blank"
        && url.username().is_empty()
        && url.password().is_none()
        && url.host().is_none()
}

fn parse_url(url: &str) -> Result<Url, Error> {
    Url::parse(url).map_err(|e| {
        Error::new(
            ErrorKind::InvalidUrl,
            format!("{url:?} is not an absolute URL: {e}"),
        )
    })
}

fn gone() -> Error {
    Error::invalid_handle("window")
}

/// Creates a top-level window whose document is at `url`.
pub fn create(url: &str) -> Result<Handle, Error> {
    let url = parse_url(url)?;
    Ok(insert(None, Origin::of_url(&url), None))
}

/// Creates a proxy window at `url` (top-level, or a frame of `parent`, a local window or a
/// proxy) for a document in another process.
pub fn create_remote(
    parent: Option<Handle>,
    url: &str,
    remote: Arc<dyn RemoteDocument>,
) -> Result<Handle, Error> {
    let url = parse_url(url)?;
    let origin = Origin::of_url(&url);
    let Some(parent) = parent else {
        return Ok(insert(None, origin, Some(remote)));
    };
    let child = insert(Some(parent), origin, Some(remote));
    if WINDOWS
        .with_mut(parent, |p| p.doc.children.push(child))
        .is_none()
    {
        free(child).ok();
        return Err(gone());
    }
    Ok(child)
}

/// `InvalidArgument` for what only a window with script here may do.
pub fn runs_no_script() -> Error {
    Error::invalid_argument(
        "the window is a proxy for a document in another process: it runs no script here (no \
         listeners, channels, broadcast channels, delivery settings, or posts from it)",
    )
}

/// `InvalidArgument` for a proxy (it runs no script here: no listeners, channels, broadcast
/// channels or delivery settings), `InvalidHandle` when gone.
pub fn require_local(handle: Handle) -> Result<(), Error> {
    match WINDOWS.with(handle, |w| w.remote.is_some()) {
        None => Err(gone()),
        Some(true) => Err(runs_no_script()),
        Some(false) => Ok(()),
    }
}

/// The remote document of a proxy window; None for a local or gone window.
pub fn remote(handle: Handle) -> Option<Arc<dyn RemoteDocument>> {
    WINDOWS.with(handle, |w| w.remote.clone()).flatten()
}

/// Creates an iframe in `parent`'s current document. Its initial `about:blank` document inherits
/// the parent's origin (the same opaque origin, when opaque). Freed with its parent.
pub fn create_child(parent: Handle, url: &str) -> Result<Handle, Error> {
    let url = parse_url(url)?;
    let origin = if is_about_blank(&url) {
        WINDOWS
            .with(parent, |p| p.doc.origin.clone())
            .ok_or_else(gone)?
    } else {
        Origin::of_url(&url)
    };
    let child = insert(Some(parent), origin, None);
    // Link after inserting: if the parent was freed meanwhile, nobody else will free the child.
    if WINDOWS
        .with_mut(parent, |p| p.doc.children.push(child))
        .is_none()
    {
        free(child).ok();
        return Err(gone());
    }
    Ok(child)
}

fn insert(
    parent: Option<Handle>,
    origin: Origin,
    remote: Option<Arc<dyn RemoteDocument>>,
) -> Handle {
    WINDOWS.insert_with(|_| Window {
        parent,
        doc: Document::new(origin),
        mode: pm_dispatch_mode::PM_DISPATCH_SYNC,
        waker: None,
        limits: Limits::default(),
        remote,
    })
}

/// Frees a window, its child frames (recursively) and everything their documents held. Each
/// removed listener's destroy runs here, or when its running call returns.
pub fn free(handle: Handle) -> Result<(), Error> {
    let window = WINDOWS.remove(handle).ok_or_else(gone)?;
    if let Some(parent) = window.parent {
        WINDOWS.with_mut(parent, |p| p.doc.children.retain(|&c| c != handle));
    }
    retire(handle, window.doc, pm_drop_reason::PM_DROP_TARGET_GONE);
    Ok(())
}

/// Tears down a document that is no longer any window's: frees its child frames, removes its
/// listeners, closes its ports and channels and drops its queued messages (reported with
/// `reason`; children's with `PM_DROP_TARGET_GONE`). Must be called with no lock held
/// (destroy callbacks and drop reports run here).
fn retire(handle: Handle, doc: Document, reason: pm_drop_reason) {
    let mut removed: Vec<ListenerRef> = Vec::new();
    let mut docs = vec![(handle, doc, reason)];
    while let Some((owner, mut doc, reason)) = docs.pop() {
        removed.extend(doc.listeners.take_all());
        for child in doc.children.drain(..) {
            if let Some(w) = WINDOWS.remove(child) {
                docs.push((child, w.doc, pm_drop_reason::PM_DROP_TARGET_GONE));
            }
        }
        if let Some(extras) = doc.extras.take() {
            let Extras {
                mut queue,
                resources,
            } = *extras;
            let target = (reason == pm_drop_reason::PM_DROP_NAVIGATED).then_some(owner);
            queue
                .take_all()
                .for_each(|item| discard(item, reason, target, Some(&doc.origin)));
            let why = Retiring {
                reason,
                target,
                origin: &doc.origin,
            };
            for resource in resources {
                resource.retire(owner, &why);
            }
        }
    }
    for listener in removed {
        listener.remove();
    }
}

/// Gives the window a new document at `url`: a new origin (`about:blank` gets a new opaque
/// origin); the old document's listeners, child frames, queue, ports and channels are gone.
pub fn navigate(handle: Handle, url: &str) -> Result<(), Error> {
    let url = parse_url(url)?;
    let doc = Document::new(Origin::of_url(&url));
    let old = WINDOWS
        .with_mut(handle, |w| std::mem::replace(&mut w.doc, doc))
        .ok_or_else(gone)?;
    retire(handle, old, pm_drop_reason::PM_DROP_NAVIGATED);
    Ok(())
}

/// The current document's origin.
pub fn origin(handle: Handle) -> Result<Origin, Error> {
    WINDOWS
        .with(handle, |w| w.doc.origin.clone())
        .ok_or_else(gone)
}

/// The parent window, None for a top-level window.
pub fn parent(handle: Handle) -> Result<Option<Handle>, Error> {
    WINDOWS.with(handle, |w| w.parent).ok_or_else(gone)
}

/// Registers a listener on the current document; returns its id.
pub fn add_listener(handle: Handle, listener: ListenerRef) -> Result<u64, Error> {
    let id = listener.id();
    require_local(handle)?; // a proxy has no listeners
    WINDOWS
        .with_mut(handle, |w| w.doc.listeners.push(listener))
        .ok_or_else(gone)?;
    Ok(id)
}

/// Removes a listener: it will not be called again (a call already running finishes).
pub fn remove_listener(handle: Handle, id: u64) -> Result<(), Error> {
    let listener = WINDOWS
        .with_mut(handle, |w| w.doc.listeners.take(id))
        .ok_or_else(gone)?
        .ok_or_else(|| Error::invalid_handle("listener id"))?;
    listener.remove();
    Ok(())
}

pub fn set_mode(handle: Handle, mode: pm_dispatch_mode) -> Result<(), Error> {
    require_local(handle)?; // a proxy has no delivery settings
    WINDOWS.with_mut(handle, |w| w.mode = mode).ok_or_else(gone)
}

pub fn set_waker(handle: Handle, waker: Option<Waker>) -> Result<(), Error> {
    require_local(handle)?; // a proxy has no delivery settings
    WINDOWS
        .with_mut(handle, |w| w.waker = waker)
        .ok_or_else(gone)
}

pub fn set_limits(handle: Handle, limits: Limits) -> Result<(), Error> {
    require_local(handle)?; // a proxy has no delivery settings
    WINDOWS
        .with_mut(handle, |w| w.limits = limits)
        .ok_or_else(gone)
}

/// Number of tasks waiting in the current document's queue.
pub fn pending(handle: Handle) -> Result<usize, Error> {
    WINDOWS.with(handle, |w| w.doc.queue_len()).ok_or_else(gone)
}

/// Whether a task of `data_len` bytes would fit in the window's queue now.
pub fn queue_fits(handle: Handle, data_len: usize) -> Result<bool, Error> {
    WINDOWS
        .with(handle, |w| {
            w.doc
                .extras
                .as_ref()
                .is_none_or(|e| e.queue.fits(data_len, w.limits))
        })
        .ok_or_else(gone)
}

/// Appends a task to the window's queue (checking its limits when `enforce_limits`), then
/// calls the waker if the queue was empty. On failure the task comes back for the caller to
/// discard.
pub fn enqueue(
    handle: Handle,
    task: BoxedTask,
    enforce_limits: bool,
) -> Result<(), (Error, BoxedTask)> {
    enqueue_task_if(handle, task, enforce_limits, || true)
        .map_err(|(refusal, task)| (refusal.error(), task))
}

/// [`enqueue`] for a port's task: pushed only if `valid` holds under the window's lock (see
/// [`enqueue_if`]); on refusal the task comes back with the reason, nothing reported.
pub fn enqueue_task_if(
    handle: Handle,
    task: BoxedTask,
    enforce_limits: bool,
    valid: impl FnOnce() -> bool,
) -> Result<(), (Refusal, BoxedTask)> {
    let data_len = task.data_len();
    let mut task = Some(task);
    let outcome = enqueue_if(handle, data_len, enforce_limits, false, valid, |queue| {
        // The closure runs at most once, so the task is here.
        task.take().is_some_and(|task| queue.push_task(task))
    });
    match (outcome, task) {
        (Ok(()), _) | (Err(_), None) => Ok(()),
        (Err(refusal), Some(task)) => Err((refusal, task)),
    }
}

/// Why the queue refused an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The window is gone.
    Gone,
    /// The window is in SYNC mode (only when the caller asked for a QUEUED window).
    NotQueued,
    /// Its limits refuse the entry (with the queue's count and bytes at the time).
    Full(Limits, usize, usize),
    /// The caller's check under the window's lock failed (see [`enqueue_if`]).
    Moved,
}

impl Refusal {
    /// The error a checked path returns for it.
    pub fn error(self) -> Error {
        match self {
            Refusal::Gone | Refusal::NotQueued | Refusal::Moved => gone(),
            Refusal::Full(limits, count, bytes) => limits.refusal(count, bytes),
        }
    }
}

/// Checks the window's queue limits (when `enforce_limits`) and, with `only_queued`, that it is
/// in QUEUED mode, then `push` makes the entry in its queue (a [`Queue`] push method, which
/// returns whether the queue was empty), all under the window's lock; then calls the waker
/// (with no lock held) if the queue was empty. On refusal `push` is not called: nothing was
/// made, nothing reported. Never panics (unless `push` does).
#[inline(always)]
pub fn enqueue_with(
    handle: Handle,
    data_len: usize,
    enforce_limits: bool,
    only_queued: bool,
    push: impl FnOnce(&mut Queue) -> bool,
) -> Result<(), Refusal> {
    enqueue_if(handle, data_len, enforce_limits, only_queued, || true, push)
}

/// [`enqueue_with`] for a port's message: `valid` runs first under the window's lock, and if it
/// says the port moved since its owner was read (its version changed), nothing is pushed
/// ([`Refusal::Moved`]). A port's transfer bumps its version and then takes its entries out of
/// this queue ([`take_queued`]) under this lock, so a push either precedes that (and is taken
/// along) or sees the bump: no message is left behind.
#[inline(always)]
pub fn enqueue_if(
    handle: Handle,
    data_len: usize,
    enforce_limits: bool,
    only_queued: bool,
    valid: impl FnOnce() -> bool,
    push: impl FnOnce(&mut Queue) -> bool,
) -> Result<(), Refusal> {
    // The queue is in no snapshot (thread.rs): the version stays, the posters' caches stay warm.
    let outcome = WINDOWS.with_mut_unversioned(handle, move |w| {
        if !valid() {
            return Err(Refusal::Moved);
        }
        if only_queued && w.mode != pm_dispatch_mode::PM_DISPATCH_QUEUED {
            return Err(Refusal::NotQueued);
        }
        let queue = &mut w.doc.extras().queue;
        if enforce_limits && !queue.fits(data_len, w.limits) {
            return Err(Refusal::Full(w.limits, queue.len(), queue.bytes()));
        }
        let was_empty = push(queue);
        Ok(if was_empty { w.waker } else { None })
    });
    match outcome {
        Some(Ok(waker)) => {
            if let Some(waker) = waker {
                waker.wake(handle);
            }
            Ok(())
        }
        Some(Err(refusal)) => Err(refusal),
        None => Err(Refusal::Gone),
    }
}

/// Where a window's queue is, for taking entry after entry without looking the window up each
/// time; None if the handle is not a window's.
#[inline]
pub fn queue_of(handle: Handle) -> Option<QueueRef> {
    WINDOWS.slot_of(handle).map(|slot| QueueRef(handle, slot))
}

/// A window's queue, found once ([`queue_of`]).
#[derive(Clone, Copy)]
pub struct QueueRef(Handle, SlotRef<'static, Window>);

impl QueueRef {
    /// Takes the next entry off the window's current document's queue into `drain` (none when
    /// the queue is empty), then lets go of what the drain replaced, after the lock; false if
    /// the window is gone.
    #[inline(always)]
    pub fn pop_into(self, drain: &mut Drain) -> bool {
        // Only the queue changes, which no snapshot holds: the version stays.
        let live = self
            .1
            .with_mut_unversioned(self.0, |w| match w.doc.extras.as_mut() {
                Some(extras) => extras.queue.pop_into(drain),
                None => drain.clear(),
            })
            .is_some();
        drain.settle();
        live
    }
}

/// Takes out of the window's current document's queue, in order, the entries for `receiver`
/// (data queued for it, and the tasks `is_for` picks), each as `take` makes it: a transferred
/// port's waiting messages. `is_for` and `take` run under the window's lock and must take no
/// other lock. Empty when the window is gone or has no queue. O(queue length).
pub fn take_queued<R: ?Sized, T>(
    handle: Handle,
    receiver: &Arc<R>,
    is_for: impl FnMut(&dyn Task) -> bool,
    take: impl FnMut(Out<'_>) -> T,
) -> Vec<T> {
    // Only the queue changes, which no snapshot holds: the version stays.
    WINDOWS
        .with_mut_unversioned(handle, |w| {
            w.doc
                .extras
                .as_mut()
                .map(|e| e.queue.take_for(receiver, is_for, take))
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

/// Drops a queued entry undelivered: closes what it carried and reports it with `reason`
/// (`target` and `target_origin` as for [`Task::discard`](crate::queue::Task::discard)). Must
/// be called with no lock held.
pub fn discard(
    item: Item<'_>,
    reason: pm_drop_reason,
    target: Option<Handle>,
    target_origin: Option<&Origin>,
) {
    match item {
        Item::Task(task) => task.discard(reason, target, target_origin),
        Item::Data(receiver, data, _) => receiver.refuse(reason, target, target_origin, data.len()),
        Item::Post(post) => {
            if !diagnostics::enabled() {
                return;
            }
            diagnostics::report(DropReport {
                reason,
                source_origin: post.source_origin.as_c_ptr(),
                target_origin: diagnostics::origin_ptr(target_origin),
                requested_origin: &post.requested(),
                source: post.source.filter(|&s| WINDOWS.contains(s)),
                target,
                data_len: post.data.len(),
            });
        }
    }
}

/// Records a resource as owned by the window's current document, which closes it when it goes.
/// Fails if the window is gone.
pub fn adopt(handle: Handle, resource: Arc<dyn Resource>) -> Result<(), Error> {
    WINDOWS
        .with_mut(handle, |w| w.doc.extras().resources.push(resource))
        .ok_or_else(gone)
}

/// Forgets the resource at `resource` (`Arc::as_ptr`) that the window's document owned (it was
/// transferred or closed).
pub fn disown<T: Resource>(handle: Handle, resource: &Arc<T>) {
    let ptr = Arc::as_ptr(resource) as *const ();
    WINDOWS.with_mut(handle, |w| {
        if let Some(extras) = w.doc.extras.as_mut() {
            extras.resources.retain(|r| !is(r, ptr));
        }
    });
}

/// The window's delivery mode and queue limits.
pub fn delivery(handle: Handle) -> Result<(pm_dispatch_mode, Limits), Error> {
    WINDOWS
        .with(handle, |w| (w.mode, w.limits))
        .ok_or_else(gone)
}

/// The window's delivery mode, or an error if it is gone.
pub fn mode(handle: Handle) -> Result<pm_dispatch_mode, Error> {
    WINDOWS.with(handle, |w| w.mode).ok_or_else(gone)
}
