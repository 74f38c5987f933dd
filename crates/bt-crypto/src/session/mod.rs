//! Sessions: one signed handshake, then an HMAC per request instead of an Ed25519 signature.
//!
//! Ed25519 costs about as much CPU per request as a whole raw gRPC round trip (README "Benchmarks":
//! the crypto bench's sign and verify against the RPC bench's CPU per request), so a caller that
//! talks to the same axon many times pays for a session once: its signed request carries an
//! ephemeral X25519 share in the `bt-session-offer` header, covered by a second Ed25519 signature
//! over the request digest and the share. The axon answers that request as usual and adds its own
//! share and a session id (`bt-session-accept`); both sides derive a 32-byte key with HKDF-SHA256.
//! Later requests carry, in `bt-session`, the session id, a counter that the caller increments per
//! request, and HMAC-SHA256 over the request digest and the counter. The exact layouts are in
//! `docs/protocol.md`.
//!
//! Version 2 (negotiated with the `bt-session-version` header on the handshake) differs only in
//! its tags and in hashing the request's tensors with BLAKE3 instead of SHA-256: on a 1 MiB
//! payload that is most of the cost of authenticating it, on both ends.
//!
//! The request's own `signature` stays the plain v1 signature, so an axon that knows nothing
//! of sessions ignores the header and serves the request as before (and returns no share, so
//! the caller keeps signing); an axon that does know verifies only the offer signature, which
//! covers the request digest too.
//!
//! Pieces, one module each: the versions (`version`), the header names and codec (`headers`:
//! [`SessionOffer`], [`SessionAccept`], [`SessionProof`], [`SessionHint`]), the session key
//! (`key`), the two halves of the handshake (`handshake`: the caller's [`SessionInitiator`], the
//! axon's [`accept_offer`]), the MAC (`mac`: [`session_mac`], [`SessionMac`]), the counter window
//! (`replay_window`: [`ReplayWindow`]) and the axon's bounded table (`table`: [`SessionTable`]).
//! No I/O, no clock: time is an argument.

mod handshake;
mod headers;
mod key;
mod mac;
mod replay_window;
mod table;
mod version;

pub use handshake::{
    SESSION_OFFER_TAG, SessionInitiator, accept_offer, accept_offer_with, accept_share,
    offer_digest, verify_offer,
};
pub use headers::{
    ACCEPT_HEADER, LATE_HEADER, OFFER_HEADER, SESSION_HEADER, SessionAccept, SessionHint,
    SessionOffer, SessionProof, VERSION_HEADER,
};
pub use key::{SessionId, SessionKey};
pub use mac::{SessionMac, session_mac, verify_session_mac};
pub use replay_window::{CounterRefusal, REPLAY_WINDOW, ReplayWindow};
pub use table::{Authenticated, SessionCaller, SessionConfig, SessionTable};
pub use version::{
    BLAKE3_MIN_PAYLOAD_BYTES, SESSION_KEY_TAG, SESSION_KEY_TAG_V2, SESSION_REQUEST_TAG,
    SESSION_REQUEST_TAG_V2, SessionVersion,
};
