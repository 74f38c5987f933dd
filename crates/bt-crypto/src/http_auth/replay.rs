//! A bounded store of accepted `(caller, nonce)` pairs for the HTTP schemes.
//!
//! Not the crate's [`ReplayGuard`](crate::ReplayGuard) made generic: that guard keeps a floor and
//! a bounded reorder window per caller, which suits the tensor protocol's clients (one nonce
//! clock per key, thousands of requests a second) but not this one: concurrent HTTP requests
//! from one SDK client arrive in any order and must all pass, however many are in flight, so
//! each live nonce is kept. Both refuse a newcomer rather than evict a live entry when full.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use super::error::{BusyScope, NonceError};

/// Freshness window and caps of a [`ReplayStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayStoreConfig {
    /// How far a nonce may lie in the past; a nonce exactly this old is still accepted.
    pub max_age_ns: i64,
    /// How far a nonce may lie in the future (clock skew); exactly this far is accepted.
    pub max_future_ns: i64,
    /// Most live nonces of one caller: one client cannot fill the global cap alone.
    pub per_caller_cap: usize,
    /// Most live nonces of all callers together (the memory bound).
    pub global_cap: usize,
}

/// The SDK v10 axon's `ALLOWED_DELTA` (`bittensor/utils/axon_utils.py`).
pub const V10_ALLOWED_DELTA_NS: i64 = 4_000_000_000;
/// The SDK v10 `Synapse.timeout` default, seconds.
pub const V10_DEFAULT_TIMEOUT_S: u32 = 12;

impl ReplayStoreConfig {
    /// btauth/1 (SDK 11 `http_auth.verify` defaults): 10 s back, 2 s forward.
    pub fn btauth() -> Self {
        Self {
            max_age_ns: 10_000_000_000,
            max_future_ns: 2_000_000_000,
            ..Self::caps()
        }
    }

    /// The SDK v10 axon accepts a first nonce iff `nonce > now - ALLOWED_DELTA - timeout`
    /// (4 s + the synapse timeout, 12 s by default) and has no forward bound at all. We take its
    /// backward window with a fixed timeout (the `timeout` header is the caller's to choose, so
    /// it must not widen our window) and bound the future by the same 4 s of skew.
    pub fn sdk_v10(timeout_s: u32) -> Self {
        Self {
            max_age_ns: V10_ALLOWED_DELTA_NS + i64::from(timeout_s) * 1_000_000_000,
            max_future_ns: V10_ALLOWED_DELTA_NS,
            ..Self::caps()
        }
    }

    /// 1024 live nonces per caller is ~100 requests/s sustained over a 10 s window; 65 536 in
    /// all costs a few MB (two B-tree entries of ~50 bytes each per nonce).
    fn caps() -> Self {
        Self {
            max_age_ns: 0,
            max_future_ns: 0,
            per_caller_cap: 1_024,
            global_cap: 65_536,
        }
    }
}

impl Default for ReplayStoreConfig {
    fn default() -> Self {
        Self::btauth()
    }
}

/// Accepts each `(caller, nonce)` at most once and only inside the freshness window; pure (time
/// is an argument) and bounded (entries past the window are dropped, and when a cap is reached
/// new nonces are refused with [`NonceError::Busy`]).
#[derive(Debug)]
pub struct ReplayStore<K> {
    config: ReplayStoreConfig,
    by_caller: BTreeMap<K, BTreeSet<i64>>,
    /// The same entries ordered by nonce, so the expired ones are found without a scan.
    by_nonce: BTreeSet<(i64, K)>,
    /// Highest cutoff ever used to drop entries. Nonces below it are refused as stale even if a
    /// later `now` is smaller (clock stepped back): their record is gone, so accepting them
    /// could accept a replay.
    forgotten_below: i64,
}

impl<K: Ord + Clone + Display> Default for ReplayStore<K> {
    fn default() -> Self {
        Self::new(ReplayStoreConfig::default())
    }
}

