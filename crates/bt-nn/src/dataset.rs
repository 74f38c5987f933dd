//! In-memory image-classification datasets (MNIST, Fashion-MNIST) and seeded mini-batches.
//!
//! Images are normalized once at load time into one contiguous `f32` buffer so a batch is a
//! gather of rows into a reused buffer: no allocation per step.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::error::{NnError, Result};
use crate::idx::read_idx;

/// MNIST's normalization constants (mean and standard deviation of the training pixels).
pub const MNIST_MEAN: f32 = 0.1307;
pub const MNIST_STD: f32 = 0.3081;
/// Number of classes of MNIST-like datasets.
pub const NUM_CLASSES: usize = 10;

/// The standard IDX file names of an MNIST-like dataset directory.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte.gz";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte.gz";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte.gz";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte.gz";

/// The MNIST vendored in the repository (`data/mnist/`), or `$BT_MNIST_DIR` when set.
pub fn default_mnist_dir() -> PathBuf {
    std::env::var_os("BT_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"))
}

/// Labelled images, normalized, row-major `[len, dim]`.
#[derive(Debug, Clone)]
pub struct Dataset {
    images: Vec<f32>,
    labels: Vec<u8>,
    dim: usize,
}

impl Dataset {
    /// Builds a dataset from raw pixels (`len × dim` bytes) normalized as `(p/255 - mean)/std`.
    pub fn from_pixels(
        pixels: &[u8],
        labels: Vec<u8>,
        dim: usize,
        mean: f32,
        std: f32,
    ) -> Result<Self> {
        if dim == 0 || pixels.len() != labels.len() * dim {
            return Err(NnError::Dataset(format!(
                "{} pixels for {} labels of dimension {dim}",
                pixels.len(),
                labels.len()
            )));
        }
        if let Some(bad) = labels.iter().find(|&&l| usize::from(l) >= NUM_CLASSES) {
            return Err(NnError::Dataset(format!(
                "label {bad} out of range 0..{NUM_CLASSES}"
            )));
        }
        let scale = 1.0 / (255.0 * std);
        let shift = mean / std;
        let images = pixels
            .iter()
            .map(|&p| f32::from(p) * scale - shift)
            .collect();
        Ok(Self {
            images,
            labels,
            dim,
        })
    }

    /// A dataset of already normalized images (`labels.len() × dim` values).
    pub fn from_normalized(images: Vec<f32>, labels: Vec<u8>, dim: usize) -> Result<Self> {
        if dim == 0 || images.len() != labels.len() * dim {
            return Err(NnError::Dataset(format!(
                "{} values for {} labels of dimension {dim}",
                images.len(),
                labels.len()
            )));
        }
        if let Some(bad) = labels.iter().find(|&&l| usize::from(l) >= NUM_CLASSES) {
            return Err(NnError::Dataset(format!(
                "label {bad} out of range 0..{NUM_CLASSES}"
            )));
        }
        Ok(Self {
            images,
            labels,
            dim,
        })
    }

    /// Loads an images/labels IDX pair with MNIST normalization.
    pub fn load_idx(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Self> {
        let img = read_idx(images.as_ref())?;
        let lab = read_idx(labels.as_ref())?;
        if img.dims.len() != 3 || lab.dims.len() != 1 || img.dims[0] != lab.dims[0] {
            return Err(NnError::Dataset(format!(
                "{} has dims {:?} but {} has {:?}: expected [n, rows, cols] and [n]",
                images.as_ref().display(),
                img.dims,
                labels.as_ref().display(),
                lab.dims
            )));
        }
        Self::from_pixels(
            &img.data,
            lab.data,
            img.dims[1] * img.dims[2],
            MNIST_MEAN,
            MNIST_STD,
        )
    }

    /// Loads `(train, test)` from a directory holding the four standard IDX files.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<(Self, Self)> {
        let d = dir.as_ref();
        Ok((
            Self::load_idx(d.join(TRAIN_IMAGES), d.join(TRAIN_LABELS))?,
            Self::load_idx(d.join(TEST_IMAGES), d.join(TEST_LABELS))?,
        ))
    }

