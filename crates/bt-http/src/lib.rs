//! Today's Synapse protocol over HTTP, as the Python SDK v10 speaks it.
//!
//! - [`SynapseMessage`] / [`TypedSynapse`]: typed request/response objects, declared with
//!   [`http_synapse!`]; [`DynSynapse`] for a synapse known only by name and JSON (the CLI).
//! - The JSON body ([`Envelope`] beside the synapse's fields), [`TerminalInfo`], the SDK's
//!   `computed_body_hash` ([`BodyHasher`], over Python's rendering of values: [`pyrepr`]).
//! - [`headers`]: the header names and their parsing, bounded.
//! - [`builtin`]: the subnet template's `Dummy`, a text `Prompting`, a tensor synapse.
//! - [`sdk_tensor`]: the SDK's `bt.Tensor` JSON (base64 msgpack-numpy) ⇄ [`bt_tensor::Tensor`].
//!
//! Serving and calling live in `bt-axon` and `bt-dendrite`; signatures in `bt-crypto`.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod body_hash;
pub mod builtin;
mod dynamic;
mod error;
pub mod headers;
mod lenient;
mod message;
pub mod pyrepr;
pub mod sdk_tensor;
pub mod status;
mod terminal;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use body_hash::{BodyHasher, empty_body_hash, sha3_256_hex};
pub use dynamic::{DynSynapse, DynSynapseError};
pub use error::BodyError;
pub use message::{ENVELOPE_FIELDS, Envelope, SynapseField, SynapseMessage, TypedSynapse, b64};
pub use terminal::{TERMINAL_FIELDS, TerminalInfo, new_uuid, version_as_int};

/// At most 80 characters of untrusted text, for error messages.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
