//! Sessions: one signed handshake, then an HMAC per request instead of an Ed25519 signature.
//!
//! Ed25519 costs about as much CPU per request as a whole raw gRPC round trip (README "Benchmarks":
//! the crypto bench's sign and verify against the RPC bench's CPU per request), so a caller that
//! talks to the same axon many times pays for a session once: its signed request carries an
//! ephemeral X25519 share in the `bt-session-offer` header, covered by a second Ed25519 signature
//! over the request digest and the share. The axon answers that request as usual and adds its own
//! share and a session id (`bt-session-accept`); both sides derive a 32-byte key with HKDF-SHA256.
//! Later requests carry, in `bt-session`, the session id, a counter that the caller increments per
//! request, and HMAC-SHA256 over the request digest and the counter. The exact layouts are in
//! `docs/protocol.md`.
//!
//! Version 2 (negotiated with the `bt-session-version` header on the handshake) differs only in
//! its tags and in hashing the request's tensors with BLAKE3 instead of SHA-256: on a 1 MiB
//! payload that is most of the cost of authenticating it, on both ends.
//!
//! The request's own `signature` stays the plain v1 signature, so an axon that knows nothing
//! of sessions ignores the header and serves the request as before (and returns no share, so
//! the caller keeps signing); an axon that does know verifies only the offer signature, which
//! covers the request digest too.
//!
//! Pieces here: the header codec ([`SessionOffer`], [`SessionAccept`], [`SessionProof`]), the
//! caller's half ([`SessionInitiator`]), the axon's half ([`accept_offer`]), the MAC
//! ([`session_mac`]), the counter window ([`ReplayWindow`]) and the axon's bounded table
//! ([`SessionTable`]). No I/O, no clock: time is an argument.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::clip;
use crate::transcript::Transcript;
use crate::{CryptoError, NeuronKey, PublicKey};

pub const SESSION_OFFER_TAG: &[u8] = b"bittensor/session-offer/v1";
pub const SESSION_KEY_TAG: &[u8] = b"bittensor/session-key/v1";
pub const SESSION_REQUEST_TAG: &[u8] = b"bittensor/session-request/v1";
pub const SESSION_KEY_TAG_V2: &[u8] = b"bittensor/session-key/v2";
pub const SESSION_REQUEST_TAG_V2: &[u8] = b"bittensor/session-request/v2";

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

/// In version-2 sessions, requests whose tensor buffers add up to at least this many bytes
/// hash them with BLAKE3 (several times SHA-256's speed on large payloads); smaller ones with
/// SHA-256 (faster than BLAKE3 on small inputs, where BLAKE3 cannot use its SIMD parallelism and
/// SHA-256 has the CPU's SHA instructions). `cargo bench -p bt-crypto --bench crypto` measures
/// both.
pub const BLAKE3_MIN_PAYLOAD_BYTES: usize = 8 << 10;

/// Version prefix of the offer header value (offers have only ever had version 1).
const V1: &str = "1.";

/// What a session's requests are authenticated with. Both versions share the handshake and
/// the header layouts; they differ in tags and in the hash of the payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SessionVersion {
    /// SHA-256 payload hash (the first version; every session-aware peer speaks it).
    V1,
    /// BLAKE3 payload hash.
    #[default]
    V2,
}

impl SessionVersion {
    /// The highest version this implementation speaks.
    pub const LATEST: SessionVersion = SessionVersion::V2;

    pub fn number(self) -> u8 {
        match self {
            SessionVersion::V1 => 1,
            SessionVersion::V2 => 2,
        }
    }

    /// How a request under a session of this version hashes `tensors`: version 1 always with
    /// SHA-256; version 2 with BLAKE3 once their buffers reach [`BLAKE3_MIN_PAYLOAD_BYTES`]
    /// (below it SHA-256, which is faster there with SHA instructions).
    pub fn payload_hash(self, tensors: &[bt_wire::Tensor]) -> crate::PayloadHash {
        let large =
            || tensors.iter().map(|t| t.buffer.len()).sum::<usize>() >= BLAKE3_MIN_PAYLOAD_BYTES;
        match self {
            SessionVersion::V2 if large() => crate::PayloadHash::Blake3,
            _ => crate::PayloadHash::Sha256,
        }
    }

