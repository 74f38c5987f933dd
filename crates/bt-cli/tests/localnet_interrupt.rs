//! Ctrl-C on `bittensor localnet`: every neuron stops cleanly, keeps its checkpoint, and the
//! supervisor exits with the documented code 130 after printing its summary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn ctrl_c_stops_every_neuron_and_keeps_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("bittensor"))
        .args(["localnet", "--neurons", "2", "--plain"])
        .args([
            "--max_steps",
            "1000000",
            "--gossip_interval",
            "0.5",
            "--dir",
        ])
        .arg(dir.path())
        .env(
            "BT_MNIST_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // Lines arrive on a thread so the test can give up at a deadline instead of hanging.
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut log = String::new();
    let mut trained = [false; 2];
    let deadline = Instant::now() + Duration::from_secs(300);
    while !trained.iter().all(|t| *t) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no Train line from both neurons ({e}); log:\n{log}"));
        if let Some((node, rest)) = line.strip_prefix("[n").and_then(|l| l.split_once("] "))
            && let Some(bt_neuron::report::Event::Train(_)) = bt_neuron::report::parse(rest)
        {
            trained[node.parse::<usize>().unwrap()] = true;
        }
        log.push_str(&line);
        log.push('\n');
    }

    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "localnet ignored Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    reader.join().unwrap();
    log.extend(rx.try_iter().map(|l| l + "\n"));

    assert_eq!(status.code(), Some(130), "log:\n{log}");
    for node in 0..2 {
        let checkpoint = dir.path().join(format!("node{node}/model.safetensors"));
        assert!(checkpoint.exists(), "no {checkpoint:?}; log:\n{log}");
    }
    assert!(
        log.contains("checkpoint"),
        "the summary names the checkpoints:\n{log}"
    );
}
