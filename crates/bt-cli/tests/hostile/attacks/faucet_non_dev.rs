//! The faucet minted 1000 TAO for anyone on every chain, `--dev` or not. Now a chain started
//! without `--dev` has none: the pool refuses `Faucet` as `FaucetDisabled` (nothing is
//! included, nothing minted), and `bittensor subnet faucet` says so and exits 2 (usage).

use std::time::Duration;

use bt_chain::{Call, ChainError, Keypair, NodeClient, NodeClientExt, SignedTx};
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};

use super::chain_node::ChainNode;
use super::target::bittensor;

/// Faucet calls from distinct keys.
pub const CALLS: u64 = 300;

pub struct Report {
    pub row: AttackRow,
    /// Calls refused as `FaucetDisabled`.
    pub refused: u64,
    /// Total free balance of the callers afterwards.
    pub minted: u64,
    /// Head block before and after (no block holds a refused call).
    pub blocks: (u64, u64),
    /// `bittensor subnet faucet`'s exit code and stderr.
    pub cli_code: Option<i32>,
    pub cli_stderr: String,
}

pub async fn run() -> Report {
    let node = ChainNode::start("chain-nodev", None, &[]).await;
    let chain = node.client().await;
    let pid = node.pid();
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    let honest = HonestLoad::start(Duration::from_millis(100), node.honest_caller().await);
    let head_before = chain.block(None).await.unwrap().unwrap().number;
    let gh = chain.genesis_hash().await.unwrap();
    let (mut refused, mut minted, mut bytes_sent) = (0u64, 0u64, 0u64);
    for i in 0..CALLS {
        let k = Keypair::dev(&format!("faucet-{i}"));
        // What each call sends: the transaction as hex.
        bytes_sent += 2 * SignedTx::sign(&k, 0, Call::Faucet, &gh).encode().len() as u64;
        match chain.faucet(&k).await {
            Err(ChainError::FaucetDisabled) => refused += 1,
            other => panic!("a non-dev chain answered the faucet with {other:?}"),
        }
        minted += chain.balance(&k.account()).await.unwrap();
    }
    let head_after = chain.block(None).await.unwrap().unwrap().number;
    let served = honest.stop().await;
    let after = ProcStatus::read(pid).unwrap();

    let wallets = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let mut cmd = bittensor();
        cmd.args(args)
            .env("BT_WALLET_PATH", wallets.path())
            .env("BT_CHAIN_ENDPOINT", &node.endpoint);
        cmd
    };
    let made = cli(&["wallet", "new", "--wallet_name", "w", "--no_password"])
        .output()
        .await
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let out = cli(&["subnet", "faucet", "--wallet_name", "w"])
        .output()
        .await
        .unwrap();
    let row = AttackRow::new(
        format!("chain: {CALLS} faucet calls on a chain without --dev"),
        bytes_sent,
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "{refused} refused FaucetDisabled, {minted} rao minted, CLI exit {:?}",
        out.status.code()
    ));
    Report {
        row,
        refused,
        minted,
        blocks: (head_before, head_after),
        cli_code: out.status.code(),
        cli_stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
