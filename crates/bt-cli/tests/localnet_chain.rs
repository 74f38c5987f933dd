//! `bittensor localnet --chain --dashboard` as a real process: the embedded chain inside the
//! supervisor, a subnet with every neuron registered (one validator, the others miners) and the
//! dashboard pointed at it.
//!
//! Checked through the dashboard's JSON (`GET /api/state`): the chain's block advances, every
//! neuron is listed with its uid, the chain panel has a row for each of those uids with the
//! same hotkey, the validator's weights name every miner, and a miner's incentive and
//! consensus become non-zero (the weights went through Yuma consensus). Then, when
//! Chromium is installed (required with `BT_REQUIRE_CHROMIUM=1`), the page shows the same and a
//! screenshot is saved. Ctrl-C stops everything with exit code 130 and leaves the chain's
//! database under `--dir`; a second run there finds the same subnet and uids.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser {
    pub mod cdp;
    pub mod page;
}

use std::path::Path;
use std::time::Duration;

use browser::page::{Page, chromium_or_skip};
use bt_testnet::process::{ChildProcess, Line};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

const NEURONS: usize = 3;

/// A neuron as the dashboard lists it.
#[derive(Debug)]
struct Listed {
    name: String,
    uid: u64,
    role: String,
}

/// `GET /api/state` from the dashboard at `addr`, as JSON (`None` on any failure: polled).
async fn api_state(addr: &str) -> Option<Value> {
    let read = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /api/state HTTP/1.0\r\nhost: dashboard\r\n\r\n")
            .await
            .ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.0 200")
            .then(|| serde_json::from_str(body).ok())?
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .ok()?
}

/// What the snapshot showed once the subnet had run an epoch.
#[derive(Debug)]
struct Shown {
    neurons: Vec<Listed>,
    /// The best-paid miner's incentive and consensus (x 65535).
    incentive: u64,
    consensus: u64,
    /// The validator's weights as the chain panel lists them: (uid, weight).
    weights: Vec<(u64, u64)>,
    block: u64,
}

/// What the test waits for in the snapshot: every neuron with a distinct uid and a role, each
/// uid in the chain panel under the neuron's hotkey, every neuron's axon in the metagraph
/// panel (from the chain), the validator's weights on every miner, and a miner with non-zero
/// incentive and consensus.
fn subnet_shown(state: &Value) -> Option<Shown> {
    let neurons = state["neurons"].as_array()?;
    let rows = state["chain"]["uids"].as_array()?;
    if neurons.len() != NEURONS {
        return None;
    }
    let mut shown = Vec::new();
    let (mut miner_incentive, mut miner_consensus) = (0, 0);
    for n in neurons {
        let (uid, role) = (n["uid"].as_u64()?, n["role"].as_str()?);
        let row = rows.iter().find(|r| r["uid"].as_u64() == Some(uid))?;
        if row["hotkey"] != n["hotkey"] {
            return None;
        }
        if role == "miner" {
            miner_incentive = miner_incentive.max(row["incentive"].as_u64()?);
            miner_consensus = miner_consensus.max(row["consensus"].as_u64()?);
        }
        shown.push(Listed {
            name: n["name"].as_str()?.to_string(),
            uid,
            role: role.to_string(),
        });
    }
    // The metagraph panel lists the axons the neurons published on the chain.
    let served = state["synapses"]
        .as_array()?
        .iter()
        .filter(|s| s["source"] == "chain")
        .count();
    if served != NEURONS {
        return None;
    }
    let mut uids: Vec<u64> = shown.iter().map(|s| s.uid).collect();
    uids.sort_unstable();
    uids.dedup();
    if uids.len() != NEURONS || miner_incentive == 0 || miner_consensus == 0 {
        return None;
    }
    // The validator's weights row names every miner.
    let validator = shown.iter().find(|n| n.role == "validator")?.uid;
    let row = state["chain"]["weights"]
        .as_array()?
        .iter()
        .find(|w| w["uid"].as_u64() == Some(validator))?;
    let weights: Vec<(u64, u64)> = row["weights"]
        .as_array()?
        .iter()
        .map(|p| Some((p[0].as_u64()?, p[1].as_u64()?)))
        .collect::<Option<_>>()?;
    let weighted_miners = shown
        .iter()
        .filter(|n| n.role == "miner")
        .all(|n| weights.iter().any(|w| w.0 == n.uid));
    weighted_miners.then_some(Shown {
        neurons: shown,
        incentive: miner_incentive,
        consensus: miner_consensus,
        weights,
        block: state["chain"]["block"].as_u64()?,
    })
}

