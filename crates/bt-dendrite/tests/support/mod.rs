//! Real gRPC servers on 127.0.0.1:0 for the integration tests and the benchmark: a raw tonic
//! implementation of the Release 1 `Bittensor` service whose behaviour a test chooses (echo,
//! reject, hang, answer garbage), recording what the server saw.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bt_wire::bittensor_server::{Bittensor, BittensorServer};
use bt_wire::{Tensor, TensorMessage};
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};

pub const MAX_MESSAGE: usize = 64 << 20;

/// What the server does with every request.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Answer with the request's tensors.
    Echo,
    /// Answer with this status.
    Reject(Code, &'static str),
    /// Never answer (until the client gives up or the server's deadline handling cuts in).
    Hang,
    /// Wait, then echo.
    Slow(Duration),
    /// Echo with the first dimension grown by one.
    WrongBatch,
    /// Echo with every float replaced by NaN.
    NaN,
    /// Answer with no tensor at all.
    Empty,
    /// Answer with a tensor whose buffer does not match its shape.
    Truncated,
    /// Echo with every tensor rewritten by this function (a compressed answer, say).
    Rewrite(fn(Tensor) -> Tensor),
}

/// What the server saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub grpc_timeout: Option<String>,
    pub neuron_key: String,
    pub synapse_key: String,
    pub nonce: i64,
    pub signature_len: usize,
    pub tensors: usize,
    pub message: TensorMessage,
}

#[derive(Clone)]
struct Svc {
    behaviour: Behaviour,
    /// `None`: record nothing (the benchmark's baseline must do no more than echo).
    seen: Option<Arc<Mutex<Vec<Seen>>>>,
}

impl Svc {
    async fn handle(
        &self,
        req: Request<TensorMessage>,
        backward: bool,
    ) -> Result<Response<TensorMessage>, Status> {
        let grpc_timeout = req
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let msg = req.into_inner();
        if let Some(seen) = &self.seen {
            let mut keep = msg.clone();
            if keep.tensors.iter().map(|t| t.buffer.len()).sum::<usize>() > 64 << 10 {
                // Holding every large payload alive would grow without bound.
                keep.tensors.clear();
            }
            let mut seen = seen.lock().unwrap();
            if seen.len() < 10_000 {
                seen.push(Seen {
                    grpc_timeout,
                    neuron_key: msg.neuron_key.clone(),
                    synapse_key: msg.synapse_key.clone(),
                    nonce: msg.nounce,
                    signature_len: msg.signature.len(),
                    tensors: msg.tensors.len(),
                    message: keep,
                });
            }
        }
        let mut tensors = msg.tensors;
        if backward {
            // `[inputs, grads]` in; an input gradient shaped like the inputs out.
            tensors.truncate(1);
        }
        match &self.behaviour {
            Behaviour::Echo => {}
            Behaviour::Reject(code, message) => return Err(Status::new(*code, *message)),
            Behaviour::Hang => std::future::pending::<()>().await,
            Behaviour::Slow(d) => tokio::time::sleep(*d).await,
            Behaviour::WrongBatch => {
                for t in &mut tensors {
                    let per_row = t.buffer.len() / t.shape[0] as usize;
                    t.shape[0] += 1;
                    let mut buf = t.buffer.to_vec();
                    buf.extend(std::iter::repeat_n(0u8, per_row));
                    t.buffer = Bytes::from(buf);
                }
            }
            Behaviour::NaN => {
                for t in &mut tensors {
                    let n = t.buffer.len() / 4;
                    t.buffer = f32::NAN.to_le_bytes().repeat(n).into();
                }
            }
            Behaviour::Empty => tensors.clear(),
            Behaviour::Rewrite(f) => tensors = tensors.into_iter().map(f).collect(),
            Behaviour::Truncated => {
                for t in &mut tensors {
                    t.buffer = t.buffer.slice(..t.buffer.len() / 2);
                }
            }
        }
        Ok(Response::new(TensorMessage {
            version: "test".into(),
            synapse_key: msg.synapse_key,
            tensors,
            ..Default::default()
        }))
    }
}

#[tonic::async_trait]
impl Bittensor for Svc {
    async fn forward(
        &self,
        req: Request<TensorMessage>,
    ) -> Result<Response<TensorMessage>, Status> {
        self.handle(req, false).await
    }

    async fn backward(
        &self,
        req: Request<TensorMessage>,
    ) -> Result<Response<TensorMessage>, Status> {
        self.handle(req, true).await
    }
}

/// A running raw server; dropping it stops the server.
pub struct RawServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    _stop: oneshot::Sender<()>,
}

impl RawServer {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Starts a raw tonic server with the same transport settings as the axon's defaults.
pub async fn start(behaviour: Behaviour) -> RawServer {
    serve(
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        behaviour,
        true,
    )
}

/// A raw server that records nothing: the benchmark's baseline.
pub async fn start_quiet(behaviour: Behaviour) -> RawServer {
    serve(
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        behaviour,
        false,
    )
}

/// Starts a raw server on a given loopback port (a peer coming back where it was).
pub async fn start_on(port: u16, behaviour: Behaviour) -> RawServer {
    serve(
        TcpListener::bind(("127.0.0.1", port)).await.unwrap(),
        behaviour,
        true,
    )
}

fn serve(listener: TcpListener, behaviour: Behaviour, record: bool) -> RawServer {
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let svc = BittensorServer::new(Svc {
        behaviour,
        seen: record.then(|| seen.clone()),
    })
    .max_decoding_message_size(MAX_MESSAGE)
    .max_encoding_message_size(MAX_MESSAGE);
    let (stop, stopped) = oneshot::channel::<()>();
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(async move {
        let _ = Server::builder()
            .max_frame_size(1 << 20)
            .initial_stream_window_size(8 << 20)
            .initial_connection_window_size(32 << 20)
            .add_service(svc)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await;
    });
    RawServer {
        addr,
        seen,
        _stop: stop,
    }
}

/// A TCP listener that accepts connections and never says a word (holding the sockets open).
pub async fn black_hole() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            if held.len() < 1024 {
                held.push(sock);
            }
        }
    });
    (addr, task)
}

/// A loopback port with nothing listening on it (bound, then released).
pub async fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A float32 wire tensor `[rows, cols]` filled with `value`.
pub fn wire_f32(rows: usize, cols: usize, value: f32) -> Tensor {
    Tensor {
        version: String::new(),
        buffer: value.to_le_bytes().repeat(rows * cols).into(),
        shape: vec![rows as i64, cols as i64],
        dtype: bt_wire::DataType::Float32 as i32,
        modality: bt_wire::Modality::Tensor as i32,
        requires_grad: false,
    }
}

/// The project's own axon serving `bt_axon::EchoSynapse` under a fresh synapse key on
/// 127.0.0.1:0, with `config`; returns it and the key.
pub async fn echo_axon(config: bt_axon::AxonConfig) -> (bt_axon::AxonHandle, String) {
    let synapse_key = bt_crypto::NeuronKey::generate().public_hex();
    let handle = bt_axon::Axon::builder(config)
        .serve_synapse(synapse_key.clone(), Arc::new(bt_axon::EchoSynapse))
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (handle, synapse_key)
}
