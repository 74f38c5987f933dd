//! The peer half of the table: who we gossip with, evidence of life, failures, tombstones.

use super::{MetagraphTable, Peer};
use crate::sample::weighted_sample;
use crate::validate::PeerAddr;

impl MetagraphTable {
    /// A successful call to `peer`: direct evidence, failure count reset.
    pub fn peer_succeeded(&mut self, peer: &PeerAddr, now_ms: u64) {
        self.peer_seen(peer, now_ms, Evidence::Called);
        if let Some(p) = self.peers.get_mut(peer) {
            p.failures = 0;
        }
    }

    /// A failed call to `peer`; returns true when it was dropped (too many in a row).
    pub fn peer_failed(&mut self, peer: &PeerAddr, now_ms: u64) -> bool {
        let limit = self.cfg.max_peer_failures;
        match self.peers.get_mut(peer) {
            Some(p) => {
                p.failures = p.failures.saturating_add(1);
                if p.failures >= limit {
                    self.peers.remove(peer);
                    self.bury(peer.clone(), now_ms);
                    true
                } else {
                    false
                }
            }
            None => false,
        }
    }

    /// A call to `called` was answered by the node that advertises `answered_as` (an answer's
    /// first peer, by convention). When the two differ, `called` is another name of that node:
    /// a `--bootstrap 127.0.0.1:P` for a node that advertises its LAN address, or that same
    /// loopback name of ours come back to us second hand. Kept, it would count one node as two
    /// peers (the seeds' nP) and gossip with it twice as often, so it is dropped and buried
    /// (not re-learned second hand for a TTL) when it is us, or when the advertised name has
    /// shown it is alive; until then it is kept, since it is the name we know works. Returns
    /// true when `called` was dropped.
    pub fn peer_alias(&mut self, called: &PeerAddr, answered_as: &PeerAddr, now_ms: u64) -> bool {
        if called == answered_as {
            return false;
        }
        let is_us = self.own_address.as_ref() == Some(answered_as);
        let known_alive = self
            .peers
            .get(answered_as)
            .is_some_and(|p| p.last_direct_ms.is_some());
        if !(is_us || known_alive) || self.peers.remove(called).is_none() {
            return false;
        }
        self.bury(called.clone(), now_ms);
        true
    }

    /// Adds a peer we were told about (e.g. a bootstrap address) without evidence it is up.
    pub fn add_peer(&mut self, peer: PeerAddr, now_ms: u64) -> bool {
        self.peer_seen(&peer, now_ms, Evidence::Heard)
    }

    /// True when a call of ours to `peer` has succeeded within the TTL (it answered the
    /// challenge).
    pub fn peer_proven(&self, peer: &PeerAddr) -> bool {
        self.peers
            .get(peer)
            .is_some_and(|p| p.last_direct_ms.is_some())
    }

    /// Up to `n` proven peers (see [`Self::peer_proven`]), in address order.
    pub fn proven_peers(&self, n: usize) -> Vec<PeerAddr> {
        self.peers
            .iter()
            .filter(|(_, p)| p.last_direct_ms.is_some())
            .map(|(a, _)| a.clone())
            .take(n)
            .collect()
    }

    /// Up to `n` peers, fresher evidence preferred, deterministic for a seed.
    pub fn peers(&self, n: usize, now_ms: u64, seed: u64) -> Vec<PeerAddr> {
        let ttl = self.cfg.ttl_ms.max(1) as f64;
        let items = self.peers.iter().map(|(addr, p)| {
            let age = now_ms.saturating_sub(p.evidence_ms()) as f64;
            let direct = if p.last_direct_ms.is_some() { 2.0 } else { 1.0 };
            (
                addr,
                direct / (1.0 + 4.0 * age / ttl) / f64::from(1 + p.failures),
            )
        });
        weighted_sample(items, n, seed)
            .into_iter()
            .cloned()
            .collect()
    }

