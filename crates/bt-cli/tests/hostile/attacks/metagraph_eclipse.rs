//! M1: a flood of self-advertised and second-hand metagraph addresses must not evict the
//! peers that answered the target's calls (an eclipse).

use std::time::Duration;

use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use bt_wire::GossipBatch;

use super::gossip::{EchoNeuron, channel, gossip, honest_inspect};

pub const PUSHES: usize = 40;

pub struct Report {
    pub row: AttackRow,
    /// The honest peers the target still lists as proven after the flood.
    pub honest_kept: usize,
    pub honest: usize,
}

/// The target's proven peers, read from the answer to an inspection.
async fn proven_peers(addr: &str) -> Vec<String> {
    bt_testnet::eventually_async_some(
        Duration::from_secs(30),
        Duration::from_millis(250),
        || async {
            let ch = bt_metagraph_peers(addr).await?;
            Some(ch)
        },
    )
    .await
    .unwrap()
}

async fn bt_metagraph_peers(addr: &str) -> Option<Vec<String>> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect()
        .await
        .ok()?;
    let mut client =
        bt_wire::metagraph_client::MetagraphClient::new(ch).max_decoding_message_size(16 << 20);
    let answer = client
        .gossip(GossipBatch::default())
        .await
        .ok()?
        .into_inner();
    Some(answer.peers)
}

pub async fn run() -> Report {
    let dir = tempfile::tempdir().unwrap();
    let target = EchoNeuron::start(dir.path(), "target", None).await;
    let a = EchoNeuron::start(dir.path(), "honest-a", Some(target.metagraph())).await;
    let b = EchoNeuron::start(dir.path(), "honest-b", Some(target.metagraph())).await;
    let honest_addrs = [a.ready.metagraph.clone(), b.ready.metagraph.clone()];
    bt_testnet::eventually_async_some(
        Duration::from_secs(60),
        Duration::from_millis(300),
        || async {
            let p = proven_peers(target.metagraph()).await;
            honest_addrs.iter().all(|h| p.contains(h)).then_some(())
        },
    )
    .await
    .unwrap();
    let pid = target.pid();
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    let honest = HonestLoad::start(
        Duration::from_millis(500),
        honest_inspect(target.metagraph().to_owned()),
    );

    let ch = channel(target.metagraph()).await;
    let mut sent = 0u64;
    for i in 0..PUSHES {
        // The first address names the connection's source IP (a believable claim); all are
        // unused ports.
        let peers = (0..64)
            .map(|j| format!("127.0.0.1:{}", 20_000 + i * 64 + j))
            .collect();
        let batch = GossipBatch {
            version: 0.0,
            peers,
            synapses: vec![],
        };
        sent += prost::Message::encoded_len(&batch) as u64;
        let _ = gossip(&ch, &batch).await;
    }
    // Stopped first: our own inspection below shares the honest caller's address and throttle.
    let served = honest.stop().await;
    let peers = proven_peers(target.metagraph()).await;
    let after = ProcStatus::read(pid).unwrap();
    let honest_kept = honest_addrs.iter().filter(|h| peers.contains(h)).count();
    let row = AttackRow::new(
        format!("metagraph M1: {PUSHES} pushes of 64 claimed addresses"),
        sent,
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "{honest_kept} of {} honest peers kept",
        honest_addrs.len()
    ));
    Report {
        row,
        honest_kept,
        honest: honest_addrs.len(),
    }
}
