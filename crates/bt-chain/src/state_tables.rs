//! The chain state in redb, one row per entry: accounts, stake, hotkey owners, subnets (their
//! scalars and commits) and neurons, plus one small row of chain-wide scalars. A block writes
//! only the rows its state transition changed ([`write_delta`]), found by comparing the state
//! before and after it, so the bytes written per block follow what the block did, not the size
//! of the state.

use crate::error::ChainError;
use crate::hash::Hash;
use crate::hparams::Hyperparams;
use crate::keys::AccountId;
use crate::state::{Account, ChainState, Commit, Neuron, Subnet};
use redb::{ReadableTable, ReadableTableMetadata, Table, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

const ACCOUNTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state_accounts");
/// Key: hotkey ‖ coldkey.
const STAKE: TableDefinition<&[u8], u64> = TableDefinition::new("state_stake");
const HOTKEY_OWNER: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state_hotkey_owner");
const SUBNETS: TableDefinition<u16, &[u8]> = TableDefinition::new("state_subnets");
/// Key: netuid << 16 | uid.
const NEURONS: TableDefinition<u32, &[u8]> = TableDefinition::new("state_neurons");
const SCALARS: TableDefinition<&str, &[u8]> = TableDefinition::new("state_scalars");

macro_rules! st {
    ($op:expr, $e:expr) => {
        $e.map_err(|e| ChainError::storage($op, redb::Error::from(e)))
    };
}

fn json<T: Serialize>(op: &'static str, v: &T) -> Result<Vec<u8>, ChainError> {
    serde_json::to_vec(v).map_err(|e| ChainError::storage(op, e))
}

fn unjson<'a, T: Deserialize<'a>>(op: &'static str, b: &'a [u8]) -> Result<T, ChainError> {
    serde_json::from_slice(b).map_err(|e| ChainError::storage(op, e))
}

/// Everything of the state that is not a per-entry row; bounded (the proof-of-work window).
#[derive(Serialize, Deserialize)]
struct Scalars {
    block: u64,
    head_hash: Hash,
    time_ms: u64,
    total_issuance: u64,
    recent_hashes: BTreeMap<u64, Hash>,
    used_work: BTreeMap<String, u64>,
}

/// A subnet's row: all but its neurons, which have rows of their own.
#[derive(Serialize, PartialEq)]
struct SubnetRow<'a> {
    owner_coldkey: &'a AccountId,
    owner_hotkey: &'a AccountId,
    hparams: &'a Hyperparams,
    burn: u64,
    registrations_this_block: u16,
    registrations_this_interval: u16,
    last_epoch_block: u64,
    commits: &'a BTreeMap<AccountId, VecDeque<Commit>>,
    n: u16,
}

#[derive(Deserialize)]
struct StoredSubnet {
    owner_coldkey: AccountId,
    owner_hotkey: AccountId,
    hparams: Hyperparams,
    burn: u64,
    registrations_this_block: u16,
    registrations_this_interval: u16,
    last_epoch_block: u64,
    commits: BTreeMap<AccountId, VecDeque<Commit>>,
    n: u16,
}

fn subnet_row(sn: &Subnet) -> SubnetRow<'_> {
    SubnetRow {
        owner_coldkey: &sn.owner_coldkey,
        owner_hotkey: &sn.owner_hotkey,
        hparams: &sn.hparams,
        burn: sn.burn,
        registrations_this_block: sn.registrations_this_block,
        registrations_this_interval: sn.registrations_this_interval,
        last_epoch_block: sn.last_epoch_block,
        commits: &sn.commits,
        n: sn.n(),
    }
}

fn neuron_key(netuid: u16, uid: usize) -> u32 {
    (u32::from(netuid) << 16) | (uid as u32 & 0xffff)
}

fn account_bytes(a: &Account) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&a.balance.to_le_bytes());
    b[8..].copy_from_slice(&a.nonce.to_le_bytes());
    b
}

fn stake_key(hotkey: &AccountId, coldkey: &AccountId) -> [u8; 64] {
    let mut k = [0u8; 64];
    k[..32].copy_from_slice(&hotkey.0);
    k[32..].copy_from_slice(&coldkey.0);
    k
}

fn account_id(b: &[u8], what: &'static str) -> Result<AccountId, ChainError> {
    let a: [u8; 32] = b.try_into().map_err(|_| ChainError::Storage {
        op: what,
        reason: format!("key of {} bytes, expected 32", b.len()),
    })?;
    Ok(AccountId(a))
}

