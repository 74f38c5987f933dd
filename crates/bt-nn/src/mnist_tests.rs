//! Differential tests: the hand-written engine against candle autograd on the same weights.

use candle_core::{Tensor, Var};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::candle_ref::{CandleMnist, batch_tensors, context_tensor, max_rel_diff};
use crate::dense::GradMode;
use crate::mnist::{CONTEXT_DIM, IMAGE_DIM, MnistModel};
use crate::remote::EncoderGrad;

const TOL: f32 = 1e-5;

fn inputs(b: usize, seed: u64) -> (Vec<f32>, Vec<u8>, Vec<f32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = (0..b * IMAGE_DIM)
        .map(|_| rng.random_range(-0.5f32..2.5))
        .collect();
    let y = (0..b).map(|_| rng.random_range(0..10u8)).collect();
    // a context unlike the student's output, so the two paths differ
    let ctx = (0..b * CONTEXT_DIM)
        .map(|_| rng.random_range(0.0f32..0.3))
        .collect();
    (x, y, ctx)
}

#[test]
fn gradients_match_candle_autograd() {
    let b = 16;
    let mut m = MnistModel::new(3);
    let (x, y, ctx) = inputs(b, 4);
    let reference = CandleMnist::from_model(&m).unwrap();
    let ours = m.step(&x, &y, &ctx, GradMode::Store, true).unwrap();

    let (xt, yt) = batch_tensors(&x, &y).unwrap();
    let ctx_var = Var::from_tensor(&context_tensor(&ctx, b).unwrap()).unwrap();
    let l = reference.losses(&xt, &yt, ctx_var.as_tensor()).unwrap();
    for (a, t) in [
        (ours.local, &l.local),
        (ours.network, &l.network),
        (ours.distillation, &l.distillation),
    ] {
        let want = t.to_scalar::<f32>().unwrap();
        assert!(
            (a - want).abs() <= TOL * want.abs().max(1.0),
            "loss {a} vs {want}"
        );
    }
    let total = ((&l.local + &l.network).unwrap() + &l.distillation).unwrap();
    let grads = total.backward().unwrap();
    for ((name, layer), (_, w, bias)) in m.layers().into_iter().zip(&reference.params) {
        let gw = grads.get(w).unwrap();
        let gb = grads.get(bias).unwrap();
        let dw = max_rel_diff(&layer.gw, gw).unwrap();
        let db = max_rel_diff(&layer.gb, gb).unwrap();
        assert!(
            dw <= TOL && db <= TOL,
            "{name}: weight diff {dw}, bias diff {db}"
        );
    }
    let dctx = max_rel_diff(m.context_grad(), grads.get(&ctx_var).unwrap()).unwrap();
    assert!(dctx <= TOL, "context gradient diff {dctx}");
    assert!(m.context_grad().iter().any(|v| *v != 0.0));
}

