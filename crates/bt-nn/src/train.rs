//! Training-loop pieces for a neuron alone: one epoch of any [`NeuronModel`].

use crate::average::WeightAverage;
use crate::dataset::{Batch, Dataset};
use crate::dense::GradMode;
use crate::error::{NnError, Result};
use crate::mnist::StepLosses;
use crate::neuron_model::{NeuronModel, TrainConfig};

/// Mean losses over an epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochReport {
    pub steps: u64,
    pub mean: StepLosses,
}

/// One step of a neuron alone: its own student output is the context of both paths.
pub fn step_alone<M: NeuronModel>(
    model: &mut M,
    batch: &Batch,
    mode: GradMode,
) -> Result<StepLosses> {
    let context = model.student(&batch.x)?;
    model.step(&batch.x, &batch.y, &context, mode, false)
}

/// One shuffled epoch of a neuron alone (the context is its own student output), calling
/// `on_step(model, step_in_epoch, losses)` after every step.
pub fn train_epoch_alone<M: NeuronModel>(
    model: &mut M,
    data: &Dataset,
    cfg: TrainConfig,
    seed: u64,
    on_step: impl FnMut(&M, u64, &StepLosses),
) -> Result<EpochReport> {
    train_epoch_averaged(model, None, data, cfg, seed, on_step)
}

/// [`train_epoch_alone`] that also folds every step into a weight average (the model to
/// evaluate, see [`crate::average`]).
pub fn train_epoch_averaged<M: NeuronModel>(
    model: &mut M,
    average: Option<&mut WeightAverage<M>>,
    data: &Dataset,
    cfg: TrainConfig,
    seed: u64,
    on_step: impl FnMut(&M, u64, &StepLosses),
) -> Result<EpochReport> {
    train_epoch_with(model, average, data, cfg, seed, step_alone, on_step)
}

/// One shuffled epoch where `step` trains on each batch; a non-finite loss stops it with an
/// error that says what to change.
pub fn train_epoch_with<M: NeuronModel>(
    model: &mut M,
    mut average: Option<&mut WeightAverage<M>>,
    data: &Dataset,
    cfg: TrainConfig,
    seed: u64,
    mut step: impl FnMut(&mut M, &Batch, GradMode) -> Result<StepLosses>,
    mut on_step: impl FnMut(&M, u64, &StepLosses),
) -> Result<EpochReport> {
    let mode = cfg.sgd();
    let mut epoch = data.epoch(cfg.batch_size, seed);
    let mut batch = Batch::default();
    let mut sum = [0.0f64; 3];
    let mut steps = 0u64;
    while epoch.next_into(&mut batch)? {
        let l = step(model, &batch, mode)?;
        if !l.total().is_finite() {
            return Err(NnError::NonFinite(
                "training loss (lower the learning rate)",
            ));
        }
        for (s, v) in sum.iter_mut().zip([l.local, l.network, l.distillation]) {
            *s += f64::from(v);
        }
        if let Some(avg) = average.as_deref_mut() {
            avg.observe(model);
        }
        on_step(model, steps, &l);
        steps += 1;
    }
    let n = steps.max(1) as f64;
    Ok(EpochReport {
        steps,
        mean: StepLosses {
            local: (sum[0] / n) as f32,
            network: (sum[1] / n) as f32,
            distillation: (sum[2] / n) as f32,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MnistModel;
    use crate::dataset::{TRAIN_IMAGES, TRAIN_LABELS, default_mnist_dir};
    use crate::neuron_model::accuracy;

    #[test]
    fn short_training_learns_real_digits() {
        let dir = default_mnist_dir();
        let all = Dataset::load_idx(dir.join(TRAIN_IMAGES), dir.join(TRAIN_LABELS)).unwrap();
        let train = all.head(2560);
        let mut model = MnistModel::new(0);
        let mut losses = Vec::new();
        // a higher rate than the reference's so that 40 steps show clear learning
        let cfg = TrainConfig {
            lr: 0.05,
            ..TrainConfig::default()
        };
        let report =
            train_epoch_alone(&mut model, &train, cfg, 1, |_, _, l| losses.push(l.local)).unwrap();
        assert_eq!(report.steps, 40);
        let first: f32 = losses[..5].iter().sum::<f32>() / 5.0;
        let last: f32 = losses[35..].iter().sum::<f32>() / 5.0;
        assert!(last < first * 0.6, "local loss {first} -> {last}");
        let acc = accuracy(&model, &all.head(2000)).unwrap();
        assert!(acc > 0.5, "accuracy {acc} after 20 steps");
    }
}