/// Writes the rows that differ between `prev` and `next` (all of them for an empty `prev`).
pub(crate) fn write_delta(
    w: &WriteTransaction,
    prev: &ChainState,
    next: &ChainState,
) -> Result<(), ChainError> {
    let mut accounts = st!("open accounts", w.open_table(ACCOUNTS))?;
    let (changed, gone) = diff(&prev.accounts, &next.accounts);
    for (k, v) in changed {
        st!(
            "write account",
            accounts.insert(k.0.as_slice(), account_bytes(v).as_slice())
        )?;
    }
    for k in gone {
        st!("remove account", accounts.remove(k.0.as_slice()))?;
    }
    drop(accounts);
    let mut owners = st!("open hotkey owners", w.open_table(HOTKEY_OWNER))?;
    let (changed, gone) = diff(&prev.hotkey_owner, &next.hotkey_owner);
    for (k, v) in changed {
        st!(
            "write hotkey owner",
            owners.insert(k.0.as_slice(), v.0.as_slice())
        )?;
    }
    for k in gone {
        st!("remove hotkey owner", owners.remove(k.0.as_slice()))?;
    }
    drop(owners);
    write_stake(w, prev, next)?;
    write_subnets(w, prev, next)?;
    let bytes = scalars_bytes(next)?;
    let mut t = st!("open scalars", w.open_table(SCALARS))?;
    st!("write scalars", t.insert("chain", bytes.as_slice()))?;
    Ok(())
}

/// The chain-wide values as stored (and as the state root covers them).
pub(crate) fn scalars_bytes(s: &ChainState) -> Result<Vec<u8>, ChainError> {
    json(
        "encode state scalars",
        &ScalarsRef {
            block: s.block,
            head_hash: &s.head_hash,
            time_ms: s.time_ms,
            total_issuance: s.total_issuance,
            recent_hashes: &s.recent_hashes,
            used_work: &s.used_work,
        },
    )
}

/// [`Scalars`] borrowed, for encoding without copying the maps.
#[derive(Serialize)]
struct ScalarsRef<'a> {
    block: u64,
    head_hash: &'a Hash,
    time_ms: u64,
    total_issuance: u64,
    recent_hashes: &'a BTreeMap<u64, Hash>,
    used_work: &'a BTreeMap<String, u64>,
}

pub(crate) use crate::root_cache::RowKey;

/// One row of the state: its [`RowKey`] and its value as stored.
pub(crate) struct Row {
    pub key: RowKey,
    pub value: Vec<u8>,
}

const TAG_ACCOUNT: u8 = 1;
const TAG_OWNER: u8 = 2;
const TAG_STAKE: u8 = 3;
const TAG_SUBNET: u8 = 4;
const TAG_NEURON: u8 = 5;

