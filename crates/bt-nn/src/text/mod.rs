//! The text neuron's engine: all-MiniLM-L6-v2 (a pretrained 6-layer BERT sentence encoder)
//! with its WordPiece tokenizer, served as a [`bt_interfaces::Synapse`] for the TEXT modality.
//!
//! - [`files`] finds the model files (flag, `BT_MINILM_DIR`, or the user's cache that
//!   `scripts/fetch-minilm.sh` fills); nothing here downloads.
//! - [`tokenize`] turns strings (or a peer's token ids) into a padded [`TokenBatch`], within
//!   the caps of [`TextLimits`].
//! - [`encoder`] runs BERT, mean-pools under the mask and L2-normalizes: 384 values per text.
//!   [`bert`] is its forward (packed sequences, no padding, fused kernels from [`kernels`]);
//!   [`candle_bert`] is candle's BERT, the reference that forward is tested against.
//! - [`corpus`] reads the real corpora (gensim's Lee and Pang–Lee files, Debian fortunes).
//! - [`student`] is a small embedding-bag student distilled from MiniLM's answers.
//! - [`model`] is the text neuron's model: an embedding bag under the seeds' three heads,
//!   classifying fortunes by topic, with MiniLM peers' embeddings as its network context.
//! - [`neuron`] makes that model a `NeuronModel`: rows of token ids, Debian's fortunes tokenized
//!   by MiniLM's tokenizer as its data.
//! - [`synapse`] serves MiniLM: strings in the strict pickle subset or INT64 token ids in, one
//!   embedding per input out; bad input is a typed [`bt_interfaces::SynapseError`].

pub mod bert;
pub mod candle_bert;
pub mod corpus;
pub mod encoder;
pub mod error;
pub mod files;
pub mod kernels;
pub mod model;
pub mod neuron;
pub mod student;
pub mod synapse;
pub mod tokenize;

pub use candle_bert::CandleMiniLm;
pub use encoder::{MINILM_DIM, MiniLm, l2_normalize, mean_pool};
pub use error::TextError;
pub use files::{MinilmFiles, default_minilm_dir, default_text_corpora_dir};
pub use model::{TEXT_FEATURES, TextModel};
pub use neuron::{MINILM_VOCAB, TEXT_TOKENS};
pub use student::{StudentConfig, TextStudent, linear_probe_accuracy, row_cosines};
pub use synapse::{TEXT_MODALITIES, TextSynapse, text_synapse_error};
pub use tokenize::{PAD_ID, TextLimits, TextTokenizer, TokenBatch};
