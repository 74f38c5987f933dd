//! The seeds' bipartite rule on the axon: a miner answers only validators, i.e. callers whose
//! Ed25519 neuron key is bound (by `serve_axon`) to a uid holding a validator permit on the
//! subnet. The set of such keys is rebuilt from each metagraph refresh; the check itself is a
//! hash-set look-up under a read lock (it runs per request on the axon's blocking pool).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::subnet::view::SubnetView;
use bt_axon::{Decision, Policy, Priority, PublicKey, RpcMethod};

/// Admits permit holders of one subnet, refuses everyone else with a reason that says why.
pub struct PermitPolicy {
    netuid: u16,
    permitted: RwLock<Arc<HashSet<[u8; 32]>>>,
    /// The same uids' sr25519 hotkeys: who may call over HTTP (the SDK's protocol signs with
    /// the hotkey).
    hotkeys: RwLock<Arc<HashSet<[u8; 32]>>>,
    refused: AtomicU64,
}

impl PermitPolicy {
    /// Starts empty: nobody is served until the first [`Self::update`].
    pub fn new(netuid: u16) -> Self {
        Self {
            netuid,
            permitted: RwLock::new(Arc::new(HashSet::new())),
            hotkeys: RwLock::new(Arc::new(HashSet::new())),
            refused: AtomicU64::new(0),
        }
    }

    /// Replaces the permitted keys with those of `mg` (bounded by the subnet's size). A
    /// metagraph of another subnet is ignored.
    pub fn update(&self, mg: &SubnetView) {
        if mg.netuid != self.netuid {
            return;
        }
        let keys: HashSet<[u8; 32]> = mg
            .neurons
            .iter()
            .zip(&mg.peers)
            .filter(|(n, _)| n.validator_permit)
            .filter_map(|(_, peer)| peer.as_ref().map(|p| p.identity.neuron_key))
            .collect();
        let hotkeys: HashSet<[u8; 32]> = mg
            .neurons
            .iter()
            .filter(|n| n.validator_permit)
            .map(|n| n.hotkey.0)
            .collect();
        replace(&self.permitted, keys);
        replace(&self.hotkeys, hotkeys);
    }

    /// Whether the sr25519 `hotkey` holds a validator permit (an HTTP caller).
    pub fn admits_hotkey(&self, hotkey: &[u8; 32]) -> bool {
        let admitted = read(&self.hotkeys).contains(hotkey);
        if !admitted {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        admitted
    }

    /// The subnet whose permits these are.
    pub fn netuid(&self) -> u16 {
        self.netuid
    }

    /// How many neuron keys are admitted now.
    pub fn permitted(&self) -> usize {
        self.snapshot().len()
    }

    /// Requests refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Whether `key` would be admitted.
    pub fn admits(&self, key: &PublicKey) -> bool {
        self.snapshot().contains(key.as_bytes())
    }

    fn snapshot(&self) -> Arc<HashSet<[u8; 32]>> {
        read(&self.permitted)
    }

    fn deny(&self, why: String) -> Decision {
        self.refused.fetch_add(1, Ordering::Relaxed);
        Decision::Deny(why)
    }
}

fn read(slot: &RwLock<Arc<HashSet<[u8; 32]>>>) -> Arc<HashSet<[u8; 32]>> {
    match slot.read() {
        Ok(s) => s.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

fn replace(slot: &RwLock<Arc<HashSet<[u8; 32]>>>, keys: HashSet<[u8; 32]>) {
    let keys = Arc::new(keys);
    match slot.write() {
        Ok(mut s) => *s = keys,
        Err(poisoned) => *poisoned.into_inner() = keys,
    }
}

impl Policy for PermitPolicy {
    fn check(&self, caller: Option<&PublicKey>, _: &str, _: RpcMethod) -> Decision {
        let n = self.netuid;
        match caller {
            None => self.deny(format!(
                "miner answers only validators with a permit on netuid {n}; sign your requests"
            )),
            Some(key) if self.admits(key) => Decision::Allow(Priority::High),
            Some(key) => self.deny(format!(
                "miner answers only validators with a permit on netuid {n}; neuron key {key} is not bound to a permit holder"
            )),
        }
    }
}
