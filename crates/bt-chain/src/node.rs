//! The chain node: one authority that turns a bounded mempool into blocks, persists them and
//! serves them over JSON-RPC. The producer and the state it shares with the RPC server are in
//! `producer`; the server is in [`rpc`](crate::rpc).

use crate::error::ChainError;
use crate::genesis::Genesis;
use crate::producer::producer_loop;
use crate::rpc;
use crate::store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use crate::producer::{BlockMode, HEAD_BUFFER, Shared};
pub use crate::rpc::RpcLimits;

#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// redb file; `None` keeps everything in memory.
    pub db: Option<PathBuf>,
    pub genesis: Genesis,
    pub mode: BlockMode,
    /// Where the JSON-RPC server (HTTP and WebSocket) listens; port 0 picks one.
    pub rpc_addr: SocketAddr,
    pub mempool_capacity: usize,
    /// Pending transactions one account may have, so a single signer cannot fill the mempool.
    pub max_pending_per_account: usize,
    pub rpc: RpcLimits,
}

impl NodeConfig {
    /// Defaults: 1 s blocks, in memory, 127.0.0.1:9944, local-dev genesis with tempo 360.
    pub fn new(genesis: Genesis) -> Self {
        Self {
            db: None,
            genesis,
            mode: BlockMode::Interval(Duration::from_secs(1)),
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], 9944)),
            mempool_capacity: 8192,
            max_pending_per_account: 1024,
            rpc: RpcLimits::default(),
        }
    }

    /// In-memory, instant blocks, `Genesis::local_dev(tempo)`, on 127.0.0.1 port 0: for tests.
    pub fn instant_in_memory(tempo: u16) -> Self {
        Self {
            mode: BlockMode::Instant,
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Self::new(Genesis::local_dev(tempo))
        }
    }
}

/// A running node. Dropping it without `shutdown` leaves the threads running until the
/// runtime ends; call `shutdown` for a clean stop.
pub struct ChainNode {
    shared: Arc<Shared>,
    addr: SocketAddr,
    rpc: jsonrpsee::server::ServerHandle,
    producer: Option<std::thread::JoinHandle<()>>,
}

impl ChainNode {
    /// Opens the database (creating the genesis if new), starts the producer and the RPC server.
    pub async fn start(config: NodeConfig) -> Result<Self, ChainError> {
        let db = config.db.clone();
        let g = config.genesis.clone();
        let (store, state) = tokio::task::spawn_blocking(move || Store::open(db.as_deref(), &g))
            .await
            .map_err(|e| ChainError::Io {
                op: "open store",
                reason: e.to_string(),
            })??;
        let store = Arc::new(store);
        let head = store
            .block(state.block)?
            .ok_or(ChainError::Storage {
                op: "load head",
                reason: format!("block {} missing", state.block),
            })?
            .header;
        let (shared, rx) = Shared::new(
            store.genesis().clone(),
            config.mode,
            store,
            state,
            head,
            config.mempool_capacity,
            config.max_pending_per_account,
        );
        let (rpc, addr) = rpc::serve(shared.clone(), config.rpc_addr, &config.rpc).await?;
        let sh = shared.clone();
        let producer = std::thread::Builder::new()
            .name("bt-chain-producer".into())
            .spawn(move || producer_loop(sh, rx))
            .map_err(|e| ChainError::Io {
                op: "spawn producer thread",
                reason: e.to_string(),
            })?;
        tracing::info!(%addr, genesis = %hex::encode(shared.genesis_hash), "chain node started");
        Ok(Self {
            shared,
            addr,
            rpc,
            producer: Some(producer),
        })
    }

    /// The RPC address (`http://` and `ws://` both work on it).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// In-process access to the node (state snapshots, submit, produce).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops the RPC server and the producer; the last committed block stays on disk.
    pub async fn shutdown(mut self) {
        let _ = self.rpc.stop();
        self.rpc.clone().stopped().await;
        let shared = self.shared.clone();
        let _ = tokio::task::spawn_blocking(move || shared.stop_producer()).await;
        if let Some(p) = self.producer.take() {
            let _ = tokio::task::spawn_blocking(move || p.join()).await;
        }
    }
}
