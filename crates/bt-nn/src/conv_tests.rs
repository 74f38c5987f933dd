//! The conv, batch-norm and pooling layers against candle autograd on random shapes (1e-5
//! relative), and a finite-difference check of a conv → BN → ReLU → pooling chain.

use candle_core::{D, Device, Tensor, Var};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::candle_ref::max_rel_diff;
use crate::conv::{Conv2d, ConvScratch, ConvSpec};
use crate::dense::GradMode;
use crate::norm::BatchNorm2d;
use crate::pool;

const TOL: f32 = 1e-5;

fn randn(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn t4(v: &[f32], d: (usize, usize, usize, usize)) -> Tensor {
    Tensor::from_slice(v, d, &Device::Cpu).unwrap()
}

fn close(what: &str, ours: &[f32], theirs: &Tensor) {
    let err = max_rel_diff(ours, theirs).unwrap();
    assert!(err < TOL, "{what}: relative error {err}");
}

#[test]
fn conv_matches_candle_on_random_shapes() {
    let mut rng = StdRng::seed_from_u64(7);
    // (cin, cout, k, stride, pad, groups, bias, h, w). Strided cases are square: candle's conv
    // backward derives one output padding from the height and fails on some non-square inputs.
    let cases = [
        (3, 8, 3, 1, 1, 1, true, 9, 7),
        (8, 16, 3, 2, 1, 4, false, 10, 10),
        (6, 4, 1, 1, 0, 1, true, 5, 6),
        (6, 12, 1, 2, 0, 2, false, 7, 7),
        (4, 6, 5, 2, 2, 2, true, 11, 11),
        (16, 16, 3, 1, 1, 8, false, 8, 8),
        (5, 3, 3, 3, 0, 1, true, 10, 10),
        // grouped (the direct path): the CIFAR shapes' strides, odd sides, no padding, bias,
        // one channel per group, stride 3, an even kernel
        (32, 32, 3, 2, 1, 8, false, 9, 9),
        (16, 24, 3, 1, 1, 4, true, 7, 5),
        (12, 12, 3, 1, 0, 4, false, 6, 7),
        (8, 8, 3, 2, 0, 8, false, 9, 9),
        (8, 8, 3, 3, 1, 2, true, 10, 10),
        (6, 6, 2, 2, 1, 3, false, 7, 7),
        (64, 64, 3, 2, 1, 8, false, 16, 16),
    ];
    for _ in 0..2 {
        for &(cin, cout, k, stride, pad, groups, bias, h, w) in &cases {
            let n = rng.random_range(1..5);
            let spec = ConvSpec {
                cin,
                cout,
                k,
                stride,
                pad,
                groups,
            };
            let mut conv = Conv2d::new(spec, bias, &mut rng);
            let (ho, wo) = spec.out_hw(h, w).unwrap();
            let x = randn(&mut rng, n * cin * h * w);
            let g = randn(&mut rng, n * cout * ho * wo);
            let mut scratch = ConvScratch::default();
            let mut y = vec![f32::NAN; n * cout * ho * wo];
            conv.forward(&x, n, (h, w), &mut y, &mut scratch);
            let mut dx = vec![f32::NAN; x.len()];
            conv.gw.fill(f32::NAN); // Store must overwrite, not accumulate
            conv.backward(
                &x,
                n,
                (h, w),
                &g,
                Some(&mut dx),
                GradMode::Store,
                &mut scratch,
            );

            let xv = Var::from_tensor(&t4(&x, (n, cin, h, w))).unwrap();
            let wv = Var::from_tensor(&t4(&conv.w, (cout, cin / groups, k, k))).unwrap();
            let mut yt = xv.conv2d(&wv, pad, stride, 1, groups).unwrap();
            let bv = Var::from_slice(&conv.b, conv.b.len(), &Device::Cpu).unwrap();
            if bias {
                yt = yt
                    .broadcast_add(&bv.reshape((1, cout, 1, 1)).unwrap())
                    .unwrap();
            }
            let what = format!("{spec:?} n={n} {h}x{w}");
            close(&format!("forward {what}"), &y, &yt);
            let loss = (&yt * t4(&g, (n, cout, ho, wo)))
                .unwrap()
                .sum_all()
                .unwrap();
            let grads = loss.backward().unwrap();
            close(&format!("dx {what}"), &dx, grads.get(&xv).unwrap());
            close(&format!("dw {what}"), &conv.gw, grads.get(&wv).unwrap());
            if bias {
                close(&format!("db {what}"), &conv.gb, grads.get(&bv).unwrap());
            }
        }
    }
}

#[test]
fn sgd_mode_is_momentum_on_the_stored_gradient() {
    let mut rng = StdRng::seed_from_u64(3);
    let spec = ConvSpec {
        cin: 4,
        cout: 6,
        k: 3,
        stride: 1,
        pad: 1,
        groups: 2,
    };
    let mut a = Conv2d::new(spec, true, &mut rng);
    let mut b = a.clone();
    let x = randn(&mut rng, 2 * 4 * 6 * 6);
    let g = randn(&mut rng, 2 * 6 * 6 * 6);
    let mut scratch = ConvScratch::default();
    let (lr, mu) = (0.1, 0.9);
    b.gw.fill(0.5);
    b.gb.fill(0.5);
    let (old_w, old_b) = (b.w.clone(), b.b.clone());
    b.backward(
        &x,
        2,
        (6, 6),
        &g,
        None,
        GradMode::Sgd { lr, momentum: mu },
        &mut scratch,
    );
    a.backward(&x, 2, (6, 6), &g, None, GradMode::Store, &mut scratch);
    for ((w, w0), gw) in b.w.iter().zip(&old_w).zip(&a.gw) {
        let buf = mu * 0.5 + gw;
        assert!((w - (w0 - lr * buf)).abs() < 1e-6);
    }
    for ((bb, b0), gb) in b.b.iter().zip(&old_b).zip(&a.gb) {
        assert!((bb - (b0 - lr * (mu * 0.5 + gb))).abs() < 1e-6);
    }
}

fn candle_bn(x: &Tensor, gamma: &Tensor, beta: &Tensor, c: usize) -> Tensor {
    let mean = x
        .mean_keepdim(0)
        .unwrap()
        .mean_keepdim(2)
        .unwrap()
        .mean_keepdim(3)
        .unwrap();
    let xc = x.broadcast_sub(&mean).unwrap();
    let var = xc
        .sqr()
        .unwrap()
        .mean_keepdim(0)
        .unwrap()
        .mean_keepdim(2)
        .unwrap();
    let var = var.mean_keepdim(3).unwrap();
    let xhat = xc
        .broadcast_div(&(var + 1e-5).unwrap().sqrt().unwrap())
        .unwrap();
    xhat.broadcast_mul(&gamma.reshape((1, c, 1, 1)).unwrap())
        .unwrap()
        .broadcast_add(&beta.reshape((1, c, 1, 1)).unwrap())
        .unwrap()
}

#[test]
fn batch_norm_matches_candle() {
    let mut rng = StdRng::seed_from_u64(11);
    for &(n, c, h, w, relu) in &[(4, 3, 5, 5, true), (2, 8, 4, 3, false), (8, 5, 7, 7, true)] {
        let hw = h * w;
        let x: Vec<f32> = randn(&mut rng, n * c * hw)
            .iter()
            .map(|v| 3.0 * v + 0.7)
            .collect();
        let g = randn(&mut rng, n * c * hw);
        let mut bn = BatchNorm2d::new(c);
        bn.gamma = randn(&mut rng, c);
        bn.beta = randn(&mut rng, c);
        let mut y = vec![0.0; x.len()];
        bn.forward_train(&x, n, hw, &mut y, relu);
        let mut d = g.clone();
        bn.backward(&x, &y, n, hw, &mut d, relu, GradMode::Store);

        let xv = Var::from_tensor(&t4(&x, (n, c, h, w))).unwrap();
        let gv = Var::from_slice(&bn.gamma, c, &Device::Cpu).unwrap();
        let bv = Var::from_slice(&bn.beta, c, &Device::Cpu).unwrap();
        let mut yt = candle_bn(&xv, &gv, &bv, c);
        if relu {
            yt = yt.relu().unwrap();
        }
        close("bn forward", &y, &yt);
        let loss = (&yt * t4(&g, (n, c, h, w))).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        close("bn dx", &d, grads.get(&xv).unwrap());
        close("bn dgamma", &bn.g_gamma, grads.get(&gv).unwrap());
        close("bn dbeta", &bn.g_beta, grads.get(&bv).unwrap());

        // running statistics: 0.9·init + 0.1·batch (unbiased variance), as in PyTorch
        let xt = t4(&x, (n, c, h, w))
            .transpose(0, 1)
            .unwrap()
            .flatten_from(1)
            .unwrap();
        let mean = xt.mean(D::Minus1).unwrap();
        let m = (n * hw) as f64;
        let var = xt
            .broadcast_sub(&mean.unsqueeze(1).unwrap())
            .unwrap()
            .sqr()
            .unwrap()
            .sum(D::Minus1)
            .unwrap()
            .affine(1.0 / (m - 1.0), 0.0)
            .unwrap();
        close("running mean", &bn.running_mean, &(mean * 0.1).unwrap());
        close(
            "running var",
            &bn.running_var,
            &((var * 0.1).unwrap() + 0.9).unwrap(),
        );

        // eval uses the running statistics
        let mut ye = vec![0.0; x.len()];
        bn.forward_eval(&x, n, hw, &mut ye, false);
        let rm = Tensor::from_slice(&bn.running_mean, (1, c, 1, 1), &Device::Cpu).unwrap();
        let rv = Tensor::from_slice(&bn.running_var, (1, c, 1, 1), &Device::Cpu).unwrap();
        let want = t4(&x, (n, c, h, w))
            .broadcast_sub(&rm)
            .unwrap()
            .broadcast_div(&(rv + 1e-5).unwrap().sqrt().unwrap())
            .unwrap()
            .broadcast_mul(&gv.reshape((1, c, 1, 1)).unwrap())
            .unwrap()
            .broadcast_add(&bv.reshape((1, c, 1, 1)).unwrap())
            .unwrap();
        close("bn eval", &ye, &want);
    }
}

#[test]
fn pooling_matches_candle() {
    let mut rng = StdRng::seed_from_u64(5);
    // Windows tiling the input exactly: candle's pooling backward upsamples the output back.
    for &(n, c, h, w, k, s) in &[(2, 3, 8, 8, 2, 2), (1, 4, 9, 6, 3, 3), (3, 2, 6, 4, 2, 2)] {
        let planes = n * c;
        let (ho, wo) = (
            pool::pool_out(h, k, s).unwrap(),
            pool::pool_out(w, k, s).unwrap(),
        );
        let x = randn(&mut rng, planes * h * w);
        let g = randn(&mut rng, planes * ho * wo);
        let xv = Var::from_tensor(&t4(&x, (n, c, h, w))).unwrap();
        let gt = t4(&g, (n, c, ho, wo));

        let mut y = vec![0.0; planes * ho * wo];
        let mut arg = vec![0u32; y.len()];
        pool::max_pool_forward(&x, planes, (h, w), (k, s), &mut y, &mut arg);
        let mut dx = vec![0.0; x.len()];
        pool::max_pool_backward(&g, &arg, planes, (h, w), (ho, wo), &mut dx);
        let yt = xv.max_pool2d_with_stride(k, s).unwrap();
        close("max pool", &y, &yt);
        // candle's max-pool backward scales by k², so the gradient is checked by brute force:
        // every output's gradient lands on the input equal to its window's maximum
        let mut want = vec![0.0f32; x.len()];
        for p in 0..planes {
            for oy in 0..ho {
                for ox in 0..wo {
                    let window: Vec<usize> = (0..k * k)
                        .map(|t| p * h * w + (oy * s + t / k) * w + ox * s + t % k)
                        .collect();
                    let max = window.iter().map(|&i| x[i]).fold(f32::MIN, f32::max);
                    let at = window.iter().find(|&&i| x[i] == max).unwrap();
                    want[*at] += g[(p * ho + oy) * wo + ox];
                }
            }
        }
        assert_eq!(dx, want, "max pool dx");

        pool::avg_pool_forward(&x, planes, (h, w), (k, s), &mut y);
        pool::avg_pool_backward(&g, planes, (h, w), (k, s), &mut dx);
        let yt = xv.avg_pool2d_with_stride(k, s).unwrap();
        close("avg pool", &y, &yt);
        let grads = (&yt * &gt).unwrap().sum_all().unwrap().backward().unwrap();
        close("avg pool dx", &dx, grads.get(&xv).unwrap());

        let mut gy = vec![0.0; planes];
        pool::global_avg_forward(&x, planes, h * w, &mut gy);
        let gg = randn(&mut rng, planes);
        pool::global_avg_backward(&gg, planes, h * w, &mut dx);
        let yt = xv.mean_keepdim(3).unwrap().mean_keepdim(2).unwrap();
        close("global avg", &gy, &yt);
        let ggt = t4(&gg, (n, c, 1, 1));
        let grads = (&yt * &ggt).unwrap().sum_all().unwrap().backward().unwrap();
        close("global avg dx", &dx, grads.get(&xv).unwrap());
    }
}

/// `L = Σ G ⊙ avgpool(bn(conv(x)))`, its analytic gradients, and central differences (no ReLU:
/// a kink crossed by the perturbation would bias the difference quotient).
#[test]
fn chain_gradient_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(13);
    let (n, h, w) = (3, 6, 6);
    let spec = ConvSpec {
        cin: 4,
        cout: 6,
        k: 3,
        stride: 1,
        pad: 1,
        groups: 2,
    };
    let conv0 = Conv2d::new(spec, true, &mut rng);
    let x = randn(&mut rng, n * 4 * h * w);
    let g = randn(&mut rng, n * 6 * 9);
    let loss = |conv: &Conv2d, x: &[f32]| -> f64 {
        let mut s = ConvScratch::default();
        let mut y = vec![0.0; n * 6 * h * w];
        conv.forward(x, n, (h, w), &mut y, &mut s);
        let mut bn = BatchNorm2d::new(6);
        let mut z = vec![0.0; y.len()];
        bn.forward_train(&y, n, h * w, &mut z, false);
        let mut p = vec![0.0; n * 6 * 9];
        pool::avg_pool_forward(&z, n * 6, (h, w), (2, 2), &mut p);
        p.iter().zip(&g).map(|(a, b)| f64::from(a * b)).sum()
    };
    // analytic
    let mut conv = conv0.clone();
    let mut s = ConvScratch::default();
    let mut y = vec![0.0; n * 6 * h * w];
    conv.forward(&x, n, (h, w), &mut y, &mut s);
    let mut bn = BatchNorm2d::new(6);
    let mut z = vec![0.0; y.len()];
    bn.forward_train(&y, n, h * w, &mut z, false);
    let mut d = vec![0.0; z.len()];
    pool::avg_pool_backward(&g, n * 6, (h, w), (2, 2), &mut d);
    bn.backward(&y, &z, n, h * w, &mut d, false, GradMode::Store);
    let mut dx = vec![0.0; x.len()];
    conv.backward(&x, n, (h, w), &d, Some(&mut dx), GradMode::Store, &mut s);

    let eps = 1e-2f32;
    let mut checked = 0;
    for i in (0..x.len()).step_by(17) {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += eps;
        xm[i] -= eps;
        let fd = (loss(&conv0, &xp) - loss(&conv0, &xm)) / (2.0 * f64::from(eps));
        assert!(
            (fd - f64::from(dx[i])).abs() < 2e-3 * (1.0 + fd.abs()),
            "dx[{i}]: {fd} vs {}",
            dx[i]
        );
        checked += 1;
    }
    for i in (0..conv0.w.len()).step_by(7) {
        let (mut cp, mut cm) = (conv0.clone(), conv0.clone());
        cp.w[i] += eps;
        cm.w[i] -= eps;
        let fd = (loss(&cp, &x) - loss(&cm, &x)) / (2.0 * f64::from(eps));
        assert!(
            (fd - f64::from(conv.gw[i])).abs() < 2e-3 * (1.0 + fd.abs()),
            "dw[{i}]: {fd} vs {}",
            conv.gw[i]
        );
        checked += 1;
    }
    assert!(checked > 40);
}
