//! The command line: one clap `Args` struct per subsystem, every flag also an environment variable.
//!
//! The seeds spell flags with underscores (`--axon_port`); the kebab-case spelling
//! (`--axon-port`) is accepted as an alias so both habits work.

use std::path::PathBuf;

use bt_tensor::compression::Codec;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "bittensor",
    version,
    about = "A peer-to-peer machine intelligence network: neurons that serve, query and learn from each other.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one neuron: serve its model on an axon, find peers, and (for learning neurons) train.
    Neuron(Box<NeuronCommand>),
    /// Start N neurons on this machine that find each other and train together (the main job).
    Localnet(LocalnetArgs),
    /// A web page over running neurons and a chain: metagraph, who calls whom, loss and
    /// accuracy curves, a subnet's rows (read-only; loopback unless --dashboard_addr).
    Dashboard(crate::dashboard_cmd::DashboardArgs),
    /// Look at a running metagraph without joining it.
    #[command(subcommand)]
    Metagraph(MetagraphCommand),
    /// Create or show neuron keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Yuma consensus tools.
    #[command(subcommand)]
    Consensus(ConsensusCommand),
    /// Run a local chain node.
    #[command(subcommand)]
    Chain(crate::chain_cmd::ChainCommand),
    /// Subnets on a chain: list, create, register, metagraph, hyperparameters, faucet.
    #[command(subcommand)]
    Subnet(crate::chain_cmd::SubnetCommand),
    /// sr25519 wallets (coldkey and hotkeys) as btcli keeps them, and what they hold on a chain.
    #[command(subcommand)]
    Wallet(WalletCommand),
    /// Stake a coldkey's TAO on its hotkey (validators need stake for a permit).
    #[command(subcommand)]
    Stake(crate::stake_cmd::StakeCommand),
    /// Today's Synapse protocol over HTTP (the Python SDK's): call any synapse, serve built-ins.
    #[command(subcommand)]
    Synapse(Box<crate::synapse_cmd::SynapseCommand>),
}

