//! Per-window task queues for QUEUED delivery (the HTML standard's "queue a task"), with limits
//! so a flood cannot exhaust memory.

use crate::abi::{pm_drop_reason, pm_wake_fn, pm_window};
use crate::error::{Error, ErrorKind};
use crate::handles::Handle;
use crate::listener::ListenerRef;
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
/// so the queue names neither). Queued as [`Entry::Data`]: no allocation besides the data's.
pub trait Receiver: Send + Sync {
    /// Delivers `data` to it in `window` (the window whose queue held it).
    fn receive(self: Arc<Self>, window: Handle, data: Bytes);
    /// Drops `data_len` bytes queued for it undelivered, reporting them with `reason`.
    fn refuse(
        &self,
        reason: pm_drop_reason,
        target: Option<Handle>,
        target_origin: Option<&Origin>,
        data_len: usize,
    );
}

/// A window message without ports, the common queued post: kept inside the queue (no
/// allocation for small data). The window post steps above run it; the window reports it when
/// it is dropped.
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
    pub fn data(&self) -> &[u8] {
        &self.bytes.as_slice()[..self.data_len]
    }

    /// The targetOrigin as given, for drop reports.
    pub fn requested(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes.as_slice()[self.data_len..])
    }
}

/// One entry of a window's queue: the common kinds inline, anything else boxed.
pub enum Entry {
    Post(Post),
    Data(Arc<dyn Receiver>, Bytes),
    Task(BoxedTask),
}

impl Entry {
    /// Bytes of message data, counted against the queue's byte limit.
    #[inline]
    pub fn data_len(&self) -> usize {
        match self {
            Entry::Post(post) => post.data_len,
            Entry::Data(_, data) => data.len(),
            Entry::Task(task) => task.data_len(),
        }
    }
}

/// A document's queue of tasks.
#[derive(Default)]
pub struct Queue {
    tasks: VecDeque<Entry>,
    bytes: usize,
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

    /// Appends the entry `make` makes, of `data_len` bytes of data (the caller checked the
    /// limits with [`fits`](Self::fits)); returns whether the queue was empty. Never panics (growing aborts, never unwinds, when memory
    /// runs out).
    #[inline(always)]
    pub fn push(&mut self, data_len: usize, make: impl FnOnce() -> Entry) -> bool {
        let was_empty = self.tasks.is_empty();
        self.bytes += data_len;
        // Made straight into the queue's buffer where the compiler can (entries are ~100 bytes).
        self.tasks.push_back(make());
        was_empty
    }

    #[inline]
    pub fn pop(&mut self) -> Option<Entry> {
        let entry = self.tasks.pop_front()?;
        self.bytes -= entry.data_len();
        if self.tasks.is_empty() && self.tasks.capacity() > SHRINK_ABOVE {
            // A burst is over: give its memory back (entries are about 100 bytes each).
            self.tasks = VecDeque::new();
        }
        Some(entry)
    }

    /// Takes out, in order, the entries `pick` selects, keeping the others in order and fixing
    /// the byte count: a transferred port's waiting messages leave with it. One pass over the
    /// queue, rotating it in place (no allocation unless something is taken).
    pub fn take_if(&mut self, mut pick: impl FnMut(&Entry) -> bool) -> Vec<Entry> {
        let mut taken = Vec::new();
        for _ in 0..self.tasks.len() {
            let Some(entry) = self.tasks.pop_front() else {
                break;
            };
            if pick(&entry) {
                self.bytes -= entry.data_len();
                taken.push(entry);
            } else {
                self.tasks.push_back(entry);
            }
        }
        taken
    }

    pub fn take_all(&mut self) -> VecDeque<Entry> {
        self.bytes = 0;
        std::mem::take(&mut self.tasks)
    }
}

/// An emptied queue keeps up to this many entries' room for the next burst.
const SHRINK_ABOVE: usize = 4096;

/// Up to this many bytes of a queued message are kept inside its task, so that the task's own
/// box is the post's only allocation.
pub(crate) const INLINE_BYTES: usize = 40;

/// A queued message's bytes (one or two slices laid end to end): inside the task when small,
/// else in one heap allocation (shared by the tasks of one broadcast).
pub enum Bytes {
    Inline { len: u8, buf: [u8; INLINE_BYTES] },
    Heap(Box<[u8]>),
    Shared(Arc<[u8]>),
}

impl Bytes {
    /// A copy of `a`.
    #[inline]
    pub fn copy(a: &[u8]) -> Bytes {
        Bytes::concat(a, &[])
    }

    /// `a` followed by `b`.
    #[inline]
    pub fn concat(a: &[u8], b: &[u8]) -> Bytes {
        let len = a.len() + b.len();
        if len <= INLINE_BYTES {
            let mut buf = [0; INLINE_BYTES];
            buf[..a.len()].copy_from_slice(a);
            buf[a.len()..len].copy_from_slice(b);
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
            inline => inline.as_slice().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A receiver that only has an identity.
    struct Nobody;

    impl Receiver for Nobody {
        fn receive(self: Arc<Self>, _: Handle, _: Bytes) {}
        fn refuse(&self, _: pm_drop_reason, _: Option<Handle>, _: Option<&Origin>, _: usize) {}
    }

    #[test]
    fn take_if_takes_the_picked_entries_in_order_and_keeps_the_rest_in_order() {
        let (mine, other): (Arc<dyn Receiver>, Arc<dyn Receiver>) =
            (Arc::new(Nobody), Arc::new(Nobody));
        let mut queue = Queue::default();
        for (i, to) in [&mine, &other, &mine, &other, &other, &mine]
            .into_iter()
            .enumerate()
        {
            let data = vec![b'0' + i as u8; i + 1];
            queue.push(data.len(), || Entry::Data(to.clone(), Bytes::copy(&data)));
        }
        assert_eq!((queue.len(), queue.bytes()), (6, 21));
        let is_mine = |e: &Entry| matches!(e, Entry::Data(r, _) if Arc::ptr_eq(r, &mine));
        let taken = queue.take_if(is_mine);
        let data = |e: &Entry| match e {
            Entry::Data(_, d) => d.as_slice().to_vec(),
            _ => unreachable!(),
        };
        let taken: Vec<_> = taken.iter().map(data).collect();
        assert_eq!(taken, [&b"0"[..], b"222", b"555555"]);
        assert_eq!((queue.len(), queue.bytes()), (3, 11));
        let left: Vec<_> = std::iter::from_fn(|| queue.pop())
            .map(|e| data(&e))
            .collect();
        assert_eq!(left, [&b"11"[..], b"3333", b"44444"]);
        assert_eq!(queue.bytes(), 0);
        assert!(queue.take_if(|_| true).is_empty());
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
