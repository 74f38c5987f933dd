//! Proof of work over a synapse definition (a gossip entry).
//!
//! `proof_of_work` must equal [`synapse_work_digest`] — SHA-256 over every field of the synapse
//! except `proof_of_work` and `signature`, `nounce` included — and that digest must start with
//! at least `difficulty_bits` zero bits. The sender searches `nounce`; a verifier pays one hash.
//! Release 1 computed the work over `bytes(n)`, i.e. n zero bytes, which proves nothing.

use bt_wire::Synapse;

use crate::CryptoError;
use crate::error::clip;
use crate::transcript::Transcript;

pub const WORK_TAG: &[u8] = b"bittensor/synapse-work/v1";

/// Above this the 2^32 `nounce` values would too likely all fail.
pub const MAX_DIFFICULTY_BITS: u32 = 30;

fn prefix(syn: &Synapse) -> Transcript {
    let mut t = Transcript::new(WORK_TAG);
    t.bytes(syn.version.as_bytes())
        .bytes(syn.neuron_key.as_bytes())
        .bytes(syn.synapse_key.as_bytes())
        .bytes(syn.address.as_bytes())
        .bytes(syn.port.as_bytes())
        .bytes(syn.block_hash.as_bytes());
    t
}

/// The work digest of `syn` with its current `nounce`.
pub fn synapse_work_digest(syn: &Synapse) -> [u8; 32] {
    let mut t = prefix(syn);
    t.i32(syn.nounce);
    t.finish()
}

/// Number of leading zero bits, most significant bit of the first byte first.
pub fn leading_zero_bits(bytes: &[u8]) -> u32 {
    let mut n = 0;
    for &b in bytes {
        if b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

/// Search `nounce` (0, 1, …, i32::MAX, then i32::MIN, …, -1) until the work digest has
/// `difficulty_bits` leading zero bits, then set `nounce` and `proof_of_work`. Clears
/// `signature`, which no longer matches: sign after solving. Expected cost: 2^difficulty hashes.
/// CPU-bound: call it off the async executor.
pub fn solve(syn: &mut Synapse, difficulty_bits: u32) -> Result<(), CryptoError> {
    if difficulty_bits > MAX_DIFFICULTY_BITS {
        return Err(CryptoError::ProofOfWork {
            synapse_key: clip(&syn.synapse_key),
            reason: format!(
                "difficulty {difficulty_bits} bits exceeds the maximum {MAX_DIFFICULTY_BITS}"
            ),
        });
    }
    // The fields before `nounce` are hashed once; each attempt only adds 4 bytes.
    let base = prefix(syn);
    for counter in 0..=u32::MAX {
        let nounce = i32::from_ne_bytes(counter.to_ne_bytes());
        let mut t = base.clone();
        t.i32(nounce);
        let digest = t.finish();
        if leading_zero_bits(&digest) >= difficulty_bits {
            syn.nounce = nounce;
            syn.proof_of_work = bytes::Bytes::copy_from_slice(&digest);
            syn.signature = bytes::Bytes::new();
            return Ok(());
        }
    }
    Err(CryptoError::ProofOfWork {
        synapse_key: clip(&syn.synapse_key),
        reason: format!("no nounce reaches {difficulty_bits} leading zero bits"),
    })
}

/// Check that `proof_of_work` is the work digest of `syn` and meets `difficulty_bits`.
pub fn verify(syn: &Synapse, difficulty_bits: u32) -> Result<(), CryptoError> {
    let fail = |reason: String| CryptoError::ProofOfWork {
        synapse_key: clip(&syn.synapse_key),
        reason,
    };
    if syn.proof_of_work.len() != 32 {
        return Err(fail(format!(
            "proof_of_work is {} bytes, expected 32",
            syn.proof_of_work.len()
        )));
    }
    let digest = synapse_work_digest(syn);
    if syn.proof_of_work.as_ref() != digest.as_slice() {
        return Err(fail(
            "proof_of_work is not the work digest of the synapse fields".into(),
        ));
    }
    let zeros = leading_zero_bits(&digest);
    if zeros < difficulty_bits {
        return Err(fail(format!(
            "{zeros} leading zero bits, {difficulty_bits} required"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synapse() -> Synapse {
        Synapse {
            version: "0.1.0".into(),
            neuron_key: format!("0x{}", "11".repeat(32)),
            synapse_key: format!("0x{}", "22".repeat(32)),
            address: "127.0.0.1".into(),
            port: "8091".into(),
            block_hash: "0xabc".into(),
            ..Default::default()
        }
    }

    #[test]
    fn leading_zero_bits_counts_from_msb() {
        assert_eq!(leading_zero_bits(&[]), 0);
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0x01]), 7);
        assert_eq!(leading_zero_bits(&[0, 0x10]), 11);
        assert_eq!(leading_zero_bits(&[0, 0]), 16);
    }

    #[test]
    fn solve_then_verify_and_tamper() {
        let mut syn = synapse();
        solve(&mut syn, 12).unwrap();
        verify(&syn, 12).unwrap();
        assert!(leading_zero_bits(&syn.proof_of_work) >= 12);
        let mut moved = syn.clone();
        moved.port = "8092".into();
        assert!(verify(&moved, 12).is_err());
        let mut renonced = syn.clone();
        renonced.nounce = renonced.nounce.wrapping_add(1);
        assert!(verify(&renonced, 12).is_err());
        // Difficulty 0 still demands a correct digest.
        let mut empty = synapse();
        assert!(verify(&empty, 0).is_err());
        solve(&mut empty, 0).unwrap();
        verify(&empty, 0).unwrap();
    }

    #[test]
    fn absurd_difficulty_is_refused_not_attempted() {
        let mut syn = synapse();
        assert!(solve(&mut syn, MAX_DIFFICULTY_BITS + 1).is_err());
        assert!(verify(&syn, 200).is_err());
    }
}
