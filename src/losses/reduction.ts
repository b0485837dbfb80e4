// The one place where unreduced losses become the scalar (TF-Ranking's pattern): every built-in loss
// computes unreduced values ℓ with loss weights w and a 0/1 tensor `present` marking the entries
// that exist (real items, the pairs the loss is defined on, non-empty lists), then one of the
// reductions below turns them into `loss` and `perList`. Padding is never present, so no reduction
// depends on it.
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../utils/errors.js';
import type { LossResult, RankingLoss, UnreducedLoss } from './types.js';
import { listLengths, safeDiv, validMask } from './utils.js';
import { fastPathsEnabled } from './fast.js';

/**
 * The reductions, named as TF-Ranking names them (tf.losses.Reduction), over the present entries:
 * - 'SUM': Σ w·ℓ;
 * - 'MEAN': Σ w·ℓ / Σ w (TF's weighted mean);
 * - 'SUM_OVER_BATCH_SIZE': Σ w·ℓ / #entries — lists for listwise losses (allRank's mean over the
 *   batch, torch's `batchmean`), items for pointwise ones, the loss's pairs for pairwise ones
 *   (allRank's and RankGPT's mean over pairs);
 * - 'SUM_BY_NONZERO_WEIGHTS': Σ w·ℓ / #(entries with w ≠ 0) (TF-Ranking's v1 default);
 * - 'SUM_OVER_ITEMS': Σ w·ℓ / #real items (TF-Ranking Keras' SUM_OVER_BATCH_SIZE for pairwise
 *   losses, which sum each item's pairs first; torch kl_div's elementwise `mean`);
 * - 'LIST_MEAN': mean over lists with an entry of each list's Σ w·ℓ / #entries.
 */
export type Reduction = 'SUM' | 'MEAN' | 'SUM_OVER_BATCH_SIZE' | 'SUM_BY_NONZERO_WEIGHTS' | 'SUM_OVER_ITEMS' | 'LIST_MEAN';
export const REDUCTIONS: readonly Reduction[] = ['SUM', 'MEAN', 'SUM_OVER_BATCH_SIZE', 'SUM_BY_NONZERO_WEIGHTS', 'SUM_OVER_ITEMS', 'LIST_MEAN'];

/** Older per-loss option values, kept working: each maps to one reduction above. */
export type ReductionAliases = Readonly<Record<string, Reduction>>;

/** List losses (listnet, listmle, softmax, approx/neural NDCG, kl_divergence). */
export const LIST_ALIASES: ReductionAliases = {
  mean: 'SUM_OVER_BATCH_SIZE',
  sum: 'SUM',
  sum_by_nonzero_weights: 'SUM_BY_NONZERO_WEIGHTS',
  weighted_mean: 'MEAN',
};
/** kl_divergence also takes torch's kl_div names (its 'mean' keeps this library's older meaning). */
export const KL_ALIASES: ReductionAliases = { ...LIST_ALIASES, batchmean: 'SUM_OVER_BATCH_SIZE' };
/** Pairwise losses (ranknet, pairwise_hinge, pairwise_soft_zero_one). */
export const PAIR_ALIASES: ReductionAliases = {
  pairs: 'SUM_OVER_BATCH_SIZE',
  weighted_pairs: 'MEAN',
  lists: 'LIST_MEAN',
  items: 'SUM_OVER_ITEMS',
  sum: 'SUM',
};
/** Pointwise losses. */
export const POINTWISE_ALIASES: ReductionAliases = { items: 'SUM_OVER_BATCH_SIZE', lists: 'LIST_MEAN', sum: 'SUM' };
/** lambdaloss ('mean' over pairs as allRank's reduction='mean'). */
export const LAMBDA_ALIASES: ReductionAliases = { mean: 'SUM_OVER_BATCH_SIZE', lists: 'LIST_MEAN', sum: 'SUM' };
/** margin_mse. */
export const MARGIN_ALIASES: ReductionAliases = { pairs: 'SUM_OVER_BATCH_SIZE', lists: 'LIST_MEAN', sum: 'SUM' };

/** The option spec of a `reduction` option: the reductions and the loss's aliases. */
export function reductionSpec(aliases: ReductionAliases): readonly string[] {
  return [...REDUCTIONS, ...Object.keys(aliases)];
}

/** The reduction an option value names (checkOptions has already rejected unknown values). */
export function resolveReduction(value: string | undefined, fallback: Reduction, aliases: ReductionAliases): Reduction {
  if (value === undefined) return fallback;
  if ((REDUCTIONS as readonly string[]).includes(value)) return value as Reduction;
  const r = aliases[value];
  if (!r) throw new InputError(`unknown reduction '${value}'; known: ${reductionSpec(aliases).join(', ')}`, { field: 'lossOptions.reduction' });
  return r;
}

/** Sum over every axis but the first (the list axis). */
function perListSum(x: tf.Tensor): tf.Tensor1D {
  if (x.rank === 1) return x as tf.Tensor1D;
  return tf.sum(x, x.rank === 2 ? 1 : [1, 2]) as tf.Tensor1D;
}