#[derive(Debug, Args)]
pub struct NeuronCommand {
    /// Which neuron to run.
    #[arg(value_enum)]
    pub kind: NeuronKind,
    #[command(flatten)]
    pub args: NeuronArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NeuronKind {
    /// Serves a synapse that returns its input unchanged (interop tests, benchmarks).
    Echo,
    /// The seeds' MNIST neuron: learns digits from its data and from its peers.
    Mnist,
    /// Release 1's CIFAR neuron: a dual path network learning 32×32 colour images from its
    /// data and its peers (CIFAR-10's binary batches from --data_dir, else generated shapes).
    Cifar,
    /// Release 1's text neuron: classifies Debian fortunes by topic (--data_dir: a directory
    /// of fortune files) from WordPiece ids, with MiniLM peers' sentence embeddings as its
    /// network context; with --teacher it serves MiniLM instead. Needs the MiniLM files
    /// (scripts/fetch-minilm.sh, or BT_MINILM_DIR).
    Text,
}

/// The seeds' neuron flags. Every value is optional here so that a `--config` file can fill what
/// the command line leaves out; the config module resolves the final settings.
#[derive(Debug, Clone, Default, Args)]
pub struct NeuronArgs {
    /// TOML file with any of these settings (command line and environment win over it).
    #[arg(long, env = "BT_CONFIG")]
    pub config: Option<PathBuf>,
    /// The embedded chain's endpoint (host:port of its JSON-RPC node); without a chain flag
    /// peers are found by gossip.
    #[arg(
        long = "chain_endpoint",
        alias = "chain-endpoint",
        env = "BT_CHAIN_ENDPOINT"
    )]
    pub chain_endpoint: Option<String>,
    /// Join a subnet of subtensor instead (the Python SDK's flags).
    #[command(flatten)]
    pub subtensor: crate::chain_cmd::SubtensorFlags,
    /// Axon (tensor server) port; a free port is picked when absent.
    #[arg(long = "axon_port", alias = "axon-port", env = "BT_AXON_PORT")]
    pub axon_port: Option<u16>,
    /// Metagraph (gossip) port; a free port is picked when absent.
    #[arg(
        long = "metagraph_port",
        alias = "metagraph-port",
        env = "BT_METAGRAPH_PORT"
    )]
    pub metagraph_port: Option<u16>,
    /// Maximum number of synapses kept in the metagraph table.
    #[arg(
        long = "metagraph_size",
        alias = "metagraph-size",
        env = "BT_METAGRAPH_SIZE"
    )]
    pub metagraph_size: Option<usize>,
    /// Metagraph peers to bootstrap from (host:port), repeatable or comma separated.
    #[arg(long, env = "BT_BOOTSTRAP", value_delimiter = ',')]
    pub bootstrap: Vec<String>,
    /// Path of the neuron key file (created on first use). A running neuron holds its key
    /// exclusively: a second neuron given the same key exits with code 7. Without it (or
    /// --name), the key is neurons/neuron-N/neuron.key for the lowest N no running neuron holds.
    #[arg(long = "neuron_key", alias = "neuron-key", env = "BT_NEURON_KEY")]
    pub neuron_key: Option<PathBuf>,
    /// Name of this neuron: its key is neurons/NAME/neuron.key under the working directory
    /// (instead of --neuron_key), so a neuron started again by name keeps its identity.
    #[arg(long, env = "BT_NEURON_NAME")]
    pub name: Option<String>,
    /// IP address peers should use to reach this neuron; found from local interfaces when absent.
    #[arg(long = "remote_ip", alias = "remote-ip", env = "BT_REMOTE_IP")]
    pub remote_ip: Option<String>,
    /// Checkpoint to resume from (and to write to).
    #[arg(long = "model_path", alias = "model-path", env = "BT_MODEL_PATH")]
    pub model_path: Option<PathBuf>,
    /// Directory for log files (logs go to stderr too).
    #[arg(long = "log_dir", alias = "log-dir", env = "BT_LOG_DIR")]
    pub log_dir: Option<PathBuf>,
    /// Seconds between gossip rounds.
    #[arg(
        long = "gossip_interval",
        alias = "gossip-interval",
        env = "BT_GOSSIP_INTERVAL"
    )]
    pub gossip_interval: Option<f64>,
    /// Dataset directory (MNIST IDX files); the vendored MNIST when absent.
    #[arg(long = "data_dir", alias = "data-dir", env = "BT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Training epochs (learning neurons).
    #[arg(long, env = "BT_EPOCHS")]
    pub epochs: Option<usize>,
    /// Stop after this many training steps (0 = no limit).
    #[arg(long = "max_steps", alias = "max-steps", env = "BT_MAX_STEPS")]
    pub max_steps: Option<usize>,
    /// Before training (learning neurons), wait until the metagraph lists this many other
    /// neurons' synapses (at most 60 s; 0 = start at once).
    #[arg(
        long = "wait_for_peers",
        alias = "wait-for-peers",
        env = "BT_WAIT_FOR_PEERS"
    )]
    pub wait_for_peers: Option<usize>,
    /// Accept unsigned requests from Release 1 peers.
    #[arg(
        long = "allow_unsigned",
        alias = "allow-unsigned",
        env = "BT_ALLOW_UNSIGNED"
    )]
    pub allow_unsigned: bool,
    /// Most tensors in one request the axon decodes; counted on the raw bytes first, so a
    /// request of many empty tensors is refused (`OUT_OF_RANGE`) before it costs memory.
    /// Default 256.
    #[arg(long = "max_tensors", alias = "max-tensors", env = "BT_MAX_TENSORS", value_parser = clap::value_parser!(u32).range(2..))]
    pub max_tensors: Option<u32>,
    /// Codec of the tensors exchanged with peers that negotiate it: none, f16, bf16, uniform8 or
    /// blockwise8 (lossy; `docs/protocol.md`, "Compression"). Offered for answers and used for
    /// requests to axons that accept it; Release 1 peers always get float32. Default none.
    #[arg(long = "compression", env = "BT_COMPRESSION", value_parser = parse_codec)]
    pub compression: Option<Codec>,
    /// Port for Prometheus metrics (`/metrics`); off when absent.
    #[arg(long = "metrics_port", alias = "metrics-port", env = "BT_METRICS_PORT")]
    pub metrics_port: Option<u16>,
    /// Subnet neurons: also serve the model over today's HTTP synapse protocol on this port
    /// (`TensorForward`, signed as the wallet's hotkey; a miner answers only permit holders).
    #[arg(long = "http_port", alias = "http-port", env = "BT_HTTP_PORT")]
    pub http_port: Option<u16>,
    /// Subnet to join on the chain given by --chain_endpoint (with --role).
    #[arg(long, env = "BT_NETUID")]
    pub netuid: Option<u16>,
    /// Role on the subnet: both train while they serve; miners answer permit-holding
    /// validators; validators set their router's scores (checked by the task) as weights.
    #[arg(long, value_enum, env = "BT_ROLE")]
    pub role: Option<Role>,
    /// Directory holding wallets (the Python SDK's layout; ~/.bittensor/wallets when absent).
    #[arg(long = "wallet.path", aliases = ["wallet_path", "wallet-path"], env = "BT_WALLET_PATH")]
    pub wallet_path: Option<PathBuf>,
    /// Wallet (coldkey) name; its coldkey pays a burned registration when the hotkey has no uid.
    #[arg(long = "wallet.name", aliases = ["wallet_name", "wallet-name"], env = "BT_WALLET_NAME")]
    pub wallet_name: Option<String>,
    /// Hotkey name within the wallet: the subnet identity of this neuron.
    #[arg(
        long = "wallet.hotkey",
        aliases = ["wallet_hotkey", "wallet-hotkey"],
        env = "BT_WALLET_HOTKEY"
    )]
    pub wallet_hotkey: Option<String>,
    /// Seconds between a subnet neuron's chain refreshes (and a validator's query rounds).
    #[arg(
        long = "subnet_interval",
        alias = "subnet-interval",
        env = "BT_SUBNET_INTERVAL"
    )]
    pub subnet_interval: Option<f64>,
    /// Let peers' `Backward` gradients train the served model (MNIST neurons; off by default:
    /// a peer's gradient is advice from an untrusted party, clipped and scaled when accepted).
    #[arg(
        long = "remote_learning",
        alias = "remote-learning",
        env = "BT_REMOTE_LEARNING"
    )]
    pub remote_learning: bool,
    /// `neuron text` only: serve MiniLM's sentence embeddings to text learners instead of
    /// training (a frozen, pretrained peer to distil from).
    #[arg(long, env = "BT_TEACHER")]
    pub teacher: bool,
    /// Factor on each accepted remote gradient (with --remote_learning; default 1.0).
    #[arg(
        long = "remote_grad_scale",
        alias = "remote-grad-scale",
        env = "BT_REMOTE_GRAD_SCALE"
    )]
    pub remote_grad_scale: Option<f32>,
    /// Largest L2 norm one peer request may contribute (with --remote_learning; default 1.0).
    #[arg(
        long = "remote_grad_clip",
        alias = "remote-grad-clip",
        env = "BT_REMOTE_GRAD_CLIP"
    )]
    pub remote_grad_clip: Option<f32>,
    /// The port peers dial when it is not the axon's own (a NAT's or a proxy's forwarded
    /// port): published on the chain (subnet neurons) or by gossip, and accepted by the axon as
    /// its endpoint in v2 request signatures. The axon's own port when absent.
    #[arg(
        long = "external_port",
        alias = "external-port",
        env = "BT_EXTERNAL_PORT"
    )]
    pub external_port: Option<u16>,
    /// The limits of the servers the neuron starts: `--axon_*`, `--http_*`, `--metagraph_*`
    /// (`docs/security.md` lists them with their defaults).
    #[command(flatten)]
    pub caps: crate::caps::ServerCaps,
    /// Test only (the fault harness): run this neuron with its clock this many milliseconds
    /// ahead (negative: behind), as the nonces it signs and checks see it. Hidden from help.
    #[arg(
        long = "clock_skew_ms",
        env = "BT_TEST_CLOCK_SKEW_MS",
        hide = true,
        allow_hyphen_values = true
    )]
    pub clock_skew_ms: Option<i64>,
}

