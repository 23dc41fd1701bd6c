//! Listeners: a C callback with its user data, and the lifetime rules around it.
//!
//! A listener is shared ([`ListenerRef`], a counted reference) between its window's list and any
//! dispatch snapshots. One `state` word holds the reference count, the number of running calls
//! and three flags, so that removal and dispatch can race from any threads and
//! `destroy(user_data)` still runs exactly once, after removal and after the last running call
//! has returned. Calls are counted only for listeners that have a destroy function; the others
//! need nothing but the removed flag, so calling them costs no atomic read-modify-write. (One word instead of `Arc`'s two counts plus ours keeps a listener in a 48-byte
//! allocation.)

use crate::abi::{pm_destroy_fn, pm_message_event};
use crate::origin::{OriginKey, TargetOrigin};
use crate::sync::AtomicU64 as StateWord;
use std::ffi::c_void;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

// The state word: flags in bits 0-2, running calls in bits 3-31, references in bits 32-63.
const REMOVED: u64 = 1;
const DESTROYED: u64 = 2;
/// Set for life on listeners with a destroy function: only their calls are counted.
const COUNTED: u64 = 4;
const ONE_CALL: u64 = 8;
const CALLS: u64 = 0xffff_fff8;
const ONE_REF: u64 = 1 << 32;
const LIFE: u64 = CALLS | REMOVED | DESTROYED;

/// The C callback type, never NULL here (the FFI layer rejects NULL).
pub type Callback = unsafe extern "C" fn(*const pm_message_event, *mut c_void);

/// One registered listener.
pub struct Listener {
    id: u64,
    callback: Callback,
    user_data: *mut c_void,
    state: StateWord,
    /// What few listeners have, boxed so that plain listeners stay small (the bench counts
    /// bytes per listener).
    extras: Option<Box<Extras>>,
}

struct Extras {
    destroy: pm_destroy_fn,
    /// An allow-list: the listener only sees window messages whose source origin matches one
    /// entry (matched exactly like a targetOrigin).
    allowed: Option<Box<[TargetOrigin]>>,
}

/// What happened when a listener was offered an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Called {
    Ran,
    /// Removed before it could run.
    Removed,
    /// Skipped by the listener's allow-list.
    Filtered,
}

// SAFETY: the embedder hands us `user_data` to pass back to its own callbacks from any thread;
// the API documents that listeners run on the posting thread. We never dereference it.
unsafe impl Send for Listener {}
// SAFETY: as above; all mutable state is atomic.
unsafe impl Sync for Listener {}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Listener {
    /// A new listener, returned as its first counted reference.
    pub fn shared(
        callback: Callback,
        user_data: *mut c_void,
        destroy: pm_destroy_fn,
    ) -> ListenerRef {
        Self::with_allow_list(callback, user_data, destroy, None)
    }

    /// A listener that only sees messages from the `allowed` origins (None: from any origin).
    pub fn with_allow_list(
        callback: Callback,
        user_data: *mut c_void,
        destroy: pm_destroy_fn,
        allowed: Option<Box<[TargetOrigin]>>,
    ) -> ListenerRef {
        let listener = Box::new(Listener {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            callback,
            user_data,
            state: StateWord::new(if destroy.is_some() {
                ONE_REF | COUNTED
            } else {
                ONE_REF
            }),
            extras: (destroy.is_some() || allowed.is_some())
                .then(|| Box::new(Extras { destroy, allowed })),
        });
        ListenerRef(NonNull::from(Box::leak(listener)))
    }

    /// The id returned to C (process-unique, never 0).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Calls the listener unless it has been removed, or its allow-list excludes
    /// `source_origin` (the origin of a window message; None for port and broadcast messages,
    /// which allow-lists do not apply to).
    #[inline(always)]
    pub fn call(&self, event: &pm_message_event, source_origin: Option<OriginKey<'_>>) -> Called {
        if self.is_plain() {
            return self.call_plain(event);
        }
        self.call_with_extras(event, source_origin)
    }

    /// True for a listener with neither a destroy function nor an allow-list (fixed for life):
    /// [`call_plain`](Self::call_plain) is all it needs.
    #[inline]
    pub fn is_plain(&self) -> bool {
        self.extras.is_none()
    }

    /// True for a listener without an allow-list (fixed for life):
    /// [`call_unfiltered`](Self::call_unfiltered) can call it.
    pub fn is_unfiltered(&self) -> bool {
        self.extras.as_ref().is_none_or(|e| e.allowed.is_none())
    }