impl<K: Ord + Clone + Display> ReplayStore<K> {
    /// Negative windows are raised to 0 and caps of 0 to 1.
    pub fn new(mut config: ReplayStoreConfig) -> Self {
        config.max_age_ns = config.max_age_ns.max(0);
        config.max_future_ns = config.max_future_ns.max(0);
        config.per_caller_cap = config.per_caller_cap.max(1);
        config.global_cap = config.global_cap.max(1);
        Self {
            config,
            by_caller: BTreeMap::new(),
            by_nonce: BTreeSet::new(),
            forgotten_below: i64::MIN,
        }
    }

    pub fn config(&self) -> &ReplayStoreConfig {
        &self.config
    }

    /// Live `(caller, nonce)` entries (always `<= global_cap`).
    pub fn len(&self) -> usize {
        self.by_nonce.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_nonce.is_empty()
    }

    /// Freshness alone, without recording: lets a verifier reject stale requests before paying
    /// for the signature check.
    pub fn check_fresh(&self, nonce: i64, now_ns: i64) -> Result<(), NonceError> {
        let cutoff = now_ns.saturating_sub(self.config.max_age_ns);
        if nonce < cutoff || nonce < self.forgotten_below {
            return Err(NonceError::Stale {
                nonce,
                now: now_ns,
                max_age_ns: self.config.max_age_ns,
            });
        }
        if nonce > now_ns.saturating_add(self.config.max_future_ns) {
            return Err(NonceError::Future {
                nonce,
                now: now_ns,
                max_future_ns: self.config.max_future_ns,
            });
        }
        Ok(())
    }

    /// Accept and record `(caller, nonce)` at `now_ns`, or say why not. Call it only after the
    /// signature verified, or a forger could burn an honest caller's nonces and fill the caps.
    pub fn check_and_record(
        &mut self,
        caller: &K,
        nonce: i64,
        now_ns: i64,
    ) -> Result<(), NonceError> {
        self.expire(now_ns);
        self.check_fresh(nonce, now_ns)?;
        let live = self.by_caller.get(caller);
        if live.is_some_and(|set| set.contains(&nonce)) {
            return Err(NonceError::Replayed {
                caller: caller.to_string(),
                nonce,
            });
        }
        if live.map_or(0, BTreeSet::len) >= self.config.per_caller_cap {
            return Err(NonceError::Busy {
                scope: BusyScope::Caller,
                cap: self.config.per_caller_cap,
            });
        }
        if self.by_nonce.len() >= self.config.global_cap {
            return Err(NonceError::Busy {
                scope: BusyScope::Global,
                cap: self.config.global_cap,
            });
        }
        self.by_caller
            .entry(caller.clone())
            .or_default()
            .insert(nonce);
        self.by_nonce.insert((nonce, caller.clone()));
        Ok(())
    }

