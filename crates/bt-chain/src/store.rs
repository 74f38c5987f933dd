//! Persistence in redb: blocks, receipts and the state after the head block, one row per
//! account, stake, hotkey owner, subnet and neuron (`state_tables`).
//!
//! Each block is committed in **one** write transaction together with the state rows it changed
//! and the new head pointer (durability `Immediate`: fsync before `commit` returns). redb's commit
//! is atomic, so after a `kill -9` at any instant the database holds either the previous head or
//! the new one, never a half-written block; a restart resumes from the stored state, which
//! [`Store::replay`] can verify against re-executing every block from genesis.

use crate::block::{Block, Receipt, genesis, import_block};
use crate::error::ChainError;
use crate::genesis::Genesis;
use crate::hash::Hash;
use crate::state::ChainState;
use crate::state_tables;
use redb::{Database, ReadableDatabase, TableDefinition};
use std::path::Path;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const HASHES: TableDefinition<&[u8], u64> = TableDefinition::new("block_hashes");
const RECEIPTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("receipts");

macro_rules! st {
    ($op:expr, $e:expr) => {
        $e.map_err(|e| ChainError::storage($op, redb::Error::from(e)))
    };
}

fn meta(db: &Database, key: &str) -> Result<Option<Vec<u8>>, ChainError> {
    let r = st!("begin read", db.begin_read())?;
    let t = match r.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(se("open meta")(e.into())),
    };
    Ok(st!("read meta", t.get(key))?.map(|v| v.value().to_vec()))
}

fn se(op: &'static str) -> impl Fn(redb::Error) -> ChainError {
    move |e| ChainError::storage(op, e)
}

/// The layout this code writes. Databases of format 2 hold headers whose state root was one hash
/// of the whole state's JSON (now a tree over its rows, `state_root`) and a genesis without the
/// fee schedule; databases without a format were written before the state had rows of its own
/// and before transactions carried a genesis tag.
const FORMAT: u32 = 3;

pub struct Store {
    db: Database,
    genesis: Genesis,
    genesis_hash: Hash,
}

