//! Dispatch: posting a message to a window and running its listeners, synchronously or through
//! the window's queue.
//!
//! SYNC (the default, the seed's behaviour): the targetOrigin is checked against the target's
//! *current* origin, the listener list is snapshotted, every lock is released, and each listener
//! still registered runs in order on the posting thread. QUEUED (the HTML standard): the post
//! copies the data and queues a task; the origin is checked when `run_pending` delivers it.
//! A per-thread depth counter stops runaway re-entrant dispatch.

use crate::abi::{pm_dispatch_mode, pm_drop_reason};
use crate::diagnostics::{self, DropReport};
use crate::error::{Error, ErrorKind};
use crate::event::{Delivery, deliver, set_ports, window_event};
use crate::handles::Handle;
use crate::origin::{Origin, OriginKey, TargetOrigin};
use crate::port::{self, Port};
use crate::queue::{Bytes, Doc, Drain, Item, Post, PostRef, PostTarget, Task};
use crate::thread;
use crate::window;
use std::sync::Arc;

/// What the post decided after checking the target.
enum Plan {
    Sync,
    Mismatch,
    Queue(TargetOrigin),
}

/// The common case of a post, done with the least work: both windows cached and unchanged, the
/// target in SYNC mode with no allow-list listener, a targetOrigin that matches (the target's
/// origin spelled exactly, `"*"`, `"/"`, or a string parsed recently on this thread), and room
/// below the depth limit. Returns false, having done nothing, in every other case; then [`post`]
/// decides (and reports) with the full rules, and the two agree on what is delivered.
///
/// It runs outside the exports' panic boundary (which would cost a tenth of a post), so nothing
/// here may panic: the thread state is reached with `try_with`, the depth is checked without an
/// error value, listeners are called with atomics and C calls only (a target whose listeners
/// all lack a destroy function gets the tightest loop), and the one step with a lock-like
/// borrow ([`matches_recent`]) catches its own panics.
#[inline(always)]
pub fn post_fast(source: Handle, target: Handle, data: &[u8], target_origin: &[u8]) -> bool {
    // Inlined so the fast path stays one function (the closure alone would be called).
    thread::with_current(
        #[inline(always)]
        |state| match state {
            Some(state) => post_fast_in(state, source, target, data, target_origin),
            None => false,
        },
    )
}

#[inline(always)]
fn post_fast_in(
    state: &thread::ThreadState,
    source: Handle,
    target: Handle,
    data: &[u8],
    target_origin: &[u8],
) -> bool {
    let pins = state.pin_scope();
    let Some(src) = pins.cached(source) else {
        return false;
    };
    let Some(dst) = pins.cached(target) else {
        return false;
    };
    if dst.mode() != pm_dispatch_mode::PM_DISPATCH_SYNC || !dst.unfiltered() {
        // Kept out of line with only the post's arguments, so the synchronous path stays as
        // short as it was.
        return dst.mode() == pm_dispatch_mode::PM_DISPATCH_QUEUED
            && queue_fast(state, source, target, data, target_origin);
    }
    let matched = quick_match(target_origin, &src, &dst)
        || matches_recent(state, target_origin, src.origin_key(), dst.origin_key());
    if !matched {
        return false;
    }
    let Some(_depth) = state.try_enter_depth() else {
        return false;
    };
    let event = window_event(data, src.origin_c_ptr(), Some(source), Some(target));
    if dst.plain() {
        for listener in dst.listeners() {
            listener.call_plain(&event);
        }
    } else {
        for listener in dst.listeners() {
            listener.call_unfiltered(&event);
        }
    }
    true
}

