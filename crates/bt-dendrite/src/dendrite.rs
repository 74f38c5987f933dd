//! The dendrite: fan-out of one batch to many remote synapses.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bt_crypto::session::SessionVersion;
use bt_crypto::{NeuronKey, RpcMethod};
use bt_tensor::compression::Codec;
use bt_tensor::{Modality, Tensor};
use futures_util::FutureExt as _;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::call::{CallSpec, Expect, call};
use crate::codecs::CallCodecs;
use crate::config::DendriteConfig;
use crate::endpoint::Endpoint;
use crate::error::DendriteError;
use crate::hashes::PayloadHashes;
use crate::outcome::{BadResponse, Outcome, Reply};
use crate::shared::Shared;

/// What to send to whom.
#[derive(Debug, Clone)]
pub enum Inputs {
    /// A (possibly different) tensor per peer: what a sparse router sends, each peer its own
    /// sub-batch.
    PerPeer(Vec<(Endpoint, Tensor)>),
    /// The same tensor to every peer (encoded and hashed once).
    Broadcast {
        endpoints: Vec<Endpoint>,
        tensor: Tensor,
    },
}

impl Inputs {
    pub fn broadcast(endpoints: impl IntoIterator<Item = Endpoint>, tensor: Tensor) -> Self {
        Inputs::Broadcast {
            endpoints: endpoints.into_iter().collect(),
            tensor,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Inputs::PerPeer(v) => v.len(),
            Inputs::Broadcast { endpoints, .. } => endpoints.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Vec<(Endpoint, Tensor)>> for Inputs {
    fn from(v: Vec<(Endpoint, Tensor)>) -> Self {
        Inputs::PerPeer(v)
    }
}

/// Per-call knobs; the defaults come from [`DendriteConfig`].
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Deadline of every call of this fan-out (default: `DendriteConfig::timeout`).
    pub timeout: Option<Duration>,
    /// Expected shape of each answer after its batch dimension (e.g. `[network_dim]`); when
    /// unset only the batch dimension is checked.
    pub output_dims: Option<Vec<usize>>,
    /// Codecs accepted in the answers, preferred first (default:
    /// `DendriteConfig::answer_codecs`; `Some(vec![])` offers none).
    pub answer_codecs: Option<Vec<Codec>>,
    /// Codec of the request's float32 tensors, for axons that accept it (default:
    /// `DendriteConfig::request_codec`).
    pub request_codec: Option<Codec>,
}

/// A gRPC client to many remote synapses. Cheap to clone (shared pool, breakers and limits).
#[derive(Clone)]
pub struct Dendrite {
    inner: Arc<Shared>,
}

impl Dendrite {
    /// A dendrite that signs with `key`. Makes no connection until the first call.
    pub fn new(key: NeuronKey, config: DendriteConfig) -> Self {
        Self {
            inner: Arc::new(Shared::new(key, config)),
        }
    }

    /// Our neuron key as sent in `TensorMessage.neuron_key`.
    pub fn neuron_key_hex(&self) -> &str {
        &self.inner.key_hex
    }

    pub fn config(&self) -> &DendriteConfig {
        &self.inner.cfg
    }

    /// The dendrite's metrics (`bt_dendrite_*`), for a process's metrics registry.
    pub fn metric_set(&self) -> Arc<dyn bt_interfaces::MetricSet> {
        self.inner.metrics.clone()
    }

    /// Sends TEXT tensors (pickled strings or token ids); see [`Dendrite::forward`].
    pub async fn forward_text(
        &self,
        inputs: impl Into<Inputs>,
    ) -> Result<Vec<Reply>, DendriteError> {
        self.forward(Modality::Text, inputs, &CallOptions::default())
            .await
    }

    /// Sends IMAGE tensors (`[batch, channels, height, width]`); see [`Dendrite::forward`].
    pub async fn forward_image(
        &self,
        inputs: impl Into<Inputs>,
    ) -> Result<Vec<Reply>, DendriteError> {
        self.forward(Modality::Image, inputs, &CallOptions::default())
            .await
    }

    /// Sends TENSOR tensors; see [`Dendrite::forward`].
    pub async fn forward_tensor(
        &self,
        inputs: impl Into<Inputs>,
    ) -> Result<Vec<Reply>, DendriteError> {
        self.forward(Modality::Tensor, inputs, &CallOptions::default())
            .await
    }

    /// Calls `Forward` on every peer at once, each under the same deadline, and returns one
    /// [`Reply`] per input, in input order. Never fails because of a peer: peers' failures are
    /// outcomes. Fails only when an input does not have `modality` or has no batch dimension.
    ///
    /// Cancel-safe: dropping the future aborts every call still in flight.
    pub async fn forward(
        &self,
        modality: Modality,
        inputs: impl Into<Inputs>,
        opts: &CallOptions,
    ) -> Result<Vec<Reply>, DendriteError> {
        let inputs = inputs.into();
        let deadline = Instant::now() + opts.timeout.unwrap_or(self.inner.cfg.timeout);
        let specs = self.forward_specs(modality, inputs, opts, deadline)?;
        Ok(self.fan_out(specs).await)
    }

    fn forward_specs(
        &self,
        modality: Modality,
        inputs: Inputs,
        opts: &CallOptions,
        deadline: Instant,
    ) -> Result<Vec<CallSpec>, DendriteError> {
        let spec = |endpoint: Endpoint, wire: bt_wire::Tensor, hashes, batch, codecs| CallSpec {
            endpoint,
            method: RpcMethod::Forward,
            tensors: vec![wire],
            hashes,
            expect: expect(batch, opts.output_dims.as_deref()),
            deadline,
            codecs,
        };
        match inputs {
            Inputs::Broadcast { endpoints, tensor } => {
                let batch = check_input(0, &tensor, modality)?;
                let wire = bt_tensor::encode(&tensor);
                self.check_size(0, std::slice::from_ref(&wire))?;
                let hashes = Arc::new(PayloadHashes::default());
                // Compressed (and later hashed) once for every peer, as the float32 form is.
                let codecs = self.codecs(0, opts, &[&tensor])?;
                Ok(endpoints
                    .into_iter()
                    .map(|ep| spec(ep, wire.clone(), hashes.clone(), batch, codecs.clone()))
                    .collect())
            }
            Inputs::PerPeer(calls) => {
                // A tensor cloned for several peers shares its buffer: hash it once.
                let mut shared: HashMap<(usize, usize), usize> = HashMap::new();
                for (_, t) in &calls {
                    *shared.entry(buffer_id(t)).or_default() += 1;
                }
                let mut hashes: HashMap<WireId, Arc<PayloadHashes>> = HashMap::new();
                let mut specs = Vec::with_capacity(calls.len());
                for (index, (ep, tensor)) in calls.into_iter().enumerate() {
                    let batch = check_input(index, &tensor, modality)?;
                    let wire = bt_tensor::encode(&tensor);
                    self.check_size(index, std::slice::from_ref(&wire))?;
                    let hash = if shared.get(&buffer_id(&tensor)).is_some_and(|&n| n > 1) {
                        hashes.entry(wire_id(&wire)).or_default().clone()
                    } else {
                        Arc::default()
                    };
                    let codecs = self.codecs(index, opts, &[&tensor])?;
                    specs.push(spec(ep, wire, hash, batch, codecs));
                }
                Ok(specs)
            }
        }
    }

    /// Calls `Backward` on one peer: `inputs` as sent in the forward call, `grads` the
    /// gradient of the loss with respect to that peer's answer. The answer is the gradient
    /// with respect to `inputs` (same shape as `inputs` for float inputs).
    pub async fn backward(
        &self,
        endpoint: &Endpoint,
        inputs: &Tensor,
        grads: &Tensor,
    ) -> Result<Reply, DendriteError> {
        self.backward_with(endpoint, inputs, grads, &CallOptions::default())
            .await
    }

    /// [`Dendrite::backward`] with options (`output_dims` is ignored: the answer's shape is
    /// the inputs').
    pub async fn backward_with(
        &self,
        endpoint: &Endpoint,
        inputs: &Tensor,
        grads: &Tensor,
        opts: &CallOptions,
    ) -> Result<Reply, DendriteError> {
        let batch = check_input(0, inputs, inputs.modality())?;
        let grad_batch = check_input(1, grads, grads.modality())?;
        if batch != grad_batch {
            return Err(DendriteError::BatchMismatch {
                inputs: batch,
                grads: grad_batch,
            });
        }
        let shape = inputs.dtype().is_float().then(|| inputs.shape().to_vec());
        let tensors = vec![bt_tensor::encode(inputs), bt_tensor::encode(grads)];
        self.check_size(0, &tensors)?;
        let codecs = self.codecs(0, opts, &[inputs, grads])?;
        let spec = CallSpec {
            endpoint: endpoint.clone(),
            method: RpcMethod::Backward,
            tensors,
            hashes: Arc::default(),
            expect: Expect { batch, shape },
            deadline: Instant::now() + opts.timeout.unwrap_or(self.inner.cfg.timeout),
            codecs,
        };
        let mut replies = self.fan_out(vec![spec]).await;
        Ok(replies.pop().unwrap_or(Reply {
            outcome: Outcome::BadResponse(BadResponse::DecoderPanic),
            elapsed: Duration::ZERO,
        }))
    }

    /// Runs every call as its own task (so decoding and validation use every core, and a
    /// panic inside tonic on a hostile answer costs that call only).
    async fn fan_out(&self, mut specs: Vec<CallSpec>) -> Vec<Reply> {
        let start = Instant::now();
        if specs.len() == 1
            && let Some(spec) = specs.pop()
        {
            // One call needs no task of its own: running it here saves a spawn and a
            // cross-thread wake-up, and `catch_unwind` keeps the per-call panic isolation.
            let outcome = AssertUnwindSafe(call(&self.inner, spec))
                .catch_unwind()
                .await
                .unwrap_or(Outcome::BadResponse(BadResponse::DecoderPanic));
            return vec![Reply {
                outcome,
                elapsed: start.elapsed(),
            }];
        }
        let mut set = JoinSet::new();
        let mut index_of = HashMap::with_capacity(specs.len());
        let mut replies: Vec<Option<Reply>> = Vec::with_capacity(specs.len());
        for (index, spec) in specs.into_iter().enumerate() {
            let inner = self.inner.clone();
            let handle = set.spawn(async move {
                let outcome = call(&inner, spec).await;
                Reply {
                    outcome,
                    elapsed: start.elapsed(),
                }
            });
            index_of.insert(handle.id(), index);
            replies.push(None);
        }
        while let Some(joined) = set.join_next_with_id().await {
            let (id, reply) = match joined {
                Ok((id, reply)) => (id, reply),
                Err(e) => (
                    e.id(),
                    Reply {
                        outcome: Outcome::BadResponse(BadResponse::DecoderPanic),
                        elapsed: start.elapsed(),
                    },
                ),
            };
            if let Some(slot) = index_of.get(&id).and_then(|&i| replies.get_mut(i)) {
                *slot = Some(reply);
            }
        }
        replies
            .into_iter()
            .map(|r| {
                r.unwrap_or(Reply {
                    outcome: Outcome::BadResponse(BadResponse::DecoderPanic),
                    elapsed: start.elapsed(),
                })
            })
            .collect()
    }

    /// The codecs of a call with `opts` sending `tensors` (input `index`).
    fn codecs(
        &self,
        index: usize,
        opts: &CallOptions,
        tensors: &[&Tensor],
    ) -> Result<Arc<CallCodecs>, DendriteError> {
        let answer = opts
            .answer_codecs
            .as_deref()
            .unwrap_or(&self.inner.cfg.answer_codecs);
        let request = opts.request_codec.unwrap_or(self.inner.cfg.request_codec);
        CallCodecs::new(answer, request, tensors)
            .map(Arc::new)
            .map_err(|e| DendriteError::Compression {
                index,
                reason: e.to_string(),
            })
    }

    /// Refuses, before anything is sent, a request the encoder would refuse anyway (a peer
    /// must not be blamed for our oversized batch).
    fn check_size(&self, index: usize, tensors: &[bt_wire::Tensor]) -> Result<(), DendriteError> {
        // Header fields: version, two 66-char keys, nonce, 64-byte signature, with tags.
        const HEADER_BYTES: usize = 256;
        let bytes = tensors
            .iter()
            .map(|t| prost::Message::encoded_len(t) + 8)
            .sum::<usize>()
            + HEADER_BYTES;
        let max = self.inner.cfg.max_message_size;
        if bytes > max {
            return Err(DendriteError::TooLarge { index, bytes, max });
        }
        Ok(())
    }

    /// Pooled connections right now (bounded by `max_connections`).
    pub fn connections(&self) -> usize {
        self.inner.pool.len()
    }

    /// Drops connections idle longer than `idle_timeout` (also done on every call).
    pub fn expire_idle(&self) -> usize {
        self.inner.pool.expire_idle()
    }

    /// Whether an authentication session with `endpoint`'s axon is established (calls to it
    /// then carry a MAC instead of a signature; see [`DendriteConfig::sessions`]).
    pub fn has_session(&self, endpoint: &Endpoint) -> bool {
        self.session_version(endpoint).is_some()
    }

    /// The version of the session with `endpoint`'s axon, if one is established: the highest
    /// both speak ([`DendriteConfig::session_version`], the axon's own setting).
    pub fn session_version(&self, endpoint: &Endpoint) -> Option<SessionVersion> {
        self.inner.pool.session_version(&endpoint.host())
    }

    /// Whether calls to `endpoint` currently fail fast.
    pub fn is_circuit_open(&self, endpoint: &Endpoint) -> bool {
        self.inner
            .breakers()
            .get_mut(endpoint, std::time::Instant::now())
            .is_some_and(|b| b.is_open())
    }
}

fn check_input(index: usize, t: &Tensor, modality: Modality) -> Result<usize, DendriteError> {
    if t.modality() != modality {
        return Err(DendriteError::Modality {
            index,
            expected: modality,
            got: t.modality(),
        });
    }
    t.shape()
        .first()
        .copied()
        .ok_or_else(|| DendriteError::NoBatch {
            index,
            shape: t.shape().to_vec(),
        })
}

fn expect(batch: usize, output_dims: Option<&[usize]>) -> Expect {
    Expect {
        batch,
        shape: output_dims.map(|dims| {
            let mut shape = Vec::with_capacity(dims.len() + 1);
            shape.push(batch);
            shape.extend_from_slice(dims);
            shape
        }),
    }
}

fn buffer_id(t: &Tensor) -> (usize, usize) {
    (t.bytes().as_ptr() as usize, t.bytes().len())
}

/// Identity of an encoded tensor for hash sharing: same buffer and same header fields.
type WireId = (usize, usize, Vec<i64>, i32, i32, bool);

fn wire_id(w: &bt_wire::Tensor) -> WireId {
    (
        w.buffer.as_ptr() as usize,
        w.buffer.len(),
        w.shape.clone(),
        w.dtype,
        w.modality,
        w.requires_grad,
    )
}
