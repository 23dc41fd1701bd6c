//! Per-window task queues for QUEUED delivery (the HTML standard's "queue a task"), with limits
//! so a flood cannot exhaust memory.

use crate::abi::{pm_drop_reason, pm_wake_fn, pm_window};
use crate::error::{Error, ErrorKind};
use crate::handles::Handle;
use crate::listener::{ListenerList, ListenerRef};
use crate::origin::{Origin, OriginKey, TargetOrigin};
use std::any::Any;
use std::collections::VecDeque;
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// A window's waker and its user data.
#[derive(Clone, Copy)]
pub struct Waker {
    callback: unsafe extern "C" fn(*mut pm_window, *mut c_void),
    user_data: *mut c_void,
}

// SAFETY: the embedder gives the waker to be called from any posting thread; we never
// dereference user_data.
unsafe impl Send for Waker {}
// SAFETY: as above.
unsafe impl Sync for Waker {}

impl Waker {
    pub fn new(callback: pm_wake_fn, user_data: *mut c_void) -> Option<Waker> {
        callback.map(|callback| Waker {
            callback,
            user_data,
        })
    }

    /// Calls the waker. Must be called with no library lock held.
    pub fn wake(self, window: Handle) {
        // SAFETY: the embedder's waker with its own user data.
        unsafe { (self.callback)(window.to_ptr(), self.user_data) };
    }
}

/// Queue limits; 0 means no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_messages: usize,
    pub max_bytes: usize,
}

impl Limits {
    /// Whether one more message of `data_len` bytes fits beside `count` messages of `bytes`.
    pub fn allow(self, count: usize, bytes: usize, data_len: usize) -> bool {
        (self.max_messages == 0 || count < self.max_messages)
            && (self.max_bytes == 0 || bytes.saturating_add(data_len) <= self.max_bytes)
    }

    /// The error for a message these limits refuse.
    pub fn refusal(self, count: usize, bytes: usize) -> Error {
        Error::new(
            ErrorKind::QueueFull,
            format!(
                "the window's queue is full ({count} messages, {bytes} bytes waiting; limits {} messages, {} bytes)",
                self.max_messages, self.max_bytes
            ),
        )
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_messages: 10_000,
            max_bytes: 64 << 20,
        }
    }
}

/// The current document of the window a task runs in, as `run_pending` found it just before
/// running the task; borrowed for the run (nothing is cloned per task).
#[derive(Clone, Copy)]
pub struct Doc<'a> {
    /// The document's origin, for targetOrigin matching.
    pub origin: OriginKey<'a>,
    /// Its serialization, NUL-terminated, for events and drop reports.
    pub origin_c: *const c_char,
    /// Its serialization without the NUL when it is a tuple origin (None when opaque), for
    /// [`Target::Spelled`].
    pub serialization: Option<&'a [u8]>,
    /// Its listeners, in order (window messages run them; other tasks ignore them).
    pub listeners: &'a [ListenerRef],
    /// No listener has an allow-list (so none filters a window message).
    pub unfiltered: bool,
}

/// Something queued for delivery into a window. Each kind of message (window, port, broadcast)
/// implements it next to its own code, so the queue and the window name none of them. (`Any`:
/// the kind that queued a task can recognize it again, e.g. a transferred port taking its
/// waiting messages along.)
pub trait Task: Any + Send + Sync {
    /// Bytes of message data, counted against the queue's byte limit.
    fn data_len(&self) -> usize;
    /// Delivers it into `window`, whose current document is `doc`.
    fn run(self: Box<Self>, window: Handle, doc: &Doc<'_>);
    /// Drops it undelivered: closes what it carried and reports it with `reason`.
    fn discard(
        self: Box<Self>,
        reason: pm_drop_reason,
        target: Option<Handle>,
        target_origin: Option<&Origin>,
    );
}

/// A queued task.
pub type BoxedTask = Box<dyn Task>;

/// What a port or broadcast channel does with data queued for it (implemented next to each,
/// so the queue names neither). Queued in the queue's entry (no allocation besides the data's
/// when it is large), the receiver held once per queue, not per entry.
pub trait Receiver: Any + Send + Sync {
    /// Delivers `data` to it in `window` (the window whose queue held it); `this` is the
    /// reference the queue holds to it (for a port that must follow its move), `memo` what the
    /// receivers of this drain remembered (see [`Memo`]).
    fn receive(&self, this: &Arc<dyn Receiver>, window: Handle, data: &[u8], memo: &mut Memo);
    /// Drops `data_len` bytes queued for it undelivered, reporting them with `reason`.
    fn refuse(
        &self,
        reason: pm_drop_reason,
        target: Option<Handle>,
        target_origin: Option<&Origin>,
        data_len: usize,
    );
}

/// What a receiver remembers between the entries of one drain: its listener snapshot and the
/// version of its state that the snapshot is valid for (read under its lock), so that
/// consecutive messages to one port or channel take no lock and no reference count while the
/// version stays (any change of what delivery checks bumps it). Dropped with the drain, with no
/// lock held.
#[derive(Default)]
pub struct Memo {
    /// The receiver's address (0: nothing remembered).
    key: usize,
    /// Keeps the receiver alive, so its address names no other while remembered.
    _holder: Option<Arc<dyn Receiver>>,
    /// The window it was delivered in.
    window: Option<Handle>,
    version: u64,
    listeners: ListenerList,
}

impl Memo {
    /// What to remember after a delivery to `receiver` in `window`: its listener snapshot,
    /// valid while its version is `version`.
    pub fn new(
        receiver: &Arc<dyn Receiver>,
        window: Option<Handle>,
        version: u64,
        listeners: ListenerList,
    ) -> Memo {
        Memo {
            key: key_of_receiver(receiver) as usize,
            _holder: Some(receiver.clone()),
            window,
            version,
            listeners,
        }
    }

