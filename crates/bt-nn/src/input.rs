//! What a model takes, on the wire and in memory: images ([`ImageFormat`]) or token ids
//! ([`TokenFormat`]). Either way a model computes on rows of `f32` of one fixed width, so a
//! dataset, a batch and a served request are the same contiguous buffer whatever the model
//! reads: normalized pixels, or WordPiece ids (exact in `f32`, which holds every integer below
//! 2^24; vocabularies are far smaller).

use bt_interfaces::SynapseError;
use bt_interfaces::synapse::batch_rows;
use bt_tensor::{DType, Element, Modality, Tensor, TensorError};

use crate::images::ImageFormat;
use crate::text::PAD_ID;

/// What image models serve: images, and the same pixels sent as plain tensors.
pub const IMAGE_MODALITIES: [Modality; 2] = [Modality::Image, Modality::Tensor];
/// What token models serve.
pub const TOKEN_MODALITIES: [Modality; 1] = [Modality::Text];

/// A model's input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InputFormat {
    Image(ImageFormat),
    Tokens(TokenFormat),
}

/// Token ids, `[B, len]` with [`PAD_ID`] where a text has no more tokens: every row is exactly
/// `len` wide, so a request costs in memory what it cost on the wire (a narrower row would be
/// padded here, and cost more than it was sent as).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenFormat {
    /// Name in error messages ("text token ids").
    pub what: &'static str,
    /// Tokens per row, `[CLS]` and `[SEP]` included.
    pub len: usize,
    /// Ids are in `0..vocab`.
    pub vocab: usize,
}

impl InputFormat {
    /// Values per row.
    pub const fn dim(&self) -> usize {
        match self {
            InputFormat::Image(f) => f.dim(),
            InputFormat::Tokens(f) => f.len,
        }
    }

    /// The modality a model's own requests to its peers carry.
    pub const fn modality(&self) -> Modality {
        match self {
            InputFormat::Image(_) => Modality::Image,
            InputFormat::Tokens(_) => Modality::Text,
        }
    }

    /// Every modality a served model of this input answers.
    pub const fn modalities(&self) -> &'static [Modality] {
        match self {
            InputFormat::Image(_) => &IMAGE_MODALITIES,
            InputFormat::Tokens(_) => &TOKEN_MODALITIES,
        }
    }

    /// Whether a gradient with respect to the input exists (a peer's `Backward` has an
    /// answer). Token ids are discrete: they have none.
    pub const fn has_gradient(&self) -> bool {
        matches!(self, InputFormat::Image(_))
    }

    /// Checks that `modality` is served.
    pub fn check_modality(&self, modality: Modality) -> Result<(), SynapseError> {
        if self.modalities().contains(&modality) {
            Ok(())
        } else {
            Err(SynapseError::UnsupportedModality(modality))
        }
    }

    /// A peer's tensor → its rows and the values the model computes on.
    pub fn from_wire(&self, t: &Tensor) -> Result<(usize, Vec<f32>), SynapseError> {
        match self {
            InputFormat::Image(f) => f.from_wire(t),
            InputFormat::Tokens(f) => f.from_wire(t),
        }
    }

    /// `rows` of the model's values → the tensor its peers receive.
    pub fn to_wire(&self, values: &[f32], rows: usize) -> Result<Tensor, TensorError> {
        match self {
            InputFormat::Image(f) => f.to_wire(values, rows),
            InputFormat::Tokens(f) => f.to_wire(values, rows),
        }
    }

    /// A gradient with respect to the model's values → with respect to the wire's. Only
    /// called where [`Self::has_gradient`].
    pub fn grad_to_wire(&self, dx: &mut [f32]) {
        if let InputFormat::Image(f) = self {
            f.grad_to_wire(dx);
        }
    }
}