/**
 * How the per-list values of an item- or pair-level loss are formed: 'reduction' the list's own
 * share under the reduction (Σ w·ℓ for SUM, Σ w·ℓ / Σ w for MEAN, Σ w·ℓ / #entries otherwise,
 * Σ w·ℓ / #items for SUM_OVER_ITEMS); 'weighted_mean' always Σ w·ℓ / Σ w. List-level losses report
 * ℓ itself (0 where the list weighs 0).
 */
export type PerListMode = 'reduction' | 'weighted_mean';

/** The reduced scalar and per-list values of an unreduced loss. */
export function reduceLoss(u: UnreducedLoss, reduction: Reduction, mask: tf.Tensor2D, perListMode: PerListMode = 'reduction'): { loss: tf.Scalar; perList: tf.Tensor1D } {
  const present = tf.greater(u.present, 0);
  const zeros = tf.zerosLike(u.values);
  const wl = tf.where(present, tf.mul(u.values, u.weights), zeros);
  const sums = perListSum(wl);
  const total = tf.sum(sums);
  const count = () => perListSum(tf.cast(present, 'float32'));
  const wsum = () => perListSum(tf.where(present, u.weights, tf.zerosLike(u.weights))); // off the scores' path
  let loss: tf.Tensor;
  switch (reduction) {
    case 'SUM':
      loss = total;
      break;
    case 'MEAN':
      loss = safeDiv(total, tf.sum(wsum()));
      break;
    case 'SUM_OVER_BATCH_SIZE':
      loss = safeDiv(total, tf.sum(count()));
      break;
    case 'SUM_BY_NONZERO_WEIGHTS':
      loss = safeDiv(total, tf.sum(perListSum(tf.cast(tf.logicalAnd(present, tf.notEqual(u.weights, 0)), 'float32'))));
      break;
    case 'SUM_OVER_ITEMS':
      loss = safeDiv(total, tf.sum(listLengths(mask)));
      break;
    case 'LIST_MEAN': {
      const c = count();
      loss = safeDiv(tf.sum(safeDiv(sums, c)), tf.sum(tf.cast(tf.greater(c, 0), 'float32')));
      break;
    }
  }
  let perList: tf.Tensor1D;
  if (u.values.rank === 1) {
    perList = tf.where(tf.logicalAnd(present, tf.notEqual(u.weights, 0)), u.values, zeros) as tf.Tensor1D;
  } else if (perListMode === 'weighted_mean' || reduction === 'MEAN') {
    perList = safeDiv(sums, wsum()) as tf.Tensor1D;
  } else if (reduction === 'SUM') {
    perList = sums;
  } else if (reduction === 'SUM_OVER_ITEMS') {
    perList = safeDiv(sums, listLengths(mask)) as tf.Tensor1D;
  } else if (reduction === 'SUM_BY_NONZERO_WEIGHTS') {
    perList = safeDiv(sums, perListSum(tf.cast(tf.logicalAnd(present, tf.notEqual(u.weights, 0)), 'float32'))) as tf.Tensor1D;
  } else {
    perList = safeDiv(sums, count()) as tf.Tensor1D;
  }
  return { loss: loss as tf.Scalar, perList };
}

/**
 * Reduces per-list values with list weights (a list-level loss in one call): the shortcut for
 * custom losses. `present` = the non-empty lists of `mask`.
 */
export function reduceLists(perList: tf.Tensor1D, weights: tf.Tensor1D, mask: tf.Tensor2D, reduction: Reduction | keyof typeof LIST_ALIASES): tf.Scalar {
  return tf.tidy(() => reduceLoss({ values: perList, weights, present: tf.cast(tf.greater(listLengths(mask), 0), 'float32') }, resolveReduction(reduction, 'SUM_OVER_BATCH_SIZE', LIST_ALIASES), mask).loss);
}

/** Optional per-item [lists, listSize] or per-list [lists] weights given to a loss call. */
export type SampleWeights = tf.Tensor1D | tf.Tensor2D | undefined;

/** Per-item weights [lists, n]: per-list weights broadcast, 0 at padding (1 when none are given). */
export function itemWeights(weights: SampleWeights, mask: tf.Tensor2D): tf.Tensor2D {
  const v = validMask(mask);
  if (!weights) return v;
  checkWeightShape(weights, mask);
  const w = weights.rank === 1 ? tf.expandDims(weights, 1) : weights;
  return tf.where(tf.greater(mask, 0), tf.mul(w, tf.onesLike(v)), tf.zerosLike(v)) as tf.Tensor2D;
}

/**
 * Per-list weights [lists] for a listwise loss (TF-Ranking's _ListwiseLoss.normalize_weights):
 * per-list weights as given; per-item weights averaged with the list's (non-negative) labels as
 * weights, Σ w·y / Σ y (0 when Σ y = 0); 1 when none are given. `relevance` is what the average
 * weighs by (labels by default; a target distribution for losses whose labels are teacher logits).
 */
