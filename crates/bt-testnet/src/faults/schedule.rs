//! A fault schedule: at time t, do this to that process or link. The runner that owns the
//! processes and proxies applies each [`Fault`]; this type only orders them and names how each
//! kind is made ([`FaultKind::mechanism`]), which the soak table prints.

use std::time::Duration;

/// One fault. Processes and links are named by the runner (e.g. `chain`, `miner-1`,
/// `validator->chain`).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// SIGKILL: no chance to flush or clean up, like a crash or a pulled plug.
    Kill {
        process: String,
    },
    /// Starts a killed process again with the same data directory and identity.
    Restart {
        process: String,
    },
    /// Restarts `process` with its clock off by `offset_ms` (positive: ahead); 0 puts it back.
    ClockSkew {
        process: String,
        offset_ms: i64,
    },
    /// Drops the link's open connections and refuses new ones.
    Cut {
        link: String,
    },
    Heal {
        link: String,
    },
    /// Holds every chunk on the link for this long, in each direction.
    Delay {
        link: String,
        up: Duration,
        down: Duration,
    },
    /// Drops this fraction of the link's new connections.
    Loss {
        link: String,
        fraction: f64,
    },
    /// Takes delay and loss off the link (a cut stays until healed).
    Clear {
        link: String,
    },
}

/// Fault kinds, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    KillNeuron,
    KillChain,
    Restart,
    ClockSkew,
    Cut,
    Heal,
    Delay,
    Loss,
    Clear,
}

impl FaultKind {
    pub fn label(self) -> &'static str {
        match self {
            FaultKind::KillNeuron => "kill -9 neuron",
            FaultKind::KillChain => "kill -9 chain node",
            FaultKind::Restart => "restart",
            FaultKind::ClockSkew => "clock skew",
            FaultKind::Cut => "link cut",
            FaultKind::Heal => "link heal",
            FaultKind::Delay => "link delay",
            FaultKind::Loss => "link loss",
            FaultKind::Clear => "link clear",
        }
    }

    /// How the harness makes this fault.
    pub fn mechanism(self) -> &'static str {
        match self {
            FaultKind::KillNeuron | FaultKind::KillChain => "SIGKILL to the process",
            FaultKind::Restart => "same command, data dir and keys",
            FaultKind::ClockSkew => "restart with the hidden --clock_skew_ms flag",
            FaultKind::Cut | FaultKind::Heal => "fault proxy: drop + refuse connections",
            FaultKind::Delay => "fault proxy: hold each chunk (no netem here)",
            FaultKind::Loss => "fault proxy: drop new connections (TCP hides packet loss)",
            FaultKind::Clear => "fault proxy: delay and loss off",
        }
    }
}

impl Fault {
    /// The kind, given which process is the chain node.
    pub fn kind(&self, chain: &str) -> FaultKind {
        match self {
            Fault::Kill { process } if process == chain => FaultKind::KillChain,
            Fault::Kill { .. } => FaultKind::KillNeuron,
            Fault::Restart { .. } => FaultKind::Restart,
            Fault::ClockSkew { .. } => FaultKind::ClockSkew,
            Fault::Cut { .. } => FaultKind::Cut,
            Fault::Heal { .. } => FaultKind::Heal,
            Fault::Delay { .. } => FaultKind::Delay,
            Fault::Loss { .. } => FaultKind::Loss,
            Fault::Clear { .. } => FaultKind::Clear,
        }
    }
}

/// A fault at an offset from the scenario's start.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: Duration,
    pub fault: Fault,
}

/// Faults in time order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schedule {
    steps: Vec<Step>,
}

impl Schedule {
    /// The steps, sorted by time (equal times keep their given order).
    pub fn new(mut steps: Vec<Step>) -> Self {
        steps.sort_by_key(|s| s.at);
        Self { steps }
    }

    /// This schedule again every `period` (the first copy at 0) while a step's time stays
    /// below `until`. A `period` shorter than the schedule's last step would interleave copies:
    /// it is raised to one past the last step.
    pub fn repeated(&self, period: Duration, until: Duration) -> Self {
        let last = self.steps.last().map_or(Duration::ZERO, |s| s.at);
        let period = period.max(last + Duration::from_millis(1));
        let mut steps = Vec::new();
        let mut base = Duration::ZERO;
        while base < until {
            steps.extend(
                self.steps
                    .iter()
                    .filter(|s| base + s.at < until)
                    .map(|s| Step {
                        at: base + s.at,
                        fault: s.fault.clone(),
                    }),
            );
            base += period;
        }
        Self::new(steps)
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// When the last fault fires.
    pub fn end(&self) -> Duration {
        self.steps.last().map_or(Duration::ZERO, |s| s.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64, fault: Fault) -> Step {
        Step {
            at: Duration::from_secs(s),
            fault,
        }
    }

    #[test]
    fn orders_repeats_and_names_kinds() {
        let kill = Fault::Kill {
            process: "chain".into(),
        };
        let restart = Fault::Restart {
            process: "chain".into(),
        };
        let s = Schedule::new(vec![at(5, restart.clone()), at(2, kill.clone())]);
        assert_eq!(s.steps()[0].fault, kill);
        assert_eq!(s.end(), Duration::from_secs(5));
        let r = s.repeated(Duration::from_secs(10), Duration::from_secs(26));
        let times: Vec<u64> = r.steps().iter().map(|s| s.at.as_secs()).collect();
        assert_eq!(times, vec![2, 5, 12, 15, 22, 25]);
        assert_eq!(kill.kind("chain"), FaultKind::KillChain);
        assert_eq!(
            Fault::Kill {
                process: "miner-1".into()
            }
            .kind("chain"),
            FaultKind::KillNeuron
        );
        // a period shorter than the schedule is stretched, never interleaved
        let tight = s.repeated(Duration::from_secs(1), Duration::from_secs(12));
        let times: Vec<u64> = tight.steps().iter().map(|s| s.at.as_secs()).collect();
        assert_eq!(times, vec![2, 5, 7, 10]);
    }
}
