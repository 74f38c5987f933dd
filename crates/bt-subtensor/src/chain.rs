//! Subtensor as the chain-neutral [`Chain`]: the client's operations with its errors sorted into
//! the kinds a caller acts on, and the stored hyperparameters in the one `Hyperparams`.

use async_trait::async_trait;
use bt_crypto::wallet::{AccountId, Sr25519Pair};
use bt_interfaces::chain::{
    AxonServe, Chain, ChainError, Included as Receipt, SubnetHyperparams, SubnetMetagraph,
    SubnetSummary, WeightsCommit, new_subnet_of,
};

use crate::client::{Included, Subtensor};
use crate::error::SubtensorError;
use crate::hyperparams::to_hyperparams;

impl Subtensor {
    fn neutral(&self, call: &str, e: SubtensorError) -> ChainError {
        let endpoint = self.endpoint().to_string();
        match e {
            SubtensorError::NoSubnet(n) => ChainError::NoSubnet(n),
            SubtensorError::Timeout { .. } | SubtensorError::NotIncluded { .. } => {
                ChainError::Timeout {
                    endpoint,
                    what: call.to_string(),
                    source: Box::new(e),
                }
            }
            SubtensorError::Connect { .. }
            | SubtensorError::Transport { .. }
            | SubtensorError::BadEndpoint { .. } => ChainError::Unavailable {
                endpoint,
                source: Box::new(e),
            },
            SubtensorError::Dispatch { .. }
            | SubtensorError::DispatchOther(_)
            | SubtensorError::Refused(_) => ChainError::Rejected {
                call: call.to_string(),
                reason: e.to_string(),
                source: Some(Box::new(e)),
            },
            SubtensorError::Missing { .. } => ChainError::Unsupported {
                what: call.to_string(),
                source: Some(Box::new(e)),
            },
            SubtensorError::Rpc { .. }
            | SubtensorError::Decode { .. }
            | SubtensorError::Metadata(_)
            | SubtensorError::Encode { .. }
            | SubtensorError::Key(_) => ChainError::Invalid {
                what: call.to_string(),
                source: Box::new(e),
            },
        }
    }

    fn receipt(
        &self,
        call: &str,
        r: Result<Included, SubtensorError>,
    ) -> Result<Receipt, ChainError> {
        let included = r.map_err(|e| self.neutral(call, e))?;
        Ok(Receipt {
            block: included.block_number,
            fee: included.fee(),
        })
    }

    async fn uid_after(
        &self,
        call: &str,
        netuid: u16,
        hotkey: &AccountId,
    ) -> Result<u16, ChainError> {
        let mg = self
            .metagraph(netuid, false)
            .await
            .map_err(|e| self.neutral(call, e))?;
        mg.uid_of(hotkey).ok_or_else(|| ChainError::NotRegistered {
            hotkey: hotkey.to_ss58(),
            netuid,
        })
    }
}

#[async_trait]
impl Chain for Subtensor {
    fn endpoint(&self) -> &str {
        Subtensor::endpoint(self)
    }

    async fn head(&self) -> Result<u64, ChainError> {
        let (number, _) = Subtensor::head(self)
            .await
            .map_err(|e| self.neutral("head", e))?;
        Ok(number)
    }

    async fn subnets(&self) -> Result<Vec<u16>, ChainError> {
        Subtensor::subnets(self)
            .await
            .map_err(|e| self.neutral("subnets", e))
    }

    async fn metagraph(
        &self,
        netuid: u16,
        with_weights: bool,
    ) -> Result<SubnetMetagraph, ChainError> {
        Subtensor::metagraph(self, netuid, with_weights)
            .await
            .map_err(|e| self.neutral("metagraph", e))
    }

    async fn hyperparams(&self, netuid: u16) -> Result<SubnetHyperparams, ChainError> {
        let named = Subtensor::hyperparams(self, netuid)
            .await
            .map_err(|e| self.neutral("hyperparams", e))?;
        let (values, absent) =
            to_hyperparams(&named).map_err(|e| self.neutral("hyperparams", e))?;
        let mut absent: Vec<&'static str> = absent.into_iter().map(field_name).collect();
        // Subtensor adjusts its burn by its own rule; these two of ours have no counterpart.
        absent.extend(["burn_increase_ppm", "burn_decay_ppm"]);
        Ok(SubnetHyperparams { values, absent })
    }

    async fn subnet_summaries(&self) -> Result<Vec<SubnetSummary>, ChainError> {
        Subtensor::subnet_summaries(self)
            .await
            .map_err(|e| self.neutral("subnet_summaries", e))
    }

