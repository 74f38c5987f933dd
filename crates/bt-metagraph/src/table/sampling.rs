//! What the table hands out: gossip pushes (key windows), answers (range-precise), and the
//! seeds' `synapses(n)` (fresh and high-weight first).

use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::Arc;

use bt_wire::Synapse;

use super::{Entry, MetagraphTable};
use crate::info::SynapseInfo;
use crate::sample::{SplitMix64, weighted_sample};

impl MetagraphTable {
    /// Up to `n` definitions, fresh and high-weight ones preferred, deterministic for a seed.
    pub fn synapses(&self, n: usize, now_ms: u64, seed: u64) -> Vec<SynapseInfo> {
        self.sample_entries(n, now_ms, seed, false)
            .into_iter()
            .map(|e| SynapseInfo::from_synapse(&e.synapse, e.weight))
            .collect()
    }

    /// What we push in a gossip round: all our own definitions, then a window of the rest,
    /// `n` in all (own ones first even when they alone exceed `n`).
    pub fn gossip_sample(&self, n: usize, now_ms: u64, seed: u64) -> Vec<Arc<Synapse>> {
        let mut out: Vec<Arc<Synapse>> = self
            .entries
            .values()
            .filter(|e| e.own)
            .map(|e| e.synapse.clone())
            .collect();
        let rest = n.saturating_sub(out.len());
        // A window of consecutive keys from a random start, wrapping around: a receiver that
        // hears from several peers covers the table in ~(N/n)·ln(N/n) calls instead of the
        // ~(N/n)·ln(N) a uniform sample needs (the coupon collector's tail).
        let start = random_key(seed);
        let from = (Bound::Included(start.as_str()), Bound::Unbounded);
        let window = self
            .entries
            .range::<str, _>(from)
            .chain(self.entries.iter())
            .take(self.entries.len())
            .filter(|(_, e)| !e.own)
            .take(rest)
            .map(|(_, e)| e.synapse.clone());
        out.extend(window);
        let _ = now_ms;
        out
    }

    /// What we answer a gossip push with: our own definitions, then every definition we hold
    /// that the pusher lacks inside the key range its window covered (a window of
    /// consecutive keys proves the pusher holds exactly those keys in that range), then a
    /// window continuing after that range; `n` in all. A push that is not a window (e.g. a
    /// Release 1 peer's random sample) gets a window from a random start.
    pub fn answer_sample(&self, request: &[&Synapse], n: usize, seed: u64) -> Vec<Arc<Synapse>> {
        let mut out: Vec<Arc<Synapse>> = self
            .entries
            .values()
            .filter(|e| e.own)
            .map(|e| e.synapse.clone())
            .collect();
        let sent: BTreeSet<&str> = request.iter().map(|s| s.synapse_key.as_str()).collect();
        // The pusher's own definitions come first and share its neuron key; the rest is the
        // window.
        let pusher = request.first().map(|s| s.neuron_key.as_str());
        let window: Vec<&str> = request
            .iter()
            .filter(|s| Some(s.neuron_key.as_str()) != pusher)
            .map(|s| s.synapse_key.as_str())
            .collect();
        let descents = window.windows(2).filter(|w| w[1] < w[0]).count();
        let (first, last) = match (window.first(), window.last()) {
            (Some(f), Some(l)) if descents == 0 || (descents == 1 && l < f) => (*f, *l),
            _ => {
                let rest = n.saturating_sub(out.len());
                out.extend(self.window_after(&random_key(seed), rest, &sent));
                return out;
            }
        };
        let take = |iter: &mut dyn Iterator<Item = (&Arc<str>, &Entry)>,
                    out: &mut Vec<Arc<Synapse>>| {
            for (k, e) in iter {
                if out.len() >= n {
                    break;
                }
                if !e.own && !sent.contains(&**k) {
                    out.push(e.synapse.clone());
                }
            }
        };
        let inside = (Bound::Included(first), Bound::Included(last));
        if first <= last {
            take(&mut self.entries.range::<str, _>(inside), &mut out);
        } else {
            take(
                &mut self
                    .entries
                    .range::<str, _>((Bound::Included(first), Bound::Unbounded)),
                &mut out,
            );
            take(
                &mut self
                    .entries
                    .range::<str, _>((Bound::Unbounded, Bound::Included(last))),
                &mut out,
            );
        }
        let mut skip: BTreeSet<&str> = sent.clone();
        skip.extend(out.iter().map(|s| s.synapse_key.as_str()));
        let rest = n.saturating_sub(out.len());
        let more = self.window_after(last, rest, &skip);
        out.extend(more);
        out
    }

    /// Up to `n` foreign definitions with keys after `start` (wrapping), skipping `skip`.
    fn window_after(&self, start: &str, n: usize, skip: &BTreeSet<&str>) -> Vec<Arc<Synapse>> {
        self.entries
            .range::<str, _>((Bound::Excluded(start), Bound::Unbounded))
            .chain(self.entries.iter())
            .take(self.entries.len())
            .filter(|(k, e)| !e.own && !skip.contains(&***k))
            .take(n)
            .map(|(_, e)| e.synapse.clone())
            .collect()
    }

    fn sample_entries(&self, n: usize, now_ms: u64, seed: u64, foreign_only: bool) -> Vec<&Entry> {
        let ttl = self.cfg.ttl_ms.max(1) as f64;
        let items = self
            .entries
            .values()
            .filter(|e| !(foreign_only && e.own))
            .map(|e| {
                let age = now_ms.saturating_sub(e.heartbeat_ms) as f64;
                let w = 1.0 + f64::from(e.weight.clamp(0.0, 1_000.0));
                (e, w / (1.0 + 4.0 * age / ttl))
            });
        weighted_sample(items, n, seed)
    }
}

/// A random point in key space (keys are `0x` + hex).
fn random_key(seed: u64) -> String {
    format!("0x{:016x}", SplitMix64::new(seed).next_u64())
}
