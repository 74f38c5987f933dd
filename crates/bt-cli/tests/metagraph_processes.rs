//! 20 real `bittensor neuron echo` processes on loopback: their metagraphs converge within 15
//! gossip rounds, and after 5 of them are SIGKILLed every survivor drops their synapses within
//! the TTL (30 gossip intervals) plus one interval.
//!
//! Rounds are counted by the nodes themselves: with `BT_LOG=bt_metagraph::node=debug` each
//! prints `gossip round done round=N` after every round, and the harness keeps each child's
//! output. Tables are read with `bt_metagraph::inspect` (the `metagraph inspect` client).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bt_neuron::report::Ready;
use bt_testnet::process::{ChildProcess, log_field};
use bt_testnet::{HarnessError, eventually_async_every};

const NODES: usize = 20;
const KILLED: usize = 5;
/// Seconds between gossip rounds. Long enough that 20 processes sharing two cores keep to
/// their schedule; the TTL is 30 of these (bt-neuron's `network.rs`).
const INTERVAL_S: f64 = 1.0;
const TTL_INTERVALS: f64 = 30.0;
/// The neuron's default jitter: each wait is the interval times 1 ± 0.2.
const JITTER: f64 = 0.2;
const READY_TIMEOUT: Duration = Duration::from_secs(120);
const PATIENCE: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(250);
const INSPECT_TIMEOUT: Duration = Duration::from_secs(3);

struct Neuron {
    process: ChildProcess,
    ready: Ready,
}

fn spawn(dir: &std::path::Path, index: usize, bootstrap: Option<&str>) -> ChildProcess {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_bittensor"));
    cmd.args(["neuron", "echo", "--remote_ip", "127.0.0.1"])
        .arg("--neuron_key")
        .arg(dir.join(format!("node{index}.key")))
        .args(["--gossip_interval", &INTERVAL_S.to_string()])
        .env("BT_LOG", "warn,bt_metagraph::node=debug")
        .env("NO_COLOR", "1");
    if let Some(b) = bootstrap {
        cmd.args(["--bootstrap", b]);
    }
    ChildProcess::spawn(format!("n{index}"), cmd).unwrap()
}

async fn ready(mut process: ChildProcess) -> Neuron {
    let ready = common::neuron_ready(&mut process, READY_TIMEOUT).await;
    Neuron { process, ready }
}

/// The last round the node reported finishing (0 before its first).
fn rounds(n: &Neuron) -> u64 {
    n.process
        .latest(|l| {
            l.text
                .contains("gossip round done")
                .then(|| log_field(&l.text, "round")?.parse().ok())
                .flatten()
        })
        .unwrap_or(0)
}

/// True when every node in `nodes` holds exactly the synapses of `nodes`. The tables are
/// read concurrently, so that one sweep takes about one call, not twenty.
async fn all_hold_exactly(nodes: &[&Neuron]) -> bool {
    let want: BTreeSet<String> = nodes
        .iter()
        .flat_map(|n| n.ready.synapse_keys.iter().cloned())
        .collect();
    let mut calls = tokio::task::JoinSet::new();
    for n in nodes {
        let addr = n.ready.metagraph.clone();
        calls.spawn(async move { bt_metagraph::inspect(&addr, INSPECT_TIMEOUT).await });
    }
    let mut ok = true;
    while let Some(answer) = calls.join_next().await {
        let keys: Option<BTreeSet<String>> = answer
            .ok()
            .and_then(Result::ok)
            .map(|rows| rows.into_iter().map(|r| r.synapse_key).collect());
        ok &= keys.as_ref() == Some(&want);
    }
    ok
}

fn report(nodes: &[&Neuron], e: HarnessError) -> String {
    let tails: String = nodes.iter().map(|n| n.process.tail(8)).collect();
    format!("{e}\nlast output of the nodes:\n{tails}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_processes_converge_and_forget_the_killed() {
    let dir = tempfile::tempdir().unwrap();
    let first = ready(spawn(dir.path(), 0, None)).await;
    let boot = first.ready.metagraph.clone();
    // The others start together, all bootstrapping to the first (a star, as in the seeds).
    let children: Vec<ChildProcess> = (1..NODES)
        .map(|i| spawn(dir.path(), i, Some(&boot)))
        .collect();
    let mut nodes = vec![first];
    for c in children {
        nodes.push(ready(c).await);
    }

    // Convergence, in each node's own rounds since the last node became ready.
    let start: Vec<u64> = nodes.iter().map(rounds).collect();
    let t0 = Instant::now();
    let all: Vec<&Neuron> = nodes.iter().collect();
    eventually_async_every(PATIENCE, POLL, || all_hold_exactly(&all))
        .await
        .unwrap_or_else(|e| panic!("{}", report(&all, e)));
    let took: Vec<u64> = nodes
        .iter()
        .zip(&start)
        .map(|(n, s)| rounds(n) - s)
        .collect();
    let worst = took.iter().copied().max().unwrap_or(0);
    println!(
        "{NODES} processes converged after at most {worst} rounds ({:.1} s; per node {took:?})",
        t0.elapsed().as_secs_f64()
    );
    assert!(worst <= 15, "converged after {worst} rounds: {took:?}");

    // Kill 5 without warning; the survivors must forget their synapses.
    let (survivors, dead) = nodes.split_at_mut(NODES - KILLED);
    for n in dead.iter_mut() {
        n.process.kill().await.unwrap();
    }
    let at_kill: Vec<u64> = survivors.iter().map(rounds).collect();
    let t1 = Instant::now();
    let alive: Vec<&Neuron> = survivors.iter().collect();
    eventually_async_every(PATIENCE, POLL, || all_hold_exactly(&alive))
        .await
        .unwrap_or_else(|e| panic!("{}", report(&alive, e)));
    let took: Vec<u64> = alive
        .iter()
        .zip(&at_kill)
        .map(|(n, s)| rounds(n) - s)
        .collect();
    let worst = took.iter().copied().max().unwrap_or(0);
    // TTL + one interval is 31 intervals of time. Waits are at least (1 - jitter) intervals,
    // so a node fits at most 31 / 0.8 = 38.75 rounds into that time; one more for the round
    // that was under way when we looked.
    let bound = ((TTL_INTERVALS + 1.0) / (1.0 - JITTER)).floor() as u64 + 1;
    println!(
        "survivors dropped the {KILLED} killed nodes after at most {worst} rounds ({:.1} s, TTL {:.1} s; per node {took:?})",
        t1.elapsed().as_secs_f64(),
        TTL_INTERVALS * INTERVAL_S
    );
    assert!(
        worst <= bound,
        "took {worst} rounds (bound {bound}): {took:?}"
    );
}
