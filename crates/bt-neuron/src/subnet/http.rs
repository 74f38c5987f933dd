//! The subnet neuron's model over today's HTTP synapse protocol, beside its gRPC axon: SDK-style
//! validators call `TensorForward` with a `bt.Tensor` batch and get the model's output. A miner
//! answers only hotkeys holding a validator permit (403 for the rest), as on gRPC.

use std::net::SocketAddr;
use std::sync::Arc;

use bt_axon::http::{CallInfo, HandlerError, HttpAxon, HttpAxonConfig, HttpAxonHandle};
use bt_http::builtin::TensorForward;
use bt_http::sdk_tensor::SdkTensor;
use bt_interfaces::{Synapse, SynapseError};
use bt_tensor::Limits;

use crate::subnet::error::SubnetError;
use crate::subnet::permit::PermitPolicy;

/// Serve `synapse` as `TensorForward` on `listen`, signed as `hotkey`; with `only_permitted`
/// (a miner), only hotkeys holding a validator permit are answered.
pub(crate) async fn serve_http(
    listen: SocketAddr,
    config: HttpAxonConfig,
    hotkey: Arc<bt_crypto::wallet::Sr25519Pair>,
    synapse: Arc<dyn Synapse>,
    only_permitted: Option<Arc<PermitPolicy>>,
) -> Result<HttpAxonHandle, SubnetError> {
    let builder =
        HttpAxon::builder(hotkey, config).attach(move |mut s: TensorForward, _: CallInfo| {
            let synapse = synapse.clone();
            async move {
                let input = s
                    .inputs
                    .take()
                    .ok_or_else(|| HandlerError::bad_request("inputs is missing"))?;
                // Decoding and the model's forward pass are CPU work: off the I/O threads.
                let output = tokio::task::spawn_blocking(move || forward(&*synapse, &input))
                    .await
                    .map_err(|e| HandlerError::internal(format!("forward failed: {e}")))??;
                s.outputs = Some(output);
                Ok(s)
            }
        });
    let builder = match only_permitted {
        Some(permits) => builder.blacklist(move |call: &CallInfo| {
            (!permits.admits_hotkey(&call.hotkey.0)).then(|| {
                format!(
                    "miner answers only validators with a permit on netuid {}",
                    permits.netuid()
                )
            })
        }),
        None => builder,
    };
    builder.start(listen).await.map_err(|e| {
        SubnetError::Config(format!("HTTP axon on {listen}: {e} (change --http_port)"))
    })
}

fn forward(synapse: &dyn Synapse, input: &SdkTensor) -> Result<SdkTensor, HandlerError> {
    let tensor = input
        .to_tensor(&Limits::DEFAULT)
        .map_err(|e| HandlerError::bad_request(e.to_string()))?;
    // A bt.Tensor carries no modality: it is the synapse's first one (images for MNIST).
    let modality = *synapse
        .modalities()
        .first()
        .ok_or_else(|| HandlerError::internal("the served model has no modality"))?;
    let tensor = bt_tensor::Tensor::from_bytes(
        tensor.dtype(),
        tensor.shape(),
        modality,
        tensor.bytes().clone(),
        &Limits::DEFAULT,
    )
    .map_err(|e| HandlerError::bad_request(e.to_string()))?;
    let output = synapse.forward(modality, tensor).map_err(|e| match e {
        SynapseError::InvalidInput(m) => HandlerError::bad_request(m),
        other => HandlerError::internal(other.to_string()),
    })?;
    SdkTensor::from_tensor(&output).map_err(|e| HandlerError::internal(e.to_string()))
}
