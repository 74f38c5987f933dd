//! Configuration of a gossip node. Defaults follow the seeds (`metagraph_port` 8120 is the
//! seeds' example; we default to 0 = any free port so tests and embedders never collide).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::table::TableConfig;

/// Default proof-of-work difficulty for synapse definitions, in leading zero bits: an expected
/// 2^16 SHA-256 of a ~300-byte definition per re-announce, small on one core and paid
/// `heartbeats_per_ttl` times per TTL per own synapse (not every round), while verification
/// costs one hash.
pub const DEFAULT_DIFFICULTY_BITS: u32 = 16;

/// Everything a [`crate::MetagraphNode`] needs besides its key and own synapses.
#[derive(Debug, Clone)]
pub struct MetagraphConfig {
    /// Where the `Metagraph.Gossip` server listens (`--metagraph_port`; port 0 = a free port).
    pub listen: SocketAddr,
    /// The host other nodes should dial (`--remote_ip`). `None`: the listen IP, or 127.0.0.1
    /// when listening on an unspecified address.
    pub advertise_host: Option<String>,
    /// Port to advertise, when it differs from the bound one (NAT, a proxy in tests).
    pub advertise_port: Option<u16>,
    /// `--bootstrap`: metagraph addresses (`host:port`) to start from; re-used whenever we
    /// know no peer at all.
    pub bootstrap: Vec<String>,
    /// Table limits (`metagraph_size` is `table.capacity`).
    pub table: TableConfig,
    /// Time between gossip rounds (the seeds' loop; default 10 s).
    pub gossip_interval: Duration,
    /// Each interval is scaled by a random factor in `1 ± jitter`, so nodes do not march in
    /// lock step.
    pub jitter: f64,
    /// Definitions pushed (and answered) per gossip call, at least; the sample grows with
    /// the table (see [`crate::MetagraphTable::sample_size`]).
    pub sample_synapses: usize,
    /// Our own definitions are re-sealed (fresh heartbeat, new proof of work) this many
    /// times per TTL, not every round: sealing costs ~2^difficulty hashes, which many nodes
    /// on short intervals cannot afford each round, and a heartbeat at most TTL/6 old leaves
    /// 5/6 of the TTL for the refresh to spread.
    pub heartbeats_per_ttl: u32,
    /// Peer addresses advertised per gossip call (besides our own).
    pub sample_peers: usize,
    /// Deadline of one gossip call, connection included.
    pub call_timeout: Duration,
    /// Proof-of-work difficulty required of every definition, ours included.
    pub difficulty_bits: u32,
    /// Largest gossip message accepted or sent, in bytes.
    pub max_message_bytes: usize,
    /// Incoming gossip calls verified at once; more are refused with `RESOURCE_EXHAUSTED`.
    pub max_concurrent_sinks: usize,
    /// Seed of the node's sampling; `None` = from the clock and the address.
    pub seed: Option<u64>,
    /// Most definitions in the answer to an inspection (an empty batch). Default 256.
    pub inspect_sample: usize,
    /// One inspection per source address per this interval; more are refused with
    /// `RESOURCE_EXHAUSTED`. Default 200 ms.
    pub inspect_interval: Duration,
    /// Source addresses the inspection throttle remembers (its state is bounded by this):
    /// when all were served within `inspect_interval`, further addresses wait. Default 1 024.
    pub max_inspect_clients: usize,
}

impl Default for MetagraphConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            advertise_host: None,
            advertise_port: None,
            bootstrap: Vec::new(),
            table: TableConfig::default(),
            gossip_interval: Duration::from_secs(10),
            jitter: 0.2,
            sample_synapses: 256,
            heartbeats_per_ttl: 6,
            sample_peers: 32,
            call_timeout: Duration::from_secs(3),
            difficulty_bits: DEFAULT_DIFFICULTY_BITS,
            max_message_bytes: 4 * 1024 * 1024,
            max_concurrent_sinks: 8,
            seed: None,
            inspect_sample: 256,
            inspect_interval: Duration::from_millis(200),
            max_inspect_clients: 1_024,
        }
    }
}

impl MetagraphConfig {
    /// A configuration for loopback tests: 127.0.0.1 port 0, the given gossip interval, a TTL
    /// of `ttl_intervals` intervals, a 2 s call deadline and a cheap (8-bit) proof of work.
    pub fn loopback(gossip_interval: Duration, ttl_intervals: u32) -> Self {
        let interval_ms = u64::try_from(gossip_interval.as_millis()).unwrap_or(u64::MAX);
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            gossip_interval,
            table: TableConfig {
                ttl_ms: interval_ms.saturating_mul(u64::from(ttl_intervals)),
                ..TableConfig::default()
            },
            call_timeout: Duration::from_secs(2),
            difficulty_bits: 8,
            ..Self::default()
        }
    }
}
