//! N metagraph gossip nodes in one process, each behind a [`FaultProxy`] so it can be cut off.

use std::time::Duration;

use bt_crypto::NeuronKey;
use bt_interfaces::SynapseInfo;
use bt_metagraph::{MetagraphConfig, MetagraphHandle, MetagraphNode, OwnSynapse};

use crate::{FaultProxy, HarnessError, Testnet};

/// Deterministic key material for node `index` (so a restart keeps its identity).
pub fn neuron_key(index: usize) -> NeuronKey {
    NeuronKey::from_seed(seed(index, 0x4e))
}

/// The synapse key node `index` announces.
pub fn synapse_key(index: usize) -> String {
    synapse_secret(index).public_hex()
}

/// The key pair of the synapse node `index` announces (it signs the synapse proof).
pub fn synapse_secret(index: usize) -> NeuronKey {
    NeuronKey::from_seed(seed(index, 0x53))
}

fn seed(index: usize, tag: u8) -> [u8; 32] {
    let mut s = [tag; 32];
    s[..8].copy_from_slice(&(index as u64).to_le_bytes());
    s
}

/// A set of gossip nodes; node `i` bootstraps to node 0 (node 0 to nobody) unless started
/// with [`MetagraphTestnet::start_with`].
pub struct MetagraphTestnet {
    net: Testnet<MetagraphHandle>,
    proxies: Vec<FaultProxy>,
    config: MetagraphConfig,
}

impl MetagraphTestnet {
    /// `n` nodes on loopback gossiping every `interval`, TTL = `ttl_intervals` intervals.
    pub async fn start(
        n: usize,
        interval: Duration,
        ttl_intervals: u32,
    ) -> Result<Self, HarnessError> {
        Self::start_with(n, MetagraphConfig::loopback(interval, ttl_intervals)).await
    }

    /// `n` nodes from a configuration template (its `listen`, `advertise_*` and `bootstrap`
    /// are set per node).
    pub async fn start_with(n: usize, config: MetagraphConfig) -> Result<Self, HarnessError> {
        let mut me = Self {
            net: Testnet::default(),
            proxies: Vec::new(),
            config,
        };
        for i in 0..n {
            me.add_node(i).await?;
        }
        Ok(me)
    }

    /// The address others dial for node `index` (its proxy).
    pub fn addr(&self, index: usize) -> Option<String> {
        self.proxies.get(index).map(|p| p.addr().to_string())
    }

    async fn add_node(&mut self, index: usize) -> Result<(), HarnessError> {
        let proxy = FaultProxy::bind(index as u64 + 1).await?;
        let mut cfg = self.config.clone();
        cfg.advertise_host = Some("127.0.0.1".to_owned());
        cfg.advertise_port = Some(proxy.addr().port());
        cfg.bootstrap = if index == 0 {
            Vec::new()
        } else {
            self.addr(0).into_iter().collect()
        };
        cfg.seed = Some(index as u64 + 1);
        let handle = start_node(index, cfg).await?;
        proxy.set_target(handle.local_addr());
        if index < self.proxies.len() {
            self.proxies[index] = proxy;
            self.net.replace(index, handle).await;
        } else {
            self.proxies.push(proxy);
            self.net.push(handle);
        }
        Ok(())
    }

    /// Starts one more node (bootstrapping to node 0); returns its index.
    pub async fn add(&mut self) -> Result<usize, HarnessError> {
        let index = self.proxies.len();
        self.add_node(index).await?;
        Ok(index)
    }

    /// Stops node `index` and closes its address.
    pub async fn kill(&mut self, index: usize) {
        if let Some(p) = self.proxies.get(index) {
            p.cut();
        }
        self.net.kill(index).await;
    }

    /// Restarts node `index` with the same key and synapse, on a new address.
    pub async fn restart(&mut self, index: usize) -> Result<(), HarnessError> {
        self.kill(index).await;
        self.add_node(index).await
    }

    /// Makes node `index` unreachable (inbound) without stopping it.
    pub fn cut(&self, index: usize) {
        if let Some(p) = self.proxies.get(index) {
            p.cut();
        }
    }

    /// Undoes [`Self::cut`].
    pub fn heal(&self, index: usize) {
        if let Some(p) = self.proxies.get(index) {
            p.heal();
        }
    }

    /// The running node `index`.
    pub fn node(&self, index: usize) -> Option<&MetagraphHandle> {
        self.net.get(index)
    }

    /// Indices of running nodes.
    pub fn alive(&self) -> Vec<usize> {
        self.net.alive().map(|(i, _)| i).collect()
    }

    /// The seeds' `nP|nS` of node `index`.
    pub fn counts(&self, index: usize) -> Option<(usize, usize)> {
        self.node(index).map(MetagraphHandle::counts)
    }

    /// Node `index`'s table.
    pub fn snapshot(&self, index: usize) -> Result<Vec<SynapseInfo>, HarnessError> {
        self.node(index)
            .map(MetagraphHandle::table_snapshot)
            .ok_or(HarnessError::NotRunning { index })
    }

    /// True when node `index` holds exactly the synapses of the given nodes.
    pub fn holds_exactly(&self, index: usize, nodes: &[usize]) -> bool {
        let Ok(table) = self.snapshot(index) else {
            return false;
        };
        let mut want: Vec<String> = nodes.iter().map(|i| synapse_key(*i)).collect();
        want.sort();
        let have: Vec<String> = table.into_iter().map(|s| s.synapse_key).collect();
        have == want
    }

    /// True when every running node holds exactly the synapses of all running nodes.
    pub fn fully_connected(&self) -> bool {
        let alive = self.alive();
        alive.iter().all(|i| self.holds_exactly(*i, &alive))
    }

    /// Stops everything.
    pub async fn shutdown(self) {
        self.net.shutdown().await;
    }
}

/// Starts a node with the harness identity of `index`.
pub async fn start_node(
    index: usize,
    cfg: MetagraphConfig,
) -> Result<MetagraphHandle, HarnessError> {
    let key = neuron_key(index);
    let own = OwnSynapse::proven(&synapse_secret(index), &key.public_hex(), "127.0.0.1", 9000)
        .map_err(|e| HarnessError::Start {
            index,
            reason: e.to_string(),
        })?;
    MetagraphNode::start(cfg, key, vec![own])
        .await
        .map_err(|e| HarnessError::Start {
            index,
            reason: e.to_string(),
        })
}
