// A bi-encoder student that scores a (query, document) pair with more than its pooled vectors: a
// learned weighted sum of similarity features between the two texts' token states, each encoded
// alone by the same sentence-transformers encoder (BiEncoder):
//   cosine[@l]  cosine of the pooled vectors (the checkpoint's own score) at hidden state l
//   maxsim[@l]  ColBERT's MaxSim: mean over the query's tokens of the best cosine with any document
//               token, at hidden state l ([CLS], [SEP] and padding excluded on both sides)
//   wmaxsim[@l] MaxSim with learned query-term weights: the best cosines averaged with weights
//               softmax_i(v · q̂_i) over the query's tokens (q̂_i its unit token states at l; v
//               trained, starting at 0 = plain MaxSim). At most one per model.
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
import type { TrainableRanker } from './ranker.js';
import { lateInteractionCard } from './cards.js';
import { writeModelCard, type ModelCardData } from './common/model-card.js';
import { InputError } from '../utils/errors.js';
import { BiEncoder, type BiEncoderOptions } from './bi-encoder/model.js';
import { l2Normalize, pool } from './bi-encoder/pooling.js';

export const LATE_INTERACTION_FILE = 'late_interaction.json';

export interface LateInteractionOptions {
  /** Similarity features, e.g. ['cosine', 'maxsim', 'maxsim@0'] (default ['cosine', 'maxsim']). */
  features?: string[];
  /** Initial head weights, one per feature (default: the encoder's scale on the first `cosine`, 0 elsewhere). */
  weights?: number[];
  /** wmaxsim: the initial term-weight vector v [hidden size] (default 0: uniform weights). */
  termVector?: number[];
  /**
   * Fine-tune the encoder too (default false: only the head trains, on cached features). To keep
   * parts of it fixed, give the Trainer `freeze` prefixes (e.g. `bert.embeddings.`).
   */
  trainEncoder?: boolean;
}

interface Feature {
  kind: 'cosine' | 'maxsim' | 'wmaxsim';
  /** Hidden-state index: 0 = embedding output, L = last layer. */
  layer: number;
  name: string;
}

/**
 * The term-weight vector enters as TERM_SCALE · v: one Adam step size then suits both the head
 * (weights of order 1–10) and v (a change of 0.01 per coordinate and step).
 */
const TERM_SCALE = 0.01;

/** A training batch: cached feature rows (frozen encoder) or the tokenised texts. */
export interface LateInteractionBatch {
  features?: tf.Tensor2D;
  /** wmaxsim from the cache: per-token best cosines [P, L], content mask [P, L], unit query token states [P, L, H]. */
  terms?: { best: tf.Tensor2D; mask: tf.Tensor2D; states: tf.Tensor3D };
  queries?: { tensors: ReturnType<typeof batchToTensors>; lengths: number[] };
  docs?: { tensors: ReturnType<typeof batchToTensors>; lengths: number[] };
  queryIndex?: tf.Tensor1D;
}