    fn key_tag(self) -> &'static [u8] {
        match self {
            SessionVersion::V1 => SESSION_KEY_TAG,
            SessionVersion::V2 => SESSION_KEY_TAG_V2,
        }
    }

    fn request_tag(self) -> &'static [u8] {
        match self {
            SessionVersion::V1 => SESSION_REQUEST_TAG,
            SessionVersion::V2 => SESSION_REQUEST_TAG_V2,
        }
    }

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

/// Counters the axon accepts out of order: a request may arrive up to this many counters after
/// a later one (960 = 1024-bit bitmap minus one 64-bit block, RFC 6479). A caller with 64
/// requests in flight reorders by at most 64.
pub const REPLAY_WINDOW: u64 = 1024 - 64;

/// A session id, chosen at random by the axon.
pub type SessionId = [u8; 16];

/// The key both ends derive; requests are MAC'd with it. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionKey {
    bytes: [u8; 32],
    /// The version it was derived for (and only ever used with).
    #[zeroize(skip)]
    version: SessionVersion,
}

impl SessionKey {
    /// A key from its bytes (tests and tools; real keys come from the handshake).
    pub fn from_bytes(bytes: [u8; 32], version: SessionVersion) -> Self {
        Self { bytes, version }
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    pub fn version(&self) -> SessionVersion {
        self.version
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(…)")
    }
}

// ---------------------------------------------------------------------------------------------
// Header codec. Values are ASCII (gRPC metadata), fixed length, lower-case hex, so parsing is a
// length check and slicing: nothing a peer sends can make it allocate more than the value.

/// `bt-session-offer`: the caller's X25519 share and its Ed25519 signature over
/// [`offer_digest`].
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

fn bad_header(header: &'static str, reason: &str) -> CryptoError {
    CryptoError::BadSessionHeader {
        header,
        reason: reason.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Digests, key derivation, MAC.

/// What the offer signature signs: the request's v1 digest and the caller's share.
pub fn offer_digest(request_digest: &[u8; 32], share: &[u8; 32]) -> [u8; 32] {
    let mut t = Transcript::new(SESSION_OFFER_TAG);
    t.bytes(request_digest).bytes(share);
    t.finish()
}

/// Verify a handshake: the offer signature by `caller` over the request digest and the share.
/// It authenticates the request as fully as the plain request signature does.
pub fn verify_offer(
    caller: &PublicKey,
    request_digest: &[u8; 32],
    offer: &SessionOffer,
) -> Result<(), CryptoError> {
    caller.verify(
        &offer_digest(request_digest, &offer.share),
        &offer.signature,
    )
}

/// HKDF-SHA256 over the X25519 secret; salt = session id; info binds both shares and both keys
/// (as the wire strings). Refuses a non-contributory exchange (a small-order share).
fn derive_session_key(
    secret: &StaticSecret,
    peer_share: &[u8; 32],
    version: SessionVersion,
    transcript: &KeyTranscript<'_>,
) -> Result<SessionKey, CryptoError> {
    let shared = secret.diffie_hellman(&XPublic::from(*peer_share));
    if !shared.was_contributory() {
        return Err(CryptoError::WeakSessionShare);
    }
    let mut info = Vec::with_capacity(200);
    for field in [
        version.key_tag(),
        transcript.caller_share,
        transcript.axon_share,
        transcript.caller_key.as_bytes(),
        transcript.synapse_key.as_bytes(),
    ] {
        info.extend_from_slice(&(field.len() as u64).to_le_bytes());
        info.extend_from_slice(field);
    }
    let mut okm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(transcript.session_id), shared.as_bytes())
        .expand(&info, &mut okm)
        .map_err(|_| CryptoError::WeakSessionShare)?; // 32 ≤ 255·32: cannot fail
    Ok(SessionKey {
        bytes: okm,
        version,
    })
}

/// The fields both ends bind into the session key.
struct KeyTranscript<'a> {
    session_id: &'a SessionId,
    caller_share: &'a [u8; 32],
    axon_share: &'a [u8; 32],
    /// `neuron_key` exactly as sent.
    caller_key: &'a str,
    /// The `synapse_key` of the handshake request exactly as sent.
    synapse_key: &'a str,
}

type HmacSha256 = Hmac<Sha256>;

/// The MAC of one session, ready to use: HMAC-SHA256 keyed with the session key, with the
/// fields that never change within the session (`lp(tag) || lp(session_id)`) already absorbed.
/// Each request then costs a clone and three SHA-256 compressions instead of five (keying
/// hashes the inner and outer pad blocks once, here, not per request).
///
/// It holds the keyed hash state, which is as good as the key for forging MACs; RustCrypto's
/// HMAC state is not zeroized on drop (the [`SessionKey`] it came from is).
#[derive(Clone)]
pub struct SessionMac {
    session_id: SessionId,
    version: SessionVersion,
    keyed: HmacSha256,
}

impl SessionMac {
    pub fn new(key: &SessionKey, session_id: &SessionId) -> Self {
        // `new_from_slice` accepts keys of any length; 32 bytes cannot fail.
        let mut keyed = match HmacSha256::new_from_slice(key.as_bytes()) {
            Ok(m) => m,
            Err(_) => unreachable_hmac(),
        };
        for field in [key.version.request_tag(), session_id.as_slice()] {
            keyed.update(&(field.len() as u64).to_le_bytes());
            keyed.update(field);
        }
        Self {
            session_id: *session_id,
            version: key.version,
            keyed,
        }
    }

