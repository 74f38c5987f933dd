//! Dendrite settings. Every field is a bound or a deadline; the defaults suit tensors up to the
//! 64 MiB wire limit on a LAN or the internet.

use std::time::Duration;

use bt_crypto::session::SessionVersion;
use bt_tensor::Limits;
use bt_tensor::compression::Codec;
use bt_wire::scan::DecodeLimits;

use crate::breaker::BreakerConfig;

/// How the dendrite talks to its peers.
#[derive(Debug, Clone)]
pub struct DendriteConfig {
    /// Deadline of a call when the caller gives none: from submission to verdict, including
    /// waiting for a slot and dialing. The remaining part is sent to the server as `grpc-timeout`.
    pub timeout: Duration,
    /// Calls in flight at once across all peers; further calls wait (inside their deadline).
    pub max_in_flight: usize,
    /// Calls in flight at once on one axon's connection; further calls to that axon wait
    /// (inside their deadline). Match the servers' per-connection limit: bt-axon's default
    /// `max_in_flight_per_connection` is 64 and it refuses the excess.
    pub max_in_flight_per_host: usize,
    /// Pooled connections (one per axon `address:port`); the least recently used goes first.
    pub max_connections: usize,
    /// A connection unused this long is dropped.
    pub idle_timeout: Duration,
    /// Cap on one dial (also cut short by the call's own deadline).
    pub connect_timeout: Duration,
    /// Circuit breakers (one per synapse endpoint) remembered at once, LRU.
    pub max_breakers: usize,
    /// Peers whose answer rate and latency the metrics keep (an LRU); default 256.
    pub max_peer_stats: usize,
    pub breaker: BreakerConfig,
    /// Largest encoded request or response message.
    pub max_message_size: usize,
    /// HTTP/2 frame size (16 KiB is the protocol's default; large tensors want more).
    pub max_frame_size: u32,
    /// HTTP/2 flow-control windows: large, so a 1 MiB tensor is not throttled by ACK round trips.
    pub stream_window: u32,
    pub connection_window: u32,
    /// HTTP/2 PINGs on idle connections detect dead peers before a call has to.
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
    /// Sign every request with the neuron key (Release-1 servers ignore the signature; servers
    /// of this project refuse unsigned requests unless started with "allow unsigned").
    pub sign_requests: bool,
    /// Authenticate with a per-connection session where the axon supports one: the first
    /// signed request offers an X25519 share, and once the axon accepts, requests carry an
    /// HMAC-SHA256 and a counter instead of an Ed25519 signature. Axons that do not answer the
    /// offer keep getting signed requests. Needs `sign_requests`. Default `true`.
    pub sessions: bool,
    /// The highest session version offered (`bt-session-version`); the axon picks at most this.
    /// Version 2 (the default) hashes the tensors of each request with BLAKE3 instead of
    /// SHA-256.
    pub session_version: SessionVersion,
    /// Sign over the v2 request digest, which binds the endpoint dialled, with every axon that
    /// has said it accepts it (`bt-digest: 2`): a request then cannot be replayed at another
    /// axon serving the same synapse key. First requests, and every request to an axon that
    /// never says so (Release 1), are signed over v1 as before. `false` signs v1 always, as
    /// dendrites before v2 did. Default `true`.
    pub digest_v2: bool,
    /// Bounds on every tensor a peer sends back.
    pub limits: Limits,
    /// Most tensors in one response, counted on its bytes before it is decoded (with
    /// `limits.max_dims` per tensor): a tensor costs about a hundred bytes decoded and two on
    /// the wire, so a peer must not choose how many we decode. Default 256.
    pub max_tensors: usize,
    /// Longest string or signature field of a response, checked before decoding. Default 1 KiB.
    pub max_field_bytes: usize,
    /// Codecs accepted in answers, preferred first, offered to every axon in `bt-codecs`
    /// (`docs/protocol.md`, "Compression"; lossy). Empty, the default: no offer, and answers
    /// in float32 as from Release 1. [`CallOptions`](crate::CallOptions) overrides it per call.
    pub answer_codecs: Vec<Codec>,
    /// Codec of the float32 tensors of requests. Used with an axon only once one of its answers
    /// has listed it as accepted; until then, and with axons that never list codecs (Release 1),
    /// requests travel in float32. Default [`Codec::None`].
    pub request_codec: Codec,
}

impl DendriteConfig {
    /// What a response may hold, checked on its bytes before it is decoded.
    pub fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_tensors: self.max_tensors,
            max_dims: self.limits.max_dims,
            max_field_bytes: self.max_field_bytes,
        }
    }
}

impl Default for DendriteConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            max_in_flight: 1024,
            max_in_flight_per_host: 64,
            max_connections: 1024,
            idle_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(3),
            max_breakers: 16 * 1024,
            max_peer_stats: 256,
            breaker: BreakerConfig::default(),
            max_message_size: 64 << 20,
            max_frame_size: 1 << 20,
            stream_window: 8 << 20,
            connection_window: 32 << 20,
            keepalive_interval: Duration::from_secs(20),
            keepalive_timeout: Duration::from_secs(10),
            sign_requests: true,
            sessions: true,
            session_version: SessionVersion::LATEST,
            digest_v2: true,
            limits: Limits::DEFAULT,
            max_tensors: DecodeLimits::DEFAULT.max_tensors,
            max_field_bytes: DecodeLimits::DEFAULT.max_field_bytes,
            answer_codecs: Vec::new(),
            request_codec: Codec::None,
        }
    }
}
