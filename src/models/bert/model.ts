// HF `BertModel`: embeddings, post-LN transformer layers, pooler; plus the sequence-classification
// head of `BertForSequenceClassification`. Parameter names are the checkpoint's (`bert.…`, `classifier.…`).
import * as tf from '@tensorflow/tfjs-core';
import {
  activationBackward,
  activationForward,
  attention,
  attentionGrad,
  dropoutApply,
  dropoutMask,
  layerNorm2d,
  layerNorm2dGrad,
  linear2d,
  linear2dGrad,
  type AttentionShape,
  type FusedActivation,
} from '../../backend/fused.js';
import { releaseHostCopies } from '../../backend/index.js';
import { Parameters } from '../common/parameters.js';
import { activation, additiveMask, dropout, layerNorm, linear, recording, SeedStream, withGrad } from '../common/layers.js';
import type { BertConfig } from './config.js';

export interface BertInputs {
  inputIds: tf.Tensor2D;
  /** Defaults to all 0 (one segment). */
  tokenTypeIds?: tf.Tensor2D;
  /** Defaults to all 1 (no padding). */
  attentionMask?: tf.Tensor2D;
}

export interface BertForwardOptions {
  /** Dropout on (training) or off (eval, the default). */
  training?: boolean;
  /** Also return the embedding output and every layer's output. */
  outputHiddenStates?: boolean;
  /** Also return each layer's attention probabilities [batch, heads, seq, seq] (recomputed; no gradient flows through them). */
  outputAttentions?: boolean;
}

export interface BertOutputs {
  lastHiddenState: tf.Tensor3D;
  pooledOutput: tf.Tensor2D;
  /** [embeddings, layer 1, …, layer L] when asked for. */
  hiddenStates?: tf.Tensor3D[];
  attentions?: tf.Tensor4D[];
}

/** Parameter names and shapes of a BERT encoder with a classifier, in HF's naming. */
export function bertParameterShapes(c: BertConfig): Array<[string, number[], 'dense' | 'embedding' | 'ln_w' | 'bias']> {
  const H = c.hidden_size;
  const out: Array<[string, number[], 'dense' | 'embedding' | 'ln_w' | 'bias']> = [
    ['bert.embeddings.word_embeddings.weight', [c.vocab_size, H], 'embedding'],
    ['bert.embeddings.position_embeddings.weight', [c.max_position_embeddings, H], 'embedding'],
    ['bert.embeddings.token_type_embeddings.weight', [c.type_vocab_size, H], 'embedding'],
    ['bert.embeddings.LayerNorm.weight', [H], 'ln_w'],
    ['bert.embeddings.LayerNorm.bias', [H], 'bias'],
  ];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `bert.encoder.layer.${i}`;
    for (const m of ['query', 'key', 'value']) {
      out.push([`${p}.attention.self.${m}.weight`, [H, H], 'dense'], [`${p}.attention.self.${m}.bias`, [H], 'bias']);
    }
    out.push(
      [`${p}.attention.output.dense.weight`, [H, H], 'dense'],
      [`${p}.attention.output.dense.bias`, [H], 'bias'],
      [`${p}.attention.output.LayerNorm.weight`, [H], 'ln_w'],
      [`${p}.attention.output.LayerNorm.bias`, [H], 'bias'],
      [`${p}.intermediate.dense.weight`, [c.intermediate_size, H], 'dense'],
      [`${p}.intermediate.dense.bias`, [c.intermediate_size], 'bias'],
      [`${p}.output.dense.weight`, [H, c.intermediate_size], 'dense'],
      [`${p}.output.dense.bias`, [H], 'bias'],
      [`${p}.output.LayerNorm.weight`, [H], 'ln_w'],
      [`${p}.output.LayerNorm.bias`, [H], 'bias'],
    );
  }
  out.push(
    ['bert.pooler.dense.weight', [H, H], 'dense'],
    ['bert.pooler.dense.bias', [H], 'bias'],
    ['classifier.weight', [c.num_labels, H], 'dense'],
    ['classifier.bias', [c.num_labels], 'bias'],
  );
  return out;
}

