//! Session metadata from a peer (`bt-session-accept` reaches the dendrite; `bt-session-offer`,
//! `bt-session-version`, `bt-session` and `bt-session-late` reach the axon): arbitrary bytes never panic, and
//! whatever parses is canonical — it re-encodes to exactly the bytes received, so no value has
//! two spellings. A negotiated version never exceeds what the axon speaks.
#![no_main]

use bt_crypto::session::{
    SessionAccept, SessionHint, SessionOffer, SessionProof, SessionVersion,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = SessionAccept::parse(data) {
        assert_eq!(a.encode().as_bytes(), data);
    }
    if let Ok(o) = SessionOffer::parse(data) {
        assert_eq!(o.encode().as_bytes(), data);
    }
    if let Ok(p) = SessionProof::parse(data) {
        assert_eq!(p.encode().as_bytes(), data);
        assert_ne!(p.counter, 0);
    }
    if let Ok(h) = SessionHint::parse(data) {
        assert_eq!(h.encode().as_bytes(), data);
    }
    for own in [SessionVersion::V1, SessionVersion::V2] {
        if let Ok(v) = SessionVersion::negotiate(data, own) {
            assert!(v <= own);
        }
    }
});
