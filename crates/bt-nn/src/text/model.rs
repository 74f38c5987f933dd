//! The text neuron's model: Release 1's synapse shape over text. Its features are an embedding
//! bag over MiniLM's WordPiece ids (the masked mean of learned token vectors, `[B, D]`); the
//! seeds' three heads ([`crate::heads`]) sit on top, with a 384-wide context so that MiniLM
//! peers' sentence embeddings are contexts it can use. Its target is a topic: which of ten
//! Debian fortune files an entry comes from ([`super::corpus::fortune_topics`]).
//!
//! Alone, the bag sees which words occur; MiniLM has read far more text than any neuron here
//! and its embeddings place a sentence by meaning. A text neuron that asks MiniLM peers gets
//! that as its network path's context, and its student learns to imitate it.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::encoder::MINILM_DIM;
use super::tokenize::TokenBatch;
use crate::checks::{check_labels, check_rows};
use crate::dense::GradMode;
use crate::error::{Result, shape_err};
use crate::heads::{Heads, HeadsConfig};
use crate::mnist::StepLosses;
use crate::params::{Slot, SlotRole};

/// Width of the token vectors (default 64).
pub const TEXT_FEATURES: usize = 64;

/// Token table plus heads, over a vocabulary of token ids (MiniLM's WordPiece ids for the
/// text neuron).
#[derive(Clone)]
pub struct TextModel {
    vocab: usize,
    /// `[vocab, TEXT_FEATURES]` token vectors and their SGD momentum.
    pub table: Vec<f32>,
    pub table_momentum: Vec<f32>,
    pub heads: Heads,
}

impl std::fmt::Debug for TextModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextModel")
            .field("vocab", &self.vocab)
            .finish_non_exhaustive()
    }
}

impl TextModel {
    /// A fresh model over ids `0..vocab`, seeded. Token vectors start like PyTorch's
    /// `nn.EmbeddingBag` (standard normal), scaled down so the first features are of the
    /// heads' input scale.
    pub fn new(vocab: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let table = (0..vocab * TEXT_FEATURES)
            .map(|_| rand_distr_normal(&mut rng) * 0.5)
            .collect();
        let heads = Heads::new(
            HeadsConfig {
                features: TEXT_FEATURES,
                context: MINILM_DIM,
                student_relu: false,
            },
            &mut rng,
        );
        Self {
            vocab,
            table,
            table_momentum: vec![0.0; vocab * TEXT_FEATURES],
            heads,
        }
    }

    /// Ids it has token vectors for.
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// The masked mean of each row's token vectors, `[B, TEXT_FEATURES]`. Ids were checked
    /// against the vocabulary when the batch was made; one outside it is a shape error here.
    pub fn features(&self, batch: &TokenBatch) -> Result<Vec<f32>> {
        let mut f = vec![0.0f32; batch.rows * TEXT_FEATURES];
        for (r, out) in f.chunks_exact_mut(TEXT_FEATURES).enumerate() {
            let tokens = self.row_tokens(batch, r)?;
            let inv = 1.0 / tokens.len().max(1) as f32;
            for t in tokens {
                let v = &self.table[t * TEXT_FEATURES..(t + 1) * TEXT_FEATURES];
                out.iter_mut().zip(v).for_each(|(o, x)| *o += x * inv);
            }
        }
        Ok(f)
    }

    fn row_tokens(&self, batch: &TokenBatch, r: usize) -> Result<Vec<usize>> {
        let span = r * batch.len..(r + 1) * batch.len;
        let mut out = Vec::with_capacity(batch.len);
        for (&id, &m) in batch.ids[span.clone()].iter().zip(&batch.mask[span]) {
            if m == 0 {
                continue;
            }
            let id = id as usize;
            if id >= self.vocab {
                return Err(shape_err("token id", format!("< {}", self.vocab), id));
            }
            out.push(id);
        }
        Ok(out)
    }

    /// The student's output `[B, 384]`.
    pub fn student(&self, batch: &TokenBatch) -> Result<Vec<f32>> {
        let f = self.features(batch)?;
        Ok(self.heads.student(&f, batch.rows))
    }

