//! Untrusted bytes → prost `TensorMessage` → `bt_tensor::decode` of every tensor (default limits)
//! → typed reads. Nothing may panic; every accepted tensor must re-encode and decode identically.
#![no_main]

use bt_tensor::{DType, Limits, decode, encode};
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = bt_wire::TensorMessage::decode(bytes::Bytes::copy_from_slice(data)) else {
        return;
    };
    let limits = Limits::default();
    for wire in &msg.tensors {
        let Ok(t) = decode(wire, &limits) else {
            continue;
        };
        match t.dtype() {
            DType::Utf8 => {
                let strings = t.to_strings().expect("validated text must read");
                assert_eq!(strings.len(), t.num_elements());
            }
            DType::Int32 | DType::Int64 => {
                assert_eq!(t.to_i64_vec().expect("ints").len(), t.num_elements());
            }
            _ => {
                let v = t.f32_cow().expect("floats");
                assert_eq!(v.len(), t.num_elements());
            }
        }
        let again = decode(&encode(&t), &limits).expect("re-encoded tensor must decode");
        assert_eq!(again, t);
    }
});
