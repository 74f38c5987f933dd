//! The synapse every axon can serve without a model: an echo, for interoperability tests and
//! benchmarks. The contract itself is `bt_interfaces::Synapse`.

use bt_interfaces::{Synapse, SynapseError};
use bt_tensor::{Modality, Tensor};

/// Returns its input unchanged for every modality; its backward returns the gradients it is
/// given. Served by `bittensor neuron echo` for interoperability tests and benchmarks.
#[derive(Debug, Default, Clone, Copy)]
pub struct EchoSynapse;

const ALL_MODALITIES: [Modality; 3] = [Modality::Tensor, Modality::Image, Modality::Text];

impl Synapse for EchoSynapse {
    fn modalities(&self) -> &[Modality] {
        &ALL_MODALITIES
    }

    fn is_lightweight(&self) -> bool {
        true
    }

    fn forward(&self, _modality: Modality, input: Tensor) -> Result<Tensor, SynapseError> {
        Ok(input)
    }

    fn backward(
        &self,
        _inputs: Vec<Tensor>,
        grads: Vec<Tensor>,
    ) -> Result<Vec<Tensor>, SynapseError> {
        Ok(grads)
    }
}
