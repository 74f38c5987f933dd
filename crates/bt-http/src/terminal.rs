//! `TerminalInfo`: what each end of a call says about itself (status, timing, address, identity),
//! carried in the JSON body as `dendrite` / `axon` and echoed in `bt_header_<side>_<field>`
//! headers.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::pyrepr::repr_float;

/// One terminal's information, every field optional as in the SDK. Numbers arrive as JSON
/// numbers in bodies and as decimal strings in headers; both are accepted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TerminalInfo {
    #[serde(deserialize_with = "crate::lenient::int")]
    pub status_code: Option<i64>,
    pub status_message: Option<String>,
    #[serde(deserialize_with = "crate::lenient::float")]
    pub process_time: Option<f64>,
    pub ip: Option<String>,
    #[serde(deserialize_with = "crate::lenient::int")]
    pub port: Option<i64>,
    #[serde(deserialize_with = "crate::lenient::int")]
    pub version: Option<i64>,
    #[serde(deserialize_with = "crate::lenient::int")]
    pub nonce: Option<i64>,
    pub uuid: Option<String>,
    pub hotkey: Option<String>,
    pub signature: Option<String>,
}

/// Our version as a terminal reports it, in the SDK's encoding: major·1e6 + minor·1e3 + patch.
pub fn version_as_int() -> i64 {
    let mut parts = env!("CARGO_PKG_VERSION")
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    let (major, minor, patch) = (next(), next(), next());
    major * 1_000_000 + minor * 1_000 + patch
}

/// A random version-4 UUID in its usual text form: a terminal's `uuid` (the SDK keys its
/// per-dendrite state on it).
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The SDK's field order, which is also the order of its headers.
pub const TERMINAL_FIELDS: [&str; 10] = [
    "status_code",
    "status_message",
    "process_time",
    "ip",
    "port",
    "version",
    "nonce",
    "uuid",
    "hotkey",
    "signature",
];

impl TerminalInfo {
    /// `(field, str(value))` for every field that is set, as the SDK's `to_headers` emits them.
    pub fn header_values(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let int = |v: i64| v.to_string();
        if let Some(v) = self.status_code {
            out.push(("status_code", int(v)));
        }
        if let Some(v) = &self.status_message {
            out.push(("status_message", v.clone()));
        }
        if let Some(v) = self.process_time {
            let mut s = String::new();
            repr_float(v, &mut s);
            out.push(("process_time", s));
        }
        if let Some(v) = &self.ip {
            out.push(("ip", v.clone()));
        }
        if let Some(v) = self.port {
            out.push(("port", int(v)));
        }
        if let Some(v) = self.version {
            out.push(("version", int(v)));
        }
        if let Some(v) = self.nonce {
            out.push(("nonce", int(v)));
        }
        if let Some(v) = &self.uuid {
            out.push(("uuid", v.clone()));
        }
        if let Some(v) = &self.hotkey {
            out.push(("hotkey", v.clone()));
        }
        if let Some(v) = &self.signature {
            out.push(("signature", v.clone()));
        }
        out
    }

    /// Writes the fields that are set as header values under `names` (in [`TERMINAL_FIELDS`]
    /// order), with the same text as [`Self::header_values`].
    pub(crate) fn write_headers(
        &self,
        names: &[http::HeaderName; 10],
        put: &mut impl FnMut(
            &http::HeaderName,
            Result<http::HeaderValue, http::header::InvalidHeaderValue>,
        ),
    ) {
        use http::HeaderValue;
        let int = |v: i64| Ok(HeaderValue::from(v));
        let text = |v: &str| HeaderValue::from_str(v);
        if let Some(v) = self.status_code {
            put(&names[0], int(v));
        }
        if let Some(v) = &self.status_message {
            put(&names[1], text(v));
        }
        if let Some(v) = self.process_time {
            let mut s = String::new();
            repr_float(v, &mut s);
            put(&names[2], HeaderValue::try_from(s));
        }
        if let Some(v) = &self.ip {
            put(&names[3], text(v));
        }
        if let Some(v) = self.port {
            put(&names[4], int(v));
        }
        if let Some(v) = self.version {
            put(&names[5], int(v));
        }
        if let Some(v) = self.nonce {
            put(&names[6], int(v));
        }
        if let Some(v) = &self.uuid {
            put(&names[7], text(v));
        }
        if let Some(v) = &self.hotkey {
            put(&names[8], text(v));
        }
        if let Some(v) = &self.signature {
            put(&names[9], text(v));
        }
    }

    /// Set one field from its header text; `Err` names what is wrong with the value.
    pub fn set_from_header(&mut self, field: &str, value: &str) -> Result<(), String> {
        let int = |v: &str| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| format!("{field} {:?} is not an integer", crate::clip(v)))
        };
        match field {
            "status_code" => self.status_code = Some(int(value)?),
            "status_message" => self.status_message = Some(value.to_string()),
            "process_time" => {
                let t = value.trim().parse::<f64>().map_err(|_| {
                    format!("process_time {:?} is not a number", crate::clip(value))
                })?;
                self.process_time = Some(t);
            }
            "ip" => self.ip = Some(value.to_string()),
            "port" => self.port = Some(int(value)?),
            "version" => self.version = Some(int(value)?),
            "nonce" => self.nonce = Some(int(value)?),
            "uuid" => self.uuid = Some(value.to_string()),
            "hotkey" => self.hotkey = Some(value.to_string()),
            "signature" => self.signature = Some(value.to_string()),
            _ => {}
        }
        Ok(())
    }
}

/// Render for logs: `status message (process_time s)`.
impl std::fmt::Display for TerminalInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        if let Some(c) = self.status_code {
            let _ = write!(s, "{c}");
        }
        if let Some(m) = &self.status_message {
            let _ = write!(s, " {m}");
        }
        f.write_str(s.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_and_header_forms_agree() {
        let t: TerminalInfo = serde_json::from_str(
            r#"{"status_code":"200","process_time":"0.25","port":8091,"nonce":17,"ip":null}"#,
        )
        .unwrap();
        assert_eq!(t.status_code, Some(200));
        assert_eq!(t.process_time, Some(0.25));
        assert_eq!(t.port, Some(8091));
        let mut back = TerminalInfo::default();
        for (k, v) in t.header_values() {
            back.set_from_header(k, &v).unwrap();
        }
        assert_eq!(back, t);
        assert!(back.set_from_header("port", "eighty").is_err());
    }

    #[test]
    fn serializes_every_field_in_sdk_order() {
        let v = serde_json::to_value(TerminalInfo::default()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, TERMINAL_FIELDS);
    }
}
