//! Every error path of the epoch and the simulator returns its typed error (never a panic).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use bt_consensus::simulate::{Format, parse, run_scenario, simulate_file};
use bt_consensus::{ConsensusError, EpochError, Hyperparams, SubnetState, epoch};

fn valid(n: usize) -> SubnetState {
    SubnetState {
        block: 10,
        stake: vec![1; n],
        last_update: vec![9; n],
        block_at_registration: vec![0; n],
        validator_permit: vec![true; n],
        weights: vec![vec![]; n],
        bonds: vec![vec![]; n],
        owner: None,
        emission: 1000,
    }
}

fn run(state: &SubnetState) -> Result<(), EpochError> {
    epoch(state, &Hyperparams::default()).map(|_| ())
}

#[test]
fn valid_state_runs() {
    assert!(run(&valid(3)).is_ok());
    assert!(
        run(&valid(0)).is_ok(),
        "an empty subnet is a valid (empty) epoch"
    );
}

#[test]
fn length_mismatch_names_the_field() {
    type Edit = fn(&mut SubnetState);
    let edits: [(&str, Edit); 5] = [
        ("last_update", |s| s.last_update.pop().map(drop).unwrap()),
        ("block_at_registration", |s| s.block_at_registration.push(0)),
        ("validator_permit", |s| s.validator_permit.clear()),
        ("weights", |s| s.weights.push(vec![])),
        ("bonds", |s| s.bonds.pop().map(drop).unwrap()),
    ];
    for (name, edit) in edits {
        let mut s = valid(3);
        edit(&mut s);
        match run(&s) {
            Err(EpochError::LengthMismatch {
                field, expected, ..
            }) => {
                assert_eq!(field, name);
                assert_eq!(expected, 3);
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn too_many_neurons() {
    let s = valid(usize::from(u16::MAX) + 1);
    assert!(matches!(
        run(&s),
        Err(EpochError::TooManyNeurons { n: 65536 })
    ));
}

#[test]
fn uid_out_of_range_in_weights_and_bonds() {
    let mut s = valid(3);
    s.weights[1] = vec![(0, 1), (3, 1)];
    assert!(matches!(
        run(&s),
        Err(EpochError::UidOutOfRange {
            matrix: "weights",
            row: 1,
            uid: 3,
            n: 3
        })
    ));
    let mut s = valid(3);
    s.bonds[2] = vec![(7, 1)];
    assert!(matches!(
        run(&s),
        Err(EpochError::UidOutOfRange {
            matrix: "bonds",
            row: 2,
            uid: 7,
            n: 3
        })
    ));
}

#[test]
fn duplicate_uid_in_weights_and_bonds() {
    let mut s = valid(3);
    s.weights[0] = vec![(1, 5), (2, 5), (1, 6)];
    assert!(matches!(
        run(&s),
        Err(EpochError::DuplicateUid {
            matrix: "weights",
            row: 0,
            uid: 1
        })
    ));
    let mut s = valid(3);
    s.bonds[1] = vec![(2, 5), (2, 5)];
    assert!(matches!(
        run(&s),
        Err(EpochError::DuplicateUid {
            matrix: "bonds",
            row: 1,
            uid: 2
        })
    ));
}

#[test]
fn owner_out_of_range() {
    let mut s = valid(3);
    s.owner = Some(3);
    assert!(matches!(
        run(&s),
        Err(EpochError::OwnerOutOfRange { owner: 3, n: 3 })
    ));
}

#[test]
fn stake_overflow() {
    let mut s = valid(2);
    s.stake = vec![u64::MAX, 0];
    assert!(matches!(run(&s), Err(EpochError::StakeOverflow)));
    s.stake = vec![i64::MAX as u64, 1];
    assert!(matches!(run(&s), Err(EpochError::StakeOverflow)));
    s.stake = vec![i64::MAX as u64, 0];
    assert!(run(&s).is_ok(), "the largest representable total is fine");
}

#[test]
fn invalid_hyperparams() {
    let s = valid(2);
    let hp = Hyperparams {
        bonds_moving_average: 1_000_001,
        ..Hyperparams::default()
    };
    assert!(matches!(
        epoch(&s, &hp),
        Err(EpochError::InvalidHyperparam {
            name: "bonds_moving_average",
            ..
        })
    ));
    let hp = Hyperparams {
        alpha_low: 60_000,
        alpha_high: 50_000,
        ..Hyperparams::default()
    };
    assert!(matches!(
        epoch(&s, &hp),
        Err(EpochError::InvalidHyperparam {
            name: "alpha_low",
            ..
        })
    ));
}

const BASE: &str = r#"{"hyperparams": {"max_allowed_uids": 2}, "owner": 0,
  "neurons": [{"stake": 5, "validator_permit": true}, {}], "steps": [STEP]}"#;

fn scenario_error(step: &str) -> ConsensusError {
    let text = BASE.replace("STEP", step);
    let scenario = parse(&text).unwrap();
    run_scenario(&scenario).unwrap_err()
}

#[test]
fn invalid_steps() {
    let cases = [
        (
            r#"{"set_weights": {"uid": 5, "weights": [[1, 1]]}}"#,
            "set_weights",
            "no neuron",
        ),
        (
            r#"{"set_weights": {"uid": 0, "weights": [[2, 1]]}}"#,
            "set_weights",
            "n = 2",
        ),
        (
            r#"{"set_weights": {"uid": 0, "weights": [[1, 1], [1, 2]]}}"#,
            "set_weights",
            "twice",
        ),
        (
            r#"{"set_stake": {"uid": 9, "stake": 1}}"#,
            "set_stake",
            "no neuron",
        ),
    ];
    for (step, want_kind, want_reason) in cases {
        match scenario_error(step) {
            ConsensusError::InvalidStep {
                step: 0,
                kind,
                reason,
            } => {
                assert_eq!(kind, want_kind);
                assert!(reason.contains(want_reason), "{reason}");
            }
            other => panic!("{step}: {other:?}"),
        }
    }
}

#[test]
fn register_fails_when_only_the_owner_could_go() {
    let text = r#"{"hyperparams": {"max_allowed_uids": 1}, "owner": 0,
      "neurons": [{"stake": 5}], "steps": [{"register": {}}]}"#;
    let err = run_scenario(&parse(text).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            ConsensusError::InvalidStep {
                kind: "register",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn bad_starting_state_and_epoch_errors_surface() {
    let text = r#"{"neurons": [{"weights": [[4, 1]]}], "steps": []}"#;
    let err = run_scenario(&parse(text).unwrap()).unwrap_err();
    assert!(
        matches!(err, ConsensusError::Epoch(EpochError::UidOutOfRange { .. })),
        "{err:?}"
    );
    let text =
        r#"{"hyperparams": {"bonds_moving_average": 2000000}, "neurons": [{}], "steps": []}"#;
    let err = run_scenario(&parse(text).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            ConsensusError::Epoch(EpochError::InvalidHyperparam { .. })
        ),
        "{err:?}"
    );
    let text = r#"{"neurons": [{"stake": 18446744073709551615}], "steps": [{"epoch": {}}]}"#;
    let err = run_scenario(&parse(text).unwrap()).unwrap_err();
    assert!(
        matches!(err, ConsensusError::Epoch(EpochError::StakeOverflow)),
        "{err:?}"
    );
}

#[test]
fn json_errors() {
    assert!(matches!(parse("{"), Err(ConsensusError::Json(_))));
    assert!(matches!(
        parse(r#"{"neurons": [], "steps": [], "typo": 1}"#),
        Err(ConsensusError::Json(_))
    ));
    assert!(matches!(
        parse(r#"{"neurons": [], "steps": [{"fly": {}}]}"#),
        Err(ConsensusError::Json(_))
    ));
    assert!(matches!(
        parse(r#"{"hyperparams": {"kapa": 1}, "neurons": [], "steps": []}"#),
        Err(ConsensusError::Json(_))
    ));
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("bt-consensus-{}-{name}", std::process::id()))
}

#[test]
fn file_errors() {
    let missing = temp_path("missing.json");
    assert!(matches!(
        simulate_file(&missing, Format::Json),
        Err(ConsensusError::Io { .. })
    ));
    let big = temp_path("big.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(bt_consensus::simulate::MAX_SCENARIO_BYTES + 1)
        .unwrap();
    let result = simulate_file(&big, Format::Table);
    std::fs::remove_file(&big).unwrap();
    assert!(
        matches!(result, Err(ConsensusError::TooLarge { .. })),
        "{result:?}"
    );
    assert!(matches!(
        "xml".parse::<Format>(),
        Err(ConsensusError::UnknownFormat(_))
    ));
}
