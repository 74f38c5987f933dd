//! A request for a synapse this axon does not serve is answered NOT_FOUND, naming the key.
//! A key longer than any key is refused before decoding.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::EchoSynapse;
use common::*;
use tonic::Code;

#[tokio::test]
async fn unknown_synapse_key_is_not_found() {
    let axon = start(
        unsigned_config(),
        vec![(synapse_key(1), Arc::new(EchoSynapse))],
    )
    .await;
    let mut c = client(axon.local_addr()).await;
    let other = synapse_key(9);
    let err = c
        .forward(request(
            message(&other, vec![f32_tensor(&[1.0])]),
            Duration::from_secs(5),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains(&other), "{}", err.message());

    // Even a huge bogus key gets a short, well-formed answer: refused on the raw bytes, before
    // decoding, as longer than any key (`max_field_bytes`).
    let long = "x".repeat(100_000);
    let err = c
        .forward(request(
            message(&long, vec![f32_tensor(&[1.0])]),
            Duration::from_secs(5),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange);
    assert!(
        err.message().contains("max_field_bytes"),
        "{}",
        err.message()
    );
    assert!(err.message().len() < 1024);
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