fn row_key(tag: u8, parts: &[&[u8]]) -> RowKey {
    let mut k = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    k.push(tag);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

fn stake_row_key(hot: &AccountId, cold: &AccountId) -> RowKey {
    row_key(TAG_STAKE, &[&stake_key(hot, cold)])
}

fn neuron_row_key(netuid: u16, uid: usize) -> RowKey {
    row_key(TAG_NEURON, &[&neuron_key(netuid, uid).to_be_bytes()])
}

/// Calls `f` with every per-entry row of `s` (not the chain-wide scalars).
pub(crate) fn for_each_row(s: &ChainState, mut f: impl FnMut(Row)) -> Result<(), ChainError> {
    for (k, v) in &s.accounts {
        f(Row {
            key: row_key(TAG_ACCOUNT, &[&k.0]),
            value: account_bytes(v).to_vec(),
        });
    }
    for (k, v) in &s.hotkey_owner {
        f(Row {
            key: row_key(TAG_OWNER, &[&k.0]),
            value: v.0.to_vec(),
        });
    }
    for (hot, colds) in &s.stake {
        for (cold, v) in colds {
            f(Row {
                key: stake_row_key(hot, cold),
                value: v.to_le_bytes().to_vec(),
            });
        }
    }
    for (netuid, sn) in &s.subnets {
        f(Row {
            key: row_key(TAG_SUBNET, &[&netuid.to_be_bytes()]),
            value: json("encode subnet", &subnet_row(sn))?,
        });
        for (uid, n) in sn.neurons.iter().enumerate() {
            f(Row {
                key: neuron_row_key(*netuid, uid),
                value: json("encode neuron", n)?,
            });
        }
    }
    Ok(())
}

/// Calls `f` with every per-entry row that differs between `prev` and `next`: its key and its
/// new value, or `None` where `next` no longer has it. The same rows [`write_delta`] writes.
pub(crate) fn changed_rows(
    prev: &ChainState,
    next: &ChainState,
    mut f: impl FnMut(RowKey, Option<Vec<u8>>),
) -> Result<(), ChainError> {
    let (changed, gone) = diff(&prev.accounts, &next.accounts);
    for (k, v) in changed {
        f(
            row_key(TAG_ACCOUNT, &[&k.0]),
            Some(account_bytes(v).to_vec()),
        );
    }
    for k in gone {
        f(row_key(TAG_ACCOUNT, &[&k.0]), None);
    }
    let (changed, gone) = diff(&prev.hotkey_owner, &next.hotkey_owner);
    for (k, v) in changed {
        f(row_key(TAG_OWNER, &[&k.0]), Some(v.0.to_vec()));
    }
    for k in gone {
        f(row_key(TAG_OWNER, &[&k.0]), None);
    }
    let empty = BTreeMap::new();
    for (hot, colds) in &next.stake {
        let before = prev.stake.get(hot).unwrap_or(&empty);
        if before == colds {
            continue;
        }
        let (changed, gone) = diff(before, colds);
        for (cold, v) in changed {
            f(stake_row_key(hot, cold), Some(v.to_le_bytes().to_vec()));
        }
        for cold in gone {
            f(stake_row_key(hot, cold), None);
        }
    }
    for (hot, colds) in &prev.stake {
        if !next.stake.contains_key(hot) {
            for cold in colds.keys() {
                f(stake_row_key(hot, cold), None);
            }
        }
    }
    for (netuid, sn) in &next.subnets {
        let before = prev.subnets.get(netuid);
        let row = subnet_row(sn);
        if before.map(subnet_row).as_ref() != Some(&row) {
            f(
                row_key(TAG_SUBNET, &[&netuid.to_be_bytes()]),
                Some(json("encode subnet", &row)?),
            );
        }
        let old: &[Neuron] = before.map_or(&[], |b| &b.neurons);
        for (uid, n) in sn.neurons.iter().enumerate() {
            if old.get(uid) != Some(n) {
                f(
                    neuron_row_key(*netuid, uid),
                    Some(json("encode neuron", n)?),
                );
            }
        }
        for uid in sn.neurons.len()..old.len() {
            f(neuron_row_key(*netuid, uid), None);
        }
    }
    for (netuid, sn) in &prev.subnets {
        if !next.subnets.contains_key(netuid) {
            f(row_key(TAG_SUBNET, &[&netuid.to_be_bytes()]), None);
            for uid in 0..sn.neurons.len() {
                f(neuron_row_key(*netuid, uid), None);
            }
        }
    }
    Ok(())
}

/// The entries of `next` that are new or changed, and the keys of `prev` that are gone.
type Diff<'a, K, V> = (Vec<(&'a K, &'a V)>, Vec<&'a K>);

fn diff<'a, K: Ord, V: PartialEq>(
    prev: &'a BTreeMap<K, V>,
    next: &'a BTreeMap<K, V>,
) -> Diff<'a, K, V> {
    let changed = next
        .iter()
        .filter(|(k, v)| prev.get(k) != Some(v))
        .collect();
    let gone = prev.keys().filter(|k| !next.contains_key(k)).collect();
    (changed, gone)
}

fn write_stake(
    w: &WriteTransaction,
    prev: &ChainState,
    next: &ChainState,
) -> Result<(), ChainError> {
    let mut t: Table<&[u8], u64> = st!("open stake", w.open_table(STAKE))?;
    let empty = BTreeMap::new();
    for (hot, cold_map) in &next.stake {
        let before = prev.stake.get(hot).unwrap_or(&empty);
        if before == cold_map {
            continue;
        }
        let (changed, gone) = diff(before, cold_map);
        for (cold, v) in changed {
            st!("write stake", t.insert(stake_key(hot, cold).as_slice(), *v))?;
        }
        for cold in gone {
            st!("remove stake", t.remove(stake_key(hot, cold).as_slice()))?;
        }
    }
    for (hot, cold_map) in &prev.stake {
        if !next.stake.contains_key(hot) {
            for cold in cold_map.keys() {
                st!("remove stake", t.remove(stake_key(hot, cold).as_slice()))?;
            }
        }
    }
    Ok(())
}

fn write_subnets(
    w: &WriteTransaction,
    prev: &ChainState,
    next: &ChainState,
) -> Result<(), ChainError> {
    let mut subnets = st!("open subnets", w.open_table(SUBNETS))?;
    let mut neurons = st!("open neurons", w.open_table(NEURONS))?;
    for (netuid, sn) in &next.subnets {
        let before = prev.subnets.get(netuid);
        let row = subnet_row(sn);
        if before.map(subnet_row).as_ref() != Some(&row) {
            let bytes = json("encode subnet", &row)?;
            st!("write subnet", subnets.insert(*netuid, bytes.as_slice()))?;
        }
        let old: &[Neuron] = before.map_or(&[], |b| &b.neurons);
        for (uid, n) in sn.neurons.iter().enumerate() {
            if old.get(uid) != Some(n) {
                let bytes = json("encode neuron", n)?;
                st!(
                    "write neuron",
                    neurons.insert(neuron_key(*netuid, uid), bytes.as_slice())
                )?;
            }
        }
        for uid in sn.neurons.len()..old.len() {
            st!("remove neuron", neurons.remove(neuron_key(*netuid, uid)))?;
        }
    }
    for (netuid, sn) in &prev.subnets {
        if !next.subnets.contains_key(netuid) {
            st!("remove subnet", subnets.remove(*netuid))?;
            for uid in 0..sn.neurons.len() {
                st!("remove neuron", neurons.remove(neuron_key(*netuid, uid)))?;
            }
        }
    }
    Ok(())
}

