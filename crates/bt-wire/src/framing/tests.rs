#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::{Tensor, TensorMessage};

fn tensor(buffer: Vec<u8>, shape: Vec<i64>, dtype: i32, requires_grad: bool) -> Tensor {
    Tensor {
        version: "1.0.0".into(),
        buffer: Bytes::from(buffer),
        shape,
        dtype,
        modality: 2,
        requires_grad,
    }
}

fn message(tensors: Vec<Tensor>, nounce: i64) -> TensorMessage {
    TensorMessage {
        version: "0.1.0".into(),
        neuron_key: "0xabc".into(),
        synapse_key: "0xdef".into(),
        nounce,
        signature: Bytes::from_static(b"sig"),
        tensors,
    }
}

fn concat(chunks: &[Bytes]) -> Vec<u8> {
    chunks.iter().flat_map(|c| c.iter().copied()).collect()
}

/// Reads `bytes` cut at `cuts` (offsets, any order, out-of-range ones ignored).
fn read_split(bytes: &[u8], cuts: &[usize], max: usize) -> Result<TensorMessage, FramingError> {
    let mut points: Vec<usize> = cuts.iter().copied().filter(|&c| c < bytes.len()).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    points.dedup();
    let mut reader = MessageReader::new(max);
    let mut message = None;
    for pair in points.windows(2) {
        reader.push(Bytes::copy_from_slice(&bytes[pair[0]..pair[1]]))?;
        if let Some(m) = reader.take()? {
            message = Some(m);
        }
    }
    reader.finish()?;
    message.ok_or(FramingError::Truncated {
        got: 0,
        expected: 0,
    })
}

fn arb_tensor() -> impl Strategy<Value = Tensor> {
    (
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            prop::collection::vec(any::<u8>(), SHARED_BUFFER_MIN..SHARED_BUFFER_MIN + 300),
        ],
        prop::collection::vec(-3i64..1 << 40, 0..4),
        0i32..5,
        any::<bool>(),
    )
        .prop_map(|(b, s, d, g)| tensor(b, s, d, g))
}

proptest! {
    /// Any message, framed and cut anywhere, reads back as itself; the frame is a gRPC prefix
    /// around bytes prost decodes to the same message.
    #[test]
    fn framed_messages_read_back_whatever_the_cuts(
        tensors in prop::collection::vec(arb_tensor(), 0..4),
        nounce in any::<i64>(),
        cuts in prop::collection::vec(0usize..20_000, 0..8),
    ) {
        let msg = message(tensors, nounce);
        let bytes = concat(&encode_framed(&msg));
        prop_assert_eq!(bytes[0], 0);
        let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        prop_assert_eq!(len, bytes.len() - GRPC_PREFIX_LEN);
        prop_assert_eq!(len, msg.encoded_len());
        prop_assert_eq!(&TensorMessage::decode(&bytes[GRPC_PREFIX_LEN..]).unwrap(), &msg);
        prop_assert_eq!(&read_split(&bytes, &cuts, len).unwrap(), &msg);
    }

    /// Arbitrary bytes cut anywhere never panic the reader.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        cuts in prop::collection::vec(0usize..200, 0..6),
    ) {
        let _ = read_split(&bytes, &cuts, 1 << 20);
    }
}

#[test]
fn small_messages_are_one_chunk_and_large_buffers_are_shared() {
    let small = message(vec![tensor(vec![1; 100], vec![25], 1, false)], 7);
    assert_eq!(encode_framed(&small).len(), 1);

    let big = message(vec![tensor(vec![2; 1 << 20], vec![1 << 18], 1, true)], 7);
    let chunks = encode_framed(&big);
    assert_eq!(
        chunks.len(),
        2,
        "the fields, then the buffer (its field comes last)"
    );
    assert_eq!(chunks[1].as_ptr(), big.tensors[0].buffer.as_ptr());
}

#[test]
fn a_buffer_within_one_received_chunk_is_not_copied() {
    let msg = message(vec![tensor(vec![3; 1 << 16], vec![1 << 14], 1, false)], 1);
    let bytes = Bytes::from(concat(&encode_framed(&msg)));
    let mut reader = MessageReader::new(1 << 20);
    // Delivered as one frame: the decoded buffer points into it.
    reader.push(bytes.clone()).unwrap();
    let got = reader.take().unwrap().unwrap();
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    assert!(range.contains(&(got.tensors[0].buffer.as_ptr() as usize)));
    assert_eq!(got, msg);
}

#[test]
fn tiny_frames_are_copied_together() {
    // One-byte DATA frames: the reader keeps the first and one buffer for the rest, not an
    // entry per byte.
    let msg = message(vec![tensor(vec![5; 1 << 16], vec![1 << 14], 1, false)], 3);
    let bytes = concat(&encode_framed(&msg));
    let mut reader = MessageReader::new(1 << 20);
    for b in &bytes[..bytes.len() - 1] {
        reader.push(Bytes::copy_from_slice(&[*b])).unwrap();
        assert!(reader.chunk_count() <= 2);
    }
    assert!(reader.take().unwrap().is_none());
    reader
        .push(Bytes::copy_from_slice(&bytes[bytes.len() - 1..]))
        .unwrap();
    assert_eq!(reader.take().unwrap().unwrap(), msg);
    // A large frame after small ones is kept as it is, after them.
    let mut reader = MessageReader::new(1 << 20);
    reader.push(Bytes::copy_from_slice(&bytes[..10])).unwrap();
    reader.push(Bytes::copy_from_slice(&bytes[10..])).unwrap();
    assert_eq!(reader.chunk_count(), 2);
    assert_eq!(reader.take().unwrap().unwrap(), msg);
}

#[test]
fn refusals() {
    let msg = message(vec![tensor(vec![4; 64], vec![16], 1, false)], 1);
    let bytes = concat(&encode_framed(&msg));

    let mut compressed = bytes.clone();
    compressed[0] = 1;
    assert!(matches!(
        read_split(&compressed, &[], 1 << 20),
        Err(FramingError::Compressed)
    ));

    let len = bytes.len() - GRPC_PREFIX_LEN;
    assert!(matches!(
        read_split(&bytes, &[3], len - 1),
        Err(FramingError::TooLarge { max, .. }) if max == len - 1
    ));

    let mut twice = bytes.clone();
    twice.extend_from_slice(&bytes);
    assert!(matches!(
        read_split(&twice, &[bytes.len()], 1 << 20),
        Err(FramingError::TrailingData)
    ));
    assert!(matches!(
        read_split(&twice, &[], 1 << 20),
        Err(FramingError::TrailingData)
    ));

    for cut in [2, bytes.len() - 1] {
        let mut reader = MessageReader::new(1 << 20);
        reader.push(Bytes::copy_from_slice(&bytes[..cut])).unwrap();
        assert!(reader.take().unwrap().is_none());
        assert!(matches!(
            reader.finish(),
            Err(FramingError::Truncated { .. })
        ));
    }

    let mut garbage = BytesMut::new();
    garbage.put_u8(0);
    garbage.put_u32(3);
    garbage.put_slice(&[0xff, 0xff, 0xff]);
    assert!(matches!(
        read_split(&garbage, &[], 1 << 20),
        Err(FramingError::Decode(_))
    ));
}