/// The fast path of a post to a QUEUED window: with a targetOrigin known without parsing (`"*"`,
/// `"/"`, the target's origin spelled exactly, or a string parsed recently on this thread) it
/// queues the message inside the window's queue (no allocation for small data) with one lock,
/// and calls the waker. Returns false, having
/// queued nothing and reported nothing, when the checked path must decide (another targetOrigin,
/// or the window refuses: gone, switched to SYNC, or its queue full); that path then gives the
/// same answer with its report.
///
/// No panic: a recently parsed targetOrigin is cloned (reference counts only);
/// [`window::enqueue_with`] takes one lock and [`Queue::push_post`](crate::queue::Queue::push_post)
/// makes the entry with no indexing that can fail (a new row clones a reference; growing the
/// queue or boxing an entry aborts, never unwinds, when memory runs out); then the embedder's C
/// waker is called.
#[inline(never)]
fn queue_fast(
    state: &thread::ThreadState,
    source: Handle,
    target: Handle,
    data: &[u8],
    target_origin: &[u8],
) -> bool {
    // Looked up again rather than handed over: passing the caller's pins (by reference or by
    // value) kept them live across the SYNC path's branch and cost it 2 spills per post (189 ->
    // 191 instructions); the lookup here costs the queued post ~37.
    let pins = state.pin_scope();
    let (Some(src), Some(dst)) = (pins.cached(source), pins.cached(target)) else {
        return false;
    };
    let recent;
    let parsed = match target_origin {
        b"*" => PostTarget::Any,
        b"/" => PostTarget::SameAsSource,
        // Matched by its spelling at delivery: nothing is held for it.
        _ if dst.is_serialized_as(target_origin) => PostTarget::Spelled,
        _ => match state.with_recent_target_origin(target_origin, TargetOrigin::clone) {
            Some(TargetOrigin::Exact(origin)) => {
                recent = origin;
                PostTarget::Exact(&recent)
            }
            Some(TargetOrigin::Any) => PostTarget::Any,
            Some(TargetOrigin::SameAsSource) => PostTarget::SameAsSource,
            None => return false,
        },
    };
    let source_origin = src.origin_key();
    // The entry is made in the queue, under the lock; a refused post makes nothing and is left
    // to the checked path, which reports it.
    window::enqueue_with(target, data.len(), true, true, |queue| {
        queue.push_post(data, target_origin, Some(source), source_origin, parsed)
    })
    .is_ok()
}

/// Whether `target_origin` matches without parsing: it is the target's origin spelled exactly,
/// `"*"`, or `"/"` between windows of the same origin. (A tuple origin's serialization parses
/// back to the same origin; an opaque origin has no spelling.)
#[inline(always)]
fn quick_match(target_origin: &[u8], src: &thread::Pinned<'_>, dst: &thread::Pinned<'_>) -> bool {
    dst.is_serialized_as(target_origin)
        || target_origin == b"*"
        || (target_origin == b"/" && src.same_origin(dst))
}

/// Whether `target_origin` is a string this thread parsed recently and it matches (the fast
/// path's answer for targetOrigins other than the exact origin, `"*"` and `"/"`).
#[inline(never)]
fn matches_recent(
    state: &thread::ThreadState,
    target_origin: &[u8],
    source_origin: OriginKey<'_>,
    target_origin_key: OriginKey<'_>,
) -> bool {
    // No panic: the cache is borrowed with `try_borrow_mut` (None when it is in use) and the
    // lookup and match only compare bytes within bounds.
    state.with_recent_target_origin(target_origin, |t| {
        t.matches(source_origin, target_origin_key)
    }) == Some(true)
}

/// Reports a dropped window message (from a post, synchronous or refused before queuing).
#[cold]
fn report_window_drop(
    reason: pm_drop_reason,
    source: Handle,
    target: Handle,
    source_origin: *const std::ffi::c_char,
    target_origin: *const std::ffi::c_char,
    requested: &[u8],
    data_len: usize,
) {
    if diagnostics::enabled() {
        diagnostics::report(DropReport {
            reason,
            source_origin,
            target_origin,
            requested_origin: &String::from_utf8_lossy(requested),
            source: Some(source),
            target: Some(target),
            data_len,
        });
    }
}

/// Posts `data` from `source` to `target` with the ports `transfer` (the HTML "window post
/// message steps"). `target_origin` is the raw argument (parsed through the per-thread cache).
///
/// The synchronous path reads both windows from this thread's snapshot cache (one atomic load
/// each when they have not changed), allocates nothing and touches no lock or reference count;
/// only the listeners' own call counters are written.
pub fn post(
    source: Handle,
    target: Handle,
    data: &[u8],
    target_origin: &[u8],
    transfer: &[Handle],
) -> Result<Delivery, Error> {
    let message = Message {
        source,
        target,
        data,
        target_origin,
        transfer,
    };
    thread::with_current(|state| match state {
        Some(state) => {
            let pins = state.pin_scope();
            let (src, dst) = pins.pair(source, target);
            message.post(src, dst, Some(state))
        }
        // The thread is exiting (a post from a TLS or pthread-key destructor) and its cache is
        // gone: the same steps on snapshots owned here.
        None => {
            let (src, dst) = (thread::Owned::load(source), thread::Owned::load(target));
            message.post(
                src.as_ref().map(thread::Owned::pinned),
                dst.as_ref().map(thread::Owned::pinned),
                None,
            )
        }
    })
}

