//! The state every connection and request of one axon shares, and the thresholds derived from
//! its configuration that decide where a request runs.
//!
//! Kept apart from the request path (`service`, `grpc`, `admission`, `incoming`, `early`) so
//! that each of those depends on this module and none of them on another just to reach it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bt_crypto::ReplayGuard;
use bt_crypto::session::{SessionTable, SessionVersion};
use bt_interfaces::Synapse;
use bt_tensor::Limits;
use bt_wire::TensorMessage;
use bt_wire::scan::DecodeLimits;
use tokio::sync::Semaphore;

use crate::AxonConfig;
use crate::body_guard::BodyBudget;
use crate::metrics::Metrics;
use crate::per_key::PerKey;
use crate::policy::Policy;
use crate::session::Auth;
use crate::verify::{BatchVerifier, TensorChecks};

/// State shared by every connection and request of one axon.
pub(crate) struct Shared {
    pub(crate) config: AxonConfig,
    pub(crate) metrics: Metrics,
    /// Requests being served (their message is in); taken in `service::handle`.
    pub(crate) in_flight: Arc<Semaphore>,
    /// Requests open (admitted, not yet answered), arriving or being served: whether a
    /// signature check has company to batch with.
    pub(crate) open_requests: AtomicUsize,
    /// Requests open per source address, from headers to answer; taken at admission.
    pub(crate) requests_per_ip: Arc<PerKey<IpAddr>>,
    /// Connections open per source address; taken at accept.
    pub(crate) connections_per_ip: Arc<PerKey<IpAddr>>,
    /// Bytes of request bodies held, over all sources and per source.
    pub(crate) bodies: BodyBudget,
    pub(crate) workers: Arc<Semaphore>,
    pub(crate) draining: AtomicBool,
    pub(crate) synapses: HashMap<String, Arc<dyn Synapse>>,
    pub(crate) policy: Arc<dyn Policy>,
    pub(crate) replay: Mutex<ReplayGuard>,
    pub(crate) verifier: BatchVerifier<TensorChecks>,
    pub(crate) limits: Limits,
    pub(crate) sessions: Mutex<SessionTable>,
    /// Origin of the monotonic nanoseconds the session table is given.
    pub(crate) epoch: Instant,
}

impl Shared {
    /// What a request may hold, checked on its bytes before it is decoded (and so before it
    /// is authenticated, whose digest covers decoded fields).
    pub(crate) fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_tensors: self.config.max_tensors,
            max_dims: self.limits.max_dims,
            max_field_bytes: self.config.max_field_bytes,
        }
    }

    /// Monotonic nanoseconds for the session table (immune to wall-clock steps).
    pub(crate) fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The largest request served on the executor: one whose authentication and decoding cost
    /// about what SHA-256 of `inline_max_bytes` does. BLAKE3, which hashes version-2 session
    /// payloads, is several times faster, and the NaN scan of an anonymous request faster still,
    /// hence the 4× and 32× limits (the README's crypto and codec tables: `cargo bench -p
    /// bt-crypto`, `-p bt-tensor`). Past that the blocking pool's round trip is the smaller
    /// cost.
    pub(crate) fn inline_limit(&self, auth: &Auth, msg: &TensorMessage) -> usize {
        match auth {
            Auth::Session(proof) if proof.version >= SessionVersion::V2 => {
                self.session_inline_limit()
            }
            Auth::Plain if msg.signature.is_empty() => self.compute_inline_limit(),
            _ => self.config.inline_max_bytes,
        }
    }

    /// [`inline_limit`](Self::inline_limit) of a version-2 session request.
    pub(crate) fn session_inline_limit(&self) -> usize {
        self.config.inline_max_bytes.saturating_mul(4)
    }

    /// The largest request a lightweight synapse serves on the executor once it is
    /// authenticated (or needs no authentication): decoding scans it for NaN, nothing more.
    pub(crate) fn compute_inline_limit(&self) -> usize {
        self.config.inline_max_bytes.saturating_mul(32)
    }
}
