#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;
use prost::Message;
use prost::encoding::{self, WireType};

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

/// The top-level fields of an encoded message: each field number with its bytes (a varint's
/// value as encoded, a length-delimited field's contents), in the order they were written.
fn fields(mut bytes: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (number, wire_type) = encoding::decode_key(&mut bytes).unwrap();
        let value = match wire_type {
            WireType::Varint => {
                let before = bytes;
                encoding::decode_varint(&mut bytes).unwrap();
                before[..before.len() - bytes.len()].to_vec()
            }
            WireType::LengthDelimited => {
                let len = usize::try_from(encoding::decode_varint(&mut bytes).unwrap()).unwrap();
                let (value, rest) = bytes.split_at(len);
                bytes = rest;
                value.to_vec()
            }
            other => panic!("the schema has no {other:?} field"),
        };
        out.push((number, value));
    }
    out
}

fn numbers(fields: &[(u32, Vec<u8>)]) -> Vec<u32> {
    fields.iter().map(|(n, _)| *n).collect()
}

/// A field number and how to set that field, and only it, on a default message.
type FieldCase<M> = (u32, fn(&mut M));

/// The derived constants name the numbers prost's generated code writes for each field.
#[test]
fn field_numbers_agree_with_the_generated_types() {
    let tensor_cases: [FieldCase<Tensor>; 6] = [
        (tensor_field::VERSION, |t| t.version = "v".into()),
        (tensor_field::BUFFER, |t| {
            t.buffer = Bytes::from_static(b"b")
        }),
        (tensor_field::SHAPE, |t| t.shape = vec![1]),
        (tensor_field::DTYPE, |t| t.dtype = 1),
        (tensor_field::MODALITY, |t| t.modality = 1),
        (tensor_field::REQUIRES_GRAD, |t| t.requires_grad = true),
    ];
    for (number, set) in tensor_cases {
        let mut only = Tensor::default();
        set(&mut only);
        assert_eq!(
            numbers(&fields(&only.encode_to_vec())),
            [number],
            "{only:?}"
        );
    }
    let message_cases: [FieldCase<TensorMessage>; 6] = [
        (message_field::VERSION, |m| m.version = "v".into()),
        (message_field::NEURON_KEY, |m| m.neuron_key = "n".into()),
        (message_field::SYNAPSE_KEY, |m| m.synapse_key = "s".into()),
        (message_field::NOUNCE, |m| m.nounce = 1),
        (message_field::SIGNATURE, |m| {
            m.signature = Bytes::from_static(b"s")
        }),
        (message_field::TENSORS, |m| {
            m.tensors = vec![Tensor::default()]
        }),
    ];
    for (number, set) in message_cases {
        let mut only = TensorMessage::default();
        set(&mut only);
        assert_eq!(
            numbers(&fields(&only.encode_to_vec())),
            [number],
            "{only:?}"
        );
    }
    // Every field of the schema was checked above, and no other.
    let mut seen = tensor_cases.map(|(n, _)| n);
    seen.sort_unstable();
    assert_eq!(seen, tensor_field::ALL);
    let mut seen = message_cases.map(|(n, _)| n);
    seen.sort_unstable();
    assert_eq!(seen, message_field::ALL);
}

/// With every field set, framing writes each field of the schema under its number and nothing
/// else: byte for byte what prost writes while buffers are small, and the same fields with a
/// large buffer moved to the end of its tensor.
#[test]
fn framing_and_schema_agree_with_every_field_set() {
    let full = |buffer: Vec<u8>| tensor(buffer, vec![2, -3, 1 << 40], 3, true);
    let small = message(vec![full(vec![1; 8]), full(vec![2; 16])], -5);
    let framed = concat(&encode_framed(&small));
    assert_eq!(framed[GRPC_PREFIX_LEN..], small.encode_to_vec()[..]);

    let mixed = message(vec![full(vec![3; SHARED_BUFFER_MIN]), full(vec![4; 8])], 9);
    let framed = concat(&encode_framed(&mixed));
    let payload = &framed[GRPC_PREFIX_LEN..];
    assert_eq!(TensorMessage::decode(payload).unwrap(), mixed);
    let top = fields(payload);
    let mut expected = message_field::ALL.to_vec();
    expected.push(message_field::TENSORS);
    assert_eq!(numbers(&top), expected);
    let tensors: Vec<_> = top
        .iter()
        .filter(|(n, _)| *n == message_field::TENSORS)
        .map(|(_, bytes)| fields(bytes))
        .collect();
    let mut buffer_last: Vec<u32> = tensor_field::ALL
        .into_iter()
        .filter(|&n| n != tensor_field::BUFFER)
        .collect();
    buffer_last.push(tensor_field::BUFFER);
    assert_eq!(numbers(&tensors[0]), buffer_last);
    assert_eq!(numbers(&tensors[1]), tensor_field::ALL);
    // Moving the buffer is the only difference from prost's bytes for that tensor.
    let mut prost_order = fields(&mixed.tensors[0].encode_to_vec());
    let at = prost_order
        .iter()
        .position(|(n, _)| *n == tensor_field::BUFFER)
        .unwrap();
    let buffer = prost_order.remove(at);
    prost_order.push(buffer);
    assert_eq!(tensors[0], prost_order);
}