#[test]
fn encode_vjp_and_parameter_gradient_match_candle() {
    let b = 5;
    let m = MnistModel::new(8);
    let (x, _, g) = inputs(b, 9);
    // a gradient of both signs, as a peer's loss would send
    let g: Vec<f32> = g.iter().map(|v| v - 0.15).collect();
    let reference = CandleMnist::from_model(&m).unwrap();
    let xv = Var::from_tensor(&batch_tensors(&x, &[0; 5]).unwrap().0).unwrap();
    let gt = context_tensor(&g, b).unwrap();
    let out = reference.encode(xv.as_tensor()).unwrap();
    let grads = (&out * gt).unwrap().sum_all().unwrap().backward().unwrap();

    // forward: what is served
    let fwd = m.encode(&x).unwrap();
    assert_eq!(fwd.len(), b * CONTEXT_DIM);
    assert!(max_rel_diff(&fwd, &out).unwrap() <= TOL);
    assert!(fwd.iter().any(|v| *v > 0.0));

    // the VJP w.r.t. the images, through the forward network and the student
    let ours = m.encode_vjp(&x, &g).unwrap();
    assert_eq!(ours.len(), b * IMAGE_DIM);
    let dx = max_rel_diff(&ours, grads.get(&xv).unwrap()).unwrap();
    assert!(dx <= 1e-4, "input gradient diff {dx}");
    // the student branch matters: without it the VJP would differ
    let direct_only = {
        let mut m2 = m.clone();
        m2.student2.w.fill(0.0);
        m2.student2.b.fill(0.0);
        m2.encode_vjp(&x, &g).unwrap()
    };
    assert!(max_rel_diff(&direct_only, grads.get(&xv).unwrap()).unwrap() > 1e-3);

    // the parameter gradient (what remote learning applies) for the four layers
    let pg = m.encoder_param_grad(&x, &g).unwrap();
    for (i, name) in EncoderGrad::LAYERS.into_iter().enumerate() {
        let (ref_name, w, bias) = &reference.params[i];
        assert_eq!(*ref_name, name);
        let dw = max_rel_diff(&pg.layers[i].w, grads.get(w).unwrap()).unwrap();
        let db = max_rel_diff(&pg.layers[i].b, grads.get(bias).unwrap()).unwrap();
        assert!(
            dw <= 1e-4 && db <= 1e-4,
            "{name}: weight diff {dw}, bias diff {db}"
        );
    }

    // the student agrees with candle too
    let st = m.student(&x).unwrap();
    let want = reference
        .student(&batch_tensors(&x, &[0; 5]).unwrap().0)
        .unwrap();
    assert!(max_rel_diff(&st, &want).unwrap() <= TOL);
}

#[test]
fn sgd_momentum_steps_match_candle() {
    let b = 8;
    let mut m = MnistModel::new(11);
    let mut reference = CandleMnist::from_model(&m).unwrap();
    for step in 0..3u64 {
        let (x, y, ctx) = inputs(b, 20 + step);
        let (xt, yt) = batch_tensors(&x, &y).unwrap();
        let ct: Tensor = context_tensor(&ctx, b).unwrap();
        let want = reference.step(&xt, &yt, &ct, 0.01, 0.9).unwrap();
        let got = m
            .step(
                &x,
                &y,
                &ctx,
                GradMode::Sgd {
                    lr: 0.01,
                    momentum: 0.9,
                },
                false,
            )
            .unwrap();
        assert!((got.total() - want.total()).abs() < 1e-4 * want.total().abs().max(1.0));
    }
    for ((name, layer), (_, w, bias)) in m.layers().into_iter().zip(&reference.params) {
        assert!(
            max_rel_diff(&layer.w, w.as_tensor()).unwrap() <= TOL,
            "{name} weight"
        );
        assert!(
            max_rel_diff(&layer.b, bias.as_tensor()).unwrap() <= TOL,
            "{name} bias"
        );
    }
}

#[test]
fn rejects_bad_shapes_and_values() {
    let mut m = MnistModel::new(1);
    let (x, y, ctx) = inputs(2, 1);
    assert!(m.student(&x[..100]).is_err());
    assert!(m.encode(&x[..100]).is_err());
    assert!(m.step(&x, &y[..1], &ctx, GradMode::Store, false).is_err());
    assert!(m.step(&x, &y, &ctx[..10], GradMode::Store, false).is_err());
    let mut nan_ctx = ctx.clone();
    nan_ctx[3] = f32::NAN;
    assert!(m.step(&x, &y, &nan_ctx, GradMode::Store, false).is_err());
    assert!(m.step(&x, &[0, 10], &ctx, GradMode::Store, false).is_err());
    assert!(m.encode_vjp(&x, &ctx[..5]).is_err());
    let mut nan_g = ctx.clone();
    nan_g[0] = f32::INFINITY;
    assert!(m.encode_vjp(&x, &nan_g).is_err());
}