    /// Calls a plain listener (see [`is_plain`](Self::is_plain); the caller checks) unless it
    /// has been removed: no destroy function, so nothing waits for its running calls to end, and
    /// no allow-list. One atomic load and the call: nothing here can panic.
    #[inline(always)]
    pub fn call_plain(&self, event: &pm_message_event) -> Called {
        if self.state.load(Ordering::Acquire) & REMOVED != 0 {
            return Called::Removed;
        }
        // SAFETY: `callback` is a non-NULL C function pointer given to us for this purpose;
        // `event` is valid for the duration of the call.
        unsafe { (self.callback)(event, self.user_data) };
        Called::Ran
    }

    /// Calls a listener without an allow-list (see [`is_unfiltered`](Self::is_unfiltered); the
    /// caller checks) unless it has been removed. Atomics and C calls only: nothing here can
    /// panic.
    #[inline(always)]
    pub fn call_unfiltered(&self, event: &pm_message_event) -> Called {
        if self.is_plain() {
            self.call_plain(event)
        } else {
            self.call_counted(event)
        }
    }

    /// A call of a listener with an allow-list or a destroy function (whose calls are counted,
    /// so that destroy can wait for the last one).
    #[inline(never)]
    fn call_with_extras(
        &self,
        event: &pm_message_event,
        source_origin: Option<OriginKey<'_>>,
    ) -> Called {
        if let (Some(extras), Some(source)) = (&self.extras, source_origin)
            && let Some(allowed) = &extras.allowed
            && !allowed.iter().any(|a| a.matches(source, source))
        {
            return if self.is_removed() {
                Called::Removed
            } else {
                Called::Filtered
            };
        }
        self.call_counted(event)
    }

    /// A call of a listener past its allow-list: counted when it has a destroy function, so
    /// that destroy can wait for the last running call. Atomics and C calls only (no panics).
    #[inline(never)]
    fn call_counted(&self, event: &pm_message_event) -> Called {
        if self.state.load(Ordering::Relaxed) & COUNTED == 0 {
            if self.is_removed() {
                return Called::Removed;
            }
            // SAFETY: as in `call`.
            unsafe { (self.callback)(event, self.user_data) };
            return Called::Ran;
        }
        let before = self.state.fetch_add(ONE_CALL, Ordering::Acquire);
        if before & REMOVED == 0 {
            // SAFETY: as in `call`.
            unsafe { (self.callback)(event, self.user_data) };
        }
        self.finish_call();
        if before & REMOVED == 0 {
            Called::Ran
        } else {
            Called::Removed
        }
    }

    fn finish_call(&self) {
        let before = self.state.fetch_sub(ONE_CALL, Ordering::AcqRel);
        if before & LIFE == ONE_CALL | REMOVED {
            self.destroy_once();
        }
    }

    /// Marks the listener removed: it will not be called again. If no call is running, destroy
    /// runs now, on this thread; otherwise the last running call runs it when it returns.
    pub fn remove(&self) {
        let before = self.state.fetch_or(REMOVED, Ordering::AcqRel);
        if before & REMOVED == 0 && before & CALLS == 0 {
            self.destroy_once();
        }
    }

    pub fn is_removed(&self) -> bool {
        self.state.load(Ordering::Acquire) & REMOVED != 0
    }

    fn destroy_once(&self) {
        // Only the transition "removed, idle" -> "removed, idle, destroyed" runs destroy, so a
        // remover and a finishing call racing here cannot both run it. (The reference count in
        // the same word may change meanwhile: then retry.)
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            if current & LIFE != REMOVED {
                return;
            }
            match self.state.compare_exchange_weak(
                current,
                current | DESTROYED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        if let Some(destroy) = self.extras.as_ref().and_then(|e| e.destroy) {
            // SAFETY: the embedder's destroy function, called exactly once with its user data.
            unsafe { destroy(self.user_data) };
        }
    }
}

/// A counted reference to a [`Listener`] (the count lives in its state word).
pub struct ListenerRef(NonNull<Listener>);

// SAFETY: a ListenerRef only gives out `&Listener`, which is Send + Sync; the count is atomic.
unsafe impl Send for ListenerRef {}
// SAFETY: as above.
unsafe impl Sync for ListenerRef {}

impl Deref for ListenerRef {
    type Target = Listener;

