//! Structural checks on untrusted synapse definitions and peer strings.
//!
//! These checks are cheap and run before any cryptography, so that garbage costs an attacker
//! more than it costs us. They are pure: the current time is an argument.

use std::fmt;
use std::net::IpAddr;

use bt_wire::Synapse;

/// Longest accepted `version` string.
pub const MAX_VERSION_LEN: usize = 32;
/// Longest accepted host (a DNS name is at most 253 characters).
pub const MAX_HOST_LEN: usize = 253;
/// Length of a key on the wire: `0x` + 64 lower-case hex digits.
pub const KEY_LEN: usize = 66;
/// Longest accepted heartbeat string (`u64::MAX` has 20 digits).
pub const MAX_HEARTBEAT_LEN: usize = 20;
/// Longest accepted proof-of-work field.
pub const MAX_POW_LEN: usize = 64;
/// Ed25519 signatures are exactly this long.
pub const SIGNATURE_LEN: usize = 64;

/// Why a synapse definition or a peer string was refused. Counted per reason by the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// `version` too long or not printable ASCII.
    BadVersion,
    /// `neuron_key` or `synapse_key` is not `0x` + 64 lower-case hex digits.
    BadKey,
    /// `address` is empty, too long, or neither an IP literal nor a host name.
    BadAddress,
    /// `port` is not a decimal integer in 1..=65535.
    BadPort,
    /// `block_hash` (the heartbeat) is not a decimal millisecond timestamp.
    BadHeartbeat,
    /// The heartbeat lies further in the future than the allowed clock skew.
    FromTheFuture,
    /// The heartbeat is older than the time to live: the definition is dead.
    Expired,
    /// Proof of work missing, malformed, or below the configured difficulty.
    BadProofOfWork,
    /// Signature missing, malformed, or not made by `neuron_key` over the definition.
    BadSignature,
    /// No `synapse_proof`: a definition from a node that predates synapse proofs. Refused,
    /// since it proves nothing about who holds the synapse key.
    Unproven,
    /// `synapse_proof` malformed, or not made by `synapse_key` over this neuron key and
    /// endpoint.
    BadSynapseProof,
    /// The table is full of live definitions: a newcomer never evicts one.
    TableFull,
    /// This neuron key already holds `max_synapses_per_neuron` definitions.
    TooManyPerNeuron,
    /// An entry of a batch too large to be a definition or a peer, or undecodable; skipped
    /// without decoding it.
    Malformed,
    /// A synapse key we hold (ours, or another neuron's) arrived under a different
    /// `neuron_key`.
    Impersonation,
    /// A peer string that is not `host:port` with a sane host and port.
    BadPeer,
    /// More synapses or peers in one batch than the limit; the excess is dropped.
    BatchTooLarge,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        f.write_str(&text)
    }
}

/// Checks a `0x` + 64 lower-case hex key (the form PROTOCOL.md fixes for both keys).
pub fn check_key(key: &str) -> Result<(), Rejection> {
    let ok = key.len() == KEY_LEN
        && key.starts_with("0x")
        && key[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok { Ok(()) } else { Err(Rejection::BadKey) }
}

/// Checks a host: an IP literal, or a DNS host name (letters, digits, `-`, `.`; labels of
/// 1..=63 characters that neither start nor end with `-`).
pub fn check_host(host: &str) -> Result<(), Rejection> {
    if host.is_empty() || host.len() > MAX_HOST_LEN {
        return Err(Rejection::BadAddress);
    }
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    // A name made only of digits and dots would be a malformed IPv4 address, not a host name.
    let all_numeric = host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !all_numeric && host.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(Rejection::BadAddress)
    }
}

/// Parses a port string strictly: decimal digits only, 1..=65535.
pub fn parse_port(port: &str) -> Result<u16, Rejection> {
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::BadPort);
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(Rejection::BadPort),
        Ok(p) => Ok(p),
    }
}

/// Encodes a heartbeat (milliseconds since the Unix epoch) for `Synapse.block_hash`.
pub fn encode_heartbeat(ms: u64) -> String {
    ms.to_string()
}

/// Decodes `Synapse.block_hash` as a heartbeat: decimal digits only, no sign, no spaces.
pub fn decode_heartbeat(block_hash: &str) -> Result<u64, Rejection> {
    if block_hash.is_empty()
        || block_hash.len() > MAX_HEARTBEAT_LEN
        || !block_hash.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Rejection::BadHeartbeat);
    }
    block_hash
        .parse::<u64>()
        .map_err(|_| Rejection::BadHeartbeat)
}

/// Limits the structural check needs, all in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct TimeLimits {
    /// How far ahead of our clock a heartbeat may be (clock skew between honest nodes).
    pub max_future_skew_ms: u64,
    /// Definitions whose heartbeat is older than this are dead on arrival.
    pub ttl_ms: u64,
}

