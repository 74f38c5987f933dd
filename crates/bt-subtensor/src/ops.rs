//! What a subnet user does on subtensor, as calls and storage reads named the way the runtime
//! names them: balances and transfers, subnets and their hyperparameters, the metagraph,
//! registration, serving, staking and weights.

use std::net::IpAddr;

use bt_crypto::wallet::{AccountId, Sr25519Pair};
use bt_interfaces::{AxonRow, NeuronRow, SubnetMetagraph, SubnetSummary, TensorIdentity};
use scale_value::Value;

use crate::client::{Included, Subtensor};
use crate::codec::read;
use crate::error::SubtensorError;
use crate::extrinsic::Call;

pub const RAO_PER_TAO: u64 = 1_000_000_000;
const MODULE: &str = "SubtensorModule";

fn account_value(a: &AccountId) -> Value {
    Value::from_bytes(a.0)
}

fn netuid_value(netuid: u16) -> Value {
    Value::u128(netuid.into())
}

fn u16s(v: &[u16]) -> Value {
    Value::unnamed_composite(v.iter().map(|x| Value::u128((*x).into())))
}

/// A hyperparameter's value, or `Absent` when this runtime does not have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HyperValue {
    Uint(u128),
    Int(i128),
    Bool(bool),
    Absent,
}

impl std::fmt::Display for HyperValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Uint(v) => write!(f, "{v}"),
            Self::Int(v) => write!(f, "{v}"),
            Self::Bool(v) => write!(f, "{v}"),
            Self::Absent => f.write_str("-"),
        }
    }
}

/// Hyperparameters by the SDK's names (`SubnetHyperparameters`) and the storage items that hold
/// them. `AlphaValues` holds both alpha_low and alpha_high.
const HYPERPARAMS: &[(&str, &str)] = &[
    ("rho", "Rho"),
    ("kappa", "Kappa"),
    ("immunity_period", "ImmunityPeriod"),
    ("min_allowed_weights", "MinAllowedWeights"),
    ("max_weights_limit", "MaxWeightsLimit"),
    ("tempo", "Tempo"),
    ("min_difficulty", "MinDifficulty"),
    ("max_difficulty", "MaxDifficulty"),
    ("weights_version", "WeightsVersionKey"),
    ("weights_rate_limit", "WeightsSetRateLimit"),
    ("adjustment_interval", "AdjustmentInterval"),
    ("activity_cutoff", "ActivityCutoff"),
    ("registration_allowed", "NetworkRegistrationAllowed"),
    ("target_regs_per_interval", "TargetRegistrationsPerInterval"),
    ("min_burn", "MinBurn"),
    ("max_burn", "MaxBurn"),
    ("bonds_moving_avg", "BondsMovingAverage"),
    ("max_regs_per_block", "MaxRegistrationsPerBlock"),
    ("serving_rate_limit", "ServingRateLimit"),
    ("max_validators", "MaxAllowedValidators"),
    ("max_allowed_uids", "MaxAllowedUids"),
    ("adjustment_alpha", "AdjustmentAlpha"),
    ("difficulty", "Difficulty"),
    ("burn", "Burn"),
    ("commit_reveal_period", "RevealPeriodEpochs"),
    (
        "commit_reveal_weights_enabled",
        "CommitRevealWeightsEnabled",
    ),
    ("liquid_alpha_enabled", "LiquidAlphaOn"),
    ("bonds_penalty", "BondsPenalty"),
    ("yuma3_enabled", "Yuma3On"),
    ("alpha_sigmoid_steepness", "AlphaSigmoidSteepness"),
    ("stake_threshold", "StakeThreshold"),
];

fn hyper_value(v: &Value<u32>) -> HyperValue {
    if let Some(b) = v.as_bool() {
        return HyperValue::Bool(b);
    }
    if let Some(i) = v.as_i128()
        && i < 0
    {
        return HyperValue::Int(i);
    }
    match read::uint(v, "hyperparameter") {
        Ok(n) => HyperValue::Uint(n),
        Err(_) => HyperValue::Absent,
    }
}

