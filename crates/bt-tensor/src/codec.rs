//! Wire tensor ⇄ [`Tensor`], and the validation every received tensor goes through.

use bytes::Bytes;

use crate::{DType, Limits, Modality, Tensor, TensorError, pickle};

/// The `Tensor.version` we send (peers' values are accepted whatever they are).
pub const WIRE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Validates a wire tensor against `limits` and wraps it without copying: the returned tensor
/// shares `wire.buffer` (a reference count on the received frame).
pub fn decode(wire: &bt_wire::Tensor, limits: &Limits) -> Result<Tensor, TensorError> {
    let dtype = DType::from_wire(wire.dtype)?;
    let modality = Modality::from_wire(wire.modality)?;
    let shape = parse_shape(&wire.shape, dtype == DType::Utf8, limits)?;
    validate(dtype, &shape, modality, &wire.buffer, limits)?;
    Ok(Tensor {
        dtype,
        shape,
        modality,
        requires_grad: wire.requires_grad,
        data: wire.buffer.clone(),
    })
}

/// A wire shape as sizes: at most `limits.max_dims` dimensions (counted before anything is
/// allocated), each at least 1 (an empty string list pickles as `[0, 1]`: `empty_text_ok`).
pub(crate) fn parse_shape(
    wire_shape: &[i64],
    empty_text_ok: bool,
    limits: &Limits,
) -> Result<Vec<usize>, TensorError> {
    if wire_shape.len() > limits.max_dims {
        return Err(TensorError::TooManyDims {
            shape: wire_shape.to_vec(),
            dims: wire_shape.len(),
            max: limits.max_dims,
        });
    }
    let mut shape = Vec::with_capacity(wire_shape.len());
    for (index, &value) in wire_shape.iter().enumerate() {
        let empty_text = empty_text_ok && index == 0 && value == 0;
        if value < 1 && !empty_text {
            return Err(TensorError::BadDimension {
                shape: wire_shape.to_vec(),
                index,
                value,
            });
        }
        shape.push(
            usize::try_from(value).map_err(|_| TensorError::ShapeOverflow {
                shape: wire_shape.to_vec(),
                bits: usize::BITS,
            })?,
        );
    }
    Ok(shape)
}

/// The wire form of `t`; the buffer is shared, not copied.
pub fn encode(t: &Tensor) -> bt_wire::Tensor {
    bt_wire::Tensor {
        version: WIRE_VERSION.to_owned(),
        buffer: t.data.clone(),
        shape: wire_shape(&t.shape),
        dtype: t.dtype.to_wire(),
        modality: t.modality.to_wire(),
        requires_grad: t.requires_grad,
    }
}

impl From<Tensor> for bt_wire::Tensor {
    fn from(t: Tensor) -> Self {
        bt_wire::Tensor {
            version: WIRE_VERSION.to_owned(),
            shape: wire_shape(&t.shape),
            buffer: t.data,
            dtype: t.dtype.to_wire(),
            modality: t.modality.to_wire(),
            requires_grad: t.requires_grad,
        }
    }
}

pub(crate) fn wire_shape(shape: &[usize]) -> Vec<i64> {
    // A validated dimension never exceeds the byte length of an in-memory buffer (< 2^63).
    shape
        .iter()
        .map(|&d| i64::try_from(d).unwrap_or(i64::MAX))
        .collect()
}

fn shape_i64(shape: &[usize]) -> Vec<i64> {
    wire_shape(shape)
}

/// Product of `shape`, with every dimension ≥ 1 and no overflow.
pub(crate) fn checked_elements(shape: &[usize]) -> Result<usize, TensorError> {
    let mut n: usize = 1;
    for (index, &d) in shape.iter().enumerate() {
        if d == 0 {
            return Err(TensorError::BadDimension {
                shape: shape_i64(shape),
                index,
                value: 0,
            });
        }
        n = n.checked_mul(d).ok_or_else(|| TensorError::ShapeOverflow {
            shape: shape_i64(shape),
            bits: usize::BITS,
        })?;
    }
    Ok(n)
}

