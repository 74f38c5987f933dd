//! The chain's data as the `subnet` commands print it: text tables, one row per neuron or
//! hyperparameter.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bt_chain::{AxonInfo, HyperparamKey, Hyperparams, Metagraph, RAO_PER_TAO};

/// The chain stores these (trust, consensus, incentive, dividends) as x · 65535.
fn frac(x: u16) -> f64 {
    f64::from(x) / 65535.0
}

fn axon_addr(a: &AxonInfo) -> String {
    let ip = if a.ip_type == 4 {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(a.ip).unwrap_or(0)))
    } else {
        IpAddr::V6(Ipv6Addr::from(a.ip))
    };
    format!("{ip}:{}", a.port)
}

/// The metagraph as a text table (one row per uid), like `btcli subnet metagraph`.
pub fn metagraph_table(mg: &Metagraph) -> String {
    let tao = |rao: u64| rao as f64 / RAO_PER_TAO as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "subnet {} at block {}: {} neurons, burn {:.4} TAO, tempo {}",
        mg.netuid,
        mg.block,
        mg.n,
        tao(mg.burn),
        mg.hparams.tempo
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
    // A node's answer could carry vectors shorter than `n`: print the rows that are complete
    // rather than index past an end.
    let rows = [
        mg.uids.len(),
        mg.stake.len(),
        mg.validator_trust.len(),
        mg.consensus.len(),
        mg.incentive.len(),
        mg.dividends.len(),
        mg.active.len(),
        mg.emission.len(),
        mg.last_update.len(),
        mg.validator_permit.len(),
        mg.axons.len(),
        mg.hotkeys.len(),
    ]
    .into_iter()
    .fold(usize::from(mg.n), usize::min);
    for i in 0..rows {
        let axon = mg.axons[i]
            .as_ref()
            .map_or_else(|| "-".to_string(), axon_addr);
        let hk = mg.hotkeys[i].to_ss58();
        let _ = writeln!(
            out,
            "{:>4} {:>12.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7} {:>12} {:>6} {:>4} {:>22} {:<12}",
            mg.uids[i],
            tao(mg.stake[i]),
            frac(mg.validator_trust[i]),
            frac(mg.consensus[i]),
            frac(mg.incentive[i]),
            frac(mg.dividends[i]),
            mg.active[i],
            mg.emission[i],
            mg.block.saturating_sub(mg.last_update[i]),
            if mg.validator_permit[i] { "*" } else { "" },
            axon,
            hk.get(..12).unwrap_or(&hk),
        );
    }
    out
}

/// One line per hyperparameter, by the name `subnet hparams --set` takes.
pub fn hparams_table(h: &Hyperparams) -> String {
    let v = serde_json::to_value(h).unwrap_or_default();
    let mut out = String::new();
    for k in HyperparamKey::ALL {
        let val = v.get(k.name()).map_or("?".to_string(), |x| x.to_string());
        let _ = writeln!(out, "{:<26} {val}", k.name());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_chain::AccountId;

    fn metagraph(n: u16) -> Metagraph {
        let k = usize::from(n);
        Metagraph {
            netuid: 1,
            block: 10,
            n,
            owner_coldkey: AccountId([1; 32]),
            owner_hotkey: AccountId([2; 32]),
            uids: (0..n).collect(),
            hotkeys: (0..n).map(|i| AccountId([i as u8; 32])).collect(),
            coldkeys: vec![AccountId([1; 32]); k],
            stake: vec![1_500_000_000; k],
            active: vec![true; k],
            last_update: vec![4; k],
            block_at_registration: vec![0; k],
            validator_permit: vec![true; k],
            validator_trust: vec![65535; k],
            consensus: vec![0; k],
            incentive: vec![0; k],
            dividends: vec![0; k],
            rank: vec![0; k],
            trust: vec![0; k],
            emission: vec![7; k],
            axons: vec![None; k],
            weights: vec![Vec::new(); k],
            bonds: vec![Vec::new(); k],
            hparams: Hyperparams::default(),
            burn: 1_000_000_000,
        }
    }

    #[test]
    fn metagraph_table_has_a_header_and_a_row_per_uid() {
        let table = metagraph_table(&metagraph(3));
        let lines: Vec<_> = table.lines().collect();
        assert_eq!(lines.len(), 2 + 3, "{table}");
        assert_eq!(
            lines[0],
            "subnet 1 at block 10: 3 neurons, burn 1.0000 TAO, tempo 360"
        );
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
    fn a_short_metagraph_prints_its_complete_rows_only() {
        let mut mg = metagraph(3);
        mg.stake.truncate(1);
        assert_eq!(metagraph_table(&mg).lines().count(), 2 + 1);
    }

    #[test]
    fn hparams_table_has_one_line_per_key() {
        let table = hparams_table(&Hyperparams::default());
        assert_eq!(table.lines().count(), HyperparamKey::ALL.len());
        let tempo = table.lines().find(|l| l.starts_with("tempo ")).unwrap();
        assert_eq!(tempo.split_whitespace().nth(1), Some("360"));
        assert!(!table.contains(" ?\n"), "{table}");
    }
}
