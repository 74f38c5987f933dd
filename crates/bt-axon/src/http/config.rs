//! Limits of the HTTP axon, each with its default and the reason for it.

use std::time::Duration;

/// Configuration of an [`HttpAxon`](super::HttpAxon). The defaults are safe on a public port.
#[derive(Clone, Debug)]
pub struct HttpAxonConfig {
    /// Largest request body, in bytes. A larger `content-length` is refused with 413 before
    /// any byte of the body is read; a body that grows past it while streaming, too.
    /// Default 16 MiB.
    pub max_body_bytes: usize,
    /// Bytes of btauth/1 bodies held at once before their signature is checked (btauth/1 signs
    /// the raw body, so it must be read first). A request that would exceed it gets 503 before
    /// its body is read. Default 64 MiB. (SDK v10 requests are verified from their headers,
    /// before their body is read.)
    pub max_unverified_body_bytes: usize,
    /// The same budget for one source address, so that one client cannot take all of it.
    /// Default 16 MiB (one body of the default maximum size).
    pub max_unverified_body_bytes_per_ip: usize,
    /// Requests admitted at once (verified and waiting for, or running in, a handler).
    /// Default 256.
    pub max_in_flight: usize,
    /// Requests in flight at once from one IP address, counted from the moment the headers
    /// arrive (before authentication), so an unauthenticated flood from one host cannot fill
    /// the axon. Default 64.
    pub max_in_flight_per_ip: usize,
    /// Requests in flight at once from one verified hotkey. Default 32.
    pub max_in_flight_per_hotkey: usize,
    /// Handlers running at once; further admitted requests wait in a priority queue. Default:
    /// the number of CPUs × 4 (handlers usually await I/O or the blocking pool).
    pub max_concurrent_handlers: usize,
    /// Longest priority queue; when it is full the lowest-priority request is refused with
    /// 503. Default 256.
    pub max_queue: usize,
    /// The deadline when the `timeout` header is absent (the SDK's default). Default 12 s.
    pub default_timeout: Duration,
    /// The longest deadline a caller may ask for. Default 60 s.
    pub max_timeout: Duration,
    /// Open connections at once; further ones wait in the kernel's accept backlog.
    /// Default 1024.
    pub max_connections: usize,
    /// A client must send its request headers within this after connecting or after its
    /// previous request (slowloris). Default 5 s.
    pub header_read_timeout: Duration,
    /// The body must arrive within this (or the request's own deadline, if sooner).
    /// Default 30 s.
    pub body_read_timeout: Duration,
    /// Accept SDK v10 signatures (`bt_header_dendrite_signature`). They bind only the hashed
    /// fields, so a synapse with no hashed field has its body unsigned; with `false` only
    /// btauth/1 (which binds the raw body) is accepted, and sessions are off (their MAC binds
    /// the same fields as v10). Default `true`, for SDK dendrites.
    pub accept_v10: bool,
    /// How far back a nonce may lie. The SDK's own window is the request's timeout plus 4 s;
    /// ours does not depend on a header the caller chooses. Default 16 s.
    pub max_nonce_age: Duration,
    /// How far ahead a nonce may lie (clock skew). Default 2 s.
    pub max_nonce_future: Duration,
    /// Nonces remembered at once (over all callers) to refuse replays; each lives for the
    /// freshness window (about 80 bytes each). When full, new requests get 503 instead of an
    /// evicted entry letting a replay through. Default 524,288 (about 40 MiB).
    pub max_nonces: usize,
    /// Nonces remembered at once for one hotkey: with the 18 s window, one caller can sustain
    /// this / 18 requests per second. Default 131,072 (about 7,000 requests/s).
    pub max_nonces_per_hotkey: usize,
    /// Most SDK v10 signatures one batch verification checks: concurrent requests are verified
    /// together (less CPU per signature), on an executor thread, so this bounds how long one
    /// batch holds it. Default 32.
    pub max_verify_batch: usize,
    /// Callers' hotkeys kept decompressed for verification (about 200 bytes each); a flood of new
    /// keys only empties the cache. Default 4,096.
    pub max_cached_keys: usize,
    /// Sessions with our own dendrites (a MAC per request instead of a signature).
    pub sessions: HttpSessionConfig,
}

