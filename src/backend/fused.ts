// Fused forward and backward pieces of the transformer layers (linear, LayerNorm, GELU, dropout,
// self-attention), each one tfjs kernel. A backend may register a native implementation under the
// kernel's name through tfjs's kernel registry (tensorflow-kernels.ts does for tfjs-node: each
// kernel runs its TensorFlow ops back to back without tfjs's per-op bookkeeping); elsewhere the
// composite written here with tfjs ops runs. The functions have no gradients of their own: the
// layers in models/common/layers.ts and models/bert/model.ts pair them with tf.customGrad.
//
// Layout: hidden states are 2-D [rows, features]; a linear weight is [out, in] (PyTorch's).
import * as tf from '@tensorflow/tfjs-core';

export const FUSED_KERNELS = {
  linear: 'RankdistillLinear',
  linearGrad: 'RankdistillLinearGrad',
  layerNorm: 'RankdistillLayerNorm',
  layerNormGrad: 'RankdistillLayerNormGrad',
  activation: 'RankdistillActivation',
  activationGrad: 'RankdistillActivationGrad',
  dropoutMask: 'RankdistillDropoutMask',
  dropoutApply: 'RankdistillDropoutApply',
  attention: 'RankdistillAttention',
  attentionGrad: 'RankdistillAttentionGrad',
  adamw: 'RankdistillAdamW',
  sumSquares: 'RankdistillSumSquares',
} as const;

/** Activations with a fused forward and a closed-form derivative. */
export type FusedActivation = 'gelu' | 'gelu_tanh' | 'relu' | 'silu' | 'tanh';

let nativeDisabled = false;

/**
 * Turns the backend's native kernels off (true) or on again: the composite tfjs versions then run
 * everywhere. For tests that compare both, and for debugging.
 */
export function setNativeFusedKernels(enabled: boolean): void {
  nativeDisabled = !enabled;
}

function native(name: string): boolean {
  return !nativeDisabled && tf.getKernel(name, tf.getBackend()) !== undefined;
}

function run<T extends tf.Tensor | tf.Tensor[]>(name: string, inputs: Record<string, tf.Tensor | undefined | null>, attrs: Record<string, unknown>): T {
  const present: tf.NamedTensorMap = {};
  for (const [k, v] of Object.entries(inputs)) if (v) present[k] = v;
  return tf.engine().runKernel(name, present, attrs as unknown as tf.NamedAttrMap) as unknown as T;
}

/** y = x·Wᵀ + b for x [rows, in], W [out, in]. */
export function linear2d(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D | null): tf.Tensor2D {
  if (native(FUSED_KERNELS.linear)) return run<tf.Tensor2D>(FUSED_KERNELS.linear, { x, w, b }, {});
  return tf.tidy(() => {
    const y = tf.matMul(x, w, false, true);
    return b ? tf.add(y, b) : y;
  }) as tf.Tensor2D;
}

export interface LinearGrads {
  dx: tf.Tensor2D;
  dw: tf.Tensor2D;
  db: tf.Tensor1D | null;
}

/** Gradients of y = x·Wᵀ + b: dx = dy·W, dW = dyᵀ·x, db = Σ_rows dy. */
export function linear2dGrad(dy: tf.Tensor2D, x: tf.Tensor2D, w: tf.Tensor2D, bias: boolean): LinearGrads {
  if (native(FUSED_KERNELS.linearGrad)) {
    const [dx, dw, db] = run<tf.Tensor[]>(FUSED_KERNELS.linearGrad, { dy, x, w }, { bias });
    return { dx: dx as tf.Tensor2D, dw: dw as tf.Tensor2D, db: bias ? (db as tf.Tensor1D) : null };
  }
  const [dx, dw, db] = tf.tidy(() => [tf.matMul(dy, w), tf.matMul(dy, x, true, false), ...(bias ? [tf.sum(dy, 0)] : [])]);
  return { dx: dx as tf.Tensor2D, dw: dw as tf.Tensor2D, db: bias ? (db as tf.Tensor1D) : null };
}