    /// Whom to gossip with this round: uniform over the peers we know, a peer with recent
    /// failures proportionally less likely. Uniform choice is what makes push-pull gossip
    /// converge in O(log N) rounds; preferring fresh or direct peers (as [`Self::peers`]
    /// does) re-syncs with partners we just synced with and took more rounds to converge in the
    /// table simulation (`cargo bench -p bt-metagraph --bench convergence`).
    pub fn gossip_target(&self, seed: u64) -> Option<PeerAddr> {
        let items = self
            .peers
            .iter()
            .map(|(addr, p)| (addr, 1.0 / f64::from(1 + p.failures)));
        weighted_sample(items, 1, seed).pop().cloned()
    }

    /// Peers worth advertising: our own address first, then up to `n` peers heard from
    /// directly within the TTL (weight 2) or learned second hand within half of it (weight 1).
    /// Peers dropped for failing, or expired, are not re-learned second hand for one TTL
    /// (tombstones), which damps the re-circulation of dead addresses.
    pub fn advertised_peers(&self, n: usize, now_ms: u64, seed: u64) -> Vec<String> {
        let cutoff = now_ms.saturating_sub(self.cfg.ttl_ms);
        let half = now_ms.saturating_sub(self.cfg.ttl_ms / 2);
        let items = self
            .peers
            .iter()
            .filter(|(_, p)| p.failures == 0)
            .filter_map(|(addr, p)| match p.last_direct_ms {
                Some(t) if t >= cutoff => Some((addr, 2.0)),
                _ if p.evidence_ms() >= half => Some((addr, 1.0)),
                _ => None,
            });
        let mut out: Vec<String> = self.own_address.iter().map(|a| a.to_string()).collect();
        out.extend(
            weighted_sample(items, n, seed)
                .into_iter()
                .map(|a| a.to_string()),
        );
        out
    }

    /// Remembers a dropped peer for one TTL (bounded like the peer table).
    pub(super) fn bury(&mut self, peer: PeerAddr, now_ms: u64) {
        if self.tombstones.len() >= self.cfg.max_peers {
            let oldest = self
                .tombstones
                .iter()
                .min_by_key(|(_, u)| **u)
                .map(|(a, _)| a.clone());
            if let Some(a) = oldest {
                self.tombstones.remove(&a);
            }
        }
        self.tombstones
            .insert(peer, now_ms.saturating_add(self.cfg.ttl_ms));
    }

    /// Records evidence about `peer`; returns true when it is new. When the table is full, a
    /// newcomer may only take the place of an unproven peer (never called successfully), the
    /// one with the oldest evidence: a flood of claimed or second-hand addresses churns those
    /// slots but cannot evict the peers that answered our calls (an eclipse).
    pub(super) fn peer_seen(&mut self, peer: &PeerAddr, now_ms: u64, evidence: Evidence) -> bool {
        if self.own_address.as_ref() == Some(peer) {
            return false;
        }
        if evidence == Evidence::Called {
            self.tombstones.remove(peer);
        } else if self
            .tombstones
            .get(peer)
            .is_some_and(|until| *until > now_ms)
        {
            return false;
        }
        if let Some(p) = self.peers.get_mut(peer) {
            match evidence {
                Evidence::Called => p.last_direct_ms = Some(now_ms),
                Evidence::Claimed => p.last_claim_ms = Some(now_ms),
                Evidence::Heard => {}
            }
            return false;
        }
        if self.peers.len() >= self.cfg.max_peers {
            let stalest = self
                .peers
                .iter()
                .filter(|(_, p)| p.last_direct_ms.is_none())
                .min_by_key(|(_, p)| p.evidence_ms())
                .map(|(a, p)| (a.clone(), p.evidence_ms()));
            match stalest {
                Some((addr, t)) if evidence != Evidence::Heard || t < now_ms => {
                    self.peers.remove(&addr);
                }
                _ => return false,
            }
        }
        self.peers.insert(
            peer.clone(),
            Peer {
                last_direct_ms: (evidence == Evidence::Called).then_some(now_ms),
                last_claim_ms: (evidence == Evidence::Claimed).then_some(now_ms),
                first_seen_ms: now_ms,
                failures: 0,
            },
        );
        true
    }
}

/// What we know of a peer address, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Evidence {
    /// Second hand: a peer list, a bootstrap flag.
    Heard,
    /// The caller's own advertisement, from a connection whose source IP is the advertised one.
    Claimed,
    /// A call of ours to it succeeded.
    Called,
}