/// The chain's block as the dashboard last read it.
fn block_of(state: &Value) -> Option<u64> {
    state["chain"]["block"].as_u64()
}

/// Starts `localnet --chain --dashboard` on `net` and waits for its dashboard: the child, the
/// dashboard's URL and host:port, and the lines the supervisor printed setting the chain up.
async fn start_localnet(net: &Path) -> (ChildProcess, String, String, Vec<String>) {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("bittensor"));
    cmd.args(["localnet", "--chain", "--dashboard", "--plain"])
        .args(["--neurons", &NEURONS.to_string(), "--max_steps", "300"])
        .args(["--block_time", "0.25", "--tempo", "8"])
        .args(["--subnet_interval", "0.5", "--dir"])
        .arg(net)
        .env(
            "BT_MNIST_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"),
        );
    let mut localnet = ChildProcess::spawn("localnet", cmd).unwrap();
    let waited = localnet
        .wait_for_line(0, Duration::from_secs(180), |l: &Line| {
            l.text
                .strip_prefix("Dashboard: ")
                .map(|u| u.trim().to_string())
        })
        .await;
    let url = waited.unwrap_or_else(|e| panic!("{e}:\n{}", localnet.tail(80)));
    // The chain is set up before the dashboard starts: what the supervisor said about it.
    let setup: Vec<String> = localnet.lines_from(0).into_iter().map(|l| l.text).collect();
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    (localnet, url, addr, setup)
}

/// Ctrl-C: localnet stops everything and exits 130, naming the chain in its summary.
async fn interrupt(mut localnet: ChildProcess) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(localnet.id().unwrap()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = localnet
        .wait_exit(Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("localnet ignored Ctrl-C ({e}):\n{}", localnet.tail(80)));
    assert_eq!(status.code(), Some(130), "{}", localnet.tail(80));
    assert!(
        localnet
            .latest(|l| l.text.starts_with("chain: ws://").then_some(()))
            .is_some(),
        "the summary names the chain:\n{}",
        localnet.tail(80)
    );
}

