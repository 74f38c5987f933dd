//! `bittensor dashboard`: one web page that shows a running network.
//!
//! The page and its scripts are embedded in the binary (no CDN: it works offline) and served
//! with axum. Its data is one JSON snapshot (`GET /api/state`) kept current by a poller and
//! pushed to the page over server-sent events (`GET /api/events`), throttled and bounded
//! ([`DashboardConfig`]).
//!
//! The sources are the same ones a person uses from the command line: each neuron's
//! Prometheus endpoint (`/metrics`: training, the router's scores, the dendrite's view of each
//! peer, and `bt_neuron_info`, which names its metagraph address), the metagraph's `inspect`
//! path through one neuron at a time, and a [`bt_interfaces::Chain`] for a subnet's rows.
//! Everything is read-only: nothing here sends a transaction or joins the gossip.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod error;
mod poll;
pub mod prom;
pub mod scrape;
mod server;
pub mod state;

pub use config::DashboardConfig;
pub use error::DashboardError;
pub use server::{DashboardHandle, serve};
