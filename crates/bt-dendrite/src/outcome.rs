//! What happened to one call: a typed per-peer outcome, never a bare error or a silent zero.

use std::fmt;
use std::time::Duration;

use bt_tensor::{Tensor, TensorError};

/// The result of one call to one remote synapse.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The peer answered with a tensor that passed validation.
    Ok(Tensor),
    /// No answer before the deadline (the peer saw the same deadline in `grpc-timeout`).
    Timeout,
    /// The peer could not be reached; nothing was computed.
    Unavailable(Unavailable),
    /// The peer answered with a gRPC error status.
    Rejected { code: tonic::Code, message: String },
    /// The peer answered, but with something we refuse to hand to the model.
    BadResponse(BadResponse),
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_))
    }

    /// The tensor, if the call succeeded.
    pub fn tensor(&self) -> Option<&Tensor> {
        match self {
            Outcome::Ok(t) => Some(t),
            _ => None,
        }
    }

    pub fn into_tensor(self) -> Option<Tensor> {
        match self {
            Outcome::Ok(t) => Some(t),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok(t) => write!(f, "ok {:?} {}", t.shape(), t.dtype()),
            Outcome::Timeout => f.write_str("timeout"),
            Outcome::Unavailable(why) => write!(f, "unavailable: {why}"),
            Outcome::Rejected { code, message } => write!(f, "rejected ({code:?}): {message}"),
            Outcome::BadResponse(why) => write!(f, "bad response: {why}"),
        }
    }
}

/// Why a peer could not be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The circuit breaker is open after repeated failures: failed fast, nothing was sent.
    #[error("circuit open after repeated failures; next attempt in {retry_in:?}")]
    CircuitOpen { retry_in: Duration },
    /// Connecting failed (refused, unreachable, connect timeout).
    #[error("connect failed: {0}")]
    Connect(String),
    /// The connection broke while the call was in flight.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    /// The endpoint's address cannot form a URI.
    #[error("invalid address {address:?}: {reason}")]
    BadAddress { address: String, reason: String },
}

/// Why an answer was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadResponse {
    #[error("expected {expected} tensor(s) in the response, got {got}")]
    TensorCount { expected: usize, got: usize },
    #[error("invalid tensor: {0}")]
    Tensor(#[from] TensorError),
    #[error("response has shape {got:?}, expected {expected:?}")]
    Shape {
        got: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("response batch is {got}, the request's is {expected}")]
    Batch { got: usize, expected: usize },
    #[error("response dtype {got}, expected a float dtype")]
    DType { got: bt_tensor::DType },
    /// A compressed answer in a codec we did not offer, or one that lies about its size or
    /// holds a non-finite scale.
    #[error("bad compressed response: {0}")]
    Compression(bt_tensor::compression::CompressionError),
    #[error("undecodable response: {0}")]
    Decode(String),
    #[error("decoding the response panicked; the peer sent something the decoder chokes on")]
    DecoderPanic,
}

/// The outcome of one call and how long it took, from submission to verdict.
#[derive(Debug, Clone)]
pub struct Reply {
    pub outcome: Outcome,
    pub elapsed: Duration,
}
