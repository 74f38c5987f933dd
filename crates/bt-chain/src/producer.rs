//! The block producer and the state it shares with the RPC handlers.
//!
//! Threads: the block producer is a plain OS thread (it applies blocks and fsyncs, both
//! blocking) fed by a bounded `sync_channel` — that channel *is* the mempool, so a full mempool
//! answers `MempoolFull` instead of growing. RPC handlers run on tokio, verify signatures on the
//! blocking pool and read an `Arc` snapshot of the state that the producer swaps after each
//! block. New heads go out on a bounded broadcast channel; a subscriber that falls behind is
//! dropped, never buffered without limit.

use crate::admission::precheck;
use crate::block::{Header, MAX_BLOCK_TXS, Receipt, apply_block, check_nonce};
use crate::error::ChainError;
use crate::genesis::Genesis;
use crate::hash::Hash;
use crate::keys::AccountId;
use crate::state::ChainState;
use crate::store::Store;
use crate::tx::SignedTx;
use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, oneshot};

/// Most callers waiting for a receipt at once.
const MAX_WAITERS: usize = 65_536;
/// Heads buffered per subscriber before it is considered too slow and dropped.
pub const HEAD_BUFFER: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockMode {
    /// A block every interval (empty blocks included), like a real chain.
    Interval(Duration),
    /// A block as soon as transactions arrive, or when asked (`produce_block`); for tests.
    Instant,
}

pub(crate) enum Msg {
    Tx(Box<SignedTx>, Hash),
    Produce(oneshot::Sender<Result<Header, ChainError>>),
    Shutdown,
}

type Waiter = oneshot::Sender<Result<Receipt, ChainError>>;

/// What the RPC handlers and the producer share.
pub struct Shared {
    pub(crate) genesis: Genesis,
    pub(crate) genesis_hash: Hash,
    pub(crate) mode: BlockMode,
    state: RwLock<Arc<ChainState>>,
    head: RwLock<Header>,
    pub(crate) store: Arc<Store>,
    inbox: SyncSender<Msg>,
    mempool_capacity: usize,
    max_pending_per_account: usize,
    pending_nonce: Mutex<HashMap<AccountId, u64>>,
    waiters: Mutex<HashMap<Hash, Waiter>>,
    pub(crate) heads: broadcast::Sender<Header>,
    /// Set when the producer stopped on a storage error; submissions fail with it.
    fatal: Mutex<Option<ChainError>>,
    /// Transactions included in blocks this node sealed since it started.
    pub(crate) txs_included: std::sync::atomic::AtomicU64,
    /// Transactions a sealed block left out (their error went to the submitter).
    pub(crate) txs_rejected: std::sync::atomic::AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking holder cannot leave these maps inconsistent (single inserts/removes).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// The shared state of a node whose store holds `state` and `head`, and the receiving end
    /// of its mempool, for [`producer_loop`].
    pub(crate) fn new(
        genesis: Genesis,
        mode: BlockMode,
        store: Arc<Store>,
        state: ChainState,
        head: Header,
        mempool_capacity: usize,
        max_pending_per_account: usize,
    ) -> (Arc<Self>, Receiver<Msg>) {
        let (inbox, rx) = sync_channel(mempool_capacity.max(1));
        let (heads, _) = broadcast::channel(HEAD_BUFFER);
        let shared = Arc::new(Self {
            genesis,
            genesis_hash: store.genesis_hash(),
            mode,
            state: RwLock::new(Arc::new(state)),
            head: RwLock::new(head),
            store,
            inbox,
            mempool_capacity,
            max_pending_per_account: max_pending_per_account.max(1),
            pending_nonce: Mutex::new(HashMap::new()),
            waiters: Mutex::new(HashMap::new()),
            heads,
            fatal: Mutex::new(None),
            txs_included: std::sync::atomic::AtomicU64::new(0),
            txs_rejected: std::sync::atomic::AtomicU64::new(0),
        });
        (shared, rx)
    }

    /// Asks the producer to stop. Blocks while the mempool is full: the producer drains it, so
    /// the send finishes.
    pub(crate) fn stop_producer(&self) {
        let _ = self.inbox.send(Msg::Shutdown);
    }

