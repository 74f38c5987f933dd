//! An sr25519 key pair and how it is made: from a seed, a BIP39 phrase or an expanded secret.

use std::fmt;
use std::path::Path;

use schnorrkel::{ExpansionMode, Keypair, MiniSecretKey, SecretKey};
use zeroize::Zeroizing;

use super::password::{PasswordPurpose, PasswordSource};
use super::{AccountId, SIGNING_CONTEXT, derive, encryption, keyfile_json, mnemonic};
use crate::CryptoError;
use crate::keyfile;

/// An sr25519 key pair (coldkey or hotkey).
///
/// Remembers what it was made from, so that saving writes the same fields bittensor-wallet
/// would: a key derived from a URI (`//Alice`, `phrase//hot/1`) has no seed, only the expanded
/// secret.
pub struct Sr25519Pair {
    pub(super) seed: Option<Zeroizing<[u8; 32]>>,
    pub(super) phrase: Option<Zeroizing<String>>,
    pub(super) keypair: Keypair,
}

impl Sr25519Pair {
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, seed.as_mut());
        Self::from_seed(*seed)
    }

    /// A new key from a new random BIP39 phrase of `words` words, as btcli creates keys; the
    /// phrase is kept in the pair (and in its file) so it can be shown once and regenerated.
    pub fn generate_with_phrase(words: usize) -> Result<Self, CryptoError> {
        let phrase = mnemonic::generate_phrase(words)?;
        Self::from_phrase(&phrase, "")
    }

    /// The BIP39 phrase the key was made from, if any.
    pub fn phrase(&self) -> Option<&str> {
        self.phrase.as_ref().map(|p| p.as_str())
    }

    /// Same derivation as Substrate's `sr25519::Pair::from_seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let seed = Zeroizing::new(seed);
        // A 32-byte slice is always a valid mini secret key: `from_bytes` only checks length.
        let keypair = match MiniSecretKey::from_bytes(seed.as_ref()) {
            Ok(mini) => mini.expand_to_keypair(ExpansionMode::Ed25519),
            Err(_) => unreachable!("32-byte mini secret key"),
        };
        Self {
            seed: Some(seed),
            phrase: None,
            keypair,
        }
    }

    /// The key of an English BIP39 phrase, as Substrate's `Pair::from_phrase` and
    /// bittensor-wallet's `Keypair.create_from_mnemonic` make it (`password` "" for none).
    /// Derivation paths (`phrase//hard/soft`) are not supported.
    pub fn from_phrase(phrase: &str, password: &str) -> Result<Self, CryptoError> {
        let seed = mnemonic::mini_secret_from_phrase(phrase, password)?;
        let mut pair = Self::from_seed(*seed);
        pair.phrase = Some(Zeroizing::new(phrase.to_owned()));
        Ok(pair)
    }

    /// The key of a Substrate secret URI, as sp-core's `Pair::from_string` and
    /// bittensor-wallet's `Keypair.create_from_uri` make it: `//Alice`, `phrase//hot/1`,
    /// `0x<seed>/soft`, `phrase///bip39-password`. A URI with a derivation path keeps only the
    /// expanded secret (no seed, no phrase), as bittensor-wallet saves such keys.
    pub fn from_uri(uri: &str) -> Result<Self, CryptoError> {
        let parsed = derive::parse(uri)?;
        let root = match derive::hex_seed(parsed.phrase) {
            Some(seed) => Self::from_seed(*seed?),
            None => Self::from_phrase(parsed.phrase, parsed.password.unwrap_or(""))?,
        };
        if parsed.junctions.is_empty() {
            return Ok(root);
        }
        let secret = derive::derive(&root.keypair.secret, &parsed.junctions);
        Ok(Self {
            seed: None,
            phrase: None,
            keypair: secret.to_keypair(),
        })
    }

    /// From a 64-byte expanded secret in schnorrkel's `SecretKey::to_bytes` form (scalar ‖
    /// nonce), which is what Substrate's `to_raw_vec` and bittensor-wallet's `privateKey` hold.
    pub fn from_private_key(bytes: &[u8; 64]) -> Result<Self, CryptoError> {
        let secret = SecretKey::from_bytes(bytes).map_err(|e| CryptoError::Sr25519 {
            what: "private key",
            reason: e.to_string(),
        })?;
        Ok(Self {
            seed: None,
            phrase: None,
            keypair: secret.to_keypair(),
        })
    }

    /// The expanded secret, as [`Self::from_private_key`] takes it.
    pub(super) fn private_key(&self) -> Zeroizing<[u8; 64]> {
        Zeroizing::new(self.keypair.secret.to_bytes())
    }

    pub fn account(&self) -> AccountId {
        AccountId(self.keypair.public.to_bytes())
    }

    pub fn ss58(&self) -> String {
        self.account().to_ss58()
    }

    /// sr25519 signature with context `substrate` (randomised, so not reproducible).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        // The context's transcript is built once and cloned per signature (what
        // `sign_simple` builds anew each time): a validator signs every request.
        static CONTEXT: std::sync::OnceLock<schnorrkel::context::SigningContext> =
            std::sync::OnceLock::new();
        let context = CONTEXT.get_or_init(|| schnorrkel::signing_context(SIGNING_CONTEXT));
        self.keypair.sign(context.bytes(msg)).to_bytes()
    }

    /// Write the key in bittensor-wallet's unencrypted format (mode 0600, atomic).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CryptoError> {
        let path = path.as_ref();
        keyfile::write_secret(path, &keyfile_json::encode_pair(path, self)?)
    }

    /// Write the key encrypted with `password` as bittensor-wallet's `$NACL` (see
    /// `encryption.rs`; takes seconds). Without `overwrite` an existing file is an error
    /// ([`CryptoError::KeyFileExists`]) and is left as it was.
    pub fn save_encrypted(
        &self,
        path: impl AsRef<Path>,
        password: &str,
        overwrite: bool,
    ) -> Result<(), CryptoError> {
        let path = path.as_ref();
        let plain = keyfile_json::encode_pair(path, self)?;
        let sealed = encryption::encrypt(&plain, password.as_bytes())?;
        write_key(path, &sealed, overwrite)
    }

    /// As [`Self::save`], but without `overwrite` an existing file is an error.
    pub fn save_plain(&self, path: impl AsRef<Path>, overwrite: bool) -> Result<(), CryptoError> {
        let path = path.as_ref();
        write_key(path, &keyfile_json::encode_pair(path, self)?, overwrite)
    }

    /// Load a key file, plaintext or `$NACL`-encrypted; the password is asked of `passwords`
    /// only when the file is encrypted. Also says which it was, so a caller can warn about
    /// plaintext coldkeys. A wrong password is [`CryptoError::WrongPassword`].
    pub fn load_with(
        path: impl AsRef<Path>,
        passwords: &dyn PasswordSource,
    ) -> Result<(Self, Protection), CryptoError> {
        let path = path.as_ref();
        let bytes = keyfile::read_secret(path)?;
        if !encryption::is_nacl(&bytes) {
            return Ok((
                keyfile_json::decode_pair(path, &bytes)?,
                Protection::Plaintext,
            ));
        }
        let password = passwords.password(path, PasswordPurpose::Decrypt)?;
        let plain = encryption::decrypt(path, &bytes, password.as_bytes())?;
        Ok((
            keyfile_json::decode_pair(path, &plain)?,
            Protection::Encrypted,
        ))
    }

    /// Load a key file written by bittensor-wallet / btcli (unencrypted) or by older versions
    /// of this crate. Every secret and public field present must describe the same key; a file
    /// that disagrees with itself is refused rather than guessed at.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CryptoError> {
        let path = path.as_ref();
        let bytes = keyfile::read_secret(path)?;
        keyfile_json::decode_pair(path, &bytes)
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

/// Whether a key file was password-protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    Plaintext,
    Encrypted,
}

fn write_key(path: &Path, contents: &[u8], overwrite: bool) -> Result<(), CryptoError> {
    if overwrite {
        keyfile::write_secret(path, contents)
    } else {
        keyfile::write_secret_new(path, contents)
    }
}

impl fmt::Debug for Sr25519Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sr25519Pair")
            .field("account", &self.ss58())
            .finish()
    }
}
