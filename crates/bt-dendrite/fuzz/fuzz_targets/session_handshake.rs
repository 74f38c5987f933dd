//! A session handshake driven by a peer's bytes, both halves: the axon verifies and accepts an
//! offer from arbitrary bytes, the dendrite completes from an arbitrary accept, and the axon's
//! table authenticates an arbitrary proof. Nothing panics; only the real caller's offer
//! verifies; a key is derived only from a well-formed share; the table never accepts a proof
//! it did not see made.
#![no_main]

use bt_crypto::NeuronKey;
use bt_crypto::session::{
    SessionAccept, SessionConfig, SessionInitiator, SessionOffer, SessionProof, SessionTable,
    SessionVersion, accept_offer_with, verify_offer,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Three header values cut from the input: offer, accept, proof.
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let (offer, accept, proof) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let caller = NeuronKey::from_seed([1; 32]);
    let synapse = NeuronKey::from_seed([2; 32]).public_hex();
    let digest = [7u8; 32];

    if let Ok(offer) = SessionOffer::parse(offer) {
        // A peer's bytes never carry the real caller's signature over this digest.
        assert!(verify_offer(&caller.public(), &digest, &offer).is_err());
        for version in [SessionVersion::V1, SessionVersion::V2] {
            let _ = accept_offer_with(
                [9; 32],
                [3; 16],
                &offer,
                version,
                &caller.public_hex(),
                &synapse,
            );
        }
    }

    if let Ok(accept) = SessionAccept::parse(accept) {
        let init = SessionInitiator::from_secret_bytes([5; 32]);
        let _ = init.complete(&accept, &caller.public_hex(), &synapse);
    }

    if let Ok(proof) = SessionProof::parse(proof) {
        // A table holding one real session refuses every proof a peer's bytes make.
        let init = SessionInitiator::from_secret_bytes([5; 32]);
        let offer = init.offer(&caller, &digest);
        let Ok((accept, key)) = accept_offer_with(
            [9; 32],
            [3; 16],
            &offer,
            SessionVersion::V2,
            &caller.public_hex(),
            &synapse,
        ) else {
            return;
        };
        let mut table = SessionTable::new(SessionConfig::default());
        if table
            .insert(accept.session_id, caller.public(), &caller.public_hex(), key, 0, None)
            .is_ok()
        {
            assert!(
                table
                    .authenticate(&proof, &caller.public_hex(), &digest, 1)
                    .is_err()
            );
        }
    }
});
