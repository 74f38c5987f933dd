//! The chain node's metrics (`bt_chain_*`), for the metrics registry of the process running
//! the node (`bittensor chain start --metrics_port`).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bt_interfaces::metrics::{Exposition, Kind, MetricSet};

use crate::producer::Shared;

pub(crate) struct ChainMetrics(pub(crate) Arc<Shared>);

impl MetricSet for ChainMetrics {
    fn write(&self, out: &mut Exposition) {
        let state = self.0.state();
        out.single(
            "bt_chain_best_block",
            Kind::Gauge,
            "Number of the last block this node applied.",
            state.block as f64,
        );
        out.single(
            "bt_chain_block_time_seconds",
            Kind::Gauge,
            "Time stamp of the last block, seconds since the Unix epoch.",
            state.time_ms as f64 / 1e3,
        );
        out.single(
            "bt_chain_txs_included_total",
            Kind::Counter,
            "Transactions included in blocks sealed since the node started.",
            self.0.txs_included.load(Relaxed) as f64,
        );
        out.single(
            "bt_chain_txs_rejected_total",
            Kind::Counter,
            "Transactions a sealed block left out since the node started.",
            self.0.txs_rejected.load(Relaxed) as f64,
        );
        out.single(
            "bt_chain_subnets",
            Kind::Gauge,
            "Subnets on the chain.",
            state.subnets.len() as f64,
        );
        let name = "bt_chain_subnet_last_epoch_block";
        out.family(name, Kind::Gauge, "Block of a subnet's last epoch.");
        for (netuid, s) in &state.subnets {
            out.sample(
                name,
                &[("netuid", &netuid.to_string())],
                s.last_epoch_block as f64,
            );
        }
        let name = "bt_chain_subnet_neurons";
        out.family(name, Kind::Gauge, "Registered uids of a subnet.");
        for (netuid, s) in &state.subnets {
            out.sample(
                name,
                &[("netuid", &netuid.to_string())],
                s.neurons.len() as f64,
            );
        }
    }
}

impl crate::node::ChainNode {
    /// The node's metrics (`bt_chain_*`), for a process's metrics registry.
    pub fn metric_set(&self) -> Arc<dyn MetricSet> {
        Arc::new(ChainMetrics(self.shared().clone()))
    }
}
