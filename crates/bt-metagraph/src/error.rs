//! The crate's one error type.

use std::net::SocketAddr;

use crate::validate::Rejection;

/// Everything that can go wrong in the metagraph, with the context an operator needs.
#[derive(Debug, thiserror::Error)]
pub enum MetagraphError {
    #[error("set_weights got {keys} synapse keys but {weights} weights")]
    WeightsLength { keys: usize, weights: usize },
    #[error("weight #{index} is not finite")]
    NonFiniteWeight { index: usize },
    #[error(
        "the metagraph is full of this node's own synapses (metagraph_size = {capacity}); raise --metagraph_size"
    )]
    TableFullOfOwnSynapses { capacity: usize },
    #[error(
        "our own synapse definition was refused ({reason}); check the key, --remote_ip and --axon_port"
    )]
    OwnSynapseRejected { reason: Rejection },
    #[error("cannot bind the metagraph server to {addr} (--metagraph_port): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid metagraph peer address {addr:?} (expected host:port, e.g. 127.0.0.1:8120)")]
    BadPeerAddress { addr: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot connect to metagraph peer {peer}: {source}")]
    Connect {
        peer: String,
        source: tonic::transport::Error,
    },
    #[error("gossip with {peer} failed: {status}")]
    Rpc {
        peer: String,
        status: Box<tonic::Status>,
    },
    #[error("gossip with {peer} timed out after {timeout_ms} ms")]
    Timeout { peer: String, timeout_ms: u64 },
    #[error("signing our own synapse failed: {0}")]
    Signing(String),
    #[error("the metagraph node has shut down")]
    Shutdown,
}
