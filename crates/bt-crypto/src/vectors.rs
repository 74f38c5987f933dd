//! Fixed test vectors. The same values are printed in `docs/protocol.md`; if one changes here,
//! the protocol changed and the doc must change with it.

use super::*;

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).unwrap();
    out
}

#[test]
fn rfc8032_test_1() {
    let key = NeuronKey::from_seed(hex32(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    ));
    assert_eq!(
        key.public_hex(),
        "0xd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    assert_eq!(
        hex::encode(key.sign(b"")),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    );
}

/// The request of the worked example in `docs/protocol.md`.
fn example_request() -> (NeuronKey, bt_wire::TensorMessage) {
    let caller = NeuronKey::from_seed([0x01; 32]);
    let receiver = NeuronKey::from_seed([0x02; 32]);
    let mut buffer = Vec::new();
    for v in [1.0f32, 2.0, 3.0, 4.0] {
        buffer.extend_from_slice(&v.to_le_bytes());
    }
    let msg = bt_wire::TensorMessage {
        version: "0.1.0".into(),
        synapse_key: receiver.public_hex(),
        tensors: vec![bt_wire::Tensor {
            version: "0.1.0".into(),
            buffer: buffer.into(),
            shape: vec![2, 2],
            dtype: bt_wire::DataType::Float32 as i32,
            modality: bt_wire::Modality::Tensor as i32,
            requires_grad: true,
        }],
        ..Default::default()
    };
    (caller, msg)
}

#[test]
fn worked_request_example() {
    let (caller, mut msg) = example_request();
    sign_request(
        &caller,
        &mut msg,
        RpcMethod::Forward,
        1_700_000_000_000_000_000,
    );
    assert_eq!(
        msg.neuron_key,
        "0x8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
    );
    assert_eq!(
        msg.synapse_key,
        "0x8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"
    );
    let th = tensors_hash(&msg.tensors);
    assert_eq!(
        hex::encode(th),
        "2bf85cac55ecb84d07ece6cfb9d9642549ab594b6d97af71ba36785f5e95cf9e"
    );
    let d = request_digest(
        &msg.neuron_key,
        &msg.synapse_key,
        msg.nounce,
        &th,
        RpcMethod::Forward,
    );
    assert_eq!(
        hex::encode(d),
        "6940cdd792ae49cdb8960e9608aa0bbded352c7db73d3e611d7de1c4defe4b7b"
    );
    assert_eq!(
        hex::encode(&msg.signature),
        "070bc1e6811415bc1a10b9b7dd6ac99c18c59b5fd39a7075457ac989c7c686c44826303373755ce1dd5f0311b62bfa03631b6a69444b28c47a779e2276df2002"
    );
    assert_eq!(
        verify_request(&msg, RpcMethod::Forward).unwrap(),
        caller.public()
    );
}

#[test]
fn worked_synapse_example() {
    let key = NeuronKey::from_seed([0x01; 32]);
    let mut syn = bt_wire::Synapse {
        version: "0.1.0".into(),
        synapse_key: NeuronKey::from_seed([0x02; 32]).public_hex(),
        address: "127.0.0.1".into(),
        port: "8091".into(),
        block_hash: "0x00".into(),
        ..Default::default()
    };
    seal_synapse(&key, &mut syn, 16).unwrap();
    assert_eq!(syn.nounce, 15871);
    assert_eq!(
        hex::encode(&syn.proof_of_work),
        "0000bf3d34a1e1b2bc470bd7d7656120c89ba7e93fc53fc99f7f951456e4f102"
    );
    assert_eq!(
        hex::encode(synapse_signing_digest(&syn)),
        "be47b0f3793915c65ffb09a1f4be6bf49809d959e661a74435d4fbcb8e44ff53"
    );
    assert_eq!(
        hex::encode(&syn.signature),
        "32f179a2e9160c358f80c57b7abedb7a4227bb1525960aab2258dcb26d321df633356c58506b098ef6a31253190f937e43ec2a60c72260b6afa1dc59ce61a402"
    );
    verify_synapse(&syn, 16).unwrap();
}

#[test]
fn worked_wallet_example() {
    let w = wallet::Sr25519Pair::from_seed([0x01; 32]);
    assert_eq!(
        w.account().to_hex(),
        "0x189dac29296d31814dc8c56cf3d36a0543372bba7538fa322a4aebfebc39e056"
    );
    assert_eq!(w.ss58(), "5CcyqxXnJucaCnQQvvUg5EPzj1uoNAxACZvzArHw5aVDvgNH");
}

