//! Readers for the real text corpora the text neuron trains and is evaluated on: gensim's
//! `lee_background.cor` (one news document per line), `pang_lee_polarity.cor`
//! (`__label__pos|neg sentence` per line) and Debian's plain-text fortunes (`%` lines
//! between entries). Each file is read whole, so its size is capped first.

use std::path::{Path, PathBuf};

use super::error::{TextError, io_err};
use super::files::default_text_corpora_dir;

/// Largest corpus file read (default 64 MiB; the real ones are under 3 MiB).
pub const MAX_CORPUS_BYTES: u64 = 64 << 20;

fn read_capped(path: &Path) -> Result<String, TextError> {
    let len = std::fs::metadata(path).map_err(io_err(path))?.len();
    if len > MAX_CORPUS_BYTES {
        return Err(TextError::BadModelFile {
            path: path.to_path_buf(),
            reason: format!("{len} bytes, more than the {MAX_CORPUS_BYTES}-byte corpus cap"),
        });
    }
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    // fortunes hold a few Latin-1 bytes: keep the text, replace what is not UTF-8
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A corpus file by name in `$BT_TEXT_CORPORA_DIR` or the cache, or an error saying how to
/// fetch it.
pub fn corpus_path(name: &str) -> Result<PathBuf, TextError> {
    let dir = default_text_corpora_dir().ok_or_else(|| missing_corpus(name, None))?;
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(missing_corpus(name, Some(&path)))
    }
}

fn missing_corpus(name: &str, path: Option<&Path>) -> TextError {
    TextError::Io {
        path: path.map_or_else(|| PathBuf::from(name), Path::to_path_buf),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "fetch the gensim corpora with `scripts/fetch-minilm.sh --corpora` \
             (pip download --no-deps gensim==4.4.0, unzip gensim/test/test_data/*.cor)",
        ),
    }
}

/// The sentences of `text`: split after `.`, `!` or `?` followed by whitespace, trimmed,
/// keeping those of at least `min_words` words.
pub fn sentences(text: &str, min_words: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let ends = matches!(b, b'.' | b'!' | b'?')
            && bytes.get(i + 1).is_none_or(|c| c.is_ascii_whitespace());
        if ends {
            push_sentence(&mut out, &text[start..=i], min_words);
            start = i + 1;
        }
    }
    push_sentence(&mut out, &text[start..], min_words);
    out
}

fn push_sentence(out: &mut Vec<String>, s: &str, min_words: usize) {
    let s = s.split_whitespace().collect::<Vec<_>>();
    if s.len() >= min_words.max(1) {
        out.push(s.join(" "));
    }
}

/// `lee_background.cor`: its documents' sentences of at least 4 words, in file order.
pub fn lee_sentences(path: &Path) -> Result<Vec<String>, TextError> {
    let text = read_capped(path)?;
    Ok(text.lines().flat_map(|doc| sentences(doc, 4)).collect())
}

/// Splits `items` in order into `(kept, held_out)`: every `nth` item (the `nth`, `2·nth`, …)
/// is held out, so the held-out part spreads over the whole corpus. `nth` 0 holds out nothing.
pub fn hold_out_every<T>(items: Vec<T>, nth: usize) -> (Vec<T>, Vec<T>) {
    let (mut kept, mut held_out) = (Vec::new(), Vec::new());
    for (i, item) in items.into_iter().enumerate() {
        if nth > 0 && i % nth == nth - 1 {
            held_out.push(item);
        } else {
            kept.push(item);
        }
    }
    (kept, held_out)
}

/// `pang_lee_polarity.cor`: `(sentence, positive)` pairs.
pub fn pang_lee(path: &Path) -> Result<Vec<(String, bool)>, TextError> {
    let text = read_capped(path)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (label, sentence) = line.split_once(' ').unwrap_or((line, ""));
        let positive = match label {
            "__label__pos" => true,
            "__label__neg" => false,
            other => {
                return Err(TextError::BadModelFile {
                    path: path.to_path_buf(),
                    reason: format!("line {}: unknown label {other:?}", n + 1),
                });
            }
        };
        out.push((sentence.trim().to_string(), positive));
    }
    Ok(out)
}

