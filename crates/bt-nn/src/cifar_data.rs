//! CIFAR-10 data: a loader for the standard binary batches, and a generated 32×32×3 ten-class
//! image set for offline tests and demos.
//!
//! The binary format: each record is one label byte then 3,072 pixel bytes (the red plane, the
//! green plane, the blue plane, 32×32 row-major each), 10,000 records per file, in
//! `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`. The planes are already the
//! NCHW layout the convolutions use, so loading is a normalization, not a transpose.
//!
//! The generated set ("shapes"): each image is one of ten drawn figures — disk, square,
//! triangle, ring, plus sign, horizontal bars, vertical bars, diagonal bars, checkerboard, a pair
//! of dots — at a random centre and size, in a random colour on a random-colour background with a
//! brightness gradient and per-pixel noise. The class is the figure only (colours are drawn
//! independently of it, with a minimum contrast), so a model has to learn shape, texture and
//! orientation, translation- and scale-invariantly, to beat chance.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::dataset::{Dataset, NUM_CLASSES};
use crate::error::{NnError, Result, io_err};

pub const SIDE: usize = 32;
pub const CHANNELS: usize = 3;
/// Values per image: `3 · 32 · 32`.
pub const IMAGE_DIM: usize = CHANNELS * SIDE * SIDE;
/// Bytes per record of a binary batch: the label, then the pixels.
pub const RECORD: usize = 1 + IMAGE_DIM;
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
pub const TEST_FILE: &str = "test_batch.bin";
/// The usual per-channel normalization of CIFAR-10 (training-set mean and standard deviation).
pub const MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
pub const STD: [f32; 3] = [0.2470, 0.2435, 0.2616];

fn bad(path: &Path, reason: impl Into<String>) -> NnError {
    NnError::BadCifar {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Raw pixels (`[n, 3, 32, 32]` bytes) and labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawImages {
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
}

impl RawImages {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Normalized per channel as `(p/255 − mean[c]) / std[c]`.
    pub fn normalized(&self) -> Result<Dataset> {
        let plane = SIDE * SIDE;
        if self.pixels.len() != self.labels.len() * IMAGE_DIM {
            return Err(NnError::Dataset(format!(
                "{} pixel bytes for {} CIFAR images",
                self.pixels.len(),
                self.labels.len()
            )));
        }
        let images = self
            .pixels
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let c = (i / plane) % CHANNELS;
                (f32::from(p) / 255.0 - MEAN[c]) / STD[c]
            })
            .collect();
        Dataset::from_normalized(images, self.labels.clone(), IMAGE_DIM)
    }
}

/// Reads one binary batch file. Its size is checked against the record size before anything is
/// allocated, and every label against the ten classes.
pub fn read_batch(path: &Path) -> Result<RawImages> {
    let len = std::fs::metadata(path).map_err(io_err(path))?.len();
    let len = usize::try_from(len).map_err(|_| bad(path, format!("{len} bytes")))?;
    if len == 0 || !len.is_multiple_of(RECORD) {
        return Err(bad(
            path,
            format!("{len} bytes is not a whole number of {RECORD}-byte records"),
        ));
    }
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    if bytes.len() != len {
        return Err(bad(path, "file changed while being read"));
    }
    let n = len / RECORD;
    let mut out = RawImages {
        pixels: Vec::with_capacity(n * IMAGE_DIM),
        labels: Vec::with_capacity(n),
    };
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if usize::from(rec[0]) >= NUM_CLASSES {
            return Err(bad(
                path,
                format!("record {i}: label {} out of 0..10", rec[0]),
            ));
        }
        out.labels.push(rec[0]);
        out.pixels.extend_from_slice(&rec[1..]);
    }
    Ok(out)
}

/// Writes images in the binary batch format (the inverse of [`read_batch`]).
pub fn write_batch(path: &Path, images: &RawImages) -> Result<()> {
    if images.pixels.len() != images.len() * IMAGE_DIM {
        return Err(bad(path, "pixel count is not 3072 per label"));
    }
    let mut bytes = Vec::with_capacity(images.len() * RECORD);
    for (l, px) in images
        .labels
        .iter()
        .zip(images.pixels.chunks_exact(IMAGE_DIM))
    {
        bytes.push(*l);
        bytes.extend_from_slice(px);
    }
    std::fs::write(path, bytes).map_err(io_err(path))
}

