//! The state every call of one dendrite shares, and the circuit breakers' bookkeeping.
//!
//! Apart from `dendrite` (the fan-out) so that `call` and `request`, which the fan-out runs,
//! depend on this module rather than on the fan-out that depends on them.

use std::sync::Mutex;

use bt_crypto::{NeuronKey, NonceClock};
use tokio::sync::Semaphore;

use crate::breaker::{Admission, Breaker};
use crate::config::DendriteConfig;
use crate::endpoint::Endpoint;
use crate::lru::BoundedLru;
use crate::metrics::DendriteMetrics;
use crate::pool::Pool;

/// What every call of one dendrite shares: the key it signs with, its nonce clock, the
/// connection pool, the circuit breakers and the concurrency slots.
pub(crate) struct Shared {
    pub(crate) key: NeuronKey,
    pub(crate) key_hex: String,
    pub(crate) nonces: NonceClock,
    pub(crate) cfg: DendriteConfig,
    pub(crate) pool: Pool,
    breakers: Mutex<BoundedLru<Endpoint, Breaker>>,
    pub(crate) permits: Semaphore,
    pub(crate) metrics: std::sync::Arc<DendriteMetrics>,
}

impl Shared {
    pub(crate) fn new(key: NeuronKey, config: DendriteConfig) -> Self {
        let key_hex = key.public_hex();
        Self {
            key,
            key_hex,
            nonces: NonceClock::new(),
            pool: Pool::new(&config),
            breakers: Mutex::new(BoundedLru::new(config.max_breakers)),
            permits: Semaphore::new(config.max_in_flight.max(1)),
            metrics: std::sync::Arc::new(DendriteMetrics::new(config.max_peer_stats)),
            cfg: config,
        }
    }

    pub(crate) fn breakers(&self) -> std::sync::MutexGuard<'_, BoundedLru<Endpoint, Breaker>> {
        // Breaker state stays meaningful even if a holder panicked; ignore poisoning.
        self.breakers.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn admit(&self, ep: &Endpoint) -> Admission {
        let now = std::time::Instant::now();
        self.breakers()
            .get_or_insert_with(ep, now, Breaker::new)
            .admit(now, &self.cfg.breaker)
    }

    pub(crate) fn report_success(&self, ep: &Endpoint) {
        if let Some(b) = self.breakers().get_mut(ep, std::time::Instant::now()) {
            b.on_success();
        }
    }

    pub(crate) fn report_failure(&self, ep: &Endpoint) {
        let now = std::time::Instant::now();
        self.breakers()
            .get_or_insert_with(ep, now, Breaker::new)
            .on_failure(now, &self.cfg.breaker);
    }
}