impl Store {
    /// Opens (or creates) the database at `path`, or an in-memory one for `None`. Returns the
    /// store and the state after the stored head block.
    ///
    /// A genesis without a seed adopts the stored one (or, for a new database, a random one):
    /// [`Store::genesis`] is the resolved genesis. A database of an older layout is refused
    /// with [`ChainError::OldDatabaseFormat`] rather than migrated: its blocks hold
    /// transactions of the older format, which this node no longer decodes.
    pub fn open(path: Option<&Path>, g: &Genesis) -> Result<(Self, ChainState), ChainError> {
        let db = match path {
            Some(p) => st!("open database", Database::create(p)).map_err(|e| match e {
                ChainError::Storage { reason, .. } => ChainError::Storage {
                    op: "open database",
                    reason: format!(
                        "{}: {reason} (is another node using this --db?)",
                        p.display()
                    ),
                },
                e => e,
            })?,
            None => st!(
                "open in-memory database",
                Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())
            )?,
        };
        let shown = || path.map(|p| p.display().to_string()).unwrap_or_default();
        let stored_genesis = meta(&db, "genesis")?;
        let format = meta(&db, "format")?;
        if stored_genesis.is_some() && format.as_deref() != Some(FORMAT.to_le_bytes().as_slice()) {
            return Err(ChainError::OldDatabaseFormat { path: shown() });
        }
        let stored_seed: Option<Hash> = match meta(&db, "genesis_seed")? {
            Some(raw) => Some(raw.try_into().map_err(|_| ChainError::Storage {
                op: "read genesis seed",
                reason: "not 32 bytes".into(),
            })?),
            None => None,
        };
        let mut g = g.clone();
        if g.seed.is_none() {
            g.seed = stored_seed;
        }
        let g = g.with_random_seed();
        let (gstate, gblock) = genesis(&g)?;
        let genesis_hash = gblock.hash();
        let store = Self {
            db,
            genesis: g,
            genesis_hash,
        };
        match stored_genesis {
            None => {
                store.commit_block(&gblock, &ChainState::default(), &gstate, &[])?;
                let w = st!("begin write", store.db.begin_write())?;
                {
                    let mut t = st!("open meta", w.open_table(META))?;
                    st!(
                        "write genesis",
                        t.insert("genesis", genesis_hash.as_slice())
                    )?;
                    let seed = store.genesis.seed.unwrap_or_default();
                    st!(
                        "write genesis seed",
                        t.insert("genesis_seed", seed.as_slice())
                    )?;
                    st!(
                        "write format",
                        t.insert("format", FORMAT.to_le_bytes().as_slice())
                    )?;
                }
                st!("commit genesis", w.commit())?;
                Ok((store, gstate))
            }
            Some(h) if h == genesis_hash => {
                let r = st!("begin read", store.db.begin_read())?;
                let state = state_tables::load(&r)?;
                Ok((store, state))
            }
            Some(h) => Err(ChainError::GenesisMismatch {
                path: shown(),
                stored: hex::encode(h),
                configured: hex::encode(genesis_hash),
            }),
        }
    }

    pub fn genesis_hash(&self) -> Hash {
        self.genesis_hash
    }

    /// The genesis this database holds, its seed resolved.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, ChainError> {
        meta(&self.db, key)
    }

    /// Writes a block, its receipts, the state rows it changed (`prev` is the state before it)
    /// and the head pointer atomically.
    pub fn commit_block(
        &self,
        block: &Block,
        prev: &ChainState,
        state: &ChainState,
        receipts: &[Receipt],
    ) -> Result<(), ChainError> {
        let block_bytes = block.to_bytes()?;
        let hash = block.hash();
        let w = st!("begin write", self.db.begin_write())?;
        {
            let mut blocks = st!("open blocks", w.open_table(BLOCKS))?;
            st!(
                "write block",
                blocks.insert(block.header.number, block_bytes.as_slice())
            )?;
            let mut hashes = st!("open hashes", w.open_table(HASHES))?;
            st!(
                "write hash",
                hashes.insert(hash.as_slice(), block.header.number)
            )?;
            let mut rec = st!("open receipts", w.open_table(RECEIPTS))?;
            for r in receipts {
                let bytes =
                    serde_json::to_vec(r).map_err(|e| ChainError::storage("encode receipt", e))?;
                st!(
                    "write receipt",
                    rec.insert(r.tx_hash.as_slice(), bytes.as_slice())
                )?;
            }
            state_tables::write_delta(&w, prev, state)?;
            let mut meta = st!("open meta", w.open_table(META))?;
            st!(
                "write head",
                meta.insert("head", block.header.number.to_le_bytes().as_slice())
            )?;
        }
        st!("commit block", w.commit())
    }

    /// Rows in the state tables: grows with accounts, stakes, subnets and neurons only.
    pub fn state_rows(&self) -> Result<u64, ChainError> {
        let r = st!("begin read", self.db.begin_read())?;
        state_tables::row_count(&r)
    }

    pub fn block(&self, number: u64) -> Result<Option<Block>, ChainError> {
        let r = st!("begin read", self.db.begin_read())?;
        let t = st!("open blocks", r.open_table(BLOCKS))?;
        st!("read block", t.get(number))?
            .map(|v| Block::from_bytes(v.value()))
            .transpose()
    }

    pub fn block_number_of(&self, hash: &Hash) -> Result<Option<u64>, ChainError> {
        let r = st!("begin read", self.db.begin_read())?;
        let t = st!("open hashes", r.open_table(HASHES))?;
        Ok(st!("read hash", t.get(hash.as_slice()))?.map(|v| v.value()))
    }

    pub fn receipt(&self, tx_hash: &Hash) -> Result<Option<Receipt>, ChainError> {
        let r = st!("begin read", self.db.begin_read())?;
        let t = match r.open_table(RECEIPTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(se("open receipts")(e.into())),
        };
        st!("read receipt", t.get(tx_hash.as_slice()))?
            .map(|v| {
                serde_json::from_slice(v.value())
                    .map_err(|e| ChainError::storage("decode receipt", e))
            })
            .transpose()
    }

    /// Number of the stored head block.
    pub fn head(&self) -> Result<u64, ChainError> {
        let raw = self.meta("head")?.ok_or(ChainError::Storage {
            op: "read head",
            reason: "no head".into(),
        })?;
        let arr: [u8; 8] = raw.try_into().map_err(|_| ChainError::Storage {
            op: "read head",
            reason: "bad length".into(),
        })?;
        Ok(u64::from_le_bytes(arr))
    }

    /// Re-executes every stored block from genesis; the result must equal the stored state.
    /// A `g` without a seed takes the stored one.
    pub fn replay(&self, g: &Genesis) -> Result<ChainState, ChainError> {
        let mut g = g.clone();
        if g.seed.is_none() {
            g.seed = self.genesis.seed;
        }
        let g = &g;
        let (mut state, _) = genesis(g)?;
        let head = self.head()?;
        for n in 1..=head {
            let block = self.block(n)?.ok_or(ChainError::Storage {
                op: "replay",
                reason: format!("block {n} missing"),
            })?;
            state = import_block(&state, g, &self.genesis_hash, &block)?.0;
        }
        Ok(state)
    }
}
