//! Reading an SS58 address (prefix 42, a 32-byte key) back into an [`AccountId`].
//!
//! Apart from `keys` because a malformed address is a [`ChainError`], and `ChainError`'s
//! variants name accounts: `error` depends on `keys`, this module on both.

use std::str::FromStr;

use serde::Deserialize;

use crate::error::ChainError;
use crate::keys::{AccountId, SS58_PREFIX, ss58_checksum};

impl AccountId {
    /// Parses an SS58 address; only prefix 42 and 32-byte keys are accepted.
    pub fn from_ss58(s: &str) -> Result<Self, ChainError> {
        let bad = |reason: &str| ChainError::BadAddress {
            address: truncate(s),
            reason: reason.to_string(),
        };
        if s.len() > 64 {
            return Err(bad("too long"));
        }
        let raw = bs58::decode(s)
            .into_vec()
            .map_err(|e| bad(&e.to_string()))?;
        if raw.len() != 35 {
            return Err(bad("not a 32-byte key with a one-byte prefix"));
        }
        if raw[0] != SS58_PREFIX {
            return Err(bad("network prefix is not 42"));
        }
        let sum = ss58_checksum(&raw[..33]);
        if sum[..2] != raw[33..35] {
            return Err(bad("checksum mismatch"));
        }
        let mut k = [0u8; 32];
        k.copy_from_slice(&raw[1..33]);
        Ok(Self(k))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

impl FromStr for AccountId {
    type Err = ChainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_ss58(s)
    }
}

impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_ss58(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use crate::keys::{AccountId, Keypair};

    #[test]
    fn ss58_round_trip_and_checksum() {
        let k = Keypair::dev("alice").account();
        let s = k.to_ss58();
        assert!(s.starts_with('5'));
        assert_eq!(AccountId::from_ss58(&s).unwrap(), k);
        let mut broken = s.clone().into_bytes();
        let last = broken.len() - 1;
        broken[last] = if broken[last] == b'a' { b'b' } else { b'a' };
        assert!(AccountId::from_ss58(std::str::from_utf8(&broken).unwrap()).is_err());
    }

    #[test]
    fn known_substrate_address_parses() {
        // Alice's well-known dev address on the generic prefix.
        let a = AccountId::from_ss58("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY").unwrap();
        assert_eq!(
            hex::encode(a.0),
            "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
        );
    }
}
