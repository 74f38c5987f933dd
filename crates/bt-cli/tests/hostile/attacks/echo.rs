//! Raw calls on the Release-1 tensor protocol against an echo neuron (`target::EchoNeuron`):
//! gRPC calls whose bytes the attack chooses (a client that built these messages as structs
//! would spend what the attack wants the target to spend), and an honest dendrite that keeps
//! calling.

use std::time::Duration;

use bt_crypto::{NeuronKey, RpcMethod};
use bt_dendrite::{Dendrite, DendriteConfig, Endpoint};
use bt_tensor::{Modality, Tensor};
use bt_wire::body::ChunkedBody;
use bytes::{BufMut, Bytes, BytesMut};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

/// An honest caller: a signed `Forward` of a small tensor through a real dendrite, echoed back.
pub fn honest_forward(
    dendrite: Dendrite,
    endpoint: Endpoint,
) -> impl FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>> + Send + 'static
{
    move || {
        let (dendrite, endpoint) = (dendrite.clone(), endpoint.clone());
        Box::pin(async move {
            let input = Tensor::from_f32(&[1, 4], &[1.0, 2.0, 3.0, 4.0], Modality::Tensor).unwrap();
            let Ok(replies) = dendrite.forward_tensor(vec![(endpoint, input)]).await else {
                return false;
            };
            replies.first().is_some_and(|r| r.outcome.is_ok())
        })
    }
}

pub fn honest_dendrite(seed: u8) -> Dendrite {
    Dendrite::new(
        NeuronKey::from_seed([seed; 32]),
        DendriteConfig {
            timeout: Duration::from_secs(5),
            ..DendriteConfig::default()
        },
    )
}

/// What a raw call was answered: its gRPC status and the response message's size.
#[derive(Debug)]
pub struct RawAnswer {
    pub code: tonic::Code,
    pub message: String,
    pub response_bytes: usize,
}

/// Sends `chunks` (a framed message) as a unary `Forward` to `addr` and reads the answer.
pub async fn raw_forward(addr: &str, chunks: Vec<Bytes>) -> RawAnswer {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .initial_stream_window_size(8 << 20)
        .initial_connection_window_size(32 << 20)
        .connect()
        .await
        .unwrap();
    let mut request = http::Request::new(tonic::body::Body::new(ChunkedBody::new(chunks, None)));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = http::Uri::from_static(bt_wire::paths::FORWARD);
    let headers = request.headers_mut();
    headers.insert("te", http::HeaderValue::from_static("trailers"));
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-timeout", http::HeaderValue::from_static("60S"));
    let response = channel.oneshot(request).await.unwrap();
    let (parts, mut body) = response.into_parts();
    if let Some(status) = tonic::Status::from_header_map(&parts.headers) {
        return RawAnswer {
            code: status.code(),
            message: status.message().to_string(),
            response_bytes: 0,
        };
    }
    let mut response_bytes = 0;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(status) => {
                return RawAnswer {
                    code: status.code(),
                    message: status.message().to_string(),
                    response_bytes,
                };
            }
        };
        match frame.into_data() {
            Ok(data) => response_bytes += data.len(),
            Err(frame) => {
                if let Some(status) = frame
                    .trailers_ref()
                    .and_then(tonic::Status::from_header_map)
                {
                    return RawAnswer {
                        code: status.code(),
                        message: status.message().to_string(),
                        response_bytes,
                    };
                }
            }
        }
    }
    RawAnswer {
        code: tonic::Code::Unknown,
        message: "no status".into(),
        response_bytes,
    }
}

/// A framed `TensorMessage` for `synapse_key` with `n` empty tensors (two bytes each on the
/// wire), signed by `caller` when given. Built as bytes: as structs it would take gigabytes.
pub fn empty_tensors_request(synapse_key: &str, n: usize, caller: Option<&NeuronKey>) -> Bytes {
    let mut body = BytesMut::with_capacity(2 * n + 256);
    put_field(&mut body, 3, synapse_key.as_bytes());
    if let Some(key) = caller {
        let nonce = bt_crypto::unix_nanos();
        let digest = bt_crypto::request_digest(
            &key.public_hex(),
            synapse_key,
            nonce,
            &empty_tensors_hash(n),
            RpcMethod::Forward,
        );
        put_field(&mut body, 2, key.public_hex().as_bytes());
        body.put_u8(4 << 3);
        put_varint(&mut body, u64::try_from(nonce).unwrap());
        put_field(&mut body, 5, &key.sign(&digest));
    }
    for _ in 0..n {
        body.put_slice(&[6 << 3 | 2, 0]);
    }
    frame(&body)
}

/// `bt_crypto::tensors_hash` of `n` empty tensors, without building them (`docs/protocol.md`).
pub fn empty_tensors_hash(n: usize) -> [u8; 32] {
    let tag = b"bittensor/tensors/v1";
    let mut h = Sha256::new();
    h.update((tag.len() as u64).to_le_bytes());
    h.update(tag);
    h.update((n as u64).to_le_bytes());
    // dtype, modality (i32 each), requires_grad (u8), no dimensions (u64), empty buffer (u64).
    let one = [0u8; 4 + 4 + 1 + 8 + 8];
    let block = one.repeat(4096);
    for _ in 0..n / 4096 {
        h.update(&block);
    }
    for _ in 0..n % 4096 {
        h.update(one);
    }
    h.finalize().into()
}

/// The gRPC prefix around `body`.
pub fn frame(body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(body.len() + 5);
    out.put_u8(0);
    out.put_u32(u32::try_from(body.len()).unwrap());
    out.put_slice(body);
    out.freeze()
}

fn put_field(buf: &mut BytesMut, field: u8, value: &[u8]) {
    buf.put_u8(field << 3 | 2);
    put_varint(buf, value.len() as u64);
    buf.put_slice(value);
}

fn put_varint(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

#[test]
fn the_empty_tensors_hash_is_bt_cryptos() {
    let tensors = vec![bt_wire::Tensor::default(); 4099];
    assert_eq!(empty_tensors_hash(4099), bt_crypto::tensors_hash(&tensors));
}
