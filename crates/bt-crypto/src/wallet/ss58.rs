//! SS58 addresses (Substrate's account encoding): base58 of
//! `prefix (1 or 2 bytes) || account (32 bytes) || checksum (2 bytes)`, where the checksum is the
//! first two bytes of BLAKE2b-512(`"SS58PRE" || prefix || account`).

use blake2::{Blake2b512, Digest};

use crate::CryptoError;
use crate::error::clip;

/// The generic Substrate prefix, which Bittensor uses ("5…" addresses).
pub const SS58_PREFIX: u16 = 42;

fn checksum(body: &[u8]) -> [u8; 2] {
    let mut h = Blake2b512::new();
    h.update(b"SS58PRE");
    h.update(body);
    let out = h.finalize();
    [out[0], out[1]]
}

fn prefix_bytes(prefix: u16) -> Vec<u8> {
    // Prefixes 0..=63 take one byte; 64..=16383 take two, in Substrate's bit-shuffled layout.
    if prefix < 64 {
        vec![prefix as u8]
    } else {
        let p = prefix & 0x3fff;
        let first = (((p & 0b0000_0000_1111_1100) >> 2) as u8) | 0b0100_0000;
        let second = ((p >> 8) as u8) | (((p & 0b11) as u8) << 6);
        vec![first, second]
    }
}

/// Encode a 32-byte account id with `prefix` (values above 16383 are masked to 14 bits).
pub fn ss58_encode(account: &[u8; 32], prefix: u16) -> String {
    let mut body = prefix_bytes(prefix);
    body.extend_from_slice(account);
    let sum = checksum(&body);
    body.extend_from_slice(&sum);
    bs58::encode(body).into_string()
}

/// Decode any SS58 address of a 32-byte account, returning `(prefix, account)`.
pub fn ss58_decode(address: &str) -> Result<(u16, [u8; 32]), CryptoError> {
    let bad = |reason: String| CryptoError::Ss58 {
        address: clip(address),
        reason,
    };
    // 2 prefix + 32 + 2 checksum bytes is at most 49 base58 characters.
    if address.len() > 64 {
        return Err(bad(format!("{} characters is too long", address.len())));
    }
    let raw = bs58::decode(address)
        .into_vec()
        .map_err(|e| bad(format!("not base58: {e}")))?;
    let (prefix, prefix_len) = match raw.first() {
        Some(&b) if b < 64 => (u16::from(b), 1),
        Some(&b) if b < 128 => {
            let second = *raw
                .get(1)
                .ok_or_else(|| bad("truncated two-byte prefix".into()))?;
            let lower = (u16::from(b) << 2) | (u16::from(second) >> 6);
            let upper = u16::from(second & 0b0011_1111);
            ((lower & 0xff) | (upper << 8), 2)
        }
        Some(&b) => return Err(bad(format!("reserved prefix byte {b}"))),
        None => return Err(bad("empty".into())),
    };
    if raw.len() != prefix_len + 32 + 2 {
        return Err(bad(format!(
            "decodes to {} bytes, expected {} for a 32-byte account",
            raw.len(),
            prefix_len + 34
        )));
    }
    let (body, sum) = raw.split_at(prefix_len + 32);
    if checksum(body) != sum {
        return Err(bad("checksum mismatch".into()));
    }
    let mut account = [0u8; 32];
    account.copy_from_slice(&body[prefix_len..]);
    Ok((prefix, account))
}

/// Decode an address and insist on `expected` as its prefix.
pub fn ss58_decode_with_prefix(address: &str, expected: u16) -> Result<[u8; 32], CryptoError> {
    let (prefix, account) = ss58_decode(address)?;
    if prefix != expected {
        return Err(CryptoError::Ss58 {
            address: clip(address),
            reason: format!("prefix {prefix}, expected {expected}"),
        });
    }
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE_HEX: &str = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
    const ALICE_SS58: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

    fn alice() -> [u8; 32] {
        let mut a = [0u8; 32];
        hex::decode_to_slice(ALICE_HEX, &mut a).unwrap();
        a
    }

    #[test]
    fn alice_dev_account_matches_substrate() {
        assert_eq!(ss58_encode(&alice(), SS58_PREFIX), ALICE_SS58);
        assert_eq!(ss58_decode(ALICE_SS58).unwrap(), (42, alice()));
    }

    #[test]
    fn two_byte_prefixes_round_trip_and_errors_are_reported() {
        for prefix in [0u16, 2, 63, 64, 255, 1284, 16383] {
            let addr = ss58_encode(&alice(), prefix);
            assert_eq!(ss58_decode(&addr).unwrap(), (prefix, alice()), "{prefix}");
        }
        let mut corrupted = ALICE_SS58.to_string();
        corrupted.replace_range(10..11, "x");
        assert!(ss58_decode(&corrupted).is_err());
        assert!(ss58_decode("").is_err());
        assert!(ss58_decode("0OIl").is_err());
        assert!(ss58_decode_with_prefix(&ss58_encode(&alice(), 0), 42).is_err());
    }
}
