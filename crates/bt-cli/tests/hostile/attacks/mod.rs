//! The attacks of the hostile suite, each against a real `bittensor` process on loopback.
//! Shared by the regression tests (`tests/hostile/main.rs`, which assert each bound) and the
//! `hostile` bench (which prints every attack's row as the README's table).
//!
//! An attack module exposes `pub async fn run() -> Report` (its own `Report`, holding an
//! [`AttackRow`] and whatever its test asserts on) and is listed in [`all`].

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod echo;
pub mod http_bodies;
pub mod target;
pub mod tensor_flood;
pub mod tensor_flood_response;
pub mod text_pickle;

use bt_testnet::attack::AttackRow;

/// Every attack in turn (one at a time: each measures its target's memory alone).
pub async fn all() -> Vec<AttackRow> {
    vec![
        http_bodies::run().await.row,
        tensor_flood::run().await.row,
        tensor_flood_response::run().await.row,
        text_pickle::run().await.row,
    ]
}
