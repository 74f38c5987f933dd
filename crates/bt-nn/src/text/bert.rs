//! BERT's encoder forward (what all-MiniLM-L6-v2 runs) over plain `f32` weights and the
//! project's gemm path, for inference only.
//!
//! Sequences are packed, not padded: the tokens of all texts of a batch sit one after another
//! (only the positions the attention mask keeps), every linear layer is one product over all of
//! them, and attention runs per sequence over its own tokens alone. A masked-out position can
//! influence nothing in the reference (it is excluded as a key and from the pooled mean), so
//! leaving it out gives the same embedding while padding costs nothing. Each token keeps its
//! position in its row, so ids with `[PAD]` holes embed as the padded forward does.

use std::collections::HashMap;
use std::path::Path;

use candle_core::Tensor;
use candle_transformers::models::bert::Config;
use rayon::prelude::*;

use super::error::TextError;
use super::kernels::{bias_gelu, bias_layer_norm, layer_norm_row, softmax_rows};
use crate::gemm_ops::{View, ViewMut, gemm, gemm_serial};

/// Rows per task of the elementwise passes: enough work per task to outweigh scheduling.
const ROWS_PER_TASK: usize = 16;

/// A layer norm's scale and shift.
struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// One encoder layer's weights, as `[out, in]` row-major matrices (the checkpoint's layout).
struct Layer {
    /// Query, key and value stacked `[3·hidden, hidden]`, the query part pre-scaled by
    /// `1/√head_dim` so the scores need no separate scaling pass.
    qkv_w: Vec<f32>,
    qkv_b: Vec<f32>,
    attn_out_w: Vec<f32>,
    attn_out_b: Vec<f32>,
    attn_norm: Norm,
    up_w: Vec<f32>,
    up_b: Vec<f32>,
    down_w: Vec<f32>,
    down_b: Vec<f32>,
    out_norm: Norm,
}

/// The encoder's weights, read once from the checkpoint.
pub struct BertWeights {
    hidden: usize,
    heads: usize,
    intermediate: usize,
    max_positions: usize,
    vocab: usize,
    eps: f32,
    word: Vec<f32>,
    position: Vec<f32>,
    /// Row 0 of the token-type table: every token of a single-segment text has type 0.
    token_type: Vec<f32>,
    embed_norm: Norm,
    layers: Vec<Layer>,
}

/// Tokens of a batch packed without padding: the ids and in-row positions of the kept tokens,
/// and where each sequence starts (`starts[r]..starts[r + 1]`).
pub struct Packed {
    pub ids: Vec<u32>,
    pub positions: Vec<u32>,
    pub starts: Vec<usize>,
}

impl Packed {
    fn tokens(&self) -> usize {
        self.ids.len()
    }
    fn seqs(&self) -> usize {
        self.starts.len() - 1
    }
}

