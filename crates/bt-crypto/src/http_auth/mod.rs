//! Authentication of the HTTP Synapse protocol: the SDK v10 signature headers and their SDK 11
//! successor `btauth/1`, sharing one bounded replay store. Pure and synchronous: the caller
//! passes `now` (nanoseconds since the epoch) so tests control time.
//!
//! **SDK v10** ([`verify_v10_request`]): the dendrite signs
//! `"{nonce}.{dendrite_hotkey}.{axon_hotkey}.{dendrite_uuid}.{body_hash}"` (decimal ns nonce,
//! SS58 prefix 42) with sr25519, context `substrate`; header value `0x` + 128 hex digits. The
//! SDK's axon accepts a first nonce iff `nonce > now - 4 s - timeout` (timeout 12 s by default),
//! skips that test when the unsigned version header is absent, and then demands each nonce be
//! above the last one of that `hotkey:uuid`. We always check freshness (default 16 s back, see
//! [`ReplayStoreConfig::sdk_v10`]) and accept any unseen nonce inside the window instead of the
//! monotonic rule, so concurrent requests delivered out of order all pass.
//!
//! **btauth/1** ([`sign_btauth`], [`verify_btauth`]), as `bittensor` 11.3.0's `http_auth`
//! implements it. Headers (names case-insensitive): `X-Bittensor-Version: 1`,
//! `X-Bittensor-Hotkey` (sender SS58), `X-Bittensor-Receiver` (optional; required by default),
//! `X-Bittensor-Nonce` (decimal ns), `X-Bittensor-Crypto` (absent = sr25519; `ed25519` is the
//! other scheme; names in any case or wallet crypto types `1`/`0`), `X-Bittensor-Signature`
//! (hex, `0x` optional). Signed bytes: the 8 lines `btauth/1`, canonical scheme name,
//! upper-cased method, path+query exactly as sent, lower-case hex SHA-256 of the raw body,
//! nonce, sender SS58, receiver SS58 or `-`, joined by `\n` without a trailing newline.
//! Freshness 10 s back, 2 s forward, both edges inclusive; replay keyed on (hotkey, nonce).
//!
//! Where we are stricter than the SDK (its own signers never produce what we refuse): nonces
//! are plain ASCII digits (Python's `int()` also takes signs, spaces, `_`); SS58 addresses must
//! have prefix 42 (SDK 11 takes any); a btauth header sent twice is refused (SDK: last wins);
//! signature hex has no embedded whitespace; Ed25519 uses strict verification.
//!
//! The SDK 11 has no axon: `verify` raises `MalformedAuth`, `WrongReceiver`, `StaleRequest`,
//! `BadSignature` or `ReplayedRequest` (all `AuthError`) and leaves the status (401/403) to the
//! application. Our [`AuthError`] keeps finer kinds; all map to 401 except
//! [`NonceError::Busy`] (our capacity, not the caller's fault).

mod btauth;
mod btauth_verify;
mod error;
mod fields;
mod replay;
mod response;
pub mod session;
mod v10;

#[cfg(test)]
mod btauth_tests;
#[cfg(test)]
mod session_vectors;
#[cfg(test)]
mod vectors;

pub use btauth::{
    BTAUTH_PROTOCOL, BTAUTH_VERSION, BtAuthPayload, BtAuthRequest, BtAuthSigner, HEADER_CRYPTO,
    HEADER_HOTKEY, HEADER_NONCE, HEADER_RECEIVER, HEADER_SIGNATURE, HEADER_VERSION, Scheme,
    sign_btauth,
};
pub use btauth_verify::{BtAuthCaller, BtAuthHeaders, BtAuthPolicy, verify_btauth};
pub use error::{AuthError, BusyScope, NonceError};
pub use fields::{parse_hotkey, parse_nonce, parse_signature};
pub use replay::{ReplayStore, ReplayStoreConfig, V10_ALLOWED_DELTA_NS, V10_DEFAULT_TIMEOUT_S};
pub use response::{RESPONSE_PROTOCOL, response_payload, sign_response, verify_response};
pub use v10::{
    V10_HOTKEY_HEADER, V10_NONCE_HEADER, V10_SIGNATURE_HEADER, V10Claim, V10Request, v10_message,
    v10_sign, v10_verify, verify_v10_batch, verify_v10_request,
};
