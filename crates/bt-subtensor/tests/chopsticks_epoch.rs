//! An epoch on the real subtensor runtime (raonet in Chopsticks): two validators and two miners,
//! stakes and weights set through extrinsics, blocks made through two epochs. The epoch's inputs
//! as we read them (weights, stake) must equal what the runtime stored and used; its outputs are
//! checked against what raonet's runtime computes, which is not Yuma consensus (see below and
//! docs/chain.md), so our `bt-consensus` epoch on the same inputs is shown beside it. Then the
//! subnet turns commit-reveal on and a validator commits and reveals through the trait.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bt_consensus::{SubnetState, epoch};
use bt_crypto::wallet::Sr25519Pair;
use bt_subtensor::hyperparams::to_hyperparams;
use bt_subtensor::{RAO_PER_TAO, RpcConfig, SubnetMetagraph, Subtensor};
use bt_testnet::chopsticks::{BlockMode, Chopsticks};
use scale_value::Value;
use serde_json::json;

const TEMPO: u64 = 20;

fn raonet() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/raonet.json")
}

fn key(seed: u8) -> Sr25519Pair {
    Sr25519Pair::from_seed([seed; 32])
}

async fn number(chain: &Subtensor, item: &str, netuid: u16) -> u128 {
    chain
        .storage("SubtensorModule", item, &[Value::u128(netuid.into())])
        .await
        .expect(item)
        .and_then(|v| v.as_u128())
        .unwrap_or_else(|| panic!("{item} is a number"))
}

/// Makes blocks until the next one runs the subnet's epoch (subtensor runs it in block `b`
/// when `(b + netuid + 1) % (tempo + 1) == 0`); returns that block's number.
async fn to_block_before_epoch(chain: &Subtensor, netuid: u16) -> u64 {
    let (head, _) = chain.head().await.unwrap();
    let period = TEMPO + 1;
    let mut next = head + 1;
    while (next + u64::from(netuid) + 1) % period != 0 {
        next += 1;
    }
    if next - 1 > head {
        chain
            .dev_new_blocks(u32::try_from(next - 1 - head).unwrap())
            .await
            .unwrap();
    }
    next
}

