//! Batch verification of the signatures of requests that arrive together.
//!
//! Ed25519 and sr25519 batch verification cost markedly less CPU per signature than verifying one
//! by one (README "Benchmarks", crypto), and on a busy axon requests do arrive together: one read
//! of an HTTP/2 connection often carries dozens of requests, 64 keep-alive HTTP/1.1 connections
//! are read in the same executor turn, and hyper starts a handler task for each. The first
//! handler to reach [`BatchVerifier::verify`] becomes the *leader*: it yields once, so that the
//! handlers already runnable can queue their requests behind it, then verifies the whole queue (in
//! batches of at most `max_batch`) and hands every handler its result. The others wait.
//!
//! No handler can be stranded: a leader that is cancelled drops the queue, and a handler whose
//! result never comes (its sender dropped) verifies its own request. Verification happens at
//! most once per request either way. The queue is bounded by the requests admitted at once
//! (`max_in_flight`): each admitted request queues at most one job.
//!
//! What is verified is a [`BatchCheck`]: the gRPC axon's Ed25519 request signatures
//! ([`TensorChecks`]) and the HTTP axon's SDK v10 sr25519 signatures ([`V10Checks`]). Both keep
//! their callers' keys decompressed ([`KeyCache`], bounded): decompressing a key costs about a
//! fifth of a batched verification, and the same callers come back request after request.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bt_crypto::http_auth::{AuthError, V10Claim, verify_v10_batch};
use bt_crypto::wallet::{AccountId, VerifyingAccount};
use bt_crypto::{CryptoError, Dialled, PublicKey, RpcMethod};
use bt_wire::TensorMessage;
use tokio::sync::oneshot;

/// One kind of signature that can be checked alone or many at once.
pub(crate) trait BatchCheck: Send + Sync {
    /// What is checked; cloned into the queue, so cheap to clone.
    type Job: Clone + Send;
    type Verdict: Send;
    /// One verdict per job, in order.
    fn check_batch(&self, jobs: &[Self::Job]) -> Vec<Self::Verdict>;
    fn check_one(&self, job: &Self::Job) -> Self::Verdict;
}

struct Queued<C: BatchCheck> {
    job: C::Job,
    reply: oneshot::Sender<C::Verdict>,
}

struct Queue<C: BatchCheck> {
    jobs: Vec<Queued<C>>,
    /// A handler has taken charge of the queue and will drain it.
    led: bool,
}

pub(crate) struct BatchVerifier<C: BatchCheck> {
    queue: Mutex<Queue<C>>,
    max_batch: usize,
    check: C,
}

impl<C: BatchCheck> BatchVerifier<C> {
    /// `max_batch` bounds the time one leader spends verifying in a row (≥ 1).
    pub(crate) fn new(check: C, max_batch: usize) -> Self {
        Self {
            queue: Mutex::new(Queue {
                jobs: Vec::new(),
                led: false,
            }),
            max_batch: max_batch.max(1),
            check,
        }
    }

