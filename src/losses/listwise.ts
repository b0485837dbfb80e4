// Listwise losses: a distribution over the list's items compared with one derived from the labels,
// or the Plackett-Luce likelihood of the label order. Unreduced form: one value per list, weight =
// the list weight (label sum for TF-Ranking's softmax, else 1) × the list's sample weight.
import * as tf from '@tensorflow/tfjs-core';
import type { RankingLoss } from './types.js';
import { SeededRandom } from '../utils/random.js';
import { InputError } from '../utils/errors.js';
import { scoreRanks, toLambdaWeight, type LambdaWeight, type LambdaWeightSpec } from './lambda-weights.js';
import { defineLoss, itemWeights, LIST_ALIASES, listWeights, reductionSpec, resolveReduction, type Reduction, type SampleWeights } from './reduction.js';
import {
  applyPermutation,
  checkOptions,
  listLengths,
  maskedLabels,
  maskedLogits,
  nonEmptyLists,
  PAD_LOGIT,
  preferredPairs,
  safeDiv,
  sanitize,
  sortPermutation,
  type SortKey,
} from './utils.js';
import { hostLoss, softmaxHost } from './fast.js';

/**
 * List reductions; older names (still accepted): 'mean' = SUM_OVER_BATCH_SIZE (mean over non-empty
 * lists), 'sum' = SUM, 'sum_by_nonzero_weights' = SUM_BY_NONZERO_WEIGHTS, 'weighted_mean' = MEAN.
 */
export type ListReduction = Reduction | 'mean' | 'sum' | 'sum_by_nonzero_weights' | 'weighted_mean';

/**
 * TF-Ranking's GumbelSampler: every list is repeated `sampleSize` times with scores replaced by
 * log(softmax((s + g)/temperature) + 1e-20), g ~ Gumbel(0, 1) drawn from a seeded generator advanced
 * on every call (see gumbelNoise for the draw order); the loss is computed (and reduced) over the
 * sampled lists; perList averages each list's samples.
 */
export interface GumbelOptions {
  /** Samples per list. Default 8. */
  sampleSize?: number;
  /** Gumbel-softmax temperature. Default 1. */
  temperature?: number;
  /** Seed of the noise generator. Default 0. */
  seed?: number;
}

/**
 * Gumbel noise −log(−log(u + 1e-20) + 1e-20), u uniform in [0, 1) from `rng`, as [lists, samples, n]
 * row-major: drawn for the real items only, list by list (non-empty lists), sample by sample, item
 * by item — so padding, wherever it sits, does not change which draw an item gets. Padded slots 0.
 */
export function gumbelNoise(rng: SeededRandom, mask: ArrayLike<number>, lists: number, samples: number, n: number): Float32Array {
  const out = new Float32Array(lists * samples * n);
  for (let b = 0; b < lists; b++)
    for (let a = 0; a < samples; a++)
      for (let i = 0; i < n; i++) if (mask[b * n + i] > 0) out[(b * samples + a) * n + i] = -Math.log(-Math.log(rng.next() + 1e-20) + 1e-20);
  return out;
}

/** The sampled batch of a Gumbel sampler: [lists·samples, n] scores, labels, mask and weights. */
export function gumbelSample(
  scores: tf.Tensor2D,
  labels: tf.Tensor2D,
  mask: tf.Tensor2D,
  weights: SampleWeights,
  noise: Float32Array,
  samples: number,
  temperature: number,
): { scores: tf.Tensor2D; labels: tf.Tensor2D; mask: tf.Tensor2D; weights: SampleWeights } {
  const [b, n] = scores.shape;
  const rep = (x: tf.Tensor2D) => tf.reshape(tf.tile(tf.expandDims(x, 1), [1, samples, 1]), [b * samples, n]) as tf.Tensor2D;
  const m = rep(mask);
  const s = tf.add(rep(sanitize(scores, mask)), tf.tensor2d(noise, [b * samples, n]));
  const logp = tf.log(tf.add(tf.softmax(maskedLogits(tf.div(s, temperature) as tf.Tensor2D, m)), 1e-20)) as tf.Tensor2D;
  let w: SampleWeights;
  if (weights) w = weights.rank === 1 ? (tf.reshape(tf.tile(tf.expandDims(weights, 1), [1, samples]), [b * samples]) as tf.Tensor1D) : rep(weights as tf.Tensor2D);
  return { scores: sanitize(logp, m), labels: rep(labels), mask: m, weights: w };
}

