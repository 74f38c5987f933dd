//! `bittensor dashboard`: the web page over running neurons and a chain (`bt-dashboard`), and
//! the flags `localnet --dashboard` shares with it.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use bt_dashboard::{DashboardConfig, DashboardError, DashboardHandle};
use bt_interfaces::Chain;
use clap::Args;

use crate::chain_cmd::{Endpoint, SubtensorFlags};
use crate::exit::{self, CliError};

/// Where the dashboard listens and what it reads.
#[derive(Debug, Clone, Args)]
pub struct DashboardFlags {
    /// Address the dashboard serves its page on. Loopback by default because the page shows
    /// the network's internals (peers, keys, scores); give 0.0.0.0:PORT to show it to others.
    #[arg(
        long = "dashboard_addr",
        alias = "dashboard-addr",
        default_value = "127.0.0.1:0",
        env = "BT_DASHBOARD_ADDR"
    )]
    pub addr: SocketAddr,
    /// Browsers connected to the live feed at once; more are refused (503).
    #[arg(
        long = "dashboard_max_clients",
        alias = "dashboard-max-clients",
        default_value_t = DashboardConfig::default().max_clients
    )]
    pub max_clients: usize,
    /// Connections the dashboard keeps open at once; more wait until one closes.
    #[arg(
        long = "dashboard_max_connections",
        alias = "dashboard-max-connections",
        default_value_t = DashboardConfig::default().max_connections
    )]
    pub max_connections: usize,
    /// Connections one client address may hold; more from it are closed at once.
    #[arg(
        long = "dashboard_max_connections_per_ip",
        alias = "dashboard-max-connections-per-ip",
        default_value_t = DashboardConfig::default().max_connections_per_ip
    )]
    pub max_connections_per_ip: usize,
    /// Seconds a client has to send a request's headers (after connecting, or after its
    /// previous answer) before its connection is closed.
    #[arg(
        long = "dashboard_header_timeout",
        alias = "dashboard-header-timeout",
        value_name = "SECONDS",
        default_value_t = DashboardConfig::default().header_read_timeout.as_secs_f64()
    )]
    pub header_timeout: f64,
    /// Seconds between reads of the validators' weights for the chain panel (they change once
    /// a tempo; on subtensor a read costs one more request per uid).
    #[arg(
        long = "dashboard_weights_interval",
        alias = "dashboard-weights-interval",
        value_name = "SECONDS",
        default_value_t = DashboardConfig::default().weights_interval.as_secs_f64()
    )]
    pub weights_interval: f64,
}

impl DashboardFlags {
    pub fn config(&self) -> Result<DashboardConfig, CliError> {
        if self.max_connections == 0 || self.max_connections_per_ip == 0 {
            return Err(CliError::Usage(
                "--dashboard_max_connections and --dashboard_max_connections_per_ip must be at \
                 least 1"
                    .into(),
            ));
        }
        if !(self.header_timeout.is_finite() && self.header_timeout > 0.0)
            || self.header_timeout > 600.0
        {
            return Err(CliError::Usage(format!(
                "--dashboard_header_timeout {} must be above 0 and at most 600 seconds",
                self.header_timeout
            )));
        }
        if !(self.weights_interval.is_finite() && self.weights_interval > 0.0)
            || self.weights_interval > 3600.0
        {
            return Err(CliError::Usage(format!(
                "--dashboard_weights_interval {} must be above 0 and at most 3600 seconds",
                self.weights_interval
            )));
        }
        Ok(DashboardConfig {
            addr: self.addr,
            max_clients: self.max_clients,
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            header_read_timeout: std::time::Duration::from_secs_f64(self.header_timeout),
            weights_interval: std::time::Duration::from_secs_f64(self.weights_interval),
            ..DashboardConfig::default()
        })
    }
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// A neuron's metrics address (host:port of its `--metrics_port`); repeat for more. The
    /// neuron's metagraph is found from its metrics (`bt_neuron_info`) and read with the same
    /// inspection `bittensor metagraph inspect` makes.
    #[arg(long = "neuron", value_name = "HOST:PORT")]
    pub neurons: Vec<String>,
    /// The embedded chain's node to read a subnet's rows from (host:port, ws:// or http://).
    #[arg(long = "chain", value_name = "URL")]
    pub chain: Option<String>,
    #[command(flatten)]
    pub subtensor: SubtensorFlags,
    /// The subnet whose rows the chain panel shows.
    #[arg(long, default_value_t = 1)]
    pub netuid: u16,
    #[command(flatten)]
    pub dashboard: DashboardFlags,
}

/// Starts the dashboard with `chain` (when given) and prints its URL.
pub async fn start(cfg: DashboardConfig, chain: Option<Arc<dyn Chain>>) -> Result<DashboardHandle> {
    let addr = cfg.addr;
    let handle = bt_dashboard::serve(cfg, chain).await.map_err(|e| match e {
        DashboardError::Bind { .. } => {
            anyhow::Error::from(CliError::PortInUse(format!("--dashboard_addr {addr}: {e}")))
        }
        other => other.into(),
    })?;
    println!("Dashboard: {}", handle.url());
    Ok(handle)
}

pub async fn run(
    args: DashboardArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<u8> {
    let wants_chain = args.chain.is_some()
        || args.subtensor.network.is_some()
        || args.subtensor.chain_endpoint.is_some();
    let chain = if wants_chain {
        let ep = Endpoint {
            endpoint: args
                .chain
                .clone()
                .unwrap_or_else(|| "127.0.0.1:9944".into()),
            subtensor: args.subtensor.clone(),
        };
        Some(ep.chain().await?)
    } else {
        None
    };
    if args.neurons.is_empty() && chain.is_none() {
        return Err(CliError::Usage(
            "nothing to show: give --neuron HOST:PORT (a neuron's --metrics_port) and/or --chain"
                .into(),
        )
        .into());
    }
    let cfg = DashboardConfig {
        netuid: args.netuid,
        ..args.dashboard.config()?
    };
    let handle = start(cfg, chain).await?;
    for (i, addr) in args.neurons.iter().enumerate() {
        handle
            .add_neuron(format!("n{i}"), addr.clone())
            .map_err(|e| CliError::Usage(format!("--neuron: {e}")))?;
    }
    shutdown.await;
    handle.shutdown();
    Ok(exit::INTERRUPTED)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn flags(weights_interval: f64) -> DashboardFlags {
        let d = DashboardConfig::default();
        DashboardFlags {
            addr: d.addr,
            max_clients: d.max_clients,
            max_connections: d.max_connections,
            max_connections_per_ip: d.max_connections_per_ip,
            header_timeout: d.header_read_timeout.as_secs_f64(),
            weights_interval,
        }
    }

    #[test]
    fn the_weights_interval_reaches_the_config_and_is_bounded() {
        let cfg = flags(2.5).config().unwrap();
        assert_eq!(cfg.weights_interval, std::time::Duration::from_millis(2500));
        for bad in [0.0, -1.0, f64::NAN, 3601.0] {
            assert!(
                matches!(flags(bad).config(), Err(CliError::Usage(_))),
                "{bad} accepted"
            );
        }
    }
}
