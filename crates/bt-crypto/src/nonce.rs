//! Request nonces: a clock that issues them and a guard that rejects replays.
//!
//! A nonce is nanoseconds since the UNIX epoch (as in the Python SDK's `bt_header_dendrite_nonce`)
//! so that the receiver can check freshness without keeping state for callers it has never
//! seen, and strictly increasing per caller so that it can reject replays within the window.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{CryptoError, PublicKey};

/// Wall-clock nanoseconds since the UNIX epoch (0 before the epoch, saturating far after it).
pub fn unix_nanos() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Issues nonces: wall-clock nanoseconds, but strictly increasing across calls (and threads)
/// even when called twice within one nanosecond or when the wall clock steps backwards — in
/// that case it keeps counting up from the last value until the wall clock catches up.
#[derive(Debug, Default)]
pub struct NonceClock {
    last: AtomicI64,
}

impl NonceClock {
    pub const fn new() -> Self {
        Self {
            last: AtomicI64::new(0),
        }
    }

    /// The next nonce, `> every value returned before by this clock`.
    pub fn next(&self) -> i64 {
        self.next_at(unix_nanos())
    }

    /// [`next`](Self::next) with the wall clock passed in (for tests).
    pub fn next_at(&self, wall_ns: i64) -> i64 {
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let candidate = wall_ns.max(prev.saturating_add(1));
            match self.last.compare_exchange_weak(
                prev,
                candidate,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return candidate,
                Err(actual) => prev = actual,
            }
        }
    }
}

/// Freshness window and table size of a [`ReplayGuard`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayConfig {
    /// Most callers remembered at once; beyond it the least recently seen is evicted.
    pub capacity: usize,
    /// How far a nonce may lie in the past (network delay + queueing + clock skew).
    pub max_age_ns: i64,
    /// How far a nonce may lie in the future (clock skew).
    pub max_future_ns: i64,
    /// How many recent nonces per caller are remembered so that requests signed in one order
    /// and delivered in another (concurrent calls over HTTP/2) are still accepted. `0` is the
    /// strict rule "nonce > last accepted" of `docs/protocol.md`.
    pub reorder_window: usize,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            capacity: 16_384,
            max_age_ns: 10_000_000_000,
            max_future_ns: 2_000_000_000,
            reorder_window: 0,
        }
    }
}

#[derive(Debug)]
struct Entry {
    /// Every nonce `<= floor` is rejected.
    floor: i64,
    /// Accepted nonces above `floor`, ascending, at most `reorder_window` of them.
    recent: Vec<i64>,
    /// Position in the LRU order.
    seq: u64,
}

impl Entry {
    fn highest(&self) -> i64 {
        self.recent.last().copied().unwrap_or(self.floor)
    }
}

/// Replay protection without I/O: time is an argument, so it tests deterministically.
///
/// Per caller it keeps a floor and (optionally) a few recent nonces; a nonce is accepted iff it
/// is inside the freshness window, above the floor and not among the recent ones.
///
/// **Why eviction is safe.** The table holds at most `capacity` callers. Evicting a caller
/// raises a global `evicted_floor` to the highest nonce that caller ever had accepted, and
/// callers without an entry must present a nonce above `evicted_floor` (a new entry starts with
/// that floor). So every nonce ever accepted from an evicted caller stays rejected — not merely
/// "probably stale". The price: while more than `capacity` distinct callers are active within one
/// freshness window, a caller that was evicted or is new must use a nonce above the newest
/// evicted one, which an honest caller's clock-based nonce normally is (the least recently seen
/// entry is evicted, whose nonces are old); at worst it is rejected for up to `max_future_ns`.
#[derive(Debug)]
pub struct ReplayGuard {
    config: ReplayConfig,
    entries: HashMap<[u8; 32], Entry>,
    lru: BTreeMap<u64, [u8; 32]>,
    next_seq: u64,
    evicted_floor: i64,
}

impl Default for ReplayGuard {
    fn default() -> Self {
        Self::new(ReplayConfig::default())
    }
}

impl ReplayGuard {
    /// A capacity of 0 is raised to 1.
    pub fn new(mut config: ReplayConfig) -> Self {
        config.capacity = config.capacity.max(1);
        config.max_age_ns = config.max_age_ns.max(0);
        config.max_future_ns = config.max_future_ns.max(0);
        Self {
            entries: HashMap::with_capacity(config.capacity.min(4096)),
            config,
            lru: BTreeMap::new(),
            next_seq: 0,
            evicted_floor: i64::MIN,
        }
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Self::new(ReplayConfig {
            capacity,
            ..ReplayConfig::default()
        })
    }

    pub fn config(&self) -> &ReplayConfig {
        &self.config
    }

