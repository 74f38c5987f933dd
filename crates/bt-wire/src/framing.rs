//! gRPC message framing that never copies a tensor buffer.
//!
//! tonic's codec encodes a message into one contiguous buffer and decodes from another one it
//! fills from the connection's DATA frames: on top of the socket's own copies, a 1 MiB tensor
//! is copied once by the sender and once by the receiver. Here a message is framed as a list
//! of chunks in which every large tensor buffer is a chunk of its own (a reference count on the
//! caller's buffer), and decoded from the chunks the connection delivered, each large buffer
//! sliced out of the chunk that holds it.
//!
//! The bytes are plain gRPC (a 5-byte prefix: uncompressed flag, big-endian length) around a plain
//! protobuf message, readable by any gRPC peer. One liberty is taken: a large buffer's field comes
//! last in its tensor rather than in field-number order, which protobuf allows. The keys written
//! here take their numbers from [`crate::field_numbers`], generated from the schema with the types.

use std::collections::VecDeque;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::Message;
use prost::encoding::{self, WireType};

use crate::field_numbers::{tensor as tensor_field, tensor_message as message_field};
use crate::scan::{DecodeLimits, LimitError, ScanError, scan_tensor_message};
use crate::{Tensor, TensorMessage};

/// The gRPC length prefix: one flag byte (compressed or not) and a big-endian `u32` length.
pub const GRPC_PREFIX_LEN: usize = 5;
/// Tensor buffers at least this large travel as their own chunk; smaller ones are copied next
/// to the fields around them (a chunk of its own costs more than copying a few KiB).
pub const SHARED_BUFFER_MIN: usize = 4 << 10;

