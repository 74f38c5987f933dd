use std::path::{Path, PathBuf};

use super::*;

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).unwrap();
    out
}

#[test]
fn seed_expansion_matches_substrate_test_vector() {
    // sp-core `sr25519::test::test_vector_should_work`.
    let pair = Sr25519Pair::from_seed(hex32(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    ));
    assert_eq!(
        pair.account().to_hex(),
        "0x44a996beb1eef7bdcab976ab6d2ca26104834164ecf28fb375600576fcc6eb0f"
    );
}

#[test]
fn sign_verify_and_tamper() {
    let pair = Sr25519Pair::from_seed([3; 32]);
    let sig = pair.sign(b"hello");
    pair.account().verify(b"hello", &sig).unwrap();
    assert!(pair.account().verify(b"hellp", &sig).is_err());
    let other = Sr25519Pair::from_seed([4; 32]);
    assert!(other.account().verify(b"hello", &sig).is_err());
    assert!(pair.account().verify(b"hello", &sig[..63]).is_err());
    // The account round-trips through SS58.
    assert_eq!(AccountId::from_ss58(&pair.ss58()).unwrap(), pair.account());
}

#[test]
fn wallet_files_round_trip_and_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let wallet = Wallet::new(dir.path(), "default", "miner1").unwrap();
    let (cold, hot) = wallet.create_if_missing().unwrap();
    let (cold2, hot2) = wallet.create_if_missing().unwrap();
    assert_eq!(cold.account(), cold2.account());
    assert_eq!(hot.account(), hot2.account());
    assert_ne!(cold.account(), hot.account());
    assert_eq!(wallet.coldkeypub().unwrap(), cold.account());
    assert_eq!(
        read_public_key_file(wallet.hotkeypub_path()).unwrap(),
        hot.account()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(wallet.hotkey_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(Wallet::new(dir.path(), "../escape", "h").is_err());
    assert!(Wallet::new(dir.path(), "w", "").is_err());
}

#[test]
fn tampered_wallet_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hot");
    Sr25519Pair::from_seed([5; 32]).save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let other = Sr25519Pair::from_seed([6; 32]);
    let swapped = text.replace(&Sr25519Pair::from_seed([5; 32]).ss58(), &other.ss58());
    crate::keyfile::write_secret(&path, swapped.as_bytes()).unwrap();
    assert!(matches!(
        Sr25519Pair::load(&path),
        Err(CryptoError::KeyMismatch { .. })
    ));
    crate::keyfile::write_secret(&path, b"{\"type\":\"ed25519\"}").unwrap();
    assert!(matches!(
        Sr25519Pair::load(&path),
        Err(CryptoError::KeyFileInvalid { .. })
    ));
    crate::keyfile::write_secret(&path, b"{\"type\":").unwrap();
    assert!(matches!(
        Sr25519Pair::load(&path),
        Err(CryptoError::KeyFileJson { .. })
    ));
}

#[test]
fn listing_shows_each_wallet_by_name_and_skips_what_does_not_load() {
    let dir = tempfile::tempdir().unwrap();
    let (owner_cold, _) = Wallet::new(dir.path(), "owner", "default")
        .unwrap()
        .create_if_missing()
        .unwrap();
    let (miner_cold, m1) = Wallet::new(dir.path(), "miner", "m1")
        .unwrap()
        .create_if_missing()
        .unwrap();
    // A hotkey file that does not load and a wallet without keys are still listed, without them.
    crate::keyfile::write_secret(&dir.path().join("miner/hotkeys/broken"), b"{}").unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    std::fs::write(dir.path().join("not-a-wallet.txt"), b"").unwrap();

    let listed = list_wallets(dir.path()).unwrap();
    let names: Vec<_> = listed.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["empty", "miner", "owner"]);
    assert_eq!(listed[0].coldkey, None);
    assert!(listed[0].hotkeys.is_empty());
    assert_eq!(listed[1].coldkey, Some(miner_cold.account()));
    assert_eq!(listed[1].hotkeys, vec![("m1".to_string(), m1.account())]);
    assert_eq!(listed[2].coldkey, Some(owner_cold.account()));

    assert!(matches!(
        list_wallets(&dir.path().join("missing")),
        Err(CryptoError::WalletDir { .. })
    ));
}

