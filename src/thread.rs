//! Per-thread dispatch state: the nesting depth, and a cache of window snapshots that lets a
//! synchronous post skip every lock and reference count.
//!
//! A snapshot is what a post needs of a window (origin, listener list, mode), tagged with the
//! window slot's version. A post compares the slot's current version (one atomic load) with the
//! cached one; if equal, nothing about the window changed and the snapshot is current. What a
//! post reads of a cached window is kept apart, in one [`Hot`] record per entry, so that the
//! common post reads two records and nothing else. Snapshots are used through raw pointers
//! during dispatch, so a snapshot evicted while any pin scope on this thread is open goes to a
//! graveyard, emptied when the outermost scope ends.

use crate::abi::pm_dispatch_mode;
use crate::error::Error;
use crate::handles::Handle;
use crate::listener::{ListenerList, ListenerRef};
use crate::origin::{Origin, OriginKey, TargetOrigin, TargetOriginCache, TupleOrigin};
use crate::queue::Doc;
use crate::sync::AtomicU64;
use crate::window::WINDOWS;
use std::cell::{Cell, RefCell};
use std::ffi::c_char;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Nested dispatches allowed on one thread (window, port and broadcast deliveries, and
/// `pm_window_run_pending`, all count).
pub const PM_MAX_DISPATCH_DEPTH: u32 = 32;

/// Cache entries; a window lives in entry `handle % CACHE_ENTRIES` or its neighbour
/// (`index ^ 1`), so that two windows whose handles collide can both stay cached.
const CACHE_ENTRIES: usize = 64;

/// What a post reads of a cached window, each field its own cell so that a post loads just the
/// fields it uses; a common post reads only the first cache line. The pointers point into the
/// entry's [`Snapshot`].
#[repr(C, align(64))]
struct Hot {
    /// The window's raw handle; 0 (never a handle) when the entry is empty.
    handle: Cell<usize>,
    sync: Cell<bool>,
    plain: Cell<bool>,
    unfiltered: Cell<bool>,
    /// The window slot's version when the snapshot was taken.
    version: Cell<u64>,
    /// The window slot's version cell (slots never move or go away).
    cell: Cell<&'static AtomicU64>,
    origin_c: Cell<*const c_char>,
    origin_len: Cell<usize>,
    listeners: Cell<*const ListenerRef>,
    listeners_len: Cell<usize>,
    /// Past the first cache line: only `"/"` and reparsed targetOrigins need it.
    key: Cell<u64>,
}

const _: () = assert!(std::mem::offset_of!(Hot, listeners_len) < 64);

/// The version cell of empty entries (never read: no handle equals an empty entry's 0).
static NO_CELL: AtomicU64 = AtomicU64::new(0);

/// A cached window as a post sees it; valid while the pin scope it was read in lives.
#[derive(Clone, Copy)]
struct View {
    /// The origin's serialization, NUL-terminated ("null" when opaque).
    origin_c: *const c_char,
    /// Its length without the NUL; `usize::MAX` when opaque, so no targetOrigin spells it.
    origin_len: usize,
    /// Same-origin identity: the interned `TupleOrigin`'s address (even), or `id << 1 | 1`.
    key: u64,
    listeners: *const ListenerRef,
    listeners_len: usize,
    sync: bool,
    /// Every listener is plain (no destroy function, no allow-list): see `post_fast`.
    plain: bool,
    /// No listener has an allow-list.
    unfiltered: bool,
}

impl View {
    fn of(snapshot: &Snapshot) -> View {
        let origin = &snapshot.origin;
        let (origin_len, key) = match origin {
            Origin::Opaque(id) => (usize::MAX, *id << 1 | 1),
            Origin::Tuple(t) => (origin.serialization().len(), Arc::as_ptr(t) as usize as u64),
        };
        // The slice lives in the list's heap allocation, so it does not move with the snapshot.
        let listeners = snapshot.listeners.as_slice();
        View {
            origin_c: origin.as_c_ptr(),
            origin_len,
            key,
            listeners: listeners.as_ptr(),
            listeners_len: listeners.len(),
            sync: snapshot.mode == pm_dispatch_mode::PM_DISPATCH_SYNC,
            plain: listeners.iter().all(|l| l.is_plain()),
            unfiltered: listeners.iter().all(|l| l.is_unfiltered()),
        }
    }
}

impl Hot {
    const fn empty() -> Hot {
        Hot {
            handle: Cell::new(0),
            version: Cell::new(0),
            cell: Cell::new(&NO_CELL),
            origin_c: Cell::new(std::ptr::null()),
            origin_len: Cell::new(usize::MAX),
            key: Cell::new(0),
            listeners: Cell::new(std::ptr::NonNull::dangling().as_ptr()),
            listeners_len: Cell::new(0),
            sync: Cell::new(true),
            plain: Cell::new(true),
            unfiltered: Cell::new(true),
        }
    }

    fn set(&self, handle: Handle, version: u64, cell: &'static AtomicU64, view: View) {
        self.handle.set(handle.to_raw());
        self.version.set(version);
        self.cell.set(cell);
        self.origin_c.set(view.origin_c);
        self.origin_len.set(view.origin_len);
        self.key.set(view.key);
        self.listeners.set(view.listeners);
        self.listeners_len.set(view.listeners_len);
        self.sync.set(view.sync);
        self.plain.set(view.plain);
        self.unfiltered.set(view.unfiltered);
    }

    #[inline]
    fn view(&self) -> View {
        View {
            origin_c: self.origin_c.get(),
            origin_len: self.origin_len.get(),
            key: self.key.get(),
            listeners: self.listeners.get(),
            listeners_len: self.listeners_len.get(),
            sync: self.sync.get(),
            plain: self.plain.get(),
            unfiltered: self.unfiltered.get(),
        }
    }

    /// True when its window has not changed since it was cached.
    #[inline]
    fn is_current(&self) -> bool {
        self.cell.get().load(Ordering::Acquire) == self.version.get()
    }
}

/// What a post needs of a window, as of one version of its slot: the owner of what [`Hot`]
/// points to.
struct Snapshot {
    origin: Origin,
    listeners: ListenerList,
    mode: pm_dispatch_mode,
}

impl Snapshot {
    /// A live window's snapshot with its slot's version as of the read and its version cell.
    /// A proxy has no snapshot (so it never enters the cache or the fast path; a
    /// post involving one finds no snapshot and is handed to `remote`).
    fn load(handle: Handle) -> Option<(u64, &'static AtomicU64, Snapshot)> {
        let (version, cell, snapshot) = WINDOWS.with_versioned(handle, |w| {
            w.remote().is_none().then(|| Snapshot {
                origin: w.origin().clone(),
                listeners: w.listeners().snapshot(),
                mode: w.mode(),
            })
        })?;
        Some((version, cell, snapshot?))
    }
}

struct Cache {
    snapshots: [Option<Snapshot>; CACHE_ENTRIES],
    graveyard: Vec<Snapshot>,
}

/// This thread's dispatch state.
pub struct ThreadState {
    depth: Cell<u32>,
    pins: Cell<u32>,
    /// Set when the graveyard has snapshots to drop once no pin scope is open.
    graves: Cell<bool>,
    hot: [Hot; CACHE_ENTRIES],
    cache: RefCell<Cache>,
    target_origins: RefCell<TargetOriginCache>,
}

thread_local! {
    static STATE: ThreadState = const {
        ThreadState {
            depth: Cell::new(0),
            pins: Cell::new(0),
            graves: Cell::new(false),
            hot: [const { Hot::empty() }; CACHE_ENTRIES],
            cache: RefCell::new(Cache {
                snapshots: [const { None }; CACHE_ENTRIES],
                graveyard: Vec::new(),
            }),
            target_origins: RefCell::new(TargetOriginCache::new()),
        }
    };
}

/// Runs `f` on this thread's state, or on None if the thread is exiting and its state is gone.
/// The state is borrowed only for the call (it is not `Sync`, so it cannot leave the thread).
/// Never panics by itself.
#[inline(always)]
pub fn with_current<R>(f: impl for<'s> FnOnce(Option<&'s ThreadState>) -> R) -> R {
    let state: Option<*const ThreadState> = STATE.try_with(|s| s as *const ThreadState).ok();
    // SAFETY: a thread's thread-locals live until its TLS destructors run, and `STATE`'s
    // destructor cannot run while `f`, which runs on this thread, is on the stack; the reference
    // cannot outlive `f` (its lifetime is `f`'s own).
    f(state.map(|s| unsafe { &*s }))
}

