// A bi-encoder student that scores a (query, document) pair with more than its pooled vectors: a
// learned weighted sum of similarity features between the two texts' token states, each encoded
// alone by the same sentence-transformers encoder (BiEncoder):
//   cosine[@l]  cosine of the pooled vectors (the checkpoint's own score) at hidden state l
//   maxsim[@l]  ColBERT's MaxSim: mean over the query's tokens of the best cosine with any document
//               token, at hidden state l ([CLS], [SEP] and padding excluded on both sides)
// (l = 0 is the embedding output, the default is the last layer). The head starts as the checkpoint:
// weight `scale` on `cosine`, 0 elsewhere, so the untrained student ranks exactly as the bi-encoder,
// and distillation moves weight onto what the teacher's rankings reward. With the encoder frozen
// (the default) only the head trains, from features computed once per pair and cached.
// Saved as the encoder's sentence-transformers folder (it still loads as a plain SentenceTransformer)
// plus late_interaction.json with the features and weights.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { resolvePretrained, TOKENIZER_FILES, type HubOptions } from '../hub/index.js';
import { readJsonObject } from '../io/json.js';
import { batchToTensors, type EncodedBatch } from '../tokenization/tokenizer.js';
import type { TrainableRanker } from '../training/types.js';
import { InputError } from '../utils/errors.js';
import { BiEncoder, type BiEncoderOptions } from './bi-encoder/model.js';
import { l2Normalize, pool } from './bi-encoder/pooling.js';

export const LATE_INTERACTION_FILE = 'late_interaction.json';

export interface LateInteractionOptions {
  /** Similarity features, e.g. ['cosine', 'maxsim', 'maxsim@0'] (default ['cosine', 'maxsim']). */
  features?: string[];
  /** Initial head weights, one per feature (default: the encoder's scale on the first `cosine`, 0 elsewhere). */
  weights?: number[];
  /**
   * Fine-tune the encoder too (default false: only the head trains, on cached features). To keep
   * parts of it fixed, give the Trainer `freeze` prefixes (e.g. `bert.embeddings.`).
   */
  trainEncoder?: boolean;
}

interface Feature {
  kind: 'cosine' | 'maxsim';
  /** Hidden-state index: 0 = embedding output, L = last layer. */
  layer: number;
  name: string;
}

/** A training batch: cached feature rows (frozen encoder) or the tokenised texts. */
export interface LateInteractionBatch {
  features?: tf.Tensor2D;
  queries?: { tensors: ReturnType<typeof batchToTensors>; lengths: number[] };
  docs?: { tensors: ReturnType<typeof batchToTensors>; lengths: number[] };
  queryIndex?: tf.Tensor1D;
}

export class LateInteractionRanker implements TrainableRanker<LateInteractionBatch> {
  readonly encoder: BiEncoder;
  readonly features: readonly Feature[];
  readonly head: tf.Variable;
  readonly trainEncoder: boolean;
  /** Feature rows of (query, document) pairs under the frozen encoder. */
  private readonly cache = new Map<string, Float32Array>();

  /** Wraps an encoder (the ranker owns it from now on: dispose() disposes it). */
  constructor(encoder: BiEncoder, opts: LateInteractionOptions = {}) {
    this.encoder = encoder;
    const L = encoder.config.num_hidden_layers;
    this.features = (opts.features ?? ['cosine', 'maxsim']).map((f) => parseFeature(f, L));
    if (!this.features.length) throw new InputError('at least one feature is needed', { field: 'features' });
    const firstCos = this.features.findIndex((f) => f.kind === 'cosine');
    const w = opts.weights ?? this.features.map((_, i) => (i === (firstCos < 0 ? 0 : firstCos) ? encoder.scale : 0));
    if (w.length !== this.features.length || w.some((x) => !Number.isFinite(x))) {
      throw new InputError(`expected ${this.features.length} finite weights (one per feature), got ${JSON.stringify(w)}`, { field: 'weights' });
    }
    this.head = tf.variable(tf.tensor1d(w), true);
    this.trainEncoder = opts.trainEncoder ?? false;
  }

