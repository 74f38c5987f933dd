//! The caller's side of authentication sessions (`bt_crypto::session`, `docs/protocol.md`).
//!
//! One [`SessionSlot`] per pooled axon connection. The first call to an axon becomes the
//! *handshake*: a normal signed request that also carries an X25519 share (offer). While it is
//! in flight, concurrent calls are simply signed (nobody waits for it). If the axon answers
//! with its share and a session id, later calls send a MAC and a counter instead of a
//! signature; if it answers without one (an axon that does not know sessions, or has them
//! off), calls keep signing and the offer is repeated only after [`UNSUPPORTED_RETRY`].
//! A session the axon no longer knows (restart, expiry, eviction) is answered
//! `UNAUTHENTICATED`; the call is then retried once, signed (see `call.rs`).

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bt_crypto::PayloadHash;
use bt_crypto::session::{
    SessionAccept, SessionHint, SessionId, SessionInitiator, SessionMac, SessionProof,
    SessionVersion,
};

/// After an axon answered a handshake without accepting, keep signing this long before
/// offering again (an upgraded or reconfigured axon is found within this time; a new
/// connection offers at once).
pub(crate) const UNSUPPORTED_RETRY: Duration = Duration::from_secs(600);

/// After an axon answered a handshake request with an error, calls are signed this long before
/// the next offer (a caller the policy refuses would otherwise pay for an offer on every call).
pub(crate) const REFUSED_RETRY: Duration = Duration::from_secs(1);

/// Counters stop well before they could wrap; the session is then replaced by a new one.
const MAX_COUNTER: u64 = 1 << 62;
/// Payload size from which a session proof travels as a trailer (see [`crate::trailer`]).
pub(crate) const LATE_PROOF_MIN_BYTES: usize = 64 << 10;
/// Late proofs refused in a row after which a connection sends its proofs as headers.
const LATE_REFUSALS_TO_GIVE_UP: u8 = 2;

#[derive(Default)]
enum State {
    #[default]
    Idle,
    /// A handshake is in flight (`attempt` identifies it).
    Offering {
        attempt: u64,
    },
    Ready(Arc<ClientSession>),
    /// The axon answered a handshake without a session.
    Unsupported {
        until: Instant,
    },
}

/// The session state of one axon connection.
#[derive(Default)]
pub(crate) struct SessionSlot {
    state: Mutex<State>,
    attempts: AtomicU64,
    /// Requests whose proof was a trailer, refused in a row. One refusal is a session the axon
    /// forgot (it happens every hour, at the latest); two in a row, across a new session, mean
    /// something on the way (a proxy) drops request trailers: this connection then sends
    /// proofs as headers.
    late_refusals: AtomicU8,
    /// The codecs this axon accepts in requests (`bt-codecs`), learned from its answers; like
    /// the session, it lives and dies with the pooled connection.
    pub(crate) codecs: crate::codecs::AxonCodecs,
    /// Whether this axon accepts v2 signatures (`bt-digest`), learned the same way.
    pub(crate) digest: crate::digest::AxonDigest,
}

/// How one request authenticates.
pub(crate) enum Plan {
    Unsigned,
    Signed,
    /// Signed, and offering a session.
    Offer(OfferTicket),
    Session(Arc<ClientSession>),
}

/// An established session, shared by the calls to one axon.
pub(crate) struct ClientSession {
    id: SessionId,
    /// Keyed once per session, not per request.
    mac: SessionMac,
    /// The last counter used; each request takes the next one.
    counter: AtomicU64,
}

impl ClientSession {
    pub(crate) fn id(&self) -> &SessionId {
        &self.id
    }

    /// How a request of `tensors` under this session hashes them (its version's choice).
    pub(crate) fn payload_hash(&self, tensors: &[bt_wire::Tensor]) -> PayloadHash {
        self.mac.version().payload_hash(tensors)
    }

    /// The `bt-session` proof for a request whose digest (with [`Self::payload_hash`]) is
    /// `digest`; `None` once the counters are used up (the caller then signs and the session is
    /// replaced).
    pub(crate) fn prove(&self, digest: &[u8; 32]) -> Option<SessionProof> {
        self.next_counter()
            .map(|counter| self.prove_with(counter, digest))
    }

    /// The next counter, `None` once they are used up. With [`Self::prove_with`], for a proof
    /// computed after the request has left.
    pub(crate) fn next_counter(&self) -> Option<u64> {
        let counter = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        (counter < MAX_COUNTER).then_some(counter)
    }

