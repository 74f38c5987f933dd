//! Building, starting and stopping an axon.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bt_crypto::session::{SessionConfig, SessionTable};
use bt_crypto::{PublicKey, ReplayConfig, ReplayGuard};
use bt_tensor::Limits;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admission::AdmissionLayer;
use crate::body_guard::BodyBudget;
use crate::grpc::BittensorService;
use crate::incoming::Incoming;
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::per_key::PerKey;
use crate::policy::{AllowAll, Policy};
use crate::shared::Shared;
use crate::verify::{BatchVerifier, TensorChecks};
use crate::{AxonConfig, AxonError};
use bt_interfaces::Synapse;

/// After the grace period, connections are closed forcibly; this bounds the wait for their
/// tasks to notice.
const FORCED_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Entry point: `Axon::builder(config).serve_synapse(key, synapse).start(addr)`.
pub struct Axon;

impl Axon {
    pub fn builder(config: AxonConfig) -> AxonBuilder {
        AxonBuilder {
            config,
            synapses: Vec::new(),
            policy: Arc::new(AllowAll),
            registry: None,
        }
    }
}

/// Collects synapses and a policy; [`start`](Self::start) validates everything and binds.
pub struct AxonBuilder {
    config: AxonConfig,
    synapses: Vec<(String, Arc<dyn Synapse>)>,
    policy: Arc<dyn Policy>,
    registry: Option<bt_interfaces::MetricsRegistry>,
}

impl AxonBuilder {
    /// Serve `GET /metrics` (at `AxonConfig::metrics_addr`) from `registry`, the process's
    /// one list of metric sets: the axon adds its own to it at start, and the caller may add
    /// others (dendrite, metagraph, trainer) before or after. Without it the axon's
    /// endpoint serves the axon's metrics alone.
    pub fn metrics_registry(mut self, registry: bt_interfaces::MetricsRegistry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Serve `synapse` under `key_hex` (`0x` + lower-case hex of an Ed25519 public key).
    /// The key is checked by [`start`](Self::start).
    pub fn serve_synapse(mut self, key_hex: impl Into<String>, synapse: Arc<dyn Synapse>) -> Self {
        self.synapses.push((key_hex.into(), synapse));
        self
    }

    /// Replace the default [`AllowAll`] policy.
    pub fn policy(mut self, policy: Arc<dyn Policy>) -> Self {
        self.policy = policy;
        self
    }

    /// Bind `addr` (port 0 picks a free port) and serve until the handle is shut down or
    /// dropped. Must be called within a Tokio runtime.
    pub async fn start(self, addr: SocketAddr) -> Result<AxonHandle, AxonError> {
        let config = self.config;
        config.validate()?;
        if self.synapses.is_empty() {
            return Err(AxonError::NoSynapse);
        }
        let mut synapses = HashMap::with_capacity(self.synapses.len());
        for (key, synapse) in self.synapses {
            check_synapse_key(&key)?;
            if synapses.insert(key.clone(), synapse).is_some() {
                return Err(AxonError::DuplicateSynapse { key });
            }
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AxonError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| AxonError::Bind { addr, source })?;
        let metrics_listener =
            match config.metrics_addr {
                Some(maddr) => Some(TcpListener::bind(maddr).await.map_err(|source| {
                    AxonError::MetricsBind {
                        addr: maddr,
                        source,
                    }
                })?),
                None => None,
            };

        let replay = ReplayGuard::new(ReplayConfig {
            capacity: config.max_callers,
            per_source: config.max_callers_per_ip,
            max_age_ns: nanos(config.nonce_max_age),
            max_future_ns: nanos(config.nonce_max_skew),
            reorder_window: config.nonce_reorder_window,
        });
        let limits = Limits {
            max_elements: config.max_elements,
            max_bytes: config.max_message_bytes,
            ..Limits::DEFAULT
        };
        let shared = Arc::new(Shared {
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            open_requests: AtomicUsize::new(0),
            requests_per_ip: PerKey::new(config.max_requests_per_ip),
            connections_per_ip: PerKey::new(config.max_connections_per_ip),
            bodies: BodyBudget::new(config.max_buffered_bytes, config.max_buffered_bytes_per_ip),
            workers: Arc::new(Semaphore::new(config.workers)),
            draining: AtomicBool::new(false),
            metrics: Metrics::default(),
            synapses,
            policy: self.policy,
            replay: Mutex::new(replay),
            verifier: BatchVerifier::new(
                TensorChecks::new(config.max_callers.min(4096)),
                config.max_verify_batch,
            ),
            limits,
            sessions: Mutex::new(SessionTable::new(SessionConfig {
                capacity: config.max_sessions,
                protect_recent_ns: u64::try_from(config.session_protect_recent.as_nanos())
                    .unwrap_or(u64::MAX),
                per_source: config.max_sessions_per_ip,
                per_caller: config.max_sessions_per_caller,
                idle_ttl_ns: u64::try_from(config.session_idle_timeout.as_nanos())
                    .unwrap_or(u64::MAX),
                max_age_ns: u64::try_from(config.session_max_age.as_nanos()).unwrap_or(u64::MAX),
                // gRPC callers use a session on their next request; its flood test relies on
                // the recency rule alone.
                evict_unconfirmed_first: false,
            })),
            epoch: std::time::Instant::now(),
            config,
        });

        let registry = self.registry.unwrap_or_default();
        registry.register(Arc::new(AxonMetricSet(shared.clone())));
        let (metrics_addr, metrics_task) = match metrics_listener {
            Some(l) => {
                let maddr = l.local_addr().map_err(|source| AxonError::MetricsBind {
                    addr: local_addr,
                    source,
                })?;
                (
                    Some(maddr),
                    Some(tokio::spawn(crate::metrics_http::serve(
                        l,
                        registry.clone(),
                    ))),
                )
            }
            None => (None, None),
        };

        let kill = CancellationToken::new();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = build_server(&shared.config)
            .layer(AdmissionLayer {
                shared: shared.clone(),
            })
            .add_service(BittensorService {
                shared: shared.clone(),
            });
        let incoming = Incoming::new(listener, kill.clone(), shared.clone());
        let task = tokio::spawn(async move {
            server
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stop_rx.await;
                })
                .await
        });
        tracing::info!(%local_addr, "axon serving");
        Ok(AxonHandle {
            local_addr,
            metrics_addr,
            registry,
            shared,
            stop: Some(stop_tx),
            task: Some(task),
            kill,
            metrics_task,
        })
    }
}

