//! Chain wallets: sr25519 coldkeys and hotkeys, as Substrate and Bittensor use them.
//!
//! A key is a 32-byte mini secret ("seed") expanded the way Substrate's `Pair::from_seed` does
//! (`ExpansionMode::Ed25519`); signatures use the signing context `b"substrate"`; accounts are
//! shown as SS58 with prefix 42. A BIP39 phrase gives its seed the way `substrate-bip39` does
//! (PBKDF2-HMAC-SHA512 over the phrase's entropy). Keys derived from a URI (`//Alice`) have no
//! seed, only the 64-byte expanded secret.
//!
//! Files are those of the Python `bittensor-wallet` package (btcli, the SDK), in its layout:
//! `<root>/<wallet>/coldkey`, `<root>/<wallet>/coldkeypub.txt`,
//! `<root>/<wallet>/hotkeys/<hotkey>` and `<root>/<wallet>/hotkeys/<hotkey>pub.txt`. Key files
//! are its unencrypted JSON (`accountId`, `publicKey`, `privateKey`, `secretPhrase`,
//! `secretSeed`, `ss58Address`, `cryptoType`; `keyfile_json.rs` has the exact forms),
//! written with mode 0600 and atomically; the `…pub.txt` files hold the public fields only.
//! This crate's older files (`{"type":"sr25519","secretSeed",…}`, and a bare SS58 address in
//! `coldkeypub.txt`) still load.
//!
//! Password-protected keys are bittensor-wallet's `$NACL` files (`encryption.rs`), read with
//! [`Sr25519Pair::load_with`] and a [`PasswordSource`] and written with
//! [`Sr25519Pair::save_encrypted`]; the older Ansible Vault and Fernet forms are recognised and
//! refused with [`CryptoError::KeyFileEncrypted`]. Keys can be made from Substrate secret URIs
//! with derivation paths (`//Alice`, `phrase//hot/1`, [`Sr25519Pair::from_uri`]).

mod derive;
pub mod encryption;
mod keyfile_json;
mod list;
mod mnemonic;
mod pair;
mod password;
mod ss58;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::CryptoError;
use crate::error::clip;
use crate::keyfile;

pub use derive::DEV_PHRASE;
pub use keyfile_json::{CRYPTO_TYPE_SR25519, MAX_PUBLIC_FILE_BYTES};
pub use list::{MAX_LISTED, WalletEntry, list_wallets};
pub use pair::{Protection, Sr25519Pair};
pub use password::{FixedPassword, NoPassword, PasswordPurpose, PasswordSource};
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
        self.verifying_key()?.verify(msg, sig)
    }

    /// The key decompressed and checked, ready to verify with: worth keeping for a caller that
    /// comes back, since decompressing costs a good part of one verification.
    pub fn verifying_key(&self) -> Result<VerifyingAccount, CryptoError> {
        let key = schnorrkel::PublicKey::from_bytes(&self.0).map_err(|e| CryptoError::Sr25519 {
            what: "public key",
            reason: format!("{}: {e}", self.to_ss58()),
        })?;
        Ok(VerifyingAccount { id: *self, key })
    }
}

/// An account whose sr25519 public key is decompressed ([`AccountId::verifying_key`]).
#[derive(Clone, Copy, Debug)]
pub struct VerifyingAccount {
    id: AccountId,
    key: schnorrkel::PublicKey,
}

impl VerifyingAccount {
    pub fn id(&self) -> AccountId {
        self.id
    }

    /// Verify an sr25519 signature (context `substrate`) by this account.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        let sig = parse_sr25519_signature(sig)?;
        self.key
            .verify_simple(SIGNING_CONTEXT, msg, &sig)
            .map_err(|e| CryptoError::BadSignature {
                key: self.id.to_ss58(),
                reason: e.to_string(),
            })
    }
}

fn parse_sr25519_signature(sig: &[u8]) -> Result<schnorrkel::Signature, CryptoError> {
    schnorrkel::Signature::from_bytes(sig).map_err(|e| CryptoError::Sr25519 {
        what: "signature",
        reason: e.to_string(),
    })
}