/// A neuron's role on a subnet (the seeds' bipartite split).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Miner,
    Validator,
}

#[derive(Debug, Args)]
pub struct LocalnetArgs {
    /// How many neurons to start.
    #[arg(long, default_value_t = 3, env = "BT_LOCALNET_NEURONS")]
    pub neurons: usize,
    /// Which neuron (model) every node runs. With text, node 0 is a MiniLM teacher
    /// (`neuron text --teacher`) and the others learn from it.
    #[arg(
        long,
        alias = "model",
        value_enum,
        default_value = "mnist",
        env = "BT_LOCALNET_NEURON"
    )]
    pub neuron: NeuronKind,
    /// Training epochs per neuron.
    #[arg(long, default_value_t = 1, env = "BT_EPOCHS")]
    pub epochs: usize,
    /// Stop each neuron after this many steps (0 = run the epochs).
    #[arg(
        long = "max_steps",
        alias = "max-steps",
        default_value_t = 0,
        env = "BT_MAX_STEPS"
    )]
    pub max_steps: usize,
    /// Where keys, logs and checkpoints of the nodes go.
    #[arg(long, default_value = "localnet", env = "BT_LOCALNET_DIR")]
    pub dir: PathBuf,
    /// Dataset directory for every node; when absent the vendored MNIST, for cifar a
    /// CIFAR-10 copy in $BT_CIFAR_DIR if there is one, else generated shapes, for text
    /// Debian's fortunes.
    #[arg(long = "data_dir", alias = "data-dir", env = "BT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Seconds between gossip rounds.
    #[arg(
        long = "gossip_interval",
        alias = "gossip-interval",
        default_value_t = 2.0,
        env = "BT_GOSSIP_INTERVAL"
    )]
    pub gossip_interval: f64,
    /// Print plain log lines instead of the live view.
    #[arg(long, env = "BT_PLAIN")]
    pub plain: bool,
    /// Serve the web dashboard over the neurons (its URL is printed); each neuron then
    /// serves `/metrics` on a free port.
    #[arg(long, env = "BT_LOCALNET_DASHBOARD")]
    pub dashboard: bool,
    #[command(flatten)]
    pub dashboard_flags: crate::dashboard_cmd::DashboardFlags,
    /// Run the embedded chain too, its database under --dir/chain: a subnet with every neuron
    /// registered, the first --validators validating (staked, setting weights each tempo) and
    /// the others mining. Neurons find each other through the chain instead of gossip and keep
    /// serving after training until Ctrl-C; --dashboard shows the subnet's chain panel. MNIST
    /// neurons only.
    #[arg(long, env = "BT_LOCALNET_CHAIN")]
    pub chain: bool,
    #[command(flatten)]
    pub chain_flags: crate::localnet_chain::LocalChainFlags,
}

