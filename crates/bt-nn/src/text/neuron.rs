//! [`TextModel`] as a [`NeuronModel`]: rows of [`TEXT_TOKENS`] WordPiece ids in, the topic of
//! a fortune out, MiniLM peers' 384-wide sentence embeddings as its network context. Its data
//! is Debian's fortunes by file ([`super::corpus::fortune_topics`]), tokenized once at load
//! with MiniLM's own tokenizer, so the ids a learner sends are ids MiniLM reads.

use std::path::Path;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::corpus::{FORTUNE_TOPICS, fortune_topics};
use super::encoder::MINILM_DIM;
use super::files::{DEBIAN_FORTUNES_DIR, MinilmFiles};
use super::model::TextModel;
use super::tokenize::{PAD_ID, TextLimits, TextTokenizer, TokenBatch};
use crate::dataset::Dataset;
use crate::dense::GradMode;
use crate::error::{NnError, Result};
use crate::input::{InputFormat, TokenFormat};
use crate::mnist::StepLosses;
use crate::models::NoEncoderGrad;
use crate::neuron_model::TrainConfig;
use crate::neuron_model::{NeuronModel, TrainingData};
use crate::params::{Parameters, Slot};

/// Tokens per row, `[CLS]` and `[SEP]` included: longer fortunes are truncated, as MiniLM
/// truncates at its own cap.
pub const TEXT_TOKENS: usize = 64;
/// all-MiniLM-L6-v2's vocabulary (bert-base-uncased's WordPiece ids).
pub const MINILM_VOCAB: usize = 30_522;
/// One fortune in this many is held out for the test line.
const TEST_EVERY: usize = 5;
/// The split is the same for every neuron, so their test lines compare.
const SPLIT_SEED: u64 = 5;

impl TextModel {
    fn batch(x: &[f32]) -> Result<TokenBatch> {
        Ok(TokenBatch::from_f32_rows(x, TEXT_TOKENS, MINILM_VOCAB)?)
    }
}

impl Parameters for TextModel {
    const KIND: &'static str = "text";

    fn slots(&mut self) -> Vec<Slot<'_>> {
        TextModel::slots(self)
    }
}

impl NeuronModel for TextModel {
    const INPUT: InputFormat = InputFormat::Tokens(TokenFormat {
        what: "text token ids",
        len: TEXT_TOKENS,
        vocab: MINILM_VOCAB,
    });
    const CONTEXT_DIM: usize = MINILM_DIM;
    const EVAL_CHUNK: usize = 256;
    /// Text peers include MiniLM teachers, each answer a BERT forward over the batch's texts.
    const PEER_TIMEOUT: Duration = Duration::from_secs(10);
    /// A peer's gradient would only reach the token vectors of the ids it sent; not built.
    const REMOTE_LEARNING: bool = false;
    type EncoderGrad = NoEncoderGrad;

    fn seeded(seed: u64) -> Self {
        TextModel::new(MINILM_VOCAB, seed)
    }

    /// The embedding bag learns at a larger step than the image models' dense layers, in
    /// smaller batches (the settings of the `text_model` test).
    fn train_config() -> TrainConfig {
        TrainConfig {
            batch_size: 32,
            lr: 0.05,
            momentum: 0.9,
        }
    }

    /// Ten fortune files in `dir` (default: Debian's), tokenized with MiniLM's tokenizer
    /// (`BT_MINILM_DIR`, else the cache `scripts/fetch-minilm.sh` fills).
    fn load_data(dir: Option<&Path>) -> Result<TrainingData> {
        let dir = dir.unwrap_or(Path::new(DEBIAN_FORTUNES_DIR));
        let files = MinilmFiles::locate(None)?;
        let limits = TextLimits {
            max_tokens: TEXT_TOKENS,
            ..TextLimits::DEFAULT
        };
        let tokenizer = TextTokenizer::from_file(&files.tokenizer, limits)?;
        if tokenizer.vocab_size() != MINILM_VOCAB {
            return Err(NnError::Dataset(format!(
                "{} has {} ids; the text model reads all-MiniLM-L6-v2's {MINILM_VOCAB}",
                files.tokenizer.display(),
                tokenizer.vocab_size()
            )));
        }
        let mut items = fortune_topics(dir, &FORTUNE_TOPICS)?;
        items.shuffle(&mut StdRng::seed_from_u64(SPLIT_SEED));
        let held_out = items.len() / TEST_EVERY;
        let (test, train) = items.split_at(held_out);
        Ok(TrainingData {
            train: token_rows(&tokenizer, train)?,
            test: token_rows(&tokenizer, test)?,
            source: format!(
                "{} ({} topics, {} fortunes; ids from {})",
                dir.display(),
                FORTUNE_TOPICS.len(),
                items.len(),
                files.tokenizer.display()
            ),
        })
    }

