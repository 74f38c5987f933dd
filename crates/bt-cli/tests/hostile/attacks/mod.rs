//! The attacks of the hostile suite, each against a real `bittensor` process on loopback.
//! Shared by the regression tests (`tests/hostile/main.rs`, which assert each bound) and the
//! `hostile` bench (which prints every attack's row as the README's table).
//!
//! An attack module exposes `pub async fn run() -> Report` (its own `Report`, holding an
//! [`AttackRow`] and whatever its test asserts on) and is listed in [`all`].

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod chain_node;
pub mod cross_chain_replay;
pub mod dashboard_slowloris;
pub mod digest_replay;
pub mod echo;
pub mod failed_tx_spam;
pub mod faucet_non_dev;
pub mod gossip;
pub mod handshake_flood;
pub mod http_bodies;
pub mod metagraph_batch;
pub mod metagraph_eclipse;
pub mod metagraph_scrape;
pub mod metagraph_squat;
pub mod nonce_flood;
pub mod slowloris;
pub mod tap;
pub mod target;
pub mod tensor_flood;
pub mod tensor_flood_response;
pub mod text_pickle;

use bt_testnet::attack::AttackRow;

/// Every attack in turn (one at a time: each measures its target's memory alone).
pub async fn all() -> Vec<AttackRow> {
    vec![
        http_bodies::run().await.row,
        failed_tx_spam::run().await.row,
        cross_chain_replay::run().await.row,
        faucet_non_dev::run().await.row,
        slowloris::run().await.row,
        dashboard_slowloris::run().await.row,
        tensor_flood::run().await.row,
        tensor_flood_response::run().await.row,
        text_pickle::run().await.row,
        nonce_flood::run().await.row,
        handshake_flood::run().await.row,
        digest_replay::run().await.row,
        metagraph_squat::run().await.row,
        metagraph_eclipse::run().await.row,
        metagraph_batch::run().await.row,
        metagraph_scrape::run().await.row,
    ]
}
