//! What miners and validators share: join the subnet (register if asked), serve the task on an
//! axon behind the permit policy, publish the axon and its keys on the chain.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bt_axon::{Axon, AxonConfig, AxonHandle};
use bt_chain::{AxonEndpoint, AxonIdentity, ChainExt, Keypair, Metagraph};
use bt_crypto::{NeuronKey, PublicKey};
use bt_nn::MnistModel;

use crate::subnet::error::SubnetError;
use crate::subnet::permit::PermitPolicy;
use crate::subnet::source::ChainMetagraph;
use crate::subnet::task::Classifier;

/// Where progress lines go (one call per line, no trailing newline).
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// Progress lines to stdout, what the CLI prints.
pub fn print_progress() -> Progress {
    Arc::new(|line| println!("{line}"))
}

/// Axon protocol number published with the axon (4 = the tensor protocol over gRPC/HTTP2).
pub const AXON_PROTOCOL: u8 = 4;
/// Axon version published with the axon.
pub const AXON_VERSION: u32 = 1;

/// Identity, chain and axon settings of a subnet neuron (either role).
pub struct NeuronSettings {
    /// `host:port` or `ws://host:port` of the chain's JSON-RPC (`--chain_endpoint`).
    pub chain_endpoint: String,
    pub netuid: u16,
    /// sr25519 hotkey: signs `serve_axon` and weights (`--wallet.hotkey`).
    pub hotkey: Keypair,
    /// When set and the hotkey is not registered yet, a burned registration paid by this
    /// coldkey; when `None` the hotkey must already be registered.
    pub coldkey: Option<Keypair>,
    /// Ed25519 key that signs our tensor requests; bound to the hotkey on the chain.
    pub neuron_key: NeuronKey,
    /// Key of the synapse our axon serves.
    pub synapse_key: PublicKey,
    /// Where the axon listens (port 0 picks one).
    pub axon_listen: SocketAddr,
    /// The address published on the chain for peers to dial (not unspecified).
    pub external_ip: IpAddr,
    pub axon: AxonConfig,
    /// Deadline of every chain call (a submission waits for its block: allow a few block times).
    pub chain_timeout: Duration,
    /// How often the metagraph (and so the permit set) is re-read from the chain.
    pub refresh_interval: Duration,
    pub progress: Progress,
}

impl NeuronSettings {
    /// Defaults for everything but identity and chain: listen on 127.0.0.1 (any port),
    /// publish 127.0.0.1, 30 s chain deadline, 12 s refresh, lines to stdout.
    pub fn new(
        chain_endpoint: impl Into<String>,
        netuid: u16,
        hotkey: Keypair,
        neuron_key: NeuronKey,
        synapse_key: PublicKey,
    ) -> Self {
        Self {
            chain_endpoint: chain_endpoint.into(),
            netuid,
            hotkey,
            coldkey: None,
            neuron_key,
            synapse_key,
            axon_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            external_ip: IpAddr::from([127, 0, 0, 1]),
            axon: AxonConfig::default(),
            chain_timeout: Duration::from_secs(30),
            refresh_interval: Duration::from_secs(12),
            progress: print_progress(),
        }
    }