    async fn balance(&self, account: &AccountId) -> Result<u64, ChainError> {
        Subtensor::balance(self, account)
            .await
            .map_err(|e| self.neutral("balance", e))
    }

    async fn stake(
        &self,
        coldkey: &AccountId,
        hotkey: &AccountId,
        netuid: u16,
    ) -> Result<u64, ChainError> {
        Subtensor::stake(self, coldkey, hotkey, netuid)
            .await
            .map_err(|e| self.neutral("stake", e))
    }

    async fn transfer(
        &self,
        from: &Sr25519Pair,
        dest: &AccountId,
        rao: u64,
    ) -> Result<Receipt, ChainError> {
        self.receipt("transfer", Subtensor::transfer(self, from, dest, rao).await)
    }

    async fn register_network(
        &self,
        coldkey: &Sr25519Pair,
        hotkey: &AccountId,
    ) -> Result<u16, ChainError> {
        let before = Chain::subnets(self).await?;
        self.receipt(
            "register_network",
            Subtensor::register_network(self, coldkey, hotkey).await,
        )?;
        new_subnet_of(self, &before, &coldkey.account()).await
    }

    async fn burned_register(
        &self,
        coldkey: &Sr25519Pair,
        netuid: u16,
        hotkey: &AccountId,
    ) -> Result<u16, ChainError> {
        self.receipt(
            "burned_register",
            Subtensor::burned_register(self, coldkey, netuid, hotkey).await,
        )?;
        self.uid_after("burned_register", netuid, hotkey).await
    }

    async fn serve_axon(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        axon: &AxonServe,
    ) -> Result<Receipt, ChainError> {
        let r = Subtensor::serve_axon(
            self,
            hotkey,
            netuid,
            axon.ip,
            axon.port,
            axon.protocol,
            axon.version,
        )
        .await;
        let served = self.receipt("serve_axon", r)?;
        match &axon.identity {
            Some(id) => {
                let committed = self
                    .commit_tensor_identity(hotkey, netuid, id)
                    .await
                    .map_err(|e| self.neutral("set_commitment (tensor identity)", e))?;
                Ok(committed.map_or(served, |c| Receipt {
                    block: c.block_number,
                    fee: served.fee.zip(c.fee()).map(|(a, b)| a.saturating_add(b)),
                }))
            }
            None => Ok(served),
        }
    }

    async fn add_stake(
        &self,
        coldkey: &Sr25519Pair,
        hotkey: &AccountId,
        netuid: u16,
        rao: u64,
    ) -> Result<Receipt, ChainError> {
        self.receipt(
            "add_stake",
            Subtensor::add_stake(self, coldkey, hotkey, netuid, rao).await,
        )
    }

    async fn remove_stake(
        &self,
        coldkey: &Sr25519Pair,
        hotkey: &AccountId,
        netuid: u16,
        rao: u64,
    ) -> Result<Receipt, ChainError> {
        self.receipt(
            "remove_stake",
            Subtensor::remove_stake(self, coldkey, hotkey, netuid, rao).await,
        )
    }

    async fn set_weights(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        uids: &[u16],
        values: &[u16],
        version_key: u64,
    ) -> Result<Receipt, ChainError> {
        let r = Subtensor::set_weights(self, hotkey, netuid, uids, values, version_key).await;
        self.receipt("set_weights", r)
    }

    async fn commit_weights(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        c: &WeightsCommit,
    ) -> Result<Receipt, ChainError> {
        let r = Subtensor::commit_weights(
            self,
            hotkey,
            netuid,
            &c.uids,
            &c.values,
            &c.salt,
            c.version_key,
        )
        .await;
        self.receipt("commit_weights", r)
    }

    async fn reveal_weights(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        c: &WeightsCommit,
    ) -> Result<Receipt, ChainError> {
        let r = Subtensor::reveal_weights(
            self,
            hotkey,
            netuid,
            &c.uids,
            &c.values,
            &c.salt,
            c.version_key,
        )
        .await;
        self.receipt("reveal_weights", r)
    }
}

/// `Hyperparams`' field for an SDK hyperparameter name, where the two differ.
fn field_name(sdk: &'static str) -> &'static str {
    match sdk {
        "bonds_moving_avg" => "bonds_moving_average",
        "max_validators" => "max_allowed_validators",
        "weights_rate_limit" => "weights_set_rate_limit",
        other => other,
    }
}
