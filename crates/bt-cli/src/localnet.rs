//! `bittensor localnet`: N neurons as child processes on loopback that bootstrap to the first and
//! train together, with a live view, a summary, and a clean stop on Ctrl-C. With `--chain` they
//! are the members of a subnet on an embedded chain instead (`localnet_chain`).
//!
//! The supervisor learns everything from the children's stdout (the same lines a person reads),
//! so what it shows is what the neurons said, never a guess.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bt_neuron::report::{self, Event, Ready, TestLine, TrainLine};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use bt_dashboard::DashboardConfig;

use crate::cli::{LocalnetArgs, NeuronKind};
use crate::exit;
use crate::localnet_chain::LocalChain;

/// How long the first neuron may take to say where its metagraph listens.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long children get to checkpoint and exit after Ctrl-C before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(20);
const MAX_NEURONS: usize = 64;

#[derive(Debug, Default, Clone)]
struct NodeView {
    ready: Option<Ready>,
    last_train: Option<TrainLine>,
    last_test: Option<TestLine>,
    last_network_test: Option<TestLine>,
    checkpoint: Option<String>,
    exit: Option<String>,
    steps_seen: usize,
    /// It said it is done (a learner that finished its epochs or steps).
    done: bool,
}

struct Line {
    node: usize,
    text: String,
}

