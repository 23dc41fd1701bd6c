//! The synchronization primitives of the concurrency core (handle table, listener lifetime),
//! swapped for loom's under `cfg(loom)` so that model tests (`tests/loom.rs`) can explore every
//! interleaving. Normal builds use std atomics and parking_lot locks directly.

#[cfg(not(loom))]
pub use parking_lot::{Mutex, RwLock};
#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicPtr, AtomicU64};

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicPtr, AtomicU64};
#[cfg(loom)]
pub use loom_locks::{Mutex, RwLock};

/// loom's locks with parking_lot's signatures (no poisoning).
#[cfg(loom)]
mod loom_locks {
    pub struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }
        pub fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0.lock().expect("no poisoning in models")
        }
    }

    pub struct RwLock<T>(loom::sync::RwLock<T>);

    impl<T> RwLock<T> {
        pub fn new(value: T) -> Self {
            RwLock(loom::sync::RwLock::new(value))
        }
        pub fn read(&self) -> loom::sync::RwLockReadGuard<'_, T> {
            self.0.read().expect("no poisoning in models")
        }
        pub fn write(&self) -> loom::sync::RwLockWriteGuard<'_, T> {
            self.0.write().expect("no poisoning in models")
        }
    }
}
