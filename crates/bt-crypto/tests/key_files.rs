//! Key file handling: round trip, atomic private writes, and a clear error for each bad file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bt_crypto::{CryptoError, NeuronKey};

#[test]
fn save_load_round_trip_with_private_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys/neuron.json");
    let (key, created) = NeuronKey::load_or_generate(&path).unwrap();
    assert!(created);
    let (again, created) = NeuronKey::load_or_generate(&path).unwrap();
    assert!(!created);
    assert_eq!(key.public(), again.public());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // No temporary files are left behind.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // Debug never prints the secret.
    let text = std::fs::read_to_string(&path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let secret = v["secret"].as_str().unwrap();
    assert!(!format!("{key:?}").contains(&secret[2..]));
}

fn write(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn each_bad_file_gets_its_own_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    assert!(matches!(
        NeuronKey::load(&path),
        Err(CryptoError::KeyFileMissing { .. })
    ));

    write(&path, "{not json");
    assert!(matches!(
        NeuronKey::load(&path),
        Err(CryptoError::KeyFileJson { .. })
    ));

    let good = NeuronKey::from_seed([9; 32]);
    let other = NeuronKey::from_seed([8; 32]);
    let secret = format!("0x{}", "09".repeat(32));
    write(
        &path,
        &format!(
            r#"{{"type":"ed25519","secret":"0x0909","public":"{}"}}"#,
            good.public_hex()
        ),
    );
    let err = NeuronKey::load(&path).unwrap_err();
    assert!(matches!(err, CryptoError::KeyFileInvalid { .. }), "{err}");
    assert!(err.to_string().contains("64 hex digits"), "{err}");

    write(
        &path,
        &format!(
            r#"{{"type":"ed25519","secret":"{secret}","public":"{}"}}"#,
            other.public_hex()
        ),
    );
    assert!(matches!(
        NeuronKey::load(&path),
        Err(CryptoError::KeyMismatch { .. })
    ));

    write(
        &path,
        &format!(
            r#"{{"type":"rsa","secret":"{secret}","public":"{}"}}"#,
            good.public_hex()
        ),
    );
    assert!(matches!(
        NeuronKey::load(&path),
        Err(CryptoError::KeyFileInvalid { .. })
    ));

    write(
        &path,
        &format!(
            r#"{{"type":"ed25519","secret":"{secret}","public":"{}"}}"#,
            good.public_hex()
        ),
    );
    assert_eq!(NeuronKey::load(&path).unwrap().public(), good.public());

    // load_or_generate must not overwrite a file it cannot read.
    write(&path, "{broken");
    assert!(NeuronKey::load_or_generate(&path).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{broken");
}

#[cfg(unix)]
#[test]
fn group_or_world_accessible_files_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    NeuronKey::generate().save(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = NeuronKey::load(&path).unwrap_err();
    assert!(
        matches!(err, CryptoError::InsecurePermissions { mode: 0o644, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 600"));
    // Saving again replaces the file with a private one.
    NeuronKey::generate().save(&path).unwrap();
    NeuronKey::load(&path).unwrap();
}

#[test]
fn save_new_never_replaces_and_one_of_racing_creators_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys/neuron.json");
    let first = NeuronKey::from_seed([1; 32]);
    first.save_new(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let before = std::fs::read(&path).unwrap();
    let err = NeuronKey::from_seed([2; 32]).save_new(&path).unwrap_err();
    assert!(matches!(err, CryptoError::KeyFileExists { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // Eight threads create the same new key at once: exactly one succeeds, and the file holds
    // that one's key, whole.
    let racing = dir.path().join("race/neuron.json");
    let barrier = std::sync::Barrier::new(8);
    let won: Vec<Option<NeuronKey>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8u8)
            .map(|i| {
                let (racing, barrier) = (&racing, &barrier);
                s.spawn(move || {
                    let key = NeuronKey::from_seed([10 + i; 32]);
                    barrier.wait();
                    match key.save_new(racing) {
                        Ok(()) => Some(key),
                        Err(CryptoError::KeyFileExists { .. }) => None,
                        Err(e) => panic!("{e}"),
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<&NeuronKey> = won.iter().flatten().collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(
        NeuronKey::load(&racing).unwrap().public(),
        winners[0].public()
    );
    // Losers and the winner leave no temporary files.
    for d in [path.parent().unwrap(), racing.parent().unwrap()] {
        let names: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
