//! An attacker against a real `bittensor synapse serve` process, with the axon's peak RSS
//! measured: btauth/1 bodies are read before their signature can be checked, so a flood of
//! large unauthenticated bodies held open must cost at most the configured budget, not
//! connections × body limit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

mod common;

use bt_testnet::process::ChildProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ATTACKERS: usize = 60;
/// Each attacker declares the axon's whole body limit (16 MiB by default).
const BODY: usize = 16 << 20;

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_bodies_are_bounded_by_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().to_str().unwrap();
    let bin = env!("CARGO_BIN_EXE_bittensor");
    let made = tokio::process::Command::new(bin)
        .args([
            "wallet",
            "new",
            "--wallet.path",
            w,
            "--wallet.name",
            "m",
            "--no_password",
        ])
        .output()
        .await
        .unwrap();
    assert!(made.status.success());
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(["synapse", "serve", "--name", "Dummy", "--port", "0"])
        .args(["--wallet.path", w, "--wallet.name", "m"]);
    let mut axon = ChildProcess::spawn("axon", cmd).unwrap();
    let (addr, hotkey) = common::synapse_serving(&mut axon, Duration::from_secs(60)).await;
    let pid = axon.id().unwrap();
    let before = peak_rss_kib(pid);

    // Each attacker sends btauth/1 headers (shaped right, signature garbage), then all of a
    // 16 MiB body but its last byte, and holds the connection.
    let head = format!(
        "POST /Dummy HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {BODY}\r\nx-bittensor-version: 1\r\n\
         x-bittensor-hotkey: {hotkey}\r\nx-bittensor-receiver: {hotkey}\r\n\
         x-bittensor-nonce: {}\r\nx-bittensor-signature: 0x{}\r\n\r\n",
        bt_crypto::unix_nanos(),
        "ab".repeat(64)
    );
    let chunk = vec![b' '; 1 << 20];
    let mut refused = 0;
    let mut held = Vec::new();
    for _ in 0..ATTACKERS {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        let mut sent = 0;
        let mut answered = false;
        while sent + chunk.len() < BODY {
            match tokio::time::timeout(Duration::from_secs(10), s.write_all(&chunk)).await {
                // The axon answered and closed: it refused before reading the body.
                Ok(Err(_)) => {
                    answered = true;
                    break;
                }
                Ok(Ok(())) => sent += chunk.len(),
                Err(_) => panic!("the axon neither reads this body nor refuses it"),
            }
        }
        // An immediate answer means the axon refused to buffer this body.
        let mut buf = [0u8; 512];
        if !answered
            && let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await
        {
            answered = n > 0 && buf.starts_with(b"HTTP/1.1 503");
        }
        if answered {
            refused += 1;
        }
        held.push(s);
    }
    let peak_mib = (peak_rss_kib(pid) - before) / 1024;
    eprintln!(
        "{ATTACKERS} attackers × {} MiB declared: {refused} refused, axon peak RSS +{peak_mib} MiB",
        BODY >> 20
    );
    // Without the budget the axon would hold ATTACKERS × 16 MiB (960 MiB); with it, one
    // address holds at most 16 MiB (64 MiB for all addresses), plus allocator slack.
    assert!(peak_mib < 100, "axon peak RSS grew by {peak_mib} MiB");
    assert!(
        refused >= ATTACKERS - 8,
        "only {refused} of {ATTACKERS} refused"
    );
    drop(held);
}
