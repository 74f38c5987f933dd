//! btauth/1 vectors produced by the SDK 11 (`bittensor==11.3.0`, `bittensor.http_auth`), with the
//! `//Alice` / `//Bob` dev keys given by seed. The first sr25519 payload and the first ed25519
//! signature equal the golden vectors of the SDK 11's own test suite (`GOLDEN_SR25519_PAYLOAD`,
//! `GOLDEN_ED25519_SIGNATURE`). sr25519 signatures are randomised, so for them we check that
//! ours verify the SDK's; Ed25519 is deterministic, so ours must equal the SDK's byte for byte.
//!
//! Produced by `$BT_SDK11_PYTHON gen.py` with this `gen.py`:
//!
//! ```text
//! from bittensor import http_auth as h
//! from bittensor.sp_core import Keypair
//! A = "e5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a"  # //Alice sr25519 seed
//! AE = "abf8e5bdbe30c65656c0a3cbd181ff8a56294a69dfedd27982aace4a76909115"  # //Alice ed25519 seed
//! B = "398f0c28f98885e046333d4a41c19cee4c37368a9832c6502f6cfd182e2aef89"  # //Bob sr25519 seed
//! sr, ed, bob = (Keypair.create_from_seed(bytes.fromhex(s), t) for s, t in ((A, 1), (AE, 0), (B, 1)))
//! N = 1_752_076_800_000_000_000
//! cases = [("POST", "/generate?stream=false", b'{"prompt": "hello"}', bob.ss58_address),
//!          ("get", "/health", b"", bob.ss58_address),
//!          ("PUT", "/a%20b?x=1&y=%2F", bytes(range(256)), None)]
//! for key in (sr, ed):
//!     for m, p, b, r in cases:
//!         hd = h.sign(key, method=m, path=p, body=b, receiver_ss58=r, nonce_ns=N)
//!         pl = h.build_payload(scheme=hd.get("X-Bittensor-Crypto", "sr25519"), method=m, path=p,
//!                              body=b, nonce_ns=N, sender_ss58=key.ss58_address, receiver_ss58=r)
//!         print(repr((m, p, b.hex(), r, pl.decode(), hd)))
//! ```

use super::*;
use crate::NeuronKey;
use crate::wallet::{AccountId, Sr25519Pair};

pub(super) const ALICE_SR_SEED: &str =
    "e5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a";
pub(super) const ALICE_ED_SEED: &str =
    "abf8e5bdbe30c65656c0a3cbd181ff8a56294a69dfedd27982aace4a76909115";
pub(super) const BOB_SEED: &str =
    "398f0c28f98885e046333d4a41c19cee4c37368a9832c6502f6cfd182e2aef89";
pub(super) const NONCE: i64 = 1_752_076_800_000_000_000;

#[derive(Clone, Copy)]
enum Body {
    Prompt,
    Empty,
    AllBytes,
}

impl Body {
    fn bytes(self) -> Vec<u8> {
        match self {
            Self::Prompt => br#"{"prompt": "hello"}"#.to_vec(),
            Self::Empty => Vec::new(),
            Self::AllBytes => (0..=255).collect(),
        }
    }
}

struct Vector {
    scheme: Scheme,
    method: &'static str,
    target: &'static str,
    body: Body,
    to_bob: bool,
    payload: &'static str,
    signature: &'static str,
}

