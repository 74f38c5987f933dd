//! Rounds to full convergence of push-pull gossip, in virtual time (no sockets).
//!
//! `cargo bench -p bt-metagraph --bench convergence` (add `-- --quick` to skip N = 10,000).
//!
//! Real tables for N = 100 and 1,000; the bitset model of the same protocol for N = 100,
//! 1,000 and 10,000 (10,000 real tables would hold 10⁸ entries). Simulated definitions are
//! made by the simulator and admitted without work or signature checks (pre-verified).

use std::time::Instant;

use bt_metagraph::MetagraphConfig;
use bt_metagraph::sim::{SimConfig, SimResult, sim_synapse, simulate_compact, simulate_tables};
use prost::Message;

fn row(model: &str, n: usize, r: SimResult, secs: f64) {
    let bound = 3.0 * (n as f64).log2();
    let rounds = r
        .rounds
        .map_or("not converged".to_owned(), |x| x.to_string());
    let ok = r.rounds.is_some_and(|x| x as f64 <= bound);
    println!(
        "| {model:<12} | {n:>6} | {rounds:>6} | {bound:>11.1} | {:>3} | {:>12.0} | {secs:>7.2} |",
        if ok { "yes" } else { "no" },
        r.bytes_per_node_round
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // `--bitset`: only the bitset model (seconds instead of a minute).
    let bitset_only = std::env::args().any(|a| a == "--bitset");
    let defaults = MetagraphConfig::default();
    let base = SimConfig {
        nodes: 0,
        sample_synapses: defaults.sample_synapses,
        sample_peers: defaults.sample_peers,
        interval_ms: u64::try_from(defaults.gossip_interval.as_millis()).unwrap_or(10_000),
        // The node re-seals its definitions `heartbeats_per_ttl` times per TTL.
        reseal_every: (defaults.table.ttl_ms / u64::from(defaults.heartbeats_per_ttl.max(1)))
            .div_ceil(
                u64::try_from(defaults.gossip_interval.as_millis())
                    .unwrap_or(10_000)
                    .max(1),
            ) as usize,
        max_rounds: 200,
        seed: 42,
    };
    let synapse_bytes = sim_synapse(9_999, 1_763_780_000_000).encoded_len();
    println!(
        "sample_synapses = {} (grows to held/{}, at most {}), sample_peers = {}, re-seal every {} rounds, one definition = {synapse_bytes} bytes encoded",
        base.sample_synapses,
        bt_metagraph::table::SAMPLE_DIVISOR,
        defaults.table.max_batch_synapses,
        base.sample_peers,
        base.reseal_every
    );
    println!("| model        |      N | rounds | 3·log2(N)   | ≤ ? | bytes/node/round | time s |");
    println!("|--------------|-------:|-------:|------------:|:---:|-----------------:|-------:|");
    for n in [100, 1_000].into_iter().filter(|_| !bitset_only) {
        let t = Instant::now();
        let r = simulate_tables(SimConfig { nodes: n, ..base });
        row("table", n, r, t.elapsed().as_secs_f64());
    }
    let sizes: &[usize] = if quick {
        &[100, 1_000]
    } else {
        &[100, 1_000, 10_000]
    };
    for &n in sizes {
        let t = Instant::now();
        let r = simulate_compact(SimConfig { nodes: n, ..base }, synapse_bytes);
        row("bitset", n, r, t.elapsed().as_secs_f64());
    }
    if !quick {
        // The largest network is the closest to its bound: other seeds show the spread.
        for seed in [7, 2026] {
            let t = Instant::now();
            let cfg = SimConfig {
                nodes: 10_000,
                seed,
                ..base
            };
            let r = simulate_compact(cfg, synapse_bytes);
            row(
                &format!("bitset s{seed}"),
                10_000,
                r,
                t.elapsed().as_secs_f64(),
            );
        }
    }
    seal_cost();
}

/// What re-announcing costs: the work covers the heartbeat, so each re-announce solves it.
fn seal_cost() {
    let key = bt_crypto::NeuronKey::from_seed([1; 32]);
    let bits = bt_metagraph::DEFAULT_DIFFICULTY_BITS;
    let reps = 20u32;
    let mut syns = Vec::new();
    let t = Instant::now();
    for i in 0..reps {
        let mut s = sim_synapse(i as usize, 1_763_780_000_000 + u64::from(i));
        if bt_crypto::seal_synapse(&key, &mut s, bits).is_ok() {
            syns.push(s);
        }
    }
    let seal = t.elapsed().as_secs_f64() / f64::from(reps);
    let t = Instant::now();
    let ok = syns
        .iter()
        .filter(|s| bt_crypto::verify_synapse(s, bits).is_ok())
        .count();
    let verify = t.elapsed().as_secs_f64() / syns.len().max(1) as f64;
    println!(
        "seal (work + sign) at {bits} bits: {:.1} ms mean over {reps}; verify: {:.1} µs ({ok} ok); ratio {:.0}x",
        seal * 1e3,
        verify * 1e6,
        seal / verify.max(1e-12)
    );
}