    pub(crate) fn prove_with(&self, counter: u64, digest: &[u8; 32]) -> SessionProof {
        self.mac.prove(counter, digest)
    }

    /// Whether a request of `tensors` sends its proof as a trailer, computed while the body is
    /// sent: version 2 and a payload large enough that hashing it outweighs a hand-off to the
    /// blocking pool.
    pub(crate) fn proves_late(&self, tensors: &[bt_wire::Tensor]) -> bool {
        self.mac.version() >= SessionVersion::V2
            && tensors.iter().map(|t| t.buffer.len()).sum::<usize>() >= LATE_PROOF_MIN_BYTES
    }

    /// The `bt-session-late` header of a request whose proof follows as a trailer: the axon
    /// may hash the payload before the proof arrives.
    pub(crate) fn hint(&self) -> SessionHint {
        SessionHint {
            version: self.mac.version(),
            session_id: self.id,
        }
    }
}

impl SessionSlot {
    /// Whether a session request may carry its proof as a trailer on this connection.
    pub(crate) fn late_proofs(&self) -> bool {
        self.late_refusals.load(Ordering::Relaxed) < LATE_REFUSALS_TO_GIVE_UP
    }

    /// The axon answered a request whose proof was a trailer (`accepted`) or refused it.
    pub(crate) fn late_proof_answered(&self, accepted: bool) {
        if !accepted {
            let _ = self
                .late_refusals
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    Some(n.saturating_add(1))
                });
        } else if self.late_refusals.load(Ordering::Relaxed) != 0 {
            // Below the limit only: once given up, a connection stays with headers.
            let _ = self
                .late_refusals
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    (n < LATE_REFUSALS_TO_GIVE_UP).then_some(0)
                });
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every state is valid on its own; a panic elsewhere cannot leave a half-made one.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decide how the next request authenticates (signing is on: the caller checked). A new
    /// offer asks for sessions up to `max_version`.
    pub(crate) fn plan(self: &Arc<Self>, max_version: SessionVersion) -> Plan {
        let mut state = self.lock();
        match &*state {
            State::Ready(s) if s.counter.load(Ordering::Relaxed) < MAX_COUNTER => {
                return Plan::Session(s.clone());
            }
            State::Offering { .. } => return Plan::Signed,
            State::Unsupported { until } if Instant::now() < *until => return Plan::Signed,
            _ => {}
        }
        let attempt = self.attempts.fetch_add(1, Ordering::Relaxed);
        *state = State::Offering { attempt };
        Plan::Offer(OfferTicket {
            slot: self.clone(),
            attempt,
            initiator: Some(SessionInitiator::generate().with_max_version(max_version)),
        })
    }

    /// The axon refused `session` (unknown, expired, or a replay): forget it, unless it was
    /// already replaced.
    pub(crate) fn forget(&self, session: &SessionId) {
        let mut state = self.lock();
        if matches!(&*state, State::Ready(s) if s.id == *session) {
            *state = State::Idle;
        }
    }

    /// Whether a session is established (for tests and diagnostics).
    #[cfg(test)]
    pub(crate) fn is_ready(&self) -> bool {
        self.version().is_some()
    }

    /// The established session's version, if there is one.
    pub(crate) fn version(&self) -> Option<SessionVersion> {
        match &*self.lock() {
            State::Ready(s) => Some(s.mac.version()),
            _ => None,
        }
    }
}

/// The right to run the one handshake in flight. Dropping it unresolved (the call failed, timed
/// out or was cancelled) lets the next call offer again.
pub(crate) struct OfferTicket {
    slot: Arc<SessionSlot>,
    attempt: u64,
    initiator: Option<SessionInitiator>,
}

impl OfferTicket {
    pub(crate) fn initiator(&self) -> Option<&SessionInitiator> {
        self.initiator.as_ref()
    }

    /// The handshake request was refused by the axon: sign for [`REFUSED_RETRY`], then offer
    /// again.
    pub(crate) fn refused(self) {
        let mut state = self.slot.lock();
        if matches!(&*state, State::Offering { attempt } if *attempt == self.attempt) {
            *state = State::Unsupported {
                until: Instant::now() + REFUSED_RETRY,
            };
        }
    }