const GUMBEL_SPEC = 'object' as const;

export function gumbelSettings(g: GumbelOptions | undefined, loss: string): Required<GumbelOptions> | null {
  if (!g) return null;
  checkOptions(`${loss}.gumbel`, g, { sampleSize: 'integer', temperature: 'positive', seed: 'number' });
  return { sampleSize: g.sampleSize ?? 8, temperature: g.temperature ?? 1, seed: g.seed ?? 0 };
}

/**
 * Wraps an unreduced list loss with TF-Ranking's Gumbel sampling (see GumbelOptions); the returned
 * unreduced form is over the sampled lists, with the sampled mask for the reduction.
 */
export function withGumbel(
  inner: (s: tf.Tensor2D, y: tf.Tensor2D, m: tf.Tensor2D, w: SampleWeights) => ReturnType<ListUnreduced>,
  g: Required<GumbelOptions>,
): ListUnreduced {
  const rng = new SeededRandom(g.seed);
  return (scores, labels, mask, weights) => {
    const [b, n] = scores.shape;
    const noise = gumbelNoise(rng, mask.dataSync(), b, g.sampleSize, n);
    const e = gumbelSample(scores, labels, mask, weights, noise, g.sampleSize, g.temperature);
    return { ...inner(e.scores, e.labels, e.mask, e.weights), mask: e.mask, samples: g.sampleSize };
  };
}

type ListUnreduced = (
  s: tf.Tensor2D,
  y: tf.Tensor2D,
  m: tf.Tensor2D,
  w: SampleWeights,
) => { values: tf.Tensor; weights: tf.Tensor; present: tf.Tensor; components?: Record<string, { values: tf.Tensor; weights: tf.Tensor; present: tf.Tensor }>; mask?: tf.Tensor2D; samples?: number };

export interface SoftmaxCrossEntropyOptions {
  /** Scores are divided by this before the softmax. Default 1. */
  temperature?: number;
  /**
   * Target distribution: 'linear' (default; TF-Ranking) y_i / Σ y (negative labels count as 0);
   * 'softmax' softmax(y / labelTemperature) (allRank / sentence-transformers ListNet).
   */
  labelNormalization?: 'linear' | 'softmax';
  /** Labels are divided by this before a 'softmax' normalisation. Default 1. */
  labelTemperature?: number;
  /**
   * 'label_sum' (default; TF-Ranking): a list weighs Σ y; 'uniform': 1. Either way a list without a
   * positive label (or an empty list) weighs 0.
   */
  listWeights?: 'label_sum' | 'uniform';
  /**
   * A DCG-family lambda weight (dcg / ndcg): labels are replaced by gain(y) · discount(rank by
   * score) before normalising, as TF-Ranking's SoftmaxLoss does with a DCGLambdaWeight.
   */
  lambdaWeight?: LambdaWeight | LambdaWeightSpec;
  /** Gumbel-sampled scores (TF-Ranking GumbelSampler). */
  gumbel?: GumbelOptions;
  /** Default 'SUM_BY_NONZERO_WEIGHTS' (TF-Ranking's v1 reduction). */
  reduction?: ListReduction;
}

export interface Poly1SoftmaxOptions extends SoftmaxCrossEntropyOptions {
  /** ε in CE + ε(1 − p_t), p_t = Σ target_i · softmax(s)_i. Default 1. */
  epsilon?: number;
}

const SOFTMAX_SPEC = {
  temperature: 'positive',
  labelNormalization: ['linear', 'softmax'],
  labelTemperature: 'positive',
  listWeights: ['label_sum', 'uniform'],
  lambdaWeight: 'object',
  gumbel: GUMBEL_SPEC,
  reduction: reductionSpec(LIST_ALIASES),
} as const;

/**
 * Softmax cross-entropy with TF-Ranking semantics (Bruch et al. 2019; tfr.keras.losses.SoftmaxLoss):
 * labels normalised to sum 1 per list, list weight = label sum, reduction SUM_BY_NONZERO_WEIGHTS.
 * Lists whose labels are all 0 contribute nothing. Per-item sample weights multiply the labels
 * (TF-Ranking), per-list ones the list weight.
 */
