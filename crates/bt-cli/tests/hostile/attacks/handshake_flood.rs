//! Session-handshake flood (finding L): an attacker mints neuron keys and opens a session with
//! each (a signed request carrying `bt-session-offer`), as fast as it can, from several
//! addresses, while an honest caller works under its own session. Before the fix a full table
//! dropped its least recently used session for every newcomer, so a flood pushed out sessions
//! in use; now a session used within `session_protect_recent` is never dropped for another
//! caller's, and one address holds at most `max_sessions_per_ip` sessions.

use std::time::Duration;

use bt_crypto::session::{ACCEPT_HEADER, OFFER_HEADER, SessionInitiator};
use bt_crypto::{NeuronKey, RpcMethod};
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use bt_wire::TensorMessage;
use prost::Message as _;

use super::target::{EchoNeuron, metric, minted_key_flood};

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

    let flood = minted_key_flood(&neuron, ADDRESSES, IN_FLIGHT, DURATION, offering, |r| {
        r.as_ref()
            .is_ok_and(|resp| resp.metadata().get(ACCEPT_HEADER).is_some())
    })
    .await;
    let served = honest.stop().await;
    let after = ProcStatus::read(pid).unwrap();
    let session_refusals = metric(&metrics, "bt_axon_session_refusals_total").await;
    let attacker_sessions = flood.hits;
    let row = AttackRow::new(
        format!(
            "session handshakes by {} minted keys from {ADDRESSES} addresses",
            flood.sent
        ),
        flood.bytes,
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

/// Signed by a key minted for it, offering that key a session.
fn offering(mut msg: TensorMessage) -> (tonic::Request<TensorMessage>, u64) {
    let me = NeuronKey::generate();
    bt_crypto::sign_request(&me, &mut msg, RpcMethod::Forward, bt_crypto::unix_nanos());
    let offer = SessionInitiator::generate()
        .offer(&me, &bt_crypto::message_digest(&msg, RpcMethod::Forward))
        .encode();
    let bytes = (msg.encoded_len() + OFFER_HEADER.len() + offer.len()) as u64;
    let mut request = tonic::Request::new(msg);
    request
        .metadata_mut()
        .insert(OFFER_HEADER, offer.parse().unwrap());
    (request, bytes)
}
