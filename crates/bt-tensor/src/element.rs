//! Plain numeric element types and their little-endian byte buffers.

use bytemuck::Pod;
use bytes::Bytes;
use half::{bf16, f16};

use crate::DType;

mod sealed {
    pub trait Sealed {}
}

/// A numeric element type with a fixed wire dtype. Implemented for `f32`, `f64`, `i32`, `i64`,
/// [`half::f16`] and [`half::bf16`]; sealed so the wire layout stays under this crate's control.
pub trait Element: Pod + Send + Sync + sealed::Sealed {
    const DTYPE: DType;
}

macro_rules! element {
    ($t:ty, $d:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = $d;
        }
    };
}

element!(f32, DType::Float32);
element!(f64, DType::Float64);
element!(i32, DType::Int32);
element!(i64, DType::Int64);
element!(f16, DType::Float16);
element!(bf16, DType::BFloat16);

/// Keeps a `Vec<T>` alive behind a `Bytes` so its memory (aligned for `T`) is shared, not copied.
struct PodOwner<T>(Vec<T>);

impl<T: Pod> AsRef<[u8]> for PodOwner<T> {
    fn as_ref(&self) -> &[u8] {
        bytemuck::cast_slice(&self.0)
    }
}

/// Turns values into their wire bytes, taking over the vector's allocation on little-endian
/// machines (zero copy) and swapping bytes in place on big-endian ones.
pub(crate) fn vec_into_le_bytes<T: Element>(values: Vec<T>) -> Bytes {
    #[cfg(target_endian = "big")]
    let values = {
        let mut values = values;
        for v in &mut values {
            bytemuck::bytes_of_mut(v).reverse();
        }
        values
    };
    Bytes::from_owner(PodOwner(values))
}

/// Copies raw little-endian bytes into a freshly allocated vector of `T` (any alignment in).
pub(crate) fn le_bytes_to_vec<T: Element>(bytes: &[u8]) -> Vec<T> {
    #[allow(unused_mut)]
    let mut out: Vec<T> = bytemuck::pod_collect_to_vec(bytes);
    #[cfg(target_endian = "big")]
    for v in &mut out {
        bytemuck::bytes_of_mut(v).reverse();
    }
    out
}

/// Borrows little-endian bytes as `&[T]` when the machine is little-endian and the bytes are
/// suitably aligned; `None` otherwise.
pub(crate) fn le_bytes_as_slice<T: Element>(bytes: &[u8]) -> Option<&[T]> {
    if cfg!(target_endian = "little") {
        bytemuck::try_cast_slice(bytes).ok()
    } else {
        None
    }
}

/// Copies `bytes` into a buffer aligned for any element type (8 bytes), so typed views of it
/// always succeed.
pub(crate) fn aligned_copy(bytes: &[u8]) -> Bytes {
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
    Bytes::from_owner(PodOwner(words)).slice(..bytes.len())
}