    pub fn state(&self) -> Arc<ChainState> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn head(&self) -> Header {
        self.head.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn genesis_hash(&self) -> Hash {
        self.genesis_hash
    }

    /// The nonce the next transaction of `who` must carry, counting pending ones.
    pub fn next_nonce(&self, who: &AccountId) -> u64 {
        let on_chain = self.state().nonce(who);
        lock(&self.pending_nonce)
            .get(who)
            .copied()
            .unwrap_or(0)
            .max(on_chain)
    }

    /// Admits a transaction into the mempool. With `waiter`, the receipt is sent there once the
    /// transaction is in a block (or the error if the producer leaves it out).
    pub async fn submit(
        self: &Arc<Self>,
        tx: SignedTx,
        waiter: Option<Waiter>,
    ) -> Result<Hash, ChainError> {
        if let Some(e) = lock(&self.fatal).clone() {
            return Err(e);
        }
        let gh = self.genesis_hash;
        // sr25519 verification is CPU work, costly next to the I/O around it (the chain bench:
        // README "Benchmarks", chain): keep it off the I/O threads.
        let tx = tokio::task::spawn_blocking(move || tx.verify(&gh).map(|_| tx))
            .await
            .map_err(|_| ChainError::ShuttingDown)??;
        let hash = tx.hash();
        let head = self.state();
        precheck(&head, &self.genesis, &tx.signer, &tx.call)?;
        let mut pending = lock(&self.pending_nonce);
        let on_chain = head.nonce(&tx.signer);
        let expected = pending.get(&tx.signer).copied().unwrap_or(0).max(on_chain);
        check_nonce(&tx, expected)?;
        if tx.nonce - on_chain >= self.max_pending_per_account as u64 {
            return Err(ChainError::TooManyPending {
                signer: tx.signer,
                max: self.max_pending_per_account,
            });
        }
        if let Some(w) = waiter {
            let mut waiters = lock(&self.waiters);
            if waiters.len() >= MAX_WAITERS {
                return Err(ChainError::MempoolFull {
                    capacity: MAX_WAITERS,
                });
            }
            waiters.insert(hash, w);
        }
        let signer = tx.signer;
        let next = tx.nonce.saturating_add(1);
        match self.inbox.try_send(Msg::Tx(Box::new(tx), hash)) {
            Ok(()) => {
                pending.insert(signer, next);
                Ok(hash)
            }
            Err(e) => {
                lock(&self.waiters).remove(&hash);
                Err(match e {
                    TrySendError::Full(_) => ChainError::MempoolFull {
                        capacity: self.mempool_capacity,
                    },
                    TrySendError::Disconnected(_) => ChainError::ShuttingDown,
                })
            }
        }
    }

    /// Instant mode: seal a block now (empty if nothing is pending).
    pub async fn produce_block(&self) -> Result<Header, ChainError> {
        if self.mode != BlockMode::Instant {
            return Err(ChainError::NotInstantMode("produce_block"));
        }
        let (tx, rx) = oneshot::channel();
        self.inbox.try_send(Msg::Produce(tx)).map_err(|e| match e {
            TrySendError::Full(_) => ChainError::MempoolFull {
                capacity: self.mempool_capacity,
            },
            TrySendError::Disconnected(_) => ChainError::ShuttingDown,
        })?;
        rx.await.map_err(|_| ChainError::ShuttingDown)?
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Runs the producer until it is told to stop, its mempool is gone or a block fails.
pub(crate) fn producer_loop(sh: Arc<Shared>, rx: Receiver<Msg>) {
    let mut batch: Vec<(SignedTx, Hash)> = Vec::new();
    let mut next_at = match sh.mode {
        BlockMode::Interval(d) => Some(Instant::now() + d),
        BlockMode::Instant => None,
    };
    loop {
        let mut reply = None;
        let mut stop = false;
        let msg = match next_at {
            Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            },
            None => match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => return,
            },
        };
        match msg {
            Some(Msg::Tx(tx, h)) => batch.push((*tx, h)),
            Some(Msg::Produce(r)) => reply = Some(r),
            Some(Msg::Shutdown) => stop = true,
            None => {}
        }
        let due = match (sh.mode, next_at) {
            (BlockMode::Interval(_), Some(at)) => Instant::now() >= at,
            _ => true,
        };
        if sh.mode == BlockMode::Instant && !stop {
            // Batch whatever else is already queued into the same block.
            while batch.len() < MAX_BLOCK_TXS {
                match rx.try_recv() {
                    Ok(Msg::Tx(tx, h)) => batch.push((*tx, h)),
                    Ok(Msg::Produce(r)) => {
                        if let Some(prev) = reply.replace(r) {
                            let _ = prev.send(Err(ChainError::ShuttingDown));
                        }
                    }
                    Ok(Msg::Shutdown) => {
                        stop = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        if stop {
            fail_all(&sh, batch.drain(..).map(|(_, h)| h));
            return;
        }
        let instant_ready = sh.mode == BlockMode::Instant && (!batch.is_empty() || reply.is_some());
        if !(due && (instant_ready || sh.mode != BlockMode::Instant)) {
            continue;
        }
        let take = batch.len().min(MAX_BLOCK_TXS);
        let txs: Vec<(SignedTx, Hash)> = batch.drain(..take).collect();
        let result = seal(&sh, txs);
        if let BlockMode::Interval(d) = sh.mode {
            next_at = Some(Instant::now() + d);
        }
        let failed = result.is_err();
        if let Some(r) = reply {
            let _ = r.send(result);
        } else if let Err(e) = result {
            tracing::error!(error = %e, "block production failed; the node stops producing");
        }
        if failed {
            fail_all(&sh, batch.drain(..).map(|(_, h)| h));
            return;
        }
    }
}

fn fail_all(sh: &Shared, hashes: impl Iterator<Item = Hash>) {
    let mut waiters = lock(&sh.waiters);
    for h in hashes {
        if let Some(w) = waiters.remove(&h) {
            let _ = w.send(Err(ChainError::ShuttingDown));
        }
    }
}

/// Applies, persists and publishes one block.
fn seal(sh: &Shared, txs: Vec<(SignedTx, Hash)>) -> Result<Header, ChainError> {
    let state = sh.state();
    let time = now_ms().max(state.time_ms.saturating_add(1));
    let candidates = txs.into_iter().map(|(t, _)| t).collect();
    let produced = match apply_block(
        &state,
        &sh.genesis,
        &sh.genesis_hash,
        candidates,
        time,
        false,
    )
    .and_then(|p| {
        sh.store
            .commit_block(&p.block, &state, &p.state, &p.receipts)
            .map(|_| p)
    }) {
        Ok(p) => p,
        Err(e) => {
            *lock(&sh.fatal) = Some(e.clone());
            return Err(e);
        }
    };
    let header = produced.block.header.clone();
    let new_state = Arc::new(produced.state);
    *sh.state.write().unwrap_or_else(|p| p.into_inner()) = new_state.clone();
    *sh.head.write().unwrap_or_else(|p| p.into_inner()) = header.clone();
    {
        let mut pending = lock(&sh.pending_nonce);
        pending.retain(|who, n| *n > new_state.nonce(who));
        for r in &produced.rejected {
            // A left-out transaction breaks its signer's nonce sequence: resync from the chain.
            pending.remove(&r.signer);
        }
    }
    // Publish the head before answering waiters: a client holding a receipt then never sees
    // that block's head arrive on a subscription it opened afterwards.
    let _ = sh.heads.send(header.clone());
    sh.txs_included.fetch_add(
        produced.block.txs.len() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    sh.txs_rejected.fetch_add(
        produced.rejected.len() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    {
        let mut waiters = lock(&sh.waiters);
        for r in &produced.receipts {
            if let Some(w) = waiters.remove(&r.tx_hash) {
                let _ = w.send(Ok(r.clone()));
            }
        }
        for r in produced.rejected {
            if let Some(w) = waiters.remove(&r.tx_hash) {
                let _ = w.send(Err(r.error));
            }
        }
    }
    tracing::debug!(
        number = header.number,
        txs = produced.block.txs.len(),
        "block sealed"
    );
    Ok(header)
}