/// The arguments of a window post.
struct Message<'a> {
    source: Handle,
    target: Handle,
    data: &'a [u8],
    target_origin: &'a [u8],
    transfer: &'a [Handle],
}

impl Message<'_> {
    /// The window post message steps on the two windows' snapshots; `state` (None when the
    /// thread is exiting) caches parsed targetOrigins.
    fn post(
        &self,
        src: Option<thread::Pinned<'_>>,
        dst: Option<thread::Pinned<'_>>,
        state: Option<&thread::ThreadState>,
    ) -> Result<Delivery, Error> {
        let &Message {
            source,
            target,
            data,
            target_origin,
            transfer,
        } = self;
        let (Some(src), Some(dst)) = (src, dst) else {
            return self.post_unsnapshotted(src.is_none());
        };
        let sync = dst.mode() == pm_dispatch_mode::PM_DISPATCH_SYNC;
        let decide = |parsed: &TargetOrigin| match dst.mode() {
            pm_dispatch_mode::PM_DISPATCH_QUEUED => Plan::Queue(parsed.clone()),
            pm_dispatch_mode::PM_DISPATCH_SYNC => {
                if parsed.matches(src.origin_key(), dst.origin_key()) {
                    Plan::Sync
                } else {
                    Plan::Mismatch
                }
            }
        };
        let plan = if sync && quick_match(target_origin, &src, &dst) {
            Plan::Sync
        } else if let Some(state) = state {
            state.with_target_origin(target_origin, decide)?
        } else {
            decide(&TargetOrigin::parse_bytes(target_origin)?)
        };
        let report = |reason, target_doc: *const std::ffi::c_char| {
            report_window_drop(
                reason,
                source,
                target,
                src.origin_c_ptr(),
                target_doc,
                target_origin,
                data.len(),
            )
        };
        match plan {
            Plan::Sync => {
                let _depth = match thread::enter_depth() {
                    Ok(guard) => guard,
                    Err(e) => {
                        report(pm_drop_reason::PM_DROP_DEPTH, dst.origin_c_ptr());
                        return Err(e);
                    }
                };
                let mut event = window_event(data, src.origin_c_ptr(), Some(source), Some(target));
                let handles;
                if !transfer.is_empty() {
                    handles = port::adopt(port::detach(transfer, None)?, target);
                    set_ports(&mut event, &handles);
                }
                deliver(dst.listeners(), &event, Some(src.origin_key()), || {
                    report(pm_drop_reason::PM_DROP_FILTERED, dst.origin_c_ptr())
                });
                Ok(Delivery::Delivered)
            }
            Plan::Mismatch => {
                // A dropped post still consumes its transfer list: those ports are closed.
                if !transfer.is_empty() {
                    port::close_detached(port::detach(transfer, None)?);
                }
                report(pm_drop_reason::PM_DROP_ORIGIN_MISMATCH, dst.origin_c_ptr());
                Ok(Delivery::Dropped)
            }
            Plan::Queue(parsed) => {
                // With ports to transfer, check the limits before detaching them so that a
                // refused post leaves them where they were; without, enqueue's own check is
                // enough (one lock per post instead of two) and reports the same drop.
                if !transfer.is_empty() && !window::queue_fits(target, data.len())? {
                    report(pm_drop_reason::PM_DROP_QUEUE_FULL, dst.origin_c_ptr());
                    return Err(queue_full());
                }
                let ports = port::detach(transfer, None)?;
                let task: Box<dyn Task> = Box::new(WindowMessage::new(
                    data,
                    target_origin,
                    Some(source),
                    src.origin(),
                    parsed,
                    ports,
                ));
                match window::enqueue(target, task, true) {
                    Ok(()) => Ok(Delivery::Delivered),
                    Err((error, task)) if error.kind == ErrorKind::QueueFull => {
                        let origin = dst.origin();
                        task.discard(
                            pm_drop_reason::PM_DROP_QUEUE_FULL,
                            Some(target),
                            Some(&origin),
                        );
                        Err(queue_full())
                    }
                    Err((error, task)) => {
                        task.discard(pm_drop_reason::PM_DROP_TARGET_GONE, Some(target), None);
                        Err(error)
                    }
                }
            }
        }
    }
}