/// The entries of the plain-text fortune files in `dir` (files without an extension; the
/// `.dat` indexes and `.u8` links are skipped), whitespace-collapsed, of at least 4 words, in
/// file-name order; entries that are mostly not letters (ASCII art, tables) are left out.
pub fn fortunes(dir: &Path) -> Result<Vec<String>, TextError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_none())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = read_capped(&f)?;
        for entry in text.split("\n%\n") {
            if is_prose(entry) {
                push_sentence(&mut out, entry.trim_end_matches('%'), 4);
            }
        }
    }
    Ok(out)
}

/// The ten fortune files the text neuron classifies by: the largest prose files of Debian's
/// `fortunes` package. An entry's label is its file's index here.
pub const FORTUNE_TOPICS: [&str; 10] = [
    "people",
    "definitions",
    "cookie",
    "computers",
    "songs-poems",
    "politics",
    "miscellaneous",
    "work",
    "science",
    "men-women",
];

/// The prose entries of the fortune files `topics` in `dir`, each with its file's index:
/// whitespace-collapsed, at least 4 words, in file then entry order. A missing file is an
/// error naming it and the package.
pub fn fortune_topics(dir: &Path, topics: &[&str]) -> Result<Vec<(String, u8)>, TextError> {
    let mut out = Vec::new();
    for (label, topic) in topics.iter().enumerate() {
        let label = u8::try_from(label).map_err(|_| TextError::Shape {
            op: "fortune topics",
            expected: "at most 256".into(),
            got: topics.len().to_string(),
        })?;
        let path = dir.join(topic);
        if !path.is_file() {
            return Err(TextError::Io {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "install Debian's fortunes (`apt-get install fortunes`) or point \
                     --data_dir at a directory of fortune files",
                ),
            });
        }
        let text = read_capped(&path)?;
        let mut entries = Vec::new();
        for entry in text.split("\n%\n") {
            if is_prose(entry) {
                push_sentence(&mut entries, entry.trim_end_matches('%'), 4);
            }
        }
        out.extend(entries.into_iter().map(|e| (e, label)));
    }
    Ok(out)
}

fn is_prose(entry: &str) -> bool {
    let total = entry.chars().count();
    let letters = entry
        .chars()
        .filter(|c| c.is_alphabetic() || c.is_whitespace())
        .count();
    total > 0 && letters * 5 >= total * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_item_is_held_out() {
        assert_eq!(
            hold_out_every((1..=7).collect(), 3),
            (vec![1, 2, 4, 5, 7], vec![3, 6])
        );
        assert_eq!(hold_out_every(vec![1, 2], 0), (vec![1, 2], vec![]));
    }

    #[test]
    fn sentences_split_at_terminal_punctuation_only() {
        let s = sentences(
            "It costs 3.14 dollars. Really?  Yes!\nok. Four words make one",
            2,
        );
        assert_eq!(s, ["It costs 3.14 dollars.", "Four words make one"]);
    }

    #[test]
    fn pang_lee_labels_are_read_and_unknown_ones_refused() {
        let dir = std::env::temp_dir().join(format!("bt-pang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("p.cor");
        std::fs::write(&p, "__label__neg dull .\n__label__pos fun !\n").unwrap();
        assert_eq!(
            pang_lee(&p).unwrap(),
            [("dull .".to_string(), false), ("fun !".to_string(), true)]
        );
        std::fs::write(&p, "__label__meh so-so\n").unwrap();
        assert!(pang_lee(&p).is_err());
        std::fs::write(
            dir.join("f"),
            "one two three four\n%\nshort\n%\n|__|--|__|--| art +\n%\n",
        )
        .unwrap();
        assert_eq!(fortunes(&dir).unwrap(), ["one two three four"]);
        std::fs::write(dir.join("g"), "five six seven eight nine\n%\n").unwrap();
        assert_eq!(
            fortune_topics(&dir, &["g", "f"]).unwrap(),
            [
                ("five six seven eight nine".to_string(), 0),
                ("one two three four".to_string(), 1)
            ]
        );
        let missing = fortune_topics(&dir, &["absent"]).unwrap_err().to_string();
        assert!(missing.contains("absent"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
