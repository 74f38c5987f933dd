//! Blocks and the pure state-transition function.
//!
//! [`produce_block`] (the authority) and [`import_block`] (replay, restart) share one executor,
//! so a replay from genesis reproduces the produced state bit for bit. Time comes in as an
//! argument; nothing here reads a clock, touches a disk or a socket.

use crate::apply::{POW_WINDOW, apply_call};
use crate::codec::Writer;
use crate::epoch::run_epoch;
use crate::error::ChainError;
use crate::genesis::Genesis;
use crate::hash::{Hash, blake2_256};
use crate::keys::AccountId;
use crate::state::ChainState;
use crate::tx::{Call, SignedTx};
use serde::{Deserialize, Serialize};

/// Most transactions in one block (bounds block size and the time to apply one).
pub const MAX_BLOCK_TXS: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub number: u64,
    #[serde(with = "hex_hash")]
    pub parent_hash: Hash,
    pub time_ms: u64,
    #[serde(with = "hex_hash")]
    pub tx_root: Hash,
    #[serde(with = "hex_hash")]
    pub state_root: Hash,
}

impl Header {
    /// blake2b-256 of the header's canonical bytes.
    pub fn hash(&self) -> Hash {
        let mut w = Writer::new();
        w.raw(b"bt-chain/header/v1");
        w.u64(self.number);
        w.raw(&self.parent_hash);
        w.u64(self.time_ms);
        w.raw(&self.tx_root);
        w.raw(&self.state_root);
        blake2_256(&w.buf)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub header: Header,
    pub txs: Vec<SignedTx>,
}

impl Block {
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// Storage form: header JSON plus each transaction's canonical bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ChainError> {
        let stored = StoredBlock {
            header: self.header.clone(),
            txs: self.txs.iter().map(|t| hex::encode(t.encode())).collect(),
        };
        serde_json::to_vec(&stored).map_err(|e| ChainError::storage("encode block", e))
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, ChainError> {
        let stored: StoredBlock =
            serde_json::from_slice(b).map_err(|e| ChainError::storage("decode block", e))?;
        let mut txs = Vec::with_capacity(stored.txs.len().min(MAX_BLOCK_TXS));
        for t in &stored.txs {
            let raw = hex::decode(t).map_err(|e| ChainError::storage("decode block tx hex", e))?;
            txs.push(SignedTx::decode(&raw)?);
        }
        Ok(Self {
            header: stored.header,
            txs,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredBlock {
    header: Header,
    txs: Vec<String>,
}

/// What happened to one included transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    #[serde(with = "hex_hash")]
    pub tx_hash: Hash,
    pub block: u64,
    pub index: u32,
    pub signer: AccountId,
    pub call: String,
    /// None on success; the rule that failed otherwise.
    pub error: Option<String>,
    /// What the signer paid (rao): `Genesis::tx_fee` for a failed call and for a successful
    /// paying one (`Genesis::fee_on_success`), 0 for a successful free one.
    #[serde(default)]
    pub fee: u64,
}

pub(crate) mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    pub fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(s).map_err(D::Error::custom)?;
        v.try_into()
            .map_err(|_| D::Error::custom("hash must be 32 bytes"))
    }
}

fn tx_root(txs: &[SignedTx]) -> Hash {
    let mut w = Writer::new();
    w.raw(b"bt-chain/txs/v1");
    for t in txs {
        w.raw(&t.hash());
    }
    blake2_256(&w.buf)
}

/// The genesis state and block 0.
pub fn genesis(g: &Genesis) -> Result<(ChainState, Block), ChainError> {
    let mut s = ChainState {
        block: 0,
        head_hash: [0; 32],
        time_ms: 0,
        accounts: Default::default(),
        stake: Default::default(),
        hotkey_owner: Default::default(),
        subnets: Default::default(),
        recent_hashes: Default::default(),
        used_work: Default::default(),
        total_issuance: 0,
        root_cache: Default::default(),
    };
    for (who, amount) in &g.endowed {
        let acc = s.accounts.entry(*who).or_default();
        acc.balance = acc
            .balance
            .checked_add(*amount)
            .ok_or(ChainError::Overflow("genesis balance"))?;
        s.total_issuance = s
            .total_issuance
            .checked_add(*amount)
            .ok_or(ChainError::Overflow("issuance"))?;
    }
    // The configuration goes into the parent slot so different genesis configs hash apart.
    let header = Header {
        number: 0,
        parent_hash: g.config_hash(),
        time_ms: 0,
        tx_root: tx_root(&[]),
        state_root: s.root_after(&ChainState::default())?,
    };
    let block = Block {
        header,
        txs: Vec::new(),
    };
    s.head_hash = block.hash();
    s.recent_hashes.insert(0, s.head_hash);
    Ok((s, block))
}

/// A transaction the producer left out of the block: a bad signature or nonce, or a call that
/// fails, or pays, and whose signer cannot pay `Genesis::tx_fee`.
#[derive(Debug)]
pub struct Rejected {
    pub tx_hash: Hash,
    pub signer: AccountId,
    pub error: ChainError,
}

pub struct Produced {
    pub block: Block,
    pub state: ChainState,
    pub receipts: Vec<Receipt>,
    pub rejected: Vec<Rejected>,
}

/// Admission checks shared by the producer and the importer.
fn admit(
    s: &ChainState,
    genesis_hash: &Hash,
    tx: &SignedTx,
    verify_sig: bool,
) -> Result<(), ChainError> {
    check_nonce(tx, s.nonce(&tx.signer))?;
    if verify_sig {
        tx.verify(genesis_hash)?;
    }
    Ok(())
}

/// A transaction must carry exactly the nonce `expected` of its signer: an older one is a
/// replay, a newer one leaves a gap.
pub(crate) fn check_nonce(tx: &SignedTx, expected: u64) -> Result<(), ChainError> {
    if tx.nonce < expected {
        return Err(ChainError::StaleNonce {
            signer: tx.signer,
            got: tx.nonce,
            expected,
        });
    }
    if tx.nonce > expected {
        return Err(ChainError::FutureNonce {
            signer: tx.signer,
            got: tx.nonce,
            expected,
        });
    }
    Ok(())
}

fn begin_block(s: &mut ChainState, number: u64, time_ms: u64) {
    s.block = number;
    s.time_ms = time_ms;
    for sn in s.subnets.values_mut() {
        sn.registrations_this_block = 0;
        let h = &sn.hparams;
        let excess = u128::from(sn.burn.saturating_sub(h.min_burn));
        let decay =
            u64::try_from(excess * u128::from(h.burn_decay_ppm) / 1_000_000).unwrap_or(u64::MAX);
        sn.burn = sn.burn.saturating_sub(decay).max(h.min_burn);
        if number.is_multiple_of(u64::from(h.adjustment_interval.max(1))) {
            let target = h.target_regs_per_interval;
            let d = sn.hparams.difficulty;
            let nd = if sn.registrations_this_interval > target {
                d.saturating_mul(2)
            } else if sn.registrations_this_interval < target {
                d / 2
            } else {
                d
            };
            sn.hparams.difficulty = nd.clamp(sn.hparams.min_difficulty, sn.hparams.max_difficulty);
            sn.registrations_this_interval = 0;
        }
        // Unrevealed commits expire once their reveal epoch has passed.
        let now_epoch = sn.epoch_index(number);
        let period = sn.hparams.commit_reveal_period;
        sn.commits.retain(|_, q| {
            q.retain(|c| c.epoch + period >= now_epoch);
            !q.is_empty()
        });
    }
    s.used_work
        .retain(|_, b| number.saturating_sub(*b) <= POW_WINDOW);
}

fn end_block(s: &mut ChainState, g: &Genesis, number: u64) -> Result<(), ChainError> {
    let due: Vec<(u16, u64)> = s
        .subnets
        .values()
        .filter(|sn| sn.is_epoch_block(number))
        .map(|sn| {
            (
                sn.netuid,
                g.block_emission
                    .saturating_mul(number.saturating_sub(sn.last_epoch_block)),
            )
        })
        .collect();
    for (netuid, emission) in due {
        run_epoch(s, netuid, number, emission)?;
    }
    Ok(())
}

/// Seals the block that made `s` from `prev`: its header (the state root updated from the
/// rows the block changed), then the head hash written into the state.
fn finish(
    s: &mut ChainState,
    prev: &ChainState,
    time_ms: u64,
    txs: &[SignedTx],
) -> Result<Header, ChainError> {
    let number = prev.block + 1;
    // The state root covers the state *before* the head hash is written into it.
    let header = Header {
        number,
        parent_hash: prev.head_hash,
        time_ms,
        tx_root: tx_root(txs),
        state_root: s.root_after(prev)?,
    };
    s.head_hash = header.hash();
    s.recent_hashes.insert(number, s.head_hash);
    s.recent_hashes
        .retain(|b, _| number.saturating_sub(*b) <= POW_WINDOW);
    Ok(header)
}

/// Runs one admitted transaction and takes its fee (`Genesis::tx_fee`, burned). A paying call
/// (`Genesis::fee_on_success`) pays before it runs, so the call sees the balance without the fee
/// (unstaking, the one call that adds to the balance, may pay out of what it unstakes when the
/// free balance is short). A call that fails costs its signer the fee too, as a failed extrinsic
/// pays on subtensor; the rules check before they mutate, so a failed call has changed nothing
/// but the fee. A transaction whose signer cannot pay is not executable and its error comes back
/// instead (the producer leaves it out, an importer refuses the block).
fn execute(
    s: &mut ChainState,
    g: &Genesis,
    tx: &SignedTx,
    number: u64,
    index: u32,
) -> Result<Receipt, ChainError> {
    let fee = g.tx_fee;
    let balance = s.balance(&tx.signer);
    let (error, fee) = if g.fee_on_success(&tx.call) > 0 {
        let unstaked = match tx.call {
            Call::RemoveStake { amount, .. } => amount,
            _ => 0,
        };
        if balance.saturating_add(unstaked) < fee {
            return Err(ChainError::InsufficientBalance {
                account: tx.signer,
                balance,
                needed: fee,
            });
        }
        if balance >= fee {
            burn(s, &tx.signer, fee);
            let outcome = apply_call(s, g, tx.signer, &tx.call, number);
            (outcome.err().map(|e| e.to_string()), fee)
        } else {
            // Unstaking with a free balance short of the fee: the fee comes out of the stake
            // released, so a call that fails here cannot pay and is left out.
            apply_call(s, g, tx.signer, &tx.call, number)?;
            burn(s, &tx.signer, fee);
            (None, fee)
        }
    } else {
        match apply_call(s, g, tx.signer, &tx.call, number) {
            Ok(()) => (None, 0),
            Err(e) => {
                if balance < fee {
                    return Err(e);
                }
                burn(s, &tx.signer, fee);
                (Some(e.to_string()), fee)
            }
        }
    };
    let acc = s.accounts.entry(tx.signer).or_default();
    acc.nonce = acc.nonce.saturating_add(1);
    Ok(Receipt {
        tx_hash: tx.hash(),
        block: number,
        index,
        signer: tx.signer,
        call: tx.call.name().to_string(),
        error,
        fee,
    })
}

/// Takes `fee` from `who`'s free balance (which holds it) and out of the issuance.
fn burn(s: &mut ChainState, who: &AccountId, fee: u64) {
    if let Some(acc) = s.accounts.get_mut(who) {
        acc.balance = acc.balance.saturating_sub(fee);
    }
    s.total_issuance = s.total_issuance.saturating_sub(fee);
}

/// Builds the next block from `candidates` (in order), leaving out those with a bad nonce or
/// signature and failing ones whose signer cannot pay for the failure. `verify_sigs = false` is for callers that verified at admission.
pub fn apply_block(
    state: &ChainState,
    g: &Genesis,
    genesis_hash: &Hash,
    candidates: Vec<SignedTx>,
    time_ms: u64,
    verify_sigs: bool,
) -> Result<Produced, ChainError> {
    let mut s = state.clone();
    let number = state.block + 1;
    begin_block(&mut s, number, time_ms);
    let mut txs = Vec::with_capacity(candidates.len().min(MAX_BLOCK_TXS));
    let mut receipts = Vec::new();
    let mut rejected = Vec::new();
    for tx in candidates {
        if txs.len() >= MAX_BLOCK_TXS {
            rejected.push(Rejected {
                tx_hash: tx.hash(),
                signer: tx.signer,
                error: ChainError::MempoolFull {
                    capacity: MAX_BLOCK_TXS,
                },
            });
            continue;
        }
        if let Err(error) = admit(&s, genesis_hash, &tx, verify_sigs) {
            rejected.push(Rejected {
                tx_hash: tx.hash(),
                signer: tx.signer,
                error,
            });
            continue;
        }
        let index = u32::try_from(txs.len()).unwrap_or(u32::MAX);
        match execute(&mut s, g, &tx, number, index) {
            Ok(r) => {
                receipts.push(r);
                txs.push(tx);
            }
            Err(error) => rejected.push(Rejected {
                tx_hash: tx.hash(),
                signer: tx.signer,
                error,
            }),
        }
    }
    end_block(&mut s, g, number)?;
    let header = finish(&mut s, state, time_ms, &txs)?;
    Ok(Produced {
        block: Block { header, txs },
        state: s,
        receipts,
        rejected,
    })
}

/// Checks and applies a block produced elsewhere (or read back from disk).
pub fn import_block(
    state: &ChainState,
    g: &Genesis,
    genesis_hash: &Hash,
    block: &Block,
) -> Result<(ChainState, Vec<Receipt>), ChainError> {
    let number = state.block + 1;
    let h = &block.header;
    if h.number != number {
        return Err(ChainError::BadBlockNumber {
            number: h.number,
            expected: number,
        });
    }
    if h.parent_hash != state.head_hash {
        return Err(ChainError::BadParent {
            number,
            got: hex::encode(h.parent_hash),
            expected: hex::encode(state.head_hash),
        });
    }
    if block.txs.len() > MAX_BLOCK_TXS {
        return Err(ChainError::Decode(format!(
            "block {number} has {} transactions, max {MAX_BLOCK_TXS}",
            block.txs.len()
        )));
    }
    let mut s = state.clone();
    begin_block(&mut s, number, h.time_ms);
    let mut receipts = Vec::with_capacity(block.txs.len());
    for (i, tx) in block.txs.iter().enumerate() {
        admit(&s, genesis_hash, tx, true)?;
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let receipt =
            execute(&mut s, g, tx, number, index).map_err(|e| ChainError::UnpaidFailure {
                number,
                index,
                reason: e.to_string(),
            })?;
        receipts.push(receipt);
    }
    end_block(&mut s, g, number)?;
    let header = finish(&mut s, state, h.time_ms, &block.txs)?;
    if header != *h {
        return Err(ChainError::StateRootMismatch {
            number,
            got: hex::encode(header.state_root),
            expected: hex::encode(h.state_root),
        });
    }
    Ok((s, receipts))
}