/// Reads the whole state back (at startup).
pub(crate) fn load(r: &redb::ReadTransaction) -> Result<ChainState, ChainError> {
    let scalars = st!("open scalars", r.open_table(SCALARS))?;
    let raw = st!("read scalars", scalars.get("chain"))?.ok_or(ChainError::Storage {
        op: "load state",
        reason: "no chain scalars stored".into(),
    })?;
    let sc: Scalars = unjson("decode state scalars", raw.value())?;
    let mut s = ChainState {
        block: sc.block,
        head_hash: sc.head_hash,
        time_ms: sc.time_ms,
        total_issuance: sc.total_issuance,
        recent_hashes: sc.recent_hashes,
        used_work: sc.used_work,
        ..ChainState::default()
    };
    for row in st!(
        "read accounts",
        st!("open accounts", r.open_table(ACCOUNTS))?.iter()
    )? {
        let (k, v) = st!("read account", row)?;
        let v = v.value();
        if v.len() != 16 {
            return Err(ChainError::Storage {
                op: "decode account",
                reason: format!("{} bytes, expected 16", v.len()),
            });
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&v[..8]);
        let balance = u64::from_le_bytes(b);
        b.copy_from_slice(&v[8..]);
        let nonce = u64::from_le_bytes(b);
        s.accounts.insert(
            account_id(k.value(), "decode account")?,
            Account { balance, nonce },
        );
    }
    for row in st!(
        "read owners",
        st!("open hotkey owners", r.open_table(HOTKEY_OWNER))?.iter()
    )? {
        let (k, v) = st!("read owner", row)?;
        s.hotkey_owner.insert(
            account_id(k.value(), "decode hotkey owner")?,
            account_id(v.value(), "decode hotkey owner")?,
        );
    }
    for row in st!("read stake", st!("open stake", r.open_table(STAKE))?.iter())? {
        let (k, v) = st!("read stake", row)?;
        let k = k.value();
        if k.len() != 64 {
            return Err(ChainError::Storage {
                op: "decode stake",
                reason: format!("key of {} bytes, expected 64", k.len()),
            });
        }
        let hot = account_id(&k[..32], "decode stake")?;
        let cold = account_id(&k[32..], "decode stake")?;
        s.stake.entry(hot).or_default().insert(cold, v.value());
    }
    let neurons = st!("open neurons", r.open_table(NEURONS))?;
    for row in st!(
        "read subnets",
        st!("open subnets", r.open_table(SUBNETS))?.iter()
    )? {
        let (k, v) = st!("read subnet", row)?;
        let netuid = k.value();
        let sn: StoredSubnet = unjson("decode subnet", v.value())?;
        let mut list = Vec::with_capacity(usize::from(sn.n));
        for uid in 0..usize::from(sn.n) {
            let raw = st!("read neuron", neurons.get(neuron_key(netuid, uid)))?.ok_or(
                ChainError::Storage {
                    op: "load neuron",
                    reason: format!("subnet {netuid} uid {uid} missing"),
                },
            )?;
            list.push(unjson::<Neuron>("decode neuron", raw.value())?);
        }
        s.subnets.insert(
            netuid,
            Subnet {
                netuid,
                owner_coldkey: sn.owner_coldkey,
                owner_hotkey: sn.owner_hotkey,
                hparams: sn.hparams,
                neurons: list,
                burn: sn.burn,
                registrations_this_block: sn.registrations_this_block,
                registrations_this_interval: sn.registrations_this_interval,
                last_epoch_block: sn.last_epoch_block,
                commits: sn.commits,
            },
        );
    }
    Ok(s)
}

/// Rows in the state tables (for tests and diagnostics).
pub(crate) fn row_count(r: &redb::ReadTransaction) -> Result<u64, ChainError> {
    let mut n = st!("count", st!("open", r.open_table(ACCOUNTS))?.len())?;
    n += st!("count", st!("open", r.open_table(STAKE))?.len())?;
    n += st!("count", st!("open", r.open_table(HOTKEY_OWNER))?.len())?;
    n += st!("count", st!("open", r.open_table(SUBNETS))?.len())?;
    n += st!("count", st!("open", r.open_table(NEURONS))?.len())?;
    Ok(n)
}
