//! Which authentication a request asks for, read from its metadata before its body is used.
//!
//! - no session header: the per-request signature, over the v1 digest or (`bt-digest: 2`) the
//!   v2 digest, which binds the endpoint dialled (module `digest`); or none, with
//!   `allow_unsigned`;
//! - `bt-session-offer`: a signed request that also opens a session (the offer signature,
//!   which covers the request digest, is the one checked), of the version negotiated from
//!   `bt-session-version` (absent: 1);
//! - `bt-session`: a request authenticated by a session's MAC and counter, sent as a header or
//!   (computed while the body is sent) as a trailer.
//!
//! The exact layouts and the reasoning are in `bt_crypto::session` and `docs/protocol.md`.

use bt_crypto::session::{
    OFFER_HEADER, SESSION_HEADER, SessionOffer, SessionProof, SessionVersion, VERSION_HEADER,
};
use http::{HeaderMap, HeaderName};
use tonic::Status;
use tonic::metadata::MetadataMap;

/// How a request authenticates.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Auth {
    Plain,
    /// A handshake, and the version the session will have.
    Offer(SessionOffer, SessionVersion),
    Session(SessionProof),
}

/// Reads the session headers. With sessions disabled an offer is ignored (the request is a
/// valid signed request on its own) and a session request is refused, so the caller falls back
/// to signing. A malformed header is refused: only a broken or hostile client sends one.
pub(crate) fn parse_auth(
    metadata: &MetadataMap,
    enabled: bool,
    own_version: SessionVersion,
) -> Result<Auth, Status> {
    // Names made once, not parsed from strings twice per request.
    static SESSION: HeaderName = HeaderName::from_static(SESSION_HEADER);
    static OFFER: HeaderName = HeaderName::from_static(OFFER_HEADER);
    static VERSION: HeaderName = HeaderName::from_static(VERSION_HEADER);
    let headers: &HeaderMap = metadata.as_ref();
    // Metadata holds the request's trailers too: a caller may send `bt-session` after the body.
    // tonic merges a unary request's trailers over its headers, so a trailer replaces a header
    // of the same name; within either, one proof per request.
    let mut sessions = headers.get_all(&SESSION).iter();
    let session = sessions.next();
    if sessions.next().is_some() {
        return Err(Status::unauthenticated(format!(
            "a request carries one {SESSION_HEADER} header or trailer, not several"
        )));
    }
    let offer = headers.get(&OFFER);
    match (session, offer) {
        (None, None) => Ok(Auth::Plain),
        (Some(_), Some(_)) => Err(Status::unauthenticated(format!(
            "a request carries either {SESSION_HEADER} or {OFFER_HEADER}, not both"
        ))),
        (Some(_), None) if !enabled => Err(Status::unauthenticated(
            "this axon does not accept sessions: sign the request",
        )),
        (None, Some(_)) if !enabled => Ok(Auth::Plain),
        (Some(v), None) => SessionProof::parse(v.as_bytes())
            .map_err(|e| Status::unauthenticated(e.to_string()))
            .and_then(|proof| {
                if proof.version > own_version {
                    Err(Status::unauthenticated(format!(
                        "this axon speaks session versions up to {}, not {}",
                        own_version.number(),
                        proof.version.number()
                    )))
                } else {
                    Ok(Auth::Session(proof))
                }
            }),
        (None, Some(v)) => {
            let offer = SessionOffer::parse(v.as_bytes())
                .map_err(|e| Status::unauthenticated(e.to_string()))?;
            let version = match headers.get(&VERSION) {
                None => SessionVersion::V1,
                Some(v) => SessionVersion::negotiate(v.as_bytes(), own_version)
                    .map_err(|e| Status::unauthenticated(e.to_string()))?,
            };
            Ok(Auth::Offer(offer, version))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn md(pairs: &[(&'static str, &str)]) -> MetadataMap {
        let mut m = MetadataMap::new();
        for (k, v) in pairs {
            m.append(*k, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn headers_select_the_authentication() {
        let proof = SessionProof {
            version: SessionVersion::V2,
            session_id: [1; 16],
            counter: 9,
            mac: [2; 32],
        }
        .encode();
        let offer = SessionOffer {
            share: [3; 32],
            signature: [4; 64],
        }
        .encode();
        assert!(matches!(
            parse_auth(&md(&[]), true, SessionVersion::LATEST),
            Ok(Auth::Plain)
        ));
        assert!(matches!(
            parse_auth(&md(&[(SESSION_HEADER, &proof)]), true, SessionVersion::LATEST),
            Ok(Auth::Session(p)) if p.counter == 9
        ));
        assert!(matches!(
            parse_auth(&md(&[(OFFER_HEADER, &offer)]), true, SessionVersion::LATEST),
            Ok(Auth::Offer(_, SessionVersion::V1))
        ));
        // The version is the highest both speak.
        for (asked, own, want) in [
            ("2", SessionVersion::V2, SessionVersion::V2),
            ("7", SessionVersion::V2, SessionVersion::V2),
            ("2", SessionVersion::V1, SessionVersion::V1),
            ("1", SessionVersion::V2, SessionVersion::V1),
        ] {
            let pairs = md(&[(OFFER_HEADER, &offer), (VERSION_HEADER, asked)]);
            assert!(matches!(
                parse_auth(&pairs, true, own),
                Ok(Auth::Offer(_, v)) if v == want
            ));
        }
        // A version 2 session request at an axon that speaks only version 1.
        assert_eq!(
            parse_auth(&md(&[(SESSION_HEADER, &proof)]), true, SessionVersion::V1)
                .unwrap_err()
                .code(),
            tonic::Code::Unauthenticated
        );
        assert!(matches!(
            parse_auth(
                &md(&[(OFFER_HEADER, &offer)]),
                false,
                SessionVersion::LATEST
            ),
            Ok(Auth::Plain)
        ));
        for (pairs, enabled) in [
            (vec![(SESSION_HEADER, proof.as_str())], false),
            (vec![(SESSION_HEADER, "1.zz")], true),
            (vec![(OFFER_HEADER, "garbage")], true),
            (
                vec![(OFFER_HEADER, offer.as_str()), (VERSION_HEADER, "0")],
                true,
            ),
            (
                vec![(SESSION_HEADER, proof.as_str()), (OFFER_HEADER, &offer)],
                true,
            ),
            // Two in the headers (or two in the trailers).
            (
                vec![(SESSION_HEADER, proof.as_str()), (SESSION_HEADER, &proof)],
                true,
            ),
        ] {
            let err = parse_auth(&md(&pairs), enabled, SessionVersion::LATEST).unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unauthenticated);
        }
    }
}
