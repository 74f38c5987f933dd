//! Sessions over HTTP, between our own dendrites and axons: the gRPC session
//! ([`crate::session`]: X25519 share, HKDF key, HMAC-SHA256 with a counter window, the bounded
//! table) with an sr25519 hotkey instead of a neuron key, and the SDK v10 fields instead of a
//! tensor request's digest.
//!
//! - Our axon advertises sessions in every answer ([`ADVERTISE_HEADER`]); SDK dendrites ignore
//!   it. Our dendrite offers a session only to an axon that advertised, so an SDK axon never
//!   receives a session header.
//! - The handshake is a normal request (signed by v10 and/or btauth/1) that also carries
//!   `bt-session-offer` ([`SessionOffer`]: an X25519 share and an sr25519 signature by the
//!   caller's hotkey over [`offer_digest`]: the request's fields, the endpoint the caller dialled
//!   and the share) and `bt-session-version`. The axon answers it as usual and, if it accepts,
//!   adds `bt-session-accept`. The key binds both shares, the caller's SS58 and
//!   [`key_context`] (the axon's SS58 and the endpoint), so a session is worth nothing at
//!   another axon.
//! - Later requests carry the v10 headers without a signature, and `bt-session`
//!   ([`SessionProof`]: session id, counter, HMAC over [`request_digest`] — the fields the v10
//!   signature covers — and the counter). The answer carries [`ANSWER_HEADER`]: the session's
//!   HMAC over [`answer_digest`] under the request's counter.

use sha2::{Digest, Sha256};

use crate::session::{
    OFFER_HEADER, SESSION_HEADER, SessionMac, SessionOffer, SessionProof, SessionVersion,
    VERSION_HEADER,
};
use crate::transcript::Transcript;
use crate::wallet::{AccountId, Sr25519Pair};

use super::error::AuthError;

/// Answer header of an axon that accepts sessions: the highest session version it speaks.
pub const ADVERTISE_HEADER: &str = "bt-http-session";
/// Answer header of a request authenticated by a session: 64 hex digits of the answer's MAC.
pub const ANSWER_HEADER: &str = "bt-session-answer";

pub const HTTP_OFFER_TAG: &[u8] = b"bittensor/http-session-offer/v1";
pub const HTTP_REQUEST_TAG: &[u8] = b"bittensor/http-session-request/v1";
pub const HTTP_ANSWER_TAG: &[u8] = b"bittensor/http-session-answer/v1";

/// The v10 fields of one request, as sent (what the SDK's v10 signature covers).
#[derive(Clone, Copy, Debug)]
pub struct SessionFields<'a> {
    pub nonce: i64,
    pub dendrite_ss58: &'a str,
    pub axon_ss58: &'a str,
    pub uuid: &'a str,
    pub body_hash: &'a str,
}

/// What a session request's MAC covers: the nonce, both hotkeys, the dendrite's uuid and the
/// body hash, each length-prefixed (no dot-joined string to split ambiguously).
pub fn request_digest(f: &SessionFields<'_>) -> [u8; 32] {
    let mut t = Transcript::new(HTTP_REQUEST_TAG);
    t.i64(f.nonce)
        .bytes(f.dendrite_ss58.as_bytes())
        .bytes(f.axon_ss58.as_bytes())
        .bytes(f.uuid.as_bytes())
        .bytes(f.body_hash.as_bytes());
    t.finish()
}

/// What the handshake's sr25519 signature covers: the request's fields, the endpoint the
/// caller dialled (`host:port` as in its `Host` header) and its X25519 share.
pub fn offer_digest(fields: &SessionFields<'_>, endpoint: &str, share: &[u8; 32]) -> [u8; 32] {
    let mut t = Transcript::new(HTTP_OFFER_TAG);
    t.bytes(&request_digest(fields))
        .bytes(endpoint.as_bytes())
        .bytes(share);
    t.finish()
}

/// The string both ends bind into the session key beside the caller's SS58: the axon's hotkey
/// and the endpoint. The `http/` prefix keeps HTTP keys apart from gRPC ones.
pub fn key_context(axon_ss58: &str, endpoint: &str) -> String {
    format!("http/{axon_ss58}@{endpoint}")
}

/// The caller's offer for a request with `fields` sent to `endpoint`.
pub fn sign_offer(
    hotkey: &Sr25519Pair,
    share: &[u8; 32],
    fields: &SessionFields<'_>,
    endpoint: &str,
) -> SessionOffer {
    SessionOffer {
        share: *share,
        signature: hotkey.sign(&offer_digest(fields, endpoint, share)),
    }
}