/// Loads a CIFAR-10 directory: the five training batches and the test batch, normalized.
/// A missing file is an [`NnError::Io`] naming it (kind `NotFound`).
pub fn load_dir(dir: &Path) -> Result<(Dataset, Dataset)> {
    let mut train = RawImages::default();
    for f in TRAIN_FILES {
        let part = read_batch(&dir.join(f))?;
        train.pixels.extend_from_slice(&part.pixels);
        train.labels.extend_from_slice(&part.labels);
    }
    let test = read_batch(&dir.join(TEST_FILE))?;
    Ok((train.normalized()?, test.normalized()?))
}

/// `$BT_CIFAR_DIR`, or `data/cifar-10-batches-bin` under the working directory.
pub fn default_cifar_dir() -> PathBuf {
    std::env::var_os("BT_CIFAR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data/cifar-10-batches-bin"))
}

/// What varies in the generated set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShapesConfig {
    /// Figure half-size range in pixels (default 5 to 11).
    pub min_radius: f32,
    pub max_radius: f32,
    /// Per-pixel uniform noise amplitude on the 0..1 scale (default 0.12).
    pub noise: f32,
}

impl Default for ShapesConfig {
    fn default() -> Self {
        Self {
            min_radius: 5.0,
            max_radius: 11.0,
            noise: 0.12,
        }
    }
}

impl ShapesConfig {
    /// Figures of half-size 3 to 6 pixels, which fit the small trunks' receptive field (about
    /// 11–19 pixels) whole. With the tiny trunk they train no better than the default sizes
    /// (smaller figures carry less signal), so the tests keep the default.
    pub fn small() -> Self {
        Self {
            min_radius: 3.0,
            max_radius: 6.0,
            ..Self::default()
        }
    }
}

/// The generated "shapes" set: `n` images with balanced classes, reproducible from `seed`.
pub fn generate_shapes(n: usize, seed: u64) -> RawImages {
    generate_shapes_with(n, seed, ShapesConfig::default())
}

/// [`generate_shapes`] with a chosen [`ShapesConfig`].
pub fn generate_shapes_with(n: usize, seed: u64, cfg: ShapesConfig) -> RawImages {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = RawImages {
        pixels: Vec::with_capacity(n * IMAGE_DIM),
        labels: Vec::with_capacity(n),
    };
    let mut img = vec![0.0f32; IMAGE_DIM];
    for i in 0..n {
        let class = (i % NUM_CLASSES) as u8;
        draw(&mut rng, class, cfg, &mut img);
        out.labels.push(class);
        out.pixels.extend(
            img.iter()
                .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8),
        );
    }
    out
}

fn random_colour(rng: &mut StdRng) -> [f32; 3] {
    [rng.random(), rng.random(), rng.random()]
}

fn draw(rng: &mut StdRng, class: u8, cfg: ShapesConfig, img: &mut [f32]) {
    let bg = random_colour(rng);
    let mut fg = random_colour(rng);
    // keep the figure visible: at least 0.35 apart in some channel
    while (0..3).all(|c| (fg[c] - bg[c]).abs() < 0.35) {
        fg = random_colour(rng);
    }
    let r = rng.random_range(cfg.min_radius..cfg.max_radius);
    let cx = rng.random_range(r..SIDE as f32 - r);
    let cy = rng.random_range(r..SIDE as f32 - r);
    let period = rng.random_range(3.0f32..6.0);
    let (gx, gy) = (
        rng.random_range(-0.2f32..0.2),
        rng.random_range(-0.2f32..0.2),
    );
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let (dx, dy) = (px - cx, py - cy);
            let inside = inside(class, dx, dy, r, period);
            let shade = 1.0 + gx * dx / SIDE as f32 + gy * dy / SIDE as f32;
            for c in 0..CHANNELS {
                let base = if inside { fg[c] } else { bg[c] };
                let noise = if cfg.noise > 0.0 {
                    rng.random_range(-cfg.noise..cfg.noise)
                } else {
                    0.0
                };
                img[(c * SIDE + y) * SIDE + x] = base * shade + noise;
            }
        }
    }
}

