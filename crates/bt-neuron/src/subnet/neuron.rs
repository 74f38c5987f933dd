//! Joining a subnet, what miners and validators share: register if asked, serve the runtime's
//! synapse on an axon behind the role's policy, publish the axon and its keys on the chain. The
//! axon serves the same model a gossip neuron serves; only who it answers differs.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bt_axon::http::{HttpAxonConfig, HttpAxonHandle};
use bt_axon::{AllowAll, Axon, AxonConfig, AxonHandle, Policy};
use bt_chain::{AxonEndpoint, AxonIdentity, Keypair};
use bt_crypto::{NeuronKey, PublicKey};
use bt_interfaces::Synapse;
use bt_interfaces::{AxonServe, TensorIdentity};

use crate::chain_target::ChainTarget;
use crate::progress::Spinner;
use crate::subnet::error::SubnetError;
use crate::subnet::http::serve_http;
use crate::subnet::permit::PermitPolicy;
use crate::subnet::source::ChainMetagraph;
use crate::subnet::view::SubnetView;

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

/// A neuron's role on a subnet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubnetRole {
    /// Serves only validators holding a permit (the seeds' bipartite rule) and keeps learning.
    Miner,
    /// Learns from the miners through its router and sets the router's scores as its weights;
    /// its axon answers any caller (outside input reaches only validators).
    Validator,
}

impl SubnetRole {
    /// How progress lines name the role.
    pub fn label(self) -> &'static str {
        match self {
            SubnetRole::Miner => "Miner",
            SubnetRole::Validator => "Validator",
        }
    }
}