pub async fn run(args: LocalnetArgs) -> Result<u8> {
    if args.neurons == 0 || args.neurons > MAX_NEURONS {
        return Err(exit::CliError::Usage(format!(
            "--neurons must be between 1 and {MAX_NEURONS}, got {}",
            args.neurons
        ))
        .into());
    }
    if args.chain && args.neuron != NeuronKind::Mnist {
        return Err(exit::CliError::Usage(
            "--chain runs MNIST neurons (a subnet's task is MNIST classification)".into(),
        )
        .into());
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create --dir {}", args.dir.display()))?;
    if !args.chain {
        return supervise(&args, None).await;
    }
    let Some(chain) = LocalChain::start(&args.dir, &args.chain_flags, args.neurons).await? else {
        return Ok(exit::INTERRUPTED);
    };
    let outcome = supervise(&args, Some(&chain)).await;
    // Last: the neurons have stopped calling it.
    chain.shutdown().await;
    outcome
}

/// Starts the neurons (on gossip, or members of `chain`'s subnet) and the dashboard, shows
/// them until they end or Ctrl-C, and stops them.
async fn supervise(args: &LocalnetArgs, chain: Option<&LocalChain>) -> Result<u8> {
    let exe = std::env::current_exe().context("cannot find the bittensor executable")?;
    let live = !args.plain && std::io::stdout().is_terminal();
    // Bounded: a neuron that floods its stdout slows itself down, never the supervisor's memory.
    let (tx, mut rx) = mpsc::channel::<Line>(1024);
    let mut children: Vec<Child> = Vec::with_capacity(args.neurons);
    let mut views = vec![NodeView::default(); args.neurons];
    let started = Instant::now();
    let dashboard = if args.dashboard {
        let (reader, netuid) = match chain {
            Some(c) => (Some(c.reader().await?), c.netuid),
            None => (None, DashboardConfig::default().netuid),
        };
        let cfg = DashboardConfig {
            netuid,
            ..args.dashboard_flags.config()?
        };
        Some(crate::dashboard_cmd::start(cfg, reader).await?)
    } else {
        None
    };

    if let Some(chain) = chain {
        // The chain already knows every member: nothing to wait for before starting them all.
        for node in 0..args.neurons {
            let joining = Joining::Subnet(chain.neuron_args(node)?);
            match spawn_node(&exe, args, node, joining, tx.clone()) {
                Ok(child) => children.push(child),
                Err(e) => {
                    stop_all(&mut children).await;
                    return Err(e);
                }
            }
        }
    } else {
        let first = spawn_node(&exe, args, 0, Joining::Gossip(None), tx.clone())?;
        children.push(first);
        let bootstrap = match wait_ready(&mut rx, &mut views, live).await {
            Ok(addr) => {
                show_on_dashboard(dashboard.as_ref(), &views, 0, false);
                addr
            }
            Err(e) => {
                stop_all(&mut children).await;
                return Err(e);
            }
        };
        for node in 1..args.neurons {
            let joining = Joining::Gossip(Some(&bootstrap));
            children.push(spawn_node(&exe, args, node, joining, tx.clone())?);
        }
    }
    drop(tx);

    let mut redraw = tokio::time::interval(Duration::from_millis(500));
    let mut drawn_lines = 0usize;
    let mut interrupted = false;
    // A text localnet's node 0 serves MiniLM until told to stop: once every learner is
    // done, it is stopped as on Ctrl-C, and its interrupted exit is not a failure.
    let teacher = (args.neuron == NeuronKind::Text && args.neurons > 1).then_some(0usize);
    let mut teacher_stopped = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            line = rx.recv() => match line {
                Some(line) => {
                    let node = line.node;
                    let was_ready = views.get(node).is_some_and(|v| v.ready.is_some());
                    absorb(&mut views, line, live);
                    show_on_dashboard(dashboard.as_ref(), &views, node, was_ready);
                    if let Some(t) = teacher.filter(|_| !teacher_stopped) {
                        let learners_done =
                            views.iter().enumerate().all(|(n, v)| n == t || v.done);
                        if learners_done {
                            teacher_stopped = true;
                            interrupt_all(&children[t..=t]);
                        }
                    }
                }
                None => break, // every child closed its stdout
            },
            _ = redraw.tick(), if live => {
                drawn_lines = draw(&views, drawn_lines, started.elapsed());
            }
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                eprintln!("\nstopping {} neurons (they checkpoint first)…", children.len());
                interrupt_all(&children);
            }
        }
    }
    let mut failures = 0;
    for (node, child) in children.iter_mut().enumerate() {
        let status = match tokio::time::timeout(STOP_GRACE, child.wait()).await {
            Ok(status) => status.context("waiting for a neuron")?,
            Err(_) => {
                child.kill().await.ok();
                child.wait().await.context("waiting for a killed neuron")?
            }
        };
        let stopped_by_us = interrupted || (teacher_stopped && Some(node) == teacher);
        if !status.success() && !stopped_by_us {
            failures += 1;
        }
        if let Some(view) = views.get_mut(node) {
            view.exit = Some(match status.code() {
                Some(0) => "done".to_string(),
                _ if stopped_by_us => "stopped".to_string(),
                _ => status.to_string(),
            });
        }
    }
    if live {
        draw(&views, drawn_lines, started.elapsed());
    }
    print_summary(&views, &args.dir, started.elapsed());
    if let Some(c) = chain {
        println!(
            "chain: ws://{} subnet {} (database {})",
            c.endpoint,
            c.netuid,
            c.db.display()
        );
    }
    if failures > 0 {
        bail!(
            "{failures} of {} neurons failed; their logs are in {}",
            views.len(),
            args.dir.display()
        );
    }
    Ok(if interrupted {
        exit::INTERRUPTED
    } else {
        exit::OK
    })
}

fn node_dir(dir: &Path, node: usize) -> PathBuf {
    dir.join(format!("node{node}"))
}

/// How a neuron finds its peers.
enum Joining<'a> {
    /// By gossip, from the first neuron's metagraph (`None`: it is the first).
    Gossip(Option<&'a str>),
    /// Through the local chain: the flags that make it its subnet member.
    Subnet(Vec<std::ffi::OsString>),
}

/// The environment a neuron would otherwise take a chain, a subnet or a wallet from: localnet
/// decides those itself.
const CHAIN_ENV: [&str; 9] = [
    "BT_CHAIN_ENDPOINT",
    "BT_SUBTENSOR_NETWORK",
    "BT_SUBTENSOR_CHAIN_ENDPOINT",
    "BT_NETUID",
    "BT_ROLE",
    "BT_WALLET_PATH",
    "BT_WALLET_NAME",
    "BT_WALLET_HOTKEY",
    "BT_SUBNET_INTERVAL",
];