/**
 * Maps names found in BERT checkpoints onto ours: bare `BertModel` checkpoints lack the `bert.`
 * prefix, TF-era ones say LayerNorm.gamma/beta. Buffers (`position_ids`) and pre-training heads are ignored.
 */
export function renameBertCheckpointKey(name: string): string | null {
  let n = name.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  if (n.endsWith('position_ids')) return null;
  if (n.startsWith('cls.')) return null;
  if (n.startsWith('embeddings.') || n.startsWith('encoder.') || n.startsWith('pooler.')) n = `bert.${n}`;
  return n;
}

/** The 16 weights of encoder layer `i`, in the order the fused layer takes them. */
const LAYER_WEIGHTS = [
  'attention.self.query.weight',
  'attention.self.query.bias',
  'attention.self.key.weight',
  'attention.self.key.bias',
  'attention.self.value.weight',
  'attention.self.value.bias',
  'attention.output.dense.weight',
  'attention.output.dense.bias',
  'attention.output.LayerNorm.weight',
  'attention.output.LayerNorm.bias',
  'intermediate.dense.weight',
  'intermediate.dense.bias',
  'output.dense.weight',
  'output.dense.bias',
  'output.LayerNorm.weight',
  'output.LayerNorm.bias',
] as const;

/** Dropout seeds of one layer: attention probabilities, attention output, feed-forward output. */
interface LayerSeeds {
  attn: number;
  hid1: number;
  hid2: number;
}

/** What a layer's backward pass reads; absent dropout masks when not training. */
interface LayerSaved {
  x: tf.Tensor2D;
  mask: tf.Tensor4D;
  qkvW: tf.Tensor2D;
  q: tf.Tensor4D;
  k: tf.Tensor4D;
  v: tf.Tensor4D;
  probs: tf.Tensor4D;
  keepA?: tf.Tensor;
  ctx: tf.Tensor2D;
  oW: tf.Tensor2D;
  keep1?: tf.Tensor;
  xhat1: tf.Tensor2D;
  rstd1: tf.Tensor2D;
  g1: tf.Tensor1D;
  a: tf.Tensor2D;
  iW: tf.Tensor2D;
  inter: tf.Tensor2D;
  act: tf.Tensor2D;
  o2W: tf.Tensor2D;
  keep2?: tf.Tensor;
  xhat2: tf.Tensor2D;
  rstd2: tf.Tensor2D;
  g2: tf.Tensor1D;
}

export class BertModel {
  readonly params: Parameters;
  private readonly act: FusedActivation;
  /** Dropout seeds; its state can be saved and replayed (GradCache, resumed training). */
  readonly seeds: SeedStream;
  /**
   * Gradient checkpointing: keep only each layer's input during the forward pass and recompute the
   * layer's activations when backpropagation reaches it (same dropout masks). Less memory for about
   * one more forward pass of compute. Off by default.
   */
  gradientCheckpointing = false;

  constructor(readonly config: BertConfig, seed = 42) {
    this.params = new Parameters(seed);
    this.seeds = new SeedStream(seed ^ 0x5eed);
    this.act = activation(config.hidden_act).fused!;
    const std = config.initializer_range;
    // HF's init: normal(0, initializer_range) matrices and embeddings, zero biases, unit LayerNorm.
    for (const [name, shape, kind] of bertParameterShapes(config)) {
      const init = kind === 'bias' ? { kind: 'zeros' as const } : kind === 'ln_w' ? { kind: 'ones' as const } : { kind: 'normal' as const, std };
      this.params.create(name, shape, init);
    }
    // The padding row of the word embeddings starts at zero, as in HF.
    const we = this.params.get('bert.embeddings.word_embeddings.weight');
    if (config.pad_token_id >= 0 && config.pad_token_id < config.vocab_size) {
      tf.tidy(() => {
        const rowMask = tf.reshape(tf.oneHot(tf.tensor1d([config.pad_token_id], 'int32'), config.vocab_size), [config.vocab_size, 1]);
        we.assign(tf.mul(we, tf.sub(1, rowMask)));
      });
    }
    releaseHostCopies();
  }

  private p(name: string): tf.Variable {
    return this.params.get(name);
  }

