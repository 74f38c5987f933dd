//! A chain's data as the `subnet` commands print it: text tables, one row per neuron or
//! hyperparameter, and the same rows as JSON. Built from `bt-interfaces`' chain types, so the
//! embedded chain and subtensor print the same table.

use std::fmt::Write as _;

use bt_chain::{HyperparamKey, RAO_PER_TAO};
use bt_interfaces::{SubnetHyperparams, SubnetMetagraph, SubnetSummary};
use serde_json::{Value, json};

/// The chain stores these (trust, consensus, incentive, dividends) as x · 65535.
fn frac(x: u16) -> f64 {
    f64::from(x) / 65535.0
}

fn tao(rao: u64) -> f64 {
    rao as f64 / RAO_PER_TAO as f64
}

/// The metagraph as a text table (one row per uid), like `btcli subnet metagraph`.
pub fn metagraph_table(mg: &SubnetMetagraph, tempo: u16) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "subnet {} at block {}: {} neurons, tempo {tempo}",
        mg.netuid,
        mg.block,
        mg.neurons.len(),
    );
    let _ = writeln!(
        out,
        "{:>4} {:>12} {:>7} {:>7} {:>7} {:>7} {:>7} {:>12} {:>6} {:>4} {:>22} {:<12}",
        "UID",
        "STAKE(τ)",
        "VTRUST",
        "CONS",
        "INCENT",
        "DIVS",
        "ACTIVE",
        "EMISSION(ρ)",
        "UPDATE",
        "VP",
        "AXON",
        "HOTKEY"
    );
    for n in &mg.neurons {
        let axon = n
            .axon
            .as_ref()
            .map_or_else(|| "-".to_string(), |a| format!("{}:{}", a.ip, a.port));
        let hk = n.hotkey.to_ss58();
        let _ = writeln!(
            out,
            "{:>4} {:>12.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7} {:>12} {:>6} {:>4} {:>22} {:<12}",
            n.uid,
            tao(n.stake),
            frac(n.validator_trust),
            frac(n.consensus),
            frac(n.incentive),
            frac(n.dividends),
            n.active,
            n.emission,
            mg.block.saturating_sub(n.last_update),
            if n.validator_permit { "*" } else { "" },
            axon,
            hk.get(..12).unwrap_or(&hk),
        );
    }
    out
}

/// The metagraph as JSON: the SDK's field names, fractions as floats, stake in TAO, emission
/// in rao, addresses as SS58.
pub fn metagraph_json(mg: &SubnetMetagraph) -> Value {
    let neurons: Vec<Value> = mg
        .neurons
        .iter()
        .map(|n| {
            json!({
                "uid": n.uid,
                "hotkey": n.hotkey.to_ss58(),
                "coldkey": n.coldkey.to_ss58(),
                "stake": tao(n.stake),
                "rank": frac(n.rank),
                "trust": frac(n.trust),
                "consensus": frac(n.consensus),
                "incentive": frac(n.incentive),
                "dividends": frac(n.dividends),
                "emission": n.emission,
                "validator_trust": frac(n.validator_trust),
                "validator_permit": n.validator_permit,
                "active": n.active,
                "last_update": n.last_update,
                "block_at_registration": n.block_at_registration,
                "axon": n.axon.as_ref().map(|a| json!({
                    "ip": a.ip.to_string(), "port": a.port, "protocol": a.protocol, "version": a.version,
                })),
            })
        })
        .collect();
    json!({
        "netuid": mg.netuid,
        "block": mg.block,
        "n": mg.neurons.len(),
        "owner_coldkey": mg.owner_coldkey.map(|c| c.to_ss58()),
        "neurons": neurons,
    })
}

/// One row per subnet, like `btcli subnet list`.
pub fn subnets_table(rows: &[SubnetSummary]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>6} {:>5} {:>6} {:>14} {:<48}",
        "NETUID", "N", "TEMPO", "STAKE(τ)", "OWNER"
    );
    for s in rows {
        let owner = s
            .owner_coldkey
            .map_or_else(|| "-".to_string(), |c| c.to_ss58());
        let _ = writeln!(
            out,
            "{:>6} {:>5} {:>6} {:>14.4} {:<48}",
            s.netuid,
            s.n,
            s.tempo,
            tao(s.total_stake),
            owner
        );
    }
    out
}

