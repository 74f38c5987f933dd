//! A peer's answer, from raw bytes to the dendrite's verdict: prost decode, then the exact
//! validation the dendrite applies. Must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Some((&batch, rest)) = data.split_first() else {
        return;
    };
    let Ok(msg) = bt_wire::TensorMessage::decode(rest) else {
        return;
    };
    let limits = bt_tensor::Limits {
        max_bytes: 1 << 20,
        max_elements: 1 << 18,
        ..bt_tensor::Limits::DEFAULT
    };
    let shape = [usize::from(batch), 4];
    let with_shape = bt_dendrite::validate_response(msg.clone(), usize::from(batch), Some(&shape), &limits);
    let batch_only = bt_dendrite::validate_response(msg, usize::from(batch), None, &limits);
    if let Ok(t) = with_shape {
        assert_eq!(t.shape(), &shape);
        assert!(batch_only.is_ok());
    }
    if let Ok(t) = batch_only {
        assert_eq!(t.shape().first(), Some(&usize::from(batch)));
        assert!(t.dtype().is_float());
    }
});
