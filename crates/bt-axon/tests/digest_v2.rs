//! The v2 request digest at the axon: a v2 signature is served only at the endpoint it binds,
//! which must be this axon's; v1 (every client before v2) is served unless the axon requires
//! v2; every answer says `bt-digest: 2`.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bt_axon::{AxonConfig, AxonHandle, EchoSynapse};
use bt_crypto::{DIGEST_HEADER, Dialled, NeuronKey, RpcMethod};
use bt_wire::TensorMessage;
use bt_wire::bittensor_client::BittensorClient;
use common::*;
use tonic::Code;
use tonic::transport::Channel;

async fn echo_axon(config: AxonConfig, key: &str) -> AxonHandle {
    start(config, vec![(key.to_owned(), Arc::new(EchoSynapse))]).await
}

/// A client whose requests carry `authority` as their `:authority` but reach `to`.
async fn client_as(authority: &str, to: SocketAddr) -> BittensorClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{authority}"))
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_| async move {
            let tcp = tokio::net::TcpStream::connect(to).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tcp))
        }))
        .await
        .unwrap();
    BittensorClient::new(channel)
}

/// A message signed over the v2 digest for `host:port`.
fn signed_v2(me: &NeuronKey, key: &str, host: &str, port: u16) -> TensorMessage {
    let mut msg = message(key, vec![f32_tensor(&[1.0, 2.0])]);
    let dialled = Dialled::new(host, port).unwrap();
    bt_crypto::sign_request_bound(
        me,
        &mut msg,
        RpcMethod::Forward,
        NONCES.next(),
        Some(&dialled),
    );
    msg
}

fn v2(msg: TensorMessage) -> tonic::Request<TensorMessage> {
    let mut r = request(msg, Duration::from_secs(5));
    r.metadata_mut().insert(DIGEST_HEADER, "2".parse().unwrap());
    r
}

fn says_v2(metadata: &tonic::metadata::MetadataMap) -> bool {
    metadata.get(DIGEST_HEADER).and_then(|v| v.to_str().ok()) == Some("2")
}