    /// The first `n` examples (or all of them when fewer).
    pub fn head(&self, n: usize) -> Self {
        let n = n.min(self.len());
        Self {
            images: self.images[..n * self.dim].to_vec(),
            labels: self.labels[..n].to_vec(),
            dim: self.dim,
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Values per example (784 for MNIST).
    pub fn dim(&self) -> usize {
        self.dim
    }
    pub fn images(&self) -> &[f32] {
        &self.images
    }
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Copies the examples at `indices` into `batch` (resized to fit, reusing its allocation).
    pub fn gather(&self, indices: &[usize], batch: &mut Batch) -> Result<()> {
        batch.x.clear();
        batch.y.clear();
        for &i in indices {
            let row = self
                .images
                .get(i * self.dim..(i + 1) * self.dim)
                .ok_or_else(|| {
                    NnError::Dataset(format!("index {i} out of range 0..{}", self.len()))
                })?;
            batch.x.extend_from_slice(row);
            batch.y.push(self.labels[i]);
        }
        batch.dim = self.dim;
        Ok(())
    }

    /// One epoch of shuffled full batches (the trailing partial batch is dropped, like the
    /// reference), reproducible from `seed`.
    pub fn epoch(&self, batch_size: usize, seed: u64) -> Epoch<'_> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        Epoch {
            data: self,
            order,
            batch_size: batch_size.max(1),
            pos: 0,
        }
    }
}

/// A mini-batch: `x` is row-major `[len, dim]`, `y` the labels.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub x: Vec<f32>,
    pub y: Vec<u8>,
    pub dim: usize,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.y.len()
    }
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
}

/// A shuffled pass over a dataset; `next_into` refills a caller-owned batch.
pub struct Epoch<'a> {
    data: &'a Dataset,
    order: Vec<usize>,
    batch_size: usize,
    pos: usize,
}

impl Epoch<'_> {
    /// Fills `batch` with the next full batch; `false` once the epoch is over.
    pub fn next_into(&mut self, batch: &mut Batch) -> Result<bool> {
        let end = self.pos + self.batch_size;
        if end > self.order.len() {
            return Ok(false);
        }
        self.data.gather(&self.order[self.pos..end], batch)?;
        self.pos = end;
        Ok(true)
    }

    /// Full batches in this epoch.
    pub fn num_batches(&self) -> usize {
        self.order.len() / self.batch_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_and_batches() {
        let pixels: Vec<u8> = (0..10u8).flat_map(|i| [i * 25, 255 - i]).collect();
        let labels: Vec<u8> = (0..10).collect();
        let d = Dataset::from_pixels(&pixels, labels, 2, MNIST_MEAN, MNIST_STD).unwrap();
        assert!((d.images()[0] - (-MNIST_MEAN / MNIST_STD)).abs() < 1e-6);
        assert!((d.images()[1] - (1.0 - MNIST_MEAN) / MNIST_STD).abs() < 1e-5);
        let mut b = Batch::default();
        let mut seen = Vec::new();
        let mut ep = d.epoch(3, 7);
        assert_eq!(ep.num_batches(), 3);
        while ep.next_into(&mut b).unwrap() {
            assert_eq!(b.len(), 3);
            assert_eq!(b.x.len(), 6);
            for (k, &y) in b.y.iter().enumerate() {
                // each row still belongs to its label
                assert_eq!(b.x[k * 2], d.images()[usize::from(y) * 2]);
            }
            seen.extend_from_slice(&b.y);
        }
        assert_eq!(seen.len(), 9);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 9, "no example twice in an epoch");
        let mut again = Vec::new();
        let mut ep = d.epoch(3, 7);
        while ep.next_into(&mut b).unwrap() {
            again.extend_from_slice(&b.y);
        }
        let mut first = Vec::new();
        let mut ep = d.epoch(3, 7);
        while ep.next_into(&mut b).unwrap() {
            first.extend_from_slice(&b.y);
        }
        assert_eq!(first, again, "same seed, same order");
    }

    #[test]
    fn rejects_inconsistent_inputs() {
        assert!(Dataset::from_pixels(&[0; 5], vec![1, 2], 2, 0.0, 1.0).is_err());
        assert!(Dataset::from_pixels(&[0; 4], vec![1, 12], 2, 0.0, 1.0).is_err());
    }

    #[test]
    fn loads_vendored_mnist_test_split() {
        let dir = default_mnist_dir();
        let test = Dataset::load_idx(dir.join(TEST_IMAGES), dir.join(TEST_LABELS)).unwrap();
        assert_eq!((test.len(), test.dim()), (10_000, 784));
        let mean: f32 = test.images().iter().sum::<f32>() / test.images().len() as f32;
        assert!(mean.abs() < 0.1, "normalized mean {mean}");
        let err = Dataset::load_idx(dir.join(TEST_LABELS), dir.join(TEST_LABELS)).unwrap_err();
        assert!(matches!(err, NnError::Dataset(_)));
    }
}
