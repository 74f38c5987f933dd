//! A bounded look at a `TensorMessage`'s raw bytes before prost decodes it.
//!
//! prost allocates per entry: a `Tensor` is about a hundred bytes in memory but two on the wire
//! (an empty entry), a shape dimension eight bytes in memory but one on the wire, and a string
//! field is copied. Decoding a hostile message of many empty tensors would cost fifty times its
//! size. [`scan_tensor_message`] walks the encoded message first, allocating nothing, and counts
//! what the decode would allocate: tensors, shape dimensions, and the length of every string
//! and signature. A message within [`DecodeLimits`] then decodes into at most its own size again
//! (strings are copied once, tensor buffers are not copied at all) plus a constant set by the
//! limits: `max_tensors × (two Tensor structs + max_field_bytes + 16 × max_dims)` bytes.
//!
//! The walk follows protobuf's merge rules as prost applies them: a repeated field's entries
//! add up wherever they occur (packed or not), and a string sent twice is decoded twice into
//! the same allocation, so each occurrence is checked on its own. Fields the schema does not
//! know are skipped by prost and by the walk. A malformed message is reported as prost reports
//! it; the decode that follows would refuse it anyway.

use bytes::Buf;
use prost::DecodeError;
use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};

use crate::field_numbers::{tensor as tensor_field, tensor_message as message_field};

/// What a received `TensorMessage` may hold, checked on its raw bytes before it is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most `tensors` entries in one message. Default 256 (`Forward` carries one tensor,
    /// `Backward` inputs and their gradients).
    pub max_tensors: usize,
    /// Most shape dimensions of one tensor. Default 8 (as `bt_tensor::Limits::max_dims`).
    pub max_dims: usize,
    /// Longest string or signature field (`version`, `neuron_key`, `synapse_key`, `signature`,
    /// a tensor's `version`): all of them are short identifiers. Default 1 KiB.
    pub max_field_bytes: usize,
}

impl DecodeLimits {
    /// 256 tensors, 8 dimensions each, 1 KiB string fields.
    pub const DEFAULT: DecodeLimits = DecodeLimits {
        max_tensors: 256,
        max_dims: 8,
        max_field_bytes: 1024,
    };
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What a scanned message holds (what its decode will allocate for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Census {
    /// `tensors` entries.
    pub tensors: usize,
    /// Shape dimensions over all tensors.
    pub dims: usize,
    /// Bytes of every string and signature field occurrence (copied by the decode).
    pub copied_bytes: usize,
}

/// A message over one of the [`DecodeLimits`]: refused before it is decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("the message carries more than {max} tensors (limit max_tensors = {max})")]
    TooManyTensors { max: usize },
    #[error("tensor {index} has more than {max} shape dimensions (limit max_dims = {max})")]
    TooManyDims { index: usize, max: usize },
    #[error("field {field} is {len} bytes long (limit max_field_bytes = {max})")]
    FieldTooLong {
        field: &'static str,
        len: u64,
        max: usize,
    },
}

/// Why a scan stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error("failed to decode the protobuf message: {0}")]
    Malformed(#[from] DecodeError),
    /// A length prefix runs past the end of the message (or of the tensor holding it).
    #[error("a field's length runs past the end of the message")]
    Truncated,
}

/// Walks an encoded `TensorMessage` (without its gRPC prefix) and checks it against `limits`,
/// allocating nothing. Consumes `buf`.
pub fn scan_tensor_message(mut buf: impl Buf, limits: &DecodeLimits) -> Result<Census, ScanError> {
    let mut census = Census::default();
    while buf.has_remaining() {
        let (tag, wire_type) = decode_key(&mut buf)?;
        if wire_type != WireType::LengthDelimited {
            skip_field(wire_type, tag, &mut buf, DecodeContext::default())?;
            continue;
        }
        let len = length(&mut buf)?;
        match tag {
            message_field::TENSORS => {
                if census.tensors >= limits.max_tensors {
                    return Err(LimitError::TooManyTensors {
                        max: limits.max_tensors,
                    }
                    .into());
                }
                let mut entry = (&mut buf).take(len);
                scan_tensor(&mut entry, census.tensors, limits, &mut census)?;
                // The walk of the entry stops at its end or fails; nothing is left over.
                let rest = entry.remaining();
                entry.advance(rest);
                census.tensors += 1;
            }
            message_field::VERSION
            | message_field::NEURON_KEY
            | message_field::SYNAPSE_KEY
            | message_field::SIGNATURE => {
                census.copied_bytes += short_field(message_name(tag), len, limits)?;
                buf.advance(len);
            }
            _ => buf.advance(len),
        }
    }
    Ok(census)
}

fn scan_tensor(
    buf: &mut impl Buf,
    index: usize,
    limits: &DecodeLimits,
    census: &mut Census,
) -> Result<(), ScanError> {
    let mut dims = 0usize;
    while buf.has_remaining() {
        let (tag, wire_type) = decode_key(buf)?;
        match (tag, wire_type) {
            (tensor_field::SHAPE, WireType::Varint) => {
                decode_varint(buf)?;
                dims += 1;
            }
            (tensor_field::SHAPE, WireType::LengthDelimited) => {
                let len = length(buf)?;
                dims += count_varints(buf, len);
            }
            (tensor_field::VERSION, WireType::LengthDelimited) => {
                let len = length(buf)?;
                census.copied_bytes += short_field("Tensor.version", len, limits)?;
                buf.advance(len);
            }
            _ => skip_field(wire_type, tag, buf, DecodeContext::default())?,
        }
        if dims > limits.max_dims {
            return Err(LimitError::TooManyDims {
                index,
                max: limits.max_dims,
            }
            .into());
        }
    }
    census.dims += dims;
    Ok(())
}

/// A length prefix, checked against what is left of `buf`.
fn length(buf: &mut impl Buf) -> Result<usize, ScanError> {
    let len = decode_varint(buf)?;
    match usize::try_from(len) {
        Ok(len) if len <= buf.remaining() => Ok(len),
        _ => Err(ScanError::Truncated),
    }
}

/// Varints in the next `len` bytes (each ends with a byte below 0x80), consuming them.
fn count_varints(buf: &mut impl Buf, mut len: usize) -> usize {
    let mut count = 0;
    while len > 0 {
        let chunk = buf.chunk();
        let n = chunk.len().min(len);
        if n == 0 {
            break;
        }
        count += chunk[..n].iter().filter(|&&b| b < 0x80).count();
        buf.advance(n);
        len -= n;
    }
    count
}

fn short_field(
    field: &'static str,
    len: usize,
    limits: &DecodeLimits,
) -> Result<usize, LimitError> {
    if len > limits.max_field_bytes {
        return Err(LimitError::FieldTooLong {
            field,
            len: len as u64,
            max: limits.max_field_bytes,
        });
    }
    Ok(len)
}

fn message_name(tag: u32) -> &'static str {
    match tag {
        message_field::VERSION => "TensorMessage.version",
        message_field::NEURON_KEY => "TensorMessage.neuron_key",
        message_field::SYNAPSE_KEY => "TensorMessage.synapse_key",
        _ => "TensorMessage.signature",
    }
}

#[cfg(test)]
mod tests;
