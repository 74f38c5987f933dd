//! The codecs, their wire dtype values, and sets of them.

use std::fmt;

/// How the float32 tensors of a message travel. Every codec but [`Codec::None`] is lossy.
///
/// A compressed tensor is marked by its `Tensor.dtype` (bound by the request signature, as the
/// dtype is part of the tensors hash): `f16` and `bf16` are the FLOAT16 (6) and BFLOAT16 (7)
/// dtypes; `uniform8` (8) and `blockwise8` (9) are our extensions and decode to float32. A
/// Release 1 peer never offers a codec, so it never receives one (`docs/protocol.md`,
/// "Compression").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Codec {
    /// Float32 as Release 1 sends it.
    #[default]
    None,
    /// IEEE half precision; values beyond ±65504 saturate.
    F16,
    /// bfloat16 (float32's exponent, 8 bits of mantissa), rounded to nearest even.
    Bf16,
    /// One byte per element on a linear grid of 256 steps from the tensor's min to its max.
    Uniform8,
    /// One signed byte per element, scaled by the absolute maximum of its block of
    /// [`BLOCKWISE8_BLOCK`](crate::compression::BLOCKWISE8_BLOCK) elements.
    Blockwise8,
}

/// `Tensor.dtype` of a uniform8 tensor.
pub const UNIFORM8_DTYPE: i32 = 8;
/// `Tensor.dtype` of a blockwise8 tensor.
pub const BLOCKWISE8_DTYPE: i32 = 9;

impl Codec {
    /// Every codec, in the order of [`Codec::name`]s in `docs/protocol.md`.
    pub const ALL: [Codec; 5] = [
        Codec::None,
        Codec::F16,
        Codec::Bf16,
        Codec::Uniform8,
        Codec::Blockwise8,
    ];

    /// The name in the `bt-codecs` header and on the command line (parsed by [`Codec::parse`]).
    pub const fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::F16 => "f16",
            Codec::Bf16 => "bf16",
            Codec::Uniform8 => "uniform8",
            Codec::Blockwise8 => "blockwise8",
        }
    }

    /// The `Tensor.dtype` a float32 tensor compressed with this codec carries.
    pub const fn wire_dtype(self) -> i32 {
        match self {
            Codec::None => 1,
            Codec::F16 => 6,
            Codec::Bf16 => 7,
            Codec::Uniform8 => UNIFORM8_DTYPE,
            Codec::Blockwise8 => BLOCKWISE8_DTYPE,
        }
    }

    /// The 8-bit codec whose dtype value is `dtype`, if any. FLOAT16 and BFLOAT16 are plain
    /// dtypes of the protocol and are not gated by negotiation.
    pub const fn eight_bit(dtype: i32) -> Option<Self> {
        match dtype {
            UNIFORM8_DTYPE => Some(Codec::Uniform8),
            BLOCKWISE8_DTYPE => Some(Codec::Blockwise8),
            _ => None,
        }
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of codecs: what a peer accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodecSet(u8);

impl CodecSet {
    /// Only uncompressed tensors.
    pub const NONE: CodecSet = CodecSet(Codec::None.bit());
    /// Every codec.
    pub const ALL: CodecSet = CodecSet(0b1_1111);

    pub fn contains(self, codec: Codec) -> bool {
        codec == Codec::None || self.0 & codec.bit() != 0
    }

    #[must_use]
    pub fn with(self, codec: Codec) -> Self {
        CodecSet(self.0 | codec.bit())
    }

    /// The set as bits (bit `i` for the `i`th codec of [`Codec::ALL`]), for an atomic.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The set of [`CodecSet::bits`]; unknown bits are dropped and `none` is always in.
    pub const fn from_bits(bits: u8) -> Self {
        CodecSet((bits & Self::ALL.0) | Self::NONE.0)
    }

    /// The codecs in the set, in [`Codec::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Codec> {
        Codec::ALL.into_iter().filter(move |&c| self.contains(c))
    }
}

impl Default for CodecSet {
    fn default() -> Self {
        Self::NONE
    }
}

impl FromIterator<Codec> for CodecSet {
    fn from_iter<I: IntoIterator<Item = Codec>>(iter: I) -> Self {
        iter.into_iter().fold(Self::NONE, CodecSet::with)
    }
}
