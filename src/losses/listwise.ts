// Listwise losses: a distribution over the list's items compared with one derived from the labels,
// or the Plackett-Luce likelihood of the label order.
import * as tf from '@tensorflow/tfjs-core';
import type { LossResult, RankingLoss } from './types.js';
import { SeededRandom } from '../training/random.js';
import {
  applyPermutation,
  checkOptions,
  LIST_REDUCTIONS,
  listLengths,
  maskedLabels,
  maskedLogits,
  nonEmptyLists,
  PAD_LOGIT,
  reduceLists,
  safeDiv,
  sanitize,
  sortPermutation,
  type ListReduction,
  type SortKey,
} from './utils.js';

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
  /** Default 'sum_by_nonzero_weights' (TF-Ranking's v1 reduction). */
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
  reduction: LIST_REDUCTIONS,
} as const;

/**
 * Softmax cross-entropy with TF-Ranking semantics (Bruch et al. 2019; tfr.keras.losses.SoftmaxLoss):
 * labels normalised to sum 1 per list, list weight = label sum, reduction SUM_BY_NONZERO_WEIGHTS.
 * Lists whose labels are all 0 contribute nothing.
 */
export function softmaxCrossEntropy(opts: SoftmaxCrossEntropyOptions = {}): RankingLoss {
  checkOptions('softmax_cross_entropy', opts, SOFTMAX_SPEC);
  return poly1Body(opts, 0);
}

/** Poly-1 softmax loss CE + ε(1 − p_t) (Leng et al. 2022; TF-Ranking PolyOneSoftmaxLoss). */
export function poly1Softmax(opts: Poly1SoftmaxOptions = {}): RankingLoss {
  checkOptions('poly1_softmax', opts, { ...SOFTMAX_SPEC, epsilon: 'number' });
  return poly1Body(opts, opts.epsilon ?? 1);
}

