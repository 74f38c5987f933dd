//! Every limit the axon enforces, with the defaults documented on each field.

use std::net::SocketAddr;
use std::time::Duration;

use bt_crypto::session::SessionVersion;
use bt_tensor::compression::CodecSet;
use bt_wire::scan::DecodeLimits;

/// HTTP/2 allows frames up to 2^24 − 1 bytes.
pub const MAX_HTTP2_FRAME_SIZE: u32 = (1 << 24) - 1;

/// Configuration of an [`Axon`](crate::Axon). `AxonConfig::default()` is safe to expose to the
/// public network except for the addresses, which the caller chooses.
#[derive(Clone, Debug)]
pub struct AxonConfig {
    /// Largest gRPC message accepted or sent, in bytes. Default 64 MiB. A larger request is
    /// answered `OUT_OF_RANGE` (tonic's code for it) before it is decoded.
    pub max_message_bytes: usize,
    /// Largest number of elements in any one tensor (and strings in a text tensor).
    /// Default 16 Mi elements.
    pub max_elements: usize,
    /// Most tensors in one request, counted on its bytes before it is decoded: decoding costs
    /// about a hundred bytes per tensor, which an empty tensor's two bytes on the wire do not
    /// pay for. A request over it is answered `OUT_OF_RANGE`. Default 256.
    pub max_tensors: usize,
    /// Longest string or signature field of a request (keys, versions, the signature), checked
    /// before decoding like `max_tensors`. Default 1 KiB.
    pub max_field_bytes: usize,
    /// Requests served at once over all connections, counted from the moment a request's
    /// whole message is in (a request still arriving holds none, so slow senders cannot take
    /// them); the next one is answered `RESOURCE_EXHAUSTED`. Default 256.
    pub max_in_flight: usize,
    /// Requests open at once from one source address, from their headers to their answer;
    /// beyond it that address's next request is answered `RESOURCE_EXHAUSTED` before its body
    /// is read. Default 128.
    pub max_requests_per_ip: usize,
    /// Bytes of request bodies held at once (arriving or being served), over all connections;
    /// a request whose body would pass it is answered `RESOURCE_EXHAUSTED` as the byte that
    /// passes it arrives. Default 1 GiB.
    pub max_buffered_bytes: usize,
    /// The same for one source address, so one address cannot take the whole budget. At least
    /// `max_message_bytes`. Default 256 MiB.
    pub max_buffered_bytes_per_ip: usize,
    /// A request's whole body must arrive within this after its headers (or the client's
    /// deadline, if sooner); otherwise it is answered `DEADLINE_EXCEEDED` and everything it held
    /// is released. Default 10 s.
    pub body_timeout: Duration,
    /// Requests handled at once on one connection; beyond this the connection's next request is
    /// shed with `RESOURCE_EXHAUSTED`. Default 64.
    pub max_in_flight_per_connection: usize,
    /// HTTP/2 streams a client may open at once on one connection. Default 128.
    pub max_concurrent_streams: u32,
    /// Open TCP connections at once; further ones wait in the kernel's accept backlog.
    /// Default 1024.
    pub max_connections: usize,
    /// Open TCP connections at once from one source address; a further one is closed as soon
    /// as it is accepted. Default 64.
    pub max_connections_per_ip: usize,
    /// A connection that sends nothing for this long after it was accepted is closed, so that
    /// silent sockets cannot hold the `max_connections` slots. Default 10 s.
    pub handshake_timeout: Duration,
    /// Threads of the blocking pool that run synapses, and the signature checks and tensor
    /// codecs of requests larger than `inline_max_bytes`; admitted requests wait (bounded by
    /// `max_in_flight`) for one. Default: the number of CPUs.
    pub workers: usize,
    /// Requests whose encoded size is at most this are authenticated on the async executor, their
    /// signatures verified in batches with those of concurrent requests (less CPU than one-by-one
    /// checks), and served there too when the synapse is
    /// [lightweight](bt_interfaces::Synapse::is_lightweight); larger ones go to the blocking pool, where
    /// hashing the payload cannot stall other connections. The limit is for SHA-256, which
    /// signatures and version-1 sessions hash with; version-2 sessions (BLAKE3, faster) get 4× it
    /// and anonymous requests (no hash, only a NaN scan) 32×, for about the same executor time. 0
    /// sends everything to the pool. Default 64 KiB.
    pub inline_max_bytes: usize,
    /// Most signatures one batch verification checks (it runs on an executor thread, so this
    /// bounds the time it holds that thread, which grows with every signature). Default 32.
    pub max_verify_batch: usize,
    /// Accept requests with an empty signature (Release 1 peers, which never signed). Such a
    /// caller is anonymous: the [`Policy`](crate::Policy) sees `None`. Default `false`.
    pub allow_unsigned: bool,
    /// Refuse signed requests whose signature covers the v1 request digest, which does not
    /// bind the endpoint dialled (`UNAUTHENTICATED`): only v2 signatures (`bt-digest: 2`),
    /// sessions and, with `allow_unsigned`, unsigned requests are served. With it off, a v1
    /// request meant for another axon serving the same synapse key can be replayed here within
    /// the nonce window; callers that predate v2 (every Release 1 peer, which sends its
    /// signatures over v1) need it off. Callers of this project sign v2 once an answer of this
    /// axon has said `bt-digest: 2`, and retry a refused first request so. Default `false`.
    pub require_digest_v2: bool,
    /// The host (IP literal or name) callers are told to dial when it is not the address a
    /// connection arrives at, as published (`--remote_ip`). A v2 signature must bind an
    /// endpoint of this axon: the local address of the request's connection or this host, with
    /// the listen port or `external_port`. Default `None`.
    pub external_host: Option<String>,
    /// The port callers are told to dial when it is not the listen port (a forwarded port of a
    /// NAT or proxy; `--external_port`). Default `None`.
    pub external_port: Option<u16>,
    /// How far a request's nonce (nanoseconds since the Unix epoch) may lie in the past.
    /// Default 10 s.
    pub nonce_max_age: Duration,
    /// How far a request's nonce may lie in the future (clock skew). Default 2 s.
    pub nonce_max_skew: Duration,
    /// Callers whose nonces are remembered. A caller is forgotten only once its nonces are all
    /// stale (older than `nonce_max_age`); while the table is full of live callers a new one is
    /// answered `RESOURCE_EXHAUSTED` (live callers are never evicted for it: see
    /// `bt_crypto::ReplayGuard`). Only callers that passed the signature and the policy are
    /// recorded. Default 16,384.
    pub max_callers: usize,
    /// Callers with live nonces from one source address, so one address minting keys cannot
    /// fill `max_callers`. Default 256.
    pub max_callers_per_ip: usize,
    /// Recent nonces remembered per caller, so that concurrent requests that overtake each
    /// other on the way are still accepted once each. Worst-case memory of the nonce table is
    /// `max_callers × nonce_reorder_window × 8` bytes (16 MiB with the defaults). Default 128.
    pub nonce_reorder_window: usize,
    /// Accept session handshakes (`bt-session-offer`): the caller signs one request, then
    /// authenticates the next ones with an HMAC instead of an Ed25519 signature (far cheaper;
    /// `docs/protocol.md`, "Sessions"). Per-request signed requests are served either way. `false`
    /// ignores offers and refuses session requests as `UNAUTHENTICATED`, which sends the callers
    /// back to signing. Default `true`.
    pub sessions: bool,
    /// The highest session version spoken: callers that ask for more get this one. Version 2
    /// (the default) hashes each request's tensors with BLAKE3 instead of SHA-256, which is most
    /// of the cost of authenticating a large request; version 1 is what the first
    /// session-aware peers speak.
    pub session_version: SessionVersion,
    /// Sessions remembered at once. When full, the least recently used is dropped for a new one
    /// only if unused for `session_protect_recent`; otherwise the new session is not opened
    /// (its request is still served, and its caller goes on signing), so a flood of handshakes
    /// cannot push out sessions in use. About 300 bytes each. Default 16,384.
    pub max_sessions: usize,
    /// A session used this recently is never dropped for another caller's. Default 60 s.
    pub session_protect_recent: Duration,
    /// Sessions opened from one source address at once. Default 1,024.
    pub max_sessions_per_ip: usize,
    /// Sessions of one caller key at once; beyond it that caller's oldest is dropped, so one key
    /// cannot take the table. Default 8.
    pub max_sessions_per_caller: usize,
    /// A session unused this long is dropped. Default 5 min.
    pub session_idle_timeout: Duration,
    /// A session this old is dropped however busy, bounding what one key authenticates.
    /// Default 1 h.
    pub session_max_age: Duration,
    /// Longest time a request may take when the client sends no `grpc-timeout`; a client's
    /// shorter deadline always wins. Default 60 s.
    pub default_timeout: Duration,
    /// HTTP/2 keepalive ping interval. Default 30 s.
    pub http2_keepalive_interval: Duration,
    /// A connection whose keepalive ping is not acknowledged within this is closed. Default 20 s.
    pub http2_keepalive_timeout: Duration,
    /// Largest HTTP/2 frame we accept. Default 1 MiB (the HTTP/2 default, 16 KiB, cuts a 1 MiB
    /// message into 64 frames and costs much of its throughput).
    pub max_frame_size: u32,
    /// HTTP/2 flow-control window per stream. Default 4 MiB.
    pub initial_stream_window: u32,
    /// HTTP/2 flow-control window per connection. Default 16 MiB.
    pub initial_connection_window: u32,
    /// Codecs accepted in requests and used in answers to callers that offer them
    /// (`docs/protocol.md`, "Compression"): a request with a tensor in another codec is answered
    /// `UNIMPLEMENTED`; a caller that sends no `bt-codecs` offer (every Release 1 peer) gets
    /// float32 answers whatever this holds. Default: all of them.
    pub codecs: CodecSet,
    /// Where to serve Prometheus metrics (`GET /metrics`); `None` serves none. Default `None`.
    pub metrics_addr: Option<SocketAddr>,
}

