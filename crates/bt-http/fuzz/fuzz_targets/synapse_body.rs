//! Untrusted bytes → each built-in synapse's request parser, and → `merge_response` of a typed
//! and a dynamic synapse. Nothing may panic; a request that parses must serialize and parse back
//! to the same synapse, and a response may never change a request field.
#![no_main]

use bt_http::builtin::{Dummy, Prompting, TensorForward};
use bt_http::{DynSynapse, SynapseMessage, TypedSynapse};
use libfuzzer_sys::fuzz_target;

fn round_trip<T: TypedSynapse + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let Ok((synapse, envelope)) = T::parse_request(data) else {
        return;
    };
    let body = synapse
        .to_body(&envelope)
        .expect("a parsed synapse serializes");
    let (back, _) = T::parse_request(&body).expect("own output parses");
    assert_eq!(back, synapse);
    let _ = synapse.body_hash();
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Dummy>(data);
    round_trip::<Prompting>(data);
    round_trip::<TensorForward>(data);

    let mut prompt = Prompting {
        roles: vec!["user".into()],
        messages: vec!["hi".into()],
        completion: String::new(),
    };
    let before = prompt.clone();
    if prompt.merge_response(data).is_ok() {
        assert_eq!(prompt.messages, before.messages);
        assert_eq!(prompt.roles, before.roles);
    }

    let body = serde_json::json!({"text": "hi", "n": 1});
    let mut dynamic =
        DynSynapse::new("Echo", vec!["text".into()], body).expect("a valid dynamic synapse");
    let hash = dynamic.body_hash();
    if dynamic.merge_response(data).is_ok() {
        assert_eq!(
            dynamic.body_hash(),
            hash,
            "a response rewrote a hashed field"
        );
    }
});
