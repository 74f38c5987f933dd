//! [`Monitor`]: samples every process's resident memory and open descriptors from `/proc`
//! against a stated bound, keeps the peaks per process name (across restarts) and every
//! sample that broke a bound.

use std::collections::BTreeMap;

use crate::attack::ProcStatus;

/// Most a process may hold at any sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub rss_kib: u64,
    pub fds: u64,
}

/// The largest values seen for one process name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Peak {
    pub rss_kib: u64,
    pub fds: u64,
    pub samples: u64,
}

/// A sample over its bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub process: String,
    pub status: ProcStatus,
    pub bounds: Bounds,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: RSS {} KiB (bound {}), {} fds (bound {})",
            self.process,
            self.status.rss_kib,
            self.bounds.rss_kib,
            self.status.fds,
            self.bounds.fds
        )
    }
}

/// Peaks and violations of named processes.
#[derive(Debug, Default)]
pub struct Monitor {
    bounds: BTreeMap<String, Bounds>,
    peaks: BTreeMap<String, Peak>,
    violations: Vec<Violation>,
}

impl Monitor {
    pub fn new() -> Self {
        Self::default()
    }

    /// States the bound of process `name` (checked at every [`Monitor::sample`]).
    pub fn bound(&mut self, name: impl Into<String>, bounds: Bounds) {
        self.bounds.insert(name.into(), bounds);
    }

    /// Reads `/proc/<pid>` for process `name`; a process that is gone between the caller's
    /// look and the read is skipped (it was being killed).
    pub fn sample(&mut self, name: &str, pid: u32) {
        let Ok(status) = ProcStatus::read(pid) else {
            return;
        };
        self.record(name, status);
    }

    /// Records a sample taken elsewhere.
    pub fn record(&mut self, name: &str, status: ProcStatus) {
        let peak = self.peaks.entry(name.to_string()).or_default();
        peak.rss_kib = peak.rss_kib.max(status.rss_kib);
        peak.fds = peak.fds.max(status.fds);
        peak.samples += 1;
        if let Some(b) = self.bounds.get(name).copied()
            && (status.rss_kib > b.rss_kib || status.fds > b.fds)
        {
            self.violations.push(Violation {
                process: name.to_string(),
                status,
                bounds: b,
            });
        }
    }

    pub fn peaks(&self) -> &BTreeMap<String, Peak> {
        &self.peaks
    }

    pub fn bounds_of(&self, name: &str) -> Option<Bounds> {
        self.bounds.get(name).copied()
    }

    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn keeps_peaks_and_reports_what_breaks_a_bound() {
        let mut m = Monitor::new();
        m.bound(
            "chain",
            Bounds {
                rss_kib: 100,
                fds: 10,
            },
        );
        let s = |rss_kib, fds| ProcStatus {
            rss_kib,
            peak_kib: rss_kib,
            fds,
        };
        m.record("chain", s(50, 5));
        m.record("chain", s(90, 12));
        m.record("chain", s(60, 4));
        let p = m.peaks()["chain"];
        assert_eq!((p.rss_kib, p.fds, p.samples), (90, 12, 3));
        assert_eq!(m.violations().len(), 1);
        assert!(m.violations()[0].to_string().contains("12 fds (bound 10)"));
        // our own process is real and readable
        m.sample("me", std::process::id());
        assert!(m.peaks()["me"].rss_kib > 0);
        assert!(m.violations().len() == 1, "no bound stated for `me`");
    }
}
