//! The poller: reads every source on a timer and publishes the page's data as one JSON
//! string on a `watch` (one slot: a slow reader only ever gets the newest).

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bt_interfaces::Chain;
use tokio::sync::watch;

use crate::config::DashboardConfig;
use crate::prom;
use crate::scrape::fetch_metrics;
use crate::state::{ChainView, NeuronView, Snapshot, SynapseRow, UidRow, WeightRow};

/// Peers listed per neuron in the snapshot.
const MAX_PEERS_SHOWN: usize = 256;

pub(crate) struct Poller {
    pub(crate) cfg: DashboardConfig,
    pub(crate) targets: Arc<Mutex<Vec<(String, String)>>>,
    pub(crate) chain: Option<Arc<dyn Chain>>,
    pub(crate) out: watch::Sender<Arc<String>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Poller {
    pub(crate) async fn run(self) {
        let mut snap = Snapshot {
            chain: self.chain.as_ref().map(|c| ChainView {
                endpoint: c.endpoint().to_string(),
                netuid: self.cfg.netuid,
                ..ChainView::default()
            }),
            ..Snapshot::default()
        };
        let mut tick = tokio::time::interval(self.cfg.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_inspect: Option<tokio::time::Instant> = None;
        let mut last_weights: Option<tokio::time::Instant> = None;
        let mut turn = 0usize;
        loop {
            tokio::select! {
                () = self.out.closed() => return,
                _ = tick.tick() => {}
            }
            let targets = self
                .targets
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            self.scrape_all(&mut snap, &targets).await;
            let due = last_inspect.is_none_or(|t| t.elapsed() >= self.cfg.inspect_interval);
            if due && !snap.neurons.is_empty() {
                last_inspect = Some(tokio::time::Instant::now());
                turn = (turn + 1) % snap.neurons.len();
                self.inspect(&mut snap, turn).await;
            }
            if let (Some(chain), Some(view)) = (&self.chain, snap.chain.as_mut()) {
                let served = self.read_chain(chain.as_ref(), view).await;
                if served.is_some()
                    && last_weights.is_none_or(|t| t.elapsed() >= self.cfg.weights_interval)
                {
                    last_weights = Some(tokio::time::Instant::now());
                    self.read_weights(chain.as_ref(), view).await;
                }
                // Subnet neurons have no gossip metagraph: their peers are the chain's axons.
                if let Some(rows) = served
                    && snap.neurons.iter().all(|n| n.metagraph.is_none())
                {
                    snap.synapses = rows;
                    snap.synapses_from = Some(format!("{}, subnet {}", view.endpoint, view.netuid));
                }
            }
            snap.updated_ms = now_ms();
            match serde_json::to_string(&snap) {
                Ok(json) => {
                    self.out.send_replace(Arc::new(json));
                }
                Err(e) => tracing::warn!(error = %e, "dashboard snapshot did not serialize"),
            }
        }
    }

    async fn scrape_all(&self, snap: &mut Snapshot, targets: &[(String, String)]) {
        for (name, addr) in targets.iter().take(self.cfg.max_neurons) {
            if !snap.neurons.iter().any(|n| &n.metrics_addr == addr) {
                snap.neurons.push(NeuronView {
                    name: name.clone(),
                    metrics_addr: addr.clone(),
                    ..NeuronView::default()
                });
            }
        }
        // By name as a person counts (n2 before n10), whatever order they were added in.
        snap.neurons
            .sort_by(|a, b| (a.name.len(), &a.name).cmp(&(b.name.len(), &b.name)));
        let reads = snap.neurons.iter().map(|n| {
            fetch_metrics(
                &n.metrics_addr,
                self.cfg.source_timeout,
                self.cfg.max_scrape_bytes,
            )
        });
        let answers = futures_util::future::join_all(reads).await;
        for (view, answer) in snap.neurons.iter_mut().zip(answers) {
            match answer {
                Ok(text) => view.absorb(
                    &prom::parse(&text, self.cfg.prom_limits),
                    self.cfg.history,
                    MAX_PEERS_SHOWN,
                ),
                Err(e) => view.down(e.to_string()),
            }
        }
    }

    /// Reads the metagraph through one neuron's inspect path (the same one `bittensor
    /// metagraph inspect` uses).
    async fn inspect(&self, snap: &mut Snapshot, turn: usize) {
        let Some(addr) = snap.neurons.get(turn).and_then(|n| n.metagraph.clone()) else {
            return;
        };
        match bt_metagraph::inspect(&addr, self.cfg.source_timeout).await {
            Ok(rows) => {
                let now = now_ms();
                snap.synapses = rows
                    .into_iter()
                    .take(self.cfg.max_synapses)
                    .map(|s| SynapseRow {
                        age_ms: s.age_ms(now),
                        endpoint: format!("{}:{}", s.address, s.port),
                        synapse_key: s.synapse_key,
                        neuron_key: s.neuron_key,
                        source: "gossip",
                        served_block: None,
                    })
                    .collect();
                snap.synapses_from = Some(addr);
            }
            // Throttled or gone: keep the last list.
            Err(e) => tracing::debug!(%addr, error = %e, "inspection failed"),
        }
    }

    /// Reads the subnet's rows into `view`; the axons served on it (with the keys published
    /// beside them, as stored), when the read succeeded.
    async fn read_chain(&self, chain: &dyn Chain, view: &mut ChainView) -> Option<Vec<SynapseRow>> {
        let timeout = self.cfg.source_timeout;
        let read = async {
            let mg = chain.metagraph(self.cfg.netuid, false).await?;
            Ok::<_, bt_interfaces::ChainError>(mg)
        };
        match tokio::time::timeout(timeout, read).await {
            Ok(Ok(mg)) => {
                let rows = mg
                    .neurons
                    .iter()
                    .map(|n| UidRow {
                        uid: n.uid,
                        hotkey: n.hotkey.to_ss58(),
                        stake: n.stake,
                        incentive: n.incentive,
                        dividends: n.dividends,
                        emission: n.emission,
                        trust: n.trust,
                        consensus: n.consensus,
                        validator_permit: n.validator_permit,
                    })
                    .collect();
                view.absorb(mg.block, rows, self.cfg.history, self.cfg.max_uids);
                Some(served_axons(&mg, self.cfg.max_synapses))
            }
            Ok(Err(e)) => {
                view.error = Some(e.to_string());
                None
            }
            Err(_) => {
                view.error = Some(format!("no answer within {timeout:?}"));
                None
            }
        }
    }
}

impl Poller {
    /// Reads the weights every uid set into `view`; a failure is noted beside them and keeps
    /// the previous ones (the rows were read without them).
    async fn read_weights(&self, chain: &dyn Chain, view: &mut ChainView) {
        let timeout = self.cfg.source_timeout;
        match tokio::time::timeout(timeout, chain.metagraph(self.cfg.netuid, true)).await {
            Ok(Ok(mg)) => {
                view.weights = weight_rows(&mg, self.cfg.max_uids);
                view.weights_block = Some(mg.block);
                view.weights_error = None;
            }
            Ok(Err(e)) => view.weights_error = Some(e.to_string()),
            Err(_) => view.weights_error = Some(format!("no answer within {timeout:?}")),
        }
    }
}

/// The uids that set weights, each row and their number bounded by `max`.
fn weight_rows(mg: &bt_interfaces::SubnetMetagraph, max: usize) -> Vec<WeightRow> {
    mg.neurons
        .iter()
        .filter(|n| !n.weights.is_empty())
        .take(max)
        .map(|n| WeightRow {
            uid: n.uid,
            set_at: n.last_update,
            weights: n.weights.iter().take(max).copied().collect(),
        })
        .collect()
}

fn key_hex(key: &[u8; 32]) -> String {
    let mut out = String::with_capacity(66);
    out.push_str("0x");
    for b in key {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The axons of a subnet that published tensor keys, as the metagraph panel lists synapses.
fn served_axons(mg: &bt_interfaces::SubnetMetagraph, max: usize) -> Vec<SynapseRow> {
    mg.neurons
        .iter()
        .filter_map(|n| {
            let axon = n.axon.as_ref()?;
            let id = axon.identity.as_ref()?;
            Some(SynapseRow {
                synapse_key: key_hex(&id.synapse_key),
                neuron_key: key_hex(&id.neuron_key),
                endpoint: std::net::SocketAddr::new(axon.ip, axon.port).to_string(),
                age_ms: 0,
                source: "chain",
                served_block: Some(axon.block),
            })
        })
        .take(max)
        .collect()
}

/// The snapshot before the first poll.
pub(crate) fn empty_json() -> Arc<String> {
    Arc::new(serde_json::to_string(&Snapshot::default()).unwrap_or_else(|_| "{}".into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bt_crypto::wallet::AccountId;
    use bt_interfaces::{NeuronRow, SubnetMetagraph};

    fn uid(uid: u16, weights: Vec<(u16, u16)>) -> NeuronRow {
        NeuronRow {
            uid,
            hotkey: AccountId([0; 32]),
            coldkey: AccountId([0; 32]),
            stake: 0,
            rank: 0,
            trust: 0,
            consensus: 0,
            incentive: 0,
            dividends: 0,
            emission: 0,
            validator_trust: 0,
            validator_permit: false,
            active: true,
            last_update: 7,
            block_at_registration: 0,
            axon: None,
            weights,
            bonds: Vec::new(),
        }
    }

    #[test]
    fn weight_rows_list_only_uids_that_set_weights_and_are_bounded() {
        let many: Vec<(u16, u16)> = (0..10).map(|u| (u, 65535)).collect();
        let mg = SubnetMetagraph {
            netuid: 1,
            block: 9,
            owner_coldkey: None,
            neurons: vec![
                uid(0, many.clone()),
                uid(1, Vec::new()),
                uid(2, many.clone()),
                uid(3, many),
            ],
        };
        let rows = weight_rows(&mg, 2);
        assert_eq!(rows.iter().map(|r| r.uid).collect::<Vec<_>>(), [0, 2]);
        assert!(rows.iter().all(|r| r.weights.len() == 2 && r.set_at == 7));
    }
}