pub fn subnets_json(rows: &[SubnetSummary]) -> Value {
    Value::Array(
        rows.iter()
            .map(|s| {
                json!({
                    "netuid": s.netuid,
                    "n": s.n,
                    "tempo": s.tempo,
                    "total_stake": tao(s.total_stake),
                    "owner_coldkey": s.owner_coldkey.map(|c| c.to_ss58()),
                })
            })
            .collect(),
    )
}

/// One line per hyperparameter, by the name `subnet hparams --set` takes; a value the chain
/// does not store is shown as `-`.
pub fn hparams_table(h: &SubnetHyperparams) -> String {
    let mut out = String::new();
    for (name, val) in hparams_named(h) {
        let _ = writeln!(
            out,
            "{name:<26} {}",
            val.map_or("-".to_string(), |v| v.to_string())
        );
    }
    out
}

pub fn hparams_json(h: &SubnetHyperparams) -> Value {
    Value::Object(
        hparams_named(h)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.unwrap_or(Value::Null)))
            .collect(),
    )
}

fn hparams_named(h: &SubnetHyperparams) -> Vec<(&'static str, Option<Value>)> {
    let v = serde_json::to_value(&h.values).unwrap_or_default();
    HyperparamKey::ALL
        .iter()
        .map(|k| {
            let absent = h.absent.contains(&k.name());
            (
                k.name(),
                if absent {
                    None
                } else {
                    v.get(k.name()).cloned()
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_crypto::wallet::AccountId;
    use bt_interfaces::{Hyperparams, NeuronRow};

    fn metagraph(n: u16) -> SubnetMetagraph {
        SubnetMetagraph {
            netuid: 1,
            block: 10,
            owner_coldkey: Some(AccountId([1; 32])),
            neurons: (0..n)
                .map(|uid| NeuronRow {
                    uid,
                    hotkey: AccountId([uid as u8; 32]),
                    coldkey: AccountId([1; 32]),
                    stake: 1_500_000_000,
                    rank: 0,
                    trust: 0,
                    consensus: 0,
                    incentive: 0,
                    dividends: 0,
                    emission: 7,
                    validator_trust: 65535,
                    validator_permit: true,
                    active: true,
                    last_update: 4,
                    block_at_registration: 0,
                    axon: None,
                    weights: Vec::new(),
                    bonds: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn metagraph_table_has_a_header_and_a_row_per_uid() {
        let table = metagraph_table(&metagraph(3), 360);
        let lines: Vec<_> = table.lines().collect();
        assert_eq!(lines.len(), 2 + 3, "{table}");
        assert_eq!(lines[0], "subnet 1 at block 10: 3 neurons, tempo 360");
        let row: Vec<_> = lines[2].split_whitespace().collect();
        assert_eq!(
            &row[..8],
            [
                "0", "1.5000", "1.0000", "0.0000", "0.0000", "0.0000", "true", "7"
            ]
        );
        assert_eq!(&row[8..11], ["6", "*", "-"]);
    }

    #[test]
    fn metagraph_json_names_fields_as_the_sdk() {
        let j = metagraph_json(&metagraph(2));
        assert_eq!(j["n"], 2);
        assert_eq!(j["neurons"][1]["uid"], 1);
        assert_eq!(j["neurons"][1]["stake"], 1.5);
        assert_eq!(j["neurons"][1]["validator_trust"], 1.0);
        assert_eq!(j["neurons"][0]["hotkey"], AccountId([0; 32]).to_ss58());
    }

    #[test]
    fn hparams_table_has_one_line_per_key_and_marks_absent_ones() {
        let mut h = SubnetHyperparams {
            values: Hyperparams::default(),
            absent: Vec::new(),
        };
        let table = hparams_table(&h);
        assert_eq!(table.lines().count(), HyperparamKey::ALL.len());
        let tempo = table.lines().find(|l| l.starts_with("tempo ")).unwrap();
        assert_eq!(tempo.split_whitespace().nth(1), Some("360"));
        h.absent.push("bonds_penalty");
        let table = hparams_table(&h);
        let line = table
            .lines()
            .find(|l| l.starts_with("bonds_penalty "))
            .unwrap();
        assert_eq!(line.split_whitespace().nth(1), Some("-"));
        assert!(hparams_json(&h)["bonds_penalty"].is_null());
    }
}