    /// The remembered listeners if they are those of the receiver at `receiver` (its address)
    /// in `window` at `version`.
    #[inline(always)]
    pub fn listeners<R>(
        &self,
        receiver: &R,
        window: Option<Handle>,
        version: u64,
    ) -> Option<&ListenerList> {
        (self.key == receiver as *const R as usize
            && self.window == window
            && self.version == version)
            .then_some(&self.listeners)
    }
}

/// A window message with everything it holds (one with ports, queued as a task, holds one);
/// the common queued post is made in the queue instead ([`Queue::push_post`]).
pub struct Post {
    /// The message data followed by the targetOrigin as given (for drop reports).
    pub bytes: Bytes,
    /// Where the data ends in `bytes`.
    pub data_len: usize,
    /// The sending window; None for a message from another process with no proxy here.
    pub source: Option<Handle>,
    pub source_origin: Origin,
    pub target_origin: TargetOrigin,
}

impl Post {
    /// The message as its runner sees it.
    #[inline]
    pub fn view(&self) -> PostRef<'_> {
        let (data, requested) = split(self.bytes.as_slice(), self.data_len);
        PostRef {
            data,
            requested,
            source: self.source,
            source_origin: &self.source_origin,
            target: match &self.target_origin {
                TargetOrigin::Any => Target::Any,
                TargetOrigin::SameAsSource => Target::SameAsSource,
                TargetOrigin::Exact(origin) => Target::Exact(origin),
            },
        }
    }
}

/// `bytes` split at `at` (all of it first when `at` is past the end: never panics).
#[inline(always)]
fn split(bytes: &[u8], at: usize) -> (&[u8], &[u8]) {
    bytes.split_at_checked(at).unwrap_or((bytes, &[]))
}

/// A queued window message as its runner (or its drop report) sees it, borrowed from the queue
/// entry and the values the queue holds for it.
#[derive(Clone, Copy)]
pub struct PostRef<'a> {
    pub data: &'a [u8],
    /// The targetOrigin as given.
    pub requested: &'a [u8],
    /// The sending window; None for a message from another process with no proxy here.
    pub source: Option<Handle>,
    pub source_origin: &'a Origin,
    pub target: Target<'a>,
}

impl PostRef<'_> {
    /// The targetOrigin as given, for drop reports.
    pub fn requested(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.requested)
    }

    /// Whether its targetOrigin matches the document `doc` it is delivered into (the HTML
    /// standard checks it at delivery, against the origin then).
    #[inline(always)]
    pub fn matches(&self, doc: &Doc<'_>) -> bool {
        match self.target {
            Target::Any => true,
            Target::SameAsSource => self.source_origin.key() == doc.origin,
            Target::Exact(origin) => origin.key() == doc.origin,
            Target::Spelled => doc
                .serialization
                .is_some_and(|spelled| crate::origin::short_eq(spelled, self.requested)),
        }
    }
}

/// A queued window message's targetOrigin, as matched at delivery.
#[derive(Clone, Copy)]
pub enum Target<'a> {
    /// `"*"`.
    Any,
    /// `"/"`.
    SameAsSource,
    /// The requested string is exactly the serialization of the target's tuple origin at post
    /// time: it matches a document whose origin serializes the same (serializations are
    /// canonical). Nothing is held for it.
    Spelled,
    /// A parsed absolute URL's origin.
    Exact(&'a Origin),
}

