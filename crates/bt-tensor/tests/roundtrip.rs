//! Property tests: every dtype × shape × modality survives encode → prost → decode unchanged,
//! and every list of strings survives the pickle writer and reader for protocols 3 and 4.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

use bt_tensor::{DType, Limits, Modality, Tensor, bf16, decode, encode, f16, pickle};
use bytes::Bytes;
use proptest::prelude::*;
use prost::Message;

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..5, 1..5)
}

fn modality() -> impl Strategy<Value = Modality> {
    prop::sample::select(Modality::ALL.to_vec())
}

/// Round trip through the real wire bytes, at an odd offset so the unaligned paths run too.
fn through_wire(t: &Tensor, misalign: bool) -> Tensor {
    let mut bytes = Vec::new();
    if misalign {
        bytes.push(0);
    }
    encode(t).encode(&mut bytes).unwrap();
    let mut frame = Bytes::from(bytes);
    if misalign {
        frame = frame.slice(1..);
    }
    let wire = bt_wire::Tensor::decode(frame).unwrap();
    decode(&wire, &Limits::default()).unwrap()
}

fn build(dtype: DType, shape: &[usize], modality: Modality, seed: &[f32]) -> Option<Tensor> {
    let n: usize = shape.iter().product();
    let v = |i: usize| seed[i % seed.len()];
    let t = match dtype {
        DType::Float32 => Tensor::from_f32(shape, &(0..n).map(v).collect::<Vec<_>>(), modality),
        DType::Float64 => Tensor::from_f64(
            shape,
            &(0..n).map(|i| f64::from(v(i)) / 3.0).collect::<Vec<_>>(),
            modality,
        ),
        DType::Int32 => Tensor::from_i32(
            shape,
            &(0..n).map(|i| v(i) as i32).collect::<Vec<_>>(),
            modality,
        ),
        DType::Int64 => Tensor::from_i64(
            shape,
            &(0..n).map(|i| v(i) as i64 * 1_000_003).collect::<Vec<_>>(),
            modality,
        ),
        DType::Float16 => Tensor::from_f16(
            shape,
            &(0..n).map(|i| f16::from_f32(v(i))).collect::<Vec<_>>(),
            modality,
        ),
        DType::BFloat16 => Tensor::from_bf16(
            shape,
            &(0..n).map(|i| bf16::from_f32(v(i))).collect::<Vec<_>>(),
            modality,
        ),
        DType::Utf8 => return None,
    };
    if modality.allows(dtype) {
        Some(t.unwrap())
    } else {
        assert!(t.is_err());
        None
    }
}

proptest! {
    #[test]
    fn numeric_round_trip(
        dtype in prop::sample::select(DType::ALL.to_vec()),
        shape in shape(),
        modality in modality(),
        grad in any::<bool>(),
        misalign in any::<bool>(),
        seed in prop::collection::vec(-1.0e4f32..1.0e4, 1..16),
    ) {
        let Some(t) = build(dtype, &shape, modality, &seed) else { return Ok(()); };
        let t = t.with_requires_grad(grad);
        let back = through_wire(&t, misalign);
        prop_assert_eq!(&back, &t);
        prop_assert_eq!(back.shape(), &shape[..]);
        prop_assert_eq!(back.requires_grad(), grad);
        if dtype.is_float() {
            prop_assert_eq!(back.to_f64_vec().unwrap(), t.to_f64_vec().unwrap());
            prop_assert_eq!(back.f32_cow().unwrap().into_owned(), t.to_f32_vec().unwrap());
            // An unaligned view is refused, never faked; realigning makes it available.
            if dtype == DType::Float32 {
                let aligned = back.to_aligned();
                prop_assert_eq!(aligned.as_f32_slice().unwrap(), &t.to_f32_vec().unwrap()[..]);
            }
        } else {
            prop_assert_eq!(back.to_i64_vec().unwrap(), t.to_i64_vec().unwrap());
        }
    }

    #[test]
    fn text_round_trip(
        strings in prop::collection::vec(any::<String>(), 0..40),
        protocol in 2u8..=5,
        misalign in any::<bool>(),
    ) {
        let t = Tensor::text_with_protocol(&strings, protocol);
        prop_assert_eq!(t.shape(), &[strings.len(), 1][..]);
        let back = through_wire(&t, misalign);
        prop_assert_eq!(back.to_strings().unwrap(), strings.clone());
        let raw = pickle::write_str_list(&strings, protocol);
        prop_assert_eq!(pickle::read_str_list(&raw, &Limits::default()).unwrap(), strings);
    }

    #[test]
    fn text_with_many_and_long_strings(
        n in 990usize..1020,
        long in 250usize..70_000,
        protocol in prop::sample::select(vec![3u8, 4]),
    ) {
        let mut strings: Vec<String> = (0..n).map(|i| format!("{i}")).collect();
        strings.push("é".repeat(long));
        strings.push(String::new());
        strings.push(String::new());
        let raw = pickle::write_str_list(&strings, protocol);
        prop_assert_eq!(pickle::read_str_list(&raw, &Limits::default()).unwrap(), strings);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = pickle::read_str_list(&data, &Limits::default());
        let _ = bt_wire::TensorMessage::decode(&data[..]).map(|m| {
            for w in &m.tensors {
                let _ = decode(w, &Limits::default());
            }
        });
    }
}
