//! MiniLM served for the TEXT modality: a batch of strings (the strict pickle subset of
//! `bt_tensor::pickle`, shape `[n, 1]`) or of token ids (INT64 or INT32, `[n, len]`, padded
//! with `[PAD]` = 0) in, `[n, 384]` float32 sentence embeddings out.
//!
//! Everything a peer can get wrong is a typed [`SynapseError::InvalidInput`]: too many texts,
//! a text over the byte cap, token rows over the token cap, ids outside the vocabulary, a
//! numeric dtype that is not ids. Counts are checked from the shape before the pickle is read
//! or the ids are copied.

use bt_interfaces::{Synapse, SynapseError};
use bt_tensor::{DType, Modality, Tensor};

use super::encoder::{MINILM_DIM, MiniLm};
use super::error::TextError;
use super::tokenize::TokenBatch;

/// What a text synapse serves.
pub const TEXT_MODALITIES: [Modality; 1] = [Modality::Text];

/// The text encoder as a network synapse.
pub struct TextSynapse {
    model: MiniLm,
}

impl TextSynapse {
    pub fn new(model: MiniLm) -> Self {
        TextSynapse { model }
    }

    pub fn model(&self) -> &MiniLm {
        &self.model
    }

    /// Embeds a wire text tensor: `[rows, 384]` row-major.
    pub fn embed_wire(&self, input: &Tensor) -> Result<(usize, Vec<f32>), TextError> {
        let limits = self.model.limits();
        let shape = input.shape();
        match input.dtype() {
            DType::Utf8 => {
                let rows = match shape {
                    [rows, 1] => *rows,
                    _ => return Err(shape_err("[n, 1] strings", shape)),
                };
                check_rows(rows, limits.max_batch)?;
                let texts = input.str_refs().map_err(|e| TextError::Shape {
                    op: "text pickle",
                    expected: format!("{rows} strings"),
                    got: e.to_string(),
                })?;
                if texts.len() != rows {
                    return Err(shape_err(&format!("{rows} strings"), &[texts.len()]));
                }
                Ok((rows, self.model.encode(&texts)?))
            }
            DType::Int64 | DType::Int32 => {
                let (rows, len) = match shape {
                    [rows, len] => (*rows, *len),
                    _ => return Err(shape_err("[n, len] token ids", shape)),
                };
                check_rows(rows, limits.max_batch)?;
                if len > limits.max_tokens {
                    return Err(TextError::TooManyTokens {
                        index: 0,
                        tokens: len,
                        max: limits.max_tokens,
                    });
                }
                let ids = input.to_i64_vec().map_err(|e| TextError::Shape {
                    op: "token ids",
                    expected: "INT64 or INT32 ids".into(),
                    got: e.to_string(),
                })?;
                let batch = TokenBatch::from_ids(&ids, rows, len, self.model.vocab_size(), limits)?;
                Ok((rows, self.model.embed(&batch)?))
            }
            other => Err(TextError::Shape {
                op: "text input",
                expected: "UTF8 strings or INT64/INT32 token ids".into(),
                got: other.name().into(),
            }),
        }
    }
}

fn check_rows(rows: usize, max: usize) -> Result<(), TextError> {
    match rows {
        0 => Err(TextError::EmptyBatch),
        n if n > max => Err(TextError::TooManyTexts { got: n, max }),
        _ => Ok(()),
    }
}

fn shape_err(expected: &str, got: &[usize]) -> TextError {
    TextError::Shape {
        op: "text input",
        expected: expected.to_string(),
        got: format!("{got:?}"),
    }
}

/// A text error as a synapse reports it: the caller's input, or our failure.
pub fn text_synapse_error(e: TextError) -> SynapseError {
    if e.is_caller_input() {
        SynapseError::invalid(e)
    } else {
        SynapseError::failed(e)
    }
}

/// Serves MiniLM's sentence embedding. Backward is refused: text is discrete, so there is no
/// gradient with respect to the input to return (strings and token ids have none).
impl Synapse for TextSynapse {
    fn modalities(&self) -> &[Modality] {
        &TEXT_MODALITIES
    }

    fn output_dim(&self) -> Option<usize> {
        Some(MINILM_DIM)
    }

    fn forward(&self, modality: Modality, input: Tensor) -> Result<Tensor, SynapseError> {
        if modality != Modality::Text {
            return Err(SynapseError::UnsupportedModality(modality));
        }
        let (rows, out) = self.embed_wire(&input).map_err(text_synapse_error)?;
        drop(input);
        Tensor::from_f32_vec(&[rows, MINILM_DIM], out, Modality::Tensor)
            .map_err(SynapseError::failed)
    }

    fn backward(
        &self,
        inputs: Vec<Tensor>,
        _grads: Vec<Tensor>,
    ) -> Result<Vec<Tensor>, SynapseError> {
        if let Some(m) = inputs
            .iter()
            .map(Tensor::modality)
            .find(|m| *m != Modality::Text)
        {
            return Err(SynapseError::UnsupportedModality(m));
        }
        Err(SynapseError::invalid(
            "text input is discrete: a text synapse has no input gradient",
        ))
    }
}
