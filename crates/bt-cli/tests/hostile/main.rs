//! The hostile suite: each attack of the hardening review (issue #19) reproduced against a
//! real `bittensor` process on loopback, with the bound it must stay within asserted. The
//! `hostile` bench runs the same attacks and prints their table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attacks;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_http_bodies_cost_at_most_the_budget() {
    let r = attacks::http_bodies::run().await;
    eprintln!(
        "{}",
        bt_testnet::attack::AttackRow::table(std::slice::from_ref(&r.row))
    );
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
    assert!(
        r.row.honest.total > 0 && r.row.honest.ok == r.row.honest.total,
        "honest v10 callers were not all served: {:?}",
        r.row.honest
    );
}

const MIB: u64 = 1 << 20;
/// What a target may spend beyond twice the bytes in flight: allocator arenas, HTTP/2 buffers,
/// the honest load.
const SLACK_MIB: u64 = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_empty_tensors_are_refused_before_decoding() {
    let r = attacks::tensor_flood::run().await;
    eprintln!(
        "{}",
        bt_testnet::attack::AttackRow::table(std::slice::from_ref(&r.row))
    );
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
    assert!(
        r.row.honest.total > 0 && r.row.honest.ok == r.row.honest.total,
        "honest Forward calls were not all served: {:?}",
        r.row.honest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_of_many_empty_tensors_is_refused_before_decoding() {
    let r = attacks::tensor_flood_response::run().await;
    eprintln!(
        "{}",
        bt_testnet::attack::AttackRow::table(std::slice::from_ref(&r.row))
    );
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
    assert!(
        r.row.honest.total > 0 && r.row.honest.ok == r.row.honest.total,
        "honest Forward calls were not all served: {:?}",
        r.row.honest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_pickles_are_counted_not_built() {
    let r = attacks::text_pickle::run().await;
    eprintln!(
        "{}",
        bt_testnet::attack::AttackRow::table(std::slice::from_ref(&r.row))
    );
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
    assert!(
        r.row.honest.total > 0 && r.row.honest.ok == r.row.honest.total,
        "honest Forward calls were not all served: {:?}",
        r.row.honest
    );
}
