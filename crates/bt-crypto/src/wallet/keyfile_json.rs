//! The key files of the Python `bittensor-wallet` package (what btcli and the SDK write), read
//! and written byte-compatibly for unencrypted keys; also reads this crate's older format.
//!
//! A key file is one compact JSON object (bittensor-wallet 4.x puts its keys in no fixed order):
//!
//! | field          | value                                                                  |
//! |----------------|------------------------------------------------------------------------|
//! | `accountId`    | `"0x"` + 64 lower-case hex: the 32-byte sr25519 public key             |
//! | `publicKey`    | the same as `accountId`                                                |
//! | `privateKey`   | `"0x"` + 128 hex: schnorrkel `SecretKey::to_bytes` (scalar ‖ nonce)    |
//! | `secretSeed`   | `"0x"` + 64 hex: the mini secret; absent for URI-derived keys          |
//! | `secretPhrase` | the BIP39 phrase; absent when the key was not made from one           |
//! | `ss58Address`  | SS58 with prefix 42                                                    |
//! | `cryptoType`   | `1` (sr25519); `0` would be ed25519                                    |
//!
//! Older Python releases wrote `null` for a missing field and had no `cryptoType`; both read.
//! Public files (`coldkeypub.txt`, `hotkeys/<name>pub.txt`) hold `accountId`, `publicKey`,
//! `ss58Address` and `cryptoType` only. A password-protected file is not JSON at all: it starts
//! with `$NACL` (current), `$ANSIBLE_VAULT` or `gAAAAA` (legacy Fernet).
//!
//! This crate's old format was `{"type":"sr25519","secretSeed":…,"publicKey":…,"ss58Address":…}`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::{AccountId, SR25519_KEY_TYPE, Sr25519Pair, ss58_decode};
use crate::CryptoError;
use crate::error::clip;
use crate::keyfile;

/// bittensor-wallet's `cryptoType` for sr25519 (`CRYPTO_SR25519`).
pub const CRYPTO_TYPE_SR25519: u8 = 1;

/// A public key file is about 240 bytes; pretty-printed or with a newline a little more.
pub const MAX_PUBLIC_FILE_BYTES: u64 = 4096;

/// What [`encryption_method`] calls `$NACL` files, the only encrypted form we read and write.
pub(super) const NACL_METHOD: &str = "NaCl secretbox";

/// The encryption a key file uses, from its first bytes, as bittensor-wallet tells them apart.
pub(super) fn encryption_method(bytes: &[u8]) -> Option<&'static str> {
    [
        (&b"$NACL"[..], NACL_METHOD),
        (b"$ANSIBLE_VAULT", "Ansible Vault"),
        (b"gAAAAA", "legacy Fernet"),
    ]
    .into_iter()
    .find(|(prefix, _)| bytes.starts_with(prefix))
    .map(|(_, method)| method)
}

/// Every field either format may hold; all optional because bittensor-wallet leaves out (or,
/// in older releases, sets to `null`) whatever a key does not have. Other fields are ignored.
#[derive(Deserialize)]
struct Fields {
    #[serde(rename = "accountId")]
    account_id: Option<String>,
    #[serde(rename = "publicKey")]
    public_key: Option<String>,
    #[serde(rename = "privateKey")]
    private_key: Option<String>,
    #[serde(rename = "secretPhrase")]
    secret_phrase: Option<String>,
    #[serde(rename = "secretSeed")]
    secret_seed: Option<String>,
    #[serde(rename = "ss58Address")]
    ss58_address: Option<String>,
    #[serde(rename = "cryptoType")]
    crypto_type: Option<i64>,
    /// Only in this crate's old format.
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl Drop for Fields {
    fn drop(&mut self) {
        self.private_key.zeroize();
        self.secret_phrase.zeroize();
        self.secret_seed.zeroize();
    }
}

/// What [`encode_pair`] writes, in the field order of the Python SDK's older releases.
#[derive(Serialize)]
struct PairOut<'a> {
    #[serde(rename = "accountId")]
    account_id: &'a str,
    #[serde(rename = "publicKey")]
    public_key: &'a str,
    #[serde(rename = "privateKey")]
    private_key: &'a str,
    #[serde(rename = "secretPhrase", skip_serializing_if = "Option::is_none")]
    secret_phrase: Option<&'a str>,
    #[serde(rename = "secretSeed", skip_serializing_if = "Option::is_none")]
    secret_seed: Option<&'a str>,
    #[serde(rename = "ss58Address")]
    ss58_address: &'a str,
    #[serde(rename = "cryptoType")]
    crypto_type: u8,
}