/// The axon's check of an offer: signed by `caller` (who authenticated the request itself).
pub fn verify_offer(
    caller: &AccountId,
    offer: &SessionOffer,
    fields: &SessionFields<'_>,
    endpoint: &str,
) -> Result<(), AuthError> {
    caller
        .verify(
            &offer_digest(fields, endpoint, &offer.share),
            &offer.signature,
        )
        .map_err(|_| AuthError::BadSignature {
            hotkey: format!("{} (session offer)", caller.to_ss58()),
        })
}

/// What an answer's MAC covers: its status, the SHA-256 of its body, and the request it answers.
pub fn answer_digest(status: u16, body: &[u8], request: &[u8; 32]) -> [u8; 32] {
    let mut t = Transcript::new(HTTP_ANSWER_TAG);
    t.u64(u64::from(status))
        .bytes(&Sha256::digest(body))
        .bytes(request);
    t.finish()
}

/// The [`ANSWER_HEADER`] value.
pub fn sign_answer(
    mac: &SessionMac,
    counter: u64,
    status: u16,
    body: &[u8],
    request: &[u8; 32],
) -> String {
    hex::encode(mac.mac(counter, &answer_digest(status, body, request)))
}

/// Checks an [`ANSWER_HEADER`] value (constant time).
pub fn verify_answer(
    mac: &SessionMac,
    counter: u64,
    status: u16,
    body: &[u8],
    request: &[u8; 32],
    header: &[u8],
) -> bool {
    let mut got = [0u8; 32];
    if header.len() != 64 || hex::decode_to_slice(header, &mut got).is_err() {
        return false;
    }
    let proof = SessionProof {
        version: mac.version(),
        session_id: *mac.session_id(),
        counter,
        mac: got,
    };
    mac.verify(&proof, &answer_digest(status, body, request))
        .is_ok()
}

/// How a request asks to authenticate, from its session headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionHeaders {
    /// No session header: the request is signed (v10 or btauth/1).
    None,
    /// A signed request that also opens a session of the negotiated version.
    Offer(SessionOffer, SessionVersion),
    /// Authenticated by a session's MAC.
    Proof(SessionProof),
}

/// Reads the session headers of a request (names lower-case, as HTTP libraries give them).
/// Each may appear once; a request carries an offer or a proof, not both; a malformed value
/// is refused. Values are fixed-length ASCII: nothing here allocates for what a peer sends.
pub fn parse_session_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    own: SessionVersion,
) -> Result<SessionHeaders, AuthError> {
    let mut offer = None;
    let mut proof = None;
    let mut version = None;
    for (name, value) in headers {
        let slot = match name {
            OFFER_HEADER => &mut offer,
            SESSION_HEADER => &mut proof,
            VERSION_HEADER => &mut version,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(AuthError::DuplicateHeader {
                header: static_name(name),
            });
        }
    }
    let bad = |header: &'static str, e: crate::CryptoError| AuthError::BadHeader {
        header,
        reason: e.to_string(),
    };
    match (offer, proof) {
        (None, None) => Ok(SessionHeaders::None),
        (Some(_), Some(_)) => Err(AuthError::BadHeader {
            header: SESSION_HEADER,
            reason: format!("a request carries either {SESSION_HEADER} or {OFFER_HEADER}"),
        }),
        (None, Some(p)) => {
            let p = SessionProof::parse(p).map_err(|e| bad(SESSION_HEADER, e))?;
            if p.version > own {
                return Err(AuthError::BadHeader {
                    header: SESSION_HEADER,
                    reason: format!(
                        "this axon speaks session versions up to {}, not {}",
                        own.number(),
                        p.version.number()
                    ),
                });
            }
            Ok(SessionHeaders::Proof(p))
        }
        (Some(o), None) => {
            let o = SessionOffer::parse(o).map_err(|e| bad(OFFER_HEADER, e))?;
            let v = match version {
                None => SessionVersion::V1,
                Some(v) => SessionVersion::negotiate(v, own).map_err(|e| bad(VERSION_HEADER, e))?,
            };
            Ok(SessionHeaders::Offer(o, v))
        }
    }
}

