//! What the table exposes about an entry (`bt_interfaces::SynapseInfo`, the view every
//! metagraph source gives), and how `metagraph inspect` prints it.

use std::fmt::Write as _;

use bt_interfaces::SynapseInfo;
use bt_wire::Synapse;
use serde::Serialize;

use crate::validate::{decode_heartbeat, parse_port};

/// Reads a definition as the neuron-facing [`SynapseInfo`]. Only meaningful for definitions
/// that passed validation; fields that do not parse become 0 rather than failing, since this is
/// a view.
pub fn synapse_info(syn: &Synapse, weight: f32) -> SynapseInfo {
    SynapseInfo {
        synapse_key: syn.synapse_key.clone(),
        neuron_key: syn.neuron_key.clone(),
        address: syn.address.clone(),
        port: parse_port(&syn.port).unwrap_or(0),
        version: syn.version.clone(),
        heartbeat_ms: decode_heartbeat(&syn.block_hash).unwrap_or(0),
        weight,
    }
}

/// A fixed-width text table: synapse key, address, port, age, weight.
pub fn render_table(rows: &[SynapseInfo], now_ms: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<66}  {:<39}  {:>5}  {:>9}  {:>8}",
        "SYNAPSE_KEY", "ADDRESS", "PORT", "AGE_S", "WEIGHT"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<66}  {:<39}  {:>5}  {:>9.1}  {:>8.4}",
            r.synapse_key,
            r.address,
            r.port,
            r.age_ms(now_ms) as f64 / 1000.0,
            r.weight
        );
    }
    let _ = writeln!(out, "{} synapse(s)", rows.len());
    out
}

#[derive(Serialize)]
struct JsonRow<'a> {
    #[serde(flatten)]
    info: &'a SynapseInfo,
    age_ms: u64,
}

/// A JSON array, one object per synapse, with the schema's field names plus `age_ms`.
pub fn render_json(rows: &[SynapseInfo], now_ms: u64) -> String {
    let json: Vec<JsonRow<'_>> = rows
        .iter()
        .map(|info| JsonRow {
            info,
            age_ms: info.age_ms(now_ms),
        })
        .collect();
    serde_json::to_string_pretty(&json).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn renders_table_and_json_with_schema_names() {
        let row = SynapseInfo {
            synapse_key: "0xab".into(),
            neuron_key: "0xcd".into(),
            address: "127.0.0.1".into(),
            port: 8091,
            version: "0.1.0".into(),
            heartbeat_ms: 1_000,
            weight: 0.5,
        };
        let text = render_table(std::slice::from_ref(&row), 3_500);
        assert!(text.contains("0xab") && text.contains("8091") && text.contains("2.5"));
        let json: serde_json::Value =
            serde_json::from_str(&render_json(&[row], 3_500)).unwrap_or_default();
        assert_eq!(json[0]["synapse_key"], "0xab");
        assert_eq!(json[0]["neuron_key"], "0xcd");
        assert_eq!(json[0]["port"], 8091);
        assert_eq!(json[0]["age_ms"], 2_500);
    }
}
