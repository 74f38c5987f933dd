//! The miner: serves its classifier to the subnet's permit-holding validators and nothing else.

use std::future::Future;
use std::time::{Duration, Instant};

use bt_nn::MnistModel;

use crate::subnet::error::SubnetError;
use crate::subnet::neuron::{NeuronSettings, Serving};

pub struct MinerConfig {
    pub neuron: NeuronSettings,
    /// How often a status line is printed.
    pub report_interval: Duration,
}

impl MinerConfig {
    /// A status line every 12 s.
    pub fn new(neuron: NeuronSettings) -> Self {
        Self {
            neuron,
            report_interval: Duration::from_secs(12),
        }
    }
}

/// Runs a miner until `shutdown` resolves: joins netuid (registering with the coldkey if one is
/// given and the hotkey is not registered), serves `model` on an axon that answers only
/// validators holding a permit on the netuid, publishes the axon and its keys with
/// `serve_axon`, and re-reads the permit set from the chain every `refresh_interval`.
///
/// Prints (through `progress`):
/// - `Miner: uid U serving on IP:PORT netuid N neuron_key 0x… synapse_key 0x…` once;
/// - `Miner: block B uid U answered A refused R permits K incentive I` every report interval;
/// - `Miner: metagraph refresh failed: …` when the chain does not answer (the last permit set
///   stays in force).
///
/// Errors: setup failures, and `NotRegistered` if the hotkey loses its uid while running.
pub async fn run_miner(
    cfg: MinerConfig,
    model: MnistModel,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), SubnetError> {
    let (serving, _neuron_key) = Serving::start("Miner", cfg.neuron, model).await?;
    let result = serve_until(&serving, cfg.report_interval, shutdown).await;
    serving.stop().await;
    result
}

async fn serve_until(
    s: &Serving,
    report_interval: Duration,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), SubnetError> {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(s.refresh_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_report: Option<Instant> = None;
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            _ = tick.tick() => {}
        }
        let mg = match s.refresh().await {
            Ok(mg) => mg,
            Err(e @ SubnetError::NotRegistered { .. }) => return Err(e),
            Err(e) => {
                (s.progress)(&format!("Miner: metagraph refresh failed: {e}"));
                continue;
            }
        };
        if last_report.is_none_or(|t| t.elapsed() >= report_interval) {
            last_report = Some(Instant::now());
            let incentive = mg
                .incentive
                .get(usize::from(s.uid))
                .map_or(0.0, |v| f64::from(*v) / 65_535.0);
            (s.progress)(&format!(
                "Miner: block {} uid {} answered {} refused {} permits {} incentive {incentive:.4}",
                mg.block,
                s.uid,
                s.classifier.answered(),
                s.policy.refused(),
                s.policy.permitted(),
            ));
        }
    }
}
