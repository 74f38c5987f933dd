//! The client side: the [`NodeClient`] trait (the embedded node's RPC surface: transactions in its own format) and [`RpcChain`],
//! its implementation over jsonrpsee's WebSocket client. [`NodeClientExt`] adds one signed,
//! receipt-checked call per operation on top of any `NodeClient`.
//!
//! Cancel-safety: every method is a single request/response; dropping a future abandons the
//! request (a submitted transaction may still be included — check its nonce or receipt).

use crate::axon::{AxonEndpoint, AxonIdentity};
use crate::block::{Header, Receipt};
use crate::error::ChainError;
use crate::hash::Hash;
use crate::hparams::{HyperparamKey, Hyperparams};
use crate::keys::{AccountId, Keypair};
use crate::metagraph::Metagraph;
use crate::rpc::ChainApiClient;
use crate::tx::{Call, SignedTx, commit_hash, solve_pow};
use async_trait::async_trait;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long `submit` waits for inclusion (a few block times at 1 s blocks).
pub const SUBMIT_WAIT: Duration = Duration::from_secs(30);
/// Heads buffered client-side per subscription.
pub const SUBSCRIPTION_BUFFER: usize = 64;

#[async_trait]
pub trait NodeClient: Send + Sync {
    /// The genesis hash transactions must be signed for.
    async fn genesis_hash(&self) -> Result<Hash, ChainError>;
    /// The nonce the next transaction of `account` must carry (pending ones counted).
    async fn nonce(&self, account: &AccountId) -> Result<u64, ChainError>;
    /// Submits a signed transaction and waits until it is in a block. A receipt with an
    /// `error` means the block included it but a rule rejected it.
    async fn submit(&self, tx: &SignedTx) -> Result<Receipt, ChainError>;
    /// Submits without waiting; returns the transaction hash.
    async fn submit_nowait(&self, tx: &SignedTx) -> Result<Hash, ChainError>;
    async fn metagraph(&self, netuid: u16) -> Result<Metagraph, ChainError>;
    async fn hyperparams(&self, netuid: u16) -> Result<Hyperparams, ChainError>;
    async fn subnets(&self) -> Result<Vec<u16>, ChainError>;
    /// The head header, or block `number`'s.
    async fn block(&self, number: Option<u64>) -> Result<Option<Header>, ChainError>;
    async fn balance(&self, account: &AccountId) -> Result<u64, ChainError>;
    async fn stake(&self, coldkey: &AccountId, hotkey: &AccountId) -> Result<u64, ChainError>;
    /// New heads as they are sealed (bounded; the stream ends if the node drops us).
    async fn subscribe(&self) -> Result<mpsc::Receiver<Header>, ChainError>;
    /// Instant-mode nodes only: seal a block now.
    async fn produce_block(&self) -> Result<Header, ChainError>;
}

/// A [`NodeClient`] over JSON-RPC (WebSocket).
pub struct RpcChain {
    pub(crate) client: WsClient,
    pub(crate) endpoint: String,
}

fn remote(op: &'static str) -> impl Fn(jsonrpsee::core::client::Error) -> ChainError {
    move |e| match e {
        // Kinds a caller acts on come back as themselves.
        jsonrpsee::core::client::Error::Call(obj)
            if obj.code() == ChainError::FaucetDisabled.rpc_code() =>
        {
            ChainError::FaucetDisabled
        }
        jsonrpsee::core::client::Error::Call(obj) => ChainError::Remote {
            code: obj.code(),
            message: obj.message().to_string(),
        },
        jsonrpsee::core::client::Error::RequestTimeout => ChainError::Timeout {
            what: op,
            millis: 0,
        },
        e => ChainError::rpc(op, e),
    }
}

impl RpcChain {
    /// Connects to `ws://host:port` (an `http://` URL or a bare `host:port` is accepted too).
    pub async fn connect(endpoint: &str) -> Result<Self, ChainError> {
        let url = if let Some(rest) = endpoint.strip_prefix("http://") {
            format!("ws://{rest}")
        } else if endpoint.contains("://") {
            endpoint.to_string()
        } else {
            format!("ws://{endpoint}")
        };
        let client = WsClientBuilder::default()
            .request_timeout(SUBMIT_WAIT + Duration::from_secs(10))
            .connection_timeout(Duration::from_secs(10))
            .max_request_size(256 * 1024)
            .max_response_size(64 * 1024 * 1024)
            .max_buffer_capacity_per_subscription(SUBSCRIPTION_BUFFER)
            .build(&url)
            .await
            .map_err(|e| {
                ChainError::rpc(
                    "connect",
                    format!("{url}: {e} (is the node running? check --chain_endpoint)"),
                )
            })?;
        Ok(Self {
            client,
            endpoint: url,
        })
    }
}

fn hex_hash(s: &str) -> Result<Hash, ChainError> {
    let v = hex::decode(s).map_err(|e| ChainError::Decode(format!("hash hex from node: {e}")))?;
    v.try_into()
        .map_err(|_| ChainError::Decode("hash from node is not 32 bytes".into()))
}