/// The supervisor's `nK: uid U role  hotkey …` lines.
fn members(setup: &[String]) -> Vec<&str> {
    setup
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with('n') && l.contains(": uid "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localnet_chain_lists_every_neuron_by_uid_with_weights_and_pays_a_miner_incentive() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    let (localnet, url, addr, setup) = start_localnet(&net).await;

    // Blocks advance: the panel's block height moves on from the first one it showed.
    let first_block = bt_testnet::eventually_async_some(
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async { block_of(&api_state(&addr).await?) },
    )
    .await
    .unwrap_or_else(|e| panic!("the chain panel never showed a block ({e})"));

    let last = std::sync::Mutex::new(Value::Null);
    let (addr_ref, last_ref) = (&addr, &last);
    let shown = bt_testnet::eventually_async_some(
        Duration::from_secs(420),
        Duration::from_millis(500),
        || async move {
            let state = api_state(addr_ref).await?;
            let shown = subnet_shown(&state);
            *last_ref.lock().unwrap() = state;
            shown
        },
    )
    .await
    .unwrap_or_else(|e| {
        panic!(
            "the dashboard never showed every neuron by uid with a paid miner ({e}):\n\
             state: {}\nlocalnet:\n{}",
            last.lock().unwrap(),
            localnet.tail(80)
        )
    });
    eprintln!(
        "dashboard at block {}: {:?}; a miner's incentive {}/65535 and consensus {}/65535; \
         the validator's weights {:?}",
        shown.block, shown.neurons, shown.incentive, shown.consensus, shown.weights
    );
    assert!(
        shown.block > first_block,
        "the chain's block never advanced past {first_block}: {shown:?}"
    );
    assert!(
        shown.weights.iter().any(|w| w.1 > 0),
        "the validator's weights are all zero: {shown:?}"
    );
    let neurons = shown.neurons;
    assert_eq!(
        neurons.iter().filter(|n| n.role == "validator").count(),
        1,
        "one validator by default: {neurons:?}"
    );
    // The supervisor's own lines name the same uids it registered.
    for Listed { name, uid, role } in &neurons {
        let said = format!("{name}: uid {uid} {role}");
        assert!(
            setup.iter().any(|l| l.contains(&said)),
            "localnet never said {said:?}:\n{}",
            setup.join("\n")
        );
    }

    if let Some(browser_exe) = chromium_or_skip() {
        let page = Page::open(&browser_exe, dir.path(), &url).await;
        let probe = page
            .wait_for(
                Duration::from_secs(120),
                "every neuron with its uid, a miner's incentive and the validator's weights",
                |probe| {
                    let listed = probe["neurons"].as_array()?;
                    let by_uid = |uid: &str| {
                        probe["chainRows"]
                            .as_array()?
                            .iter()
                            .find(|r| r["uid"] == uid)
                            .cloned()
                    };
                    let mut paid_miner = false;
                    for Listed { name, uid, role } in &neurons {
                        let n = listed.iter().find(|n| n["name"] == name.as_str())?;
                        if n["uid"] != uid.to_string().as_str() || n["role"] != role.as_str() {
                            return None;
                        }
                        let row = by_uid(&uid.to_string())?;
                        if row["neuron"] != name.as_str() {
                            return None;
                        }
                        let incentive: f64 = row["incentive"].as_str()?.parse().ok()?;
                        let consensus: f64 = row["consensus"].as_str()?.parse().ok()?;
                        paid_miner |= role == "miner" && incentive > 0.0 && consensus > 0.0;
                    }
                    // The weights table: the validator's row, named, with a share for each
                    // miner.
                    let validator = neurons.iter().find(|n| n.role == "validator")?;
                    let weights = probe["weightRows"]
                        .as_array()?
                        .iter()
                        .find(|w| w["uid"] == validator.uid.to_string().as_str())?;
                    let text = weights["weights"].as_str()?;
                    let every_miner = neurons.iter().filter(|n| n.role == "miner").all(|n| {
                        text.split("  ")
                            .any(|c| c.starts_with(&format!("{}: ", n.uid)))
                    });
                    let named = weights["neuron"] == validator.name.as_str();
                    (paid_miner && every_miner && named).then(|| probe.clone())
                },
            )
            .await;
        let path = page.screenshot("localnet-chain").await;
        eprintln!(
            "page: {} / {} / {}; screenshot: {}",
            probe["neurons"],
            probe["chainRows"],
            probe["weightRows"],
            path.display()
        );
    }

    interrupt(localnet).await;
    assert!(net.join("chain/chain.db").exists(), "no chain database");

    // A second run on the same --dir finds its subnet, uids and keys again, and its neurons
    // join under the same uids.
    let (again, _, addr, resumed) = start_localnet(&net).await;
    assert_eq!(
        members(&resumed),
        members(&setup),
        "the second run registered anew:\n{}",
        resumed.join("\n")
    );
    let listed = bt_testnet::eventually_async_some(
        Duration::from_secs(180),
        Duration::from_millis(500),
        || async {
            let state = api_state(&addr).await?;
            let uids: Vec<u64> = state["neurons"]
                .as_array()?
                .iter()
                .map(|n| n["uid"].as_u64())
                .collect::<Option<_>>()?;
            (uids.len() == NEURONS).then_some(uids)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("the second run's neurons never showed their uids ({e})"));
    let mut before: Vec<u64> = neurons.iter().map(|n| n.uid).collect();
    let mut after = listed;
    before.sort_unstable();
    after.sort_unstable();
    assert_eq!(after, before, "the second run's neurons took other uids");
    interrupt(again).await;
}
