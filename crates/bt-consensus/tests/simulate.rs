//! The committed example scenario runs and renders in both formats.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use bt_consensus::simulate::{EpochReport, Format, parse, run_scenario, simulate_file};

fn example() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scenario.json")
}

#[test]
fn example_scenario_runs_three_epochs() {
    let scenario = parse(&std::fs::read_to_string(example()).unwrap()).unwrap();
    let reports = run_scenario(&scenario).unwrap();
    assert_eq!(reports.len(), 3);
    // The registration before the last epoch appends a ninth neuron.
    assert_eq!(reports[2].hotkeys.len(), 9);
    for r in &reports {
        let paid: u64 = r.stored.server_emission.iter().sum::<u64>()
            + r.stored.validator_emission.iter().sum::<u64>();
        assert!(
            paid <= scenario.emission && paid + 64 >= scenario.emission,
            "{paid}"
        );
        // Validators earn dividends, miners incentive.
        assert!(r.values.dividends[..3].iter().all(|d| *d > 0.0));
        assert!(r.values.incentive[3..8].iter().all(|i| *i > 0.0));
    }
    // Validator c moves from outlier weights to the consensus weights in epoch 1: its
    // validator trust rises to 1 and its bonds grow.
    assert!(reports[0].values.validator_trust[2] < 0.5);
    assert!((reports[1].values.validator_trust[2] - 1.0).abs() < 1e-6);
    let bond = |r: &EpochReport| {
        r.stored.bonds[2]
            .iter()
            .map(|(_, b)| u64::from(*b))
            .sum::<u64>()
    };
    assert!(bond(&reports[2]) > bond(&reports[1]) && bond(&reports[1]) > bond(&reports[0]));
}

#[test]
fn renders_json_and_table() {
    let json = simulate_file(example(), Format::Json).unwrap();
    let back: Vec<EpochReport> = serde_json::from_str(&json).unwrap();
    assert_eq!(back.len(), 3);
    let table = simulate_file(example(), Format::Table).unwrap();
    for needle in [
        "epoch 0",
        "epoch 2",
        "validator-a",
        "miner-5",
        "incentive",
        "bonds (stored u16",
    ] {
        assert!(table.contains(needle), "missing {needle}:\n{table}");
    }
}
