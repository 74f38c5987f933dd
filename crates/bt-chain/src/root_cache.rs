//! The state root's tree as data: leaf hashes by row key in buckets, the fixed binary tree over
//! the buckets, and the hashes that build them. How a state's rows fill it and how a block
//! updates it is `state_root`'s; the state carries the tree from block to block.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::hash::{Hash, blake2_256, blake2_256_parts};

/// A row's key for the state root: a table tag and the row's key in that table.
pub(crate) type RowKey = Vec<u8>;

/// Depth of the tree over the buckets.
pub const BUCKET_BITS: u32 = 12;
/// Buckets the rows are spread over: a changed row costs rehashing its bucket (on average
/// rows / 4096 leaf hashes) and 12 tree nodes.
pub const BUCKETS: usize = 1 << BUCKET_BITS;

pub(crate) const DOMAIN: &[u8] = b"bittensor/state-root/v2";

/// Leaf hashes by row key, and the tree over their buckets. Buckets are shared between the
/// states of consecutive blocks until one of them changes a bucket (cloning a state clones
/// pointers, not leaves).
#[derive(Clone, Debug)]
pub(crate) struct RootTree {
    pub(crate) buckets: Vec<Arc<BTreeMap<RowKey, Hash>>>,
    /// Heap layout: node `i` has children `2i` and `2i + 1`; buckets are nodes
    /// `BUCKETS..2 × BUCKETS`; node 1 is the tree's root.
    pub(crate) nodes: Vec<Hash>,
}

/// The state's [`RootTree`] once built, carried along with the state. It is derived data:
/// not serialized, and not part of a state's equality.
#[derive(Clone, Debug, Default)]
pub struct RootCache(pub(crate) Option<RootTree>);

impl PartialEq for RootCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for RootCache {}

pub(crate) fn bucket_of(key: &[u8]) -> usize {
    let h = blake2_256(key);
    (usize::from(h[0]) << 8 | usize::from(h[1])) >> (16 - BUCKET_BITS)
}

pub(crate) fn leaf_hash(key: &[u8], value: &[u8]) -> Hash {
    blake2_256_parts(&[&(key.len() as u64).to_le_bytes(), key, value])
}

pub(crate) fn bucket_hash(rows: &BTreeMap<RowKey, Hash>) -> Hash {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(rows.len() * 2);
    for (k, leaf) in rows {
        parts.push(k);
        parts.push(leaf);
    }
    blake2_256_parts(&parts)
}

pub(crate) fn node_hash(left: &Hash, right: &Hash) -> Hash {
    blake2_256_parts(&[left, right])
}
