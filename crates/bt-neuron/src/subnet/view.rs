//! [`SubnetView`]: a subnet as the runtime sees it, from any chain. The chain's rows
//! (`bt_interfaces::SubnetMetagraph`, read with weights), the subnet's hyperparameters, and for
//! each uid the axon a tensor peer can be called at: only one whose Release-1 identity was
//! signed by its neuron key for this hotkey and netuid. On subtensor that identity is an
//! unchecked commitment, so the check is ours; a peer we cannot address by key is not one the
//! tensor protocol can call.

use std::net::IpAddr;

use bt_chain::{AccountId, AxonIdentity};
use bt_interfaces::{Hyperparams, NeuronRow, SubnetMetagraph};

/// A uid's served axon with its verified identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub ip: IpAddr,
    pub port: u16,
    pub version: u32,
    /// The block it was served at.
    pub block: u64,
    pub identity: AxonIdentity,
}

/// One refresh of a subnet.
#[derive(Debug, Clone)]
pub struct SubnetView {
    pub netuid: u16,
    pub block: u64,
    pub hparams: Hyperparams,
    /// By uid, in uid order.
    pub neurons: Vec<NeuronRow>,
    /// By uid: the verified peer behind each axon, if any.
    pub peers: Vec<Option<Peer>>,
}

impl SubnetView {
    pub fn new(mg: SubnetMetagraph, hparams: Hyperparams) -> Self {
        let peers = mg
            .neurons
            .iter()
            .map(|n| {
                let a = n.axon.as_ref()?;
                let id = a.identity.as_ref()?;
                let identity = AxonIdentity {
                    neuron_key: id.neuron_key,
                    synapse_key: id.synapse_key,
                    signature: id.signature,
                };
                identity.verify(&AccountId(n.hotkey.0), mg.netuid).ok()?;
                Some(Peer {
                    ip: a.ip,
                    port: a.port,
                    version: a.version,
                    block: a.block,
                    identity,
                })
            })
            .collect();
        Self {
            netuid: mg.netuid,
            block: mg.block,
            hparams,
            neurons: mg.neurons,
            peers,
        }
    }

    /// Registered uids.
    pub fn n(&self) -> u16 {
        u16::try_from(self.neurons.len()).unwrap_or(u16::MAX)
    }

    pub fn uid_of(&self, hotkey: &AccountId) -> Option<u16> {
        self.neurons
            .iter()
            .find(|n| n.hotkey.0 == hotkey.0)
            .map(|n| n.uid)
    }

    pub fn hotkey(&self, uid: u16) -> Option<AccountId> {
        self.neurons
            .get(usize::from(uid))
            .map(|n| AccountId(n.hotkey.0))
    }

    pub fn neuron(&self, uid: u16) -> Option<&NeuronRow> {
        self.neurons.get(usize::from(uid))
    }

    pub fn peer(&self, uid: u16) -> Option<&Peer> {
        self.peers.get(usize::from(uid)).and_then(Option::as_ref)
    }
}
