//! The canonical transaction encoding: a small binary format, one way to write each value.
//!
//! ```text
//! tx        := version:u8 (=2) signer:[u8;32] genesis_tag:[u8;8] nonce:u64le call signature:[u8;64]
//! call      := tag:u8 fields                    (see `Call` for the tag and field order)
//! u16/u64   := little endian;  u128 := little endian (16 bytes)
//! vec<T>    := len:u32le T*len                  (len bounded per field)
//! bytes     := len:u32le u8*len                 (bounded)
//! ```
//! The signature covers `"bt-chain/tx/v2" ‖ genesis_hash ‖ encoding-without-signature`, so a
//! transaction is bound to one chain; `genesis_tag` (the hash's first 8 bytes) lets a node name
//! a transaction signed for another chain as such. Decoding is strict: the whole input must be consumed,
//! every length is checked against its bound *before* allocating, unknown tags and versions are
//! errors, and the total size is capped at [`MAX_TX_BYTES`]. A re-encode of a decoded
//! transaction is byte-identical to its input (checked by property tests and the fuzz target).

use crate::error::ChainError;
use crate::keys::AccountId;

/// Upper bound on an encoded transaction.
pub const MAX_TX_BYTES: usize = 64 * 1024;

pub(crate) struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(128),
        }
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u128(&mut self, v: u128) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn raw(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    pub fn account(&mut self, a: &AccountId) {
        self.raw(&a.0);
    }
    /// Lengths are bounded far below u32::MAX by the callers' limits.
    pub fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.len(v.len());
        self.raw(v);
    }
    pub fn u16s(&mut self, v: &[u16]) {
        self.len(v.len());
        for x in v {
            self.u16(*x);
        }
    }
}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn err(what: &str) -> ChainError {
    ChainError::Decode(what.to_string())
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ChainError> {
        let end = self.pos.checked_add(n).ok_or_else(|| err(what))?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| err(&format!("truncated {what}")))?;
        self.pos = end;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ChainError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn u8(&mut self, what: &str) -> Result<u8, ChainError> {
        Ok(self.arr::<1>(what)?[0])
    }
    pub fn u16(&mut self, what: &str) -> Result<u16, ChainError> {
        Ok(u16::from_le_bytes(self.arr(what)?))
    }
    pub fn u32(&mut self, what: &str) -> Result<u32, ChainError> {
        Ok(u32::from_le_bytes(self.arr(what)?))
    }
    pub fn u64(&mut self, what: &str) -> Result<u64, ChainError> {
        Ok(u64::from_le_bytes(self.arr(what)?))
    }
    pub fn u128(&mut self, what: &str) -> Result<u128, ChainError> {
        Ok(u128::from_le_bytes(self.arr(what)?))
    }
    pub fn hash(&mut self, what: &str) -> Result<[u8; 32], ChainError> {
        self.arr(what)
    }
    pub fn sig(&mut self) -> Result<[u8; 64], ChainError> {
        self.arr("signature")
    }
    pub fn account(&mut self, what: &str) -> Result<AccountId, ChainError> {
        Ok(AccountId(self.arr(what)?))
    }
    fn len(&mut self, max: usize, what: &str) -> Result<usize, ChainError> {
        let n = usize::try_from(self.u32(what)?).map_err(|_| err(what))?;
        if n > max {
            return Err(err(&format!("{what}: length {n} exceeds {max}")));
        }
        Ok(n)
    }
    pub fn bytes(&mut self, max: usize, what: &str) -> Result<Vec<u8>, ChainError> {
        let n = self.len(max, what)?;
        Ok(self.take(n, what)?.to_vec())
    }
    pub fn u16s(&mut self, max: usize, what: &str) -> Result<Vec<u16>, ChainError> {
        let n = self.len(max, what)?;
        let raw = self.take(n.checked_mul(2).ok_or_else(|| err(what))?, what)?;
        Ok(raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect())
    }
    pub fn finish(&self) -> Result<(), ChainError> {
        if self.pos != self.buf.len() {
            return Err(err(&format!(
                "{} trailing bytes",
                self.buf.len() - self.pos
            )));
        }
        Ok(())
    }
}
