//! Golden fixtures made by numpy and CPython (`tests/fixtures/make_fixtures.py`): decode them,
//! check the values, and re-encode them byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

use std::path::PathBuf;

use bt_tensor::{DType, Limits, Modality, Tensor, decode, encode, pickle};
use bytes::Bytes;

fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", name]
        .iter()
        .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest() -> Vec<(String, String, String)> {
    String::from_utf8(fixture("manifest.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut p = l.split(' ');
            let mut next = || p.next().unwrap().to_owned();
            (next(), next(), next())
        })
        .collect()
}

/// The strings each text fixture holds (mirrors `TEXTS` in the Python script).
fn texts(key: &str) -> Vec<String> {
    let v: Vec<String> = match key {
        "ascii" => vec!["hello".into(), "world".into()],
        "unicode" => vec![
            "héllo".into(),
            "日本語".into(),
            "🦀🐍".into(),
            "".into(),
            "naïve café".into(),
        ],
        "empty_list" => vec![],
        "single" => vec!["only".into()],
        "empty_strings" => vec!["".into(), "".into()],
        "long" => vec!["x".repeat(300), "y".into()],
        "many" => (0..1001).map(|i| format!("s{i}")).collect(),
        "framed" => (0..2000).map(|i| format!("w{i:05}").repeat(10)).collect(),
        "huge" => vec![
            "a".repeat(70000),
            "b".repeat(10),
            "é".repeat(40000),
            "c".into(),
        ],
        "singletons" => ["a", "é", "a", "", "", "ab", "日", "日"]
            .map(String::from)
            .to_vec(),
        "shared" => vec!["dup7".into(), "dup7".into(), "x".into()],
        other => panic!("unknown text fixture {other}"),
    };
    v
}

fn wire(buffer: Vec<u8>, shape: Vec<i64>, dtype: DType, modality: Modality) -> bt_wire::Tensor {
    bt_wire::Tensor {
        version: "0.0.0".into(),
        buffer: Bytes::from(buffer),
        shape,
        dtype: dtype.to_wire(),
        modality: modality.to_wire(),
        requires_grad: false,
    }
}

#[test]
fn numpy_tobytes_decode_and_reencode_byte_for_byte() {
    let mut seen = 0;
    for (file, dtype, shape) in manifest() {
        if dtype == "utf8" {
            continue;
        }
        seen += 1;
        let raw = fixture(&file);
        let shape: Vec<usize> = shape.split(',').map(|d| d.parse().unwrap()).collect();
        let n: usize = shape.iter().product();
        let wire_shape = shape.iter().map(|&d| d as i64).collect();
        let limits = Limits::default();
        let reencoded = match dtype.as_str() {
            "float32" => {
                let t = decode(
                    &wire(raw.clone(), wire_shape, DType::Float32, Modality::Tensor),
                    &limits,
                )
                .unwrap();
                let expected: Vec<f32> = (0..n).map(|i| i as f32 * 0.25 - 1.5).collect();
                assert_eq!(t.to_f32_vec().unwrap(), expected, "{file}");
                Tensor::from_f32(&shape, &expected, Modality::Tensor).unwrap()
            }
            "float64" => {
                let t = decode(
                    &wire(raw.clone(), wire_shape, DType::Float64, Modality::Image),
                    &limits,
                )
                .unwrap();
                // numpy computes arange(n) * 0.1 - 3.0 in f64, exactly like this.
                let expected: Vec<f64> = (0..n).map(|i| i as f64 * 0.1 - 3.0).collect();
                assert_eq!(t.to_f64_vec().unwrap(), expected, "{file}");
                Tensor::from_f64(&shape, &expected, Modality::Image).unwrap()
            }
            "int32" => {
                let t = decode(
                    &wire(raw.clone(), wire_shape, DType::Int32, Modality::Tensor),
                    &limits,
                )
                .unwrap();
                let expected: Vec<i32> = (0..n).map(|i| (i as i32 - 3) * 100_000).collect();
                assert_eq!(t.to_vec::<i32>().unwrap(), expected, "{file}");
                Tensor::from_i32(&shape, &expected, Modality::Tensor).unwrap()
            }
            "int64" => {
                let t = decode(
                    &wire(raw.clone(), wire_shape, DType::Int64, Modality::Text),
                    &limits,
                )
                .unwrap();
                let expected: Vec<i64> =
                    (0..n).map(|i| (i as i64 - 3) * 1_000_000_000_000).collect();
                assert_eq!(t.to_i64_vec().unwrap(), expected, "{file}");
                Tensor::from_i64(&shape, &expected, Modality::Text).unwrap()
            }
            other => panic!("unknown dtype {other}"),
        };
        assert_eq!(encode(&reencoded).buffer.as_ref(), raw.as_slice(), "{file}");
    }
    assert_eq!(seen, 12);
}

#[test]
fn cpython_pickles_decode_and_reencode_byte_for_byte() {
    let mut seen = 0;
    for (file, dtype, key) in manifest() {
        if dtype != "utf8" {
            continue;
        }
        seen += 1;
        let raw = fixture(&file);
        let expected = texts(&key);
        let limits = Limits::default();
        assert_eq!(
            pickle::read_str_list(&raw, &limits).unwrap(),
            expected,
            "{file}"
        );

        let shape = vec![expected.len() as i64, 1];
        let t = decode(
            &wire(raw.clone(), shape, DType::Utf8, Modality::Text),
            &limits,
        )
        .unwrap();
        assert_eq!(t.to_strings().unwrap(), expected, "{file}");
        assert_eq!(t.num_elements(), expected.len());

        // "shared" repeats one Python object, which only an object-identity memo reproduces.
        if key != "shared" {
            let protocol = if file.ends_with(".p3.pkl") { 3 } else { 4 };
            let written = pickle::write_str_list(&expected, protocol);
            assert!(written == raw, "{file}: writer output differs from CPython");
            let text = Tensor::text_with_protocol(&expected, protocol);
            assert_eq!(encode(&text).buffer.as_ref(), raw.as_slice(), "{file}");
        }
    }
    assert_eq!(seen, 22);
}