#[async_trait]
impl NodeClient for RpcChain {
    async fn genesis_hash(&self) -> Result<Hash, ChainError> {
        hex_hash(
            &self
                .client
                .genesis_hash()
                .await
                .map_err(remote("genesis_hash"))?,
        )
    }
    async fn nonce(&self, account: &AccountId) -> Result<u64, ChainError> {
        self.client.nonce(*account).await.map_err(remote("nonce"))
    }
    async fn submit(&self, tx: &SignedTx) -> Result<Receipt, ChainError> {
        let ms = u64::try_from(SUBMIT_WAIT.as_millis()).unwrap_or(u64::MAX);
        self.client
            .submit_and_wait(hex::encode(tx.encode()), ms)
            .await
            .map_err(remote("submit"))
    }
    async fn submit_nowait(&self, tx: &SignedTx) -> Result<Hash, ChainError> {
        hex_hash(
            &self
                .client
                .submit(hex::encode(tx.encode()))
                .await
                .map_err(remote("submit"))?,
        )
    }
    async fn metagraph(&self, netuid: u16) -> Result<Metagraph, ChainError> {
        self.client
            .metagraph(netuid)
            .await
            .map_err(remote("metagraph"))
    }
    async fn hyperparams(&self, netuid: u16) -> Result<Hyperparams, ChainError> {
        self.client
            .hyperparams(netuid)
            .await
            .map_err(remote("hyperparams"))
    }
    async fn subnets(&self) -> Result<Vec<u16>, ChainError> {
        self.client.subnets().await.map_err(remote("subnets"))
    }
    async fn block(&self, number: Option<u64>) -> Result<Option<Header>, ChainError> {
        self.client.header(number).await.map_err(remote("header"))
    }
    async fn balance(&self, account: &AccountId) -> Result<u64, ChainError> {
        self.client
            .balance(*account)
            .await
            .map_err(remote("balance"))
    }
    async fn stake(&self, coldkey: &AccountId, hotkey: &AccountId) -> Result<u64, ChainError> {
        self.client
            .stake(*coldkey, *hotkey)
            .await
            .map_err(remote("stake"))
    }
    async fn subscribe(&self) -> Result<mpsc::Receiver<Header>, ChainError> {
        let mut sub = self
            .client
            .subscribe_heads()
            .await
            .map_err(remote("subscribe"))?;
        let (tx, rx) = mpsc::channel(SUBSCRIPTION_BUFFER);
        tokio::spawn(async move {
            while let Some(Ok(h)) = sub.next().await {
                if tx.send(h).await.is_err() {
                    break;
                }
            }
        });
        Ok(rx)
    }
    async fn produce_block(&self) -> Result<Header, ChainError> {
        self.client
            .produce_block()
            .await
            .map_err(remote("produce_block"))
    }
}

pub(crate) fn ok(r: Receipt) -> Result<Receipt, ChainError> {
    match r.error {
        Some(reason) => Err(ChainError::TxFailed {
            block: r.block,
            reason,
        }),
        None => Ok(r),
    }
}