fn state_of(mg: &SubnetMetagraph, block: u64) -> SubnetState {
    SubnetState {
        block,
        stake: mg.neurons.iter().map(|n| n.stake).collect(),
        last_update: mg.neurons.iter().map(|n| n.last_update).collect(),
        block_at_registration: mg.neurons.iter().map(|n| n.block_at_registration).collect(),
        validator_permit: mg.neurons.iter().map(|n| n.validator_permit).collect(),
        weights: mg.neurons.iter().map(|n| n.weights.clone()).collect(),
        bonds: mg.neurons.iter().map(|n| n.bonds.clone()).collect(),
        owner: mg.owner_coldkey.and_then(|owner| {
            mg.neurons
                .iter()
                .find(|n| n.coldkey == owner)
                .map(|n| n.uid)
        }),
        emission: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_on_raonet_reads_back_as_stored() {
    let Some(exe) = Chopsticks::executable("an_epoch_on_raonet_reads_back_as_stored") else {
        return;
    };
    let node = Chopsticks::start(&exe, &raonet(), BlockMode::Instant)
        .await
        .expect("chopsticks");
    let chain = Subtensor::connect(node.url(), RpcConfig::default())
        .await
        .expect("connects");

    let owner = key(11);
    // The owner's hotkey holds uid 0 and gathers the owner's cut as stake every epoch; it
    // weighs the miners too, or its stake alone would hold consensus at zero.
    let owner_hot = key(20);
    let validators = [(key(12), key(13), 1000u64), (key(14), key(15), 400)];
    let miners = [(key(16), key(17)), (key(18), key(19))];
    let rich = 1_000_000 * RAO_PER_TAO;
    for k in [&owner, &owner_hot]
        .into_iter()
        .chain(validators.iter().map(|v| &v.0))
        .chain(miners.iter().map(|m| &m.0))
    {
        chain.dev_set_balance(&k.account(), rich).await.unwrap();
    }
    let limit = chain
        .storage("SubtensorModule", "NetworkRateLimit", &[])
        .await
        .unwrap()
        .and_then(|v| v.as_u128())
        .unwrap();
    chain
        .dev_new_blocks(u32::try_from(limit).unwrap() + 1)
        .await
        .unwrap();
    let before = chain.subnets().await.unwrap();
    chain
        .register_network(&owner, &owner_hot.account())
        .await
        .expect("register_network");
    let netuid = *chain
        .subnets()
        .await
        .unwrap()
        .iter()
        .find(|n| !before.contains(n))
        .unwrap();

    // Test settings an owner (or sudo) would choose: a short tempo, weights set directly
    // (no commit-reveal) and with a one-block rate limit, room for four registrations.
    chain
        .dev_set_storage(json!({"SubtensorModule": {
            "Tempo": [[[netuid], TEMPO]],
            "CommitRevealWeightsEnabled": [[[netuid], false]],
            "WeightsSetRateLimit": [[[netuid], 1]],
            "TargetRegistrationsPerInterval": [[[netuid], 10]],
        }}))
        .await
        .unwrap();

    // (Chopsticks drops a zero it is asked to store, leaving the default: hence 1, not 0.)
    assert_eq!(number(&chain, "WeightsSetRateLimit", netuid).await, 1);
    let commit_reveal = chain
        .storage(
            "SubtensorModule",
            "CommitRevealWeightsEnabled",
            &[Value::u128(netuid.into())],
        )
        .await
        .unwrap()
        .and_then(|v| v.as_bool());
    assert_eq!(commit_reveal, Some(false));
    assert_eq!(number(&chain, "Tempo", netuid).await, u128::from(TEMPO));
    // One registration per block (the runtime's MaxRegistrationsPerBlock).
    let all = validators
        .iter()
        .map(|(c, h, _)| (c, h))
        .chain(miners.iter().map(|(c, h)| (c, h)));
    for (cold, hot) in all {
        chain
            .burned_register(cold, netuid, &hot.account())
            .await
            .expect("burned_register");
        chain.dev_new_blocks(1).await.unwrap();
    }
    // A priced pool: raonet's runtime keeps a new subnet's pool at 1 rao of alpha from block to
    // block, so a stake would buy nothing; give it alpha equal to its TAO (price 1) just before.
    let pool_tao = number(&chain, "SubnetTAO", netuid).await;
    chain
        .dev_set_storage(
            json!({"SubtensorModule": {"SubnetAlphaIn": [[[netuid], pool_tao as u64]]}}),
        )
        .await
        .unwrap();
    for (cold, hot, tao) in &validators {
        chain
            .add_stake(cold, &hot.account(), netuid, tao * RAO_PER_TAO)
            .await
            .expect("add_stake");
    }
    // One epoch hands out validator permits by stake.
    let first = to_block_before_epoch(&chain, netuid).await;
    chain.dev_new_blocks(1).await.unwrap();
    let mg = chain.metagraph(netuid, false).await.unwrap();
    let uid = |k: &Sr25519Pair| mg.uid_of(&k.account()).expect("has a uid");
    for (_, hot, _) in &validators {
        assert!(
            mg.neurons[usize::from(uid(hot))].validator_permit,
            "permit after block {first}"
        );
    }
    let (m0, m1) = (uid(&miners[0].1), uid(&miners[1].1));
    let rows: [&[(u16, u16)]; 3] = [
        &[(m0, 65535), (m1, 45000)],
        &[(m0, 65535), (m1, 28086)],
        &[(m0, 9362), (m1, 65535)],
    ];
    let setters = [&owner_hot, &validators[0].1, &validators[1].1];
    for (hot, row) in setters.iter().zip(rows) {
        let (uids, weights): (Vec<u16>, Vec<u16>) = row.iter().copied().unzip();
        chain
            .set_weights(hot, netuid, &uids, &weights, 0)
            .await
            .expect("set_weights");
    }

    // Two epochs, so that the second starts from whatever the first stored.
    let hp_values = chain.hyperparams(netuid).await.unwrap();
    let (mut hp, absent) = to_hyperparams(&hp_values).unwrap();
    println!("hyperparameters this runtime lacks (defaults used): {absent:?}");
    // A runtime without `StakeThreshold` has no minimum stake for a permit.
    if absent.contains(&"stake_threshold") {
        hp.stake_threshold = 0;
    }
    for round in 0..2 {
        let epoch_block = to_block_before_epoch(&chain, netuid).await;
        let inputs = chain.metagraph(netuid, true).await.unwrap();
        chain.dev_new_blocks(1).await.unwrap();
        assert_eq!(
            number(&chain, "LastMechansimStepBlock", netuid).await,
            u128::from(epoch_block)
        );
        let outputs = chain.metagraph(netuid, false).await.unwrap();
        let n = inputs.neurons.len();

        // What we read as the epoch's input is what the runtime stored: the weights exactly as
        // set, the stake as the runtime's own stake weight (normalized to u16, ±1 for rounding).
        for (hot, row) in setters.iter().zip(rows) {
            let got = &inputs.neurons[usize::from(uid(hot))].weights;
            assert_eq!(got, &row.to_vec(), "stored weights of {}", uid(hot));
        }
        // The runtime pays the owner's cut into the owner's stake inside the epoch block, before
        // it weighs stake, so the owner's weight is not ours; every other uid's is, up to the
        // common scale (one u16 step of rounding each way).
        let stake_weight = u16_vector(&chain, "StakeWeight", netuid).await;
        let owner = state_of(&inputs, epoch_block).owner;
        let others: Vec<usize> = (0..n).filter(|i| Some(*i as u16) != owner).collect();
        let reference = *others
            .iter()
            .max_by_key(|i| inputs.neurons[**i].stake)
            .unwrap();
        let (ref_stake, ref_weight) = (inputs.neurons[reference].stake, stake_weight[reference]);
        assert!(ref_stake > 0, "the validators' stake was bought");
        for &i in &others {
            let ours = u128::from(inputs.neurons[i].stake) * u128::from(ref_weight)
                / u128::from(ref_stake);
            let diff = ours.abs_diff(u128::from(stake_weight[i]));
            assert!(
                diff <= 2,
                "uid {i}: our stake weight {ours}, runtime's {}",
                stake_weight[i]
            );
        }
        if let Some(o) = owner {
            let ours = u128::from(inputs.neurons[usize::from(o)].stake) * u128::from(ref_weight)
                / u128::from(ref_stake);
            assert!(
                u128::from(stake_weight[usize::from(o)]) + 2 >= ours,
                "the owner's cut only adds"
            );
        }

        // The referee cannot referee: raonet's runtime (subtensor c39109d32, "dtao emission",
        // spec 218) calls `epoch_mock`, not Yuma consensus. Its fingerprint: every uid holds a
        // permit, rank/trust/consensus/incentive/dividends are all zero and emission follows
        // stake weight alone. Should a runtime with the real epoch replace raonet, these fail and the
        // comparison below becomes an assertion.
        let zeros = vec![0u16; n];
        let theirs = |f: fn(&bt_subtensor::NeuronRow) -> u16| {
            outputs.neurons.iter().map(f).collect::<Vec<_>>()
        };
        assert!(
            outputs.neurons.iter().all(|n| n.validator_permit),
            "epoch_mock gives every uid a permit"
        );
        assert_eq!(
            theirs(|n| n.incentive),
            zeros,
            "epoch_mock writes no incentive"
        );
        assert_eq!(
            theirs(|n| n.dividends),
            zeros,
            "epoch_mock writes no dividends"
        );
        assert_eq!(
            theirs(|n| n.consensus),
            zeros,
            "epoch_mock writes no consensus"
        );
        let emitted: u128 = outputs.neurons.iter().map(|n| u128::from(n.emission)).sum();
        assert!(emitted > 0, "the subnet emitted");
        let weight_sum: u128 = stake_weight.iter().map(|w| u128::from(*w)).sum();
        for (i, neuron) in outputs.neurons.iter().enumerate() {
            let share = u128::from(stake_weight[i]) * emitted / weight_sum;
            let diff = share.abs_diff(u128::from(neuron.emission));
            assert!(
                diff <= emitted / 65535 + n as u128,
                "uid {i}: emission {} for a stake-weight share of {share}",
                neuron.emission
            );
        }

        let full = epoch(&state_of(&inputs, epoch_block), &hp).expect("our epoch");
        let ours = full.stored();
        println!("round {round}, epoch in block {epoch_block}");
        println!(
            "  stake (alpha rao) {:?}",
            inputs.neurons.iter().map(|n| n.stake).collect::<Vec<_>>()
        );
        println!(
            "  incentive  runtime (epoch_mock) {:?}  ours (Yuma) {:?}",
            theirs(|n| n.incentive),
            ours.incentive
        );
        println!(
            "  dividends  runtime (epoch_mock) {:?}  ours (Yuma) {:?}",
            theirs(|n| n.dividends),
            ours.dividends
        );
        let (m0, m1) = (usize::from(m0), usize::from(m1));
        assert!(
            ours.incentive[m0] > ours.incentive[m1],
            "our Yuma: miner 0 has more weight"
        );
    }

    // Commit-reveal as a validator on such a subnet does it, through the chain-neutral trait:
    // the runtime checks our commit hash (blake2-256 of the SCALE tuple) on reveal and stores
    // the revealed row; a reveal with another salt is refused by name.
    chain
        .dev_set_storage(json!({"SubtensorModule": {
            "CommitRevealWeightsEnabled": [[[netuid], true]],
            "RevealPeriodEpochs": [[[netuid], 1]],
        }}))
        .await
        .unwrap();
    let hot = &validators[0].1;
    let commit = bt_interfaces::WeightsCommit {
        uids: vec![m0, m1],
        values: vec![20000, 65535],
        salt: vec![7, 11, 13, 17],
        version_key: 0,
    };
    bt_interfaces::Chain::commit_weights(&chain, hot, netuid, &commit)
        .await
        .expect("commit_weights");
    to_block_before_epoch(&chain, netuid).await;
    chain.dev_new_blocks(1).await.unwrap();
    let forged = bt_interfaces::WeightsCommit {
        salt: vec![7, 11, 13, 18],
        ..commit.clone()
    };
    match bt_interfaces::Chain::reveal_weights(&chain, hot, netuid, &forged).await {
        Err(bt_interfaces::ChainError::Rejected { reason, .. }) => {
            println!("reveal with another salt: {reason}");
            assert!(reason.starts_with("SubtensorModule::"), "{reason}");
        }
        other => panic!("a reveal with another salt must be refused, got {other:?}"),
    }
    bt_interfaces::Chain::reveal_weights(&chain, hot, netuid, &commit)
        .await
        .expect("reveal_weights");
    let mg = chain.metagraph(netuid, true).await.unwrap();
    assert_eq!(
        mg.neurons[usize::from(uid(hot))].weights,
        vec![(m0, 20000), (m1, 65535)],
        "the revealed row is stored"
    );
}

async fn u16_vector(chain: &Subtensor, item: &str, netuid: u16) -> Vec<u16> {
    let value = chain
        .storage("SubtensorModule", item, &[Value::u128(netuid.into())])
        .await
        .expect(item)
        .unwrap_or_else(|| panic!("{item} is stored"));
    let scale_value::ValueDef::Composite(items) = &value.value else {
        panic!("{item} is a sequence, got {value}");
    };
    items
        .values()
        .map(|v| {
            v.as_u128()
                .and_then(|x| u16::try_from(x).ok())
                .expect("a u16")
        })
        .collect()
}
