//! Unit tests of the state machine, one per rule and error path (CONSENSUS.md "Around the
//! epoch"), plus codec property tests.

mod codec;
mod fees;
mod registration;
mod root;
mod rules;
mod storage;
mod weights;

use crate::apply::apply_call;
use crate::block::{Receipt, Rejected, apply_block, genesis, import_block};
use crate::error::ChainError;
use crate::genesis::Genesis;
use crate::hash::Hash;
use crate::keys::{AccountId, Keypair};
use crate::state::ChainState;
use crate::tx::{Call, SignedTx};
use std::collections::HashMap;

/// A chain in a test: applies blocks through `apply_block` and re-imports each one, so every
/// test also checks that replay reproduces the produced state.
pub(crate) struct H {
    pub g: Genesis,
    pub gh: Hash,
    pub s: ChainState,
    nonces: HashMap<AccountId, u64>,
}

pub(crate) fn key(name: &str) -> Keypair {
    Keypair::dev(name)
}

impl H {
    pub fn new(g: Genesis) -> Self {
        let (s, b) = genesis(&g).unwrap();
        Self {
            g,
            gh: b.hash(),
            s,
            nonces: HashMap::new(),
        }
    }

    /// local_dev(tempo) with alice funded by the faucet and owning subnet 1 (hotkey alice-hot).
    pub fn with_subnet(tempo: u16) -> Self {
        let mut h = Self::new(Genesis::local_dev(tempo));
        h.ok(&key("alice"), Call::Faucet);
        h.ok(
            &key("alice"),
            Call::CreateSubnet {
                owner_hotkey: key("alice-hot").account(),
            },
        );
        h
    }

    pub fn sign(&mut self, k: &Keypair, call: Call) -> SignedTx {
        let n = self.nonces.entry(k.account()).or_insert(0);
        let tx = SignedTx::sign(k, *n, call, &self.gh);
        *n += 1;
        tx
    }

    /// One block with `txs`; asserts none was left out and that import reproduces it.
    pub fn block(&mut self, txs: Vec<SignedTx>) -> Vec<Receipt> {
        let (receipts, rejected) = self.block_with_rejects(txs);
        assert!(rejected.is_empty(), "rejected: {rejected:?}");
        receipts
    }

    /// One block with `txs`, returning what was left out too (its signers' nonces resync).
    pub fn block_with_rejects(&mut self, txs: Vec<SignedTx>) -> (Vec<Receipt>, Vec<Rejected>) {
        let p = apply_block(&self.s, &self.g, &self.gh, txs, self.s.time_ms + 1000, true).unwrap();
        let (imported, receipts) = import_block(&self.s, &self.g, &self.gh, &p.block).unwrap();
        assert_eq!(imported, p.state);
        assert_eq!(receipts, p.receipts);
        self.s = p.state;
        for r in &p.rejected {
            self.nonces.insert(r.signer, self.s.nonce(&r.signer));
        }
        (p.receipts, p.rejected)
    }

    /// Runs `call` in its own block and returns the rule's verdict as a string, whether the
    /// failure was included (and paid for) or left out (its signer could not pay).
    pub fn run(&mut self, k: &Keypair, call: Call) -> Result<(), String> {
        let tx = self.sign(k, call);
        let (mut receipts, mut rejected) = self.block_with_rejects(vec![tx]);
        if let Some(r) = rejected.pop() {
            return Err(r.error.to_string());
        }
        match receipts.remove(0).error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    pub fn ok(&mut self, k: &Keypair, call: Call) {
        if let Err(e) = self.run(k, call) {
            panic!("unexpected failure: {e}");
        }
    }

    /// Applies `call` directly at the next block number for the typed error, leaving the
    /// state unchanged on failure (and checking that it is).
    pub fn check(&mut self, k: &Keypair, call: Call) -> Result<(), ChainError> {
        let before = self.s.clone();
        let next = self.s.block + 1;
        let r = apply_call(&mut self.s, &self.g, k.account(), &call, next);
        if r.is_err() {
            assert_eq!(before, self.s, "a failed call must not change the state");
        }
        // Applied outside a block, so the carried state-root tree no longer matches.
        self.s.forget_root_cache();
        r
    }

    pub fn advance(&mut self, blocks: u64) {
        for _ in 0..blocks {
            self.block(vec![]);
        }
    }

    pub fn netuid(&self) -> u16 {
        *self.s.subnets.keys().next().unwrap()
    }

    /// Registers `names` (hotkey = name, coldkey = name-cold) by burn, one per block.
    pub fn register(&mut self, names: &[&str]) {
        let netuid = self.netuid();
        for n in names {
            let cold = key(&format!("{n}-cold"));
            if self.s.balance(&cold.account()) == 0 {
                self.ok(&cold, Call::Faucet);
            }
            self.ok(
                &cold,
                Call::BurnedRegister {
                    netuid,
                    hotkey: key(n).account(),
                },
            );
        }
    }
}
