//! Outgoing gossip calls, and `inspect` (read a node's table without joining).

use std::time::Duration;

use bt_wire::GossipBatch;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Endpoint;

use crate::codec::{BatchLimits, BoundedBatch, GossipCodec};
use crate::error::MetagraphError;
use crate::server::now_ms;
use crate::service::GOSSIP_PATH;
use crate::validate::{PeerAddr, TimeLimits};
use crate::verify::{CryptoVerifier, VerifiedSynapse};
use bt_interfaces::SynapseInfo;

/// Entries read from an inspected node's answer (it is as untrusted as any peer).
const INSPECT_LIMITS: BatchLimits = BatchLimits {
    max_synapses: 16_384,
    max_peers: 1_024,
};

/// One `Metagraph.Gossip` call with a deadline covering connect and answer. The answer is
/// decoded within `limits` (see [`crate::codec`]).
pub(crate) async fn gossip_call(
    peer: &PeerAddr,
    batch: GossipBatch,
    timeout: Duration,
    max_message_bytes: usize,
    limits: BatchLimits,
) -> Result<BoundedBatch, MetagraphError> {
    let name = peer.to_string();
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    let call = async {
        let endpoint = Endpoint::from_shared(format!("http://{peer}"))
            .map_err(|source| MetagraphError::Connect {
                peer: name.clone(),
                source,
            })?
            .connect_timeout(timeout)
            .timeout(timeout);
        let channel = endpoint
            .connect()
            .await
            .map_err(|source| MetagraphError::Connect {
                peer: name.clone(),
                source,
            })?;
        let mut client = tonic::client::Grpc::new(channel)
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes);
        client.ready().await.map_err(|e| MetagraphError::Rpc {
            peer: name.clone(),
            status: Box::new(tonic::Status::unavailable(e.to_string())),
        })?;
        let mut request = tonic::Request::new(batch);
        // Sent to the server as grpc-timeout, so it can give up too.
        request.set_timeout(timeout);
        client
            .unary(
                request,
                PathAndQuery::from_static(GOSSIP_PATH),
                GossipCodec { limits },
            )
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| MetagraphError::Rpc {
                peer: name.clone(),
                status: Box::new(status),
            })
    };
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| MetagraphError::Timeout {
            peer: peer.to_string(),
            timeout_ms,
        })?
}

/// Reads the table of the metagraph node at `addr` (`host:port`) without joining: sends an
/// empty batch, which a node answers with a bounded sample of its table (its own
/// definitions and a random window; all of a table up to `inspect_sample` entries) and no
/// side effect. Nodes throttle inspections per address. Entries whose
/// signature (or work digest) does not verify, or that are malformed, are left out; no
/// minimum difficulty is imposed. Weights are local to each node and read as 0.
pub async fn inspect(addr: &str, timeout: Duration) -> Result<Vec<SynapseInfo>, MetagraphError> {
    let peer = PeerAddr::parse(addr).map_err(|_| MetagraphError::BadPeerAddress {
        addr: addr.chars().take(300).collect(),
    })?;
    let answer = gossip_call(
        &peer,
        GossipBatch::default(),
        timeout,
        16 * 1024 * 1024,
        INSPECT_LIMITS,
    )
    .await?
    .batch;
    let now = now_ms();
    // Show everything not from the future, however old: inspection is for debugging.
    let limits = TimeLimits {
        max_future_skew_ms: 60_000,
        ttl_ms: u64::MAX,
    };
    let verifier = CryptoVerifier { difficulty_bits: 0 };
    // Up to thousands of signature checks: off the executor.
    let mut rows: Vec<SynapseInfo> = tokio::task::spawn_blocking(move || {
        answer
            .synapses
            .into_iter()
            .filter_map(|s| VerifiedSynapse::verify(s, now, limits, &verifier).ok())
            .map(|v| crate::info::synapse_info(v.synapse(), 0.0))
            .collect()
    })
    .await
    .map_err(|_| MetagraphError::Shutdown)?;
    rows.sort_by(|a, b| a.synapse_key.cmp(&b.synapse_key));
    rows.dedup_by(|a, b| a.synapse_key == b.synapse_key);
    Ok(rows)
}
