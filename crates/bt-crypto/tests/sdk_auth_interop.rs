//! Interoperability of `bt_crypto::http_auth` with the real Python SDKs: signatures made by the
//! SDK verify here and ours verify there. Needs an interpreter with the SDK installed:
//! `BT_SDK_PYTHON` (bittensor 10.x, `bittensor_wallet`) for the v10 headers and
//! `BT_SDK11_PYTHON` (bittensor 11.x, `bittensor.http_auth`) for btauth/1. Unset, a test prints
//! why it skipped, unless `BT_REQUIRE_SDK=1`, which makes a missing interpreter a failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use bt_crypto::NeuronKey;
use bt_crypto::http_auth::{
    BtAuthHeaders, BtAuthPolicy, BtAuthRequest, BtAuthSigner, ReplayStore, ReplayStoreConfig,
    V10Request, sign_btauth, v10_message, v10_sign, v10_verify, verify_btauth, verify_v10_request,
};
use bt_crypto::wallet::Sr25519Pair;

const NONCE: i64 = 1_752_076_800_000_000_000;
const BODY_HASH: &str = "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a";

fn interpreter(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("BT_REQUIRE_SDK").as_deref() != Ok("1"),
                "BT_REQUIRE_SDK=1 but {var} is not set"
            );
            println!("skipped: set {var} to a python with the SDK installed to run this test");
            None
        }
    }
}

/// Run `script` with `args`, returning stdout lines; panics with stderr on failure.
fn run(python: &str, script: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "{python} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

const V10_SCRIPT: &str = r#"
import sys
from bittensor_wallet import Keypair
seed, message, ours = sys.argv[1:4]
kp = Keypair.create_from_seed(seed)
print(kp.ss58_address)
print("0x" + kp.sign(message).hex())
print(kp.verify(message, ours))
print(kp.verify(message + "x", ours))
"#;

#[test]
fn sdk10_signatures_interoperate() {
    let Some(python) = interpreter("BT_SDK_PYTHON") else {
        return;
    };
    let dendrite_seed = [3u8; 32];
    let dendrite = Sr25519Pair::from_seed(dendrite_seed);
    let axon = Sr25519Pair::from_seed([4; 32]);
    let message = v10_message(
        NONCE,
        &dendrite.ss58(),
        &axon.ss58(),
        "4b1c6d7e-uuid",
        BODY_HASH,
    );
    let ours = v10_sign(&dendrite, &message);
    let seed_hex = format!("0x{}", hex::encode(dendrite_seed));
    let lines = run(&python, V10_SCRIPT, &[&seed_hex, &message, &ours]);
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0], dendrite.ss58(), "same seed, same key");
    assert_eq!(lines[2], "True", "the SDK verifies our signature");
    assert_eq!(lines[3], "False", "and rejects it on another message");
    let theirs = &lines[1];
    v10_verify(&dendrite.account(), &message, theirs).unwrap();

    // The whole request as an axon sees it.
    let nonce = NONCE.to_string();
    let hotkey = dendrite.ss58();
    let req = V10Request {
        nonce: Some(&nonce),
        dendrite_hotkey: Some(&hotkey),
        dendrite_uuid: "4b1c6d7e-uuid",
        signature: Some(theirs),
        body_hash: BODY_HASH,
    };
    let mut store = ReplayStore::new(ReplayStoreConfig::sdk_v10(12));
    let who = verify_v10_request(&req, &axon.ss58(), &mut store, NONCE + 1).unwrap();
    assert_eq!(who, dendrite.account());
    assert!(verify_v10_request(&req, &axon.ss58(), &mut store, NONCE + 1).is_err());
}

const SDK11_SCRIPT: &str = r#"
import json, sys
from bittensor import http_auth
from bittensor.sp_core import Keypair
sr_seed, ed_seed, bob_seed, nonce, ours = sys.argv[1:6]
nonce = int(nonce)
sr = Keypair.create_from_seed(bytes.fromhex(sr_seed), 1)
ed = Keypair.create_from_seed(bytes.fromhex(ed_seed), 0)
bob = Keypair.create_from_seed(bytes.fromhex(bob_seed), 1)
req = dict(method="POST", path="/forward?x=1", body=b'{"k": [1, 2]}')
for kp in (sr, ed):
    print(json.dumps(http_auth.sign(kp, receiver_ss58=bob.ss58_address, nonce_ns=nonce, **req)))
for headers in json.loads(ours):
    try:
        c = http_auth.verify(headers, req["body"], method=req["method"], path=req["path"],
                             self_hotkey_ss58=bob.ss58_address, now_ns=nonce + 1000,
                             nonce_store=http_auth.InMemoryNonceStore())
        print("ok", c.hotkey_ss58, c.crypto_type)
    except http_auth.AuthError as e:
        print("fail", type(e).__name__, e)
"#;

#[test]
fn btauth_interoperates_with_sdk11() {
    let Some(python) = interpreter("BT_SDK11_PYTHON") else {
        return;
    };
    let (sr_seed, ed_seed, bob_seed) = ([5u8; 32], [6u8; 32], [7u8; 32]);
    let sr = Sr25519Pair::from_seed(sr_seed);
    let ed = NeuronKey::from_seed(ed_seed);
    let bob = Sr25519Pair::from_seed(bob_seed);
    let req = BtAuthRequest {
        method: "POST",
        target: "/forward?x=1",
        body: br#"{"k": [1, 2]}"#,
    };
    let signers = [BtAuthSigner::Sr25519(&sr), BtAuthSigner::Ed25519(&ed)];
    let ours: Vec<serde_json::Map<String, serde_json::Value>> = signers
        .iter()
        .map(|s| {
            sign_btauth(*s, &req, Some(&bob.account()), NONCE)
                .into_iter()
                .map(|(n, v)| (n.to_owned(), serde_json::Value::String(v)))
                .collect()
        })
        .collect();
    let ours = serde_json::to_string(&ours).unwrap();
    let nonce = NONCE.to_string();
    let args = [
        hex::encode(sr_seed),
        hex::encode(ed_seed),
        hex::encode(bob_seed),
        nonce,
        ours,
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let lines = run(&python, SDK11_SCRIPT, &args);
    assert_eq!(lines.len(), 4, "{lines:?}");

    // The SDK verified ours (crypto type 1 = sr25519, 0 = ed25519).
    assert_eq!(lines[2], format!("ok {} 1", signers[0].ss58()));
    assert_eq!(lines[3], format!("ok {} 0", signers[1].ss58()));

    // We verify the SDK's.
    let policy = BtAuthPolicy {
        self_hotkey: &bob.account(),
        require_receiver: true,
    };
    for (line, signer) in lines[..2].iter().zip(signers) {
        let headers: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).unwrap();
        let pairs = headers
            .iter()
            .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_owned()));
        let headers = BtAuthHeaders::from_pairs(pairs).unwrap();
        let mut store = ReplayStore::default();
        let caller = verify_btauth(&headers, &req, &policy, &mut store, NONCE + 1_000).unwrap();
        assert_eq!(caller.hotkey, signer.account());
        assert_eq!(caller.scheme, signer.scheme());
        assert!(verify_btauth(&headers, &req, &policy, &mut store, NONCE + 1_000).is_err());
    }
}
