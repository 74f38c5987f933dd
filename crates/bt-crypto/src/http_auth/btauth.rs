//! btauth/1: the signed payload, the signature schemes, and the client side (signing).

use sha2::{Digest, Sha256};

use super::error::{AuthError, clipped};
use crate::NeuronKey;
use crate::wallet::{AccountId, SS58_PREFIX, Sr25519Pair, ss58_encode};

pub const BTAUTH_PROTOCOL: &str = "btauth/1";
pub const BTAUTH_VERSION: &str = "1";

pub const HEADER_VERSION: &str = "X-Bittensor-Version";
pub const HEADER_HOTKEY: &str = "X-Bittensor-Hotkey";
pub const HEADER_RECEIVER: &str = "X-Bittensor-Receiver";
pub const HEADER_NONCE: &str = "X-Bittensor-Nonce";
pub const HEADER_CRYPTO: &str = "X-Bittensor-Crypto";
pub const HEADER_SIGNATURE: &str = "X-Bittensor-Signature";

/// Payload line of a request bound to no receiver.
const NO_RECEIVER: &str = "-";

/// Signature scheme of the sender's hotkey (`X-Bittensor-Crypto`; absent means sr25519).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Substrate sr25519, signing context `substrate`. Wallet crypto type 1.
    Sr25519,
    /// Plain Ed25519 (RFC 8032) over the payload. Wallet crypto type 0.
    Ed25519,
}

impl Scheme {
    /// The canonical name, which is what the payload's second line carries (never the header's
    /// spelling, so a client cannot make two spellings of one request sign differently).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sr25519 => "sr25519",
            Self::Ed25519 => "ed25519",
        }
    }

    /// The SDK's spellings: the name in any case or the wallet crypto type number (`0` ed25519,
    /// `1` sr25519), surrounding whitespace ignored.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        let v = value.trim();
        if v.eq_ignore_ascii_case("sr25519") {
            return Ok(Self::Sr25519);
        }
        if v.eq_ignore_ascii_case("ed25519") {
            return Ok(Self::Ed25519);
        }
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            match v.trim_start_matches('0') {
                "" => return Ok(Self::Ed25519),
                "1" => return Ok(Self::Sr25519),
                _ => {}
            }
        }
        Err(AuthError::UnsupportedScheme {
            value: clipped(value),
        })
    }
}

/// The fields of a signed payload.
#[derive(Clone, Copy, Debug)]
pub struct BtAuthPayload<'a> {
    pub scheme: Scheme,
    /// Upper-cased (ASCII) when signed.
    pub method: &'a str,
    /// Path plus `?query` exactly as sent on the request line (no normalisation).
    pub target: &'a str,
    pub body: &'a [u8],
    pub nonce: i64,
    /// Sender SS58 as it appears in `X-Bittensor-Hotkey`.
    pub sender: &'a str,
    /// Receiver SS58; `None` or empty is written as `-`.
    pub receiver: Option<&'a str>,
}

impl BtAuthPayload<'_> {
    /// The 8 lines joined by `\n`, no trailing newline: protocol, scheme, METHOD, target,
    /// lower-case hex SHA-256 of the raw body, decimal nonce, sender, receiver or `-`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let body_hash = hex::encode(Sha256::digest(self.body));
        let receiver = match self.receiver {
            Some(r) if !r.is_empty() => r,
            _ => NO_RECEIVER,
        };
        let lines = [
            BTAUTH_PROTOCOL,
            self.scheme.as_str(),
            &self.method.to_ascii_uppercase(),
            self.target,
            &body_hash,
            &self.nonce.to_string(),
            self.sender,
            receiver,
        ];
        lines.join("\n").into_bytes()
    }
}

/// A hotkey that can sign btauth/1 requests.
#[derive(Clone, Copy, Debug)]
pub enum BtAuthSigner<'a> {
    Sr25519(&'a Sr25519Pair),
    Ed25519(&'a NeuronKey),
}

impl BtAuthSigner<'_> {
    pub fn scheme(&self) -> Scheme {
        match self {
            Self::Sr25519(_) => Scheme::Sr25519,
            Self::Ed25519(_) => Scheme::Ed25519,
        }
    }

    /// The hotkey's account: the 32 public key bytes, whichever the scheme.
    pub fn account(&self) -> AccountId {
        match self {
            Self::Sr25519(pair) => pair.account(),
            Self::Ed25519(key) => AccountId(*key.public().as_bytes()),
        }
    }

    pub fn ss58(&self) -> String {
        ss58_encode(&self.account().0, SS58_PREFIX)
    }

    pub fn sign(&self, payload: &[u8]) -> [u8; 64] {
        match self {
            Self::Sr25519(pair) => pair.sign(payload),
            Self::Ed25519(key) => key.sign(payload),
        }
    }
}

