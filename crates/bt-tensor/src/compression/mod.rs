//! Lossy wire compression of float32 tensors, negotiated per request (`docs/protocol.md`,
//! "Compression"): f16, bf16, uniform 8-bit and blockwise 8-bit, the set hivemind uses.
//!
//! - [`compress`] turns a float32 tensor into its wire form under a [`Codec`]; other dtypes and
//!   text travel unchanged. The codec is the wire `dtype` (6, 7, 8 or 9), so the request
//!   signature, which binds each tensor's dtype, binds the codec too.
//! - [`decompress`] is [`crate::decode`] for every tensor a peer may send once codecs are
//!   negotiated: an 8-bit tensor is accepted only if its codec is in the `accepted` set, its
//!   byte length must follow exactly from its shape (checked before anything is allocated),
//!   its header must be finite, and it decodes to a finite float32 tensor.
//!
//! ```
//! use bt_tensor::compression::{Codec, CodecSet, compress, decompress};
//! use bt_tensor::{Limits, Modality, Tensor};
//!
//! let t = Tensor::from_f32(&[2, 2], &[0.5, -1.0, 2.0, 0.0], Modality::Tensor)?;
//! let wire = compress(&t, Codec::Blockwise8)?;
//! assert_eq!(wire.buffer.len(), 4 + 4);
//! let back = decompress(&wire, CodecSet::ALL, &Limits::default())?;
//! assert_eq!(back.shape(), [2, 2]);
//! assert!(decompress(&wire, CodecSet::NONE, &Limits::default()).is_err());
//! # Ok::<(), bt_tensor::compression::CompressionError>(())
//! ```

mod blockwise8;
mod codec_id;
mod error;
mod names;
mod uniform8;

use bytes::Bytes;
use half::{bf16, f16};

use crate::codec::{WIRE_VERSION, checked_elements, parse_shape, wire_shape};
use crate::element::vec_into_le_bytes;
use crate::{DType, Limits, Modality, Tensor, TensorError, decode, encode};

pub use blockwise8::BLOCK as BLOCKWISE8_BLOCK;
pub use codec_id::{BLOCKWISE8_DTYPE, Codec, CodecSet, UNIFORM8_DTYPE};
pub use error::CompressionError;
pub use names::{CODECS_HEADER, MAX_CODEC_LIST_BYTES, format_codec_list, parse_codec_list};
pub use uniform8::HEADER_BYTES as UNIFORM8_HEADER_BYTES;

/// The wire form of `t` under `codec`. Only float32 tensors of modality TENSOR or IMAGE are
/// compressed; every other tensor (and [`Codec::None`]) is [`encode`]d as it is. A non-finite
/// value is refused rather than sent: the receiver would refuse it anyway.
pub fn compress(t: &Tensor, codec: Codec) -> Result<bt_wire::Tensor, CompressionError> {
    if codec == Codec::None || t.dtype() != DType::Float32 || t.modality() == Modality::Text {
        return Ok(encode(t));
    }
    let values = t.f32_cow()?;
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(CompressionError::NonFiniteInput {
            index,
            value: values.get(index).copied().unwrap_or(f32::NAN),
        });
    }
    let buffer = match codec {
        Codec::None => t.bytes().clone(),
        // Saturated, not rounded to infinity: an infinity would make the receiver refuse it.
        Codec::F16 => vec_into_le_bytes(
            values
                .iter()
                .map(|&v| f16::from_f32(v.clamp(-f16::MAX.to_f32(), f16::MAX.to_f32())))
                .collect::<Vec<_>>(),
        ),
        Codec::Bf16 => vec_into_le_bytes(
            values
                .iter()
                .map(|&v| bf16::from_f32(v.clamp(-bf16::MAX.to_f32(), bf16::MAX.to_f32())))
                .collect::<Vec<_>>(),
        ),
        Codec::Uniform8 => Bytes::from(uniform8::encode(&values)),
        Codec::Blockwise8 => Bytes::from(blockwise8::encode(&values)),
    };
    Ok(bt_wire::Tensor {
        version: WIRE_VERSION.to_owned(),
        buffer,
        shape: wire_shape(t.shape()),
        dtype: codec.wire_dtype(),
        modality: t.modality().to_wire(),
        requires_grad: t.requires_grad(),
    })
}

/// Validates and decodes a tensor received from a peer that may compress. A tensor whose
/// dtype is not an 8-bit codec goes through [`decode`] unchanged (FLOAT16 and BFLOAT16 stay
/// half-width tensors: read them with [`Tensor::f32_cow`]). An 8-bit tensor must use a codec in
/// `accepted`, have modality TENSOR or IMAGE, a buffer of exactly the length its shape implies,
/// a finite header, and decode within `limits` (its float32 size counts against
/// `limits.max_bytes`); it decodes to a float32 tensor.
pub fn decompress(
    wire: &bt_wire::Tensor,
    accepted: CodecSet,
    limits: &Limits,
) -> Result<Tensor, CompressionError> {
    let Some(codec) = Codec::eight_bit(wire.dtype) else {
        return Ok(decode(wire, limits)?);
    };
    if !accepted.contains(codec) {
        return Err(CompressionError::NotNegotiated {
            codec,
            accepted: format_codec_list(accepted.iter()),
        });
    }
    let modality = Modality::from_wire(wire.modality)?;
    if modality == Modality::Text {
        return Err(CompressionError::Modality {
            codec,
            modality: wire.modality,
        });
    }
    let shape = parse_shape(&wire.shape, false, limits)?;
    let elements = checked_elements(&shape)?;
    if elements > limits.max_elements {
        return Err(TensorError::TooManyElements {
            shape,
            elements,
            max: limits.max_elements,
        }
        .into());
    }
    let decoded_bytes = elements.saturating_mul(4);
    let largest = wire.buffer.len().max(decoded_bytes);
    if largest > limits.max_bytes {
        return Err(TensorError::TooManyBytes {
            len: largest,
            max: limits.max_bytes,
        }
        .into());
    }
    let expected = match codec {
        Codec::Uniform8 => uniform8::encoded_len(elements),
        _ => blockwise8::encoded_len(elements),
    }
    .unwrap_or(usize::MAX);
    if wire.buffer.len() != expected {
        return Err(CompressionError::Length {
            codec,
            shape,
            expected,
            len: wire.buffer.len(),
        });
    }
    let values = match codec {
        Codec::Uniform8 => uniform8::decode(&wire.buffer, elements)?,
        _ => blockwise8::decode(&wire.buffer, elements)?,
    };
    // The grid keeps every value finite; validating again costs one scan and keeps the rule in
    // one place.
    let t = Tensor::from_bytes(
        DType::Float32,
        &shape,
        modality,
        vec_into_le_bytes(values),
        limits,
    )?;
    Ok(t.with_requires_grad(wire.requires_grad))
}
