//! The trainer's metrics (`bt_trainer_*`) and the neuron's identity (`bt_neuron_info`), for the
//! process's metrics registry (the one the axon's `/metrics` serves).
//!
//! The training thread writes plain atomics (an `f64` as its bits); the router's scores are a
//! short list replaced after each step, of which a scrape shows the [`MAX_SCORED_PEERS`]
//! highest.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use bt_interfaces::metrics::{Exposition, Kind, MetricSet};

/// Router scores a scrape shows, highest first: enough for any graph a person reads.
pub const MAX_SCORED_PEERS: usize = 256;

/// What training has done so far, as the trainer reports it.
pub struct TrainerMetrics {
    step: AtomicU64,
    epoch: AtomicU64,
    local_loss: AtomicU64,
    network_loss: AtomicU64,
    distillation_loss: AtomicU64,
    accuracy: AtomicU64,
    tests: AtomicU64,
    steps_per_second: AtomicU64,
    rate: Mutex<Option<(Instant, u64)>>,
    scores: Mutex<Vec<(String, f32)>>,
}

impl Default for TrainerMetrics {
    fn default() -> Self {
        let nan = f64::NAN.to_bits();
        Self {
            step: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            local_loss: AtomicU64::new(nan),
            network_loss: AtomicU64::new(nan),
            distillation_loss: AtomicU64::new(nan),
            accuracy: AtomicU64::new(nan),
            tests: AtomicU64::new(0),
            steps_per_second: AtomicU64::new(0f64.to_bits()),
            rate: Mutex::new(None),
            scores: Mutex::new(Vec::new()),
        }
    }
}

fn load(a: &AtomicU64) -> f64 {
    f64::from_bits(a.load(Relaxed))
}

impl TrainerMetrics {
    /// One logged interval: the step reached and the interval's mean losses.
    pub fn interval(&self, epoch: usize, step: u64, losses: [f64; 3], now: Instant) {
        self.epoch.store(epoch as u64, Relaxed);
        self.step.store(step, Relaxed);
        for (a, v) in [
            &self.local_loss,
            &self.network_loss,
            &self.distillation_loss,
        ]
        .into_iter()
        .zip(losses)
        {
            a.store(v.to_bits(), Relaxed);
        }
        let mut rate = self.rate.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((then, at)) = *rate {
            let secs = now.saturating_duration_since(then).as_secs_f64();
            if secs > 0.0 && step >= at {
                let r = (step - at) as f64 / secs;
                self.steps_per_second.store(r.to_bits(), Relaxed);
            }
        }
        *rate = Some((now, step));
    }

    /// A test-set evaluation after an epoch.
    pub fn tested(&self, accuracy: f64) {
        self.accuracy.store(accuracy.to_bits(), Relaxed);
        self.tests.fetch_add(1, Relaxed);
    }

    /// The router's current scores of its peers.
    pub fn scores(&self, scores: &[(String, f32)]) {
        let mut s = self.scores.lock().unwrap_or_else(|p| p.into_inner());
        s.clear();
        s.extend_from_slice(scores);
    }

    pub fn step(&self) -> u64 {
        self.step.load(Relaxed)
    }
}

impl MetricSet for TrainerMetrics {
    fn write(&self, out: &mut Exposition) {
        out.single(
            "bt_trainer_steps_total",
            Kind::Counter,
            "Training steps done (resumed runs count from their checkpoint).",
            self.step.load(Relaxed) as f64,
        );
        out.single(
            "bt_trainer_epoch",
            Kind::Gauge,
            "The epoch being trained.",
            self.epoch.load(Relaxed) as f64,
        );
        let name = "bt_trainer_loss";
        out.family(
            name,
            Kind::Gauge,
            "Mean loss over the last logged interval, by kind.",
        );
        for (kind, a) in [
            ("local", &self.local_loss),
            ("network", &self.network_loss),
            ("distillation", &self.distillation_loss),
        ] {
            out.sample(name, &[("kind", kind)], load(a));
        }
        out.single(
            "bt_trainer_test_accuracy_ratio",
            Kind::Gauge,
            "Accuracy of the weight average on the test set after the last epoch (NaN before).",
            load(&self.accuracy),
        );
        out.single(
            "bt_trainer_tests_total",
            Kind::Counter,
            "Test-set evaluations done.",
            self.tests.load(Relaxed) as f64,
        );
        out.single(
            "bt_trainer_steps_per_second",
            Kind::Gauge,
            "Training speed over the last logged interval.",
            load(&self.steps_per_second),
        );
        let mut scores = self
            .scores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        scores.truncate(MAX_SCORED_PEERS);
        let name = "bt_trainer_router_score";
        out.family(
            name,
            Kind::Gauge,
            "The router's score of a peer synapse (highest first).",
        );
        for (peer, s) in &scores {
            out.sample(name, &[("peer", peer)], f64::from(*s));
        }
    }
}