    pub fn session_id(&self) -> &SessionId {
        &self.session_id
    }

    pub fn version(&self) -> SessionVersion {
        self.version
    }

    /// The [`SessionProof`] of request `counter` whose digest is `request_digest`.
    pub fn prove(&self, counter: u64, request_digest: &[u8; 32]) -> SessionProof {
        SessionProof {
            version: self.version,
            session_id: self.session_id,
            counter,
            mac: self.mac(counter, request_digest),
        }
    }

    fn state(&self, counter: u64, digest: &[u8; 32]) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        // One update of the per-request fields: `u64_le(counter) || lp(digest)`.
        let mut tail = [0u8; 8 + 8 + 32];
        tail[..8].copy_from_slice(&counter.to_le_bytes());
        tail[8..16].copy_from_slice(&(digest.len() as u64).to_le_bytes());
        tail[16..].copy_from_slice(digest);
        mac.update(&tail);
        mac
    }

    /// [`session_mac`] for this session.
    pub fn mac(&self, counter: u64, request_digest: &[u8; 32]) -> [u8; 32] {
        self.state(counter, request_digest)
            .finalize()
            .into_bytes()
            .into()
    }

    /// [`verify_session_mac`] for this session (constant time). A proof for another session
    /// is refused.
    pub fn verify(
        &self,
        proof: &SessionProof,
        request_digest: &[u8; 32],
    ) -> Result<(), CryptoError> {
        let refused = || CryptoError::BadSessionMac {
            session: hex::encode(proof.session_id),
        };
        if proof.session_id != self.session_id {
            return Err(refused());
        }
        if proof.version != self.version {
            return Err(bad_header(
                SESSION_HEADER,
                &format!(
                    "session {} is version {}, the request says {}",
                    hex::encode(proof.session_id),
                    self.version.number(),
                    proof.version.number()
                ),
            ));
        }
        self.state(proof.counter, request_digest)
            .verify_slice(&proof.mac)
            .map_err(|_| refused())
    }
}

impl fmt::Debug for SessionMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionMac({}, …)", hex::encode(self.session_id))
    }
}

#[cold]
fn unreachable_hmac() -> ! {
    // HMAC takes keys of any length (RustCrypto documents `new_from_slice` as infallible for
    // HMAC); a 32-byte key reaching here would be a bug in the dependency.
    panic!("HMAC-SHA256 refused a 32-byte key")
}

/// `HMAC-SHA256(key, lp(tag) || lp(session_id) || u64_le(counter) || lp(request_digest))`, with
/// the tag of the key's version.
/// For many requests of one session, [`SessionMac`] saves re-keying each time.
pub fn session_mac(
    key: &SessionKey,
    session_id: &SessionId,
    counter: u64,
    request_digest: &[u8; 32],
) -> [u8; 32] {
    SessionMac::new(key, session_id).mac(counter, request_digest)
}

/// Constant-time check of a request's MAC.
pub fn verify_session_mac(
    key: &SessionKey,
    proof: &SessionProof,
    request_digest: &[u8; 32],
) -> Result<(), CryptoError> {
    SessionMac::new(key, &proof.session_id).verify(proof, request_digest)
}

// ---------------------------------------------------------------------------------------------
// The two halves of the handshake.

/// The caller's half: an ephemeral X25519 secret, used for one handshake.
pub struct SessionInitiator {
    secret: StaticSecret,
    share: [u8; 32],
    /// The highest version offered (what the caller puts in `bt-session-version`).
    max_version: SessionVersion,
}

