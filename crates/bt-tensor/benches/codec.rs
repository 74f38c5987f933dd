//! Codec throughput against memcpy of the same size, measured in the same run.
//!
//! `cargo bench -p bt-tensor --bench codec`
//!
//! - decode = `prost` decode of a serialized wire `Tensor` held in a `Bytes` frame, then
//!   `bt_tensor::decode` (default limits, including the finiteness scan), then obtaining
//!   `&[f32]` (`f32_cow`: a view when the payload is 4-byte aligned in the frame, else a copy).
//! - encode = building the wire tensor from the values + `prost` encode into a reused buffer
//!   (as tonic's encoder does), either taking over a `Vec<f32>` or copying from a `&[f32]`.
//! - memcpy = `copy_from_slice` into a preallocated buffer.
//!
//! Each cell is the median over timed batches; ratios are throughput / memcpy throughput.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

use std::hint::black_box;
use std::time::{Duration, Instant};

use bt_tensor::{Limits, Modality, Tensor, decode, encode};
use bytes::{Bytes, BytesMut};
use prost::Message;

const SIZES: [(usize, &str); 3] = [(4 << 10, "4 KiB"), (1 << 20, "1 MiB"), (64 << 20, "64 MiB")];

/// Median seconds per operation. `setup` runs outside the clock and feeds one operation.
fn measure<S>(bytes: usize, mut setup: impl FnMut() -> S, mut op: impl FnMut(S)) -> f64 {
    let per_batch = (256 << 10) / bytes.max(1);
    let per_batch = per_batch.max(1);
    let budget = Duration::from_millis(if bytes >= 64 << 20 { 1500 } else { 400 });
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 5 || (start.elapsed() < budget && samples.len() < 300) {
        let inputs: Vec<S> = (0..per_batch).map(|_| setup()).collect();
        let t = Instant::now();
        for input in inputs {
            op(input);
        }
        samples.push(t.elapsed().as_secs_f64() / per_batch as f64);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Serialized wire tensor placed so that its payload starts `misalign` bytes past an 8-byte
/// boundary (a received frame can put it anywhere).
fn frame(values: &[f32], misalign: usize) -> Bytes {
    let t = Tensor::from_f32(&[values.len()], values, Modality::Tensor).expect("valid tensor");
    let encoded = encode(&t).encode_to_vec();
    let probe = Bytes::from(encoded.clone());
    let wire = bt_wire::Tensor::decode(probe.clone()).expect("own encoding decodes");
    let payload_offset = wire.buffer.as_ptr() as usize - probe.as_ptr() as usize;
    let pad = (8 - payload_offset % 8) % 8 + misalign;
    let mut words = vec![0u64; (pad + encoded.len()).div_ceil(8)];
    let raw: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    raw[pad..pad + encoded.len()].copy_from_slice(&encoded);
    struct Owner(Vec<u64>);
    impl AsRef<[u8]> for Owner {
        fn as_ref(&self) -> &[u8] {
            bytemuck::cast_slice(&self.0)
        }
    }
    Bytes::from_owner(Owner(words)).slice(pad..pad + encoded.len())
}

fn decode_once(frame: &Bytes, limits: &Limits) -> bool {
    let wire = bt_wire::Tensor::decode(frame.clone()).expect("frame decodes");
    let t = decode(&wire, limits).expect("tensor is valid");
    let view = t.f32_cow().expect("float32");
    let borrowed = matches!(view, std::borrow::Cow::Borrowed(_));
    black_box(view.as_ptr());
    borrowed
}

fn gbps(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e9
}

fn main() {
    let limits = Limits::default();
    println!(
        "| size | memcpy GB/s | decode, aligned (view) | decode, misaligned (copy) | decode aligned, no finite scan | encode from Vec<f32> | encode from &[f32] |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (bytes, label) in SIZES {
        let n = bytes / 4;
        let values: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 0.001).collect();
        let src: Vec<u8> = bytemuck::cast_slice(&values).to_vec();
        let mut dst = vec![0u8; bytes];
        let memcpy = measure(
            bytes,
            || (),
            |()| {
                dst.copy_from_slice(black_box(&src));
                black_box(dst.as_ptr());
            },
        );

        let aligned = frame(&values, 0);
        assert!(
            decode_once(&aligned, &limits),
            "aligned frame must give a view"
        );
        let dec_aligned = measure(
            bytes,
            || (),
            |()| {
                black_box(decode_once(&aligned, &limits));
            },
        );
        let misaligned = frame(&values, 1);
        assert!(!decode_once(&misaligned, &limits));
        let dec_misaligned = measure(
            bytes,
            || (),
            |()| {
                black_box(decode_once(&misaligned, &limits));
            },
        );
        let no_scan = Limits {
            require_finite: false,
            ..limits
        };
        let dec_no_scan = measure(
            bytes,
            || (),
            |()| {
                black_box(decode_once(&aligned, &no_scan));
            },
        );

        let mut out = BytesMut::with_capacity(bytes + 64);
        let enc_vec = measure(
            bytes,
            || values.clone(),
            |v| {
                let t = Tensor::from_f32_vec(&[n], v, Modality::Tensor).expect("valid");
                out.clear();
                encode(&t).encode(&mut out).expect("capacity");
                black_box(out.as_ptr());
            },
        );
        let enc_slice = measure(
            bytes,
            || (),
            |()| {
                let t = Tensor::from_f32(&[n], &values, Modality::Tensor).expect("valid");
                out.clear();
                encode(&t).encode(&mut out).expect("capacity");
                black_box(out.as_ptr());
            },
        );

        let base = gbps(bytes, memcpy);
        let cell = |secs: f64| {
            let g = gbps(bytes, secs);
            format!("{g:.2} GB/s ({:.2}×)", g / base)
        };
        println!(
            "| {label} | {base:.2} | {} | {} | {} | {} | {} |",
            cell(dec_aligned),
            cell(dec_misaligned),
            cell(dec_no_scan),
            cell(enc_vec),
            cell(enc_slice)
        );
    }
}