/// A queued entry as its runner sees it.
pub enum Item<'a> {
    Post(PostRef<'a>),
    /// Data for a port or broadcast channel, with what the drain's receivers remembered.
    Data(&'a Arc<dyn Receiver>, &'a [u8], &'a mut Memo),
    Task(BoxedTask),
}

/// An entry taken out for its receiver ([`Queue::take_for`]).
pub enum Out<'a> {
    /// Data queued for it.
    Data(&'a [u8]),
    /// A task picked for it.
    Task(BoxedTask),
}

/// Rows of reference-counted values a queue holds for its entries; past this many distinct
/// values at once, an entry holds its own (boxed), so nothing grows without bound.
const MAX_ROWS: usize = 16;
/// An entry's row code: its values are in its own box ([`Owned`]).
const OWNED: u8 = u8::MAX;
/// Target codes of a window message besides a row index.
const T_ANY: u8 = 250;
const T_SAME: u8 = 251;
const T_SPELLED: u8 = 252;
const _: () = assert!(MAX_ROWS < T_ANY as usize);

/// A reference-counted value that queue entries use.
#[derive(Clone)]
enum Shared {
    Origin(Origin),
    Receiver(Arc<dyn Receiver>),
}

impl Shared {
    fn origin(&self) -> Option<&Origin> {
        match self {
            Shared::Origin(origin) => Some(origin),
            Shared::Receiver(_) => None,
        }
    }

    fn receiver(&self) -> Option<&Arc<dyn Receiver>> {
        match self {
            Shared::Receiver(receiver) => Some(receiver),
            Shared::Origin(_) => None,
        }
    }
}

/// One value the queue holds, with a plain count of the entries using it (the queue's lock
/// guards it): a post from a source already here takes no reference count.
struct Row {
    /// The value's identity (see [`key_of_origin`] and [`key_of_receiver`]).
    key: u64,
    count: u32,
    value: Shared,
}

/// An origin's identity: its interned object's address, or its opaque id tagged odd.
#[inline(always)]
fn key_of_origin(origin: OriginKey<'_>) -> u64 {
    origin.id()
}

#[inline(always)]
fn key_of_receiver<R: ?Sized>(receiver: &Arc<R>) -> u64 {
    Arc::as_ptr(receiver) as *const () as usize as u64
}

/// What a queued entry holds for itself when the queue's rows are all taken.
struct Owned {
    bytes: Bytes,
    data_len: usize,
    source_origin: Option<Origin>,
    target_origin: Option<Origin>,
    receiver: Option<Arc<dyn Receiver>>,
}

/// An entry's message bytes or task.
enum Body {
    Bytes(Bytes),
    Owned(Box<Owned>),
    Task(BoxedTask),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Post,
    Data,
    Task,
}

/// One entry of a window's queue (56 bytes): the common kinds with their bytes inline and
/// small indices into the queue's [`Row`]s instead of reference-counted values.
pub struct Entry {
    body: Body,
    /// A window message's sending window.
    source: Option<Handle>,
    /// Where the data ends in the bytes (the rest is a window message's targetOrigin as
    /// given); `Owned` entries keep theirs in the box.
    data_len: u32,
    kind: Kind,
    /// A window message's source origin row, or a data entry's receiver row (or [`OWNED`]).
    row: u8,
    /// A window message's targetOrigin: a code or a row (or [`OWNED`]).
    target: u8,
}

const _: () = assert!(std::mem::size_of::<Entry>() <= 56);

impl Entry {
    /// Bytes of message data, counted against the queue's byte limit.
    #[inline]
    fn data_len(&self) -> usize {
        match &self.body {
            Body::Bytes(_) => self.data_len as usize,
            Body::Owned(owned) => owned.data_len,
            Body::Task(task) => task.data_len(),
        }
    }

    /// The entry as its runner sees it, given the values of its rows (`source`, `target` and
    /// `receiver`, as they apply); a task is taken out. None only for an inconsistent entry
    /// (never made).
    #[inline(always)]
    fn item<'a>(
        &'a mut self,
        source: Option<&'a Origin>,
        target: Option<&'a Origin>,
        receiver: Option<&'a Arc<dyn Receiver>>,
        memo: &'a mut Memo,
    ) -> Option<Item<'a>> {
        if self.kind == Kind::Task {
            return match std::mem::replace(&mut self.body, Body::Bytes(Bytes::EMPTY)) {
                Body::Task(task) => Some(Item::Task(task)),
                _ => None,
            };
        }
        let (bytes, data_len, source, target, receiver) = match &self.body {
            Body::Bytes(bytes) => (bytes, self.data_len as usize, source, target, receiver),
            Body::Owned(owned) => (
                &owned.bytes,
                owned.data_len,
                owned.source_origin.as_ref(),
                owned.target_origin.as_ref(),
                owned.receiver.as_ref(),
            ),
            Body::Task(_) => return None,
        };
        let (data, requested) = split(bytes.as_slice(), data_len);
        if self.kind == Kind::Data {
            return Some(Item::Data(receiver?, data, memo));
        }
        let target = match self.target {
            T_ANY => Target::Any,
            T_SAME => Target::SameAsSource,
            T_SPELLED => Target::Spelled,
            _ => Target::Exact(target?),
        };
        Some(Item::Post(PostRef {
            data,
            requested,
            source: self.source,
            source_origin: source?,
            target,
        }))
    }
}

/// The targetOrigin of a window message being queued.
#[derive(Clone, Copy)]
pub enum PostTarget<'a> {
    Any,
    SameAsSource,
    /// The target's origin spelled exactly (see [`Target::Spelled`]).
    Spelled,
    Exact(&'a Origin),
}

/// A document's queue of tasks.
#[derive(Default)]
pub struct Queue {
    tasks: VecDeque<Entry>,
    bytes: usize,
    rows: Vec<Option<Row>>,
    /// The row last found or made (checked first).
    last: u8,
}

/// What a drain holds while it runs an entry taken off a queue: the entry, and its own
/// references to the values of the rows it used, cloned only when the row changes (so a run of
/// messages from one source takes no reference count) and kept after the queue lets the row
/// go. Values it replaces are dropped after the queue's lock ([`Drain::settle`]).
#[derive(Default)]
pub struct Drain {
    entry: Option<Entry>,
    source: Option<(u64, Origin)>,
    target: Option<(u64, Origin)>,
    receiver: Option<(u64, Arc<dyn Receiver>)>,
    /// Values replaced under the lock (one per role: source, target, receiver), dropped after.
    replaced: [Option<Shared>; 3],
    memo: Memo,
}

impl Drain {
    /// Whether it holds an entry to run.
    #[inline]
    pub fn has_entry(&self) -> bool {
        self.entry.is_some()
    }

    /// Forgets the entry it held (none was taken).
    #[inline]
    pub fn clear(&mut self) {
        self.entry = None;
    }

    /// Drops the values replaced while the queue was locked (call with no lock held).
    #[inline]
    pub fn settle(&mut self) {
        if self.replaced.iter().any(Option::is_some) {
            self.replaced = [None, None, None];
        }
    }

    /// Takes the entry for running: runs `f` on it as its runner sees it, then drops it.
    #[inline]
    pub fn run<R>(&mut self, f: impl FnOnce(Item<'_>) -> R) -> Option<R> {
        let mut entry = self.entry.take()?;
        let item = entry.item(
            self.source.as_ref().map(|(_, o)| o),
            self.target.as_ref().map(|(_, o)| o),
            self.receiver.as_ref().map(|(_, r)| r),
            &mut self.memo,
        )?;
        let outcome = f(item);
        if let Body::Bytes(Bytes::Inline { .. }) = entry.body {
            // Owns nothing (a task was taken out, leaving this): skips the drop glue's call.
            std::mem::forget(entry);
        }
        Some(outcome)
    }
}

/// A queue taken whole (its document retired): its entries with the values they use.
pub struct Taken {
    tasks: VecDeque<Entry>,
    rows: Vec<Option<Row>>,
}

impl Taken {
    /// Runs `f` on each entry in order, as its runner would see it.
    pub fn for_each(mut self, mut f: impl FnMut(Item<'_>)) {
        let rows = std::mem::take(&mut self.rows);
        let value = |row: u8| rows.get(usize::from(row)).and_then(Option::as_ref);
        let origin = |row: u8| value(row).and_then(|r| r.value.origin());
        let receiver = |row: u8| value(row).and_then(|r| r.value.receiver());
        let mut memo = Memo::default();
        for mut entry in self.tasks.drain(..) {
            let (row, target) = (entry.row, entry.target);
            if let Some(item) = entry.item(origin(row), origin(target), receiver(row), &mut memo) {
                f(item);
            }
        }
    }
}

impl Queue {
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Bytes of message data waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether a task of `data_len` bytes fits within `limits`.
    pub fn fits(&self, data_len: usize, limits: Limits) -> bool {
        limits.allow(self.tasks.len(), self.bytes, data_len)
    }

