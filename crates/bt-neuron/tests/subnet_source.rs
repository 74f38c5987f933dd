//! `ChainMetagraph` as a `MetagraphSource` against a real node: synapses are the served axons
//! with their keys, set_weights is a transaction, weights reads our row back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bt_chain::{AxonEndpoint, AxonIdentity, HyperparamKey, Keypair, NodeClientExt};
use bt_crypto::NeuronKey;
use bt_interfaces::{MetagraphSource, PeerCounts, SourceError, SourceKind};
use bt_neuron::subnet::{ChainMetagraph, WeightsOutcome, epoch_index};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_metagraph_is_a_metagraph_source() {
    let net = common::Net::start().await;
    let netuid = net.netuid;
    let mut synapse_keys = Vec::new();
    for i in 0..2u8 {
        let (cold, hot) = (
            net.funded_coldkey(&format!("m-cold-{i}")).await,
            Keypair::dev(&format!("m-hot-{i}")),
        );
        net.chain
            .burned_register(&cold, netuid, &hot.account())
            .await
            .unwrap();
        let (neuron, synapse) = (
            NeuronKey::from_seed([i; 32]),
            NeuronKey::from_seed([50 + i; 32]),
        );
        net.chain
            .serve_axon(
                &hot,
                netuid,
                AxonEndpoint {
                    ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1 + i)),
                    port: 8091 + u16::from(i),
                    protocol: 4,
                    version: 7,
                },
                AxonIdentity::sign(&neuron, &hot.account(), netuid, &synapse.public()),
            )
            .await
            .unwrap();
        synapse_keys.push(synapse.public_hex());
    }
    let source = ChainMetagraph::connect(
        &bt_neuron::chain_target::ChainTarget::Embedded(net.endpoint.clone()),
        netuid,
        net.validator_hot.clone(),
        Duration::from_secs(10),
        Duration::ZERO,
    )
    .await
    .unwrap();

    let syn = source.synapses(10).await.unwrap();
    assert_eq!(syn.len(), 2);
    let first = syn
        .iter()
        .find(|s| s.synapse_key == synapse_keys[0])
        .unwrap();
    assert_eq!(first.neuron_key, NeuronKey::from_seed([0; 32]).public_hex());
    assert_eq!((first.address.as_str(), first.port), ("10.0.0.1", 8091));
    assert_eq!(first.version, "7");
    assert_eq!(source.synapses(1).await.unwrap().len(), 1, "bounded by n");
    assert_eq!(source.kind(), SourceKind::Chain);
    assert_eq!(
        source.counts().await.unwrap(),
        PeerCounts {
            peers: 0,
            synapses: 2
        },
        "no gossip peers; the served axons are the synapses"
    );
    assert_eq!(
        source.weights(&synapse_keys).await.unwrap(),
        vec![0.0, 0.0],
        "no weights yet"
    );

    // Unknown keys and mismatched lengths are refused before anything is submitted.
    assert!(matches!(
        source.set_weights(&["0xnot-served".into()], &[1.0]).await,
        Err(SourceError::UnknownSynapse { .. })
    ));
    assert!(matches!(
        source.set_weights(&synapse_keys, &[1.0]).await,
        Err(SourceError::WeightsLength { .. })
    ));

    // Once the owner's permit is in place, weights go on chain and read back normalized.
    common::poll(Duration::from_secs(30), || async {
        source.set_weights(&synapse_keys, &[3.0, 1.0]).await.ok()
    })
    .await
    .unwrap_or_else(|e| panic!("set_weights never accepted: {e}\n{}", net.dump()));
    let w = source.weights(&synapse_keys).await.unwrap();
    assert!(
        (w[0] - 0.75).abs() < 1e-3 && (w[1] - 0.25).abs() < 1e-3,
        "{w:?}"
    );
    let syn = source.synapses(1).await.unwrap();
    assert_eq!(syn[0].synapse_key, synapse_keys[0], "highest weight first");
    net.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_reveal_subnets_get_commitments_then_reveals() {
    let net = common::Net::start().await;
    let netuid = net.netuid;
    let owner = Keypair::dev("owner");
    for (key, value) in [
        (HyperparamKey::CommitRevealEnabled, 1),
        (HyperparamKey::CommitRevealPeriod, 1),
    ] {
        net.chain
            .set_hyperparam(&owner, netuid, key, value)
            .await
            .unwrap();
    }
    let cold = net.funded_coldkey("m-cold").await;
    let miner = net
        .chain
        .burned_register(&cold, netuid, &Keypair::dev("m-hot").account())
        .await
        .unwrap();
    let source = ChainMetagraph::connect(
        &bt_neuron::chain_target::ChainTarget::Embedded(net.endpoint.clone()),
        netuid,
        net.validator_hot.clone(),
        Duration::from_secs(10),
        Duration::ZERO,
    )
    .await
    .unwrap();
    let outcome = common::poll(Duration::from_secs(30), || async {
        source.set_uid_weights(&[miner], &[1.0]).await.ok()
    })
    .await
    .unwrap();
    let WeightsOutcome::Committed { reveal_epoch, .. } = outcome else {
        panic!("commit-reveal subnet took weights directly: {outcome:?}");
    };
    assert_eq!(outcome.row_text(), format!("{miner}:65535"));
    // Nothing on chain until the reveal epoch; then reveal_due reveals it.
    let mg = source.refresh().await.unwrap();
    assert!(mg.neurons[0].weights.is_empty());
    common::poll(Duration::from_secs(30), || async {
        match source.reveal_due().await {
            Ok(n) if n > 0 => Some(()),
            _ => None,
        }
    })
    .await
    .unwrap();
    let mg = source.refresh().await.unwrap();
    assert_eq!(mg.neurons[0].weights, vec![(miner, 65535)]);
    assert!(epoch_index(netuid, mg.hparams.tempo, mg.block) >= reveal_epoch);
    net.node.shutdown().await;
}
