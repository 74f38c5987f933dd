//! Speed of the text encoder's forward (all-MiniLM-L6-v2): bt-nn's packed forward (what
//! `MiniLm` serves), candle's BERT (the reference it is tested against) and the PyTorch
//! reference forward of `scripts/minilm_reference.py`, in the same run, on the same token ids.
//!
//! `cargo run --release -p bt-nn --bin text-bench -- [--batch N] [--rounds N] [--python PATH]`
//!
//! The batch is the first `--batch` sentences (default 32) of gensim's `lee_background.cor`
//! (`scripts/fetch-minilm.sh --corpora`), tokenized once by bt-nn; each round times one forward
//! of the whole batch (BERT, pooling, normalization) in every engine, and the largest difference
//! between the two Rust engines' embeddings is printed. PyTorch runs in
//! `--python` (default `$BT_TORCH_PYTHON`, else `python3`) and is reported as not available
//! when that interpreter cannot import torch and numpy.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use bt_nn::text::corpus::{corpus_path, lee_sentences};
use bt_nn::text::{CandleMiniLm, MiniLm, MinilmFiles, TextLimits};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn arg<'a>(args: &'a [String], name: &str) -> Res<Option<&'a str>> {
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(Some(
            args.get(i + 1)
                .ok_or(format!("{name} needs a value"))?
                .as_str(),
        )),
        None => Ok(None),
    }
}

fn median_and_spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Sentences per second of `rounds` timed calls of `forward` on a batch of `batch` texts.
fn rates(
    batch: usize,
    rounds: usize,
    mut forward: impl FnMut() -> Result<(), bt_nn::text::TextError>,
) -> Res<Vec<f64>> {
    forward()?;
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            forward()?;
            Ok(batch as f64 / t.elapsed().as_secs_f64())
        })
        .collect()
}

/// Per-round ratio of two engines' rates, as median and spread.
fn ratio(name: &str, a: &[f64], b: &[f64]) {
    let r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    let (m, lo, hi) = median_and_spread(r);
    println!("{name}, per round: median {m:.2}x (spread {lo:.2}x–{hi:.2}x)");
}

/// PyTorch's sentences per second for each round, or why there are none.
fn torch_rates(
    python: &str,
    model_dir: &std::path::Path,
    rows: &[Vec<u32>],
    rounds: usize,
) -> Result<Vec<f64>, String> {
    let importable = Command::new(python)
        .args(["-c", "import torch, numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !importable {
        return Err(format!(
            "PyTorch not available ({python} cannot import torch and numpy; set BT_TORCH_PYTHON)"
        ));
    }
    let ids_file = std::env::temp_dir().join(format!("bt-text-bench-{}.json", std::process::id()));
    let json = serde_json::json!({ "ids": rows });
    std::fs::write(&ids_file, json.to_string()).map_err(|e| e.to_string())?;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/minilm_reference.py"
    );
    let out = Command::new(python)
        .arg(script)
        .arg("bench")
        .arg(model_dir)
        .arg(&ids_file)
        .args(["--rounds", &rounds.to_string()])
        .output()
        .map_err(|e| e.to_string());
    let _ = std::fs::remove_file(&ids_file);
    let out = out?;
    if !out.status.success() {
        return Err(format!(
            "PyTorch run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("PyTorch output: {e}"))?;
    let rates = v["sentences_per_s"]
        .as_array()
        .ok_or("PyTorch output has no sentences_per_s")?
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect::<Vec<_>>();
    println!(
        "pytorch {} with {} threads",
        v["torch"].as_str().unwrap_or("?"),
        v["threads"]
    );
    if rates.len() == rounds {
        Ok(rates)
    } else {
        Err(format!("PyTorch gave {} rounds", rates.len()))
    }
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let batch: usize = arg(&args, "--batch")?.map_or(Ok(32), str::parse)?;
    let rounds: usize = arg(&args, "--rounds")?.map_or(Ok(3), str::parse)?;
    let python = arg(&args, "--python")?
        .map(str::to_string)
        .or_else(|| std::env::var("BT_TORCH_PYTHON").ok())
        .unwrap_or_else(|| "python3".to_string());
    let model_dir = arg(&args, "--model-dir")?.map(PathBuf::from);
    if rounds == 0 || batch == 0 {
        return Err("--batch and --rounds must be at least 1".into());
    }

    let files = MinilmFiles::locate(model_dir.as_deref())?;
    let limits = TextLimits {
        max_batch: batch.max(TextLimits::DEFAULT.max_batch),
        ..TextLimits::DEFAULT
    };
    let model = MiniLm::load(&files, limits)?;
    let sentences: Vec<String> = lee_sentences(&corpus_path("lee_background.cor")?)?
        .into_iter()
        .take(batch)
        .collect();
    if sentences.len() < batch {
        return Err(format!("the corpus has only {} sentences", sentences.len()).into());
    }
    let t0 = Instant::now();
    let tokens = model.tokenizer().tokenize(&sentences)?;
    let tokenize_rate = batch as f64 / t0.elapsed().as_secs_f64();
    let rows: Vec<Vec<u32>> = (0..batch).map(|r| tokens.row(r)).collect();
    println!(
        "batch: {batch} sentences of lee_background.cor, padded to {} tokens ({} real); \
         bt-nn tokenizer {tokenize_rate:.0} sentences/s",
        tokens.len,
        rows.iter().map(Vec::len).sum::<usize>()
    );

    let reference = CandleMiniLm::load(&files, limits)?;
    let fast = model.embed(&tokens)?; // also the warm-up
    let slow = reference.embed(&tokens)?;
    let diff = fast
        .iter()
        .zip(&slow)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!("largest difference, packed against candle: {diff:.2e}");
    let ours = rates(batch, rounds, || model.embed(&tokens).map(drop))?;
    let candle = rates(batch, rounds, || reference.embed(&tokens).map(drop))?;
    let torch = torch_rates(&python, &files.dir, &rows, rounds);

    println!("\n| engine | median sentences/s | min | max | rounds |\n|---|---|---|---|---|");
    for (name, r) in [("bt-nn (packed)", &ours), ("bt-nn (candle)", &candle)] {
        let (m, lo, hi) = median_and_spread(r.clone());
        println!("| {name} | {m:.1} | {lo:.1} | {hi:.1} | {rounds} |");
    }
    let torch = match torch {
        Ok(t) => {
            let (tm, tlo, thi) = median_and_spread(t.clone());
            println!("| PyTorch | {tm:.1} | {tlo:.1} | {thi:.1} | {rounds} |");
            Some(t)
        }
        Err(why) => {
            println!("| PyTorch | – | – | – | 0 |\n\n{why}");
            None
        }
    };
    println!();
    ratio("packed / candle", &ours, &candle);
    if let Some(t) = torch {
        ratio("packed / PyTorch", &ours, &t);
        ratio("candle / PyTorch", &candle, &t);
    }
    Ok(())
}
