// Re-rankers on T5, all scored from one decoder step with decoder_input_ids = [decoder_start_token_id]
// (system.md §3.4), except RankT5's encoder-only variant:
//   monoT5   `Query: q Document: d Relevant:`  softmax([z_true, z_false])[true] (its log by default)
//   RankT5   `Query: q Document: d`            z of <extra_id_10>
//   RankT5-enc `Query: q Document: d`          encoder first-token / mean state → dense → scalar
//   TWOLAR   `Query: q Document: d Relevant:`  z_true − z_false
// Token ids come from the tokenizer. The document is truncated first, so the template's tail survives.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../backend/index.js';
import type { LossResult, RankingLoss } from '../../losses/types.js';
import { TextTokenizer } from '../../tokenization/tokenizer.js';
import type { TrainableRanker } from '../../training/types.js';
import { InputError } from '../../utils/errors.js';
import { dropout, linear } from '../common/layers.js';
import type { T5Config } from './config.js';
import { loadT5, T5Model } from './model.js';
import { resolvePretrained, TOKENIZER_FILES, type HubOptions } from '../../hub/index.js';
import { toListGrid } from '../../training/lists.js';

export type T5Head = 'monot5' | 'rankt5' | 'rankt5-encoder' | 'twolar';
export const T5_HEADS: T5Head[] = ['monot5', 'rankt5', 'rankt5-encoder', 'twolar'];

export interface T5RankerOptions {
  head?: T5Head;
  /** Tokenizer instance, or a file/directory with tokenizer.json. */
  tokenizer?: TextTokenizer | string;
  /** Input tokens at most, template and </s> included (default 512). */
  maxLength?: number;
  /** monoT5 score: log P(true) over {true, false} (default, as pygaggle) or P(true). */
  monoT5Score?: 'log-prob' | 'prob';
  /** Tokens read by the heads (defaults: ▁true, ▁false, <extra_id_10>). */
  trueToken?: string;
  falseToken?: string;
  rankToken?: string;
  /** RankT5 encoder-only pooling (default 'first'). */
  pooling?: 'first' | 'mean';
  /**
   * 'ranking' (default): the trainer's ranking loss on the scores. 'token-ce': monoT5's original
   * objective, cross-entropy over the vocabulary at the first decoder step against ▁true (label >
   * `relevantAbove`) or ▁false.
   */
  objective?: 'ranking' | 'token-ce';
  relevantAbove?: number;
  seed?: number;
}

export interface T5Batch {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
}

const HEAD_W = 'score_head.dense.weight';
const HEAD_B = 'score_head.dense.bias';

/** Whether a head's template ends with `Relevant:`. */
function hasRelevantSuffix(head: T5Head): boolean {
  return head === 'monot5' || head === 'twolar';
}

/** The input text of a head (system.md §3.4). */
export function t5InputText(head: T5Head, query: string, doc: string): string {
  return `Query: ${query} Document: ${doc}${hasRelevantSuffix(head) ? ' Relevant:' : ''}`;
}

export class T5Ranker implements TrainableRanker<T5Batch> {
  readonly head: T5Head;
  readonly maxLength: number;
  readonly opts: T5RankerOptions;
  private tok: TextTokenizer | null;
  private fixed: { query: number[]; document: number[]; relevant: number[] } | null = null;

  /** Wraps a T5 model (its weights are shared, not copied). */
  constructor(readonly model: T5Model, opts: T5RankerOptions = {}) {
    ensureBackend();
    this.opts = opts;
    this.head = opts.head ?? 'monot5';
    if (!T5_HEADS.includes(this.head)) throw new Error(`unknown T5 head '${this.head}' (known: ${T5_HEADS.join(', ')})`);
    this.maxLength = opts.maxLength ?? 512;
    this.tok = typeof opts.tokenizer === 'string' ? TextTokenizer.fromDir(opts.tokenizer, { maxLength: this.maxLength }) : (opts.tokenizer ?? null);
    if (this.head === 'rankt5-encoder' && !model.params.has(HEAD_W)) {
      const D = model.config.d_model;
      model.params.create(HEAD_W, [1, D], { kind: 'normal', std: D ** -0.5 });
      model.params.create(HEAD_B, [1], { kind: 'zeros' });
    }
  }

