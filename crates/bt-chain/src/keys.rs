//! sr25519 accounts as Substrate has them: schnorrkel signatures under the `substrate` signing
//! context, 32-byte public keys shown as SS58 addresses with network prefix 42.
//!
//! Reading an address back from text is in `ss58` (it needs the error type, which needs this).
//!
//! The chain only needs "who signed this"; wallets on disk (coldkey/hotkey files) belong to
//! `bt-crypto`, and so does the key pair itself: [`Keypair`] shares bt-crypto's `Sr25519Pair`
//! (Substrate's mini-secret expansion), so a seed gives the same address here and in the Python
//! SDK.

use blake2::{Blake2b512, Digest};
use schnorrkel::{PublicKey, Signature, signing_context};
use serde::Serialize;
use std::fmt;

/// The signing context Substrate uses for sr25519.
const SIGNING_CTX: &[u8] = b"substrate";
/// The generic Substrate SS58 network prefix (what Bittensor uses).
pub const SS58_PREFIX: u8 = 42;

/// A 32-byte sr25519 public key: a coldkey or hotkey address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub [u8; 32]);

impl AccountId {
    /// The SS58 text form (prefix 42), e.g. `5F...`.
    pub fn to_ss58(&self) -> String {
        let mut data = Vec::with_capacity(35);
        data.push(SS58_PREFIX);
        data.extend_from_slice(&self.0);
        let sum = ss58_checksum(&data);
        data.extend_from_slice(&sum[..2]);
        bs58::encode(data).into_string()
    }

    /// Checks an sr25519 signature by this account over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        let Ok(pk) = PublicKey::from_bytes(&self.0) else {
            return false;
        };
        let Ok(sig) = Signature::from_bytes(sig) else {
            return false;
        };
        pk.verify(signing_context(SIGNING_CTX).bytes(msg), &sig)
            .is_ok()
    }
}

pub(crate) fn ss58_checksum(data: &[u8]) -> [u8; 64] {
    let mut h = Blake2b512::new();
    h.update(b"SS58PRE");
    h.update(data);
    h.finalize().into()
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

impl Serialize for AccountId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_ss58())
    }
}

/// An sr25519 key pair that signs transactions: bt-crypto's wallet key pair (one derivation and
/// signing context, whether it was loaded from a wallet or made in memory), shared so that the
/// chain client and an HTTP axon can sign with the same hotkey.
#[derive(Clone)]
pub struct Keypair {
    pair: std::sync::Arc<bt_crypto::wallet::Sr25519Pair>,
}

impl From<bt_crypto::wallet::Sr25519Pair> for Keypair {
    fn from(pair: bt_crypto::wallet::Sr25519Pair) -> Self {
        Self {
            pair: std::sync::Arc::new(pair),
        }
    }
}

impl Keypair {
    /// A fresh random key pair (OS randomness).
    pub fn generate() -> Self {
        bt_crypto::wallet::Sr25519Pair::generate().into()
    }

    /// The key pair of a 32-byte mini secret, expanded as Substrate does.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        bt_crypto::wallet::Sr25519Pair::from_seed(seed).into()
    }

    /// A deterministic development key named like Substrate's `//Alice`: the seed is
    /// blake2b-256 of the name, so tests and local demos get stable addresses.
    pub fn dev(name: &str) -> Self {
        Self::from_seed(crate::hash::blake2_256(name.as_bytes()))
    }

    pub fn account(&self) -> AccountId {
        AccountId(self.pair.account().0)
    }

    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.pair.sign(msg)
    }

    /// The key pair itself, for signing outside the chain (the HTTP synapse protocol).
    pub fn sr25519(&self) -> std::sync::Arc<bt_crypto::wallet::Sr25519Pair> {
        self.pair.clone()
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.account())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wallet_keys_sign_like_raw_keys() {
        let seed = [7u8; 32];
        let raw = Keypair::from_seed(seed);
        let wallet = Keypair::from(bt_crypto::wallet::Sr25519Pair::from_seed(seed));
        assert_eq!(raw.account(), wallet.account());
        assert!(raw.account().verify(b"m", &wallet.sign(b"m")));
        assert_eq!(
            raw.account().to_ss58(),
            bt_crypto::wallet::Sr25519Pair::from_seed(seed).ss58()
        );
    }

    #[test]
    fn sign_verify() {
        let k = Keypair::dev("bob");
        let sig = k.sign(b"hello");
        assert!(k.account().verify(b"hello", &sig));
        assert!(!k.account().verify(b"hellp", &sig));
        assert!(!Keypair::dev("carol").account().verify(b"hello", &sig));
    }
}
