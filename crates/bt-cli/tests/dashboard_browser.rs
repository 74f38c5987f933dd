//! The dashboard in a real browser (headless Chromium, driven through the DevTools protocol):
//!
//! - `bittensor localnet --dashboard` runs three neurons; the test waits until the neurons'
//!   table lists all three as up, the loss chart has gained points and the metagraph lists
//!   their synapses.
//! - A subnet on the embedded chain (`chain start`, `subnet create`, a validator and a miner)
//!   with `bittensor dashboard --chain`: the chain panel lists the uids with their values, its
//!   history gains an epoch, and what it shows for each uid is what `bittensor subnet
//!   metagraph --json` reports.
//!
//! Each saves a screenshot under the test's output directory. Skipped with a message when
//! Chromium is missing, unless `BT_REQUIRE_CHROMIUM=1` (CI).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser {
    pub mod cdp;
    pub mod page;
}

use std::process::Stdio;
use std::time::Duration;

use browser::page::{Page, chromium_or_skip};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const NEURONS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_lists_every_neuron_and_draws_their_curves_in_chromium() {
    let Some(browser_exe) = chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut localnet = Command::new(assert_cmd::cargo::cargo_bin("bittensor"))
        .args([
            "localnet",
            "--neurons",
            &NEURONS.to_string(),
            "--plain",
            "--dashboard",
        ])
        .args([
            "--max_steps",
            "1000000",
            "--gossip_interval",
            "0.5",
            "--dir",
        ])
        .arg(dir.path().join("net"))
        .env(
            "BT_MNIST_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(localnet.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("Dashboard: ") {
                return url.trim().to_string();
            }
        }
        panic!("localnet ended without printing its dashboard URL");
    })
    .await
    .expect("no dashboard URL within 120 s");
    // Keep draining the supervisor's output so its pipe never fills.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let page = Page::open(&browser_exe, dir.path(), &url).await;
    let probe = page
        .wait_for(
            Duration::from_secs(300),
            &format!("{NEURONS} neurons up with curves"),
            |probe| {
                let n = |k: &str| probe[k].as_u64().unwrap_or(0);
                (n("rows") == NEURONS as u64
                    && n("up") == NEURONS as u64
                    && n("lossPoints") >= 2 * NEURONS as u64
                    && n("synapses") >= NEURONS as u64)
                    .then(|| probe.clone())
            },
        )
        .await;
    let path = page.screenshot("dashboard").await;
    eprintln!("dashboard: {probe}; screenshot: {}", path.display());

    drop(page);
    if let Some(pid) = localnet.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGINT,
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(60), localnet.wait()).await;
}

/// Blocks per epoch of the test's subnet: long enough (at 0.25 s a block) for the page and a
/// `subnet metagraph` read to fall in the same epoch, short enough to see several.
const TEMPO: &str = "20";

fn bittensor(dir: &std::path::Path, endpoint: &str) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("bittensor"));
    cmd.env("BT_WALLET_PATH", dir)
        .env("BT_CHAIN_ENDPOINT", endpoint)
        .env(
            "BT_MNIST_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"),
        )
        .kill_on_drop(true);
    cmd
}

/// Runs a one-shot command to success and returns its stdout.
async fn run(mut cmd: Command, args: &[&str]) -> String {
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.args(args).output())
        .await
        .expect("command timed out")
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Whether the page's text for a value is what the CLI's number rounds to (`decimals` places).
fn shows(page: &Value, cli: &Value, decimals: i32) -> bool {
    let shown: f64 = match page
        .as_str()
        .map(|s| s.trim_end_matches(" τ").trim().parse())
    {
        Some(Ok(v)) => v,
        _ => return false,
    };
    cli.as_f64()
        .is_some_and(|v| (shown - v).abs() <= 0.5 * 10f64.powi(-decimals) + 1e-9)
}

