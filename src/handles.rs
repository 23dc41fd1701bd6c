//! The handle table: turns the opaque pointer values handed to C into objects, in O(1), and
//! rejects freed, reused and forged values instead of dereferencing them.
//!
//! A handle is never a real address. It packs a table tag (so a port handle passed as a window
//! is rejected), a slot index and the slot's generation, which changes each time the slot is
//! freed. Slots live in buckets that double in size and are never deallocated, so a lookup only
//! reads a bucket pointer and takes that one slot's read lock: there is no global lock, and
//! lookups of different handles never contend. Slots are cache-line aligned so that two windows
//! used from two threads do not share a line. A bucket's memory is allocated uninitialized and a
//! slot is initialized only when first used, so untouched pages cost no resident memory.

use crate::abi::{pm_broadcast, pm_port, pm_window};
use crate::sync::{AtomicPtr, AtomicU64, Mutex, RwLock};
use std::alloc::{self, Layout, handle_alloc_error};
use std::collections::VecDeque;
use std::num::NonZeroU64;
use std::ptr;
use std::sync::atomic::Ordering;

const INDEX_BITS: u32 = 32;
const GEN_BITS: u32 = 28;
const GEN_MASK: u32 = (1 << GEN_BITS) - 1;
/// Bucket 0 holds `FIRST_BUCKET` slots, bucket b holds `FIRST_BUCKET << b`.
const FIRST_BUCKET_LOG2: u32 = 6;
const FIRST_BUCKET: u64 = 1 << FIRST_BUCKET_LOG2;
const BUCKETS: usize = (INDEX_BITS - FIRST_BUCKET_LOG2 + 1) as usize;
/// Freed slots are reused only once this many others are waiting, so a stale handle's slot is
/// unlikely to be live again soon (and when it is, the generation still tells them apart).
const REUSE_AFTER: usize = 1024;

/// The opaque C types whose pointers are handles (and only those may be converted).
pub trait CHandle {}
impl CHandle for pm_window {}
impl CHandle for pm_port {}
impl CHandle for pm_broadcast {}

/// A handle value: tag (4 bits) | generation (28 bits) | index + 1 (32 bits). Never zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handle(NonZeroU64);

impl Handle {
    /// The value given to C as an opaque pointer.
    pub fn to_raw(self) -> usize {
        self.0.get() as usize
    }

    /// Any pointer value a caller passes back; validity is only decided by a table lookup.
    pub fn from_raw(raw: usize) -> Option<Handle> {
        NonZeroU64::new(raw as u64).map(Handle)
    }

    /// The handle as the C pointer type of its kind. The one place a handle becomes a pointer:
    /// the value is not an address (it carries no provenance and is never dereferenced).
    #[inline(always)]
    pub fn to_ptr<T: CHandle>(self) -> *mut T {
        ptr::without_provenance_mut(self.to_raw())
    }

    /// Any pointer a C caller passes as a handle: NULL is `None`; anything else is only a
    /// candidate until a table lookup accepts it. The one place a pointer becomes a handle.
    #[inline(always)]
    pub fn from_ptr<T: CHandle>(ptr: *const T) -> Option<Handle> {
        Handle::from_raw(ptr.addr())
    }

    /// [`Handle::to_ptr`] for an optional handle: NULL for `None`.
    #[inline(always)]
    pub fn ptr_or_null<T: CHandle>(handle: Option<Handle>) -> *mut T {
        handle.map_or(ptr::null_mut(), Handle::to_ptr)
    }

    fn new(tag: u8, generation: u32, index: u32) -> Handle {
        let raw = (u64::from(tag) << (INDEX_BITS + GEN_BITS))
            | (u64::from(generation & GEN_MASK) << INDEX_BITS)
            | (u64::from(index) + 1);
        Handle(NonZeroU64::new(raw).expect("index + 1 is never zero"))
    }

    fn tag(self) -> u8 {
        (self.0.get() >> (INDEX_BITS + GEN_BITS)) as u8
    }

    fn generation(self) -> u32 {
        ((self.0.get() >> INDEX_BITS) as u32) & GEN_MASK
    }

    /// Slot index, or None for a value whose index part is zero (never issued).
    fn index(self) -> Option<u32> {
        (self.0.get() as u32).checked_sub(1)
    }
}

