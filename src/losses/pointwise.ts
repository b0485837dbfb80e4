// Pointwise losses: each item's score against its own label. Unreduced form: ℓ[b, i] per real item,
// weight = the item's sample weight.
import * as tf from '@tensorflow/tfjs-core';
import type { RankingLoss } from './types.js';
import { defineLoss, itemWeights, POINTWISE_ALIASES, reductionSpec, resolveReduction, type Reduction, type SampleWeights } from './reduction.js';
import { checkOptions, maskedLabels, noGrad, safeDiv, sanitize, validMask } from './utils.js';

/**
 * Older names (still accepted): 'items' = SUM_OVER_BATCH_SIZE (default; mean over the batch's real
 * items), 'lists' = LIST_MEAN, 'sum' = SUM. Per-list values are always each list's (weighted) mean.
 */
export type PointwiseReduction = Reduction | 'items' | 'lists' | 'sum';

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

/** A pointwise loss from its per-item values (padded items are never present). */
function pointwiseLoss(reduction: PointwiseReduction | undefined, item: (scores: tf.Tensor2D, labels: tf.Tensor2D, mask: tf.Tensor2D) => tf.Tensor2D): RankingLoss {
  return defineLoss({
    reduction: resolveReduction(reduction, 'SUM_OVER_BATCH_SIZE', POINTWISE_ALIASES),
    perList: 'weighted_mean',
    unreduced: (scores, labels, mask, weights: SampleWeights) => ({ values: item(scores, labels, mask), weights: itemWeights(weights, mask), present: validMask(mask) }),
  });
}

/**
 * Sigmoid cross-entropy on logits, `softplus(s/T) − y·s/T` (BCEWithLogits; TF-Ranking
 * SigmoidCrossEntropyLoss). Per list: mean over its real items.
 */
export function sigmoidCrossEntropy(opts: SigmoidCrossEntropyOptions = {}): RankingLoss {
  checkOptions('sigmoid_cross_entropy', opts, {
    temperature: 'positive',
    labelNormalization: ['none', 'max'],
    reduction: reductionSpec(POINTWISE_ALIASES),
  });
  const t = opts.temperature ?? 1;
  return pointwiseLoss(opts.reduction, (scores, labels, mask) => {
    const z = tf.div(sanitize(scores, mask), t);
    let y: tf.Tensor = maskedLabels(labels, mask);
    if (opts.labelNormalization === 'max') y = safeDiv(y, tf.max(y, 1, true));
    return tf.sub(tf.softplus(z), tf.mul(y, z)) as tf.Tensor2D;
  });
}

export interface MeanSquaredErrorOptions {
  reduction?: PointwiseReduction;
}

/** Mean squared error (s − y)² between scores and labels (TF-Ranking MeanSquaredLoss). */
export function meanSquaredError(opts: MeanSquaredErrorOptions = {}): RankingLoss {
  checkOptions('mse', opts, { reduction: reductionSpec(POINTWISE_ALIASES) });
  return pointwiseLoss(opts.reduction, (scores, labels, mask) => tf.square(tf.sub(sanitize(scores, mask), maskedLabels(labels, mask))) as tf.Tensor2D);
}

export interface MonoT5CrossEntropyOptions {
  /** Items with label > this are relevant (target ▁true), the others target ▁false. Default 0. */
  relevantAbove?: number;
  /**
   * What the scores are: 'log_prob' (default) log P(true) over {true, false} — monoT5's default
   * score; 'logit' z_true − z_false (TWOLAR's score, the same distribution in logit form).
   */
  scores?: 'log_prob' | 'logit';
  reduction?: PointwiseReduction;
}

/**
 * monoT5's cross-entropy (Nogueira et al. 2020) from the log-probabilities of its two target
 * tokens: −[y·log P(true) + (1 − y)·log P(false)], y = label > relevantAbove; mean over real items by
 * default. Over the whole vocabulary (the T5 ranker's `objective: 'token-ce'`) P(true) + P(false) < 1;
 * restricted to {true, false} (the registered loss) they sum to 1. Padding is removed with `where`.
 */
