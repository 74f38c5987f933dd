//! Batch verification of the signatures of requests that arrive together.
//!
//! Ed25519 batch verification costs markedly less CPU per signature than verifying one by one
//! (README "Benchmarks", crypto), and on a busy axon requests do arrive together: one read of an
//! HTTP/2 connection often carries dozens of requests, and hyper starts a handler task for each.
//! The first handler to reach [`BatchVerifier::verify`] becomes the *leader*: it yields once, so
//! that the handlers already runnable can queue their requests behind it, then verifies the whole
//! queue (in batches of at most `max_batch`) and hands every handler its result. The others wait.
//!
//! No handler can be stranded: a leader that is cancelled drops the queue, and a handler whose
//! result never comes (its sender dropped) verifies its own request. Verification happens at
//! most once per request either way. The queue is bounded by the requests admitted at once
//! (`max_in_flight`): each admitted request queues at most one job.
//!
//! Caller keys are cached (bounded): decompressing a key costs about a fifth of a batched
//! verification, and the same callers come back request after request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bt_crypto::{CryptoError, PublicKey, RpcMethod};
use bt_wire::TensorMessage;
use tokio::sync::oneshot;

type Verdict = Result<PublicKey, CryptoError>;

struct Job {
    msg: Arc<TensorMessage>,
    method: RpcMethod,
    reply: oneshot::Sender<Verdict>,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    /// A handler has taken charge of the queue and will drain it.
    led: bool,
}

pub(crate) struct BatchVerifier {
    queue: Mutex<Queue>,
    max_batch: usize,
    keys: CallerKeys,
}

impl BatchVerifier {
    /// `max_batch` bounds the time one leader spends verifying in a row (≥ 1);
    /// `max_keys` the caller keys kept parsed.
    pub(crate) fn new(max_batch: usize, max_keys: usize) -> Self {
        Self {
            queue: Mutex::new(Queue::default()),
            max_batch: max_batch.max(1),
            keys: CallerKeys::new(max_keys),
        }
    }

    /// The signature check of `msg` (not the nonce), batched with concurrent callers.
    /// `alone`: no other request is in flight, so waiting for company would only add latency.
    pub(crate) async fn verify(
        &self,
        msg: &Arc<TensorMessage>,
        method: RpcMethod,
        alone: bool,
    ) -> Verdict {
        let (reply, verdict) = oneshot::channel();
        let lead = {
            let mut q = self.lock();
            q.jobs.push(Job {
                msg: msg.clone(),
                method,
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
            Err(_) => bt_crypto::verify_request(msg, method),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue holds no invariant a panic could break halfway.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Verifies until the queue is empty, then gives up the lead (under the same lock, so a
    /// job pushed meanwhile either is seen here or makes its pusher the next leader).
    fn drain_queue(&self) {
        loop {
            let batch: Vec<Job> = {
                let mut q = self.lock();
                if q.jobs.is_empty() {
                    q.led = false;
                    return;
                }
                let n = q.jobs.len().min(self.max_batch);
                q.jobs.drain(..n).collect()
            };
            let requests: Vec<(&TensorMessage, RpcMethod)> =
                batch.iter().map(|j| (j.msg.as_ref(), j.method)).collect();
            let verdicts =
                bt_crypto::verify_requests_batch_with(&requests, |hex| self.keys.get(hex));
            drop(requests);
            for (job, verdict) in batch.into_iter().zip(verdicts) {
                // A handler that went away (deadline, client reset) needs no answer.
                let _ = job.reply.send(verdict);
            }
        }
    }
}

/// Caller keys parsed and checked (`bt_crypto::parse_caller_key`), by their wire string.
/// When full it starts over: a flood of new keys costs us the cache's benefit, nothing more.
struct CallerKeys {
    keys: Mutex<HashMap<String, PublicKey>>,
    capacity: usize,
}

impl CallerKeys {
    fn new(capacity: usize) -> Self {
        Self {
            keys: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, PublicKey>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, neuron_key: &str) -> Result<PublicKey, CryptoError> {
        if let Some(k) = self.lock().get(neuron_key) {
            return Ok(*k);
        }
        // Parsed outside the lock: the other executor thread may be verifying too.
        let key = bt_crypto::parse_caller_key(neuron_key)?;
        if self.capacity > 0 {
            let mut keys = self.lock();
            if keys.len() >= self.capacity {
                keys.clear();
            }
            keys.insert(neuron_key.to_owned(), key);
        }
        Ok(key)
    }
}

/// Held by the leader between taking the lead and draining: if the leader is cancelled in
/// between, the queued jobs are dropped, which sends every waiting handler to verify alone.
struct Leadership<'a>(&'a BatchVerifier);

impl Leadership<'_> {
    fn drain(self) {
        self.0.drain_queue();
        std::mem::forget(self);
    }
}

impl Drop for Leadership<'_> {
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
        let v = Arc::new(BatchVerifier::new(4, 2));
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
                v.verify(&msg, RpcMethod::Forward, false).await.is_ok()
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
        let v = Arc::new(BatchVerifier::new(64, 2));
        let key = NeuronKey::from_seed([2; 32]);
        let leader_msg = signed(&key, 1);
        let follower_msg = signed(&key, 2);
        let mut leader = Box::pin(v.verify(&leader_msg, RpcMethod::Forward, false));
        // Polled once: the leader queued its job and is yielding.
        assert!(futures_poll_once(leader.as_mut()).await.is_none());
        let v2 = v.clone();
        let follower = tokio::spawn(async move {
            v2.verify(&follower_msg, RpcMethod::Forward, false)
                .await
                .is_ok()
        });
        tokio::task::yield_now().await;
        drop(leader);
        assert!(follower.await.unwrap());
        let q = v.lock();
        assert!(q.jobs.is_empty() && !q.led);
    }

    #[test]
    fn caller_keys_are_cached_bounded_and_checked() {
        let keys = CallerKeys::new(2);
        let hex: Vec<String> = (0..3u8)
            .map(|i| NeuronKey::from_seed([i; 32]).public_hex())
            .collect();
        for h in &hex {
            assert_eq!(keys.get(h).unwrap().to_hex(), *h);
            assert!(keys.lock().len() <= 2);
        }
        assert_eq!(keys.get(&hex[2]).unwrap().to_hex(), hex[2]);
        // The identity point is a valid encoding but of small order: refused, not cached.
        let weak = format!("0x01{}", "00".repeat(31));
        assert!(keys.get(&weak).is_err());
        assert!(!keys.lock().contains_key(&weak));
        assert!(keys.get("0xnothex").is_err());
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
