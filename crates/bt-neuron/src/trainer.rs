//! A neuron's training loop, for any [`NeuronModel`] (seed 003 §6.2, DESIGN.md "Remote
//! autograd", "Router").
//!
//! Runs on its own thread. Per step: the student encodes the batch (the local context, and the
//! router's input); the router picks, per example, the k peers to ask; each peer receives only
//! its examples and answers with its encoding (its forward network over the image and its
//! student's output); the answers become leaves of a small candle graph (router gates ×
//! answers); the model steps on the local path (own student as context) and the network path
//! (joined encodings as context), and the student distils the joined encodings; the gradient of
//! the network loss with respect to the joined answer trains the router and, per peer, is queued
//! for that peer's `Backward`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bt_dendrite::{CallOptions, Dendrite, Endpoint, Inputs, Outcome};
use bt_nn::{
    Batch, Dataset, GradMode, NeuronModel, Router, RouterConfig, StepLosses, TrainConfig,
    WeightAverage,
};
use bt_tensor::Modality;
use candle_core::{Device, Tensor as CTensor, Var};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{mpsc, watch};

use crate::error::NeuronError;
use crate::peers::{BackwardJob, PeerView};
use crate::progress::Progress;
use crate::report::{NetworkTestLine, TestLine, TrainLine};
use crate::served::ServedModel;

/// How a learning neuron trains. Defaults are the seeds'.
#[derive(Debug, Clone)]
pub struct TrainerConfig {
    pub train: TrainConfig,
    pub epochs: usize,
    /// 0 = no limit.
    pub max_steps: usize,
    /// Router: key width and peers per example (the seeds: 100 and 10).
    pub key_dim: usize,
    pub topk: usize,
    /// Deadline of one step's fan-out to the peers.
    pub forward_timeout: Duration,
    /// Steps between log lines.
    pub log_every: usize,
    /// Steps between refreshes of the served copy.
    pub refresh_every: usize,
    pub seed: u64,
    /// Checkpoint written after every epoch (and by the caller on Ctrl-C).
    pub model_path: Option<std::path::PathBuf>,
}

impl Default for TrainerConfig {
    fn default() -> Self {
        Self {
            train: TrainConfig::default(),
            epochs: 1,
            max_steps: 0,
            key_dim: 100,
            topk: 10,
            forward_timeout: Duration::from_secs(2),
            log_every: 10,
            refresh_every: 50,
            seed: 0,
            model_path: None,
        }
    }
}

/// Everything the training thread talks to.
pub struct TrainerLinks<M: NeuronModel> {
    pub runtime: tokio::runtime::Handle,
    pub dendrite: Dendrite,
    pub view: watch::Receiver<PeerView>,
    pub weights: watch::Sender<Vec<(String, f32)>>,
    pub backward: mpsc::Sender<BackwardJob>,
    pub served: Arc<ServedModel<M>>,
    pub stop: Arc<AtomicBool>,
    /// Where the trainer reports its progress (`bt_trainer_*`).
    pub metrics: Arc<crate::metrics::TrainerMetrics>,
}

/// Where training ended.
pub struct TrainerResult<M> {
    pub model: M,
    pub epoch: u64,
    pub step: u64,
    pub interrupted: bool,
}

/// What a step hook sees after every training step.
pub struct StepEvent<'a, M> {
    /// Steps done so far (this one included).
    pub step: u64,
    pub losses: StepLosses,
    /// The seeds' nP|nS at this step.
    pub peers: usize,
    pub synapses: usize,
    /// Peers whose answers formed this step's network context (0 when alone).
    pub answered: usize,
    /// The model being trained.
    pub model: &'a M,
    /// The moving average of its weights (what the test line evaluates).
    pub average: &'a M,
}

