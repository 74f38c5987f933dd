//! Signing and verifying `Forward`/`Backward` requests (`TensorMessage`).
//!
//! The caller signs `request_digest(caller, receiver, nonce, tensors_hash(tensors), method)`
//! with plain Ed25519. Binding the receiver's synapse key stops a request for one axon from being
//! replayed at another; binding the method stops a `Forward` from being replayed as a `Backward`;
//! binding the tensors hash stops a man in the middle from swapping the payload (Release 1 bound
//! none of these). Nonce freshness and uniqueness are checked separately by
//! [`ReplayGuard`](crate::ReplayGuard), *after* the signature, so an unauthenticated request can
//! never move a caller's nonce floor.

use bt_wire::{Tensor, TensorMessage};
use ed25519_dalek::{Signature, VerifyingKey};

use crate::error::clip;
use crate::keys::parse_signature;
use crate::transcript::{Transcript, TranscriptHash};
use crate::{CryptoError, NeuronKey, PublicKey};

pub const TENSORS_TAG: &[u8] = b"bittensor/tensors/v1";
/// Tag of the BLAKE3 tensors hash (version-2 sessions, `docs/protocol.md`).
pub const TENSORS_BLAKE3_TAG: &[u8] = b"bittensor/tensors/v2";
pub const REQUEST_TAG: &[u8] = b"bittensor/tensor-request/v1";

/// Which RPC a signature authorises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RpcMethod {
    Forward,
    Backward,
}

impl RpcMethod {
    /// The bytes bound into the digest: the gRPC method name.
    pub fn as_str(self) -> &'static str {
        match self {
            RpcMethod::Forward => "Forward",
            RpcMethod::Backward => "Backward",
        }
    }
}

/// Which hash turns the tensors of a request into the 32 bytes a request digest binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PayloadHash {
    /// [`tensors_hash`]: signatures and version-1 sessions.
    Sha256,
    /// [`tensors_hash_blake3`]: version-2 sessions.
    Blake3,
}

impl PayloadHash {
    pub fn of(self, tensors: &[Tensor]) -> [u8; 32] {
        match self {
            PayloadHash::Sha256 => tensors_hash(tensors),
            PayloadHash::Blake3 => tensors_hash_blake3(tensors),
        }
    }
}

/// SHA-256 over every tensor's dtype, modality, requires_grad, shape and buffer, in order.
/// `Tensor.version` is deliberately not bound: it carries no meaning we act on.
pub fn tensors_hash(tensors: &[Tensor]) -> [u8; 32] {
    absorb_tensors(Transcript::new(TENSORS_TAG), tensors)
}

/// [`tensors_hash`]'s layout under BLAKE3 and its own tag: what version-2 sessions bind
/// (several times SHA-256's speed on a large tensor, more so with AVX-512: README "Benchmarks",
/// crypto).
pub fn tensors_hash_blake3(tensors: &[Tensor]) -> [u8; 32] {
    absorb_tensors(
        Transcript::<blake3::Hasher>::with_hash(TENSORS_BLAKE3_TAG),
        tensors,
    )
}

fn absorb_tensors<H: TranscriptHash>(mut t: Transcript<H>, tensors: &[Tensor]) -> [u8; 32] {
    t.u64(tensors.len() as u64);
    for tensor in tensors {
        t.i32(tensor.dtype)
            .i32(tensor.modality)
            .u8(u8::from(tensor.requires_grad))
            .u64(tensor.shape.len() as u64);
        for &dim in &tensor.shape {
            t.i64(dim);
        }
        t.bytes(&tensor.buffer);
    }
    t.finish()
}

/// The 32-byte message a caller signs for one request (layout in `docs/protocol.md`).
/// The keys are bound as the exact strings sent on the wire.
pub fn request_digest(
    caller_hex: &str,
    synapse_key_hex: &str,
    nonce: i64,
    payload_hash: &[u8; 32],
    method: RpcMethod,
) -> [u8; 32] {
    let mut t = Transcript::new(REQUEST_TAG);
    t.bytes(method.as_str().as_bytes())
        .bytes(caller_hex.as_bytes())
        .bytes(synapse_key_hex.as_bytes())
        .i64(nonce)
        .bytes(payload_hash);
    t.finish()
}

/// Set `neuron_key`, `nounce` and `signature` of `msg`. `synapse_key` (the receiver) and the
/// tensors must already be final: changing them afterwards invalidates the signature.
pub fn sign_request(key: &NeuronKey, msg: &mut TensorMessage, method: RpcMethod, nonce: i64) {
    msg.neuron_key = key.public_hex();
    msg.nounce = nonce;
    let digest = message_digest(msg, method);
    msg.signature = bytes::Bytes::copy_from_slice(&key.sign(&digest));
}