impl SessionInitiator {
    /// A fresh secret from the OS CSPRNG.
    pub fn generate() -> Self {
        Self::from_secret(StaticSecret::random_from_rng(rand_core::OsRng))
    }

    /// A fixed secret (test vectors).
    pub fn from_secret_bytes(secret: [u8; 32]) -> Self {
        Self::from_secret(StaticSecret::from(secret))
    }

    fn from_secret(secret: StaticSecret) -> Self {
        let share = XPublic::from(&secret).to_bytes();
        Self {
            secret,
            share,
            max_version: SessionVersion::LATEST,
        }
    }

    /// Offer at most `version` (default [`SessionVersion::LATEST`]).
    pub fn with_max_version(mut self, version: SessionVersion) -> Self {
        self.max_version = version;
        self
    }

    pub fn max_version(&self) -> SessionVersion {
        self.max_version
    }

    pub fn share(&self) -> &[u8; 32] {
        &self.share
    }

    /// The offer header for a request whose v1 digest is `request_digest`, signed by `key`
    /// (the same key that signs the request).
    pub fn offer(&self, key: &NeuronKey, request_digest: &[u8; 32]) -> SessionOffer {
        SessionOffer {
            share: self.share,
            signature: key.sign(&offer_digest(request_digest, &self.share)),
        }
    }

    /// The session key from the axon's accept. `caller_key` and `synapse_key` are the
    /// handshake request's `neuron_key` and `synapse_key` as sent. Consumes the secret. An
    /// accept of a version above the one offered is refused.
    pub fn complete(
        self,
        accept: &SessionAccept,
        caller_key: &str,
        synapse_key: &str,
    ) -> Result<SessionKey, CryptoError> {
        if accept.version > self.max_version {
            return Err(bad_header(
                ACCEPT_HEADER,
                &format!(
                    "the axon chose version {}, above the {} offered",
                    accept.version.number(),
                    self.max_version.number()
                ),
            ));
        }
        derive_session_key(
            &self.secret,
            &accept.share,
            accept.version,
            &KeyTranscript {
                session_id: &accept.session_id,
                caller_share: &self.share,
                axon_share: &accept.share,
                caller_key,
                synapse_key,
            },
        )
    }
}

impl fmt::Debug for SessionInitiator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionInitiator({})", hex::encode(self.share))
    }
}

/// The axon's half of a handshake whose offer was verified: a fresh share and session id,
/// and the key, for a session of `version` (see [`SessionVersion::negotiate`]). The caller's
/// share is checked (a small-order share is refused).
pub fn accept_offer(
    offer: &SessionOffer,
    version: SessionVersion,
    caller_key: &str,
    synapse_key: &str,
) -> Result<(SessionAccept, SessionKey), CryptoError> {
    let mut session_id = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut session_id);
    accept_with(
        StaticSecret::random_from_rng(rand_core::OsRng),
        session_id,
        offer,
        version,
        caller_key,
        synapse_key,
    )
}

/// [`accept_offer`] with the axon's secret and the session id given (test vectors).
pub fn accept_offer_with(
    secret: [u8; 32],
    session_id: SessionId,
    offer: &SessionOffer,
    version: SessionVersion,
    caller_key: &str,
    synapse_key: &str,
) -> Result<(SessionAccept, SessionKey), CryptoError> {
    accept_with(
        StaticSecret::from(secret),
        session_id,
        offer,
        version,
        caller_key,
        synapse_key,
    )
}

fn accept_with(
    secret: StaticSecret,
    session_id: SessionId,
    offer: &SessionOffer,
    version: SessionVersion,
    caller_key: &str,
    synapse_key: &str,
) -> Result<(SessionAccept, SessionKey), CryptoError> {
    let share = XPublic::from(&secret).to_bytes();
    let key = derive_session_key(
        &secret,
        &offer.share,
        version,
        &KeyTranscript {
            session_id: &session_id,
            caller_share: &offer.share,
            axon_share: &share,
            caller_key,
            synapse_key,
        },
    )?;
    Ok((
        SessionAccept {
            version,
            session_id,
            share,
        },
        key,
    ))
}

// ---------------------------------------------------------------------------------------------
// Replay window and the axon's table.

/// Which counters of one session were accepted: every counter at most once, and only the
/// [`REPLAY_WINDOW`] counters below the highest one seen (RFC 6479's ring of 64-bit blocks:
/// constant time, 128 bytes).
#[derive(Clone, Debug, Default)]
pub struct ReplayWindow {
    highest: u64,
    blocks: [u64; 16],
}