export interface LayerNormOut {
  y: tf.Tensor2D;
  /** Normalised input (x − mean)·rstd, and rstd [rows, 1]: what the gradient needs. */
  xhat?: tf.Tensor2D;
  rstd?: tf.Tensor2D;
}

/**
 * LayerNorm over the last axis of (x + residual), biased variance (torch.nn.LayerNorm). With
 * `stats`, also the normalised input and 1/σ for the backward pass.
 */
export function layerNorm2d(x: tf.Tensor2D, residual: tf.Tensor2D | null, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number, stats: boolean): LayerNormOut {
  if (native(FUSED_KERNELS.layerNorm)) {
    const out = run<tf.Tensor[]>(FUSED_KERNELS.layerNorm, { x, residual, gamma, beta }, { eps, stats });
    return stats ? { y: out[0] as tf.Tensor2D, xhat: out[1] as tf.Tensor2D, rstd: out[2] as tf.Tensor2D } : { y: out[0] as tf.Tensor2D };
  }
  const out = tf.tidy(() => {
    const h = residual ? tf.add(x, residual) : x;
    const mean = tf.mean(h, 1, true);
    const centered = tf.sub(h, mean);
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), 1, true), eps));
    const xhat = tf.mul(centered, rstd);
    const y = tf.add(tf.mul(xhat, gamma), beta);
    return stats ? [y, xhat, rstd] : [y];
  });
  return stats ? { y: out[0] as tf.Tensor2D, xhat: out[1] as tf.Tensor2D, rstd: out[2] as tf.Tensor2D } : { y: out[0] as tf.Tensor2D };
}

export interface LayerNormGrads {
  dx: tf.Tensor2D;
  dgamma: tf.Tensor1D;
  dbeta: tf.Tensor1D;
}

/** Closed-form LayerNorm backward: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ. */
export function layerNorm2dGrad(dy: tf.Tensor2D, xhat: tf.Tensor2D, rstd: tf.Tensor2D, gamma: tf.Tensor1D): LayerNormGrads {
  if (native(FUSED_KERNELS.layerNormGrad)) {
    const [dx, dgamma, dbeta] = run<tf.Tensor[]>(FUSED_KERNELS.layerNormGrad, { dy, xhat, rstd, gamma }, {});
    return { dx: dx as tf.Tensor2D, dgamma: dgamma as tf.Tensor1D, dbeta: dbeta as tf.Tensor1D };
  }
  const [dx, dgamma, dbeta] = tf.tidy(() => {
    const g = tf.mul(dy, gamma);
    const dx = tf.mul(tf.sub(tf.sub(g, tf.mean(g, 1, true)), tf.mul(xhat, tf.mean(tf.mul(g, xhat), 1, true))), rstd);
    return [dx, tf.sum(tf.mul(dy, xhat), 0), tf.sum(dy, 0)];
  });
  return { dx: dx as tf.Tensor2D, dgamma: dgamma as tf.Tensor1D, dbeta: dbeta as tf.Tensor1D };
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/** Activation forward, any shape. gelu = exact (erf) GELU; gelu_tanh = the tanh approximation. */
export function activationForward(x: tf.Tensor, kind: FusedActivation): tf.Tensor {
  if (native(FUSED_KERNELS.activation)) return run<tf.Tensor>(FUSED_KERNELS.activation, { x }, { kind });
  return tf.tidy(() => {
    switch (kind) {
      case 'gelu':
        return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
      case 'gelu_tanh': {
        const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), GELU_C)), SQRT_2_OVER_PI);
        return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
      }
      case 'relu':
        return tf.relu(x);
      case 'silu':
        return tf.mul(x, tf.sigmoid(x));
      case 'tanh':
        return tf.tanh(x);
    }
  });
}

