// Autoregressive decoding for LlamaModel: greedy or seeded sampling (temperature, top-k, top-p),
// batched with left padding (positions from the mask, as HF's generate()), with or without the
// key/value cache. With the cache each step runs one token; without it the whole sequence again.
import * as tf from '@tensorflow/tfjs-core';
import { SeededRandom } from '../../utils/random.js';
import { KVCache, positionsFromMask, type LlamaModel } from './model.js';
import { argmax, sampleToken } from '../common/sampling.js';

export interface GenerateOptions {
  maxNewTokens: number;
  /** Reuse past keys/values (default true). Same tokens either way; the cache is faster. */
  useCache?: boolean;
  /** Sample instead of taking the argmax (default false). */
  doSample?: boolean;
  /** Logits are divided by this before top-k/top-p (default 1). */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 = off). */
  topP?: number;
  /** Seed of the sampling stream (default 0). */
  seed?: number;
  /** Stop a row at this token (default: the config's eos_token_id; null: never). */
  eosTokenId?: number | number[] | null;
  /** Left-padding id for prompts of different lengths and for finished rows (default: pad, else eos, else 0). */
  padTokenId?: number;
  /** Also return each step's logits per row. */
  outputScores?: boolean;
}

export interface GenerateResult {
  /** Prompt + new tokens per row (unpadded). */
  sequences: number[][];
  /** New tokens per row (up to and including EOS). */
  newTokens: number[][];
  /** scores[step][row] = logits over the vocabulary, when asked for. */
  scores?: Float32Array[][];
}

/** The token to emit from one row of logits (greedy or sampled). */
export function pickToken(logits: ArrayLike<number>, opts: GenerateOptions, rng: SeededRandom | null): number {
  if (!opts.doSample || !rng) return argmax(logits);
  const t = opts.temperature ?? 1;
  if (!(t > 0)) throw new Error(`temperature must be > 0, got ${t}`);
  return sampleToken(logits, rng, opts);
}

export async function generate(model: LlamaModel, prompts: number[][], opts: GenerateOptions): Promise<GenerateResult> {
  const c = model.config;
  if (!prompts.length || prompts.some((p) => !p.length)) throw new Error('generate: every prompt needs at least one token');
  const eosOpt = opts.eosTokenId === undefined ? c.eos_token_id : opts.eosTokenId;
  const eos = new Set(eosOpt === null ? [] : Array.isArray(eosOpt) ? eosOpt : [eosOpt]);
  const pad = opts.padTokenId ?? c.pad_token_id ?? (eos.size ? [...eos][0] : 0);
  const useCache = opts.useCache ?? true;
  const rng = opts.doSample ? new SeededRandom(opts.seed ?? 0) : null;
  const B = prompts.length;
  const L = Math.max(...prompts.map((p) => p.length));
  // Left padding keeps every row's last token at the same (last) column.
  const ids: number[][] = prompts.map((p) => [...new Array(L - p.length).fill(pad), ...p]);
  const mask: number[][] = prompts.map((p) => [...new Array(L - p.length).fill(0), ...p.map(() => 1)]);
  const done = new Array<boolean>(B).fill(false);
  const newTokens: number[][] = prompts.map(() => []);
  const scores: Float32Array[][] = [];
  const cache = useCache ? new KVCache(c.num_hidden_layers) : null;
  try {
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const last = tf.tidy(() => {
        const maskT = tf.tensor2d(mask, undefined, 'int32');
        const pos = positionsFromMask(maskT);
        const T = ids[0].length;
        // With a cache, only the tokens it has not seen yet are run.
        const start = cache ? cache.length : 0;
        const inputIds = tf.tensor2d(ids.map((r) => r.slice(start)), undefined, 'int32');
        const positionIds = tf.slice(pos, [0, start], [B, T - start]) as tf.Tensor2D;
        const out = model.forward({ inputIds, attentionMask: maskT, positionIds }, { cache: cache ?? undefined });
        const [, S, H] = out.lastHiddenState.shape;
        const h = tf.reshape(tf.slice(out.lastHiddenState, [0, S - 1, 0], [B, 1, H]), [B, H]);
        return model.logits(h);
      });
      const vals = (await last.data()) as Float32Array;
      last.dispose();
      const V = vals.length / B;
      const stepScores: Float32Array[] = [];
      for (let b = 0; b < B; b++) {
        const row = vals.subarray(b * V, (b + 1) * V);
        if (opts.outputScores) stepScores.push(row.slice());
        const tok = done[b] ? pad : pickToken(row, opts, rng);
        if (!done[b]) newTokens[b].push(tok);
        if (eos.has(tok)) done[b] = true;
        ids[b].push(tok);
        mask[b].push(1);
      }
      if (opts.outputScores) scores.push(stepScores);
      if (done.every((d) => d)) break;
    }
  } finally {
    cache?.dispose();
  }
  const result: GenerateResult = { sequences: prompts.map((p, b) => [...p, ...newTokens[b]]), newTokens };
  if (opts.outputScores) result.scores = scores;
  return result;
}
