//! One identity per neuron, with real `bittensor` processes: a key held by a running neuron is
//! refused to a second one (exit code 7, a message naming `--neuron_key`, nothing written), and
//! two neurons started from one directory without key flags (the README tour) get two keys and
//! see each other as `nP|nS 1|2`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bt_crypto::NeuronKey;
use bt_neuron::report::{Event, Ready};
use bt_testnet::process::{ChildProcess, Line};

const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// A refused neuron stops before it loads anything; this only bounds a hang.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(60);
/// Both MNIST neurons train while they find each other; two of them share two cores.
const MEET_TIMEOUT: Duration = Duration::from_secs(300);
/// The documented exit code for a key in use (docs/cli.md).
const KEY_IN_USE: i32 = 7;

/// `bittensor` in `cwd`, without key settings from the environment of whoever runs the tests.
fn bittensor(cwd: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_bittensor"));
    cmd.current_dir(cwd)
        .env_remove("BT_NEURON_KEY")
        .env_remove("BT_NEURON_NAME")
        .env_remove("BT_CONFIG")
        .env(
            "BT_MNIST_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"),
        )
        .env("NO_COLOR", "1");
    cmd
}

async fn ready(process: &mut ChildProcess) -> Ready {
    common::neuron_ready(process, READY_TIMEOUT).await
}

async fn start(name: &str, cmd: tokio::process::Command) -> (ChildProcess, Ready) {
    let mut process = ChildProcess::spawn(name, cmd).unwrap();
    let r = ready(&mut process).await;
    (process, r)
}

/// Every file and directory under `root`, with contents and modification time.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (Option<Vec<u8>>, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::metadata(&path).unwrap();
            let contents = if meta.is_dir() {
                todo.push(path.clone());
                None
            } else {
                Some(std::fs::read(&path).unwrap())
            };
            out.insert(
                path.strip_prefix(root).unwrap().to_path_buf(),
                (contents, meta.modified().unwrap()),
            );
        }
    }
    out
}

/// Runs a neuron that must be refused; returns its stdout and stderr.
async fn refused(mut cmd: tokio::process::Command) -> (String, String) {
    cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(REFUSAL_TIMEOUT, cmd.output())
        .await
        .expect("the second neuron neither ran nor stopped")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(KEY_IN_USE),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_neuron_with_a_key_in_use_exits_7_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let key = root.join("keys/neuron.key");
    for d in ["first", "second", "named"] {
        std::fs::create_dir(root.join(d)).unwrap();
    }
    let mut first_cmd = bittensor(&root.join("first"));
    first_cmd
        .args(["neuron", "echo", "--remote_ip", "127.0.0.1", "--neuron_key"])
        .arg(&key);
    let (mut first, first_ready) = start("first", first_cmd).await;
    let key_bytes = std::fs::read(&key).unwrap();
    let before = snapshot(root);

    // The same key, with a log directory and a checkpoint path it would write if it ran.
    let second_dir = root.join("second");
    let mut second = bittensor(&second_dir);
    second
        .args([
            "neuron",
            "mnist",
            "--remote_ip",
            "127.0.0.1",
            "--max_steps",
            "1",
        ])
        .arg("--neuron_key")
        .arg(&key)
        .arg("--log_dir")
        .arg(second_dir.join("logs"))
        .arg("--model_path")
        .arg(second_dir.join("model.safetensors"));
    let (stdout, stderr) = refused(second).await;
    assert!(stderr.contains("--neuron_key"), "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(std::fs::read(&key).unwrap(), key_bytes);
    assert_eq!(snapshot(root), before, "the refused neuron wrote something");

    // A name is a key too: the second neuron of that name is told about both ways to choose.
    let named = root.join("named");
    let mut alpha = bittensor(&named);
    alpha.args([
        "neuron",
        "echo",
        "--remote_ip",
        "127.0.0.1",
        "--name",
        "alpha",
    ]);
    let (_alpha, _) = start("alpha", alpha).await;
    assert!(named.join("neurons/alpha/neuron.key").exists());
    let before = snapshot(root);
    let mut again = bittensor(&named);
    again.args(["neuron", "echo", "--name", "alpha"]);
    let (_, stderr) = refused(again).await;
    assert!(
        stderr.contains("--name") && stderr.contains("--neuron_key"),
        "{stderr}"
    );
    assert_eq!(snapshot(root), before, "the refused neuron wrote something");

    // The lock dies with its holder, even one killed without warning: the key is free again,
    // and still the same key.
    first.kill().await.unwrap();
    let mut third = bittensor(&root.join("first"));
    third
        .args(["neuron", "echo", "--remote_ip", "127.0.0.1", "--neuron_key"])
        .arg(&key);
    let (_third, third_ready) = start("third", third).await;
    assert_eq!(third_ready.neuron_key, first_ready.neuron_key);
    assert_eq!(std::fs::read(&key).unwrap(), key_bytes);
}

/// The README tour's first two lines, pasted into two shells in one directory. Ports are
/// picked free and the address is loopback (the tour uses 8120 and the machine's address);
/// `--gossip_interval` shortens the wait and `--epochs` keeps both training until they meet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_neurons_from_one_directory_are_two_identities_that_meet() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let port = bt_testnet::free_port().unwrap().to_string();
    let common = ["--remote_ip", "127.0.0.1", "--gossip_interval", "0.5"];
    let mut first = bittensor(cwd);
    first
        .args(["neuron", "mnist", "--metagraph_port", &port])
        .args(common)
        .args(["--epochs", "100"]);
    let (mut first, first_ready) = start("first", first).await;
    let mut second = bittensor(cwd);
    second
        .args([
            "neuron",
            "mnist",
            "--bootstrap",
            &format!("127.0.0.1:{port}"),
        ])
        .args(common)
        .args(["--epochs", "100"]);
    let (mut second, second_ready) = start("second", second).await;

    assert_ne!(first_ready.neuron_key, second_ready.neuron_key);
    assert_ne!(first_ready.synapse_keys, second_ready.synapse_keys);
    for (n, r) in [(0, &first_ready), (1, &second_ready)] {
        let path = cwd.join(format!("neurons/neuron-{n}/neuron.key"));
        assert_eq!(NeuronKey::load(&path).unwrap().public_hex(), r.neuron_key);
    }

    // Both see one peer and two synapses (their own and the other's) in their training lines.
    for process in [&mut first, &mut second] {
        process
            .wait_for_line(0, MEET_TIMEOUT, |l: &Line| {
                match bt_neuron::report::parse(&l.text) {
                    Some(Event::Train(t)) if (t.peers, t.synapses) == (1, 2) => Some(()),
                    _ => None,
                }
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    // Started again from the same directory, a neuron is who the first one was.
    first.kill().await.unwrap();
    second.kill().await.unwrap();
    let mut again = bittensor(cwd);
    again.args(["neuron", "echo", "--remote_ip", "127.0.0.1"]);
    let (_again, again_ready) = start("again", again).await;
    assert_eq!(again_ready.neuron_key, first_ready.neuron_key);
}
