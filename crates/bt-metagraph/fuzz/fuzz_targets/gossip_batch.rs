//! Untrusted gossip bytes: decode a `GossipBatch`, triage, verify (real Ed25519 + work) and
//! admit it, and build the answer. Must never panic, and the table must stay within its caps
//! and hold nothing unsigned.
#![no_main]

use bt_metagraph::{CryptoVerifier, MetagraphTable, PeerAddr, TableConfig};
use bt_wire::{GossipBatch, Synapse};
use libfuzzer_sys::fuzz_target;
use prost::Message;

const NOW: u64 = 1_763_780_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = GossipBatch::decode(data) else { return };
    let cfg = TableConfig { capacity: 8, max_peers: 4, max_batch_synapses: 64, max_batch_peers: 16, ..TableConfig::default() };
    let mut table = MetagraphTable::new(cfg);
    if let Ok(own) = PeerAddr::parse("127.0.0.1:8120") {
        table.set_own_address(own);
    }
    let report = table.sink(&batch, NOW, &CryptoVerifier { difficulty_bits: 4 });
    assert!(table.len() <= 8 && table.peer_count() <= 4);
    // Random bytes cannot carry a valid Ed25519 signature over a valid work digest.
    assert_eq!(report.added + report.refreshed, 0);
    let sent: Vec<&Synapse> = batch.synapses.iter().take(64).collect();
    let _ = table.answer_sample(&sent, 16, 1);
    let _ = table.advertised_peers(8, NOW, 2);
    table.clean(1_000, NOW);
});
