//! A bounded least-recently-used map with idle expiry.
//!
//! Recency is a counter kept in a `BTreeMap`, so touching, inserting, evicting the oldest and
//! expiring idle entries are all O(log n); expiry stops at the first entry still in use because
//! the order by recency is also the order by last use.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::{Duration, Instant};

struct Slot<V> {
    value: V,
    tick: u64,
    last_used: Instant,
}

pub(crate) struct BoundedLru<K, V> {
    map: HashMap<K, Slot<V>>,
    order: BTreeMap<u64, K>,
    next_tick: u64,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> BoundedLru<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: BTreeMap::new(),
            next_tick: 0,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The entry for `key`, without marking it used.
    /// Every entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter().map(|(k, slot)| (k, &slot.value))
    }

    pub(crate) fn peek(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|slot| &slot.value)
    }

    /// The entry for `key`, marked as just used.
    pub(crate) fn get_mut(&mut self, key: &K, now: Instant) -> Option<&mut V> {
        let slot = self.map.get_mut(key)?;
        slot.last_used = now;
        // Already the most recently used (calls to one busy peer, several lookups per call):
        // the order does not change, and expiry still sees the newest `last_used` last.
        if slot.tick + 1 != self.next_tick {
            // The key moves to its new place in the order; cloned only if it was missing there.
            let k = self.order.remove(&slot.tick).unwrap_or_else(|| key.clone());
            slot.tick = self.next_tick;
            self.next_tick += 1;
            self.order.insert(slot.tick, k);
        }
        Some(&mut slot.value)
    }

    /// The entry for `key`, created with `make` if absent (evicting the least recently used
    /// entry when full), marked as just used.
    pub(crate) fn get_or_insert_with(
        &mut self,
        key: &K,
        now: Instant,
        make: impl FnOnce() -> V,
    ) -> &mut V {
        if !self.map.contains_key(key) {
            if self.map.len() >= self.capacity {
                self.pop_oldest();
            }
            let tick = self.next_tick;
            self.next_tick += 1;
            self.order.insert(tick, key.clone());
            self.map.insert(
                key.clone(),
                Slot {
                    value: make(),
                    tick,
                    last_used: now,
                },
            );
        }
        // Present by construction; `get_mut` also refreshes its recency.
        match self.get_mut(key, now) {
            Some(v) => v,
            None => unreachable!("entry inserted above"),
        }
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let slot = self.map.remove(key)?;
        self.order.remove(&slot.tick);
        Some(slot.value)
    }

    /// Drops every entry not used for `idle` or longer; returns how many went.
    pub(crate) fn expire_idle(&mut self, now: Instant, idle: Duration) -> usize {
        let mut dropped = 0;
        while let Some((_, key)) = self.order.first_key_value() {
            let stale = self
                .map
                .get(key)
                .is_none_or(|s| now.saturating_duration_since(s.last_used) >= idle);
            if !stale {
                break;
            }
            self.pop_oldest();
            dropped += 1;
        }
        dropped
    }

    fn pop_oldest(&mut self) {
        if let Some((_, key)) = self.order.pop_first() {
            self.map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_at_capacity() {
        let t = Instant::now();
        let mut lru = BoundedLru::new(2);
        *lru.get_or_insert_with(&"a", t, || 0) += 1;
        lru.get_or_insert_with(&"b", t, || 0);
        lru.get_mut(&"a", t);
        lru.get_or_insert_with(&"c", t, || 0);
        assert_eq!(lru.len(), 2);
        assert!(lru.get_mut(&"b", t).is_none());
        assert_eq!(lru.get_mut(&"a", t).copied(), Some(1));
    }

    #[test]
    fn expires_only_idle_entries() {
        let t0 = Instant::now();
        let mut lru = BoundedLru::new(8);
        lru.get_or_insert_with(&1, t0, || ());
        lru.get_or_insert_with(&2, t0, || ());
        let t1 = t0 + Duration::from_secs(5);
        lru.get_mut(&1, t1);
        assert_eq!(
            lru.expire_idle(t1 + Duration::from_secs(1), Duration::from_secs(3)),
            1
        );
        assert!(lru.get_mut(&1, t1).is_some());
        assert!(lru.remove(&2).is_none());
    }

    #[test]
    fn stays_bounded_under_churn() {
        let t = Instant::now();
        let mut lru = BoundedLru::new(16);
        for i in 0..10_000 {
            lru.get_or_insert_with(&i, t, || i);
            assert!(lru.len() <= 16);
        }
        assert_eq!(lru.order.len(), lru.map.len());
    }
}

#[cfg(test)]
mod model_tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Touch(u8),
        Insert(u8),
        Remove(u8),
        Expire(u8),
        Advance(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            any::<u8>().prop_map(|k| Op::Touch(k % 16)),
            any::<u8>().prop_map(|k| Op::Insert(k % 16)),
            any::<u8>().prop_map(|k| Op::Remove(k % 16)),
            any::<u8>().prop_map(|s| Op::Expire(s % 8)),
            any::<u8>().prop_map(|s| Op::Advance(s % 4)),
        ]
    }

    proptest! {
        /// Differential test against the obvious model: a Vec ordered by recency.
        #[test]
        fn behaves_like_a_recency_ordered_vec(cap in 1usize..6, ops in proptest::collection::vec(op(), 0..200)) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut lru = BoundedLru::new(cap);
            let mut model: Vec<(u8, Instant)> = Vec::new(); // oldest first
            for op in ops {
                match op {
                    Op::Touch(k) => {
                        let hit = lru.get_mut(&k, now).is_some();
                        let pos = model.iter().position(|(m, _)| *m == k);
                        prop_assert_eq!(hit, pos.is_some());
                        if let Some(p) = pos {
                            model.remove(p);
                            model.push((k, now));
                        }
                    }
                    Op::Insert(k) => {
                        lru.get_or_insert_with(&k, now, || ());
                        if let Some(p) = model.iter().position(|(m, _)| *m == k) {
                            model.remove(p);
                        } else if model.len() >= cap {
                            model.remove(0);
                        }
                        model.push((k, now));
                    }
                    Op::Remove(k) => {
                        let had = lru.remove(&k).is_some();
                        let pos = model.iter().position(|(m, _)| *m == k);
                        prop_assert_eq!(had, pos.is_some());
                        if let Some(p) = pos {
                            model.remove(p);
                        }
                    }
                    Op::Expire(s) => {
                        let idle = Duration::from_secs(u64::from(s));
                        let dropped = lru.expire_idle(now, idle);
                        let before = model.len();
                        // Only a prefix of the recency order can be idle.
                        while model.first().is_some_and(|(_, t)| now.duration_since(*t) >= idle) {
                            model.remove(0);
                        }
                        prop_assert_eq!(dropped, before - model.len());
                    }
                    Op::Advance(s) => now += Duration::from_secs(u64::from(s)),
                }
                prop_assert!(lru.len() <= cap);
                prop_assert_eq!(lru.len(), model.len());
                prop_assert_eq!(lru.order.len(), lru.map.len());
            }
        }
    }
}
