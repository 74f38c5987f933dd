//! Grouped convolutions without im2col: per image and group, the input is split into its
//! stride phases, zero-padded, so that every kernel tap reads one contiguous slice.
//!
//! With stride `s`, the input pixel a tap `(ki, kj)` reads for output `(oy, ox)` is
//! `(oy + ki/s)·s + ki%s − pad` down and likewise across: pixel `(oy + ki/s, ox + kj/s)` of
//! the phase plane `(ki%s, kj%s)` that holds every `s`-th padded row and column. Stored
//! row-major with `wq` columns, output `(oy, ox)` at flat position `oy·wq + ox` reads every
//! tap at a fixed offset from it, so a whole group is one product of the weights with `cin/g·k²`
//! shifted slices ([`mul_rows`]), the weight gradient the dot products of the output gradient
//! with the same slices ([`mul_dots`]) and the input gradient their adjoint: the weights'
//! transpose times the output gradient, added back onto the slices. The `wq − wo` columns past
//! each output row are computed and dropped (or zero in the gradients). Compared with im2col
//! this touches the input once instead of once per tap, and every inner loop is contiguous.

use super::{ConvSpec, ThreadBufs, fit, valid_range};
use crate::conv_kernels::{Strided, mul_dots, mul_rows};

/// The phase-plane layout of one group's input.
#[derive(Debug, Clone, Copy)]
pub(super) struct Phases {
    s: ConvSpec,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    /// Phases used per axis: `min(stride, k)`.
    pa: usize,
    hq: usize,
    wq: usize,
    /// Floats per phase plane (`hq·wq` plus room for the last tap's slice).
    plane: usize,
    /// Flat output positions: `ho·wq`.
    n: usize,
}

impl Phases {
    pub fn new(s: ConvSpec, (h, w): (usize, usize), (ho, wo): (usize, usize)) -> Self {
        let reach = (s.k - 1) / s.stride;
        let (hq, wq) = (ho + reach, wo + reach);
        Self {
            s,
            h,
            w,
            ho,
            wo,
            pa: s.stride.min(s.k),
            hq,
            wq,
            plane: hq * wq + reach,
            n: ho * wq,
        }
    }

    fn planes_len(&self) -> usize {
        self.s.cin_g() * self.pa * self.pa * self.plane
    }

    /// Start of each tap's slice, in the weights' order `(c, ki, kj)`.
    fn taps(&self, offs: &mut Vec<usize>) {
        let (k, st) = (self.s.k, self.s.stride);
        offs.clear();
        for c in 0..self.s.cin_g() {
            for ki in 0..k {
                for kj in 0..k {
                    let plane = (c * self.pa + ki % st) * self.pa + kj % st;
                    offs.push(plane * self.plane + (ki / st) * self.wq + kj / st);
                }
            }
        }
    }

    /// One group's channels `[cin/g, h, w]` into their phase planes (zeros for padding).
    fn split(&self, x: &[f32], xp: &mut [f32]) {
        let (st, hw) = (self.s.stride, self.h * self.w);
        for (c, planes) in xp
            .chunks_exact_mut(self.pa * self.pa * self.plane)
            .enumerate()
        {
            let img = &x[c * hw..(c + 1) * hw];
            for (ph, plane) in planes.chunks_exact_mut(self.plane).enumerate() {
                let (a, b) = (ph / self.pa, ph % self.pa);
                let (i0, i1) = valid_range(self.h, self.hq, a, self.s);
                let (j0, j1) = valid_range(self.w, self.wq, b, self.s);
                plane[..i0 * self.wq].fill(0.0);
                plane[i1 * self.wq..].fill(0.0);
                for i in i0..i1 {
                    let src = &img[(i * st + a - self.s.pad) * self.w..][..self.w];
                    let row = &mut plane[i * self.wq..(i + 1) * self.wq];
                    row[..j0].fill(0.0);
                    row[j1.max(j0)..].fill(0.0);
                    if j1 > j0 {
                        let src = &src[j0 * st + b - self.s.pad..];
                        gather(&mut row[j0..j1], src, st);
                    }
                }
            }
        }
    }

