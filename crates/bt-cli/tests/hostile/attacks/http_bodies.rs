//! btauth/1 bodies must be read before their signature can be checked. A flood of large
//! unauthenticated bodies, each held open one byte short, must cost at most the axon's
//! unverified-body budget, not connections × body limit, while v10 callers (verified before
//! their body is read) keep being served.

use std::time::Duration;

use bt_dendrite::http::HttpAuth;
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::target::DummyAxon;

pub const ATTACKERS: usize = 60;
/// Each attacker declares the axon's whole body limit (16 MiB by default).
const BODY: usize = 16 << 20;

pub struct Report {
    pub row: AttackRow,
    /// Attack connections answered 503 before their body was read.
    pub refused: usize,
}

pub async fn run() -> Report {
    let dir = tempfile::tempdir().unwrap();
    let axon = DummyAxon::start(dir.path(), &[]).await;
    let pid = axon.pid();
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    let honest = HonestLoad::start(
        Duration::from_millis(100),
        axon.honest_caller(dir.path(), HttpAuth::V10),
    );

    // Each attacker sends btauth/1 headers (shaped right, signature garbage), then all of a
    // 16 MiB body but its last byte, and holds the connection.
    let head = format!(
        "POST /Dummy HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {BODY}\r\nx-bittensor-version: 1\r\n\
         x-bittensor-hotkey: {hotkey}\r\nx-bittensor-receiver: {hotkey}\r\n\
         x-bittensor-nonce: {}\r\nx-bittensor-signature: 0x{}\r\n\r\n",
        bt_crypto::unix_nanos(),
        "ab".repeat(64),
        addr = axon.addr,
        hotkey = axon.hotkey,
    );
    let chunk = vec![b' '; 1 << 20];
    let mut refused = 0;
    let mut sent_total = 0u64;
    let mut held = Vec::new();
    for _ in 0..ATTACKERS {
        let mut s = TcpStream::connect(&axon.addr).await.unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        sent_total += head.len() as u64;
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
        sent_total += sent as u64;
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
    let served = honest.stop().await;
    let after = ProcStatus::read(pid).unwrap();
    drop(held);
    let row = AttackRow::new(
        format!("HTTP: {ATTACKERS} unverified 16 MiB bodies held open"),
        sent_total,
        &before,
        &after,
        served,
    )
    .outcome(format!("{refused} refused 503 before the body"));
    Report { row, refused }
}
