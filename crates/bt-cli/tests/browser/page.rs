//! Headless Chromium with one page open on the dashboard, read through the DevTools protocol:
//! what both browser tests share.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::cdp::Cdp;

/// The Chromium to drive, or `None` (after saying so) when the test should be skipped.
/// Panics instead when `BT_REQUIRE_CHROMIUM=1` (CI) and none is installed.
pub fn chromium_or_skip() -> Option<PathBuf> {
    let candidates = [
        std::env::var("BT_CHROMIUM").ok().map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/chromium")),
        Some(PathBuf::from("/usr/bin/chromium-browser")),
    ];
    let found = candidates.into_iter().flatten().find(|p| p.exists());
    if found.is_none() {
        if std::env::var("BT_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
            panic!("BT_REQUIRE_CHROMIUM=1 but no chromium (apt-get install chromium)");
        }
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
    }
    found
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

/// One page of a headless Chromium (killed when dropped).
pub struct Page {
    cdp: Arc<tokio::sync::Mutex<Cdp>>,
    session: String,
    _chrome: Child,
}

impl Page {
    /// Starts Chromium with its profile under `dir` and opens `url` in a 1400×1500 page.
    pub async fn open(exe: &Path, dir: &Path, url: &str) -> Page {
        let profile = dir.join("chromium-profile");
        std::fs::create_dir_all(&profile).unwrap();
        let chrome = start_browser(exe, &profile);
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
        Page {
            cdp: Arc::new(tokio::sync::Mutex::new(cdp)),
            session,
            _chrome: chrome,
        }
    }

    /// What the page's `btDashProbe()` reports now (`None` before the script has loaded).
    pub async fn probe(&self) -> Option<Value> {
        let result = self
            .cdp
            .lock()
            .await
            .call(
                Some(&self.session),
                "Runtime.evaluate",
                json!({
                    "expression": "typeof btDashProbe === 'function' ? JSON.stringify(btDashProbe()) : 'null'",
                    "returnByValue": true,
                }),
            )
            .await;
        serde_json::from_str(result["result"]["value"].as_str()?).ok()
    }

    /// Polls the probe until `done` accepts it (returning what `done` made of it), for at most
    /// `within`; panics with the last probe otherwise.
    pub async fn wait_for<T>(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(&Value) -> Option<T>,
    ) -> T {
        let last = std::sync::Mutex::new(Value::Null);
        let (last_ref, done) = (&last, &done);
        let waited =
            bt_testnet::eventually_async_some(within, Duration::from_millis(500), || async move {
                let probe = self.probe().await?;
                let out = done(&probe);
                *last_ref.lock().unwrap() = probe;
                out
            })
            .await;
        waited.unwrap_or_else(|e| {
            panic!(
                "the page never showed {what} ({e}); last probe: {}",
                last.lock().unwrap()
            )
        })
    }

    /// Saves a full-page screenshot as `<name>.png` under the test's output directory.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let shot = self
            .cdp
            .lock()
            .await
            .call(
                Some(&self.session),
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
        let path = out.join(format!("{name}.png"));
        std::fs::write(&path, &png).unwrap();
        path
    }
}
