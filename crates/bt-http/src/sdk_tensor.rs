//! The SDK's `bt.Tensor` as JSON: `{"buffer": base64(msgpack(ndarray)), "dtype": "float32",
//! "shape": [2, 3]}`, the ndarray packed the way `msgpack_numpy` does it: a five-entry map
//! `{b"nd": True, b"type": "<f4", b"kind": b"", b"shape": [2, 3], b"data": <raw bytes>}`.
//!
//! Decoding reads untrusted bytes: every length is checked against what is left before
//! anything is allocated, and the element count against the data length. The tensor's storage
//! is a slice of the one base64-decoded buffer, not a further copy (big-endian data, which
//! numpy can send, is the exception: it is byte-swapped into a new buffer).

use base64::Engine;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use bt_tensor::{DType, Limits, Modality, Tensor};

use crate::error::BodyError;
use crate::message::SynapseField;
use crate::pyrepr::{PyRender, repr_str};

/// A `bt.Tensor` field as it travels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SdkTensor {
    pub buffer: Option<String>,
    pub dtype: String,
    pub shape: Vec<i64>,
}

impl PyRender for SdkTensor {
    // `str(model_dump())` of a `bt.Tensor` is a dict in field order.
    fn py_repr(&self, out: &mut String) {
        out.push_str("{'buffer': ");
        match &self.buffer {
            Some(b) => repr_str(b, out),
            None => out.push_str("None"),
        }
        out.push_str(", 'dtype': ");
        repr_str(&self.dtype, out);
        out.push_str(", 'shape': ");
        self.shape.py_repr(out);
        out.push('}');
    }
}

impl SynapseField for SdkTensor {
    fn zero_json(&self) -> Option<&'static str> {
        Some("{}")
    }
}

fn bad(msg: impl Into<String>) -> BodyError {
    BodyError::Tensor(msg.into())
}

/// numpy's name, byte width and our dtype for each element type we carry.
const DTYPES: [(&str, &str, usize, DType); 5] = [
    ("float16", "f2", 2, DType::Float16),
    ("float32", "f4", 4, DType::Float32),
    ("float64", "f8", 8, DType::Float64),
    ("int32", "i4", 4, DType::Int32),
    ("int64", "i8", 8, DType::Int64),
];

fn numpy_name(dtype: DType) -> Option<(&'static str, &'static str)> {
    DTYPES.iter().find(|d| d.3 == dtype).map(|d| (d.0, d.1))
}

impl SdkTensor {
    /// Encode a numeric tensor (`float16/32/64`, `int32/64`); text tensors have no `bt.Tensor`
    /// form.
    pub fn from_tensor(t: &Tensor) -> Result<Self, BodyError> {
        let (name, code) = numpy_name(t.dtype())
            .ok_or_else(|| bad(format!("{:?} has no numpy dtype", t.dtype())))?;
        let data = t.bytes();
        let mut packed = Vec::with_capacity(data.len() + 64);
        packed.push(0x85); // fixmap, 5 entries
        bin(&mut packed, b"nd");
        packed.push(0xc3); // true
        bin(&mut packed, b"type");
        let type_str = format!("<{code}");
        packed.push(0xa0 | type_str.len() as u8); // fixstr: 3 bytes
        packed.extend_from_slice(type_str.as_bytes());
        bin(&mut packed, b"kind");
        bin(&mut packed, b"");
        bin(&mut packed, b"shape");
        array_header(&mut packed, t.shape().len());
        for &d in t.shape() {
            uint(&mut packed, d as u64);
        }
        bin(&mut packed, b"data");
        bin(&mut packed, data);
        let shape = if t.shape().is_empty() {
            vec![0] // the SDK's convention for a scalar
        } else {
            t.shape().iter().map(|&d| d as i64).collect()
        };
        Ok(Self {
            buffer: Some(base64::engine::general_purpose::STANDARD.encode(&packed)),
            dtype: name.to_string(),
            shape,
        })
    }

