//! The codec between a wire [`bt_wire::Tensor`] and a typed, validated [`Tensor`].
//!
//! Bird's-eye view:
//! - [`decode`] checks a received tensor against [`Limits`] (dtype and modality values and their
//!   combination, number and size of dimensions, overflow of the element count, buffer length,
//!   finiteness of floats, the text pickle) and then wraps the received buffer **without
//!   copying it**: the tensor holds a reference count on the frame's [`bytes::Bytes`].
//! - Typed views ([`Tensor::as_f32_slice`], [`Tensor::as_slice`]) borrow those bytes when they are
//!   aligned; conversions ([`Tensor::to_f32_vec`], [`Tensor::f32_cow`]) copy only when needed.
//! - [`encode`] turns a tensor back into its wire form, again sharing the buffer. Tensors built
//!   from a `Vec` ([`Tensor::from_f32_vec`], [`Tensor::from_vec`]) take over its allocation.
//! - [`pickle`] reads and writes the only Python pickle Release 1 peers send: a `list[str]`
//!   (protocols 3 and 4, byte-identical to CPython). It executes nothing and rejects every other
//!   opcode.
//!
//! Wire layout (see `PROTOCOL.md` §1): numeric buffers are little-endian, row-major, no header;
//! `len(buffer) == product(shape) × size(dtype)`, every dimension ≥ 1. UTF8 text is a pickled
//! `list[str]` with shape `[n, 1]`; text may also be INT64 token ids. FLOAT16 (6) and BFLOAT16 (7)
//! are our extensions to the Release 1 dtype enum.
//!
//! - [`compression`] compresses float32 tensors for peers that negotiated it (f16, bf16,
//!   uniform and blockwise 8-bit) and decodes what they send.
//!
//! The codec does no I/O and reads no clock.
//!
//! ```
//! use bt_tensor::{decode, encode, Limits, Modality, Tensor};
//!
//! let t = Tensor::from_f32(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], Modality::Tensor)?;
//! let wire = encode(&t);
//! let back = decode(&wire, &Limits::default())?;
//! assert_eq!(back.as_f32_slice(), Some(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0][..]));
//!
//! let text = Tensor::text(&["héllo", "日本語"]);
//! assert_eq!(decode(&encode(&text), &Limits::default())?.to_strings()?, ["héllo", "日本語"]);
//! # Ok::<(), bt_tensor::TensorError>(())
//! ```

mod codec;
pub mod compression;
mod dtype;
mod element;
mod error;
mod limits;
pub mod pickle;
mod tensor;

pub use codec::{WIRE_VERSION, decode, encode};
pub use dtype::{DType, Modality};
pub use element::Element;
pub use error::{PickleError, TensorError};
pub use half::{bf16, f16};
pub use limits::Limits;
pub use tensor::Tensor;
