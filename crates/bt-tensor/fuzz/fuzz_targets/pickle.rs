//! Untrusted bytes → the strict `list[str]` pickle reader. Nothing may panic; whatever it
//! accepts must survive a write/read round trip; the count, the census and the text budget
//! must agree with what is read (a list over the budget is refused, never built).
#![no_main]

use bt_tensor::{Limits, PickleError, pickle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A small overhead so that back-reference fan-out reaches the budget within fuzz inputs.
    let limits = Limits {
        max_elements: 1 << 16,
        max_text_overhead: 4096,
        ..Limits::default()
    };
    let counted = pickle::count_strings(data, &limits);
    let census = pickle::census(data, &limits);
    assert_eq!(counted.as_ref().ok(), census.as_ref().ok().map(|c| &c.strings));
    let read = pickle::read_str_list(data, &limits);
    let Ok(census) = census else {
        assert!(read.is_err(), "read what the census refused");
        return;
    };
    let cost = census.strings * std::mem::size_of::<String>() + census.text_bytes;
    let within = cost <= pickle::text_budget(data.len(), &limits);
    match read {
        Ok(strings) => {
            assert!(within, "built a list over the budget");
            assert_eq!(strings.len(), census.strings);
            assert_eq!(strings.iter().map(String::len).sum::<usize>(), census.text_bytes);
            for protocol in [3, 4] {
                let written = pickle::write_str_list(&strings, protocol);
                let wide = Limits::default();
                assert_eq!(pickle::read_str_list(&written, &wide).expect("own output"), strings);
            }
        }
        Err(PickleError::TooCostly { .. }) => assert!(!within, "refused a list within budget"),
        Err(e) => panic!("census accepted what reading refused: {e}"),
    }
});
