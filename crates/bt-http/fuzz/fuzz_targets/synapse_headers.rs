//! Untrusted header name/value pairs → `SynapseHeaders::parse`. Nothing may panic; a deadline it
//! accepts must be usable as one, and what it accepts must survive being echoed back as headers.
#![no_main]

use bt_http::Envelope;
use bt_http::headers::{SynapseHeaders, synapse_headers};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|pairs: Vec<(String, Vec<u8>)>| {
    let Ok(parsed) = SynapseHeaders::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
    else {
        return;
    };
    if let Some(t) = parsed.timeout {
        assert!(t.is_finite() && t >= 0.0, "accepted timeout {t}");
    }
    // The axon echoes what it parsed in its answer's headers.
    let envelope = Envelope {
        name: parsed.name.clone(),
        timeout: parsed.timeout,
        dendrite: Some(parsed.dendrite.clone()),
        axon: Some(parsed.axon.clone()),
        ..Envelope::default()
    };
    let hash = parsed.computed_body_hash.clone().unwrap_or_default();
    let echoed = synapse_headers(&envelope, &[], &hash);
    let _ = SynapseHeaders::parse(echoed.iter().map(|(k, v)| (k.as_str(), v.as_bytes())));
});