    /// The check of `job`, batched with concurrent callers' jobs.
    /// `alone`: no other request is in flight, so waiting for company would only add latency.
    pub(crate) async fn verify(&self, job: C::Job, alone: bool) -> C::Verdict {
        let (reply, verdict) = oneshot::channel();
        let lead = {
            let mut q = self.lock();
            q.jobs.push(Queued {
                job: job.clone(),
                reply,
            });
            !std::mem::replace(&mut q.led, true)
        };
        if lead {
            let leadership = Leadership(self);
            if !alone {
                tokio::task::yield_now().await;
            }
            leadership.drain();
        }
        match verdict.await {
            Ok(v) => v,
            // The leader was cancelled before it reached our job.
            Err(_) => self.check.check_one(&job),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue<C>> {
        // The queue holds no invariant a panic could break halfway.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Verifies until the queue is empty, then gives up the lead (under the same lock, so a
    /// job pushed meanwhile either is seen here or makes its pusher the next leader).
    fn drain_queue(&self) {
        loop {
            let batch: Vec<Queued<C>> = {
                let mut q = self.lock();
                if q.jobs.is_empty() {
                    q.led = false;
                    return;
                }
                let n = q.jobs.len().min(self.max_batch);
                q.jobs.drain(..n).collect()
            };
            let (jobs, replies): (Vec<C::Job>, Vec<_>) =
                batch.into_iter().map(|q| (q.job, q.reply)).unzip();
            let verdicts = self.check.check_batch(&jobs);
            drop(jobs);
            for (reply, verdict) in replies.into_iter().zip(verdicts) {
                // A handler that went away (deadline, client reset) needs no answer.
                let _ = reply.send(verdict);
            }
        }
    }
}

/// The gRPC axon's request signatures (Ed25519, `bt_crypto::sign_request`), keys cached by their
/// wire string.
pub(crate) struct TensorChecks {
    keys: KeyCache<String, PublicKey>,
}

impl TensorChecks {
    /// `max_keys`: the caller keys kept parsed.
    pub(crate) fn new(max_keys: usize) -> Self {
        Self {
            keys: KeyCache::new(max_keys),
        }
    }
}

/// A request, the method it was sent to and (v2) the endpoint dialled, which its signature
/// covers.
#[derive(Clone)]
pub(crate) struct TensorJob {
    pub(crate) msg: Arc<TensorMessage>,
    pub(crate) method: RpcMethod,
    pub(crate) dialled: Option<Dialled>,
}

impl BatchCheck for TensorChecks {
    type Job = TensorJob;
    type Verdict = Result<PublicKey, CryptoError>;

    fn check_batch(&self, jobs: &[TensorJob]) -> Vec<Self::Verdict> {
        let requests: Vec<(&TensorMessage, RpcMethod, Option<&Dialled>)> = jobs
            .iter()
            .map(|j| (j.msg.as_ref(), j.method, j.dialled.as_ref()))
            .collect();
        bt_crypto::verify_bound_requests_batch_with(&requests, |hex| {
            self.keys.get(hex, bt_crypto::parse_caller_key)
        })
    }

    fn check_one(&self, job: &TensorJob) -> Self::Verdict {
        bt_crypto::verify_request_bound(&job.msg, job.method, job.dialled.as_ref())
    }
}

/// The HTTP axon's SDK v10 signatures (sr25519 over the v10 message), keys cached by account.
pub(crate) struct V10Checks {
    keys: KeyCache<AccountId, VerifyingAccount>,
}

impl V10Checks {
    /// `max_keys`: the caller keys kept decompressed.
    pub(crate) fn new(max_keys: usize) -> Self {
        Self {
            keys: KeyCache::new(max_keys),
        }
    }
}

impl BatchCheck for V10Checks {
    type Job = Arc<V10Claim>;
    type Verdict = Result<(), AuthError>;

    fn check_batch(&self, jobs: &[Arc<V10Claim>]) -> Vec<Self::Verdict> {
        let keys: Vec<Result<VerifyingAccount, AuthError>> = jobs
            .iter()
            .map(|claim| self.keys.get(&claim.hotkey, |_| claim.verifying_key()))
            .collect();
        let mut verdicts: Vec<Self::Verdict> = Vec::with_capacity(jobs.len());
        let mut pairs = Vec::with_capacity(jobs.len());
        let mut at = Vec::with_capacity(jobs.len());
        for (i, (claim, key)) in jobs.iter().zip(&keys).enumerate() {
            match key {
                Ok(key) => {
                    pairs.push((claim.as_ref(), key));
                    at.push(i);
                    verdicts.push(Ok(()));
                }
                Err(e) => verdicts.push(Err(e.clone())),
            }
        }
        for (i, verdict) in at.into_iter().zip(verify_v10_batch(&pairs)) {
            verdicts[i] = verdict;
        }
        verdicts
    }

    fn check_one(&self, claim: &Arc<V10Claim>) -> Self::Verdict {
        claim.verify()
    }
}

/// Caller keys parsed and checked, by what identifies them on the wire. When full it starts
/// over: a flood of new keys costs us the cache's benefit, nothing more.
pub(crate) struct KeyCache<K, V> {
    keys: Mutex<HashMap<K, V>>,
    capacity: usize,
}

impl<K: Hash + Eq, V: Copy> KeyCache<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            keys: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, V>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached key, or `parse(id)` (cached when it succeeds).
    fn get<Q, E>(&self, id: &Q, parse: impl FnOnce(&Q) -> Result<V, E>) -> Result<V, E>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(k) = self.lock().get(id) {
            return Ok(*k);
        }
        // Parsed outside the lock: the other executor thread may be verifying too.
        let key = parse(id)?;
        if self.capacity > 0 {
            let mut keys = self.lock();
            if keys.len() >= self.capacity {
                keys.clear();
            }
            keys.insert(id.to_owned(), key);
        }
        Ok(key)
    }
}

/// Held by the leader between taking the lead and draining: if the leader is cancelled in
/// between, the queued jobs are dropped, which sends every waiting handler to verify alone.
struct Leadership<'a, C: BatchCheck>(&'a BatchVerifier<C>);