#[repr(align(64))]
struct Slot<T> {
    /// Bumped (Release) by every insert, write and remove, before the write lock is released:
    /// a reader that saw version v and sees it again knows the slot did not change in between.
    version: AtomicU64,
    entry: RwLock<Entry<T>>,
}

/// A slot found once ([`HandleTable::slot_of`]).
pub struct SlotRef<'a, T>(&'a Slot<T>);

impl<T> Clone for SlotRef<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SlotRef<'_, T> {}

impl<T> SlotRef<'_, T> {
    /// [`HandleTable::with_mut_unversioned`] without the lookup: runs `f` on the object if
    /// `handle` (the one this slot was found for) is still live.
    #[inline(always)]
    pub fn with_mut_unversioned<R>(self, handle: Handle, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut entry = self.0.entry.write();
        if entry.generation != handle.generation() {
            return None;
        }
        entry.value.as_mut().map(f)
    }
}

struct Entry<T> {
    generation: u32,
    value: Option<T>,
}

struct Allocator {
    free: VecDeque<u32>,
    next: u64,
}

/// A table of objects addressed by [`Handle`]s. Meant to live in a `static`.
pub struct HandleTable<T> {
    tag: u8,
    buckets: [AtomicPtr<Slot<T>>; BUCKETS],
    /// Slots with an index below this are initialized (published with Release).
    initialized: AtomicU64,
    allocator: Mutex<Allocator>,
}

// SAFETY: the table hands out `&T` only under a slot's read lock and moves `T` in and out only
// under its write lock, like `RwLock<T>`, which is Sync when T is Send + Sync.
unsafe impl<T: Send + Sync> Sync for HandleTable<T> {}
// SAFETY: see above; the raw bucket pointers are owned by the table.
unsafe impl<T: Send> Send for HandleTable<T> {}

fn bucket_of(index: u32) -> (usize, usize) {
    let v = u64::from(index) + FIRST_BUCKET;
    let bucket = (63 - v.leading_zeros()) - FIRST_BUCKET_LOG2;
    let offset = v - (FIRST_BUCKET << bucket);
    (bucket as usize, offset as usize)
}

fn bucket_len(bucket: usize) -> usize {
    (FIRST_BUCKET << bucket) as usize
}

fn bucket_layout<T>(bucket: usize) -> Layout {
    Layout::array::<Slot<T>>(bucket_len(bucket)).expect("bucket size fits in memory")
}

impl<T> HandleTable<T> {
    /// An empty table whose handles carry `tag` (1..=15).
    #[cfg(not(loom))]
    pub const fn new(tag: u8) -> Self {
        assert!(tag > 0 && tag < 16);
        HandleTable {
            tag,
            buckets: [const { AtomicPtr::new(ptr::null_mut()) }; BUCKETS],
            initialized: AtomicU64::new(0),
            allocator: Mutex::new(Allocator {
                free: VecDeque::new(),
                next: 0,
            }),
        }
    }

    /// An empty table (loom's atomics cannot be built in a const fn).
    #[cfg(loom)]
    pub fn new(tag: u8) -> Self {
        assert!(tag > 0 && tag < 16);
        HandleTable {
            tag,
            buckets: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            initialized: AtomicU64::new(0),
            allocator: Mutex::new(Allocator {
                free: VecDeque::new(),
                next: 0,
            }),
        }
    }

    fn slot(&self, index: u32) -> Option<&Slot<T>> {
        if u64::from(index) >= self.initialized.load(Ordering::Acquire) {
            return None;
        }
        let (bucket, offset) = bucket_of(index);
        let base = self.buckets[bucket].load(Ordering::Acquire);
        // SAFETY: slots below `initialized` were written before it was raised (Release, paired
        // with the Acquire above), so their bucket is allocated and the slot initialized; buckets
        // hold bucket_len(bucket) slots and are freed only in Drop.
        Some(unsafe { &*base.add(offset) })
    }

    fn live_slot(&self, handle: Handle) -> Option<&Slot<T>> {
        if handle.tag() != self.tag {
            return None;
        }
        self.slot(handle.index()?)
    }

