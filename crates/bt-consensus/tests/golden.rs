//! Golden tables worked out by hand from CONSENSUS.md. Each file under `tests/golden/` names the
//! spec step it checks (`spec_step`) and holds cases with their derivation (`why`). Fractions are
//! compared within 1e-6 (the spec's tolerance), stored u16 values exactly unless a case allows
//! ±`u16_tolerance`, rao amounts within ±`rao_tolerance` (fixed-point truncation).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;

use bt_consensus::{EpochOutput, Hyperparams, SparseRow, SubnetState, epoch};
use serde::Deserialize;

#[derive(Deserialize)]
struct Table {
    spec_step: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    why: String,
    hyperparams: Hyperparams,
    state: SubnetState,
    expect: Expect,
    #[serde(default)]
    u16_tolerance: u16,
    #[serde(default)]
    rao_tolerance: u64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    active: Option<Vec<bool>>,
    validator_permit: Option<Vec<bool>>,
    #[serde(default)]
    fractions: BTreeMap<String, Vec<f64>>,
    #[serde(default)]
    stored: BTreeMap<String, Vec<u16>>,
    #[serde(default)]
    emission: BTreeMap<String, Vec<u64>>,
    bonds: Option<Vec<SparseRow>>,
}

fn fraction(out: &EpochOutput, field: &str) -> Vec<f64> {
    let v = out.to_f64();
    match field {
        "stake" => v.stake,
        "active_stake" => v.active_stake,
        "consensus" => v.consensus,
        "validator_trust" => v.validator_trust,
        "trust" => v.trust,
        "incentive" => v.incentive,
        "dividends" => v.dividends,
        "pruning_score" => v.pruning_score,
        other => panic!("unknown fraction field {other}"),
    }
}

fn stored(out: &EpochOutput, field: &str) -> Vec<u16> {
    let s = out.stored();
    match field {
        "stake" => s.stake,
        "consensus" => s.consensus,
        "incentive" => s.incentive,
        "dividends" => s.dividends,
        "validator_trust" => s.validator_trust,
        "trust" => s.trust,
        "rank" => s.rank,
        "pruning_score" => s.pruning_score,
        other => panic!("unknown stored field {other}"),
    }
}

fn emission(out: &EpochOutput, field: &str) -> Vec<u64> {
    match field {
        "server" => out.server_emission.clone(),
        "validator" => out.validator_emission.clone(),
        "combined" => out.emission.clone(),
        other => panic!("unknown emission field {other}"),
    }
}

fn check(step: &str, case: &Case) -> Vec<String> {
    let ctx = format!("step {step} / {}", case.name);
    let out = match epoch(&case.state, &case.hyperparams) {
        Ok(out) => out,
        Err(e) => return vec![format!("{ctx}: epoch failed: {e}")],
    };
    let mut errors = Vec::new();
    let mut expect_eq = |what: &str, ok: bool, got: String, want: String| {
        if !ok {
            errors.push(format!(
                "{ctx}: {what}: got {got}, want {want}\n  why: {}",
                case.why
            ));
        }
    };
    if let Some(want) = &case.expect.active {
        expect_eq(
            "active",
            &out.active == want,
            format!("{:?}", out.active),
            format!("{want:?}"),
        );
    }
    if let Some(want) = &case.expect.validator_permit {
        let got = &out.validator_permit;
        expect_eq(
            "validator_permit",
            got == want,
            format!("{got:?}"),
            format!("{want:?}"),
        );
    }
    for (field, want) in &case.expect.fractions {
        let got = fraction(&out, field);
        let ok =
            got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g - w).abs() <= 1e-6);
        expect_eq(field, ok, format!("{got:?}"), format!("{want:?}"));
    }
    for (field, want) in &case.expect.stored {
        let got = stored(&out, field);
        let ok = got.len() == want.len()
            && got
                .iter()
                .zip(want)
                .all(|(g, w)| g.abs_diff(*w) <= case.u16_tolerance);
        expect_eq(field, ok, format!("{got:?}"), format!("{want:?}"));
    }
    for (field, want) in &case.expect.emission {
        let got = emission(&out, field);
        let ok = got.len() == want.len()
            && got
                .iter()
                .zip(want)
                .all(|(g, w)| g.abs_diff(*w) <= case.rao_tolerance);
        expect_eq(field, ok, format!("{got:?}"), format!("{want:?}"));
    }
    if let Some(want) = &case.expect.bonds {
        let got = &out.bonds;
        let ok = got.len() == want.len()
            && got.iter().zip(want).all(|(g, w)| {
                g.len() == w.len()
                    && g.iter().zip(w).all(|((gj, gv), (wj, wv))| {
                        gj == wj && gv.abs_diff(*wv) <= case.u16_tolerance
                    })
            });
        expect_eq("bonds", ok, format!("{got:?}"), format!("{want:?}"));
    }
    errors
}

#[test]
fn golden_tables() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "golden tables missing in {}",
        dir.display()
    );
    let mut errors = Vec::new();
    let mut cases = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let table: Table =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for case in &table.cases {
            cases += 1;
            errors.extend(check(&table.spec_step, case));
        }
    }
    assert!(
        errors.is_empty(),
        "{} of {cases} cases failed:\n{}",
        errors.len(),
        errors.join("\n")
    );
}
