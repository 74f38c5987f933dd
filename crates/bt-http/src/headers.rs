//! The SDK v10 headers of a synapse call: what a dendrite sends and an axon echoes.
//!
//! Header names are lower-case on the wire (HTTP/2 requires it; the SDK's aiohttp and
//! starlette treat them case-insensitively). Every value read here comes from a peer: values
//! are length-checked and parsed into typed fields, never trusted as-is.

use crate::message::Envelope;
use crate::terminal::{TERMINAL_FIELDS, TerminalInfo};

pub const NAME: &str = "name";
pub const TIMEOUT: &str = "timeout";
pub const COMPUTED_BODY_HASH: &str = "computed_body_hash";
pub const HEADER_SIZE: &str = "header_size";
pub const TOTAL_SIZE: &str = "total_size";
pub const AXON_PREFIX: &str = "bt_header_axon_";
pub const DENDRITE_PREFIX: &str = "bt_header_dendrite_";
pub const INPUT_OBJ_PREFIX: &str = "bt_header_input_obj_";

/// Our axon's signature over its answer (see `bt_crypto::http_auth`); SDK peers ignore it.
pub const RESPONSE_SIGNATURE: &str = "x-bittensor-response-signature";

/// Longest header value we parse: signatures are 130 characters, hotkeys 48, uuids 36.
pub const MAX_VALUE_LEN: usize = 256;

/// What went wrong in a header, naming it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HeaderError {
    #[error("header {name} is longer than {MAX_VALUE_LEN} bytes")]
    TooLong { name: String },
    #[error("header {name} is not visible ASCII")]
    NotAscii { name: String },
    #[error("header {name}: {reason}")]
    Invalid { name: String, reason: String },
}

/// The envelope as the headers state it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SynapseHeaders {
    pub name: Option<String>,
    pub timeout: Option<f64>,
    pub computed_body_hash: Option<String>,
    pub dendrite: TerminalInfo,
    pub axon: TerminalInfo,
}

impl SynapseHeaders {
    /// Read from `(name, value)` pairs; names compared case-insensitively, unknown names
    /// ignored (as the SDK does), known ones validated.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, HeaderError> {
        let mut out = Self::default();
        for (name, raw) in pairs {
            let lower = name.to_ascii_lowercase();
            let known = lower == NAME
                || lower == TIMEOUT
                || lower == COMPUTED_BODY_HASH
                || lower.starts_with(AXON_PREFIX)
                || lower.starts_with(DENDRITE_PREFIX);
            if !known {
                continue;
            }
            if raw.len() > MAX_VALUE_LEN && !lower.ends_with("status_message") {
                return Err(HeaderError::TooLong { name: lower });
            }
            let value = std::str::from_utf8(raw).map_err(|_| HeaderError::NotAscii {
                name: lower.clone(),
            })?;
            let invalid = |reason: String| HeaderError::Invalid {
                name: lower.clone(),
                reason,
            };
            if lower == NAME {
                out.name = Some(value.to_string());
            } else if lower == TIMEOUT {
                let t: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid(format!("{:?} is not a number", crate::clip(value))))?;
                if !t.is_finite() || t < 0.0 {
                    return Err(invalid(format!("{t} is not a duration")));
                }
                out.timeout = Some(t);
            } else if lower == COMPUTED_BODY_HASH {
                out.computed_body_hash = Some(value.to_string());
            } else if let Some(field) = lower.strip_prefix(AXON_PREFIX) {
                if TERMINAL_FIELDS.contains(&field) {
                    out.axon.set_from_header(field, value).map_err(invalid)?;
                }
            } else if let Some(field) = lower.strip_prefix(DENDRITE_PREFIX)
                && TERMINAL_FIELDS.contains(&field)
            {
                out.dendrite
                    .set_from_header(field, value)
                    .map_err(invalid)?;
            }
        }
        Ok(out)
    }
}

/// The headers the SDK's `to_headers()` produces for a synapse, in its order: name, timeout,
/// the axon's and the dendrite's terminal fields, the input objects, the two sizes and the body
/// hash. The sizes are meaningless to every implementation and sent as `0`.
pub fn synapse_headers(
    envelope: &Envelope,
    input_objs: &[(String, String)],
    body_hash: &str,
) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(24);
    if let Some(name) = &envelope.name {
        out.push((NAME.to_string(), name.clone()));
    }
    if let Some(t) = envelope.timeout {
        let mut s = String::new();
        crate::pyrepr::repr_float(t, &mut s);
        out.push((TIMEOUT.to_string(), s));
    }
    for (prefix, info) in [
        (AXON_PREFIX, &envelope.axon),
        (DENDRITE_PREFIX, &envelope.dendrite),
    ] {
        if let Some(info) = info {
            for (k, v) in info.header_values() {
                out.push((format!("{prefix}{k}"), v));
            }
        }
    }
    for (field, value) in input_objs {
        out.push((format!("{INPUT_OBJ_PREFIX}{field}"), value.clone()));
    }
    out.push((HEADER_SIZE.to_string(), "0".to_string()));
    out.push((TOTAL_SIZE.to_string(), "0".to_string()));
    out.push((COMPUTED_BODY_HASH.to_string(), body_hash.to_string()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_sdk_sends() {
        let pairs: Vec<(&str, &[u8])> = vec![
            ("name", b"Dummy"),
            ("timeout", b"12.0"),
            ("bt_header_axon_hotkey", b"5Fax"),
            ("BT_HEADER_DENDRITE_NONCE", b"1733450000000000000"),
            ("bt_header_dendrite_version", b"10005000"),
            ("bt_header_dendrite_uuid", b"0c6f"),
            ("bt_header_input_obj_dummy_input", b"MA=="),
            ("computed_body_hash", b"a7ff"),
            ("x-other", b"whatever"),
        ];
        let h = SynapseHeaders::parse(pairs).unwrap();
        assert_eq!(h.name.as_deref(), Some("Dummy"));
        assert_eq!(h.timeout, Some(12.0));
        assert_eq!(h.dendrite.nonce, Some(1_733_450_000_000_000_000));
        assert_eq!(h.dendrite.version, Some(10_005_000));
        assert_eq!(h.axon.hotkey.as_deref(), Some("5Fax"));
        assert_eq!(h.computed_body_hash.as_deref(), Some("a7ff"));
    }

    #[test]
    fn refuses_bad_values() {
        let one = |n: &'static str, v: &'static [u8]| SynapseHeaders::parse([(n, v)]);
        assert!(matches!(
            one("timeout", b"soon"),
            Err(HeaderError::Invalid { .. })
        ));
        assert!(matches!(
            one("timeout", b"-1"),
            Err(HeaderError::Invalid { .. })
        ));
        assert!(matches!(
            one("timeout", b"inf"),
            Err(HeaderError::Invalid { .. })
        ));
        assert!(matches!(
            one("bt_header_dendrite_nonce", b"12a"),
            Err(HeaderError::Invalid { .. })
        ));
        assert!(matches!(
            one("bt_header_dendrite_signature", &[b'a'; 300]),
            Err(HeaderError::TooLong { .. })
        ));
        assert!(matches!(
            one("bt_header_dendrite_hotkey", b"\xff\xfe"),
            Err(HeaderError::NotAscii { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(name in "[a-z_]{0,40}", value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = SynapseHeaders::parse([(name.as_str(), value.as_slice())]);
            let _ = SynapseHeaders::parse([(format!("bt_header_dendrite_{name}").as_str(), value.as_slice())]);
        }
    }
}
