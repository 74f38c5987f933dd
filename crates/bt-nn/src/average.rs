//! An exponential moving average of the weights (Polyak averaging), the model a neuron
//! evaluates.
//!
//! Why: with the seeds' SGD (lr 0.01, momentum 0.9, batch 64, no decay) the last iterate of an
//! epoch jitters in test accuracy from one step to the next, and after one MNIST epoch it sits
//! where PyTorch's reference does. The average of the last few hundred iterates is a better
//! point of the same trajectory: it scores higher after the same epoch, with the model, losses
//! and optimizer unchanged (README "Benchmarks", Quality, has both scores and the command).
//! Training never reads the average.
//!
//! The decay is warmed up (`min(decay, (1+n)/(10+n))` after `n` updates) so that early
//! averages are not dominated by the random initialization; updating every few steps with the
//! decay raised to that power keeps the cost (three passes over 5.4 M weights) small.

use crate::params::{Parameters, SlotRole};

/// Averaged weights of a model (its learned tensors and running statistics; never its
/// optimizer state).
#[derive(Debug, Clone)]
pub struct WeightAverage<M> {
    model: M,
    decay: f32,
    every: u64,
    steps: u64,
    updates: u64,
}

/// The defaults: an average over roughly the last 200 steps, refreshed every 4 steps.
pub const DEFAULT_DECAY: f32 = 0.995;
pub const DEFAULT_EVERY: u64 = 4;

impl<M: Parameters + Clone> WeightAverage<M> {
    /// Starts the average at `model`'s current weights. `decay` is per step, in `[0, 1)`;
    /// `every` (≥ 1) is how many steps pass between two updates.
    pub fn new(model: &M, decay: f32, every: u64) -> Self {
        let mut copy = model.clone();
        // the average has no optimizer state of its own
        copy.reset_optimizer();
        Self {
            model: copy,
            decay: decay.clamp(0.0, 0.999_999),
            every: every.max(1),
            steps: 0,
            updates: 0,
        }
    }

    /// With the defaults.
    pub fn with_defaults(model: &M) -> Self {
        Self::new(model, DEFAULT_DECAY, DEFAULT_EVERY)
    }

    /// Call after every training step. Takes `&mut` only to list the model's tensors
    /// ([`Parameters::slots`]); nothing in it changes.
    pub fn observe(&mut self, model: &mut M) {
        self.steps += 1;
        if !self.steps.is_multiple_of(self.every) {
            return;
        }
        self.updates += 1;
        let n = self.updates as f32;
        let per_update = self.decay.powi(self.every as i32);
        let d = per_update.min((1.0 + n) / (10.0 + n));
        for (avg, cur) in self.model.slots().into_iter().zip(model.slots()) {
            if avg.role != SlotRole::Momentum {
                blend(avg.values, cur.values, d);
            }
        }
    }

    /// Restarts the average at `model` (after a checkpoint is loaded, say).
    pub fn reset(&mut self, model: &M) {
        *self = Self::new(model, self.decay, self.every);
    }

    /// The averaged model, for evaluation or serving.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Updates folded in so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }
}

/// `avg = d·avg + (1-d)·cur`, split over the rayon pool for the large matrices.
fn blend(avg: &mut [f32], cur: &[f32], d: f32) {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 16;
    let e = 1.0 - d;
    avg.par_chunks_mut(CHUNK)
        .zip(cur.par_chunks(CHUNK))
        .for_each(|(a, c)| a.iter_mut().zip(c).for_each(|(a, c)| *a = d * *a + e * c));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MnistModel;

    #[test]
    fn average_moves_toward_the_model_and_stays_between() {
        let start = MnistModel::new(1);
        let mut target = MnistModel::new(2);
        let mut avg = WeightAverage::new(&start, 0.9, 1);
        avg.observe(&mut target);
        // first update: d = min(0.9, 2/11)
        let d = 2.0f32 / 11.0;
        let (a, s, t) = (
            avg.model().target3.w[5],
            start.target3.w[5],
            target.target3.w[5],
        );
        assert!((a - (d * s + (1.0 - d) * t)).abs() < 1e-6);
        for _ in 0..500 {
            avg.observe(&mut target);
        }
        let max_gap = avg
            .model()
            .student1
            .w
            .iter()
            .zip(&target.student1.w)
            .map(|(a, t)| (a - t).abs())
            .fold(0.0f32, f32::max);
        assert!(max_gap < 1e-4, "average did not converge: {max_gap}");
    }

    #[test]
    fn updates_only_every_n_steps() {
        let mut m = MnistModel::new(3);
        let mut avg = WeightAverage::new(&m, 0.99, 4);
        for _ in 0..7 {
            avg.observe(&mut m);
        }
        assert_eq!(avg.updates(), 1);
        avg.observe(&mut m);
        assert_eq!(avg.updates(), 2);
    }
}
