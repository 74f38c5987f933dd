//! H1 (gossip): a 4 MiB batch of two million empty definitions decodes, whole, to hundreds of
//! MiB. The bounded decoder reads at most `max_batch_synapses` entries.

use std::time::Duration;

use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use bytes::Bytes;

use super::gossip::{EchoNeuron, channel, gossip_raw, honest_inspect};

/// Just under the gossip message limit (4 MiB).
pub const BATCH: usize = 4_000_000;
pub const SENDS: usize = 4;

pub struct Report {
    pub row: AttackRow,
    /// Batches the target answered (it reads the first entries and skips the rest).
    pub answered: usize,
}

pub async fn run() -> Report {
    let dir = tempfile::tempdir().unwrap();
    let target = EchoNeuron::start(dir.path(), "target", None).await;
    let pid = target.pid();
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    let honest = HonestLoad::start(
        Duration::from_millis(500),
        honest_inspect(target.metagraph().to_owned()),
    );
    // Field 3 (synapses), length 0: one empty `Synapse`, two bytes each.
    let body = Bytes::from([0x1au8, 0x00].repeat(BATCH / 2));
    let ch = channel(target.metagraph()).await;
    let mut answered = 0;
    for _ in 0..SENDS {
        answered += usize::from(gossip_raw(&ch, body.clone()).await.is_ok());
    }
    let served = honest.stop().await;
    let after = ProcStatus::read(pid).unwrap();
    let row = AttackRow::new(
        format!("metagraph H1: {SENDS} × 4 MB batches of empty definitions"),
        (BATCH * SENDS) as u64,
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "{answered} of {SENDS} answered, entries beyond the cap skipped"
    ));
    Report { row, answered }
}
