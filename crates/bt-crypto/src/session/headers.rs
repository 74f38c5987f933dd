//! The session headers: their names, and their values' codec (including the version's
//! digit and the `bt-session-version` negotiation).
//!
//! Values are ASCII (gRPC metadata), fixed length, lower-case hex, so parsing is a length check
//! and slicing: nothing a peer sends can make it allocate more than the value.

use crate::CryptoError;

use super::key::SessionId;
use super::version::SessionVersion;

/// Request metadata of a handshake: `1.<share: 64 hex>.<signature: 128 hex>`.
pub const OFFER_HEADER: &str = "bt-session-offer";
/// Response metadata of an accepted handshake: `1.<session id: 32 hex>.<share: 64 hex>`.
pub const ACCEPT_HEADER: &str = "bt-session-accept";
/// Request metadata of a request authenticated by a session:
/// `1.<session id: 32 hex>.<counter: 16 hex>.<mac: 64 hex>`.
pub const SESSION_HEADER: &str = "bt-session";
/// Request metadata next to `bt-session-offer`: the highest session version the caller speaks,
/// in decimal (absent: 1). Axons that predate version 2 ignore it.
pub const VERSION_HEADER: &str = "bt-session-version";
/// Request metadata of a session request whose `bt-session` proof follows the body as a
/// trailer: `<version>.<session id: 32 hex>`. It lets the axon hash the payload while the
/// proof is still on its way; it authenticates nothing.
pub const LATE_HEADER: &str = "bt-session-late";

/// Version prefix of the offer header value (offers have only ever had version 1).
const V1: &str = "1.";

// How a version is written in headers; what it means is in `version`.
impl SessionVersion {
    fn prefix_digit(self) -> u8 {
        b'0' + self.number()
    }

    fn from_prefix_digit(digit: u8) -> Option<Self> {
        match digit {
            b'1' => Some(SessionVersion::V1),
            b'2' => Some(SessionVersion::V2),
            _ => None,
        }
    }

    /// The `bt-session-version` value a caller speaking up to `self` sends.
    pub fn header_value(self) -> &'static str {
        match self {
            SessionVersion::V1 => "1",
            SessionVersion::V2 => "2",
        }
    }

    /// The version an axon speaking up to `own` picks for a caller that sent `value` in
    /// `bt-session-version`: the highest both speak. The value is 1 to 3 decimal digits, at
    /// least 1 (a caller from the future may name a version we do not know yet).
    pub fn negotiate(value: &[u8], own: SessionVersion) -> Result<SessionVersion, CryptoError> {
        let n: Option<u16> = (!value.is_empty() && value.len() <= 3)
            .then(|| std::str::from_utf8(value).ok())
            .flatten()
            .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse().ok());
        match n {
            Some(0) | None => Err(bad_header(
                VERSION_HEADER,
                "expected a session version: 1 to 3 decimal digits, at least 1",
            )),
            Some(1) => Ok(SessionVersion::V1),
            Some(_) => Ok(own.min(SessionVersion::V2)),
        }
    }
}

/// `bt-session-offer`: the caller's X25519 share and its Ed25519 signature over
/// [`offer_digest`](super::offer_digest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionOffer {
    pub share: [u8; 32],
    pub signature: [u8; 64],
}

/// `bt-session-accept`: the session id and the axon's X25519 share, under the session's version
/// (the value's first field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionAccept {
    pub version: SessionVersion,
    pub session_id: SessionId,
    pub share: [u8; 32],
}

/// `bt-session`: the session's version, which session, which counter, and the MAC of the
/// request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionProof {
    pub version: SessionVersion,
    pub session_id: SessionId,
    pub counter: u64,
    pub mac: [u8; 32],
}

impl SessionOffer {
    pub const ENCODED_LEN: usize = 2 + 64 + 1 + 128;

    pub fn encode(&self) -> String {
        format!(
            "{V1}{}.{}",
            hex::encode(self.share),
            hex::encode(self.signature)
        )
    }

    pub fn parse(value: &[u8]) -> Result<Self, CryptoError> {
        let (mut p, _) = Fields::new(
            OFFER_HEADER,
            value,
            Self::ENCODED_LEN,
            &[SessionVersion::V1],
        )?;
        let share = p.hex::<32>()?;
        p.dot()?;
        let signature = p.hex::<64>()?;
        Ok(Self { share, signature })
    }
}

