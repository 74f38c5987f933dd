//! The SDK v10 headers of a synapse call: what a dendrite sends and an axon echoes.
//!
//! Header names are lower-case on the wire (HTTP/2 requires it; the SDK's aiohttp and
//! starlette treat them case-insensitively). Every value read here comes from a peer: values
//! are length-checked and parsed into typed fields, never trusted as-is.

use http::{HeaderMap, HeaderName, HeaderValue};

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

/// The header whose presence tells an answer that echoes the terminals (SDK axons always do;
/// ours unless asked not to, see [`TERMINALS_IN_BODY`]).
pub const AXON_STATUS_CODE: &str = "bt_header_axon_status_code";

/// Our axon's signature over its answer (see `bt_crypto::http_auth`); SDK peers ignore it.
pub const RESPONSE_SIGNATURE: &str = "x-bittensor-response-signature";

/// Request header of our dendrites: "read the answer's terminals from its body". Our axon then
/// leaves the ~20 `bt_header_*` echoes out of a successful JSON answer, whose body carries the
/// same terminals (the SDK writes both); SDK axons ignore the header, SDK dendrites never send
/// it, so every SDK peer still gets the headers it reads.
pub const TERMINALS_IN_BODY: &str = "bt-terminals-in-body";

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
            // HTTP libraries hand names over in lower case already: no copy then.
            let lower: std::borrow::Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                name.to_ascii_lowercase().into()
            } else {
                name.into()
            };
            let lower = lower.as_ref();
            let known = lower == NAME
                || lower == TIMEOUT
                || lower == COMPUTED_BODY_HASH
                || lower.starts_with(AXON_PREFIX)
                || lower.starts_with(DENDRITE_PREFIX);
            if !known {
                continue;
            }
            if raw.len() > MAX_VALUE_LEN && !lower.ends_with("status_message") {
                return Err(HeaderError::TooLong {
                    name: lower.to_string(),
                });
            }
            let value = std::str::from_utf8(raw).map_err(|_| HeaderError::NotAscii {
                name: lower.to_string(),
            })?;
            let invalid = |reason: String| HeaderError::Invalid {
                name: lower.to_string(),
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

/// The names of one terminal's headers, in [`TERMINAL_FIELDS`] order, built at compile time: a
/// name parsed per request costs a validation and a copy.
macro_rules! terminal_names {
    ($prefix:literal) => {
        [
            HeaderName::from_static(concat!($prefix, "status_code")),
            HeaderName::from_static(concat!($prefix, "status_message")),
            HeaderName::from_static(concat!($prefix, "process_time")),
            HeaderName::from_static(concat!($prefix, "ip")),
            HeaderName::from_static(concat!($prefix, "port")),
            HeaderName::from_static(concat!($prefix, "version")),
            HeaderName::from_static(concat!($prefix, "nonce")),
            HeaderName::from_static(concat!($prefix, "uuid")),
            HeaderName::from_static(concat!($prefix, "hotkey")),
            HeaderName::from_static(concat!($prefix, "signature")),
        ]
    };
}

static AXON_NAMES: [HeaderName; 10] = terminal_names!("bt_header_axon_");
static DENDRITE_NAMES: [HeaderName; 10] = terminal_names!("bt_header_dendrite_");
static NAME_NAME: HeaderName = HeaderName::from_static(NAME);
static TIMEOUT_NAME: HeaderName = HeaderName::from_static(TIMEOUT);
static HEADER_SIZE_NAME: HeaderName = HeaderName::from_static(HEADER_SIZE);
static TOTAL_SIZE_NAME: HeaderName = HeaderName::from_static(TOTAL_SIZE);
static BODY_HASH_NAME: HeaderName = HeaderName::from_static(COMPUTED_BODY_HASH);

/// Writes [`synapse_headers`] into `out` (same names, values and order), without a string per
/// name. A value that cannot be a header value (a control character in a message) is left
/// out; the name of the first such header is returned, for callers that must refuse.
pub fn write_synapse_headers(
    out: &mut HeaderMap,
    envelope: &Envelope,
    input_objs: &[(String, String)],
    body_hash: &str,
) -> Result<(), InvalidHeader> {
    let mut w = Writer {
        out,
        first_bad: None,
    };
    if let Some(name) = &envelope.name {
        w.put(&NAME_NAME, HeaderValue::from_str(name));
    }
    if let Some(t) = envelope.timeout {
        let mut s = String::new();
        crate::pyrepr::repr_float(t, &mut s);
        w.put(&TIMEOUT_NAME, HeaderValue::try_from(s));
    }
    for (names, info) in [
        (&AXON_NAMES, &envelope.axon),
        (&DENDRITE_NAMES, &envelope.dendrite),
    ] {
        if let Some(info) = info {
            info.write_headers(names, &mut |n, v| w.put(n, v));
        }
    }
    for (field, value) in input_objs {
        let name = format!("{INPUT_OBJ_PREFIX}{field}");
        match HeaderName::try_from(name.as_str()) {
            Ok(n) => w.put(&n, HeaderValue::from_str(value)),
            Err(_) => {
                w.first_bad.get_or_insert(name);
            }
        }
    }
    w.put(&HEADER_SIZE_NAME, Ok(HeaderValue::from_static("0")));
    w.put(&TOTAL_SIZE_NAME, Ok(HeaderValue::from_static("0")));
    w.put(&BODY_HASH_NAME, HeaderValue::from_str(body_hash));
    match w.first_bad {
        None => Ok(()),
        Some(name) => Err(InvalidHeader { name }),
    }
}

/// The headers our axon reads from a request (what a v10 signature or a session MAC covers,
/// the deadline, the caller's version for the hooks): `timeout`, the dendrite's `version`,
/// `nonce`, `uuid`, `hotkey` and `signature`, and `computed_body_hash`. The rest of
/// [`write_synapse_headers`] repeats what the body carries or what the axon knows itself (its
/// own address and hotkey); only SDK axons read it, so only a dendrite that knows the axon is
/// ours sends this set instead.
pub fn write_lean_request_headers(
    out: &mut HeaderMap,
    envelope: &Envelope,
    body_hash: &str,
) -> Result<(), InvalidHeader> {
    let mut w = Writer {
        out,
        first_bad: None,
    };
    if let Some(t) = envelope.timeout {
        let mut s = String::new();
        crate::pyrepr::repr_float(t, &mut s);
        w.put(&TIMEOUT_NAME, HeaderValue::try_from(s));
    }
    if let Some(d) = &envelope.dendrite {
        // Indices in `TERMINAL_FIELDS` order.
        if let Some(v) = d.version {
            w.put(&DENDRITE_NAMES[5], Ok(HeaderValue::from(v)));
        }
        if let Some(v) = d.nonce {
            w.put(&DENDRITE_NAMES[6], Ok(HeaderValue::from(v)));
        }
        if let Some(v) = &d.uuid {
            w.put(&DENDRITE_NAMES[7], HeaderValue::from_str(v));
        }
        if let Some(v) = &d.hotkey {
            w.put(&DENDRITE_NAMES[8], HeaderValue::from_str(v));
        }
        if let Some(v) = &d.signature {
            w.put(&DENDRITE_NAMES[9], HeaderValue::from_str(v));
        }
    }
    w.put(&BODY_HASH_NAME, HeaderValue::from_str(body_hash));
    match w.first_bad {
        None => Ok(()),
        Some(name) => Err(InvalidHeader { name }),
    }
}

struct Writer<'a> {
    out: &'a mut HeaderMap,
    first_bad: Option<String>,
}

