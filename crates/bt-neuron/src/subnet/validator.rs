//! The validator role: the router's peer scores, learned by the runtime's training loop over
//! the subnet's miners, become the validator's weights on the chain once per tempo (DESIGN: a
//! neuron's router scores are exactly the weights a validator sets). Commit-reveal is used when
//! the subnet asks for it.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bt_chain::Metagraph;
use tokio::sync::watch;

use crate::peers::PeerScores;
use crate::role::Role;
use crate::subnet::miner::refresh;
use crate::subnet::neuron::Progress;
use crate::subnet::permit::PermitPolicy;
use crate::subnet::source::{ChainMetagraph, WeightsOutcome, uid_of_synapse};

pub struct Validator {
    pub uid: u16,
    pub permits: Arc<PermitPolicy>,
    pub progress: Progress,
    /// How often the metagraph is re-read and weights considered.
    pub interval: Duration,
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
        loop {
            tick.tick().await;
            let progress = &self.progress;
            let mg = match refresh(&source, &self.permits, self.uid).await {
                Ok(mg) => mg,
                Err(e) => {
                    progress(&format!("Validator: metagraph refresh failed: {e}"));
                    continue;
                }
            };
            let row = router_row(&mg, &scores.borrow(), self.uid);
            progress(&router_line(mg.block, &row));
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

/// The router's scores by uid, ours and peers no longer on the chain left out, sorted by uid.
pub fn router_row(mg: &Metagraph, scores: &PeerScores, own_uid: u16) -> Vec<(u16, f32)> {
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
fn weights_due(mg: &Metagraph, last_set: Option<u64>) -> bool {
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

fn router_line(block: u64, row: &[(u16, f32)]) -> String {
    let mut line = format!("Validator: block {block} router");
    for (uid, w) in row {
        let _ = write!(line, " {uid}:{w:.3}");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_line_lists_scores_by_uid() {
        assert_eq!(
            router_line(7, &[(1, 0.9), (2, 0.0)]),
            "Validator: block 7 router 1:0.900 2:0.000"
        );
    }
}
