//! Parsers of the header fields both schemes share. All of them see untrusted input.

use super::error::{AuthError, bad_header, clipped};
use crate::wallet::{AccountId, SS58_PREFIX, ss58_decode};

/// A nonce header: 1 to 19 ASCII digits that fit an `i64` (nanoseconds since the epoch).
/// Stricter than Python's `int()`, which also takes signs, spaces and `_`; our own and the SDK's
/// signers only ever send plain digits.
pub fn parse_nonce(header: &'static str, value: &str) -> Result<i64, AuthError> {
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_header(
            header,
            format!("{:?} is not a decimal nanosecond timestamp", clipped(value)),
        ));
    }
    value
        .parse::<i64>()
        .map_err(|_| bad_header(header, format!("{value} does not fit in 64 bits")))
}

/// An SS58 address with Bittensor's prefix 42 (others are refused even if the SDK 11 accepts
/// them: one account, one spelling, so the replay key and the signed string agree).
pub fn parse_hotkey(what: &'static str, value: &str) -> Result<AccountId, AuthError> {
    match ss58_decode(value) {
        Ok((SS58_PREFIX, account)) => Ok(AccountId(account)),
        Ok((prefix, _)) => Err(AuthError::BadSs58 {
            what,
            reason: format!("{:?} has prefix {prefix}", clipped(value)),
        }),
        Err(e) => Err(AuthError::BadSs58 {
            what,
            reason: e.to_string(),
        }),
    }
}

/// `0x` + 128 hex digits of either case (the `0x` optional unless `require_prefix`; SDK v10
/// requires it, btauth/1 strips it when present).
pub fn parse_signature(value: &str, require_prefix: bool) -> Result<[u8; 64], AuthError> {
    let digits = match value.strip_prefix("0x") {
        Some(rest) => rest,
        None if require_prefix => {
            return Err(AuthError::SignatureNotHex {
                reason: "missing the 0x prefix".into(),
            });
        }
        None => value,
    };
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::SignatureNotHex {
            reason: "non-hex character".into(),
        });
    }
    if digits.len() % 2 != 0 {
        return Err(AuthError::SignatureNotHex {
            reason: format!("odd number of digits ({})", digits.len()),
        });
    }
    let mut out = [0u8; 64];
    if digits.len() != 128 {
        return Err(AuthError::SignatureLength {
            len: digits.len() / 2,
        });
    }
    hex::decode_to_slice(digits, &mut out).map_err(|e| AuthError::SignatureNotHex {
        reason: e.to_string(),
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nonce_accepts_plain_digits_only() {
        assert_eq!(parse_nonce("n", "0"), Ok(0));
        assert_eq!(parse_nonce("n", "9223372036854775807"), Ok(i64::MAX));
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1_0",
            "9223372036854775808",
            "0x10",
            "１",
        ] {
            assert!(
                matches!(parse_nonce("n", bad), Err(AuthError::BadHeader { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn signature_forms() {
        let hex = "ab".repeat(64);
        assert_eq!(parse_signature(&format!("0x{hex}"), true), Ok([0xab; 64]));
        assert_eq!(
            parse_signature(&format!("0x{}", hex.to_uppercase()), true),
            Ok([0xab; 64])
        );
        assert_eq!(parse_signature(&hex, false), Ok([0xab; 64]));
        assert!(matches!(
            parse_signature(&hex, true),
            Err(AuthError::SignatureNotHex { .. })
        ));
        assert!(matches!(
            parse_signature(&format!("0X{hex}"), false),
            Err(AuthError::SignatureNotHex { .. })
        ));
        assert_eq!(
            parse_signature(&format!("0x{}", &hex[2..]), true),
            Err(AuthError::SignatureLength { len: 63 })
        );
        assert!(matches!(
            parse_signature("0xabc", true),
            Err(AuthError::SignatureNotHex { .. })
        ));
        assert!(matches!(
            parse_signature(&format!("0x{}zz", &hex[2..]), true),
            Err(AuthError::SignatureNotHex { .. })
        ));
    }

    #[test]
    fn hotkey_needs_prefix_42() {
        let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
        assert_eq!(parse_hotkey("h", alice).unwrap().to_ss58(), alice);
        let account = parse_hotkey("h", alice).unwrap();
        let polkadot = crate::wallet::ss58_encode(&account.0, 0);
        assert!(matches!(
            parse_hotkey("h", &polkadot),
            Err(AuthError::BadSs58 { .. })
        ));
        assert!(matches!(
            parse_hotkey("h", "5abc"),
            Err(AuthError::BadSs58 { .. })
        ));
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,200}", raw in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_nonce("n", &s);
            let _ = parse_hotkey("h", &s);
            let _ = parse_signature(&s, true);
            let _ = parse_signature(&s, false);
            let lossy = String::from_utf8_lossy(&raw);
            let _ = parse_signature(&lossy, false);
            let _ = parse_hotkey("h", &lossy);
        }

        #[test]
        fn any_64_bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 64)) {
            let s = format!("0x{}", hex::encode(&bytes));
            prop_assert_eq!(parse_signature(&s, true).unwrap().to_vec(), bytes);
        }
    }
}