impl Writer<'_> {
    fn put(
        &mut self,
        name: &HeaderName,
        value: Result<HeaderValue, http::header::InvalidHeaderValue>,
    ) {
        match value {
            Ok(v) => {
                self.out.insert(name, v);
            }
            Err(_) => {
                self.first_bad
                    .get_or_insert_with(|| name.as_str().to_string());
            }
        }
    }
}

/// A header [`write_synapse_headers`] could not write, by name.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("header {name} is not valid")]
pub struct InvalidHeader {
    pub name: String,
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
    fn a_lean_request_carries_only_what_our_axon_reads() {
        let envelope = Envelope {
            name: Some("Dummy".into()),
            timeout: Some(12.0),
            total_size: Some(0),
            header_size: Some(0),
            dendrite: Some(TerminalInfo {
                ip: Some("10.0.0.1".into()),
                version: Some(10_005_000),
                nonce: Some(17),
                uuid: Some("0c6f".into()),
                hotkey: Some("5Dend".into()),
                signature: Some("0xab".into()),
                ..TerminalInfo::default()
            }),
            axon: Some(TerminalInfo {
                hotkey: Some("5Fax".into()),
                port: Some(8091),
                ..TerminalInfo::default()
            }),
            computed_body_hash: None,
        };
        let mut full = HeaderMap::new();
        write_synapse_headers(&mut full, &envelope, &[], "a7ff").unwrap();
        let mut lean = HeaderMap::new();
        write_lean_request_headers(&mut lean, &envelope, "a7ff").unwrap();
        let names: Vec<&str> = lean.keys().map(HeaderName::as_str).collect();
        assert_eq!(
            names,
            [
                "timeout",
                "bt_header_dendrite_version",
                "bt_header_dendrite_nonce",
                "bt_header_dendrite_uuid",
                "bt_header_dendrite_hotkey",
                "bt_header_dendrite_signature",
                "computed_body_hash"
            ]
        );
        // Each value as the full set writes it: the axon parses both alike.
        for (name, value) in &lean {
            assert_eq!(full.get(name), Some(value), "{name}");
        }
        let parsed = SynapseHeaders::parse(lean.iter().map(|(k, v)| (k.as_str(), v.as_bytes())));
        let parsed = parsed.unwrap();
        assert_eq!(parsed.dendrite.nonce, Some(17));
        assert_eq!(parsed.timeout, Some(12.0));
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

    #[test]
    fn the_writer_agrees_with_the_list() {
        let terminal = TerminalInfo {
            status_code: Some(200),
            status_message: Some("Success".into()),
            process_time: Some(0.25),
            ip: Some("127.0.0.1".into()),
            port: Some(8091),
            version: Some(10_005_000),
            nonce: Some(17),
            uuid: Some("0c6f".into()),
            hotkey: Some("5Fax".into()),
            signature: Some("0xab".into()),
        };
        let envelope = Envelope {
            name: Some("Dummy".into()),
            timeout: Some(12.0),
            axon: Some(terminal.clone()),
            dendrite: Some(TerminalInfo {
                status_message: Some("bad\nline".into()),
                ..terminal
            }),
            ..Envelope::default()
        };
        let objs = [("dummy_input".to_string(), "MA==".to_string())];
        let mut map = HeaderMap::new();
        let bad = write_synapse_headers(&mut map, &envelope, &objs, "a7ff").unwrap_err();
        assert_eq!(bad.name, "bt_header_dendrite_status_message");
        let listed: Vec<(String, String)> = synapse_headers(&envelope, &objs, "a7ff")
            .into_iter()
            .filter(|(k, _)| k != &bad.name)
            .collect();
        let written: Vec<(String, String)> = map
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        assert_eq!(written.len(), listed.len());
        for pair in &listed {
            assert!(written.contains(pair), "{pair:?} missing from {written:?}");
        }
    }

    #[test]
    fn upper_case_names_are_read_too() {
        let h = SynapseHeaders::parse([("BT_HEADER_AXON_PORT", &b"8091"[..])]).unwrap();
        assert_eq!(h.axon.port, Some(8091));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(name in "[a-z_]{0,40}", value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = SynapseHeaders::parse([(name.as_str(), value.as_slice())]);
            let _ = SynapseHeaders::parse([(format!("bt_header_dendrite_{name}").as_str(), value.as_slice())]);
        }
    }
}
