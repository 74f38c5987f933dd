//! Pooling over NCHW activations: max and average pooling with a square window (no padding),
//! and global average pooling, each with its backward.

/// Output side of a `k`-window, stride-`s` pooling over `len` (`None` when it does not fit).
pub fn pool_out(len: usize, k: usize, s: usize) -> Option<usize> {
    (k > 0 && s > 0 && len >= k).then(|| (len - k) / s + 1)
}

fn out_dims(h: usize, w: usize, k: usize, s: usize) -> (usize, usize) {
    match (pool_out(h, k, s), pool_out(w, k, s)) {
        (Some(ho), Some(wo)) => (ho, wo),
        _ => panic!("{h}x{w} input too small for a {k}-window pooling"),
    }
}

/// Max pooling of `x = [planes, h, w]` (`planes = n·c`) into `out = [planes, ho, wo]`;
/// `arg` receives the index inside the plane of each maximum, for the backward.
pub fn max_pool_forward(
    x: &[f32],
    planes: usize,
    (h, w): (usize, usize),
    (k, s): (usize, usize),
    out: &mut [f32],
    arg: &mut [u32],
) {
    let (ho, wo) = out_dims(h, w, k, s);
    let (hw, hwo) = (h * w, ho * wo);
    for p in 0..planes {
        let plane = &x[p * hw..(p + 1) * hw];
        for oy in 0..ho {
            for ox in 0..wo {
                let mut best = (f32::NEG_INFINITY, 0usize);
                for ky in 0..k {
                    let row = (oy * s + ky) * w;
                    for kx in 0..k {
                        let i = row + ox * s + kx;
                        // `>` keeps the first maximum, as PyTorch does; NaN propagates.
                        if plane[i] > best.0 || plane[i].is_nan() {
                            best = (plane[i], i);
                        }
                    }
                }
                out[p * hwo + oy * wo + ox] = best.0;
                arg[p * hwo + oy * wo + ox] = best.1 as u32;
            }
        }
    }
}

/// Backward of [`max_pool_forward`]: each output's gradient goes to the input it took.
pub fn max_pool_backward(
    dy: &[f32],
    arg: &[u32],
    planes: usize,
    (h, w): (usize, usize),
    (ho, wo): (usize, usize),
    dx: &mut [f32],
) {
    let (hw, hwo) = (h * w, ho * wo);
    dx[..planes * hw].fill(0.0);
    for p in 0..planes {
        let d = &mut dx[p * hw..(p + 1) * hw];
        for (g, &a) in dy[p * hwo..(p + 1) * hwo]
            .iter()
            .zip(&arg[p * hwo..(p + 1) * hwo])
        {
            d[a as usize] += g;
        }
    }
}

/// Average pooling of `x = [planes, h, w]` into `out = [planes, ho, wo]`.
pub fn avg_pool_forward(
    x: &[f32],
    planes: usize,
    (h, w): (usize, usize),
    (k, s): (usize, usize),
    out: &mut [f32],
) {
    let (ho, wo) = out_dims(h, w, k, s);
    let inv = 1.0 / (k * k) as f32;
    for p in 0..planes {
        let plane = &x[p * h * w..(p + 1) * h * w];
        for oy in 0..ho {
            for ox in 0..wo {
                let mut sum = 0.0;
                for ky in 0..k {
                    let row = (oy * s + ky) * w + ox * s;
                    sum += plane[row..row + k].iter().sum::<f32>();
                }
                out[(p * ho + oy) * wo + ox] = sum * inv;
            }
        }
    }
}

/// Backward of [`avg_pool_forward`].
pub fn avg_pool_backward(
    dy: &[f32],
    planes: usize,
    (h, w): (usize, usize),
    (k, s): (usize, usize),
    dx: &mut [f32],
) {
    let (ho, wo) = out_dims(h, w, k, s);
    let inv = 1.0 / (k * k) as f32;
    dx[..planes * h * w].fill(0.0);
    for p in 0..planes {
        let plane = &mut dx[p * h * w..(p + 1) * h * w];
        for oy in 0..ho {
            for ox in 0..wo {
                let g = dy[(p * ho + oy) * wo + ox] * inv;
                for ky in 0..k {
                    let row = (oy * s + ky) * w + ox * s;
                    plane[row..row + k].iter_mut().for_each(|d| *d += g);
                }
            }
        }
    }
}

/// Global average pooling: `out[p] = mean(x[p, :])` for `x = [planes, hw]`.
pub fn global_avg_forward(x: &[f32], planes: usize, hw: usize, out: &mut [f32]) {
    let inv = 1.0 / hw as f32;
    for (o, plane) in out[..planes].iter_mut().zip(x.chunks_exact(hw)) {
        *o = plane.iter().sum::<f32>() * inv;
    }
}

/// Backward of [`global_avg_forward`].
pub fn global_avg_backward(dy: &[f32], planes: usize, hw: usize, dx: &mut [f32]) {
    let inv = 1.0 / hw as f32;
    for (&g, plane) in dy[..planes].iter().zip(dx.chunks_exact_mut(hw)) {
        plane.fill(g * inv);
    }
}