export function listWeights(weights: SampleWeights, mask: tf.Tensor2D, relevance: tf.Tensor2D): tf.Tensor1D {
  if (!weights) return tf.onesLike(listLengths(mask));
  checkWeightShape(weights, mask);
  if (weights.rank === 1) return weights as tf.Tensor1D;
  const y = tf.where(tf.greater(mask, 0), tf.relu(relevance), tf.zerosLike(relevance));
  const w = tf.where(tf.greater(mask, 0), weights, tf.zerosLike(y));
  return safeDiv(tf.sum(tf.mul(w, y), 1), tf.sum(y, 1)) as tf.Tensor1D;
}

function checkWeightShape(weights: tf.Tensor | undefined, mask: tf.Tensor2D): void {
  if (!weights) return;
  const [b, n] = mask.shape;
  const ok = (weights.rank === 1 && weights.shape[0] === b) || (weights.rank === 2 && weights.shape[0] === b && weights.shape[1] === n);
  if (!ok) throw new InputError(`loss weights must have shape [${b}] (per list) or [${b}, ${n}] (per item), got [${weights.shape.join(', ')}]`, { field: 'weights' });
}

export interface LossDefinition {
  reduction: Reduction;
  /** A closed-form implementation of the reduced loss for the options it covers (fast.ts). */
  fast?: (scores: tf.Tensor2D, labels: tf.Tensor2D, mask: tf.Tensor2D, weights: SampleWeights) => LossResult;
  perList?: PerListMode;
  /**
   * Unreduced values, weights (user weights already folded in) and presence, plus components. A
   * loss on sampled copies of the lists (Gumbel) returns their mask and the samples per list.
   */
  unreduced: (
    scores: tf.Tensor2D,
    labels: tf.Tensor2D,
    mask: tf.Tensor2D,
    weights: SampleWeights,
  ) => UnreducedLoss & { components?: Record<string, UnreducedLoss>; mask?: tf.Tensor2D; samples?: number };
}

/**
 * A RankingLoss from its unreduced form: the call reduces it (and its named components) with the
 * chosen reduction inside one tidy; `loss.unreduced` exposes the unreduced tensors.
 */
export function defineLoss(def: LossDefinition): RankingLoss {
  const unreduced = (scores: tf.Tensor2D, labels: tf.Tensor2D, mask: tf.Tensor2D, weights?: SampleWeights): UnreducedLoss =>
    tf.tidy(() => {
      const { values, weights: w, present } = def.unreduced(scores, labels, mask, weights);
      return { values, weights: w, present };
    });
  const fn = (scores: tf.Tensor2D, labels: tf.Tensor2D, mask: tf.Tensor2D, weights?: SampleWeights): LossResult =>
    tf.tidy(() => {
      if (def.fast && fastPathsEnabled()) {
        checkWeightShape(weights, mask);
        return def.fast(scores, labels, mask, weights);
      }
      const u = def.unreduced(scores, labels, mask, weights);
      const m = u.mask ?? mask;
      const r = reduceLoss(u, def.reduction, m, def.perList);
      const loss = r.loss;
      // Sampled lists: each list's value is the mean of its samples'.
      const perList = u.samples ? (tf.mean(tf.reshape(r.perList, [mask.shape[0], u.samples]), 1) as tf.Tensor1D) : r.perList;
      if (!u.components) return { loss, perList };
      const components: Record<string, tf.Scalar> = {};
      for (const [k, c] of Object.entries(u.components)) components[k] = reduceLoss(c, def.reduction, m, def.perList).loss;
      return { loss, perList, components };
    });
  return Object.assign(fn, { unreduced });
}

/**
 * TF-Ranking's compute_unreduced_loss: the unreduced losses and their weights (loss weights times
 * the given sample weights, 0 where an entry does not exist), same shape: [lists] for listwise
 * losses, [lists, n] pointwise, [lists, n, n] pairwise (entry [b, i, j] is the pair (i, j)).
 * Reducing them with a reduction gives the loss. Throws for losses without an unreduced form.
 */
export function computeUnreducedLoss(
  loss: RankingLoss,
  scores: tf.Tensor2D,
  labels: tf.Tensor2D,
  mask: tf.Tensor2D,
  weights?: SampleWeights,
): { losses: tf.Tensor; weights: tf.Tensor } {
  if (!loss.unreduced) throw new Error('this loss has no unreduced form (a custom loss not built with defineLoss)');
  const u = loss.unreduced(scores, labels, mask, weights);
  return tf.tidy(() => {
    const present = tf.greater(u.present, 0);
    const out = { losses: tf.where(present, u.values, tf.zerosLike(u.values)), weights: tf.where(present, u.weights, tf.zerosLike(u.weights)) };
    tf.dispose([u.values, u.weights, u.present]);
    return out;
  });
}
