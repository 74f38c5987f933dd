//! `bittensor neuron echo`: serves a synapse that returns its input unchanged, for interop
//! tests and benchmarks.

use std::future::Future;
use std::sync::Arc;

use bt_axon::EchoSynapse;

use crate::config::NeuronConfig;
use crate::error::{NeuronError, Stopped};
use crate::identity::Identity;
use crate::network::Network;
use crate::report;

/// Serves until `shutdown`, under `identity` (see [`crate::identity::acquire`]), whose key
/// stays locked until this returns.
pub async fn run_echo(
    cfg: NeuronConfig,
    identity: Identity,
    shutdown: impl Future<Output = ()>,
) -> Result<Stopped, NeuronError> {
    let network = Network::start(&cfg, &identity, Arc::new(EchoSynapse)).await?;
    shutdown.await;
    network.stop().await;
    println!("{}", report::done_line());
    Ok(Stopped::Interrupted)
}
