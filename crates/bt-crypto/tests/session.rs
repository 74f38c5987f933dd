//! Property tests of the session pieces: the header codec round-trips and refuses everything
//! else without panicking, the replay window agrees with a set-based model, and the session
//! table stays within its bounds whatever the sequence of handshakes and requests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use bt_crypto::NeuronKey;
use bt_crypto::session::{
    REPLAY_WINDOW, ReplayWindow, SessionAccept, SessionConfig, SessionHint, SessionInitiator,
    SessionOffer, SessionProof, SessionTable, SessionVersion, accept_offer, session_mac,
};
use proptest::prelude::*;

fn arr<const N: usize>(v: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&v[..N]);
    a
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn headers_round_trip(
        bytes in proptest::collection::vec(any::<u8>(), 96),
        counter in 1u64..,
        v2 in any::<bool>(),
    ) {
        let version = if v2 { SessionVersion::V2 } else { SessionVersion::V1 };
        let offer = SessionOffer { share: arr(&bytes), signature: arr(&bytes[32..]) };
        prop_assert_eq!(SessionOffer::parse(offer.encode().as_bytes()).unwrap(), offer);
        let accept = SessionAccept { version, session_id: arr(&bytes), share: arr(&bytes[16..]) };
        prop_assert_eq!(SessionAccept::parse(accept.encode().as_bytes()).unwrap(), accept);
        let proof =
            SessionProof { version, session_id: arr(&bytes), counter, mac: arr(&bytes[16..]) };
        prop_assert_eq!(SessionProof::parse(proof.encode().as_bytes()).unwrap(), proof);
        let hint = SessionHint { version, session_id: arr(&bytes) };
        prop_assert_eq!(SessionHint::parse(hint.encode().as_bytes()).unwrap(), hint);
    }

    /// Arbitrary bytes: never a panic, and whatever parses is canonical (re-encodes to the
    /// same bytes), so one value has one spelling.
    #[test]
    fn arbitrary_values_parse_canonically_or_not_at_all(
        raw in proptest::collection::vec(any::<u8>(), 0..220),
        template in 0usize..5,
        flips in proptest::collection::vec((0usize..200, any::<u8>()), 0..3),
    ) {
        // Mostly-valid values reach the deeper checks; raw bytes test the length check.
        let mut v = match template {
            0 => SessionOffer { share: [1; 32], signature: [2; 64] }.encode().into_bytes(),
            1 => SessionAccept { version: SessionVersion::V2, session_id: [3; 16], share: [4; 32] }
                .encode()
                .into_bytes(),
            2 => SessionProof { version: SessionVersion::V1, session_id: [5; 16], counter: 9, mac: [6; 32] }
                .encode()
                .into_bytes(),
            3 => SessionHint { version: SessionVersion::V2, session_id: [7; 16] }
                .encode()
                .into_bytes(),
            _ => raw.clone(),
        };
        for (i, b) in flips {
            if let Some(x) = v.get_mut(i) {
                *x = b;
            }
        }
        if let Ok(o) = SessionOffer::parse(&v) {
            prop_assert_eq!(o.encode().into_bytes(), v.clone());
        }
        if let Ok(a) = SessionAccept::parse(&v) {
            prop_assert_eq!(a.encode().into_bytes(), v.clone());
        }
        if let Ok(p) = SessionProof::parse(&v) {
            prop_assert_eq!(p.encode().into_bytes(), v.clone());
        }
        if let Ok(h) = SessionHint::parse(&v) {
            prop_assert_eq!(h.encode().into_bytes(), v.clone());
        }
        let _ = SessionProof::parse(&raw);
        if let Ok(v) = SessionVersion::negotiate(&raw, SessionVersion::LATEST) {
            prop_assert!(v <= SessionVersion::LATEST);
        }
    }

    /// The window accepts a counter iff it is new and not more than the window below the
    /// highest accepted one.
    #[test]
    fn window_matches_a_set_model(
        steps in proptest::collection::vec((0u64..3000, any::<bool>()), 1..400)
    ) {
        let mut w = ReplayWindow::default();
        let mut seen = HashSet::new();
        let mut highest = 0u64;
        for (c, jump) in steps {
            // Occasionally jump far ahead, as a long-lived session does.
            let c = if jump && c % 7 == 0 { c * 1000 } else { c };
            let expect = c != 0 && !seen.contains(&c) && (c > highest || highest - c < REPLAY_WINDOW);
            prop_assert_eq!(w.check_and_record(c).is_ok(), expect, "counter {}", c);
            if expect {
                seen.insert(c);
                highest = highest.max(c);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Any interleaving of handshakes (from a few keys) and requests: the table never holds
    /// more than its bounds, and a request is accepted only with the right key, MAC and a new
    /// counter.
    #[test]
    fn table_is_bounded_and_accepts_each_counter_once(
        ops in proptest::collection::vec((0u8..6, 0usize..16, 1u64..40, any::<bool>()), 1..120),
        v2 in any::<bool>(),
    ) {
        let version = if v2 { SessionVersion::V2 } else { SessionVersion::V1 };
        let config = SessionConfig { capacity: 5, per_caller: 2, ..SessionConfig::default() };
        let mut table = SessionTable::new(config);
        let keys: Vec<NeuronKey> = (0..6u8).map(|i| NeuronKey::from_seed([i + 1; 32])).collect();
        let synapse = NeuronKey::from_seed([99; 32]).public_hex();
        let mut opened = Vec::new();
        let mut accepted: HashSet<([u8; 16], u64)> = HashSet::new();
        let digest = [7u8; 32];
        for (now, (who, pick, counter, handshake)) in ops.into_iter().enumerate() {
            let now = now as u64;
            let k = &keys[who as usize];
            if handshake || opened.is_empty() {
                let init = SessionInitiator::generate();
                let offer = init.offer(k, &[0; 32]);
                let (accept, key) = accept_offer(&offer, version, &k.public_hex(), &synapse).unwrap();
                // A full table of sessions in recent use refuses the newcomer instead.
                if table.insert(accept.session_id, k.public(), &k.public_hex(), key, now, None).is_ok() {
                    let ck = init.complete(&accept, &k.public_hex(), &synapse).unwrap();
                    opened.push((accept.session_id, who, ck));
                }
            } else {
                let (sid, owner, ck) = &opened[pick % opened.len()];
                let proof = SessionProof {
                    version,
                    session_id: *sid,
                    counter,
                    mac: session_mac(ck, sid, counter, &digest),
                };
                // The same MAC presented under the other version is refused.
                let other_version = SessionProof {
                    version: if v2 { SessionVersion::V1 } else { SessionVersion::V2 },
                    ..proof
                };
                prop_assert!(table
                    .authenticate(&other_version, &keys[*owner as usize].public_hex(), &digest, now)
                    .is_err());
                let caller = &keys[*owner as usize];
                let ok = table.authenticate(&proof, &caller.public_hex(), &digest, now).is_ok();
                if ok {
                    prop_assert!(accepted.insert((*sid, counter)), "counter accepted twice");
                }
                // Someone else's key never passes.
                let other = &keys[(*owner as usize + 1) % keys.len()];
                prop_assert!(table.authenticate(&proof, &other.public_hex(), &digest, now).is_err());
            }
            prop_assert!(table.len() <= 5);
            for k in &keys {
                prop_assert!(table.sessions_of(&k.public()) <= 2);
            }
        }
    }
}
