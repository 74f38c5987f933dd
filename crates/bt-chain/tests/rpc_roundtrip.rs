//! Node + client over real sockets on 127.0.0.1:0: register, stake, serve, set weights, run
//! epochs with tempo 2 in instant mode, read the metagraph; HTTP and WebSocket; error codes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bt_chain::rpc::ChainApiClient;
use bt_chain::{
    AxonEndpoint, AxonIdentity, Call, ChainError, ChainNode, Keypair, NodeClient, NodeClientExt,
    NodeConfig, RAO_PER_TAO, RpcChain, SignedTx,
};
use bt_crypto::NeuronKey;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

async fn produce_until<F: Fn(&bt_chain::Metagraph) -> bool>(
    chain: &RpcChain,
    netuid: u16,
    what: &str,
    f: F,
) -> bt_chain::Metagraph {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mg = chain.metagraph(netuid).await.unwrap();
        if f(&mg) {
            return mg;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        chain.produce_block().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_set_weights_epoch_and_metagraph() {
    let node = ChainNode::start(NodeConfig::instant_in_memory(2))
        .await
        .unwrap();
    let addr = node.local_addr();
    let chain = RpcChain::connect(&format!("ws://{addr}")).await.unwrap();

    let owner = Keypair::dev("owner");
    chain.faucet(&owner).await.unwrap();
    let netuid = chain
        .create_subnet(&owner, &Keypair::dev("owner-hot").account())
        .await
        .unwrap();
    assert_eq!(chain.hyperparams(netuid).await.unwrap().tempo, 2);

    let (vcold, vhot) = (Keypair::dev("v-cold"), Keypair::dev("v-hot"));
    let (mcold, mhot) = (Keypair::dev("m-cold"), Keypair::dev("m-hot"));
    let (mneuron, msynapse) = (NeuronKey::from_seed([3; 32]), NeuronKey::from_seed([4; 32]));
    chain.faucet(&vcold).await.unwrap();
    chain.faucet(&mcold).await.unwrap();
    let v = chain
        .burned_register(&vcold, netuid, &vhot.account())
        .await
        .unwrap();
    let m = chain
        .pow_register(&mhot, netuid, &mcold.account())
        .await
        .unwrap();
    assert_eq!((v, m), (1, 2));
    chain
        .add_stake(&vcold, &vhot.account(), 50 * RAO_PER_TAO)
        .await
        .unwrap();
    // Epochs (tempo 2) may already have added emission on top.
    assert!(
        chain
            .stake(&vcold.account(), &vhot.account())
            .await
            .unwrap()
            >= 50 * RAO_PER_TAO
    );
    chain
        .serve_axon(
            &mhot,
            netuid,
            AxonEndpoint {
                ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                port: 8091,
                protocol: 4,
                version: 1,
            },
            AxonIdentity::sign(&mneuron, &mhot.account(), netuid, &msynapse.public()),
        )
        .await
        .unwrap();

    // A rule violation from a signer that cannot pay the failed-transaction fee (a hotkey
    // holding nothing) is left out of the block and comes back with the rule's message.
    let err = chain
        .set_weights(&mhot, netuid, vec![1], vec![1], 0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChainError::Remote { message, .. } if message.contains("no validator permit")),
        "{err}"
    );

    produce_until(&chain, netuid, "a permit for v", |mg| {
        mg.validator_permit[usize::from(v)]
    })
    .await;
    chain
        .set_weights(&vhot, netuid, vec![m], vec![100], 0)
        .await
        .unwrap();
    let mg = produce_until(&chain, netuid, "incentive for m", |mg| {
        mg.incentive[usize::from(m)] > 0
    })
    .await;

    assert_eq!(mg.n, 3);
    assert_eq!(mg.uids, vec![0, 1, 2]);
    assert_eq!(mg.hotkeys[usize::from(m)], mhot.account());
    assert_eq!(mg.coldkeys[usize::from(v)], vcold.account());
    assert_eq!(mg.weights[usize::from(v)], vec![(m, 65535)]);
    assert!(mg.dividends[usize::from(v)] > 0);
    assert!(mg.emission[usize::from(m)] > 0);
    assert!(
        mg.stake[usize::from(v)] > 50 * RAO_PER_TAO,
        "emission was credited to stake"
    );
    assert!(mg.consensus[usize::from(m)] > 0);
    assert!(mg.validator_trust[usize::from(v)] > 0);
    assert!(mg.active[usize::from(v)]);
    assert!(!mg.bonds[usize::from(v)].is_empty());
    let axon = mg.axons[usize::from(m)].clone().unwrap();
    assert_eq!((axon.port, axon.ip, axon.ip_type), (8091, 0x7f00_0001, 4));
    // The Ed25519 keys come back over JSON-RPC, still verifiable.
    assert_eq!(axon.identity.neuron_key_hex(), mneuron.public_hex());
    assert_eq!(axon.identity.synapse_key_hex(), msynapse.public_hex());
    axon.identity.verify(&mhot.account(), netuid).unwrap();
    assert_eq!(mg.block, chain.block(None).await.unwrap().unwrap().number);

    // Head subscription over WebSocket.
    let mut heads = chain.subscribe().await.unwrap();
    let produced = chain.produce_block().await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), heads.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, produced);

    // The same API over plain HTTP.
    let http = jsonrpsee::http_client::HttpClientBuilder::default()
        .build(format!("http://{addr}"))
        .unwrap();
    assert_eq!(http.block_number().await.unwrap(), produced.number);
    let hash = http.block_hash(produced.number).await.unwrap().unwrap();
    assert_eq!(hash, hex::encode(produced.hash()));

    // A replayed transaction is refused at admission with the nonce error code.
    let genesis = chain.genesis_hash().await.unwrap();
    let stale = SignedTx::sign(&owner, 0, Call::Faucet, &genesis);
    match chain.submit(&stale).await {
        Err(ChainError::Remote {
            code: 1002,
            message,
        }) => assert!(message.contains("stale"), "{message}"),
        other => panic!("expected a nonce error, got {other:?}"),
    }
    // Garbage is refused as a decode error.
    match http.submit("00ff".into()).await {
        Err(jsonrpsee::core::client::Error::Call(e)) => assert_eq!(e.code(), 1001),
        other => panic!("expected a decode error, got {other:?}"),
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_are_refused() {
    let node = ChainNode::start(NodeConfig::instant_in_memory(10))
        .await
        .unwrap();
    let client = || {
        jsonrpsee::http_client::HttpClientBuilder::default()
            .max_request_size(4 * 1024 * 1024)
            .build(format!("http://{}", node.local_addr()))
            .unwrap()
    };
    let huge = "ab".repeat(300 * 1024);
    assert!(client().submit(huge).await.is_err());
    // The node still serves afterwards. Asked on a new connection: the node may close the one
    // that carried the refused body without reading it, and a pooled client can race that close
    // (a broken pipe on its next write, seen once in CI).
    assert_eq!(client().block_number().await.unwrap(), 0);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_mode_produces_blocks_on_its_own() {
    let mut cfg = NodeConfig::instant_in_memory(10);
    cfg.mode = bt_chain::BlockMode::Interval(Duration::from_millis(20));
    let node = ChainNode::start(cfg).await.unwrap();
    let chain = RpcChain::connect(&node.local_addr().to_string())
        .await
        .unwrap();
    let h = chain
        .wait_for_block(3, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(h.number >= 3);
    assert!(matches!(
        chain.produce_block().await,
        Err(ChainError::Remote { code: 1005, .. })
    ));
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_cannot_fill_the_mempool() {
    let mut cfg = NodeConfig::instant_in_memory(10);
    // No block will come during the test, so everything stays pending.
    cfg.mode = bt_chain::BlockMode::Interval(Duration::from_secs(3600));
    cfg.max_pending_per_account = 2;
    let node = ChainNode::start(cfg).await.unwrap();
    let chain = RpcChain::connect(&node.local_addr().to_string())
        .await
        .unwrap();
    let genesis = chain.genesis_hash().await.unwrap();
    let k = Keypair::dev("spammer");
    for nonce in 0..2 {
        chain
            .submit_nowait(&SignedTx::sign(&k, nonce, Call::Faucet, &genesis))
            .await
            .unwrap();
    }
    assert_eq!(
        chain.nonce(&k.account()).await.unwrap(),
        2,
        "the nonce query counts pending transactions"
    );
    match chain
        .submit_nowait(&SignedTx::sign(&k, 2, Call::Faucet, &genesis))
        .await
    {
        Err(ChainError::Remote {
            code: 1003,
            message,
        }) => assert!(message.contains("pending"), "{message}"),
        other => panic!("expected the per-account limit, got {other:?}"),
    }
    // Another account is unaffected.
    chain
        .submit_nowait(&SignedTx::sign(
            &Keypair::dev("other"),
            0,
            Call::Faucet,
            &genesis,
        ))
        .await
        .unwrap();
    node.shutdown().await;
}
