//! btauth/1 verification: each failure kind, and the header parser on arbitrary input.

use proptest::prelude::*;

use super::vectors::{ALICE_ED_SEED, ALICE_SR_SEED, BOB_SEED, NONCE, seed};
use super::*;
use crate::NeuronKey;
use crate::wallet::{AccountId, Sr25519Pair, ss58_encode};

const NOW: i64 = NONCE + 1_000_000;
const REQ: BtAuthRequest<'static> = BtAuthRequest {
    method: "POST",
    target: "/generate?stream=false",
    body: b"{}",
};

struct Keys {
    alice: Sr25519Pair,
    alice_ed: NeuronKey,
    bob: Sr25519Pair,
}

fn keys() -> Keys {
    Keys {
        alice: Sr25519Pair::from_seed(seed(ALICE_SR_SEED)),
        alice_ed: NeuronKey::from_seed(seed(ALICE_ED_SEED)),
        bob: Sr25519Pair::from_seed(seed(BOB_SEED)),
    }
}

fn signed(signer: BtAuthSigner<'_>, receiver: Option<&AccountId>) -> Vec<(String, String)> {
    sign_btauth(signer, &REQ, receiver, NONCE)
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect()
}

fn set(headers: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    if let Some(v) = value {
        headers.push((name.to_owned(), v.to_owned()));
    }
}

fn check_with(
    headers: &[(String, String)],
    req: &BtAuthRequest<'_>,
    me: &AccountId,
    now: i64,
) -> Result<BtAuthCaller, AuthError> {
    let parsed = BtAuthHeaders::from_pairs(headers.iter().map(|(n, v)| (n, v)))?;
    let policy = BtAuthPolicy {
        self_hotkey: me,
        require_receiver: true,
    };
    verify_btauth(&parsed, req, &policy, &mut ReplayStore::default(), now)
}

fn check(headers: &[(String, String)], k: &Keys) -> Result<BtAuthCaller, AuthError> {
    check_with(headers, &REQ, &k.bob.account(), NOW)
}

#[test]
fn round_trip_both_schemes() {
    let k = keys();
    for signer in [
        BtAuthSigner::Sr25519(&k.alice),
        BtAuthSigner::Ed25519(&k.alice_ed),
    ] {
        let caller = check(&signed(signer, Some(&k.bob.account())), &k).unwrap();
        assert_eq!(
            caller,
            BtAuthCaller {
                hotkey: signer.account(),
                scheme: signer.scheme(),
                nonce: NONCE
            }
        );
    }
}

#[test]
fn shape_failures() {
    let k = keys();
    let good = signed(BtAuthSigner::Sr25519(&k.alice), Some(&k.bob.account()));
    let with = |name: &str, value: Option<&str>| {
        let mut h = good.clone();
        set(&mut h, name, value);
        check(&h, &k)
    };
    for name in [
        HEADER_VERSION,
        HEADER_HOTKEY,
        HEADER_NONCE,
        HEADER_SIGNATURE,
    ] {
        assert!(
            matches!(with(name, None), Err(AuthError::MissingHeader { header }) if header == name),
            "{name}"
        );
    }
    assert!(matches!(
        with(HEADER_VERSION, Some("2")),
        Err(AuthError::UnsupportedVersion { .. })
    ));
    assert!(matches!(
        with(HEADER_NONCE, Some("not-a-number")),
        Err(AuthError::BadHeader { .. })
    ));
    assert!(matches!(
        with(HEADER_CRYPTO, Some("ecdsa")),
        Err(AuthError::UnsupportedScheme { .. })
    ));
    assert!(matches!(
        with(HEADER_SIGNATURE, Some("0xnothex")),
        Err(AuthError::SignatureNotHex { .. })
    ));
    assert!(matches!(
        with(HEADER_SIGNATURE, Some("0xabcd")),
        Err(AuthError::SignatureLength { len: 2 })
    ));
    assert!(matches!(
        with(HEADER_HOTKEY, Some("5NotAnAddress")),
        Err(AuthError::BadSs58 { .. })
    ));
    let polkadot_form = ss58_encode(&k.alice.account().0, 0);
    assert!(matches!(
        with(HEADER_HOTKEY, Some(&polkadot_form)),
        Err(AuthError::BadSs58 { .. })
    ));
    let mut dup = good.clone();
    dup.push(("x-bittensor-nonce".into(), (NONCE + 1).to_string()));
    assert_eq!(
        check(&dup, &k),
        Err(AuthError::DuplicateHeader {
            header: HEADER_NONCE
        })
    );
    assert!(matches!(
        BtAuthHeaders::from_pairs([(HEADER_NONCE, &b"\xff"[..])]),
        Err(AuthError::BadHeader { .. })
    ));
}

