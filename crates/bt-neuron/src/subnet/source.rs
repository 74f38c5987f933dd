//! [`ChainMetagraph`]: the metagraph of one subnet, read from the chain instead of gossip.
//!
//! Every chain call runs under a deadline. Reads are served from the last snapshot while it is
//! younger than `max_age`, so many readers cost one RPC per `max_age`; a failed refresh leaves
//! the previous snapshot in place and returns the error.
//!
//! Weights go on the chain as the subnet asks: a `set_weights` transaction, or, when the subnet
//! has commit-reveal enabled, a commitment now and its reveal in the reveal epoch (the salt and
//! values wait here, bounded by `bt_chain::MAX_PENDING_COMMITS`; call
//! [`ChainMetagraph::reveal_due`] once per block or round).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bt_chain::{Keypair, MAX_PENDING_COMMITS};
use bt_interfaces::metagraph::check_weights;
use bt_interfaces::{Chain, ChainError, WeightsCommit};
use bt_interfaces::{MetagraphSource, PeerCounts, SourceError, SourceKind, SynapseInfo};
use bt_subtensor::RpcConfig;
use rand::RngCore;

use crate::chain_target::ChainTarget;
use crate::subnet::error::SubnetError;
use crate::subnet::view::SubnetView;
use crate::subnet::weights::{to_u16_weights, weight_of};

/// A commitment waiting for its reveal epoch.
#[derive(Debug, Clone)]
struct PendingReveal {
    epoch: u64,
    commit: WeightsCommit,
}

/// How a weight submission went on the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightsOutcome {
    /// Stored directly (commit-reveal off).
    Set { block: u64, row: Vec<(u16, u16)> },
    /// Committed; revealed by a later [`ChainMetagraph::reveal_due`].
    Committed {
        block: u64,
        reveal_epoch: u64,
        row: Vec<(u16, u16)>,
    },
}

