//! The axon for today's Synapse protocol over HTTP (the Python SDK v10's wire format), served
//! beside the gRPC axon.
//!
//! ```text
//!  TCP ─► ≤ max_connections ─► HTTP/1.1 (keep-alive, header read timeout) or HTTP/2
//!     ─► POST /<Synapse>: unknown → 404; per-IP cap → 503; axon full → 503
//!     ─► headers parsed (bounded) → 400; content-length > max → 413
//!     ─► session (our dendrites): MAC over the v10 fields, counter window, source → 401
//!     ─► v10: signature over the signed hash header, freshness, replay → 401 (before the body)
//!     ─► body under max_body_bytes and a deadline → 413 / 408
//!     ─► btauth/1: signature over the raw body, receiver, freshness, replay → 401
//!     ─► per-hotkey cap → 503; blacklist hook → 403; verify hook → 401
//!     ─► priority gate (≤ max_concurrent_handlers running, ≤ max_queue waiting) → 503 / 408
//!     ─► parse the synapse (400 naming the field), body hash == signed hash → 400
//!     ─► handler under the caller's deadline (`timeout` header, ≤ max_timeout) → 408
//!     ─► 200 with the SDK's body and headers, signed by our hotkey (btauth/1) or MAC'd by
//!        the session; a signed request that offered a session gets one (`bt-session-accept`)
//! ```
//! `GET /metrics` answers Prometheus text on the same port.

mod call;
mod config;
mod limits;
mod metrics;
mod pipeline;
mod reference;
mod reply;
mod route;
mod session;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bt_crypto::http_auth::{ReplayStore, ReplayStoreConfig};
use bt_crypto::wallet::Sr25519Pair;
use bt_http::TypedSynapse;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use call::{AuthScheme, BlacklistFn, CallInfo, HandlerError, PriorityFn, VerifyFn};
pub use config::{HttpAxonConfig, HttpConfigError, HttpSessionConfig};
pub use reference::{UnknownBuiltin, attach_builtin};

use crate::per_key::PerKey;
use crate::verify::{BatchVerifier, V10Checks};
use limits::Gate;
use metrics::HttpMetrics;
use pipeline::Ctx;
use route::{HandlerRoute, Json, Route, Streamed};

