//! One request of the `Bittensor` service: route to a synapse, authenticate, apply the policy,
//! decode, compute, encode.
//!
//! Where each step runs is a matter of cost. A small request (≤ `inline_max_bytes` when its
//! authentication hashes with SHA-256; 4× that under a version-2 session, which hashes with
//! BLAKE3; 32× for an anonymous one, which is only scanned for NaN) is authenticated on the
//! executor, its signature batch-verified with those of concurrent requests; a lightweight
//! synapse then serves it right there. Everything else — large payloads (whose hashing and
//! decoding take long) and real models — runs on the bounded blocking pool, except that a
//! large session request whose payload was hashed early ([`crate::early`]) is served like an
//! anonymous one once its proof checks out. Either way the signature and nonce are checked
//! before any tensor is decoded.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use bt_crypto::session::SessionAccept;
use bt_crypto::{PublicKey, RpcMethod};
use bt_tensor::Modality;
use bt_tensor::compression::Codec;
use bt_wire::TensorMessage;
use prost::Message as _;
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::admission::Admitted;
use crate::compression::{self, negotiate};
use crate::digest::Arrival;
use crate::early::NotReady;
use crate::incoming::ConnInfo;
use crate::policy::{Decision, Priority};
use crate::request_body::RequestBody;
use crate::session::{Auth, parse_auth};
use crate::shared::Shared;
use crate::status::status;
use bt_interfaces::synapse::check_forward_output;
use bt_interfaces::{Synapse, SynapseError};