/// One level of dispatch on this thread; dropping it leaves the level.
pub struct DepthGuard<'a>(&'a ThreadState);

impl ThreadState {
    /// Enters a dispatch level, or fails with `PM_ERR_DEPTH` if that would exceed the limit.
    #[inline]
    pub fn enter_depth(&self) -> Result<DepthGuard<'_>, Error> {
        self.try_enter_depth().ok_or_else(Error::depth)
    }

    /// Enters a dispatch level if that stays within the limit (no error value: the caller
    /// falls back to a path that reports it).
    #[inline]
    pub fn try_enter_depth(&self) -> Option<DepthGuard<'_>> {
        step_in(&self.depth).then(|| DepthGuard(self))
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
        self.target_origins
            .try_borrow_mut()
            .ok()?
            .with_recent(bytes, f)
    }

    /// Opens a pin scope: snapshots pinned through it stay valid until it is dropped.
    #[inline]
    pub fn pin_scope(&self) -> PinScope<'_> {
        self.pins.set(self.pins.get() + 1);
        PinScope(self)
    }

    /// Where `handle`'s entry is, if it is cached and current.
    #[inline(always)]
    fn find(&self, handle: Handle) -> Option<usize> {
        let raw = handle.to_raw();
        let home = raw % CACHE_ENTRIES;
        let index = if self.hot[home].handle.get() == raw {
            home
        } else if self.hot[home ^ 1].handle.get() == raw {
            home ^ 1
        } else {
            return None;
        };
        self.hot[index].is_current().then_some(index)
    }

    /// Loads a window's snapshot into the cache, in `handle`'s home entry or its neighbour but
    /// never in `keep`; the snapshot it replaces goes to the graveyard (a pin scope is open).
    #[cold]
    fn refresh(&self, handle: Handle, keep: Option<usize>) -> Option<(usize, View)> {
        let (version, cell, snapshot) = Snapshot::load(handle)?;
        let raw = handle.to_raw();
        let home = raw % CACHE_ENTRIES;
        let holds = |i: usize| self.hot[i].handle.get();
        // The entry that already has this window (stale), else the home entry unless it is
        // kept or taken while the neighbour is free, else the neighbour.
        let index = if holds(home) == raw {
            home
        } else if holds(home ^ 1) == raw
            || keep == Some(home)
            || (holds(home) != 0 && holds(home ^ 1) == 0)
        {
            home ^ 1
        } else {
            home
        };
        let view = View::of(&snapshot);
        let mut cache = self.cache.borrow_mut();
        if let Some(old) = cache.snapshots[index].replace(snapshot) {
            cache.graveyard.push(old);
            self.graves.set(true);
        }
        self.hot[index].set(handle, version, cell, view);
        Some((index, view))
    }

    /// Empties the graveyard (no pin scope is open).
    #[cold]
    fn bury(&self) {
        self.graves.set(false);
        // Dropping snapshots runs no callbacks (listeners are destroyed only by removal), so
        // they can go while the cache is borrowed; the graveyard keeps its buffer for next time.
        self.cache.borrow_mut().graveyard.clear();
    }
}

