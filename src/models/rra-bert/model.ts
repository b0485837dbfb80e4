// RRA-BERT (RRADistill, system.md §3.3): a monoBERT cross-encoder trained with Token Selection and
// the Term Control Layer. Training: s from the [CLS] head, t from the TCL over the selected tokens,
// loss = L_rank(s) + λ·L_rank(t) (+ μ·L_rank(s + t)). Inference: the [CLS] head alone — the model
// *is* a CrossEncoder (`encoder`), saved as a plain HF BertForSequenceClassification checkpoint; the
// TCL weights go to a side file that HF never reads.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, writeSafetensors } from '../../io/safetensors.js';
import type { LossResult, RankingLoss } from '../../losses/types.js';
import { batchToTensors, type EncodedBatch } from '../../tokenization/tokenizer.js';
import type { TrainableRanker } from '../../training/types.js';
import { InputError } from '../../utils/errors.js';
import type { BertConfig } from '../bert/config.js';
import type { BertOutputs } from '../bert/model.js';
import { CrossEncoder, type CrossEncoderOptions, type PairBatch, type ScoreOptions } from '../cross-encoder.js';
import { DEFAULT_SELECTION, SELECT_REASON_NAMES, selectTokensFromTensor, specialTokenIds, type TokenSelection, type TokenSelectionConfig } from './selection.js';
import { TermControlLayer, type TclPooling } from './tcl.js';
import { toListGrid } from '../../training/lists.js';
import { readJsonObject } from '../../io/json.js';
import { resolvePretrained, TOKENIZER_FILES, type HubOptions } from '../../hub/index.js';

export interface RraBertConfig {
  selection?: TokenSelectionConfig;
  /** TCL pooling (default 'mean'). */
  pooling?: TclPooling;
  /** λ, the weight of L_rank(t) (default 1). */
  lambda?: number;
  /** μ, the weight of the optional L_rank(s + t) (default 0 = off). */
  combinedWeight?: number;
  /** Dropout inside the TCL when training (default 0.1). */
  tclDropout?: number;
  /** Token ids never selected (default: the tokenizer's [CLS] [SEP] [PAD] [MASK] [UNK]). */
  specialIds?: number[];
}

export interface RraBertOptions extends CrossEncoderOptions {
  rra?: RraBertConfig;
}

/** A training batch: the tensors plus the token ids as numbers (Token Selection reads them). */
export type RraBatch = PairBatch & { tokens: EncodedBatch };

/** One token of an inspected (query, document) pair. */
export interface InspectedToken {
  position: number;
  token: string;
  segment: 'query' | 'document' | 'special';
  selected: boolean;
  /** Why it was selected: exact | threshold | top-k | '-'. */
  reason: string;
  /** Query token it matched (selected), or its most similar query token (not selected). */
  queryToken: string | null;
  similarity: number | null;
}

/** The files a saved RRA-BERT adds next to the plain cross-encoder checkpoint. */
export const TCL_WEIGHTS_FILE = 'rra_tcl.safetensors';
export const RRA_CONFIG_FILE = 'rra_config.json';

type ResolvedConfig = Required<Omit<RraBertConfig, 'specialIds' | 'selection'>> & { selection: Required<TokenSelectionConfig>; specialIds?: number[] };

function resolve(c: RraBertConfig = {}): ResolvedConfig {
  const r = {
    selection: { ...DEFAULT_SELECTION, ...c.selection },
    pooling: c.pooling ?? 'mean',
    lambda: c.lambda ?? 1,
    combinedWeight: c.combinedWeight ?? 0,
    tclDropout: c.tclDropout ?? 0.1,
    specialIds: c.specialIds,
  };
  if (!(r.lambda >= 0) || !(r.combinedWeight >= 0)) throw new InputError('lambda and combinedWeight must be ≥ 0', { field: 'rra.lambda' });
  return r;
}

export class RraBert implements TrainableRanker<RraBatch> {
  readonly encoder: CrossEncoder;
  readonly tcl: TermControlLayer;
  readonly rra: ResolvedConfig;

  /** A fresh model (random weights), or wraps an existing cross-encoder (it is then owned by this model). */
  constructor(config: Partial<BertConfig> | CrossEncoder, opts: RraBertOptions = {}) {
    this.encoder = config instanceof CrossEncoder ? config : new CrossEncoder(config, opts);
    // The encoder is this model's: a bad setting must not leave its weights allocated.
    try {
      this.rra = resolve(opts.rra);
      const src = this.rra.selection.source;
      const L = this.encoder.config.num_hidden_layers;
      if (src !== 'embeddings' && !(Number.isInteger(src) && src >= 0 && src <= L)) {
        throw new InputError(`selection source must be 'embeddings' or a layer 0…${L}, got ${String(src)}`, { field: 'selection.source' });
      }
    } catch (e) {
      this.encoder.dispose();
      throw e;
    }
    this.tcl = new TermControlLayer(
      { hiddenSize: this.encoder.config.hidden_size, pooling: this.rra.pooling, initializerRange: this.encoder.config.initializer_range, dropout: this.rra.tclDropout },
      opts.seed ?? 42,
    );
  }