impl Default for AxonConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 << 20,
            max_elements: 16 << 20,
            max_tensors: DecodeLimits::DEFAULT.max_tensors,
            codecs: CodecSet::ALL,
            max_field_bytes: DecodeLimits::DEFAULT.max_field_bytes,
            max_in_flight: 256,
            max_requests_per_ip: 128,
            max_buffered_bytes: 1 << 30,
            max_buffered_bytes_per_ip: 256 << 20,
            body_timeout: Duration::from_secs(10),
            max_in_flight_per_connection: 64,
            max_concurrent_streams: 128,
            max_connections: 1024,
            max_connections_per_ip: 64,
            handshake_timeout: Duration::from_secs(10),
            workers: std::thread::available_parallelism().map_or(2, usize::from),
            inline_max_bytes: 64 << 10,
            max_verify_batch: 32,
            allow_unsigned: false,
            require_digest_v2: false,
            external_host: None,
            external_port: None,
            nonce_max_age: Duration::from_secs(10),
            nonce_max_skew: Duration::from_secs(2),
            max_callers: 16_384,
            max_callers_per_ip: 256,
            nonce_reorder_window: 128,
            sessions: true,
            session_version: SessionVersion::LATEST,
            max_sessions: 16_384,
            session_protect_recent: Duration::from_secs(60),
            max_sessions_per_ip: 1_024,
            max_sessions_per_caller: 8,
            session_idle_timeout: Duration::from_secs(300),
            session_max_age: Duration::from_secs(3600),
            default_timeout: Duration::from_secs(60),
            http2_keepalive_interval: Duration::from_secs(30),
            http2_keepalive_timeout: Duration::from_secs(20),
            max_frame_size: 1 << 20,
            initial_stream_window: 4 << 20,
            initial_connection_window: 16 << 20,
            metrics_addr: None,
        }
    }
}