impl Message<'_> {
    /// A post where a window had no snapshot: it is gone, or a proxy (proxies are never
    /// snapshotted, so they never reach the fast path or the cache). A proxy cannot post; a post
    /// to one is its remote document's.
    #[cold]
    #[inline(never)]
    fn post_unsnapshotted(&self, no_source: bool) -> Result<Delivery, Error> {
        if window::remote(self.source).is_some() {
            return Err(window::runs_no_script());
        }
        if let Some(remote) = window::remote(self.target) {
            return remote.post(
                self.target,
                self.source,
                self.data,
                self.target_origin,
                self.transfer,
            );
        }
        Err(Error::invalid_handle(if no_source {
            "source window"
        } else {
            "target window"
        }))
    }
}

fn queue_full() -> Error {
    Error::new(
        ErrorKind::QueueFull,
        "the target window's queue is full; nothing was queued",
    )
}

/// Takes up to `max` tasks off the window's queue and delivers (or drops) each on this thread.
/// Returns how many were taken.
///
/// Each task runs against the window's document as it is just before the task runs: this
/// thread's cached snapshot of the window (one atomic load when nothing changed, no reference
/// count), so a listener added, or a navigation, during one task is seen by the next.
pub fn run_pending(window: Handle, max: usize) -> Result<usize, Error> {
    window::pending(window)?;
    let _depth = thread::enter_depth()?;
    let queue = window::queue_of(window).ok_or_else(|| Error::invalid_handle("window"))?;
    let mut count = 0;
    thread::with_current(|state| {
        // Holds the entry being run and the values it uses (see `Drain`).
        let mut drain = Drain::default();
        let Some(state) = state else {
            // The thread is exiting, its cache is gone: a snapshot per entry.
            while count < max && queue.pop_into(&mut drain) && drain.has_entry() {
                count += 1;
                match thread::Owned::load(window) {
                    Some(doc) => {
                        drain.run(|item| run_item(item, window, &doc.pinned(), thread::is_live))
                    }
                    None => drain.run(target_gone),
                };
            }
            return;
        };
        // One pin scope for the whole run: the window's snapshot is looked up once and
        // re-checked per entry with one load (a listener's change or a navigation bumps the
        // version, so the next entry sees it).
        let pins = state.pin_scope();
        let mut current = None;
        // A listener may free the window: then stop, having taken `count`.
        while count < max && queue.pop_into(&mut drain) && drain.has_entry() {
            count += 1;
            let pinned = match current {
                Some((mark, pinned)) if pins.is_still(mark) => pinned,
                _ => match pins.window_marked(window) {
                    Some((mark, pinned)) => {
                        current = Some((mark, pinned));
                        pinned
                    }
                    None => {
                        current = None;
                        drain.run(target_gone);
                        continue;
                    }
                },
            };
            // A source cached and current on this thread is live: no lookup.
            drain.run(|item| {
                run_item(item, window, &pinned, |s| {
                    pins.cached(s).is_some() || thread::is_live(s)
                })
            });
        }
    });
    Ok(count)
}

/// Runs a queued entry against the window's document `pinned` (its `Doc` is made only for the
/// entries that read it: data for a port or channel does not); `live` tells whether a source
/// window still exists.
#[inline(always)]
fn run_item(
    item: Item<'_>,
    window: Handle,
    pinned: &thread::Pinned<'_>,
    live: impl Fn(Handle) -> bool,
) {
    match item {
        Item::Post(post) => {
            let doc = &pinned.doc();
            if post.matches(doc) {
                let source = post.source.filter(|&s| live(s));
                deliver_post(&post, window, doc, source, &[]);
            } else {
                drop_post(
                    &post,
                    Vec::new(),
                    pm_drop_reason::PM_DROP_ORIGIN_MISMATCH,
                    Some(window),
                    doc.origin_c,
                );
            }
        }
        Item::Data(receiver, data, memo) => receiver.receive(receiver, window, data, memo),
        Item::Task(task) => task.run(window, &pinned.doc()),
    }
}

