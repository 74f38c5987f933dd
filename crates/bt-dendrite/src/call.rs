//! One call to one remote synapse, from admission to a validated verdict.
//!
//! Order of the steps, and why: the circuit breaker first (a dead peer costs no slot and no
//! dial), then a concurrency slot, then a pooled connection, then signing (the nonce is drawn
//! as late as possible so it is fresh when it arrives), then the RPC with the remaining budget
//! sent as `grpc-timeout`. The whole sequence runs under one deadline.

use std::sync::{Arc, OnceLock};

use bt_crypto::session::{
    ACCEPT_HEADER, OFFER_HEADER, SESSION_HEADER, SessionAccept, SessionVersion, VERSION_HEADER,
};
use bt_crypto::{PayloadHash, RpcMethod, request_digest};
use bt_tensor::{Limits, Tensor};
use bt_wire::TensorMessage;
use bt_wire::bittensor_client::BittensorClient;
use std::sync::atomic::{AtomicU8, Ordering};
use tokio::time::Instant;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request};

use crate::breaker::Admission;
use crate::dendrite::Inner;
use crate::endpoint::Endpoint;
use crate::outcome::{BadResponse, Outcome, Unavailable};
use crate::pool::error_chain;
use crate::session::{ClientSession, Plan};
use crate::trailer::{LateTrailers, WithLateTrailers};

/// Responses larger than this are validated on the blocking pool: scanning tens of MiB for NaN
/// would otherwise stall an I/O thread.
const BLOCKING_VALIDATION_BYTES: usize = 1 << 20;
/// Longest status message we keep from a peer.
const MAX_MESSAGE_CHARS: usize = 256;

/// Everything needed to make one call.
pub(crate) struct CallSpec {
    pub endpoint: Endpoint,
    pub method: RpcMethod,
    pub tensors: Vec<bt_wire::Tensor>,
    /// The payload's hashes, shared by the calls that send the same tensors (one tensor
    /// broadcast to many peers is hashed once, not once per peer).
    pub hashes: Arc<PayloadHashes>,
    pub expect: Expect,
    pub deadline: Instant,
}

/// The hashes of one payload, each computed at most once, when a request first needs it:
/// SHA-256 for signed requests, version-1 sessions and small payloads; BLAKE3 for payloads of
/// 8 KiB and more in version-2 sessions.
#[derive(Default)]
pub(crate) struct PayloadHashes {
    sha256: OnceLock<[u8; 32]>,
    blake3: OnceLock<[u8; 32]>,
}

impl PayloadHashes {
    fn get(&self, kind: PayloadHash, tensors: &[bt_wire::Tensor]) -> [u8; 32] {
        let cell = match kind {
            PayloadHash::Sha256 => &self.sha256,
            PayloadHash::Blake3 => &self.blake3,
        };
        *cell.get_or_init(|| kind.of(tensors))
    }
}

/// What a valid answer looks like.
#[derive(Clone, Debug)]
pub(crate) struct Expect {
    /// First dimension of the answer (the request's batch size).
    pub batch: usize,
    /// The whole shape, when the caller knows it.
    pub shape: Option<Vec<usize>>,
}

// How far a call got, read after a deadline cut it short, to decide whether the peer is to
// blame (breaker failure) or we are (no slot in time).
const PHASE_QUEUED: u8 = 0;
const PHASE_DIALING: u8 = 1;
const PHASE_SENT: u8 = 2;

pub(crate) async fn call(inner: &Inner, mut spec: CallSpec) -> Outcome {
    let phase = AtomicU8::new(PHASE_QUEUED);
    let deadline = spec.deadline;
    // `attempt` borrows the spec, so the endpoint is still here after a timeout without a
    // clone per call.
    match tokio::time::timeout_at(deadline, attempt(inner, &mut spec, &phase)).await {
        Ok(outcome) => outcome,
        Err(_) => {
            if phase.load(Ordering::Relaxed) != PHASE_QUEUED {
                inner.report_failure(&spec.endpoint);
            }
            Outcome::Timeout
        }
    }
}