  /**
   * A sentence-transformers folder or Hub id (`resolvePretrained`); a folder this class saved brings
   * its features and weights back (options override them).
   */
  static async fromPretrained(idOrPath: string, opts: LateInteractionOptions & BiEncoderOptions & HubOptions = {}): Promise<LateInteractionRanker> {
    const dir = await resolvePretrained(idOrPath, {
      ...opts,
      files: ['config.json', 'model.safetensors'],
      optionalFiles: [...TOKENIZER_FILES, 'modules.json', 'sentence_bert_config.json', '1_Pooling/config.json', 'config_sentence_transformers.json', LATE_INTERACTION_FILE],
    });
    const file = path.join(dir, LATE_INTERACTION_FILE);
    let saved: LateInteractionOptions = {};
    if (fs.existsSync(file)) {
      const raw = readJsonObject(file, 'the late-interaction head');
      if (!Array.isArray(raw.features) || !raw.features.every((f) => typeof f === 'string')) throw new InputError('expected an array of feature names', { file, field: 'features' });
      if (!Array.isArray(raw.weights) || !raw.weights.every((x) => typeof x === 'number')) throw new InputError('expected an array of numbers', { file, field: 'weights' });
      saved = { features: raw.features as string[], weights: raw.weights as number[] };
    }
    const encoder = await BiEncoder.fromPretrained(dir, opts);
    try {
      const features = opts.features ?? saved.features;
      return new LateInteractionRanker(encoder, { ...opts, features, weights: opts.weights ?? (opts.features ? undefined : saved.weights) });
    } catch (e) {
      encoder.dispose();
      throw e instanceof InputError && !e.message.includes(file) && fs.existsSync(file) ? new InputError(e.message, { file }) : e;
    }
  }

  get featureNames(): string[] {
    return this.features.map((f) => f.name);
  }

  /** Current head weights, one per feature. */
  get weights(): number[] {
    return Array.from(this.head.dataSync());
  }

