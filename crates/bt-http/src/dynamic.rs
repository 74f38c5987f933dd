//! A synapse known only by its name, hashed fields and JSON: what the command line sends to a
//! synapse defined in Python, with no Rust type for it.

use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::message::{ENVELOPE_FIELDS, Envelope, SynapseField, SynapseMessage, b64};
use crate::{BodyError, BodyHasher};

/// A synapse as a JSON object. Its request fields are the object's fields; after a call, the
/// answer's fields are merged in, except the hashed ones (the signed request cannot be
/// rewritten by the server).
#[derive(Clone, Debug, PartialEq)]
pub struct DynSynapse {
    name: String,
    hash_fields: Vec<String>,
    fields: Map<String, Value>,
}

/// Why a dynamic synapse cannot be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DynSynapseError {
    #[error(
        "synapse name {0:?} must be a Python class name: letters, digits and '_', not starting with a digit"
    )]
    BadName(String),
    #[error("the body must be a JSON object of the synapse's fields")]
    NotAnObject,
    #[error("hash field {0:?} is not in the body")]
    MissingHashField(String),
    #[error("field {0:?} is part of every synapse's envelope and cannot be set in the body")]
    EnvelopeField(String),
}

impl DynSynapse {
    pub fn new(name: &str, hash_fields: Vec<String>, body: Value) -> Result<Self, DynSynapseError> {
        let valid_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.len() <= 128
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(DynSynapseError::BadName(crate::clip(name)));
        }
        let Value::Object(fields) = body else {
            return Err(DynSynapseError::NotAnObject);
        };
        if let Some(k) = fields
            .keys()
            .find(|k| ENVELOPE_FIELDS.contains(&k.as_str()))
        {
            return Err(DynSynapseError::EnvelopeField(k.clone()));
        }
        if let Some(h) = hash_fields
            .iter()
            .find(|h| !fields.contains_key(h.as_str()))
        {
            return Err(DynSynapseError::MissingHashField(h.clone()));
        }
        Ok(Self {
            name: name.to_string(),
            hash_fields,
            fields,
        })
    }

    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    pub fn into_fields(self) -> Map<String, Value> {
        self.fields
    }
}

impl SynapseMessage for DynSynapse {
    fn name(&self) -> &str {
        &self.name
    }

    fn body_hash(&self) -> String {
        let mut h = BodyHasher::default();
        for f in &self.hash_fields {
            h.field(self.fields.get(f).unwrap_or(&Value::Null));
        }
        h.finish()
    }

    fn input_obj_headers(&self) -> Vec<(String, String)> {
        // Without the Python class we cannot tell required fields from optional ones; the SDK's
        // axon ignores headers for fields it does not require, so every field is sent.
        self.fields
            .iter()
            .filter_map(|(k, v)| v.zero_json().map(|z| (k.clone(), b64(z))))
            .collect()
    }

    fn to_body(&self, envelope: &Envelope) -> Result<Vec<u8>, BodyError> {
        let mut buf = Vec::new();
        let mut ser = serde_json::Serializer::new(&mut buf);
        let mut write = || {
            let mut m = (&mut ser).serialize_map(None)?;
            envelope.write_entries(&mut m)?;
            for (k, v) in &self.fields {
                m.serialize_entry(k, v)?;
            }
            m.end()
        };
        write().map_err(BodyError::Encode)?;
        Ok(buf)
    }

    fn merge_response(&mut self, body: &[u8]) -> Result<Envelope, BodyError> {
        let answer: Map<String, Value> =
            serde_json::from_slice(body).map_err(BodyError::from_json)?;
        let mut envelope = Envelope::default();
        for (k, v) in answer {
            match k.as_str() {
                "name" => envelope.name = v.as_str().map(str::to_string),
                "timeout" => envelope.timeout = v.as_f64(),
                "dendrite" => envelope.dendrite = serde_json::from_value(v).ok(),
                "axon" => envelope.axon = serde_json::from_value(v).ok(),
                "computed_body_hash" => {
                    envelope.computed_body_hash = v.as_str().map(str::to_string)
                }
                "total_size" | "header_size" | "required_hash_fields" => {}
                _ if self.hash_fields.contains(&k) => {}
                _ => {
                    self.fields.insert(k, v);
                }
            }
        }
        Ok(envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_the_typed_prompting() {
        let d = DynSynapse::new(
            "Prompting",
            vec!["messages".into()],
            json!({"roles": ["user"], "messages": ["hi"]}),
        )
        .unwrap();
        assert_eq!(
            d.body_hash(),
            "e0e37eb7f2cc8e8cd1d99053c97a43fd5c2a67c7ca30a7d233e535ac480d4848"
        );
        let body = d.to_body(&Envelope::default()).unwrap();
        let (typed, _) =
            <crate::builtin::Prompting as crate::TypedSynapse>::parse_request(&body).unwrap();
        assert_eq!(typed.messages, vec!["hi"]);
    }

    #[test]
    fn refuses_bad_definitions() {
        assert!(matches!(
            DynSynapse::new("1x", vec![], json!({})),
            Err(DynSynapseError::BadName(_))
        ));
        assert!(matches!(
            DynSynapse::new("X/../y", vec![], json!({})),
            Err(DynSynapseError::BadName(_))
        ));
        assert_eq!(
            DynSynapse::new("X", vec![], json!([1])),
            Err(DynSynapseError::NotAnObject)
        );
        assert_eq!(
            DynSynapse::new("X", vec!["m".into()], json!({})),
            Err(DynSynapseError::MissingHashField("m".into()))
        );
        assert_eq!(
            DynSynapse::new("X", vec![], json!({"timeout": 3})),
            Err(DynSynapseError::EnvelopeField("timeout".into()))
        );
    }

    #[test]
    fn merge_keeps_hashed_fields() {
        let mut d = DynSynapse::new("P", vec!["m".into()], json!({"m": ["a"], "r": 1})).unwrap();
        let env = d
            .merge_response(br#"{"m":["evil"],"c":"done","axon":{"status_code":"200"}}"#)
            .unwrap();
        assert_eq!(d.fields()["m"], json!(["a"]));
        assert_eq!(d.fields()["c"], json!("done"));
        assert_eq!(env.axon.unwrap().status_code, Some(200));
    }
}
