//! The fault scenario: one embedded chain node (`bittensor chain start --db …`) and MNIST
//! neurons on one subnet (a validator and miners), each a real process, with a
//! [`FaultProxy`] on every link (peers → a neuron's axon, a neuron → the chain), faults applied
//! on a [`Schedule`], and the invariants checked while it runs:
//!
//! - every process stays under its RSS and descriptor bounds ([`Monitor`], sampled twice a
//!   second);
//! - a chain node killed with SIGKILL comes back with the block it last acknowledged over RPC
//!   before the kill, with the same hash and state root;
//! - after every SIGKILL of a neuron its checkpoint on disk loads (never torn);
//! - every neuron trains again after its faults, and its last test accuracy is above the one it
//!   had before the first fault;
//! - the validator's weights on the chain are updated after the chain's last restart.
//!
//! Shared by `tests/faults/main.rs` (three minutes) and the `soak` bench (an hour).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bt_chain::{Header, NodeClient, RpcChain};
use bt_neuron::report::Event;
use bt_testnet::faults::{
    Bounds, Fault, FaultKind, FaultProxy, LinkFaults, Monitor, Peak, Schedule, Step,
};
use bt_testnet::process::{ChildProcess, Line};
use tokio::process::Command;
use tokio::time::Instant;

/// The chain node's process name in schedules and reports.
pub const CHAIN: &str = "chain";
/// How often processes are sampled and their output read.
const TICK: Duration = Duration::from_millis(500);
/// Deadline of a process's start (chain ready, neuron serving) on a loaded machine.
const START_WAIT: Duration = Duration::from_secs(120);
/// Deadline of one CLI command (wallet, faucet, subnet, stake).
const COMMAND_WAIT: Duration = Duration::from_secs(60);
/// Deadline of one RPC call of the harness to the chain.
const RPC_WAIT: Duration = Duration::from_secs(10);
/// Blocks per epoch of the subnet (weights are due once per tempo).
const TEMPO: &str = "10";
const BLOCK_TIME: &str = "0.5";

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub miners: usize,
    /// Length of the fault phase (after every neuron finished its first epoch).
    pub run_for: Duration,
    /// Offsets from the start of the fault phase; empty for a fault-free control run.
    pub schedule: Schedule,
    /// Size of the MNIST subset (an epoch is `train_images / 64` steps).
    pub train_images: usize,
    pub test_images: usize,
    pub chain_bounds: Bounds,
    pub neuron_bounds: Bounds,
}

/// Bounds stated for the scenario's processes (RSS of a neuron with its subset of MNIST, the
/// model, candle and mimalloc's pools; the chain's redb cache): growth past them is a leak.
pub const CHAIN_BOUNDS: Bounds = Bounds {
    rss_kib: 256 * 1024,
    fds: 256,
};
pub const NEURON_BOUNDS: Bounds = Bounds {
    rss_kib: 768 * 1024,
    fds: 256,
};

impl Config {
    /// The schedule of the three-minute test: every kind of fault once, on a 150 s phase.
    pub fn ci() -> Self {
        Self {
            miners: 2,
            run_for: Duration::from_secs(150),
            schedule: one_of_each(),
            train_images: 1280,
            test_images: 500,
            chain_bounds: CHAIN_BOUNDS,
            neuron_bounds: NEURON_BOUNDS,
        }
    }
}

fn at(secs: u64, fault: Fault) -> Step {
    Step {
        at: Duration::from_secs(secs),
        fault,
    }
}

