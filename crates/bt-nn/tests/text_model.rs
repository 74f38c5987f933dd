//! The text neuron's model on real data: fortunes classified by topic (ten Debian fortune
//! files), alone and with MiniLM's sentence embeddings as its network context, as MiniLM peers
//! would answer. The network path must beat the same model alone by a wide margin, and the
//! student must learn to imitate the context.
//!
//! Needs MiniLM (`scripts/fetch-minilm.sh`) and Debian's `fortunes`; skips with a message when
//! either is missing, unless `BT_REQUIRE_MINILM=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use bt_nn::GradMode;
use bt_nn::text::corpus::{FORTUNE_TOPICS, fortune_topics};
use bt_nn::text::files::DEBIAN_FORTUNES_DIR;
use bt_nn::text::{MINILM_DIM, MiniLm, MinilmFiles, TextLimits, TextModel, TokenBatch};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

const TRAIN: usize = 1200;
const TEST: usize = 400;
const BATCH: usize = 32;
const EPOCHS: usize = 12;

fn required() -> bool {
    std::env::var("BT_REQUIRE_MINILM").is_ok_and(|v| v == "1")
}

struct Split {
    batches: Vec<(TokenBatch, Vec<u8>, Vec<f32>)>,
}

fn split(minilm: &MiniLm, items: &[(String, u8)]) -> Split {
    let batches = items
        .chunks(BATCH)
        .map(|c| {
            let texts: Vec<&str> = c.iter().map(|(t, _)| t.as_str()).collect();
            let tokens = minilm.tokenizer().tokenize(&texts).unwrap();
            let teacher = minilm.embed(&tokens).unwrap();
            (tokens, c.iter().map(|(_, y)| *y).collect(), teacher)
        })
        .collect();
    Split { batches }
}

fn accuracy(model: &TextModel, test: &Split, network: bool) -> f64 {
    let (mut right, mut all) = (0usize, 0usize);
    for (tokens, y, teacher) in &test.batches {
        let pred = if network {
            model.predict_with_context(tokens, teacher).unwrap()
        } else {
            model.predict(tokens).unwrap()
        };
        right += pred.iter().zip(y).filter(|(p, y)| p == y).count();
        all += y.len();
    }
    right as f64 / all as f64
}

#[test]
fn minilm_context_lifts_topic_accuracy_and_the_student_imitates_it() {
    let Some(files) = MinilmFiles::locate_or_skip("text model test").unwrap() else {
        return;
    };
    let dir = Path::new(DEBIAN_FORTUNES_DIR);
    if !dir.join(FORTUNE_TOPICS[0]).is_file() {
        assert!(
            !required(),
            "Debian's fortunes are missing ({DEBIAN_FORTUNES_DIR})"
        );
        eprintln!("skipping: no {DEBIAN_FORTUNES_DIR} (apt-get install fortunes)");
        return;
    }
    let minilm = MiniLm::load(&files, TextLimits::default()).unwrap();
    let mut items = fortune_topics(dir, &FORTUNE_TOPICS).unwrap();
    items.shuffle(&mut StdRng::seed_from_u64(5));
    let (test_items, rest) = items.split_at(TEST);
    let train = split(&minilm, &rest[..TRAIN]);
    let test = split(&minilm, test_items);
    let vocab = minilm.tokenizer().vocab_size();
    let sgd = GradMode::Sgd {
        lr: 0.05,
        momentum: 0.9,
    };

    let mut alone = TextModel::new(vocab, 1);
    let mut joined = TextModel::new(vocab, 1);
    let mut distil = Vec::new();
    for _ in 0..EPOCHS {
        let mut sum = 0.0;
        for (tokens, y, teacher) in &train.batches {
            let own = alone.student(tokens).unwrap();
            alone.step(tokens, y, &own, sgd, false).unwrap();
            sum += joined
                .step(tokens, y, teacher, sgd, false)
                .unwrap()
                .distillation;
        }
        distil.push(sum / train.batches.len() as f32);
    }
    let alone_acc = accuracy(&alone, &test, false);
    let network_acc = accuracy(&joined, &test, true);
    let local_acc = accuracy(&joined, &test, false);
    eprintln!(
        "topic accuracy on {TEST} held-out fortunes: alone {alone_acc:.3}, joined network \
         path {network_acc:.3}, joined local path {local_acc:.3}; distillation loss per epoch \
         {distil:?}"
    );
    assert!(alone_acc > 0.15, "alone learns something: {alone_acc}");
    assert!(
        network_acc > alone_acc + 0.1,
        "MiniLM's context must lift accuracy: {network_acc} vs {alone_acc}"
    );
    assert!(
        distil[EPOCHS - 1] < 0.7 * distil[0],
        "the student imitates MiniLM: {distil:?}"
    );
    assert_eq!(MINILM_DIM, 384);
}
