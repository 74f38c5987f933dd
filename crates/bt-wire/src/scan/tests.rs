#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;
use prost::Message;
use prost::encoding::{self, WireType};

use super::*;
use crate::framing::encode_framed;
use crate::{Tensor, TensorMessage};

const WIDE: DecodeLimits = DecodeLimits {
    max_tensors: usize::MAX,
    max_dims: usize::MAX,
    max_field_bytes: usize::MAX,
};

fn arb_tensor() -> impl Strategy<Value = Tensor> {
    (
        ".{0,6}",
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..16),
            prop::collection::vec(any::<u8>(), 4096..4200),
        ],
        prop::collection::vec(any::<i64>(), 0..6),
        -2i32..8,
        any::<bool>(),
    )
        .prop_map(|(version, buffer, shape, dtype, requires_grad)| Tensor {
            version,
            buffer: buffer.into(),
            shape,
            dtype,
            modality: 2,
            requires_grad,
        })
}

fn arb_message() -> impl Strategy<Value = TensorMessage> {
    (
        ".{0,8}",
        ".{0,8}",
        any::<i64>(),
        prop::collection::vec(any::<u8>(), 0..70),
        prop::collection::vec(arb_tensor(), 0..6),
    )
        .prop_map(
            |(version, neuron_key, nounce, signature, tensors)| TensorMessage {
                version,
                neuron_key,
                synapse_key: "0xdef".into(),
                nounce,
                signature: signature.into(),
                tensors,
            },
        )
}

fn expected_census(msg: &TensorMessage) -> Census {
    Census {
        tensors: msg.tensors.len(),
        dims: msg.tensors.iter().map(|t| t.shape.len()).sum(),
        copied_bytes: msg.version.len()
            + msg.neuron_key.len()
            + msg.synapse_key.len()
            + msg.signature.len()
            + msg.tensors.iter().map(|t| t.version.len()).sum::<usize>(),
    }
}

fn framed_body(msg: &TensorMessage) -> Vec<u8> {
    let chunks = encode_framed(msg);
    chunks
        .iter()
        .flat_map(|c| c.iter().copied())
        .collect::<Vec<u8>>()[5..]
        .to_vec()
}

proptest! {
    /// The census of any message, as prost or our framing encodes it, is what its decode holds.
    #[test]
    fn census_matches_the_decoded_message(msg in arb_message()) {
        let want = expected_census(&msg);
        prop_assert_eq!(scan_tensor_message(&msg.encode_to_vec()[..], &WIDE).unwrap(), want);
        prop_assert_eq!(scan_tensor_message(&framed_body(&msg)[..], &WIDE).unwrap(), want);
    }

    /// Each limit refuses exactly the messages over it.
    #[test]
    fn limits_refuse_exactly_what_exceeds_them(msg in arb_message(), cut in 0usize..8) {
        let bytes = msg.encode_to_vec();
        let want = expected_census(&msg);
        let max_dims = msg.tensors.iter().map(|t| t.shape.len()).max().unwrap_or(0);
        let max_field = msg.tensors.iter().map(|t| t.version.len())
            .chain([msg.version.len(), msg.neuron_key.len(), msg.synapse_key.len(),
                    msg.signature.len()])
            .max().unwrap_or(0);
        let exact = DecodeLimits {
            max_tensors: want.tensors,
            max_dims,
            max_field_bytes: max_field,
        };
        prop_assert_eq!(scan_tensor_message(&bytes[..], &exact).unwrap(), want);
        let tighter = |l: DecodeLimits| scan_tensor_message(&bytes[..], &l);
        if want.tensors > 0 {
            let fewer = DecodeLimits { max_tensors: cut.min(want.tensors - 1), ..exact };
            let refused = matches!(
                tighter(fewer),
                Err(ScanError::Limit(LimitError::TooManyTensors { max })) if max == fewer.max_tensors
            );
            prop_assert!(refused);
        }
        if max_dims > 0 {
            let refused = matches!(
                tighter(DecodeLimits { max_dims: max_dims - 1, ..exact }),
                Err(ScanError::Limit(LimitError::TooManyDims { .. }))
            );
            prop_assert!(refused);
        }
        if max_field > 0 {
            let refused = matches!(
                tighter(DecodeLimits { max_field_bytes: max_field - 1, ..exact }),
                Err(ScanError::Limit(LimitError::FieldTooLong { .. }))
            );
            prop_assert!(refused);
        }
    }

    /// Arbitrary bytes never panic the scan, and whatever prost decodes within the limits the
    /// scan lets through with the same counts (no honest message is refused).
    #[test]
    fn the_scan_never_refuses_what_fits(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let scanned = scan_tensor_message(&bytes[..], &DecodeLimits::DEFAULT);
        if let Ok(decoded) = TensorMessage::decode(&bytes[..]) {
            let fits = decoded.tensors.len() <= DecodeLimits::DEFAULT.max_tensors
                && decoded.tensors.iter().all(|t| t.shape.len() <= DecodeLimits::DEFAULT.max_dims);
            if fits {
                let census = scanned.unwrap();
                prop_assert_eq!(census.tensors, decoded.tensors.len());
                prop_assert_eq!(
                    census.dims,
                    decoded.tensors.iter().map(|t| t.shape.len()).sum::<usize>()
                );
            }
        }
    }
}