impl AxonConfig {
    /// Rejects settings that cannot work, naming the field to change (the axon checks this at
    /// start; a command line can check it first to name its flag).
    pub fn validate(&self) -> Result<(), crate::AxonError> {
        let bad =
            |field: &'static str, reason: String| Err(crate::AxonError::Config { field, reason });
        if self.max_in_flight == 0 {
            return bad("max_in_flight", "must be at least 1".into());
        }
        if self.max_in_flight_per_connection == 0 {
            return bad("max_in_flight_per_connection", "must be at least 1".into());
        }
        if self.max_connections == 0 {
            return bad("max_connections", "must be at least 1".into());
        }
        if self.max_connections_per_ip == 0 {
            return bad("max_connections_per_ip", "must be at least 1".into());
        }
        if self.max_requests_per_ip == 0 {
            return bad("max_requests_per_ip", "must be at least 1".into());
        }
        if self.max_buffered_bytes_per_ip < self.max_message_bytes {
            return bad(
                "max_buffered_bytes_per_ip",
                format!(
                    "{} is below max_message_bytes ({}): no message that large could arrive",
                    self.max_buffered_bytes_per_ip, self.max_message_bytes
                ),
            );
        }
        if self.max_buffered_bytes < self.max_buffered_bytes_per_ip {
            return bad(
                "max_buffered_bytes",
                format!(
                    "{} is below max_buffered_bytes_per_ip ({})",
                    self.max_buffered_bytes, self.max_buffered_bytes_per_ip
                ),
            );
        }
        if self.body_timeout.is_zero() {
            return bad("body_timeout", "must be longer than zero".into());
        }
        if self.workers == 0 {
            return bad("workers", "must be at least 1".into());
        }
        if self.max_concurrent_streams == 0 {
            return bad("max_concurrent_streams", "must be at least 1".into());
        }
        if self.max_message_bytes < 1024 {
            return bad(
                "max_message_bytes",
                format!("{} is below 1 KiB", self.max_message_bytes),
            );
        }
        if !(16_384..=MAX_HTTP2_FRAME_SIZE).contains(&self.max_frame_size) {
            return bad(
                "max_frame_size",
                format!(
                    "{} is outside HTTP/2's 16384..={MAX_HTTP2_FRAME_SIZE}",
                    self.max_frame_size
                ),
            );
        }
        if self.max_tensors < 2 {
            return bad(
                "max_tensors",
                "must be at least 2 (a Backward request carries an input and its gradient)".into(),
            );
        }
        if self.max_field_bytes < 128 {
            return bad(
                "max_field_bytes",
                format!("{} is below 128 (a key is 66 bytes)", self.max_field_bytes),
            );
        }
        if self.max_verify_batch == 0 {
            return bad("max_verify_batch", "must be at least 1".into());
        }
        if self.sessions
            && (self.max_sessions == 0
                || self.max_sessions_per_caller == 0
                || self.max_sessions_per_ip == 0)
        {
            return bad(
                "max_sessions",
                "max_sessions, max_sessions_per_caller and max_sessions_per_ip must be at least 1 \
                 with sessions on"
                    .into(),
            );
        }
        if let Some(host) = &self.external_host
            && let Err(e) = bt_crypto::Dialled::new(host, 0)
        {
            return bad("external_host", e.to_string());
        }
        if self.max_callers == 0 {
            return bad("max_callers", "must be at least 1".into());
        }
        if self.max_callers_per_ip == 0 {
            return bad("max_callers_per_ip", "must be at least 1".into());
        }
        Ok(())
    }
}
