// RRA-GPT: a decoder-only (Llama-family) ranker. Prompt = instruction + query + document + answer cue;
// the ranking layer maps the final hidden state of the prompt's last token to a scalar score. Trained
// on L_rank(list scores) + α·CE(answer token: relevant / not relevant) + β·CE(reason tokens | prompt,
// answer), all from one forward pass over prompt + answer + reason (causal attention: the score never
// sees the answer). Scoring runs only the prompt; `explain()` generates the answer and the reason.
// With a chat template (an instruct model's, e.g. from its GGUF file), the instruction is the system
// turn, query + document + cue the user turn, and the ranking layer reads the last token of the
// opened assistant turn, where the answer and the reason follow. With `trainLayers`, only the top
// decoder layers train and the frozen layers' outputs are cached (FrozenStateCache).
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors } from '../../io/safetensors.js';
import type { LossResult, RankingLoss } from '../../losses/types.js';
import { TextTokenizer } from '../../tokenization/tokenizer.js';
import { InputError } from '../../utils/errors.js';
import { Parameters } from '../common/parameters.js';
import { linear } from '../common/layers.js';
import { generate } from '../llama/generation.js';
import { LlamaModel } from '../llama/model.js';
import { readLlamaConfig, type LlamaConfig } from '../llama/config.js';
import { findGgufFile } from '../llama/gguf.js';
import { GGUFFile } from '../../io/gguf.js';
import { ChatTemplate } from '../../tokenization/chat-template.js';
import { ggufTokenizer, tokenizerFromGguf } from '../../tokenization/gguf.js';
import { FrozenStateCache } from './frozen-cache.js';
import { ReasonMap } from './reasons.js';
import { checkpointFiles, hasTokenizer } from '../../io/checkpoint.js';
import { slotsFromMask, toListGrid } from '../list-grid.js';
import { PairRanker, type ScoringPlan } from '../pair-ranker.js';
import type { ScoreOptions } from '../ranker.js';
import { readJsonObject } from '../../io/json.js';
import { resolvePretrained, TOKENIZER_FILES, type HubOptions } from '../../hub/index.js';
import { rraGptCard } from '../cards.js';

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
  /** Begin/end tokens (default: the tokenizer's <s>/</s>, <|begin_of_text|>/<|end_of_text|> or [CLS]/[SEP]; '' = none). */
  bosToken?: string;
  eosToken?: string;
  seed?: number;
  /**
   * Jinja chat template (a GGUF file's `tokenizer.chat_template` by default when loading one; null:
   * none). The instruction becomes the system turn, query, document and cue the user turn.
   */
  chatTemplate?: string | ChatTemplate | null;
  /**
   * Train only the top N decoder layers (+ final norm, ranking layer): the embeddings (and a tied LM
   * head) and the layers below are frozen, and their outputs are cached per token sequence.
   */
  trainLayers?: number;
  /** Cache of the frozen layers' outputs to share between models with the same frozen weights. */
  frozenCache?: FrozenStateCache;
  /** fromPretrained: which .gguf of a folder holding several. */
  ggufFile?: string;
}

/** score() options: `by: 'answer'` scores with the LM head's log P(relevant answer) instead of the ranking layer. */
export interface RraGptScoreOptions extends ScoreOptions {
  by?: 'ranking-layer' | 'answer';
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

export class RraGpt extends PairRanker<RraGptBatch, RraGptScoreOptions> {
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
  protected override tokenizerHint = 'pass { tokenizer: DIR_OR_FILE }';
  readonly chat: ChatTemplate | null;
  /** Set with `trainLayers`: the frozen layers' outputs. */
  readonly frozenCache: FrozenStateCache | null;
  private pieces: {
    instruction: number[];
    q: number[];
    d: number[];
    cue: number[];
    yes: number[];
    no: number[];
    bos: number[];
    eos: number;
    nl: number[];
    prefix: number[];
    suffix: number[];
  } | null = null;
  private readonly queryCache = new Map<string, number[]>();
  /** The settings this ranker was made with, resolved (for fork()). */
  private readonly settings: RraGptOptions;