#[derive(Debug, Subcommand)]
pub enum MetagraphCommand {
    /// Ask a running metagraph for its table without joining it.
    Inspect {
        /// host:port of the metagraph (its --metagraph_port).
        address: String,
        /// Print JSON with the schema's field names.
        #[arg(long)]
        json: bool,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5.0)]
        timeout: f64,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a new neuron key file.
    New {
        /// Where to write it.
        #[arg(long, default_value = "neuron.key", env = "BT_NEURON_KEY")]
        path: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print the public key of a key file.
    Show {
        #[arg(long, default_value = "neuron.key", env = "BT_NEURON_KEY")]
        path: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConsensusCommand {
    /// Run a scenario of weights, stake and epochs and print every epoch's outputs.
    Simulate {
        /// The scenario (JSON); see the README for the format.
        scenario: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[cfg(test)]
mod tests {
    /// clap checks its own definition (duplicate ids, conflicting flags) only when a command is
    /// built; this builds every subcommand.
    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

/// `bittensor wallet …`: the key commands and the chain ones, one list.
#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    #[command(flatten)]
    Keys(crate::wallet_cmd::WalletCommand),
    #[command(flatten)]
    Chain(crate::wallet_chain_cmd::WalletChainCommand),
}

fn parse_codec(s: &str) -> Result<Codec, String> {
    Codec::parse(s).map_err(|e| e.to_string())
}
