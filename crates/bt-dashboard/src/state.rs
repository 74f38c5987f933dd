//! What the page shows, as the poller builds it and `/api/state` serializes it.

use std::collections::VecDeque;

use serde::Serialize;

use crate::prom::Scrape;

/// A bounded series: the oldest point leaves when a new one comes past the cap.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Series(pub VecDeque<[f64; 2]>);

impl Series {
    pub fn push(&mut self, x: f64, y: f64, cap: usize) {
        if !y.is_finite() {
            return;
        }
        while self.0.len() >= cap.max(1) {
            self.0.pop_front();
        }
        self.0.push_back([x, y]);
    }
}

/// How one neuron sees one peer synapse.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PeerSeen {
    pub synapse_key: String,
    pub calls: f64,
    pub answered: f64,
    /// Mean time to a valid answer, in milliseconds (absent before the first).
    pub latency_ms: Option<f64>,
    /// The router's score of this peer (absent when the router has none).
    pub score: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct NeuronView {
    pub name: String,
    pub metrics_addr: String,
    pub up: bool,
    pub error: Option<String>,
    pub neuron_key: Option<String>,
    pub synapse_key: Option<String>,
    pub axon: Option<String>,
    /// The gossip metagraph's address (`None` for a subnet neuron: its peers are the chain's).
    pub metagraph: Option<String>,
    /// A subnet neuron's netuid, uid, role (`miner`, `validator`) and hotkey (SS58).
    pub netuid: Option<u16>,
    pub uid: Option<u16>,
    pub role: Option<String>,
    pub hotkey: Option<String>,
    pub step: Option<f64>,
    pub epoch: Option<f64>,
    pub local_loss: Option<f64>,
    pub network_loss: Option<f64>,
    pub accuracy: Option<f64>,
    pub steps_per_second: Option<f64>,
    pub synapses_known: Option<f64>,
    pub peers_known: Option<f64>,
    /// Network loss by training step.
    pub loss_curve: Series,
    /// Test accuracy by training step.
    pub accuracy_curve: Series,
    pub peers: Vec<PeerSeen>,
    #[serde(skip)]
    pub last_step: Option<f64>,
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

impl NeuronView {
    /// Takes in one scrape of the neuron's `/metrics`; `history` caps each curve.
    pub fn absorb(&mut self, s: &Scrape, history: usize, max_peers: usize) {
        self.up = true;
        self.error = None;
        if let Some(info) = s.all("bt_neuron_info").next() {
            let get = |k: &str| info.label(k).map(str::to_string);
            self.neuron_key = get("neuron_key");
            self.synapse_key = get("synapse_key");
            self.axon = get("axon");
            self.metagraph = get("metagraph");
            self.netuid = info.label("netuid").and_then(|v| v.parse().ok());
            self.uid = info.label("uid").and_then(|v| v.parse().ok());
            self.role = get("role");
            self.hotkey = get("hotkey");
        }
        let step = s.value("bt_trainer_steps_total", &[]);
        self.step = step;
        self.epoch = s.value("bt_trainer_epoch", &[]);
        self.local_loss = finite(s.value("bt_trainer_loss", &[("kind", "local")]));
        self.network_loss = finite(s.value("bt_trainer_loss", &[("kind", "network")]));
        let accuracy = finite(s.value("bt_trainer_test_accuracy_ratio", &[]));
        self.steps_per_second = finite(s.value("bt_trainer_steps_per_second", &[]));
        self.synapses_known = s.value("bt_metagraph_synapses", &[]);
        self.peers_known = s.value("bt_metagraph_peers", &[]);
        if let Some(step) = step
            && self.last_step != Some(step)
            && step > 0.0
        {
            if let Some(l) = self.network_loss {
                self.loss_curve.push(step, l, history);
            }
            self.last_step = Some(step);
        }
        if let (Some(a), Some(step)) = (accuracy, step)
            && self.accuracy != Some(a)
        {
            self.accuracy_curve.push(step, a, history);
        }
        self.accuracy = accuracy;
        let mut peers: Vec<PeerSeen> = s
            .all("bt_dendrite_peer_calls_total")
            .filter_map(|c| {
                let key = c.label("peer")?;
                let answered = s
                    .value("bt_dendrite_peer_answers_total", &[("peer", key)])
                    .unwrap_or(0.0);
                let secs = s
                    .value("bt_dendrite_peer_answer_seconds_total", &[("peer", key)])
                    .unwrap_or(0.0);
                Some(PeerSeen {
                    synapse_key: key.to_string(),
                    calls: c.value,
                    answered,
                    latency_ms: (answered > 0.0).then(|| 1e3 * secs / answered),
                    score: s.value("bt_trainer_router_score", &[("peer", key)]),
                })
            })
            .collect();
        for sc in s.all("bt_trainer_router_score") {
            if let Some(key) = sc.label("peer")
                && !peers.iter().any(|p| p.synapse_key == key)
            {
                peers.push(PeerSeen {
                    synapse_key: key.to_string(),
                    calls: 0.0,
                    answered: 0.0,
                    latency_ms: None,
                    score: Some(sc.value),
                });
            }
        }
        peers.sort_by(|a, b| a.synapse_key.cmp(&b.synapse_key));
        peers.truncate(max_peers);
        self.peers = peers;
    }

    pub fn down(&mut self, why: String) {
        self.up = false;
        self.error = Some(why);
    }
}

/// One synapse of the metagraph, as an inspection returned it.
#[derive(Debug, Clone, Serialize)]
pub struct SynapseRow {
    pub synapse_key: String,
    pub neuron_key: String,
    pub endpoint: String,
    /// Milliseconds since its heartbeat, when the inspection was made (0 for a chain row).
    pub age_ms: u64,
    /// `gossip` or `chain`.
    pub source: &'static str,
    /// A chain row's block of its last `serve_axon`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served_block: Option<u64>,
}

/// One uid of the chain's subnet.
#[derive(Debug, Clone, Serialize)]
pub struct UidRow {
    pub uid: u16,
    pub hotkey: String,
    pub stake: u64,
    pub incentive: u16,
    pub dividends: u16,
    pub emission: u64,
    pub trust: u16,
    pub consensus: u16,
    pub validator_permit: bool,
}

/// The weights one uid set on the chain (a validator's), as the chain stores them.
#[derive(Debug, Clone, Serialize)]
pub struct WeightRow {
    pub uid: u16,
    /// The block of its last weights (the chain's `last_update`).
    pub set_at: u64,
    /// (uid, weight) with the largest weight scaled to 65535; at most `max_uids` of them.
    pub weights: Vec<(u16, u16)>,
}

/// A uid's values each time they changed (they change at epochs), by block.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UidHistory {
    pub uid: u16,
    pub stake: Series,
    pub incentive: Series,
    pub dividends: Series,
    pub emission: Series,
    pub trust: Series,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ChainView {
    pub endpoint: String,
    pub netuid: u16,
    pub block: Option<u64>,
    pub error: Option<String>,
    pub uids: Vec<UidRow>,
    pub history: Vec<UidHistory>,
    /// Every uid that has set weights, read every `weights_interval` (they change once a
    /// tempo and cost a reading of every uid's row on subtensor).
    pub weights: Vec<WeightRow>,
    /// The block the weights were read at.
    pub weights_block: Option<u64>,
    /// Why the last weights read failed (the rows above are still current).
    pub weights_error: Option<String>,
}

impl ChainView {
    /// Takes in a read of the subnet's rows at `block`; a uid's history gains a point only
    /// when one of its values changed.
    pub fn absorb(&mut self, block: u64, rows: Vec<UidRow>, history: usize, max_uids: usize) {
        self.block = Some(block);
        self.error = None;
        let x = block as f64;
        for r in rows.iter().take(max_uids) {
            let changed = self.uids.iter().find(|o| o.uid == r.uid).is_none_or(|o| {
                (o.stake, o.incentive, o.dividends, o.emission, o.trust)
                    != (r.stake, r.incentive, r.dividends, r.emission, r.trust)
            });
            if !changed {
                continue;
            }
            let h = match self.history.iter().position(|h| h.uid == r.uid) {
                Some(i) => &mut self.history[i],
                None if self.history.len() < max_uids => {
                    self.history.push(UidHistory {
                        uid: r.uid,
                        ..UidHistory::default()
                    });
                    let last = self.history.len() - 1;
                    &mut self.history[last]
                }
                None => continue,
            };
            h.stake.push(x, r.stake as f64, history);
            h.incentive
                .push(x, f64::from(r.incentive) / 65535.0, history);
            h.dividends
                .push(x, f64::from(r.dividends) / 65535.0, history);
            h.emission.push(x, r.emission as f64, history);
            h.trust.push(x, f64::from(r.trust) / 65535.0, history);
        }
        self.uids = rows.into_iter().take(max_uids).collect();
    }
}

/// The whole page's data.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    /// Milliseconds since the Unix epoch of the last poll.
    pub updated_ms: u64,
    pub neurons: Vec<NeuronView>,
    pub synapses: Vec<SynapseRow>,
    /// Which neuron's metagraph the synapse list came from.
    pub synapses_from: Option<String>,
    pub chain: Option<ChainView>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::{PromLimits, parse};

    #[test]
    fn a_scrape_adds_a_point_only_when_the_step_moves() {
        let mut v = NeuronView::default();
        let text = |step: u64| {
            format!(
                "bt_trainer_steps_total {step}\nbt_trainer_loss{{kind=\"network\"}} 0.5\n\
                 bt_dendrite_peer_calls_total{{peer=\"0xb\"}} 4\n\
                 bt_dendrite_peer_answers_total{{peer=\"0xb\"}} 2\n\
                 bt_dendrite_peer_answer_seconds_total{{peer=\"0xb\"}} 0.02\n\
                 bt_trainer_router_score{{peer=\"0xb\"}} 0.75\n"
            )
        };
        v.absorb(&parse(&text(10), PromLimits::default()), 3, 10);
        v.absorb(&parse(&text(10), PromLimits::default()), 3, 10);
        v.absorb(&parse(&text(20), PromLimits::default()), 3, 10);
        assert_eq!(v.loss_curve.0.len(), 2);
        let p = &v.peers[0];
        assert_eq!((p.calls, p.answered, p.score), (4.0, 2.0, Some(0.75)));
        assert!((p.latency_ms.unwrap() - 10.0).abs() < 1e-9);
    }

    #[test]
    fn a_subnet_neuron_shows_its_uid_and_no_metagraph() {
        let mut v = NeuronView::default();
        let text = "bt_neuron_info{neuron_key=\"0xn\",synapse_key=\"0xs\",axon=\"127.0.0.1:1\",\
                    netuid=\"1\",uid=\"2\",role=\"miner\",hotkey=\"5Hot\"} 1\n";
        v.absorb(&parse(text, PromLimits::default()), 3, 10);
        assert_eq!((v.netuid, v.uid), (Some(1), Some(2)));
        assert_eq!(v.role.as_deref(), Some("miner"));
        assert_eq!(v.hotkey.as_deref(), Some("5Hot"));
        assert_eq!(v.metagraph, None, "nothing to inspect");
    }

    #[test]
    fn series_and_chain_history_are_bounded() {
        let mut s = Series::default();
        for i in 0..10 {
            s.push(f64::from(i), 1.0, 4);
        }
        assert_eq!(s.0.len(), 4);
        let mut c = ChainView::default();
        let row = |uid, stake| UidRow {
            uid,
            hotkey: String::new(),
            stake,
            incentive: 0,
            dividends: 0,
            emission: 0,
            trust: 0,
            consensus: 0,
            validator_permit: false,
        };
        c.absorb(1, vec![row(0, 1), row(1, 1), row(2, 1)], 10, 2);
        c.absorb(2, vec![row(0, 1), row(1, 2)], 10, 2);
        assert_eq!(c.uids.len(), 2);
        assert_eq!(c.history.len(), 2);
        assert_eq!(
            c.history[0].stake.0.len(),
            1,
            "unchanged uid gains no point"
        );
        assert_eq!(c.history[1].stake.0.len(), 2);
    }
}