/// Drops an entry whose window went away after it was taken (freed by another thread).
#[cold]
fn target_gone(item: Item<'_>) {
    window::discard(item, pm_drop_reason::PM_DROP_TARGET_GONE, None, None);
}

/// Runs `doc`'s listeners for a queued window message whose targetOrigin matched, with the
/// handles of the ports it carried; `source` is the sending window if it still exists.
#[inline]
fn deliver_post(
    post: &PostRef<'_>,
    window: Handle,
    doc: &Doc<'_>,
    source: Option<Handle>,
    ports: &[*mut crate::abi::pm_port],
) {
    let mut event = window_event(
        post.data,
        post.source_origin.as_c_ptr(),
        source,
        Some(window),
    );
    if !ports.is_empty() {
        set_ports(&mut event, ports);
    }
    if doc.unfiltered {
        // No allow-list can skip a listener (so nothing to report): the SYNC fast path's loop.
        for listener in doc.listeners {
            listener.call_unfiltered(&event);
        }
        return;
    }
    deliver(
        doc.listeners,
        &event,
        Some(post.source_origin.key()),
        || {
            diagnostics::report(DropReport {
                reason: pm_drop_reason::PM_DROP_FILTERED,
                source_origin: post.source_origin.as_c_ptr(),
                target_origin: doc.origin_c,
                requested_origin: &post.requested(),
                source,
                target: Some(window),
                data_len: post.data.len(),
            })
        },
    );
}

/// Drops an undelivered window message: closes the ports it carried and reports it
/// (`target_origin` is the target document's serialization, "" when unknown).
fn drop_post(
    post: &PostRef<'_>,
    ports: Vec<Arc<Port>>,
    reason: pm_drop_reason,
    target: Option<Handle>,
    target_origin: *const std::ffi::c_char,
) {
    if !ports.is_empty() {
        port::close_detached(ports);
    }
    if !diagnostics::enabled() {
        return;
    }
    diagnostics::report(DropReport {
        reason,
        source_origin: post.source_origin.as_c_ptr(),
        target_origin,
        requested_origin: &post.requested(),
        source: post.source.filter(|&s| thread::is_live(s)),
        target,
        data_len: post.data.len(),
    });
}

/// A window message with ports waiting for delivery (one without is made in the queue by
/// [`Queue::push_post`](crate::queue::Queue::push_post)).
pub struct WindowMessage {
    post: Post,
    ports: Vec<Arc<Port>>,
}

impl WindowMessage {
    /// A message carrying a copy of `data` and of `requested` (the raw targetOrigin argument).
    pub fn new(
        data: &[u8],
        requested: &[u8],
        source: Option<Handle>,
        source_origin: Origin,
        target_origin: TargetOrigin,
        ports: Vec<Arc<Port>>,
    ) -> WindowMessage {
        WindowMessage {
            post: Post {
                bytes: Bytes::concat(data, requested),
                data_len: data.len(),
                source,
                source_origin,
                target_origin,
            },
            ports,
        }
    }
}

impl Task for WindowMessage {
    fn data_len(&self) -> usize {
        self.post.data_len
    }

    fn run(self: Box<Self>, window: Handle, doc: &Doc<'_>) {
        let WindowMessage { post, ports } = *self;
        let post = post.view();
        if !post.matches(doc) {
            let reason = pm_drop_reason::PM_DROP_ORIGIN_MISMATCH;
            drop_post(&post, ports, reason, Some(window), doc.origin_c);
            return;
        }
        let source = post.source.filter(|&s| thread::is_live(s));
        let handles = port::adopt(ports, window);
        deliver_post(&post, window, doc, source, &handles);
    }

    /// Drops the undelivered message: closes the ports it carried and reports it.
    fn discard(
        self: Box<Self>,
        reason: pm_drop_reason,
        target: Option<Handle>,
        target_origin: Option<&Origin>,
    ) {
        let WindowMessage { post, ports } = *self;
        drop_post(
            &post.view(),
            ports,
            reason,
            target,
            diagnostics::origin_ptr(target_origin),
        );
    }
}

