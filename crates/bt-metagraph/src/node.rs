//! A running metagraph node: the gossip server plus the gossip loop, behind a handle.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bt_crypto::NeuronKey;
use bt_wire::Synapse;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;

use crate::client::gossip_call;
use crate::config::MetagraphConfig;
use crate::error::MetagraphError;
use crate::sample::SplitMix64;
use crate::server::{Shared, now_ms, sink_batch};
use crate::service::MetagraphService;
use crate::table::MetagraphTable;
use crate::validate::{PeerAddr, Rejection, encode_heartbeat};
use crate::verify::VerifiedSynapse;
use bt_interfaces::SynapseInfo;

/// One of our own synapses, as the neuron serves it on its axon, with the synapse key's proof
/// that it binds itself to our neuron key at this endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnSynapse {
    /// `0x` + hex of the synapse's Ed25519 public key.
    pub synapse_key: String,
    /// Host or IP where the axon is reachable (`--remote_ip`).
    pub address: String,
    /// The axon port (`--axon_port`).
    pub port: u16,
    /// `Synapse.synapse_proof`: made by [`OwnSynapse::proven`] where the synapse's secret is.
    pub synapse_proof: bytes::Bytes,
}

impl OwnSynapse {
    /// Signs the binding of `synapse` (the synapse's own key pair) to `neuron_key` (the
    /// metagraph node's public key, `0x` hex) at `address:port`; see
    /// `bt_crypto::synapse_proof_digest`. The secret stays with the caller.
    pub fn proven(
        synapse: &NeuronKey,
        neuron_key: &str,
        address: &str,
        port: u16,
    ) -> Result<Self, MetagraphError> {
        let mut syn = Synapse {
            neuron_key: neuron_key.to_owned(),
            synapse_key: synapse.public_hex(),
            address: address.to_owned(),
            port: port.to_string(),
            ..Synapse::default()
        };
        bt_crypto::prove_synapse(synapse, &mut syn)
            .map_err(|e| MetagraphError::Signing(e.to_string()))?;
        Ok(Self {
            synapse_key: syn.synapse_key,
            address: syn.address,
            port,
            synapse_proof: syn.synapse_proof,
        })
    }
}

/// Entry point: `MetagraphNode::start(config, key, own_synapses)`.
pub struct MetagraphNode;

impl MetagraphNode {
    /// Binds the server, seals and subscribes our own synapses, and starts gossiping (the
    /// first round immediately). Fails if the port cannot be bound or an own synapse is
    /// invalid (bad key, address or port).
    pub async fn start(
        config: MetagraphConfig,
        key: NeuronKey,
        own_synapses: Vec<OwnSynapse>,
    ) -> Result<MetagraphHandle, MetagraphError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| MetagraphError::Bind {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| MetagraphError::Bind {
                addr: config.listen,
                source,
            })?;
        let host = match &config.advertise_host {
            Some(h) => h.clone(),
            None if local_addr.ip().is_unspecified() => "127.0.0.1".to_owned(),
            None => local_addr.ip().to_string(),
        };
        let port = config.advertise_port.unwrap_or(local_addr.port());
        let advertised = PeerAddr::parse(&format!("{host}:{port}"))
            .or_else(|_| PeerAddr::parse(&format!("[{host}]:{port}")))
            .map_err(|_| MetagraphError::BadPeerAddress {
                addr: format!("{host}:{port}"),
            })?;

        let mut table = MetagraphTable::new(config.table);
        table.set_own_address(advertised.clone());
        let now = now_ms();
        for b in &config.bootstrap {
            let peer = PeerAddr::parse(b)
                .map_err(|_| MetagraphError::BadPeerAddress { addr: b.clone() })?;
            table.add_peer(peer, now);
        }
        let seed = config
            .seed
            .unwrap_or(now ^ (u64::from(local_addr.port()) << 48));
        let shared = Arc::new(Shared::new(table, config, seed));
        let key = Arc::new(key);
        announce(&shared, &key, &own_synapses, now).await?;