    /// What the synapse serves: the forward network over the features and the student.
    pub fn encode(&self, batch: &TokenBatch) -> Result<Vec<f32>> {
        let f = self.features(batch)?;
        Ok(self.heads.encode(&f, batch.rows))
    }

    /// Predicted topics through the local path.
    pub fn predict(&self, batch: &TokenBatch) -> Result<Vec<u8>> {
        let f = self.features(batch)?;
        Ok(self.heads.predict(&f, batch.rows))
    }

    /// Predicted topics through the network path: `context` `[B, 384]` in place of the
    /// student's output.
    pub fn predict_with_context(&self, batch: &TokenBatch, context: &[f32]) -> Result<Vec<u8>> {
        check_rows("network context", context, batch.rows, MINILM_DIM)?;
        let f = self.features(batch)?;
        Ok(self
            .heads
            .logits(&f, context, batch.rows)
            .chunks_exact(crate::dataset::NUM_CLASSES)
            .map(|row| crate::mnist::argmax(row) as u8)
            .collect())
    }

    /// One forward and backward with the network's `context` `[B, 384]`; the token vectors
    /// the batch used learn from both cross-entropy paths.
    pub fn step(
        &mut self,
        batch: &TokenBatch,
        y: &[u8],
        context: &[f32],
        mode: GradMode,
        context_grad: bool,
    ) -> Result<StepLosses> {
        check_labels(y, batch.rows)?;
        check_rows("network context", context, batch.rows, MINILM_DIM)?;
        let f = self.features(batch)?;
        let losses = self.heads.step(&f, y, Some(context), mode, context_grad);
        self.learn_tokens(batch, mode)?;
        Ok(losses)
    }

    /// The features' gradient into the token vectors: each row's gradient, divided by its
    /// token count, onto each of its tokens; then SGD with momentum over the table, as
    /// PyTorch's dense `EmbeddingBag` gradient would be.
    fn learn_tokens(&mut self, batch: &TokenBatch, mode: GradMode) -> Result<()> {
        let keep = crate::dense::mode_keep(mode);
        if keep == 0.0 {
            self.table_momentum.fill(0.0);
        } else {
            self.table_momentum.iter_mut().for_each(|m| *m *= keep);
        }
        for r in 0..batch.rows {
            let tokens = self.row_tokens(batch, r)?;
            let inv = 1.0 / tokens.len().max(1) as f32;
            let d = &self.heads.feature_grad()[r * TEXT_FEATURES..(r + 1) * TEXT_FEATURES];
            for t in tokens {
                let m = &mut self.table_momentum[t * TEXT_FEATURES..(t + 1) * TEXT_FEATURES];
                m.iter_mut().zip(d).for_each(|(m, d)| *m += d * inv);
            }
        }
        if let GradMode::Sgd { lr, .. } = mode {
            self.table
                .iter_mut()
                .zip(&self.table_momentum)
                .for_each(|(w, m)| *w -= lr * m);
        }
        Ok(())
    }

    /// The context's gradient of the last [`Self::step`] run with `context_grad`.
    pub fn context_grad(&self) -> &[f32] {
        self.heads.context_grad()
    }

    /// Every stored tensor (the token table, then the heads').
    pub fn slots(&mut self) -> Vec<Slot<'_>> {
        let shape = vec![self.vocab, TEXT_FEATURES];
        let mut out = vec![
            Slot {
                name: "embedding.weight".into(),
                shape: shape.clone(),
                role: SlotRole::Learned,
                values: &mut self.table,
            },
            Slot {
                name: "embedding.weight.momentum".into(),
                shape,
                role: SlotRole::Momentum,
                values: &mut self.table_momentum,
            },
        ];
        self.heads.slots(&mut out);
        out
    }
}

/// A standard normal draw (Box–Muller), so the crate needs no distribution dependency.
fn rand_distr_normal(rng: &mut StdRng) -> f32 {
    use rand::Rng;
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}