    /// The adjoint of [`Self::split`]: each input pixel's gradient from the one phase-plane
    /// entry that holds it (pixels no output reads get zero).
    fn merge(&self, xp: &[f32], dx: &mut [f32]) {
        let (st, hw) = (self.s.stride, self.h * self.w);
        dx[..self.s.cin_g() * hw].fill(0.0);
        for (c, planes) in xp.chunks_exact(self.pa * self.pa * self.plane).enumerate() {
            let img = &mut dx[c * hw..(c + 1) * hw];
            for (ph, plane) in planes.chunks_exact(self.plane).enumerate() {
                let (a, b) = (ph / self.pa, ph % self.pa);
                let (i0, i1) = valid_range(self.h, self.hq, a, self.s);
                let (j0, j1) = valid_range(self.w, self.wq, b, self.s);
                if j1 <= j0 {
                    continue;
                }
                for i in i0..i1 {
                    let dst = &mut img[(i * st + a - self.s.pad) * self.w..][..self.w];
                    let dst = &mut dst[j0 * st + b - self.s.pad..];
                    scatter(dst, &plane[i * self.wq + j0..i * self.wq + j1], st);
                }
            }
        }
    }

    /// Output rows `[c, ho, wo]` into the flat `[c, ho·wq]` layout, zeros past each row.
    fn widen(&self, y: &[f32], c: usize, flat: &mut [f32]) {
        let hwo = self.ho * self.wo;
        for (src, dst) in y[..c * hwo]
            .chunks_exact(hwo)
            .zip(flat.chunks_exact_mut(self.n))
        {
            for (s, d) in src.chunks_exact(self.wo).zip(dst.chunks_exact_mut(self.wq)) {
                d[..self.wo].copy_from_slice(s);
                d[self.wo..].fill(0.0);
            }
        }
    }

    /// The flat layout back into output rows, dropping the columns past each row; `add`
    /// keeps what `y` held (its bias).
    fn narrow(&self, flat: &[f32], c: usize, y: &mut [f32], add: bool) {
        let hwo = self.ho * self.wo;
        for (src, dst) in flat
            .chunks_exact(self.n)
            .zip(y[..c * hwo].chunks_exact_mut(hwo))
        {
            for (s, d) in src.chunks_exact(self.wq).zip(dst.chunks_exact_mut(self.wo)) {
                if add {
                    d.iter_mut().zip(s).for_each(|(d, s)| *d += s);
                } else {
                    d.copy_from_slice(&s[..self.wo]);
                }
            }
        }
    }
}

/// `dst[j] = src[j·stride]`.
fn gather(dst: &mut [f32], src: &[f32], stride: usize) {
    match stride {
        1 => dst.copy_from_slice(&src[..dst.len()]),
        // pairs let the compiler deinterleave with vector shuffles
        2 => {
            let (body, last) = dst.split_at_mut(dst.len() - 1);
            for (d, pair) in body.iter_mut().zip(src.chunks_exact(2)) {
                *d = pair[0];
            }
            last[0] = src[2 * body.len()];
        }
        _ => dst
            .iter_mut()
            .zip(src.iter().step_by(stride))
            .for_each(|(d, s)| *d = *s),
    }
}

/// `dst[j·stride] = src[j]`.
fn scatter(dst: &mut [f32], src: &[f32], stride: usize) {
    match stride {
        1 => dst[..src.len()].copy_from_slice(src),
        _ => dst
            .iter_mut()
            .step_by(stride)
            .zip(src)
            .for_each(|(d, s)| *d = *s),
    }
}

/// Row starts `0, n, 2n, …` of `rows` contiguous rows.
fn dense_rows(rows: usize, n: usize, out: &mut Vec<usize>) {
    out.clear();
    out.extend((0..rows).map(|r| r * n));
}