/// Every kind of fault once, within 120 s: delay and loss on a miner's inbound link, SIGKILL
/// and restart of a miner, a cut between the validator and the chain, SIGKILL and restart of
/// the chain node, and the validator run with a clock 1.5 s ahead, then killed and started
/// again with a true clock.
pub fn one_of_each() -> Schedule {
    let p = |s: &str| s.to_string();
    Schedule::new(vec![
        at(
            5,
            Fault::Delay {
                link: p("miner-1"),
                up: Duration::from_millis(200),
                down: Duration::from_millis(200),
            },
        ),
        at(15, Fault::Clear { link: p("miner-1") }),
        at(
            20,
            Fault::Kill {
                process: p("miner-2"),
            },
        ),
        at(
            28,
            Fault::Restart {
                process: p("miner-2"),
            },
        ),
        at(
            35,
            Fault::Cut {
                link: p("validator->chain"),
            },
        ),
        at(
            45,
            Fault::Heal {
                link: p("validator->chain"),
            },
        ),
        at(55, Fault::Kill { process: p(CHAIN) }),
        at(60, Fault::Restart { process: p(CHAIN) }),
        at(
            75,
            Fault::Loss {
                link: p("miner-1"),
                fraction: 0.5,
            },
        ),
        at(85, Fault::Clear { link: p("miner-1") }),
        at(
            90,
            Fault::ClockSkew {
                process: p("validator"),
                offset_ms: 1500,
            },
        ),
        at(
            105,
            Fault::Kill {
                process: p("validator"),
            },
        ),
        at(
            111,
            Fault::ClockSkew {
                process: p("validator"),
                offset_ms: 0,
            },
        ),
    ])
}

/// A recovery the harness waited for, from the healing action (restart, heal, clear) until the
/// affected part worked again.
#[derive(Debug, Clone)]
pub struct Recovery {
    pub kind: FaultKind,
    pub what: String,
    pub took: Duration,
}

/// Everything a run found.
#[derive(Debug, Default)]
pub struct Report {
    pub faults: BTreeMap<FaultKind, u64>,
    pub recoveries: Vec<Recovery>,
    /// Invariants broken, in words (empty when the run held every one).
    pub broken: Vec<String>,
    pub peaks: BTreeMap<String, Peak>,
    pub bounds: BTreeMap<String, Bounds>,
    /// Per neuron: test accuracy before the first fault, and the last one.
    pub accuracy: BTreeMap<String, (Option<f64>, Option<f64>)>,
    /// Acknowledged blocks found again after a chain restart.
    pub chain_checks: u64,
    /// Checkpoints loaded after a neuron's SIGKILL.
    pub checkpoint_checks: u64,
    /// Validator weight updates seen on the chain after its last restart.
    pub weights_after_restart: bool,
    /// Times a neuron dialled the chain again after its connection broke (its log line).
    pub chain_redials: u64,
    pub wall: Duration,
}

impl Report {
    /// Mean of the neurons' last accuracies.
    pub fn final_accuracy(&self) -> Option<f64> {
        let v: Vec<f64> = self.accuracy.values().filter_map(|a| a.1).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }

    pub fn longest_recovery(&self) -> Option<&Recovery> {
        self.recoveries.iter().max_by_key(|r| r.took)
    }
}

/// One neuron of the scenario.
struct Neuron {
    name: String,
    role: &'static str,
    axon_port: u16,
    /// Peers → this neuron's axon (the port published on the chain).
    axon_link: FaultProxy,
    /// This neuron → the chain node.
    chain_link: FaultProxy,
    model_path: PathBuf,
    skew_ms: i64,
    process: Option<ChildProcess>,
    /// Next output line to read.
    read: u64,
    uid: Option<u16>,
    last_train: Option<Instant>,
    last_chain_ok: Option<Instant>,
    last_weights: Option<Instant>,
    accuracy_before: Option<f64>,
    accuracy_last: Option<f64>,
}

/// What must happen before a pending recovery counts as done.
enum Until {
    /// The neuron printed a training line.
    Trains(String),
    /// The neuron read the chain (a role line) and, for a validator, set weights.
    ChainWorks(String),
    /// Every neuron read the chain again and the validators set weights.
    AllOnChain,
    /// The link's proxy forwarded a connection again.
    Forwards(String, u64),
}

struct Pending {
    kind: FaultKind,
    what: String,
    since: Instant,
    until: Until,
}

/// The running scenario.
pub struct Scenario {
    cfg: Config,
    dir: tempfile::TempDir,
    bin: PathBuf,
    chain_port: u16,
    chain: Option<ChildProcess>,
    rpc: Option<RpcChain>,
    acknowledged: Option<Header>,
    last_chain_restart: Option<u64>,
    netuid: u16,
    neurons: Vec<Neuron>,
    monitor: Monitor,
    report: Report,
    pending: Vec<Pending>,
}

fn neuron_name(i: usize) -> String {
    if i == 0 {
        "validator".into()
    } else {
        format!("miner-{i}")
    }
}