  /**
   * Feature rows [pairs, features] from tokenised queries, documents and each pair's query row.
   * Differentiable in the encoder; dropout when `training`.
   */
  featureTensor(q: { tensors: ReturnType<typeof batchToTensors>; lengths: number[] }, d: { tensors: ReturnType<typeof batchToTensors>; lengths: number[] }, queryIndex: tf.Tensor1D, training: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const needAll = this.features.some((f) => f.layer !== this.encoder.config.num_hidden_layers);
      const states = (t: ReturnType<typeof batchToTensors>) => {
        const o = this.encoder.bert.forward(t, { training, outputHiddenStates: needAll });
        return needAll ? o.hiddenStates! : [...Array(this.encoder.config.num_hidden_layers).fill(null), o.lastHiddenState];
      };
      const qs = states(q.tensors);
      const ds = states(d.tensors);
      const qTok = tf.gather(contentMask(q.lengths, q.tensors.inputIds.shape[1]), queryIndex) as tf.Tensor2D;
      const dTok = contentMask(d.lengths, d.tensors.inputIds.shape[1]);
      const qMask = tf.gather(q.tensors.attentionMask, queryIndex) as tf.Tensor2D;
      const cols = this.features.map((f) => {
        const qh = tf.gather(qs[f.layer] as tf.Tensor3D, queryIndex) as tf.Tensor3D;
        const dh = ds[f.layer] as tf.Tensor3D;
        if (f.kind === 'cosine') {
          const a = l2Normalize(pool(qh, qMask, this.encoder.pooling));
          const b = l2Normalize(pool(dh, d.tensors.attentionMask, this.encoder.pooling));
          return tf.sum(tf.mul(a, b), 1);
        }
        return maxSim(qh, qTok, dh, dTok);
      });
      return tf.stack(cols, 1) as tf.Tensor2D;
    });
  }

  private async tokenizeSide(texts: string[]): Promise<{ tensors: ReturnType<typeof batchToTensors>; lengths: number[] }> {
    const enc: EncodedBatch = await this.encoder.tokenize(texts);
    return { tensors: batchToTensors(enc), lengths: enc.lengths };
  }

  private async tokenizePairs(pairs: Array<[string, string]>): Promise<Required<Omit<LateInteractionBatch, 'features'>>> {
    const qIds = new Map<string, number>();
    for (const [q] of pairs) if (!qIds.has(q)) qIds.set(q, qIds.size);
    return {
      queries: await this.tokenizeSide([...qIds.keys()]),
      docs: await this.tokenizeSide(pairs.map((p) => p[1])),
      queryIndex: tf.tensor1d(
        pairs.map(([q]) => qIds.get(q)!),
        'int32',
      ),
    };
  }

  /**
   * Feature rows of (query, document) pairs in eval mode, in input order; pairs batched by document
   * length. Under a frozen encoder each pair is computed once and cached.
   */
  async featuresOf(pairs: Array<[string, string]>, opts: { batchSize?: number; onBatch?: (done: number) => void } = {}): Promise<Float32Array[]> {
    const bs = opts.batchSize ?? 32;
    const K = this.features.length;
    const out = new Array<Float32Array>(pairs.length);
    const todo: number[] = [];
    pairs.forEach((p, i) => {
      const hit = this.trainEncoder ? undefined : this.cache.get(pairKey(p));
      if (hit) out[i] = hit;
      else todo.push(i);
    });
    todo.sort((a, b) => pairs[a][1].length - pairs[b][1].length || a - b);
    for (let s = 0; s < todo.length; s += bs) {
      const idx = todo.slice(s, s + bs);
      const b = await this.tokenizePairs(idx.map((i) => pairs[i]));
      const f = tf.tidy(() => this.featureTensor(b.queries, b.docs, b.queryIndex, false));
      const v = (await f.data()) as Float32Array;
      f.dispose();
      disposeTokenized(b);
      idx.forEach((i, j) => {
        out[i] = v.slice(j * K, (j + 1) * K);
        if (!this.trainEncoder) this.cache.set(pairKey(pairs[i]), out[i]);
      });
      opts.onBatch?.(Math.min(s + bs, todo.length));
    }
    return out;
  }

  /** Relevance scores of (query, document) pairs: head weights · features. */
  async score(pairs: Array<[string, string]>, opts: { batchSize?: number; onBatch?: (done: number) => void } = {}): Promise<number[]> {
    const w = this.weights;
    return (await this.featuresOf(pairs, opts)).map((f) => f.reduce((s, x, k) => s + x * w[k], 0));
  }

  /** Documents sorted by descending score (ties keep input order). */
  async rank(query: string, docs: string[], opts: { batchSize?: number; topK?: number } = {}): Promise<Array<{ index: number; doc: string; score: number }>> {
    const scores = await this.score(
      docs.map((d) => [query, d] as [string, string]),
      opts,
    );
    const ranked = docs.map((doc, index) => ({ index, doc, score: scores[index] })).sort((a, b) => b.score - a.score || a.index - b.index);
    return opts.topK ? ranked.slice(0, opts.topK) : ranked;
  }

  // --- TrainableRanker ------------------------------------------------------------------------------

  async encodeForTraining(pairs: Array<[string, string]>): Promise<LateInteractionBatch> {
    if (this.trainEncoder) return this.tokenizePairs(pairs);
    const rows = await this.featuresOf(pairs);
    const K = this.features.length;
    const flat = new Float32Array(rows.length * K);
    rows.forEach((r, i) => flat.set(r, i * K));
    return { features: tf.tensor2d(flat, [rows.length, K]) };
  }

  disposeBatch(batch: LateInteractionBatch): void {
    if (batch.features) batch.features.dispose();
    if (batch.queries) disposeTokenized(batch as Required<Omit<LateInteractionBatch, 'features'>>);
  }

  /** Scores [pairs]: features · head weights. Differentiable in the head (and the encoder when it trains). */
  forward(batch: LateInteractionBatch, training = false): tf.Tensor1D {
    return tf.tidy(() => {
      const f = batch.features ?? this.featureTensor(batch.queries!, batch.docs!, batch.queryIndex!, training);
      return tf.reshape(tf.matMul(f, tf.reshape(this.head, [-1, 1])), [-1]) as tf.Tensor1D;
    });
  }

  rngState(): number {
    return this.encoder.rngState();
  }

  setRngState(state: number): void {
    this.encoder.setRngState(state);
  }

  /** The head, and the encoder's weights when it trains. */
  trainableVariables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>([['late_interaction.weights', this.head]]);
    if (this.trainEncoder) for (const [n, v] of this.encoder.trainableVariables()) out.set(n, v);
    return out;
  }

  /** The encoder's sentence-transformers folder plus late_interaction.json (features, weights). */
  async save(dir: string): Promise<void> {
    await this.encoder.save(dir);
    const head = { features: this.featureNames, weights: this.weights, note: 'rankdistill LateInteractionRanker: score = Σ weights[k] · feature k; sentence-transformers ignores this file' };
    fs.writeFileSync(path.join(dir, LATE_INTERACTION_FILE), `${JSON.stringify(head, null, 2)}\n`);
  }

  /** Forgets cached feature rows (they depend on the encoder's weights). */
  clearCache(): void {
    this.cache.clear();
  }

  /**
   * Writes the cached feature rows to `file` (JSON lines: a header with the encoder's fingerprint and
   * the feature names, then one [query, document, values] row per pair), so that another run with
   * the same frozen encoder skips the encoding. Returns the number of rows written.
   */
  saveFeatureCache(file: string): number {
    const header = { fingerprint: this.encoder.fingerprint(), features: this.featureNames };
    const lines = [JSON.stringify(header), ...[...this.cache].map(([k, v]) => JSON.stringify([...k.split('\u0000'), Array.from(v)]))];
    const tmp = `${file}.tmp-${process.pid}`;
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(tmp, `${lines.join('\n')}\n`);
    fs.renameSync(tmp, file);
    return this.cache.size;
  }

  /**
   * Reads rows written by saveFeatureCache when they were computed by this encoder with these
   * features; returns the number of rows read (0, and nothing read, when they were not).
   */
  loadFeatureCache(file: string): number {
    if (this.trainEncoder || !fs.existsSync(file)) return 0;
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length);
    const header = JSON.parse(lines[0] ?? '{}') as { fingerprint?: string; features?: string[] };
    if (header.fingerprint !== this.encoder.fingerprint() || JSON.stringify(header.features) !== JSON.stringify(this.featureNames)) return 0;
    for (const line of lines.slice(1)) {
      const [q, d, v] = JSON.parse(line) as [string, string, number[]];
      this.cache.set(pairKey([q, d]), Float32Array.from(v));
    }
    return lines.length - 1;
  }

  dispose(): void {
    this.head.dispose();
    this.encoder.dispose();
  }
}