/// Checks many sr25519 signatures (context `substrate`) at once, each `(signer, message,
/// signature)`, and says which hold. One batch verification when all do (markedly less CPU per
/// signature than one by one); when it fails, each is checked alone to find the bad ones, so a
/// forged signature costs its sender nothing more than its own check and never fails another's.
pub fn verify_sr25519_batch(
    items: &[(&VerifyingAccount, &[u8], &[u8])],
) -> Vec<Result<(), CryptoError>> {
    let mut results: Vec<Result<(), CryptoError>> = Vec::with_capacity(items.len());
    let mut sigs = Vec::with_capacity(items.len());
    let mut keys = Vec::with_capacity(items.len());
    let mut msgs: Vec<&[u8]> = Vec::with_capacity(items.len());
    for (signer, msg, sig) in items {
        match parse_sr25519_signature(sig) {
            Ok(s) => {
                sigs.push(s);
                keys.push(signer.key);
                msgs.push(msg);
                results.push(Ok(()));
            }
            Err(e) => results.push(Err(e)),
        }
    }
    let batch_ok = match sigs.len() {
        0 => true,
        // A batch of one costs more than a single verification.
        1 => false,
        _ => {
            let ctx = schnorrkel::signing_context(SIGNING_CONTEXT);
            schnorrkel::verify_batch(msgs.iter().map(|m| ctx.bytes(m)), &sigs, &keys, false).is_ok()
        }
    };
    if !batch_ok {
        for (result, (signer, msg, sig)) in results.iter_mut().zip(items) {
            if result.is_ok() {
                *result = signer.verify(msg, sig);
            }
        }
    }
    results
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

    /// `hotkeys/<hotkey>pub.txt`, the hotkey's public file as bittensor-wallet writes it.
    pub fn hotkeypub_path(&self) -> PathBuf {
        self.dir()
            .join("hotkeys")
            .join(format!("{}pub.txt", self.hotkey))
    }

    pub fn coldkey(&self) -> Result<Sr25519Pair, CryptoError> {
        Sr25519Pair::load(self.coldkey_path())
    }

    pub fn hotkey(&self) -> Result<Sr25519Pair, CryptoError> {
        Sr25519Pair::load(self.hotkey_path())
    }

    /// The coldkey, asking `passwords` if it is encrypted.
    pub fn coldkey_with(
        &self,
        passwords: &dyn PasswordSource,
    ) -> Result<(Sr25519Pair, Protection), CryptoError> {
        Sr25519Pair::load_with(self.coldkey_path(), passwords)
    }

    /// The hotkey, asking `passwords` if it is encrypted.
    pub fn hotkey_with(
        &self,
        passwords: &dyn PasswordSource,
    ) -> Result<(Sr25519Pair, Protection), CryptoError> {
        Sr25519Pair::load_with(self.hotkey_path(), passwords)
    }

    /// The coldkey's account from `coldkeypub.txt`, without touching (or decrypting) the
    /// coldkey itself.
    pub fn coldkeypub(&self) -> Result<AccountId, CryptoError> {
        read_public_key_file(self.coldkeypub_path())
    }

    /// Load both keys, creating whichever is missing; also (re)writes `coldkeypub.txt` and
    /// `hotkeys/<hotkey>pub.txt` so tools (btcli too) can read the accounts without the secrets.
    pub fn create_if_missing(&self) -> Result<(Sr25519Pair, Sr25519Pair), CryptoError> {
        let (cold, _) = Sr25519Pair::load_or_generate(self.coldkey_path())?;
        let (hot, _) = Sr25519Pair::load_or_generate(self.hotkey_path())?;
        write_public_key_file(self.coldkeypub_path(), &cold.account())?;
        write_public_key_file(self.hotkeypub_path(), &hot.account())?;
        Ok((cold, hot))
    }
}

/// The account of a public key file (`coldkeypub.txt`, `hotkeys/<name>pub.txt`) in
/// bittensor-wallet's JSON form or as a bare SS58 address (this crate's old `coldkeypub.txt`).
/// Its fields must agree; it may be readable by others, but not larger than
/// [`MAX_PUBLIC_FILE_BYTES`].
pub fn read_public_key_file(path: impl AsRef<Path>) -> Result<AccountId, CryptoError> {
    keyfile_json::read_public(path.as_ref())
}

/// Write `account`'s public key file in bittensor-wallet's form (mode 0600 as it does, atomic).
pub fn write_public_key_file(
    path: impl AsRef<Path>,
    account: &AccountId,
) -> Result<(), CryptoError> {
    let path = path.as_ref();
    keyfile::write_secret(path, &keyfile_json::encode_public(path, account)?)
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