#[test]
fn lenient_spellings_the_sdk_accepts() {
    let k = keys();
    let good = signed(BtAuthSigner::Sr25519(&k.alice), Some(&k.bob.account()));
    let sig = good
        .iter()
        .find(|(n, _)| n == HEADER_SIGNATURE)
        .map(|(_, v)| v.clone())
        .unwrap();
    for (name, value) in [
        (HEADER_CRYPTO, "SR25519".to_owned()),
        (HEADER_CRYPTO, "1".to_owned()),
        (HEADER_SIGNATURE, sig[2..].to_owned()),
        (HEADER_SIGNATURE, format!("0x{}", sig[2..].to_uppercase())),
    ] {
        let mut h = good.clone();
        set(&mut h, name, Some(&value));
        check(&h, &k).unwrap_or_else(|e| panic!("{name}: {value}: {e}"));
    }
    let lowered: Vec<_> = good
        .iter()
        .map(|(n, v)| (n.to_lowercase(), v.clone()))
        .collect();
    check(&lowered, &k).unwrap();
    let lower_method = BtAuthRequest {
        method: "post",
        ..REQ
    };
    check_with(&good, &lower_method, &k.bob.account(), NOW).unwrap();
}

#[test]
fn receiver_binding() {
    let k = keys();
    let bound = signed(BtAuthSigner::Sr25519(&k.alice), Some(&k.bob.account()));
    assert!(matches!(
        check_with(&bound, &REQ, &k.alice.account(), NOW),
        Err(AuthError::WrongReceiver { .. })
    ));
    let unbound = signed(BtAuthSigner::Sr25519(&k.alice), None);
    assert_eq!(check(&unbound, &k), Err(AuthError::MissingReceiver));
    let parsed = BtAuthHeaders::from_pairs(unbound.iter().map(|(n, v)| (n, v))).unwrap();
    let lax = BtAuthPolicy {
        self_hotkey: &k.bob.account(),
        require_receiver: false,
    };
    verify_btauth(&parsed, &REQ, &lax, &mut ReplayStore::default(), NOW).unwrap();
    // Adding a receiver to an unbound signature does not verify.
    let mut forged = unbound.clone();
    set(&mut forged, HEADER_RECEIVER, Some(&k.bob.ss58()));
    assert!(matches!(
        check(&forged, &k),
        Err(AuthError::BadSignature { .. })
    ));
}

#[test]
fn tampering_and_scheme_confusion() {
    let k = keys();
    let good = signed(BtAuthSigner::Sr25519(&k.alice), Some(&k.bob.account()));
    let me = k.bob.account();
    for req in [
        BtAuthRequest {
            body: b"{ }",
            ..REQ
        },
        BtAuthRequest {
            method: "PUT",
            ..REQ
        },
        BtAuthRequest {
            target: "/generate?stream=true",
            ..REQ
        },
    ] {
        assert!(matches!(
            check_with(&good, &req, &me, NOW),
            Err(AuthError::BadSignature { .. })
        ));
    }
    let mut h = good.clone();
    set(&mut h, HEADER_NONCE, Some(&(NONCE + 1).to_string()));
    assert!(matches!(check(&h, &k), Err(AuthError::BadSignature { .. })));
    // An ed25519 signature without its crypto header is checked as sr25519 only, and fails.
    let mut ed = signed(BtAuthSigner::Ed25519(&k.alice_ed), Some(&me));
    set(&mut ed, HEADER_CRYPTO, None);
    assert!(matches!(
        check(&ed, &k),
        Err(AuthError::BadSignature { .. })
    ));
}