    #[inline]
    fn deref(&self) -> &Listener {
        // SAFETY: the listener lives until the last reference is dropped, and we hold one.
        unsafe { self.0.as_ref() }
    }
}

impl Clone for ListenerRef {
    fn clone(&self) -> Self {
        // Like Arc: a new reference needs no ordering, only a live one to copy.
        let before = self.state.fetch_add(ONE_REF, Ordering::Relaxed);
        if before >> 32 >= u64::from(u32::MAX) - 1 {
            std::process::abort();
        }
        ListenerRef(self.0)
    }
}

impl Drop for ListenerRef {
    fn drop(&mut self) {
        if self.state.fetch_sub(ONE_REF, Ordering::Release) >> 32 != 1 {
            return;
        }
        // The last reference: see every other thread's uses before freeing. An acquire load of
        // the word (whose release sequence every other decrement joined) does what Arc's
        // acquire fence does, and ThreadSanitizer, which does not model fences, sees it.
        self.state.load(Ordering::Acquire);
        // SAFETY: the pointer came from Box::leak in `with_allow_list`, and this was the last
        // reference, so no one else can reach the listener.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// A window's listeners in registration order. Dispatch takes a snapshot (a cheap `Arc` clone);
/// changes copy the list only while a snapshot is alive. An empty list allocates nothing.
#[derive(Clone, Default)]
pub struct ListenerList(Option<Arc<Vec<ListenerRef>>>);

impl ListenerList {
    pub fn snapshot(&self) -> ListenerList {
        self.clone()
    }

    pub fn push(&mut self, listener: ListenerRef) {
        Arc::make_mut(self.0.get_or_insert_with(Default::default)).push(listener);
    }

    /// Takes the listener with `id` out of the list (the caller then calls `remove` on it,
    /// outside any lock).
    pub fn take(&mut self, id: u64) -> Option<ListenerRef> {
        let list = self.0.as_mut()?;
        let pos = list.iter().position(|l| l.id == id)?;
        let listener = Arc::make_mut(list).remove(pos);
        if list.is_empty() {
            self.0 = None;
        }
        Some(listener)
    }

    /// Empties the list, returning the listeners to be removed outside any lock.
    pub fn take_all(&mut self) -> Vec<ListenerRef> {
        match self.0.take().map(Arc::try_unwrap) {
            None => Vec::new(),
            Some(Ok(v)) => v,
            Some(Err(shared)) => shared.as_ref().clone(),
        }
    }

    #[cfg(loom)]
    pub fn iter(&self) -> std::slice::Iter<'_, ListenerRef> {
        self.as_slice().iter()
    }

    pub fn as_slice(&self) -> &[ListenerRef] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    unsafe extern "C" fn count(_: *const pm_message_event, ud: *mut c_void) {
        // SAFETY: tests pass a pointer to an AtomicUsize that outlives the listener.
        unsafe { &*(ud as *const AtomicUsize) }.fetch_add(1, Ordering::SeqCst);
    }
    unsafe extern "C" fn destroyed(ud: *mut c_void) {
        // SAFETY: as above.
        unsafe { &*(ud as *const AtomicUsize) }.fetch_add(100, Ordering::SeqCst);
    }

    fn event() -> pm_message_event {
        pm_message_event {
            data: std::ptr::null(),
            data_len: 0,
            origin: c"".as_ptr(),
            last_event_id: c"".as_ptr(),
            source: std::ptr::null_mut(),
            target: std::ptr::null_mut(),
            ports: std::ptr::null(),
            ports_len: 0,
        }
    }

    #[test]
    fn removed_listener_is_not_called_and_destroyed_once() {
        let hits = AtomicUsize::new(0);
        let ud = &hits as *const AtomicUsize as *mut c_void;
        let l = Listener::shared(count, ud, Some(destroyed));
        assert_eq!(l.call(&event(), None), Called::Ran);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        l.remove();
        assert_eq!(hits.load(Ordering::SeqCst), 101, "destroy ran at removal");
        assert_eq!(l.call(&event(), None), Called::Removed);
        l.remove();
        assert_eq!(hits.load(Ordering::SeqCst), 101, "destroy ran exactly once");
    }

    #[test]
    fn list_snapshot_is_unaffected_by_changes() {
        let hits = AtomicUsize::new(0);
        let ud = &hits as *const AtomicUsize as *mut c_void;
        let mut list = ListenerList::default();
        let a = Listener::shared(count, ud, None);
        let id = a.id();
        list.push(a);
        let snap = list.snapshot();
        list.push(Listener::shared(count, ud, None));
        assert_eq!(snap.as_slice().len(), 1);
        assert_eq!(list.as_slice().len(), 2);
        assert!(list.take(id).is_some());
        assert!(list.take(id).is_none());
        assert_eq!(list.take_all().len(), 1);
        assert!(list.as_slice().is_empty());
    }
}
