//! The dashboard in a real browser: `bittensor localnet --dashboard` runs three neurons, headless
//! Chromium loads the page it prints, and the test waits (through the DevTools protocol) until
//! the neurons' table lists all three as up, the loss chart has gained points and the metagraph
//! lists their synapses, then saves a screenshot under the test's output directory.
//!
//! Skipped with a message when Chromium is missing, unless `BT_REQUIRE_CHROMIUM=1` (CI).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser {
    pub mod cdp;
}

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use browser::cdp::Cdp;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const NEURONS: usize = 3;

fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var("BT_CHROMIUM").ok().map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/chromium")),
        Some(PathBuf::from("/usr/bin/chromium-browser")),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

fn start_browser(exe: &Path, profile: &Path) -> Child {
    Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium did not start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_lists_every_neuron_and_draws_their_curves_in_chromium() {
    let Some(browser_exe) = chromium() else {
        if std::env::var("BT_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
            panic!("BT_REQUIRE_CHROMIUM=1 but no chromium (apt-get install chromium)");
        }
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
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

    let profile = dir.path().join("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let mut chrome = start_browser(&browser_exe, &profile);
    let port_file = profile.join("DevToolsActivePort");
    let ws_url = bt_testnet::eventually_some(Duration::from_secs(60), || {
        let text = std::fs::read_to_string(&port_file).ok()?;
        let mut it = text.lines();
        let port = it.next()?.trim().to_string();
        let path = it.next()?.trim().to_string();
        Some(format!("ws://127.0.0.1:{port}{path}"))
    })
    .await
    .expect("chromium wrote no DevToolsActivePort");

    let mut cdp = Cdp::connect(&ws_url).await;
    let target = cdp
        .call(None, "Target.createTarget", json!({ "url": url }))
        .await;
    let target_id = target["targetId"].as_str().unwrap().to_string();
    let attached = cdp
        .call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        )
        .await;
    let session = attached["sessionId"].as_str().unwrap().to_string();
    cdp.call(
        Some(&session),
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1400, "height": 1500, "deviceScaleFactor": 1, "mobile": false }),
    )
    .await;

    let cdp = Arc::new(tokio::sync::Mutex::new(cdp));
    let last = Arc::new(std::sync::Mutex::new(Value::Null));
    let waited = bt_testnet::eventually_async_some(
        Duration::from_secs(300),
        Duration::from_millis(500),
        || {
            let cdp = cdp.clone();
            let session = session.clone();
            let last = last.clone();
            async move {
                let result = cdp
                    .lock()
                    .await
                    .call(
                        Some(&session),
                        "Runtime.evaluate",
                        json!({
                            "expression": "typeof btDashProbe === 'function' ? JSON.stringify(btDashProbe()) : 'null'",
                            "returnByValue": true,
                        }),
                    )
                    .await;
                let probe: Value =
                    serde_json::from_str(result["result"]["value"].as_str()?).ok()?;
                *last.lock().unwrap() = probe.clone();
                let n = |k: &str| probe[k].as_u64().unwrap_or(0);
                (n("rows") == NEURONS as u64
                    && n("up") == NEURONS as u64
                    && n("lossPoints") >= 2 * NEURONS as u64
                    && n("synapses") >= NEURONS as u64)
                    .then_some(probe)
            }
        },
    )
    .await;
    let probe = waited.unwrap_or_else(|e| {
        panic!(
            "the page never showed {NEURONS} neurons up with curves ({e}); last probe: {}",
            last.lock().unwrap()
        )
    });

    let shot = cdp
        .lock()
        .await
        .call(
            Some(&session),
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
        )
        .await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&out).unwrap();
    let path = out.join("dashboard.png");
    std::fs::write(&path, &png).unwrap();
    eprintln!("dashboard: {probe}; screenshot: {}", path.display());

    chrome.kill().await.ok();
    if let Some(pid) = localnet.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGINT,
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(60), localnet.wait()).await;
}
