//! A local chain with fast blocks and one subnet whose owner hotkey is the validator's, with
//! stake on it; helpers to build neuron settings that collect their progress lines.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bt_chain::{
    AxonEndpoint, AxonIdentity, BlockMode, ChainNode, Genesis, Keypair, NodeClientExt, NodeConfig,
    RAO_PER_TAO, RpcChain,
};
use bt_crypto::NeuronKey;
use bt_neuron::subnet::{NeuronSettings, Progress};

pub const TEMPO: u16 = 4;
pub const BLOCK_TIME: Duration = Duration::from_millis(150);

pub struct Net {
    pub node: ChainNode,
    pub endpoint: String,
    pub chain: RpcChain,
    pub netuid: u16,
    pub validator_hot: Keypair,
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl Net {
    pub async fn start() -> Self {
        let mut cfg = NodeConfig::new(Genesis::local_dev(TEMPO));
        cfg.mode = BlockMode::Interval(BLOCK_TIME);
        cfg.rpc_addr = ([127, 0, 0, 1], 0).into();
        let node = ChainNode::start(cfg).await.unwrap();
        let endpoint = node.local_addr().to_string();
        let chain = RpcChain::connect(&endpoint).await.unwrap();
        let owner = Keypair::dev("owner");
        let validator_hot = Keypair::dev("validator-hot");
        chain.faucet(&owner).await.unwrap();
        let netuid = chain
            .create_subnet(&owner, &validator_hot.account())
            .await
            .unwrap();
        chain
            .add_stake(&owner, &validator_hot.account(), 100 * RAO_PER_TAO)
            .await
            .unwrap();
        Self {
            node,
            endpoint,
            chain,
            netuid,
            validator_hot,
            lines: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Settings for a neuron whose keys derive from `n`; its lines are collected in `lines`.
    pub fn settings(&self, hotkey: Keypair, n: u8) -> NeuronSettings {
        let mut s = NeuronSettings::new(
            bt_neuron::chain_target::ChainTarget::Embedded(self.endpoint.clone()),
            self.netuid,
            hotkey,
            NeuronKey::from_seed([n; 32]),
            NeuronKey::from_seed([n.wrapping_add(100); 32]).public(),
        );
        s.refresh_interval = Duration::from_millis(150);
        s.chain_timeout = Duration::from_secs(10);
        s.axon.workers = 2;
        let lines = self.lines.clone();
        let progress: Progress = Arc::new(move |l: &str| lines.lock().unwrap().push(l.to_string()));
        s.progress = progress;
        s
    }

    /// A funded coldkey so a miner can register itself.
    pub async fn funded_coldkey(&self, name: &str) -> Keypair {
        let cold = Keypair::dev(name);
        self.chain.faucet(&cold).await.unwrap();
        cold
    }

    /// Binds the validator's neuron key to its hotkey on the chain, as its own axon would, so
    /// that miners admit its requests once the epoch gives it a permit.
    pub async fn bind_validator_key(&self, key: &NeuronKey) {
        self.chain
            .serve_axon(
                &self.validator_hot,
                self.netuid,
                AxonEndpoint {
                    ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                    port: 9,
                    protocol: 4,
                    version: 1,
                },
                AxonIdentity::sign(
                    key,
                    &self.validator_hot.account(),
                    self.netuid,
                    &NeuronKey::from_seed([77; 32]).public(),
                ),
            )
            .await
            .unwrap();
    }

    pub fn dump(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

/// Polls `probe` every 50 ms until it yields a value, or gives up after `timeout` (the
/// harness's one polling loop, with the error as text for the tests' messages).
pub async fn poll<T, F, Fut>(timeout: Duration, probe: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    bt_testnet::eventually_async_some(timeout, Duration::from_millis(50), probe)
        .await
        .map_err(|e| e.to_string())
}
