//! The table of live handles. A handle given to C is a number, never reused, that the
//! table maps to an `Arc` of the Rust object: so a freed, forged or twice-freed handle is
//! recognised instead of dereferenced, and an object freed on one thread while another
//! thread is still running it lives until that call returns.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Live objects of one type, by handle number.
pub(crate) struct Handles<T> {
    next: AtomicUsize,
    live: Mutex<BTreeMap<usize, Arc<T>>>,
}

impl<T> Handles<T> {
    /// An empty table; handle numbers start at 1, so 0 stays NULL.
    pub(crate) const fn new() -> Self {
        Self {
            next: AtomicUsize::new(1),
            live: Mutex::new(BTreeMap::new()),
        }
    }

    /// Takes `value` in and returns its new handle number.
    pub(crate) fn insert(&self, value: T) -> usize {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, Arc::new(value));
        id
    }

    /// The object behind `id`, if it is live.
    pub(crate) fn get(&self, id: usize) -> Option<Arc<T>> {
        self.lock().get(&id).cloned()
    }

    /// Takes the object behind `id` out of the table (it is dropped with the last
    /// `Arc`); `None` when `id` is not live.
    pub(crate) fn remove(&self, id: usize) -> Option<Arc<T>> {
        self.lock().remove(&id)
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<usize, Arc<T>>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_handle_is_gone_and_never_reused() {
        let table = Handles::new();
        let first = table.insert("a");
        assert_eq!(table.get(first).as_deref(), Some(&"a"));
        assert!(table.remove(first).is_some());
        assert!(table.remove(first).is_none(), "a second free finds nothing");
        assert!(table.get(first).is_none());
        let second = table.insert("b");
        assert_ne!(first, second);
        assert!(table.get(0).is_none(), "0 is never a handle");
    }

    #[test]
    fn an_object_in_use_outlives_its_removal() {
        let table = Handles::new();
        let id = table.insert(String::from("runbook"));
        let in_use = table.get(id).unwrap();
        drop(table.remove(id));
        assert_eq!(*in_use, "runbook");
    }
}