  /**
   * Loads a cross-encoder checkpoint (HF format); the TCL weights and RRA config too when the
   * directory was written by RraBert.save, else the TCL starts fresh. `opts.rra` overrides the saved config.
   */
  static async fromPretrained(idOrPath: string, opts: RraBertOptions & HubOptions = {}): Promise<RraBert> {
    const dir = await resolvePretrained(idOrPath, { ...opts, files: ['config.json', 'model.safetensors'], optionalFiles: [RRA_CONFIG_FILE, TCL_WEIGHTS_FILE, ...TOKENIZER_FILES] });
    const cfgFile = path.join(dir, RRA_CONFIG_FILE);
    const saved = (fs.existsSync(cfgFile) ? readJsonObject(cfgFile, RRA_CONFIG_FILE) : {}) as RraBertConfig;
    const ce = await CrossEncoder.fromPretrained(dir, opts);
    const model = new RraBert(ce, { ...opts, rra: { ...saved, ...opts.rra, selection: { ...saved.selection, ...opts.rra?.selection } } });
    const wFile = path.join(dir, TCL_WEIGHTS_FILE);
    if (fs.existsSync(wFile)) {
      try {
        model.tcl.params.load(readSafetensors(wFile), { source: wFile });
      } catch (e) {
        model.dispose();
        throw e;
      }
    }
    return model;
  }

  get config(): BertConfig {
    return this.encoder.config;
  }

  /** Ids never selected. */
  get specialIds(): number[] {
    if (this.rra.specialIds) return this.rra.specialIds;
    try {
      return specialTokenIds(this.encoder.tokenizer);
    } catch {
      return [0];
    }
  }

  async encodeForTraining(pairs: Array<[string, string]>): Promise<RraBatch> {
    const tokens = await this.encoder.encode(pairs);
    return { ...batchToTensors(tokens), tokens };
  }

  disposeBatch(batch: RraBatch): void {
    this.encoder.disposeBatch(batch);
  }

  /** [CLS] scores s [batch]: exactly the plain cross-encoder (no selection, no TCL). */
  forward(batch: PairBatch, training = false): tf.Tensor1D {
    return this.encoder.forward(batch, training);
  }

  /** Vectors Token Selection compares, from a forward pass's outputs. */
  private selectionVectors(batch: PairBatch, out: BertOutputs): tf.Tensor3D {
    const src = this.rra.selection.source;
    if (src === 'embeddings') return tf.gather(this.encoder.bert.params.get('bert.embeddings.word_embeddings.weight'), batch.inputIds) as tf.Tensor3D;
    return out.hiddenStates![src];
  }

  /**
   * The training-time pass: s [batch] from the [CLS] head, t [batch] from the TCL, and the
   * selection. The selection is read out as numbers, so no gradient passes through it. With
   * `training`, a layer-source selection sees that layer's dropped-out states.
   */
  forwardWithTcl(batch: RraBatch, training = false): { s: tf.Tensor1D; t: tf.Tensor1D; selection: TokenSelection } {
    let selection!: TokenSelection;
    const r = tf.tidy(() => {
      const out = this.encoder.bert.forward(batch, { training, outputHiddenStates: this.rra.selection.source !== 'embeddings' });
      const s = this.encoder.scoresFromLogits(this.encoder.bert.classify(out.pooledOutput, training));
      const sel = selectTokensFromTensor(this.selectionVectors(batch, out), batch.tokens, this.specialIds, this.rra.selection);
      selection = sel.selection;
      const t = this.tcl.forward(out.lastHiddenState, sel.mask, training, training ? this.encoder.bert.seeds.next() : undefined);
      return { s, t };
    });
    return { ...r, selection };
  }

