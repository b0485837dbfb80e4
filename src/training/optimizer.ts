// AdamW (Loshchilov & Hutter) as torch.optim.AdamW computes it, which tfjs lacks: decoupled weight
// decay p ← p·(1 − lr·wd) before the Adam step, bias-corrected moments, eps added after the sqrt.
import * as tf from '@tensorflow/tfjs-core';
import { adamwUpdate, sumOfSquares } from '../backend/fused.js';

export interface AdamWOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /**
   * Which parameters are decayed. Default: everything except biases and normalisation weights
   * (the convention of BERT, HF Trainer and sentence-transformers).
   */
  decay?: (name: string) => boolean;
}

/**
 * Default decay rule, HF Trainer's: no decay for anything named `bias` (biases, T5's
 * relative_attention_bias) or belonging to a normalisation layer (LayerNorm, RMSNorm, `norm`).
 */
export function defaultDecay(name: string): boolean {
  return !(/bias/.test(name) || /norm/i.test(name));
}

export interface OptimizerState {
  step: number;
  /** First and second moments by parameter name. */
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  lr: number;
  private readonly decay: (name: string) => boolean;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private t = 0;

  constructor(opts: AdamWOptions = {}) {
    this.lr = opts.lr ?? 1e-3;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    this.decay = opts.decay ?? defaultDecay;
  }

  get step(): number {
    return this.t;
  }

  /** Whether `name` receives weight decay. */
  decays(name: string): boolean {
    return this.weightDecay > 0 && this.decay(name);
  }

  /** One update of `params` with `grads` (same names). Parameters without a gradient are left alone. */
  apply(params: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, lr = this.lr): void {
    this.t += 1;
    const bc1 = 1 - this.beta1 ** this.t;
    const bc2 = 1 - this.beta2 ** this.t;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      let m = this.m.get(name);
      let v = this.v.get(name);
      if (!m || !v) {
        // tidy frees the initial-value tensors; the variables keep their own reference to the data.
        m = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
        v = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
        this.m.set(name, m);
        this.v.set(name, v);
      }
      const mv = m;
      const vv = v;
      tf.tidy(() => {
        // One fused kernel per parameter (backend/fused.ts) instead of a dozen elementwise ops.
        const decay = this.decays(name) ? 1 - lr * this.weightDecay : 1;
        const [p1, m1, v1] = adamwUpdate(p, mv, vv, g, { beta1: this.beta1, beta2: this.beta2, eps: this.eps, decay, bc1, bc2, lr });
        mv.assign(m1);
        vv.assign(v1);
        p.assign(p1);
      });
    }
  }

  /** Moments and step count, for checkpoints. */
  getState(): OptimizerState {
    const read = (src: Map<string, tf.Variable>) => new Map([...src].map(([k, t]) => [k, t.dataSync() as Float32Array]));
    return { step: this.t, m: read(this.m), v: read(this.v) };
  }

  setState(state: OptimizerState, params: Map<string, tf.Variable>): void {
    this.dispose();
    this.t = state.step;
    for (const [name, arr] of state.m) {
      const p = params.get(name);
      const v = state.v.get(name);
      if (!p || !v) continue;
      this.m.set(name, tf.tidy(() => tf.variable(tf.tensor(arr, p.shape), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.tensor(v, p.shape), false)));
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/**
 * Scales gradients so that their global L2 norm is at most `maxNorm` (as torch's clip_grad_norm_:
 * coefficient maxNorm / (norm + 1e-6), applied only when below 1). Returns the new gradients and the
 * norm before clipping; the caller disposes the old ones.
 */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): { grads: Map<string, tf.Tensor>; norm: number } {
  const norm = Math.sqrt(tf.tidy(() => sumOfSquares([...grads.values()]).dataSync()[0]));
  const coef = maxNorm / (norm + 1e-6);
  if (!(coef < 1)) return { grads: new Map([...grads].map(([k, g]) => [k, tf.clone(g)])), norm };
  return { grads: new Map([...grads].map(([k, g]) => [k, tf.mul(g, coef)])), norm };
}
