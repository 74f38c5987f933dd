//! MiniLM's WordPiece tokenizer (from the model's `tokenizer.json`) and the caps on what it is
//! asked to read.

use std::path::Path;

use tokenizers::{Tokenizer, TruncationParams};

use super::error::TextError;

/// `[PAD]`: padding id, and the id token-id input marks unused positions with.
pub const PAD_ID: u32 = 0;

/// Caps on one encoder call. Over-long *text* is truncated to `max_tokens` tokens, as
/// sentence-transformers does (its `max_seq_length`), unless `truncate` is off; everything else
/// over a cap is a typed [`TextError`], checked before the work it bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimits {
    /// Texts (or token-id rows) per call. Default 64.
    pub max_batch: usize,
    /// UTF-8 bytes per text, checked before tokenizing. Default 16 KiB.
    pub max_text_bytes: usize,
    /// Tokens per sequence, `[CLS]` and `[SEP]` included; at most the model's 512 positions.
    /// Default 256 (all-MiniLM-L6-v2's `max_seq_length`).
    pub max_tokens: usize,
    /// Truncate text that tokenizes to more than `max_tokens` (default `true`, what the
    /// reference model does); when off, such a text is [`TextError::TooManyTokens`].
    /// Token-id input is never truncated: it is the caller's exact sequence.
    pub truncate: bool,
}

impl TextLimits {
    pub const DEFAULT: TextLimits = TextLimits {
        max_batch: 64,
        max_text_bytes: 16 << 10,
        max_tokens: 256,
        truncate: true,
    };
}

impl Default for TextLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Token ids of a batch, padded with [`PAD_ID`] to its longest sequence: row-major
/// `[rows, len]`, and the attention mask (1 for a real token, 0 for padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBatch {
    pub rows: usize,
    pub len: usize,
    pub ids: Vec<u32>,
    pub mask: Vec<u32>,
}

impl TokenBatch {
    /// Validates token ids as a peer sends them, `[rows, len]` row-major with [`PAD_ID`] where
    /// there is no token: every id in `0..vocab`, within the caps. Nothing is allocated before
    /// the counts are checked.
    pub fn from_ids(
        ids: &[i64],
        rows: usize,
        len: usize,
        vocab: usize,
        limits: &TextLimits,
    ) -> Result<Self, TextError> {
        check_rows(rows, limits)?;
        if len > limits.max_tokens {
            return Err(TextError::TooManyTokens {
                index: 0,
                tokens: len,
                max: limits.max_tokens,
            });
        }
        if len == 0 || rows.checked_mul(len) != Some(ids.len()) {
            return Err(TextError::Shape {
                op: "token ids",
                expected: format!("[{rows}, {len}]"),
                got: format!("{} ids", ids.len()),
            });
        }
        let mut out = Vec::with_capacity(ids.len());
        for (i, &id) in ids.iter().enumerate() {
            match u32::try_from(id) {
                Ok(v) if (v as usize) < vocab => out.push(v),
                _ => {
                    return Err(TextError::BadTokenId {
                        id,
                        row: i / len,
                        vocab,
                    });
                }
            }
        }
        let mask = out.iter().map(|&id| u32::from(id != PAD_ID)).collect();
        Ok(TokenBatch {
            rows,
            len,
            ids: out,
            mask,
        })
    }

    /// Rows of ids held as `f32` (a dataset's or a checked request's rows, `len` wide, padded
    /// with [`PAD_ID`]) as a batch. Every value must be a whole id in `0..vocab`.
    pub fn from_f32_rows(x: &[f32], len: usize, vocab: usize) -> Result<Self, TextError> {
        if len == 0 || x.is_empty() || !x.len().is_multiple_of(len) {
            return Err(TextError::Shape {
                op: "token rows",
                expected: format!("[B, {len}]"),
                got: format!("{} ids", x.len()),
            });
        }
        let mut ids = Vec::with_capacity(x.len());
        for (i, &v) in x.iter().enumerate() {
            if !(v >= 0.0 && v < vocab as f32 && v.fract() == 0.0) {
                return Err(TextError::BadTokenId {
                    id: v as i64,
                    row: i / len,
                    vocab,
                });
            }
            ids.push(v as u32);
        }
        let mask = ids.iter().map(|&id| u32::from(id != PAD_ID)).collect();
        Ok(TokenBatch {
            rows: x.len() / len,
            len,
            ids,
            mask,
        })
    }

    /// The ids of row `r` where the mask is set (its tokens, padding left out).
    pub fn row(&self, r: usize) -> Vec<u32> {
        let span = r * self.len..(r + 1) * self.len;
        self.ids[span.clone()]
            .iter()
            .zip(&self.mask[span])
            .filter(|(_, m)| **m != 0)
            .map(|(id, _)| *id)
            .collect()
    }
}

