//! Replay at a replica (finding L): one synapse key served by two axons (replicas of one
//! operator), each with its own nonce table. The v1 request digest binds the synapse key, not
//! the axon, so a request captured on its way to one replica is served again by the other within
//! the nonce window. The v2 digest binds the endpoint dialled, which each axon checks against
//! its own: the replay is refused whichever `:authority` it carries. An axon started with
//! `--axon_require_digest_v2` refuses v1 requests too, while this project's dendrites, which
//! sign v2 once an axon offers it, are served from their first call.
//!
//! Three `bittensor neuron echo` processes: A and B serve one synapse key with the default
//! settings, C serves it with `--axon_require_digest_v2`. A is reached through a port forward
//! that keeps a copy of every request ([`Tap`]: an observer on the path), and is published
//! under that port (`--external_port`). Two real dendrites call A through it: a current one
//! (v2 once A has said it accepts v2) and one configured as a dendrite that predates v2 (v1).
//! Every captured request was served by A, which proves it genuine; then the same message and
//! metadata are sent to B and to C.

use std::time::Duration;

use bt_crypto::NeuronKey;
use bt_dendrite::{Dendrite, DendriteConfig, Endpoint, Inputs, Outcome};
use bt_tensor::{Modality, Tensor};
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use bt_wire::TensorMessage;
use bt_wire::bittensor_client::BittensorClient;
use prost::Message as _;
use tonic::Code;
use tonic::transport::Channel;

use super::tap::{Captured, Tap, client_as};
use super::target::EchoNeuron;

/// Requests each caller makes to A, each then replayed at the other replicas.
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
    /// Calls of the current dendrite and of the one that predates v2 that A served (through
    /// the tap): all of them, or the capture proves nothing.
    pub served_at_a: (u64, u64),
    /// The captured requests of each (v2, v1): all those of the current dendrite after its
    /// first answer from A are v2; all of the other's v1.
    pub captured: (u64, u64),
    /// v2 captures replayed at B under B's own `:authority`.
    pub v2_at_b: Replays,
    /// v2 captures replayed at B under the `:authority` the caller dialled (the tap's, which
    /// its signature binds).
    pub v2_at_b_as_dialled: Replays,
    /// v2 captures replayed at C (which requires v2).
    pub v2_at_c: Replays,
    /// v1 captures replayed at B (default: v1 accepted, so still replayable).
    pub v1_at_b: Replays,
    /// v1 captures replayed at C (`--axon_require_digest_v2`).
    pub v1_at_c: Replays,
    /// Calls of the dendrite that predates v2 sent to C itself, refused `UNAUTHENTICATED`.
    pub fresh_v1_refused_at_c: (u64, u64),
}

fn dendrite(digest_v2: bool) -> Dendrite {
    Dendrite::new(
        NeuronKey::generate(),
        DendriteConfig {
            // Each request signed: a session request is bound to its axon already.
            sessions: false,
            digest_v2,
            timeout: Duration::from_secs(5),
            ..DendriteConfig::default()
        },
    )
}

async fn call(d: &Dendrite, endpoint: &Endpoint) -> Outcome {
    let x = Tensor::from_f32(&[1, 4], &[1.0, 2.0, 3.0, 4.0], Modality::Tensor).unwrap();
    d.forward_tensor(Inputs::broadcast([endpoint.clone()], x))
        .await
        .unwrap()
        .remove(0)
        .outcome
}

async fn replay_all(
    captures: &[&Captured],
    client: &mut BittensorClient<Channel>,
    replays: &mut Replays,
    bytes: &mut u64,
) {
    for c in captures {
        *bytes += c.message.encoded_len() as u64;
        replays.count(&client.forward(c.request()).await);
    }
}

