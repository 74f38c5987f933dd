//! Neuron identity and the authentication of the tensor protocol.
//!
//! Bird's-eye view (the exact byte layouts are in `docs/protocol.md`):
//!
//! - [`NeuronKey`] / [`PublicKey`]: Ed25519 neuron keys, stored as a small JSON file with mode
//!   0600, written atomically; on the wire a key is `"0x"` + 64 lower-case hex digits.
//! - Requests ([`sign_request`], [`verify_request`], [`verify_requests_batch`]): the caller signs
//!   a SHA-256 digest binding caller, receiver, nonce, method and the tensors
//!   ([`tensors_hash`]); its v2 ([`sign_request_bound`]) binds the endpoint dialled too
//!   ([`Dialled`]), so that a request cannot be replayed at another axon serving the same
//!   synapse key. Batch verification roughly halves the CPU per signature when requests queue
//!   up.
//! - Nonces: [`NonceClock`] issues strictly increasing nanosecond timestamps; [`ReplayGuard`]
//!   (pure, time passed in, bounded memory) accepts each `(caller, nonce)` at most once and only
//!   inside a freshness window.
//! - Sessions ([`session`]): one signed handshake carrying an X25519 share, then HMAC-SHA256
//!   per request with a counter; the axon keeps a bounded [`session::SessionTable`]. Version-2
//!   sessions hash the payload with BLAKE3 ([`tensors_hash_blake3`]) instead of SHA-256.
//! - Synapse definitions (gossip entries): [`pow`] (proof of work in leading zero bits over all
//!   fields incl. `nounce`) and [`sign_synapse`] / [`verify_synapse`].
//! - [`wallet`]: sr25519 coldkeys/hotkeys with SS58 addresses, for the chain.
//! - [`http_auth`]: the HTTP Synapse protocol's signatures (SDK v10 headers and `btauth/1`) with
//!   a bounded replay store.
//!
//! Everything here is CPU-bound and synchronous; async callers should run verification of large
//! payloads (hashing) and proof-of-work solving on a blocking pool.
//!
//! ```
//! use bt_crypto::{NeuronKey, NonceClock, ReplayGuard, RpcMethod, sign_request, verify_request};
//! let caller = NeuronKey::from_seed([1; 32]);
//! let mut msg = bt_wire::TensorMessage {
//!     synapse_key: NeuronKey::from_seed([2; 32]).public_hex(),
//!     ..Default::default()
//! };
//! let clock = NonceClock::new();
//! let nonce = clock.next();
//! sign_request(&caller, &mut msg, RpcMethod::Forward, nonce);
//!
//! // Receiver: signature first, then the nonce.
//! let who = verify_request(&msg, RpcMethod::Forward).unwrap();
//! let mut guard = ReplayGuard::default();
//! guard.check_and_record(&who, msg.nounce, nonce).unwrap();
//! assert!(guard.check_and_record(&who, msg.nounce, nonce).is_err()); // replay
//! assert!(verify_request(&msg, RpcMethod::Backward).is_err()); // wrong method
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod dialled;
mod error;
pub mod http_auth;
mod keyfile;
mod keys;
mod nonce;
pub mod pow;
mod request;
pub mod session;
mod synapse;
mod transcript;
pub mod wallet;

#[cfg(test)]
mod vectors;

pub use dialled::{Dialled, MAX_HOST_BYTES};
pub use error::CryptoError;
pub use keyfile::MAX_KEY_FILE_BYTES;
pub use keys::{ED25519_KEY_TYPE, NeuronKey, PublicKey};
pub use nonce::{NonceClock, ReplayConfig, ReplayGuard, set_clock_offset_ns, unix_nanos};
pub use request::{
    DIGEST_HEADER, PayloadHash, REQUEST_TAG, REQUEST_TAG_V2, RpcMethod, TENSORS_BLAKE3_TAG,
    TENSORS_TAG, bound_request_digest, message_digest, message_digest_bound, message_digest_with,
    parse_caller_key, request_digest, request_digest_for, sign_request, sign_request_bound,
    tensors_hash, tensors_hash_blake3, verify_bound_requests_batch_with, verify_request,
    verify_request_bound, verify_requests_batch, verify_requests_batch_with,
};
pub use synapse::{
    SYNAPSE_PROOF_TAG, SYNAPSE_SIGNATURE_TAG, prove_synapse, seal_synapse, sign_synapse,
    synapse_proof_digest, synapse_signing_digest, verify_synapse, verify_synapse_proof,
};