/// The session handshake and first session request of `docs/protocol.md` ("Sessions"), for
/// `version`: caller share, offer_digest, offer header, payload hash, axon share, accept header,
/// session key, request digest (nounce 0), session header; then, for version 2, the same for a
/// second request of 8 KiB (BLAKE3 payload hash): payload hash, request digest, session header.
fn session_example(version: crate::session::SessionVersion) -> Vec<String> {
    use crate::session::*;
    let (caller, msg) = example_request();
    let th = tensors_hash(&msg.tensors);
    let caller_hex = caller.public_hex();
    // Handshake: the worked request, signed as usual, plus an offer.
    let d = request_digest(
        &caller_hex,
        &msg.synapse_key,
        1_700_000_000_000_000_000,
        &th,
        RpcMethod::Forward,
    );
    let init = SessionInitiator::from_secret_bytes([0x03; 32]).with_max_version(version);
    let offer = init.offer(&caller, &d);
    let (accept, axon_key) = accept_offer_with(
        [0x04; 32],
        [0x05; 16],
        &offer,
        version,
        &caller_hex,
        &msg.synapse_key,
    )
    .unwrap();
    let key = init
        .complete(&accept, &caller_hex, &msg.synapse_key)
        .unwrap();
    assert_eq!(key.as_bytes(), axon_key.as_bytes());
    // First session request: same tensor, nounce 0, no signature, counter 1; the tensors hashed
    // as the version says.
    let payload = version.payload_hash(&msg.tensors).of(&msg.tensors);
    let d1 = request_digest(
        &caller_hex,
        &msg.synapse_key,
        0,
        &payload,
        RpcMethod::Forward,
    );
    let proof = SessionMac::new(&key, &accept.session_id).prove(1, &d1);
    assert_eq!(
        proof.mac,
        session_mac(&key, &accept.session_id, 1, &d1),
        "the pre-keyed MAC and the one-shot MAC agree"
    );
    verify_offer(
        &caller.public(),
        &d,
        &SessionOffer::parse(offer.encode().as_bytes()).unwrap(),
    )
    .unwrap();
    let mut out = vec![
        hex::encode(offer.share),
        hex::encode(offer_digest(&d, &offer.share)),
        offer.encode(),
        hex::encode(payload),
        hex::encode(accept.share),
        accept.encode(),
        hex::encode(key.as_bytes()),
        hex::encode(d1),
        proof.encode(),
    ];
    if version == SessionVersion::V2 {
        // Counter 2: a float32 [1, 2048] tensor of 0.0, 1.0, …, 2047.0 (8 KiB, so BLAKE3).
        let values: Vec<u8> = (0..2048u16)
            .flat_map(|i| f32::from(i).to_le_bytes())
            .collect();
        let large = vec![bt_wire::Tensor {
            buffer: values.into(),
            shape: vec![1, 2048],
            dtype: msg.tensors[0].dtype,
            requires_grad: msg.tensors[0].requires_grad,
            modality: msg.tensors[0].modality,
            ..Default::default()
        }];
        assert_eq!(version.payload_hash(&large), crate::PayloadHash::Blake3);
        let payload = crate::tensors_hash_blake3(&large);
        let d2 = request_digest(
            &caller_hex,
            &msg.synapse_key,
            0,
            &payload,
            RpcMethod::Forward,
        );
        let proof = SessionMac::new(&key, &accept.session_id).prove(2, &d2);
        out.extend([hex::encode(payload), hex::encode(d2), proof.encode()]);
    }
    out
}

#[test]
fn worked_session_example_version_1() {
    let expected: [&str; 9] = SESSION_VECTORS;
    assert_eq!(
        session_example(crate::session::SessionVersion::V1),
        expected.map(str::to_owned)
    );
}

#[test]
fn worked_session_example_version_2() {
    let got = session_example(crate::session::SessionVersion::V2);
    // The handshake request is the same, and a small payload is hashed with SHA-256 as in
    // version 1; the session differs from its accept on.
    assert_eq!(got[..5], SESSION_VECTORS[..5]);
    let expected: [&str; 7] = SESSION_VECTORS_V2;
    assert_eq!(got[5..], expected);
}

