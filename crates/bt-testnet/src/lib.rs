//! Test harness: many nodes in one process on 127.0.0.1, nodes that can be killed or cut
//! off, and `eventually` instead of sleeps.
//!
//! - [`eventually`] / [`eventually_some`]: poll a condition until it holds or a deadline
//!   passes (the only way tests here wait).
//! - [`free_port`] / [`free_addr`]: ports for things that cannot bind port 0 themselves.
//! - [`FaultProxy`]: a TCP forwarder in front of a node; [`FaultProxy::cut`] makes the node
//!   unreachable (new and existing connections dropped) without stopping it,
//!   [`FaultProxy::heal`] undoes it, and [`FaultProxy::set_faults`] adds delay and loss.
//! - [`Testnet`]: a generic, index-addressed set of running nodes of any kind implementing
//!   [`TestNode`] (kill one, look at the survivors); [`metagraph::MetagraphTestnet`] builds on
//!   it for gossip nodes, and later neuron harnesses can do the same.
//! - [`attack`]: a target process's peak RSS and descriptors from `/proc`, honest traffic
//!   counted during an attack, and the hostile table's rows.
//! - [`faults`]: the fault harness: its proxy, schedule and RSS/descriptor monitor.
//! - [`chopsticks::Chopsticks`]: a real subtensor runtime (Chopsticks) on loopback.
//! - [`ChildProcess`] ([`process`]): real processes (e.g. `bittensor neuron echo`) with their
//!   output captured in a bounded ring, a deadline on every wait, SIGKILL, kill on drop, and
//!   the output tail in every failure message.
//!
//! ```no_run
//! # async fn demo() -> Result<(), bt_testnet::HarnessError> {
//! use std::time::Duration;
//! use bt_testnet::metagraph::MetagraphTestnet;
//! let mut net = MetagraphTestnet::start(3, Duration::from_millis(100), 20).await?;
//! bt_testnet::eventually(Duration::from_secs(5), || net.fully_connected()).await?;
//! net.kill(2).await;
//! # Ok(()) }
//! ```

pub mod attack;
pub mod chopsticks;
pub mod faults;
pub mod metagraph;
pub mod process;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

pub use faults::FaultProxy;
pub use process::ChildProcess;

/// Everything the harness can fail with.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("condition still false after {waited:?}")]
    TimedOut { waited: Duration },
    #[error("harness I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("starting node {index}: {reason}")]
    Start { index: usize, reason: String },
    #[error("node {index} is not running")]
    NotRunning { index: usize },
    #[error("cannot start process {name}: {source}")]
    Spawn {
        name: String,
        source: std::io::Error,
    },
    #[error(
        "process {name} exited ({status}) before the expected line; its last output:\n{output}"
    )]
    Exited {
        name: String,
        status: String,
        output: String,
    },
    #[error(
        "process {name} printed no expected line within {waited:?}; its last output:\n{output}"
    )]
    NoLine {
        name: String,
        waited: Duration,
        output: String,
    },
}

pub(crate) const POLL: Duration = Duration::from_millis(10);

/// Polls `condition` every 10 ms until it returns true, or fails after `timeout`.
pub async fn eventually(
    timeout: Duration,
    mut condition: impl FnMut() -> bool,
) -> Result<(), HarnessError> {
    eventually_some(timeout, || condition().then_some(())).await
}