impl SessionAccept {
    pub const ENCODED_LEN: usize = 2 + 32 + 1 + 64;

    pub fn encode(&self) -> String {
        format!(
            "{}.{}.{}",
            self.version.number(),
            hex::encode(self.session_id),
            hex::encode(self.share)
        )
    }

    pub fn parse(value: &[u8]) -> Result<Self, CryptoError> {
        let (mut p, version) = Fields::new(ACCEPT_HEADER, value, Self::ENCODED_LEN, ALL_VERSIONS)?;
        let session_id = p.hex::<16>()?;
        p.dot()?;
        let share = p.hex::<32>()?;
        Ok(Self {
            version,
            session_id,
            share,
        })
    }
}

impl SessionProof {
    pub const ENCODED_LEN: usize = 2 + 32 + 1 + 16 + 1 + 64;

    pub fn encode(&self) -> String {
        let bytes = self.encode_bytes();
        bytes.iter().map(|&b| char::from(b)).collect()
    }

    /// [`encode`](Self::encode) without allocating: it runs once per request.
    pub fn encode_bytes(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [b'.'; Self::ENCODED_LEN];
        out[0] = self.version.prefix_digit();
        write_hex(&mut out[2..34], &self.session_id);
        write_hex(&mut out[35..51], &self.counter.to_be_bytes());
        write_hex(&mut out[52..116], &self.mac);
        out
    }

    pub fn parse(value: &[u8]) -> Result<Self, CryptoError> {
        let (mut p, version) = Fields::new(SESSION_HEADER, value, Self::ENCODED_LEN, ALL_VERSIONS)?;
        let session_id = p.hex::<16>()?;
        p.dot()?;
        let counter = u64::from_be_bytes(p.hex::<8>()?);
        p.dot()?;
        let mac = p.hex::<32>()?;
        if counter == 0 {
            return Err(bad_header(SESSION_HEADER, "counter 0 is never used"));
        }
        Ok(Self {
            version,
            session_id,
            counter,
            mac,
        })
    }
}

/// `bt-session-late`: the session whose proof will follow the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionHint {
    pub version: SessionVersion,
    pub session_id: SessionId,
}

impl SessionHint {
    pub const ENCODED_LEN: usize = 2 + 32;

    pub fn encode(&self) -> String {
        format!("{}.{}", self.version.number(), hex::encode(self.session_id))
    }

    pub fn parse(value: &[u8]) -> Result<Self, CryptoError> {
        let (mut p, version) = Fields::new(LATE_HEADER, value, Self::ENCODED_LEN, ALL_VERSIONS)?;
        let session_id = p.hex::<16>()?;
        Ok(Self {
            version,
            session_id,
        })
    }
}

struct Fields<'a> {
    header: &'static str,
    rest: &'a [u8],
}

const ALL_VERSIONS: &[SessionVersion] = &[SessionVersion::V1, SessionVersion::V2];

impl<'a> Fields<'a> {
    /// Checks the length and the `<version>.` prefix (one of `versions`).
    fn new(
        header: &'static str,
        value: &'a [u8],
        len: usize,
        versions: &[SessionVersion],
    ) -> Result<(Self, SessionVersion), CryptoError> {
        if value.len() != len {
            return Err(bad_header(
                header,
                &format!("expected {len} bytes, got {}", value.len()),
            ));
        }
        let version = match value {
            [digit, b'.', ..] => {
                SessionVersion::from_prefix_digit(*digit).filter(|v| versions.contains(v))
            }
            _ => None,
        };
        let Some(version) = version else {
            let known: Vec<String> = versions
                .iter()
                .map(|v| format!("\"{}.\"", v.number()))
                .collect();
            return Err(bad_header(
                header,
                &format!("unknown version (expected {})", known.join(" or ")),
            ));
        };
        Ok((
            Self {
                header,
                rest: &value[2..],
            },
            version,
        ))
    }