export function softmaxCrossEntropy(opts: SoftmaxCrossEntropyOptions = {}): RankingLoss {
  checkOptions('softmax_cross_entropy', opts, SOFTMAX_SPEC);
  return poly1Body(opts, 0, 'softmax_cross_entropy');
}

/** Poly-1 softmax loss CE + ε(1 − p_t) (Leng et al. 2022; TF-Ranking PolyOneSoftmaxLoss). */
export function poly1Softmax(opts: Poly1SoftmaxOptions = {}): RankingLoss {
  checkOptions('poly1_softmax', opts, { ...SOFTMAX_SPEC, epsilon: 'number' });
  return poly1Body(opts, opts.epsilon ?? 1, 'poly1_softmax');
}

function poly1Body(opts: SoftmaxCrossEntropyOptions, epsilon: number, name: string): RankingLoss {
  const t = opts.temperature ?? 1;
  const lw = toLambdaWeight(opts.lambdaWeight);
  if (lw && !lw.individualWeights) throw new InputError(`lambda weight '${lw.type}' has no item weights; ${name} takes 'dcg' or 'ndcg' (TF-Ranking applies only DCGLambdaWeight to the softmax loss)`, { field: 'lossOptions.lambdaWeight' });
  if (lw && (lw.type !== 'dcg' && lw.type !== 'ndcg')) throw new InputError(`${name} takes a 'dcg' or 'ndcg' lambda weight, not '${lw.type}'`, { field: 'lossOptions.lambdaWeight' });
  if (lw && opts.labelNormalization === 'softmax') throw new InputError(`a lambda weight needs labelNormalization 'linear'`, { field: 'lossOptions.lambdaWeight' });
  const body: ListUnreduced = (scores, labels, mask, weights) => {
    const z = tf.div(sanitize(scores, mask), t) as tf.Tensor2D;
    let y = tf.relu(maskedLabels(labels, mask)) as tf.Tensor2D;
    if (lw?.individualWeights) y = lw.individualWeights(y, scoreRanks(z, labels, mask), mask);
    let listW: tf.Tensor1D | null = null;
    if (weights && opts.labelNormalization !== 'softmax') y = tf.mul(y, itemWeights(weights, mask)) as tf.Tensor2D;
    const labelSum = tf.sum(y, 1) as tf.Tensor1D;
    const target =
      opts.labelNormalization === 'softmax'
        ? labelSoftmax(labels, mask, opts.labelTemperature ?? 1)
        : (safeDiv(y, tf.expandDims(labelSum, 1)) as tf.Tensor2D);
    if (weights && opts.labelNormalization === 'softmax') listW = listWeights(weights, mask, target);
    const logq = maskedLogSoftmax(z, mask);
    const hasTarget = tf.sum(target, 1);
    let w: tf.Tensor = opts.listWeights === 'uniform' ? tf.cast(tf.greater(hasTarget, 0), 'float32') : labelSum;
    // 'uniform' with per-list weights: the list weighs its weight (item weights act through the labels).
    if (weights && weights.rank === 1 && opts.listWeights === 'uniform' && opts.labelNormalization !== 'softmax') w = tf.mul(w, weights);
    // A softmax target exists for any non-empty list; 'label_sum' still weighs all-zero lists 0.
    w = tf.mul(w, nonEmptyLists(mask));
    if (listW) w = tf.mul(w, listW);
    const present = nonEmptyLists(mask);
    const ce = tf.neg(tf.sum(tf.mul(target, logq), 1));
    if (epsilon === 0) return { values: ce, weights: w, present };
    const poly = tf.mul(epsilon, tf.sub(1, tf.sum(tf.mul(target, tf.exp(logq)), 1)));
    return {
      values: tf.add(ce, poly),
      weights: w,
      present,
      components: { cross_entropy: { values: ce, weights: w, present }, poly1: { values: poly, weights: w, present } },
    };
  };
  const g = gumbelSettings(opts.gumbel, name);
  const reduction = resolveReduction(opts.reduction, 'SUM_BY_NONZERO_WEIGHTS', LIST_ALIASES);
  // Closed form on the host for TF-Ranking's plain softmax loss (fast.ts).
  const plain = !g && !lw && epsilon === 0 && opts.labelNormalization !== 'softmax';
  const hostOpts = { temperature: t, uniform: opts.listWeights === 'uniform', reduction };
  return defineLoss({
    reduction,
    fast: plain ? (scores, labels, mask, weights) => hostLoss(scores, labels, mask, weights, (h) => softmaxHost(h, hostOpts)) : undefined,
    unreduced: g ? withGumbel(body, g) : body,
  });
}

