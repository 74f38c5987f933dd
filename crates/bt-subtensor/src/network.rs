//! `--subtensor.network` and `--subtensor.chain_endpoint` as the Python SDK resolves them: a
//! network name maps to its public entry point, a URL is taken as it is, and an explicit chain
//! endpoint wins over the network.

use crate::error::SubtensorError;

/// The SDK's network names and their entry points (`bittensor.core.settings.NETWORK_MAP`).
/// `local` honours `BT_SUBTENSOR_CHAIN_ENDPOINT` as the SDK does.
pub const NETWORKS: &[(&str, &str)] = &[
    ("finney", "wss://entrypoint-finney.opentensor.ai:443"),
    ("test", "wss://test.finney.opentensor.ai:443"),
    ("archive", "wss://archive.chain.opentensor.ai:443"),
    ("local", "ws://127.0.0.1:9944"),
    ("latent-lite", "wss://lite.sub.latent.to:443"),
];

/// The endpoint to connect to, or `None` when neither flag is given (the caller's default
/// chain applies). `local_override` is `BT_SUBTENSOR_CHAIN_ENDPOINT`'s value, if set.
pub fn resolve(
    network: Option<&str>,
    chain_endpoint: Option<&str>,
    local_override: Option<&str>,
) -> Result<Option<String>, SubtensorError> {
    let chosen = match (chain_endpoint, network) {
        (Some(url), _) => url,
        (None, Some(name)) => name,
        (None, None) => return Ok(None),
    };
    if let Some((name, url)) = NETWORKS.iter().find(|(name, _)| *name == chosen) {
        return Ok(Some(match (*name, local_override) {
            ("local", Some(over)) if !over.is_empty() => over.to_string(),
            _ => (*url).to_string(),
        }));
    }
    if chosen.starts_with("ws://") || chosen.starts_with("wss://") {
        return Ok(Some(chosen.to_string()));
    }
    let names: Vec<&str> = NETWORKS.iter().map(|(n, _)| *n).collect();
    Err(SubtensorError::BadEndpoint {
        endpoint: chosen.to_string(),
        reason: format!(
            "expected a network ({}) or a ws:// or wss:// URL",
            names.join(", ")
        ),
    })
}

/// The SDK's name for an endpoint (`finney`, `local`, …), `unknown` for any other URL.
pub fn network_name(endpoint: &str) -> &'static str {
    if let Some((name, _)) = NETWORKS.iter().find(|(_, url)| *url == endpoint) {
        return name;
    }
    if endpoint.contains("127.0.0.1") || endpoint.contains("localhost") {
        return "local";
    }
    "unknown"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_urls_and_precedence() {
        assert_eq!(resolve(None, None, None).unwrap(), None);
        assert_eq!(
            resolve(Some("finney"), None, None).unwrap().as_deref(),
            Some("wss://entrypoint-finney.opentensor.ai:443")
        );
        assert_eq!(
            resolve(Some("test"), None, None).unwrap().as_deref(),
            Some("wss://test.finney.opentensor.ai:443")
        );
        assert_eq!(
            resolve(Some("local"), None, None).unwrap().as_deref(),
            Some("ws://127.0.0.1:9944")
        );
        assert_eq!(
            resolve(Some("local"), None, Some("ws://127.0.0.1:9000"))
                .unwrap()
                .as_deref(),
            Some("ws://127.0.0.1:9000")
        );
        assert_eq!(
            resolve(Some("finney"), Some("ws://10.0.0.5:9944"), None)
                .unwrap()
                .as_deref(),
            Some("ws://10.0.0.5:9944"),
            "an explicit endpoint wins"
        );
        assert_eq!(network_name("wss://test.finney.opentensor.ai:443"), "test");
        assert_eq!(network_name("ws://127.0.0.1:40000"), "local");
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let e = resolve(Some("mainnet"), None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("mainnet") && e.contains("finney, test"), "{e}");
        assert!(
            resolve(None, Some("127.0.0.1:9944"), None).is_err(),
            "a bare host:port is not a URL"
        );
    }
}