    fn hex<const N: usize>(&mut self) -> Result<[u8; N], CryptoError> {
        let (digits, rest) = self.rest.split_at_checked(2 * N).ok_or_else(|| {
            bad_header(self.header, "value too short") // unreachable after the length check
        })?;
        let mut out = [0u8; N];
        // Branch-free per digit (this runs on every request): invalid digits map to 0xff and
        // are caught once at the end.
        let mut bad = 0u8;
        for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
            let (hi, lo) = (
                HEX_VALUE[usize::from(pair[0])],
                HEX_VALUE[usize::from(pair[1])],
            );
            bad |= hi | lo;
            *o = (hi << 4) | (lo & 0x0f);
        }
        if bad & 0xf0 != 0 {
            return Err(self.not_hex());
        }
        self.rest = rest;
        Ok(out)
    }

    fn dot(&mut self) -> Result<(), CryptoError> {
        match self.rest.split_first() {
            Some((b'.', rest)) => {
                self.rest = rest;
                Ok(())
            }
            _ => Err(bad_header(self.header, "fields must be separated by '.'")),
        }
    }

    fn not_hex(&self) -> CryptoError {
        bad_header(self.header, "fields must be lower-case hex")
    }
}

/// Lower-case hex of `bytes` into `out` (exactly twice as long).
fn write_hex(out: &mut [u8], bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
}

/// Value of a lower-case hex digit, `0xff` for any other byte.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

pub(super) fn bad_header(header: &'static str, reason: &str) -> CryptoError {
    CryptoError::BadSessionHeader {
        header,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_refuse_malformed_values() {
        let offer = SessionOffer {
            share: [0xab; 32],
            signature: [0x01; 64],
        };
        let s = offer.encode();
        assert_eq!(s.len(), SessionOffer::ENCODED_LEN);
        assert_eq!(SessionOffer::parse(s.as_bytes()).unwrap(), offer);
        let accept = SessionAccept {
            version: SessionVersion::V1,
            session_id: [7; 16],
            share: [9; 32],
        };
        let s = accept.encode();
        assert_eq!(s.len(), SessionAccept::ENCODED_LEN);
        assert_eq!(SessionAccept::parse(s.as_bytes()).unwrap(), accept);
        let proof = SessionProof {
            version: SessionVersion::V2,
            session_id: [3; 16],
            counter: 0x0102_0304_0506_0708,
            mac: [0xfe; 32],
        };
        let s = proof.encode();
        assert_eq!(s.len(), SessionProof::ENCODED_LEN);
        assert!(s.contains(".0102030405060708."));
        assert_eq!(SessionProof::parse(s.as_bytes()).unwrap(), proof);

        let upper = s.to_uppercase();
        assert!(SessionProof::parse(upper.as_bytes()).is_err());
        assert!(SessionProof::parse(&s.as_bytes()[1..]).is_err());
        assert!(s.starts_with("2."));
        let v1 = s.replacen("2.", "1.", 1);
        assert_eq!(
            SessionProof::parse(v1.as_bytes()).unwrap().version,
            SessionVersion::V1
        );
        let v3 = s.replacen("2.", "3.", 1);
        assert!(SessionProof::parse(v3.as_bytes()).is_err());
        // Offers have a version 1 layout only.
        let offer_v2 = offer.encode().replacen("1.", "2.", 1);
        assert!(SessionOffer::parse(offer_v2.as_bytes()).is_err());
        let zero = SessionProof {
            counter: 0,
            ..proof
        }
        .encode();
        assert!(SessionProof::parse(zero.as_bytes()).is_err());
        let no_dot = s.replace('.', "-");
        assert!(SessionProof::parse(no_dot.as_bytes()).is_err());
    }

    #[test]
    fn the_version_is_the_highest_both_speak() {
        use SessionVersion::{V1, V2};
        for (value, own, want) in [
            (&b"1"[..], V2, Some(V1)),
            (b"2", V2, Some(V2)),
            (b"2", V1, Some(V1)),
            (b"9", V2, Some(V2)),
            (b"200", V2, Some(V2)),
            (b"0", V2, None),
            (b"", V2, None),
            (b"1000", V2, None),
            (b"v2", V2, None),
            (b"+2", V2, None),
        ] {
            assert_eq!(
                SessionVersion::negotiate(value, own).ok(),
                want,
                "{value:?}"
            );
        }
    }
}
