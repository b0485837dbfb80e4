// Distillation losses: labels are the teacher's scores (logits), not relevance grades.
import * as tf from '@tensorflow/tfjs-core';
import type { LossResult, RankingLoss } from './types.js';
import { maskedLogSoftmax } from './listwise.js';
import {
  checkOptions,
  LIST_REDUCTIONS,
  nonEmptyLists,
  pairDiff,
  reduceLists,
  safeDiv,
  sanitize,
  validMask,
  validPairs,
  type ListReduction,
} from './utils.js';

export interface KLDivergenceOptions {
  /** Student temperature τ: softmax(s/τ). Default 1. */
  temperature?: number;
  /** Teacher temperature: softmax(t/τ_t). Default: the student's τ. */
  teacherTemperature?: number;
  /** Multiply by τ² so gradients keep their size as τ changes (Hinton et al. 2015). Default true. */
  scaleByTemperatureSquared?: boolean;
  /** Default 'mean' over non-empty lists (batch-mean KL). */
  reduction?: ListReduction;
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
    reduction: LIST_REDUCTIONS,
  });
  const t = opts.temperature ?? 1;
  const tt = opts.teacherTemperature ?? t;
  const factor = opts.scaleByTemperatureSquared === false ? 1 : t * t;
  return (scores, labels, mask): LossResult =>
    tf.tidy(() => {
      const logp = maskedLogSoftmax(tf.div(sanitize(labels, mask), tt) as tf.Tensor2D, mask);
      const logq = maskedLogSoftmax(tf.div(scores, t) as tf.Tensor2D, mask);
      const p = tf.where(tf.greater(mask, 0), tf.exp(logp), tf.zerosLike(logp));
      const perList = tf.mul(tf.sum(tf.mul(p, tf.sub(logp, logq)), 1), factor) as tf.Tensor1D;
      return { loss: reduceLists(perList, nonEmptyLists(mask), mask, opts.reduction ?? 'mean'), perList };
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
  /** 'pairs' (default): mean over all margins of the batch; 'lists': mean of per-list means; 'sum'. */
  reduction?: 'pairs' | 'lists' | 'sum';
}

/** MarginMSE (Hofstätter et al. 2020): mean of ((s_i − s_j) − (t_i − t_j))², labels t = teacher scores. */
export function marginMSE(opts: MarginMSEOptions = {}): RankingLoss {
  checkOptions('margin_mse', opts, { pairs: ['all', 'preferred', 'first'], reduction: ['pairs', 'lists', 'sum'] });
  const mode = opts.pairs ?? 'all';
  const reduction = opts.reduction ?? 'pairs';
  return (scores, labels, mask): LossResult =>
    tf.tidy(() => {
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
      const err = tf.square(tf.sub(pairDiff(sanitize(scores, mask)), tDiff));
      const perListSum = tf.sum(tf.mul(err, pairs), [1, 2]) as tf.Tensor1D;
      const count = tf.sum(pairs, [1, 2]) as tf.Tensor1D;
      const perList = (reduction === 'sum' ? perListSum : safeDiv(perListSum, count)) as tf.Tensor1D;
      let loss: tf.Scalar;
      if (reduction === 'sum') loss = tf.sum(perListSum) as tf.Scalar;
      else if (reduction === 'pairs') loss = safeDiv(tf.sum(perListSum), tf.sum(count)) as tf.Scalar;
      else loss = safeDiv(tf.sum(perList), tf.sum(tf.cast(tf.greater(count, 0), 'float32'))) as tf.Scalar;
      return { loss, perList };
    });
}
