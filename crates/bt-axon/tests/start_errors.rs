//! Starting fails with errors that say what to change.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::{Axon, AxonConfig, AxonError, EchoSynapse};
use common::*;

#[tokio::test]
async fn port_in_use_names_the_flag() {
    let first = start(
        unsigned_config(),
        vec![(synapse_key(1), Arc::new(EchoSynapse))],
    )
    .await;
    let addr = first.local_addr();
    let err = Axon::builder(AxonConfig::default())
        .serve_synapse(synapse_key(1), Arc::new(EchoSynapse))
        .start(addr)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, AxonError::Bind { addr: a, .. } if a == addr),
        "{err:?}"
    );
    assert!(err.to_string().contains("--axon_port"), "{err}");
    first.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn bad_builder_input_is_rejected() {
    let no_synapse = Axon::builder(AxonConfig::default())
        .start(loopback())
        .await
        .err()
        .unwrap();
    assert!(matches!(no_synapse, AxonError::NoSynapse));

    let bad_key = Axon::builder(AxonConfig::default())
        .serve_synapse("0x1234", Arc::new(EchoSynapse))
        .start(loopback())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(bad_key, AxonError::SynapseKey { .. }),
        "{bad_key:?}"
    );

    let dup = Axon::builder(AxonConfig::default())
        .serve_synapse(synapse_key(1), Arc::new(EchoSynapse))
        .serve_synapse(synapse_key(1), Arc::new(EchoSynapse))
        .start(loopback())
        .await
        .err()
        .unwrap();
    assert!(matches!(dup, AxonError::DuplicateSynapse { .. }));

    let zero = AxonConfig {
        workers: 0,
        ..AxonConfig::default()
    };
    let err = Axon::builder(zero)
        .serve_synapse(synapse_key(1), Arc::new(EchoSynapse))
        .start(loopback())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            AxonError::Config {
                field: "workers",
                ..
            }
        ),
        "{err:?}"
    );
}
