//! The sparse mixture-of-peers router (DESIGN.md "Router").
//!
//! A trainable projection maps each example's context to a query; each peer has a trainable
//! key; `scores = query · keysᵀ`. Each example goes to its `k` best peers only (scores plus
//! seeded exploration noise decide the choice, so new peers get tried), and [`Router::join`]
//! combines the answers with gates = softmax of the scores over the selected peers that
//! actually answered — failed or invalid answers are masked and the gates renormalized. The
//! gates stay in candle's graph, so the task loss trains the projection and the keys; the
//! answers can be `Var`s whose gradients remote autograd sends back. Peer weights, what a
//! validator publishes, are an EMA of the mean gate. No I/O and no clock: the caller sends the
//! dispatch lists and passes the RNG.

use std::collections::HashSet;
use std::hash::Hash;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, IndexOp, Tensor, Var};
use rand::Rng;

use crate::error::{NnError, Result};

/// Router shape and behaviour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouterConfig {
    /// Width of the context rows that are routed.
    pub x_dim: usize,
    pub key_dim: usize,
    /// Width of a peer's answer rows.
    pub out_dim: usize,
    /// Peers per example.
    pub k: usize,
    /// Bound on the number of peers (keys) held.
    pub max_peers: usize,
    /// Standard deviation of the Gaussian noise added to the scores when choosing peers.
    pub noise_std: f32,
    /// Weight of the old value in the peer-weight EMA.
    pub ema_decay: f32,
}

impl RouterConfig {
    pub fn new(x_dim: usize, out_dim: usize) -> Self {
        Self {
            x_dim,
            key_dim: 32,
            out_dim,
            k: 2,
            max_peers: 256,
            noise_std: 0.1,
            ema_decay: 0.99,
        }
    }
}

struct Peer<P> {
    id: P,
    key: Var,
    weight: f32,
}

/// Router over peers identified by `P` (e.g. a public key).
pub struct Router<P> {
    cfg: RouterConfig,
    projection: Var,
    peers: Vec<Peer<P>>,
}

/// The examples to send to one peer.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch<P> {
    pub peer: P,
    /// Column of the peer in [`Routing::scores`].
    pub column: usize,
    /// Rows of the batch routed to this peer, ascending.
    pub examples: Vec<usize>,
}

/// The result of [`Router::route`]: who gets which examples.
pub struct Routing<P> {
    /// `[B, peers]` scores, attached to the projection and keys.
    pub scores: Tensor,
    /// Per example, the chosen peer columns (best first).
    pub selected: Vec<Vec<usize>>,
    /// Per peer with at least one example.
    pub dispatch: Vec<Dispatch<P>>,
    peers: Vec<P>,
}

/// How one dispatched peer's answer was used.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerOutcome {
    Answered,
    Failed,
    Invalid(String),
}

/// The joined network output.
pub struct Joined {
    /// `[B, out_dim]`: gate-weighted sum of the answers (zero rows where no peer answered).
    pub output: Tensor,
    /// `[B, peers]` gates (rows sum to 1 where some selected peer answered, else 0).
    pub gates: Tensor,
    /// One per [`Routing::dispatch`] entry.
    pub outcomes: Vec<PeerOutcome>,
}

fn uniform(rng: &mut impl Rng, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
}

