//! A real subtensor runtime in Chopsticks (npm `@acala-network/chopsticks`), started from a
//! chain spec on 127.0.0.1 with a port of its own choosing, killed when dropped.
//!
//! The executable comes from `BT_CHOPSTICKS` (CI installs the pinned version and sets it).
//! Without it, [`Chopsticks::executable`] says why and tests skip, unless
//! `BT_REQUIRE_CHOPSTICKS=1`, which makes a missing Chopsticks a failure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::{ChildProcess, HarnessError};

/// Environment variable naming the chopsticks executable.
pub const CHOPSTICKS_ENV: &str = "BT_CHOPSTICKS";
/// Set to 1 to fail, not skip, when chopsticks is missing.
pub const REQUIRE_ENV: &str = "BT_REQUIRE_CHOPSTICKS";
/// Compiling the runtime's WASM and building genesis takes a few seconds; a busy machine more.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// How blocks are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockMode {
    /// A block per submitted transaction, at once.
    Instant,
    /// Blocks only on `dev_newBlock`.
    Manual,
}

pub struct Chopsticks {
    process: ChildProcess,
    url: String,
}

impl Chopsticks {
    /// The executable, or why there is none. Panics when it is missing and required.
    pub fn executable(test: &str) -> Option<PathBuf> {
        let found = std::env::var_os(CHOPSTICKS_ENV)
            .map(PathBuf::from)
            .filter(|p| p.is_file());
        if found.is_none() {
            let why = format!(
                "{test}: skipped, chopsticks not found (set {CHOPSTICKS_ENV} to its executable; \
                 .ci/run installs @acala-network/chopsticks)"
            );
            if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
                panic!("{why}, and {REQUIRE_ENV}=1");
            }
            eprintln!("{why}");
        }
        found
    }

    /// Starts chopsticks on `genesis` (a chain spec) and waits until it listens.
    pub async fn start(exe: &Path, genesis: &Path, mode: BlockMode) -> Result<Self, HarnessError> {
        let mut cmd = Command::new(exe);
        cmd.arg(format!("--genesis={}", genesis.display()))
            .arg("--port=0")
            .arg("--host=127.0.0.1")
            .arg(match mode {
                BlockMode::Instant => "--build-block-mode=Instant",
                BlockMode::Manual => "--build-block-mode=Manual",
            });
        let mut process = ChildProcess::spawn("chopsticks", cmd)?;
        let url = process
            .wait_for_line(0, START_TIMEOUT, |line| {
                let (_, rest) = line.text.split_once("listening on ")?;
                let ws = rest.split_whitespace().find(|w| w.starts_with("ws://"))?;
                Some(ws.trim_end_matches(['.', ',']).to_string())
            })
            .await?;
        Ok(Self { process, url })
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The last lines chopsticks printed (runtime logs, errors), for failure messages.
    pub fn tail(&self, lines: usize) -> String {
        self.process.tail(lines)
    }
}
