//! Router behaviour: shapes, sparsity, masking, renormalization, gradient flow, EMA, bounds.

use candle_core::{Device, Tensor, Var};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::router::{PeerOutcome, Router, RouterConfig};

const B: usize = 6;
const X: usize = 8;
const OUT: usize = 3;

fn setup(peers: u32, k: usize, noise: f32) -> (Router<u32>, Tensor, StdRng) {
    let mut rng = StdRng::seed_from_u64(42);
    let cfg = RouterConfig {
        k,
        noise_std: noise,
        key_dim: 4,
        ..RouterConfig::new(X, OUT)
    };
    let mut r = Router::new(cfg, &mut rng).unwrap();
    for p in 0..peers {
        assert!(r.add_peer(p, &mut rng).unwrap());
    }
    let x: Vec<f32> = (0..B * X)
        .map(|i| ((i * 7) % 11) as f32 / 5.0 - 1.0)
        .collect();
    (r, Tensor::from_vec(x, (B, X), &Device::Cpu).unwrap(), rng)
}

/// Each peer answers `peer + 1` in every column for each routed example.
fn answers(r: &crate::router::Routing<u32>) -> Vec<Option<Tensor>> {
    r.dispatch
        .iter()
        .map(|d| {
            Some(Tensor::full((d.peer + 1) as f32, (d.examples.len(), OUT), &Device::Cpu).unwrap())
        })
        .collect()
}

#[test]
fn routes_each_example_to_exactly_k_peers() {
    let (r, x, mut rng) = setup(5, 2, 0.0);
    let routing = r.route(&x, &mut rng).unwrap();
    assert_eq!(routing.scores.dims(), [B, 5]);
    let scores = routing.scores.to_vec2::<f32>().unwrap();
    for (row, chosen) in routing.selected.iter().enumerate() {
        assert_eq!(chosen.len(), 2);
        // without noise the choice is the top-2 by score
        let mut order: Vec<usize> = (0..5).collect();
        order.sort_by(|&a, &b| scores[row][b].total_cmp(&scores[row][a]));
        assert_eq!(chosen, &order[..2]);
    }
    // truly sparse: a peer only receives the examples that chose it
    let total: usize = routing.dispatch.iter().map(|d| d.examples.len()).sum();
    assert_eq!(total, B * 2);
    for d in &routing.dispatch {
        for &e in &d.examples {
            assert!(routing.selected[e].contains(&d.column));
        }
    }
}

#[test]
fn failed_peers_are_masked_and_gates_renormalized() {
    let (mut r, x, mut rng) = setup(4, 2, 0.0);
    let routing = r.route(&x, &mut rng).unwrap();
    let mut ans = answers(&routing);
    ans[0] = None; // the first dispatched peer times out
    let failed_col = routing.dispatch[0].column;
    let joined = r.join(&routing, &ans).unwrap();
    assert_eq!(joined.outcomes[0], PeerOutcome::Failed);
    assert_eq!(joined.output.dims(), [B, OUT]);
    let gates = joined.gates.to_vec2::<f32>().unwrap();
    let out = joined.output.to_vec2::<f32>().unwrap();
    let peers: Vec<u32> = r.peers().copied().collect();
    for (row, g) in gates.iter().enumerate() {
        assert_eq!(g[failed_col], 0.0);
        let live: Vec<usize> = routing.selected[row]
            .iter()
            .copied()
            .filter(|&c| c != failed_col)
            .collect();
        for (c, &v) in g.iter().enumerate() {
            if !live.contains(&c) {
                assert_eq!(v, 0.0, "unselected or failed peer gets no gate");
            }
        }
        let sum: f32 = g.iter().sum();
        let want: f32 = live.iter().map(|&c| g[c] * (peers[c] + 1) as f32).sum();
        if live.is_empty() {
            assert_eq!(sum, 0.0);
            assert!(out[row].iter().all(|&v| v == 0.0));
        } else {
            assert!((sum - 1.0).abs() < 1e-5, "row {row} gates sum {sum}");
            assert!((out[row][0] - want).abs() < 1e-5);
        }
    }
}

#[test]
fn malformed_answers_are_masked_not_fatal() {
    let (mut r, x, mut rng) = setup(3, 3, 0.0);
    let routing = r.route(&x, &mut rng).unwrap();
    let mut ans = answers(&routing);
    ans[1] = Some(Tensor::zeros((1, OUT + 1), candle_core::DType::F32, &Device::Cpu).unwrap());
    ans[2] = Some(Tensor::full(f32::NAN, (B, OUT), &Device::Cpu).unwrap());
    let joined = r.join(&routing, &ans).unwrap();
    assert!(matches!(joined.outcomes[1], PeerOutcome::Invalid(_)));
    assert!(matches!(joined.outcomes[2], PeerOutcome::Invalid(_)));
    let out = joined.output.to_vec2::<f32>().unwrap();
    // only peer 0 answered: every row is exactly its answer (gate renormalized to 1)
    let only = (routing.dispatch[0].peer + 1) as f32;
    assert!(out.iter().flatten().all(|&v| (v - only).abs() < 1e-5));
    assert!(
        r.join(&routing, &ans[..1]).is_err(),
        "answer count must match"
    );
}

