// Pointwise losses: each item's score against its own label, then averaged.
import * as tf from '@tensorflow/tfjs-core';
import type { LossResult, RankingLoss } from './types.js';
import { checkOptions, listLengths, maskedLabels, safeDiv, sanitize, validMask } from './utils.js';

/**
 * - 'items' (default): mean over all real items of the batch (TF-Ranking's Keras reduction when
 *   there is no padding);
 * - 'lists': mean over non-empty lists of each list's item mean;
 * - 'sum': sum over real items.
 */
export type PointwiseReduction = 'items' | 'lists' | 'sum';
const POINTWISE_REDUCTIONS = ['items', 'lists', 'sum'] as const;

export interface SigmoidCrossEntropyOptions {
  /** Scores are divided by this before the sigmoid (TF-Ranking's temperature). Default 1. */
  temperature?: number;
  /**
   * 'none' (default): labels are probabilities in [0, 1] (larger labels still give a finite but
   * unbounded loss); 'max': each list's labels divided by its largest label (graded → [0, 1]).
   */
  labelNormalization?: 'none' | 'max';
  reduction?: PointwiseReduction;
}

/**
 * Sigmoid cross-entropy on logits, `softplus(s/T) − y·s/T` (BCEWithLogits; TF-Ranking
 * SigmoidCrossEntropyLoss). Per list: mean over its real items.
 */
export function sigmoidCrossEntropy(opts: SigmoidCrossEntropyOptions = {}): RankingLoss {
  checkOptions('sigmoid_cross_entropy', opts, {
    temperature: 'positive',
    labelNormalization: ['none', 'max'],
    reduction: POINTWISE_REDUCTIONS,
  });
  const t = opts.temperature ?? 1;
  return (scores, labels, mask): LossResult =>
    tf.tidy(() => {
      const z = tf.div(sanitize(scores, mask), t);
      let y: tf.Tensor = maskedLabels(labels, mask);
      if (opts.labelNormalization === 'max') y = safeDiv(y, tf.max(y, 1, true));
      const item = tf.sub(tf.softplus(z), tf.mul(y, z)) as tf.Tensor2D;
      return reducePointwise(item, mask, opts.reduction ?? 'items');
    });
}

export interface MeanSquaredErrorOptions {
  reduction?: PointwiseReduction;
}

/** Mean squared error (s − y)² between scores and labels (TF-Ranking MeanSquaredLoss). */
export function meanSquaredError(opts: MeanSquaredErrorOptions = {}): RankingLoss {
  checkOptions('mse', opts, { reduction: POINTWISE_REDUCTIONS });
  return (scores, labels, mask): LossResult =>
    tf.tidy(() => {
      const item = tf.square(tf.sub(sanitize(scores, mask), maskedLabels(labels, mask))) as tf.Tensor2D;
      return reducePointwise(item, mask, opts.reduction ?? 'items');
    });
}

/** Per-item losses → per-list means and the reduced scalar; padded items removed with where. */
export function reducePointwise(item: tf.Tensor2D, mask: tf.Tensor2D, reduction: PointwiseReduction): { loss: tf.Scalar; perList: tf.Tensor1D } {
  const v = validMask(mask);
  const masked = tf.where(tf.greater(v, 0), item, tf.zerosLike(item));
  const perListSum = tf.sum(masked, 1);
  const counts = listLengths(mask);
  const perList = safeDiv(perListSum, counts) as tf.Tensor1D;
  let loss: tf.Scalar;
  if (reduction === 'sum') loss = tf.sum(perListSum) as tf.Scalar;
  else if (reduction === 'items') loss = safeDiv(tf.sum(perListSum), tf.sum(counts)) as tf.Scalar;
  else loss = safeDiv(tf.sum(perList), tf.sum(tf.cast(tf.greater(counts, 0), 'float32'))) as tf.Scalar;
  return { loss, perList };
}
