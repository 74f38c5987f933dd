//! `GET /metrics` in the Prometheus text format, on its own port, over HTTP/1.1: every set of a
//! process's [`MetricsRegistry`] (the axon's own, and whatever else the process registered).

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use tokio::net::TcpListener;

use bt_interfaces::MetricsRegistry;

use crate::http1_listener::{Http1Limits, serve_http1};

/// Scrapers are few: eight connections at once (from one address or several), each sending
/// its headers within five seconds and closed after a minute.
const LIMITS: Http1Limits = Http1Limits {
    max_connections: 8,
    max_connections_per_ip: 8,
    header_read_timeout: Duration::from_secs(5),
    max_connection_age: Some(Duration::from_secs(60)),
};

/// Serves `GET /metrics` from `registry` on `listener` until the task is aborted. At most
/// eight scrapers at once; each must send its headers within five seconds and is dropped
/// after a minute.
pub async fn serve_metrics(listener: TcpListener, registry: MetricsRegistry) {
    serve(listener, registry).await;
}

pub(crate) async fn serve(listener: TcpListener, shared: MetricsRegistry) {
    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(respond(&req, &shared)) }
    });
    serve_http1(listener, LIMITS, svc).await;
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
