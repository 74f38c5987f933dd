//! One call to one remote synapse, from admission to a validated verdict.
//!
//! Order of the steps, and why: the circuit breaker first (a dead peer costs no slot and no
//! dial), then a concurrency slot, then a pooled connection, then signing (the nonce is drawn
//! as late as possible so it is fresh when it arrives), then the RPC with the remaining budget
//! sent as `grpc-timeout`. The whole sequence runs under one deadline.

use std::sync::Arc;

use bt_crypto::session::{ACCEPT_HEADER, SessionAccept};
use bt_crypto::{DIGEST_HEADER, Dialled, RpcMethod};
use bt_tensor::compression::{CodecSet, CompressionError, decompress};
use bt_tensor::{Limits, Tensor};
use bt_wire::TensorMessage;
use std::sync::atomic::{AtomicU8, Ordering};
use tokio::time::Instant;
use tonic::Code;

use crate::breaker::Admission;
use crate::codecs::CallCodecs;
use crate::endpoint::Endpoint;
use crate::hashes::PayloadHashes;
use crate::outcome::{BadResponse, Outcome, Unavailable};
use crate::pool::error_chain;
use crate::rpc::{self, RpcError};
use crate::session::Plan;
use crate::shared::Shared;
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
    /// What the call offers for its answer and how it may compress its request.
    pub codecs: Arc<CallCodecs>,
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

pub(crate) async fn call(inner: &Shared, mut spec: CallSpec) -> Outcome {
    let phase = AtomicU8::new(PHASE_QUEUED);
    let deadline = spec.deadline;
    let started = std::time::Instant::now();
    // `attempt` borrows the spec, so the endpoint is still here after a timeout without a
    // clone per call.
    let outcome = match tokio::time::timeout_at(deadline, attempt(inner, &mut spec, &phase)).await {
        Ok(outcome) => outcome,
        Err(_) => {
            if phase.load(Ordering::Relaxed) != PHASE_QUEUED {
                inner.report_failure(&spec.endpoint);
            }
            Outcome::Timeout
        }
    };
    inner
        .metrics
        .record(&spec.endpoint.synapse_key, &outcome, started.elapsed());
    outcome
}

