//! Untrusted JSON → `SdkTensor` → `to_tensor` (default limits), and the same for a structured
//! `bt.Tensor` whose buffer is the base64 of arbitrary bytes (so the msgpack reader is reached
//! past the base64 and JSON layers). Nothing may panic; an accepted tensor must re-encode and
//! decode to the same dtype, shape and bytes.
#![no_main]

use base64::Engine;
use bt_http::sdk_tensor::SdkTensor;
use bt_tensor::Limits;
use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

const DTYPES: [&str; 6] = [
    "float16",
    "float32",
    "float64",
    "int32",
    "int64",
    "torch.float32",
];

fn check(t: &SdkTensor) {
    let limits = Limits::default();
    let Ok(tensor) = t.to_tensor(&limits) else {
        return;
    };
    let again = SdkTensor::from_tensor(&tensor).expect("a decoded tensor re-encodes");
    let back = again.to_tensor(&limits).expect("own encoding decodes");
    assert_eq!(back.dtype(), tensor.dtype());
    assert_eq!(back.shape(), tensor.shape());
    assert_eq!(back.bytes(), tensor.bytes());
}

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = serde_json::from_slice::<SdkTensor>(data) {
        check(&t);
    }
    let mut u = Unstructured::new(data);
    let (Ok(dtype), Ok(shape), Ok(packed)) = (
        u.choose(&DTYPES),
        Vec::<i64>::arbitrary(&mut u),
        Vec::<u8>::arbitrary_take_rest(u),
    ) else {
        return;
    };
    check(&SdkTensor {
        buffer: Some(base64::engine::general_purpose::STANDARD.encode(packed)),
        dtype: (*dtype).to_string(),
        shape,
    });
});
