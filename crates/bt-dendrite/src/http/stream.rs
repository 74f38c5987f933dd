//! Streaming synapses (the SDK's `StreamingSynapse`): the answer arrives as chunks.

use std::time::{Duration, Instant};

use bt_http::{SynapseMessage, status};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::OwnedSemaphorePermit;

use super::outcome::Failed;
use super::{AxonTarget, CallOutcome, HttpDendrite};

/// An answer being streamed: read it with [`next_chunk`](Self::next_chunk) until `None`.
/// The whole stream shares the call's deadline and the dendrite's answer size limit.
pub struct SynapseStream {
    body: Incoming,
    deadline: tokio::time::Instant,
    limit: usize,
    received: usize,
    started: Instant,
    outcome: CallOutcome,
    _slot: OwnedSemaphorePermit,
}

impl SynapseStream {
    /// The next chunk; `None` at the end. A deadline passed or the size limit exceeded ends the
    /// stream with an error outcome (408 / 413).
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, CallOutcome>> {
        loop {
            let frame = match tokio::time::timeout_at(self.deadline, self.body.frame()).await {
                Err(_) => return Some(Err(self.fail(status::TIMEOUT, "stream timed out"))),
                Ok(None) => return None,
                Ok(Some(Err(e))) => {
                    return Some(Err(
                        self.fail(status::BAD_REQUEST, &format!("Payload error: {e}"))
                    ));
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            self.received += data.len();
            if self.received > self.limit {
                let msg = format!(
                    "stream exceeds this dendrite's limit of {} bytes",
                    self.limit
                );
                return Some(Err(self.fail(status::PAYLOAD_TOO_LARGE, &msg)));
            }
            return Some(Ok(data));
        }
    }

    /// How the call went so far (the axon's status and process time from the answer's head).
    pub fn outcome(&self) -> CallOutcome {
        let mut o = self.outcome.clone();
        o.elapsed = self.started.elapsed();
        o
    }

    fn fail(&self, code: u16, message: &str) -> CallOutcome {
        let mut o = CallOutcome::from(Failed::new(code, message));
        o.elapsed = self.started.elapsed();
        o
    }
}

impl HttpDendrite {
    /// Call a streaming synapse. `Err` when the axon refused the call or could not be reached
    /// (the outcome says why); otherwise the chunks of its answer.
    pub async fn call_stream<S: SynapseMessage>(
        &self,
        target: &AxonTarget,
        synapse: &S,
        timeout: Duration,
    ) -> Result<SynapseStream, CallOutcome> {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        // Streamed answers carry no MAC: the call is signed.
        let sent = tokio::time::timeout_at(
            deadline,
            self.send(target, synapse, timeout, super::session::Auth::Signed),
        )
        .await;
        let super::Sent {
            parts, body, slot, ..
        } = match sent {
            Err(_) => {
                let secs = timeout.as_secs_f64();
                return Err(Failed::new(
                    status::TIMEOUT,
                    format!("Request timeout after {secs} seconds"),
                )
                .into());
            }
            Ok(Err(failed)) => return Err(failed.into()),
            Ok(Ok(sent)) => sent,
        };
        let echoed = super::echoed_terminals(&parts.headers);
        if parts.status.as_u16() != status::SUCCESS {
            // An error answer is a small JSON document.
            let limit = 64 << 10;
            let body = tokio::time::timeout_at(
                deadline,
                http_body_util::Limited::new(body, limit).collect(),
            )
            .await
            .ok()
            .and_then(|r| r.ok())
            .map(|c| c.to_bytes())
            .unwrap_or_default();
            let mut o = CallOutcome::from_answer(parts.status.as_u16(), &echoed.axon, &body);
            o.elapsed = started.elapsed();
            return Err(o);
        }
        Ok(SynapseStream {
            body,
            deadline,
            limit: self.inner.config.max_response_bytes,
            received: 0,
            started,
            outcome: CallOutcome::from_answer(parts.status.as_u16(), &echoed.axon, b""),
            _slot: slot,
        })
    }
}
