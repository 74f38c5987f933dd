//! Distils the small text student from MiniLM on real corpora and prints its learning curves:
//! the cosine of its embeddings to the teacher's on held-out sentences, and the accuracy of a
//! linear probe on `pang_lee_polarity.cor` (sentiment) over its embeddings, per epoch.
//!
//! `cargo run --release -p bt-neuron --bin text-distill -- [--epochs N] [--fortunes N]
//! [--max-train N] [--max-held-out N] [--batch N] [--seed N] [--csv PATH]`
//!
//! The teacher is a MiniLM peer on the network: an axon serving [`TextSynapse`] on loopback,
//! which the student's dendrite calls with signed gRPC `Forward` requests carrying the sentences
//! as a pickled string list, as any text neuron would. Its answers are kept (each sentence is
//! asked once), so the epochs after the first cost the teacher nothing. Training sentences: `lee_background.cor`
//! (every 10th sentence held out) and up to `--fortunes` entries of Debian's fortunes
//! (`apt-get install fortunes`; skipped when absent). The probe's split: every 4th Pang–Lee
//! sentence is a test sentence.

use std::path::Path;
use std::time::Instant;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::{Axon, AxonConfig, AxonHandle};
use bt_crypto::NeuronKey;
use bt_dendrite::{Dendrite, DendriteConfig, Endpoint};
use bt_nn::text::corpus::{corpus_path, fortunes, hold_out_every, lee_sentences, pang_lee};
use bt_nn::text::files::DEBIAN_FORTUNES_DIR;
use bt_nn::text::{
    MINILM_DIM, MiniLm, MinilmFiles, StudentConfig, TextLimits, TextStudent, TextSynapse,
    TokenBatch, linear_probe_accuracy, row_cosines,
};
use bt_tensor::Tensor;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Res<T>
where
    T::Err: std::error::Error + 'static,
{
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(args
            .get(i + 1)
            .ok_or(format!("{name} needs a value"))?
            .parse()?),
        None => Ok(default),
    }
}

const CHUNK: usize = 64;

/// MiniLM served by an axon on loopback, and the dendrite that asks it.
struct RemoteTeacher {
    axon: AxonHandle,
    dendrite: Dendrite,
    endpoint: Endpoint,
}

impl RemoteTeacher {
    async fn start(model: MiniLm) -> Res<Self> {
        let key = NeuronKey::generate().public_hex();
        let axon = Axon::builder(AxonConfig::default())
            .serve_synapse(key.clone(), Arc::new(TextSynapse::new(model)))
            .start("127.0.0.1:0".parse()?)
            .await?;
        let endpoint = Endpoint::new("127.0.0.1", axon.local_addr().port(), key);
        let dendrite = Dendrite::new(
            NeuronKey::generate(),
            DendriteConfig {
                timeout: Duration::from_secs(60),
                ..DendriteConfig::default()
            },
        );
        Ok(Self {
            axon,
            dendrite,
            endpoint,
        })
    }

    /// MiniLM's embeddings of `texts`, asked `CHUNK` sentences per request.
    async fn embeddings(&self, texts: &[String]) -> Res<Vec<f32>> {
        let mut out = Vec::with_capacity(texts.len() * MINILM_DIM);
        for chunk in texts.chunks(CHUNK) {
            let mut replies = self
                .dendrite
                .forward_text(vec![(self.endpoint.clone(), Tensor::text(chunk))])
                .await?;
            let reply = replies.pop().ok_or("the dendrite returned no reply")?;
            let outcome = reply.outcome.to_string();
            let answer = reply
                .outcome
                .into_tensor()
                .ok_or_else(|| format!("the teacher did not answer: {outcome}"))?;
            out.extend(answer.to_f32_vec()?);
        }
        Ok(out)
    }
}

fn tokenize_all(model: &MiniLm, texts: &[String]) -> Res<Vec<TokenBatch>> {
    texts
        .chunks(CHUNK)
        .map(|c| Ok(model.tokenizer().tokenize(c)?))
        .collect()
}

fn student_embeddings(student: &TextStudent, batches: &[TokenBatch]) -> Res<Vec<f32>> {
    let mut out = Vec::new();
    for b in batches {
        out.extend(student.embed(b)?);
    }
    Ok(out)
}

struct Probe {
    train: Vec<TokenBatch>,
    test: Vec<TokenBatch>,
    train_y: Vec<bool>,
    test_y: Vec<bool>,
}

impl Probe {
    fn accuracy(&self, embed: impl Fn(&[TokenBatch]) -> Res<Vec<f32>>) -> Res<f32> {
        Ok(linear_probe_accuracy(
            &embed(&self.train)?,
            &self.train_y,
            &embed(&self.test)?,
            &self.test_y,
            MINILM_DIM,
        ))
    }
}

