//! Ed25519 neuron keys and their file format.
//!
//! Key file (JSON, mode 0600):
//! `{"type":"ed25519","secret":"0x<64 hex: the 32-byte seed>","public":"0x<64 hex>"}`.
//! `public` is redundant on purpose: loading re-derives it from `secret` and refuses a mismatch,
//! which catches a corrupted or hand-edited file before the neuron announces a wrong identity.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::error::clip;
use crate::keyfile;

/// The key type tag written into neuron key files.
pub const ED25519_KEY_TYPE: &str = "ed25519";

/// A neuron's Ed25519 signing key. The secret is zeroized on drop (ed25519-dalek `zeroize`).
pub struct NeuronKey {
    signing: SigningKey,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    secret: String,
    public: String,
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

impl NeuronKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Self {
            signing: SigningKey::generate(&mut rand_core::OsRng),
        }
    }

    /// The key whose RFC 8032 secret (seed) is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let seed = Zeroizing::new(seed);
        Self {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// Load a key file (see the module docs for the format and checks).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CryptoError> {
        let path = path.as_ref();
        let file: KeyFile = keyfile::read_json_secret(path)?;
        let invalid = |reason: String| CryptoError::KeyFileInvalid {
            path: path.to_path_buf(),
            reason,
        };
        if file.kind != ED25519_KEY_TYPE {
            return Err(invalid(format!(
                "key type is {:?}, expected {ED25519_KEY_TYPE:?}",
                clip(&file.kind)
            )));
        }
        let seed = Zeroizing::new(
            keyfile::parse_hex_array::<32>("secret", &file.secret)
                .map_err(|e| invalid(redact_secret(e)))?,
        );
        let key = Self::from_seed(*seed);
        let stored = PublicKey::from_hex(&file.public).map_err(|e| invalid(e.to_string()))?;
        if stored != key.public() {
            return Err(CryptoError::KeyMismatch {
                path: path.to_path_buf(),
                stored: stored.to_hex(),
                derived: key.public_hex(),
            });
        }
        Ok(key)
    }

    /// Write the key file atomically with mode 0600, replacing any existing file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CryptoError> {
        keyfile::write_json_secret(path.as_ref(), &self.key_file())
    }

    fn key_file(&self) -> KeyFile {
        KeyFile {
            kind: ED25519_KEY_TYPE.into(),
            secret: format!("0x{}", hex::encode(self.signing.to_bytes())),
            public: self.public_hex(),
        }
    }

    /// Save to a new file at `path`, atomically and with mode 0600; never replaces an existing
    /// file ([`CryptoError::KeyFileExists`]), even one another process is creating at the same
    /// moment.
    pub fn save_new(&self, path: impl AsRef<Path>) -> Result<(), CryptoError> {
        keyfile::write_json_secret_new(path.as_ref(), &self.key_file())
    }

    /// Load the key at `path`, or create and save a new one if the file does not exist.
    /// Returns `true` when a key was created. Any other failure (bad permissions, bad JSON) is
    /// returned rather than silently replacing the operator's key.
    pub fn load_or_generate(path: impl AsRef<Path>) -> Result<(Self, bool), CryptoError> {
        let path = path.as_ref();
        match Self::load(path) {
            Ok(key) => Ok((key, false)),
            Err(CryptoError::KeyFileMissing { .. }) => {
                let key = Self::generate();
                key.save(path)?;
                Ok((key, true))
            }
            Err(e) => Err(e),
        }
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            key: self.signing.verifying_key(),
        }
    }

    /// `"0x"` + 64 lower-case hex digits: the wire encoding of `neuron_key`.
    pub fn public_hex(&self) -> String {
        self.public().to_hex()
    }

    /// Plain Ed25519 (RFC 8032, not Ed25519ph) over `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }
}

impl fmt::Debug for NeuronKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("NeuronKey")
            .field("public", &self.public_hex())
            .finish()
    }
}

/// Errors from parsing the secret must not echo the secret into logs.
fn redact_secret(e: CryptoError) -> String {
    match e {
        CryptoError::BadHex { what, reason, .. } => format!("invalid {what}: {reason}"),
        other => other.to_string(),
    }
}

/// An Ed25519 public key (a neuron or synapse identity).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.as_bytes().hash(state);
    }
}

impl PublicKey {
    /// Decode a compressed Edwards point; rejects bytes that are not a point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, CryptoError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|e| CryptoError::BadPublicKey {
            key: format!("0x{}", hex::encode(bytes)),
            reason: e.to_string(),
        })?;
        Ok(Self { key })
    }

    /// Parse `"0x"` + 64 hex digits (upper or lower case).
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        let bytes = keyfile::parse_hex_array::<32>("public key", s)?;
        Self::from_bytes(&bytes)
    }

    /// `"0x"` + 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.key.as_bytes()))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// Strict verification (`verify_strict`): also rejects weak (small-order) keys and
    /// small-order `R`, so a signer cannot craft signatures that verify ambiguously.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        let sig = parse_signature(sig)?;
        self.key
            .verify_strict(msg, &sig)
            .map_err(|e| CryptoError::BadSignature {
                key: self.to_hex(),
                reason: e.to_string(),
            })
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

pub(crate) fn parse_signature(sig: &[u8]) -> Result<Signature, CryptoError> {
    let bytes: &[u8; 64] = sig
        .try_into()
        .map_err(|_| CryptoError::BadSignatureLength { len: sig.len() })?;
    Ok(Signature::from_bytes(bytes))
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl std::str::FromStr for PublicKey {
    type Err = CryptoError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}
