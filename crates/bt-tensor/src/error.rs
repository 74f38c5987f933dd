//! The crate's errors: every variant says which number is wrong and what was expected.

use thiserror::Error;

use crate::{DType, Modality};

/// Why a tensor was rejected or could not be converted.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TensorError {
    #[error(
        "unknown dtype value {0} (known: 1 float32, 2 float64, 3 int32, 4 int64, 5 utf8, 6 float16, 7 bfloat16)"
    )]
    UnknownDType(i32),

    #[error("unknown modality value {0} (known: 0 TENSOR, 1 IMAGE, 2 TEXT)")]
    UnknownModality(i32),

    #[error("shape {shape:?} has {dims} dimensions, the limit is {max}")]
    TooManyDims {
        shape: Vec<i64>,
        dims: usize,
        max: usize,
    },

    #[error("dimension {index} of shape {shape:?} is {value}; every dimension must be at least 1")]
    BadDimension {
        shape: Vec<i64>,
        index: usize,
        value: i64,
    },

    #[error("shape {shape:?} overflows: its element count does not fit in {bits} bits")]
    ShapeOverflow { shape: Vec<i64>, bits: u32 },

    #[error("shape {shape:?} has {elements} elements, the limit is {max}")]
    TooManyElements {
        shape: Vec<usize>,
        elements: usize,
        max: usize,
    },

    #[error("buffer is {len} bytes, the limit is {max}")]
    TooManyBytes { len: usize, max: usize },

    #[error("buffer is {len} bytes but shape {shape:?} of {dtype} needs {expected}")]
    LengthMismatch {
        len: usize,
        expected: usize,
        shape: Vec<usize>,
        dtype: DType,
    },

    #[error("{len} values given but shape {shape:?} needs {expected}")]
    ValueCountMismatch {
        len: usize,
        expected: usize,
        shape: Vec<usize>,
    },

    #[error("element {index} of the {dtype} tensor with shape {shape:?} is {value}, not finite")]
    NonFinite {
        index: usize,
        value: f64,
        dtype: DType,
        shape: Vec<usize>,
    },

    #[error(
        "dtype {dtype} is not allowed with modality {modality} (UTF8 only with TEXT; TEXT only UTF8, INT64 or INT32)"
    )]
    DTypeModalityMismatch { dtype: DType, modality: Modality },

    #[error("a utf8 text tensor has shape [n, 1] or [n], got {shape:?}")]
    BadTextShape { shape: Vec<usize> },

    #[error("text shape {shape:?} announces {expected} strings but the pickle holds {actual}")]
    TextCountMismatch {
        shape: Vec<usize>,
        expected: usize,
        actual: usize,
    },

    #[error("invalid text payload: {0}")]
    Pickle(#[from] PickleError),

    #[error("cannot read a {dtype} tensor as {wanted}")]
    Conversion { dtype: DType, wanted: &'static str },
}

/// Why a pickled `list[str]` was rejected. Offsets are byte positions in the pickle.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PickleError {
    #[error(
        "pickle opcode 0x{opcode:02x} ({name}) at offset {offset} is not allowed: only a list of str is accepted"
    )]
    ForbiddenOpcode {
        opcode: u8,
        name: &'static str,
        offset: usize,
    },

    #[error("pickle protocol {protocol} at offset {offset} is not supported (2 to 5 are)")]
    UnsupportedProtocol { protocol: u8, offset: usize },

    #[error("pickle truncated at offset {offset}: {needed} bytes needed, {available} left")]
    Truncated {
        offset: usize,
        needed: u64,
        available: usize,
    },

    #[error("pickle ended at offset {offset} without a STOP opcode")]
    MissingStop { offset: usize },

    #[error("{extra} bytes after STOP at offset {offset}")]
    TrailingBytes { offset: usize, extra: usize },

    #[error("string at offset {offset} is not valid UTF-8 (byte {valid_up_to} of the string)")]
    InvalidUtf8 { offset: usize, valid_up_to: usize },

    #[error("pickle holds more than {max} strings")]
    TooManyStrings { max: usize },

    #[error(
        "reading the pickle's {strings} strings would take {cost} bytes, more than the {max} allowed (twice its size plus max_text_overhead)"
    )]
    TooCostly {
        strings: usize,
        cost: usize,
        max: usize,
    },

    #[error("pickle is {len} bytes, the limit is {max}")]
    TooLarge { len: usize, max: usize },

    #[error("malformed list pickle at offset {offset}: {what}")]
    Malformed { offset: usize, what: &'static str },

    #[error("memo index {index} at offset {offset} is invalid ({memo_len} entries memoized)")]
    BadMemo {
        offset: usize,
        index: u64,
        memo_len: usize,
    },
}