    /// Decode into a tensor (modality `Tensor`), checked against `limits`.
    pub fn to_tensor(&self, limits: &Limits) -> Result<Tensor, BodyError> {
        let buffer = self
            .buffer
            .as_deref()
            .ok_or_else(|| bad("buffer is missing"))?;
        let declared = DTYPES
            .iter()
            .find(|d| d.0 == self.dtype || self.dtype.strip_prefix("torch.") == Some(d.0))
            .ok_or_else(|| {
                bad(format!(
                    "dtype {:?} is not one of float16, float32, float64, int32, int64",
                    crate::clip(&self.dtype)
                ))
            })?;
        // base64 never decodes to more than 3/4 of its length: the allocation is bounded by
        // what was received.
        let raw = base64::engine::general_purpose::STANDARD
            .decode(buffer)
            .map_err(|e| bad(format!("buffer is not base64: {e}")))?;
        let raw = Bytes::from(raw);
        let packed = unpack(&raw)?;
        if packed.code != declared.1 {
            return Err(bad(format!(
                "dtype says {} but the buffer holds {}",
                declared.0, packed.code
            )));
        }
        let shape_matches = packed.shape.len() == self.shape.len()
            && packed
                .shape
                .iter()
                .zip(&self.shape)
                .all(|(&a, &b)| i64::try_from(a).ok() == Some(b));
        let scalar = packed.shape.is_empty() && self.shape == [0];
        if !(shape_matches || scalar) {
            return Err(bad(format!(
                "shape says {:?} but the buffer holds {:?}",
                self.shape, packed.shape
            )));
        }
        let count = packed
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| bad("shape overflows"))?;
        let width = declared.2;
        if count.checked_mul(width) != Some(packed.data.len()) {
            return Err(bad(format!(
                "shape {:?} of {} needs {} bytes, the buffer has {}",
                packed.shape,
                declared.0,
                count.saturating_mul(width),
                packed.data.len()
            )));
        }
        let data = raw.slice(packed.data);
        let data = if packed.big_endian && width > 1 {
            let mut swapped = data.to_vec();
            for chunk in swapped.chunks_exact_mut(width) {
                chunk.reverse();
            }
            Bytes::from(swapped)
        } else {
            data
        };
        Tensor::from_bytes(declared.3, &packed.shape, Modality::Tensor, data, limits)
            .map_err(|e| bad(e.to_string()))
    }
}

struct Unpacked {
    code: String,
    big_endian: bool,
    shape: Vec<usize>,
    data: std::ops::Range<usize>,
}

const MAX_RANK: usize = 8;

