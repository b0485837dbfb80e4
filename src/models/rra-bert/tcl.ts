// The Term Control Layer (RRA-BERT; our design of it): pools the final hidden states of the tokens
// chosen by Token Selection (masked mean, or attention pooling with a learned query) and maps
// [pool ; h_CLS] to a scalar term score t = w₂ · tanh(W₁ [pool ; h_CLS] + b₁) + b₂. Used in
// training only; its parameters live under `tcl.` and are saved apart from the cross-encoder.
import * as tf from '@tensorflow/tfjs-core';
import { Parameters } from '../common/parameters.js';
import { dropout, linear } from '../common/layers.js';

export type TclPooling = 'mean' | 'attention';

export interface TermControlLayerConfig {
  hiddenSize: number;
  /** Default 'mean'. */
  pooling?: TclPooling;
  /** Weight init std (default 0.02, BERT's initializer_range). */
  initializerRange?: number;
  /** Dropout on the pooled input when training (default 0.1). */
  dropout?: number;
}

/** A logit that underflows exp() to 0 (attention pooling over unselected tokens). */
const NEG = -1e9;

export class TermControlLayer {
  readonly params: Parameters;
  readonly pooling: TclPooling;
  readonly hiddenSize: number;
  private readonly dropoutRate: number;

  constructor(config: TermControlLayerConfig, seed = 42) {
    const H = config.hiddenSize;
    this.hiddenSize = H;
    this.pooling = config.pooling ?? 'mean';
    if (this.pooling !== 'mean' && this.pooling !== 'attention') throw new Error(`unknown TCL pooling '${String(this.pooling)}' (mean | attention)`);
    this.dropoutRate = config.dropout ?? 0.1;
    const std = config.initializerRange ?? 0.02;
    this.params = new Parameters(seed ^ 0x7c1);
    if (this.pooling === 'attention') this.params.create('tcl.attention.query', [H], { kind: 'normal', std });
    this.params.create('tcl.dense.weight', [H, 2 * H], { kind: 'normal', std });
    this.params.create('tcl.dense.bias', [H], { kind: 'zeros' });
    this.params.create('tcl.out.weight', [1, H], { kind: 'normal', std });
    this.params.create('tcl.out.bias', [1], { kind: 'zeros' });
  }

  /**
   * Pooled selected tokens [batch, H]: zeros for a row with no selected token. `mask` [batch, seq]
   * is 0/1 and treated as a constant.
   */
  pool(hidden: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const [B, S, H] = hidden.shape;
      const m = tf.cast(mask, 'float32');
      let w: tf.Tensor2D;
      if (this.pooling === 'mean') {
        w = tf.div(m, tf.maximum(tf.sum(m, 1, true), 1)) as tf.Tensor2D;
      } else {
        const q = tf.reshape(this.params.get('tcl.attention.query'), [H, 1]);
        const logits = tf.reshape(tf.matMul(tf.reshape(hidden, [B * S, H]), q), [B, S]);
        const masked = tf.where(tf.greater(m, 0), tf.div(logits, Math.sqrt(H)), tf.fill([B, S], NEG));
        // A row with nothing selected gets a uniform softmax; × mask makes it all zeros.
        w = tf.mul(tf.softmax(masked), m) as tf.Tensor2D;
      }
      return tf.reshape(tf.matMul(tf.expandDims(w, 1), hidden), [B, H]) as tf.Tensor2D;
    });
  }

  /** Term scores t [batch] from the final hidden states and the selection mask. */
  forward(hidden: tf.Tensor3D, mask: tf.Tensor2D, training = false, dropoutSeed?: number): tf.Tensor1D {
    return tf.tidy(() => {
      const [B, , H] = hidden.shape;
      const cls = tf.reshape(tf.slice(hidden, [0, 0, 0], [B, 1, H]), [B, H]);
      let x = tf.concat([this.pool(hidden, mask), cls], 1);
      x = dropout(x, this.dropoutRate, training, dropoutSeed);
      const h = tf.tanh(linear(x, this.params.get('tcl.dense.weight'), this.params.get('tcl.dense.bias')));
      return tf.reshape(linear(h, this.params.get('tcl.out.weight'), this.params.get('tcl.out.bias')), [B]) as tf.Tensor1D;
    });
  }

  dispose(): void {
    this.params.dispose();
  }
}
