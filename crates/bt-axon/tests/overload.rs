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
    let axon = start(config, vec![(key.clone(), gated.clone())]).await;
    // Four connections, so both the per-connection and the total bound are exercised.
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(client(axon.local_addr()).await);
    }
    let mut calls = Vec::new();
    for i in 0..1000 {
        let mut c = clients[i % 4].clone();
        let msg = message(&key, vec![f32_tensor(&[i as f32])]);
        calls.push(tokio::spawn(async move {
            c.forward(request(msg, Duration::from_secs(30))).await
        }));
    }
    // While the synapse is held, the bound fills up and the rest is refused.
    eventually(Duration::from_secs(20), "bound reached", || {
        axon.metrics().in_flight == 8
    })
    .await;
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
