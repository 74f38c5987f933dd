//! Axons on the chain, and the binding between a hotkey and the Ed25519 keys its axon uses.
//!
//! # Why a binding
//! Chain accounts (hotkeys) are sr25519; the tensor protocol signs requests with Ed25519
//! *neuron keys* (`bt_crypto::NeuronKey`) and addresses a served model by its *synapse key*.
//! A miner that answers "only validators with a permit" must map the Ed25519 key that signed
//! a request to a uid, and a validator must know which synapse key to address at a uid's axon.
//! So `ServeAxon` publishes both keys next to the address.
//!
//! # Why both keys sign
//! The transaction is signed by the hotkey, which says "my axon uses these keys". That alone
//! would let a hotkey claim *someone else's* neuron key — harmless for authentication (the
//! claimer still cannot sign with it) but it would make a key look like it belongs to a uid it
//! does not. So the neuron key signs too: [`AxonIdentity::signature`] is an Ed25519 signature
//! by the neuron key over `blake2b-256("bt-chain/axon-identity/v1" ‖ hotkey ‖ netuid ‖
//! neuron_key ‖ synapse_key)`. The chain stores the binding only when both signatures verify,
//! so every (hotkey, neuron key) pair in a metagraph was agreed to by both keys' holders.
//! The signature is stored with the axon, so anyone reading a metagraph can re-check it
//! ([`AxonIdentity::verify`]).
//!
//! One neuron key may be bound by several hotkeys (one operator running several uids); a
//! permit check then asks whether *any* uid bound to the key holds a permit.

use crate::error::ChainError;
use crate::hash::blake2_256_parts;
use crate::keys::AccountId;
use bt_crypto::{NeuronKey, PublicKey};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

const IDENTITY_DOMAIN: &[u8] = b"bt-chain/axon-identity/v1";

/// The Ed25519 keys behind an axon, with the neuron key's consent to the binding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AxonIdentity {
    /// Signs the axon's requests and answers (an Ed25519 public key).
    #[serde(with = "hex_bytes")]
    pub neuron_key: [u8; 32],
    /// The key of the synapse the axon serves (what a caller puts in `synapse_key`).
    #[serde(with = "hex_bytes")]
    pub synapse_key: [u8; 32],
    /// Ed25519 by `neuron_key` over [`AxonIdentity::message`].
    #[serde(with = "hex_bytes")]
    pub signature: [u8; 64],
}

impl AxonIdentity {
    /// What the neuron key signs: the hotkey it agrees to serve for, on `netuid`.
    pub fn message(
        hotkey: &AccountId,
        netuid: u16,
        neuron_key: &[u8; 32],
        synapse_key: &[u8; 32],
    ) -> [u8; 32] {
        blake2_256_parts(&[
            IDENTITY_DOMAIN,
            &hotkey.0,
            &netuid.to_le_bytes(),
            neuron_key,
            synapse_key,
        ])
    }

    /// Binds `neuron` (and the synapse it serves) to `hotkey` on `netuid`.
    pub fn sign(
        neuron: &NeuronKey,
        hotkey: &AccountId,
        netuid: u16,
        synapse_key: &PublicKey,
    ) -> Self {
        let neuron_key = *neuron.public().as_bytes();
        let synapse_key = *synapse_key.as_bytes();
        let signature = neuron.sign(&Self::message(hotkey, netuid, &neuron_key, &synapse_key));
        Self {
            neuron_key,
            synapse_key,
            signature,
        }
    }

    /// Checks that both keys are Ed25519 points and that the neuron key signed this binding.
    pub fn verify(&self, hotkey: &AccountId, netuid: u16) -> Result<(), ChainError> {
        let neuron = PublicKey::from_bytes(&self.neuron_key)
            .map_err(|e| ChainError::InvalidAxon(format!("neuron key: {e}")))?;
        PublicKey::from_bytes(&self.synapse_key)
            .map_err(|e| ChainError::InvalidAxon(format!("synapse key: {e}")))?;
        let msg = Self::message(hotkey, netuid, &self.neuron_key, &self.synapse_key);
        neuron.verify(&msg, &self.signature).map_err(|_| {
            ChainError::InvalidAxon(
                "the neuron key did not sign this hotkey/netuid/synapse binding".into(),
            )
        })
    }

    /// The neuron key in the tensor protocol's form (`"0x"` + 64 hex digits).
    pub fn neuron_key_hex(&self) -> String {
        format!("0x{}", hex::encode(self.neuron_key))
    }

    /// The synapse key in the tensor protocol's form (`"0x"` + 64 hex digits).
    pub fn synapse_key_hex(&self) -> String {
        format!("0x{}", hex::encode(self.synapse_key))
    }
}

/// An axon as the metagraph shows it: address, the block it was served at and its keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AxonInfo {
    pub version: u32,
    /// IPv4 in the low 32 bits, or a full IPv6 address.
    pub ip: u128,
    pub port: u16,
    /// 4 or 6.
    pub ip_type: u8,
    pub protocol: u8,
    pub block: u64,
    pub identity: AxonIdentity,
}

impl AxonInfo {
    /// The address as an [`IpAddr`] (`ip_type` 4 or 6, as the chain enforces).
    pub fn ip_addr(&self) -> IpAddr {
        if self.ip_type == 4 {
            IpAddr::from(u32::try_from(self.ip).unwrap_or(0).to_be_bytes())
        } else {
            IpAddr::from(self.ip.to_be_bytes())
        }
    }
}

/// Where an axon listens, for [`crate::NodeClientExt::serve_axon`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxonEndpoint {
    pub ip: IpAddr,
    pub port: u16,
    pub protocol: u8,
    pub version: u32,
}

/// Fixed-size byte arrays as lower-case hex strings in JSON (serde has no impl above 32 bytes,
/// and hex reads better than a list of numbers in a metagraph dump).
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(s.trim_start_matches("0x")).map_err(serde::de::Error::custom)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom(format!("expected {N} hex-encoded bytes")))
    }
}