/** log softmax over real items; padded entries are 0 (and get no gradient). */
export function maskedLogSoftmax(logits: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  const l = tf.logSoftmax(maskedLogits(logits, mask));
  return sanitize(l as tf.Tensor2D, mask, 0);
}

/** softmax(y / T) over real items, 0 at padding. */
function labelSoftmax(labels: tf.Tensor2D, mask: tf.Tensor2D, t: number): tf.Tensor2D {
  return sanitize(tf.softmax(maskedLogits(tf.div(sanitize(labels, mask), t) as tf.Tensor2D, mask)) as tf.Tensor2D, mask, 0);
}

export interface UniqueSoftmaxOptions {
  temperature?: number;
  /** Default 'SUM_OVER_BATCH_SIZE' (TF-Ranking Keras' default over non-empty lists). */
  reduction?: ListReduction;
}

/**
 * Unique-rating softmax (Zhu & Klabjan 2020; TF-Ranking UniqueSoftmaxLoss): Σ_i (2^{y_i} − 1) ·
 * [log(e^{s_i} + Σ_{j: y_j < y_i} e^{s_j}) − s_i] — each item against the items labelled below it.
 * Gains are 2^y − 1 without rescaling, so labels above ~120 overflow float32, as in TF-Ranking.
 */
export function uniqueSoftmax(opts: UniqueSoftmaxOptions = {}): RankingLoss {
  checkOptions('unique_softmax', opts, { temperature: 'positive', reduction: reductionSpec(LIST_ALIASES) });
  const t = opts.temperature ?? 1;
  return defineLoss({
    reduction: resolveReduction(opts.reduction, 'SUM_OVER_BATCH_SIZE', LIST_ALIASES),
    unreduced: (scores, labels, mask, weights) => {
      const n = scores.shape[1];
      const s = tf.div(sanitize(scores, mask), t) as tf.Tensor2D;
      const y = tf.relu(maskedLabels(labels, mask)) as tf.Tensor2D;
      const below = preferredPairs(labels, mask); // [b, i, j] = y_i > y_j
      const self = tf.expandDims(tf.eye(n), 0);
      const member = tf.greater(tf.add(below, self), 0);
      const rows = tf.where(member, tf.tile(tf.expandDims(s, 1), [1, n, 1]), tf.fill([scores.shape[0], n, n], PAD_LOGIT));
      const perItem = tf.sub(tf.logSumExp(rows, 2), s);
      const gains = tf.where(tf.greater(mask, 0), tf.sub(tf.pow(2, y), 1), tf.zerosLike(y));
      const values = tf.sum(tf.mul(perItem, gains), 1);
      return { values, weights: listWeights(weights, mask, labels), present: nonEmptyLists(mask) };
    },
  });
}

export interface ListNetOptions {
  /** Scores are divided by this before the softmax. Default 1. */
  temperature?: number;
  /** Labels are divided by this before their softmax (a soft-target sharpness). Default 1. */
  labelTemperature?: number;
  /** allRank's ε inside the log: log(softmax(s) + ε) (allRank: 1e-10). Default 0: exact log-softmax. */
  logEpsilon?: number;
  /** Default 'SUM_OVER_BATCH_SIZE' (alias 'mean': mean over non-empty lists, allRank). */
  reduction?: ListReduction;
}

/**
 * ListNet (Cao et al. 2007; allRank listNet, sentence-transformers ListNetLoss): cross-entropy
 * −Σ softmax(y/T_y)_i log softmax(s/T)_i, every non-empty list weighing 1, mean over lists.
 */
