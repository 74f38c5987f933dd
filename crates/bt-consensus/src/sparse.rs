//! Sparse row-major matrices of fixed-point values: one row per uid, `(column, value)` pairs
//! sorted by column. Work is proportional to the number of stored entries, so a subnet where
//! only validators set weights costs O(validators · n), never O(n²).

use crate::fixed::{Divisor, I32F32, ZERO};

pub(crate) type Row = Vec<(u16, I32F32)>;

/// `v[j]`, zero when out of range (callers validate uids first; this keeps the code panic-free).
pub(crate) fn at(v: &[I32F32], j: u16) -> I32F32 {
    v.get(usize::from(j)).copied().unwrap_or(ZERO)
}

/// `v[j] += x` (saturating), ignoring out-of-range columns.
pub(crate) fn add_at(v: &mut [I32F32], j: u16, x: I32F32) {
    if let Some(cell) = v.get_mut(usize::from(j)) {
        *cell = cell.saturating_add(x);
    }
}

/// `rownorm(M)`: rows with a positive sum are divided by it.
pub(crate) fn row_normalize(m: &mut [Row]) {
    for row in m.iter_mut() {
        let total = row.iter().fold(ZERO, |acc, (_, v)| acc.saturating_add(*v));
        if total > ZERO {
            let d = Divisor::new(total);
            for (_, v) in row.iter_mut() {
                *v = d.div(*v);
            }
        }
    }
}