/// A client that predates v2 signs v1 and never reads `bt-digest`: it is served as before,
/// call after call, while every answer offers v2.
#[tokio::test]
async fn a_v1_client_is_served_by_default_and_told_of_v2() {
    let key = synapse_key(1);
    let axon = echo_axon(AxonConfig::default(), &key).await;
    let mut c = client(axon.local_addr()).await;
    let me = caller(1);
    for _ in 0..3 {
        let msg = signed(
            &me,
            message(&key, vec![f32_tensor(&[1.0])]),
            RpcMethod::Forward,
        );
        let answer = c
            .forward(request(msg, Duration::from_secs(5)))
            .await
            .unwrap();
        assert!(says_v2(answer.metadata()));
    }
    // Refusals say it too (here: an unknown synapse).
    let msg = signed(
        &me,
        message(&synapse_key(9), vec![f32_tensor(&[1.0])]),
        RpcMethod::Forward,
    );
    let refused = c
        .forward(request(msg, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    assert!(says_v2(refused.metadata()));
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// One synapse key on two axons: a v2 request for one is refused at the other, whichever
/// `:authority` the replay carries; and a signature is checked under the version it claims.
#[tokio::test]
async fn a_v2_request_is_served_only_at_the_endpoint_it_binds() {
    let key = synapse_key(2);
    let a = echo_axon(AxonConfig::default(), &key).await;
    let b = echo_axon(AxonConfig::default(), &key).await;
    let (a_addr, b_addr) = (a.local_addr(), b.local_addr());
    let me = caller(2);

    let msg = signed_v2(&me, &key, "127.0.0.1", a_addr.port());
    let answer = client(a_addr).await.forward(v2(msg.clone())).await.unwrap();
    assert_eq!(answer.get_ref().tensors.len(), 1);

    // At B under B's own authority: the signature binds A.
    let at_b = client(b_addr)
        .await
        .forward(v2(msg.clone()))
        .await
        .unwrap_err();
    assert_eq!(at_b.code(), Code::Unauthenticated, "{at_b:?}");
    // At B claiming A's authority: not B's endpoint.
    let claimed = client_as(&a_addr.to_string(), b_addr)
        .await
        .forward(v2(msg.clone()))
        .await
        .unwrap_err();
    assert_eq!(claimed.code(), Code::Unauthenticated, "{claimed:?}");
    assert!(
        claimed.message().contains("not this axon's endpoint"),
        "{claimed:?}"
    );

    // A v2 signature presented as v1 (header stripped) fails, and v1 presented as v2.
    let fresh = signed_v2(&me, &key, "127.0.0.1", a_addr.port());
    let stripped = client(a_addr)
        .await
        .forward(request(fresh, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(stripped.code(), Code::Unauthenticated, "{stripped:?}");
    let v1 = signed(
        &me,
        message(&key, vec![f32_tensor(&[1.0])]),
        RpcMethod::Forward,
    );
    let relabelled = client(a_addr).await.forward(v2(v1)).await.unwrap_err();
    assert_eq!(relabelled.code(), Code::Unauthenticated, "{relabelled:?}");

    let mut bad = request(
        signed(
            &me,
            message(&key, vec![f32_tensor(&[1.0])]),
            RpcMethod::Forward,
        ),
        Duration::from_secs(5),
    );
    bad.metadata_mut()
        .insert(DIGEST_HEADER, "7".parse().unwrap());
    let unknown = client(a_addr).await.forward(bad).await.unwrap_err();
    assert_eq!(unknown.code(), Code::Unauthenticated, "{unknown:?}");

    a.shutdown(Duration::from_secs(5)).await.unwrap();
    b.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// `require_digest_v2`: v1 refused (the refusal offering v2), v2 served.
#[tokio::test]
async fn requiring_v2_refuses_v1() {
    let key = synapse_key(3);
    let config = AxonConfig {
        require_digest_v2: true,
        ..AxonConfig::default()
    };
    let axon = echo_axon(config, &key).await;
    let addr = axon.local_addr();
    let mut c = client(addr).await;
    let me = caller(3);
    let v1 = signed(
        &me,
        message(&key, vec![f32_tensor(&[1.0])]),
        RpcMethod::Forward,
    );
    let refused = c
        .forward(request(v1, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(refused.message().contains("v2"), "{refused:?}");
    assert!(says_v2(refused.metadata()));
    c.forward(v2(signed_v2(&me, &key, "127.0.0.1", addr.port())))
        .await
        .unwrap();
    // `localhost` is this machine: a loopback connection may bind it.
    client_as(&format!("localhost:{}", addr.port()), addr)
        .await
        .forward(v2(signed_v2(&me, &key, "localhost", addr.port())))
        .await
        .unwrap();
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// Behind a NAT or proxy the caller dials the published host and port, not the listen address:
/// those are the axon's endpoints too, and nothing else is.
#[tokio::test]
async fn the_published_host_and_port_are_endpoints_of_the_axon() {
    let key = synapse_key(4);
    let config = AxonConfig {
        external_host: Some("203.0.113.7".into()),
        external_port: Some(443),
        ..AxonConfig::default()
    };
    let axon = echo_axon(config, &key).await;
    let addr = axon.local_addr();
    let me = caller(4);
    client_as("203.0.113.7:443", addr)
        .await
        .forward(v2(signed_v2(&me, &key, "203.0.113.7", 443)))
        .await
        .unwrap();
    let other = client_as("203.0.113.8:443", addr)
        .await
        .forward(v2(signed_v2(&me, &key, "203.0.113.8", 443)))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::Unauthenticated, "{other:?}");
    assert!(
        other.message().contains("published as 203.0.113.7"),
        "{other:?}"
    );
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
