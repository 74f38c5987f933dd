//! Where a remote synapse lives.

use std::fmt;
use std::net::Ipv6Addr;

/// One remote synapse: the axon's address and port, and the key of the synapse it serves.
///
/// Several synapses can share one axon (one `address:port`); they share one pooled connection
/// but each has its own circuit breaker, so one stalled synapse does not cut off its neighbours.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// IPv4/IPv6 literal or host name, as gossiped (`Synapse.address`).
    pub address: String,
    pub port: u16,
    /// `0x` + hex of the synapse's Ed25519 public key (`Synapse.synapse_key`).
    pub synapse_key: String,
}

impl Endpoint {
    pub fn new(address: impl Into<String>, port: u16, synapse_key: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            port,
            synapse_key: synapse_key.into(),
        }
    }

    /// The connection this endpoint is reached through.
    pub(crate) fn host(&self) -> HostKey {
        HostKey {
            address: self.address.clone(),
            port: self.port,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host(), self.synapse_key)
    }
}

/// An axon's address: what a pooled connection is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct HostKey {
    pub address: String,
    pub port: u16,
}

impl HostKey {
    /// `http://host:port`, with IPv6 literals bracketed as URIs require.
    pub(crate) fn uri(&self) -> String {
        format!("http://{self}")
    }
}

impl fmt::Display for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.address.parse::<Ipv6Addr>().is_ok() {
            write!(f, "[{}]:{}", self.address, self.port)
        } else {
            write!(f, "{}:{}", self.address, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_bracket_ipv6() {
        assert_eq!(
            Endpoint::new("::1", 8091, "0xab").host().uri(),
            "http://[::1]:8091"
        );
        assert_eq!(
            Endpoint::new("10.0.0.1", 1, "k").host().uri(),
            "http://10.0.0.1:1"
        );
    }
}