  /** A fresh model with random weights (keys left out take T5Config defaults: t5-small sizes). */
  static create(config: Partial<T5Config>, opts: T5RankerOptions = {}): T5Ranker {
    return new T5Ranker(new T5Model(config, opts.seed ?? 42), opts);
  }

  /**
   * Loads an HF T5 checkpoint (`config.json` + `model.safetensors`), e.g. castorini/monot5-*,
   * flan-t5-*, or one this class saved (its head and settings are in config.json's `rankdistill`).
   */
  static async fromPretrained(idOrPath: string, opts: T5RankerOptions & HubOptions = {}): Promise<T5Ranker> {
    const dir = await resolvePretrained(idOrPath, { ...opts, files: ['config.json', 'model.safetensors'], optionalFiles: TOKENIZER_FILES });
    const { model, extra, rawConfig } = loadT5(dir, { seed: opts.seed });
    const saved = (rawConfig.rankdistill ?? {}) as Partial<T5RankerOptions>;
    let tokenizer = opts.tokenizer;
    if (tokenizer === undefined && fs.existsSync(path.join(dir, 'tokenizer.json'))) tokenizer = dir;
    try {
      const r = new T5Ranker(model, { ...saved, ...opts, tokenizer });
      const unknown = [...extra.keys()].filter((n) => !(r.head === 'rankt5-encoder' && (n === HEAD_W || n === HEAD_B)));
      if (unknown.length) {
        throw new InputError(`unexpected tensors for a T5 ${r.head} ranker: ${unknown.slice(0, 8).join(', ')}`, { file: path.join(dir, 'model.safetensors') });
      }
      for (const [n, t] of extra) {
        const v = model.params.get(n);
        if (t.shape.join() !== v.shape.join()) {
          throw new InputError(`tensor '${n}' has shape [${t.shape}] but d_model ${model.config.d_model} needs [${v.shape}]`, { file: path.join(dir, 'model.safetensors') });
        }
        tf.tidy(() => v.assign(tf.tensor(t.values, t.shape, 'float32')));
      }
      return r;
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  get tokenizer(): TextTokenizer {
    if (!this.tok) throw new Error('this T5Ranker has no tokenizer: pass { tokenizer: DIR_OR_FILE } or set ranker.tokenizer');
    return this.tok;
  }

  set tokenizer(t: TextTokenizer) {
    this.tok = t;
    this.fixed = null;
  }

  private tokenId(which: 'true' | 'false' | 'rank'): number {
    const tok = which === 'true' ? (this.opts.trueToken ?? '▁true') : which === 'false' ? (this.opts.falseToken ?? '▁false') : (this.opts.rankToken ?? '<extra_id_10>');
    const id = this.tokenizer.tokenToId(tok);
    if (id === undefined) throw new InputError(`token ${JSON.stringify(tok)} is not in the vocabulary`, { file: this.tokenizer.source });
    if (id >= this.model.config.vocab_size) throw new InputError(`token ${JSON.stringify(tok)} has id ${id} ≥ vocab_size ${this.model.config.vocab_size}`, { file: this.tokenizer.source });
    return id;
  }

  /** Vocabulary ids whose first-step logits the head reads. */
  headTokenIds(): number[] {
    if (this.head === 'rankt5') return [this.tokenId('rank')];
    if (this.head === 'rankt5-encoder') return [];
    return [this.tokenId('true'), this.tokenId('false')];
  }

  /** Token ids of texts without special tokens, one row each. */
  private async pieces(texts: string[]): Promise<number[][]> {
    if (!texts.length) return [];
    const b = await this.tokenizer.encodeBatch(texts, undefined, { addSpecialTokens: false, maxLength: 1 << 30 });
    return texts.map((_, r) => Array.from(b.inputIds.subarray(r * b.seqLen, r * b.seqLen + b.lengths[r])));
  }

  /**
   * Pair ids: template words, query, document and `</s>`. SentencePiece here splits on whitespace first,
   * so encoding the parts separately gives the ids of the whole text (checked in the tests); it lets the
   * document be truncated before the query and the `Relevant:` tail.
   */
  async encodeIds(pairs: Array<[string, string]>): Promise<number[][]> {
    if (!this.fixed) {
      const [query, document, relevant] = await this.pieces(['Query:', 'Document:', 'Relevant:']);
      this.fixed = { query, document, relevant };
    }
    const f = this.fixed;
    const tail = hasRelevantSuffix(this.head) ? f.relevant : [];
    const eos = this.model.config.eos_token_id;
    const qs = await this.pieces(pairs.map((p) => p[0]));
    const ds = await this.pieces(pairs.map((p) => p[1]));
    const avail = this.maxLength - f.query.length - f.document.length - tail.length - 1;
    if (avail < 1) throw new Error(`maxLength ${this.maxLength} leaves no room for text after the template`);
    return pairs.map((_, i) => {
      const q = qs[i].slice(0, avail);
      const d = ds[i].slice(0, avail - q.length);
      return [...f.query, ...q, ...f.document, ...d, ...tail, eos];
    });
  }

  /** Right-padded id and mask tensors. */
  batchTensors(rows: number[][]): T5Batch {
    const L = Math.max(1, ...rows.map((r) => r.length));
    const ids = new Int32Array(rows.length * L).fill(this.model.config.pad_token_id);
    const mask = new Int32Array(rows.length * L);
    rows.forEach((r, i) => {
      ids.set(r, i * L);
      mask.fill(1, i * L, i * L + r.length);
    });
    return { inputIds: tf.tensor2d(ids, [rows.length, L], 'int32'), attentionMask: tf.tensor2d(mask, [rows.length, L], 'int32') };
  }

  async encodeForTraining(pairs: Array<[string, string]>): Promise<T5Batch> {
    return this.batchTensors(await this.encodeIds(pairs));
  }

  disposeBatch(batch: T5Batch): void {
    tf.dispose([batch.inputIds, batch.attentionMask]);
  }

  /** Decoder final state [batch, 1, d_model] at the first step. */
  private firstStep(batch: T5Batch, training: boolean): tf.Tensor3D {
    return tf.tidy(() => {
      const enc = this.model.encode(batch.inputIds, batch.attentionMask, { training }).lastHiddenState;
      const B = batch.inputIds.shape[0];
      const start = tf.fill([B, 1], this.model.config.decoder_start_token_id, 'int32') as tf.Tensor2D;
      return this.model.decode(start, { hidden: enc, mask: batch.attentionMask }, { training }).hidden;
    });
  }

  /** Scores [batch]. Differentiable; dropout when `training`. */
  forward(batch: T5Batch, training = false): tf.Tensor1D {
    return tf.tidy(() => {
      const B = batch.inputIds.shape[0];
      if (this.head === 'rankt5-encoder') {
        const enc = this.model.encode(batch.inputIds, batch.attentionMask, { training }).lastHiddenState;
        const D = this.model.config.d_model;
        let pooled: tf.Tensor2D;
        if ((this.opts.pooling ?? 'first') === 'first') pooled = tf.reshape(tf.slice(enc, [0, 0, 0], [B, 1, D]), [B, D]);
        else {
          const m = tf.expandDims(tf.cast(batch.attentionMask, 'float32'), 2);
          pooled = tf.div(tf.sum(tf.mul(enc, m), 1), tf.sum(m, 1)) as tf.Tensor2D;
        }
        pooled = dropout(pooled, this.model.config.dropout_rate, training, training ? this.model.seeds.next() : undefined) as tf.Tensor2D;
        return tf.reshape(linear(pooled, this.model.p(HEAD_W), this.model.p(HEAD_B)), [B]) as tf.Tensor1D;
      }
      const z = this.model.logitsAt(this.firstStep(batch, training), this.headTokenIds());
      if (this.head === 'rankt5') return tf.reshape(z, [B]) as tf.Tensor1D;
      const [zt, zf] = tf.split(z, 2, 1).map((t) => tf.reshape(t, [B]));
      if (this.head === 'twolar') return tf.sub(zt, zf) as tf.Tensor1D;
      const logp = tf.neg(tf.softplus(tf.sub(zf, zt))) as tf.Tensor1D; // log softmax([zt, zf])[0]
      return (this.opts.monoT5Score === 'prob' ? tf.exp(logp) : logp) as tf.Tensor1D;
    });
  }

  /** monoT5's token objective when `objective: 'token-ce'` (the trainer then uses it instead of scores + ranking loss). */
  get trainingLoss(): ((batch: T5Batch, labels: tf.Tensor2D, mask: tf.Tensor2D, rankLoss: RankingLoss) => LossResult) | undefined {
    if ((this.opts.objective ?? 'ranking') !== 'token-ce') return undefined;
    return (batch, labels, mask) => {
      const y = labels.dataSync();
      const m = mask.dataSync();
      const targets: number[] = [];
      const slot: number[] = [];
      const [tid, fid] = [this.tokenId('true'), this.tokenId('false')];
      for (let i = 0; i < m.length; i++) {
        if (m[i]) {
          slot.push(targets.length);
          targets.push(y[i] > (this.opts.relevantAbove ?? 0) ? tid : fid);
        } else slot.push(-1);
      }
      return tf.tidy(() => {
        const logits = tf.reshape(this.model.lmLogits(this.firstStep(batch, true)), [targets.length, this.model.config.vocab_size]) as tf.Tensor2D;
        const perPair = tokenCrossEntropy(logits, targets);
        const perSlot = toListGrid(perPair as tf.Tensor1D, slot, labels.shape);
        const count = tf.maximum(tf.sum(mask, 1), 1);
        return { loss: tf.mean(perPair) as tf.Scalar, perList: tf.div(tf.sum(perSlot, 1), count) as tf.Tensor1D };
      });
    };
  }

  trainableVariables(): Map<string, tf.Variable> {
    const all = this.model.params.trainable();
    if (this.head !== 'rankt5-encoder') return new Map([...all].filter(([n]) => !n.startsWith('score_head.')));
    // The decoder and LM head take no part in encoder-only scoring.
    return new Map([...all].filter(([n]) => !n.startsWith('decoder.') && n !== 'lm_head.weight'));
  }

  rngState(): number {
    return this.model.seeds.getState();
  }

  setRngState(state: number): void {
    this.model.seeds.setState(state);
  }

  async score(pairs: Array<[string, string]>, opts: { batchSize?: number } = {}): Promise<number[]> {
    const batchSize = opts.batchSize ?? 32;
    const out = new Array<number>(pairs.length);
    const rows = await this.encodeIds(pairs);
    // Similar lengths together: less padding.
    const order = rows.map((r, i) => ({ i, len: r.length })).sort((a, b) => a.len - b.len);
    for (let s = 0; s < order.length; s += batchSize) {
      const idx = order.slice(s, s + batchSize).map((o) => o.i);
      const batch = this.batchTensors(idx.map((i) => rows[i]));
      const scores = this.forward(batch, false);
      this.disposeBatch(batch);
      const vals = await scores.data();
      scores.dispose();
      idx.forEach((i, j) => {
        out[i] = vals[j];
      });
    }
    return out;
  }

  /** Documents sorted by descending score (ties keep input order). */
  async rank(query: string, docs: string[], opts: { batchSize?: number; topK?: number } = {}): Promise<Array<{ index: number; doc: string; score: number }>> {
    const scores = await this.score(docs.map((d) => [query, d] as [string, string]), opts);
    const ranked = docs.map((doc, index) => ({ index, doc, score: scores[index] })).sort((a, b) => b.score - a.score || a.index - b.index);
    return opts.topK ? ranked.slice(0, opts.topK) : ranked;
  }

  /** Writes config.json (with the head settings under `rankdistill`), model.safetensors and the tokenizer. */
  async save(dir: string): Promise<void> {
    const { tokenizer: _t, seed: _s, ...settings } = this.opts;
    this.model.save(dir, { rankdistill: { ...settings, head: this.head, maxLength: this.maxLength } });
    if (this.tok) {
      this.tok.inner.save(path.join(dir, 'tokenizer.json'));
      const tc = {
        tokenizer_class: 'T5Tokenizer',
        model_max_length: this.maxLength,
        eos_token: '</s>',
        pad_token: '<pad>',
        unk_token: '<unk>',
        extra_ids: 100,
      };
      fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), `${JSON.stringify(tc, null, 2)}\n`);
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Per-row cross-entropy −log softmax(logits)[target], [rows]. */
export function tokenCrossEntropy(logits: tf.Tensor2D, targets: number[]): tf.Tensor1D {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    const onehot = tf.oneHot(tf.tensor1d(targets, 'int32'), logits.shape[1]);
    return tf.neg(tf.sum(tf.mul(logp, onehot), 1)) as tf.Tensor1D;
  });
}

/**
 * monoT5's cross-entropy restricted to {true, false} as a ranking loss over monoT5 scores
 * (log P(true), the default monoT5 score): −[y·log p + (1−y)·log(1−p)], y = label > `relevantAbove`,
 * mean over real items. Use with `monoT5Score: 'log-prob'`.
 */
export function monoT5CrossEntropy(opts: { relevantAbove?: number } = {}): RankingLoss {
  return (scores, labels, mask) =>
    tf.tidy(() => {
      const y = tf.cast(tf.greater(labels, opts.relevantAbove ?? 0), 'float32');
      // log(1 − p) from log p without cancellation: log(−expm1(log p)).
      const log1mp = tf.log(tf.maximum(tf.neg(tf.sub(tf.exp(scores), 1)), 1e-12));
      const ce = tf.mul(tf.neg(tf.add(tf.mul(y, scores), tf.mul(tf.sub(1, y), log1mp))), mask);
      const count = tf.sum(mask, 1);
      const perList = tf.div(tf.sum(ce, 1), tf.maximum(count, 1)) as tf.Tensor1D;
      return { loss: tf.div(tf.sum(ce), tf.maximum(tf.sum(mask), 1)) as tf.Scalar, perList };
    });
}

/** monoT5 (Nogueira et al. 2020): log P(true) over {▁true, ▁false}. */
export function monoT5(model: T5Model, opts: Omit<T5RankerOptions, 'head'> = {}): T5Ranker {
  return new T5Ranker(model, { ...opts, head: 'monot5' });
}
/** RankT5 encoder-decoder (Zhuang et al. 2023): the <extra_id_10> logit. */
export function rankT5(model: T5Model, opts: Omit<T5RankerOptions, 'head'> = {}): T5Ranker {
  return new T5Ranker(model, { ...opts, head: 'rankt5' });
}
/** RankT5 encoder-only: pooled encoder state → dense → scalar. */
export function rankT5Encoder(model: T5Model, opts: Omit<T5RankerOptions, 'head'> = {}): T5Ranker {
  return new T5Ranker(model, { ...opts, head: 'rankt5-encoder' });
}
/** TWOLAR (Baldelli et al. 2024): z_true − z_false. */
export function twolar(model: T5Model, opts: Omit<T5RankerOptions, 'head'> = {}): T5Ranker {
  return new T5Ranker(model, { ...opts, head: 'twolar' });
}
