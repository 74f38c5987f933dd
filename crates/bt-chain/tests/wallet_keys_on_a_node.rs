//! Wallet keys from disk on a node made from operator options: faucet, subnet create, register
//! (burn and PoW), hyperparameters and the metagraph, end to end over RPC.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bt_chain::NodeClient as _;
use bt_chain::{
    BlockMode, ChainError, ChainNode, HyperparamKey, Keypair, NodeClientExt, NodeConfig,
    NodeOptions, RpcChain,
};
use bt_crypto::wallet::Wallet;
use std::path::Path;

fn wallet(root: &Path, name: &str, hotkey: &str) -> (Keypair, Keypair) {
    let (cold, hot) = Wallet::new(root, name, hotkey)
        .unwrap()
        .create_if_missing()
        .unwrap();
    (cold.into(), hot.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_keys_run_a_subnet_on_a_node_from_options() {
    let dir = tempfile::tempdir().unwrap();
    let wallets = dir.path().join("wallets");
    let (owner_cold, owner_hot) = wallet(&wallets, "owner", "default");
    let (miner_cold, miner_hot) = wallet(&wallets, "miner", "m1");

    let opts = NodeOptions {
        mode: BlockMode::Instant,
        rpc_addr: ([127, 0, 0, 1], 0).into(),
        tempo: Some(3),
        dev: true,
        db: Some(dir.path().join("db.redb")),
        genesis_seed: None,
    };
    let node = ChainNode::start(NodeConfig::from_options(opts).unwrap())
        .await
        .unwrap();
    let chain = RpcChain::connect(&node.local_addr().to_string())
        .await
        .unwrap();
    chain.faucet(&owner_cold).await.unwrap();
    chain.faucet(&miner_cold).await.unwrap();
    assert!(chain.balance(&owner_cold.account()).await.unwrap() > 0);
    let netuid = chain
        .create_subnet(&owner_cold, &owner_hot.account())
        .await
        .unwrap();
    assert_eq!(chain.hyperparams(netuid).await.unwrap().tempo, 3);
    let uid = chain
        .burned_register(&miner_cold, netuid, &miner_hot.account())
        .await
        .unwrap();
    assert_eq!(uid, 1);
    let (pow_cold, pow_hot) = wallet(&wallets, "pow", "default");
    assert_eq!(
        chain
            .pow_register(&pow_hot, netuid, &pow_cold.account())
            .await
            .unwrap(),
        2
    );

    chain
        .set_hyperparam(&owner_cold, netuid, HyperparamKey::ImmunityPeriod, 77)
        .await
        .unwrap();
    assert_eq!(chain.hyperparams(netuid).await.unwrap().immunity_period, 77);
    let err = chain
        .set_hyperparam(&miner_cold, netuid, HyperparamKey::Tempo, 5)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChainError::TxFailed { reason, .. } if reason.contains("not the owner")),
        "{err}"
    );

    let mg = chain.metagraph(netuid).await.unwrap();
    assert_eq!(mg.n, 3);
    assert_eq!(mg.uid_of(&pow_hot.account()), Some(2));
    node.shutdown().await;
}