    /// The row holding the value with identity `key` (one more entry uses it), made with
    /// `value` when there is none and a row is free; None when all are taken.
    #[inline(always)]
    fn hold(&mut self, key: u64, value: impl FnOnce() -> Shared) -> Option<u8> {
        if let Some(Some(row)) = self.rows.get_mut(usize::from(self.last))
            && row.key == key
        {
            row.count = row.count.saturating_add(1);
            return Some(self.last);
        }
        self.hold_slow(key, value)
    }

    #[inline(never)]
    fn hold_slow(&mut self, key: u64, value: impl FnOnce() -> Shared) -> Option<u8> {
        let index = match self
            .rows
            .iter()
            .position(|r| r.as_ref().is_some_and(|r| r.key == key))
        {
            Some(index) => {
                if let Some(Some(row)) = self.rows.get_mut(index) {
                    row.count = row.count.saturating_add(1);
                }
                index
            }
            None => {
                let row = Some(Row {
                    key,
                    count: 1,
                    value: value(),
                });
                match self.rows.iter().position(Option::is_none) {
                    Some(free) => {
                        if let Some(slot) = self.rows.get_mut(free) {
                            *slot = row;
                        }
                        free
                    }
                    None if self.rows.len() < MAX_ROWS => {
                        self.rows.push(row);
                        self.rows.len() - 1
                    }
                    // Dropped with the queue's lock held, but not the last reference: the
                    // caller's value is alive.
                    None => return None,
                }
            }
        };
        self.last = index as u8;
        Some(self.last)
    }

    /// One entry less uses row `row`; the drain's `held` (same value, or replaced by a clone of
    /// it, the old one kept in `replaced` for later) keeps the value alive past the row.
    #[inline(always)]
    fn release<T>(
        &mut self,
        row: u8,
        held: &mut Option<(u64, T)>,
        replaced: &mut Option<Shared>,
        get: fn(&Shared) -> Option<&T>,
        put: impl FnOnce(T) -> Shared,
    ) where
        T: Clone,
    {
        let Some(Some(r)) = self.rows.get_mut(usize::from(row)) else {
            return;
        };
        if held.as_ref().map(|h| h.0) != Some(r.key)
            && let Some(value) = get(&r.value)
            && let Some((_, old)) = held.replace((r.key, value.clone()))
        {
            *replaced = Some(put(old));
        }
        r.count = r.count.saturating_sub(1);
        if r.count == 0 {
            // Not the last reference: the drain holds one.
            if let Some(slot) = self.rows.get_mut(usize::from(row)) {
                *slot = None;
            }
        }
    }

    /// Appends a window message without ports: `data` and the targetOrigin as given
    /// (`requested`) inside the entry when they are small, the source origin and a parsed
    /// targetOrigin as rows. Returns whether the queue was empty. Never panics (growing aborts,
    /// never unwinds, when memory runs out).
    #[inline(always)]
    pub fn push_post(
        &mut self,
        data: &[u8],
        requested: &[u8],
        source: Option<Handle>,
        source_origin: OriginKey<'_>,
        target: PostTarget<'_>,
    ) -> bool {
        let was_empty = self.tasks.is_empty();
        self.bytes += data.len();
        let row = self.hold(key_of_origin(source_origin), || {
            Shared::Origin(source_origin.to_origin())
        });
        let target_code = match target {
            PostTarget::Any => Some(T_ANY),
            PostTarget::SameAsSource => Some(T_SAME),
            PostTarget::Spelled => Some(T_SPELLED),
            PostTarget::Exact(origin) => self.hold(key_of_origin(origin.key()), || {
                Shared::Origin(origin.clone())
            }),
        };
        let small = u32::try_from(data.len()).ok();
        let entry = match (row, target_code, small) {
            (Some(row), Some(target), Some(data_len))
                if data.len() + requested.len() <= INLINE_BYTES =>
            {
                // The common post: the entry is pushed with an empty buffer and the bytes are
                // copied straight into it in the queue (no entry assembled on the stack first).
                self.tasks.push_back(Entry {
                    body: Body::Bytes(Bytes::EMPTY),
                    source,
                    data_len,
                    kind: Kind::Post,
                    row,
                    target,
                });
                if let Some(Entry {
                    body: Body::Bytes(Bytes::Inline { len, buf }),
                    ..
                }) = self.tasks.back_mut()
                {
                    copy_short(buf, 0, data);
                    copy_short(buf, data.len(), requested);
                    *len = (data.len() + requested.len()) as u8;
                }
                return was_empty;
            }
            (Some(row), Some(target), Some(data_len)) => Entry {
                body: Body::Bytes(Bytes::concat(data, requested)),
                source,
                data_len,
                kind: Kind::Post,
                row,
                target,
            },
            _ => {
                // Rows all taken (or a message past 4 GiB): the entry holds its own values.
                self.unhold(row, Kind::Post);
                if let PostTarget::Exact(_) = target {
                    self.unhold(target_code, Kind::Post);
                }
                Entry {
                    body: Body::Owned(Box::new(Owned {
                        bytes: Bytes::concat(data, requested),
                        data_len: data.len(),
                        source_origin: Some(source_origin.to_origin()),
                        target_origin: match target {
                            PostTarget::Exact(origin) => Some(origin.clone()),
                            _ => None,
                        },
                        receiver: None,
                    })),
                    source,
                    data_len: 0,
                    kind: Kind::Post,
                    row: OWNED,
                    target: match target {
                        PostTarget::Any => T_ANY,
                        PostTarget::SameAsSource => T_SAME,
                        PostTarget::Spelled => T_SPELLED,
                        PostTarget::Exact(_) => OWNED,
                    },
                }
            }
        };
        self.tasks.push_back(entry);
        was_empty
    }