    fn validate(&self) -> Result<(), SubnetError> {
        if self.external_ip.is_unspecified() {
            return Err(SubnetError::Config(
                "the published axon address must not be unspecified (set --remote_ip)".into(),
            ));
        }
        if self.refresh_interval.is_zero() || self.chain_timeout.is_zero() {
            return Err(SubnetError::Config(
                "refresh interval and chain timeout must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// A neuron that has joined the subnet and serves.
pub(crate) struct Serving {
    pub source: ChainMetagraph,
    pub axon: AxonHandle,
    pub policy: Arc<PermitPolicy>,
    pub classifier: Arc<Classifier>,
    pub uid: u16,
    pub progress: Progress,
    pub refresh_interval: Duration,
}

impl Serving {
    /// Joins, serves and publishes; on failure nothing is left running. Returns the neuron key
    /// for the caller's dendrite.
    pub async fn start(
        role: &str,
        s: NeuronSettings,
        model: MnistModel,
    ) -> Result<(Self, NeuronKey), SubnetError> {
        s.validate()?;
        let source = ChainMetagraph::connect(
            &s.chain_endpoint,
            s.netuid,
            s.hotkey.clone(),
            s.chain_timeout,
            s.refresh_interval / 2,
        )
        .await?;
        let mg = source.refresh().await?;
        let uid = match (mg.uid_of(&s.hotkey.account()), &s.coldkey) {
            (Some(uid), _) => uid,
            (None, Some(cold)) => {
                let hot = s.hotkey.account();
                let uid = source
                    .call(
                        "burned_register",
                        source.chain().burned_register(cold, s.netuid, &hot),
                    )
                    .await?;
                (s.progress)(&format!(
                    "{role}: registered hotkey {hot} on netuid {} as uid {uid}",
                    s.netuid
                ));
                uid
            }
            (None, None) => {
                return Err(SubnetError::NotRegistered {
                    netuid: s.netuid,
                    hotkey: s.hotkey.account(),
                });
            }
        };
        let policy = Arc::new(PermitPolicy::new(s.netuid));
        policy.update(&mg);
        let classifier = Arc::new(Classifier::new(model));
        let axon = Axon::builder(s.axon.clone())
            .serve_synapse(s.synapse_key.to_hex(), classifier.clone())
            .policy(policy.clone())
            .start(s.axon_listen)
            .await?;
        let endpoint = AxonEndpoint {
            ip: s.external_ip,
            port: axon.local_addr().port(),
            protocol: AXON_PROTOCOL,
            version: AXON_VERSION,
        };
        let identity =
            AxonIdentity::sign(&s.neuron_key, &s.hotkey.account(), s.netuid, &s.synapse_key);
        if !already_served(source.refresh().await?.as_ref(), uid, &endpoint, &identity) {
            let served = source
                .call(
                    "serve_axon",
                    source
                        .chain()
                        .serve_axon(&s.hotkey, s.netuid, endpoint, identity),
                )
                .await;
            if let Err(e) = served {
                let _ = axon.shutdown(crate::network::SHUTDOWN_GRACE).await;
                return Err(e);
            }
        }
        (s.progress)(&format!(
            "{role}: uid {uid} serving on {}:{} netuid {} neuron_key {} synapse_key {}",
            endpoint.ip,
            endpoint.port,
            s.netuid,
            s.neuron_key.public_hex(),
            s.synapse_key.to_hex()
        ));
        let serving = Self {
            source,
            axon,
            policy,
            classifier,
            uid,
            progress: s.progress,
            refresh_interval: s.refresh_interval,
        };
        Ok((serving, s.neuron_key))
    }

    /// Re-reads the metagraph, refreshes the permit set and checks we are still registered.
    pub async fn refresh(&self) -> Result<Arc<Metagraph>, SubnetError> {
        let mg = self.source.refresh().await?;
        self.policy.update(&mg);
        if mg.uid_of(&self.source.hotkey().account()) != Some(self.uid) {
            return Err(SubnetError::NotRegistered {
                netuid: self.source.netuid(),
                hotkey: self.source.hotkey().account(),
            });
        }
        Ok(mg)
    }

    pub async fn stop(self) {
        if let Err(e) = self.axon.shutdown(crate::network::SHUTDOWN_GRACE).await {
            tracing::warn!(error = %e, "axon did not stop cleanly");
        }
    }
}

/// Whether the chain already shows this exact axon (a restart on the same port need not pay the
/// serving rate limit again).
fn already_served(mg: &Metagraph, uid: u16, ep: &AxonEndpoint, id: &AxonIdentity) -> bool {
    mg.axons
        .get(usize::from(uid))
        .and_then(Option::as_ref)
        .is_some_and(|a| a.ip_addr() == ep.ip && a.port == ep.port && &a.identity == id)
}