    /// The handshake request was answered `OK`: with the axon's accept (a session), or without
    /// (`accept == None`: the axon does not do sessions; keep signing for a while).
    pub(crate) fn resolve(
        mut self,
        accept: Option<SessionAccept>,
        caller_key: &str,
        synapse_key: &str,
    ) {
        let session = match (accept, self.initiator.take()) {
            // An accept whose share cannot be used (small order) is treated like no accept.
            (Some(accept), Some(init)) => {
                init.complete(&accept, caller_key, synapse_key)
                    .ok()
                    .map(|key| {
                        Arc::new(ClientSession {
                            id: accept.session_id,
                            mac: SessionMac::new(&key, &accept.session_id),
                            counter: AtomicU64::new(0),
                        })
                    })
            }
            _ => None,
        };
        let mut state = self.slot.lock();
        if matches!(&*state, State::Offering { attempt } if *attempt == self.attempt) {
            *state = match session {
                Some(s) => State::Ready(s),
                None => State::Unsupported {
                    until: Instant::now() + UNSUPPORTED_RETRY,
                },
            };
        }
    }
}

impl Drop for OfferTicket {
    fn drop(&mut self) {
        let mut state = self.slot.lock();
        if matches!(&*state, State::Offering { attempt } if *attempt == self.attempt) {
            *state = State::Idle;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_crypto::NeuronKey;

    /// One refusal (a forgotten session) does not stop late proofs; two in a row do, for good.
    #[test]
    fn late_proofs_stop_after_two_refusals_in_a_row() {
        let slot = SessionSlot::default();
        assert!(slot.late_proofs());
        slot.late_proof_answered(false);
        assert!(slot.late_proofs());
        slot.late_proof_answered(true);
        slot.late_proof_answered(false);
        assert!(
            slot.late_proofs(),
            "an acceptance in between resets the count"
        );
        slot.late_proof_answered(false);
        assert!(!slot.late_proofs());
        slot.late_proof_answered(true);
        assert!(!slot.late_proofs(), "given up for the connection's life");
    }

    #[test]
    fn one_handshake_at_a_time_then_the_session_is_used() {
        let slot = Arc::new(SessionSlot::default());
        let Plan::Offer(ticket) = slot.plan(SessionVersion::LATEST) else {
            panic!("first call must offer");
        };
        assert!(matches!(slot.plan(SessionVersion::LATEST), Plan::Signed));
        // The axon's side, to complete the handshake.
        let caller = NeuronKey::from_seed([1; 32]);
        let synapse = NeuronKey::from_seed([2; 32]).public_hex();
        let Some(init) = ticket.initiator() else {
            panic!("ticket without initiator");
        };
        let offer = init.offer(&caller, &[0; 32]);
        let Ok((accept, _)) = bt_crypto::session::accept_offer(
            &offer,
            SessionVersion::LATEST,
            &caller.public_hex(),
            &synapse,
        ) else {
            panic!("accept failed");
        };
        ticket.resolve(Some(accept), &caller.public_hex(), &synapse);
        let Plan::Session(s) = slot.plan(SessionVersion::LATEST) else {
            panic!("session expected");
        };
        let a = s.prove(&[1; 32]).map(|p| p.counter);
        let b = s.prove(&[1; 32]).map(|p| p.counter);
        assert_eq!((a, b), (Some(1), Some(2)));
        slot.forget(s.id());
        assert!(matches!(slot.plan(SessionVersion::LATEST), Plan::Offer(_)));
    }

    #[test]
    fn a_dropped_handshake_lets_the_next_call_offer_and_a_refusal_backs_off() {
        let slot = Arc::new(SessionSlot::default());
        let first = slot.plan(SessionVersion::LATEST);
        assert!(matches!(first, Plan::Offer(_)));
        drop(first);
        let Plan::Offer(ticket) = slot.plan(SessionVersion::LATEST) else {
            panic!("offer expected after a dropped handshake");
        };
        ticket.resolve(None, "k", "s");
        assert!(matches!(slot.plan(SessionVersion::LATEST), Plan::Signed));
        assert!(!slot.is_ready());

        // A handshake the axon refused (policy, failing synapse) also backs off.
        let slot = Arc::new(SessionSlot::default());
        let Plan::Offer(ticket) = slot.plan(SessionVersion::LATEST) else {
            panic!("offer expected");
        };
        ticket.refused();
        assert!(matches!(slot.plan(SessionVersion::LATEST), Plan::Signed));
    }
}
