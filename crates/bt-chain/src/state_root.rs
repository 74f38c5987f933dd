//! The state root, kept up to date block by block instead of re-encoding the whole state.
//!
//! Every entry of the state is a row, as the database stores it ([`crate::state_tables`]): an
//! account, a hotkey's owner, a stake, a subnet's own fields, a neuron. A row's leaf hash is
//! `blake2b-256(lp(key) ‖ value)`; its key picks one of [`BUCKETS`] buckets (the first bytes of
//! the key's hash); a bucket's hash covers its leaves in key order, and the buckets are the
//! leaves of a binary tree of fixed shape. The root is
//! `blake2b-256("bittensor/state-root/v2" ‖ scalars ‖ tree root)`, `scalars` being the hash of
//! the chain-wide values (bounded by the proof-of-work window, so rehashed every block).
//!
//! Which bucket a row lands in and where a bucket sits in the tree depend only on the row's
//! key, and a bucket's hash only on its rows, so the root depends only on the state, never on
//! the order of the writes that made it. A block rehashes only the rows it changed, their
//! buckets and the [`crate::root_cache::BUCKET_BITS`] tree nodes above each.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::ChainError;
use crate::hash::{Hash, blake2_256, blake2_256_parts};
use crate::root_cache::{
    BUCKETS, DOMAIN, RootCache, RootTree, bucket_hash, bucket_of, leaf_hash, node_hash,
};
use crate::state::ChainState;
use crate::state_tables::{Row, RowKey, changed_rows, for_each_row, scalars_bytes};

impl RootTree {
    /// The tree of every row of `s`, from scratch.
    fn build(s: &ChainState) -> Result<Self, ChainError> {
        let mut buckets: Vec<BTreeMap<RowKey, Hash>> = vec![BTreeMap::new(); BUCKETS];
        for_each_row(s, |row: Row| {
            let leaf = leaf_hash(&row.key, &row.value);
            buckets[bucket_of(&row.key)].insert(row.key, leaf);
        })?;
        let mut nodes = vec![[0u8; 32]; 2 * BUCKETS];
        for (i, b) in buckets.iter().enumerate() {
            nodes[BUCKETS + i] = bucket_hash(b);
        }
        for i in (1..BUCKETS).rev() {
            nodes[i] = node_hash(&nodes[2 * i], &nodes[2 * i + 1]);
        }
        Ok(Self {
            buckets: buckets.into_iter().map(Arc::new).collect(),
            nodes,
        })
    }

    /// Applies the rows that differ between `prev` (the state this tree is of) and `next`.
    fn update(&mut self, prev: &ChainState, next: &ChainState) -> Result<(), ChainError> {
        let mut touched = Vec::new();
        changed_rows(prev, next, |key, value| {
            let b = bucket_of(&key);
            let rows = Arc::make_mut(&mut self.buckets[b]);
            match value {
                Some(v) => {
                    let leaf = leaf_hash(&key, &v);
                    rows.insert(key, leaf);
                }
                None => {
                    rows.remove(&key);
                }
            }
            touched.push(b);
        })?;
        touched.sort_unstable();
        touched.dedup();
        for b in touched {
            let mut i = BUCKETS + b;
            self.nodes[i] = bucket_hash(&self.buckets[b]);
            while i > 1 {
                i /= 2;
                self.nodes[i] = node_hash(&self.nodes[2 * i], &self.nodes[2 * i + 1]);
            }
        }
        Ok(())
    }

    fn root(&self, s: &ChainState) -> Result<Hash, ChainError> {
        let scalars = blake2_256(&scalars_bytes(s)?);
        Ok(blake2_256_parts(&[DOMAIN, &scalars, &self.nodes[1]]))
    }
}

impl ChainState {
    /// The state root computed from scratch over every row (the reference the incremental
    /// root must equal; used where no previous state is at hand).
    pub fn root(&self) -> Result<Hash, ChainError> {
        RootTree::build(self)?.root(self)
    }

    /// The state root of this state, which a block made from `prev` (this state started as a
    /// clone of `prev`, carrying its tree): only the rows that differ between the two are
    /// rehashed, in place (the tree is built from scratch the first time, e.g. after a restart).
    /// Finding those rows still compares the two states entry by entry, which is cheap next to
    /// encoding and hashing them.
    pub fn root_after(&mut self, prev: &ChainState) -> Result<Hash, ChainError> {
        let tree = match self.root_cache.0.take() {
            Some(mut tree) => {
                tree.update(prev, self)?;
                tree
            }
            None => RootTree::build(self)?,
        };
        let root = tree.root(self)?;
        self.root_cache.0 = Some(tree);
        debug_assert_eq!(
            Some(root),
            self.root().ok(),
            "incremental state root differs from the recomputed one"
        );
        Ok(root)
    }

    /// Forgets the carried tree: the next root is built from scratch. For code that changes a
    /// state outside a block (tests, tools), after which the tree no longer matches it.
    pub fn forget_root_cache(&mut self) {
        self.root_cache = RootCache::default();
    }

    /// The root from the carried tree as it stands (`None` before one is built), for tests that
    /// compare it with [`ChainState::root`].
    #[cfg(test)]
    pub(crate) fn cached_root(&self) -> Option<Hash> {
        let tree = self.root_cache.0.as_ref()?;
        tree.root(self).ok()
    }
}
