//! The axon: the server half of the Bittensor tensor protocol (Release 1 `Bittensor` service,
//! `Forward` and `Backward`), hosting any number of [`Synapse`]s, each under its synapse key.
//!
//! # Bird's-eye view
//!
//! ```text
//!  TCP ─► Incoming (≤ max_connections, ≤ max_connections_per_ip, handshake timeout,
//!        killable after the grace period)
//!     ─► HTTP/2 (tonic; max_concurrent_streams, frame/window/keepalive settings)
//!     ─► Admission, at header time: draining → UNAVAILABLE; connection or address full
//!        (max_in_flight_per_connection, max_requests_per_ip) → RESOURCE_EXHAUSTED; stamp
//!        deadline
//!     ─► body: whole within body_timeout (DEADLINE_EXCEEDED), its bytes charged as they
//!        arrive to max_buffered_bytes and max_buffered_bytes_per_ip (RESOURCE_EXHAUSTED)
//!     ─► message in: one of max_in_flight (RESOURCE_EXHAUSTED when all are serving)
//!     ─► handler: route by synapse key (NOT_FOUND), arity (INVALID_ARGUMENT)
//!     ─► small request (≤ inline_max_bytes, ×4 under a v2 session, ×32 anonymous): signature
//!        (batch-verified with concurrent requests) → nonce → policy on the executor, or,
//!        under a session, MAC → counter → policy; then decode → synapse → encode there too
//!        for a lightweight synapse, else on the blocking pool (≤ workers)
//!     ─► large request: all of it on the blocking pool
//! ```
//!
//! Nothing waits without a bound: connections wait in the kernel backlog; a request's body
//! must arrive within `body_timeout`, and until it has, the request holds only its
//! address's and connection's counts and the bytes it sent, so slow senders cannot starve
//! others of `max_in_flight`; requests beyond `max_in_flight` are refused once their message
//! is in; served requests wait for one of `workers` threads at most until their deadline. The signature and nonce are checked before
//! any tensor is decoded, once per request; on the executor only for small requests, in
//! batches of at most `max_verify_batch` (so one batch holds an executor thread for about a
//! millisecond at most), never for payloads whose hashing would take long.
//! Errors are gRPC statuses, never crashes: a synapse that fails or panics yields `INTERNAL`.
//!
//! **Sessions** (`AxonConfig::sessions`, on by default; `docs/protocol.md`, "Sessions"): a
//! signed request carrying `bt-session-offer` opens a session once it is authenticated,
//! allowed by the policy and served; the response carries `bt-session-accept`. Requests with
//! `bt-session` are then authenticated by HMAC-SHA256 and a counter (a 960-counter reorder
//! window) instead of Ed25519, still before any tensor is decoded and still checked by the
//! policy with the session's caller key. The table is bounded (`max_sessions`,
//! `max_sessions_per_caller`, idle and age limits); an unknown session is `UNAUTHENTICATED`,
//! and the caller then signs again.
//!
//! **Request digest v2** (`docs/protocol.md`, "Request digest v2"): every answer says
//! `bt-digest: 2`; a request with that header is signed over a digest that also binds the
//! endpoint the caller dialled (its `:authority`), which must be this axon's (its connection's
//! local address, `external_host`, the listen port or `external_port`), else
//! `UNAUTHENTICATED`: a request meant for another axon serving the same synapse key is not
//! served here. v1 requests are served unless `require_digest_v2`.
//!
//! **Compression** (`AxonConfig::codecs`, all by default; `docs/protocol.md`, "Compression"): a
//! request carrying `bt-codecs` is answered in the first offered codec the axon uses, and the
//! answer lists the codecs the axon accepts in requests. Request tensors in a codec outside that
//! list are `UNIMPLEMENTED`; compressed tensors that lie about their size or hold non-finite
//! scales are `INVALID_ARGUMENT`. A request without the header is answered as Release 1.
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), bt_axon::AxonError> {
//! use std::sync::Arc;
//! use bt_axon::{Axon, AxonConfig, EchoSynapse};
//!
//! let key = bt_crypto::NeuronKey::generate().public_hex();
//! let axon = Axon::builder(AxonConfig::default())
//!     .serve_synapse(key, Arc::new(EchoSynapse))
//!     .start("127.0.0.1:0".parse().expect("literal address"))
//!     .await?;
//! println!("serving on {}", axon.local_addr());
//! axon.shutdown(std::time::Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```

mod admission;
mod auth;
mod body_guard;
mod compression;
mod config;
mod digest;
mod early;
mod error;
mod grpc;
pub mod http;
pub mod http1_listener;
mod incoming;
mod metrics;
mod metrics_http;
mod per_key;
mod policy;
mod request_body;
mod server;
mod service;
mod session;
mod shared;
mod status;
mod synapse;
mod verify;

pub use config::{AxonConfig, MAX_HTTP2_FRAME_SIZE};
pub use error::AxonError;
pub use metrics::{LATENCY_BUCKETS, LatencySnapshot, MethodLabel, MetricsSnapshot, code_name};
pub use metrics_http::serve_metrics;
pub use policy::{AllowAll, Decision, Policy, Priority};
pub use server::{Axon, AxonBuilder, AxonHandle};
pub use synapse::EchoSynapse;

/// Re-exported so that users name the same types the axon does.
pub use bt_crypto::{PublicKey, RpcMethod};
pub use bt_tensor::{Modality, Tensor};
pub use tonic::Code;
