//! The transaction decoder on arbitrary bytes: it must never panic, and whatever it accepts
//! must re-encode to exactly the input (the encoding is canonical) and hash consistently.
#![no_main]

use bt_chain::SignedTx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = SignedTx::decode(data) {
        assert_eq!(tx.encode(), data, "decode accepted a non-canonical encoding");
        // Signature checking on garbage must fail cleanly, not panic.
        let _ = tx.verify(&[0u8; 32]);
        assert_eq!(tx.hash(), bt_chain::blake2_256(data));
    }
});