    /// Stores the value built by `make` (which learns its own handle) and returns the handle.
    pub fn insert_with(&self, make: impl FnOnce(Handle) -> T) -> Handle {
        let index = {
            let mut allocator = self.allocator.lock();
            if allocator.free.len() > REUSE_AFTER {
                allocator.free.pop_front().expect("free list is not empty")
            } else {
                let index =
                    u32::try_from(allocator.next).expect("handle table is full (2^32 slots)");
                let (bucket, offset) = bucket_of(index);
                let mut base = self.buckets[bucket].load(Ordering::Acquire);
                if offset == 0 && base.is_null() {
                    let layout = bucket_layout::<T>(bucket);
                    // SAFETY: the layout is non-zero-sized (at least 64 slots of >= 64 bytes).
                    base = unsafe { alloc::alloc(layout) }.cast::<Slot<T>>();
                    if base.is_null() {
                        handle_alloc_error(layout);
                    }
                    self.buckets[bucket].store(base, Ordering::Release);
                }
                let empty = Slot {
                    version: AtomicU64::new(0),
                    entry: RwLock::new(Entry {
                        generation: 0,
                        value: None,
                    }),
                };
                // SAFETY: `index` < bucket_len(bucket) is a slot no one has written or can read yet
                // (it is at or above `initialized`); we hold the allocator lock.
                unsafe { base.add(offset).write(empty) };
                allocator.next += 1;
                self.initialized.store(allocator.next, Ordering::Release);
                index
            }
        };
        let slot = self.slot(index).expect("allocated slot is initialized");
        let mut entry = slot.entry.write();
        let handle = Handle::new(self.tag, entry.generation, index);
        entry.value = Some(make(handle));
        slot.version.fetch_add(1, Ordering::Release);
        handle
    }

    /// Runs `f` on the live object behind `handle`, under its slot's read lock.
    /// `f` must not call back into this table for the same handle with a write.
    pub fn with<R>(&self, handle: Handle, f: impl FnOnce(&T) -> R) -> Option<R> {
        let slot = self.live_slot(handle)?;
        let entry = slot.entry.read();
        if entry.generation != handle.generation() {
            return None;
        }
        entry.value.as_ref().map(f)
    }

    /// Runs `f` on the live object behind `handle`, under its slot's write lock.
    pub fn with_mut<R>(&self, handle: Handle, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let slot = self.live_slot(handle)?;
        let mut entry = slot.entry.write();
        if entry.generation != handle.generation() {
            return None;
        }
        let result = entry.value.as_mut().map(f);
        slot.version.fetch_add(1, Ordering::Release);
        result
    }

    /// Like [`with_mut`](Self::with_mut) but leaves the slot's version alone: for changes that
    /// no version-tagged snapshot reflects (a window's task queue), so that queuing and taking
    /// a task does not make every cached snapshot of the window stale.
    pub fn with_mut_unversioned<R>(
        &self,
        handle: Handle,
        f: impl FnOnce(&mut T) -> R,
    ) -> Option<R> {
        let slot = self.live_slot(handle)?;
        let mut entry = slot.entry.write();
        if entry.generation != handle.generation() {
            return None;
        }
        entry.value.as_mut().map(f)
    }

    /// The slot of `handle` if it is one of this table's (live or not: the generation is
    /// checked by each use), for a caller that reaches the same object again and again without
    /// the lookup (slots never move or go away).
    #[inline]
    pub fn slot_of(&self, handle: Handle) -> Option<SlotRef<'_, T>> {
        self.live_slot(handle).map(SlotRef)
    }

    /// Like [`with`](Self::with), also returning the slot's version as of the read and the
    /// slot's version cell, which stays at the same address for the table's life: a cache can
    /// later tell "unchanged since" with one atomic load.
    pub fn with_versioned<R>(
        &self,
        handle: Handle,
        f: impl FnOnce(&T) -> R,
    ) -> Option<(u64, &AtomicU64, R)> {
        let slot = self.live_slot(handle)?;
        let entry = slot.entry.read();
        if entry.generation != handle.generation() {
            return None;
        }
        let version = slot.version.load(Ordering::Relaxed);
        entry.value.as_ref().map(|v| (version, &slot.version, f(v)))
    }

    /// True when `handle` names a live object of this table.
    pub fn contains(&self, handle: Handle) -> bool {
        self.with(handle, |_| ()).is_some()
    }

    /// Takes the object out; from now on `handle` is rejected. None if it was not live.
    pub fn remove(&self, handle: Handle) -> Option<T> {
        let index = handle.index()?;
        let value = {
            let slot = self.live_slot(handle)?;
            let mut entry = slot.entry.write();
            if entry.generation != handle.generation() {
                return None;
            }
            let value = entry.value.take()?;
            entry.generation = (entry.generation + 1) & GEN_MASK;
            slot.version.fetch_add(1, Ordering::Release);
            value
        };
        self.allocator.lock().free.push_back(index);
        Some(value)
    }
}

