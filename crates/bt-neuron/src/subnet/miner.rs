//! The miner role: keeps the permit set its axon enforces current and reports. It trains like
//! every neuron (the runtime's loop) and keeps the router's scores to itself: only validators
//! set weights.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::peers::PeerScores;
use crate::role::Role;
use crate::subnet::error::SubnetError;
use crate::subnet::neuron::Progress;
use crate::subnet::permit::PermitPolicy;
use crate::subnet::source::ChainMetagraph;

pub struct Miner {
    pub uid: u16,
    pub permits: Arc<PermitPolicy>,
    pub progress: Progress,
    /// How often the metagraph (and so the permit set) is re-read, and a status line printed.
    pub interval: Duration,
}

impl Role<ChainMetagraph> for Miner {
    /// Prints (through `progress`) every interval:
    /// `Miner: block B uid U permits K refused R incentive I`; `Miner: metagraph refresh
    /// failed: …` when the chain does not answer (the last permit set stays in force), and
    /// `Miner: …not registered…` if the hotkey lost its uid.
    async fn run(self, source: Arc<ChainMetagraph>, _scores: watch::Receiver<PeerScores>) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let mg = match refresh(&source, &self.permits, self.uid).await {
                Ok(mg) => mg,
                Err(e) => {
                    (self.progress)(&format!("Miner: metagraph refresh failed: {e}"));
                    continue;
                }
            };
            let incentive = mg
                .neuron(self.uid)
                .map_or(0.0, |n| f64::from(n.incentive) / 65_535.0);
            (self.progress)(&format!(
                "Miner: block {} uid {} permits {} refused {} incentive {incentive:.4}",
                mg.block,
                self.uid,
                self.permits.permitted(),
                self.permits.refused(),
            ));
        }
    }
}

/// Re-reads the metagraph, refreshes the permit set and checks `uid` is still ours.
pub(crate) async fn refresh(
    source: &ChainMetagraph,
    permits: &PermitPolicy,
    uid: u16,
) -> Result<Arc<crate::subnet::view::SubnetView>, SubnetError> {
    let mg = source.refresh().await?;
    permits.update(&mg);
    if mg.uid_of(&source.hotkey().account()) != Some(uid) {
        return Err(SubnetError::NotRegistered {
            netuid: source.netuid(),
            hotkey: source.hotkey().account(),
        });
    }
    Ok(mg)
}