/// Every rule a tensor must satisfy, in the order that rejects cheaply first.
pub(crate) fn validate(
    dtype: DType,
    shape: &[usize],
    modality: Modality,
    data: &Bytes,
    limits: &Limits,
) -> Result<(), TensorError> {
    if !modality.allows(dtype) {
        return Err(TensorError::DTypeModalityMismatch { dtype, modality });
    }
    if shape.len() > limits.max_dims {
        return Err(TensorError::TooManyDims {
            shape: shape_i64(shape),
            dims: shape.len(),
            max: limits.max_dims,
        });
    }
    let elements = match dtype {
        DType::Utf8 => match shape {
            [n] | [n, 1] => *n,
            _ => {
                return Err(TensorError::BadTextShape {
                    shape: shape.to_vec(),
                });
            }
        },
        _ => checked_elements(shape)?,
    };
    if elements > limits.max_elements {
        return Err(TensorError::TooManyElements {
            shape: shape.to_vec(),
            elements,
            max: limits.max_elements,
        });
    }
    if data.len() > limits.max_bytes {
        return Err(TensorError::TooManyBytes {
            len: data.len(),
            max: limits.max_bytes,
        });
    }
    let Some(size) = dtype.size_of() else {
        // Counted, not built: checking a received pickle allocates nothing per string.
        let actual = pickle::count_strings(data, limits)?;
        if actual != elements {
            return Err(TensorError::TextCountMismatch {
                shape: shape.to_vec(),
                expected: elements,
                actual,
            });
        }
        return Ok(());
    };
    let expected = elements
        .checked_mul(size)
        .ok_or_else(|| TensorError::ShapeOverflow {
            shape: shape_i64(shape),
            bits: usize::BITS,
        })?;
    if data.len() != expected {
        return Err(TensorError::LengthMismatch {
            len: data.len(),
            expected,
            shape: shape.to_vec(),
            dtype,
        });
    }
    if limits.require_finite
        && let Some((index, value)) = first_non_finite(dtype, data)
    {
        return Err(TensorError::NonFinite {
            index,
            value,
            dtype,
            shape: shape.to_vec(),
        });
    }
    Ok(())
}

/// Index and value of the first NaN or infinity in little-endian float bytes.
fn first_non_finite(dtype: DType, data: &[u8]) -> Option<(usize, f64)> {
    // A float is NaN or infinite exactly when all its exponent bits are set; testing the bits
    // of whole blocks with a branch-free OR lets the compiler vectorise the common, clean case.
    match dtype {
        DType::Float32 => scan::<4>(data, |b| {
            let bits = u32::from_le_bytes(b);
            (
                bits & 0x7f80_0000 == 0x7f80_0000,
                f64::from(f32::from_bits(bits)),
            )
        }),
        DType::Float64 => scan::<8>(data, |b| {
            let bits = u64::from_le_bytes(b);
            (
                bits & 0x7ff0_0000_0000_0000 == 0x7ff0_0000_0000_0000,
                f64::from_bits(bits),
            )
        }),
        DType::Float16 => scan::<2>(data, |b| {
            let bits = u16::from_le_bytes(b);
            (bits & 0x7c00 == 0x7c00, half::f16::from_bits(bits).to_f64())
        }),
        DType::BFloat16 => scan::<2>(data, |b| {
            let bits = u16::from_le_bytes(b);
            (
                bits & 0x7f80 == 0x7f80,
                half::bf16::from_bits(bits).to_f64(),
            )
        }),
        DType::Int32 | DType::Int64 | DType::Utf8 => None,
    }
}

fn scan<const N: usize>(
    data: &[u8],
    check: impl Fn([u8; N]) -> (bool, f64) + Copy,
) -> Option<(usize, f64)> {
    const BLOCK: usize = 2048;
    let (elems, _) = data.as_chunks::<N>();
    for (b, block) in elems.chunks(BLOCK).enumerate() {
        let bad = block.iter().fold(false, |acc, &e| acc | check(e).0);
        if bad {
            return block
                .iter()
                .position(|&e| check(e).0)
                .and_then(|i| block.get(i).map(|&e| (b * BLOCK + i, check(e).1)));
        }
    }
    None
}