impl Drop for DepthGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.depth.set(self.0.depth.get() - 1);
    }
}

thread_local! {
    /// The dispatch depth once this thread's [`ThreadState`] is gone: posts made from TLS or
    /// pthread-key destructors while the thread exits. It has no destructor, so it never goes.
    static EXIT_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Enters one more dispatch level on `depth` if that stays within the limit.
#[inline(always)]
fn step_in(depth: &Cell<u32>) -> bool {
    let level = depth.get();
    if level >= PM_MAX_DISPATCH_DEPTH {
        return false;
    }
    depth.set(level + 1);
    true
}

/// Whether `handle` is a live window: free when this thread has it cached and current (its slot
/// has not changed since, so it was not freed), else one table lookup.
#[inline]
pub fn is_live(handle: Handle) -> bool {
    STATE
        .try_with(|s| s.find(handle).is_some())
        .unwrap_or(false)
        || WINDOWS.contains(handle)
}

/// The window's delivery mode: from this thread's cache when it is current (one atomic load),
/// else from the window. Fails if the window is gone.
#[inline]
pub fn mode(handle: Handle) -> Result<pm_dispatch_mode, Error> {
    let cached = STATE
        .try_with(|s| s.find(handle).map(|i| s.hot[i].sync.get()))
        .ok()
        .flatten();
    match cached {
        Some(true) => Ok(pm_dispatch_mode::PM_DISPATCH_SYNC),
        Some(false) => Ok(pm_dispatch_mode::PM_DISPATCH_QUEUED),
        None => crate::window::mode(handle),
    }
}

/// Current nesting depth on this thread.
pub fn depth() -> u32 {
    STATE
        .try_with(|s| s.depth.get())
        .unwrap_or_else(|_| EXIT_DEPTH.with(Cell::get))
}

/// Enters a dispatch level on this thread (for paths that do not hold the state already). The
/// guard must be dropped on this thread.
pub fn enter_depth() -> Result<ThreadDepthGuard, Error> {
    match STATE.try_with(|s| s.enter_depth().map(std::mem::forget)) {
        Ok(entered) => entered.map(|()| ThreadDepthGuard(false, PhantomData)),
        Err(_) => EXIT_DEPTH
            .with(step_in)
            .then(|| ThreadDepthGuard(true, PhantomData))
            .ok_or_else(Error::depth),
    }
}

/// A dispatch level entered with [`enter_depth`] (in [`EXIT_DEPTH`] when the flag is set); not
/// `Send`.
pub struct ThreadDepthGuard(bool, PhantomData<*const ()>);

impl Drop for ThreadDepthGuard {
    fn drop(&mut self) {
        if self.0 {
            EXIT_DEPTH.with(|d| d.set(d.get() - 1));
        } else {
            // The state outlives every dispatch that entered a level in it.
            let _ = STATE.try_with(|s| s.depth.set(s.depth.get() - 1));
        }
    }
}

/// While alive, snapshots pinned through it stay valid.
pub struct PinScope<'a>(&'a ThreadState);