async fn attempt(inner: &Inner, spec: &mut CallSpec, phase: &AtomicU8) -> Outcome {
    if let Admission::Reject { retry_in } = inner.admit(&spec.endpoint) {
        return Outcome::Unavailable(Unavailable::CircuitOpen { retry_in });
    }
    // The per-axon slot first: calls queued behind one busy axon must not sit on global
    // slots that calls to other axons could use. Neither semaphore is ever closed; if one
    // were, failing the call would be the right answer.
    let host = spec.endpoint.host();
    let host_slots = inner.pool.host_slots(&host);
    let Ok(_host_permit) = host_slots.acquire().await else {
        return Outcome::Unavailable(Unavailable::Connect("dendrite is shutting down".into()));
    };
    let Ok(_permit) = inner.permits.acquire().await else {
        return Outcome::Unavailable(Unavailable::Connect("dendrite is shutting down".into()));
    };
    phase.store(PHASE_DIALING, Ordering::Relaxed);
    let lease = match inner.pool.acquire(&host).await {
        Ok(lease) => lease,
        Err(why) => {
            inner.report_failure(&spec.endpoint);
            return Outcome::Unavailable(why);
        }
    };

    let mut tensors = Some(std::mem::take(&mut spec.tensors));
    let mut client = BittensorClient::new(WithLateTrailers(lease.channel.clone()))
        .max_decoding_message_size(inner.cfg.max_message_size)
        .max_encoding_message_size(inner.cfg.max_message_size);
    let mut retried = false;
    let result = loop {
        let plan = inner.plan(&lease);
        // An authenticated request refused as UNAUTHENTICATED is sent once more (signed, with
        // a fresh nonce): a session the axon forgot, or a nonce that fell out of the axon's
        // reorder window because the request was held up behind many newer ones. Either way the
        // axon refused it before running anything. Only then are the tensors needed twice (a
        // cheap clone: buffers are reference-counted).
        let may_retry = !matches!(plan, Plan::Unsigned) && !retried;
        let body = if may_retry {
            tensors.clone()
        } else {
            tensors.take()
        };
        let late_ok = lease.session.late_proofs();
        let (request, plan) = inner.request(spec, body.unwrap_or_default(), plan, late_ok);
        let late = request.extensions().get::<LateTrailers>().is_some();
        phase.store(PHASE_SENT, Ordering::Relaxed);
        let result = match spec.method {
            RpcMethod::Forward => client.forward(request).await,
            RpcMethod::Backward => client.backward(request).await,
        };
        match (result, plan) {
            (Ok(response), Plan::Offer(ticket)) => {
                let accept = response
                    .metadata()
                    .get(ACCEPT_HEADER)
                    .and_then(|v| SessionAccept::parse(v.as_encoded_bytes()).ok());
                ticket.resolve(accept, &inner.key_hex, &spec.endpoint.synapse_key);
                break Ok(response);
            }
            (Err(status), plan)
                if status.code() == Code::Unauthenticated
                    && may_retry
                    && spec.deadline > Instant::now() =>
            {
                if let Plan::Session(session) = &plan {
                    // Unknown or expired session (axon restarted, table full, idle): the retry
                    // is signed, and offers a new session if no other call is doing so.
                    lease.session.forget(session.id());
                    if late {
                        // Or the trailer never arrived (see `late_proof_answered`).
                        lease.session.late_proof_answered(false);
                    }
                }
                retried = true;
            }
            (Err(status), Plan::Offer(ticket)) => {
                // The axon answered the handshake with an error (a policy refusal, a failing
                // synapse): do not offer again on every call.
                if matches!(classify(&status), Failure::Rejected) {
                    ticket.refused();
                }
                break Err(status);
            }
            (result, _) => {
                if late && result.is_ok() {
                    lease.session.late_proof_answered(true);
                }
                break result;
            }
        }
    };

    match result {
        Ok(response) => {
            inner.report_success(&spec.endpoint);
            let msg = response.into_inner();
            match validate_off_thread(
                msg,
                std::mem::replace(
                    &mut spec.expect,
                    Expect {
                        batch: 0,
                        shape: None,
                    },
                ),
                inner.cfg.limits,
            )
            .await
            {
                Ok(t) => Outcome::Ok(t),
                Err(why) => Outcome::BadResponse(why),
            }
        }
        Err(status) => match classify(&status) {
            Failure::Timeout => {
                inner.report_failure(&spec.endpoint);
                Outcome::Timeout
            }
            Failure::Transport => {
                inner.pool.invalidate(&lease);
                inner.report_failure(&spec.endpoint);
                Outcome::Unavailable(Unavailable::ConnectionLost(error_chain(&status)))
            }
            Failure::Decode => {
                inner.report_success(&spec.endpoint);
                Outcome::BadResponse(BadResponse::Decode(clip(status.message())))
            }
            Failure::Rejected => {
                inner.report_success(&spec.endpoint);
                Outcome::Rejected {
                    code: status.code(),
                    message: clip(status.message()),
                }
            }
        },
    }
}

