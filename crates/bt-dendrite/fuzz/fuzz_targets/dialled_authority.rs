//! The `:authority` of a request reaches the axon from any client, and a v2 request digest binds
//! the endpoint parsed from it (`bt_crypto::Dialled`): arbitrary bytes never panic, whatever
//! parses is within the host bound and normalised, and its display parses back to itself (so
//! caller and axon cannot derive two spellings of one endpoint).
#![no_main]

use bt_crypto::{Dialled, MAX_HOST_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = Dialled::from_authority(text) {
        assert!(!d.host().is_empty() && d.host().len() <= MAX_HOST_BYTES);
        assert_eq!(d.host(), d.host().to_ascii_lowercase());
        assert_eq!(Dialled::from_authority(&d.to_string()).ok(), Some(d.clone()));
        assert_eq!(Dialled::new(d.host(), d.port()).ok(), Some(d));
    }
});