impl TokenFormat {
    /// INT64 or INT32 ids `[B, len]` → the ids as `f32`, each checked against the vocabulary.
    /// Read in place when the buffer is aligned; the `f32` copy is the only one made.
    pub fn from_wire(&self, t: &Tensor) -> Result<(usize, Vec<f32>), SynapseError> {
        let rows = batch_rows(t)?;
        if t.shape() != [rows, self.len] {
            return Err(SynapseError::invalid(format!(
                "{} must be [B, {}] (padded with [PAD] = {PAD_ID}), got {:?}",
                self.what,
                self.len,
                t.shape()
            )));
        }
        let ids = match t.dtype() {
            DType::Int64 => self.ids_as_f32::<i64>(t),
            DType::Int32 => self.ids_as_f32::<i32>(t),
            other => Err(SynapseError::invalid(format!(
                "{} must be INT64 or INT32, got {}",
                self.what,
                other.name()
            ))),
        }?;
        Ok((rows, ids))
    }

    fn ids_as_f32<T: Element + Copy + Into<i64>>(
        &self,
        t: &Tensor,
    ) -> Result<Vec<f32>, SynapseError> {
        let copied;
        let ids = match t.as_slice::<T>() {
            Some(s) => s,
            None => {
                copied = t.to_vec::<T>().map_err(SynapseError::invalid)?;
                &copied
            }
        };
        let mut out = Vec::with_capacity(ids.len());
        for (i, &id) in ids.iter().enumerate() {
            let id: i64 = id.into();
            match usize::try_from(id) {
                Ok(v) if v < self.vocab => out.push(v as f32),
                _ => {
                    return Err(SynapseError::invalid(format!(
                        "{}: id {id} in row {} is outside the vocabulary 0..{}",
                        self.what,
                        i / self.len,
                        self.vocab
                    )));
                }
            }
        }
        Ok(out)
    }

    /// Rows of ids as `f32` → INT32 `[rows, len]` token ids (half the bytes of INT64; every
    /// vocabulary fits).
    pub fn to_wire(&self, values: &[f32], rows: usize) -> Result<Tensor, TensorError> {
        let ids: Vec<i32> = values.iter().map(|&v| v as i32).collect();
        Tensor::from_vec(&[rows, self.len], ids, Modality::Text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKENS: InputFormat = InputFormat::Tokens(TokenFormat {
        what: "test ids",
        len: 4,
        vocab: 10,
    });

    #[test]
    fn token_ids_round_trip_through_the_wire_as_int32() {
        let ids = [1.0, 5.0, 9.0, 0.0, 2.0, 0.0, 0.0, 0.0];
        let t = TOKENS.to_wire(&ids, 2).unwrap();
        assert_eq!(t.dtype(), DType::Int32);
        assert_eq!(t.shape(), [2, 4]);
        assert_eq!(t.modality(), Modality::Text);
        assert_eq!(TOKENS.from_wire(&t).unwrap(), (2, ids.to_vec()));
        let wide = Tensor::from_i64(&[1, 4], &[3, 4, 0, 0], Modality::Text).unwrap();
        assert_eq!(
            TOKENS.from_wire(&wide).unwrap(),
            (1, vec![3.0, 4.0, 0.0, 0.0])
        );
        assert!(!TOKENS.has_gradient());
        assert_eq!(TOKENS.modality(), Modality::Text);
    }

    #[test]
    fn bad_token_input_is_the_callers_error() {
        // Float token ids cannot reach here: bt-tensor refuses FLOAT32 with Text at decode.
        let cases = [
            Tensor::from_i64(&[1, 4], &[1, 2, 10, 0], Modality::Text).unwrap(),
            Tensor::from_i64(&[1, 4], &[1, -1, 0, 0], Modality::Text).unwrap(),
            Tensor::from_i64(&[1, 3], &[1, 2, 3], Modality::Text).unwrap(),
            Tensor::from_i64(&[2, 2, 2], &[1; 8], Modality::Text).unwrap(),
        ];
        for t in cases {
            assert!(
                matches!(TOKENS.from_wire(&t), Err(SynapseError::InvalidInput(_))),
                "{t:?}"
            );
        }
        assert!(matches!(
            TOKENS.check_modality(Modality::Image),
            Err(SynapseError::UnsupportedModality(Modality::Image))
        ));
    }
}