  /**
   * L_rank(s) + λ·L_rank(t) (+ μ·L_rank(s + t)) for a trainer micro-batch: the batch holds the real
   * pairs of `mask` [lists, listSize] in row-major order. Components: rank_s, rank_t, rank_st,
   * selected (mean selected tokens per document).
   */
  trainingLoss(batch: RraBatch, labels: tf.Tensor2D, mask: tf.Tensor2D, rankLoss: RankingLoss): LossResult {
    const [L, N] = mask.shape;
    const m = mask.dataSync();
    const nReal = batch.tokens.batch;
    let k = 0;
    const slot = Array.from(m, (v) => (v > 0 ? k++ : nReal));
    if (k !== nReal) throw new Error(`RraBert.trainingLoss: the mask has ${k} real items but the batch has ${nReal} pairs`);
    return tf.tidy(() => {
      const { s, t, selection } = this.forwardWithTcl(batch, true);
      // Padding slots read 0; the losses ignore them through the mask.
      const toLists = (x: tf.Tensor1D) => toListGrid(x, slot, [L, N]);
      const S = toLists(s);
      const T = toLists(t);
      const ls = rankLoss(S, labels, mask);
      const lt = rankLoss(T, labels, mask);
      let loss = tf.add(ls.loss, tf.mul(lt.loss, this.rra.lambda)) as tf.Scalar;
      let perList = tf.add(ls.perList, tf.mul(lt.perList, this.rra.lambda)) as tf.Tensor1D;
      const components: Record<string, tf.Scalar> = { rank_s: ls.loss, rank_t: lt.loss };
      if (this.rra.combinedWeight > 0) {
        const lst = rankLoss(tf.add(S, T) as tf.Tensor2D, labels, mask);
        loss = tf.add(loss, tf.mul(lst.loss, this.rra.combinedWeight)) as tf.Scalar;
        perList = tf.add(perList, tf.mul(lst.perList, this.rra.combinedWeight)) as tf.Tensor1D;
        components.rank_st = lst.loss;
      }
      let selected = 0;
      for (const v of selection.mask) selected += v;
      components.selected = tf.scalar(selected / Math.max(1, nReal));
      return { loss, perList, components } as unknown as tf.TensorContainerObject;
    }) as unknown as LossResult;
  }

  /** [CLS] relevance scores (the inference path: no selection, no TCL). */
  score(pairs: Array<[string, string]>, opts: ScoreOptions = {}): Promise<number[]> {
    return this.encoder.score(pairs, opts);
  }

  /** Both heads in eval mode, for the with/without-TCL comparison: s (the [CLS] score) and t. */
  async scoreWithTcl(pairs: Array<[string, string]>, opts: ScoreOptions = {}): Promise<{ s: number[]; t: number[] }> {
    const batchSize = opts.batchSize ?? 32;
    const s = new Array<number>(pairs.length);
    const t = new Array<number>(pairs.length);
    for (let i = 0; i < pairs.length; i += batchSize) {
      const batch = await this.encodeForTraining(pairs.slice(i, i + batchSize));
      const r = this.forwardWithTcl(batch, false);
      const [sv, tv] = [await r.s.data(), await r.t.data()];
      tf.dispose([r.s, r.t]);
      this.disposeBatch(batch);
      sv.forEach((v, j) => {
        s[i + j] = v;
        t[i + j] = tv[j];
      });
    }
    return { s, t };
  }

  /** Tokens of one (query, document) pair with their selection and similarity (eval mode). */
  async inspect(query: string, doc: string): Promise<InspectedToken[]> {
    const batch = await this.encodeForTraining([[query, doc]]);
    try {
      const { s, t, selection } = this.forwardWithTcl(batch, false);
      tf.dispose([s, t]);
      const toks = batch.tokens.tokens[0];
      const special = new Set(this.specialIds);
      return toks.map((token, j) => {
        const id = batch.tokens.inputIds[j];
        const isDoc = selection.nearest[j] >= 0;
        const q = selection.matched[j] >= 0 ? selection.matched[j] : selection.nearest[j];
        return {
          position: j,
          token,
          segment: special.has(id) ? 'special' : batch.tokens.tokenTypeIds[j] === 0 ? 'query' : 'document',
          selected: selection.mask[j] > 0,
          reason: SELECT_REASON_NAMES[selection.reason[j]],
          queryToken: isDoc ? toks[q] : null,
          similarity: isDoc ? selection.similarity[j] : null,
        };
      });
    } finally {
      this.disposeBatch(batch);
    }
  }

  /** Encoder and TCL variables (TCL names start with `tcl.`). */
  trainableVariables(): Map<string, tf.Variable> {
    return new Map([...this.encoder.trainableVariables(), ...this.tcl.params.trainable()]);
  }

  rngState(): number {
    return this.encoder.rngState();
  }

  setRngState(state: number): void {
    this.encoder.setRngState(state);
  }

  /**
   * The cross-encoder as HF BertForSequenceClassification (config.json, model.safetensors,
   * tokenizer), plus rra_tcl.safetensors and rra_config.json, which HF does not read.
   */
  async save(dir: string): Promise<void> {
    await this.encoder.save(dir);
    writeSafetensors(path.join(dir, TCL_WEIGHTS_FILE), this.tcl.params.toTensors(), { format: 'pt' });
    const { specialIds, ...rest } = this.rra;
    fs.writeFileSync(path.join(dir, RRA_CONFIG_FILE), `${JSON.stringify(specialIds ? this.rra : rest, null, 2)}\n`);
  }

  dispose(): void {
    this.encoder.dispose();
    this.tcl.dispose();
  }
}
