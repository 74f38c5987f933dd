//! The `Bittensor` service's two routes, read and answered without tonic's codec.
//!
//! `Forward` and `Backward` are unary gRPC calls, and any gRPC client sees exactly that. Two
//! things differ from tonic's generated route:
//! - The message is framed by [`bt_wire::framing`]: decoded from the DATA frames the
//!   connection delivered and encoded as chunks, so a tensor buffer is never copied (tonic
//!   copies it once into its decode buffer and once into its encode buffer).
//! - The handler gets the message as soon as its last byte is in, before the request's
//!   trailers. A version-2 session request may send its proof there, computed while the body
//!   was on its way (`docs/protocol.md`, "The proof may follow the body"), and the axon hashes
//!   the payload meanwhile ([`crate::early`]).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bt_crypto::RpcMethod;
use bt_crypto::session::ACCEPT_HEADER;
use bt_tensor::compression::CODECS_HEADER;
use bt_wire::body::ChunkedBody;
use bt_wire::framing::encode_framed;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use tonic::codegen::{Body, StdError};
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};

use crate::admission::Admitted;
use crate::body_guard::GuardedBody;
use crate::digest::DIGEST;
use crate::request_body::RequestBody;
use crate::service::{Reply, handle};
use crate::shared::Shared;
use crate::status::status;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Release 1's service name: the routes are `/Bittensor/Forward` and `/Bittensor/Backward`.
const SERVICE_NAME: &str = "Bittensor";

#[derive(Clone)]
pub(crate) struct BittensorService {
    pub(crate) shared: Arc<Shared>,
}

impl tonic::server::NamedService for BittensorService {
    const NAME: &'static str = SERVICE_NAME;
}

impl<B> tower::Service<http::Request<B>> for BittensorService
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = match request.uri().path() {
            bt_wire::paths::FORWARD => RpcMethod::Forward,
            bt_wire::paths::BACKWARD => RpcMethod::Backward,
            path => {
                let status = status(
                    Code::Unimplemented,
                    format!("{SERVICE_NAME} has no method {path:?}"),
                );
                return Box::pin(std::future::ready(Ok(status.into_http())));
            }
        };
        let shared = self.shared.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            if let Err(refusal) = check_encoding(&parts.headers) {
                return Ok(refusal.into_http());
            }
            let Some(admitted) = parts.extensions.get::<Admitted>() else {
                return Ok(
                    Status::internal("request reached the handler without admission").into_http(),
                );
            };
            let body_deadline = admitted
                .deadline
                .min(admitted.arrived + shared.config.body_timeout);
            let guarded = GuardedBody::new(
                body,
                tokio::time::Instant::from_std(body_deadline),
                shared.bodies.clone(),
                admitted.peer,
            );
            let mut body = RequestBody::new(
                tonic::body::Body::new(guarded),
                shared.config.max_message_bytes,
                shared.decode_limits(),
            );
            let metadata = MetadataMap::from_headers(parts.headers);
            let authority = parts.uri.authority();
            let handled = handle(
                &shared,
                method,
                metadata,
                &parts.extensions,
                authority,
                &mut body,
            )
            .await;
            let mut response = match handled {
                Ok(reply) => respond(reply),
                Err(refusal) => refusal.into_http(),
            };
            // On refusals too: a caller whose first (v1) request was refused for want of v2
            // learns here that v2 is spoken, and retries so.
            response
                .headers_mut()
                .insert(DIGEST.clone(), crate::digest::advertised());
            Ok(response)
        })
    }
}

/// Only uncompressed requests (as tonic's route with no compression configured).
fn check_encoding(headers: &HeaderMap) -> Result<(), Status> {
    match headers.get("grpc-encoding") {
        None => Ok(()),
        Some(v) if v == "identity" => Ok(()),
        Some(v) => Err(status(
            Code::Unimplemented,
            format!("requests compressed with {v:?} are not accepted: send them uncompressed"),
        )),
    }
}

/// An OK answer: the reply's chunks, then `grpc-status: 0`.
fn respond(reply: Reply) -> http::Response<tonic::body::Body> {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let body = ChunkedBody::new(encode_framed(&reply.message), Some(trailers));
    let mut response = http::Response::new(tonic::body::Body::new(body));
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    if let Some(accept) = reply.accept
        && let Ok(value) = HeaderValue::try_from(accept.encode())
    {
        headers.insert(ACCEPT_HEADER, value);
    }
    if let Some(codecs) = reply.codecs
        && let Ok(value) = HeaderValue::try_from(codecs)
    {
        headers.insert(CODECS_HEADER, value);
    }
    response
}
