//! Nonce-table flood (finding M2): an attacker mints neuron keys, each signing one request with
//! a nonce at the edge of the axon's future window (now + 2 s), as fast as it can, from several
//! addresses. Before the fix the table evicted its least recently seen caller when full and
//! raised a global floor to the evicted caller's highest nonce, so once the minted keys had
//! filled it the floor sat above every honest clock and every new caller was refused as a
//! replay. Now a caller is forgotten only when its nonces are stale, nothing live is evicted,
//! and one address holds at most `max_callers_per_ip` entries.

use std::time::Duration;

use bt_crypto::{NeuronKey, RpcMethod};
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use bt_wire::TensorMessage;
use prost::Message as _;

use super::target::{EchoNeuron, minted_key_flood};

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

    let flood = minted_key_flood(&neuron, ADDRESSES, IN_FLIGHT, DURATION, at_the_edge, |r| {
        r.is_ok()
    })
    .await;
    let served = honest.stop().await;
    let after = ProcStatus::read(pid).unwrap();
    let (attacker_sent, attacker_accepted) = (flood.sent, flood.hits);
    let row = AttackRow::new(
        format!(
            "nonce flood: {attacker_sent} requests by minted keys at now+1.9 s from \
             {ADDRESSES} addresses"
        ),
        flood.bytes,
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

/// Signed by a key minted for it, with a nonce at the edge of the axon's future window.
fn at_the_edge(mut msg: TensorMessage) -> (tonic::Request<TensorMessage>, u64) {
    let edge = bt_crypto::unix_nanos() + 1_900_000_000;
    bt_crypto::sign_request(&NeuronKey::generate(), &mut msg, RpcMethod::Forward, edge);
    let bytes = msg.encoded_len() as u64;
    (tonic::Request::new(msg), bytes)
}
