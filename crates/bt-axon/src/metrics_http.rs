//! `GET /metrics` in the Prometheus text format, on its own port, over HTTP/1.1: every set of a
//! process's [`MetricsRegistry`] (the axon's own, and whatever else the process registered).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use bt_interfaces::MetricsRegistry;

/// Scrapers are few; more connections than this wait in the accept backlog.
const MAX_SCRAPERS: usize = 8;
/// A scraper that has not sent its request headers within this is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `GET /metrics` from `registry` on `listener` until the task is aborted. At most
/// eight scrapers at once; each must send its headers within five seconds and is dropped
/// after a minute.
pub async fn serve_metrics(listener: TcpListener, registry: MetricsRegistry) {
    serve(listener, registry).await;
}

pub(crate) async fn serve(listener: TcpListener, shared: MetricsRegistry) {
    let slots = Arc::new(Semaphore::new(MAX_SCRAPERS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::debug!("metrics accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(respond(&req, &shared)) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc);
            // A scrape is tiny; a connection kept open for longer than this is dropped.
            let _ = tokio::time::timeout(Duration::from_secs(60), conn).await;
        });
    }
}

fn respond<B>(req: &hyper::Request<B>, shared: &MetricsRegistry) -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(Bytes::new()));
    if req.method() != hyper::Method::GET || req.uri().path() != "/metrics" {
        *resp.status_mut() = hyper::StatusCode::NOT_FOUND;
        *resp.body_mut() = Full::new(Bytes::from_static(b"only GET /metrics is served here\n"));
        return resp;
    }
    *resp.body_mut() = Full::new(Bytes::from(shared.render()));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    resp
}
