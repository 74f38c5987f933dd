//! Request nonces: a clock that issues them and a guard that rejects replays.
//!
//! A nonce is nanoseconds since the UNIX epoch (as in the Python SDK's `bt_header_dendrite_nonce`)
//! so that the receiver can check freshness without keeping state for callers it has never
//! seen, and strictly increasing per caller so that it can reject replays within the window.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{CryptoError, PublicKey};

/// Offset added to this process's wall clock, in nanoseconds; see [`set_clock_offset_ns`].
static CLOCK_OFFSET_NS: AtomicI64 = AtomicI64::new(0);

/// Shifts every later [`unix_nanos`] of this process by `offset_ns` (positive: ahead). A fault
/// harness uses it to give one process a skewed clock (`bittensor neuron --clock_skew_ms`, a
/// hidden test flag) without touching the machine's clock; nothing else should.
pub fn set_clock_offset_ns(offset_ns: i64) {
    CLOCK_OFFSET_NS.store(offset_ns, Ordering::Relaxed);
}

/// Wall-clock nanoseconds since the UNIX epoch (0 before the epoch, saturating far after it),
/// plus the offset of [`set_clock_offset_ns`] (0 unless a test set one).
pub fn unix_nanos() -> i64 {
    let wall = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(_) => 0,
    };
    wall.saturating_add(CLOCK_OFFSET_NS.load(Ordering::Relaxed))
        .max(0)
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
    /// Most callers remembered at once. A caller is forgotten only once every nonce it had
    /// accepted has gone stale; while the table is full of live callers, a new caller is
    /// refused ([`CryptoError::NonceTableFull`]) rather than a live one evicted.
    pub capacity: usize,
    /// Most callers one source (a client address) may have in the table at once, so one
    /// address minting keys cannot fill it; only enforced for calls that name a source.
    pub per_source: usize,
    /// How far a nonce may lie in the past (network delay + queueing + clock skew).
    pub max_age_ns: i64,
    /// How far a nonce may lie in the future (clock skew).
    pub max_future_ns: i64,
    /// How many recent nonces per caller are remembered so that requests signed in one order
    /// and delivered in another (concurrent calls over HTTP/2) are still accepted. `0` is the
    /// strict rule "nonce > last accepted".
    pub reorder_window: usize,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            capacity: 16_384,
            per_source: 256,
            max_age_ns: 10_000_000_000,
            max_future_ns: 2_000_000_000,
            reorder_window: 128,
        }
    }
}

#[derive(Debug)]
struct Entry {
    /// Every nonce `<= floor` is rejected.
    floor: i64,
    /// Accepted nonces above `floor`, ascending, at most `reorder_window` of them.
    recent: Vec<i64>,
    source: Option<IpAddr>,
}

impl Entry {
    fn highest(&self) -> i64 {
        self.recent.last().copied().unwrap_or(self.floor)
    }
}

/// Replay protection without I/O: time is an argument, so it tests deterministically.
///
/// Per caller it keeps a floor and a few recent nonces; a nonce is accepted iff it is inside
/// the freshness window, above the floor and not among the recent ones.
///
/// **Why forgetting is safe, and why nothing live is evicted.** A caller's entry is dropped
/// only when its highest accepted nonce has gone stale: every nonce it would reject is then
/// rejected by freshness alone (and `forgotten_below` keeps that true if the clock steps back).
/// An earlier version evicted the least recently seen caller when full and raised a global
/// floor to its highest nonce; an attacker minting keys and signing with nonces at the edge of
/// the future window then lifted that floor above every honest clock, locking out all new
/// callers. Now a full table refuses the newcomer, the callers already in it keep working, and
/// [`ReplayConfig::per_source`] keeps one address from filling it.
#[derive(Debug)]
pub struct ReplayGuard {
    config: ReplayConfig,
    entries: HashMap<[u8; 32], Entry>,
    /// The entries ordered by their highest nonce, so the stale ones are found without a scan.
    by_highest: BTreeSet<(i64, [u8; 32])>,
    per_source: HashMap<IpAddr, usize>,
    /// Highest staleness cutoff ever used to forget entries: nonces below it are refused as
    /// stale even if a later `now` is smaller.
    forgotten_below: i64,
}

impl Default for ReplayGuard {
    fn default() -> Self {
        Self::new(ReplayConfig::default())
    }
}