/// Called after every step (benchmarks, tests); runs on the training thread.
pub type StepHook<M> = Box<dyn FnMut(&StepEvent<'_, M>) + Send>;

/// What one step learned of the network, for the log line.
struct NetworkStep {
    context: Vec<f32>,
    graph: Option<JoinedGraph>,
}

/// The candle side of a step whose context came from peers.
struct JoinedGraph {
    joined: CTensor,
    answers: Vec<(Endpoint, bt_tensor::Tensor, Var)>,
}

pub struct Trainer<M: NeuronModel> {
    cfg: TrainerConfig,
    model: M,
    router: Router<String>,
    rng: StdRng,
    links: TrainerLinks<M>,
    endpoints: HashMap<String, Endpoint>,
    counts: (usize, usize),
    average: WeightAverage<M>,
    hook: Option<StepHook<M>>,
    /// Remote `Backward` requests whose gradients reached our encoder.
    remote_requests: u64,
}

impl<M: NeuronModel> Trainer<M> {
    pub fn new(cfg: TrainerConfig, model: M, links: TrainerLinks<M>) -> Result<Self, NeuronError> {
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let router_cfg = RouterConfig {
            key_dim: cfg.key_dim,
            k: cfg.topk,
            ..RouterConfig::new(M::CONTEXT_DIM, M::CONTEXT_DIM)
        };
        let router = Router::new(router_cfg, &mut rng)?;
        let average = WeightAverage::with_defaults(&model);
        Ok(Self {
            average,
            hook: None,
            remote_requests: 0,
            cfg,
            model,
            router,
            rng,
            links,
            endpoints: HashMap::new(),
            counts: (0, 1),
        })
    }

    /// Calls `hook` after every step.
    pub fn with_hook(mut self, hook: impl FnMut(&StepEvent<'_, M>) + Send + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// Trains from `(start_epoch, start_step)` until the epochs or steps are done or `stop` is
    /// set, printing the seeds' log lines and a test accuracy after every epoch.
    pub fn run(
        mut self,
        train: &Dataset,
        test: &Dataset,
        start_epoch: u64,
        start_step: u64,
    ) -> Result<TrainerResult<M>, NeuronError> {
        let mut step = start_step;
        let mut epoch = start_epoch;
        let batch_size = self.cfg.train.batch_size;
        let total = train.len() - train.len() % batch_size.max(1);
        let mut batch = Batch::default();
        let mut interrupted = false;
        let mut sums = [0.0f64; 3];
        let mut since_log = 0usize;
        while (epoch as usize) < self.cfg.epochs {
            let mut order = train.epoch(batch_size, self.cfg.seed ^ epoch);
            let mut seen = 0usize;
            let progress = Progress::for_epoch(epoch as usize, total);
            while order.next_into(&mut batch)? {
                if self.links.stop.load(Ordering::Relaxed) {
                    interrupted = true;
                    break;
                }
                if self.cfg.max_steps > 0 && step as usize >= self.cfg.max_steps {
                    break;
                }
                let (losses, answered) = self.step(&batch)?;
                step += 1;
                self.average.observe(&mut self.model);
                if let Some(hook) = self.hook.as_mut() {
                    hook(&StepEvent {
                        step,
                        losses,
                        peers: self.counts.0,
                        synapses: self.counts.1,
                        answered,
                        model: &self.model,
                        average: self.average.model(),
                    });
                }
                seen += batch.len();
                for (s, v) in
                    sums.iter_mut()
                        .zip([losses.local, losses.network, losses.distillation])
                {
                    *s += f64::from(v);
                }
                since_log += 1;
                // the last step of a --max_steps run logs too, so a short run shows its losses
                let last = self.cfg.max_steps > 0 && step as usize >= self.cfg.max_steps;
                if since_log >= self.cfg.log_every || seen == total || last {
                    let n = since_log as f64;
                    self.links.metrics.interval(
                        epoch as usize,
                        step,
                        [sums[0] / n, sums[1] / n, sums[2] / n],
                        Instant::now(),
                    );
                    progress.line(&TrainLine {
                        epoch: epoch as usize,
                        seen,
                        total,
                        local_loss: sums[0] / n,
                        network_loss: sums[1] / n,
                        distillation_loss: sums[2] / n,
                        peers: self.counts.0,
                        synapses: self.counts.1,
                    });
                    sums = [0.0; 3];
                    since_log = 0;
                }
                if (step as usize).is_multiple_of(self.cfg.refresh_every.max(1)) {
                    self.links.served.refresh(self.model.clone());
                }
            }
            progress.finish();
            if interrupted {
                break;
            }
            let finished_epoch = seen == total;
            self.print_test(test, epoch)?;
            self.print_network_test(test, epoch)?;
            if finished_epoch {
                epoch += 1;
                if let Some(path) = &self.cfg.model_path {
                    save_checkpoint(&mut self.model, path, epoch, step)?;
                }
            }
            if self.cfg.max_steps > 0 && step as usize >= self.cfg.max_steps {
                break;
            }
        }
        self.links.served.refresh(self.model.clone());
        if self.remote_requests > 0 {
            tracing::info!(
                requests = self.remote_requests,
                "remote gradients applied to the encoder (student and forward network)"
            );
        }
        Ok(TrainerResult {
            model: self.model,
            epoch,
            step,
            interrupted,
        })
    }

    /// The test line evaluates the weight average (bt-nn `average`: about one point better
    /// than the last iterate after one MNIST epoch, with the same training).
    fn print_test(&self, test: &Dataset, epoch: u64) -> Result<(), NeuronError> {
        let acc = bt_nn::accuracy(self.average.model(), test)?;
        let correct = (acc * test.len() as f64).round() as usize;
        self.links.metrics.tested(acc);
        println!(
            "{}",
            TestLine {
                epoch: epoch as usize,
                accuracy: acc,
                correct,
                total: test.len(),
            }
        );
        Ok(())
    }

    /// The network path's accuracy on the test set (the weight average's prediction with the
    /// peers' joined answers as context, asked batch by batch as in training), when the neuron
    /// has peers; alone, the network path is the local path and nothing is printed.
    fn print_network_test(&mut self, test: &Dataset, epoch: u64) -> Result<(), NeuronError> {
        self.sync_peers()?;
        if self.endpoints.is_empty() || test.is_empty() {
            return Ok(());
        }
        let rows = self.cfg.train.batch_size.max(1);
        let mut correct = 0usize;
        for (x, y) in test
            .images()
            .chunks(rows * test.dim())
            .zip(test.labels().chunks(rows))
        {
            if self.links.stop.load(Ordering::Relaxed) {
                return Ok(()); // a partial figure would be wrong, not late
            }
            let batch = Batch {
                x: x.to_vec(),
                y: y.to_vec(),
                dim: test.dim(),
            };
            let local = self.average.model().student(x)?;
            let context = self.ask_network(&batch, &local)?.context;
            let pred = self.average.model().predict_with_context(x, &context)?;
            correct += pred.iter().zip(y).filter(|(p, y)| p == y).count();
        }
        let line = NetworkTestLine(TestLine {
            epoch: epoch as usize,
            accuracy: correct as f64 / test.len() as f64,
            correct,
            total: test.len(),
        });
        println!("{line}");
        Ok(())
    }

    fn sync_peers(&mut self) -> Result<(), NeuronError> {
        if !self.links.view.has_changed().unwrap_or(false) && !self.endpoints.is_empty() {
            return Ok(());
        }
        let view = self.links.view.borrow_and_update().clone();
        self.counts = (view.peers, view.synapses);
        let gone: Vec<String> = self
            .router
            .peers()
            .filter(|p| !view.endpoints.contains_key(*p))
            .cloned()
            .collect();
        for key in gone {
            self.router.remove_peer(&key);
        }
        for key in view.endpoints.keys() {
            self.router.add_peer(key.clone(), &mut self.rng)?;
        }
        self.endpoints = view.endpoints.into_iter().collect();
        Ok(())
    }

    fn step(&mut self, batch: &Batch) -> Result<(StepLosses, usize), NeuronError> {
        self.sync_peers()?;
        if let Some((grad, requests)) = self.links.served.take_remote_grad() {
            // what peers taught our served encoder; served again at the next refresh
            self.model.apply_encoder_grad(&grad, self.cfg.train.lr);
            self.remote_requests += requests;
        }
        let rows = batch.len();
        let local = self.model.student(&batch.x)?;
        let network = self.ask_network(batch, &local)?;
        let mode = GradMode::Sgd {
            lr: self.cfg.train.lr,
            momentum: self.cfg.train.momentum,
        };
        let with_peers = network.graph.is_some();
        let answered = network.graph.as_ref().map_or(0, |g| g.answers.len());
        let losses = self
            .model
            .step(&batch.x, &batch.y, &network.context, mode, with_peers)?;
        if let Some(graph) = network.graph {
            self.learn_from_peers(graph, rows)?;
        }
        let weights = self.router.weights();
        self.links.metrics.scores(&weights);
        self.links.weights.send_replace(weights);
        Ok((losses, answered))
    }

    /// The network context: the router's gated join of the peers' answers, with our own student
    /// output for examples no peer answered (and for every example when we are alone).
    fn ask_network(&mut self, batch: &Batch, local: &[f32]) -> Result<NetworkStep, NeuronError> {
        let rows = batch.len();
        if self.endpoints.is_empty() {
            return Ok(NetworkStep {
                context: local.to_vec(),
                graph: None,
            });
        }
        let x = CTensor::from_slice(local, (rows, M::CONTEXT_DIM), &Device::Cpu).map_err(nn)?;
        let routing = self.router.route(&x, &mut self.rng)?;
        let mut calls = Vec::with_capacity(routing.dispatch.len());
        for d in &routing.dispatch {
            let Some(ep) = self.endpoints.get(&d.peer) else {
                continue;
            };
            let mut sub = Vec::with_capacity(d.examples.len() * batch.dim);
            for &r in &d.examples {
                sub.extend_from_slice(&batch.x[r * batch.dim..(r + 1) * batch.dim]);
            }
            let inputs = M::INPUT.to_wire(&sub, d.examples.len())?;
            calls.push((ep.clone(), inputs));
        }
        let opts = CallOptions {
            timeout: Some(self.cfg.forward_timeout),
            output_dims: Some(vec![M::CONTEXT_DIM]),
            ..CallOptions::default()
        };
        let started = Instant::now();
        let replies = self.links.runtime.block_on(self.links.dendrite.forward(
            M::INPUT.modality(),
            Inputs::PerPeer(calls.clone()),
            &opts,
        ));
        let replies = replies?;
        tracing::debug!(peers = calls.len(), elapsed = ?started.elapsed(), "network forward");
        let mut answers = Vec::with_capacity(routing.dispatch.len());
        let mut leaves = Vec::new();
        for ((ep, inputs), reply) in calls.into_iter().zip(replies) {
            let leaf = match reply.outcome {
                Outcome::Ok(t) => {
                    let values = t.to_f32_vec().ok();
                    let rows = t.shape().first().copied().unwrap_or(0);
                    values.and_then(|v| {
                        CTensor::from_vec(v, (rows, M::CONTEXT_DIM), &Device::Cpu)
                            .and_then(|t| Var::from_tensor(&t))
                            .ok()
                    })
                }
                other => {
                    tracing::debug!(peer = %ep.synapse_key, outcome = %other, "peer did not answer");
                    None
                }
            };
            answers.push(leaf.as_ref().map(|v| v.as_tensor().clone()));
            if let Some(var) = leaf {
                leaves.push((ep, inputs, var));
            }
        }
        let joined = self.router.join(&routing, &answers)?;
        let answered_rows = joined
            .gates
            .sum(1)
            .map_err(nn)?
            .to_vec1::<f32>()
            .map_err(nn)?;
        let mut context = joined
            .output
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(nn)?;
        for (r, &g) in answered_rows.iter().enumerate() {
            if g <= 0.0 {
                let row = r * M::CONTEXT_DIM..(r + 1) * M::CONTEXT_DIM;
                context[row.clone()].copy_from_slice(&local[row]);
            }
        }
        let graph = (!leaves.is_empty()).then_some(JoinedGraph {
            joined: joined.output,
            answers: leaves,
        });
        Ok(NetworkStep { context, graph })
    }

    /// Backpropagates the network loss's gradient (w.r.t. the context) through the join: into
    /// the router's projection and keys, and to each answering peer.
    fn learn_from_peers(&mut self, graph: JoinedGraph, rows: usize) -> Result<(), NeuronError> {
        let d_ctx = CTensor::from_slice(
            self.model.context_grad(),
            (rows, M::CONTEXT_DIM),
            &Device::Cpu,
        )
        .map_err(nn)?;
        let surrogate = (&graph.joined * &d_ctx)
            .and_then(|t| t.sum_all())
            .map_err(nn)?;
        let grads = surrogate.backward().map_err(nn)?;
        self.router.sgd_step(&grads, f64::from(self.cfg.train.lr))?;
        if !M::INPUT.has_gradient() {
            // A peer's Backward answers with its input gradient, and discrete input (token
            // ids) has none: no text synapse here learns from one (MiniLM teachers are
            // frozen; text learners have no remote learning), so none is sent.
            return Ok(());
        }
        for (endpoint, inputs, var) in graph.answers {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let (Ok(values), Ok((n, d))) =
                (g.flatten_all().and_then(|t| t.to_vec1::<f32>()), g.dims2())
            else {
                continue;
            };
            let Ok(grads) = bt_tensor::Tensor::from_f32_vec(&[n, d], values, Modality::Tensor)
            else {
                continue;
            };
            // A full queue means the peers are slower than we train: drop, never wait.
            let _ = self.links.backward.try_send(BackwardJob {
                endpoint,
                inputs,
                grads,
            });
        }
        Ok(())
    }
}

/// Writes a checkpoint (atomically, by bt-nn) and says so on stdout.
pub fn save_checkpoint<M: NeuronModel>(
    model: &mut M,
    path: &std::path::Path,
    epoch: u64,
    step: u64,
) -> Result<(), NeuronError> {
    bt_nn::checkpoint::save(model, bt_nn::TrainingState { epoch, step }, path).map_err(
        |source| NeuronError::Checkpoint {
            path: path.to_path_buf(),
            source,
        },
    )?;
    println!(
        "{}",
        crate::report::checkpoint_line(&path.display().to_string())
    );
    Ok(())
}

fn nn(e: candle_core::Error) -> NeuronError {
    NeuronError::Model(bt_nn::NnError::from(e))
}