/// Checks every field of a definition except work and signature; returns its heartbeat.
pub fn check_synapse(syn: &Synapse, now_ms: u64, limits: TimeLimits) -> Result<u64, Rejection> {
    if syn.version.len() > MAX_VERSION_LEN || !syn.version.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Rejection::BadVersion);
    }
    check_key(&syn.neuron_key)?;
    check_key(&syn.synapse_key)?;
    check_host(&syn.address)?;
    parse_port(&syn.port)?;
    if syn.proof_of_work.len() > MAX_POW_LEN {
        return Err(Rejection::BadProofOfWork);
    }
    if syn.signature.len() != SIGNATURE_LEN {
        return Err(Rejection::BadSignature);
    }
    if syn.synapse_proof.is_empty() {
        return Err(Rejection::Unproven);
    }
    if syn.synapse_proof.len() != SIGNATURE_LEN {
        return Err(Rejection::BadSynapseProof);
    }
    let heartbeat = decode_heartbeat(&syn.block_hash)?;
    if heartbeat > now_ms.saturating_add(limits.max_future_skew_ms) {
        return Err(Rejection::FromTheFuture);
    }
    if now_ms.saturating_sub(heartbeat) > limits.ttl_ms {
        return Err(Rejection::Expired);
    }
    Ok(heartbeat)
}

/// A validated metagraph peer address, kept in its canonical `host:port` text form
/// (`[v6]:port` for IPv6 literals).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerAddr(String);

impl PeerAddr {
    /// Parses `host:port` or `[ipv6]:port`; rejects garbage, port 0 and absurd lengths.
    pub fn parse(s: &str) -> Result<Self, Rejection> {
        if s.len() > MAX_HOST_LEN + 8 {
            return Err(Rejection::BadPeer);
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, p) = rest.split_once("]:").ok_or(Rejection::BadPeer)?;
            match h.parse::<IpAddr>() {
                Ok(IpAddr::V6(_)) => (h, p),
                _ => return Err(Rejection::BadPeer),
            }
        } else {
            let (h, p) = s.rsplit_once(':').ok_or(Rejection::BadPeer)?;
            if h.contains(':') {
                return Err(Rejection::BadPeer);
            }
            (h, p)
        };
        check_host(host).map_err(|_| Rejection::BadPeer)?;
        let port = parse_port(port).map_err(|_| Rejection::BadPeer)?;
        let canonical = match host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
            Ok(ip) => format!("{ip}:{port}"),
            Err(_) => format!("{}:{port}", host.to_ascii_lowercase()),
        };
        Ok(Self(canonical))
    }

    /// The canonical `host:port` text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host as an IP, when it is an IP literal (not a DNS name).
    pub fn ip(&self) -> Option<IpAddr> {
        let host = self.0.rsplit_once(':').map(|(h, _)| h)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        host.parse().ok()
    }
}

impl From<std::net::SocketAddr> for PeerAddr {
    fn from(addr: std::net::SocketAddr) -> Self {
        Self(addr.to_string())
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_strictly() {
        for good in [
            "127.0.0.1:8120",
            "node-1.example.org:9",
            "[::1]:80",
            "localhost:65535",
        ] {
            assert!(PeerAddr::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ":",
            "127.0.0.1",
            "127.0.0.1:0",
            "127.0.0.1:65536",
            "127.0.0.1:+80",
            "a b:1",
            "::1:80",
            "[1.2.3.4]:80",
            "-x.org:1",
            "999.1.1.1:5",
            "host:80:80",
            "h\u{0}:1",
        ] {
            assert_eq!(PeerAddr::parse(bad), Err(Rejection::BadPeer), "{bad:?}");
        }
        assert!(PeerAddr::parse(&format!("{}:1", "a".repeat(300))).is_err());
        assert_eq!(
            PeerAddr::parse("[::1]:80").map(|p| p.0),
            Ok("[::1]:80".to_owned())
        );
    }

    #[test]
    fn heartbeat_round_trips_and_rejects_garbage() {
        assert_eq!(
            decode_heartbeat(&encode_heartbeat(1_700_000_000_123)),
            Ok(1_700_000_000_123)
        );
        for bad in ["", "-1", "+5", " 5", "0x10", "99999999999999999999", "1.5"] {
            assert_eq!(
                decode_heartbeat(bad),
                Err(Rejection::BadHeartbeat),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn keys_and_ports() {
        assert!(check_key(&format!("0x{}", "ab".repeat(32))).is_ok());
        assert!(check_key(&format!("0x{}", "AB".repeat(32))).is_err());
        assert!(check_key(&format!("0x{}", "ab".repeat(31))).is_err());
        assert_eq!(parse_port("8080"), Ok(8080));
        assert!(parse_port("0").is_err() && parse_port("00080x").is_err());
        assert_eq!(Rejection::FromTheFuture.to_string(), "from_the_future");
    }
}