export function listNet(opts: ListNetOptions = {}): RankingLoss {
  checkOptions('listnet', opts, { temperature: 'positive', labelTemperature: 'positive', logEpsilon: 'nonnegative', reduction: reductionSpec(LIST_ALIASES) });
  const t = opts.temperature ?? 1;
  const eps = opts.logEpsilon ?? 0;
  return defineLoss({
    reduction: resolveReduction(opts.reduction, 'SUM_OVER_BATCH_SIZE', LIST_ALIASES),
    unreduced: (scores, labels, mask, weights) => {
      const target = labelSoftmax(labels, mask, opts.labelTemperature ?? 1);
      const z = tf.div(scores, t) as tf.Tensor2D;
      const logq = eps > 0 ? sanitize(tf.log(tf.add(tf.softmax(maskedLogits(z, mask)), eps)) as tf.Tensor2D, mask) : maskedLogSoftmax(z, mask);
      const values = tf.neg(tf.sum(tf.mul(target, logq), 1));
      const present = nonEmptyLists(mask);
      return { values, weights: tf.mul(present, listWeights(weights, mask, target)), present };
    },
  });
}

/**
 * How items with equal labels are ordered for the Plackett-Luce likelihood:
 * - 'score' (default): higher score first — the most likely order consistent with the labels, so
 *   the loss does not depend on input order or on a random draw;
 * - 'input': input order (sentence-transformers' respect_input_order);
 * - 'random': a seeded random order per call (TF-Ranking shuffles with a fixed op seed, allRank
 *   permutes columns randomly).
 */
export type TieRule = 'score' | 'input' | 'random';

export interface ListMLEOptions {
  /** Scores are divided by this. Default 1. */
  temperature?: number;
  ties?: TieRule;
  /** Seed of the 'random' tie rule's generator (advanced on every call). Default 0. */
  seed?: number;
  /**
   * allRank's ε: log(Σ_{j≥r} e^{s_j − m} + ε) with m the list's largest score (allRank: 1e-10).
   * Default 0: exact log-sum-exp.
   */
  logEpsilon?: number;
  /** TF-Ranking's ListMLELambdaWeight (type 'listmle'): term at 1-based position r × discount(r). */
  lambdaWeight?: LambdaWeight | LambdaWeightSpec;
  /** Default 'SUM_OVER_BATCH_SIZE' (alias 'mean': mean over non-empty lists; allRank, TF-Ranking Keras). */
  reduction?: ListReduction;
}

export interface PListMLEOptions extends Omit<ListMLEOptions, 'lambdaWeight'> {
  /**
   * Weight of the term at 0-based position r of a list with n real items: 'exponential' (default)
   * 2^(n−r) − 1 normalised to sum 1 (Lan et al. 2014; sentence-transformers PListMLELoss), or a
   * function (r, n) → weight, e.g. TF-Ranking's ListMLELambdaWeight(rank_discount_fn) is
   * (r) => rank_discount_fn(r + 1).
   */
  positionWeights?: 'exponential' | ((r: number, n: number) => number);
}

const LISTMLE_SPEC = {
  temperature: 'positive',
  ties: ['score', 'input', 'random'],
  seed: 'number',
  logEpsilon: 'nonnegative',
  reduction: reductionSpec(LIST_ALIASES),
} as const;

/**
 * ListMLE (Xia et al. 2008): negative Plackett-Luce log-likelihood of the label order,
 * Σ_r [log Σ_{j≥r} e^{s_(j)} − s_(r)] over real items (padding excluded from every normaliser),
 * computed with a log-sum-exp per position.
 */
export function listMLE(opts: ListMLEOptions = {}): RankingLoss {
  checkOptions('listmle', opts, { ...LISTMLE_SPEC, lambdaWeight: 'object' });
  const lw = toLambdaWeight(opts.lambdaWeight);
  if (lw && lw.type !== 'listmle') throw new InputError(`listmle takes a 'listmle' lambda weight, not '${lw.type}'`, { field: 'lossOptions.lambdaWeight' });
  return plackettLuce(opts, null, lw ?? null);
}

