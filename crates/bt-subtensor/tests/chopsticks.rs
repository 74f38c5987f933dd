//! Against a real subtensor runtime (raonet, specVersion 218) in Chopsticks: fund accounts,
//! create a subnet, register, serve, stake, set weights, run an epoch, read the metagraph.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use bt_crypto::wallet::Sr25519Pair;
use bt_subtensor::{RAO_PER_TAO, RpcConfig, Subtensor, SubtensorError};
use bt_testnet::chopsticks::{BlockMode, Chopsticks};

fn raonet() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/raonet.json")
}

fn key(seed: u8) -> Sr25519Pair {
    Sr25519Pair::from_seed([seed; 32])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subnet_lifecycle_on_the_real_runtime() {
    let Some(exe) = Chopsticks::executable("a_subnet_lifecycle_on_the_real_runtime") else {
        return;
    };
    let node = Chopsticks::start(&exe, &raonet(), BlockMode::Instant)
        .await
        .expect("chopsticks starts");
    let chain = Subtensor::connect(node.url(), RpcConfig::default())
        .await
        .expect("connects");
    assert_eq!(chain.spec_name(), "node-subtensor");
    assert_eq!(chain.facts().spec_version, 218);

    let (owner, owner_hot) = (key(1), key(2));
    let (validator_cold, validator) = (key(3), key(4));
    let (miner_cold, miner) = (key(5), key(6));
    let rich = 1_000_000 * RAO_PER_TAO;
    for k in [&owner, &validator_cold, &miner_cold] {
        chain
            .dev_set_balance(&k.account(), rich)
            .await
            .expect("funds");
        assert_eq!(chain.balance(&k.account()).await.expect("balance"), rich);
    }

    // A transfer: the receiver gains exactly the amount, the sender pays it plus a fee.
    chain
        .transfer(&owner, &miner_cold.account(), RAO_PER_TAO)
        .await
        .expect("transfer");
    assert_eq!(
        chain.balance(&miner_cold.account()).await.unwrap(),
        rich + RAO_PER_TAO
    );
    let owner_after = chain.balance(&owner.account()).await.unwrap();
    assert!(
        owner_after < rich - RAO_PER_TAO,
        "a fee was paid: {owner_after}"
    );

    // A subnet of our own, once the network rate limit since genesis has passed.
    let limit = chain
        .storage("SubtensorModule", "NetworkRateLimit", &[])
        .await
        .expect("NetworkRateLimit")
        .and_then(|v| v.as_u128())
        .expect("a number");
    let started = std::time::Instant::now();
    let head = chain
        .dev_new_blocks(u32::try_from(limit).unwrap() + 1)
        .await
        .expect("blocks");
    println!(
        "network rate limit {limit}: head {head} after {:?}",
        started.elapsed()
    );
    let before = chain.subnets().await.expect("subnets");
    let included = chain
        .register_network(&owner, &owner_hot.account())
        .await
        .expect("register_network");
    println!(
        "register_network in block {}: {:?}",
        included.block_number,
        included.events.iter().map(|e| &e.0).collect::<Vec<_>>()
    );
    let after = chain.subnets().await.expect("subnets");
    let netuid = *after
        .iter()
        .find(|n| !before.contains(n))
        .expect("a new netuid");
    println!("subnets {before:?} -> {after:?}");

    for (cold, hot) in [(&validator_cold, &validator), (&miner_cold, &miner)] {
        chain
            .burned_register(cold, netuid, &hot.account())
            .await
            .expect("burned_register");
    }
    let mg = chain.metagraph(netuid, false).await.expect("metagraph");
    let v_uid = mg
        .uid_of(&validator.account())
        .expect("validator has a uid");
    let m_uid = mg.uid_of(&miner.account()).expect("miner has a uid");
    assert_eq!(mg.neurons[usize::from(m_uid)].coldkey, miner_cold.account());

    // The runtime refuses loopback axons, by name.
    let refused = chain
        .serve_axon(&miner, netuid, IpAddr::V4(Ipv4Addr::LOCALHOST), 8091, 4, 1)
        .await
        .expect_err("127.0.0.1 is refused");
    match &refused {
        SubtensorError::Dispatch { pallet, error, .. } => {
            assert_eq!(
                (pallet.as_str(), error.as_str()),
                ("SubtensorModule", "InvalidIpAddress")
            );
        }
        other => panic!("expected a dispatch error, got {other}"),
    }
    // Through the chain-neutral trait, with a tensor identity (stored as a commitment).
    let identity = bt_interfaces::TensorIdentity {
        neuron_key: [1; 32],
        synapse_key: [2; 32],
        signature: [3; 64],
    };
    let serve = bt_interfaces::AxonServe {
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        port: 8091,
        protocol: 4,
        version: 1,
        identity: Some(identity.clone()),
    };
    bt_interfaces::Chain::serve_axon(&chain, &miner, netuid, &serve)
        .await
        .expect("serve_axon");

    // raonet's runtime opens a new subnet's pool with 1 rao of alpha, so a stake would buy
    // nothing; give the pool alpha equal to its TAO (price 1) as a subnet with trading would.
    let pool_tao = chain
        .storage(
            "SubtensorModule",
            "SubnetTAO",
            &[scale_value::Value::u128(netuid.into())],
        )
        .await
        .expect("SubnetTAO")
        .and_then(|v| v.as_u128())
        .expect("a number");
    chain
        .dev_set_storage(serde_json::json!({"SubtensorModule": {"SubnetAlphaIn": [[[netuid], pool_tao as u64]]}}))
        .await
        .expect("pool alpha");

    // Stake, and a stake larger than the balance fails by name with only the fee taken.
    let staking = chain
        .add_stake(
            &validator_cold,
            &validator.account(),
            netuid,
            1000 * RAO_PER_TAO,
        )
        .await
        .expect("add_stake");
    assert!(
        staking
            .events
            .iter()
            .any(|(name, _)| name == "SubtensorModule::StakeAdded")
    );
    let staked = chain
        .stake(&validator_cold.account(), &validator.account(), netuid)
        .await
        .expect("stake");
    assert!(staked > 0, "stake {staked}");
    let before = chain.balance(&miner_cold.account()).await.unwrap();
    let too_much = chain
        .add_stake(&miner_cold, &miner.account(), netuid, 10 * rich)
        .await
        .expect_err("more than the balance");
    println!("too much stake: {too_much}");
    assert!(
        matches!(too_much, SubtensorError::Dispatch { .. }),
        "{too_much}"
    );
    let lost = before - chain.balance(&miner_cold.account()).await.unwrap();
    assert!(lost < RAO_PER_TAO / 100, "only a fee: {lost}");

    let mg = chain.metagraph(netuid, false).await.expect("metagraph");
    let axon = mg.neurons[usize::from(m_uid)]
        .axon
        .clone()
        .expect("miner axon");
    assert_eq!(
        axon.identity,
        Some(identity),
        "the committed identity reads back"
    );
    assert_eq!(
        (axon.ip, axon.port),
        (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 8091)
    );
    println!(
        "validator uid {v_uid}, miner uid {m_uid}, node tail:\n{}",
        node.tail(0)
    );
}
