//! Session-handshake flood (finding L): an attacker mints neuron keys and opens a session with
//! each (a signed request carrying `bt-session-offer`), as fast as it can, from several
//! addresses, while an honest caller works under its own session. Before the fix a full table
//! dropped its least recently used session for every newcomer, so a flood pushed out sessions
//! in use; now a session used within `session_protect_recent` is never dropped for another
//! caller's, and one address holds at most `max_sessions_per_ip` sessions.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bt_crypto::session::{ACCEPT_HEADER, OFFER_HEADER, SessionInitiator};
use bt_crypto::{NeuronKey, RpcMethod};
use bt_tensor::{Modality, Tensor};
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use bt_wire::TensorMessage;
use bt_wire::bittensor_client::BittensorClient;
use prost::Message as _;

use super::target::{EchoNeuron, channel_from, metric};

pub const ADDRESSES: u8 = 4;
const IN_FLIGHT: usize = 8;
pub const DURATION: Duration = Duration::from_secs(10);
/// The axon's default `max_sessions_per_ip`.
pub const PER_IP: u64 = 1_024;

pub struct Report {
    pub row: AttackRow,
    pub attacker_sessions: u64,
    /// Session requests the axon refused (an honest session pushed out shows here).
    pub session_refusals: u64,
}

pub async fn run() -> Report {
    let metrics_port = bt_testnet::free_port().unwrap().to_string();
    let neuron = EchoNeuron::start(&["--metrics_port", &metrics_port]).await;
    let metrics = format!("127.0.0.1:{metrics_port}");
    let pid = neuron.pid();
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    let honest = HonestLoad::start(Duration::from_millis(100), neuron.honest_caller());

    let sessions = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + DURATION;
    let mut workers = Vec::new();
    for a in 0..ADDRESSES {
        let channel = channel_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + a)), neuron.axon).await;
        for _ in 0..IN_FLIGHT {
            let (channel, key) = (channel.clone(), neuron.synapse_key.clone());
            let (sessions, sent, bytes) = (sessions.clone(), sent.clone(), bytes.clone());
            workers.push(tokio::spawn(async move {
                let mut client = BittensorClient::new(channel);
                let x = Tensor::from_f32(&[1, 1], &[1.0], Modality::Tensor).unwrap();
                while Instant::now() < deadline {
                    let me = NeuronKey::generate();
                    let mut msg = TensorMessage {
                        synapse_key: key.clone(),
                        tensors: vec![bt_tensor::encode(&x)],
                        ..TensorMessage::default()
                    };
                    bt_crypto::sign_request(
                        &me,
                        &mut msg,
                        RpcMethod::Forward,
                        bt_crypto::unix_nanos(),
                    );
                    let offer = SessionInitiator::generate()
                        .offer(&me, &bt_crypto::message_digest(&msg, RpcMethod::Forward));
                    bytes.fetch_add(msg.encoded_len() as u64 + 200, Ordering::Relaxed);
                    let mut req = tonic::Request::new(msg);
                    req.metadata_mut()
                        .insert(OFFER_HEADER, offer.encode().parse().unwrap());
                    sent.fetch_add(1, Ordering::Relaxed);
                    if let Ok(resp) = client.forward(req).await
                        && resp.metadata().get(ACCEPT_HEADER).is_some()
                    {
                        sessions.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
    }
    for w in workers {
        w.await.unwrap();
    }
    let served = honest.stop().await;
    let after = ProcStatus::read(pid).unwrap();
    let session_refusals = metric(&metrics, "bt_axon_session_refusals_total").await;
    let attacker_sessions = sessions.load(Ordering::Relaxed);
    let row = AttackRow::new(
        format!(
            "session handshakes by {} minted keys from {ADDRESSES} addresses",
            sent.load(Ordering::Relaxed)
        ),
        bytes.load(Ordering::Relaxed),
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "{attacker_sessions} attacker sessions opened, {session_refusals} session requests \
         refused (the honest session kept)"
    ));
    Report {
        row,
        attacker_sessions,
        session_refusals,
    }
}
