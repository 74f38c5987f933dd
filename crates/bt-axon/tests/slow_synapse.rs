//! A slow synapse occupies a blocking-pool worker, never the async executor: the axon keeps
//! answering other synapses while it computes.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::{AxonConfig, EchoSynapse};
use common::*;

// One runtime thread: if the synapse blocked the executor, nothing else could be answered.
#[tokio::test(flavor = "current_thread")]
async fn slow_synapse_does_not_block_others() {
    let gated = Arc::new(Gated::default());
    let (slow, fast) = (synapse_key(1), synapse_key(2));
    let config = AxonConfig {
        workers: 2,
        ..unsigned_config()
    };
    let axon = start(
        config,
        vec![
            (slow.clone(), gated.clone()),
            (fast.clone(), Arc::new(EchoSynapse)),
        ],
    )
    .await;
    let c = client(axon.local_addr()).await;

    let mut sc = c.clone();
    let slow_call = tokio::spawn(async move {
        sc.forward(request(
            message(&slow, vec![f32_tensor(&[1.0])]),
            Duration::from_secs(20),
        ))
        .await
    });
    let g = gated.clone();
    bt_testnet::eventually(Duration::from_secs(10), move || g.entered() == 1)
        .await
        .expect("timed out waiting for: slow synapse entered");

    for i in 0..20 {
        let mut fc = c.clone();
        let reply = fc
            .forward(request(
                message(&fast, vec![f32_tensor(&[i as f32])]),
                Duration::from_secs(5),
            ))
            .await
            .unwrap()
            .into_inner();
        let t = bt_tensor::decode(&reply.tensors[0], &bt_tensor::Limits::default()).unwrap();
        assert_eq!(t.to_f32_vec().unwrap(), vec![i as f32]);
    }
    assert!(!slow_call.is_finished());
    gated.open();
    let slow_reply = slow_call.await.unwrap();
    assert!(slow_reply.is_ok(), "{slow_reply:?}");
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
