//! Scenarios: a subnet's starting state plus a list of steps, run through [`crate::epoch`].
//!
//! The format is described in `SCENARIO.md` at the crate root; in short:
//!
//! ```json
//! {
//!   "hyperparams": { "kappa": 32767 },
//!   "block": 1000,
//!   "emission": 1000000000,
//!   "owner": null,
//!   "neurons": [
//!     { "hotkey": "v0", "stake": 1000, "validator_permit": true },
//!     { "hotkey": "m0" }
//!   ],
//!   "steps": [
//!     { "set_weights": { "uid": 0, "weights": [[1, 65535]] } },
//!     { "advance_blocks": { "n": 360 } },
//!     { "epoch": {} }
//!   ]
//! }
//! ```
//!
//! The simulator models what the epoch reads; it does not model `set_weights` admission rules
//! (permits, rate limits, minimum weights), commit-reveal, or automatic epochs every `tempo`
//! blocks: an epoch runs exactly where a step says `epoch`.

mod render;

use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ConsensusError;
use crate::fixed::I32F32;
use crate::types::{Hyperparams, OutputF64, SparseRow, StoredOutput, SubnetState};

pub use render::{render_json, render_table};

/// Largest scenario file [`simulate_file`] reads.
pub const MAX_SCENARIO_BYTES: u64 = 64 * 1024 * 1024;

/// A neuron at the start of a scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NeuronSpec {
    /// Display name; defaults to `uid{N}`.
    pub hotkey: Option<String>,
    /// Stake in rao.
    pub stake: u64,
    /// Permit held from the previous epoch (a validator needs one for its weights to count).
    pub validator_permit: bool,
    /// Block of registration.
    pub registered_at: u64,
    /// Block of the last `set_weights`; defaults to `registered_at`.
    pub last_update: Option<u64>,
    /// Stored weights row (u16 values, as on chain).
    pub weights: SparseRow,
    /// Stored bonds row (u16 values, as on chain).
    pub bonds: SparseRow,
}

/// One scenario step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// `uid` sets weights `[[uid, value], …]`; stored max-upscaled to 65535 like the chain does,
    /// and `last_update[uid]` becomes the current block.
    SetWeights { uid: u16, weights: Vec<(u16, u16)> },
    /// Sets `uid`'s stake (rao).
    SetStake { uid: u16, stake: u64 },
    /// Registers a hotkey: appended while the subnet has fewer than `max_allowed_uids`
    /// neurons, otherwise it replaces the neuron with the lowest emission past its immunity
    /// period (ties: older registration, then lower uid; never the owner).
    Register {
        #[serde(default)]
        hotkey: Option<String>,
    },
    /// Moves the block forward.
    AdvanceBlocks { n: u64 },
    /// Runs an epoch; `emission` overrides the scenario's per-epoch emission.
    Epoch {
        #[serde(default)]
        emission: Option<u64>,
    },
}

impl Step {
    fn kind(&self) -> &'static str {
        match self {
            Step::SetWeights { .. } => "set_weights",
            Step::SetStake { .. } => "set_stake",
            Step::Register { .. } => "register",
            Step::AdvanceBlocks { .. } => "advance_blocks",
            Step::Epoch { .. } => "epoch",
        }
    }
}

fn default_emission() -> u64 {
    1_000_000_000
}

/// A scenario: starting state, hyperparameters, steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub hyperparams: Hyperparams,
    /// Starting block.
    #[serde(default)]
    pub block: u64,
    /// Emission per epoch (rao); default 1e9 (one TAO).
    #[serde(default = "default_emission")]
    pub emission: u64,
    /// The subnet owner's uid.
    #[serde(default)]
    pub owner: Option<u16>,
    pub neurons: Vec<NeuronSpec>,
    pub steps: Vec<Step>,
}

/// What one `epoch` step produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// 0-based count of epochs in the scenario.
    pub epoch: usize,
    /// Index of the step that ran it.
    pub step: usize,
    pub block: u64,
    pub hotkeys: Vec<String>,
    /// Raw stake (rao) the epoch saw.
    pub stake: Vec<u64>,
    /// Outputs as the chain stores them.
    pub stored: StoredOutput,
    /// Fractional outputs as floats.
    pub values: OutputF64,
}

/// Output format for [`simulate_file`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Table,
}

