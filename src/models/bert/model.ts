// HF `BertModel`: embeddings, post-LN transformer layers, pooler; plus the sequence-classification
// head of `BertForSequenceClassification`. Parameter names are the checkpoint's (`bert.…`, `classifier.…`).
import * as tf from '@tensorflow/tfjs-core';
import { Parameters } from '../common/parameters.js';
import { activation, additiveMask, dropout, layerNorm, linear, SeedStream, type Activation } from '../common/layers.js';
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
  /** Also return each layer's attention probabilities [batch, heads, seq, seq]. */
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

export class BertModel {
  readonly params: Parameters;
  private readonly act: Activation;
  /** Dropout seeds; its state can be saved and replayed (GradCache, resumed training). */
  readonly seeds: SeedStream;

  constructor(readonly config: BertConfig, seed = 42) {
    this.params = new Parameters(seed);
    this.seeds = new SeedStream(seed ^ 0x5eed);
    this.act = activation(config.hidden_act);
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

  /** One post-LN encoder layer. `mask` is the additive mask [batch, 1, 1, seq]. */
  layer(i: number, x: tf.Tensor3D, mask: tf.Tensor4D, training: boolean): { out: tf.Tensor3D; probs: tf.Tensor4D } {
    const c = this.config;
    const p = `bert.encoder.layer.${i}`;
    const [B, S, H] = x.shape;
    const nh = c.num_attention_heads;
    const hd = H / nh;
    const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, S, nh, hd]), [0, 2, 1, 3]);
    let probs!: tf.Tensor4D;
    const out = tf.tidy(() => {
      // Scaling Q (seq×head_dim) is cheaper than scaling the seq×seq scores; same result.
      const q = heads(tf.mul(linear(x, this.p(`${p}.attention.self.query.weight`), this.p(`${p}.attention.self.query.bias`)), 1 / Math.sqrt(hd)));
      const k = heads(linear(x, this.p(`${p}.attention.self.key.weight`), this.p(`${p}.attention.self.key.bias`)));
      const v = heads(linear(x, this.p(`${p}.attention.self.value.weight`), this.p(`${p}.attention.self.value.bias`)));
      const scores = tf.add(tf.matMul(q, k, false, true), mask);
      probs = tf.keep(tf.softmax(scores) as tf.Tensor4D);
      const attn = dropout(probs, c.attention_probs_dropout_prob, training, this.seeds.next());
      const ctx = tf.reshape(tf.transpose(tf.matMul(attn, v), [0, 2, 1, 3]), [B, S, H]);
      const attnOut = dropout(linear(ctx, this.p(`${p}.attention.output.dense.weight`), this.p(`${p}.attention.output.dense.bias`)), c.hidden_dropout_prob, training, this.seeds.next());
      const a = layerNorm(tf.add(attnOut, x), this.p(`${p}.attention.output.LayerNorm.weight`), this.p(`${p}.attention.output.LayerNorm.bias`), c.layer_norm_eps);
      const inter = this.act(linear(a, this.p(`${p}.intermediate.dense.weight`), this.p(`${p}.intermediate.dense.bias`)));
      const ff = dropout(linear(inter, this.p(`${p}.output.dense.weight`), this.p(`${p}.output.dense.bias`)), c.hidden_dropout_prob, training, this.seeds.next());
      return layerNorm(tf.add(ff, a), this.p(`${p}.output.LayerNorm.weight`), this.p(`${p}.output.LayerNorm.bias`), c.layer_norm_eps) as tf.Tensor3D;
    });
    return { out, probs };
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
      const tokenTypeIds = inputs.tokenTypeIds ?? tf.zerosLike(inputIds);
      const attentionMask = inputs.attentionMask ?? tf.onesLike(inputIds);
      // HF uses the most negative float; any value that underflows exp() to 0 gives the same softmax.
      const mask = additiveMask(attentionMask, -1e9);
      let x = this.embed(inputIds, tokenTypeIds, training);
      const hiddenStates: tf.Tensor3D[] = [x];
      const attentions: tf.Tensor4D[] = [];
      for (let i = 0; i < this.config.num_hidden_layers; i++) {
        const { out, probs } = this.layer(i, x, mask, training);
        if (opts.outputAttentions) attentions.push(probs);
        else probs.dispose();
        x = out;
        hiddenStates.push(x);
      }
      const result: BertOutputs = { lastHiddenState: x, pooledOutput: this.pool(x) };
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
