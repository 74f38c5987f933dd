//! The CIFAR model: its step's gradients against finite differences of its own losses, and clear
//! errors on bad input.

use crate::cifar::{CONTEXT_DIM, CifarModel};
use crate::cifar_data::{IMAGE_DIM, generate_shapes};
use crate::dense::GradMode;
use crate::dpn::DpnConfig;
use crate::error::NnError;

fn batch(n: usize, seed: u64) -> (Vec<f32>, Vec<u8>) {
    let d = generate_shapes(n, seed).normalized().unwrap();
    (d.images().to_vec(), d.labels().to_vec())
}

fn total(m: &CifarModel, x: &[f32], y: &[u8], ctx: &[f32]) -> f64 {
    // Store mode leaves the parameters alone; batch norm's batch statistics make the loss
    // independent of the running statistics the step also updates.
    let mut m = m.clone();
    f64::from(m.step(x, y, ctx, GradMode::Store, false).unwrap().total())
}

#[test]
fn step_gradients_match_finite_differences() {
    let mut model = CifarModel::with_config(DpnConfig::tiny(), 3);
    // The step detaches the features under the student, as the losses prescribe, while a
    // difference quotient sees every path: a dead student (constant output 0) makes the two
    // agree, leaving the cross-entropy paths through the trunk to be checked.
    model.heads.student.w.fill(0.0);
    model.heads.student.b.fill(-1.0);
    let (x, y) = batch(6, 1);
    let ctx: Vec<f32> = (0..6 * CONTEXT_DIM)
        .map(|i| (i as f32 * 0.37).sin().abs())
        .collect();
    let mut stored = model.clone();
    stored.step(&x, &y, &ctx, GradMode::Store, false).unwrap();
    let eps = 1e-2f32;
    let mut checked = 0;
    // (name, parameter, analytic gradient) of layers at every depth of the trunk and heads
    let b0 = &stored.trunk.blocks[0];
    let last = &stored.trunk.blocks[stored.trunk.blocks.len() - 1];
    let probes: Vec<(&str, Vec<f32>)> = vec![
        ("stem", stored.trunk.stem.gw.clone()),
        ("stem_bn.gamma", stored.trunk.stem_bn.g_gamma.clone()),
        ("blocks.0.conv2", b0.conv2.gw.clone()),
        (
            "blocks.0.shortcut",
            b0.shortcut.as_ref().unwrap().0.gw.clone(),
        ),
        ("last.conv1", last.conv1.gw.clone()),
        ("last.bn3.beta", last.bn3.g_beta.clone()),
        ("hidden", stored.heads.hidden.gw.clone()),
    ];
    for (name, grad) in probes {
        // the largest few components, where the difference quotient is well above f32 noise
        let mut idx: Vec<usize> = (0..grad.len()).collect();
        idx.sort_by(|&a, &b| grad[b].abs().total_cmp(&grad[a].abs()));
        for &i in idx.iter().take(3) {
            let perturbed = |delta: f32| {
                let mut m = model.clone();
                let p = match name {
                    "stem" => &mut m.trunk.stem.w,
                    "stem_bn.gamma" => &mut m.trunk.stem_bn.gamma,
                    "blocks.0.conv2" => &mut m.trunk.blocks[0].conv2.w,
                    "blocks.0.shortcut" => &mut m.trunk.blocks[0].shortcut.as_mut().unwrap().0.w,
                    "last.conv1" => &mut m.trunk.blocks.last_mut().unwrap().conv1.w,
                    "last.bn3.beta" => &mut m.trunk.blocks.last_mut().unwrap().bn3.beta,
                    _ => &mut m.heads.hidden.w,
                };
                p[i] += delta;
                total(&m, &x, &y, &ctx)
            };
            let fd = (perturbed(eps) - perturbed(-eps)) / (2.0 * f64::from(eps));
            let g = f64::from(grad[i]);
            assert!(
                (fd - g).abs() <= 1e-3 + 0.03 * g.abs(),
                "{name}[{i}]: finite difference {fd}, step {g}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 21);
}

#[test]
fn bad_input_is_a_clear_error() {
    let mut m = CifarModel::with_config(DpnConfig::tiny(), 1);
    let sgd = GradMode::Store;
    let ctx = vec![0.0; 2 * CONTEXT_DIM];
    // a 28x28 grayscale batch, a truncated image, an empty batch
    for len in [2 * 784, 2 * IMAGE_DIM - 1, 0] {
        let x = vec![0.1; len];
        assert!(matches!(m.logits(&x), Err(NnError::Shape { .. })), "{len}");
        assert!(matches!(m.encode(&x), Err(NnError::Shape { .. })), "{len}");
        let err = m.step(&x, &[1, 2], &ctx, sgd, false).unwrap_err();
        assert!(
            err.to_string().contains(&format!("[B, {IMAGE_DIM}]")),
            "{err}"
        );
    }
    let mut x = vec![0.1; 2 * IMAGE_DIM];
    assert!(matches!(
        m.step(&x, &[1], &ctx, sgd, false),
        Err(NnError::Shape { .. })
    ));
    assert!(matches!(
        m.step(&x, &[1, 10], &ctx, sgd, false),
        Err(NnError::Dataset(_))
    ));
    assert!(matches!(
        m.step(&x, &[1, 2], &ctx[1..], sgd, false),
        Err(NnError::Shape { .. })
    ));
    x[5] = f32::NAN;
    assert!(matches!(m.logits(&x), Err(NnError::NonFinite(_))));
    // the model still works after every rejection
    let x = vec![0.1; 2 * IMAGE_DIM];
    assert_eq!(m.logits(&x).unwrap().len(), 20);
    assert_eq!(m.encode(&x).unwrap().len(), 2 * CONTEXT_DIM);
    assert!(
        m.step(&x, &[1, 2], &ctx, sgd, true)
            .unwrap()
            .total()
            .is_finite()
    );
    assert_eq!(m.context_grad().len(), 2 * CONTEXT_DIM);
}

#[test]
fn encode_vjp_matches_finite_differences_and_changes_nothing() {
    let mut model = CifarModel::with_config(DpnConfig::tiny(), 5);
    // a few steps move the running statistics away from (0, 1) and give the buffers contents
    let (x, y) = batch(4, 2);
    for _ in 0..3 {
        let ctx = model.student(&x).unwrap();
        model.step(&x, &y, &ctx, GradMode::Store, false).unwrap();
    }
    let g: Vec<f32> = (0..4 * CONTEXT_DIM)
        .map(|i| (i as f32 * 0.61).cos())
        .collect();
    let before = model.clone();
    let dx = model.encode_vjp(&x, &g).unwrap();
    assert_eq!(dx.len(), x.len());
    let same = |a: &CifarModel| {
        a.trunk.stem.w == before.trunk.stem.w
            && a.trunk.stem.gw == before.trunk.stem.gw
            && a.trunk.blocks[0].bn1.running_var == before.trunk.blocks[0].bn1.running_var
            && a.trunk.blocks[0].conv2.gw == before.trunk.blocks[0].conv2.gw
            && a.heads.hidden.gw == before.heads.hidden.gw
    };
    assert!(same(&model), "encode_vjp changed the model");
    let objective = |x: &[f32]| -> f64 {
        let e = model.encode(x).unwrap();
        e.iter()
            .zip(&g)
            .map(|(e, g)| f64::from(*e) * f64::from(*g))
            .sum()
    };
    let mut idx: Vec<usize> = (0..dx.len()).collect();
    idx.sort_by(|&a, &b| dx[b].abs().total_cmp(&dx[a].abs()));
    let eps = 1e-2f32;
    let mut agree = 0;
    for &i in idx.iter().take(8) {
        let mut xp = x.clone();
        xp[i] += eps;
        let mut xm = x.clone();
        xm[i] -= eps;
        let fd = (objective(&xp) - objective(&xm)) / (2.0 * f64::from(eps));
        let an = f64::from(dx[i]);
        // a ReLU kink inside ±eps can spoil a quotient; most must agree closely
        if (fd - an).abs() <= 0.02 * an.abs().max(1e-3) {
            agree += 1;
        }
    }
    assert!(
        agree >= 6,
        "only {agree} of 8 components match finite differences"
    );
    assert!(matches!(
        model.encode_vjp(&x, &g[..10]),
        Err(NnError::Shape { .. })
    ));
}

#[test]
fn reused_evaluation_buffers_do_not_leak_between_calls() {
    let model = CifarModel::with_config(DpnConfig::tiny(), 9);
    let (a, _) = batch(3, 2);
    let (b, _) = batch(5, 4);
    // a fresh clone starts with empty buffers: its answers are the reference
    let fresh = |x: &[f32]| model.clone().features(x).unwrap();
    let (want_a, want_b) = (fresh(&a), fresh(&b));
    // larger batch, then smaller, then larger again through the same model
    assert_eq!(model.features(&b).unwrap(), want_b);
    assert_eq!(model.features(&a).unwrap(), want_a);
    assert_eq!(model.features(&b).unwrap(), want_b);
    let g: Vec<f32> = (0..3 * CONTEXT_DIM)
        .map(|i| (i as f32 * 0.1).cos())
        .collect();
    let vjp = model.encode_vjp(&a, &g).unwrap();
    assert_eq!(model.clone().encode_vjp(&a, &g).unwrap(), vjp);
    assert_eq!(model.features(&a).unwrap(), want_a);
}
