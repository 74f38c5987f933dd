//! Interop with the real Python SDK 10.5, both ways, with values asserted:
//! - the SDK's Dendrite calls our axon (`bittensor synapse serve`) for Dummy, Prompting and
//!   TensorForward, and through its high-level `dendrite(axons=[…])`;
//! - our dendrite (`bittensor synapse query`, and the library for the tensor synapse) calls the
//!   SDK's Axon;
//! - keys cross over: our axon and dendrite use a hotkey made by the Python `bittensor-wallet`,
//!   the SDK's axon and dendrite one made by `bittensor wallet new`;
//! - the SDK axon's holes: requests it accepts and ours refuses.
//!
//! Needs `BT_SDK_PYTHON`: a Python with `bittensor==10.5.0` (`.ci/run` makes one). Without it
//! the test says so and passes, unless `BT_REQUIRE_SDK=1` (set by CI), where it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bt_dendrite::http::{AxonTarget, HttpDendrite, HttpDendriteConfig};
use bt_http::builtin::TensorForward;
use bt_http::sdk_tensor::SdkTensor;
use bt_tensor::{Limits, Modality, Tensor};
use bt_testnet::process::{ChildProcess, Line};
use serde_json::Value;

const START_TIMEOUT: Duration = Duration::from_secs(120);

fn sdk_python() -> Option<PathBuf> {
    match std::env::var_os("BT_SDK_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("BT_REQUIRE_SDK").as_deref() == Ok("1") => {
            panic!("BT_REQUIRE_SDK=1 but BT_SDK_PYTHON is not set")
        }
        None => {
            eprintln!("skipped: set BT_SDK_PYTHON to a python with bittensor==10.5.0");
            None
        }
    }
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

fn python(py: &Path, script: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(py);
    cmd.current_dir(scripts())
        .arg(script)
        .env("PYTHONUNBUFFERED", "1");
    cmd
}

fn bittensor() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_bittensor"));
    cmd.env_remove("BT_WALLET_PATH")
        .env_remove("BT_WALLET_NAME")
        .env_remove("BT_WALLET_HOTKEY")
        .env("NO_COLOR", "1");
    cmd
}

/// Run to completion; stdout's JSON lines.
async fn json_lines(mut cmd: tokio::process::Command) -> Vec<Value> {
    let out = tokio::time::timeout(START_TIMEOUT, cmd.output())
        .await
        .expect("command timed out")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        !lines.is_empty(),
        "no JSON output; status {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    lines
}

