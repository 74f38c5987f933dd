//! 1,000 concurrent requests against a small bound: every one is answered, OK or
//! RESOURCE_EXHAUSTED; none is lost, none waits in an unbounded queue.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::AxonConfig;
use common::*;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_requests_are_all_answered() {
    let gated = Arc::new(Gated::default());
    let key = synapse_key(1);
    let config = AxonConfig {
        max_in_flight: 8,
        max_in_flight_per_connection: 4,
        workers: 2,
        ..unsigned_config()
    };
    let echo = synapse_key(2);
    let axon = start(
        config,
        vec![
            (key.clone(), gated.clone()),
            (echo.clone(), Arc::new(bt_axon::EchoSynapse)),
        ],
    )
    .await;
    // Four connections, so both the per-connection and the total bound are exercised. One
    // answered call on each first: a client that has not yet read the axon's SETTINGS opens
    // more streams than `max_concurrent_streams`, and HTTP/2 refuses the excess outright
    // (REFUSED_STREAM) before the axon sees them; after it, the client queues them itself.
    let mut clients = Vec::new();
    for _ in 0..4 {
        let mut c = client(axon.local_addr()).await;
        let warm = message(&echo, vec![f32_tensor(&[0.0])]);
        c.forward(request(warm, Duration::from_secs(10)))
            .await
            .unwrap();
        clients.push(c);
    }
    let mut calls = Vec::new();
    for i in 0..1000 {
        let mut c = clients[i % 4].clone();
        let msg = message(&key, vec![f32_tensor(&[i as f32])]);
        calls.push(tokio::spawn(async move {
            c.forward(request(msg, Duration::from_secs(30))).await
        }));
    }
    // While the synapse is held, the bound fills up and the rest is refused. The two are
    // awaited together: the bound can fill before the first refusal is counted.
    bt_testnet::eventually(Duration::from_secs(20), || {
        let m = axon.metrics();
        m.in_flight == 8 && m.count(Code::ResourceExhausted) > 0
    })
    .await
    .expect("timed out waiting for: bound reached and refusing");
    let refused_while_full = axon.metrics().count(Code::ResourceExhausted);
    gated.open();

    let (mut ok, mut refused) = (0, 0);
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) if e.code() == Code::ResourceExhausted => refused += 1,
            Err(e) => panic!("unexpected answer: {e:?}"),
        }
    }
    assert_eq!(ok + refused, 1000);
    assert!(ok >= 8, "ok = {ok}");
    assert!(refused > 0 && refused_while_full > 0, "refused = {refused}");
    assert_eq!(axon.metrics().in_flight, 0);
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// One greedy connection is bounded by `max_in_flight_per_connection`, and the axon still has
/// room for other connections.
#[tokio::test]
async fn one_connection_cannot_take_the_whole_axon() {
    let gated = Arc::new(Gated::default());
    let (slow, fast) = (synapse_key(1), synapse_key(2));
    let config = AxonConfig {
        max_in_flight: 16,
        max_in_flight_per_connection: 2,
        workers: 4,
        ..unsigned_config()
    };
    let axon = start(
        config,
        vec![
            (slow.clone(), gated.clone()),
            (fast.clone(), Arc::new(bt_axon::EchoSynapse)),
        ],
    )
    .await;
    let greedy = client(axon.local_addr()).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = greedy.clone();
        let m = message(&slow, vec![f32_tensor(&[1.0])]);
        held.push(tokio::spawn(async move {
            c.forward(request(m, Duration::from_secs(20))).await
        }));
    }
    let g = gated.clone();
    bt_testnet::eventually(Duration::from_secs(10), move || g.entered() == 2)
        .await
        .expect("timed out waiting for: two held");
    let mut c = greedy.clone();
    let err = c
        .forward(request(
            message(&fast, vec![f32_tensor(&[1.0])]),
            Duration::from_secs(5),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(
        err.message().contains("max_in_flight_per_connection"),
        "{err:?}"
    );
    let mut other = client(axon.local_addr()).await;
    other
        .forward(request(
            message(&fast, vec![f32_tensor(&[1.0])]),
            Duration::from_secs(5),
        ))
        .await
        .unwrap();
    gated.open();
    for h in held {
        h.await.unwrap().unwrap();
    }
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