impl<C: BatchCheck> Leadership<'_, C> {
    fn drain(self) {
        self.0.drain_queue();
        std::mem::forget(self);
    }
}

impl<C: BatchCheck> Drop for Leadership<'_, C> {
    fn drop(&mut self) {
        let mut q = self.0.lock();
        q.jobs.clear();
        q.led = false;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bt_crypto::NeuronKey;

    fn signed(key: &NeuronKey, nonce: i64) -> Arc<TensorMessage> {
        let mut msg = TensorMessage {
            synapse_key: NeuronKey::from_seed([9; 32]).public_hex(),
            tensors: vec![bt_wire::Tensor {
                buffer: vec![1u8; 16].into(),
                shape: vec![4],
                dtype: bt_wire::DataType::Float32 as i32,
                ..Default::default()
            }],
            ..Default::default()
        };
        bt_crypto::sign_request(key, &mut msg, RpcMethod::Forward, nonce);
        Arc::new(msg)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_requests_are_batched_and_each_gets_its_own_verdict() {
        let v = Arc::new(BatchVerifier::new(TensorChecks::new(2), 4));
        let key = NeuronKey::from_seed([1; 32]);
        let mut tasks = Vec::new();
        for i in 0..10 {
            let mut msg = signed(&key, i);
            if i % 3 == 0 {
                // Forged: the payload no longer matches the signature.
                let mut m = (*msg).clone();
                m.tensors[0].buffer = vec![2u8; 16].into();
                msg = Arc::new(m);
            }
            let v = v.clone();
            tasks.push(tokio::spawn(async move {
                v.verify(job(msg), false).await.is_ok()
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), i % 3 != 0, "request {i}");
        }
        let q = v.lock();
        assert!(q.jobs.is_empty() && !q.led);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_cancelled_leader_strands_nobody() {
        let v = Arc::new(BatchVerifier::new(TensorChecks::new(2), 64));
        let key = NeuronKey::from_seed([2; 32]);
        let leader_msg = signed(&key, 1);
        let follower_msg = signed(&key, 2);
        let mut leader = Box::pin(v.verify(job(leader_msg), false));
        // Polled once: the leader queued its job and is yielding.
        assert!(futures_poll_once(leader.as_mut()).await.is_none());
        let v2 = v.clone();
        let follower =
            tokio::spawn(async move { v2.verify(job(follower_msg), false).await.is_ok() });
        tokio::task::yield_now().await;
        drop(leader);
        assert!(follower.await.unwrap());
        let q = v.lock();
        assert!(q.jobs.is_empty() && !q.led);
    }

    fn job(msg: Arc<TensorMessage>) -> TensorJob {
        TensorJob {
            msg,
            method: RpcMethod::Forward,
            dialled: None,
        }
    }

    #[test]
    fn caller_keys_are_cached_bounded_and_checked() {
        let keys = TensorChecks::new(2).keys;
        let parse = bt_crypto::parse_caller_key;
        let hex: Vec<String> = (0..3u8)
            .map(|i| NeuronKey::from_seed([i; 32]).public_hex())
            .collect();
        for h in &hex {
            assert_eq!(keys.get(h.as_str(), parse).unwrap().to_hex(), *h);
            assert!(keys.lock().len() <= 2);
        }
        assert_eq!(keys.get(hex[2].as_str(), parse).unwrap().to_hex(), hex[2]);
        // The identity point is a valid encoding but of small order: refused, not cached.
        let weak = format!("0x01{}", "00".repeat(31));
        assert!(keys.get(weak.as_str(), parse).is_err());
        assert!(!keys.lock().contains_key(&weak));
        assert!(keys.get("0xnothex", parse).is_err());
    }

    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        let mut f = f;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
