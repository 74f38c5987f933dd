//! One unary gRPC call on a pooled channel, framed by [`bt_wire::framing`] instead of tonic's
//! codec: the request's tensor buffers go out as they are and the answer's are sliced out of
//! the DATA frames that carried them (tonic's codec copies each once, on the way out and on
//! the way in). On the wire it is the same unary call.

use bt_crypto::RpcMethod;
use bt_wire::TensorMessage;
use bt_wire::body::ChunkedBody;
use bt_wire::framing::{FramingError, MessageReader, encode_framed};
use bt_wire::scan::DecodeLimits;
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use tonic::body::Body;
use tonic::{Code, Status};
use tower::{Service, ServiceExt};

/// A successful call: the answer's headers (a handshake's `bt-session-accept`) and message.
pub(crate) struct Answer {
    pub headers: HeaderMap,
    pub message: TensorMessage,
}

/// Why a call has no answer.
pub(crate) enum RpcError {
    /// The peer's status, or the transport's (which then carries its source error).
    Status(Status),
    /// The answer could not be read as one message within our size limit.
    Decode(FramingError),
    /// The call ended without a message (and without an error status).
    NoMessage,
}

/// Sends `request` (its metadata as headers, its extensions to the channel's layers) and reads
/// the one message of the answer, at most `max_message` bytes and within `limits` (checked on
/// its bytes before it is decoded). Hands back the request's tensors
/// (the body shares their buffers), for a retry.
pub(crate) async fn unary<S>(
    channel: &mut S,
    method: RpcMethod,
    request: tonic::Request<TensorMessage>,
    max_message: usize,
    limits: DecodeLimits,
) -> (Result<Answer, RpcError>, Vec<bt_wire::Tensor>)
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (metadata, extensions, message) = request.into_parts();
    let body = ChunkedBody::new(encode_framed(&message), None);
    let reader = MessageReader::with_limits(max_message, limits);
    let result = exchange(channel, method, metadata, extensions, body, reader).await;
    (result, message.tensors)
}

async fn exchange<S>(
    channel: &mut S,
    method: RpcMethod,
    metadata: tonic::metadata::MetadataMap,
    extensions: http::Extensions,
    body: ChunkedBody,
    mut reader: MessageReader,
) -> Result<Answer, RpcError>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut http = http::Request::new(Body::new(body));
    *http.method_mut() = http::Method::POST;
    *http.uri_mut() = http::Uri::from_static(match method {
        RpcMethod::Forward => bt_wire::paths::FORWARD,
        RpcMethod::Backward => bt_wire::paths::BACKWARD,
    });
    *http.version_mut() = http::Version::HTTP_2;
    *http.headers_mut() = metadata.into_headers();
    *http.extensions_mut() = extensions;
    let headers = http.headers_mut();
    headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );

    let transport = |e: S::Error| RpcError::Status(Status::from_error(e.into()));
    let response = channel
        .ready()
        .await
        .map_err(transport)?
        .call(http)
        .await
        .map_err(transport)?;
    let (parts, mut body) = response.into_parts();
    // A trailers-only answer (every error an axon sends) has its status in the headers.
    if let Some(status) = Status::from_header_map(&parts.headers)
        && status.code() != Code::Ok
    {
        return Err(RpcError::Status(status));
    }
    if parts.status != StatusCode::OK {
        return Err(RpcError::Status(from_http_status(parts.status)));
    }
    let mut message = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(RpcError::Status)?;
        match frame.into_data() {
            Ok(data) => {
                reader.push(data).map_err(RpcError::Decode)?;
                if let Some(m) = reader.take().map_err(RpcError::Decode)? {
                    message = Some(m);
                }
            }
            Err(frame) => {
                // A status after the message still decides the call.
                if let Some(status) = frame
                    .trailers_ref()
                    .and_then(Status::from_header_map)
                    .filter(|s| s.code() != Code::Ok)
                {
                    return Err(RpcError::Status(status));
                }
            }
        }
    }
    reader.finish().map_err(RpcError::Decode)?;
    match message {
        Some(message) => Ok(Answer {
            headers: parts.headers,
            message,
        }),
        None => Err(RpcError::NoMessage),
    }
}

/// A status for an HTTP answer without `grpc-status` (a proxy's, say), as gRPC maps them.
fn from_http_status(status: StatusCode) -> Status {
    let code = match status {
        StatusCode::BAD_REQUEST => Code::Internal,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::Unimplemented,
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => Code::Unavailable,
        _ => Code::Unknown,
    };
    Status::new(
        code,
        format!(
            "the peer answered HTTP {} without a gRPC status",
            status.as_u16()
        ),
    )
}