/// Why a received message could not be framed or decoded.
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    #[error("compressed messages are not accepted: send them uncompressed")]
    Compressed,
    #[error("the message ({len} bytes) is too large: the limit is {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("a unary call carries one message; more bytes followed it")]
    TrailingData,
    #[error("the call ended inside a message ({got} of {expected} bytes)")]
    Truncated { got: usize, expected: usize },
    #[error("failed to decode the protobuf message: {0}")]
    Decode(#[from] prost::DecodeError),
    /// The message holds more than [`DecodeLimits`] allow; it was not decoded.
    #[error("the message was refused before decoding: {0}")]
    OverLimit(#[from] LimitError),
}

/// `msg` with its gRPC prefix, as chunks to send in order. Large tensor buffers are shared,
/// not copied.
pub fn encode_framed(msg: &TensorMessage) -> Vec<Bytes> {
    // Reordering fields does not change a tensor's encoded length. Computed again when each
    // tensor is written rather than collected: a list would cost an allocation per message.
    let top_len = top_fields_len(msg)
        + msg
            .tensors
            .iter()
            .map(|t| encoding::message::encoded_len(message_field::TENSORS, t))
            .sum::<usize>();
    let shared: usize = msg
        .tensors
        .iter()
        .map(|t| t.buffer.len())
        .filter(|&len| len >= SHARED_BUFFER_MIN)
        .sum();
    let mut chunks = Vec::with_capacity(1 + 2 * msg.tensors.len());
    let mut head = BytesMut::with_capacity(GRPC_PREFIX_LEN + top_len - shared);
    head.put_u8(0);
    // A message over 4 GiB cannot be framed; the sender's size limit is far below that.
    head.put_u32(u32::try_from(top_len).unwrap_or(u32::MAX));
    encode_top_fields(msg, &mut head);
    for tensor in &msg.tensors {
        encoding::encode_key(message_field::TENSORS, WireType::LengthDelimited, &mut head);
        encoding::encode_varint(tensor.encoded_len() as u64, &mut head);
        if tensor.buffer.len() < SHARED_BUFFER_MIN {
            tensor.encode_raw(&mut head);
            continue;
        }
        without_buffer(tensor).encode_raw(&mut head);
        encoding::encode_key(tensor_field::BUFFER, WireType::LengthDelimited, &mut head);
        encoding::encode_varint(tensor.buffer.len() as u64, &mut head);
        chunks.push(head.split().freeze());
        chunks.push(tensor.buffer.clone());
    }
    if !head.is_empty() {
        chunks.push(head.freeze());
    }
    chunks
}

fn without_buffer(tensor: &Tensor) -> Tensor {
    Tensor {
        version: tensor.version.clone(),
        buffer: Bytes::new(),
        shape: tensor.shape.clone(),
        dtype: tensor.dtype,
        modality: tensor.modality,
        requires_grad: tensor.requires_grad,
    }
}

/// `TensorMessage`'s fields other than its tensors, as prost writes them (proto3: defaults are
/// left out).
fn encode_top_fields(msg: &TensorMessage, buf: &mut BytesMut) {
    if !msg.version.is_empty() {
        encoding::string::encode(message_field::VERSION, &msg.version, buf);
    }
    if !msg.neuron_key.is_empty() {
        encoding::string::encode(message_field::NEURON_KEY, &msg.neuron_key, buf);
    }
    if !msg.synapse_key.is_empty() {
        encoding::string::encode(message_field::SYNAPSE_KEY, &msg.synapse_key, buf);
    }
    if msg.nounce != 0 {
        encoding::int64::encode(message_field::NOUNCE, &msg.nounce, buf);
    }
    if !msg.signature.is_empty() {
        encoding::bytes::encode(message_field::SIGNATURE, &msg.signature, buf);
    }
}

fn top_fields_len(msg: &TensorMessage) -> usize {
    let mut len = 0;
    if !msg.version.is_empty() {
        len += encoding::string::encoded_len(message_field::VERSION, &msg.version);
    }
    if !msg.neuron_key.is_empty() {
        len += encoding::string::encoded_len(message_field::NEURON_KEY, &msg.neuron_key);
    }
    if !msg.synapse_key.is_empty() {
        len += encoding::string::encoded_len(message_field::SYNAPSE_KEY, &msg.synapse_key);
    }
    if msg.nounce != 0 {
        len += encoding::int64::encoded_len(message_field::NOUNCE, &msg.nounce);
    }
    if !msg.signature.is_empty() {
        len += encoding::bytes::encoded_len(message_field::SIGNATURE, &msg.signature);
    }
    len
}

/// Collects a call's DATA frames and decodes its one message from them without copying the
/// frames that hold tensor buffers. Memory is bounded by the message size limit: after the
/// first frame, frames under [`SHARED_BUFFER_MIN`] are copied together (a peer sending one-byte
/// frames cannot make us keep a list entry per byte), larger ones are kept as they are. Before
/// decoding, the message is scanned against its [`DecodeLimits`] ([`crate::scan`]), so that its
/// decode costs at most its size again plus a constant.
#[derive(Debug)]
pub struct MessageReader {
    chunks: VecDeque<Bytes>,
    /// Small frames, copied together; always the last part of the message so far.
    tail: BytesMut,
    buffered: usize,
    max_message: usize,
    limits: DecodeLimits,
    /// The message's length, once its prefix is in.
    expected: Option<usize>,
    done: bool,
}

impl MessageReader {
    /// A reader that refuses messages longer than `max_message` bytes or over the default
    /// [`DecodeLimits`].
    pub fn new(max_message: usize) -> Self {
        Self::with_limits(max_message, DecodeLimits::DEFAULT)
    }

    /// A reader that refuses messages longer than `max_message` bytes or over `limits`.
    pub fn with_limits(max_message: usize, limits: DecodeLimits) -> Self {
        Self {
            chunks: VecDeque::new(),
            tail: BytesMut::new(),
            buffered: 0,
            max_message,
            limits,
            expected: None,
            done: false,
        }
    }

    /// One DATA frame's bytes. Bytes after the message are refused.
    pub fn push(&mut self, data: Bytes) -> Result<(), FramingError> {
        if data.is_empty() {
            return Ok(());
        }
        if self.done {
            return Err(FramingError::TrailingData);
        }
        if let Some(len) = self.expected
            && self.buffered + data.len() > GRPC_PREFIX_LEN + len
        {
            return Err(FramingError::TrailingData);
        }
        self.buffered += data.len();
        // The first frame is kept as it is whatever its size: a small message then costs no
        // copy. Only the small frames that follow are copied together.
        let first = self.chunks.is_empty() && self.tail.is_empty();
        if data.len() < SHARED_BUFFER_MIN && !first {
            self.tail.extend_from_slice(&data);
        } else {
            if !self.tail.is_empty() {
                self.chunks.push_back(self.tail.split().freeze());
            }
            self.chunks.push_back(data);
        }
        if self.expected.is_none() && self.buffered >= GRPC_PREFIX_LEN {
            let prefix = self.prefix();
            if prefix[0] != 0 {
                return Err(FramingError::Compressed);
            }
            let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
            if len > self.max_message {
                return Err(FramingError::TooLarge {
                    len,
                    max: self.max_message,
                });
            }
            if self.buffered > GRPC_PREFIX_LEN + len {
                return Err(FramingError::TrailingData);
            }
            self.expected = Some(len);
        }
        Ok(())
    }

    /// The first [`GRPC_PREFIX_LEN`] bytes (at least that many are buffered).
    fn prefix(&self) -> [u8; GRPC_PREFIX_LEN] {
        let mut out = [0u8; GRPC_PREFIX_LEN];
        let mut filled = 0;
        for part in self.chunks.iter().map(|c| &c[..]).chain([&self.tail[..]]) {
            let n = part.len().min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&part[..n]);
            filled += n;
            if filled == out.len() {
                break;
            }
        }
        out
    }

    /// The message, once all of it is in (then every later byte is refused).
    pub fn take(&mut self) -> Result<Option<TensorMessage>, FramingError> {
        let Some(len) = self.expected else {
            return Ok(None);
        };
        if self.done || self.buffered < GRPC_PREFIX_LEN + len {
            return Ok(None);
        }
        self.done = true;
        let mut chunks = std::mem::take(&mut self.chunks);
        if !self.tail.is_empty() {
            chunks.push_back(self.tail.split().freeze());
        }
        let mut segments = Segments {
            chunks,
            remaining: self.buffered,
        };
        self.buffered = 0;
        segments.advance(GRPC_PREFIX_LEN);
        match scan_tensor_message(segments.cursor(), &self.limits) {
            // A truncated field is left for prost to report in its own words: everything
            // before it was within the limits, so the decode stays bounded until it fails.
            Ok(_) | Err(ScanError::Truncated) => {}
            Err(ScanError::Limit(e)) => return Err(e.into()),
            Err(ScanError::Malformed(e)) => return Err(e.into()),
        }
        Ok(Some(TensorMessage::decode(&mut segments)?))
    }

    /// Called at the end of the call: whether a message was cut short.
    pub fn finish(&self) -> Result<(), FramingError> {
        match self.expected {
            Some(len) if !self.done => Err(FramingError::Truncated {
                got: self.buffered.saturating_sub(GRPC_PREFIX_LEN),
                expected: len,
            }),
            None if self.buffered > 0 => Err(FramingError::Truncated {
                got: self.buffered,
                expected: GRPC_PREFIX_LEN,
            }),
            _ => Ok(()),
        }
    }

    /// Entries held for the message so far (for tests of the memory bound).
    pub fn chunk_count(&self) -> usize {
        self.chunks.len() + usize::from(!self.tail.is_empty())
    }
}