/// The protocol version we put in responses (Release 1 sent "0.0.0"; any is accepted).
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One request, from its decoded message to its reply. The message is read before the
/// request's trailers, so that a large session request whose proof follows as a trailer is
/// hashed while the proof is on its way ([`crate::early`]).
pub(crate) async fn handle(
    shared: &Arc<Shared>,
    method: RpcMethod,
    mut metadata: MetadataMap,
    extensions: &http::Extensions,
    authority: Option<&http::uri::Authority>,
    body: &mut RequestBody,
) -> Result<Reply, Status> {
    // Held until we answer: this request's place on its connection and its address.
    let Some(admitted) = extensions.get::<Admitted>().cloned() else {
        return Err(Status::internal(
            "request reached the handler without admission",
        ));
    };
    let msg = body.message().await?;
    // Only now, with the whole message in, does the request take a share of `max_in_flight`:
    // a stream still arriving (however slowly) holds none.
    let _serving = shared.start_serving()?;
    let size = msg.encoded_len();
    shared.metrics.add_bytes_in(size);
    let msg = Arc::new(msg);
    let early = shared.start_early_digest(&metadata, &msg, method, size, admitted.deadline);
    // As tonic merges a unary request's trailers: a trailer replaces a header of the same name.
    if let Some(trailers) = body.trailers().await? {
        let mut headers = metadata.into_headers();
        headers.extend(trailers);
        metadata = MetadataMap::from_headers(headers);
    }
    let codecs = negotiate(&metadata, shared.config.codecs)?;
    let auth = parse_auth(
        &metadata,
        shared.config.sessions,
        shared.config.session_version,
    )?;
    let synapse = shared
        .synapses
        .get(&msg.synapse_key)
        .cloned()
        .ok_or_else(|| {
            status(
                tonic::Code::NotFound,
                format!(
                    "no synapse with key {:?} is served by this axon",
                    msg.synapse_key
                ),
            )
        })?;
    check_arity(method, msg.tensors.len())?;
    // Sessions are bound to this axon already (their key exists only here); an unsigned request
    // has no digest.
    let signed = match &auth {
        Auth::Plain => !msg.signature.is_empty(),
        Auth::Offer(..) => true,
        Auth::Session(_) => false,
    };
    let dialled = if signed {
        let arrival = Arrival {
            authority,
            local: extensions
                .get::<ConnInfo>()
                .and_then(|c| c.tcp.local_addr()),
        };
        shared.signed_digest(&metadata, arrival)?
    } else {
        None
    };

    let early_digest = match (early, &auth) {
        (Some(early), Auth::Session(proof)) => {
            match early.digest_for(proof.version, admitted.deadline).await {
                Ok(digest) => Some(digest),
                Err(NotReady::Expired) => return Err(expired(&admitted)),
                Err(NotReady::Unusable) => None,
            }
        }
        _ => None,
    };
    let (reply, accept) = if let (Some(digest), Auth::Session(proof)) = (early_digest, &auth) {
        shared.metrics.early_digest_used();
        let caller = shared.check_session_proof(&msg, proof, &digest)?;
        shared.authorize(Some(&caller), &msg.synapse_key, method)?;
        // What is left is an anonymous request's work: decoding, the synapse, encoding.
        let reply = if synapse.is_lightweight() && size <= shared.compute_inline_limit() {
            shared.compute(method, &msg, synapse.as_ref(), codecs.answer)?
        } else {
            on_pool(shared, &admitted, move |s| {
                s.compute(method, &msg, synapse.as_ref(), codecs.answer)
            })
            .await?
        };
        (reply, None)
    } else if size <= shared.inline_limit(&auth, &msg) {
        // Small: authenticate here, batched with concurrent requests; hashing a small payload
        // and a share of a batch verification (or a MAC) cost less than a hand-off to the pool.
        if Instant::now() >= admitted.deadline {
            return Err(expired(&admitted));
        }
        let small = size <= shared.config.inline_max_bytes;
        let caller = match auth {
            Auth::Plain => {
                shared
                    .authenticate_batched(&msg, method, admitted.peer, dialled)
                    .await?
            }
            _ => {
                shared.authenticate(&msg, method, &auth, small, admitted.peer, dialled.as_ref())?
            }
        };
        let reply = if synapse.is_lightweight() {
            shared.compute(method, &msg, synapse.as_ref(), codecs.answer)?
        } else {
            let msg = msg.clone();
            on_pool(shared, &admitted, move |s| {
                s.compute(method, &msg, synapse.as_ref(), codecs.answer)
            })
            .await?
        };
        // Opened only once the request was authenticated, authorised and served: a caller the
        // policy refuses never gets a session.
        (
            reply,
            shared.open_session(&auth, caller.as_ref(), &msg, admitted.peer),
        )
    } else {
        let peer = admitted.peer;
        on_pool(shared, &admitted, move |s| {
            let caller = s.authenticate(&msg, method, &auth, false, peer, dialled.as_ref())?;
            let reply = s.compute(method, &msg, synapse.as_ref(), codecs.answer)?;
            Ok((reply, s.open_session(&auth, caller.as_ref(), &msg, peer)))
        })
        .await?
    };
    shared.metrics.add_bytes_out(reply.encoded_len());
    drop(admitted);
    Ok(Reply {
        message: reply,
        accept,
        codecs: codecs
            .offered
            .then(|| compression::advertised(shared.config.codecs)),
    })
}

/// A request being served: one of `max_in_flight`.
struct Serving {
    _permit: tokio::sync::OwnedSemaphorePermit,
    shared: Arc<Shared>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.shared.metrics.in_flight_delta(false);
    }
}

/// An answer: the reply message and, after a handshake, the session it opened.
pub(crate) struct Reply {
    pub(crate) message: TensorMessage,
    pub(crate) accept: Option<SessionAccept>,
    /// The codecs we accept in requests, for a caller that offered codecs (`bt-codecs`).
    pub(crate) codecs: Option<String>,
}

fn expired(admitted: &Admitted) -> Status {
    Status::deadline_exceeded(format!(
        "deadline of {:?} expired at the axon",
        admitted
            .deadline
            .saturating_duration_since(admitted.arrived)
    ))
}

