//! Gossip between real nodes on loopback.

use std::time::Duration;

use bt_metagraph::{MetagraphConfig, inspect, render_json, render_table};
use bt_testnet::metagraph::{MetagraphTestnet, start_node, synapse_key};
use bt_testnet::{FaultProxy, eventually, eventually_some};

const INTERVAL: Duration = Duration::from_millis(150);
const PATIENCE: Duration = Duration::from_secs(60);

/// The seeds' walkthrough: A alone shows `nP|nS: 0|1`; B bootstraps to A; both show `1|2`
/// within two of B's gossip rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_node_bootstraps_and_both_see_both_within_two_rounds() {
    let mut net = MetagraphTestnet::start(1, INTERVAL, 40).await.unwrap();
    assert_eq!(net.counts(0), Some((0, 1)));
    let b = net.add().await.unwrap();
    let rounds_of_b = eventually_some(PATIENCE, || {
        let both = net.counts(0) == Some((1, 2)) && net.counts(b) == Some((1, 2));
        both.then(|| net.node(b).map_or(u64::MAX, |h| h.rounds_completed()))
    })
    .await
    .unwrap();
    assert!(rounds_of_b <= 2, "B needed {rounds_of_b} rounds");
    assert!(net.holds_exactly(0, &[0, 1]) && net.holds_exactly(1, &[0, 1]));
    net.shutdown().await;
}

/// B bootstraps to A by another name than the one A advertises (as `--bootstrap 127.0.0.1:P`
/// names a node that advertises its LAN address; here a proxy in front of A). That name is
/// the same peer, and for A its own: both settle at `nP|nS: 1|2`, not 2|2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_by_another_name_is_not_a_second_peer() {
    let cfg = MetagraphConfig::loopback(INTERVAL, 40);
    let a = start_node(0, cfg.clone()).await.unwrap();
    let alias = FaultProxy::bind(1).await.unwrap();
    alias.set_target(a.local_addr());
    let b_cfg = MetagraphConfig {
        bootstrap: vec![alias.addr().to_string()],
        ..cfg
    };
    let b = start_node(1, b_cfg).await.unwrap();
    eventually(PATIENCE, || a.counts() == (1, 2) && b.counts() == (1, 2))
        .await
        .unwrap();
    // And it stays so.
    let (ra, rb) = (a.rounds_completed(), b.rounds_completed());
    eventually(PATIENCE, || {
        a.rounds_completed() >= ra + 5 && b.rounds_completed() >= rb + 5
    })
    .await
    .unwrap();
    assert_eq!((a.counts(), b.counts()), ((1, 2), (1, 2)));
    assert_eq!(a.peers(), vec![b.advertised_addr().clone()]);
    assert_eq!(b.peers(), vec![a.advertised_addr().clone()]);
    a.shutdown().await;
    b.shutdown().await;
}

fn rounds_now(net: &MetagraphTestnet) -> Vec<u64> {
    (0..20)
        .map(|i| net.node(i).map_or(0, |h| h.rounds_completed()))
        .collect()
}

/// 20 nodes converge within 15 rounds; after 5 are killed, every survivor drops their
/// synapses within TTL + one interval (counted in the survivors' own rounds), and their peer
/// addresses eventually.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_nodes_converge_and_forget_the_dead() {
    let ttl_intervals = 20;
    let mut cfg = MetagraphConfig::loopback(INTERVAL, ttl_intervals);
    cfg.jitter = 0.1;
    let mut net = MetagraphTestnet::start_with(20, cfg).await.unwrap();
    let start = rounds_now(&net);
    let rounds = eventually_some(PATIENCE, || {
        net.fully_connected().then(|| {
            let now = rounds_now(&net);
            now.iter()
                .zip(&start)
                .map(|(n, s)| n - s)
                .max()
                .unwrap_or(0)
        })
    })
    .await
    .unwrap();
    println!("20 nodes converged after {rounds} rounds");
    assert!(rounds <= 15, "converged after {rounds} rounds");

    let dead: Vec<usize> = (15..20).collect();
    let dead_addrs: Vec<String> = dead.iter().filter_map(|i| net.addr(*i)).collect();
    let at_kill = rounds_now(&net);
    for i in &dead {
        net.kill(*i).await;
    }
    let survivors: Vec<usize> = (0..15).collect();
    let worst = eventually_some(PATIENCE, || {
        survivors
            .iter()
            .all(|i| net.holds_exactly(*i, &survivors))
            .then(|| {
                let now = rounds_now(&net);
                survivors
                    .iter()
                    .map(|i| now[*i] - at_kill[*i])
                    .max()
                    .unwrap_or(0)
            })
    })
    .await
    .unwrap();
    // TTL + one interval, with the 10% jitter: (20 + 1.1) / 0.9 rounds, plus the round in
    // flight when the nodes died.
    println!("survivors dropped the dead after at most {worst} rounds");
    assert!(worst <= 25, "took {worst} rounds");

    eventually_some(PATIENCE, || {
        survivors
            .iter()
            .all(|i| {
                net.node(*i).is_some_and(|h| {
                    h.peers()
                        .iter()
                        .all(|p| !dead_addrs.contains(&p.to_string()))
                })
            })
            .then_some(())
    })
    .await
    .unwrap();
    net.shutdown().await;
}

