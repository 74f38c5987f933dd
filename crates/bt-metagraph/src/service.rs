//! The `Metagraph` gRPC service by hand: the generated server decodes a request whole with
//! prost before our code sees it, so the transport here plugs in [`GossipCodec`], which counts
//! and sizes entries before it decodes them.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bt_wire::GossipBatch;
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use crate::codec::{BoundedBatch, GossipCodec};
use crate::server::{Shared, gossip};

/// The path of the one method, `Metagraph.Gossip`.
pub(crate) const GOSSIP_PATH: &str = "/Metagraph/Gossip";

/// The `Metagraph` service (package-less, as in the Release 1 schema).
#[derive(Clone)]
pub(crate) struct MetagraphService {
    pub(crate) shared: Arc<Shared>,
}

impl NamedService for MetagraphService {
    const NAME: &'static str = "Metagraph";
}

struct GossipMethod(Arc<Shared>);

impl UnaryService<BoundedBatch> for GossipMethod {
    type Response = GossipBatch;
    type Future = BoxFuture<Response<GossipBatch>, Status>;

    fn call(&mut self, request: Request<BoundedBatch>) -> Self::Future {
        let shared = self.0.clone();
        Box::pin(async move {
            let source = request.remote_addr();
            gossip(&shared, source, request.into_inner())
                .await
                .map(Response::new)
        })
    }
}

impl<B> Service<http::Request<B>> for MetagraphService
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        if req.uri().path() != GOSSIP_PATH {
            return Box::pin(
                async move { Ok(Status::unimplemented("no such method").into_http()) },
            );
        }
        Box::pin(async move {
            let max = shared.cfg.max_message_bytes;
            let codec = GossipCodec {
                limits: shared.batch_limits(),
            };
            let mut grpc = Grpc::new(codec).apply_max_message_size_config(Some(max), Some(max));
            Ok(grpc.unary(GossipMethod(shared), req).await)
        })
    }
}
