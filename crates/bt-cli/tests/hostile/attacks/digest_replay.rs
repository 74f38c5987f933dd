//! Replay at a replica (finding L): one synapse key served by two axons (replicas of one
//! operator), each with its own nonce table. The v1 request digest binds the synapse key, not
//! the axon, so a request captured on its way to one replica is served again by the other within
//! the nonce window. The v2 digest binds the endpoint dialled, which each axon checks against
//! its own: the replay is refused whichever `:authority` it carries. An axon started with
//! `--axon_require_digest_v2` refuses v1 requests too, while this project's dendrites, which
//! sign v2 once an axon offers it, are served from their first call.
//!
//! Three `bittensor neuron echo` processes: A and B serve one synapse key with the default
//! settings, C serves it with `--axon_require_digest_v2`. What is captured is what an
//! eavesdropper between a caller and A sees: each request is built and signed as bt-dendrite
//! does (`bt_crypto::sign_request_bound`, `bt-digest: 2`) and first served by A, which proves it
//! genuine; then the same message and metadata are sent to B and C.

use std::net::SocketAddr;
use std::time::Duration;

use bt_crypto::{DIGEST_HEADER, Dialled, NeuronKey, NonceClock, RpcMethod};
use bt_tensor::{Modality, Tensor};
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use bt_wire::TensorMessage;
use bt_wire::bittensor_client::BittensorClient;
use prost::Message as _;
use tonic::Code;
use tonic::transport::Channel;

use super::target::EchoNeuron;

/// Requests captured of each digest version, each replayed at every other replica.
pub const CAPTURED: usize = 20;

/// How the replays of one kind fared.
#[derive(Debug, Default, Clone, Copy)]
pub struct Replays {
    pub sent: u64,
    pub served: u64,
    /// Refused `UNAUTHENTICATED` (anything else is neither).
    pub refused: u64,
}

impl Replays {
    fn count(&mut self, answer: &Result<tonic::Response<TensorMessage>, tonic::Status>) {
        self.sent += 1;
        match answer {
            Ok(_) => self.served += 1,
            Err(s) if s.code() == Code::Unauthenticated => self.refused += 1,
            Err(_) => {}
        }
    }
}

pub struct Report {
    pub row: AttackRow,
    /// The captured requests A served (v2, v1): all of them, or the capture proves nothing.
    pub served_at_a: (u64, u64),
    /// v2 captures replayed at B under B's own `:authority`.
    pub v2_at_b: Replays,
    /// v2 captures replayed at B claiming A's `:authority`.
    pub v2_at_b_as_a: Replays,
    /// v2 captures replayed at C (which requires v2).
    pub v2_at_c: Replays,
    /// v1 captures replayed at B (default: v1 accepted, so still replayable).
    pub v1_at_b: Replays,
    /// v1 captures replayed at C (`--axon_require_digest_v2`).
    pub v1_at_c: Replays,
    /// Fresh v1 requests of an honest caller that predates v2, sent to C.
    pub fresh_v1_at_c: Replays,
}

