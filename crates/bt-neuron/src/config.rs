//! What a neuron is told to do, resolved from flags, environment and config file by the CLI.

use bt_axon::AxonConfig;
use bt_axon::http::HttpAxonConfig;
use bt_dendrite::DendriteConfig;
use bt_metagraph::{MetagraphConfig, TableConfig};
use bt_tensor::compression::Codec;
use std::path::PathBuf;
use std::time::Duration;

/// The longest a neuron waits for `wait_for_peers` before it trains anyway.
pub const WAIT_FOR_PEERS_LIMIT: Duration = Duration::from_secs(60);

/// Settings of one neuron. Ports of 0 mean "pick a free port" (printed at start). Who the neuron
/// is comes separately, as a locked [`crate::identity::Identity`].
#[derive(Debug, Clone)]
pub struct NeuronConfig {
    /// `--chain_endpoint`: find peers through a chain instead of gossip (not wired yet).
    pub chain_endpoint: Option<String>,
    pub axon_port: u16,
    pub metagraph_port: u16,
    pub metagraph_size: usize,
    pub bootstrap: Vec<String>,
    /// The address peers use to reach us; found from the local interfaces when absent.
    pub remote_ip: Option<String>,
    /// Checkpoint to resume from and to write to.
    pub model_path: Option<PathBuf>,
    pub log_dir: Option<PathBuf>,
    pub gossip_interval: Duration,
    /// MNIST-like IDX directory; the vendored MNIST when absent.
    pub data_dir: Option<PathBuf>,
    pub epochs: usize,
    /// 0 = no limit.
    pub max_steps: usize,
    /// Before training, wait (at most [`WAIT_FOR_PEERS_LIMIT`]) until the metagraph knows this
    /// many other neurons; 0 = start at once. `bittensor localnet` sets it so that its neurons
    /// train together from their first step.
    pub wait_for_peers: usize,
    pub allow_unsigned: bool,
    /// The axon's limits (`--max_tensors`, `--axon_*`): the neuron sets its addresses and
    /// `allow_unsigned` from the settings above and keeps every other field. Default: the
    /// library's.
    pub axon: AxonConfig,
    /// The HTTP axon's limits (`--http_*`), for subnet neurons serving `--http_port`. Default:
    /// the library's.
    pub http: HttpAxonConfig,
    /// The metagraph's limits (`--metagraph_*`): the neuron sets its addresses, bootstrap,
    /// gossip interval, table capacity (`metagraph_size`) and TTL from the settings above and
    /// keeps every other field. Default: the library's.
    pub metagraph: MetagraphConfig,
    pub metrics_port: Option<u16>,
    /// Codec the dendrite offers for answers and uses for requests to axons that accept it
    /// (`docs/protocol.md`, "Compression"; lossy). Default none: float32 as Release 1.
    pub compression: Codec,
}

impl NeuronConfig {
    /// The dendrite's settings: the defaults, with [`NeuronConfig::compression`].
    pub fn dendrite_config(&self) -> DendriteConfig {
        let offered = if self.compression == Codec::None {
            Vec::new()
        } else {
            vec![self.compression]
        };
        DendriteConfig {
            answer_codecs: offered,
            request_codec: self.compression,
            ..DendriteConfig::default()
        }
    }
}

impl Default for NeuronConfig {
    fn default() -> Self {
        Self {
            chain_endpoint: None,
            axon_port: 0,
            metagraph_port: 0,
            metagraph_size: TableConfig::default().capacity,
            bootstrap: Vec::new(),
            remote_ip: None,
            model_path: None,
            log_dir: None,
            gossip_interval: Duration::from_secs(10),
            data_dir: None,
            epochs: 1,
            max_steps: 0,
            wait_for_peers: 0,
            allow_unsigned: false,
            axon: AxonConfig::default(),
            http: HttpAxonConfig::default(),
            metagraph: MetagraphConfig::default(),
            metrics_port: None,
            compression: Codec::None,
        }
    }
}
