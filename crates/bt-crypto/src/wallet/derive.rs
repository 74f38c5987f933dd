//! Substrate secret URIs: `[phrase | 0xseed][//hard | /soft]*[///password]`, as sp-core's
//! `Pair::from_string` reads them (and so bittensor-wallet's `Keypair.create_from_uri`).
//!
//! A junction's chain code is its SCALE encoding (a number that parses as `u64`: 8 bytes little
//! endian; anything else: the string with its compact length prefix), zero-padded to 32 bytes,
//! or the BLAKE2b-256 of the encoding when that is longer. A hard junction replaces the key with
//! schnorrkel's `hard_derive_mini_secret_key` of it (then expanded as `from_seed` does); a soft
//! one with `derived_key_simple`, which keeps the public key derivable from the parent's.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use schnorrkel::derive::{ChainCode, Derivation};
use schnorrkel::{ExpansionMode, SecretKey};
use zeroize::Zeroizing;

use crate::CryptoError;

/// sp-core's `DEV_PHRASE`: what a URI with no phrase (`//Alice`) starts from.
pub const DEV_PHRASE: &str =
    "bottom drive obey lake curtain smoke basket hold race lonely fit walk";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Junction {
    Hard([u8; 32]),
    Soft([u8; 32]),
}

/// A URI taken apart; the phrase and password borrow from it.
pub(super) struct SecretUri<'a> {
    pub phrase: &'a str,
    pub password: Option<&'a str>,
    pub junctions: Vec<Junction>,
}

fn bad(reason: &str) -> CryptoError {
    // Never the URI itself: it holds the phrase.
    CryptoError::Mnemonic {
        reason: format!("secret URI: {reason}"),
    }
}

pub(super) fn parse(uri: &str) -> Result<SecretUri<'_>, CryptoError> {
    let (rest, password) = match uri.find("///") {
        Some(at) => (&uri[..at], Some(&uri[at + 3..])),
        None => (uri, None),
    };
    let (phrase, mut path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let phrase = if phrase.is_empty() {
        DEV_PHRASE
    } else {
        phrase
    };
    let mut junctions = Vec::new();
    while let Some(after) = path.strip_prefix('/') {
        let (hard, after) = match after.strip_prefix('/') {
            Some(a) => (true, a),
            None => (false, after),
        };
        let end = after.find('/').unwrap_or(after.len());
        let code = &after[..end];
        if code.is_empty() {
            return Err(bad("empty derivation junction"));
        }
        let cc = chain_code(code);
        junctions.push(if hard {
            Junction::Hard(cc)
        } else {
            Junction::Soft(cc)
        });
        path = &after[end..];
    }
    Ok(SecretUri {
        phrase,
        password,
        junctions,
    })
}

/// sp-core's `DeriveJunction::soft(code)` chain code.
fn chain_code(code: &str) -> [u8; 32] {
    let encoded = match code.parse::<u64>() {
        Ok(n) => n.to_le_bytes().to_vec(),
        Err(_) => {
            let mut v = compact_len(code.len());
            v.extend_from_slice(code.as_bytes());
            v
        }
    };
    let mut cc = [0u8; 32];
    if encoded.len() > 32 {
        cc.copy_from_slice(&Blake2b::<U32>::digest(&encoded));
    } else {
        cc[..encoded.len()].copy_from_slice(&encoded);
    }
    cc
}

/// SCALE's compact encoding of a length.
fn compact_len(n: usize) -> Vec<u8> {
    let n = n as u64;
    match n {
        0..=0x3f => vec![(n as u8) << 2],
        0x40..=0x3fff => (((n as u16) << 2) | 1).to_le_bytes().to_vec(),
        0x4000..=0x3fff_ffff => (((n as u32) << 2) | 2).to_le_bytes().to_vec(),
        _ => {
            let bytes = n.to_le_bytes();
            let len = 8 - (n.leading_zeros() / 8) as usize;
            let mut v = vec![(((len - 4) as u8) << 2) | 3];
            v.extend_from_slice(&bytes[..len]);
            v
        }
    }
}

/// Apply `junctions` to `secret` as sp-core's `Pair::derive` does.
pub(super) fn derive(secret: &SecretKey, junctions: &[Junction]) -> SecretKey {
    let mut acc = secret.clone();
    for j in junctions {
        acc = match j {
            Junction::Soft(cc) => acc.derived_key_simple(ChainCode(*cc), b"").0,
            Junction::Hard(cc) => {
                let mini = acc.hard_derive_mini_secret_key(Some(ChainCode(*cc)), b"").0;
                let expanded = mini.expand(ExpansionMode::Ed25519);
                // The mini secret is dropped here; schnorrkel zeroizes it on drop.
                drop(mini);
                expanded
            }
        };
    }
    acc
}

/// A hex seed (`0x…`, 32 bytes) in place of a phrase.
pub(super) fn hex_seed(phrase: &str) -> Option<Result<Zeroizing<[u8; 32]>, CryptoError>> {
    let digits = phrase.strip_prefix("0x")?;
    let mut seed = Zeroizing::new([0u8; 32]);
    Some(
        hex::decode_to_slice(digits, seed.as_mut())
            .map(|()| seed)
            .map_err(|_| bad("a 0x seed must be 64 hex digits")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junctions_encode_as_sp_core_does() {
        let mut alice = [0u8; 32];
        alice[0] = 5 << 2;
        alice[1..6].copy_from_slice(b"Alice");
        assert_eq!(chain_code("Alice"), alice);
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(chain_code("1"), one);
        let long = "x".repeat(40);
        let mut enc = compact_len(40);
        enc.extend_from_slice(long.as_bytes());
        assert_eq!(
            chain_code(&long).to_vec(),
            Blake2b::<U32>::digest(&enc).to_vec()
        );
        assert_eq!(compact_len(64), vec![0x01, 0x01]);
        assert_eq!(compact_len(1 << 14), vec![0x02, 0x00, 0x01, 0x00]);
    }

    #[test]
    fn uris_split_into_phrase_path_and_password() {
        let u = parse("//Alice").unwrap();
        assert_eq!(u.phrase, DEV_PHRASE);
        assert_eq!(u.junctions, vec![Junction::Hard(chain_code("Alice"))]);
        assert_eq!(u.password, None);
        let u = parse("a b c//hot/1///pw/x").unwrap();
        assert_eq!(u.phrase, "a b c");
        assert_eq!(
            u.junctions,
            vec![
                Junction::Hard(chain_code("hot")),
                Junction::Soft(chain_code("1"))
            ]
        );
        assert_eq!(u.password, Some("pw/x"));
        assert!(parse("a//").is_err());
    }
}