impl Subtensor {
    /// Free balance of `account`, in rao.
    pub async fn balance(&self, account: &AccountId) -> Result<u64, SubtensorError> {
        let info = self
            .storage("System", "Account", &[account_value(account)])
            .await?
            .ok_or_else(|| SubtensorError::decode("System::Account", "absent"))?;
        let data = read::field(&info, "data", "System::Account")?;
        let free = read::uint_field(data, "free", "System::Account.data")?;
        u64::try_from(free).map_err(|_| SubtensorError::decode("balance", "above u64"))
    }

    /// Moves `rao` from `signer` to `dest`, keeping the sender above the existential deposit.
    pub async fn transfer(
        &self,
        signer: &Sr25519Pair,
        dest: &AccountId,
        rao: u64,
    ) -> Result<Included, SubtensorError> {
        let call = Call::new(
            "Balances",
            "transfer_keep_alive",
            vec![
                ("dest", Value::unnamed_variant("Id", [account_value(dest)])),
                ("value", Value::u128(rao.into())),
            ],
        );
        self.submit(signer, &call).await
    }

    /// The netuids that exist, ascending.
    pub async fn subnets(&self) -> Result<Vec<u16>, SubtensorError> {
        let entries = self.storage_entries(MODULE, "NetworksAdded", &[]).await?;
        let mut out = Vec::with_capacity(entries.len());
        for (key, added) in entries {
            if added.as_bool() != Some(true) {
                continue;
            }
            // Identity-hashed u16 (or a `NetUid(u16)`): the key's last two bytes.
            let n = key
                .len()
                .checked_sub(2)
                .map(|i| u16::from_le_bytes([key[i], key[i + 1]]))
                .ok_or_else(|| SubtensorError::decode("NetworksAdded key", "too short"))?;
            out.push(n);
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Every subnet's size, tempo, owner and the alpha staked outside its pool, in one batched
    /// read per item (a list of a hundred subnets is five requests, not thousands).
    pub async fn subnet_summaries(&self) -> Result<Vec<SubnetSummary>, SubtensorError> {
        let netuids = self.subnets().await?;
        let keys: Vec<Vec<Value>> = netuids.iter().map(|n| vec![netuid_value(*n)]).collect();
        let column = |entry: &'static str| {
            let keys = &keys;
            async move {
                match self.storage_many(MODULE, entry, keys).await {
                    Ok(v) => Ok(v),
                    // An item this runtime lacks reads as absent.
                    Err(SubtensorError::Missing { .. }) => Ok(vec![None; keys.len()]),
                    Err(e) => Err(e),
                }
            }
        };
        let (sizes, tempos) = (column("SubnetworkN").await?, column("Tempo").await?);
        let (owners, stakes) = (
            column("SubnetOwner").await?,
            column("SubnetAlphaOut").await?,
        );
        let uint = |v: &Option<Value<u32>>, what: &str| -> Result<u128, SubtensorError> {
            v.as_ref().map_or(Ok(0), |v| read::uint(v, what))
        };
        netuids
            .iter()
            .enumerate()
            .map(|(i, &netuid)| {
                let owner_coldkey = match owners.get(i).and_then(Option::as_ref) {
                    Some(v) => Some(AccountId(read::account(v, "SubnetOwner")?)),
                    None => None,
                };
                Ok(SubnetSummary {
                    netuid,
                    n: narrow(uint(&sizes[i], "SubnetworkN")?, "SubnetworkN")?,
                    tempo: narrow(uint(&tempos[i], "Tempo")?, "Tempo")?,
                    owner_coldkey,
                    total_stake: narrow(uint(&stakes[i], "SubnetAlphaOut")?, "SubnetAlphaOut")?,
                })
            })
            .collect()
    }

    async fn subnet_item(
        &self,
        entry: &str,
        netuid: u16,
    ) -> Result<Option<Value<u32>>, SubtensorError> {
        let (_, e) = self.metadata().storage(MODULE, entry)?;
        let keys = if e.hashers.is_empty() {
            vec![]
        } else {
            vec![netuid_value(netuid)]
        };
        self.storage(MODULE, entry, &keys).await
    }

    pub async fn subnet_exists(&self, netuid: u16) -> Result<bool, SubtensorError> {
        let v = self.subnet_item("NetworksAdded", netuid).await?;
        Ok(v.and_then(|v| v.as_bool()).unwrap_or(false))
    }

    /// Number of uids on `netuid`.
    pub async fn subnet_n(&self, netuid: u16) -> Result<u16, SubtensorError> {
        let v = self.subnet_item("SubnetworkN", netuid).await?;
        let n = v
            .map(|v| read::uint(&v, "SubnetworkN"))
            .transpose()?
            .unwrap_or(0);
        u16::try_from(n).map_err(|_| SubtensorError::decode("SubnetworkN", "above u16"))
    }

    /// The subnet's hyperparameters by the SDK's names; those this runtime lacks are `Absent`.
    pub async fn hyperparams(
        &self,
        netuid: u16,
    ) -> Result<Vec<(&'static str, HyperValue)>, SubtensorError> {
        if !self.subnet_exists(netuid).await? {
            return Err(SubtensorError::NoSubnet(netuid));
        }
        // One batched read of every item this runtime has; the others are absent.
        let key = [netuid_value(netuid)];
        let mut present = Vec::new();
        for (name, entry) in HYPERPARAMS {
            match self.metadata().storage(MODULE, entry) {
                Ok((_, e)) => {
                    let keys: &[Value] = if e.hashers.is_empty() { &[] } else { &key };
                    present.push((*name, (MODULE, *entry, keys)));
                }
                Err(SubtensorError::Missing { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let reads: Vec<_> = present.iter().map(|(_, item)| *item).collect();
        let values = self.storage_items(&reads).await?;
        let mut out = Vec::with_capacity(HYPERPARAMS.len() + 2);
        for (name, _) in HYPERPARAMS {
            let value = present
                .iter()
                .position(|(n, _)| n == name)
                .and_then(|i| values.get(i).cloned().flatten())
                .map_or(HyperValue::Absent, |v| hyper_value(&v));
            out.push((*name, value));
        }
        let (low, high) = match self.metadata().storage(MODULE, "AlphaValues") {
            Ok(_) => match self.subnet_item("AlphaValues", netuid).await? {
                Some(v) => {
                    let items = read::items(&v, "AlphaValues")?;
                    let get =
                        |i: usize| items.get(i).map_or(HyperValue::Absent, |v| hyper_value(v));
                    (get(0), get(1))
                }
                None => (HyperValue::Absent, HyperValue::Absent),
            },
            Err(_) => (HyperValue::Absent, HyperValue::Absent),
        };
        out.push(("alpha_low", low));
        out.push(("alpha_high", high));
        Ok(out)
    }

    /// The metagraph of `netuid`; weights and bonds only when `with_weights`.
    pub async fn metagraph(
        &self,
        netuid: u16,
        with_weights: bool,
    ) -> Result<SubnetMetagraph, SubtensorError> {
        if !self.subnet_exists(netuid).await? {
            return Err(SubtensorError::NoSubnet(netuid));
        }
        let (block, _) = self.head().await?;
        let n = self.subnet_n(netuid).await?;
        let key = [netuid_value(netuid)];
        let mut hotkeys = vec![AccountId([0; 32]); usize::from(n)];
        for (rest, hotkey) in self.storage_entries(MODULE, "Keys", &key).await? {
            let uid = uid_from_key(&rest)?;
            if let Some(slot) = hotkeys.get_mut(usize::from(uid)) {
                *slot = AccountId(read::account(&hotkey, "Keys")?);
            }
        }
        let owner_keys: Vec<Vec<Value>> = hotkeys.iter().map(|h| vec![account_value(h)]).collect();
        let coldkeys = self.storage_many(MODULE, "Owner", &owner_keys).await?;
        let stake_keys: Vec<Vec<Value>> = hotkeys
            .iter()
            .map(|h| vec![account_value(h), netuid_value(netuid)])
            .collect();
        let stakes = self
            .storage_many(MODULE, "TotalHotkeyAlpha", &stake_keys)
            .await?;
        let [
            rank,
            trust,
            consensus,
            incentive,
            dividends,
            emission,
            validator_trust,
            permit,
            active,
            last_update,
        ] = self
            .columns(
                [
                    "Rank",
                    "Trust",
                    "Consensus",
                    "Incentive",
                    "Dividends",
                    "Emission",
                    "ValidatorTrust",
                    "ValidatorPermit",
                    "Active",
                    "LastUpdate",
                ],
                netuid,
            )
            .await?;
        let mut registered = vec![0u64; usize::from(n)];
        for (rest, b) in self
            .storage_entries(MODULE, "BlockAtRegistration", &key)
            .await?
        {
            if let Some(slot) = registered.get_mut(usize::from(uid_from_key(&rest)?)) {
                *slot = narrow(
                    read::uint(&b, "BlockAtRegistration")?,
                    "BlockAtRegistration",
                )?;
            }
        }
        let mut axons = std::collections::HashMap::new();
        for (rest, info) in self.storage_entries(MODULE, "Axons", &key).await? {
            // Blake2_128Concat(hotkey): the hotkey is the last 32 bytes.
            let Some(at) = rest.len().checked_sub(32) else {
                continue;
            };
            let mut hk = [0u8; 32];
            hk.copy_from_slice(&rest[at..]);
            axons.insert(hk, axon_row(&info)?);
        }
        let (mut weights, mut bonds) = (
            vec![Vec::new(); usize::from(n)],
            vec![Vec::new(); usize::from(n)],
        );
        if with_weights {
            for (name, rows) in [("Weights", &mut weights), ("Bonds", &mut bonds)] {
                for (rest, row) in self.storage_entries(MODULE, name, &key).await? {
                    if let Some(slot) = rows.get_mut(usize::from(uid_from_key(&rest)?)) {
                        *slot = pairs(&row, name)?;
                    }
                }
            }
        }
        let identities = self.tensor_identities(netuid, &hotkeys).await?;
        for (hotkey, id) in hotkeys.iter().zip(identities) {
            if let Some(Some(axon)) = axons.get_mut(&hotkey.0) {
                axon.identity = id;
            }
        }
        let owner_coldkey = match self.subnet_item("SubnetOwner", netuid).await {
            Ok(Some(v)) => Some(AccountId(read::account(&v, "SubnetOwner")?)),
            Ok(None) | Err(SubtensorError::Missing { .. }) => None,
            Err(e) => return Err(e),
        };
        fn at<T: TryFrom<u128>>(col: &[u128], i: usize, what: &str) -> Result<T, SubtensorError> {
            narrow(col.get(i).copied().unwrap_or(0), what)
        }
        let mut neurons = Vec::with_capacity(usize::from(n));
        for (uid, hotkey) in (0..n).zip(hotkeys.iter()) {
            let i = usize::from(uid);
            let coldkey = match coldkeys.get(i).and_then(|c| c.as_ref()) {
                Some(v) => AccountId(read::account(v, "Owner")?),
                None => AccountId([0; 32]),
            };
            let stake = match stakes.get(i).and_then(|s| s.as_ref()) {
                Some(v) => narrow(read::uint(v, "TotalHotkeyAlpha")?, "TotalHotkeyAlpha")?,
                None => 0,
            };
            neurons.push(NeuronRow {
                uid,
                hotkey: *hotkey,
                coldkey,
                stake,
                rank: at(&rank, i, "Rank")?,
                trust: at(&trust, i, "Trust")?,
                consensus: at(&consensus, i, "Consensus")?,
                incentive: at(&incentive, i, "Incentive")?,
                dividends: at(&dividends, i, "Dividends")?,
                emission: at(&emission, i, "Emission")?,
                validator_trust: at(&validator_trust, i, "ValidatorTrust")?,
                validator_permit: at::<u128>(&permit, i, "ValidatorPermit")? != 0,
                active: at::<u128>(&active, i, "Active")? != 0,
                last_update: at(&last_update, i, "LastUpdate")?,
                block_at_registration: registered[i],
                axon: axons.get(&hotkey.0).cloned().flatten(),
                weights: std::mem::take(&mut weights[i]),
                bonds: std::mem::take(&mut bonds[i]),
            });
        }
        Ok(SubnetMetagraph {
            netuid,
            block,
            owner_coldkey,
            neurons,
        })
    }

    /// A per-uid vector (`Rank`, `ValidatorPermit`, …) as numbers (bools as 0/1).
    /// Per-uid vectors stored under `netuid`, read in one batch; an item this runtime lacks
    /// (newer runtimes drop some) is an empty column, read as zeros.
    async fn columns<const N: usize>(
        &self,
        entries: [&'static str; N],
        netuid: u16,
    ) -> Result<[Vec<u128>; N], SubtensorError> {
        let key = [netuid_value(netuid)];
        let present: Vec<&'static str> = entries
            .iter()
            .copied()
            .filter(|e| self.metadata().storage(MODULE, e).is_ok())
            .collect();
        let reads: Vec<(&str, &str, &[Value])> =
            present.iter().map(|e| (MODULE, *e, &key[..])).collect();
        let values = self.storage_items(&reads).await?;
        let mut out: [Vec<u128>; N] = std::array::from_fn(|_| Vec::new());
        for (entry, value) in present.iter().zip(values) {
            let (Some(slot), Some(v)) = (entries.iter().position(|e| e == entry), value) else {
                continue;
            };
            out[slot] = read::items(&v, entry)?
                .into_iter()
                .map(|x| match x.as_bool() {
                    Some(b) => Ok(u128::from(b)),
                    None => read::uint(x, entry),
                })
                .collect::<Result<_, _>>()?;
        }
        Ok(out)
    }

    /// Registers `hotkey` on `netuid`, paying the burn from `coldkey`.
    pub async fn burned_register(
        &self,
        coldkey: &Sr25519Pair,
        netuid: u16,
        hotkey: &AccountId,
    ) -> Result<Included, SubtensorError> {
        let call = Call::new(
            MODULE,
            "burned_register",
            vec![
                ("netuid", netuid_value(netuid)),
                ("hotkey", account_value(hotkey)),
            ],
        );
        self.submit(coldkey, &call).await
    }

    /// Creates a subnet owned by `coldkey`, with `hotkey` as its owner hotkey.
    pub async fn register_network(
        &self,
        coldkey: &Sr25519Pair,
        hotkey: &AccountId,
    ) -> Result<Included, SubtensorError> {
        let mut args = vec![("hotkey", account_value(hotkey))];
        // Runtimes of early 2025 also take a mechanism id; 1 is the dynamic (dTAO) one.
        if self.call_has_field(MODULE, "register_network", "mechid")? {
            args.push(("mechid", Value::u128(1)));
        }
        let call = Call::new(MODULE, "register_network", args);
        self.submit(coldkey, &call).await
    }

    /// Publishes the axon of `hotkey` (the signer) on `netuid`.
    pub async fn serve_axon(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        ip: IpAddr,
        port: u16,
        protocol: u8,
        version: u32,
    ) -> Result<Included, SubtensorError> {
        let (ip_value, ip_type) = match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 4u8),
            IpAddr::V6(v6) => (u128::from(v6), 6u8),
        };
        let call = Call::new(
            MODULE,
            "serve_axon",
            vec![
                ("netuid", netuid_value(netuid)),
                ("version", Value::u128(version.into())),
                ("ip", Value::u128(ip_value)),
                ("port", Value::u128(port.into())),
                ("ip_type", Value::u128(ip_type.into())),
                ("protocol", Value::u128(protocol.into())),
                ("placeholder1", Value::u128(0)),
                ("placeholder2", Value::u128(0)),
            ],
        );
        self.submit(hotkey, &call).await
    }

    /// Stakes `rao` from `coldkey` to `hotkey` on `netuid`.
    pub async fn add_stake(
        &self,
        coldkey: &Sr25519Pair,
        hotkey: &AccountId,
        netuid: u16,
        rao: u64,
    ) -> Result<Included, SubtensorError> {
        let call = Call::new(
            MODULE,
            "add_stake",
            vec![
                ("hotkey", account_value(hotkey)),
                ("netuid", netuid_value(netuid)),
                ("amount_staked", Value::u128(rao.into())),
            ],
        );
        self.submit(coldkey, &call).await
    }

    /// Unstakes `amount` (alpha, in rao) of `hotkey` on `netuid` back to `coldkey`.
    pub async fn remove_stake(
        &self,
        coldkey: &Sr25519Pair,
        hotkey: &AccountId,
        netuid: u16,
        amount: u64,
    ) -> Result<Included, SubtensorError> {
        let call = Call::new(
            MODULE,
            "remove_stake",
            vec![
                ("hotkey", account_value(hotkey)),
                ("netuid", netuid_value(netuid)),
                ("amount_unstaked", Value::u128(amount.into())),
            ],
        );
        self.submit(coldkey, &call).await
    }

    /// The stake `coldkey` holds in `hotkey` on `netuid` (alpha, rao).
    pub async fn stake(
        &self,
        coldkey: &AccountId,
        hotkey: &AccountId,
        netuid: u16,
    ) -> Result<u64, SubtensorError> {
        let v = self
            .storage(
                MODULE,
                "Alpha",
                &[
                    account_value(hotkey),
                    account_value(coldkey),
                    netuid_value(netuid),
                ],
            )
            .await?;
        let shares = v.map(|v| read::uint(&v, "Alpha")).transpose()?.unwrap_or(0);
        u64::try_from(shares).map_err(|_| SubtensorError::decode("Alpha", "above u64"))
    }

    /// Sets the signer's weights on `netuid` (uids and u16-normalised weights).
    pub async fn set_weights(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        uids: &[u16],
        weights: &[u16],
        version_key: u64,
    ) -> Result<Included, SubtensorError> {
        let call = Call::new(
            MODULE,
            "set_weights",
            vec![
                ("netuid", netuid_value(netuid)),
                ("dests", u16s(uids)),
                ("weights", u16s(weights)),
                ("version_key", Value::u128(version_key.into())),
            ],
        );
        self.submit(hotkey, &call).await
    }

    /// Commits to weights to be revealed later with the same `salt` (commit-reveal subnets).
    pub async fn commit_weights(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        uids: &[u16],
        weights: &[u16],
        salt: &[u16],
        version_key: u64,
    ) -> Result<Included, SubtensorError> {
        let hash = commit_hash(&hotkey.account(), netuid, uids, weights, salt, version_key);
        let call = Call::new(
            MODULE,
            "commit_weights",
            vec![
                ("netuid", netuid_value(netuid)),
                ("commit_hash", Value::from_bytes(hash)),
            ],
        );
        self.submit(hotkey, &call).await
    }

    pub async fn reveal_weights(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        uids: &[u16],
        weights: &[u16],
        salt: &[u16],
        version_key: u64,
    ) -> Result<Included, SubtensorError> {
        let call = Call::new(
            MODULE,
            "reveal_weights",
            vec![
                ("netuid", netuid_value(netuid)),
                ("uids", u16s(uids)),
                ("values", u16s(weights)),
                ("salt", u16s(salt)),
                ("version_key", Value::u128(version_key.into())),
            ],
        );
        self.submit(hotkey, &call).await
    }

    /// Each hotkey's tensor identity, published as its commitment on `netuid` (one `Raw128`
    /// field); `None` where there is none or it is something else. A runtime without the
    /// Commitments pallet has none.
    async fn tensor_identities(
        &self,
        netuid: u16,
        hotkeys: &[AccountId],
    ) -> Result<Vec<Option<TensorIdentity>>, SubtensorError> {
        let keys: Vec<Vec<Value>> = hotkeys
            .iter()
            .map(|h| vec![netuid_value(netuid), account_value(h)])
            .collect();
        let values = match self
            .storage_many("Commitments", "CommitmentOf", &keys)
            .await
        {
            Ok(v) => v,
            Err(SubtensorError::Missing { .. }) => return Ok(vec![None; hotkeys.len()]),
            Err(e) => return Err(e),
        };
        Ok(values
            .iter()
            .map(|v| v.as_ref().and_then(identity_of_commitment))
            .collect())
    }

    /// Publishes `identity` as the hotkey's commitment on `netuid`, unless it is already there
    /// (the pallet rate-limits commitments, so a restart must not resend it).
    pub async fn commit_tensor_identity(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        identity: &TensorIdentity,
    ) -> Result<Option<Included>, SubtensorError> {
        let me = hotkey.account();
        let current = self.tensor_identities(netuid, &[me]).await?;
        if current.first().and_then(Option::as_ref) == Some(identity) {
            return Ok(None);
        }
        let bytes = identity.to_bytes();
        let field = Value::unnamed_variant("Raw128", [Value::from_bytes(bytes)]);
        let info = Value::named_composite([("fields", Value::unnamed_composite([field]))]);
        let call = Call::new(
            "Commitments",
            "set_commitment",
            vec![("netuid", netuid_value(netuid)), ("info", info)],
        );
        self.submit(hotkey, &call).await.map(Some)
    }

    fn call_has_field(
        &self,
        pallet: &str,
        call: &str,
        field: &str,
    ) -> Result<bool, SubtensorError> {
        let meta = self.metadata();
        let ty = meta
            .pallet(pallet)?
            .calls_ty
            .ok_or_else(|| meta.missing("call", format!("{pallet}::{call}")))?;
        let v = meta
            .variants(ty)?
            .iter()
            .find(|v| v.name == call)
            .ok_or_else(|| meta.missing("call", format!("{pallet}::{call}")))?;
        Ok(v.fields.iter().any(|f| f.name.as_deref() == Some(field)))
    }
}

/// The hash a weights commit binds: blake2-256 of the SCALE tuple
/// (hotkey, netuid, uids, values, salt, version_key), as subtensor checks it on reveal.
pub fn commit_hash(
    hotkey: &AccountId,
    netuid: u16,
    uids: &[u16],
    values: &[u16],
    salt: &[u16],
    version_key: u64,
) -> [u8; 32] {
    use parity_scale_codec::Encode;
    let encoded = (hotkey.0, netuid, uids, values, salt, version_key).encode();
    crate::codec::blake2_256(&encoded)
}

/// The uid at the end of an `Identity`-hashed (netuid, uid) key's remainder.
fn uid_from_key(rest: &[u8]) -> Result<u16, SubtensorError> {
    match rest {
        [.., a, b] => Ok(u16::from_le_bytes([*a, *b])),
        _ => Err(SubtensorError::decode("storage key", "no uid in the key")),
    }
}

fn pairs(row: &Value<u32>, what: &str) -> Result<Vec<(u16, u16)>, SubtensorError> {
    read::items(row, what)?
        .into_iter()
        .map(|p| {
            let items = read::items(p, what)?;
            match items.as_slice() {
                [a, b] => Ok((
                    narrow(read::uint(a, what)?, what)?,
                    narrow(read::uint(b, what)?, what)?,
                )),
                _ => Err(SubtensorError::decode(what, "expected (uid, value) pairs")),
            }
        })
        .collect()
}

fn axon_row(info: &Value<u32>) -> Result<Option<AxonRow>, SubtensorError> {
    let what = "AxonInfo";
    let ip_type = read::uint_field(info, "ip_type", what)?;
    let ip = read::uint_field(info, "ip", what)?;
    let ip = match ip_type {
        4 => IpAddr::from(
            u32::try_from(ip)
                .map_err(|_| SubtensorError::decode(what, "IPv4 above 32 bits"))?
                .to_be_bytes(),
        ),
        6 => IpAddr::from(ip.to_be_bytes()),
        _ => return Ok(None),
    };
    Ok(Some(AxonRow {
        ip,
        port: narrow(read::uint_field(info, "port", what)?, what)?,
        version: narrow(read::uint_field(info, "version", what)?, what)?,
        protocol: narrow(read::uint_field(info, "protocol", what)?, what)?,
        block: narrow(read::uint_field(info, "block", what)?, what)?,
        identity: None,
    }))
}

/// A stored number into the width its type promises; a node claiming more is refused.
fn narrow<T: TryFrom<u128>>(v: u128, what: &str) -> Result<T, SubtensorError> {
    T::try_from(v).map_err(|_| SubtensorError::decode(what, format!("{v} is out of range")))
}

/// A `Registration { info: { fields: [Raw128(bytes)] } }` as a tensor identity.
fn identity_of_commitment(v: &Value<u32>) -> Option<TensorIdentity> {
    let info = read::field(v, "info", "CommitmentOf").ok()?;
    // `fields` is a BoundedVec: a one-field composite around the sequence.
    let mut fields = read::field(info, "fields", "CommitmentOf").ok()?;
    let first = loop {
        let items = read::items(fields, "fields").ok()?;
        match items.as_slice() {
            [one] if matches!(one.value, scale_value::ValueDef::Composite(_)) => fields = one,
            _ => break *items.first()?,
        }
    };
    let (name, values) = read::variant(first, "Data").ok()?;
    if name != "Raw128" {
        return None;
    }
    let raw = read::bytes(values.values().next()?, "Raw128").ok()?;
    TensorIdentity::from_bytes(&raw)
}
