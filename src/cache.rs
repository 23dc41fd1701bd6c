//! A per-thread, direct-mapped cache of views keyed by a raw handle: what the post fast paths of
//! ports and broadcast channels look up instead of taking the checked path's locks. Whether a
//! view found is still current is the caller's check; this module only finds and replaces.
//!
//! Nothing here can panic, so the fast paths may run outside the FFI panic boundary: the
//! thread-local is reached with `try_with`, the cells with `try_borrow`/`try_borrow_mut`, and
//! an entry with `get` (the index `key % N` is always in range).

use std::cell::RefCell;
use std::thread::{AccessError, LocalKey};

/// `N` entries of `T`; the view for key `k` lives in entry `k % N` with its key beside it.
/// Meant for a `thread_local!` (`const { DirectMapped::new() }`), reached through
/// [`PerThread`].
pub struct DirectMapped<T, const N: usize> {
    slots: RefCell<[Option<(usize, T)>; N]>,
}

impl<T, const N: usize> DirectMapped<T, N> {
    /// An empty cache.
    pub const fn new() -> Self {
        const { assert!(N > 0, "a direct-mapped cache needs an entry") };
        DirectMapped {
            slots: RefCell::new([const { None }; N]),
        }
    }
}

/// A thread's [`DirectMapped`] cache, used through its `thread_local!` key.
pub trait PerThread<T> {
    /// Calls `found` with the view cached for `key` (None: none is), under a shared borrow
    /// held for the call, so `found` may itself look up (a listener's own post) while a
    /// [`remember`](Self::remember) then does nothing. A cache being written looks empty
    /// (no code runs while [`remember`](Self::remember) writes, so a lookup never meets
    /// one). Err, without calling `found`, when this thread's cache is gone (it is exiting).
    fn lookup<R>(
        &'static self,
        key: usize,
        found: impl FnOnce(Option<&T>) -> R,
    ) -> Result<R, AccessError>;

    /// Puts `view` in `key`'s entry, replacing what was there. Does nothing (`view` is
    /// dropped) when the thread is exiting or a [`lookup`](Self::lookup) holds the cache (a
    /// listener's own post). The view replaced is dropped after the borrow and the
    /// thread-local access end: dropping one can drop a port or a remote link, which may reach
    /// this cache again.
    fn remember(&'static self, key: usize, view: T);
}

impl<T, const N: usize> PerThread<T> for LocalKey<DirectMapped<T, N>> {
    #[inline(always)]
    fn lookup<R>(
        &'static self,
        key: usize,
        found: impl FnOnce(Option<&T>) -> R,
    ) -> Result<R, AccessError> {
        self.try_with(|cache| {
            let Ok(slots) = cache.slots.try_borrow() else {
                return found(None);
            };
            match slots.get(key % N) {
                Some(Some((k, view))) if *k == key => found(Some(view)),
                _ => found(None),
            }
        })
    }

    fn remember(&'static self, key: usize, view: T) {
        let _old = self.try_with(|cache| {
            let mut slots = cache.slots.try_borrow_mut().ok()?;
            slots.get_mut(key % N)?.replace((key, view))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{DirectMapped, PerThread};
    use std::cell::Cell;

    thread_local! {
        static CACHE: DirectMapped<&'static str, 4> = const { DirectMapped::new() };
    }

    #[test]
    fn finds_by_key_and_replaces_on_collision() {
        assert_eq!(CACHE.lookup(1, |v| v.copied()), Ok(None));
        CACHE.remember(1, "one");
        assert_eq!(CACHE.lookup(1, |v| v.copied()), Ok(Some("one")));
        // 5 % 4 == 1: same entry, other key; a miss for 5, then it displaces 1.
        assert_eq!(CACHE.lookup(5, |v| v.copied()), Ok(None));
        CACHE.remember(5, "five");
        assert_eq!(CACHE.lookup(5, |v| v.copied()), Ok(Some("five")));
        assert_eq!(CACHE.lookup(1, |v| v.copied()), Ok(None));
        assert_eq!(CACHE.lookup(2, |v| v.copied()), Ok(None));
    }

    #[test]
    fn nested_get_reads_and_remember_during_get_does_nothing() {
        CACHE.remember(3, "three");
        let inner = CACHE.lookup(3, |_| {
            CACHE.remember(3, "replaced");
            CACHE.lookup(3, |v| v.copied())
        });
        assert_eq!(inner, Ok(Ok(Some("three"))));
        assert_eq!(CACHE.lookup(3, |v| v.copied()), Ok(Some("three")));
    }

    /// A view whose drop reaches the cache (as dropping a port can): it must find the cache
    /// free, so the old view is dropped after the write borrow ends.
    struct Reentrant;

    thread_local! {
        static DROPS: DirectMapped<Reentrant, 2> = const { DirectMapped::new() };
        static SEEN: Cell<Option<bool>> = const { Cell::new(None) };
    }

    impl Drop for Reentrant {
        fn drop(&mut self) {
            let reached = DROPS.lookup(0, |v| v.is_some()) == Ok(true);
            SEEN.with(|s| s.set(Some(reached)));
        }
    }

    #[test]
    fn replaced_view_drops_outside_the_borrow() {
        DROPS.remember(0, Reentrant);
        assert_eq!(SEEN.with(Cell::get), None);
        DROPS.remember(0, Reentrant);
        assert_eq!(SEEN.with(Cell::get), Some(true));
    }
}
