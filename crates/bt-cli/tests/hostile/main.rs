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