#[test]
fn gradients_reach_projection_keys_and_answers() {
    let (mut r, x, mut rng) = setup(4, 2, 0.0);
    let routing = r.route(&x, &mut rng).unwrap();
    let vars: Vec<Var> = answers(&routing)
        .into_iter()
        .map(|a| Var::from_tensor(&a.unwrap()).unwrap())
        .collect();
    let ans: Vec<Option<Tensor>> = vars.iter().map(|v| Some(v.as_tensor().clone())).collect();
    let joined = r.join(&routing, &ans).unwrap();
    let target = Tensor::zeros((B, OUT), candle_core::DType::F32, &Device::Cpu).unwrap();
    let loss = candle_nn::loss::mse(&joined.output, &target).unwrap();
    let grads = loss.backward().unwrap();
    let nonzero = |t: &Tensor| {
        t.abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
            > 0.0
    };
    let params = r.vars();
    assert!(
        nonzero(grads.get(params[0]).unwrap()),
        "projection gets a gradient"
    );
    for d in &routing.dispatch {
        assert!(
            nonzero(grads.get(params[1 + d.column]).unwrap()),
            "key of peer {}",
            d.peer
        );
    }
    for v in &vars {
        assert!(
            nonzero(grads.get(v).unwrap()),
            "remote autograd: answer gradient"
        );
    }
    // a step on the router's own parameters lowers the loss on the same answers
    let before = loss.to_scalar::<f32>().unwrap();
    r.sgd_step(&grads, 0.05).unwrap();
    let again = r.join(&r_route(&r, &routing), &ans).unwrap();
    let after = candle_nn::loss::mse(&again.output, &target)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(after < before, "loss {before} -> {after}");
}

/// The same dispatch with scores recomputed from the updated parameters.
fn r_route(r: &Router<u32>, old: &crate::router::Routing<u32>) -> crate::router::Routing<u32> {
    let x: Vec<f32> = (0..B * X)
        .map(|i| ((i * 7) % 11) as f32 / 5.0 - 1.0)
        .collect();
    let x = Tensor::from_vec(x, (B, X), &Device::Cpu).unwrap();
    let mut fresh = r.route(&x, &mut StdRng::seed_from_u64(0)).unwrap();
    fresh.selected = old.selected.clone();
    fresh.dispatch = old.dispatch.clone();
    fresh
}

#[test]
fn peers_come_and_go_weights_are_an_ema_and_table_is_bounded() {
    let mut rng = StdRng::seed_from_u64(1);
    let cfg = RouterConfig {
        max_peers: 2,
        noise_std: 0.0,
        k: 1,
        ..RouterConfig::new(X, OUT)
    };
    let mut r: Router<u32> = Router::new(cfg, &mut rng).unwrap();
    assert!(
        r.route(
            &Tensor::zeros((1, X), candle_core::DType::F32, &Device::Cpu).unwrap(),
            &mut rng
        )
        .is_err()
    );
    assert!(r.add_peer(7, &mut rng).unwrap());
    assert!(!r.add_peer(7, &mut rng).unwrap());
    assert!(r.add_peer(8, &mut rng).unwrap());
    assert!(r.add_peer(9, &mut rng).is_err(), "bounded");
    let x = Tensor::ones((B, X), candle_core::DType::F32, &Device::Cpu).unwrap();
    let routing = r.route(&x, &mut rng).unwrap();
    let joined = r.join(&routing, &answers(&routing)).unwrap();
    let mean: Vec<f32> = joined.gates.mean(0).unwrap().to_vec1().unwrap();
    for ((_, w), m) in r.weights().into_iter().zip(&mean) {
        assert!((w - 0.01 * m).abs() < 1e-7);
    }
    assert!(r.remove_peer(&7));
    assert!(!r.remove_peer(&7));
    assert_eq!(r.peers().copied().collect::<Vec<_>>(), vec![8]);
    assert!(
        r.route(
            &Tensor::zeros((1, X + 1), candle_core::DType::F32, &Device::Cpu).unwrap(),
            &mut rng
        )
        .is_err()
    );
}

#[test]
fn exploration_noise_tries_other_peers_and_is_seeded() {
    let (mut r, x, _) = setup(6, 1, 0.0);
    let plain = r.route(&x, &mut StdRng::seed_from_u64(3)).unwrap().selected;
    let mut cfg = *r.config();
    cfg.noise_std = 100.0;
    r = {
        let mut rng = StdRng::seed_from_u64(42);
        let mut fresh = Router::new(cfg, &mut rng).unwrap();
        for p in 0..6 {
            fresh.add_peer(p, &mut rng).unwrap();
        }
        fresh
    };
    let a = r.route(&x, &mut StdRng::seed_from_u64(3)).unwrap().selected;
    let b = r.route(&x, &mut StdRng::seed_from_u64(3)).unwrap().selected;
    assert_eq!(a, b, "same seed, same choice");
    assert_ne!(a, plain, "large noise changes the choice");
}
