//! Transactions: what can be asked of the chain, who must sign it, and its canonical bytes.
//!
//! The signer *is* the acting key: coldkeys sign fund, stake and subnet operations, hotkeys sign
//! weights, commits, reveals, axons and proof-of-work registration. Ownership (hotkey ↔ coldkey,
//! subnet ↔ owner) is checked by the state machine.

use crate::axon::AxonIdentity;
use crate::codec::{MAX_TX_BYTES, Reader, Writer};
use crate::error::ChainError;
use crate::hash::{Hash, blake2_256, blake2_256_parts};
use crate::hparams::{HyperparamKey, MAX_UIDS_CAP};
use crate::keys::{AccountId, Keypair};
use serde::{Deserialize, Serialize};

/// Version 2 added the genesis tag; version 1 transactions are refused as undecodable.
const TX_VERSION: u8 = 2;
const SIGN_DOMAIN: &[u8] = b"bt-chain/tx/v2";
/// Bytes of the genesis hash a transaction carries in clear (see [`SignedTx::genesis_tag`]).
pub const GENESIS_TAG_BYTES: usize = 8;
/// Longest commit-reveal salt.
pub const MAX_SALT_BYTES: usize = 64;
const MAX_WEIGHTS: usize = MAX_UIDS_CAP as usize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Call {
    /// Coldkey: move free balance.
    Transfer { dest: AccountId, amount: u64 },
    /// Coldkey: local chains only, development chains only (`Genesis::faucet_amount` > 0), tops the signer up to
    /// `Genesis::faucet_amount`.
    Faucet,
    /// Coldkey: a new subnet owned by the signer; `owner_hotkey` becomes uid 0.
    CreateSubnet { owner_hotkey: AccountId },
    /// Subnet owner coldkey: change one hyperparameter.
    SetHyperparam {
        netuid: u16,
        key: HyperparamKey,
        value: u64,
    },
    /// Coldkey: register `hotkey` by burning the current registration cost.
    BurnedRegister { netuid: u16, hotkey: AccountId },
    /// Hotkey: register by proof of work over a recent block hash (see `pow_seal`).
    PowRegister {
        netuid: u16,
        coldkey: AccountId,
        block_number: u64,
        work_nonce: u64,
    },
    /// Coldkey: move balance into stake on `hotkey`.
    AddStake { hotkey: AccountId, amount: u64 },
    /// Coldkey: move stake on `hotkey` back to balance.
    RemoveStake { hotkey: AccountId, amount: u64 },
    /// Hotkey: publish its axon and the Ed25519 keys it uses (see the `axon` module).
    ServeAxon {
        netuid: u16,
        version: u32,
        ip: u128,
        port: u16,
        ip_type: u8,
        protocol: u8,
        identity: AxonIdentity,
    },
    /// Hotkey: set weights directly (subnets with commit-reveal off).
    SetWeights {
        netuid: u16,
        uids: Vec<u16>,
        values: Vec<u16>,
        version_key: u64,
    },
    /// Hotkey: commit to weights (see `commit_hash`).
    CommitWeights { netuid: u16, commit: Hash },
    /// Hotkey: reveal previously committed weights.
    RevealWeights {
        netuid: u16,
        uids: Vec<u16>,
        values: Vec<u16>,
        salt: Vec<u8>,
        version_key: u64,
    },
}