    /// Drop every entry that [`check_fresh`](Self::check_fresh) would now reject as stale.
    pub fn expire(&mut self, now_ns: i64) {
        let cutoff = now_ns.saturating_sub(self.config.max_age_ns);
        if cutoff <= self.forgotten_below {
            return;
        }
        self.forgotten_below = cutoff;
        while let Some((nonce, _)) = self.by_nonce.first() {
            if *nonce >= cutoff {
                break;
            }
            let Some((nonce, caller)) = self.by_nonce.pop_first() else {
                break;
            };
            if let Some(set) = self.by_caller.get_mut(&caller) {
                set.remove(&nonce);
                if set.is_empty() {
                    self.by_caller.remove(&caller);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    const NOW: i64 = 1_700_000_000 * S;

    fn small(per_caller_cap: usize, global_cap: usize) -> ReplayStore<String> {
        ReplayStore::new(ReplayStoreConfig {
            per_caller_cap,
            global_cap,
            ..ReplayStoreConfig::btauth()
        })
    }

    fn k(s: &str) -> String {
        s.to_owned()
    }

    #[test]
    fn out_of_order_nonces_all_pass_and_replays_never_do() {
        let mut st = small(100, 100);
        let nonces = [NOW + 5, NOW + 1, NOW + 3, NOW - 4 * S, NOW + 2, NOW];
        for n in nonces {
            st.check_and_record(&k("a"), n, NOW).unwrap();
        }
        for n in nonces {
            assert!(matches!(
                st.check_and_record(&k("a"), n, NOW),
                Err(NonceError::Replayed { .. })
            ));
        }
        // Same nonce, other caller: independent.
        st.check_and_record(&k("b"), NOW, NOW).unwrap();
    }

    #[test]
    fn window_edges_are_inclusive() {
        let mut st = small(100, 100);
        st.check_and_record(&k("a"), NOW - 10 * S, NOW).unwrap();
        st.check_and_record(&k("a"), NOW + 2 * S, NOW).unwrap();
        assert!(matches!(
            st.check_and_record(&k("a"), NOW - 10 * S - 1, NOW),
            Err(NonceError::Stale { .. })
        ));
        assert!(matches!(
            st.check_and_record(&k("a"), NOW + 2 * S + 1, NOW),
            Err(NonceError::Future { .. })
        ));
    }

    #[test]
    fn full_store_refuses_instead_of_evicting_live_entries() {
        let mut st = small(2, 3);
        st.check_and_record(&k("a"), NOW, NOW).unwrap();
        st.check_and_record(&k("a"), NOW + 1, NOW).unwrap();
        assert_eq!(
            st.check_and_record(&k("a"), NOW + 2, NOW),
            Err(NonceError::Busy {
                scope: BusyScope::Caller,
                cap: 2
            })
        );
        st.check_and_record(&k("b"), NOW, NOW).unwrap();
        assert_eq!(
            st.check_and_record(&k("c"), NOW, NOW),
            Err(NonceError::Busy {
                scope: BusyScope::Global,
                cap: 3
            })
        );
        // Still a replay, not busy: the old entries were kept.
        assert!(matches!(
            st.check_and_record(&k("a"), NOW, NOW),
            Err(NonceError::Replayed { .. })
        ));
        assert_eq!(st.len(), 3);
    }

    #[test]
    fn expired_entries_are_dropped_and_free_room() {
        let mut st = small(1, 1);
        st.check_and_record(&k("a"), NOW, NOW).unwrap();
        let later = NOW + 10 * S + 1;
        st.check_and_record(&k("b"), later, later).unwrap();
        assert_eq!(st.len(), 1);
        // The dropped nonce is stale now, so its replay still fails.
        assert!(matches!(
            st.check_and_record(&k("a"), NOW, later),
            Err(NonceError::Stale { .. })
        ));
    }

    #[test]
    fn clock_stepping_back_does_not_revive_forgotten_nonces() {
        let mut st = small(10, 10);
        st.check_and_record(&k("a"), NOW, NOW).unwrap();
        st.expire(NOW + 11 * S);
        assert!(st.is_empty());
        // `now` back where it was: NOW is inside the window again, but its record is gone.
        assert!(matches!(
            st.check_and_record(&k("a"), NOW, NOW),
            Err(NonceError::Stale { .. })
        ));
    }

    #[test]
    fn sdk_v10_window_is_delta_plus_timeout() {
        let c = ReplayStoreConfig::sdk_v10(V10_DEFAULT_TIMEOUT_S);
        assert_eq!(c.max_age_ns, 16 * S);
        assert_eq!(c.max_future_ns, 4 * S);
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let mut st = small(10, 10);
        assert!(st.check_and_record(&k("a"), i64::MIN, i64::MAX).is_err());
        assert!(st.check_and_record(&k("a"), i64::MAX, i64::MIN).is_err());
        st.check_and_record(&k("a"), i64::MAX, i64::MAX).unwrap();
    }
}