    /// Callers currently remembered (always `<= capacity`).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Accept and record `(caller, nonce)` at time `now_ns`, or say why not. Call it only after
    /// the request's signature verified, or a forger could burn an honest caller's nonces.
    pub fn check_and_record(
        &mut self,
        caller: &PublicKey,
        nonce: i64,
        now_ns: i64,
    ) -> Result<(), CryptoError> {
        if nonce < now_ns.saturating_sub(self.config.max_age_ns) {
            return Err(CryptoError::StaleNonce {
                caller: caller.to_hex(),
                nonce,
                now: now_ns,
                max_age_ns: self.config.max_age_ns,
            });
        }
        if nonce > now_ns.saturating_add(self.config.max_future_ns) {
            return Err(CryptoError::FutureNonce {
                caller: caller.to_hex(),
                nonce,
                now: now_ns,
                max_future_ns: self.config.max_future_ns,
            });
        }
        let id = *caller.as_bytes();
        let seq = self.next_seq;
        self.next_seq += 1;
        match self.entries.get_mut(&id) {
            Some(entry) => {
                if nonce <= entry.floor || entry.recent.binary_search(&nonce).is_ok() {
                    return Err(CryptoError::ReplayedNonce {
                        caller: caller.to_hex(),
                        nonce,
                        floor: entry.floor,
                    });
                }
                insert_nonce(entry, nonce, self.config.reorder_window);
                self.lru.remove(&entry.seq);
                entry.seq = seq;
                self.lru.insert(seq, id);
            }
            None => {
                if nonce <= self.evicted_floor {
                    return Err(CryptoError::ReplayedNonce {
                        caller: caller.to_hex(),
                        nonce,
                        floor: self.evicted_floor,
                    });
                }
                while self.entries.len() >= self.config.capacity {
                    self.evict_oldest();
                }
                let mut entry = Entry {
                    floor: self.evicted_floor,
                    recent: Vec::new(),
                    seq,
                };
                insert_nonce(&mut entry, nonce, self.config.reorder_window);
                self.entries.insert(id, entry);
                self.lru.insert(seq, id);
            }
        }
        Ok(())
    }

    fn evict_oldest(&mut self) {
        let Some((_, id)) = self.lru.pop_first() else {
            return;
        };
        if let Some(entry) = self.entries.remove(&id) {
            self.evicted_floor = self.evicted_floor.max(entry.highest());
        }
    }
}

fn insert_nonce(entry: &mut Entry, nonce: i64, window: usize) {
    if let Err(pos) = entry.recent.binary_search(&nonce) {
        entry.recent.insert(pos, nonce);
    }
    // Spill the smallest into the floor: everything at or below it is rejected from now on, so
    // each nonce ever accepted is either <= floor or still in `recent`.
    while entry.recent.len() > window {
        let smallest = entry.recent.remove(0);
        entry.floor = entry.floor.max(smallest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NeuronKey;

    const S: i64 = 1_000_000_000;

    fn caller(i: u8) -> PublicKey {
        NeuronKey::from_seed([i; 32]).public()
    }

    #[test]
    fn clock_is_strictly_increasing_when_wall_clock_stalls_or_steps_back() {
        let clock = NonceClock::new();
        let a = clock.next_at(100);
        let b = clock.next_at(100);
        let c = clock.next_at(50);
        let d = clock.next_at(1_000);
        assert_eq!((a, b, c, d), (100, 101, 102, 1_000));
        let e = clock.next();
        assert!(e > d);
    }

    #[test]
    fn strict_rule_rejects_equal_and_older_nonces() {
        let mut g = ReplayGuard::default();
        let k = caller(1);
        let now = 100 * S;
        g.check_and_record(&k, now, now).unwrap();
        assert!(matches!(
            g.check_and_record(&k, now, now),
            Err(CryptoError::ReplayedNonce { .. })
        ));
        assert!(g.check_and_record(&k, now - 1, now).is_err());
        g.check_and_record(&k, now + 1, now).unwrap();
        // Another caller is independent.
        g.check_and_record(&caller(2), now, now).unwrap();
    }

    #[test]
    fn freshness_window_bounds() {
        let mut g = ReplayGuard::default();
        let now = 100 * S;
        assert!(matches!(
            g.check_and_record(&caller(1), now - 10 * S - 1, now),
            Err(CryptoError::StaleNonce { .. })
        ));
        g.check_and_record(&caller(1), now - 10 * S, now).unwrap();
        assert!(matches!(
            g.check_and_record(&caller(2), now + 2 * S + 1, now),
            Err(CryptoError::FutureNonce { .. })
        ));
        g.check_and_record(&caller(2), now + 2 * S, now).unwrap();
    }

    #[test]
    fn reorder_window_accepts_late_but_unique_nonces() {
        let mut g = ReplayGuard::new(ReplayConfig {
            reorder_window: 2,
            ..ReplayConfig::default()
        });
        let k = caller(1);
        let now = 100 * S;
        g.check_and_record(&k, now + 3, now).unwrap();
        g.check_and_record(&k, now + 1, now).unwrap();
        assert!(g.check_and_record(&k, now + 1, now).is_err());
        assert!(g.check_and_record(&k, now + 3, now).is_err());
        // Third nonce spills the smallest (now+1) into the floor.
        g.check_and_record(&k, now + 2, now).unwrap();
        assert!(g.check_and_record(&k, now, now).is_err());
    }

    #[test]
    fn evicted_callers_cannot_replay() {
        let mut g = ReplayGuard::with_capacity(2);
        let now = 100 * S;
        g.check_and_record(&caller(1), now + 5, now).unwrap();
        g.check_and_record(&caller(2), now + 1, now).unwrap();
        g.check_and_record(&caller(3), now + 6, now).unwrap(); // evicts caller 1
        assert_eq!(g.len(), 2);
        assert!(g.check_and_record(&caller(1), now + 5, now).is_err());
        assert!(g.check_and_record(&caller(1), now + 4, now).is_err());
        g.check_and_record(&caller(1), now + 7, now).unwrap();
        assert_eq!(g.len(), 2);
    }
}
