//! The fault scenario for three minutes: a chain node and three MNIST neurons as real
//! processes, every kind of fault once (SIGKILL and restart of a miner, of the validator and of
//! the chain node; a cut, a delay and a loss on links through the harness's fault proxies; a
//! validator with its clock ahead), and every invariant of `scenario.rs` checked throughout.
//! The `soak` bench runs the same scenario for an hour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dataset;
mod scenario;

use std::path::PathBuf;

use bt_testnet::faults::FaultKind;
use scenario::{Config, Scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_minutes_of_faults_keep_every_invariant() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_bittensor"));
    let cfg = Config::ci();
    let scheduled = cfg.schedule.steps().len() as u64;
    let s = Scenario::start(cfg, bin)
        .await
        .unwrap_or_else(|e| panic!("starting the scenario: {e}"));
    let report = s.run_faults().await;
    println!("{}", scenario::table(&report, None));
    assert!(report.broken.is_empty(), "{}", report.broken.join("\n"));
    assert_eq!(report.faults.values().sum::<u64>(), scheduled);
    assert_eq!(report.chain_checks, 1, "the acknowledged block was checked");
    assert!(
        report.checkpoint_checks >= 2,
        "miner-2's and the validator's"
    );
    assert!(report.weights_after_restart);
    assert!(
        report.chain_redials >= 3,
        "every neuron dialled the restarted chain again"
    );
    let recovered = |k: FaultKind| report.recoveries.iter().filter(|r| r.kind == k).count();
    assert_eq!(recovered(FaultKind::Restart), 2, "miner-2 and the chain");
    assert_eq!(
        recovered(FaultKind::ClockSkew),
        2,
        "skewed, then true again"
    );
    assert_eq!(recovered(FaultKind::Heal), 1);
    assert_eq!(recovered(FaultKind::Clear), 2);
}
