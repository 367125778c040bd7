//! Mutex access that survives a panicking test thread.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks, ignoring poisoning: the simulator's state stays usable even if a test
/// panicked while holding a lock, so later assertions report the real failure.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
