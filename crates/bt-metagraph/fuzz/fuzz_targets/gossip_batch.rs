//! Untrusted gossip bytes: the bounded decoder (counts and sizes before prost), then triage,
//! verify (real Ed25519 + work + synapse proof) and admit, and build the answer. Must never
//! panic; the decoder must keep within its limits and agree with prost on batches within
//! them; the table must stay within its caps and hold nothing unsigned.
#![no_main]

use bt_metagraph::codec::{BatchLimits, decode_bounded};
use bt_metagraph::{CryptoVerifier, MetagraphTable, PeerAddr, TableConfig};
use bt_wire::{GossipBatch, Synapse};
use libfuzzer_sys::fuzz_target;
use prost::Message;

const NOW: u64 = 1_763_780_000_000;
const LIMITS: BatchLimits = BatchLimits { max_synapses: 64, max_peers: 16 };

fuzz_target!(|data: &[u8]| {
    let Ok(bounded) = decode_bounded(data, LIMITS) else { return };
    let batch = bounded.batch;
    assert!(batch.synapses.len() <= LIMITS.max_synapses && batch.peers.len() <= LIMITS.max_peers);
    if bounded.skipped.is_empty()
        && let Ok(whole) = GossipBatch::decode(data)
    {
        // Compared encoded: a NaN `version` is never equal to itself.
        assert_eq!(
            whole.encode_to_vec(),
            batch.encode_to_vec(),
            "bounded decoding differs from prost within the limits"
        );
    }
    let cfg = TableConfig {
        capacity: 8,
        max_peers: 4,
        max_batch_synapses: 64,
        max_batch_peers: 16,
        max_synapses_per_neuron: 2,
        ..TableConfig::default()
    };
    let mut table = MetagraphTable::new(cfg);
    if let Ok(own) = PeerAddr::parse("127.0.0.1:8120") {
        table.set_own_address(own);
    }
    table.count_skipped(&bounded.skipped);
    let report = table.sink(&batch, NOW, &CryptoVerifier { difficulty_bits: 4 });
    assert!(table.len() <= 8 && table.peer_count() <= 4);
    // Random bytes cannot carry a valid Ed25519 signature over a valid work digest.
    assert_eq!(report.added + report.refreshed, 0);
    let sent: Vec<&Synapse> = batch.synapses.iter().take(64).collect();
    let _ = table.answer_sample(&sent, 16, 1);
    let _ = table.advertised_peers(8, NOW, 2);
    table.clean(1_000, NOW);
});
