//! JSON-RPC over WebSocket with a deadline on every request, bounded answers and bounded
//! connection retries. Errors name the endpoint and the method.

use std::time::Duration;

use jsonrpsee::core::client::{
    ClientT, Error as RpcClientError, Subscription, SubscriptionClientT,
};
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use serde::de::DeserializeOwned;

use crate::error::SubtensorError;

/// Limits and deadlines of one connection.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Deadline of each request (the node's answer must arrive within it).
    pub request_timeout: Duration,
    /// Deadline of one connection attempt.
    pub connect_timeout: Duration,
    /// Connection attempts before giving up (a restarting node gets a few chances).
    pub connect_attempts: u32,
    /// Largest answer accepted. Metadata is the largest legitimate one (about 1 MiB of hex).
    pub max_response_bytes: u32,
    /// Notifications buffered per subscription before the node is cut off.
    pub subscription_buffer: usize,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            connect_attempts: 3,
            max_response_bytes: 16 << 20,
            subscription_buffer: 256,
        }
    }
}

/// One WebSocket connection to a node.
pub struct Rpc {
    endpoint: String,
    client: WsClient,
    config: RpcConfig,
}

impl Rpc {
    pub async fn connect(endpoint: &str, config: RpcConfig) -> Result<Self, SubtensorError> {
        if !(endpoint.starts_with("ws://") || endpoint.starts_with("wss://")) {
            return Err(SubtensorError::BadEndpoint {
                endpoint: endpoint.to_string(),
                reason: "expected a ws:// or wss:// URL".into(),
            });
        }
        let mut last = String::new();
        for attempt in 0..config.connect_attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 << attempt.min(4))).await;
            }
            let build = WsClientBuilder::default()
                .request_timeout(config.request_timeout)
                .connection_timeout(config.connect_timeout)
                .max_response_size(config.max_response_bytes)
                // Without it a frame whose header claims more than the cap (but less than
                // soketto's own 256 MiB frame limit) is not refused at the header: the
                // oversized payload is read and discarded until it ends or the deadline hits.
                .max_frame_size(config.max_response_bytes)
                .max_buffer_capacity_per_subscription(config.subscription_buffer)
                .build(endpoint);
            // The builder's own timeout covers the handshake; this one covers DNS and TCP too.
            match tokio::time::timeout(config.connect_timeout, build).await {
                Ok(Ok(client)) => {
                    return Ok(Self {
                        endpoint: endpoint.to_string(),
                        client,
                        config,
                    });
                }
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = format!("no answer within {:?}", config.connect_timeout),
            }
            tracing::debug!(endpoint, attempt, error = %last, "connect failed");
        }
        Err(SubtensorError::Connect {
            endpoint: endpoint.to_string(),
            reason: last,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn config(&self) -> &RpcConfig {
        &self.config
    }

    /// One request under the configured deadline.
    pub async fn request<R: DeserializeOwned>(
        &self,
        method: &str,
        params: ArrayParams,
    ) -> Result<R, SubtensorError> {
        let call = self.client.request::<R, _>(method, params);
        match tokio::time::timeout(self.config.request_timeout, call).await {
            Ok(r) => r.map_err(|e| self.error(method, e)),
            Err(_) => Err(self.timeout(method)),
        }
    }

    pub async fn subscribe<N: DeserializeOwned>(
        &self,
        method: &str,
        params: ArrayParams,
        unsubscribe: &str,
    ) -> Result<Subscription<N>, SubtensorError> {
        let call = self.client.subscribe::<N, _>(method, params, unsubscribe);
        match tokio::time::timeout(self.config.request_timeout, call).await {
            Ok(r) => r.map_err(|e| self.error(method, e)),
            Err(_) => Err(self.timeout(method)),
        }
    }

    pub(crate) fn timeout(&self, method: &str) -> SubtensorError {
        SubtensorError::Timeout {
            endpoint: self.endpoint.clone(),
            method: method.to_string(),
            after: self.config.request_timeout,
        }
    }

    pub(crate) fn error(&self, method: &str, e: RpcClientError) -> SubtensorError {
        match e {
            RpcClientError::Call(obj) => SubtensorError::Rpc {
                endpoint: self.endpoint.clone(),
                method: method.to_string(),
                code: obj.code(),
                message: obj.message().to_string(),
            },
            RpcClientError::RequestTimeout => self.timeout(method),
            // Well-formed JSON-RPC whose result is not what the method returns: the node is
            // wrong, not the link, so this is not worth a retry.
            RpcClientError::ParseError(e) => {
                SubtensorError::decode(format!("{method} from {}", self.endpoint), e)
            }
            e => SubtensorError::Transport {
                endpoint: self.endpoint.clone(),
                method: method.to_string(),
                reason: e.to_string(),
            },
        }
    }
}

/// `0x`-hex to bytes, for answers of the node.
pub(crate) fn unhex(what: &str, s: &str) -> Result<Vec<u8>, SubtensorError> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).map_err(|e| SubtensorError::decode(what, e))
}

pub(crate) fn tohex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}
