//! HTTP session headers from a peer: the axon reads `bt-session-offer`, `bt-session-version` and
//! `bt-session` from any number of request headers (`parse_session_headers`), the dendrite reads
//! `bt-session-answer` (`verify_answer`). Arbitrary headers never panic; a header named twice or
//! an offer beside a proof is refused; whatever parses re-encodes to the bytes received; a
//! negotiated version never exceeds the axon's; a random answer MAC never verifies.
#![no_main]

use bt_crypto::http_auth::session::{SessionHeaders, parse_session_headers, verify_answer};
use bt_crypto::session::{
    OFFER_HEADER, SESSION_HEADER, SessionKey, SessionMac, SessionVersion, VERSION_HEADER,
};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 5] = [OFFER_HEADER, SESSION_HEADER, VERSION_HEADER, "host", "bt-session-late"];

fuzz_target!(|data: &[u8]| {
    // Entries of `name index, value length, value`.
    let mut pairs: Vec<(&str, &[u8])> = Vec::new();
    let mut rest = data;
    while let [name, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        pairs.push((NAMES[usize::from(*name) % NAMES.len()], &tail[..len]));
        rest = &tail[len..];
    }
    let named = |n: &str| pairs.iter().filter(|(k, _)| *k == n).count();
    for own in [SessionVersion::V1, SessionVersion::V2] {
        match parse_session_headers(pairs.iter().copied(), own) {
            Ok(SessionHeaders::None) => {
                assert_eq!(named(OFFER_HEADER) + named(SESSION_HEADER), 0);
            }
            Ok(SessionHeaders::Offer(offer, version)) => {
                assert!(version <= own);
                assert_eq!(named(OFFER_HEADER), 1);
                assert_eq!(named(SESSION_HEADER), 0);
                let sent = pairs.iter().find(|(k, _)| *k == OFFER_HEADER).map(|p| p.1);
                assert_eq!(Some(offer.encode().as_bytes()), sent);
            }
            Ok(SessionHeaders::Proof(proof)) => {
                assert!(proof.version <= own && proof.counter != 0);
                assert_eq!(named(SESSION_HEADER), 1);
                assert_eq!(named(OFFER_HEADER), 0);
                let sent = pairs.iter().find(|(k, _)| *k == SESSION_HEADER).map(|p| p.1);
                assert_eq!(Some(proof.encode().as_bytes()), sent);
            }
            Err(_) => {}
        }
    }
    let mac = SessionMac::new(&SessionKey::from_bytes([7; 32], SessionVersion::V2), &[1; 16]);
    assert!(!verify_answer(&mac, 1, 200, b"{}", &[0; 32], data));
});
