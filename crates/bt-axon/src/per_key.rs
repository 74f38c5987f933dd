//! Per-key counters: what each source address (before authentication) or caller (after)
//! holds — requests in flight, connections, KiB of bodies — each under a cap.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

/// Counts what each key holds (requests in flight, or KiB of bodies); an entry exists only while
/// its count is non-zero, so the table never holds more keys than holders.
pub(crate) struct PerKey<K> {
    cap: usize,
    counts: Mutex<HashMap<K, usize>>,
}

pub(crate) struct PerKeyGuard<K: Hash + Eq + Clone> {
    owner: Arc<PerKey<K>>,
    key: K,
    units: usize,
}

impl<K: Hash + Eq + Clone> PerKey<K> {
    pub(crate) fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap,
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// `None` when `key` already has `cap` requests in flight.
    pub(crate) fn try_acquire(self: &Arc<Self>, key: K) -> Option<PerKeyGuard<K>> {
        self.try_acquire_units(key, 1)
    }

    /// `None` when `key` would hold more than `cap` units with these.
    pub(crate) fn try_acquire_units(
        self: &Arc<Self>,
        key: K,
        units: usize,
    ) -> Option<PerKeyGuard<K>> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let held = counts.get(&key).copied().unwrap_or(0);
        if held.saturating_add(units) > self.cap {
            return None;
        }
        counts.insert(key.clone(), held + units);
        Some(PerKeyGuard {
            owner: self.clone(),
            key,
            units,
        })
    }

    /// Units `key` holds now.
    #[cfg(test)]
    pub(crate) fn held(&self, key: &K) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    #[cfg(test)]
    pub(crate) fn keys(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl<K: Hash + Eq + Clone> PerKeyGuard<K> {
    /// Takes `units` more for the same key; false (and nothing taken) past the cap.
    pub(crate) fn try_grow(&mut self, units: usize) -> bool {
        let mut counts = self
            .owner
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let held = counts.get(&self.key).copied().unwrap_or(0);
        if held.saturating_add(units) > self.owner.cap {
            return false;
        }
        counts.insert(self.key.clone(), held + units);
        self.units += units;
        true
    }
}

impl<K: Hash + Eq + Clone> Drop for PerKeyGuard<K> {
    fn drop(&mut self) {
        let mut counts = self
            .owner
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.key) {
            *n = n.saturating_sub(self.units);
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn per_key_caps_and_forgets() {
        let t = PerKey::new(2);
        let a = t.try_acquire("a").unwrap();
        let b = t.try_acquire("a").unwrap();
        assert!(t.try_acquire("a").is_none());
        assert!(t.try_acquire("b").is_some());
        drop((a, b));
        assert_eq!(t.keys(), 0);
        let big = t.try_acquire_units("c", 2).unwrap();
        assert!(t.try_acquire_units("c", 1).is_none());
        drop(big);
        assert!(
            t.try_acquire_units("c", 3).is_none(),
            "more than the cap at once"
        );
    }

    #[test]
    fn a_guard_grows_within_the_cap() {
        let t = PerKey::new(4);
        let mut g = t.try_acquire_units("a", 1).unwrap();
        assert!(g.try_grow(3));
        assert!(!g.try_grow(1), "past the cap");
        assert_eq!(t.held(&"a"), 4);
        drop(g);
        assert_eq!(t.keys(), 0);
    }
}
