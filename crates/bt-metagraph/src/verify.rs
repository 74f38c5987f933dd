//! The cryptographic gate: only a [`VerifiedSynapse`] can enter the table.
//!
//! The table stays pure by taking the verifier as an argument. [`CryptoVerifier`] is the real
//! one (proof of work + Ed25519 via `bt-crypto`); [`PreVerified`] exists for the virtual-time
//! simulation, whose definitions are built by the simulator itself and never cross a trust
//! boundary.

use std::sync::Arc;

use bt_wire::Synapse;

use crate::validate::{Rejection, TimeLimits, check_synapse};

/// Checks the proof of work and the signature of a structurally valid definition.
///
/// Implementations must be deterministic and side-effect free; they are called off the async
/// executor (they cost tens of microseconds per definition).
pub trait SynapseVerifier: Send + Sync {
    /// `Ok(())` when the work meets the difficulty, `neuron_key` signed the definition and
    /// `synapse_key` signed its `synapse_proof`.
    fn verify_crypto(&self, syn: &Synapse) -> Result<(), Rejection>;
}

/// A definition that passed the structural checks and a [`SynapseVerifier`].
///
/// The only way to obtain one is [`VerifiedSynapse::verify`], so holding one is proof.
#[derive(Debug, Clone)]
pub struct VerifiedSynapse {
    synapse: Arc<Synapse>,
    heartbeat_ms: u64,
}

impl VerifiedSynapse {
    /// Runs the structural checks, then the verifier.
    pub fn verify(
        syn: Synapse,
        now_ms: u64,
        limits: TimeLimits,
        verifier: &dyn SynapseVerifier,
    ) -> Result<Self, Rejection> {
        let heartbeat_ms = check_synapse(&syn, now_ms, limits)?;
        verifier.verify_crypto(&syn)?;
        Ok(Self {
            synapse: Arc::new(syn),
            heartbeat_ms,
        })
    }

    /// The definition itself.
    pub fn synapse(&self) -> &Arc<Synapse> {
        &self.synapse
    }

    /// Its heartbeat (milliseconds since the Unix epoch), decoded from `block_hash`.
    pub fn heartbeat_ms(&self) -> u64 {
        self.heartbeat_ms
    }

    /// Shares an already verified definition without verifying it again (the simulator hands
    /// one node's table entries to another; a real node always goes through `verify`).
    pub(crate) fn from_table(synapse: Arc<Synapse>, heartbeat_ms: u64) -> Self {
        Self {
            synapse,
            heartbeat_ms,
        }
    }
}

/// The real gate: proof of work at `difficulty_bits`, then the Ed25519 signature by
/// `neuron_key` over every field (`bt_crypto::verify_synapse`), then the synapse proof: the
/// Ed25519 signature by `synapse_key` binding it to `neuron_key` at `address:port`
/// (`bt_crypto::verify_synapse_proof`).
#[derive(Debug, Clone, Copy)]
pub struct CryptoVerifier {
    pub difficulty_bits: u32,
}

impl SynapseVerifier for CryptoVerifier {
    fn verify_crypto(&self, syn: &Synapse) -> Result<(), Rejection> {
        // Work first: one hash rejects spam before the costlier signature check.
        bt_crypto::pow::verify(syn, self.difficulty_bits).map_err(|_| Rejection::BadProofOfWork)?;
        bt_crypto::verify_synapse(syn, self.difficulty_bits)
            .map_err(|_| Rejection::BadSignature)?;
        bt_crypto::verify_synapse_proof(syn).map_err(|_| Rejection::BadSynapseProof)
    }
}

/// Accepts every structurally valid definition without checking work or signature.
///
/// Only for definitions this process made itself (the simulation benchmark); a node serving
/// the network must use [`CryptoVerifier`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PreVerified;

impl SynapseVerifier for PreVerified {
    fn verify_crypto(&self, _syn: &Synapse) -> Result<(), Rejection> {
        Ok(())
    }
}
