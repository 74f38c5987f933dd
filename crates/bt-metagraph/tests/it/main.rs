//! One integration-test binary for the crate (reth's `tests/it` layout): real servers on
//! 127.0.0.1 port 0, driven through `bt-testnet`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack;
mod network;
mod sweep;
mod table_props;