impl FromStr for Format {
    type Err = ConsensusError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Format::Json),
            "table" => Ok(Format::Table),
            other => Err(ConsensusError::UnknownFormat(other.to_owned())),
        }
    }
}

/// Reads a scenario file, runs it and renders the reports.
/// This is `bittensor consensus simulate SCENARIO.json [--format json|table]`.
pub fn simulate_file(path: impl AsRef<Path>, format: Format) -> Result<String, ConsensusError> {
    let path = path.as_ref();
    let io = |source| ConsensusError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::metadata(path).map_err(io)?.len();
    if bytes > MAX_SCENARIO_BYTES {
        return Err(ConsensusError::TooLarge {
            path: path.to_path_buf(),
            bytes,
            limit: MAX_SCENARIO_BYTES,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let scenario = parse(&text)?;
    let reports = run_scenario(&scenario)?;
    match format {
        Format::Json => render_json(&reports),
        Format::Table => Ok(render_table(&reports)),
    }
}

/// Parses a scenario from JSON text.
pub fn parse(text: &str) -> Result<Scenario, ConsensusError> {
    Ok(serde_json::from_str(text)?)
}

/// Runs every step in order and returns one report per `epoch` step.
pub fn run_scenario(scenario: &Scenario) -> Result<Vec<EpochReport>, ConsensusError> {
    let mut sim = Sim::new(scenario)?;
    let mut reports = Vec::new();
    for (index, step) in scenario.steps.iter().enumerate() {
        let fail = |reason: String| ConsensusError::InvalidStep {
            step: index,
            kind: step.kind(),
            reason,
        };
        match step {
            Step::SetWeights { uid, weights } => sim.set_weights(*uid, weights).map_err(fail)?,
            Step::SetStake { uid, stake } => {
                let cell = sim.state.stake.get_mut(usize::from(*uid));
                *cell.ok_or_else(|| fail(format!("no neuron with uid {uid}")))? = *stake;
            }
            Step::Register { hotkey } => sim.register(hotkey.clone()).map_err(fail)?,
            Step::AdvanceBlocks { n } => sim.state.block = sim.state.block.saturating_add(*n),
            Step::Epoch { emission } => {
                let mut state = sim.state.clone();
                state.emission = emission.unwrap_or(scenario.emission);
                let out = crate::epoch(&state, &sim.hp)?;
                let report = EpochReport {
                    epoch: reports.len(),
                    step: index,
                    block: state.block,
                    hotkeys: sim.hotkeys.clone(),
                    stake: state.stake.clone(),
                    stored: out.stored(),
                    values: out.to_f64(),
                };
                sim.state.bonds = out.bonds;
                sim.state.validator_permit = out.validator_permit;
                sim.last_emission = out.emission;
                reports.push(report);
            }
        }
    }
    Ok(reports)
}

struct Sim {
    hp: Hyperparams,
    state: SubnetState,
    hotkeys: Vec<String>,
    last_emission: Vec<u64>,
}

impl Sim {
    fn new(scenario: &Scenario) -> Result<Self, ConsensusError> {
        let neurons = &scenario.neurons;
        let state = SubnetState {
            block: scenario.block,
            stake: neurons.iter().map(|x| x.stake).collect(),
            last_update: neurons
                .iter()
                .map(|x| x.last_update.unwrap_or(x.registered_at))
                .collect(),
            block_at_registration: neurons.iter().map(|x| x.registered_at).collect(),
            validator_permit: neurons.iter().map(|x| x.validator_permit).collect(),
            weights: neurons.iter().map(|x| x.weights.clone()).collect(),
            bonds: neurons.iter().map(|x| x.bonds.clone()).collect(),
            owner: scenario.owner,
            emission: scenario.emission,
        };
        // Reject a malformed starting state before any step runs.
        crate::validate::check(&state, &scenario.hyperparams)?;
        let hotkeys = neurons
            .iter()
            .enumerate()
            .map(|(i, x)| x.hotkey.clone().unwrap_or_else(|| format!("uid{i}")))
            .collect();
        Ok(Self {
            hp: scenario.hyperparams.clone(),
            last_emission: vec![0; neurons.len()],
            state,
            hotkeys,
        })
    }

    fn set_weights(&mut self, uid: u16, weights: &[(u16, u16)]) -> Result<(), String> {
        let n = self.state.n();
        let mut seen = vec![false; n];
        for (j, _) in weights {
            match seen.get_mut(usize::from(*j)) {
                None => return Err(format!("weight for uid {j}, but n = {n}")),
                Some(true) => return Err(format!("uid {j} appears twice")),
                Some(flag) => *flag = true,
            }
        }
        let i = usize::from(uid);
        let (Some(row), Some(updated)) = (
            self.state.weights.get_mut(i),
            self.state.last_update.get_mut(i),
        ) else {
            return Err(format!("no neuron with uid {uid}"));
        };
        *row = max_upscale(weights);
        *updated = self.state.block;
        Ok(())
    }

    fn register(&mut self, hotkey: Option<String>) -> Result<(), String> {
        let n = self.state.n();
        let name = hotkey.unwrap_or_else(|| format!("uid{n}"));
        let block = self.state.block;
        if n < usize::from(self.hp.max_allowed_uids) {
            if n >= usize::from(u16::MAX) {
                return Err("a subnet holds at most 65535 neurons".to_owned());
            }
            let s = &mut self.state;
            s.stake.push(0);
            s.last_update.push(block);
            s.block_at_registration.push(block);
            s.validator_permit.push(false);
            s.weights.push(SparseRow::new());
            s.bonds.push(SparseRow::new());
            self.hotkeys.push(name);
            self.last_emission.push(0);
            return Ok(());
        }
        let uid = self
            .prune_candidate()
            .ok_or_else(|| "the subnet is full and only the owner could be replaced".to_owned())?;
        let s = &mut self.state;
        let fields = (
            s.stake.get_mut(uid),
            s.last_update.get_mut(uid),
            s.block_at_registration.get_mut(uid),
            s.validator_permit.get_mut(uid),
            s.weights.get_mut(uid),
            s.bonds.get_mut(uid),
            self.hotkeys.get_mut(uid),
            self.last_emission.get_mut(uid),
        );
        if let (
            Some(stake),
            Some(updated),
            Some(registered),
            Some(permit),
            Some(weights),
            Some(bonds),
            Some(key),
            Some(em),
        ) = fields
        {
            *stake = 0;
            *updated = block;
            *registered = block;
            *permit = false;
            weights.clear();
            bonds.clear();
            *key = name;
            *em = 0;
        }
        Ok(())
    }

    /// Lowest emission, preferring neurons past their immunity period; ties go to the older
    /// registration, then the lower uid; never the owner.
    fn prune_candidate(&self) -> Option<usize> {
        let owner = self.state.owner.map(usize::from);
        let block = self.state.block;
        let immunity = u64::from(self.hp.immunity_period);
        (0..self.state.n())
            .filter(|i| Some(*i) != owner)
            .min_by_key(|i| {
                let registered = self
                    .state
                    .block_at_registration
                    .get(*i)
                    .copied()
                    .unwrap_or(0);
                let immune = block.saturating_sub(registered) < immunity;
                let emission = self.last_emission.get(*i).copied().unwrap_or(0);
                (immune, emission, registered, *i)
            })
    }
}

/// Scales a row so its largest value is 65535, rounding to nearest (subtensor's
/// `vec_u16_max_upscale_to_u16`, which `set_weights` applies before storing).
fn max_upscale(row: &[(u16, u16)]) -> SparseRow {
    let values: Vec<I32F32> = row.iter().map(|(_, v)| I32F32::from_num(*v)).collect();
    row.iter()
        .zip(crate::fixed::max_upscale_to_u16(&values))
        .map(|((j, _), v)| (*j, v))
        .collect()
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used
)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_stored_max_upscaled() {
        assert_eq!(
            max_upscale(&[(0, 1), (1, 2), (2, 0)]),
            vec![(0, 32768), (1, 65535), (2, 0)]
        );
        assert_eq!(max_upscale(&[(0, 0)]), vec![(0, 0)]);
    }

    #[test]
    fn format_parses() {
        assert_eq!("json".parse::<Format>().ok(), Some(Format::Json));
        assert_eq!("table".parse::<Format>().ok(), Some(Format::Table));
        assert!(matches!(
            "yaml".parse::<Format>(),
            Err(ConsensusError::UnknownFormat(f)) if f == "yaml"
        ));
    }
}
