//! Hashing a large session request's payload before its proof has arrived.
//!
//! A version-2 session request of 64 KiB or more sends its `bt-session` proof as a trailer,
//! computed by the caller while the body is on its way, and names its session up front in
//! `bt-session-late` (`docs/protocol.md`, "The proof may follow the body"). The request digest
//! the proof covers needs only the message. So when the axon would hash the payload on the
//! blocking pool anyway, it starts that hash as soon as the message is in, and the two ends
//! hash at the same time. On loopback with a 1 MiB payload the body is complete a sizeable
//! fraction of a BLAKE3 pass before the trailer arrives (the pass itself: `cargo bench -p
//! bt-crypto --bench crypto`): that much of the axon's hash is off the request's path.
//!
//! The hint authenticates nothing. The hash starts only for a live session opened by the key
//! the message names, and only on a pool worker that is free right now (never waited for).
//! The request is then authenticated by its proof like any other: a hint that does not match
//! the proof costs the hash and nothing else.

use std::sync::{Arc, PoisonError};
use std::time::Instant;

use bt_crypto::RpcMethod;
use bt_crypto::session::{LATE_HEADER, SessionHint, SessionVersion};
use bt_wire::TensorMessage;
use http::HeaderName;
use tokio::task::JoinHandle;
use tonic::metadata::MetadataMap;

use crate::shared::Shared;

/// A request digest being computed on the blocking pool. Dropped unused, the job runs on to
/// its end (it cannot be interrupted) and then frees its worker.
pub(crate) struct EarlyDigest {
    version: SessionVersion,
    job: JoinHandle<Option<[u8; 32]>>,
}

/// Why an early digest could not be used.
pub(crate) enum NotReady {
    /// The request's deadline passed while waiting for it.
    Expired,
    /// Computed for another version than the proof's, or the job failed: hash again.
    Unusable,
}

impl Shared {
    /// Starts the request digest of `msg` if its metadata (headers only, so far) names a live
    /// session of its caller and the payload is too large to hash on the executor.
    pub(crate) fn start_early_digest(
        &self,
        metadata: &MetadataMap,
        msg: &Arc<TensorMessage>,
        method: RpcMethod,
        size: usize,
        deadline: Instant,
    ) -> Option<EarlyDigest> {
        static LATE: HeaderName = HeaderName::from_static(LATE_HEADER);
        if !self.config.sessions || size <= self.session_inline_limit() {
            return None;
        }
        let hint = SessionHint::parse(metadata.as_ref().get(&LATE)?.as_bytes()).ok()?;
        let now = self.now_ns();
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .precheck(&hint.session_id, &msg.neuron_key, now)
            .ok()?;
        let worker = self.workers.clone().try_acquire_owned().ok()?;
        let kind = hint.version.payload_hash(&msg.tensors);
        let msg = msg.clone();
        let job = tokio::task::spawn_blocking(move || {
            let _worker = worker;
            (Instant::now() < deadline).then(|| bt_crypto::message_digest_with(&msg, method, kind))
        });
        Some(EarlyDigest {
            version: hint.version,
            job,
        })
    }
}

impl EarlyDigest {
    /// The digest, if it was computed for `version` (the proof's): waits for it until
    /// `deadline`.
    pub(crate) async fn digest_for(
        self,
        version: SessionVersion,
        deadline: Instant,
    ) -> Result<[u8; 32], NotReady> {
        if version != self.version {
            return Err(NotReady::Unusable);
        }
        let deadline = tokio::time::Instant::from_std(deadline);
        match tokio::time::timeout_at(deadline, self.job).await {
            Err(_) | Ok(Ok(None)) => Err(NotReady::Expired),
            Ok(Ok(Some(digest))) => Ok(digest),
            Ok(Err(_)) => Err(NotReady::Unusable),
        }
    }
}