/// `n` empty `tensors` entries: two bytes each on the wire.
fn empty_tensors(n: usize) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for _ in 0..n {
        encoding::encode_key(6, WireType::LengthDelimited, &mut buf);
        buf.put_u8(0);
    }
    buf.to_vec()
}

#[test]
fn many_empty_tensors_are_counted_not_decoded() {
    let bytes = empty_tensors(1000);
    let limits = DecodeLimits {
        max_tensors: 999,
        ..DecodeLimits::DEFAULT
    };
    let err = scan_tensor_message(&bytes[..], &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the message carries more than 999 tensors (limit max_tensors = 999)"
    );
    let census = scan_tensor_message(
        &bytes[..],
        &DecodeLimits {
            max_tensors: 1000,
            ..limits
        },
    );
    assert_eq!(census.unwrap().tensors, 1000);
}

#[test]
fn unpacked_and_repeated_shape_entries_add_up() {
    // One tensor whose shape comes as a packed run of 5 and 4 unpacked entries.
    let mut tensor = BytesMut::new();
    encoding::int64::encode_packed(3, &[1, 2, 3, 4, 5], &mut tensor);
    for d in 0..4i64 {
        encoding::int64::encode(3, &d, &mut tensor);
    }
    let mut msg = BytesMut::new();
    encoding::bytes::encode(6, &Bytes::from(tensor.to_vec()), &mut msg);
    let decoded = TensorMessage::decode(&msg[..]).unwrap();
    assert_eq!(decoded.tensors[0].shape.len(), 9);
    let limits = DecodeLimits {
        max_dims: 8,
        ..DecodeLimits::DEFAULT
    };
    assert!(matches!(
        scan_tensor_message(&msg[..], &limits),
        Err(ScanError::Limit(LimitError::TooManyDims {
            index: 0,
            max: 8
        }))
    ));
    let census = scan_tensor_message(
        &msg[..],
        &DecodeLimits {
            max_dims: 9,
            ..limits
        },
    )
    .unwrap();
    assert_eq!(census.dims, 9);
}

#[test]
fn a_long_string_field_is_refused_by_name() {
    let msg = TensorMessage {
        synapse_key: "k".repeat(2000),
        ..Default::default()
    };
    let err = scan_tensor_message(&msg.encode_to_vec()[..], &DecodeLimits::DEFAULT).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field TensorMessage.synapse_key is 2000 bytes long (limit max_field_bytes = 1024)"
    );
}

#[test]
fn a_length_past_the_end_is_truncated() {
    let mut msg = BytesMut::new();
    encoding::encode_key(6, WireType::LengthDelimited, &mut msg);
    encoding::encode_varint(100, &mut msg);
    msg.put_slice(&[0; 10]);
    assert!(matches!(
        scan_tensor_message(&msg[..], &DecodeLimits::DEFAULT),
        Err(ScanError::Truncated)
    ));
}
