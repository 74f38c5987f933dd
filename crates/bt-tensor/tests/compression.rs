//! Codecs: round-trip error bounds per codec (property tests), sizes, and every way a peer's
//! compressed tensor can lie.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bt_tensor::compression::{
    BLOCKWISE8_BLOCK, BLOCKWISE8_DTYPE, Codec, CodecSet, CompressionError, UNIFORM8_DTYPE,
    compress, decompress,
};
use bt_tensor::{DType, Limits, Modality, Tensor, TensorError};
use bytes::Bytes;
use proptest::prelude::*;

fn round_trip(values: &[f32], codec: Codec) -> Vec<f32> {
    let t = Tensor::from_f32(&[values.len()], values, Modality::Tensor).unwrap();
    let wire = compress(&t, codec).unwrap();
    let back = decompress(&wire, CodecSet::ALL, &Limits::default()).unwrap();
    assert_eq!(back.shape(), [values.len()]);
    back.to_f32_vec().unwrap()
}

fn values() -> impl Strategy<Value = Vec<f32>> {
    let magnitude = prop_oneof![Just(1e-3f32), Just(1.0f32), Just(1e3f32), Just(1e30f32)];
    (magnitude, prop::collection::vec(-1.0f32..1.0, 1..2000))
        .prop_map(|(m, v)| v.into_iter().map(|x| x * m).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn f16_error_is_half_an_ulp(v in prop::collection::vec(-60000.0f32..60000.0, 1..2000)) {
        for (x, y) in v.iter().zip(round_trip(&v, Codec::F16)) {
            // Half an ulp of a normal half (11 significant bits), or of the subnormal step.
            prop_assert!((x - y).abs() <= x.abs() * 2f32.powi(-11) + 2f32.powi(-25), "{x} → {y}");
        }
    }

    #[test]
    fn bf16_error_is_half_an_ulp(v in values()) {
        for (x, y) in v.iter().zip(round_trip(&v, Codec::Bf16)) {
            prop_assert!((x - y).abs() <= x.abs() * 2f32.powi(-8), "{x} → {y}");
        }
    }

    #[test]
    fn uniform8_error_is_half_a_step(v in values()) {
        let (lo, hi) = v.iter().fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
        let step = (f64::from(hi) - f64::from(lo)) / 255.0;
        let rounding = f64::from(lo.abs().max(hi.abs())) * f64::from(f32::EPSILON);
        for (x, y) in v.iter().zip(round_trip(&v, Codec::Uniform8)) {
            let err = (f64::from(*x) - f64::from(y)).abs();
            prop_assert!(err <= step / 2.0 + rounding, "{x} → {y} (step {step})");
            prop_assert!(y >= lo && y <= hi);
        }
    }

    #[test]
    fn blockwise8_error_is_half_a_step_of_its_block(v in values()) {
        let back = round_trip(&v, Codec::Blockwise8);
        for (block, out) in v.chunks(BLOCKWISE8_BLOCK).zip(back.chunks(BLOCKWISE8_BLOCK)) {
            let absmax = block.iter().fold(0f32, |m, x| m.max(x.abs()));
            let bound = f64::from(absmax) / 254.0 + f64::from(absmax) * f64::from(f32::EPSILON) * 2.0;
            for (x, y) in block.iter().zip(out) {
                let err = (f64::from(*x) - f64::from(*y)).abs();
                prop_assert!(err <= bound, "{x} → {y} (absmax {absmax})");
            }
        }
    }

    #[test]
    fn any_buffer_decodes_finite_or_is_refused(
        dtype in prop_oneof![Just(UNIFORM8_DTYPE), Just(BLOCKWISE8_DTYPE)],
        n in 1usize..600,
        bytes in prop::collection::vec(any::<u8>(), 0..1200),
    ) {
        let wire = bt_wire::Tensor { buffer: Bytes::from(bytes), shape: vec![n as i64], dtype, ..Default::default() };
        if let Ok(t) = decompress(&wire, CodecSet::ALL, &Limits::default()) {
            let v = t.to_f32_vec().unwrap();
            prop_assert_eq!(v.len(), n);
            prop_assert!(v.iter().all(|x| x.is_finite()));
        }
    }
}

#[test]
fn sizes_of_a_mebibyte_follow_the_layouts() {
    let n = (1 << 20) / 4;
    let v: Vec<f32> = (0..n).map(|i| (i as f32).sin()).collect();
    let t = Tensor::from_f32_vec(&[n], v, Modality::Tensor).unwrap();
    let len = |c| compress(&t, c).unwrap().buffer.len();
    assert_eq!(len(Codec::None), 1 << 20);
    assert_eq!(len(Codec::F16), 1 << 19);
    assert_eq!(len(Codec::Bf16), 1 << 19);
    assert_eq!(len(Codec::Uniform8), n + 8);
    assert_eq!(len(Codec::Blockwise8), n + n / BLOCKWISE8_BLOCK * 4);
}

#[test]
fn only_float32_tensor_and_image_data_is_compressed() {
    let ids = Tensor::from_i64(&[2], &[7, 9], Modality::Text).unwrap();
    let text = Tensor::text(&["a"]);
    let f64s = Tensor::from_f64(&[1], &[1.5], Modality::Tensor).unwrap();
    for t in [ids, text, f64s] {
        assert_eq!(
            compress(&t, Codec::Blockwise8).unwrap(),
            bt_tensor::encode(&t)
        );
    }
    let img = Tensor::from_f32(&[1, 1, 2, 2], &[0.0, 0.25, 0.5, 1.0], Modality::Image)
        .unwrap()
        .with_requires_grad(true);
    let wire = compress(&img, Codec::Uniform8).unwrap();
    assert_eq!(wire.dtype, UNIFORM8_DTYPE);
    let back = decompress(&wire, CodecSet::ALL, &Limits::default()).unwrap();
    assert_eq!(
        (back.dtype(), back.modality(), back.requires_grad()),
        (DType::Float32, Modality::Image, true)
    );
    for (x, y) in [0.0f32, 0.25, 0.5, 1.0]
        .iter()
        .zip(back.to_f32_vec().unwrap())
    {
        assert!((x - y).abs() <= 0.5 / 255.0 + f32::EPSILON, "{x} → {y}");
    }
}

#[test]
fn non_finite_input_is_refused_before_sending() {
    let t = Tensor::from_f32(&[3], &[1.0, f32::NAN, 2.0], Modality::Tensor).unwrap();
    for codec in [Codec::F16, Codec::Bf16, Codec::Uniform8, Codec::Blockwise8] {
        assert!(matches!(
            compress(&t, codec),
            Err(CompressionError::NonFiniteInput { index: 1, .. })
        ));
    }
    // Large but finite values saturate in f16 instead of becoming infinities.
    let big = Tensor::from_f32(&[2], &[1e9, -1e9], Modality::Tensor).unwrap();
    let back = decompress(
        &compress(&big, Codec::F16).unwrap(),
        CodecSet::ALL,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(back.to_f32_vec().unwrap(), [65504.0, -65504.0]);
}

fn eight_bit(dtype: i32, shape: Vec<i64>, buffer: Vec<u8>) -> bt_wire::Tensor {
    bt_wire::Tensor {
        buffer: Bytes::from(buffer),
        shape,
        dtype,
        ..Default::default()
    }
}

#[test]
fn an_unnegotiated_codec_is_refused() {
    let t = Tensor::from_f32(&[2], &[1.0, 2.0], Modality::Tensor).unwrap();
    let wire = compress(&t, Codec::Blockwise8).unwrap();
    let only_uniform: CodecSet = [Codec::Uniform8].into_iter().collect();
    let err = decompress(&wire, only_uniform, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            CompressionError::NotNegotiated {
                codec: Codec::Blockwise8,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("blockwise8"));
    // Release 1's plain decoder does not know the dtype at all.
    assert_eq!(
        bt_tensor::decode(&wire, &Limits::default()),
        Err(TensorError::UnknownDType(9))
    );
}

#[test]
fn a_lying_length_is_refused_before_allocation() {
    // A shape of 2^40 elements with a 9-byte buffer: refused on the count, nothing allocated.
    let huge = eight_bit(UNIFORM8_DTYPE, vec![1 << 20, 1 << 20], vec![0; 9]);
    assert!(matches!(
        decompress(&huge, CodecSet::ALL, &Limits::default()),
        Err(CompressionError::Tensor(
            TensorError::TooManyElements { .. }
        ))
    ));
    let short = eight_bit(UNIFORM8_DTYPE, vec![4], vec![0; 11]);
    assert!(matches!(
        decompress(&short, CodecSet::ALL, &Limits::default()),
        Err(CompressionError::Length {
            expected: 12,
            len: 11,
            ..
        })
    ));
    let no_scales = eight_bit(BLOCKWISE8_DTYPE, vec![4], vec![1, 2, 3, 4]);
    assert!(matches!(
        decompress(&no_scales, CodecSet::ALL, &Limits::default()),
        Err(CompressionError::Length {
            expected: 8,
            len: 4,
            ..
        })
    ));
    let overflow = eight_bit(BLOCKWISE8_DTYPE, vec![i64::MAX, i64::MAX], vec![]);
    assert!(decompress(&overflow, CodecSet::ALL, &Limits::default()).is_err());
    // The decoded float32 size counts against max_bytes, not only the compressed one.
    let limits = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    let grows = eight_bit(UNIFORM8_DTYPE, vec![50], vec![0; 58]);
    assert!(matches!(
        decompress(&grows, CodecSet::ALL, &limits),
        Err(CompressionError::Tensor(TensorError::TooManyBytes {
            len: 200,
            max: 100
        }))
    ));
}

#[test]
fn non_finite_headers_and_impossible_codes_are_refused() {
    let header = |min: f32, max: f32| {
        let mut b = min.to_le_bytes().to_vec();
        b.extend_from_slice(&max.to_le_bytes());
        b.extend_from_slice(&[0, 255]);
        eight_bit(UNIFORM8_DTYPE, vec![2], b)
    };
    for (min, max) in [
        (f32::NAN, 1.0),
        (0.0, f32::INFINITY),
        (f32::NEG_INFINITY, 0.0),
        (2.0, 1.0),
    ] {
        let err = decompress(&header(min, max), CodecSet::ALL, &Limits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                CompressionError::BadHeader {
                    codec: Codec::Uniform8,
                    ..
                }
            ),
            "{err}"
        );
    }
    // The widest finite range still decodes to finite values.
    let wide = decompress(
        &header(f32::MIN, f32::MAX),
        CodecSet::ALL,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(wide.to_f32_vec().unwrap(), [f32::MIN, f32::MAX]);

    let scale = |s: f32, code: u8| {
        let mut b = s.to_le_bytes().to_vec();
        b.push(code);
        eight_bit(BLOCKWISE8_DTYPE, vec![1], b)
    };
    for s in [f32::NAN, f32::INFINITY, -1.0] {
        assert!(matches!(
            decompress(&scale(s, 1), CodecSet::ALL, &Limits::default()),
            Err(CompressionError::BadHeader {
                codec: Codec::Blockwise8,
                ..
            })
        ));
    }
    assert!(matches!(
        decompress(&scale(1.0, 0x80), CodecSet::ALL, &Limits::default()),
        Err(CompressionError::BadCode { index: 0, .. })
    ));
    let max = decompress(&scale(f32::MAX, 0x7f), CodecSet::ALL, &Limits::default()).unwrap();
    assert!(max.to_f32_vec().unwrap()[0].is_finite());
}

#[test]
fn text_cannot_be_eight_bit_and_f16_nan_is_refused() {
    let mut t = eight_bit(UNIFORM8_DTYPE, vec![1], vec![0; 9]);
    t.modality = Modality::Text.to_wire();
    assert!(matches!(
        decompress(&t, CodecSet::ALL, &Limits::default()),
        Err(CompressionError::Modality { .. })
    ));
    let nan_half = bt_wire::Tensor {
        buffer: Bytes::from(bt_tensor::f16::NAN.to_le_bytes().to_vec()),
        shape: vec![1],
        dtype: Codec::F16.wire_dtype(),
        ..Default::default()
    };
    assert!(matches!(
        decompress(&nan_half, CodecSet::ALL, &Limits::default()),
        Err(CompressionError::Tensor(TensorError::NonFinite { .. }))
    ));
}
