//! One test per rejection rule: every `TensorError` and `PickleError` variant is produced here
//! from bytes a peer could send, and its message states the numbers involved.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

use bt_tensor::{
    DType, Limits, Modality, PickleError, Tensor, TensorError, decode, encode, pickle,
};
use bytes::Bytes;

fn wire(buffer: Vec<u8>, shape: &[i64], dtype: i32, modality: i32) -> bt_wire::Tensor {
    bt_wire::Tensor {
        version: String::new(),
        buffer: Bytes::from(buffer),
        shape: shape.to_vec(),
        dtype,
        modality,
        requires_grad: true,
    }
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn decode_default(w: &bt_wire::Tensor) -> Result<Tensor, TensorError> {
    decode(w, &Limits::default())
}

#[test]
fn length_mismatch_names_the_numbers() {
    let err = decode_default(&wire(vec![0; 10], &[2, 3], 1, 0)).unwrap_err();
    assert_eq!(
        err,
        TensorError::LengthMismatch {
            len: 10,
            expected: 24,
            shape: vec![2, 3],
            dtype: DType::Float32
        }
    );
    assert_eq!(
        err.to_string(),
        "buffer is 10 bytes but shape [2, 3] of float32 needs 24"
    );
}

#[test]
fn zero_and_negative_dimensions() {
    let err = decode_default(&wire(vec![], &[2, 0], 1, 0)).unwrap_err();
    assert_eq!(
        err,
        TensorError::BadDimension {
            shape: vec![2, 0],
            index: 1,
            value: 0
        }
    );
    let err = decode_default(&wire(vec![], &[-3], 4, 0)).unwrap_err();
    assert_eq!(
        err,
        TensorError::BadDimension {
            shape: vec![-3],
            index: 0,
            value: -3
        }
    );
    assert!(err.to_string().contains("dimension 0 of shape [-3] is -3"));
    // Locally built tensors follow the same rule.
    assert!(matches!(
        Tensor::from_f32(&[0], &[], Modality::Tensor),
        Err(TensorError::BadDimension { index: 0, .. })
    ));
}

#[test]
fn element_count_overflow_is_caught() {
    let big = i64::MAX / 2;
    let err = decode_default(&wire(vec![], &[big, big, big], 1, 0)).unwrap_err();
    assert!(
        matches!(err, TensorError::ShapeOverflow { bits: 64, .. }),
        "{err}"
    );
    // Elements fit but elements × size does not.
    let limits = Limits {
        max_elements: usize::MAX,
        ..Limits::default()
    };
    let err = decode(&wire(vec![], &[1 << 62], 4, 0), &limits).unwrap_err();
    assert!(matches!(err, TensorError::ShapeOverflow { .. }), "{err}");
}

#[test]
fn too_many_dimensions() {
    let err = decode_default(&wire(vec![0; 4], &[1; 9], 1, 0)).unwrap_err();
    assert_eq!(
        err,
        TensorError::TooManyDims {
            shape: vec![1; 9],
            dims: 9,
            max: 8
        }
    );
}

#[test]
fn too_many_elements_and_bytes() {
    let limits = Limits {
        max_elements: 5,
        ..Limits::default()
    };
    let err = decode(&wire(vec![0; 24], &[2, 3], 1, 0), &limits).unwrap_err();
    assert_eq!(
        err,
        TensorError::TooManyElements {
            shape: vec![2, 3],
            elements: 6,
            max: 5
        }
    );

    let limits = Limits {
        max_bytes: 16,
        ..Limits::default()
    };
    let err = decode(&wire(vec![0; 24], &[2, 3], 1, 0), &limits).unwrap_err();
    assert_eq!(err, TensorError::TooManyBytes { len: 24, max: 16 });
}

#[test]
fn unknown_dtype_and_modality_values() {
    assert_eq!(
        decode_default(&wire(vec![], &[1], 0, 0)).unwrap_err(),
        TensorError::UnknownDType(0)
    );
    assert_eq!(
        decode_default(&wire(vec![], &[1], 99, 0)).unwrap_err(),
        TensorError::UnknownDType(99)
    );
    assert_eq!(
        decode_default(&wire(vec![0; 4], &[1], 1, 5)).unwrap_err(),
        TensorError::UnknownModality(5)
    );
}

#[test]
fn non_finite_floats_rejected_when_required() {
    let w = wire(f32_bytes(&[1.0, 2.0, f32::NAN, 4.0]), &[4], 1, 0);
    let err = decode_default(&w).unwrap_err();
    assert!(
        matches!(
            err,
            TensorError::NonFinite {
                index: 2,
                dtype: DType::Float32,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("element 2 of the float32 tensor with shape [4] is NaN")
    );
    let lenient = Limits {
        require_finite: false,
        ..Limits::default()
    };
    assert!(decode(&w, &lenient).is_ok());

    // Every float dtype, an infinity deep inside a large buffer (past the first scan block).
    let mut v = vec![0.5f64; 5000];
    v[4321] = f64::NEG_INFINITY;
    let t = Tensor::from_f64(&[5000], &v, Modality::Tensor).unwrap();
    let err = decode_default(&encode(&t)).unwrap_err();
    assert!(
        matches!(err, TensorError::NonFinite { index: 4321, value, .. } if value == f64::NEG_INFINITY)
    );
    for (dtype, bits) in [(DType::Float16, 0x7c00u16), (DType::BFloat16, 0x7fc0u16)] {
        let buf = [0u16, bits, 0]
            .iter()
            .flat_map(|b| b.to_le_bytes())
            .collect();
        let err = decode_default(&wire(buf, &[3], dtype.to_wire(), 0)).unwrap_err();
        assert!(
            matches!(err, TensorError::NonFinite { index: 1, .. }),
            "{dtype}: {err}"
        );
    }
}

#[test]
fn bad_utf8_in_text() {
    // PROTO 3, EMPTY_LIST, X len=2 b"\xff\xfe", APPEND, STOP
    let mut p = vec![0x80, 3, b']', b'X', 2, 0, 0, 0, 0xff, 0xfe, b'a', b'.'];
    let err = decode_default(&wire(p.clone(), &[1, 1], 5, 2)).unwrap_err();
    assert_eq!(
        err,
        TensorError::Pickle(PickleError::InvalidUtf8 {
            offset: 3,
            valid_up_to: 0
        })
    );
    p[8] = b'o';
    p[9] = b'k';
    assert_eq!(
        decode_default(&wire(p, &[1, 1], 5, 2))
            .unwrap()
            .to_strings()
            .unwrap(),
        ["ok"]
    );
}

#[test]
fn dtype_modality_mismatch() {
    let text = pickle::write_str_list(&["a"], 3);
    let err = decode_default(&wire(text, &[1, 1], 5, 0)).unwrap_err();
    assert_eq!(
        err,
        TensorError::DTypeModalityMismatch {
            dtype: DType::Utf8,
            modality: Modality::Tensor
        }
    );
    let err = decode_default(&wire(vec![0; 4], &[1], 1, 2)).unwrap_err();
    assert_eq!(
        err,
        TensorError::DTypeModalityMismatch {
            dtype: DType::Float32,
            modality: Modality::Text
        }
    );
    assert!(matches!(
        Tensor::from_f32(&[1], &[1.0], Modality::Text),
        Err(TensorError::DTypeModalityMismatch { .. })
    ));
}

#[test]
fn text_shape_and_count_must_agree() {
    let text = pickle::write_str_list(&["a", "b"], 4);
    let err = decode_default(&wire(text.clone(), &[2, 2], 5, 2)).unwrap_err();
    assert_eq!(err, TensorError::BadTextShape { shape: vec![2, 2] });
    let err = decode_default(&wire(text.clone(), &[3, 1], 5, 2)).unwrap_err();
    assert_eq!(
        err,
        TensorError::TextCountMismatch {
            shape: vec![3, 1],
            expected: 3,
            actual: 2
        }
    );
    assert!(decode_default(&wire(text, &[2], 5, 2)).is_ok());
    // The empty list travels as [0, 1].
    let empty = pickle::write_str_list::<&str>(&[], 3);
    assert!(
        decode_default(&wire(empty, &[0, 1], 5, 2))
            .unwrap()
            .to_strings()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn text_as_token_ids_is_accepted() {
    let ids: Vec<u8> = [101i64, 2023, 102]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let t = decode_default(&wire(ids, &[1, 3], 4, 2)).unwrap();
    assert_eq!(t.modality(), Modality::Text);
    assert_eq!(t.to_i64_vec().unwrap(), [101, 2023, 102]);
    assert_eq!(
        t.to_strings().unwrap_err(),
        TensorError::Conversion {
            dtype: DType::Int64,
            wanted: "strings"
        }
    );
}

#[test]
fn value_count_and_conversion_errors() {
    let err = Tensor::from_f32(&[2, 3], &[1.0; 5], Modality::Tensor).unwrap_err();
    assert_eq!(
        err,
        TensorError::ValueCountMismatch {
            len: 5,
            expected: 6,
            shape: vec![2, 3]
        }
    );
    assert_eq!(err.to_string(), "5 values given but shape [2, 3] needs 6");
    let t = Tensor::from_i32(&[1], &[1], Modality::Tensor).unwrap();
    assert!(matches!(
        t.to_f32_vec(),
        Err(TensorError::Conversion { wanted: "f32", .. })
    ));
    assert!(t.as_f32_slice().is_none());
    assert!(t.to_vec::<i64>().is_err());
}

#[test]
fn from_bytes_validates_like_decode() {
    let err = Tensor::from_bytes(
        DType::Float32,
        &[3],
        Modality::Tensor,
        Bytes::from_static(&[0; 8]),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        TensorError::LengthMismatch {
            len: 8,
            expected: 12,
            ..
        }
    ));
}

mod pickle_rejections {
    use super::*;

    fn read(b: &[u8]) -> Result<Vec<String>, PickleError> {
        pickle::read_str_list(b, &Limits::default())
    }

    #[test]
    fn code_execution_opcodes_are_named() {
        // The classic os.system payload: GLOBAL 'posix system', then REDUCE.
        let evil = b"\x80\x03cposix\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.";
        assert_eq!(
            read(evil).unwrap_err(),
            PickleError::ForbiddenOpcode {
                opcode: b'c',
                name: "GLOBAL",
                offset: 2
            }
        );
        let err = read(b"\x80\x04\x93.").unwrap_err();
        assert_eq!(
            err.to_string(),
            "pickle opcode 0x93 (STACK_GLOBAL) at offset 2 is not allowed: only a list of str is accepted"
        );
        assert!(matches!(
            read(b"\x80\x03]K\x05a.").unwrap_err(),
            PickleError::ForbiddenOpcode {
                name: "BININT1",
                offset: 3,
                ..
            }
        ));
    }

    #[test]
    fn protocols() {
        assert_eq!(
            read(b"\x80\x06].").unwrap_err(),
            PickleError::UnsupportedProtocol {
                protocol: 6,
                offset: 0
            }
        );
        assert_eq!(read(b"\x80\x02].").unwrap(), Vec::<String>::new());
        assert_eq!(read(b"\x80\x05].").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn truncation_and_missing_stop() {
        assert_eq!(
            read(b"\x80\x03]X\x10\x00\x00\x00ab").unwrap_err(),
            PickleError::Truncated {
                offset: 8,
                needed: 16,
                available: 2
            }
        );
        assert!(matches!(
            read(b"\x80\x03]X\x01\x00").unwrap_err(),
            PickleError::Truncated { .. }
        ));
        assert!(matches!(
            read(b"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00].").unwrap_err(),
            PickleError::Truncated { needed: 255, .. }
        ));
        assert_eq!(
            read(b"\x80\x03]").unwrap_err(),
            PickleError::MissingStop { offset: 3 }
        );
        assert_eq!(
            read(b"").unwrap_err(),
            PickleError::MissingStop { offset: 0 }
        );
    }

    #[test]
    fn trailing_bytes() {
        assert_eq!(
            read(b"\x80\x03].xyz").unwrap_err(),
            PickleError::TrailingBytes {
                offset: 3,
                extra: 3
            }
        );
    }

    #[test]
    fn bounds() {
        let p = pickle::write_str_list(&["a", "b", "c"], 3);
        let limits = Limits {
            max_elements: 2,
            ..Limits::default()
        };
        assert_eq!(
            pickle::read_str_list(&p, &limits).unwrap_err(),
            PickleError::TooManyStrings { max: 2 }
        );
        let limits = Limits {
            max_bytes: 4,
            ..Limits::default()
        };
        assert_eq!(
            pickle::read_str_list(&p, &limits).unwrap_err(),
            PickleError::TooLarge {
                len: p.len(),
                max: 4
            }
        );
    }

    #[test]
    fn malformed_structure() {
        for (bytes, offset) in [
            (&b"\x80\x03]]."[..], 3),                               // a second list
            (b"\x80\x03X\x00\x00\x00\x00].", 2),                    // a str before the list
            (b"\x80\x03](X\x00\x00\x00\x00.", 9),                   // STOP inside MARK
            (b"\x80\x03]X\x00\x00\x00\x00X\x00\x00\x00\x00a.", 13), // APPEND onto a str
            (b"\x80\x03]e.", 3),                                    // APPENDS without MARK
            (b"\x80\x03.", 2),                                      // STOP with no list
            (b"\x80\x03](\x94e.", 4),                               // memoizing a MARK
            (b"\x80\x03]q\x00h\x00a.", 5),                          // the list inside itself
            (b"\x80\x03]\x80\x03.", 3),                             // PROTO twice
        ] {
            assert!(
                matches!(read(bytes), Err(PickleError::Malformed { offset: o, .. }) if o == offset),
                "{bytes:?}: {:?}",
                read(bytes)
            );
        }
    }

    #[test]
    fn memo_indices_must_be_sequential() {
        assert_eq!(
            read(b"\x80\x03]r\xff\xff\xff\x7f.").unwrap_err(),
            PickleError::BadMemo {
                offset: 3,
                index: 0x7fff_ffff,
                memo_len: 0
            }
        );
        assert_eq!(
            read(b"\x80\x03]q\x00h\x05a.").unwrap_err(),
            PickleError::BadMemo {
                offset: 5,
                index: 5,
                memo_len: 1
            }
        );
        // Re-putting an existing index is what CPython allows too.
        assert_eq!(
            read(b"\x80\x03]q\x00X\x01\x00\x00\x00zq\x00a.").unwrap(),
            ["z"]
        );
    }
}

#[test]
fn reading_more_than_the_text_budget() {
    // Ten back-references to a 1 KiB string: 20 bytes pickled, 10 KiB as `String`s.
    let mut p = vec![0x80, 4, b']', 0x94, b'(', b'X', 0, 4, 0, 0];
    p.extend_from_slice(&[b'z'; 1024]);
    p.push(0x94);
    p.extend(std::iter::repeat_n([b'h', 1], 10).flatten());
    p.extend_from_slice(b"e.");
    let limits = Limits {
        max_text_overhead: 0,
        ..Limits::default()
    };
    let err = pickle::read_str_list(&p, &limits).unwrap_err();
    assert_eq!(
        err,
        PickleError::TooCostly {
            strings: 11,
            cost: 11 * 24 + 11 * 1024,
            max: 2 * p.len()
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "reading the pickle's 11 strings would take {} bytes, more than the {} allowed (twice its size plus max_text_overhead)",
            11 * 24 + 11 * 1024,
            2 * p.len()
        )
    );
    assert_eq!(pickle::read_str_refs(&p, &limits).unwrap().len(), 11);
    assert_eq!(pickle::census(&p, &limits).unwrap().text_bytes, 11 * 1024);
}
