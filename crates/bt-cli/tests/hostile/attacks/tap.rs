//! An observer on the path between callers and an axon: a port forward in front of the axon (the
//! axon is published under the forward's port with `--external_port`, as behind a NAT) that
//! passes every request on unchanged and keeps a copy of what it passed: the message and its
//! `bt-*` metadata, as a capture of the wire would show them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bt_crypto::RpcMethod;
use bt_wire::TensorMessage;
use bt_wire::bittensor_client::BittensorClient;
use bt_wire::bittensor_server::{Bittensor, BittensorServer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};

/// Most requests one tap keeps.
const MAX_CAPTURED: usize = 10_000;

/// One request as it went by.
#[derive(Clone, Debug)]
pub struct Captured {
    pub method: RpcMethod,
    pub message: TensorMessage,
    /// Its `bt-*` metadata (`bt-digest`, `bt-codecs`, …).
    pub metadata: MetadataMap,
}

impl Captured {
    /// Whether the caller signed it over the v2 digest (`bt-digest: 2`).
    pub fn is_v2(&self) -> bool {
        self.metadata
            .get(bt_crypto::DIGEST_HEADER)
            .and_then(|v| v.to_str().ok())
            == Some("2")
    }

    /// The same message and metadata, ready to be sent again.
    pub fn request(&self) -> Request<TensorMessage> {
        let mut r = Request::new(self.message.clone());
        *r.metadata_mut() = self.metadata.clone();
        r.set_timeout(Duration::from_secs(5));
        r
    }
}

/// A gRPC client whose requests carry `authority` as their `:authority` but reach `to`.
pub async fn client_as(authority: SocketAddr, to: SocketAddr) -> BittensorClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{authority}"))
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_| async move {
            let tcp = tokio::net::TcpStream::connect(to).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tcp))
        }))
        .await
        .unwrap();
    BittensorClient::new(channel)
}

#[derive(Clone)]
struct Relay {
    /// To the axon, under the `:authority` callers dialled (the tap's address).
    upstream: BittensorClient<Channel>,
    captured: Arc<Mutex<Vec<Captured>>>,
}

impl Relay {
    async fn pass(
        &self,
        req: Request<TensorMessage>,
        method: RpcMethod,
    ) -> Result<Response<TensorMessage>, Status> {
        let headers = req.metadata().clone().into_headers();
        let mut bt = http::HeaderMap::new();
        for (name, value) in &headers {
            if name.as_str().starts_with("bt-") {
                bt.append(name.clone(), value.clone());
            }
        }
        let captured = Captured {
            method,
            message: req.into_inner(),
            metadata: MetadataMap::from_headers(bt),
        };
        let onward = captured.request();
        {
            let mut kept = self.captured.lock().unwrap();
            if kept.len() < MAX_CAPTURED {
                kept.push(captured);
            }
        }
        let mut upstream = self.upstream.clone();
        match method {
            RpcMethod::Forward => upstream.forward(onward).await,
            RpcMethod::Backward => upstream.backward(onward).await,
        }
    }
}

#[tonic::async_trait]
impl Bittensor for Relay {
    async fn forward(
        &self,
        req: Request<TensorMessage>,
    ) -> Result<Response<TensorMessage>, Status> {
        self.pass(req, RpcMethod::Forward).await
    }

    async fn backward(
        &self,
        req: Request<TensorMessage>,
    ) -> Result<Response<TensorMessage>, Status> {
        self.pass(req, RpcMethod::Backward).await
    }
}

/// A running tap; dropping it stops it.
pub struct Tap {
    pub addr: SocketAddr,
    captured: Arc<Mutex<Vec<Captured>>>,
    _stop: oneshot::Sender<()>,
}

impl Tap {
    /// Serves on `listener` (bound before the axon starts, so that the axon can be told its
    /// port), passing every request to the axon at `axon`.
    pub async fn serve(listener: TcpListener, axon: SocketAddr) -> Self {
        let addr = listener.local_addr().unwrap();
        let captured = Arc::new(Mutex::new(Vec::new()));
        let relay = Relay {
            upstream: client_as(addr, axon).await,
            captured: captured.clone(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(async move {
            let _ = Server::builder()
                .add_service(BittensorServer::new(relay))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            addr,
            captured,
            _stop: stop,
        }
    }

    /// What went by so far, in order.
    pub fn captured(&self) -> Vec<Captured> {
        self.captured.lock().unwrap().clone()
    }
}
