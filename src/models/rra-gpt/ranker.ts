// RRA-GPT: a decoder-only (Llama-family) ranker. Prompt = instruction + query + document + answer cue;
// the ranking layer maps the final hidden state of the prompt's last token to a scalar score. Trained
// on L_rank(list scores) + α·CE(answer token: relevant / not relevant) + β·CE(reason tokens | prompt,
// answer), all from one forward pass over prompt + answer + reason (causal attention: the score never
// sees the answer). Scoring runs only the prompt; `explain()` generates the answer and the reason.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors } from '../../io/safetensors.js';
import type { LossResult, RankingLoss } from '../../losses/types.js';
import { TextTokenizer } from '../../tokenization/tokenizer.js';
import type { TrainableRanker } from '../../training/types.js';
import { InputError } from '../../utils/errors.js';
import { Parameters } from '../common/parameters.js';
import { linear } from '../common/layers.js';
import { generate } from '../llama/generation.js';
import { LlamaModel } from '../llama/model.js';
import { readLlamaConfig, type LlamaConfig } from '../llama/config.js';
import { ReasonMap } from './data.js';
import { checkpointFiles, hasTokenizer } from '../../io/checkpoint.js';
import { toListGrid } from '../../training/lists.js';
import { readJsonObject } from '../../io/json.js';
import { resolvePretrained, TOKENIZER_FILES, type HubOptions } from '../../hub/index.js';

export interface RraGptTemplate {
  instruction: string;
  queryPrefix: string;
  documentPrefix: string;
  /** The answer cue; the ranking layer reads the hidden state of its last token. */
  cue: string;
  /** Answer texts; the classification CE is over their tokens. */
  relevant: string;
  irrelevant: string;
}

export const DEFAULT_TEMPLATE: RraGptTemplate = {
  instruction: 'Judge whether the document is relevant to the search query, then explain why.',
  queryPrefix: 'Query:',
  documentPrefix: 'Document:',
  cue: 'Relevant:',
  relevant: 'yes',
  irrelevant: 'no',
};

export interface RraGptOptions {
  /** Tokenizer instance or a file/directory (tokenizer.json or vocab.txt). Required to encode text. */
  tokenizer?: TextTokenizer | string;
  template?: Partial<RraGptTemplate>;
  /** Most prompt tokens (default min(256, max_position_embeddings − reason budget)). */
  maxPromptLength?: number;
  /** Most query tokens (default 32). */
  maxQueryTokens?: number;
  /** Most reason tokens in training (default 48). */
  maxReasonTokens?: number;
  /** Weight of the answer-token CE (default 1; 0 switches it off). */
  alpha?: number;
  /** Weight of the reason-token CE (default 1; 0 switches it off). */
  beta?: number;
  /** Which training labels count as "relevant" for the answer (default: label > 0, i.e. ranked vs hard negative). */
  isRelevant?: (label: number) => boolean;
  /** Reasons per (query, document) for the β term. */
  reasons?: ReasonMap;
  /** Begin/end tokens (default: the tokenizer's <s>/</s>, <|begin_of_text|>/<|end_of_text|> or [CLS]/[SEP]). */
  bosToken?: string;
  eosToken?: string;
  seed?: number;
}

/** An encoded training/scoring batch: host token ids plus the prompt tensors. */
export interface RraGptBatch {
  pairs: Array<[string, string]>;
  prompts: number[][];
  /** Reason token ids per pair (+ EOS), or null when the pair has none. */
  reasons: Array<number[] | null>;
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  /** Index (row·seq + last prompt position) into the flattened hidden states. */
  lastIndex: tf.Tensor1D;
}

const BOS_CANDIDATES: Array<[string, string]> = [
  ['<s>', '</s>'],
  ['<|begin_of_text|>', '<|end_of_text|>'],
  ['<|im_start|>', '<|endoftext|>'],
  ['[CLS]', '[SEP]'],
];

/** Rows padded on the right with `pad`, plus the 0/1 mask. */
function padRight(rows: number[][], pad: number): { ids: number[][]; mask: number[][]; T: number } {
  const T = Math.max(1, ...rows.map((r) => r.length));
  return {
    ids: rows.map((r) => [...r, ...new Array(T - r.length).fill(pad)]),
    mask: rows.map((r) => [...r.map(() => 1), ...new Array(T - r.length).fill(0)]),
    T,
  };
}

