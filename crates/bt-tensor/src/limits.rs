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
    /// What reading a text tensor's strings ([`crate::Tensor::to_strings`],
    /// [`crate::pickle::read_str_list`]) may allocate beyond twice its pickle's size: short
    /// strings and memo back-references cost more as `String`s than pickled. Default 16 MiB.
    pub max_text_overhead: usize,
}

impl Limits {
    /// 8 dimensions, 16 Mi elements, 64 MiB, finite floats only, 16 MiB text overhead.
    pub const DEFAULT: Limits = Limits {
        max_dims: 8,
        max_elements: 16 << 20,
        max_bytes: 64 << 20,
        require_finite: true,
        max_text_overhead: 16 << 20,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
