//! The typed, validated tensor.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use half::{bf16, f16};

use crate::codec::{checked_elements, validate};
use crate::element::{
    Element, aligned_copy, le_bytes_as_slice, le_bytes_to_vec, vec_into_le_bytes,
};
use crate::{DType, Limits, Modality, TensorError, pickle};

/// A tensor whose dtype, shape, modality and bytes agree with each other.
///
/// The element bytes are kept exactly as they travel (little-endian, row-major; a pickle for
/// UTF8) in a reference-counted [`Bytes`], so decoding shares the received frame and encoding
/// shares the tensor's memory. Typed views ([`Tensor::as_f32_slice`], …) borrow it when it is
/// aligned; conversions ([`Tensor::to_f32_vec`], …) copy.
#[derive(Clone, PartialEq)]
pub struct Tensor {
    pub(crate) dtype: DType,
    pub(crate) shape: Vec<usize>,
    pub(crate) modality: Modality,
    pub(crate) requires_grad: bool,
    pub(crate) data: Bytes,
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tensor")
            .field("dtype", &self.dtype)
            .field("shape", &self.shape)
            .field("modality", &self.modality)
            .field("requires_grad", &self.requires_grad)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl Tensor {
    /// Builds a tensor from values of any [`Element`] type (copies them once).
    pub fn from_values<T: Element>(
        shape: &[usize],
        values: &[T],
        modality: Modality,
    ) -> Result<Self, TensorError> {
        Self::check_values::<T>(shape, values.len(), modality)?;
        // Copy into a `Vec<T>` (not `Vec<u8>`) so the buffer is aligned for typed views.
        Ok(Self::from_checked(
            T::DTYPE,
            shape,
            modality,
            vec_into_le_bytes(values.to_vec()),
        ))
    }

    /// Builds a tensor that takes over `values`' allocation: no copy on little-endian machines.
    pub fn from_vec<T: Element>(
        shape: &[usize],
        values: Vec<T>,
        modality: Modality,
    ) -> Result<Self, TensorError> {
        Self::check_values::<T>(shape, values.len(), modality)?;
        Ok(Self::from_checked(
            T::DTYPE,
            shape,
            modality,
            vec_into_le_bytes(values),
        ))
    }

    pub fn from_f32(
        shape: &[usize],
        values: &[f32],
        modality: Modality,
    ) -> Result<Self, TensorError> {
        Self::from_values(shape, values, modality)
    }

    /// Zero-copy variant of [`Tensor::from_f32`].
    pub fn from_f32_vec(
        shape: &[usize],
        values: Vec<f32>,
        modality: Modality,
    ) -> Result<Self, TensorError> {
        Self::from_vec(shape, values, modality)
    }

    pub fn from_f64(
        shape: &[usize],
        values: &[f64],
        modality: Modality,
    ) -> Result<Self, TensorError> {
        Self::from_values(shape, values, modality)
    }

    pub fn from_i32(
        shape: &[usize],
        values: &[i32],
        modality: Modality,
    ) -> Result<Self, TensorError> {
        Self::from_values(shape, values, modality)
    }

    /// INT64 values; with [`Modality::Text`] these are token ids.
    pub fn from_i64(
        shape: &[usize],
        values: &[i64],
        modality: Modality,
    ) -> Result<Self, TensorError> {
        Self::from_values(shape, values, modality)
    }

    pub fn from_f16(
        shape: &[usize],
        values: &[f16],
        modality: Modality,
    ) -> Result<Self, TensorError> {
        Self::from_values(shape, values, modality)
    }

    pub fn from_bf16(
        shape: &[usize],
        values: &[bf16],
        modality: Modality,
    ) -> Result<Self, TensorError> {
        Self::from_values(shape, values, modality)
    }

    /// A UTF8 text tensor as Release 1 sent it: `pickle.dumps(strings, protocol=3)`, shape
    /// `[len, 1]`.
    pub fn text<S: AsRef<str>>(strings: &[S]) -> Self {
        Self::text_with_protocol(strings, 3)
    }

    /// [`Tensor::text`] with another pickle protocol (2–5; see [`pickle::write_str_list`]).
    pub fn text_with_protocol<S: AsRef<str>>(strings: &[S], protocol: u8) -> Self {
        Tensor {
            dtype: DType::Utf8,
            shape: vec![strings.len(), 1],
            modality: Modality::Text,
            requires_grad: false,
            data: Bytes::from(pickle::write_str_list(strings, protocol)),
        }
    }

    /// Builds a tensor from raw wire bytes, validating them exactly as [`crate::decode`] does.
    pub fn from_bytes(
        dtype: DType,
        shape: &[usize],
        modality: Modality,
        data: Bytes,
        limits: &Limits,
    ) -> Result<Self, TensorError> {
        validate(dtype, shape, modality, &data, limits)?;
        Ok(Self::from_checked(dtype, shape, modality, data))
    }

    /// Sets the `requires_grad` flag carried on the wire.
    #[must_use]
    pub fn with_requires_grad(mut self, requires_grad: bool) -> Self {
        self.requires_grad = requires_grad;
        self
    }

    fn check_values<T: Element>(
        shape: &[usize],
        len: usize,
        modality: Modality,
    ) -> Result<(), TensorError> {
        if !modality.allows(T::DTYPE) {
            return Err(TensorError::DTypeModalityMismatch {
                dtype: T::DTYPE,
                modality,
            });
        }
        let expected = checked_elements(shape)?;
        if len != expected {
            return Err(TensorError::ValueCountMismatch {
                len,
                expected,
                shape: shape.to_vec(),
            });
        }
        Ok(())
    }

    pub(crate) fn from_checked(
        dtype: DType,
        shape: &[usize],
        modality: Modality,
        data: Bytes,
    ) -> Self {
        Tensor {
            dtype,
            shape: shape.to_vec(),
            modality,
            requires_grad: false,
            data,
        }
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn modality(&self) -> Modality {
        self.modality
    }

    pub fn requires_grad(&self) -> bool {
        self.requires_grad
    }

    /// The wire bytes (little-endian elements, or the pickle for UTF8).
    pub fn bytes(&self) -> &Bytes {
        &self.data
    }

    pub fn into_bytes(self) -> Bytes {
        self.data
    }

    /// Product of the shape; for UTF8 text, the number of strings.
    pub fn num_elements(&self) -> usize {
        self.shape.iter().product()
    }

    /// This tensor with its bytes copied to an 8-byte-aligned buffer if they are not aligned
    /// already (a frame puts the payload at any offset), so every typed view succeeds.
    #[must_use]
    pub fn to_aligned(&self) -> Tensor {
        if self.data.as_ptr().align_offset(8) == 0 {
            return self.clone();
        }
        Tensor {
            data: aligned_copy(&self.data),
            ..self.clone()
        }
    }

    /// Borrows the elements as `&[T]` if the dtype is `T`, the machine little-endian and the
    /// bytes aligned for `T`; `None` otherwise (then use a `to_*_vec` conversion).
    pub fn as_slice<T: Element>(&self) -> Option<&[T]> {
        if self.dtype == T::DTYPE {
            le_bytes_as_slice(&self.data)
        } else {
            None
        }
    }

    pub fn as_f32_slice(&self) -> Option<&[f32]> {
        self.as_slice()
    }

    pub fn as_f64_slice(&self) -> Option<&[f64]> {
        self.as_slice()
    }

    pub fn as_i32_slice(&self) -> Option<&[i32]> {
        self.as_slice()
    }

    pub fn as_i64_slice(&self) -> Option<&[i64]> {
        self.as_slice()
    }

    /// The elements as `T`, copied (works at any alignment); the dtype must be `T`.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>, TensorError> {
        if self.dtype != T::DTYPE {
            return Err(self.conversion(T::DTYPE.name()));
        }
        Ok(le_bytes_to_vec(&self.data))
    }

    /// The elements as f32, converting float64, float16 and bfloat16 (f64 rounds).
    pub fn to_f32_vec(&self) -> Result<Vec<f32>, TensorError> {
        Ok(match self.dtype {
            DType::Float32 => le_bytes_to_vec(&self.data),
            DType::Float64 => self.map_le::<f64, _>(|v| v as f32),
            DType::Float16 => self.map_le::<f16, _>(f16::to_f32),
            DType::BFloat16 => self.map_le::<bf16, _>(bf16::to_f32),
            _ => return Err(self.conversion("f32")),
        })
    }

    /// A view when [`Tensor::as_f32_slice`] can give one, else the [`Tensor::to_f32_vec`] copy.
    pub fn f32_cow(&self) -> Result<Cow<'_, [f32]>, TensorError> {
        match self.as_f32_slice() {
            Some(s) => Ok(Cow::Borrowed(s)),
            None => self.to_f32_vec().map(Cow::Owned),
        }
    }

