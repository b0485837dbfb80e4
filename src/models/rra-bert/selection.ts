// Token Selection (RRA-BERT; our design of it): which document tokens carry a query term. For each
// document token, the cosine similarity to every query token on the input word-piece embeddings or
// on a chosen layer's hidden states; a token is selected when it is an exact word-piece match of a
// query token, when its best similarity reaches `threshold`, or when it is among the `topK` most
// similar document tokens of some query token. Special tokens and padding are never selected.
//
// The selection is computed on plain numbers read out of the tensors, so the mask it yields is a
// constant for autodiff: no gradient flows through the choice of tokens (tfjs has no stopGradient).
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../../utils/errors.js';

export interface TokenSelectionConfig {
  /**
   * Vectors compared: 'embeddings' = the word-piece input embeddings (before position/type
   * embeddings and LayerNorm); a number i = hidden states of layer i (0 = embedding output,
   * num_hidden_layers = last layer). Default 'embeddings'.
   */
  source?: 'embeddings' | number;
  /** Select a document token whose best cosine similarity to a query token is ≥ this (default 0.5; null = off). */
  threshold?: number | null;
  /** Also select, for every query token, its k most similar document tokens (default 0 = off). */
  topK?: number;
  /** Exact word-piece matches of a query token are always selected (default true). */
  exactMatch?: boolean;
}

export const DEFAULT_SELECTION: Required<TokenSelectionConfig> = { source: 'embeddings', threshold: 0.5, topK: 0, exactMatch: true };

/** Token ids and segments of a padded batch `[CLS] q [SEP] d [SEP] [PAD]…`, row-major [batch, seqLen]. */
export interface SelectionTokens {
  inputIds: ArrayLike<number>;
  /** 0 = query segment, 1 = document segment. */
  tokenTypeIds: ArrayLike<number>;
  attentionMask: ArrayLike<number>;
  batch: number;
  seqLen: number;
}

/** Why a token was selected. */
export const SelectReason = { None: 0, Exact: 1, Threshold: 2, TopK: 3 } as const;
export type SelectReason = (typeof SelectReason)[keyof typeof SelectReason];
/** Names of the SelectReason codes, by code. */
export const SELECT_REASON_NAMES = ['-', 'exact', 'threshold', 'top-k'] as const;

export interface TokenSelection {
  batch: number;
  seqLen: number;
  /** 1 for selected document tokens, else 0: [batch·seqLen]. */
  mask: Float32Array;
  /** Position of the query token a selected token matched; -1 when not selected. */
  matched: Int32Array;
  /** Position of the most similar query token, for every document token (-1 elsewhere). */
  nearest: Int32Array;
  /** Cosine similarity to `nearest` (to `matched` for exact matches); NaN outside the document. */
  similarity: Float32Array;
  reason: Uint8Array;
}

/** Ids that are never selected and never count as query terms ([CLS], [SEP], [PAD], [MASK], [UNK]). */
export function specialTokenIds(tok: { inner: { tokenToId(t: string): number | null | undefined } }): number[] {
  return ['[CLS]', '[SEP]', '[PAD]', '[MASK]', '[UNK]', '<pad>', '</s>', '<s>', '<unk>']
    .map((t) => tok.inner.tokenToId(t))
    .filter((x): x is number => typeof x === 'number');
}

function checkConfig(cfg: TokenSelectionConfig): Required<TokenSelectionConfig> {
  const c = { ...DEFAULT_SELECTION, ...cfg };
  if (c.threshold !== null && !(c.threshold >= -1 && c.threshold <= 1)) {
    throw new InputError(`selection threshold must be a cosine in [-1, 1] or null, got ${c.threshold}`, { field: 'selection.threshold' });
  }
  if (!Number.isInteger(c.topK) || c.topK < 0) throw new InputError(`selection topK must be an integer ≥ 0, got ${c.topK}`, { field: 'selection.topK' });
  return c;
}

/**
 * Selects document tokens from `vectors` [batch·seqLen·dim] (row-major) as described at the top.
 * `specialIds` are never selected and never act as query terms.
 */
