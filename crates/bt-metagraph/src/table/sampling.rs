//! What the table hands out: gossip pushes (key windows), answers (range-precise), and the
//! seeds' `synapses(n)` (fresh and high-weight first).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use bt_wire::Synapse;

use super::{Entry, MetagraphTable};
use crate::sample::{SplitMix64, weighted_sample};
use crate::validate::decode_heartbeat;
use bt_interfaces::SynapseInfo;

impl MetagraphTable {
    /// Up to `n` definitions, fresh and high-weight ones preferred, deterministic for a seed.
    pub fn synapses(&self, n: usize, now_ms: u64, seed: u64) -> Vec<SynapseInfo> {
        self.sample_entries(n, now_ms, seed, false)
            .into_iter()
            .map(|e| crate::info::synapse_info(&e.synapse, e.weight))
            .collect()
    }

    /// How many definitions a push or an answer carries: `base` (the configured
    /// `sample_synapses`), growing with the table to 1/[`super::SAMPLE_DIVISOR`] of it, at
    /// most `max_batch_synapses`. A fixed sample makes convergence bandwidth-bound in big
    /// networks (every node must receive N definitions); growing it keeps rounds
    /// logarithmic while small tables stay cheap.
    pub fn sample_size(&self, base: usize) -> usize {
        base.max(self.entries.len() / super::SAMPLE_DIVISOR)
            .min(self.cfg.max_batch_synapses.max(1))
    }

    /// What we push in a gossip round: all our own definitions, then a *window* of the rest,
    /// `n` in all (own ones first even when they alone exceed `n`). The window is consecutive
    /// keys starting at our sweep cursor (see [`Self::advance_cursor`]), or at a random point
    /// before the first exchange.
    pub fn gossip_sample(&self, n: usize, now_ms: u64, seed: u64) -> Vec<Arc<Synapse>> {
        let mut out: Vec<Arc<Synapse>> = self
            .entries
            .values()
            .filter(|e| e.own)
            .map(|e| e.synapse.clone())
            .collect();
        let rest = n.saturating_sub(out.len());
        // Start at the last key we hold at or before the cursor, so that the range the window
        // proves begins where the previous exchange stopped (keys we lack there included).
        let start: String = match &self.cursor {
            Some(c) => self
                .entries
                .range::<str, _>((Bound::Unbounded, Bound::Included(&**c)))
                .rev()
                .find(|(_, e)| !e.own)
                .map_or_else(|| c.to_string(), |(k, _)| k.to_string()),
            None => random_key(seed),
        };
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

    /// After an exchange: the next push window starts where this one's answer ended (the
    /// answer's last entry is the end of its fill or continuation, see
    /// [`Self::answer_sample`]), or at the end of our window when the answer held nothing
    /// else. Sweeping key space in order, instead of from random points, is what removes the
    /// coupon collector's tail: every range is reconciled once per sweep.
    pub fn advance_cursor(&mut self, push: &[&Synapse], answer: &[&Synapse]) {
        let last_foreign = |batch: &[&Synapse]| {
            let own = batch.first().map(|s| s.neuron_key.as_str());
            batch
                .iter()
                .rev()
                .find(|s| Some(s.neuron_key.as_str()) != own)
                .map(|s| Arc::<str>::from(s.synapse_key.as_str()))
        };
        if let Some(k) = last_foreign(answer).or_else(|| last_foreign(push)) {
            self.cursor = Some(k);
        }
    }

    /// What we answer a gossip push with, `n` in all: our own definitions; then up to `n/4`
    /// of the definitions that reached us most recently ("hot": news travels as a rumour,
    /// in O(log N) rounds, instead of once per window sweep); then every definition we hold
    /// that the pusher lacks, then those it holds older, inside the key range its window
    /// covered (a
    /// window of consecutive keys proves the pusher holds exactly those keys in that range);
    /// then a window continuing after that range. The order matters: the pusher resumes its
    /// sweep after our last entry. A push that is not a window (e.g. a Release 1 peer's
    /// random sample) gets a window from a random start.
    pub fn answer_sample(&self, request: &[&Synapse], n: usize, seed: u64) -> Vec<Arc<Synapse>> {
        let mut out: Vec<Arc<Synapse>> = self
            .entries
            .values()
            .filter(|e| e.own)
            .map(|e| e.synapse.clone())
            .collect();
        let sent: BTreeMap<&str, u64> = request
            .iter()
            .map(|s| {
                let hb = decode_heartbeat(&s.block_hash).unwrap_or(0);
                (s.synapse_key.as_str(), hb)
            })
            .collect();
        let lacks =
            |k: &str, e: &Entry| !e.own && sent.get(k).is_none_or(|hb| *hb < e.heartbeat_ms);
        let hot_budget = out.len() + n / super::HOT_DIVISOR;
        for key in self.by_seq.values().rev() {
            if out.len() >= hot_budget.min(n) {
                break;
            }
            if let Some(e) = self.entries.get(key)
                && lacks(key, e)
            {
                out.push(e.synapse.clone());
            }
        }
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
                let mut skip: BTreeSet<&str> = sent.keys().copied().collect();
                skip.extend(out.iter().map(|s| s.synapse_key.as_str()));
                let more = self.window_after(&random_key(seed), rest, &skip);
                out.extend(more);
                return out;
            }
        };
        let chosen: BTreeSet<Arc<str>> = out
            .iter()
            .map(|s| Arc::<str>::from(s.synapse_key.as_str()))
            .collect();
        // Keys the pusher lacks first, then newer heartbeats of keys it holds: news before
        // refreshes, which have most of a TTL to spread.
        for refreshes in [false, true] {
            let wanted = |k: &str, e: &Entry| {
                !e.own
                    && !chosen.contains(k)
                    && match sent.get(k) {
                        None => !refreshes,
                        Some(hb) => refreshes && *hb < e.heartbeat_ms,
                    }
            };
            let ranges: Vec<(Bound<&str>, Bound<&str>)> = if first <= last {
                vec![(Bound::Included(first), Bound::Included(last))]
            } else {
                vec![
                    (Bound::Included(first), Bound::Unbounded),
                    (Bound::Unbounded, Bound::Included(last)),
                ]
            };
            for range in ranges {
                for (k, e) in self.entries.range::<str, _>(range) {
                    if out.len() >= n {
                        break;
                    }
                    if wanted(k, e) {
                        out.push(e.synapse.clone());
                    }
                }
            }
        }
        let rest = n.saturating_sub(out.len());
        let mut skip: BTreeSet<&str> = sent.keys().copied().collect();
        skip.extend(out.iter().map(|s| s.synapse_key.as_str()));
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