const VECTORS: &[Vector] = &[
    Vector {
        scheme: Scheme::Sr25519,
        method: "POST",
        target: "/generate?stream=false",
        body: Body::Prompt,
        to_bob: true,
        payload: "btauth/1\n\
             sr25519\n\
             POST\n\
             /generate?stream=false\n\
             341c57448e531310fbbe83f44cea2a5e838bd9e8a6b82b269f01d0dbbc23c3cc\n\
             1752076800000000000\n\
             5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY\n\
             5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
        signature: "0x4e1f6a37b1b70fae7f81869b5dea628da68fe306f1a6727e22967428b045fb69\
                    1cdba24c21ee2f0a448fcd2362a1d92e43e0213252943575c4b1504f381d408c",
    },
    Vector {
        scheme: Scheme::Sr25519,
        method: "get",
        target: "/health",
        body: Body::Empty,
        to_bob: true,
        payload: "btauth/1\n\
             sr25519\n\
             GET\n\
             /health\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             1752076800000000000\n\
             5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY\n\
             5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
        signature: "0x7e596c138d504297540f4b41efafe59a7c4ffe93542652f0b952e524b4abd107\
                    f9af0343742539624f16d3f0585daf7c72b7bdde51e05dc7e6480e095fead986",
    },
    Vector {
        scheme: Scheme::Sr25519,
        method: "PUT",
        target: "/a%20b?x=1&y=%2F",
        body: Body::AllBytes,
        to_bob: false,
        payload: "btauth/1\n\
             sr25519\n\
             PUT\n\
             /a%20b?x=1&y=%2F\n\
             40aff2e9d2d8922e47afd4648e6967497158785fbd1da870e7110266bf944880\n\
             1752076800000000000\n\
             5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY\n\
             -",
        signature: "0x1acc8578ac3c10c9f62ee2501b5714fd8cb6d60daa96d4aa0c3924734f345f51\
                    adab42ac9d0381b4711eb13d021c0f2ce47974af00309e3d8a27465951d76284",
    },
    Vector {
        scheme: Scheme::Ed25519,
        method: "POST",
        target: "/generate?stream=false",
        body: Body::Prompt,
        to_bob: true,
        payload: "btauth/1\n\
             ed25519\n\
             POST\n\
             /generate?stream=false\n\
             341c57448e531310fbbe83f44cea2a5e838bd9e8a6b82b269f01d0dbbc23c3cc\n\
             1752076800000000000\n\
             5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu\n\
             5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
        signature: "0x1a6b631988bf1f7ea093ab9d5acf61f05c316d0b0e428b24b487b75a5f6ee0e1\
                    a56a26918fdf871b6cf09437e6588023a4ce423cf622621b2a7feee17612f704",
    },
    Vector {
        scheme: Scheme::Ed25519,
        method: "get",
        target: "/health",
        body: Body::Empty,
        to_bob: true,
        payload: "btauth/1\n\
             ed25519\n\
             GET\n\
             /health\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             1752076800000000000\n\
             5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu\n\
             5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
        signature: "0xc90310e0ac59176199594950451b4c510aafb1273b88b1f7a12899ca90c44710\
                    db586eab37f9d64a40639bf1ca44bb4c9454f6380cd2484868e88758dd207b0c",
    },
    Vector {
        scheme: Scheme::Ed25519,
        method: "PUT",
        target: "/a%20b?x=1&y=%2F",
        body: Body::AllBytes,
        to_bob: false,
        payload: "btauth/1\n\
             ed25519\n\
             PUT\n\
             /a%20b?x=1&y=%2F\n\
             40aff2e9d2d8922e47afd4648e6967497158785fbd1da870e7110266bf944880\n\
             1752076800000000000\n\
             5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu\n\
             -",
        signature: "0xc5ad859489c625afe3c1015894a46be6214b2f14b4d91fc6a80db30fa27c85a9\
                    612c71be6268804c621b0c8a9a4306438afdfc5196765415b4d1b06ee1aac201",
    },
];

pub(super) fn seed(hex_seed: &str) -> [u8; 32] {
    let mut out = [0; 32];
    hex::decode_to_slice(hex_seed, &mut out).unwrap();
    out
}

#[test]
fn dev_keys_have_the_sdk_addresses() {
    let alice = Sr25519Pair::from_seed(seed(ALICE_SR_SEED));
    assert_eq!(
        alice.ss58(),
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
    );
    let alice_ed = NeuronKey::from_seed(seed(ALICE_ED_SEED));
    assert_eq!(
        BtAuthSigner::Ed25519(&alice_ed).ss58(),
        "5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu"
    );
    let bob = Sr25519Pair::from_seed(seed(BOB_SEED));
    assert_eq!(
        bob.ss58(),
        "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
    );
}

#[test]
fn sdk11_vectors() {
    let alice = Sr25519Pair::from_seed(seed(ALICE_SR_SEED));
    let alice_ed = NeuronKey::from_seed(seed(ALICE_ED_SEED));
    let bob = Sr25519Pair::from_seed(seed(BOB_SEED));
    for (i, v) in VECTORS.iter().enumerate() {
        let signer = match v.scheme {
            Scheme::Sr25519 => BtAuthSigner::Sr25519(&alice),
            Scheme::Ed25519 => BtAuthSigner::Ed25519(&alice_ed),
        };
        let body = v.body.bytes();
        let sender = signer.ss58();
        let receiver = v.to_bob.then(|| bob.ss58());
        let payload = BtAuthPayload {
            scheme: v.scheme,
            method: v.method,
            target: v.target,
            body: &body,
            nonce: NONCE,
            sender: &sender,
            receiver: receiver.as_deref(),
        };
        assert_eq!(payload.to_bytes(), v.payload.as_bytes(), "vector {i}");

        let req = BtAuthRequest {
            method: v.method,
            target: v.target,
            body: &body,
        };
        let receiver_id: Option<AccountId> = v.to_bob.then(|| bob.account());
        let ours = sign_btauth(signer, &req, receiver_id.as_ref(), NONCE);
        if v.scheme == Scheme::Ed25519 {
            assert!(
                ours.contains(&(HEADER_SIGNATURE, v.signature.to_owned())),
                "vector {i}"
            );
        }

        // The SDK's headers, lower-cased as some HTTP stacks deliver them.
        let mut theirs: Vec<(String, String)> = ours
            .iter()
            .map(|(n, val)| (n.to_ascii_lowercase(), val.clone()))
            .collect();
        for (n, val) in &mut theirs {
            if n == "x-bittensor-signature" {
                *val = v.signature.to_owned();
            }
        }
        let headers = BtAuthHeaders::from_pairs(theirs).unwrap();
        let policy = BtAuthPolicy {
            self_hotkey: &bob.account(),
            require_receiver: v.to_bob,
        };
        let mut store = ReplayStore::default();
        let caller = verify_btauth(&headers, &req, &policy, &mut store, NONCE + 1_000_000)
            .unwrap_or_else(|e| panic!("vector {i}: {e}"));
        assert_eq!(caller.hotkey, signer.account());
        assert_eq!(caller.scheme, v.scheme);
    }
}