impl Scenario {
    /// Starts the chain, creates the wallets and the subnet, starts the neurons and waits
    /// until each has finished its first epoch (so "accuracy before the faults" exists).
    pub async fn start(cfg: Config, bin: PathBuf) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        super::dataset::write_subset(&dir.path().join("mnist"), cfg.train_images, cfg.test_images)
            .map_err(|e| format!("MNIST subset: {e}"))?;
        let chain_port = bt_testnet::free_port().map_err(|e| e.to_string())?;
        let mut monitor = Monitor::new();
        monitor.bound(CHAIN, cfg.chain_bounds);
        let mut neurons = Vec::new();
        for i in 0..=cfg.miners {
            let name = neuron_name(i);
            monitor.bound(name.clone(), cfg.neuron_bounds);
            let axon_link = FaultProxy::bind(0x5eed + i as u64)
                .await
                .map_err(|e| format!("proxy: {e}"))?;
            let chain_link = FaultProxy::bind(0xc4a1 + i as u64)
                .await
                .map_err(|e| format!("proxy: {e}"))?;
            let axon_port = bt_testnet::free_port().map_err(|e| e.to_string())?;
            axon_link.set_target(([127, 0, 0, 1], axon_port).into());
            chain_link.set_target(([127, 0, 0, 1], chain_port).into());
            neurons.push(Neuron {
                model_path: dir.path().join(format!("{name}.ckpt")),
                name,
                role: if i == 0 { "validator" } else { "miner" },
                axon_port,
                axon_link,
                chain_link,
                skew_ms: 0,
                process: None,
                read: 0,
                uid: None,
                last_train: None,
                last_chain_ok: None,
                last_weights: None,
                accuracy_before: None,
                accuracy_last: None,
            });
        }
        let mut s = Self {
            cfg,
            dir,
            bin,
            chain_port,
            chain: None,
            rpc: None,
            acknowledged: None,
            last_chain_restart: None,
            netuid: 0,
            neurons,
            monitor,
            report: Report::default(),
            pending: Vec::new(),
        };
        s.start_chain().await?;
        s.create_subnet().await?;
        for i in 0..s.neurons.len() {
            s.start_neuron(i).await?;
        }
        let warm = Instant::now();
        while s.neurons.iter().any(|n| n.accuracy_last.is_none()) {
            if warm.elapsed() > START_WAIT {
                return Err(format!(
                    "no neuron finished its first epoch within {START_WAIT:?}:\n{}",
                    s.tails()
                ));
            }
            tokio::time::sleep(TICK).await;
            s.observe();
        }
        for n in &mut s.neurons {
            n.accuracy_before = n.accuracy_last;
        }
        Ok(s)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env("BT_WALLET_PATH", self.dir.path())
            .env(
                "BT_CHAIN_ENDPOINT",
                format!("127.0.0.1:{}", self.chain_port),
            )
            .env_remove("BT_CHAIN_DB")
            // Warnings, and the neuron's line when it dials the chain again (counted).
            .env("BT_LOG", "warn,bt_neuron::subnet::source=info")
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = self.command();
        cmd.args(args);
        let out = tokio::time::timeout(COMMAND_WAIT, cmd.output())
            .await
            .map_err(|_| format!("{args:?} took longer than {COMMAND_WAIT:?}"))?
            .map_err(|e| format!("{args:?}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{args:?} failed: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    async fn start_chain(&mut self) -> Result<(), String> {
        let mut cmd = self.command();
        let db = self.dir.path().join("chain.redb");
        let port = self.chain_port.to_string();
        cmd.args(["chain", "start", "--dev", "--block_time", BLOCK_TIME])
            .args(["--tempo", TEMPO, "--port", &port, "--db"])
            .arg(db);
        let mut p = ChildProcess::spawn(CHAIN, cmd).map_err(|e| e.to_string())?;
        p.wait_for_line(0, START_WAIT, |l: &Line| {
            l.text.contains("Chain ready").then_some(())
        })
        .await
        .map_err(|e| e.to_string())?;
        let endpoint = format!("127.0.0.1:{}", self.chain_port);
        let rpc = tokio::time::timeout(RPC_WAIT, RpcChain::connect(&endpoint))
            .await
            .map_err(|_| "connecting to the chain timed out".to_string())?
            .map_err(|e| format!("connecting to the chain: {e}"))?;
        self.chain = Some(p);
        self.rpc = Some(rpc);
        Ok(())
    }

    async fn create_subnet(&mut self) -> Result<(), String> {
        for n in 0..self.neurons.len() {
            let name = self.neurons[n].name.clone();
            self.run(&["wallet", "new", "--wallet_name", &name, "--no_password"])
                .await?;
            self.run(&["subnet", "faucet", "--wallet_name", &name])
                .await?;
        }
        let created = self
            .run(&["subnet", "create", "--wallet_name", "validator"])
            .await?;
        self.netuid = created
            .trim()
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("no netuid in {created:?}"))?;
        self.run(&[
            "stake",
            "add",
            "--amount",
            "100",
            "--wallet_name",
            "validator",
        ])
        .await?;
        Ok(())
    }