impl Call {
    fn encode_into(&self, w: &mut Writer) {
        match self {
            Call::Transfer { dest, amount } => {
                w.u8(0);
                w.account(dest);
                w.u64(*amount);
            }
            Call::Faucet => w.u8(1),
            Call::CreateSubnet { owner_hotkey } => {
                w.u8(2);
                w.account(owner_hotkey);
            }
            Call::SetHyperparam { netuid, key, value } => {
                w.u8(3);
                w.u16(*netuid);
                w.u8(*key as u8);
                w.u64(*value);
            }
            Call::BurnedRegister { netuid, hotkey } => {
                w.u8(4);
                w.u16(*netuid);
                w.account(hotkey);
            }
            Call::PowRegister {
                netuid,
                coldkey,
                block_number,
                work_nonce,
            } => {
                w.u8(5);
                w.u16(*netuid);
                w.account(coldkey);
                w.u64(*block_number);
                w.u64(*work_nonce);
            }
            Call::AddStake { hotkey, amount } => {
                w.u8(6);
                w.account(hotkey);
                w.u64(*amount);
            }
            Call::RemoveStake { hotkey, amount } => {
                w.u8(7);
                w.account(hotkey);
                w.u64(*amount);
            }
            Call::ServeAxon {
                netuid,
                version,
                ip,
                port,
                ip_type,
                protocol,
                identity,
            } => {
                w.u8(8);
                w.u16(*netuid);
                w.u32(*version);
                w.u128(*ip);
                w.u16(*port);
                w.u8(*ip_type);
                w.u8(*protocol);
                w.raw(&identity.neuron_key);
                w.raw(&identity.synapse_key);
                w.raw(&identity.signature);
            }
            Call::SetWeights {
                netuid,
                uids,
                values,
                version_key,
            } => {
                w.u8(9);
                w.u16(*netuid);
                w.u16s(uids);
                w.u16s(values);
                w.u64(*version_key);
            }
            Call::CommitWeights { netuid, commit } => {
                w.u8(10);
                w.u16(*netuid);
                w.raw(commit);
            }
            Call::RevealWeights {
                netuid,
                uids,
                values,
                salt,
                version_key,
            } => {
                w.u8(11);
                w.u16(*netuid);
                w.u16s(uids);
                w.u16s(values);
                w.bytes(salt);
                w.u64(*version_key);
            }
        }
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, ChainError> {
        Ok(match r.u8("call tag")? {
            0 => Call::Transfer {
                dest: r.account("dest")?,
                amount: r.u64("amount")?,
            },
            1 => Call::Faucet,
            2 => Call::CreateSubnet {
                owner_hotkey: r.account("owner_hotkey")?,
            },
            3 => {
                let netuid = r.u16("netuid")?;
                let tag = r.u8("hyperparameter key")?;
                let key = HyperparamKey::from_tag(tag).ok_or_else(|| {
                    ChainError::Decode(format!("unknown hyperparameter key {tag}"))
                })?;
                Call::SetHyperparam {
                    netuid,
                    key,
                    value: r.u64("value")?,
                }
            }
            4 => Call::BurnedRegister {
                netuid: r.u16("netuid")?,
                hotkey: r.account("hotkey")?,
            },
            5 => Call::PowRegister {
                netuid: r.u16("netuid")?,
                coldkey: r.account("coldkey")?,
                block_number: r.u64("block_number")?,
                work_nonce: r.u64("work_nonce")?,
            },
            6 => Call::AddStake {
                hotkey: r.account("hotkey")?,
                amount: r.u64("amount")?,
            },
            7 => Call::RemoveStake {
                hotkey: r.account("hotkey")?,
                amount: r.u64("amount")?,
            },
            8 => Call::ServeAxon {
                netuid: r.u16("netuid")?,
                version: r.u32("version")?,
                ip: r.u128("ip")?,
                port: r.u16("port")?,
                ip_type: r.u8("ip_type")?,
                protocol: r.u8("protocol")?,
                identity: AxonIdentity {
                    neuron_key: r.hash("neuron_key")?,
                    synapse_key: r.hash("synapse_key")?,
                    signature: r.sig()?,
                },
            },
            9 => Call::SetWeights {
                netuid: r.u16("netuid")?,
                uids: r.u16s(MAX_WEIGHTS, "uids")?,
                values: r.u16s(MAX_WEIGHTS, "values")?,
                version_key: r.u64("version_key")?,
            },
            10 => Call::CommitWeights {
                netuid: r.u16("netuid")?,
                commit: r.hash("commit")?,
            },
            11 => Call::RevealWeights {
                netuid: r.u16("netuid")?,
                uids: r.u16s(MAX_WEIGHTS, "uids")?,
                values: r.u16s(MAX_WEIGHTS, "values")?,
                salt: r.bytes(MAX_SALT_BYTES, "salt")?,
                version_key: r.u64("version_key")?,
            },
            t => return Err(ChainError::Decode(format!("unknown call tag {t}"))),
        })
    }

    /// A short name for logs and receipts.
    pub fn name(&self) -> &'static str {
        match self {
            Call::Transfer { .. } => "transfer",
            Call::Faucet => "faucet",
            Call::CreateSubnet { .. } => "create_subnet",
            Call::SetHyperparam { .. } => "set_hyperparam",
            Call::BurnedRegister { .. } => "burned_register",
            Call::PowRegister { .. } => "pow_register",
            Call::AddStake { .. } => "add_stake",
            Call::RemoveStake { .. } => "remove_stake",
            Call::ServeAxon { .. } => "serve_axon",
            Call::SetWeights { .. } => "set_weights",
            Call::CommitWeights { .. } => "commit_weights",
            Call::RevealWeights { .. } => "reveal_weights",
        }
    }
}

/// A transaction with its signature. Construct with [`SignedTx::sign`]; receive with
/// [`SignedTx::decode`] and then [`SignedTx::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTx {
    pub signer: AccountId,
    /// The first bytes of the genesis hash it was signed for. The signature covers the whole
    /// hash; the tag only lets a node tell "signed for another chain" apart from a bad
    /// signature, and refuse it before spending a signature check.
    pub genesis_tag: [u8; GENESIS_TAG_BYTES],
    pub nonce: u64,
    pub call: Call,
    pub signature: [u8; 64],
}

