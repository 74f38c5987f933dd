//! The validator: every round it sends one labelled MNIST batch to every other served uid,
//! scores the answers, keeps an exponential moving average per uid, and every tempo puts the
//! normalized averages on the chain as its weights.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bt_chain::{AccountId, Metagraph};
use bt_dendrite::{CallOptions, Dendrite, DendriteConfig, Endpoint, Inputs, Outcome};
use bt_nn::dataset::NUM_CLASSES;
use bt_nn::{Dataset, MnistModel};
use bt_tensor::Modality;

use crate::subnet::error::SubnetError;
use crate::subnet::neuron::{NeuronSettings, Serving};
use crate::subnet::source::WeightsOutcome;
use crate::subnet::task::{MAX_BATCH, sample_query, score};

pub struct ValidatorConfig {
    pub neuron: NeuronSettings,
    /// Labelled images to query with (normally the MNIST test split), 784 values per row.
    pub data: Arc<Dataset>,
    /// Images per query.
    pub batch_size: usize,
    /// Time between rounds (one query to every miner per round).
    pub round_interval: Duration,
    /// Deadline of each query; a later answer scores 0.
    pub query_timeout: Duration,
    /// Weight of the newest score in the moving average, in (0, 1].
    pub ema_alpha: f64,
    /// Seeds the choice of images (round r uses `seed + r`).
    pub seed: u64,
}

impl ValidatorConfig {
    /// 64 images per round every 12 s, 10 s deadline, α = 0.3.
    pub fn new(neuron: NeuronSettings, data: Arc<Dataset>) -> Self {
        Self {
            neuron,
            data,
            batch_size: 64,
            round_interval: Duration::from_secs(12),
            query_timeout: Duration::from_secs(10),
            ema_alpha: 0.3,
            seed: 0,
        }
    }