  /** A fresh decoder from a config, or a loaded LlamaModel (which the ranker then owns and disposes). */
  constructor(config: Partial<LlamaConfig> | LlamaModel, opts: RraGptOptions = {}) {
    super();
    this.llama = config instanceof LlamaModel ? config : new LlamaModel(config, opts.seed ?? 42);
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
    this.frozenCache = null;
    this.chat = null;
    this.settings = opts;
    // Weights exist by now: a bad setting or tokenizer must not leave them allocated.
    try {
      this.tok = typeof opts.tokenizer === 'string' ? TextTokenizer.fromDir(opts.tokenizer) : (opts.tokenizer ?? null);
      if (this.maxPromptLength < 16) throw new InputError(`maxPromptLength ${this.maxPromptLength} is too small`, { field: 'maxPromptLength' });
      this.chat = typeof opts.chatTemplate === 'string' ? new ChatTemplate(opts.chatTemplate, { specialTokens: this.templateTokens() }) : (opts.chatTemplate ?? null);
      this.settings = { ...opts, tokenizer: this.tok ?? undefined, chatTemplate: this.chat, template: this.template, reasons: this.reasons };
      if (opts.trainLayers !== undefined) {
        const L = this.llama.config.num_hidden_layers;
        const n = opts.trainLayers;
        if (!Number.isInteger(n) || n < 1 || n > L) throw new InputError(`trainLayers must be 1..${L}, got ${n}`, { field: 'trainLayers' });
        const k = L - n;
        this.frozenCache = opts.frozenCache ?? new FrozenStateCache(k);
        if (this.frozenCache.layer !== k) throw new InputError(`the shared frozenCache holds layer ${this.frozenCache.layer}, not ${k}`, { field: 'frozenCache' });
        const below = (name: string) => {
          const m = /^model\.layers\.(\d+)\./.exec(name);
          return m !== null && Number(m[1]) < k;
        };
        this.llama.params.freeze((name) => name === 'model.embed_tokens.weight' || below(name));
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  private readonly bosToken?: string;
  private readonly eosToken?: string;

  /** bos_token / eos_token for a chat template given as text. */
  private templateTokens(): Record<string, string | undefined> {
    return { bos_token: this.bosToken || undefined, eos_token: this.eosToken || undefined };
  }

  /**
   * Loads a saved RRA-GPT, any LlamaForCausalLM checkpoint (whose ranking layer then starts fresh), or
   * a GGUF decoder (`ggufFile`, a .gguf path or a folder holding one) from a local folder or a Hub id
   * (`resolvePretrained`).
   */
  static async fromPretrained(idOrPath: string, opts: RraGptOptions & HubOptions = {}): Promise<RraGpt> {
    const files = opts.ggufFile ? [opts.ggufFile] : ['config.json', 'model.safetensors'];
    const dir = await resolvePretrained(idOrPath, { ...opts, files, optionalFiles: ['rra_gpt.json', ...TOKENIZER_FILES] });
    const model = RraGpt.fromDir(dir, opts);
    model.modelCard.baseModel = idOrPath;
    return model;
  }

  /**
   * Loads a saved RRA-GPT or any LlamaForCausalLM checkpoint from a local folder, or a GGUF decoder
   * (a .gguf file or a folder holding one) with the tokenizer and chat template stored in it.
   */
  static fromDir(dir: string, opts: RraGptOptions = {}): RraGpt {
    const gguf = findGgufFile(dir, opts.ggufFile);
    if (gguf) {
      const m = GGUFFile.with(gguf, (g) => RraGpt.fromGguf(g, opts));
      m.modelCard.baseModel = gguf;
      return m;
    }
    const { configFile: cfgFile, weightsFile } = checkpointFiles(dir);
    const saved = path.join(dir, 'rra_gpt.json');
    const extra = (fs.existsSync(saved) ? readJsonObject(saved, 'rra_gpt.json') : {}) as Partial<RraGptOptions> & {
      chatTemplateTokens?: Record<string, string>;
    };
    if (typeof extra.chatTemplate === 'string') {
      extra.chatTemplate = new ChatTemplate(extra.chatTemplate, { specialTokens: extra.chatTemplateTokens, source: saved });
    }
    delete extra.chatTemplateTokens;
    let tokenizer = opts.tokenizer;
    if (tokenizer === undefined && hasTokenizer(dir)) tokenizer = dir;
    const model = new RraGpt(readLlamaConfig(cfgFile), { ...extra, ...opts, tokenizer });
    model.modelCard.baseModel = dir;
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

  /** A GGUF decoder with the tokenizer, special tokens and chat template stored in the file (options override them). */
  static fromGguf(g: GGUFFile, opts: RraGptOptions = {}): RraGpt {
    const llama = LlamaModel.fromGguf(g, { seed: opts.seed });
    try {
      const info = ggufTokenizer(g);
      const tokenizer = opts.tokenizer ?? tokenizerFromGguf(g, {}, info);
      const chatTemplate =
        opts.chatTemplate !== undefined
          ? opts.chatTemplate
          : info.chatTemplate
            ? new ChatTemplate(info.chatTemplate, { specialTokens: { bos_token: info.bosToken, eos_token: info.eosToken }, source: `${g.file} (tokenizer.chat_template)` })
            : null;
      // BOS only where the file says the tokenizer adds one; EOS ends the answer and the reason.
      return new RraGpt(llama, { bosToken: info.addBos && info.bosToken ? info.bosToken : '', eosToken: info.eosToken ?? undefined, ...opts, tokenizer, chatTemplate });
    } catch (e) {
      llama.dispose();
      throw e;
    }
  }

  /**
   * A new ranker starting from this one's decoder weights (the tensors are shared until training
   * replaces them, so frozen layers cost no memory), with the same tokenizer, prompt and loss settings
   * except `overrides`, a fresh ranking layer from its seed, and the same frozen-output cache when the
   * frozen layers are the same. For ablations: every row from one loaded checkpoint.
   */
  fork(overrides: Partial<RraGptOptions> = {}): RraGpt {
    const llama = new LlamaModel(this.llama.config, overrides.seed ?? this.settings.seed ?? 42, { empty: true });
    for (const n of llama.params.names()) llama.params.get(n).assign(this.llama.params.get(n));
    const sameFrozen = (overrides.trainLayers ?? this.settings.trainLayers) === this.settings.trainLayers;
    const fork = new RraGpt(llama, {
      ...this.settings,
      bosToken: this.bosToken,
      eosToken: this.eosToken,
      frozenCache: sameFrozen ? (this.frozenCache ?? undefined) : undefined,
      ...overrides,
    });
    fork.modelCard = { ...this.modelCard };
    return fork;
  }

  override get tokenizer(): TextTokenizer {
    return super.tokenizer;
  }

  /** A new tokenizer: the prompt pieces are tokenized again. */
  override set tokenizer(t: TextTokenizer) {
    super.tokenizer = t;
    this.pieces = null;
    this.queryCache.clear();
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
    // Pieces are tokenized apart and joined by newlines, words with their leading space (no-ops for
    // WordPiece vocabularies; what byte-level BPE sees in the joined text). In a chat, the answer
    // opens the assistant turn; otherwise it follows the cue after a space.
    const chat = this.chat?.wrap(
      [
        { role: 'system', content: t.instruction },
        { role: 'user', content: '' },
      ],
      { addGenerationPrompt: true },
    );
    const lead = chat ? '' : ' ';
    const p = {
      instruction: chat ? [] : await this.ids(t.instruction),
      q: await this.ids(t.queryPrefix),
      d: await this.ids(t.documentPrefix),
      cue: await this.ids(t.cue),
      yes: await this.ids(lead + t.relevant),
      no: await this.ids(lead + t.irrelevant),
      bos: bos === undefined || chat ? [] : [bos],
      eos,
      nl: await this.ids('\n'),
      prefix: chat ? await this.ids(chat.prefix) : [],
      suffix: chat ? await this.ids(chat.suffix) : [],
    };
    if (!p.yes.length || !p.no.length) throw new InputError('answer texts must give at least one token', { field: 'template.relevant' });
    if (p.yes.join() === p.no.join()) throw new InputError('the two answers tokenize identically', { field: 'template.irrelevant' });
    return (this.pieces = p);
  }

  /**
   * Prompt token ids: BOS, instruction, query (cut), document (cut to fit), answer cue, one piece per
   * line; in a chat, the template's turns around them (instruction as the system turn).
   */
  async promptIds(query: string, doc: string): Promise<number[]> {
    const p = await this.init();
    let q = this.queryCache.get(query);
    if (!q) {
      q = (await this.ids(` ${query}`)).slice(0, this.maxQueryTokens);
      if (this.queryCache.size > 10000) this.queryCache.clear();
      this.queryCache.set(query, q);
    }
    const head = [...p.prefix, ...p.bos, ...p.instruction, ...(p.instruction.length ? p.nl : []), ...p.q, ...q, ...p.nl, ...p.d];
    const tail = [...p.nl, ...p.cue, ...p.suffix];
    const room = this.maxPromptLength - head.length - tail.length;
    if (room < 1) throw new InputError(`maxPromptLength ${this.maxPromptLength} leaves no room for the document`, { field: 'maxPromptLength' });
    const d = (await this.ids(` ${doc}`)).slice(0, room);
    return [...head, ...d, ...tail];
  }

  async encode(pairs: Array<[string, string]>, withReasons: boolean): Promise<RraGptBatch> {
    const p = await this.init();
    const prompts = await Promise.all(pairs.map(([q, d]) => this.promptIds(q, d)));
    const reasons = await Promise.all(
      pairs.map(async ([q, d]) => {
        const r = withReasons ? this.reasons.get(q, d) : undefined;
        return r ? [...(await this.ids(` ${r}`)).slice(0, this.maxReasonTokens), p.eos] : null;
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

  /**
   * Final hidden states [rows, T, hidden] of right-padded rows: the whole decoder, or (trainLayers)
   * its top layers resumed from the cached outputs of the frozen ones. Row i's first
   * `promptLengths[i]` tokens are its prompt (the cache key).
   */
  private decode(rows: number[][], promptLengths: number[], inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D): tf.Tensor3D {
    const cache = this.frozenCache;
    if (!cache) return this.llama.forward({ inputIds, attentionMask }).lastHiddenState;
    const states = cache.states(this.llama, rows, promptLengths, inputIds.shape[1]);
    return this.llama.forward({ inputIds, attentionMask, residual: { states, startLayer: cache.layer } }).lastHiddenState;
  }

  /** Final hidden state of each prompt's last token [pairs, hidden]. */
  private promptStates(batch: RraGptBatch): tf.Tensor2D {
    return tf.tidy(() => {
      const h = this.decode(
        batch.prompts,
        batch.prompts.map((r) => r.length),
        batch.inputIds,
        batch.attentionMask,
      );
      const [B, T, H] = h.shape;
      return tf.gather(tf.reshape(h, [B * T, H]), batch.lastIndex) as tf.Tensor2D;
    });
  }

  /** Scores [pairs] from the prompt-only forward pass (differentiable). */
  forward(batch: RraGptBatch, _training = false): tf.Tensor1D {
    return tf.tidy(() => this.rankHead(this.promptStates(batch)));
  }

  /**
   * log P(first token of the "relevant" answer | prompt) from the LM head [pairs]: the zero-shot
   * decoder's relevance score (the paper's "GPT (vanilla)" row), no ranking layer involved.
   */
  answerLogProb(batch: RraGptBatch): tf.Tensor1D {
    const yes = this.pieces!.yes[0];
    return tf.tidy(() => {
      const logits = this.llama.logits(this.promptStates(batch)) as tf.Tensor2D;
      return tf.sub(tf.reshape(tf.slice(logits, [0, yes], [-1, 1]), [-1]), tf.logSumExp(logits, 1)) as tf.Tensor1D;
    });
  }

  /** Prompt + answer (by relevance) + reason (when used and known) + EOS, per pair: the training rows. */
  private trainingRows(batch: RraGptBatch, relevant: boolean[], useReason: boolean): number[][] {
    const p = this.pieces!;
    return batch.prompts.map((pr, i) => [...pr, ...(relevant[i] ? p.yes : p.no), ...(useReason && batch.reasons[i] ? batch.reasons[i]! : [])]);
  }

  /**
   * With `trainLayers`: runs the frozen layers now (outside any gradient tape) for the rows training
   * on these pairs will need (prompt + answer for `labels` + reason), and caches their outputs.
   */
  async precomputeFrozen(pairs: Array<[string, string]>, labels: number[], opts: { onProgress?: (done: number) => void } = {}): Promise<void> {
    const cache = this.frozenCache;
    if (!cache) return;
    const chunk = 64;
    for (let s = 0; s < pairs.length; s += chunk) {
      const batch = await this.encode(pairs.slice(s, s + chunk), true);
      try {
        const rows = this.trainingRows(
          batch,
          labels.slice(s, s + chunk).map((l) => this.isRelevant(l)),
          true,
        );
        cache.fill(
          this.llama,
          rows,
          batch.prompts.map((r) => r.length),
        );
      } finally {
        this.disposeBatch(batch);
      }
      opts.onProgress?.(Math.min(pairs.length, s + chunk));
    }
  }

  /**
   * The joint objective for lists ([lists·listSize] slots, real pairs row-major in the batch):
   * L_rank + α·CE(answer) + β·CE(reason); components `rank`, `cls`, `reason` are logged.
   */
  trainingLoss(batch: RraGptBatch, labels: tf.Tensor2D, mask: tf.Tensor2D, rankLoss: RankingLoss, slots?: readonly number[]): LossResult {
    const p = this.pieces!;
    const [L, N] = mask.shape;
    const slot = slots ?? slotsFromMask(mask.dataSync());
    const labelV = labels.dataSync();
    // Each real pair's answer (relevant or not), in pair order.
    const relevant: boolean[] = [];
    slot.forEach((s, i) => {
      if (s >= 0) relevant[s] = this.isRelevant(labelV[i]);
    });
    const k = slot.filter((s) => s >= 0).length;
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
        const rows = this.trainingRows(batch, relevant, useReason);
        const { ids, mask: m, T } = padRight(rows, p.eos);
        const last = this.decode(
          rows,
          batch.prompts.map((r) => r.length),
          tf.tensor2d(ids, [n, T], 'int32'),
          tf.tensor2d(m, [n, T], 'int32'),
        );
        const H = this.llama.config.hidden_size;
        const flat = tf.reshape(last, [n * T, H]) as tf.Tensor2D;
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

  /** Scoring batches: prompts only (no reasons), pairs ordered by document length. */
  protected override async scoringPlan(pairs: Array<[string, string]>): Promise<ScoringPlan<RraGptBatch>> {
    return {
      lengths: pairs.map((pr) => pr[1].length),
      batch: (idx) =>
        this.encode(
          idx.map((i) => pairs[i]),
          false,
        ),
    };
  }

  /** The ranking layer's scores, or with `by: 'answer'` the LM head's log P(relevant answer) (answerLogProb). */
  protected override scoreBatch(batch: RraGptBatch, opts: RraGptScoreOptions): tf.Tensor1D {
    return opts.by === 'answer' ? this.answerLogProb(batch) : this.forward(batch, false);
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
      answer: (await this.tokenizer.decode(toks.slice(0, ansLen))).trim(),
      reason: (await this.tokenizer.decode(toks.slice(ansLen))).trim(),
      score,
      tokens: r.newTokens[0],
    };
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
      chatTemplate: this.chat?.text,
      chatTemplateTokens: this.chat?.specialTokens,
    };
    fs.writeFileSync(path.join(dir, 'rra_gpt.json'), `${JSON.stringify(meta, null, 2)}\n`);
    this.saveTokenizer(dir);
    this.saveCard(dir, rraGptCard(this));
  }

  dispose(): void {
    this.llama.dispose();
    this.head.dispose();
  }
}
