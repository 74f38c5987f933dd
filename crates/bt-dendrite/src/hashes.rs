//! The hashes of one payload, shared by every call that sends it.
//!
//! A tensor broadcast to many peers is hashed once, not once per peer: the first call that
//! needs a kind of hash starts it and the others await the same result. A large payload is
//! hashed on the blocking pool and the waiting is asynchronous: hashing a payload near the
//! message limit takes milliseconds (README "Benchmarks", crypto), which on an executor thread
//! (or with executor threads blocked waiting for it) would stall every other call and
//! connection of the process.

use std::sync::{Arc, OnceLock};

use bt_crypto::PayloadHash;
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Either, Ready, Shared};

/// Payloads from this size (their buffers together) are hashed on the blocking pool; below it
/// the hand-off costs more than the hash (SHA-256 throughput: README "Benchmarks", crypto).
pub(crate) const BLOCKING_HASH_BYTES: usize = 64 << 10;

/// A hash being computed on the pool (or computed), which any number of calls may await.
type PendingHash = Shared<BoxFuture<'static, [u8; 32]>>;

/// What [`PayloadHashes::get`] gives: the hash, or the computation to await for it.
pub(crate) type PayloadHashFuture = Either<Ready<[u8; 32]>, PendingHash>;

/// A small payload's hash, computed in place; a large one's, on the pool.
enum Entry {
    Done([u8; 32]),
    Pending(PendingHash),
}

/// SHA-256 for signed requests, version-1 sessions and small payloads; BLAKE3 for payloads of
/// 8 KiB and more in version-2 sessions. Each computed at most once, starting when a call first
/// needs it.
#[derive(Default)]
pub(crate) struct PayloadHashes {
    sha256: OnceLock<Entry>,
    blake3: OnceLock<Entry>,
}

impl PayloadHashes {
    /// The `kind` hash of `tensors` (the same tensors for every call sharing `self`). The
    /// first call starts it, at once (a large payload on the blocking pool), so a caller may
    /// start it early and await it later. Cancel-safe: a started hash finishes and is kept even
    /// if every caller waiting for it goes away. A small payload costs no allocation.
    pub(crate) fn get(&self, kind: PayloadHash, tensors: &[bt_wire::Tensor]) -> PayloadHashFuture {
        let cell = match kind {
            PayloadHash::Sha256 => &self.sha256,
            PayloadHash::Blake3 => &self.blake3,
        };
        match cell.get_or_init(|| start(kind, tensors)) {
            Entry::Done(hash) => Either::Left(futures_util::future::ready(*hash)),
            Entry::Pending(pending) => Either::Right(pending.clone()),
        }
    }
}

fn start(kind: PayloadHash, tensors: &[bt_wire::Tensor]) -> Entry {
    let bytes: usize = tensors.iter().map(|t| t.buffer.len()).sum();
    if bytes < BLOCKING_HASH_BYTES {
        return Entry::Done(kind.of(tensors));
    }
    // Buffers are reference-counted: this copy shares them.
    let owned = Arc::new(tensors.to_vec());
    let for_pool = owned.clone();
    let job = tokio::task::spawn_blocking(move || kind.of(&for_pool));
    let pending = async move {
        match job.await {
            Ok(hash) => hash,
            // The pool is shutting down (or the hash panicked, which it cannot): hash here.
            Err(_) => kind.of(&owned),
        }
    }
    .boxed()
    .shared();
    Entry::Pending(pending)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn payload(bytes: usize) -> Vec<bt_wire::Tensor> {
        vec![bt_wire::Tensor {
            buffer: vec![7u8; bytes].into(),
            shape: vec![1, (bytes / 4) as i64],
            dtype: 2,
            modality: 2,
            ..bt_wire::Tensor::default()
        }]
    }

    /// Small and large payloads, either kind, many concurrent callers on one executor thread:
    /// every caller gets the one-shot hash, while the large ones are computed on the pool.
    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_callers_share_one_hash_of_each_kind() {
        for bytes in [1 << 10, BLOCKING_HASH_BYTES, 1 << 20] {
            let tensors = Arc::new(payload(bytes));
            let hashes = Arc::new(PayloadHashes::default());
            let mut calls = tokio::task::JoinSet::new();
            for i in 0..16 {
                let (tensors, hashes) = (tensors.clone(), hashes.clone());
                let kind = if i % 2 == 0 {
                    PayloadHash::Sha256
                } else {
                    PayloadHash::Blake3
                };
                calls.spawn(async move { (kind, hashes.get(kind, &tensors).await) });
            }
            while let Some(joined) = calls.join_next().await {
                let (kind, hash) = joined.unwrap();
                assert_eq!(hash, kind.of(&tensors), "{bytes} bytes, {kind:?}");
            }
        }
    }
}
