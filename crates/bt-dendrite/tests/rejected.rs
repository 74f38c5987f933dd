//! A peer's gRPC error status is reported with its code and message, and does not count
//! against the peer's circuit (it answered: it is alive).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use bt_dendrite::{BreakerConfig, Dendrite, DendriteConfig, Endpoint, Inputs, Outcome};
use bt_tensor::{Modality, Tensor};
use support::Behaviour;
use tonic::Code;

#[tokio::test]
async fn status_codes_are_reported_as_rejections() {
    let codes = [
        Code::Unauthenticated,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::InvalidArgument,
        Code::NotFound,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
    ];
    let config = DendriteConfig {
        breaker: BreakerConfig {
            failure_threshold: 1,
            open_base: Duration::from_secs(60),
            open_max: Duration::from_secs(60),
        },
        ..Default::default()
    };
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), config);
    let x = Tensor::from_f32(&[1, 1], &[1.0], Modality::Tensor).unwrap();
    for code in codes {
        let server = support::start(Behaviour::Reject(code, "go away")).await;
        let ep = Endpoint::new("127.0.0.1", server.addr.port(), "0xab");
        for _ in 0..2 {
            let o = dendrite
                .forward_tensor(Inputs::broadcast([ep.clone()], x.clone()))
                .await
                .unwrap()
                .remove(0)
                .outcome;
            match o {
                Outcome::Rejected { code: got, message } => {
                    assert_eq!(got, code);
                    assert_eq!(message, "go away");
                }
                other => panic!("{code:?}: expected a rejection, got {other}"),
            }
        }
        assert!(
            !dendrite.is_circuit_open(&ep),
            "{code:?} opened the circuit"
        );
    }
}

#[tokio::test]
async fn a_server_side_deadline_is_a_timeout() {
    let server = support::start(Behaviour::Reject(Code::DeadlineExceeded, "too slow")).await;
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), DendriteConfig::default());
    let ep = Endpoint::new("127.0.0.1", server.addr.port(), "0xab");
    let x = Tensor::from_f32(&[1, 1], &[1.0], Modality::Tensor).unwrap();
    let o = dendrite
        .forward_tensor(Inputs::broadcast([ep], x))
        .await
        .unwrap()
        .remove(0)
        .outcome;
    assert!(matches!(o, Outcome::Timeout), "{o}");
}
