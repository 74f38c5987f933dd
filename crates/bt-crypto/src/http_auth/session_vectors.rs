//! The HTTP session test vector of `docs/protocol.md` ("Sessions over HTTP", "Test vector"),
//! recomputed independently by `crates/bt-crypto/tests/http_session_vectors.py` (Python's
//! hashlib, hmac and pyca/cryptography, written from the document). The offer's sr25519
//! signature is randomised, so it is checked by verifying it, not by its bytes.

use super::session::*;
use crate::session::{SessionInitiator, SessionMac, SessionVersion, accept_offer_with};
use crate::wallet::Sr25519Pair;

const ENDPOINT: &str = "127.0.0.1:8091";
const UUID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
/// The SDK's `computed_body_hash` of the subnet template's `Dummy`, which has no required hash
/// fields: SHA3-256 of the empty string.
const BODY_HASH: &str = "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a";
const ANSWER_BODY: &[u8] = br#"{"dummy_input":3,"dummy_output":6}"#;

/// Dendrite hotkey SS58, axon hotkey SS58, handshake request digest, offer digest, key
/// context, offer header's share, accept header, session key, first session request's digest,
/// its `bt-session` header, the answer digest, the `bt-session-answer` header.
fn http_session_example() -> Vec<String> {
    let dendrite = Sr25519Pair::from_seed([0x01; 32]);
    let axon = Sr25519Pair::from_seed([0x02; 32]);
    let (d, a) = (dendrite.ss58(), axon.ss58());
    let handshake = SessionFields {
        nonce: 1_700_000_000_000_000_000,
        dendrite_ss58: &d,
        axon_ss58: &a,
        uuid: UUID,
        body_hash: BODY_HASH,
    };
    let init = SessionInitiator::from_secret_bytes([0x03; 32]).with_max_version(SessionVersion::V2);
    let offer = sign_offer(&dendrite, init.share(), &handshake, ENDPOINT);
    verify_offer(&dendrite.account(), &offer, &handshake, ENDPOINT)
        .expect("the offer verifies under the dendrite's hotkey");
    let ctx = key_context(&a, ENDPOINT);
    let (accept, axon_key) =
        accept_offer_with([0x04; 32], [0x05; 16], &offer, SessionVersion::V2, &d, &ctx)
            .expect("a contributory share");
    let key = init
        .complete(&accept, &d, &ctx)
        .expect("the accept matches");
    assert_eq!(key.as_bytes(), axon_key.as_bytes());

    let first = SessionFields {
        nonce: 1_700_000_000_001_000_000,
        ..handshake
    };
    let digest = request_digest(&first);
    let mac = SessionMac::new(&key, &accept.session_id);
    let answer = answer_digest(200, ANSWER_BODY, &digest);
    vec![
        d.clone(),
        a.clone(),
        hex::encode(request_digest(&handshake)),
        hex::encode(offer_digest(&handshake, ENDPOINT, &offer.share)),
        ctx,
        hex::encode(offer.share),
        accept.encode(),
        hex::encode(key.as_bytes()),
        hex::encode(digest),
        mac.prove(1, &digest).encode(),
        hex::encode(answer),
        sign_answer(&mac, 1, 200, ANSWER_BODY, &digest),
    ]
}

#[test]
fn worked_http_session_example() {
    assert_eq!(
        http_session_example(),
        HTTP_SESSION_VECTORS.map(str::to_owned)
    );
}

const HTTP_SESSION_VECTORS: [&str; 12] = [
    "5CcyqxXnJucaCnQQvvUg5EPzj1uoNAxACZvzArHw5aVDvgNH",
    "5CfCr47V5Dte6bwxNBE8K9oNnQd9fiay6aDEEkgYtFv7w4Fq",
    "1db4b156cb6c9275d058da84062c9cfa28d1c8a604a677880cf0ed627e2a6d9c",
    "1e1d536955063c83c03b7695ff083a834324214560219471ba8b005f9b5386c4",
    "http/5CfCr47V5Dte6bwxNBE8K9oNnQd9fiay6aDEEkgYtFv7w4Fq@127.0.0.1:8091",
    "5dfedd3b6bd47f6fa28ee15d969d5bb0ea53774d488bdaf9df1c6e0124b3ef22",
    "2.05050505050505050505050505050505.ac01b2209e86354fb853237b5de0f4fab13c7fcbf433a61c019369617fecf10b",
    "92850ceb4db8df78fc9d5bf39088feff1bfdb60e8a95f8dd5404e3816d0ecb8d",
    "12a06aed3ed18fbe336633218af2acd134f539630fc8c0a52ad4888eca55df68",
    "2.05050505050505050505050505050505.0000000000000001.0afcefb64443cd4b50c82da8132f0ea94a4f47ac39b6d5e4c107ab6c74a16983",
    "bd969a414460a07c51366f4a9c6eb99b0ad3084b6c8f4fa6ae2f766dea5372d1",
    "c98c4c2b46391fe98a74fce9cceb9ffdfefcc91c32dc3885a6a6212ed06b713f",
];
