//! Building one call's request: the payload hash its authentication needs, the signature, the
//! session proof (as a header, or as a trailer computed while the body is sent), and the
//! remaining deadline as `grpc-timeout`.

use std::sync::Arc;

use bt_crypto::session::{
    LATE_HEADER, OFFER_HEADER, SESSION_HEADER, SessionVersion, VERSION_HEADER,
};
use bt_crypto::{
    DIGEST_HEADER, Dialled, PayloadHash, RpcMethod, request_digest, request_digest_for,
};
use bt_tensor::compression::CODECS_HEADER;
use bt_wire::TensorMessage;
use tokio::time::Instant;
use tonic::Request;
use tonic::metadata::MetadataValue;

use crate::call::CallSpec;
use crate::session::{ClientSession, Plan};
use crate::shared::Shared;
use crate::trailer::LateTrailers;

impl Shared {
    /// The request of one call, authenticated as `plan` says, with the remaining deadline as
    /// `grpc-timeout`. The payload is hashed as the plan needs it, at most once per kind for
    /// all the calls that share `spec.hashes` (64 KiB and more on the blocking pool); under a
    /// version-2 session with `late_ok`, a large payload's hash runs while the request is sent
    /// and its proof follows as a trailer. A signed request signs the v2 digest for `dialled`
    /// (and says so in `bt-digest`) when it is given, else v1. Returns the plan back (an
    /// offer's ticket must outlive the call).
    pub(crate) async fn request(
        &self,
        spec: &CallSpec,
        tensors: Vec<bt_wire::Tensor>,
        plan: Plan,
        late_ok: bool,
        dialled: Option<&Dialled>,
    ) -> (Request<TensorMessage>, Plan) {
        let mut msg = TensorMessage {
            version: crate::PROTOCOL_VERSION.to_owned(),
            neuron_key: self.key_hex.clone(),
            synapse_key: spec.endpoint.synapse_key.clone(),
            nounce: 0,
            signature: bytes::Bytes::new(),
            tensors,
        };
        let mut header = None;
        let mut version_header = None;
        let mut session_header = None;
        let mut late = None;
        let mut signed_v2 = false;
        let plan = match plan {
            Plan::Unsigned => {
                // Unsigned (Release 1): a nonce anyway, as Release-1 clients sent one.
                msg.nounce = self.nonces.next();
                Plan::Unsigned
            }
            Plan::Session(session) => {
                let counter = (late_ok && session.proves_late(&msg.tensors))
                    .then(|| session.next_counter())
                    .flatten();
                if let Some(counter) = counter {
                    late = Some(late_proof(spec, &msg, &session, counter));
                    header = Some((LATE_HEADER, session.hint().encode()));
                    Plan::Session(session)
                } else {
                    let kind = session.payload_hash(&msg.tensors);
                    let hash = spec.hashes.get(kind, &msg.tensors).await;
                    let digest = message_digest(&msg, &hash, spec.method);
                    match session.prove(&digest) {
                        Some(proof) => {
                            session_header = Some(proof.encode_bytes());
                            Plan::Session(session)
                        }
                        // Counters used up: sign this one; the next call opens a new session.
                        None => {
                            let sha = spec.hashes.get(PayloadHash::Sha256, &msg.tensors).await;
                            let _ = self.sign(&mut msg, &sha, spec.method, dialled);
                            signed_v2 = dialled.is_some();
                            Plan::Signed
                        }
                    }
                }
            }
            plan @ (Plan::Signed | Plan::Offer(_)) => {
                let hash = spec.hashes.get(PayloadHash::Sha256, &msg.tensors).await;
                let d = self.sign(&mut msg, &hash, spec.method, dialled);
                signed_v2 = dialled.is_some();
                if let Plan::Offer(ticket) = &plan
                    && let Some(init) = ticket.initiator()
                {
                    header = Some((OFFER_HEADER, init.offer(&self.key, &d).encode()));
                    if init.max_version() > SessionVersion::V1 {
                        version_header = Some(init.max_version().header_value());
                    }
                }
                plan
            }
        };
        let mut request = Request::new(msg);
        if let Some((name, value)) = header
            && let Ok(value) = value.parse()
        {
            request.metadata_mut().insert(name, value);
        }
        if let Some(value) = version_header {
            request
                .metadata_mut()
                .insert(VERSION_HEADER, MetadataValue::from_static(value));
        }
        if let Some(bytes) = session_header
            && let Ok(mut value) = MetadataValue::try_from(&bytes[..])
        {
            // Never indexed by HPACK: a value that never repeats would only churn both ends'
            // header tables (and push out the entries that do repeat).
            value.set_sensitive(true);
            request.metadata_mut().insert(SESSION_HEADER, value);
        }
        if let Some(late) = late {
            request.extensions_mut().insert(late);
        }
        if signed_v2 {
            request
                .metadata_mut()
                .insert(DIGEST_HEADER, MetadataValue::from_static("2"));
        }
        if let Some(offer) = &spec.codecs.offer {
            request.metadata_mut().insert(CODECS_HEADER, offer.clone());
        }
        // The server sees the same deadline we enforce (`Endpoint::timeout` would not send it).
        request.set_timeout(spec.deadline.saturating_duration_since(Instant::now()));
        (request, plan)
    }

