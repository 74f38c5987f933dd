//! The subnet's task, the validator's check on its router: MNIST digit classification.
//!
//! Every subnet neuron serves it beside its model, under its axon's neuron key (published and
//! signed with the axon, `bt_chain::AxonIdentity`): the model's own classification of the
//! query, which the Release 1 encoding it serves under its synapse key does not show.
//!
//! - **Query**: an image batch, modality IMAGE, float32 pixels in 0..1, `[B, 1, 28, 28]` or
//!   `[B, 784]` (the wire form `crate::served` defines), `B ≤ MAX_BATCH`.
//! - **Answer**: class logits `[B, 10]`, float32. Logits rather than probabilities so that a
//!   miner cannot send rows that do not sum to one: the validator applies the softmax itself.
//! - **Score**: the mean probability the answer gives the true label (softmax of the logits),
//!   in `[0, 1]`; a failed, late or malformed answer scores 0. Unlike accuracy it rewards
//!   calibrated confidence, and it separates two models that are both right on a small batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bt_dendrite::Outcome;
use bt_interfaces::{Synapse, SynapseError};
use bt_nn::dataset::NUM_CLASSES;
use bt_nn::{Batch, Dataset, MnistModel, NeuronModel};
use bt_tensor::{Modality, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::index::sample;

use crate::served::ServedModel;
use crate::subnet::error::SubnetError;

/// Largest image batch a miner answers (bounds the CPU one request can cost).
pub const MAX_BATCH: usize = 1024;

const MODALITIES: [Modality; 1] = [Modality::Image];

/// The served model's classifier: images in, class logits out, from the same copy the
/// neuron serves (refreshed as it trains). Runs on the axon's blocking pool.
pub struct Classifier {
    served: Arc<ServedModel<MnistModel>>,
    answered: AtomicU64,
}

impl Classifier {
    pub fn new(served: Arc<ServedModel<MnistModel>>) -> Self {
        Self {
            served,
            answered: AtomicU64::new(0),
        }
    }

    /// Queries answered so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }
}

impl Synapse for Classifier {
    fn modalities(&self) -> &[Modality] {
        &MODALITIES
    }

    fn output_dim(&self) -> Option<usize> {
        Some(NUM_CLASSES)
    }

    fn forward(&self, modality: Modality, input: Tensor) -> Result<Tensor, SynapseError> {
        if modality != Modality::Image {
            return Err(SynapseError::UnsupportedModality(modality));
        }
        let (rows, x) = MnistModel::INPUT.from_wire(&input)?;
        if rows == 0 || rows > MAX_BATCH {
            return Err(SynapseError::InvalidInput(format!(
                "batch of {rows} images; this subnet answers 1..={MAX_BATCH}"
            )));
        }
        let logits = self
            .served
            .snapshot()
            .logits(&x)
            .map_err(|e| SynapseError::Failed(e.to_string()))?;
        self.answered.fetch_add(1, Ordering::Relaxed);
        Tensor::from_f32_vec(&[rows, NUM_CLASSES], logits, Modality::Tensor)
            .map_err(|e| SynapseError::Failed(e.to_string()))
    }

    fn backward(&self, _: Vec<Tensor>, _: Vec<Tensor>) -> Result<Vec<Tensor>, SynapseError> {
        Err(SynapseError::InvalidInput(
            "the MNIST subnet task is forward only".into(),
        ))
    }
}

/// One labelled query: the wire tensor sent to every miner and the labels kept back.
pub struct Query {
    pub images: Tensor,
    pub labels: Vec<u8>,
}

/// Draws `batch` distinct examples of `data` (seeded) as a query.
pub fn sample_query(data: &Dataset, batch: usize, seed: u64) -> Result<Query, SubnetError> {
    if batch == 0 || batch > MAX_BATCH || batch > data.len() {
        return Err(SubnetError::Config(format!(
            "batch size {batch} must be in 1..={} (and at most the {} examples)",
            MAX_BATCH,
            data.len()
        )));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let idx = sample(&mut rng, data.len(), batch).into_vec();
    let mut b = Batch::default();
    data.gather(&idx, &mut b)
        .map_err(|e| SubnetError::Data(e.to_string()))?;
    let images = MnistModel::INPUT
        .to_wire(&b.x, batch)
        .map_err(|e| SubnetError::Data(e.to_string()))?;
    Ok(Query {
        images,
        labels: b.y,
    })
}

/// Mean softmax probability of the true label; 0 for anything but a well-formed `[B, 10]`
/// answer with finite values.
pub fn score(outcome: &Outcome, labels: &[u8]) -> f64 {
    let Some(t) = outcome.tensor() else {
        return 0.0;
    };
    if t.shape() != [labels.len(), NUM_CLASSES] || labels.is_empty() {
        return 0.0;
    }
    let Ok(logits) = t.to_f32_vec() else {
        return 0.0;
    };
    let mut total = 0.0f64;
    for (row, &y) in logits.chunks_exact(NUM_CLASSES).zip(labels) {
        if row.iter().any(|v| !v.is_finite()) {
            return 0.0;
        }
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let denom: f64 = row.iter().map(|v| f64::from(v - max).exp()).sum();
        let p = row
            .get(usize::from(y))
            .map_or(0.0, |v| f64::from(v - max).exp() / denom);
        total += p;
    }
    total / labels.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logits(rows: &[[f32; 10]]) -> Outcome {
        let v: Vec<f32> = rows.iter().flatten().copied().collect();
        Outcome::Ok(Tensor::from_f32_vec(&[rows.len(), 10], v, Modality::Tensor).unwrap())
    }

    #[test]
    fn score_is_the_mean_true_label_probability() {
        let mut sure = [-50.0f32; 10];
        sure[3] = 50.0;
        assert!((score(&logits(&[sure]), &[3]) - 1.0).abs() < 1e-9);
        assert!(score(&logits(&[sure]), &[4]) < 1e-9);
        let flat = [0.0f32; 10];
        assert!((score(&logits(&[flat, sure]), &[0, 3]) - 0.55).abs() < 1e-9);
        assert_eq!(score(&Outcome::Timeout, &[1]), 0.0);
        assert_eq!(score(&logits(&[flat]), &[1, 2]), 0.0, "wrong batch");
    }

    #[test]
    fn classifier_answers_logits_and_refuses_bad_input() {
        let c = Classifier::new(Arc::new(ServedModel::new(bt_nn::MnistModel::new(1))));
        let x = Tensor::from_f32_vec(&[2, 784], vec![0.5; 1568], Modality::Image).unwrap();
        let y = c.forward(Modality::Image, x).unwrap();
        assert_eq!(y.shape(), [2, 10]);
        assert_eq!(c.answered(), 1);
        let text = Tensor::text(&["a"]);
        assert!(c.forward(Modality::Text, text).is_err());
        let wrong = Tensor::from_f32_vec(&[1, 10], vec![0.0; 10], Modality::Image).unwrap();
        assert!(matches!(
            c.forward(Modality::Image, wrong),
            Err(SynapseError::InvalidInput(_))
        ));
        assert!(c.backward(vec![], vec![]).is_err());
    }
}
