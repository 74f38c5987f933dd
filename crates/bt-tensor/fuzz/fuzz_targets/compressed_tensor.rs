//! Untrusted bytes → a compressed wire tensor (codec dtype, shape, buffer) →
//! `compression::decompress` with every codec accepted. Nothing may panic; an accepted tensor
//! is float32 with as many finite values as its shape says, and re-compresses to a buffer of
//! the same length.
#![no_main]

use bt_tensor::compression::{Codec, CodecSet, compress, decompress};
use bt_tensor::{DType, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    // First byte: the codec (low bit), modality (next two bits) and number of dimensions.
    let dtype = if head & 1 == 0 { 8 } else { 9 };
    let modality = i32::from((head >> 1) & 3);
    let dims = usize::from(head >> 3) % 4;
    let Some((shape_bytes, buffer)) = rest.split_at_checked(dims * 2) else {
        return;
    };
    let shape = shape_bytes
        .chunks_exact(2)
        .map(|c| i64::from(i16::from_le_bytes([c[0], c[1]])))
        .collect();
    let wire = bt_wire::Tensor {
        buffer: bytes::Bytes::copy_from_slice(buffer),
        shape,
        dtype,
        modality,
        ..Default::default()
    };
    let Ok(t) = decompress(&wire, CodecSet::ALL, &Limits::default()) else {
        return;
    };
    assert_eq!(t.dtype(), DType::Float32);
    let v = t.to_f32_vec().expect("float32");
    assert_eq!(v.len(), t.num_elements());
    assert!(v.iter().all(|x| x.is_finite()));
    let codec = Codec::eight_bit(dtype).expect("an 8-bit dtype");
    let again = compress(&t, codec).expect("finite values compress");
    assert_eq!(again.buffer.len(), wire.buffer.len());
});
