//! Sessions between the dendrite and bt-axon: one signature per connection, then MACs; a
//! session the axon forgot (evicted, expired) costs one transparent signed retry; axons that
//! do not accept sessions and dendrites that do not want them keep signing every request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use bt_axon::{AxonConfig, AxonHandle};
use bt_crypto::NeuronKey;
use bt_dendrite::{Dendrite, DendriteConfig, Endpoint, Inputs, Outcome, SessionVersion};
use bt_tensor::{Modality, Tensor};
use support::Behaviour;

async fn axon(config: AxonConfig) -> (AxonHandle, Endpoint) {
    let (handle, key) = support::echo_axon(config).await;
    let ep = Endpoint::new("127.0.0.1", handle.local_addr().port(), key);
    (handle, ep)
}

fn dendrite_with(key: NeuronKey, sessions: bool) -> Dendrite {
    let config = DendriteConfig {
        sessions,
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    Dendrite::new(key, config)
}

fn x(v: f32) -> Tensor {
    Tensor::from_f32(&[1, 3], &[v, v + 1.0, v + 2.0], Modality::Tensor).unwrap()
}

async fn call_ok(d: &Dendrite, ep: &Endpoint, v: f32) {
    let r = d.forward_tensor(vec![(ep.clone(), x(v))]).await.unwrap();
    let y = match &r[0].outcome {
        Outcome::Ok(y) => y.clone(),
        other => panic!("call failed: {other}"),
    };
    assert_eq!(y.to_f32_vec().unwrap(), vec![v, v + 1.0, v + 2.0]);
}

#[tokio::test]
async fn one_signature_opens_a_session_that_carries_the_next_calls() {
    let (axon, ep) = axon(AxonConfig::default()).await;
    let d = dendrite_with(NeuronKey::generate(), true);
    assert!(!d.has_session(&ep));
    for i in 0..20 {
        call_ok(&d, &ep, i as f32).await;
    }
    assert!(d.has_session(&ep));
    // Backward goes through the session too.
    let g = Tensor::from_f32(&[1, 3], &[0.5; 3], Modality::Tensor).unwrap();
    let back = d.backward(&ep, &x(1.0), &g).await.unwrap();
    assert!(back.outcome.is_ok(), "{}", back.outcome);
    // The first call was the (signed) handshake; the other 19 and the backward used MACs.
    let m = axon.metrics();
    assert_eq!(m.signatures_verified, 1, "{m:?}");
    assert_eq!(m.sessions_opened, 1);
    assert_eq!(m.session_requests, 19 + 1);
    assert_eq!(m.session_refusals, 0);

    // 64 calls in flight at once share the session; reordering on the way is absorbed by
    // the axon's window.
    let xs = Tensor::from_f32(&[1, 3], &[1.0, 2.0, 3.0], Modality::Tensor).unwrap();
    let replies = d
        .forward_tensor(Inputs::broadcast(vec![ep.clone(); 64], xs))
        .await
        .unwrap();
    for r in &replies {
        assert!(r.outcome.is_ok(), "{}", r.outcome);
    }
    let m = axon.metrics();
    assert_eq!((m.signatures_verified, m.session_refusals), (1, 0), "{m:?}");
    assert_eq!(m.session_requests, 19 + 1 + 64);
    axon.shutdown(Duration::from_secs(2)).await.unwrap();
}

/// Every pairing of versions opens a session of the highest version both speak, and its calls
/// (small and 1 MiB, forward and backward) are served under it without another signature.
#[tokio::test]
async fn each_pairing_of_session_versions_agrees_on_the_highest_common_one() {
    use SessionVersion::{V1, V2};
    for (ours, theirs, agreed) in [(V2, V2, V2), (V2, V1, V1), (V1, V2, V1), (V1, V1, V1)] {
        let (axon, ep) = axon(AxonConfig {
            session_version: theirs,
            ..AxonConfig::default()
        })
        .await;
        let d = Dendrite::new(
            NeuronKey::generate(),
            DendriteConfig {
                session_version: ours,
                timeout: Duration::from_secs(5),
                ..Default::default()
            },
        );
        call_ok(&d, &ep, 1.0).await;
        assert_eq!(
            d.session_version(&ep),
            Some(agreed),
            "{ours:?} x {theirs:?}"
        );
        call_ok(&d, &ep, 2.0).await;
        let big: Vec<f32> = (0..1 << 18).map(|i| i as f32).collect();
        let big = Tensor::from_f32(&[1, 1 << 18], &big, Modality::Tensor).unwrap();
        let r = d
            .forward_tensor(vec![(ep.clone(), big.clone())])
            .await
            .unwrap();
        assert!(r[0].outcome.is_ok(), "{}", r[0].outcome);
        let back = d.backward(&ep, &big, &big).await.unwrap();
        assert!(back.outcome.is_ok(), "{}", back.outcome);
        let m = axon.metrics();
        assert_eq!(m.signatures_verified, 1, "{ours:?} x {theirs:?}: {m:?}");
        assert_eq!((m.session_requests, m.session_refusals), (3, 0));
        // Version 2 sends the two 1 MiB proofs as trailers, naming the session up front: the
        // axon hashed both payloads before their proofs arrived.
        let early = if agreed == SessionVersion::V2 { 2 } else { 0 };
        assert_eq!(m.early_digests, early, "{ours:?} x {theirs:?}: {m:?}");
        axon.shutdown(Duration::from_secs(5)).await.unwrap();
    }
}

#[tokio::test]
async fn a_forgotten_session_costs_one_transparent_signed_retry() {
    // One session per caller key: a second dendrite with the same key evicts the first's.
    let (axon, ep) = axon(AxonConfig {
        max_sessions_per_caller: 1,
        ..AxonConfig::default()
    })
    .await;
    let seed = [42u8; 32];
    let first = dendrite_with(NeuronKey::from_seed(seed), true);
    let second = dendrite_with(NeuronKey::from_seed(seed), true);
    call_ok(&first, &ep, 1.0).await;
    call_ok(&first, &ep, 2.0).await;
    call_ok(&second, &ep, 3.0).await; // evicts the first dendrite's session
    assert!(first.has_session(&ep));
    // Refused as unknown, retried signed with a new offer: the caller sees only success.
    call_ok(&first, &ep, 4.0).await;
    assert!(first.has_session(&ep));
    call_ok(&first, &ep, 5.0).await;
    let m = axon.metrics();
    assert_eq!(m.session_refusals, 1, "{m:?}");
    assert_eq!(m.sessions_opened, 3);
    assert_eq!(m.signatures_verified, 3);
    assert_eq!(m.session_requests, 2);
    axon.shutdown(Duration::from_secs(2)).await.unwrap();
}

#[tokio::test]
async fn expired_sessions_are_renewed_without_the_caller_noticing() {
    // Every session has expired by the time the next request arrives (1 ns idle timeout):
    // each call is refused once under its session and succeeds on the signed retry.
    let (axon, ep) = axon(AxonConfig {
        session_idle_timeout: Duration::from_nanos(1),
        ..AxonConfig::default()
    })
    .await;
    let d = dendrite_with(NeuronKey::generate(), true);
    for i in 0..5 {
        call_ok(&d, &ep, i as f32).await;
    }
    let m = axon.metrics();
    assert_eq!(m.sessions_opened, 5, "{m:?}");
    assert_eq!(m.session_refusals, 4);
    assert_eq!(m.signatures_verified, 5);
    axon.shutdown(Duration::from_secs(2)).await.unwrap();
}

#[tokio::test]
async fn axons_without_sessions_and_dendrites_without_them_keep_signing() {
    let (closed, closed_ep) = axon(AxonConfig {
        sessions: false,
        ..AxonConfig::default()
    })
    .await;
    let d = dendrite_with(NeuronKey::generate(), true);
    for i in 0..5 {
        call_ok(&d, &closed_ep, i as f32).await;
    }
    assert!(!d.has_session(&closed_ep));
    let m = closed.metrics();
    assert_eq!((m.signatures_verified, m.sessions_opened), (5, 0));

    let (open, open_ep) = axon(AxonConfig::default()).await;
    let plain = dendrite_with(NeuronKey::generate(), false);
    for i in 0..5 {
        call_ok(&plain, &open_ep, i as f32).await;
    }
    assert!(!plain.has_session(&open_ep));
    let m = open.metrics();
    assert_eq!((m.signatures_verified, m.sessions_opened), (5, 0));
    closed.shutdown(Duration::from_secs(2)).await.unwrap();
    open.shutdown(Duration::from_secs(2)).await.unwrap();
}

/// A Release-1 style server ignores the offer header: every request it sees is a valid
/// per-request-signed one, and no session is ever assumed.
#[tokio::test]
async fn servers_that_ignore_offers_get_valid_signed_requests() {
    let server = support::start(Behaviour::Echo).await;
    let d = dendrite_with(NeuronKey::generate(), true);
    let ep = Endpoint::new(
        "127.0.0.1",
        server.addr.port(),
        NeuronKey::generate().public_hex(),
    );
    for i in 0..4 {
        call_ok(&d, &ep, i as f32).await;
    }
    assert!(!d.has_session(&ep));
    for s in server.seen() {
        bt_crypto::verify_request(&s.message, bt_crypto::RpcMethod::Forward).unwrap();
    }
}

/// A signed request refused as UNAUTHENTICATED (say, its nonce fell out of the axon's reorder
/// window while it was held up) is sent once more with a fresh nonce, never more.
#[tokio::test]
async fn a_refused_signed_request_is_retried_once_with_a_fresh_nonce() {
    let server = support::start(Behaviour::Reject(
        tonic::Code::Unauthenticated,
        "nonce already used",
    ))
    .await;
    let d = dendrite_with(NeuronKey::generate(), false);
    let ep = Endpoint::new(
        "127.0.0.1",
        server.addr.port(),
        NeuronKey::generate().public_hex(),
    );
    let r = d.forward_tensor(vec![(ep.clone(), x(1.0))]).await.unwrap();
    assert!(
        matches!(
            r[0].outcome,
            Outcome::Rejected {
                code: tonic::Code::Unauthenticated,
                ..
            }
        ),
        "{}",
        r[0].outcome
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[1].nonce > seen[0].nonce);
    for s in &seen {
        bt_crypto::verify_request(&s.message, bt_crypto::RpcMethod::Forward).unwrap();
    }
}
