//! Speed of the text encoder's forward (all-MiniLM-L6-v2): bt-nn (candle) against the PyTorch
//! reference forward of `scripts/minilm_reference.py`, in the same run, on the same token ids.
//!
//! `cargo run --release -p bt-nn --bin text-bench -- [--batch N] [--rounds N] [--python PATH]`
//!
//! The batch is the first `--batch` sentences (default 32) of gensim's `lee_background.cor`
//! (`scripts/fetch-minilm.sh --corpora`), tokenized once by bt-nn; each round times one forward
//! of the whole batch (BERT, pooling, normalization) in both engines. PyTorch runs in
//! `--python` (default `$BT_TORCH_PYTHON`, else `python3`) and is reported as not available
//! when that interpreter cannot import torch and numpy.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use bt_nn::text::corpus::{corpus_path, lee_sentences};
use bt_nn::text::{MiniLm, MinilmFiles, TextLimits};

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

    model.embed(&tokens)?; // warm-up
    let mut ours = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        model.embed(&tokens)?;
        ours.push(batch as f64 / t.elapsed().as_secs_f64());
    }
    let torch = torch_rates(&python, &files.dir, &rows, rounds);

    println!("\n| engine | median sentences/s | min | max | rounds |\n|---|---|---|---|---|");
    let (om, olo, ohi) = median_and_spread(ours.clone());
    println!("| bt-nn (candle) | {om:.1} | {olo:.1} | {ohi:.1} | {rounds} |");
    match torch {
        Ok(t) => {
            let (tm, tlo, thi) = median_and_spread(t.clone());
            println!("| PyTorch | {tm:.1} | {tlo:.1} | {thi:.1} | {rounds} |");
            let ratios: Vec<f64> = ours.iter().zip(&t).map(|(a, b)| a / b).collect();
            let (rm, rlo, rhi) = median_and_spread(ratios);
            println!("\nbt-nn / PyTorch, per round: median {rm:.2}x (spread {rlo:.2}x–{rhi:.2}x)");
        }
        Err(why) => println!("| PyTorch | – | – | – | 0 |\n\n{why}"),
    }
    Ok(())
}
