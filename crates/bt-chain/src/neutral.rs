//! The embedded chain as the chain-neutral [`Chain`] of `bt-interfaces`: the same calls as
//! [`NodeClientExt`], signed by a wallet's key pair, with this node's metagraph and errors in
//! the shared types. Stake here is per hotkey, not per subnet (the embedded chain has no
//! subnet pools), so `netuid` only selects the subnet where a call needs one.

use async_trait::async_trait;
use bt_crypto::wallet::{AccountId as WalletAccount, Sr25519Pair};
use bt_interfaces::chain::{
    AxonRow, AxonServe, Chain, ChainError as Neutral, Included, NeuronRow, SubnetHyperparams,
    SubnetMetagraph, TensorIdentity, WeightsCommit, new_subnet_of,
};

use crate::axon::AxonIdentity;
use crate::client::{NodeClient, RpcChain, ok};
use crate::error::ChainError;
use crate::keys::AccountId;
use crate::metagraph::Metagraph;
use crate::tx::{Call, SignedTx, commit_hash};

fn ours(a: &WalletAccount) -> AccountId {
    AccountId(a.0)
}

fn theirs(a: &AccountId) -> WalletAccount {
    WalletAccount(a.0)
}

impl RpcChain {
    fn neutral(&self, call: &str, e: ChainError) -> Neutral {
        let endpoint = self.endpoint.clone();
        match e {
            ChainError::SubnetNotFound(n) => Neutral::NoSubnet(n),
            ChainError::NotRegistered { netuid, hotkey } => Neutral::NotRegistered {
                hotkey: hotkey.to_ss58(),
                netuid,
            },
            ChainError::Timeout { .. } => Neutral::Timeout {
                endpoint,
                what: call.to_string(),
                source: Box::new(e),
            },
            ChainError::Rpc { .. } | ChainError::ShuttingDown | ChainError::Io { .. } => {
                Neutral::Unavailable {
                    endpoint,
                    source: Box::new(e),
                }
            }
            ChainError::Decode(_) => Neutral::Invalid {
                what: call.to_string(),
                source: Box::new(e),
            },
            ChainError::TxFailed { ref reason, .. } => Neutral::Rejected {
                call: call.to_string(),
                reason: reason.clone(),
                source: Some(Box::new(e)),
            },
            ChainError::Remote { ref message, .. } => Neutral::Rejected {
                call: call.to_string(),
                reason: message.clone(),
                source: Some(Box::new(e)),
            },
            other => Neutral::Rejected {
                call: call.to_string(),
                reason: other.to_string(),
                source: Some(Box::new(other)),
            },
        }
    }

    /// Signs `call` with `pair` for this chain, submits it and waits for its receipt.
    async fn signed(
        &self,
        what: &str,
        pair: &Sr25519Pair,
        call: Call,
    ) -> Result<Included, Neutral> {
        let run = async {
            let genesis = self.genesis_hash().await?;
            let nonce = self.nonce(&ours(&pair.account())).await?;
            ok(self
                .submit(&SignedTx::sign_with(pair, nonce, call, &genesis))
                .await?)
        };
        let receipt = run.await.map_err(|e| self.neutral(what, e))?;
        Ok(Included {
            block: receipt.block,
            fee: Some(receipt.fee),
        })
    }

    async fn uid_of(
        &self,
        what: &str,
        netuid: u16,
        hotkey: &WalletAccount,
    ) -> Result<u16, Neutral> {
        let mg = NodeClient::metagraph(self, netuid)
            .await
            .map_err(|e| self.neutral(what, e))?;
        mg.hotkeys
            .iter()
            .position(|h| h.0 == hotkey.0)
            .and_then(|i| mg.uids.get(i).copied())
            .ok_or_else(|| Neutral::NotRegistered {
                hotkey: hotkey.to_ss58(),
                netuid,
            })
    }
}