fn build_server(c: &AxonConfig) -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .max_concurrent_streams(c.max_concurrent_streams)
        .max_frame_size(c.max_frame_size)
        .initial_stream_window_size(c.initial_stream_window)
        .initial_connection_window_size(c.initial_connection_window)
        .http2_keepalive_interval(Some(c.http2_keepalive_interval))
        .http2_keepalive_timeout(Some(c.http2_keepalive_timeout))
        .tcp_nodelay(true)
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn check_synapse_key(key: &str) -> Result<(), AxonError> {
    let err = |reason: String| AxonError::SynapseKey {
        key: key.to_string(),
        reason,
    };
    let digits = key
        .strip_prefix("0x")
        .ok_or_else(|| err("missing the 0x prefix".into()))?;
    if digits.len() != 64
        || !digits
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(err("not 64 lower-case hex digits".into()));
    }
    PublicKey::from_hex(key).map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// A running axon. Dropping it stops the axon at once (no grace); prefer
/// [`shutdown`](Self::shutdown).
pub struct AxonHandle {
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    registry: bt_interfaces::MetricsRegistry,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
    kill: CancellationToken,
    metrics_task: Option<JoinHandle<()>>,
}

impl AxonHandle {
    /// The bound address (the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where `GET /metrics` is served, if configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The registry `GET /metrics` serves (the axon's set is in it): the rest of the process
    /// adds its own sets here.
    pub fn metrics_registry(&self) -> bt_interfaces::MetricsRegistry {
        self.registry.clone()
    }

    /// The counters as they are now.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics.snapshot()
    }

    /// Whether the server task has ended (it only ends on shutdown or a fatal error).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stop: refuse new requests (`UNAVAILABLE`) and connections at once, let requests in
    /// flight finish for up to `grace`, then close what is left. Returns when everything is
    /// closed; [`AxonError::ShutdownForced`] if the grace period had to be cut short.
    pub async fn shutdown(mut self, grace: Duration) -> Result<(), AxonError> {
        self.shared.draining.store(true, Ordering::Release);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.metrics_task.take() {
            t.abort();
        }
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        let result = match tokio::time::timeout(grace, &mut task).await {
            Ok(joined) => joined,
            Err(_) => {
                let open = usize::try_from(self.shared.metrics.snapshot().connections)
                    .unwrap_or(usize::MAX);
                self.kill.cancel();
                if tokio::time::timeout(FORCED_CLOSE_WAIT, &mut task)
                    .await
                    .is_err()
                {
                    task.abort();
                }
                return Err(AxonError::ShutdownForced { grace, open });
            }
        };
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AxonError::Serve(e.to_string())),
            Err(join) => Err(AxonError::Serve(join.to_string())),
        }
    }
}

impl Drop for AxonHandle {
    fn drop(&mut self) {
        self.shared.draining.store(true, Ordering::Release);
        self.kill.cancel();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some(t) = self.metrics_task.take() {
            t.abort();
        }
    }
}

/// The axon's counters as one set of the process's metrics registry.
struct AxonMetricSet(Arc<Shared>);

impl bt_interfaces::MetricSet for AxonMetricSet {
    fn write(&self, out: &mut bt_interfaces::metrics::Exposition) {
        out.raw(&self.0.metrics.snapshot().to_prometheus());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synapse_keys_are_checked() {
        assert!(check_synapse_key("abc").is_err());
        assert!(check_synapse_key(&format!("0x{}", "A".repeat(64))).is_err());
        assert!(check_synapse_key(&format!("0x{}", "0".repeat(63))).is_err());
        let key = bt_crypto::NeuronKey::from_seed([7; 32]).public_hex();
        assert!(check_synapse_key(&key).is_ok());
    }
}