#[cfg(test)]
mod tests {
    //! Which path a post takes. Each test runs on its own thread, so its window cache starts
    //! empty.
    use super::*;
    use crate::abi::pm_message_event;
    use crate::listener::Listener;
    use crate::origin::TargetOrigin;
    use std::ffi::c_void;
    use std::sync::atomic::{AtomicUsize, Ordering};

    unsafe extern "C" fn count(_: *const pm_message_event, ud: *mut c_void) {
        // SAFETY: every test passes a counter that outlives its windows.
        unsafe { &*(ud as *const AtomicUsize) }.fetch_add(1, Ordering::SeqCst);
    }

    unsafe extern "C" fn no_destroy(_: *mut c_void) {}

    fn ud(counter: &AtomicUsize) -> *mut c_void {
        counter as *const AtomicUsize as *mut c_void
    }

    fn slow(source: Handle, target: Handle, target_origin: &[u8]) -> Delivery {
        post(source, target, b"hi", target_origin, &[]).expect("post")
    }

    #[test]
    fn the_fast_path_serves_cached_windows_until_one_changes() {
        let calls = AtomicUsize::new(0);
        let a = window::create("http://127.0.0.1/").unwrap();
        let b = window::create("http://localhost/").unwrap();
        window::add_listener(b, Listener::shared(count, ud(&calls), None)).unwrap();
        assert!(!post_fast(a, b, b"hi", b"*"), "nothing is cached yet");
        assert_eq!(slow(a, b, b"*"), Delivery::Delivered);
        for origin in [&b"*"[..], b"http://localhost", b"http://localhost/page?x"] {
            if origin.len() > 16 {
                slow(a, b, origin); // parsed once, then matched from the recent strings
            }
            assert!(
                post_fast(a, b, b"hi", origin),
                "{:?}",
                String::from_utf8_lossy(origin)
            );
        }
        assert!(
            !post_fast(a, b, b"hi", b"http://127.0.0.1"),
            "a mismatch is the slow path's"
        );
        window::add_listener(b, Listener::shared(count, ud(&calls), None)).unwrap();
        assert!(!post_fast(a, b, b"hi", b"*"), "the target changed");
        slow(a, b, b"*");
        assert!(post_fast(a, b, b"hi", b"*"));
        let before = calls.load(Ordering::SeqCst);
        assert!(post_fast(a, b, b"hi", b"*"));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            before + 2,
            "both listeners ran"
        );
        window::free(a).unwrap();
        window::free(b).unwrap();
    }

    #[test]
    fn destroy_functions_take_the_fast_path_and_allow_lists_do_not() {
        let calls = AtomicUsize::new(0);
        let a = window::create("http://127.0.0.1/").unwrap();
        let counted = window::create("http://localhost/").unwrap();
        let filtered = window::create("http://localhost/").unwrap();
        let listener = Listener::shared(count, ud(&calls), Some(no_destroy));
        window::add_listener(counted, listener).unwrap();
        let allowed = TargetOrigin::parse("http://127.0.0.1").unwrap();
        let listener =
            Listener::with_allow_list(count, ud(&calls), None, Some(Box::new([allowed])));
        window::add_listener(filtered, listener).unwrap();
        for target in [counted, filtered] {
            slow(a, target, b"*");
        }
        assert!(post_fast(a, counted, b"hi", b"*"));
        assert!(!post_fast(a, filtered, b"hi", b"*"));
        assert_eq!(slow(a, filtered, b"*"), Delivery::Delivered);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        for w in [a, counted, filtered] {
            window::free(w).unwrap();
        }
    }

    #[test]
    fn windows_whose_handles_collide_stay_cached_together() {
        // Windows until two handles fall in the same cache entry (raw handle mod 64).
        let mut windows = Vec::new();
        let (a, b) = loop {
            let w = window::create("http://localhost/").unwrap();
            if let Some(&v) = windows
                .iter()
                .find(|v: &&Handle| v.to_raw() % 64 == w.to_raw() % 64)
            {
                break (v, w);
            }
            windows.push(w);
        };
        windows.push(b);
        slow(a, b, b"*");
        assert!(
            post_fast(a, b, b"hi", b"*"),
            "the target went to the neighbour entry"
        );
        slow(b, a, b"*");
        assert!(post_fast(b, a, b"hi", b"*"));
        assert!(post_fast(a, b, b"hi", b"*"));
        for w in windows {
            window::free(w).unwrap();
        }
    }
}