/// This node's column-wise metagraph as rows.
pub fn subnet_metagraph(mg: &Metagraph, with_weights: bool) -> SubnetMetagraph {
    let neurons = (0..mg.uids.len())
        .map(|i| {
            let col = |v: &Vec<u16>| v.get(i).copied().unwrap_or(0);
            NeuronRow {
                uid: mg.uids[i],
                hotkey: mg
                    .hotkeys
                    .get(i)
                    .map(theirs)
                    .unwrap_or(WalletAccount([0; 32])),
                coldkey: mg
                    .coldkeys
                    .get(i)
                    .map(theirs)
                    .unwrap_or(WalletAccount([0; 32])),
                stake: mg.stake.get(i).copied().unwrap_or(0),
                rank: col(&mg.rank),
                trust: col(&mg.trust),
                consensus: col(&mg.consensus),
                incentive: col(&mg.incentive),
                dividends: col(&mg.dividends),
                emission: mg.emission.get(i).copied().unwrap_or(0),
                validator_trust: col(&mg.validator_trust),
                validator_permit: mg.validator_permit.get(i).copied().unwrap_or(false),
                active: mg.active.get(i).copied().unwrap_or(false),
                last_update: mg.last_update.get(i).copied().unwrap_or(0),
                block_at_registration: mg.block_at_registration.get(i).copied().unwrap_or(0),
                axon: mg.axons.get(i).and_then(Option::as_ref).map(|a| AxonRow {
                    ip: a.ip_addr(),
                    port: a.port,
                    version: a.version,
                    protocol: a.protocol,
                    block: a.block,
                    identity: Some(TensorIdentity {
                        neuron_key: a.identity.neuron_key,
                        synapse_key: a.identity.synapse_key,
                        signature: a.identity.signature,
                    }),
                }),
                weights: if with_weights {
                    mg.weights.get(i).cloned().unwrap_or_default()
                } else {
                    Vec::new()
                },
                bonds: if with_weights {
                    mg.bonds.get(i).cloned().unwrap_or_default()
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    SubnetMetagraph {
        netuid: mg.netuid,
        block: mg.block,
        owner_coldkey: Some(theirs(&mg.owner_coldkey)),
        neurons,
    }
}

/// The salt as the embedded chain hashes it (little-endian bytes of the u16s).
fn salt_bytes(salt: &[u16]) -> Vec<u8> {
    salt.iter().flat_map(|s| s.to_le_bytes()).collect()
}

#[async_trait]
impl Chain for RpcChain {
    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn head(&self) -> Result<u64, Neutral> {
        let head = self
            .block(None)
            .await
            .map_err(|e| self.neutral("head", e))?;
        Ok(head.map(|h| h.number).unwrap_or(0))
    }

    async fn subnets(&self) -> Result<Vec<u16>, Neutral> {
        NodeClient::subnets(self)
            .await
            .map_err(|e| self.neutral("subnets", e))
    }

    async fn metagraph(&self, netuid: u16, with_weights: bool) -> Result<SubnetMetagraph, Neutral> {
        let mg = NodeClient::metagraph(self, netuid)
            .await
            .map_err(|e| self.neutral("metagraph", e))?;
        Ok(subnet_metagraph(&mg, with_weights))
    }

    async fn hyperparams(&self, netuid: u16) -> Result<SubnetHyperparams, Neutral> {
        let values = NodeClient::hyperparams(self, netuid)
            .await
            .map_err(|e| self.neutral("hyperparams", e))?;
        Ok(SubnetHyperparams {
            values,
            absent: Vec::new(),
        })
    }

    async fn balance(&self, account: &WalletAccount) -> Result<u64, Neutral> {
        NodeClient::balance(self, &ours(account))
            .await
            .map_err(|e| self.neutral("balance", e))
    }

    async fn stake(
        &self,
        coldkey: &WalletAccount,
        hotkey: &WalletAccount,
        _netuid: u16,
    ) -> Result<u64, Neutral> {
        NodeClient::stake(self, &ours(coldkey), &ours(hotkey))
            .await
            .map_err(|e| self.neutral("stake", e))
    }

    async fn transfer(
        &self,
        from: &Sr25519Pair,
        dest: &WalletAccount,
        rao: u64,
    ) -> Result<Included, Neutral> {
        let call = Call::Transfer {
            dest: ours(dest),
            amount: rao,
        };
        self.signed("transfer", from, call).await
    }

    async fn register_network(
        &self,
        coldkey: &Sr25519Pair,
        hotkey: &WalletAccount,
    ) -> Result<u16, Neutral> {
        let before = Chain::subnets(self).await?;
        self.signed(
            "register_network",
            coldkey,
            Call::CreateSubnet {
                owner_hotkey: ours(hotkey),
            },
        )
        .await?;
        new_subnet_of(self, &before, &coldkey.account()).await
    }

    async fn burned_register(
        &self,
        coldkey: &Sr25519Pair,
        netuid: u16,
        hotkey: &WalletAccount,
    ) -> Result<u16, Neutral> {
        let call = Call::BurnedRegister {
            netuid,
            hotkey: ours(hotkey),
        };
        self.signed("burned_register", coldkey, call).await?;
        self.uid_of("burned_register", netuid, hotkey).await
    }

    async fn serve_axon(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        axon: &AxonServe,
    ) -> Result<Included, Neutral> {
        let Some(id) = &axon.identity else {
            return Err(Neutral::Unsupported {
                what: "an axon without its tensor identity (the embedded chain records the \
                       Release-1 Ed25519 keys beside the address)"
                    .into(),
                source: None,
            });
        };
        let (ip, ip_type) = match axon.ip {
            std::net::IpAddr::V4(v4) => (u128::from(u32::from(v4)), 4),
            std::net::IpAddr::V6(v6) => (u128::from(v6), 6),
        };
        let call = Call::ServeAxon {
            netuid,
            version: axon.version,
            ip,
            port: axon.port,
            ip_type,
            protocol: axon.protocol,
            identity: AxonIdentity {
                neuron_key: id.neuron_key,
                synapse_key: id.synapse_key,
                signature: id.signature,
            },
        };
        self.signed("serve_axon", hotkey, call).await
    }

    async fn add_stake(
        &self,
        coldkey: &Sr25519Pair,
        hotkey: &WalletAccount,
        _netuid: u16,
        rao: u64,
    ) -> Result<Included, Neutral> {
        let call = Call::AddStake {
            hotkey: ours(hotkey),
            amount: rao,
        };
        self.signed("add_stake", coldkey, call).await
    }

    async fn remove_stake(
        &self,
        coldkey: &Sr25519Pair,
        hotkey: &WalletAccount,
        _netuid: u16,
        rao: u64,
    ) -> Result<Included, Neutral> {
        let call = Call::RemoveStake {
            hotkey: ours(hotkey),
            amount: rao,
        };
        self.signed("remove_stake", coldkey, call).await
    }

    async fn set_weights(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        uids: &[u16],
        values: &[u16],
        version_key: u64,
    ) -> Result<Included, Neutral> {
        let call = Call::SetWeights {
            netuid,
            uids: uids.to_vec(),
            values: values.to_vec(),
            version_key,
        };
        self.signed("set_weights", hotkey, call).await
    }

    async fn commit_weights(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        c: &WeightsCommit,
    ) -> Result<Included, Neutral> {
        let who = ours(&hotkey.account());
        let commit = commit_hash(
            &who,
            netuid,
            &c.uids,
            &c.values,
            &salt_bytes(&c.salt),
            c.version_key,
        );
        self.signed(
            "commit_weights",
            hotkey,
            Call::CommitWeights { netuid, commit },
        )
        .await
    }

    async fn reveal_weights(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        c: &WeightsCommit,
    ) -> Result<Included, Neutral> {
        let call = Call::RevealWeights {
            netuid,
            uids: c.uids.clone(),
            values: c.values.clone(),
            salt: salt_bytes(&c.salt),
            version_key: c.version_key,
        };
        self.signed("reveal_weights", hotkey, call).await
    }
}
