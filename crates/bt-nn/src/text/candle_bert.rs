//! The reference forward: candle-transformers' BERT over the same checkpoint, then the masked
//! mean and L2 normalization. [`super::MiniLm`] serves with its own packed forward
//! ([`super::bert`]); this one is what the tests hold it to, and what the bench compares with.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

use super::encoder::{check_batch, l2_normalize, mean_pool, read_config};
use super::error::TextError;
use super::files::MinilmFiles;
use super::tokenize::{TextLimits, TokenBatch};

/// all-MiniLM-L6-v2 on candle: padded batches, a full attention mask, candle's kernels.
pub struct CandleMiniLm {
    bert: BertModel,
    limits: TextLimits,
    device: Device,
}

impl CandleMiniLm {
    /// Loads the model from its files, with the same checks as [`super::MiniLm::load`].
    pub fn load(files: &MinilmFiles, limits: TextLimits) -> Result<Self, TextError> {
        let config: Config = read_config(files, &limits)?;
        let device = Device::Cpu;
        let bad = |e: candle_core::Error| TextError::BadModelFile {
            path: files.weights.clone(),
            reason: e.to_string(),
        };
        let weights = candle_core::safetensors::load(&files.weights, &device).map_err(bad)?;
        let vb = VarBuilder::from_tensors(weights, DType::F32, &device);
        let bert = BertModel::load(vb, &config).map_err(bad)?;
        Ok(CandleMiniLm {
            bert,
            limits,
            device,
        })
    }

    /// Embeds a tokenized batch: `[rows, 384]` row-major, as [`super::MiniLm::embed`].
    pub fn embed(&self, batch: &TokenBatch) -> Result<Vec<f32>, TextError> {
        check_batch(batch, &self.limits)?;
        let (rows, len) = (batch.rows, batch.len);
        let ids = Tensor::from_slice(&batch.ids, (rows, len), &self.device)?;
        let mask = Tensor::from_slice(&batch.mask, (rows, len), &self.device)?;
        let types = ids.zeros_like()?;
        let states = self.bert.forward(&ids, &types, Some(&mask))?;
        let pooled = mean_pool(&states, &mask)?;
        let normalized = l2_normalize(&pooled)?;
        Ok(normalized.flatten_all()?.to_vec1::<f32>()?)
    }
}