#[derive(Serialize)]
struct PublicOut<'a> {
    #[serde(rename = "accountId")]
    account_id: &'a str,
    #[serde(rename = "publicKey")]
    public_key: &'a str,
    #[serde(rename = "ss58Address")]
    ss58_address: &'a str,
    #[serde(rename = "cryptoType")]
    crypto_type: u8,
}

fn json_error(path: &Path) -> impl FnOnce(serde_json::Error) -> CryptoError + '_ {
    move |source| CryptoError::KeyFileJson {
        path: path.to_path_buf(),
        source,
    }
}

fn invalid(path: &Path, reason: String) -> CryptoError {
    CryptoError::KeyFileInvalid {
        path: path.to_path_buf(),
        reason,
    }
}

/// The file bytes of `pair`, exactly as bittensor-wallet writes an unencrypted key: fields it
/// has no value for (a phrase, a seed) are left out, as the Python package does.
pub(super) fn encode_pair(
    path: &Path,
    pair: &Sr25519Pair,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let public = pair.account().to_hex();
    let ss58 = pair.ss58();
    let private_key = Zeroizing::new(format!("0x{}", hex::encode(pair.private_key().as_ref())));
    let seed = pair
        .seed
        .as_ref()
        .map(|s| Zeroizing::new(format!("0x{}", hex::encode(s.as_ref()))));
    let out = PairOut {
        account_id: &public,
        public_key: &public,
        private_key: &private_key,
        secret_phrase: pair.phrase.as_ref().map(|p| p.as_str()),
        secret_seed: seed.as_ref().map(|s| s.as_str()),
        ss58_address: &ss58,
        crypto_type: CRYPTO_TYPE_SR25519,
    };
    serde_json::to_vec(&out)
        .map(Zeroizing::new)
        .map_err(json_error(path))
}

/// A public key file (`coldkeypub.txt`) for `account`, as bittensor-wallet writes it.
pub(super) fn encode_public(path: &Path, account: &AccountId) -> Result<Vec<u8>, CryptoError> {
    let public = account.to_hex();
    serde_json::to_vec(&PublicOut {
        account_id: &public,
        public_key: &public,
        ss58_address: &account.to_ss58(),
        crypto_type: CRYPTO_TYPE_SR25519,
    })
    .map_err(json_error(path))
}

fn parse_fields(path: &Path, bytes: &[u8]) -> Result<Fields, CryptoError> {
    if let Some(method) = encryption_method(bytes) {
        return Err(CryptoError::KeyFileEncrypted {
            path: path.to_path_buf(),
            method,
            reason: if method == NACL_METHOD {
                "was read without a password"
            } else {
                "this format is not supported"
            },
        });
    }
    let fields: Fields = serde_json::from_slice(bytes).map_err(json_error(path))?;
    if let Some(kind) = &fields.kind
        && kind != SR25519_KEY_TYPE
    {
        return Err(invalid(
            path,
            format!(
                "key type is {:?}, expected {SR25519_KEY_TYPE:?}",
                clip(kind)
            ),
        ));
    }
    if let Some(crypto_type) = fields.crypto_type
        && crypto_type != i64::from(CRYPTO_TYPE_SR25519)
    {
        return Err(invalid(
            path,
            format!(
                "cryptoType is {crypto_type}; only sr25519 ({CRYPTO_TYPE_SR25519}) keys are \
                 supported (0 is ed25519)"
            ),
        ));
    }
    Ok(fields)
}

/// Parse a hex secret without ever putting its digits into an error message.
fn parse_secret<const N: usize>(
    path: &Path,
    what: &'static str,
    value: &str,
) -> Result<Zeroizing<[u8; N]>, CryptoError> {
    let bad = |reason: &str| invalid(path, format!("invalid {what}: {reason}"));
    let digits = value
        .strip_prefix("0x")
        .ok_or_else(|| bad("must start with \"0x\""))?;
    if digits.len() != 2 * N {
        return Err(bad(&format!(
            "expected {} hex digits ({N} bytes), got {}",
            2 * N,
            digits.len()
        )));
    }
    let mut out = Zeroizing::new([0u8; N]);
    hex::decode_to_slice(digits, out.as_mut()).map_err(|_| bad("not hexadecimal"))?;
    Ok(out)
}

