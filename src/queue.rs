//! Per-window task queues for QUEUED delivery (the HTML standard's "queue a task"), with limits
//! so a flood cannot exhaust memory.

use crate::abi::{pm_drop_reason, pm_wake_fn, pm_window};
use crate::error::{Error, ErrorKind};
use crate::handles::Handle;
use crate::listener::ListenerList;
use crate::origin::Origin;
use std::collections::VecDeque;
use std::ffi::c_void;

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

/// Something queued for delivery into a window. Each kind of message (window, port, broadcast)
/// implements it next to its own code, so the queue and the window name none of them.
pub trait Task: Send + Sync {
    /// Bytes of message data, counted against the queue's byte limit.
    fn data_len(&self) -> usize;
    /// Whether running it needs the document's listener snapshot (window messages do).
    fn wants_listeners(&self) -> bool {
        false
    }
    /// Delivers it into `window`, whose current document has `origin` and `listeners` (empty
    /// unless [`Task::wants_listeners`]).
    fn run(self: Box<Self>, window: Handle, origin: &Origin, listeners: &ListenerList);
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

/// A document's queue of tasks.
#[derive(Default)]
pub struct Queue {
    tasks: VecDeque<BoxedTask>,
    bytes: usize,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether a task of `data_len` bytes fits within `limits`.
    pub fn fits(&self, data_len: usize, limits: Limits) -> bool {
        limits.allow(self.tasks.len(), self.bytes, data_len)
    }

    /// Appends a task if it fits (or `limits` is None); returns whether the queue was empty.
    /// On refusal the task comes back with the error.
    pub fn push(
        &mut self,
        task: BoxedTask,
        limits: Option<Limits>,
    ) -> Result<bool, (Error, BoxedTask)> {
        if let Some(limits) = limits
            && !self.fits(task.data_len(), limits)
        {
            let error = limits.refusal(self.tasks.len(), self.bytes);
            return Err((error, task));
        }
        let was_empty = self.tasks.is_empty();
        self.bytes += task.data_len();
        self.tasks.push_back(task);
        Ok(was_empty)
    }

    pub fn pop(&mut self) -> Option<BoxedTask> {
        let task = self.tasks.pop_front()?;
        self.bytes -= task.data_len();
        Some(task)
    }

    pub fn take_all(&mut self) -> VecDeque<BoxedTask> {
        self.bytes = 0;
        std::mem::take(&mut self.tasks)
    }
}