  /** Embeddings → LayerNorm → dropout. */
  embed(inputIds: tf.Tensor2D, tokenTypeIds: tf.Tensor2D, training: boolean): tf.Tensor3D {
    return tf.tidy(() => {
      const [, S] = inputIds.shape;
      const words = tf.gather(this.p('bert.embeddings.word_embeddings.weight'), inputIds);
      const positions = tf.slice(this.p('bert.embeddings.position_embeddings.weight'), [0, 0], [S, this.config.hidden_size]);
      const types = tf.gather(this.p('bert.embeddings.token_type_embeddings.weight'), tokenTypeIds);
      const sum = tf.add(tf.add(words, types), positions);
      const x = layerNorm(sum, this.p('bert.embeddings.LayerNorm.weight'), this.p('bert.embeddings.LayerNorm.bias'), this.config.layer_norm_eps);
      return dropout(x, this.config.hidden_dropout_prob, training, this.seeds.next()) as tf.Tensor3D;
    });
  }

  private layerWeights(i: number): tf.Variable[] {
    return LAYER_WEIGHTS.map((n) => this.p(`bert.encoder.layer.${i}.${n}`));
  }

  /** Query, key and value projections as one [3·H, H] matrix (and bias), 1/√head_dim folded into the queries. */
  private fusedQkv(w: tf.Tensor[]): { W: tf.Tensor2D; b: tf.Tensor1D } {
    const c = 1 / Math.sqrt(this.config.hidden_size / this.config.num_attention_heads);
    return {
      W: tf.concat([tf.mul(w[0], c), w[2], w[4]], 0) as tf.Tensor2D,
      b: tf.concat([tf.mul(w[1], c), w[3], w[5]], 0) as tf.Tensor1D,
    };
  }

  /**
   * One post-LN encoder layer on x [batch·seq, H], without a tape: fused QKV projection → attention
   * (+ dropout) → output dense + dropout + residual + LayerNorm → intermediate dense + activation →
   * output dense + dropout + residual + LayerNorm. With `stats`, also what the backward pass reads.
   */
  private layerCompute(x: tf.Tensor2D, mask: tf.Tensor4D, s: AttentionShape, w: tf.Tensor[], training: boolean, seeds: LayerSeeds, stats: boolean): { out: tf.Tensor2D; saved?: LayerSaved } {
    const c = this.config;
    const [N, H] = x.shape;
    const pa = training ? c.attention_probs_dropout_prob : 0;
    const ph = training ? c.hidden_dropout_prob : 0;
    // Without stats nothing is kept for a backward pass: each intermediate goes as soon as it is used.
    const done = (...ts: Array<tf.Tensor | undefined>) => {
      if (!stats) for (const t of ts) t?.dispose();
    };
    const qkv = this.fusedQkv(w);
    const keepA = pa > 0 ? dropoutMask([s.batch, s.heads, s.seq, s.seq], pa, seeds.attn) : undefined;
    const proj = linear2d(x, qkv.W, qkv.b);
    done(qkv.b);
    const att = attention(proj, mask, keepA ?? null, 1 / (1 - pa), s, stats);
    done(proj, keepA);
    let ao = linear2d(att.ctx, w[6] as tf.Tensor2D, w[7] as tf.Tensor1D);
    done(att.ctx);
    const keep1 = ph > 0 ? dropoutMask([N, H], ph, seeds.hid1) : undefined;
    if (keep1) {
      const d = dropoutApply(ao, keep1, 1 / (1 - ph)) as tf.Tensor2D;
      done(ao, keep1);
      ao = d;
    }
    const ln1 = layerNorm2d(ao, x, w[8] as tf.Tensor1D, w[9] as tf.Tensor1D, c.layer_norm_eps, stats);
    done(ao);
    const inter = linear2d(ln1.y, w[10] as tf.Tensor2D, w[11] as tf.Tensor1D);
    const act = activationForward(inter, this.act) as tf.Tensor2D;
    done(inter);
    let f = linear2d(act, w[12] as tf.Tensor2D, w[13] as tf.Tensor1D);
    done(act);
    const keep2 = ph > 0 ? dropoutMask([N, H], ph, seeds.hid2) : undefined;
    if (keep2) {
      const d = dropoutApply(f, keep2, 1 / (1 - ph)) as tf.Tensor2D;
      done(f, keep2);
      f = d;
    }
    const ln2 = layerNorm2d(f, ln1.y, w[14] as tf.Tensor1D, w[15] as tf.Tensor1D, c.layer_norm_eps, stats);
    done(f, ln1.y, qkv.W);
    if (!stats) return { out: ln2.y };
    return {
      out: ln2.y,
      saved: {
        x, mask, qkvW: qkv.W, q: att.q!, k: att.k!, v: att.v!, probs: att.probs!, keepA, ctx: att.ctx, oW: w[6] as tf.Tensor2D, keep1,
        xhat1: ln1.xhat!, rstd1: ln1.rstd!, g1: w[8] as tf.Tensor1D, a: ln1.y, iW: w[10] as tf.Tensor2D, inter, act, o2W: w[12] as tf.Tensor2D,
        keep2, xhat2: ln2.xhat!, rstd2: ln2.rstd!, g2: w[14] as tf.Tensor1D,
      },
    };
  }

