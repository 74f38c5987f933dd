//! The dendrite's side of HTTP sessions (`bt_crypto::http_auth::session`), on the gRPC
//! dendrite's per-axon [`SessionSlot`] (one handshake in flight, back-off after a refusal).
//!
//! An axon gets an offer only after one of its answers advertised sessions, so SDK axons never
//! see a session header. Slots are kept per (address, hotkey), at most `max_sessions`, least
//! recently used dropped first.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bt_crypto::http_auth::session::{
    ADVERTISE_HEADER, ANSWER_HEADER, SessionFields, key_context, request_digest, sign_offer,
    verify_answer,
};
use bt_crypto::session::{
    ACCEPT_HEADER, SessionAccept, SessionOffer, SessionProof, SessionVersion,
};
use bt_crypto::wallet::{AccountId, Sr25519Pair};

use crate::lru::BoundedLru;
use crate::session::{ClientSession, OfferTicket, Plan, SessionSlot};

type Key = (SocketAddr, AccountId);

/// The session slots of the axons that advertised sessions.
pub(crate) struct Slots {
    slots: Mutex<BoundedLru<Key, Arc<SessionSlot>>>,
}

/// How one request authenticates.
pub(crate) enum Auth {
    /// Signed as configured (no session with this axon, or one being set up elsewhere).
    Signed,
    /// Signed, and offering a session.
    Offer(OfferTicket),
    /// By a session's MAC.
    Session(SessionRequest),
}

/// A request sent under a session: what checking its answer needs.
pub(crate) struct SessionRequest {
    pub(crate) slot: Arc<SessionSlot>,
    pub(crate) session: Arc<ClientSession>,
    pub(crate) counter: u64,
    pub(crate) digest: [u8; 32],
}

impl Slots {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: Mutex::new(BoundedLru::new(capacity)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BoundedLru<Key, Arc<SessionSlot>>> {
        // Every state of the map is valid on its own.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How the next request to the axon at `addr` with `hotkey` authenticates: signed until
    /// it advertised sessions, then as its slot decides.
    pub(crate) fn plan(&self, addr: SocketAddr, hotkey: AccountId) -> Auth {
        let slot = self
            .lock()
            .get_mut(&(addr, hotkey), Instant::now())
            .map(|s| s.clone());
        let Some(slot) = slot else {
            return Auth::Signed;
        };
        match slot.plan(SessionVersion::LATEST) {
            Plan::Offer(ticket) => Auth::Offer(ticket),
            Plan::Session(session) => Auth::Session(SessionRequest {
                slot,
                session,
                counter: 0,
                digest: [0; 32],
            }),
            Plan::Signed | Plan::Unsigned => Auth::Signed,
        }
    }

    /// The axon at `addr` advertised sessions in an answer: its next request offers one.
    pub(crate) fn advertised(&self, addr: SocketAddr, hotkey: AccountId) {
        self.lock()
            .get_or_insert_with(&(addr, hotkey), Instant::now(), || {
                Arc::new(SessionSlot::default())
            });
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

impl SessionRequest {
    /// The `bt-session` header value for a request with `fields`; `None` once the session's
    /// counters are used up (the request is then signed and the session replaced).
    pub(crate) fn prove(&mut self, fields: &SessionFields<'_>) -> Option<SessionProof> {
        self.digest = request_digest(fields);
        let counter = self.session.next_counter()?;
        self.counter = counter;
        Some(self.session.prove_with(counter, &self.digest))
    }

    /// Whether an answer's [`ANSWER_HEADER`] is the session's MAC over it.
    pub(crate) fn answer_verifies(
        &self,
        code: u16,
        body: &[u8],
        headers: &http::HeaderMap,
    ) -> bool {
        headers.get(ANSWER_HEADER).is_some_and(|v| {
            verify_answer(
                self.session.mac(),
                self.counter,
                code,
                body,
                &self.digest,
                v.as_bytes(),
            )
        })
    }

    /// The axon refused the session: the next request signs and offers a new one.
    pub(crate) fn forget(&self) {
        self.slot.forget(self.session.id());
    }
}

/// The offer header of a handshake request.
pub(crate) fn offer(
    ticket: &OfferTicket,
    hotkey: &Sr25519Pair,
    fields: &SessionFields<'_>,
    endpoint: &str,
) -> Option<SessionOffer> {
    ticket
        .initiator()
        .map(|init| sign_offer(hotkey, init.share(), fields, endpoint))
}

/// Ends a handshake with the axon's answer: a session when it accepted.
pub(crate) fn resolve(
    ticket: OfferTicket,
    code: u16,
    headers: &http::HeaderMap,
    dendrite_ss58: &str,
    axon_ss58: &str,
    endpoint: &str,
) {
    if code != bt_http::status::SUCCESS {
        ticket.refused();
        return;
    }
    let accept = headers
        .get(ACCEPT_HEADER)
        .and_then(|v| SessionAccept::parse(v.as_bytes()).ok());
    ticket.resolve(accept, dendrite_ss58, &key_context(axon_ss58, endpoint));
}

/// Whether an answer advertises sessions.
pub(crate) fn advertises(headers: &http::HeaderMap) -> bool {
    headers.contains_key(ADVERTISE_HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_advertised_axons_get_offers_and_the_slots_are_bounded() {
        let slots = Slots::new(2);
        let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        let key = AccountId([1; 32]);
        assert!(matches!(slots.plan(addr(1), key), Auth::Signed));
        slots.advertised(addr(1), key);
        assert!(matches!(slots.plan(addr(1), key), Auth::Offer(_)));
        // Another hotkey at the same address is another axon.
        assert!(matches!(
            slots.plan(addr(1), AccountId([2; 32])),
            Auth::Signed
        ));
        for p in 2..6 {
            slots.advertised(addr(p), key);
            assert!(slots.len() <= 2);
        }
        assert!(matches!(slots.plan(addr(1), key), Auth::Signed));
    }
}
