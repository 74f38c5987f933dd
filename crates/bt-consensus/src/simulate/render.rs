//! Scenario reports as JSON or as a human-readable table.

use std::fmt::Write as _;

use super::EpochReport;
use crate::error::ConsensusError;

/// Pretty JSON: an array with one object per epoch (see [`EpochReport`]).
pub fn render_json(reports: &[EpochReport]) -> Result<String, ConsensusError> {
    Ok(serde_json::to_string_pretty(reports)?)
}

/// One table per epoch: per-uid fractions (6 decimals), emission in rao, then the bonds as
/// stored (u16).
pub fn render_table(reports: &[EpochReport]) -> String {
    let mut out = String::new();
    for r in reports {
        // Writing into a String cannot fail; the results are ignored on purpose.
        let _ = writeln!(
            out,
            "epoch {} (step {}, block {})",
            r.epoch, r.step, r.block
        );
        let _ = writeln!(
            out,
            "{:>4}  {:<12} {:>14} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>14}",
            "uid",
            "hotkey",
            "stake",
            "active",
            "permit",
            "incentive",
            "dividends",
            "consensus",
            "vtrust",
            "emission"
        );
        let v = &r.values;
        let s = &r.stored;
        for (uid, hotkey) in r.hotkeys.iter().enumerate() {
            let f = |x: &[f64]| x.get(uid).copied().unwrap_or(0.0);
            let flag = |x: &[bool]| {
                if x.get(uid).copied().unwrap_or(false) {
                    "yes"
                } else {
                    "no"
                }
            };
            let _ = writeln!(
                out,
                "{:>4}  {:<12} {:>14} {:>6} {:>6} {:>9.6} {:>9.6} {:>9.6} {:>9.6} {:>14}",
                uid,
                truncate(hotkey, 12),
                r.stake.get(uid).copied().unwrap_or(0),
                flag(&s.active),
                flag(&s.validator_permit),
                f(&v.incentive),
                f(&v.dividends),
                f(&v.consensus),
                f(&v.validator_trust),
                s.emission.get(uid).copied().unwrap_or(0),
            );
        }
        let _ = writeln!(out, "bonds (stored u16, row = validator uid):");
        let mut any = false;
        for (uid, row) in s.bonds.iter().enumerate() {
            if row.is_empty() {
                continue;
            }
            any = true;
            let cells: Vec<String> = row.iter().map(|(j, b)| format!("{j}:{b}")).collect();
            let _ = writeln!(out, "{:>4}  {}", uid, cells.join(" "));
        }
        if !any {
            let _ = writeln!(out, "      (none)");
        }
        out.push('\n');
    }
    out
}

fn truncate(s: &str, width: usize) -> String {
    s.chars().take(width).collect()
}