async fn attempt(inner: &Shared, spec: &mut CallSpec, phase: &AtomicU8) -> Outcome {
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

    // Compressed only for an axon that has said it accepts the codec: never a Release 1 one.
    let codecs = spec.codecs.clone();
    if let Some((wire, hashes)) = &codecs.compressed
        && lease.session.codecs.accepts(codecs.request)
    {
        spec.tensors.clone_from(wire);
        spec.hashes = hashes.clone();
    }
    let mut tensors = std::mem::take(&mut spec.tensors);
    let mut channel = WithLateTrailers(lease.channel.clone());
    let mut retried = false;
    // The first attempt was a v2 request refused: the retry is v1 (see `crate::digest`).
    let mut v2_refused = false;
    let result = loop {
        let plan = inner.plan(&lease);
        // An authenticated request refused as UNAUTHENTICATED is sent once more (signed, with
        // a fresh nonce): a session the axon forgot, or a nonce that fell out of the axon's
        // reorder window because the request was held up behind many newer ones. Either way the
        // axon refused it before running anything. The tensors come back from the send for that.
        let may_retry = !matches!(plan, Plan::Unsigned) && !retried;
        let late_ok = lease.session.late_proofs();
        // Only a signed request needs it (a session whose counters ran out, once in 2^62
        // requests, signs its last request over v1).
        let signs = matches!(plan, Plan::Signed | Plan::Offer(_));
        let dialled = (signs && inner.cfg.digest_v2 && !v2_refused && lease.session.digest.v2())
            .then(|| Dialled::new(&spec.endpoint.address, spec.endpoint.port).ok())
            .flatten();
        let (request, plan) = inner
            .request(
                spec,
                std::mem::take(&mut tensors),
                plan,
                late_ok,
                dialled.as_ref(),
            )
            .await;
        let late = request.extensions().get::<LateTrailers>().is_some();
        let sent_v2 = request.metadata().contains_key(DIGEST_HEADER);
        phase.store(PHASE_SENT, Ordering::Relaxed);
        let (result, sent) = rpc::unary(
            &mut channel,
            spec.method,
            request,
            inner.cfg.max_message_size,
            inner.cfg.decode_limits(),
        )
        .await;
        tensors = sent;
        if inner.cfg.digest_v2 {
            match &result {
                Ok(answer) => lease.session.digest.learn(&answer.headers),
                Err(RpcError::Status(status)) => {
                    lease.session.digest.learn(status.metadata().as_ref())
                }
                Err(_) => {}
            }
        }
        match (result, plan) {
            (Ok(answer), Plan::Offer(ticket)) => {
                let accept = answer
                    .headers
                    .get(ACCEPT_HEADER)
                    .and_then(|v| SessionAccept::parse(v.as_bytes()).ok());
                ticket.resolve(accept, &inner.key_hex, &spec.endpoint.synapse_key);
                break Ok(answer);
            }
            (Err(RpcError::Status(status)), plan)
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
                v2_refused = sent_v2;
                retried = true;
            }
            (Err(RpcError::Status(status)), Plan::Offer(ticket)) => {
                // The axon answered the handshake with an error (a policy refusal, a failing
                // synapse): do not offer again on every call.
                if matches!(classify(&status), Failure::Rejected) {
                    ticket.refused();
                }
                break Err(RpcError::Status(status));
            }
            (result, _) => {
                if late && result.is_ok() {
                    lease.session.late_proof_answered(true);
                }
                break result;
            }
        }
    };

    if v2_refused && result.is_ok() {
        lease.session.digest.v2_refused();
    }
    match result {
        Ok(answer) => {
            inner.report_success(&spec.endpoint);
            if codecs.offer.is_some() {
                lease.session.codecs.learn(&answer.headers);
            }
            match validate_off_thread(
                answer.message,
                std::mem::replace(
                    &mut spec.expect,
                    Expect {
                        batch: 0,
                        shape: None,
                    },
                ),
                inner.cfg.limits,
                codecs.accepted,
            )
            .await
            {
                Ok(t) => Outcome::Ok(t),
                Err(why) => Outcome::BadResponse(why),
            }
        }
        Err(RpcError::Decode(why)) => {
            inner.report_success(&spec.endpoint);
            Outcome::BadResponse(BadResponse::Decode(clip(&why.to_string())))
        }
        Err(RpcError::NoMessage) => {
            inner.report_success(&spec.endpoint);
            Outcome::BadResponse(BadResponse::Decode("the answer carries no message".into()))
        }
        Err(RpcError::Status(status)) => match classify(&status) {
            Failure::Timeout => {
                inner.report_failure(&spec.endpoint);
                Outcome::Timeout
            }
            Failure::Transport => {
                inner.pool.invalidate(&lease);
                inner.report_failure(&spec.endpoint);
                Outcome::Unavailable(Unavailable::ConnectionLost(error_chain(&status)))
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
    Rejected,
}

fn classify(status: &tonic::Status) -> Failure {
    match status.code() {
        // Our own channel enforces `grpc-timeout` locally (as `Cancelled`, "Timeout expired");
        // a server that runs out of budget answers `DeadlineExceeded` or `Cancelled`.
        Code::DeadlineExceeded | Code::Cancelled => return Failure::Timeout,
        _ => {}
    }
    // Statuses a server sends come from trailers and carry no source error; ours do. (An
    // answer we cannot read is not a status: `RpcError::Decode`.)
    if std::error::Error::source(status).is_some() {
        Failure::Transport
    } else {
        Failure::Rejected
    }
}

async fn validate_off_thread(
    msg: TensorMessage,
    expect: Expect,
    limits: Limits,
    accepted: CodecSet,
) -> Result<Tensor, BadResponse> {
    let size: usize = msg.tensors.iter().map(|t| t.buffer.len()).sum();
    if size <= BLOCKING_VALIDATION_BYTES {
        return validate(msg, &expect, &limits, accepted);
    }
    match tokio::task::spawn_blocking(move || validate(msg, &expect, &limits, accepted)).await {
        Ok(result) => result,
        Err(_) => Err(BadResponse::DecoderPanic),
    }
}

/// The answer must be exactly one finite float tensor, within limits, in float32 or a codec in
/// `accepted`, with the request's batch size (and the expected shape when one was given).
pub(crate) fn validate(
    msg: TensorMessage,
    expect: &Expect,
    limits: &Limits,
    accepted: CodecSet,
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
    let tensor = decompress(&wire, accepted, limits).map_err(|e| match e {
        CompressionError::Tensor(e) => BadResponse::Tensor(e),
        other => BadResponse::Compression(other),
    })?;
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
    validate(msg, &expect, limits, CodecSet::NONE)
}