/// `bittensor synapse query …`: the whole stdout is one JSON document.
async fn query(args: &[&str]) -> Value {
    let out = bittensor()
        .args(["synapse", "query"])
        .args(args)
        .output()
        .await
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "query output is not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

async fn our_axon(wallet_dir: &Path, extra: &[&str]) -> (ChildProcess, String, String) {
    let mut cmd = bittensor();
    cmd.args([
        "synapse",
        "serve",
        "--name",
        "Dummy,Prompting,TensorForward,StreamPrompting",
        "--port",
        "0",
    ])
    .args([
        "--wallet.path",
        wallet_dir.to_str().unwrap(),
        "--wallet.name",
        "py",
    ])
    .args(extra);
    let mut p = ChildProcess::spawn("our axon", cmd).unwrap();
    let (addr, hotkey) = common::synapse_serving(&mut p, START_TIMEOUT).await;
    (p, addr, hotkey)
}

fn by_case(lines: &[Value], key: &str, name: &str) -> Value {
    lines
        .iter()
        .find(|l| l[key] == name)
        .unwrap_or_else(|| panic!("no {key} {name} in {lines:?}"))
        .clone()
}

fn statuses(case: &Value) -> Vec<i64> {
    case["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_and_ours_call_each_other() {
    let Some(py) = sdk_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let wallets = dir.path();
    let w = wallets.to_str().unwrap();

    // A Python-made wallet for our side, a Rust-made one for the SDK's side.
    let made = python(&py, "-c")
        .arg(format!(
            "from sdk_common import wallet\nw = wallet({w:?}, 'py')\n\
             w.create_new_coldkey(use_password=False, overwrite=True, suppress=True)\n\
             w.create_new_hotkey(use_password=False, overwrite=True, suppress=True)\n\
             print(w.hotkey.ss58_address)"
        ))
        .output()
        .await
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let made = bittensor()
        .args([
            "wallet",
            "new",
            "--wallet.path",
            w,
            "--wallet.name",
            "rs",
            "--no_password",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let (_ours, our_addr, our_hotkey) = our_axon(wallets, &[]).await;
    let py_port = bt_testnet::free_port().unwrap().to_string();
    let mut sdk_axon = python(&py, "sdk_axon.py");
    sdk_axon.args([
        "--wallet_path",
        w,
        "--wallet_name",
        "rs",
        "--port",
        &py_port,
    ]);
    let mut sdk_axon = ChildProcess::spawn("SDK axon", sdk_axon).unwrap();
    let sdk_hotkey = sdk_axon
        .wait_for_line(0, START_TIMEOUT, |l: &Line| {
            l.text
                .strip_prefix("ready ")?
                .split_once(' ')
                .map(|(_, hk)| hk.to_string())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sdk_addr = format!("127.0.0.1:{py_port}");

    // The SDK's dendrite (Rust-made hotkey) → our axon (Python-made hotkey).
    let mut cmd = python(&py, "sdk_dendrite.py");
    cmd.args([
        "--wallet_path",
        w,
        "--wallet_name",
        "rs",
        "--endpoint",
        &our_addr,
    ])
    .args(["--axon_hotkey", &our_hotkey]);
    let lines = json_lines(cmd).await;
    let dummy = by_case(&lines, "name", "Dummy");
    assert_eq!(
        (dummy["status_code"].as_i64(), dummy["value"].as_i64()),
        (Some(200), Some(42))
    );
    let prompting = by_case(&lines, "name", "Prompting");
    assert_eq!(prompting["value"], "user: hi");
    let tensor = by_case(&lines, "name", "TensorForward");
    assert_eq!(tensor["status_code"], 200);
    assert_eq!(tensor["value"]["dtype"], "float32");
    assert_eq!(tensor["value"]["shape"], serde_json::json!([2, 3]));
    assert_eq!(
        tensor["value"]["values"],
        serde_json::json!([3.0, -4.0, 6.0, 8.0, 10.0, 12.5])
    );
    assert_eq!(
        by_case(&lines, "name", "forward")["value"],
        serde_json::json!([10, 10])
    );

    // Our dendrite (Python-made hotkey) → the SDK's axon (Rust-made hotkey), from the CLI.
    let wallet = ["--wallet.path", w, "--wallet.name", "py"];
    let base = [
        "--endpoint",
        sdk_addr.as_str(),
        "--axon_hotkey",
        sdk_hotkey.as_str(),
    ];
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--name", "Dummy", "--body", r#"{"dummy_input": 21}"#]);
    args.extend(wallet);
    let answer = query(&args).await;
    assert_eq!(answer["status_code"], 200, "{answer}");
    assert_eq!(answer["synapse"]["dummy_output"], 42);
    assert_eq!(
        answer["response_signed"],
        Value::Null,
        "SDK axons do not sign answers"
    );
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--name", "Prompting", "--hash_fields", "messages"]);
    args.extend(["--body", r#"{"roles":["user"],"messages":["hello","hi"]}"#]);
    args.extend(wallet);
    let answer = query(&args).await;
    assert_eq!(answer["status_code"], 200, "{answer}");
    assert_eq!(answer["synapse"]["completion"], "py: hi");
    // A streaming synapse from the SDK's axon, chunk by chunk.
    let mut args: Vec<&str> = base.to_vec();
    args.extend([
        "--name",
        "StreamPrompting",
        "--hash_fields",
        "messages",
        "--stream",
    ]);
    args.extend(["--body", r#"{"roles":["user"],"messages":["hi"]}"#]);
    args.extend(wallet);
    let out = bittensor()
        .args(["synapse", "query"])
        .args(&args)
        .output()
        .await
        .unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (last, chunks) = lines.split_last().expect("no output from query --stream");
    assert_eq!(last["status_code"], 200, "{last}");
    assert_eq!(last["text"], "py: hi streamed");
    let joined: String = chunks
        .iter()
        .map(|c| c["chunk"].as_str().unwrap())
        .collect();
    assert_eq!(joined, "py: hi streamed");
    // A hash field that does not match what the SDK's class hashes is refused by it.
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--name", "Prompting", "--hash_fields", "roles"]);
    args.extend(["--body", r#"{"roles":["user"],"messages":["hi"]}"#]);
    args.extend(wallet);
    let answer = query(&args).await;
    assert_ne!(answer["status_code"], 200, "{answer}");

    // The tensor synapse through the library: bt_tensor in, bt_tensor out.
    let hotkey = bt_crypto::wallet::Wallet::new(wallets, "py", "default")
        .unwrap()
        .hotkey()
        .unwrap();
    let dendrite = HttpDendrite::new(Arc::new(hotkey), HttpDendriteConfig::default());
    let x = Tensor::from_f32(&[2, 2], &[1.0, 2.0, -3.0, 0.5], Modality::Tensor).unwrap();
    let synapse = TensorForward {
        inputs: Some(SdkTensor::from_tensor(&x).unwrap()),
        outputs: None,
    };
    let target = AxonTarget {
        addr: sdk_addr.parse().unwrap(),
        hotkey: bt_crypto::wallet::AccountId::from_ss58(&sdk_hotkey).unwrap(),
    };
    let (answer, outcome) = dendrite
        .call(&target, synapse, Duration::from_secs(10))
        .await;
    assert!(outcome.is_success(), "{outcome:?}");
    let y = answer.outputs.unwrap().to_tensor(&Limits::DEFAULT).unwrap();
    assert_eq!(y.shape(), &[2, 2]);
    assert_eq!(y.to_f32_vec().unwrap(), vec![2.0, 4.0, -6.0, 1.0]);
    // Sessions are on by default, but the SDK's axon never advertises them: our dendrite never
    // offers one, and every call stays a v10-signed request the SDK checks.
    for i in 0..4 {
        let synapse = bt_http::builtin::Dummy {
            dummy_input: i,
            dummy_output: None,
        };
        let (answer, outcome) = dendrite
            .call(&target, synapse, Duration::from_secs(10))
            .await;
        assert!(outcome.is_success() && !outcome.session, "{outcome:?}");
        assert_eq!(answer.dummy_output, Some(2 * i));
    }

    // The holes: the same forged requests to the SDK's axon and to ours.
    let holes = |addr: &str, hotkey: &str| {
        let mut cmd = python(&py, "sdk_holes.py");
        cmd.args([
            "--wallet_path",
            w,
            "--wallet_name",
            "rs",
            "--endpoint",
            addr,
        ])
        .args(["--axon_hotkey", hotkey]);
        cmd
    };
    let theirs = json_lines(holes(&sdk_addr, &sdk_hotkey)).await;
    let ours = json_lines(holes(&our_addr, &our_hotkey)).await;
    // A request signed an hour ago replays once its version header is stripped...
    assert_eq!(
        statuses(&by_case(&theirs, "case", "stale_without_version")),
        [200]
    );
    assert_eq!(
        statuses(&by_case(&ours, "case", "stale_without_version")),
        [401]
    );
    // ...and two requests of one dendrite arriving out of nonce order lose the second.
    assert_eq!(
        statuses(&by_case(&theirs, "case", "out_of_order")),
        [200, 401]
    );
    assert_eq!(
        statuses(&by_case(&ours, "case", "out_of_order")),
        [200, 200]
    );
    // A forged body under btauth/1 (which binds the raw body): the SDK ignores the signature.
    let swapped = by_case(&theirs, "case", "body_swap_btauth");
    assert_eq!(statuses(&swapped), [200]);
    assert_eq!(swapped["results"][0]["dummy_output"], 1000);
    assert_eq!(statuses(&by_case(&ours, "case", "body_swap_btauth")), [401]);
    // v10 alone signs no field of Dummy: both answer the forged input, unless our axon is told
    // to accept only btauth/1.
    assert_eq!(statuses(&by_case(&theirs, "case", "body_swap")), [200]);
    assert_eq!(statuses(&by_case(&ours, "case", "body_swap")), [200]);
    let (_strict, strict_addr, strict_hotkey) = our_axon(wallets, &["--require_btauth"]).await;
    let strict = json_lines(holes(&strict_addr, &strict_hotkey)).await;
    assert_eq!(statuses(&by_case(&strict, "case", "body_swap")), [401]);
    assert_eq!(
        statuses(&by_case(&strict, "case", "body_swap_btauth")),
        [401]
    );
    sdk_axon.kill().await.unwrap();
}