/// Who this neuron is and where it listens: one sample of value 1 whose labels a dashboard
/// reads to find the neuron's metagraph (for `inspect`) from its metrics address alone, and a
/// subnet neuron's place on its subnet.
pub struct NeuronInfo {
    pub neuron_key: String,
    pub synapse_key: String,
    pub axon: String,
    /// The gossip metagraph's address; `None` for a subnet neuron (its peers come from the
    /// chain).
    pub metagraph: Option<String>,
    pub subnet: Option<SubnetInfo>,
}

/// A subnet neuron's place: the `netuid`, `uid`, `role` and `hotkey` labels of
/// `bt_neuron_info`.
pub struct SubnetInfo {
    pub netuid: u16,
    pub uid: u16,
    /// `miner` or `validator`.
    pub role: &'static str,
    /// The hotkey's SS58 address.
    pub hotkey: String,
}

impl MetricSet for NeuronInfo {
    fn write(&self, out: &mut Exposition) {
        let name = "bt_neuron_info";
        out.family(
            name,
            Kind::Gauge,
            "This neuron's keys and addresses, and its uid on a subnet (always 1).",
        );
        let mut labels = vec![
            ("neuron_key", self.neuron_key.clone()),
            ("synapse_key", self.synapse_key.clone()),
            ("axon", self.axon.clone()),
        ];
        if let Some(m) = &self.metagraph {
            labels.push(("metagraph", m.clone()));
        }
        if let Some(s) = &self.subnet {
            labels.push(("netuid", s.netuid.to_string()));
            labels.push(("uid", s.uid.to_string()));
            labels.push(("role", s.role.to_string()));
            labels.push(("hotkey", s.hotkey.clone()));
        }
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        out.sample(name, &labels, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn intervals_set_losses_and_speed() {
        let m = TrainerMetrics::default();
        let t0 = Instant::now();
        m.interval(0, 10, [1.0, 2.0, 0.5], t0);
        m.interval(0, 30, [0.5, 1.0, 0.25], t0 + Duration::from_secs(2));
        m.tested(0.9);
        m.scores(&[("0xa".into(), 0.25), ("0xb".into(), 0.75)]);
        let mut out = Exposition::new();
        m.write(&mut out);
        let text = out.into_text();
        assert!(text.contains("bt_trainer_steps_total 30\n"));
        assert!(text.contains("bt_trainer_loss{kind=\"network\"} 1\n"));
        assert!(text.contains("bt_trainer_steps_per_second 10\n"));
        assert!(text.contains("bt_trainer_test_accuracy_ratio 0.9\n"));
        let b = text.find("peer=\"0xb\"").unwrap();
        let a = text.find("peer=\"0xa\"").unwrap();
        assert!(b < a, "highest score first");
    }

    #[test]
    fn a_subnet_neuron_names_its_uid_and_no_metagraph() {
        let info = NeuronInfo {
            neuron_key: "0xn".into(),
            synapse_key: "0xs".into(),
            axon: "127.0.0.1:1".into(),
            metagraph: None,
            subnet: Some(SubnetInfo {
                netuid: 2,
                uid: 7,
                role: "miner",
                hotkey: "5Hot".into(),
            }),
        };
        let mut out = Exposition::new();
        info.write(&mut out);
        let text = out.into_text();
        assert!(text.contains("uid=\"7\""), "{text}");
        assert!(text.contains("role=\"miner\""), "{text}");
        assert!(text.contains("netuid=\"2\""), "{text}");
        assert!(!text.contains("metagraph="), "{text}");
    }
}
