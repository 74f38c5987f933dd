//! all-MiniLM-L6-v2 as sentence-transformers runs it: BERT over the model's safetensors, then
//! the mean of the token states under the attention mask, then L2 normalization (the package's
//! `modules.json`: Transformer → Pooling(mean) → Normalize).
//!
//! The forward is [`super::bert`]'s, over packed sequences with no padding; candle's BERT
//! (`CandleMiniLm`) is the reference it is tested against.

use candle_core::{D, Device, Tensor};
use candle_transformers::models::bert::{Config, HiddenAct};

use super::bert::BertWeights;
use super::error::{TextError, io_err};
use super::files::MinilmFiles;
use super::tokenize::{TextLimits, TextTokenizer, TokenBatch};

/// Width of MiniLM's sentence embedding.
pub const MINILM_DIM: usize = 384;

/// The pretrained sentence encoder: tokenizer, BERT and pooling. Computes on the CPU (the
/// rayon pool) and blocks for the whole forward: call it from a blocking thread, never on an
/// async executor (a [`crate::text::TextSynapse`] is run on the axon's blocking pool).
pub struct MiniLm {
    tokenizer: TextTokenizer,
    bert: BertWeights,
    config: Config,
}

/// Reads and checks `config.json`: a BERT of [`MINILM_DIM`]-wide states with exact GELU (what
/// the packed forward implements), and `limits.max_tokens` within its
/// positions.
pub(crate) fn read_config(files: &MinilmFiles, limits: &TextLimits) -> Result<Config, TextError> {
    let raw = std::fs::read_to_string(&files.config).map_err(io_err(&files.config))?;
    let config: Config = serde_json::from_str(&raw).map_err(|e| TextError::BadModelFile {
        path: files.config.clone(),
        reason: e.to_string(),
    })?;
    let bad_config = |reason: String| TextError::BadModelFile {
        path: files.config.clone(),
        reason,
    };
    if config.hidden_size != MINILM_DIM
        || config.num_attention_heads == 0
        || !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
    {
        return Err(bad_config(format!(
            "hidden size {} with {} heads; the encoder serves {MINILM_DIM}-wide embeddings",
            config.hidden_size, config.num_attention_heads
        )));
    }
    if config.hidden_act != HiddenAct::Gelu || config.type_vocab_size == 0 {
        return Err(bad_config(format!(
            "{:?} activation with {} token types: the encoder runs BERT with exact GELU and at \
             least one token type",
            config.hidden_act, config.type_vocab_size
        )));
    }
    if limits.max_tokens > config.max_position_embeddings || limits.max_tokens < 2 {
        return Err(bad_config(format!(
            "max_tokens {} must be in 2..={} (the model's positions)",
            limits.max_tokens, config.max_position_embeddings
        )));
    }
    Ok(config)
}

/// Checks a batch's shape and length against the caps before any work on it.
pub(crate) fn check_batch(batch: &TokenBatch, limits: &TextLimits) -> Result<(), TextError> {
    let (rows, len) = (batch.rows, batch.len);
    let cells = rows.checked_mul(len);
    if rows == 0 || len == 0 || cells != Some(batch.ids.len()) || cells != Some(batch.mask.len()) {
        return Err(TextError::Shape {
            op: "token batch",
            expected: format!("[{rows}, {len}] ids and mask"),
            got: format!("{} ids, {} mask", batch.ids.len(), batch.mask.len()),
        });
    }
    if rows > limits.max_batch {
        return Err(TextError::TooManyTexts {
            got: rows,
            max: limits.max_batch,
        });
    }
    if len > limits.max_tokens {
        return Err(TextError::TooManyTokens {
            index: 0,
            tokens: len,
            max: limits.max_tokens,
        });
    }
    Ok(())
}

impl MiniLm {
    /// Loads the model from its files (see [`MinilmFiles::locate`]).
    pub fn load(files: &MinilmFiles, limits: TextLimits) -> Result<Self, TextError> {
        let config = read_config(files, &limits)?;
        let tokenizer = TextTokenizer::from_file(&files.tokenizer, limits)?;
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(TextError::BadModelFile {
                path: files.config.clone(),
                reason: format!(
                    "tokenizer has {} ids, the embedding table {}",
                    tokenizer.vocab_size(),
                    config.vocab_size
                ),
            });
        }
        let tensors =
            candle_core::safetensors::load(&files.weights, &Device::Cpu).map_err(|e| {
                TextError::BadModelFile {
                    path: files.weights.clone(),
                    reason: e.to_string(),
                }
            })?;
        let bert = BertWeights::from_tensors(&tensors, &config, &files.weights)?;
        Ok(MiniLm {
            tokenizer,
            bert,
            config,
        })
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    pub fn limits(&self) -> &TextLimits {
        self.tokenizer.limits()
    }

    /// Size of the embedding table: token ids must be below it.
    pub fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    /// Embeds texts: `[texts.len(), 384]` row-major, each row of unit length.
    pub fn encode<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<f32>, TextError> {
        let batch = self.tokenizer.tokenize(texts)?;
        self.embed(&batch)
    }

    /// Embeds a tokenized batch (see [`TokenBatch::from_ids`] for ids from a peer). A row with
    /// no token under the mask embeds to zeros, as the reference's clamped mean does.
    pub fn embed(&self, batch: &TokenBatch) -> Result<Vec<f32>, TextError> {
        check_batch(batch, self.limits())?;
        let packed = self
            .bert
            .pack(&batch.ids, &batch.mask, batch.rows, batch.len)?;
        Ok(self.bert.embed(&packed))
    }
}

/// Mean of `states` `[B, L, H]` over the positions where `mask` `[B, L]` is set; the count is
/// clamped to 1e-9 as sentence-transformers' pooling does, so an empty row gives zeros.
pub fn mean_pool(states: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(states.dtype())?.unsqueeze(D::Minus1)?;
    let summed = states.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
    summed.broadcast_div(&counts)
}

/// Rows of `x` `[B, H]` divided by their norm, the norm clamped to 1e-12 as
/// `torch.nn.functional.normalize` does.
pub fn l2_normalize(x: &Tensor) -> candle_core::Result<Tensor> {
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12f32, f32::MAX)?;
    x.broadcast_div(&norm)
}
