//! A small MNIST (the first images of the vendored splits) so that a neuron finishes an epoch,
//! prints its test accuracy and writes its checkpoint every few seconds: the fault scenario
//! reads both many times per run.

use std::path::Path;

use bt_nn::dataset::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use bt_nn::idx::read_idx;

/// Writes `train` training and `test` test examples under `dir` as uncompressed IDX files with
/// the standard names (the loader reads plain and gzipped files alike).
pub fn write_subset(dir: &Path, train: usize, test: usize) -> std::io::Result<()> {
    let src = bt_nn::default_mnist_dir();
    std::fs::create_dir_all(dir)?;
    for (name, n) in [
        (TRAIN_IMAGES, train),
        (TRAIN_LABELS, train),
        (TEST_IMAGES, test),
        (TEST_LABELS, test),
    ] {
        let idx = read_idx(src.join(name)).map_err(std::io::Error::other)?;
        let n = n.min(idx.dims.first().copied().unwrap_or(0));
        let per_item: usize = idx.dims.iter().skip(1).product();
        let mut out = vec![0, 0, 0x08, u8::try_from(idx.dims.len()).unwrap_or(0)];
        out.extend_from_slice(&u32::try_from(n).unwrap_or(0).to_be_bytes());
        for d in idx.dims.iter().skip(1) {
            out.extend_from_slice(&u32::try_from(*d).unwrap_or(0).to_be_bytes());
        }
        out.extend_from_slice(&idx.data[..n * per_item]);
        std::fs::write(dir.join(name), out)?;
    }
    Ok(())
}
