//! A per-peer circuit breaker, pure: the clock is an argument, so it tests deterministically.
//!
//! Closed → (N consecutive failures) → Open for a backoff → HalfOpen: one probe goes through;
//! its success closes the circuit, its failure re-opens it with the backoff doubled (capped).
//! While open, or while the half-open probe is in flight, callers fail fast instead of paying a
//! connect attempt or a full deadline each.

use std::time::{Duration, Instant};

/// When to open a circuit and how long to keep it open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures (connect errors, lost connections, timeouts) that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open the first time.
    pub open_base: Duration,
    /// Cap on the doubled open time after repeated failed probes.
    pub open_max: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 3,
            open_base: Duration::from_millis(500),
            open_max: Duration::from_secs(30),
        }
    }
}

/// What the breaker allows for the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Circuit closed: go ahead.
    Allow,
    /// Circuit half-open and this call is the one probe: go ahead, report the result.
    Probe,
    /// Circuit open (or a probe is already out): fail fast; retry after this long.
    Reject { retry_in: Duration },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant, opened: u32 },
    HalfOpen { opened: u32, probe_since: Instant },
}

/// The breaker of one peer.
#[derive(Debug, Clone)]
pub struct Breaker {
    state: State,
}

impl Default for Breaker {
    fn default() -> Self {
        Self::new()
    }
}

impl Breaker {
    pub fn new() -> Self {
        Self {
            state: State::Closed { failures: 0 },
        }
    }

    /// Ask to send a call at `now`.
    pub fn admit(&mut self, now: Instant, cfg: &BreakerConfig) -> Admission {
        match self.state {
            State::Closed { .. } => Admission::Allow,
            State::Open { until, opened } => {
                if now >= until {
                    self.state = State::HalfOpen {
                        opened,
                        probe_since: now,
                    };
                    Admission::Probe
                } else {
                    Admission::Reject {
                        retry_in: until - now,
                    }
                }
            }
            State::HalfOpen {
                opened,
                probe_since,
            } => {
                // A probe that never reported (its caller was cancelled) must not wedge the
                // circuit half-open forever: after one more backoff, let another probe out.
                let backoff = open_time(opened, cfg);
                if now.saturating_duration_since(probe_since) >= backoff {
                    self.state = State::HalfOpen {
                        opened,
                        probe_since: now,
                    };
                    Admission::Probe
                } else {
                    Admission::Reject {
                        retry_in: backoff - now.saturating_duration_since(probe_since),
                    }
                }
            }
        }
    }

    /// The peer answered (any answer from the server counts: it is alive).
    pub fn on_success(&mut self) {
        self.state = State::Closed { failures: 0 };
    }

    /// The peer could not be reached or did not answer in time.
    pub fn on_failure(&mut self, now: Instant, cfg: &BreakerConfig) {
        self.state = match self.state {
            State::Closed { failures } => {
                let failures = failures.saturating_add(1);
                if failures >= cfg.failure_threshold.max(1) {
                    State::Open {
                        until: now + open_time(1, cfg),
                        opened: 1,
                    }
                } else {
                    State::Closed { failures }
                }
            }
            State::HalfOpen { opened, .. } | State::Open { opened, .. } => {
                let opened = opened.saturating_add(1);
                State::Open {
                    until: now + open_time(opened, cfg),
                    opened,
                }
            }
        };
    }

    /// True while calls are being refused without being tried.
    pub fn is_open(&self) -> bool {
        !matches!(self.state, State::Closed { .. })
    }
}

/// `open_base × 2^(opened-1)`, capped at `open_max`.
fn open_time(opened: u32, cfg: &BreakerConfig) -> Duration {
    let shift = opened.saturating_sub(1).min(20);
    cfg.open_base
        .checked_mul(1u32 << shift)
        .unwrap_or(cfg.open_max)
        .min(cfg.open_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 3,
            open_base: Duration::from_millis(100),
            open_max: Duration::from_millis(350),
        }
    }

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let c = cfg();
        let t0 = Instant::now();
        let mut b = Breaker::new();
        b.on_failure(t0, &c);
        b.on_failure(t0, &c);
        assert_eq!(b.admit(t0, &c), Admission::Allow);
        b.on_failure(t0, &c);
        assert_eq!(
            b.admit(t0, &c),
            Admission::Reject {
                retry_in: Duration::from_millis(100)
            }
        );
    }

    #[test]
    fn success_resets_the_count() {
        let c = cfg();
        let t0 = Instant::now();
        let mut b = Breaker::new();
        b.on_failure(t0, &c);
        b.on_failure(t0, &c);
        b.on_success();
        b.on_failure(t0, &c);
        assert_eq!(b.admit(t0, &c), Admission::Allow);
    }

    #[test]
    fn half_open_lets_one_probe_through() {
        let c = cfg();
        let t0 = Instant::now();
        let mut b = Breaker::new();
        for _ in 0..3 {
            b.on_failure(t0, &c);
        }
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(b.admit(t1, &c), Admission::Probe);
        assert!(matches!(b.admit(t1, &c), Admission::Reject { .. }));
        b.on_success();
        assert_eq!(b.admit(t1, &c), Admission::Allow);
        assert!(!b.is_open());
    }

    #[test]
    fn failed_probe_doubles_the_backoff_up_to_the_cap() {
        let c = cfg();
        let mut now = Instant::now();
        let mut b = Breaker::new();
        for _ in 0..3 {
            b.on_failure(now, &c);
        }
        let mut seen = Vec::new();
        for _ in 0..4 {
            let Admission::Reject { retry_in } = b.admit(now, &c) else {
                panic!("expected open circuit");
            };
            seen.push(retry_in.as_millis());
            now += retry_in;
            assert_eq!(b.admit(now, &c), Admission::Probe);
            b.on_failure(now, &c);
        }
        assert_eq!(seen, vec![100, 200, 350, 350]);
    }

    #[test]
    fn abandoned_probe_is_retried_after_a_backoff() {
        let c = cfg();
        let t0 = Instant::now();
        let mut b = Breaker::new();
        for _ in 0..3 {
            b.on_failure(t0, &c);
        }
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(b.admit(t1, &c), Admission::Probe);
        // The probe's caller vanished without reporting.
        assert_eq!(
            b.admit(t1 + Duration::from_millis(100), &c),
            Admission::Probe
        );
    }
}