  /** Closed-form backward of `layerCompute`: gradients of x and of the 16 weights, in order. */
  private layerBackward(dy: tf.Tensor2D, t: LayerSaved, s: AttentionShape, training: boolean): tf.Tensor[] {
    const c = this.config;
    const sa = 1 / (1 - (training ? c.attention_probs_dropout_prob : 0));
    const sh = 1 / (1 - (training ? c.hidden_dropout_prob : 0));
    const ln2 = layerNorm2dGrad(dy, t.xhat2, t.rstd2, t.g2);
    const df = t.keep2 ? (dropoutApply(ln2.dx, t.keep2, sh) as tf.Tensor2D) : ln2.dx;
    const out2 = linear2dGrad(df, t.act, t.o2W, true);
    const dinter = activationBackward(out2.dx, t.inter, this.act) as tf.Tensor2D;
    const inter = linear2dGrad(dinter, t.a, t.iW, true);
    const ln1 = layerNorm2dGrad(tf.add(inter.dx, ln2.dx), t.xhat1, t.rstd1, t.g1);
    const dao = t.keep1 ? (dropoutApply(ln1.dx, t.keep1, sh) as tf.Tensor2D) : ln1.dx;
    const out1 = linear2dGrad(dao, t.ctx, t.oW, true);
    const dqkv = attentionGrad(out1.dx, t.q, t.k, t.v, t.probs, t.keepA ?? null, sa, s);
    const proj = linear2dGrad(dqkv, t.x, t.qkvW, true);
    const [dWq, dWk, dWv] = tf.split(proj.dw, 3, 0);
    const [dbq, dbk, dbv] = tf.split(proj.db!, 3, 0);
    const qs = 1 / Math.sqrt(c.hidden_size / c.num_attention_heads);
    return [
      tf.add(proj.dx, ln1.dx),
      tf.mul(dWq, qs), tf.mul(dbq, qs), dWk, dbk, dWv, dbv,
      out1.dw, out1.db!, ln1.dgamma, ln1.dbeta,
      inter.dw, inter.db!, out2.dw, out2.db!, ln2.dgamma, ln2.dbeta,
    ];
  }

  /**
   * One encoder layer on x [batch·seq, H] with its hand-written gradient: a single tape entry that
   * keeps only what the backward pass reads (or, with gradient checkpointing, only its input).
   */
  layer(i: number, x: tf.Tensor2D, mask: tf.Tensor4D, batch: number, training: boolean): tf.Tensor2D {
    const s: AttentionShape = { batch, seq: x.shape[0] / batch, heads: this.config.num_attention_heads };
    // Drawn in the order of the original layer (probabilities, attention output, feed-forward output).
    const seeds: LayerSeeds = { attn: this.seeds.next(), hid1: this.seeds.next(), hid2: this.seeds.next() };
    const w = this.layerWeights(i);
    const taped = recording();
    const checkpoint = taped && this.gradientCheckpointing;
    let names: Array<keyof LayerSaved> = [];
    return withGrad(
      [x, ...w],
      (save) => {
        const r = this.layerCompute(x, mask, s, w, training, seeds, taped && !checkpoint);
        if (r.saved) {
          names = (Object.keys(r.saved) as Array<keyof LayerSaved>).filter((k) => r.saved![k]);
          save(names.map((k) => r.saved![k]!));
        } else if (checkpoint) {
          save([x, mask, ...w]);
        }
        return r.out;
      },
      (dy, saved) => {
        let t: LayerSaved;
        if (checkpoint) {
          // Recompute this layer's activations (same seeds, so the same dropout masks).
          t = this.layerCompute(saved[0] as tf.Tensor2D, saved[1] as tf.Tensor4D, s, saved.slice(2), training, seeds, true).saved!;
        } else {
          t = Object.fromEntries(names.map((k, j) => [k, saved[j]])) as unknown as LayerSaved;
        }
        return this.layerBackward(dy, t, s, training);
      },
    );
  }

