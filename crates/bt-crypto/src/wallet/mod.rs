//! Chain wallets: sr25519 coldkeys and hotkeys, as Substrate and Bittensor use them.
//!
//! A key is a 32-byte mini secret ("seed") expanded the way Substrate's `Pair::from_seed` does
//! (`ExpansionMode::Ed25519`); signatures use the signing context `b"substrate"`; accounts are
//! shown as SS58 with prefix 42. Layout on disk follows the Python SDK's:
//! `<root>/<wallet>/coldkey`, `<root>/<wallet>/coldkeypub.txt`, `<root>/<wallet>/hotkeys/<hotkey>`.
//!
//! Key file (JSON, mode 0600, atomic write):
//! `{"type":"sr25519","secretSeed":"0x<64 hex>","publicKey":"0x<64 hex>","ss58Address":"5…"}`.
//! Not done: the Python SDK encrypts coldkeys with a password (NaCl secretbox); ours are
//! plaintext, protected only by file permissions. Mnemonics (BIP39) are not supported.

mod list;
mod ss58;

use std::fmt;
use std::path::{Path, PathBuf};

use schnorrkel::{ExpansionMode, Keypair, MiniSecretKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::error::clip;
use crate::keyfile;

pub use list::{MAX_LISTED, WalletEntry, list_wallets};
pub use ss58::{SS58_PREFIX, ss58_decode, ss58_decode_with_prefix, ss58_encode};

/// Substrate's sr25519 signing context.
pub const SIGNING_CONTEXT: &[u8] = b"substrate";
pub const SR25519_KEY_TYPE: &str = "sr25519";

/// A 32-byte sr25519 public key, i.e. a chain account id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub [u8; 32]);

impl AccountId {
    pub fn to_ss58(&self) -> String {
        ss58_encode(&self.0, SS58_PREFIX)
    }

    /// Parse an SS58 address with prefix 42.
    pub fn from_ss58(address: &str) -> Result<Self, CryptoError> {
        ss58_decode_with_prefix(address, SS58_PREFIX).map(Self)
    }

    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        keyfile::parse_hex_array::<32>("account id", s).map(Self)
    }

    /// Verify an sr25519 signature (context `substrate`) by this account.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        let public =
            schnorrkel::PublicKey::from_bytes(&self.0).map_err(|e| CryptoError::Sr25519 {
                what: "public key",
                reason: format!("{}: {e}", self.to_ss58()),
            })?;
        let sig = schnorrkel::Signature::from_bytes(sig).map_err(|e| CryptoError::Sr25519 {
            what: "signature",
            reason: e.to_string(),
        })?;
        public
            .verify_simple(SIGNING_CONTEXT, msg, &sig)
            .map_err(|e| CryptoError::BadSignature {
                key: self.to_ss58(),
                reason: e.to_string(),
            })
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_ss58())
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.to_ss58())
    }
}

/// An sr25519 key pair (coldkey or hotkey).
pub struct Sr25519Pair {
    seed: Zeroizing<[u8; 32]>,
    keypair: Keypair,
}

#[derive(Serialize, Deserialize)]
struct PairFile {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "secretSeed")]
    secret_seed: String,
    #[serde(rename = "publicKey")]
    public_key: String,
    #[serde(rename = "ss58Address")]
    ss58_address: String,
}

impl Drop for PairFile {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret_seed);
    }
}

