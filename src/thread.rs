//! Per-thread dispatch state: the nesting depth, and a cache of window snapshots that lets a
//! synchronous post skip every lock and reference count.
//!
//! A snapshot is what a post needs of a window (origin, listener list, mode), tagged with the
//! window slot's version. A post compares the slot's current version (one atomic load) with the
//! cached one; if equal, nothing about the window changed and the snapshot is current. Pinned
//! snapshots are used through raw pointers during dispatch, so a snapshot evicted while any
//! pin scope on this thread is open goes to a graveyard, emptied when the outermost scope ends.

use crate::error::Error;
use crate::handles::Handle;
use crate::listener::{ListenerList, ListenerRef};
use crate::origin::{Origin, OriginKey, TargetOrigin, TargetOriginCache, TupleOrigin};
use crate::queue::pm_dispatch_mode;
use crate::sync::AtomicU64;
use crate::window::WINDOWS;
use std::cell::{Cell, RefCell};
use std::ffi::c_char;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Nested dispatches allowed on one thread (window, port and broadcast deliveries, and
/// `pm_window_run_pending`, all count).
pub const PM_MAX_DISPATCH_DEPTH: u32 = 32;

const CACHE_ENTRIES: usize = 64;

/// What a post needs of a window, as of one version of its slot.
struct Snapshot {
    origin: Origin,
    listeners: ListenerList,
    mode: pm_dispatch_mode,
}

struct Cached {
    handle: Handle,
    version: u64,
    /// The window slot's version cell (slots never move or go away).
    cell: &'static AtomicU64,
    /// Raw views into `snapshot`, computed once when cached.
    pinned: RawPinned,
    snapshot: Snapshot,
}

struct Cache {
    entries: [Option<Cached>; CACHE_ENTRIES],
    graveyard: Vec<Snapshot>,
}

/// This thread's dispatch state.
pub struct ThreadState {
    depth: Cell<u32>,
    pins: Cell<u32>,
    cache: RefCell<Cache>,
    target_origins: RefCell<TargetOriginCache>,
}

thread_local! {
    static STATE: ThreadState = const {
        ThreadState {
            depth: Cell::new(0),
            pins: Cell::new(0),
            cache: RefCell::new(Cache {
                entries: [const { None }; CACHE_ENTRIES],
                graveyard: Vec::new(),
            }),
            target_origins: RefCell::new(TargetOriginCache::new()),
        }
    };
}

/// Runs `f` with this thread's state (one thread-local access for a whole post).
#[inline]
pub fn with_state<R>(f: impl FnOnce(&ThreadState) -> R) -> R {
    STATE.with(f)
}

/// One level of dispatch on this thread; dropping it leaves the level.
pub struct DepthGuard<'a>(&'a ThreadState);

impl ThreadState {
    /// Enters a dispatch level, or fails with `PM_ERR_DEPTH` if that would exceed the limit.
    #[inline]
    pub fn enter_depth(&self) -> Result<DepthGuard<'_>, Error> {
        let depth = self.depth.get();
        if depth >= PM_MAX_DISPATCH_DEPTH {
            return Err(Error::depth());
        }
        self.depth.set(depth + 1);
        Ok(DepthGuard(self))
    }

    /// Parses a targetOrigin through this thread's cache and runs `f` on it (see
    /// [`TargetOriginCache::with_parsed`]); `f` must not post.
    #[inline]
    pub fn with_target_origin<R>(
        &self,
        bytes: &[u8],
        f: impl FnOnce(&TargetOrigin) -> R,
    ) -> Result<R, Error> {
        self.target_origins.borrow_mut().with_parsed(bytes, f)
    }

    /// Runs `f` on the cached parse of `bytes` if this thread parsed it recently (no parsing,
    /// hashing or allocation); None otherwise.
    #[inline]
    pub fn with_recent_target_origin<R>(
        &self,
        bytes: &[u8],
        f: impl FnOnce(&TargetOrigin) -> R,
    ) -> Option<R> {
        self.target_origins.borrow_mut().with_recent(bytes, f)
    }

    /// Opens a pin scope: snapshots pinned through it stay valid until it is dropped.
    #[inline]
    pub fn pin_scope(&self) -> PinScope<'_> {
        self.pins.set(self.pins.get() + 1);
        PinScope(self)
    }
}

impl Drop for DepthGuard<'_> {
    fn drop(&mut self) {
        self.0.depth.set(self.0.depth.get() - 1);
    }
}

/// Current nesting depth on this thread.
pub fn depth() -> u32 {
    with_state(|s| s.depth.get())
}

/// Enters a dispatch level on this thread (for paths that do not hold the state already). The
/// guard must be dropped on this thread.
pub fn enter_depth() -> Result<ThreadDepthGuard, Error> {
    with_state(|s| s.enter_depth().map(std::mem::forget))?;
    Ok(ThreadDepthGuard(PhantomData))
}

/// A dispatch level entered with [`enter_depth`]; not `Send`.
pub struct ThreadDepthGuard(PhantomData<*const ()>);

impl Drop for ThreadDepthGuard {
    fn drop(&mut self) {
        with_state(|s| s.depth.set(s.depth.get() - 1));
    }
}

/// While alive, snapshots pinned through it stay valid.
pub struct PinScope<'a>(&'a ThreadState);