/// Polls `probe` every 10 ms until it returns `Some`, or fails after `timeout`.
pub async fn eventually_some<T>(
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Result<T, HarnessError> {
    let start = tokio::time::Instant::now();
    loop {
        if let Some(v) = probe() {
            return Ok(v);
        }
        if start.elapsed() >= timeout {
            return Err(HarnessError::TimedOut {
                waited: start.elapsed(),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls an async `probe` every `period` until it yields `Some`, or fails after `timeout` (a
/// probe still running at the deadline is cut off).
pub async fn eventually_async_some<T, F, Fut>(
    timeout: Duration,
    period: Duration,
    mut probe: F,
) -> Result<T, HarnessError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        if let Ok(Some(v)) = tokio::time::timeout(left, probe()).await {
            return Ok(v);
        }
        if start.elapsed() >= timeout {
            return Err(HarnessError::TimedOut {
                waited: start.elapsed(),
            });
        }
        tokio::time::sleep(period).await;
    }
}

/// Polls an async `condition` every 10 ms until it returns true, or fails after `timeout`.
pub async fn eventually_async<F, Fut>(timeout: Duration, condition: F) -> Result<(), HarnessError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_async_every(timeout, POLL, condition).await
}

/// Like [`eventually_async`], polling every `period` (for conditions that cost real work,
/// such as asking 20 processes for their tables).
pub async fn eventually_async_every<F, Fut>(
    timeout: Duration,
    period: Duration,
    mut condition: F,
) -> Result<(), HarnessError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_async_some(timeout, period, || {
        let check = condition();
        async move { check.await.then_some(()) }
    })
    .await
}

/// A port that was free a moment ago on 127.0.0.1. Racy by nature (someone may take it before
/// you bind it): prefer binding port 0 and asking for the address where you can.
pub fn free_port() -> Result<u16, HarnessError> {
    Ok(free_addr()?.port())
}

/// `127.0.0.1:<a port that was free a moment ago>`.
pub fn free_addr() -> Result<SocketAddr, HarnessError> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?)
}

/// A node the generic [`Testnet`] can stop.
pub trait TestNode: Send {
    /// Stops the node and waits until it is down.
    fn shutdown(self) -> impl Future<Output = ()> + Send;
}

impl TestNode for bt_metagraph::MetagraphHandle {
    fn shutdown(self) -> impl Future<Output = ()> + Send {
        bt_metagraph::MetagraphHandle::shutdown(self)
    }
}

impl TestNode for ChildProcess {
    async fn shutdown(mut self) {
        let _ = self.kill().await;
    }
}

/// Running nodes addressed by index; a killed node leaves an empty slot so indices stay put.
pub struct Testnet<H: TestNode> {
    nodes: Vec<Option<H>>,
}

impl<H: TestNode> Default for Testnet<H> {
    fn default() -> Self {
        Self { nodes: Vec::new() }
    }
}

impl<H: TestNode> Testnet<H> {
    /// Adds a running node; returns its index.
    pub fn push(&mut self, node: H) -> usize {
        self.nodes.push(Some(node));
        self.nodes.len() - 1
    }

    /// Puts a (restarted) node back into slot `index`, stopping whatever ran there.
    pub async fn replace(&mut self, index: usize, node: H) {
        if index >= self.nodes.len() {
            self.nodes.resize_with(index + 1, || None);
        }
        if let Some(old) = self.nodes[index].replace(node) {
            old.shutdown().await;
        }
    }

    /// Slots, running or not.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when no slot exists.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node in slot `index`, if running.
    pub fn get(&self, index: usize) -> Option<&H> {
        self.nodes.get(index).and_then(Option::as_ref)
    }

    /// Stops node `index` (no-op when not running).
    pub async fn kill(&mut self, index: usize) {
        if let Some(node) = self.nodes.get_mut(index).and_then(Option::take) {
            node.shutdown().await;
        }
    }

    /// `(index, node)` for every running node.
    pub fn alive(&self) -> impl Iterator<Item = (usize, &H)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_ref().map(|n| (i, n)))
    }

    /// Stops every node.
    pub async fn shutdown(mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i).await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn eventually_waits_for_the_condition_and_times_out() {
        let mut n = 0;
        eventually(Duration::from_secs(5), || {
            n += 1;
            n >= 3
        })
        .await
        .unwrap();
        assert_eq!(n, 3);
        let err = eventually(Duration::from_millis(30), || false).await;
        assert!(matches!(err, Err(HarnessError::TimedOut { .. })));
        assert_eq!(
            eventually_some(Duration::from_secs(1), || Some(7))
                .await
                .unwrap(),
            7
        );
        assert_ne!(free_port().unwrap(), 0);
    }
}