function poly1Body(opts: SoftmaxCrossEntropyOptions, epsilon: number): RankingLoss {
  const t = opts.temperature ?? 1;
  const reduction = opts.reduction ?? 'sum_by_nonzero_weights';
  return (scores, labels, mask): LossResult =>
    tf.tidy(() => {
      const y = tf.relu(maskedLabels(labels, mask)) as tf.Tensor2D;
      const labelSum = tf.sum(y, 1) as tf.Tensor1D;
      const target =
        opts.labelNormalization === 'softmax'
          ? labelSoftmax(labels, mask, opts.labelTemperature ?? 1)
          : (safeDiv(y, tf.expandDims(labelSum, 1)) as tf.Tensor2D);
      const logq = maskedLogSoftmax(tf.div(scores, t) as tf.Tensor2D, mask);
      const hasTarget = tf.sum(target, 1);
      let w = opts.listWeights === 'uniform' ? tf.cast(tf.greater(hasTarget, 0), 'float32') : labelSum;
      // A softmax target exists for any non-empty list; 'label_sum' still weighs all-zero lists 0.
      w = tf.mul(w, nonEmptyLists(mask)) as tf.Tensor1D;
      const keep = (x: tf.Tensor) => tf.where(tf.greater(w, 0), x, tf.zerosLike(x)) as tf.Tensor1D;
      const ce = keep(tf.neg(tf.sum(tf.mul(target, logq), 1)));
      if (epsilon === 0) return { loss: reduceLists(ce, w as tf.Tensor1D, mask, reduction), perList: ce };
      const poly = keep(tf.mul(epsilon, tf.sub(1, tf.sum(tf.mul(target, tf.exp(logq)), 1))));
      const perList = tf.add(ce, poly) as tf.Tensor1D;
      return {
        loss: reduceLists(perList, w as tf.Tensor1D, mask, reduction),
        perList,
        components: { cross_entropy: reduceLists(ce, w as tf.Tensor1D, mask, reduction), poly1: reduceLists(poly, w as tf.Tensor1D, mask, reduction) },
      };
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

export interface ListNetOptions {
  /** Scores are divided by this before the softmax. Default 1. */
  temperature?: number;
  /** Labels are divided by this before their softmax (a soft-target sharpness). Default 1. */
  labelTemperature?: number;
  /** Default 'mean' over non-empty lists (allRank). */
  reduction?: ListReduction;
}

/**
 * ListNet (Cao et al. 2007; allRank listNet, sentence-transformers ListNetLoss): cross-entropy
 * −Σ softmax(y/T_y)_i log softmax(s/T)_i, every non-empty list weighing 1, mean over lists.
 * allRank adds 1e-10 inside the log; this uses an exact log-softmax.
 */
export function listNet(opts: ListNetOptions = {}): RankingLoss {
  checkOptions('listnet', opts, { temperature: 'positive', labelTemperature: 'positive', reduction: LIST_REDUCTIONS });
  const t = opts.temperature ?? 1;
  return (scores, labels, mask): LossResult =>
    tf.tidy(() => {
      const target = labelSoftmax(labels, mask, opts.labelTemperature ?? 1);
      const logq = maskedLogSoftmax(tf.div(scores, t) as tf.Tensor2D, mask);
      const perList = tf.neg(tf.sum(tf.mul(target, logq), 1)) as tf.Tensor1D;
      return { loss: reduceLists(perList, nonEmptyLists(mask), mask, opts.reduction ?? 'mean'), perList };
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
  /** Default 'mean' over non-empty lists (allRank; TF-Ranking's Keras reduction). */
  reduction?: ListReduction;
}

export interface PListMLEOptions extends ListMLEOptions {
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
  reduction: LIST_REDUCTIONS,
} as const;

/**
 * ListMLE (Xia et al. 2008): negative Plackett-Luce log-likelihood of the label order,
 * Σ_r [log Σ_{j≥r} e^{s_(j)} − s_(r)] over real items (padding excluded from every normaliser),
 * computed with a log-sum-exp per position.
 */
export function listMLE(opts: ListMLEOptions = {}): RankingLoss {
  checkOptions('listmle', opts, LISTMLE_SPEC);
  return plackettLuce(opts, null);
}

/** Position-aware ListMLE (p-ListMLE; Lan et al. 2014): term r weighted by positionWeights(r, n). */
export function pListMLE(opts: PListMLEOptions = {}): RankingLoss {
  checkOptions('p_listmle', opts, { ...LISTMLE_SPEC, positionWeights: { anyOf: [['exponential'], 'function'] } });
  const pw = opts.positionWeights ?? 'exponential';
  const fn =
    pw === 'exponential'
      ? (r: number, n: number) => (2 ** (n - r) - 1) / (2 ** (n + 1) - 2 - n)
      : pw;
  return plackettLuce(opts, fn);
}

function plackettLuce(opts: ListMLEOptions, weightFn: ((r: number, n: number) => number) | null): RankingLoss {
  const t = opts.temperature ?? 1;
  const ties = opts.ties ?? 'score';
  const rng = new SeededRandom(opts.seed ?? 0);
  return (scores, labels, mask): LossResult => {
    const [b, n] = scores.shape;
    let noise: number[] | null = null;
    if (ties === 'random') noise = Array.from({ length: b * n }, () => rng.next());
    return tf.tidy(() => {
      const s = tf.div(sanitize(scores, mask), t) as tf.Tensor2D;
      const keys: SortKey[] = [{ x: labels, descending: true }];
      if (ties === 'score') keys.push({ x: s, descending: true });
      else if (noise) keys.push({ x: tf.tensor2d(noise, [b, n]), descending: true });
      const p = sortPermutation(keys, mask);
      const sorted = applyPermutation(p, s);
      const len = listLengths(mask);
      const pos = tf.range(0, n, 1, 'float32');
      const realAt = tf.less(tf.expandDims(pos, 0), tf.expandDims(len, 1)); // [b, r]
      // M[b, r, j] = s_(j) for real j ≥ r, else PAD: row r's log-sum-exp is the PL normaliser.
      const upper = tf.greaterEqual(tf.reshape(pos, [1, 1, n]), tf.reshape(pos, [1, n, 1]));
      const keep = tf.logicalAnd(upper, tf.expandDims(realAt, 1));
      const m = tf.where(keep, tf.tile(tf.expandDims(sorted, 1), [1, n, 1]), tf.fill([b, n, n], PAD_LOGIT));
      let term: tf.Tensor2D = tf.sub(tf.logSumExp(m, 2), sorted) as tf.Tensor2D;
      term = tf.where(realAt, term, tf.zerosLike(term)) as tf.Tensor2D;
      if (weightFn) {
        // Weights W[len][r] for every possible number of real items, picked per list.
        const rows = Array.from({ length: n + 1 }, (_, k) => Array.from({ length: n }, (_, r) => (r < k ? weightFn(r, k) : 0)));
        term = tf.mul(term, tf.gather(tf.tensor2d(rows), tf.cast(len, 'int32'))) as tf.Tensor2D;
      }
      const perList = tf.sum(term, 1) as tf.Tensor1D;
      return { loss: reduceLists(perList, nonEmptyLists(mask), mask, opts.reduction ?? 'mean'), perList };
    });
  };
}