impl Drop for PinScope<'_> {
    #[inline]
    fn drop(&mut self) {
        let pins = self.0.pins.get() - 1;
        self.0.pins.set(pins);
        if pins == 0 && self.0.graves.get() {
            self.0.bury();
        }
    }
}

/// A window snapshot usable while its pin scope lives.
#[derive(Clone, Copy)]
pub struct Pinned<'s> {
    hot: View,
    _scope: PhantomData<&'s PinScope<'s>>,
}

impl<'s> PinScope<'s> {
    /// Both windows of a post, cached (the source's entry is kept while the target's loads).
    #[inline]
    pub fn pair(&self, source: Handle, target: Handle) -> (Option<Pinned<'s>>, Option<Pinned<'s>>) {
        match self.window_keeping(source, None) {
            Some((index, src)) => (
                Some(src),
                self.window_keeping(target, Some(index)).map(|(_, p)| p),
            ),
            None => (None, None),
        }
    }

    /// A window's snapshot if it is cached and current, without loading anything.
    #[inline(always)]
    pub fn cached(&self, handle: Handle) -> Option<Pinned<'s>> {
        let index = self.0.find(handle)?;
        Some(Pinned::new(self.0.hot[index].view()))
    }

    /// A window's snapshot (the cached one if current, else freshly loaded into the cache; None
    /// for a gone window or a proxy) with a mark that tells, for one
    /// atomic load, whether it is still current ([`is_still`](Self::is_still)): for a caller
    /// that reads the same window again and again (`run_pending`).
    #[inline]
    pub fn window_marked(&self, handle: Handle) -> Option<(Mark, Pinned<'s>)> {
        let (index, pinned) = self.window_keeping(handle, None)?;
        let hot = &self.0.hot[index];
        let mark = Mark {
            index,
            raw: handle.to_raw(),
            version: hot.version.get(),
        };
        Some((mark, pinned))
    }

    /// Whether the snapshot `mark` was taken with is still cached and current: its entry holds
    /// the same window at the same version (a refresh, even of the same window, changes the
    /// version) and the window has not changed since.
    #[inline(always)]
    pub fn is_still(&self, mark: Mark) -> bool {
        self.0.hot.get(mark.index).is_some_and(|hot| {
            hot.handle.get() == mark.raw && hot.version.get() == mark.version && hot.is_current()
        })
    }

    fn window_keeping(&self, handle: Handle, keep: Option<usize>) -> Option<(usize, Pinned<'s>)> {
        let (index, view) = match self.0.find(handle) {
            Some(index) => (index, self.0.hot[index].view()),
            None => self.0.refresh(handle, keep)?,
        };
        Some((index, Pinned::new(view)))
    }
}

/// Where a pinned snapshot was found and at which version (see [`PinScope::window_marked`]).
#[derive(Clone, Copy)]
pub struct Mark {
    index: usize,
    raw: usize,
    version: u64,
}

/// A window's snapshot owned by the caller, for a thread whose cache is gone (it is exiting).
pub struct Owned(Snapshot);

