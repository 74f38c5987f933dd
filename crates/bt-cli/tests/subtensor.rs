//! The CLI on the real chain: subtensor's runtime (raonet) in Chopsticks. Subnet create and
//! register go through `--subtensor.chain_endpoint`; the read commands print the same table and
//! JSON as on the embedded chain, with the values the runtime stored; bad endpoints and network
//! names fail fast with the exit codes the README documents.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use bt_crypto::wallet::Wallet;
use bt_subtensor::{RAO_PER_TAO, RpcConfig, Subtensor};
use bt_testnet::chopsticks::{BlockMode, Chopsticks};
use predicates::prelude::*;
use scale_value::Value;
use serde_json::json;

fn raonet() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bt-subtensor/tests/fixtures/raonet.json")
}

/// `bittensor ARGS --subtensor.chain_endpoint URL` with the test's wallets.
fn bittensor(wallets: &Path, url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("bittensor").unwrap();
    cmd.env("BT_WALLET_PATH", wallets)
        .env_remove("BT_CHAIN_ENDPOINT")
        .args(args)
        .args(["--subtensor.chain_endpoint", url]);
    cmd
}

fn stdout(wallets: &Path, url: &str, args: &[&str]) -> String {
    let out = bittensor(wallets, url, args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnet_commands_on_subtensor() {
    let Some(exe) = Chopsticks::executable("subnet_commands_on_subtensor") else {
        return;
    };
    let node = Chopsticks::start(&exe, &raonet(), BlockMode::Instant)
        .await
        .expect("chopsticks");
    let url = node.url().to_string();
    let chain = Subtensor::connect(&url, RpcConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut keys = Vec::new();
    for name in ["owner", "miner"] {
        let (cold, hot) = Wallet::new(dir.path(), name, "default")
            .unwrap()
            .create_if_missing()
            .unwrap();
        chain
            .dev_set_balance(&cold.account(), 100_000 * RAO_PER_TAO)
            .await
            .unwrap();
        keys.push((cold.account(), hot.account()));
    }
    let limit = chain
        .storage("SubtensorModule", "NetworkRateLimit", &[])
        .await
        .unwrap()
        .and_then(|v| v.as_u128())
        .unwrap();
    chain
        .dev_new_blocks(u32::try_from(limit).unwrap() + 1)
        .await
        .unwrap();

    let created = stdout(
        dir.path(),
        &url,
        &["subnet", "create", "--wallet.name", "owner"],
    );
    let netuid: u16 = created.trim().rsplit(' ').next().unwrap().parse().unwrap();
    assert!(chain.subnet_exists(netuid).await.unwrap(), "{created}");
    chain
        .dev_set_storage(json!({"SubtensorModule": {
            "TargetRegistrationsPerInterval": [[[netuid], 10]],
        }}))
        .await
        .unwrap();
    let n = netuid.to_string();
    let registered = stdout(
        dir.path(),
        &url,
        &[
            "subnet",
            "register",
            "--netuid",
            &n,
            "--wallet.name",
            "miner",
        ],
    );
    assert!(registered.contains("as uid 1"), "{registered}");

    // The table: the embedded chain's header and columns, the runtime's values.
    let tempo = chain
        .storage("SubtensorModule", "Tempo", &[Value::u128(netuid.into())])
        .await
        .unwrap()
        .and_then(|v| v.as_u128())
        .unwrap();
    let table = stdout(dir.path(), &url, &["subnet", "metagraph", "--netuid", &n]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].ends_with(&format!(": 2 neurons, tempo {tempo}")),
        "{table}"
    );
    assert!(
        lines[1].trim_start().starts_with("UID") && lines[1].contains("HOTKEY"),
        "{table}"
    );
    let miner_hot = keys[1].1.to_ss58();
    assert!(lines[3].contains(&miner_hot[..12]), "{table}");

    let mg: serde_json::Value = serde_json::from_str(&stdout(
        dir.path(),
        &url,
        &["subnet", "metagraph", "--netuid", &n, "--json"],
    ))
    .unwrap();
    assert_eq!(mg["netuid"], netuid);
    assert_eq!(mg["n"], 2);
    assert_eq!(mg["owner_coldkey"], keys[0].0.to_ss58());
    assert_eq!(
        mg["neurons"][0]["hotkey"],
        keys[0].1.to_ss58(),
        "the owner's hotkey is uid 0"
    );
    assert_eq!(mg["neurons"][1]["hotkey"], miner_hot);
    assert_eq!(mg["neurons"][1]["coldkey"], keys[1].0.to_ss58());
    let ours = chain.metagraph(netuid, false).await.unwrap();
    assert_eq!(
        mg["neurons"][1]["block_at_registration"],
        ours.neurons[1].block_at_registration
    );

    dashboard_shows_the_subnet(dir.path(), &url, netuid, &mg).await;

    let listed: serde_json::Value =
        serde_json::from_str(&stdout(dir.path(), &url, &["subnet", "list", "--json"])).unwrap();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["netuid"] == netuid)
        .expect("the new subnet is listed");
    assert_eq!(
        (row["n"].as_u64(), row["tempo"].as_u64()),
        (Some(2), Some(tempo as u64))
    );
    assert!(
        listed.as_array().unwrap().iter().any(|s| s["netuid"] == 0),
        "root is listed"
    );

    let hp: serde_json::Value = serde_json::from_str(&stdout(
        dir.path(),
        &url,
        &["subnet", "hparams", "--netuid", &n, "--json"],
    ))
    .unwrap();
    assert_eq!(hp["tempo"].as_u64(), Some(tempo as u64));
    assert!(
        hp["burn_increase_ppm"].is_null(),
        "subtensor has no such parameter: {hp}"
    );

    // The wallet on the chain: balance, overview, transfer (exact amounts, fee named).
    let balance_of = |a| {
        let chain = &chain;
        async move { chain.balance(a).await.unwrap() }
    };
    let owner_before = balance_of(&keys[0].0).await;
    let b: serde_json::Value = serde_json::from_str(&stdout(
        dir.path(),
        &url,
        &["wallet", "balance", "--wallet.name", "owner", "--json"],
    ))
    .unwrap();
    assert_eq!(b["free_rao"].as_u64(), Some(owner_before));
    let o: serde_json::Value = serde_json::from_str(&stdout(
        dir.path(),
        &url,
        &["wallet", "overview", "--wallet.name", "miner", "--json"],
    ))
    .unwrap();
    let mine = o["neurons"].as_array().unwrap();
    assert_eq!(mine.len(), 1, "{o}");
    assert_eq!(
        (mine[0]["netuid"].as_u64(), mine[0]["uid"].as_u64()),
        (Some(u64::from(netuid)), Some(1))
    );
    assert_eq!(mine[0]["hotkey"], miner_hot);
    let dest = keys[1].0.to_ss58();
    // A confirmation is never awaited on a stdin that is not a terminal.
    bittensor(
        dir.path(),
        &url,
        &[
            "wallet",
            "transfer",
            "--wallet.name",
            "owner",
            "--dest",
            &dest,
            "--amount",
            "1.5",
        ],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains("--no_prompt"));
    let miner_before = balance_of(&keys[1].0).await;
    let sent = stdout(
        dir.path(),
        &url,
        &[
            "wallet",
            "transfer",
            "--wallet.name",
            "owner",
            "--dest",
            &dest,
            "--amount",
            "1.5",
            "--no_prompt",
        ],
    );
    assert!(sent.contains("fee "), "{sent}");
    assert_eq!(balance_of(&keys[1].0).await, miner_before + 1_500_000_000);
    let owner_after = balance_of(&keys[0].0).await;
    let fee = owner_before - owner_after - 1_500_000_000;
    assert!(fee > 0 && fee < RAO_PER_TAO / 100, "fee {fee}");
    let refused = bittensor(
        dir.path(),
        &url,
        &[
            "wallet",
            "transfer",
            "--wallet.name",
            "owner",
            "--dest",
            &dest,
            "--amount",
            "1000000000",
            "--no_prompt",
        ],
    )
    .assert()
    .failure()
    .get_output()
    .stderr
    .clone();
    let refused = String::from_utf8(refused).unwrap();
    println!("too large a transfer: {refused}");
    assert!(refused.contains("transfer"), "{refused}");
    assert!(
        owner_after - balance_of(&keys[0].0).await < RAO_PER_TAO / 100,
        "at most a fee is lost"
    );

    // Stake is per subnet on subtensor: --netuid is required, and the pool is priced first
    // (raonet keeps a young subnet's alpha reserve at 1 rao).
    bittensor(
        dir.path(),
        &url,
        &["stake", "add", "--wallet.name", "miner", "--amount", "10"],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains("--netuid"));
    let pool = chain
        .storage(
            "SubtensorModule",
            "SubnetTAO",
            &[Value::u128(netuid.into())],
        )
        .await
        .unwrap()
        .and_then(|v| v.as_u128())
        .unwrap();
    chain
        .dev_set_storage(json!({"SubtensorModule": {"SubnetAlphaIn": [[[netuid], pool as u64]]}}))
        .await
        .unwrap();
    let staked = stdout(
        dir.path(),
        &url,
        &[
            "stake",
            "add",
            "--wallet.name",
            "miner",
            "--amount",
            "10",
            "--netuid",
            &n,
        ],
    );
    let alpha = chain.stake(&keys[1].0, &keys[1].1, netuid).await.unwrap();
    assert!(alpha > 0, "{staked}");
    assert!(
        staked.contains(&format!(
            "{}.{:09}",
            alpha / RAO_PER_TAO,
            alpha % RAO_PER_TAO
        )),
        "{staked}"
    );

    // Wrong input and dead endpoints: fast, named, with their exit codes.
    bittensor(
        dir.path(),
        &url,
        &["subnet", "metagraph", "--netuid", "999"],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains("subnet 999 does not exist"));
    bittensor(
        dir.path(),
        &url,
        &["subnet", "faucet", "--wallet.name", "owner"],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains("embedded chain"));
    let dead = format!("ws://127.0.0.1:{}", bt_testnet::free_port().unwrap());
    let started = Instant::now();
    bittensor(dir.path(), &dead, &["subnet", "list"])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(5)
        .stderr(predicate::str::contains(dead.as_str()));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded retries"
    );
    Command::cargo_bin("bittensor")
        .unwrap()
        .args(["subnet", "list", "--subtensor.network", "mainnet"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("finney, test"));
}

/// `bittensor dashboard` over subtensor: its chain panel (`GET /api/state`) lists the subnet's
/// uids with the hotkeys, stake and permits that `subnet metagraph --json` read from the runtime.
async fn dashboard_shows_the_subnet(
    wallets: &Path,
    url: &str,
    netuid: u16,
    metagraph: &serde_json::Value,
) {
    use bt_testnet::process::{ChildProcess, Line};

    let mut cmd = tokio::process::Command::new(assert_cmd::cargo::cargo_bin("bittensor"));
    cmd.env("BT_WALLET_PATH", wallets)
        .env_remove("BT_CHAIN_ENDPOINT")
        .args(["dashboard", "--subtensor.chain_endpoint", url])
        .args(["--netuid", &netuid.to_string()]);
    let mut dashboard = ChildProcess::spawn("dashboard", cmd).unwrap();
    let page = dashboard
        .wait_for_line(0, Duration::from_secs(60), |l: &Line| {
            l.text
                .strip_prefix("Dashboard: ")
                .map(|u| u.trim().trim_end_matches('/').to_string())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = page.trim_start_matches("http://").to_string();
    let want = metagraph["neurons"].as_array().unwrap();
    let chain = bt_testnet::eventually_async_some(
        Duration::from_secs(60),
        Duration::from_millis(250),
        || {
            let addr = addr.clone();
            async move {
                let state = api_state(&addr).await?;
                let chain = state["chain"].clone();
                (chain["uids"].as_array()?.len() == want.len()).then_some(chain)
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("the dashboard never listed the subnet's uids: {e}"));
    assert_eq!(chain["netuid"], netuid);
    assert!(chain["error"].is_null(), "{chain}");
    assert!(chain["block"].as_u64().is_some_and(|b| b > 0), "{chain}");
    for n in want {
        let row = chain["uids"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["uid"] == n["uid"])
            .unwrap_or_else(|| panic!("uid {} missing: {chain}", n["uid"]));
        assert_eq!(row["hotkey"], n["hotkey"], "{chain}");
        assert_eq!(row["validator_permit"], n["validator_permit"], "{chain}");
        let stake_rao = (n["stake"].as_f64().unwrap() * RAO_PER_TAO as f64).round() as u64;
        let shown = row["stake"].as_u64().unwrap();
        assert!(shown.abs_diff(stake_rao) <= 1, "{shown} vs {n}");
    }
}

/// The dashboard's JSON snapshot, or `None` while it cannot be read.
async fn api_state(addr: &str) -> Option<serde_json::Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(b"GET /api/state HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .ok()?;
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out))
        .await
        .ok()?
        .ok()?;
    let (_, body) = out.split_once("\r\n\r\n")?;
    serde_json::from_str(body).ok()
}
