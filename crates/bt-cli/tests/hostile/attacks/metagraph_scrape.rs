//! L (gossip): empty batches (inspections) used to be answered with the whole table, as often
//! as asked. Now: a bounded sample, once per interval per address.

use std::time::{Duration, Instant};

use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use bt_wire::GossipBatch;

use super::gossip::{EchoNeuron, channel, gossip};

pub const CALLS: usize = 300;

pub struct Report {
    pub row: AttackRow,
    pub answered: usize,
    pub throttled: usize,
    pub elapsed: Duration,
    /// Largest answer, in bytes.
    pub largest: usize,
}

pub async fn run() -> Report {
    let dir = tempfile::tempdir().unwrap();
    let target = EchoNeuron::start(dir.path(), "target", None).await;
    let peer = EchoNeuron::start(dir.path(), "peer", Some(target.metagraph())).await;
    let pid = target.pid();
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    // Honest gossip keeps flowing: a push naming the honest peer, answered by the target.
    let honest_ch = channel(target.metagraph()).await;
    let honest_peer = peer.ready.metagraph.clone();
    let honest = HonestLoad::start(Duration::from_millis(200), move || {
        let (ch, p) = (honest_ch.clone(), honest_peer.clone());
        Box::pin(async move {
            let batch = GossipBatch {
                version: 0.0,
                peers: vec![p],
                synapses: vec![],
            };
            gossip(&ch, &batch).await.is_ok()
        })
    });
    let ch = channel(target.metagraph()).await;
    let (mut answered, mut throttled, mut largest) = (0, 0, 0);
    let t0 = Instant::now();
    for _ in 0..CALLS {
        match gossip(&ch, &GossipBatch::default()).await {
            Ok(n) => {
                answered += 1;
                largest = largest.max(n);
            }
            Err(s) if s.code() == tonic::Code::ResourceExhausted => throttled += 1,
            Err(_) => {}
        }
    }
    let elapsed = t0.elapsed();
    let served = honest.stop().await;
    let after = ProcStatus::read(pid).unwrap();
    let row = AttackRow::new(
        format!("metagraph L: {CALLS} empty batches (scraping)"),
        (CALLS * 5) as u64,
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "{answered} answered (≤ {largest} B each), {throttled} throttled in {:.1} s",
        elapsed.as_secs_f64()
    ));
    Report {
        row,
        answered,
        throttled,
        elapsed,
        largest,
    }
}