impl BertWeights {
    /// Reads the tensors BERT needs from a checkpoint's tensors, checking every shape against
    /// `config`. `path` names the file in errors.
    pub fn from_tensors(
        tensors: &HashMap<String, Tensor>,
        config: &Config,
        path: &Path,
    ) -> Result<Self, TextError> {
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let take = |name: &str, shape: &[usize]| -> Result<Vec<f32>, TextError> {
            let bad = |reason: String| TextError::BadModelFile {
                path: path.to_path_buf(),
                reason: format!("{name}: {reason}"),
            };
            let t = tensors
                .get(name)
                .ok_or_else(|| bad("missing from the checkpoint".into()))?;
            if t.dims() != shape {
                return Err(bad(format!("shape {:?}, expected {shape:?}", t.dims())));
            }
            let flat = t
                .to_dtype(candle_core::DType::F32)
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| bad(e.to_string()))?;
            Ok(flat)
        };
        let norm = |prefix: &str| -> Result<Norm, TextError> {
            Ok(Norm {
                weight: take(&format!("{prefix}.weight"), &[h])?,
                bias: take(&format!("{prefix}.bias"), &[h])?,
            })
        };
        let token_types = take(
            "embeddings.token_type_embeddings.weight",
            &[config.type_vocab_size, h],
        )?;
        let head_dim = h / config.num_attention_heads;
        let q_scale = 1.0 / (head_dim as f32).sqrt();
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            let mut qkv_w = Vec::with_capacity(3 * h * h);
            let mut qkv_b = Vec::with_capacity(3 * h);
            for (part, scale) in [("query", q_scale), ("key", 1.0), ("value", 1.0)] {
                let w = take(&format!("{p}.attention.self.{part}.weight"), &[h, h])?;
                let b = take(&format!("{p}.attention.self.{part}.bias"), &[h])?;
                qkv_w.extend(w.iter().map(|v| v * scale));
                qkv_b.extend(b.iter().map(|v| v * scale));
            }
            layers.push(Layer {
                qkv_w,
                qkv_b,
                attn_out_w: take(&format!("{p}.attention.output.dense.weight"), &[h, h])?,
                attn_out_b: take(&format!("{p}.attention.output.dense.bias"), &[h])?,
                attn_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                up_w: take(&format!("{p}.intermediate.dense.weight"), &[i, h])?,
                up_b: take(&format!("{p}.intermediate.dense.bias"), &[i])?,
                down_w: take(&format!("{p}.output.dense.weight"), &[h, i])?,
                down_b: take(&format!("{p}.output.dense.bias"), &[h])?,
                out_norm: norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        Ok(BertWeights {
            hidden: h,
            heads: config.num_attention_heads,
            intermediate: i,
            max_positions: config.max_position_embeddings,
            vocab: config.vocab_size,
            eps: config.layer_norm_eps as f32,
            word: take("embeddings.word_embeddings.weight", &[config.vocab_size, h])?,
            position: take(
                "embeddings.position_embeddings.weight",
                &[config.max_position_embeddings, h],
            )?,
            token_type: token_types[..h].to_vec(),
            embed_norm: norm("embeddings.LayerNorm")?,
            layers,
        })
    }

    /// Packs a padded `[rows, len]` batch: the tokens where `mask` is set, with their
    /// positions. Ids and positions are checked against the tables here, so the forward cannot
    /// index out of them.
    pub fn pack(
        &self,
        ids: &[u32],
        mask: &[u32],
        rows: usize,
        len: usize,
    ) -> Result<Packed, TextError> {
        let cells = rows.checked_mul(len);
        if len == 0 || cells != Some(ids.len()) || cells != Some(mask.len()) {
            return Err(TextError::Shape {
                op: "token batch",
                expected: format!("[{rows}, {len}] ids and mask"),
                got: format!("{} ids, {} mask", ids.len(), mask.len()),
            });
        }
        if len > self.max_positions {
            return Err(TextError::TooManyTokens {
                index: 0,
                tokens: len,
                max: self.max_positions,
            });
        }
        let kept = mask.iter().filter(|&&m| m != 0).count();
        let mut packed = Packed {
            ids: Vec::with_capacity(kept),
            positions: Vec::with_capacity(kept),
            starts: Vec::with_capacity(rows + 1),
        };
        packed.starts.push(0);
        for (r, (row_ids, row_mask)) in ids
            .chunks_exact(len)
            .zip(mask.chunks_exact(len))
            .enumerate()
        {
            for (p, (&id, _)) in row_ids
                .iter()
                .zip(row_mask)
                .enumerate()
                .filter(|(_, (_, m))| **m != 0)
            {
                if id as usize >= self.vocab {
                    return Err(TextError::BadTokenId {
                        id: i64::from(id),
                        row: r,
                        vocab: self.vocab,
                    });
                }
                packed.ids.push(id);
                packed.positions.push(p as u32);
            }
            packed.starts.push(packed.ids.len());
        }
        Ok(packed)
    }

    /// Sentence embeddings of packed sequences: the mean of each sequence's final states, L2
    /// normalized (`[seqs, hidden]` row-major). A sequence with no token embeds to zeros.
    pub fn embed(&self, packed: &Packed) -> Vec<f32> {
        let h = self.hidden;
        let states = self.encode(packed);
        let mut out = vec![0.0f32; packed.seqs() * h];
        for (s, row) in out.chunks_exact_mut(h).enumerate() {
            let (a, b) = (packed.starts[s], packed.starts[s + 1]);
            if a == b {
                continue;
            }
            for tok in states[a * h..b * h].chunks_exact(h) {
                for (o, v) in row.iter_mut().zip(tok) {
                    *o += v;
                }
            }
            let inv_n = 1.0 / (b - a) as f32;
            row.iter_mut().for_each(|v| *v *= inv_n);
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            row.iter_mut().for_each(|v| *v /= norm);
        }
        out
    }

    /// The final hidden states of every packed token, `[tokens, hidden]`.
    fn encode(&self, packed: &Packed) -> Vec<f32> {
        let (h, t) = (self.hidden, packed.tokens());
        let mut x = vec![0.0f32; t * h];
        x.par_chunks_mut(h * ROWS_PER_TASK)
            .enumerate()
            .for_each(|(c, block)| {
                for (j, row) in block.chunks_exact_mut(h).enumerate() {
                    let k = c * ROWS_PER_TASK + j;
                    let id = packed.ids[k] as usize;
                    let pos = packed.positions[k] as usize;
                    let word = &self.word[id * h..(id + 1) * h];
                    let position = &self.position[pos * h..(pos + 1) * h];
                    for (((o, w), p), ty) in
                        row.iter_mut().zip(word).zip(position).zip(&self.token_type)
                    {
                        *o = w + ty + p;
                    }
                    layer_norm_row(
                        row,
                        &self.embed_norm.weight,
                        &self.embed_norm.bias,
                        self.eps,
                    );
                }
            });
        let mut qkv = vec![0.0f32; t * 3 * h];
        let mut ctx = vec![0.0f32; t * h];
        let mut inner = vec![0.0f32; t * self.intermediate];
        for layer in &self.layers {
            self.layer(layer, packed, &mut x, &mut qkv, &mut ctx, &mut inner);
        }
        x
    }

    fn layer(
        &self,
        layer: &Layer,
        packed: &Packed,
        x: &mut [f32],
        qkv: &mut [f32],
        ctx: &mut [f32],
        inner: &mut [f32],
    ) {
        let (h, i, t) = (self.hidden, self.intermediate, packed.tokens());
        linear(qkv, x, &layer.qkv_w, t, h, 3 * h, 0.0);
        par_rows(qkv, 3 * h, |rows| add_bias(rows, &layer.qkv_b));
        self.attention(packed, qkv, ctx);
        // x ← LayerNorm(x + ctx·Wᵀ + b): the residual is the product's starting value.
        linear(x, ctx, &layer.attn_out_w, t, h, h, 1.0);
        let n = &layer.attn_norm;
        par_rows(x, h, |rows| {
            bias_layer_norm(rows, &layer.attn_out_b, &n.weight, &n.bias, self.eps);
        });
        linear(inner, x, &layer.up_w, t, h, i, 0.0);
        par_rows(inner, i, |rows| bias_gelu(rows, &layer.up_b));
        linear(x, inner, &layer.down_w, t, i, h, 1.0);
        let n = &layer.out_norm;
        par_rows(x, h, |rows| {
            bias_layer_norm(rows, &layer.down_b, &n.weight, &n.bias, self.eps);
        });
    }

    /// Scaled dot-product attention of each sequence over its own tokens, head by head:
    /// `ctx[seq, head] = softmax(q·kᵀ)·v` (the scale is folded into the query weights).
    fn attention(&self, packed: &Packed, qkv: &[f32], ctx: &mut [f32]) {
        let h = self.hidden;
        let d = h / self.heads;
        let all = View::new(qkv, packed.tokens(), 3 * h);
        let mut slices = Vec::with_capacity(packed.seqs());
        let mut rest = ctx;
        for s in 0..packed.seqs() {
            let n = packed.starts[s + 1] - packed.starts[s];
            let (mine, tail) = rest.split_at_mut(n * h);
            slices.push((packed.starts[s], n, mine));
            rest = tail;
        }
        // Longest first, so that the last tasks to start are the short ones.
        slices.sort_by_key(|(_, n, _)| std::cmp::Reverse(*n));
        slices.into_par_iter().for_each(|(start, n, out)| {
            if n == 0 {
                return;
            }
            let seq = all.rows(start, n);
            let mut scores = vec![0.0f32; n * n];
            for head in 0..self.heads {
                let q = seq.cols(head * d, d);
                let k = seq.cols(h + head * d, d);
                let v = seq.cols(2 * h + head * d, d);
                gemm_serial(ViewMut::new(&mut scores, n, n), q, k.t(), 0.0);
                softmax_rows(&mut scores, n);
                let dst = ViewMut::new(&mut out[..], n, h).cols(head * d, d);
                gemm_serial(dst, View::new(&scores, n, n), v, 0.0);
            }
        });
    }
}

/// `dst[t, out] = keep·dst + src[t, in] · wᵀ` for a weight stored `[out, in]`.
fn linear(dst: &mut [f32], src: &[f32], w: &[f32], t: usize, n_in: usize, n_out: usize, keep: f32) {
    gemm(
        ViewMut::new(dst, t, n_out),
        View::new(src, t, n_in),
        View::new(w, n_out, n_in).t(),
        keep,
    );
}

fn add_bias(rows: &mut [f32], bias: &[f32]) {
    for row in rows.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// Runs `f` over blocks of whole `width`-wide rows of `buf` on the rayon pool.
fn par_rows(buf: &mut [f32], width: usize, f: impl Fn(&mut [f32]) + Sync + Send) {
    buf.par_chunks_mut(width * ROWS_PER_TASK).for_each(f);
}