/// One signed call per operation, for any [`NodeClient`]. Each fetches the nonce, signs for the
/// chain's genesis, waits for inclusion and turns a failed receipt into `TxFailed`.
#[async_trait]
pub trait NodeClientExt: NodeClient {
    async fn call(&self, key: &Keypair, call: Call) -> Result<Receipt, ChainError> {
        let genesis = self.genesis_hash().await?;
        let nonce = self.nonce(&key.account()).await?;
        ok(self
            .submit(&SignedTx::sign(key, nonce, call, &genesis))
            .await?)
    }
    async fn faucet(&self, coldkey: &Keypair) -> Result<Receipt, ChainError> {
        self.call(coldkey, Call::Faucet).await
    }
    async fn transfer(
        &self,
        coldkey: &Keypair,
        dest: AccountId,
        amount: u64,
    ) -> Result<Receipt, ChainError> {
        self.call(coldkey, Call::Transfer { dest, amount }).await
    }
    /// Creates a subnet owned by `coldkey` with `owner_hotkey` at uid 0; returns its netuid.
    async fn create_subnet(
        &self,
        coldkey: &Keypair,
        owner_hotkey: &AccountId,
    ) -> Result<u16, ChainError> {
        let before = self.subnets().await?;
        self.call(
            coldkey,
            Call::CreateSubnet {
                owner_hotkey: *owner_hotkey,
            },
        )
        .await?;
        for netuid in self.subnets().await?.into_iter().rev() {
            if !before.contains(&netuid)
                && self.metagraph(netuid).await?.owner_coldkey == coldkey.account()
            {
                return Ok(netuid);
            }
        }
        Err(ChainError::SubnetNotFound(0))
    }
    async fn set_hyperparam(
        &self,
        coldkey: &Keypair,
        netuid: u16,
        key: HyperparamKey,
        value: u64,
    ) -> Result<Receipt, ChainError> {
        self.call(coldkey, Call::SetHyperparam { netuid, key, value })
            .await
    }
    /// Burned registration paid by `coldkey`; returns the hotkey's uid.
    async fn burned_register(
        &self,
        coldkey: &Keypair,
        netuid: u16,
        hotkey: &AccountId,
    ) -> Result<u16, ChainError> {
        self.call(
            coldkey,
            Call::BurnedRegister {
                netuid,
                hotkey: *hotkey,
            },
        )
        .await?;
        uid_of(self, netuid, hotkey).await
    }
    /// Proof-of-work registration signed by `hotkey` (the work runs on the blocking pool).
    async fn pow_register(
        &self,
        hotkey: &Keypair,
        netuid: u16,
        coldkey: &AccountId,
    ) -> Result<u16, ChainError> {
        let difficulty = self.hyperparams(netuid).await?.difficulty;
        let head = self
            .block(None)
            .await?
            .ok_or(ChainError::rpc("pow_register", "node has no head"))?;
        let (hash, who) = (head.hash(), hotkey.account());
        let nonce = tokio::task::spawn_blocking(move || {
            solve_pow(&hash, &who, difficulty, difficulty.saturating_mul(64))
        })
        .await
        .map_err(|_| ChainError::ShuttingDown)?
        .ok_or(ChainError::InsufficientWork { difficulty })?;
        let call = Call::PowRegister {
            netuid,
            coldkey: *coldkey,
            block_number: head.number,
            work_nonce: nonce,
        };
        self.call(hotkey, call).await?;
        uid_of(self, netuid, &who).await
    }
    async fn add_stake(
        &self,
        coldkey: &Keypair,
        hotkey: &AccountId,
        amount: u64,
    ) -> Result<Receipt, ChainError> {
        self.call(
            coldkey,
            Call::AddStake {
                hotkey: *hotkey,
                amount,
            },
        )
        .await
    }
    async fn remove_stake(
        &self,
        coldkey: &Keypair,
        hotkey: &AccountId,
        amount: u64,
    ) -> Result<Receipt, ChainError> {
        self.call(
            coldkey,
            Call::RemoveStake {
                hotkey: *hotkey,
                amount,
            },
        )
        .await
    }
    /// Publishes `hotkey`'s axon on `netuid` with its Ed25519 keys (sign `identity` for this
    /// hotkey and netuid with [`AxonIdentity::sign`]).
    async fn serve_axon(
        &self,
        hotkey: &Keypair,
        netuid: u16,
        endpoint: AxonEndpoint,
        identity: AxonIdentity,
    ) -> Result<Receipt, ChainError> {
        let AxonEndpoint {
            ip,
            port,
            protocol,
            version,
        } = endpoint;
        let (ip, ip_type) = match ip {
            std::net::IpAddr::V4(v4) => (u128::from(u32::from(v4)), 4),
            std::net::IpAddr::V6(v6) => (u128::from(v6), 6),
        };
        self.call(
            hotkey,
            Call::ServeAxon {
                netuid,
                version,
                ip,
                port,
                ip_type,
                protocol,
                identity,
            },
        )
        .await
    }
    async fn set_weights(
        &self,
        hotkey: &Keypair,
        netuid: u16,
        uids: Vec<u16>,
        values: Vec<u16>,
        version_key: u64,
    ) -> Result<Receipt, ChainError> {
        self.call(
            hotkey,
            Call::SetWeights {
                netuid,
                uids,
                values,
                version_key,
            },
        )
        .await
    }
    /// Commits to weights; keep `salt` for the reveal.
    async fn commit_weights(
        &self,
        hotkey: &Keypair,
        netuid: u16,
        uids: &[u16],
        values: &[u16],
        salt: &[u8],
        version_key: u64,
    ) -> Result<Receipt, ChainError> {
        let commit = commit_hash(&hotkey.account(), netuid, uids, values, salt, version_key);
        self.call(hotkey, Call::CommitWeights { netuid, commit })
            .await
    }
    async fn reveal_weights(
        &self,
        hotkey: &Keypair,
        netuid: u16,
        uids: Vec<u16>,
        values: Vec<u16>,
        salt: Vec<u8>,
        version_key: u64,
    ) -> Result<Receipt, ChainError> {
        self.call(
            hotkey,
            Call::RevealWeights {
                netuid,
                uids,
                values,
                salt,
                version_key,
            },
        )
        .await
    }
    /// Waits (via the head subscription) until block `number` is sealed.
    async fn wait_for_block(&self, number: u64, timeout: Duration) -> Result<Header, ChainError> {
        let mut heads = self.subscribe().await?;
        if let Some(h) = self.block(Some(number)).await? {
            return Ok(h);
        }
        let wait = async {
            while let Some(h) = heads.recv().await {
                if h.number >= number {
                    return Ok(h);
                }
            }
            Err(ChainError::ShuttingDown)
        };
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| ChainError::Timeout {
                what: "block",
                millis,
            })?
    }
}

impl<T: NodeClient + ?Sized> NodeClientExt for T {}

async fn uid_of<C: NodeClient + ?Sized>(
    c: &C,
    netuid: u16,
    hotkey: &AccountId,
) -> Result<u16, ChainError> {
    c.metagraph(netuid)
        .await?
        .uid_of(hotkey)
        .ok_or(ChainError::NotRegistered {
            netuid,
            hotkey: *hotkey,
        })
}
