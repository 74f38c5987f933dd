//! `bittensor neuron text --teacher`: serves all-MiniLM-L6-v2's sentence embeddings (TEXT:
//! strings or token ids in, 384 values per text out) on the gossip network, without training.
//! Text learners ask it; its answers are their network context and what their students
//! distil.

use std::future::Future;
use std::sync::Arc;

use bt_nn::text::{MiniLm, MinilmFiles, TextLimits, TextSynapse};

use crate::config::NeuronConfig;
use crate::error::{NeuronError, Stopped};
use crate::identity::Identity;
use crate::network::Network;
use crate::report;

/// Loads MiniLM (`BT_MINILM_DIR`, else the cache `scripts/fetch-minilm.sh` fills) and serves
/// it until `shutdown`, under `identity`, whose key stays locked until this returns.
pub async fn run_teacher(
    cfg: NeuronConfig,
    identity: Identity,
    shutdown: impl Future<Output = ()>,
) -> Result<Stopped, NeuronError> {
    let spinner = crate::progress::Spinner::start("loading MiniLM");
    let model = tokio::task::spawn_blocking(|| {
        let files = MinilmFiles::locate(None)?;
        MiniLm::load(&files, TextLimits::default())
    })
    .await
    .map_err(NeuronError::task("MiniLM loading"))?
    .map_err(|e| NeuronError::Model(e.into()))?;
    drop(spinner);
    tracing::info!("serving MiniLM sentence embeddings (text teacher)");
    let network = Network::start(&cfg, &identity, Arc::new(TextSynapse::new(model))).await?;
    shutdown.await;
    let served = network.axon.metrics();
    println!(
        "Teacher answered {} of {} requests ({} bytes in, {} out)",
        served.count(bt_axon::Code::Ok),
        served.total(),
        served.bytes_in,
        served.bytes_out
    );
    network.stop().await;
    println!("{}", report::done_line());
    Ok(Stopped::Interrupted)
}
