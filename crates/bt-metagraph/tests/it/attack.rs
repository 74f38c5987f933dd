//! An attacker floods honest nodes with 10,000 bad definitions and garbage peers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bt_crypto::{NeuronKey, pow, sign_synapse};
use bt_metagraph::{MetagraphConfig, Rejection, TableConfig};
use bt_testnet::eventually_some;
use bt_testnet::metagraph::{MetagraphTestnet, synapse_key};
use bt_wire::{GossipBatch, Synapse, metagraph_client::MetagraphClient};

const DIFFICULTY: u32 = 8;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Definition `i` of one of four kinds of forgery; none can pass.
fn forged(i: usize, attacker: &NeuronKey) -> Synapse {
    let mut s = Synapse {
        version: "0.0.0".into(),
        neuron_key: attacker.public_hex(),
        synapse_key: NeuronKey::from_seed([(i % 251) as u8 + 1; 32]).public_hex(),
        address: "10.9.9.9".into(),
        port: "8091".into(),
        block_hash: now_ms().to_string(),
        ..Default::default()
    };
    // Distinct synapse keys, so nothing is deduplicated away before verification.
    s.synapse_key = format!("0x{:064x}", i + 1);
    // A proof of the right shape, so each forgery is refused for its own defect (a proof is
    // checked last).
    s.synapse_proof = vec![5u8; 64].into();
    match i % 5 {
        // Unsigned, with valid work.
        0 => {
            let _ = pow::solve(&mut s, DIFFICULTY);
        }
        // Signed, without work.
        1 => sign_synapse(attacker, &mut s),
        // Valid work, signature of random bytes.
        2 => {
            let _ = pow::solve(&mut s, DIFFICULTY);
            s.signature = vec![7u8; 64].into();
        }
        // Properly sealed by the attacker, but its heartbeat is an hour in the future.
        3 => {
            s.block_hash = (now_ms() + 3_600_000).to_string();
            let _ = bt_crypto::seal_synapse(attacker, &mut s, DIFFICULTY);
        }
        // Sealed, but the address is garbage.
        _ => {
            s.address = "not a host!".into();
            let _ = bt_crypto::seal_synapse(attacker, &mut s, DIFFICULTY);
        }
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_definitions_and_garbage_peers_are_never_stored() {
    let mut cfg = MetagraphConfig::loopback(Duration::from_millis(150), 40);
    cfg.table = TableConfig {
        max_peers: 16,
        ..cfg.table
    };
    let net = MetagraphTestnet::start_with(3, cfg).await.unwrap();
    eventually_some(Duration::from_secs(60), || {
        net.fully_connected().then_some(())
    })
    .await
    .unwrap();
    let rss_before = rss_kib();

    let attacker = NeuronKey::from_seed([0xee; 32]);
    let forgeries: Vec<Synapse> = (0..10_000).map(|i| forged(i, &attacker)).collect();
    // Squatting: a validly sealed definition of node 1's synapse key by the attacker's key.
    let mut squat = Synapse {
        version: "0.0.0".into(),
        synapse_key: synapse_key(1),
        address: "10.6.6.6".into(),
        port: "6666".into(),
        block_hash: (now_ms() + 1_000).to_string(),
        ..Default::default()
    };
    bt_crypto::seal_synapse(&attacker, &mut squat, DIFFICULTY).unwrap();
    let garbage_peers: Vec<String> = (0..10_000)
        .map(|i| match i % 4 {
            0 => format!("{i}"),
            1 => format!("127.0.0.1:{}", 70_000 + i),
            2 => "x".repeat(1_000 + i % 50),
            _ => format!("bad host {i}:80"),
        })
        .collect();

    let target = format!("http://{}", net.addr(0).unwrap());
    let mut client = MetagraphClient::connect(target).await.unwrap();
    let mut sent = 0;
    for (chunk, peers) in forgeries.chunks(500).zip(garbage_peers.chunks(500)) {
        let batch = GossipBatch {
            version: 0.0,
            peers: peers.to_vec(),
            synapses: chunk.to_vec(),
        };
        // A busy node may shed load; that is a correct answer too.
        let _ = client.gossip(batch).await;
        sent += chunk.len();
    }
    assert_eq!(sent, 10_000);
    let squat_batch = GossipBatch {
        version: 0.0,
        peers: vec![],
        synapses: vec![squat],
    };
    client.gossip(squat_batch).await.unwrap();

    // Whatever node 0 relays, no honest node stores a forgery, a squat, or a garbage peer.
    let honest: Vec<String> = (0..3).map(synapse_key).collect();
    for _ in 0..3 {
        let before = net.node(1).map(|h| h.rounds_completed()).unwrap_or(0);
        eventually_some(Duration::from_secs(30), || {
            (net.node(1).map(|h| h.rounds_completed()).unwrap_or(0) > before).then_some(())
        })
        .await
        .unwrap();
    }
    for i in 0..3 {
        let node = net.node(i).unwrap();
        let table = node.table_snapshot();
        let keys: Vec<&String> = table.iter().map(|s| &s.synapse_key).collect();
        assert_eq!(keys.len(), 3, "node {i} holds {keys:?}");
        assert!(keys.iter().all(|k| honest.contains(k)));
        let entry1 = table.iter().find(|s| s.synapse_key == honest[1]).unwrap();
        assert_eq!(
            entry1.address, "127.0.0.1",
            "squatter replaced node 1 on node {i}"
        );
        assert!(node.peers().len() <= 16);
        assert!(
            node.peers()
                .iter()
                .all(|p| p.as_str().starts_with("127.0.0.1:"))
        );
    }
    let rejected = net.node(0).unwrap().rejections();
    println!("node 0 rejections: {rejected:?}");
    for reason in [
        Rejection::BadSignature,
        Rejection::BadProofOfWork,
        Rejection::FromTheFuture,
        Rejection::BadAddress,
        Rejection::BadPeer,
        Rejection::BatchTooLarge,
        Rejection::Impersonation,
    ] {
        assert!(
            rejected.get(&reason).copied().unwrap_or(0) > 0,
            "no {reason} counted"
        );
    }
    let total: u64 = rejected.values().sum();
    assert!(total >= 10_000, "only {total} rejections counted");
    if let (Some(a), Some(b)) = (rss_before, rss_kib()) {
        println!("RSS before the flood {a} KiB, after {b} KiB (whole test process)");
    }
    net.shutdown().await;
}
