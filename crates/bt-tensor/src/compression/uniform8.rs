//! uniform8: `f32_le(min) || f32_le(max) || u8 code × n`; element = min + code × (max − min) / 255.
//!
//! The grid is computed in f64 so that `max − min` cannot overflow f32, and every decoded value
//! lies in `[min, max]`: finite whenever the header is.

use crate::compression::codec_id::Codec;
use crate::compression::error::CompressionError;

/// Bytes before the codes: min and max as f32.
pub const HEADER_BYTES: usize = 8;
const STEPS: f64 = 255.0;

/// Encoded length of `n` elements, `None` on overflow.
pub(crate) fn encoded_len(n: usize) -> Option<usize> {
    n.checked_add(HEADER_BYTES)
}

/// `values` must be finite (checked by the caller).
pub(crate) fn encode(values: &[f32]) -> Vec<u8> {
    let (min, max) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let (min, max) = if values.is_empty() {
        (0.0, 0.0)
    } else {
        (min, max)
    };
    let step = (f64::from(max) - f64::from(min)) / STEPS;
    let inv = if step > 0.0 { 1.0 / step } else { 0.0 };
    let base = f64::from(min);
    let mut out = Vec::with_capacity(values.len() + HEADER_BYTES);
    out.extend_from_slice(&min.to_le_bytes());
    out.extend_from_slice(&max.to_le_bytes());
    // `as u8` saturates, and the scaled value is in [0, 255]: adding ½ rounds to nearest.
    out.extend(
        values
            .iter()
            .map(|&v| ((f64::from(v) - base) * inv + 0.5) as u8),
    );
    out
}

/// `buf` has exactly `encoded_len(n)` bytes (checked by the caller).
pub(crate) fn decode(buf: &[u8], n: usize) -> Result<Vec<f32>, CompressionError> {
    let (header, codes) = buf
        .split_at_checked(HEADER_BYTES)
        .ok_or(CompressionError::Length {
            codec: Codec::Uniform8,
            shape: vec![n],
            expected: HEADER_BYTES,
            len: buf.len(),
        })?;
    let read = |at: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(header.get(at..at + 4).unwrap_or(&[0; 4]));
        f32::from_le_bytes(b)
    };
    let (min, max) = (read(0), read(4));
    for (what, value) in [("min", min), ("max", max)] {
        if !value.is_finite() {
            return Err(bad_header(what, value, ""));
        }
    }
    if max < min {
        return Err(bad_header("max", max, " and at least min"));
    }
    let step = (f64::from(max) - f64::from(min)) / STEPS;
    let mut table = [0f32; 256];
    for (code, slot) in table.iter_mut().enumerate() {
        *slot = (f64::from(min) + code as f64 * step) as f32;
    }
    Ok(codes.iter().map(|&c| table[usize::from(c)]).collect())
}

fn bad_header(what: &'static str, value: f32, extra: &'static str) -> CompressionError {
    CompressionError::BadHeader {
        codec: Codec::Uniform8,
        what,
        value,
        extra,
    }
}
