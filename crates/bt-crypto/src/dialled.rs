//! The endpoint a caller dialled, as the v2 request digest binds it (`docs/protocol.md`,
//! "Request digest v2").
//!
//! Both ends must derive the same bytes: the caller from the address and port it dials, the
//! axon from the request's HTTP/2 `:authority`. So the host is normalised the same way on both:
//! IPv6 brackets removed and ASCII lower-cased (host names and IPv6 hex digits are
//! case-insensitive, and an HTTP stack may change their case).

use std::fmt;
use std::net::IpAddr;

use crate::CryptoError;
use crate::error::clip;

/// Longest host bound: a DNS name is at most 253 characters, an IPv6 literal with a zone far
/// less.
pub const MAX_HOST_BYTES: usize = 255;

/// A host (IP literal or name, normalised) and port that a caller dialled.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dialled {
    host: String,
    port: u16,
}

impl Dialled {
    /// `host` as a caller has it (`10.0.0.1`, `::1`, `[::1]`, `Miner.example`) and `port`.
    /// Refuses what no URI authority can carry: an empty or over-long host, or a character
    /// outside letters, digits and `.-:_%`.
    pub fn new(host: &str, port: u16) -> Result<Self, CryptoError> {
        let bad = |reason| CryptoError::BadEndpoint {
            value: clip(host),
            reason,
        };
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if bare.is_empty() {
            return Err(bad("empty host"));
        }
        if bare.len() > MAX_HOST_BYTES {
            return Err(bad("host longer than 255 bytes"));
        }
        if !bare
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:_%".contains(&b))
        {
            return Err(bad("host has a character no URI authority carries"));
        }
        Ok(Self {
            host: bare.to_ascii_lowercase(),
            port,
        })
    }

    /// From an HTTP/2 `:authority` (`host:port`, `[v6]:port`; any `userinfo@` ignored). The
    /// port must be there: callers of this protocol always send it.
    pub fn from_authority(authority: &str) -> Result<Self, CryptoError> {
        let bad = |reason| CryptoError::BadEndpoint {
            value: clip(authority),
            reason,
        };
        let host_port = authority.rsplit('@').next().unwrap_or(authority);
        let (host, port) = host_port
            .rsplit_once(':')
            .ok_or_else(|| bad("no port in the authority"))?;
        // `::1` without brackets would split inside the address.
        if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
            return Err(bad("an IPv6 host must be bracketed"));
        }
        let port = port.parse().map_err(|_| bad("the port is not a number"))?;
        Self::new(host, port)
    }

    /// The normalised host: what the digest binds.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host as an IP address when it is one (an IPv4-mapped IPv6 address as IPv4).
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
    }
}

impl fmt::Display for Dialled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Any host with a colon (an IPv6 literal, with or without a zone) is bracketed, as in
        // a URI, so that the display parses back.
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_and_authority_forms_normalise_alike() {
        let pairs = [
            (("10.0.0.1", 8091), "10.0.0.1:8091"),
            (("::1", 1), "[::1]:1"),
            (("[::1]", 1), "[::1]:1"),
            (("Miner.Example", 443), "miner.example:443"),
            (("FE80::A", 9), "user@[fe80::a]:9"),
        ];
        for ((host, port), authority) in pairs {
            let from_caller = Dialled::new(host, port).unwrap();
            assert_eq!(
                from_caller,
                Dialled::from_authority(authority).unwrap(),
                "{host}"
            );
            assert_eq!(
                Dialled::from_authority(&from_caller.to_string()).unwrap(),
                from_caller
            );
        }
        assert_eq!(
            Dialled::new("::ffff:127.0.0.1", 1).unwrap().ip(),
            Some(IpAddr::from([127, 0, 0, 1]))
        );
        assert_eq!(Dialled::new("miner.example", 1).unwrap().ip(), None);
    }

    #[test]
    fn hosts_no_authority_carries_are_refused() {
        for host in ["", "[]", "a b", "a/b", "a\u{e9}", &"a".repeat(256)] {
            assert!(Dialled::new(host, 1).is_err(), "{host:?}");
        }
        for authority in ["host", "::1:80", "[::1]", "h:port", "h:65536", ":80"] {
            assert!(Dialled::from_authority(authority).is_err(), "{authority:?}");
        }
    }
}