    async fn start_neuron(&mut self, i: usize) -> Result<(), String> {
        let mut cmd = self.command();
        let n = &self.neurons[i];
        let dir = self.dir.path();
        cmd.args(["neuron", "mnist", "--role", n.role])
            .args(["--netuid", &self.netuid.to_string()])
            .args(["--wallet.name", &n.name, "--remote_ip", "127.0.0.1"])
            .args(["--subnet_interval", "0.5", "--epochs", "1000000"])
            .args(["--chain_endpoint", &n.chain_link.addr().to_string()])
            .args(["--axon_port", &n.axon_port.to_string()])
            .args(["--external_port", &n.axon_link.addr().port().to_string()])
            .args(["--clock_skew_ms", &n.skew_ms.to_string()])
            .arg("--neuron_key")
            .arg(dir.join(format!("{}.key", n.name)))
            .arg("--model_path")
            .arg(&n.model_path)
            .arg("--data_dir")
            .arg(dir.join("mnist"));
        let mut p = ChildProcess::spawn(n.name.clone(), cmd).map_err(|e| e.to_string())?;
        let uid = p
            .wait_for_line(0, START_WAIT, |l: &Line| {
                let (_, rest) = l.text.split_once(": uid ")?;
                let (uid, _) = rest.split_once(" serving on ")?;
                uid.parse::<u16>().ok()
            })
            .await
            .map_err(|e| e.to_string())?;
        let n = &mut self.neurons[i];
        n.uid = Some(uid);
        n.process = Some(p);
        n.read = 0;
        Ok(())
    }

    /// Reads new output lines and samples every process.
    fn observe(&mut self) {
        let now = Instant::now();
        if let Some(pid) = self.chain.as_ref().and_then(ChildProcess::id) {
            self.monitor.sample(CHAIN, pid);
        }
        for n in &mut self.neurons {
            let Some(p) = n.process.as_ref() else {
                continue;
            };
            if let Some(pid) = p.id() {
                self.monitor.sample(&n.name, pid);
            }
            for line in p.lines_from(n.read) {
                n.read = line.seq + 1;
                let text = &line.text;
                match bt_neuron::report::parse(text) {
                    Some(Event::Train(_)) => n.last_train = Some(now),
                    Some(Event::Test(t)) => n.accuracy_last = Some(t.accuracy),
                    _ => {}
                }
                if text.contains("Miner: block ") || text.contains("Validator: block ") {
                    n.last_chain_ok = Some(now);
                }
                if text.contains(" set_weights ok ") {
                    n.last_weights = Some(now);
                }
                if text.contains("reconnected to the chain") {
                    self.report.chain_redials += 1;
                }
            }
        }
        let mut done = Vec::new();
        for (i, p) in self.pending.iter().enumerate() {
            let after = |t: Option<Instant>| t.is_some_and(|t| t > p.since);
            let chain_ok = |n: &Neuron| {
                after(n.last_chain_ok) && (n.role != "validator" || after(n.last_weights))
            };
            let ok = match &p.until {
                Until::Trains(name) => self
                    .neurons
                    .iter()
                    .any(|n| &n.name == name && after(n.last_train)),
                Until::ChainWorks(name) => {
                    self.neurons.iter().any(|n| &n.name == name && chain_ok(n))
                }
                Until::AllOnChain => self.neurons.iter().all(chain_ok),
                Until::Forwards(link, before) => self
                    .link(link)
                    .is_some_and(|l| l.stats().forwarded > *before),
            };
            if ok {
                done.push(i);
            }
        }
        for i in done.into_iter().rev() {
            let p = self.pending.remove(i);
            self.report.recoveries.push(Recovery {
                kind: p.kind,
                what: p.what,
                took: now.duration_since(p.since),
            });
        }
    }

