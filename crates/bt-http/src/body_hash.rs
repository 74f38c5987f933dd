//! The SDK's `computed_body_hash`: `sha3_256_hex(concat(sha3_256_hex(str(field)) for field in
//! required_hash_fields))`, with `str` Python's rendering. With no hashed field it is the hash of
//! the empty string, i.e. a constant: such a request's v10 signature binds none of its body
//! (btauth/1 binds the raw body instead).

use sha3::{Digest, Sha3_256};

use crate::pyrepr::PyRender;

/// Lower-case hex of SHA3-256.
pub fn sha3_256_hex(bytes: &[u8]) -> String {
    hex_lower(&Sha3_256::digest(bytes))
}

fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// Accumulates the per-field hashes in the synapse's declared order.
#[derive(Default)]
pub struct BodyHasher {
    concat: String,
    scratch: String,
}

impl BodyHasher {
    pub fn field<T: PyRender + ?Sized>(&mut self, value: &T) -> &mut Self {
        self.scratch.clear();
        value.py_str(&mut self.scratch);
        self.concat.push_str(&sha3_256_hex(self.scratch.as_bytes()));
        self
    }

    pub fn finish(&self) -> String {
        if self.concat.is_empty() {
            // A synapse that hashes no field has a constant hash: computed once.
            static EMPTY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            return EMPTY.get_or_init(|| sha3_256_hex(b"")).clone();
        }
        sha3_256_hex(self.concat.as_bytes())
    }
}

/// The hash when no field is hashed.
pub fn empty_body_hash() -> String {
    BodyHasher::default().finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Values from the SDK 10.5: `Synapse().body_hash` and a synapse with
    // `required_hash_fields = ("messages",)`, `messages=["hi"]`.
    #[test]
    fn matches_the_sdk() {
        assert_eq!(
            empty_body_hash(),
            "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
        );
        let mut h = BodyHasher::default();
        h.field(&vec!["hi".to_string()]);
        assert_eq!(h.finish(), sha3_256_hex(sha3_256_hex(b"['hi']").as_bytes()));
    }
}