impl Drop for PinScope<'_> {
    #[inline]
    fn drop(&mut self) {
        let pins = self.0.pins.get() - 1;
        self.0.pins.set(pins);
        if pins == 0 {
            let mut cache = self.0.cache.borrow_mut();
            if !cache.graveyard.is_empty() {
                // Dropping snapshots runs no callbacks (listeners are destroyed only by removal).
                cache.graveyard.clear();
            }
        }
    }
}

#[derive(Clone, Copy)]
enum PinnedOrigin {
    Opaque(u64),
    Tuple(NonNull<TupleOrigin>),
}

/// Raw pointers into a cached snapshot; made safe to use by [`Pinned`]'s scope lifetime.
#[derive(Clone, Copy)]
struct RawPinned {
    origin: PinnedOrigin,
    listeners: NonNull<[ListenerRef]>,
    mode: pm_dispatch_mode,
}

impl RawPinned {
    fn new(snapshot: &Snapshot) -> RawPinned {
        RawPinned {
            origin: match &snapshot.origin {
                Origin::Opaque(id) => PinnedOrigin::Opaque(*id),
                Origin::Tuple(t) => PinnedOrigin::Tuple(NonNull::from(&**t)),
            },
            // The slice lives in the list's heap allocation, so it does not move with the
            // snapshot.
            listeners: NonNull::from(snapshot.listeners.as_slice()),
            mode: snapshot.mode,
        }
    }
}

/// A window snapshot usable while its pin scope lives.
#[derive(Clone, Copy)]
pub struct Pinned<'s> {
    raw: RawPinned,
    _scope: PhantomData<&'s PinScope<'s>>,
}

impl<'s> PinScope<'s> {
    /// The current snapshot of a live window, from the cache when its slot has not changed
    /// (one atomic load); None if the handle is not a live window.
    #[inline]
    pub fn window(&self, handle: Handle) -> Option<Pinned<'s>> {
        let mut cache = self.0.cache.borrow_mut();
        let index = handle.to_raw() % CACHE_ENTRIES;
        let raw = match &cache.entries[index] {
            Some(c) if c.handle == handle && c.cell.load(Ordering::Acquire) == c.version => {
                c.pinned
            }
            _ => refresh(&mut cache, index, handle)?,
        };
        Some(Pinned {
            raw,
            _scope: PhantomData,
        })
    }
}

/// Loads a window's snapshot into the cache (the old entry goes to the graveyard).
#[cold]
fn refresh(cache: &mut Cache, index: usize, handle: Handle) -> Option<RawPinned> {
    let (version, cell, snapshot) = WINDOWS.with_versioned(handle, |w| Snapshot {
        origin: w.origin().clone(),
        listeners: w.listeners().snapshot(),
        mode: w.mode(),
    })?;
    let pinned = RawPinned::new(&snapshot);
    let old = cache.entries[index].replace(Cached {
        handle,
        version,
        cell,
        pinned,
        snapshot,
    });
    if let Some(old) = old {
        cache.graveyard.push(old.snapshot);
    }
    Some(pinned)
}

impl<'s> Pinned<'s> {
    #[inline]
    pub fn origin_key(&self) -> OriginKey<'_> {
        match self.raw.origin {
            PinnedOrigin::Opaque(id) => OriginKey::Opaque(id),
            // SAFETY: the TupleOrigin is owned by an Arc held by a cached snapshot, which is
            // moved to the graveyard rather than dropped while this pin scope is open.
            PinnedOrigin::Tuple(t) => unsafe { t.as_ref() }.key(),
        }
    }

    /// Whether `target_origin` is exactly this (tuple) origin's serialization, so it matches.
    #[inline]
    pub fn is_serialized_as(&self, target_origin: &[u8]) -> bool {
        match self.raw.origin {
            PinnedOrigin::Opaque(_) => false,
            // SAFETY: as in origin_key.
            PinnedOrigin::Tuple(t) => unsafe { t.as_ref() }.is_serialized_as(target_origin),
        }
    }

    /// The origin's serialization as a C string, valid while the pin scope lives.
    #[inline]
    pub fn origin_c_ptr(&self) -> *const c_char {
        match self.raw.origin {
            PinnedOrigin::Opaque(_) => Origin::Opaque(0).as_c_ptr(),
            // SAFETY: as in origin_key.
            PinnedOrigin::Tuple(t) => unsafe { t.as_ref() }.as_c_ptr(),
        }
    }

    /// An owned copy of the origin (for queued messages and reports).
    pub fn origin(&self) -> Origin {
        match self.raw.origin {
            PinnedOrigin::Opaque(id) => Origin::Opaque(id),
            // SAFETY: as in origin_key; the pointer is the Arc's own (Arc::as_ptr equals &**arc)
            // and the Arc is alive, so taking another strong reference is sound.
            PinnedOrigin::Tuple(t) => Origin::Tuple(unsafe {
                Arc::increment_strong_count(t.as_ptr().cast_const());
                Arc::from_raw(t.as_ptr().cast_const())
            }),
        }
    }

    /// The listeners registered when the snapshot was taken, in order.
    #[inline]
    pub fn listeners(&self) -> &[ListenerRef] {
        // SAFETY: the slice lives in a ListenerList Arc held by a cached snapshot, kept alive
        // (entries, then graveyard) while this pin scope is open; lists are never mutated once
        // shared (copy-on-write).
        unsafe { self.raw.listeners.as_ref() }
    }

    pub fn mode(&self) -> pm_dispatch_mode {
        self.raw.mode
    }
}