    fn student(&self, x: &[f32]) -> Result<Vec<f32>> {
        TextModel::student(self, &Self::batch(x)?)
    }

    fn encode(&self, x: &[f32]) -> Result<Vec<f32>> {
        TextModel::encode(self, &Self::batch(x)?)
    }

    fn encode_vjp(&self, _: &[f32], _: &[f32]) -> Result<Vec<f32>> {
        Err(NnError::Unsupported {
            what: "an input gradient (token ids are discrete)",
            model: Self::KIND,
        })
    }

    fn predict(&self, x: &[f32]) -> Result<Vec<u8>> {
        TextModel::predict(self, &Self::batch(x)?)
    }

    fn predict_with_context(&self, x: &[f32], context: &[f32]) -> Result<Vec<u8>> {
        TextModel::predict_with_context(self, &Self::batch(x)?, context)
    }

    fn step(
        &mut self,
        x: &[f32],
        y: &[u8],
        context: &[f32],
        mode: GradMode,
        context_grad: bool,
    ) -> Result<StepLosses> {
        TextModel::step(self, &Self::batch(x)?, y, context, mode, context_grad)
    }

    fn context_grad(&self) -> &[f32] {
        TextModel::context_grad(self)
    }

    fn apply_encoder_grad(&mut self, grad: &NoEncoderGrad, _: f32) {
        match *grad {}
    }
}

/// Labelled texts → a dataset of [`TEXT_TOKENS`]-wide id rows.
fn token_rows(tokenizer: &TextTokenizer, items: &[(String, u8)]) -> Result<Dataset> {
    let mut rows = Vec::with_capacity(items.len() * TEXT_TOKENS);
    let mut labels = Vec::with_capacity(items.len());
    for chunk in items.chunks(tokenizer.limits().max_batch) {
        let texts: Vec<&str> = chunk.iter().map(|(t, _)| t.as_str()).collect();
        let batch = tokenizer.tokenize(&texts)?;
        for r in 0..batch.rows {
            let ids = batch.row(r);
            rows.extend(ids.iter().map(|&id| id as f32));
            rows.extend(std::iter::repeat_n(PAD_ID as f32, TEXT_TOKENS - ids.len()));
        }
        labels.extend(chunk.iter().map(|(_, y)| *y));
    }
    Dataset::from_normalized(rows, labels, TEXT_TOKENS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_ids_are_checked_before_the_model_reads_them() {
        let m = TextModel::seeded(3);
        let mut x = vec![0.0f32; 2 * TEXT_TOKENS];
        x[..3].copy_from_slice(&[101.0, 2054.0, 102.0]);
        x[TEXT_TOKENS..TEXT_TOKENS + 2].copy_from_slice(&[101.0, 102.0]);
        assert_eq!(NeuronModel::student(&m, &x).unwrap().len(), 2 * MINILM_DIM);
        assert_eq!(NeuronModel::predict(&m, &x).unwrap().len(), 2);
        for bad in [MINILM_VOCAB as f32, -1.0, 2.5, f32::NAN] {
            let mut y = x.clone();
            y[1] = bad;
            assert!(
                matches!(NeuronModel::encode(&m, &y), Err(NnError::Text(_))),
                "{bad} is not an id"
            );
        }
        assert!(NeuronModel::encode(&m, &x[..TEXT_TOKENS - 1]).is_err());
        assert!(matches!(
            m.encode_vjp(&x, &[0.0; 2 * MINILM_DIM]),
            Err(NnError::Unsupported { .. })
        ));
    }
}