    /// A fresh nonce and the signature (v2 for `dialled`, else v1); returns the signed digest.
    /// The nonce is drawn as late as possible so that it is fresh when it arrives.
    fn sign(
        &self,
        msg: &mut TensorMessage,
        hash: &[u8; 32],
        method: RpcMethod,
        dialled: Option<&Dialled>,
    ) -> [u8; 32] {
        msg.nounce = self.nonces.next();
        let d = request_digest_for(
            &msg.neuron_key,
            &msg.synapse_key,
            dialled,
            msg.nounce,
            hash,
            method,
        );
        msg.signature = bytes::Bytes::copy_from_slice(&self.key.sign(&d));
        d
    }

    /// How the next request to `lease`'s axon authenticates.
    pub(crate) fn plan(&self, lease: &crate::pool::Lease) -> Plan {
        if !self.cfg.sign_requests {
            Plan::Unsigned
        } else if !self.cfg.sessions {
            Plan::Signed
        } else {
            lease.session.plan(self.cfg.session_version)
        }
    }
}

/// The digest a request's signature or session MAC covers, its payload hashed as `hash`.
fn message_digest(msg: &TensorMessage, hash: &[u8; 32], method: RpcMethod) -> [u8; 32] {
    request_digest(&msg.neuron_key, &msg.synapse_key, msg.nounce, hash, method)
}

/// A `bt-session` trailer value, never indexed by HPACK (as the header).
fn session_value(bytes: &[u8]) -> Option<http::HeaderValue> {
    let mut value = http::HeaderValue::from_bytes(bytes).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// The session proof of a large request, hashed on the blocking pool while the request is
/// sent, and sent after its body as a trailer ([`crate::trailer`]).
fn late_proof(
    spec: &CallSpec,
    msg: &TensorMessage,
    session: &Arc<ClientSession>,
    counter: u64,
) -> LateTrailers {
    // Started now, so that the hash runs while the request is sent.
    let hash = spec
        .hashes
        .get(session.payload_hash(&msg.tensors), &msg.tensors);
    let session = session.clone();
    let method = spec.method;
    // The digest's fields; the payload is bound through its hash.
    let fields = TensorMessage {
        neuron_key: msg.neuron_key.clone(),
        synapse_key: msg.synapse_key.clone(),
        nounce: msg.nounce,
        ..TensorMessage::default()
    };
    LateTrailers::spawn(async move {
        let proof = session.prove_with(counter, &message_digest(&fields, &hash.await, method));
        let mut trailers = http::HeaderMap::new();
        if let Some(value) = session_value(&proof.encode_bytes()) {
            trailers.insert(SESSION_HEADER, value);
        }
        trailers
    })
}
