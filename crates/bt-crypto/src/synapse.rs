//! Signing synapse definitions (gossip entries): Ed25519 by `neuron_key` over a digest of every
//! field including `nounce` and `proof_of_work`, so neither the endpoint nor the work can be
//! swapped by whoever relays the entry.

use bt_wire::Synapse;

use crate::transcript::Transcript;
use crate::{CryptoError, NeuronKey, PublicKey, pow};

pub const SYNAPSE_SIGNATURE_TAG: &[u8] = b"bittensor/synapse-signature/v1";

/// Domain separation of the synapse proof (see [`synapse_proof_digest`]).
pub const SYNAPSE_PROOF_TAG: &[u8] = b"bittensor/synapse-proof/v1";

/// The 32-byte message the *synapse* key signs in `synapse_proof`: it binds the synapse key to
/// the neuron key that may announce it and to the endpoint it is served at (layout in
/// `docs/protocol.md`). Without it, whoever announces a synapse key first owns it in every
/// table. The heartbeat is left out on purpose: the binding is made once where the synapse
/// secret lives, and only the bound neuron key can sign fresh heartbeats over it.
pub fn synapse_proof_digest(syn: &Synapse) -> [u8; 32] {
    let mut t = Transcript::new(SYNAPSE_PROOF_TAG);
    t.bytes(syn.neuron_key.as_bytes())
        .bytes(syn.synapse_key.as_bytes())
        .bytes(syn.address.as_bytes())
        .bytes(syn.port.as_bytes());
    t.finish()
}

/// Set `synapse_proof` with the synapse's own secret. `neuron_key`, `synapse_key`, `address`
/// and `port` must already be final; fails when `synapse` is not the secret of `synapse_key`.
pub fn prove_synapse(synapse: &NeuronKey, syn: &mut Synapse) -> Result<(), CryptoError> {
    let public = synapse.public_hex();
    if public != syn.synapse_key {
        return Err(CryptoError::BadSignature {
            key: syn.synapse_key.clone(),
            reason: format!("the proving secret belongs to {public}"),
        });
    }
    let digest = synapse_proof_digest(syn);
    syn.synapse_proof = bytes::Bytes::copy_from_slice(&synapse.sign(&digest));
    Ok(())
}

/// Check `synapse_proof`: a signature by `synapse_key` over [`synapse_proof_digest`].
pub fn verify_synapse_proof(syn: &Synapse) -> Result<(), CryptoError> {
    if syn.synapse_proof.is_empty() {
        return Err(CryptoError::Unsigned {
            missing: "synapse_proof",
        });
    }
    let key = PublicKey::from_hex(&syn.synapse_key)?;
    key.verify(&synapse_proof_digest(syn), &syn.synapse_proof)
}

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

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// The vector of `docs/protocol.md` ("Synapse proof"): neuron seed `01`×32, synapse seed
    /// `02`×32, endpoint `127.0.0.1:8091`.
    #[test]
    fn synapse_proof_vector() {
        let synapse = NeuronKey::from_seed([2; 32]);
        let mut syn = Synapse {
            neuron_key: NeuronKey::from_seed([1; 32]).public_hex(),
            synapse_key: synapse.public_hex(),
            address: "127.0.0.1".into(),
            port: "8091".into(),
            ..Default::default()
        };
        prove_synapse(&synapse, &mut syn).unwrap();
        assert_eq!(
            hex(&synapse_proof_digest(&syn)),
            "523bc64a896752af243b763a6dcffcb828840f2463380f75cd62d2749b375e60"
        );
        assert_eq!(
            hex(&syn.synapse_proof),
            "277cfa1458443c6f21ecca7f37f381126d2b57d562339e89589602c9d87fa36038ee57ffef907bbe471c697c2a4662dd299f7b13a3148e0d12a99cb6ca3f8305"
        );
        verify_synapse_proof(&syn).unwrap();
        // Another endpoint, another neuron key, or a proof by another key: all refused.
        let mut moved = syn.clone();
        moved.port = "8092".into();
        assert!(verify_synapse_proof(&moved).is_err());
        let mut claimed = syn.clone();
        claimed.neuron_key = NeuronKey::from_seed([3; 32]).public_hex();
        assert!(verify_synapse_proof(&claimed).is_err());
        assert!(prove_synapse(&NeuronKey::from_seed([3; 32]), &mut syn).is_err());
        syn.synapse_proof = bytes::Bytes::new();
        assert!(matches!(
            verify_synapse_proof(&syn),
            Err(CryptoError::Unsigned { .. })
        ));
    }

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
