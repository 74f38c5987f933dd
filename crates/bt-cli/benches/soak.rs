//! The fault scenario for a long time (an hour by default) beside a fault-free control run of
//! the same length on the same machine at the same time, then the soak table: faults by kind
//! with their mechanism, recoveries and the longest, peak RSS and descriptors per process, and
//! accuracy at the end against the control run.
//!
//! `cargo bench -p bt-cli --bench soak -- --minutes 60`

#[path = "../tests/faults/dataset.rs"]
mod dataset;
#[path = "../tests/faults/scenario.rs"]
mod scenario;

use std::path::PathBuf;
use std::time::Duration;

use bt_testnet::faults::Schedule;
use scenario::{Config, Scenario};

/// The last faults leave this long for recoveries before the run ends.
const TAIL: Duration = Duration::from_secs(40);
/// One copy of the every-kind schedule starts this often.
const PERIOD: Duration = Duration::from_secs(130);

fn minutes() -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--minutes")
        .and_then(|i| args.get(i + 1))
        .map_or(60, |m| {
            m.parse().unwrap_or_else(|e| panic!("--minutes {m}: {e}"))
        })
}

fn main() {
    let minutes = minutes();
    let run_for = Duration::from_secs(minutes * 60);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_bittensor"));
    let faulty = Config {
        run_for,
        schedule: scenario::one_of_each().repeated(PERIOD, run_for.saturating_sub(TAIL)),
        ..Config::ci()
    };
    let control = Config {
        schedule: Schedule::default(),
        ..faulty.clone()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let (faulty, control) = rt.block_on(async {
        // Side by side: both runs see the same machine load.
        let (f, c) = tokio::join!(
            Scenario::start(faulty, bin.clone()),
            Scenario::start(control, bin.clone())
        );
        let (f, c) = (
            f.unwrap_or_else(|e| panic!("faulty run: {e}")),
            c.unwrap_or_else(|e| panic!("control run: {e}")),
        );
        tokio::join!(f.run_faults(), c.run_faults())
    });
    println!(
        "soak: {minutes} min with faults beside {minutes} min without (load average at start: {})",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("{}", scenario::table(&faulty, Some(&control)));
    if !control.broken.is_empty() {
        println!("control run broke: {}", control.broken.join("\n"));
    }
    if !faulty.broken.is_empty() {
        println!("{}", faulty.broken.join("\n"));
        std::process::exit(1);
    }
}
