//! The fault harness's parts: a [`FaultProxy`] per link (delay, loss, cut made in user space:
//! this kernel has no `netem`), a [`Schedule`] of faults in time, and a [`Monitor`] of every
//! process's memory and descriptors against stated bounds. The scenario that runs a chain node
//! and neurons as real processes under a schedule lives with the `bittensor` binary's tests
//! (`crates/bt-cli/tests/faults/`), which the `soak` bench shares.

mod monitor;
mod proxy;
mod schedule;

pub use monitor::{Bounds, Monitor, Peak, Violation};
pub use proxy::{FaultProxy, LinkFaults, MAX_CONNECTIONS, ProxyStats};
pub use schedule::{Fault, FaultKind, Schedule, Step};