    /// Gives back a row [`hold`](Self::hold) took for an entry that is not made after all (its
    /// count was raised, so it stays above 0 only if other entries use it).
    #[cold]
    fn unhold(&mut self, row: Option<u8>, _: Kind) {
        let Some(row) = row else { return };
        if let Some(slot) = self.rows.get_mut(usize::from(row))
            && let Some(r) = slot
        {
            r.count = r.count.saturating_sub(1);
            if r.count == 0 {
                // Not the last reference: the caller holds the value too.
                *slot = None;
            }
        }
    }

    /// Appends data for a port or broadcast channel; returns whether the queue was empty.
    /// Never panics.
    #[inline(always)]
    pub fn push_data<R: Receiver + 'static>(&mut self, receiver: &Arc<R>, bytes: Bytes) -> bool {
        let was_empty = self.tasks.is_empty();
        let data_len = bytes.len();
        self.bytes += data_len;
        let row = self.hold(key_of_receiver(receiver), || {
            Shared::Receiver(receiver.clone())
        });
        let entry = match (row, u32::try_from(data_len).ok()) {
            (Some(row), Some(small)) => Entry {
                body: Body::Bytes(bytes),
                source: None,
                data_len: small,
                kind: Kind::Data,
                row,
                target: 0,
            },
            _ => {
                self.unhold(row, Kind::Data);
                Entry {
                    body: Body::Owned(Box::new(Owned {
                        bytes,
                        data_len,
                        source_origin: None,
                        target_origin: None,
                        receiver: Some(receiver.clone()),
                    })),
                    source: None,
                    data_len: 0,
                    kind: Kind::Data,
                    row: OWNED,
                    target: 0,
                }
            }
        };
        self.tasks.push_back(entry);
        was_empty
    }

    /// [`push_data`](Self::push_data) for a copy of `data`: small data is copied straight into
    /// the entry in the queue (no entry assembled first); larger data goes in the bytes `large`
    /// makes. Returns whether the queue was empty. Never panics.
    #[inline(always)]
    pub fn push_data_copy<R: Receiver + 'static>(
        &mut self,
        receiver: &Arc<R>,
        data: &[u8],
        large: impl FnOnce() -> Bytes,
    ) -> bool {
        if data.len() <= INLINE_BYTES
            && let Some(row) = self.hold(key_of_receiver(receiver), || {
                Shared::Receiver(receiver.clone())
            })
        {
            let was_empty = self.tasks.is_empty();
            self.bytes += data.len();
            self.tasks.push_back(Entry {
                body: Body::Bytes(Bytes::EMPTY),
                source: None,
                data_len: data.len() as u32,
                kind: Kind::Data,
                row,
                target: 0,
            });
            if let Some(Entry {
                body: Body::Bytes(Bytes::Inline { len, buf }),
                ..
            }) = self.tasks.back_mut()
            {
                copy_short(buf, 0, data);
                *len = data.len() as u8;
            }
            return was_empty;
        }
        // Large, or the rows are all taken (nothing was held): the general push.
        self.push_data(receiver, large())
    }

    /// Appends a task; returns whether the queue was empty.
    pub fn push_task(&mut self, task: BoxedTask) -> bool {
        let was_empty = self.tasks.is_empty();
        self.bytes += task.data_len();
        self.tasks.push_back(Entry {
            body: Body::Task(task),
            source: None,
            data_len: 0,
            kind: Kind::Task,
            row: OWNED,
            target: OWNED,
        });
        was_empty
    }

    /// Takes the first entry into `drain` (none when the queue is empty), with the values it
    /// uses; values the drain replaces wait in it for [`Drain::settle`].
    #[inline(always)]
    pub fn pop_into(&mut self, drain: &mut Drain) {
        let Some(entry) = self.tasks.pop_front() else {
            drain.entry = None;
            return;
        };
        self.bytes -= entry.data_len();
        let Drain {
            source,
            target,
            receiver,
            replaced,
            ..
        } = drain;
        match entry.kind {
            Kind::Post => {
                if entry.row != OWNED {
                    let replaced = &mut replaced[0];
                    self.release(entry.row, source, replaced, Shared::origin, Shared::Origin);
                }
                if usize::from(entry.target) < MAX_ROWS {
                    self.release(
                        entry.target,
                        target,
                        &mut replaced[1],
                        Shared::origin,
                        Shared::Origin,
                    );
                }
            }
            Kind::Data if entry.row != OWNED => {
                self.release(
                    entry.row,
                    receiver,
                    &mut replaced[2],
                    Shared::receiver,
                    Shared::Receiver,
                );
            }
            Kind::Data | Kind::Task => {}
        }
        drain.entry = Some(entry);
        if self.tasks.is_empty() && self.tasks.capacity() > SHRINK_ABOVE {
            // A burst is over: give its memory back.
            self.tasks = VecDeque::new();
        }
    }