/// The v1 request digest of a whole message: what a signature signs and a version-1 session
/// MAC covers.
pub fn message_digest(msg: &TensorMessage, method: RpcMethod) -> [u8; 32] {
    message_digest_with(msg, method, PayloadHash::Sha256)
}

/// The request digest of a whole message with its tensors hashed by `payload`.
pub fn message_digest_with(
    msg: &TensorMessage,
    method: RpcMethod,
    payload: PayloadHash,
) -> [u8; 32] {
    request_digest(
        &msg.neuron_key,
        &msg.synapse_key,
        msg.nounce,
        &payload.of(&msg.tensors),
        method,
    )
}

/// Check the request's signature only (not nonce freshness: see [`crate::ReplayGuard`]).
/// Returns the authenticated caller key.
pub fn verify_request(msg: &TensorMessage, method: RpcMethod) -> Result<PublicKey, CryptoError> {
    let (caller, sig, digest) = prepare(msg, method, &mut parse_caller_key)?;
    caller.verify(&digest, &sig.to_bytes())?;
    Ok(caller)
}

fn prepare(
    msg: &TensorMessage,
    method: RpcMethod,
    caller_key: &mut impl FnMut(&str) -> Result<PublicKey, CryptoError>,
) -> Result<(PublicKey, Signature, [u8; 32]), CryptoError> {
    if msg.neuron_key.is_empty() {
        return Err(CryptoError::Unsigned {
            missing: "neuron_key",
        });
    }
    if msg.signature.is_empty() {
        return Err(CryptoError::Unsigned {
            missing: "signature",
        });
    }
    let caller = caller_key(&msg.neuron_key)?;
    let sig = parse_signature(&msg.signature)?;
    Ok((caller, sig, message_digest(msg, method)))
}

/// A request's `neuron_key` as a caller key: `0x` + 64 hex digits of a point that is not of
/// small order. Decompressing the point is a good part of a verification's cost, so a server
/// that sees the same callers again may cache the result (see [`verify_requests_batch_with`]).
pub fn parse_caller_key(neuron_key: &str) -> Result<PublicKey, CryptoError> {
    let caller = PublicKey::from_hex(neuron_key)?;
    if caller.verifying_key().is_weak() {
        return Err(CryptoError::BadPublicKey {
            key: clip(neuron_key),
            reason: "small-order (weak) key".into(),
        });
    }
    Ok(caller)
}

/// Verify many queued requests at once with Ed25519 batch verification (less CPU per signature than
/// one-by-one verification). Returns one result per request, in order. If the batch fails, the
/// requests are re-verified one by one so that one bad request does not sink the others.
///
/// Batch verification uses the cofactored equation while [`PublicKey::verify`] is cofactorless
/// and strict; they can disagree only on signatures the *signer* crafted with small-order
/// components, which gains the signer nothing (it can already sign anything it likes).
pub fn verify_requests_batch(
    requests: &[(&TensorMessage, RpcMethod)],
) -> Vec<Result<PublicKey, CryptoError>> {
    verify_requests_batch_with(requests, parse_caller_key)
}

/// [`verify_requests_batch`] with the caller keys obtained from `caller_key`, which must
/// behave like [`parse_caller_key`] (typically: a bounded cache in front of it).
pub fn verify_requests_batch_with(
    requests: &[(&TensorMessage, RpcMethod)],
    mut caller_key: impl FnMut(&str) -> Result<PublicKey, CryptoError>,
) -> Vec<Result<PublicKey, CryptoError>> {
    let mut results: Vec<Result<PublicKey, CryptoError>> = Vec::with_capacity(requests.len());
    let mut digests: Vec<[u8; 32]> = Vec::with_capacity(requests.len());
    let mut sigs: Vec<Signature> = Vec::with_capacity(requests.len());
    let mut keys: Vec<VerifyingKey> = Vec::with_capacity(requests.len());
    let mut pending: Vec<usize> = Vec::with_capacity(requests.len());
    for (i, (msg, method)) in requests.iter().enumerate() {
        match prepare(msg, *method, &mut caller_key) {
            Ok((caller, sig, digest)) => {
                keys.push(*caller.verifying_key());
                sigs.push(sig);
                digests.push(digest);
                pending.push(i);
                results.push(Ok(caller));
            }
            Err(e) => results.push(Err(e)),
        }
    }
    let batch_ok = match pending.len() {
        0 => true,
        // A batch of one costs more than a single verification.
        1 => false,
        _ => {
            let msgs: Vec<&[u8]> = digests.iter().map(|d| d.as_slice()).collect();
            ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok()
        }
    };
    if !batch_ok {
        for (j, &i) in pending.iter().enumerate() {
            if let Ok(caller) = &results[i]
                && let Err(e) = caller.verify(&digests[j], &sigs[j].to_bytes())
            {
                results[i] = Err(e);
            }
        }
    }
    results
}
