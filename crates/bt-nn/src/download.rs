//! Fetches the official MNIST-like IDX files for users with internet access.
//!
//! Only compiled with real HTTP support under the `download` feature, so the default build and
//! the tests never reach the network; without it, [`download`] returns a clear error.

use std::path::Path;

use crate::dataset::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use crate::error::{NnError, Result};

/// Where the official files are published; tried in order (the original site often refuses
/// automated downloads, the second is the mirror torchvision uses).
pub const MNIST_MIRRORS: &[&str] = &[
    "https://yann.lecun.com/exdb/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
];
/// Zalando's Fashion-MNIST, same file names.
pub const FASHION_MNIST_MIRRORS: &[&str] =
    &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"];

/// Downloads the four IDX files into `dir` (skipping files already present and valid), checks
/// each one parses, and writes it atomically (temporary file + rename).
pub fn download(mirrors: &[&str], dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(crate::error::io_err(dir))?;
    for name in [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] {
        let dest = dir.join(name);
        if crate::idx::read_idx(&dest).is_ok() {
            continue;
        }
        let mut last = None;
        for base in mirrors {
            let url = format!("{base}{name}");
            match fetch(&url).and_then(|bytes| store(&url, &dest, &bytes)) {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
    }
    Ok(())
}

fn store(url: &str, dest: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = dest.with_extension("part");
    std::fs::write(&tmp, bytes).map_err(crate::error::io_err(&tmp))?;
    if let Err(e) = crate::idx::read_idx(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(NnError::Download {
            url: url.to_string(),
            reason: format!("not a valid IDX file: {e}"),
        });
    }
    std::fs::rename(&tmp, dest).map_err(crate::error::io_err(dest))
}

#[cfg(feature = "download")]
fn fetch(url: &str) -> Result<Vec<u8>> {
    let fail = |reason: String| NnError::Download {
        url: url.to_string(),
        reason,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(120)))
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .call()
        .map_err(|e| fail(format!("unreachable or refused: {e}")))?;
    resp.body_mut()
        .with_config()
        .limit(crate::idx::MAX_IDX_BYTES as u64)
        .read_to_vec()
        .map_err(|e| fail(format!("reading body: {e}")))
}

#[cfg(not(feature = "download"))]
fn fetch(url: &str) -> Result<Vec<u8>> {
    Err(NnError::Download {
        url: url.to_string(),
        reason: "bt-nn was built without the `download` feature; download the files by hand \
                 or rebuild with --features download"
            .to_string(),
    })
}