impl Owned {
    /// The current snapshot of a live window; None if the handle is not one.
    pub fn load(handle: Handle) -> Option<Owned> {
        Snapshot::load(handle).map(|(_, _, snapshot)| Owned(snapshot))
    }

    pub fn pinned(&self) -> Pinned<'_> {
        Pinned::new(View::of(&self.0))
    }
}

impl<'s> Pinned<'s> {
    #[inline]
    fn new(hot: View) -> Pinned<'s> {
        Pinned {
            hot,
            _scope: PhantomData,
        }
    }

    #[inline]
    pub fn origin_key(&self) -> OriginKey<'_> {
        let key = self.hot.key;
        if key & 1 == 1 {
            OriginKey::Opaque(key >> 1)
        } else {
            // SAFETY: an even key is the address of a TupleOrigin owned by an Arc that the
            // cached snapshot holds; the snapshot is moved to the graveyard rather than dropped
            // while this pin scope is open.
            unsafe { &*(key as usize as *const TupleOrigin) }.key()
        }
    }

    /// True when both windows have the same origin (`"/"` from one to the other matches).
    #[inline]
    pub fn same_origin(&self, other: &Pinned<'_>) -> bool {
        self.hot.key == other.hot.key
    }

    /// Whether `target_origin` is exactly this (tuple) origin's serialization, so it matches
    /// (a tuple origin's serialization parses back to the same origin).
    #[inline]
    pub fn is_serialized_as(&self, target_origin: &[u8]) -> bool {
        target_origin.len() == self.hot.origin_len
            // SAFETY: a tuple origin's serialization has `origin_len` bytes before its NUL, and
            // lives as long as the pinned snapshot (see origin_key).
            && crate::origin::short_eq(
                unsafe { std::slice::from_raw_parts(self.hot.origin_c.cast(), self.hot.origin_len) },
                target_origin,
            )
    }

    /// The origin's serialization as a C string, valid while the pin scope lives.
    #[inline]
    pub fn origin_c_ptr(&self) -> *const c_char {
        self.hot.origin_c
    }

    /// An owned copy of the origin (for queued messages and reports).
    pub fn origin(&self) -> Origin {
        self.origin_key().to_origin()
    }

    /// The origin's serialization without the NUL when it is a tuple origin (None when opaque:
    /// no targetOrigin spells it).
    #[inline]
    pub fn serialization(&self) -> Option<&[u8]> {
        (self.hot.origin_len != usize::MAX).then(|| {
            // SAFETY: a tuple origin's serialization has `origin_len` bytes before its NUL, and
            // lives as long as the pinned snapshot (see origin_key).
            unsafe { std::slice::from_raw_parts(self.hot.origin_c.cast(), self.hot.origin_len) }
        })
    }

    /// The listeners registered when the snapshot was taken, in order.
    #[inline]
    pub fn listeners(&self) -> &[ListenerRef] {
        // SAFETY: the slice lives in a ListenerList Arc held by a cached snapshot, kept alive
        // (entries, then graveyard) while this pin scope is open; lists are never mutated once
        // shared (copy-on-write). An empty list's pointer is dangling but aligned.
        unsafe { std::slice::from_raw_parts(self.hot.listeners, self.hot.listeners_len) }
    }

    /// True when none of the listeners has an allow-list, so a post can run each with
    /// [`Listener::call_unfiltered`](crate::listener::Listener::call_unfiltered).
    #[inline]
    pub fn unfiltered(&self) -> bool {
        self.hot.unfiltered
    }

    /// True when every listener is plain (no destroy function, no allow-list), so a post can
    /// run each with [`Listener::call_plain`](crate::listener::Listener::call_plain).
    #[inline]
    pub fn plain(&self) -> bool {
        self.hot.plain
    }

    /// The document as a queued task sees it (see [`Doc`]).
    #[inline]
    pub fn doc(&self) -> Doc<'_> {
        Doc {
            origin: self.origin_key(),
            origin_c: self.origin_c_ptr(),
            serialization: self.serialization(),
            listeners: self.listeners(),
            unfiltered: self.unfiltered(),
        }
    }

    #[inline]
    pub fn mode(&self) -> pm_dispatch_mode {
        if self.hot.sync {
            pm_dispatch_mode::PM_DISPATCH_SYNC
        } else {
            pm_dispatch_mode::PM_DISPATCH_QUEUED
        }
    }
}