/** dy·f′(x) in closed form, from the activation's input. */
export function activationBackward(dy: tf.Tensor, x: tf.Tensor, kind: FusedActivation): tf.Tensor {
  if (native(FUSED_KERNELS.activationGrad)) return run<tf.Tensor>(FUSED_KERNELS.activationGrad, { dy, x }, { kind });
  return tf.tidy(() => {
    switch (kind) {
      case 'gelu': {
        // f′ = Φ(x) + x·φ(x)
        const cdf = tf.add(tf.mul(tf.erf(tf.mul(x, Math.SQRT1_2)), 0.5), 0.5);
        const pdf = tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
        return tf.mul(dy, tf.add(cdf, tf.mul(x, pdf)));
      }
      case 'gelu_tanh': {
        // f = ½x(1 + t), t = tanh(u), u = c(x + k x³): f′ = ½(1 + t) + ½x(1 − t²)·c(1 + 3k x²)
        const x2 = tf.square(x);
        const t = tf.tanh(tf.mul(tf.mul(x, tf.add(tf.mul(x2, GELU_C), 1)), SQRT_2_OVER_PI));
        const du = tf.mul(tf.add(tf.mul(x2, 3 * GELU_C), 1), SQRT_2_OVER_PI);
        const d = tf.add(tf.mul(tf.add(t, 1), 0.5), tf.mul(tf.mul(tf.mul(x, 0.5), tf.sub(1, tf.square(t))), du));
        return tf.mul(dy, d);
      }
      case 'relu':
        return tf.mul(dy, tf.step(x));
      case 'silu': {
        const s = tf.sigmoid(x);
        return tf.mul(dy, tf.mul(s, tf.add(1, tf.mul(x, tf.sub(1, s)))));
      }
      case 'tanh':
        return tf.mul(dy, tf.sub(1, tf.square(tf.tanh(x))));
    }
  });
}

/** Dropout keep-mask (bool): true with probability 1 − rate, reproducible from `seed`. */
export function dropoutMask(shape: number[], rate: number, seed: number): tf.Tensor {
  if (native(FUSED_KERNELS.dropoutMask)) return run<tf.Tensor>(FUSED_KERNELS.dropoutMask, {}, { shape, rate, seed });
  return tf.tidy(() => tf.greaterEqual(tf.randomUniform(shape, 0, 1, 'float32', seed), rate));
}

/** keep ? x·scale : 0 (the dropout forward, and its backward with dy for x). */
export function dropoutApply(x: tf.Tensor, keep: tf.Tensor, scale: number): tf.Tensor {
  if (native(FUSED_KERNELS.dropoutApply)) return run<tf.Tensor>(FUSED_KERNELS.dropoutApply, { x, keep }, { scale });
  return tf.tidy(() => tf.mul(x, tf.mul(tf.cast(keep, 'float32'), scale)));
}

export interface AttentionShape {
  batch: number;
  seq: number;
  heads: number;
}

export interface AttentionOut {
  /** [batch·seq, hidden] */
  ctx: tf.Tensor2D;
  /** With `stats`: per-head queries, keys, values [batch, heads, seq, head_dim] and probabilities [batch, heads, seq, seq]. */
  q?: tf.Tensor4D;
  k?: tf.Tensor4D;
  v?: tf.Tensor4D;
  probs?: tf.Tensor4D;
}

/**
 * Multi-head self-attention from a fused projection qkv [batch·seq, 3·hidden] (queries already
 * scaled by 1/√head_dim): softmax(q·kᵀ + mask)·v, with the attention dropout `keep` mask
 * [batch, heads, seq, seq] and its 1/(1 − rate) scale when given. `mask` is additive [batch, 1, 1, seq].
 */
export function attention(qkv: tf.Tensor2D, mask: tf.Tensor | null, keep: tf.Tensor | null, keepScale: number, s: AttentionShape, stats: boolean): AttentionOut {
  const attrs = { batch: s.batch, seq: s.seq, heads: s.heads, keepScale, stats };
  const out = native(FUSED_KERNELS.attention)
    ? run<tf.Tensor[]>(FUSED_KERNELS.attention, { qkv, mask, keep }, attrs)
    : tf.tidy(() => {
        const { batch: B, seq: S, heads: nh } = s;
        const H = qkv.shape[1] / 3;
        const hd = H / nh;
        const [q, k, v] = tf.unstack(tf.transpose(tf.reshape(qkv, [B, S, 3, nh, hd]), [2, 0, 3, 1, 4]));
        let scores = tf.matMul(q, k, false, true);
        if (mask) scores = tf.add(scores, mask);
        const probs = tf.softmax(scores);
        let ctx = tf.matMul(keep ? tf.where(keep, probs, tf.zerosLike(probs)) : probs, v);
        if (keep) ctx = tf.mul(ctx, keepScale);
        const merged = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B * S, H]);
        return stats ? [merged, q, k, v, probs] : [merged];
      });
  return stats
    ? { ctx: out[0] as tf.Tensor2D, q: out[1] as tf.Tensor4D, k: out[2] as tf.Tensor4D, v: out[3] as tf.Tensor4D, probs: out[4] as tf.Tensor4D }
    : { ctx: out[0] as tf.Tensor2D };
}

