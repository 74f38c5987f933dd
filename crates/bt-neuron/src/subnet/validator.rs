//! The validator role: the router's peer scores, learned by the runtime's training loop over
//! the subnet's miners, become the validator's weights on the chain once per tempo (DESIGN: a
//! neuron's router scores are exactly the weights a validator sets). Commit-reveal is used when
//! the subnet asks for it.
//!
//! The task score is the check. The router learns how much a peer's encoding helps the
//! validator's own model, and a model that also sees the image learns from almost any
//! encoding: a miner that barely trained scores about as well as a good one. So every round
//! the validator also asks each miner's task synapse ([`crate::subnet::task`]) to classify a
//! labelled batch and keeps a moving average of the probability it gives the true label; a
//! miner whose average is below [`TASK_FLOOR`] of the best one's gets weight 0. The others
//! keep their router scores unchanged.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bt_chain::AccountId;

use crate::subnet::view::SubnetView;
use bt_dendrite::{CallOptions, Dendrite, Endpoint, Inputs};
use bt_nn::Dataset;
use bt_nn::dataset::NUM_CLASSES;
use bt_tensor::Modality;
use tokio::sync::watch;

use crate::peers::PeerScores;
use crate::role::Role;
use crate::subnet::miner::refresh;
use crate::subnet::neuron::Progress;
use crate::subnet::permit::PermitPolicy;
use crate::subnet::source::{ChainMetagraph, WeightsOutcome, uid_of_synapse};
use crate::subnet::task::{sample_query, score};

/// A miner whose task score is below this fraction of the best miner's gets weight 0.
pub const TASK_FLOOR: f64 = 0.5;
/// Images per task query.
pub const TASK_BATCH: usize = 64;
/// Weight of the newest task score in its moving average.
const TASK_ALPHA: f64 = 0.3;

pub struct Validator {
    pub uid: u16,
    pub permits: Arc<PermitPolicy>,
    pub progress: Progress,
    /// How often the metagraph is re-read, the task asked and weights considered.
    pub interval: Duration,
    /// The runtime's dendrite (the role makes no connections of its own).
    pub dendrite: Dendrite,
    /// Labelled images for the task queries (the test split).
    pub data: Arc<Dataset>,
    /// Deadline of one task query; a later answer scores 0.
    pub query_timeout: Duration,
}

/// Moving averages by uid, forgotten when the uid changes hands (bounded by the subnet's n).
#[derive(Default)]
struct TaskScores {
    by_uid: HashMap<u16, (AccountId, f64)>,
}

impl TaskScores {
    fn update(&mut self, uid: u16, hotkey: AccountId, score: f64) {
        let e = self.by_uid.entry(uid).or_insert((hotkey, score));
        if e.0 != hotkey {
            *e = (hotkey, score);
        }
        e.1 = (1.0 - TASK_ALPHA) * e.1 + TASK_ALPHA * score;
    }

    fn retain_registered(&mut self, mg: &SubnetView) {
        self.by_uid
            .retain(|uid, (hk, _)| mg.hotkey(*uid).as_ref() == Some(hk));
    }

    fn get(&self, uid: u16) -> Option<f64> {
        self.by_uid.get(&uid).map(|(_, s)| *s)
    }
}