/// Identity, chain and axon settings of a subnet neuron (either role).
pub struct NeuronSettings {
    /// The chain: the embedded one (`--chain_endpoint`) or subtensor (`--subtensor.network`).
    pub chain: ChainTarget,
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
    /// The port published with it when peers reach the axon through a forwarded port (NAT,
    /// proxy); `None` publishes the axon's own port.
    pub external_port: Option<u16>,
    pub axon: AxonConfig,
    /// Where to serve the model over today's HTTP synapse protocol too (`TensorForward`, signed
    /// as the hotkey), or `None` for gRPC only (`--http_port`).
    pub http_listen: Option<SocketAddr>,
    pub http: HttpAxonConfig,
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
        chain: ChainTarget,
        netuid: u16,
        hotkey: Keypair,
        neuron_key: NeuronKey,
        synapse_key: PublicKey,
    ) -> Self {
        Self {
            chain,
            netuid,
            hotkey,
            coldkey: None,
            neuron_key,
            synapse_key,
            axon_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            external_ip: IpAddr::from([127, 0, 0, 1]),
            external_port: None,
            axon: AxonConfig::default(),
            http_listen: None,
            http: HttpAxonConfig::default(),
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

/// A neuron's place on the subnet once it serves.
pub struct Joined {
    pub source: ChainMetagraph,
    pub axon: AxonHandle,
    /// The HTTP synapse axon, when asked for.
    pub http: Option<HttpAxonHandle>,
    pub uid: u16,
    /// The permit holders of the subnet, refreshed by the role; the miner's axon answers only
    /// them.
    pub permits: Arc<PermitPolicy>,
}

/// Joins the subnet as `role`: registers the hotkey if it has no uid (with the coldkey, when
/// given), serves `synapse` under the synapse key and the subnet's `task` under the neuron key
/// on an axon that answers whom the role allows, and publishes the axon with its keys. On
/// failure nothing is left running.
pub async fn join(
    role: SubnetRole,
    s: &NeuronSettings,
    synapse: Arc<dyn Synapse>,
    task: Arc<dyn Synapse>,
) -> Result<Joined, SubnetError> {
    s.validate()?;
    let label = role.label();
    // Catching up with the chain: against a remote subtensor the client reads the runtime's
    // metadata and then the subnet in a dozen round trips, seconds over a WAN.
    let reading = Spinner::start(format!(
        "{label}: reading subnet {} from {}",
        s.netuid,
        s.chain.endpoint()
    ));
    let source = ChainMetagraph::connect(
        &s.chain,
        s.netuid,
        s.hotkey.clone(),
        s.chain_timeout,
        s.refresh_interval / 2,
    )
    .await?;
    let mg = source.refresh().await?;
    drop(reading);
    let uid = match (mg.uid_of(&s.hotkey.account()), &s.coldkey) {
        (Some(uid), _) => uid,
        (None, Some(cold)) => {
            let hot = s.hotkey.account();
            let hotkey = bt_crypto::wallet::AccountId(hot.0);
            let registering = Spinner::start(format!(
                "{label}: registering on netuid {} (until its block is made)",
                s.netuid
            ));
            let uid = source
                .call(
                    "burned_register",
                    source
                        .chain()
                        .burned_register(&cold.sr25519(), s.netuid, &hotkey),
                )
                .await?;
            drop(registering);
            (s.progress)(&format!(
                "{label}: registered hotkey {hot} on netuid {} as uid {uid}",
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
    let permits = Arc::new(PermitPolicy::new(s.netuid));
    permits.update(&mg);
    let policy: Arc<dyn Policy> = match role {
        SubnetRole::Miner => permits.clone(),
        SubnetRole::Validator => Arc::new(AllowAll),
    };
    let http = match s.http_listen {
        Some(listen) => Some(
            serve_http(
                listen,
                s.http.clone(),
                s.hotkey.sr25519(),
                synapse.clone(),
                (role == SubnetRole::Miner).then(|| permits.clone()),
            )
            .await?,
        ),
        None => None,
    };
    // What the chain tells peers to dial, which a v2 request signature binds.
    let axon_config = AxonConfig {
        external_host: Some(s.external_ip.to_string()),
        external_port: s.external_port,
        ..s.axon.clone()
    };
    let axon = Axon::builder(axon_config)
        .serve_synapse(s.synapse_key.to_hex(), synapse)
        .serve_synapse(s.neuron_key.public_hex(), task)
        .policy(policy)
        .start(s.axon_listen)
        .await?;
    let endpoint = AxonEndpoint {
        ip: s.external_ip,
        port: s.external_port.unwrap_or(axon.local_addr().port()),
        protocol: AXON_PROTOCOL,
        version: AXON_VERSION,
    };
    let identity = AxonIdentity::sign(&s.neuron_key, &s.hotkey.account(), s.netuid, &s.synapse_key);
    let publishing = Spinner::start(format!(
        "{label}: publishing the axon on netuid {}",
        s.netuid
    ));
    let published = match source.refresh().await {
        Ok(mg) if already_served(&mg, uid, &endpoint, &identity) => Ok(()),
        Ok(_) => {
            let serve = AxonServe {
                ip: endpoint.ip,
                port: endpoint.port,
                protocol: endpoint.protocol,
                version: endpoint.version,
                identity: Some(TensorIdentity {
                    neuron_key: identity.neuron_key,
                    synapse_key: identity.synapse_key,
                    signature: identity.signature,
                }),
            };
            source
                .call(
                    "serve_axon",
                    source
                        .chain()
                        .serve_axon(&s.hotkey.sr25519(), s.netuid, &serve),
                )
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    };
    drop(publishing);
    if let Err(e) = published {
        let _ = axon.shutdown(crate::network::SHUTDOWN_GRACE).await;
        return Err(e);
    }
    (s.progress)(&format!(
        "{label}: uid {uid} serving on {}:{} netuid {} neuron_key {} synapse_key {}",
        endpoint.ip,
        endpoint.port,
        s.netuid,
        s.neuron_key.public_hex(),
        s.synapse_key.to_hex()
    ));
    if let Some(h) = &http {
        (s.progress)(&format!(
            "{label}: TensorForward over HTTP on {} as hotkey {}",
            h.local_addr(),
            h.hotkey_ss58()
        ));
    }
    Ok(Joined {
        source,
        axon,
        http,
        uid,
        permits,
    })
}

/// Whether the chain already shows this exact axon (a restart on the same port need not pay the
/// serving rate limit again).
fn already_served(mg: &SubnetView, uid: u16, ep: &AxonEndpoint, id: &AxonIdentity) -> bool {
    mg.peer(uid)
        .is_some_and(|p| p.ip == ep.ip && p.port == ep.port && &p.identity == id)
}
