//! [`Subtensor`]: one connection to a node, its runtime's metadata and the chain facts every
//! signature commits to; typed reads (storage, runtime APIs, constants) and signed submission
//! that waits for inclusion and reports a failed dispatch by its metadata name.

use std::time::Duration;

use bt_crypto::wallet::Sr25519Pair;
use jsonrpsee::rpc_params;
use scale_value::Value;
use serde::Deserialize;

use crate::codec::{self, read};
use crate::error::SubtensorError;
use crate::extrinsic::{self, Call, ChainFacts, Mortality, TxParams};
use crate::metadata::Metadata;
use crate::rpc::{Rpc, RpcConfig, tohex, unhex};

/// Blocks a transaction stays valid for (the SDK's default era is of this order).
pub const MORTALITY_PERIOD: u64 = 64;
/// How long a submitted transaction may take to reach a block.
pub const INCLUSION_TIMEOUT: Duration = Duration::from_secs(60);
/// Keys fetched per `state_getKeysPaged` page, and pages at most per iteration.
const KEYS_PAGE: u32 = 1000;
const MAX_KEY_PAGES: usize = 1000;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuntimeVersion {
    spec_name: String,
    spec_version: u32,
    transaction_version: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeaderJson {
    number: String,
}

/// Where a transaction landed.
#[derive(Debug, Clone)]
pub struct Included {
    pub block_hash: [u8; 32],
    pub block_number: u64,
    /// The extrinsic's index in the block.
    pub index: u32,
    /// Its events, as `Pallet::Event` names with their fields.
    pub events: Vec<(String, Value<u32>)>,
}

impl Included {
    /// The fee paid, from `TransactionPayment::TransactionFeePaid` (`actual_fee`).
    pub fn fee(&self) -> Option<u64> {
        use scale_value::At;
        self.events
            .iter()
            .find(|(name, _)| name == "TransactionPayment::TransactionFeePaid")
            .and_then(|(_, v)| v.at("actual_fee"))
            .and_then(|f| f.as_u128())
            .and_then(|f| u64::try_from(f).ok())
    }
}

/// A connection to a subtensor node.
pub struct Subtensor {
    rpc: Rpc,
    meta: Metadata,
    facts: ChainFacts,
    spec_name: String,
    inclusion_timeout: Duration,
}

impl Subtensor {
    /// Connects, then reads the runtime version, the genesis hash and the metadata (V15 when
    /// the runtime has it, V14 otherwise).
    pub async fn connect(endpoint: &str, config: RpcConfig) -> Result<Self, SubtensorError> {
        let rpc = Rpc::connect(endpoint, config).await?;
        let version: RuntimeVersion = rpc
            .request("state_getRuntimeVersion", rpc_params![])
            .await?;
        let genesis: String = rpc.request("chain_getBlockHash", rpc_params![0]).await?;
        let genesis_hash = hash32("genesis hash", &genesis)?;
        // The decoder's message says what in the metadata is wrong, not whose metadata it is.
        let meta = fetch_metadata(&rpc, version.spec_version)
            .await
            .map_err(|e| match e {
                SubtensorError::Metadata(m) => SubtensorError::Metadata(format!("{endpoint}: {m}")),
                e => e,
            })?;
        tracing::debug!(
            endpoint,
            spec = version.spec_version,
            metadata = meta.version,
            "connected to subtensor"
        );
        Ok(Self {
            rpc,
            meta,
            facts: ChainFacts {
                spec_version: version.spec_version,
                transaction_version: version.transaction_version,
                genesis_hash,
            },
            spec_name: version.spec_name,
            inclusion_timeout: INCLUSION_TIMEOUT,
        })
    }

    pub fn with_inclusion_timeout(mut self, timeout: Duration) -> Self {
        self.inclusion_timeout = timeout;
        self
    }

    pub fn endpoint(&self) -> &str {
        self.rpc.endpoint()
    }

    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    pub fn facts(&self) -> &ChainFacts {
        &self.facts
    }

    pub fn spec_name(&self) -> &str {
        &self.spec_name
    }

    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    /// The best block's number and hash.
    pub async fn head(&self) -> Result<(u64, [u8; 32]), SubtensorError> {
        let hash: String = self
            .rpc
            .request("chain_getBlockHash", rpc_params![])
            .await?;
        let header: HeaderJson = self
            .rpc
            .request("chain_getHeader", rpc_params![&hash])
            .await?;
        Ok((block_number(&header.number)?, hash32("block hash", &hash)?))
    }

    /// A storage value, decoded by its metadata type; a `ValueQuery` entry that is absent
    /// gives its default, an `OptionQuery` one `None`.
    pub async fn storage(
        &self,
        pallet: &str,
        entry: &str,
        keys: &[Value],
    ) -> Result<Option<Value<u32>>, SubtensorError> {
        let key = codec::storage_key(&self.meta, pallet, entry, keys)?;
        let (_, e) = self.meta.storage(pallet, entry)?;
        let what = format!("{pallet}::{entry}");
        let raw: Option<String> = self
            .rpc
            .request("state_getStorage", rpc_params![tohex(&key)])
            .await?;
        let bytes = match raw {
            Some(hex) => unhex(&what, &hex)?,
            None => match &e.default {
                Some(default) => default.clone(),
                None => return Ok(None),
            },
        };
        codec::decode(&self.meta, e.value_ty, &bytes, &what).map(Some)
    }

    /// Several values of one storage entry in one request (`keys` per item), in order.
    pub async fn storage_many(
        &self,
        pallet: &str,
        entry: &str,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Value<u32>>>, SubtensorError> {
        let items: Vec<(&str, &str, &[Value])> =
            keys.iter().map(|k| (pallet, entry, k.as_slice())).collect();
        self.storage_items(&items).await
    }

    /// Values of any storage entries, `(pallet, entry, keys)` each, in as few requests as
    /// `KEYS_PAGE` allows (one per page, not one per item: a WAN round trip each), in order. A
    /// `ValueQuery` entry that is absent gives its default, an `OptionQuery` one `None`.
    pub async fn storage_items(
        &self,
        items: &[(&str, &str, &[Value])],
    ) -> Result<Vec<Option<Value<u32>>>, SubtensorError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mut hex_keys = Vec::with_capacity(items.len());
        for (pallet, entry, keys) in items {
            self.meta.storage(pallet, entry)?;
            hex_keys.push(tohex(&codec::storage_key(&self.meta, pallet, entry, keys)?));
        }
        let mut found = std::collections::HashMap::with_capacity(hex_keys.len());
        for chunk in hex_keys.chunks(KEYS_PAGE as usize) {
            let changes: Vec<StorageChangeSet> = self
                .rpc
                .request("state_queryStorageAt", rpc_params![chunk])
                .await?;
            for set in changes {
                for (k, v) in set.changes {
                    if let Some(v) = v {
                        found.insert(k.to_ascii_lowercase(), v);
                    }
                }
            }
        }
        items
            .iter()
            .zip(&hex_keys)
            .map(|((pallet, entry, _), k)| {
                let (_, e) = self.meta.storage(pallet, entry)?;
                let what = format!("{pallet}::{entry}");
                let bytes = match found.get(k) {
                    Some(v) => unhex(&what, v)?,
                    None => match &e.default {
                        Some(d) => d.clone(),
                        None => return Ok(None),
                    },
                };
                codec::decode(&self.meta, e.value_ty, &bytes, &what).map(Some)
            })
            .collect()
    }

    /// Every entry of a map under `prefix_keys` (all of it when empty), as (the remaining key
    /// bytes after the prefix, the value). Bounded: at most `KEYS_PAGE * MAX_KEY_PAGES` keys.
    pub async fn storage_entries(
        &self,
        pallet: &str,
        entry: &str,
        prefix_keys: &[Value],
    ) -> Result<Vec<(Vec<u8>, Value<u32>)>, SubtensorError> {
        let prefix = codec::storage_key(&self.meta, pallet, entry, prefix_keys)?;
        let (_, e) = self.meta.storage(pallet, entry)?;
        let what = format!("{pallet}::{entry}");
        let (_, at) = self.head().await?;
        let at = tohex(&at);
        let mut out = Vec::new();
        let mut start: Option<String> = None;
        for _ in 0..MAX_KEY_PAGES {
            let keys: Vec<String> = self
                .rpc
                .request(
                    "state_getKeysPaged",
                    rpc_params![tohex(&prefix), KEYS_PAGE, start.clone(), &at],
                )
                .await?;
            if keys.is_empty() {
                return Ok(out);
            }
            let changes: Vec<StorageChangeSet> = self
                .rpc
                .request("state_queryStorageAt", rpc_params![&keys, &at])
                .await?;
            for set in changes {
                for (k, v) in set.changes {
                    let Some(v) = v else { continue };
                    let key = unhex(&what, &k)?;
                    let rest = key
                        .strip_prefix(prefix.as_slice())
                        .ok_or_else(|| {
                            SubtensorError::decode(&what, "a key outside the prefix asked for")
                        })?
                        .to_vec();
                    out.push((
                        rest,
                        codec::decode(&self.meta, e.value_ty, &unhex(&what, &v)?, &what)?,
                    ));
                }
            }
            if keys.len() < KEYS_PAGE as usize {
                return Ok(out);
            }
            start = keys.last().cloned();
        }
        Err(SubtensorError::decode(
            &what,
            "more entries than this client reads",
        ))
    }

    /// A runtime API call (`NeuronInfoRuntimeApi`, `get_neurons_lite`) with its arguments
    /// encoded and its answer decoded by the metadata's types.
    pub async fn runtime_api(
        &self,
        api: &str,
        method: &str,
        args: &[Value],
    ) -> Result<Value<u32>, SubtensorError> {
        let m = self.meta.runtime_api(api, method)?;
        let what = format!("{api}_{method}");
        if args.len() != m.inputs.len() {
            return Err(SubtensorError::encode(
                &what,
                format!(
                    "{} arguments given, it takes {}",
                    args.len(),
                    m.inputs.len()
                ),
            ));
        }
        let mut input = Vec::new();
        for (arg, (name, ty)) in args.iter().zip(&m.inputs) {
            input.extend(codec::encode(
                &self.meta,
                *ty,
                arg,
                &format!("{what}({name})"),
            )?);
        }
        let answer: String = self
            .rpc
            .request("state_call", rpc_params![&what, tohex(&input)])
            .await?;
        codec::decode(&self.meta, m.output, &unhex(&what, &answer)?, &what)
    }

    /// A pallet constant, decoded.
    pub fn constant(&self, pallet: &str, name: &str) -> Result<Value<u32>, SubtensorError> {
        let c = self.meta.constant(pallet, name)?;
        codec::decode(&self.meta, c.ty, &c.value, &format!("{pallet}::{name}"))
    }

    /// The next nonce of `account` (pending transactions counted).
    pub async fn nonce(&self, account: &[u8; 32]) -> Result<u64, SubtensorError> {
        let ss58 = bt_crypto::wallet::ss58_encode(account, bt_crypto::wallet::SS58_PREFIX);
        self.rpc
            .request("system_accountNextIndex", rpc_params![ss58])
            .await
    }

    /// Signs `call` as `signer` (mortal, next nonce, no tip).
    pub async fn sign(&self, signer: &Sr25519Pair, call: &Call) -> Result<Vec<u8>, SubtensorError> {
        let nonce = self.nonce(&signer.account().0).await?;
        let (number, hash) = self.head().await?;
        let params = TxParams {
            nonce,
            tip: 0,
            mortality: Some(Mortality {
                period: MORTALITY_PERIOD,
                birth_number: number,
                birth_hash: hash,
            }),
        };
        extrinsic::sign(&self.meta, call, signer, &self.facts, &params)
    }

    /// Signs and submits `call`, waits until it is in a block, and reads its events: a failed
    /// dispatch is returned as [`SubtensorError::Dispatch`] with the error's metadata name.
    pub async fn submit(
        &self,
        signer: &Sr25519Pair,
        call: &Call,
    ) -> Result<Included, SubtensorError> {
        let xt = self.sign(signer, call).await?;
        let xt_hex = tohex(&xt);
        let mut sub = self
            .rpc
            .subscribe::<serde_json::Value>(
                "author_submitAndWatchExtrinsic",
                rpc_params![&xt_hex],
                "author_unwatchExtrinsic",
            )
            .await?;
        let hash = tohex(&codec::blake2_256(&xt));
        let deadline = tokio::time::Instant::now() + self.inclusion_timeout;
        let block_hash = loop {
            let next = tokio::time::timeout_at(deadline, sub.next()).await;
            let status = match next {
                Err(_) => {
                    return Err(SubtensorError::NotIncluded {
                        hash,
                        after: self.inclusion_timeout,
                    });
                }
                Ok(None) => {
                    return Err(SubtensorError::Transport {
                        endpoint: self.endpoint().to_string(),
                        method: "author_submitAndWatchExtrinsic".into(),
                        reason: "the node ended the subscription".into(),
                    });
                }
                Ok(Some(Err(e))) => {
                    return Err(SubtensorError::decode("transaction status", e));
                }
                Ok(Some(Ok(status))) => status,
            };
            match tx_status(&status) {
                TxStatus::Pending => continue,
                TxStatus::InBlock(h) => break h,
                TxStatus::Refused(why) => return Err(SubtensorError::Refused(why)),
            }
        };
        drop(sub);
        self.outcome(&block_hash, &xt_hex).await
    }

    /// Finds the extrinsic in its block and reads its events.
    async fn outcome(&self, block_hash: &str, xt_hex: &str) -> Result<Included, SubtensorError> {
        let block: BlockJson = self
            .rpc
            .request("chain_getBlock", rpc_params![block_hash])
            .await?;
        let index = block
            .block
            .extrinsics
            .iter()
            .position(|x| x.eq_ignore_ascii_case(xt_hex))
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| {
                SubtensorError::decode("block", "the included transaction is not in its block")
            })?;
        let number = block_number(&block.block.header.number)?;
        let key = codec::storage_key(&self.meta, "System", "Events", &[])?;
        let raw: Option<String> = self
            .rpc
            .request("state_getStorage", rpc_params![tohex(&key), block_hash])
            .await?;
        let (_, entry) = self.meta.storage("System", "Events")?;
        let bytes = match raw {
            Some(h) => unhex("System::Events", &h)?,
            None => vec![0],
        };
        let records = codec::decode(&self.meta, entry.value_ty, &bytes, "System::Events")?;
        let mut events = Vec::new();
        for record in read::items(&records, "System::Events")? {
            let (phase, phase_values) =
                read::variant(read::field(record, "phase", "event")?, "phase")?;
            let ours = phase == "ApplyExtrinsic"
                && phase_values
                    .values()
                    .next()
                    .and_then(|v| v.as_u128())
                    .is_some_and(|i| i == u128::from(index));
            if !ours {
                continue;
            }
            let (pallet, inner) = read::variant(read::field(record, "event", "event")?, "event")?;
            let Some(inner) = inner.values().next() else {
                continue;
            };
            let (name, fields) = read::variant(inner, "event")?;
            let value = Value {
                value: scale_value::ValueDef::Composite(fields.clone()),
                context: 0u32,
            };
            if pallet == "System" && name == "ExtrinsicFailed" {
                return Err(self.dispatch_error(&value));
            }
            events.push((format!("{pallet}::{name}"), value));
        }
        Ok(Included {
            block_hash: hash32("block hash", block_hash)?,
            block_number: number,
            index,
            events,
        })
    }

    /// `ModuleError { index, error: [u8; 4] }` by the metadata's names.
    fn module_error_name(&self, m: &Value<u32>) -> Option<SubtensorError> {
        let index = read::uint_field(m, "index", "module error").ok()?;
        let error = read::field(m, "error", "module error")
            .and_then(|e| read::bytes(e, "module error"))
            .ok()?;
        let (pallet, error, docs) = self
            .meta
            .module_error(u8::try_from(index).ok()?, *error.first()?)?;
        Some(SubtensorError::Dispatch {
            pallet,
            error,
            docs,
        })
    }

    fn dispatch_error(&self, failed: &Value<u32>) -> SubtensorError {
        let Some(err) = failed.at_first_or_named("dispatch_error") else {
            return SubtensorError::DispatchOther(failed.to_string());
        };
        if let Ok(("Module", values)) = read::variant(err, "dispatch error")
            && let Some(m) = values.values().next()
            && let Some(named) = self.module_error_name(m)
        {
            return named;
        }
        SubtensorError::DispatchOther(err.to_string())
    }
}

