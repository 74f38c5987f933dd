//! The JSON-RPC interface (namespace `chain`), served over HTTP and WebSocket on one port.
//!
//! Transactions travel as hex of their canonical bytes (`chain_submit`, `chain_submitAndWait`);
//! queries return JSON. `chain_subscribeHeads` (WebSocket) streams new block headers. Limits:
//! request and response sizes, connections, subscriptions per connection and per-connection
//! message buffers come from [`RpcLimits`].
//!
//! | method | params | result |
//! |---|---|---|
//! | `chain_genesisHash` | | hex |
//! | `chain_submit` | tx hex | tx hash hex |
//! | `chain_submitAndWait` | tx hex, timeout ms (≤ 60000) | `Receipt` |
//! | `chain_receipt` | tx hash hex | `Receipt` or null |
//! | `chain_blockNumber` | | u64 |
//! | `chain_blockHash` | number | hex or null |
//! | `chain_header` | number or null (head) | `Header` or null |
//! | `chain_nonce` / `chain_balance` | SS58 | u64 (nonce counts pending txs) |
//! | `chain_stake` | coldkey, hotkey | u64 |
//! | `chain_subnets` | | [netuid] |
//! | `chain_metagraph` | netuid | `Metagraph` |
//! | `chain_hyperparams` | netuid | `Hyperparams` |
//! | `chain_produceBlock` | | `Header` (instant mode only) |
//! | `chain_subscribeHeads` | | stream of `Header` |

use crate::block::{Header, Receipt};
use crate::error::ChainError;
use crate::hash::Hash;
use crate::hparams::Hyperparams;
use crate::keys::AccountId;
use crate::metagraph::Metagraph;
use crate::producer::Shared;
use crate::tx::SignedTx;
use jsonrpsee::core::{RpcResult, SubscriptionResult, async_trait};
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::server::{
    PendingSubscriptionSink, Server, ServerConfig, ServerHandle, SubscriptionMessage,
};
use jsonrpsee::types::ErrorObjectOwned;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, oneshot};

/// Longest a `submitAndWait` may hold a request open.
pub const MAX_WAIT_MS: u64 = 60_000;

/// Limits of the RPC server.
#[derive(Clone, Debug)]
pub struct RpcLimits {
    pub max_request_bytes: u32,
    pub max_response_bytes: u32,
    pub max_connections: u32,
    pub max_subscriptions_per_connection: u32,
    /// Messages buffered per connection (jsonrpsee's message buffer).
    pub message_buffer: u32,
}

impl Default for RpcLimits {
    fn default() -> Self {
        Self {
            // A hex-encoded maximal transaction plus JSON framing.
            max_request_bytes: 256 * 1024,
            // A full metagraph with dense weights and bonds (4096² entries would not fit, but
            // 256 uids with dense rows do).
            max_response_bytes: 64 * 1024 * 1024,
            max_connections: 256,
            max_subscriptions_per_connection: 16,
            message_buffer: 256,
        }
    }
}

#[rpc(server, client, namespace = "chain")]
pub trait ChainApi {
    #[method(name = "genesisHash")]
    async fn genesis_hash(&self) -> RpcResult<String>;
    #[method(name = "submit")]
    async fn submit(&self, tx_hex: String) -> RpcResult<String>;
    #[method(name = "submitAndWait")]
    async fn submit_and_wait(&self, tx_hex: String, timeout_ms: u64) -> RpcResult<Receipt>;
    #[method(name = "receipt")]
    async fn receipt(&self, tx_hash: String) -> RpcResult<Option<Receipt>>;
    #[method(name = "blockNumber")]
    async fn block_number(&self) -> RpcResult<u64>;
    #[method(name = "blockHash")]
    async fn block_hash(&self, number: u64) -> RpcResult<Option<String>>;
    #[method(name = "header")]
    async fn header(&self, number: Option<u64>) -> RpcResult<Option<Header>>;
    #[method(name = "nonce")]
    async fn nonce(&self, account: AccountId) -> RpcResult<u64>;
    #[method(name = "balance")]
    async fn balance(&self, account: AccountId) -> RpcResult<u64>;
    #[method(name = "stake")]
    async fn stake(&self, coldkey: AccountId, hotkey: AccountId) -> RpcResult<u64>;
    #[method(name = "subnets")]
    async fn subnets(&self) -> RpcResult<Vec<u16>>;
    #[method(name = "metagraph")]
    async fn metagraph(&self, netuid: u16) -> RpcResult<Metagraph>;
    #[method(name = "hyperparams")]
    async fn hyperparams(&self, netuid: u16) -> RpcResult<Hyperparams>;
    #[method(name = "produceBlock")]
    async fn produce_block(&self) -> RpcResult<Header>;
    #[subscription(name = "subscribeHeads" => "head", unsubscribe = "unsubscribeHeads", item = Header)]
    async fn subscribe_heads(&self) -> SubscriptionResult;
}

pub(crate) fn to_rpc(e: ChainError) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(e.rpc_code(), e.to_string(), None::<()>)
}

fn parse_hash(s: &str) -> Result<Hash, ChainError> {
    let v = hex::decode(s.trim_start_matches("0x"))
        .map_err(|e| ChainError::Decode(format!("hash hex: {e}")))?;
    v.try_into()
        .map_err(|_| ChainError::Decode("hash must be 32 bytes".into()))
}

