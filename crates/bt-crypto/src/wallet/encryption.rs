//! Password-encrypted key files as bittensor-wallet (btcli, the SDK) writes them: `$NACL`.
//!
//! The file is `b"$NACL"` ‖ nonce (24 bytes) ‖ NaCl `secretbox` (XSalsa20-Poly1305, tag first)
//! of the key's JSON. The secretbox key is libsodium's `crypto_pwhash_argon2i` of the password
//! (UTF-8 bytes, as given) with a fixed salt and the "sensitive" limits of *Argon2i* — 8 passes
//! over 512 MiB, one lane — which is what bittensor-wallet's `derive_key` in `src/keyfile.rs`
//! asks of sodiumoxide (`argon2i13::OPSLIMIT_SENSITIVE`, `MEMLIMIT_SENSITIVE`). A derivation
//! takes seconds and half a gigabyte, so callers run it off async executors, and tests keep
//! their number of encryptions small.

use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use zeroize::Zeroizing;

use crate::CryptoError;

/// What starts a NaCl-encrypted key file.
pub const NACL_PREFIX: &[u8] = b"$NACL";

/// bittensor-wallet's `NACL_SALT` (`b"\x13q\x83\xdf\xf1Z\t\xbc\x9c\x90\xb5Q\x879\xe9\xb1"`),
/// inherited from the Python SDK: every key file shares it, so the nonce is what differs.
const NACL_SALT: [u8; 16] = [
    0x13, 0x71, 0x83, 0xdf, 0xf1, 0x5a, 0x09, 0xbc, 0x9c, 0x90, 0xb5, 0x51, 0x87, 0x39, 0xe9, 0xb1,
];

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The cost of the key derivation. Only [`KdfCost::SENSITIVE`] reads and writes files the
/// Python package understands; the cheap one is for this crate's own unit tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfCost {
    /// Argon2 passes (libsodium's `opslimit`).
    pub passes: u32,
    /// Memory in KiB (libsodium's `memlimit` / 1024).
    pub memory_kib: u32,
}

impl KdfCost {
    /// libsodium's `crypto_pwhash_argon2i_OPSLIMIT_SENSITIVE` (8) and
    /// `crypto_pwhash_argon2i_MEMLIMIT_SENSITIVE` (536870912 bytes).
    pub const SENSITIVE: Self = Self {
        passes: 8,
        memory_kib: 512 * 1024,
    };
}

fn derive_key(password: &[u8], cost: KdfCost) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let kdf_error = |e: argon2::Error| CryptoError::Encryption {
        reason: format!("argon2i: {e}"),
    };
    let params = Params::new(cost.memory_kib, cost.passes, 1, Some(32)).map_err(kdf_error)?;
    let argon = Argon2::new(Algorithm::Argon2i, Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(password, &NACL_SALT, key.as_mut())
        .map_err(kdf_error)?;
    Ok(key)
}

/// Whether `bytes` are a NaCl-encrypted key file.
pub fn is_nacl(bytes: &[u8]) -> bool {
    bytes.starts_with(NACL_PREFIX)
}

/// Encrypt a key file's contents as bittensor-wallet does (fresh random nonce).
pub fn encrypt(plaintext: &[u8], password: &[u8]) -> Result<Vec<u8>, CryptoError> {
    encrypt_with_cost(plaintext, password, KdfCost::SENSITIVE)
}

/// Decrypt a `$NACL` key file read from `path` (named in errors). A wrong password is
/// [`CryptoError::WrongPassword`]; nothing is written either way.
pub fn decrypt(
    path: &Path,
    blob: &[u8],
    password: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    decrypt_with_cost(path, blob, password, KdfCost::SENSITIVE)
}

pub fn encrypt_with_cost(
    plaintext: &[u8],
    password: &[u8],
    cost: KdfCost,
) -> Result<Vec<u8>, CryptoError> {
    let key = derive_key(password, cost)?;
    let mut nonce = [0u8; NONCE_LEN];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let sealed = XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(key.as_ref()))
        .encrypt(Nonce::from_slice(&nonce), plaintext)
        .map_err(|_| CryptoError::Encryption {
            reason: "secretbox seal failed".into(),
        })?;
    let mut out = Vec::with_capacity(NACL_PREFIX.len() + NONCE_LEN + sealed.len());
    out.extend_from_slice(NACL_PREFIX);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

pub fn decrypt_with_cost(
    path: &Path,
    blob: &[u8],
    password: &[u8],
    cost: KdfCost,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let body = blob
        .strip_prefix(NACL_PREFIX)
        .filter(|b| b.len() >= NONCE_LEN + TAG_LEN)
        .ok_or_else(|| CryptoError::KeyFileInvalid {
            path: path.to_path_buf(),
            reason: format!(
                "not a NaCl-encrypted key: expected \"$NACL\", a {NONCE_LEN}-byte nonce and at \
                 least a {TAG_LEN}-byte tag, got {} bytes",
                blob.len()
            ),
        })?;
    let (nonce, sealed) = body.split_at(NONCE_LEN);
    let key = derive_key(password, cost)?;
    // A failed Poly1305 check cannot tell a wrong password from a damaged file; with a fixed
    // salt and an intact length the password is by far the likelier cause.
    XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(key.as_ref()))
        .decrypt(Nonce::from_slice(nonce), sealed)
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::WrongPassword {
            path: path.to_path_buf(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: KdfCost = KdfCost {
        passes: 1,
        memory_kib: 64,
    };

    #[test]
    fn round_trip_and_wrong_password() {
        let path = Path::new("coldkey");
        let blob = encrypt_with_cost(b"{\"k\":1}", b"pw", CHEAP).unwrap();
        assert!(is_nacl(&blob));
        assert_eq!(blob.len(), 5 + 24 + 16 + 7);
        let plain = decrypt_with_cost(path, &blob, b"pw", CHEAP).unwrap();
        assert_eq!(plain.as_slice(), b"{\"k\":1}");
        let err = decrypt_with_cost(path, &blob, b"pW", CHEAP).unwrap_err();
        assert!(matches!(err, CryptoError::WrongPassword { .. }), "{err}");
        assert!(err.to_string().contains("wrong password"), "{err}");
    }

    #[test]
    fn truncated_blob_is_invalid_not_a_panic() {
        for blob in [&b"$NACL"[..], b"$NACLshort", b"{}"] {
            let err = decrypt_with_cost(Path::new("k"), blob, b"pw", CHEAP).unwrap_err();
            assert!(matches!(err, CryptoError::KeyFileInvalid { .. }), "{err}");
        }
    }

    /// Made by bittensor-wallet 4.1.1:
    /// `keyfile.encrypt_keyfile_data(b'{"hello":"world"}', "correct horse").hex()`.
    /// Decrypting it checks the salt, the Argon2i variant and costs, and the box layout.
    #[test]
    fn decrypts_what_bittensor_wallet_encrypted() {
        let blob = hex::decode(
            "244e41434c9c67b0da36d04fef6df6f2f6455d7849d61ae68347804515c43eb6ab39d871d0e80645f3\
             74a8d4e8336a1456b2e5c69df71c73eae39b5a1cc4",
        )
        .unwrap();
        let plain = decrypt(Path::new("coldkey"), &blob, b"correct horse").unwrap();
        assert_eq!(plain.as_slice(), br#"{"hello":"world"}"#);
    }
}