    /// Takes out, in order, the entries for `receiver` (data queued for it, and the tasks
    /// `is_for` picks), each as `take` makes it while the rows are reachable, keeping the others
    /// in order and fixing the byte count and the row counts: a transferred port's waiting
    /// messages leave with it. A row the taken entries were the last to use drops its value
    /// here, under the lock, which is safe: it is `receiver`, which the caller holds. One pass
    /// over the queue, rotating it in place (no allocation unless something is taken).
    pub fn take_for<R: ?Sized, T>(
        &mut self,
        receiver: &Arc<R>,
        mut is_for: impl FnMut(&dyn Task) -> bool,
        mut take: impl FnMut(Out<'_>) -> T,
    ) -> Vec<T> {
        let key = key_of_receiver(receiver);
        let mut taken = Vec::new();
        for _ in 0..self.tasks.len() {
            let Some(entry) = self.tasks.pop_front() else {
                break;
            };
            let mine = match (entry.kind, &entry.body) {
                (Kind::Data, Body::Owned(owned)) => owned
                    .receiver
                    .as_ref()
                    .is_some_and(|r| key_of_receiver(r) == key),
                (Kind::Data, Body::Bytes(_)) => self
                    .rows
                    .get(usize::from(entry.row))
                    .and_then(Option::as_ref)
                    .is_some_and(|row| row.key == key),
                (Kind::Task, Body::Task(task)) => is_for(task.as_ref()),
                _ => false,
            };
            if !mine {
                self.tasks.push_back(entry);
                continue;
            }
            self.bytes -= entry.data_len();
            match entry.body {
                Body::Task(task) => taken.push(take(Out::Task(task))),
                // Its receiver is `receiver`: dropping the box drops no last reference.
                Body::Owned(owned) => taken.push(take(Out::Data(
                    split(owned.bytes.as_slice(), owned.data_len).0,
                ))),
                Body::Bytes(bytes) => {
                    let data_len = entry.data_len as usize;
                    taken.push(take(Out::Data(split(bytes.as_slice(), data_len).0)));
                    self.unhold(Some(entry.row), Kind::Data);
                }
            }
        }
        taken
    }

    /// Takes every entry, with the values they use (the document is retired).
    pub fn take_all(&mut self) -> Taken {
        self.bytes = 0;
        self.last = 0;
        Taken {
            tasks: std::mem::take(&mut self.tasks),
            rows: std::mem::take(&mut self.rows),
        }
    }
}

/// An emptied queue keeps up to this many entries' room for the next burst.
const SHRINK_ABOVE: usize = 4096;

/// Up to this many bytes of a queued message (its data and a window message's targetOrigin)
/// are kept inside its entry: 11 bytes and "https://example.com" fit, and an entry stays at 56
/// bytes.
pub(crate) const INLINE_BYTES: usize = 32;

/// A queued message's bytes (one or two slices laid end to end): inside the task when small,
/// else in one heap allocation (shared by the tasks of one broadcast).
pub enum Bytes {
    Inline { len: u8, buf: [u8; INLINE_BYTES] },
    Heap(Box<[u8]>),
    Shared(Arc<[u8]>),
}

impl Bytes {
    /// No bytes.
    pub const EMPTY: Bytes = Bytes::Inline {
        len: 0,
        buf: [0; INLINE_BYTES],
    };

    /// A copy of `a`.
    #[inline]
    pub fn copy(a: &[u8]) -> Bytes {
        Bytes::concat(a, &[])
    }

