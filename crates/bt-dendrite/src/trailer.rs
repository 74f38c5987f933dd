//! Request trailers whose value is computed while the body is already on its way.
//!
//! A session request binds its payload through a hash. For a large payload that hash takes longer
//! than anything else the dendrite does before sending (the crypto bench's BLAKE3 row, README
//! "Benchmarks"), and the request's headers cannot leave before it is done. Sent as an HTTP/2
//! trailer instead (`docs/protocol.md`, "Sessions", version 2), the proof is computed on the
//! blocking pool while the body is encoded and written, and follows the last DATA frame. The axon
//! reads it like a header: tonic merges a unary request's trailers into its metadata.
//!
//! [`WithLateTrailers`] wraps the channel; a request that carries a [`LateTrailers`] extension
//! gets a body that, once the message is sent, waits for the trailers and sends them.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::task::JoinHandle;
use tonic::body::Body;

/// Trailers still being computed. An http extension must be `Clone + Sync`, hence the shared
/// slot; the body takes the handle out exactly once.
#[derive(Clone)]
pub(crate) struct LateTrailers(Arc<Mutex<Option<JoinHandle<HeaderMap>>>>);

impl LateTrailers {
    /// Trailers computed by `compute` (a task of its own, so that it runs while the request
    /// is sent), starting now.
    pub(crate) fn spawn(compute: impl Future<Output = HeaderMap> + Send + 'static) -> Self {
        Self(Arc::new(Mutex::new(Some(tokio::spawn(compute)))))
    }

    fn take(&self) -> Option<JoinHandle<HeaderMap>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// A channel that appends [`LateTrailers`] to the bodies of the requests that carry them.
#[derive(Clone)]
pub(crate) struct WithLateTrailers<S>(pub(crate) S);

impl<S> tower::Service<http::Request<Body>> for WithLateTrailers<S>
where
    S: tower::Service<http::Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let Some(handle) = request
            .extensions()
            .get::<LateTrailers>()
            .and_then(LateTrailers::take)
        else {
            return self.0.call(request);
        };
        let (parts, body) = request.into_parts();
        let body = Body::new(TrailingBody::new(body, handle));
        self.0.call(http::Request::from_parts(parts, body))
    }
}

/// `body`, then the trailers once they are computed.
struct TrailingBody {
    body: Body,
    body_done: bool,
    /// Trailers of `body` itself (a tonic request body has none), sent with ours.
    own: Option<HeaderMap>,
    /// `None` once the trailers were sent (or could not be computed).
    trailers: Option<JoinHandle<HeaderMap>>,
}

impl TrailingBody {
    fn new(body: Body, trailers: JoinHandle<HeaderMap>) -> Self {
        Self {
            body,
            body_done: false,
            own: None,
            trailers: Some(trailers),
        }
    }
}

impl HttpBody for TrailingBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        while !self.body_done {
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                None => self.body_done = true,
                Some(Ok(frame)) => match frame.into_trailers() {
                    Ok(own) => self.own.get_or_insert_with(HeaderMap::new).extend(own),
                    Err(data) => return Poll::Ready(Some(Ok(data))),
                },
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
            }
        }
        let Some(handle) = self.trailers.as_mut() else {
            return Poll::Ready(self.own.take().map(|own| Ok(Frame::trailers(own))));
        };
        let computed = ready!(Pin::new(handle).poll(cx));
        self.trailers = None;
        let mut map = self.own.take().unwrap_or_default();
        // A computation that panicked leaves the request without its proof: the axon refuses it
        // as unauthenticated and the caller retries it signed. Failing the body instead would
        // look like a broken connection.
        if let Ok(late) = computed {
            map.extend(late);
        }
        Poll::Ready((!map.is_empty()).then(|| Ok(Frame::trailers(map))))
    }

    fn is_end_stream(&self) -> bool {
        self.trailers.is_none() && self.own.is_none() && self.body_done
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for TrailingBody {
    fn drop(&mut self) {
        // A cancelled call stops its proof (a hash already running on the pool finishes on its
        // own, unused, unless a call sharing it still waits).
        if let Some(handle) = self.trailers.take() {
            handle.abort();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    fn trailers(value: &'static str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("bt-session", http::HeaderValue::from_static(value));
        map
    }

    /// Data first, then the trailers, even when they are computed after the data is sent.
    #[tokio::test]
    async fn the_body_is_followed_by_the_late_trailers() {
        let (ready, wait) = tokio::sync::oneshot::channel::<()>();
        let late = LateTrailers::spawn(async move {
            let _ = wait.await;
            trailers("proof")
        });
        let mut body = TrailingBody::new(Body::new(String::from("payload")), late.take().unwrap());
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), Bytes::from_static(b"payload"));
        assert!(!body.is_end_stream(), "the trailers are still to come");
        ready.send(()).unwrap();
        let last = body.frame().await.unwrap().unwrap();
        assert_eq!(last.into_trailers().unwrap(), trailers("proof"));
        assert!(body.frame().await.is_none());
        assert!(body.is_end_stream());
        // The handle goes to one body only.
        assert!(late.take().is_none());
    }

    /// A computation that panics ends the body without trailers (the axon then refuses the
    /// request as unauthenticated, which the caller retries signed) instead of failing it.
    #[tokio::test]
    async fn a_failed_computation_ends_the_body_without_trailers() {
        let late = LateTrailers::spawn(async { panic!("hashing failed") });
        let body = TrailingBody::new(Body::new(String::from("payload")), late.take().unwrap());
        let collected = body.collect().await.unwrap();
        assert!(collected.trailers().is_none());
        assert_eq!(collected.to_bytes(), Bytes::from_static(b"payload"));
    }
}
