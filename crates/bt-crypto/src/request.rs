//! Signing and verifying `Forward`/`Backward` requests (`TensorMessage`).
//!
//! The caller signs `request_digest(caller, receiver, nonce, tensors_hash(tensors), method)`
//! with plain Ed25519. Binding the receiver's synapse key stops a request for one synapse from
//! being replayed at another; binding the method stops a `Forward` from being replayed as a
//! `Backward`; binding the tensors hash stops a man in the middle from swapping the payload
//! (Release 1 bound none of these). Nonce freshness and uniqueness are checked separately by
//! [`ReplayGuard`](crate::ReplayGuard), *after* the signature, so an unauthenticated request can
//! never move a caller's nonce floor.
//!
//! One synapse key may be served by several axons (replicas of one operator), each with its own
//! nonce table, so the v1 digest still lets a request captured on its way to one replica be
//! replayed at another. The v2 digest ([`bound_request_digest`], tag
//! `bittensor/tensor-request/v2`) also binds the endpoint the caller dialled ([`Dialled`]),
//! which each axon checks against its own. Which one a signature covers is said by the request's
//! `bt-digest` metadata ([`DIGEST_HEADER`]); the two tags differ, so a signature of one never
//! verifies as the other.

use bt_wire::{Tensor, TensorMessage};
use ed25519_dalek::{Signature, VerifyingKey};

use crate::dialled::Dialled;
use crate::error::clip;
use crate::keys::parse_signature;
use crate::transcript::{Transcript, TranscriptHash};
use crate::{CryptoError, NeuronKey, PublicKey};

pub const TENSORS_TAG: &[u8] = b"bittensor/tensors/v1";
/// Tag of the BLAKE3 tensors hash (version-2 sessions, `docs/protocol.md`).
pub const TENSORS_BLAKE3_TAG: &[u8] = b"bittensor/tensors/v2";
pub const REQUEST_TAG: &[u8] = b"bittensor/tensor-request/v1";
/// Tag of the v2 request digest, which binds the endpoint dialled too.
pub const REQUEST_TAG_V2: &[u8] = b"bittensor/tensor-request/v2";
/// gRPC metadata of the v2 digest. On an axon's answer, `2`: it accepts v2 signatures. On a
/// request, the digest version its signatures cover: `2`, or absent (or `1`) for v1.
pub const DIGEST_HEADER: &str = "bt-digest";

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

/// The v2 request digest: the v1 layout under its own tag, with the endpoint the caller dialled
/// (`lp(host) || u16_le(port)`, the host normalised as [`Dialled`] says) after the synapse key.
/// A request signed over it verifies only at an axon reached at that endpoint.
pub fn bound_request_digest(
    caller_hex: &str,
    synapse_key_hex: &str,
    dialled: &Dialled,
    nonce: i64,
    payload_hash: &[u8; 32],
    method: RpcMethod,
) -> [u8; 32] {
    let mut t = Transcript::new(REQUEST_TAG_V2);
    t.bytes(method.as_str().as_bytes())
        .bytes(caller_hex.as_bytes())
        .bytes(synapse_key_hex.as_bytes())
        .bytes(dialled.host().as_bytes())
        .u16(dialled.port())
        .i64(nonce)
        .bytes(payload_hash);
    t.finish()
}

/// The v2 digest when `dialled` is given, else the v1 digest.
pub fn request_digest_for(
    caller_hex: &str,
    synapse_key_hex: &str,
    dialled: Option<&Dialled>,
    nonce: i64,
    payload_hash: &[u8; 32],
    method: RpcMethod,
) -> [u8; 32] {
    match dialled {
        Some(d) => {
            bound_request_digest(caller_hex, synapse_key_hex, d, nonce, payload_hash, method)
        }
        None => request_digest(caller_hex, synapse_key_hex, nonce, payload_hash, method),
    }
}

/// Set `neuron_key`, `nounce` and `signature` of `msg` (v1 digest). `synapse_key` (the receiver)
/// and the tensors must already be final: changing them afterwards invalidates the signature.
pub fn sign_request(key: &NeuronKey, msg: &mut TensorMessage, method: RpcMethod, nonce: i64) {
    sign_request_bound(key, msg, method, nonce, None);
}

/// [`sign_request`] over the v2 digest for the endpoint `dialled` (v1 when `None`). The request
/// must then say so (`bt-digest: 2`).
pub fn sign_request_bound(
    key: &NeuronKey,
    msg: &mut TensorMessage,
    method: RpcMethod,
    nonce: i64,
    dialled: Option<&Dialled>,
) {
    msg.neuron_key = key.public_hex();
    msg.nounce = nonce;
    let digest = message_digest_bound(msg, method, dialled);
    msg.signature = bytes::Bytes::copy_from_slice(&key.sign(&digest));
}

/// The v1 request digest of a whole message: what a signature signs and a version-1 session
/// MAC covers.
pub fn message_digest(msg: &TensorMessage, method: RpcMethod) -> [u8; 32] {
    message_digest_with(msg, method, PayloadHash::Sha256)
}

/// The signed digest of a whole message: v2 for the endpoint `dialled`, else v1.
pub fn message_digest_bound(
    msg: &TensorMessage,
    method: RpcMethod,
    dialled: Option<&Dialled>,
) -> [u8; 32] {
    request_digest_for(
        &msg.neuron_key,
        &msg.synapse_key,
        dialled,
        msg.nounce,
        &tensors_hash(&msg.tensors),
        method,
    )
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
    verify_request_bound(msg, method, None)
}

