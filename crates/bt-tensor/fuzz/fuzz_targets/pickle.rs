//! Untrusted bytes → the strict `list[str]` pickle reader. Nothing may panic; whatever it
//! accepts must survive a write/read round trip.
#![no_main]

use bt_tensor::{Limits, pickle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(strings) = pickle::read_str_list(data, &limits) {
        for protocol in [3, 4] {
            let written = pickle::write_str_list(&strings, protocol);
            assert_eq!(pickle::read_str_list(&written, &limits).expect("own output"), strings);
        }
    }
});