enum Failure {
    Timeout,
    Transport,
    Decode,
    Rejected,
}

fn classify(status: &tonic::Status) -> Failure {
    match status.code() {
        // Our own channel enforces `grpc-timeout` locally (as `Cancelled`, "Timeout expired");
        // a server that runs out of budget answers `DeadlineExceeded` or `Cancelled`.
        Code::DeadlineExceeded | Code::Cancelled => return Failure::Timeout,
        _ => {}
    }
    // Statuses a server sends come from trailers and carry no source error; ours do.
    if std::error::Error::source(status).is_some() {
        return Failure::Transport;
    }
    // tonic's own decoder errors are statuses too; keep them apart from a peer's rejection.
    let m = status.message();
    let local_decode = matches!(
        status.code(),
        Code::Internal | Code::OutOfRange | Code::ResourceExhausted
    ) && (m.starts_with("protocol error:")
        || m.starts_with("Error, decoded message length too large")
        || m.starts_with("Unexpected EOF decoding stream")
        || m.starts_with("failed to decode Protobuf message"));
    if local_decode {
        Failure::Decode
    } else {
        Failure::Rejected
    }
}

async fn validate_off_thread(
    msg: TensorMessage,
    expect: Expect,
    limits: Limits,
) -> Result<Tensor, BadResponse> {
    let size: usize = msg.tensors.iter().map(|t| t.buffer.len()).sum();
    if size <= BLOCKING_VALIDATION_BYTES {
        return validate(msg, &expect, &limits);
    }
    match tokio::task::spawn_blocking(move || validate(msg, &expect, &limits)).await {
        Ok(result) => result,
        Err(_) => Err(BadResponse::DecoderPanic),
    }
}