fn spawn_node(
    exe: &Path,
    args: &LocalnetArgs,
    node: usize,
    joining: Joining<'_>,
    tx: mpsc::Sender<Line>,
) -> Result<Child> {
    let dir = node_dir(&args.dir, node);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let kind = match args.neuron {
        NeuronKind::Echo => "echo",
        NeuronKind::Mnist => "mnist",
        NeuronKind::Cifar => "cifar",
        NeuronKind::Text => "text",
    };
    let mut cmd = Command::new(exe);
    cmd.arg("neuron")
        .arg(kind)
        .arg("--neuron_key")
        .arg(dir.join("neuron.key"))
        .arg("--model_path")
        .arg(dir.join("model.safetensors"))
        .arg("--log_dir")
        .arg(&dir)
        .arg("--remote_ip")
        .arg("127.0.0.1")
        .arg("--epochs")
        .arg(args.epochs.to_string())
        .arg("--max_steps")
        .arg(args.max_steps.to_string());
    for var in CHAIN_ENV {
        cmd.env_remove(var);
    }
    match joining {
        Joining::Gossip(bootstrap) => {
            // Every neuron starts training once it sees the others: "train together" from
            // the first step, however slowly the machine starts processes.
            cmd.arg("--wait_for_peers")
                .arg(args.neurons.saturating_sub(1).to_string())
                .arg("--gossip_interval")
                .arg(args.gossip_interval.to_string());
            if let Some(addr) = bootstrap {
                cmd.arg("--bootstrap").arg(addr);
            }
        }
        Joining::Subnet(flags) => {
            cmd.args(flags);
        }
    }
    if args.dashboard {
        // A free port each, announced on the neuron's Ready line.
        cmd.arg("--metrics_port").arg("0");
    }
    if let Some(data) = &args.data_dir {
        cmd.arg("--data_dir").arg(data);
    }
    // Text learners need a MiniLM peer to distil from: node 0 serves it.
    if args.neuron == NeuronKind::Text && node == 0 {
        cmd.arg("--teacher");
    }
    // The children share the machine: splitting the cores between them keeps N neurons from
    // fighting over the same ones (the dense kernels use rayon's pool).
    cmd.env(
        "RAYON_NUM_THREADS",
        per_node_threads(args.neurons).to_string(),
    )
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start neuron {node} ({})", exe.display()))?;
    if let Some(out) = child.stdout.take() {
        tokio::spawn(forward_lines(node, BufReader::new(out), tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(forward_lines(node, BufReader::new(err), tx));
    }
    Ok(child)
}

fn per_node_threads(neurons: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / neurons.max(1)).max(1)
}

async fn forward_lines<R: tokio::io::AsyncRead + Unpin>(
    node: usize,
    reader: BufReader<R>,
    tx: mpsc::Sender<Line>,
) {
    let mut lines = reader.lines();
    while let Ok(Some(text)) = lines.next_line().await {
        if tx.send(Line { node, text }).await.is_err() {
            break;
        }
    }
}

async fn wait_ready(
    rx: &mut mpsc::Receiver<Line>,
    views: &mut [NodeView],
    live: bool,
) -> Result<String> {
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        let line = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .context("the first neuron did not report ready in time")?
            .context("the first neuron exited before it was ready (see its output above)")?;
        let ready = match report::parse(&line.text) {
            Some(Event::Ready(r)) => Some(r),
            _ => None,
        };
        absorb(views, line, live);
        if let Some(r) = ready {
            return Ok(r.metagraph);
        }
    }
}

fn absorb(views: &mut [NodeView], line: Line, live: bool) {
    let Some(view) = views.get_mut(line.node) else {
        return;
    };
    match report::parse(&line.text) {
        Some(Event::Ready(r)) => view.ready = Some(r),
        Some(Event::Train(t)) => {
            view.steps_seen += 1;
            view.last_train = Some(t);
        }
        Some(Event::Test(t)) => view.last_test = Some(t),
        Some(Event::NetworkTest(t)) => view.last_network_test = Some(t.0),
        Some(Event::Checkpoint(p)) => view.checkpoint = Some(p),
        Some(Event::Done) => view.done = true,
        None => {}
    }
    if !live {
        println!("[n{}] {}", line.node, line.text);
    }
}