/// How many uids the page's chain table and `subnet metagraph --json` agree on in every
/// column, or `None` when a row differs or is missing.
fn agreeing_uids(page: &Value, cli: &Value) -> Option<usize> {
    let rows = page["chainRows"].as_array()?;
    let neurons = cli["neurons"].as_array()?;
    if rows.len() != neurons.len() || rows.is_empty() {
        return None;
    }
    for n in neurons {
        let uid = n["uid"].as_u64()?.to_string();
        let r = rows.iter().find(|r| r["uid"] == uid.as_str())?;
        let permit = if n["validator_permit"].as_bool()? {
            "yes"
        } else {
            ""
        };
        let same = r["hotkey"] == n["hotkey"]
            && shows(&r["stake"], &n["stake"], 3)
            && shows(&r["incentive"], &n["incentive"], 4)
            && shows(&r["dividends"], &n["dividends"], 4)
            && shows(&r["trust"], &n["trust"], 4)
            && shows(&r["consensus"], &n["consensus"], 4)
            && r["emission"] == n["emission"].as_u64()?.to_string().as_str()
            && r["permit"] == permit;
        if !same {
            return None;
        }
    }
    Some(neurons.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_a_subnet_on_the_embedded_chain_epoch_by_epoch_in_chromium() {
    use bt_testnet::process::{ChildProcess, Line};

    let Some(browser_exe) = chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = bt_testnet::free_port().unwrap().to_string();
    let endpoint = format!("127.0.0.1:{port}");
    let cli = || bittensor(dir.path(), &endpoint);
    let mut chain_cmd = cli();
    chain_cmd.args(["chain", "start", "--dev", "--block_time", "0.25"]);
    chain_cmd.args(["--tempo", TEMPO, "--port", &port]);
    let mut chain = ChildProcess::spawn("chain", chain_cmd).unwrap();
    chain
        .wait_for_line(0, Duration::from_secs(60), |l: &Line| {
            l.text.contains("Chain ready").then_some(())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    for name in ["owner", "miner"] {
        run(
            cli(),
            &["wallet", "new", "--wallet_name", name, "--no_password"],
        )
        .await;
        run(cli(), &["subnet", "faucet", "--wallet_name", name]).await;
    }
    let created = run(cli(), &["subnet", "create", "--wallet_name", "owner"]).await;
    let netuid = created.trim().rsplit(' ').next().unwrap().to_string();
    run(
        cli(),
        &["stake", "add", "--amount", "100", "--wallet_name", "owner"],
    )
    .await;
    let mut neurons = Vec::new();
    for (name, role) in [("owner", "validator"), ("miner", "miner")] {
        let mut cmd = cli();
        cmd.args(["neuron", "mnist", "--role", role, "--netuid", &netuid])
            .args(["--wallet_name", name, "--remote_ip", "127.0.0.1"])
            .args(["--subnet_interval", "0.5", "--max_steps", "30"])
            .arg("--neuron_key")
            .arg(dir.path().join(format!("{name}.key")));
        neurons.push(ChildProcess::spawn(name, cmd).unwrap());
    }

    let mut dash_cmd = cli();
    dash_cmd.args(["dashboard", "--chain", &endpoint, "--netuid", &netuid]);
    let mut dashboard = ChildProcess::spawn("dashboard", dash_cmd).unwrap();
    let url = dashboard
        .wait_for_line(0, Duration::from_secs(60), |l: &Line| {
            l.text
                .strip_prefix("Dashboard: ")
                .map(|u| u.trim().to_string())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let page = Page::open(&browser_exe, dir.path(), &url).await;
    // Both uids listed, and the history has a point from a later epoch than the first read.
    page.wait_for(
        Duration::from_secs(300),
        "two uids and an epoch in the chain panel",
        |probe| {
            let rows = probe["chainRows"].as_array()?.len();
            let blocks = probe["chainBlocks"].as_u64()?;
            (rows >= 2 && blocks >= 2 && probe["chainPoints"].as_u64()? >= 2).then_some(())
        },
    )
    .await;

    // What the page shows is what the CLI reads, uid by uid. Both move at each epoch, so the
    // two reads are repeated until they fall in the same one.
    let last = std::sync::Mutex::new((Value::Null, Value::Null));
    let (page_ref, last_ref, netuid_ref) = (&page, &last, &netuid);
    let agreed = bt_testnet::eventually_async_some(
        Duration::from_secs(120),
        Duration::from_millis(500),
        || async move {
            let shown = page_ref.probe().await?;
            let json = run(
                cli(),
                &["subnet", "metagraph", "--netuid", netuid_ref, "--json"],
            )
            .await;
            let read: Value = serde_json::from_str(&json).ok()?;
            let n = agreeing_uids(&shown, &read);
            *last_ref.lock().unwrap() = (shown, read);
            n
        },
    )
    .await;
    let uids = agreed.unwrap_or_else(|e| {
        let (shown, read) = last.lock().unwrap().clone();
        panic!("the page and `subnet metagraph` never agreed ({e}):\npage: {shown}\ncli: {read}")
    });
    assert!(uids >= 2);
    let (shown, _) = last.lock().unwrap().clone();
    let nonzero = shown["chainRows"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["stake"].as_str().is_some_and(|s| !s.starts_with("0.000")));
    assert!(nonzero, "no uid shows stake: {shown}");
    let path = page.screenshot("dashboard-chain").await;
    eprintln!(
        "chain panel: {}; screenshot: {}",
        shown["chainRows"],
        path.display()
    );
    drop((page, dashboard, neurons, chain));
}
