//! Nonce-table flood (finding M2): an attacker mints neuron keys, each signing one request with
//! a nonce at the edge of the axon's future window (now + 2 s), as fast as it can, from several
//! addresses. Before the fix the table evicted its least recently seen caller when full and
//! raised a global floor to the evicted caller's highest nonce, so once the minted keys had
//! filled it the floor sat above every honest clock and every new caller was refused as a
//! replay. Now a caller is forgotten only when its nonces are stale, nothing live is evicted,
//! and one address holds at most `max_callers_per_ip` entries.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bt_crypto::{NeuronKey, RpcMethod};
use bt_tensor::{Modality, Tensor};
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use bt_wire::TensorMessage;
use bt_wire::bittensor_client::BittensorClient;
use prost::Message as _;

use super::target::{EchoNeuron, channel_from};

pub const ADDRESSES: u8 = 4;
/// Requests in flight per attacking address.
const IN_FLIGHT: usize = 16;
pub const DURATION: Duration = Duration::from_secs(12);

pub struct Report {
    pub row: AttackRow,
    /// Minted keys whose request the axon accepted (each took a table entry).
    pub attacker_accepted: u64,
    pub attacker_sent: u64,
}

pub async fn run() -> Report {
    let neuron = EchoNeuron::start(&[]).await;
    let pid = neuron.pid();
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    let honest = HonestLoad::start(Duration::from_millis(100), neuron.newcomer_caller());

    let sent = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + DURATION;
    let mut workers = Vec::new();
    for a in 0..ADDRESSES {
        let channel = channel_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + a)), neuron.axon).await;
        for _ in 0..IN_FLIGHT {
            let (channel, key) = (channel.clone(), neuron.synapse_key.clone());
            let (sent, accepted, bytes) = (sent.clone(), accepted.clone(), bytes.clone());
            workers.push(tokio::spawn(async move {
                let mut client = BittensorClient::new(channel);
                let x = Tensor::from_f32(&[1, 1], &[1.0], Modality::Tensor).unwrap();
                while Instant::now() < deadline {
                    let mut msg = TensorMessage {
                        synapse_key: key.clone(),
                        tensors: vec![bt_tensor::encode(&x)],
                        ..TensorMessage::default()
                    };
                    let edge = bt_crypto::unix_nanos() + 1_900_000_000;
                    bt_crypto::sign_request(
                        &NeuronKey::generate(),
                        &mut msg,
                        RpcMethod::Forward,
                        edge,
                    );
                    bytes.fetch_add(msg.encoded_len() as u64, Ordering::Relaxed);
                    sent.fetch_add(1, Ordering::Relaxed);
                    if client.forward(msg).await.is_ok() {
                        accepted.fetch_add(1, Ordering::Relaxed);
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
    let (attacker_sent, attacker_accepted) = (
        sent.load(Ordering::Relaxed),
        accepted.load(Ordering::Relaxed),
    );
    let row = AttackRow::new(
        format!(
            "nonce flood: {attacker_sent} requests by minted keys at now+1.9 s from \
             {ADDRESSES} addresses"
        ),
        bytes.load(Ordering::Relaxed),
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "{attacker_accepted} attacker keys admitted to the nonce table, the rest refused; new \
         honest keys each call"
    ));
    Report {
        row,
        attacker_accepted,
        attacker_sent,
    }
}
