//! Built-in synapses, wire-compatible with the Python classes of the same name.
//!
//! - [`Dummy`]: the subnet template's (`dummy_input: int` → `dummy_output: Optional[int]`).
//! - [`Prompting`]: a chat prompt (`roles`, `messages` → `completion`), `messages` hashed.
//! - [`StreamPrompting`]: `Prompting` answered as a stream of text chunks.
//! - [`TensorForward`]: a `bt.Tensor` in, a `bt.Tensor` out, the input hashed. Its tensor
//!   fields are optional because the SDK cannot send a required `bt.Tensor` field: its dendrite
//!   puts `{}` in the `bt_header_input_obj_*` header and its axon then fails to validate it.

use crate::http_synapse;
use crate::sdk_tensor::SdkTensor;

http_synapse! {
    /// The subnet template's synapse; a reference miner answers `2 × dummy_input`.
    pub struct Dummy {
        request { dummy_input: i64 }
        optional {}
        response { dummy_output: Option<i64> }
        hash []
        deserialize(self) -> Option<i64> { self.dummy_output }
    }
}

http_synapse! {
    /// A chat prompt: parallel lists of roles and messages; the miner fills `completion`.
    pub struct Prompting {
        request { roles: Vec<String>, messages: Vec<String> }
        optional {}
        response { completion: String }
        hash [messages]
        deserialize(self) -> String { self.completion }
    }
}

http_synapse! {
    /// A tensor query: `inputs` in, `outputs` back, both as the SDK's `bt.Tensor` JSON.
    pub struct TensorForward {
        request {}
        optional { inputs: Option<SdkTensor> }
        response { outputs: Option<SdkTensor> }
        hash [inputs]
        deserialize(self) -> Option<SdkTensor> { self.outputs }
    }
}

http_synapse! {
    /// A chat prompt answered as a stream of text chunks (the SDK's `StreamingSynapse`, as the
    /// text-prompting subnets use it): the chunks, concatenated, are the `completion`.
    pub struct StreamPrompting {
        request { roles: Vec<String>, messages: Vec<String> }
        optional {}
        response { completion: String }
        hash [messages]
        deserialize(self) -> String { self.completion }
    }
}

/// Every built-in synapse name, for help texts and `--name` validation.
pub const BUILTIN_NAMES: [&str; 4] = ["Dummy", "Prompting", "TensorForward", "StreamPrompting"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BodyError, Envelope, SynapseMessage, TypedSynapse};

    #[test]
    fn dummy_body_matches_the_sdk_layout() {
        let d = Dummy {
            dummy_input: 21,
            dummy_output: None,
        };
        let env = Envelope {
            name: Some("Dummy".into()),
            timeout: Some(12.0),
            ..Envelope::default()
        };
        let body = String::from_utf8(d.to_body(&env).unwrap()).unwrap();
        assert!(
            body.starts_with(r#"{"name":"Dummy","timeout":12.0,"total_size":null,"header_size":null,"dendrite":{"status_code":null"#),
            "{body}"
        );
        assert!(
            body.ends_with(r#""computed_body_hash":null,"dummy_input":21,"dummy_output":null}"#),
            "{body}"
        );
        let (back, env2) = Dummy::parse_request(body.as_bytes()).unwrap();
        assert_eq!(back, d);
        assert_eq!(env2.name.as_deref(), Some("Dummy"));
        assert_eq!(
            d.input_obj_headers(),
            vec![("dummy_input".to_string(), "MA==".to_string())]
        );
        assert_eq!(d.body_hash(), crate::empty_body_hash());
    }

    // Same object as the SDK's `P(roles=['user'], messages=['hi'])` with
    // `required_hash_fields = ('messages',)`: its `body_hash` and `to_headers()`.
    #[test]
    fn prompting_hash_and_headers_match_the_sdk() {
        let p = Prompting {
            roles: vec!["user".into()],
            messages: vec!["hi".into()],
            completion: String::new(),
        };
        assert_eq!(
            p.body_hash(),
            "e0e37eb7f2cc8e8cd1d99053c97a43fd5c2a67c7ca30a7d233e535ac480d4848"
        );
        assert_eq!(
            p.input_obj_headers(),
            vec![
                ("roles".to_string(), "W10=".to_string()),
                ("messages".to_string(), "W10=".to_string())
            ]
        );
    }

    #[test]
    fn bad_bodies_name_the_problem() {
        let err = |b: &str| Dummy::parse_request(b.as_bytes()).unwrap_err();
        assert!(matches!(err("{"), BodyError::Syntax(_)));
        assert!(matches!(err("{}"), BodyError::MissingField("dummy_input")));
        let e = err(r#"{"dummy_input":"x"}"#);
        assert!(
            matches!(e, BodyError::Shape(_))
                && e.to_string().contains("field `dummy_input`: invalid type")
                && e.to_string().contains("expected i64"),
            "{e}"
        );
        let e = err(r#"{"dummy_input":1,"evil":2}"#);
        assert!(e.to_string().contains("unknown field `evil`"), "{e}");
        let e = err(r#"{"dummy_input":1,"dummy_input":2}"#);
        assert!(
            e.to_string().contains("duplicate field `dummy_input`"),
            "{e}"
        );
        assert!(matches!(err("[1]"), BodyError::Shape(_)));
        let e = err(r#"{"dummy_input":1,"dendrite":5}"#);
        assert!(e.to_string().contains("field `dendrite`"), "{e}");
        // The envelope's hash-field list is read and ignored, whatever it says.
        let (d, _) =
            Dummy::parse_request(br#"{"dummy_input":1,"required_hash_fields":["x"]}"#).unwrap();
        assert_eq!(d.dummy_input, 1);
    }

    #[test]
    fn a_response_cannot_rewrite_the_request() {
        let mut p = Prompting {
            roles: vec!["user".into()],
            messages: vec!["hi".into()],
            completion: String::new(),
        };
        p.merge_response(br#"{"roles":["x"],"messages":["evil"],"completion":"hello","axon":{"status_code":200}}"#)
            .unwrap();
        assert_eq!(p.messages, vec!["hi"]);
        assert_eq!(p.completion, "hello");
    }
}
