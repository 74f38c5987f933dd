//! The dashboard against real sockets: it reads a neuron's `/metrics` (served here by the
//! axon's metrics server), publishes the snapshot, and holds its bounds against clients that
//! open more event streams than it allows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bt_dashboard::DashboardConfig;
use bt_interfaces::metrics::{Exposition, Kind, MetricSet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct FakeTrainer(AtomicU64);

impl MetricSet for FakeTrainer {
    fn write(&self, out: &mut Exposition) {
        let step = self.0.fetch_add(5, Ordering::Relaxed) + 5;
        out.single(
            "bt_trainer_steps_total",
            Kind::Counter,
            "Steps.",
            step as f64,
        );
        out.family("bt_trainer_loss", Kind::Gauge, "Loss.");
        out.sample("bt_trainer_loss", &[("kind", "network")], 1.0 / step as f64);
    }
}

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

/// Opens an event stream and returns the socket with the status line read.
async fn open_events(addr: std::net::SocketAddr) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    (s, head)
}

async fn metrics_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let registry = bt_interfaces::MetricsRegistry::new();
    registry.register(Arc::new(FakeTrainer(AtomicU64::new(0))));
    tokio::spawn(bt_axon::serve_metrics(listener, registry));
    addr
}

#[tokio::test]
async fn scrapes_a_neuron_and_serves_page_and_snapshot() {
    let metrics = metrics_server().await;
    let cfg = DashboardConfig {
        poll_interval: Duration::from_millis(50),
        ..DashboardConfig::default()
    };
    let d = bt_dashboard::serve(cfg, None).await.unwrap();
    assert!(d.local_addr().ip().is_loopback(), "loopback by default");
    d.add_neuron("n0", metrics.to_string()).unwrap();
    let addr = d.local_addr();
    let page = get(addr, "/").await;
    assert!(page.starts_with("HTTP/1.0 200") && page.contains("<canvas id=\"loss\""));
    assert!(get(addr, "/app.js").await.contains("btDashProbe"));
    let ok = bt_testnet::eventually_async_some(
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async move {
            let state = get(addr, "/api/state").await;
            let body = state.split("\r\n\r\n").nth(1)?.to_string();
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            let n = &v["neurons"][0];
            (n["up"] == true && n["loss_curve"].as_array()?.len() >= 2).then_some(v)
        },
    )
    .await;
    let v = ok.expect("the neuron's curve never gained two points");
    assert_eq!(v["neurons"][0]["name"], "n0");
}

#[tokio::test]
async fn event_streams_beyond_the_cap_are_refused_and_a_freed_slot_is_reused() {
    let cfg = DashboardConfig {
        max_clients: 2,
        ..DashboardConfig::default()
    };
    let d = bt_dashboard::serve(cfg, None).await.unwrap();
    let addr = d.local_addr();
    let (a, head_a) = open_events(addr).await;
    let (_b, head_b) = open_events(addr).await;
    assert!(head_a.starts_with("HTTP/1.1 200"), "{head_a}");
    assert!(head_b.contains("text/event-stream"), "{head_b}");
    let (_c, head_c) = open_events(addr).await;
    assert!(head_c.starts_with("HTTP/1.1 503"), "third client: {head_c}");
    // The snapshot stays served while the streams are full.
    assert!(get(addr, "/api/state").await.starts_with("HTTP/1.0 200"));
    drop(a);
    let freed = bt_testnet::eventually_async_some(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async move {
            let (s, head) = open_events(addr).await;
            head.starts_with("HTTP/1.1 200").then_some(s)
        },
    )
    .await;
    assert!(freed.is_ok(), "a closed stream's slot never came back");
    assert!(d.add_neuron("x", "127.0.0.1:1").is_ok());
}

#[tokio::test]
async fn neurons_beyond_the_cap_are_refused() {
    let cfg = DashboardConfig {
        max_neurons: 1,
        ..DashboardConfig::default()
    };
    let d = bt_dashboard::serve(cfg, None).await.unwrap();
    d.add_neuron("a", "127.0.0.1:1").unwrap();
    assert!(matches!(
        d.add_neuron("b", "127.0.0.1:2"),
        Err(bt_dashboard::DashboardError::TooManyNeurons { max: 1 })
    ));
}