impl Role<ChainMetagraph> for Validator {
    /// Prints (through `progress`) every interval
    /// `Validator: block B router 1:0.512 2:0.488` (the router's scores by uid) and, when
    /// weights are due, `Validator: block B set_weights ok 1:65535,2:62100` (or `set_weights
    /// committed …, reveal in epoch E`, `revealed N commitment(s)`, `set_weights failed: …`).
    async fn run(self, source: Arc<ChainMetagraph>, scores: watch::Receiver<PeerScores>) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_set: Option<u64> = None;
        let mut task = TaskScores::default();
        let mut round = 0u64;
        loop {
            tick.tick().await;
            round = round.wrapping_add(1);
            let progress = &self.progress;
            let mg = match refresh(&source, &self.permits, self.uid).await {
                Ok(mg) => mg,
                Err(e) => {
                    progress(&format!("Validator: metagraph refresh failed: {e}"));
                    continue;
                }
            };
            if let Err(e) = self.ask_task(&mg, round, &mut task).await {
                progress(&format!("Validator: task round failed: {e}"));
            }
            let router = router_row(&mg, &scores.borrow(), self.uid);
            let row = checked_row(&router, |uid| task.get(uid));
            progress(&router_line(mg.block, &router, |uid| task.get(uid)));
            if weights_due(&mg, last_set) && row.iter().any(|(_, w)| *w > 0.0) {
                let (uids, w): (Vec<u16>, Vec<f32>) = row.into_iter().unzip();
                match source.set_uid_weights(&uids, &w).await {
                    Ok(outcome) => {
                        last_set = Some(mg.block);
                        progress(&format!(
                            "Validator: block {} {}",
                            mg.block,
                            set_line(&outcome)
                        ));
                    }
                    Err(e) => progress(&format!(
                        "Validator: block {} set_weights failed: {e}",
                        mg.block
                    )),
                }
            }
            if mg.hparams.commit_reveal_weights_enabled {
                match source.reveal_due().await {
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
}

impl Validator {
    /// Asks every other served uid's task synapse to classify one labelled batch and folds the
    /// scores into the moving averages.
    async fn ask_task(
        &self,
        mg: &SubnetView,
        round: u64,
        task: &mut TaskScores,
    ) -> Result<(), crate::subnet::error::SubnetError> {
        task.retain_registered(mg);
        let targets: Vec<(u16, Endpoint)> = mg
            .peers
            .iter()
            .enumerate()
            .filter_map(|(uid, peer)| {
                let uid = u16::try_from(uid).ok().filter(|u| *u != self.uid)?;
                let p = peer.as_ref()?;
                let key = p.identity.neuron_key_hex();
                Some((uid, Endpoint::new(p.ip.to_string(), p.port, key)))
            })
            .collect();
        if targets.is_empty() {
            return Ok(());
        }
        let data = self.data.clone();
        let query = tokio::task::spawn_blocking(move || sample_query(&data, TASK_BATCH, round))
            .await
            .map_err(|e| crate::subnet::error::SubnetError::Data(format!("sampling: {e}")))??;
        let opts = CallOptions {
            timeout: Some(self.query_timeout),
            output_dims: Some(vec![NUM_CLASSES]),
            ..CallOptions::default()
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
        for ((uid, _), reply) in targets.iter().zip(&replies) {
            if let Some(hotkey) = mg.hotkey(*uid) {
                task.update(*uid, hotkey, score(&reply.outcome, &query.labels));
            }
        }
        Ok(())
    }
}

/// The router's row with the task's veto: a uid without a task score yet, or below
/// [`TASK_FLOOR`] of the best one, gets 0; the others keep their router score.
pub fn checked_row(router: &[(u16, f32)], task: impl Fn(u16) -> Option<f64>) -> Vec<(u16, f32)> {
    let best = router
        .iter()
        .filter_map(|(uid, _)| task(*uid))
        .fold(0.0f64, f64::max);
    router
        .iter()
        .map(|&(uid, w)| {
            let passes = task(uid).is_some_and(|t| best > 0.0 && t >= TASK_FLOOR * best);
            (uid, if passes { w } else { 0.0 })
        })
        .collect()
}

/// The router's scores by uid, ours and peers no longer on the chain left out, sorted by uid.
pub fn router_row(mg: &SubnetView, scores: &PeerScores, own_uid: u16) -> Vec<(u16, f32)> {
    let mut row: Vec<(u16, f32)> = scores
        .iter()
        .filter_map(|(key, w)| {
            let uid = uid_of_synapse(mg, key)?;
            (uid != own_uid && w.is_finite() && *w >= 0.0).then_some((uid, *w))
        })
        .collect();
    row.sort_unstable_by_key(|(uid, _)| *uid);
    row.dedup_by_key(|(uid, _)| *uid);
    row
}

/// Once per tempo, and never inside the rate limit.
fn weights_due(mg: &SubnetView, last_set: Option<u64>) -> bool {
    let every = u64::from(mg.hparams.tempo).max(mg.hparams.weights_set_rate_limit);
    last_set.is_none_or(|b| mg.block.saturating_sub(b) >= every)
}

fn set_line(outcome: &WeightsOutcome) -> String {
    match outcome {
        WeightsOutcome::Set { .. } => format!("set_weights ok {}", outcome.row_text()),
        WeightsOutcome::Committed { reveal_epoch, .. } => format!(
            "set_weights committed {}, reveal in epoch {reveal_epoch}",
            outcome.row_text()
        ),
    }
}

/// `Validator: block B router 1:0.512 2:0.488 task 1:0.903 2:0.112`.
fn router_line(block: u64, row: &[(u16, f32)], task: impl Fn(u16) -> Option<f64>) -> String {
    let mut line = format!("Validator: block {block} router");
    for (uid, w) in row {
        let _ = write!(line, " {uid}:{w:.3}");
    }
    line.push_str(" task");
    for (uid, _) in row {
        match task(*uid) {
            Some(t) => {
                let _ = write!(line, " {uid}:{t:.3}");
            }
            None => {
                let _ = write!(line, " {uid}:-");
            }
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_line_lists_scores_by_uid() {
        let task = |uid: u16| (uid == 1).then_some(0.75);
        assert_eq!(
            router_line(7, &[(1, 0.9), (2, 0.0)], task),
            "Validator: block 7 router 1:0.900 2:0.000 task 1:0.750 2:-"
        );
    }

    #[test]
    fn the_task_vetoes_a_miner_far_below_the_best_and_leaves_the_rest() {
        let router = [(1, 0.4), (2, 0.5), (3, 0.3)];
        let task = |uid: u16| match uid {
            1 => Some(0.9),
            2 => Some(0.1),
            _ => None,
        };
        assert_eq!(
            checked_row(&router, task),
            vec![(1, 0.4), (2, 0.0), (3, 0.0)]
        );
        let all_pass = |_| Some(0.8);
        assert_eq!(checked_row(&router, all_pass), router.to_vec());
    }
}