impl Sr25519Pair {
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, seed.as_mut());
        Self::from_seed(*seed)
    }

    /// Same derivation as Substrate's `sr25519::Pair::from_seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let seed = Zeroizing::new(seed);
        // A 32-byte slice is always a valid mini secret key: `from_bytes` only checks length.
        let keypair = match MiniSecretKey::from_bytes(seed.as_ref()) {
            Ok(mini) => mini.expand_to_keypair(ExpansionMode::Ed25519),
            Err(_) => unreachable!("32-byte mini secret key"),
        };
        Self { seed, keypair }
    }

    pub fn account(&self) -> AccountId {
        AccountId(self.keypair.public.to_bytes())
    }

    pub fn ss58(&self) -> String {
        self.account().to_ss58()
    }

    /// sr25519 signature with context `substrate` (randomised, so not reproducible).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.keypair.sign_simple(SIGNING_CONTEXT, msg).to_bytes()
    }

    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CryptoError> {
        let file = PairFile {
            kind: SR25519_KEY_TYPE.into(),
            secret_seed: format!("0x{}", hex::encode(self.seed.as_ref())),
            public_key: self.account().to_hex(),
            ss58_address: self.ss58(),
        };
        keyfile::write_json_secret(path.as_ref(), &file)
    }

    /// Load a key file; re-derives the public key and refuses a file whose `publicKey` or
    /// `ss58Address` does not match its seed.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CryptoError> {
        let path = path.as_ref();
        let file: PairFile = keyfile::read_json_secret(path)?;
        let invalid = |reason: String| CryptoError::KeyFileInvalid {
            path: path.to_path_buf(),
            reason,
        };
        if file.kind != SR25519_KEY_TYPE {
            return Err(invalid(format!(
                "key type is {:?}, expected {SR25519_KEY_TYPE:?}",
                clip(&file.kind)
            )));
        }
        let seed = Zeroizing::new(
            keyfile::parse_hex_array::<32>("secretSeed", &file.secret_seed).map_err(
                |e| match e {
                    CryptoError::BadHex { reason, .. } => {
                        invalid(format!("invalid secretSeed: {reason}"))
                    }
                    other => other,
                },
            )?,
        );
        let pair = Self::from_seed(*seed);
        let stored = AccountId::from_hex(&file.public_key).map_err(|e| invalid(e.to_string()))?;
        let mismatch = |stored: String, derived: String| CryptoError::KeyMismatch {
            path: path.to_path_buf(),
            stored,
            derived,
        };
        if stored != pair.account() {
            return Err(mismatch(stored.to_hex(), pair.account().to_hex()));
        }
        if file.ss58_address != pair.ss58() {
            return Err(mismatch(clip(&file.ss58_address), pair.ss58()));
        }
        Ok(pair)
    }

    /// Load, or generate and save if the file does not exist; `true` when created.
    pub fn load_or_generate(path: impl AsRef<Path>) -> Result<(Self, bool), CryptoError> {
        let path = path.as_ref();
        match Self::load(path) {
            Ok(pair) => Ok((pair, false)),
            Err(CryptoError::KeyFileMissing { .. }) => {
                let pair = Self::generate();
                pair.save(path)?;
                Ok((pair, true))
            }
            Err(e) => Err(e),
        }
    }
}

impl fmt::Debug for Sr25519Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sr25519Pair")
            .field("account", &self.ss58())
            .finish()
    }
}

/// A named wallet: one coldkey and one selected hotkey, in the Python SDK's directory layout.
#[derive(Clone, Debug)]
pub struct Wallet {
    pub root: PathBuf,
    pub name: String,
    pub hotkey: String,
}

impl Wallet {
    pub fn new(root: impl Into<PathBuf>, name: &str, hotkey: &str) -> Result<Self, CryptoError> {
        let root = root.into();
        for (what, value) in [("wallet name", name), ("hotkey name", hotkey)] {
            if !is_safe_name(value) {
                return Err(CryptoError::KeyFileInvalid {
                    path: root.clone(),
                    reason: format!(
                        "{what} {:?} must be 1-64 characters of [A-Za-z0-9_.-] and not start \
                         with '.'",
                        clip(value)
                    ),
                });
            }
        }
        Ok(Self {
            root,
            name: name.into(),
            hotkey: hotkey.into(),
        })
    }

    pub fn dir(&self) -> PathBuf {
        self.root.join(&self.name)
    }

    pub fn coldkey_path(&self) -> PathBuf {
        self.dir().join("coldkey")
    }

    pub fn coldkeypub_path(&self) -> PathBuf {
        self.dir().join("coldkeypub.txt")
    }

    pub fn hotkey_path(&self) -> PathBuf {
        self.dir().join("hotkeys").join(&self.hotkey)
    }

    pub fn coldkey(&self) -> Result<Sr25519Pair, CryptoError> {
        Sr25519Pair::load(self.coldkey_path())
    }

    pub fn hotkey(&self) -> Result<Sr25519Pair, CryptoError> {
        Sr25519Pair::load(self.hotkey_path())
    }

    /// Load both keys, creating whichever is missing; also (re)writes `coldkeypub.txt` with the
    /// coldkey's SS58 address so tools can read it without touching the secret.
    pub fn create_if_missing(&self) -> Result<(Sr25519Pair, Sr25519Pair), CryptoError> {
        let (cold, _) = Sr25519Pair::load_or_generate(self.coldkey_path())?;
        let (hot, _) = Sr25519Pair::load_or_generate(self.hotkey_path())?;
        keyfile::write_secret(&self.coldkeypub_path(), cold.ss58().as_bytes())?;
        Ok((cold, hot))
    }
}

fn is_safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests;
