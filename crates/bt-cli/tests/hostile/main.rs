//! The hostile suite: each attack of the hardening review (issue #19) reproduced against a
//! real `bittensor` process on loopback, with the bound it must stay within asserted. The
//! `hostile` bench runs the same attacks and prints their table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attacks;

use bt_testnet::attack::AttackRow;

fn print(row: &AttackRow) {
    eprintln!("{}", AttackRow::table(std::slice::from_ref(row)));
}

/// Every honest call made during the attack was served, and there were at least `min` of them.
fn assert_all_served(row: &AttackRow, min: u64) {
    let h = row.honest;
    assert!(
        h.total >= min && h.ok == h.total,
        "honest calls during \"{}\": {h:?} (at least {min}, all served)",
        row.attack
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_http_bodies_cost_at_most_the_budget() {
    let r = attacks::http_bodies::run().await;
    print(&r.row);
    // Without the budget the axon would hold 60 × 16 MiB (960 MiB); with it, one address
    // holds at most 16 MiB (64 MiB for all addresses), plus allocator slack.
    let growth_mib = r.row.growth_kib() / 1024;
    assert!(growth_mib < 100, "axon peak RSS grew by {growth_mib} MiB");
    let attackers = attacks::http_bodies::ATTACKERS;
    assert!(
        r.refused >= attackers - 8,
        "only {} of {attackers} refused",
        r.refused
    );
    assert_all_served(&r.row, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_grpc_streams_do_not_starve_honest_callers() {
    let r = attacks::slowloris::run().await;
    print(&r.row);
    assert_all_served(&r.row, 20);
    // Every stalled stream is ended by the axon within the attack: refused at once past the
    // address's request cap, or at the body deadline.
    assert_eq!(r.ended_by_axon, r.streams, "{}", r.row.outcome);
    let growth_mib = r.row.growth_kib() / 1024;
    // The partial bodies sent 80 MiB; the axon may hold them and HTTP/2's buffers.
    assert!(growth_mib < 200, "axon peak RSS grew by {growth_mib} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_dashboard_connections_are_closed_and_capped_per_address() {
    use attacks::dashboard_slowloris as attack;
    let r = attack::run().await;
    print(&r.row);
    assert_all_served(&r.row, 20);
    // The header deadline holds for silent and trickling connections alike (the slack is
    // for a loaded machine's scheduling).
    let bound = attack::HEADER_TIMEOUT + std::time::Duration::from_secs(2);
    assert!(
        r.longest_held <= bound,
        "a stalled connection stayed open {:?} (bound {bound:?})",
        r.longest_held
    );
    assert!(
        r.closed_by_dashboard * 2 >= r.opened && r.closed_by_dashboard > 0,
        "{}",
        r.row.outcome
    );
    // Each address holds at most its share; the slack covers the honest client's connection,
    // the poller's and refused connections caught between accept and close.
    let held = u64::from(attack::ADDRESSES) * attack::PER_IP as u64;
    assert!(
        r.fds_peak <= r.fds_before + held + 16,
        "dashboard descriptors {} -> {} (at most {held} attacking connections may be held)",
        r.fds_before,
        r.fds_peak
    );
    let growth_mib = r.row.growth_kib() / 1024;
    assert!(
        growth_mib < 32,
        "dashboard peak RSS grew by {growth_mib} MiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minted_keys_with_future_nonces_do_not_lock_out_new_callers() {
    let r = attacks::nonce_flood::run().await;
    print(&r.row);
    assert_all_served(&r.row, 20);
    // One address holds at most max_callers_per_ip (256) live entries; the flood's keys all
    // sign within one freshness window of each other... or go stale and are forgotten.
    let cap = u64::from(attacks::nonce_flood::ADDRESSES) * 256;
    let windows = attacks::nonce_flood::DURATION.as_secs() / 10 + 1;
    assert!(
        r.attacker_accepted <= cap * (windows + 1),
        "{} of {} attacker keys admitted",
        r.attacker_accepted,
        r.attacker_sent
    );
    assert!(
        r.attacker_sent > r.attacker_accepted,
        "the flood was never refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_flood_keeps_sessions_in_use() {
    let r = attacks::handshake_flood::run().await;
    print(&r.row);
    assert_all_served(&r.row, 20);
    assert_eq!(r.session_refusals, 0, "an honest session was pushed out");
    let cap = u64::from(attacks::handshake_flood::ADDRESSES) * attacks::handshake_flood::PER_IP;
    assert!(
        r.attacker_sessions <= cap,
        "{} attacker sessions",
        r.attacker_sessions
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_one_replica_is_refused_at_another() {
    use attacks::digest_replay::CAPTURED;
    let r = attacks::digest_replay::run().await;
    print(&r.row);
    let n = CAPTURED as u64;
    // Genuine captures: A served every call, and the current dendrite signed v2 once A had
    // answered it, the one that predates v2 signed v1.
    assert_eq!(r.served_at_a, (n, n), "{}", r.row.outcome);
    assert_eq!(r.captured, (n, n), "captured (v2, v1)");
    // v2: refused at every other replica, whichever authority the replay claims.
    for (at, replays) in [
        ("B", r.v2_at_b),
        ("B as dialled", r.v2_at_b_as_dialled),
        ("C", r.v2_at_c),
    ] {
        assert_eq!((replays.sent, replays.refused), (n, n), "v2 replay at {at}");
    }
    // v1, while accepted, is what stays replayable: B serves it again...
    assert_eq!(
        (r.v1_at_b.sent, r.v1_at_b.served),
        (n, n),
        "{}",
        r.row.outcome
    );
    // ...and --axon_require_digest_v2 refuses it, replayed or fresh.
    assert_eq!((r.v1_at_c.sent, r.v1_at_c.refused), (n, n));
    assert_eq!(r.fresh_v1_refused_at_c, (n, n));
    // While real dendrites calling C are served (they sign v2 once C offers it).
    assert_all_served(&r.row, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metagraph_squat_cannot_take_a_victims_synapse_key() {
    let r = attacks::metagraph_squat::run().await;
    print(&r.row);
    assert!(r.victim_kept, "the squatter took the victim's synapse key");
    assert!(
        r.attacker_entries <= 4,
        "one neuron key holds {} entries",
        r.attacker_entries
    );
    assert!(
        r.row.growth_kib() / 1024 < 64,
        "peak RSS grew {} KiB",
        r.row.growth_kib()
    );
    assert_all_served(&r.row, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metagraph_address_flood_keeps_the_proven_peers() {
    let r = attacks::metagraph_eclipse::run().await;
    print(&r.row);
    assert_eq!(
        r.honest_kept, r.honest,
        "an address flood evicted honest peers"
    );
    assert!(
        r.row.growth_kib() / 1024 < 64,
        "peak RSS grew {} KiB",
        r.row.growth_kib()
    );
    assert_all_served(&r.row, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metagraph_amplifying_batch_costs_about_its_size() {
    let r = attacks::metagraph_batch::run().await;
    print(&r.row);
    // Two copies of a 4 MB batch (the frame and its buffer) plus a constant, not the
    // hundreds of MiB the whole decode took.
    let growth_mib = r.row.growth_kib() / 1024;
    assert!(growth_mib < 2 * 4 + 32, "peak RSS grew by {growth_mib} MiB");
    assert_eq!(r.answered, attacks::metagraph_batch::SENDS);
    assert_all_served(&r.row, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metagraph_empty_batches_are_throttled_and_bounded() {
    let r = attacks::metagraph_scrape::run().await;
    print(&r.row);
    // One inspection per 200 ms per address (plus the first).
    let allowed = r.elapsed.as_millis() as usize / 200 + 2;
    assert!(
        r.answered <= allowed,
        "{} answered in {:?}",
        r.answered,
        r.elapsed
    );
    assert!(r.throttled > 0);
    // A bounded sample: at most 256 definitions of at most ~1 KiB.
    assert!(r.largest < 256 * 1024, "an answer of {} bytes", r.largest);
    assert_all_served(&r.row, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_transactions_are_paid_for_or_refused() {
    use attacks::failed_tx_spam as spam;
    let r = spam::run().await;
    eprintln!(
        "{}\nbytes sent {}, db growth {} (bytes)",
        bt_testnet::attack::AttackRow::table(std::slice::from_ref(&r.row)),
        r.bytes_sent,
        r.db_growth
    );
    // Exactly the failures it could pay for were included, each for the fee.
    assert_eq!(r.paid, spam::AFFORDABLE);
    assert_eq!(
        r.balance_before - r.balance_after,
        spam::AFFORDABLE * spam::FEE
    );
    assert_eq!(r.balance_after, 0);
    assert_eq!(
        r.refused,
        spam::FUNDED_SPAM - spam::AFFORDABLE + 2 * spam::UNFUNDED_KEYS
    );
    // Storage follows the paid failures: well under 4 KiB each plus redb's growth step, and
    // nothing for the refused ones (which were most of what was sent).
    assert!(
        r.db_growth < 4 * 1024 * spam::AFFORDABLE + (2 << 20),
        "db grew {} bytes",
        r.db_growth
    );
    let growth_mib = r.row.growth_kib() / 1024;
    assert!(growth_mib < 64, "node peak RSS grew by {growth_mib} MiB");
    assert_all_served(&r.row, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_signed_for_one_chain_is_refused_by_another() {
    use attacks::cross_chain_replay as replay;
    let r = replay::run().await;
    print(&r.row);
    assert_ne!(r.genesis_a, r.genesis_b, "two chains share a genesis hash");
    assert_eq!(r.refused_wrong_chain, replay::REPLAYS);
    assert_eq!(r.balance_b.0, r.balance_b.1);
    assert!(r.accepted_on_a, "the transaction is valid on its own chain");
    let growth_mib = r.row.growth_kib() / 1024;
    assert!(growth_mib < 64, "node peak RSS grew by {growth_mib} MiB");
    assert_all_served(&r.row, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_faucet_is_refused_on_a_chain_without_dev() {
    use attacks::faucet_non_dev as faucet;
    let r = faucet::run().await;
    print(&r.row);
    assert_eq!(r.refused, faucet::CALLS);
    assert_eq!(r.minted, 0);
    assert_eq!(r.blocks.0, r.blocks.1, "a refused faucet call made a block");
    assert_eq!(r.cli_code, Some(2), "{}", r.cli_stderr);
    assert!(r.cli_stderr.contains("--dev"), "{}", r.cli_stderr);
    let growth_mib = r.row.growth_kib() / 1024;
    assert!(growth_mib < 64, "node peak RSS grew by {growth_mib} MiB");
    assert_all_served(&r.row, 1);
}

const MIB: u64 = 1 << 20;
/// What a target may spend beyond twice the bytes in flight: allocator arenas, HTTP/2 buffers,
/// the honest load.
const SLACK_MIB: u64 = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_empty_tensors_are_refused_before_decoding() {
    let r = attacks::tensor_flood::run().await;
    print(&r.row);
    // Decoded, each 63 MiB request took 5 GiB; counted first, a request costs its buffering.
    let growth_mib = r.row.growth_kib() / 1024;
    let bound = 2 * r.bytes_at_once / MIB + SLACK_MIB;
    assert!(
        growth_mib <= bound,
        "axon peak RSS grew by {growth_mib} MiB (bound {bound})"
    );
    for a in &r.answers {
        assert_eq!(a.code, tonic::Code::OutOfRange, "{a:?}");
        // The cap the process was started with (`--max_tensors 128`).
        assert!(
            a.message
                .contains("more than 128 tensors (limit max_tensors = 128)"),
            "{a:?}"
        );
    }
    assert_all_served(&r.row, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_of_many_empty_tensors_is_refused_before_decoding() {
    let r = attacks::tensor_flood_response::run().await;
    print(&r.row);
    let growth_mib = r.row.growth_kib() / 1024;
    let bound = 2 * r.bytes_at_once / MIB + SLACK_MIB;
    assert!(
        growth_mib <= bound,
        "dendrite (test process) peak RSS grew by {growth_mib} MiB (bound {bound})"
    );
    assert_eq!(r.outcomes.len(), attacks::tensor_flood_response::AT_ONCE);
    for o in &r.outcomes {
        assert!(
            o.starts_with("decode: ") && o.contains("limit max_tensors = 256"),
            "{o}"
        );
    }
    assert_all_served(&r.row, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_pickles_are_counted_not_built() {
    let r = attacks::text_pickle::run().await;
    print(&r.row);
    // Built as a list, the back-references took +868 MiB and the 1-char strings +685 MiB.
    let growth_mib = r.row.growth_kib() / 1024;
    let bound = 2 * r.largest / MIB + SLACK_MIB;
    assert!(
        growth_mib <= bound,
        "axon peak RSS grew by {growth_mib} MiB (bound {bound})"
    );
    assert_eq!(
        r.back_refs.code,
        tonic::Code::InvalidArgument,
        "{:?}",
        r.back_refs
    );
    assert!(
        r.back_refs
            .message
            .contains("pickle holds more than 16777216 strings"),
        "{:?}",
        r.back_refs
    );
    // Valid text: served, echoed back whole.
    assert_eq!(r.one_char.code, tonic::Code::Ok, "{:?}", r.one_char);
    assert!(r.one_char.response_bytes > 48 << 20, "{:?}", r.one_char);
    assert_all_served(&r.row, 1);
}

/// The caps are flags of the binary (they used to be library fields only): tiny ones given on
/// the command line are the ones the running axon and metagraph enforce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_given_as_flags_are_enforced_by_the_running_neuron() {
    use attacks::gossip::{channel, gossip, now_ms, sealed, table};
    use bt_crypto::NeuronKey;

    let neuron = attacks::target::EchoNeuron::start(&[
        "--axon_max_callers_per_ip",
        "2",
        "--metagraph_max_synapses_per_neuron",
        "1",
    ])
    .await;
    // Each call comes from a new key, so each takes an entry of the nonce table; the default
    // (256 per address) would admit all three.
    let mut newcomer = neuron.newcomer_caller();
    let served = [newcomer().await, newcomer().await, newcomer().await];
    assert_eq!(
        served,
        [true, true, false],
        "--axon_max_callers_per_ip 2: the third new key from one address is refused"
    );

    // One neuron key publishes three proven definitions; the default (4) would keep them all.
    let publisher = NeuronKey::generate();
    let heartbeat = now_ms();
    let synapses: Vec<_> = (0..3)
        .map(|i| {
            let s = NeuronKey::generate();
            sealed(&publisher, s.public_hex(), 7_000 + i, Some(&s), heartbeat)
        })
        .collect();
    let batch = bt_wire::GossipBatch {
        version: 0.0,
        peers: vec![],
        synapses,
    };
    gossip(&channel(&neuron.metagraph).await, &batch)
        .await
        .unwrap();
    let publisher_hex = publisher.public_hex();
    let held = bt_testnet::eventually_async_some(
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(250),
        || async {
            let n = table(&neuron.metagraph)
                .await
                .iter()
                .filter(|r| r.neuron_key == publisher_hex)
                .count();
            (n > 0).then_some(n)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        held, 1,
        "--metagraph_max_synapses_per_neuron 1: one definition per neuron key"
    );
}

/// A cap of 0 or beyond its range stops the binary with a usage error naming the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_caps_are_usage_errors_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--axon_max_in_flight", "0"),
        ("--metagraph_inspect_interval_ms", "99999999999"),
        ("--http_max_cached_keys", "0"),
    ] {
        let out = attacks::target::bittensor()
            .args(["neuron", "echo", "--remote_ip", "127.0.0.1", flag, value])
            .current_dir(dir.path())
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(&flag[2..]), "{flag} {value}: {stderr}");
    }
}
