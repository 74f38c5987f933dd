//! Measuring an attack on a real process: the target's memory and descriptors from `/proc`,
//! honest traffic served while the attack runs, and one table row per attack.
//!
//! The hostile suite (`crates/bt-cli/tests/hostile.rs`) asserts bounds on these rows; the
//! `hostile` bench binary runs the same attacks and prints the rows as a table.
//!
//! ```no_run
//! # async fn demo(pid: u32) -> Result<(), bt_testnet::HarnessError> {
//! use std::time::Duration;
//! use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
//! ProcStatus::reset_peak(pid);
//! let before = ProcStatus::read(pid)?;
//! let honest = HonestLoad::start(Duration::from_millis(50), || async { true });
//! // … attack …
//! let honest = honest.stop().await;
//! let after = ProcStatus::read(pid)?;
//! let row = AttackRow::new("slowloris", 300 * 1024, &before, &after, honest);
//! println!("{}", AttackRow::table(&[row]));
//! # Ok(()) }
//! ```

use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::HarnessError;

/// What `/proc/<pid>` says about a process's memory and descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStatus {
    /// Resident set now (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Peak resident set since start or the last [`ProcStatus::reset_peak`] (`VmHWM`), KiB.
    pub peak_kib: u64,
    /// Open file descriptors.
    pub fds: u64,
}

impl ProcStatus {
    pub fn read(pid: u32) -> Result<Self, HarnessError> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64;
        Ok(Self {
            rss_kib: kib("VmRSS:"),
            peak_kib: kib("VmHWM:"),
            fds,
        })
    }

    /// Sets the peak back to the current RSS, so the next peak is the next attack's alone.
    /// False where the kernel does not allow it (Linux < 4.0, or another user's process):
    /// the peak then covers the process's whole life, which only overstates an attack.
    pub fn reset_peak(pid: u32) -> bool {
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
    }
}

/// Honest requests repeated during an attack, counting how many were served.
pub struct HonestLoad {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

/// How many honest requests were made and how many succeeded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Served {
    pub ok: u64,
    pub total: u64,
}

impl Served {
    /// Success rate in [0, 1]; 1 when nothing was tried (no evidence of harm).
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.ok as f64 / self.total as f64
        }
    }
}

impl HonestLoad {
    /// Calls `request` every `every` (one at a time: an honest client does not pile up
    /// requests) until [`HonestLoad::stop`]; `request` resolves to whether it was served.
    pub fn start<F, Fut>(every: Duration, mut request: F) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = bool> + Send,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let total = Arc::new(AtomicU64::new(0));
        let (flag, ok_n, total_n) = (stop.clone(), ok.clone(), total.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !flag.load(Ordering::Relaxed) {
                tick.tick().await;
                let served = request().await;
                ok_n.fetch_add(u64::from(served), Ordering::Relaxed);
                total_n.fetch_add(1, Ordering::Relaxed);
            }
        });
        Self {
            stop,
            ok,
            total,
            task,
        }
    }

    /// The count so far (requests finished).
    pub fn served(&self) -> Served {
        Served {
            ok: self.ok.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
        }
    }

    /// Stops after the request in flight and returns the count.
    pub async fn stop(self) -> Served {
        let Self {
            stop,
            ok,
            total,
            task,
        } = self;
        stop.store(true, Ordering::Relaxed);
        let _ = task.await;
        Served {
            ok: ok.load(Ordering::Relaxed),
            total: total.load(Ordering::Relaxed),
        }
    }
}

/// One attack's outcome, as the hostile table prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackRow {
    pub attack: String,
    /// Bytes the attacker sent in all.
    pub bytes_sent: u64,
    /// The target's RSS before the attack, KiB.
    pub rss_before_kib: u64,
    /// The target's peak RSS during the attack, KiB.
    pub peak_kib: u64,
    /// The target's open descriptors after the attack.
    pub fds_after: u64,
    pub honest: Served,
    /// What the target did about it, in a few words ("refused 413", "evicted 0 live", …).
    pub outcome: String,
}

impl AttackRow {
    pub fn new(
        attack: impl Into<String>,
        bytes_sent: u64,
        before: &ProcStatus,
        after: &ProcStatus,
        honest: Served,
    ) -> Self {
        Self {
            attack: attack.into(),
            bytes_sent,
            rss_before_kib: before.rss_kib,
            peak_kib: after.peak_kib.max(after.rss_kib),
            fds_after: after.fds,
            honest,
            outcome: String::new(),
        }
    }

    pub fn outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = outcome.into();
        self
    }

    /// The peak's growth over the RSS before the attack, KiB.
    pub fn growth_kib(&self) -> u64 {
        self.peak_kib.saturating_sub(self.rss_before_kib)
    }

    /// A Markdown table of rows, the form the README quotes.
    pub fn table(rows: &[AttackRow]) -> String {
        let mut out = String::from(
            "| attack | bytes sent | peak RSS (growth) | honest served | outcome |\n\
             |---|---|---|---|---|\n",
        );
        for r in rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} (+{}) | {}/{} | {} |",
                r.attack,
                human_bytes(r.bytes_sent),
                human_bytes(r.peak_kib * 1024),
                human_bytes(r.growth_kib() * 1024),
                r.honest.ok,
                r.honest.total,
                r.outcome
            );
        }
        out
    }
}

fn human_bytes(b: u64) -> String {
    const KIB: u64 = 1024;
    match b {
        b if b >= KIB * KIB * KIB => format!("{:.1} GiB", b as f64 / (KIB * KIB * KIB) as f64),
        b if b >= KIB * KIB => format!("{:.1} MiB", b as f64 / (KIB * KIB) as f64),
        b if b >= KIB => format!("{:.0} KiB", b as f64 / KIB as f64),
        b => format!("{b} B"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = ProcStatus::read(std::process::id()).unwrap();
        assert!(
            me.rss_kib > 0 && me.peak_kib >= me.rss_kib && me.fds >= 3,
            "{me:?}"
        );
    }

    #[test]
    fn table_shows_growth_and_rate() {
        let before = ProcStatus {
            rss_kib: 10_240,
            peak_kib: 10_240,
            fds: 9,
        };
        let after = ProcStatus {
            rss_kib: 11_000,
            peak_kib: 30_720,
            fds: 12,
        };
        let row = AttackRow::new(
            "flood",
            3 << 20,
            &before,
            &after,
            Served { ok: 19, total: 20 },
        )
        .outcome("refused");
        assert_eq!(row.growth_kib(), 20_480);
        let t = AttackRow::table(&[row]);
        assert!(
            t.contains("| flood | 3.0 MiB | 30.0 MiB (+20.0 MiB) | 19/20 | refused |"),
            "{t}"
        );
    }

    #[tokio::test]
    async fn honest_load_counts() {
        let mut n = 0u32;
        let load = HonestLoad::start(Duration::from_millis(1), move || {
            n += 1;
            let ok = n.is_multiple_of(2);
            async move { ok }
        });
        crate::eventually(Duration::from_secs(5), || load.served().total >= 4)
            .await
            .unwrap();
        let s = load.stop().await;
        assert!(
            s.total >= 4 && s.ok * 2 <= s.total && s.ok * 2 + 1 >= s.total,
            "{s:?}"
        );
    }
}