trait AtFirstOrNamed {
    fn at_first_or_named(&self, name: &str) -> Option<&Value<u32>>;
}

impl AtFirstOrNamed for Value<u32> {
    fn at_first_or_named(&self, name: &str) -> Option<&Value<u32>> {
        use scale_value::At;
        self.at(name).or_else(|| match &self.value {
            scale_value::ValueDef::Composite(c) => c.values().next(),
            _ => None,
        })
    }
}

enum TxStatus {
    Pending,
    InBlock(String),
    Refused(String),
}

/// Substrate's `TransactionStatus` as JSON: a string for a unit variant, or a one-key object
/// (some nodes, chopsticks among them, send `{"ready": null}` for unit variants too).
fn tx_status(status: &serde_json::Value) -> TxStatus {
    let (name, value) = match status {
        serde_json::Value::String(s) => (s.as_str(), &serde_json::Value::Null),
        serde_json::Value::Object(map) if map.len() == 1 => match map.iter().next() {
            Some((k, v)) => (k.as_str(), v),
            None => return TxStatus::Refused(status.to_string()),
        },
        _ => return TxStatus::Refused(status.to_string()),
    };
    match (name, value.as_str()) {
        ("future" | "ready" | "broadcast" | "retracted", _) => TxStatus::Pending,
        ("inBlock" | "finalized", Some(hash)) => TxStatus::InBlock(hash.to_string()),
        _ => TxStatus::Refused(status.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct StorageChangeSet {
    changes: Vec<(String, Option<String>)>,
}

#[derive(Debug, Deserialize)]
struct BlockJson {
    block: BlockInner,
}

#[derive(Debug, Deserialize)]
struct BlockInner {
    header: HeaderJson,
    extrinsics: Vec<String>,
}

async fn fetch_metadata(rpc: &Rpc, spec_version: u32) -> Result<Metadata, SubtensorError> {
    // Metadata_metadata_at_version(15): u32 15 as SCALE.
    let v15: Result<String, _> = rpc
        .request(
            "state_call",
            rpc_params!["Metadata_metadata_at_version", "0x0f000000"],
        )
        .await;
    if let Ok(hex) = v15
        && let Some(m) = Metadata::decode_at_version(&unhex("metadata", &hex)?, spec_version)?
    {
        return Ok(m);
    }
    let hex: String = rpc.request("state_getMetadata", rpc_params![]).await?;
    Metadata::decode_prefixed(&unhex("metadata", &hex)?, spec_version)
}

fn hash32(what: &str, hex: &str) -> Result<[u8; 32], SubtensorError> {
    unhex(what, hex)?
        .try_into()
        .map_err(|_| SubtensorError::decode(what, "a hash is 32 bytes"))
}

fn block_number(hex: &str) -> Result<u64, SubtensorError> {
    u64::from_str_radix(hex.trim_start_matches("0x"), 16)
        .map_err(|e| SubtensorError::decode("block number", e))
}
