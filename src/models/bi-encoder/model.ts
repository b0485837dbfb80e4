// A sentence-transformers bi-encoder: text → BERT → pooling → (L2 normalisation) → one vector, and the
// relevance of a (query, document) pair is the similarity of their vectors (cosine or dot, times a
// scale). Loads and saves the sentence-transformers folder layout (./folder.ts), and is a
// TrainableRanker, so list-wise distillation can fine-tune it as a student.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../backend/index.js';
import { checkpointFiles, hasTokenizer } from '../../io/checkpoint.js';
import { configJsonText, readJsonObject } from '../../io/json.js';
import { readSafetensors, writeSafetensors } from '../../io/safetensors.js';
import { batchToTensors, TextTokenizer, type EncodedBatch } from '../../tokenization/tokenizer.js';
import type { TrainableRanker } from '../../training/types.js';
import { InputError } from '../../utils/errors.js';
import { BERT_FLOAT_KEYS, bertConfig, bertConfigJson, readBertConfig, type BertConfig } from '../bert/config.js';
import { BertModel, renameBertCheckpointKey, type BertInputs } from '../bert/model.js';
import { modulesJson, readSentenceTransformerLayout, type Similarity } from './folder.js';
import { checkPoolingModes, l2Normalize, pool, poolingConfigJson, type PoolingMode } from './pooling.js';

export interface BiEncoderOptions {
  /** Tokenizer instance, or a file/directory to load one from (tokenizer.json or vocab.txt). */
  tokenizer?: TextTokenizer | string;
  /** Tokens per text, special tokens included (default: the folder's max_seq_length, else min(512, max_position_embeddings)). */
  maxSeqLength?: number;
  /** Pooling mode(s) (default: the folder's, else 'mean'). Several modes concatenate in the order given. */
  pooling?: PoolingMode | PoolingMode[];
  /** L2-normalise the pooled vector (default: whether the folder has a Normalize module; true for a new model). */
  normalize?: boolean;
  /** Lower-case texts before tokenising (sentence_bert_config.json do_lower_case). */
  doLowerCase?: boolean;
  /** Pair score: 'cosine' (default, or the folder's similarity_fn_name) or 'dot' product of the vectors. */
  similarity?: Similarity;
  /**
   * Multiplies the similarity in `forward` and `score` (default 20, i.e. temperature 0.05 as in
   * sentence-transformers' MultipleNegativesRankingLoss): cosines lie in [−1, 1], too flat for
   * softmax-type ranking losses. Rankings do not depend on it.
   */
  scale?: number;
  /** Seed for initialisation and dropout. */
  seed?: number;
}

export interface EmbedOptions {
  /** Texts per forward pass (default 32). */
  batchSize?: number;
  /** Called after each batch with the number of texts embedded so far. */
  onBatch?: (done: number) => void;
}

/** A training batch: unique queries and the documents, tokenised separately, and each pair's query row. */
export interface BiEncoderBatch {
  queries: Required<BertInputs>;
  docs: Required<BertInputs>;
  /** Row in `queries` of each pair's query [pairs]. */
  queryIndex: tf.Tensor1D;
}

/** Parameters a bi-encoder does not use: BertModel's pooler (kept for saving) and classifier. */
const unusedByBiEncoder = (name: string) => name.startsWith('classifier.') || name.startsWith('bert.pooler.');

export class BiEncoder implements TrainableRanker<BiEncoderBatch> {
  readonly config: BertConfig;
  readonly bert: BertModel;
  readonly maxSeqLength: number;
  readonly pooling: readonly PoolingMode[];
  readonly normalize: boolean;
  readonly doLowerCase: boolean;
  readonly similarity: Similarity;
  readonly scale: number;
  private tok: TextTokenizer | null;
  /** tokenizer_config.json of the loaded folder, rewritten on save with our max length. */
  private tokenizerConfig: Record<string, unknown> | null = null;