/// Why [`ReplayWindow::check_and_record`] refused a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterRefusal {
    /// Counter 0 is never sent.
    Zero,
    /// Seen before.
    Replayed,
    /// Below the window: it may or may not have been seen; refused either way.
    TooOld,
}

impl ReplayWindow {
    const BLOCKS: u64 = 16;

    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// Accept `counter` once.
    pub fn check_and_record(&mut self, counter: u64) -> Result<(), CounterRefusal> {
        if counter == 0 {
            return Err(CounterRefusal::Zero);
        }
        let block = counter / 64;
        if counter > self.highest {
            // Clear the blocks the window slides over (at most all of them).
            let current = self.highest / 64;
            let slide = (block - current).min(Self::BLOCKS);
            for i in 1..=slide {
                self.blocks[((current + i) % Self::BLOCKS) as usize] = 0;
            }
            self.highest = counter;
        } else if self.highest - counter >= REPLAY_WINDOW {
            return Err(CounterRefusal::TooOld);
        }
        let word = &mut self.blocks[(block % Self::BLOCKS) as usize];
        let bit = 1u64 << (counter % 64);
        if *word & bit != 0 {
            return Err(CounterRefusal::Replayed);
        }
        *word |= bit;
        Ok(())
    }
}

/// Bounds and lifetimes of a [`SessionTable`]. Times are nanoseconds of whatever monotonic
/// clock the owner passes in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Sessions at once; beyond it the least recently used is dropped (its caller then
    /// re-handshakes). A session costs about 300 bytes.
    pub capacity: usize,
    /// Sessions of one caller key at once; beyond it the caller's oldest is dropped, so one
    /// key cannot take the whole table.
    pub per_caller: usize,
    /// A session unused this long is dropped.
    pub idle_ttl_ns: u64,
    /// A session this old is dropped however busy (bounds the use of one key).
    pub max_age_ns: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            capacity: 16_384,
            per_caller: 8,
            idle_ttl_ns: 300_000_000_000,
            max_age_ns: 3_600_000_000_000,
        }
    }
}

struct Session {
    caller: PublicKey,
    caller_hex: String,
    mac: SessionMac,
    window: ReplayWindow,
    created: u64,
    last_used: u64,
    seq: u64,
}

/// The axon's sessions: bounded (`capacity` total, `per_caller` per key), expiring (idle TTL,
/// maximum age), each bound to the caller key that signed its handshake.
pub struct SessionTable {
    config: SessionConfig,
    sessions: HashMap<SessionId, Session>,
    /// Least recently used first.
    lru: BTreeMap<u64, SessionId>,
    /// Each caller's sessions, oldest first (at most `per_caller`).
    by_caller: HashMap<[u8; 32], VecDeque<SessionId>>,
    next_seq: u64,
}