/// How long connections get to finish their requests after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the HTTP axon could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpAxonError {
    #[error(transparent)]
    Config(#[from] HttpConfigError),
    #[error("no synapse to serve: attach at least one")]
    NoSynapse,
    #[error("synapse {0} is attached twice")]
    DuplicateSynapse(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Entry point: `HttpAxon::builder(hotkey, config).attach(handler).start(addr)`.
pub struct HttpAxon;

impl HttpAxon {
    pub fn builder(hotkey: Arc<Sr25519Pair>, config: HttpAxonConfig) -> HttpAxonBuilder {
        HttpAxonBuilder {
            hotkey,
            config,
            routes: Vec::new(),
            blacklist: None,
            priority: None,
            verify: None,
        }
    }
}

/// Collects synapse handlers and hooks.
pub struct HttpAxonBuilder {
    hotkey: Arc<Sr25519Pair>,
    config: HttpAxonConfig,
    routes: Vec<(String, Arc<dyn Route>)>,
    blacklist: Option<Arc<BlacklistFn>>,
    priority: Option<Arc<PriorityFn>>,
    verify: Option<Arc<VerifyFn>>,
}

impl HttpAxonBuilder {
    /// Serve synapse `T` with `handler`, which receives the parsed request and returns it with
    /// its response fields filled in (the SDK's `forward_fn`).
    pub fn attach<T, F, Fut>(mut self, handler: F) -> Self
    where
        T: TypedSynapse,
        F: Fn(T, CallInfo) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, HandlerError>> + Send + 'static,
    {
        self.routes.push((
            T::NAME.to_string(),
            Arc::new(HandlerRoute::<T, F, Json>::new(handler)),
        ));
        self
    }

    /// Serve the streaming synapse `T`: `handler` returns the chunks of its answer, sent as
    /// they come (`text/event-stream`, the SDK's `StreamingSynapse`) until the stream ends or
    /// the call's deadline passes. Streamed answers are not signed.
    pub fn attach_stream<T, F, Fut, St>(mut self, handler: F) -> Self
    where
        T: TypedSynapse,
        F: Fn(T, CallInfo) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<St, HandlerError>> + Send + 'static,
        St: tokio_stream::Stream<Item = bytes::Bytes> + Send + 'static,
    {
        self.routes.push((
            T::NAME.to_string(),
            Arc::new(HandlerRoute::<T, F, Streamed>::new(handler)),
        ));
        self
    }

    /// Refuse some callers with 403 (runs after authentication).
    pub fn blacklist(
        mut self,
        f: impl Fn(&CallInfo) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.blacklist = Some(Arc::new(f));
        self
    }

    /// Order waiting requests (higher first) when all handlers are busy.
    pub fn priority(mut self, f: impl Fn(&CallInfo) -> f64 + Send + Sync + 'static) -> Self {
        self.priority = Some(Arc::new(f));
        self
    }

    /// An extra check after ours (401 on `Err`).
    pub fn verify(
        mut self,
        f: impl Fn(&CallInfo) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.verify = Some(Arc::new(f));
        self
    }

    /// Bind `addr` (port 0 picks one) and serve until the handle is shut down or dropped.
    pub async fn start(self, addr: SocketAddr) -> Result<HttpAxonHandle, HttpAxonError> {
        let config = self.config;
        config.validate()?;
        if self.routes.is_empty() {
            return Err(HttpAxonError::NoSynapse);
        }
        let mut routes = HashMap::new();
        let mut route_names = Vec::new();
        for (name, route) in self.routes {
            if routes.insert(name.clone(), route).is_some() {
                return Err(HttpAxonError::DuplicateSynapse(name));
            }
            route_names.push(name);
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| HttpAxonError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| HttpAxonError::Bind { addr, source })?;
        let replay = ReplayStore::new(ReplayStoreConfig {
            max_age_ns: duration_ns(config.max_nonce_age),
            max_future_ns: duration_ns(config.max_nonce_future),
            per_caller_cap: config.max_nonces_per_hotkey,
            global_cap: config.max_nonces,
        });
        let account = self.hotkey.account();
        let ctx = Arc::new(Ctx {
            per_ip: PerKey::new(config.max_in_flight_per_ip),
            unverified_per_ip: PerKey::new(config.max_unverified_body_bytes_per_ip.div_ceil(1024)),
            per_hotkey: PerKey::new(config.max_in_flight_per_hotkey),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            unverified: Arc::new(Semaphore::new(
                config
                    .max_unverified_body_bytes
                    .div_ceil(1024)
                    .min(Semaphore::MAX_PERMITS),
            )),
            gate: Gate::new(config.max_concurrent_handlers, config.max_queue),
            metrics: HttpMetrics::new(route_names.clone()),
            replay: Mutex::new(replay),
            v10: BatchVerifier::new(
                V10Checks::new(config.max_cached_keys),
                config.max_verify_batch,
            ),
            hotkey: self.hotkey,
            ss58: account.to_ss58(),
            account,
            routes,
            route_names,
            blacklist: self.blacklist,
            priority: self.priority,
            verify: self.verify,
            uuid: bt_http::new_uuid(),
            local,
            // A session MAC binds what a v10 signature binds (the hashed fields, not the raw
            // body): an axon that refuses v10 does not let a session stand in for btauth/1.
            sessions: if config.accept_v10 {
                session::Sessions::new(&config.sessions)
            } else {
                None
            },
            config,
        });
        let token = CancellationToken::new();
        let task = tokio::spawn(serve(listener, ctx.clone(), token.clone()));
        Ok(HttpAxonHandle {
            local_addr: local,
            ctx,
            token,
            task: Some(task),
        })
    }
}

fn duration_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

async fn serve(listener: TcpListener, ctx: Arc<Ctx>, token: CancellationToken) {
    let slots = Arc::new(Semaphore::new(ctx.config.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.config.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(ctx.config.max_in_flight_per_ip.min(256) as u32)
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20));
    let builder = Arc::new(builder);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            _ = token.cancelled() => break,
            s = slots.clone().acquire_owned() => match s { Ok(s) => s, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = token.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!("http axon accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let header_read_timeout = ctx.config.header_read_timeout;
        let ctx = ctx.clone();
        let first_request = Arc::new(AtomicBool::new(false));
        let seen = first_request.clone();
        let svc = service_fn(move |req| {
            seen.store(true, Ordering::Relaxed);
            let ctx = ctx.clone();
            async move { Ok::<_, Infallible>(pipeline::handle(ctx, peer, req).await) }
        });
        let conn = builder
            .serve_connection(TokioIo::new(stream), svc)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _slot = slot;
            tokio::pin!(conn);
            // hyper's header timeout starts only once the HTTP version is known, and the auto
            // builder waits for that without a deadline: a peer that sends nothing (or a prefix
            // of the HTTP/2 preface) would hold its connection slot forever.
            let ended = tokio::select! {
                r = &mut conn => Some(r),
                () = tokio::time::sleep(header_read_timeout) => None,
            };
            let result = match ended {
                Some(r) => r,
                None if first_request.load(Ordering::Relaxed) => conn.await,
                None => {
                    tracing::trace!("http axon connection from {peer}: no request in time");
                    return;
                }
            };
            if let Err(e) = result {
                tracing::trace!("http axon connection from {peer} ended: {e}");
            }
        });
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// A running HTTP axon. Dropping it stops the server.
pub struct HttpAxonHandle {
    local_addr: SocketAddr,
    ctx: Arc<Ctx>,
    token: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl HttpAxonHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// This axon's hotkey, as callers must address it.
    pub fn hotkey_ss58(&self) -> String {
        self.ctx.ss58.clone()
    }

    /// Requests answered with `code` for `synapse` so far (`"other"` for unknown paths).
    pub fn count(&self, synapse: &str, code: u16) -> u64 {
        self.ctx.metrics.count(synapse, code)
    }

    /// Sessions with our dendrites open now (0 with sessions off).
    pub fn sessions_open(&self) -> usize {
        self.ctx.sessions.as_ref().map_or(0, |s| s.len())
    }

    /// Prometheus text, as `GET /metrics` serves it.
    pub fn metrics_text(&self) -> String {
        self.ctx.metrics.to_prometheus()
    }

    /// Stop accepting, let requests in progress finish (at most a few seconds), return.
    pub async fn shutdown(mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for HttpAxonHandle {
    fn drop(&mut self) {
        self.token.cancel();
    }
}