/// What to sign: the request exactly as it will be sent.
#[derive(Clone, Copy, Debug)]
pub struct BtAuthRequest<'a> {
    pub method: &'a str,
    /// Path plus `?query`, byte for byte as on the request line.
    pub target: &'a str,
    pub body: &'a [u8],
}

/// The authentication headers for `req`, in the SDK's order; `X-Bittensor-Crypto` only for
/// non-sr25519 keys and `X-Bittensor-Receiver` only when bound. Each retry needs a fresh nonce
/// (a [`NonceClock`](crate::NonceClock) gives one).
pub fn sign_btauth(
    signer: BtAuthSigner<'_>,
    req: &BtAuthRequest<'_>,
    receiver: Option<&AccountId>,
    nonce: i64,
) -> Vec<(&'static str, String)> {
    let sender = signer.ss58();
    let receiver = receiver.map(AccountId::to_ss58);
    let payload = BtAuthPayload {
        scheme: signer.scheme(),
        method: req.method,
        target: req.target,
        body: req.body,
        nonce,
        sender: &sender,
        receiver: receiver.as_deref(),
    };
    let signature = signer.sign(&payload.to_bytes());
    let mut headers = vec![
        (HEADER_VERSION, BTAUTH_VERSION.to_owned()),
        (HEADER_HOTKEY, sender),
        (HEADER_NONCE, nonce.to_string()),
        (HEADER_SIGNATURE, format!("0x{}", hex::encode(signature))),
    ];
    if signer.scheme() != Scheme::Sr25519 {
        headers.push((HEADER_CRYPTO, signer.scheme().as_str().to_owned()));
    }
    if let Some(r) = receiver {
        headers.push((HEADER_RECEIVER, r));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_spellings() {
        for s in ["sr25519", "SR25519", " Sr25519 ", "1", "01"] {
            assert_eq!(Scheme::parse(s), Ok(Scheme::Sr25519), "{s:?}");
        }
        for s in ["ed25519", "ED25519", "0", "00"] {
            assert_eq!(Scheme::parse(s), Ok(Scheme::Ed25519), "{s:?}");
        }
        for s in ["", "ecdsa", "2", "sr 25519", "99999999999999999999999"] {
            assert!(
                matches!(Scheme::parse(s), Err(AuthError::UnsupportedScheme { .. })),
                "{s:?}"
            );
        }
    }

    #[test]
    fn payload_uppercases_method_and_dashes_missing_receiver() {
        let p = BtAuthPayload {
            scheme: Scheme::Ed25519,
            method: "get",
            target: "/a?b=1&c",
            body: b"",
            nonce: 7,
            sender: "S",
            receiver: None,
        };
        let expected = "btauth/1\ned25519\nGET\n/a?b=1&c\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n7\nS\n-";
        assert_eq!(String::from_utf8(p.to_bytes()).unwrap(), expected);
        let empty = BtAuthPayload {
            receiver: Some(""),
            ..p
        };
        assert_eq!(empty.to_bytes(), p.to_bytes());
    }

    #[test]
    fn headers_shape() {
        let sr = Sr25519Pair::from_seed([1; 32]);
        let ed = NeuronKey::from_seed([2; 32]);
        let req = BtAuthRequest {
            method: "POST",
            target: "/x",
            body: b"{}",
        };
        let h = sign_btauth(BtAuthSigner::Sr25519(&sr), &req, None, 5);
        let names: Vec<_> = h.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                HEADER_VERSION,
                HEADER_HOTKEY,
                HEADER_NONCE,
                HEADER_SIGNATURE
            ]
        );
        let h = sign_btauth(BtAuthSigner::Ed25519(&ed), &req, Some(&sr.account()), 5);
        assert!(h.contains(&(HEADER_CRYPTO, "ed25519".into())));
        assert!(h.contains(&(HEADER_RECEIVER, sr.ss58())));
        // Same key as the SDK 11's Keypair.create_from_seed(bytes([2]*32), crypto_type=0).
        assert!(h.contains(&(
            HEADER_HOTKEY,
            "5Ez973Q82FyaLNPfjnKEDnHF3jvshyx7qeJsvCmUCmjeR3GF".into()
        )));
    }
}
