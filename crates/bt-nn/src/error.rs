//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in `bt-nn`; variants say which file, shape or peer was involved.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    #[error("i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: bad IDX header: {reason}")]
    BadIdx { path: PathBuf, reason: String },
    #[error("{path}: not a CIFAR-10 binary batch: {reason}")]
    BadCifar { path: PathBuf, reason: String },
    #[error("dataset mismatch: {0}")]
    Dataset(String),
    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },
    #[error("shape mismatch in {op}: expected {expected}, got {got}")]
    Shape {
        op: &'static str,
        expected: String,
        got: String,
    },
    #[error("non-finite value in {0}")]
    NonFinite(&'static str),
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    #[error("modality {} is not served by this synapse", .0.name())]
    UnsupportedModality(bt_tensor::Modality),
    #[error("the {model} model does not support {what}")]
    Unsupported {
        what: &'static str,
        model: &'static str,
    },
    #[error("router: {0}")]
    Router(String),
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// Boxed: the text side's errors carry paths and messages, and every `Result` of the
    /// crate (and of its callers' error types) would otherwise grow by their size.
    #[error(transparent)]
    Text(Box<crate::text::TextError>),
}

impl From<crate::text::TextError> for NnError {
    fn from(e: crate::text::TextError) -> Self {
        NnError::Text(Box::new(e))
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = NnError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> NnError {
    let path = path.into();
    move |source| NnError::Io { path, source }
}

pub(crate) fn shape_err(op: &'static str, expected: impl ToString, got: impl ToString) -> NnError {
    NnError::Shape {
        op,
        expected: expected.to_string(),
        got: got.to_string(),
    }
}

/// Model errors as a synapse reports them: the caller's input (shape, values) or our failure.
pub fn synapse_error(e: NnError) -> bt_interfaces::SynapseError {
    match e {
        NnError::UnsupportedModality(m) => bt_interfaces::SynapseError::UnsupportedModality(m),
        e @ (NnError::Shape { .. } | NnError::NonFinite(_) | NnError::Dataset(_)) => {
            bt_interfaces::SynapseError::invalid(e)
        }
        NnError::Text(e) if e.is_caller_input() => bt_interfaces::SynapseError::invalid(*e),
        other => bt_interfaces::SynapseError::failed(other),
    }
}