    /// `a` followed by `b`.
    #[inline(always)]
    pub fn concat(a: &[u8], b: &[u8]) -> Bytes {
        let len = a.len() + b.len();
        if len <= INLINE_BYTES {
            let mut buf = [0; INLINE_BYTES];
            copy_short(&mut buf, 0, a);
            copy_short(&mut buf, a.len(), b);
            Bytes::Inline {
                len: len as u8,
                buf,
            }
        } else {
            let mut heap = Vec::with_capacity(len);
            heap.extend_from_slice(a);
            heap.extend_from_slice(b);
            Bytes::Heap(heap.into_boxed_slice())
        }
    }

    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Inline { len, buf } => &buf[..usize::from(*len)],
            Bytes::Heap(heap) => heap,
            Bytes::Shared(shared) => shared,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// The bytes as one boxed slice (no copy when they are on the heap already).
    pub fn into_boxed(self) -> Box<[u8]> {
        match self {
            Bytes::Heap(heap) => heap,
            other => other.as_slice().into(),
        }
    }
}

/// Copies `src` (which fits) into `buf` at `at` with fixed-size copies, which compile to a few
/// moves, rather than a `memcpy` call, whose call and dispatch cost more than the copy for the
/// few bytes an inline message has. Overlapping copies cover lengths between the sizes. (From
/// the `entries` branch.) Never panics: a `src` that does not fit copies nothing.
#[inline(always)]
fn copy_short(buf: &mut [u8; INLINE_BYTES], at: usize, src: &[u8]) {
    let n = src.len();
    let Some(dst) = buf.get_mut(at..at + n) else {
        return;
    };
    if n >= 16 {
        dst[..16].copy_from_slice(&src[..16]);
        dst[n - 16..].copy_from_slice(&src[n - 16..]);
    } else if n >= 8 {
        dst[..8].copy_from_slice(&src[..8]);
        dst[n - 8..].copy_from_slice(&src[n - 8..]);
    } else if n >= 4 {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..].copy_from_slice(&src[n - 4..]);
    } else {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A receiver (the test counts what it is given).
    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Receiver for Counter {
        fn receive(&self, _: &Arc<dyn Receiver>, _: Handle, _: &[u8], _: &mut Memo) {}
        fn refuse(&self, _: pm_drop_reason, _: Option<Handle>, _: Option<&Origin>, _: usize) {}
    }

    /// A tuple origin no other test uses (origins are interned process-wide).
    fn origin(test: &str, i: usize) -> Origin {
        Origin::parse(&format!("https://{test}{i}.example")).unwrap()
    }

    /// Pops everything, returning each window message's data, source origin and target.
    fn drain_posts(queue: &mut Queue) -> Vec<(Vec<u8>, String, String)> {
        let mut drain = Drain::default();
        let mut out = Vec::new();
        loop {
            queue.pop_into(&mut drain);
            drain.settle();
            if !drain.has_entry() {
                return out;
            }
            drain.run(|item| match item {
                Item::Post(post) => out.push((
                    post.data.to_vec(),
                    post.source_origin.serialization().to_string(),
                    match post.target {
                        Target::Any => "*".to_string(),
                        Target::SameAsSource => "/".to_string(),
                        Target::Spelled => format!("={}", post.requested()),
                        Target::Exact(o) => o.serialization().to_string(),
                    },
                )),
                _ => panic!("only posts were queued"),
            });
        }
    }

    #[test]
    fn entries_share_rows_and_fall_back_to_their_own_values_past_the_bound() {
        let origins: Vec<Origin> = (0..MAX_ROWS + 4)
            .collect::<Vec<_>>()
            .iter()
            .map(|&i| origin("rows", i))
            .collect();
        let mut queue = Queue::default();
        // Two posts from each origin, each with a parsed targetOrigin of the next one: past
        // MAX_ROWS distinct values, entries hold their own.
        for round in 0..2 {
            for (i, o) in origins.iter().enumerate() {
                let target = &origins[(i + 1) % origins.len()];
                queue.push_post(
                    &[round, i as u8],
                    b"t",
                    None,
                    o.key(),
                    PostTarget::Exact(target),
                );
            }
        }
        assert!(queue.rows.len() <= MAX_ROWS);
        assert!(
            queue.tasks.iter().any(|e| matches!(e.body, Body::Owned(_))),
            "some entries hold their own values"
        );
        let got = drain_posts(&mut queue);
        assert_eq!(got.len(), 2 * origins.len());
        for (n, (data, source, target)) in got.iter().enumerate() {
            let (round, i) = (n / origins.len(), n % origins.len());
            assert_eq!(data, &[round as u8, i as u8]);
            assert_eq!(source, origins[i].serialization());
            assert_eq!(target, origins[(i + 1) % origins.len()].serialization());
        }
        assert!(
            queue.rows.iter().all(Option::is_none),
            "every row was let go"
        );
        // The queue held one reference per distinct value at most, and gave them all back.
        for o in &origins {
            if let Origin::Tuple(t) = o {
                assert_eq!(Arc::strong_count(t), 1);
            }
        }
    }

    #[test]
    fn the_drain_keeps_a_value_past_its_row_and_codes_need_no_row() {
        let (a, b) = (origin("drain", 1), origin("drain", 2));
        let mut queue = Queue::default();
        queue.push_post(b"x", b"*", None, a.key(), PostTarget::Any);
        queue.push_post(b"y", b"/", None, b.key(), PostTarget::SameAsSource);
        queue.push_post(
            b"z",
            b"https://drain1.example",
            None,
            a.key(),
            PostTarget::Spelled,
        );
        assert_eq!(queue.rows.iter().flatten().count(), 2, "a and b");
        let mut drain = Drain::default();
        queue.pop_into(&mut drain);
        // a's row still has one entry; b's row has one.
        let Origin::Tuple(ta) = &a else { panic!() };
        assert_eq!(Arc::strong_count(ta), 3, "a, its row and the drain");
        drain.run(|item| assert!(matches!(item, Item::Post(p) if p.data == b"x")));
        let got = drain_posts(&mut queue);
        assert_eq!(
            got,
            vec![
                (b"y".to_vec(), "https://drain2.example".into(), "/".into()),
                (
                    b"z".to_vec(),
                    "https://drain1.example".into(),
                    "=https://drain1.example".into()
                ),
            ]
        );
        drop(drain);
        assert_eq!(Arc::strong_count(ta), 1);
    }

    #[test]
    fn copied_data_stays_inline_and_past_the_rows_holds_its_own_receiver() {
        let receivers: Vec<Arc<Counter>> = (0..MAX_ROWS + 3).map(|_| Arc::default()).collect();
        let mut queue = Queue::default();
        for (i, r) in receivers.iter().enumerate() {
            let data = vec![i as u8; 1 + i % 2 * 40]; // small and large in turn
            queue.push_data_copy(r, &data, || Bytes::copy(&data));
        }
        assert!(queue.tasks.iter().any(|e| matches!(e.body, Body::Owned(_))));
        assert!(
            queue
                .tasks
                .iter()
                .any(|e| matches!(e.body, Body::Bytes(Bytes::Inline { .. })))
        );
        let mut drain = Drain::default();
        for (i, r) in receivers.iter().enumerate() {
            queue.pop_into(&mut drain);
            drain.settle();
            drain.run(|item| match item {
                Item::Data(got, data, _) => {
                    assert!(std::ptr::eq(
                        Arc::as_ptr(got) as *const (),
                        Arc::as_ptr(r) as *const ()
                    ));
                    assert_eq!(data, vec![i as u8; 1 + i % 2 * 40]);
                }
                _ => panic!("data"),
            });
        }
        assert_eq!(queue.len(), 0);
        assert_eq!(queue.bytes(), 0);
        drop(drain);
        assert!(receivers.iter().all(|r| Arc::strong_count(r) == 1));
    }

    #[test]
    fn data_entries_hold_their_receiver_once_and_a_taken_queue_resolves_them() {
        let r1 = Arc::new(Counter::default());
        let r2 = Arc::new(Counter::default());
        let mut queue = Queue::default();
        for _ in 0..3 {
            queue.push_data(&r1, Bytes::copy(b"abc"));
            queue.push_data(&r2, Bytes::copy(&[9; 100]));
        }
        assert_eq!(Arc::strong_count(&r1), 2, "one reference for three entries");
        assert_eq!(queue.len(), 6);
        assert_eq!(queue.bytes(), 309);
        let mut drain = Drain::default();
        queue.pop_into(&mut drain);
        drain.run(|item| match item {
            Item::Data(r, data, _) => {
                assert!(std::ptr::eq(
                    Arc::as_ptr(r) as *const (),
                    Arc::as_ptr(&r1) as *const ()
                ));
                r1.0.fetch_add(data.len(), Ordering::SeqCst);
            }
            _ => panic!("data"),
        });
        assert_eq!(r1.0.load(Ordering::SeqCst), 3);
        assert_eq!(queue.bytes(), 306);
        let mut seen = Vec::new();
        queue.take_all().for_each(|item| match item {
            Item::Data(_, data, _) => seen.push(data.len()),
            _ => panic!("data"),
        });
        assert_eq!(seen, [100, 3, 100, 3, 100]);
        drop(drain);
        assert_eq!((Arc::strong_count(&r1), Arc::strong_count(&r2)), (1, 1));
    }

    /// A task with a number (the test picks some).
    struct Numbered(u8);

    impl Task for Numbered {
        fn data_len(&self) -> usize {
            1
        }
        fn run(self: Box<Self>, _: Handle, _: &Doc<'_>) {}
        fn discard(self: Box<Self>, _: pm_drop_reason, _: Option<Handle>, _: Option<&Origin>) {}
    }

    #[test]
    fn take_for_takes_a_receivers_entries_in_order_and_keeps_the_rest_in_order() {
        let (mine, other) = (Arc::new(Counter::default()), Arc::new(Counter::default()));
        let source = origin("take", 0);
        let mut queue = Queue::default();
        for i in 0..8u8 {
            let data = vec![b'0' + i; usize::from(i) * 7 + 1]; // inline, then heap
            match i % 4 {
                0 | 2 => queue.push_data_copy(&mine, &data, || Bytes::copy(&data)),
                1 => queue.push_data(&other, Bytes::copy(&data)),
                _ => queue.push_task(Box::new(Numbered(i))),
            };
        }
        queue.push_post(b"p", b"*", None, source.key(), PostTarget::Any);
        let taken = queue.take_for(
            &mine,
            |task| {
                (task as &dyn Any)
                    .downcast_ref::<Numbered>()
                    .is_some_and(|t| t.0 == 3)
            },
            |out| match out {
                Out::Data(data) => String::from_utf8_lossy(data).into_owned(),
                Out::Task(task) => match (task as Box<dyn Any>).downcast::<Numbered>() {
                    Ok(t) => format!("task {}", t.0),
                    Err(_) => "?".into(),
                },
            },
        );
        assert_eq!(
            taken,
            [
                "0",
                &"2".repeat(15),
                "task 3",
                &"4".repeat(29),
                &"6".repeat(43)
            ]
        );
        // Left: other's 1 and 5, task 7, the post; in order.
        assert_eq!((queue.len(), queue.bytes()), (4, 8 + 36 + 1 + 1));
        assert_eq!(Arc::strong_count(&mine), 1, "its row was let go");
        assert!(queue.take_for(&mine, |_| false, |_| ()).is_empty());
        assert_eq!(queue.take_for(&mine, |_| true, |_| ()).len(), 1, "task 7");
        let mut seen = Vec::new();
        queue.take_all().for_each(|item| match item {
            Item::Data(_, data, _) => seen.push(String::from_utf8_lossy(data).into_owned()),
            Item::Post(post) => seen.push(format!("post {}", post.requested())),
            Item::Task(_) => seen.push("task".into()),
        });
        assert_eq!(seen, ["1".repeat(8), "5".repeat(36), "post *".into()]);
        assert_eq!(Arc::strong_count(&other), 1);
    }

    #[test]
    fn take_for_takes_an_entry_holding_its_own_receiver_past_the_rows() {
        let mine = Arc::new(Counter::default());
        let fillers: Vec<Arc<Counter>> = (0..MAX_ROWS).map(|_| Arc::default()).collect();
        let mut queue = Queue::default();
        for f in &fillers {
            queue.push_data(f, Bytes::copy(b"f"));
        }
        queue.push_data(&mine, Bytes::copy(b"owned"));
        queue.push_data_copy(&mine, b"copied", || Bytes::copy(b"copied"));
        assert!(
            queue
                .tasks
                .iter()
                .rev()
                .take(2)
                .all(|e| matches!(e.body, Body::Owned(_)))
        );
        assert_eq!(Arc::strong_count(&mine), 3);
        let taken = queue.take_for(
            &mine,
            |_| true,
            |out| match out {
                Out::Data(data) => data.to_vec(),
                Out::Task(_) => Vec::new(),
            },
        );
        assert_eq!(taken, [b"owned".to_vec(), b"copied".to_vec()]);
        assert_eq!((queue.len(), queue.bytes()), (MAX_ROWS, MAX_ROWS));
        assert_eq!(Arc::strong_count(&mine), 1);
        assert!(fillers.iter().all(|f| Arc::strong_count(f) == 2));
    }

    #[test]
    fn bytes_keep_small_messages_inline_and_large_ones_whole() {
        let small = Bytes::concat(b"hello", b"*");
        assert!(matches!(small, Bytes::Inline { .. }));
        assert_eq!(small.as_slice(), b"hello*");
        let edge = Bytes::copy(&[7; INLINE_BYTES]);
        assert!(matches!(edge, Bytes::Inline { .. }));
        assert_eq!(edge.len(), INLINE_BYTES);
        let large = Bytes::concat(&[1; INLINE_BYTES], b"x");
        assert!(matches!(large, Bytes::Heap(_)));
        assert_eq!(large.len(), INLINE_BYTES + 1);
        assert_eq!(large.as_slice()[INLINE_BYTES], b'x');
        assert_eq!(Bytes::copy(b"").as_slice(), b"");
    }
}
