use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sdk-wallet")
}

/// A fixture file's bytes (git does not keep their 0600 mode, so tests decode bytes or copy).
fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("wallets/sdk").join(rel)).unwrap()
}

fn expected() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixtures().join("expected.json")).unwrap()).unwrap()
}

fn json(bytes: &[u8]) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_slice(bytes).unwrap() {
        serde_json::Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn keys(bytes: &[u8]) -> BTreeSet<String> {
    json(bytes).keys().cloned().collect()
}

fn decode(text: &str) -> Result<Sr25519Pair, CryptoError> {
    decode_pair(Path::new("k"), text.as_bytes())
}

const P: &str = "k";

#[test]
fn python_made_keys_load_with_their_address_and_verify_python_signatures() {
    let expected = expected();
    for rel in [
        "coldkey",
        "hotkeys/phrase",
        "hotkeys/alice",
        "hotkeys/derived",
    ] {
        let pair = decode_pair(Path::new(rel), &fixture(rel)).unwrap();
        let want = &expected[rel];
        assert_eq!(pair.ss58(), want["ss58Address"].as_str().unwrap(), "{rel}");
        let msg = want["message"].as_str().unwrap().as_bytes();
        let sig = hex::decode(&want["signature"].as_str().unwrap()[2..]).unwrap();
        pair.account().verify(msg, &sig).unwrap();
        pair.account().verify(msg, &pair.sign(msg)).unwrap();
        // The `…pub.txt` beside it names the same account.
        let public = if rel == "coldkey" {
            "coldkeypub.txt".to_string()
        } else {
            format!("{rel}pub.txt")
        };
        assert_eq!(
            decode_public(Path::new(P), &fixture(&public)).unwrap(),
            pair.account()
        );
    }
    // Substrate's //Alice, which has no seed in the file, only privateKey.
    assert_eq!(
        decode_pair(Path::new(P), &fixture("hotkeys/alice"))
            .unwrap()
            .ss58(),
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
    );
}

#[test]
fn private_key_is_schnorrkel_to_bytes_not_the_ed25519_form() {
    let file = json(&fixture("hotkeys/phrase"));
    let seed = parse_secret::<32>(Path::new(P), "s", file["secretSeed"].as_str().unwrap()).unwrap();
    let pair = Sr25519Pair::from_seed(*seed);
    let stored = file["privateKey"].as_str().unwrap();
    assert_eq!(
        format!("0x{}", hex::encode(pair.keypair.secret.to_bytes())),
        stored
    );
    assert_ne!(
        format!("0x{}", hex::encode(pair.keypair.secret.to_ed25519_bytes())),
        stored
    );
}

#[test]
fn what_we_write_is_what_python_wrote_for_the_same_key() {
    for rel in [
        "coldkey",
        "hotkeys/phrase",
        "hotkeys/alice",
        "hotkeys/derived",
    ] {
        let theirs = fixture(rel);
        let pair = decode_pair(Path::new(rel), &theirs).unwrap();
        let ours = encode_pair(Path::new(rel), &pair).unwrap();
        assert_eq!(json(&ours), json(&theirs), "{rel}");
        // One line, like theirs, and it decodes back to the same key.
        assert!(!ours.contains(&b'\n'));
        assert_eq!(
            decode_pair(Path::new(rel), &ours).unwrap().account(),
            pair.account()
        );
    }
    let public = fixture("coldkeypub.txt");
    let account = decode_public(Path::new(P), &public).unwrap();
    assert_eq!(
        json(&encode_public(Path::new(P), &account).unwrap()),
        json(&public)
    );
}

#[test]
fn field_sets_match_the_python_package() {
    let phrase_set = keys(&fixture("hotkeys/phrase"));
    let uri_set = keys(&fixture("hotkeys/alice"));
    let seeded: BTreeSet<String> = phrase_set
        .iter()
        .filter(|k| *k != "secretPhrase")
        .cloned()
        .collect();

    let from_seed = encode_pair(Path::new(P), &Sr25519Pair::from_seed([7; 32])).unwrap();
    assert_eq!(keys(&from_seed), seeded);
    assert!(
        !String::from_utf8(from_seed.to_vec())
            .unwrap()
            .contains("null")
    );

    let generated = encode_pair(Path::new(P), &Sr25519Pair::generate()).unwrap();
    assert_eq!(keys(&generated), seeded);

    let phrase = "legal winner thank year wave sausage worth useful legal winner thank yellow";
    let with_phrase = Sr25519Pair::from_phrase(phrase, "").unwrap();
    assert_eq!(
        keys(&encode_pair(Path::new(P), &with_phrase).unwrap()),
        phrase_set
    );

    let expanded = Sr25519Pair::from_private_key(&with_phrase.private_key()).unwrap();
    assert_eq!(expanded.account(), with_phrase.account());
    assert_eq!(
        keys(&encode_pair(Path::new(P), &expanded).unwrap()),
        uri_set
    );
}

#[test]
fn old_formats_and_nulls_still_load() {
    let pair = Sr25519Pair::from_seed([5; 32]);
    let seed = format!("0x{}", "05".repeat(32));
    let old = format!(
        r#"{{"type":"sr25519","secretSeed":"{seed}","publicKey":"{}","ss58Address":"{}"}}"#,
        pair.account().to_hex(),
        pair.ss58()
    );
    assert_eq!(decode(&old).unwrap().account(), pair.account());
    // Older Python releases: nulls for what a key lacks, no cryptoType.
    let nulls = format!(
        r#"{{"accountId":"{0}","publicKey":"{0}","privateKey":null,"secretPhrase":null,
            "secretSeed":"{seed}","ss58Address":"{1}"}}"#,
        pair.account().to_hex(),
        pair.ss58()
    );
    assert_eq!(decode(&nulls).unwrap().account(), pair.account());
    // Only a seed, or only a phrase, is enough; unknown fields are ignored.
    assert_eq!(
        decode(&format!(r#"{{"secretSeed":"{seed}","comment":"x"}}"#))
            .unwrap()
            .account(),
        pair.account()
    );
    let alice_phrase = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
    assert_eq!(
        decode(&format!(r#"{{"secretPhrase":"{alice_phrase}"}}"#))
            .unwrap()
            .ss58(),
        "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV"
    );
    // Old coldkeypub.txt: a bare address, with or without a newline.
    let addr = pair.ss58();
    for text in [addr.clone(), format!("{addr}\n")] {
        assert_eq!(
            decode_public(Path::new(P), text.as_bytes()).unwrap(),
            pair.account()
        );
    }
}

fn with(base: &str, field: &str, value: serde_json::Value) -> String {
    let mut m = json(base.as_bytes());
    m.insert(field.into(), value);
    serde_json::Value::Object(m).to_string()
}

#[test]
fn each_bad_key_file_gets_its_typed_error_and_no_secret_in_messages() {
    let base = String::from_utf8(fixture("hotkeys/phrase")).unwrap();
    let file = json(base.as_bytes());
    let seed = file["secretSeed"].as_str().unwrap().to_string();
    let other = Sr25519Pair::from_seed([9; 32]);
    let invalid = |text: &str, needle: &str| {
        let err = decode(text).err().unwrap();
        assert!(
            matches!(err, CryptoError::KeyFileInvalid { .. }),
            "{needle}: {err}"
        );
        assert!(err.to_string().contains(needle), "{needle}: {err}");
        assert!(!err.to_string().contains(&seed[2..20]), "{err}");
        err
    };
    let no_phrase = |text: &str| {
        let mut m = json(text.as_bytes());
        m.remove("secretPhrase");
        serde_json::Value::Object(m).to_string()
    };
    let seeded = no_phrase(&base);

    // Bad hex and wrong lengths in secrets.
    let bad_hex = format!("0x{}zz", &seed[2..64]);
    invalid(
        &with(&seeded, "secretSeed", bad_hex.into()),
        "not hexadecimal",
    );
    invalid(
        &with(&seeded, "secretSeed", "0x0102".into()),
        "64 hex digits",
    );
    invalid(&with(&seeded, "secretSeed", seed[2..].into()), "0x");
    invalid(
        &with(&seeded, "privateKey", "0x00".into()),
        "128 hex digits",
    );
    invalid(
        &with(&base, "secretPhrase", "legal winner thank".into()),
        "secretPhrase",
    );
    // A secret that disagrees with another secret.
    invalid(
        &with(
            &seeded,
            "privateKey",
            format!("0x{}", hex::encode(other.private_key().as_ref())).into(),
        ),
        "privateKey",
    );
    invalid(
        &with(&base, "secretSeed", format!("0x{}", "09".repeat(32)).into()),
        "secretSeed",
    );
    // A privateKey whose scalar is not canonical is not a secret key.
    let mut only_private = json(seeded.as_bytes());
    only_private.remove("secretSeed");
    let only_private = serde_json::Value::Object(only_private).to_string();
    invalid(
        &with(
            &only_private,
            "privateKey",
            format!("0x{}", "ff".repeat(64)).into(),
        ),
        "privateKey",
    );
    // Public fields that name another account; each names the field.
    for field in ["publicKey", "accountId", "ss58Address"] {
        let value = if field == "ss58Address" {
            other.ss58()
        } else {
            other.account().to_hex()
        };
        let err = decode(&with(&base, field, value.into())).err().unwrap();
        assert!(matches!(err, CryptoError::KeyMismatch { .. }), "{err}");
        assert!(err.to_string().contains(field), "{err}");
    }
    invalid(&with(&base, "publicKey", "0x12".into()), "publicKey");
    invalid(
        &with(&base, "ss58Address", "5notanaddress".into()),
        "ss58Address",
    );
    // Other key types, and files with no secret.
    invalid(&with(&base, "cryptoType", 0.into()), "cryptoType");
    invalid(&with(&seeded, "type", "ed25519".into()), "key type");
    invalid(
        std::str::from_utf8(&fixture("coldkeypub.txt")).unwrap(),
        "no secret",
    );
    // Not JSON, or JSON of another shape.
    for text in [
        "",
        "{not json",
        "[]",
        "null",
        r#"{"secretSeed":5}"#,
        "\u{0}\u{1}",
    ] {
        assert!(
            matches!(decode(text), Err(CryptoError::KeyFileJson { .. })),
            "{text:?}"
        );
    }
}

#[test]
fn encrypted_files_are_recognised_and_not_parsed() {
    let err = decode_pair(Path::new("enc"), &fixture("hotkeys/encrypted")).unwrap_err();
    assert!(
        matches!(
            err,
            CryptoError::KeyFileEncrypted {
                method: "NaCl secretbox",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("without a password"), "{err}");
    for prefix in ["$ANSIBLE_VAULT;1.1;AES256\n6162", "gAAAAABlegacy"] {
        assert!(matches!(
            decode(prefix),
            Err(CryptoError::KeyFileEncrypted { .. })
        ));
        assert!(matches!(
            decode_public(Path::new(P), prefix.as_bytes()),
            Err(CryptoError::KeyFileEncrypted { .. })
        ));
    }
}

#[test]
fn public_files_that_disagree_or_name_nothing_are_refused() {
    let a = Sr25519Pair::from_seed([1; 32]).account();
    let b = Sr25519Pair::from_seed([2; 32]).account();
    let text = format!(
        r#"{{"publicKey":"{}","accountId":"{}","ss58Address":"{}","cryptoType":1}}"#,
        a.to_hex(),
        a.to_hex(),
        b.to_ss58()
    );
    let err = decode_public(Path::new(P), text.as_bytes()).unwrap_err();
    assert!(matches!(err, CryptoError::KeyFileInvalid { .. }), "{err}");
    assert!(err.to_string().contains("ss58Address"), "{err}");
    for text in ["{}", r#"{"cryptoType":1}"#, "", "not an address", "\u{ff}"] {
        assert!(
            decode_public(Path::new(P), text.as_bytes()).is_err(),
            "{text:?}"
        );
    }
    assert!(decode_public(Path::new(P), &[0xff, 0xfe]).is_err());
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = decode_pair(Path::new(P), &bytes);
        let _ = decode_public(Path::new(P), &bytes);
    }

    #[test]
    fn arbitrary_field_values_never_panic(
        field in proptest::sample::select(vec!["secretSeed", "privateKey", "secretPhrase", "publicKey", "accountId", "ss58Address"]),
        value in "(0x)?[0-9a-fA-Fz ]{0,140}",
    ) {
        let text = format!(r#"{{"{field}":"{value}"}}"#);
        let _ = decode_pair(Path::new(P), text.as_bytes());
        let _ = decode_public(Path::new(P), text.as_bytes());
    }
}