    /// The elements as f64, converting every float dtype exactly.
    pub fn to_f64_vec(&self) -> Result<Vec<f64>, TensorError> {
        Ok(match self.dtype {
            DType::Float64 => le_bytes_to_vec(&self.data),
            DType::Float32 => self.map_le::<f32, _>(f64::from),
            DType::Float16 => self.map_le::<f16, _>(f16::to_f64),
            DType::BFloat16 => self.map_le::<bf16, _>(bf16::to_f64),
            _ => return Err(self.conversion("f64")),
        })
    }

    /// The elements as i64 (INT64, or INT32 widened), e.g. text token ids.
    pub fn to_i64_vec(&self) -> Result<Vec<i64>, TensorError> {
        Ok(match self.dtype {
            DType::Int64 => le_bytes_to_vec(&self.data),
            DType::Int32 => self.map_le::<i32, _>(i64::from),
            _ => return Err(self.conversion("i64")),
        })
    }

    /// The strings of a UTF8 text tensor (token-id text has no strings: that is an error).
    /// Refused ([`PickleError::TooCostly`](crate::PickleError::TooCostly)) before anything is
    /// built if the strings would take more than twice the pickle's size plus
    /// [`Limits::max_text_overhead`] (default 16 MiB): a repeated string is pickled as a
    /// two-byte back-reference but copied in full here.
    pub fn to_strings(&self) -> Result<Vec<String>, TensorError> {
        self.check_text()?;
        Ok(pickle::read_str_list(&self.data, &Self::text_limits())?)
    }