  /** A new model with freshly initialised weights; `config` keys left out take HF's BERT defaults. */
  constructor(config: Partial<BertConfig> | BertConfig, opts: BiEncoderOptions = {}) {
    ensureBackend();
    this.config = bertConfig(config);
    this.maxSeqLength = Math.min(opts.maxSeqLength ?? 512, this.config.max_position_embeddings);
    if (!(Number.isInteger(this.maxSeqLength) && this.maxSeqLength >= 2)) throw new InputError(`maxSeqLength must be an integer >= 2, got ${opts.maxSeqLength}`, { field: 'maxSeqLength' });
    const modes = opts.pooling === undefined ? ['mean'] : typeof opts.pooling === 'string' ? [opts.pooling] : opts.pooling;
    this.pooling = checkPoolingModes(modes, undefined, 'pooling');
    this.normalize = opts.normalize ?? true;
    this.doLowerCase = opts.doLowerCase ?? false;
    this.similarity = opts.similarity ?? 'cosine';
    if (this.similarity !== 'cosine' && this.similarity !== 'dot') throw new InputError(`similarity must be 'cosine' or 'dot', got ${JSON.stringify(this.similarity)}`, { field: 'similarity' });
    this.scale = opts.scale ?? 20;
    if (!(Number.isFinite(this.scale) && this.scale > 0)) throw new InputError(`scale must be a positive number, got ${opts.scale}`, { field: 'scale' });
    this.tok = typeof opts.tokenizer === 'string' ? TextTokenizer.fromDir(opts.tokenizer, { maxLength: this.maxSeqLength }) : (opts.tokenizer ?? null);
    this.bert = new BertModel(this.config, opts.seed ?? 42);
  }