fn gaussian(rng: &mut impl Rng) -> f32 {
    // Box–Muller; 1 - u keeps the log away from zero
    let u: f32 = 1.0 - rng.random::<f32>();
    let v: f32 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

impl<P: Clone + Eq + Hash> Router<P> {
    pub fn new(cfg: RouterConfig, rng: &mut impl Rng) -> Result<Self> {
        if cfg.x_dim == 0 || cfg.key_dim == 0 || cfg.out_dim == 0 || cfg.k == 0 {
            return Err(NnError::Router(format!("degenerate config {cfg:?}")));
        }
        let w = uniform(
            rng,
            cfg.x_dim * cfg.key_dim,
            1.0 / (cfg.x_dim as f32).sqrt(),
        );
        let projection = Var::from_tensor(&Tensor::from_vec(
            w,
            (cfg.x_dim, cfg.key_dim),
            &Device::Cpu,
        )?)?;
        Ok(Self {
            cfg,
            projection,
            peers: Vec::new(),
        })
    }

    pub fn config(&self) -> &RouterConfig {
        &self.cfg
    }

    /// Adds a peer with a fresh key; `Ok(false)` if it is already known.
    pub fn add_peer(&mut self, id: P, rng: &mut impl Rng) -> Result<bool> {
        if self.peers.iter().any(|p| p.id == id) {
            return Ok(false);
        }
        if self.peers.len() >= self.cfg.max_peers {
            return Err(NnError::Router(format!(
                "peer table full ({} peers)",
                self.cfg.max_peers
            )));
        }
        let key = uniform(
            rng,
            self.cfg.key_dim,
            1.0 / (self.cfg.key_dim as f32).sqrt(),
        );
        let key = Var::from_tensor(&Tensor::from_vec(key, self.cfg.key_dim, &Device::Cpu)?)?;
        self.peers.push(Peer {
            id,
            key,
            weight: 0.0,
        });
        Ok(true)
    }

    /// Forgets a peer (its key and weight); `false` if unknown.
    pub fn remove_peer(&mut self, id: &P) -> bool {
        let before = self.peers.len();
        self.peers.retain(|p| &p.id != id);
        before != self.peers.len()
    }

    pub fn peers(&self) -> impl Iterator<Item = &P> {
        self.peers.iter().map(|p| &p.id)
    }

    /// Each peer's weight (EMA of its mean gate).
    pub fn weights(&self) -> Vec<(P, f32)> {
        self.peers
            .iter()
            .map(|p| (p.id.clone(), p.weight))
            .collect()
    }

    /// The trainable parameters: the projection, then the keys in peer order.
    pub fn vars(&self) -> Vec<&Var> {
        std::iter::once(&self.projection)
            .chain(self.peers.iter().map(|p| &p.key))
            .collect()
    }

    /// Chooses up to `k` peers per example of `x` (`[B, x_dim]`).
    pub fn route(&self, x: &Tensor, rng: &mut impl Rng) -> Result<Routing<P>> {
        let (b, d) = x.dims2()?;
        if d != self.cfg.x_dim {
            return Err(crate::error::shape_err(
                "router input",
                format!("[B, {}]", self.cfg.x_dim),
                format!("{:?}", x.dims()),
            ));
        }
        if self.peers.is_empty() {
            return Err(NnError::Router("no peers to route to".into()));
        }
        let keys = Tensor::stack(
            &self
                .peers
                .iter()
                .map(|p| p.key.as_tensor())
                .collect::<Vec<_>>(),
            0,
        )?;
        let scores = x.matmul(self.projection.as_tensor())?.matmul(&keys.t()?)?;
        let values = scores.to_vec2::<f32>()?;
        let k = self.cfg.k.min(self.peers.len());
        let mut dispatch: Vec<Vec<usize>> = vec![Vec::new(); self.peers.len()];
        let mut selected = Vec::with_capacity(b);
        for (row, vals) in values.iter().enumerate() {
            let mut noisy: Vec<(f32, usize)> = vals
                .iter()
                .enumerate()
                .map(|(j, &s)| (s + self.cfg.noise_std * gaussian(rng), j))
                .collect();
            noisy.sort_by(|a, b| b.0.total_cmp(&a.0));
            let chosen: Vec<usize> = noisy[..k].iter().map(|&(_, j)| j).collect();
            for &j in &chosen {
                dispatch[j].push(row);
            }
            selected.push(chosen);
        }
        let dispatch = dispatch
            .into_iter()
            .enumerate()
            .filter(|(_, ex)| !ex.is_empty())
            .map(|(column, examples)| Dispatch {
                peer: self.peers[column].id.clone(),
                column,
                examples,
            })
            .collect();
        let peers = self.peers.iter().map(|p| p.id.clone()).collect();
        Ok(Routing {
            scores,
            selected,
            dispatch,
            peers,
        })
    }

    /// Combines the answers (one per `routing.dispatch` entry, `None` = failed or timed out;
    /// each `[examples.len(), out_dim]`) and updates the peer weights. Malformed answers are
    /// masked like failures and reported in [`Joined::outcomes`].
    pub fn join(&mut self, routing: &Routing<P>, answers: &[Option<Tensor>]) -> Result<Joined> {
        if answers.len() != routing.dispatch.len() {
            return Err(NnError::Router(format!(
                "{} answers for {} dispatched peers",
                answers.len(),
                routing.dispatch.len()
            )));
        }
        let (b, np) = routing.scores.dims2()?;
        let mut outcomes = Vec::with_capacity(answers.len());
        let mut answered = HashSet::new();
        for (disp, ans) in routing.dispatch.iter().zip(answers) {
            let outcome = match ans {
                None => PeerOutcome::Failed,
                Some(t) => match self.validate(t, disp.examples.len()) {
                    Ok(()) => {
                        answered.insert(disp.column);
                        PeerOutcome::Answered
                    }
                    Err(reason) => PeerOutcome::Invalid(reason),
                },
            };
            outcomes.push(outcome);
        }
        let mut mask = vec![0.0f32; b * np];
        for (row, chosen) in routing.selected.iter().enumerate() {
            for &j in chosen.iter().filter(|j| answered.contains(j)) {
                mask[row * np + j] = 1.0;
            }
        }
        let mask = Tensor::from_vec(mask, (b, np), &Device::Cpu)?;
        // masked softmax: excluded peers get -1e9 before the softmax and exactly 0 after it;
        // a row with no answer becomes all zeros (`softmax`, not `softmax_last_dim`: only the
        // former has a backward pass in candle 0.11)
        let shift = ((&mask - 1.0)? * 1e9)?;
        let gates =
            (candle_nn::ops::softmax(&(&routing.scores + shift)?, candle_core::D::Minus1)?
                * &mask)?;
        let mut output = Tensor::zeros((b, self.cfg.out_dim), DType::F32, &Device::Cpu)?;
        for ((disp, ans), outcome) in routing.dispatch.iter().zip(answers).zip(&outcomes) {
            let (Some(ans), PeerOutcome::Answered) = (ans, outcome) else {
                continue;
            };
            let rows: Vec<u32> = disp.examples.iter().map(|&r| r as u32).collect();
            let idx = Tensor::from_vec(rows, disp.examples.len(), &Device::Cpu)?;
            let gate = gates
                .i((.., disp.column..disp.column + 1))?
                .contiguous()?
                .index_select(&idx, 0)?;
            let contribution = ans.broadcast_mul(&gate)?;
            output = output.index_add(&idx, &contribution, 0)?;
        }
        let mean_gates = gates.mean(0)?.to_vec1::<f32>()?;
        let decay = self.cfg.ema_decay;
        for (peer, id) in routing.peers.iter().enumerate() {
            if let Some(p) = self.peers.iter_mut().find(|p| &p.id == id) {
                p.weight = decay * p.weight + (1.0 - decay) * mean_gates[peer];
            }
        }
        Ok(Joined {
            output,
            gates,
            outcomes,
        })
    }

    fn validate(&self, t: &Tensor, rows: usize) -> std::result::Result<(), String> {
        if t.dims() != [rows, self.cfg.out_dim] {
            return Err(format!(
                "shape {:?}, expected [{rows}, {}]",
                t.dims(),
                self.cfg.out_dim
            ));
        }
        if t.dtype() != DType::F32 {
            return Err(format!("dtype {:?}, expected f32", t.dtype()));
        }
        let values = t
            .flatten_all()
            .and_then(|v| v.to_vec1::<f32>())
            .map_err(|e| e.to_string())?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err("non-finite values".into());
        }
        Ok(())
    }

    /// Plain SGD on the projection and keys from a backward pass through [`Joined::output`].
    pub fn sgd_step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        for var in self.vars() {
            if let Some(g) = grads.get(var) {
                var.set(&(var.as_tensor() - (g * lr)?)?)?;
            }
        }
        Ok(())
    }
}
