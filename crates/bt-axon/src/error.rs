use std::net::SocketAddr;

/// Why an axon could not be built or started. Each variant says what to change.
#[derive(Debug, thiserror::Error)]
pub enum AxonError {
    #[error(
        "cannot listen on {addr}: {source} (is another neuron using this port? choose another \
         with --axon_port, or 0 for any free port)"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serve metrics on {addr}: {source} (choose another metrics port, or none)")]
    MetricsBind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid axon setting `{field}`: {reason}")]
    Config { field: &'static str, reason: String },
    #[error(
        "invalid synapse key {key:?}: {reason} (expected 0x followed by the 64 lower-case hex \
         digits of an Ed25519 public key)"
    )]
    SynapseKey { key: String, reason: String },
    #[error("synapse key {key} is served twice; each synapse needs its own key")]
    DuplicateSynapse { key: String },
    #[error("the axon serves no synapse; add one with serve_synapse")]
    NoSynapse,
    #[error("the axon's server failed: {0}")]
    Serve(String),
    #[error("the axon did not stop within {grace:?}; {open} connection(s) were closed forcibly")]
    ShutdownForced {
        grace: std::time::Duration,
        open: usize,
    },
}