impl SessionTable {
    /// Capacities of 0 are raised to 1.
    pub fn new(mut config: SessionConfig) -> Self {
        config.capacity = config.capacity.max(1);
        config.per_caller = config.per_caller.max(1);
        Self {
            sessions: HashMap::with_capacity(config.capacity.min(1024)),
            config,
            lru: BTreeMap::new(),
            by_caller: HashMap::new(),
            next_seq: 0,
        }
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Store a session established by a verified, authorised handshake from `caller`
    /// (`caller_hex`: its `neuron_key` as sent). Evicts idle sessions, then the caller's oldest
    /// beyond `per_caller`, then the least recently used beyond `capacity`.
    pub fn insert(
        &mut self,
        session_id: SessionId,
        caller: PublicKey,
        caller_hex: &str,
        key: SessionKey,
        now: u64,
    ) {
        self.expire_idle(now);
        self.remove(&session_id);
        let id = *caller.as_bytes();
        while self
            .by_caller
            .get(&id)
            .is_some_and(|q| q.len() >= self.config.per_caller)
        {
            let Some(oldest) = self.by_caller.get(&id).and_then(|q| q.front().copied()) else {
                break;
            };
            self.remove(&oldest);
        }
        while self.sessions.len() >= self.config.capacity {
            let Some((_, oldest)) = self.lru.first_key_value().map(|(k, v)| (*k, *v)) else {
                break;
            };
            self.remove(&oldest);
        }
        let seq = self.bump();
        self.lru.insert(seq, session_id);
        self.by_caller.entry(id).or_default().push_back(session_id);
        self.sessions.insert(
            session_id,
            Session {
                caller,
                caller_hex: caller_hex.to_owned(),
                mac: SessionMac::new(&key, &session_id),
                window: ReplayWindow::default(),
                created: now,
                last_used: now,
                seq,
            },
        );
    }

    /// Authenticate one request: the session exists and is live, `caller_hex` is the key that
    /// opened it, the MAC over `request_digest` and the counter verifies, and the counter is
    /// new (in that order: a forged request never moves the window). Returns the caller.
    pub fn authenticate(
        &mut self,
        proof: &SessionProof,
        caller_hex: &str,
        request_digest: &[u8; 32],
        now: u64,
    ) -> Result<PublicKey, CryptoError> {
        // One lookup for every check and update (this runs on every request).
        let Some(s) = self.sessions.get_mut(&proof.session_id) else {
            return Err(unknown(&proof.session_id));
        };
        if let Err(e) = liveness(&self.config, s, &proof.session_id, caller_hex, now) {
            if matches!(e, CryptoError::UnknownSession { .. }) {
                self.remove(&proof.session_id);
            }
            return Err(e);
        }
        s.mac.verify(proof, request_digest)?;
        s.window
            .check_and_record(proof.counter)
            .map_err(|why| CryptoError::ReplayedCounter {
                session: hex::encode(proof.session_id),
                counter: proof.counter,
                highest: s.window.highest(),
                too_old: why == CounterRefusal::TooOld,
            })?;
        s.last_used = now;
        // Already the most recently used (the common case of one busy session): the LRU order
        // does not change.
        if s.seq + 1 != self.next_seq {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.lru.remove(&s.seq);
            s.seq = seq;
            self.lru.insert(seq, proof.session_id);
        }
        Ok(s.caller)
    }

    /// The checks of [`authenticate`](Self::authenticate) that need no request digest: the
    /// session exists, is live and belongs to `caller_hex`. Lets the owner refuse a request for
    /// an unknown session before hashing its payload (which may be tens of MiB).
    pub fn precheck(
        &mut self,
        session_id: &SessionId,
        caller_hex: &str,
        now: u64,
    ) -> Result<(), CryptoError> {
        let Some(s) = self.sessions.get(session_id) else {
            return Err(unknown(session_id));
        };
        let verdict = liveness(&self.config, s, session_id, caller_hex, now);
        if let Err(CryptoError::UnknownSession { .. }) = verdict {
            self.remove(session_id);
        }
        verdict
    }

    /// Drops every session idle longer than the TTL; returns how many.
    pub fn expire_idle(&mut self, now: u64) -> usize {
        let mut n = 0;
        while let Some((_, sid)) = self.lru.first_key_value().map(|(k, v)| (*k, *v)) {
            let idle = self
                .sessions
                .get(&sid)
                .is_none_or(|s| now.saturating_sub(s.last_used) > self.config.idle_ttl_ns);
            if !idle {
                break;
            }
            self.remove(&sid);
            n += 1;
        }
        n
    }

    fn remove(&mut self, sid: &SessionId) {
        let Some(s) = self.sessions.remove(sid) else {
            return;
        };
        self.lru.remove(&s.seq);
        let id = *s.caller.as_bytes();
        if let Some(q) = self.by_caller.get_mut(&id) {
            q.retain(|x| x != sid);
            if q.is_empty() {
                self.by_caller.remove(&id);
            }
        }
    }

    fn bump(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// Sessions of `caller` (for tests and metrics).
    pub fn sessions_of(&self, caller: &PublicKey) -> usize {
        self.by_caller
            .get(caller.as_bytes())
            .map_or(0, VecDeque::len)
    }
}

fn unknown(session_id: &SessionId) -> CryptoError {
    CryptoError::UnknownSession {
        session: hex::encode(session_id),
    }
}

/// The session is within its idle TTL and maximum age (else `UnknownSession`: the owner drops
/// it) and was opened by `caller_hex`.
fn liveness(
    config: &SessionConfig,
    s: &Session,
    session_id: &SessionId,
    caller_hex: &str,
    now: u64,
) -> Result<(), CryptoError> {
    let idle = now.saturating_sub(s.last_used) > config.idle_ttl_ns;
    let old = now.saturating_sub(s.created) > config.max_age_ns;
    if idle || old {
        return Err(unknown(session_id));
    }
    if s.caller_hex != caller_hex {
        return Err(CryptoError::SessionCaller {
            session: hex::encode(session_id),
            got: clip(caller_hex),
        });
    }
    Ok(())
}

impl fmt::Debug for SessionTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTable")
            .field("config", &self.config)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_accepts_each_counter_once_and_reorders_within_the_window() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.check_and_record(0), Err(CounterRefusal::Zero));
        for c in [5, 3, 4, 1, 2] {
            w.check_and_record(c).unwrap();
        }
        for c in 1..=5 {
            assert_eq!(w.check_and_record(c), Err(CounterRefusal::Replayed));
        }
        w.check_and_record(1000).unwrap();
        // 1000 − 960 = 40: 41 is still inside, 40 is not.
        w.check_and_record(41).unwrap();
        assert_eq!(w.check_and_record(40), Err(CounterRefusal::TooOld));
        // A jump far ahead clears everything; old counters are then too old.
        w.check_and_record(1_000_000).unwrap();
        assert_eq!(w.check_and_record(1000), Err(CounterRefusal::TooOld));
        w.check_and_record(999_999).unwrap();
        assert_eq!(w.check_and_record(999_999), Err(CounterRefusal::Replayed));
        w.check_and_record(u64::MAX).unwrap();
        assert_eq!(w.check_and_record(u64::MAX), Err(CounterRefusal::Replayed));
    }

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

    fn handshake(caller: &NeuronKey, synapse: &str) -> (SessionAccept, SessionKey, SessionKey) {
        let init = SessionInitiator::generate();
        let digest = [5u8; 32];
        let offer = init.offer(caller, &digest);
        verify_offer(&caller.public(), &digest, &offer).unwrap();
        let (accept, axon_key) = accept_offer(
            &offer,
            SessionVersion::LATEST,
            &caller.public_hex(),
            synapse,
        )
        .unwrap();
        let caller_key = init
            .complete(&accept, &caller.public_hex(), synapse)
            .unwrap();
        (accept, caller_key, axon_key)
    }

    #[test]
    fn both_ends_derive_the_same_key_and_the_table_authenticates_once() {
        let caller = NeuronKey::from_seed([1; 32]);
        let synapse = NeuronKey::from_seed([2; 32]).public_hex();
        let (accept, ck, ak) = handshake(&caller, &synapse);
        assert_eq!(ck.as_bytes(), ak.as_bytes());
        let mut table = SessionTable::new(SessionConfig::default());
        table.insert(
            accept.session_id,
            caller.public(),
            &caller.public_hex(),
            ak,
            0,
        );
        let digest = [8u8; 32];
        let proof = |counter| SessionProof {
            version: SessionVersion::LATEST,
            session_id: accept.session_id,
            counter,
            mac: session_mac(&ck, &accept.session_id, counter, &digest),
        };
        let me = caller.public_hex();
        assert_eq!(
            table.authenticate(&proof(2), &me, &digest, 1).unwrap(),
            caller.public()
        );
        table.authenticate(&proof(1), &me, &digest, 1).unwrap();
        assert!(matches!(
            table.authenticate(&proof(2), &me, &digest, 1),
            Err(CryptoError::ReplayedCounter { .. })
        ));
        // A MAC over another digest, or presented by another key, is refused.
        assert!(matches!(
            table.authenticate(&proof(3), &me, &[9u8; 32], 1),
            Err(CryptoError::BadSessionMac { .. })
        ));
        let other = NeuronKey::from_seed([3; 32]).public_hex();
        assert!(matches!(
            table.authenticate(&proof(3), &other, &digest, 1),
            Err(CryptoError::SessionCaller { .. })
        ));
        // The failures above did not burn counter 3.
        table.authenticate(&proof(3), &me, &digest, 1).unwrap();
        // Idle beyond the TTL: gone.
        let later = 2 + table.config().idle_ttl_ns;
        assert!(matches!(
            table.authenticate(&proof(4), &me, &digest, later),
            Err(CryptoError::UnknownSession { .. })
        ));
        assert!(table.is_empty());
    }

    #[test]
    fn table_is_bounded_in_total_and_per_caller() {
        let mut table = SessionTable::new(SessionConfig {
            capacity: 4,
            per_caller: 2,
            ..SessionConfig::default()
        });
        let a = NeuronKey::from_seed([1; 32]);
        for i in 0..5u8 {
            table.insert(
                [i; 16],
                a.public(),
                &a.public_hex(),
                SessionKey::from_bytes([i; 32], SessionVersion::V2),
                0,
            );
            assert!(table.sessions_of(&a.public()) <= 2);
        }
        assert_eq!(table.len(), 2);
        for s in 10..20u8 {
            let k = NeuronKey::from_seed([s; 32]);
            table.insert(
                [s; 16],
                k.public(),
                &k.public_hex(),
                SessionKey::from_bytes([s; 32], SessionVersion::V2),
                0,
            );
            assert!(table.len() <= 4);
        }
        assert_eq!(table.len(), 4);
        assert_eq!(table.lru.len(), 4);
        assert_eq!(
            table.by_caller.values().map(VecDeque::len).sum::<usize>(),
            4
        );
    }

    #[test]
    fn the_pre_keyed_mac_matches_session_mac_and_is_bound_to_its_session() {
        let key = SessionKey::from_bytes([4; 32], SessionVersion::V2);
        let sid = [5u8; 16];
        let mac = SessionMac::new(&key, &sid);
        for (counter, digest) in [(1u64, [0u8; 32]), (u64::MAX >> 2, [0xab; 32])] {
            let m = mac.mac(counter, &digest);
            assert_eq!(m, session_mac(&key, &sid, counter, &digest));
            let proof = SessionProof {
                version: SessionVersion::V2,
                session_id: sid,
                counter,
                mac: m,
            };
            mac.verify(&proof, &digest).unwrap();
            verify_session_mac(&key, &proof, &digest).unwrap();
            assert!(mac.verify(&proof, &[1; 32]).is_err());
            let elsewhere = SessionProof {
                session_id: [6; 16],
                ..proof
            };
            assert!(mac.verify(&elsewhere, &digest).is_err());
        }
    }

    #[test]
    fn the_least_recently_used_session_is_evicted() {
        let mut table = SessionTable::new(SessionConfig {
            capacity: 2,
            ..SessionConfig::default()
        });
        let keys: Vec<NeuronKey> = (1..=3u8).map(|i| NeuronKey::from_seed([i; 32])).collect();
        let digest = [8u8; 32];
        let use_session = |table: &mut SessionTable, i: usize, counter: u64| {
            let (sid, k) = (
                [i as u8; 16],
                SessionKey::from_bytes([i as u8; 32], SessionVersion::V2),
            );
            let proof = SessionProof {
                version: SessionVersion::V2,
                session_id: sid,
                counter,
                mac: session_mac(&k, &sid, counter, &digest),
            };
            table.authenticate(&proof, &keys[i].public_hex(), &digest, 1)
        };
        for (i, k) in keys.iter().enumerate().take(2) {
            let n = i as u8;
            table.insert(
                [n; 16],
                k.public(),
                &k.public_hex(),
                SessionKey::from_bytes([n; 32], SessionVersion::V2),
                0,
            );
        }
        // Session 0 used last (twice: the second use finds it already most recent).
        use_session(&mut table, 1, 1).unwrap();
        use_session(&mut table, 0, 1).unwrap();
        use_session(&mut table, 0, 2).unwrap();
        let k = &keys[2];
        table.insert(
            [2; 16],
            k.public(),
            &k.public_hex(),
            SessionKey::from_bytes([2; 32], SessionVersion::V2),
            1,
        );
        assert!(use_session(&mut table, 0, 3).is_ok());
        assert!(matches!(
            use_session(&mut table, 1, 2),
            Err(CryptoError::UnknownSession { .. })
        ));
        assert!(use_session(&mut table, 2, 1).is_ok());
        assert_eq!(table.lru.len(), 2);
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
        // A caller that offered only version 1 refuses a version 2 accept.
        let caller = NeuronKey::from_seed([1; 32]);
        let init = SessionInitiator::generate().with_max_version(V1);
        let offer = init.offer(&caller, &[0; 32]);
        let (accept, _) = accept_offer(&offer, V2, &caller.public_hex(), "s").unwrap();
        assert!(init.complete(&accept, &caller.public_hex(), "s").is_err());
    }

    #[test]
    fn small_order_shares_are_refused() {
        let caller = NeuronKey::from_seed([1; 32]);
        let offer = SessionOffer {
            share: [0; 32],
            signature: [0; 64],
        };
        assert!(matches!(
            accept_offer(&offer, SessionVersion::V1, &caller.public_hex(), "x"),
            Err(CryptoError::WeakSessionShare)
        ));
    }
}
