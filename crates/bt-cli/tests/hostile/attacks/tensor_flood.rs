//! H1, axon: a Release-1 request of many empty tensors is two bytes a tensor on the wire and
//! about a hundred decoded. The request signature covers decoded fields, so it cannot be
//! checked first; the axon counts the tensors on the raw bytes instead and refuses the request
//! before decoding it, signed or not, while honest callers are served.

use std::time::Duration;

use bt_crypto::NeuronKey;
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};

use super::echo::{RawAnswer, empty_tensors_request, honest_dendrite, honest_forward, raw_forward};
use super::target::EchoNeuron;

/// Under the echo neuron's 64 MiB message limit.
pub const BIG: usize = 63 << 20;
pub const SMALL: usize = 8 << 20;

pub struct Report {
    pub row: AttackRow,
    /// The answers to the two 63 MiB requests (unsigned, signed) sent at once, then the 8 MiB one.
    pub answers: Vec<RawAnswer>,
    /// Bytes of the two requests in flight together (the largest load at any time).
    pub bytes_at_once: u64,
}

pub async fn run() -> Report {
    let echo = EchoNeuron::start(&["--allow_unsigned", "--max_tensors", "128"]).await;
    let axon = echo.axon.to_string();
    let pid = echo.pid();
    let tensors = |bytes: usize| bytes / 2 - 64;
    let caller = NeuronKey::from_seed([7; 32]);
    let unsigned = empty_tensors_request(&echo.synapse_key, tensors(BIG), None);
    let signed = empty_tensors_request(&echo.synapse_key, tensors(BIG), Some(&caller));
    let small = empty_tensors_request(&echo.synapse_key, tensors(SMALL), None);
    let bytes_at_once = (unsigned.len() + signed.len()) as u64;
    let sent = bytes_at_once + small.len() as u64;

    let honest = HonestLoad::start(
        Duration::from_millis(100),
        honest_forward(honest_dendrite(1), echo.endpoint()),
    );
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    let (a, b) = tokio::join!(
        raw_forward(&axon, vec![unsigned]),
        raw_forward(&axon, vec![signed])
    );
    let c = raw_forward(&axon, vec![small]).await;
    let after = ProcStatus::read(pid).unwrap();
    let served = honest.stop().await;
    let answers = vec![a, b, c];
    let refused = answers
        .iter()
        .filter(|a| a.code == tonic::Code::OutOfRange && a.message.contains("max_tensors"))
        .count();
    let row = AttackRow::new(
        "gRPC: 2 × 63 MiB at once + 8 MiB of empty tensors (unsigned, signed)",
        sent,
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "{refused}/3 refused OUT_OF_RANGE (max_tensors) before decoding"
    ));
    Report {
        row,
        answers,
        bytes_at_once,
    }
}
