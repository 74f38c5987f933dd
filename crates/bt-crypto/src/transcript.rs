//! The one byte-layout primitive every digest in this crate uses (see `docs/protocol.md`):
//! SHA-256 over a domain-separation tag and fields, where variable-length fields are prefixed
//! with their length as a u64 little-endian and integers are fixed-width little-endian.

use sha2::{Digest, Sha256};

#[derive(Clone)]
pub(crate) struct Transcript(Sha256);

impl Transcript {
    pub(crate) fn new(tag: &[u8]) -> Self {
        let mut t = Self(Sha256::new());
        t.bytes(tag);
        t
    }

    /// `u64_le(len) || bytes`.
    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
        self
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.0.update(v.to_le_bytes());
        self
    }

    pub(crate) fn i64(&mut self, v: i64) -> &mut Self {
        self.0.update(v.to_le_bytes());
        self
    }

    pub(crate) fn i32(&mut self, v: i32) -> &mut Self {
        self.0.update(v.to_le_bytes());
        self
    }

    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.0.update([v]);
        self
    }

    pub(crate) fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}
