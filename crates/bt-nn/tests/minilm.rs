//! The text encoder against the real all-MiniLM-L6-v2 weights: embeddings match a PyTorch
//! reference (the fixture and the command that made it: `scripts/minilm_reference.py`), and the
//! synapse serves strings and token ids and refuses bad input with typed errors.
//!
//! Needs the model in the cache or `BT_MINILM_DIR` (`scripts/fetch-minilm.sh`); skips with a
//! message otherwise, unless `BT_REQUIRE_MINILM=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bt_interfaces::{Synapse, SynapseError};
use bt_nn::text::{
    CandleMiniLm, MINILM_DIM, MiniLm, MinilmFiles, TextError, TextLimits, TextSynapse, TokenBatch,
};
use bt_tensor::{Limits, Modality, Tensor, decode, encode};

const FIXTURE: &str = include_str!("fixtures/minilm_reference.json");

fn model(limits: TextLimits) -> Option<MiniLm> {
    let files = MinilmFiles::locate_or_skip("MiniLM test").unwrap()?;
    Some(MiniLm::load(&files, limits).unwrap())
}

struct Reference {
    sentences: Vec<String>,
    ids: Vec<Vec<u32>>,
    embeddings: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    let v: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
    let list = |k: &str| v[k].as_array().unwrap().clone();
    Reference {
        sentences: list("sentences")
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect(),
        ids: list("ids")
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| u32::try_from(x.as_u64().unwrap()).unwrap())
                    .collect()
            })
            .collect(),
        embeddings: list("embeddings")
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect(),
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn embeddings_match_the_pytorch_reference_to_1e4() {
    let Some(m) = model(TextLimits::default()) else {
        return;
    };
    let r = reference();
    assert!(r.sentences.len() >= 5);
    let batch = m.tokenizer().tokenize(&r.sentences).unwrap();
    for (i, want) in r.ids.iter().enumerate() {
        assert_eq!(&batch.row(i), want, "token ids of sentence {i}");
    }
    let got = m.encode(&r.sentences).unwrap();
    let want: Vec<f32> = r.embeddings.concat();
    let diff = max_abs_diff(&got, &want);
    eprintln!("max abs diff to the PyTorch reference: {diff:.2e}");
    assert!(diff <= 1e-4, "max abs diff {diff}");
    // each text alone (no padding) gives the same vector as in the padded batch
    for (i, s) in r.sentences.iter().enumerate() {
        let alone = m.encode(&[s]).unwrap();
        let d = max_abs_diff(&alone, &got[i * MINILM_DIM..(i + 1) * MINILM_DIM]);
        assert!(d <= 1e-5, "sentence {i} alone differs by {d}");
    }
}

#[test]
fn the_packed_forward_matches_candles_bert_to_1e5() {
    let Some(m) = model(TextLimits::default()) else {
        return;
    };
    let files = MinilmFiles::locate(None).unwrap();
    let reference = CandleMiniLm::load(&files, TextLimits::default()).unwrap();
    let r = reference_fixture_batch(&m);
    let check = |batch: &TokenBatch, what: &str| {
        let got = m.embed(batch).unwrap();
        let want = reference.embed(batch).unwrap();
        let diff = max_abs_diff(&got, &want);
        eprintln!("{what}: max abs diff packed vs candle {diff:.2e}");
        assert!(diff <= 1e-5, "{what}: max abs diff {diff}");
        got
    };
    check(&r, "fixture sentences");
    // Peer ids: [PAD] holes inside rows, an all-padding row, rows of one token, and a row at
    // the full token cap, so packing, positions and the empty-row rule are all exercised.
    let len = TextLimits::default().max_tokens;
    let mut ids = vec![0i64; 5 * len];
    for (p, v) in ids[..len].iter_mut().enumerate() {
        *v = 1000 + (p as i64 * 37) % 20000;
    }
    ids[len..len + 6].copy_from_slice(&[101, 2023, 0, 2003, 0, 102]);
    ids[3 * len] = 101;
    ids[4 * len..4 * len + 3].copy_from_slice(&[101, 7592, 102]);
    let batch = TokenBatch::from_ids(&ids, 5, len, m.vocab_size(), m.limits()).unwrap();
    let got = check(&batch, "peer ids with holes");
    assert!(
        got[2 * MINILM_DIM..3 * MINILM_DIM]
            .iter()
            .all(|&v| v == 0.0)
    );
}

fn reference_fixture_batch(m: &MiniLm) -> TokenBatch {
    m.tokenizer().tokenize(&reference().sentences).unwrap()
}

fn wire(t: Tensor) -> Tensor {
    decode(&encode(&t), &Limits::default()).unwrap()
}

