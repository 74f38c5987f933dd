//! Shape and value checks on a model's inputs, shared by every model: each returns the typed
//! error naming what was wrong before any buffer is sized from the input.

use crate::dataset::NUM_CLASSES;
use crate::error::{NnError, Result, shape_err};

/// Checks `x` is a non-empty, finite batch of `dim`-wide rows and returns its row count.
pub(crate) fn check_batch(what: &'static str, x: &[f32], dim: usize) -> Result<usize> {
    if x.is_empty() || !x.len().is_multiple_of(dim) {
        return Err(shape_err(
            what,
            format!("[B, {dim}]"),
            format!("{} values", x.len()),
        ));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(NnError::NonFinite(what));
    }
    Ok(x.len() / dim)
}

/// Checks `v` is `[rows, cols]` and finite.
pub(crate) fn check_rows(what: &'static str, v: &[f32], rows: usize, cols: usize) -> Result<()> {
    if v.len() != rows * cols {
        return Err(shape_err(
            what,
            format!("[{rows}, {cols}]"),
            format!("{} values", v.len()),
        ));
    }
    if v.iter().any(|v| !v.is_finite()) {
        return Err(NnError::NonFinite(what));
    }
    Ok(())
}

/// Checks labels: one per row, each a class.
pub(crate) fn check_labels(y: &[u8], rows: usize) -> Result<()> {
    if y.len() != rows {
        return Err(shape_err("labels", rows, y.len()));
    }
    if let Some(bad) = y.iter().find(|&&l| usize::from(l) >= NUM_CLASSES) {
        return Err(NnError::Dataset(format!("label {bad} out of range")));
    }
    Ok(())
}