impl WeightsOutcome {
    /// The submitted row as `uid:value` pairs (u16 values, largest 65535).
    pub fn row_text(&self) -> String {
        let (Self::Set { row, .. } | Self::Committed { row, .. }) = self;
        row.iter()
            .map(|(u, v)| format!("{u}:{v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

struct Snapshot {
    at: Instant,
    mg: Arc<SubnetView>,
}

/// A chain-backed [`MetagraphSource`] for one subnet, acting as one hotkey.
///
/// A chain node that restarts, or a link to it that breaks, leaves a WebSocket client that
/// fails every call from then on. So a call that fails as unavailable or late marks the
/// connection broken, and the next [`ChainMetagraph::refresh`] dials the target again (under
/// the same deadline) before it reads: a neuron rejoins a restarted chain by itself.
pub struct ChainMetagraph {
    chain: Mutex<Arc<dyn Chain>>,
    /// Where to dial again; `None` for a source built over a given client ([`Self::new`]).
    target: Option<(ChainTarget, RpcConfig)>,
    broken: std::sync::atomic::AtomicBool,
    netuid: u16,
    hotkey: Keypair,
    timeout: Duration,
    max_age: Duration,
    snapshot: Mutex<Option<Snapshot>>,
    pending: Mutex<VecDeque<PendingReveal>>,
}

impl ChainMetagraph {
    /// Connects to `target` (the embedded chain or subtensor) within `timeout`; every later
    /// call gets the same deadline. Reads reuse a snapshot for up to `max_age`.
    pub async fn connect(
        target: &ChainTarget,
        netuid: u16,
        hotkey: Keypair,
        timeout: Duration,
        max_age: Duration,
    ) -> Result<Self, SubnetError> {
        let config = RpcConfig {
            request_timeout: timeout,
            ..RpcConfig::default()
        };
        let chain = deadline(timeout, "connect", target.connect(config.clone())).await?;
        let mut source = Self::new(chain, netuid, hotkey, timeout, max_age);
        source.target = Some((target.clone(), config));
        Ok(source)
    }

    /// The same over a chain already connected.
    pub fn new(
        chain: Arc<dyn Chain>,
        netuid: u16,
        hotkey: Keypair,
        timeout: Duration,
        max_age: Duration,
    ) -> Self {
        Self {
            chain: Mutex::new(chain),
            target: None,
            broken: std::sync::atomic::AtomicBool::new(false),
            netuid,
            hotkey,
            timeout,
            max_age,
            snapshot: Mutex::new(None),
            pending: Mutex::new(VecDeque::new()),
        }
    }

    pub fn netuid(&self) -> u16 {
        self.netuid
    }

    pub fn hotkey(&self) -> &Keypair {
        &self.hotkey
    }

    /// The client, for calls this type does not wrap (always put a deadline on them, with
    /// [`Self::call`], which also notices a dead connection).
    pub fn chain(&self) -> Arc<dyn Chain> {
        lock(&self.chain).clone()
    }

    /// Runs `fut` (a call on [`Self::chain`]) under this source's deadline. A failure that
    /// says the node is gone or late marks the connection for a redial at the next refresh.
    pub async fn call<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = Result<T, ChainError>>,
    ) -> Result<T, SubnetError> {
        let result = deadline(self.timeout, op, fut).await;
        if let Err(
            SubnetError::ChainTimeout { .. }
            | SubnetError::Chain {
                source: ChainError::Unavailable { .. } | ChainError::Timeout { .. },
                ..
            },
        ) = &result
        {
            self.broken
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        result
    }

    /// Dials the target again when a call found the connection dead (see the type's doc).
    async fn redial_if_broken(&self) -> Result<(), SubnetError> {
        let Some((target, config)) = &self.target else {
            return Ok(());
        };
        if !self.broken.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        let chain = deadline(self.timeout, "connect", target.connect(config.clone())).await?;
        *lock(&self.chain) = chain;
        self.broken
            .store(false, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(endpoint = target.endpoint(), "reconnected to the chain");
        Ok(())
    }

    /// Reads the metagraph (with weights) and the hyperparameters now and keeps them as the
    /// snapshot.
    pub async fn refresh(&self) -> Result<Arc<SubnetView>, SubnetError> {
        self.redial_if_broken().await?;
        let chain = self.chain();
        let view = self
            .call("metagraph", chain.metagraph(self.netuid, true))
            .await?;
        let hparams = self
            .call("hyperparams", chain.hyperparams(self.netuid))
            .await?;
        let mg = Arc::new(SubnetView::new(view, hparams.values));
        *lock(&self.snapshot) = Some(Snapshot {
            at: Instant::now(),
            mg: mg.clone(),
        });
        Ok(mg)
    }

    /// The snapshot if younger than `max_age`, else a fresh read.
    pub async fn current(&self) -> Result<Arc<SubnetView>, SubnetError> {
        if let Some(s) = lock(&self.snapshot).as_ref()
            && s.at.elapsed() < self.max_age
        {
            return Ok(s.mg.clone());
        }
        self.refresh().await
    }

    /// Our uid, if our hotkey is registered.
    pub async fn uid(&self) -> Result<Option<u16>, SubnetError> {
        Ok(self.current().await?.uid_of(&self.hotkey.account()))
    }

    /// Submits weights by uid (any non-negative finite scale; normalized here). Follows the
    /// subnet's commit-reveal setting and its `max_weights_limit` / `min_allowed_weights`.
    pub async fn set_uid_weights(
        &self,
        uids: &[u16],
        weights: &[f32],
    ) -> Result<WeightsOutcome, SubnetError> {
        let mg = self.refresh().await?;
        let me = mg
            .uid_of(&self.hotkey.account())
            .ok_or(SubnetError::NotRegistered {
                netuid: self.netuid,
                hotkey: self.hotkey.account(),
            })?;
        let (uids, values) = to_u16_weights(uids, weights, &mg, me)?;
        let h = &mg.hparams;
        let version_key = h.weights_version;
        let row: Vec<(u16, u16)> = uids.iter().copied().zip(values.iter().copied()).collect();
        let pair = self.hotkey.sr25519();
        if !h.commit_reveal_weights_enabled {
            let r = self
                .call(
                    "set_weights",
                    self.chain()
                        .set_weights(&pair, self.netuid, &uids, &values, version_key),
                )
                .await?;
            return Ok(WeightsOutcome::Set {
                block: r.block,
                row,
            });
        }
        // Subtensor's salt is a `Vec<u16>`; eight of them are 128 random bits.
        let mut salt_bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut salt_bytes);
        let salt = salt_bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let commit = WeightsCommit {
            uids,
            values,
            salt,
            version_key,
        };
        let r = self
            .call(
                "commit_weights",
                self.chain().commit_weights(&pair, self.netuid, &commit),
            )
            .await?;
        let reveal_epoch = epoch_index(self.netuid, h.tempo, r.block) + h.commit_reveal_period;
        let mut pending = lock(&self.pending);
        if pending.len() >= MAX_PENDING_COMMITS {
            pending.pop_front();
        }
        pending.push_back(PendingReveal {
            epoch: reveal_epoch,
            commit,
        });
        Ok(WeightsOutcome::Committed {
            block: r.block,
            reveal_epoch,
            row,
        })
    }

    /// Reveals the commitments whose epoch has come (and drops expired ones); returns how many
    /// were revealed.
    pub async fn reveal_due(&self) -> Result<usize, SubnetError> {
        let mg = self.current().await?;
        // The reveal lands in the next block at the earliest: judge by that block's epoch, so a
        // reveal sent in an epoch's last block is not included one epoch too late.
        let now = epoch_index(self.netuid, mg.hparams.tempo, mg.block + 1);
        let due: Vec<PendingReveal> = {
            let mut pending = lock(&self.pending);
            pending.retain(|p| p.epoch >= now);
            let (due, later): (Vec<_>, Vec<_>) = pending.drain(..).partition(|p| p.epoch == now);
            pending.extend(later);
            due
        };
        let mut revealed = 0;
        let pair = self.hotkey.sr25519();
        for p in due {
            self.call(
                "reveal_weights",
                self.chain().reveal_weights(&pair, self.netuid, &p.commit),
            )
            .await?;
            revealed += 1;
        }
        Ok(revealed)
    }
}

/// Subtensor's epoch index of `block` (`(block + netuid + 1) / (tempo + 1)`), as the chain
/// computes it for commit-reveal.
pub fn epoch_index(netuid: u16, tempo: u16, block: u64) -> u64 {
    (block + u64::from(netuid) + 1) / (u64::from(tempo) + 1)
}

/// The served axons of `mg` as the gossip metagraph describes synapses, with the weight `row`
/// gives each (normalized over the row).
pub fn synapse_infos(mg: &SubnetView, row: &[(u16, u16)]) -> Vec<SynapseInfo> {
    mg.peers
        .iter()
        .enumerate()
        .filter_map(|(uid, peer)| {
            let peer = peer.as_ref()?;
            let uid = u16::try_from(uid).ok()?;
            Some(SynapseInfo {
                synapse_key: peer.identity.synapse_key_hex(),
                neuron_key: peer.identity.neuron_key_hex(),
                address: peer.ip.to_string(),
                port: peer.port,
                version: peer.version.to_string(),
                // The chain records the block an axon was served at, not a wall-clock time.
                heartbeat_ms: 0,
                weight: weight_of(row, uid),
            })
        })
        .collect()
}

fn our_row(mg: &SubnetView, hotkey: &Keypair) -> Vec<(u16, u16)> {
    mg.uid_of(&hotkey.account())
        .and_then(|u| mg.neuron(u).map(|n| n.weights.clone()))
        .unwrap_or_default()
}

/// Chain failures keep their kind: a timeout or an unreachable node is `Unavailable` (retry),
/// a refused transaction is `Rejected`; the `SubnetError` stays the source either way.
fn source_error(e: SubnetError) -> SourceError {
    match e {
        e @ (SubnetError::ChainTimeout { .. } | SubnetError::Chain { .. }) => {
            SourceError::unavailable(e)
        }
        e => SourceError::rejected(e),
    }
}

impl MetagraphSource for ChainMetagraph {
    fn kind(&self) -> SourceKind {
        SourceKind::Chain
    }

    /// Served axons, highest weight first, then most recently served.
    async fn synapses(&self, n: usize) -> Result<Vec<SynapseInfo>, SourceError> {
        let mg = self.current().await.map_err(source_error)?;
        let mut rows: Vec<(u64, SynapseInfo)> = synapse_infos(&mg, &our_row(&mg, &self.hotkey))
            .into_iter()
            .zip(mg.peers.iter().flatten())
            .map(|(info, peer)| (peer.block, info))
            .collect();
        rows.sort_by(|a, b| b.1.weight.total_cmp(&a.1.weight).then(b.0.cmp(&a.0)));
        Ok(rows.into_iter().take(n).map(|(_, i)| i).collect())
    }

    /// The chain replaces gossip, so there are no metagraph peers to exchange tables with;
    /// the synapses are the served axons.
    async fn counts(&self) -> Result<PeerCounts, SourceError> {
        let mg = self.current().await.map_err(source_error)?;
        Ok(PeerCounts {
            peers: 0,
            synapses: mg.peers.iter().flatten().count(),
        })
    }

    async fn weights(&self, synapse_keys: &[String]) -> Result<Vec<f32>, SourceError> {
        let mg = self.current().await.map_err(source_error)?;
        let row = our_row(&mg, &self.hotkey);
        Ok(synapse_keys
            .iter()
            .map(|k| uid_of_synapse(&mg, k).map_or(0.0, |uid| weight_of(&row, uid)))
            .collect())
    }

    /// Keys not on the chain are refused (`UnknownSynapse`), since their weight could not be
    /// stored.
    async fn set_weights(
        &self,
        synapse_keys: &[String],
        weights: &[f32],
    ) -> Result<(), SourceError> {
        check_weights(synapse_keys, weights)?;
        let mg = self.refresh().await.map_err(source_error)?;
        let uids = synapse_keys
            .iter()
            .map(|k| {
                uid_of_synapse(&mg, k).ok_or_else(|| SourceError::UnknownSynapse { key: k.clone() })
            })
            .collect::<Result<Vec<u16>, _>>()?;
        self.set_uid_weights(&uids, weights)
            .await
            .map(|_| ())
            .map_err(source_error)
    }
}

/// The uid whose axon serves `synapse_key` (the first one if several do).
pub fn uid_of_synapse(mg: &SubnetView, synapse_key: &str) -> Option<u16> {
    mg.peers
        .iter()
        .position(|p| {
            p.as_ref().is_some_and(|p| {
                p.identity
                    .synapse_key_hex()
                    .eq_ignore_ascii_case(synapse_key)
            })
        })
        .and_then(|i| u16::try_from(i).ok())
}

async fn deadline<T>(
    after: Duration,
    op: &'static str,
    fut: impl Future<Output = Result<T, ChainError>>,
) -> Result<T, SubnetError> {
    tokio::time::timeout(after, fut)
        .await
        .map_err(|_| SubnetError::ChainTimeout { op, after })?
        .map_err(SubnetError::chain(op))
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