    fn validate(&self) -> Result<(), SubnetError> {
        if self.data.dim() != bt_nn::mnist::IMAGE_DIM {
            return Err(SubnetError::Config(format!(
                "validation data has {} values per example, the MNIST task needs 784",
                self.data.dim()
            )));
        }
        if self.batch_size == 0 || self.batch_size > MAX_BATCH.min(self.data.len()) {
            return Err(SubnetError::Config(format!(
                "batch size {} must be in 1..={}",
                self.batch_size,
                MAX_BATCH.min(self.data.len())
            )));
        }
        if !(self.ema_alpha > 0.0 && self.ema_alpha <= 1.0) {
            return Err(SubnetError::Config(format!(
                "ema_alpha {} must be in (0, 1]",
                self.ema_alpha
            )));
        }
        if self.round_interval.is_zero() || self.query_timeout.is_zero() {
            return Err(SubnetError::Config(
                "round interval and query timeout must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// Moving averages by uid, forgotten when the uid changes hands (bounded by the subnet's n).
#[derive(Default)]
struct Scores {
    by_uid: HashMap<u16, (AccountId, f64)>,
}

impl Scores {
    fn update(&mut self, uid: u16, hotkey: AccountId, score: f64, alpha: f64) {
        let e = self.by_uid.entry(uid).or_insert((hotkey, 0.0));
        if e.0 != hotkey {
            *e = (hotkey, 0.0);
        }
        e.1 = (1.0 - alpha) * e.1 + alpha * score;
    }

    fn retain_registered(&mut self, mg: &Metagraph) {
        self.by_uid
            .retain(|uid, (hk, _)| mg.hotkeys.get(usize::from(*uid)) == Some(hk));
    }

    fn sorted(&self) -> Vec<(u16, f64)> {
        let mut v: Vec<(u16, f64)> = self.by_uid.iter().map(|(u, (_, s))| (*u, *s)).collect();
        v.sort_unstable_by_key(|(u, _)| *u);
        v
    }
}

/// Runs a validator until `shutdown` resolves. It serves `model` on its own axon like a miner
/// does (that axon is what binds its Ed25519 key to its hotkey on the chain, so miners can
/// recognise it), then runs rounds.
///
/// Prints (through `progress`):
/// - `Validator: uid U serving on IP:PORT netuid N neuron_key 0x… synapse_key 0x…` once;
/// - `Validator: block B scores 1:0.912 2:0.431(timeout) …` every round: the moving average
///   per uid, with the reason when this round's query failed;
/// - `Validator: block B set_weights ok 1:5890,2:32940,3:65535` (uid:u16 weight; or
///   `set_weights committed …, reveal in epoch E`,
///   `revealed N commitment(s)`, `set_weights failed: …`) when weights are due, once per tempo.
pub async fn run_validator(
    cfg: ValidatorConfig,
    model: MnistModel,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), SubnetError> {
    cfg.validate()?;
    let (serving, neuron_key) = Serving::start("Validator", cfg.neuron, model).await?;
    let dendrite = Dendrite::new(neuron_key, DendriteConfig::default());
    let v = Rounds {
        s: &serving,
        dendrite,
        data: cfg.data,
        batch_size: cfg.batch_size,
        query_timeout: cfg.query_timeout,
        alpha: cfg.ema_alpha,
        seed: cfg.seed,
    };
    let result = v.run(cfg.round_interval, shutdown).await;
    serving.stop().await;
    result
}

struct Rounds<'a> {
    s: &'a Serving,
    dendrite: Dendrite,
    data: Arc<Dataset>,
    batch_size: usize,
    query_timeout: Duration,
    alpha: f64,
    seed: u64,
}

impl Rounds<'_> {
    async fn run(
        &self,
        round_interval: Duration,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), SubnetError> {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(round_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut scores = Scores::default();
        let mut last_set: Option<u64> = None;
        let mut round = 0u64;
        loop {
            round = round.wrapping_add(1);
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                _ = tick.tick() => {}
            }
            let progress = &self.s.progress;
            let mg = match self.s.refresh().await {
                Ok(mg) => mg,
                Err(e @ SubnetError::NotRegistered { .. }) => return Err(e),
                Err(e) => {
                    progress(&format!("Validator: metagraph refresh failed: {e}"));
                    continue;
                }
            };
            let failures = self
                .round(&mg, self.seed.wrapping_add(round), &mut scores)
                .await?;
            progress(&score_line(mg.block, &scores.sorted(), &failures));
            if weights_due(&mg, last_set) {
                match self.set_weights(&scores).await {
                    Ok(Some(line)) => {
                        last_set = Some(mg.block);
                        progress(&format!("Validator: block {} {line}", mg.block));
                    }
                    Ok(None) => {}
                    Err(e) => progress(&format!(
                        "Validator: block {} set_weights failed: {e}",
                        mg.block
                    )),
                }
            }
            if mg.hparams.commit_reveal_weights_enabled {
                match self.s.source.reveal_due().await {
                    Ok(0) => {}
                    Ok(n) => progress(&format!(
                        "Validator: block {} revealed {n} commitment(s)",
                        mg.block
                    )),
                    Err(e) => progress(&format!("Validator: reveal failed: {e}")),
                }
            }
        }
    }

    /// Queries every other served uid once; returns the failure reason per uid.
    async fn round(
        &self,
        mg: &Metagraph,
        seed: u64,
        scores: &mut Scores,
    ) -> Result<HashMap<u16, String>, SubnetError> {
        scores.retain_registered(mg);
        let targets: Vec<(u16, Endpoint)> = mg
            .axons
            .iter()
            .enumerate()
            .filter_map(|(uid, axon)| {
                let uid = u16::try_from(uid).ok().filter(|u| *u != self.s.uid)?;
                let a = axon.as_ref()?;
                let ep = Endpoint::new(
                    a.ip_addr().to_string(),
                    a.port,
                    a.identity.synapse_key_hex(),
                );
                Some((uid, ep))
            })
            .collect();
        if targets.is_empty() {
            return Ok(HashMap::new());
        }
        let (data, batch) = (self.data.clone(), self.batch_size);
        let query = tokio::task::spawn_blocking(move || sample_query(&data, batch, seed))
            .await
            .map_err(|e| SubnetError::Data(format!("sampling task: {e}")))??;
        let opts = CallOptions {
            timeout: Some(self.query_timeout),
            output_dims: Some(vec![NUM_CLASSES]),
        };
        let endpoints = targets.iter().map(|(_, ep)| ep.clone());
        let replies = self
            .dendrite
            .forward(
                Modality::Image,
                Inputs::broadcast(endpoints, query.images),
                &opts,
            )
            .await?;
        let mut failures = HashMap::new();
        for ((uid, _), reply) in targets.iter().zip(&replies) {
            let s = score(&reply.outcome, &query.labels);
            if let Some(hotkey) = mg.hotkeys.get(usize::from(*uid)) {
                scores.update(*uid, *hotkey, s, self.alpha);
            }
            if !reply.outcome.is_ok() {
                failures.insert(*uid, short(&reply.outcome));
            }
        }
        Ok(failures)
    }

    /// Normalized moving averages onto the chain; `None` when there is nothing to weight yet.
    async fn set_weights(&self, scores: &Scores) -> Result<Option<String>, SubnetError> {
        let sorted = scores.sorted();
        if sorted.iter().all(|(_, s)| *s <= 0.0) {
            return Ok(None);
        }
        let uids: Vec<u16> = sorted.iter().map(|(u, _)| *u).collect();
        let w: Vec<f32> = sorted.iter().map(|(_, s)| *s as f32).collect();
        let outcome = self.s.source.set_uid_weights(&uids, &w).await?;
        Ok(Some(match &outcome {
            WeightsOutcome::Set { .. } => format!("set_weights ok {}", outcome.row_text()),
            WeightsOutcome::Committed { reveal_epoch, .. } => format!(
                "set_weights committed {}, reveal in epoch {reveal_epoch}",
                outcome.row_text()
            ),
        }))
    }
}

/// Once per tempo, and never inside the rate limit.
fn weights_due(mg: &Metagraph, last_set: Option<u64>) -> bool {
    let every = u64::from(mg.hparams.tempo).max(mg.hparams.weights_set_rate_limit);
    last_set.is_none_or(|b| mg.block.saturating_sub(b) >= every)
}

fn short(o: &Outcome) -> String {
    match o {
        Outcome::Ok(_) => "ok".into(),
        Outcome::Timeout => "timeout".into(),
        Outcome::Unavailable(_) => "unavailable".into(),
        Outcome::Rejected { code, .. } => format!("rejected {code:?}"),
        Outcome::BadResponse(_) => "bad response".into(),
    }
}

fn score_line(block: u64, scores: &[(u16, f64)], failures: &HashMap<u16, String>) -> String {
    let mut line = format!("Validator: block {block} scores");
    for (uid, s) in scores {
        let _ = write!(line, " {uid}:{s:.3}");
        if let Some(why) = failures.get(uid) {
            let _ = write!(line, "({why})");
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_resets_when_a_uid_changes_hands() {
        let (a, b) = (AccountId([1; 32]), AccountId([2; 32]));
        let mut s = Scores::default();
        s.update(1, a, 1.0, 0.5);
        s.update(1, a, 1.0, 0.5);
        assert!((s.sorted()[0].1 - 0.75).abs() < 1e-12);
        s.update(1, b, 1.0, 0.5);
        assert!((s.sorted()[0].1 - 0.5).abs() < 1e-12);
    }

    #[test]
    fn score_line_names_failures() {
        let mut f = HashMap::new();
        f.insert(2, "timeout".to_string());
        assert_eq!(
            score_line(7, &[(1, 0.9), (2, 0.0)], &f),
            "Validator: block 7 scores 1:0.900 2:0.000(timeout)"
        );
    }
}
