//! The dashboard's settings; every bound on what clients and sources can make it hold.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::prom::PromLimits;

#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// Where the page is served. Default 127.0.0.1:0 (loopback: the page shows the network's
    /// internals; `--dashboard_addr` changes it).
    pub addr: SocketAddr,
    /// Browsers connected to `/api/events` at once; more are answered 503. Default 16.
    pub max_clients: usize,
    /// Requests other than `/api/events` served at once; more wait. Default 32.
    pub max_requests: usize,
    /// Connections open at once (browsers' event streams included); more wait in the kernel's
    /// accept backlog. Default 256 (`--dashboard_max_connections`).
    pub max_connections: usize,
    /// Connections one source address may hold; more from it are closed at once. Default 32
    /// (`--dashboard_max_connections_per_ip`): a browser opens about six per page.
    pub max_connections_per_ip: usize,
    /// A client must send a request's headers within this after connecting or after its
    /// previous answer, or its connection is closed (slowloris). Default 5 s
    /// (`--dashboard_header_timeout`).
    pub header_read_timeout: Duration,
    /// Shortest time between two pushes to one client (the push is throttled to this).
    /// Default 250 ms: four updates a second.
    pub push_interval: Duration,
    /// How often the neurons' `/metrics` and the chain are read. Default 1 s.
    pub poll_interval: Duration,
    /// How often one neuron's metagraph is inspected (one neuron per round, in turn; nodes
    /// throttle inspections per address). Default 5 s.
    pub inspect_interval: Duration,
    /// Deadline of one scrape, inspection or chain read. Default 2 s.
    pub source_timeout: Duration,
    /// Largest `/metrics` answer read. Default 1 MiB.
    pub max_scrape_bytes: usize,
    pub prom_limits: PromLimits,
    /// Points kept per curve (older ones are dropped). Default 600.
    pub history: usize,
    /// Neurons shown. Default 64.
    pub max_neurons: usize,
    /// Synapses listed from an inspection. Default 1 024.
    pub max_synapses: usize,
    /// Uids whose chain history is kept. Default 256.
    pub max_uids: usize,
    /// The subnet read from the chain. Default 1.
    pub netuid: u16,
    /// How often the validators' weights are read from the chain (they change once a tempo;
    /// on subtensor the read costs one more request per uid). Default 5 s
    /// (`--dashboard_weights_interval`).
    pub weights_interval: Duration,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0),
            max_clients: 16,
            max_requests: 32,
            max_connections: 256,
            max_connections_per_ip: 32,
            header_read_timeout: Duration::from_secs(5),
            push_interval: Duration::from_millis(250),
            poll_interval: Duration::from_secs(1),
            inspect_interval: Duration::from_secs(5),
            source_timeout: Duration::from_secs(2),
            max_scrape_bytes: 1 << 20,
            prom_limits: PromLimits::default(),
            history: 600,
            max_neurons: 64,
            max_synapses: 1024,
            max_uids: 256,
            netuid: 1,
            weights_interval: Duration::from_secs(5),
        }
    }
}