impl<T> Drop for HandleTable<T> {
    fn drop(&mut self) {
        let initialized = self.initialized.load(Ordering::Acquire);
        for (bucket, ptr) in self.buckets.iter().enumerate() {
            let base = ptr.load(Ordering::Acquire);
            if base.is_null() {
                continue;
            }
            let first = (FIRST_BUCKET << bucket) - FIRST_BUCKET;
            let live = initialized
                .saturating_sub(first)
                .min(bucket_len(bucket) as u64) as usize;
            // SAFETY: the first `live` slots of this bucket were initialized and are dropped once;
            // the memory came from `alloc` with this bucket's layout.
            unsafe {
                ptr::drop_in_place(ptr::slice_from_raw_parts_mut(base, live));
                alloc::dealloc(base.cast(), bucket_layout::<T>(bucket));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_math_covers_every_index_once() {
        assert_eq!(bucket_of(0), (0, 0));
        assert_eq!(bucket_of(63), (0, 63));
        assert_eq!(bucket_of(64), (1, 0));
        assert_eq!(bucket_of(191), (1, 127));
        assert_eq!(bucket_of(192), (2, 0));
        let (b, o) = bucket_of(u32::MAX);
        assert!(b < BUCKETS && o < bucket_len(b));
    }

    #[test]
    fn insert_lookup_remove() {
        let table: HandleTable<String> = HandleTable::new(1);
        let a = table.insert_with(|_| "a".to_string());
        let b = table.insert_with(|_| "b".to_string());
        assert_ne!(a, b);
        assert_eq!(table.with(a, |s| s.clone()).as_deref(), Some("a"));
        assert_eq!(table.remove(a).as_deref(), Some("a"));
        assert!(table.with(a, |_| ()).is_none(), "freed handle is rejected");
        assert!(table.remove(a).is_none(), "double free is rejected");
        assert_eq!(table.with(b, |s| s.clone()).as_deref(), Some("b"));
    }

    #[test]
    fn forged_and_foreign_handles_are_rejected() {
        let windows: HandleTable<u32> = HandleTable::new(1);
        let ports: HandleTable<u32> = HandleTable::new(2);
        let w = windows.insert_with(|_| 7);
        assert!(ports.with(w, |_| ()).is_none(), "wrong tag");
        for raw in [
            1usize,
            0xdead_beef,
            usize::MAX,
            w.to_raw() + 1,
            w.to_raw() ^ (1 << 40),
        ] {
            let h = Handle::from_raw(raw).unwrap();
            if h != w {
                assert!(
                    windows.with(h, |_| ()).is_none(),
                    "forged {raw:#x} accepted"
                );
            }
        }
        assert!(Handle::from_raw(0).is_none());
    }

    #[test]
    fn reused_slot_gets_a_new_generation() {
        let table: HandleTable<u32> = HandleTable::new(3);
        let first = table.insert_with(|_| 1);
        table.remove(first);
        // Force reuse of the freed slot by freeing enough others.
        let mut seen_reuse = false;
        let mut handles = Vec::new();
        for i in 0..(REUSE_AFTER as u32 + 10) {
            let h = table.insert_with(|_| i);
            handles.push(h);
        }
        for h in handles.drain(..) {
            table.remove(h);
        }
        for i in 0..(REUSE_AFTER as u32 + 10) {
            let h = table.insert_with(|_| i);
            if h.index() == first.index() {
                seen_reuse = true;
                assert_ne!(h, first);
            }
            handles.push(h);
        }
        assert!(seen_reuse);
        assert!(table.with(first, |_| ()).is_none());
    }

    #[test]
    fn insert_with_sees_own_handle() {
        let table: HandleTable<Option<Handle>> = HandleTable::new(4);
        let h = table.insert_with(Some);
        assert_eq!(table.with(h, |v| *v), Some(Some(h)));
    }
}
