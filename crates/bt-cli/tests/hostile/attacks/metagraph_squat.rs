//! H3: an attacker with one neuron key floods definitions past the table's free slots, then
//! claims a victim's synapse key at its own endpoint (with a heartbeat in the future). The
//! synapse proof refuses the claim, the per-neuron cap the flood.

use std::time::Duration;

use bt_crypto::NeuronKey;
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use bt_wire::GossipBatch;

use super::gossip::{EchoNeuron, channel, gossip, honest_inspect, now_ms, sealed, table};

pub struct Report {
    pub row: AttackRow,
    /// The victim's key is still bound to the victim's neuron key and port.
    pub victim_kept: bool,
    /// Definitions of the attacker's neuron key in the target's table.
    pub attacker_entries: usize,
}

pub async fn run() -> Report {
    let dir = tempfile::tempdir().unwrap();
    let target = EchoNeuron::start(dir.path(), "target", None).await;
    let victim = EchoNeuron::start(dir.path(), "victim", Some(target.metagraph())).await;
    let victim_key = victim.ready.synapse_keys[0].clone();
    bt_testnet::eventually_async_some(
        Duration::from_secs(60),
        Duration::from_millis(300),
        || async {
            let t = table(target.metagraph()).await;
            t.iter().any(|r| r.synapse_key == victim_key).then_some(())
        },
    )
    .await
    .unwrap();
    let pid = target.pid();
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    let honest = HonestLoad::start(
        Duration::from_millis(500),
        honest_inspect(target.metagraph().to_owned()),
    );

    let attacker = NeuronKey::generate();
    let future = now_ms() + 4_000;
    // More definitions than the table has slots, each properly proven by a key it owns.
    let flood: Vec<_> = (0..12)
        .map(|_| {
            let s = NeuronKey::generate();
            sealed(&attacker, s.public_hex(), 7_000, Some(&s), future)
        })
        .collect();
    // The claims: without a proof, and with a proof by the attacker's own key.
    let claims = vec![
        sealed(&attacker, victim_key.clone(), 6_666, None, future),
        sealed(
            &attacker,
            victim_key.clone(),
            6_666,
            Some(&attacker),
            future,
        ),
    ];
    let ch = channel(target.metagraph()).await;
    let mut sent = 0u64;
    for synapses in [flood, claims] {
        let batch = GossipBatch {
            version: 0.0,
            peers: vec![],
            synapses,
        };
        sent += prost::Message::encoded_len(&batch) as u64;
        let _ = gossip(&ch, &batch).await;
    }
    // Stopped first: our own inspection below shares the honest caller's address and throttle.
    let served = honest.stop().await;
    let rows = table(target.metagraph()).await;
    let after = ProcStatus::read(pid).unwrap();
    let victim_port = victim
        .ready
        .axon
        .rsplit_once(':')
        .map(|(_, p)| p.parse::<u16>().unwrap())
        .unwrap();
    let victim_kept = rows.iter().any(|r| {
        r.synapse_key == victim_key
            && r.neuron_key == victim.ready.neuron_key
            && r.port == victim_port
    });
    let attacker_entries = rows
        .iter()
        .filter(|r| r.neuron_key == attacker.public_hex())
        .count();
    let row = AttackRow::new(
        "metagraph H3: flood one neuron key, then claim a victim's synapse key",
        sent,
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "victim key {}; attacker holds {attacker_entries} entries",
        if victim_kept { "kept" } else { "LOST" }
    ));
    Report {
        row,
        victim_kept,
        attacker_entries,
    }
}