    /// The strings of a UTF8 text tensor, borrowed from its bytes (bounded as
    /// [`to_strings`](Self::to_strings) is, for the list itself).
    pub fn str_refs(&self) -> Result<Vec<&str>, TensorError> {
        self.check_text()?;
        Ok(pickle::read_str_refs(&self.data, &Self::text_limits())?)
    }

    fn check_text(&self) -> Result<(), TensorError> {
        if self.dtype != DType::Utf8 {
            return Err(self.conversion("strings"));
        }
        Ok(())
    }

    /// Validated when the tensor was built; only the bound on what reading it builds remains.
    fn text_limits() -> Limits {
        Limits {
            max_elements: usize::MAX,
            max_bytes: usize::MAX,
            ..Limits::DEFAULT
        }
    }

    fn map_le<T: Element, U>(&self, f: impl Fn(T) -> U) -> Vec<U> {
        // Read element by element so no temporary vector of the source type is built.
        let size = std::mem::size_of::<T>();
        self.data
            .chunks_exact(size)
            .map(|c| {
                let mut v = T::zeroed();
                bytemuck::bytes_of_mut(&mut v).copy_from_slice(c);
                #[cfg(target_endian = "big")]
                bytemuck::bytes_of_mut(&mut v).reverse();
                f(v)
            })
            .collect()
    }

    fn conversion(&self, wanted: &'static str) -> TensorError {
        TensorError::Conversion {
            dtype: self.dtype,
            wanted,
        }
    }
}