/// Whether a pixel at offset `(dx, dy)` from the centre belongs to the class's figure of size
/// `r`; textured classes use stripes of `period` pixels inside a square window.
fn inside(class: u8, dx: f32, dy: f32, r: f32, period: f32) -> bool {
    let window = dx.abs() <= r && dy.abs() <= r;
    let stripe = |v: f32| (v / period).rem_euclid(2.0) < 1.0;
    match class {
        0 => dx * dx + dy * dy <= r * r,
        1 => dx.abs() <= 0.8 * r && dy.abs() <= 0.8 * r,
        // upward triangle: apex at the top, base at the bottom
        2 => dy <= 0.8 * r && dy >= -r && dx.abs() <= (dy + r) * 0.55,
        3 => {
            let d2 = dx * dx + dy * dy;
            d2 <= r * r && d2 >= 0.45 * r * r
        }
        4 => (dx.abs() <= 0.3 * r && dy.abs() <= r) || (dy.abs() <= 0.3 * r && dx.abs() <= r),
        5 => window && stripe(dy + r),
        6 => window && stripe(dx + r),
        7 => window && stripe(dx + dy + 2.0 * r),
        8 => window && (stripe(dx + r) ^ stripe(dy + r)),
        _ => {
            let rr = 0.4 * r;
            let a = (dx - 0.55 * r).powi(2) + dy * dy <= rr * rr;
            let b = (dx + 0.55 * r).powi(2) + dy * dy <= rr * rr;
            a || b
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("bt-nn-cifar-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn written_batches_load_back_normalized() {
        let dir = tmpdir("rt");
        let sets: Vec<RawImages> = (0..6).map(|i| generate_shapes(7 + i, i as u64)).collect();
        for (f, s) in TRAIN_FILES.iter().zip(&sets) {
            write_batch(&dir.join(f), s).unwrap();
        }
        write_batch(&dir.join(TEST_FILE), &sets[5]).unwrap();
        let (train, test) = load_dir(&dir).unwrap();
        assert_eq!(train.len(), 7 + 8 + 9 + 10 + 11);
        assert_eq!(test.len(), 12);
        assert_eq!(test.labels(), &sets[5].labels[..]);
        // pixel 1030 of image 0 is in the green plane
        let p = sets[5].pixels[1030];
        let want = (f32::from(p) / 255.0 - MEAN[1]) / STD[1];
        assert!((test.images()[1030] - want).abs() < 1e-6);
        assert_eq!(read_batch(&dir.join(TEST_FILE)).unwrap(), sets[5]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_files_are_typed_errors() {
        let dir = tmpdir("bad");
        let short = dir.join("short.bin");
        std::fs::write(&short, vec![1u8; RECORD + 5]).unwrap();
        let err = read_batch(&short).unwrap_err();
        assert!(matches!(err, NnError::BadCifar { .. }), "{err}");
        assert!(err.to_string().contains("3078 bytes"), "{err}");

        let empty = dir.join("empty.bin");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(read_batch(&empty), Err(NnError::BadCifar { .. })));

        let label = dir.join("label.bin");
        let mut rec = vec![0u8; 2 * RECORD];
        rec[RECORD] = 10;
        std::fs::write(&label, rec).unwrap();
        let err = read_batch(&label).unwrap_err().to_string();
        assert!(err.contains("record 1: label 10"), "{err}");

        match load_dir(&dir) {
            Err(NnError::Io { path, source }) => {
                assert!(path.ends_with("data_batch_1.bin"));
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected a missing-file error, got {other:?}"),
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn shapes_are_balanced_reproducible_and_not_colour_coded() {
        let a = generate_shapes(200, 9);
        assert_eq!(a, generate_shapes(200, 9));
        assert_ne!(a.pixels, generate_shapes(200, 10).pixels);
        let mut counts = [0usize; NUM_CLASSES];
        a.labels.iter().for_each(|&l| counts[usize::from(l)] += 1);
        assert!(counts.iter().all(|&c| c == 20));
        // the mean colour says nothing about the class: per-class mean red stays near the middle
        for class in 0..NUM_CLASSES as u8 {
            let reds: Vec<f32> = a
                .labels
                .iter()
                .zip(a.pixels.chunks_exact(IMAGE_DIM))
                .filter(|(l, _)| **l == class)
                .map(|(_, px)| {
                    px[..SIDE * SIDE].iter().map(|&p| f32::from(p)).sum::<f32>() / 1024.0
                })
                .collect();
            let mean = reds.iter().sum::<f32>() / reds.len() as f32;
            assert!(
                (70.0..185.0).contains(&mean),
                "class {class}: mean red {mean}"
            );
        }
    }
}