impl SignedTx {
    fn unsigned_bytes(
        signer: &AccountId,
        genesis_tag: &[u8; GENESIS_TAG_BYTES],
        nonce: u64,
        call: &Call,
    ) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(TX_VERSION);
        w.account(signer);
        w.raw(genesis_tag);
        w.u64(nonce);
        call.encode_into(&mut w);
        w.buf
    }

    fn signing_payload(genesis: &Hash, unsigned: &[u8]) -> Hash {
        // Sign a digest so large weight vectors cost one hash, not a long transcript.
        blake2_256_parts(&[SIGN_DOMAIN, genesis, unsigned])
    }

    pub fn sign(key: &Keypair, nonce: u64, call: Call, genesis: &Hash) -> Self {
        Self::sign_with(&key.sr25519(), nonce, call, genesis)
    }

    /// [`Self::sign`] with a wallet's key pair as it is (no [`Keypair`] needed).
    pub fn sign_with(
        pair: &bt_crypto::wallet::Sr25519Pair,
        nonce: u64,
        call: Call,
        genesis: &Hash,
    ) -> Self {
        let signer = AccountId(pair.account().0);
        let genesis_tag = genesis_tag(genesis);
        let unsigned = Self::unsigned_bytes(&signer, &genesis_tag, nonce, &call);
        let signature = pair.sign(&Self::signing_payload(genesis, &unsigned));
        Self {
            signer,
            genesis_tag,
            nonce,
            call,
            signature,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = Self::unsigned_bytes(&self.signer, &self.genesis_tag, self.nonce, &self.call);
        b.extend_from_slice(&self.signature);
        b
    }

    /// Strict, bounded decoding (see the `codec` module doc).
    pub fn decode(bytes: &[u8]) -> Result<Self, ChainError> {
        if bytes.len() > MAX_TX_BYTES {
            return Err(ChainError::TxTooLarge {
                size: bytes.len(),
                max: MAX_TX_BYTES,
            });
        }
        let mut r = Reader::new(bytes);
        let v = r.u8("version")?;
        if v != TX_VERSION {
            return Err(ChainError::Decode(format!(
                "unsupported transaction version {v}"
            )));
        }
        let signer = r.account("signer")?;
        let mut genesis_tag = [0u8; GENESIS_TAG_BYTES];
        genesis_tag.copy_from_slice(r.take(GENESIS_TAG_BYTES, "genesis tag")?);
        let nonce = r.u64("nonce")?;
        let call = Call::decode_from(&mut r)?;
        let signature = r.sig()?;
        r.finish()?;
        Ok(Self {
            signer,
            genesis_tag,
            nonce,
            call,
            signature,
        })
    }

    /// Checks the signature for this chain's genesis. A transaction tagged for another genesis
    /// is [`ChainError::WrongChain`], without a signature check.
    pub fn verify(&self, genesis: &Hash) -> Result<(), ChainError> {
        let ours = genesis_tag(genesis);
        if self.genesis_tag != ours {
            return Err(ChainError::WrongChain {
                signer: self.signer,
                tx_genesis: hex::encode(self.genesis_tag),
                chain_genesis: hex::encode(ours),
            });
        }
        let unsigned =
            Self::unsigned_bytes(&self.signer, &self.genesis_tag, self.nonce, &self.call);
        if self
            .signer
            .verify(&Self::signing_payload(genesis, &unsigned), &self.signature)
        {
            Ok(())
        } else {
            Err(ChainError::BadSignature {
                signer: self.signer,
            })
        }
    }

    /// The transaction's identity: blake2b-256 of its canonical bytes.
    pub fn hash(&self) -> Hash {
        blake2_256(&self.encode())
    }
}

fn genesis_tag(genesis: &Hash) -> [u8; GENESIS_TAG_BYTES] {
    let mut tag = [0u8; GENESIS_TAG_BYTES];
    tag.copy_from_slice(&genesis[..GENESIS_TAG_BYTES]);
    tag
}

/// The commitment a `CommitWeights` carries: blake2b-256 of the canonical encoding of
/// (hotkey, netuid, uids, values, salt, version_key).
pub fn commit_hash(
    hotkey: &AccountId,
    netuid: u16,
    uids: &[u16],
    values: &[u16],
    salt: &[u8],
    version_key: u64,
) -> Hash {
    let mut w = Writer::new();
    w.raw(b"bt-chain/commit/v1");
    w.account(hotkey);
    w.u16(netuid);
    w.u16s(uids);
    w.u16s(values);
    w.bytes(salt);
    w.u64(version_key);
    blake2_256(&w.buf)
}

/// The proof-of-work seal: blake2b-256(block_hash ‖ hotkey ‖ work_nonce). It meets `difficulty`
/// when its first 16 bytes, read big endian, times `difficulty` do not overflow 128 bits
/// (subtensor's rule on 256 bits, truncated: an expected `difficulty` hashes per solution).
pub fn pow_seal(block_hash: &Hash, hotkey: &AccountId, work_nonce: u64) -> Hash {
    blake2_256_parts(&[block_hash, &hotkey.0, &work_nonce.to_le_bytes()])
}

pub fn seal_meets_difficulty(seal: &Hash, difficulty: u64) -> bool {
    let mut top = [0u8; 16];
    top.copy_from_slice(&seal[..16]);
    u128::from_be_bytes(top)
        .checked_mul(u128::from(difficulty))
        .is_some()
}

/// Searches for a work nonce (CPU-bound: run it off the async executor).
pub fn solve_pow(
    block_hash: &Hash,
    hotkey: &AccountId,
    difficulty: u64,
    max_tries: u64,
) -> Option<u64> {
    (0..max_tries).find(|n| seal_meets_difficulty(&pow_seal(block_hash, hotkey, *n), difficulty))
}