/// Parse the msgpack_numpy map. Only the forms msgpack-python writes for it are accepted.
fn unpack(buf: &[u8]) -> Result<Unpacked, BodyError> {
    let mut r = Reader { buf, pos: 0 };
    let entries = match r.byte()? {
        b @ 0x80..=0x8f => usize::from(b & 0x0f),
        b => return Err(bad(format!("buffer is not a msgpack map (0x{b:02x})"))),
    };
    let (mut code, mut big_endian, mut shape, mut data, mut nd) = (None, false, None, None, false);
    for _ in 0..entries {
        let key = r.bytes_or_str()?;
        match key {
            b"nd" => nd = r.byte()? == 0xc3,
            b"type" => {
                let t = r.bytes_or_str()?;
                let t = std::str::from_utf8(t).map_err(|_| bad("type is not UTF-8"))?;
                let (order, c) = t.split_at_checked(1).ok_or_else(|| bad("empty type"))?;
                big_endian = order == ">";
                if !matches!(order, "<" | ">" | "|" | "=") {
                    return Err(bad(format!("type {:?} has no byte order", crate::clip(t))));
                }
                code = Some(c.to_string());
            }
            b"kind" => {
                r.bytes_or_str()?;
            }
            b"shape" => {
                let n = r.array_len()?;
                if n > MAX_RANK {
                    return Err(bad(format!("rank {n} exceeds {MAX_RANK}")));
                }
                let mut dims = Vec::with_capacity(n);
                for _ in 0..n {
                    dims.push(usize::try_from(r.uint()?).map_err(|_| bad("dimension too large"))?);
                }
                shape = Some(dims);
            }
            b"data" => {
                let d = r.bytes_or_str()?;
                let start = d.as_ptr() as usize - buf.as_ptr() as usize;
                data = Some(start..start + d.len());
            }
            other => {
                return Err(bad(format!(
                    "unexpected key {:?} in the buffer",
                    String::from_utf8_lossy(&other[..other.len().min(16)])
                )));
            }
        }
    }
    if !nd {
        return Err(bad("buffer is not a numpy array (nd is not true)"));
    }
    match (code, shape, data) {
        (Some(code), Some(shape), Some(data)) => Ok(Unpacked {
            code,
            big_endian,
            shape,
            data,
        }),
        _ => Err(bad("buffer lacks type, shape or data")),
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BodyError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| bad("buffer ends inside a msgpack value"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, BodyError> {
        Ok(self.take(1)?[0])
    }

    fn be(&mut self, n: usize) -> Result<u64, BodyError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn bytes_or_str(&mut self) -> Result<&'a [u8], BodyError> {
        let len = match self.byte()? {
            b @ 0xa0..=0xbf => u64::from(b & 0x1f),
            0xc4 | 0xd9 => self.be(1)?,
            0xc5 | 0xda => self.be(2)?,
            0xc6 | 0xdb => self.be(4)?,
            b => {
                return Err(bad(format!(
                    "expected bytes in the buffer, found 0x{b:02x}"
                )));
            }
        };
        self.take(usize::try_from(len).map_err(|_| bad("length too large"))?)
    }

    fn array_len(&mut self) -> Result<usize, BodyError> {
        Ok(match self.byte()? {
            b @ 0x90..=0x9f => usize::from(b & 0x0f),
            0xdc => self.be(2)? as usize,
            b => return Err(bad(format!("expected a shape array, found 0x{b:02x}"))),
        })
    }

    fn uint(&mut self) -> Result<u64, BodyError> {
        match self.byte()? {
            b @ 0x00..=0x7f => Ok(u64::from(b)),
            0xcc => self.be(1),
            0xcd => self.be(2),
            0xce => self.be(4),
            0xcf => self.be(8),
            b => Err(bad(format!(
                "expected a non-negative dimension, found 0x{b:02x}"
            ))),
        }
    }
}

fn bin(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    if n < 0x100 {
        out.extend_from_slice(&[0xc4, n as u8]);
    } else if n < 0x1_0000 {
        out.push(0xc5);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}

fn array_header(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    }
}

fn uint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
    } else if v < 0x100 {
        out.extend_from_slice(&[0xcc, v as u8]);
    } else if v < 0x1_0000 {
        out.push(0xcd);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v < 0x1_0000_0000 {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `bt.Tensor.serialize(np.array([[1,2,3],[4,5,6]], dtype=np.float32))` in SDK 10.5.
    const SDK_F32: &str =
        "hcQCbmTDxAR0eXBlozxmNMQEa2luZMQAxAVzaGFwZZICA8QEZGF0YcQYAACAPwAAAEAAAEBAAACAQAAAoEAAAMBA";

    #[test]
    fn reads_and_writes_the_sdk_form() {
        let sdk = SdkTensor {
            buffer: Some(SDK_F32.into()),
            dtype: "float32".into(),
            shape: vec![2, 3],
        };
        let t = sdk.to_tensor(&Limits::DEFAULT).unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.to_f32_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(SdkTensor::from_tensor(&t).unwrap(), sdk);
        assert_eq!(
            crate::pyrepr::py_str(&sdk),
            format!("{{'buffer': '{SDK_F32}', 'dtype': 'float32', 'shape': [2, 3]}}")
        );
    }

    #[test]
    fn big_endian_and_scalars() {
        // np.arange(6, dtype='>i4').reshape(2,3)
        let packed = hex_bytes(
            "85c4026e64c3c40474797065a33e6934c4046b696e64c400c4057368617065920203c40464617461c418000000000000000100000002000000030000000400000005",
        );
        let sdk = SdkTensor {
            buffer: Some(base64::engine::general_purpose::STANDARD.encode(packed)),
            dtype: "int32".into(),
            shape: vec![2, 3],
        };
        let t = sdk.to_tensor(&Limits::DEFAULT).unwrap();
        assert_eq!(t.to_vec::<i32>().unwrap(), vec![0, 1, 2, 3, 4, 5]);
        // np.array(3.5, dtype=np.float64): shape [] in the buffer, [0] in the field.
        let scalar = SdkTensor {
            buffer: Some("hcQCbmTDxAR0eXBlozxmOMQEa2luZMQAxAVzaGFwZZDEBGRhdGHECAAAAAAAAAxA".into()),
            dtype: "float64".into(),
            shape: vec![0],
        };
        let t = scalar.to_tensor(&Limits::DEFAULT).unwrap();
        assert_eq!(t.to_f64_vec().unwrap(), vec![3.5]);
        assert_eq!(SdkTensor::from_tensor(&t).unwrap(), scalar);
    }

    #[test]
    fn refuses_lies() {
        let mut sdk = SdkTensor {
            buffer: Some(SDK_F32.into()),
            dtype: "float64".into(),
            shape: vec![2, 3],
        };
        assert!(matches!(
            sdk.to_tensor(&Limits::DEFAULT),
            Err(BodyError::Tensor(_))
        ));
        sdk.dtype = "float32".into();
        sdk.shape = vec![3, 3];
        assert!(sdk.to_tensor(&Limits::DEFAULT).is_err());
        sdk.shape = vec![2, 3];
        sdk.buffer = Some("not base64!".into());
        assert!(sdk.to_tensor(&Limits::DEFAULT).is_err());
        sdk.dtype = "bool".into();
        assert!(sdk.to_tensor(&Limits::DEFAULT).is_err());
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn unpack_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = unpack(&bytes);
        }

        #[test]
        fn round_trips(values in proptest::collection::vec(-1e6f32..1e6, 1..64)) {
            let n = values.len();
            let t = Tensor::from_f32(&[n], &values, Modality::Tensor).unwrap();
            let sdk = SdkTensor::from_tensor(&t).unwrap();
            let back = sdk.to_tensor(&Limits::DEFAULT).unwrap();
            proptest::prop_assert_eq!(back.to_f32_vec().unwrap(), values);
        }
    }
}
