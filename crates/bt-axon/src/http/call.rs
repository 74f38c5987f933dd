//! What a handler and the hooks learn about a call, and how a handler fails.

use std::net::SocketAddr;
use std::time::Instant;

use bt_crypto::wallet::AccountId;

/// How the caller authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthScheme {
    /// SDK v10: sr25519 over `nonce.dendrite.axon.uuid.body_hash`.
    V10,
    /// btauth/1: a signature over the method, path, raw body, nonce, sender and receiver.
    BtAuth,
    /// A session with one of our dendrites: HMAC-SHA256 over the v10 fields and a counter,
    /// keyed by a handshake signed with the caller's hotkey.
    Session,
}

/// One verified call. Hooks and handlers see it only after the signature, freshness and
/// replay checks passed.
#[derive(Clone, Debug)]
pub struct CallInfo {
    /// The synapse name (the route).
    pub synapse: String,
    /// The caller's verified hotkey.
    pub hotkey: AccountId,
    pub scheme: AuthScheme,
    /// Where the connection comes from.
    pub peer: SocketAddr,
    pub nonce: i64,
    /// The dendrite's uuid (v10 only).
    pub uuid: Option<String>,
    /// The dendrite's version header, as claimed (unsigned).
    pub version: Option<i64>,
    /// When the answer is due.
    pub deadline: Instant,
}

/// A handler's refusal: the status code and message the caller receives.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct HandlerError {
    pub status: u16,
    pub message: String,
}

impl HandlerError {
    /// 400: the request is well-formed but its values are not acceptable.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: bt_http::status::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 500: the server failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            status: bt_http::status::INTERNAL,
            message: message.into(),
        }
    }

    /// 503: the server cannot serve now; try later.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            status: bt_http::status::UNAVAILABLE,
            message: message.into(),
        }
    }
}

/// Hook: `Some(reason)` refuses the call with 403 (the SDK's `blacklist_fn`).
pub type BlacklistFn = dyn Fn(&CallInfo) -> Option<String> + Send + Sync;
/// Hook: larger runs first when handlers are busy (the SDK's `priority_fn`).
pub type PriorityFn = dyn Fn(&CallInfo) -> f64 + Send + Sync;
/// Hook: `Err(reason)` refuses the call with 401, after our own verification (the SDK's
/// `verify_fn`, which cannot replace the signature check here).
pub type VerifyFn = dyn Fn(&CallInfo) -> Result<(), String> + Send + Sync;
