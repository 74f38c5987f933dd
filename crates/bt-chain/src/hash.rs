//! The one hash of the chain: blake2b-256 (block hashes, state root, tx hashes, commits, work).

use blake2::Blake2b;
use blake2::digest::{Digest, consts::U32};

/// A 32-byte digest.
pub type Hash = [u8; 32];

pub fn blake2_256(data: &[u8]) -> Hash {
    let mut h = Blake2b::<U32>::new();
    h.update(data);
    h.finalize().into()
}

/// Hashes several parts without concatenating them first.
pub fn blake2_256_parts(parts: &[&[u8]]) -> Hash {
    let mut h = Blake2b::<U32>::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}