/// The key pair a key file holds. The Python package trusts, in this order, `secretPhrase`,
/// `secretSeed`, `privateKey`; we take the same one and insist that the others agree with it,
/// so the two implementations can never sign with different keys from one file.
pub(super) fn decode_pair(path: &Path, bytes: &[u8]) -> Result<Sr25519Pair, CryptoError> {
    let fields = parse_fields(path, bytes)?;
    let from_phrase = match &fields.secret_phrase {
        Some(phrase) => Some(Sr25519Pair::from_phrase(phrase, "").map_err(|e| match e {
            CryptoError::Mnemonic { reason } => invalid(path, format!("secretPhrase: {reason}")),
            other => other,
        })?),
        None => None,
    };
    let seed = match &fields.secret_seed {
        Some(s) => Some(parse_secret::<32>(path, "secretSeed", s)?),
        None => None,
    };
    let private_key = match &fields.private_key {
        Some(s) => Some(parse_secret::<64>(path, "privateKey", s)?),
        None => None,
    };

    let pair = match (from_phrase, &seed, &private_key) {
        (Some(pair), _, _) => pair,
        (None, Some(seed), _) => Sr25519Pair::from_seed(**seed),
        (None, None, Some(key)) => Sr25519Pair::from_private_key(key).map_err(|e| {
            invalid(
                path,
                format!("privateKey is not an sr25519 secret key: {e}"),
            )
        })?,
        (None, None, None) => {
            return Err(invalid(
                path,
                "holds no secret (none of secretPhrase, secretSeed, privateKey): a public key \
                 file such as coldkeypub.txt is not a key pair"
                    .into(),
            ));
        }
    };
    if let Some(seed) = &seed
        && pair.seed.as_deref() != Some(&**seed)
    {
        return Err(invalid(
            path,
            "secretSeed is not the seed of secretPhrase; the file is corrupt or was edited".into(),
        ));
    }
    if let Some(key) = &private_key
        && *pair.private_key() != **key
    {
        return Err(invalid(
            path,
            "privateKey does not belong to the key's secretPhrase/secretSeed; the file is \
             corrupt or was edited"
                .into(),
        ));
    }
    check_public_fields(path, &fields, Some(pair.account()))?;
    Ok(pair)
}

/// The account a public key file (or any key file, without touching its secret) names: its
/// `publicKey`, `accountId` and `ss58Address`, which must agree, or a bare SS58 address (this
/// crate's old `coldkeypub.txt`).
pub(super) fn decode_public(path: &Path, bytes: &[u8]) -> Result<AccountId, CryptoError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| invalid(path, "not UTF-8 text".into()))?
        .trim();
    if !text.starts_with('{') && encryption_method(bytes).is_none() {
        let (_, account) = ss58_decode(text).map_err(|e| invalid(path, e.to_string()))?;
        return Ok(AccountId(account));
    }
    let fields = parse_fields(path, text.as_bytes())?;
    check_public_fields(path, &fields, None)?.ok_or_else(|| {
        invalid(
            path,
            "names no account (none of publicKey, accountId, ss58Address)".into(),
        )
    })
}

/// Checks that the public fields present agree with each other and, when given, with the
/// account derived from the secret; returns the account they name, if any.
fn check_public_fields(
    path: &Path,
    fields: &Fields,
    derived: Option<AccountId>,
) -> Result<Option<AccountId>, CryptoError> {
    let mut named = derived;
    let mut check = |field: &str, stored: AccountId, shown: String| match (named, derived) {
        (Some(secret), Some(_)) if secret != stored => Err(CryptoError::KeyMismatch {
            path: path.to_path_buf(),
            stored: format!("{field} {shown}"),
            derived: secret.to_hex(),
        }),
        (Some(other), None) if other != stored => Err(invalid(
            path,
            format!(
                "{field} {shown} names another account than the fields before it ({})",
                other.to_hex()
            ),
        )),
        _ => {
            named = Some(stored);
            Ok(())
        }
    };
    for (field, value) in [
        ("publicKey", &fields.public_key),
        ("accountId", &fields.account_id),
    ] {
        if let Some(value) = value {
            let stored =
                AccountId::from_hex(value).map_err(|e| invalid(path, format!("{field}: {e}")))?;
            check(field, stored, stored.to_hex())?;
        }
    }
    if let Some(address) = &fields.ss58_address {
        let (_, account) =
            ss58_decode(address).map_err(|e| invalid(path, format!("ss58Address: {e}")))?;
        check("ss58Address", AccountId(account), clip(address))?;
    }
    Ok(named)
}

/// Read a public key file: no permission check (it holds nothing secret), but the size limit.
pub(super) fn read_public(path: &Path) -> Result<AccountId, CryptoError> {
    let bytes = keyfile::read_public(path, MAX_PUBLIC_FILE_BYTES)?;
    decode_public(path, &bytes)
}

#[cfg(test)]
#[path = "keyfile_json_tests.rs"]
mod tests;