fn parse_tx(tx_hex: &str) -> Result<SignedTx, ChainError> {
    let s = tx_hex.trim_start_matches("0x");
    if s.len() > 2 * crate::codec::MAX_TX_BYTES {
        return Err(ChainError::TxTooLarge {
            size: s.len() / 2,
            max: crate::codec::MAX_TX_BYTES,
        });
    }
    let raw = hex::decode(s).map_err(|e| ChainError::Decode(format!("tx hex: {e}")))?;
    SignedTx::decode(&raw)
}

struct RpcImpl {
    shared: Arc<Shared>,
}

#[async_trait]
impl ChainApiServer for RpcImpl {
    async fn genesis_hash(&self) -> RpcResult<String> {
        Ok(hex::encode(self.shared.genesis_hash()))
    }

    async fn submit(&self, tx_hex: String) -> RpcResult<String> {
        let tx = parse_tx(&tx_hex).map_err(to_rpc)?;
        let h = self.shared.submit(tx, None).await.map_err(to_rpc)?;
        Ok(hex::encode(h))
    }

    async fn submit_and_wait(&self, tx_hex: String, timeout_ms: u64) -> RpcResult<Receipt> {
        let tx = parse_tx(&tx_hex).map_err(to_rpc)?;
        let (w, rx) = oneshot::channel();
        self.shared.submit(tx, Some(w)).await.map_err(to_rpc)?;
        let ms = timeout_ms.min(MAX_WAIT_MS);
        match tokio::time::timeout(Duration::from_millis(ms), rx).await {
            Ok(Ok(r)) => r.map_err(to_rpc),
            Ok(Err(_)) => Err(to_rpc(ChainError::ShuttingDown)),
            Err(_) => Err(to_rpc(ChainError::Timeout {
                what: "transaction inclusion",
                millis: ms,
            })),
        }
    }

    async fn receipt(&self, tx_hash: String) -> RpcResult<Option<Receipt>> {
        let h = parse_hash(&tx_hash).map_err(to_rpc)?;
        let store = self.shared.store.clone();
        tokio::task::spawn_blocking(move || store.receipt(&h))
            .await
            .map_err(|_| to_rpc(ChainError::ShuttingDown))?
            .map_err(to_rpc)
    }

    async fn block_number(&self) -> RpcResult<u64> {
        Ok(self.shared.head().number)
    }

    async fn block_hash(&self, number: u64) -> RpcResult<Option<String>> {
        Ok(self
            .header(Some(number))
            .await?
            .map(|h| hex::encode(h.hash())))
    }

    async fn header(&self, number: Option<u64>) -> RpcResult<Option<Header>> {
        let head = self.shared.head();
        let Some(n) = number else {
            return Ok(Some(head));
        };
        if n == head.number {
            return Ok(Some(head));
        }
        if n > head.number {
            return Ok(None);
        }
        let store = self.shared.store.clone();
        tokio::task::spawn_blocking(move || store.block(n))
            .await
            .map_err(|_| to_rpc(ChainError::ShuttingDown))?
            .map(|b| b.map(|b| b.header))
            .map_err(to_rpc)
    }

    async fn nonce(&self, account: AccountId) -> RpcResult<u64> {
        Ok(self.shared.next_nonce(&account))
    }

    async fn balance(&self, account: AccountId) -> RpcResult<u64> {
        Ok(self.shared.state().balance(&account))
    }

    async fn stake(&self, coldkey: AccountId, hotkey: AccountId) -> RpcResult<u64> {
        Ok(self.shared.state().stake_of(&coldkey, &hotkey))
    }

    async fn subnets(&self) -> RpcResult<Vec<u16>> {
        Ok(self.shared.state().subnets.keys().copied().collect())
    }

    async fn metagraph(&self, netuid: u16) -> RpcResult<Metagraph> {
        Metagraph::from_state(&self.shared.state(), netuid).map_err(to_rpc)
    }

    async fn hyperparams(&self, netuid: u16) -> RpcResult<Hyperparams> {
        Ok(self
            .shared
            .state()
            .subnet(netuid)
            .map_err(to_rpc)?
            .hparams
            .clone())
    }

    async fn produce_block(&self) -> RpcResult<Header> {
        self.shared.produce_block().await.map_err(to_rpc)
    }

    async fn subscribe_heads(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        let mut rx = self.shared.heads.subscribe();
        let sink = pending.accept().await?;
        loop {
            tokio::select! {
                _ = sink.closed() => return Ok(()),
                next = rx.recv() => match next {
                    Ok(h) => {
                        let raw = serde_json::value::to_raw_value(&h)?;
                        if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                            return Ok(());
                        }
                    }
                    // A subscriber that cannot keep up is cut off rather than buffered.
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        return Err(format!("subscriber fell {n} heads behind and was dropped").into());
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                }
            }
        }
    }
}

pub(crate) async fn serve(
    shared: Arc<Shared>,
    addr: SocketAddr,
    limits: &RpcLimits,
) -> Result<(ServerHandle, SocketAddr), ChainError> {
    let cfg = ServerConfig::builder()
        .max_request_body_size(limits.max_request_bytes)
        .max_response_body_size(limits.max_response_bytes)
        .max_connections(limits.max_connections)
        .max_subscriptions_per_connection(limits.max_subscriptions_per_connection)
        .set_message_buffer_capacity(limits.message_buffer)
        .build();
    let server = Server::builder()
        .set_config(cfg)
        .build(addr)
        .await
        .map_err(|e| ChainError::Io {
            op: "bind rpc",
            reason: format!("{addr}: {e} (choose another --port)"),
        })?;
    let local = server.local_addr().map_err(|e| ChainError::Io {
        op: "rpc local_addr",
        reason: e.to_string(),
    })?;
    let handle = server.start(RpcImpl { shared }.into_rpc());
    Ok((handle, local))
}