#[test]
fn freshness_and_replay() {
    let k = keys();
    let me = k.bob.account();
    let good = signed(BtAuthSigner::Sr25519(&k.alice), Some(&me));
    let s = 1_000_000_000;
    check_with(&good, &REQ, &me, NONCE + 10 * s).unwrap();
    check_with(&good, &REQ, &me, NONCE - 2 * s).unwrap();
    assert!(matches!(
        check_with(&good, &REQ, &me, NONCE + 10 * s + 1),
        Err(AuthError::Nonce(NonceError::Stale { .. }))
    ));
    assert!(matches!(
        check_with(&good, &REQ, &me, NONCE - 2 * s - 1),
        Err(AuthError::Nonce(NonceError::Future { .. }))
    ));

    let parsed = BtAuthHeaders::from_pairs(good.iter().map(|(n, v)| (n, v))).unwrap();
    let policy = BtAuthPolicy {
        self_hotkey: &me,
        require_receiver: true,
    };
    let mut store = ReplayStore::default();
    verify_btauth(&parsed, &REQ, &policy, &mut store, NOW).unwrap();
    assert!(matches!(
        verify_btauth(&parsed, &REQ, &policy, &mut store, NOW),
        Err(AuthError::Nonce(NonceError::Replayed { .. }))
    ));
    // A forged request never reaches the store.
    let mut forged = good.clone();
    set(&mut forged, HEADER_NONCE, Some(&(NONCE + 7).to_string()));
    let forged = BtAuthHeaders::from_pairs(forged.iter().map(|(n, v)| (n, v))).unwrap();
    assert!(verify_btauth(&forged, &REQ, &policy, &mut store, NOW).is_err());
    assert_eq!(store.len(), 1);
}

proptest! {
    #[test]
    fn arbitrary_headers_never_panic(
        pairs in proptest::collection::vec(
            (
                prop_oneof![
                    Just(HEADER_VERSION.to_owned()),
                    Just(HEADER_HOTKEY.to_lowercase()),
                    Just(HEADER_RECEIVER.to_owned()),
                    Just(HEADER_NONCE.to_uppercase()),
                    Just(HEADER_CRYPTO.to_owned()),
                    Just(HEADER_SIGNATURE.to_owned()),
                    "\\PC{0,30}",
                ],
                proptest::collection::vec(any::<u8>(), 0..160),
            ),
            0..10,
        ),
        method in "\\PC{0,10}",
        target in "\\PC{0,40}",
        body in proptest::collection::vec(any::<u8>(), 0..64),
        now in any::<i64>(),
    ) {
        let me = AccountId([7; 32]);
        if let Ok(parsed) = BtAuthHeaders::from_pairs(pairs) {
            let req = BtAuthRequest { method: &method, target: &target, body: &body };
            let policy = BtAuthPolicy { self_hotkey: &me, require_receiver: false };
            let mut store = ReplayStore::default();
            prop_assert!(verify_btauth(&parsed, &req, &policy, &mut store, now).is_err());
            prop_assert!(store.is_empty());
        }
    }

    #[test]
    fn arbitrary_scheme_and_payload_never_panic(
        scheme in "\\PC{0,30}",
        method in "\\PC{0,10}",
        target in "\\PC{0,40}",
        nonce in any::<i64>(),
    ) {
        let _ = Scheme::parse(&scheme);
        let p = BtAuthPayload {
            scheme: Scheme::Sr25519,
            method: &method,
            target: &target,
            body: b"",
            nonce,
            sender: &scheme,
            receiver: None,
        };
        prop_assert!(p.to_bytes().starts_with(b"btauth/1\nsr25519\n"));
    }
}