/// The answer must be exactly one finite float tensor, within limits, with the request's
/// batch size (and the expected shape when one was given).
pub(crate) fn validate(
    msg: TensorMessage,
    expect: &Expect,
    limits: &Limits,
) -> Result<Tensor, BadResponse> {
    if msg.tensors.len() != 1 {
        return Err(BadResponse::TensorCount {
            expected: 1,
            got: msg.tensors.len(),
        });
    }
    let Some(wire) = msg.tensors.into_iter().next() else {
        return Err(BadResponse::TensorCount {
            expected: 1,
            got: 0,
        });
    };
    let tensor = bt_tensor::decode(&wire, limits)?;
    if !tensor.dtype().is_float() {
        return Err(BadResponse::DType {
            got: tensor.dtype(),
        });
    }
    if let Some(shape) = &expect.shape {
        if tensor.shape() != shape.as_slice() {
            return Err(BadResponse::Shape {
                got: tensor.shape().to_vec(),
                expected: shape.clone(),
            });
        }
    } else if tensor.shape().first() != Some(&expect.batch) {
        return Err(BadResponse::Batch {
            got: tensor.shape().first().copied().unwrap_or(0),
            expected: expect.batch,
        });
    }
    Ok(tensor)
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

impl Inner {
    /// The request of one call, authenticated as `plan` says, with the remaining deadline as
    /// `grpc-timeout`. The payload is hashed here, as the plan needs it (and at most once per
    /// kind for all the calls that share `spec.hashes`), or, for a large payload under a
    /// version-2 session and when `late_ok`, on the blocking pool while the request is sent,
    /// its proof following as a trailer. Returns the plan back (an offer's ticket must outlive
    /// the call).
    pub(crate) fn request(
        &self,
        spec: &CallSpec,
        tensors: Vec<bt_wire::Tensor>,
        plan: Plan,
        late_ok: bool,
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
                    Plan::Session(session)
                } else {
                    let hash = spec
                        .hashes
                        .get(session.payload_hash(&msg.tensors), &msg.tensors);
                    let digest = message_digest(&msg, &hash, spec.method);
                    match session.prove(&digest) {
                        Some(proof) => {
                            session_header = Some(proof.encode_bytes());
                            Plan::Session(session)
                        }
                        // Counters used up: sign this one; the next call opens a new session.
                        None => {
                            let sha = spec.hashes.get(PayloadHash::Sha256, &msg.tensors);
                            let _ = self.sign(&mut msg, &sha, spec.method);
                            Plan::Signed
                        }
                    }
                }
            }
            plan @ (Plan::Signed | Plan::Offer(_)) => {
                let hash = spec.hashes.get(PayloadHash::Sha256, &msg.tensors);
                let d = self.sign(&mut msg, &hash, spec.method);
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
        // The server sees the same deadline we enforce (`Endpoint::timeout` would not send it).
        request.set_timeout(spec.deadline.saturating_duration_since(Instant::now()));
        (request, plan)
    }

    /// A fresh nonce and the v1 signature; returns the signed digest. The nonce is drawn as
    /// late as possible so that it is fresh when it arrives.
    fn sign(&self, msg: &mut TensorMessage, hash: &[u8; 32], method: RpcMethod) -> [u8; 32] {
        msg.nounce = self.nonces.next();
        let d = request_digest(&msg.neuron_key, &msg.synapse_key, msg.nounce, hash, method);
        msg.signature = bytes::Bytes::copy_from_slice(&self.key.sign(&d));
        d
    }

    /// How the next request to `lease`'s axon authenticates.
    fn plan(&self, lease: &crate::pool::Lease) -> Plan {
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
    let session = session.clone();
    let hashes = spec.hashes.clone();
    let method = spec.method;
    // The digest's fields without the payload (buffers are reference-counted, not copied).
    let fields = TensorMessage {
        signature: bytes::Bytes::new(),
        ..msg.clone()
    };
    LateTrailers::spawn(move || {
        let hash = hashes.get(session.payload_hash(&fields.tensors), &fields.tensors);
        let proof = session.prove_with(counter, &message_digest(&fields, &hash, method));
        let mut trailers = http::HeaderMap::new();
        if let Some(value) = session_value(&proof.encode_bytes()) {
            trailers.insert(SESSION_HEADER, value);
        }
        trailers
    })
}

/// Checks an answer exactly as the dendrite does before handing it back: one tensor, valid
/// under `limits` (shape, byte length, finiteness), a float dtype, `batch` rows, and `shape`
/// when given. For callers that receive `TensorMessage`s by other means (and the fuzzer).
pub fn validate_response(
    msg: TensorMessage,
    batch: usize,
    shape: Option<&[usize]>,
    limits: &Limits,
) -> Result<Tensor, BadResponse> {
    let expect = Expect {
        batch,
        shape: shape.map(<[usize]>::to_vec),
    };
    validate(msg, &expect, limits)
}
