//! A node that is down, slow, or answers garbage: each attack is a real process
//! (`tests/hostile_node.py`) on 127.0.0.1, and `Subtensor::connect` must fail within a time
//! derived from its `RpcConfig`, with the right error kind, naming the endpoint (or the item it
//! could not decode), and, for oversized answers, without its peak memory growing past about
//! twice the response cap. After each failure the node must see its connection closed: a client
//! that gave up must not keep a socket to an attacker open.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bt_subtensor::{RpcConfig, Subtensor, SubtensorError};

/// The huge attacks measure this process's peak RSS, so they run alone; the others share.
static GATE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

const CAP: u32 = 16 << 20;

fn config() -> RpcConfig {
    RpcConfig {
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        connect_attempts: 2,
        max_response_bytes: CAP,
        ..RpcConfig::default()
    }
}

/// The longest `Rpc::connect` may take: every attempt times out, with the backoff between
/// attempts (250 ms << attempt).
fn connect_bound(c: &RpcConfig) -> Duration {
    let backoff: Duration = (1..c.connect_attempts)
        .map(|a| Duration::from_millis(250 << a.min(4)))
        .sum();
    c.connect_timeout * c.connect_attempts + backoff
}

fn python() -> bool {
    match Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => true,
        _ => {
            eprintln!("SKIPPED: python3 is not on this machine, the hostile nodes cannot run");
            false
        }
    }
}