/// Version 1: caller share, offer_digest, offer header, tensors hash (SHA-256), axon share,
/// accept header, session key, request digest (nounce 0), session header.
const SESSION_VECTORS: [&str; 9] = [
    "5dfedd3b6bd47f6fa28ee15d969d5bb0ea53774d488bdaf9df1c6e0124b3ef22",
    "450c0c76c8321774630edda2c8ad1486ec63ac43f68036d10f42b77f8a5db855",
    "1.5dfedd3b6bd47f6fa28ee15d969d5bb0ea53774d488bdaf9df1c6e0124b3ef22.78fd964c48fe6c52605f01add1aa67cfbdb7be499f1eb31a9c997ae83491723ebf565360d93be5094fbd96fe6137e92acdedb49dcf88b60aa849454aff93e400",
    "2bf85cac55ecb84d07ece6cfb9d9642549ab594b6d97af71ba36785f5e95cf9e",
    "ac01b2209e86354fb853237b5de0f4fab13c7fcbf433a61c019369617fecf10b",
    "1.05050505050505050505050505050505.ac01b2209e86354fb853237b5de0f4fab13c7fcbf433a61c019369617fecf10b",
    "2439292203a3171972e7451b55372b707ca052875d0d938d10e9a2d63a99bafb",
    "ae58161436fd92dbb719fe6d853284e15cff86e6917975c5f8dcb1b85b53924b",
    "1.05050505050505050505050505050505.0000000000000001.6092f42ace9b5695f94515f1e054e6ef6b71fa01a478d3d561317ba58c0f9331",
];

/// Version 2: accept header, session key, request digest (nounce 0), session header; then the
/// 8 KiB request: payload hash (BLAKE3), request digest, session header.
const SESSION_VECTORS_V2: [&str; 7] = [
    "2.05050505050505050505050505050505.ac01b2209e86354fb853237b5de0f4fab13c7fcbf433a61c019369617fecf10b",
    "77d6166cd683f9520e8388221d6f75af5273c0a0c5371b6544532762ccc9a6e8",
    "ae58161436fd92dbb719fe6d853284e15cff86e6917975c5f8dcb1b85b53924b",
    "2.05050505050505050505050505050505.0000000000000001.3ed9398db6280fffbbc7dc90f16552173524d90127c88ed145aa002e87b2f482",
    "6cd2ac3a529b911f9e25daf32d6698d1782a04cfb441b151043be0bfc6661643",
    "dbf6200f599e793a56a73c620c69e232852502cc44a7710146f63ac2b232e3c5",
    "2.05050505050505050505050505050505.0000000000000002.52b5b35b91688f44591f99d65b4f60c0f559af47a2b9a67098a51afb3aa33fbb",
];

/// The worked example signed over the v2 digest (`docs/protocol.md`, "Request digest v2").
/// Provenance: the digest and signature were derived apart from this crate, with Python's
/// `hashlib` and PyNaCl over the byte layout the protocol document gives; the v1 digest of the
/// same script matched `worked_request_example`.
#[test]
fn worked_request_example_v2() {
    let (caller, mut msg) = example_request();
    let dialled = crate::Dialled::new("127.0.0.1", 8091).unwrap();
    crate::sign_request_bound(
        &caller,
        &mut msg,
        RpcMethod::Forward,
        1_700_000_000_000_000_000,
        Some(&dialled),
    );
    let d = crate::message_digest_bound(&msg, RpcMethod::Forward, Some(&dialled));
    assert_eq!(
        hex::encode(d),
        "561002e1f21d47b032a662ceb564051f23287241c144860463737e34a7486425"
    );
    assert_eq!(
        hex::encode(&msg.signature),
        "706a781cf60866c0018e5a2316ec8bdff07408bfb05e9fcfd90b66236155d1d780e8916fe3332fbde0c88bf659d25d631f3ed4e332a95c3351eb081659ad5f0c"
    );
    assert_eq!(
        crate::verify_request_bound(&msg, RpcMethod::Forward, Some(&dialled)).unwrap(),
        caller.public()
    );
}

/// The host is bound as normalised: an IPv6 `:authority` as a client may send it,
/// `[FE80::1]:443`, binds `fe80::1` (brackets removed, lower-cased). Same provenance.
#[test]
fn request_digest_v2_ipv6_authority() {
    let (caller, mut msg) = example_request();
    msg.neuron_key = caller.public_hex();
    msg.nounce = 1_700_000_000_000_000_000;
    let dialled = crate::Dialled::from_authority("[FE80::1]:443").unwrap();
    assert_eq!((dialled.host(), dialled.port()), ("fe80::1", 443));
    assert_eq!(
        hex::encode(crate::message_digest_bound(
            &msg,
            RpcMethod::Backward,
            Some(&dialled)
        )),
        "dcffe762cdf7faaee351a8b77d2ee7ef6542c8d3eb23184665e5bb7e8c0df193"
    );
}