function parseFeature(spec: string, layers: number): Feature {
  const m = /^(cosine|maxsim)(?:@(\d+))?$/.exec(String(spec));
  if (!m) throw new InputError(`unknown feature ${JSON.stringify(spec)}: use cosine or maxsim, optionally @LAYER (0 = embeddings … ${layers} = last)`, { field: 'features' });
  const layer = m[2] === undefined ? layers : Number(m[2]);
  if (layer > layers) throw new InputError(`feature ${spec}: the encoder has hidden states 0 … ${layers}`, { field: 'features' });
  return { kind: m[1] as Feature['kind'], layer, name: layer === layers ? m[1] : `${m[1]}@${layer}` };
}

function pairKey(p: [string, string]): string {
  return `${p[0]}\u0000${p[1]}`;
}

function disposeTokenized(b: Required<Omit<LateInteractionBatch, 'features'>>): void {
  for (const s of [b.queries, b.docs]) tf.dispose([s.tensors.inputIds, s.tensors.tokenTypeIds, s.tensors.attentionMask]);
  b.queryIndex.dispose();
}

/** 1 for content tokens (not the first [CLS], not the last [SEP], not padding) [B, S]. */
function contentMask(lengths: number[], seqLen: number): tf.Tensor2D {
  const m = new Float32Array(lengths.length * seqLen);
  lengths.forEach((len, r) => {
    for (let j = 1; j < len - 1; j++) m[r * seqLen + j] = 1;
  });
  return tf.tensor2d(m, [lengths.length, seqLen]);
}

/**
 * MaxSim per pair: mean over the query's content tokens of the best cosine with a content token of
 * the document; 0 when either side has no content token. qh [P, Sq, H], dh [P, Sd, H], masks [P, S].
 */
export function maxSim(qh: tf.Tensor3D, qMask: tf.Tensor2D, dh: tf.Tensor3D, dMask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const unit = (h: tf.Tensor3D) => tf.div(h, tf.maximum(tf.norm(h, 2, 2, true), 1e-12));
    const sim = tf.matMul(unit(qh), unit(dh), false, true); // [P, Sq, Sd]
    // Cosines lie in [−1, 1]: −4 below any real value keeps masked document tokens from winning.
    const best = tf.max(tf.add(sim, tf.mul(tf.sub(tf.expandDims(dMask, 1), 1), 4)), 2); // [P, Sq]
    const hasDoc = tf.cast(tf.greater(tf.sum(dMask, 1, true), 0), 'float32'); // [P, 1]
    const qCount = tf.sum(qMask, 1);
    const sum = tf.sum(tf.mul(tf.mul(best, qMask), hasDoc), 1);
    return tf.div(sum, tf.maximum(qCount, 1)) as tf.Tensor1D;
  });
}
