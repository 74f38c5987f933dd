//! Why a tensor could not be compressed or decompressed.

use thiserror::Error;

use crate::TensorError;
use crate::compression::codec_id::Codec;

/// A compression failure; every variant names the codec or the number that is wrong.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CompressionError {
    #[error("unknown codec {0:?} (known: none, f16, bf16, uniform8, blockwise8)")]
    UnknownCodec(String),

    #[error("codec list is {len} bytes, the limit is {max}")]
    CodecListTooLong { len: usize, max: usize },

    #[error("a tensor is compressed with {codec}, which was not negotiated (accepted: {accepted})")]
    NotNegotiated { codec: Codec, accepted: String },

    #[error("a {codec} tensor must have modality TENSOR or IMAGE, got value {modality}")]
    Modality { codec: Codec, modality: i32 },

    #[error("a {codec} tensor of shape {shape:?} takes {expected} bytes, the buffer has {len}")]
    Length {
        codec: Codec,
        shape: Vec<usize>,
        expected: usize,
        len: usize,
    },

    #[error("{codec} {what} is {value}: it must be finite{extra}")]
    BadHeader {
        codec: Codec,
        what: &'static str,
        value: f32,
        extra: &'static str,
    },

    #[error("{codec} code {code} at element {index} is outside the encoder's range")]
    BadCode {
        codec: Codec,
        index: usize,
        code: i8,
    },

    #[error("element {index} is {value}: only finite float32 values can be compressed")]
    NonFiniteInput { index: usize, value: f32 },

    #[error(transparent)]
    Tensor(#[from] TensorError),
}
