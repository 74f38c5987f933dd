//! Signing synapse definitions (gossip entries): Ed25519 by `neuron_key` over a digest of every
//! field including `nounce` and `proof_of_work`, so neither the endpoint nor the work can be
//! swapped by whoever relays the entry.

use bt_wire::Synapse;

use crate::transcript::Transcript;
use crate::{CryptoError, NeuronKey, PublicKey, pow};

pub const SYNAPSE_SIGNATURE_TAG: &[u8] = b"bittensor/synapse-signature/v1";

/// The 32-byte message `neuron_key` signs (layout in `docs/protocol.md`).
pub fn synapse_signing_digest(syn: &Synapse) -> [u8; 32] {
    let mut t = Transcript::new(SYNAPSE_SIGNATURE_TAG);
    t.bytes(syn.version.as_bytes())
        .bytes(syn.neuron_key.as_bytes())
        .bytes(syn.synapse_key.as_bytes())
        .bytes(syn.address.as_bytes())
        .bytes(syn.port.as_bytes())
        .bytes(syn.block_hash.as_bytes())
        .i32(syn.nounce)
        .bytes(&syn.proof_of_work);
    t.finish()
}

/// Set `signature`. Does not touch `neuron_key` (the work covers it): set `neuron_key` to
/// `key.public_hex()` before [`pow::solve`], or use [`seal_synapse`].
pub fn sign_synapse(key: &NeuronKey, syn: &mut Synapse) {
    let digest = synapse_signing_digest(syn);
    syn.signature = bytes::Bytes::copy_from_slice(&key.sign(&digest));
}

/// Set `neuron_key`, solve the work at `difficulty_bits`, sign. CPU-bound (see [`pow::solve`]).
pub fn seal_synapse(
    key: &NeuronKey,
    syn: &mut Synapse,
    difficulty_bits: u32,
) -> Result<(), CryptoError> {
    syn.neuron_key = key.public_hex();
    pow::solve(syn, difficulty_bits)?;
    sign_synapse(key, syn);
    Ok(())
}

/// Check the work (cheap, first: it rejects spam before the costlier signature check), then the
/// signature by `neuron_key`.
pub fn verify_synapse(syn: &Synapse, difficulty_bits: u32) -> Result<(), CryptoError> {
    pow::verify(syn, difficulty_bits)?;
    if syn.signature.is_empty() {
        return Err(CryptoError::Unsigned {
            missing: "signature",
        });
    }
    let key = PublicKey::from_hex(&syn.neuron_key)?;
    key.verify(&synapse_signing_digest(syn), &syn.signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_synapse_verifies_and_any_field_change_breaks_it() {
        let key = NeuronKey::from_seed([7; 32]);
        let mut syn = Synapse {
            version: "0.1.0".into(),
            synapse_key: NeuronKey::from_seed([8; 32]).public_hex(),
            address: "10.0.0.1".into(),
            port: "8091".into(),
            block_hash: "0x01".into(),
            ..Default::default()
        };
        seal_synapse(&key, &mut syn, 8).unwrap();
        verify_synapse(&syn, 8).unwrap();

        let mut other = syn.clone();
        other.address = "10.0.0.2".into();
        assert!(verify_synapse(&other, 8).is_err());

        // Re-solving with a different key but keeping the old signature fails on the signature.
        let mut stolen = syn.clone();
        stolen.neuron_key = NeuronKey::from_seed([9; 32]).public_hex();
        pow::solve(&mut stolen, 8).unwrap();
        stolen.signature = syn.signature.clone();
        assert!(verify_synapse(&stolen, 8).is_err());

        let mut unsigned = syn.clone();
        unsigned.signature = bytes::Bytes::new();
        assert!(matches!(
            verify_synapse(&unsigned, 8),
            Err(CryptoError::Unsigned { .. })
        ));
    }
}
