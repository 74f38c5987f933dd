//! Requests, errors by code, latency and bytes are readable in-process and as Prometheus text
//! on the optional metrics port.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bt_axon::{AxonConfig, EchoSynapse, MethodLabel};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: axon\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

#[tokio::test]
async fn metrics_in_process_and_prometheus() {
    let key = synapse_key(1);
    let config = AxonConfig {
        metrics_addr: Some(loopback()),
        ..unsigned_config()
    };
    let axon = start(config, vec![(key.clone(), Arc::new(EchoSynapse))]).await;
    let mut c = client(axon.local_addr()).await;
    for _ in 0..3 {
        c.forward(request(
            message(&key, vec![f32_tensor(&[1.0; 256])]),
            Duration::from_secs(5),
        ))
        .await
        .unwrap();
    }
    let grads = vec![f32_tensor(&[1.0]), f32_tensor(&[0.5])];
    c.backward(request(message(&key, grads), Duration::from_secs(5)))
        .await
        .unwrap();
    let _ = c
        .forward(request(
            message(&synapse_key(9), vec![f32_tensor(&[1.0])]),
            Duration::from_secs(5),
        ))
        .await;

    let m = axon.metrics();
    assert_eq!(m.total(), 5);
    assert_eq!(m.count(Code::Ok), 4);
    assert_eq!(m.count(Code::NotFound), 1);
    assert_eq!(m.errors(), 1);
    assert!(m.requests.contains(&(MethodLabel::Backward, Code::Ok, 1)));
    assert!(m.bytes_in > 3 * 1024, "{}", m.bytes_in);
    assert!(m.bytes_out > 3 * 1024, "{}", m.bytes_out);
    let forward_latency = m
        .latency
        .iter()
        .find(|l| l.method == MethodLabel::Forward)
        .unwrap();
    assert_eq!(forward_latency.count(), 4);
    assert_eq!(m.in_flight, 0);
    assert_eq!(m.connections, 1);

    let text = http_get(axon.metrics_addr().unwrap(), "/metrics").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("text/plain; version=0.0.4"), "{text}");
    assert!(
        text.contains("bt_axon_requests_total{method=\"Forward\",code=\"OK\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("bt_axon_requests_total{method=\"Forward\",code=\"NOT_FOUND\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("bt_axon_request_duration_seconds_count{method=\"Forward\"} 4"),
        "{text}"
    );
    assert!(
        text.contains("bt_axon_request_duration_seconds_bucket{method=\"Backward\",le=\"+Inf\"} 1"),
        "{text}"
    );
    assert!(text.contains("bt_axon_received_bytes_total "), "{text}");
    assert!(text.contains("bt_axon_sent_bytes_total "), "{text}");
    let missing = http_get(axon.metrics_addr().unwrap(), "/other").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
