//! What can go wrong talking to a subtensor node, by what a caller can do about it.

use std::time::Duration;

/// A client error. Each kind names the endpoint, call or runtime item involved, so a message
/// printed as is tells the user where to look.
#[derive(Debug, thiserror::Error)]
pub enum SubtensorError {
    /// The endpoint is not a `ws://` or `wss://` URL, or a network name we do not know.
    #[error("bad endpoint {endpoint:?}: {reason}")]
    BadEndpoint { endpoint: String, reason: String },
    /// No WebSocket connection could be made (after the bounded retries).
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
    /// A request got no answer within its deadline.
    #[error("{endpoint}: {method} got no answer within {after:?}")]
    Timeout {
        endpoint: String,
        method: String,
        after: Duration,
    },
    /// The node answered with a JSON-RPC error.
    #[error("{endpoint}: {method} failed: {message} (code {code})")]
    Rpc {
        endpoint: String,
        method: String,
        code: i32,
        message: String,
    },
    /// The connection broke, or the answer was not JSON-RPC.
    #[error("{endpoint}: {method}: {reason}")]
    Transport {
        endpoint: String,
        method: String,
        reason: String,
    },
    /// The node's answer does not decode as the runtime's metadata says it must.
    #[error("cannot decode {what}: {reason}")]
    Decode { what: String, reason: String },
    /// The runtime's metadata itself is unreadable or of a version we do not read.
    #[error("runtime metadata: {0}")]
    Metadata(String),
    /// The runtime lacks a pallet, call, storage item, constant or runtime API we need.
    #[error("the runtime (specVersion {spec_version}) has no {kind} {name}")]
    Missing {
        kind: &'static str,
        name: String,
        spec_version: u32,
    },
    /// Our arguments do not fit the type the runtime declares for them.
    #[error("cannot encode {what} for the runtime: {reason}")]
    Encode { what: String, reason: String },
    /// The transaction was included and failed: a module error by its metadata name
    /// (`SubtensorModule::NotEnoughBalanceToStake`).
    #[error("{pallet}::{error}{}", docs_suffix(.docs))]
    Dispatch {
        pallet: String,
        error: String,
        docs: String,
    },
    /// The transaction was included and failed with a non-module error (`BadOrigin`,
    /// `Token(FundsUnavailable)`, …).
    #[error("transaction failed: {0}")]
    DispatchOther(String),
    /// The node refused the transaction before inclusion (invalid, dropped, usurped).
    #[error("transaction refused: {0}")]
    Refused(String),
    /// The transaction was not in a block within the wait.
    #[error("transaction {hash} not included within {after:?}")]
    NotIncluded { hash: String, after: Duration },
    /// The subnet does not exist.
    #[error("subnet {0} does not exist")]
    NoSubnet(u16),
    /// A key or address given by the caller is unusable.
    #[error(transparent)]
    Key(#[from] bt_crypto::CryptoError),
}

fn docs_suffix(docs: &str) -> String {
    if docs.is_empty() {
        String::new()
    } else {
        format!(": {docs}")
    }
}

impl SubtensorError {
    pub(crate) fn decode(what: impl Into<String>, reason: impl ToString) -> Self {
        Self::Decode {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn encode(what: impl Into<String>, reason: impl ToString) -> Self {
        Self::Encode {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    /// True when retrying the same request may succeed (the node was slow or the link broke).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. } | Self::Timeout { .. } | Self::Transport { .. }
        )
    }
}
