// Pairwise losses over all pairs (i, j) of a list with label_i > label_j, both real items.
// Unreduced form (TF-Ranking _PairwiseLoss): ℓ[b, i, j] = pair loss of s_i − s_j, weight = pair
// weighting × lambda weight × the sample weight of item i (the more relevant one).
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../utils/errors.js';
import type { RankingLoss } from './types.js';
import { scoreRanks, toLambdaWeight, type LambdaWeight, type LambdaWeightSpec } from './lambda-weights.js';
import { defineLoss, itemWeights, PAIR_ALIASES, reductionSpec, resolveReduction, type Reduction } from './reduction.js';
import { checkOptions, maskedLabels, pairDiff, preferredPairs, sanitize } from './utils.js';
import { hostLoss, pairwiseHost, type PairKind } from './fast.js';

/**
 * Older names of the pair reductions (still accepted): 'pairs' = SUM_OVER_BATCH_SIZE (default; mean
 * over the batch's pairs: allRank, RankGPT, TWOLAR), 'weighted_pairs' = MEAN, 'lists' = LIST_MEAN,
 * 'items' = SUM_OVER_ITEMS (TF-Ranking Keras), 'sum' = SUM.
 */
export type PairReduction = Reduction | 'pairs' | 'weighted_pairs' | 'lists' | 'items' | 'sum';

export interface PairwiseOptions {
  /** Score differences are divided by this (TF-Ranking's temperature). Default 1. */
  temperature?: number;
  /**
   * Pair weights: false (default) 1; true or 'diff' |y_i − y_j| (allRank weight_by_diff,
   * TF-Ranking LabelDiffLambdaWeight); 'squared' |y_i² − y_j²| (allRank weight_by_diff_powed).
   */
  labelDiffWeighted?: boolean | 'diff' | 'squared';
  /** A TF-Ranking lambda weight multiplying the pair weights (lambda-weights.ts), or its JSON spec. */
  lambdaWeight?: LambdaWeight | LambdaWeightSpec;
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
  /**
   * The subgradient where s_i − s_j sits exactly at the margin: 0 (default; TF-Ranking's relu) or
   * 1 (torch: clamp_min in MarginRankingLoss passes the gradient at the boundary).
   */
  gradientAtMargin?: 0 | 1;
}

function commonSpec() {
  return {
    temperature: 'positive' as const,
    labelDiffWeighted: { anyOf: ['boolean' as const, ['diff', 'squared'] as const] },
    lambdaWeight: 'object' as const,
    reduction: reductionSpec(PAIR_ALIASES),
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
  return pairwiseLoss(opts, scale, (d) => tf.div(tf.softplus(tf.neg(d)), lnBase) as tf.Tensor3D, { kind: 'logistic', lnBase });
}

/** Pairwise hinge max(0, m − (s_i − s_j)/T) (Herbrich et al. 2000; TF-Ranking PairwiseHingeLoss). */
export function pairwiseHinge(opts: PairwiseHingeOptions = {}): RankingLoss {
  checkOptions('pairwise_hinge', opts, { ...commonSpec(), margin: 'nonnegative', gradientAtMargin: [0, 1] });
  const m = opts.margin ?? 1;
  // tf.maximum passes the gradient to its first argument on ties, as torch's clamp_min does.
  const hinge = opts.gradientAtMargin === 1 ? (x: tf.Tensor) => tf.maximum(x, 0) : (x: tf.Tensor) => tf.relu(x);
  return pairwiseLoss(opts, 1 / (opts.temperature ?? 1), (d) => hinge(tf.sub(m, d)) as tf.Tensor3D, { kind: 'hinge', margin: m, hingeAt: opts.gradientAtMargin ?? 0 });
}

/** Pairwise soft zero-one sigmoid(−(s_i − s_j)/T) (TF-Ranking PairwiseSoftZeroOneLoss). */
export function pairwiseSoftZeroOne(opts: PairwiseOptions = {}): RankingLoss {
  checkOptions('pairwise_soft_zero_one', opts, commonSpec());
  return pairwiseLoss(opts, 1 / (opts.temperature ?? 1), (d) => tf.sigmoid(tf.neg(d)) as tf.Tensor3D, { kind: 'soft_zero_one' });
}

/** Pair weights [lists, n, n] of the pairwise losses' options (1 on preferred pairs without options). */
export function pairWeights(opts: PairwiseOptions, scores: tf.Tensor2D, labels: tf.Tensor2D, mask: tf.Tensor2D, weights?: tf.Tensor1D | tf.Tensor2D): tf.Tensor3D {
  const weighting = opts.labelDiffWeighted === true ? 'diff' : opts.labelDiffWeighted || 'none';
  const y = maskedLabels(labels, mask);
  let w: tf.Tensor = preferredPairs(labels, mask);
  if (weighting === 'diff') w = tf.mul(w, tf.abs(pairDiff(y)));
  else if (weighting === 'squared') w = tf.mul(w, tf.abs(pairDiff(tf.square(y) as tf.Tensor2D)));
  const lw = toLambdaWeight(opts.lambdaWeight);
  if (lw) w = tf.mul(w, lw.pairWeights(y, scoreRanks(scores, labels, mask), mask));
  if (weights) w = tf.mul(w, tf.expandDims(itemWeights(weights, mask), 2));
  return w as tf.Tensor3D;
}

/** Shared body: pair loss of (s_i − s_j)·scale on preferred pairs, weighted, reduced. */
function pairwiseLoss(
  opts: PairwiseOptions,
  scale: number,
  pairLoss: (diff: tf.Tensor3D) => tf.Tensor3D,
  host: { kind: PairKind; lnBase?: number; margin?: number; hingeAt?: 0 | 1 },
): RankingLoss {
  toLambdaWeight(opts.lambdaWeight); // bad specs fail when the loss is made, not at the first step
  const reduction = resolveReduction(opts.reduction, 'SUM_OVER_BATCH_SIZE', PAIR_ALIASES);
  const weighting = opts.labelDiffWeighted === true ? 'diff' : opts.labelDiffWeighted || 'none';
  const hostOpts = { kind: host.kind, scale, lnBase: host.lnBase ?? 1, margin: host.margin ?? 1, hingeAt: host.hingeAt ?? 0, weighting, reduction } as const;
  return defineLoss({
    reduction,
    // Closed form on the host unless a lambda weight (ranks by score) is involved.
    // (A variant doing the [b, n, n] elementwise work in backend kernels measured slower here.)
    fast: opts.lambdaWeight ? undefined : (scores, labels, mask, weights) => hostLoss(scores, labels, mask, weights, (h) => pairwiseHost(h, hostOpts)),
    unreduced: (scores, labels, mask, weights) => {
      const s = sanitize(scores, mask);
      return {
        values: pairLoss(tf.mul(pairDiff(s), scale) as tf.Tensor3D),
        weights: pairWeights(opts, s, labels, mask, weights),
        present: preferredPairs(labels, mask),
      };
    },
  });
}