export class RraGpt implements TrainableRanker<RraGptBatch> {
  readonly llama: LlamaModel;
  /** The ranking layer (`rank_head.weight` [1, hidden], `rank_head.bias` [1]). */
  readonly head: Parameters;
  readonly template: RraGptTemplate;
  readonly alpha: number;
  readonly beta: number;
  readonly maxPromptLength: number;
  readonly maxQueryTokens: number;
  readonly maxReasonTokens: number;
  readonly isRelevant: (label: number) => boolean;
  reasons: ReasonMap;
  private tok: TextTokenizer | null;
  private pieces: { instruction: number[]; q: number[]; d: number[]; cue: number[]; yes: number[]; no: number[]; bos: number[]; eos: number } | null = null;
  private readonly queryCache = new Map<string, number[]>();

  constructor(config: Partial<LlamaConfig>, opts: RraGptOptions = {}) {
    this.llama = new LlamaModel(config, opts.seed ?? 42);
    const H = this.llama.config.hidden_size;
    this.head = new Parameters((opts.seed ?? 42) ^ 0x7a7a);
    this.head.create('rank_head.weight', [1, H], { kind: 'normal', std: this.llama.config.initializer_range });
    this.head.create('rank_head.bias', [1], { kind: 'zeros' });
    this.template = { ...DEFAULT_TEMPLATE, ...opts.template };
    this.alpha = opts.alpha ?? 1;
    this.beta = opts.beta ?? 1;
    this.maxReasonTokens = opts.maxReasonTokens ?? 48;
    const maxPos = this.llama.config.max_position_embeddings;
    this.maxPromptLength = opts.maxPromptLength ?? Math.min(256, maxPos - this.maxReasonTokens - 4);
    this.maxQueryTokens = opts.maxQueryTokens ?? 32;
    this.isRelevant = opts.isRelevant ?? ((l) => l > 0);
    this.reasons = opts.reasons ?? new ReasonMap();
    this.bosToken = opts.bosToken;
    this.eosToken = opts.eosToken;
    // Weights exist by now: a bad setting or tokenizer must not leave them allocated.
    try {
      this.tok = typeof opts.tokenizer === 'string' ? TextTokenizer.fromDir(opts.tokenizer) : (opts.tokenizer ?? null);
      if (this.maxPromptLength < 16) throw new InputError(`maxPromptLength ${this.maxPromptLength} is too small`, { field: 'maxPromptLength' });
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  private readonly bosToken?: string;
  private readonly eosToken?: string;

  /**
   * Loads a saved RRA-GPT (or any LlamaForCausalLM checkpoint, whose ranking layer then starts fresh)
   * from a local folder or a Hub id (`resolvePretrained`).
   */
  static async fromPretrained(idOrPath: string, opts: RraGptOptions & HubOptions = {}): Promise<RraGpt> {
    const dir = await resolvePretrained(idOrPath, { ...opts, files: ['config.json', 'model.safetensors'], optionalFiles: ['rra_gpt.json', ...TOKENIZER_FILES] });
    return RraGpt.fromDir(dir, opts);
  }

  /** Loads a saved RRA-GPT (or any LlamaForCausalLM checkpoint) from a local folder. */
  static fromDir(dir: string, opts: RraGptOptions = {}): RraGpt {
    const { configFile: cfgFile, weightsFile } = checkpointFiles(dir);
    const saved = path.join(dir, 'rra_gpt.json');
    const extra = (fs.existsSync(saved) ? readJsonObject(saved, 'rra_gpt.json') : {}) as Partial<RraGptOptions>;
    let tokenizer = opts.tokenizer;
    if (tokenizer === undefined && hasTokenizer(dir)) tokenizer = dir;
    const model = new RraGpt(readLlamaConfig(cfgFile), { ...extra, ...opts, tokenizer });
    try {
      const contents = readSafetensors(weightsFile);
      model.llama.loadWeights(weightsFile, { contents });
      model.head.load(contents, {
        source: weightsFile,
        rename: (n) => (n.startsWith('rank_head.') ? n : null),
        optional: () => true,
      });
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  get tokenizer(): TextTokenizer {
    if (!this.tok) throw new Error('this RraGpt has no tokenizer: pass { tokenizer: DIR_OR_FILE }');
    return this.tok;
  }

  private async ids(text: string): Promise<number[]> {
    return (await this.tokenizer.encode(text, { addSpecialTokens: false })).ids;
  }

  private async init(): Promise<NonNullable<RraGpt['pieces']>> {
    if (this.pieces) return this.pieces;
    const tok = this.tokenizer;
    const pair = this.bosToken || this.eosToken ? [this.bosToken ?? '', this.eosToken ?? ''] : BOS_CANDIDATES.find(([b, e]) => tok.tokenToId(b) !== undefined && tok.tokenToId(e) !== undefined);
    const bos = pair && pair[0] ? tok.tokenToId(pair[0]) : undefined;
    const eos = pair && pair[1] ? tok.tokenToId(pair[1]) : undefined;
    if (eos === undefined) throw new InputError('the tokenizer has no end token: pass eosToken', { field: 'eosToken' });
    const t = this.template;
    const p = {
      instruction: await this.ids(t.instruction),
      q: await this.ids(t.queryPrefix),
      d: await this.ids(t.documentPrefix),
      cue: await this.ids(t.cue),
      yes: await this.ids(t.relevant),
      no: await this.ids(t.irrelevant),
      bos: bos === undefined ? [] : [bos],
      eos,
    };
    if (!p.yes.length || !p.no.length) throw new InputError('answer texts must give at least one token', { field: 'template.relevant' });
    if (p.yes.join() === p.no.join()) throw new InputError('the two answers tokenize identically', { field: 'template.irrelevant' });
    return (this.pieces = p);
  }

  /** Prompt token ids: BOS, instruction, query (cut), document (cut to fit), answer cue. */
  async promptIds(query: string, doc: string): Promise<number[]> {
    const p = await this.init();
    let q = this.queryCache.get(query);
    if (!q) {
      q = (await this.ids(query)).slice(0, this.maxQueryTokens);
      if (this.queryCache.size > 10000) this.queryCache.clear();
      this.queryCache.set(query, q);
    }
    const fixed = p.bos.length + p.instruction.length + p.q.length + q.length + p.d.length + p.cue.length;
    const room = this.maxPromptLength - fixed;
    if (room < 1) throw new InputError(`maxPromptLength ${this.maxPromptLength} leaves no room for the document`, { field: 'maxPromptLength' });
    const d = (await this.ids(doc)).slice(0, room);
    return [...p.bos, ...p.instruction, ...p.q, ...q, ...p.d, ...d, ...p.cue];
  }

  async encode(pairs: Array<[string, string]>, withReasons: boolean): Promise<RraGptBatch> {
    const p = await this.init();
    const prompts = await Promise.all(pairs.map(([q, d]) => this.promptIds(q, d)));
    const reasons = await Promise.all(
      pairs.map(async ([q, d]) => {
        const r = withReasons ? this.reasons.get(q, d) : undefined;
        return r ? [...(await this.ids(r)).slice(0, this.maxReasonTokens), p.eos] : null;
      }),
    );
    const { ids, mask, T } = padRight(prompts, p.eos);
    return {
      pairs,
      prompts,
      reasons,
      inputIds: tf.tensor2d(ids, [pairs.length, T], 'int32'),
      attentionMask: tf.tensor2d(mask, [pairs.length, T], 'int32'),
      lastIndex: tf.tensor1d(prompts.map((r, i) => i * T + r.length - 1), 'int32'),
    };
  }

  encodeForTraining(pairs: Array<[string, string]>): Promise<RraGptBatch> {
    return this.encode(pairs, this.beta > 0);
  }

  disposeBatch(batch: RraGptBatch): void {
    tf.dispose([batch.inputIds, batch.attentionMask, batch.lastIndex]);
  }

  /** Ranking layer on hidden states [n, hidden] → scores [n]. */
  private rankHead(h: tf.Tensor2D): tf.Tensor1D {
    return tf.reshape(linear(h, this.head.get('rank_head.weight'), this.head.get('rank_head.bias')), [h.shape[0]]) as tf.Tensor1D;
  }

  /** Scores [pairs] from the prompt-only forward pass (differentiable). */
  forward(batch: RraGptBatch, _training = false): tf.Tensor1D {
    return tf.tidy(() => {
      const out = this.llama.forward({ inputIds: batch.inputIds, attentionMask: batch.attentionMask });
      const [B, T, H] = out.lastHiddenState.shape;
      return this.rankHead(tf.gather(tf.reshape(out.lastHiddenState, [B * T, H]), batch.lastIndex) as tf.Tensor2D);
    });
  }

  /**
   * The joint objective for lists ([lists·listSize] slots, real pairs row-major in the batch):
   * L_rank + α·CE(answer) + β·CE(reason); components `rank`, `cls`, `reason` are logged.
   */
  trainingLoss(batch: RraGptBatch, labels: tf.Tensor2D, mask: tf.Tensor2D, rankLoss: RankingLoss): LossResult {
    const p = this.pieces!;
    const [L, N] = mask.shape;
    const maskV = mask.dataSync();
    const labelV = labels.dataSync();
    const slot: number[] = [];
    const relevant: boolean[] = [];
    let k = 0;
    for (let i = 0; i < L * N; i++) {
      if (maskV[i] > 0) {
        slot.push(k++);
        relevant.push(this.isRelevant(labelV[i]));
      } else slot.push(-1);
    }
    const n = batch.pairs.length;
    if (k !== n) throw new Error(`trainingLoss: the mask has ${k} real slots but the batch has ${n} pairs`);
    const useCls = this.alpha > 0;
    const useReason = this.beta > 0 && batch.reasons.some((r) => r);
    return tf.tidy(() => {
      let scores: tf.Tensor1D;
      let cls: tf.Scalar = tf.scalar(0);
      let reason: tf.Scalar = tf.scalar(0);
      if (!useCls && !useReason) {
        scores = this.forward(batch, true);
      } else {
        // One pass over prompt + answer (+ reason, EOS): causal attention keeps the score prompt-only.
        const rows = batch.prompts.map((pr, i) => {
          const ans = relevant[i] ? p.yes : p.no;
          return [...pr, ...ans, ...(useReason && batch.reasons[i] ? batch.reasons[i]! : [])];
        });
        const { ids, mask: m, T } = padRight(rows, p.eos);
        const out = this.llama.forward({ inputIds: tf.tensor2d(ids, [n, T], 'int32'), attentionMask: tf.tensor2d(m, [n, T], 'int32') });
        const H = this.llama.config.hidden_size;
        const flat = tf.reshape(out.lastHiddenState, [n * T, H]) as tf.Tensor2D;
        scores = this.rankHead(tf.gather(flat, tf.tensor1d(batch.prompts.map((pr, i) => i * T + pr.length - 1), 'int32')) as tf.Tensor2D);
        // Next-token targets: position t predicts token t+1. Weights average per pair (answer) and per token (reason).
        const pos: number[] = [];
        const target: number[] = [];
        const wCls: number[] = [];
        const wReason: number[] = [];
        let reasonTokens = 0;
        batch.reasons.forEach((r) => (reasonTokens += useReason && r ? r.length : 0));
        rows.forEach((row, i) => {
          const start = batch.prompts[i].length - 1;
          const ansLen = (relevant[i] ? p.yes : p.no).length;
          for (let t = start; t < row.length - 1; t++) {
            const isAns = t < start + ansLen;
            if (isAns && !useCls) continue;
            pos.push(i * T + t);
            target.push(row[t + 1]);
            wCls.push(isAns ? 1 / (ansLen * n) : 0);
            wReason.push(isAns ? 0 : 1 / reasonTokens);
          }
        });
        // nll = logsumexp(logits) − logit[target]; the target logit is h·W[target], so no [tokens, vocab]
        // one-hot or log-softmax is materialised (the vocabulary may be 30k+ wide).
        const h = tf.gather(flat, tf.tensor1d(pos, 'int32')) as tf.Tensor2D;
        const logits = this.llama.logits(h) as tf.Tensor2D;
        const targetRows = tf.gather(this.llama.lmHeadWeight(), tf.tensor1d(target, 'int32'));
        const nll = tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(h, targetRows), 1));
        if (useCls) cls = tf.sum(tf.mul(nll, tf.tensor1d(wCls))) as tf.Scalar;
        if (useReason) reason = tf.sum(tf.mul(nll, tf.tensor1d(wReason))) as tf.Scalar;
      }
      const grid = toListGrid(scores, slot, [L, N]);
      const r = rankLoss(grid, labels, mask);
      let loss = r.loss;
      if (useCls) loss = tf.add(loss, tf.mul(cls, this.alpha)) as tf.Scalar;
      if (useReason) loss = tf.add(loss, tf.mul(reason, this.beta)) as tf.Scalar;
      // Components are copies: the trainer disposes the loss before reading them.
      const components: Record<string, tf.Scalar> = { rank: tf.clone(r.loss) };
      if (useCls) components.cls = cls;
      if (useReason) components.reason = reason;
      return { loss, perList: r.perList, components } as unknown as tf.TensorContainerObject;
    }) as unknown as LossResult;
  }

  /** Relevance scores of (query, document) pairs in eval mode, prompt forward only. */
  async score(pairs: Array<[string, string]>, opts: { batchSize?: number } = {}): Promise<number[]> {
    const bs = opts.batchSize ?? 32;
    const out = new Array<number>(pairs.length);
    const order = pairs.map((pr, i) => ({ i, len: pr[1].length })).sort((a, b) => a.len - b.len);
    for (let s = 0; s < order.length; s += bs) {
      const idx = order.slice(s, s + bs).map((o) => o.i);
      const batch = await this.encode(
        idx.map((i) => pairs[i]),
        false,
      );
      const t = this.forward(batch, false);
      const vals = await t.data();
      t.dispose();
      this.disposeBatch(batch);
      idx.forEach((i, j) => (out[i] = vals[j]));
    }
    return out;
  }

  /** Generates the answer and the reason for a pair (greedy unless sampling options are given). */
  async explain(
    query: string,
    doc: string,
    opts: { maxNewTokens?: number; doSample?: boolean; topK?: number; topP?: number; temperature?: number; seed?: number } = {},
  ): Promise<{ answer: string; reason: string; score: number; tokens: number[] }> {
    const p = await this.init();
    const prompt = await this.promptIds(query, doc);
    const [score] = await this.score([[query, doc]]);
    const r = await generate(this.llama, [prompt], { ...opts, maxNewTokens: opts.maxNewTokens ?? this.maxReasonTokens + 4, eosTokenId: p.eos, padTokenId: p.eos });
    const toks = r.newTokens[0].filter((t) => t !== p.eos);
    const startsWith = (a: number[]) => a.every((t, i) => toks[i] === t);
    const ansLen = startsWith(p.yes) ? p.yes.length : startsWith(p.no) ? p.no.length : 1;
    return {
      answer: await this.tokenizer.decode(toks.slice(0, ansLen)),
      reason: await this.tokenizer.decode(toks.slice(ansLen)),
      score,
      tokens: r.newTokens[0],
    };
  }

  /** Documents sorted by descending score. */
  async rank(query: string, docs: string[], opts: { batchSize?: number; topK?: number } = {}): Promise<Array<{ index: number; doc: string; score: number }>> {
    const s = await this.score(
      docs.map((d) => [query, d] as [string, string]),
      opts,
    );
    const ranked = docs.map((doc, index) => ({ index, doc, score: s[index] })).sort((a, b) => b.score - a.score || a.index - b.index);
    return opts.topK ? ranked.slice(0, opts.topK) : ranked;
  }

  trainableVariables(): Map<string, tf.Variable> {
    return new Map([...this.llama.params.trainable(), ...this.head.trainable()]);
  }

  /**
   * Writes config.json + model.safetensors (LlamaForCausalLM layout; transformers ignores the extra
   * `rank_head.*` tensors), the tokenizer, and rra_gpt.json (template and loss weights).
   */
  async save(dir: string): Promise<void> {
    this.llama.save(dir, this.head);
    const meta = {
      template: this.template,
      alpha: this.alpha,
      beta: this.beta,
      maxPromptLength: this.maxPromptLength,
      maxQueryTokens: this.maxQueryTokens,
      maxReasonTokens: this.maxReasonTokens,
      bosToken: this.bosToken,
      eosToken: this.eosToken,
    };
    fs.writeFileSync(path.join(dir, 'rra_gpt.json'), `${JSON.stringify(meta, null, 2)}\n`);
    if (this.tok) this.tok.inner.save(path.join(dir, 'tokenizer.json'));
  }

  dispose(): void {
    this.llama.dispose();
    this.head.dispose();
  }
}
