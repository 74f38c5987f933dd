//! Session versions: what distinguishes version 1 from version 2 (tags and the payload hash).
//! How a version is written in and read from headers, and how the two ends agree on one, is in
//! `headers`.

pub const SESSION_KEY_TAG: &[u8] = b"bittensor/session-key/v1";
pub const SESSION_REQUEST_TAG: &[u8] = b"bittensor/session-request/v1";
pub const SESSION_KEY_TAG_V2: &[u8] = b"bittensor/session-key/v2";
pub const SESSION_REQUEST_TAG_V2: &[u8] = b"bittensor/session-request/v2";

/// In version-2 sessions, requests whose tensor buffers add up to at least this many bytes
/// hash them with BLAKE3 (several times SHA-256's speed on large payloads); smaller ones with
/// SHA-256 (faster than BLAKE3 on small inputs, where BLAKE3 cannot use its SIMD parallelism and
/// SHA-256 has the CPU's SHA instructions). `cargo bench -p bt-crypto --bench crypto` measures
/// both.
pub const BLAKE3_MIN_PAYLOAD_BYTES: usize = 8 << 10;

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

    pub(super) fn key_tag(self) -> &'static [u8] {
        match self {
            SessionVersion::V1 => SESSION_KEY_TAG,
            SessionVersion::V2 => SESSION_KEY_TAG_V2,
        }
    }

    pub(super) fn request_tag(self) -> &'static [u8] {
        match self {
            SessionVersion::V1 => SESSION_REQUEST_TAG,
            SessionVersion::V2 => SESSION_REQUEST_TAG_V2,
        }
    }
}
