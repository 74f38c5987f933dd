//! What can go wrong in the dashboard, by the kind a caller acts on.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The address to serve on could not be bound (`--dashboard_addr`).
    #[error("cannot bind the dashboard to {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A neuron's or node's `/metrics` could not be read (the dashboard shows it as down).
    #[error("cannot read the metrics of {target}: {why}")]
    Scrape { target: String, why: String },
    /// More neurons than `DashboardConfig::max_neurons`.
    #[error("the dashboard shows at most {max} neurons")]
    TooManyNeurons { max: usize },
}
