//! Reader for the IDX format of MNIST-like datasets (raw or gzip), with strict header checks.
//!
//! The header is `0x00 0x00 <type> <ndims>` then `ndims` big-endian u32 dimensions. We accept only
//! unsigned bytes (`type = 0x08`), the form every MNIST-like file uses, and require the payload
//! length to equal the product of the dimensions exactly, so a truncated download is an error
//! rather than a silently smaller dataset.

use std::io::Read;
use std::path::Path;

use crate::error::{NnError, Result, io_err};

/// An IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Largest payload accepted (the full MNIST training images are 47 MB); protects against a
/// header that claims terabytes.
pub const MAX_IDX_BYTES: usize = 1 << 30;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads an IDX file; gzip is detected from the content, not the file name.
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let raw = std::fs::read(path).map_err(io_err(path))?;
    let bytes = if raw.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_IDX_BYTES as u64 + 1024)
            .read_to_end(&mut out)
            .map_err(io_err(path))?;
        out
    } else {
        raw
    };
    parse_idx(&bytes).map_err(|reason| NnError::BadIdx {
        path: path.to_path_buf(),
        reason,
    })
}

/// Parses IDX bytes (already decompressed).
pub fn parse_idx(bytes: &[u8]) -> std::result::Result<IdxArray, String> {
    let header: [u8; 4] = bytes
        .get(..4)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| format!("file is {} bytes, shorter than the magic", bytes.len()))?;
    if header[0] != 0 || header[1] != 0 {
        return Err(format!(
            "magic starts with {:02x}{:02x}, expected 0000",
            header[0], header[1]
        ));
    }
    if header[2] != 0x08 {
        return Err(format!(
            "element type 0x{:02x}, only unsigned byte (0x08) is supported",
            header[2]
        ));
    }
    let ndims = usize::from(header[3]);
    if ndims == 0 || ndims > 4 {
        return Err(format!("{ndims} dimensions, expected 1 to 4"));
    }
    let dims_end = 4 + 4 * ndims;
    let dim_bytes = bytes
        .get(4..dims_end)
        .ok_or_else(|| format!("header truncated: {ndims} dimensions need {dims_end} bytes"))?;
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_IDX_BYTES)
        .ok_or_else(|| format!("dimensions {dims:?} exceed {MAX_IDX_BYTES} bytes"))?;
    let payload = &bytes[dims_end..];
    if payload.len() != expected {
        return Err(format!(
            "dimensions {dims:?} need {expected} payload bytes, file has {}",
            payload.len()
        ));
    }
    Ok(IdxArray {
        dims,
        data: payload.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(dims: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn round_trip_and_rejections() {
        let ok = parse_idx(&encode(&[2, 3], &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(ok.dims, vec![2, 3]);
        assert_eq!(ok.data, vec![1, 2, 3, 4, 5, 6]);
        assert!(
            parse_idx(&encode(&[2, 3], &[1, 2, 3]))
                .unwrap_err()
                .contains("payload")
        );
        assert!(parse_idx(&encode(&[2, 3], &[0; 7])).is_err());
        let mut bad_type = encode(&[1], &[0]);
        bad_type[2] = 0x0d;
        assert!(parse_idx(&bad_type).unwrap_err().contains("element type"));
        assert!(parse_idx(&[1, 0, 8, 1]).unwrap_err().contains("magic"));
        assert!(parse_idx(&[0, 0, 8]).is_err());
        assert!(
            parse_idx(&[0, 0, 8, 2, 0, 0])
                .unwrap_err()
                .contains("truncated")
        );
        assert!(
            parse_idx(&encode(&[u32::MAX, u32::MAX], &[]))
                .unwrap_err()
                .contains("exceed")
        );
    }

    proptest::proptest! {
        #[test]
        fn encoded_arrays_round_trip(dims in proptest::collection::vec(1u32..6, 1..4), seed: u8) {
            let n: u32 = dims.iter().product();
            let payload: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
            let parsed = parse_idx(&encode(&dims, &payload)).unwrap();
            proptest::prop_assert_eq!(parsed.dims, dims.iter().map(|&d| d as usize).collect::<Vec<_>>());
            proptest::prop_assert_eq!(parsed.data, payload);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = parse_idx(&bytes);
        }
    }

    #[test]
    fn reads_vendored_gzip_labels() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist");
        let labels = read_idx(format!("{dir}/t10k-labels-idx1-ubyte.gz")).unwrap();
        assert_eq!(labels.dims, vec![10_000]);
        assert!(labels.data.iter().all(|&l| l < 10));
        let missing = read_idx(format!("{dir}/nope.gz")).unwrap_err();
        assert!(matches!(missing, NnError::Io { .. }));
    }
}
