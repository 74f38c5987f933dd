//! btauth/1, server side: collect the headers, then check them against the received request.

use super::btauth::{
    BTAUTH_VERSION, BtAuthPayload, BtAuthRequest, HEADER_CRYPTO, HEADER_HOTKEY, HEADER_NONCE,
    HEADER_RECEIVER, HEADER_SIGNATURE, HEADER_VERSION, Scheme,
};
use super::error::{AuthError, bad_header, clipped};
use super::fields::{parse_hotkey, parse_nonce, parse_signature};
use super::replay::ReplayStore;
use crate::PublicKey;
use crate::wallet::AccountId;

const NAMES: [&str; 6] = [
    HEADER_VERSION,
    HEADER_HOTKEY,
    HEADER_RECEIVER,
    HEADER_NONCE,
    HEADER_CRYPTO,
    HEADER_SIGNATURE,
];

/// The six `X-Bittensor-*` values of a request (names matched case-insensitively; other
/// headers ignored).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BtAuthHeaders {
    values: [Option<String>; 6],
}

impl BtAuthHeaders {
    /// Collect from `(name, value)` pairs as an HTTP library yields them. A btauth header sent
    /// twice is refused (the SDK keeps the last; a proxy may keep the first: ambiguous), and so
    /// is a value that is not UTF-8.
    pub fn from_pairs<I, N, V>(pairs: I) -> Result<Self, AuthError>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let mut out = Self::default();
        for (name, value) in pairs {
            let name = name.as_ref();
            let Some(i) = NAMES.iter().position(|n| n.eq_ignore_ascii_case(name)) else {
                continue;
            };
            if out.values[i].is_some() {
                return Err(AuthError::DuplicateHeader { header: NAMES[i] });
            }
            let value = std::str::from_utf8(value.as_ref())
                .map_err(|_| bad_header(NAMES[i], "value is not UTF-8"))?;
            out.values[i] = Some(value.to_owned());
        }
        Ok(out)
    }

    /// The value of one of the `HEADER_*` names.
    pub fn get(&self, header: &str) -> Option<&str> {
        let i = NAMES.iter().position(|n| n.eq_ignore_ascii_case(header))?;
        self.values[i].as_deref()
    }

    fn require(&self, header: &'static str) -> Result<&str, AuthError> {
        match self.get(header) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(AuthError::MissingHeader { header }),
        }
    }
}

/// The receiving side's expectations.
#[derive(Clone, Copy, Debug)]
pub struct BtAuthPolicy<'a> {
    /// Our hotkey: a request bound to another receiver is refused.
    pub self_hotkey: &'a AccountId,
    /// Refuse requests bound to no receiver (the SDK's default; such a request could be
    /// replayed to every other server that shares no replay store with us).
    pub require_receiver: bool,
}

/// The authenticated sender of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtAuthCaller {
    pub hotkey: AccountId,
    pub scheme: Scheme,
    pub nonce: i64,
}

/// Authenticate a received request. `req` is what arrived: the method, the request target as
/// on the request line, and the raw body bytes before any parsing. Checks in the SDK's order:
/// header shape, receiver, freshness, signature under the declared scheme only (never both),
/// then replay, which is recorded only once the signature verified.
pub fn verify_btauth(
    headers: &BtAuthHeaders,
    req: &BtAuthRequest<'_>,
    policy: &BtAuthPolicy<'_>,
    store: &mut ReplayStore<AccountId>,
    now_ns: i64,
) -> Result<BtAuthCaller, AuthError> {
    match headers.get(HEADER_VERSION) {
        Some(BTAUTH_VERSION) => {}
        Some(other) => {
            return Err(AuthError::UnsupportedVersion {
                header: HEADER_VERSION,
                value: clipped(other),
                expected: BTAUTH_VERSION,
            });
        }
        None => {
            return Err(AuthError::MissingHeader {
                header: HEADER_VERSION,
            });
        }
    }
    let sender = headers.require(HEADER_HOTKEY)?;
    let nonce = parse_nonce(HEADER_NONCE, headers.require(HEADER_NONCE)?)?;
    let scheme = match headers.get(HEADER_CRYPTO) {
        Some(v) => Scheme::parse(v)?,
        None => Scheme::Sr25519,
    };
    let signature = parse_signature(
        headers
            .get(HEADER_SIGNATURE)
            .ok_or(AuthError::MissingHeader {
                header: HEADER_SIGNATURE,
            })?,
        false,
    )?;
    let hotkey = parse_hotkey(HEADER_HOTKEY, sender)?;

    let receiver = headers.get(HEADER_RECEIVER);
    let expected = policy.self_hotkey.to_ss58();
    match receiver {
        None if policy.require_receiver => return Err(AuthError::MissingReceiver),
        None => {}
        Some(r) if r == expected => {}
        Some(r) => {
            return Err(AuthError::WrongReceiver {
                expected,
                got: clipped(r),
            });
        }
    }

    store.check_fresh(nonce, now_ns)?;

    let payload = BtAuthPayload {
        scheme,
        method: req.method,
        target: req.target,
        body: req.body,
        nonce,
        sender,
        receiver,
    }
    .to_bytes();
    let bad = || AuthError::BadSignature {
        hotkey: hotkey.to_ss58(),
    };
    match scheme {
        Scheme::Sr25519 => hotkey.verify(&payload, &signature).map_err(|_| bad())?,
        Scheme::Ed25519 => PublicKey::from_bytes(&hotkey.0)
            .and_then(|key| key.verify(&payload, &signature))
            .map_err(|_| bad())?,
    }

    store.check_and_record(&hotkey, nonce, now_ns)?;
    Ok(BtAuthCaller {
        hotkey,
        scheme,
        nonce,
    })
}
