//! The one byte-layout primitive every digest in this crate uses (see `docs/protocol.md`):
//! a hash over a domain-separation tag and fields, where variable-length fields are prefixed
//! with their length as a u64 little-endian and integers are fixed-width little-endian.
//! The hash is SHA-256 everywhere except the payload hash of version-2 sessions, which is
//! BLAKE3 over the same bytes (several times faster on large tensors: README "Benchmarks",
//! crypto).

use sha2::{Digest, Sha256};

/// A 32-byte hash a transcript can be built on.
pub(crate) trait TranscriptHash {
    fn fresh() -> Self;
    fn absorb(&mut self, bytes: &[u8]);
    fn output(self) -> [u8; 32];
}

impl TranscriptHash for Sha256 {
    fn fresh() -> Self {
        Sha256::new()
    }

    fn absorb(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }

    fn output(self) -> [u8; 32] {
        self.finalize().into()
    }
}

impl TranscriptHash for blake3::Hasher {
    fn fresh() -> Self {
        blake3::Hasher::new()
    }

    /// One thread (SIMD within it): handing 1 MiB to a thread pool cost more in wake-ups than
    /// it saved in the RPC benchmark, and would block an executor thread meanwhile.
    fn absorb(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }

    fn output(self) -> [u8; 32] {
        self.finalize().into()
    }
}

#[derive(Clone)]
pub(crate) struct Transcript<H = Sha256>(H);

impl Transcript<Sha256> {
    /// A SHA-256 transcript (every digest but the version-2 payload hash).
    pub(crate) fn new(tag: &[u8]) -> Self {
        Self::with_hash(tag)
    }
}

impl<H: TranscriptHash> Transcript<H> {
    pub(crate) fn with_hash(tag: &[u8]) -> Self {
        let mut t = Self(H::fresh());
        t.bytes(tag);
        t
    }

    /// `u64_le(len) || bytes`.
    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.absorb(&(b.len() as u64).to_le_bytes());
        self.0.absorb(b);
        self
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.0.absorb(&v.to_le_bytes());
        self
    }

    pub(crate) fn i64(&mut self, v: i64) -> &mut Self {
        self.0.absorb(&v.to_le_bytes());
        self
    }

    pub(crate) fn i32(&mut self, v: i32) -> &mut Self {
        self.0.absorb(&v.to_le_bytes());
        self
    }

    pub(crate) fn u16(&mut self, v: u16) -> &mut Self {
        self.0.absorb(&v.to_le_bytes());
        self
    }

    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.0.absorb(&[v]);
        self
    }

    pub(crate) fn finish(self) -> [u8; 32] {
        self.0.output()
    }
}
