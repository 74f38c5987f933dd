//! Slowloris on the dashboard: connections that send nothing, or a request line and then one
//! header byte at a time, from several loopback addresses (127.0.0.2…), each reopened as soon
//! as the dashboard closes it. Before the fix the dashboard's server (axum's `serve`) had no
//! header deadline and no connection cap: every such connection stayed open for as long as
//! the attacker liked, one descriptor and one task each, until the process ran out of
//! descriptors and refused everyone. Now an address holds at most its share of connections
//! (the rest are closed at once) and each must send its headers within the header timeout.
//!
//! The honest client reads `/api/state` from 127.0.0.1 throughout.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use bt_testnet::process::{ChildProcess, Line, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::target::bittensor;

pub const ADDRESSES: u8 = 4;
/// Stalled connections each address keeps trying to hold.
pub const CONNECTIONS_PER_ADDRESS: usize = 100;
/// The dashboard's `--dashboard_max_connections_per_ip` and `--dashboard_header_timeout`.
pub const PER_IP: usize = 16;
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the attack is held: several header deadlines.
pub const HOLD: Duration = Duration::from_secs(9);
/// An attacker reopens a closed connection after this (a tight loop would measure the
/// attacker's CPU, not the dashboard).
const REOPEN_AFTER: Duration = Duration::from_millis(250);
/// A trickling connection sends one header byte this often.
const TRICKLE_EVERY: Duration = Duration::from_millis(300);

pub struct Report {
    pub row: AttackRow,
    /// Connections the attacker opened in all.
    pub opened: u64,
    /// Of those, closed by the dashboard while the attack was held.
    pub closed_by_dashboard: u64,
    /// The longest any attacking connection stayed open before the dashboard closed it.
    pub longest_held: Duration,
    /// The dashboard's open descriptors before the attack and the most seen during it.
    pub fds_before: u64,
    pub fds_peak: u64,
}

/// A `bittensor dashboard` process and its address.
struct Dashboard {
    process: ChildProcess,
    addr: SocketAddr,
}

impl Dashboard {
    async fn start() -> Self {
        let mut cmd = bittensor();
        // A neuron that is not there: the dashboard needs a source, and polling a closed port
        // costs it nothing.
        cmd.args(["dashboard", "--neuron", "127.0.0.1:9"]).args([
            "--dashboard_max_connections_per_ip",
            &PER_IP.to_string(),
            "--dashboard_header_timeout",
            &HEADER_TIMEOUT.as_secs_f64().to_string(),
        ]);
        let mut process = ChildProcess::spawn("dashboard", cmd).unwrap();
        let url = process
            .wait_for_line(0, Duration::from_secs(60), |l: &Line| {
                (l.stream == Stream::Stdout)
                    .then(|| l.text.strip_prefix("Dashboard: http://"))
                    .flatten()
                    .map(|rest| rest.trim().trim_end_matches('/').to_string())
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Self {
            process,
            addr: url.parse().unwrap(),
        }
    }

    fn pid(&self) -> u32 {
        self.process.id().unwrap()
    }
}

/// `GET /api/state` from 127.0.0.1, answered 200 with a JSON object within 2 s.
async fn honest_state(addr: SocketAddr) -> bool {
    let call = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /api/state HTTP/1.1\r\nhost: dashboard\r\nconnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut answer = Vec::new();
        s.take(16 << 20).read_to_end(&mut answer).await.ok()?;
        let text = String::from_utf8(answer).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        let json: serde_json::Value = serde_json::from_str(body).ok()?;
        Some(head.starts_with("HTTP/1.1 200") && json.is_object())
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), call).await,
        Ok(Some(true))
    )
}

#[derive(Default)]
struct Tally {
    opened: AtomicU64,
    closed: AtomicU64,
    longest_ms: AtomicU64,
    bytes: AtomicU64,
}

/// One attacking slot: connects from `from`, stalls (silent, or trickling headers), waits for
/// the dashboard to close the connection, and reopens until `stop`.
async fn stall_loop(
    from: IpAddr,
    to: SocketAddr,
    trickle: bool,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(socket) = TcpSocket::new_v4() else {
            return;
        };
        if socket.bind(SocketAddr::new(from, 0)).is_err() {
            return;
        }
        let Ok(mut s) = socket.connect(to).await else {
            tokio::time::sleep(REOPEN_AFTER).await;
            continue;
        };
        tally.opened.fetch_add(1, Ordering::Relaxed);
        let opened = Instant::now();
        if trickle {
            let line = b"GET /api/state HTTP/1.1\r\nx-slow: ";
            if s.write_all(line).await.is_ok() {
                tally.bytes.fetch_add(line.len() as u64, Ordering::Relaxed);
            }
        }
        let closed = wait_closed(&mut s, trickle, &stop, &tally).await;
        if closed {
            tally.closed.fetch_add(1, Ordering::Relaxed);
            let ms = u64::try_from(opened.elapsed().as_millis()).unwrap_or(u64::MAX);
            tally.longest_ms.fetch_max(ms, Ordering::Relaxed);
        }
        tokio::time::sleep(REOPEN_AFTER).await;
    }
}

/// True once the dashboard has closed `s` (EOF, reset, or a failed write); false when the
/// attack ends first.
async fn wait_closed(s: &mut TcpStream, trickle: bool, stop: &AtomicBool, tally: &Tally) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        match tokio::time::timeout(TRICKLE_EVERY, s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) if trickle => {
                if s.write_all(b"a").await.is_err() {
                    return true;
                }
                tally.bytes.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {}
        }
    }
}

pub async fn run() -> Report {
    let dashboard = Dashboard::start().await;
    let pid = dashboard.pid();
    let addr = dashboard.addr;
    assert!(honest_state(addr).await, "the dashboard does not answer");
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    let honest = HonestLoad::start(Duration::from_millis(200), move || honest_state(addr));

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let mut attackers = Vec::new();
    for a in 0..ADDRESSES {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + a));
        for i in 0..CONNECTIONS_PER_ADDRESS {
            attackers.push(tokio::spawn(stall_loop(
                from,
                addr,
                i % 2 == 1,
                stop.clone(),
                tally.clone(),
            )));
        }
    }
    // The dashboard's descriptors, sampled while the attack is held.
    let mut fds_peak = before.fds;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while started.elapsed() < HOLD {
        tick.tick().await;
        if let Ok(now) = ProcStatus::read(pid) {
            fds_peak = fds_peak.max(now.fds);
        }
    }
    let served = honest.stop().await;
    let after = ProcStatus::read(pid).unwrap();
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        let _ = a.await;
    }
    let opened = tally.opened.load(Ordering::Relaxed);
    let closed_by_dashboard = tally.closed.load(Ordering::Relaxed);
    let longest_held = Duration::from_millis(tally.longest_ms.load(Ordering::Relaxed));
    let row = AttackRow::new(
        format!(
            "dashboard slowloris: {} connections held open from {ADDRESSES} addresses \
             (silent or trickling headers), reopened when closed, {}s",
            usize::from(ADDRESSES) * CONNECTIONS_PER_ADDRESS,
            HOLD.as_secs()
        ),
        tally.bytes.load(Ordering::Relaxed),
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "{closed_by_dashboard} of {opened} closed by the dashboard, none open past {:.1} s; \
         descriptors {} → at most {fds_peak}",
        longest_held.as_secs_f64(),
        before.fds
    ));
    Report {
        row,
        opened,
        closed_by_dashboard,
        longest_held,
        fds_before: before.fds,
        fds_peak,
    }
}