/// Once a neuron says where its metrics are, the dashboard starts reading them.
fn show_on_dashboard(
    dashboard: Option<&bt_dashboard::DashboardHandle>,
    views: &[NodeView],
    node: usize,
    was_ready: bool,
) {
    let (Some(d), false) = (dashboard, was_ready) else {
        return;
    };
    let Some(metrics) = views
        .get(node)
        .and_then(|v| v.ready.as_ref())
        .and_then(|r| r.metrics.clone())
    else {
        return;
    };
    if let Err(e) = d.add_neuron(format!("n{node}"), metrics) {
        tracing::warn!(error = %e, "neuron not shown on the dashboard");
    }
}

fn interrupt_all(children: &[Child]) {
    for child in children {
        if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
            // The children checkpoint on SIGINT, as on a Ctrl-C in their own terminal.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGINT,
            );
        }
    }
}

async fn stop_all(children: &mut [Child]) {
    interrupt_all(children);
    for child in children.iter_mut() {
        if tokio::time::timeout(STOP_GRACE, child.wait())
            .await
            .is_err()
        {
            child.kill().await.ok();
        }
    }
}

fn row(node: usize, v: &NodeView) -> String {
    let (epoch, progress, local, network, distil, peers) = match &v.last_train {
        Some(t) => (
            t.epoch.to_string(),
            format!("{}/{}", t.seen, t.total),
            format!("{:.4}", t.local_loss),
            format!("{:.4}", t.network_loss),
            format!("{:.4}", t.distillation_loss),
            format!("{}|{}", t.peers, t.synapses),
        ),
        None => Default::default(),
    };
    let pct = |t: &Option<TestLine>| {
        t.as_ref()
            .map(|t| format!("{:.2}%", t.accuracy * 100.0))
            .unwrap_or_default()
    };
    let (acc, net_acc) = (pct(&v.last_test), pct(&v.last_network_test));
    let state = match (&v.exit, &v.ready) {
        (Some(e), _) => e.clone(),
        (None, Some(_)) => "running".to_string(),
        (None, None) => "starting".to_string(),
    };
    let name = match v.ready.as_ref().and_then(|r| r.uid) {
        Some(uid) => format!("n{node} u{uid}"),
        None => format!("n{node}"),
    };
    format!(
        "{name:<8} {state:<10} {epoch:>5} {progress:>13} {local:>10} {network:>10} {distil:>10} {peers:>7} {acc:>8} {net_acc:>8}"
    )
}

fn header() -> String {
    format!(
        "{:<8} {:<10} {:>5} {:>13} {:>10} {:>10} {:>10} {:>7} {:>8} {:>8}",
        "node",
        "state",
        "epoch",
        "progress",
        "local",
        "network",
        "distil",
        "nP|nS",
        "test acc",
        "net acc"
    )
}

/// Redraws the live table in place; returns how many lines it drew.
fn draw(views: &[NodeView], previous: usize, elapsed: Duration) -> usize {
    let mut out = String::new();
    if previous > 0 {
        out.push_str(&format!("\x1b[{previous}A"));
    }
    out.push_str(&format!(
        "\x1b[2Klocalnet: {} neurons, {:.0}s\n",
        views.len(),
        elapsed.as_secs_f64()
    ));
    out.push_str(&format!("\x1b[2K{}\n", header()));
    for (i, v) in views.iter().enumerate() {
        out.push_str(&format!("\x1b[2K{}\n", row(i, v)));
    }
    print!("{out}");
    views.len() + 2
}

fn print_summary(views: &[NodeView], dir: &Path, elapsed: Duration) {
    println!("\nlocalnet summary ({:.1}s)", elapsed.as_secs_f64());
    println!("{}", header());
    for (i, v) in views.iter().enumerate() {
        println!("{}", row(i, v));
    }
    for (i, v) in views.iter().enumerate() {
        if let Some(p) = &v.checkpoint {
            println!("n{i} checkpoint: {p}");
        }
    }
    println!("keys, logs and checkpoints: {}", dir.display());
}