/// The forward pass of one image: `out` (`[cout, ho, wo]`) holds the bias when `add`.
pub(super) fn forward(
    p: &Phases,
    weights: &[f32],
    x: &[f32],
    out: &mut [f32],
    add: bool,
    tb: &mut ThreadBufs,
) {
    let s = p.s;
    let (cig, cog, kdim) = (s.cin_g(), s.cout_g(), s.kdim());
    let (hw, hwo) = (p.h * p.w, p.ho * p.wo);
    p.taps(&mut tb.offs);
    dense_rows(cog, p.n, &mut tb.rows);
    for g in 0..s.groups {
        let xp = fit(&mut tb.cols, p.planes_len());
        p.split(&x[g * cig * hw..(g + 1) * cig * hw], xp);
        let flat = fit(&mut tb.flat, cog * p.n);
        let wg = Strided::rows(&weights[g * cog * kdim..(g + 1) * cog * kdim], kdim);
        mul_rows(flat, &tb.rows, wg, xp, &tb.offs, p.n, false);
        p.narrow(flat, cog, &mut out[g * cog * hwo..(g + 1) * cog * hwo], add);
    }
}

/// The weight gradient of one image into `tb.dw` (added when `accumulate`) and, when asked,
/// its input gradient into `dx`.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward(
    p: &Phases,
    weights: &[f32],
    x: &[f32],
    dy: &[f32],
    mut dx: Option<&mut [f32]>,
    accumulate: bool,
    tb: &mut ThreadBufs,
) {
    let s = p.s;
    let (cig, cog, kdim) = (s.cin_g(), s.cout_g(), s.kdim());
    let (hw, hwo) = (p.h * p.w, p.ho * p.wo);
    p.taps(&mut tb.offs);
    dense_rows(cog, p.n, &mut tb.rows);
    let dw = fit(&mut tb.dw, s.cout * kdim);
    for g in 0..s.groups {
        let xp = fit(&mut tb.cols, p.planes_len());
        p.split(&x[g * cig * hw..(g + 1) * cig * hw], xp);
        let dyf = fit(&mut tb.flat, cog * p.n);
        p.widen(&dy[g * cog * hwo..(g + 1) * cog * hwo], cog, dyf);
        let dwg = &mut dw[g * cog * kdim..(g + 1) * cog * kdim];
        mul_dots(dwg, kdim, dyf, p.n, xp, &tb.offs, (cog, p.n), accumulate);
        if let Some(dx) = dx.as_deref_mut() {
            let wg = &weights[g * cog * kdim..(g + 1) * cog * kdim];
            input_grad_group(p, wg, dyf, xp, &tb.offs, &tb.rows);
            p.merge(xp, &mut dx[g * cig * hw..(g + 1) * cig * hw]);
        }
    }
}

/// The input gradient of one image (`dy` `[cout, ho, wo]` → `dx` `[cin, h, w]`).
pub(super) fn input_grad(
    p: &Phases,
    weights: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    tb: &mut ThreadBufs,
) {
    let s = p.s;
    let (cig, cog, kdim) = (s.cin_g(), s.cout_g(), s.kdim());
    let (hw, hwo) = (p.h * p.w, p.ho * p.wo);
    p.taps(&mut tb.offs);
    dense_rows(cog, p.n, &mut tb.rows);
    for g in 0..s.groups {
        let dyf = fit(&mut tb.flat, cog * p.n);
        p.widen(&dy[g * cog * hwo..(g + 1) * cog * hwo], cog, dyf);
        let dxp = fit(&mut tb.cols, p.planes_len());
        let wg = &weights[g * cog * kdim..(g + 1) * cog * kdim];
        input_grad_group(p, wg, dyf, dxp, &tb.offs, &tb.rows);
        p.merge(dxp, &mut dx[g * cig * hw..(g + 1) * cig * hw]);
    }
}

/// `dxp` (phase planes) = every tap's slice gets `wᵀ·dy` for that tap.
fn input_grad_group(
    p: &Phases,
    wg: &[f32],
    dyf: &[f32],
    dxp: &mut [f32],
    taps: &[usize],
    rows: &[usize],
) {
    dxp.fill(0.0);
    let wt = Strided::rows(wg, p.s.kdim()).t();
    mul_rows(dxp, taps, wt, dyf, rows, p.n, true);
}