/// Copies the Python-made fixture wallet into `dir` with the modes bittensor-wallet gives it
/// (git does not keep them).
fn copy_fixture_wallet(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sdk-wallet/wallets/sdk");
    let dst = dir.join("sdk");
    for rel in [
        "coldkey",
        "coldkeypub.txt",
        "hotkeys/alice",
        "hotkeys/alicepub.txt",
        "hotkeys/phrase",
        "hotkeys/phrasepub.txt",
        "hotkeys/encrypted",
    ] {
        let bytes = std::fs::read(src.join(rel)).unwrap();
        crate::keyfile::write_secret(&dst.join(rel), &bytes).unwrap();
    }
    dst
}

#[test]
fn python_wallet_directory_loads_through_wallet() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture_wallet(dir.path());
    let wallet = Wallet::new(dir.path(), "sdk", "phrase").unwrap();
    let cold = wallet.coldkey().unwrap();
    assert_eq!(wallet.coldkeypub().unwrap(), cold.account());
    assert_eq!(
        wallet.hotkey().unwrap().ss58(),
        "5EHgWw2Af1pnoc7f1A8bfmM97W3DAYW8xr82RfhLL9oAabAe"
    );
    let err = Wallet::new(dir.path(), "sdk", "encrypted")
        .unwrap()
        .hotkey()
        .unwrap_err();
    assert!(matches!(err, CryptoError::KeyFileEncrypted { .. }), "{err}");
    // Creating what is missing leaves the Python keys as they were.
    let before = std::fs::read(wallet.coldkey_path()).unwrap();
    let (cold2, _) = Wallet::new(dir.path(), "sdk", "new")
        .unwrap()
        .create_if_missing()
        .unwrap();
    assert_eq!(cold2.account(), cold.account());
    assert_eq!(std::fs::read(wallet.coldkey_path()).unwrap(), before);
    // The listing shows the keys that load, not the public files or the encrypted key.
    let listed = list_wallets(dir.path()).unwrap();
    assert_eq!(listed[0].coldkey, Some(cold.account()));
    let names: Vec<_> = listed[0].hotkeys.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["alice", "new", "phrase"]);
}

#[test]
fn huge_and_public_files_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge");
    let big = vec![b' '; crate::MAX_KEY_FILE_BYTES as usize + 1];
    crate::keyfile::write_secret(&path, &big).unwrap();
    assert!(matches!(
        Sr25519Pair::load(&path),
        Err(CryptoError::KeyFileTooLarge { .. })
    ));
    let public = dir.path().join("coldkeypub.txt");
    crate::keyfile::write_secret(&public, &big[..MAX_PUBLIC_FILE_BYTES as usize + 1]).unwrap();
    assert!(matches!(
        read_public_key_file(&public),
        Err(CryptoError::KeyFileTooLarge { .. })
    ));
    assert!(matches!(
        read_public_key_file(dir.path().join("missing")),
        Err(CryptoError::KeyFileMissing { .. })
    ));
}

