//! The text by which requests name an axon (its SS58, its `host:port`, its IP), encoded once per
//! axon: base58 and address formatting cost more than the rest of a request's headers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};

use bt_crypto::wallet::AccountId;

use super::AxonTarget;

/// One axon's names, as requests carry them.
pub(crate) struct PeerNames {
    pub(crate) ss58: String,
    /// `host:port`, as the `Host` header and the session's key context name it.
    pub(crate) endpoint: String,
    pub(crate) ip: String,
    /// The axon's last answer was a success without the echo headers, which only our axons
    /// leave out (on request): it reads the lean header set. Any other answer clears it, so an
    /// SDK axon that took the address back gets the full set after one call.
    pub(crate) ours: AtomicBool,
}

/// The names of at most `capacity` axons; when full it starts again empty (a miss costs one
/// encoding, so no recency is tracked).
pub(crate) struct Peers {
    names: Mutex<HashMap<(SocketAddr, AccountId), Arc<PeerNames>>>,
    capacity: usize,
}

impl Peers {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            names: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn get(&self, target: &AxonTarget) -> Arc<PeerNames> {
        let key = (target.addr, target.hotkey);
        // Every state of the map is valid on its own.
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = names.get(&key) {
            return found.clone();
        }
        if names.len() >= self.capacity {
            names.clear();
        }
        let made = Arc::new(PeerNames {
            ss58: target.hotkey.to_ss58(),
            endpoint: target.addr.to_string(),
            ip: target.addr.ip().to_string(),
            ours: AtomicBool::new(false),
        });
        names.insert(key, made.clone());
        made
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_encodings_and_the_table_stays_bounded() {
        let peers = Peers::new(2);
        let target = |port: u16, key: u8| AxonTarget {
            addr: SocketAddr::from(([10, 0, 0, 1], port)),
            hotkey: AccountId([key; 32]),
        };
        let t = target(8091, 1);
        let n = peers.get(&t);
        assert_eq!(n.ss58, t.hotkey.to_ss58());
        assert_eq!(
            (n.endpoint.as_str(), n.ip.as_str()),
            ("10.0.0.1:8091", "10.0.0.1")
        );
        assert!(Arc::ptr_eq(&n, &peers.get(&t)), "encoded once");
        for p in 1..10 {
            let other = target(p, 2);
            assert_eq!(peers.get(&other).ss58, other.hotkey.to_ss58());
            assert!(peers.len() <= 2);
        }
    }
}
