//! The first thing every request meets, at header time, before its body is read: refuse it
//! when the axon is draining, or its connection or source address has too many requests open;
//! stamp its arrival and deadline, and record its outcome.
//!
//! A request holds only these per-connection and per-address counts while its body arrives.
//! The axon-wide `max_in_flight` permit is taken once the message is in (`service::handle`),
//! and the body's bytes are charged to a budget as they arrive ([`crate::body_guard`]), so
//! streams that stall after their headers cannot starve other callers of permits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use std::net::{IpAddr, Ipv6Addr};

use http::HeaderMap;
use tokio::sync::OwnedSemaphorePermit;
use tonic::{Code, Status};

use crate::incoming::ConnInfo;
use crate::metrics::MethodLabel;
use crate::per_key::PerKeyGuard;
use crate::shared::Shared;

/// Placed in the request's extensions; the handler takes it and holds it until it answers.
#[derive(Clone)]
pub(crate) struct Admitted {
    pub(crate) _guard: Arc<Open>,
    pub(crate) arrived: Instant,
    pub(crate) deadline: Instant,
    /// Where the request came from (unspecified when the transport does not say).
    pub(crate) peer: IpAddr,
}

/// One open request of its connection and of its source address, released when the last
/// clone is dropped.
pub(crate) struct Open {
    _conn_permit: Option<OwnedSemaphorePermit>,
    _from_ip: Option<PerKeyGuard<IpAddr>>,
    shared: Arc<Shared>,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.shared.open_requests.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Clone)]
pub(crate) struct AdmissionLayer {
    pub(crate) shared: Arc<Shared>,
}

impl<S> tower::Layer<S> for AdmissionLayer {
    type Service = Admission<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Admission {
            inner,
            shared: self.shared.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Admission<S> {
    inner: S,
    shared: Arc<Shared>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for Admission<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let arrived = Instant::now();
        let shared = self.shared.clone();
        let method = MethodLabel::from_path(req.uri().path());
        let refuse = |status: Status| -> Self::Future {
            shared
                .metrics
                .record(method, status.code(), arrived.elapsed());
            Box::pin(std::future::ready(Ok(status.into_http())))
        };
        if shared.draining.load(Ordering::Acquire) {
            return refuse(Status::unavailable("the axon is shutting down"));
        }
        // Per connection first, so one greedy connection cannot take the whole axon.
        let info = req.extensions().get::<ConnInfo>();
        let peer = info.map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |i| i.ip);
        let conn_permit = match info {
            Some(info) => match info.slots.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    return refuse(Status::resource_exhausted(format!(
                        "this connection has {} requests in flight \
                         (max_in_flight_per_connection); retry later or open another connection",
                        shared.config.max_in_flight_per_connection
                    )));
                }
            },
            None => None,
        };
        let from_ip = match info {
            Some(_) => match shared.requests_per_ip.try_acquire(peer) {
                Some(g) => Some(g),
                None => {
                    return refuse(Status::resource_exhausted(format!(
                        "{peer} has {} requests open at this axon (max_requests_per_ip); \
                         retry when they are answered",
                        shared.config.max_requests_per_ip
                    )));
                }
            },
            None => None,
        };
        shared.open_requests.fetch_add(1, Ordering::Relaxed);
        let timeout = grpc_timeout(req.headers()).map_or(shared.config.default_timeout, |t| {
            t.min(shared.config.default_timeout)
        });
        let admitted = Admitted {
            _guard: Arc::new(Open {
                _conn_permit: conn_permit,
                _from_ip: from_ip,
                shared: shared.clone(),
            }),
            arrived,
            deadline: arrived + timeout - answer_margin(timeout),
            peer,
        };
        req.extensions_mut().insert(admitted);
        // Take the service that was driven ready and leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let fut = inner.call(req);
        Box::pin(async move {
            let res = fut.await;
            if let Ok(resp) = &res {
                // Errors travel in the headers of a trailers-only response; a response with a
                // body reports OK there (the handler checks sizes before answering).
                let code = Status::from_header_map(resp.headers()).map_or(Code::Ok, |s| s.code());
                shared.metrics.record(method, code, arrived.elapsed());
            }
            res
        })
    }
}

/// How much before the client's deadline we answer DEADLINE_EXCEEDED: 5 %, within 2..=10 ms
/// (at most half the timeout). The answer then still reaches the client in time, and our timer
/// fires before tonic's own `grpc-timeout` timer (1 ms granularity), which would answer the
/// less precise CANCELLED.
fn answer_margin(timeout: Duration) -> Duration {
    (timeout / 20)
        .clamp(Duration::from_millis(2), Duration::from_millis(10))
        .min(timeout / 2)
}

/// The client's deadline from `grpc-timeout` (gRPC over HTTP/2: at most 8 digits and a unit).
/// A malformed value is ignored, as gRPC servers do, and the default timeout applies.
pub(crate) fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get("grpc-timeout")?.to_str().ok()?;
    if v.len() < 2 || v.len() > 9 {
        return None;
    }
    let (digits, unit) = v.split_at(v.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &str) -> Option<Duration> {
        let mut h = HeaderMap::new();
        h.insert("grpc-timeout", http::HeaderValue::from_str(v).ok()?);
        grpc_timeout(&h)
    }

    #[test]
    fn parses_grpc_timeout_units() {
        assert_eq!(parse("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse("99999999u"), Some(Duration::from_micros(99_999_999)));
        assert_eq!(parse("5n"), Some(Duration::from_nanos(5)));
    }

    #[test]
    fn margin_is_bounded() {
        assert_eq!(
            answer_margin(Duration::from_millis(100)),
            Duration::from_millis(5)
        );
        assert_eq!(
            answer_margin(Duration::from_secs(60)),
            Duration::from_millis(10)
        );
        assert_eq!(
            answer_margin(Duration::from_millis(10)),
            Duration::from_millis(2)
        );
        assert_eq!(
            answer_margin(Duration::from_millis(2)),
            Duration::from_millis(1)
        );
    }

    proptest::proptest! {
        #[test]
        fn any_header_value_parses_or_is_ignored(v in "\\PC{0,12}") {
            let _ = parse(&v);
        }

        #[test]
        fn valid_timeouts_round_trip(n in 0u64..100_000_000, unit in 0usize..6) {
            let (u, d) = [
                ("n", Duration::from_nanos(n)),
                ("u", Duration::from_micros(n)),
                ("m", Duration::from_millis(n)),
                ("S", Duration::from_secs(n)),
                ("M", Duration::from_secs(n * 60)),
                ("H", Duration::from_secs(n * 3600)),
            ][unit];
            proptest::prop_assert_eq!(parse(&format!("{n}{u}")), Some(d));
        }
    }

    #[test]
    fn rejects_malformed_grpc_timeout() {
        for bad in ["", "m", "123456789m", "10x", "-1S", "1.5S", " 1S"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