#[cfg(unix)]
#[test]
fn public_files_may_be_world_readable_key_files_may_not() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let pair = Sr25519Pair::from_seed([4; 32]);
    let public = dir.path().join("coldkeypub.txt");
    write_public_key_file(&public, &pair.account()).unwrap();
    let key = dir.path().join("coldkey");
    pair.save(&key).unwrap();
    for path in [&public, &key] {
        assert_eq!(
            std::fs::metadata(path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    assert_eq!(read_public_key_file(&public).unwrap(), pair.account());
    assert!(matches!(
        Sr25519Pair::load(&key),
        Err(CryptoError::InsecurePermissions { .. })
    ));
}

#[test]
fn uris_give_substrate_dev_accounts() {
    // sp-keyring's Alice and Bob, also `subkey inspect //Alice`.
    for (uri, ss58) in [
        (
            "//Alice",
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
        ),
        ("//Bob", "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"),
        (
            "bottom drive obey lake curtain smoke basket hold race lonely fit walk//Alice",
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
        ),
        // `subkey inspect //Alice//stash`
        (
            "//Alice//stash",
            "5GNJqTPyNqANBkUVMN1LPPrxXnFouWXoe2wNSmmEoLctxiZY",
        ),
    ] {
        let pair = Sr25519Pair::from_uri(uri).unwrap();
        assert_eq!(pair.ss58(), ss58, "{uri}");
        assert!(pair.seed.is_none() && pair.phrase.is_none());
    }
    // No path: the phrase's own key, which keeps its seed and phrase.
    let root = Sr25519Pair::from_uri(DEV_PHRASE).unwrap();
    assert_eq!(
        hex::encode(root.seed.as_deref().unwrap()),
        "fac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e"
    );
    assert!(Sr25519Pair::from_uri("0x12").is_err());
}

#[test]
fn soft_and_hard_paths_match_bittensor_wallet() {
    // fixture hotkeys/derived: `Keypair.create_from_uri(HOT_PHRASE + "//hot/1")`.
    let phrase = "legal winner thank year wave sausage worth useful legal winner thank yellow";
    let pair = Sr25519Pair::from_uri(&format!("{phrase}//hot/1")).unwrap();
    assert_eq!(
        pair.ss58(),
        "5Gv2qz5yLTAM9PofG65n6y981uxzomk2aBKWYmoSe1NKkhpN"
    );
    // A soft step keeps the public key derivable: two derivations agree on it.
    let again = Sr25519Pair::from_uri(&format!("{phrase}//hot/1")).unwrap();
    assert_eq!(pair.account(), again.account());
    // and the signature verifies.
    pair.account().verify(b"m", &pair.sign(b"m")).unwrap();
}

/// The SDK-made `$NACL` fixture (`//Bob`, password `correct horse 42!`): one real-cost
/// decryption with the right password and one with a wrong one.
#[test]
fn python_encrypted_key_opens_with_its_password_only() {
    let dir = tempfile::tempdir().unwrap();
    let wallet_dir = copy_fixture_wallet(dir.path());
    let path = wallet_dir.join("hotkeys/encrypted");
    let before = std::fs::read(&path).unwrap();
    let (pair, protection) =
        Sr25519Pair::load_with(&path, &FixedPassword::new("correct horse 42!")).unwrap();
    assert_eq!(protection, Protection::Encrypted);
    assert_eq!(
        pair.ss58(),
        "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
    );
    let err = Sr25519Pair::load_with(&path, &FixedPassword::new("correct horse 42")).unwrap_err();
    assert!(matches!(err, CryptoError::WrongPassword { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let err = Sr25519Pair::load_with(&path, &NoPassword).unwrap_err();
    assert!(matches!(err, CryptoError::KeyFileEncrypted { .. }), "{err}");
}

#[test]
fn encrypted_save_round_trips_and_respects_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coldkey");
    let pair = Sr25519Pair::generate_with_phrase(12).unwrap();
    pair.save_encrypted(&path, "pw", false).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"$NACL"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let (back, _) = Sr25519Pair::load_with(&path, &FixedPassword::new("pw")).unwrap();
    assert_eq!(back.account(), pair.account());
    assert_eq!(back.phrase(), pair.phrase());
    let other = Sr25519Pair::generate();
    assert!(matches!(
        other.save_plain(&path, false),
        Err(CryptoError::KeyFileExists { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    other.save_plain(&path, true).unwrap();
    let (loaded, protection) = Sr25519Pair::load_with(&path, &NoPassword).unwrap();
    assert_eq!(
        (loaded.account(), protection),
        (other.account(), Protection::Plaintext)
    );
}
