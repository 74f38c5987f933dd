//! What decoding a received message allocates, measured by a counting allocator: at most the
//! message's size again plus a constant set by the `DecodeLimits`, whatever the message holds.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use bt_alloc_count::peak_during;
use bt_wire::framing::{FramingError, MessageReader};
use bt_wire::scan::{DecodeLimits, LimitError};
use bt_wire::{Tensor, TensorMessage};
use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;

#[global_allocator]
static ALLOCATOR: bt_alloc_count::Counting = bt_alloc_count::Counting;

fn framed(body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(body.len() + 5);
    out.put_u8(0);
    out.put_u32(u32::try_from(body.len()).unwrap());
    out.put_slice(body);
    out.freeze()
}

/// Pushes `frame` in 64 KiB DATA frames, as a connection delivers it, then decodes.
fn read(frame: &Bytes, limits: DecodeLimits) -> Result<Option<TensorMessage>, FramingError> {
    let mut reader = MessageReader::with_limits(64 << 20, limits);
    for part in frame.chunks(64 << 10) {
        reader.push(frame.slice_ref(part))?;
    }
    reader.take()
}

/// The allowance for per-entry bookkeeping: a decoded message's `Vec<Tensor>` (doubled on
/// growth), each tensor's shape vector and allocator rounding, for `limits`.
fn constant(limits: &DecodeLimits) -> usize {
    let per_tensor = 3 * std::mem::size_of::<Tensor>() + 2 * 8 * limits.max_dims + 128;
    limits.max_tensors * per_tensor + 64 * 1024
}

#[test]
fn many_empty_tensors_are_refused_before_any_allocation_per_entry() {
    let _serial = bt_alloc_count::serial();
    // 4 MiB of empty `tensors` entries: two bytes each; decoded, about 200 MB.
    let body: Vec<u8> = std::iter::repeat_n([0x32u8, 0], 2 << 20)
        .flatten()
        .collect();
    let frame = framed(&body);
    let limits = DecodeLimits::DEFAULT;
    let (peak, result) = peak_during(|| read(&frame, limits));
    assert!(matches!(
        result,
        Err(FramingError::OverLimit(LimitError::TooManyTensors {
            max: 256
        }))
    ));
    assert!(peak < 64 << 10, "refusing cost {peak} bytes");
}

#[test]
fn a_message_at_every_limit_costs_at_most_its_size_again_plus_a_constant() {
    let _serial = bt_alloc_count::serial();
    let limits = DecodeLimits::DEFAULT;
    let tensor = Tensor {
        version: "v".repeat(limits.max_field_bytes),
        buffer: Bytes::from(vec![7u8; 4 << 10]),
        shape: vec![1; limits.max_dims],
        dtype: 1,
        modality: 0,
        requires_grad: false,
    };
    let msg = TensorMessage {
        version: "v".repeat(limits.max_field_bytes),
        neuron_key: "k".repeat(limits.max_field_bytes),
        synapse_key: "s".repeat(limits.max_field_bytes),
        nounce: 1,
        signature: Bytes::from(vec![1u8; limits.max_field_bytes]),
        tensors: vec![tensor; limits.max_tensors],
    };
    let frame = framed(&msg.encode_to_vec());
    let (peak, decoded) = peak_during(|| read(&frame, limits));
    assert_eq!(decoded.unwrap().unwrap(), msg);
    let bound = frame.len() + constant(&limits);
    assert!(
        peak <= bound,
        "decoding {} bytes cost {peak} (bound {bound})",
        frame.len()
    );
}

#[test]
fn a_large_buffer_is_not_copied() {
    let _serial = bt_alloc_count::serial();
    let msg = TensorMessage {
        tensors: vec![Tensor {
            buffer: Bytes::from(vec![3u8; 8 << 20]),
            shape: vec![2 << 20],
            dtype: 1,
            ..Default::default()
        }],
        ..Default::default()
    };
    let frame = framed(&msg.encode_to_vec());
    let (peak, decoded) = peak_during(|| read(&frame, DecodeLimits::DEFAULT));
    assert_eq!(decoded.unwrap().unwrap().tensors[0].buffer.len(), 8 << 20);
    // 64 KiB frames: a buffer spanning frames is copied once (less than the message), no more.
    assert!(peak <= frame.len() + (64 << 10), "decoding cost {peak}");
}