        let (stop_tx, stop_rx) = watch::channel(false);
        let server = {
            let cfg = &shared.cfg;
            let service = MetagraphService {
                shared: shared.clone(),
            };
            let router = tonic::transport::Server::builder()
                .timeout(cfg.call_timeout)
                .concurrency_limit_per_connection(16)
                .add_service(service);
            let mut rx = stop_rx.clone();
            tokio::spawn(async move {
                let stop = async move {
                    let _ = rx.wait_for(|s| *s).await;
                };
                if let Err(e) = router
                    .serve_with_incoming_shutdown(TcpIncoming::from(listener), stop)
                    .await
                {
                    tracing::error!(error = %e, "metagraph server stopped");
                }
            })
        };
        let gossip = tokio::spawn(gossip_loop(
            shared.clone(),
            key,
            own_synapses,
            stop_rx,
            seed,
        ));
        tracing::info!(%local_addr, %advertised, "metagraph node started");
        Ok(MetagraphHandle {
            local_addr,
            advertised,
            shared,
            stop: stop_tx,
            tasks: vec![server, gossip],
        })
    }
}

/// Seals (work + signature, on the blocking pool) and subscribes our synapses with a fresh
/// heartbeat. The work covers the heartbeat, so it is redone each time: at the default
/// difficulty that is ~2^16 hashes per synapse, which is why the loop re-seals only
/// `heartbeats_per_ttl` times per TTL instead of every round.
async fn announce(
    shared: &Arc<Shared>,
    key: &Arc<NeuronKey>,
    own: &[OwnSynapse],
    now: u64,
) -> Result<(), MetagraphError> {
    if own.is_empty() {
        return Ok(());
    }
    let (key, own, bits) = (key.clone(), own.to_vec(), shared.cfg.difficulty_bits);
    let sealed = tokio::task::spawn_blocking(move || {
        own.iter()
            .map(|o| {
                let mut syn = Synapse {
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    synapse_key: o.synapse_key.clone(),
                    address: o.address.clone(),
                    port: o.port.to_string(),
                    block_hash: encode_heartbeat(now),
                    synapse_proof: o.synapse_proof.clone(),
                    ..Synapse::default()
                };
                bt_crypto::seal_synapse(&key, &mut syn, bits)
                    .map(|()| syn)
                    .map_err(|e| MetagraphError::Signing(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|_| MetagraphError::Shutdown)??;
    let limits = shared.cfg.table.time_limits();
    for syn in sealed {
        let v = VerifiedSynapse::verify(syn, now, limits, &shared.verifier)
            .map_err(|reason| MetagraphError::OwnSynapseRejected { reason })?;
        shared.table().subscribe(v)?;
    }
    Ok(())
}

/// The seeds' `update` loop. Cancel-safe at every await: a round interrupted by shutdown
/// leaves the table consistent (all mutations happen under the lock, between awaits).
async fn gossip_loop(
    shared: Arc<Shared>,
    key: Arc<NeuronKey>,
    own: Vec<OwnSynapse>,
    mut stop: watch::Receiver<bool>,
    seed: u64,
) {
    let mut rng = SplitMix64::new(seed);
    let mut first = true;
    let reseal_ms = shared.cfg.table.ttl_ms / u64::from(shared.cfg.heartbeats_per_ttl.max(1));
    // `start` sealed once already; the heartbeats it and we seal are these times exactly.
    let mut sealed_at = shared.table().own_heartbeat().unwrap_or_else(now_ms);
    loop {
        if !first {
            let base = shared.cfg.gossip_interval.as_secs_f64();
            let jitter = shared.cfg.jitter.clamp(0.0, 0.9);
            let factor = 1.0 + jitter * (2.0 * rng.next_open01() - 1.0);
            let wait = Duration::from_secs_f64((base * factor).max(0.001));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
        first = false;
        let now = now_ms();
        if now.saturating_sub(sealed_at) >= reseal_ms {
            sealed_at = now;
            if let Err(e) = announce(&shared, &key, &own, now).await {
                tracing::error!(error = %e, "re-announcing our synapses failed");
            }
        }
        tokio::select! {
            () = gossip_round(&shared, &mut rng) => {
                let round = shared.rounds.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let (peers, synapses) = {
                    let t = shared.table();
                    (t.peer_count(), t.len())
                };
                // Test harnesses count rounds of child processes from this line.
                tracing::debug!(round, peers, synapses, "gossip round done");
            }
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

async fn gossip_round(shared: &Arc<Shared>, rng: &mut SplitMix64) {
    let now = now_ms();
    let target = {
        let mut t = shared.table();
        let ttl = t.config().ttl_ms;
        t.clean(ttl, now);
        if t.peer_count() == 0 {
            for b in shared
                .cfg
                .bootstrap
                .iter()
                .filter_map(|b| PeerAddr::parse(b).ok())
            {
                t.add_peer(b, now);
            }
        }
        t.gossip_target(rng.next_u64())
    };
    let Some(target) = target else { return };
    let batch = shared.gossip_batch(now);
    // What `advance_cursor` needs of the push: our first (own) and last (window) entries.
    let ends: Vec<Synapse> = [batch.synapses.first(), batch.synapses.last()]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    let cfg = &shared.cfg;
    let limits = shared.batch_limits();
    match gossip_call(
        &target,
        batch,
        cfg.call_timeout,
        cfg.max_message_bytes,
        limits,
    )
    .await
    {
        Ok(answer) => {
            let answered_as = answer
                .batch
                .peers
                .first()
                .and_then(|p| PeerAddr::parse(p).ok());
            {
                let mut t = shared.table();
                t.peer_succeeded(&target, now_ms());
                if let Some(name) = &answered_as
                    && t.peer_alias(&target, name, now_ms())
                {
                    tracing::debug!(peer = %target, name = %name, "dropped a second name of a peer");
                }
                let push: Vec<&Synapse> = ends.iter().collect();
                let got: Vec<&Synapse> = answer.batch.synapses.iter().collect();
                t.advance_cursor(&push, &got);
            }
            if let Err(e) = sink_batch(shared, answer, None, target.as_str()).await {
                tracing::warn!(peer = %target, error = %e, "could not merge gossip answer");
            }
        }
        Err(e) => {
            let dropped = shared.table().peer_failed(&target, now_ms());
            tracing::debug!(peer = %target, error = %e, dropped, "gossip call failed");
        }
    }
}

/// A running node. Dropping it stops the node too (without waiting).
pub struct MetagraphHandle {
    local_addr: SocketAddr,
    advertised: PeerAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl MetagraphHandle {
    /// Where the gossip server is bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The metagraph address this node advertises to others.
    pub fn advertised_addr(&self) -> &PeerAddr {
        &self.advertised
    }

    /// Every definition held, ordered by synapse key.
    pub fn table_snapshot(&self) -> Vec<SynapseInfo> {
        self.shared.table().snapshot()
    }

    /// The seeds' `nP|nS`: (metagraph peers known, synapses held).
    pub fn counts(&self) -> (usize, usize) {
        let t = self.shared.table();
        (t.peer_count(), t.len())
    }

    /// Gossip rounds completed since start (each: clean, re-announce, one call).
    pub fn rounds_completed(&self) -> u64 {
        self.shared
            .rounds
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every peer known, ordered.
    pub fn peers(&self) -> Vec<PeerAddr> {
        let t = self.shared.table();
        let mut p = t.peers(usize::MAX, now_ms(), 0);
        p.sort();
        p
    }

    /// Refusals since start, by reason.
    pub fn rejections(&self) -> BTreeMap<Rejection, u64> {
        self.shared.table().rejections().clone()
    }

    /// Runs `f` on the table under its lock (keep it short).
    pub fn with_table<R>(&self, f: impl FnOnce(&mut MetagraphTable) -> R) -> R {
        f(&mut self.shared.table())
    }

    /// Stops the server and the gossip loop and waits for both.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for MetagraphHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The gossip node's metrics (`bt_metagraph_*`), for a process's metrics registry.
struct MetagraphMetrics(Arc<Shared>);

impl bt_interfaces::MetricSet for MetagraphMetrics {
    fn write(&self, out: &mut bt_interfaces::metrics::Exposition) {
        use bt_interfaces::metrics::Kind;
        let (peers, synapses, rejections) = {
            let t = self.0.table();
            (t.peer_count(), t.len(), t.rejections().clone())
        };
        out.single(
            "bt_metagraph_synapses",
            Kind::Gauge,
            "Synapse definitions in the table (ours included).",
            synapses as f64,
        );
        out.single(
            "bt_metagraph_peers",
            Kind::Gauge,
            "Metagraph peers known.",
            peers as f64,
        );
        out.single(
            "bt_metagraph_gossip_rounds_total",
            Kind::Counter,
            "Gossip rounds completed (clean, re-announce, one call).",
            self.0.rounds.load(std::sync::atomic::Ordering::Relaxed) as f64,
        );
        let name = "bt_metagraph_rejections_total";
        out.family(name, Kind::Counter, "Definitions refused, by reason.");
        for (reason, n) in &rejections {
            out.sample(name, &[("reason", &format!("{reason:?}"))], *n as f64);
        }
    }
}

impl MetagraphHandle {
    /// The node's metrics (`bt_metagraph_*`), for a process's metrics registry.
    pub fn metric_set(&self) -> Arc<dyn bt_interfaces::MetricSet> {
        Arc::new(MetagraphMetrics(self.shared.clone()))
    }
}
