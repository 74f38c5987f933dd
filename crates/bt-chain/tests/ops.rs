//! The CLI-facing functions end to end: wallets on disk, a node from `chain_start`, subnet
//! create / register (burn and PoW) / hparams / metagraph.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bt_chain::ChainError;
use bt_chain::ops::{self, RegisterMethod, StartOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_flow_with_wallet_files() {
    let dir = tempfile::tempdir().unwrap();
    let wallets = dir.path().join("wallets");
    let (owner_cold, owner_hot) = ops::wallet_new(&wallets, "owner", "default").unwrap();
    let (miner_cold, miner_hot) = ops::wallet_new(&wallets, "miner", "m1").unwrap();
    // Loading gives the same keys.
    let (again, _) = ops::wallet_load(&wallets, "owner", "default").unwrap();
    assert_eq!(again.account(), owner_cold.account());
    let listed = ops::wallet_list(&wallets).unwrap();
    assert_eq!(
        listed.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
        ["miner", "owner"]
    );
    assert_eq!(listed[0].coldkey, Some(miner_cold.account()));
    assert_eq!(
        listed[0].hotkeys,
        vec![("m1".to_string(), miner_hot.account())]
    );

    let opts = StartOptions {
        instant: true,
        port: 0,
        tempo: Some(3),
        dev: true,
        db: Some(dir.path().join("db.redb")),
        ..Default::default()
    };
    let node = ops::chain_start(opts).await.unwrap();
    let ep = node.local_addr().to_string();
    assert!(ops::faucet(&ep, &owner_cold).await.unwrap() > 0);
    ops::faucet(&ep, &miner_cold).await.unwrap();
    let netuid = ops::subnet_create(&ep, &owner_cold, &owner_hot.account())
        .await
        .unwrap();
    let uid = ops::subnet_register(&ep, netuid, &miner_cold, &miner_hot, RegisterMethod::Burn)
        .await
        .unwrap();
    assert_eq!(uid, 1);
    let (pc, ph) = ops::wallet_new(&wallets, "pow", "default").unwrap();
    assert_eq!(
        ops::subnet_register(&ep, netuid, &pc, &ph, RegisterMethod::Pow)
            .await
            .unwrap(),
        2
    );

    ops::subnet_set_hparam(&ep, &owner_cold, netuid, "immunity_period", 77)
        .await
        .unwrap();
    assert_eq!(
        ops::subnet_hparams(&ep, netuid)
            .await
            .unwrap()
            .immunity_period,
        77
    );
    assert!(
        ops::format_hparams(&ops::subnet_hparams(&ep, netuid).await.unwrap())
            .contains("immunity_period")
    );
    assert!(matches!(
        ops::subnet_set_hparam(&ep, &owner_cold, netuid, "no_such_knob", 1).await,
        Err(ChainError::InvalidHyperparam { .. })
    ));
    let err = ops::subnet_set_hparam(&ep, &miner_cold, netuid, "tempo", 5)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChainError::TxFailed { reason, .. } if reason.contains("not the owner")),
        "{err}"
    );

    let mg = ops::subnet_metagraph(&ep, netuid).await.unwrap();
    assert_eq!(mg.n, 3);
    let table = ops::format_metagraph(&mg);
    assert_eq!(table.lines().count(), 2 + 3, "{table}");
    node.shutdown().await;

    let bad = StartOptions {
        instant: false,
        block_time: std::time::Duration::ZERO,
        port: 0,
        ..Default::default()
    };
    assert!(matches!(
        ops::chain_start(bad).await,
        Err(ChainError::InvalidHyperparam { .. })
    ));
}