impl ReplayGuard {
    /// A capacity or per-source cap of 0 is raised to 1.
    pub fn new(mut config: ReplayConfig) -> Self {
        config.capacity = config.capacity.max(1);
        config.per_source = config.per_source.max(1);
        config.max_age_ns = config.max_age_ns.max(0);
        config.max_future_ns = config.max_future_ns.max(0);
        Self {
            entries: HashMap::with_capacity(config.capacity.min(4096)),
            config,
            by_highest: BTreeSet::new(),
            per_source: HashMap::new(),
            forgotten_below: i64::MIN,
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
    /// the request's signature verified and the caller was authorised, or a forger could burn
    /// an honest caller's nonces and a refused caller could take the table's room.
    pub fn check_and_record(
        &mut self,
        caller: &PublicKey,
        nonce: i64,
        now_ns: i64,
    ) -> Result<(), CryptoError> {
        self.check_and_record_from(caller, nonce, now_ns, None)
    }

    /// [`check_and_record`](Self::check_and_record) for a request from `source`, which a new
    /// caller's entry counts against [`ReplayConfig::per_source`].
    pub fn check_and_record_from(
        &mut self,
        caller: &PublicKey,
        nonce: i64,
        now_ns: i64,
        source: Option<IpAddr>,
    ) -> Result<(), CryptoError> {
        let cutoff = now_ns.saturating_sub(self.config.max_age_ns);
        if nonce < cutoff || nonce < self.forgotten_below {
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
        if let Some(entry) = self.entries.get_mut(&id) {
            if nonce <= entry.floor || entry.recent.binary_search(&nonce).is_ok() {
                return Err(CryptoError::ReplayedNonce {
                    caller: caller.to_hex(),
                    nonce,
                    floor: entry.floor,
                });
            }
            let before = entry.highest();
            insert_nonce(entry, nonce, self.config.reorder_window);
            let after = entry.highest();
            if after != before {
                self.by_highest.remove(&(before, id));
                self.by_highest.insert((after, id));
            }
            return Ok(());
        }
        let source_full = |g: &Self| {
            source
                .is_some_and(|s| g.per_source.get(&s).copied().unwrap_or(0) >= g.config.per_source)
        };
        if self.entries.len() >= self.config.capacity || source_full(self) {
            self.forget_stale(cutoff);
        }
        if self.entries.len() >= self.config.capacity {
            return Err(CryptoError::NonceTableFull {
                scope: "all callers",
                cap: self.config.capacity,
            });
        }
        if source_full(self) {
            return Err(CryptoError::NonceTableFull {
                scope: "callers from one address",
                cap: self.config.per_source,
            });
        }
        let mut entry = Entry {
            floor: i64::MIN,
            recent: Vec::new(),
            source,
        };
        insert_nonce(&mut entry, nonce, self.config.reorder_window);
        self.by_highest.insert((entry.highest(), id));
        if let Some(s) = source {
            *self.per_source.entry(s).or_default() += 1;
        }
        self.entries.insert(id, entry);
        Ok(())
    }

    /// Drops every caller whose highest accepted nonce is below `cutoff` (all its nonces are
    /// then refused as stale anyway).
    fn forget_stale(&mut self, cutoff: i64) {
        self.forgotten_below = self.forgotten_below.max(cutoff);
        while let Some(&(highest, id)) = self.by_highest.first() {
            if highest >= self.forgotten_below {
                break;
            }
            self.by_highest.pop_first();
            if let Some(entry) = self.entries.remove(&id)
                && let Some(s) = entry.source
                && let Some(n) = self.per_source.get_mut(&s)
            {
                *n -= 1;
                if *n == 0 {
                    self.per_source.remove(&s);
                }
            }
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
        let mut g = ReplayGuard::new(ReplayConfig {
            reorder_window: 0,
            ..ReplayConfig::default()
        });
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
    fn a_full_table_refuses_newcomers_and_keeps_live_callers() {
        let mut g = ReplayGuard::with_capacity(2);
        let now = 100 * S;
        g.check_and_record(&caller(1), now + 5, now).unwrap();
        g.check_and_record(&caller(2), now + 1, now).unwrap();
        assert!(matches!(
            g.check_and_record(&caller(3), now + 6, now),
            Err(CryptoError::NonceTableFull { cap: 2, .. })
        ));
        // The callers in the table keep working, and their replays stay refused.
        g.check_and_record(&caller(1), now + 7, now).unwrap();
        assert!(g.check_and_record(&caller(1), now + 5, now).is_err());
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn future_nonces_from_many_keys_do_not_lock_out_later_callers() {
        // The attack of finding M2: keys minted to fill the table with nonces at the edge of
        // the future window. Once they are stale, an honest caller gets in at its own clock.
        let mut g = ReplayGuard::with_capacity(4);
        let now = 100 * S;
        for i in 0..4 {
            g.check_and_record(&caller(i), now + 2 * S, now).unwrap();
        }
        let later = now + 2 * S + 10 * S + 1;
        g.check_and_record(&caller(9), later, later).unwrap();
        // A forgotten caller's old nonces stay refused (stale), its new ones pass.
        assert!(g.check_and_record(&caller(0), now + 2 * S, later).is_err());
        g.check_and_record(&caller(0), later, later).unwrap();
    }

    #[test]
    fn one_source_cannot_fill_the_table() {
        let mut g = ReplayGuard::new(ReplayConfig {
            per_source: 2,
            ..ReplayConfig::default()
        });
        let now = 100 * S;
        let (a, b): (IpAddr, IpAddr) = ([127, 0, 0, 2].into(), [127, 0, 0, 3].into());
        g.check_and_record_from(&caller(1), now, now, Some(a))
            .unwrap();
        g.check_and_record_from(&caller(2), now, now, Some(a))
            .unwrap();
        assert!(matches!(
            g.check_and_record_from(&caller(3), now, now, Some(a)),
            Err(CryptoError::NonceTableFull { cap: 2, .. })
        ));
        g.check_and_record_from(&caller(3), now, now, Some(b))
            .unwrap();
        // Once the first address's callers are stale, it has room again.
        let later = now + 11 * S;
        g.check_and_record_from(&caller(4), later, later, Some(a))
            .unwrap();
    }
}