/** Position-aware ListMLE (p-ListMLE; Lan et al. 2014): term r weighted by positionWeights(r, n). */
export function pListMLE(opts: PListMLEOptions = {}): RankingLoss {
  checkOptions('p_listmle', opts, { ...LISTMLE_SPEC, positionWeights: { anyOf: [['exponential'], 'function'] } });
  const pw = opts.positionWeights ?? 'exponential';
  // (2^(n−r) − 1)/Σ_i (2^(n−i) − 1) = (2^(n−r) − 1)/(2^(n+1) − 2 − n), scaled by 2^(−n) so long lists do not overflow.
  const fn = pw === 'exponential' ? (r: number, n: number) => (2 ** -r - 2 ** -n) / (2 - (n + 2) * 2 ** -n) : pw;
  return plackettLuce(opts, fn, null);
}

function plackettLuce(opts: ListMLEOptions, weightFn: ((r: number, n: number) => number) | null, lw: LambdaWeight | null): RankingLoss {
  const t = opts.temperature ?? 1;
  const ties = opts.ties ?? 'score';
  const eps = opts.logEpsilon ?? 0;
  const rng = new SeededRandom(opts.seed ?? 0);
  return defineLoss({
    reduction: resolveReduction(opts.reduction, 'SUM_OVER_BATCH_SIZE', LIST_ALIASES),
    unreduced: (scores, labels, mask, weights) => {
      const [b, n] = scores.shape;
      const s = tf.div(sanitize(scores, mask), t) as tf.Tensor2D;
      const keys: SortKey[] = [{ x: labels, descending: true }];
      if (ties === 'score') keys.push({ x: s, descending: true });
      else if (ties === 'random') keys.push({ x: tf.tensor2d(Array.from({ length: b * n }, () => rng.next()), [b, n]), descending: true });
      const p = sortPermutation(keys, mask);
      const sorted = applyPermutation(p, s);
      const len = listLengths(mask);
      const pos = tf.range(0, n, 1, 'float32');
      const realAt = tf.less(tf.expandDims(pos, 0), tf.expandDims(len, 1)); // [b, r]
      let term: tf.Tensor2D;
      if (eps > 0) {
        // allRank: log(cumsum_{j≥r} exp(s_(j) − m) + ε) − (s_(r) − m), m = max (its gradient included).
        const x = tf.where(realAt, sorted, tf.fill([b, n], PAD_LOGIT));
        const shifted = tf.sub(x, tf.max(x, 1, true));
        const cs = tf.cumsum(tf.exp(shifted), 1, false, true);
        term = tf.sub(tf.log(tf.add(cs, eps)), tf.where(realAt, shifted, tf.zerosLike(shifted))) as tf.Tensor2D;
      } else {
        // M[b, r, j] = s_(j) for real j ≥ r, else PAD: row r's log-sum-exp is the PL normaliser.
        const upper = tf.greaterEqual(tf.reshape(pos, [1, 1, n]), tf.reshape(pos, [1, n, 1]));
        const keep = tf.logicalAnd(upper, tf.expandDims(realAt, 1));
        const m = tf.where(keep, tf.tile(tf.expandDims(sorted, 1), [1, n, 1]), tf.fill([b, n, n], PAD_LOGIT));
        term = tf.sub(tf.logSumExp(m, 2), sorted) as tf.Tensor2D;
      }
      term = tf.where(realAt, term, tf.zerosLike(term)) as tf.Tensor2D;
      if (weightFn) {
        // Weights W[len][r] for every possible number of real items, picked per list.
        const rows = Array.from({ length: n + 1 }, (_, k) => Array.from({ length: n }, (_, r) => (r < k ? weightFn(r, k) : 0)));
        term = tf.mul(term, tf.gather(tf.tensor2d(rows), tf.cast(len, 'int32'))) as tf.Tensor2D;
      }
      if (lw?.individualWeights) {
        const positionRanks = tf.tile(tf.expandDims(tf.range(1, n + 1, 1, 'float32'), 0), [b, 1]) as tf.Tensor2D;
        const realMask = tf.cast(realAt, 'float32') as tf.Tensor2D;
        term = tf.mul(term, lw.individualWeights(applyPermutation(p, maskedLabels(labels, mask)), positionRanks, realMask)) as tf.Tensor2D;
      }
      const present = nonEmptyLists(mask);
      return { values: tf.sum(term, 1), weights: tf.mul(present, listWeights(weights, mask, labels)), present };
    },
  });
}

