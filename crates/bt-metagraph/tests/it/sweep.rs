//! The exchange protocol of the table: push windows sweep key space from a cursor, answers
//! carry the newest arrivals first, then what the pusher lacks (or holds older) in its
//! window's range, and the sample grows with the table.

use std::collections::BTreeSet;

use bt_metagraph::sim::sim_synapse;
use bt_metagraph::table::{HOT_DIVISOR, SAMPLE_DIVISOR};
use bt_metagraph::{MetagraphTable, PreVerified, TableConfig};
use bt_wire::{GossipBatch, Synapse};

const NOW: u64 = 1_000_000;

fn table_with(keys: impl IntoIterator<Item = usize>, age: u64) -> MetagraphTable {
    let mut t = MetagraphTable::new(TableConfig::default());
    sink(&mut t, keys, age);
    t
}

/// Sinks the definitions of `keys`, in batches a peer may send.
fn sink(t: &mut MetagraphTable, keys: impl IntoIterator<Item = usize>, age: u64) {
    let all: Vec<Synapse> = keys
        .into_iter()
        .map(|k| sim_synapse(k, NOW - age))
        .collect();
    for chunk in all.chunks(t.config().max_batch_synapses) {
        let batch = GossipBatch {
            version: 0.0,
            peers: Vec::new(),
            synapses: chunk.to_vec(),
        };
        let report = t.sink(&batch, NOW, &PreVerified);
        assert_eq!(report.rejected_total(), 0, "{report:?}");
    }
}

fn keys(batch: &[std::sync::Arc<Synapse>]) -> Vec<String> {
    batch.iter().map(|s| s.synapse_key.clone()).collect()
}

#[test]
fn pushes_sweep_the_whole_key_space_in_order() {
    let mut t = table_with(0..100, 1_000);
    let all: BTreeSet<String> = t.snapshot().into_iter().map(|s| s.synapse_key).collect();
    let mut seen = BTreeSet::new();
    let mut previous_last: Option<String> = None;
    for round in 0..12u64 {
        let push = t.gossip_sample(10, NOW, round);
        let window = keys(&push);
        assert!(
            window.windows(2).filter(|w| w[1] < w[0]).count() <= 1,
            "a window is in key order"
        );
        if let Some(last) = &previous_last {
            assert_eq!(
                &window[0], last,
                "the next window starts where the last one ended"
            );
        }
        previous_last = window.last().cloned();
        seen.extend(window);
        let refs: Vec<&Synapse> = push.iter().map(|s| &**s).collect();
        t.advance_cursor(&refs, &[]);
    }
    // 12 windows of 10 overlapping by one cover 109 positions: all 100 keys, no coupon tail.
    assert_eq!(seen, all);
}

#[test]
fn answers_carry_news_first_then_exactly_what_the_pusher_lacks_in_range() {
    // The answerer holds 0..60 (old) and then hears of 60..64 (its newest arrivals).
    let mut answerer = table_with(0..60, 20_000);
    sink(&mut answerer, 60..64, 1_000);
    // The pusher holds most of 0..60: every key but a few, and one of them at an older
    // heartbeat.
    let missing: BTreeSet<usize> = [3, 17, 41].into();
    let mut pusher = table_with((0..60).filter(|k| !missing.contains(k) && *k != 25), 20_000);
    sink(&mut pusher, [25], 30_000);
    let push = pusher.gossip_sample(usize::MAX, NOW, 7);
    let sent: Vec<&Synapse> = push.iter().map(|s| &**s).collect();
    let n = 64;
    let answer = answerer.answer_sample(&sent, n, 1);
    let got = keys(&answer);

    // One batch is admitted in key order, so the newest arrival is its greatest key.
    let mut hot: Vec<String> = (60..64).map(|k| sim_synapse(k, 0).synapse_key).collect();
    hot.sort();
    hot.reverse();
    assert!(hot.len() <= n / HOT_DIVISOR);
    assert_eq!(
        got[..4],
        hot[..],
        "newest arrivals first, newest of all first"
    );
    let want: BTreeSet<String> = missing
        .iter()
        .chain([&25])
        .map(|k| sim_synapse(*k, 0).synapse_key)
        .collect();
    let fill: BTreeSet<String> = got[4..].iter().cloned().collect();
    assert_eq!(
        fill, want,
        "the range fill is exactly the missing and the stale keys"
    );
    assert_eq!(
        got.len(),
        8,
        "nothing the pusher already holds is sent back"
    );

    // The pusher resumes its sweep after the answer's last entry.
    let refs: Vec<&Synapse> = answer.iter().map(|s| &**s).collect();
    pusher.advance_cursor(&sent, &refs);
    let cursor = got.last().unwrap();
    let held: Vec<String> = pusher
        .snapshot()
        .into_iter()
        .map(|s| s.synapse_key)
        .collect();
    let start = held
        .iter()
        .rev()
        .find(|k| *k <= cursor)
        .unwrap_or(&held[held.len() - 1]);
    let next = pusher.gossip_sample(3, NOW, 8);
    assert_eq!(
        &next[0].synapse_key, start,
        "the sweep resumes at the answer's end"
    );
}

#[test]
fn the_sample_grows_with_the_table_up_to_the_batch_limit() {
    let small = table_with(0..10, 1_000);
    assert_eq!(small.sample_size(256), 256);
    let big = table_with(0..3_000, 1_000);
    let limit = TableConfig::default().max_batch_synapses;
    assert_eq!(big.sample_size(256), (3_000 / SAMPLE_DIVISOR).min(limit));
    let bigger = table_with(0..5_000, 1_000);
    assert_eq!(bigger.sample_size(256), limit);
}
