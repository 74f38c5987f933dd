//! Which request digest a signed request's signatures cover (`bt-digest`), and for v2 whether the
//! endpoint it binds is this axon's (`docs/protocol.md`, "Request digest v2").
//!
//! A v2 signature binds the host and port the caller dialled, which the request carries as its
//! HTTP/2 `:authority`. The signature alone proves only that the caller meant that endpoint; what
//! stops a replay at another axon serving the same synapse key is the check here that the
//! endpoint is ours: the local address of the request's connection (what the caller's packets
//! reached, and the listen address when that is not a wildcard) or the published host
//! (`external_host`), with the listen port or the published port (`external_port`).

use std::net::SocketAddr;

use bt_crypto::{DIGEST_HEADER, Dialled};
use http::uri::Authority;
use http::{HeaderName, HeaderValue};
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::AxonConfig;
use crate::shared::Shared;

/// The `bt-digest` header, request and answer.
pub(crate) static DIGEST: HeaderName = HeaderName::from_static(DIGEST_HEADER);

/// What every answer says: v2 signatures are accepted here.
pub(crate) fn advertised() -> HeaderValue {
    HeaderValue::from_static("2")
}

/// Where a request arrived, as far as its digest cares.
#[derive(Clone, Copy)]
pub(crate) struct Arrival<'a> {
    /// The `:authority` the caller sent.
    pub(crate) authority: Option<&'a Authority>,
    /// The local address of its connection (`None` when the transport does not say).
    pub(crate) local: Option<SocketAddr>,
}

impl Shared {
    /// For a signed request: `None` when its signatures cover the v1 digest (refused with
    /// `require_digest_v2`), or the endpoint their v2 digest binds, checked to be this axon's.
    /// Every refusal is `UNAUTHENTICATED`, before any signature is checked.
    pub(crate) fn signed_digest(
        &self,
        metadata: &MetadataMap,
        arrival: Arrival<'_>,
    ) -> Result<Option<Dialled>, Status> {
        let v2 = match metadata.as_ref().get(&DIGEST).map(HeaderValue::as_bytes) {
            None | Some(b"1") => false,
            Some(b"2") => true,
            Some(other) => {
                return Err(Status::unauthenticated(format!(
                    "{DIGEST_HEADER}: {:?} is no digest version this axon knows (1 or 2)",
                    String::from_utf8_lossy(&other[..other.len().min(16)])
                )));
            }
        };
        if !v2 {
            if self.config.require_digest_v2 {
                return Err(Status::unauthenticated(format!(
                    "this axon accepts only v2 signatures, which bind the endpoint dialled \
                     ({DIGEST_HEADER}: 2; it runs with require_digest_v2)"
                )));
            }
            return Ok(None);
        }
        let Some(authority) = arrival.authority else {
            return Err(Status::unauthenticated(
                "a v2 signature binds the endpoint dialled, and this request has no :authority",
            ));
        };
        let dialled = Dialled::from_authority(authority.as_str())
            .map_err(|e| Status::unauthenticated(format!("v2 signature: {e}")))?;
        if !is_own(&self.config, &dialled, arrival.local) {
            return Err(Status::unauthenticated(format!(
                "the request was sent to {dialled} (its :authority, which its v2 signature \
                 binds), which is not this axon's endpoint (its connection reached {}{}): a \
                 request meant for another axon is not served here",
                arrival
                    .local
                    .map_or_else(|| "an unknown address".to_owned(), |a| a.to_string()),
                self.published()
            )));
        }
        Ok(Some(dialled))
    }

    /// `, published as host[:port]` when something is published, for refusals.
    fn published(&self) -> String {
        match (&self.config.external_host, self.config.external_port) {
            (None, None) => String::new(),
            (Some(h), Some(p)) => format!(", published as {h} port {p}"),
            (Some(h), None) => format!(", published as {h}"),
            (None, Some(p)) => format!(", published port {p}"),
        }
    }
}

/// Whether `dialled` is an endpoint of the axon configured as `cfg` whose connection's local
/// address is `local`.
fn is_own(cfg: &AxonConfig, dialled: &Dialled, local: Option<SocketAddr>) -> bool {
    let port = dialled.port();
    let port_ok = local.is_some_and(|l| l.port() == port) || cfg.external_port == Some(port);
    if !port_ok {
        return false;
    }
    let local_ip = local.map(|l| l.ip().to_canonical());
    let external = cfg
        .external_host
        .as_deref()
        .and_then(|h| Dialled::new(h, port).ok());
    match dialled.ip() {
        Some(ip) => local_ip == Some(ip) || external.as_ref().and_then(Dialled::ip) == Some(ip),
        // A name: the published one, or `localhost` on a loopback connection (which only this
        // machine can open).
        None => {
            external.is_some_and(|e| e.host() == dialled.host())
                || (dialled.host() == "localhost" && local_ip.is_some_and(|ip| ip.is_loopback()))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(host: &str, port: u16) -> Dialled {
        Dialled::new(host, port).unwrap()
    }

    #[test]
    fn own_endpoints_are_the_local_address_and_the_published_ones() {
        let local = Some(SocketAddr::from(([10, 0, 0, 5], 8091)));
        let plain = AxonConfig::default();
        assert!(is_own(&plain, &at("10.0.0.5", 8091), local));
        assert!(!is_own(&plain, &at("10.0.0.6", 8091), local));
        assert!(!is_own(&plain, &at("10.0.0.5", 8092), local));
        assert!(!is_own(&plain, &at("10.0.0.5", 8091), None));
        assert!(!is_own(&plain, &at("localhost", 8091), local));

        let published = AxonConfig {
            external_host: Some("203.0.113.7".into()),
            external_port: Some(443),
            ..AxonConfig::default()
        };
        for (host, port) in [
            ("203.0.113.7", 443),
            ("203.0.113.7", 8091),
            ("10.0.0.5", 443),
        ] {
            assert!(is_own(&published, &at(host, port), local), "{host}:{port}");
        }
        assert!(!is_own(&published, &at("203.0.113.8", 443), local));

        let named = AxonConfig {
            external_host: Some("Miner.Example".into()),
            ..AxonConfig::default()
        };
        assert!(is_own(&named, &at("miner.example", 8091), local));
        assert!(!is_own(&named, &at("other.example", 8091), local));

        // A dual-stack socket sees IPv4 callers as IPv4-mapped addresses.
        let mapped = Some(SocketAddr::new("::ffff:127.0.0.1".parse().unwrap(), 9));
        assert!(is_own(&plain, &at("127.0.0.1", 9), mapped));
        assert!(is_own(&plain, &at("localhost", 9), mapped));
    }
}
