//! Property tests of the table invariants, and of the real verifier on sealed definitions.

use bt_crypto::NeuronKey;
use bt_metagraph::sim::sim_synapse;
use bt_metagraph::validate::TimeLimits;
use bt_metagraph::{
    CryptoVerifier, MetagraphTable, PreVerified, Rejection, TableConfig, VerifiedSynapse,
};
use bt_wire::{GossipBatch, Synapse};
use proptest::prelude::*;

const NOW: u64 = 1_000_000;

fn cfg(capacity: usize) -> TableConfig {
    TableConfig {
        capacity,
        max_peers: 8,
        ttl_ms: 100_000,
        ..TableConfig::default()
    }
}

/// (key index, heartbeat age in ms) pairs, turned into structurally valid definitions.
fn batch(entries: &[(usize, u64)], peers: &[String]) -> GossipBatch {
    GossipBatch {
        version: 0.0,
        peers: peers.to_vec(),
        synapses: entries
            .iter()
            .map(|(k, age)| sim_synapse(*k, NOW - age))
            .collect(),
    }
}

fn entries() -> impl Strategy<Value = Vec<(usize, u64)>> {
    prop::collection::vec((0usize..40, 0u64..90_000), 0..60)
}

fn peers() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![
            (1u16..50).prop_map(|p| format!("127.0.0.1:{p}")),
            ".{0,20}".prop_map(|s| s),
        ],
        0..20,
    )
}