export function monoT5TokenLoss(opts: Omit<MonoT5CrossEntropyOptions, 'scores'> = {}) {
  const reduction = resolveReduction(opts.reduction, 'SUM_OVER_BATCH_SIZE', POINTWISE_ALIASES);
  return (logPTrue: tf.Tensor2D, logPFalse: tf.Tensor2D, labels: tf.Tensor2D, mask: tf.Tensor2D, weights?: SampleWeights) =>
    defineLoss({
      reduction,
      perList: 'weighted_mean',
      unreduced: (_s, y, m, w) => {
        const relevant = tf.logicalAnd(tf.greater(m, 0), tf.greater(y, opts.relevantAbove ?? 0));
        const values = tf.neg(tf.where(relevant, sanitize(logPTrue, m, -1), sanitize(logPFalse, m, -1))) as tf.Tensor2D;
        return { values, weights: itemWeights(w, m), present: validMask(m) };
      },
    })(logPTrue, labels, mask, weights);
}

/** log(1 − e^x) for x ≤ 0 without cancellation (clamped at log 1e-12 where P(true) rounds to 1). */
function log1mExp(x: tf.Tensor): tf.Tensor {
  // Invalid log-probabilities (x > 0) count as 0 (P(true) = 1). Each branch gets an input it is
  // finite on, so the unselected branches' gradients stay finite (where × Inf would give NaN).
  const x0 = tf.minimum(x, 0);
  const xs = tf.maximum(x0, -1e-2);
  const xm = tf.maximum(x0, -Math.LN2);
  // −expm1(x) by its series near 0 (tfjs has no expm1), 1 − e^x further out, log1p(−e^x) for x < −ln 2.
  const series = tf.mul(tf.neg(xs), tf.add(1, tf.mul(xs, tf.add(0.5, tf.mul(xs, tf.add(1 / 6, tf.div(xs, 24)))))));
  // The branch conditions read the scores: computed off the tape (tfjs has no gradient for comparisons).
  const [small, far] = [noGrad((v) => tf.greater(v, -1e-2), [x0]), noGrad((v) => tf.less(v, -Math.LN2), [x0])];
  const near = tf.log(tf.maximum(tf.where(small, series, tf.sub(1, tf.exp(xm))), 1e-12));
  return tf.where(far, tf.log1p(tf.neg(tf.exp(tf.minimum(x0, -Math.LN2)))), near);
}

/** The registered monoT5 cross-entropy on monoT5 scores (see monoT5TokenLoss). */
export function monoT5CrossEntropy(opts: MonoT5CrossEntropyOptions = {}): RankingLoss {
  checkOptions('monot5_cross_entropy', opts, { relevantAbove: 'number', scores: ['log_prob', 'logit'], reduction: reductionSpec(POINTWISE_ALIASES) });
  const { scores: kind, ...rest } = opts;
  const body = monoT5TokenLoss(rest);
  const parts = (scores: tf.Tensor2D, mask: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] => {
    const x = sanitize(scores, mask, -1);
    if (kind === 'logit') return [tf.neg(tf.softplus(tf.neg(x))) as tf.Tensor2D, tf.neg(tf.softplus(x)) as tf.Tensor2D];
    return [x, log1mExp(x) as tf.Tensor2D];
  };
  const fn = (scores: tf.Tensor2D, labels: tf.Tensor2D, mask: tf.Tensor2D, weights?: SampleWeights) =>
    tf.tidy(() => {
      const [lt, lf] = parts(scores, mask);
      return body(lt, lf, labels, mask, weights);
    });
  const unreduced = (scores: tf.Tensor2D, labels: tf.Tensor2D, mask: tf.Tensor2D, weights?: SampleWeights) =>
    tf.tidy(() => {
      const [lt, lf] = parts(scores, mask);
      const relevant = tf.logicalAnd(tf.greater(mask, 0), tf.greater(labels, rest.relevantAbove ?? 0));
      return { values: tf.neg(tf.where(relevant, lt, lf)), weights: itemWeights(weights, mask), present: validMask(mask) };
    });
  return Object.assign(fn, { unreduced });
}