  /** Attention probabilities [batch, heads, seq, seq] of layer `i` for its input x (no gradient flows through them). */
  private attentionProbs(i: number, x: tf.Tensor2D, mask: tf.Tensor4D, batch: number): tf.Tensor4D {
    return tf.tidy(() => {
      const qkv = this.fusedQkv(this.layerWeights(i));
      const s: AttentionShape = { batch, seq: x.shape[0] / batch, heads: this.config.num_attention_heads };
      return attention(linear2d(x, qkv.W, qkv.b), mask, null, 1, s, true).probs!;
    });
  }

  /** pooler: tanh(W · h[CLS] + b). */
  pool(lastHiddenState: tf.Tensor3D): tf.Tensor2D {
    return tf.tidy(() => {
      const [B, , H] = lastHiddenState.shape;
      const cls = tf.reshape(tf.slice(lastHiddenState, [0, 0, 0], [B, 1, H]), [B, H]);
      return tf.tanh(linear(cls, this.p('bert.pooler.dense.weight'), this.p('bert.pooler.dense.bias'))) as tf.Tensor2D;
    });
  }

  forward(inputs: BertInputs, opts: BertForwardOptions = {}): BertOutputs {
    const training = opts.training ?? false;
    return tf.tidy(() => {
      const { inputIds } = inputs;
      const [B, S] = inputIds.shape;
      const H = this.config.hidden_size;
      const tokenTypeIds = inputs.tokenTypeIds ?? tf.zerosLike(inputIds);
      const attentionMask = inputs.attentionMask ?? tf.onesLike(inputIds);
      // HF uses the most negative float; any value that underflows exp() to 0 gives the same softmax.
      const mask = additiveMask(attentionMask, -1e9);
      const embedded = this.embed(inputIds, tokenTypeIds, training);
      // The encoder works on [batch·seq, H]: every projection is one plain matrix product.
      let x = tf.reshape(embedded, [B * S, H]) as tf.Tensor2D;
      const hiddenStates: tf.Tensor3D[] = [embedded];
      const attentions: tf.Tensor4D[] = [];
      for (let i = 0; i < this.config.num_hidden_layers; i++) {
        if (opts.outputAttentions) attentions.push(this.attentionProbs(i, x, mask, B));
        x = this.layer(i, x, mask, B, training);
        if (opts.outputHiddenStates) hiddenStates.push(tf.reshape(x, [B, S, H]) as tf.Tensor3D);
      }
      const last = opts.outputHiddenStates ? hiddenStates[hiddenStates.length - 1] : (tf.reshape(x, [B, S, H]) as tf.Tensor3D);
      const result: BertOutputs = { lastHiddenState: last, pooledOutput: this.pool(last) };
      if (opts.outputHiddenStates) result.hiddenStates = hiddenStates;
      if (opts.outputAttentions) result.attentions = attentions;
      return result as unknown as tf.TensorContainerObject;
    }) as unknown as BertOutputs;
  }

  /** Classifier logits [batch, num_labels] on the pooled output (dropout first when training). */
  classify(pooledOutput: tf.Tensor2D, training = false): tf.Tensor2D {
    return tf.tidy(() => {
      const rate = this.config.classifier_dropout ?? this.config.hidden_dropout_prob;
      const x = dropout(pooledOutput, rate, training, this.seeds.next());
      return linear(x, this.p('classifier.weight'), this.p('classifier.bias')) as tf.Tensor2D;
    });
  }

  dispose(): void {
    this.params.dispose();
  }
}