/// Sessions over HTTP (`bt_crypto::http_auth::session`): only our dendrites open them (SDK
/// dendrites ignore the advertisement), with a request that is itself signed and passed the
/// hooks; each session is bound to the caller's hotkey, the source address that opened it, this
/// axon's hotkey and the endpoint the caller dialled.
#[derive(Clone, Debug)]
pub struct HttpSessionConfig {
    /// Advertise and accept sessions. With `false` an offer is ignored (the request is served
    /// as the signed request it also is) and a session request is refused (401), so the caller
    /// goes back to signing. Forced off when `accept_v10` is `false`: a session MAC binds the
    /// v10 fields (the hashed fields), not the raw body that btauth/1 binds. Default `true`.
    pub enabled: bool,
    /// Sessions at once (about 400 bytes each). When full, a session that has not yet
    /// authenticated a request is dropped first; then the least recently used one if it has been
    /// idle for `protect_recent`; otherwise the new one is refused (its caller keeps signing).
    /// Default 16,384.
    pub max_sessions: usize,
    /// Sessions opened from one source address at once. Default 64.
    pub max_sessions_per_ip: usize,
    /// Sessions of one hotkey at once; beyond it the hotkey's oldest is dropped. Default 4.
    pub max_sessions_per_hotkey: usize,
    /// A session unused this long is dropped. Default 300 s.
    pub idle_ttl: Duration,
    /// A session this old is dropped however busy. Default 1 h.
    pub max_age: Duration,
    /// A session used this recently is not dropped for a newcomer. Default 60 s.
    pub protect_recent: Duration,
}

impl Default for HttpSessionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_sessions: 16_384,
            max_sessions_per_ip: 64,
            max_sessions_per_hotkey: 4,
            idle_ttl: Duration::from_secs(300),
            max_age: Duration::from_secs(3600),
            protect_recent: Duration::from_secs(60),
        }
    }
}

impl HttpSessionConfig {
    pub(crate) fn table_config(&self) -> bt_crypto::session::SessionConfig {
        let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        bt_crypto::session::SessionConfig {
            capacity: self.max_sessions,
            protect_recent_ns: ns(self.protect_recent),
            per_source: self.max_sessions_per_ip,
            per_caller: self.max_sessions_per_hotkey,
            idle_ttl_ns: ns(self.idle_ttl),
            max_age_ns: ns(self.max_age),
            evict_unconfirmed_first: true,
        }
    }
}

impl Default for HttpAxonConfig {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            max_body_bytes: 16 << 20,
            max_unverified_body_bytes: 64 << 20,
            max_unverified_body_bytes_per_ip: 16 << 20,
            max_in_flight: 256,
            max_in_flight_per_ip: 64,
            max_in_flight_per_hotkey: 32,
            max_concurrent_handlers: cpus * 4,
            max_queue: 256,
            default_timeout: Duration::from_secs(12),
            max_timeout: Duration::from_secs(60),
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(5),
            body_read_timeout: Duration::from_secs(30),
            accept_v10: true,
            max_nonce_age: Duration::from_secs(16),
            max_nonce_future: Duration::from_secs(2),
            max_nonces: 524_288,
            max_nonces_per_hotkey: 131_072,
            max_verify_batch: 32,
            max_cached_keys: 4096,
            sessions: HttpSessionConfig::default(),
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid HTTP axon configuration: {0}")]
pub struct HttpConfigError(pub String);

impl HttpAxonConfig {
    pub fn validate(&self) -> Result<(), HttpConfigError> {
        let positive = [
            ("max_body_bytes", self.max_body_bytes),
            ("max_unverified_body_bytes", self.max_unverified_body_bytes),
            (
                "max_unverified_body_bytes_per_ip",
                self.max_unverified_body_bytes_per_ip,
            ),
            ("max_in_flight", self.max_in_flight),
            ("max_in_flight_per_ip", self.max_in_flight_per_ip),
            ("max_in_flight_per_hotkey", self.max_in_flight_per_hotkey),
            ("max_concurrent_handlers", self.max_concurrent_handlers),
            ("max_connections", self.max_connections),
            ("max_nonces", self.max_nonces),
            ("max_nonces_per_hotkey", self.max_nonces_per_hotkey),
            ("max_verify_batch", self.max_verify_batch),
            ("sessions.max_sessions", self.sessions.max_sessions),
            (
                "sessions.max_sessions_per_ip",
                self.sessions.max_sessions_per_ip,
            ),
            (
                "sessions.max_sessions_per_hotkey",
                self.sessions.max_sessions_per_hotkey,
            ),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(HttpConfigError(format!("{name} must be at least 1")));
            }
        }
        if self.default_timeout > self.max_timeout {
            return Err(HttpConfigError(
                "default_timeout must not exceed max_timeout".into(),
            ));
        }
        Ok(())
    }
}
