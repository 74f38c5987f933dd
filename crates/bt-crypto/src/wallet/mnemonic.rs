//! BIP39 phrases to sr25519 mini secrets, the way Substrate (`substrate-bip39`) and therefore
//! bittensor-wallet do it. This is not the BIP39 seed of Bitcoin wallets: PBKDF2 runs over the
//! phrase's *entropy*, not over its words, so the same phrase gives different keys there.

use hmac::{Hmac, Mac};
use sha2::Sha512;
use zeroize::Zeroizing;

use crate::CryptoError;

const PBKDF2_ROUNDS: u32 = 2048;

/// A new random English BIP39 phrase of `words` words (12, 15, 18, 21 or 24, as btcli's
/// `--n_words` allows).
pub(super) fn generate_phrase(words: usize) -> Result<Zeroizing<String>, CryptoError> {
    if !matches!(words, 12 | 15 | 18 | 21 | 24) {
        return Err(CryptoError::Mnemonic {
            reason: format!("{words} words: a phrase has 12, 15, 18, 21 or 24 words"),
        });
    }
    let mut entropy = Zeroizing::new([0u8; 32]);
    let len = words / 3 * 4;
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut entropy[..len]);
    let mnemonic = bip39::Mnemonic::from_entropy_in(bip39::Language::English, &entropy[..len])
        .map_err(|e| CryptoError::Mnemonic {
            reason: e.to_string(),
        })?;
    Ok(Zeroizing::new(mnemonic.to_string()))
}

/// The 32-byte mini secret of an English BIP39 phrase with an optional BIP39 `password`
/// ("" for none, which is what bittensor-wallet uses).
pub(super) fn mini_secret_from_phrase(
    phrase: &str,
    password: &str,
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let mnemonic = bip39::Mnemonic::parse_in(bip39::Language::English, phrase).map_err(|e| {
        // bip39's messages name a word by position, never the word itself, so no secret leaks.
        CryptoError::Mnemonic {
            reason: e.to_string(),
        }
    })?;
    let entropy = Zeroizing::new(mnemonic.to_entropy());
    let salt = Zeroizing::new(format!("mnemonic{password}"));
    let block = pbkdf2_sha512_first_block(&entropy, salt.as_bytes())?;
    let mut seed = Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(&block[..32]);
    Ok(seed)
}

/// PBKDF2-HMAC-SHA512, first 64-byte output block only: substrate-bip39 keeps 32 bytes of it,
/// so the multi-block part of the algorithm is never needed.
fn pbkdf2_sha512_first_block(
    password: &[u8],
    salt: &[u8],
) -> Result<Zeroizing<[u8; 64]>, CryptoError> {
    // HMAC takes keys of any length, so this never fails; it is an error rather than a panic
    // (or a silently all-zero key) all the same.
    let prf = Hmac::<Sha512>::new_from_slice(password).map_err(|e| CryptoError::Mnemonic {
        reason: format!("HMAC key: {e}"),
    })?;
    let mut out = Zeroizing::new([0u8; 64]);
    let mut mac = prf.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut u = Zeroizing::new([0u8; 64]);
    u.copy_from_slice(&mac.finalize().into_bytes());
    out.copy_from_slice(u.as_ref());
    for _ in 1..PBKDF2_ROUNDS {
        let mut mac = prf.clone();
        mac.update(u.as_ref());
        u.copy_from_slice(&mac.finalize().into_bytes());
        for (o, x) in out.iter_mut().zip(u.iter()) {
            *o ^= x;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substrate_dev_phrase_gives_the_published_seed() {
        // sp-core's DEV_PHRASE and the mini secret Substrate documents for it.
        let seed = mini_secret_from_phrase(
            "bottom drive obey lake curtain smoke basket hold race lonely fit walk",
            "",
        )
        .unwrap();
        assert_eq!(
            hex::encode(seed.as_ref()),
            "fac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e"
        );
    }

    #[test]
    fn generated_phrases_have_the_asked_length_and_parse() {
        for n in [12, 24] {
            let phrase = generate_phrase(n).unwrap();
            assert_eq!(phrase.split(' ').count(), n);
            mini_secret_from_phrase(&phrase, "").unwrap();
        }
        assert!(generate_phrase(13).is_err());
    }

    #[test]
    fn pbkdf2_matches_python_hashlib() {
        // hashlib.pbkdf2_hmac("sha512", b"password", b"salt", 2048, 64).hex()
        let block = pbkdf2_sha512_first_block(b"password", b"salt").unwrap();
        assert_eq!(
            hex::encode(block.as_ref()),
            "91be23564f09fc855c82ce84a223ebe7d63d8b49d69372593a0d9ed39e143c83\
             e1ab2f722a5ddb969feefc88403f7e2afe1afb8b2f0e6b20add0fb7b28368807"
        );
    }

    #[test]
    fn bad_phrases_are_typed_errors_without_the_words() {
        for phrase in [
            "",
            "bottom drive obey",
            "bottom drive obey lake curtain smoke basket hold race lonely fit fit",
            "bottom drive obey lake curtain smoke basket hold race lonely fit zzzzsecret",
        ] {
            let err = mini_secret_from_phrase(phrase, "").unwrap_err();
            assert!(matches!(err, CryptoError::Mnemonic { .. }), "{err}");
            assert!(!err.to_string().contains("zzzzsecret"), "{err}");
        }
    }
}
