//! The dendrite: the client half of the tensor protocol.
//!
//! A neuron hands the dendrite one batch and a list of remote synapses ([`Endpoint`]s); the
//! dendrite calls `Forward` (or `Backward`) on all of them at once and returns, per synapse, a
//! typed [`Outcome`] and the time it took — never an error for a peer's misbehaviour, never a
//! silent zero tensor.
//!
//! ```text
//!  forward(inputs) ─► per call task: breaker ─► slot (semaphore) ─► pooled HTTP/2 connection
//!                                      │                               │
//!                                      └ open: Unavailable, fast       └ sign (key, fresh nonce)
//!                                                                        ─► RPC with grpc-timeout
//!                                                                        ─► validate ─► Outcome
//! ```
//!
//! - **Deadlines end to end**: one deadline per fan-out covers waiting for a slot, dialing and
//!   the RPC; the remainder is sent as `grpc-timeout` so the server stops working for us when
//!   we stop waiting.
//! - **Bounded**: calls in flight (semaphore), pooled connections (LRU, idle expiry), circuit
//!   breakers (LRU), message sizes; responses are validated (count, dtype, shape, batch,
//!   finiteness, bt-tensor [`Limits`](bt_tensor::Limits)) before the model sees them.
//! - **Dead peers are cheap**: a refused dial fails every call waiting on it at once; after
//!   `failure_threshold` consecutive failures a synapse's circuit opens and calls fail
//!   without a dial until a half-open probe succeeds (backoff doubling up to a cap).
//! - **Authenticated**: every request is signed with the neuron key over the receiver, a fresh
//!   nonce and a hash of the tensors (`bt_crypto`); `sign_requests = false` talks to Release-1
//!   servers. A tensor broadcast to many peers is encoded and hashed once.
//! - **Sessions** (`sessions`, on by default): the first signed request to an axon also offers an
//!   X25519 share; an axon that accepts answers with its own, and later requests on that connection
//!   carry an HMAC and a counter instead of an Ed25519 signature (far less CPU: README
//!   "Benchmarks", RPC). Axons that do not accept keep getting signed requests; a session the axon
//!   forgot costs one transparent, signed retry. Layout: `docs/protocol.md`, "Sessions".
//! - **Compression** (`answer_codecs`, `request_codec`; none by default): the answer codecs are
//!   offered in `bt-codecs`; requests are compressed only for an axon whose answer listed the
//!   codec, so Release 1 axons only ever get float32. Answers in a codec not offered are
//!   refused. Layout: `docs/protocol.md`, "Compression".
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use bt_dendrite::{Dendrite, DendriteConfig, Endpoint, Inputs, Outcome};
//! let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), DendriteConfig::default());
//! let peers = vec![Endpoint::new("127.0.0.1", 8091, "0x…synapse key…")];
//! let x = bt_tensor::Tensor::from_f32(&[2, 3], &[0.0; 6], bt_tensor::Modality::Tensor)?;
//! for reply in dendrite.forward_tensor(Inputs::broadcast(peers, x)).await? {
//!     match reply.outcome {
//!         Outcome::Ok(y) => println!("{:?} in {:?}", y.shape(), reply.elapsed),
//!         other => println!("failed: {other}"),
//!     }
//! }
//! # Ok(()) }
//! ```

mod breaker;
mod call;
mod codecs;
mod config;
mod dendrite;
mod digest;
mod endpoint;
mod error;
mod hashes;
pub mod http;
mod lru;
mod metrics;
mod outcome;
mod pool;
mod request;
mod rpc;
mod session;
mod shared;
mod trailer;

pub use breaker::BreakerConfig;
pub use bt_crypto::session::SessionVersion;
pub use call::validate_response;
pub use config::DendriteConfig;
pub use dendrite::{CallOptions, Dendrite, Inputs};
pub use endpoint::Endpoint;
pub use error::DendriteError;
pub use outcome::{BadResponse, Outcome, Reply, Unavailable};

/// Sent in `TensorMessage.version` (Release 1 sent `"0.0.0"`; receivers accept any).
pub const PROTOCOL_VERSION: &str = env!("CARGO_PKG_VERSION");