export class LateInteractionRanker implements TrainableRanker<LateInteractionBatch> {
  /** What the model card says beyond the model itself (training data, results); see models/common/model-card.ts. */
  modelCard: ModelCardData = {};
  readonly encoder: BiEncoder;
  readonly features: readonly Feature[];
  readonly head: tf.Variable;
  readonly trainEncoder: boolean;
  /** wmaxsim's term-weight vector [H] (null without a wmaxsim feature). */
  readonly termVector: tf.Variable | null;
  /** Feature rows of (query, document) pairs under the frozen encoder (wmaxsim: then the per-token best cosines). */
  private readonly cache = new Map<string, Float32Array>();
  /** wmaxsim under the frozen encoder: unit token states of each query's content tokens [L × H]. */
  private readonly queryStates = new Map<string, Float32Array>();

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
    if (this.features.filter((f) => f.kind === 'wmaxsim').length > 1) throw new InputError('at most one wmaxsim feature', { field: 'features' });
    const H = encoder.config.hidden_size;
    const tv = opts.termVector ?? (this.features.some((f) => f.kind === 'wmaxsim') ? new Array<number>(H).fill(0) : null);
    if (tv && (tv.length !== H || tv.some((x) => !Number.isFinite(x)))) throw new InputError(`expected ${H} finite numbers (the hidden size)`, { field: 'termVector' });
    this.head = tf.variable(tf.tensor1d(w), true);
    this.termVector = tv ? tf.variable(tf.tensor1d(tv), true) : null;
    this.trainEncoder = opts.trainEncoder ?? false;
  }

  /** Index of the wmaxsim feature, or -1. */
  private get wIndex(): number {
    return this.features.findIndex((f) => f.kind === 'wmaxsim');
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
      if (raw.termVector !== undefined && !(Array.isArray(raw.termVector) && raw.termVector.every((x) => typeof x === 'number'))) throw new InputError('expected an array of numbers', { file, field: 'termVector' });
      saved = { features: raw.features as string[], weights: raw.weights as number[], termVector: raw.termVector as number[] | undefined };
    }
    const encoder = await BiEncoder.fromPretrained(dir, opts);
    try {
      const features = opts.features ?? saved.features;
      const keep = !opts.features;
      return new LateInteractionRanker(encoder, { ...opts, features, weights: opts.weights ?? (keep ? saved.weights : undefined), termVector: opts.termVector ?? (keep ? saved.termVector : undefined) });
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
   * Differentiable in the encoder (and the head's term vector); dropout when `training`.
   */
  featureTensor(q: Side, d: Side, queryIndex: tf.Tensor1D, training: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const r = this.rawTensors(q, d, queryIndex, training);
      return r.terms ? this.withTerms(r.features, r.terms) : r.features;
    });
  }

  /** Features with the wmaxsim column left 0, and wmaxsim's per-token inputs (query rows gathered per pair). */
  private rawTensors(q: Side, d: Side, queryIndex: tf.Tensor1D, training: boolean): { features: tf.Tensor2D; terms?: { best: tf.Tensor2D; mask: tf.Tensor2D; states: tf.Tensor3D } } {
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
    let terms: { best: tf.Tensor2D; mask: tf.Tensor2D; states: tf.Tensor3D } | undefined;
    const cols = this.features.map((f) => {
      const qh = tf.gather(qs[f.layer] as tf.Tensor3D, queryIndex) as tf.Tensor3D;
      const dh = ds[f.layer] as tf.Tensor3D;
      if (f.kind === 'cosine') {
        const a = l2Normalize(pool(qh, qMask, this.encoder.pooling));
        const b = l2Normalize(pool(dh, d.tensors.attentionMask, this.encoder.pooling));
        return tf.sum(tf.mul(a, b), 1);
      }
      if (f.kind === 'maxsim') return maxSim(qh, qTok, dh, dTok);
      terms = { best: bestCosines(qh, dh, dTok), mask: qTok, states: unitRows(qh) };
      return tf.zeros([qh.shape[0]]);
    });
    return { features: tf.stack(cols, 1) as tf.Tensor2D, terms };
  }

  /** Puts Σ_i softmax_i(v · q̂_i) · best_i into the wmaxsim column. */
  private withTerms(features: tf.Tensor2D, t: { best: tf.Tensor2D; mask: tf.Tensor2D; states: tf.Tensor3D }): tf.Tensor2D {
    return tf.tidy(() => {
      const [P, L, H] = t.states.shape;
      const logits = tf.reshape(tf.matMul(tf.reshape(t.states, [P * L, H]), tf.reshape(tf.mul(this.termVector!, TERM_SCALE), [H, 1])), [P, L]);
      // Masked softmax over the query's content tokens (none: weight 0 everywhere, wmaxsim 0).
      const e = tf.mul(tf.exp(tf.sub(logits, tf.max(tf.add(logits, tf.mul(tf.sub(t.mask, 1), 1e4)), 1, true))), t.mask);
      const a = tf.div(e, tf.maximum(tf.sum(e, 1, true), 1e-30));
      const wm = tf.sum(tf.mul(a, tf.mul(t.best, t.mask)), 1);
      const col = tf.oneHot(tf.fill([P], this.wIndex, 'int32'), this.features.length);
      return tf.add(features, tf.mul(col, tf.expandDims(wm, 1))) as tf.Tensor2D;
    });
  }

  private async tokenizeSide(texts: string[]): Promise<Side> {
    const enc: EncodedBatch = await this.encoder.tokenize(texts);
    return { tensors: batchToTensors(enc), lengths: enc.lengths };
  }

  private async tokenizePairs(pairs: Array<[string, string]>): Promise<Required<Omit<LateInteractionBatch, 'features' | 'terms'>>> {
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
    if (this.trainEncoder) {
      const out = new Array<Float32Array>(pairs.length);
      await this.compute(pairs, opts, (i, row) => (out[i] = row), true);
      return out;
    }
    await this.fillCache(pairs, opts);
    const v = this.termVector ? (this.termVector.dataSync() as Float32Array) : null;
    return pairs.map((p) => this.rowFromCache(p, v));
  }

  /** Computes missing cache entries (frozen encoder). */
  private async fillCache(pairs: Array<[string, string]>, opts: { batchSize?: number; onBatch?: (done: number) => void } = {}): Promise<void> {
    const seen = new Set<string>();
    const todo = pairs.filter((p) => {
      const k = pairKey(p);
      if (this.cache.has(k) || seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    await this.compute(todo, opts, (i, row) => this.cache.set(pairKey(todo[i]), row), false);
  }

  /** Runs the encoder over pairs in length-sorted batches; `put(i, row)` gets each pair's row (final features, or the cache's raw row). */
  private async compute(pairs: Array<[string, string]>, opts: { batchSize?: number; onBatch?: (done: number) => void }, put: (i: number, row: Float32Array) => void, final: boolean): Promise<void> {
    const bs = opts.batchSize ?? 32;
    const K = this.features.length;
    const order = pairs.map((_, i) => i).sort((a, b) => pairs[a][1].length - pairs[b][1].length || a - b);
    for (let s = 0; s < order.length; s += bs) {
      const idx = order.slice(s, s + bs);
      const b = await this.tokenizePairs(idx.map((i) => pairs[i]));
      if (final) {
        const f = tf.tidy(() => this.featureTensor(b.queries, b.docs, b.queryIndex, false));
        const v = (await f.data()) as Float32Array;
        f.dispose();
        idx.forEach((i, j) => put(i, v.slice(j * K, (j + 1) * K)));
      } else {
        const r = tf.tidy(() => {
          const raw = this.rawTensors(b.queries, b.docs, b.queryIndex, false);
          return raw.terms ? [raw.features, raw.terms.best, raw.terms.states] : [raw.features];
        });
        const [fv, best, states] = (await Promise.all(r.map((t) => t.data()))) as Float32Array[];
        tf.dispose(r);
        const L = r[1]?.shape[1] ?? 0;
        const H = this.encoder.config.hidden_size;
        const qRow = b.queryIndex.dataSync() as Int32Array;
        idx.forEach((i, j) => {
          const [query] = pairs[i];
          // Content tokens of a query sit at positions 1 … len − 2.
          const n = best ? Math.max(0, b.queries.lengths[qRow[j]] - 2) : 0;
          const row = new Float32Array(K + n);
          row.set(fv.subarray(j * K, (j + 1) * K));
          if (best) {
            row.set(best.subarray(j * L + 1, j * L + 1 + n), K);
            if (!this.queryStates.has(query)) this.queryStates.set(query, states.slice((j * L + 1) * H, (j * L + 1 + n) * H));
          }
          put(i, row);
        });
      }
      disposeTokenized(b);
      opts.onBatch?.(Math.min(s + bs, order.length));
    }
  }

  /** A pair's feature row from the cache, wmaxsim weighted with v. */
  private rowFromCache(p: [string, string], v: Float32Array | null): Float32Array {
    const raw = this.cache.get(pairKey(p))!;
    const K = this.features.length;
    if (!v) return raw.length === K ? raw : raw.slice(0, K);
    const row = raw.slice(0, K);
    const st = this.queryStates.get(p[0])!;
    const H = v.length;
    const n = raw.length - K;
    const logits = Array.from({ length: n }, (_, i) => {
      let z = 0;
      for (let k = 0; k < H; k++) z += st[i * H + k] * v[k];
      return z * TERM_SCALE;
    });
    const mx = Math.max(...logits);
    const e = logits.map((z) => Math.exp(z - mx));
    const Z = e.reduce((a, b) => a + b, 0);
    row[this.wIndex] = n ? e.reduce((acc, x, i) => acc + (x / Z) * raw[K + i], 0) : 0;
    return row;
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
    await this.fillCache(pairs);
    const K = this.features.length;
    const raws = pairs.map((p) => this.cache.get(pairKey(p))!);
    const flat = new Float32Array(raws.length * K);
    raws.forEach((r, i) => flat.set(r.subarray(0, K), i * K));
    const batch: LateInteractionBatch = { features: tf.tensor2d(flat, [raws.length, K]) };
    if (this.termVector) {
      // wmaxsim stays differentiable in v: per-token best cosines and the query token states, padded.
      const H = this.encoder.config.hidden_size;
      const L = Math.max(1, ...raws.map((r) => r.length - K));
      const best = new Float32Array(raws.length * L);
      const mask = new Float32Array(raws.length * L);
      const states = new Float32Array(raws.length * L * H);
      raws.forEach((r, i) => {
        const n = r.length - K;
        best.set(r.subarray(K), i * L);
        mask.fill(1, i * L, i * L + n);
        states.set(this.queryStates.get(pairs[i][0])!.subarray(0, n * H), i * L * H);
      });
      batch.terms = { best: tf.tensor2d(best, [raws.length, L]), mask: tf.tensor2d(mask, [raws.length, L]), states: tf.tensor3d(states, [raws.length, L, H]) };
    }
    return batch;
  }

  disposeBatch(batch: LateInteractionBatch): void {
    if (batch.features) batch.features.dispose();
    if (batch.terms) tf.dispose([batch.terms.best, batch.terms.mask, batch.terms.states]);
    if (batch.queries) disposeTokenized(batch as Required<Omit<LateInteractionBatch, 'features' | 'terms'>>);
  }

  /** Scores [pairs]: features · head weights. Differentiable in the head (and the encoder when it trains). */
  forward(batch: LateInteractionBatch, training = false): tf.Tensor1D {
    return tf.tidy(() => {
      let f = batch.features ?? this.featureTensor(batch.queries!, batch.docs!, batch.queryIndex!, training);
      if (batch.features && batch.terms) f = this.withTerms(f, batch.terms);
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
    if (this.termVector) out.set('late_interaction.term_vector', this.termVector);
    if (this.trainEncoder) for (const [n, v] of this.encoder.trainableVariables()) out.set(n, v);
    return out;
  }

  /** The encoder's sentence-transformers folder plus late_interaction.json (features, weights). */
  async save(dir: string): Promise<void> {
    await this.encoder.save(dir);
    const head = {
      features: this.featureNames,
      weights: this.weights,
      ...(this.termVector ? { termVector: Array.from(this.termVector.dataSync()) } : {}),
      note: 'rankdistill LateInteractionRanker: score = Σ weights[k] · feature k; sentence-transformers ignores this file',
    };
    fs.writeFileSync(path.join(dir, LATE_INTERACTION_FILE), `${JSON.stringify(head, null, 2)}\n`);
    this.saveModelCard(dir);
  }

  /** Writes (or rewrites, e.g. after a test evaluation) the README.md model card in `dir`. */
  saveModelCard(dir: string): string {
    return writeModelCard(dir, lateInteractionCard(this), this.modelCard);
  }

  /** Forgets cached feature rows (they depend on the encoder's weights). */
  clearCache(): void {
    this.cache.clear();
    this.queryStates.clear();
  }

  /**
   * Writes the cached feature rows to `file` (JSON lines: a header with the encoder's fingerprint and
   * the feature names, then one [query, document, values] row per pair), so that another run with
   * the same frozen encoder skips the encoding. Returns the number of rows written.
   */
  saveFeatureCache(file: string): number {
    const header = { fingerprint: this.encoder.fingerprint(), features: this.featureNames };
    const lines = [
      JSON.stringify(header),
      ...[...this.queryStates].map(([q, v]) => JSON.stringify([q, null, Array.from(v)])),
      ...[...this.cache].map(([k, v]) => JSON.stringify([...k.split('\u0000'), Array.from(v)])),
    ];
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
    let n = 0;
    for (const line of lines.slice(1)) {
      const [q, d, v] = JSON.parse(line) as [string, string | null, number[]];
      if (d === null) this.queryStates.set(q, Float32Array.from(v));
      else {
        this.cache.set(pairKey([q, d]), Float32Array.from(v));
        n++;
      }
    }
    return n;
  }

  dispose(): void {
    this.head.dispose();
    this.termVector?.dispose();
    this.encoder.dispose();
  }
}

function parseFeature(spec: string, layers: number): Feature {
  const m = /^(cosine|maxsim|wmaxsim)(?:@(\d+))?$/.exec(String(spec));
  if (!m) throw new InputError(`unknown feature ${JSON.stringify(spec)}: use cosine, maxsim or wmaxsim, optionally @LAYER (0 = embeddings … ${layers} = last)`, { field: 'features' });
  const layer = m[2] === undefined ? layers : Number(m[2]);
  if (layer > layers) throw new InputError(`feature ${spec}: the encoder has hidden states 0 … ${layers}`, { field: 'features' });
  return { kind: m[1] as Feature['kind'], layer, name: layer === layers ? m[1] : `${m[1]}@${layer}` };
}

function pairKey(p: [string, string]): string {
  return `${p[0]}\u0000${p[1]}`;
}

function disposeTokenized(b: Required<Omit<LateInteractionBatch, 'features' | 'terms'>>): void {
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

interface Side {
  tensors: ReturnType<typeof batchToTensors>;
  lengths: number[];
}

/** Rows of [B, S, H] scaled to unit length. */
function unitRows(h: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => tf.div(h, tf.maximum(tf.norm(h, 2, 2, true), 1e-12)) as tf.Tensor3D);
}

/**
 * Per query token, the best cosine with a content token of the document [P, Sq] (0 when the
 * document has none). qh [P, Sq, H], dh [P, Sd, H], dMask [P, Sd].
 */
export function bestCosines(qh: tf.Tensor3D, dh: tf.Tensor3D, dMask: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const sim = tf.matMul(unitRows(qh), unitRows(dh), false, true); // [P, Sq, Sd]
    // Cosines lie in [−1, 1]: −4 below any real value keeps masked document tokens from winning.
    const best = tf.max(tf.add(sim, tf.mul(tf.sub(tf.expandDims(dMask, 1), 1), 4)), 2);
    const hasDoc = tf.cast(tf.greater(tf.sum(dMask, 1, true), 0), 'float32');
    return tf.mul(best, hasDoc) as tf.Tensor2D;
  });
}

/**
 * MaxSim per pair: mean over the query's content tokens of the best cosine with a content token of
 * the document; 0 when either side has no content token. qh [P, Sq, H], dh [P, Sd, H], masks [P, S].
 */
export function maxSim(qh: tf.Tensor3D, qMask: tf.Tensor2D, dh: tf.Tensor3D, dMask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const best = bestCosines(qh, dh, dMask);
    return tf.div(tf.sum(tf.mul(best, qMask), 1), tf.maximum(tf.sum(qMask, 1), 1)) as tf.Tensor1D;
  });
}