async fn client(authority: SocketAddr, to: SocketAddr) -> BittensorClient<Channel> {
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

/// A caller's `Forward` for the replicas' synapse, signed over v2 for `dialled` or over v1.
fn capture(
    caller: &NeuronKey,
    nonces: &NonceClock,
    synapse_key: &str,
    dialled: Option<&Dialled>,
) -> tonic::Request<TensorMessage> {
    let x = Tensor::from_f32(&[1, 4], &[1.0, 2.0, 3.0, 4.0], Modality::Tensor).unwrap();
    let mut msg = TensorMessage {
        synapse_key: synapse_key.to_owned(),
        tensors: vec![bt_tensor::encode(&x)],
        ..TensorMessage::default()
    };
    bt_crypto::sign_request_bound(caller, &mut msg, RpcMethod::Forward, nonces.next(), dialled);
    let mut request = tonic::Request::new(msg);
    if dialled.is_some() {
        request
            .metadata_mut()
            .insert(DIGEST_HEADER, "2".parse().unwrap());
    }
    request
}

/// The same message and metadata again.
fn again(r: &tonic::Request<TensorMessage>) -> tonic::Request<TensorMessage> {
    let mut copy = tonic::Request::new(r.get_ref().clone());
    *copy.metadata_mut() = r.metadata().clone();
    copy
}

pub async fn run() -> Report {
    let a = EchoNeuron::start(&[]).await;
    let b = EchoNeuron::start_replica(&a, &[]).await;
    let c = EchoNeuron::start_replica(&a, &["--axon_require_digest_v2"]).await;
    assert!(a.synapse_key == b.synapse_key && a.synapse_key == c.synapse_key);
    let pid = c.pid();
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    // Real dendrites (v2 once offered) calling the replica that requires v2.
    let honest = HonestLoad::start(Duration::from_millis(100), c.honest_caller());

    let (caller, nonces) = (NeuronKey::generate(), NonceClock::new());
    let to_a = Dialled::new(&a.axon.ip().to_string(), a.axon.port()).unwrap();
    let mut at_a = client(a.axon, a.axon).await;
    let mut at_b = client(b.axon, b.axon).await;
    let mut at_b_as_a = client(a.axon, b.axon).await;
    let mut at_c = client(c.axon, c.axon).await;
    let (mut served_v2, mut served_v1) = (0u64, 0u64);
    let mut report = Report {
        row: AttackRow::new("", 0, &before, &before, honest.served()),
        served_at_a: (0, 0),
        v2_at_b: Replays::default(),
        v2_at_b_as_a: Replays::default(),
        v2_at_c: Replays::default(),
        v1_at_b: Replays::default(),
        v1_at_c: Replays::default(),
        fresh_v1_at_c: Replays::default(),
    };
    let mut bytes = 0u64;
    for _ in 0..CAPTURED {
        let v2 = capture(&caller, &nonces, &a.synapse_key, Some(&to_a));
        served_v2 += u64::from(at_a.forward(again(&v2)).await.is_ok());
        report.v2_at_b.count(&at_b.forward(again(&v2)).await);
        report
            .v2_at_b_as_a
            .count(&at_b_as_a.forward(again(&v2)).await);
        report.v2_at_c.count(&at_c.forward(again(&v2)).await);

        let v1 = capture(&caller, &nonces, &a.synapse_key, None);
        served_v1 += u64::from(at_a.forward(again(&v1)).await.is_ok());
        report.v1_at_b.count(&at_b.forward(again(&v1)).await);
        report.v1_at_c.count(&at_c.forward(again(&v1)).await);
        bytes += 3 * v2.get_ref().encoded_len() as u64 + 2 * v1.get_ref().encoded_len() as u64;

        let fresh = capture(&caller, &nonces, &c.synapse_key, None);
        bytes += fresh.get_ref().encoded_len() as u64;
        report.fresh_v1_at_c.count(&at_c.forward(fresh).await);
    }
    // Enough honest calls to judge by, however fast the replays went.
    bt_testnet::eventually(Duration::from_secs(30), || honest.served().total >= 20)
        .await
        .unwrap();
    let served = honest.stop().await;
    let after = ProcStatus::read(pid).unwrap();
    report.served_at_a = (served_v2, served_v1);
    let r = &report;
    let outcome = format!(
        "v2 refused at B {}/{}, as A {}/{}, at C {}/{}; v1 served at B {}/{}, refused at C {}/{}",
        r.v2_at_b.refused,
        r.v2_at_b.sent,
        r.v2_at_b_as_a.refused,
        r.v2_at_b_as_a.sent,
        r.v2_at_c.refused,
        r.v2_at_c.sent,
        r.v1_at_b.served,
        r.v1_at_b.sent,
        r.v1_at_c.refused,
        r.v1_at_c.sent,
    );
    report.row = AttackRow::new(
        format!(
            "replica replay: {CAPTURED} v2 and {CAPTURED} v1 requests captured at A, replayed \
             at replicas B and C (C requires v2)"
        ),
        bytes,
        &before,
        &after,
        served,
    )
    .outcome(outcome);
    report
}