/// A running hostile node; killed when dropped (and it exits by itself when its stdin closes).
struct Hostile {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Hostile {
    fn start(mode: &str) -> Self {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/hostile_node.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(mode)
            .arg(CAP.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("hostile node {mode} printed {line:?}, not a port"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, port, log }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// Waits until the node has seen `n` connections closed.
    async fn closed(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let seen = self
                .log
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.starts_with("closed"))
                .count();
            if seen >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the client left {} of {n} connections to the attacker open; node log: {:?}",
                n - seen,
                self.log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects to `node` with `config`, which must fail within `bound`; the error and the time.
async fn attack(node: &Hostile, c: RpcConfig, bound: Duration) -> (SubtensorError, Duration) {
    let url = node.url();
    let start = Instant::now();
    // The outer timeout only turns a hang into a failure message; the bound is asserted below.
    let result = tokio::time::timeout(bound * 3, Subtensor::connect(&url, c)).await;
    let took = start.elapsed();
    let err = match result {
        Err(_) => panic!("{url}: connect hung for {took:?} (bound {bound:?})"),
        Ok(Ok(_)) => panic!("{url}: connect succeeded against a hostile node"),
        Ok(Err(e)) => e,
    };
    println!("{url}: failed after {took:?} (bound {bound:?}): {err}");
    assert!(took < bound, "{url}: took {took:?}, bound {bound:?}: {err}");
    (err, took)
}

fn names_endpoint(err: &SubtensorError, url: &str) {
    let shown = err.to_string();
    assert!(
        shown.contains(url),
        "the error does not name {url}: {shown}"
    );
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0) so the next peak is this attack's alone; false
/// when the kernel refuses, and the caller measures against the earlier peak instead.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_endpoint_is_a_quick_connect_error() {
    let _g = GATE.read().await;
    // A port that was free a moment ago and that nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let c = config();
    let bound = connect_bound(&RpcConfig {
        connect_timeout: Duration::ZERO,
        ..c.clone()
    }) + Duration::from_secs(1);
    let start = Instant::now();
    let err = Subtensor::connect(&url, c)
        .await
        .err()
        .expect("nobody listens");
    let took = start.elapsed();
    println!("{url}: failed after {took:?} (bound {bound:?}): {err}");
    assert!(matches!(err, SubtensorError::Connect { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(took < bound, "took {took:?}, bound {bound:?}");
    names_endpoint(&err, &url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_fails_the_handshake_within_the_connect_deadline() {
    if !python() {
        return;
    }
    let _g = GATE.read().await;
    let node = Hostile::start("silent");
    let c = config();
    let bound = connect_bound(&c) + Duration::from_secs(1);
    let (err, took) = attack(&node, c.clone(), bound).await;
    assert!(matches!(err, SubtensorError::Connect { .. }), "{err:?}");
    names_endpoint(&err, &node.url());
    // Every attempt waited its full deadline: the retries are real and bounded.
    assert!(took >= c.connect_timeout * c.connect_attempts, "{took:?}");
    node.closed(c.connect_attempts as usize, Duration::from_secs(2))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mute_node_times_out_the_first_request() {
    if !python() {
        return;
    }
    let _g = GATE.read().await;
    let node = Hostile::start("mute");
    let c = config();
    let bound = c.request_timeout + Duration::from_secs(2);
    let (err, _) = attack(&node, c, bound).await;
    assert!(
        matches!(&err, SubtensorError::Timeout { method, .. } if method == "state_getRuntimeVersion"),
        "{err:?}"
    );
    names_endpoint(&err, &node.url());
    node.closed(1, Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dripping_node_is_cut_off_at_the_request_deadline() {
    if !python() {
        return;
    }
    let _g = GATE.read().await;
    let node = Hostile::start("drip");
    let c = config();
    let bound = c.request_timeout + Duration::from_secs(2);
    let (err, _) = attack(&node, c, bound).await;
    assert!(matches!(err, SubtensorError::Timeout { .. }), "{err:?}");
    names_endpoint(&err, &node.url());
    node.closed(1, Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_answering_garbage_is_a_transport_error() {
    if !python() {
        return;
    }
    let _g = GATE.read().await;
    let node = Hostile::start("garbage");
    let c = config();
    let bound = c.request_timeout + Duration::from_secs(2);
    let (err, _) = attack(&node, c, bound).await;
    assert!(matches!(err, SubtensorError::Transport { .. }), "{err:?}");
    names_endpoint(&err, &node.url());
    node.closed(1, Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_answering_the_wrong_shape_is_a_decode_error() {
    if !python() {
        return;
    }
    let _g = GATE.read().await;
    let node = Hostile::start("wrong");
    let c = config();
    let bound = c.request_timeout + Duration::from_secs(2);
    let (err, took) = attack(&node, c.clone(), bound).await;
    assert!(matches!(err, SubtensorError::Decode { .. }), "{err:?}");
    // Retrying will not fix a node that answers nonsense.
    assert!(!err.is_transient(), "{err:?}");
    names_endpoint(&err, &node.url());
    assert!(err.to_string().contains("state_getRuntimeVersion"), "{err}");
    // An answer was there: no waiting for a deadline.
    assert!(took < c.request_timeout, "{took:?}");
    node.closed(1, Duration::from_secs(2)).await;
}

/// One oversized-answer attack: the peak RSS must not grow by more than twice the cap. `at_header`:
/// the frame header alone gives the lie away, so the error must come at once, not at the deadline.
async fn huge(mode: &str, at_header: bool) {
    if !python() {
        return;
    }
    let _g = GATE.write().await;
    let node = Hostile::start(mode);
    let c = config();
    let bound = c.request_timeout + Duration::from_secs(2);
    let reset = reset_peak_rss();
    let (rss_before, hwm_before) = (status_kib("VmRSS:"), status_kib("VmHWM:"));
    let (err, took) = attack(&node, c.clone(), bound).await;
    let hwm_after = status_kib("VmHWM:");
    // With the peak reset the growth is against the current RSS; without, against the old
    // peak (which may hide part of this attack's use, so say so).
    let base = if reset { rss_before } else { hwm_before };
    let grew = hwm_after.saturating_sub(base);
    println!(
        "{mode}: VmRSS before {rss_before} KiB, VmHWM before {hwm_before} KiB, after \
         {hwm_after} KiB, peak reset: {reset}; grew {grew} KiB (cap {} KiB)",
        CAP / 1024
    );
    assert!(hwm_after > 0, "no /proc/self/status");
    assert!(
        grew < 2 * u64::from(CAP) / 1024,
        "{mode}: peak RSS grew {grew} KiB for a {} KiB cap",
        CAP / 1024
    );
    if at_header {
        assert!(matches!(err, SubtensorError::Transport { .. }), "{err:?}");
        assert!(took < c.request_timeout / 2, "{mode}: {took:?}");
    } else {
        // Fragments are summed as they come; past the cap the client stops keeping them but
        // the request ends at its deadline (or earlier, if the node closes).
        assert!(
            matches!(
                err,
                SubtensorError::Transport { .. } | SubtensorError::Timeout { .. }
            ),
            "{err:?}"
        );
    }
    names_endpoint(&err, &node.url());
    node.closed(1, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_past_the_cap_is_refused_in_bounded_memory() {
    huge("huge", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragments_summing_past_the_cap_are_refused_in_bounded_memory() {
    huge("huge-fragments", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_header_claiming_a_gigantic_length_is_refused() {
    huge("huge-header", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_past_the_cap_that_stalls_is_refused() {
    huge("huge-stall", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_metadata_is_a_metadata_error() {
    if !python() {
        return;
    }
    let _g = GATE.read().await;
    for mode in ["badmeta", "badmeta-len"] {
        let node = Hostile::start(mode);
        let c = config();
        let bound = c.request_timeout + Duration::from_secs(2);
        let (err, _) = attack(&node, c, bound).await;
        assert!(
            matches!(err, SubtensorError::Metadata(_)),
            "{mode}: {err:?}"
        );
        assert!(err.to_string().contains("metadata"), "{mode}: {err}");
        names_endpoint(&err, &node.url());
        assert!(!err.is_transient());
        node.closed(1, Duration::from_secs(2)).await;
    }
}
