//! The HTTP face: the page and its assets (embedded), `/api/state`, `/api/events` (SSE).
//!
//! Every client input is bounded: at most `max_clients` event streams (more are answered
//! 503), each pushed at most once per `push_interval` and only the newest snapshot (a `watch`
//! has one slot, so a slow browser never makes the server queue), and at most
//! `max_requests` other requests at once. Connections are bounded by the same HTTP/1.1
//! listener as a process's `/metrics` ([`bt_axon::http1_listener`]): `max_connections` open,
//! `max_connections_per_ip` from one address, request headers within `header_read_timeout`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bt_axon::http1_listener::{Http1Limits, serve_http1};
use bt_interfaces::Chain;
use futures_util::Stream;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;

use crate::config::DashboardConfig;
use crate::error::DashboardError;
use crate::poll::{Poller, empty_json};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

#[derive(Clone)]
struct AppState {
    snapshot: watch::Receiver<Arc<String>>,
    clients: Arc<Semaphore>,
    requests: Arc<Semaphore>,
    push_interval: Duration,
}

/// A running dashboard. Dropping it stops the server and the poller.
pub struct DashboardHandle {
    addr: SocketAddr,
    targets: Arc<Mutex<Vec<(String, String)>>>,
    max_neurons: usize,
    server: JoinHandle<()>,
    poller: JoinHandle<()>,
}

impl DashboardHandle {
    /// Where the page is served.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Shows one more neuron, read from its `/metrics` at `metrics_addr` (`host:port`).
    pub fn add_neuron(
        &self,
        name: impl Into<String>,
        metrics_addr: impl Into<String>,
    ) -> Result<(), DashboardError> {
        let mut t = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        if t.len() >= self.max_neurons {
            return Err(DashboardError::TooManyNeurons {
                max: self.max_neurons,
            });
        }
        t.push((name.into(), metrics_addr.into()));
        Ok(())
    }

    pub fn shutdown(self) {
        self.server.abort();
        self.poller.abort();
    }
}

impl Drop for DashboardHandle {
    fn drop(&mut self) {
        self.server.abort();
        self.poller.abort();
    }
}

/// Binds `cfg.addr`, starts polling the neurons added later with
/// [`DashboardHandle::add_neuron`] (and `chain`, when given) and serves the page.
pub async fn serve(
    cfg: DashboardConfig,
    chain: Option<Arc<dyn Chain>>,
) -> Result<DashboardHandle, DashboardError> {
    let listener = TcpListener::bind(cfg.addr)
        .await
        .map_err(|source| DashboardError::Bind {
            addr: cfg.addr,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| DashboardError::Bind {
            addr: cfg.addr,
            source,
        })?;
    let (tx, rx) = watch::channel(empty_json());
    let targets = Arc::new(Mutex::new(Vec::new()));
    let state = AppState {
        snapshot: rx,
        clients: Arc::new(Semaphore::new(cfg.max_clients)),
        requests: Arc::new(Semaphore::new(cfg.max_requests.max(1))),
        push_interval: cfg.push_interval,
    };
    let app = Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/style.css", get(style_css))
        .route("/api/state", get(api_state))
        .route("/api/events", get(api_events))
        .with_state(state);
    let limits = Http1Limits {
        max_connections: cfg.max_connections,
        max_connections_per_ip: cfg.max_connections_per_ip,
        header_read_timeout: cfg.header_read_timeout,
        // Event streams stay open as long as the page does.
        max_connection_age: None,
    };
    let server = tokio::spawn(serve_http1(listener, limits, TowerToHyperService::new(app)));
    let max_neurons = cfg.max_neurons;
    let poller = tokio::spawn(
        Poller {
            cfg,
            targets: targets.clone(),
            chain,
            out: tx,
        }
        .run(),
    );
    Ok(DashboardHandle {
        addr,
        targets,
        max_neurons,
        server,
        poller,
    })
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn index(State(s): State<AppState>) -> Response {
    let Ok(_slot) = s.requests.try_acquire() else {
        return busy();
    };
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js(State(s): State<AppState>) -> Response {
    let Ok(_slot) = s.requests.try_acquire() else {
        return busy();
    };
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style_css(State(s): State<AppState>) -> Response {
    let Ok(_slot) = s.requests.try_acquire() else {
        return busy();
    };
    asset("text/css; charset=utf-8", STYLE_CSS)
}

async fn api_state(State(s): State<AppState>) -> Response {
    let Ok(_slot) = s.requests.try_acquire() else {
        return busy();
    };
    let json = s.snapshot.borrow().clone();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        json.as_str().to_owned(),
    )
        .into_response()
}

fn busy() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "the dashboard is busy\n").into_response()
}

async fn api_events(State(s): State<AppState>) -> Response {
    let Ok(permit) = s.clients.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many dashboard clients\n",
        )
            .into_response();
    };
    Sse::new(events(s.snapshot.clone(), s.push_interval, permit))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The newest snapshot, at most once per `every`, while the client stays (the permit is
/// held by the stream and freed when the client goes).
fn events(
    rx: watch::Receiver<Arc<String>>,
    every: Duration,
    permit: OwnedSemaphorePermit,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let mut rx = rx;
    rx.mark_changed();
    futures_util::stream::unfold(
        (rx, permit, None::<tokio::time::Instant>),
        move |(mut rx, permit, last)| async move {
            if let Some(at) = last {
                tokio::time::sleep_until(at + every).await;
            }
            rx.changed().await.ok()?;
            let json = rx.borrow_and_update().clone();
            let event = Event::default().event("state").data(json.as_str());
            Some((Ok(event), (rx, permit, Some(tokio::time::Instant::now()))))
        },
    )
}