    fn link(&self, name: &str) -> Option<&FaultProxy> {
        if let Some(neuron) = name.strip_suffix("->chain") {
            return self
                .neurons
                .iter()
                .find(|n| n.name == neuron)
                .map(|n| &n.chain_link);
        }
        self.neurons
            .iter()
            .find(|n| n.name == name)
            .map(|n| &n.axon_link)
    }

    fn neuron_index(&self, name: &str) -> Result<usize, String> {
        self.neurons
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| format!("no process {name} in the scenario"))
    }

    async fn apply(&mut self, fault: &Fault) -> Result<(), String> {
        *self.report.faults.entry(fault.kind(CHAIN)).or_default() += 1;
        let kind = fault.kind(CHAIN);
        let now = Instant::now();
        match fault {
            Fault::Kill { process } if process == CHAIN => self.kill_chain().await?,
            Fault::Restart { process } if process == CHAIN => {
                self.restart_chain().await?;
                self.pending.push(Pending {
                    kind,
                    what: "chain node".into(),
                    since: now,
                    until: Until::AllOnChain,
                });
            }
            Fault::Kill { process } => self.kill_neuron(process).await?,
            Fault::Restart { process } => {
                let i = self.neuron_index(process)?;
                self.start_neuron(i).await?;
                self.pending.push(Pending {
                    kind,
                    what: process.clone(),
                    since: now,
                    until: Until::Trains(process.clone()),
                });
            }
            Fault::ClockSkew { process, offset_ms } => {
                let i = self.neuron_index(process)?;
                if self.neurons[i].process.is_some() {
                    self.kill_neuron(process).await?;
                }
                self.neurons[i].skew_ms = *offset_ms;
                self.start_neuron(i).await?;
                self.pending.push(Pending {
                    kind,
                    what: format!("{process} ({offset_ms:+} ms)"),
                    since: now,
                    until: Until::ChainWorks(process.clone()),
                });
            }
            Fault::Cut { link } | Fault::Heal { link } => {
                let proxy = self.link(link).ok_or_else(|| format!("no link {link}"))?;
                if matches!(fault, Fault::Cut { .. }) {
                    proxy.cut();
                } else {
                    let before = proxy.stats().forwarded;
                    proxy.heal();
                    let until = match link.strip_suffix("->chain") {
                        Some(neuron) => Until::ChainWorks(neuron.to_string()),
                        None => Until::Forwards(link.clone(), before),
                    };
                    self.pending.push(Pending {
                        kind,
                        what: link.clone(),
                        since: now,
                        until,
                    });
                }
            }
            Fault::Delay { link, up, down } => {
                let proxy = self.link(link).ok_or_else(|| format!("no link {link}"))?;
                proxy.set_faults(LinkFaults {
                    delay_up: *up,
                    delay_down: *down,
                    ..proxy.faults()
                });
            }
            Fault::Loss { link, fraction } => {
                let proxy = self.link(link).ok_or_else(|| format!("no link {link}"))?;
                proxy.set_faults(LinkFaults {
                    loss: *fraction,
                    ..proxy.faults()
                });
            }
            Fault::Clear { link } => {
                let proxy = self.link(link).ok_or_else(|| format!("no link {link}"))?;
                let before = proxy.stats().forwarded;
                proxy.set_faults(LinkFaults {
                    cut: proxy.faults().cut,
                    ..LinkFaults::default()
                });
                self.pending.push(Pending {
                    kind,
                    what: link.clone(),
                    since: now,
                    until: Until::Forwards(link.clone(), before),
                });
            }
        }
        Ok(())
    }

    /// Records the head the node acknowledged, then SIGKILL.
    async fn kill_chain(&mut self) -> Result<(), String> {
        let rpc = self.rpc.take().ok_or("the chain is not running")?;
        let head = tokio::time::timeout(RPC_WAIT, rpc.block(None))
            .await
            .map_err(|_| "asking the chain for its head timed out".to_string())?
            .map_err(|e| format!("asking the chain for its head: {e}"))?
            .ok_or("the chain has no head")?;
        if let Some(mut p) = self.chain.take() {
            p.kill().await.map_err(|e| e.to_string())?;
        }
        self.acknowledged = Some(head);
        Ok(())
    }

    /// Starts the node on the same database and checks it still has the acknowledged block.
    async fn restart_chain(&mut self) -> Result<(), String> {
        self.start_chain().await?;
        let Some(ack) = self.acknowledged.take() else {
            return Ok(());
        };
        let rpc = self.rpc.as_ref().ok_or("the chain is not running")?;
        let again = tokio::time::timeout(RPC_WAIT, rpc.block(Some(ack.number)))
            .await
            .map_err(|_| "asking the restarted chain for a block timed out".to_string())?
            .map_err(|e| format!("asking the restarted chain for a block: {e}"))?;
        match again {
            Some(h) if h.hash() == ack.hash() && h.state_root == ack.state_root => {
                self.report.chain_checks += 1;
            }
            Some(h) => self.report.broken.push(format!(
                "the restarted chain's block {} differs from the one acknowledged before \
                 SIGKILL: hash {} vs {}, state root {} vs {}",
                ack.number,
                hex::encode(h.hash()),
                hex::encode(ack.hash()),
                hex::encode(h.state_root),
                hex::encode(ack.state_root)
            )),
            None => self.report.broken.push(format!(
                "the restarted chain lost block {} (acknowledged before SIGKILL)",
                ack.number
            )),
        }
        self.last_chain_restart = Some(ack.number);
        Ok(())
    }

    /// SIGKILL, then the checkpoint on disk must load.
    async fn kill_neuron(&mut self, name: &str) -> Result<(), String> {
        let i = self.neuron_index(name)?;
        self.observe();
        let n = &mut self.neurons[i];
        if let Some(mut p) = n.process.take() {
            p.kill().await.map_err(|e| e.to_string())?;
        }
        if n.model_path.exists() {
            match bt_nn::checkpoint::load::<bt_nn::MnistModel>(&n.model_path) {
                Ok(_) => self.report.checkpoint_checks += 1,
                Err(e) => self
                    .report
                    .broken
                    .push(format!("{name}'s checkpoint is torn after SIGKILL: {e}")),
            }
        }
        Ok(())
    }

    /// Runs the schedule over the configured phase, then checks the end-of-run invariants.
    pub async fn run_faults(mut self) -> Report {
        let start = Instant::now();
        let steps: Vec<Step> = self.cfg.schedule.steps().to_vec();
        let mut next = 0;
        while start.elapsed() < self.cfg.run_for {
            while next < steps.len() && steps[next].at <= start.elapsed() {
                if let Err(e) = self.apply(&steps[next].fault).await {
                    self.report
                        .broken
                        .push(format!("applying {:?}: {e}", steps[next].fault));
                }
                next += 1;
            }
            tokio::time::sleep(TICK).await;
            self.observe();
        }
        self.finish(start).await
    }

    async fn finish(mut self, start: Instant) -> Report {
        // Whatever is still pending gets a last chance as long as one more tempo.
        let grace = Instant::now();
        while !self.pending.is_empty() && grace.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(TICK).await;
            self.observe();
        }
        for p in &self.pending {
            self.report.broken.push(format!(
                "{} ({}) did not recover within {:?}",
                p.what,
                p.kind.label(),
                p.since.elapsed()
            ));
        }
        for v in self.monitor.violations() {
            self.report.broken.push(format!("over its bound: {v}"));
        }
        for n in &self.neurons {
            match (n.accuracy_before, n.accuracy_last) {
                (Some(b), Some(l)) if l > b => {}
                (b, l) => self.report.broken.push(format!(
                    "{}'s accuracy did not rise past its pre-fault value: {b:?} then {l:?}",
                    n.name
                )),
            }
            self.report
                .accuracy
                .insert(n.name.clone(), (n.accuracy_before, n.accuracy_last));
        }
        self.check_weights().await;
        self.report.peaks = self.monitor.peaks().clone();
        for name in self.report.peaks.keys() {
            if let Some(b) = self.monitor.bounds_of(name) {
                self.report.bounds.insert(name.clone(), b);
            }
        }
        self.report.wall = start.elapsed();
        if !self.report.broken.is_empty() {
            self.report
                .broken
                .push(format!("last output:\n{}", self.tails()));
        }
        self.report
    }

    /// The validator's row on the chain was updated after the chain's last restart.
    async fn check_weights(&mut self) {
        let Some(restart) = self.last_chain_restart else {
            return;
        };
        let Some(uid) = self.neurons[0].uid else {
            return;
        };
        let Some(rpc) = self.rpc.as_ref() else {
            self.report
                .broken
                .push("the chain is not running at the end".into());
            return;
        };
        match tokio::time::timeout(RPC_WAIT, rpc.metagraph(self.netuid)).await {
            Ok(Ok(mg)) => {
                let updated = mg.last_update.get(usize::from(uid)).copied().unwrap_or(0);
                if updated > restart {
                    self.report.weights_after_restart = true;
                } else {
                    self.report.broken.push(format!(
                        "the validator's weights were last set at block {updated}, not after \
                         the chain's restart at block {restart}"
                    ));
                }
            }
            Ok(Err(e)) => self
                .report
                .broken
                .push(format!("reading the metagraph: {e}")),
            Err(_) => self
                .report
                .broken
                .push("reading the metagraph timed out".into()),
        }
    }

    fn tails(&self) -> String {
        let mut out = String::new();
        if let Some(c) = &self.chain {
            out.push_str(&c.tail(10));
        }
        for n in &self.neurons {
            if let Some(p) = &n.process {
                out.push_str(&p.tail(15));
            }
        }
        out
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The soak table: faults by kind with their mechanism, recoveries, the longest one, peaks per
/// process against their bounds, and accuracy at the end against the fault-free run.
pub fn table(faulty: &Report, control: Option<&Report>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| fault | injected | mechanism |");
    let _ = writeln!(out, "|---|---:|---|");
    for (kind, n) in &faulty.faults {
        let _ = writeln!(out, "| {} | {n} | {} |", kind.label(), kind.mechanism());
    }
    let _ = writeln!(out);
    let longest = faulty.longest_recovery().map_or("-".into(), |r| {
        format!(
            "{:.1} s ({}, {})",
            r.took.as_secs_f64(),
            r.kind.label(),
            r.what
        )
    });
    let _ = writeln!(
        out,
        "recoveries: {} (longest {longest}); acknowledged blocks found after a chain restart: {}; \
         checkpoints loaded after SIGKILL: {}; neurons' redials of the chain: {}; validator \
         weights after the last chain restart: {}",
        faulty.recoveries.len(),
        faulty.chain_checks,
        faulty.checkpoint_checks,
        faulty.chain_redials,
        if faulty.weights_after_restart {
            "yes"
        } else {
            "no"
        }
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| process | peak RSS MiB (bound) | peak fds (bound) | samples |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for (name, p) in &faulty.peaks {
        let b = faulty.bounds.get(name);
        let _ = writeln!(
            out,
            "| {name} | {:.0} ({}) | {} ({}) | {} |",
            p.rss_kib as f64 / 1024.0,
            b.map_or("-".into(), |b| (b.rss_kib / 1024).to_string()),
            p.fds,
            b.map_or("-".into(), |b| b.fds.to_string()),
            p.samples
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| neuron | accuracy before faults | at the end | fault-free run, at the end |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    let pct = |a: Option<f64>| a.map_or("-".into(), |a| format!("{:.2}%", a * 100.0));
    for (name, (before, end)) in &faulty.accuracy {
        let control_end = control.and_then(|c| c.accuracy.get(name)).and_then(|a| a.1);
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} |",
            pct(*before),
            pct(*end),
            pct(control_end)
        );
    }
    let _ = writeln!(
        out,
        "| mean | | {} | {} |",
        pct(faulty.final_accuracy()),
        pct(control.and_then(Report::final_accuracy))
    );
    let _ = writeln!(
        out,
        "\ninvariants broken: {}",
        if faulty.broken.is_empty() {
            "none".to_string()
        } else {
            faulty.broken.len().to_string()
        }
    );
    out
}