proptest! {
    #[test]
    fn never_exceeds_its_caps(capacity in 1usize..30, batches in prop::collection::vec((entries(), peers()), 1..6)) {
        let mut t = MetagraphTable::new(cfg(capacity));
        for (e, p) in &batches {
            t.sink(&batch(e, p), NOW, &PreVerified);
            prop_assert!(t.len() <= capacity);
            prop_assert!(t.peer_count() <= 8);
        }
        t.clean(50_000, NOW);
        prop_assert!(t.snapshot().iter().all(|s| NOW - s.heartbeat_ms <= 50_000));
    }

    #[test]
    fn sink_is_idempotent(capacity in 1usize..60, e in entries(), p in peers()) {
        let mut t = MetagraphTable::new(cfg(capacity));
        let b = batch(&e, &p);
        t.sink(&b, NOW, &PreVerified);
        let (snap, npeers) = (t.snapshot(), t.peer_count());
        let again = t.sink(&b, NOW, &PreVerified);
        prop_assert_eq!(again.added + again.refreshed + again.evicted, 0);
        prop_assert_eq!(t.snapshot(), snap);
        prop_assert_eq!(t.peer_count(), npeers);
    }

    #[test]
    fn newest_heartbeat_wins(e in entries(), split in 0usize..60) {
        // Room for every key: nothing is evicted, so each key must hold its newest heartbeat
        // whatever the order and batching.
        let mut t = MetagraphTable::new(cfg(64));
        let (a, b) = e.split_at(split.min(e.len()));
        t.sink(&batch(b, &[]), NOW, &PreVerified);
        t.sink(&batch(a, &[]), NOW, &PreVerified);
        for (k, _) in &e {
            let newest = e.iter().filter(|(k2, _)| k2 == k).map(|(_, age)| NOW - age).max();
            let key = sim_synapse(*k, 0).synapse_key;
            prop_assert_eq!(t.heartbeat_of(&key), newest);
        }
    }

    #[test]
    fn full_table_evicts_only_for_fresher(e in entries()) {
        let mut t = MetagraphTable::new(cfg(5));
        // One definition per batch: within a batch, a stale definition may take a free slot
        // before a fresher one evicts something, which this property does not describe.
        for chunk in e.chunks(1) {
            let before: Vec<u64> = t.snapshot().iter().map(|s| s.heartbeat_ms).collect();
            let report = t.sink(&batch(chunk, &[]), NOW, &PreVerified);
            if report.evicted > 0 {
                let oldest_before = before.iter().min().copied().unwrap_or(0);
                let oldest_after = t.snapshot().iter().map(|s| s.heartbeat_ms).min().unwrap_or(0);
                prop_assert!(oldest_after >= oldest_before);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_or_enter(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        use prost::Message;
        let mut t = MetagraphTable::new(cfg(16));
        if let Ok(b) = GossipBatch::decode(bytes.as_slice()) {
            t.sink(&b, NOW, &CryptoVerifier { difficulty_bits: 8 });
        }
        prop_assert_eq!(t.len(), 0);
    }
}

fn sealed(seed: u8, heartbeat: u64) -> Synapse {
    sealed_by(seed, seed ^ 0xff, heartbeat)
}

/// A definition of the synapse of seed `synapse`, announced and proven for neuron `neuron`.
fn sealed_by(neuron: u8, synapse: u8, heartbeat: u64) -> Synapse {
    let key = NeuronKey::from_seed([neuron; 32]);
    let secret = NeuronKey::from_seed([synapse; 32]);
    let mut s = Synapse {
        version: "0.1.0".into(),
        neuron_key: key.public_hex(),
        synapse_key: secret.public_hex(),
        address: "127.0.0.1".into(),
        port: "8091".into(),
        block_hash: heartbeat.to_string(),
        ..Default::default()
    };
    bt_crypto::prove_synapse(&secret, &mut s).unwrap();
    bt_crypto::seal_synapse(&key, &mut s, 8).unwrap();
    s
}

fn one(s: Synapse) -> GossipBatch {
    GossipBatch {
        version: 0.0,
        peers: vec![],
        synapses: vec![s],
    }
}

/// H3: whoever announces a synapse key must hold it. A squatter's own neuron key cannot carry
/// the victim's proof, proofs are bound to the endpoint, and unproven definitions (nodes that
/// predate proofs) are refused.
#[test]
fn only_the_synapse_key_holder_binds_it() {
    let v = CryptoVerifier { difficulty_bits: 8 };
    let victim = sealed_by(1, 0x81, NOW);
    let mut t = MetagraphTable::new(cfg(8));
    // Squat on a key the table does not hold yet: the victim's proof names the victim.
    let mut squat = victim.clone();
    squat.address = "10.6.6.6".into();
    squat.block_hash = (NOW + 1).to_string();
    bt_crypto::seal_synapse(&NeuronKey::from_seed([9; 32]), &mut squat, 8).unwrap();
    let r = t.sink(&one(squat), NOW, &v);
    assert_eq!(r.rejected.get(&Rejection::BadSynapseProof), Some(&1));
    // The victim's own proof does not move with its endpoint.
    let mut moved = victim.clone();
    moved.port = "9999".into();
    bt_crypto::seal_synapse(&NeuronKey::from_seed([1; 32]), &mut moved, 8).unwrap();
    let r = t.sink(&one(moved), NOW, &v);
    assert_eq!(r.rejected.get(&Rejection::BadSynapseProof), Some(&1));
    let mut unproven = victim.clone();
    unproven.synapse_proof = Default::default();
    let r = t.sink(&one(unproven), NOW, &v);
    assert_eq!(r.rejected.get(&Rejection::Unproven), Some(&1));
    assert!(t.is_empty());
    assert_eq!(t.sink(&one(victim), NOW, &v).added, 1);
}

/// One neuron key holds at most `max_synapses_per_neuron` definitions, and a full table
/// refuses newcomers rather than evict a live definition; an expired one makes room.
#[test]
fn per_neuron_cap_and_live_entries_are_never_evicted() {
    let v = CryptoVerifier { difficulty_bits: 8 };
    let mut t = MetagraphTable::new(TableConfig {
        max_synapses_per_neuron: 2,
        ..cfg(3)
    });
    for s in 0..3u8 {
        t.sink(&one(sealed_by(1, 0x40 + s, NOW)), NOW, &v);
    }
    assert_eq!(t.len(), 2);
    assert_eq!(t.rejections().get(&Rejection::TooManyPerNeuron), Some(&1));
    // The table fills with a stale but live entry; a fresher newcomer is refused.
    t.sink(&one(sealed_by(2, 0x50, NOW - 90_000)), NOW, &v);
    assert_eq!(t.len(), 3);
    let newcomer = sealed_by(3, 0x60, NOW + 4_000);
    let r = t.sink(&one(newcomer.clone()), NOW, &v);
    assert_eq!(r.rejected.get(&Rejection::TableFull), Some(&1));
    assert!(t.contains(&sealed_by(2, 0x50, 0).synapse_key));
    // Once the stale one has expired it is evicted for the newcomer.
    let later = NOW + 20_000;
    let r = t.sink(&one(newcomer.clone()), later, &v);
    assert_eq!((r.added, r.evicted), (1, 1));
    assert!(t.contains(&newcomer.synapse_key));
}

/// M1: a flood of addresses (claimed or second hand) never evicts a peer that answered our
/// call.
#[test]
fn a_peer_flood_never_evicts_proven_peers() {
    let addr =
        |i: usize| bt_metagraph::PeerAddr::parse(&format!("127.0.0.1:{}", 1000 + i)).unwrap();
    let mut t = MetagraphTable::new(cfg(4));
    for i in 0..3 {
        t.add_peer(addr(i), NOW);
        t.peer_succeeded(&addr(i), NOW);
    }
    for round in 0..50u64 {
        let flood: Vec<String> = (0..16)
            .map(|j| addr(100 + round as usize * 16 + j).to_string())
            .collect();
        let b = GossipBatch {
            version: 0.0,
            peers: flood,
            synapses: vec![],
        };
        t.sink(&b, NOW + round, &PreVerified);
    }
    assert!(t.peer_count() <= 8);
    for i in 0..3 {
        assert!(t.peer_proven(&addr(i)), "proven peer {i} was evicted");
    }
}

#[test]
fn crypto_verifier_accepts_sealed_and_refuses_tampering() {
    let limits = TimeLimits {
        max_future_skew_ms: 5_000,
        ttl_ms: 100_000,
    };
    let v = CryptoVerifier { difficulty_bits: 8 };
    let good = sealed(1, NOW);
    assert!(VerifiedSynapse::verify(good.clone(), NOW, limits, &v).is_ok());
    let mut moved = good.clone();
    moved.port = "8092".into();
    assert_eq!(
        VerifiedSynapse::verify(moved, NOW, limits, &v).err(),
        Some(Rejection::BadProofOfWork)
    );
    let mut unsigned = good.clone();
    unsigned.signature = vec![0; 64].into();
    assert_eq!(
        VerifiedSynapse::verify(unsigned, NOW, limits, &v).err(),
        Some(Rejection::BadSignature)
    );
    let harder = CryptoVerifier {
        difficulty_bits: 30,
    };
    assert_eq!(
        VerifiedSynapse::verify(good.clone(), NOW, limits, &harder).err(),
        Some(Rejection::BadProofOfWork)
    );
    let future = sealed(2, NOW + 60_000);
    assert_eq!(
        VerifiedSynapse::verify(future, NOW, limits, &v).err(),
        Some(Rejection::FromTheFuture)
    );
    let old = sealed(3, NOW - 200_000);
    assert_eq!(
        VerifiedSynapse::verify(old, NOW, limits, &v).err(),
        Some(Rejection::Expired)
    );

    // A re-announcement with a newer heartbeat replaces the old one; a squatter does not.
    let mut t = MetagraphTable::new(cfg(8));
    let b = |s: Synapse| GossipBatch {
        version: 0.0,
        peers: vec![],
        synapses: vec![s],
    };
    assert_eq!(t.sink(&b(sealed(1, NOW - 10)), NOW, &v).added, 1);
    assert_eq!(t.sink(&b(sealed(1, NOW)), NOW, &v).refreshed, 1);
    assert_eq!(t.heartbeat_of(&good.synapse_key), Some(NOW));
    let mut squat = good.clone();
    squat.block_hash = (NOW + 1).to_string();
    bt_crypto::seal_synapse(&NeuronKey::from_seed([9; 32]), &mut squat, 8).unwrap();
    let r = t.sink(&b(squat), NOW, &v);
    assert_eq!(r.rejected.get(&Rejection::Impersonation), Some(&1));
    assert_eq!(t.heartbeat_of(&good.synapse_key), Some(NOW));
}

#[test]
fn weights_get_and_set() {
    let mut t = MetagraphTable::new(cfg(8));
    t.sink(&batch(&[(1, 0), (2, 0)], &[]), NOW, &PreVerified);
    let k1 = sim_synapse(1, 0).synapse_key;
    let k2 = sim_synapse(2, 0).synapse_key;
    assert_eq!(t.set_weights(&[&k1, "0xunknown"], &[0.5, 1.0]).unwrap(), 1);
    assert_eq!(t.weights(&[&k1, &k2, "0xunknown"]), vec![0.5, 0.0, 0.0]);
    assert!(t.set_weights(&[&k1], &[f32::NAN]).is_err());
    assert!(t.set_weights(&[&k1], &[]).is_err());
    // The high-weight synapse dominates small samples.
    t.set_weights(&[&k1], &[1_000.0]).unwrap();
    let firsts = (0..100)
        .filter(|s| t.synapses(1, NOW, *s)[0].synapse_key == k1)
        .count();
    assert!(firsts > 90, "{firsts}");
}

#[test]
fn a_second_name_of_a_peer_goes_once_its_own_name_is_proven_or_it_is_us() {
    let addr = |s: &str| bt_metagraph::PeerAddr::parse(s).unwrap();
    let mut t = MetagraphTable::new(cfg(10));
    t.set_own_address(addr("192.0.2.1:8120"));
    // We bootstrapped to a peer by its loopback name; it answers as its LAN name.
    let (alias, lan) = (addr("127.0.0.1:8121"), addr("192.0.2.2:8121"));
    t.add_peer(alias.clone(), NOW);
    t.peer_succeeded(&alias, NOW);
    t.add_peer(lan.clone(), NOW);
    // The LAN name is second hand only: the name that works stays.
    assert!(!t.peer_alias(&alias, &lan, NOW));
    assert_eq!(t.peer_count(), 2);
    // Once the LAN name has shown it is alive, the alias goes, for good.
    t.peer_succeeded(&lan, NOW + 1);
    assert!(t.peer_alias(&alias, &lan, NOW + 2));
    assert_eq!(t.peers(10, NOW + 2, 0), vec![lan.clone()]);
    t.add_peer(alias.clone(), NOW + 3);
    assert_eq!(t.peer_count(), 1, "an alias is not re-learned second hand");
    // Our own loopback name, learned second hand and answered by ourselves.
    let me = addr("127.0.0.1:8120");
    t.add_peer(me.clone(), NOW);
    assert!(t.peer_alias(&me, &addr("192.0.2.1:8120"), NOW));
    assert_eq!(t.peers(10, NOW, 0), vec![lan.clone()]);
    // A peer answering as itself is no alias.
    assert!(!t.peer_alias(&lan, &lan, NOW));
}
