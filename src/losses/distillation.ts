// Distillation losses: labels are the teacher's scores (logits), not relevance grades.
import * as tf from '@tensorflow/tfjs-core';
import type { RankingLoss } from './types.js';
import { maskedLogSoftmax, type ListReduction } from './listwise.js';
import { defineLoss, itemWeights, KL_ALIASES, listWeights, MARGIN_ALIASES, reductionSpec, resolveReduction, type Reduction } from './reduction.js';
import { checkOptions, nonEmptyLists, pairDiff, sanitize, validMask, validPairs } from './utils.js';

export interface KLDivergenceOptions {
  /** Student temperature τ: softmax(s/τ). Default 1. */
  temperature?: number;
  /** Teacher temperature: softmax(t/τ_t). Default: the student's τ. */
  teacherTemperature?: number;
  /** Multiply by τ² so gradients keep their size as τ changes (Hinton et al. 2015). Default true. */
  scaleByTemperatureSquared?: boolean;
  /**
   * Default 'SUM_OVER_BATCH_SIZE' (aliases 'mean' and torch's 'batchmean': Σ KL / #non-empty lists).
   * torch kl_div's reduction='mean' (Σ / #elements) is 'SUM_OVER_ITEMS'; 'sum' is 'SUM'.
   */
  reduction?: ListReduction | 'batchmean';
}

/**
 * KL(softmax(t/τ_t) ‖ softmax(s/τ)) · τ² over each list's real items, labels t = teacher logits
 * (sentence-transformers DistillKLDivLoss, Lightning IR KLDivergence at τ = 1). Same gradient as
 * soft cross-entropy (FlagEmbedding, allRank listNet with teacher scores); the value is 0 at a perfect match.
 */
export function klDivergence(opts: KLDivergenceOptions = {}): RankingLoss {
  checkOptions('kl_divergence', opts, {
    temperature: 'positive',
    teacherTemperature: 'positive',
    scaleByTemperatureSquared: 'boolean',
    reduction: reductionSpec(KL_ALIASES),
  });
  const t = opts.temperature ?? 1;
  const tt = opts.teacherTemperature ?? t;
  const factor = opts.scaleByTemperatureSquared === false ? 1 : t * t;
  return defineLoss({
    reduction: resolveReduction(opts.reduction, 'SUM_OVER_BATCH_SIZE', KL_ALIASES),
    unreduced: (scores, labels, mask, weights) => {
      const logp = maskedLogSoftmax(tf.div(sanitize(labels, mask), tt) as tf.Tensor2D, mask);
      const logq = maskedLogSoftmax(tf.div(scores, t) as tf.Tensor2D, mask);
      const p = tf.where(tf.greater(mask, 0), tf.exp(logp), tf.zerosLike(logp)) as tf.Tensor2D;
      const values = tf.mul(tf.sum(tf.mul(p, tf.sub(logp, logq)), 1), factor);
      const present = nonEmptyLists(mask);
      return { values, weights: tf.mul(present, listWeights(weights, mask, p)), present };
    },
  });
}

export interface MarginMSEOptions {
  /**
   * Which margins: 'all' (default) every pair of real items once (TF-Ranking PairwiseMSELoss's
   * pairs); 'preferred' pairs with t_i > t_j (Lightning IR SupervisedMarginMSE); 'first' the first
   * real item (the positive) against each other real item (Hofstätter et al.; sentence-transformers
   * MarginMSELoss with raw teacher scores — depends on item order by design).
   */
  pairs?: 'all' | 'preferred' | 'first';
  /**
   * Default 'SUM_OVER_BATCH_SIZE' (alias 'pairs': mean over all margins of the batch); 'LIST_MEAN'
   * (alias 'lists'); 'SUM' (alias 'sum'); or any other reduction.
   */
  reduction?: Reduction | 'pairs' | 'lists' | 'sum';
}

/**
 * MarginMSE (Hofstätter et al. 2020): mean of ((s_i − s_j) − (t_i − t_j))², labels t = teacher scores.
 * Sample weights: a pair weighs its first item's weight ('preferred': the item with the larger
 * teacher score; 'first': the positive), the mean of both items' weights for 'all'.
 */
export function marginMSE(opts: MarginMSEOptions = {}): RankingLoss {
  checkOptions('margin_mse', opts, { pairs: ['all', 'preferred', 'first'], reduction: reductionSpec(MARGIN_ALIASES) });
  const mode = opts.pairs ?? 'all';
  return defineLoss({
    reduction: resolveReduction(opts.reduction, 'SUM_OVER_BATCH_SIZE', MARGIN_ALIASES),
    unreduced: (scores, labels, mask, weights) => {
      const n = scores.shape[1];
      const tDiff = pairDiff(sanitize(labels, mask));
      let pairs: tf.Tensor = validPairs(mask);
      if (mode === 'all') {
        const upper = tf.cast(tf.less(tf.expandDims(tf.range(0, n), 1), tf.expandDims(tf.range(0, n), 0)), 'float32');
        pairs = tf.mul(pairs, upper);
      } else if (mode === 'preferred') {
        pairs = tf.mul(pairs, tf.cast(tf.greater(tDiff, 0), 'float32'));
      } else {
        const v = validMask(mask);
        const first = tf.mul(v, tf.cast(tf.equal(tf.cumsum(v, 1), 1), 'float32')); // the first real item
        pairs = tf.mul(pairs, tf.mul(tf.expandDims(first, 2), tf.sub(1, tf.expandDims(first, 1))));
      }
      const values = tf.square(tf.sub(pairDiff(sanitize(scores, mask)), tDiff));
      let w: tf.Tensor = tf.onesLike(values);
      if (weights) {
        const iw = itemWeights(weights, mask);
        w = mode === 'all' ? tf.div(tf.add(tf.expandDims(iw, 2), tf.expandDims(iw, 1)), 2) : tf.mul(tf.expandDims(iw, 2), tf.onesLike(values));
      }
      return { values, weights: w, present: pairs };
    },
  });
}