pub async fn run() -> Report {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tap_port = listener.local_addr().unwrap().port().to_string();
    let a = EchoNeuron::start(&["--external_port", &tap_port]).await;
    let tap = Tap::serve(listener, a.axon).await;
    let b = EchoNeuron::start_replica(&a, &[]).await;
    let c = EchoNeuron::start_replica(&a, &["--axon_require_digest_v2"]).await;
    assert!(a.synapse_key == b.synapse_key && a.synapse_key == c.synapse_key);
    let pid = c.pid();
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    // Real dendrites (v2 once offered) calling the replica that requires v2.
    let honest = HonestLoad::start(Duration::from_millis(100), c.honest_caller());

    // The callers of A, through the tap.
    let via_tap = Endpoint::new("127.0.0.1", tap.addr.port(), a.synapse_key.clone());
    let (current, old) = (dendrite(true), dendrite(false));
    // The current dendrite's first request goes before A has said it accepts v2: v1.
    assert!(call(&current, &via_tap).await.is_ok());
    let first = tap.captured().len();
    let mut served_at_a = (0u64, 0u64);
    for _ in 0..CAPTURED {
        served_at_a.0 += u64::from(call(&current, &via_tap).await.is_ok());
        served_at_a.1 += u64::from(call(&old, &via_tap).await.is_ok());
    }
    let captures = tap.captured();
    let later = &captures[first.min(captures.len())..];
    let v2: Vec<&Captured> = later.iter().filter(|c| c.is_v2()).collect();
    let v1: Vec<&Captured> = later.iter().filter(|c| !c.is_v2()).collect();

    let mut at_b = client_as(b.axon, b.axon).await;
    let mut at_b_as_dialled = client_as(tap.addr, b.axon).await;
    let mut at_c = client_as(c.axon, c.axon).await;
    let mut bytes = 0u64;
    let mut report = Report {
        row: AttackRow::new("", 0, &before, &before, honest.served()),
        served_at_a,
        captured: (v2.len() as u64, v1.len() as u64),
        v2_at_b: Replays::default(),
        v2_at_b_as_dialled: Replays::default(),
        v2_at_c: Replays::default(),
        v1_at_b: Replays::default(),
        v1_at_c: Replays::default(),
        fresh_v1_refused_at_c: (0, 0),
    };
    replay_all(&v2, &mut at_b, &mut report.v2_at_b, &mut bytes).await;
    replay_all(
        &v2,
        &mut at_b_as_dialled,
        &mut report.v2_at_b_as_dialled,
        &mut bytes,
    )
    .await;
    replay_all(&v2, &mut at_c, &mut report.v2_at_c, &mut bytes).await;
    replay_all(&v1, &mut at_b, &mut report.v1_at_b, &mut bytes).await;
    replay_all(&v1, &mut at_c, &mut report.v1_at_c, &mut bytes).await;

    let at_c_direct = Endpoint::new("127.0.0.1", c.axon.port(), c.synapse_key.clone());
    for _ in 0..CAPTURED {
        let refused = matches!(
            call(&old, &at_c_direct).await,
            Outcome::Rejected {
                code: Code::Unauthenticated,
                ..
            }
        );
        report.fresh_v1_refused_at_c.0 += u64::from(refused);
        report.fresh_v1_refused_at_c.1 += 1;
    }

    // Enough honest calls to judge by, however fast the replays went.
    bt_testnet::eventually(Duration::from_secs(30), || honest.served().total >= 20)
        .await
        .unwrap();
    let served = honest.stop().await;
    let after = ProcStatus::read(pid).unwrap();
    let r = &report;
    let outcome = format!(
        "v2 refused at B {}/{}, as dialled {}/{}, at C {}/{}; v1 served at B {}/{}, refused at C \
         {}/{}",
        r.v2_at_b.refused,
        r.v2_at_b.sent,
        r.v2_at_b_as_dialled.refused,
        r.v2_at_b_as_dialled.sent,
        r.v2_at_c.refused,
        r.v2_at_c.sent,
        r.v1_at_b.served,
        r.v1_at_b.sent,
        r.v1_at_c.refused,
        r.v1_at_c.sent,
    );
    report.row = AttackRow::new(
        format!(
            "replica replay: {CAPTURED} v2 and {CAPTURED} v1 dendrite requests captured on the \
             way to A, replayed at replicas B and C (C requires v2)"
        ),
        bytes,
        &before,
        &after,
        served,
    )
    .outcome(outcome);
    report
}
