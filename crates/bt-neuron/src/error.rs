//! Why a neuron could not start or stopped early. Messages name the flag to change.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::subnet::error::SubnetError;

#[derive(Debug, thiserror::Error)]
pub enum NeuronError {
    #[error("cannot bind {what} to {addr}: {source} (change {flag})")]
    Bind {
        what: &'static str,
        flag: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("neuron key: {0}")]
    Key(#[from] bt_crypto::CryptoError),
    /// Another running neuron holds the lock on this key file.
    #[error(
        "neuron key {} is in use by another running neuron (one key, one neuron): {hint}",
        path.display()
    )]
    KeyInUse { path: PathBuf, hint: &'static str },
    /// Every default key name is held by a running neuron.
    #[error(
        "all {tried} default neuron keys under {} (neuron-0, neuron-1, …) are in use by running \
         neurons: give this neuron its own key with --neuron_key PATH or --name NAME",
        dir.display()
    )]
    NoFreeKey { dir: PathBuf, tried: usize },
    /// The key file could not be locked (not because another neuron holds it).
    #[error(
        "cannot lock neuron key {}: {source} (a neuron holds its key file's lock while it runs; \
         put the key on a file system with flock support, see --neuron_key)",
        path.display()
    )]
    KeyLock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot load MNIST-like IDX files from {} (--data_dir)", dir.display())]
    Data {
        dir: PathBuf,
        #[source]
        source: bt_nn::NnError,
    },
    #[error("checkpoint {} (--model_path)", path.display())]
    Checkpoint {
        path: PathBuf,
        #[source]
        source: bt_nn::NnError,
    },
    #[error("invalid setting: {0}")]
    Config(String),
    #[error("axon: {0}")]
    Axon(bt_axon::AxonError),
    #[error("metagraph: {0}")]
    Metagraph(bt_metagraph::MetagraphError),
    #[error("model: {0}")]
    Model(#[from] bt_nn::NnError),
    #[error("the {what} task stopped abnormally")]
    Task {
        what: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    #[error("calling peers")]
    Dendrite(#[from] bt_dendrite::DendriteError),
    #[error("a tensor for the wire")]
    Tensor(#[from] bt_tensor::TensorError),
    #[error("this neuron's trainer was already made")]
    TrainerTaken,
    /// Boxed: a chain error is large, and every neuron result carries this type.
    #[error(transparent)]
    Subnet(Box<SubnetError>),
}

impl From<SubnetError> for NeuronError {
    fn from(e: SubnetError) -> Self {
        NeuronError::Subnet(Box::new(e))
    }
}

impl NeuronError {
    /// For `JoinError`s of the blocking tasks a neuron runs (`what` names the task).
    pub fn task(what: &'static str) -> impl FnOnce(tokio::task::JoinError) -> Self {
        move |source| Self::Task { what, source }
    }
}

impl From<bt_axon::AxonError> for NeuronError {
    fn from(e: bt_axon::AxonError) -> Self {
        match e {
            bt_axon::AxonError::Bind { addr, source } => NeuronError::Bind {
                what: "the axon",
                flag: "--axon_port",
                addr,
                source,
            },
            bt_axon::AxonError::MetricsBind { addr, source } => NeuronError::Bind {
                what: "the metrics endpoint",
                flag: "--metrics_port",
                addr,
                source,
            },
            other => NeuronError::Axon(other),
        }
    }
}

impl From<bt_metagraph::MetagraphError> for NeuronError {
    fn from(e: bt_metagraph::MetagraphError) -> Self {
        match e {
            bt_metagraph::MetagraphError::Bind { addr, source } => NeuronError::Bind {
                what: "the metagraph",
                flag: "--metagraph_port",
                addr,
                source,
            },
            other => NeuronError::Metagraph(other),
        }
    }
}

/// How a neuron ended without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It did what it was asked (epochs, steps).
    Finished,
    /// Ctrl-C or SIGTERM; state was saved first.
    Interrupted,
}
