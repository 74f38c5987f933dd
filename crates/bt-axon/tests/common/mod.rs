//! Shared by the integration tests: real axons on 127.0.0.1:0, the generated client, signing.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bt_axon::{Axon, AxonConfig, AxonHandle};
use bt_crypto::{NeuronKey, NonceClock, RpcMethod};
use bt_interfaces::{Synapse, SynapseError};
use bt_tensor::{Modality, Tensor};
use bt_wire::TensorMessage;
use bt_wire::bittensor_client::BittensorClient;
use tonic::transport::Channel;

pub static NONCES: NonceClock = NonceClock::new();

pub fn synapse_key(seed: u8) -> String {
    NeuronKey::from_seed([seed; 32]).public_hex()
}

pub fn caller(seed: u8) -> NeuronKey {
    NeuronKey::from_seed([seed.wrapping_add(100); 32])
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub async fn start(config: AxonConfig, synapses: Vec<(String, Arc<dyn Synapse>)>) -> AxonHandle {
    let mut b = Axon::builder(config);
    for (k, s) in synapses {
        b = b.serve_synapse(k, s);
    }
    b.start(loopback()).await.unwrap()
}

pub async fn client(addr: SocketAddr) -> BittensorClient<Channel> {
    BittensorClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
        .max_decoding_message_size(256 << 20)
        .max_encoding_message_size(256 << 20)
}

pub fn f32_tensor(values: &[f32]) -> Tensor {
    Tensor::from_f32(&[1, values.len()], values, Modality::Tensor).unwrap()
}

pub fn message(synapse_key: &str, tensors: Vec<Tensor>) -> TensorMessage {
    TensorMessage {
        synapse_key: synapse_key.to_string(),
        tensors: tensors.iter().map(bt_tensor::encode).collect(),
        ..TensorMessage::default()
    }
}

pub fn signed(key: &NeuronKey, mut msg: TensorMessage, method: RpcMethod) -> TensorMessage {
    bt_crypto::sign_request(key, &mut msg, method, NONCES.next());
    msg
}

pub fn request(msg: TensorMessage, timeout: Duration) -> tonic::Request<TensorMessage> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(timeout);
    r
}

pub fn unsigned_config() -> AxonConfig {
    AxonConfig {
        allow_unsigned: true,
        ..AxonConfig::default()
    }
}

/// A synapse that blocks every call until the test opens its gate; echoes otherwise.
#[derive(Default)]
pub struct Gated {
    open: Mutex<bool>,
    cv: Condvar,
    pub entered: std::sync::atomic::AtomicUsize,
}

impl Gated {
    pub fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }

    fn wait(&self) {
        self.entered
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut open = self.open.lock().unwrap();
        while !*open {
            // Bounded, so a failing test cannot leave a thread blocked forever.
            let (guard, timeout) = self.cv.wait_timeout(open, Duration::from_secs(30)).unwrap();
            open = guard;
            if timeout.timed_out() {
                return;
            }
        }
    }

    pub fn entered(&self) -> usize {
        self.entered.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Synapse for Gated {
    fn modalities(&self) -> &[Modality] {
        &Modality::ALL
    }
    fn forward(&self, _: Modality, input: Tensor) -> Result<Tensor, SynapseError> {
        self.wait();
        Ok(input)
    }
    fn backward(&self, _: Vec<Tensor>, grads: Vec<Tensor>) -> Result<Vec<Tensor>, SynapseError> {
        self.wait();
        Ok(grads)
    }
}

/// Sends one gRPC `Forward` request with a hand-made body (and `trailers` after it) over a raw
/// HTTP/2 connection and returns the `grpc-status` it got (from the headers or the trailers).
pub async fn grpc_raw(
    addr: SocketAddr,
    trailers: Option<http::HeaderMap>,
    body: Vec<u8>,
) -> Option<String> {
    grpc_raw_with(addr, http::HeaderMap::new(), trailers, body).await
}

/// [`grpc_raw`] with extra request `headers`.
pub async fn grpc_raw_with(
    addr: SocketAddr,
    headers: http::HeaderMap,
    trailers: Option<http::HeaderMap>,
    body: Vec<u8>,
) -> Option<String> {
    grpc_raw_frames(addr, headers, trailers, vec![body]).await
}

/// [`grpc_raw_with`], the body sent as the given pieces, each with a `send_data` of its own.
pub async fn grpc_raw_frames(
    addr: SocketAddr,
    headers: http::HeaderMap,
    trailers: Option<http::HeaderMap>,
    mut pieces: Vec<Vec<u8>>,
) -> Option<String> {
    if pieces.is_empty() {
        // An empty body still ends the stream.
        pieces.push(Vec::new());
    }
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (h2, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut h2 = h2.ready().await.unwrap();
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/Bittensor/Forward"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let mut req = req;
    req.headers_mut().extend(headers);
    let (resp, mut stream) = h2.send_request(req, false).unwrap();
    let last = pieces.len().saturating_sub(1);
    for (i, piece) in pieces.into_iter().enumerate() {
        let end = i == last && trailers.is_none();
        stream.send_data(bytes::Bytes::from(piece), end).unwrap();
    }
    if let Some(trailers) = trailers {
        stream.send_trailers(trailers).unwrap();
    }
    let resp = tokio::time::timeout(Duration::from_secs(10), resp)
        .await
        .unwrap()
        .unwrap();
    if let Some(s) = resp.headers().get("grpc-status") {
        return Some(s.to_str().unwrap().to_string());
    }
    let mut body = resp.into_body();
    while let Some(chunk) = body.data().await {
        // Return the window, or an answer larger than it stalls.
        if let Ok(chunk) = chunk {
            let _ = body.flow_control().release_capacity(chunk.len());
        }
    }
    let trailers = body.trailers().await.ok()??;
    trailers
        .get("grpc-status")
        .map(|s| s.to_str().unwrap().to_string())
}

pub fn grpc_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8];
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f
}
