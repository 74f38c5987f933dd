//! Sparse row-major matrices of fixed-point values (one row per uid, `(column, value)` pairs
//! sorted by column) and the few operations the epoch needs on them. Work is proportional to
//! the number of stored entries, so a subnet where only validators set weights costs
//! O(validators · n), never O(n²).

use crate::fixed::{Divisor, I32F32, ZERO};

pub(crate) type Row = Vec<(u16, I32F32)>;

/// `v[j]`, zero when out of range (callers validate uids first; this keeps the code panic-free).
pub(crate) fn at(v: &[I32F32], j: u16) -> I32F32 {
    v.get(usize::from(j)).copied().unwrap_or(ZERO)
}

pub(crate) fn add_at(v: &mut [I32F32], j: u16, x: I32F32) {
    if let Some(cell) = v.get_mut(usize::from(j)) {
        *cell = cell.saturating_add(x);
    }
}

/// Σ_j M_ij per row.
pub(crate) fn row_sums(m: &[Row]) -> Vec<I32F32> {
    m.iter()
        .map(|row| row.iter().fold(ZERO, |acc, (_, v)| acc.saturating_add(*v)))
        .collect()
}

/// Σ_i M_ij per column.
pub(crate) fn col_sums(m: &[Row], n: usize) -> Vec<I32F32> {
    let mut sums = vec![ZERO; n];
    for row in m {
        for (j, v) in row {
            add_at(&mut sums, *j, *v);
        }
    }
    sums
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

/// `colnorm(M)`: columns with a non-zero sum are divided by it.
pub(crate) fn col_normalize(m: &mut [Row], n: usize) {
    divide_columns(m, &col_sums(m, n));
}

/// Divides every entry by its column's divisor, skipping zero divisors.
fn divide_columns(m: &mut [Row], by: &[I32F32]) {
    let divisors: Vec<Divisor> = by.iter().map(|d| Divisor::new(*d)).collect();
    for row in m.iter_mut() {
        for (j, v) in row.iter_mut() {
            if let (Some(d), Some(s)) = (divisors.get(usize::from(*j)), by.get(usize::from(*j)))
                && *s != ZERO
            {
                *v = d.div(*v);
            }
        }
    }
}

/// Scales each column so that its largest entry is 1.
pub(crate) fn col_max_upscale(m: &mut [Row], n: usize) {
    let mut maxes = vec![ZERO; n];
    for row in m.iter() {
        for (j, v) in row {
            if let Some(cell) = maxes.get_mut(usize::from(*j))
                && *cell < *v
            {
                *cell = *v;
            }
        }
    }
    divide_columns(m, &maxes);
}

/// r_j = Σ_i x_i · M_ij.
pub(crate) fn matmul(m: &[Row], x: &[I32F32], n: usize) -> Vec<I32F32> {
    let mut out = vec![ZERO; n];
    for (row, xi) in m.iter().zip(x) {
        if *xi == ZERO {
            continue;
        }
        for (j, v) in row {
            add_at(&mut out, *j, xi.saturating_mul(*v));
        }
    }
    out
}

/// d_i = Σ_j x_j · M_ij.
pub(crate) fn matmul_transpose(m: &[Row], x: &[I32F32]) -> Vec<I32F32> {
    m.iter()
        .map(|row| {
            row.iter().fold(ZERO, |acc, (j, v)| {
                acc.saturating_add(at(x, *j).saturating_mul(*v))
            })
        })
        .collect()
}

/// M_ij · x_i.
pub(crate) fn row_hadamard(m: &[Row], x: &[I32F32]) -> Vec<Row> {
    m.iter()
        .zip(x)
        .map(|(row, xi)| {
            row.iter()
                .map(|(j, v)| (*j, v.saturating_mul(*xi)))
                .collect()
        })
        .collect()
}