/// Runs `job` on the bounded blocking pool within the request's deadline.
async fn on_pool<T: Send + 'static>(
    shared: &Arc<Shared>,
    admitted: &Admitted,
    job: impl FnOnce(&Shared) -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    let deadline = tokio::time::Instant::from_std(admitted.deadline);
    // Waiting here is bounded: at most `max_in_flight` requests can be waiting.
    let worker =
        match tokio::time::timeout_at(deadline, shared.workers.clone().acquire_owned()).await {
            Ok(Ok(w)) => w,
            Ok(Err(_)) => return Err(Status::unavailable("the axon is shutting down")),
            Err(_) => return Err(expired(admitted)),
        };
    let job_shared = shared.clone();
    let job_deadline = admitted.deadline;
    let job = tokio::task::spawn_blocking(move || {
        let _worker = worker;
        if Instant::now() >= job_deadline {
            return Err(Status::deadline_exceeded(
                "deadline expired before the request ran",
            ));
        }
        job(&job_shared)
    });
    // On expiry the job runs on to completion (it cannot be interrupted) but keeps its worker,
    // so the pool stays bounded; the client is answered now.
    match tokio::time::timeout_at(deadline, job).await {
        Err(_) => Err(expired(admitted)),
        Ok(Err(join)) => Err(Status::internal(format!("request task failed: {join}"))),
        Ok(Ok(reply)) => reply,
    }
}

fn check_arity(method: RpcMethod, n: usize) -> Result<(), Status> {
    match method {
        RpcMethod::Forward if n != 1 => Err(Status::invalid_argument(format!(
            "Forward takes exactly one tensor, got {n}"
        ))),
        RpcMethod::Backward if n == 0 || !n.is_multiple_of(2) => {
            Err(Status::invalid_argument(format!(
                "Backward takes [inputs…, grads…]: an even, non-zero number of tensors, got {n}"
            )))
        }
        _ => Ok(()),
    }
}

impl Shared {
    /// The policy's verdict on an authenticated (or anonymous) caller.
    pub(crate) fn authorize(
        &self,
        caller: Option<&PublicKey>,
        synapse_key: &str,
        method: RpcMethod,
    ) -> Result<(), Status> {
        match self.policy.check(caller, synapse_key, method) {
            Decision::Deny(reason) => Err(status(tonic::Code::PermissionDenied, reason)),
            Decision::Allow(Priority::Low) if self.busy() => Err(Status::resource_exhausted(
                "the axon is busy and serves only higher-priority callers; retry later",
            )),
            Decision::Allow(_) => Ok(()),
        }
    }

    /// Decode, call the synapse, encode: everything after authentication.
    fn compute(
        &self,
        method: RpcMethod,
        msg: &TensorMessage,
        synapse: &dyn Synapse,
        answer: Codec,
    ) -> Result<TensorMessage, Status> {
        let tensors = match method {
            RpcMethod::Forward => self.forward(msg, synapse, answer)?,
            RpcMethod::Backward => self.backward(msg, synapse, answer)?,
        };
        let reply = TensorMessage {
            version: VERSION.to_string(),
            synapse_key: msg.synapse_key.clone(),
            tensors,
            ..TensorMessage::default()
        };
        let len = reply.encoded_len();
        if len > self.config.max_message_bytes {
            return Err(Status::resource_exhausted(format!(
                "the response ({len} bytes) exceeds the axon's max_message_bytes ({})",
                self.config.max_message_bytes
            )));
        }
        Ok(reply)
    }

