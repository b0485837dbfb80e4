// Autoregressive decoding for T5: greedy or top-k / top-p sampling (seeded), with a key/value cache
// (the encoder runs once, cross-attention keys/values are computed once, each step feeds one token).
// Plus a docT5query-style query generator for query augmentation.
import * as tf from '@tensorflow/tfjs-core';
import type { TextTokenizer } from '../../tokenization/tokenizer.js';
import { SeededRandom } from '../../utils/random.js';
import { argmax, sampleToken, topKIndices } from '../common/sampling.js';
import type { KV, T5Model } from './model.js';

export interface GenerateOptions {
  /** New tokens at most (default 20). */
  maxNewTokens?: number;
  /** Sample instead of taking the argmax (default false). */
  doSample?: boolean;
  /** Logits are divided by this before sampling (default 1). */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = all; default 0). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 = all; default 1). */
  topP?: number;
  /** Seed of the sampling stream (default 42). */
  seed?: number;
  /** Reuse keys/values of earlier steps (default true); false recomputes the whole prefix each step. */
  useCache?: boolean;
  /** Stop a row at this id (default: config.eos_token_id; -1 never stops). */
  eosTokenId?: number;
}

// Shared with the Llama generator; re-exported for the T5 API.
export { argmax, topKIndices, sampleToken };

/**
 * Generates continuations of the decoder for each encoder input row. Returns the new token ids per
 * row, up to and including the EOS token when one was produced.
 */
export async function generate(model: T5Model, inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D | undefined, opts: GenerateOptions = {}): Promise<number[][]> {
  const c = model.config;
  const B = inputIds.shape[0];
  const maxNew = opts.maxNewTokens ?? 20;
  const eos = opts.eosTokenId ?? c.eos_token_id;
  const useCache = opts.useCache ?? true;
  const rng = new SeededRandom(opts.seed ?? 42);
  const mask = attentionMask ?? (tf.onesLike(inputIds) as tf.Tensor2D);
  const hidden = model.encode(inputIds, mask).lastHiddenState;
  const crossKV = useCache ? model.crossKV(hidden) : undefined;
  const seqs: number[][] = Array.from({ length: B }, () => [c.decoder_start_token_id]);
  const done = new Array<boolean>(B).fill(false);
  let past: KV[] | undefined;
  try {
    for (let step = 0; step < maxNew && done.some((d) => !d); step++) {
      const logits = tf.tidy(() => {
        const input = useCache ? seqs.map((s) => [s[s.length - 1]]) : seqs;
        const out = model.decode(tf.tensor2d(input, undefined, 'int32'), { hidden, mask, crossKV }, { past, useCache });
        if (useCache) {
          const prev = past;
          past = out.present!.map((kv) => ({ k: tf.keep(kv.k), v: tf.keep(kv.v) }));
          if (prev) for (const kv of prev) tf.dispose([kv.k, kv.v]);
        }
        const T = out.hidden.shape[1];
        return model.lmLogits(tf.slice(out.hidden, [0, T - 1, 0], [B, 1, c.d_model]));
      });
      const vals = await logits.data();
      logits.dispose();
      const V = c.vocab_size;
      for (let b = 0; b < B; b++) {
        if (done[b]) {
          // Finished rows keep feeding padding so the batch stays rectangular (as HF does).
          seqs[b].push(c.pad_token_id);
          continue;
        }
        const row = vals.subarray(b * V, (b + 1) * V);
        const next = opts.doSample ? sampleToken(row, rng, opts) : argmax(row);
        seqs[b].push(next);
        if (next === eos) done[b] = true;
      }
    }
  } finally {
    if (past) for (const kv of past) tf.dispose([kv.k, kv.v]);
    if (crossKV) for (const kv of crossKV) tf.dispose([kv.k, kv.v]);
    hidden.dispose();
    if (!attentionMask) mask.dispose();
  }
  return seqs.map((s) => {
    const out = s.slice(1);
    const e = out.indexOf(eos);
    return e >= 0 ? out.slice(0, e + 1) : out;
  });
}

export interface DocT5QueryOptions extends Omit<GenerateOptions, 'doSample'> {
  /** Passage tokens kept (default 512). */
  maxInputLength?: number;
  /** Text put before the passage (default none: docT5query reads the raw passage). */
  prefix?: string;
  /** Return distinct, non-empty queries, sampling again (up to 3 rounds) to make up for repeats (default true). */
  unique?: boolean;
}

/**
 * docT5query (Nogueira & Lin 2019): a T5 fine-tuned on (passage → query) samples queries with top-k
 * sampling (k = 10, up to 64 tokens, as the released docTTTTTquery predictions). Each call advances the
 * seeded stream, so repeated calls give new samples and a run is reproducible. A QueryGenerator for
 * augmentQueries (augmentation/).
 */
export class DocT5QueryGenerator {
  readonly name = 'doct5query';
  private calls = 0;
  constructor(
    readonly model: T5Model,
    readonly tokenizer: TextTokenizer,
    readonly opts: DocT5QueryOptions = {},
  ) {}

  /** `n` samples (`unique: false`), or up to `n` distinct non-empty queries. */
  async generate(passage: string, n: number): Promise<string[]> {
    if (n <= 0) return [];
    if (this.opts.unique === false) return this.sample(passage, n);
    const out = new Set<string>();
    for (let round = 0; round < 3 && out.size < n; round++) {
      for (const q of await this.sample(passage, n - out.size)) if (q && out.size < n) out.add(q);
    }
    return [...out];
  }

  private async sample(passage: string, n: number): Promise<string[]> {
    const o = this.opts;
    const enc = await this.tokenizer.encodeBatch(new Array(n).fill(`${o.prefix ?? ''}${passage}`), undefined, { maxLength: o.maxInputLength ?? 512 });
    const ids = tf.tensor2d(enc.inputIds, [enc.batch, enc.seqLen], 'int32');
    const mask = tf.tensor2d(enc.attentionMask, [enc.batch, enc.seqLen], 'int32');
    let rows: number[][];
    try {
      rows = await generate(this.model, ids, mask, {
        maxNewTokens: o.maxNewTokens ?? 64,
        topK: o.topK ?? 10,
        topP: o.topP,
        temperature: o.temperature,
        eosTokenId: o.eosTokenId,
        useCache: o.useCache,
        doSample: true,
        seed: (o.seed ?? 42) + 7919 * this.calls++,
      });
    } finally {
      tf.dispose([ids, mask]);
    }
    return (await Promise.all(rows.map((r) => this.tokenizer.decode(r, { skipSpecialTokens: true })))).map((t) => t.trim());
  }
}
