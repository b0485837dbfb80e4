// Building blocks shared by the model families, as plain functions of tensors. Weights follow the
// PyTorch layout of the checkpoints: a linear weight is [out, in] and y = x·Wᵀ + b.
import * as tf from '@tensorflow/tfjs-core';
import {
  activationBackward,
  activationForward,
  dropoutApply,
  dropoutMask,
  layerNorm2d,
  layerNorm2dGrad,
  linear2d,
  linear2dGrad,
  type FusedActivation,
} from '../../backend/fused.js';
import { InputError } from '../../utils/errors.js';

/** Whether a gradient tape is recording right now (tfjs has no public query for it). */
export function recording(): boolean {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
}

/**
 * tf.customGrad with the usual chores done: the backward runs in its own tidy (its intermediates go
 * at once, not at the end of the whole backward pass) and releases the saved tensors as soon as it
 * has run, so a layer's activations are freed when backpropagation has passed it. `backward` returns
 * one gradient per input, in order.
 */
export function withGrad<T extends tf.Tensor>(
  inputs: tf.Tensor[],
  forward: (save: (tensors: tf.Tensor[]) => void) => T,
  backward: (dy: T, saved: tf.Tensor[]) => tf.Tensor[],
): T {
  return tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const value = forward(save);
    return {
      value,
      gradFunc: (dy: T, saved: tf.Tensor[]) => {
        const grads = tf.tidy(() => backward(dy, saved));
        // Saved tensors are clones the engine would dispose after the whole backward pass; nested
        // tapes (higher-order gradients) may still need them then.
        if (!recording()) tf.dispose(saved);
        return grads;
      },
    };
  })(...inputs) as T;
}

/** y = x·Wᵀ + b over the last axis of x; W is [out, in] as stored by PyTorch. */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.rank - 1];
  const lead = x.shape.slice(0, -1);
  const outDim = w.shape[0];
  const inputs = b ? [x, w, b] : [x, w];
  return withGrad(
    inputs,
    (save) => {
      const x2 = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, inDim]) as tf.Tensor2D;
      save([x2, w]);
      const y = linear2d(x2, w as tf.Tensor2D, b as tf.Tensor1D | undefined);
      return x.rank === 2 ? y : tf.reshape(y, [...lead, outDim]);
    },
    (dy, [x2, w2]) => {
      const g = linear2dGrad(dy.rank === 2 ? (dy as tf.Tensor2D) : tf.reshape(dy, [-1, outDim]), x2 as tf.Tensor2D, w2 as tf.Tensor2D, !!b);
      const dx = x.rank === 2 ? g.dx : tf.reshape(g.dx, x.shape);
      return g.db ? [dx, g.dw, g.db] : [dx, g.dw];
    },
  );
}

/** LayerNorm over the last axis with biased variance (as torch.nn.LayerNorm); closed-form gradient. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const H = x.shape[x.rank - 1];
  return withGrad(
    [x, gamma, beta],
    (save) => {
      const stats = recording();
      const out = layerNorm2d(x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, H]), null, gamma as tf.Tensor1D, beta as tf.Tensor1D, eps, stats);
      if (stats) save([out.xhat!, out.rstd!, gamma]);
      return x.rank === 2 ? out.y : tf.reshape(out.y, x.shape);
    },
    (dy, [xhat, rstd, g]) => {
      const r = layerNorm2dGrad(dy.rank === 2 ? (dy as tf.Tensor2D) : tf.reshape(dy, [-1, H]), xhat as tf.Tensor2D, rstd as tf.Tensor2D, g as tf.Tensor1D);
      return [x.rank === 2 ? r.dx : tf.reshape(r.dx, x.shape), r.dgamma, r.dbeta];
    },
  );
}

/** RMSNorm (T5 LayerNorm, Llama RMSNorm): x / sqrt(mean(x²) + eps) · w, no mean subtraction, no bias. */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const ms = tf.mean(tf.square(x), x.rank - 1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight);
  });
}

/** An activation as one fused op forward and a closed-form derivative backward. */
function fusedActivation(kind: FusedActivation): Activation {
  const f = (x: tf.Tensor): tf.Tensor =>
    withGrad(
      [x],
      (save) => {
        save([x]);
        return activationForward(x, kind);
      },
      (dy, [xs]) => [activationBackward(dy, xs, kind)],
    );
  return Object.assign(f, { fused: kind });
}

/** Exact GELU: 0.5·x·(1 + erf(x/√2)) (HF `gelu`). */
export const geluErf: Activation = fusedActivation('gelu');

/** tanh-approximated GELU (HF `gelu_new`, `gelu_pytorch_tanh`, T5 v1.1 `gated-gelu`). */
export const geluTanh: Activation = fusedActivation('gelu_tanh');

export const silu: Activation = fusedActivation('silu');

/** An activation function; `fused` names its fused kernel (the BERT layer runs it inside its own gradient). */
export type Activation = ((x: tf.Tensor) => tf.Tensor) & { fused?: FusedActivation };

const ACTIVATIONS: Record<string, Activation> = {
  gelu: geluErf,
  gelu_python: geluErf,
  gelu_new: geluTanh,
  gelu_pytorch_tanh: geluTanh,
  gelu_fast: geluTanh,
  relu: fusedActivation('relu'),
  silu,
  swish: silu,
  tanh: fusedActivation('tanh'),
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

/** A dropout seed when the caller gives none (tfjs's own default is random too). */
function randomSeed(): number {
  return Math.floor(Math.random() * 2147483647);
}

/**
 * Inverted dropout (as torch): zero with probability `rate`, scale the rest by 1/(1-rate).
 * Identity when not training. `seed` makes the mask reproducible. The mask is kept as booleans
 * (1 byte per element) for the backward pass.
 */
export function dropout(x: tf.Tensor, rate: number, training: boolean, seed?: number): tf.Tensor {
  if (!training || rate <= 0) return x;
  const s = seed ?? randomSeed();
  const scale = 1 / (1 - rate);
  return withGrad(
    [x],
    (save) => {
      const keep = dropoutMask(x.shape, rate, s);
      save([keep]);
      return dropoutApply(x, keep, scale);
    },
    (dy, [keep]) => [dropoutApply(dy, keep, scale)],
  );
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
