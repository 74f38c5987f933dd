//! Per-address throttle of inspections (empty gossip batches), with bounded state.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// Remembers when each address last inspected us, for at most `max_clients` addresses.
#[derive(Debug)]
pub(crate) struct InspectThrottle {
    interval_ms: u64,
    max_clients: usize,
    last: BTreeMap<Option<IpAddr>, u64>,
}

impl InspectThrottle {
    pub(crate) fn new(interval: Duration, max_clients: usize) -> Self {
        Self {
            interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
            max_clients: max_clients.max(1),
            last: BTreeMap::new(),
        }
    }

    /// True when `ip` may inspect now: at most once per interval per address, and at most
    /// `max_clients` addresses per interval in all (when the map is full of addresses served
    /// within the interval, everyone waits).
    pub(crate) fn allow(&mut self, ip: Option<IpAddr>, now_ms: u64) -> bool {
        let fresh = |t: u64| now_ms.saturating_sub(t) < self.interval_ms;
        if self.last.get(&ip).is_some_and(|t| fresh(*t)) {
            return false;
        }
        if self.last.len() >= self.max_clients && !self.last.contains_key(&ip) {
            self.last.retain(|_, t| fresh(*t));
            if self.last.len() >= self.max_clients {
                return false;
            }
        }
        self.last.insert(ip, now_ms);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_per_interval_per_address_and_bounded_state() {
        let mut t = InspectThrottle::new(Duration::from_millis(100), 2);
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        let c = Some(IpAddr::from([10, 0, 0, 3]));
        assert!(t.allow(a, 1_000));
        assert!(!t.allow(a, 1_050));
        assert!(t.allow(b, 1_050));
        assert!(
            !t.allow(c, 1_060),
            "two addresses within the interval fill the map"
        );
        assert!(t.allow(c, 1_101), "the expired entry of a makes room");
        assert!(t.last.len() <= 2);
        assert!(t.allow(a, 1_200));
    }
}