  /**
   * Loads a sentence-transformers folder (modules.json: Transformer → Pooling → Normalize) or a bare
   * HF BERT folder (then mean pooling, no normalisation, as sentence-transformers does). Options
   * override what the folder says.
   */
  static async fromPretrained(dir: string, opts: BiEncoderOptions = {}): Promise<BiEncoder> {
    const layout = readSentenceTransformerLayout(dir);
    const { configFile, weightsFile } = checkpointFiles(layout.transformerDir);
    const config = readBertConfig(configFile);
    if (layout.poolingDimension !== undefined && layout.poolingDimension !== config.hidden_size) {
      throw new InputError(`pooling dimension ${layout.poolingDimension} differs from the transformer's hidden_size ${config.hidden_size} (${configFile})`, {
        file: layout.poolingFile,
        field: 'word_embedding_dimension',
      });
    }
    let tokenizer = opts.tokenizer;
    if (tokenizer === undefined && hasTokenizer(layout.transformerDir)) tokenizer = layout.transformerDir;
    if (tokenizer === undefined && hasTokenizer(dir)) tokenizer = dir;
    const model = new BiEncoder(config, {
      ...opts,
      tokenizer,
      maxSeqLength: opts.maxSeqLength ?? layout.maxSeqLength,
      pooling: opts.pooling ?? layout.pooling,
      normalize: opts.normalize ?? layout.normalize,
      doLowerCase: opts.doLowerCase ?? layout.doLowerCase,
      similarity: opts.similarity ?? layout.similarity,
    });
    try {
      model.bert.params.load(readSafetensors(weightsFile), { source: weightsFile, rename: renameBertCheckpointKey, optional: unusedByBiEncoder });
      const tc = path.join(layout.transformerDir, 'tokenizer_config.json');
      if (fs.existsSync(tc)) model.tokenizerConfig = readJsonObject(tc);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  get tokenizer(): TextTokenizer {
    if (!this.tok) throw new Error('this BiEncoder has no tokenizer: pass { tokenizer: DIR_OR_FILE } or set model.tokenizer');
    return this.tok;
  }

  set tokenizer(t: TextTokenizer) {
    this.tok = t;
  }

  /** Width of the output vectors (hidden size × pooling modes). */
  get dimension(): number {
    return this.config.hidden_size * this.pooling.length;
  }

  /** Tokenises texts into one padded batch ([CLS] text [SEP], cut to maxSeqLength). */
  tokenize(texts: readonly string[]): Promise<EncodedBatch> {
    return this.tokenizer.encodeBatch(
      texts.map((t) => (this.doLowerCase ? t.toLowerCase() : t)),
      undefined,
      { maxLength: this.maxSeqLength },
    );
  }

  /** Text vectors [batch, dimension] from a tokenised batch: BERT → pooling → normalisation. Differentiable. */
  embedTensors(batch: BertInputs & { attentionMask: tf.Tensor2D }, training = false): tf.Tensor2D {
    return tf.tidy(() => {
      const { lastHiddenState } = this.bert.forward(batch, { training });
      const pooled = pool(lastHiddenState, batch.attentionMask, this.pooling);
      return this.normalize ? l2Normalize(pooled) : pooled;
    });
  }

  /**
   * Vectors of `texts`, row-major in one Float32Array [texts.length × dimension]. Texts are batched
   * longest first (as sentence-transformers does: less padding); rows come back in input order.
   */
  async embed(texts: readonly string[], opts: EmbedOptions = {}): Promise<Float32Array> {
    const batchSize = opts.batchSize ?? 32;
    if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new InputError(`batchSize must be a positive integer, got ${batchSize}`, { field: 'batchSize' });
    const dim = this.dimension;
    const out = new Float32Array(texts.length * dim);
    const order = texts.map((t, i) => ({ i, len: t.length })).sort((a, b) => b.len - a.len || a.i - b.i);
    for (let s = 0; s < order.length; s += batchSize) {
      const idx = order.slice(s, s + batchSize).map((o) => o.i);
      const enc = await this.tokenize(idx.map((i) => texts[i]));
      const vecs = tf.tidy(() => this.embedTensors(batchToTensors(enc), false));
      const data = (await vecs.data()) as Float32Array;
      vecs.dispose();
      idx.forEach((i, j) => out.set(data.subarray(j * dim, (j + 1) * dim), i * dim));
      opts.onBatch?.(Math.min(s + batchSize, order.length));
    }
    return out;
  }

  /** Vectors of `texts`, one Float32Array per text (SentenceTransformer.encode). */
  async encode(texts: readonly string[], opts: EmbedOptions = {}): Promise<Float32Array[]> {
    const flat = await this.embed(texts, opts);
    const d = this.dimension;
    return texts.map((_, i) => flat.subarray(i * d, (i + 1) * d));
  }

  /**
   * sha256 of everything the vectors depend on: config, pooling, normalisation, max length, lower-casing,
   * vocabulary size and every weight. A dense index is resumed or searched only by the model that built it.
   */
  fingerprint(): string {
    const h = crypto.createHash('sha256');
    h.update(JSON.stringify({ config: this.config, pooling: this.pooling, normalize: this.normalize, maxSeqLength: this.maxSeqLength, doLowerCase: this.doLowerCase, vocab: this.tok?.vocabSize ?? null }));
    for (const name of this.bert.params.names().filter((n) => !unusedByBiEncoder(n)).sort()) {
      const v = this.bert.params.get(name).dataSync() as Float32Array;
      h.update(name).update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    }
    return h.digest('hex');
  }

  /** scale · similarity of two vectors, as `forward` computes it. */
  private pairScore(q: Float32Array, d: Float32Array): number {
    let dot = 0;
    let qq = 0;
    let dd = 0;
    for (let k = 0; k < q.length; k++) {
      dot += q[k] * d[k];
      qq += q[k] * q[k];
      dd += d[k] * d[k];
    }
    if (this.similarity === 'cosine') dot /= Math.max(Math.sqrt(qq), 1e-12) * Math.max(Math.sqrt(dd), 1e-12);
    return this.scale * dot;
  }

  /** Relevance scores of (query, document) pairs, in input order (each distinct text embedded once). */
  async score(pairs: Array<[string, string]>, opts: { batchSize?: number } = {}): Promise<number[]> {
    const qIds = new Map<string, number>();
    const dIds = new Map<string, number>();
    for (const [q, d] of pairs) {
      if (!qIds.has(q)) qIds.set(q, qIds.size);
      if (!dIds.has(d)) dIds.set(d, dIds.size);
    }
    const qv = await this.encode([...qIds.keys()], opts);
    const dv = await this.encode([...dIds.keys()], opts);
    return pairs.map(([q, d]) => this.pairScore(qv[qIds.get(q)!], dv[dIds.get(d)!]));
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

  /** Tokenises the pairs' distinct queries and their documents separately (TrainableRanker). */
  async encodeForTraining(pairs: Array<[string, string]>): Promise<BiEncoderBatch> {
    const qIds = new Map<string, number>();
    for (const [q] of pairs) if (!qIds.has(q)) qIds.set(q, qIds.size);
    const qEnc = await this.tokenize([...qIds.keys()]);
    const dEnc = await this.tokenize(pairs.map((p) => p[1]));
    return {
      queries: batchToTensors(qEnc),
      docs: batchToTensors(dEnc),
      queryIndex: tf.tensor1d(
        pairs.map(([q]) => qIds.get(q)!),
        'int32',
      ),
    };
  }

  disposeBatch(batch: BiEncoderBatch): void {
    tf.dispose([batch.queries.inputIds, batch.queries.tokenTypeIds, batch.queries.attentionMask, batch.docs.inputIds, batch.docs.tokenTypeIds, batch.docs.attentionMask, batch.queryIndex]);
  }

  /** scale · similarity(query vector, document vector) per pair [pairs]. Differentiable; dropout when `training`. */
  forward(batch: BiEncoderBatch, training = false): tf.Tensor1D {
    return tf.tidy(() => {
      let q = tf.gather(this.embedTensors(batch.queries, training), batch.queryIndex) as tf.Tensor2D;
      let d = this.embedTensors(batch.docs, training);
      if (this.similarity === 'cosine') {
        q = l2Normalize(q);
        d = l2Normalize(d);
      }
      return tf.mul(tf.sum(tf.mul(q, d), 1), this.scale) as tf.Tensor1D;
    });
  }

  rngState(): number {
    return this.bert.seeds.getState();
  }

  setRngState(state: number): void {
    this.bert.seeds.setState(state);
  }

  /** The encoder's variables by HF name (the pooler and classifier, which a bi-encoder never uses, excluded). */
  trainableVariables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [n, v] of this.bert.params.trainable()) if (!unusedByBiEncoder(n)) out.set(n, v);
    return out;
  }

  /**
   * Writes a sentence-transformers folder: the BERT (`BertModel` names, as transformers saves it),
   * tokenizer, modules.json, sentence_bert_config.json, 1_Pooling/config.json, 2_Normalize/ and
   * config_sentence_transformers.json. `SentenceTransformer(dir)` and `BiEncoder.fromPretrained(dir)` load it.
   */
  async save(dir: string): Promise<void> {
    fs.mkdirSync(path.join(dir, '1_Pooling'), { recursive: true });
    const weights = this.bert.params.toTensors((n) => (n.startsWith('classifier.') ? null : n.replace(/^bert\./, '')));
    writeSafetensors(path.join(dir, 'model.safetensors'), weights, { format: 'pt' });
    const { id2label: _i, label2id: _l, ...cfg } = bertConfigJson(this.config);
    fs.writeFileSync(path.join(dir, 'config.json'), configJsonText({ ...cfg, architectures: ['BertModel'] }, BERT_FLOAT_KEYS));
    const json = (file: string, v: unknown) => fs.writeFileSync(path.join(dir, file), `${JSON.stringify(v, null, 2)}\n`);
    if (this.tok) {
      this.tok.inner.save(path.join(dir, 'tokenizer.json'));
      const base = this.tokenizerConfig ?? {
        tokenizer_class: 'BertTokenizer',
        do_lower_case: true,
        cls_token: '[CLS]',
        sep_token: '[SEP]',
        pad_token: '[PAD]',
        unk_token: '[UNK]',
        mask_token: '[MASK]',
      };
      json('tokenizer_config.json', { ...base, model_max_length: this.maxSeqLength });
    }
    json('modules.json', modulesJson(this.normalize));
    json('sentence_bert_config.json', { max_seq_length: this.maxSeqLength, do_lower_case: this.doLowerCase });
    json('1_Pooling/config.json', poolingConfigJson(this.pooling, this.config.hidden_size));
    if (this.normalize) fs.mkdirSync(path.join(dir, '2_Normalize'), { recursive: true });
    json('config_sentence_transformers.json', { __version__: { rankdistill: '0.1.0' }, prompts: {}, default_prompt_name: null, similarity_fn_name: this.similarity });
  }

  dispose(): void {
    this.bert.dispose();
  }
}