/// A node restarted with the same key (on a new address) is accepted again, with a newer
/// heartbeat replacing the old definition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_node_with_same_key_is_accepted_again() {
    let mut net = MetagraphTestnet::start(3, INTERVAL, 10).await.unwrap();
    eventually_some(PATIENCE, || net.fully_connected().then_some(()))
        .await
        .unwrap();
    net.kill(2).await;
    eventually_some(PATIENCE, || {
        (net.holds_exactly(0, &[0, 1]) && net.holds_exactly(1, &[0, 1])).then_some(())
    })
    .await
    .unwrap();
    net.restart(2).await.unwrap();
    eventually_some(PATIENCE, || net.fully_connected().then_some(()))
        .await
        .unwrap();
    let key2 = synapse_key(2);
    let table0 = net.snapshot(0).unwrap();
    assert!(table0.iter().any(|s| s.synapse_key == key2));
    net.shutdown().await;
}

/// `inspect` reads a table without joining: the inspected node's table and peers are
/// unchanged, and the renderers show what was read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_reads_the_table_without_side_effects() {
    let mut cfg = MetagraphConfig::loopback(INTERVAL, 40);
    // Slow gossip so the two nodes are quiet while we inspect.
    cfg.gossip_interval = Duration::from_secs(30);
    let net = MetagraphTestnet::start_with(2, cfg).await.unwrap();
    eventually_some(PATIENCE, || net.fully_connected().then_some(()))
        .await
        .unwrap();
    let node = net.node(0).unwrap();
    let (peers_before, table_before) = (node.peers(), node.table_snapshot());
    let addr = net.addr(0).unwrap();
    let rows = inspect(&addr, Duration::from_secs(5)).await.unwrap();
    assert_eq!(node.peers(), peers_before);
    assert_eq!(node.table_snapshot(), table_before);
    let keys: Vec<&str> = rows.iter().map(|r| r.synapse_key.as_str()).collect();
    assert_eq!(
        keys,
        table_before
            .iter()
            .map(|r| r.synapse_key.as_str())
            .collect::<Vec<_>>()
    );
    let now = rows.iter().map(|r| r.heartbeat_ms).max().unwrap_or(0);
    let text = render_table(&rows, now);
    assert!(text.contains(&synapse_key(0)) && text.contains("2 synapse(s)"));
    let json: serde_json::Value = serde_json::from_str(&render_json(&rows, now)).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(2));
    assert_eq!(json[0]["address"], "127.0.0.1");
    assert!(
        inspect("not an address", Duration::from_secs(1))
            .await
            .is_err()
    );
    assert!(
        inspect(
            &bt_testnet::free_addr().unwrap().to_string(),
            Duration::from_secs(2)
        )
        .await
        .is_err()
    );
    net.shutdown().await;
}

/// `cut` makes a running node unreachable (inbound): calls to it fail while it keeps
/// pushing its own fresh heartbeat out, so the others still hold its synapse; `heal` makes
/// it reachable again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_node_is_unreachable_until_healed() {
    let net = MetagraphTestnet::start(3, INTERVAL, 10).await.unwrap();
    eventually_some(PATIENCE, || net.fully_connected().then_some(()))
        .await
        .unwrap();
    let addr = net.addr(2).unwrap();
    net.cut(2);
    assert!(inspect(&addr, Duration::from_secs(2)).await.is_err());
    // Twice the TTL later, node 2's synapse is still everywhere: it announces itself.
    let start = net.node(0).map_or(0, |h| h.rounds_completed());
    eventually_some(PATIENCE, || {
        (net.node(0).map_or(0, |h| h.rounds_completed()) > start + 20).then_some(())
    })
    .await
    .unwrap();
    assert!(net.fully_connected());
    net.heal(2);
    let rows = inspect(&addr, Duration::from_secs(5)).await.unwrap();
    assert_eq!(rows.len(), 3);
    net.shutdown().await;
}

/// Sealing costs 2^difficulty hashes, so a node re-seals its own definition
/// `heartbeats_per_ttl` times per TTL, not every round: consecutive heartbeats are at least
/// TTL / 6 apart although rounds run ten times as often, and it is still refreshed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_definition_is_resealed_a_few_times_per_ttl_not_every_round() {
    let interval = Duration::from_millis(50);
    let cfg = MetagraphConfig::loopback(interval, 60);
    let reseal_ms = cfg.table.ttl_ms / u64::from(cfg.heartbeats_per_ttl);
    assert!(reseal_ms >= 10 * interval.as_millis() as u64);
    let net = MetagraphTestnet::start_with(1, cfg).await.unwrap();
    let mut seen = std::collections::BTreeSet::new();
    eventually_some(PATIENCE, || {
        let hb = net.snapshot(0).ok()?.first()?.heartbeat_ms;
        seen.insert(hb);
        (seen.len() >= 3).then_some(())
    })
    .await
    .unwrap();
    let beats: Vec<u64> = seen.into_iter().collect();
    for pair in beats.windows(2) {
        assert!(
            pair[1] - pair[0] >= reseal_ms,
            "re-sealed after {} ms (cadence {reseal_ms} ms): {beats:?}",
            pair[1] - pair[0]
        );
    }
    let rounds = net.node(0).map_or(0, |h| h.rounds_completed());
    println!("3 heartbeats {beats:?} over {rounds} rounds");
    net.shutdown().await;
}
