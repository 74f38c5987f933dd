//! Bounds applied to every tensor received from the network.

/// What [`crate::decode`] accepts from a peer. A tensor outside these bounds is rejected before
/// anything is allocated for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of dimensions.
    pub max_dims: usize,
    /// Maximum product of the shape (for UTF8 text: maximum number of strings).
    pub max_elements: usize,
    /// Maximum length of `Tensor.buffer` in bytes.
    pub max_bytes: usize,
    /// Reject floating point tensors holding NaN or ±infinity.
    pub require_finite: bool,
}

impl Limits {
    /// 8 dimensions, 16 Mi elements, 64 MiB, finite floats only.
    pub const DEFAULT: Limits = Limits {
        max_dims: 8,
        max_elements: 16 << 20,
        max_bytes: 64 << 20,
        require_finite: true,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