/// [`verify_request`] of a signature over the v2 digest for `dialled` (v1 when `None`). The
/// caller must have checked that `dialled` is one of its own endpoints: that is what stops a
/// replay at another axon.
pub fn verify_request_bound(
    msg: &TensorMessage,
    method: RpcMethod,
    dialled: Option<&Dialled>,
) -> Result<PublicKey, CryptoError> {
    let (caller, sig, digest) = prepare(msg, method, dialled, &mut parse_caller_key)?;
    caller.verify(&digest, &sig.to_bytes())?;
    Ok(caller)
}

fn prepare(
    msg: &TensorMessage,
    method: RpcMethod,
    dialled: Option<&Dialled>,
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
    Ok((caller, sig, message_digest_bound(msg, method, dialled)))
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
    caller_key: impl FnMut(&str) -> Result<PublicKey, CryptoError>,
) -> Vec<Result<PublicKey, CryptoError>> {
    let v1: Vec<(&TensorMessage, RpcMethod, Option<&Dialled>)> = requests
        .iter()
        .map(|&(m, method)| (m, method, None))
        .collect();
    verify_bound_requests_batch_with(&v1, caller_key)
}

/// [`verify_requests_batch_with`] of requests each signed over the v1 digest (`None`) or the
/// v2 digest for the endpoint given (see [`verify_request_bound`]).
pub fn verify_bound_requests_batch_with(
    requests: &[(&TensorMessage, RpcMethod, Option<&Dialled>)],
    mut caller_key: impl FnMut(&str) -> Result<PublicKey, CryptoError>,
) -> Vec<Result<PublicKey, CryptoError>> {
    let mut results: Vec<Result<PublicKey, CryptoError>> = Vec::with_capacity(requests.len());
    let mut digests: Vec<[u8; 32]> = Vec::with_capacity(requests.len());
    let mut sigs: Vec<Signature> = Vec::with_capacity(requests.len());
    let mut keys: Vec<VerifyingKey> = Vec::with_capacity(requests.len());
    let mut pending: Vec<usize> = Vec::with_capacity(requests.len());
    for (i, (msg, method, dialled)) in requests.iter().enumerate() {
        match prepare(msg, *method, *dialled, &mut caller_key) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(dialled: Option<&Dialled>) -> (NeuronKey, TensorMessage) {
        let key = NeuronKey::from_seed([3; 32]);
        let mut msg = TensorMessage {
            synapse_key: NeuronKey::from_seed([4; 32]).public_hex(),
            tensors: vec![Tensor {
                buffer: vec![5u8; 8].into(),
                shape: vec![2],
                dtype: bt_wire::DataType::Float32 as i32,
                ..Default::default()
            }],
            ..Default::default()
        };
        sign_request_bound(&key, &mut msg, RpcMethod::Forward, 7, dialled);
        (key, msg)
    }

    fn at(host: &str, port: u16) -> Dialled {
        Dialled::new(host, port).unwrap()
    }

    #[test]
    fn v1_and_v2_digests_differ_and_v2_binds_host_and_port() {
        let (_, msg) = signed(None);
        let a = at("10.0.0.1", 8091);
        let v1 = message_digest(&msg, RpcMethod::Forward);
        let v2 = message_digest_bound(&msg, RpcMethod::Forward, Some(&a));
        assert_ne!(v1, v2);
        assert_eq!(message_digest_bound(&msg, RpcMethod::Forward, None), v1);
        for other in [
            at("10.0.0.2", 8091),
            at("10.0.0.1", 8092),
            at("miner", 8091),
        ] {
            assert_ne!(
                message_digest_bound(&msg, RpcMethod::Forward, Some(&other)),
                v2,
                "{other}"
            );
        }
        // The host is bound as normalised: the caller's and the authority's forms agree.
        assert_eq!(
            message_digest_bound(&msg, RpcMethod::Forward, Some(&at("[FE80::1]", 1))),
            message_digest_bound(
                &msg,
                RpcMethod::Forward,
                Some(&Dialled::from_authority("[fe80::1]:1").unwrap())
            )
        );
        // Port and host are separate fields: moving a digit from one to the other changes it.
        assert_ne!(
            message_digest_bound(&msg, RpcMethod::Forward, Some(&at("h1", 23))),
            message_digest_bound(&msg, RpcMethod::Forward, Some(&at("h", 123)))
        );
    }

    #[test]
    fn a_signature_verifies_only_under_its_own_version_and_endpoint() {
        let a = at("127.0.0.1", 1000);
        let b = at("127.0.0.1", 1001);
        let (key, v2) = signed(Some(&a));
        assert_eq!(
            verify_request_bound(&v2, RpcMethod::Forward, Some(&a)).unwrap(),
            key.public()
        );
        assert!(verify_request(&v2, RpcMethod::Forward).is_err());
        assert!(verify_request_bound(&v2, RpcMethod::Forward, Some(&b)).is_err());
        assert!(verify_request_bound(&v2, RpcMethod::Backward, Some(&a)).is_err());

        let (_, v1) = signed(None);
        assert!(verify_request(&v1, RpcMethod::Forward).is_ok());
        assert!(verify_request_bound(&v1, RpcMethod::Forward, Some(&a)).is_err());

        // Batched, each request under its own claim; a wrong claim fails only its request.
        let verdicts = verify_bound_requests_batch_with(
            &[
                (&v2, RpcMethod::Forward, Some(&a)),
                (&v1, RpcMethod::Forward, None),
                (&v2, RpcMethod::Forward, Some(&b)),
                (&v1, RpcMethod::Forward, Some(&a)),
            ],
            parse_caller_key,
        );
        let ok: Vec<bool> = verdicts.iter().map(Result::is_ok).collect();
        assert_eq!(ok, [true, true, false, false]);
    }
}
