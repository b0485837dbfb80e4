// Building blocks shared by the model families, as plain functions of tensors. Weights follow the
// PyTorch layout of the checkpoints: a linear weight is [out, in] and y = x·Wᵀ + b.
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../../utils/errors.js';

/** y = x·Wᵀ + b over the last axis of x; W is [out, in] as stored by PyTorch. */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.rank - 1];
  const lead = x.shape.slice(0, -1);
  // transposeB reads W in place; it is also the fastest matMul form on the native backend.
  let y: tf.Tensor = tf.matMul(x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, inDim]), w as tf.Tensor2D, false, true);
  if (b) y = tf.add(y, b);
  return x.rank === 2 ? y : tf.reshape(y, [...lead, w.shape[0]]);
}

/** LayerNorm over the last axis with biased variance (as torch.nn.LayerNorm). */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = tf.mean(x, axis, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), axis, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
  });
}

/** RMSNorm (T5 LayerNorm, Llama RMSNorm): x / sqrt(mean(x²) + eps) · w, no mean subtraction, no bias. */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const ms = tf.mean(tf.square(x), x.rank - 1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight);
  });
}

/** Exact GELU: 0.5·x·(1 + erf(x/√2)) (HF `gelu`). */
export function geluErf(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}

/** tanh-approximated GELU (HF `gelu_new`, `gelu_pytorch_tanh`, T5 v1.1 `gated-gelu`). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

export type Activation = (x: tf.Tensor) => tf.Tensor;

const ACTIVATIONS: Record<string, Activation> = {
  gelu: geluErf,
  gelu_python: geluErf,
  gelu_new: geluTanh,
  gelu_pytorch_tanh: geluTanh,
  gelu_fast: geluTanh,
  relu: (x) => tf.relu(x),
  silu,
  swish: silu,
  tanh: (x) => tf.tanh(x),
};

/** Looks up an HF `hidden_act` / `feed_forward_proj` activation; unknown names are an error. */
export function activation(name: string, source?: string): Activation {
  const f = ACTIVATIONS[name];
  if (!f) {
    throw new InputError(`unknown activation ${JSON.stringify(name)} (supported: ${Object.keys(ACTIVATIONS).join(', ')})`, {
      file: source,
      field: 'hidden_act',
    });
  }
  return f;
}

/**
 * Inverted dropout (as torch): zero with probability `rate`, scale the rest by 1/(1-rate).
 * Identity when not training. `seed` makes the mask reproducible.
 */
export function dropout(x: tf.Tensor, rate: number, training: boolean, seed?: number): tf.Tensor {
  if (!training || rate <= 0) return x;
  return tf.tidy(() => {
    const keep = tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', seed), rate), 'float32');
    return tf.mul(x, tf.div(keep, 1 - rate));
  });
}

/** Additive attention mask [batch, 1, 1, keys] from a 0/1 mask [batch, keys]: 0 keeps, a large negative hides. */
export function additiveMask(mask: tf.Tensor2D, negative = -1e9): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, k] = mask.shape;
    return tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, 'float32')), negative), [b, 1, 1, k]) as tf.Tensor4D;
  });
}

/** Seeded random stream for dropout masks: one seed per call, reproducible from the start seed. */
export class SeedStream {
  private state: number;
  constructor(seed: number) {
    this.state = (seed >>> 0) || 1;
  }
  next(): number {
    // xorshift32
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state % 2147483647;
  }
  getState(): number {
    return this.state;
  }
  setState(s: number): void {
    this.state = (s >>> 0) || 1;
  }
}
