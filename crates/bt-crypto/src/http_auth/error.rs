use crate::error::clip;

/// Why a request failed authentication. Every variant is something the HTTP axon answers with
/// 401 and this message (except [`NonceError::Busy`], which is our load, not the caller's fault:
/// 503 fits it better); messages never echo a signature, and untrusted strings are clipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing header {header}")]
    MissingHeader { header: &'static str },

    /// Sent twice (any spelling of the name): refused rather than guessing which one counts.
    #[error("header {header} appears more than once")]
    DuplicateHeader { header: &'static str },

    #[error("header {header}: {reason}")]
    BadHeader {
        header: &'static str,
        reason: String,
    },

    #[error("unsupported {header} {value:?} (expected {expected:?})")]
    UnsupportedVersion {
        header: &'static str,
        value: String,
        expected: &'static str,
    },

    #[error("unsupported signature scheme {value:?} (expected sr25519 or ed25519)")]
    UnsupportedScheme { value: String },

    #[error("{what} is not a valid SS58 address with prefix 42: {reason}")]
    BadSs58 { what: &'static str, reason: String },

    #[error("signature is not \"0x\" followed by hex digits: {reason}")]
    SignatureNotHex { reason: String },

    #[error("signature must be 64 bytes, got {len}")]
    SignatureLength { len: usize },

    #[error("signature does not verify against hotkey {hotkey}")]
    BadSignature { hotkey: String },

    /// btauth/1: the request names no receiver and this server requires one.
    #[error("missing X-Bittensor-Receiver: this server accepts only receiver-bound requests")]
    MissingReceiver,

    #[error("request was signed for receiver {got}, not for this server ({expected})")]
    WrongReceiver { expected: String, got: String },

    #[error(transparent)]
    Nonce(#[from] NonceError),
}

/// The verdicts of a [`ReplayStore`](super::ReplayStore).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    #[error(
        "nonce {nonce} is stale: more than {max_age_ns} ns before now ({now}) or older than \
         entries already forgotten"
    )]
    Stale {
        nonce: i64,
        now: i64,
        max_age_ns: i64,
    },

    #[error(
        "nonce {nonce} is in the future: more than {max_future_ns} ns after now ({now}); check \
         the caller's clock"
    )]
    Future {
        nonce: i64,
        now: i64,
        max_future_ns: i64,
    },

    #[error("nonce {nonce} from {caller} was already accepted: replay")]
    Replayed { caller: String, nonce: i64 },

    /// The store is full of entries still inside the window; evicting one would let its replay
    /// pass, so the request is refused instead. Retrying after a few seconds succeeds.
    #[error("replay store is full ({scope}: {cap} nonces inside the window); retry shortly")]
    Busy { scope: BusyScope, cap: usize },
}

/// Which cap of the store was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusyScope {
    /// This caller has too many live nonces (one client flooding).
    Caller,
    /// All callers together.
    Global,
}

impl std::fmt::Display for BusyScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Caller => "per-caller cap",
            Self::Global => "global cap",
        })
    }
}

pub(crate) fn bad_header(header: &'static str, reason: impl Into<String>) -> AuthError {
    AuthError::BadHeader {
        header,
        reason: reason.into(),
    }
}

pub(crate) fn clipped(s: &str) -> String {
    clip(s)
}