export function selectTokens(vectors: ArrayLike<number>, dim: number, tokens: SelectionTokens, specialIds: Iterable<number>, config: TokenSelectionConfig = {}): TokenSelection {
  const cfg = checkConfig(config);
  const { batch: B, seqLen: S } = tokens;
  if (vectors.length !== B * S * dim) throw new Error(`selectTokens: ${vectors.length} values, expected ${B}·${S}·${dim}`);
  const special = new Set(specialIds);
  const n = B * S;
  const out: TokenSelection = {
    batch: B,
    seqLen: S,
    mask: new Float32Array(n),
    matched: new Int32Array(n).fill(-1),
    nearest: new Int32Array(n).fill(-1),
    similarity: new Float32Array(n).fill(NaN),
    reason: new Uint8Array(n),
  };
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += vectors[i * dim + k] ** 2;
    norms[i] = Math.sqrt(s);
  }
  // Zero vectors (e.g. the [PAD] embedding row) have similarity 0 to everything.
  const cos = (a: number, b: number) => {
    const d = norms[a] * norms[b];
    if (d === 0) return 0;
    let s = 0;
    for (let k = 0; k < dim; k++) s += vectors[a * dim + k] * vectors[b * dim + k];
    return s / d;
  };
  const ordinary = (i: number) => tokens.attentionMask[i] !== 0 && !special.has(tokens.inputIds[i]);
  for (let b = 0; b < B; b++) {
    const q: number[] = [];
    const d: number[] = [];
    for (let j = 0; j < S; j++) {
      const i = b * S + j;
      if (!ordinary(i)) continue;
      (tokens.tokenTypeIds[i] === 0 ? q : d).push(j);
    }
    if (q.length === 0 || d.length === 0) continue;
    // sim[di][qi]
    const sim = d.map((dj) => q.map((qj) => cos(b * S + dj, b * S + qj)));
    const select = (di: number, qi: number, why: SelectReason) => {
      const i = b * S + d[di];
      if (out.mask[i]) return;
      out.mask[i] = 1;
      out.matched[i] = q[qi];
      out.reason[i] = why;
      out.similarity[i] = sim[di][qi];
    };
    d.forEach((dj, di) => {
      const i = b * S + dj;
      let best = 0;
      for (let qi = 1; qi < q.length; qi++) if (sim[di][qi] > sim[di][best]) best = qi;
      out.nearest[i] = q[best];
      out.similarity[i] = sim[di][best];
      if (cfg.exactMatch) {
        const qi = q.findIndex((qj) => tokens.inputIds[b * S + qj] === tokens.inputIds[i]);
        if (qi >= 0) {
          select(di, qi, SelectReason.Exact);
          return;
        }
      }
      if (cfg.threshold !== null && sim[di][best] >= cfg.threshold) select(di, best, SelectReason.Threshold);
    });
    if (cfg.topK > 0) {
      q.forEach((_, qi) => {
        // Ties keep document order.
        const order = d.map((_, di) => di).sort((x, y) => sim[y][qi] - sim[x][qi] || x - y);
        for (const di of order.slice(0, cfg.topK)) select(di, qi, SelectReason.TopK);
      });
    }
  }
  return out;
}

/**
 * Token Selection on tensors. `vectors` [batch, seqLen, dim] may be inside a gradient scope: its
 * values are read out, and the returned mask tensor (float32 [batch, seqLen]) is a new constant.
 */
export function selectTokensFromTensor(
  vectors: tf.Tensor3D,
  tokens: SelectionTokens,
  specialIds: Iterable<number>,
  config: TokenSelectionConfig = {},
): { mask: tf.Tensor2D; selection: TokenSelection } {
  const [B, S, H] = vectors.shape;
  if (B !== tokens.batch || S !== tokens.seqLen) throw new Error(`selectTokensFromTensor: vectors [${vectors.shape}] do not match tokens [${tokens.batch}, ${tokens.seqLen}]`);
  const selection = selectTokens(vectors.dataSync(), H, tokens, specialIds, config);
  return { mask: tf.tensor2d(selection.mask, [B, S]), selection };
}
