//! M4: TEXT requests whose pickle amplifies in the validator. A list of back-references
//! (`BINGET`, two bytes each) or of one-character strings (four bytes each) used to be built
//! as a list of one entry per string before the count limit; now it is counted first and
//! nothing is built. Sent signed to a real echo neuron, which validates every request's tensors.

use std::time::Duration;

use bt_crypto::{NeuronKey, RpcMethod};
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use bytes::Bytes;

use super::echo::{RawAnswer, honest_dendrite, honest_forward, raw_forward};
use super::target::EchoNeuron;

/// 60 MiB of back-references to one string.
pub const BACK_REFS: usize = 30 << 20;
/// 48 MiB of one-character strings, each memoized.
pub const ONE_CHAR: usize = 12 << 20;

pub struct Report {
    pub row: AttackRow,
    /// Answers to the back-reference and the one-character pickles.
    pub back_refs: RawAnswer,
    pub one_char: RawAnswer,
    /// The largest request sent (they are sent one after the other).
    pub largest: u64,
}

pub async fn run() -> Report {
    let echo = EchoNeuron::start(&[]).await;
    let axon = echo.axon.to_string();
    let pid = echo.pid();
    let caller = NeuronKey::from_seed([9; 32]);

    // Declares the most strings the axon accepts (16 Mi), holds twice as many references.
    let mut refs = vec![0x80, 4, b']', 0x94, b'(', 0x8c, 1, b'a', 0x94];
    refs.extend(std::iter::repeat_n([b'h', 1], BACK_REFS).flatten());
    refs.extend_from_slice(b"e.");
    let refs = signed_text(&caller, &echo.synapse_key, refs, 16 << 20);

    let mut chars = vec![0x80, 4, b']', 0x94, b'('];
    chars.extend(std::iter::repeat_n([0x8c, 1, b'a', 0x94], ONE_CHAR).flatten());
    chars.extend_from_slice(b"e.");
    let chars = signed_text(&caller, &echo.synapse_key, chars, ONE_CHAR);

    let size = |c: &[Bytes]| c.iter().map(Bytes::len).sum::<usize>() as u64;
    let (refs_len, chars_len) = (size(&refs), size(&chars));

    let honest = HonestLoad::start(
        Duration::from_millis(100),
        honest_forward(honest_dendrite(2), echo.endpoint()),
    );
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    let back_refs = raw_forward(&axon, refs).await;
    let one_char = raw_forward(&axon, chars).await;
    let after = ProcStatus::read(pid).unwrap();
    let served = honest.stop().await;
    let row = AttackRow::new(
        "gRPC TEXT: 60 MiB of pickle back-references, then 48 MiB of 1-char strings (signed)",
        refs_len + chars_len,
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "back-references {:?}; 1-char strings {:?}, echoed {} MiB",
        back_refs.code,
        one_char.code,
        one_char.response_bytes >> 20
    ));
    Report {
        row,
        back_refs,
        one_char,
        largest: refs_len.max(chars_len),
    }
}

/// A signed `Forward` of one UTF8 TEXT tensor holding `pickle`, shape `[strings, 1]`.
fn signed_text(
    caller: &NeuronKey,
    synapse_key: &str,
    pickle: Vec<u8>,
    strings: usize,
) -> Vec<Bytes> {
    let mut msg = bt_wire::TensorMessage {
        synapse_key: synapse_key.to_string(),
        tensors: vec![bt_wire::Tensor {
            buffer: Bytes::from(pickle),
            shape: vec![i64::try_from(strings).unwrap(), 1],
            dtype: bt_wire::DataType::Utf8 as i32,
            modality: bt_wire::Modality::Text as i32,
            ..Default::default()
        }],
        ..Default::default()
    };
    bt_crypto::sign_request(
        caller,
        &mut msg,
        RpcMethod::Forward,
        bt_crypto::unix_nanos(),
    );
    bt_wire::framing::encode_framed(&msg)
}
