// Pairwise losses over all pairs (i, j) of a list with label_i > label_j, both real items.
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../utils/errors.js';
import type { LossResult, RankingLoss } from './types.js';
import { checkOptions, listLengths, maskedLabels, pairDiff, preferredPairs, safeDiv, sanitize } from './utils.js';

/**
 * How pair losses become the scalar (w = pair weight, 1 unless label-difference weighted):
 * - 'pairs' (default): Σ w·ℓ / #pairs over the whole batch — allRank rankNet (its weighted variants
 *   also divide by the pair count), RankGPT, TWOLAR, sentence-transformers RankNetLoss;
 * - 'weighted_pairs': Σ w·ℓ / Σ w — TF-Ranking's per-list estimator path, pooled over the batch;
 * - 'lists': mean over lists with a pair of each list's Σ w·ℓ / #pairs;
 * - 'items': Σ w·ℓ / #real items — TF-Ranking's Keras SUM_OVER_BATCH_SIZE (it divides by
 *   batch × list size, which equals #real items when nothing is padded);
 * - 'sum': Σ w·ℓ.
 */
export type PairReduction = 'pairs' | 'weighted_pairs' | 'lists' | 'items' | 'sum';
const PAIR_REDUCTIONS = ['pairs', 'weighted_pairs', 'lists', 'items', 'sum'] as const;

export interface PairwiseOptions {
  /** Score differences are divided by this (TF-Ranking's temperature). Default 1. */
  temperature?: number;
  /**
   * Pair weights: false (default) 1; true or 'diff' |y_i − y_j| (allRank weight_by_diff,
   * TF-Ranking LabelDiffLambdaWeight); 'squared' |y_i² − y_j²| (allRank weight_by_diff_powed).
   */
  labelDiffWeighted?: boolean | 'diff' | 'squared';
  reduction?: PairReduction;
}

export interface RankNetOptions extends PairwiseOptions {
  /** Logistic steepness σ in log(1 + exp(-σ (s_i - s_j))); combined with temperature as σ/T. Default 1. */
  sigma?: number;
  /** Logarithm base of the pair loss: Math.E (default; allRank, TF-Ranking) or 2 (sentence-transformers). */
  logBase?: number;
}

export interface PairwiseHingeOptions extends PairwiseOptions {
  /** Margin m in max(0, m − (s_i − s_j)/T). Default 1 (TF-Ranking fixes it at 1). */
  margin?: number;
}

function commonSpec() {
  return {
    temperature: 'positive' as const,
    labelDiffWeighted: { anyOf: ['boolean' as const, ['diff', 'squared'] as const] },
    reduction: PAIR_REDUCTIONS,
  };
}
/**
 * RankNet / pairwise logistic loss log_b(1 + exp(−σ (s_i − s_j)/T)) (Burges et al. 2005; allRank
 * rankNet, TF-Ranking PairwiseLogisticLoss, RankGPT and TWOLAR distillation). Default: natural log,
 * mean over all preferred pairs of the batch.
 */
export function rankNet(opts: RankNetOptions = {}): RankingLoss {
  checkOptions('ranknet', opts, { ...commonSpec(), sigma: 'positive', logBase: 'positive' });
  const scale = (opts.sigma ?? 1) / (opts.temperature ?? 1);
  const lnBase = Math.log(opts.logBase ?? Math.E);
  if (!(lnBase > 0)) throw new InputError(`logBase of loss 'ranknet' must be > 1`, { field: 'lossOptions.logBase' });
  // softplus(-x) = log(1 + exp(-x)) without overflow for large |x|.
  return pairwiseLoss(opts, (d) => tf.div(tf.softplus(tf.mul(d, -scale)), lnBase) as tf.Tensor3D);
}

/** Pairwise hinge max(0, m − (s_i − s_j)/T) (Herbrich et al. 2000; TF-Ranking PairwiseHingeLoss). */
export function pairwiseHinge(opts: PairwiseHingeOptions = {}): RankingLoss {
  checkOptions('pairwise_hinge', opts, { ...commonSpec(), margin: 'nonnegative' });
  const t = opts.temperature ?? 1;
  const m = opts.margin ?? 1;
  return pairwiseLoss(opts, (d) => tf.relu(tf.sub(m, tf.div(d, t))) as tf.Tensor3D);
}

/** Pairwise soft zero-one sigmoid(−(s_i − s_j)/T) (TF-Ranking PairwiseSoftZeroOneLoss). */
export function pairwiseSoftZeroOne(opts: PairwiseOptions = {}): RankingLoss {
  checkOptions('pairwise_soft_zero_one', opts, commonSpec());
  const t = opts.temperature ?? 1;
  return pairwiseLoss(opts, (d) => tf.sigmoid(tf.div(d, -t)) as tf.Tensor3D);
}

/** Shared body: pair loss of s_i − s_j on preferred pairs, weighted and reduced. */
function pairwiseLoss(opts: PairwiseOptions, pairLoss: (diff: tf.Tensor3D) => tf.Tensor3D): RankingLoss {
  const reduction = opts.reduction ?? 'pairs';
  const weighting = opts.labelDiffWeighted === true ? 'diff' : opts.labelDiffWeighted || 'none';
  return (scores, labels, mask): LossResult =>
    tf.tidy(() => {
      const y = maskedLabels(labels, mask);
      const pairs = preferredPairs(labels, mask);
      let w: tf.Tensor3D = pairs;
      if (weighting === 'diff') w = tf.mul(w, tf.abs(pairDiff(y))) as tf.Tensor3D;
      else if (weighting === 'squared') w = tf.mul(w, tf.abs(pairDiff(tf.square(y) as tf.Tensor2D))) as tf.Tensor3D;
      const l = pairLoss(pairDiff(sanitize(scores, mask)));
      const perListSum = tf.sum(tf.mul(l, w), [1, 2]) as tf.Tensor1D;
      const perListPairs = tf.sum(pairs, [1, 2]) as tf.Tensor1D;
      let perList: tf.Tensor1D;
      let loss: tf.Scalar;
      switch (reduction) {
        case 'pairs':
          perList = safeDiv(perListSum, perListPairs) as tf.Tensor1D;
          loss = safeDiv(tf.sum(perListSum), tf.sum(perListPairs)) as tf.Scalar;
          break;
        case 'weighted_pairs': {
          const wsum = tf.sum(w, [1, 2]);
          perList = safeDiv(perListSum, wsum) as tf.Tensor1D;
          loss = safeDiv(tf.sum(perListSum), tf.sum(wsum)) as tf.Scalar;
          break;
        }
        case 'lists':
          perList = safeDiv(perListSum, perListPairs) as tf.Tensor1D;
          loss = safeDiv(tf.sum(perList), tf.sum(tf.cast(tf.greater(perListPairs, 0), 'float32'))) as tf.Scalar;
          break;
        case 'items':
          perList = safeDiv(perListSum, listLengths(mask)) as tf.Tensor1D;
          loss = safeDiv(tf.sum(perListSum), tf.sum(listLengths(mask))) as tf.Scalar;
          break;
        case 'sum':
          perList = perListSum;
          loss = tf.sum(perListSum) as tf.Scalar;
          break;
      }
      return { loss, perList };
    });
}
