//! The network face every neuron shares: an axon serving its synapse and a metagraph node
//! announcing it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bt_axon::{Axon, AxonConfig, AxonHandle};
use bt_metagraph::{MetagraphConfig, MetagraphHandle, MetagraphNode, OwnSynapse, TableConfig};

use crate::config::NeuronConfig;
use crate::error::NeuronError;
use crate::identity::{Identity, listen_ip, resolve_remote_ip};
use crate::report::Ready;

/// In-flight requests get this long to finish when the neuron stops.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub struct Network {
    pub axon: AxonHandle,
    pub metagraph: MetagraphHandle,
    pub synapse_key: String,
    pub neuron_key: String,
}

impl Network {
    /// Starts the axon with `synapse` under our synapse key, then the metagraph announcing it,
    /// and prints the ready line.
    pub async fn start(
        cfg: &NeuronConfig,
        identity: &Identity,
        synapse: Arc<dyn bt_interfaces::Synapse>,
    ) -> Result<Self, NeuronError> {
        if cfg.chain_endpoint.is_some() {
            return Err(NeuronError::Config(
                "--chain_endpoint: neurons find peers by gossip in this release; \
                 chain-sourced metagraphs are not wired into neurons yet"
                    .into(),
            ));
        }
        let remote = resolve_remote_ip(cfg.remote_ip.as_deref())?;
        let listen = listen_ip(remote);
        let synapse_key = identity.synapse.public_hex();
        let metagraph_key = identity.neuron_key()?;
        let axon_config = AxonConfig {
            allow_unsigned: cfg.allow_unsigned,
            metrics_addr: cfg.metrics_port.map(|p| SocketAddr::new(listen, p)),
            // What peers dial, which a v2 request signature binds.
            external_host: Some(remote.to_string()),
            ..cfg.axon.clone()
        };
        let axon = Axon::builder(axon_config)
            .serve_synapse(synapse_key.clone(), synapse)
            .start(SocketAddr::new(listen, cfg.axon_port))
            .await?;
        let interval_ms = u64::try_from(cfg.gossip_interval.as_millis()).unwrap_or(u64::MAX);
        let metagraph_config = MetagraphConfig {
            listen: SocketAddr::new(listen, cfg.metagraph_port),
            advertise_host: Some(remote.to_string()),
            bootstrap: cfg.bootstrap.clone(),
            gossip_interval: cfg.gossip_interval,
            table: TableConfig {
                capacity: cfg.metagraph_size,
                // A definition lives for 30 gossip rounds (5 minutes at the default 10 s,
                // the seeds' TTL) without a fresh heartbeat.
                ttl_ms: interval_ms.saturating_mul(30),
                ..cfg.metagraph.table
            },
            ..cfg.metagraph.clone()
        };
        // The synapse key binds itself to our neuron key at the axon's endpoint, here where its
        // secret lives; the metagraph node only ever sees the proof.
        let own = OwnSynapse::proven(
            &identity.synapse,
            &metagraph_key.public_hex(),
            &remote.to_string(),
            cfg.axon.external_port.unwrap_or(axon.local_addr().port()),
        );
        let metagraph =
            match async { MetagraphNode::start(metagraph_config, metagraph_key, vec![own?]).await }
                .await
            {
                Ok(m) => m,
                Err(e) => {
                    let _ = axon.shutdown(SHUTDOWN_GRACE).await;
                    return Err(e.into());
                }
            };
        let registry = axon.metrics_registry();
        registry.register(metagraph.metric_set());
        registry.register(Arc::new(crate::metrics::NeuronInfo {
            neuron_key: identity.neuron.public_hex(),
            synapse_key: synapse_key.clone(),
            axon: SocketAddr::new(remote, axon.local_addr().port()).to_string(),
            metagraph: Some(SocketAddr::new(remote, metagraph.local_addr().port()).to_string()),
            subnet: None,
        }));
        let network = Self {
            neuron_key: identity.neuron.public_hex(),
            synapse_key,
            axon,
            metagraph,
        };
        println!("{}", network.ready_line(remote));
        Ok(network)
    }

    fn ready_line(&self, remote: std::net::IpAddr) -> Ready {
        Ready {
            neuron_key: self.neuron_key.clone(),
            synapse_keys: vec![self.synapse_key.clone()],
            axon: SocketAddr::new(remote, self.axon.local_addr().port()).to_string(),
            metagraph: SocketAddr::new(remote, self.metagraph.local_addr().port()).to_string(),
            metrics: self.axon.metrics_addr().map(|a| a.to_string()),
            uid: None,
        }
    }

    pub async fn stop(self) {
        self.metagraph.shutdown().await;
        if let Err(e) = self.axon.shutdown(SHUTDOWN_GRACE).await {
            tracing::warn!(error = %e, "axon did not stop cleanly");
        }
    }
}
