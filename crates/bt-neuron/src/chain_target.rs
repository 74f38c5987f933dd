//! Which chain a command or neuron talks to, from its flags: subtensor when
//! `--subtensor.network` or `--subtensor.chain_endpoint` is given (as the Python SDK spells
//! them), the embedded chain at `--chain_endpoint` otherwise. Either way the caller gets one
//! [`Chain`].

use std::sync::Arc;

use bt_chain::RpcChain;
use bt_interfaces::{Chain, ChainError};
use bt_subtensor::network::resolve;
use bt_subtensor::{RpcConfig, Subtensor, SubtensorError};

/// A chain to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainTarget {
    /// The embedded chain's node (`host:port`, `ws://` or `http://`).
    Embedded(String),
    /// A subtensor node (`ws://` or `wss://`).
    Subtensor(String),
}

impl ChainTarget {
    /// The target the flags name. `local_override` is `BT_SUBTENSOR_CHAIN_ENDPOINT` (the SDK's
    /// override of `local`). A network name we do not know is an error listing the known ones.
    pub fn from_flags(
        embedded: &str,
        network: Option<&str>,
        subtensor_endpoint: Option<&str>,
        local_override: Option<&str>,
    ) -> Result<Self, ChainError> {
        match resolve(network, subtensor_endpoint, local_override) {
            Ok(Some(url)) => Ok(Self::Subtensor(url)),
            Ok(None) => Ok(Self::Embedded(embedded.to_string())),
            Err(e) => Err(ChainError::Unavailable {
                endpoint: subtensor_endpoint
                    .or(network)
                    .unwrap_or_default()
                    .to_string(),
                source: Box::new(e),
            }),
        }
    }

    pub fn endpoint(&self) -> &str {
        match self {
            Self::Embedded(e) | Self::Subtensor(e) => e,
        }
    }

    pub fn is_subtensor(&self) -> bool {
        matches!(self, Self::Subtensor(_))
    }

    /// Connects (each request then has `config.request_timeout` as its deadline on subtensor;
    /// the embedded client has its own).
    pub async fn connect(&self, config: RpcConfig) -> Result<Arc<dyn Chain>, ChainError> {
        match self {
            Self::Embedded(endpoint) => {
                let chain =
                    RpcChain::connect(endpoint)
                        .await
                        .map_err(|e| ChainError::Unavailable {
                            endpoint: endpoint.clone(),
                            source: Box::new(e),
                        })?;
                Ok(Arc::new(chain))
            }
            Self::Subtensor(url) => {
                let chain = Subtensor::connect(url, config).await.map_err(|e| match e {
                    SubtensorError::Timeout { .. } => ChainError::Timeout {
                        endpoint: url.clone(),
                        what: "connect".into(),
                        source: Box::new(e),
                    },
                    SubtensorError::Metadata(_) | SubtensorError::Decode { .. } => {
                        ChainError::Invalid {
                            what: "connect (runtime version, genesis or metadata)".into(),
                            source: Box::new(e),
                        }
                    }
                    e => ChainError::Unavailable {
                        endpoint: url.clone(),
                        source: Box::new(e),
                    },
                })?;
                Ok(Arc::new(chain))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtensor_flags_win_over_the_embedded_default() {
        let t = ChainTarget::from_flags("127.0.0.1:9944", None, None, None).unwrap();
        assert_eq!(t, ChainTarget::Embedded("127.0.0.1:9944".into()));
        let t = ChainTarget::from_flags("127.0.0.1:9944", Some("test"), None, None).unwrap();
        assert_eq!(
            t,
            ChainTarget::Subtensor("wss://test.finney.opentensor.ai:443".into())
        );
        let t =
            ChainTarget::from_flags("x", Some("finney"), Some("ws://127.0.0.1:1"), None).unwrap();
        assert_eq!(t, ChainTarget::Subtensor("ws://127.0.0.1:1".into()));
        let e = ChainTarget::from_flags("x", Some("nope"), None, None).unwrap_err();
        assert!(
            std::error::Error::source(&e)
                .unwrap()
                .to_string()
                .contains("finney"),
            "{e}"
        );
    }
}