#[tokio::main]
async fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let epochs: usize = arg(&args, "--epochs", 12)?;
    let max_fortunes: usize = arg(&args, "--fortunes", 3000)?;
    let batch: usize = arg(&args, "--batch", 32)?;
    let seed: u64 = arg(&args, "--seed", 0)?;
    let csv: String = arg(&args, "--csv", String::new())?;
    let max_train: usize = arg(&args, "--max-train", 4000)?;
    let max_held_out: usize = arg(&args, "--max-held-out", 200)?;
    if batch == 0 || batch > TextLimits::DEFAULT.max_batch {
        return Err(format!("--batch must be in 1..={}", TextLimits::DEFAULT.max_batch).into());
    }

    let files = MinilmFiles::locate(None)?;
    let tokenizer_model = MiniLm::load(&files, TextLimits::DEFAULT)?;
    let teacher_model = MiniLm::load(&files, TextLimits::DEFAULT)?;

    let lee = lee_sentences(&corpus_path("lee_background.cor")?)?;
    let (mut train, mut held_out) = hold_out_every(lee, 10);
    let fortune_dir = Path::new(DEBIAN_FORTUNES_DIR);
    if fortune_dir.is_dir() {
        let mut f = fortunes(fortune_dir)?;
        f.shuffle(&mut StdRng::seed_from_u64(seed));
        train.extend(f.into_iter().take(max_fortunes));
    } else {
        println!("no fortunes at {DEBIAN_FORTUNES_DIR} (apt-get install fortunes): Lee only");
    }
    // the teacher's time is the run's cost: cap the sentences it answers
    train.shuffle(&mut StdRng::seed_from_u64(seed.wrapping_add(2)));
    train.truncate(max_train);
    held_out.truncate(max_held_out);
    let pang = pang_lee(&corpus_path("pang_lee_polarity.cor")?)?;
    let (mut p_train, mut p_test) = (Vec::new(), Vec::new());
    let (mut p_train_y, mut p_test_y) = (Vec::new(), Vec::new());
    for (i, (s, y)) in pang.into_iter().enumerate() {
        if i.is_multiple_of(4) {
            p_test.push(s);
            p_test_y.push(y);
        } else {
            p_train.push(s);
            p_train_y.push(y);
        }
    }
    println!(
        "train: {} sentences (Lee and fortunes, shuffled); held out: {} Lee; probe: {} train, {} test",
        train.len(),
        held_out.len(),
        p_train.len(),
        p_test.len()
    );

    let t0 = Instant::now();
    let teacher = RemoteTeacher::start(MiniLm::load(&files, TextLimits::DEFAULT)?).await?;
    let teacher_train = teacher.embeddings(&train).await?;
    let teacher_held = teacher.embeddings(&held_out).await?;
    teacher.axon.shutdown(Duration::from_secs(1)).await?;
    println!(
        "teacher answered {} sentences over loopback gRPC in {:.1} s",
        train.len() + held_out.len(),
        t0.elapsed().as_secs_f64()
    );
    let probe = Probe {
        train: tokenize_all(&tokenizer_model, &p_train)?,
        test: tokenize_all(&tokenizer_model, &p_test)?,
        train_y: p_train_y,
        test_y: p_test_y,
    };
    let teacher_probe = probe.accuracy(|bs| {
        let mut out = Vec::new();
        for b in bs {
            out.extend(teacher_model.embed(b)?);
        }
        Ok(out)
    })?;
    let held_batches = tokenize_all(&tokenizer_model, &held_out)?;

    let mut student = TextStudent::new(
        tokenizer_model.vocab_size(),
        StudentConfig {
            seed,
            ..StudentConfig::default()
        },
    )?;
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(1));
    let mut rows = Vec::new();
    let eval = |student: &TextStudent| -> Res<(f32, f32)> {
        let cos = row_cosines(
            &student_embeddings(student, &held_batches)?,
            &teacher_held,
            MINILM_DIM,
        );
        let mean = cos.iter().sum::<f32>() / cos.len().max(1) as f32;
        Ok((mean, probe.accuracy(|bs| student_embeddings(student, bs))?))
    };
    let (cos0, acc0) = eval(&student)?;
    rows.push((0usize, f32::NAN, cos0, acc0));
    println!("\n| epoch | train loss (1 - cos) | held-out cosine to teacher | probe accuracy |");
    println!("|---|---|---|---|");
    println!("| 0 | – | {cos0:.4} | {acc0:.3} |");
    for epoch in 1..=epochs {
        order.shuffle(&mut rng);
        let (mut loss_sum, mut steps) = (0f32, 0usize);
        for idx in order.chunks(batch) {
            let texts: Vec<&str> = idx.iter().map(|&i| train[i].as_str()).collect();
            let tokens = tokenizer_model.tokenizer().tokenize(&texts)?;
            let target: Vec<f32> = idx
                .iter()
                .flat_map(|&i| &teacher_train[i * MINILM_DIM..(i + 1) * MINILM_DIM])
                .copied()
                .collect();
            loss_sum += student.step(&tokens, &target)?;
            steps += 1;
        }
        let loss = loss_sum / steps.max(1) as f32;
        let (cos, acc) = eval(&student)?;
        println!("| {epoch} | {loss:.4} | {cos:.4} | {acc:.3} |");
        rows.push((epoch, loss, cos, acc));
    }
    println!("\nteacher (MiniLM) probe accuracy: {teacher_probe:.3}");
    if !csv.is_empty() {
        let mut text = String::from("epoch,train_loss,heldout_cosine,probe_accuracy\n");
        for (e, l, c, a) in &rows {
            text.push_str(&format!("{e},{l},{c},{a}\n"));
        }
        text.push_str(&format!("teacher,,1,{teacher_probe}\n"));
        std::fs::write(&csv, text)?;
        println!("curves written to {csv}");
    }
    Ok(())
}
