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
    assert!(
        r.row.honest.total > 0 && r.row.honest.ok == r.row.honest.total,
        "honest readers were not all served: {:?}",
        r.row.honest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_signed_for_one_chain_is_refused_by_another() {
    use attacks::cross_chain_replay as replay;
    let r = replay::run().await;
    eprintln!(
        "{}",
        bt_testnet::attack::AttackRow::table(std::slice::from_ref(&r.row))
    );
    assert_ne!(r.genesis_a, r.genesis_b, "two chains share a genesis hash");
    assert_eq!(r.refused_wrong_chain, replay::REPLAYS);
    assert_eq!(r.balance_b.0, r.balance_b.1);
    assert!(r.accepted_on_a, "the transaction is valid on its own chain");
    let growth_mib = r.row.growth_kib() / 1024;
    assert!(growth_mib < 64, "node peak RSS grew by {growth_mib} MiB");
    assert!(
        r.row.honest.total > 0 && r.row.honest.ok == r.row.honest.total,
        "honest readers were not all served: {:?}",
        r.row.honest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_faucet_is_refused_on_a_chain_without_dev() {
    use attacks::faucet_non_dev as faucet;
    let r = faucet::run().await;
    eprintln!(
        "{}",
        bt_testnet::attack::AttackRow::table(std::slice::from_ref(&r.row))
    );
    assert_eq!(r.refused, faucet::CALLS);
    assert_eq!(r.minted, 0);
    assert_eq!(r.blocks.0, r.blocks.1, "a refused faucet call made a block");
    assert_eq!(r.cli_code, Some(2), "{}", r.cli_stderr);
    assert!(r.cli_stderr.contains("--dev"), "{}", r.cli_stderr);
    let growth_mib = r.row.growth_kib() / 1024;
    assert!(growth_mib < 64, "node peak RSS grew by {growth_mib} MiB");
    assert!(
        r.row.honest.total > 0 && r.row.honest.ok == r.row.honest.total,
        "honest readers were not all served: {:?}",
        r.row.honest
    );
}