impl Segments {
    /// A read-only view of what is left, for a scan that must not consume it.
    fn cursor(&self) -> Cursor<'_> {
        Cursor {
            chunks: &self.chunks,
            index: 0,
            offset: 0,
            remaining: self.remaining,
        }
    }
}

/// [`Segments`] read without being consumed: a position over the same chunks.
struct Cursor<'a> {
    chunks: &'a VecDeque<Bytes>,
    index: usize,
    offset: usize,
    remaining: usize,
}

impl Buf for Cursor<'_> {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.chunks
            .get(self.index)
            .and_then(|c| c.get(self.offset..))
            .unwrap_or(&[])
    }

    fn advance(&mut self, mut cnt: usize) {
        assert!(cnt <= self.remaining, "advance past the end of the message");
        self.remaining -= cnt;
        while cnt > 0 {
            let Some(front) = self.chunks.get(self.index) else {
                return;
            };
            let left = front.len() - self.offset;
            if left > cnt {
                self.offset += cnt;
                return;
            }
            cnt -= left;
            self.index += 1;
            self.offset = 0;
        }
        while self
            .chunks
            .get(self.index)
            .is_some_and(|c| c.len() == self.offset)
        {
            self.index += 1;
            self.offset = 0;
        }
    }
}

/// Received chunks read as one buffer. `copy_to_bytes` (how prost reads a `bytes` field)
/// slices the chunk when the field lies within one, which a large buffer in a large DATA
/// frame does.
struct Segments {
    chunks: VecDeque<Bytes>,
    remaining: usize,
}

impl Buf for Segments {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.chunks.front().map_or(&[], |c| &c[..])
    }

    fn advance(&mut self, mut cnt: usize) {
        assert!(cnt <= self.remaining, "advance past the end of the message");
        self.remaining -= cnt;
        while cnt > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if front.len() > cnt {
                front.advance(cnt);
                return;
            }
            cnt -= front.len();
            self.chunks.pop_front();
        }
        while self.chunks.front().is_some_and(Bytes::is_empty) {
            self.chunks.pop_front();
        }
    }

    fn copy_to_bytes(&mut self, len: usize) -> Bytes {
        assert!(
            len <= self.remaining,
            "copy_to_bytes past the end of the message"
        );
        if let Some(front) = self.chunks.front_mut()
            && front.len() >= len
        {
            let out = front.split_to(len);
            self.remaining -= len;
            if front.is_empty() {
                self.chunks.pop_front();
            }
            return out;
        }
        let mut out = BytesMut::with_capacity(len);
        out.put((&mut *self).take(len));
        out.freeze()
    }
}

#[cfg(test)]
mod tests;