fn check_rows(rows: usize, limits: &TextLimits) -> Result<(), TextError> {
    if rows == 0 {
        return Err(TextError::EmptyBatch);
    }
    if rows > limits.max_batch {
        return Err(TextError::TooManyTexts {
            got: rows,
            max: limits.max_batch,
        });
    }
    Ok(())
}

/// The WordPiece tokenizer of `tokenizer.json`, with its own padding removed (we pad a batch to
/// its longest text, not to a fixed width) and truncation set from [`TextLimits`].
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    limits: TextLimits,
}

impl TextTokenizer {
    pub fn from_file(path: &Path, limits: TextLimits) -> Result<Self, TextError> {
        let mut inner = Tokenizer::from_file(path).map_err(|e| TextError::BadModelFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        inner.with_padding(None);
        // Without truncation the tokenizer reports the full length, which we then refuse.
        let truncation = limits.truncate.then(|| TruncationParams {
            max_length: limits.max_tokens,
            ..TruncationParams::default()
        });
        inner
            .with_truncation(truncation)
            .map_err(|e| TextError::Tokenizer(e.to_string()))?;
        Ok(TextTokenizer { inner, limits })
    }

    /// Words and special tokens the model knows.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn limits(&self) -> &TextLimits {
        &self.limits
    }

    /// Tokenizes a batch (`[CLS] … [SEP]` around each text), checking the caps first.
    pub fn tokenize<S: AsRef<str>>(&self, texts: &[S]) -> Result<TokenBatch, TextError> {
        check_rows(texts.len(), &self.limits)?;
        for (index, t) in texts.iter().enumerate() {
            let bytes = t.as_ref().len();
            if bytes > self.limits.max_text_bytes {
                return Err(TextError::TextTooLong {
                    index,
                    bytes,
                    max: self.limits.max_text_bytes,
                });
            }
        }
        let inputs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let encodings = self
            .inner
            .encode_batch_fast(inputs, true)
            .map_err(|e| TextError::Tokenizer(e.to_string()))?;
        let len = encodings.iter().map(|e| e.len()).max().unwrap_or(0);
        if let Some((index, e)) = encodings
            .iter()
            .enumerate()
            .find(|(_, e)| e.len() > self.limits.max_tokens)
        {
            return Err(TextError::TooManyTokens {
                index,
                tokens: e.len(),
                max: self.limits.max_tokens,
            });
        }
        let rows = texts.len();
        let mut ids = vec![PAD_ID; rows * len];
        let mut mask = vec![0u32; rows * len];
        for (r, e) in encodings.iter().enumerate() {
            let n = e.len();
            ids[r * len..r * len + n].copy_from_slice(e.get_ids());
            mask[r * len..r * len + n].fill(1);
        }
        Ok(TokenBatch {
            rows,
            len,
            ids,
            mask,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_are_checked_against_vocab_shape_and_caps() {
        let limits = TextLimits {
            max_batch: 2,
            max_tokens: 4,
            ..TextLimits::DEFAULT
        };
        let b =
            TokenBatch::from_ids(&[101, 7, 102, 0, 101, 102, 0, 0], 2, 4, 200, &limits).unwrap();
        assert_eq!(b.mask, [1, 1, 1, 0, 1, 1, 0, 0]);
        assert_eq!(b.row(0), [101, 7, 102]);
        assert_eq!(b.row(1), [101, 102]);
        assert!(matches!(
            TokenBatch::from_ids(&[1, 200], 1, 2, 200, &limits),
            Err(TextError::BadTokenId { id: 200, .. })
        ));
        assert!(matches!(
            TokenBatch::from_ids(&[1, -1], 1, 2, 200, &limits),
            Err(TextError::BadTokenId { id: -1, .. })
        ));
        assert!(matches!(
            TokenBatch::from_ids(&[1; 5], 1, 5, 200, &limits),
            Err(TextError::TooManyTokens { tokens: 5, .. })
        ));
        assert!(matches!(
            TokenBatch::from_ids(&[1; 3], 3, 1, 200, &limits),
            Err(TextError::TooManyTexts { got: 3, .. })
        ));
        assert!(matches!(
            TokenBatch::from_ids(&[1; 3], 2, 2, 200, &limits),
            Err(TextError::Shape { .. })
        ));
        assert!(matches!(
            TokenBatch::from_ids(&[], 0, 2, 200, &limits),
            Err(TextError::EmptyBatch)
        ));
    }
}