    /// One of `max_in_flight`, held until the answer is sent.
    fn start_serving(self: &Arc<Self>) -> Result<Serving, Status> {
        let permit = self.in_flight.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "the axon is at capacity ({} requests being served); retry later",
                self.config.max_in_flight
            ))
        })?;
        self.metrics.in_flight_delta(true);
        Ok(Serving {
            _permit: permit,
            shared: self.clone(),
        })
    }

    /// More than half of `max_in_flight` in use.
    fn busy(&self) -> bool {
        self.in_flight.available_permits() < self.config.max_in_flight / 2
    }

    fn forward(
        &self,
        msg: &TensorMessage,
        synapse: &dyn Synapse,
        answer: Codec,
    ) -> Result<Vec<bt_wire::Tensor>, Status> {
        let Some(wire) = msg.tensors.first() else {
            return Err(Status::invalid_argument(
                "Forward takes exactly one tensor, got 0",
            ));
        };
        let modality = served_modality(wire, synapse)?;
        let input = compression::decode(wire, self.config.codecs, &self.limits)?;
        let rows = input.shape().first().copied().unwrap_or(0);
        let promised = synapse.output_dim();
        let output = call(|| {
            let output = synapse.forward(modality, input)?;
            check_forward_output(promised, rows, &output)?;
            Ok(output)
        })?;
        Ok(vec![compression::encode(&output, answer)?])
    }

    fn backward(
        &self,
        msg: &TensorMessage,
        synapse: &dyn Synapse,
        answer: Codec,
    ) -> Result<Vec<bt_wire::Tensor>, Status> {
        let half = msg.tensors.len() / 2;
        let (inputs, grads) = msg.tensors.split_at(half);
        for wire in inputs {
            served_modality(wire, synapse)?;
        }
        let decode = |ts: &[bt_wire::Tensor]| -> Result<Vec<bt_tensor::Tensor>, Status> {
            ts.iter()
                .map(|t| compression::decode(t, self.config.codecs, &self.limits))
                .collect()
        };
        let inputs = decode(inputs)?;
        let grads = decode(grads)?;
        let out = call(|| synapse.backward(inputs, grads))?;
        out.iter().map(|t| compression::encode(t, answer)).collect()
    }
}

fn served_modality(wire: &bt_wire::Tensor, synapse: &dyn Synapse) -> Result<Modality, Status> {
    let modality = Modality::from_wire(wire.modality).map_err(invalid)?;
    if !synapse.modalities().contains(&modality) {
        return Err(Status::unimplemented(format!(
            "this synapse does not serve modality {}",
            modality.name()
        )));
    }
    Ok(modality)
}

/// Runs synapse code, turning its errors and panics into statuses.
fn call<T>(f: impl FnOnce() -> Result<T, SynapseError>) -> Result<T, Status> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(synapse_status(&e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            Err(status(
                tonic::Code::Internal,
                format!("synapse panicked: {what}"),
            ))
        }
    }
}

pub(crate) fn synapse_status(e: &SynapseError) -> Status {
    let code = match e {
        SynapseError::UnsupportedModality(_) => tonic::Code::Unimplemented,
        SynapseError::InvalidInput(_) => tonic::Code::InvalidArgument,
        SynapseError::Failed(_) => tonic::Code::Internal,
    };
    status(code, e.to_string())
}

fn invalid(e: impl std::fmt::Display) -> Status {
    status(tonic::Code::InvalidArgument, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arity_rules() {
        assert!(check_arity(RpcMethod::Forward, 1).is_ok());
        assert!(check_arity(RpcMethod::Forward, 2).is_err());
        assert!(check_arity(RpcMethod::Backward, 4).is_ok());
        assert!(check_arity(RpcMethod::Backward, 3).is_err());
        assert!(check_arity(RpcMethod::Backward, 0).is_err());
    }

    #[test]
    fn synapse_errors_map_to_codes() {
        use tonic::Code;
        let cases = [
            (
                SynapseError::UnsupportedModality(Modality::Text),
                Code::Unimplemented,
            ),
            (
                SynapseError::InvalidInput("x".into()),
                Code::InvalidArgument,
            ),
            (SynapseError::Failed("x".into()), Code::Internal),
        ];
        for (e, code) in cases {
            assert_eq!(synapse_status(&e).code(), code);
        }
        let panicked = call::<()>(|| panic!("boom"));
        assert_eq!(
            panicked.map_err(|s| (s.code(), s.message().to_string())),
            Err((Code::Internal, "synapse panicked: boom".into()))
        );
    }
}