#[test]
fn the_synapse_serves_strings_and_token_ids_alike() {
    let Some(m) = model(TextLimits::default()) else {
        return;
    };
    let texts = [
        "A cat sat on the mat.",
        "",
        "Stocks fell sharply on Monday.",
    ];
    let direct = m.encode(&texts).unwrap();
    let batch = m.tokenizer().tokenize(&texts).unwrap();
    let s = TextSynapse::new(m);
    assert_eq!(s.output_dim(), Some(MINILM_DIM));
    let out = s
        .forward(Modality::Text, wire(Tensor::text(&texts)))
        .unwrap();
    assert_eq!(out.shape(), [3, MINILM_DIM]);
    assert_eq!(out.to_f32_vec().unwrap(), direct);
    let ids: Vec<i64> = batch.ids.iter().map(|&v| i64::from(v)).collect();
    let as_ids = Tensor::from_i64(&[3, batch.len], &ids, Modality::Text).unwrap();
    let out_ids = s.forward(Modality::Text, wire(as_ids)).unwrap();
    assert!(max_abs_diff(&out_ids.to_f32_vec().unwrap(), &direct) <= 1e-6);
    let ids32: Vec<i32> = batch.ids.iter().map(|&v| v as i32).collect();
    let as_i32 = Tensor::from_i32(&[3, batch.len], &ids32, Modality::Text).unwrap();
    let out32 = s.forward(Modality::Text, wire(as_i32)).unwrap();
    assert_eq!(out32, out_ids);
    // unit rows, and the two related-to-nothing texts are not the same vector
    let v = out.to_f32_vec().unwrap();
    for row in v.chunks(MINILM_DIM) {
        let n: f32 = row.iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-4, "norm² {n}");
    }
    assert!(max_abs_diff(&v[..MINILM_DIM], &v[2 * MINILM_DIM..]) > 1e-2);
}

fn invalid(r: Result<Tensor, SynapseError>) -> String {
    match r {
        Err(SynapseError::InvalidInput(msg)) => msg,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn bad_text_input_is_a_typed_error_never_a_panic() {
    let limits = TextLimits {
        max_batch: 4,
        max_text_bytes: 200,
        ..TextLimits::default()
    };
    let Some(m) = model(limits) else {
        return;
    };
    let vocab = m.vocab_size();
    let s = TextSynapse::new(m);
    let text = Tensor::text(&["hello"]);
    assert_eq!(
        s.forward(Modality::Image, text.clone()),
        Err(SynapseError::UnsupportedModality(Modality::Image))
    );
    let too_many = invalid(s.forward(Modality::Text, Tensor::text(&["a"; 5])));
    assert!(too_many.contains("5 texts"), "{too_many}");
    let long = "word ".repeat(50);
    let msg = invalid(s.forward(Modality::Text, Tensor::text(&["ok", long.as_str()])));
    assert!(msg.contains("text 1 is 250 bytes"), "{msg}");
    let bad_id = Tensor::from_i64(&[1, 3], &[101, vocab as i64, 102], Modality::Text).unwrap();
    let msg = invalid(s.forward(Modality::Text, bad_id));
    assert!(msg.contains(&format!("token id {vocab}")), "{msg}");
    let negative = Tensor::from_i64(&[1, 2], &[101, -7], Modality::Text).unwrap();
    assert!(invalid(s.forward(Modality::Text, negative)).contains("-7"));
    let long_ids = Tensor::from_i64(&[1, 300], &[1000; 300], Modality::Text).unwrap();
    assert!(invalid(s.forward(Modality::Text, long_ids)).contains("300 tokens"));
    let flat = Tensor::from_i64(&[6], &[101; 6], Modality::Text).unwrap();
    assert!(invalid(s.forward(Modality::Text, flat)).contains("[n, len]"));
    // unknown characters are [UNK] tokens, not errors
    let odd = s
        .forward(Modality::Text, Tensor::text(&["\u{1F642}\u{E000}\u{0} ☃"]))
        .unwrap();
    assert_eq!(odd.shape(), [1, MINILM_DIM]);
    assert!(matches!(
        s.backward(vec![text], vec![odd]),
        Err(SynapseError::InvalidInput(_))
    ));
}

#[test]
fn over_long_text_is_truncated_or_refused_as_configured() {
    let long = "tokens ".repeat(400);
    let Some(m) = model(TextLimits::default()) else {
        return;
    };
    let batch = m.tokenizer().tokenize(&[long.as_str()]).unwrap();
    assert_eq!(batch.len, TextLimits::default().max_tokens);
    let strict = model(TextLimits {
        truncate: false,
        ..TextLimits::default()
    })
    .unwrap();
    assert!(matches!(
        strict.encode(&[long.as_str()]),
        Err(TextError::TooManyTokens { index: 0, .. })
    ));
    assert_eq!(strict.encode(&["short"]).unwrap().len(), MINILM_DIM);
}
