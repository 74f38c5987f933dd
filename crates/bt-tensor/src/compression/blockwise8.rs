//! blockwise8: the elements in blocks of [`BLOCK`]; per block its absolute maximum as f32 (the
//! scale), then per element a signed byte in −127..=127. Layout: `f32_le(scale) × ⌈n / BLOCK⌉ ||
//! i8 code × n`; element = code × scale / 127.
//!
//! A block's scale follows its own values, so one outlier costs precision in its block only.

use crate::compression::codec_id::Codec;
use crate::compression::error::CompressionError;

/// Elements per block (the last block may be shorter).
pub const BLOCK: usize = 256;
const LEVELS: f32 = 127.0;

/// Encoded length of `n` elements, `None` on overflow.
pub(crate) fn encoded_len(n: usize) -> Option<usize> {
    n.div_ceil(BLOCK).checked_mul(4)?.checked_add(n)
}

/// `values` must be finite (checked by the caller).
pub(crate) fn encode(values: &[f32]) -> Vec<u8> {
    let blocks = values.len().div_ceil(BLOCK);
    let mut out = Vec::with_capacity(blocks * 4 + values.len());
    let mut codes = Vec::with_capacity(values.len());
    for block in values.chunks(BLOCK) {
        let absmax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        out.extend_from_slice(&absmax.to_le_bytes());
        let inv = if absmax > 0.0 { LEVELS / absmax } else { 0.0 };
        codes.extend(
            block
                .iter()
                .map(|&v| (v * inv).round().clamp(-LEVELS, LEVELS) as i8 as u8),
        );
    }
    out.extend_from_slice(&codes);
    out
}

/// `buf` has exactly `encoded_len(n)` bytes (checked by the caller).
pub(crate) fn decode(buf: &[u8], n: usize) -> Result<Vec<f32>, CompressionError> {
    let (scales, codes) =
        buf.split_at_checked(n.div_ceil(BLOCK) * 4)
            .ok_or(CompressionError::Length {
                codec: Codec::Blockwise8,
                shape: vec![n],
                expected: encoded_len(n).unwrap_or(usize::MAX),
                len: buf.len(),
            })?;
    let (scales, _) = scales.as_chunks::<4>();
    let mut out = Vec::with_capacity(codes.len());
    for (block, (scale, codes)) in scales.iter().zip(codes.chunks(BLOCK)).enumerate() {
        let scale = f32::from_le_bytes(*scale);
        if !scale.is_finite() || scale < 0.0 {
            return Err(CompressionError::BadHeader {
                codec: Codec::Blockwise8,
                what: "a block scale",
                value: scale,
                extra: " and not negative",
            });
        }
        // An encoder never writes −128; a code the grid does not hold is a lying peer.
        if codes.iter().fold(false, |bad, &c| bad | (c == 0x80)) {
            let at = codes.iter().position(|&c| c == 0x80).unwrap_or(0);
            return Err(CompressionError::BadCode {
                codec: Codec::Blockwise8,
                index: block * BLOCK + at,
                code: i8::MIN,
            });
        }
        // In f64: in f32, `127 × (scale / 127)` can round past f32::MAX to infinity.
        let unit = f64::from(scale) / f64::from(LEVELS);
        out.extend(codes.iter().map(|&c| (f64::from(c as i8) * unit) as f32));
    }
    Ok(out)
}