/** Backward of `attention`: dqkv [batch·seq, 3·hidden] from dctx [batch·seq, hidden]. */
export function attentionGrad(dctx: tf.Tensor2D, q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, probs: tf.Tensor4D, keep: tf.Tensor | null, keepScale: number, s: AttentionShape): tf.Tensor2D {
  if (native(FUSED_KERNELS.attentionGrad)) {
    return run<tf.Tensor2D>(FUSED_KERNELS.attentionGrad, { dctx, q, k, v, probs, keep }, { batch: s.batch, seq: s.seq, heads: s.heads, keepScale });
  }
  return tf.tidy(() => {
    const { batch: B, seq: S, heads: nh } = s;
    const H = dctx.shape[1];
    let dc = tf.transpose(tf.reshape(dctx, [B, S, nh, H / nh]), [0, 2, 1, 3]);
    if (keep) dc = tf.mul(dc, keepScale);
    const zeros = keep ? tf.zerosLike(probs) : null;
    const pd = keep ? tf.where(keep, probs, zeros!) : probs;
    const dv = tf.matMul(pd, dc, true, false);
    let dp = tf.matMul(dc, v, false, true);
    if (keep) dp = tf.where(keep, dp, zeros!);
    const pdp = tf.mul(dp, probs);
    const ds = tf.sub(pdp, tf.mul(probs, tf.sum(pdp, -1, true)));
    const dq = tf.matMul(ds, k);
    const dk = tf.matMul(ds, q, true, false);
    return tf.reshape(tf.transpose(tf.stack([dq, dk, dv]), [1, 3, 0, 2, 4]), [B * S, 3 * H]) as tf.Tensor2D;
  });
}

export interface AdamWStep {
  beta1: number;
  beta2: number;
  eps: number;
  /** 1 − lr·weight_decay, or 1 for a parameter without decay. */
  decay: number;
  /** Bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ. */
  bc1: number;
  bc2: number;
  lr: number;
}

/**
 * One AdamW update as torch.optim.AdamW computes it: m′ = β₁m + (1−β₁)g, v′ = β₂v + (1−β₂)g²,
 * p′ = p·decay − (lr/bc1)·m′/(√v′/√bc2 + ε). Returns [p′, m′, v′].
 */
export function adamwUpdate(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, s: AdamWStep): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (native(FUSED_KERNELS.adamw)) return run<tf.Tensor[]>(FUSED_KERNELS.adamw, { p, m, v, g }, { ...s }) as [tf.Tensor, tf.Tensor, tf.Tensor];
  return tf.tidy(() => {
    const m1 = tf.add(tf.mul(m, s.beta1), tf.mul(g, 1 - s.beta1));
    const v1 = tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(g), 1 - s.beta2));
    const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(s.bc2)), s.eps);
    const update = tf.mul(tf.div(m1, denom), s.lr / s.bc1);
    const decayed = s.decay === 1 ? p : tf.mul(p, s.decay);
    return [tf.sub(decayed, update), m1, v1];
  }) as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** Σ over all tensors of Σ x² (a scalar): the squared global norm of gradients. */
export function sumOfSquares(xs: tf.Tensor[]): tf.Scalar {
  if (native(FUSED_KERNELS.sumSquares)) return run<tf.Scalar>(FUSED_KERNELS.sumSquares, Object.fromEntries(xs.map((x, i) => [`x${i}`, x])), { n: xs.length });
  return tf.tidy(() => tf.addN(xs.map((g) => tf.sum(tf.square(g)))) as tf.Scalar);
}