fn static_name(name: &str) -> &'static str {
    match name {
        OFFER_HEADER => OFFER_HEADER,
        SESSION_HEADER => SESSION_HEADER,
        _ => VERSION_HEADER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{SessionInitiator, SessionTable, accept_share};

    fn fields<'a>(nonce: i64, d: &'a str, a: &'a str) -> SessionFields<'a> {
        SessionFields {
            nonce,
            dendrite_ss58: d,
            axon_ss58: a,
            uuid: "u.1",
            body_hash: "",
        }
    }

    /// Both ends derive one key only when they agree on the axon and the endpoint; the offer's
    /// signature binds the endpoint; the answer MAC binds status, body and request.
    #[test]
    fn handshake_binds_hotkeys_and_endpoint() {
        let dendrite = Sr25519Pair::from_seed([1; 32]);
        let axon = Sr25519Pair::from_seed([2; 32]);
        let (d, a) = (dendrite.ss58(), axon.ss58());
        let f = fields(7, &d, &a);
        let init = SessionInitiator::generate();
        let offer = sign_offer(&dendrite, init.share(), &f, "10.0.0.1:8091");
        verify_offer(&dendrite.account(), &offer, &f, "10.0.0.1:8091").unwrap();
        assert!(verify_offer(&dendrite.account(), &offer, &f, "10.0.0.2:8091").is_err());
        assert!(verify_offer(&axon.account(), &offer, &f, "10.0.0.1:8091").is_err());
        let ctx = key_context(&a, "10.0.0.1:8091");
        let (accept, axon_key) =
            accept_share(&offer.share, SessionVersion::LATEST, &d, &ctx).unwrap();
        let caller_key = init.complete(&accept, &d, &ctx).unwrap();
        assert_eq!(caller_key.as_bytes(), axon_key.as_bytes());
        let init2 = SessionInitiator::generate();
        let (accept2, other) = accept_share(
            init2.share(),
            SessionVersion::LATEST,
            &d,
            &key_context(&a, "10.0.0.2:8091"),
        )
        .unwrap();
        let mine = init2.complete(&accept2, &d, &ctx).unwrap();
        assert_ne!(mine.as_bytes(), other.as_bytes());

        let mut table: SessionTable<AccountId> = SessionTable::new(Default::default());
        table
            .insert(accept.session_id, dendrite.account(), &d, axon_key, 0, None)
            .unwrap();
        let mac = SessionMac::new(&caller_key, &accept.session_id);
        let digest = request_digest(&f);
        let auth = table
            .authenticate_from(&mac.prove(1, &digest), &d, &digest, 0, None)
            .unwrap();
        let answer = sign_answer(&auth.mac, 1, 200, b"{}", &digest);
        assert!(verify_answer(
            &mac,
            1,
            200,
            b"{}",
            &digest,
            answer.as_bytes()
        ));
        assert!(!verify_answer(
            &mac,
            1,
            200,
            b"{ }",
            &digest,
            answer.as_bytes()
        ));
        assert!(!verify_answer(
            &mac,
            2,
            200,
            b"{}",
            &digest,
            answer.as_bytes()
        ));
        assert!(!verify_answer(
            &mac,
            1,
            401,
            b"{}",
            &digest,
            answer.as_bytes()
        ));
        assert!(!verify_answer(&mac, 1, 200, b"{}", &digest, b"zz"));
        // Any field of the request changes the digest.
        for g in [
            fields(8, &d, &a),
            fields(7, &a, &a),
            fields(7, &d, &d),
            SessionFields { uuid: "u.2", ..f },
            SessionFields {
                body_hash: "x",
                ..f
            },
        ] {
            assert_ne!(request_digest(&g), digest);
        }
    }

    #[test]
    fn session_headers_parse_strictly() {
        let proof = SessionProof {
            version: SessionVersion::V2,
            session_id: [1; 16],
            counter: 3,
            mac: [2; 32],
        }
        .encode();
        let offer = SessionOffer {
            share: [3; 32],
            signature: [4; 64],
        }
        .encode();
        let parse = |pairs: &[(&'static str, &str)]| {
            parse_session_headers(
                pairs.iter().map(|(k, v)| (*k, v.as_bytes())),
                SessionVersion::LATEST,
            )
        };
        assert_eq!(parse(&[("host", "x")]), Ok(SessionHeaders::None));
        assert!(matches!(
            parse(&[(SESSION_HEADER, &proof)]),
            Ok(SessionHeaders::Proof(p)) if p.counter == 3
        ));
        assert!(matches!(
            parse(&[(OFFER_HEADER, &offer), (VERSION_HEADER, "2")]),
            Ok(SessionHeaders::Offer(_, SessionVersion::V2))
        ));
        for bad in [
            vec![(SESSION_HEADER, proof.as_str()), (SESSION_HEADER, &proof)],
            vec![(SESSION_HEADER, proof.as_str()), (OFFER_HEADER, &offer)],
            vec![(SESSION_HEADER, "2.zz")],
            vec![(OFFER_HEADER, offer.as_str()), (VERSION_HEADER, "0")],
            vec![(OFFER_HEADER, "1.")],
        ] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
    }
}
