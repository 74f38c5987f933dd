//! The per-caller policy: a denied caller gets PERMISSION_DENIED with the policy's reason; the
//! policy sees the verified caller key (or `None` when unsigned).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bt_axon::{Decision, EchoSynapse, Policy, Priority, PublicKey, RpcMethod};
use common::*;
use tonic::Code;

/// Serves only `permitted` ("miners answer only validators with a permit").
struct PermitOnly {
    permitted: PublicKey,
    seen: Mutex<Vec<(Option<String>, String, RpcMethod)>>,
}

impl Policy for PermitOnly {
    fn check(&self, caller: Option<&PublicKey>, synapse_key: &str, method: RpcMethod) -> Decision {
        self.seen.lock().unwrap().push((
            caller.map(PublicKey::to_hex),
            synapse_key.to_string(),
            method,
        ));
        match caller {
            Some(c) if *c == self.permitted => Decision::Allow(Priority::High),
            Some(_) => Decision::Deny("only validators with a permit are served".into()),
            None => Decision::Deny("anonymous callers are not served".into()),
        }
    }
}

#[tokio::test]
async fn policy_denies_with_reason() {
    let key = synapse_key(1);
    let (validator, stranger) = (caller(1), caller(2));
    let policy = Arc::new(PermitOnly {
        permitted: validator.public(),
        seen: Mutex::new(Vec::new()),
    });
    let axon = bt_axon::Axon::builder(unsigned_config())
        .serve_synapse(key.clone(), Arc::new(EchoSynapse))
        .policy(policy.clone())
        .start(loopback())
        .await
        .unwrap();
    let mut c = client(axon.local_addr()).await;
    let m = || message(&key, vec![f32_tensor(&[1.0])]);

    c.forward(request(
        signed(&validator, m(), RpcMethod::Forward),
        Duration::from_secs(5),
    ))
    .await
    .unwrap();
    let denied = c
        .forward(request(
            signed(&stranger, m(), RpcMethod::Forward),
            Duration::from_secs(5),
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(denied.message(), "only validators with a permit are served");
    let anon = c
        .forward(request(m(), Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(anon.code(), Code::PermissionDenied);

    let seen = policy.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[0],
        (
            Some(validator.public_hex()),
            key.clone(),
            RpcMethod::Forward
        )
    );
    assert_eq!(seen[2].0, None);
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// Low-priority callers are shed while the axon is busy; others are still served.
#[tokio::test]
async fn low_priority_is_shed_when_busy() {
    struct LowForStranger(PublicKey);
    impl Policy for LowForStranger {
        fn check(&self, caller: Option<&PublicKey>, _: &str, _: RpcMethod) -> Decision {
            match caller {
                Some(c) if *c == self.0 => Decision::Allow(Priority::Low),
                _ => Decision::Allow(Priority::Normal),
            }
        }
    }
    let gated = Arc::new(Gated::default());
    let (slow, fast) = (synapse_key(1), synapse_key(2));
    let stranger = caller(2);
    let config = bt_axon::AxonConfig {
        max_in_flight: 4,
        workers: 3,
        ..unsigned_config()
    };
    let axon = bt_axon::Axon::builder(config)
        .serve_synapse(slow.clone(), gated.clone())
        .serve_synapse(fast.clone(), Arc::new(EchoSynapse))
        .policy(Arc::new(LowForStranger(stranger.public())))
        .start(loopback())
        .await
        .unwrap();
    let c = client(axon.local_addr()).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = c.clone();
        let m = message(&slow, vec![f32_tensor(&[1.0])]);
        held.push(tokio::spawn(async move {
            c.forward(request(m, Duration::from_secs(20))).await
        }));
    }
    let g = gated.clone();
    bt_testnet::eventually(Duration::from_secs(10), move || g.entered() == 2)
        .await
        .expect("timed out waiting for: two requests held");

    let mut c2 = c.clone();
    let m = || message(&fast, vec![f32_tensor(&[1.0])]);
    let shed = c2
        .forward(request(
            signed(&stranger, m(), RpcMethod::Forward),
            Duration::from_secs(5),
        ))
        .await
        .unwrap_err();
    assert_eq!(shed.code(), Code::ResourceExhausted, "{shed:?}");
    c2.forward(request(
        signed(&caller(3), m(), RpcMethod::Forward),
        Duration::from_secs(5),
    ))
    .await
    .unwrap();
    gated.open();
    for h in held {
        h.await.unwrap().unwrap();
    }
    c2.forward(request(
        signed(&stranger, m(), RpcMethod::Forward),
        Duration::from_secs(5),
    ))
    .await
    .unwrap();
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
