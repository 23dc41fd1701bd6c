//! Per-window task queues for QUEUED delivery (the HTML standard's "queue a task"), with limits
//! so a flood cannot exhaust memory.

use crate::broadcast::Channel;
use crate::error::{Error, pm_result};
use crate::handles::Handle;
use crate::origin::{Origin, TargetOrigin};
use crate::port::{Port, PortMessage};
use crate::types::pm_window;
use std::collections::VecDeque;
use std::ffi::c_void;
use std::sync::Arc;

/// How a window receives messages.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum pm_dispatch_mode {
    /// Listeners run on the posting thread before the post returns (the default; the seed's
    /// behaviour).
    #[default]
    PM_DISPATCH_SYNC = 0,
    /// Posts queue a task; `pm_window_run_pending` runs it (the HTML standard's behaviour).
    PM_DISPATCH_QUEUED = 1,
}

impl pm_dispatch_mode {
    /// Converts a raw C value, rejecting values outside the enum.
    pub fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            0 => Some(pm_dispatch_mode::PM_DISPATCH_SYNC),
            1 => Some(pm_dispatch_mode::PM_DISPATCH_QUEUED),
            _ => None,
        }
    }
}

/// Called when a window's queue becomes non-empty.
#[allow(non_camel_case_types)]
pub type pm_wake_fn = Option<unsafe extern "C" fn(window: *mut pm_window, user_data: *mut c_void)>;

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
        unsafe { (self.callback)(window.to_raw() as *mut pm_window, self.user_data) };
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
            pm_result::PM_ERR_QUEUE_FULL,
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

/// A window message waiting for delivery.
pub struct WindowMessage {
    pub data: Box<[u8]>,
    pub source: Handle,
    pub source_origin: Origin,
    pub target_origin: TargetOrigin,
    /// The targetOrigin as given, for drop reports.
    pub requested: Box<str>,
    pub ports: Vec<Arc<Port>>,
}

/// Something to deliver into a window.
pub enum Task {
    Window(Box<WindowMessage>),
    Port {
        port: Arc<Port>,
        message: PortMessage,
    },
    Broadcast {
        channel: Arc<Channel>,
        data: Arc<[u8]>,
        origin: Origin,
    },
}

impl Task {
    pub fn data_len(&self) -> usize {
        match self {
            Task::Window(m) => m.data.len(),
            Task::Port { message, .. } => message.data.len(),
            Task::Broadcast { data, .. } => data.len(),
        }
    }
}

/// A document's queue of tasks.
#[derive(Default)]
pub struct Queue {
    tasks: VecDeque<Task>,
    bytes: usize,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Whether a task of `data_len` bytes fits within `limits`.
    pub fn fits(&self, data_len: usize, limits: Limits) -> bool {
        limits.allow(self.tasks.len(), self.bytes, data_len)
    }

    /// Appends a task if it fits (or `limits` is None); returns whether the queue was empty.
    /// On refusal the task comes back with the error.
    pub fn push(&mut self, task: Task, limits: Option<Limits>) -> Result<bool, (Error, Task)> {
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

    pub fn pop(&mut self) -> Option<Task> {
        let task = self.tasks.pop_front()?;
        self.bytes -= task.data_len();
        Some(task)
    }

    pub fn take_all(&mut self) -> VecDeque<Task> {
        self.bytes = 0;
        std::mem::take(&mut self.tasks)
    }
}
